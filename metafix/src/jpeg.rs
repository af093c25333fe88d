//! JPEG: find the EXIF APP1 segment (or where a new one goes) by walking the marker
//! segments up to the start of scan; nothing after SOS is read or copied.

use std::ops::Range;

use crate::edit::ImageInfo;
use crate::{Error, ErrorKind};

/// The largest EXIF payload (`Exif\0\0` + TIFF) one APP1 segment holds: 65,535 minus
/// the 2-byte length field.
pub const APP1_PAYLOAD_MAX: usize = 65_533;
const EXIF_HEADER: &[u8] = b"Exif\0\0";

/// What the marker walk found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Layout {
    /// The first APP1 segment holding EXIF: the whole segment (marker included).
    pub exif_segment: Option<Range<usize>>,
    /// The TIFF block inside it.
    pub exif_tiff: Option<Range<usize>>,
    /// Where a new APP1 goes: after SOI and any APP0 (JFIF/JFXX) right after it.
    pub insert_at: usize,
    pub info: ImageInfo,
    /// The walk stopped at the end of the data before reaching SOS.
    pub truncated: bool,
    /// More APP1 EXIF segments after the first (only the first is used).
    pub extra_exif: usize,
}

/// Walks the marker segments of a JPEG up to SOS.
pub(crate) fn scan(input: &[u8]) -> Result<Layout, Error> {
    if !input.starts_with(&[0xFF, 0xD8]) {
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
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        while input.get(pos) == Some(&0xFF) && input.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (input.get(pos), input.get(pos + 1)) else {
            if pos >= input.len() {
                layout.truncated = true;
                return Ok(layout);
            }
            return Err(Error::new(
                ErrorKind::Malformed,
                format!("expected a JPEG marker at byte {pos}"),
            ));
        };
        // Standalone markers have no length.
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            pos += 2;
            continue;
        }
        if marker == 0xDA || marker == 0xD9 {
            return Ok(layout);
        }
        let Some(len) = input
            .get(pos + 2..pos + 4)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        else {
            layout.truncated = true;
            return Ok(layout);
        };
        if len < 2 {
            return Err(Error::new(
                ErrorKind::Malformed,
                format!("JPEG segment at byte {pos} has length {len}"),
            ));
        }
        let start = pos;
        let end = pos + 2 + len;
        let body = input.get(pos + 4..end.min(input.len())).unwrap_or(&[]);
        if end > input.len() {
            layout.truncated = true;
            return Ok(layout);
        }
        match marker {
            0xE0 if leading_app0 => layout.insert_at = end,
            0xE1 if body.starts_with(EXIF_HEADER) => {
                if layout.exif_segment.is_none() {
                    layout.exif_segment = Some(start..end);
                    layout.exif_tiff = Some(pos + 4 + EXIF_HEADER.len()..end);
                } else {
                    layout.extra_exif += 1;
                }
            }
            0xE2 if body.starts_with(b"ICC_PROFILE\0") => layout.info.has_icc = true,
            // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                if let Some(b) = body.get(1..5) {
                    layout.info.height = Some(u32::from(u16::from_be_bytes([b[0], b[1]])));
                    layout.info.width = Some(u32::from(u16::from_be_bytes([b[2], b[3]])));
                }
            }
            _ => {}
        }
        if marker == 0xE0
            && leading_app0
            && body.starts_with(b"JFIF\0")
            && let Some(b) = body.get(7..12)
        {
            {
                layout.info.density = Some((
                    b[0],
                    u16::from_be_bytes([b[1], b[2]]),
                    u16::from_be_bytes([b[3], b[4]]),
                ));
            }
        }
        if marker != 0xE0 {
            leading_app0 = false;
        }
        pos = end;
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
