//! `baseUrl` suffixes: what to append to a `baseUrl` to get bytes.

use std::fmt;
use std::str::FromStr;

/// What to fetch from a `baseUrl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaSuffix {
    /// `=d`: the photo with its metadata (location removed), as Google re-encoded it.
    Download,
    /// `=dv`: the video (fails until `processingStatus` is `READY`).
    DownloadVideo,
    /// `=w{W}-h{H}` (`-c` when `crop`): a photo scaled to fit W×H, or a still of a
    /// video; with `crop` it fills W×H exactly, cut to the centre.
    Fit {
        /// Largest width in pixels.
        width: u32,
        /// Largest height in pixels.
        height: u32,
        /// Crop to exactly `width`×`height` instead of fitting inside.
        crop: bool,
    },
}

impl fmt::Display for MediaSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MediaSuffix::Download => f.write_str("=d"),
            MediaSuffix::DownloadVideo => f.write_str("=dv"),
            MediaSuffix::Fit {
                width,
                height,
                crop,
            } => {
                write!(f, "=w{width}-h{height}")?;
                if crop {
                    f.write_str("-c")?;
                }
                Ok(())
            }
        }
    }
}

/// A suffix that is none of the forms [`MediaSuffix`] knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown media suffix {0:?}")]
pub struct MediaSuffixParseError(String);

impl FromStr for MediaSuffix {
    type Err = MediaSuffixParseError;

    /// Parses the suffix including its leading `=` (`"=w512-h512-c"`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || MediaSuffixParseError(s.to_owned());
        let body = s.strip_prefix('=').ok_or_else(err)?;
        match body {
            "d" => return Ok(MediaSuffix::Download),
            "dv" => return Ok(MediaSuffix::DownloadVideo),
            _ => {}
        }
        let mut parts = body.split('-');
        let width = parts
            .next()
            .and_then(|p| p.strip_prefix('w'))
            .and_then(parse_dimension)
            .ok_or_else(err)?;
        let height = parts
            .next()
            .and_then(|p| p.strip_prefix('h'))
            .and_then(parse_dimension)
            .ok_or_else(err)?;
        let crop = match parts.next() {
            None => false,
            Some("c") => true,
            Some(_) => return Err(err()),
        };
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(MediaSuffix::Fit {
            width,
            height,
            crop,
        })
    }
}

fn parse_dimension(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|&n| n > 0)
}

/// The URL that fetches `suffix` from `base_url` (the suffix is appended as is, the
/// way Google documents it).
pub fn media_url(base_url: &str, suffix: MediaSuffix) -> String {
    format!("{base_url}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_documented_suffixes() {
        let base = "https://lh3.googleusercontent.com/abc";
        assert_eq!(media_url(base, MediaSuffix::Download), format!("{base}=d"));
        assert_eq!(
            media_url(base, MediaSuffix::DownloadVideo),
            format!("{base}=dv")
        );
        assert_eq!(
            media_url(
                base,
                MediaSuffix::Fit {
                    width: 256,
                    height: 128,
                    crop: false
                }
            ),
            format!("{base}=w256-h128")
        );
        assert_eq!(
            media_url(
                base,
                MediaSuffix::Fit {
                    width: 512,
                    height: 512,
                    crop: true
                }
            ),
            format!("{base}=w512-h512-c")
        );
    }

    #[test]
    fn parses_what_it_builds() {
        for s in [
            MediaSuffix::Download,
            MediaSuffix::DownloadVideo,
            MediaSuffix::Fit {
                width: 1,
                height: 2,
                crop: false,
            },
            MediaSuffix::Fit {
                width: 4032,
                height: 3024,
                crop: true,
            },
        ] {
            assert_eq!(s.to_string().parse::<MediaSuffix>().unwrap(), s);
        }
    }

    #[test]
    fn rejects_unknown_suffixes() {
        for bad in [
            "",
            "d",
            "=",
            "=x",
            "=w-h1",
            "=w0-h10",
            "=w10",
            "=w10-h10-x",
            "=w10-h10-c-c",
            "=h10-w10",
            "=w+1-h1",
        ] {
            assert!(
                bad.parse::<MediaSuffix>().is_err(),
                "{bad:?} should be rejected"
            );
        }
    }
}

/// What `Content-Range: bytes START-END/TOTAL` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    /// First byte.
    pub start: u64,
    /// Last byte (inclusive).
    pub end: u64,
    /// The whole length, when given (`*` otherwise).
    pub total: Option<u64>,
}

/// Parses the `Content-Range` of a 206 answer (`bytes 0-99/1000`, `bytes 0-99/*`);
/// `None` for anything else (an unsatisfied `bytes */1000` included).
pub fn parse_content_range(value: &str) -> Option<ContentRange> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    if end < start {
        return None;
    }
    let total = match total.trim() {
        "*" => None,
        n => Some(n.parse().ok()?),
    };
    if total.is_some_and(|t| end >= t) {
        return None;
    }
    Some(ContentRange { start, end, total })
}

/// What an answer to a download (asked from byte `have` on, `have` 0 for a whole
/// file) means for the bytes already received. Google is not known to honour
/// `Range` on every host (PICKER-API.md §4): a 206 for the asked range continues
/// the file, a 200 is the whole file again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// A 206 from `have` on: append; the whole file is `total` bytes when known.
    Append {
        /// The whole length, when the server said.
        total: Option<u64>,
    },
    /// A whole body (200): drop what was received and start over; its length is
    /// `total` when announced.
    Restart {
        /// The body's announced length.
        total: Option<u64>,
    },
    /// A 206 for another range than asked, or one that cannot be read: keep
    /// nothing of it and ask again from the start.
    WrongRange,
}

/// Decides what a `200` or `206` answer means when `have` bytes are already held.
pub fn resume(
    status: u16,
    have: u64,
    content_range: Option<&str>,
    content_length: Option<u64>,
) -> Resume {
    if status != 206 {
        return Resume::Restart {
            total: content_length,
        };
    }
    match content_range.and_then(parse_content_range) {
        Some(range) if range.start == have => Resume::Append { total: range.total },
        _ => Resume::WrongRange,
    }
}

#[cfg(test)]
mod range_tests {
    use super::*;

    #[test]
    fn content_ranges_parse() {
        assert_eq!(
            parse_content_range("bytes 100-199/1000"),
            Some(ContentRange {
                start: 100,
                end: 199,
                total: Some(1000)
            })
        );
        assert_eq!(
            parse_content_range("bytes 0-0/*"),
            Some(ContentRange {
                start: 0,
                end: 0,
                total: None
            })
        );
        for bad in [
            "",
            "bytes */1000",
            "bytes 5-1/10",
            "items 0-1/2",
            "bytes 0-1",
            "bytes 0-10/10",
        ] {
            assert_eq!(parse_content_range(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_206_continues_only_from_where_we_stand() {
        assert_eq!(
            resume(206, 100, Some("bytes 100-999/1000"), Some(900)),
            Resume::Append { total: Some(1000) }
        );
        assert_eq!(
            resume(206, 100, Some("bytes 0-999/1000"), None),
            Resume::WrongRange
        );
        assert_eq!(resume(206, 100, None, None), Resume::WrongRange);
        // A host that ignores Range answers 200 with everything: start over.
        assert_eq!(
            resume(200, 100, None, Some(1000)),
            Resume::Restart { total: Some(1000) }
        );
    }
}
