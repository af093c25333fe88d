//! [`Patch`]: what the engine decided — the output file as pieces (ranges of the
//! original, or new bytes), and the report.

use std::ops::Range;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::Format;
use crate::dates::Capture;
use crate::report::{Outcome, Report};

/// One piece of the output file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Piece {
    /// These bytes of the original, unchanged.
    Copy(Range<u64>),
    /// New bytes.
    Bytes(Vec<u8>),
}

impl Piece {
    /// The piece's length in the output.
    pub fn len(&self) -> u64 {
        match self {
            Piece::Copy(range) => range.end.saturating_sub(range.start),
            Piece::Bytes(bytes) => bytes.len() as u64,
        }
    }

    /// Whether the piece adds nothing to the output.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What [`fix`](crate::fix) and a [`Planner`](crate::Planner) give back: the output
/// is [`pieces`](Patch::pieces) in order — ranges of the original (which is
/// [`source_len`](Patch::source_len) bytes long) and new bytes — so no layer ever
/// has to hold or copy a whole file. An unchanged file is one piece: the whole
/// original.
///
/// What a patch of each format looks like: a JPEG, PNG or WebP is the original with
/// its EXIF segment or chunk replaced (a few header bytes changed for WebP); a HEIC
/// or AVIF gets a new `meta` box and a new `mdat` for the Exif item, the old Exif
/// bytes zeroed, every other byte copied; a TIFF is the original with a few
/// pointers and the dropped values changed and the new IFDs appended; a movie is
/// the original with its fixed-size `mvhd`/`tkhd`/`mdhd` dates replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    pieces: Vec<Piece>,
    source_len: u64,
    /// The format found in the bytes.
    pub format: Format,
    /// What was done, repaired, not done, and lost.
    pub report: Report,
    pub(crate) capture: Option<Capture>,
}

impl Patch {
    /// The original, unchanged.
    pub(crate) fn unchanged(
        source_len: u64,
        format: Format,
        report: Report,
        capture: Option<Capture>,
    ) -> Patch {
        Patch::new(
            Pieces::whole(source_len).into_pieces(),
            source_len,
            format,
            report,
            capture,
        )
    }

    /// A patch of `pieces` (normalized: empty pieces dropped, touching copies joined).
    pub(crate) fn new(
        pieces: Vec<Piece>,
        source_len: u64,
        format: Format,
        report: Report,
        capture: Option<Capture>,
    ) -> Patch {
        let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
        for piece in pieces.into_iter().filter(|p| !p.is_empty()) {
            match (out.last_mut(), piece) {
                (Some(Piece::Copy(last)), Piece::Copy(next)) if last.end == next.start => {
                    last.end = next.end;
                }
                (Some(Piece::Bytes(last)), Piece::Bytes(next)) => last.extend_from_slice(&next),
                (_, piece) => out.push(piece),
            }
        }
        Patch {
            pieces: out,
            source_len,
            format,
            report,
            capture,
        }
    }

    /// The output file, piece by piece.
    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// Takes the pieces out (the rest of the patch stays readable).
    pub fn take_pieces(&mut self) -> Vec<Piece> {
        std::mem::take(&mut self.pieces)
    }

    /// The length of the original the pieces copy from.
    pub fn source_len(&self) -> u64 {
        self.source_len
    }

    /// The length of the output file.
    pub fn output_len(&self) -> u64 {
        self.pieces.iter().map(Piece::len).sum()
    }

    /// The new bytes the output holds (what a client sends besides the plan).
    pub fn new_bytes(&self) -> u64 {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Bytes(b) => b.len() as u64,
                Piece::Copy(_) => 0,
            })
            .sum()
    }

    /// Whether the output bytes differ from the input.
    pub fn changed(&self) -> bool {
        let whole =
            matches!(self.pieces.as_slice(), [Piece::Copy(r)] if *r == (0..self.source_len));
        let empty = self.pieces.is_empty() && self.source_len == 0;
        !(whole || empty)
    }

    /// The whole output file. `input` must be the original the patch was planned
    /// from; a piece outside it adds nothing.
    pub fn assemble(&self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(usize::try_from(self.output_len()).unwrap_or(0));
        for piece in &self.pieces {
            match piece {
                Piece::Copy(range) => {
                    let (Ok(start), Ok(end)) =
                        (usize::try_from(range.start), usize::try_from(range.end))
                    else {
                        continue;
                    };
                    out.extend_from_slice(input.get(start..end).unwrap_or(&[]));
                }
                Piece::Bytes(bytes) => out.extend_from_slice(bytes),
            }
        }
        out
    }

    /// The file extension for the bytes (`"jpg"`, `"png"`, `"webp"`, `"heic"`, `"avif"`,
    /// `"tif"`, `"mp4"`, `"mov"`; `""` when the format is unknown).
    pub fn extension(&self) -> &'static str {
        self.format.extension()
    }

    /// `original` with its extension corrected for the bytes (`IMG_1.HEIC` holding a
    /// JPEG → `IMG_1.jpg`); unchanged when the extension already names the format or
    /// the format is unknown.
    pub fn file_name(&self, original: &str) -> String {
        corrected_file_name(self.format, original)
    }

    /// The capture time the saved file should get as its modification time: what the
    /// output file states (date and offset), else the item's `createTime`; `None`
    /// when neither is known.
    pub fn capture_time(&self) -> Option<Timestamp> {
        self.capture.map(|c| c.instant)
    }

    /// The UTC offset of the photographer's clock at [`capture_time`](Self::capture_time),
    /// when the file states one (or the dates were written with one). `None` when
    /// only Google's UTC `createTime` is known.
    pub fn capture_offset(&self) -> Option<jiff::tz::Offset> {
        self.capture.and_then(|c| c.offset)
    }

    /// What happened to the file: [`Outcome::Changed`], [`Outcome::AlreadyAsAsked`], or
    /// [`Outcome::CouldNotEdit`] with the reason (the file is passed through unchanged,
    /// and must be shown as a failure, not as saved).
    ///
    /// ```
    /// use metafix::{fix, FixOptions, ItemContext, NotDoneKind, Outcome};
    ///
    /// // A JPEG whose header bytes lead nowhere: it cannot be edited.
    /// let broken = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, b'x', b'y', b'?', b'?'];
    /// let patch = fix(&broken, &FixOptions::default().with_artist("Ada"), &ItemContext::default());
    /// match patch.outcome() {
    ///     Outcome::CouldNotEdit(why) => assert_eq!(why.kind, NotDoneKind::UnreadableStructure),
    ///     other => panic!("{other}"),
    /// }
    /// ```
    pub fn outcome(&self) -> Outcome {
        match self.report.outcome() {
            Outcome::AlreadyAsAsked if self.changed() => Outcome::Changed,
            outcome => outcome,
        }
    }
}

/// `original` with its extension corrected for `format` (see [`Patch::file_name`]).
pub(crate) fn corrected_file_name(format: Format, original: &str) -> String {
    if format == Format::Unknown {
        return original.to_owned();
    }
    let (stem, ext) = crate::split_extension(original);
    if ext.and_then(Format::from_extension) == Some(format) {
        return original.to_owned();
    }
    format!("{stem}.{}", format.extension())
}

/// A patch being built, with `usize` offsets (the image paths work within memory).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Pieces(Vec<Piece>);

impl Pieces {
    /// The whole original of `len` bytes.
    pub fn whole(len: u64) -> Pieces {
        Pieces(vec![Piece::Copy(0..len)])
    }

    /// Appends the original's `range`.
    pub fn copy(&mut self, range: Range<usize>) -> &mut Self {
        if range.start < range.end {
            self.0
                .push(Piece::Copy(range.start as u64..range.end as u64));
        }
        self
    }

    /// Appends the original's `range` with the bytes of each override (an offset
    /// into the original and its new bytes) in place of the original's; overrides
    /// outside `range` are ignored, ones across its edges cut to it.
    pub fn copy_with(&mut self, range: Range<usize>, overrides: &[(usize, &[u8])]) -> &mut Self {
        let mut sorted: Vec<&(usize, &[u8])> = overrides.iter().collect();
        sorted.sort_by_key(|(at, _)| *at);
        let mut pos = range.start;
        for &&(at, bytes) in &sorted {
            let end = at.saturating_add(bytes.len()).min(range.end);
            let start = at.max(pos);
            if start >= end {
                continue;
            }
            self.copy(pos..start);
            self.push(&bytes[start - at..end - at]);
            pos = end;
        }
        self.copy(pos..range.end)
    }

    /// Appends new bytes.
    pub fn push(&mut self, bytes: &[u8]) -> &mut Self {
        if !bytes.is_empty() {
            self.0.push(Piece::Bytes(bytes.to_vec()));
        }
        self
    }

    /// Appends new bytes, taking them.
    pub fn push_owned(&mut self, bytes: Vec<u8>) -> &mut Self {
        if !bytes.is_empty() {
            self.0.push(Piece::Bytes(bytes));
        }
        self
    }

    /// The pieces of a file rewritten whole as `new`, against the `old` it was made
    /// from: runs that are the same bytes at the same offset are copies (so a TIFF
    /// patched in place, with new IFDs appended, is mostly copies).
    pub fn rewrite(old: &[u8], new: &[u8]) -> Pieces {
        // Shorter equal runs are not worth a piece of their own.
        const MIN_RUN: usize = 32;
        let mut pieces = Pieces::default();
        let common = old.len().min(new.len());
        let mut pos = 0;
        let mut fresh_from = 0;
        while pos < common {
            if old[pos] != new[pos] {
                pos += 1;
                continue;
            }
            let run = old[pos..common]
                .iter()
                .zip(&new[pos..common])
                .take_while(|(a, b)| a == b)
                .count();
            if run >= MIN_RUN {
                pieces.push(&new[fresh_from..pos]);
                pieces.copy(pos..pos + run);
                fresh_from = pos + run;
            }
            pos += run;
        }
        pieces.push(&new[fresh_from..]);
        pieces
    }

    /// The end of the output so far.
    pub fn output_len(&self) -> usize {
        self.0.iter().map(|p| p.len() as usize).sum()
    }

    /// The first `len` bytes of the output as far as they are new bytes or copies of
    /// `src` that are known — for checks that look at the output's start.
    pub fn head(&self, src: &crate::source::Source<'_>, len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in &self.0 {
            let room = len.saturating_sub(out.len());
            if room == 0 {
                break;
            }
            match piece {
                Piece::Bytes(b) => out.extend_from_slice(&b[..b.len().min(room)]),
                Piece::Copy(r) => {
                    let start = r.start as usize;
                    let end = (r.end as usize).min(start.saturating_add(room));
                    let known = src.known(start, end);
                    out.extend_from_slice(known);
                    if known.len() < end - start {
                        break;
                    }
                }
            }
        }
        out
    }

    /// Pieces made before.
    pub fn from_pieces(pieces: Vec<Piece>) -> Pieces {
        Pieces(pieces)
    }

    /// The pieces, for a [`Patch`].
    pub fn into_pieces(self) -> Vec<Piece> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(pieces: Pieces, len: u64) -> Patch {
        Patch::new(
            pieces.into_pieces(),
            len,
            Format::Jpeg,
            Report::default(),
            None,
        )
    }

    #[test]
    fn pieces_join_and_an_identity_patch_is_unchanged() {
        let mut p = Pieces::default();
        p.copy(0..4).copy(4..10).push(b"").copy(10..10);
        let whole = patch(p, 10);
        assert_eq!(whole.pieces(), &[Piece::Copy(0..10)]);
        assert!(!whole.changed());
        let mut p = Pieces::default();
        p.copy(0..4).push(b"ab").push(b"c").copy(6..10);
        let changed = patch(p, 10);
        assert_eq!(changed.pieces().len(), 3);
        assert!(changed.changed());
        assert_eq!(changed.output_len(), 11);
        assert_eq!(changed.new_bytes(), 3);
        assert_eq!(changed.assemble(b"0123456789"), b"0123abc6789");
    }

    #[test]
    fn overrides_replace_bytes_in_place() {
        let mut p = Pieces::default();
        p.copy_with(2..10, &[(8, b"XYZ"), (3, b"ab"), (0, b"q")]);
        let out = patch(p, 10).assemble(b"0123456789");
        assert_eq!(out, b"2ab567XY");
    }

    #[test]
    fn a_rewrite_copies_what_stayed_in_place() {
        let old: Vec<u8> = (0..200u8).collect();
        let mut new = old.clone();
        new[1] = 0xEE;
        new[150] = 0xEE;
        new.extend_from_slice(b"appended");
        let pieces = Pieces::rewrite(&old, &new);
        let p = patch(pieces, old.len() as u64);
        assert_eq!(p.assemble(&old), new);
        assert!(p.new_bytes() < 20, "{:?}", p.pieces());
        // A rewrite shorter than the original.
        let p = patch(Pieces::rewrite(&old, &old[..50]), 200);
        assert_eq!(p.assemble(&old), &old[..50]);
    }
}
