//! [`Metadata`]: what a file holds, as [`read`](crate::read) finds it.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::image::read_exif_block;
use crate::tags::{self, id};
use crate::tiff::{self, Exif};
use crate::{ByteOrder, Error, ErrorKind, Format, Ifd, bmff};

/// One tag as [`read`](crate::read) found it.
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
    /// Problems the reader found (what [`fix`](crate::fix) would repair).
    pub problems: Vec<String>,
}

/// See [`crate::read`].
pub(crate) fn read(input: &[u8]) -> Result<Metadata, Error> {
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
                .and_then(|d| d.into_iter().find(|d| d.kind == "mvhd"))
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
    meta.artist = text(Ifd::Ifd0, id::ARTIST);
    meta.copyright = text(Ifd::Ifd0, id::COPYRIGHT);
    meta.software = text(Ifd::Ifd0, id::SOFTWARE);
    meta.make = text(Ifd::Ifd0, id::MAKE);
    meta.model = text(Ifd::Ifd0, id::MODEL);
    meta.date_time_original = text(Ifd::Exif, id::DATE_TIME_ORIGINAL);
    meta.sub_sec_time_original = text(Ifd::Exif, id::SUB_SEC_TIME_ORIGINAL);
    meta.offset_time_original = text(Ifd::Exif, id::OFFSET_TIME_ORIGINAL);
    meta.exif_version = exif
        .dir(Ifd::Exif)
        .and_then(|d| d.get(id::EXIF_VERSION))
        .and_then(|e| exif.value_bytes(e))
        .map(tiff::bytes_to_text);
    meta.gps = exif.dir(Ifd::Gps).is_some();
    meta.maker_note_len = exif
        .dir(Ifd::Exif)
        .and_then(|d| d.get(id::MAKER_NOTE))
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
                type_name: e.typ.name().to_owned(),
                count: e.count,
                value,
            });
        }
    }
    meta.problems = exif
        .repairs
        .iter()
        .map(|r| format!("{}: {}", r.location_name(), r.what))
        .collect();
    Ok(meta)
}
