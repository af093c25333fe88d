//! HTTP calls: the helper's `/api` and the Picker API (Google's or the emulator's).
//!
//! The Picker JSON calls go straight from the browser to the API. Media bytes
//! never come to the tab: the helper fetches each item itself
//! ([`fetch_item`]), the tab reads only the ranges its plan needs
//! ([`read_range`]) and sends the patch ([`keep`]). Thumbnails alone come through
//! the helper's `/api/media` proxy (Google sends no CORS headers on them).

use std::ops::Range;

use gloo_net::http::{Request, RequestBuilder, Response};
use js_sys::{ArrayBuffer, Uint8Array};
use picker::retry::{self, RetryEnv, RetryPolicy, Retryable};
use picker::{
    CreateSessionRequest, GoogleError, ListMediaItemsResponse, MediaSuffix, Pages, PickedMediaItem,
    PickingSession,
};
use serde::de::DeserializeOwned;
use std::time::Duration;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

pub use api::{
    BatchId, ClientConfig, DownloadId, DownloadInfo, ErrorKind, FetchAnswer, FetchRequest, ItemId,
    KeepRequest, SaveOutcome, SaveStatus, SavedFile,
};

/// What went wrong with a call, in words a person can act on, and in data the
/// retry policy can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// No answer: the request never got through, or the body broke off.
    #[error("network error: {0}")]
    Network(String),
    /// Google's JSON error shape (`{"error":{"code","status","message"}}`).
    #[error("{status}: {message} (HTTP {code})")]
    Google {
        /// HTTP status.
        code: u16,
        /// Google's canonical status name, e.g. `RESOURCE_EXHAUSTED`.
        status: String,
        /// Google's explanation.
        message: String,
        /// How long the answer asked us to wait (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// Any other unsuccessful answer (the helper's `{"error": …}`, a media
    /// server's HTML).
    #[error("{message} (HTTP {status})")]
    Http {
        /// HTTP status.
        status: u16,
        /// The helper's message, or the status line.
        message: String,
        /// What the helper says a client can do about it.
        kind: Option<ErrorKind>,
        /// How long the answer asked us to wait (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// A successful status whose body is not what the contract says.
    #[error("unexpected answer: {message} (HTTP {status})")]
    Unexpected {
        /// HTTP status.
        status: u16,
        /// What did not fit.
        message: String,
    },
}

impl ApiError {
    /// A failure before any answer arrived (or while its body was coming).
    pub fn network(err: impl std::fmt::Display) -> Self {
        ApiError::Network(err.to_string())
    }

    /// HTTP status (0 when the request never got an answer).
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Network(_) => 0,
            ApiError::Google { code, .. } => *code,
            ApiError::Http { status, .. } | ApiError::Unexpected { status, .. } => *status,
        }
    }

    /// The access token is missing, expired or revoked: sign in again.
    pub fn needs_sign_in(&self) -> bool {
        self.status() == 401 || self.kind() == Some(ErrorKind::MediaUnauthorized)
    }

    /// What the helper said a client can do, when it said.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            ApiError::Http { kind, .. } => *kind,
            _ => None,
        }
    }
}

impl Retryable for ApiError {
    fn is_transient(&self) -> bool {
        match self {
            ApiError::Network(_) => true,
            ApiError::Google { code, .. } => retry::is_transient_status(*code),
            // A helper answer with a kind has been retried by the helper already,
            // and says what to do instead (fetch again, sign in): asking again
            // would only get the same answer until the retry budget runs out.
            ApiError::Http { kind: Some(_), .. } => false,
            ApiError::Http { status, .. } => retry::is_transient_status(*status),
            ApiError::Unexpected { .. } => false,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Google { retry_after, .. } | ApiError::Http { retry_after, .. } => {
                *retry_after
            }
            ApiError::Network(_) | ApiError::Unexpected { .. } => None,
        }
    }
}

/// The browser's clock, timers and `Math.random` for [`retry::retrying`].
#[derive(Debug, Clone, Copy, Default)]
pub struct BrowserEnv;

impl RetryEnv for BrowserEnv {
    fn now(&self) -> Duration {
        Duration::from_secs_f64(js_sys::Date::now().max(0.0) / 1000.0)
    }

    fn random(&self) -> f64 {
        js_sys::Math::random()
    }

    fn sleep(&self, duration: Duration) -> impl std::future::Future<Output = ()> {
        gloo_timers::future::sleep(duration)
    }
}

/// Runs `call` under `policy` with the browser's clock.
pub async fn with_retry<T, F, Fut>(policy: RetryPolicy, call: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    retry::retrying(&BrowserEnv, policy, call).await
}

/// Reads an error answer: Google's JSON error shape, the helper's `{"error": …}`,
/// or the status line; with its `Retry-After`.
pub(crate) async fn error_from(response: Response) -> ApiError {
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| retry::parse_retry_after(&value, js_sys::Date::now()));
    // A body that breaks off still leaves the status to act on.
    let text = response.text().await.unwrap_or_default();
    if let Ok(google) = serde_json::from_str::<GoogleError>(&text) {
        return ApiError::Google {
            code: status,
            status: google.error.status,
            message: google.error.message,
            retry_after,
        };
    }
    let (message, kind) = if let Ok(helper) = serde_json::from_str::<api::ErrorBody>(&text) {
        (helper.error, helper.kind)
    } else if !response.status_text().is_empty() {
        (response.status_text(), None)
    } else {
        ("request failed".to_owned(), None)
    };
    ApiError::Http {
        status,
        message,
        kind,
        retry_after,
    }
}

/// Sends `request`: the JSON body of a successful answer, or the error an
/// unsuccessful one carries.
async fn fetch_json<T: DeserializeOwned>(request: Request) -> Result<T, ApiError> {
    let response = request.send().await.map_err(ApiError::network)?;
    if !response.ok() {
        return Err(error_from(response).await);
    }
    match response.json::<T>().await {
        Ok(value) => Ok(value),
        // The body broke off: a network failure, worth another try.
        Err(gloo_net::Error::JsError(err)) => Err(ApiError::network(err)),
        Err(err) => Err(ApiError::Unexpected {
            status: response.status(),
            message: err.to_string(),
        }),
    }
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

/// The TZif data of the IANA zone `name`, from the helper (the app ships no time
/// zone database: it would be a third of the .wasm).
pub async fn time_zone_data(name: &str) -> Result<Vec<u8>, ApiError> {
    let url = api::routes::time_zone(name);
    with_retry(RetryPolicy::HELPER, || async {
        let response = Request::get(&url).send().await.map_err(ApiError::network)?;
        if !response.ok() {
            return Err(error_from(response).await);
        }
        response.binary().await.map_err(ApiError::network)
    })
    .await
}

/// What the helper already saved for `batch`.
pub async fn batch_items(batch: &BatchId) -> Result<Vec<SavedFile>, ApiError> {
    let url = api::routes::batch(batch);
    let answer: api::BatchItems =
        with_retry(RetryPolicy::HELPER, || send_json(Request::get(&url))).await?;
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

    /// `sessions.create`, retried with the same `requestId`: Google answers a
    /// repeated id with the session the first request made, so a create whose
    /// answer was lost cannot open a second session.
    pub async fn create_session(&self, request_id: &str) -> Result<PickingSession, ApiError> {
        let url = format!(
            "{}?requestId={request_id}",
            picker::sessions_url(&self.base)
        );
        with_retry(RetryPolicy::PICKER, || async {
            let request = Request::post(&url)
                .header("Authorization", &self.bearer)
                .json(&CreateSessionRequest::default())
                .map_err(ApiError::network)?;
            fetch_json(request).await
        })
        .await
    }

    /// `sessions.get`, one attempt: the poller decides how to ride through
    /// failures (until the session's own timeout).
    pub async fn get_session(&self, id: &str) -> Result<PickingSession, ApiError> {
        send_json(
            Request::get(&picker::session_url(&self.base, id))
                .header("Authorization", &self.bearer),
        )
        .await
    }

    /// `sessions.delete`, retried: an undeleted session counts against the
    /// account's limit of open sessions.
    pub async fn delete_session(&self, id: &str) -> Result<(), ApiError> {
        let url = picker::session_url(&self.base, id);
        with_retry(RetryPolicy::PICKER, || async {
            let response = Request::delete(&url)
                .header("Authorization", &self.bearer)
                .send()
                .await
                .map_err(ApiError::network)?;
            if response.ok() {
                Ok(())
            } else {
                Err(error_from(response).await)
            }
        })
        .await
    }

    /// Every page of `mediaItems.list` ([`Pages`]: the listing rule of every
    /// client), each page retried on its own (a failure on page 7 does not start
    /// over from page 1).
    pub async fn list_all(&self, session_id: &str) -> Result<Vec<PickedMediaItem>, ApiError> {
        let mut items = Vec::new();
        let mut pages = Pages::new(session_id);
        while let Some(url) = pages.next_url(&self.base) {
            let page: ListMediaItemsResponse = with_retry(RetryPolicy::PICKER, || {
                send_json(Request::get(&url).header("Authorization", &self.bearer))
            })
            .await?;
            items.extend(page.media_items);
            pages
                .advance(page.next_page_token.as_deref())
                .map_err(|err| ApiError::Unexpected {
                    status: 200,
                    message: err.to_string(),
                })?;
        }
        Ok(items)
    }

    /// The helper-proxied URL of an item's bytes.
    pub fn media_url(item: &PickedMediaItem, suffix: MediaSuffix) -> String {
        Self::media_url_of(&item.media_file.base_url, suffix)
    }

    /// The helper-proxied URL of `base_url` with `suffix`.
    pub fn media_url_of(base_url: &str, suffix: MediaSuffix) -> String {
        api::routes::media(&picker::media_url(base_url, suffix))
    }

    /// The `Authorization` header value of this client's token.
    pub fn bearer(&self) -> &str {
        &self.bearer
    }

    /// Downloads media bytes through the helper's proxy in one attempt, as a JS
    /// `ArrayBuffer` (so the pixel data need not be copied through WASM memory).
    /// For thumbnails: picked items are fetched by the helper itself.
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

/// Asks the helper to fetch `item` from `url` (its `baseUrl` and suffix) with the
/// bearer token of `api` (sent in this request's header, kept by the helper only
/// while it downloads): the download to read and keep, or the saved file when
/// the library holds the item already. Retried: a fetch repeated shares the one
/// download of the item.
pub async fn fetch_item(
    api: &PickerApi,
    batch: &BatchId,
    item: &ItemId,
    request: &FetchRequest,
) -> Result<FetchAnswer, ApiError> {
    let url = api::routes::fetch(batch, item);
    with_retry(RetryPolicy::HELPER, || async {
        let request = Request::post(&url)
            .header(api::CSRF_HEADER, api::CSRF_VALUE)
            .header("Authorization", api.bearer())
            .json(request)
            .map_err(ApiError::network)?;
        fetch_json(request).await
    })
    .await
}

/// Bytes `range` of a download (fewer at its end), and the download's whole
/// length. The helper answers once they have arrived, so this may wait for the
/// download. Retried when the connection fails.
pub async fn read_range(
    download: &DownloadId,
    range: Range<u64>,
) -> Result<(Vec<u8>, u64), ApiError> {
    let url = api::routes::download(download);
    let header = format!("bytes={}-{}", range.start, range.end.saturating_sub(1));
    with_retry(RetryPolicy::HELPER, || async {
        let response = Request::get(&url)
            .header("Range", &header)
            .send()
            .await
            .map_err(ApiError::network)?;
        if response.status() != 206 {
            return Err(error_from(response).await);
        }
        let total = response
            .headers()
            .get("content-range")
            .as_deref()
            .and_then(picker::parse_content_range)
            .and_then(|r| r.total)
            .ok_or_else(|| ApiError::Unexpected {
                status: 206,
                message: "no Content-Range with the download's length".into(),
            })?;
        let bytes = response.binary().await.map_err(ApiError::network)?;
        Ok((bytes, total))
    })
    .await
}

/// How far a download is (bytes received, and the whole length once known).
pub async fn download_info(download: &DownloadId) -> Result<DownloadInfo, ApiError> {
    send_json(Request::get(&api::routes::download(download))).await
}

/// Keeps a download with the planned patch: the helper applies it while copying
/// the download into the library. A keep whose answer was lost (the retry finds
/// the download gone: it was kept) answers what the batch now holds of the item.
pub async fn keep(
    batch: &BatchId,
    item: &ItemId,
    request: &KeepRequest,
) -> Result<SaveOutcome, ApiError> {
    let url = api::routes::keep(batch, item);
    // Encoded and copied out of WASM memory once, not once per attempt.
    let body = Uint8Array::from(&request.encode()[..]);
    let mut attempts = 0;
    let kept = with_retry(RetryPolicy::HELPER, || {
        attempts += 1;
        let body = body.clone();
        let url = url.clone();
        async move {
            let request = Request::post(&url)
                .header(api::CSRF_HEADER, api::CSRF_VALUE)
                .header("Content-Type", KeepRequest::CONTENT_TYPE)
                .body(body)
                .map_err(ApiError::network)?;
            fetch_json(request).await
        }
    })
    .await;
    match kept {
        Err(err) if err.kind() == Some(ErrorKind::UnknownDownload) && attempts > 1 => {
            let saved = batch_items(batch).await?;
            saved
                .into_iter()
                .find(|file| &file.item_id == item)
                .map(|file| SaveOutcome {
                    status: SaveStatus::Saved,
                    path: file.path,
                    size: file.size,
                    sha256: file.sha256,
                })
                .ok_or(err)
        }
        other => other,
    }
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
