//! A plain-HTTP client of the Google emulator, shared by every test that talks to
//! it: [`start`] runs an [`Emulator`] on port 0 and returns an [`Emu`], whose
//! methods are the steps a client takes (sign in at the consent page, create a
//! session, pick on the picker page, list the picked items).
//!
//! No client code of Keepsake is used: requests are built by hand with reqwest and
//! answers read as raw JSON, the way a client written only from PICKER-API.md
//! would. Every step asserts what PICKER-API.md promises for it and panics
//! otherwise: a failed step is a failed test.

use emulator::{Emulator, EmulatorConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The one OAuth scope Keepsake asks for (the Picker API's read-only scope).
pub const SCOPE: &str = "https://www.googleapis.com/auth/photospicker.mediaitems.readonly";
/// An account of the emulator's sample family (the first one listed).
pub const MARIA: &str = "maria.rivera@example.com";
/// Another account of the emulator's sample family, with a library of its own.
pub const TOMAS: &str = "tomas.rivera@example.com";

/// A running emulator, served on loopback until the test's runtime ends, and an
/// HTTP client that does not follow redirects (so OAuth redirects can be read).
pub struct Emu {
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    /// The emulator itself, to read its config, advance its clock or mint tokens.
    pub emulator: Emulator,
    /// A client that never follows redirects.
    pub http: reqwest::Client,
}

/// Defaults that keep tests quick: no large videos unless a test asks.
pub fn config() -> EmulatorConfig {
    EmulatorConfig {
        large_file_count: 0,
        ..EmulatorConfig::default()
    }
}

/// Starts an emulator with `config` on `127.0.0.1:0` (a task of the current Tokio
/// runtime), after installing ring as rustls' crypto provider.
pub async fn start(config: EmulatorConfig) -> Emu {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let emulator = Emulator::new(config).expect("valid config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free loopback port");
    let origin = format!(
        "http://{}",
        listener.local_addr().expect("the bound listener's address")
    );
    let router = emulator.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a reqwest client");
    Emu {
        origin,
        emulator,
        http,
    }
}

/// `pairs` as an `application/x-www-form-urlencoded` string (a query or a form body).
pub fn query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().copied())
        .finish()
}

/// The pairs of a form-encoded string (a query, or an OAuth answer's fragment).
pub fn parse_pairs(s: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(s.as_bytes())
        .into_owned()
        .collect()
}

/// The first value of `key` among `pairs`.
pub fn get_pair<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Values of `attr="…"` on elements carrying `marker` (a tiny HTML scraper: the
/// emulator's pages are server-rendered with one element per line of interest).
pub fn attr_values(html: &str, marker: &str, attr: &str) -> Vec<String> {
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

/// The id a consent page posts back with its answer.
pub fn consent_id(html: &str) -> String {
    attr_values(html, "name=\"consent\"", "value")
        .into_iter()
        .next()
        .expect("consent page carries its id")
}

impl Emu {
    /// `path` on the emulator's origin.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// `path` below the Picker API base (`/emulator/picker/v1`).
    pub fn api(&self, path: &str) -> String {
        format!("{}/emulator/picker/v1{path}", self.origin)
    }

    /// GETs a media URL as a media client does: with the bearer, following one
    /// redirect to another host without it (`=dv` goes to the video host).
    pub async fn get_media(&self, url: &str, token: &str) -> reqwest::Response {
        let first = self
            .http
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .expect("media GET");
        if !first.status().is_redirection() {
            return first;
        }
        let location = first.headers()["location"]
            .to_str()
            .expect("an ASCII Location")
            .to_owned();
        self.http
            .get(location)
            .send()
            .await
            .expect("GET of the redirect target")
    }

    /// The redirect URI the emulator accepts by default: its own origin, with `/`.
    pub fn redirect_uri(&self) -> String {
        format!("{}/", self.origin)
    }

    /// `GET` the authorization endpoint with `params`.
    pub async fn authorize(&self, params: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .get(format!(
                "{}?{}",
                self.url("/emulator/o/oauth2/v2/auth"),
                query(params)
            ))
            .send()
            .await
            .expect("GET the authorization endpoint")
    }

    /// The consent page for the standard token flow, with `state` and `extra`
    /// parameters; asserts it answers 200.
    pub async fn consent_page(&self, state: &str, extra: &[(&str, &str)]) -> String {
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
        res.text().await.expect("the consent page's body")
    }

    /// Answers a consent page as `email` with `action` (`allow` or `cancel`);
    /// asserts a redirect and returns its `Location`.
    pub async fn answer_consent(&self, page: &str, email: &str, action: &str) -> String {
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
            .expect("POST the consent answer");
        assert!(
            res.status().is_redirection(),
            "consent answers with a redirect, got {}",
            res.status()
        );
        res.headers()["location"]
            .to_str()
            .expect("an ASCII Location")
            .to_owned()
    }

    /// Signs in as `email` through the consent page; returns the access token.
    pub async fn sign_in(&self, email: &str) -> String {
        let page = self.consent_page("st", &[]).await;
        let location = self.answer_consent(&page, email, "allow").await;
        let fragment = location.split_once('#').expect("answer in fragment").1;
        get_pair(&parse_pairs(fragment), "access_token")
            .expect("an access_token in the fragment")
            .to_owned()
    }

    /// `sessions.create` with `body`, whatever it answers.
    pub async fn create(&self, token: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.api("/sessions"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("POST sessions")
    }

    /// `sessions.create` with `body`; asserts 200 and returns the session.
    pub async fn create_ok(&self, token: &str, body: Value) -> Value {
        let res = self.create(token, body).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.expect("a JSON session")
    }

    /// `sessions.get` of `id`, whatever it answers.
    pub async fn get_session(&self, token: &str, id: &str) -> reqwest::Response {
        self.http
            .get(self.api(&format!("/sessions/{id}")))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET a session")
    }

    /// `mediaItems.list` with `params`, whatever it answers.
    pub async fn list(&self, token: &str, params: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .get(format!("{}?{}", self.api("/mediaItems"), query(params)))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET mediaItems")
    }

    /// The picker page's item ids; asserts the page answers 200 with a Done button.
    pub async fn picker_items(&self, picker_uri: &str) -> Vec<String> {
        let res = self
            .http
            .get(picker_uri)
            .send()
            .await
            .expect("GET the picker page");
        assert_eq!(res.status(), StatusCode::OK);
        let html = res.text().await.expect("the picker page's body");
        assert!(html.contains("data-testid=\"picker-done\""));
        attr_values(&html, "data-testid=\"picker-item\"", "data-item-id")
    }

    /// Ticks `ids` on the picker page and presses Done (without autoclose).
    pub async fn done(&self, picker_uri: &str, ids: &[String]) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = ids.iter().map(|i| ("item", i.as_str())).collect();
        form.push(("autoclose", "0"));
        self.http
            .post(format!("{picker_uri}/done"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(query(&form))
            .send()
            .await
            .expect("POST the picker's Done")
    }

    /// Creates a session and picks the first `n` items (all when `None`); returns
    /// the session id and the picked ids, in the picker's order.
    pub async fn picked_session(&self, token: &str, n: Option<usize>) -> (String, Vec<String>) {
        let session = self.create_ok(token, json!({})).await;
        let uri = session["pickerUri"]
            .as_str()
            .expect("a pickerUri")
            .to_owned();
        let mut ids = self.picker_items(&uri).await;
        if let Some(n) = n {
            ids.truncate(n);
        }
        let res = self.done(&uri, &ids).await;
        assert_eq!(res.status(), StatusCode::OK);
        (
            session["id"].as_str().expect("a session id").to_owned(),
            ids,
        )
    }

    /// Every page of a session's listing, following `nextPageToken`; asserts each
    /// page answers 200 and that the listing ends.
    pub async fn list_all(
        &self,
        token: &str,
        session: &str,
        page_size: Option<&str>,
    ) -> Vec<Value> {
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
            let page: Value = res.json().await.expect("a JSON page");
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

/// Asserts `res` is Google's JSON error with HTTP status `code` and `error.status`
/// `status` (and a non-empty message); returns the body.
pub async fn assert_google_error(res: reqwest::Response, code: u16, status: &str) -> Value {
    assert_eq!(res.status().as_u16(), code, "HTTP status");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("an ASCII Content-Type")
            .starts_with("application/json"),
        "errors are JSON"
    );
    let body: Value = res.json().await.expect("a JSON error body");
    assert_eq!(body["error"]["code"], json!(code), "{body}");
    assert_eq!(body["error"]["status"], json!(status), "{body}");
    assert!(
        !body["error"]["message"]
            .as_str()
            .expect("error.message is a string")
            .is_empty(),
        "{body}"
    );
    body
}

/// Seconds of a protobuf JSON duration (`"1.5s"`); asserts its form: a decimal
/// number of seconds with at most 9 fraction digits, ending in `s`.
pub fn duration_secs(v: &Value) -> f64 {
    let s = v.as_str().expect("durations are strings");
    let number = s.strip_suffix('s').expect("durations end in s");
    let (_, fraction) = number.split_once('.').unwrap_or((number, ""));
    assert!(fraction.len() <= 9, "at most 9 fraction digits: {s}");
    number.parse().expect("decimal seconds")
}

/// Width and height read from the bytes of a JPEG, PNG or WebP (VP8L).
pub fn image_size(b: &[u8]) -> Option<(u32, u32)> {
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

/// The kind of file `b` holds, from its magic bytes: `jpeg`, `png`, `webp`, `mp4`
/// or `unknown`.
pub fn kind_of(b: &[u8]) -> &'static str {
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
