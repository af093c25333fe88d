//! The bytes go once: `POST …/fetch` (the helper downloads an item itself),
//! `GET /api/downloads/{id}` with `Range` (the ranges a plan reads, waiting for
//! bytes not yet arrived), `POST …/keep` (the planned patch, applied while the
//! download is copied to its final place). See [`crate::fetch`].

use api::{BatchId, DownloadId, FetchAnswer, FetchRequest, ItemId, KeepRequest};
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ApiPath;
use super::auth::SignedIn;
use crate::error::{AppError, AppResult};
use crate::fetch::Fetched;
use crate::state::AppState;

/// The longest range one read may ask for: more than any plan reads at once (a
/// movie's `moov` is at most 64 MiB).
pub const MAX_RANGE: u64 = 80 << 20;

/// The most a keep body may carry besides its header: new bytes are an EXIF block
/// (64 KB in a JPEG), a HEIF's `meta`, a movie's dates.
pub const MAX_KEEP_NEW_BYTES: u64 = 64 << 20;

/// `POST /api/batches/{batch}/items/{item_id}/fetch` ([`FetchRequest`], the bearer in
/// `Authorization`).
pub async fn fetch(
    State(state): State<AppState>,
    SignedIn(owner): SignedIn,
    ApiPath((batch, item)): ApiPath<(BatchId, ItemId)>,
    headers: HeaderMap,
    Json(request): Json<FetchRequest>,
) -> AppResult<Json<FetchAnswer>> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let fetched = state
        .fetcher()
        .fetch(&owner, &batch, &item, &request.url, bearer)
        .await?;
    Ok(Json(match fetched {
        Fetched::AlreadySaved(saved) => {
            tracing::info!(path = %saved.path, "fetch of an item already saved: nothing fetched");
            FetchAnswer::AlreadySaved(saved)
        }
        Fetched::Downloading(download) => FetchAnswer::Fetching(download.info()),
    }))
}

/// A `Range: bytes=A-B` (or `A-`) as `A..B+1` (or `A..` unbounded).
fn requested_range(headers: &HeaderMap) -> Result<(u64, Option<u64>), AppError> {
    let bad = || AppError::BadRequest("send one Range: bytes=START-END".into());
    let value = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(bad)?;
    let spec = value.trim().strip_prefix("bytes=").ok_or_else(bad)?;
    let (start, end) = spec.split_once('-').ok_or_else(bad)?;
    let start: u64 = start.trim().parse().map_err(|_| bad())?;
    let end = match end.trim() {
        "" => None,
        end => {
            let end: u64 = end.parse().map_err(|_| bad())?;
            if end < start {
                return Err(bad());
            }
            Some(end.saturating_add(1))
        }
    };
    Ok((start, end))
}

/// `GET /api/downloads/{download}` with `Range`: those bytes (206), once they are
/// in. Without `Range`: how far the download is ([`api::DownloadInfo`]), at once.
pub async fn read(
    State(state): State<AppState>,
    SignedIn(owner): SignedIn,
    ApiPath(id): ApiPath<DownloadId>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let download = state.fetcher().get(&owner, &id)?;
    if !headers.contains_key(header::RANGE) {
        let mut response = Json(download.info()).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return Ok(response);
    }
    let (start, end) = requested_range(&headers)?;
    let end = end.unwrap_or(u64::MAX).min(start.saturating_add(MAX_RANGE));
    let progress = download.wait_for(end).await?;
    let total = progress.total.unwrap_or(progress.received);
    if start >= total {
        let mut response = (
            StatusCode::RANGE_NOT_SATISFIABLE,
            Json(api::ErrorBody {
                error: format!("the download has {total} bytes"),
                kind: None,
            }),
        )
            .into_response();
        if let Ok(value) = HeaderValue::from_str(&format!("bytes */{total}")) {
            response.headers_mut().insert(header::CONTENT_RANGE, value);
        }
        return Ok(response);
    }
    let end = end.min(total);
    let bytes = tokio::task::spawn_blocking(move || download.read_blocking(start..end))
        .await
        .map_err(|e| AppError::Internal(e.into()))??;
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    if let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{}/{total}", end - 1)) {
        h.insert(header::CONTENT_RANGE, value);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `POST /api/batches/{batch}/items/{item_id}/keep` (a [`KeepRequest`]).
pub async fn keep(
    State(state): State<AppState>,
    SignedIn(owner): SignedIn,
    ApiPath((batch, item)): ApiPath<(BatchId, ItemId)>,
    body: Bytes,
) -> AppResult<impl IntoResponse> {
    let request = KeepRequest::decode(&body, MAX_KEEP_NEW_BYTES)
        .map_err(|err| AppError::BadRequest(err.to_string()))?;
    drop(body);
    let (outcome, timings) = state.fetcher().keep(&owner, &batch, &item, request).await?;
    tracing::info!(path = %outcome.path, status = ?outcome.status, size = outcome.size, "kept");
    // Where the keep's time went, for DevTools and `scripts/bench-app`.
    let server_timing = [(
        header::HeaderName::from_static("server-timing"),
        timings.header_value(),
    )];
    Ok((server_timing, Json(outcome)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str) -> Result<(u64, Option<u64>), AppError> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        requested_range(&headers)
    }

    #[test]
    fn ranges_read_as_exclusive_ends() {
        assert_eq!(range("bytes=0-262143").unwrap(), (0, Some(262_144)));
        assert_eq!(range("bytes=100-").unwrap(), (100, None));
        for bad in [
            "bytes=5-1",
            "bytes=-5",
            "items=0-1",
            "bytes=a-b",
            "bytes=0-1,3-4",
        ] {
            assert!(range(bad).is_err(), "{bad}");
        }
        assert!(requested_range(&HeaderMap::new()).is_err());
    }
}
