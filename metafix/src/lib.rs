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
//! buffer is wanted).
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
//! What is written: JPEG (APP1), PNG (`eXIf`), WebP (`EXIF` chunk) and the dates of
//! MP4/MOV movie headers. HEIC, AVIF and TIFF are read (for the report and the
//! capture time) and passed through.
//!
//! Checks beyond the unit tests:
//! - `cargo test -p metafix`: generated fixtures (one table of cases) and, when
//!   `../shared/corpus` exists beside the checkout and `exiftool` is installed, the
//!   ExifTool oracle (`exiftool -validate -warning` before and after every fix).
//! - `cargo bench -p metafix --bench fix`: throughput over the corpus in memory.
//! - `cd metafix/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run fix -s none`: the whole
//!   `fix` call under libFuzzer (never panics, output re-reads, idempotent).
#![deny(missing_docs)]

mod bmff;
mod dates;
mod edit;
mod error;
mod format;
mod jpeg;
mod options;
mod png;
mod report;
mod tags;
mod tiff;
mod webp;

use std::ops::Range;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use error::{Error, ErrorKind};
pub use format::Format;
pub use jpeg::APP1_PAYLOAD_MAX;
pub use options::{DatePolicy, FixOptions, ItemContext, time_zone};
pub use report::{Change, DateSource, NotDone, Repair, Report};
pub use tiff::ByteOrder;

use dates::Capture;
use edit::ImageInfo;
use tiff::Exif;

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

/// The result of [`fix`]: the output is `header` followed by `input[tail]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixed {
    /// New bytes that start the output (empty when nothing changed).
    pub header: Vec<u8>,
    /// The range of the input that follows `header` in the output.
    pub tail: Range<usize>,
    /// The format found in the bytes.
    pub format: Format,
    /// What was done, repaired, not done, and lost.
    pub report: Report,
    capture: Option<Capture>,
    input_len: usize,
}

impl Fixed {
    fn unchanged(input: &[u8], format: Format, report: Report, capture: Option<Capture>) -> Fixed {
        Fixed {
            header: Vec::new(),
            tail: 0..input.len(),
            format,
            report,
            capture,
            input_len: input.len(),
        }
    }

    /// The whole output file: `header` + `input[tail]`. `input` must be the bytes given
    /// to [`fix`].
    pub fn assemble(&self, input: &[u8]) -> Vec<u8> {
        let tail = input.get(self.tail.clone()).unwrap_or(&[]);
        let mut out = Vec::with_capacity(self.header.len() + tail.len());
        out.extend_from_slice(&self.header);
        out.extend_from_slice(tail);
        out
    }

    /// The file extension for the bytes (`"jpg"`, `"png"`, `"webp"`, `"heic"`, `"avif"`,
    /// `"tif"`, `"mp4"`, `"mov"`; `""` when the format is unknown).
    pub fn extension(&self) -> &'static str {
        self.format.extension()
    }

    /// `original` with its extension corrected for the bytes (`IMG_1.HEIC` holding a
    /// JPEG → `IMG_1.jpg`); unchanged when the extension already names the format or
    /// the format is unknown.
    pub fn file_name(&self, original: &str) -> String {
        if self.format == Format::Unknown {
            return original.to_owned();
        }
        let (stem, ext) = split_extension(original);
        if ext.and_then(Format::from_extension) == Some(self.format) {
            return original.to_owned();
        }
        format!("{stem}.{}", self.format.extension())
    }

    /// The capture time the saved file should get as its modification time: what the
    /// output file states (date and offset), else the item's `createTime`.
    pub fn capture_time(&self) -> Option<Timestamp> {
        self.capture.map(|c| c.instant)
    }

    /// The UTC offset of the photographer's clock at [`capture_time`](Self::capture_time),
    /// when the file states one (or the dates were written with one). `None` when
    /// only Google's UTC `createTime` is known.
    pub fn capture_offset(&self) -> Option<jiff::tz::Offset> {
        self.capture.and_then(|c| c.offset)
    }

    /// Whether the output bytes differ from the input.
    pub fn changed(&self) -> bool {
        !(self.header.is_empty() && self.tail == (0..self.input_len))
    }

    /// The length of the output file.
    pub fn output_len(&self) -> usize {
        self.header.len() + self.tail.len()
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

/// Repairs and completes one file's metadata. Never fails and never panics: a file
/// that cannot be handled comes back unchanged with the reason in the report.
pub fn fix(input: &[u8], options: &FixOptions, item: &ItemContext) -> Fixed {
    let format = Format::detect(input);
    let mut report = Report {
        format: Some(format),
        ..Report::default()
    };
    check_name_and_type(format, item, &mut report);
    match format {
        Format::Jpeg | Format::Png | Format::Webp => {
            fix_image(input, format, options, item, report)
        }
        Format::Mp4 | Format::Mov => fix_video(input, format, options, item, report),
        Format::Heic | Format::Avif | Format::Tiff => {
            report.not_done(
                "write metadata",
                format!(
                    "{} files are read-only for now: passed through unchanged",
                    format.name()
                ),
            );
            let exif = read_exif_block(input, format).and_then(|block| Exif::parse(block).ok());
            let capture = exif
                .as_ref()
                .and_then(|exif| file_capture(exif, item, options))
                .or(google_capture(item));
            let has_gps = exif.as_ref().is_some_and(|e| e.dir(Ifd::Gps).is_some());
            note_losses(format, has_gps, item, &mut report);
            Fixed::unchanged(input, format, report, capture)
        }
        Format::Unknown => {
            report.not_done("fix", "the bytes are not a format this tool knows");
            Fixed::unchanged(input, format, report, google_capture(item))
        }
    }
}

fn check_name_and_type(format: Format, item: &ItemContext, report: &mut Report) {
    if format == Format::Unknown {
        return;
    }
    if let Some(name) = &item.filename {
        let ext = split_extension(name).1;
        if ext.and_then(Format::from_extension) != Some(format) {
            report.change(
                "file extension",
                "file name",
                None,
                ext.map(str::to_owned),
                Some(format.extension().to_owned()),
            );
        }
    }
    if let Some(mime) = &item.mime_type
        && let Some(said) = Format::from_mime_type(mime)
        && said != format
    {
        report.warn(format!(
            "the MIME type says {mime} but the bytes are {}",
            format.name()
        ));
    }
}

fn note_losses(format: Format, has_gps: bool, item: &ItemContext, report: &mut Report) {
    // Only for items from Google Photos (they have a createTime) that can hold GPS.
    if item.create_time.is_none() || format.is_video() || format == Format::Unknown {
        return;
    }
    if !has_gps {
        report.losses.push(
            "no location (GPS) in the file: Google Photos removes it from downloads, \
             and it cannot be restored from the file"
                .to_owned(),
        );
    }
}

/// Reports a file whose camera differs from what the Picker says: a sign the bytes are
/// not the item's (or were re-encoded by an editor).
fn cross_check_camera(exif: &Exif, item: &ItemContext, report: &mut Report) {
    for (tag, said, what) in [
        (0x010f, &item.camera_make, "make"),
        (0x0110, &item.camera_model, "model"),
    ] {
        let (Some(said), Some(file)) = (said, exif.text(Ifd::Ifd0, tag)) else {
            continue;
        };
        if !said.trim().eq_ignore_ascii_case(file.trim()) {
            report.warn(format!(
                "the camera {what} in the file ({:?}) differs from Google Photos' ({said:?})",
                file.trim()
            ));
        }
    }
}

/// The capture instant Google states (`createTime`, UTC; the local offset unknown).
fn google_capture(item: &ItemContext) -> Option<Capture> {
    item.create_time.map(Capture::instant)
}

/// The capture instant an EXIF block states (for files not written).
fn file_capture(exif: &Exif, item: &ItemContext, options: &FixOptions) -> Option<Capture> {
    let raw = exif.text(Ifd::Exif, edit::DATE_TIME_ORIGINAL);
    let offset_raw = exif.text(Ifd::Exif, edit::OFFSET_TIME_ORIGINAL);
    let file = dates::FileDates {
        local: raw.as_deref().and_then(dates::parse_exif_datetime),
        raw,
        offset: offset_raw.as_deref().and_then(dates::parse_offset),
        offset_raw,
        subsec_raw: None,
    };
    dates::plan(
        &file,
        item.create_time,
        DatePolicy::Keep,
        options.time_zone.as_ref(),
    )
    .capture
}

/// Where a container keeps its EXIF and how a new one is put in.
enum Container {
    Jpeg(jpeg::Layout),
    Png(png::Layout),
    Webp(webp::Layout),
}

const EXIF_PREFIX: &[u8] = b"Exif\0\0";

fn fix_image(
    input: &[u8],
    format: Format,
    options: &FixOptions,
    item: &ItemContext,
    mut report: Report,
) -> Fixed {
    let scanned = match format {
        Format::Jpeg => jpeg::scan(input).map(Container::Jpeg),
        Format::Png => png::scan(input).map(Container::Png),
        _ => webp::scan(input).map(Container::Webp),
    };
    let container = match scanned {
        Ok(c) => c,
        Err(e) => {
            report.not_done(
                "fix",
                format!("the {} structure cannot be read: {e}", format.name()),
            );
            return Fixed::unchanged(input, format, report, google_capture(item));
        }
    };
    let (payload, info, truncated) = match &container {
        Container::Jpeg(l) => (l.exif_tiff.clone(), l.info.clone(), l.truncated),
        Container::Png(l) => (l.exif_data.clone(), ImageInfo::default(), l.truncated),
        Container::Webp(l) => (l.exif_data.clone(), ImageInfo::default(), l.truncated),
    };
    if truncated {
        report.warn(format!("the {} file is truncated", format.name()));
    }
    if let Container::Jpeg(l) = &container {
        note_jpeg_layout(l, &mut report);
    }
    let mut block = payload.as_ref().and_then(|r| input.get(r.clone()));
    let mut prefix_removed = false;
    if format != Format::Jpeg
        && let Some(b) = block
        && b.starts_with(EXIF_PREFIX)
    {
        block = b.get(EXIF_PREFIX.len()..);
        prefix_removed = true;
    }
    let parsed = match block {
        Some(b) => Exif::parse(b.to_vec()),
        None => Ok(Exif::create()),
    };
    // A block whose TIFF header is damaged holds nothing a reader can reach: write a
    // fresh one in its place (as ExifTool does), keeping every other segment.
    let mut replaced_damaged = None;
    let parsed = match (parsed, block) {
        (Err(e), Some(b)) if !tiff::header_ok(b) => {
            replaced_damaged = Some(e);
            Ok(Exif::create())
        }
        (parsed, _) => parsed,
    };
    let mut exif = match parsed {
        Ok(exif) => exif,
        Err(e) => {
            report.not_done(
                "fix EXIF",
                format!("the EXIF block cannot be read ({e}); left as it is"),
            );
            return Fixed::unchanged(input, format, report, google_capture(item));
        }
    };
    let mut work = report.clone();
    if prefix_removed {
        work.repairs.push(Repair {
            location: "EXIF".to_owned(),
            tag: None,
            what: "removed the improper \"Exif\\0\\0\" prefix from the EXIF chunk".to_owned(),
        });
    }
    if let Some(e) = &replaced_damaged {
        work.warn(format!(
            "the EXIF block's TIFF header is damaged ({e}): a new EXIF block replaces it"
        ));
    }
    cross_check_camera(&exif, item, &mut work);
    edit::repair(&mut exif, format, &info, &mut work);
    let capture =
        edit::apply(&mut exif, options, item, format, &info, &mut work).or(google_capture(item));
    note_losses(format, exif.dir(Ifd::Gps).is_some(), item, &mut work);
    let tiff_changed =
        exif.is_dirty() && !(exif.created && work.changes.iter().all(|c| c.tag.is_none()));
    if replaced_damaged.is_some() && tiff_changed {
        work.repairs.push(Repair {
            location: "EXIF".to_owned(),
            tag: None,
            what: "replaced the EXIF block, whose TIFF header was damaged, with a new one"
                .to_owned(),
        });
    }
    if !tiff_changed && !prefix_removed {
        return Fixed::unchanged(input, format, work, capture);
    }
    let written = exif
        .write()
        .and_then(|tiff| place(input, &container, &tiff));
    match written {
        Ok((header, tail)) => {
            let (header, tail) = shift_afcp(input, header, tail, &mut work);
            Fixed {
                header,
                tail,
                format,
                report: work,
                capture,
                input_len: input.len(),
            }
        }
        Err(e) => {
            // Nothing was written: report only what was found, not the changes.
            report.not_done("write EXIF", e.message().to_owned());
            report.date_source = None;
            Fixed::unchanged(input, format, report, capture)
        }
    }
}

/// Tells what the tolerant JPEG walk stepped over: all of it is kept byte for byte.
fn note_jpeg_layout(l: &jpeg::Layout, report: &mut Report) {
    if l.extra_exif > 0 {
        report.warn(format!(
            "{} more EXIF segment(s) after the first were left as they are",
            l.extra_exif
        ));
    }
    for s in &l.stray {
        report.warn(format!(
            "{} stray byte(s) at byte {} after the JPEG {} segment, kept as they are",
            s.len,
            s.at,
            jpeg::marker_name(s.after)
        ));
    }
    for o in &l.overruns {
        report.warn(format!(
            "the JPEG {} segment at byte {} states {} bytes but the next marker is at byte {}",
            jpeg::marker_name(o.marker),
            o.at,
            o.stated,
            o.cut_at
        ));
    }
}

/// An AFCP trailer (`AXS!`/`AXS*` in the last 12 bytes, written by some photo
/// agencies' tools) holds absolute file offsets: when the header changes size they
/// must move with the data, as ExifTool does. Such files are rare; the output is then
/// assembled whole.
fn shift_afcp(
    input: &[u8],
    header: Vec<u8>,
    tail: Range<usize>,
    report: &mut Report,
) -> (Vec<u8>, Range<usize>) {
    let n = input.len();
    let Some(trailer) = n.checked_sub(12).and_then(|s| input.get(s..)) else {
        return (header, tail);
    };
    let order = match trailer.get(0..4) {
        Some(b"AXS!") => ByteOrder::BigEndian,
        Some(b"AXS*") => ByteOrder::LittleEndian,
        _ => return (header, tail),
    };
    let Some(start) = order.u32(trailer, 4).and_then(|s| usize::try_from(s).ok()) else {
        return (header, tail);
    };
    let delta = header.len() as i64 - tail.start as i64;
    let valid = input.get(start..start.saturating_add(4)) == trailer.get(0..4);
    if delta == 0 || !valid || start < tail.start {
        return (header, tail);
    }
    let mut out = header;
    out.extend_from_slice(input.get(tail.clone()).unwrap_or(&[]));
    let Some(new_start) = usize::try_from(start as i64 + delta).ok() else {
        return (out, n..n);
    };
    let entries = order.u16(&out, new_start + 6).map_or(0, usize::from);
    for i in 0..entries {
        let at = new_start + 12 + 12 * i + 8;
        if let Some(old) = order.u32(&out, at)
            && usize::try_from(old).is_ok_and(|o| o >= tail.start)
            && let Ok(new) = u32::try_from(i64::from(old) + delta)
            && let Some(field) = out.get_mut(at..at + 4)
        {
            field.copy_from_slice(&order.put_u32(new));
        }
    }
    let end = out.len();
    if let (Ok(new), Some(field)) = (u32::try_from(new_start), out.get_mut(end - 8..end - 4)) {
        field.copy_from_slice(&order.put_u32(new));
    }
    report.change(
        "AFCP trailer offsets",
        "AFCP",
        None,
        Some(format!("start {start}")),
        Some(format!("start {new_start}")),
    );
    (out, n..n)
}

/// Puts a TIFF block into the container: the new header bytes and the input range after.
fn place(
    input: &[u8],
    container: &Container,
    tiff: &[u8],
) -> Result<(Vec<u8>, Range<usize>), Error> {
    // Sized for the new EXIF too, so the header is built with a single allocation.
    let head = |end: usize| {
        let prefix = input.get(..end).unwrap_or(input);
        let mut v = Vec::with_capacity(prefix.len() + tiff.len() + 64);
        v.extend_from_slice(prefix);
        v
    };
    match container {
        Container::Jpeg(l) => {
            let (start, rest) = match &l.exif_segment {
                Some(r) => (r.start, r.end),
                None => (l.insert_at, l.insert_at),
            };
            let mut header = head(start);
            jpeg::push_app1(&mut header, tiff)?;
            Ok((header, rest..input.len()))
        }
        Container::Png(l) => {
            let chunk = png::chunk(b"eXIf", tiff)?;
            let (start, rest) = match &l.exif_chunk {
                Some(r) => (r.start, r.end),
                None => (l.insert_at, l.insert_at),
            };
            let mut header = head(start);
            header.extend_from_slice(&chunk);
            Ok((header, rest..input.len()))
        }
        Container::Webp(l) => {
            let chunk = webp::chunk(b"EXIF", tiff)?;
            let (mut header, rest, delta) = match (&l.exif_chunk, l.vp8x_data) {
                (Some(r), _) => {
                    let old = (r.end - r.start) as i64;
                    (head(r.start), r.end, chunk.len() as i64 - old)
                }
                (None, Some(_)) => {
                    let at = l.xmp_at.unwrap_or(l.end);
                    let mut header = head(at);
                    let pad = l.xmp_at.is_none() && l.missing_pad;
                    if pad {
                        header.push(0);
                    }
                    (header, at, (chunk.len() + usize::from(pad)) as i64)
                }
                (None, None) => {
                    let Some((w, h, alpha)) = l.canvas else {
                        return Err(Error::new(
                            ErrorKind::Unsupported,
                            "a simple WebP without a readable frame header cannot gain EXIF",
                        ));
                    };
                    let vp8x = webp::vp8x(w, h, alpha)
                        .ok_or_else(|| Error::malformed("impossible WebP canvas size"))?;
                    let mut header = head(12);
                    header.extend_from_slice(&vp8x);
                    header.extend_from_slice(input.get(12..l.end).unwrap_or(&[]));
                    if l.missing_pad {
                        header.push(0);
                    }
                    let added = vp8x.len() + chunk.len() + usize::from(l.missing_pad);
                    (header, l.end, added as i64)
                }
            };
            if let Some(at) = l.vp8x_data {
                webp::set_exif_flag(&mut header, at);
            }
            webp::adjust_riff_size(&mut header, delta);
            header.extend_from_slice(&chunk);
            Ok((header, rest..input.len()))
        }
    }
}

fn fix_video(
    input: &[u8],
    format: Format,
    options: &FixOptions,
    item: &ItemContext,
    mut report: Report,
) -> Fixed {
    let Some((dates, moov_end)) = bmff::movie_dates(input) else {
        report.not_done("set movie dates", "no moov box found");
        return Fixed::unchanged(input, format, report, google_capture(item));
    };
    if dates.is_empty() {
        report.not_done(
            "set movie dates",
            "the moov box has no mvhd/tkhd/mdhd dates",
        );
    }
    let file_time = dates
        .iter()
        .find(|d| d.kind == "mvhd")
        .and_then(|d| bmff::movie_time(d.creation));
    let Some(create) = item.create_time else {
        if dates.iter().any(|d| d.creation == 0) {
            report.not_done("set movie dates", "no createTime is known for this item");
        }
        return Fixed::unchanged(input, format, report, file_time.map(Capture::instant));
    };
    let mut header = input.get(..moov_end).unwrap_or(input).to_vec();
    let changed = bmff::fix_movie_dates(&mut header, &dates, create, options.dates, &mut report);
    // Movie times are UTC and carry no offset.
    let capture = if changed && (file_time.is_none() || options.dates == DatePolicy::Overwrite) {
        Some(Capture::instant(create))
    } else {
        Some(Capture::instant(file_time.unwrap_or(create)))
    };
    if !changed {
        return Fixed::unchanged(input, format, report, capture);
    }
    let tail = header.len()..input.len();
    Fixed {
        header,
        tail,
        format,
        report,
        capture,
        input_len: input.len(),
    }
}

/// The raw TIFF block of any supported image (prefix stripped), if it has one.
fn read_exif_block(input: &[u8], format: Format) -> Option<Vec<u8>> {
    let strip = |b: &[u8]| b.strip_prefix(EXIF_PREFIX).unwrap_or(b).to_vec();
    match format {
        Format::Jpeg => {
            let l = jpeg::scan(input).ok()?;
            input.get(l.exif_tiff?).map(<[u8]>::to_vec)
        }
        Format::Png => input.get(png::scan(input).ok()?.exif_data?).map(strip),
        Format::Webp => input.get(webp::scan(input).ok()?.exif_data?).map(strip),
        Format::Heic | Format::Avif => bmff::heif_exif(input),
        Format::Tiff => Some(input.to_vec()),
        _ => None,
    }
}

/// One tag as [`read`] found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagValue {
    /// The IFD it is in.
    pub ifd: Ifd,
    /// Its number.
    pub tag: u16,
    /// Its name, when known.
    pub name: Option<String>,
    /// Its type as ExifTool names it (`string`, `int16u`, `undef`…).
    pub type_name: String,
    /// Its count of values.
    pub count: u32,
    /// Its value for people (long values shortened).
    pub value: String,
}

/// What a file holds, for tests and the UI's "before" view.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The format found in the bytes.
    pub format: Option<Format>,
    /// The EXIF byte order, if there is EXIF.
    pub byte_order: Option<ByteOrder>,
    /// The size of the EXIF TIFF block in bytes.
    pub exif_len: Option<usize>,
    /// IFD0 `Artist`.
    pub artist: Option<String>,
    /// IFD0 `Copyright`.
    pub copyright: Option<String>,
    /// IFD0 `Software`.
    pub software: Option<String>,
    /// IFD0 `Make`.
    pub make: Option<String>,
    /// IFD0 `Model`.
    pub model: Option<String>,
    /// Exif `DateTimeOriginal`.
    pub date_time_original: Option<String>,
    /// Exif `SubSecTimeOriginal`.
    pub sub_sec_time_original: Option<String>,
    /// Exif `OffsetTimeOriginal`.
    pub offset_time_original: Option<String>,
    /// Exif `ExifVersion` (e.g. `0232`).
    pub exif_version: Option<String>,
    /// Whether there is a GPS IFD.
    pub gps: bool,
    /// The size of the MakerNote, if there is one.
    pub maker_note_len: Option<usize>,
    /// Every tag of IFD0, IFD1, Exif, GPS and Interop, in IFD then tag order.
    pub tags: Vec<TagValue>,
    /// The movie's `mvhd` creation time, for MP4/MOV.
    pub movie_created: Option<Timestamp>,
    /// Problems the reader found (what [`fix`] would repair).
    pub problems: Vec<String>,
}

/// Reads what a file holds. Fails only for unknown formats and unreadable EXIF; a file
/// without EXIF gives empty fields.
pub fn read(input: &[u8]) -> Result<Metadata, Error> {
    let format = Format::detect(input);
    let mut meta = Metadata {
        format: Some(format),
        ..Metadata::default()
    };
    match format {
        Format::Unknown => {
            return Err(Error::new(
                ErrorKind::UnknownFormat,
                "the bytes are not a known format",
            ));
        }
        Format::Mp4 | Format::Mov => {
            meta.movie_created = bmff::movie_dates(input)
                .and_then(|(d, _)| d.into_iter().find(|d| d.kind == "mvhd"))
                .and_then(|d| bmff::movie_time(d.creation));
            return Ok(meta);
        }
        _ => {}
    }
    let Some(block) = read_exif_block(input, format) else {
        return Ok(meta);
    };
    let block_len = block.len();
    if !tiff::header_ok(&block) {
        // Nothing in the block is reachable; `fix` replaces it.
        meta.problems
            .push("EXIF: the TIFF header is damaged (bad byte order or magic number)".to_owned());
        return Ok(meta);
    }
    let exif = Exif::parse(block)?;
    meta.byte_order = Some(exif.order);
    meta.exif_len = Some(block_len);
    let text = |ifd, tag| exif.text(ifd, tag).map(|s| s.trim_end().to_owned());
    meta.artist = text(Ifd::Ifd0, edit::ARTIST);
    meta.copyright = text(Ifd::Ifd0, edit::COPYRIGHT);
    meta.software = text(Ifd::Ifd0, edit::SOFTWARE);
    meta.make = text(Ifd::Ifd0, 0x010f);
    meta.model = text(Ifd::Ifd0, 0x0110);
    meta.date_time_original = text(Ifd::Exif, edit::DATE_TIME_ORIGINAL);
    meta.sub_sec_time_original = text(Ifd::Exif, edit::SUB_SEC_TIME_ORIGINAL);
    meta.offset_time_original = text(Ifd::Exif, edit::OFFSET_TIME_ORIGINAL);
    meta.exif_version = exif
        .dir(Ifd::Exif)
        .and_then(|d| d.get(edit::EXIF_VERSION))
        .and_then(|e| exif.value_bytes(e))
        .map(tiff::bytes_to_text);
    meta.gps = exif.dir(Ifd::Gps).is_some();
    meta.maker_note_len = exif
        .dir(Ifd::Exif)
        .and_then(|d| d.get(0x927c))
        .and_then(|e| e.byte_len());
    for ifd in [Ifd::Ifd0, Ifd::Exif, Ifd::Interop, Ifd::Gps, Ifd::Ifd1] {
        let Some(dir) = exif.dir(ifd) else { continue };
        let mut entries: Vec<&tiff::Entry> = dir.entries.iter().collect();
        entries.sort_by_key(|e| e.tag);
        for e in entries {
            let value = match &e.value {
                tiff::Value::Child(c) => format!("({} IFD)", c.name()),
                _ => exif
                    .value_bytes(e)
                    .map(|b| tiff::display(exif.order, e.typ, b))
                    .unwrap_or_default(),
            };
            meta.tags.push(TagValue {
                ifd,
                tag: e.tag,
                name: tags::name(ifd, e.tag).map(str::to_owned),
                type_name: tiff::type_name(e.typ).to_owned(),
                count: e.count,
                value,
            });
        }
    }
    meta.problems = exif
        .repairs
        .iter()
        .map(|r| format!("{}: {}", r.location, r.what))
        .collect();
    Ok(meta)
}
