//! Movies of any size: the same date fixes as [`fix`](crate::fix) makes to an MP4/MOV,
//! from the file's first bytes and its `moov` box alone, so a 4 GB video never has to
//! be in memory. A movie's dates are patched in place (fixed-size fields of
//! `mvhd`/`tkhd`/`mdhd`), so the fixed file is the original with a few bytes
//! replaced: [`MoviePatch::edits`], applied to each chunk as it streams past
//! ([`MoviePatch::apply`]).
//!
//! ```
//! use metafix::movie::{self, MoovSearch};
//! # fn read_at(file: &[u8], at: u64, len: usize) -> &[u8] {
//! #     let at = at as usize;
//! #     &file[at.min(file.len())..(at + len).min(file.len())]
//! # }
//! # let file = {
//! #     let boxed = |kind: &[u8; 4], body: &[u8]| {
//! #         let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
//! #         b.extend_from_slice(kind);
//! #         b.extend_from_slice(body);
//! #         b
//! #     };
//! #     let mut mvhd = vec![0u8; 4 + 8];
//! #     mvhd.extend([0u8; 88]);
//! #     let mut f = boxed(b"ftyp", b"isom\0\0\x02\0isomiso2mp41");
//! #     f.extend(boxed(b"mdat", &[7u8; 100]));
//! #     f.extend(boxed(b"moov", &boxed(b"mvhd", &mvhd)));
//! #     f
//! # };
//! let file_len = file.len() as u64;
//! // Walk the top-level boxes with small reads until `moov` turns up.
//! let mut at = 0;
//! let moov = loop {
//!     match movie::locate_moov(read_at(&file, at, movie::BOX_HEADER_LEN), at, file_len) {
//!         MoovSearch::Next(next) => at = next,
//!         MoovSearch::Found(range) => break Some(range),
//!         MoovSearch::NotFound => break None,
//!     }
//! };
//! let moov = moov.expect("this movie has a moov");
//! let head = read_at(&file, 0, movie::HEAD_LEN);
//! let moov_bytes = read_at(&file, moov.start, (moov.end - moov.start) as usize);
//! let item = metafix::ItemContext::default()
//!     .with_create_time("2021-05-06T07:08:09Z".parse().unwrap());
//! let patch = movie::fix_moov(head, moov_bytes, moov.start, file_len,
//!     &metafix::FixOptions::default(), &item);
//! // Stream the file in chunks, patching each on its way.
//! let mut out = Vec::new();
//! for (i, chunk) in file.chunks(64).enumerate() {
//!     let mut chunk = chunk.to_vec();
//!     patch.apply(&mut chunk, (i * 64) as u64);
//!     out.extend(chunk);
//! }
//! let whole = metafix::fix(&file, &metafix::FixOptions::default(), &item);
//! assert_eq!(out, whole.assemble(&file));
//! ```

use std::ops::Range;

use jiff::Timestamp;

use crate::bmff::{self, BoxHeader};
use crate::dates::Capture;
use crate::fixed::corrected_file_name;
use crate::image::{check_name_and_type, google_capture};
use crate::report::{NotDoneKind, Outcome, Report};
use crate::{FixOptions, Format, ItemContext, video};

/// Bytes [`locate_moov`] needs at each offset: the longest box header (size, type,
/// 64-bit size). Fewer are fine at the end of the file.
pub const BOX_HEADER_LEN: usize = 16;

/// Bytes of the file's start that [`fix_moov`] wants as `head`, to tell MP4 from MOV
/// (the `ftyp` box and its brands). Fewer are fine for a shorter file.
pub const HEAD_LEN: usize = 4096;

/// Where the walk of the top-level boxes stands after one header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoovSearch {
    /// Not this box: read the header at this offset next.
    Next(u64),
    /// The `moov` box, header included.
    Found(Range<u64>),
    /// The walk ended (the file's end, or a header that cannot be read) without `moov`.
    NotFound,
}

/// One step of the walk over a movie's top-level boxes: `bytes` are the file's bytes
/// from `offset` on ([`BOX_HEADER_LEN`] of them, or up to the end of the file), and
/// the file is `file_len` long. Start at offset 0. The walk reads the boxes exactly
/// as [`fix`](crate::fix) does: a box running past the end of the file ends there,
/// size 0 runs to the end, size 1 has a 64-bit size.
pub fn locate_moov(bytes: &[u8], offset: u64, file_len: u64) -> MoovSearch {
    match bmff::box_header(bytes, offset, file_len) {
        BoxHeader::Stop => MoovSearch::NotFound,
        BoxHeader::Box { kind, end, .. } if &kind == b"moov" => MoovSearch::Found(offset..end),
        BoxHeader::Box {
            runs_past: true, ..
        } => MoovSearch::NotFound,
        BoxHeader::Box { end, .. } => MoovSearch::Next(end),
    }
}

/// One change to the file: `bytes` replace as many bytes at `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// Offset in the file.
    pub offset: u64,
    /// The new bytes.
    pub bytes: Vec<u8>,
}

/// What [`fix_moov`] decided: the fixed file is the original with [`edits`](Self::edits)
/// applied, the same length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoviePatch {
    /// The changes, in file order, none overlapping; empty when nothing changes.
    pub edits: Vec<Edit>,
    /// The format found in the file's first bytes.
    pub format: Format,
    /// What was done, not done, and why — the same report [`fix`](crate::fix) gives.
    pub report: Report,
    capture: Option<Capture>,
    file_len: u64,
}

/// The date fixes of a movie from its first bytes (`head`, [`HEAD_LEN`] of them, or
/// the whole file when shorter) and its `moov` box (`moov`, found by [`locate_moov`],
/// at `moov_offset` in a file of `file_len` bytes). Gives the same edits, report and
/// capture time as [`fix`](crate::fix) on the whole file. Never fails and never
/// panics: an empty or unreadable `moov` gives no edits and says why in the report.
pub fn fix_moov(
    head: &[u8],
    moov: &[u8],
    moov_offset: u64,
    file_len: u64,
    options: &FixOptions,
    item: &ItemContext,
) -> MoviePatch {
    let format = Format::detect(head);
    let mut report = Report {
        format: Some(format),
        ..Report::default()
    };
    check_name_and_type(format, item, &mut report);
    let unchanged = |report, capture| MoviePatch {
        edits: Vec::new(),
        format,
        report,
        capture,
        file_len,
    };
    if !matches!(format, Format::Mp4 | Format::Mov) {
        report.not_done(
            NotDoneKind::UnknownFormat,
            "set movie dates",
            "the bytes are not an MP4 or MOV movie",
        );
        return unchanged(report, google_capture(item));
    }
    let Some(movie) = video::movie_edits(moov, options, item, &mut report) else {
        return unchanged(report, google_capture(item));
    };
    let mut edits: Vec<Edit> = movie
        .edits
        .into_iter()
        .filter_map(|(at, bytes)| {
            let offset = moov_offset.checked_add(at as u64)?;
            // Inside the file by construction (found in `moov`'s bytes); a caller
            // that passed a `moov` longer than the file gets no edit past its end.
            (offset.checked_add(bytes.len() as u64)? <= file_len).then_some(Edit { offset, bytes })
        })
        .collect();
    edits.sort_by_key(|edit| edit.offset);
    MoviePatch {
        edits,
        format,
        report,
        capture: movie.capture,
        file_len,
    }
}

impl MoviePatch {
    /// Applies the edits that fall in `chunk`, the file's bytes from `offset` on
    /// (an edit across a chunk boundary is applied in part to each side).
    pub fn apply(&self, chunk: &mut [u8], offset: u64) {
        let chunk_end = offset.saturating_add(chunk.len() as u64);
        for edit in &self.edits {
            let edit_end = edit.offset.saturating_add(edit.bytes.len() as u64);
            let (start, end) = (edit.offset.max(offset), edit_end.min(chunk_end));
            if start >= end {
                continue;
            }
            // All four below are within `chunk` and `edit.bytes` by the bounds above.
            let (in_chunk, in_edit) = ((start - offset) as usize, (start - edit.offset) as usize);
            let len = (end - start) as usize;
            chunk[in_chunk..in_chunk + len].copy_from_slice(&edit.bytes[in_edit..in_edit + len]);
        }
    }

    /// Whether the output differs from the input.
    pub fn changed(&self) -> bool {
        !self.edits.is_empty()
    }

    /// The length of the fixed file: the original's.
    pub fn output_len(&self) -> u64 {
        self.file_len
    }

    /// See [`Fixed::outcome`](crate::Fixed::outcome).
    pub fn outcome(&self) -> Outcome {
        match self.report.outcome() {
            Outcome::AlreadyAsAsked if self.changed() => Outcome::Changed,
            outcome => outcome,
        }
    }

    /// See [`Fixed::extension`](crate::Fixed::extension).
    pub fn extension(&self) -> &'static str {
        self.format.extension()
    }

    /// See [`Fixed::file_name`](crate::Fixed::file_name).
    pub fn file_name(&self, original: &str) -> String {
        corrected_file_name(self.format, original)
    }

    /// See [`Fixed::capture_time`](crate::Fixed::capture_time).
    pub fn capture_time(&self) -> Option<Timestamp> {
        self.capture.map(|c| c.instant)
    }

    /// See [`Fixed::capture_offset`](crate::Fixed::capture_offset).
    pub fn capture_offset(&self) -> Option<jiff::tz::Offset> {
        self.capture.and_then(|c| c.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DatePolicy;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    /// A box with a 64-bit size (size field 1).
    fn large_boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = 1u32.to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(&((body.len() + 16) as u64).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    /// A box that runs to the end of the file (size field 0).
    fn open_boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = 0u32.to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    /// `mvhd` (version 0), two tracks with `tkhd` (version 1: 64-bit times) and
    /// `mdia/mdhd` (version 0), all dated `created` (0 = zeroed).
    fn moov_body(created: u32) -> Vec<u8> {
        let v0 = |extra: usize| {
            let mut b = vec![0, 0, 0, 0];
            b.extend_from_slice(&created.to_be_bytes());
            b.extend_from_slice(&created.to_be_bytes());
            b.extend(std::iter::repeat_n(0x11, extra));
            b
        };
        let v1 = |extra: usize| {
            let mut b = vec![1, 0, 0, 0];
            b.extend_from_slice(&u64::from(created).to_be_bytes());
            b.extend_from_slice(&u64::from(created).to_be_bytes());
            b.extend(std::iter::repeat_n(0x22, extra));
            b
        };
        let mut body = boxed(b"mvhd", &v0(88));
        for _ in 0..2 {
            let mut trak = boxed(b"tkhd", &v1(72));
            trak.extend(boxed(b"mdia", &boxed(b"mdhd", &v0(12))));
            body.extend(boxed(b"trak", &trak));
        }
        body
    }

    fn payload(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    /// The movies of the cases: `(name, bytes)`.
    fn movies(created: u32) -> Vec<(&'static str, Vec<u8>)> {
        let ftyp = boxed(b"ftyp", b"isom\0\0\x02\0isomiso2mp41");
        let qt = boxed(b"ftyp", b"qt  \0\0\x02\0qt  ");
        let moov = boxed(b"moov", &moov_body(created));
        let mdat = boxed(b"mdat", &payload(5000));
        let cat = |parts: &[&[u8]]| parts.concat();
        vec![
            ("moov first", cat(&[&ftyp, &moov, &mdat])),
            ("moov last", cat(&[&ftyp, &mdat, &moov])),
            (
                "moov after free and a 64-bit mdat",
                cat(&[
                    &ftyp,
                    &boxed(b"free", &[0; 13]),
                    &large_boxed(b"mdat", &payload(3000)),
                    &moov,
                ]),
            ),
            (
                "64-bit moov",
                cat(&[&ftyp, &large_boxed(b"moov", &moov_body(created)), &mdat]),
            ),
            (
                "mdat to the end of the file",
                cat(&[&ftyp, &moov, &open_boxed(b"mdat", &payload(4000))]),
            ),
            (
                "moov to the end of the file",
                cat(&[&ftyp, &mdat, &open_boxed(b"moov", &moov_body(created))]),
            ),
            (
                "moov whose size runs past the end",
                cat(&[&ftyp, &mdat, &{
                    let mut m = boxed(b"moov", &moov_body(created));
                    m.truncate(m.len() - 10);
                    m
                }]),
            ),
            ("mov", cat(&[&qt, &mdat, &moov])),
            ("no moov", cat(&[&ftyp, &mdat])),
            (
                "mdat running past the end hides a moov",
                cat(&[
                    &ftyp,
                    &{
                        let mut m = boxed(b"mdat", &payload(100));
                        m[0..4].copy_from_slice(&100_000u32.to_be_bytes());
                        m
                    },
                    &moov,
                ]),
            ),
        ]
    }

    /// The movie API as an app drives it: small reads to find `moov`, then `moov`.
    fn patch_by_parts(file: &[u8], options: &FixOptions, item: &ItemContext) -> MoviePatch {
        let len = file.len() as u64;
        let at = |offset: u64, n: usize| {
            let start = (offset as usize).min(file.len());
            &file[start..(start + n).min(file.len())]
        };
        let mut offset = 0;
        let mut reads = 0;
        let moov = loop {
            reads += 1;
            assert!(reads < 100, "the walk goes on");
            match locate_moov(at(offset, BOX_HEADER_LEN), offset, len) {
                MoovSearch::Next(next) => {
                    assert!(next > offset, "the walk moves forward");
                    offset = next;
                }
                MoovSearch::Found(range) => break range,
                MoovSearch::NotFound => break 0..0,
            }
        };
        let moov_bytes = at(moov.start, (moov.end - moov.start) as usize);
        fix_moov(at(0, HEAD_LEN), moov_bytes, moov.start, len, options, item)
    }

    fn streamed(file: &[u8], patch: &MoviePatch, chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, part) in file.chunks(chunk).enumerate() {
            let mut part = part.to_vec();
            patch.apply(&mut part, (i * chunk) as u64);
            out.extend(part);
        }
        out
    }

    #[test]
    fn edits_applied_to_the_file_equal_the_whole_file_fix() {
        let create: Timestamp = "2021-05-06T07:08:09Z".parse().unwrap();
        let items = [
            ItemContext::default().with_create_time(create),
            ItemContext::default()
                .with_create_time(create)
                .with_filename("clip.mov"),
            ItemContext::default(),
        ];
        let policies = [DatePolicy::Fill, DatePolicy::Overwrite, DatePolicy::Keep];
        let mut changed_cases = 0;
        for created in [0, 3_000_000_000] {
            for (name, file) in movies(created) {
                for item in &items {
                    for policy in policies {
                        let options = FixOptions::default().with_dates(policy);
                        let whole = crate::fix(&file, &options, item);
                        let patch = patch_by_parts(&file, &options, item);
                        let case = format!("{name}, created {created}, {policy:?}, {item:?}");
                        for chunk in [1, 7, 64, 4096] {
                            assert_eq!(
                                streamed(&file, &patch, chunk),
                                whole.assemble(&file),
                                "{case}, chunks of {chunk}"
                            );
                        }
                        assert_eq!(patch.report, whole.report, "{case}");
                        assert_eq!(patch.capture_time(), whole.capture_time(), "{case}");
                        assert_eq!(patch.capture_offset(), whole.capture_offset(), "{case}");
                        assert_eq!(patch.changed(), whole.changed(), "{case}");
                        assert_eq!(patch.outcome(), whole.outcome(), "{case}");
                        assert_eq!(patch.format, whole.format, "{case}");
                        assert_eq!(patch.file_name("a.mp4"), whole.file_name("a.mp4"));
                        assert_eq!(patch.output_len(), file.len() as u64);
                        changed_cases += usize::from(patch.changed());
                    }
                }
            }
        }
        assert!(
            changed_cases > 20,
            "the cases change files: {changed_cases}"
        );
    }

    #[test]
    fn a_zeroed_moov_at_the_end_gets_edits_only_inside_it() {
        let file = movies(0).remove(1).1;
        let item = ItemContext::default().with_create_time("2021-05-06T07:08:09Z".parse().unwrap());
        let patch = patch_by_parts(&file, &FixOptions::default(), &item);
        let moov_start = file.len() - boxed(b"moov", &moov_body(0)).len();
        // mvhd, 2 × tkhd, 2 × mdhd: creation and modification each.
        assert_eq!(patch.edits.len(), 10);
        assert!(patch.edits.iter().all(|e| e.offset as usize > moov_start));
        assert!(patch.edits.windows(2).all(|w| w[0].offset < w[1].offset));
        assert_eq!(patch.outcome(), Outcome::Changed);
    }

    #[test]
    fn the_walk_skips_64_bit_boxes_without_reading_them() {
        let big: u64 = 5 << 30; // a 5 GiB mdat, never read
        let mut header = 1u32.to_be_bytes().to_vec();
        header.extend_from_slice(b"mdat");
        header.extend_from_slice(&big.to_be_bytes());
        assert_eq!(
            locate_moov(&header, 32, 32 + big + 500),
            MoovSearch::Next(32 + big)
        );
        // The same box in a file too short for it: the walk ends there.
        assert_eq!(locate_moov(&header, 32, 1000), MoovSearch::NotFound);
        let moov = [0, 0, 1, 0, b'm', b'o', b'o', b'v'];
        assert_eq!(
            locate_moov(&moov, 7 << 30, (7 << 30) + 256),
            MoovSearch::Found((7 << 30)..(7 << 30) + 256)
        );
        // Too few bytes to read a header, and a size that cannot be.
        assert_eq!(locate_moov(&moov[..5], 0, 100), MoovSearch::NotFound);
        let mut huge = 1u32.to_be_bytes().to_vec();
        huge.extend_from_slice(b"mdat");
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(locate_moov(&huge, 8, u64::MAX), MoovSearch::NotFound);
    }

    #[test]
    fn garbage_moov_bytes_give_no_edits_and_never_panic() {
        let head = boxed(b"ftyp", b"isom\0\0\x02\0isomiso2mp41");
        let item = ItemContext::default().with_create_time("2021-05-06T07:08:09Z".parse().unwrap());
        for moov in [&b""[..], b"moov", &[0xFF; 40], &boxed(b"moov", &[1; 30])] {
            let patch = fix_moov(
                &head,
                moov,
                u64::MAX - 3,
                100,
                &FixOptions::default(),
                &item,
            );
            assert!(!patch.changed(), "{moov:?}");
        }
        // Not a movie at all: said so, nothing changed.
        let patch = fix_moov(
            b"\xFF\xD8\xFF\xE0",
            &[],
            0,
            4,
            &FixOptions::default(),
            &item,
        );
        assert!(!patch.changed());
        assert!(
            matches!(patch.outcome(), Outcome::CouldNotEdit(_)),
            "{}",
            patch.report
        );
        // A moov said to sit past the end of the file gives no edits out there.
        let moov = boxed(b"moov", &moov_body(0));
        let patch = fix_moov(&head, &moov, 1000, 1010, &FixOptions::default(), &item);
        assert!(patch.edits.is_empty());
    }
}
