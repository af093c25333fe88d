//! Installed-app OAuth for `helper pick`: the authorization code flow with PKCE
//! (S256) and a one-shot loopback listener on `127.0.0.1`, the token file (kept
//! 0600, in google-auth's `token.json` format so the original Python tool's file
//! imports as it is), silent refresh — also in the middle of a run — and revoke.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::retrying::{TokioEnv, retry_after_of};
use picker::retry::{Backoff, RetryEnv, RetryPolicy, Verdict, is_transient_status};

/// Where the OAuth and Picker API calls go: Google's, or a demo helper's emulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Authorization endpoint (the consent page).
    pub auth_url: String,
    /// Token endpoint (code exchange and refresh).
    pub token_url: String,
    /// Revocation endpoint.
    pub revoke_url: String,
    /// Picker API base, including `/v1`.
    pub picker_api: String,
}

impl Endpoints {
    /// Google's own endpoints.
    pub fn google() -> Self {
        Endpoints {
            auth_url: picker::GOOGLE_AUTH_URL.to_owned(),
            token_url: picker::GOOGLE_TOKEN_URL.to_owned(),
            revoke_url: picker::GOOGLE_REVOKE_URL.to_owned(),
            picker_api: picker::GOOGLE_PICKER_API.to_owned(),
        }
    }
}

/// An OAuth client: its id and its secret (Google wants the secret in the code
/// exchange and in refreshes even with PKCE).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    /// `….apps.googleusercontent.com`.
    pub client_id: String,
    /// `GOCSPX-…`.
    pub client_secret: String,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Reads Google's `client_secret.json` of a "Desktop app" client:
/// `{"installed": {"client_id": …, "client_secret": …, …}}`.
pub fn read_client_secret(path: &Path) -> anyhow::Result<ClientCredentials> {
    #[derive(Deserialize)]
    struct File {
        installed: Option<Installed>,
        web: Option<serde_json::Value>,
    }
    #[derive(Deserialize)]
    struct Installed {
        client_id: String,
        client_secret: String,
    }
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading {}: download the JSON of a \"Desktop app\" OAuth client from the Google \
             Cloud console and save it there (or pass --client-secret FILE)",
            path.display()
        )
    })?;
    let file: File = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a Google client_secret.json", path.display()))?;
    match (file.installed, file.web) {
        (Some(installed), _) => {
            if installed.client_id.is_empty() || installed.client_secret.is_empty() {
                bail!("{}: client_id or client_secret is empty", path.display());
            }
            Ok(ClientCredentials {
                client_id: installed.client_id,
                client_secret: installed.client_secret,
            })
        }
        (None, Some(_)) => bail!(
            "{} is a \"Web application\" client (for the browser app); `helper pick` needs a \
             \"Desktop app\" client, whose JSON starts with {{\"installed\": …}}",
            path.display()
        ),
        (None, None) => bail!(
            "{}: no \"installed\" section; is it a client_secret.json of a Desktop client?",
            path.display()
        ),
    }
}

/// A saved sign-in, in the format google-auth's `Credentials.to_json()` writes
/// (the original tool's `token.json`): `token`, `refresh_token`, `token_uri`,
/// `client_id`, `client_secret`, `scopes`, `expiry`. Unknown fields (`account`,
/// `universe_domain`) are kept so a file written back stays the Python tool's.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenFile {
    /// The last access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The refresh token: the part that matters.
    pub refresh_token: String,
    /// The token endpoint it belongs to.
    #[serde(default = "default_token_uri")]
    pub token_uri: String,
    /// The client it was issued to.
    pub client_id: String,
    /// That client's secret (needed to refresh).
    pub client_secret: String,
    /// Scopes granted.
    #[serde(default, deserialize_with = "scopes")]
    pub scopes: Vec<String>,
    /// When `token` expires: RFC 3339, or google-auth's `2024-05-01T12:34:56.789012Z`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
    /// Whatever else the file held.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl std::fmt::Debug for TokenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenFile")
            .field("token_uri", &self.token_uri)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .field("expiry", &self.expiry)
            .finish_non_exhaustive()
    }
}

fn default_token_uri() -> String {
    picker::GOOGLE_TOKEN_URL.to_owned()
}

/// `scopes` as a list (google-auth) or a space-separated string (older files).
fn scopes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scopes {
        List(Vec<String>),
        Text(String),
        None(()),
    }
    Ok(match Scopes::deserialize(d)? {
        Scopes::List(list) => list,
        Scopes::Text(text) => text.split_whitespace().map(str::to_owned).collect(),
        Scopes::None(()) => Vec::new(),
    })
}

impl TokenFile {
    /// When the saved access token expires, if the file says and it parses.
    /// google-auth writes naive UTC with a `Z`; a bare naive time is read as UTC too.
    pub fn expiry_time(&self) -> Option<Timestamp> {
        let text = self.expiry.as_deref()?.trim();
        text.parse::<Timestamp>().ok().or_else(|| {
            let civil: jiff::civil::DateTime = text.trim_end_matches('Z').parse().ok()?;
            jiff::tz::Offset::UTC.to_timestamp(civil).ok()
        })
    }

    /// Reads a token file (ours, or the Python tool's `token.json`) and checks it
    /// can be used for the Picker API.
    pub fn read(path: &Path) -> anyhow::Result<TokenFile> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let file: TokenFile = serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: not a token.json (it needs refresh_token, client_id, client_secret)",
                path.display()
            )
        })?;
        if file.refresh_token.is_empty() {
            bail!("{}: refresh_token is empty", path.display());
        }
        if !file.scopes.is_empty() && !file.scopes.iter().any(|s| s == picker::SCOPE) {
            bail!(
                "{}: its scopes ({}) do not include {}; sign in again without --import-token",
                path.display(),
                file.scopes.join(" "),
                picker::SCOPE
            );
        }
        Ok(file)
    }

    /// Writes the file atomically (temp file + rename) with owner-only permissions:
    /// it holds a refresh token and the client secret.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut temp = tempfile::Builder::new()
            .prefix(".token-")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(0o600))
                .context("making the token file private")?;
        }
        serde_json::to_writer_pretty(temp.as_file_mut(), self)?;
        temp.as_file_mut().write_all(b"\n")?;
        temp.as_file().sync_all()?;
        temp.persist(path)
            .map_err(|err| anyhow::Error::new(err.error))
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

const FORM: &str = "application/x-www-form-urlencoded";

/// `pairs` as a form body (reqwest's `form` feature is not built in).
fn form_body(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().copied())
        .finish()
}

/// What the token endpoint answers on success.
#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

/// What the token endpoint answers on failure.
#[derive(Debug, Deserialize)]
struct TokenErrorResponse {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// A failed call to the token endpoint.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The refresh token (or code) is no longer valid: the user must consent again.
    #[error("the sign-in is no longer valid ({0}); {TESTING_MODE_HINT}")]
    InvalidGrant(String),
    /// Anything else.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// What an `invalid_grant` most often means for a Keepsake user, said with it.
pub const TESTING_MODE_HINT: &str = "it was revoked, or it expired: Google ends every \
    sign-in of an OAuth client whose consent screen is in Testing mode after 7 days \
    (publish the app, \"In production\", to keep sign-ins); sign in again";

/// One `POST` to the token endpoint with the retry policy (5xx, 429, connection
/// failures); OAuth errors come back as [`TokenError`].
async fn token_request(
    http: &reqwest::Client,
    token_url: &str,
    form: &[(&str, &str)],
) -> Result<TokenResponse, TokenError> {
    let env = TokioEnv::default();
    let mut backoff = Backoff::new(RetryPolicy::PICKER, env.now());
    loop {
        let sent = http
            .post(token_url)
            .header(reqwest::header::CONTENT_TYPE, FORM)
            .body(form_body(form))
            .timeout(Duration::from_secs(30))
            .send()
            .await;
        let (retry_after, why) = match sent {
            Ok(res) if res.status().is_success() => {
                let body = res
                    .bytes()
                    .await
                    .context("reading the token endpoint's answer")?;
                let parsed: TokenResponse = serde_json::from_slice(&body)
                    .context("the token endpoint answered something that is not a token")?;
                return Ok(parsed);
            }
            Ok(res) if is_transient_status(res.status().as_u16()) => {
                (retry_after_of(&res), format!("HTTP {}", res.status()))
            }
            Ok(res) => {
                let status = res.status();
                let body = res.bytes().await.unwrap_or_default();
                let error: Option<TokenErrorResponse> = serde_json::from_slice(&body).ok();
                return Err(match error {
                    Some(e) if e.error == "invalid_grant" => TokenError::InvalidGrant(
                        e.error_description.unwrap_or_else(|| e.error.clone()),
                    ),
                    Some(e) => TokenError::Other(anyhow::anyhow!(
                        "the token endpoint said {} ({}): {}",
                        e.error,
                        status,
                        e.error_description.unwrap_or_default()
                    )),
                    None => TokenError::Other(anyhow::anyhow!(
                        "the token endpoint answered HTTP {status}"
                    )),
                });
            }
            Err(err) => (None, format!("{err}")),
        };
        match backoff.next(true, retry_after, env.now(), env.random()) {
            Verdict::Wait(wait) => env.sleep(wait).await,
            Verdict::Permanent | Verdict::DeadlinePassed => {
                return Err(TokenError::Other(anyhow::anyhow!(
                    "the token endpoint {token_url} failed {} times; last: {why}",
                    backoff.failures() + 1
                )));
            }
        }
    }
}

/// A PKCE pair (RFC 7636): a random verifier and its S256 challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkce {
    /// Sent in the code exchange.
    pub verifier: String,
    /// Sent on the consent URL.
    pub challenge: String,
}

impl Pkce {
    /// A fresh pair: 32 random bytes, base64url (43 characters, the minimum length
    /// the RFC allows and plenty of entropy).
    pub fn new() -> Self {
        Self::from_verifier(random_token(32))
    }

    /// The pair of a given verifier.
    pub fn from_verifier(verifier: String) -> Self {
        let challenge = base64url(&sha2::Sha256::digest(verifier.as_bytes()));
        Pkce {
            verifier,
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `n` random bytes from the OS, base64url.
fn random_token(n: usize) -> String {
    use rand_core::RngCore as _;
    let mut bytes = vec![0u8; n];
    rand_core::OsRng.fill_bytes(&mut bytes);
    base64url(&bytes)
}

/// The consent URL of the code flow: offline access (a refresh token) and
/// `prompt=consent` (Google only sends a refresh token on a fresh consent).
pub fn code_flow_url(
    auth_url: &str,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
    pkce: &Pkce,
) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", picker::SCOPE)
        .append_pair("state", state)
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("access_type", "offline")
        .append_pair("prompt", "consent")
        .finish();
    let separator = if auth_url.contains('?') { '&' } else { '?' };
    format!("{auth_url}{separator}{query}")
}

/// What came back to the loopback redirect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    /// The authorization code.
    Code(String),
    /// The user (or Google) said no: `access_denied` and the like.
    Denied(String),
    /// Not the answer we wait for (another path, a stale or forged `state`).
    Ignored,
}

/// Reads the request target of the loopback redirect (`/?code=…&state=…`).
pub fn read_redirect(target: &str, expected_state: &str) -> Redirect {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != "/" {
        return Redirect::Ignored;
    }
    let mut code = None;
    let mut state = None;
    let mut error = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match &*key {
            "code" => code = Some(value.into_owned()),
            "state" => state = Some(value.into_owned()),
            "error" => error = Some(value.into_owned()),
            _ => {}
        }
    }
    // A mismatched state is someone else's redirect (or a forged one): ignore it
    // and keep waiting for ours.
    if state.as_deref() != Some(expected_state) {
        return Redirect::Ignored;
    }
    match (code, error) {
        (_, Some(error)) => Redirect::Denied(error),
        (Some(code), None) if !code.is_empty() => Redirect::Code(code),
        _ => Redirect::Ignored,
    }
}

/// Serves one HTTP request on the loopback listener; returns what it carried.
async fn answer_one(mut stream: TcpStream, state: &str) -> std::io::Result<Redirect> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    // A browser sends the request head at once; a silent or huge one is not ours.
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Ok::<_, std::io::Error>(())
    })
    .await;
    if !matches!(read, Ok(Ok(()))) {
        return Ok(Redirect::Ignored);
    }
    let text = String::from_utf8_lossy(&head);
    let mut words = text.lines().next().unwrap_or_default().split_whitespace();
    let redirect = match (words.next(), words.next()) {
        (Some("GET"), Some(target)) => read_redirect(target, state),
        _ => Redirect::Ignored,
    };
    let (status, body) = match &redirect {
        Redirect::Code(_) => (
            "200 OK",
            "<!doctype html><title>Keepsake</title><h1>Signed in</h1>\
             <p>You can close this tab and go back to the terminal.</p>",
        ),
        Redirect::Denied(_) => (
            "200 OK",
            "<!doctype html><title>Keepsake</title><h1>Not signed in</h1>\
             <p>Go back to the terminal.</p>",
        ),
        Redirect::Ignored => ("404 Not Found", "not found"),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\n\
         cache-control: no-store\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
    Ok(redirect)
}

/// Runs the consent: binds `127.0.0.1:0`, prints the consent URL on a line of its
/// own (and opens it unless `no_browser`), waits for the redirect, exchanges the
/// code. Returns the new token file's contents.
pub async fn sign_in(
    http: &reqwest::Client,
    endpoints: &Endpoints,
    client: &ClientCredentials,
    no_browser: bool,
) -> anyhow::Result<TokenFile> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .context("opening a loopback port for the sign-in redirect")?;
    let port = listener.local_addr()?.port();
    let redirect_uri = format!("http://127.0.0.1:{port}/");
    let pkce = Pkce::new();
    let state = random_token(16);
    let url = code_flow_url(
        &endpoints.auth_url,
        &client.client_id,
        &redirect_uri,
        &state,
        &pkce,
    );
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "Sign in with Google to let Keepsake see the photos you pick:"
        )?;
        writeln!(out, "{url}")?;
        out.flush()?;
    }
    if !no_browser {
        super::open_in_browser(&url);
    }
    let code = tokio::time::timeout(Duration::from_secs(15 * 60), async {
        loop {
            let (stream, _) = listener.accept().await?;
            match answer_one(stream, &state).await {
                Ok(Redirect::Code(code)) => return Ok(code),
                Ok(Redirect::Denied(error)) => bail!("sign-in refused: {error}"),
                Ok(Redirect::Ignored) | Err(_) => {}
            }
        }
    })
    .await
    .context("no answer from the sign-in page within 15 minutes")??;

    let answer = token_request(
        http,
        &endpoints.token_url,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
            ("client_id", &client.client_id),
            ("client_secret", &client.client_secret),
            ("code_verifier", &pkce.verifier),
        ],
    )
    .await?;
    // With granular consent a user may leave the photos box unticked: the code is
    // good, the token useless for the Picker.
    let granted = granted_scopes(answer.scope.as_deref());
    if !granted.iter().any(|s| s == picker::SCOPE) {
        bail!(
            "the sign-in did not allow access to the photos you pick (granted: {}); sign in \
             again and leave Google Photos ticked on the consent page",
            granted.join(" ")
        );
    }
    let refresh_token = answer.refresh_token.clone().context(
        "Google sent no refresh token; remove Keepsake's access at \
         https://myaccount.google.com/permissions and sign in again",
    )?;
    Ok(TokenFile {
        token: Some(answer.access_token.clone()),
        refresh_token,
        token_uri: endpoints.token_url.clone(),
        client_id: client.client_id.clone(),
        client_secret: client.client_secret.clone(),
        scopes: granted,
        expiry: answer.expires_in.map(|s| expiry_after(s).to_string()),
        other: serde_json::Map::new(),
    })
}

/// The scopes a token answer granted: its `scope` (empty when every box was
/// unticked); a server that leaves `scope` out granted what was asked (RFC 6749
/// §5.1).
fn granted_scopes(scope: Option<&str>) -> Vec<String> {
    match scope {
        Some(scope) => scope.split_whitespace().map(str::to_owned).collect(),
        None => vec![picker::SCOPE.to_owned()],
    }
}

fn expiry_after(seconds: u64) -> Timestamp {
    let span = jiff::SignedDuration::from_secs(i64::try_from(seconds).unwrap_or(i64::MAX));
    Timestamp::now().checked_add(span).unwrap_or(Timestamp::MAX)
}

/// What a revoke did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// The grant was revoked now.
    Now,
    /// The server no longer knew the token (revoked or expired before).
    Already,
}

/// Revokes `token` (a refresh or access token) at `revoke_url`; revoking a
/// refresh token ends the whole grant.
pub async fn revoke(
    http: &reqwest::Client,
    revoke_url: &str,
    token: &str,
) -> anyhow::Result<Revoked> {
    let res = http
        .post(revoke_url)
        .header(reqwest::header::CONTENT_TYPE, FORM)
        .body(form_body(&[("token", token)]))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .with_context(|| format!("calling {revoke_url}"))?;
    if res.status().is_success() {
        return Ok(Revoked::Now);
    }
    let status = res.status();
    let body = res.bytes().await.unwrap_or_default();
    let error: Option<TokenErrorResponse> = serde_json::from_slice(&body).ok();
    match error {
        Some(e) if e.error == "invalid_token" => Ok(Revoked::Already),
        Some(e) => bail!("revoking: {} ({status})", e.error),
        None => bail!("revoking: HTTP {status}"),
    }
}

/// An access token in use, and the generation it belongs to (so a 401 refreshes
/// once, not once per waiting download).
#[derive(Debug, Clone)]
pub struct Bearer {
    /// The token.
    pub token: String,
    generation: u64,
}

#[derive(Debug)]
struct Live {
    file: TokenFile,
    access: Option<String>,
    /// When to stop using `access` (a safety margin before it really expires).
    renew_at: Instant,
    generation: u64,
}

/// The signed-in user for the rest of a run: hands out a valid access token,
/// refreshing it silently (and saving the file) when it is about to expire or
/// when a server rejected it.
#[derive(Debug)]
pub struct Auth {
    http: reqwest::Client,
    path: PathBuf,
    live: tokio::sync::Mutex<Live>,
    refreshes: AtomicU32,
}

impl Auth {
    /// Starts from a token file's contents (saving it to `path` first).
    pub fn new(http: reqwest::Client, path: PathBuf, file: TokenFile) -> anyhow::Result<Self> {
        file.write(&path)?;
        let remaining = file
            .expiry_time()
            .map(|at| Duration::try_from(at.duration_since(Timestamp::now())).unwrap_or_default());
        let (access, renew_at) = match (&file.token, remaining) {
            (Some(token), Some(left)) if !left.is_zero() => {
                let left = left.min(MAX_LIFETIME);
                (Some(token.clone()), Instant::now() + left - margin(left))
            }
            _ => (None, Instant::now()),
        };
        Ok(Auth {
            http,
            path,
            live: tokio::sync::Mutex::new(Live {
                file,
                access,
                renew_at,
                generation: 0,
            }),
            refreshes: AtomicU32::new(0),
        })
    }

    /// Starts from a token file someone else wrote (the Python tool's `token.json`),
    /// checked first: its refresh token is used once, so a revoked or dead file is
    /// refused here, and `path` is written only once it proved good.
    pub async fn import(
        http: reqwest::Client,
        path: PathBuf,
        file: TokenFile,
    ) -> Result<Self, TokenError> {
        let auth = Auth {
            http,
            path,
            live: tokio::sync::Mutex::new(Live {
                file,
                access: None,
                renew_at: Instant::now(),
                generation: 0,
            }),
            refreshes: AtomicU32::new(0),
        };
        {
            let mut live = auth.live.lock().await;
            auth.refresh(&mut live).await?;
            live.file.write(&auth.path)?;
        }
        Ok(auth)
    }

    /// A valid access token, refreshed first if it is (about to be) expired.
    pub async fn bearer(&self) -> Result<Bearer, TokenError> {
        let mut live = self.live.lock().await;
        if let Some(token) = &live.access
            && Instant::now() < live.renew_at
        {
            return Ok(Bearer {
                token: token.clone(),
                generation: live.generation,
            });
        }
        self.refresh(&mut live).await
    }

    /// A server said `bearer` is no good (401): refresh, unless another task
    /// already did since that token was handed out.
    pub async fn rejected(&self, bearer: &Bearer) -> Result<Bearer, TokenError> {
        let mut live = self.live.lock().await;
        if live.generation != bearer.generation
            && let Some(token) = &live.access
        {
            return Ok(Bearer {
                token: token.clone(),
                generation: live.generation,
            });
        }
        self.refresh(&mut live).await
    }

    /// Whether the token handed out as `bearer` has (nearly) run out: a 403 on
    /// media may then be the token's fault rather than the URL's.
    pub async fn is_stale(&self, bearer: &Bearer) -> bool {
        let live = self.live.lock().await;
        live.generation == bearer.generation && Instant::now() >= live.renew_at
    }

    /// How many times the access token was refreshed in this run.
    pub fn refreshes(&self) -> u32 {
        self.refreshes.load(Ordering::Relaxed)
    }

    async fn refresh(&self, live: &mut Live) -> Result<Bearer, TokenError> {
        let answer = token_request(
            &self.http,
            &live.file.token_uri,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &live.file.refresh_token),
                ("client_id", &live.file.client_id),
                ("client_secret", &live.file.client_secret),
            ],
        )
        .await?;
        // Google's documented default when expires_in is missing: about an hour.
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600)).min(MAX_LIFETIME);
        live.access = Some(answer.access_token.clone());
        live.renew_at = Instant::now() + lifetime - margin(lifetime);
        live.generation += 1;
        live.file.token = Some(answer.access_token.clone());
        live.file.expiry = Some(expiry_after(lifetime.as_secs()).to_string());
        if let Some(rotated) = answer.refresh_token {
            live.file.refresh_token = rotated;
        }
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        tracing::debug!("access token refreshed");
        // The refreshed token is saved like google-auth does; a failure to save
        // costs one refresh next time, not this run.
        if let Err(err) = live.file.write(&self.path) {
            tracing::warn!("could not save the refreshed token: {err:#}");
        }
        Ok(Bearer {
            token: answer.access_token,
            generation: live.generation,
        })
    }
}

/// The longest an access token is trusted, whatever the server or the file says
/// (Google's live an hour; a wild `expires_in` must not overflow a clock).
const MAX_LIFETIME: Duration = Duration::from_secs(86_400);

/// How long before its expiry a token is renewed: a quarter of its life, at most a
/// minute (a call started just before expiry must not arrive just after it).
fn margin(lifetime: Duration) -> Duration {
    (lifetime / 4).min(Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc_7636_appendix_b() {
        let pkce = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        assert_eq!(
            pkce.challenge,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let fresh = Pkce::new();
        assert_eq!(fresh.verifier.len(), 43);
        assert_ne!(fresh.verifier, Pkce::new().verifier);
    }

    #[test]
    fn code_flow_url_asks_for_a_refresh_token_with_s256() {
        let pkce = Pkce::from_verifier("v".into());
        let url = code_flow_url(
            "https://accounts.google.com/o/oauth2/v2/auth",
            "id.apps.googleusercontent.com",
            "http://127.0.0.1:5555/",
            "st",
            &pkce,
        );
        let (base, query) = url.split_once('?').unwrap();
        assert_eq!(base, "https://accounts.google.com/o/oauth2/v2/auth");
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("response_type"), Some("code"));
        assert_eq!(get("redirect_uri"), Some("http://127.0.0.1:5555/"));
        assert_eq!(get("code_challenge_method"), Some("S256"));
        assert_eq!(get("code_challenge"), Some(pkce.challenge.as_str()));
        assert_eq!(get("access_type"), Some("offline"));
        assert_eq!(get("scope"), Some(picker::SCOPE));
        assert_eq!(get("state"), Some("st"));
    }

    #[test]
    fn redirects_are_read_only_with_our_state() {
        assert_eq!(
            read_redirect("/?code=4%2F0abc&state=s1&scope=x", "s1"),
            Redirect::Code("4/0abc".into())
        );
        assert_eq!(
            read_redirect("/?error=access_denied&state=s1", "s1"),
            Redirect::Denied("access_denied".into())
        );
        for ignored in [
            "/?code=c&state=other",
            "/?code=c",
            "/favicon.ico",
            "/?state=s1",
            "/?code=&state=s1",
        ] {
            assert_eq!(read_redirect(ignored, "s1"), Redirect::Ignored, "{ignored}");
        }
    }

    #[test]
    fn reads_the_python_tools_token_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.json");
        std::fs::write(
            &path,
            r#"{"token": "ya29.a0", "refresh_token": "1//0g", "token_uri": "https://oauth2.googleapis.com/token",
               "client_id": "1-x.apps.googleusercontent.com", "client_secret": "GOCSPX-s",
               "scopes": ["https://www.googleapis.com/auth/photospicker.mediaitems.readonly"],
               "universe_domain": "googleapis.com", "account": "", "expiry": "2025-05-01T12:34:56.789012Z"}"#,
        )
        .unwrap();
        let file = TokenFile::read(&path).unwrap();
        assert_eq!(file.refresh_token, "1//0g");
        assert_eq!(file.token_uri, picker::GOOGLE_TOKEN_URL);
        assert_eq!(
            file.expiry_time().unwrap().to_string(),
            "2025-05-01T12:34:56.789012Z"
        );
        // Written back, the Python tool's own fields survive.
        let copy = dir.path().join("copy.json");
        file.write(&copy).unwrap();
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&copy).unwrap()).unwrap();
        assert_eq!(written["universe_domain"], "googleapis.com");
        assert_eq!(written["client_secret"], "GOCSPX-s");
    }

    #[test]
    fn naive_expiry_and_string_scopes_are_accepted() {
        let file: TokenFile = serde_json::from_str(
            r#"{"refresh_token": "r", "client_id": "c", "client_secret": "s",
                "scopes": "openid https://www.googleapis.com/auth/photospicker.mediaitems.readonly",
                "expiry": "2025-05-01T12:34:56"}"#,
        )
        .unwrap();
        assert_eq!(file.scopes.len(), 2);
        assert_eq!(
            file.expiry_time().unwrap().to_string(),
            "2025-05-01T12:34:56Z"
        );
    }

    #[test]
    fn a_token_without_the_picker_scope_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.json");
        std::fs::write(
            &path,
            r#"{"refresh_token": "r", "client_id": "c", "client_secret": "s",
                "scopes": ["https://www.googleapis.com/auth/photoslibrary.readonly"]}"#,
        )
        .unwrap();
        let err = TokenFile::read(&path).unwrap_err();
        assert!(format!("{err:#}").contains("do not include"), "{err:#}");
    }

    #[cfg(unix)]
    #[test]
    fn token_files_are_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("token.json");
        let file: TokenFile = serde_json::from_str(
            r#"{"refresh_token": "r", "client_id": "c", "client_secret": "s"}"#,
        )
        .unwrap();
        file.write(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn client_secret_json_needs_the_installed_section() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client_secret.json");
        std::fs::write(
            &path,
            r#"{"installed":{"client_id":"1-x.apps.googleusercontent.com","project_id":"p",
                "auth_uri":"https://accounts.google.com/o/oauth2/auth","token_uri":"https://oauth2.googleapis.com/token",
                "client_secret":"GOCSPX-s","redirect_uris":["http://localhost"]}}"#,
        )
        .unwrap();
        let creds = read_client_secret(&path).unwrap();
        assert_eq!(creds.client_id, "1-x.apps.googleusercontent.com");
        assert_eq!(creds.client_secret, "GOCSPX-s");
        std::fs::write(&path, r#"{"web":{"client_id":"x","client_secret":"y"}}"#).unwrap();
        let err = read_client_secret(&path).unwrap_err();
        assert!(format!("{err:#}").contains("Desktop app"), "{err:#}");
    }

    #[test]
    fn margin_is_a_quarter_of_a_short_life_and_a_minute_of_a_long_one() {
        assert_eq!(margin(Duration::from_secs(4)), Duration::from_secs(1));
        assert_eq!(margin(Duration::from_secs(3599)), Duration::from_secs(60));
    }
}
