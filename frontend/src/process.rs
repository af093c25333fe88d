//! One picked item's journey: download through the helper, fix in WASM, upload
//! to the helper. Faults are ridden through below: [`crate::download`] resumes and
//! refreshes URLs, [`client::upload`] retries under the one policy.

use leptos::prelude::*;
use metafix::{FixOptions, ItemContext};
use picker::{MediaSuffix, MediaType, PickedMediaItem};

use crate::browser;
use crate::client::{
    self, ApiError, BatchId, ItemId, PickerApi, SaveOutcome, SaveStatus, UploadQuery,
};
use crate::download::{self, UrlBook};
use crate::large;
use crate::model::{Progress, Settings, Stage};
use crate::timing;

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
    /// Picker API client (its token authorises the media downloads too).
    pub api: PickerApi,
    /// Batch id of this run.
    pub batch: BatchId,
    /// What to fix.
    pub options: FixOptions,
    /// The items' current download URLs (refreshed when they expire).
    pub urls: UrlBook,
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
        // The Picker API's 403 (`PERMISSION_DENIED`, the session's access has
        // ended): a download that needed fresh URLs could not list them.
        if matches!(err, ApiError::Google { code: 403, .. }) {
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

/// Downloads, fixes and saves one item, reporting each stage into `progress`.
pub async fn process(
    job: &Job,
    item: &PickedMediaItem,
    progress: RwSignal<Progress>,
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

async fn run(
    job: &Job,
    item: &PickedMediaItem,
    progress: RwSignal<Progress>,
) -> Result<(), ItemFailure> {
    progress.update(|p| {
        *p = Progress {
            stage: Stage::Downloading,
            ..Progress::default()
        }
    });
    if item.is_processing() {
        // Google refuses `=dv` until the video is ready; no point downloading.
        return Err(ItemFailure::item(
            "Google is still processing this video; try again later",
        ));
    }
    let mut context = ItemContext::default()
        .with_create_time(item.create_time)
        .with_filename(item.media_file.filename.clone())
        .with_mime_type(item.media_file.mime_type.clone());
    if let Some(meta) = &item.media_file.media_file_metadata {
        context.camera_make = meta.camera_make.clone();
        context.camera_model = meta.camera_model.clone();
    }
    let item_id: ItemId = item.id.parse().map_err(|err| {
        ItemFailure::item(format!(
            "Google sent an item id the helper cannot store: {err}"
        ))
    })?;
    if item.kind == MediaType::Video {
        // Any size, bounded memory: ranges in, parts out (see `large`).
        let (saved, patch) = large::save_in_parts(job, item, &item_id, &context, progress).await?;
        return finish(saved, patch.outcome(), progress);
    }
    let started = timing::now();
    let original = download::download(&job.api, &job.urls, &item.id, MediaSuffix::Download).await?;
    let at = timing::record("download", started);

    progress.update(|p| p.stage = Stage::Fixing);
    let at = timing::record("progress", at);
    let input = client::to_vec(&original);
    let at = timing::record("copy into wasm", at);
    let fixed = metafix::fix(&input, &job.options, &context);
    drop(input);
    let at = timing::record("fix", at);
    let file_name = fixed.file_name(&item.media_file.filename);
    // RFC 3339 with the photographer's offset when known: the helper files the
    // photo under the year and month their clock showed.
    let instant = fixed.capture_time().unwrap_or(item.create_time);
    let capture_time = match fixed.capture_offset() {
        Some(offset) => instant.display_with_offset(offset).to_string(),
        None => instant.to_string(),
    };
    let body = browser::upload_body_of(&fixed.header, &original, fixed.tail.start, fixed.tail.end);
    drop(original);
    let at = timing::record("upload body", at);
    progress.update(|p| {
        p.stage = Stage::Uploading;
        p.report = Some(fixed.report.clone());
        p.capture_offset = fixed.capture_offset();
        p.file_name = Some(file_name.clone());
        p.bytes = fixed.output_len() as u64;
    });
    let at = timing::record("progress", at);

    let query = UploadQuery {
        filename: file_name.clone(),
        capture_time,
    };
    let saved = client::upload(&job.batch, &item_id, &query, &body).await?;
    let at = timing::record("upload", at);
    let finished = finish(saved, fixed.outcome(), progress);
    timing::record("progress", at);
    timing::record("photo", started);
    finished
}

/// Shows the saved file; a file metafix could not edit is kept as it came (never
/// lose a photo), but it is not "saved and unchanged": the user asked for edits
/// it did not get.
fn finish(
    saved: SaveOutcome,
    outcome: metafix::Outcome,
    progress: RwSignal<Progress>,
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
