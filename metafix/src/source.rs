//! [`Source`]: the bytes of a file as far as they are known. The container walks
//! (JPEG markers, PNG and WebP chunks, HEIF boxes, the TIFF block) read their input
//! only through it, so the same code runs over a whole file in memory and over the
//! few ranges a [`Planner`](crate::Planner) has been fed.
//!
//! A read of bytes that are not known yet answers `None` (or fewer bytes) and is
//! recorded as a *miss*. A walk that missed nothing saw exactly the bytes it would
//! have seen with the whole file, so its decisions are the whole-file decisions;
//! one that missed something is thrown away, and the planner reads what it missed
//! and walks again. Reads past the end of the file are not misses: they fail the
//! same way with the whole file.

use std::cell::RefCell;
use std::ops::Range;

/// A file's bytes, known in part or in whole. Offsets are `usize`: only files whose
/// length fits are walked (on wasm32, under 4 GiB; a movie of any size is planned
/// by [`crate::movie`]'s own 64-bit walk).
#[derive(Debug)]
pub(crate) struct Source<'a> {
    len: usize,
    /// Known runs, sorted by offset, neither overlapping nor touching.
    pieces: Vec<(usize, &'a [u8])>,
    /// Ranges asked for that were not known.
    misses: RefCell<Vec<Range<usize>>>,
}

impl<'a> Source<'a> {
    /// A whole file in memory.
    pub fn whole(bytes: &'a [u8]) -> Self {
        Source {
            len: bytes.len(),
            pieces: vec![(0, bytes)],
            misses: RefCell::new(Vec::new()),
        }
    }

    /// A file of `len` bytes of which `pieces` are known (sorted, not overlapping;
    /// pieces past `len` are cut there).
    pub fn partial(len: usize, pieces: impl IntoIterator<Item = (usize, &'a [u8])>) -> Self {
        let mut out: Vec<(usize, &'a [u8])> = Vec::new();
        for (at, bytes) in pieces {
            let Some(room) = len.checked_sub(at) else {
                continue;
            };
            let bytes = &bytes[..bytes.len().min(room)];
            if bytes.is_empty() {
                continue;
            }
            debug_assert!(
                out.last().is_none_or(|(a, b)| a + b.len() <= at),
                "pieces are sorted and apart"
            );
            out.push((at, bytes));
        }
        Source {
            len,
            pieces: out,
            misses: RefCell::new(Vec::new()),
        }
    }

    /// The file's length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The known piece that holds byte `at`.
    fn piece_at(&self, at: usize) -> Option<(usize, &'a [u8])> {
        let i = self.pieces.partition_point(|(start, _)| *start <= at);
        let (start, bytes) = *self.pieces.get(i.checked_sub(1)?)?;
        (at < start + bytes.len()).then_some((start, bytes))
    }

    fn miss(&self, range: Range<usize>) {
        if range.start < range.end {
            self.misses.borrow_mut().push(range);
        }
    }

    /// `range` of the file. `None` when it runs past the end (or is reversed), and
    /// when any of it is not known (recorded as a miss). An empty range inside the
    /// file is always there.
    pub fn get(&self, range: Range<usize>) -> Option<&'a [u8]> {
        if range.start > range.end || range.end > self.len {
            return None;
        }
        if range.is_empty() {
            return Some(&[]);
        }
        match self.piece_at(range.start) {
            Some((start, bytes)) if range.end <= start + bytes.len() => {
                Some(&bytes[range.start - start..range.end - start])
            }
            _ => {
                self.miss(range);
                None
            }
        }
    }

    /// The byte at `at` (see [`Source::get`]).
    pub fn byte(&self, at: usize) -> Option<u8> {
        self.get(at..at.checked_add(1)?).map(|b| b[0])
    }

    /// The bytes from `at` up to `end` (clipped to the file) that are known without
    /// a gap: all of them, or fewer — then the first byte not known is recorded as
    /// a miss, from there to `end`. For searches that may stop early.
    pub fn known(&self, at: usize, end: usize) -> &'a [u8] {
        let end = end.min(self.len);
        if at >= end {
            return &[];
        }
        let Some((start, bytes)) = self.piece_at(at) else {
            self.miss(at..end);
            return &[];
        };
        let stop = end.min(start + bytes.len());
        if stop < end {
            self.miss(stop..end);
        }
        &bytes[at - start..stop - start]
    }

    /// Whether the file starts with `prefix` (a miss when its start is not known).
    pub fn starts_with(&self, prefix: &[u8]) -> bool {
        self.get(0..prefix.len().min(self.len)) == Some(prefix)
    }

    /// The whole file, if all of it is known (else a miss).
    pub fn all(&self) -> Option<&'a [u8]> {
        self.get(0..self.len)
    }

    /// What was asked for and not known, since the source was made.
    pub fn take_misses(&self) -> Vec<Range<usize>> {
        std::mem::take(&mut self.misses.borrow_mut())
    }

    /// Whether anything asked for was not known.
    #[cfg(test)]
    pub fn missed(&self) -> bool {
        !self.misses.borrow().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_bytes_read_and_unknown_ones_are_recorded() {
        let a = [1u8, 2, 3, 4];
        let b = [9u8, 9];
        let src = Source::partial(100, [(0, &a[..]), (50, &b[..])]);
        assert_eq!(src.get(1..3), Some(&[2, 3][..]));
        assert_eq!(src.get(50..52), Some(&[9, 9][..]));
        assert!(!src.missed());
        assert_eq!(src.get(3..6), None);
        assert_eq!(src.get(10..12), None);
        // Past the end is not a miss: the whole file would not have it either.
        assert_eq!(src.get(99..101), None);
        assert_eq!(src.take_misses(), vec![3..6, 10..12]);
        assert_eq!(src.known(2, 10), &[3, 4]);
        assert_eq!(src.take_misses(), vec![4..10]);
        assert_eq!(src.known(51, 200), &[9]);
        assert_eq!(src.take_misses(), vec![52..100]);
        assert_eq!(src.known(20, 30), &[] as &[u8]);
        assert_eq!(src.take_misses(), vec![20..30]);
        assert_eq!(src.get(7..7), Some(&[][..]));
        assert!(!src.missed());
    }

    #[test]
    fn a_whole_buffer_never_misses() {
        let bytes = b"hello world";
        let src = Source::whole(bytes);
        assert_eq!(src.all(), Some(&bytes[..]));
        assert_eq!(src.known(6, 100), b"world");
        assert_eq!(src.get(5..20), None);
        assert!(src.starts_with(b"hell"));
        assert!(!src.missed());
    }
}
