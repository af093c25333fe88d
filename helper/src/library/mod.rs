//! The photo library on disk: atomic, never-overwriting saves ([`store`]), safe
//! names ([`names`]), the SQLite index of what was saved ([`index`]: re-runs skip,
//! interrupted runs resume, the app shows history), and a batch as a streamed zip
//! ([`batch_zip`]).
//!
//! Layout: `<root>/[<member>/]<YYYY>/<MM>/<name>`, the year and month of the
//! capture time as the photographer's clock showed it. Blocking work (SQLite,
//! folders, fsync, rename) runs on tokio's blocking pool, never on the async workers.

pub mod batch_zip;
mod index;
pub mod names;
pub mod store;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use api::{BatchId, ItemId, SaveOutcome, SaveStatus, SavedFile};
use bytes::Bytes;
use futures_util::Stream;
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::fmt::temporal::Pieces;
use jiff::tz::Offset;

use self::index::{Index, NewRow};

pub use self::index::SCHEMA_VERSION;

/// File name of the index inside the library root.
pub const DATABASE_NAME: &str = ".keepsake.sqlite3";

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
}

impl Error {
    /// For `map_err`: an I/O error with what was being done.
    pub fn io(context: &'static str) -> impl FnOnce(std::io::Error) -> Error {
        move |source| Error::Io { context, source }
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

/// The library root and its index. Cheap to clone.
#[derive(Clone)]
pub struct Library {
    root: PathBuf,
    index: Arc<Index>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library").field("root", &self.root).finish()
    }
}

impl Library {
    /// Opens (creating if needed) the library folder and its index. Blocking: call
    /// it at start-up, before serving.
    pub fn open(root: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(root).map_err(Error::io("creating the library folder"))?;
        let index = Index::open(&root.join(DATABASE_NAME))?;
        Ok(Library {
            root: root.to_owned(),
            index: Arc::new(index),
        })
    }

    /// The library root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of one owner.
    pub fn owner_dir(&self, owner: &Owner) -> PathBuf {
        match owner {
            Owner::Single => self.root.clone(),
            Owner::Member(name) => self.root.join(name),
        }
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
        self.blocking(move |lib| lib.index.find(owner.key(), &item))
            .await
    }

    /// Saves one uploaded file: streams it into a temporary file beside its final
    /// place, then links it under a name no other file has. Never overwrites, never
    /// leaves a partial file behind, and skips an item the owner already holds.
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
        let filename = names::sanitize_filename(&request.filename);
        if let Some(outcome) = self.existing(owner, &request).await? {
            return Ok(outcome);
        }

        let relative_dir = names::capture_folder(request.capture_time.local);
        let dir = self.owner_dir(owner).join(&relative_dir);
        let temp = {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || store::create_temp(&dir))
                .await?
                .map_err(Error::io("creating a temporary file in the library"))?
        };
        // The temp file deletes itself if anything below fails or the client goes away.
        let written = store::write_body(temp, body).await?;
        let (size, sha256) = (written.size, written.sha256.clone());

        let owner_key = owner.key().to_owned();
        let request2 = request.clone();
        let saved = self
            .blocking(move |lib| {
                let (final_path, name) =
                    store::publish(written.temp, &dir, &filename, request2.capture_time.instant)
                        .map_err(Error::io("saving the file"))?;
                let path = format!("{relative_dir}/{name}");
                let inserted = lib.index.insert(
                    &NewRow {
                        owner: &owner_key,
                        item_id: &request2.item_id,
                        path: &path,
                        size,
                        sha256: &sha256,
                        capture_time: request2.capture_time,
                        batch: &request2.batch,
                    },
                    Timestamp::now(),
                )?;
                if !inserted {
                    // Another upload of the same item won the race: keep its file, drop ours.
                    let _ = std::fs::remove_file(&final_path);
                    return Ok(None);
                }
                Ok(Some(SaveOutcome {
                    status: SaveStatus::Saved,
                    path,
                    size,
                    sha256,
                }))
            })
            .await?;
        match saved {
            Some(outcome) => Ok(outcome),
            None => self.existing(owner, &request).await?.ok_or_else(|| {
                Error::CorruptIndex(format!(
                    "row of item {} vanished during a save",
                    request.item_id
                ))
            }),
        }
    }

    /// When the owner already holds the item (and its file is still there), records
    /// it in this batch too and answers "duplicate".
    async fn existing(
        &self,
        owner: &Owner,
        request: &SaveRequest,
    ) -> Result<Option<SaveOutcome>, Error> {
        let (owner, request) = (owner.clone(), request.clone());
        self.blocking(move |lib| {
            let Some(saved) = lib.index.find(owner.key(), &request.item_id)? else {
                return Ok(None);
            };
            if !lib.owner_dir(&owner).join(&saved.path).is_file() {
                // The user deleted or moved the file: forget it and save it again.
                lib.index.forget(owner.key(), &request.item_id)?;
                return Ok(None);
            }
            lib.index.add_to_batch(
                owner.key(),
                &request.batch,
                &request.item_id,
                Timestamp::now(),
            )?;
            Ok(Some(SaveOutcome {
                status: SaveStatus::Duplicate,
                path: saved.path,
                size: saved.size,
                sha256: saved.sha256,
            }))
        })
        .await
    }

    /// The files of one batch, in the order they were added.
    pub async fn batch_files(
        &self,
        owner: &Owner,
        batch: &BatchId,
    ) -> Result<Vec<SavedFile>, Error> {
        let (owner, batch) = (owner.clone(), batch.clone());
        self.blocking(move |lib| lib.index.batch_files(owner.key(), &batch))
            .await
    }

    /// Everything the owner has saved, newest first.
    pub async fn history(&self, owner: &Owner) -> Result<Vec<SavedFile>, Error> {
        let owner = owner.clone();
        self.blocking(move |lib| lib.index.history(owner.key()))
            .await
    }
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
        assert_eq!(library.history(&ana).await.unwrap().len(), 1);
        assert_eq!(library.history(&Owner::Single).await.unwrap().len(), 1);
    }
}
