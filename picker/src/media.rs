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
