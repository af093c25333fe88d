//! `GET /api/media?url=…`: the streaming proxy for `baseUrl` downloads (the
//! allow-list and the client are [`crate::media_proxy`]'s).

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::TryStreamExt;
use serde::Deserialize;
use url::Url;

use crate::error::{AppError, AppResult};
use crate::media_proxy::upstream_error;
use crate::state::AppState;

/// How many redirects one download may follow.
const MAX_REDIRECTS: usize = 5;

/// The query of `/api/media`.
#[derive(Debug, Deserialize)]
pub struct MediaQuery {
    /// The `baseUrl` plus its suffix (`=d`, `=dv`, `=w256-h256-c`).
    url: String,
}

/// Response headers worth passing through to the browser.
const PASSED_HEADERS: [HeaderName; 7] = [
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::CONTENT_RANGE,
    header::ACCEPT_RANGES,
    header::ETAG,
    header::LAST_MODIFIED,
    header::RETRY_AFTER,
];

/// `GET /api/media?url=…`
pub async fn media(
    State(state): State<AppState>,
    Query(query): Query<MediaQuery>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let requested =
        Url::parse(&query.url).map_err(|err| AppError::BadRequest(format!("not a URL: {err}")))?;
    let mut target = state.media_hosts().resolve(&requested)?;
    // Held until the body has been streamed (or the client went away).
    let permit = state
        .downloads()
        .clone()
        .try_acquire_owned()
        .map_err(|_| AppError::Busy("too many downloads at once"))?;

    let authorization = headers.get(header::AUTHORIZATION).cloned();
    let range = headers.get(header::RANGE).cloned();

    let mut redirects = 0;
    let upstream = loop {
        let mut request = state.http().get(target.clone());
        if let Some(value) = &authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        if let Some(value) = &range {
            request = request.header(header::RANGE, value);
        }
        let response = request.send().await.map_err(upstream_error)?;
        if !response.status().is_redirection() {
            break response;
        }
        redirects += 1;
        if redirects > MAX_REDIRECTS {
            return Err(AppError::Upstream("too many redirects".into()));
        }
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| AppError::Upstream("redirect without a location".into()))?;
        let next = target
            .join(location)
            .map_err(|_| AppError::Upstream("redirect to an invalid URL".into()))?;
        target = state.media_hosts().resolve(&next)?;
    };

    let status = StatusCode::from_u16(upstream.status().as_u16())
        .map_err(|_| AppError::Upstream("invalid upstream status".into()))?;
    let mut builder = Response::builder().status(status);
    for name in PASSED_HEADERS {
        if let Some(value) = upstream.headers().get(&name) {
            builder = builder.header(&name, value);
        }
    }
    builder = builder.header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let body = Body::from_stream(upstream.bytes_stream().map_err(move |err| {
        let _held = &permit;
        tracing::warn!(error = %err, "media download broke off");
        err
    }));
    builder
        .body(body)
        .map_err(|err| AppError::Internal(err.into()))
}
