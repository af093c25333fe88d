//! Saving and getting back: `PUT` an item into a batch (a whole file in one
//! request), a batch's items, its zip, and the history, a page at a time.

use api::{BatchId, BatchItems, HistoryPage, HistoryQuery, ItemId, UploadQuery};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth::SignedIn;
use super::{ApiPath, ApiQuery};
use crate::error::{AppError, AppResult};
use crate::library::{self, SaveRequest, batch_zip};
use crate::state::AppState;
use crate::upload_body::{self, BodyError};

/// `PUT /api/batches/{batch}/items/{item_id}?filename=…&capture_time=…`
pub async fn upload(
    State(state): State<AppState>,
    SignedIn(owner): SignedIn,
    ApiPath((batch, item_id)): ApiPath<(BatchId, ItemId)>,
    ApiQuery(query): ApiQuery<UploadQuery>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> AppResult<impl IntoResponse> {
    let limits = &state.config().limits;
    if announced_length(&headers).is_some_and(|announced| announced > limits.max_upload_size) {
        return Err(too_large(limits.max_upload_size));
    }
    let _permit = state
        .uploads()
        .clone()
        .try_acquire_owned()
        .map_err(|_| AppError::Busy("too many uploads at once"))?;
    let request = SaveRequest {
        batch,
        item_id,
        filename: query.filename,
        capture_time: query.capture_time,
    };
    let body = upload_body::limited(
        body.into_data_stream(),
        limits.max_upload_size,
        limits.body_timeout,
    );
    let (outcome, timings) = match state.library().save_timed(&owner, request, body).await {
        Ok(saved) => saved,
        Err(library::Error::UploadBroke(cause)) => {
            return Err(match cause.downcast_ref::<BodyError>() {
                Some(BodyError::TooLarge) => too_large(limits.max_upload_size),
                _ => AppError::BadRequest(library::Error::UploadBroke(cause).to_string()),
            });
        }
        Err(err) => return Err(err.into()),
    };
    tracing::info!(path = %outcome.path, status = ?outcome.status, size = outcome.size, "upload");
    // Where the save's time went, for DevTools and `scripts/bench-app`.
    let server_timing = [(
        header::HeaderName::from_static("server-timing"),
        timings.header_value(),
    )];
    Ok((server_timing, Json(outcome)))
}

fn announced_length(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

fn too_large(max: u64) -> AppError {
    AppError::TooLarge(format!(
        "the file is larger than this helper accepts ({max} bytes; see --max-upload-size); nothing was saved"
    ))
}

/// `GET /api/batches/{batch}`: what the batch holds so far.
pub async fn items(
    State(state): State<AppState>,
    SignedIn(owner): SignedIn,
    ApiPath(batch): ApiPath<BatchId>,
) -> AppResult<Json<BatchItems>> {
    let items = state.library().batch_files(&owner, &batch).await?;
    Ok(Json(BatchItems { batch, items }))
}

/// `GET /api/batches/{batch}/zip`: the batch as one streamed zip.
pub async fn zip(
    State(state): State<AppState>,
    SignedIn(owner): SignedIn,
    ApiPath(batch): ApiPath<BatchId>,
) -> AppResult<Response> {
    let plan = match state.library().zip_plan(&owner, &batch).await? {
        batch_zip::Planned::Ready(plan) => plan,
        batch_zip::Planned::Empty => {
            return Err(AppError::NotFound("this batch has no saved files".into()));
        }
        // Better a clear 404 than a zip that breaks off.
        batch_zip::Planned::Missing(path) => {
            return Err(AppError::NotFound(format!(
                "{path} is no longer in the library folder"
            )));
        }
    };
    // A batch id is a path-free token: safe in a header as it is.
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename=\"keepsake-{batch}.zip\""))
            .map_err(|err| AppError::Internal(err.into()))?;
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/zip"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::CONTENT_LENGTH, HeaderValue::from(plan.len())),
        ],
        Body::from_stream(plan.stream()),
    )
        .into_response())
}

/// `GET /api/history?limit=…&before=…`: one page of what was saved, newest first;
/// `next` asks for the page after it.
pub async fn history(
    State(state): State<AppState>,
    SignedIn(owner): SignedIn,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> AppResult<Json<HistoryPage>> {
    let limit = query.limit();
    Ok(Json(
        state.library().history(&owner, query.before, limit).await?,
    ))
}
