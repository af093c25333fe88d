//! `helper serve` configuration: clap flags with env fallbacks and an optional
//! TOML file, turned once into a validated [`Config`].
//!
//! Precedence: a flag (or its environment variable) wins over the file, the file
//! wins over the built-in default. Flags carry no clap default for that reason:
//! "was it given?" must never be guessed from "does it equal the default?".

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

#[cfg(feature = "demo")]
use emulator::{EmulatorArgs, EmulatorConfig};

use crate::members::{Member, Members};

/// The configuration file read when `--config` is not given (if it exists), and
/// the one `helper member` edits.
pub const DEFAULT_CONFIG_FILE: &str = "keepsake.toml";

/// Defaults of the settings below.
pub mod defaults {
    use std::time::Duration;

    /// `--listen`.
    pub const LISTEN: &str = "127.0.0.1:8080";
    /// `--dist`.
    pub const DIST: &str = "dist";
    /// `--library`.
    pub const LIBRARY: &str = "library";
    /// `--media-timeout-secs`.
    pub const MEDIA_TIMEOUT: Duration = Duration::from_secs(60);
    /// `--session-lifetime`.
    pub const SESSION_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
    /// `--max-upload-size`: a long 4K phone video is a few GB.
    pub const MAX_UPLOAD_SIZE: u64 = 32 << 30;
    /// `--max-uploads`.
    pub const MAX_UPLOADS: usize = 8;
    /// `--max-downloads`.
    pub const MAX_DOWNLOADS: usize = 16;
    /// `--header-timeout`.
    pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
    /// `--body-timeout`.
    pub const BODY_TIMEOUT: Duration = Duration::from_secs(60);
    /// `--first-request-timeout`: from accept (TLS handshake included) to a
    /// connection's first complete request. Browsers' unused pre-connections are
    /// closed by it too, which they take in their stride.
    pub const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
    /// `--idle-timeout`: a keep-alive connection with no request in flight.
    pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
    /// `--send-timeout`: a response the client stopped reading (nginx's
    /// `send_timeout` is 60 s too).
    pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);
    /// `--max-connections`: far beyond what a family's browsers open (HTTP/2: one
    /// per browser; HTTP/1: six), and well within the open-file limit.
    pub const MAX_CONNECTIONS: usize = 1024;
}

/// Flags of `helper serve`. Every one has an environment variable too.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port [default: 127.0.0.1:8080].
    /// Any address but loopback needs family members (or --insecure-single-user).
    #[arg(long, env = "KEEPSAKE_LISTEN")]
    pub listen: Option<SocketAddr>,

    /// Folder holding the built app (trunk's `dist/`), for development [default:
    /// the app built into the helper, else ./dist]. Without any, only `/api` is
    /// served.
    #[arg(long, env = "KEEPSAKE_DIST")]
    pub dist: Option<PathBuf>,

    /// Folder the fixed photos are saved in (`<library>/<YYYY>/<MM>/…`) with its
    /// index [default: library].
    #[arg(long, env = "KEEPSAKE_LIBRARY")]
    pub library: Option<PathBuf>,

    /// TOML file with settings and family members [default: ./keepsake.toml when it
    /// exists]. Flags and environment variables win over it.
    #[arg(long, env = "KEEPSAKE_CONFIG")]
    pub config: Option<PathBuf>,

    /// Run against the built-in Google emulator instead of Google.
    #[cfg(feature = "demo")]
    #[arg(long, env = "KEEPSAKE_DEMO")]
    pub demo: bool,

    /// OAuth client id of your Google Cloud "Web application" client (Google mode).
    #[arg(long, env = "KEEPSAKE_CLIENT_ID")]
    pub client_id: Option<String>,

    /// Seconds a media download may stay silent before the proxy gives up [default: 60].
    #[arg(long, env = "KEEPSAKE_MEDIA_TIMEOUT")]
    pub media_timeout_secs: Option<u64>,

    /// TLS certificate chain (PEM); with --tls-key, the helper serves https.
    #[arg(long, env = "KEEPSAKE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// TLS private key (PEM).
    #[arg(long, env = "KEEPSAKE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// How long a family member stays signed in [default: 30days].
    // Its own id: the emulator's `--demo-session-lifetime` field has this name too.
    #[arg(id = "member_session_lifetime", long = "session-lifetime", env = "KEEPSAKE_SESSION_LIFETIME", value_parser = humantime::parse_duration)]
    pub session_lifetime: Option<Duration>,

    /// Largest upload accepted, in bytes or with K/M/G/T [default: 32G]; larger ones
    /// get 413.
    #[arg(long, env = "KEEPSAKE_MAX_UPLOAD_SIZE", value_parser = parse_size)]
    pub max_upload_size: Option<u64>,

    /// Uploads handled at once; more get 503 with Retry-After [default: 8].
    #[arg(long, env = "KEEPSAKE_MAX_UPLOADS")]
    pub max_uploads: Option<usize>,

    /// Media downloads proxied at once; more get 503 with Retry-After [default: 16].
    #[arg(long, env = "KEEPSAKE_MAX_DOWNLOADS")]
    pub max_downloads: Option<usize>,

    /// Time a client has to send a request's headers [default: 30s].
    #[arg(long, env = "KEEPSAKE_HEADER_TIMEOUT", value_parser = humantime::parse_duration)]
    pub header_timeout: Option<Duration>,

    /// Time an upload may stay silent before it is dropped [default: 60s].
    #[arg(long, env = "KEEPSAKE_BODY_TIMEOUT", value_parser = humantime::parse_duration)]
    pub body_timeout: Option<Duration>,

    /// Time a new connection has for its TLS handshake and first request
    /// [default: 20s]; a silent one is closed.
    #[arg(long, env = "KEEPSAKE_FIRST_REQUEST_TIMEOUT", value_parser = humantime::parse_duration)]
    pub first_request_timeout: Option<Duration>,

    /// Time a keep-alive connection may sit without a request [default: 120s].
    #[arg(long, env = "KEEPSAKE_IDLE_TIMEOUT", value_parser = humantime::parse_duration)]
    pub idle_timeout: Option<Duration>,

    /// Time a response may wait for the client to read on [default: 60s]: a
    /// connection whose client stops reading is closed.
    #[arg(long, env = "KEEPSAKE_SEND_TIMEOUT", value_parser = humantime::parse_duration)]
    pub send_timeout: Option<Duration>,

    /// Connections open at once [default: 1024]. At the cap, a new connection
    /// replaces the oldest one that has not sent a request yet; when every one has,
    /// it is closed at once.
    #[arg(long, env = "KEEPSAKE_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,

    /// Unix mode of saved photos [default: 0644, readable by Samba, Jellyfin and backups].
    #[arg(long, env = "KEEPSAKE_FILE_MODE", value_parser = crate::library::parse_file_mode)]
    pub file_mode: Option<u32>,

    /// Free space kept on the library's disk; uploads that would go below it get 507
    /// [default: 512M; 0 turns it off].
    #[arg(long, env = "KEEPSAKE_MIN_FREE_SPACE", value_parser = parse_size)]
    pub min_free_space: Option<u64>,

    /// Names (or IP addresses) the server is reached by, besides loopback; requests
    /// for any other `Host` are refused (DNS rebinding). Comma-separated.
    #[arg(
        long = "server-name",
        env = "KEEPSAKE_SERVER_NAMES",
        value_delimiter = ','
    )]
    pub server_names: Vec<String>,

    /// Origins besides the helper's own that may make state-changing calls, e.g. a
    /// reverse proxy's public origin. Comma-separated.
    #[arg(
        long = "trusted-origin",
        env = "KEEPSAKE_TRUSTED_ORIGINS",
        value_delimiter = ','
    )]
    pub trusted_origins: Vec<String>,

    /// Serve one person's library on a non-loopback address without sign-in. Anyone
    /// who can reach the port can read and write the library: prefer family members.
    #[arg(long, env = "KEEPSAKE_INSECURE_SINGLE_USER")]
    pub insecure_single_user: bool,

    #[cfg(feature = "demo")]
    #[command(flatten)]
    pub emulator: EmulatorArgs,
}

/// Where `trunk serve` (Trunk.toml) serves the app during development.
#[cfg(feature = "demo")]
const TRUNK_DEV_REDIRECT_URIS: &[&str] = &["http://127.0.0.1:8081/", "http://localhost:8081/"];

/// The TOML file (`--config`): the same settings as the flags, plus the members.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    dist: Option<PathBuf>,
    library: Option<PathBuf>,
    client_id: Option<String>,
    media_timeout_secs: Option<u64>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    #[serde(default, with = "humantime_serde_opt")]
    session_lifetime: Option<Duration>,
    #[serde(default, deserialize_with = "size_opt")]
    max_upload_size: Option<u64>,
    max_uploads: Option<usize>,
    max_downloads: Option<usize>,
    #[serde(default, deserialize_with = "file_mode_opt")]
    file_mode: Option<u32>,
    #[serde(default, deserialize_with = "size_opt")]
    min_free_space: Option<u64>,
    #[serde(default)]
    server_names: Vec<String>,
    #[serde(default)]
    trusted_origins: Vec<String>,
    #[serde(default)]
    members: Vec<Member>,
}

/// `"30days"`, `"12h"` in the TOML file.
mod humantime_serde_opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| humantime::parse_duration(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// `32G` or a number of bytes in the TOML file.
fn size_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Option::<Size>::deserialize(d)? {
        None => Ok(None),
        Some(Size::Bytes(n)) => Ok(Some(n)),
        Some(Size::Text(text)) => parse_size(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// `"0644"` in the TOML file (a string: TOML has no octal-looking numbers).
fn file_mode_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|text| crate::library::parse_file_mode(&text).map_err(serde::de::Error::custom))
        .transpose()
}

/// `"1048576"`, `"64K"`, `"24M"`, `"32G"`, `"1T"` (binary multiples).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, shift) = match text.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&text[..text.len() - 1], 10),
        Some('M') => (&text[..text.len() - 1], 20),
        Some('G') => (&text[..text.len() - 1], 30),
        Some('T') => (&text[..text.len() - 1], 40),
        _ => (text, 0),
    };
    let n: u64 = number
        .trim()
        .parse()
        .map_err(|_| format!("invalid size {text:?}: a number of bytes, or with K, M, G or T"))?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

/// Where the Picker API and OAuth live, as configured (the running state holds
/// the matching [`Upstream`](crate::state::Upstream)).
#[derive(Debug, Clone)]
pub enum UpstreamConfig {
    /// The real Google endpoints, with the user's own OAuth client.
    Google {
        /// OAuth client id of the "Web application" client.
        client_id: String,
    },
    /// The built-in emulator, served by this same helper.
    #[cfg(feature = "demo")]
    Demo(Box<EmulatorConfig>),
}

/// The TLS certificate and key files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// Limits that keep one client from exhausting the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest upload, in bytes.
    pub max_upload_size: u64,
    /// Uploads at once.
    pub max_uploads: usize,
    /// Proxied downloads at once.
    pub max_downloads: usize,
    /// Time to send a request's headers.
    pub header_timeout: Duration,
    /// Time an upload body may stay silent.
    pub body_timeout: Duration,
    /// Time from accept to a connection's first request.
    pub first_request_timeout: Duration,
    /// Time a keep-alive connection may sit without a request.
    pub idle_timeout: Duration,
    /// Time a response may wait for the client to read on.
    pub send_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_upload_size: defaults::MAX_UPLOAD_SIZE,
            max_uploads: defaults::MAX_UPLOADS,
            max_downloads: defaults::MAX_DOWNLOADS,
            header_timeout: defaults::HEADER_TIMEOUT,
            body_timeout: defaults::BODY_TIMEOUT,
            first_request_timeout: defaults::FIRST_REQUEST_TIMEOUT,
            idle_timeout: defaults::IDLE_TIMEOUT,
            send_timeout: defaults::SEND_TIMEOUT,
            max_connections: defaults::MAX_CONNECTIONS,
        }
    }
}

/// Validated settings of a running helper.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The built app, when present.
    pub dist: Option<PathBuf>,
    /// The folder the helper's own copy of the app was unpacked into (removed when
    /// the last clone of the configuration goes).
    pub unpacked_app: Option<Arc<tempfile::TempDir>>,
    /// Root of the photo library.
    pub library: PathBuf,
    /// Google or the emulator.
    pub upstream: UpstreamConfig,
    /// Idle timeout of a proxied media download.
    pub media_timeout: Duration,
    /// Family members (none: a helper for one person), as the file said at start;
    /// a running helper follows the file ([`crate::members::watch`]).
    pub members: Members,
    /// The configuration file read, if any (its members are followed while the
    /// helper runs).
    pub config_file: Option<PathBuf>,
    /// How long a member stays signed in.
    pub session_lifetime: Duration,
    /// Serve https with these files.
    pub tls: Option<TlsFiles>,
    /// Upload and connection limits.
    pub limits: Limits,
    /// How saved files are written (mode, free-space floor).
    pub storage: crate::library::LibraryOptions,
    /// Which hosts and origins are served, and the security headers.
    pub guard: crate::guard::Guard,
    /// A non-loopback single-user helper, allowed on purpose.
    pub insecure_single_user: bool,
}

impl Config {
    /// A configuration with every default, for tests and embedding.
    pub fn new(library: PathBuf, upstream: UpstreamConfig) -> Config {
        let guard = guard_for(&upstream, Vec::new(), Vec::new(), false, Vec::new())
            .expect("the built-in origins are valid");
        Config {
            guard,
            listen: defaults::LISTEN
                .parse()
                .expect("the default address parses"),
            dist: None,
            unpacked_app: None,
            library,
            upstream,
            media_timeout: defaults::MEDIA_TIMEOUT,
            members: Members::default(),
            config_file: None,
            session_lifetime: defaults::SESSION_LIFETIME,
            tls: None,
            limits: Limits::default(),
            storage: crate::library::LibraryOptions::default(),
            insecure_single_user: false,
        }
    }
}

impl ServeArgs {
    /// Merges flags, env and the TOML file, and checks the result.
    pub fn into_config(self) -> anyhow::Result<Config> {
        let config_file = match &self.config {
            Some(path) => Some(path.clone()),
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                Some(PathBuf::from(DEFAULT_CONFIG_FILE))
            }
            None => None,
        };
        let file = match &config_file {
            Some(path) => read_file_config(path)?,
            None => FileConfig::default(),
        };
        let upstream = match self.demo_config()? {
            Some(demo) => demo,
            None => match self.client_id.clone().or(file.client_id) {
                Some(client_id) if !client_id.trim().is_empty() => {
                    UpstreamConfig::Google { client_id }
                }
                _ => bail!(
                    "no OAuth client id: pass --client-id (or KEEPSAKE_CLIENT_ID) with your Google \
                     Cloud web client's id{}",
                    if cfg!(feature = "demo") {
                        ", or run the built-in emulator with --demo"
                    } else {
                        ""
                    }
                ),
            },
        };
        let listen = match self.listen.or(file.listen) {
            Some(listen) => listen,
            None => defaults::LISTEN
                .parse()
                .expect("the default address parses"),
        };
        // `--dist` (or the file's `dist`) wins: the developer's fresh build, or
        // `trunk serve`'s. Else the app this helper carries, unpacked into a private
        // temporary folder; else a `dist/` here; else the API alone, said loudly.
        let (dist, unpacked_app) = match self.dist.or(file.dist) {
            Some(dir) if dir.join("index.html").is_file() => (Some(dir), None),
            Some(dir) => {
                tracing::warn!(
                    dist = %dir.display(),
                    "no index.html in the app folder: serving the API only (build the app with \
                     ./scripts/build-app)"
                );
                (None, None)
            }
            None if crate::embedded_app::is_present() => {
                let unpacked = tempfile::Builder::new()
                    .prefix("keepsake-app-")
                    .tempdir()
                    .context("making a folder for the app")?;
                crate::embedded_app::unpack(unpacked.path()).with_context(|| {
                    format!("unpacking the app into {}", unpacked.path().display())
                })?;
                tracing::info!(
                    unpacked = %unpacked.path().display(),
                    "serving the app built into the helper"
                );
                (Some(unpacked.path().to_owned()), Some(Arc::new(unpacked)))
            }
            None if Path::new(defaults::DIST).join("index.html").is_file() => {
                (Some(PathBuf::from(defaults::DIST)), None)
            }
            None => {
                tracing::warn!(
                    "this helper was built without the app, and there is no dist/ here: serving \
                     the API only. Build the app first (./scripts/build-app), then the helper \
                     (cargo build --release -p helper), or pass --dist DIR"
                );
                (None, None)
            }
        };
        let media_timeout_secs = self
            .media_timeout_secs
            .or(file.media_timeout_secs)
            .unwrap_or(defaults::MEDIA_TIMEOUT.as_secs());
        if media_timeout_secs == 0 {
            bail!("--media-timeout-secs must be at least 1");
        }
        let tls = match (
            self.tls_cert.or(file.tls_cert),
            self.tls_key.or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => bail!("TLS needs both a certificate (--tls-cert) and its key (--tls-key)"),
        };
        let limits = Limits {
            max_upload_size: self
                .max_upload_size
                .or(file.max_upload_size)
                .unwrap_or(defaults::MAX_UPLOAD_SIZE),
            max_uploads: self
                .max_uploads
                .or(file.max_uploads)
                .unwrap_or(defaults::MAX_UPLOADS),
            max_downloads: self
                .max_downloads
                .or(file.max_downloads)
                .unwrap_or(defaults::MAX_DOWNLOADS),
            header_timeout: self.header_timeout.unwrap_or(defaults::HEADER_TIMEOUT),
            body_timeout: self.body_timeout.unwrap_or(defaults::BODY_TIMEOUT),
            first_request_timeout: self
                .first_request_timeout
                .unwrap_or(defaults::FIRST_REQUEST_TIMEOUT),
            idle_timeout: self.idle_timeout.unwrap_or(defaults::IDLE_TIMEOUT),
            send_timeout: self.send_timeout.unwrap_or(defaults::SEND_TIMEOUT),
            max_connections: self.max_connections.unwrap_or(defaults::MAX_CONNECTIONS),
        };
        if limits.max_uploads == 0 || limits.max_downloads == 0 {
            bail!("--max-uploads and --max-downloads must be at least 1");
        }
        if limits.max_connections == 0 {
            bail!("--max-connections must be at least 1");
        }
        if limits.first_request_timeout.is_zero()
            || limits.idle_timeout.is_zero()
            || limits.send_timeout.is_zero()
        {
            bail!(
                "--first-request-timeout, --idle-timeout and --send-timeout must be longer than 0"
            );
        }
        let members = Members::new(file.members)?;
        if !listen.ip().is_loopback() && !members.is_family() && !self.insecure_single_user {
            bail!(
                "refusing to listen on {listen} without family members: anyone who can reach it \
                 could read and write the library. Add members with `helper member add NAME` (they \
                 sign in with a passphrase), or listen on 127.0.0.1 and reach it through an SSH \
                 tunnel, or pass --insecure-single-user if you really mean it"
            );
        }
        let mut server_names = if self.server_names.is_empty() {
            file.server_names
        } else {
            self.server_names
        };
        if listen.ip().is_unspecified() && server_names.is_empty() {
            bail!(
                "listening on every address ({listen}) needs the names the family reaches the \
                 server by, or every request is refused as a DNS-rebinding attempt: pass \
                 --server-name photos.example.net (or the server's LAN address, e.g. \
                 --server-name 192.168.1.10)"
            );
        }
        if !listen.ip().is_loopback() && !listen.ip().is_unspecified() {
            // Reached by its own address, at least.
            server_names.push(listen.ip().to_string());
        }
        let trusted_origins = if self.trusted_origins.is_empty() {
            file.trusted_origins
        } else {
            self.trusted_origins
        };
        let script_hashes = match &dist {
            Some(dist) => crate::guard::index_script_hashes(dist)
                .with_context(|| format!("reading {}", dist.join("index.html").display()))?,
            None => Vec::new(),
        };
        let guard = guard_for(
            &upstream,
            server_names,
            trusted_origins,
            tls.is_some(),
            script_hashes,
        )?;
        Ok(Config {
            listen,
            dist,
            unpacked_app,
            library: self
                .library
                .or(file.library)
                .unwrap_or_else(|| PathBuf::from(defaults::LIBRARY)),
            upstream,
            media_timeout: Duration::from_secs(media_timeout_secs),
            members,
            config_file,
            session_lifetime: self
                .session_lifetime
                .or(file.session_lifetime)
                .unwrap_or(defaults::SESSION_LIFETIME),
            tls,
            limits,
            storage: crate::library::LibraryOptions {
                file_mode: self
                    .file_mode
                    .or(file.file_mode)
                    .unwrap_or(crate::library::DEFAULT_FILE_MODE),
                min_free_bytes: self
                    .min_free_space
                    .or(file.min_free_space)
                    .unwrap_or(crate::library::DEFAULT_MIN_FREE_BYTES),
            },
            insecure_single_user: self.insecure_single_user,
            guard,
        })
    }
}

impl ServeArgs {
    /// The emulator's configuration when `--demo` is on.
    #[cfg(feature = "demo")]
    fn demo_config(&self) -> anyhow::Result<Option<UpstreamConfig>> {
        if !self.demo {
            return Ok(None);
        }
        let mut emulator = self.emulator.clone().into_config()?;
        // `trunk serve` (the developer loop) serves the app on its own port and
        // proxies /api and /emulator here: register its origins too.
        for uri in TRUNK_DEV_REDIRECT_URIS {
            if !emulator.redirect_uris.iter().any(|u| u == uri) {
                emulator.redirect_uris.push((*uri).to_owned());
            }
        }
        Ok(Some(UpstreamConfig::Demo(Box::new(emulator))))
    }

    /// A helper built without the `demo` feature has no emulator to offer.
    #[cfg(not(feature = "demo"))]
    fn demo_config(&self) -> anyhow::Result<Option<UpstreamConfig>> {
        Ok(None)
    }
}

/// Whether the upstream is the emulator (its pages get their own CSP, and trunk
/// serve's origin may call the API).
fn is_demo(upstream: &UpstreamConfig) -> bool {
    match upstream {
        UpstreamConfig::Google { .. } => false,
        #[cfg(feature = "demo")]
        UpstreamConfig::Demo(_) => true,
    }
}

fn guard_for(
    upstream: &UpstreamConfig,
    server_names: Vec<String>,
    mut trusted_origins: Vec<String>,
    tls: bool,
    script_hashes: Vec<String>,
) -> anyhow::Result<crate::guard::Guard> {
    let demo = is_demo(upstream);
    if demo {
        // `trunk serve` (Trunk.toml) proxies /api from here with the browser's Origin.
        trusted_origins.extend([
            "http://127.0.0.1:8081".to_owned(),
            "http://localhost:8081".to_owned(),
        ]);
    }
    Ok(crate::guard::Guard::new(crate::guard::GuardConfig {
        server_names,
        tls,
        connect_src: if demo {
            Vec::new()
        } else {
            crate::guard::google_connect_src()
        },
        trusted_origins,
        script_hashes,
        emulator_pages: demo,
    })?)
}

/// The members the configuration file at `path` names now, checked as at start.
pub fn read_members(path: &Path) -> anyhow::Result<Members> {
    Members::new(read_file_config(path)?.members)
}

fn read_file_config(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("in the config file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn config(args: &[&str], file: &str) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keepsake.toml");
        std::fs::write(&path, file).unwrap();
        let mut argv = vec![
            "helper",
            "--client-id",
            "c",
            "--config",
            path.to_str().unwrap(),
        ];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv)?.serve.into_config()
    }

    #[test]
    fn a_flag_wins_over_the_file_even_when_it_equals_the_default() {
        let c = config(&["--library", "library"], "library = \"/srv/photos\"").unwrap();
        assert_eq!(c.library, PathBuf::from("library"));
        let c = config(&[], "library = \"/srv/photos\"").unwrap();
        assert_eq!(c.library, PathBuf::from("/srv/photos"));
        let c = config(&[], "").unwrap();
        assert_eq!(c.library, PathBuf::from(defaults::LIBRARY));
        let c = config(&["--max-upload-size", "32G"], "max_upload_size = \"1G\"").unwrap();
        assert_eq!(c.limits.max_upload_size, 32 << 30);
    }

    #[test]
    fn a_non_loopback_address_needs_members() {
        let err = config(&["--listen", "0.0.0.0:8080"], "").unwrap_err();
        assert!(err.to_string().contains("helper member add"), "{err}");
        let c = config(
            &[
                "--listen",
                "0.0.0.0:8080",
                "--insecure-single-user",
                "--server-name",
                "nas.local",
            ],
            "",
        )
        .unwrap();
        assert!(c.insecure_single_user);
        let hash = crate::members::hash_passphrase("a long passphrase").unwrap();
        let family = format!("[[members]]\nname = \"ana\"\npassphrase_hash = \"{hash}\"\n");
        let err = config(&["--listen", "0.0.0.0:8080"], &family).unwrap_err();
        assert!(err.to_string().contains("--server-name"), "{err}");
        let c = config(
            &["--listen", "0.0.0.0:8080", "--server-name", "nas.local"],
            &family,
        )
        .unwrap();
        assert!(c.members.is_family());
        assert!(config(&[], "[[members]]\nname = \"../x\"\npassphrase_hash = \"x\"").is_err());
    }

    /// The example that ships beside the systemd unit reads, with what it says.
    #[test]
    fn the_packaged_example_configuration_reads() {
        let text = include_str!("../../packaging/keepsake.toml");
        let file: FileConfig = toml::from_str(text).unwrap();
        assert_eq!(file.listen, Some("0.0.0.0:8443".parse().unwrap()));
        assert_eq!(
            file.library.as_deref(),
            Some(Path::new("/var/lib/keepsake/library"))
        );
        assert!(file.tls_cert.is_some() && file.tls_key.is_some());
        assert!(!file.server_names.is_empty() && file.members.is_empty());
        assert_eq!(
            file.session_lifetime,
            Some(Duration::from_secs(30 * 86_400))
        );
    }

    #[test]
    fn connection_limits_have_defaults_and_refuse_zero() {
        let c = config(&[], "").unwrap();
        assert_eq!(
            c.limits.first_request_timeout,
            defaults::FIRST_REQUEST_TIMEOUT
        );
        assert_eq!(c.limits.idle_timeout, defaults::IDLE_TIMEOUT);
        assert_eq!(c.limits.send_timeout, defaults::SEND_TIMEOUT);
        assert_eq!(c.limits.max_connections, defaults::MAX_CONNECTIONS);
        let c = config(
            &[
                "--first-request-timeout",
                "2s",
                "--idle-timeout",
                "3s",
                "--send-timeout",
                "4s",
                "--max-connections",
                "64",
            ],
            "",
        )
        .unwrap();
        assert_eq!(c.limits.first_request_timeout, Duration::from_secs(2));
        assert_eq!(c.limits.idle_timeout, Duration::from_secs(3));
        assert_eq!(c.limits.send_timeout, Duration::from_secs(4));
        assert_eq!(c.limits.max_connections, 64);
        for zero in [
            ["--max-connections", "0"],
            ["--first-request-timeout", "0s"],
            ["--idle-timeout", "0s"],
            ["--send-timeout", "0s"],
        ] {
            assert!(config(&zero, "").is_err(), "{zero:?}");
        }
    }

    #[test]
    fn sizes_and_durations_parse() {
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size("123"), Ok(123));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("99999999999T").is_err());
        let c = config(
            &["--session-lifetime", "12h"],
            "session_lifetime = \"2days\"",
        )
        .unwrap();
        assert_eq!(c.session_lifetime, Duration::from_secs(12 * 3600));
        let c = config(&[], "session_lifetime = \"2days\"").unwrap();
        assert_eq!(c.session_lifetime, Duration::from_secs(2 * 86400));
        assert!(
            config(&[], "tls_cert = \"c.pem\"").is_err(),
            "a cert without a key"
        );
    }
}
