//! The crate's one error type: data with an inspectable kind.

use std::fmt;

/// What kind of failure an [`Error`] is; stable for matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bytes are not any format this crate recognises.
    UnknownFormat,
    /// The file ends before a structure it announces.
    Truncated,
    /// A structure is present but inconsistent (bad header, bad offsets, loops).
    Malformed,
    /// The format is recognised but the operation is not supported for it.
    Unsupported,
    /// A time-zone name that is not in the IANA database.
    InvalidTimeZone,
    /// A tag name or number that this crate does not know.
    InvalidTagName,
    /// The new metadata would not fit the container (e.g. the 64 KB JPEG APP1 limit).
    TooLarge,
    /// An option value that is not one of those allowed (e.g. a date policy name).
    InvalidOption,
}

impl ErrorKind {
    /// A short lowercase description of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::UnknownFormat => "unknown format",
            ErrorKind::Truncated => "truncated data",
            ErrorKind::Malformed => "malformed data",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::InvalidTimeZone => "invalid time zone",
            ErrorKind::InvalidTagName => "invalid tag name",
            ErrorKind::TooLarge => "too large",
            ErrorKind::InvalidOption => "invalid option",
        }
    }
}

/// An error from this crate: a [`kind`](Error::kind) to match on and a short message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// Creates an error of `kind` with a short lowercase `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message without the kind prefix.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn truncated(what: &str) -> Self {
        Error::new(ErrorKind::Truncated, what)
    }

    pub(crate) fn malformed(what: &str) -> Self {
        Error::new(ErrorKind::Malformed, what)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for Error {}
