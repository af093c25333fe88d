//! `helper serve` configuration: clap flags with env fallbacks and an optional
//! TOML file, turned once into a validated [`Config`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

#[cfg(feature = "demo")]
use emulator::{EmulatorArgs, EmulatorConfig};

/// Flags of `helper serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "KEEPSAKE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Folder holding the built app (trunk's `dist/`). Without it, only `/api` is served.
    #[arg(long, env = "KEEPSAKE_DIST", default_value = "dist")]
    pub dist: PathBuf,

    /// Folder the fixed photos are saved in (`<library>/<YYYY>/<MM>/…`) with its index.
    #[arg(long, env = "KEEPSAKE_LIBRARY", default_value = "library")]
    pub library: PathBuf,

    /// Optional TOML file with `library` and `client_id` (flags and env win over it).
    #[arg(long, env = "KEEPSAKE_CONFIG")]
    pub config: Option<PathBuf>,

    /// Run against the built-in Google emulator instead of Google.
    #[cfg(feature = "demo")]
    #[arg(long, env = "KEEPSAKE_DEMO")]
    pub demo: bool,

    /// OAuth client id of your Google Cloud "Web application" client (Google mode).
    #[arg(long, env = "KEEPSAKE_CLIENT_ID")]
    pub client_id: Option<String>,

    /// Seconds a media download may stay silent before the proxy gives up.
    #[arg(long, env = "KEEPSAKE_MEDIA_TIMEOUT", default_value_t = 60)]
    pub media_timeout_secs: u64,

    #[cfg(feature = "demo")]
    #[command(flatten)]
    pub emulator: EmulatorArgs,
}

/// Where `trunk serve` (Trunk.toml) serves the app during development.
#[cfg(feature = "demo")]
const TRUNK_DEV_REDIRECT_URIS: &[&str] = &["http://127.0.0.1:8081/", "http://localhost:8081/"];

/// The optional TOML file (`--config`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    library: Option<PathBuf>,
    client_id: Option<String>,
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

/// Validated settings of a running helper.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The built app, when present.
    pub dist: Option<PathBuf>,
    /// Root of the photo library.
    pub library: PathBuf,
    /// Google or the emulator.
    pub upstream: UpstreamConfig,
    /// Idle timeout of a proxied media download.
    pub media_timeout: Duration,
}

impl ServeArgs {
    /// Merges flags, env and the TOML file, and checks the result.
    pub fn into_config(self) -> anyhow::Result<Config> {
        let file = match &self.config {
            Some(path) => read_file_config(path)?,
            None => FileConfig::default(),
        };
        let upstream = match self.demo_config()? {
            Some(demo) => demo,
            None => match self.client_id.or(file.client_id) {
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
        // Flags and env win over the file; the file wins over built-in defaults.
        let library = if self.library == Path::new("library") {
            file.library.unwrap_or(self.library)
        } else {
            self.library
        };
        let dist = if self.dist.join("index.html").is_file() {
            Some(self.dist)
        } else {
            tracing::warn!(
                dist = %self.dist.display(),
                "no index.html in the app folder: serving the API only (build the app with `trunk build --release`)"
            );
            None
        };
        if self.media_timeout_secs == 0 {
            bail!("--media-timeout-secs must be at least 1");
        }
        Ok(Config {
            listen: self.listen,
            dist,
            library,
            upstream,
            media_timeout: Duration::from_secs(self.media_timeout_secs),
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

fn read_file_config(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("in the config file {}", path.display()))
}
