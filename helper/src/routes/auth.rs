//! Family mode's sign-in: `POST /api/login`, `POST /api/logout`, the middleware
//! that demands a session on every other `/api` route, and [`SignedIn`], the
//! extractor that tells a handler whose library it serves.
//!
//! A helper without members has one owner ([`Owner::Single`]) and no sign-in.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use api::{LoginRequest, MemberInfo, SECURE_SESSION_COOKIE, SESSION_COOKIE};
use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use jiff::Timestamp;

use crate::error::{AppError, AppResult};
use crate::library::Owner;
use crate::members::{self, Member, sessions};
use crate::state::AppState;

/// The owner a request acts for, put there by [`require_member`]. Handlers that
/// read or write a library take it, so none can forget whose files they touch.
#[derive(Debug, Clone)]
pub struct SignedIn(pub Owner);

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        parts
            .extensions
            .get::<SignedIn>()
            .cloned()
            .ok_or(AppError::Unauthorized)
    }
}

/// The session cookie's name: `__Host-` prefixed under https.
fn cookie_name(state: &AppState) -> &'static str {
    if state.config().tls.is_some() {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// The session token in the request's cookies, if there is one. Two different
/// ones (a cookie set for a parent domain beside this host's own) are nobody's:
/// the browser's order does not say which the member signed in with.
fn session_token(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let name = cookie_name(state);
    let mut tokens = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_owned());
    let token = tokens.next()?;
    if tokens.any(|other| other != token) {
        tracing::debug!("two different session cookies: signed out");
        return None;
    }
    Some(token)
}

/// The member a request's session signs in, if it is live and was opened with
/// their current passphrase. Blocking (SQLite): call it off the async workers.
fn member_of(state: &AppState, token: &str) -> AppResult<Option<Member>> {
    let Some(store) = state.sessions() else {
        return Ok(None);
    };
    let session = store
        .lookup(token, Timestamp::now())
        .map_err(|err| AppError::Internal(err.into()))?;
    Ok(session.and_then(|session| {
        state
            .members()
            .get(&session.member)
            .filter(|m| sessions::fingerprint(&m.passphrase_hash) == session.hash_fingerprint)
            .cloned()
    }))
}

/// The signed-in member of a request (family mode), for `/api/config`.
pub async fn current_member(state: &AppState, headers: &HeaderMap) -> AppResult<Option<Member>> {
    let Some(token) = session_token(state, headers) else {
        return Ok(None);
    };
    let state = state.clone();
    tokio::task::spawn_blocking(move || member_of(&state, &token))
        .await
        .map_err(|err| AppError::Internal(err.into()))?
}

/// Middleware on `/api`: in family mode, a live session or 401; either way, the
/// request learns whose library it acts on ([`SignedIn`]).
pub async fn require_member(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let owner = if state.config().members.is_family() {
        match current_member(&state, request.headers()).await {
            Ok(Some(member)) => Owner::Member(member.name),
            Ok(None) => return AppError::Unauthorized.into_response(),
            Err(err) => return err.into_response(),
        }
    } else {
        Owner::Single
    };
    request.extensions_mut().insert(SignedIn(owner));
    next.run(request).await
}

/// The client's address, when the server recorded it (tests through `oneshot`
/// have none).
fn client_ip(request_parts: &axum::http::Extensions) -> Option<IpAddr> {
    request_parts
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// `POST /api/login`.
pub async fn login(State(state): State<AppState>, request: Request) -> AppResult<Response> {
    if state.sessions().is_none() {
        return Err(AppError::NotFound(
            "this helper has no family members: nobody needs to sign in".into(),
        ));
    }
    let client = client_ip(request.extensions());
    let body = axum::body::to_bytes(request.into_body(), 64 * 1024)
        .await
        .map_err(|_| AppError::BadRequest("the sign-in request is too large".into()))?;
    let LoginRequest { member, passphrase } = serde_json::from_slice(&body).map_err(|err| {
        AppError::BadRequest(format!("expected {{\"member\", \"passphrase\"}}: {err}"))
    })?;

    // A name no member can have (too long, or not a folder name) says nothing
    // about who is a member: refused as it is, before it costs a check or a record.
    if members::check_name(&member).is_err() {
        let shown: String = member.chars().take(members::MAX_NAME_LEN).collect();
        tracing::warn!(member = ?shown, client = ?client, "failed sign-in: not a member name");
        return Err(AppError::Unauthorized);
    }
    // Reserved before the check, so concurrent guesses cannot all pass the brake.
    let attempt = state
        .throttle()
        .begin(&member, client, Instant::now())
        .map_err(|refusal| AppError::TooManyAttempts(refusal.retry_after()))?;
    let found = state.members().get(&member).cloned();
    // An unknown name is checked against a decoy with the same parameters, within
    // the same cap, so neither timing nor load tells who is a member.
    let hash = found.as_ref().map_or_else(
        || members::decoy_hash().to_owned(),
        |m| m.passphrase_hash.clone(),
    );
    let matches = match state.verifier().verify(passphrase, hash).await {
        Ok(matches) => matches,
        Err(busy) => {
            attempt.not_checked();
            // Debug only: under a flood this is every request, and the cap is the point.
            tracing::debug!(member = ?member, client = ?client, "sign-in refused: {busy}");
            return Err(AppError::Busy("too many sign-ins at once"));
        }
    };
    let member = match found {
        Some(member) if matches => {
            attempt.succeeded();
            member
        }
        _ => {
            attempt.failed(Instant::now());
            tracing::warn!(member = ?member, client = ?client, "failed sign-in");
            return Err(AppError::Unauthorized);
        }
    };

    let token = {
        let state = state.clone();
        let (name, fingerprint) = (
            member.name.clone(),
            sessions::fingerprint(&member.passphrase_hash),
        );
        tokio::task::spawn_blocking(move || {
            state
                .sessions()
                .expect("family mode was checked above")
                .create(&name, &fingerprint, Timestamp::now())
        })
        .await
        .map_err(|err| AppError::Internal(err.into()))?
        .map_err(|err| AppError::Internal(err.into()))?
    };
    tracing::info!(member = %member.name, "signed in");
    let max_age = state.config().session_lifetime;
    let cookie = session_cookie(
        &state,
        token,
        cookie::time::Duration::seconds(i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX)),
    );
    let mut response = Json(member_info(&member)).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// `POST /api/logout`: ends the session (if any) and clears the cookie.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> AppResult<Response> {
    if let (Some(token), Some(_)) = (session_token(&state, &headers), state.sessions()) {
        let state = state.clone();
        tokio::task::spawn_blocking(move || {
            state.sessions().expect("checked above").delete(&token)
        })
        .await
        .map_err(|err| AppError::Internal(err.into()))?
        .map_err(|err| AppError::Internal(err.into()))?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&state, String::new(), cookie::time::Duration::ZERO),
    );
    Ok(response)
}

/// The session cookie: HttpOnly (scripts never see it), SameSite=Strict (no other
/// site's page sends it), Secure when the helper serves https.
fn session_cookie(state: &AppState, value: String, max_age: cookie::time::Duration) -> HeaderValue {
    let cookie = Cookie::build((cookie_name(state), value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.config().tls.is_some())
        .max_age(max_age)
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("a hex token makes a valid header value")
}

/// What the app shows of a member.
pub fn member_info(member: &Member) -> MemberInfo {
    MemberInfo {
        name: member.name.clone(),
        artist: member.artist.clone(),
        copyright: member.copyright.clone(),
    }
}
