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
//! restarted helper resumes from the bytes the helper holds — if they are bytes of
//! the same file: the begin names the file's [`fingerprint`] (its edits), and the
//! helper starts over when the settings changed since. Beginning also answers
//! at once when the helper already holds the item (saved in another batch): then
//! nothing past the first read (to find `moov`) is downloaded, and nothing is sent.
//!
//! [`api::UPLOAD_PART`]: api::routes::UPLOAD_PART

use leptos::prelude::*;
use metafix::movie::{self, MoovSearch, MoviePatch};
use picker::{MediaSuffix, PickedMediaItem};

use crate::client::{
    self, ApiError, BeginQuery, CommitQuery, ItemId, SaveOutcome, UploadBegun, UploadFingerprint,
};
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

/// What the saved file will be, for the helper to tell a resume of the same file
/// from one of another: its length and the edits, since the rest is the
/// original's bytes whatever the settings. A setting that changes what is
/// written (the dates policy, the time zone…) changes the edits; one that does
/// not (a movie gets no Artist) keeps the parts already sent.
pub fn fingerprint(patch: &MoviePatch) -> UploadFingerprint {
    UploadFingerprint::of_edits(
        patch.output_len(),
        patch
            .edits
            .iter()
            .map(|edit| (edit.offset, edit.bytes.as_slice())),
    )
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
    let query = BeginQuery {
        size: total,
        fingerprint: fingerprint(&patch),
    };
    let (upload, mut received) = match client::begin_upload(&job.batch, item_id, &query).await? {
        UploadBegun::Uploading(status) => (status.upload_id, status.received),
        // Saved before (in another batch, by another tab): nothing to send.
        UploadBegun::AlreadySaved(saved) => return Ok((saved, patch)),
    };
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

#[cfg(test)]
mod tests {
    use metafix::{DatePolicy, FixOptions, ItemContext};

    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = u32::try_from(body.len() + 8)
            .unwrap()
            .to_be_bytes()
            .to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(body);
        b
    }

    /// A movie whose `mvhd` has no dates (as the emulator's videos), and its `moov`'s range.
    fn movie() -> (Vec<u8>, std::ops::Range<usize>) {
        let ftyp = boxed(b"ftyp", b"isom\0\0\x02\0isomiso2mp41");
        let moov = boxed(b"moov", &boxed(b"mvhd", &[0; 100]));
        let mdat = boxed(b"mdat", &[7; 3000]);
        let range = ftyp.len()..ftyp.len() + moov.len();
        ([ftyp, moov, mdat].concat(), range)
    }

    fn patch(options: &FixOptions) -> MoviePatch {
        let (file, moov) = movie();
        let context = ItemContext::default()
            .with_create_time("2021-03-04T05:06:07Z".parse().unwrap())
            .with_filename("clip.mp4")
            .with_mime_type("video/mp4");
        movie::fix_moov(
            &file[..movie::HEAD_LEN.min(file.len())],
            &file[moov.clone()],
            moov.start as u64,
            file.len() as u64,
            options,
            &context,
        )
    }

    #[test]
    fn the_fingerprint_follows_what_is_written_not_settings_that_write_nothing() {
        let fill = FixOptions::default().with_dates(DatePolicy::Fill);
        let keep = FixOptions::default().with_dates(DatePolicy::Keep);
        let fixed = patch(&fill);
        assert!(fixed.changed(), "the dates are filled in");
        assert!(!patch(&keep).changed());
        assert_eq!(fingerprint(&fixed), fingerprint(&patch(&fill)), "stable");
        assert_ne!(
            fingerprint(&fixed),
            fingerprint(&patch(&keep)),
            "another dates policy writes other bytes"
        );
        // A movie gets no Artist: the same bytes, the same fingerprint, so a
        // resume keeps the parts sent.
        assert_eq!(
            fingerprint(&patch(&fill.clone().with_artist("Ana"))),
            fingerprint(&fixed)
        );
        // Every edit counts, wherever it falls.
        let mut moved = fixed.clone();
        moved.edits[0].offset += 1;
        assert_ne!(fingerprint(&moved), fingerprint(&fixed));
        let mut other = fixed.clone();
        other.edits.last_mut().unwrap().bytes[0] ^= 1;
        assert_ne!(fingerprint(&other), fingerprint(&fixed));
    }
}
