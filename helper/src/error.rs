//! One error type for every `/api` handler, and its one mapping to HTTP.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::library;

/// `Retry-After` of a 503 Busy: uploads and downloads turn over in seconds.
const BUSY_RETRY_AFTER_SECS: u64 = 2;

/// What went wrong while answering a request.
///
/// Clients get a short message; internal details are logged, not sent.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request itself is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The request is understood but not allowed (allow-list, missing CSRF header).
    #[error("{0}")]
    Forbidden(String),
    /// No such batch, item or file.
    #[error("{0}")]
    NotFound(String),
    /// The family member must sign in to the helper first.
    #[error("sign in to the helper first")]
    Unauthorized,
    /// The upstream (Google or the emulator) could not be reached or broke off.
    #[error("{0}")]
    Upstream(String),
    /// The upstream did not answer in time.
    #[error("the download timed out")]
    Timeout,
    /// The upload is larger than the helper accepts.
    #[error("{0}")]
    TooLarge(String),
    /// Too many uploads or downloads at once: try again shortly.
    #[error("the helper is busy ({0}); try again in a moment")]
    Busy(&'static str),
    /// Too many failed sign-ins, or another one being checked: wait before the
    /// next attempt.
    #[error("too many sign-in attempts; try again in {} s", .0.as_secs().max(1))]
    TooManyAttempts(std::time::Duration),
    /// The library's disk is full, or would fall below the configured free space.
    #[error("{0}")]
    InsufficientStorage(String),
    /// A download the helper makes (or was asked to read) did not get its bytes;
    /// `kind` says what the client can do.
    #[error("{message}")]
    Media {
        /// What the client does about it.
        kind: api::ErrorKind,
        /// For people.
        message: String,
    },
    /// A bug or an I/O failure on this server.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Upstream(_) => StatusCode::BAD_GATEWAY,
            AppError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            AppError::Media {
                kind: api::ErrorKind::UnknownDownload,
                ..
            } => StatusCode::NOT_FOUND,
            AppError::Media { .. } => StatusCode::BAD_GATEWAY,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            AppError::Internal(err) => {
                tracing::error!(error = ?err, "internal error");
                "internal error; see the helper's log".to_owned()
            }
            other => other.to_string(),
        };
        // Seconds to wait, for the errors that end by themselves.
        let retry_after = match &self {
            AppError::Busy(_) => Some(BUSY_RETRY_AFTER_SECS),
            AppError::TooManyAttempts(wait) => Some(wait.as_secs().max(1)),
            _ => None,
        };
        let kind = match &self {
            AppError::Media { kind, .. } => Some(*kind),
            _ => None,
        };
        let mut response = (
            status,
            Json(api::ErrorBody {
                error: message,
                kind,
            }),
        )
            .into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<std::io::Error> for AppError {
    fn from(err: std::io::Error) -> Self {
        AppError::Internal(err.into())
    }
}

impl From<library::Error> for AppError {
    fn from(err: library::Error) -> Self {
        match err {
            library::Error::EmptyUpload
            | library::Error::UploadBroke(_)
            | library::Error::PatchOutsideDownload { .. }
            | library::Error::EmptyPatch => AppError::BadRequest(err.to_string()),
            library::Error::LowSpace { .. } | library::Error::DiskFull { .. } => {
                tracing::warn!(error = %err, "an upload was refused for lack of disk space");
                AppError::InsufficientStorage(err.to_string())
            }
            library::Error::Io { .. }
            | library::Error::Locked { .. }
            | library::Error::InvalidOption(_)
            | library::Error::Index(_)
            | library::Error::CorruptIndex(_)
            | library::Error::NewerIndex { .. }
            | library::Error::Task(_) => AppError::Internal(err.into()),
        }
    }
}

impl From<api::InvalidCaptureTime> for AppError {
    fn from(err: api::InvalidCaptureTime) -> Self {
        AppError::BadRequest(err.to_string())
    }
}

impl From<PathRejection> for AppError {
    fn from(rejection: PathRejection) -> Self {
        AppError::BadRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> Self {
        AppError::BadRequest(rejection.body_text())
    }
}

/// Shorthand for handler results.
pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_out_of_disk_is_507_with_a_message_a_person_can_act_on() {
        let low = AppError::from(library::Error::LowSpace {
            available: 100 * 1024 * 1024,
            floor: 512 * 1024 * 1024,
        });
        assert_eq!(low.status(), StatusCode::INSUFFICIENT_STORAGE);
        let message = low.to_string();
        assert!(
            message.contains("100.0 MiB free") && message.contains("512.0 MiB"),
            "{message}"
        );
        let full = AppError::from(library::Error::io("writing the upload")(
            std::io::Error::from(std::io::ErrorKind::StorageFull),
        ));
        assert_eq!(full.status(), StatusCode::INSUFFICIENT_STORAGE);
        // Any other I/O failure stays an internal error.
        let broken = AppError::from(library::Error::io("writing the upload")(
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        ));
        assert_eq!(broken.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
