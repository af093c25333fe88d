//! ISO BMFF (MP4, MOV, HEIC, AVIF): box walking, reading the EXIF item of a HEIF file
//! (`heif` writes it), and the fixed-size dates of `mvhd`/`tkhd`/`mdhd` (patched in
//! place).

use std::ops::Range;

use jiff::Timestamp;

use crate::DatePolicy;
use crate::report::{NotDoneKind, Report};
use crate::source::Source;

/// Seconds from 1904-01-01 (the QuickTime/MP4 epoch) to 1970-01-01.
const EPOCH_1904: i64 = 2_082_844_800;

/// One box: its type, where its body starts and where it ends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BoxRef {
    pub kind: [u8; 4],
    pub start: usize,
    pub body: usize,
    pub end: usize,
}

/// One box header read at `pos`, as [`boxes`] and the streaming
/// [`crate::movie::locate_moov`] both read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BoxHeader {
    /// A box: its type, where its body starts and where it ends. `runs_past`: it
    /// claims to end before its body or past `limit`, so `end` is `limit` and no box
    /// follows it.
    Box {
        kind: [u8; 4],
        body: u64,
        end: u64,
        runs_past: bool,
    },
    /// No (readable) box header here: the walk ends.
    Stop,
}

/// Reads the box header at `pos` from `bytes` (the data from `pos` on; 16 bytes are
/// enough for any header), inside a parent that ends at `limit`. Size 0 runs to
/// `limit`; size 1 takes the 64-bit size that follows the type.
pub(crate) fn box_header(bytes: &[u8], pos: u64, limit: u64) -> BoxHeader {
    if pos.checked_add(8).is_none_or(|e| e > limit) {
        return BoxHeader::Stop;
    }
    let (Some(size), Some(kind)) = (bytes.get(0..4), bytes.get(4..8)) else {
        return BoxHeader::Stop;
    };
    let size = u32::from_be_bytes([size[0], size[1], size[2], size[3]]);
    let kind = [kind[0], kind[1], kind[2], kind[3]];
    let (body, end) = match size {
        0 => (pos + 8, limit),
        1 => {
            let Some(b) = bytes.get(8..16) else {
                return BoxHeader::Stop;
            };
            let mut large = [0u8; 8];
            large.copy_from_slice(b);
            let Some(end) = pos.checked_add(u64::from_be_bytes(large)) else {
                return BoxHeader::Stop;
            };
            (pos + 16, end)
        }
        n => (pos + 8, pos.saturating_add(u64::from(n))),
    };
    if end < body || end > limit {
        // A box that claims to run past its parent: keep what is there for reading.
        BoxHeader::Box {
            kind,
            body,
            end: limit,
            runs_past: true,
        }
    } else {
        BoxHeader::Box {
            kind,
            body,
            end,
            runs_past: false,
        }
    }
}

/// The boxes directly inside `range`, stopping at the first malformed header.
pub(crate) fn boxes(data: &Source<'_>, range: Range<usize>) -> Vec<BoxRef> {
    let mut out = Vec::new();
    let mut pos = range.start;
    let limit = range.end.min(data.len());
    // A header is at most 16 bytes (fewer at the end of the file).
    let header = |pos: usize| {
        let end = pos.saturating_add(16).min(data.len()).max(pos);
        data.get(pos..end).unwrap_or(&[])
    };
    while let BoxHeader::Box {
        kind,
        body,
        end,
        runs_past,
    } = box_header(header(pos), pos as u64, limit as u64)
    {
        // Both within `data` (`end` ≤ `limit`; `body` was read from `data`), so the
        // conversions hold on every target.
        let (body, end) = (body as usize, end as usize);
        out.push(BoxRef {
            kind,
            start: pos,
            body,
            end,
        });
        if runs_past {
            break;
        }
        pos = end;
    }
    out
}

pub(crate) fn find(data: &Source<'_>, range: Range<usize>, kind: &[u8; 4]) -> Option<BoxRef> {
    boxes(data, range).into_iter().find(|b| &b.kind == kind)
}

/// The `size`-byte big-endian number at `at`.
pub(crate) fn be(data: &Source<'_>, at: usize, size: usize) -> Option<u64> {
    be_bytes(data.get(at..at.checked_add(size)?)?, 0, size)
}

/// [`be`] over bytes in memory.
pub(crate) fn be_bytes(data: &[u8], at: usize, size: usize) -> Option<u64> {
    let b = data.get(at..at.checked_add(size)?)?;
    Some(b.iter().fold(0u64, |acc, &x| acc << 8 | u64::from(x)))
}

/// The TIFF block of a HEIF file's `Exif` item, if it has one.
pub(crate) fn heif_exif(data: &Source<'_>) -> Option<Vec<u8>> {
    let meta = find(data, 0..data.len(), b"meta")?;
    let inner = meta.body + 4..meta.end; // FullBox: version and flags first
    let iinf = find(data, inner.clone(), b"iinf")?;
    let version = data.byte(iinf.body)?;
    let first = iinf.body + 4 + if version == 0 { 2 } else { 4 };
    let mut exif_id = None;
    for infe in boxes(data, first..iinf.end)
        .into_iter()
        .filter(|b| &b.kind == b"infe")
    {
        let v = data.byte(infe.body)?;
        let (id, at) = match v {
            2 => (be(data, infe.body + 4, 2)?, infe.body + 8),
            3 => (be(data, infe.body + 4, 4)?, infe.body + 10),
            _ => continue,
        };
        if data.get(at..at + 4) == Some(b"Exif") {
            exif_id = Some(id);
            break;
        }
    }
    let exif_id = exif_id?;
    let iloc = find(data, inner.clone(), b"iloc")?;
    let v = data.byte(iloc.body)?;
    let sizes = data.byte(iloc.body + 4)?;
    let (offset_size, length_size) = (usize::from(sizes >> 4), usize::from(sizes & 15));
    let sizes2 = data.byte(iloc.body + 5)?;
    let base_size = usize::from(sizes2 >> 4);
    let index_size = if v >= 1 { usize::from(sizes2 & 15) } else { 0 };
    let id_size = if v < 2 { 2 } else { 4 };
    let mut at = iloc.body + 6;
    let count = be(data, at, id_size)?;
    at += id_size;
    for _ in 0..count.min(65_536) {
        let id = be(data, at, id_size)?;
        at += id_size;
        let method = if v >= 1 {
            let m = be(data, at, 2)? & 15;
            at += 2;
            m
        } else {
            0
        };
        at += 2; // data_reference_index
        let base = be(data, at, base_size)?;
        at += base_size;
        let extents = be(data, at, 2)?;
        at += 2;
        let mut bytes = Vec::new();
        for _ in 0..extents {
            at += index_size;
            let off = be(data, at, offset_size)?;
            at += offset_size;
            let len = be(data, at, length_size)?;
            at += length_size;
            if id != exif_id {
                continue;
            }
            let start = usize::try_from(base.checked_add(off)?).ok()?;
            // Where the extent's offsets count from, and where its source ends.
            let (origin, source_end) = match method {
                0 => (0, data.len()),
                1 => {
                    let idat = find(data, inner.clone(), b"idat")?;
                    (idat.body, idat.end)
                }
                _ => return None,
            };
            let len = if len == 0 {
                (source_end - origin).checked_sub(start)?
            } else {
                usize::try_from(len).ok()?
            };
            // Extents may repeat or overlap; an item larger than the file is malformed
            // (and would let a tiny file ask for gigabytes). Found by the fuzzer.
            if bytes.len().checked_add(len)? > data.len() {
                return None;
            }
            let from = origin.checked_add(start)?;
            let to = from.checked_add(len)?;
            if to > source_end {
                return None;
            }
            bytes.extend_from_slice(data.get(from..to)?);
        }
        if id == exif_id {
            return tiff_in_exif_item(&bytes);
        }
    }
    None
}

/// The Exif item starts with a 4-byte offset to the TIFF header (usually past
/// `Exif\0\0`); some writers get it wrong, so look for the header nearby too.
pub(crate) fn tiff_in_exif_item(item: &[u8]) -> Option<Vec<u8>> {
    let skip = usize::try_from(be_bytes(item, 0, 4)?).ok()?;
    let is_tiff = |b: &[u8]| b.starts_with(b"II*\0") || b.starts_with(b"MM\0*");
    if let Some(rest) = item.get(4usize.checked_add(skip)?..)
        && is_tiff(rest)
    {
        return Some(rest.to_vec());
    }
    (0..item.len().min(32))
        .find(|&i| is_tiff(&item[i..]))
        .map(|i| item[i..].to_vec())
}

/// One date field pair inside a movie header box.
#[derive(Debug, Clone)]
pub(crate) struct MovieDate {
    /// `"mvhd"`, `"tkhd"` or `"mdhd"`.
    pub kind: &'static str,
    /// Offset of the creation time field; modification follows it.
    pub at: usize,
    /// 4 or 8 bytes per field.
    pub size: usize,
    pub creation: u64,
    pub modification: u64,
}

/// The date fields of every `mvhd`, `tkhd` and `mdhd` box of the first `moov`.
pub(crate) fn movie_dates(bytes: &[u8]) -> Option<Vec<MovieDate>> {
    let data = &Source::whole(bytes);
    let moov = find(data, 0..data.len(), b"moov")?;
    let mut out = Vec::new();
    let mut push = |kind: &'static str, b: BoxRef| {
        let Some(version) = data.byte(b.body) else {
            return;
        };
        let size = if version == 1 { 8 } else { 4 };
        let at = b.body + 4;
        if let (Some(c), Some(m)) = (be(data, at, size), be(data, at + size, size))
            && at + 2 * size <= b.end
        {
            out.push(MovieDate {
                kind,
                at,
                size,
                creation: c,
                modification: m,
            });
        }
    };
    for b in boxes(data, moov.body..moov.end) {
        match &b.kind {
            b"mvhd" => push("mvhd", b),
            b"trak" => {
                for t in boxes(data, b.body..b.end) {
                    match &t.kind {
                        b"tkhd" => push("tkhd", t),
                        b"mdia" => {
                            if let Some(m) = find(data, t.body..t.end, b"mdhd") {
                                push("mdhd", m);
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Some(out)
}

/// A movie time (seconds since 1904, UTC) as a timestamp; `None` for 0 (unset).
pub(crate) fn movie_time(secs: u64) -> Option<Timestamp> {
    if secs == 0 {
        return None;
    }
    Timestamp::from_second(i64::try_from(secs).ok()?.checked_sub(EPOCH_1904)?).ok()
}

fn shown(secs: u64) -> String {
    movie_time(secs).map_or_else(|| "0 (unset)".to_owned(), |t| t.to_string())
}

/// The edits that set zeroed (or, with `Overwrite`, all) creation/modification times
/// of `dates` (found by [`movie_dates`] in the same bytes): each an offset into those
/// bytes and the field's new big-endian value, the same length as the old one. The
/// file is patched in place, so no other byte moves. Empty when nothing changes.
pub(crate) fn movie_date_edits(
    dates: &[MovieDate],
    create: Timestamp,
    policy: DatePolicy,
    report: &mut Report,
) -> Vec<(usize, Vec<u8>)> {
    let mut edits = Vec::new();
    if policy == DatePolicy::Keep {
        return edits;
    }
    let Ok(target) = u64::try_from(create.as_second() + EPOCH_1904) else {
        report.not_done(
            NotDoneKind::DateOutOfRange,
            "set movie dates",
            "createTime is before 1904",
        );
        return edits;
    };
    let mut too_late = false;
    for d in dates {
        let fields = [
            (
                "creation",
                d.at,
                d.creation,
                policy == DatePolicy::Overwrite,
            ),
            ("modification", d.at + d.size, d.modification, false),
        ];
        for (name, at, old, overwrite) in fields {
            if old == target || (old != 0 && !overwrite) {
                continue;
            }
            if d.size == 4 && target > u64::from(u32::MAX) {
                too_late = true;
                continue;
            }
            let bytes = target.to_be_bytes();
            edits.push((at, bytes[8 - d.size..].to_vec()));
            report.change(
                &format!("{} {name} time", d.kind),
                None,
                None,
                Some(shown(old)),
                Some(shown(target)),
            );
        }
    }
    if too_late {
        report.not_done(
            NotDoneKind::DateOutOfRange,
            "set movie dates",
            "createTime is after 2040 and the boxes have 32-bit time fields",
        );
    }
    edits
}
