//! The emulator's settings: a validated [`EmulatorConfig`] and the clap flags
//! ([`EmulatorArgs`], `--demo-…` with `KEEPSAKE_DEMO_…` env fallbacks) that build it.
//!
//! | flag | env | default | what |
//! |---|---|---|---|
//! | `--demo-seed` | `KEEPSAKE_DEMO_SEED` | fixed | sample library and fault sequence |
//! | `--demo-redirect-uri` (comma list) | `KEEPSAKE_DEMO_REDIRECT_URIS` | none | extra registered redirect URIs (`<origin>/` always is) |
//! | `--demo-token-lifetime` | `KEEPSAKE_DEMO_TOKEN_LIFETIME` | `3600s` | access token lifetime |
//! | `--demo-base-url-lifetime` | `KEEPSAKE_DEMO_BASE_URL_LIFETIME` | `3600s` | `baseUrl` lifetime |
//! | `--demo-session-lifetime` | `KEEPSAKE_DEMO_SESSION_LIFETIME` | `3600s` | session lifetime (`expireTime`) |
//! | `--demo-picking-timeout` | `KEEPSAKE_DEMO_PICKING_TIMEOUT` | `1800s` | initial `timeoutIn` |
//! | `--demo-poll-interval` | `KEEPSAKE_DEMO_POLL_INTERVAL` | `1.5s` | `pollInterval` |
//! | `--demo-max-open-sessions` | `KEEPSAKE_DEMO_MAX_OPEN_SESSIONS` | 10 | per account, then `RESOURCE_EXHAUSTED` |
//! | `--demo-large-files` | `KEEPSAKE_DEMO_LARGE_FILES` | 2 | large videos in the first account |
//! | `--demo-large-file-size` | `KEEPSAKE_DEMO_LARGE_FILE_SIZE` | `24M` | their size |
//! | `--demo-photo-size` | `KEEPSAKE_DEMO_PHOTO_SIZE` | none (~40 KB) | make JPEG photos about this large (`4M`: a phone's), with more pixels and sensor grain |
//! | `--demo-extra-photos` | `KEEPSAKE_DEMO_EXTRA_PHOTOS` | 0 | extra plain photos (paging tests) |
//! | `--demo-no-processing-video` | `KEEPSAKE_DEMO_NO_PROCESSING_VIDEO` | off | every video READY |
//! | `--demo-video-host` | `KEEPSAKE_DEMO_VIDEO_HOST` | `separate` | where `=dv` is served: `separate` redirects to a second host that needs no bearer and ignores `Range`, as Google's video host has been seen to; `same` serves it from the `baseUrl`'s host with `Range` |
//! | `--demo-fault-server-errors` | `KEEPSAKE_DEMO_FAULT_SERVER_ERRORS` | 0 | share of API/media requests answered 500/503 |
//! | `--demo-fault-rate-limit` | `KEEPSAKE_DEMO_FAULT_RATE_LIMIT` | 0 | share answered 429 + `Retry-After` |
//! | `--demo-fault-api-rate-limit` | `KEEPSAKE_DEMO_FAULT_API_RATE_LIMIT` | 0 | share of Picker API requests (not media) answered 429 + `Retry-After` |
//! | `--demo-fault-retry-after` | `KEEPSAKE_DEMO_FAULT_RETRY_AFTER` | 2 | its seconds |
//! | `--demo-fault-cut-bodies` | `KEEPSAKE_DEMO_FAULT_CUT_BODIES` | 0 | share of media bodies cut halfway |
//! | `--demo-fault-slow-bodies` | `KEEPSAKE_DEMO_FAULT_SLOW_BODIES` | 0 | share of media bodies sent slowly |
//! | `--demo-fault-slow-speed` | `KEEPSAKE_DEMO_FAULT_SLOW_SPEED` | `256K` | bytes per second of a slow body |
//! | `--demo-fault-early-expiry` | `KEEPSAKE_DEMO_FAULT_EARLY_EXPIRY` | 0 | share of sessions that expire early |
//! | `--demo-fault-early-expiry-after` | `KEEPSAKE_DEMO_FAULT_EARLY_EXPIRY_AFTER` | `20s` | their lifetime |
//! | `--demo-fault-no-create-time` | `KEEPSAKE_DEMO_FAULT_NO_CREATE_TIME` | 0 | share of items listed without `createTime` (Google does not promise it), the same items on every listing |
//!
//! Durations take `ms`, `s`, `m`, `h` (`1.5s`, `250ms`); sizes `K`, `M`, `G`.
//! Faults never touch OAuth or the picker page (browser checks drive those).

use std::time::Duration;

use anyhow::{Context, bail};

/// Everything the emulator can be told at start. `Default` is what `helper serve
/// --demo` runs with: Google-like lifetimes, no faults.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Seed of the sample library and of fault injection: the same seed gives the same
    /// items, bytes and fault sequence.
    pub seed: u64,
    /// OAuth client id the authorization endpoint accepts.
    pub client_id: String,
    /// Client secret the token endpoint wants for the code flow (installed apps).
    pub client_secret: String,
    /// Redirect URIs registered for the client, besides `<origin of the request>/`.
    pub redirect_uris: Vec<String>,
    /// Lifetime of an access token (Google: 1 hour).
    pub token_lifetime: Duration,
    /// Lifetime of a `baseUrl` (Google: 60 minutes).
    pub base_url_lifetime: Duration,
    /// Lifetime of a picking session, from creation to `expireTime`.
    pub session_lifetime: Duration,
    /// How long the user has to pick (the initial `timeoutIn`); capped by the session
    /// lifetime.
    pub picking_timeout: Duration,
    /// `pollInterval` handed to clients.
    pub poll_interval: Duration,
    /// Sessions an account may have open (not deleted, not expired) before
    /// `sessions.create` answers `RESOURCE_EXHAUSTED`.
    pub max_open_sessions: usize,
    /// How many large videos the library holds (for throughput tests).
    pub large_file_count: usize,
    /// Size in bytes of each large video.
    pub large_file_size: u64,
    /// Extra plain photos in the first account's library, for paging tests that need
    /// more than 100 items.
    pub extra_photos: usize,
    /// About how large each JPEG photo is, in bytes (`None`: the small sample, ~40 KB).
    /// Reached with more pixels and sensor grain; the EXIF oddities stay as they are.
    pub photo_size: Option<u64>,
    /// Videos that stay `PROCESSING` (the sample has one); set `false` to make every
    /// video `READY`.
    pub processing_video: bool,
    /// Where `=dv` bytes come from.
    pub video_host: VideoHost,
    /// Faults to inject (all off by default).
    pub faults: FaultConfig,
    /// Where Google's state (tokens, sessions, the `baseUrl` key) is kept, so that
    /// it outlives a restart of the helper as the real one does. `None`: in memory.
    /// `helper serve --demo` keeps it in the library folder.
    pub state_file: Option<std::path::PathBuf>,
}

/// Where the emulator serves videos (`=dv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum VideoHost {
    /// A 302 to a second host (its own port on loopback), as Google's `=dv` has been
    /// seen to redirect to `video-downloads.googleusercontent.com`: no bearer
    /// needed, `Range` ignored (200 with the whole body, no `Accept-Ranges`), and
    /// the body faults apply (PICKER-API.md §4).
    #[default]
    Separate,
    /// The `baseUrl`'s own host, with `Range` honoured: the emulator before it
    /// followed the reports of Google's video host, kept for comparison.
    Same,
}

/// Fault injection, off by default. Rates are shares in `0.0..=1.0` of the requests
/// they apply to; the sequence is drawn from the emulator's seed so runs repeat.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultConfig {
    /// Share of Picker API and media requests answered 500 or 503 (alternately drawn).
    pub server_error_rate: f64,
    /// Share of Picker API and media requests answered 429 with `Retry-After`.
    pub rate_limit_rate: f64,
    /// Share of Picker API requests alone (never media) answered 429 with
    /// `Retry-After`, drawn after the faults above: Google's API quota is counted
    /// apart from its media bytes.
    pub api_rate_limit_rate: f64,
    /// `Retry-After` seconds sent with an injected 429.
    pub retry_after_secs: u64,
    /// Share of media downloads whose connection is cut after part of the body.
    pub cut_body_rate: f64,
    /// Share of media downloads sent slowly.
    pub slow_body_rate: f64,
    /// Bytes per second of a slow body.
    pub slow_body_bytes_per_sec: u64,
    /// Share of sessions that expire early.
    pub early_expiry_rate: f64,
    /// Lifetime of a session that expires early.
    pub early_expiry_after: Duration,
    /// Share of items listed without `createTime` (drawn per item from the seed:
    /// the same items every time).
    pub no_create_time_rate: f64,
}

impl FaultConfig {
    /// Whether any fault is switched on.
    pub fn any(&self) -> bool {
        self.server_error_rate > 0.0
            || self.rate_limit_rate > 0.0
            || self.api_rate_limit_rate > 0.0
            || self.cut_body_rate > 0.0
            || self.slow_body_rate > 0.0
            || self.early_expiry_rate > 0.0
            || self.no_create_time_rate > 0.0
    }
}

/// The demo OAuth client id (shaped like Google's).
pub const DEMO_CLIENT_ID: &str = "100000000001-keepsakedemo.apps.googleusercontent.com";
/// The demo client secret (installed-app flow only).
pub const DEMO_CLIENT_SECRET: &str = "GOCSPX-keepsake-demo-secret";

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            seed: 0x4b65_6570_7361_6b65, // "Keepsake"
            client_id: DEMO_CLIENT_ID.to_owned(),
            client_secret: DEMO_CLIENT_SECRET.to_owned(),
            redirect_uris: Vec::new(),
            token_lifetime: Duration::from_secs(3600),
            base_url_lifetime: Duration::from_secs(3600),
            session_lifetime: Duration::from_secs(3600),
            picking_timeout: Duration::from_secs(1800),
            poll_interval: Duration::from_millis(1500),
            max_open_sessions: 10,
            large_file_count: 2,
            large_file_size: 24 * 1024 * 1024,
            extra_photos: 0,
            photo_size: None,
            processing_video: true,
            video_host: VideoHost::default(),
            state_file: None,
            faults: FaultConfig {
                retry_after_secs: 2,
                slow_body_bytes_per_sec: 256 * 1024,
                early_expiry_after: Duration::from_secs(20),
                ..FaultConfig::default()
            },
        }
    }
}

impl EmulatorConfig {
    /// Checks the values make sense together; called by [`EmulatorArgs::into_config`]
    /// and by `Emulator::new`.
    pub fn validate(&self) -> anyhow::Result<()> {
        let f = &self.faults;
        for (name, rate) in [
            ("server error rate", f.server_error_rate),
            ("rate-limit rate", f.rate_limit_rate),
            ("API rate-limit rate", f.api_rate_limit_rate),
            ("cut body rate", f.cut_body_rate),
            ("slow body rate", f.slow_body_rate),
            ("early expiry rate", f.early_expiry_rate),
            ("no-createTime rate", f.no_create_time_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                bail!("{name} must be between 0 and 1, got {rate}");
            }
        }
        if f.server_error_rate + f.rate_limit_rate > 1.0 {
            bail!("server error rate plus rate-limit rate must not exceed 1");
        }
        if self.token_lifetime.is_zero() || self.session_lifetime.is_zero() {
            bail!("token and session lifetimes must be positive");
        }
        if self.base_url_lifetime.is_zero() {
            bail!("baseUrl lifetime must be positive");
        }
        if self.max_open_sessions == 0 {
            bail!("max open sessions must be at least 1");
        }
        if f.slow_body_rate > 0.0 && f.slow_body_bytes_per_sec == 0 {
            bail!("slow body speed must be positive");
        }
        if self.large_file_count > 0 && self.large_file_size < 64 * 1024 {
            bail!("large files must be at least 64 KiB");
        }
        if let Some(size) = self.photo_size
            && !(64 * 1024..=256 * 1024 * 1024).contains(&size)
        {
            bail!("photo size must be between 64K and 256M, got {size} bytes");
        }
        if self.client_id.is_empty() {
            bail!("client id must not be empty");
        }
        for uri in &self.redirect_uris {
            url::Url::parse(uri).with_context(|| format!("redirect URI {uri:?}"))?;
        }
        Ok(())
    }
}

/// The emulator's command-line flags (flattened into `helper serve`).
#[derive(Debug, Clone, clap::Args)]
pub struct EmulatorArgs {
    /// Seed for the sample library and the fault sequence.
    #[arg(long = "demo-seed", env = "KEEPSAKE_DEMO_SEED")]
    pub seed: Option<u64>,
    /// Extra registered OAuth redirect URIs (comma-separated); `<origin>/` of the
    /// request is always registered.
    #[arg(
        long = "demo-redirect-uri",
        env = "KEEPSAKE_DEMO_REDIRECT_URIS",
        value_delimiter = ','
    )]
    pub redirect_uris: Vec<String>,
    /// Access token lifetime, e.g. `3600s`, `90s`, `1.5s`.
    #[arg(long = "demo-token-lifetime", env = "KEEPSAKE_DEMO_TOKEN_LIFETIME", value_parser = parse_duration)]
    pub token_lifetime: Option<Duration>,
    /// `baseUrl` lifetime.
    #[arg(long = "demo-base-url-lifetime", env = "KEEPSAKE_DEMO_BASE_URL_LIFETIME", value_parser = parse_duration)]
    pub base_url_lifetime: Option<Duration>,
    /// Picking session lifetime.
    #[arg(long = "demo-session-lifetime", env = "KEEPSAKE_DEMO_SESSION_LIFETIME", value_parser = parse_duration)]
    pub session_lifetime: Option<Duration>,
    /// Time the user has to pick (initial `timeoutIn`).
    #[arg(long = "demo-picking-timeout", env = "KEEPSAKE_DEMO_PICKING_TIMEOUT", value_parser = parse_duration)]
    pub picking_timeout: Option<Duration>,
    /// `pollInterval` sent to clients.
    #[arg(long = "demo-poll-interval", env = "KEEPSAKE_DEMO_POLL_INTERVAL", value_parser = parse_duration)]
    pub poll_interval: Option<Duration>,
    /// Open sessions allowed per account.
    #[arg(
        long = "demo-max-open-sessions",
        env = "KEEPSAKE_DEMO_MAX_OPEN_SESSIONS"
    )]
    pub max_open_sessions: Option<usize>,
    /// Number of large videos in the library.
    #[arg(long = "demo-large-files", env = "KEEPSAKE_DEMO_LARGE_FILES")]
    pub large_file_count: Option<usize>,
    /// Size of each large video in bytes (suffixes K, M, G allowed: `64M`).
    #[arg(long = "demo-large-file-size", env = "KEEPSAKE_DEMO_LARGE_FILE_SIZE", value_parser = parse_size)]
    pub large_file_size: Option<u64>,
    /// Extra plain photos in the first account (for paging tests).
    #[arg(long = "demo-extra-photos", env = "KEEPSAKE_DEMO_EXTRA_PHOTOS")]
    pub extra_photos: Option<usize>,
    /// About how large each JPEG photo is (suffixes K, M: `4M` is a phone's photo).
    #[arg(long = "demo-photo-size", env = "KEEPSAKE_DEMO_PHOTO_SIZE", value_parser = parse_size)]
    pub photo_size: Option<u64>,
    /// Make every video READY (no video stuck in PROCESSING).
    #[arg(
        long = "demo-no-processing-video",
        env = "KEEPSAKE_DEMO_NO_PROCESSING_VIDEO"
    )]
    pub no_processing_video: bool,
    /// Where `=dv` is served: `separate` (a redirect to a second host that needs no
    /// bearer and ignores `Range`, as Google's) or `same` (the `baseUrl`'s host).
    #[arg(long = "demo-video-host", env = "KEEPSAKE_DEMO_VIDEO_HOST", value_enum)]
    pub video_host: Option<VideoHost>,
    /// Share (0–1) of API and media requests answered 500/503.
    #[arg(
        long = "demo-fault-server-errors",
        env = "KEEPSAKE_DEMO_FAULT_SERVER_ERRORS"
    )]
    pub server_error_rate: Option<f64>,
    /// Share (0–1) of API and media requests answered 429 with `Retry-After`.
    #[arg(long = "demo-fault-rate-limit", env = "KEEPSAKE_DEMO_FAULT_RATE_LIMIT")]
    pub rate_limit_rate: Option<f64>,
    /// Share (0–1) of Picker API requests alone (not media) answered 429 with
    /// `Retry-After`.
    #[arg(
        long = "demo-fault-api-rate-limit",
        env = "KEEPSAKE_DEMO_FAULT_API_RATE_LIMIT"
    )]
    pub api_rate_limit_rate: Option<f64>,
    /// `Retry-After` seconds of an injected 429.
    #[arg(
        long = "demo-fault-retry-after",
        env = "KEEPSAKE_DEMO_FAULT_RETRY_AFTER"
    )]
    pub retry_after_secs: Option<u64>,
    /// Share (0–1) of media downloads cut mid-body.
    #[arg(long = "demo-fault-cut-bodies", env = "KEEPSAKE_DEMO_FAULT_CUT_BODIES")]
    pub cut_body_rate: Option<f64>,
    /// Share (0–1) of media downloads sent slowly.
    #[arg(
        long = "demo-fault-slow-bodies",
        env = "KEEPSAKE_DEMO_FAULT_SLOW_BODIES"
    )]
    pub slow_body_rate: Option<f64>,
    /// Speed of a slow body in bytes per second (suffixes K, M allowed).
    #[arg(long = "demo-fault-slow-speed", env = "KEEPSAKE_DEMO_FAULT_SLOW_SPEED", value_parser = parse_size)]
    pub slow_body_bytes_per_sec: Option<u64>,
    /// Share (0–1) of sessions that expire early.
    #[arg(
        long = "demo-fault-early-expiry",
        env = "KEEPSAKE_DEMO_FAULT_EARLY_EXPIRY"
    )]
    pub early_expiry_rate: Option<f64>,
    /// Lifetime of a session that expires early.
    #[arg(long = "demo-fault-early-expiry-after", env = "KEEPSAKE_DEMO_FAULT_EARLY_EXPIRY_AFTER", value_parser = parse_duration)]
    pub early_expiry_after: Option<Duration>,
    /// Share (0–1) of items listed without `createTime`, which Google does not
    /// promise (the same items on every listing).
    #[arg(
        long = "demo-fault-no-create-time",
        env = "KEEPSAKE_DEMO_FAULT_NO_CREATE_TIME"
    )]
    pub no_create_time_rate: Option<f64>,
}

impl EmulatorArgs {
    /// The validated configuration these flags describe (defaults for what is unset).
    pub fn into_config(self) -> anyhow::Result<EmulatorConfig> {
        let mut c = EmulatorConfig::default();
        let f = &mut c.faults;
        macro_rules! set {
            ($target:expr, $value:expr) => {
                if let Some(v) = $value {
                    $target = v;
                }
            };
        }
        set!(f.server_error_rate, self.server_error_rate);
        set!(f.rate_limit_rate, self.rate_limit_rate);
        set!(f.api_rate_limit_rate, self.api_rate_limit_rate);
        set!(f.retry_after_secs, self.retry_after_secs);
        set!(f.cut_body_rate, self.cut_body_rate);
        set!(f.slow_body_rate, self.slow_body_rate);
        set!(f.slow_body_bytes_per_sec, self.slow_body_bytes_per_sec);
        set!(f.early_expiry_rate, self.early_expiry_rate);
        set!(f.early_expiry_after, self.early_expiry_after);
        set!(f.no_create_time_rate, self.no_create_time_rate);
        set!(c.seed, self.seed);
        set!(c.token_lifetime, self.token_lifetime);
        set!(c.base_url_lifetime, self.base_url_lifetime);
        set!(c.session_lifetime, self.session_lifetime);
        set!(c.picking_timeout, self.picking_timeout);
        set!(c.poll_interval, self.poll_interval);
        set!(c.max_open_sessions, self.max_open_sessions);
        set!(c.large_file_count, self.large_file_count);
        set!(c.large_file_size, self.large_file_size);
        set!(c.extra_photos, self.extra_photos);
        c.photo_size = self.photo_size.or(c.photo_size);
        c.redirect_uris = self
            .redirect_uris
            .into_iter()
            .filter(|u| !u.is_empty())
            .collect();
        c.processing_video = !self.no_processing_video;
        set!(c.video_host, self.video_host);
        c.validate()?;
        Ok(c)
    }
}

/// `"90s"`, `"250ms"`, `"2m"`, `"1h 30m"` (humantime's units), or a bare number of
/// seconds (`"3"`, `"1.5"`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds)
            .map_err(|e| format!("invalid duration {text:?}: {e}"));
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("invalid duration {text:?} ({e}): expected e.g. 90s, 250ms, 2m, 1h"))
}

/// `"1048576"`, `"64K"`, `"24M"`, `"1G"` (binary multiples).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, scale) = match text.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&text[..text.len() - 1], 1u64 << 10),
        Some('M') => (&text[..text.len() - 1], 1 << 20),
        Some('G') => (&text[..text.len() - 1], 1 << 30),
        _ => (text, 1),
    };
    let n: u64 = number
        .trim()
        .parse()
        .map_err(|_| format!("invalid size {text:?}"))?;
    n.checked_mul(scale)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        demo: EmulatorArgs,
    }

    #[test]
    fn defaults_are_googles() {
        let c = Cli::try_parse_from(["x"])
            .unwrap()
            .demo
            .into_config()
            .unwrap();
        assert_eq!(c.token_lifetime, Duration::from_secs(3600));
        assert_eq!(c.base_url_lifetime, Duration::from_secs(3600));
        assert!(!c.faults.any());
    }

    #[test]
    fn flags_set_faults_and_lifetimes() {
        let c = Cli::try_parse_from([
            "x",
            "--demo-seed=7",
            "--demo-token-lifetime=1.5s",
            "--demo-large-file-size=64M",
            "--demo-photo-size=4M",
            "--demo-fault-server-errors=0.25",
            "--demo-fault-rate-limit=0.1",
            "--demo-fault-api-rate-limit=0.3",
            "--demo-redirect-uri=http://localhost:9000/,http://127.0.0.1:9000/cb",
        ])
        .unwrap()
        .demo
        .into_config()
        .unwrap();
        assert_eq!(c.seed, 7);
        assert_eq!(c.token_lifetime, Duration::from_millis(1500));
        assert_eq!(c.large_file_size, 64 << 20);
        assert_eq!(c.photo_size, Some(4 << 20));
        assert_eq!(c.faults.server_error_rate, 0.25);
        assert_eq!(c.faults.api_rate_limit_rate, 0.3);
        assert_eq!(c.redirect_uris.len(), 2);
        assert!(c.faults.any());
    }

    #[test]
    fn invalid_rates_are_refused() {
        for flag in ["--demo-fault-cut-bodies=1.5", "--demo-photo-size=1K"] {
            let args = Cli::try_parse_from(["x", flag]).unwrap().demo;
            assert!(args.into_config().is_err(), "{flag}");
        }
    }

    #[test]
    fn durations_and_sizes_parse() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("3 fortnights").is_err());
        assert!(parse_duration("-1s").is_err());
        assert_eq!(parse_size("64K").unwrap(), 65536);
        assert!(parse_size("lots").is_err());
    }
}
