//! The photo library on disk: atomic, never-overwriting saves ([`store`]), safe
//! names ([`names`]), the SQLite index of what was saved ([`index`]: re-runs skip,
//! interrupted runs resume, the app shows history), and a batch as a streamed zip
//! ([`batch_zip`]).
//!
//! Layout: `<root>/[<member>/]<YYYY>/<MM>/<name>` (or `unknown-date/<name>`), the
//! year and month of the capture time as the photographer's clock showed it, beside
//! the index (`.keepsake.sqlite3`) and the lock file (`.keepsake.lock`) that keeps a
//! second helper out. Blocking work (SQLite, folders, fsync, rename) runs on tokio's
//! blocking pool, never on the async workers. See [`Library`] for what a crash can
//! and cannot leave behind.

pub mod batch_zip;
mod index;
pub mod names;
pub mod store;
pub mod uploads;

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};

use api::{
    BatchId, HistoryCursor, HistoryPage, ItemId, SaveOutcome, SaveStatus, SavedFile, UploadBegun,
    UploadFingerprint, UploadId, UploadStatus,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::fmt::temporal::Pieces;
use jiff::tz::Offset;

use self::index::{Claim, Index};
use self::store::{LinkError, SpaceFloor, Written};
use self::uploads::{Taken, Uploads};

pub use self::index::SCHEMA_VERSION;

/// File name of the index inside the library root.
pub const DATABASE_NAME: &str = ".keepsake.sqlite3";

/// File name of the lock file inside the library root: held (`flock`) by the one
/// helper that uses the library. It stays when the helper stops; the lock does not.
pub const LOCK_NAME: &str = ".keepsake.lock";

/// Mode of saved files unless configured otherwise: readable by everyone (Samba,
/// Jellyfin, a backup user), writable by the helper's user.
pub const DEFAULT_FILE_MODE: u32 = 0o644;

/// Free space kept on the library's disk unless configured otherwise: enough for
/// the system and the index to keep working when the photos have filled the rest.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 512 * 1024 * 1024;

/// How many numbered names (`a (2).jpg`…) a save tries before giving up.
const MAX_NAME_ATTEMPTS: u32 = 10_000;

/// Where the time of one [`Library::save_timed`] went; the upload route sends it
/// as `Server-Timing`, so a browser's DevTools (and `scripts/bench-app`) see it.
#[derive(Debug, Clone, Copy, Default)]
pub struct SaveTimings {
    /// Receiving the body and writing it to the temp file (paced by the client).
    pub receive: std::time::Duration,
    /// Its mode and mtime, and the fsync of its bytes.
    pub seal: std::time::Duration,
    /// Waiting for the other saves' claims, links and rows (one at a time).
    pub wait: std::time::Duration,
    /// The claim, the link under its name, the folder's fsync, the row.
    pub publish: std::time::Duration,
}

impl SaveTimings {
    /// The `Server-Timing` header's value, in milliseconds.
    pub fn header_value(&self) -> String {
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        format!(
            "receive;dur={:.1}, seal;dur={:.1}, wait;dur={:.1}, publish;dur={:.1}",
            ms(self.receive),
            ms(self.seal),
            ms(self.wait),
            ms(self.publish)
        )
    }
}

/// What went wrong in the library. [`crate::error::AppError`] maps each to HTTP.
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
    /// [`LibraryOptions`] that cannot work.
    #[error("invalid library option: {0}")]
    InvalidOption(String),
    /// No such resumable upload for this member, batch and item (never begun,
    /// committed, abandoned, or someone else's).
    #[error("no such upload: begin it again")]
    UploadNotFound,
    /// A part that would make the upload longer than the size it began with;
    /// nothing of the part was kept.
    #[error("the part runs past the {size} bytes the upload began with; nothing of it was kept")]
    UploadPastSize {
        /// The size the upload began with.
        size: u64,
    },
    /// A part (or a commit) that does not follow what the upload holds.
    #[error("the upload holds {received} bytes, not {offset}: continue from {received}")]
    UploadOffset {
        /// Bytes the upload holds.
        received: u64,
        /// Where the part started (or the size the commit named).
        offset: u64,
    },
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
fn human_bytes(bytes: u64) -> String {
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

/// Whose files these are: the one user of a personal helper, or a member of a
/// family's. Each owner has a folder and a separate index namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Owner {
    /// A helper for one person: files go straight under the library root.
    Single,
    /// A family member: files go under `<root>/<name>`.
    Member(String),
}

impl Owner {
    /// The owner's key in the index.
    fn key(&self) -> &str {
        match self {
            Owner::Single => "",
            Owner::Member(name) => name,
        }
    }

    /// The owner of an index key.
    fn from_key(key: &str) -> Owner {
        if key.is_empty() {
            Owner::Single
        } else {
            Owner::Member(key.to_owned())
        }
    }
}

/// A capture time as the client sent it: the instant plus the wall-clock time
/// the photographer saw (which names the folder and the zip entry's time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureTime {
    /// The instant, for the file's mtime.
    pub instant: Timestamp,
    /// Local wall-clock time at the capture.
    pub local: DateTime,
}

/// A capture time that is not RFC 3339 with an offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("capture_time is not RFC 3339 with an offset: {0:?}")]
pub struct InvalidCaptureTime(String);

impl CaptureTime {
    /// The instant as seen on a clock at `offset`.
    pub fn from_parts(instant: Timestamp, offset: Offset) -> Self {
        CaptureTime {
            instant,
            local: offset.to_datetime(instant),
        }
    }

    /// The photographer's offset from UTC.
    pub fn offset(&self) -> Offset {
        let local_as_utc = Offset::UTC.to_timestamp(self.local).unwrap_or(self.instant);
        let seconds = local_as_utc.duration_since(self.instant).as_secs();
        Offset::from_seconds(i32::try_from(seconds).unwrap_or(0)).unwrap_or(Offset::UTC)
    }
}

impl FromStr for CaptureTime {
    type Err = InvalidCaptureTime;

    /// Parses RFC 3339 (`2019-07-14T11:31:12+02:00`, `…Z`).
    fn from_str(text: &str) -> Result<Self, InvalidCaptureTime> {
        let bad = || InvalidCaptureTime(text.to_owned());
        let pieces = Pieces::parse(text).map_err(|_| bad())?;
        let offset = pieces.to_numeric_offset().ok_or_else(bad)?;
        let time = pieces.time().ok_or_else(bad)?;
        let local = pieces.date().to_datetime(time);
        let instant = offset.to_timestamp(local).map_err(|_| bad())?;
        Ok(CaptureTime { instant, local })
    }
}

/// What the browser says about a file it uploads.
#[derive(Debug, Clone)]
pub struct SaveRequest {
    /// The batch (one run of the app) the file belongs to.
    pub batch: BatchId,
    /// The Picker's stable media item id: the key for dedupe.
    pub item_id: ItemId,
    /// The file name to use (already carrying the corrected extension).
    pub filename: String,
    /// When the photo was taken.
    pub capture_time: CaptureTime,
}

/// How a library saves files. [`Default`] is what `helper serve` uses unless told
/// otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LibraryOptions {
    /// Unix mode of saved files ([`DEFAULT_FILE_MODE`]); set as is, whatever the
    /// umask. At most `0o777`, and readable by the helper's own user (it zips them).
    /// Ignored where there are no Unix modes.
    pub file_mode: u32,
    /// Bytes that must stay free on the library's disk ([`DEFAULT_MIN_FREE_BYTES`]):
    /// an upload is refused ([`Error::LowSpace`], HTTP 507) before it starts and
    /// stopped as it grows when less is free. 0 turns the floor off. Enforced where
    /// free space can be read (Unix).
    pub min_free_bytes: u64,
}

impl Default for LibraryOptions {
    fn default() -> Self {
        LibraryOptions {
            file_mode: DEFAULT_FILE_MODE,
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
        }
    }
}

impl LibraryOptions {
    fn check(&self) -> Result<(), Error> {
        if self.file_mode & !0o777 != 0 {
            return Err(Error::InvalidOption(format!(
                "file mode {:o} has bits beyond rwxrwxrwx (setuid, setgid, sticky, or not a mode)",
                self.file_mode
            )));
        }
        if self.file_mode & 0o400 == 0 {
            return Err(Error::InvalidOption(format!(
                "file mode {:o} does not let the helper read its own files back (for zips)",
                self.file_mode
            )));
        }
        Ok(())
    }
}

/// Parses a file mode as people write it: octal, with or without a leading `0` or
/// `0o` (`644`, `0644`, `0o640`). For a command-line flag's value parser.
pub fn parse_file_mode(text: &str) -> Result<u32, String> {
    let digits = text.trim();
    let digits = digits.strip_prefix("0o").unwrap_or(digits);
    let mode = u32::from_str_radix(digits, 8)
        .map_err(|_| format!("{text:?} is not an octal file mode such as 0644"))?;
    let options = LibraryOptions {
        file_mode: mode,
        ..LibraryOptions::default()
    };
    options.check().map_err(|err| err.to_string())?;
    Ok(mode)
}

/// What [`Library::open_with`] found and repaired, from a helper that stopped
/// mid-save (killed, crashed, or the power went).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Temp files of broken-off uploads deleted.
    pub swept_temp_files: usize,
    /// Saves whose file had its name but not its row: the row was written.
    pub recovered_saves: usize,
    /// Saves that stopped before their file had its name: the claim was dropped.
    pub abandoned_saves: usize,
    /// Resumable uploads found under way: their clients can go on.
    pub resumable_uploads: usize,
    /// Files of abandoned or half-begun resumable uploads deleted.
    pub swept_uploads: usize,
}

/// The library root and its index. Cheap to clone; the lock is released when the
/// last clone is dropped.
///
/// # What a crash can leave behind
///
/// A save runs in this order, and the index and the folder agree after a `kill -9`
/// (or a power cut) at any point of it:
///
/// 1. The body streams into `.keepsake-XXXXXX.part` in the final folder. A crash
///    here leaves only that temp file; the next [`Library::open_with`] sweeps every
///    file of exactly that shape under the root (and nothing else).
/// 2. The temp file gets its mode and mtime and is fsynced.
/// 3. A *claim* (the `pending` table: the item, the final path, its size and
///    SHA-256) is committed, durably (`synchronous = FULL`), **before** the rename.
/// 4. The temp file is linked under the final name only if that name is free, and
///    the folder is fsynced.
/// 5. One transaction turns the claim into the item's row and records its batch.
///
/// So every file that got its name has either a row or a claim naming it. At start,
/// each claim is checked against the disk: a regular file at its path with its size
/// and SHA-256 gets its row (the crash fell between 4 and 5); otherwise the claim is
/// dropped (the crash fell before 4, or someone replaced the file since). Only the
/// few claims are hashed, never the whole library. A retry after any crash finds the
/// row and answers "duplicate" for the file already in place: never `name (2).jpg`.
///
/// Steps 3 to 5 run under one mutex per library (the lock file keeps other helpers
/// out), so a claim is only ever a crash's leftover or the save holding the mutex,
/// and two uploads of one item cannot both get a file. The slow part (streaming,
/// fsyncing the photo) runs outside it.
#[derive(Clone)]
pub struct Library {
    root: PathBuf,
    shared: Arc<Shared>,
}

struct Shared {
    index: Index,
    options: LibraryOptions,
    /// Held from the claim to the row (steps 3 to 5 above).
    publishing: Mutex<()>,
    /// Resumable uploads under way.
    uploads: Uploads,
    report: OpenReport,
    /// Locked for as long as the library is open.
    _lock: File,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library")
            .field("root", &self.root)
            .field("options", &self.shared.options)
            .finish()
    }
}

/// What an owner already holds of an item.
enum Held {
    /// A row whose file is in place.
    Present(SavedFile),
    /// A row whose file is gone from the folder.
    Missing(SavedFile),
    /// No row.
    Absent,
}

impl Library {
    /// [`Library::open_with`] the default options.
    pub fn open(root: &Path) -> Result<Self, Error> {
        Library::open_with(root, LibraryOptions::default())
    }

    /// Opens (creating if needed) the library folder and its index, takes its lock
    /// file (failing with [`Error::Locked`] when another helper holds it), and
    /// repairs what a helper that stopped mid-save left (see [`Library`] and
    /// [`Library::open_report`]). Blocking: call it at start-up, before serving.
    pub fn open_with(root: &Path, options: LibraryOptions) -> Result<Self, Error> {
        options.check()?;
        std::fs::create_dir_all(root).map_err(Error::io("creating the library folder"))?;
        let lock = lock_library(root)?;
        let index = Index::open(&root.join(DATABASE_NAME))?;
        // Safe only now: holding the lock, no other helper is writing temp files here.
        let swept = store::sweep_temp_files(root);
        let (uploads, found) = Uploads::open(root);
        let mut report = OpenReport {
            swept_temp_files: swept.removed,
            resumable_uploads: found.resumable,
            swept_uploads: found.swept,
            ..OpenReport::default()
        };
        for claim in index.claims()? {
            match reconcile(root, &index, &claim)? {
                Reconciled::Recovered => report.recovered_saves += 1,
                Reconciled::Abandoned => report.abandoned_saves += 1,
            }
        }
        if report != OpenReport::default() || swept.failed > 0 {
            tracing::warn!(
                root = %root.display(),
                swept_temp_files = report.swept_temp_files,
                unsweepable_temp_files = swept.failed,
                recovered_saves = report.recovered_saves,
                abandoned_saves = report.abandoned_saves,
                resumable_uploads = report.resumable_uploads,
                swept_uploads = report.swept_uploads,
                "the library was left mid-save (a crash or kill): repaired"
            );
        }
        Ok(Library {
            root: root.to_owned(),
            shared: Arc::new(Shared {
                index,
                options,
                publishing: Mutex::new(()),
                uploads,
                report,
                _lock: lock,
            }),
        })
    }

    /// What opening the library found and repaired.
    pub fn open_report(&self) -> OpenReport {
        self.shared.report
    }

    /// The options the library was opened with.
    pub fn options(&self) -> LibraryOptions {
        self.shared.options
    }

    /// The library root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of one owner.
    pub fn owner_dir(&self, owner: &Owner) -> PathBuf {
        owner_dir(&self.root, owner)
    }

    fn index(&self) -> &Index {
        &self.shared.index
    }

    /// Runs `f` on the index on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Library) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let library = self.clone();
        tokio::task::spawn_blocking(move || f(&library)).await?
    }

    /// The saved file of an item, if the owner has one.
    pub async fn find(&self, owner: &Owner, item: &ItemId) -> Result<Option<SavedFile>, Error> {
        let (owner, item) = (owner.clone(), item.clone());
        self.blocking(move |lib| {
            let Some(file) = lib.index().find(owner.key(), &item)? else {
                return Ok(None);
            };
            Ok(lib.mark_missing(&owner, vec![file]).pop())
        })
        .await
    }

    /// Saves one uploaded file: streams it into a temporary file beside its final
    /// place, then links it under a name no other file has. Never overwrites, never
    /// leaves a partial file behind, skips an item the owner already holds, and
    /// saves again an item whose file has gone missing (saying so in the log).
    pub async fn save<S, E>(
        &self,
        owner: &Owner,
        request: SaveRequest,
        body: S,
    ) -> Result<SaveOutcome, Error>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::error::Error + Send + Sync + 'static,
    {
        Ok(self.save_timed(owner, request, body).await?.0)
    }

    /// [`Library::save`], and where its time went.
    pub async fn save_timed<S, E>(
        &self,
        owner: &Owner,
        request: SaveRequest,
        body: S,
    ) -> Result<(SaveOutcome, SaveTimings), Error>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::error::Error + Send + Sync + 'static,
    {
        let started = std::time::Instant::now();
        let filename = names::sanitize_filename(&request.filename);
        if let Some(outcome) = self
            .existing(owner, &request.batch, &request.item_id)
            .await?
        {
            // The client is still sending the file. Answering now and closing would
            // reset the connection under it, and a reset can lose the answer
            // (browsers report a network error): take the rest first. The body's
            // size and idle limits bound how long that lasts.
            drain(body).await;
            let timings = SaveTimings {
                receive: started.elapsed(),
                ..SaveTimings::default()
            };
            return Ok((outcome, timings));
        }

        let relative_dir = names::capture_folder(request.capture_time.local);
        let floor = SpaceFloor {
            dir: self.owner_dir(owner).join(&relative_dir),
            min_free_bytes: self.shared.options.min_free_bytes,
        };
        let temp = {
            let floor = floor.clone();
            tokio::task::spawn_blocking(move || store::create_temp(&floor)).await??
        };
        // The temp file deletes itself if anything below fails or the client goes away.
        let written = store::write_body(temp, body, &floor).await?;
        let mut timings = SaveTimings {
            receive: started.elapsed(),
            ..SaveTimings::default()
        };
        let owner = owner.clone();
        self.blocking(move |lib| {
            let sealing = std::time::Instant::now();
            lib.seal(&request, &written)?;
            timings.seal = sealing.elapsed();
            let outcome = lib.publish_sealed(
                &owner,
                &request,
                written,
                (&floor.dir, &relative_dir, &filename),
                &mut timings,
            )?;
            Ok((outcome, timings))
        })
        .await
    }

    /// Begins a resumable upload of `item` (see [`uploads`]), or finds the one the
    /// owner has under way for this batch and item if it is of the same file
    /// (`size` and `fingerprint`; one of another file is discarded): its id and the
    /// bytes it holds. When the owner already holds the item, answers at once what
    /// [`Library::save`] answers then (a duplicate, joined to this batch) and begins
    /// nothing, so the client sends no byte of it. The commit checks again (another
    /// save of the item may land meanwhile).
    pub async fn begin_upload(
        &self,
        owner: &Owner,
        (batch, item): (&BatchId, &ItemId),
        size: u64,
        fingerprint: &UploadFingerprint,
    ) -> Result<UploadBegun, Error> {
        if let Some(outcome) = self.existing(owner, batch, item).await? {
            return Ok(UploadBegun::AlreadySaved(outcome));
        }
        let (upload_id, received) = self
            .shared
            .uploads
            .begin(
                owner.key(),
                (batch, item),
                size,
                fingerprint,
                self.shared.options.min_free_bytes,
            )
            .await?;
        Ok(UploadBegun::Uploading(UploadStatus {
            upload_id,
            received,
        }))
    }

    /// The bytes a resumable upload holds.
    pub async fn upload_received(
        &self,
        owner: &Owner,
        batch: &BatchId,
        item: &ItemId,
        upload: &UploadId,
    ) -> Result<u64, Error> {
        self.shared
            .uploads
            .received(owner.key(), batch, item, upload)
            .await
    }

    /// Appends a part at `offset` (which must be the bytes the upload holds,
    /// else [`Error::UploadOffset`]); answers the bytes it then holds.
    pub async fn append_part<S, E>(
        &self,
        owner: &Owner,
        (batch, item, upload): (&BatchId, &ItemId, &UploadId),
        offset: u64,
        body: S,
    ) -> Result<u64, Error>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::error::Error + Send + Sync + 'static,
    {
        self.shared
            .uploads
            .append(
                owner.key(),
                batch,
                item,
                upload,
                offset,
                body,
                self.shared.options.min_free_bytes,
            )
            .await
    }

    /// Publishes a resumable upload of `size` bytes exactly as [`Library::save`]
    /// publishes a one-request upload: a duplicate when the owner already holds the
    /// item, otherwise linked under a free name, never overwriting, with its claim
    /// and row. The upload is gone afterwards, whatever the outcome.
    pub async fn commit_upload(
        &self,
        owner: &Owner,
        upload: &UploadId,
        request: SaveRequest,
        size: u64,
    ) -> Result<SaveOutcome, Error> {
        if size == 0 {
            return Err(Error::EmptyUpload);
        }
        let Taken { written, note } = self
            .shared
            .uploads
            .take(owner.key(), &request.batch, &request.item_id, upload, size)
            .await?;
        let outcome = async {
            if let Some(outcome) = self
                .existing(owner, &request.batch, &request.item_id)
                .await?
            {
                return Ok(outcome);
            }
            let filename = names::sanitize_filename(&request.filename);
            let relative_dir = names::capture_folder(request.capture_time.local);
            let dir = self.owner_dir(owner).join(&relative_dir);
            let owner = owner.clone();
            self.blocking(move |lib| {
                store::create_dir_durable(&dir)
                    .map_err(Error::io("creating a folder in the library"))?;
                lib.publish(&owner, &request, written, &dir, &relative_dir, &filename)
            })
            .await
        }
        .await;
        // Published, a duplicate, or failed: the part file is gone (linked, or
        // deleted with its temp handle), so its note goes too.
        let _ = tokio::task::spawn_blocking(move || Taken::forget(&note)).await;
        outcome
    }

    /// Blocking: steps 2 to 5 of a save (see [`Library`]), shared by the one-request
    /// save and the commit of a resumable upload.
    fn publish(
        &self,
        owner: &Owner,
        request: &SaveRequest,
        written: Written,
        dir: &Path,
        relative_dir: &str,
        filename: &str,
    ) -> Result<SaveOutcome, Error> {
        self.seal(request, &written)?;
        self.publish_sealed(
            owner,
            request,
            written,
            (dir, relative_dir, filename),
            &mut SaveTimings::default(),
        )
    }

    /// Blocking: step 2 of a save (see [`Library`]).
    fn seal(&self, request: &SaveRequest, written: &Written) -> Result<(), Error> {
        store::seal(
            &written.temp,
            self.shared.options.file_mode,
            request.capture_time.instant,
        )
        .map_err(Error::io("saving the file"))
    }

    /// Blocking: steps 3 to 5 of a save (see [`Library`]), of a sealed file
    /// bound for `(dir, relative_dir, filename)`; records in `timings` how long
    /// it waited for the publishing lock and how long it held it.
    fn publish_sealed(
        &self,
        owner: &Owner,
        request: &SaveRequest,
        written: Written,
        (dir, relative_dir, filename): (&Path, &str, &str),
        timings: &mut SaveTimings,
    ) -> Result<SaveOutcome, Error> {
        let Written { temp, size, sha256 } = written;
        let waiting = std::time::Instant::now();
        // A panic while holding it leaves nothing half-done that the claims do not
        // describe: keep going.
        let _publishing = self
            .shared
            .publishing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        timings.wait = waiting.elapsed();
        let publishing = std::time::Instant::now();
        let published = self.publish_locked(
            owner,
            request,
            (temp, size, sha256),
            dir,
            relative_dir,
            filename,
        );
        timings.publish = publishing.elapsed();
        published
    }

    /// Blocking: steps 3 to 5 of a save, holding the publishing lock.
    fn publish_locked(
        &self,
        owner: &Owner,
        request: &SaveRequest,
        (temp, size, sha256): (tempfile::NamedTempFile, u64, String),
        dir: &Path,
        relative_dir: &str,
        filename: &str,
    ) -> Result<SaveOutcome, Error> {
        // A claim here is from a save of this item that failed after its rename
        // (say, the row could not be written): it may name a file already in place.
        if let Some(claim) = self.index().claim_of(owner.key(), &request.item_id)? {
            reconcile(&self.root, self.index(), &claim)?;
        }
        // Another upload of the item may have finished while this one streamed.
        if let Held::Present(saved) = self.held(owner, &request.batch, &request.item_id)? {
            return Ok(duplicate(saved));
        }

        let mut temp = temp;
        for attempt in 1..MAX_NAME_ATTEMPTS {
            let name = names::numbered(filename, attempt);
            let candidate = dir.join(&name);
            // A taken name needs no claim; `link` still refuses one taken meanwhile.
            if candidate.symlink_metadata().is_ok() {
                continue;
            }
            let path = format!("{relative_dir}/{name}");
            self.index().claim(&Claim {
                owner: owner.key().to_owned(),
                item_id: request.item_id.clone(),
                path: path.clone(),
                size,
                sha256: sha256.clone(),
                capture_time: request.capture_time,
                batch: request.batch.clone(),
                claimed_at: Timestamp::now(),
            })?;
            match store::link(temp, &candidate) {
                Ok(()) => {
                    // On failure from here on the claim stays: it names a file that is
                    // in place, and the next save of the item or start finishes it.
                    store::sync_dir(dir).map_err(Error::io("saving the file"))?;
                    if !self
                        .index()
                        .complete(owner.key(), &request.item_id, Timestamp::now())?
                    {
                        return Err(Error::CorruptIndex(format!(
                            "the claim of item {} vanished during a save",
                            request.item_id
                        )));
                    }
                    return Ok(SaveOutcome {
                        status: SaveStatus::Saved,
                        path,
                        size,
                        sha256,
                    });
                }
                Err(LinkError::Taken(back)) => temp = back,
                Err(LinkError::Failed(err)) => {
                    self.release_after_failure(owner, &request.item_id);
                    return Err(Error::io("saving the file")(err));
                }
            }
        }
        self.release_after_failure(owner, &request.item_id);
        Err(Error::Io {
            context: "saving the file",
            source: std::io::Error::other(format!(
                "no free name like {filename} in {relative_dir}"
            )),
        })
    }

    /// Drops the claim of a save that failed before its rename. If even that fails,
    /// the claim names no file, and the next start drops it.
    fn release_after_failure(&self, owner: &Owner, item: &ItemId) {
        if let Err(err) = self.index().release(owner.key(), item) {
            tracing::warn!(error = %err, item = %item, "cannot drop the claim of a failed save");
        }
    }

    /// Blocking: what the owner holds of `item`; a held item also joins `batch`
    /// (so that batch's zip has it).
    fn held(&self, owner: &Owner, batch: &BatchId, item: &ItemId) -> Result<Held, Error> {
        let Some(saved) = self.index().find(owner.key(), item)? else {
            return Ok(Held::Absent);
        };
        if !self.owner_dir(owner).join(&saved.path).is_file() {
            return Ok(Held::Missing(saved));
        }
        self.index()
            .add_to_batch(owner.key(), batch, item, Timestamp::now())?;
        Ok(Held::Present(saved))
    }

    /// When the owner already holds the item (and its file is still there), records
    /// it in this batch too and answers "duplicate". When its file is gone, says so
    /// in the log and lets the save write it again (the row stays, marked missing in
    /// the history, until the new file replaces it).
    async fn existing(
        &self,
        owner: &Owner,
        batch: &BatchId,
        item: &ItemId,
    ) -> Result<Option<SaveOutcome>, Error> {
        let (owner, batch, item) = (owner.clone(), batch.clone(), item.clone());
        self.blocking(move |lib| match lib.held(&owner, &batch, &item)? {
            Held::Present(saved) => Ok(Some(duplicate(saved))),
            Held::Missing(saved) => {
                tracing::warn!(
                    item = %item,
                    path = %saved.path,
                    saved_at = %saved.saved_at,
                    "the saved file is no longer in the library folder (deleted or moved); \
                     saving it again"
                );
                Ok(None)
            }
            Held::Absent => Ok(None),
        })
        .await
    }

    /// Blocking: sets `missing` on the files that are no longer in the folder.
    fn mark_missing(&self, owner: &Owner, mut files: Vec<SavedFile>) -> Vec<SavedFile> {
        let dir = self.owner_dir(owner);
        for file in &mut files {
            file.missing = !dir.join(&file.path).is_file();
        }
        files
    }

    /// The files of one batch, in the order they were added, each marked `missing`
    /// if it is no longer in the folder.
    pub async fn batch_files(
        &self,
        owner: &Owner,
        batch: &BatchId,
    ) -> Result<Vec<SavedFile>, Error> {
        let (owner, batch) = (owner.clone(), batch.clone());
        self.blocking(move |lib| {
            let files = lib.index().batch_files(owner.key(), &batch)?;
            Ok(lib.mark_missing(&owner, files))
        })
        .await
    }

    /// One page of what the owner has saved, newest first, starting after
    /// `before`; each file marked `missing` if it is no longer in the folder.
    pub async fn history(
        &self,
        owner: &Owner,
        before: Option<HistoryCursor>,
        limit: u32,
    ) -> Result<HistoryPage, Error> {
        let owner = owner.clone();
        self.blocking(move |lib| {
            // One more than asked tells whether there is a next page.
            let mut items =
                lib.index()
                    .history(owner.key(), before.as_ref(), limit.saturating_add(1))?;
            let more = items.len() > limit as usize;
            items.truncate(limit as usize);
            let next = if more {
                items.last().map(HistoryCursor::after)
            } else {
                None
            };
            Ok(HistoryPage {
                items: lib.mark_missing(&owner, items),
                next,
            })
        })
        .await
    }
}

fn owner_dir(root: &Path, owner: &Owner) -> PathBuf {
    match owner {
        Owner::Single => root.to_owned(),
        Owner::Member(name) => root.join(name),
    }
}

/// Reads `body` to its end or its first error, keeping nothing.
async fn drain<S, E>(mut body: S)
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    while let Some(Ok(_)) = body.next().await {}
}

fn duplicate(saved: SavedFile) -> SaveOutcome {
    SaveOutcome {
        status: SaveStatus::Duplicate,
        path: saved.path,
        size: saved.size,
        sha256: saved.sha256,
    }
}

/// What [`reconcile`] did with a claim.
enum Reconciled {
    /// Its file was in place: it became the item's row.
    Recovered,
    /// Its file was not (or was another file): it was dropped.
    Abandoned,
}

/// Blocking: settles a claim left by a save that stopped after writing it.
fn reconcile(root: &Path, index: &Index, claim: &Claim) -> Result<Reconciled, Error> {
    let path = owner_dir(root, &Owner::from_key(&claim.owner)).join(&claim.path);
    let found = store::hash_file(&path).map_err(Error::io("checking a file left mid-save"))?;
    if found.as_ref() == Some(&(claim.size, claim.sha256.clone())) {
        // Saved at the claim's time: that is when the file got its name, give or take.
        index.complete(&claim.owner, &claim.item_id, claim.claimed_at)?;
        tracing::info!(path = %path.display(), item = %claim.item_id,
            "recorded a file that was saved just before the helper stopped");
        Ok(Reconciled::Recovered)
    } else {
        if found.is_some() {
            tracing::warn!(path = %path.display(), item = %claim.item_id,
                "a different file now has the name a stopped save claimed: kept it, \
                 the item will be saved again");
        }
        index.release(&claim.owner, &claim.item_id)?;
        Ok(Reconciled::Abandoned)
    }
}

/// Takes the library's lock file, or says which helper holds it.
fn lock_library(root: &Path) -> Result<File, Error> {
    let path = root.join(LOCK_NAME);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(Error::io("opening the library's lock file"))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let holder = file
                .read_to_string(&mut text)
                .ok()
                .and_then(|_| text.trim().parse().ok());
            return Err(Error::Locked {
                root: root.to_owned(),
                holder,
            });
        }
        Err(std::fs::TryLockError::Error(err)) => {
            return Err(Error::io("locking the library's lock file")(err));
        }
    }
    // The process id, for the message a second helper prints; the lock itself is
    // what keeps it out, and the kernel drops it when this process ends, however.
    let written = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()));
    if let Err(err) = written {
        tracing::warn!(error = %err, path = %path.display(), "cannot write the lock file's process id");
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use std::{fs, io};

    fn request(item: &str, name: &str) -> SaveRequest {
        SaveRequest {
            batch: "b1".parse().unwrap(),
            item_id: item.parse().unwrap(),
            filename: name.into(),
            capture_time: "2019-07-14T11:31:12+02:00".parse().unwrap(),
        }
    }

    fn body(bytes: &'static [u8]) -> impl Stream<Item = Result<Bytes, Infallible>> + Unpin {
        futures_util::stream::iter(vec![Ok(Bytes::from_static(bytes))])
    }

    #[test]
    fn capture_time_keeps_the_local_clock() {
        let t: CaptureTime = "2019-07-14T23:31:12-05:00".parse().unwrap();
        assert_eq!(t.local.to_string(), "2019-07-14T23:31:12");
        assert_eq!(t.instant.to_string(), "2019-07-15T04:31:12Z");
        assert_eq!(t.offset(), jiff::tz::offset(-5));
        assert_eq!(CaptureTime::from_parts(t.instant, t.offset()), t);
        assert!("2019-07-14 23:31".parse::<CaptureTime>().is_err());
        assert!(
            "2019-07-14T23:31:12".parse::<CaptureTime>().is_err(),
            "needs an offset"
        );
    }

    #[tokio::test]
    async fn save_writes_into_year_month_with_capture_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        let outcome = library
            .save(
                &Owner::Single,
                request("item1", "IMG_1.jpg"),
                body(b"jpeg bytes"),
            )
            .await
            .unwrap();
        assert_eq!(outcome.status, SaveStatus::Saved);
        assert_eq!(outcome.path, "2019/07/IMG_1.jpg");
        let path = dir.path().join("2019/07/IMG_1.jpg");
        assert_eq!(fs::read(&path).unwrap(), b"jpeg bytes");
        let mtime = fs::metadata(&path).unwrap().modified().unwrap();
        let expected: std::time::SystemTime = "2019-07-14T09:31:12Z"
            .parse::<Timestamp>()
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(mtime, expected);
        // No temp file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path().join("2019/07"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("IMG_1.jpg")]);
    }

    #[tokio::test]
    async fn same_item_twice_is_a_duplicate_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        library
            .save(
                &Owner::Single,
                request("item1", "IMG_1.jpg"),
                body(b"first"),
            )
            .await
            .unwrap();
        let mut again = request("item1", "IMG_1.jpg");
        again.batch = "b2".parse().unwrap();
        let outcome = library
            .save(&Owner::Single, again, body(b"second"))
            .await
            .unwrap();
        assert_eq!(outcome.status, SaveStatus::Duplicate);
        assert_eq!(
            fs::read(dir.path().join("2019/07/IMG_1.jpg")).unwrap(),
            b"first"
        );
        // The duplicate still belongs to the second batch (so its zip has it).
        assert_eq!(
            library
                .batch_files(&Owner::Single, &"b2".parse().unwrap())
                .await
                .unwrap()
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn an_existing_file_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("2019/07")).unwrap();
        fs::write(dir.path().join("2019/07/IMG_1.jpg"), b"user's own file").unwrap();
        let library = Library::open(dir.path()).unwrap();
        let outcome = library
            .save(&Owner::Single, request("item1", "IMG_1.jpg"), body(b"new"))
            .await
            .unwrap();
        assert_eq!(outcome.path, "2019/07/IMG_1 (2).jpg");
        assert_eq!(
            fs::read(dir.path().join("2019/07/IMG_1.jpg")).unwrap(),
            b"user's own file"
        );
        assert_eq!(
            fs::read(dir.path().join("2019/07/IMG_1 (2).jpg")).unwrap(),
            b"new"
        );
    }

    #[tokio::test]
    async fn a_broken_upload_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        let broken = futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"partial")),
            Err(io::Error::other("connection reset")),
        ]);
        let err = library
            .save(&Owner::Single, request("item1", "IMG_1.jpg"), broken)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::UploadBroke(_)), "{err}");
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("2019/07")).unwrap().collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        assert!(
            library
                .find(&Owner::Single, &"item1".parse().unwrap())
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn an_empty_upload_is_refused_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        let err = library
            .save(&Owner::Single, request("item1", "a.jpg"), body(b""))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::EmptyUpload), "{err}");
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("2019/07")).unwrap().collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[tokio::test]
    async fn members_have_their_own_folders_and_items() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        let ana = Owner::Member("ana".into());
        let saved = library
            .save(&ana, request("item1", "a.jpg"), body(b"ana's"))
            .await
            .unwrap();
        assert_eq!(saved.status, SaveStatus::Saved);
        assert!(dir.path().join("ana/2019/07/a.jpg").is_file());
        // The same item for another owner is not a duplicate of ana's.
        let single = library
            .save(&Owner::Single, request("item1", "a.jpg"), body(b"mine"))
            .await
            .unwrap();
        assert_eq!(single.status, SaveStatus::Saved);
        assert_eq!(
            library.history(&ana, None, 10).await.unwrap().items.len(),
            1
        );
        assert_eq!(
            library
                .history(&Owner::Single, None, 10)
                .await
                .unwrap()
                .items
                .len(),
            1
        );
    }

    /// The files under `dir`, relative, sorted; the index and lock file left out.
    fn files_under(dir: &Path) -> Vec<String> {
        let mut files: Vec<String> = walkdir::WalkDir::new(dir)
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                e.path()
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|p| !p.starts_with(".keepsake.") && !p.starts_with(".keepsake.sqlite3"))
            .collect();
        files.sort();
        files
    }

    /// Runs steps 1 to 4 of a save (see [`Library`]) and stops before the row,
    /// as a `kill -9` right after the rename would.
    async fn save_up_to_the_rename(library: &Library, request: &SaveRequest, bytes: &'static [u8]) {
        let relative_dir = names::capture_folder(request.capture_time.local);
        let floor = SpaceFloor {
            dir: library.root().join(&relative_dir),
            min_free_bytes: 0,
        };
        let temp = store::create_temp(&floor).unwrap();
        let written = store::write_body(temp, body(bytes), &floor).await.unwrap();
        store::seal(&written.temp, 0o644, request.capture_time.instant).unwrap();
        let name = names::sanitize_filename(&request.filename);
        library
            .index()
            .claim(&Claim {
                owner: String::new(),
                item_id: request.item_id.clone(),
                path: format!("{relative_dir}/{name}"),
                size: written.size,
                sha256: written.sha256.clone(),
                capture_time: request.capture_time,
                batch: request.batch.clone(),
                claimed_at: Timestamp::now(),
            })
            .unwrap();
        assert!(store::link(written.temp, &floor.dir.join(&name)).is_ok());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn saved_files_are_readable_by_everyone_unless_configured() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        library
            .save(&Owner::Single, request("item1", "a.jpg"), body(b"x"))
            .await
            .unwrap();
        let mode = fs::metadata(dir.path().join("2019/07/a.jpg"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o644);
        drop(library);

        let options = LibraryOptions {
            file_mode: 0o640,
            ..LibraryOptions::default()
        };
        let library = Library::open_with(dir.path(), options).unwrap();
        library
            .save(&Owner::Single, request("item2", "b.jpg"), body(b"y"))
            .await
            .unwrap();
        let mode = fs::metadata(dir.path().join("2019/07/b.jpg"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o640);
    }

    #[test]
    fn file_modes_are_parsed_as_octal_and_checked() {
        assert_eq!(parse_file_mode("644"), Ok(0o644));
        assert_eq!(parse_file_mode("0644"), Ok(0o644));
        assert_eq!(parse_file_mode("0o600"), Ok(0o600));
        for bad in [
            "",
            "rw-r--r--",
            "0x1a4",
            "888",
            "4755",
            "1777",
            "0044",
            "-644",
        ] {
            assert!(parse_file_mode(bad).is_err(), "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        let options = LibraryOptions {
            file_mode: 0o4755,
            ..LibraryOptions::default()
        };
        let err = Library::open_with(dir.path(), options).unwrap_err();
        assert!(matches!(err, Error::InvalidOption(_)), "{err}");
    }

    #[tokio::test]
    async fn a_second_open_of_the_same_folder_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = Library::open(dir.path()).unwrap();
        let err = Library::open(dir.path()).unwrap_err();
        assert!(matches!(err, Error::Locked { .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.contains(&dir.path().display().to_string()),
            "{message}"
        );
        assert!(
            message.contains(&format!("process {}", std::process::id())),
            "{message}"
        );
        // Clones share the lock; it goes with the last of them.
        let clone = first.clone();
        drop(first);
        assert!(Library::open(dir.path()).is_err());
        drop(clone);
        Library::open(dir.path()).unwrap();
    }

    #[tokio::test]
    async fn open_sweeps_temp_files_left_by_a_killed_upload() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        library
            .save(&Owner::Single, request("item1", "a.jpg"), body(b"kept"))
            .await
            .unwrap();
        assert_eq!(library.open_report(), OpenReport::default());
        drop(library);
        // What a killed upload leaves: a temp file with some bytes, here and in a
        // member's folder.
        fs::write(dir.path().join("2019/07/.keepsake-Ab12Cd.part"), b"half").unwrap();
        fs::create_dir_all(dir.path().join("ana/2020/01")).unwrap();
        fs::write(
            dir.path().join("ana/2020/01/.keepsake-Xy34Zw.part"),
            b"half",
        )
        .unwrap();

        let library = Library::open(dir.path()).unwrap();
        assert_eq!(library.open_report().swept_temp_files, 2);
        assert_eq!(files_under(dir.path()), ["2019/07/a.jpg"]);
        assert!(
            library
                .find(&Owner::Single, &"item1".parse().unwrap())
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn a_crash_between_the_rename_and_the_row_is_recovered_without_a_second_file() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        save_up_to_the_rename(&library, &request("item1", "IMG_1.jpg"), b"photo").await;
        drop(library);

        let library = Library::open(dir.path()).unwrap();
        assert_eq!(
            library.open_report(),
            OpenReport {
                recovered_saves: 1,
                ..OpenReport::default()
            }
        );
        let row = library
            .find(&Owner::Single, &"item1".parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (row.path.as_str(), row.missing),
            ("2019/07/IMG_1.jpg", false)
        );
        // It belongs to its batch, as if the save had finished.
        assert_eq!(
            library
                .batch_files(&Owner::Single, &"b1".parse().unwrap())
                .await
                .unwrap(),
            [row]
        );
        // The retry is a duplicate of the file in place.
        let retry = library
            .save(
                &Owner::Single,
                request("item1", "IMG_1.jpg"),
                body(b"photo"),
            )
            .await
            .unwrap();
        assert_eq!(retry.status, SaveStatus::Duplicate);
        assert_eq!(retry.path, "2019/07/IMG_1.jpg");
        assert_eq!(files_under(dir.path()), ["2019/07/IMG_1.jpg"]);
    }

    #[tokio::test]
    async fn a_failed_row_is_finished_by_the_next_save_of_the_item() {
        // The same state as a crash after the rename, but in a running helper (the
        // row could not be written): the next upload must not write `IMG_1 (2).jpg`.
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        save_up_to_the_rename(&library, &request("item1", "IMG_1.jpg"), b"photo").await;
        let retry = library
            .save(
                &Owner::Single,
                request("item1", "IMG_1.jpg"),
                body(b"photo"),
            )
            .await
            .unwrap();
        assert_eq!(
            (retry.status, retry.path.as_str()),
            (SaveStatus::Duplicate, "2019/07/IMG_1.jpg")
        );
        assert_eq!(files_under(dir.path()), ["2019/07/IMG_1.jpg"]);
        let history = library.history(&Owner::Single, None, 10).await.unwrap();
        assert_eq!(history.items.len(), 1);
    }

    #[tokio::test]
    async fn a_crash_before_the_rename_leaves_nothing_and_the_retry_takes_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        let request = request("item1", "IMG_1.jpg");
        // Claimed, but killed before the rename: the temp file is still there.
        let floor = SpaceFloor {
            dir: dir.path().join("2019/07"),
            min_free_bytes: 0,
        };
        let temp = store::create_temp(&floor).unwrap();
        let written = store::write_body(temp, body(b"photo"), &floor)
            .await
            .unwrap();
        library
            .index()
            .claim(&Claim {
                owner: String::new(),
                item_id: request.item_id.clone(),
                path: "2019/07/IMG_1.jpg".into(),
                size: written.size,
                sha256: written.sha256.clone(),
                capture_time: request.capture_time,
                batch: request.batch.clone(),
                claimed_at: Timestamp::now(),
            })
            .unwrap();
        let (_file, temp_path) = written.temp.keep().unwrap();
        assert!(temp_path.is_file());
        drop(library);

        let library = Library::open(dir.path()).unwrap();
        assert_eq!(
            library.open_report(),
            OpenReport {
                swept_temp_files: 1,
                recovered_saves: 0,
                abandoned_saves: 1,
                ..OpenReport::default()
            }
        );
        assert!(files_under(dir.path()).is_empty());
        let retry = library
            .save(&Owner::Single, request, body(b"photo"))
            .await
            .unwrap();
        assert_eq!(
            (retry.status, retry.path.as_str()),
            (SaveStatus::Saved, "2019/07/IMG_1.jpg")
        );
        assert_eq!(files_under(dir.path()), ["2019/07/IMG_1.jpg"]);
    }

    #[tokio::test]
    async fn a_claim_whose_name_now_holds_another_file_keeps_that_file() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        save_up_to_the_rename(&library, &request("item1", "IMG_1.jpg"), b"photo").await;
        drop(library);
        // Before the restart, someone replaces the file with their own.
        fs::write(dir.path().join("2019/07/IMG_1.jpg"), b"someone else's").unwrap();

        let library = Library::open(dir.path()).unwrap();
        assert_eq!(library.open_report().abandoned_saves, 1);
        let outcome = library
            .save(
                &Owner::Single,
                request("item1", "IMG_1.jpg"),
                body(b"photo"),
            )
            .await
            .unwrap();
        assert_eq!(outcome.path, "2019/07/IMG_1 (2).jpg");
        assert_eq!(
            fs::read(dir.path().join("2019/07/IMG_1.jpg")).unwrap(),
            b"someone else's"
        );
    }

    #[tokio::test]
    async fn a_missing_file_is_reported_and_saved_again() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        library
            .save(&Owner::Single, request("item1", "a.jpg"), body(b"first"))
            .await
            .unwrap();
        fs::remove_file(dir.path().join("2019/07/a.jpg")).unwrap();

        // The row stays, marked missing, in the history, the batch and `find`.
        let page = library.history(&Owner::Single, None, 10).await.unwrap();
        assert_eq!(page.items.len(), 1);
        assert!(page.items[0].missing);
        let batch = library
            .batch_files(&Owner::Single, &"b1".parse().unwrap())
            .await
            .unwrap();
        assert!(batch[0].missing);
        let item: ItemId = "item1".parse().unwrap();
        assert!(
            library
                .find(&Owner::Single, &item)
                .await
                .unwrap()
                .unwrap()
                .missing
        );

        // A broken re-save keeps reporting it.
        let broken = futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"par")),
            Err(io::Error::other("connection reset")),
        ]);
        assert!(
            library
                .save(&Owner::Single, request("item1", "a.jpg"), broken)
                .await
                .is_err()
        );
        assert!(
            library
                .find(&Owner::Single, &item)
                .await
                .unwrap()
                .unwrap()
                .missing
        );

        // Saving it again writes it anew under its name, and the row follows.
        let mut again = request("item1", "a.jpg");
        again.batch = "b2".parse().unwrap();
        let outcome = library
            .save(&Owner::Single, again, body(b"second"))
            .await
            .unwrap();
        assert_eq!(
            (outcome.status, outcome.path.as_str()),
            (SaveStatus::Saved, "2019/07/a.jpg")
        );
        let page = library.history(&Owner::Single, None, 10).await.unwrap();
        assert_eq!(page.items.len(), 1);
        assert!(!page.items[0].missing);
        assert_eq!(page.items[0].batch.as_str(), "b2");
        assert_eq!(files_under(dir.path()), ["2019/07/a.jpg"]);
    }

    #[tokio::test]
    async fn a_floor_above_the_free_space_refuses_the_upload_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let options = LibraryOptions {
            min_free_bytes: u64::MAX,
            ..LibraryOptions::default()
        };
        let library = Library::open_with(dir.path(), options).unwrap();
        let err = library
            .save(&Owner::Single, request("item1", "a.jpg"), body(b"x"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::LowSpace { .. }), "{err}");
        assert!(err.to_string().contains("free space"), "{err}");
        assert!(files_under(dir.path()).is_empty());
        assert!(
            library
                .find(&Owner::Single, &"item1".parse().unwrap())
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn an_upload_that_grows_past_the_floor_is_stopped_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        // Free space is fine when the upload starts...
        let start = SpaceFloor {
            dir: dir.path().join("2019/07"),
            min_free_bytes: 0,
        };
        let temp = store::create_temp(&start).unwrap();
        let temp_path = temp.path().to_owned();
        // ...and then runs out: the floor is checked again as the body grows.
        let growing = SpaceFloor {
            min_free_bytes: u64::MAX,
            ..start
        };
        let chunk = Bytes::from(vec![7u8; 1024 * 1024]);
        let chunks =
            futures_util::stream::iter((0..32).map(move |_| Ok::<_, Infallible>(chunk.clone())));
        let err = store::write_body(temp, chunks, &growing)
            .await
            .err()
            .unwrap();
        assert!(matches!(err, Error::LowSpace { .. }), "{err}");
        assert!(!temp_path.exists());
    }

    #[tokio::test]
    async fn two_uploads_of_one_item_at_once_leave_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        let (a, b) = tokio::join!(
            library.save(&Owner::Single, request("item1", "a.jpg"), body(b"same")),
            library.save(&Owner::Single, request("item1", "a.jpg"), body(b"same")),
        );
        let mut statuses = [a.unwrap().status, b.unwrap().status];
        statuses.sort_by_key(|s| *s == SaveStatus::Saved);
        assert_eq!(statuses, [SaveStatus::Duplicate, SaveStatus::Saved]);
        assert_eq!(files_under(dir.path()), ["2019/07/a.jpg"]);
    }

    #[tokio::test]
    async fn history_comes_in_pages_with_a_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        for i in 0..5 {
            library
                .save(
                    &Owner::Single,
                    request(&format!("item{i}"), &format!("{i}.jpg")),
                    body(b"x"),
                )
                .await
                .unwrap();
        }
        let mut seen = Vec::new();
        let mut before = None;
        let mut pages = 0;
        loop {
            let page = library.history(&Owner::Single, before, 2).await.unwrap();
            pages += 1;
            seen.extend(page.items.iter().map(|f| f.item_id.to_string()));
            match page.next {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        seen.sort();
        assert_eq!(seen, ["item0", "item1", "item2", "item3", "item4"]);
        // A page that ends exactly at the last item says there is no next one.
        let all = library.history(&Owner::Single, None, 5).await.unwrap();
        assert_eq!((all.items.len(), all.next), (5, None));
    }

    #[tokio::test]
    async fn implausible_capture_years_are_saved_under_unknown_date() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        let mut zero = request("item1", "a.jpg");
        zero.capture_time = "0000-01-01T00:00:00Z".parse().unwrap();
        let outcome = library
            .save(&Owner::Single, zero, body(b"x"))
            .await
            .unwrap();
        assert_eq!(outcome.path, "unknown-date/a.jpg");
        assert!(dir.path().join("unknown-date/a.jpg").is_file());
    }
}
