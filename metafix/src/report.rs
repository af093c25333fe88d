//! What [`fix`](crate::fix) did, as data a UI and a terminal can both show.
//!
//! Every entry has a kind to match on ([`WarningKind`], [`NotDoneKind`]) and a
//! sentence for people; [`Report::outcome`] (or [`Patch::outcome`](crate::Patch::outcome))
//! sorts a file into changed / already as asked / could not be edited.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Format, Ifd};

/// One value that changed: `before` → `after` (`None` = absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// What changed, e.g. `"Artist"`, `"DateTimeOriginal"`, `"mvhd creation time"`,
    /// `"file extension"`.
    pub field: String,
    /// The IFD of the tag that changed; `None` for what is not in an IFD (the file
    /// name, a movie box, a trailer: `field` names it).
    pub location: Option<Ifd>,
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
    /// The IFD repaired; `None` for the EXIF block or its container as a whole.
    pub location: Option<Ifd>,
    /// The tag concerned, if one.
    pub tag: Option<u16>,
    /// What was wrong and what was done, e.g. `"dropped tag 0x1234: bad type code 99"`.
    pub what: String,
}

impl Repair {
    pub(crate) fn new(ifd: Ifd, tag: Option<u16>, what: String) -> Repair {
        Repair {
            location: Some(ifd),
            tag,
            what,
        }
    }

    /// A repair to the block or container as a whole.
    pub(crate) fn block(what: impl Into<String>) -> Repair {
        Repair {
            location: None,
            tag: None,
            what: what.into(),
        }
    }

    /// Where, for people: the IFD's name, or `EXIF` for the block as a whole.
    pub fn location_name(&self) -> &'static str {
        self.location.map_or("EXIF", Ifd::name)
    }
}

/// What a [`Warning`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum WarningKind {
    /// The MIME type given for the item names another format than the bytes.
    MimeTypeMismatch,
    /// The camera make or model in the file differs from what Google Photos says.
    CameraMismatch,
    /// A known tag has a type the specification does not allow, and converting it
    /// would change its value: left as it is.
    TypeNotConvertible,
    /// The file ends before its structure does.
    Truncated,
    /// More EXIF segments after the first (only the first is read and written).
    ExtraExif,
    /// Bytes between JPEG segments that belong to none, kept as they are.
    StrayBytes,
    /// A JPEG segment states a length past the next marker; it was read up to it.
    SegmentOverrun,
    /// The EXIF block's TIFF header is damaged; a new block replaces it when written.
    DamagedExif,
    /// The IFD1 thumbnail was dropped to make room in the 64 KB APP1 segment.
    ThumbnailDropped,
}

impl WarningKind {
    /// A short lowercase name for the kind, stable for logs and UIs.
    pub fn as_str(self) -> &'static str {
        match self {
            WarningKind::MimeTypeMismatch => "MIME type mismatch",
            WarningKind::CameraMismatch => "camera mismatch",
            WarningKind::TypeNotConvertible => "type not convertible",
            WarningKind::Truncated => "truncated file",
            WarningKind::ExtraExif => "extra EXIF segments",
            WarningKind::StrayBytes => "stray bytes",
            WarningKind::SegmentOverrun => "segment length overrun",
            WarningKind::DamagedExif => "damaged EXIF header",
            WarningKind::ThumbnailDropped => "thumbnail dropped",
        }
    }
}

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something worth knowing that did not stop the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// What it is about, to match on.
    pub kind: WarningKind,
    /// The sentence for people.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Why something asked for or expected was not done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum NotDoneKind {
    /// The bytes are not a format this crate knows.
    UnknownFormat,
    /// The format is read but not written (no format this crate knows is, at present:
    /// HEIC and AVIF are written since their Exif item is patched).
    ReadOnlyFormat,
    /// The container (JPEG segments, PNG chunks, RIFF) cannot be read.
    UnreadableStructure,
    /// The EXIF block cannot be read (and its header is not the problem).
    UnreadableExif,
    /// The new metadata would not fit the container (the 64 KB JPEG APP1 limit).
    TooLarge,
    /// The EXIF block could not be written for another reason.
    WriteFailed,
    /// No capture time is known (no createTime), so no date could be written.
    NoCaptureTime,
    /// No source gives the UTC offset of the file's own capture time.
    NoOffsetSource,
    /// A tag the user named to remove is not known.
    UnknownTag,
    /// A tag the user named to remove locates other data; removing it would lose that.
    ProtectedTag,
    /// A movie has no `moov` box or no dates in it.
    NoMovieDates,
    /// A movie date that cannot be stored (before 1904).
    DateOutOfRange,
}

impl NotDoneKind {
    /// Whether this means the file could not be edited at all: nothing asked for was
    /// written, and the reason is in the file (not in what was asked).
    pub fn blocks_the_file(self) -> bool {
        matches!(
            self,
            NotDoneKind::UnknownFormat
                | NotDoneKind::ReadOnlyFormat
                | NotDoneKind::UnreadableStructure
                | NotDoneKind::UnreadableExif
                | NotDoneKind::TooLarge
                | NotDoneKind::WriteFailed
        )
    }
}

impl NotDoneKind {
    /// A short lowercase name for the kind, stable for logs and UIs.
    pub fn as_str(self) -> &'static str {
        match self {
            NotDoneKind::UnknownFormat => "unknown format",
            NotDoneKind::ReadOnlyFormat => "read-only format",
            NotDoneKind::UnreadableStructure => "unreadable structure",
            NotDoneKind::UnreadableExif => "unreadable EXIF",
            NotDoneKind::TooLarge => "too large",
            NotDoneKind::WriteFailed => "write failed",
            NotDoneKind::NoCaptureTime => "no capture time",
            NotDoneKind::NoOffsetSource => "no UTC offset source",
            NotDoneKind::UnknownTag => "unknown tag",
            NotDoneKind::ProtectedTag => "protected tag",
            NotDoneKind::NoMovieDates => "no movie dates",
            NotDoneKind::DateOutOfRange => "date out of range",
        }
    }
}

impl fmt::Display for NotDoneKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that was asked for or expected but not done, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotDone {
    /// Why, to match on.
    pub kind: NotDoneKind,
    /// What was not done, e.g. `"write EXIF"`, `"set DateTimeOriginal"`.
    pub what: String,
    /// Why, for people, e.g. `"the file has a moov box, whose absolute offsets this tool
    /// does not shift"`.
    pub why: String,
}

impl fmt::Display for NotDone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.why)
    }
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

/// What happened to a file, in the three classes a summary counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Something was changed or repaired.
    Changed,
    /// Nothing needed doing: the file already is as asked.
    AlreadyAsAsked,
    /// The file could not be edited: nothing was written, for this reason.
    CouldNotEdit(NotDone),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Changed => f.write_str("changed"),
            Outcome::AlreadyAsAsked => f.write_str("already as asked"),
            Outcome::CouldNotEdit(why) => write!(f, "could not be edited ({})", why.why),
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
    /// Things worth knowing that did not stop the fix.
    pub warnings: Vec<Warning>,
    /// What could not be done, and why.
    pub not_done: Vec<NotDone>,
    /// Known losses that cannot be repaired from the file (e.g. location removed by
    /// Google).
    pub losses: Vec<String>,
    /// Which source gave the UTC offset for dates, when dates were considered.
    pub date_source: Option<DateSource>,
}

impl Report {
    /// Whether nothing changed and nothing was repaired (which is also true of a file
    /// that could not be edited: see [`outcome`](Self::outcome)).
    pub fn is_unchanged(&self) -> bool {
        self.changes.is_empty() && self.repairs.is_empty()
    }

    /// The first reason the file could not be edited at all, if there is one.
    pub fn could_not_edit(&self) -> Option<&NotDone> {
        self.not_done.iter().find(|n| n.kind.blocks_the_file())
    }

    /// Changed, already as asked, or could not be edited (with the reason). A file
    /// that could not be edited is never "already as asked", even when nothing in it
    /// changed.
    pub fn outcome(&self) -> Outcome {
        if let Some(why) = self.could_not_edit() {
            Outcome::CouldNotEdit(why.clone())
        } else if self.is_unchanged() {
            Outcome::AlreadyAsAsked
        } else {
            Outcome::Changed
        }
    }

    pub(crate) fn change(
        &mut self,
        field: &str,
        location: Option<Ifd>,
        tag: Option<u16>,
        before: Option<String>,
        after: Option<String>,
    ) {
        self.changes.push(Change {
            field: field.to_owned(),
            location,
            tag,
            before,
            after,
        });
    }

    pub(crate) fn not_done(
        &mut self,
        kind: NotDoneKind,
        what: impl Into<String>,
        why: impl Into<String>,
    ) {
        self.not_done.push(NotDone {
            kind,
            what: what.into(),
            why: why.into(),
        });
    }

    pub(crate) fn warn(&mut self, kind: WarningKind, message: impl Into<String>) {
        self.warnings.push(Warning {
            kind,
            message: message.into(),
        });
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
        match self.outcome() {
            Outcome::Changed => {}
            Outcome::AlreadyAsAsked => writeln!(f, "already as asked")?,
            Outcome::CouldNotEdit(why) => writeln!(f, "could not be edited: {}", why.why)?,
        }
        for c in &self.changes {
            let tag = c.tag.map(|t| format!(" 0x{t:04x}")).unwrap_or_default();
            let place = c.location.map_or("file", Ifd::name);
            writeln!(
                f,
                "  change  {}{} [{place}]: {} -> {}",
                c.field,
                tag,
                shown(&c.before),
                shown(&c.after)
            )?;
        }
        for r in &self.repairs {
            writeln!(f, "  repair  [{}] {}", r.location_name(), r.what)?;
        }
        if let Some(source) = &self.date_source {
            writeln!(f, "  offset  from {source}")?;
        }
        for w in &self.warnings {
            writeln!(f, "  warning {w}")?;
        }
        for n in &self.not_done {
            writeln!(f, "  not done {n}")?;
        }
        for l in &self.losses {
            writeln!(f, "  loss    {l}")?;
        }
        Ok(())
    }
}
