//! Contract tests of the Google emulator: plain HTTP (reqwest) against the emulator
//! started on port 0, checking every rule of PICKER-API.md it implements — OAuth,
//! the four Picker API calls and their errors, the picker page, media bytes and
//! the fault knobs. No client code is used: requests are built by hand and answers
//! read as raw JSON, the way a client written only from PICKER-API.md would.
//!
//! Run: `cargo test -p keepsake-tests --test emulator_contract`.

// A test binary: helpers unwrap too, a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use helper::emulator::{Emulator, EmulatorConfig, FaultConfig};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

const SCOPE: &str = "https://www.googleapis.com/auth/photospicker.mediaitems.readonly";
const MARIA: &str = "maria.rivera@example.com";
const TOMAS: &str = "tomas.rivera@example.com";

// ---------------------------------------------------------------------------
// Support: a running emulator and the steps a client takes.

struct Emu {
    origin: String,
    emulator: Emulator,
    http: reqwest::Client,
}

/// Defaults that keep tests quick: no large videos unless a test asks.
fn config() -> EmulatorConfig {
    EmulatorConfig {
        large_file_count: 0,
        ..EmulatorConfig::default()
    }
}

async fn start(config: EmulatorConfig) -> Emu {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let emulator = Emulator::new(config).expect("valid config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let router = emulator.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Emu {
        origin,
        emulator,
        http,
    }
}

fn query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().copied())
        .finish()
}

fn parse_pairs(s: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(s.as_bytes())
        .into_owned()
        .collect()
}

fn get_pair<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Values of `attr="…"` on elements carrying `marker` (a tiny HTML scraper: the
/// emulator's pages are server-rendered with one element per line of interest).
fn attr_values(html: &str, marker: &str, attr: &str) -> Vec<String> {
    html.split(marker)
        .skip(1)
        .filter_map(|rest| {
            let tag_end = rest.find('>').unwrap_or(rest.len());
            let tag = &rest[..tag_end];
            let key = format!("{attr}=\"");
            let start = tag.find(&key)? + key.len();
            let len = tag[start..].find('"')?;
            Some(tag[start..start + len].to_owned())
        })
        .collect()
}

fn consent_id(html: &str) -> String {
    attr_values(html, "name=\"consent\"", "value")
        .into_iter()
        .next()
        .expect("consent page carries its id")
}

impl Emu {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    fn api(&self, path: &str) -> String {
        format!("{}/emulator/picker/v1{path}", self.origin)
    }

    fn redirect_uri(&self) -> String {
        format!("{}/", self.origin)
    }

    async fn authorize(&self, params: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .get(format!(
                "{}?{}",
                self.url("/emulator/o/oauth2/v2/auth"),
                query(params)
            ))
            .send()
            .await
            .unwrap()
    }

    /// The consent page for the standard token flow.
    async fn consent_page(&self, state: &str, extra: &[(&str, &str)]) -> String {
        let redirect = self.redirect_uri();
        let client_id = self.emulator.config().client_id.clone();
        let mut params = vec![
            ("client_id", client_id.as_str()),
            ("redirect_uri", redirect.as_str()),
            ("response_type", "token"),
            ("scope", SCOPE),
            ("state", state),
        ];
        params.extend_from_slice(extra);
        let res = self.authorize(&params).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.text().await.unwrap()
    }

    /// Answers a consent page; returns the redirect's `Location`.
    async fn answer_consent(&self, page: &str, email: &str, action: &str) -> String {
        let emails = attr_values(page, "data-testid=\"consent-account\"", "data-email");
        let index = emails
            .iter()
            .position(|e| e == email)
            .expect("account listed");
        let res = self
            .http
            .post(self.url("/emulator/o/oauth2/v2/auth/consent"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(query(&[
                ("consent", &consent_id(page)),
                ("account", &index.to_string()),
                ("action", action),
            ]))
            .send()
            .await
            .unwrap();
        assert!(
            res.status().is_redirection(),
            "consent answers with a redirect, got {}",
            res.status()
        );
        res.headers()["location"].to_str().unwrap().to_owned()
    }

    /// Signs in through the consent page; returns the access token.
    async fn sign_in(&self, email: &str) -> String {
        let page = self.consent_page("st", &[]).await;
        let location = self.answer_consent(&page, email, "allow").await;
        let fragment = location.split_once('#').expect("answer in fragment").1;
        get_pair(&parse_pairs(fragment), "access_token")
            .unwrap()
            .to_owned()
    }

    async fn create(&self, token: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.api("/sessions"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn create_ok(&self, token: &str, body: Value) -> Value {
        let res = self.create(token, body).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }

    async fn get_session(&self, token: &str, id: &str) -> reqwest::Response {
        self.http
            .get(self.api(&format!("/sessions/{id}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    async fn list(&self, token: &str, params: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .get(format!("{}?{}", self.api("/mediaItems"), query(params)))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// The picker page's item ids.
    async fn picker_items(&self, picker_uri: &str) -> Vec<String> {
        let res = self.http.get(picker_uri).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let html = res.text().await.unwrap();
        assert!(html.contains("data-testid=\"picker-done\""));
        attr_values(&html, "data-testid=\"picker-item\"", "data-item-id")
    }

    /// Ticks `ids` on the picker page and presses Done.
    async fn done(&self, picker_uri: &str, ids: &[String]) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = ids.iter().map(|i| ("item", i.as_str())).collect();
        form.push(("autoclose", "0"));
        self.http
            .post(format!("{picker_uri}/done"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(query(&form))
            .send()
            .await
            .unwrap()
    }

    /// Creates a session and picks the first `n` items (all when `None`).
    async fn picked_session(&self, token: &str, n: Option<usize>) -> (String, Vec<String>) {
        let session = self.create_ok(token, json!({})).await;
        let uri = session["pickerUri"].as_str().unwrap().to_owned();
        let mut ids = self.picker_items(&uri).await;
        if let Some(n) = n {
            ids.truncate(n);
        }
        let res = self.done(&uri, &ids).await;
        assert_eq!(res.status(), StatusCode::OK);
        (session["id"].as_str().unwrap().to_owned(), ids)
    }

    /// Every page of a session's listing.
    async fn list_all(&self, token: &str, session: &str, page_size: Option<&str>) -> Vec<Value> {
        let mut items = Vec::new();
        let mut page_token: Option<String> = None;
        for _ in 0..1000 {
            let mut params = vec![("sessionId", session)];
            if let Some(size) = page_size {
                params.push(("pageSize", size));
            }
            if let Some(t) = &page_token {
                params.push(("pageToken", t));
            }
            let res = self.list(token, &params).await;
            assert_eq!(res.status(), StatusCode::OK);
            let page: Value = res.json().await.unwrap();
            if let Some(batch) = page["mediaItems"].as_array() {
                items.extend(batch.iter().cloned());
            }
            match page["nextPageToken"].as_str() {
                Some(t) => page_token = Some(t.to_owned()),
                None => return items,
            }
        }
        panic!("listing never ended");
    }
}

async fn assert_google_error(res: reqwest::Response, code: u16, status: &str) -> Value {
    assert_eq!(res.status().as_u16(), code, "HTTP status");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "errors are JSON"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], json!(code), "{body}");
    assert_eq!(body["error"]["status"], json!(status), "{body}");
    assert!(
        !body["error"]["message"].as_str().unwrap().is_empty(),
        "{body}"
    );
    body
}

fn duration_secs(v: &Value) -> f64 {
    let s = v.as_str().expect("durations are strings");
    let number = s.strip_suffix('s').expect("durations end in s");
    let (_, fraction) = number.split_once('.').unwrap_or((number, ""));
    assert!(fraction.len() <= 9, "at most 9 fraction digits: {s}");
    number.parse().expect("decimal seconds")
}

// ---------------------------------------------------------------------------
// OAuth

#[tokio::test]
async fn token_flow_redirects_with_googles_fragment() {
    let emu = start(config()).await;
    let page = emu.consent_page("xyz=1&2", &[]).await;
    let location = emu.answer_consent(&page, MARIA, "allow").await;
    let (target, fragment) = location.split_once('#').unwrap();
    assert_eq!(target, emu.redirect_uri());
    let pairs = parse_pairs(fragment);
    assert!(
        get_pair(&pairs, "access_token")
            .unwrap()
            .starts_with("ya29.")
    );
    assert_eq!(get_pair(&pairs, "token_type"), Some("Bearer"));
    assert_eq!(get_pair(&pairs, "expires_in"), Some("3599"));
    assert_eq!(get_pair(&pairs, "scope"), Some(SCOPE));
    assert_eq!(get_pair(&pairs, "state"), Some("xyz=1&2"));
}

#[tokio::test]
async fn consent_page_shows_the_family_with_test_ids() {
    let emu = start(config()).await;
    let page = emu.consent_page("s", &[]).await;
    let emails = attr_values(&page, "data-testid=\"consent-account\"", "data-email");
    assert!(emails.len() >= 3, "a family: {emails:?}");
    assert!(emails.contains(&MARIA.to_owned()) && emails.contains(&TOMAS.to_owned()));
    assert!(page.contains("data-testid=\"consent-allow\""));
    assert!(page.contains("data-testid=\"consent-cancel\""));
    // login_hint preselects that account.
    let hinted = emu.consent_page("s", &[("login_hint", TOMAS)]).await;
    let checked = hinted
        .split("data-testid=\"consent-account\"")
        .skip(1)
        .find(|chunk| chunk[..chunk.find("</label>").unwrap()].contains(" checked"))
        .unwrap();
    assert!(checked.contains(TOMAS));
}

#[tokio::test]
async fn cancel_redirects_with_access_denied_and_state() {
    let emu = start(config()).await;
    let page = emu.consent_page("keep-me", &[]).await;
    let location = emu.answer_consent(&page, MARIA, "cancel").await;
    let pairs = parse_pairs(location.split_once('#').unwrap().1);
    assert_eq!(get_pair(&pairs, "error"), Some("access_denied"));
    assert_eq!(get_pair(&pairs, "state"), Some("keep-me"));
    assert_eq!(get_pair(&pairs, "access_token"), None);
}

#[tokio::test]
async fn a_consent_cannot_be_answered_twice() {
    let emu = start(config()).await;
    let page = emu.consent_page("s", &[]).await;
    emu.answer_consent(&page, MARIA, "allow").await;
    let res = emu
        .http
        .post(emu.url("/emulator/o/oauth2/v2/auth/consent"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query(&[
            ("consent", &consent_id(&page)),
            ("account", "0"),
            ("action", "allow"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn authorization_errors_are_googles_pages() {
    let emu = start(EmulatorConfig {
        redirect_uris: vec!["http://localhost:9999/callback".to_owned()],
        ..config()
    })
    .await;
    let client = emu.emulator.config().client_id.clone();
    let good_redirect = emu.redirect_uri();
    let no_slash = emu.origin.clone();
    // (query, HTTP status, OAuth error code)
    type Case<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            vec![
                ("client_id", "nobody.apps.googleusercontent.com"),
                ("redirect_uri", &good_redirect),
                ("response_type", "token"),
                ("scope", SCOPE),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![
                ("redirect_uri", &good_redirect),
                ("response_type", "token"),
                ("scope", SCOPE),
            ],
            400,
            "invalid_request",
        ),
        // Registered exactly: no trailing slash is another URI.
        (
            vec![
                ("client_id", &client),
                ("redirect_uri", &no_slash),
                ("response_type", "token"),
                ("scope", SCOPE),
            ],
            400,
            "redirect_uri_mismatch",
        ),
        (
            vec![
                ("client_id", &client),
                ("redirect_uri", "http://localhost:9999/other"),
                ("response_type", "token"),
                ("scope", SCOPE),
            ],
            400,
            "redirect_uri_mismatch",
        ),
        (
            vec![
                ("client_id", &client),
                ("redirect_uri", &good_redirect),
                ("response_type", "token"),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("client_id", &client),
                ("redirect_uri", &good_redirect),
                ("response_type", "token"),
                ("scope", "https://www.googleapis.com/auth/photoslibrary"),
            ],
            400,
            "invalid_scope",
        ),
        (
            vec![
                ("client_id", &client),
                ("redirect_uri", &good_redirect),
                ("response_type", "id_token_plus"),
                ("scope", SCOPE),
            ],
            400,
            "unsupported_response_type",
        ),
        (
            vec![
                ("client_id", &client),
                ("redirect_uri", &good_redirect),
                ("response_type", "token"),
                ("scope", SCOPE),
                ("colour", "blue"),
            ],
            400,
            "invalid_request",
        ),
    ];
    for (params, code, error) in cases {
        let res = emu.authorize(&params).await;
        assert_eq!(res.status().as_u16(), code, "{params:?}");
        let html = res.text().await.unwrap();
        assert!(
            html.contains(&format!("data-error=\"{error}\"")),
            "{params:?} → {html}"
        );
        assert!(!html.contains("consent-allow"));
    }
    // The configured extra redirect URI is accepted exactly.
    let res = emu
        .authorize(&[
            ("client_id", &client),
            ("redirect_uri", "http://localhost:9999/callback"),
            ("response_type", "token"),
            ("scope", SCOPE),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn prompt_none_answers_interaction_required() {
    let emu = start(config()).await;
    let client = emu.emulator.config().client_id.clone();
    let redirect = emu.redirect_uri();
    let res = emu
        .authorize(&[
            ("client_id", &client),
            ("redirect_uri", &redirect),
            ("response_type", "token"),
            ("scope", SCOPE),
            ("state", "s1"),
            ("prompt", "none"),
        ])
        .await;
    assert!(res.status().is_redirection());
    let location = res.headers()["location"].to_str().unwrap();
    let pairs = parse_pairs(location.split_once('#').unwrap().1);
    assert_eq!(get_pair(&pairs, "error"), Some("interaction_required"));
    assert_eq!(get_pair(&pairs, "state"), Some("s1"));
}

#[tokio::test]
async fn tokens_expire_after_their_lifetime() {
    let emu = start(EmulatorConfig {
        token_lifetime: Duration::from_secs(120),
        ..config()
    })
    .await;
    let page = emu.consent_page("s", &[]).await;
    let location = emu.answer_consent(&page, MARIA, "allow").await;
    let pairs = parse_pairs(location.split_once('#').unwrap().1);
    assert_eq!(get_pair(&pairs, "expires_in"), Some("119"));
    let token = get_pair(&pairs, "access_token").unwrap().to_owned();
    emu.create_ok(&token, json!({})).await;
    emu.emulator.advance_clock(Duration::from_secs(121));
    let res = emu.create(&token, json!({})).await;
    assert!(res.headers().contains_key("www-authenticate"));
    assert_google_error(res, 401, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn revoke_ends_the_token() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let res = emu
        .http
        .post(format!(
            "{}?{}",
            emu.url("/emulator/revoke"),
            query(&[("token", &token)])
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = emu.create(&token, json!({})).await;
    assert_google_error(res, 401, "UNAUTHENTICATED").await;
    let again = emu
        .http
        .post(emu.url("/emulator/revoke"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query(&[("token", &token)]))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
}

#[tokio::test]
async fn code_flow_with_pkce_and_refresh() {
    let emu = start(config()).await;
    let config = emu.emulator.config().clone();
    // RFC 7636 appendix B pair.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    // Installed apps may use any loopback port.
    let redirect = "http://127.0.0.1:53682/";
    let res = emu
        .authorize(&[
            ("client_id", &config.client_id),
            ("redirect_uri", redirect),
            ("response_type", "code"),
            ("scope", SCOPE),
            ("state", "c1"),
            ("access_type", "offline"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    let location = emu.answer_consent(&page, MARIA, "allow").await;
    let (target, q) = location.split_once('?').unwrap();
    assert_eq!(target, redirect.trim_end_matches('/').to_owned() + "/");
    let pairs = parse_pairs(q);
    assert_eq!(get_pair(&pairs, "state"), Some("c1"));
    let code = get_pair(&pairs, "code").unwrap().to_owned();

    let exchange = |verifier: &str, code: &str| {
        emu.http
            .post(emu.url("/emulator/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(query(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect),
                ("client_id", &config.client_id),
                ("client_secret", &config.client_secret),
                ("code_verifier", verifier),
            ]))
            .send()
    };
    // A wrong verifier burns the code (single use), as Google does.
    let bad = exchange("wrong-verifier", &code).await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(bad.json::<Value>().await.unwrap()["error"], "invalid_grant");

    let page = emu
        .authorize(&[
            ("client_id", &config.client_id),
            ("redirect_uri", redirect),
            ("response_type", "code"),
            ("scope", SCOPE),
            ("access_type", "offline"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ])
        .await
        .text()
        .await
        .unwrap();
    let location = emu.answer_consent(&page, MARIA, "allow").await;
    let code = get_pair(&parse_pairs(location.split_once('?').unwrap().1), "code")
        .unwrap()
        .to_owned();
    let good = exchange(verifier, &code).await.unwrap();
    assert_eq!(good.status(), StatusCode::OK);
    let grant: Value = good.json().await.unwrap();
    assert_eq!(grant["token_type"], "Bearer");
    assert_eq!(grant["expires_in"], 3599);
    let access = grant["access_token"].as_str().unwrap();
    emu.create_ok(access, json!({})).await;
    let refresh = grant["refresh_token"].as_str().unwrap();
    let refreshed: Value = emu
        .http
        .post(emu.url("/emulator/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", &config.client_id),
            ("client_secret", &config.client_secret),
        ]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(refreshed["access_token"].as_str().is_some());
    // Google demands the client secret even with PKCE.
    let no_secret = emu
        .http
        .post(emu.url("/emulator/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", &config.client_id),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(no_secret.status(), StatusCode::BAD_REQUEST);
}

// ---------------------------------------------------------------------------
// Picker API: authentication and CORS

#[tokio::test]
async fn api_calls_need_a_valid_bearer_token() {
    let emu = start(config()).await;
    let res = emu
        .http
        .post(emu.api("/sessions"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("www-authenticate"));
    assert_google_error(res, 401, "UNAUTHENTICATED").await;
    for call in [
        emu.http.get(emu.api("/sessions/abc")),
        emu.http.delete(emu.api("/sessions/abc")),
        emu.http.get(emu.api("/mediaItems?sessionId=abc")),
    ] {
        let res = call.bearer_auth("ya29.not-a-token").send().await.unwrap();
        assert_google_error(res, 401, "UNAUTHENTICATED").await;
    }
    let res = emu
        .http
        .get(emu.api("/sessions/abc"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_google_error(res, 401, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn a_token_without_the_picker_scope_is_permission_denied() {
    let emu = start(config()).await;
    let client = emu.emulator.config().client_id.clone();
    let redirect = emu.redirect_uri();
    let page = emu
        .authorize(&[
            ("client_id", &client),
            ("redirect_uri", &redirect),
            ("response_type", "token"),
            ("scope", "openid email"),
        ])
        .await
        .text()
        .await
        .unwrap();
    let location = emu.answer_consent(&page, MARIA, "allow").await;
    let pairs = parse_pairs(location.split_once('#').unwrap().1);
    assert_eq!(get_pair(&pairs, "scope"), Some("openid email"));
    let res = emu
        .create(get_pair(&pairs, "access_token").unwrap(), json!({}))
        .await;
    assert_google_error(res, 403, "PERMISSION_DENIED").await;
}

#[tokio::test]
async fn json_endpoints_answer_cors_like_google() {
    let emu = start(config()).await;
    let origin = "http://localhost:5173";
    let preflight = emu
        .http
        .request(reqwest::Method::OPTIONS, emu.api("/sessions"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::OK);
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], origin);
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert_eq!(
        h["access-control-allow-headers"],
        "authorization,content-type"
    );
    // Errors carry the header too, so a browser can read the status.
    let res = emu
        .http
        .get(emu.api("/sessions/x"))
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], origin);
    assert_google_error(res, 401, "UNAUTHENTICATED").await;
    let token = emu.sign_in(MARIA).await;
    let res = emu
        .http
        .post(emu.api("/sessions"))
        .header("origin", origin)
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["access-control-allow-origin"], origin);
}

// ---------------------------------------------------------------------------
// sessions.create / get / delete

#[tokio::test]
async fn created_session_has_the_documented_shape() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let before = jiff::Timestamp::now();
    let s = emu.create_ok(&token, json!({})).await;
    let obj = s.as_object().unwrap();
    for key in [
        "id",
        "pickerUri",
        "pollingConfig",
        "expireTime",
        "pickingConfig",
        "mediaItemsSet",
    ] {
        assert!(obj.contains_key(key), "{key} missing in {s}");
    }
    assert!(
        s["pickerUri"]
            .as_str()
            .unwrap()
            .starts_with(&emu.url("/emulator/picker-ui/"))
    );
    assert_eq!(s["mediaItemsSet"], json!(false));
    // int64 as a JSON string, default 2000.
    assert_eq!(s["pickingConfig"]["maxItemCount"], json!("2000"));
    assert_eq!(duration_secs(&s["pollingConfig"]["pollInterval"]), 1.5);
    let timeout = duration_secs(&s["pollingConfig"]["timeoutIn"]);
    assert!(timeout > 1790.0 && timeout <= 1800.0, "{timeout}");
    let expire: jiff::Timestamp = s["expireTime"].as_str().unwrap().parse().unwrap();
    let lifetime = expire.duration_since(before).as_secs();
    assert!((3590..=3610).contains(&lifetime), "{lifetime}");
    // sessions.get answers the same session.
    let got: Value = emu
        .get_session(&token, s["id"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["id"], s["id"]);
    assert_eq!(got["pickerUri"], s["pickerUri"]);
}

#[tokio::test]
async fn create_accepts_an_empty_body_and_max_item_count_as_string_or_number() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let res = emu
        .http
        .post(emu.api("/sessions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let s = emu
        .create_ok(&token, json!({"pickingConfig": {"maxItemCount": "7"}}))
        .await;
    assert_eq!(s["pickingConfig"]["maxItemCount"], json!("7"));
    let s = emu
        .create_ok(&token, json!({"pickingConfig": {"maxItemCount": 9}}))
        .await;
    assert_eq!(s["pickingConfig"]["maxItemCount"], json!("9"));
}

#[tokio::test]
async fn create_rejects_bad_bodies_with_invalid_argument() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    for body in [
        json!({"pickingConfig": {"maxItemCount": "-1"}}),
        json!({"pickingConfig": {"maxItemCount": "2001"}}),
        json!({"pickingConfig": {"maxItemCount": "lots"}}),
        json!({"pickingConfig": {"colour": 1}}),
        json!({"colour": "blue"}),
        json!([1, 2]),
    ] {
        let res = emu.create(&token, body.clone()).await;
        assert_google_error(res, 400, "INVALID_ARGUMENT").await;
    }
    let res = emu
        .http
        .post(emu.api("/sessions"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_google_error(res, 400, "INVALID_ARGUMENT").await;
}

#[tokio::test]
async fn request_id_must_be_a_uuid_v4_and_makes_create_idempotent() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    for bad in [
        "abc",
        "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
        "3f2504e04f8941d39a0c0305e82c3301",
    ] {
        let res = emu
            .http
            .post(format!(
                "{}?{}",
                emu.api("/sessions"),
                query(&[("requestId", bad)])
            ))
            .bearer_auth(&token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_google_error(res, 400, "INVALID_ARGUMENT").await;
    }
    let good = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
    let url = format!("{}?requestId={good}", emu.api("/sessions"));
    let first: Value = emu
        .http
        .post(&url)
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second: Value = emu
        .http
        .post(&url)
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["id"], second["id"]);
}

#[tokio::test]
async fn unknown_query_parameters_are_invalid_argument() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let res = emu
        .http
        .post(format!("{}?colour=blue", emu.api("/sessions")))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_google_error(res, 400, "INVALID_ARGUMENT").await;
    let res = emu
        .list(&token, &[("sessionId", "x"), ("page_size", "5")])
        .await;
    assert_google_error(res, 400, "INVALID_ARGUMENT").await;
}

#[tokio::test]
async fn too_many_open_sessions_is_resource_exhausted() {
    let emu = start(EmulatorConfig {
        max_open_sessions: 2,
        ..config()
    })
    .await;
    let token = emu.sign_in(MARIA).await;
    let first = emu.create_ok(&token, json!({})).await;
    emu.create_ok(&token, json!({})).await;
    let res = emu.create(&token, json!({})).await;
    assert_google_error(res, 429, "RESOURCE_EXHAUSTED").await;
    // Another account has its own allowance.
    let other = emu.sign_in(TOMAS).await;
    emu.create_ok(&other, json!({})).await;
    // Deleting one frees a place.
    let res = emu
        .http
        .delete(emu.api(&format!("/sessions/{}", first["id"].as_str().unwrap())))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    emu.create_ok(&token, json!({})).await;
}

#[tokio::test]
async fn delete_answers_empty_object_and_ends_the_session() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let s = emu.create_ok(&token, json!({})).await;
    let id = s["id"].as_str().unwrap();
    let res = emu
        .http
        .delete(emu.api(&format!("/sessions/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({}));
    assert_google_error(emu.get_session(&token, id).await, 404, "NOT_FOUND").await;
    let picker = emu
        .http
        .get(s["pickerUri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(picker.status(), StatusCode::GONE);
    assert!(
        picker
            .text()
            .await
            .unwrap()
            .contains("This link has expired")
    );
}

#[tokio::test]
async fn another_accounts_or_unknown_session_is_not_found() {
    let emu = start(config()).await;
    let maria = emu.sign_in(MARIA).await;
    let tomas = emu.sign_in(TOMAS).await;
    let (id, _) = emu.picked_session(&maria, Some(1)).await;
    assert_google_error(emu.get_session(&tomas, &id).await, 404, "NOT_FOUND").await;
    assert_google_error(
        emu.list(&tomas, &[("sessionId", &id)]).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let res = emu
        .http
        .delete(emu.api(&format!("/sessions/{id}")))
        .bearer_auth(&tomas)
        .send()
        .await
        .unwrap();
    assert_google_error(res, 404, "NOT_FOUND").await;
    assert_google_error(
        emu.get_session(&maria, "no-such-session").await,
        404,
        "NOT_FOUND",
    )
    .await;
    // Still Maria's.
    assert_eq!(emu.get_session(&maria, &id).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn there_is_no_session_media_items_path() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let (id, _) = emu.picked_session(&token, Some(1)).await;
    let res = emu
        .http
        .get(emu.api(&format!("/sessions/{id}/mediaItems")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = emu
        .http
        .put(emu.api("/sessions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn polling_config_counts_down_then_disappears_once_items_are_set() {
    let emu = start(EmulatorConfig {
        picking_timeout: Duration::from_secs(300),
        ..config()
    })
    .await;
    let token = emu.sign_in(MARIA).await;
    let s = emu.create_ok(&token, json!({})).await;
    let id = s["id"].as_str().unwrap().to_owned();
    let first = duration_secs(&s["pollingConfig"]["timeoutIn"]);
    emu.emulator.advance_clock(Duration::from_secs(100));
    let later: Value = emu.get_session(&token, &id).await.json().await.unwrap();
    let second = duration_secs(&later["pollingConfig"]["timeoutIn"]);
    assert!(
        second < first - 99.0 && second > first - 101.0,
        "{first} → {second}"
    );
    // Once the picking time is over: timeoutIn 0, the picker link is dead.
    emu.emulator.advance_clock(Duration::from_secs(201));
    let over: Value = emu.get_session(&token, &id).await.json().await.unwrap();
    assert_eq!(over["pollingConfig"]["timeoutIn"], json!("0s"));
    assert_eq!(over["mediaItemsSet"], json!(false));
    let page = emu
        .http
        .get(s["pickerUri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::GONE);

    let (id, _) = emu.picked_session(&token, Some(2)).await;
    let done: Value = emu.get_session(&token, &id).await.json().await.unwrap();
    assert_eq!(done["mediaItemsSet"], json!(true));
    assert!(done.get("pollingConfig").is_none(), "{done}");
}

#[tokio::test]
async fn expired_sessions_are_permission_denied() {
    let emu = start(EmulatorConfig {
        session_lifetime: Duration::from_secs(600),
        picking_timeout: Duration::from_secs(300),
        ..config()
    })
    .await;
    let token = emu.sign_in(MARIA).await;
    let (id, _) = emu.picked_session(&token, Some(2)).await;
    let page: Value = emu
        .list(&token, &[("sessionId", &id)])
        .await
        .json()
        .await
        .unwrap();
    let base_url = page["mediaItems"][0]["mediaFile"]["baseUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    emu.emulator.advance_clock(Duration::from_secs(601));
    assert_google_error(emu.get_session(&token, &id).await, 403, "PERMISSION_DENIED").await;
    assert_google_error(
        emu.list(&token, &[("sessionId", &id)]).await,
        403,
        "PERMISSION_DENIED",
    )
    .await;
    let bytes = emu
        .http
        .get(format!("{base_url}=w64-h64"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bytes.status(), StatusCode::FORBIDDEN);
}

// ---------------------------------------------------------------------------
// The picker page

#[tokio::test]
async fn picker_page_shows_the_accounts_library_with_real_thumbnails() {
    let emu = start(config()).await;
    let token = emu.sign_in(TOMAS).await;
    let s = emu.create_ok(&token, json!({})).await;
    let uri = s["pickerUri"].as_str().unwrap();
    let res = emu.http.get(uri).send().await.unwrap();
    let html = res.text().await.unwrap();
    let ids = attr_values(&html, "data-testid=\"picker-item\"", "data-item-id");
    assert!(ids.len() >= 10, "{} items", ids.len());
    let thumbs = attr_values(&html, "<img", "src");
    assert_eq!(thumbs.len(), ids.len());
    let thumb = emu.http.get(emu.url(&thumbs[0])).send().await.unwrap();
    assert_eq!(thumb.status(), StatusCode::OK);
    assert_eq!(thumb.headers()["content-type"], "image/jpeg");
    assert!(thumb.bytes().await.unwrap().starts_with(&[0xff, 0xd8]));
    // Maria's library is another one.
    let maria = emu.sign_in(MARIA).await;
    let other = emu.create_ok(&maria, json!({})).await;
    let maria_ids = emu.picker_items(other["pickerUri"].as_str().unwrap()).await;
    assert!(maria_ids.iter().all(|id| !ids.contains(id)));
    // All accounts together hold at least 60 items.
    let mut total = ids.len() + maria_ids.len();
    for email in ["lucia.rivera@example.com", "carmen.rivera@example.com"] {
        let t = emu.sign_in(email).await;
        let s = emu.create_ok(&t, json!({})).await;
        total += emu
            .picker_items(s["pickerUri"].as_str().unwrap())
            .await
            .len();
    }
    assert!(total >= 60, "{total} items in the sample library");
}

#[tokio::test]
async fn done_sets_items_once_and_the_uri_dies() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let s = emu.create_ok(&token, json!({})).await;
    let id = s["id"].as_str().unwrap();
    let uri = s["pickerUri"].as_str().unwrap();
    // Listing before Done is FAILED_PRECONDITION.
    assert_google_error(
        emu.list(&token, &[("sessionId", id)]).await,
        400,
        "FAILED_PRECONDITION",
    )
    .await;
    // /autoclose is the same page; Done there closes the window.
    let auto = emu
        .http
        .get(format!("{uri}/autoclose"))
        .send()
        .await
        .unwrap();
    assert_eq!(auto.status(), StatusCode::OK);
    let auto_html = auto.text().await.unwrap();
    assert!(auto_html.contains("name=\"autoclose\" value=\"1\""));
    let ids = attr_values(&auto_html, "data-testid=\"picker-item\"", "data-item-id");
    let res = emu
        .http
        .post(format!("{uri}/done"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query(&[
            ("item", &ids[0]),
            ("item", &ids[3]),
            ("autoclose", "1"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("window.close()"));
    let listed = emu.list_all(&token, id, None).await;
    let listed_ids: Vec<&str> = listed.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(listed_ids, [ids[0].as_str(), ids[3].as_str()]);
    // A used URI is dead, with and without /autoclose, and Done cannot be redone.
    for dead in [uri.to_owned(), format!("{uri}/autoclose")] {
        let res = emu.http.get(&dead).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::GONE);
    }
    assert_eq!(emu.done(uri, &ids[..1]).await.status(), StatusCode::GONE);
}

#[tokio::test]
async fn picker_enforces_max_item_count() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let s = emu
        .create_ok(&token, json!({"pickingConfig": {"maxItemCount": "2"}}))
        .await;
    let uri = s["pickerUri"].as_str().unwrap();
    let ids = emu.picker_items(uri).await;
    let too_many = emu.done(uri, &ids[..3]).await;
    assert_eq!(too_many.status(), StatusCode::OK);
    assert!(too_many.text().await.unwrap().contains("up to 2 items"));
    let none = emu.done(uri, &[]).await;
    assert!(none.text().await.unwrap().contains("at least one"));
    let got: Value = emu
        .get_session(&token, s["id"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["mediaItemsSet"], json!(false));
    // Someone else's item cannot be smuggled in.
    let tomas = emu.sign_in(TOMAS).await;
    let t = emu.create_ok(&tomas, json!({})).await;
    let foreign = emu.picker_items(t["pickerUri"].as_str().unwrap()).await;
    let res = emu.done(uri, &foreign[..1]).await;
    assert!(res.text().await.unwrap().contains("not in this library"));
    assert_eq!(emu.done(uri, &ids[..2]).await.status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------
// mediaItems.list

#[tokio::test]
async fn page_size_rules_and_paging() {
    let emu = start(EmulatorConfig {
        extra_photos: 200,
        ..config()
    })
    .await;
    let token = emu.sign_in(MARIA).await;
    let (id, picked) = emu.picked_session(&token, None).await;
    assert!(picked.len() > 200, "{} picked", picked.len());

    // Absent or 0: at most 50.
    for params in [
        vec![("sessionId", id.as_str())],
        vec![("sessionId", id.as_str()), ("pageSize", "0")],
    ] {
        let page: Value = emu.list(&token, &params).await.json().await.unwrap();
        let n = page["mediaItems"].as_array().unwrap().len();
        assert!(n <= 50 && n > 0, "{n}");
        assert!(page["nextPageToken"].is_string());
    }
    // Above 100 is treated as 100: every page ≤ 100, and some page holds exactly 100.
    let mut sizes = Vec::new();
    let mut token_param: Option<String> = None;
    loop {
        let mut params = vec![("sessionId", id.as_str()), ("pageSize", "1000")];
        if let Some(t) = &token_param {
            params.push(("pageToken", t));
        }
        let page: Value = emu.list(&token, &params).await.json().await.unwrap();
        sizes.push(page["mediaItems"].as_array().map_or(0, |a| a.len()));
        match page["nextPageToken"].as_str() {
            Some(t) => token_param = Some(t.to_owned()),
            None => break,
        }
    }
    assert!(sizes.iter().all(|&n| n <= 100), "{sizes:?}");
    assert!(sizes.contains(&100), "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), picked.len());
    // Negative or not a number: INVALID_ARGUMENT.
    for bad in ["-1", "ten", "1.5"] {
        assert_google_error(
            emu.list(&token, &[("sessionId", &id), ("pageSize", bad)])
                .await,
            400,
            "INVALID_ARGUMENT",
        )
        .await;
    }
    // A forged page token is INVALID_ARGUMENT; a missing sessionId too.
    assert_google_error(
        emu.list(&token, &[("sessionId", &id), ("pageToken", "forged")])
            .await,
        400,
        "INVALID_ARGUMENT",
    )
    .await;
    assert_google_error(emu.list(&token, &[]).await, 400, "INVALID_ARGUMENT").await;

    // Small pages: every item exactly once, in order, last page without a token.
    let all = emu.list_all(&token, &id, Some("7")).await;
    let ids: Vec<String> = all
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, picked);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
}

#[tokio::test]
async fn a_page_may_be_empty_and_still_have_a_next_page() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let (id, picked) = emu.picked_session(&token, Some(3)).await;
    let page: Value = emu
        .list(&token, &[("sessionId", &id), ("pageSize", "1")])
        .await
        .json()
        .await
        .unwrap();
    // Clients must follow nextPageToken, not stop on a short page.
    assert!(page["mediaItems"].as_array().is_none_or(|a| a.len() <= 1));
    assert!(page["nextPageToken"].is_string());
    let all = emu.list_all(&token, &id, Some("1")).await;
    assert_eq!(all.len(), picked.len());
}

/// Width and height read from the bytes of a JPEG, PNG or WebP (VP8L).
fn image_size(b: &[u8]) -> Option<(u32, u32)> {
    if b.starts_with(&[0xff, 0xd8]) {
        let mut i = 2;
        while i + 9 < b.len() {
            let marker = b[i + 1];
            let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
            if (0xc0..=0xc2).contains(&marker) {
                let h = u16::from_be_bytes([b[i + 5], b[i + 6]]);
                let w = u16::from_be_bytes([b[i + 7], b[i + 8]]);
                return Some((w.into(), h.into()));
            }
            i += 2 + len;
        }
        None
    } else if b.starts_with(b"\x89PNG") {
        Some((
            u32::from_be_bytes(b[16..20].try_into().ok()?),
            u32::from_be_bytes(b[20..24].try_into().ok()?),
        ))
    } else if b.get(8..12) == Some(b"WEBP") {
        let at = b.windows(4).position(|w| w == b"VP8L")? + 9;
        let bits = u32::from_le_bytes(b[at..at + 4].try_into().ok()?);
        Some(((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1))
    } else {
        None
    }
}

fn kind_of(b: &[u8]) -> &'static str {
    if b.starts_with(&[0xff, 0xd8]) {
        "jpeg"
    } else if b.starts_with(b"\x89PNG") {
        "png"
    } else if b.get(8..12) == Some(b"WEBP") {
        "webp"
    } else if b.get(4..8) == Some(b"ftyp") {
        "mp4"
    } else {
        "unknown"
    }
}

#[tokio::test]
async fn every_item_downloads_and_matches_its_metadata() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let (id, picked) = emu.picked_session(&token, None).await;
    let items = emu.list_all(&token, &id, None).await;
    assert_eq!(items.len(), picked.len());
    let mut seen_processing = false;
    let mut seen_heif_jpeg = false;
    let mut seen_zero_mvhd = false;
    for item in &items {
        let file = &item["mediaFile"];
        let meta = &file["mediaFileMetadata"];
        let base = file["baseUrl"].as_str().unwrap();
        let create: jiff::Timestamp = item["createTime"].as_str().unwrap().parse().unwrap();
        assert!(
            item["createTime"].as_str().unwrap().ends_with('Z'),
            "UTC, RFC 3339"
        );
        let name = file["filename"].as_str().unwrap();
        let mime = file["mimeType"].as_str().unwrap();
        match item["type"].as_str().unwrap() {
            "PHOTO" => {
                let res = emu
                    .http
                    .get(format!("{base}=d"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), StatusCode::OK, "{name}");
                assert!(res.headers().get("access-control-allow-origin").is_none());
                let bytes = res.bytes().await.unwrap();
                let kind = kind_of(&bytes);
                let expected = match mime {
                    "image/jpeg" => "jpeg",
                    // Google's HEIC arrives as JPEG bytes: the trap to sniff.
                    "image/heif" => {
                        seen_heif_jpeg = true;
                        assert!(name.to_ascii_lowercase().ends_with(".heic"));
                        "jpeg"
                    }
                    "image/png" => "png",
                    "image/webp" => "webp",
                    other => panic!("unexpected mimeType {other}"),
                };
                assert_eq!(kind, expected, "{name}");
                let (w, h) = image_size(&bytes).expect("readable size");
                assert_eq!(json!(w), meta["width"], "{name}");
                assert_eq!(json!(h), meta["height"], "{name}");
                if let Some(make) = meta["cameraMake"].as_str() {
                    assert!(
                        bytes.windows(make.len()).any(|win| win == make.as_bytes()),
                        "{name}: EXIF carries {make}"
                    );
                }
            }
            "VIDEO" => {
                assert_eq!(mime, "video/mp4");
                let status = meta["videoMetadata"]["processingStatus"].as_str().unwrap();
                assert!(meta["videoMetadata"]["fps"].as_f64().unwrap() > 20.0);
                let res = emu
                    .http
                    .get(format!("{base}=dv"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                if status == "PROCESSING" {
                    seen_processing = true;
                    assert!(!res.status().is_success(), "=dv refused while PROCESSING");
                    continue;
                }
                assert_eq!(status, "READY");
                assert_eq!(res.status(), StatusCode::OK, "{name}");
                let length: usize = res.headers()["content-length"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                let bytes = res.bytes().await.unwrap();
                assert_eq!(bytes.len(), length);
                assert_eq!(kind_of(&bytes), "mp4");
                let at = bytes.windows(4).position(|w| w == b"mvhd").unwrap();
                let mac = u64::from(u32::from_be_bytes(
                    bytes[at + 8..at + 12].try_into().unwrap(),
                ));
                if mac == 0 {
                    seen_zero_mvhd = true;
                } else {
                    assert_eq!(
                        mac as i64 - 2_082_844_800,
                        create.as_second(),
                        "{name}: mvhd date is createTime"
                    );
                }
                // Size suffixes give a still.
                let still = emu
                    .http
                    .get(format!("{base}=w128-h128"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(kind_of(&still.bytes().await.unwrap()), "jpeg");
            }
            other => panic!("unexpected type {other}"),
        }
    }
    assert!(seen_processing && seen_heif_jpeg && seen_zero_mvhd);
}

// ---------------------------------------------------------------------------
// Media bytes

#[tokio::test]
async fn media_needs_the_bearer_token_and_sends_no_cors() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let (id, _) = emu.picked_session(&token, Some(1)).await;
    let page: Value = emu
        .list(&token, &[("sessionId", &id)])
        .await
        .json()
        .await
        .unwrap();
    let base = page["mediaItems"][0]["mediaFile"]["baseUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(base.starts_with(&emu.url("/emulator/media/")));
    let anonymous = emu
        .http
        .get(format!("{base}=d"))
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::FORBIDDEN);
    let tomas = emu.sign_in(TOMAS).await;
    let foreign = emu
        .http
        .get(format!("{base}=d"))
        .bearer_auth(&tomas)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    let ok = emu
        .http
        .get(format!("{base}=d"))
        .bearer_auth(&token)
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let cors: Vec<_> = ok
        .headers()
        .keys()
        .filter(|k| k.as_str().starts_with("access-control-"))
        .collect();
    assert!(cors.is_empty(), "media sends no CORS headers: {cors:?}");
    // A tampered URL is not found; an unknown suffix is refused.
    let tampered = base.replace("/media/", "/media/00");
    let res = emu
        .http
        .get(format!("{tampered}=d"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = emu
        .http
        .get(format!("{base}=x"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn size_suffixes_scale_and_crop() {
    let emu = start(config()).await;
    let token = emu.sign_in(MARIA).await;
    let (id, _) = emu.picked_session(&token, None).await;
    let items = emu.list_all(&token, &id, None).await;
    let photo = items
        .iter()
        .find(|i| i["mediaFile"]["mimeType"] == "image/jpeg")
        .unwrap();
    let base = photo["mediaFile"]["baseUrl"].as_str().unwrap();
    let (w, h) = (
        photo["mediaFile"]["mediaFileMetadata"]["width"]
            .as_u64()
            .unwrap(),
        photo["mediaFile"]["mediaFileMetadata"]["height"]
            .as_u64()
            .unwrap(),
    );
    let fetch = |suffix: &str| {
        let url = format!("{base}{suffix}");
        let http = emu.http.clone();
        let token = token.clone();
        async move {
            let res = http.get(url).bearer_auth(token).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            assert_eq!(res.headers()["content-type"], "image/jpeg");
            image_size(&res.bytes().await.unwrap()).unwrap()
        }
    };
    let (fw, fh) = fetch("=w200-h200").await;
    assert!(fw <= 200 && fh <= 200 && (fw == 200 || fh == 200));
    let ratio = |a: u64, b: u64| a as f64 / b as f64;
    assert!((ratio(fw.into(), fh.into()) - ratio(w, h)).abs() < 0.02);
    assert_eq!(fetch("=w120-h80-c").await, (120, 80));
    // Never upscaled.
    let (bw, bh) = fetch("=w9000-h9000").await;
    assert_eq!((u64::from(bw), u64::from(bh)), (w, h));
}

#[tokio::test]
async fn base_urls_expire_after_their_lifetime() {
    let emu = start(EmulatorConfig {
        base_url_lifetime: Duration::from_secs(60),
        ..config()
    })
    .await;
    let token = emu.sign_in(MARIA).await;
    let (id, _) = emu.picked_session(&token, Some(1)).await;
    let page: Value = emu
        .list(&token, &[("sessionId", &id)])
        .await
        .json()
        .await
        .unwrap();
    let base = page["mediaItems"][0]["mediaFile"]["baseUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let get = || {
        emu.http
            .get(format!("{base}=w32-h32"))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(get().await.unwrap().status(), StatusCode::OK);
    emu.emulator.advance_clock(Duration::from_secs(61));
    assert_eq!(get().await.unwrap().status(), StatusCode::FORBIDDEN);
    // Listing again gives fresh URLs.
    let fresh: Value = emu
        .list(&token, &[("sessionId", &id)])
        .await
        .json()
        .await
        .unwrap();
    let fresh_base = fresh["mediaItems"][0]["mediaFile"]["baseUrl"]
        .as_str()
        .unwrap();
    assert_ne!(fresh_base, base);
    let res = emu
        .http
        .get(format!("{fresh_base}=w32-h32"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn large_files_stream_with_their_exact_size() {
    let size = 3 * 1024 * 1024 + 17;
    let emu = start(EmulatorConfig {
        large_file_count: 1,
        large_file_size: size,
        ..config()
    })
    .await;
    let token = emu.sign_in(MARIA).await;
    let (id, _) = emu.picked_session(&token, None).await;
    let items = emu.list_all(&token, &id, None).await;
    let large = items
        .iter()
        .find(|i| i["mediaFile"]["filename"].as_str().unwrap().contains("_4K"))
        .expect("a large video");
    let res = emu
        .http
        .get(format!(
            "{}=dv",
            large["mediaFile"]["baseUrl"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-length"], size.to_string().as_str());
    let bytes = res.bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, size);
    assert_eq!(kind_of(&bytes), "mp4");
    // A cut download resumes with Range, as against googleusercontent.com.
    let base = large["mediaFile"]["baseUrl"].as_str().unwrap();
    let from = size - 100_000;
    let res = emu
        .http
        .get(format!("{base}=dv"))
        .bearer_auth(&token)
        .header("range", format!("bytes={from}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        res.headers()["content-range"],
        format!("bytes {from}-{}/{size}", size - 1).as_str()
    );
    let tail = res.bytes().await.unwrap();
    assert_eq!(&tail[..], &bytes[from as usize..]);
    let res = emu
        .http
        .get(format!("{base}=dv"))
        .bearer_auth(&token)
        .header("range", format!("bytes={size}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
}

// ---------------------------------------------------------------------------
// Faults

/// An emulator with `faults` and a signed-in token for Maria. Faults never touch
/// OAuth or the picker page; the token is minted directly so setup needs no API call.
async fn faulty(faults: FaultConfig) -> (Emu, String) {
    let emu = start(EmulatorConfig {
        faults,
        max_open_sessions: 1000,
        ..config()
    })
    .await;
    let token = emu.emulator.issue_token(MARIA).unwrap();
    (emu, token)
}

#[tokio::test]
async fn server_error_and_rate_limit_faults_answer_googles_errors() {
    let (emu, token) = faulty(FaultConfig {
        server_error_rate: 1.0,
        ..FaultConfig::default()
    })
    .await;
    let mut seen = HashSet::new();
    for _ in 0..20 {
        let res = emu.create(&token, json!({})).await;
        let code = res.status().as_u16();
        let status = if code == 500 {
            "INTERNAL"
        } else {
            "UNAVAILABLE"
        };
        assert_google_error(res, code, status).await;
        seen.insert(code);
    }
    assert_eq!(seen, HashSet::from([500, 503]));

    let (emu, token) = faulty(FaultConfig {
        rate_limit_rate: 1.0,
        retry_after_secs: 7,
        ..FaultConfig::default()
    })
    .await;
    let res = emu.create(&token, json!({})).await;
    assert_eq!(res.headers()["retry-after"], "7");
    assert_google_error(res, 429, "RESOURCE_EXHAUSTED").await;
}

#[tokio::test]
async fn fault_sequences_repeat_for_a_seed() {
    let faults = FaultConfig {
        server_error_rate: 0.3,
        rate_limit_rate: 0.2,
        retry_after_secs: 1,
        ..FaultConfig::default()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let (emu, token) = faulty(faults.clone()).await;
        let mut codes = Vec::new();
        for _ in 0..40 {
            codes.push(emu.create(&token, json!({})).await.status().as_u16());
        }
        runs.push(codes);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].contains(&200) && runs[0].iter().any(|&c| c >= 500) && runs[0].contains(&429));
}

/// Picks two items on a fault-free path: faults never touch OAuth or the picker page,
/// and API faults are drawn per request, so retry until the list succeeds.
async fn pick_under_faults(emu: &Emu, token: &str) -> Vec<String> {
    let mut session = None;
    for _ in 0..50 {
        let res = emu.create(token, json!({})).await;
        if res.status() == StatusCode::OK {
            session = Some(res.json::<Value>().await.unwrap());
            break;
        }
    }
    let session = session.expect("a create got through");
    let uri = session["pickerUri"].as_str().unwrap();
    let ids = emu.picker_items(uri).await;
    assert_eq!(emu.done(uri, &ids[..2]).await.status(), StatusCode::OK);
    let id = session["id"].as_str().unwrap();
    for _ in 0..50 {
        let res = emu.list(token, &[("sessionId", id)]).await;
        if res.status() == StatusCode::OK {
            let page: Value = res.json().await.unwrap();
            return page["mediaItems"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["mediaFile"]["baseUrl"].as_str().unwrap().to_owned())
                .collect();
        }
    }
    panic!("no listing got through");
}

#[tokio::test]
async fn cut_bodies_end_before_content_length() {
    let (emu, token) = faulty(FaultConfig {
        cut_body_rate: 1.0,
        ..FaultConfig::default()
    })
    .await;
    let urls = pick_under_faults(&emu, &token).await;
    let res = emu
        .http
        .get(format!("{}=d", urls[0]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let declared: usize = res.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(declared > 0);
    assert!(
        res.bytes().await.is_err(),
        "the body is cut before its Content-Length"
    );
}

#[tokio::test]
async fn slow_bodies_arrive_whole_but_slowly() {
    let speed = 100 * 1024;
    let (emu, token) = faulty(FaultConfig {
        slow_body_rate: 1.0,
        slow_body_bytes_per_sec: speed,
        ..FaultConfig::default()
    })
    .await;
    let urls = pick_under_faults(&emu, &token).await;
    let started = Instant::now();
    let res = emu
        .http
        .get(format!("{}=d", urls[0]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let declared: u64 = res.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let bytes = res.bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, declared);
    let minimum = Duration::from_secs_f64(declared as f64 / speed as f64 * 0.9);
    assert!(
        started.elapsed() >= minimum,
        "{declared} bytes took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn some_sessions_expire_early() {
    let (emu, token) = faulty(FaultConfig {
        early_expiry_rate: 1.0,
        early_expiry_after: Duration::from_secs(30),
        ..FaultConfig::default()
    })
    .await;
    let s = emu.create_ok(&token, json!({})).await;
    let expire: jiff::Timestamp = s["expireTime"].as_str().unwrap().parse().unwrap();
    let left = expire.duration_since(jiff::Timestamp::now()).as_secs();
    assert!((20..=31).contains(&left), "{left}");
    emu.emulator.advance_clock(Duration::from_secs(31));
    assert_google_error(
        emu.get_session(&token, s["id"].as_str().unwrap()).await,
        403,
        "PERMISSION_DENIED",
    )
    .await;
}

// ---------------------------------------------------------------------------
// Misc

#[tokio::test]
async fn index_page_and_endpoints_describe_the_emulator() {
    let emu = start(config()).await;
    let res = emu.http.get(emu.url("/emulator/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains(MARIA));
    let ep = emu.emulator.endpoints(&emu.origin);
    assert_eq!(ep.picker_api, emu.api(""));
    assert_eq!(ep.scope, SCOPE);
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("example.test:1234"));
    // Absolute URLs follow the Host header.
    let token = emu.sign_in(MARIA).await;
    let s: Value = emu
        .http
        .post(emu.api("/sessions"))
        .headers(headers)
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        s["pickerUri"]
            .as_str()
            .unwrap()
            .starts_with("http://example.test:1234/emulator/picker-ui/")
    );
}
