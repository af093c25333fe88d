//! Where a container (JPEG, PNG, WebP, TIFF, HEIF) keeps its EXIF, and how a new TIFF block is
//! put in: the new header bytes and the range of the input that follows them.

use crate::patch::Pieces;
use crate::source::Source;
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

/// Puts a TIFF block into the container: the output as pieces of the input and new
/// bytes.
pub(crate) fn place(
    input: &Source<'_>,
    container: &Container,
    tiff: &[u8],
) -> Result<Pieces, Error> {
    let len = input.len();
    let mut out = Pieces::default();
    match container {
        Container::Jpeg(l) => {
            let (start, rest) = match &l.exif_segment {
                Some(r) => (r.start, r.end),
                None => (l.insert_at, l.insert_at),
            };
            let mut segment = Vec::new();
            jpeg::push_app1(&mut segment, tiff)?;
            out.copy(0..start).push_owned(segment).copy(rest..len);
        }
        Container::Png(l) => {
            let chunk = png::chunk(b"eXIf", tiff)?;
            let (start, rest) = match &l.exif_chunk {
                Some(r) => (r.start, r.end),
                None => (l.insert_at, l.insert_at),
            };
            out.copy(0..start).push_owned(chunk).copy(rest..len);
        }
        // The whole file is the TIFF block: what stayed in place is copied.
        Container::Tiff => {
            let old = input
                .all()
                .ok_or_else(|| Error::malformed("the TIFF file is not all there"))?;
            out = Pieces::rewrite(old, tiff);
        }
        Container::Heif(l) => out = heif::place(input, l, tiff)?,
        Container::Webp(l) => {
            let chunk = webp::chunk(b"EXIF", tiff)?;
            // The RIFF header's size and the VP8X flags change; every other byte
            // before the new chunk is copied.
            let riff_size = |delta: i64| {
                let old = input.get(4..8).map_or(0, |b| {
                    i64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                });
                u32::try_from((old + delta).max(0))
                    .unwrap_or(u32::MAX)
                    .to_le_bytes()
            };
            let flags = |at: usize| [input.byte(at).unwrap_or(0) | webp::FLAG_EXIF];
            match (&l.exif_chunk, l.vp8x_data) {
                (Some(r), vp8x) => {
                    let delta = chunk.len() as i64 - (r.end - r.start) as i64;
                    let size = riff_size(delta);
                    let flag = vp8x.map(flags);
                    let mut overrides = vec![(4, &size[..])];
                    if let (Some(at), Some(flag)) = (vp8x, &flag) {
                        overrides.push((at, &flag[..]));
                    }
                    out.copy_with(0..r.start, &overrides)
                        .push_owned(chunk)
                        .copy(r.end..len);
                }
                (None, Some(vp8x)) => {
                    let at = l.xmp_at.unwrap_or(l.end);
                    let pad = l.xmp_at.is_none() && l.missing_pad;
                    let delta = (chunk.len() + usize::from(pad)) as i64;
                    let size = riff_size(delta);
                    let flag = flags(vp8x);
                    out.copy_with(0..at, &[(4, &size[..]), (vp8x, &flag[..])]);
                    if pad {
                        out.push(&[0]);
                    }
                    out.push_owned(chunk).copy(at..len);
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
                    let added = vp8x.len() + chunk.len() + usize::from(l.missing_pad);
                    let size = riff_size(added as i64);
                    out.copy_with(0..12, &[(4, &size[..])])
                        .push_owned(vp8x)
                        .copy(12..l.end);
                    if l.missing_pad {
                        out.push(&[0]);
                    }
                    out.push_owned(chunk).copy(l.end..len);
                }
            }
        }
    }
    Ok(out)
}
