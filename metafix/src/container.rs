//! Where a container (JPEG, PNG, WebP, TIFF, HEIF) keeps its EXIF, and how a new TIFF block is
//! put in: the new header bytes and the range of the input that follows them.

use std::ops::Range;

use crate::{Error, ErrorKind, heif, jpeg, png, webp};

/// Where a container keeps its EXIF and how a new one is put in.
pub(crate) enum Container {
    /// A JPEG's marker segments.
    Jpeg(jpeg::Layout),
    /// A PNG's chunks.
    Png(png::Layout),
    /// A WebP's RIFF chunks.
    Webp(webp::Layout),
    /// A TIFF file: the whole file is the TIFF block, patched like any other (its
    /// image data never moves: strip offsets stay valid).
    Tiff,
    /// A HEIF file's (HEIC, AVIF) `meta` box and items.
    Heif(heif::Layout),
}

pub(crate) const EXIF_PREFIX: &[u8] = b"Exif\0\0";

/// Puts a TIFF block into the container: the new header bytes and the input range after.
pub(crate) fn place(
    input: &[u8],
    container: &Container,
    tiff: &[u8],
) -> Result<(Vec<u8>, Range<usize>), Error> {
    // Sized for the new EXIF too, so the header is built with a single allocation.
    let head = |end: usize| {
        let prefix = input.get(..end).unwrap_or(input);
        let mut v = Vec::with_capacity(prefix.len() + tiff.len() + 64);
        v.extend_from_slice(prefix);
        v
    };
    match container {
        Container::Jpeg(l) => {
            let (start, rest) = match &l.exif_segment {
                Some(r) => (r.start, r.end),
                None => (l.insert_at, l.insert_at),
            };
            let mut header = head(start);
            jpeg::push_app1(&mut header, tiff)?;
            Ok((header, rest..input.len()))
        }
        Container::Png(l) => {
            let chunk = png::chunk(b"eXIf", tiff)?;
            let (start, rest) = match &l.exif_chunk {
                Some(r) => (r.start, r.end),
                None => (l.insert_at, l.insert_at),
            };
            let mut header = head(start);
            header.extend_from_slice(&chunk);
            Ok((header, rest..input.len()))
        }
        // The new block is the whole file; nothing of the input follows it.
        Container::Tiff => Ok((tiff.to_vec(), input.len()..input.len())),
        Container::Heif(l) => heif::place(input, l, tiff),
        Container::Webp(l) => {
            let chunk = webp::chunk(b"EXIF", tiff)?;
            let (mut header, rest, delta) = match (&l.exif_chunk, l.vp8x_data) {
                (Some(r), _) => {
                    let old = (r.end - r.start) as i64;
                    (head(r.start), r.end, chunk.len() as i64 - old)
                }
                (None, Some(_)) => {
                    let at = l.xmp_at.unwrap_or(l.end);
                    let mut header = head(at);
                    let pad = l.xmp_at.is_none() && l.missing_pad;
                    if pad {
                        header.push(0);
                    }
                    (header, at, (chunk.len() + usize::from(pad)) as i64)
                }
                (None, None) => {
                    let Some((w, h, alpha)) = l.canvas else {
                        return Err(Error::new(
                            ErrorKind::Unsupported,
                            "a simple WebP without a readable frame header cannot gain EXIF",
                        ));
                    };
                    let vp8x = webp::vp8x(w, h, alpha)
                        .ok_or_else(|| Error::malformed("impossible WebP canvas size"))?;
                    let mut header = head(12);
                    header.extend_from_slice(&vp8x);
                    header.extend_from_slice(input.get(12..l.end).unwrap_or(&[]));
                    if l.missing_pad {
                        header.push(0);
                    }
                    let added = vp8x.len() + chunk.len() + usize::from(l.missing_pad);
                    (header, l.end, added as i64)
                }
            };
            if let Some(at) = l.vp8x_data {
                webp::set_exif_flag(&mut header, at);
            }
            webp::adjust_riff_size(&mut header, delta);
            header.extend_from_slice(&chunk);
            Ok((header, rest..input.len()))
        }
    }
}
