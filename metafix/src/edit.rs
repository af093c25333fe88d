//! Repairs and edits on the EXIF model: what the original tool's `fix_exif_types` and
//! `update_exif_metadata` did, without rebuilding anything.

use crate::dates::{self, FileDates, SubSec};
use crate::report::{NotDoneKind, Repair, Report, WarningKind};
use crate::tags::{self, STRUCTURAL, id};
use crate::tiff::{
    self, ASCII, BYTE, ByteOrder, Entry, Exif, FieldType, LONG, RATIONAL, SBYTE, SHORT, SLONG,
    SRATIONAL, SSHORT, UNDEFINED, Value,
};
use crate::{FixOptions, Format, Ifd, ItemContext};

/// What the container knows that new mandatory EXIF tags need (JPEG only).
#[derive(Debug, Clone, Default)]
pub(crate) struct ImageInfo {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub has_icc: bool,
    /// JFIF density: (unit 1 = dpi, 2 = dpcm; x; y).
    pub density: Option<(u8, u16, u16)>,
}

/// Moves parse repairs into the report and fixes types and misplaced tags.
pub(crate) fn repair(exif: &mut Exif, format: Format, info: &ImageInfo, report: &mut Report) {
    report.repairs.append(&mut exif.repairs);
    move_misplaced(exif, format, info, report);
    for ifd in tiff::LAYOUT {
        coerce_types(exif, ifd, report);
    }
    fix_zero_ratios(exif, report);
}

/// `0/0` is undefined (ExifTool: "Undefined value"), but for these tags the EXIF
/// specification gives a zero numerator a meaning ("digital zoom not used", "distance
/// unknown"), so `0/1` says what the writer meant.
fn fix_zero_ratios(exif: &mut Exif, report: &mut Report) {
    const ZERO_MEANS_UNKNOWN: [u16; 2] = [id::DIGITAL_ZOOM_RATIO, id::SUBJECT_DISTANCE];
    let order = exif.order;
    for tag in ZERO_MEANS_UNKNOWN {
        let Some(e) = exif.dir(Ifd::Exif).and_then(|d| d.get(tag)) else {
            continue;
        };
        if e.typ != RATIONAL || e.count != 1 || exif.value_bytes(e) != Some(&[0u8; 8][..]) {
            continue;
        }
        let mut bytes = order.put_u32(0).to_vec();
        bytes.extend_from_slice(&order.put_u32(1));
        exif.put(Ifd::Exif, Entry::new(tag, RATIONAL, bytes));
        report.repairs.push(Repair::new(
            Ifd::Exif,
            Some(tag),
            format!(
                "{} was 0/0 (undefined): written as 0/1, which the EXIF specification defines",
                tag_label(Ifd::Exif, tag)
            ),
        ));
    }
}

fn tag_label(ifd: Ifd, tag: u16) -> String {
    tags::name(ifd, tag).map_or_else(|| format!("tag 0x{tag:04x}"), str::to_owned)
}

/// Tags of the Exif IFD found in IFD0 (e.g. DateTimeOriginal) and the reverse.
fn move_misplaced(exif: &mut Exif, format: Format, info: &ImageInfo, report: &mut Report) {
    for (from, to, home) in [
        (Ifd::Ifd0, Ifd::Exif, Ifd::Exif),
        (Ifd::Exif, Ifd::Ifd0, Ifd::Ifd0),
    ] {
        let Some(dir) = exif.dir(from) else { continue };
        let misplaced: Vec<u16> = dir
            .entries
            .iter()
            .filter(|e| !STRUCTURAL.contains(&e.tag))
            .filter(|e| !(format == Format::Tiff && NOT_IN_TIFF_EXIF.contains(&e.tag)))
            .filter(|e| {
                tags::lookup(from, e.tag).is_some_and(|d| d.home == home && !d.formats.is_empty())
            })
            .map(|e| e.tag)
            .collect();
        for tag in misplaced {
            let name = tag_label(from, tag);
            if to == Ifd::Exif {
                ensure_exif(exif, format, info, report);
            }
            let exists = exif.dir(to).is_some_and(|d| d.get(tag).is_some());
            let Some(dir) = exif.dir_mut(from) else {
                continue;
            };
            let Some(at) = dir.position(tag) else {
                continue;
            };
            let entry = dir.entries.remove(at);
            dir.dirty = true;
            if exists {
                exif.orphan(&entry);
                report.repairs.push(Repair::new(
                    from,
                    Some(tag),
                    format!(
                        "dropped {name}: it belongs in {} which has its own",
                        to.name()
                    ),
                ));
            } else {
                // The value bytes stay where they are; only the entry moves.
                if let Some(d) = exif.dir_mut(to) {
                    d.entries.push(entry);
                    d.dirty = true;
                }
                report.repairs.push(Repair::new(
                    from,
                    Some(tag),
                    format!("moved {name} to {}", to.name()),
                ));
            }
        }
    }
}

/// Known tags stored with a type the specification does not allow, converted when the
/// values survive unchanged.
fn coerce_types(exif: &mut Exif, ifd: Ifd, report: &mut Report) {
    let Some(dir) = exif.dir(ifd) else { return };
    let mut replacements = Vec::new();
    for (i, e) in dir.entries.iter().enumerate() {
        if STRUCTURAL.contains(&e.tag) || matches!(e.value, Value::Child(_)) {
            continue;
        }
        let Some(def) = tags::lookup(ifd, e.tag) else {
            continue;
        };
        if def.formats.is_empty() || def.formats.contains(&e.typ) {
            continue;
        }
        let Some(bytes) = exif.value_bytes(e) else {
            continue;
        };
        let before = e.typ.name();
        match coerce(exif.order, e.typ, bytes, def.formats) {
            Some((typ, new)) => {
                replacements.push((i, typ, new));
                report.repairs.push(Repair::new(
                    ifd,
                    Some(e.tag),
                    format!(
                        "{} stored as {before}: converted to {}",
                        def.name,
                        typ.name()
                    ),
                ));
            }
            None => report.warn(
                WarningKind::TypeNotConvertible,
                format!(
                    "{} {} is stored as {before} and cannot be converted to {} without changing it",
                    ifd.name(),
                    def.name,
                    def.formats[0].name()
                ),
            ),
        }
    }
    for (i, typ, bytes) in replacements {
        let Some(dir) = exif.dir(ifd) else { return };
        let Some(old) = dir.entries.get(i).cloned() else {
            continue;
        };
        let size = typ.size().unwrap_or(1);
        let new = Entry {
            tag: old.tag,
            typ,
            count: u32::try_from(bytes.len() / size).unwrap_or(u32::MAX),
            value: Value::New(bytes),
        };
        exif.put(ifd, new);
    }
}

/// Integers, rationals or raw bytes decoded from a value.
enum Decoded {
    Ints(Vec<i64>),
    Rationals(Vec<(i64, i64)>),
    Bytes(Vec<u8>, bool),
}

fn decode(order: ByteOrder, typ: FieldType, b: &[u8]) -> Option<Decoded> {
    let words = |size: usize| (0..b.len() / size).map(move |i| i * size);
    Some(match typ {
        BYTE => Decoded::Ints(b.iter().map(|&x| i64::from(x)).collect()),
        SBYTE => Decoded::Ints(b.iter().map(|&x| i64::from(x as i8)).collect()),
        SHORT => Decoded::Ints(
            words(2)
                .filter_map(|i| order.u16(b, i))
                .map(i64::from)
                .collect(),
        ),
        SSHORT => Decoded::Ints(
            words(2)
                .filter_map(|i| order.u16(b, i))
                .map(|v| i64::from(v as i16))
                .collect(),
        ),
        LONG => Decoded::Ints(
            words(4)
                .filter_map(|i| order.u32(b, i))
                .map(i64::from)
                .collect(),
        ),
        SLONG => Decoded::Ints(
            words(4)
                .filter_map(|i| order.u32(b, i))
                .map(|v| i64::from(v as i32))
                .collect(),
        ),
        RATIONAL => Decoded::Rationals(
            words(8)
                .filter_map(|i| {
                    Some((i64::from(order.u32(b, i)?), i64::from(order.u32(b, i + 4)?)))
                })
                .collect(),
        ),
        SRATIONAL => Decoded::Rationals(
            words(8)
                .filter_map(|i| {
                    Some((
                        i64::from(order.u32(b, i)? as i32),
                        i64::from(order.u32(b, i + 4)? as i32),
                    ))
                })
                .collect(),
        ),
        ASCII => Decoded::Bytes(b.to_vec(), true),
        UNDEFINED => Decoded::Bytes(b.to_vec(), false),
        _ => return None,
    })
}

/// Converts a value to the first allowed type that holds it exactly.
pub(crate) fn coerce(
    order: ByteOrder,
    typ: FieldType,
    bytes: &[u8],
    formats: &[FieldType],
) -> Option<(FieldType, Vec<u8>)> {
    let decoded = decode(order, typ, bytes)?;
    for &target in formats {
        if let Some(out) = encode(order, &decoded, target) {
            return Some((target, out));
        }
    }
    None
}

fn encode(order: ByteOrder, d: &Decoded, target: FieldType) -> Option<Vec<u8>> {
    let ints_in = |lo: i64, hi: i64| -> Option<&Vec<i64>> {
        match d {
            Decoded::Ints(v) if !v.is_empty() && v.iter().all(|x| (lo..=hi).contains(x)) => Some(v),
            _ => None,
        }
    };
    match target {
        UNDEFINED => match d {
            Decoded::Bytes(b, is_ascii) => {
                let mut b = b.clone();
                if *is_ascii && b.len() > 1 && b.last() == Some(&0) {
                    b.pop();
                }
                Some(b)
            }
            _ => ints_in(0, 255).map(|v| v.iter().map(|&x| x as u8).collect()),
        },
        ASCII => match d {
            Decoded::Bytes(b, _) => {
                let mut b = b.clone();
                if b.last() != Some(&0) {
                    b.push(0);
                }
                Some(b)
            }
            _ => None,
        },
        BYTE => match d {
            Decoded::Bytes(b, false) => Some(b.clone()),
            _ => ints_in(0, 255).map(|v| v.iter().map(|&x| x as u8).collect()),
        },
        SHORT => {
            ints_in(0, 0xffff).map(|v| v.iter().flat_map(|&x| order.put_u16(x as u16)).collect())
        }
        LONG => ints_in(0, 0xffff_ffff)
            .map(|v| v.iter().flat_map(|&x| order.put_u32(x as u32)).collect()),
        RATIONAL => {
            let pairs: Vec<(i64, i64)> = match d {
                Decoded::Ints(_) => ints_in(0, 0xffff_ffff)?.iter().map(|&x| (x, 1)).collect(),
                Decoded::Rationals(r) if !r.is_empty() => r
                    .iter()
                    .map(|&(n, d)| if n < 0 && d < 0 { (-n, -d) } else { (n, d) })
                    .collect(),
                _ => return None,
            };
            if pairs.iter().any(|&(n, d)| n < 0 || d < 0) {
                return None;
            }
            Some(
                pairs
                    .iter()
                    .flat_map(|&(n, d)| {
                        let mut v = order.put_u32(n as u32).to_vec();
                        v.extend_from_slice(&order.put_u32(d as u32));
                        v
                    })
                    .collect(),
            )
        }
        SRATIONAL => {
            let pairs: Vec<(i64, i64)> = match d {
                Decoded::Ints(_) => ints_in(i64::from(i32::MIN), i64::from(i32::MAX))?
                    .iter()
                    .map(|&x| (x, 1))
                    .collect(),
                Decoded::Rationals(r) if !r.is_empty() => r.clone(),
                _ => return None,
            };
            let max = i64::from(i32::MAX);
            if pairs.iter().any(|&(n, d)| n.abs() > max || d.abs() > max) {
                return None;
            }
            Some(
                pairs
                    .iter()
                    .flat_map(|&(n, d)| {
                        let mut v = order.put_u32(n as i32 as u32).to_vec();
                        v.extend_from_slice(&order.put_u32(d as i32 as u32));
                        v
                    })
                    .collect(),
            )
        }
        _ => None,
    }
}

/// Creates the Exif IFD (and its pointer) if missing, with the tags ExifTool's
/// validator requires of a JPEG's Exif IFD.
pub(crate) fn ensure_exif(exif: &mut Exif, format: Format, info: &ImageInfo, report: &mut Report) {
    if exif.dir(Ifd::Exif).is_some() {
        return;
    }
    exif.set_dir(Ifd::Exif, Some(tiff::Dir::empty()));
    exif.put(
        Ifd::Ifd0,
        Entry {
            tag: id::EXIF_OFFSET,
            typ: LONG,
            count: 1,
            value: Value::Child(Ifd::Exif),
        },
    );
    add_missing_required_exif(exif, format, info, report);
}

/// Adds an entry where the tag is missing, and reports it.
fn add_missing(exif: &mut Exif, ifd: Ifd, entry: Entry, report: &mut Report) {
    if exif.dir(ifd).is_some_and(|d| d.get(entry.tag).is_some()) {
        return;
    }
    let tag = entry.tag;
    let shown = exif
        .value_bytes(&entry)
        .map(|b| tiff::display(exif.order, entry.typ, b));
    exif.put(ifd, entry);
    report.change(&tag_label(ifd, tag), Some(ifd), Some(tag), None, shown);
}

/// The Exif IFD tags ExifTool's validator requires (of a JPEG: all of them; of other
/// formats: ExifVersion), where missing.
fn add_missing_required_exif(
    exif: &mut Exif,
    format: Format,
    info: &ImageInfo,
    report: &mut Report,
) {
    let order = exif.order;
    let version = Entry::new(id::EXIF_VERSION, UNDEFINED, b"0232".to_vec());
    add_missing(exif, Ifd::Exif, version, report);
    if format == Format::Tiff {
        // A TIFF's Exif IFD must have these two too (Validate.pm, TIFF ExifIFD).
        let color = if info.has_icc { 0xffff } else { 1 };
        for entry in [
            Entry::new(id::FLASHPIX_VERSION, UNDEFINED, b"0100".to_vec()),
            Entry::new(id::COLOR_SPACE, SHORT, order.put_u16(color).to_vec()),
        ] {
            add_missing(exif, Ifd::Exif, entry, report);
        }
    }
    if format != Format::Jpeg {
        return;
    }
    let color = if info.has_icc { 0xffff } else { 1 };
    let mut required = vec![
        Entry::new(id::COMPONENTS_CONFIGURATION, UNDEFINED, vec![1, 2, 3, 0]),
        Entry::new(id::FLASHPIX_VERSION, UNDEFINED, b"0100".to_vec()),
        Entry::new(id::COLOR_SPACE, SHORT, order.put_u16(color).to_vec()),
    ];
    for (tag, dim) in [
        (id::EXIF_IMAGE_WIDTH, info.width),
        (id::EXIF_IMAGE_HEIGHT, info.height),
    ] {
        let Some(dim) = dim else { continue };
        required.push(match u16::try_from(dim) {
            Ok(v) => Entry::new(tag, SHORT, order.put_u16(v).to_vec()),
            Err(_) => Entry::new(tag, LONG, order.put_u32(dim).to_vec()),
        });
    }
    for entry in required {
        add_missing(exif, Ifd::Exif, entry, report);
    }
}

/// Exif IFD tags ExifTool's validator does not allow in a TIFF (they describe JPEG
/// compression): a TIFF that has them in IFD0 keeps them there rather than gaining a
/// warning for them in the Exif IFD (`Validate.pm`, `%validValue{TIFF}{ExifIFD}`).
const NOT_IN_TIFF_EXIF: [u16; 4] = [
    id::COMPONENTS_CONFIGURATION,
    id::COMPRESSED_BITS_PER_PIXEL,
    id::EXIF_IMAGE_WIDTH,
    id::EXIF_IMAGE_HEIGHT,
];

/// IFD0 tags ExifTool's validator does not allow in a JPEG (they describe
/// uncompressed TIFF strips): from `Validate.pm`'s `%validValue{JPEG}{IFD0}`.
const NOT_IN_JPEG_IFD0: [u16; 13] = [
    id::IMAGE_WIDTH,
    id::IMAGE_HEIGHT,
    id::BITS_PER_SAMPLE,
    id::COMPRESSION,
    id::PHOTOMETRIC_INTERPRETATION,
    id::STRIP_OFFSETS,
    id::SAMPLES_PER_PIXEL,
    id::ROWS_PER_STRIP,
    id::STRIP_BYTE_COUNTS,
    id::PLANAR_CONFIGURATION,
    id::THUMBNAIL_OFFSET,
    id::THUMBNAIL_LENGTH,
    id::Y_CB_CR_SUB_SAMPLING,
];

/// A JPEG's IFD0 that was salvaged from a table that claimed more entries than the
/// block holds: ExifTool read none of it before ("Bad IFD0 directory"), and reads all
/// of it after, so it must be what the validator wants of a JPEG: the salvaged
/// entries that do not belong in a JPEG are dropped (and reported), the required tags
/// are added where missing.
fn complete_salvaged_jpeg(exif: &mut Exif, info: &ImageInfo, report: &mut Report) {
    let not_allowed: Vec<u16> = exif
        .dir(Ifd::Ifd0)
        .map(|d| {
            d.entries
                .iter()
                .map(|e| e.tag)
                .filter(|t| NOT_IN_JPEG_IFD0.contains(t))
                .collect()
        })
        .unwrap_or_default();
    for tag in not_allowed {
        if exif.remove(Ifd::Ifd0, tag).is_some() {
            report.repairs.push(Repair::new(
                Ifd::Ifd0,
                Some(tag),
                format!(
                    "dropped {} salvaged from a damaged IFD0: not allowed in a JPEG",
                    tag_label(Ifd::Ifd0, tag)
                ),
            ));
        }
    }
    add_mandatory_ifd0(exif, info, report);
    if exif.dir(Ifd::Exif).is_some() {
        add_missing_required_exif(exif, Format::Jpeg, info, report);
    }
}

/// The IFD0 tags ExifTool's validator requires of a JPEG, where missing.
fn add_mandatory_ifd0(exif: &mut Exif, info: &ImageInfo, report: &mut Report) {
    let order = exif.order;
    let (unit, x, y) = match info.density {
        Some((unit @ (1 | 2), x, y)) if x > 0 && y > 0 => (u16::from(unit) + 1, x, y),
        _ => (2, 72, 72),
    };
    let rational = |v: u16| {
        let mut b = order.put_u32(u32::from(v)).to_vec();
        b.extend_from_slice(&order.put_u32(1));
        b
    };
    // X/YResolution and their unit go together: a lone unit would change their meaning.
    let has_resolution = exif
        .dir(Ifd::Ifd0)
        .is_some_and(|d| d.get(id::X_RESOLUTION).is_some() || d.get(id::Y_RESOLUTION).is_some());
    let mut entries = vec![Entry::new(
        id::Y_CB_CR_POSITIONING,
        SHORT,
        order.put_u16(1).to_vec(),
    )];
    if !has_resolution {
        entries.extend([
            Entry::new(id::X_RESOLUTION, RATIONAL, rational(x)),
            Entry::new(id::Y_RESOLUTION, RATIONAL, rational(y)),
            Entry::new(id::RESOLUTION_UNIT, SHORT, order.put_u16(unit).to_vec()),
        ]);
    }
    for entry in entries {
        add_missing(exif, Ifd::Ifd0, entry, report);
    }
}

fn shown(exif: &Exif, ifd: Ifd, tag: u16) -> Option<String> {
    let e = exif.dir(ifd)?.get(tag)?;
    if let Value::Child(_) = e.value {
        return Some(format!("({} IFD)", tag_label(ifd, tag)));
    }
    exif.value_bytes(e)
        .map(|b| tiff::display(exif.order, e.typ, b))
}

fn remove_reported(exif: &mut Exif, ifd: Ifd, tag: u16, report: &mut Report) {
    let before = shown(exif, ifd, tag);
    if exif.remove(ifd, tag).is_some() {
        report.change(&tag_label(ifd, tag), Some(ifd), Some(tag), before, None);
    }
}

fn set_text(exif: &mut Exif, ifd: Ifd, tag: u16, text: &str, report: &mut Report) {
    let before = exif
        .dir(ifd)
        .and_then(|d| d.get(tag))
        .map(|e| exif.value_bytes(e).map(|b| (e.typ, tiff::bytes_to_text(b))));
    match before {
        Some(Some((ASCII, old))) if old == text => {}
        before => {
            exif.put(ifd, Entry::ascii(tag, text));
            report.change(
                &tag_label(ifd, tag),
                Some(ifd),
                Some(tag),
                before.flatten().map(|(_, t)| t),
                Some(text.to_owned()),
            );
        }
    }
}

/// Applies the user's edits; returns the capture time the file states afterwards.
pub(crate) fn apply(
    exif: &mut Exif,
    options: &FixOptions,
    item: &ItemContext,
    format: Format,
    info: &ImageInfo,
    report: &mut Report,
) -> Option<crate::dates::Capture> {
    if options.remove_software {
        for ifd in [Ifd::Ifd0, Ifd::Ifd1, Ifd::Exif] {
            remove_reported(exif, ifd, id::SOFTWARE, report);
        }
    }
    for name in &options.remove_tags {
        remove_named(exif, name, report);
    }
    if let Some(artist) = options.artist.as_deref().filter(|s| !s.is_empty()) {
        set_text(exif, Ifd::Ifd0, id::ARTIST, artist, report);
    }
    if let Some(copyright) = options.copyright.as_deref().filter(|s| !s.is_empty()) {
        set_text(exif, Ifd::Ifd0, id::COPYRIGHT, copyright, report);
    }

    let text = |exif: &Exif, tag| exif.text(Ifd::Exif, tag);
    let raw = text(exif, id::DATE_TIME_ORIGINAL);
    let offset_raw = text(exif, id::OFFSET_TIME_ORIGINAL);
    let file = FileDates {
        local: raw.as_deref().and_then(dates::parse_exif_datetime),
        raw,
        offset: offset_raw.as_deref().and_then(dates::parse_offset),
        offset_raw,
        subsec_raw: text(exif, id::SUB_SEC_TIME_ORIGINAL),
    };
    let plan = dates::plan(
        &file,
        item.create_time,
        options.dates,
        options.time_zone.as_ref(),
    );
    report.date_source = plan.source.clone();
    if let Some((kind, what, why)) = plan.not_done {
        report.not_done(kind, what, why);
    }
    let writes_dates = plan.set_local.is_some()
        || plan.set_offset.is_some()
        || !matches!(plan.subsec, SubSec::Keep);
    if writes_dates {
        ensure_exif(exif, format, info, report);
    }
    if let Some(local) = &plan.set_local {
        set_text(exif, Ifd::Exif, id::DATE_TIME_ORIGINAL, local, report);
    }
    match &plan.subsec {
        SubSec::Keep => {}
        SubSec::Set(s) => set_text(exif, Ifd::Exif, id::SUB_SEC_TIME_ORIGINAL, s, report),
        SubSec::Remove => remove_reported(exif, Ifd::Exif, id::SUB_SEC_TIME_ORIGINAL, report),
    }
    if let Some(offset) = &plan.set_offset {
        set_text(exif, Ifd::Exif, id::OFFSET_TIME_ORIGINAL, offset, report);
    }
    raise_exif_version(exif, report);
    if exif.created && !report.changes.is_empty() && format == Format::Jpeg {
        add_mandatory_ifd0(exif, info, report);
    }
    let salvaged = exif.dir(Ifd::Ifd0).is_some_and(|d| d.salvaged);
    if salvaged && format == Format::Jpeg && !exif.created {
        complete_salvaged_jpeg(exif, info, report);
    }
    plan.capture
}

/// ExifTool warns when a tag is newer than the file's ExifVersion (OffsetTime* need
/// 0231): raise it to 0232 when the Exif IFD is being rewritten anyway.
fn raise_exif_version(exif: &mut Exif, report: &mut Report) {
    let Some(dir) = exif.dir(Ifd::Exif) else {
        return;
    };
    if !dir.dirty {
        return;
    }
    let needed = [Ifd::Exif, Ifd::Interop]
        .iter()
        .filter_map(|&ifd| exif.dir(ifd).map(|d| (ifd, d)))
        .flat_map(|(ifd, d)| d.entries.iter().map(move |e| (ifd, e.tag)))
        .filter_map(|(ifd, tag)| tags::lookup(ifd, tag).map(|t| t.version))
        .max()
        .unwrap_or(0);
    let current = dir
        .get(id::EXIF_VERSION)
        .and_then(|e| exif.value_bytes(e))
        .and_then(|b| {
            let s = std::str::from_utf8(b.get(..4)?).ok()?;
            s.parse::<u16>().ok()
        });
    let too_old = current.is_none_or(|v| v < needed);
    if needed > 0 && too_old {
        let before = shown(exif, Ifd::Exif, id::EXIF_VERSION);
        exif.put(
            Ifd::Exif,
            Entry::new(id::EXIF_VERSION, UNDEFINED, b"0232".to_vec()),
        );
        report.change(
            "ExifVersion",
            Some(Ifd::Exif),
            Some(id::EXIF_VERSION),
            before,
            Some("0232".to_owned()),
        );
    }
}

/// Removes a user-named tag wherever it is (IFD0, IFD1, Exif, GPS).
fn remove_named(exif: &mut Exif, name: &str, report: &mut Report) {
    let resolved = tags::resolve(name).or_else(|| tags::spec_alias(name).and_then(tags::resolve));
    let Some(ids) = resolved else {
        if name.eq_ignore_ascii_case("GPSInfo") || tags::spec_alias(name) == Some("GPSInfo") {
            remove_gps(exif, report);
        } else {
            report.not_done(
                NotDoneKind::UnknownTag,
                format!("remove {name}"),
                "unknown tag name",
            );
        }
        return;
    };
    for (home, tag) in ids {
        if tag == id::GPS_INFO && home == Ifd::Ifd0 {
            remove_gps(exif, report);
            continue;
        }
        if STRUCTURAL.contains(&tag) && tag != id::MAKER_NOTE {
            report.not_done(
                NotDoneKind::ProtectedTag,
                format!("remove {name}"),
                "it locates other data (a pointer or an offset); removing it would lose that data",
            );
            continue;
        }
        let places: &[Ifd] = match home {
            Ifd::Gps => &[Ifd::Gps],
            Ifd::Interop => &[Ifd::Interop],
            _ => &[Ifd::Ifd0, Ifd::Ifd1, Ifd::Exif],
        };
        for &ifd in places {
            remove_reported(exif, ifd, tag, report);
        }
    }
}

fn remove_gps(exif: &mut Exif, report: &mut Report) {
    if exif.dir(Ifd::Gps).is_none()
        && exif
            .dir(Ifd::Ifd0)
            .and_then(|d| d.get(id::GPS_INFO))
            .is_none()
    {
        return;
    }
    remove_reported(exif, Ifd::Ifd0, id::GPS_INFO, report);
    // The location must not linger as orphan bytes: its table and values get zeroed
    // (unless something still in use shares them).
    if let Some(gps) = exif.dir(Ifd::Gps).cloned() {
        for e in &gps.entries {
            exif.orphan(e);
        }
        if let Some(o) = gps.origin {
            exif.orphans.push(o.offset..o.offset + o.len);
        }
    }
    exif.set_dir(Ifd::Gps, None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coerces_scene_type_short_to_undefined() {
        let be = ByteOrder::BigEndian;
        let (typ, bytes) = coerce(be, SHORT, &[0, 1], &[UNDEFINED]).unwrap();
        assert_eq!((typ, bytes), (UNDEFINED, vec![1]));
    }

    #[test]
    fn coerces_components_configuration_and_refuses_lossy() {
        let le = ByteOrder::LittleEndian;
        let v = [1u8, 0, 2, 0, 3, 0, 0, 0];
        assert_eq!(
            coerce(le, SHORT, &v, &[UNDEFINED]),
            Some((UNDEFINED, vec![1, 2, 3, 0]))
        );
        assert_eq!(
            coerce(le, SHORT, &[0, 1], &[UNDEFINED]),
            None,
            "256 does not fit a byte"
        );
        assert_eq!(
            coerce(le, SSHORT, &[0xff, 0xff], &[SHORT]),
            None,
            "-1 is not unsigned"
        );
        assert_eq!(
            coerce(le, LONG, &[7, 0, 0, 0], &[SHORT, LONG]),
            Some((SHORT, vec![7, 0]))
        );
        assert_eq!(
            coerce(le, ASCII, b"0230\0", &[UNDEFINED]),
            Some((UNDEFINED, b"0230".to_vec()))
        );
        assert_eq!(
            coerce(le, UNDEFINED, b"Canon", &[ASCII]),
            Some((ASCII, b"Canon\0".to_vec()))
        );
        let sr = [1u8, 0, 0, 0, 2, 0, 0, 0];
        assert_eq!(
            coerce(le, SRATIONAL, &sr, &[RATIONAL]),
            Some((RATIONAL, sr.to_vec()))
        );
    }
}
