//! JPEG: find the EXIF APP1 segment (or where a new one goes) by walking the marker
//! segments up to the start of scan; nothing after SOS is read or copied.
//!
//! The walk is tolerant the way libjpeg is, because cameras and old editors write
//! files that every viewer opens but that are not strictly valid:
//! - stray bytes between segments ("extraneous bytes before marker") are skipped up
//!   to the next real marker, and recorded;
//! - runs of `0xFF` fill bytes before a marker are allowed;
//! - the first segment after SOI may be anything (not only APPn);
//! - a segment whose length runs past the next marker or the end of the file is cut at
//!   the next real marker when exactly one reading of the bytes makes sense, and the
//!   file is refused with the reason when not.
//!
//! The walk only finds ranges: the caller replaces the EXIF segment and keeps every
//! other byte, stray ones included, exactly as it was.

use std::ops::Range;

use crate::edit::ImageInfo;
use crate::patch::Pieces;
use crate::source::Source;
use crate::{Error, ErrorKind};

/// The largest EXIF payload (`Exif\0\0` + TIFF) one APP1 segment holds: 65,535 minus
/// the 2-byte length field.
pub const APP1_PAYLOAD_MAX: usize = 65_533;
const EXIF_HEADER: &[u8] = b"Exif\0\0";

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const APP0: u8 = 0xE0;
const APP1: u8 = 0xE1;
const APP2: u8 = 0xE2;
/// TEM: a standalone marker (no length), like RST0..RST7.
const TEM: u8 = 0x01;

/// How far a plausibility check follows a chain of segments before it believes it.
const CHAIN_STEPS: usize = 64;
/// How many candidate markers inside an overrunning segment are weighed.
const MAX_CANDIDATES: usize = 16;

/// Bytes that are not part of any segment, kept as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stray {
    /// Where they start.
    pub at: usize,
    /// How many.
    pub len: usize,
    /// The marker of the segment they follow (`0xD8` for SOI).
    pub after: u8,
}

/// A segment whose stated length ran past the next real marker (or the end of the
/// file), cut there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Overrun {
    /// The segment's marker byte.
    pub marker: u8,
    /// Where the segment starts.
    pub at: usize,
    /// The length it states.
    pub stated: usize,
    /// Where the next real marker is (the segment's true end).
    pub cut_at: usize,
}

/// What the marker walk found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Layout {
    /// The first APP1 segment holding EXIF: the whole segment (marker included).
    pub exif_segment: Option<Range<usize>>,
    /// The TIFF block inside it.
    pub exif_tiff: Option<Range<usize>>,
    /// Where a new APP1 goes: after SOI and any APP0 (JFIF/JFXX) right after it, and
    /// after any stray bytes that follow them (so those stay "after" the same segment).
    pub insert_at: usize,
    pub info: ImageInfo,
    /// The walk stopped at the end of the data before reaching SOS.
    pub truncated: bool,
    /// More APP1 EXIF segments after the first (only the first is used).
    pub extra_exif: usize,
    /// Stray bytes skipped between segments.
    pub stray: Vec<Stray>,
    /// Segments cut at the next real marker.
    pub overruns: Vec<Overrun>,
    /// The MPF (multi-picture) APP2 segment, whose offsets are relative to itself.
    pub mpf_segment: Option<Range<usize>>,
}

/// The name ExifTool uses for a marker (`APP1`, `COM`, `SOF0`, `DQT`…).
pub(crate) fn marker_name(m: u8) -> String {
    match m {
        SOI => "SOI".to_owned(),
        0xC4 => "DHT".to_owned(),
        0xCC => "DAC".to_owned(),
        0xDB => "DQT".to_owned(),
        0xDD => "DRI".to_owned(),
        0xFE => "COM".to_owned(),
        0xC0..=0xCF => format!("SOF{}", m - 0xC0),
        0xE0..=0xEF => format!("APP{}", m - 0xE0),
        _ => format!("0x{m:02X}"),
    }
}

/// Whether `m` starts a segment with a length field (SOFn, DHT, DQT, APPn, COM…).
/// Markers 0x02..0xBF are reserved and never seen in real files: finding one where a
/// marker should be means the walk is in the middle of data.
fn has_length(m: u8) -> bool {
    (0xC0..=0xFE).contains(&m) && !(0xD0..=0xD9).contains(&m)
}

/// SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
fn is_sof(m: u8) -> bool {
    (0xC0..=0xCF).contains(&m) && !matches!(m, 0xC4 | 0xC8 | 0xCC)
}

fn is_standalone(m: u8) -> bool {
    m == TEM || (0xD0..=0xD7).contains(&m)
}

/// The marker at `pos` after any `0xFF` fill: (position of the `0xFF` just before the
/// marker byte, marker byte). `None` when `pos` does not start a marker.
fn marker_at(input: &Source<'_>, pos: usize) -> Option<(usize, u8)> {
    if input.byte(pos) != Some(0xFF) {
        return None;
    }
    let mut p = pos;
    while input.byte(p + 1) == Some(0xFF) {
        p += 1;
    }
    match input.byte(p + 1) {
        Some(m) if has_length(m) || is_standalone(m) || m == EOI => Some((p, m)),
        _ => None,
    }
}

/// The stated length of the segment at `at` (its `0xFF`), if readable and ≥ 2.
fn seg_len(input: &Source<'_>, at: usize) -> Option<usize> {
    let b = input.get(at + 2..at + 4)?;
    let len = usize::from(u16::from_be_bytes([b[0], b[1]]));
    (len >= 2).then_some(len)
}

/// Follows segments from `from` (a position that should start a marker) and tells
/// whether they chain up to a start of scan: each segment's length must land exactly
/// on the next marker. Returns the marker positions passed, or `None` when the chain
/// breaks. This is what "a real marker" means here: random bytes almost never chain.
fn chain(input: &Source<'_>, from: usize, sof_seen: bool) -> Option<Vec<usize>> {
    let mut pos = from;
    let mut seen = Vec::new();
    // A scan needs a frame header before it: a chain to SOS that passes no SOF (and
    // follows none) is bytes that happen to look like markers.
    let mut sof = sof_seen;
    for _ in 0..CHAIN_STEPS {
        let (at, m) = marker_at(input, pos)?;
        seen.push(at);
        if m == SOS {
            return (sof && seg_len(input, at).is_some()).then_some(seen);
        }
        sof |= is_sof(m);
        if m == EOI {
            // An EOI before any SOS is not the file's structure (scan data ends with one).
            return None;
        }
        if is_standalone(m) {
            pos = at + 2;
            continue;
        }
        let end = at + 2 + seg_len(input, at)?;
        if end > input.len() {
            return None;
        }
        pos = end;
    }
    // Long enough to believe.
    Some(seen)
}

/// The first position at or after `from` where a chain of real segments starts, up to
/// `limit` (exclusive). Like libjpeg's resynchronisation, but a candidate counts only
/// if what follows it is JPEG structure.
fn resync(input: &Source<'_>, from: usize, limit: usize, sof_seen: bool) -> Option<usize> {
    let limit = limit.min(input.len());
    let mut tried = 0;
    let mut q = from;
    while q < limit {
        // Known bytes only: a search that runs into unknown ones records the miss.
        let off = input.known(q, limit).iter().position(|&b| b == 0xFF)?;
        q += off;
        if let Some((at, _)) = marker_at(input, q) {
            if chain(input, q, sof_seen).is_some() {
                return Some(q);
            }
            tried += 1;
            if tried >= MAX_CANDIDATES * 4 {
                return None;
            }
            q = at + 2;
        } else {
            q += 1;
        }
    }
    None
}

/// Where a segment that overruns really ends, if exactly one reading makes sense:
/// the first marker inside its body that chains to SOS, provided every other such
/// marker lies on that same chain (returned too). `Err` names the readings when
/// there are several.
fn overrun_end(
    input: &Source<'_>,
    at: usize,
    stated_end: usize,
    sof_seen: bool,
) -> Result<Option<(usize, Vec<usize>)>, String> {
    let body_end = stated_end.min(input.len());
    // An embedded JPEG (an EXIF thumbnail) has its own chain of segments: the search
    // stops at its SOI.
    let body = input.get(at + 4..body_end).unwrap_or(&[]);
    let stop = body
        .windows(2)
        .position(|w| w == [0xFF, SOI])
        .map_or(body_end, |i| at + 4 + i);
    let mut first: Option<(usize, Vec<usize>)> = None;
    let mut others = Vec::new();
    let mut q = at + 4;
    let mut candidates = 0;
    while q < stop {
        let Some(off) = input.known(q, stop).iter().position(|&b| b == 0xFF) else {
            break;
        };
        q += off;
        let Some((m_at, m)) = marker_at(input, q) else {
            q += 1;
            continue;
        };
        if has_length(m)
            && let Some(positions) = chain(input, q, sof_seen)
        {
            candidates += 1;
            match &first {
                None => first = Some((m_at, positions)),
                Some((_, on_chain)) if on_chain.contains(&m_at) => {}
                Some(_) => others.push(m_at),
            }
            if candidates >= MAX_CANDIDATES {
                break;
            }
        }
        q = m_at + 2;
    }
    match (first, others.is_empty()) {
        (None, _) => Ok(None),
        (Some((f, chain)), true) => Ok(Some((f, chain))),
        (Some((f, _)), false) => Err(format!(
            "the JPEG segment at byte {at} runs past the next marker, and the bytes read \
             two ways (a marker at byte {f} or at byte {})",
            others[0]
        )),
    }
}

/// Walks the marker segments of a JPEG up to SOS.
pub(crate) fn scan(input: &Source<'_>) -> Result<Layout, Error> {
    if !input.starts_with(&[0xFF, SOI]) {
        return Err(Error::new(
            ErrorKind::Malformed,
            "no JPEG start-of-image marker",
        ));
    }
    let mut layout = Layout {
        insert_at: 2,
        ..Layout::default()
    };
    let mut pos = 2;
    let mut leading_app0 = true;
    let mut last_marker = SOI;
    let mut sof_seen = false;
    loop {
        if pos >= input.len() {
            layout.truncated = true;
            return Ok(layout);
        }
        let (at, marker) = match marker_at(input, pos) {
            Some(found) => found,
            None => {
                // Stray bytes: resynchronise on the next marker that begins real
                // structure (libjpeg: "extraneous bytes before marker").
                let Some(next) = resync(input, pos, input.len(), sof_seen) else {
                    // No structure follows: a file cut inside its header, or data that
                    // is not a JPEG header at all.
                    return Err(Error::new(
                        ErrorKind::Malformed,
                        format!(
                            "no JPEG marker follows the {} stray bytes at byte {pos}",
                            input.len() - pos
                        ),
                    ));
                };
                layout.stray.push(Stray {
                    at: pos,
                    len: next - pos,
                    after: last_marker,
                });
                if leading_app0 {
                    layout.insert_at = next;
                }
                pos = next;
                continue;
            }
        };
        if is_standalone(marker) {
            pos = at + 2;
            continue;
        }
        if marker == SOS || marker == EOI {
            return Ok(layout);
        }
        let Some(len) = input
            .get(at + 2..at + 4)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        else {
            layout.truncated = true;
            return Ok(layout);
        };
        if len < 2 {
            return Err(Error::new(
                ErrorKind::Malformed,
                format!("JPEG segment at byte {at} has length {len}"),
            ));
        }
        // Fill bytes before the marker stay where they are (in the bytes before).
        let start = at;
        let stated_end = at + 2 + len;
        let mut end = stated_end;
        let lands_on_marker = end == input.len() || marker_at(input, end).is_some();
        if !lands_on_marker {
            // Two readings: stray bytes after a segment of the right length (libjpeg
            // and ExifTool skip them), or a length that runs past the next marker.
            // Each must be backed by structure; when both are, they must agree.
            let after = (end < input.len())
                .then(|| resync(input, end, input.len(), sof_seen))
                .flatten()
                .and_then(|q| marker_at(input, q).map(|(m_at, _)| (q, m_at)));
            // An EXIF segment is never cut: its TIFF block is the one thing edited, and
            // markers found inside its MakerNote would cut the block short.
            let is_exif = marker == APP1
                && input
                    .get(at + 4..(at + 4 + EXIF_HEADER.len()).min(input.len()))
                    .is_some_and(|b| b == EXIF_HEADER);
            let inside = if is_exif {
                None
            } else {
                overrun_end(input, at, stated_end, sof_seen)
                    .map_err(|why| Error::new(ErrorKind::Malformed, why))?
            };
            match (after, inside) {
                (Some(_), None) => {} // stray bytes: the next loop turn skips them
                (Some((_, m_at)), Some((cut, on_chain))) if !on_chain.contains(&m_at) => {
                    return Err(Error::new(
                        ErrorKind::Malformed,
                        format!(
                            "the JPEG segment at byte {at} reads two ways: {len} bytes \
                             followed by stray bytes up to byte {m_at}, or cut at a marker \
                             at byte {cut}"
                        ),
                    ));
                }
                (_, Some((cut, _))) => {
                    layout.overruns.push(Overrun {
                        marker,
                        at,
                        stated: len,
                        cut_at: cut,
                    });
                    end = cut;
                }
                (None, None) if end > input.len() => {
                    layout.truncated = true;
                    return Ok(layout);
                }
                (None, None) => {
                    return Err(Error::new(
                        ErrorKind::Malformed,
                        format!(
                            "the JPEG segment at byte {at} is followed by bytes that lead \
                             to no marker"
                        ),
                    ));
                }
            }
        }
        // What the segment is tells from its first bytes; the rest is never read.
        let body = input
            .get(at + 4..end.min(input.len()).min(at + 4 + 16))
            .unwrap_or(&[]);
        match marker {
            APP0 if leading_app0 => layout.insert_at = end,
            APP1 if body.starts_with(EXIF_HEADER) => {
                if layout.exif_segment.is_none() {
                    layout.exif_segment = Some(start..end);
                    layout.exif_tiff = Some(at + 4 + EXIF_HEADER.len()..end);
                } else {
                    layout.extra_exif += 1;
                }
            }
            APP2 if body.starts_with(b"ICC_PROFILE\0") => layout.info.has_icc = true,
            APP2 if body.starts_with(b"MPF\0") && layout.mpf_segment.is_none() => {
                layout.mpf_segment = Some(start..end);
            }
            m if is_sof(m) => {
                if let Some(b) = body.get(1..5) {
                    layout.info.height = Some(u32::from(u16::from_be_bytes([b[0], b[1]])));
                    layout.info.width = Some(u32::from(u16::from_be_bytes([b[2], b[3]])));
                }
            }
            _ => {}
        }
        if marker == APP0
            && leading_app0
            && body.starts_with(b"JFIF\0")
            && let Some(b) = body.get(7..12)
        {
            layout.info.density = Some((
                b[0],
                u16::from_be_bytes([b[1], b[2]]),
                u16::from_be_bytes([b[3], b[4]]),
            ));
        }
        if marker != APP0 {
            leading_app0 = false;
        }
        last_marker = marker;
        sof_seen |= is_sof(marker);
        pos = end;
    }
}

/// Whether a reader walking the output (`out`, over the original `src`) finds its
/// EXIF segment at `at`, where it was written. Stray bytes before it can hide it:
/// bytes that did not read as structure before may chain through the new segment
/// once it is there (fuzz crash f9bcca72). Only the output's start is looked at —
/// 16 KiB past the segment, doubled while the walk has not reached the scan, up to
/// 256 KiB, then the whole output — so a plan reads no more of the original than
/// the walk needs, and no whole file is read or copied.
pub(crate) fn finds_exif_at(out: &Pieces, src: &Source<'_>, at: usize) -> bool {
    const FIRST_PROBE: usize = 16 * 1024;
    const PROBE: usize = 256 * 1024;
    let total = out.output_len();
    // `None` when bytes of the original the probe needs are not known yet (the
    // miss is recorded, and the walk is done again once they are).
    let found = |len: usize| {
        let len = len.min(total);
        let probe = out.head(src, len);
        if probe.len() < len {
            return None;
        }
        let walked = scan(&Source::whole(&probe))
            .ok()
            .map(|l| (l.exif_segment.map(|r| r.start), l.truncated));
        Some((walked, len == total))
    };
    let mut window = FIRST_PROBE;
    loop {
        let len = if window > PROBE {
            total
        } else {
            at.saturating_add(window)
        };
        match found(len) {
            None => return false,
            // The walk reached the scan (the rest of the file cannot change what
            // it found), or the probe is the whole file (a truncated one stops
            // early).
            Some((Some((start, truncated)), whole)) if !truncated || whole => {
                return start == Some(at);
            }
            // The whole file, and the walk failed.
            Some((_, true)) => return false,
            Some(_) => window = window.saturating_mul(2),
        }
    }
}

/// Appends an APP1 segment holding `tiff` to `out`; fails (appending nothing) if it
/// exceeds the 64 KB segment limit.
pub(crate) fn push_app1(out: &mut Vec<u8>, tiff: &[u8]) -> Result<(), Error> {
    let payload = EXIF_HEADER.len() + tiff.len();
    if payload > APP1_PAYLOAD_MAX {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!(
                "the EXIF would be {payload} bytes; a JPEG APP1 segment holds at most {APP1_PAYLOAD_MAX}"
            ),
        ));
    }
    let len = u16::try_from(payload + 2)
        .map_err(|_| Error::new(ErrorKind::TooLarge, "APP1 segment too large"))?;
    out.reserve(payload + 4);
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(EXIF_HEADER);
    out.extend_from_slice(tiff);
    Ok(())
}
