//! Fetching picked items to disk, once: the helper downloads each item itself
//! (the app's `POST …/fetch`, and `helper pick`), into the library's downloads
//! folder ([`crate::library::downloads`]); clients read the ranges their plan needs
//! from there (waiting for bytes not yet arrived), and keep the download with the
//! patch they planned ([`Fetcher::keep`]), which the library applies while copying
//! it to its final place.
//!
//! - One hop policy ([`media_proxy::fetch_ranged`]): https on Google's media hosts
//!   (demo: the emulator's), no private addresses, redirects re-checked, the bearer
//!   sent to the `baseUrl`'s own host only.
//! - The bearer token is held in memory only while its download runs, never logged
//!   (its `Debug` is redacted), never written to the note; a fetch after a failure
//!   brings a fresh one.
//! - A cut body resumes with `Range` (and `If-Range`, when the host sent a
//!   validator) where the host honours it; where it answers 200 the download starts
//!   over ([`picker::resume`]). Transient failures wait under
//!   [`RetryPolicy::MEDIA`] (its clock reset by every byte that arrives).
//! - Refusals end the download with a kind the client acts on ([`ErrorKind`]): a 403
//!   (the `baseUrl` expired or the session ended: list again, fetch with a fresh
//!   URL, and the download goes on from where it stopped), a 401 (sign in again), a
//!   404.
//! - Two fetches of one owner's item share one download. An item the owner already
//!   holds is answered "already saved" before anything is fetched.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use api::{BatchId, DownloadId, DownloadInfo, ErrorKind, ItemId, KeepRequest, SaveOutcome};
use axum::http::HeaderValue;
use futures_util::StreamExt;
use picker::retry::{Backoff, RetryEnv, RetryPolicy, Verdict};
use tokio::sync::{Semaphore, watch};
use url::Url;

use crate::error::AppError;
use crate::library::downloads::{Note, SYNC_EVERY};
use crate::library::{Library, Owner, SaveRequest, SaveTimings};
use crate::media_proxy::{self, MediaHosts};
use crate::retrying::{TokioEnv, retry_after_of};

/// Bytes gathered from the network before they are written (and become readable).
const WRITE_EVERY: usize = 512 << 10;
/// How many times one download may be answered with a range it did not ask for
/// (or a 416) before it fails.
const MAX_WRONG_RANGES: u32 = 3;
/// A download finished or failed and not touched for this long is forgotten (its
/// files deleted).
const FORGET_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Where a download stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Bytes in the file, readable.
    pub received: u64,
    /// The whole length, once the media server said (or the download finished).
    pub total: Option<u64>,
    /// Running, finished, failed, or waiting for a fetch to resume it.
    pub state: State,
}

/// The state of a download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Bytes are coming (or it waits for its turn).
    Running,
    /// Every byte is in the file.
    Complete,
    /// It stopped; a fetch of the item (with a fresh URL or token) resumes it.
    Failed(Failure),
    /// Found on disk at start: a fetch of the item resumes it.
    Paused,
}

/// Why a download stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What a client does about it.
    pub kind: ErrorKind,
    /// For people.
    pub message: String,
}

impl Failure {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }
}

impl From<Failure> for AppError {
    fn from(failure: Failure) -> Self {
        AppError::Media {
            kind: failure.kind,
            message: failure.message,
        }
    }
}

/// A bearer token, redacted in logs.
#[derive(Clone)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// What the next attempt of a download uses.
#[derive(Debug)]
struct Job {
    url: Option<Url>,
    bearer: Option<Secret>,
    running: bool,
    validator: Option<String>,
    synced: u64,
    touched: Instant,
}

/// One item being downloaded (or downloaded) to disk.
#[derive(Debug)]
pub struct Download {
    id: DownloadId,
    owner: Owner,
    item: ItemId,
    batch: BatchId,
    path: PathBuf,
    progress: watch::Sender<Progress>,
    job: Mutex<Job>,
}

impl Download {
    fn job(&self) -> MutexGuard<'_, Job> {
        self.job.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Its id.
    pub fn id(&self) -> &DownloadId {
        &self.id
    }

    /// Where it stands, as it changes.
    pub fn subscribe(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }

    /// Where it stands now.
    pub fn progress(&self) -> Progress {
        self.progress.borrow().clone()
    }

    /// What the fetch route answers about it.
    pub fn info(&self) -> DownloadInfo {
        let p = self.progress();
        DownloadInfo {
            download: self.id.clone(),
            received: p.received,
            total: p.total,
        }
    }

    /// Waits until bytes `0..end` are in the file and the whole length is known
    /// (or the download finished shorter); the progress then. Fails when the
    /// download does, or is paused (no fetch is running it).
    pub async fn wait_for(&self, end: u64) -> Result<Progress, Failure> {
        let mut watch = self.progress.subscribe();
        loop {
            let progress = watch.borrow_and_update().clone();
            match &progress.state {
                State::Complete => return Ok(progress),
                State::Failed(failure) => return Err(failure.clone()),
                State::Paused => {
                    return Err(Failure::new(
                        ErrorKind::UnknownDownload,
                        "the download is paused: fetch the item again",
                    ));
                }
                State::Running if progress.received >= end && progress.total.is_some() => {
                    return Ok(progress);
                }
                State::Running => {}
            }
            if watch.changed().await.is_err() {
                return Err(Failure::new(
                    ErrorKind::UnknownDownload,
                    "the download was dropped",
                ));
            }
        }
    }

    /// Waits until every byte is in; the length.
    pub async fn finished(&self) -> Result<u64, Failure> {
        let progress = self.wait_for(u64::MAX).await?;
        Ok(progress.received)
    }

    /// Blocking: bytes `range` of the file (the range must be in it).
    pub fn read_blocking(&self, range: Range<u64>) -> std::io::Result<Vec<u8>> {
        let len = usize::try_from(range.end.saturating_sub(range.start))
            .map_err(|_| std::io::Error::other("a range too large for memory"))?;
        let mut buffer = vec![0; len];
        let file = File::open(&self.path)?;
        crate::library::store::read_exact_at(&file, &mut buffer, range.start)?;
        Ok(buffer)
    }

    /// The file the bytes are written to.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

/// What a fetch found.
#[derive(Debug)]
pub enum Fetched {
    /// The owner holds the item: nothing is fetched.
    AlreadySaved(SaveOutcome),
    /// It is being (or has been) downloaded.
    Downloading(Arc<Download>),
}

#[derive(Default)]
struct Table {
    by_item: HashMap<(String, ItemId), DownloadId>,
    by_id: HashMap<DownloadId, Arc<Download>>,
}

struct Inner {
    library: Library,
    client: reqwest::Client,
    hosts: MediaHosts,
    permits: Arc<Semaphore>,
    table: Mutex<Table>,
}

/// The helper's downloads: one per owner and item. Cheap to clone.
#[derive(Clone)]
pub struct Fetcher {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher").finish_non_exhaustive()
    }
}

impl Fetcher {
    /// Downloads into `library` through `client` under `hosts`, at most
    /// `max_at_once` at a time; the downloads the library found under way at open
    /// wait, paused, for a fetch of their item.
    pub fn new(
        library: Library,
        client: reqwest::Client,
        hosts: MediaHosts,
        max_at_once: usize,
    ) -> Self {
        let mut table = Table::default();
        for found in library.take_found_downloads() {
            let note = found.note;
            let download = Arc::new(Download {
                path: library.downloads().path(&found.id),
                id: found.id.clone(),
                owner: Owner::from_key(&note.owner),
                item: note.item_id.clone(),
                batch: note.batch.clone(),
                progress: watch::Sender::new(Progress {
                    received: note.synced,
                    total: note.total,
                    state: State::Paused,
                }),
                job: Mutex::new(Job {
                    url: None,
                    bearer: None,
                    running: false,
                    validator: note.validator.clone(),
                    synced: note.synced,
                    touched: Instant::now(),
                }),
            });
            table
                .by_item
                .insert((note.owner.clone(), note.item_id.clone()), found.id.clone());
            table.by_id.insert(found.id, download);
        }
        Fetcher {
            inner: Arc::new(Inner {
                library,
                client,
                hosts,
                permits: Arc::new(Semaphore::new(max_at_once.max(1))),
                table: Mutex::new(table),
            }),
        }
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.inner.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fetches `owner`'s `item` from `url` (a `baseUrl` with its suffix) with
    /// `bearer`: the saved file when the owner holds it; else the download under way
    /// for the item (given this fresh URL and token, and resumed if it had stopped),
    /// or a new one.
    pub async fn fetch(
        &self,
        owner: &Owner,
        batch: &BatchId,
        item: &ItemId,
        url: &str,
        bearer: Option<String>,
    ) -> Result<Fetched, AppError> {
        let url =
            Url::parse(url).map_err(|_| AppError::BadRequest("the url is not a URL".into()))?;
        // The policy first: a URL it refuses is never fetched, whatever else holds.
        self.inner.hosts.resolve(&url)?;
        if let Some(saved) = self.inner.library.existing(owner, batch, item).await? {
            return Ok(Fetched::AlreadySaved(saved));
        }
        self.forget_stale();
        let key = (owner.key().to_owned(), item.clone());
        let existing = {
            let table = self.table();
            table
                .by_item
                .get(&key)
                .and_then(|id| table.by_id.get(id))
                .cloned()
        };
        let download = match existing {
            Some(download) => download,
            None => self.create(owner, batch, item).await?,
        };
        let start = {
            let mut job = download.job();
            job.url = Some(url);
            job.bearer = bearer.map(Secret);
            job.touched = Instant::now();
            let idle = !job.running;
            let state = download.progress().state;
            let start = idle && state != State::Complete;
            if start {
                job.running = true;
            }
            start
        };
        if start {
            download.progress.send_modify(|p| p.state = State::Running);
            let inner = self.inner.clone();
            let running = download.clone();
            tokio::spawn(async move { run(inner, running).await });
        }
        Ok(Fetched::Downloading(download))
    }

    async fn create(
        &self,
        owner: &Owner,
        batch: &BatchId,
        item: &ItemId,
    ) -> Result<Arc<Download>, AppError> {
        let id: DownloadId = uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .parse()
            .map_err(|e: api::InvalidId| AppError::Internal(e.into()))?;
        let note = Note {
            owner: owner.key().to_owned(),
            batch: batch.clone(),
            item_id: item.clone(),
            total: None,
            synced: 0,
            validator: None,
        };
        let library = self.inner.library.clone();
        let (id2, note2) = (id.clone(), note.clone());
        tokio::task::spawn_blocking(move || library.downloads().create(&id2, &note2))
            .await
            .map_err(|e| AppError::Internal(e.into()))?
            .map_err(|e| AppError::from(crate::library::Error::io("creating a download")(e)))?;
        let download = Arc::new(Download {
            path: self.inner.library.downloads().path(&id),
            id: id.clone(),
            owner: owner.clone(),
            item: item.clone(),
            batch: batch.clone(),
            progress: watch::Sender::new(Progress {
                received: 0,
                total: None,
                state: State::Paused,
            }),
            job: Mutex::new(Job {
                url: None,
                bearer: None,
                running: false,
                validator: None,
                synced: 0,
                touched: Instant::now(),
            }),
        });
        let mut table = self.table();
        // Another fetch of the item may have made one meanwhile: use that.
        let key = (owner.key().to_owned(), item.clone());
        if let Some(other) = table.by_item.get(&key).and_then(|id| table.by_id.get(id)) {
            let other = other.clone();
            drop(table);
            self.inner.library.downloads().remove(&id);
            return Ok(other);
        }
        table.by_item.insert(key, id.clone());
        table.by_id.insert(id, download.clone());
        Ok(download)
    }

    /// The download `id` of `owner` (another owner's is not found).
    pub fn get(&self, owner: &Owner, id: &DownloadId) -> Result<Arc<Download>, AppError> {
        self.table()
            .by_id
            .get(id)
            .filter(|d| &d.owner == owner)
            .cloned()
            .ok_or_else(|| AppError::Media {
                kind: ErrorKind::UnknownDownload,
                message: "no such download: fetch the item again".into(),
            })
    }

    /// Keeps `owner`'s download of `item` with the patch a client planned: waits for
    /// the last byte, applies the pieces while copying the download into its final
    /// place, publishes it, and forgets the download. A duplicate when the owner
    /// holds the item already. The download stays (for another try) when it fails.
    pub async fn keep(
        &self,
        owner: &Owner,
        batch: &BatchId,
        item: &ItemId,
        request: KeepRequest,
    ) -> Result<(SaveOutcome, SaveTimings), AppError> {
        let download = self.get(owner, &request.download)?;
        if &download.item != item {
            return Err(AppError::BadRequest(
                "the download is of another item".into(),
            ));
        }
        let waited = Instant::now();
        let len = download.finished().await?;
        let save = SaveRequest {
            batch: batch.clone(),
            item_id: item.clone(),
            filename: request.filename,
            capture_time: request.capture_time,
        };
        let (outcome, mut timings) = self
            .inner
            .library
            .keep(owner, save, download.path.clone(), len, request.pieces)
            .await?;
        timings.receive += waited.elapsed().saturating_sub(timings.receive);
        self.forget(&download);
        Ok((outcome, timings))
    }

    /// Deletes a download and its files.
    pub fn forget(&self, download: &Download) {
        {
            let mut table = self.table();
            table.by_id.remove(&download.id);
            let key = (download.owner.key().to_owned(), download.item.clone());
            if table.by_item.get(&key) == Some(&download.id) {
                table.by_item.remove(&key);
            }
        }
        self.inner.library.downloads().remove(&download.id);
    }

    /// Forgets downloads nobody touched for [`FORGET_AFTER`] that are not running.
    fn forget_stale(&self) {
        let stale: Vec<Arc<Download>> = self
            .table()
            .by_id
            .values()
            .filter(|d| {
                let job = d.job();
                !job.running && job.touched.elapsed() > FORGET_AFTER
            })
            .cloned()
            .collect();
        for download in stale {
            tracing::info!(download = %download.id, "forgetting a download nobody kept");
            self.forget(&download);
        }
    }

    /// How many downloads the helper holds (running or not).
    pub fn len(&self) -> usize {
        self.table().by_id.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Runs a download to its end, then records how it ended and drops its token.
async fn run(inner: Arc<Inner>, download: Arc<Download>) {
    let ended = match inner.permits.clone().acquire_owned().await {
        Ok(_permit) => download_loop(&inner, &download).await,
        Err(_) => Err(Failure::new(
            ErrorKind::MediaFailed,
            "the helper is stopping",
        )),
    };
    let mut job = download.job();
    job.running = false;
    job.bearer = None;
    job.touched = Instant::now();
    match ended {
        Ok(len) => download.progress.send_modify(|p| {
            p.received = len;
            p.total = Some(len);
            p.state = State::Complete;
        }),
        Err(failure) => {
            tracing::info!(download = %download.id, item = %download.item, kind = ?failure.kind,
                error = %failure.message, "a download stopped");
            download
                .progress
                .send_modify(|p| p.state = State::Failed(failure));
        }
    }
}

/// The file of a download being written, and what of it is readable and durable.
struct Sink {
    file: Option<File>,
    buffer: Vec<u8>,
    written: u64,
}

impl Sink {
    /// Writes what is gathered, then lets readers see it.
    async fn flush(&mut self, download: &Download) -> Result<(), Failure> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let mut file = self
            .file
            .take()
            .ok_or_else(|| Failure::new(ErrorKind::MediaFailed, "no file"))?;
        let buffer = std::mem::take(&mut self.buffer);
        let (file, buffer, result) = tokio::task::spawn_blocking(move || {
            let result = file.write_all(&buffer);
            (file, buffer, result)
        })
        .await
        .map_err(|e| Failure::new(ErrorKind::MediaFailed, format!("a write task failed: {e}")))?;
        self.file = Some(file);
        result.map_err(|e| disk_failure("writing the download", &e))?;
        self.written += buffer.len() as u64;
        self.buffer = buffer;
        self.buffer.clear();
        let written = self.written;
        download.progress.send_modify(|p| p.received = written);
        Ok(())
    }

    /// Makes the bytes so far durable and says so in the note.
    async fn sync(
        &mut self,
        library: &Library,
        download: &Download,
        total: Option<u64>,
    ) -> Result<(), Failure> {
        self.flush(download).await?;
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        let (id, written) = (download.id.clone(), self.written);
        let note = Note {
            owner: download.owner.key().to_owned(),
            batch: download.batch.clone(),
            item_id: download.item.clone(),
            total,
            synced: written,
            validator: download.job().validator.clone(),
        };
        let library = library.clone();
        let (file, result) = tokio::task::spawn_blocking(move || {
            let result = file
                .sync_data()
                .and_then(|()| library.downloads().write_note(&id, &note));
            (file, result)
        })
        .await
        .map_err(|e| Failure::new(ErrorKind::MediaFailed, format!("a sync task failed: {e}")))?;
        self.file = Some(file);
        result.map_err(|e| disk_failure("syncing the download", &e))?;
        download.job().synced = written;
        Ok(())
    }

    /// Starts the file over.
    async fn truncate(&mut self, download: &Download) -> Result<(), Failure> {
        self.buffer.clear();
        let file = self
            .file
            .take()
            .ok_or_else(|| Failure::new(ErrorKind::MediaFailed, "no file"))?;
        let (file, result) = tokio::task::spawn_blocking(move || {
            let result = file.set_len(0).and_then(|()| {
                use std::io::Seek;
                (&file).seek(std::io::SeekFrom::Start(0)).map(|_| ())
            });
            (file, result)
        })
        .await
        .map_err(|e| Failure::new(ErrorKind::MediaFailed, format!("a task failed: {e}")))?;
        self.file = Some(file);
        result.map_err(|e| disk_failure("starting the download over", &e))?;
        self.written = 0;
        download.job().synced = 0;
        download.progress.send_modify(|p| {
            p.received = 0;
            p.total = None;
        });
        Ok(())
    }
}

fn disk_failure(what: &str, err: &std::io::Error) -> Failure {
    Failure::new(ErrorKind::MediaFailed, format!("{what}: {err}"))
}

/// Downloads until every byte is in the file (the length), or a failure that no
/// retry cures.
async fn download_loop(inner: &Inner, download: &Download) -> Result<u64, Failure> {
    let env = TokioEnv::default();
    let mut backoff = Backoff::new(RetryPolicy::MEDIA, env.now());
    let mut wrong_ranges = 0u32;
    let mut sink = {
        let path = download.path.clone();
        let opened = tokio::task::spawn_blocking(move || {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .and_then(|file| {
                    let len = file.metadata()?.len();
                    use std::io::Seek;
                    (&file).seek(std::io::SeekFrom::End(0))?;
                    Ok((file, len))
                })
        })
        .await
        .map_err(|e| Failure::new(ErrorKind::MediaFailed, format!("a task failed: {e}")))?
        .map_err(|e| disk_failure("opening the download", &e))?;
        Sink {
            file: Some(opened.0),
            buffer: Vec::with_capacity(WRITE_EVERY),
            written: opened.1,
        }
    };
    let mut total = download.progress().total;
    loop {
        let (url, bearer, validator) = {
            let job = download.job();
            let url = job
                .url
                .clone()
                .ok_or_else(|| Failure::new(ErrorKind::UnknownDownload, "no URL to fetch"))?;
            (url, job.bearer.clone(), job.validator.clone())
        };
        let have = sink.written;
        if total.is_some_and(|t| have >= t) && have > 0 {
            return Ok(have);
        }
        let header = |text: String| HeaderValue::from_str(&text).ok();
        let authorization = bearer.and_then(|b| {
            let mut value = header(format!("Bearer {}", b.0))?;
            value.set_sensitive(true);
            Some(value)
        });
        let range = (have > 0)
            .then(|| header(format!("bytes={have}-")))
            .flatten();
        let if_range = validator.filter(|_| have > 0).and_then(header);
        let answer = media_proxy::fetch_ranged(
            &inner.client,
            &inner.hosts,
            &url,
            authorization.as_ref(),
            range.as_ref(),
            if_range.as_ref(),
        )
        .await;
        let transient =
            |why: String, retry_after: Option<Duration>, backoff: &mut Backoff| match backoff.next(
                true,
                retry_after,
                env.now(),
                env.random(),
            ) {
                Verdict::Wait(wait) => Ok((wait, why)),
                _ => Err(Failure::new(
                    ErrorKind::MediaFailed,
                    format!(
                        "gave up after {} attempts; last: {why}",
                        backoff.failures() + 1
                    ),
                )),
            };
        let response = match answer {
            Ok(response) => response,
            Err(AppError::Forbidden(why)) => {
                return Err(Failure::new(ErrorKind::MediaFailed, why));
            }
            Err(err) => {
                let (wait, why) = transient(err.to_string(), None, &mut backoff)?;
                tracing::debug!(download = %download.id, %why, ?wait, "retrying a download");
                env.sleep(wait).await;
                continue;
            }
        };
        let status = response.status().as_u16();
        match status {
            200 | 206 => {}
            401 => {
                return Err(Failure::new(
                    ErrorKind::MediaUnauthorized,
                    "the media server refused the sign-in (401): sign in to Google again",
                ));
            }
            403 => {
                return Err(Failure::new(
                    ErrorKind::MediaForbidden,
                    "the media server refused the download (403): its link expired, or the \
                     picking session ended",
                ));
            }
            404 | 410 => {
                return Err(Failure::new(
                    ErrorKind::MediaNotFound,
                    format!("the media server has no such item (HTTP {status})"),
                ));
            }
            416 if wrong_ranges < MAX_WRONG_RANGES => {
                // Our partial copy does not fit the file any more: start over.
                wrong_ranges += 1;
                sink.truncate(download).await?;
                total = None;
                continue;
            }
            s if picker::retry::is_transient_status(s) => {
                let (wait, why) =
                    transient(format!("HTTP {s}"), retry_after_of(&response), &mut backoff)?;
                tracing::debug!(download = %download.id, %why, ?wait, "retrying a download");
                env.sleep(wait).await;
                continue;
            }
            s => {
                return Err(Failure::new(
                    ErrorKind::MediaFailed,
                    format!("the media server answered HTTP {s}"),
                ));
            }
        }
        let content_range = response
            .headers()
            .get(reqwest::header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        match picker::resume(
            status,
            have,
            content_range.as_deref(),
            response.content_length(),
        ) {
            picker::Resume::Append { total: t } => total = t.or(total),
            picker::Resume::Restart { total: t } => {
                if have > 0 {
                    tracing::debug!(download = %download.id, have, "the host sent the whole file again: starting over");
                    sink.truncate(download).await?;
                }
                total = t;
            }
            picker::Resume::WrongRange => {
                wrong_ranges += 1;
                if wrong_ranges > MAX_WRONG_RANGES {
                    return Err(Failure::new(
                        ErrorKind::MediaFailed,
                        "the media server keeps answering other ranges than asked",
                    ));
                }
                sink.truncate(download).await?;
                total = None;
                continue;
            }
        }
        let validator = ["etag", "last-modified"]
            .iter()
            .find_map(|name| response.headers().get(*name))
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.starts_with("W/"))
            .map(str::to_owned);
        download.job().validator = validator;
        download.progress.send_modify(|p| p.total = total);
        let before = sink.written;
        let mut body = response.bytes_stream();
        let mut unsynced = 0u64;
        let cut = loop {
            match body.next().await {
                None => break None,
                Some(Ok(chunk)) => {
                    if total.is_some_and(|t| {
                        sink.written + (sink.buffer.len() + chunk.len()) as u64 > t
                    }) {
                        break Some("more bytes than announced".to_owned());
                    }
                    sink.buffer.extend_from_slice(&chunk);
                    unsynced += chunk.len() as u64;
                    if sink.buffer.len() >= WRITE_EVERY {
                        sink.flush(download).await?;
                    }
                    if unsynced >= SYNC_EVERY {
                        unsynced = 0;
                        sink.sync(&inner.library, download, total).await?;
                    }
                }
                Some(Err(err)) => break Some(format!("the connection broke: {err}")),
            }
        };
        sink.flush(download).await?;
        if sink.written > before {
            // Progress: a long download over a flaky line goes on as long as it moves.
            backoff.reset(env.now());
        }
        match (cut, total) {
            (Some(why), _) if why.starts_with("more bytes") => {
                sink.truncate(download).await?;
                total = None;
                let (wait, why) = transient(why, None, &mut backoff)?;
                tracing::debug!(download = %download.id, %why, ?wait, "starting a download over");
                env.sleep(wait).await;
            }
            (Some(why), _) => {
                let (wait, why) = transient(why, None, &mut backoff)?;
                tracing::debug!(download = %download.id, %why, ?wait, received = sink.written, "resuming a cut download");
                env.sleep(wait).await;
            }
            (None, Some(t)) if sink.written < t => {
                let why = format!("the body ended after {} of {t} bytes", sink.written);
                let (wait, why) = transient(why, None, &mut backoff)?;
                tracing::debug!(download = %download.id, %why, ?wait, "resuming a short download");
                env.sleep(wait).await;
            }
            (None, _) if sink.written == 0 => {
                return Err(Failure::new(
                    ErrorKind::MediaFailed,
                    "the media server sent an empty file",
                ));
            }
            (None, _) => return Ok(sink.written),
        }
    }
}
