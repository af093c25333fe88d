//! The helper's front door: one tower layer that every request passes through.
//!
//! - **Host allow-list.** Only loopback names (`localhost`, `127.0.0.1`, `[::1]`,
//!   any port) and the configured server names are served; any other `Host` gets
//!   421, a missing or garbled one 400. A web page whose own domain is made to
//!   resolve to the helper (DNS rebinding) sends its own name as `Host`, so it is
//!   turned away before any handler runs.
//! - **Same-origin writes.** On `/api`, every method but GET, HEAD and OPTIONS
//!   must come from the app's own origin: `Origin`, when sent, must equal the
//!   request's own origin (or a configured trusted one, such as `trunk serve`'s),
//!   and `Sec-Fetch-Site`, when sent, must be `same-origin` or `none`. A request
//!   with neither header is not a browser's cross-site request (browsers send
//!   `Origin` on every cross-origin and every non-GET/HEAD fetch), so it passes on
//!   to the `X-Requested-With: keepsake` check, which stays in `routes`.
//! - **Security headers on every response**, rejections included: a CSP that
//!   fits the trunk-built app (its inline loader by hash, `'wasm-unsafe-eval'`,
//!   `connect-src` limited to self and the configured Google endpoints),
//!   `frame-ancestors 'none'`, `X-Frame-Options: DENY`, `nosniff`,
//!   `Referrer-Policy: no-referrer` and `Cross-Origin-Opener-Policy:
//!   same-origin-allow-popups`. A CSP a handler set itself (the media proxy's
//!   sandbox) is kept.
//!
//! Build a [`Guard`] once at start-up from a [`GuardConfig`] (that is where a bad
//! name is reported), then `router.layer(guard.layer())`.

use std::convert::Infallible;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Json;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures_util::future::BoxFuture;
use sha2::{Digest, Sha256};
use tower::{Layer, Service};

/// Where the emulator's pages live in demo mode.
const EMULATOR_PREFIX: &str = "/emulator/";

/// The loopback names always served. Browsers never let a web page claim them,
/// so they cannot be used for rebinding.
const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// What the guard is told at start-up.
#[derive(Debug, Clone, Default)]
pub struct GuardConfig {
    /// Names (or IP addresses) the server is reached by besides the loopback
    /// names, e.g. `photos.example.com` or `192.168.1.10`. Without a port: every
    /// port of an allowed name is allowed.
    pub server_names: Vec<String>,
    /// Whether this helper terminates TLS itself. Then an `Origin` must be
    /// `https`. Without it both schemes are accepted, because a reverse proxy in
    /// front may terminate TLS for a plain-http helper.
    pub tls: bool,
    /// Origins the app may `fetch` besides its own, such as
    /// `https://photospicker.googleapis.com` (the CSP's `connect-src`).
    pub connect_src: Vec<String>,
    /// Origins besides the request's own that may make state-changing `/api`
    /// calls, such as `trunk serve`'s `http://127.0.0.1:8081`, which proxies
    /// `/api` to the helper with the browser's `Origin` intact.
    pub trusted_origins: Vec<String>,
    /// CSP sources of the app's inline scripts, `'sha256-…'`: see
    /// [`index_script_hashes`].
    pub script_hashes: Vec<String>,
    /// Whether the emulator's pages are served under `/emulator/` (demo mode).
    /// They get their own, looser CSP; see [`Guard::new`].
    pub emulator_pages: bool,
}

/// The origins the app `fetch`es in Google mode, for [`GuardConfig::connect_src`]:
/// the Picker API and the OAuth revoke endpoint (sign-in itself is a navigation,
/// which `connect-src` does not govern). Derived from the `picker` crate's
/// endpoints, so the CSP follows them.
pub fn google_connect_src() -> Vec<String> {
    let mut origins: Vec<String> = [picker::GOOGLE_PICKER_API, picker::GOOGLE_REVOKE_URL]
        .iter()
        .filter_map(|endpoint| url::Url::parse(endpoint).ok())
        .map(|url| url.origin().ascii_serialization())
        .collect();
    origins.dedup();
    origins
}

/// A [`GuardConfig`] value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidGuardConfig {
    /// A server name is not a host name or IP address.
    #[error("invalid server name {0:?}: give a host name or IP address, without a port")]
    ServerName(String),
    /// An origin is not `scheme://host[:port]`.
    #[error(
        "invalid origin {0:?}: give scheme://host[:port], e.g. https://photospicker.googleapis.com"
    )]
    Origin(String),
    /// A script hash is not `'sha256-BASE64'`.
    #[error("invalid script hash {0:?}")]
    ScriptHash(String),
}

/// The validated guard, cheap to clone; [`Guard::layer`] puts it in front of a router.
#[derive(Debug, Clone)]
pub struct Guard(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// Normalised names (lowercase; IPv6 in brackets).
    server_names: Vec<String>,
    tls: bool,
    trusted_origins: Vec<Origin>,
    app_csp: HeaderValue,
    emulator_csp: Option<HeaderValue>,
}

/// The CSP of `/api` answers: JSON is never a document, so it may load nothing.
const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

impl Guard {
    /// Validates `config` and prepares the headers.
    ///
    /// The app's CSP: scripts only from this origin and the inline loader trunk
    /// writes into `index.html` (by hash), WebAssembly compilation
    /// (`'wasm-unsafe-eval'`, not `'unsafe-eval'`), `fetch` to self and the
    /// configured endpoints, images and media also from `blob:` (thumbnails and
    /// previews are object URLs of proxied bytes) and `data:`, no plugins, no
    /// `<base>`, forms only to self, no framing.
    ///
    /// The emulator's pages (demo mode only) are server-rendered HTML with
    /// inline `<style>`, `style=` attributes and small inline scripts, so they get
    /// `'unsafe-inline'` for those; they are the test stand-in for Google's pages,
    /// render no user-supplied markup, and exist only with `--demo`. Their consent
    /// form redirects to the app's registered redirect URI (maybe `trunk serve`'s
    /// origin), which `form-action` would block in Chromium, so it is left out.
    pub fn new(config: GuardConfig) -> Result<Self, InvalidGuardConfig> {
        let server_names = config
            .server_names
            .iter()
            .map(|name| match parse_authority(name) {
                Ok(RequestHost { name, port: None }) => Ok(name),
                _ => Err(InvalidGuardConfig::ServerName(name.clone())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let trusted_origins = config
            .trusted_origins
            .iter()
            .map(|origin| {
                Origin::parse(origin).ok_or_else(|| InvalidGuardConfig::Origin(origin.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let connect_src = config
            .connect_src
            .iter()
            .map(|origin| {
                Origin::parse(origin)
                    .map(|o| o.to_string())
                    .ok_or_else(|| InvalidGuardConfig::Origin(origin.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for hash in &config.script_hashes {
            if !is_script_hash(hash) {
                return Err(InvalidGuardConfig::ScriptHash(hash.clone()));
            }
        }

        let mut script_src = vec!["'self'", "'wasm-unsafe-eval'"];
        script_src.extend(config.script_hashes.iter().map(String::as_str));
        let mut connect = vec!["'self'"];
        connect.extend(connect_src.iter().map(String::as_str));
        let app_csp = format!(
            "default-src 'self'; script-src {}; style-src 'self'; img-src 'self' blob: data:; \
             media-src 'self' blob:; connect-src {}; object-src 'none'; base-uri 'none'; \
             form-action 'self'; frame-ancestors 'none'",
            script_src.join(" "),
            connect.join(" "),
        );
        let emulator_csp = config.emulator_pages.then_some(HeaderValue::from_static(
            "default-src 'self'; script-src 'self' 'unsafe-inline'; \
             style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; object-src 'none'; \
             base-uri 'none'; frame-ancestors 'none'",
        ));
        Ok(Guard(Arc::new(Inner {
            server_names,
            tls: config.tls,
            trusted_origins,
            // Every part was validated above: names, origins and hashes are plain ASCII.
            app_csp: HeaderValue::from_str(&app_csp)
                .map_err(|_| InvalidGuardConfig::Origin(connect.join(" ")))?,
            emulator_csp,
        })))
    }

    /// The tower layer that applies this guard to every request of a router.
    pub fn layer(&self) -> GuardLayer {
        GuardLayer {
            guard: self.clone(),
        }
    }

    /// The app's `Content-Security-Policy`, as sent.
    pub fn app_csp(&self) -> &str {
        // Built from ASCII in `new`.
        self.0.app_csp.to_str().unwrap_or_default()
    }

    /// Decides whether a request may reach the router: its `Host` and, for a
    /// state-changing `/api` call, its `Origin` and `Sec-Fetch-Site`.
    pub fn check(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<(), Rejection> {
        let host = request_host(uri, headers)?;
        let loopback = LOOPBACK_NAMES.contains(&host.name.as_str());
        if !loopback && !self.0.server_names.contains(&host.name) {
            return Err(Rejection::UnknownHost(host.name));
        }
        let state_changing = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        if state_changing && is_api(uri.path()) {
            self.check_same_origin(&host, headers)?;
        }
        Ok(())
    }

    fn check_same_origin(&self, host: &RequestHost, headers: &HeaderMap) -> Result<(), Rejection> {
        let mut fetch_sites = headers.get_all("sec-fetch-site").iter();
        if let Some(site) = fetch_sites.next()
            && (fetch_sites.next().is_some()
                || !matches!(site.as_bytes(), b"same-origin" | b"none"))
        {
            return Err(Rejection::CrossSite);
        }
        let mut origins = headers.get_all(header::ORIGIN).iter();
        let Some(origin) = origins.next() else {
            return Ok(());
        };
        if origins.next().is_some() {
            return Err(Rejection::CrossSite);
        }
        let origin = origin
            .to_str()
            .ok()
            .and_then(Origin::parse)
            .ok_or(Rejection::CrossSite)?;
        if self.0.trusted_origins.contains(&origin) {
            return Ok(());
        }
        let scheme_ok = origin.https || !self.0.tls;
        // A `Host` without a port means the default port of the scheme the
        // browser used, which is the one its `Origin` names.
        let default_port = if origin.https { 443 } else { 80 };
        let same = scheme_ok
            && origin.host == host.name
            && origin.port.unwrap_or(default_port) == host.port.unwrap_or(default_port);
        if same {
            Ok(())
        } else {
            Err(Rejection::CrossSite)
        }
    }

    /// Adds the security headers to a response for `path`, keeping any CSP (and
    /// other policy header) the handler already set.
    pub fn add_headers(&self, path: &str, headers: &mut HeaderMap) {
        let csp = if is_api(path) {
            HeaderValue::from_static(API_CSP)
        } else if path.starts_with(EMULATOR_PREFIX)
            && let Some(emulator) = &self.0.emulator_csp
        {
            emulator.clone()
        } else {
            self.0.app_csp.clone()
        };
        headers
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert(csp);
        for (name, value) in [
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
            (
                HeaderName::from_static("cross-origin-opener-policy"),
                "same-origin-allow-popups",
            ),
        ] {
            headers
                .entry(name)
                .or_insert(HeaderValue::from_static(value));
        }
    }
}

/// Why the guard turned a request away.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// No `Host` (nor request-target authority) at all.
    #[error("the request names no host")]
    MissingHost,
    /// `Host` is not a host name, IP address and port, or contradicts the
    /// request target, or is sent twice.
    #[error("the Host header is malformed")]
    BadHost,
    /// A well-formed host that this server does not answer for.
    #[error("this server does not answer for {0:?}")]
    UnknownHost(String),
    /// A state-changing `/api` call from another origin.
    #[error("cross-origin requests may not change anything here")]
    CrossSite,
}

impl Rejection {
    /// The HTTP status of this rejection.
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::MissingHost | Rejection::BadHost => StatusCode::BAD_REQUEST,
            Rejection::UnknownHost(_) => StatusCode::MISDIRECTED_REQUEST,
            Rejection::CrossSite => StatusCode::FORBIDDEN,
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        tracing::debug!(rejection = %self, "guard turned a request away");
        let status = self.status();
        let error = match &self {
            // The name is the client's own; don't reflect it into the body.
            Rejection::UnknownHost(_) => {
                "this server does not answer for that host name; add it with the server's configured names".to_owned()
            }
            other => other.to_string(),
        };
        (status, Json(api::ErrorBody { error, kind: None })).into_response()
    }
}

/// Applies a [`Guard`] to every request; see [`Guard::layer`].
#[derive(Debug, Clone)]
pub struct GuardLayer {
    guard: Guard,
}

impl<S> Layer<S> for GuardLayer {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GuardService {
            inner,
            guard: self.guard.clone(),
        }
    }
}

/// The service [`GuardLayer`] wraps around a router.
#[derive(Debug, Clone)]
pub struct GuardService<S> {
    inner: S,
    guard: Guard,
}

impl<S> Service<Request<Body>> for GuardService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The service that was polled ready is the one to call; leave a clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let guard = self.guard.clone();
        Box::pin(async move {
            let path = request.uri().path().to_owned();
            let mut response = match guard.check(request.method(), request.uri(), request.headers())
            {
                Ok(()) => inner.call(request).await?,
                Err(rejection) => rejection.into_response(),
            };
            guard.add_headers(&path, response.headers_mut());
            Ok(response)
        })
    }
}

fn is_api(path: &str) -> bool {
    path == api::routes::API_PREFIX
        || path
            .strip_prefix(api::routes::API_PREFIX)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// A request's host, normalised: lowercase name, IPv4 dotted, IPv6 in brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RequestHost {
    name: String,
    port: Option<u16>,
}

/// The host a request is for: its `Host` header, or the authority of an
/// absolute request target (HTTP/2's `:authority`). When both are present they
/// must agree, so a proxy and this guard cannot be told different hosts.
fn request_host(uri: &Uri, headers: &HeaderMap) -> Result<RequestHost, Rejection> {
    let mut values = headers.get_all(header::HOST).iter();
    let from_header = match values.next() {
        Some(value) => {
            if values.next().is_some() {
                return Err(Rejection::BadHost);
            }
            let text = value.to_str().map_err(|_| Rejection::BadHost)?;
            Some(parse_authority(text)?)
        }
        None => None,
    };
    let from_target = uri
        .authority()
        .map(|authority| parse_authority(authority.as_str()))
        .transpose()?;
    match (from_header, from_target) {
        (Some(header), Some(target)) if header != target => Err(Rejection::BadHost),
        (Some(host), _) | (None, Some(host)) => Ok(host),
        (None, None) => Err(Rejection::MissingHost),
    }
}

/// Parses `host[:port]` strictly: a DNS name of letters, digits, `-`, `_` and
/// inner dots, a dotted-quad IPv4 address, or a bracketed IPv6 address; an
/// optional decimal port. No user info, no trailing dot, no empty port.
fn parse_authority(text: &str) -> Result<RequestHost, Rejection> {
    let (name, port) = if let Some(rest) = text.strip_prefix('[') {
        let (address, after) = rest.split_once(']').ok_or(Rejection::BadHost)?;
        let address: Ipv6Addr = address.parse().map_err(|_| Rejection::BadHost)?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(Rejection::BadHost)?),
        };
        (format!("[{address}]"), port)
    } else {
        let (name, port) = match text.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (text, None),
        };
        (normalise_name(name)?, port)
    };
    let port = port
        .map(|digits| {
            if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(Rejection::BadHost);
            }
            digits.parse::<u16>().map_err(|_| Rejection::BadHost)
        })
        .transpose()?;
    Ok(RequestHost { name, port })
}

fn normalise_name(name: &str) -> Result<String, Rejection> {
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !valid {
        return Err(Rejection::BadHost);
    }
    // All-digit-and-dot names must be a canonical dotted quad, so `127.1` or
    // `2130706433` (which resolvers read as 127.0.0.1) are not names of their own.
    if name.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let ip: Ipv4Addr = name.parse().map_err(|_| Rejection::BadHost)?;
        return Ok(ip.to_string());
    }
    Ok(name.to_ascii_lowercase())
}

/// A web origin, `http(s)://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    https: bool,
    host: String,
    port: Option<u16>,
}

impl Origin {
    /// Parses an `Origin` header value; `null` and anything with a path, query or
    /// user info is not an origin. A default port is dropped, as browsers do.
    fn parse(text: &str) -> Option<Origin> {
        let (https, rest) = if let Some(rest) = text.strip_prefix("https://") {
            (true, rest)
        } else {
            (false, text.strip_prefix("http://")?)
        };
        let RequestHost { name, port } = parse_authority(rest).ok()?;
        let default = if https { 443 } else { 80 };
        Some(Origin {
            https,
            host: name,
            port: port.filter(|&p| p != default),
        })
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}", self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

fn is_script_hash(source: &str) -> bool {
    source
        .strip_prefix("'sha256-")
        .and_then(|rest| rest.strip_suffix('\''))
        .is_some_and(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .is_ok_and(|digest| digest.len() == 32)
        })
}

/// The CSP sources (`'sha256-…'`) of the inline scripts in `html`: every
/// `<script>` without a `src`. Trunk writes the app's loader inline into
/// `index.html`, with a content hash in its file names, so the hash changes with
/// every build and is computed from the file served rather than written down.
///
/// Line breaks are normalised to `\n` first, as the browser's HTML parser does
/// before it hashes a script.
pub fn inline_script_hashes(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut hashes = Vec::new();
    let mut from = 0;
    while let Some(found) = lower[from..].find("<script") {
        let tag_start = from + found;
        let after_name = tag_start + "<script".len();
        // `<scripts>` or `<script-x>` is another element.
        if !lower[after_name..].starts_with(|c: char| c == '>' || c.is_ascii_whitespace()) {
            from = after_name;
            continue;
        }
        let Some(tag_len) = lower[after_name..].find('>') else {
            break;
        };
        let body_start = after_name + tag_len + 1;
        let Some(body_len) = lower[body_start..].find("</script") else {
            break;
        };
        let attributes = &lower[after_name..body_start - 1];
        let has_src = attributes
            .split(|c: char| c.is_ascii_whitespace())
            .any(|attribute| attribute == "src" || attribute.starts_with("src="));
        if !has_src {
            let body = html[body_start..body_start + body_len]
                .replace("\r\n", "\n")
                .replace('\r', "\n");
            let digest = Sha256::digest(body.as_bytes());
            hashes.push(format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ));
        }
        from = body_start + body_len;
    }
    hashes
}

/// [`inline_script_hashes`] of `<dist>/index.html`, read once at start-up.
pub fn index_script_hashes(dist: &Path) -> std::io::Result<Vec<String>> {
    let html = std::fs::read_to_string(dist.join("index.html"))?;
    Ok(inline_script_hashes(&html))
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::routing::{get, put};
    use tower::ServiceExt;

    use super::*;

    /// trunk's `dist/index.html` (as built from this repository's `index.html`).
    const TRUNK_INDEX: &str = r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>Keepsake</title>
    
<script type="module">
import init, * as bindings from '/frontend-da60f35010ed2c5.js';
const wasm = await init({ module_or_path: '/frontend-da60f35010ed2c5_bg.wasm' });


window.wasmBindings = bindings;


dispatchEvent(new CustomEvent("TrunkApplicationStarted", {detail: {wasm}}));

</script>
    <link rel="stylesheet" href="/style-6365f4fd3a8c8705.css" integrity="sha384-qwjQLCxTqRauFvAMYdqdmO988/usKeiFpP6s0NmqnndRh4YrZV47VudhLrn+IT74"/>
  <link rel="modulepreload" href="/frontend-da60f35010ed2c5.js" crossorigin="anonymous" integrity="sha384-vAgpR16GNWm+xvCK13EXIK1BfEM9/H2xzlR+1P5A5rVNCyIYEXcQ2NNgmoTWC8Fg"></head>
  <body></body>
</html>"#;

    /// The loader's hash as Python's hashlib computed it from trunk's output.
    const TRUNK_LOADER_HASH: &str = "'sha256-FoNYadhaHJFh9TfZvQS6kz6BwGEz/XiuLC52w8rKQo8='";

    #[test]
    fn the_trunk_loader_is_hashed_as_the_browser_hashes_it() {
        assert_eq!(inline_script_hashes(TRUNK_INDEX), [TRUNK_LOADER_HASH]);
        // The same file with Windows line endings hashes the same.
        let crlf = TRUNK_INDEX.replace('\n', "\r\n");
        assert_eq!(inline_script_hashes(&crlf), [TRUNK_LOADER_HASH]);
    }

    #[test]
    fn scripts_with_src_and_lookalike_tags_are_not_hashed() {
        let html = "<SCRIPT src=/a.js></SCRIPT><scripts>x</scripts>\
                    <script\ttype=module>one</script><script data-src=x>two</script>";
        let expected: Vec<String> = ["one", "two"]
            .iter()
            .map(|body| {
                format!(
                    "'sha256-{}'",
                    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body))
                )
            })
            .collect();
        assert_eq!(inline_script_hashes(html), expected);
        assert!(inline_script_hashes("<script>unterminated").is_empty());
    }

    fn guard(config: GuardConfig) -> Guard {
        Guard::new(config).unwrap()
    }

    fn family_guard() -> Guard {
        guard(GuardConfig {
            server_names: vec!["Photos.Example.com".into(), "192.168.1.10".into()],
            tls: false,
            connect_src: vec![
                "https://photospicker.googleapis.com".into(),
                "https://oauth2.googleapis.com".into(),
            ],
            trusted_origins: vec!["http://127.0.0.1:8081".into()],
            script_hashes: vec![TRUNK_LOADER_HASH.into()],
            emulator_pages: true,
        })
    }

    /// A router with an app page, an API read and write, a handler that sets its
    /// own CSP, and an emulator page: each kind of answer the real router gives.
    fn app(guard: &Guard) -> Router {
        Router::new()
            .route("/", get(|| async { "<html>app</html>" }))
            .route("/api/history", get(|| async { "[]" }))
            .route("/api/batches/b/items/i", put(|| async { "saved" }))
            .route(
                "/api/media",
                get(|| async {
                    (
                        [(
                            header::CONTENT_SECURITY_POLICY,
                            "sandbox; default-src 'none'",
                        )],
                        "bytes",
                    )
                }),
            )
            .route("/emulator/o/oauth2/v2/auth", get(|| async { "<form>" }))
            .layer(guard.layer())
    }

    async fn send(app: &Router, request: Request<Body>) -> Response {
        app.clone().oneshot(request).await.unwrap()
    }

    fn get_with_host(path: &str, host: &str) -> Request<Body> {
        Request::get(path)
            .header(header::HOST, host)
            .body(Body::empty())
            .unwrap()
    }

    #[tokio::test]
    async fn dns_rebinding_hosts_are_turned_away_and_known_ones_served() {
        let app = app(&family_guard());
        for (host, expected) in [
            ("localhost", StatusCode::OK),
            ("localhost:8080", StatusCode::OK),
            ("LOCALHOST:8080", StatusCode::OK),
            ("127.0.0.1:8080", StatusCode::OK),
            ("[::1]:8080", StatusCode::OK),
            ("[0:0:0:0:0:0:0:1]:8080", StatusCode::OK),
            ("photos.example.com", StatusCode::OK),
            ("PHOTOS.example.com:443", StatusCode::OK),
            ("192.168.1.10:8080", StatusCode::OK),
            // A page at attacker.example whose DNS now answers 127.0.0.1.
            ("attacker.example:8080", StatusCode::MISDIRECTED_REQUEST),
            (
                "rebind.127.0.0.1.nip.io:8080",
                StatusCode::MISDIRECTED_REQUEST,
            ),
            (
                "7f000001.c0a8010a.rbndr.us:8080",
                StatusCode::MISDIRECTED_REQUEST,
            ),
            (
                "localhost.attacker.example",
                StatusCode::MISDIRECTED_REQUEST,
            ),
            (
                "photos.example.com.attacker.example",
                StatusCode::MISDIRECTED_REQUEST,
            ),
            ("127.0.0.2:8080", StatusCode::MISDIRECTED_REQUEST),
            ("0.0.0.0:8080", StatusCode::MISDIRECTED_REQUEST),
            ("192.168.1.11", StatusCode::MISDIRECTED_REQUEST),
            ("[::ffff:127.0.0.1]:8080", StatusCode::MISDIRECTED_REQUEST),
            ("sub.localhost:8080", StatusCode::MISDIRECTED_REQUEST),
            // Other spellings of loopback and of the server's names are garbled.
            ("2130706433:8080", StatusCode::BAD_REQUEST),
            ("127.1:8080", StatusCode::BAD_REQUEST),
            ("0x7f.0.0.1", StatusCode::MISDIRECTED_REQUEST),
            ("localhost.:8080", StatusCode::BAD_REQUEST),
            ("photos.example.com.", StatusCode::BAD_REQUEST),
            ("user@localhost:8080", StatusCode::BAD_REQUEST),
            ("localhost:", StatusCode::BAD_REQUEST),
            ("localhost:65536", StatusCode::BAD_REQUEST),
            ("localhost:80:80", StatusCode::BAD_REQUEST),
            ("localhost:+80", StatusCode::BAD_REQUEST),
            ("[::1", StatusCode::BAD_REQUEST),
            ("[::1]x", StatusCode::BAD_REQUEST),
            ("local host", StatusCode::BAD_REQUEST),
            ("", StatusCode::BAD_REQUEST),
            ("lоcalhost", StatusCode::BAD_REQUEST), // Cyrillic о
        ] {
            // Raw bytes: a non-ASCII name is a valid header value, not a valid host.
            let request = Request::get("/")
                .header(
                    header::HOST,
                    HeaderValue::from_bytes(host.as_bytes()).unwrap(),
                )
                .body(Body::empty())
                .unwrap();
            let response = send(&app, request).await;
            assert_eq!(response.status(), expected, "Host: {host:?}");
            // Rejections carry the security headers too.
            assert_eq!(
                response.headers()[header::X_CONTENT_TYPE_OPTIONS],
                "nosniff"
            );
        }
    }

    #[tokio::test]
    async fn a_request_without_a_host_or_with_two_or_a_contradicting_target_is_bad() {
        let app = app(&family_guard());
        let none = Request::get("/").body(Body::empty()).unwrap();
        assert_eq!(send(&app, none).await.status(), StatusCode::BAD_REQUEST);
        let two = Request::get("/")
            .header(header::HOST, "localhost")
            .header(header::HOST, "attacker.example")
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&app, two).await.status(), StatusCode::BAD_REQUEST);
        // An absolute request target names the host too (HTTP/1 proxies, HTTP/2).
        let contradicting = Request::get("http://attacker.example/")
            .header(header::HOST, "localhost")
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            send(&app, contradicting).await.status(),
            StatusCode::BAD_REQUEST
        );
        let http2 = Request::get("http://localhost:8080/")
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&app, http2).await.status(), StatusCode::OK);
        let http2_foreign = Request::get("http://attacker.example:8080/")
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            send(&app, http2_foreign).await.status(),
            StatusCode::MISDIRECTED_REQUEST
        );
    }

    fn put_from(host: &str, origin: Option<&str>, site: Option<&str>) -> Request<Body> {
        let mut request = Request::put("/api/batches/b/items/i").header(header::HOST, host);
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        request.body(Body::from("x")).unwrap()
    }

    #[tokio::test]
    async fn api_writes_must_come_from_the_same_origin() {
        let app = app(&family_guard());
        let ok = StatusCode::OK;
        let forbidden = StatusCode::FORBIDDEN;
        for (host, origin, site, expected) in [
            (
                "127.0.0.1:8080",
                Some("http://127.0.0.1:8080"),
                Some("same-origin"),
                ok,
            ),
            ("localhost:8080", Some("http://localhost:8080"), None, ok),
            (
                "photos.example.com",
                Some("http://photos.example.com"),
                None,
                ok,
            ),
            (
                "photos.example.com",
                Some("http://photos.example.com:80"),
                None,
                ok,
            ),
            // A TLS-terminating reverse proxy in front of a plain-http helper.
            (
                "photos.example.com",
                Some("https://photos.example.com"),
                None,
                ok,
            ),
            ("[::1]:8080", Some("http://[::1]:8080"), None, ok),
            // `trunk serve` proxies /api with the browser's Origin.
            (
                "127.0.0.1:8080",
                Some("http://127.0.0.1:8081"),
                Some("same-origin"),
                ok,
            ),
            // No Origin: a script or curl, not a browser's cross-site request.
            ("127.0.0.1:8080", None, None, ok),
            ("127.0.0.1:8080", None, Some("none"), ok),
            // Cross-site writes.
            (
                "127.0.0.1:8080",
                Some("http://attacker.example"),
                Some("cross-site"),
                forbidden,
            ),
            (
                "127.0.0.1:8080",
                Some("http://attacker.example"),
                None,
                forbidden,
            ),
            ("127.0.0.1:8080", None, Some("cross-site"), forbidden),
            ("127.0.0.1:8080", None, Some("same-site"), forbidden),
            (
                "127.0.0.1:8080",
                Some("http://127.0.0.1:8080"),
                Some("same-site"),
                forbidden,
            ),
            (
                "127.0.0.1:8080",
                Some("http://localhost:8080"),
                None,
                forbidden,
            ),
            (
                "127.0.0.1:8080",
                Some("http://127.0.0.1:9999"),
                None,
                forbidden,
            ),
            ("127.0.0.1:8080", Some("null"), None, forbidden),
            (
                "127.0.0.1:8080",
                Some("http://127.0.0.1:8080/"),
                None,
                forbidden,
            ),
            (
                "127.0.0.1:8080",
                Some("http://127.0.0.1:8080.attacker.example"),
                None,
                forbidden,
            ),
            ("127.0.0.1:8080", Some("file://"), None, forbidden),
            (
                "photos.example.com",
                Some("http://photos.example.com:8080"),
                None,
                forbidden,
            ),
            (
                "photos.example.com",
                Some("https://evil.photos.example.com"),
                None,
                forbidden,
            ),
        ] {
            let response = send(&app, put_from(host, origin, site)).await;
            assert_eq!(
                response.status(),
                expected,
                "Host {host}, Origin {origin:?}, Sec-Fetch-Site {site:?}"
            );
        }
        // Reads are not write-checked: the Host check alone protects them.
        let read = Request::get("/api/history")
            .header(header::HOST, "127.0.0.1:8080")
            .header(header::ORIGIN, "http://attacker.example")
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&app, read).await.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn with_tls_an_api_write_needs_an_https_origin() {
        let app = app(&guard(GuardConfig {
            server_names: vec!["photos.example.com".into()],
            tls: true,
            ..GuardConfig::default()
        }));
        let https = put_from(
            "photos.example.com",
            Some("https://photos.example.com"),
            None,
        );
        assert_eq!(send(&app, https).await.status(), StatusCode::OK);
        let http = put_from(
            "photos.example.com",
            Some("http://photos.example.com"),
            None,
        );
        assert_eq!(send(&app, http).await.status(), StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn every_answer_carries_the_security_headers_and_a_fitting_csp() {
        let guard = family_guard();
        let app = app(&guard);
        let page = send(&app, get_with_host("/", "localhost:8080")).await;
        let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(
            csp.contains(&format!(
                "script-src 'self' 'wasm-unsafe-eval' {TRUNK_LOADER_HASH};"
            )),
            "{csp}"
        );
        assert!(
            csp.contains(
                "connect-src 'self' https://photospicker.googleapis.com https://oauth2.googleapis.com;"
            ),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        for (name, value) in [
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "no-referrer"),
            ("cross-origin-opener-policy", "same-origin-allow-popups"),
        ] {
            assert_eq!(page.headers()[name], value, "{name}");
        }

        let media = send(&app, get_with_host("/api/media", "localhost")).await;
        let csps: Vec<_> = media
            .headers()
            .get_all(header::CONTENT_SECURITY_POLICY)
            .iter()
            .collect();
        assert_eq!(
            csps,
            ["sandbox; default-src 'none'"],
            "the handler's CSP stays alone"
        );

        let json = send(&app, get_with_host("/api/history", "localhost")).await;
        assert_eq!(json.headers()[header::CONTENT_SECURITY_POLICY], API_CSP);

        let emulator = send(
            &app,
            get_with_host("/emulator/o/oauth2/v2/auth", "localhost"),
        )
        .await;
        let csp = emulator.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("style-src 'self' 'unsafe-inline'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");

        let missing = send(&app, get_with_host("/nope", "localhost")).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            missing.headers()[header::CONTENT_SECURITY_POLICY],
            guard.app_csp()
        );
    }

    #[tokio::test]
    async fn without_demo_pages_the_emulator_prefix_gets_the_app_csp() {
        let guard = guard(GuardConfig::default());
        let app = app(&guard);
        let response = send(
            &app,
            get_with_host("/emulator/o/oauth2/v2/auth", "localhost"),
        )
        .await;
        assert_eq!(
            response.headers()[header::CONTENT_SECURITY_POLICY],
            guard.app_csp()
        );
    }

    #[test]
    fn google_connect_src_names_the_picker_api_and_oauth_origins() {
        assert_eq!(
            google_connect_src(),
            [
                "https://photospicker.googleapis.com",
                "https://oauth2.googleapis.com"
            ]
        );
        let guard = guard(GuardConfig {
            connect_src: google_connect_src(),
            ..GuardConfig::default()
        });
        assert!(guard.app_csp().contains(
            "connect-src 'self' https://photospicker.googleapis.com https://oauth2.googleapis.com;"
        ));
    }

    #[test]
    fn bad_configuration_is_refused_at_start_up() {
        for (config, expected) in [
            (
                GuardConfig {
                    server_names: vec!["photos.example.com:8443".into()],
                    ..GuardConfig::default()
                },
                InvalidGuardConfig::ServerName("photos.example.com:8443".into()),
            ),
            (
                GuardConfig {
                    server_names: vec!["https://photos.example.com".into()],
                    ..GuardConfig::default()
                },
                InvalidGuardConfig::ServerName("https://photos.example.com".into()),
            ),
            (
                GuardConfig {
                    connect_src: vec!["https://x.example; script-src *".into()],
                    ..GuardConfig::default()
                },
                InvalidGuardConfig::Origin("https://x.example; script-src *".into()),
            ),
            (
                GuardConfig {
                    connect_src: vec!["https://x.example/path".into()],
                    ..GuardConfig::default()
                },
                InvalidGuardConfig::Origin("https://x.example/path".into()),
            ),
            (
                GuardConfig {
                    trusted_origins: vec!["*".into()],
                    ..GuardConfig::default()
                },
                InvalidGuardConfig::Origin("*".into()),
            ),
            (
                GuardConfig {
                    script_hashes: vec!["'unsafe-inline'".into()],
                    ..GuardConfig::default()
                },
                InvalidGuardConfig::ScriptHash("'unsafe-inline'".into()),
            ),
        ] {
            assert_eq!(Guard::new(config).unwrap_err(), expected);
        }
        // The server's IPv6 address is a server name like any other.
        let v6 = guard(GuardConfig {
            server_names: vec!["[FD00::10]".into()],
            ..GuardConfig::default()
        });
        assert!(
            v6.check(&Method::GET, &Uri::from_static("/"), &{
                let mut headers = HeaderMap::new();
                headers.insert(header::HOST, HeaderValue::from_static("[fd00::10]:8080"));
                headers
            })
            .is_ok()
        );
    }
}
