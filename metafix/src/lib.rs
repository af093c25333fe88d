//! metafix: a sans-IO photo and video metadata engine. Bytes in, bytes and a report
//! out — the same code natively and in the browser (wasm32).
//!
//! [`fix`] repairs and completes a file's metadata the way METADATA.md describes:
//! EXIF is **patched, not rebuilt** — every original byte of the TIFF block stays
//! where it is, changed IFDs are appended and the pointers to them repointed, so maker
//! notes with absolute offsets keep working. It removes `Software`, sets `Artist`,
//! `Copyright` and the capture date (with the right UTC offset), repairs broken
//! entries, fixes zeroed movie dates in place, and tells the real format from the
//! bytes. It never fails and never panics: what it cannot do is passed through
//! unchanged and explained in the [`Report`].
//!
//! The output is never copied whole: [`Fixed`] holds the new header bytes and the
//! range of the input that follows them ([`Fixed::assemble`] joins them when a single
//! buffer is wanted). TIFF is the one exception: the whole file is the TIFF block, so
//! the header is the whole new file. A HEIF's header runs to the end of its old Exif
//! bytes (zeroed, so removed tags do not linger): short when the Exif item comes first
//! in `mdat`, as far as the file's end when it comes last.
//!
//! ```
//! use metafix::{fix, read, FixOptions, ItemContext};
//!
//! // A tiny JPEG without EXIF (SOI, an APP0, SOS…EOI).
//! let jpeg = [
//!     0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1,
//!     0, 0, 0xFF, 0xDA, 0x00, 0x02, 0x00, 0xFF, 0xD9,
//! ];
//! let options = FixOptions::default().with_artist("Ada").with_time_zone("Europe/Paris")?;
//! let item = ItemContext::default().with_create_time("2024-07-14T10:00:00Z".parse().unwrap());
//! let fixed = fix(&jpeg, &options, &item);
//! let out = fixed.assemble(&jpeg);
//! assert_eq!(&out[out.len() - 7..], &jpeg[jpeg.len() - 7..]); // scan data untouched
//!
//! let meta = read(&out)?;
//! assert_eq!(meta.artist.as_deref(), Some("Ada"));
//! assert_eq!(meta.date_time_original.as_deref(), Some("2024:07:14 12:00:00"));
//! assert_eq!(meta.offset_time_original.as_deref(), Some("+02:00"));
//! // The saved file's mtime, and the photographer's clock offset at that moment.
//! assert_eq!(fixed.capture_time(), Some("2024-07-14T10:00:00Z".parse().unwrap()));
//! assert_eq!(fixed.capture_offset(), Some(jiff::tz::offset(2)));
//! println!("{}", fixed.report);
//! # Ok::<(), metafix::Error>(())
//! ```
//!
//! What is written: JPEG (APP1), PNG (`eXIf`), WebP (`EXIF` chunk), TIFF (the file is
//! the TIFF block: patched the same way, its image data never moves), HEIC and AVIF
//! (the `Exif` item, in a new `mdat` after `meta`; every other item's bytes unchanged)
//! and the dates of MP4/MOV movie headers.
//!
//! Checks beyond the unit tests:
//! - `cargo test -p metafix`: generated fixtures (one table of cases) and, when
//!   `../shared/corpus` and `../shared/corpus-pending` exist beside the checkout and
//!   `exiftool` is installed, the ExifTool oracle (`exiftool -validate -warning` before
//!   and after every fix) with its coverage table (`-- --nocapture` prints it: which
//!   files ExifTool and metafix each write, and why not).
//! - `cargo bench -p metafix --bench fix`: throughput over the corpus in memory.
//! - `cd metafix/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run fix -s none`: the whole
//!   `fix` call under libFuzzer (never panics, output re-reads, idempotent).
#![deny(missing_docs)]

// The model: what is asked, what is reported, what a file holds.
mod error;
mod fixed;
mod format;
mod metadata;
mod options;
mod report;
// Reading and writing EXIF: the TIFF model, the tag vocabulary, repairs and edits.
mod dates;
mod edit;
mod tags;
mod tiff;
// Containers: where EXIF lives in each format, and what moves with it.
mod afcp;
mod bmff;
mod container;
mod heif;
mod jpeg;
mod png;
mod webp;
// Orchestration: one path per kind of file.
mod image;
pub mod movie;
mod video;

use serde::{Deserialize, Serialize};

pub use error::{Error, ErrorKind};
pub use fixed::Fixed;
pub use format::Format;
pub use jpeg::APP1_PAYLOAD_MAX;
pub use metadata::{Metadata, TagValue};
pub use options::{DatePolicy, FixOptions, ItemContext, time_zone, time_zone_from_tzif};
pub use report::{
    Change, DateSource, NotDone, NotDoneKind, Outcome, Repair, Report, Warning, WarningKind,
};
pub use tiff::{ByteOrder, FieldType};

use report::NotDoneKind as Why;

/// The IFDs of an EXIF block this crate reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Ifd {
    /// The main image's IFD.
    Ifd0,
    /// The thumbnail's IFD (IFD0's next).
    Ifd1,
    /// The Exif sub-IFD (tag 0x8769).
    Exif,
    /// The GPS sub-IFD (tag 0x8825).
    Gps,
    /// The interoperability sub-IFD (tag 0xA005 in the Exif IFD).
    Interop,
}

impl Ifd {
    /// The name ExifTool uses as family-1 group (`IFD0`, `ExifIFD`, `GPS`…).
    pub fn name(self) -> &'static str {
        match self {
            Ifd::Ifd0 => "IFD0",
            Ifd::Ifd1 => "IFD1",
            Ifd::Exif => "ExifIFD",
            Ifd::Gps => "GPS",
            Ifd::Interop => "InteropIFD",
        }
    }
}

impl std::fmt::Display for Ifd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Repairs and completes one file's metadata. Never fails and never panics: a file
/// that cannot be handled comes back unchanged with the reason in the report.
pub fn fix(input: &[u8], options: &FixOptions, item: &ItemContext) -> Fixed {
    let format = Format::detect(input);
    let mut report = Report {
        format: Some(format),
        ..Report::default()
    };
    image::check_name_and_type(format, item, &mut report);
    match format {
        Format::Jpeg | Format::Png | Format::Webp | Format::Tiff | Format::Heic | Format::Avif => {
            image::fix_image(input, format, options, item, report)
        }
        Format::Mp4 | Format::Mov => video::fix_video(input, format, options, item, report),
        Format::Unknown => {
            report.not_done(
                Why::UnknownFormat,
                "fix",
                "the bytes are not a format this tool knows",
            );
            Fixed::unchanged(input, format, report, image::google_capture(item))
        }
    }
}

/// Splits `name` into stem and extension (none for dot-files and names without one).
fn split_extension(name: &str) -> (&str, Option<&str>) {
    match name.rfind('.') {
        Some(i) if i > 0 && i + 1 < name.len() && !name[i + 1..].contains(['/', '\\']) => {
            (&name[..i], Some(&name[i + 1..]))
        }
        _ => (name, None),
    }
}

/// Reads what a file holds. Fails only for unknown formats and unreadable EXIF; a file
/// without EXIF (or with a damaged one) gives empty fields.
pub fn read(input: &[u8]) -> Result<Metadata, Error> {
    metadata::read(input)
}
