//! `GET /api/media?url=…`: the streaming proxy for `baseUrl` downloads (the
//! allow-list, the client and the fetch loop are [`crate::media_proxy`]'s).
//!
//! Whatever the upstream sends, the answer is inert bytes to the browser: its
//! `Content-Type` is an `image/*` or `video/*` type or `application/octet-stream`,
//! `nosniff` stops the browser from guessing otherwise, a `sandbox` CSP with
//! `default-src 'none'` keeps it from running as the app even when opened as a
//! page, `Content-Disposition: attachment` makes a browser that navigates to it
//! save it rather than show it, and `Cross-Origin-Resource-Policy: same-origin`
//! keeps other sites from embedding it. (The app reads the bytes with `fetch`,
//! which none of this affects.)

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::TryStreamExt;
use serde::Deserialize;
use url::Url;

use crate::error::{AppError, AppResult};
use crate::media_proxy::{self, media_content_type};
use crate::state::AppState;

/// The query of `/api/media`.
#[derive(Debug, Deserialize)]
pub struct MediaQuery {
    /// The `baseUrl` plus its suffix (`=d`, `=dv`, `=w256-h256-c`).
    url: String,
}

/// Response headers passed through from the upstream as they are. (Not
/// `Content-Type`: it is checked by [`media_content_type`].)
const PASSED_HEADERS: [HeaderName; 6] = [
    header::CONTENT_LENGTH,
    header::CONTENT_RANGE,
    header::ACCEPT_RANGES,
    header::ETAG,
    header::LAST_MODIFIED,
    header::RETRY_AFTER,
];

/// The CSP of every proxied body: no scripts, no subresources, an opaque origin.
/// The guard layer keeps it rather than putting the app's CSP over it.
pub const MEDIA_CSP: &str = "sandbox; default-src 'none'";

/// `GET /api/media?url=…`
pub async fn media(
    State(state): State<AppState>,
    Query(query): Query<MediaQuery>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let requested =
        Url::parse(&query.url).map_err(|err| AppError::BadRequest(format!("not a URL: {err}")))?;
    // The policy first (fetch checks it again): a refused URL is a 403 even when
    // every download slot is taken.
    state.media_hosts().resolve(&requested)?;
    // Held until the body has been streamed (or the client went away).
    let permit = state
        .downloads()
        .clone()
        .try_acquire_owned()
        .map_err(|_| AppError::Busy("too many downloads at once"))?;
    let upstream = media_proxy::fetch(
        state.http(),
        state.media_hosts(),
        &requested,
        headers.get(header::AUTHORIZATION),
        headers.get(header::RANGE),
    )
    .await?;

    let status = StatusCode::from_u16(upstream.status().as_u16())
        .map_err(|_| AppError::Upstream("invalid upstream status".into()))?;
    let mut builder = Response::builder().status(status);
    for name in PASSED_HEADERS {
        if let Some(value) = upstream.headers().get(&name) {
            builder = builder.header(&name, value);
        }
    }
    builder = builder
        .header(
            header::CONTENT_TYPE,
            media_content_type(upstream.headers().get(header::CONTENT_TYPE)),
        )
        .header(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        )
        .header(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(MEDIA_CSP),
        )
        .header(
            HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        )
        .header(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        )
        .header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let body = Body::from_stream(upstream.bytes_stream().map_err(move |err| {
        let _held = &permit;
        tracing::warn!(error = %err, "media download broke off");
        err
    }));
    builder
        .body(body)
        .map_err(|err| AppError::Internal(err.into()))
}
