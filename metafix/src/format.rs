//! Format detection from magic bytes, independent of file name and MIME type.

use serde::{Deserialize, Serialize};

/// A container format, as told by the file's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Format {
    /// JPEG (`FF D8 FF`).
    Jpeg,
    /// PNG (`89 50 4E 47 0D 0A 1A 0A`).
    Png,
    /// WebP (`RIFF....WEBP`).
    Webp,
    /// HEIC/HEIF (ISO BMFF with a `heic`, `heix`, `mif1`… brand).
    Heic,
    /// AVIF (ISO BMFF with an `avif`/`avis` brand).
    Avif,
    /// TIFF (`II*\0` or `MM\0*`).
    Tiff,
    /// MP4 and its ISO BMFF relatives (`isom`, `mp4x`, `3gp`…).
    Mp4,
    /// QuickTime movie (`qt  ` brand, or a classic atom layout without `ftyp`).
    Mov,
    /// Anything else.
    Unknown,
}

/// ISO BMFF brands that mean HEIF still images (HEVC-coded or generic).
const HEIC_BRANDS: [&[u8; 4]; 8] = [
    b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1",
];
/// ISO BMFF brands that mean AVIF.
const AVIF_BRANDS: [&[u8; 4]; 2] = [b"avif", b"avis"];

impl Format {
    /// Detects the format from the first bytes of a file (16 are enough for
    /// everything but ISO BMFF, whose `ftyp` box lists brands; give it the header).
    pub fn detect(bytes: &[u8]) -> Format {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            return Format::Jpeg;
        }
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            return Format::Png;
        }
        if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
            return Format::Webp;
        }
        if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
            return Format::Tiff;
        }
        if let Some(kind) = iso_bmff_kind(bytes) {
            return kind;
        }
        Format::Unknown
    }

    /// The usual file extension for the format, without a dot (`""` for unknown).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Webp => "webp",
            Format::Heic => "heic",
            Format::Avif => "avif",
            Format::Tiff => "tif",
            Format::Mp4 => "mp4",
            Format::Mov => "mov",
            Format::Unknown => "",
        }
    }

    /// The MIME type of the format (`application/octet-stream` for unknown).
    pub fn mime_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Webp => "image/webp",
            Format::Heic => "image/heic",
            Format::Avif => "image/avif",
            Format::Tiff => "image/tiff",
            Format::Mp4 => "video/mp4",
            Format::Mov => "video/quicktime",
            Format::Unknown => "application/octet-stream",
        }
    }

    /// A short display name (`"JPEG"`, `"PNG"`…).
    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "JPEG",
            Format::Png => "PNG",
            Format::Webp => "WebP",
            Format::Heic => "HEIC",
            Format::Avif => "AVIF",
            Format::Tiff => "TIFF",
            Format::Mp4 => "MP4",
            Format::Mov => "MOV",
            Format::Unknown => "unknown",
        }
    }

    /// Whether [`fix`](crate::fix) writes EXIF into this format (JPEG, PNG, WebP, TIFF,
    /// HEIC, AVIF).
    pub fn writes_exif(self) -> bool {
        matches!(
            self,
            Format::Jpeg | Format::Png | Format::Webp | Format::Tiff | Format::Heic | Format::Avif
        )
    }

    /// Whether this is a video container.
    pub fn is_video(self) -> bool {
        matches!(self, Format::Mp4 | Format::Mov)
    }

    /// The format a file extension names (case-insensitive, with or without a dot).
    pub fn from_extension(ext: &str) -> Option<Format> {
        let ext = ext.trim_start_matches('.').to_ascii_lowercase();
        Some(match ext.as_str() {
            // A multi-picture JPEG (MPF) is a JPEG; `.mpo` is its right extension.
            "jpg" | "jpeg" | "jpe" | "jfif" | "mpo" => Format::Jpeg,
            "png" => Format::Png,
            "webp" => Format::Webp,
            "heic" | "heif" | "hif" => Format::Heic,
            "avif" => Format::Avif,
            "tif" | "tiff" => Format::Tiff,
            "mp4" | "m4v" | "3gp" => Format::Mp4,
            "mov" | "qt" => Format::Mov,
            _ => return None,
        })
    }

    /// The format a MIME type names (`image/jpeg` → JPEG), ignoring parameters.
    pub fn from_mime_type(mime: &str) -> Option<Format> {
        let mime = mime
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        Some(match mime.as_str() {
            "image/jpeg" | "image/jpg" | "image/pjpeg" => Format::Jpeg,
            "image/png" => Format::Png,
            "image/webp" => Format::Webp,
            "image/heic" | "image/heif" | "image/heic-sequence" | "image/heif-sequence" => {
                Format::Heic
            }
            "image/avif" => Format::Avif,
            "image/tiff" => Format::Tiff,
            "video/mp4" | "video/3gpp" | "video/x-m4v" => Format::Mp4,
            "video/quicktime" => Format::Mov,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Classifies an ISO BMFF file by its `ftyp` brands, or a QuickTime file by its
/// first atom when there is no `ftyp` (pre-2001 movies).
fn iso_bmff_kind(bytes: &[u8]) -> Option<Format> {
    let size = u32::from_be_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
    let kind = bytes.get(4..8)?;
    if kind == b"ftyp" {
        let end = if size >= 16 {
            size.min(bytes.len())
        } else {
            bytes.len().min(64)
        };
        let major: &[u8] = bytes.get(8..12)?;
        let compatible = bytes.get(16..end).unwrap_or(&[]);
        let brands = std::iter::once(major).chain(compatible.chunks_exact(4));
        let has = |set: &[&[u8; 4]]| {
            std::iter::once(major)
                .chain(compatible.chunks_exact(4))
                .any(|b| set.iter().any(|s| &s[..] == b))
        };
        // The major brand decides first: an AVIF may list `mif1`, a HEIC may list `avif`
        // only in odd files.
        if AVIF_BRANDS.iter().any(|b| &b[..] == major) {
            return Some(Format::Avif);
        }
        if HEIC_BRANDS.iter().any(|b| &b[..] == major) && major != b"mif1" && major != b"msf1" {
            return Some(Format::Heic);
        }
        if major == b"qt  " {
            return Some(Format::Mov);
        }
        if has(&AVIF_BRANDS) {
            return Some(Format::Avif);
        }
        if has(&HEIC_BRANDS) {
            return Some(Format::Heic);
        }
        for brand in brands {
            if brand == b"qt  " {
                return Some(Format::Mov);
            }
        }
        // Every other brand (isom, iso2…iso9, mp41, mp42, avc1, M4V, 3gp*, dash…) is an
        // MP4-family movie as far as dates go: the same mvhd/tkhd/mdhd boxes.
        return Some(Format::Mp4);
    }
    // QuickTime without `ftyp`: the file starts with one of the classic atoms.
    let classic: [&[u8]; 6] = [b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"];
    if (size >= 8 || size == 0 || size == 1) && classic.contains(&kind) {
        return Some(Format::Mov);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_magic() {
        assert_eq!(Format::detect(b"\xFF\xD8\xFF\xE0"), Format::Jpeg);
        assert_eq!(Format::detect(b"\x89PNG\r\n\x1a\n...."), Format::Png);
        assert_eq!(Format::detect(b"RIFF\0\0\0\0WEBPVP8 "), Format::Webp);
        assert_eq!(Format::detect(b"II*\0\x08\0\0\0"), Format::Tiff);
        assert_eq!(Format::detect(b"MM\0*\0\0\0\x08"), Format::Tiff);
        assert_eq!(
            Format::detect(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"),
            Format::Heic
        );
        assert_eq!(
            Format::detect(b"\0\0\0\x18ftypavif\0\0\0\0mif1avif"),
            Format::Avif
        );
        assert_eq!(
            Format::detect(b"\0\0\0\x18ftypmif1\0\0\0\0mif1avif"),
            Format::Avif
        );
        assert_eq!(
            Format::detect(b"\0\0\0\x14ftypqt  \0\0\0\0qt  "),
            Format::Mov
        );
        assert_eq!(
            Format::detect(b"\0\0\0\x18ftypisom\0\0\0\0isommp41"),
            Format::Mp4
        );
        assert_eq!(Format::detect(b"\0\0\0\x08wide\0\0\0\x08mdat"), Format::Mov);
        assert_eq!(Format::detect(b""), Format::Unknown);
        assert_eq!(Format::detect(b"GIF89a"), Format::Unknown);
    }

    #[test]
    fn extension_round_trips() {
        for f in [
            Format::Jpeg,
            Format::Png,
            Format::Webp,
            Format::Heic,
            Format::Avif,
            Format::Tiff,
            Format::Mp4,
            Format::Mov,
        ] {
            assert_eq!(Format::from_extension(f.extension()), Some(f));
            assert_eq!(Format::from_mime_type(f.mime_type()), Some(f));
        }
    }
}
