//! The Picker API calls of `helper pick` (create, get, delete a session; list
//! its items), each with the retry policy, a per-attempt timeout and a silent
//! token refresh on 401. Types and URLs come from the `picker` crate.

use std::time::Duration;

use picker::retry::{Backoff, RetryEnv, RetryPolicy, Verdict, is_transient_status};
use picker::{
    CreateSessionRequest, GoogleError, ListMediaItemsResponse, Pages, PickedMediaItem,
    PickingConfig, PickingSession,
};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use super::oauth::{Auth, TokenError};
use crate::retrying::{TokioEnv, retry_after_of};

/// A Picker API call that failed for good.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Google answered with its JSON error (or at least an HTTP error status).
    #[error("{what}: HTTP {status}: {message}")]
    Google {
        /// The call.
        what: &'static str,
        /// The HTTP status.
        status: StatusCode,
        /// Google's message (or the body's start).
        message: String,
        /// Google's error, when the body was one.
        error: Option<GoogleError>,
    },
    /// The sign-in failed (refresh refused, token endpoint down).
    #[error(transparent)]
    Token(#[from] TokenError),
    /// Retries ran out on transient failures.
    #[error("{what}: gave up after {attempts} attempts; last: {last}")]
    GaveUp {
        /// The call.
        what: &'static str,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The answer was not what the contract says.
    #[error("{what}: {source:#}")]
    Invalid {
        /// The call.
        what: &'static str,
        /// Why.
        source: anyhow::Error,
    },
}

impl ApiError {
    /// The HTTP status Google answered with, if it did.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ApiError::Google { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// How long one attempt of a JSON call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A Picker API client for one signed-in user.
#[derive(Debug)]
pub struct PickerClient<'a> {
    http: &'a reqwest::Client,
    api: &'a str,
    auth: &'a Auth,
    policy: RetryPolicy,
}

impl<'a> PickerClient<'a> {
    /// A client of the API at `api` (ending in `/v1`).
    pub fn new(http: &'a reqwest::Client, api: &'a str, auth: &'a Auth) -> Self {
        PickerClient {
            http,
            api,
            auth,
            policy: RetryPolicy::PICKER,
        }
    }

    /// The sign-in this client calls with.
    pub fn auth(&self) -> &'a Auth {
        self.auth
    }

    /// `sessions.create` with a fresh UUID v4 `requestId`, so a retried create
    /// (after a cut connection) finds the session the first one made.
    pub async fn create_session(&self, max_items: Option<i64>) -> Result<PickingSession, ApiError> {
        let request_id = uuid::Uuid::new_v4().to_string();
        debug_assert!(picker::is_uuid_v4(&request_id));
        let url = format!("{}?requestId={request_id}", picker::sessions_url(self.api));
        let body = CreateSessionRequest {
            picking_config: max_items.map(|n| PickingConfig {
                max_item_count: Some(n),
            }),
        };
        let body = serde_json::to_vec(&body).map_err(|err| ApiError::Invalid {
            what: "sessions.create",
            source: err.into(),
        })?;
        self.call("sessions.create", Method::POST, &url, Some(body))
            .await
    }

    /// `sessions.get`.
    pub async fn get_session(&self, id: &str) -> Result<PickingSession, ApiError> {
        let url = picker::session_url(self.api, id);
        self.call("sessions.get", Method::GET, &url, None).await
    }

    /// `sessions.delete`. A session already gone (404, e.g. a retry after a cut
    /// answer) counts as deleted.
    pub async fn delete_session(&self, id: &str) -> Result<(), ApiError> {
        let url = picker::session_url(self.api, id);
        match self
            .call::<serde_json::Value>("sessions.delete", Method::DELETE, &url, None)
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if err.status() == Some(StatusCode::NOT_FOUND) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Every page of `mediaItems.list`, in order (the listing rule of every
    /// client: [`Pages`]).
    pub async fn list_all(&self, session: &str) -> Result<Vec<PickedMediaItem>, ApiError> {
        let mut items = Vec::new();
        let mut pages = Pages::new(session);
        while let Some(url) = pages.next_url(self.api) {
            let page: ListMediaItemsResponse = self
                .call("mediaItems.list", Method::GET, &url, None)
                .await?;
            items.extend(page.media_items);
            pages
                .advance(page.next_page_token.as_deref())
                .map_err(|err| ApiError::Invalid {
                    what: "mediaItems.list",
                    source: err.into(),
                })?;
        }
        Ok(items)
    }

    /// One JSON call with retries: 5xx, 429 (after `Retry-After`) and connection
    /// failures are retried; a 401 refreshes the token once and retries.
    async fn call<T: DeserializeOwned>(
        &self,
        what: &'static str,
        method: Method,
        url: &str,
        body: Option<Vec<u8>>,
    ) -> Result<T, ApiError> {
        let env = TokioEnv::default();
        let mut backoff = Backoff::new(self.policy, env.now());
        let mut refreshed = false;
        let mut bearer = self.auth.bearer().await?;
        loop {
            let mut request = self
                .http
                .request(method.clone(), url)
                .bearer_auth(&bearer.token)
                .timeout(CALL_TIMEOUT);
            if let Some(body) = &body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let (retry_after, last) = match request.send().await {
                Ok(res) if res.status().is_success() => match res.bytes().await {
                    Ok(bytes) => {
                        return serde_json::from_slice(&bytes).map_err(|err| ApiError::Invalid {
                            what,
                            source: anyhow::Error::new(err).context("an unexpected answer"),
                        });
                    }
                    // The answer broke off: as transient as a refused connection.
                    Err(err) => (None, format!("reading the answer: {err}")),
                },
                Ok(res) if res.status() == StatusCode::UNAUTHORIZED && !refreshed => {
                    // Expired or revoked under us: refresh once, silently.
                    refreshed = true;
                    bearer = self.auth.rejected(&bearer).await?;
                    continue;
                }
                Ok(res) if is_transient_status(res.status().as_u16()) => {
                    let after = retry_after_of(&res);
                    (after, format!("HTTP {}", res.status()))
                }
                Ok(res) => return Err(google_error(what, res).await),
                Err(err) => (None, format!("{err}")),
            };
            match backoff.next(true, retry_after, env.now(), env.random()) {
                Verdict::Wait(wait) => {
                    tracing::debug!(what, %last, ?wait, "retrying");
                    env.sleep(wait).await;
                    // The token may have run out while we waited.
                    bearer = self.auth.bearer().await?;
                }
                Verdict::Permanent | Verdict::DeadlinePassed => {
                    return Err(ApiError::GaveUp {
                        what,
                        attempts: backoff.failures() + 1,
                        last,
                    });
                }
            }
        }
    }
}

async fn google_error(what: &'static str, res: reqwest::Response) -> ApiError {
    let status = res.status();
    let body = res.bytes().await.unwrap_or_default();
    let error: Option<GoogleError> = serde_json::from_slice(&body).ok();
    let message = match &error {
        Some(e) => format!("{} ({})", e.error.message, e.error.status),
        None => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    };
    ApiError::Google {
        what,
        status,
        message,
        error,
    }
}
