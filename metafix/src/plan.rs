//! [`Planner`]: the fix of a file planned from the ranges of it that it asks for,
//! sans-IO — whoever holds the file (a download on the helper's disk, a local file,
//! a buffer) answers the reads, and the planner ends with the [`Patch`].
//!
//! Each step walks the file with what is known so far (see
//! [`Source`](crate::source::Source)); a walk that needed bytes not known yet asks
//! for them (a little more, so a chain of small reads takes few rounds) and is done
//! again once they are fed. A walk that needed nothing new is the whole-file walk,
//! so the patch is exactly what [`fix`](crate::fix) gives for the whole file.
//!
//! What each format needs (measured by the tests, one round per line):
//! - JPEG: the first [`Planner::FIRST_READ`] bytes (the segments before the scan, the
//!   EXIF block), then the last 12 bytes (an AFCP trailer, whose offsets would move).
//! - PNG, WebP: the first read, then each chunk header after it (a chunk's data is
//!   skipped): a WebP's `EXIF` chunk after its image data costs one more round, a PNG
//!   with many small `IDAT` chunks a few rounds of doubling reads.
//! - HEIC, AVIF: the first read (`meta` is at the start), then the Exif item's bytes
//!   wherever `iloc` puts them.
//! - TIFF: the whole file (its IFDs may be anywhere), up to [`Planner::MAX_KNOWN`].
//! - MP4, MOV: the first read, each top-level box header after it (the sample data is
//!   skipped), then `moov` whole (at most 64 MiB).

use std::cell::RefCell;
use std::ops::Range;

use crate::image::{self, check_name_and_type, google_capture};
use crate::movie::{self, MoovSearch};
use crate::patch::Patch;
use crate::report::{NotDoneKind, Report};
use crate::source::Source;
use crate::{FixOptions, Format, ItemContext};

/// What a [`Planner`] wants next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Read these ranges of the file (sorted, apart, within the file) and
    /// [`feed`](Planner::feed) them, then call [`next_step`](Planner::next_step) again.
    Read(Vec<Range<u64>>),
    /// The plan is made.
    Done(Patch),
}

/// Plans the fix of one file of a known length from ranges of it; see the module
/// documentation for what each format asks for.
///
/// ```
/// use metafix::{FixOptions, ItemContext, Planner, Step};
///
/// // A tiny JPEG without EXIF (SOI, an APP0, SOS…EOI).
/// let file = [
///     0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1,
///     0, 0, 0xFF, 0xDA, 0x00, 0x02, 0x00, 0xFF, 0xD9,
/// ];
/// let options = FixOptions::default().with_artist("Ada");
/// let mut planner = Planner::new(file.len() as u64, &options, &ItemContext::default());
/// let patch = loop {
///     match planner.next_step() {
///         Step::Read(ranges) => {
///             for range in ranges {
///                 let bytes = &file[range.start as usize..range.end as usize];
///                 planner.feed(range.start, bytes);
///             }
///         }
///         Step::Done(patch) => break patch,
///     }
/// };
/// assert_eq!(patch, metafix::fix(&file, &options, &ItemContext::default()));
/// let out = patch.assemble(&file);
/// assert_eq!(metafix::read(&out)?.artist.as_deref(), Some("Ada"));
/// # Ok::<(), metafix::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Planner {
    len: u64,
    options: FixOptions,
    item: ItemContext,
    /// What was fed: sorted, neither overlapping nor touching.
    known: Vec<(u64, Vec<u8>)>,
    rounds: u32,
    read_ahead: u64,
    done: Option<Patch>,
}

impl Planner {
    /// The first read: a typical phone JPEG's segments before its scan (an EXIF
    /// block is at most 64 KiB; of the 127 JPEGs of the test corpus, one has more
    /// than 128 KiB before its scan, and it has more than 256), a HEIF's `meta`, a
    /// movie's `ftyp` (and often its `moov`). Small, as it crosses the network:
    /// 3 % of a 4 MB photo.
    pub const FIRST_READ: u64 = 128 << 10;
    /// The most of a file a plan reads; a file that needs more is passed through
    /// unchanged, with the reason.
    pub const MAX_KNOWN: u64 = 80 << 20;
    /// The most rounds of reads a plan takes.
    pub const MAX_ROUNDS: u32 = 64;
    /// How far past a missed byte the next read goes, to begin with (doubled each
    /// round, up to [`Planner::MAX_READ_AHEAD`]).
    const READ_AHEAD: u64 = 64 << 10;
    const MAX_READ_AHEAD: u64 = 4 << 20;

    /// A plan for a file of `len` bytes.
    pub fn new(len: u64, options: &FixOptions, item: &ItemContext) -> Planner {
        Planner {
            len,
            options: options.clone(),
            item: item.clone(),
            known: Vec::new(),
            rounds: 0,
            read_ahead: Self::READ_AHEAD,
            done: None,
        }
    }

    /// The length of the file being planned.
    pub fn file_len(&self) -> u64 {
        self.len
    }

    /// The bytes fed so far.
    pub fn known_bytes(&self) -> u64 {
        self.known.iter().map(|(_, b)| b.len() as u64).sum()
    }

    /// The rounds of reads asked for so far.
    pub fn rounds(&self) -> u32 {
        self.rounds
    }

    /// Gives the planner the file's bytes from `offset` on (any range: what was asked
    /// for, more, or less; bytes past the file's end are ignored).
    pub fn feed(&mut self, offset: u64, bytes: &[u8]) {
        let room = self.len.saturating_sub(offset);
        let bytes = &bytes[..usize::try_from(room).map_or(bytes.len(), |r| r.min(bytes.len()))];
        if bytes.is_empty() || self.done.is_some() {
            return;
        }
        let end = offset + bytes.len() as u64;
        // The known runs that overlap or touch the new one are joined with it.
        let first = self
            .known
            .partition_point(|(at, b)| at + (b.len() as u64) < offset);
        let last = self.known.partition_point(|(at, _)| *at <= end);
        let joined: Vec<(u64, Vec<u8>)> = self.known.drain(first..last).collect();
        let start = joined.first().map_or(offset, |(at, _)| offset.min(*at));
        let stop = joined
            .last()
            .map_or(end, |(at, b)| end.max(at + b.len() as u64));
        let mut merged = vec![0; usize::try_from(stop - start).unwrap_or(0)];
        for (at, b) in &joined {
            let from = (at - start) as usize;
            merged[from..from + b.len()].copy_from_slice(b);
        }
        let from = (offset - start) as usize;
        merged[from..from + bytes.len()].copy_from_slice(bytes);
        self.known.insert(first, (start, merged));
    }

    /// What the planner needs next: ranges to read, or the finished patch.
    pub fn next_step(&mut self) -> Step {
        if let Some(patch) = &self.done {
            return Step::Done(patch.clone());
        }
        let view = View {
            len: self.len,
            pieces: self.known.iter().map(|(at, b)| (*at, &b[..])).collect(),
            misses: RefCell::new(Vec::new()),
        };
        let patch = if self.known.is_empty() && self.len > 0 {
            view.miss(0..self.len.min(Self::FIRST_READ));
            None
        } else {
            Some(plan(&view, &self.options, &self.item))
        };
        let misses = view.misses.into_inner();
        if misses.is_empty()
            && let Some(patch) = patch
        {
            return self.finish(patch);
        }
        let reads = self.reads_for(misses);
        let asked: u64 = reads.iter().map(|r| r.end - r.start).sum();
        if reads.is_empty() {
            // Every byte the walk asked for is known: it cannot get further.
            return self.give_up("the plan asked for bytes it already had");
        }
        if self.rounds >= Self::MAX_ROUNDS {
            return self.give_up(&format!(
                "planning the fix took more than {} rounds of reads",
                Self::MAX_ROUNDS
            ));
        }
        if self.known_bytes() + asked > Self::MAX_KNOWN {
            return self.give_up(&format!(
                "the fix needs more than {} MiB of the file to plan",
                Self::MAX_KNOWN >> 20
            ));
        }
        self.rounds += 1;
        self.read_ahead = (self.read_ahead * 2).min(Self::MAX_READ_AHEAD);
        Step::Read(reads)
    }

    fn finish(&mut self, patch: Patch) -> Step {
        self.done = Some(patch.clone());
        // What was read is no longer needed.
        self.known = Vec::new();
        Step::Done(patch)
    }

    /// Ends the plan with the file unchanged, saying why.
    fn give_up(&mut self, why: &str) -> Step {
        let mut report = Report::default();
        report.not_done(NotDoneKind::TooLarge, "fix", why.to_owned());
        let patch = Patch::unchanged(
            self.len,
            Format::Unknown,
            report,
            google_capture(&self.item),
        );
        self.finish(patch)
    }

    /// The reads for `misses`: each from the missed byte on, at least the current
    /// read-ahead long, within the file, less what is known, joined where they meet.
    fn reads_for(&self, misses: Vec<Range<u64>>) -> Vec<Range<u64>> {
        let mut wanted: Vec<Range<u64>> = misses
            .into_iter()
            .filter(|m| m.start < self.len)
            .map(|m| {
                let end = m.end.max(m.start.saturating_add(self.read_ahead));
                m.start..end.min(self.len)
            })
            .collect();
        wanted.sort_by_key(|r| r.start);
        let mut out: Vec<Range<u64>> = Vec::new();
        for range in wanted {
            for part in self.unknown_parts(range) {
                match out.last_mut() {
                    Some(last) if part.start <= last.end => last.end = last.end.max(part.end),
                    _ => out.push(part),
                }
            }
        }
        out
    }

    /// The parts of `range` not known yet.
    fn unknown_parts(&self, range: Range<u64>) -> Vec<Range<u64>> {
        let mut out = Vec::new();
        let mut pos = range.start;
        for (at, bytes) in &self.known {
            let end = at + bytes.len() as u64;
            if end <= pos {
                continue;
            }
            if *at >= range.end {
                break;
            }
            if *at > pos {
                out.push(pos..*at);
            }
            pos = pos.max(end);
        }
        if pos < range.end {
            out.push(pos..range.end);
        }
        out
    }
}

/// Runs a plan over the reads `read` answers (a local file, a download): `read` gets
/// each range the planner asks for and gives its bytes (fewer only at the file's
/// end). The first error ends it.
pub fn plan_with<E>(
    len: u64,
    options: &FixOptions,
    item: &ItemContext,
    mut read: impl FnMut(Range<u64>) -> Result<Vec<u8>, E>,
) -> Result<Patch, E> {
    let mut planner = Planner::new(len, options, item);
    loop {
        match planner.next_step() {
            Step::Read(ranges) => {
                for range in ranges {
                    let at = range.start;
                    let bytes = read(range)?;
                    planner.feed(at, &bytes);
                }
            }
            Step::Done(patch) => return Ok(patch),
        }
    }
}

/// The whole-buffer plan: one walk, nothing missing.
pub(crate) fn fix_whole(input: &[u8], options: &FixOptions, item: &ItemContext) -> Patch {
    let view = View {
        len: input.len() as u64,
        pieces: vec![(0, input)],
        misses: RefCell::new(Vec::new()),
    };
    let patch = plan(&view, options, item);
    debug_assert!(
        view.misses.borrow().is_empty(),
        "a whole buffer misses nothing"
    );
    patch
}

/// The file as far as it is known, with 64-bit offsets (a movie may be larger than
/// memory can address).
struct View<'a> {
    len: u64,
    pieces: Vec<(u64, &'a [u8])>,
    misses: RefCell<Vec<Range<u64>>>,
}

impl<'a> View<'a> {
    fn miss(&self, range: Range<u64>) {
        if range.start < range.end {
            self.misses.borrow_mut().push(range);
        }
    }

    /// `range` of the file: `None` past its end, and (recorded) when not known.
    fn get(&self, range: Range<u64>) -> Option<&'a [u8]> {
        if range.start > range.end || range.end > self.len {
            return None;
        }
        if range.is_empty() {
            return Some(&[]);
        }
        let i = self.pieces.partition_point(|(at, _)| *at <= range.start);
        if let Some(&(at, bytes)) = i.checked_sub(1).and_then(|i| self.pieces.get(i))
            && range.end <= at + bytes.len() as u64
        {
            return bytes.get((range.start - at) as usize..(range.end - at) as usize);
        }
        self.miss(range);
        None
    }

    /// The image walk's view of the same bytes (`None` when the file is too long
    /// for this machine's memory to address).
    fn source(&self) -> Option<Source<'a>> {
        let len = usize::try_from(self.len).ok()?;
        Some(Source::partial(
            len,
            self.pieces
                .iter()
                .filter_map(|(at, b)| Some((usize::try_from(*at).ok()?, *b))),
        ))
    }
}

/// How many of a file's first bytes tell its format exactly as the whole file
/// would (an ISO BMFF `ftyp` box lists brands to its end). `None` when its first 8
/// bytes are not known yet.
fn detect_len(view: &View<'_>) -> Option<u64> {
    let first = view.get(0..view.len.min(8))?;
    let ftyp = first.len() == 8 && &first[4..8] == b"ftyp";
    let size = first.get(0..4).map_or(0, |b| {
        u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    });
    Some(if ftyp && size >= 16 {
        size.min(view.len)
    } else {
        view.len.min(64)
    })
}

/// The fix of the file `view` shows. When the view missed bytes the result is
/// meaningless (the walk is done again with them).
fn plan(view: &View<'_>, options: &FixOptions, item: &ItemContext) -> Patch {
    let len = view.len;
    let placeholder = || Patch::unchanged(len, Format::Unknown, Report::default(), None);
    let Some(head) = detect_len(view).and_then(|n| view.get(0..n)) else {
        return placeholder();
    };
    let format = Format::detect(head);
    let mut report = Report {
        format: Some(format),
        ..Report::default()
    };
    check_name_and_type(format, item, &mut report);
    match format {
        Format::Jpeg | Format::Png | Format::Webp | Format::Tiff | Format::Heic | Format::Avif => {
            let Some(source) = view.source() else {
                report.not_done(
                    NotDoneKind::TooLarge,
                    "fix",
                    format!(
                        "a {} file of {len} bytes is too large to walk here",
                        format.name()
                    ),
                );
                return Patch::unchanged(len, format, report, google_capture(item));
            };
            let patch = image::fix_image(&source, format, options, item, report);
            for m in source.take_misses() {
                view.miss(m.start as u64..m.end as u64);
            }
            patch
        }
        Format::Mp4 | Format::Mov => {
            plan_movie(view, format, options, item, report).unwrap_or_else(placeholder)
        }
        Format::Unknown => {
            report.not_done(
                NotDoneKind::UnknownFormat,
                "fix",
                "the bytes are not a format this tool knows",
            );
            Patch::unchanged(len, format, report, google_capture(item))
        }
    }
}

/// The most `moov` a plan reads.
const MAX_MOOV: u64 = 64 << 20;
/// The most top-level boxes walked before `moov`.
const MAX_TOP_LEVEL_BOXES: u32 = 100_000;

/// A movie: its top-level boxes walked header by header to `moov`, then `moov`'s
/// dates. `None` when bytes are missing.
fn plan_movie(
    view: &View<'_>,
    format: Format,
    options: &FixOptions,
    item: &ItemContext,
    mut report: Report,
) -> Option<Patch> {
    let len = view.len;
    let mut at = 0u64;
    let mut found = None;
    for _ in 0..MAX_TOP_LEVEL_BOXES {
        let header = if at >= len {
            &[][..]
        } else {
            view.get(at..(at + movie::BOX_HEADER_LEN as u64).min(len))?
        };
        match movie::locate_moov(header, at, len) {
            MoovSearch::Next(next) => at = next,
            MoovSearch::Found(range) => {
                found = Some(range);
                break;
            }
            MoovSearch::NotFound => break,
        }
    }
    let Some(moov) = found else {
        return Some(movie::fix_moov(format, &[], 0, len, options, item, report));
    };
    if moov.end - moov.start > MAX_MOOV {
        report.not_done(
            NotDoneKind::TooLarge,
            "set movie dates",
            format!(
                "the movie's header (moov) is {} bytes, more than the {} MiB this tool reads",
                moov.end - moov.start,
                MAX_MOOV >> 20
            ),
        );
        return Some(Patch::unchanged(len, format, report, google_capture(item)));
    }
    let bytes = view.get(moov.clone())?;
    Some(movie::fix_moov(
        format, bytes, moov.start, len, options, item, report,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(file: &[u8], planner: &mut Planner) -> (Patch, u32) {
        let mut rounds = 0;
        loop {
            match planner.next_step() {
                Step::Read(ranges) => {
                    rounds += 1;
                    for r in ranges {
                        assert!(r.start < r.end && r.end <= file.len() as u64, "{r:?}");
                        planner.feed(r.start, &file[r.start as usize..r.end as usize]);
                    }
                }
                Step::Done(patch) => return (patch, rounds),
            }
        }
    }

    #[test]
    fn fed_ranges_join_whatever_their_order() {
        let file: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let mut p = Planner::new(
            file.len() as u64,
            &FixOptions::default(),
            &ItemContext::default(),
        );
        for (a, b) in [
            (100, 200),
            (300, 400),
            (150, 350),
            (0, 10),
            (10, 20),
            (9000, 10_000),
        ] {
            p.feed(a, &file[a as usize..b as usize]);
        }
        assert_eq!(
            p.known.len(),
            3,
            "{:?}",
            p.known
                .iter()
                .map(|(a, b)| (*a, b.len()))
                .collect::<Vec<_>>()
        );
        for (at, bytes) in &p.known {
            assert_eq!(&file[*at as usize..*at as usize + bytes.len()], &bytes[..]);
        }
        assert_eq!(p.unknown_parts(0..500), vec![20..100, 400..500]);
    }

    #[test]
    fn an_empty_file_needs_no_read() {
        let mut p = Planner::new(0, &FixOptions::default(), &ItemContext::default());
        let (patch, rounds) = run(&[], &mut p);
        assert_eq!(rounds, 0);
        assert!(!patch.changed());
    }

    #[test]
    fn garbage_is_planned_in_one_read_and_never_panics() {
        let file = vec![7u8; 1000];
        let mut p = Planner::new(1000, &FixOptions::default(), &ItemContext::default());
        let (patch, rounds) = run(&file, &mut p);
        assert_eq!(rounds, 1);
        assert_eq!(
            patch,
            crate::fix(&file, &FixOptions::default(), &ItemContext::default())
        );
    }

    #[test]
    fn a_planner_fed_nothing_gives_up_after_its_rounds() {
        let mut p = Planner::new(1 << 40, &FixOptions::default(), &ItemContext::default());
        let mut rounds = 0;
        let patch = loop {
            match p.next_step() {
                Step::Read(_) => rounds += 1,
                Step::Done(patch) => break patch,
            }
        };
        assert_eq!(rounds, Planner::MAX_ROUNDS);
        assert!(!patch.changed());
        assert!(matches!(patch.outcome(), crate::Outcome::CouldNotEdit(_)));
    }
}
