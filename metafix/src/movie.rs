//! Movies of any size: the same date fixes as [`fix`](crate::fix) makes to an MP4/MOV,
//! from the file's first bytes and its `moov` box alone, so a 4 GB video never has to
//! be in memory. A movie's dates are patched in place (fixed-size fields of
//! `mvhd`/`tkhd`/`mdhd`), so the fixed file is the original with a few bytes
//! replaced. The [`Planner`](crate::Planner) walks the top-level boxes with
//! [`locate_moov`], reads `moov`, and ends with [`fix_moov`]'s patch.

use std::ops::Range;

use crate::bmff::{self, BoxHeader};
use crate::image::google_capture;
use crate::patch::{Patch, Piece};
use crate::report::{NotDoneKind, Report};
use crate::{FixOptions, Format, ItemContext, video};

/// Bytes [`locate_moov`] needs at each offset: the longest box header (size, type,
/// 64-bit size). Fewer are fine at the end of the file.
pub const BOX_HEADER_LEN: usize = 16;

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

/// The date fixes of a movie of `format` (told from its first bytes) from its
/// `moov` box (`moov`, found by [`locate_moov`], at `moov_offset` in a file of
/// `file_len` bytes): the original with the changed date fields as new bytes. Never
/// fails and never panics: an empty or unreadable `moov` gives no edits and says why
/// in the report.
pub(crate) fn fix_moov(
    format: Format,
    moov: &[u8],
    moov_offset: u64,
    file_len: u64,
    options: &FixOptions,
    item: &ItemContext,
    mut report: Report,
) -> Patch {
    if !matches!(format, Format::Mp4 | Format::Mov) {
        report.not_done(
            NotDoneKind::UnknownFormat,
            "set movie dates",
            "the bytes are not an MP4 or MOV movie",
        );
        return Patch::unchanged(file_len, format, report, google_capture(item));
    }
    let Some(movie) = video::movie_edits(moov, options, item, &mut report) else {
        return Patch::unchanged(file_len, format, report, google_capture(item));
    };
    let mut edits: Vec<(u64, Vec<u8>)> = movie
        .edits
        .into_iter()
        .filter_map(|(at, bytes)| {
            let offset = moov_offset.checked_add(at as u64)?;
            // Inside the file by construction (found in `moov`'s bytes); a caller
            // that passed a `moov` longer than the file gets no edit past its end.
            (offset.checked_add(bytes.len() as u64)? <= file_len).then_some((offset, bytes))
        })
        .collect();
    edits.sort_by_key(|(offset, _)| *offset);
    let mut pieces = Vec::with_capacity(2 * edits.len() + 1);
    let mut pos = 0u64;
    for (offset, bytes) in edits {
        if offset < pos {
            continue; // overlapping edits cannot happen; never write one twice
        }
        pieces.push(Piece::Copy(pos..offset));
        pos = offset + bytes.len() as u64;
        pieces.push(Piece::Bytes(bytes));
    }
    pieces.push(Piece::Copy(pos..file_len));
    Patch::new(pieces, file_len, format, report, movie.capture)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DatePolicy;
    use crate::patch::Piece;

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

    /// The fix as it was made before plans: the date edits of the whole file's
    /// `moov`, applied to a copy.
    fn reference(
        file: &[u8],
        options: &FixOptions,
        item: &ItemContext,
    ) -> (Vec<u8>, Report, Option<jiff::Timestamp>) {
        let format = Format::detect(file);
        let mut report = Report {
            format: Some(format),
            ..Report::default()
        };
        crate::image::check_name_and_type(format, item, &mut report);
        let mut out = file.to_vec();
        let Some(movie) = video::movie_edits(file, options, item, &mut report) else {
            return (out, report, item.create_time);
        };
        for (at, bytes) in movie.edits {
            out[at..at + bytes.len()].copy_from_slice(&bytes);
        }
        (out, report, movie.capture.map(|c| c.instant))
    }

    /// The plan from ranges, each read at most `chunk` bytes long, and the rounds.
    fn planned(file: &[u8], options: &FixOptions, item: &ItemContext, chunk: u64) -> (Patch, u32) {
        let mut planner = crate::Planner::new(file.len() as u64, options, item);
        loop {
            match planner.next_step() {
                crate::Step::Read(ranges) => {
                    for r in ranges {
                        let mut at = r.start;
                        while at < r.end {
                            let end = (at + chunk).min(r.end);
                            planner.feed(at, &file[at as usize..end as usize]);
                            at = end;
                        }
                    }
                }
                crate::Step::Done(patch) => return (patch, planner.rounds()),
            }
        }
    }

    #[test]
    fn plans_from_ranges_equal_the_whole_file_fix() {
        let create: jiff::Timestamp = "2021-05-06T07:08:09Z".parse().unwrap();
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
                        let (expected, report, capture) = reference(&file, &options, item);
                        let whole = crate::fix(&file, &options, item);
                        let case = format!("{name}, created {created}, {policy:?}, {item:?}");
                        assert_eq!(whole.assemble(&file), expected, "{case}");
                        assert_eq!(whole.report, report, "{case}");
                        assert_eq!(whole.capture_time(), capture, "{case}");
                        assert_eq!(whole.output_len(), file.len() as u64, "{case}");
                        for chunk in [7, 64, 1 << 20] {
                            let (patch, _) = planned(&file, &options, item, chunk);
                            assert_eq!(patch, whole, "{case}, reads of {chunk}");
                        }
                        changed_cases += usize::from(whole.changed());
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
        let (patch, _) = planned(&file, &FixOptions::default(), &item, 1 << 20);
        let moov_start = (file.len() - boxed(b"moov", &moov_body(0)).len()) as u64;
        let edits: Vec<&Vec<u8>> = patch
            .pieces()
            .iter()
            .filter_map(|p| match p {
                Piece::Bytes(b) => Some(b),
                Piece::Copy(_) => None,
            })
            .collect();
        // mvhd, 2 × tkhd, 2 × mdhd: creation and modification fields side by side.
        assert_eq!(edits.len(), 5);
        match patch.pieces().first() {
            Some(Piece::Copy(r)) => assert!(r.start == 0 && r.end > moov_start),
            other => panic!("{other:?}"),
        }
        assert_eq!(patch.outcome(), crate::Outcome::Changed);
    }

    #[test]
    fn a_movie_with_moov_after_a_huge_mdat_is_planned_with_small_reads() {
        // A 6 GiB movie: ftyp, a 64-bit mdat, moov at the end. Only the first read,
        // the moov header and moov itself are fed; the sample data is never asked for.
        let ftyp = boxed(b"ftyp", b"isom\0\0\x02\0isomiso2mp41");
        let moov = boxed(b"moov", &moov_body(0));
        let mdat_len: u64 = 6 << 30;
        let mut head = ftyp.clone();
        head.extend_from_slice(&1u32.to_be_bytes());
        head.extend_from_slice(b"mdat");
        head.extend_from_slice(&(mdat_len + 16).to_be_bytes());
        let moov_at = head.len() as u64 + mdat_len;
        let len = moov_at + moov.len() as u64;
        let item = ItemContext::default().with_create_time("2021-05-06T07:08:09Z".parse().unwrap());
        let mut planner = crate::Planner::new(len, &FixOptions::default(), &item);
        let mut asked = 0;
        let patch = loop {
            match planner.next_step() {
                crate::Step::Read(ranges) => {
                    for r in ranges {
                        asked += r.end - r.start;
                        // The head is followed by sample data, zeros here.
                        let mut bytes = vec![0u8; (r.end - r.start) as usize];
                        for (i, b) in bytes.iter_mut().enumerate() {
                            let at = r.start + i as u64;
                            if at < head.len() as u64 {
                                *b = head[at as usize];
                            } else if at >= moov_at {
                                *b = moov[(at - moov_at) as usize];
                            }
                        }
                        planner.feed(r.start, &bytes);
                    }
                }
                crate::Step::Done(patch) => break patch,
            }
        };
        assert!(asked < 1 << 20, "read {asked} bytes");
        // The first read, then the moov header (its read-ahead takes moov too).
        assert_eq!(planner.rounds(), 2);
        assert_eq!(patch.output_len(), len);
        assert!(patch.changed());
        assert!(patch.pieces().iter().all(|p| match p {
            Piece::Bytes(b) => b.len() == 8 || b.len() == 16,
            Piece::Copy(_) => true,
        }));
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
        let item = ItemContext::default().with_create_time("2021-05-06T07:08:09Z".parse().unwrap());
        for moov in [&b""[..], b"moov", &[0xFF; 40], &boxed(b"moov", &[1; 30])] {
            let patch = fix_moov(
                Format::Mp4,
                moov,
                u64::MAX - 3,
                100,
                &FixOptions::default(),
                &item,
                Report::default(),
            );
            assert!(!patch.changed(), "{moov:?}");
        }
        // Not a movie at all: said so, nothing changed.
        let patch = fix_moov(
            Format::Jpeg,
            &[],
            0,
            4,
            &FixOptions::default(),
            &item,
            Report::default(),
        );
        assert!(!patch.changed());
        assert!(
            matches!(patch.outcome(), crate::Outcome::CouldNotEdit(_)),
            "{}",
            patch.report
        );
        // A moov said to sit past the end of the file gives no edits out there.
        let moov = boxed(b"moov", &moov_body(0));
        let patch = fix_moov(
            Format::Mp4,
            &moov,
            1000,
            1010,
            &FixOptions::default(),
            &item,
            Report::default(),
        );
        assert!(!patch.changed());
    }
}
