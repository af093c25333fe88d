//! The Google emulator: what `helper serve --demo` and every test talk to instead of
//! Google. OAuth (consent page, token fragment, code flow, revoke), the four Picker
//! API calls with Google's JSON errors and CORS, a picker page, and media bytes that
//! need the bearer token and send no CORS headers, over a generated sample library.
//!
//! It follows `PICKER-API.md` to the letter and is never kinder than Google: where
//! Google's behaviour is unsettled it takes the stricter reading. Everything is
//! served under `/emulator/`; absolute URLs (`pickerUri`, `baseUrl`) are built from
//! the request's `Host`, so it works on whatever address the helper listens on.
//!
//! Routes:
//! - `GET  /emulator/o/oauth2/v2/auth` (consent page), `POST …/auth/consent`
//! - `POST /emulator/token`, `POST|GET /emulator/revoke`
//! - `POST /emulator/picker/v1/sessions`, `GET|DELETE /emulator/picker/v1/sessions/{id}`,
//!   `GET /emulator/picker/v1/mediaItems`
//! - `GET  /emulator/picker-ui/{id}[/autoclose]`, `POST …/{id}/done`, `GET …/{id}/thumb/{item}`
//! - `GET  /ppa/{token}={suffix}` (`=dv` answers 302 to the video host, unless
//!   `--demo-video-host same`)
//! - on the video host (its own port on loopback, started at the first `=dv`):
//!   `GET /download/{token}`
//! - `GET  /emulator/` (what the emulator holds, for people)

mod api;
mod clock;
pub mod config;
mod discovery;
mod downloads;
mod faults;
mod html;
pub mod library;
mod media;
mod oauth;
mod picker_ui;
mod rng;

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use self::config::{EmulatorArgs, EmulatorConfig, FaultConfig, VideoHost};
use self::library::Library;

/// Where media bytes are served; `baseUrl`s start with `<origin>` + this, as
/// Google's Picker `baseUrl`s are `https://lh3.googleusercontent.com/ppa/…`.
pub const MEDIA_PATH_PREFIX: &str = "/ppa/";
/// Where the video host serves `=dv` bytes a `baseUrl` redirected to (on its own
/// origin, see [`Emulator::video_origin`]).
pub const VIDEO_PATH_PREFIX: &str = "/download/";
/// Path of the OAuth authorization endpoint.
pub const AUTH_PATH: &str = "/emulator/o/oauth2/v2/auth";
/// Path of the OAuth token endpoint (code exchange, refresh).
pub const TOKEN_PATH: &str = "/emulator/token";
/// Path of the OAuth revocation endpoint.
pub const REVOKE_PATH: &str = "/emulator/revoke";
/// Base path of the Picker API (includes the version).
pub const PICKER_API_PATH: &str = "/emulator/picker/v1";
pub use discovery::DISCOVERY_PATH;
/// Prefix of picker pages (`pickerUri`).
pub const PICKER_UI_PATH: &str = "/emulator/picker-ui/";

/// The endpoints a client needs, as absolute URLs for one origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DemoEndpoints {
    /// OAuth client id the emulator accepts.
    pub client_id: String,
    /// Authorization endpoint (browser token flow, code flow).
    pub auth_url: String,
    /// Token endpoint.
    pub token_url: String,
    /// Revocation endpoint.
    pub revoke_url: String,
    /// The Picker API scope.
    pub scope: String,
    /// Picker API base, including `/v1`.
    pub picker_api: String,
}

/// The emulator: cheap to clone (an `Arc` inside), one per helper.
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("video_host", &self.inner.video.get())
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: EmulatorConfig,
    library: Library,
    clock: clock::Clock,
    /// Signs `baseUrl`s; random per start so URLs do not outlive the process.
    secret: [u8; 32],
    state: Mutex<State>,
    fault_rng: Mutex<rng::Rng>,
    thumbnails: Mutex<HashMap<(usize, u32, u32, bool), bytes::Bytes>>,
    /// The video host's origin (`http://127.0.0.1:PORT`), once started.
    video: tokio::sync::OnceCell<String>,
    /// Download bodies being sent, and the most at once (`/emulator/stats`).
    downloads: Arc<downloads::Counter>,
}

/// Everything that changes while the emulator runs. With a state file, what
/// Google keeps (tokens, grants, sessions) outlives a restart of the helper, as
/// Google's does; consents and codes in flight (minutes long) do not.
#[derive(Default, Serialize, Deserialize)]
struct State {
    tokens: HashMap<String, Token>,
    refresh_tokens: HashMap<String, Grant>,
    #[serde(skip)]
    consents: HashMap<String, oauth::PendingConsent>,
    #[serde(skip)]
    codes: HashMap<String, oauth::AuthCode>,
    sessions: HashMap<String, Session>,
    /// Picker page id → session id.
    pickers: HashMap<String, String>,
    /// (account, requestId) → session id, for idempotent creates.
    #[serde(with = "keyed_by_pair")]
    request_ids: HashMap<(usize, String), String>,
}

/// The state file: the state, the key `baseUrl`s are signed with (so they stay
/// valid), and which sample library it belongs to.
#[derive(Serialize, Deserialize)]
struct Snapshot {
    /// [`library_fingerprint`]: a state for another library is not loaded.
    library: String,
    secret: String,
    state: State,
}

/// A map keyed by pairs, as a list of triples (JSON keys are strings).
mod keyed_by_pair {
    use std::collections::HashMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        map: &HashMap<(usize, String), String>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let triples: Vec<(&usize, &String, &String)> =
            map.iter().map(|((a, b), c)| (a, b, c)).collect();
        triples.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<HashMap<(usize, String), String>, D::Error> {
        let triples = Vec::<(usize, String, String)>::deserialize(deserializer)?;
        Ok(triples.into_iter().map(|(a, b, c)| ((a, b), c)).collect())
    }
}

/// The state, locked; written to the state file when dropped if it was changed.
struct StateGuard<'a> {
    state: MutexGuard<'a, State>,
    inner: &'a Inner,
    changed: bool,
}

impl Deref for StateGuard<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        &self.state
    }
}

impl DerefMut for StateGuard<'_> {
    fn deref_mut(&mut self) -> &mut State {
        self.changed = true;
        &mut self.state
    }
}

impl Drop for StateGuard<'_> {
    fn drop(&mut self) {
        let Some(path) = &self.inner.config.state_file else {
            return;
        };
        if !self.changed {
            return;
        }
        let snapshot = Snapshot {
            library: library_fingerprint(&self.inner.library),
            secret: hex::encode(self.inner.secret),
            state: std::mem::take(&mut *self.state),
        };
        let written = write_snapshot(path, &snapshot);
        *self.state = snapshot.state;
        if let Err(err) = written {
            tracing::warn!(path = %path.display(), "could not keep the demo Google's state: {err}");
        }
    }
}

/// Writes the state file whole or not at all (a temp file renamed over it).
fn write_snapshot(path: &Path, snapshot: &Snapshot) -> std::io::Result<()> {
    let json = serde_json::to_vec(snapshot).map_err(std::io::Error::other)?;
    let temp = path.with_extension("json.tmp");
    std::fs::write(&temp, json)?;
    std::fs::rename(&temp, path)
}

/// The state file's state and key, when it exists, reads, and belongs to `library`.
fn read_snapshot(path: &Path, library: &Library) -> Option<(State, [u8; 32])> {
    let bytes = std::fs::read(path).ok()?;
    let snapshot: Snapshot = match serde_json::from_slice(&bytes) {
        Ok(snapshot) => snapshot,
        Err(err) => {
            tracing::warn!(path = %path.display(), "ignoring the demo Google's state: {err}");
            return None;
        }
    };
    if snapshot.library != library_fingerprint(library) {
        tracing::info!(
            path = %path.display(),
            "the demo Google's state is for another sample library (seed or sizes changed): starting afresh"
        );
        return None;
    }
    let secret = hex::decode(&snapshot.secret).ok()?.try_into().ok()?;
    Some((snapshot.state, secret))
}

/// Which sample library a state belongs to: sessions name items by position.
fn library_fingerprint(library: &Library) -> String {
    let ids: Vec<&str> = library.items().iter().map(|i| i.id.as_str()).collect();
    let digest = <sha2::Sha256 as sha2::Digest>::digest(ids.join(",").as_bytes());
    hex::encode(&digest[..12])
}

/// What an access token may do.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Token {
    account: usize,
    scopes: Vec<String>,
    expires: Timestamp,
}

/// What a refresh token stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Grant {
    account: usize,
    scopes: Vec<String>,
}

/// A picking session.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Session {
    id: String,
    account: usize,
    expire: Timestamp,
    picking_deadline: Timestamp,
    max_items: i64,
    picker_id: String,
    /// Library indexes the user picked, once Done was pressed.
    picked: Option<Vec<usize>>,
    /// Page token → offset into `picked`.
    page_tokens: HashMap<String, usize>,
}

impl Emulator {
    /// Builds the emulator and its sample library (deterministic from the seed).
    pub fn new(config: EmulatorConfig) -> anyhow::Result<Emulator> {
        config.validate()?;
        let library = Library::generate(&config);
        let restored = config
            .state_file
            .as_deref()
            .and_then(|path| read_snapshot(path, &library));
        let (state, secret) = restored.unwrap_or_else(|| {
            let mut secret = [0u8; 32];
            secret[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
            secret[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
            (State::default(), secret)
        });
        let fault_rng = rng::Rng::derive(config.seed, "faults");
        Ok(Emulator {
            inner: Arc::new(Inner {
                config,
                library,
                clock: clock::Clock::default(),
                secret,
                state: Mutex::new(state),
                fault_rng: Mutex::new(fault_rng),
                thumbnails: Mutex::new(HashMap::new()),
                video: tokio::sync::OnceCell::new(),
                downloads: Arc::default(),
            }),
        })
    }

    /// Every emulator route, all under `/emulator/`.
    pub fn router(&self) -> Router {
        Router::new()
            .merge(oauth::routes())
            .merge(api::routes(self.clone()))
            .merge(picker_ui::routes())
            .merge(media::routes(self.clone()))
            .route("/emulator", axum::routing::get(html::index))
            .route("/emulator/", axum::routing::get(html::index))
            .route("/emulator/stats", axum::routing::get(downloads::stats))
            .route(
                discovery::DISCOVERY_PATH,
                axum::routing::get(discovery::document)
                    .layer(axum::middleware::from_fn(faults::cors)),
            )
            .with_state(self.clone())
    }

    /// The endpoints as seen from `origin` (e.g. `http://127.0.0.1:8080`).
    pub fn endpoints(&self, origin: &str) -> DemoEndpoints {
        let origin = origin.trim_end_matches('/');
        DemoEndpoints {
            client_id: self.inner.config.client_id.clone(),
            auth_url: format!("{origin}{AUTH_PATH}"),
            token_url: format!("{origin}{TOKEN_PATH}"),
            revoke_url: format!("{origin}{REVOKE_PATH}"),
            scope: picker::SCOPE.to_owned(),
            picker_api: format!("{origin}{PICKER_API_PATH}"),
        }
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &EmulatorConfig {
        &self.inner.config
    }

    /// The sample library.
    pub fn library(&self) -> &Library {
        &self.inner.library
    }

    /// Moves the emulator's clock forward: tokens, sessions and `baseUrl`s expire as
    /// if that much time had passed. For tests, which must not sleep.
    pub fn advance_clock(&self, by: Duration) {
        self.inner.clock.advance(by);
    }

    /// Mints an access token for the account with this email (all scopes), as a
    /// completed consent would. For tests of other parts that need a signed-in user;
    /// the contract tests go through the consent page instead.
    pub fn issue_token(&self, email: &str) -> Option<String> {
        let account = library::ACCOUNTS.iter().position(|a| a.email == email)?;
        Some(self.mint_token(account, vec![picker::SCOPE.to_owned()]))
    }

    fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    fn state(&self) -> StateGuard<'_> {
        StateGuard {
            // A panic while holding the lock leaves plain data behind: keep serving.
            state: self.inner.state.lock().unwrap_or_else(|e| e.into_inner()),
            inner: &self.inner,
            changed: false,
        }
    }

    fn mint_token(&self, account: usize, scopes: Vec<String>) -> String {
        let token = format!("ya29.demo-{}", random_id(40));
        let expires = clock::add(self.now(), self.inner.config.token_lifetime);
        let mut state = self.state();
        let now = self.now();
        // Forget long-expired tokens so a long demo does not grow without bound.
        state.tokens.retain(|_, t| t.expires > now);
        state.tokens.insert(
            token.clone(),
            Token {
                account,
                scopes,
                expires,
            },
        );
        token
    }
}

/// A random id of `len` URL-safe characters (not seeded: ids and tokens must not be
/// guessable from the seed).
fn random_id(len: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for b in uuid::Uuid::new_v4().as_bytes() {
            if out.len() < len {
                out.push(ALPHABET[usize::from(b & 63)] as char);
            }
        }
    }
    out
}

/// What a request's `Authorization` header holds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bearer {
    /// No `Authorization` header.
    Missing,
    /// A header that is not `Bearer <token>`: an invalid credential.
    Malformed,
    /// The token.
    Token(String),
}

fn bearer(headers: &HeaderMap) -> Bearer {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Bearer::Missing;
    };
    value
        .to_str()
        .ok()
        .and_then(|s| s.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or(Bearer::Malformed, |(_, token)| {
            Bearer::Token(token.trim().to_owned())
        })
}

/// `<scheme>://<Host>` of the request; `localhost` when the header is missing or odd
/// (it only ever names this server, never a redirect target of its own). The scheme
/// is `https` when the server that runs the emulator says so in
/// `X-Forwarded-Proto` (the helper's accept loop sets it from the connection).
fn origin_of(headers: &HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    let scheme = match headers.get("x-forwarded-proto").map(|v| v.as_bytes()) {
        Some(b"https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_comes_from_host_and_refuses_junk() {
        let mut h = HeaderMap::new();
        assert_eq!(origin_of(&h), "http://localhost");
        h.insert("host", "127.0.0.1:4321".parse().unwrap());
        assert_eq!(origin_of(&h), "http://127.0.0.1:4321");
        h.insert("host", "evil.com/path".parse().unwrap());
        assert_eq!(origin_of(&h), "http://localhost");
        h.insert("host", "nas.local:8443".parse().unwrap());
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(origin_of(&h), "https://nas.local:8443");
    }

    #[test]
    fn endpoints_hang_off_the_origin() {
        let e = Emulator::new(EmulatorConfig::default()).unwrap();
        let ep = e.endpoints("http://127.0.0.1:8080/");
        assert_eq!(ep.picker_api, "http://127.0.0.1:8080/emulator/picker/v1");
        assert_eq!(
            ep.auth_url,
            "http://127.0.0.1:8080/emulator/o/oauth2/v2/auth"
        );
        assert_eq!(ep.scope, picker::SCOPE);
    }

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), Bearer::Missing);
        h.insert("authorization", "bearer abc ".parse().unwrap());
        assert_eq!(bearer(&h), Bearer::Token("abc".into()));
        h.insert("authorization", "Basic dXNlcg==".parse().unwrap());
        assert_eq!(bearer(&h), Bearer::Malformed);
    }

    fn with_state_file(path: &Path, seed: u64) -> Emulator {
        Emulator::new(EmulatorConfig {
            seed,
            state_file: Some(path.to_owned()),
            ..EmulatorConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn tokens_and_the_base_url_key_outlive_a_restart_with_a_state_file() {
        let dir = tempfile_dir();
        let path = dir.join("google.json");
        let first = with_state_file(&path, 1);
        let token = first.issue_token("maria.rivera@example.com").unwrap();
        let secret = first.inner.secret;
        drop(first);

        let again = with_state_file(&path, 1);
        assert!(
            again.state().tokens.contains_key(&token),
            "the token is known"
        );
        assert_eq!(again.inner.secret, secret, "old baseUrls still verify");

        // Another sample library: its sessions would name other items.
        let other = with_state_file(&path, 2);
        assert!(other.state().tokens.is_empty());
        assert_ne!(other.inner.secret, secret);

        // A damaged file is ignored, not fatal.
        std::fs::write(&path, b"{ not json").unwrap();
        assert!(with_state_file(&path, 1).state().tokens.is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A fresh folder under the system's temp dir (no dev-dependency for one test).
    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("emulator-state-{}", random_id(12)));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn random_ids_differ() {
        assert_eq!(random_id(40).len(), 40);
        assert_ne!(random_id(20), random_id(20));
    }
}
