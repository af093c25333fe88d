//! One picked item's journey, with its bytes never in the tab: the helper fetches
//! the item itself ([`client::fetch_item`]); the tab reads the ranges metafix's
//! [`Planner`] asks for ([`client::read_range`], a few hundred KB of a photo, a
//! movie's box headers and `moov`), plans the fix in WASM, shows the before/after
//! metadata, and sends the patch ([`client::keep`]), which the helper applies
//! while it copies the download into the library.
//!
//! Faults are ridden through here and in the helper: the helper retries and
//! resumes its download; a download refused for an expired `baseUrl` (403) is
//! fetched again with fresh URLs ([`Urls`]), and goes on from where it stopped; a
//! helper restarted mid-run holds the download paused, so the item is fetched
//! again (its bytes on disk are found and resumed). Either can happen while a
//! read waits for bytes or while the keep waits for the last one: both fetch
//! again and go on. Errors the helper gives a kind are never retried as they
//! are: the helper retried already, and the kind says what to do instead.

use std::ops::Range;
use std::sync::Arc;

use async_lock::{Semaphore, SemaphoreGuardArc};

use leptos::prelude::*;
use metafix::{FixOptions, ItemContext, Planner, Step};
use picker::{MediaSuffix, MediaType, PickedMediaItem, UrlBook};

use crate::client::{
    self, ApiError, BatchId, DownloadId, ErrorKind, FetchAnswer, FetchRequest, ItemId, KeepRequest,
    PickerApi, SaveOutcome, SaveStatus,
};
use crate::model::{Progress, Settings, Stage};
use crate::timing;
use crate::urls::Urls;

/// Turns the settings card into metafix options, with the zone its time zone
/// setting names (loaded by [`crate::state::Ctx::time_zone`]).
pub fn fix_options(settings: &Settings, zone: Option<jiff::tz::TimeZone>) -> FixOptions {
    let mut options = FixOptions::default().with_dates(settings.dates);
    if !settings.artist.trim().is_empty() {
        options = options.with_artist(settings.artist.trim());
    }
    if !settings.copyright.trim().is_empty() {
        options = options.with_copyright(settings.copyright.trim());
    }
    options.time_zone = zone;
    options
}

/// Everything a run needs besides the item.
#[derive(Debug, Clone)]
pub struct Job {
    /// Picker API client (its token authorises the helper's downloads too).
    pub api: PickerApi,
    /// Batch id of this run.
    pub batch: BatchId,
    /// What to fix.
    pub options: FixOptions,
    /// The items' current download URLs (refreshed when they expire).
    pub urls: Urls,
    /// One per download the helper may run for this tab at once (the "Downloads at
    /// a time" setting): an item holds one from its fetch until its bytes are all
    /// in, so the next item's download runs while this one is planned and kept.
    pub slots: Arc<Semaphore>,
}

/// An item failed for good; `needs_sign_in` when the token ran out,
/// `session_gone` when Google no longer gives access to the picking session.
#[derive(Debug, Clone)]
pub struct ItemFailure {
    /// Why.
    pub message: String,
    /// The token expired or was revoked: the run must pause for a new sign-in.
    pub needs_sign_in: bool,
    /// The picking session expired (or was deleted): its items cannot be
    /// fetched any more; picking them again in a new session is the way on.
    pub session_gone: bool,
}

/// Why an item whose session expired failed (the results card groups by it).
pub const SESSION_GONE: &str = "Google's picking session expired before this item was saved; \
                                press “Pick more” and pick it again";

impl ItemFailure {
    /// A failure of this item alone.
    pub fn item(message: impl Into<String>) -> Self {
        ItemFailure {
            message: message.into(),
            needs_sign_in: false,
            session_gone: false,
        }
    }
}

impl From<ApiError> for ItemFailure {
    fn from(err: ApiError) -> Self {
        // The Picker API's 403 (`PERMISSION_DENIED`) or 404 (`NOT_FOUND`): the
        // session's access has ended (another public client sees 404 for an
        // expired session; PICKER-API.md §1 says to treat both alike), so the
        // listing that fresh URLs needed could not be made.
        if matches!(
            err,
            ApiError::Google {
                code: 403 | 404,
                ..
            }
        ) {
            return ItemFailure {
                message: SESSION_GONE.to_owned(),
                needs_sign_in: false,
                session_gone: true,
            };
        }
        ItemFailure {
            needs_sign_in: err.needs_sign_in(),
            session_gone: false,
            message: err.to_string(),
        }
    }
}

/// Fetches, plans and keeps one item, reporting each stage into `progress`.
pub async fn process(
    job: &Job,
    item: &PickedMediaItem,
    progress: &ArcRwSignal<Progress>,
) -> Result<(), ItemFailure> {
    let outcome = run(job, item, progress).await;
    match &outcome {
        // Not the item's fault: it waits for the new sign-in, and the resume
        // after it picks the item up again.
        Err(failure) if failure.needs_sign_in => progress.update(|p| {
            *p = Progress {
                error: Some("waiting for a new Google sign-in".into()),
                ..Progress::default()
            }
        }),
        Err(failure) => progress.update(|p| {
            p.stage = Stage::Failed;
            p.error = Some(failure.message.clone());
        }),
        Ok(()) => {}
    }
    outcome
}

/// How often the tab asks how far a download is while a read waits for it.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The helper's download of one item: fetched again when it is refused.
struct Fetch<'a> {
    job: &'a Job,
    item: &'a PickedMediaItem,
    progress: &'a ArcRwSignal<Progress>,
    item_id: ItemId,
    suffix: MediaSuffix,
    download: Option<DownloadId>,
    /// The listing the URL of the last fetch came from.
    generation: u64,
    refusals: u32,
    /// The download slot, while the helper may still be downloading the item.
    slot: Option<SemaphoreGuardArc>,
}

impl Fetch<'_> {
    /// Asks the helper to fetch the item (again): its download, or the saved file.
    async fn start(&mut self) -> Result<Option<SaveOutcome>, ItemFailure> {
        if self.slot.is_none() {
            self.slot = Some(self.job.slots.acquire_arc().await);
        }
        let (base_url, generation) = self.job.urls.url(&self.job.api, &self.item.id).await?;
        self.generation = generation;
        let request = FetchRequest {
            url: picker::media_url(&base_url, self.suffix),
            filename: self.item.media_file.filename.clone(),
        };
        let answer =
            client::fetch_item(&self.job.api, &self.job.batch, &self.item_id, &request).await?;
        Ok(match answer {
            FetchAnswer::AlreadySaved(saved) => Some(saved),
            FetchAnswer::Fetching(info) => {
                self.download = Some(info.download);
                None
            }
        })
    }

    /// Bytes `range` of the download and its length; a download refused (expired
    /// URL) or lost (the helper restarted) is fetched again and read on.
    async fn read(&mut self, range: Range<u64>) -> Result<(Vec<u8>, u64), ItemFailure> {
        loop {
            let Some(download) = self.download.clone() else {
                return Err(ItemFailure::item("the helper is not downloading this item"));
            };
            // A read waits for its bytes to arrive at the helper (a movie's `moov`
            // may be at its end): meanwhile the tile shows how far the download is.
            let reading = client::read_range(&download, range.clone());
            let watching = async {
                loop {
                    gloo_timers::future::sleep(PROGRESS_EVERY).await;
                    if let Ok(info) = client::download_info(&download).await {
                        self.progress.update(|p| {
                            p.bytes = info.received;
                            p.total = info.total;
                        });
                    }
                }
            };
            let read =
                match futures::future::select(std::pin::pin!(reading), std::pin::pin!(watching))
                    .await
                {
                    futures::future::Either::Left((read, _)) => read,
                    futures::future::Either::Right((never, _)) => never,
                };
            let err = match read {
                Ok(read) => {
                    // A read that reached the end waited for every byte: the
                    // download is over, and its slot goes to the next item.
                    if range.end >= read.1 {
                        self.slot = None;
                    }
                    return Ok(read);
                }
                Err(err) => err,
            };
            if let Some(saved) = self.again(err).await? {
                // Saved meanwhile (another tab): nothing left to read.
                return Err(ItemFailure::item(format!(
                    "saved meanwhile as {}",
                    saved.path
                )));
            }
        }
    }

    /// After `err` from the helper: a download refused (expired URL: listed again
    /// for a fresh one) or lost (the helper restarted, or paused it) is fetched
    /// again, and the saved file answered if the item was saved meanwhile; any
    /// other error, or one refusal too many, is the item's failure.
    async fn again(&mut self, err: ApiError) -> Result<Option<SaveOutcome>, ItemFailure> {
        match err.kind() {
            Some(ErrorKind::MediaForbidden | ErrorKind::UnknownDownload)
                if self.refusals < UrlBook::MAX_REFRESHES_PER_ITEM =>
            {
                self.refusals += 1;
                if err.kind() == Some(ErrorKind::MediaForbidden) {
                    self.job
                        .urls
                        .refused(&self.job.api, self.generation)
                        .await?;
                }
                self.start().await
            }
            _ => Err(err.into()),
        }
    }
}

async fn run(
    job: &Job,
    item: &PickedMediaItem,
    progress: &ArcRwSignal<Progress>,
) -> Result<(), ItemFailure> {
    // Waiting for a slot, the item shows as not started.
    let slot = job.slots.acquire_arc().await;
    progress.update(|p| {
        *p = Progress {
            stage: Stage::Downloading,
            ..Progress::default()
        }
    });
    if item.is_processing() {
        // Google refuses `=dv` until the video is ready; no point fetching.
        return Err(ItemFailure::item(
            "Google is still processing this video; try again later",
        ));
    }
    let mut context = ItemContext::default()
        .with_filename(item.media_file.filename.clone())
        .with_mime_type(item.media_file.mime_type.clone());
    context.create_time = item.create_time;
    if let Some(meta) = &item.media_file.media_file_metadata {
        context.camera_make = meta.camera_make.clone();
        context.camera_model = meta.camera_model.clone();
    }
    let item_id: ItemId = item.id.parse().map_err(|err| {
        ItemFailure::item(format!(
            "Google sent an item id the helper cannot store: {err}"
        ))
    })?;
    let started = timing::now();
    let mut fetch = Fetch {
        job,
        item,
        progress,
        item_id: item_id.clone(),
        suffix: if item.kind == MediaType::Video {
            MediaSuffix::DownloadVideo
        } else {
            MediaSuffix::Download
        },
        download: None,
        generation: 0,
        refusals: 0,
        slot: Some(slot),
    };
    if let Some(saved) = fetch.start().await? {
        return finish(saved, metafix::Outcome::AlreadyAsAsked, progress);
    }
    let at = timing::record("fetch", started);
    // The first read also tells the file's length, which the plan needs.
    let (first, total) = fetch.read(0..Planner::FIRST_READ).await?;
    let mut at = timing::record("read", at);
    progress.update(|p| p.total = Some(total));
    let mut planner = Planner::new(total, &job.options, &context);
    planner.feed(0, &first);
    drop(first);
    let mut patch = loop {
        match planner.next_step() {
            Step::Read(ranges) => {
                for range in ranges {
                    let start = range.start;
                    let (bytes, _) = fetch.read(range).await?;
                    planner.feed(start, &bytes);
                }
                at = timing::record("read", at);
            }
            Step::Done(patch) => break patch,
        }
    };
    let at = timing::record("plan", at);
    let file_name = patch.file_name(&item.media_file.filename);
    let capture_time = api::CaptureTime::of_patch(&patch, item.create_time);
    progress.update(|p| {
        p.stage = Stage::Saving;
        p.report = Some(patch.report.clone());
        p.capture_offset = patch.capture_offset();
        p.capture_time = capture_time.map(|t| t.instant);
        p.file_name = Some(file_name.clone());
        p.bytes = patch.output_len();
    });
    let outcome = patch.outcome();
    let download = fetch
        .download
        .clone()
        .ok_or_else(|| ItemFailure::item("the helper is not downloading this item"))?;
    let mut request = KeepRequest {
        download,
        filename: file_name,
        capture_time,
        pieces: patch.take_pieces(),
    };
    // A keep waits for the download's last byte: a download that stops for good
    // meanwhile (its URL expired before a resume, or the helper restarted) is
    // fetched again and the same patch kept; the plan read bytes of the same
    // item, which a new download brings again byte for byte.
    let saved = loop {
        match client::keep(&job.batch, &item_id, &request).await {
            Ok(saved) => break saved,
            Err(err) => {
                if let Some(saved) = fetch.again(err).await? {
                    break saved;
                }
                if let Some(download) = fetch.download.clone() {
                    request.download = download;
                }
            }
        }
    };
    let at = timing::record("keep", at);
    let finished = finish(saved, outcome, progress);
    timing::record("progress", at);
    timing::record("item", started);
    finished
}

/// Shows the saved file; a file metafix could not edit is kept as it came (never
/// lose a photo), but it is not "saved and unchanged": the user asked for edits
/// it did not get.
fn finish(
    saved: SaveOutcome,
    outcome: metafix::Outcome,
    progress: &ArcRwSignal<Progress>,
) -> Result<(), ItemFailure> {
    progress.update(|p| {
        p.stage = match saved.status {
            SaveStatus::Duplicate => Stage::Duplicate,
            SaveStatus::Saved => Stage::Saved,
        };
        p.saved_path = Some(saved.path);
        p.bytes = saved.size;
        p.total = None;
    });
    if let metafix::Outcome::CouldNotEdit(why) = outcome {
        return Err(ItemFailure::item(format!(
            "saved as it came, but its metadata could not be edited: {}",
            why.why
        )));
    }
    Ok(())
}
