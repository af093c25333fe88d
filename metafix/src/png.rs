//! PNG: the `eXIf` chunk (PNG 1.5 / PNG third edition).

use std::ops::Range;

use crate::source::Source;
use crate::{Error, ErrorKind};

const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// What the chunk walk found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Layout {
    /// The `eXIf` chunk (length, type, data and CRC).
    pub exif_chunk: Option<Range<usize>>,
    /// Its data.
    pub exif_data: Option<Range<usize>>,
    /// Where a new `eXIf` goes: before the first IDAT (or at IEND, or the end).
    pub insert_at: usize,
    pub truncated: bool,
}

/// Walks the chunks of a PNG.
pub(crate) fn scan(input: &Source<'_>) -> Result<Layout, Error> {
    if !input.starts_with(SIGNATURE) {
        return Err(Error::new(ErrorKind::Malformed, "no PNG signature"));
    }
    let mut layout = Layout::default();
    let mut pos = SIGNATURE.len();
    let mut insert_at = None;
    loop {
        let Some(head) = input.get(pos..pos + 8) else {
            layout.truncated = pos != input.len();
            break;
        };
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let kind = &head[4..8];
        let Some(end) = len.checked_add(pos + 12).filter(|&e| e <= input.len()) else {
            layout.truncated = true;
            break;
        };
        if kind == b"eXIf" && layout.exif_chunk.is_none() {
            layout.exif_chunk = Some(pos..end);
            layout.exif_data = Some(pos + 8..end - 4);
        }
        if (kind == b"IDAT" || kind == b"IEND") && insert_at.is_none() {
            insert_at = Some(pos);
        }
        pos = end;
        if kind == b"IEND" {
            break;
        }
    }
    layout.insert_at = insert_at.unwrap_or(pos.min(input.len()));
    Ok(layout)
}

/// A complete chunk: length, type, data, CRC-32 over type and data.
pub(crate) fn chunk(kind: &[u8; 4], data: &[u8]) -> Result<Vec<u8>, Error> {
    let len = u32::try_from(data.len())
        .map_err(|_| Error::new(ErrorKind::TooLarge, "PNG chunk over 4 GB"))?;
    let mut out = Vec::with_capacity(data.len() + 12);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[4..]);
    out.extend_from_slice(&crc.to_be_bytes());
    Ok(out)
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

/// CRC-32 (ISO 3309, as PNG uses it).
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in bytes {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    c ^ 0xFFFF_FFFF
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc_matches_the_png_iend_chunk() {
        assert_eq!(super::crc32(b"IEND"), 0xAE42_6082);
    }
}
