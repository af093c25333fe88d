//! The body of `POST` [`routes::KEEP`](crate::routes::KEEP): the fix a client
//! planned for a download the helper holds — the output file as pieces (ranges of
//! the download, or new bytes) — with the name and capture time to save it under.
//!
//! A compact binary form, because the new bytes are most of it (an EXIF segment
//! of up to 64 KB) and JSON would triple them: the 4 bytes `KSP1`, the header's
//! length (4 bytes, little-endian), the header as JSON (everything but the new
//! bytes; each new piece only says how long it is), then the new bytes of every
//! piece one after the other.
//!
//! ```
//! use api::KeepRequest;
//! use metafix::Piece;
//!
//! let request = KeepRequest {
//!     download: "d1".parse()?,
//!     filename: "IMG_1.jpg".into(),
//!     capture_time: Some("2019-07-14T11:31:12+02:00".parse()?),
//!     pieces: vec![Piece::Copy(0..20), Piece::Bytes(b"new".to_vec()), Piece::Copy(20..4000)],
//! };
//! let body = request.encode();
//! assert_eq!(KeepRequest::decode(&body, 1 << 20)?, request);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use metafix::Piece;
use serde::{Deserialize, Serialize};

use crate::{CaptureTime, DownloadId};

/// A planned fix to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepRequest {
    /// The download the pieces copy from.
    pub download: DownloadId,
    /// The file name to save under (already carrying the corrected extension).
    pub filename: String,
    /// When it was taken ([`CaptureTime::of_patch`]); `None` when no date is known.
    pub capture_time: Option<CaptureTime>,
    /// The output file, piece by piece.
    pub pieces: Vec<Piece>,
}

/// A keep body that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeepError {
    /// Not this format at all.
    #[error("the body is not a Keepsake patch")]
    NotAPatch,
    /// The header cannot be read.
    #[error("the patch's header cannot be read: {0}")]
    Header(String),
    /// The new bytes are not as long as the pieces say.
    #[error("the patch's new bytes are {found} long where its pieces say {stated}")]
    Length {
        /// What the pieces add up to.
        stated: u64,
        /// What the body holds.
        found: u64,
    },
    /// Over the limits.
    #[error("the patch is too large: {0}")]
    TooLarge(String),
    /// A copied range that ends before it starts.
    #[error("a piece copies a range that ends before it starts")]
    BadRange,
}

const MAGIC: &[u8; 4] = b"KSP1";

/// The most pieces a patch may have (a movie's dates are about ten, a HEIF a few).
pub const MAX_PIECES: usize = 100_000;
/// The longest header a patch may have.
pub const MAX_HEADER: usize = 4 << 20;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum PieceSpec {
    Copy(u64, u64),
    Bytes(u64),
}

#[derive(Serialize, Deserialize)]
struct Header {
    download: DownloadId,
    filename: String,
    #[serde(default)]
    capture_time: Option<CaptureTime>,
    pieces: Vec<PieceSpec>,
}

impl KeepRequest {
    /// The body's content type.
    pub const CONTENT_TYPE: &'static str = "application/vnd.keepsake.patch";

    /// The body for `POST` [`routes::KEEP`](crate::routes::KEEP).
    pub fn encode(&self) -> Vec<u8> {
        let header = Header {
            download: self.download.clone(),
            filename: self.filename.clone(),
            capture_time: self.capture_time,
            pieces: self
                .pieces
                .iter()
                .map(|p| match p {
                    Piece::Copy(r) => PieceSpec::Copy(r.start, r.end),
                    Piece::Bytes(b) => PieceSpec::Bytes(b.len() as u64),
                })
                .collect(),
        };
        let json = serde_json::to_vec(&header).expect("a patch header always serializes");
        let new: usize = self
            .pieces
            .iter()
            .map(|p| match p {
                Piece::Bytes(b) => b.len(),
                Piece::Copy(_) => 0,
            })
            .sum();
        let mut out = Vec::with_capacity(8 + json.len() + new);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&json);
        for piece in &self.pieces {
            if let Piece::Bytes(b) = piece {
                out.extend_from_slice(b);
            }
        }
        out
    }

    /// Reads a body, refusing one whose new bytes are over `max_new_bytes`.
    pub fn decode(body: &[u8], max_new_bytes: u64) -> Result<KeepRequest, KeepError> {
        let rest = body.strip_prefix(MAGIC).ok_or(KeepError::NotAPatch)?;
        let len_bytes: [u8; 4] = rest
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or(KeepError::NotAPatch)?;
        let len = u32::from_le_bytes(len_bytes) as usize;
        if len > MAX_HEADER {
            return Err(KeepError::TooLarge(format!(
                "a header of {len} bytes (at most {MAX_HEADER})"
            )));
        }
        let json = rest
            .get(4..4 + len)
            .ok_or_else(|| KeepError::Header("it is cut short".into()))?;
        let header: Header =
            serde_json::from_slice(json).map_err(|e| KeepError::Header(e.to_string()))?;
        if header.pieces.len() > MAX_PIECES {
            return Err(KeepError::TooLarge(format!(
                "{} pieces (at most {MAX_PIECES})",
                header.pieces.len()
            )));
        }
        let mut blob = &rest[4 + len..];
        let stated = header.pieces.iter().fold(0u64, |sum, p| match p {
            PieceSpec::Bytes(n) => sum.saturating_add(*n),
            PieceSpec::Copy(..) => sum,
        });
        if stated > max_new_bytes {
            return Err(KeepError::TooLarge(format!(
                "{stated} new bytes (at most {max_new_bytes})"
            )));
        }
        if stated != blob.len() as u64 {
            return Err(KeepError::Length {
                stated,
                found: blob.len() as u64,
            });
        }
        let mut pieces = Vec::with_capacity(header.pieces.len());
        for spec in header.pieces {
            pieces.push(match spec {
                PieceSpec::Copy(start, end) if start <= end => Piece::Copy(start..end),
                PieceSpec::Copy(..) => return Err(KeepError::BadRange),
                PieceSpec::Bytes(n) => {
                    // Within the blob: its length was checked against the sum above.
                    let (head, tail) = blob.split_at(n as usize);
                    blob = tail;
                    Piece::Bytes(head.to_vec())
                }
            });
        }
        Ok(KeepRequest {
            download: header.download,
            filename: header.filename,
            capture_time: header.capture_time,
            pieces,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> KeepRequest {
        KeepRequest {
            download: "d-1".parse().unwrap(),
            filename: "a.jpg".into(),
            capture_time: None,
            pieces: vec![
                Piece::Copy(0..2),
                Piece::Bytes(vec![1, 2, 3]),
                Piece::Copy(9..9),
                Piece::Bytes(vec![]),
                Piece::Copy(2..1 << 40),
            ],
        }
    }

    #[test]
    fn a_patch_round_trips_with_its_new_bytes_raw() {
        let body = request().encode();
        assert!(body.ends_with(&[1, 2, 3]));
        assert_eq!(KeepRequest::decode(&body, 3).unwrap(), request());
    }

    #[test]
    fn a_damaged_or_oversized_patch_is_refused() {
        let body = request().encode();
        assert_eq!(
            KeepRequest::decode(&body[..body.len() - 1], 100),
            Err(KeepError::Length {
                stated: 3,
                found: 2
            })
        );
        let mut longer = body.clone();
        longer.push(0);
        assert!(matches!(
            KeepRequest::decode(&longer, 100),
            Err(KeepError::Length { .. })
        ));
        assert!(matches!(
            KeepRequest::decode(&body, 2),
            Err(KeepError::TooLarge(_))
        ));
        assert_eq!(
            KeepRequest::decode(b"PK\x03\x04", 9),
            Err(KeepError::NotAPatch)
        );
        assert!(matches!(
            KeepRequest::decode(&body[..10], 9),
            Err(KeepError::Header(_))
        ));
        let mut huge = MAGIC.to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            KeepRequest::decode(&huge, 9),
            Err(KeepError::TooLarge(_))
        ));
        // A new piece claiming more than the body holds (a wrapping sum).
        let header = br#"{"download":"d","filename":"a","pieces":[{"bytes":18446744073709551615},{"bytes":2}]}"#;
        let mut body = MAGIC.to_vec();
        body.extend_from_slice(&(header.len() as u32).to_le_bytes());
        body.extend_from_slice(header);
        body.push(7);
        assert!(KeepRequest::decode(&body, u64::MAX).is_err());
        let header = br#"{"download":"d","filename":"a","pieces":[{"copy":[5,4]}]}"#;
        let mut body = MAGIC.to_vec();
        body.extend_from_slice(&(header.len() as u32).to_le_bytes());
        body.extend_from_slice(header);
        assert_eq!(KeepRequest::decode(&body, 0), Err(KeepError::BadRange));
    }
}
