//! What the user asks for ([`FixOptions`]) and what the Picker says about an item
//! ([`ItemContext`]).

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::{Error, ErrorKind, tags};

/// What to do with `DateTimeOriginal` (and its `SubSec`/`Offset` companions).
///
/// One vocabulary everywhere: serde, [`FromStr`](std::str::FromStr) and
/// [`Display`](std::fmt::Display) all use the lowercase names `fill`, `overwrite`
/// and `keep` (the CLI's `--dates`, the app's `<select>`, the API's JSON).
///
/// ```
/// use metafix::DatePolicy;
/// assert_eq!("overwrite".parse::<DatePolicy>()?, DatePolicy::Overwrite);
/// assert_eq!(DatePolicy::Keep.to_string(), "keep");
/// # Ok::<(), metafix::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatePolicy {
    /// Write the capture time only where the file has none; fill a missing offset.
    #[default]
    Fill,
    /// Always write the capture time from `createTime`, replacing what the file has.
    Overwrite,
    /// Never touch dates.
    Keep,
}

impl DatePolicy {
    /// Every policy, in the order a UI offers them.
    pub const ALL: [DatePolicy; 3] = [DatePolicy::Fill, DatePolicy::Overwrite, DatePolicy::Keep];

    /// The lowercase name (`fill`, `overwrite`, `keep`).
    pub fn as_str(self) -> &'static str {
        match self {
            DatePolicy::Fill => "fill",
            DatePolicy::Overwrite => "overwrite",
            DatePolicy::Keep => "keep",
        }
    }
}

impl std::fmt::Display for DatePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DatePolicy {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self, Error> {
        DatePolicy::ALL
            .into_iter()
            .find(|policy| policy.as_str() == name)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOption,
                    format!("unknown date policy {name:?} (expected fill, overwrite or keep)"),
                )
            })
    }
}

/// What [`fix`](crate::fix) should do. `Default`: remove Software, fill dates,
/// nothing else.
///
/// ```
/// let options = metafix::FixOptions::default()
///     .with_artist("Ada Lovelace")
///     .with_time_zone("Europe/London")?;
/// assert!(options.remove_software);
/// # Ok::<(), metafix::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FixOptions {
    /// Remove the `Software` tag (default `true`).
    pub remove_software: bool,
    /// Other tags to remove, by name (`"Make"`) or number (`"0x010f"`, `"271"`).
    /// Unknown names are reported as not done; [`FixOptions::with_removed_tag`]
    /// validates them up front.
    pub remove_tags: Vec<String>,
    /// Set `Artist` (`None` or empty: leave as is).
    pub artist: Option<String>,
    /// Set `Copyright` (`None` or empty: leave as is).
    pub copyright: Option<String>,
    /// What to do with capture dates.
    pub dates: DatePolicy,
    /// The time zone the user's photos were taken in, for the UTC offset when the
    /// file gives none (DST-aware).
    pub time_zone: Option<TimeZone>,
}

impl Default for FixOptions {
    fn default() -> Self {
        FixOptions {
            remove_software: true,
            remove_tags: Vec::new(),
            artist: None,
            copyright: None,
            dates: DatePolicy::Fill,
            time_zone: None,
        }
    }
}

impl FixOptions {
    /// Sets `Artist`.
    pub fn with_artist(mut self, artist: impl Into<String>) -> Self {
        self.artist = Some(artist.into());
        self
    }

    /// Sets `Copyright`.
    pub fn with_copyright(mut self, copyright: impl Into<String>) -> Self {
        self.copyright = Some(copyright.into());
        self
    }

    /// Sets the date policy.
    pub fn with_dates(mut self, dates: DatePolicy) -> Self {
        self.dates = dates;
        self
    }

    /// Keeps or removes `Software`.
    pub fn with_remove_software(mut self, remove: bool) -> Self {
        self.remove_software = remove;
        self
    }

    /// Sets the time zone by IANA name (`"Europe/Paris"`), looked up in the
    /// database this build has (the system's; a bundled one on Windows); fails with
    /// [`ErrorKind::InvalidTimeZone`] for a name it does not have.
    pub fn with_time_zone(mut self, iana_name: &str) -> Result<Self, Error> {
        self.time_zone = Some(time_zone(iana_name)?);
        Ok(self)
    }

    /// Sets the time zone from its TZif data (RFC 8536, what `/usr/share/zoneinfo`
    /// holds), for a build with no database of its own (the browser app, which
    /// asks the helper for the one zone it needs).
    pub fn with_time_zone_data(mut self, iana_name: &str, tzif: &[u8]) -> Result<Self, Error> {
        self.time_zone = Some(time_zone_from_tzif(iana_name, tzif)?);
        Ok(self)
    }

    /// Adds a tag to remove, by name or number; fails with
    /// [`ErrorKind::InvalidTagName`] for a name this crate does not know.
    pub fn with_removed_tag(mut self, name: &str) -> Result<Self, Error> {
        if tags::resolve(name).is_none() && tags::spec_alias(name).is_none() {
            return Err(Error::new(
                ErrorKind::InvalidTagName,
                format!("unknown tag {name:?}"),
            ));
        }
        self.remove_tags.push(name.to_owned());
        Ok(self)
    }
}

/// A time zone from its TZif data (RFC 8536) under its IANA name.
pub fn time_zone_from_tzif(iana_name: &str, tzif: &[u8]) -> Result<TimeZone, Error> {
    TimeZone::tzif(iana_name.trim(), tzif).map_err(|err| {
        Error::new(
            ErrorKind::InvalidTimeZone,
            format!("time zone {iana_name:?}: not valid TZif data ({err})"),
        )
    })
}

/// Looks an IANA time zone up in this build's database (see
/// [`FixOptions::with_time_zone`]).
pub fn time_zone(iana_name: &str) -> Result<TimeZone, Error> {
    TimeZone::get(iana_name.trim()).map_err(|_| {
        Error::new(
            ErrorKind::InvalidTimeZone,
            format!("unknown time zone {iana_name:?}"),
        )
    })
}

/// What the Picker (or the user) says about the item. `Default`: nothing known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemContext {
    /// The item's `createTime` (UTC).
    pub create_time: Option<Timestamp>,
    /// The item's file name as Google gives it.
    pub filename: Option<String>,
    /// The item's MIME type as Google gives it.
    pub mime_type: Option<String>,
    /// Camera make from the Picker's `mediaFileMetadata` (checked against the file's
    /// `Make`; a difference is reported as a warning).
    pub camera_make: Option<String>,
    /// Camera model from the Picker's `mediaFileMetadata` (checked like the make).
    pub camera_model: Option<String>,
}

impl ItemContext {
    /// A context with a `createTime`.
    pub fn with_create_time(mut self, create_time: Timestamp) -> Self {
        self.create_time = Some(create_time);
        self
    }

    /// A context with a file name.
    pub fn with_filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = Some(filename.into());
        self
    }

    /// A context with a MIME type.
    pub fn with_mime_type(mut self, mime_type: impl Into<String>) -> Self {
        self.mime_type = Some(mime_type.into());
        self
    }
}
