//! The photo library on disk, behind one façade, [`Library`]:
//! - [`publish`]: the crash-safe steps that give a written file its name and row;
//! - [`store`]: temp files, sealing, no-clobber links, the free-space floor;
//! - [`names`]: safe file names and the `<YYYY>/<MM>` folders;
//! - [`index`]: the SQLite index of what was saved (re-runs skip, interrupted runs
//!   resume, the app shows history);
//! - [`downloads`]: the files of the items the helper is fetching;
//! - [`batch_zip`], [`zip_format`]: a batch as a streamed zip that streaming
//!   readers read whole;
//! - [`error`], [`options`], [`owner`], [`lock`]: what the rest shares.
//!
//! Layout: `<root>/[<member>/]<YYYY>/<MM>/<name>` (or `unknown-date/<name>`), the
//! year and month of the capture time as the photographer's clock showed it, beside
//! the index (`.keepsake.sqlite3`), the downloads under way (`.keepsake-uploads/`)
//! and the lock file (`.keepsake.lock`) that keeps a second helper out. Blocking
//! work (SQLite, folders, fsync, rename) runs on tokio's blocking pool, never on the
//! async workers. See [`Library`] for what a crash can and cannot leave behind.

pub mod batch_zip;
pub mod downloads;
mod error;
mod index;
mod lock;
pub mod names;
mod options;
mod owner;
mod publish;
pub mod store;
pub mod zip_format;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use api::{BatchId, HistoryCursor, HistoryPage, ItemId, SaveOutcome, SavedFile};
use bytes::Bytes;
use futures_util::Stream;

use self::downloads::{DownloadFiles, Found};
use self::index::Index;
use self::publish::{Publisher, Reconciled};
use self::store::SpaceFloor;

pub use self::error::{Error, human_bytes};
pub use self::index::{DATABASE_NAME, SCHEMA_VERSION};
pub use self::lock::LOCK_NAME;
pub use self::options::{
    DEFAULT_FILE_MODE, DEFAULT_MIN_FREE_BYTES, LibraryOptions, parse_file_mode,
};
pub use self::owner::{CurrentMember, Owner, Settled};
pub use self::publish::{SaveRequest, SaveTimings};

/// What [`Library::open_with`] found and repaired, from a helper that stopped
/// mid-save (killed, crashed, or the power went).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Temp files of broken-off saves deleted.
    pub swept_temp_files: usize,
    /// Saves whose file had its name but not its row: the row was written.
    pub recovered_saves: usize,
    /// Saves that stopped before their file had its name: the claim was dropped.
    pub abandoned_saves: usize,
    /// Downloads found under way: the next fetch of their item resumes them.
    pub resumable_downloads: usize,
    /// Files of abandoned or half-made downloads deleted.
    pub swept_downloads: usize,
}

/// The library root and its index. Cheap to clone; the lock is released when the
/// last clone is dropped.
///
/// # What a crash can leave behind
///
/// A save runs in this order, and the index and the folder agree after a `kill -9`
/// (or a power cut) at any point of it:
///
/// 1. The file is written into `.keepsake-XXXXXX.part` in its final folder (an
///    upload's body streamed there, or a kept download's pieces copied). A crash
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
/// and two saves of one item cannot both get a file. The slow part (writing and
/// fsyncing the photo) runs outside it.
#[derive(Clone)]
pub struct Library {
    root: PathBuf,
    shared: Arc<Shared>,
}

struct Shared {
    publisher: Publisher,
    downloads: DownloadFiles,
    /// Downloads found at open, until the fetcher takes them.
    found: Mutex<Vec<Found>>,
    report: OpenReport,
    /// Locked for as long as the library is open.
    _lock: File,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library")
            .field("root", &self.root)
            .field("options", &self.options())
            .finish()
    }
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
        let lock = lock::lock_library(root)?;
        let index = Index::open(&root.join(DATABASE_NAME))?;
        // Safe only now: holding the lock, no other helper is writing temp files here.
        let swept = store::sweep_temp_files(root);
        let (downloads, found, swept_downloads) = DownloadFiles::open(root);
        let publisher = Publisher::new(root, index, options);
        let mut report = OpenReport {
            swept_temp_files: swept.removed,
            resumable_downloads: found.len(),
            swept_downloads,
            ..OpenReport::default()
        };
        for claim in publisher.index().claims()? {
            match publisher.reconcile(&claim)? {
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
                resumable_downloads = report.resumable_downloads,
                swept_downloads = report.swept_downloads,
                "the library was left mid-save (a crash or kill): repaired"
            );
        }
        Ok(Library {
            root: root.to_owned(),
            shared: Arc::new(Shared {
                publisher,
                downloads,
                found: Mutex::new(found),
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
        self.shared.publisher.options()
    }

    /// The library root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of one owner.
    pub fn owner_dir(&self, owner: &Owner) -> PathBuf {
        owner.dir(&self.root)
    }

    /// The files of the downloads under way.
    pub fn downloads(&self) -> &DownloadFiles {
        &self.shared.downloads
    }

    /// The downloads found under way when the library was opened (once: the
    /// fetcher takes them to resume).
    pub fn take_found_downloads(&self) -> Vec<Found> {
        std::mem::take(&mut self.shared.found.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Runs `f` on the publisher on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Publisher) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let library = self.clone();
        tokio::task::spawn_blocking(move || f(&library.shared.publisher)).await?
    }

    /// The saved file of an item, if the owner has one.
    pub async fn find(&self, owner: &Owner, item: &ItemId) -> Result<Option<SavedFile>, Error> {
        let (owner, item) = (owner.clone(), item.clone());
        self.blocking(move |p| {
            let Some(file) = p.index().find(owner.key(), &item)? else {
                return Ok(None);
            };
            Ok(p.mark_missing(&owner, vec![file]).pop())
        })
        .await
    }

    /// What [`Library::save`] or [`Library::keep`] would answer at once for an item
    /// the owner already holds (a duplicate, joined to `batch`); `None` when it
    /// must be written (never saved, or its file has gone missing).
    pub async fn existing(
        &self,
        owner: &Owner,
        batch: &BatchId,
        item: &ItemId,
    ) -> Result<Option<SaveOutcome>, Error> {
        let (owner, batch, item) = (owner.clone(), batch.clone(), item.clone());
        self.blocking(move |p| p.existing(&owner, &batch, &item))
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
        let floor = self.floor(owner, &request);
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
        self.blocking(move |p| {
            let outcome = p.publish(&owner, &request, written, &mut timings)?;
            Ok((outcome, timings))
        })
        .await
    }

    /// Keeps a download: writes `pieces` (copies of the download at `source`, of
    /// `source_len` bytes, and new bytes) into a temporary file beside its final
    /// place, hashing it on the way, then publishes it exactly as [`Library::save`]
    /// does. A duplicate, with nothing written, when the owner already holds the item.
    pub async fn keep(
        &self,
        owner: &Owner,
        request: SaveRequest,
        source: PathBuf,
        source_len: u64,
        pieces: Vec<metafix::Piece>,
    ) -> Result<(SaveOutcome, SaveTimings), Error> {
        if let Some(outcome) = self
            .existing(owner, &request.batch, &request.item_id)
            .await?
        {
            return Ok((outcome, SaveTimings::default()));
        }
        let floor = self.floor(owner, &request);
        let owner = owner.clone();
        self.blocking(move |p| {
            let started = std::time::Instant::now();
            let temp = store::create_temp(&floor)?;
            let file = File::open(&source).map_err(Error::io("opening the download"))?;
            let written = store::write_pieces(temp, &file, source_len, &pieces, &floor)?;
            let mut timings = SaveTimings {
                receive: started.elapsed(),
                ..SaveTimings::default()
            };
            let outcome = p.publish(&owner, &request, written, &mut timings)?;
            Ok((outcome, timings))
        })
        .await
    }

    /// The folder a save of `request` is written in, and the space it must leave.
    fn floor(&self, owner: &Owner, request: &SaveRequest) -> SpaceFloor {
        SpaceFloor {
            dir: self.owner_dir(owner).join(request.relative_dir()),
            min_free_bytes: self.options().min_free_bytes,
        }
    }

    /// The files of one batch, in the order they were added, each marked `missing`
    /// if it is no longer in the folder.
    pub async fn batch_files(
        &self,
        owner: &Owner,
        batch: &BatchId,
    ) -> Result<Vec<SavedFile>, Error> {
        let (owner, batch) = (owner.clone(), batch.clone());
        self.blocking(move |p| {
            let files = p.index().batch_files(owner.key(), &batch)?;
            Ok(p.mark_missing(&owner, files))
        })
        .await
    }

    /// Makes the libraries agree with the family's members now, and says what it
    /// moved. A library whose name is no longer a member's, or whose rows are older
    /// than the member of that name (`since`: a removed member's name given to
    /// someone new), is set aside whole: its rows and its folder move to
    /// `<name> (removed <time>)`, so nothing is lost and the new member starts
    /// empty. A member asked to `adopt` takes back the latest library set aside
    /// under their name, if they have none of their own. Run at start (before
    /// serving) and whenever the members change.
    pub async fn settle_owners(&self, members: Vec<CurrentMember>) -> Result<Vec<Settled>, Error> {
        self.blocking(move |p| p.settle_owners(&members, jiff::Timestamp::now()))
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
        self.blocking(move |p| {
            // One more than asked tells whether there is a next page.
            let mut items =
                p.index()
                    .history(owner.key(), before.as_ref(), limit.saturating_add(1))?;
            let more = items.len() > limit as usize;
            items.truncate(limit as usize);
            let next = if more {
                items.last().map(HistoryCursor::after)
            } else {
                None
            };
            Ok(HistoryPage {
                items: p.mark_missing(&owner, items),
                next,
            })
        })
        .await
    }
}

/// Reads `body` to its end or its first error, keeping nothing.
async fn drain<S, E>(mut body: S)
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    use futures_util::StreamExt;
    while let Some(Ok(_)) = body.next().await {}
}

#[cfg(test)]
mod tests;
