//! What [`fix`](crate::fix) did, as data a UI and a terminal can both show.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Format, Ifd};

/// One value that changed: `before` → `after` (`None` = absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// What changed, e.g. `"Artist"`, `"DateTimeOriginal"`, `"mvhd creation time"`,
    /// `"file extension"`.
    pub field: String,
    /// Where: an IFD name (`"IFD0"`, `"ExifIFD"`) or a box/container name.
    pub location: String,
    /// The EXIF tag number, when the change is to a tag.
    pub tag: Option<u16>,
    /// The value before (`None`: there was none).
    pub before: Option<String>,
    /// The value after (`None`: removed).
    pub after: Option<String>,
}

/// A defect found in the file and repaired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repair {
    /// Where: an IFD name (`"IFD0"`, `"ExifIFD"`…) or a container part.
    pub location: String,
    /// The tag concerned, if one.
    pub tag: Option<u16>,
    /// What was wrong and what was done, e.g. `"dropped tag 0x1234: bad type code 99"`.
    pub what: String,
}

impl Repair {
    pub(crate) fn new(ifd: Ifd, tag: Option<u16>, what: String) -> Repair {
        Repair {
            location: ifd.name().to_owned(),
            tag,
            what,
        }
    }
}

/// Something that was asked for or expected but not done, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotDone {
    /// What was not done, e.g. `"write EXIF"`, `"set DateTimeOriginal"`.
    pub what: String,
    /// Why, e.g. `"HEIC is read-only for now"`.
    pub why: String,
}

/// Which source gave the UTC offset used for local capture times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DateSource {
    /// The file's own `OffsetTimeOriginal`.
    FileOffset,
    /// The difference between the file's own local `DateTimeOriginal` and `createTime`,
    /// rounded to 15 minutes.
    FileLocalTime,
    /// The time zone the user chose (IANA name), DST-aware.
    TimeZone(String),
    /// No other source: UTC, written as `+00:00`.
    Utc,
}

impl fmt::Display for DateSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DateSource::FileOffset => f.write_str("the file's own OffsetTimeOriginal"),
            DateSource::FileLocalTime => {
                f.write_str("the file's local DateTimeOriginal compared with createTime")
            }
            DateSource::TimeZone(name) => write!(f, "the chosen time zone {name}"),
            DateSource::Utc => f.write_str("UTC (no other source)"),
        }
    }
}

/// Everything [`fix`](crate::fix) did or could not do to one file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The format found in the bytes (`None` before detection).
    pub format: Option<Format>,
    /// Each value that changed, before → after.
    pub changes: Vec<Change>,
    /// Each defect repaired.
    pub repairs: Vec<Repair>,
    /// Things worth knowing that did not stop the fix (e.g. "MIME type says PNG").
    pub warnings: Vec<String>,
    /// What could not be done, and why.
    pub not_done: Vec<NotDone>,
    /// Known losses that cannot be repaired from the file (e.g. location removed by
    /// Google).
    pub losses: Vec<String>,
    /// Which source gave the UTC offset for dates, when dates were considered.
    pub date_source: Option<DateSource>,
}

impl Report {
    /// Whether nothing changed and nothing was repaired.
    pub fn is_unchanged(&self) -> bool {
        self.changes.is_empty() && self.repairs.is_empty()
    }

    pub(crate) fn change(
        &mut self,
        field: &str,
        location: &str,
        tag: Option<u16>,
        before: Option<String>,
        after: Option<String>,
    ) {
        self.changes.push(Change {
            field: field.to_owned(),
            location: location.to_owned(),
            tag,
            before,
            after,
        });
    }

    pub(crate) fn not_done(&mut self, what: impl Into<String>, why: impl Into<String>) {
        self.not_done.push(NotDone {
            what: what.into(),
            why: why.into(),
        });
    }

    pub(crate) fn warn(&mut self, what: impl Into<String>) {
        self.warnings.push(what.into());
    }
}

/// A terminal rendering: one line per item, grouped, before → after.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |v: &Option<String>| match v {
            Some(s) => format!("{s:?}"),
            None => "(none)".to_owned(),
        };
        if let Some(format) = self.format {
            writeln!(f, "format: {format}")?;
        }
        if self.is_unchanged() {
            writeln!(f, "unchanged")?;
        }
        for c in &self.changes {
            let tag = c.tag.map(|t| format!(" 0x{t:04x}")).unwrap_or_default();
            writeln!(
                f,
                "  change  {}{} [{}]: {} -> {}",
                c.field,
                tag,
                c.location,
                shown(&c.before),
                shown(&c.after)
            )?;
        }
        for r in &self.repairs {
            writeln!(f, "  repair  [{}] {}", r.location, r.what)?;
        }
        if let Some(source) = &self.date_source {
            writeln!(f, "  offset  from {source}")?;
        }
        for w in &self.warnings {
            writeln!(f, "  warning {w}")?;
        }
        for n in &self.not_done {
            writeln!(f, "  not done {}: {}", n.what, n.why)?;
        }
        for l in &self.losses {
            writeln!(f, "  loss    {l}")?;
        }
        Ok(())
    }
}
