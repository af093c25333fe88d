//! [`CaptureTime`]: when a photo was taken, as the saved file records it, and the
//! one rule every client uses to decide it.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::fmt::temporal::Pieces;
use jiff::tz::Offset;
use serde::{Deserialize, Serialize};

/// A capture time: the instant, and the wall-clock time the photographer saw (which
/// names the `<YYYY>/<MM>` folder and the zip entry's time). On the wire: RFC 3339
/// with the photographer's offset (`2019-07-14T11:31:12+02:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CaptureTime {
    /// The instant, for the file's mtime.
    pub instant: Timestamp,
    /// Local wall-clock time at the capture.
    pub local: DateTime,
}

/// A capture time that is not RFC 3339 with an offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("capture_time is not RFC 3339 with an offset: {0:?}")]
pub struct InvalidCaptureTime(String);

impl CaptureTime {
    /// The instant as seen on a clock at `offset`.
    pub fn from_parts(instant: Timestamp, offset: Offset) -> Self {
        CaptureTime {
            instant,
            local: offset.to_datetime(instant),
        }
    }

    /// The capture time of a saved file, by the one rule every client follows: what
    /// the fixed file states (its date and offset, as the plan found or wrote them),
    /// else Google's `createTime` (UTC: the offset unknown); `None` when neither is
    /// known (the file is saved without a date, in `unknown-date/`).
    pub fn of(
        file_time: Option<Timestamp>,
        file_offset: Option<Offset>,
        create_time: Option<Timestamp>,
    ) -> Option<Self> {
        let instant = file_time.or(create_time)?;
        Some(CaptureTime::from_parts(
            instant,
            file_offset.unwrap_or(Offset::UTC),
        ))
    }

    /// The capture time of a planned fix ([`metafix::Patch`]) of an item Google
    /// dated `create_time` (see [`CaptureTime::of`]).
    pub fn of_patch(patch: &metafix::Patch, create_time: Option<Timestamp>) -> Option<Self> {
        CaptureTime::of(patch.capture_time(), patch.capture_offset(), create_time)
    }

    /// The photographer's offset from UTC.
    pub fn offset(&self) -> Offset {
        let local_as_utc = Offset::UTC.to_timestamp(self.local).unwrap_or(self.instant);
        let seconds = local_as_utc.duration_since(self.instant).as_secs();
        Offset::from_seconds(i32::try_from(seconds).unwrap_or(0)).unwrap_or(Offset::UTC)
    }
}

impl FromStr for CaptureTime {
    type Err = InvalidCaptureTime;

    /// Parses RFC 3339 (`2019-07-14T11:31:12+02:00`, `…Z`).
    fn from_str(text: &str) -> Result<Self, InvalidCaptureTime> {
        let bad = || InvalidCaptureTime(text.to_owned());
        let pieces = Pieces::parse(text).map_err(|_| bad())?;
        let offset = pieces.to_numeric_offset().ok_or_else(bad)?;
        let time = pieces.time().ok_or_else(bad)?;
        let local = pieces.date().to_datetime(time);
        let instant = offset.to_timestamp(local).map_err(|_| bad())?;
        Ok(CaptureTime { instant, local })
    }
}

impl fmt::Display for CaptureTime {
    /// RFC 3339 with the photographer's offset.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.instant.display_with_offset(self.offset()))
    }
}

impl TryFrom<String> for CaptureTime {
    type Error = InvalidCaptureTime;

    fn try_from(text: String) -> Result<Self, InvalidCaptureTime> {
        text.parse()
    }
}

impl From<CaptureTime> for String {
    fn from(time: CaptureTime) -> String {
        time.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_time_keeps_the_local_clock() {
        let t: CaptureTime = "2019-07-14T11:31:12+02:00".parse().unwrap();
        assert_eq!(t.instant.to_string(), "2019-07-14T09:31:12Z");
        assert_eq!(t.local.to_string(), "2019-07-14T11:31:12");
        assert_eq!(t.offset(), jiff::tz::offset(2));
        assert_eq!(t.to_string(), "2019-07-14T11:31:12+02:00");
        assert_eq!(t.to_string().parse::<CaptureTime>().unwrap(), t);
        let utc: CaptureTime = "2019-07-14T09:31:12Z".parse().unwrap();
        assert_eq!(utc.instant, t.instant);
        for bad in ["2019-07-14T11:31:12", "yesterday", ""] {
            assert!(bad.parse::<CaptureTime>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_files_own_date_wins_then_googles_then_none() {
        let file: Timestamp = "2019-07-14T09:31:12Z".parse().unwrap();
        let google: Timestamp = "2019-07-14T09:31:00Z".parse().unwrap();
        let madrid = jiff::tz::offset(2);
        let t = CaptureTime::of(Some(file), Some(madrid), Some(google)).unwrap();
        assert_eq!((t.instant, t.offset()), (file, madrid));
        let t = CaptureTime::of(None, None, Some(google)).unwrap();
        assert_eq!((t.instant, t.offset()), (google, Offset::UTC));
        assert_eq!(CaptureTime::of(None, Some(madrid), None), None);
    }
}
