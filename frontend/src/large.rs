//! Videos, whatever their size, with bounded memory: never the whole file in the
//! tab. The file is read in ranges through the helper's proxy; `moov` is found
//! with a few small reads and fixed in WASM ([`metafix::movie`]); then each part
//! of [`PART_LEN`] bytes is downloaded, patched where the edits fall in it, and
//! sent as one part of a resumable upload ([`api::UPLOAD_PART`]); the helper
//! publishes the file when the last part is in. At most one part (plus `moov`)
//! is in memory at a time.
//!
//! Why videos and not "anything over N MB": a photo is rarely over 50 MB and its
//! EXIF may need a header rebuilt (the one-request path does that), while a movie
//! is patched in place, and phone videos of several GB are common. Beginning the
//! upload finds the one under way, so a failed item retried, a reloaded tab or a
//! restarted helper resumes from the bytes the helper holds.
//!
//! [`api::UPLOAD_PART`]: api::routes::UPLOAD_PART

use leptos::prelude::*;
use metafix::movie::{self, MoovSearch, MoviePatch};
use picker::{MediaSuffix, PickedMediaItem};

use crate::client::{self, ApiError, CommitQuery, ItemId, SaveOutcome};
use crate::download;
use crate::model::Progress;
use crate::process::{ItemFailure, Job};

/// Bytes per part: large enough that the per-request cost (a round trip, an
/// fsync in the helper) is small against the transfer, small enough that a part
/// re-sent after a cut costs little, and within [`api::UPLOAD_PART_MAX`].
pub const PART_LEN: u64 = 16 << 20;

/// The first read: the `ftyp` box, and usually `moov` too (phones write it first
/// for streaming), so most files need no other read to find it.
const FIRST_READ: u64 = 256 << 10;

/// A `moov` larger than this is refused rather than held in memory (a two-hour
/// 4K video's is a few MB).
const MAX_MOOV: u64 = 64 << 20;

/// How many box headers the walk reads before giving up on finding `moov`.
const MAX_TOP_LEVEL_BOXES: u32 = 1000;

const _: () = assert!(PART_LEN <= api::UPLOAD_PART_MAX);

fn failure(message: impl Into<String>) -> ItemFailure {
    ItemFailure::item(message)
}

/// Reads `range` of the item's file, of which `have` holds the first bytes.
async fn read(
    job: &Job,
    item: &PickedMediaItem,
    range: std::ops::Range<u64>,
    total: u64,
    have: Vec<u8>,
) -> Result<Vec<u8>, ApiError> {
    let got = download::download_range(
        &job.api,
        &job.urls,
        &item.id,
        MediaSuffix::DownloadVideo,
        range,
        Some(total),
        have,
    )
    .await?;
    Ok(got.bytes)
}

/// Finds `moov` and fixes its dates: the edits to make as the file streams past,
/// and the file's first bytes (read to find `moov`; the first part reuses them,
/// and a video smaller than [`FIRST_READ`] is read only once).
async fn patch_of(
    job: &Job,
    item: &PickedMediaItem,
    context: &metafix::ItemContext,
) -> Result<(MoviePatch, Vec<u8>), ItemFailure> {
    let first = download::download_range(
        &job.api,
        &job.urls,
        &item.id,
        MediaSuffix::DownloadVideo,
        0..FIRST_READ,
        None,
        Vec::new(),
    )
    .await?;
    let (head, total) = (first.bytes, first.total);
    let from_head = |range: &std::ops::Range<u64>| {
        let start = usize::try_from(range.start).ok()?;
        let end = usize::try_from(range.end).ok()?;
        head.get(start..end)
    };
    let mut offset = 0u64;
    let mut found = None;
    for _ in 0..MAX_TOP_LEVEL_BOXES {
        let header_end = (offset + movie::BOX_HEADER_LEN as u64).min(total);
        let header = match from_head(&(offset..header_end)) {
            Some(bytes) => bytes.to_vec(),
            None => read(job, item, offset..header_end, total, Vec::new()).await?,
        };
        match movie::locate_moov(&header, offset, total) {
            MoovSearch::Next(next) => offset = next,
            MoovSearch::Found(range) => {
                found = Some(range);
                break;
            }
            MoovSearch::NotFound => break,
        }
    }
    let (moov, moov_offset) = match found {
        Some(range) if range.end - range.start > MAX_MOOV => {
            return Err(failure(format!(
                "the movie's header (moov) is {} bytes, more than this app holds",
                range.end - range.start
            )));
        }
        Some(range) => {
            let bytes = match from_head(&range) {
                Some(bytes) => bytes.to_vec(),
                None => read(job, item, range.clone(), total, Vec::new()).await?,
            };
            (bytes, range.start)
        }
        // No moov: metafix says so in the report, and the file is kept as it came.
        None => (Vec::new(), 0),
    };
    let head_len = head.len().min(movie::HEAD_LEN);
    let patch = movie::fix_moov(
        &head[..head_len],
        &moov,
        moov_offset,
        total,
        &job.options,
        context,
    );
    Ok((patch, head))
}

/// Downloads, fixes and saves one video in parts; `progress.bytes` counts the
/// bytes the helper holds as they arrive.
pub async fn save_in_parts(
    job: &Job,
    item: &PickedMediaItem,
    item_id: &ItemId,
    context: &metafix::ItemContext,
    progress: RwSignal<Progress>,
) -> Result<(SaveOutcome, MoviePatch), ItemFailure> {
    let (patch, head) = patch_of(job, item, context).await?;
    let total = patch.output_len();
    let file_name = patch.file_name(&item.media_file.filename);
    progress.update(|p| {
        p.stage = crate::model::Stage::Uploading;
        p.report = Some(patch.report.clone());
        p.file_name = Some(file_name.clone());
        p.total = Some(total);
    });
    let begun = client::begin_upload(&job.batch, item_id).await?;
    let (upload, mut received) = (begun.upload_id, begun.received);
    while received < total {
        progress.update(|p| p.bytes = received);
        let end = (received + PART_LEN).min(total);
        // What the first read brought is not read again.
        let held = usize::try_from(received)
            .ok()
            .and_then(|start| head.get(start..usize::try_from(end).ok()?.min(head.len())))
            .unwrap_or(&[]);
        let mut part = read(job, item, received..end, total, held.to_vec()).await?;
        if part.len() as u64 != end - received {
            return Err(failure("the download ended before the end of the file"));
        }
        patch.apply(&mut part, received);
        let now = client::upload_part(&job.batch, item_id, &upload, received, &part).await?;
        if now > total {
            return Err(failure(format!(
                "the helper holds {now} bytes of a {total}-byte file"
            )));
        }
        received = now;
    }
    progress.update(|p| p.bytes = received);
    let instant = patch.capture_time().unwrap_or(item.create_time);
    let capture_time = match patch.capture_offset() {
        Some(offset) => instant.display_with_offset(offset).to_string(),
        None => instant.to_string(),
    };
    let query = CommitQuery {
        filename: file_name,
        capture_time,
        size: total,
    };
    let saved = client::commit_upload(&job.batch, item_id, &upload, &query).await?;
    Ok((saved, patch))
}
