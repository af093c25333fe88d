//! Google's JSON error body: `{"error":{"code":400,"message":"…","status":"…"}}`.

use serde::{Deserialize, Serialize};

/// The error body every Google JSON API answers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoogleError {
    /// The one field of the body.
    pub error: GoogleErrorBody,
}

/// The inside of [`GoogleError`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoogleErrorBody {
    /// The HTTP status code, repeated in the body.
    #[serde(default)]
    pub code: u16,
    /// A human-readable explanation (English).
    #[serde(default)]
    pub message: String,
    /// The canonical status name, e.g. `FAILED_PRECONDITION`. Kept as a string so an
    /// unexpected status still deserializes; see [`GoogleError::status`].
    #[serde(default)]
    pub status: String,
}

/// The canonical statuses PICKER-API.md names, with their HTTP codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorStatus {
    /// 400: a malformed request (bad `requestId`, negative `pageSize`, unknown field).
    InvalidArgument,
    /// 400: the request is fine but the session is not ready (user not done picking).
    FailedPrecondition,
    /// 401: no, bad or expired access token.
    Unauthenticated,
    /// 403: the token may not do this (expired access, wrong scope).
    PermissionDenied,
    /// 404: unknown or another account's session; unknown path.
    NotFound,
    /// 429: too many open sessions, or rate limited.
    ResourceExhausted,
    /// 500: Google failed.
    Internal,
    /// 503: Google is briefly unavailable; retry.
    Unavailable,
}

impl ErrorStatus {
    /// The HTTP status code Google pairs with this status.
    pub const fn http_code(self) -> u16 {
        match self {
            ErrorStatus::InvalidArgument | ErrorStatus::FailedPrecondition => 400,
            ErrorStatus::Unauthenticated => 401,
            ErrorStatus::PermissionDenied => 403,
            ErrorStatus::NotFound => 404,
            ErrorStatus::ResourceExhausted => 429,
            ErrorStatus::Internal => 500,
            ErrorStatus::Unavailable => 503,
        }
    }

    /// The wire name, e.g. `"NOT_FOUND"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorStatus::InvalidArgument => "INVALID_ARGUMENT",
            ErrorStatus::FailedPrecondition => "FAILED_PRECONDITION",
            ErrorStatus::Unauthenticated => "UNAUTHENTICATED",
            ErrorStatus::PermissionDenied => "PERMISSION_DENIED",
            ErrorStatus::NotFound => "NOT_FOUND",
            ErrorStatus::ResourceExhausted => "RESOURCE_EXHAUSTED",
            ErrorStatus::Internal => "INTERNAL",
            ErrorStatus::Unavailable => "UNAVAILABLE",
        }
    }

    /// The status with this wire name, if it is one of the known ones.
    pub fn from_wire(name: &str) -> Option<Self> {
        Some(match name {
            "INVALID_ARGUMENT" => ErrorStatus::InvalidArgument,
            "FAILED_PRECONDITION" => ErrorStatus::FailedPrecondition,
            "UNAUTHENTICATED" => ErrorStatus::Unauthenticated,
            "PERMISSION_DENIED" => ErrorStatus::PermissionDenied,
            "NOT_FOUND" => ErrorStatus::NotFound,
            "RESOURCE_EXHAUSTED" => ErrorStatus::ResourceExhausted,
            "INTERNAL" => ErrorStatus::Internal,
            "UNAVAILABLE" => ErrorStatus::Unavailable,
            _ => return None,
        })
    }
}

impl GoogleError {
    /// Builds the error body for `status` (its HTTP code is filled in).
    pub fn new(status: ErrorStatus, message: impl Into<String>) -> Self {
        GoogleError {
            error: GoogleErrorBody {
                code: status.http_code(),
                message: message.into(),
                status: status.as_str().to_owned(),
            },
        }
    }

    /// The status, when it is one this crate knows.
    pub fn status(&self) -> Option<ErrorStatus> {
        ErrorStatus::from_wire(&self.error.status)
    }

    /// Whether the server failed rather than the request (5xx): retrying the same
    /// request later may succeed. A 429 is left to the caller: it is a rate limit
    /// (retry after `Retry-After`) or a session cap (delete sessions first).
    pub fn is_transient(&self) -> bool {
        matches!(self.error.code, 500 | 502 | 503 | 504)
    }
}

impl std::fmt::Display for GoogleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.error.code, self.error.status, self.error.message
        )
    }
}

impl std::error::Error for GoogleError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_google_shaped_json() {
        let e = GoogleError::new(ErrorStatus::FailedPrecondition, "not done");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"error":{"code":400,"message":"not done","status":"FAILED_PRECONDITION"}})
        );
    }

    #[test]
    fn every_status_round_trips_with_its_code() {
        for (s, code) in [
            (ErrorStatus::InvalidArgument, 400),
            (ErrorStatus::FailedPrecondition, 400),
            (ErrorStatus::Unauthenticated, 401),
            (ErrorStatus::PermissionDenied, 403),
            (ErrorStatus::NotFound, 404),
            (ErrorStatus::ResourceExhausted, 429),
            (ErrorStatus::Internal, 500),
            (ErrorStatus::Unavailable, 503),
        ] {
            assert_eq!(s.http_code(), code);
            assert_eq!(ErrorStatus::from_wire(s.as_str()), Some(s));
        }
    }

    #[test]
    fn unknown_status_and_extra_fields_still_parse() {
        let e: GoogleError = serde_json::from_str(
            r#"{"error":{"code":409,"message":"x","status":"ABORTED","details":[{"@type":"t"}]}}"#,
        )
        .unwrap();
        assert_eq!(e.error.code, 409);
        assert_eq!(e.status(), None);
        assert!(!e.is_transient());
        assert!(GoogleError::new(ErrorStatus::Unavailable, "").is_transient());
    }
}
