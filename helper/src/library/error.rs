//! [`Error`]: what can go wrong in the library. [`crate::error::AppError`] maps each
//! to HTTP.

use std::path::PathBuf;

/// What went wrong in the library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The upload had no bytes.
    #[error("the upload is empty; nothing was saved")]
    EmptyUpload,
    /// The client went away or the body broke off mid-upload.
    #[error("the upload broke off: {0}; nothing was saved")]
    UploadBroke(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A file-system call failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// The index could not be read or written.
    #[error("the library index: {0}")]
    Index(#[from] rusqlite::Error),
    /// The index holds a value this code would never write.
    #[error("the library index is damaged: bad {0}")]
    CorruptIndex(String),
    /// The index was written by a newer helper.
    #[error(
        "the library index has schema version {found}, newer than this helper's {known}: \
         use a newer helper"
    )]
    NewerIndex {
        /// The file's version.
        found: i64,
        /// This code's version.
        known: i64,
    },
    /// A blocking task panicked or was cancelled.
    #[error("a library task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// Saving would leave less than the configured free space on the disk.
    #[error(
        "not enough free space in the library folder: {} free, and the helper keeps at \
         least {} free; nothing was saved",
        human_bytes(*available),
        human_bytes(*floor)
    )]
    LowSpace {
        /// Bytes free when the save was refused.
        available: u64,
        /// The configured floor.
        floor: u64,
    },
    /// The disk (or the user's quota) filled up during a write.
    #[error("the library's disk is full ({context}); nothing was saved")]
    DiskFull {
        /// What was being done.
        context: &'static str,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// Another helper holds the library's lock file.
    #[error(
        "the library folder {} is in use by another helper{}: stop that one, or give \
         this one another library folder",
        root.display(),
        holder.as_ref().map(|pid| format!(" (process {pid})")).unwrap_or_default()
    )]
    Locked {
        /// The library root.
        root: PathBuf,
        /// The process id the lock file names, if it names one.
        holder: Option<u32>,
    },
    /// Library options that cannot work.
    #[error("invalid library option: {0}")]
    InvalidOption(String),
    /// A patch that copies bytes the download does not have.
    #[error("the patch copies bytes {start}..{end} of a download of {len} bytes")]
    PatchOutsideDownload {
        /// Where the piece starts.
        start: u64,
        /// Where it ends.
        end: u64,
        /// The download's length.
        len: u64,
    },
    /// A patch whose output would be empty.
    #[error("the patch makes an empty file; nothing was saved")]
    EmptyPatch,
}

impl Error {
    /// For `map_err`: an I/O error with what was being done (a full disk or quota
    /// is [`Error::DiskFull`], so it can be told apart from a broken disk).
    pub fn io(context: &'static str) -> impl FnOnce(std::io::Error) -> Error {
        move |source| match source.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                Error::DiskFull { context, source }
            }
            _ => Error::Io { context, source },
        }
    }
}

/// `1.5 GiB`: a byte count for people.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
