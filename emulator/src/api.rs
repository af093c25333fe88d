//! The four Picker API calls (`sessions.create/get/delete`, `mediaItems.list`) with
//! the paths, fields, status codes and JSON error bodies of PICKER-API.md §1–3.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use jiff::Timestamp;
use picker::{
    ErrorStatus, GoogleError, ListMediaItemsResponse, PickedMediaItem, PickingConfig,
    PickingSession, PollingConfig,
};
use serde_json::Value;

use super::{
    Bearer, Emulator, PICKER_API_PATH, PICKER_UI_PATH, Session, Token, bearer, clock, faults, html,
    origin_of, random_id,
};

/// Largest `maxItemCount` accepted (PICKER-API.md: default 2000, "to pick more,
/// create another session"; the stricter reading of an unsettled bound).
pub(super) const MAX_ITEM_COUNT_LIMIT: i64 = picker::DEFAULT_MAX_ITEM_COUNT;

/// Standard query parameters every Google API accepts besides the method's own.
const SYSTEM_PARAMS: [&str; 11] = [
    "key",
    "oauth_token",
    "fields",
    "alt",
    "prettyPrint",
    "quotaUser",
    "access_token",
    "$.xgafv",
    "callback",
    "upload_protocol",
    "uploadType",
];

pub(super) fn routes(emu: Emulator) -> Router<Emulator> {
    let not_found = || any(|uri: Uri| async move { html::google_404(uri.path()) });
    Router::new()
        .route(
            &format!("{PICKER_API_PATH}/sessions"),
            post(create).fallback(|uri: Uri| async move { html::google_404(uri.path()) }),
        )
        .route(
            &format!("{PICKER_API_PATH}/sessions/{{id}}"),
            get(get_session)
                .delete(delete_session)
                .fallback(|uri: Uri| async move { html::google_404(uri.path()) }),
        )
        .route(
            &format!("{PICKER_API_PATH}/mediaItems"),
            get(list).fallback(|uri: Uri| async move { html::google_404(uri.path()) }),
        )
        // Anything else under the API (e.g. /sessions/{id}/mediaItems) is Google's
        // bare HTML 404.
        .route(&format!("{PICKER_API_PATH}/{{*rest}}"), not_found())
        .route(PICKER_API_PATH, not_found())
        .layer(axum::middleware::from_fn_with_state(
            emu,
            faults::api_faults,
        ))
        .layer(axum::middleware::from_fn(faults::cors))
}

/// A Google API error: answered as Google's JSON error body with its HTTP status
/// (and, on 401, the `WWW-Authenticate` challenge Google sends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ApiError {
    status: ErrorStatus,
    message: String,
}

impl ApiError {
    pub(super) fn new(status: ErrorStatus, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error(self.status, &self.message)
    }
}

/// A Google JSON error response.
pub(super) fn error(status: ErrorStatus, message: &str) -> Response {
    let code =
        StatusCode::from_u16(status.http_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = json_response(code, &GoogleError::new(status, message));
    if status == ErrorStatus::Unauthenticated {
        let challenge = if message.contains("missing") {
            "Bearer realm=\"https://accounts.google.com/\""
        } else {
            "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\""
        };
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    res
}

fn json_response<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec_pretty(value) {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn invalid(message: &str) -> ApiError {
    ApiError::new(ErrorStatus::InvalidArgument, message)
}

fn not_found() -> ApiError {
    ApiError::new(ErrorStatus::NotFound, "Requested entity was not found.")
}

type Pairs = Vec<(String, String)>;

fn query_pairs(query: Option<String>) -> Pairs {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn query_param<'a>(pairs: &'a Pairs, name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Refuses query parameters the method does not have, as Google's frontends do.
fn check_params(pairs: &Pairs, allowed: &[&str]) -> Result<(), ApiError> {
    match pairs
        .iter()
        .find(|(k, _)| !allowed.contains(&k.as_str()) && !SYSTEM_PARAMS.contains(&k.as_str()))
    {
        Some((k, _)) => Err(invalid(&format!(
            "Invalid JSON payload received. Unknown name \"{k}\": Cannot bind query parameter. \
             Field '{k}' could not be found in request message."
        ))),
        None => Ok(()),
    }
}

/// The caller's token: `Authorization: Bearer …` (or the `access_token` query
/// parameter Google also honours, or its older name `oauth_token`). 401 when missing, unknown or expired; 403 when
/// it lacks the Picker scope.
fn authenticate(emu: &Emulator, headers: &HeaderMap, pairs: &Pairs) -> Result<Token, ApiError> {
    let token = match bearer(headers) {
        Bearer::Token(t) => t,
        // A header that is not a bearer token is an invalid credential.
        Bearer::Malformed => return Err(unauthenticated_invalid()),
        Bearer::Missing => {
            match query_param(pairs, "access_token").or_else(|| query_param(pairs, "oauth_token")) {
                Some(t) => t.to_owned(),
                None => {
                    return Err(ApiError::new(
                        ErrorStatus::Unauthenticated,
                        "Request is missing required authentication credential. Expected OAuth 2 access token, \
                     login cookie or other valid authentication credential. \
                     See https://developers.google.com/identity/sign-in/web/devconsole-project.",
                    ));
                }
            }
        }
    };
    let now = emu.now();
    let found = emu.state().tokens.get(&token).cloned();
    let Some(found) = found.filter(|t| t.expires > now) else {
        return Err(unauthenticated_invalid());
    };
    if !found.scopes.iter().any(|s| s == picker::SCOPE) {
        return Err(ApiError::new(
            ErrorStatus::PermissionDenied,
            "Request had insufficient authentication scopes.",
        ));
    }
    Ok(found)
}

/// A Picker API call's caller: the access token it presented (checked as
/// [`authenticate`] says) and the query's parameters.
pub(super) struct Authenticated {
    token: Token,
    params: Pairs,
}

impl FromRequestParts<Emulator> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, emu: &Emulator) -> Result<Self, ApiError> {
        let params = query_pairs(parts.uri.query().map(str::to_owned));
        let token = authenticate(emu, &parts.headers, &params)?;
        Ok(Authenticated { token, params })
    }
}

fn unauthenticated_invalid() -> ApiError {
    ApiError::new(
        ErrorStatus::Unauthenticated,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or \
         other valid authentication credential. \
         See https://developers.google.com/identity/sign-in/web/devconsole-project.",
    )
}

impl Emulator {
    fn session_json(&self, s: &Session, origin: &str, now: Timestamp) -> PickingSession {
        let polling_config = s.picked.is_none().then(|| PollingConfig {
            poll_interval: Some(picker::Duration(self.inner.config.poll_interval)),
            timeout_in: Some(picker::Duration(clock::until(
                now,
                s.picking_deadline.min(s.expire),
            ))),
        });
        PickingSession {
            id: s.id.clone(),
            picker_uri: format!("{origin}{PICKER_UI_PATH}{}", s.picker_id),
            polling_config,
            expire_time: Some(s.expire),
            picking_config: Some(PickingConfig {
                max_item_count: Some(s.max_items),
            }),
            media_items_set: s.picked.is_some(),
        }
    }
}

/// Reads `pickingConfig.maxItemCount` from a create body, Google-strictly.
fn parse_create_body(body: &[u8]) -> Result<i64, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(picker::DEFAULT_MAX_ITEM_COUNT);
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        invalid(&format!(
            "Invalid JSON payload received. Unexpected token.\n{e}"
        ))
    })?;
    let Value::Object(fields) = value else {
        return Err(invalid(
            "Invalid JSON payload received. Expected an object at the root.",
        ));
    };
    const OUTPUT_ONLY: [&str; 5] = [
        "id",
        "pickerUri",
        "pollingConfig",
        "expireTime",
        "mediaItemsSet",
    ];
    let mut max = picker::DEFAULT_MAX_ITEM_COUNT;
    for (key, value) in &fields {
        match key.as_str() {
            // Output-only fields are ignored on input (AIP-203).
            k if OUTPUT_ONLY.contains(&k) => {}
            "pickingConfig" => max = parse_picking_config(value)?,
            other => {
                return Err(invalid(&format!(
                    "Invalid JSON payload received. Unknown name \"{other}\": Cannot find field."
                )));
            }
        }
    }
    Ok(max)
}

fn parse_picking_config(value: &Value) -> Result<i64, ApiError> {
    let Value::Object(fields) = value else {
        return match value {
            Value::Null => Ok(picker::DEFAULT_MAX_ITEM_COUNT),
            _ => Err(invalid(&format!(
                "Invalid JSON payload received. Unknown name \"pickingConfig\": Proto field is not repeating, cannot start list. {value}"
            ))),
        };
    };
    let mut max = 0i64;
    for (key, v) in fields {
        if key != "maxItemCount" {
            return Err(invalid(&format!(
                "Invalid JSON payload received. Unknown name \"{key}\" at 'session.picking_config': Cannot find field."
            )));
        }
        let bad = || {
            invalid(&format!(
                "Invalid value at 'session.picking_config.max_item_count' (TYPE_INT64), {v}"
            ))
        };
        max = match v {
            Value::String(s) => s.parse::<i64>().map_err(|_| bad())?,
            Value::Number(n) => n.as_i64().ok_or_else(bad)?,
            Value::Null => 0,
            _ => return Err(bad()),
        };
    }
    if max < 0 {
        return Err(invalid("pickingConfig.maxItemCount must not be negative."));
    }
    if max > MAX_ITEM_COUNT_LIMIT {
        return Err(invalid(&format!(
            "pickingConfig.maxItemCount must not exceed {MAX_ITEM_COUNT_LIMIT}."
        )));
    }
    // 0 is proto3's "unset": the default applies.
    Ok(if max == 0 {
        picker::DEFAULT_MAX_ITEM_COUNT
    } else {
        max
    })
}

async fn create(
    State(emu): State<Emulator>,
    Authenticated {
        token,
        params: pairs,
    }: Authenticated,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_params(&pairs, &["requestId"])?;
    let request_id = query_param(&pairs, "requestId").filter(|r| !r.is_empty());
    if let Some(id) = request_id
        && !picker::is_valid_request_id(id)
    {
        return Err(invalid(
            "Invalid requestId: it must be a UUID (8-4-4-4-12 hexadecimal digits).",
        ));
    }
    let max_items = parse_create_body(&body)?;
    let origin = origin_of(&headers);
    let now = emu.now();
    let early = emu.draw_early_expiry();
    let config = &emu.inner.config;
    let mut st = emu.state();
    // Sessions a day past their expiry are forgotten (they answer 404 from then on).
    st.sessions
        .retain(|_, s| clock::until(s.expire, now) < std::time::Duration::from_secs(86_400));
    let live_ids: std::collections::HashSet<String> = st.sessions.keys().cloned().collect();
    st.request_ids.retain(|_, sid| live_ids.contains(sid));
    st.pickers.retain(|_, sid| live_ids.contains(sid));

    if let Some(id) = request_id {
        let key = (token.account, id.to_ascii_lowercase());
        if let Some(existing) = st
            .request_ids
            .get(&key)
            .and_then(|sid| st.sessions.get(sid))
        {
            // The same requestId creates nothing new: the first answer again.
            return Ok(json_response(
                StatusCode::OK,
                &emu.session_json(existing, &origin, now),
            ));
        }
    }
    let open = st
        .sessions
        .values()
        .filter(|s| s.account == token.account && s.expire > now)
        .count();
    if open >= config.max_open_sessions {
        return Err(ApiError::new(
            ErrorStatus::ResourceExhausted,
            "Too many open sessions for this user. Delete sessions that are no longer needed.",
        ));
    }
    let lifetime = if early {
        config
            .faults
            .early_expiry_after
            .min(config.session_lifetime)
    } else {
        config.session_lifetime
    };
    let expire = clock::add(now, lifetime);
    let session = Session {
        id: uuid::Uuid::new_v4().to_string(),
        account: token.account,
        expire,
        picking_deadline: clock::add(now, config.picking_timeout).min(expire),
        max_items,
        picker_id: random_id(24),
        picked: None,
        page_tokens: HashMap::new(),
    };
    if let Some(id) = request_id {
        st.request_ids
            .insert((token.account, id.to_ascii_lowercase()), session.id.clone());
    }
    st.pickers
        .insert(session.picker_id.clone(), session.id.clone());
    let out = emu.session_json(&session, &origin, now);
    st.sessions.insert(session.id.clone(), session);
    Ok(json_response(StatusCode::OK, &out))
}

/// The caller's session, or the error Google gives: 404 for unknown, another
/// account's, deleted or expired (what another public client sees for an expired
/// one, PICKER-API.md §1; clients treat 403 alike).
fn own_session<'a>(
    sessions: &'a HashMap<String, Session>,
    id: &str,
    token: &Token,
    now: Timestamp,
) -> Result<&'a Session, ApiError> {
    let Some(s) = sessions.get(id).filter(|s| s.account == token.account) else {
        return Err(not_found());
    };
    if s.expire <= now {
        return Err(not_found());
    }
    Ok(s)
}

async fn get_session(
    State(emu): State<Emulator>,
    Authenticated {
        token,
        params: pairs,
    }: Authenticated,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    check_params(&pairs, &[])?;
    let Ok(Path(id)) = id else {
        return Err(not_found());
    };
    let now = emu.now();
    let st = emu.state();
    let session = own_session(&st.sessions, &id, &token, now)?;
    Ok(json_response(
        StatusCode::OK,
        &emu.session_json(session, &origin_of(&headers), now),
    ))
}

async fn delete_session(
    State(emu): State<Emulator>,
    Authenticated {
        token,
        params: pairs,
    }: Authenticated,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    check_params(&pairs, &[])?;
    let Ok(Path(id)) = id else {
        return Err(not_found());
    };
    let mut st = emu.state();
    // Deleting an expired session is allowed: it is how clients clean up.
    if st
        .sessions
        .get(&id)
        .is_none_or(|s| s.account != token.account)
    {
        return Err(not_found());
    }
    if let Some(s) = st.sessions.remove(&id) {
        st.pickers.remove(&s.picker_id);
        st.request_ids.retain(|_, sid| *sid != id);
    }
    Ok(json_response(StatusCode::OK, &serde_json::json!({})))
}

async fn list(
    State(emu): State<Emulator>,
    Authenticated {
        token,
        params: pairs,
    }: Authenticated,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_params(&pairs, &["sessionId", "pageSize", "pageToken"])?;
    let Some(session_id) = query_param(&pairs, "sessionId").filter(|s| !s.is_empty()) else {
        return Err(invalid(
            "Request contains an invalid argument: sessionId is required.",
        ));
    };
    let page_size = match query_param(&pairs, "pageSize") {
        None | Some("") => 0,
        Some(raw) => match raw.parse::<i32>() {
            Ok(n) => n,
            Err(_) => {
                return Err(invalid(&format!(
                    "Invalid value at 'page_size' (TYPE_INT32), \"{raw}\""
                )));
            }
        },
    };
    if page_size < 0 {
        return Err(invalid(
            "Request contains an invalid argument: pageSize must not be negative.",
        ));
    }
    let page_size = match page_size {
        0 => picker::DEFAULT_PAGE_SIZE,
        n => n.min(picker::MAX_PAGE_SIZE),
    } as usize;
    let page_token = query_param(&pairs, "pageToken").filter(|t| !t.is_empty());

    let now = emu.now();
    let origin = origin_of(&headers);
    let mut st = emu.state();
    let session = own_session(&st.sessions, session_id, &token, now)?.clone();
    let Some(picked) = &session.picked else {
        return Err(ApiError::new(
            ErrorStatus::FailedPrecondition,
            "The user has not finished picking media items for this session yet (mediaItemsSet is false).",
        ));
    };
    let offset = match page_token {
        None => 0,
        Some(t) => match session.page_tokens.get(t) {
            Some(&o) => o,
            None => {
                return Err(invalid(
                    "Request contains an invalid argument: the page token is invalid.",
                ));
            }
        },
    };
    // A page may hold fewer items than asked (PICKER-API.md §1): the first page of a
    // multi-page listing holds one fewer, so clients that stop on a short (or, with
    // pageSize=1, empty) page are caught here rather than by Google.
    let take = if page_token.is_none() && picked.len() > page_size {
        page_size - 1
    } else {
        page_size
    };
    let end = (offset + take).min(picked.len());
    let media_items: Vec<PickedMediaItem> = picked[offset.min(end)..end]
        .iter()
        .filter_map(|&index| emu.picked_item(index, &session, &origin, now))
        .collect();
    let next_page_token = (end < picked.len()).then(|| {
        let t = random_id(32);
        if let Some(s) = st.sessions.get_mut(&session.id) {
            s.page_tokens.insert(t.clone(), end);
        }
        t
    });
    Ok(json_response(
        StatusCode::OK,
        &ListMediaItemsResponse {
            media_items,
            next_page_token,
        },
    ))
}

impl Emulator {
    fn picked_item(
        &self,
        index: usize,
        session: &Session,
        origin: &str,
        now: Timestamp,
    ) -> Option<PickedMediaItem> {
        let item = self.library().get(index)?;
        Some(PickedMediaItem {
            id: item.id.clone(),
            create_time: (!self.hides_create_time(index)).then_some(item.create_time),
            kind: item.kind,
            media_file: picker::MediaFile {
                base_url: self.base_url(origin, &session.id, &item.id, now),
                mime_type: item.mime_type.to_owned(),
                filename: item.filename.clone(),
                media_file_metadata: Some(item.metadata().clone()),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(r: Result<i64, ApiError>) -> Result<i64, u16> {
        r.map_err(|e| e.status.http_code())
    }

    #[test]
    fn create_body_rules() {
        assert_eq!(status_of(parse_create_body(b"")), Ok(2000));
        assert_eq!(status_of(parse_create_body(b"{}")), Ok(2000));
        assert_eq!(
            status_of(parse_create_body(
                br#"{"pickingConfig":{"maxItemCount":"5"}}"#
            )),
            Ok(5)
        );
        assert_eq!(
            status_of(parse_create_body(
                br#"{"pickingConfig":{"maxItemCount":7}}"#
            )),
            Ok(7)
        );
        assert_eq!(
            status_of(parse_create_body(
                br#"{"pickingConfig":{"maxItemCount":"0"}}"#
            )),
            Ok(2000)
        );
        assert_eq!(
            status_of(parse_create_body(br#"{"id":"x","mediaItemsSet":true}"#)),
            Ok(2000)
        );
        for bad in [
            &br#"{"pickingConfig":{"maxItemCount":"-1"}}"#[..],
            br#"{"pickingConfig":{"maxItemCount":"2001"}}"#,
            br#"{"pickingConfig":{"maxItemCount":"many"}}"#,
            br#"{"pickingConfig":{"maxItemCount":1.5}}"#,
            br#"{"pickingConfig":{"other":1}}"#,
            br#"{"colour":"blue"}"#,
            b"[]",
            b"{",
        ] {
            assert_eq!(
                status_of(parse_create_body(bad)),
                Err(400),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
