//! OAuth 2.0 as Google runs it, for the demo family: the authorization endpoint
//! (browser token flow and installed-app code flow with PKCE), a consent page, the
//! token endpoint and revocation. Error pages and JSON errors use Google's codes.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::html::{esc, logo, respond};
use super::library::ACCOUNTS;
use super::{
    AUTH_PATH, Emulator, Grant, REVOKE_PATH, TOKEN_PATH, clock, faults, origin_of, random_id,
};

/// Scopes the emulator knows; any other is `invalid_scope`, as with Google.
const KNOWN_SCOPES: [&str; 6] = [
    picker::SCOPE,
    "openid",
    "email",
    "profile",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
];

/// The sign-in scopes Google grants without a box of their own on the consent page.
fn is_basic_scope(scope: &str) -> bool {
    matches!(
        scope,
        "openid"
            | "email"
            | "profile"
            | "https://www.googleapis.com/auth/userinfo.email"
            | "https://www.googleapis.com/auth/userinfo.profile"
    )
}

/// Parameters Google's authorization endpoint accepts; others are refused.
const AUTH_PARAMS: [&str; 14] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "prompt",
    "login_hint",
    "include_granted_scopes",
    "access_type",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "hd",
    "enable_granular_consent",
];

/// How long a consent page or an authorization code stays usable.
const CONSENT_LIFETIME: std::time::Duration = std::time::Duration::from_secs(600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// `response_type=token`: the answer goes in the redirect's fragment.
    Token,
    /// `response_type=code`: the answer is a code in the redirect's query.
    Code,
}

/// A consent page that was shown and not yet answered.
#[derive(Debug, Clone)]
pub(super) struct PendingConsent {
    flow: Flow,
    redirect_uri: String,
    scopes: Vec<String>,
    state: Option<String>,
    challenge: Option<(String, String)>,
    offline: bool,
    expires: Timestamp,
}

/// An authorization code waiting to be exchanged.
#[derive(Debug, Clone)]
pub(super) struct AuthCode {
    account: usize,
    scopes: Vec<String>,
    redirect_uri: String,
    challenge: Option<(String, String)>,
    offline: bool,
    expires: Timestamp,
}

pub(super) fn routes() -> Router<Emulator> {
    Router::new()
        .route(AUTH_PATH, get(authorize))
        .route(&format!("{AUTH_PATH}/consent"), post(consent))
        .merge(
            Router::new()
                .route(TOKEN_PATH, post(token))
                .route(REVOKE_PATH, post(revoke).get(revoke))
                .layer(axum::middleware::from_fn(faults::cors)),
        )
}

fn parse_pairs(raw: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw).into_owned().collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Google's "Access blocked" / "Authorization Error" page.
fn error_page(status: StatusCode, error: &str, detail: &str) -> Response {
    let title = if error == "invalid_client" || error == "redirect_uri_mismatch" {
        "Access blocked: Authorization Error"
    } else {
        "Access blocked: This app’s request is invalid"
    };
    let body = format!(
        "<main class=\"card\" data-testid=\"oauth-error\" data-error=\"{e}\">{logo}<h1>{title}</h1>\
         <p class=\"sub\">{detail}</p><p class=\"fine\">If you are a developer of this app, see error details.</p>\
         <div class=\"error-code\">Error {code}: {e}</div></main>",
        e = esc(error),
        logo = logo(),
        title = esc(title),
        detail = esc(detail),
        code = status.as_u16(),
    );
    respond(status, "Error", &body)
}

/// Whether `uri` may receive the answer: registered exactly (config ∪ `<origin>/`),
/// or, for the installed-app code flow, any loopback address and port.
fn redirect_allowed(emu: &Emulator, origin: &str, uri: &str, flow: Flow) -> bool {
    if uri == format!("{origin}/") || emu.inner.config.redirect_uris.iter().any(|r| r == uri) {
        return true;
    }
    if flow == Flow::Code
        && let Ok(url) = url::Url::parse(uri)
    {
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        return url.scheme() == "http" && loopback && url.fragment().is_none();
    }
    false
}

/// Appends answer parameters to `redirect_uri`: in the fragment (token flow) or the
/// query (code flow).
fn answer(redirect_uri: &str, flow: Flow, params: &[(&str, &str)]) -> Response {
    let encoded: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().copied())
        .finish();
    let target = match flow {
        Flow::Token => format!("{redirect_uri}#{encoded}"),
        Flow::Code if redirect_uri.contains('?') => format!("{redirect_uri}&{encoded}"),
        Flow::Code => format!("{redirect_uri}?{encoded}"),
    };
    Redirect::to(&target).into_response()
}

async fn authorize(
    State(emu): State<Emulator>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = parse_pairs(query.unwrap_or_default().as_bytes());
    let bad = |detail: &str| error_page(StatusCode::BAD_REQUEST, "invalid_request", detail);
    if let Some((unknown, _)) = pairs
        .iter()
        .find(|(k, _)| !AUTH_PARAMS.contains(&k.as_str()))
    {
        return bad(&format!(
            "Parameter not allowed for this message type: {unknown}"
        ));
    }
    let Some(client_id) = param(&pairs, "client_id").filter(|c| !c.is_empty()) else {
        return bad("Missing required parameter: client_id");
    };
    if client_id != emu.inner.config.client_id {
        return error_page(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        );
    }
    let flow = match param(&pairs, "response_type") {
        None | Some("") => return bad("Required parameter is missing: response_type"),
        Some("token") => Flow::Token,
        Some("code") => Flow::Code,
        Some(other) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "unsupported_response_type",
                &format!("Invalid response_type: {other}"),
            );
        }
    };
    let Some(redirect_uri) = param(&pairs, "redirect_uri").filter(|r| !r.is_empty()) else {
        return bad("Missing required parameter: redirect_uri");
    };
    let origin = origin_of(&headers);
    if !redirect_allowed(&emu, &origin, redirect_uri, flow) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "redirect_uri_mismatch",
            &format!(
                "You can’t sign in to this app because it doesn’t comply with Google’s OAuth 2.0 policy. \
                 redirect_uri={redirect_uri} is not registered for this client."
            ),
        );
    }
    let Some(scope) = param(&pairs, "scope").filter(|s| !s.trim().is_empty()) else {
        return bad("Missing required parameter: scope");
    };
    let scopes: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
    let invalid: Vec<&str> = scopes
        .iter()
        .map(String::as_str)
        .filter(|s| !KNOWN_SCOPES.contains(s))
        .collect();
    if !invalid.is_empty() {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!(
                "Some requested scopes were invalid. {{invalid=[{}]}}",
                invalid.join(", ")
            ),
        );
    }
    let state = param(&pairs, "state").map(str::to_owned);
    let prompts: Vec<&str> = param(&pairs, "prompt")
        .unwrap_or("")
        .split_whitespace()
        .collect();
    if let Some(p) = prompts
        .iter()
        .find(|p| !["none", "consent", "select_account"].contains(p))
    {
        return bad(&format!("Invalid prompt: {p}"));
    }
    if prompts.contains(&"none") {
        if prompts.len() > 1 {
            return bad("prompt=none must not be combined with other values");
        }
        // The emulator keeps no browser sign-in, so it can never answer silently.
        let mut params = vec![("error", "interaction_required")];
        if let Some(s) = &state {
            params.push(("state", s));
        }
        return answer(redirect_uri, flow, &params);
    }
    let challenge = match (
        param(&pairs, "code_challenge"),
        param(&pairs, "code_challenge_method"),
    ) {
        (None, None) => None,
        (Some(c), method) if flow == Flow::Code => {
            let method = method.unwrap_or("plain");
            if method != "S256" && method != "plain" {
                return bad(&format!("Invalid code_challenge_method: {method}"));
            }
            Some((method.to_owned(), c.to_owned()))
        }
        _ => return bad("code_challenge is only valid with response_type=code"),
    };
    let offline = param(&pairs, "access_type") == Some("offline");
    let login_hint = param(&pairs, "login_hint").map(str::to_ascii_lowercase);

    let consent_id = random_id(32);
    let pending = PendingConsent {
        flow,
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        state,
        challenge,
        offline,
        expires: clock::add(emu.now(), CONSENT_LIFETIME),
    };
    {
        let now = emu.now();
        let mut st = emu.state();
        st.consents.retain(|_, c| c.expires > now);
        st.consents.insert(consent_id.clone(), pending.clone());
    }
    consent_page(&consent_id, &pending, login_hint.as_deref())
}

fn consent_page(consent_id: &str, pending: &PendingConsent, login_hint: Option<&str>) -> Response {
    let hinted = login_hint
        .and_then(|h| ACCOUNTS.iter().position(|a| a.email == h))
        .unwrap_or(0);
    let mut accounts = String::new();
    for (n, a) in ACCOUNTS.iter().enumerate() {
        let initial = a.name.chars().next().unwrap_or('?');
        accounts.push_str(&format!(
            "<li><label class=\"account\" data-testid=\"consent-account\" data-email=\"{email}\">\
             <input type=\"radio\" name=\"account\" value=\"{n}\"{checked}>\
             <span class=\"avatar\" style=\"background:{colour}\">{initial}</span>\
             <span class=\"who\"><b>{name}</b><span>{email}</span></span><span class=\"check\">✓</span></label></li>",
            email = esc(a.email),
            checked = if n == hinted { " checked" } else { "" },
            colour = a.colour,
            name = esc(a.name),
        ));
    }
    // Google's granular consent: each scope beyond the basic sign-in ones has its
    // own box, ticked at first; the user may untick it and still press Allow.
    let wants: String = pending
        .scopes
        .iter()
        .map(|s| {
            let what = match s.as_str() {
                picker::SCOPE => "View the photos and videos you select in Google Photos",
                "openid" => "Associate you with your personal info on Google",
                other => other,
            };
            if is_basic_scope(s) {
                format!("<li>{}</li>", esc(what))
            } else {
                format!(
                    "<li><label><input type=\"hidden\" name=\"offered\" value=\"{scope}\">\
                     <input type=\"checkbox\" name=\"grant\" value=\"{scope}\" checked \
                     data-testid=\"consent-scope\"> {what}</label></li>",
                    scope = esc(s),
                    what = esc(what),
                )
            }
        })
        .collect();
    let body = format!(
        "<main class=\"card\">{logo}<h1>Choose an account</h1>\
         <p class=\"sub\">to continue to <b>Keepsake</b></p>\
         <form method=\"post\" action=\"{AUTH_PATH}/consent\">\
         <input type=\"hidden\" name=\"consent\" value=\"{consent_id}\">\
         <ul class=\"accounts\">{accounts}</ul>\
         <div class=\"scope\">Keepsake wants to:<ul>{wants}</ul></div>\
         <p class=\"fine\">This is Keepsake's built-in Google emulator: these are demo accounts, \
         and nothing leaves this computer.</p>\
         <div class=\"buttons\">\
         <button class=\"text\" type=\"submit\" name=\"action\" value=\"cancel\" data-testid=\"consent-cancel\">Cancel</button>\
         <button class=\"primary\" type=\"submit\" name=\"action\" value=\"allow\" data-testid=\"consent-allow\">Allow</button>\
         </div></form></main>",
        logo = logo(),
        consent_id = esc(consent_id),
    );
    respond(
        StatusCode::OK,
        "Sign in - Google Accounts (emulator)",
        &body,
    )
}

async fn consent(State(emu): State<Emulator>, body: Bytes) -> Response {
    let pairs = parse_pairs(&body);
    let pending = param(&pairs, "consent").and_then(|id| emu.state().consents.remove(id));
    let Some(pending) = pending.filter(|p| p.expires > emu.now()) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "This sign-in request has expired or was already answered. Start again from the app.",
        );
    };
    let state_param = |mut params: Vec<(&'static str, String)>| {
        if let Some(s) = &pending.state {
            params.push(("state", s.clone()));
        }
        params
    };
    if param(&pairs, "action") != Some("allow") {
        let params = state_param(vec![("error", "access_denied".to_owned())]);
        let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        return answer(&pending.redirect_uri, pending.flow, &refs);
    }
    let Some(account) = param(&pairs, "account")
        .and_then(|a| a.parse::<usize>().ok())
        .filter(|&a| a < ACCOUNTS.len())
    else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "No account was chosen.",
        );
    };
    // A box left unticked withholds its scope. (A client that posts the form by
    // hand, without the `offered` fields a browser sends, grants every scope.)
    let offered: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "offered")
        .map(|(_, v)| v.as_str())
        .collect();
    let ticked: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "grant")
        .map(|(_, v)| v.as_str())
        .collect();
    let granted: Vec<String> = pending
        .scopes
        .iter()
        .filter(|s| {
            is_basic_scope(s) || !offered.contains(&s.as_str()) || ticked.contains(&s.as_str())
        })
        .cloned()
        .collect();
    let scope = granted.join(" ");
    let params = match pending.flow {
        Flow::Token => {
            let token = emu.mint_token(account, granted.clone());
            let expires_in = emu.inner.config.token_lifetime.as_secs().saturating_sub(1);
            state_param(vec![
                ("access_token", token),
                ("token_type", "Bearer".to_owned()),
                ("expires_in", expires_in.to_string()),
                ("scope", scope),
            ])
        }
        Flow::Code => {
            let code = format!("4/0demo-{}", random_id(40));
            let now = emu.now();
            let mut st = emu.state();
            st.codes.retain(|_, c| c.expires > now);
            st.codes.insert(
                code.clone(),
                AuthCode {
                    account,
                    scopes: granted.clone(),
                    redirect_uri: pending.redirect_uri.clone(),
                    challenge: pending.challenge.clone(),
                    offline: pending.offline,
                    expires: clock::add(now, CONSENT_LIFETIME),
                },
            );
            state_param(vec![("code", code), ("scope", scope)])
        }
    };
    let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    answer(&pending.redirect_uri, pending.flow, &refs)
}

fn token_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The client's credentials from HTTP Basic (`client_secret_basic`, RFC 6749
/// §2.3.1: each part form-urlencoded, then base64), if the request carries them.
/// `Err` for an `Authorization` header that is not a readable Basic pair.
fn basic_client(headers: &HeaderMap) -> Result<Option<(String, String)>, ()> {
    use base64::Engine as _;
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| ())?;
    let decoded = String::from_utf8(decoded).map_err(|_| ())?;
    let (id, secret) = decoded.split_once(':').ok_or(())?;
    let unescape = |part: &str| {
        url::form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

async fn token(State(emu): State<Emulator>, headers: HeaderMap, body: Bytes) -> Response {
    let pairs = parse_pairs(&body);
    let bad = |d: &str| token_error(StatusCode::BAD_REQUEST, "invalid_request", d);
    let Some(grant_type) = param(&pairs, "grant_type") else {
        return bad("Missing required parameter: grant_type");
    };
    // Google takes the client's credentials either way: in the form
    // (`client_secret_post`, what its own docs show) or as HTTP Basic
    // (`client_secret_basic`, what requests-oauthlib and so google-auth-oauthlib
    // send). Both at once must agree.
    let basic = match basic_client(&headers) {
        Ok(basic) => basic,
        Err(()) => {
            return token_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "The OAuth client was not found.",
            );
        }
    };
    let form_id = param(&pairs, "client_id");
    let form_secret = param(&pairs, "client_secret");
    let (client_id, client_secret) = match &basic {
        Some((id, secret)) => {
            if form_id.is_some_and(|f| f != id) || form_secret.is_some_and(|f| f != secret) {
                return bad("The client credentials in the body and the header differ.");
            }
            (Some(id.as_str()), Some(secret.as_str()))
        }
        None => (form_id, form_secret),
    };
    if client_id != Some(emu.inner.config.client_id.as_str()) {
        return token_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        );
    }
    // Google wants the secret even with PKCE (PICKER-API.md §5).
    match client_secret {
        None => return bad("client_secret is missing."),
        Some(s) if s != emu.inner.config.client_secret => {
            return token_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized");
        }
        Some(_) => {}
    }
    let lifetime = emu.inner.config.token_lifetime.as_secs().max(1);
    match grant_type {
        "authorization_code" => {
            let Some(code) = param(&pairs, "code") else {
                return bad("Missing required parameter: code");
            };
            let Some(redirect_uri) = param(&pairs, "redirect_uri") else {
                return bad("Missing required parameter: redirect_uri");
            };
            // A code is single-use: taken out whether or not the rest checks out.
            let stored = emu.state().codes.remove(code);
            let Some(stored) = stored.filter(|c| c.expires > emu.now()) else {
                return token_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Malformed auth code.",
                );
            };
            if stored.redirect_uri != redirect_uri {
                return token_error(
                    StatusCode::BAD_REQUEST,
                    "redirect_uri_mismatch",
                    "Bad Request",
                );
            }
            if let Some((method, challenge)) = &stored.challenge {
                let Some(verifier) = param(&pairs, "code_verifier") else {
                    return token_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "Missing code verifier.",
                    );
                };
                let computed = if method == "S256" {
                    base64url(&Sha256::digest(verifier.as_bytes()))
                } else {
                    verifier.to_owned()
                };
                if &computed != challenge {
                    return token_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "Invalid code verifier.",
                    );
                }
            }
            let access = emu.mint_token(stored.account, stored.scopes.clone());
            let mut out = json!({
                "access_token": access,
                "expires_in": lifetime.saturating_sub(1),
                "scope": stored.scopes.join(" "),
                "token_type": "Bearer",
            });
            if stored.offline {
                let refresh = format!("1//0demo-{}", random_id(40));
                emu.state().refresh_tokens.insert(
                    refresh.clone(),
                    Grant {
                        account: stored.account,
                        scopes: stored.scopes,
                    },
                );
                out["refresh_token"] = json!(refresh);
            }
            ([(header::CACHE_CONTROL, "no-store")], axum::Json(out)).into_response()
        }
        "refresh_token" => {
            let Some(refresh) = param(&pairs, "refresh_token") else {
                return bad("Missing required parameter: refresh_token");
            };
            let grant = emu.state().refresh_tokens.get(refresh).cloned();
            let Some(grant) = grant else {
                return token_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Token has been expired or revoked.",
                );
            };
            let access = emu.mint_token(grant.account, grant.scopes.clone());
            (
                [(header::CACHE_CONTROL, "no-store")],
                axum::Json(json!({
                    "access_token": access,
                    "expires_in": lifetime.saturating_sub(1),
                    "scope": grant.scopes.join(" "),
                    "token_type": "Bearer",
                })),
            )
                .into_response()
        }
        other => token_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("Invalid grant_type: {other}"),
        ),
    }
}

async fn revoke(State(emu): State<Emulator>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let mut pairs = parse_pairs(query.unwrap_or_default().as_bytes());
    pairs.extend(parse_pairs(&body));
    let Some(token) = param(&pairs, "token") else {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: token",
        );
    };
    let now = emu.now();
    let mut st = emu.state();
    let revoked = if let Some(t) = st.tokens.remove(token).filter(|t| t.expires > now) {
        Some(t.account)
    } else {
        st.refresh_tokens.remove(token).map(|g| g.account)
    };
    match revoked {
        Some(account) => {
            // Revoking ends the whole grant: every token of that account goes.
            st.tokens.retain(|_, t| t.account != account);
            st.refresh_tokens.retain(|_, g| g.account != account);
            (
                [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                "{}",
            )
                .into_response()
        }
        None => token_error(
            StatusCode::BAD_REQUEST,
            "invalid_token",
            "Token expired or revoked",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc_7636_example() {
        // RFC 7636 appendix B: verifier → S256 challenge.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            base64url(&Sha256::digest(verifier.as_bytes())),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
    }
}
