//! Fixing a still image (JPEG, PNG, WebP): find the EXIF in its container, repair and
//! edit it, and put it back; and what is read from images that are not written.

use crate::ErrorKind;
use crate::container::{self, Container, EXIF_PREFIX};
use crate::dates::Capture;
use crate::edit::{self, ImageInfo};
use crate::patch::Patch;
use crate::report::{NotDoneKind, Repair, Report, WarningKind};
use crate::source::Source;
use crate::tags::id;
use crate::tiff::{self, Exif};
use crate::{FixOptions, Format, Ifd, ItemContext, afcp, bmff, heif, jpeg, png, webp};

pub(crate) fn check_name_and_type(format: Format, item: &ItemContext, report: &mut Report) {
    if format == Format::Unknown {
        return;
    }
    if let Some(name) = &item.filename {
        let ext = crate::split_extension(name).1;
        if ext.and_then(Format::from_extension) != Some(format) {
            report.change(
                "file extension",
                None,
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
        report.warn(
            WarningKind::MimeTypeMismatch,
            format!(
                "the MIME type says {mime} but the bytes are {}",
                format.name()
            ),
        );
    }
}

pub(crate) fn note_losses(format: Format, has_gps: bool, item: &ItemContext, report: &mut Report) {
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
        (id::MAKE, &item.camera_make, "make"),
        (id::MODEL, &item.camera_model, "model"),
    ] {
        let (Some(said), Some(file)) = (said, exif.text(Ifd::Ifd0, tag)) else {
            continue;
        };
        if !said.trim().eq_ignore_ascii_case(file.trim()) {
            report.warn(
                WarningKind::CameraMismatch,
                format!(
                    "the camera {what} in the file ({:?}) differs from Google Photos' ({said:?})",
                    file.trim()
                ),
            );
        }
    }
}

/// The capture instant Google states (`createTime`, UTC; the local offset unknown).
pub(crate) fn google_capture(item: &ItemContext) -> Option<Capture> {
    item.create_time.map(Capture::instant)
}

/// Fixes a still image, reading it through `input` (see [`Source`]).
pub(crate) fn fix_image(
    input: &Source<'_>,
    format: Format,
    options: &FixOptions,
    item: &ItemContext,
    mut report: Report,
) -> Patch {
    let len = input.len() as u64;
    let scanned = match format {
        Format::Jpeg => jpeg::scan(input).map(Container::Jpeg),
        Format::Png => png::scan(input).map(Container::Png),
        Format::Tiff => Ok(Container::Tiff),
        Format::Heic | Format::Avif => heif::scan(input).map(Container::Heif),
        _ => webp::scan(input).map(Container::Webp),
    };
    let container = match scanned {
        Ok(c) => c,
        Err(e) => {
            report.not_done(
                NotDoneKind::UnreadableStructure,
                "fix",
                format!("the {} structure cannot be read: {e}", format.name()),
            );
            return Patch::unchanged(len, format, report, google_capture(item));
        }
    };
    let (payload, info, truncated) = match &container {
        Container::Jpeg(l) => (l.exif_tiff.clone(), l.info.clone(), l.truncated),
        Container::Png(l) => (l.exif_data.clone(), ImageInfo::default(), l.truncated),
        Container::Webp(l) => (l.exif_data.clone(), ImageInfo::default(), l.truncated),
        Container::Tiff => (Some(0..input.len()), ImageInfo::default(), false),
        Container::Heif(_) => (None, ImageInfo::default(), false),
    };
    if truncated {
        report.warn(
            WarningKind::Truncated,
            format!("the {} file is truncated", format.name()),
        );
    }
    if let Container::Jpeg(l) = &container {
        note_jpeg_layout(l, &mut report);
    }
    let mut block = match &container {
        // The Exif item may be in pieces (extents, idat): read whole by the walk.
        Container::Heif(l) => l.exif_block.as_deref(),
        _ => payload.as_ref().and_then(|r| input.get(r.clone())),
    };
    if let Container::Heif(l) = &container
        && l.exif_id.is_some()
        && block.is_none()
    {
        report.warn(
            WarningKind::DamagedExif,
            "the Exif item holds no readable TIFF block: a new EXIF block replaces it",
        );
    }
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
                NotDoneKind::UnreadableExif,
                "fix EXIF",
                format!("the EXIF block cannot be read ({e}); left as it is"),
            );
            return Patch::unchanged(len, format, report, google_capture(item));
        }
    };
    let mut work = report.clone();
    if prefix_removed {
        work.repairs.push(Repair::block(
            "removed the improper \"Exif\\0\\0\" prefix from the EXIF chunk",
        ));
    }
    if let Some(e) = &replaced_damaged {
        work.warn(
            WarningKind::DamagedExif,
            format!("the EXIF block's TIFF header is damaged ({e}): a new EXIF block replaces it"),
        );
    }
    cross_check_camera(&exif, item, &mut work);
    edit::repair(&mut exif, format, &info, &mut work);
    let capture =
        edit::apply(&mut exif, options, item, format, &info, &mut work).or(google_capture(item));
    note_losses(format, exif.dir(Ifd::Gps).is_some(), item, &mut work);
    let tiff_changed =
        exif.is_dirty() && !(exif.created && work.changes.iter().all(|c| c.tag.is_none()));
    if replaced_damaged.is_some() && tiff_changed {
        work.repairs.push(Repair::block(
            "replaced the EXIF block, whose TIFF header was damaged, with a new one",
        ));
    }
    if !tiff_changed && !prefix_removed {
        return Patch::unchanged(len, format, work, capture);
    }
    // A JPEG's EXIF must fit one APP1 segment ("Exif\0\0" + TIFF).
    let limit = (format == Format::Jpeg).then(|| jpeg::APP1_PAYLOAD_MAX - EXIF_PREFIX.len());
    let written = exif.write_within(limit).and_then(|(tiff, reclaimed)| {
        note_reclaimed(&reclaimed, &mut work);
        container::place(input, &container, &tiff)
    });
    // A JPEG's new EXIF segment must be where the next reader (and the next fix)
    // looks for it.
    let written = written.and_then(|pieces| match &container {
        Container::Jpeg(l) => {
            let at = l.exif_segment.as_ref().map_or(l.insert_at, |r| r.start);
            if jpeg::finds_exif_at(&pieces, input, at) {
                Ok(pieces)
            } else {
                Err(crate::Error::new(
                    ErrorKind::Malformed,
                    "stray bytes before the EXIF segment would read as JPEG structure once \
                     it is written, hiding it from readers: not written",
                ))
            }
        }
        _ => Ok(pieces),
    });
    match written {
        Ok(pieces) => {
            let pieces = afcp::shift_afcp(input, pieces, &mut work);
            Patch::new(pieces.into_pieces(), len, format, work, capture)
        }
        Err(e) => {
            // Nothing was written: report only what was found, not the changes.
            let kind = if e.kind() == ErrorKind::TooLarge {
                NotDoneKind::TooLarge
            } else {
                NotDoneKind::WriteFailed
            };
            report.not_done(kind, "write EXIF", e.message().to_owned());
            report.date_source = None;
            Patch::unchanged(len, format, report, capture)
        }
    }
}

/// Tells what was done to fit the EXIF into its APP1 segment.
fn note_reclaimed(reclaimed: &[tiff::Reclaimed], report: &mut Report) {
    for step in reclaimed {
        match step {
            tiff::Reclaimed::FreedSpace | tiff::Reclaimed::Padding => {}
            tiff::Reclaimed::Thumbnail(len) => {
                report.change(
                    "thumbnail image",
                    Some(Ifd::Ifd1),
                    None,
                    Some(format!("{len} bytes")),
                    None,
                );
                report.warn(
                    WarningKind::ThumbnailDropped,
                    format!(
                        "the {len}-byte IFD1 thumbnail was dropped: the EXIF did not fit the \
                         64 KB APP1 segment otherwise"
                    ),
                );
            }
        }
    }
    if reclaimed.contains(&tiff::Reclaimed::FreedSpace) {
        report.repairs.push(Repair::block(format!(
            "the EXIF did not fit the 64 KB APP1 segment with the changes appended: {}",
            reclaimed
                .iter()
                .map(|r| match r {
                    tiff::Reclaimed::FreedSpace => "freed space reused".to_owned(),
                    tiff::Reclaimed::Padding => "trailing padding dropped".to_owned(),
                    tiff::Reclaimed::Thumbnail(len) => format!("{len}-byte thumbnail dropped"),
                })
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
}

/// Tells what the tolerant JPEG walk stepped over: all of it is kept byte for byte.
fn note_jpeg_layout(l: &jpeg::Layout, report: &mut Report) {
    if l.extra_exif > 0 {
        report.warn(
            WarningKind::ExtraExif,
            format!(
                "{} more EXIF segment(s) after the first were left as they are",
                l.extra_exif
            ),
        );
    }
    for s in &l.stray {
        report.warn(
            WarningKind::StrayBytes,
            format!(
                "{} stray byte(s) at byte {} after the JPEG {} segment, kept as they are",
                s.len,
                s.at,
                jpeg::marker_name(s.after)
            ),
        );
    }
    for o in &l.overruns {
        report.warn(
            WarningKind::SegmentOverrun,
            format!(
                "the JPEG {} segment at byte {} states {} bytes but the next marker is at byte {}",
                jpeg::marker_name(o.marker),
                o.at,
                o.stated,
                o.cut_at
            ),
        );
    }
}

/// The raw TIFF block of any supported image (prefix stripped), if it has one.
pub(crate) fn read_exif_block(bytes: &[u8], format: Format) -> Option<Vec<u8>> {
    let input = &Source::whole(bytes);
    let strip = |b: &[u8]| b.strip_prefix(EXIF_PREFIX).unwrap_or(b).to_vec();
    match format {
        Format::Jpeg => {
            let l = jpeg::scan(input).ok()?;
            input.get(l.exif_tiff?).map(<[u8]>::to_vec)
        }
        Format::Png => input.get(png::scan(input).ok()?.exif_data?).map(strip),
        Format::Webp => input.get(webp::scan(input).ok()?.exif_data?).map(strip),
        Format::Heic | Format::Avif => bmff::heif_exif(input),
        Format::Tiff => Some(bytes.to_vec()),
        _ => None,
    }
}
