//! HTTP calls: the helper's `/api` and the Picker API (Google's or the emulator's).
//!
//! The Picker JSON calls go straight from the browser to the API; media bytes go
//! through the helper's `/api/media` proxy (Google sends no CORS headers on them).

use gloo_net::http::{Request, RequestBuilder, Response};
use js_sys::{ArrayBuffer, Uint8Array};
use picker::{
    CreateSessionRequest, GoogleError, ListMediaItemsResponse, MediaSuffix, PickedMediaItem,
    PickingSession,
};
use serde::de::DeserializeOwned;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

pub use api::{BatchId, ClientConfig, ItemId, SaveOutcome, SaveStatus, SavedFile, UploadQuery};

/// What went wrong with a call, in words a person can act on.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status (0 when the request never got an answer).
    pub status: u16,
    /// Short explanation.
    pub message: String,
}

impl ApiError {
    fn network(err: impl std::fmt::Display) -> Self {
        ApiError {
            status: 0,
            message: format!("network error: {err}"),
        }
    }

    /// The access token is missing, expired or revoked: sign in again.
    pub fn needs_sign_in(&self) -> bool {
        self.status == 401
    }

    /// Worth retrying as is (server trouble, rate limits, dropped connections).
    pub fn is_transient(&self) -> bool {
        matches!(self.status, 0 | 429 | 500 | 502 | 503 | 504)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.status == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "{} (HTTP {})", self.message, self.status)
        }
    }
}

/// Reads an error answer: Google's JSON error shape, the helper's `{"error": …}`,
/// or the status line.
async fn error_from(response: Response) -> ApiError {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let message = if let Ok(google) = serde_json::from_str::<GoogleError>(&text) {
        format!("{}: {}", google.error.status, google.error.message)
    } else if let Ok(helper) = serde_json::from_str::<api::ErrorBody>(&text) {
        helper.error
    } else if !response.status_text().is_empty() {
        response.status_text()
    } else {
        "request failed".to_owned()
    };
    ApiError { status, message }
}

/// Sends `request`: the JSON body of a successful answer, or the error an
/// unsuccessful one carries.
async fn fetch_json<T: DeserializeOwned>(request: Request) -> Result<T, ApiError> {
    let response = request.send().await.map_err(ApiError::network)?;
    if !response.ok() {
        return Err(error_from(response).await);
    }
    response.json::<T>().await.map_err(|err| ApiError {
        status: response.status(),
        message: format!("unexpected answer: {err}"),
    })
}

async fn send_json<T: DeserializeOwned>(request: RequestBuilder) -> Result<T, ApiError> {
    fetch_json(request.build().map_err(ApiError::network)?).await
}

/// Signs a family member in to the helper (the session rides in an HttpOnly cookie).
pub async fn login(member: &str, passphrase: &str) -> Result<api::MemberInfo, ApiError> {
    let request = Request::post(api::routes::LOGIN)
        .header(api::CSRF_HEADER, api::CSRF_VALUE)
        .json(&api::LoginRequest {
            member: member.to_owned(),
            passphrase: passphrase.to_owned(),
        })
        .map_err(ApiError::network)?;
    fetch_json(request).await
}

/// Signs the member out of the helper.
pub async fn logout() -> Result<(), ApiError> {
    let response = Request::post(api::routes::LOGOUT)
        .header(api::CSRF_HEADER, api::CSRF_VALUE)
        .send()
        .await
        .map_err(ApiError::network)?;
    if response.ok() {
        Ok(())
    } else {
        Err(error_from(response).await)
    }
}

/// Everything the signed-in member (or the one user) has saved, newest first,
/// page after page.
pub async fn history() -> Result<Vec<SavedFile>, ApiError> {
    let mut query = api::HistoryQuery::default();
    let mut files = Vec::new();
    loop {
        let page: api::HistoryPage = send_json(Request::get(&api::routes::history(&query))).await?;
        files.extend(page.items);
        match page.next {
            Some(next) => query.before = Some(next),
            None => return Ok(files),
        }
    }
}

/// Loads the helper's configuration.
pub async fn load_config() -> Result<ClientConfig, ApiError> {
    send_json(Request::get(api::routes::CONFIG)).await
}

/// What the helper already saved for `batch`.
pub async fn batch_items(batch: &BatchId) -> Result<Vec<SavedFile>, ApiError> {
    let answer: api::BatchItems = send_json(Request::get(&api::routes::batch(batch))).await?;
    Ok(answer.items)
}

/// The Picker API, authorised by one access token.
#[derive(Debug, Clone)]
pub struct PickerApi {
    base: String,
    bearer: String,
}

impl PickerApi {
    /// A client for `base` (ending in `/v1`) with `access_token`.
    pub fn new(base: &str, access_token: &str) -> Self {
        PickerApi {
            base: base.to_owned(),
            bearer: format!("Bearer {access_token}"),
        }
    }

    /// `sessions.create`, with a fresh `requestId` so a retried create cannot open
    /// two sessions.
    pub async fn create_session(&self, request_id: &str) -> Result<PickingSession, ApiError> {
        let url = format!(
            "{}?requestId={request_id}",
            picker::sessions_url(&self.base)
        );
        let body = CreateSessionRequest::default();
        let request = Request::post(&url)
            .header("Authorization", &self.bearer)
            .json(&body)
            .map_err(ApiError::network)?;
        fetch_json(request).await
    }

    /// `sessions.get`.
    pub async fn get_session(&self, id: &str) -> Result<PickingSession, ApiError> {
        send_json(
            Request::get(&picker::session_url(&self.base, id))
                .header("Authorization", &self.bearer),
        )
        .await
    }

    /// `sessions.delete`.
    pub async fn delete_session(&self, id: &str) -> Result<(), ApiError> {
        let response = Request::delete(&picker::session_url(&self.base, id))
            .header("Authorization", &self.bearer)
            .send()
            .await
            .map_err(ApiError::network)?;
        if response.ok() {
            Ok(())
        } else {
            Err(error_from(response).await)
        }
    }

    /// Every page of `mediaItems.list`.
    pub async fn list_all(&self, session_id: &str) -> Result<Vec<PickedMediaItem>, ApiError> {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let url = picker::media_items_url(
                &self.base,
                session_id,
                Some(picker::MAX_PAGE_SIZE),
                token.as_deref(),
            );
            let page: ListMediaItemsResponse =
                send_json(Request::get(&url).header("Authorization", &self.bearer)).await?;
            items.extend(page.media_items);
            match page.next_page_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => break,
            }
        }
        Ok(items)
    }

    /// The helper-proxied URL of an item's bytes.
    pub fn media_url(item: &PickedMediaItem, suffix: MediaSuffix) -> String {
        api::routes::media(&picker::media_url(&item.media_file.base_url, suffix))
    }

    /// Downloads media bytes through the helper, as a JS `ArrayBuffer` (so the
    /// pixel data need not be copied through WASM memory).
    pub async fn fetch_media(&self, proxied_url: &str) -> Result<ArrayBuffer, ApiError> {
        let response = Request::get(proxied_url)
            .header("Authorization", &self.bearer)
            .send()
            .await
            .map_err(ApiError::network)?;
        if !response.ok() {
            return Err(error_from(response).await);
        }
        let raw = web_sys::Response::from(response);
        let promise = raw
            .array_buffer()
            .map_err(|err| ApiError::network(js_error(&err)))?;
        let buffer = JsFuture::from(promise)
            .await
            .map_err(|err| ApiError::network(js_error(&err)))?;
        buffer
            .dyn_into::<ArrayBuffer>()
            .map_err(|_| ApiError::network("the download was not binary"))
    }
}

/// Uploads one fixed file to the helper, which saves it into the library.
pub async fn upload(
    batch: &BatchId,
    item: &ItemId,
    query: &UploadQuery,
    body: &web_sys::Blob,
) -> Result<SaveOutcome, ApiError> {
    let request = Request::put(&api::routes::upload(batch, item, query))
        .header(api::CSRF_HEADER, api::CSRF_VALUE)
        .header("Content-Type", "application/octet-stream")
        .body(body.clone())
        .map_err(ApiError::network)?;
    fetch_json(request).await
}

/// Copies a JS buffer into WASM memory.
pub fn to_vec(buffer: &ArrayBuffer) -> Vec<u8> {
    Uint8Array::new(buffer).to_vec()
}

/// A JS exception as text.
pub fn js_error(value: &wasm_bindgen::JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|err| String::from(err.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| "unknown error".to_owned())
}
