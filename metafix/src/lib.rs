//! metafix: a sans-IO photo and video metadata engine. Ranges of a file in, a patch
//! and a report out — the same code natively and in the browser (wasm32).
//!
//! A [`Planner`] plans the fix of a file of a known length from the byte ranges it
//! asks for (a typical phone JPEG: one read of 128 KiB and the last 12 bytes), and
//! ends with a [`Patch`]: the output as [`Piece`]s — ranges of the original, or new
//! bytes — with the detected format, the corrected file name, the capture time and a
//! [`Report`] of every change, repair, warning and loss. Whoever holds the bytes
//! applies it (the helper, copying from its download to the final file), so no layer
//! ever holds or copies a whole file. [`fix`] is the whole-buffer convenience: the
//! same plan, fed everything at once.
//!
//! The fix is the one METADATA.md describes: EXIF is **patched, not rebuilt** —
//! every original byte of the TIFF block stays where it is, changed IFDs are appended
//! and the pointers to them repointed, so maker notes with absolute offsets keep
//! working. It removes `Software`, sets `Artist`, `Copyright` and the capture date
//! (with the right UTC offset), repairs broken entries, fixes zeroed movie dates in
//! place, and tells the real format from the bytes. It never fails and never
//! panics: what it cannot do is passed through unchanged and explained in the
//! [`Report`].
//!
//! ```
//! use metafix::{fix, read, FixOptions, ItemContext, Piece};
//!
//! // A tiny JPEG without EXIF (SOI, an APP0, SOS…EOI).
//! let jpeg = [
//!     0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1,
//!     0, 0, 0xFF, 0xDA, 0x00, 0x02, 0x00, 0xFF, 0xD9,
//! ];
//! let options = FixOptions::default().with_artist("Ada").with_time_zone("Europe/Paris")?;
//! let item = ItemContext::default().with_create_time("2024-07-14T10:00:00Z".parse().unwrap());
//! let patch = fix(&jpeg, &options, &item);
//! // SOI and APP0 copied, a new EXIF segment, the rest copied.
//! assert!(matches!(patch.pieces(), [Piece::Copy(a), Piece::Bytes(_), Piece::Copy(b)]
//!     if *a == (0..20) && *b == (20..27)));
//! let out = patch.assemble(&jpeg);
//!
//! let meta = read(&out)?;
//! assert_eq!(meta.artist.as_deref(), Some("Ada"));
//! assert_eq!(meta.date_time_original.as_deref(), Some("2024:07:14 12:00:00"));
//! assert_eq!(meta.offset_time_original.as_deref(), Some("+02:00"));
//! // The saved file's mtime, and the photographer's clock offset at that moment.
//! assert_eq!(patch.capture_time(), Some("2024-07-14T10:00:00Z".parse().unwrap()));
//! assert_eq!(patch.capture_offset(), Some(jiff::tz::offset(2)));
//! println!("{}", patch.report);
//! # Ok::<(), metafix::Error>(())
//! ```
//!
//! What is written: JPEG (APP1), PNG (`eXIf`), WebP (`EXIF` chunk), TIFF (the file is
//! the TIFF block: patched the same way, its image data never moves), HEIC and AVIF
//! (the `Exif` item, in a new `mdat` after `meta`; every other item's bytes unchanged)
//! and the dates of MP4/MOV movie headers.
//!
//! Checks beyond the unit tests:
//! - `cargo test -p metafix`: generated fixtures (one table of cases, each also
//!   planned from ranges and compared with the whole-buffer fix) and, when
//!   `../shared/corpus` and `../shared/corpus-pending` exist beside the checkout and
//!   `exiftool` is installed, the ExifTool oracle (`exiftool -validate -warning` before
//!   and after every fix) with its coverage table (`-- --nocapture` prints it: which
//!   files ExifTool and metafix each write, and why not).
//! - `cargo bench -p metafix --bench fix`: throughput over the corpus in memory.
//! - `cd metafix/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run fix -s none`: the whole
//!   `fix` call under libFuzzer (never panics, output re-reads, idempotent, and the
//!   plan from ranges equals the whole-buffer fix).
#![deny(missing_docs)]

// The model: what is asked, what is reported, what a file holds.
mod error;
mod format;
mod metadata;
mod options;
mod patch;
mod report;
mod source;
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
// Orchestration: one path per kind of file, and the plan over them.
mod image;
mod movie;
mod plan;
mod video;

use serde::{Deserialize, Serialize};

pub use error::{Error, ErrorKind};
pub use format::Format;
pub use jpeg::APP1_PAYLOAD_MAX;
pub use metadata::{Metadata, TagValue};
pub use options::{DatePolicy, FixOptions, ItemContext, time_zone, time_zone_from_tzif};
pub use patch::{Patch, Piece};
pub use plan::{Planner, Step, plan_with};
pub use report::{
    Change, DateSource, NotDone, NotDoneKind, Outcome, Repair, Report, Warning, WarningKind,
};
pub use tiff::{ByteOrder, FieldType};

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

/// Repairs and completes one file's metadata, the whole file in memory: the same
/// plan a [`Planner`] makes from ranges. Never fails and never panics: a file that
/// cannot be handled comes back unchanged with the reason in the report.
pub fn fix(input: &[u8], options: &FixOptions, item: &ItemContext) -> Patch {
    plan::fix_whole(input, options, item)
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
