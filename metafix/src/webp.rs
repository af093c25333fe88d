//! WebP: the RIFF `EXIF` chunk, and the `VP8X` header whose flag announces it.

use std::ops::Range;

use crate::source::Source;
use crate::{Error, ErrorKind};

/// VP8X flag bits.
pub(crate) const FLAG_EXIF: u8 = 0x08;
const FLAG_ALPHA: u8 = 0x10;

/// What the chunk walk found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Layout {
    /// The `VP8X` chunk's data offset.
    pub vp8x_data: Option<usize>,
    /// The `EXIF` chunk (header, data and pad byte).
    pub exif_chunk: Option<Range<usize>>,
    pub exif_data: Option<Range<usize>>,
    /// The `XMP ` chunk's start (a new EXIF goes before it).
    pub xmp_at: Option<usize>,
    /// Canvas size and alpha from a simple-format bitstream (for a new VP8X).
    pub canvas: Option<(u32, u32, bool)>,
    /// The end of the last whole chunk.
    pub end: usize,
    /// The last chunk has an odd size and the file ends before its pad byte.
    pub missing_pad: bool,
    pub truncated: bool,
}

/// Walks the chunks of a WebP file.
pub(crate) fn scan(input: &Source<'_>) -> Result<Layout, Error> {
    if input.len() < 12 || !input.starts_with(b"RIFF") || input.get(8..12) != Some(b"WEBP") {
        return Err(Error::new(ErrorKind::Malformed, "no RIFF WEBP header"));
    }
    let mut layout = Layout::default();
    let mut pos = 12;
    loop {
        let Some(head) = input.get(pos..pos + 8) else {
            layout.truncated = pos != input.len();
            break;
        };
        let size = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let data = pos + 8;
        let Some(data_end) = data.checked_add(size).filter(|&e| e <= input.len()) else {
            layout.truncated = true;
            break;
        };
        // Chunks are padded to even sizes; a missing final pad byte is tolerated (and
        // must be supplied before anything is appended after it).
        let padded = data_end + (size & 1);
        layout.missing_pad = padded > input.len();
        let end = padded.min(input.len());
        // The frame header is in the first bytes; the image data is never read.
        let body = input.get(data..data_end.min(data + 16)).unwrap_or(&[]);
        match &head[0..4] {
            b"VP8X" => layout.vp8x_data = Some(data),
            b"EXIF" if layout.exif_chunk.is_none() => {
                layout.exif_chunk = Some(pos..end);
                layout.exif_data = Some(data..data_end);
            }
            b"XMP " if layout.xmp_at.is_none() => layout.xmp_at = Some(pos),
            b"VP8 " => {
                // Key frame header: 3-byte tag, start code 9D 01 2A, 14-bit sizes.
                if let Some(b) = body.get(3..10)
                    && b[0..3] == [0x9D, 0x01, 0x2A]
                {
                    let w = u32::from(u16::from_le_bytes([b[3], b[4]]) & 0x3FFF);
                    let h = u32::from(u16::from_le_bytes([b[5], b[6]]) & 0x3FFF);
                    layout.canvas = Some((w, h, false));
                }
            }
            b"VP8L" => {
                if let Some(b) = body.get(0..5)
                    && b[0] == 0x2F
                {
                    let bits = u32::from_le_bytes([b[1], b[2], b[3], b[4]]);
                    let w = (bits & 0x3FFF) + 1;
                    let h = ((bits >> 14) & 0x3FFF) + 1;
                    let alpha = (bits >> 28) & 1 == 1;
                    layout.canvas = Some((w, h, alpha));
                }
            }
            _ => {}
        }
        pos = end;
        layout.end = end;
    }
    Ok(layout)
}

/// A complete chunk with its pad byte.
pub(crate) fn chunk(kind: &[u8; 4], data: &[u8]) -> Result<Vec<u8>, Error> {
    let size = u32::try_from(data.len())
        .map_err(|_| Error::new(ErrorKind::TooLarge, "WebP chunk over 4 GB"))?;
    let mut out = Vec::with_capacity(data.len() + 9);
    out.extend_from_slice(kind);
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    Ok(out)
}

/// A `VP8X` chunk for a simple-format file that gains EXIF.
pub(crate) fn vp8x(width: u32, height: u32, alpha: bool) -> Option<Vec<u8>> {
    let w = width.checked_sub(1)?;
    let h = height.checked_sub(1)?;
    if w >= 1 << 24 || h >= 1 << 24 {
        return None;
    }
    let mut data = vec![FLAG_EXIF | if alpha { FLAG_ALPHA } else { 0 }, 0, 0, 0];
    data.extend_from_slice(&w.to_le_bytes()[..3]);
    data.extend_from_slice(&h.to_le_bytes()[..3]);
    chunk(b"VP8X", &data).ok()
}
