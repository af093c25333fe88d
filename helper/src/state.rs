//! What every handler shares: the validated configuration, the library, the media
//! proxy's client and allow-list, whom the helper talks to ([`Upstream`]), and in
//! family mode the members' sessions and the sign-in brake.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::Semaphore;

use crate::config::{Config, UpstreamConfig};
use crate::fetch::Fetcher;
use crate::library::Library;
use crate::media_proxy::{self, MediaHosts};
use crate::members::sessions::{self, Sessions};
use crate::members::throttle::Throttle;
use crate::members::verifier::Verifier;

/// Whom sign-in and the Picker API go to. One value holds both the mode and what
/// it needs, so "demo mode without an emulator" cannot be written.
#[derive(Clone)]
pub enum Upstream {
    /// Google itself.
    Google {
        /// OAuth client id of the user's "Web application" client.
        client_id: String,
    },
    /// The built-in emulator, served by this same helper.
    #[cfg(feature = "demo")]
    Demo(emulator::Emulator),
}

impl Upstream {
    /// The mode `/api/config` names.
    pub fn mode(&self) -> api::Mode {
        match self {
            Upstream::Google { .. } => api::Mode::Google,
            #[cfg(feature = "demo")]
            Upstream::Demo(_) => api::Mode::Demo,
        }
    }
}

/// Everything the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: Config,
    /// The members now (the configuration file's, followed while running).
    members: std::sync::RwLock<Arc<crate::members::Members>>,
    library: Library,
    http: reqwest::Client,
    media_hosts: MediaHosts,
    upstream: Upstream,
    sessions: Option<Sessions>,
    throttle: Throttle,
    verifier: Arc<Verifier>,
    uploads: Arc<Semaphore>,
    downloads: Arc<Semaphore>,
    fetcher: Fetcher,
}

/// The demo Google's state file, in the library folder (`helper serve --demo`).
#[cfg(feature = "demo")]
pub const DEMO_GOOGLE_STATE: &str = ".keepsake.demo-google.json";

impl AppState {
    /// Builds the state for a helper listening on `local_addr`.
    pub fn new(config: Config, local_addr: SocketAddr) -> anyhow::Result<Self> {
        let library = Library::open_with(&config.library, config.storage)?;
        let repaired = library.open_report();
        tracing::info!(?repaired, "library opened");
        let http = media_proxy::client(config.media_timeout)?;
        let (upstream, media_hosts) = match &config.upstream {
            UpstreamConfig::Google { client_id } => (
                Upstream::Google {
                    client_id: client_id.clone(),
                },
                MediaHosts::Google,
            ),
            #[cfg(feature = "demo")]
            UpstreamConfig::Demo(emulator_config) => {
                let mut emulator_config = (**emulator_config).clone();
                // The demo's Google outlives a restart of the helper, as Google does.
                emulator_config
                    .state_file
                    .get_or_insert_with(|| config.library.join(DEMO_GOOGLE_STATE));
                let emulator = emulator::Emulator::new(emulator_config)?;
                let hosts = MediaHosts::demo(local_addr, emulator.clone())?;
                (Upstream::Demo(emulator), hosts)
            }
        };
        #[cfg(not(feature = "demo"))]
        let _ = local_addr;
        let sessions = if config.members.is_family() {
            let path = config.library.join(sessions::DATABASE_NAME);
            Some(
                Sessions::open(&path, config.session_lifetime)
                    .with_context(|| format!("opening the session store {}", path.display()))?,
            )
        } else {
            None
        };
        let uploads = Arc::new(Semaphore::new(config.limits.max_uploads));
        let downloads = Arc::new(Semaphore::new(config.limits.max_downloads));
        let fetcher = Fetcher::new(
            library.clone(),
            http.clone(),
            media_hosts.clone(),
            config.limits.max_downloads,
        );
        Ok(AppState(Arc::new(Inner {
            fetcher,
            members: std::sync::RwLock::new(Arc::new(config.members.clone())),
            config,
            library,
            http,
            media_hosts,
            upstream,
            sessions,
            throttle: Throttle::default(),
            verifier: Arc::new(Verifier::default()),
            uploads,
            downloads,
        })))
    }

    /// The validated configuration.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The family's members now: a passphrase changed or a member removed in the
    /// configuration file counts from the moment the helper reads it. (Whether
    /// this is a family's helper at all is decided at start: see `config().members`.)
    pub fn members(&self) -> Arc<crate::members::Members> {
        self.0
            .members
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Puts `members` in place of the members now.
    pub fn set_members(&self, members: crate::members::Members) {
        *self
            .0
            .members
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(members);
    }

    /// The photo library.
    pub fn library(&self) -> &Library {
        &self.0.library
    }

    /// The HTTP client of the media proxy.
    pub fn http(&self) -> &reqwest::Client {
        &self.0.http
    }

    /// The proxy's allow-list.
    pub fn media_hosts(&self) -> &MediaHosts {
        &self.0.media_hosts
    }

    /// Google or the emulator.
    pub fn upstream(&self) -> &Upstream {
        &self.0.upstream
    }

    /// The members' sessions (family mode only).
    pub fn sessions(&self) -> Option<&Sessions> {
        self.0.sessions.as_ref()
    }

    /// The sign-in brake.
    pub fn throttle(&self) -> &Throttle {
        &self.0.throttle
    }

    /// The cap on passphrase checks (Argon2) at once.
    pub fn verifier(&self) -> &Arc<Verifier> {
        &self.0.verifier
    }

    /// Permits for uploads in progress.
    pub fn uploads(&self) -> &Arc<Semaphore> {
        &self.0.uploads
    }

    /// Permits for proxied downloads in progress.
    pub fn downloads(&self) -> &Arc<Semaphore> {
        &self.0.downloads
    }

    /// The helper's own downloads of picked items.
    pub fn fetcher(&self) -> &Fetcher {
        &self.0.fetcher
    }
}
