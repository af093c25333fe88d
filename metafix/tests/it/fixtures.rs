//! One table of generated cases drives the read, write and property tests: every case
//! is read, fixed, re-read (by metafix and by kamadak-exif), fixed again, and compared
//! outside its EXIF payload.

use crate::support::*;
use metafix::{
    DatePolicy, FixOptions, Format, ItemContext, NotDoneKind, Outcome, Piece, WarningKind, fix,
    read,
};

/// What a case must give after the fix.
struct Expect {
    format: Format,
    artist: Option<&'static str>,
    copyright: Option<&'static str>,
    dto: Option<&'static str>,
    offset: Option<&'static str>,
    subsec: Option<&'static str>,
    /// Substrings that must appear among the report's repairs.
    repairs: &'static [&'static str],
    changed: bool,
}

struct Case {
    name: &'static str,
    file: fn() -> Vec<u8>,
    options: fn() -> FixOptions,
    create_time: Option<&'static str>,
    expect: Expect,
}

fn family() -> FixOptions {
    FixOptions::default()
        .with_artist("Grace Hopper")
        .with_copyright("(c) Hopper family")
}

fn berlin() -> FixOptions {
    family().with_time_zone("Europe/Berlin").unwrap()
}

const FAMILY: Expect = Expect {
    format: Format::Jpeg,
    artist: Some("Grace Hopper"),
    copyright: Some("(c) Hopper family"),
    dto: None,
    offset: None,
    subsec: None,
    repairs: &[],
    changed: true,
};

/// IFD0 with the defects the original tool's `fix_exif_types` handled.
fn broken_tiff(le: bool) -> Vec<u8> {
    let mut t = Tiff::new(le);
    let exif = [
        t.undef(0x9000, b"0220"),
        // ComponentsConfiguration as SHORT[4], SceneType and FileSource as SHORT.
        t.short(0x9101, &[1, 2, 3, 0]),
        t.short(0xa300, &[3]),
        t.short(0xa301, &[1]),
        t.short(0xa001, &[1]),
        // A bad type code (99) and a duplicate.
        E {
            tag: 0xa402,
            typ: 99,
            count: 1,
            data: t.u16(0),
        },
        t.short(0xa403, &[0]),
        t.short(0xa403, &[1]),
    ];
    let exif_at = t.ifd(&exif, 0);
    let ifd0 = t.ifd(
        &[
            t.ascii(0x010f, "NIKON"),
            t.ascii(0x0131, "Adobe Photoshop 7.0"),
            // Out of order, and DateTimeOriginal in IFD0.
            t.ascii(0x9003, "2004:01:11 22:45:15"),
            t.long(0x8769, exif_at),
            t.ascii(0x0110, "E995"),
        ],
        0,
    );
    t.finish(ifd0)
}

/// A value whose offset runs past the end of the block.
fn past_end_tiff() -> Vec<u8> {
    let mut t = Tiff::new(true);
    let ifd0 = t.ifd(
        &[t.ascii(0x010f, "Sony"), t.ascii(0x0131, "ILCE-7 v1.0")],
        0,
    );
    let mut b = t.finish(ifd0);
    // Make Software's offset point far outside.
    let entry = ifd0 as usize + 2 + 12 + 8;
    b[entry..entry + 4].copy_from_slice(&0x0FFF_FFF0u32.to_le_bytes());
    b
}

fn with_exif_prefix(tiff: &[u8]) -> Vec<u8> {
    let mut v = b"Exif\0\0".to_vec();
    v.extend_from_slice(tiff);
    v
}

/// A COM segment whose length field says `stated` bytes while its body is `body`.
fn lying_com(stated: u16, body: &[u8]) -> Vec<u8> {
    let mut seg = vec![0xFF, 0xFE];
    seg.extend_from_slice(&stated.to_be_bytes());
    seg.extend_from_slice(body);
    seg
}

/// `camera_tiff` with its byte-order mark overwritten.
fn bad_byte_order_tiff() -> Vec<u8> {
    let mut t = camera_tiff(true);
    t[0..2].copy_from_slice(b"\xff\xff");
    t
}

/// [`near_limit_tiff`] with the MakerNote sized so that the block is `headroom` bytes
/// under the 65,527 bytes of TIFF a JPEG APP1 segment holds.
fn sized_near_limit(le: bool, headroom: usize, software_len: usize, thumb_len: usize) -> Vec<u8> {
    const TIFF_MAX: usize = 65_527;
    let probe = near_limit_tiff(le, 1000, software_len, thumb_len);
    let target = TIFF_MAX - headroom;
    let maker_note_len = 1000 + (target - probe.len());
    let mut tiff = near_limit_tiff(le, maker_note_len, software_len, thumb_len);
    if tiff.len() > target {
        // An odd MakerNote gains a pad byte.
        tiff = near_limit_tiff(le, maker_note_len - 1, software_len, thumb_len);
    }
    assert!(
        tiff.len() <= target && tiff.len() + 1 >= target,
        "{}",
        tiff.len()
    );
    tiff
}

/// Like Pillow's `hopper_bad_exif.jpg`: an IFD0 table that claims 32 entries where the
/// block holds a few (ExifTool: "Bad IFD0 directory"), salvaged entries that do not
/// belong in a JPEG, and an Exif IFD without the tags a JPEG's must have.
fn salvaged_ifd0_tiff() -> Vec<u8> {
    let mut t = Tiff::new(false);
    let exif_at = t.ifd(&[t.long(0xa002, 500), t.long(0xa003, 500)], 0);
    let ifd0 = t.ifd(
        &[
            t.short(0x0106, &[0]),
            t.short(0x0112, &[1]),
            t.rational(0x011a, 3779, 100),
            t.rational(0x011b, 3779, 100),
            t.short(0x0128, &[3]),
            t.long(0x8769, exif_at),
        ],
        0,
    );
    let mut b = t.finish(ifd0);
    b[ifd0 as usize..ifd0 as usize + 2].copy_from_slice(&32u16.to_be_bytes());
    b
}

/// The DateTimeOriginal `camera_tiff` states.
const CAMERA_DTO: Option<&str> = Some("2019:03:02 10:11:12");

/// A TIFF block with no MakerNote: Make, Software, and a DateTimeOriginal.
fn plain_tiff() -> Vec<u8> {
    let mut t = Tiff::new(true);
    let exif = [
        t.undef(0x9000, b"0230"),
        t.ascii(0x9003, "2019:03:02 10:11:12"),
    ];
    let exif_at = t.ifd(&exif, 0);
    let ifd0 = t.ifd(
        &[
            t.ascii(0x010f, "Apple"),
            t.ascii(0x0131, "17.1"),
            t.long(0x8769, exif_at),
        ],
        0,
    );
    t.finish(ifd0)
}

/// A HEIC holding `camera_tiff`, fixed with [`family`].
const HEIC_FAMILY: Expect = Expect {
    format: Format::Heic,
    dto: CAMERA_DTO,
    ..FAMILY
};

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "jpeg_stray_bytes_after_com_are_kept_byte_exact",
            file: || {
                jpeg_parts(&[
                    &jfif_app0(),
                    &segment(0xFE, b"written by an old editor"),
                    b"hello",
                    &exif_app1(&camera_tiff(true)),
                ])
            },
            options: family,
            create_time: None,
            expect: Expect {
                dto: CAMERA_DTO,
                ..FAMILY
            },
        },
        Case {
            name: "jpeg_stray_byte_after_the_exif_app1",
            file: || jpeg_parts(&[&jfif_app0(), &exif_app1(&camera_tiff(true)), b"\0"]),
            options: family,
            create_time: None,
            expect: Expect {
                dto: CAMERA_DTO,
                ..FAMILY
            },
        },
        Case {
            name: "jpeg_stray_bytes_without_exif_stay_after_app0",
            file: || jpeg_parts(&[&jfif_app0(), b"\x01\x02\x03"]),
            options: family,
            create_time: Some("2021-02-03T04:05:06Z"),
            expect: Expect {
                dto: Some("2021:02:03 04:05:06"),
                offset: Some("+00:00"),
                ..FAMILY
            },
        },
        Case {
            name: "jpeg_fill_bytes_before_markers",
            file: || {
                jpeg_parts(&[
                    &jfif_app0(),
                    &[0xFF, 0xFF, 0xFF],
                    &exif_app1(&camera_tiff(true)),
                    &[0xFF, 0xFF],
                ])
            },
            options: family,
            create_time: None,
            expect: Expect {
                dto: CAMERA_DTO,
                ..FAMILY
            },
        },
        Case {
            name: "jpeg_first_segment_is_not_appn",
            file: || {
                jpeg_parts(&[
                    &segment(0xDB, &[0u8; 65]),
                    &segment(0xFE, b"comment first"),
                    &exif_app1(&camera_tiff(true)),
                ])
            },
            options: family,
            create_time: None,
            expect: Expect {
                dto: CAMERA_DTO,
                ..FAMILY
            },
        },
        Case {
            name: "jpeg_segment_overrunning_the_file_end_is_cut_at_the_next_marker",
            file: || {
                jpeg_parts(&[
                    &jfif_app0(),
                    &lying_com(0x7000, b"short"),
                    &exif_app1(&camera_tiff(true)),
                ])
            },
            options: family,
            create_time: None,
            expect: Expect {
                dto: CAMERA_DTO,
                ..FAMILY
            },
        },
        Case {
            name: "jpeg_segment_overrunning_the_next_marker_is_cut_there",
            // The stated end lands in the scan data, where no structure follows.
            file: || {
                jpeg_parts(&[
                    &jfif_app0(),
                    &lying_com(0x0600, b"short"),
                    &exif_app1(&camera_tiff(false)),
                ])
            },
            options: family,
            create_time: None,
            expect: Expect {
                dto: CAMERA_DTO,
                ..FAMILY
            },
        },
        Case {
            name: "jpeg_near_64k_exif_reuses_freed_space_and_keeps_maker_note",
            // Appending the new IFD0 would overflow the APP1; the freed Software value and
            // the old IFD0 table hold it.
            file: || jpeg(Some(&sized_near_limit(true, 100, 300, 2000))),
            options: family,
            create_time: None,
            expect: Expect {
                dto: Some("2010:06:01 12:00:00"),
                repairs: &["freed space reused"],
                ..FAMILY
            },
        },
        Case {
            name: "jpeg_near_64k_exif_drops_the_thumbnail_as_a_last_resort",
            file: || jpeg(Some(&sized_near_limit(false, 60, 20, 3000))),
            options: family,
            create_time: None,
            expect: Expect {
                dto: Some("2010:06:01 12:00:00"),
                repairs: &["3000-byte thumbnail dropped"],
                ..FAMILY
            },
        },
        Case {
            name: "mpo_with_mpf_directory_at_an_odd_offset_keeps_its_images",
            file: || mpo(&camera_tiff(true)),
            options: family,
            create_time: None,
            expect: Expect {
                dto: CAMERA_DTO,
                ..FAMILY
            },
        },
        Case {
            name: "jpeg_odd_length_exif_block_gets_word_aligned_ifds",
            file: || {
                let mut tiff = camera_tiff(false);
                tiff.push(0);
                jpeg(Some(&tiff))
            },
            options: family,
            create_time: Some("2019-03-02T09:11:12.5Z"),
            expect: Expect {
                dto: CAMERA_DTO,
                offset: Some("+01:00"),
                ..FAMILY
            },
        },
        Case {
            name: "jpeg_salvaged_ifd0_is_completed_for_the_validator",
            file: || jpeg(Some(&salvaged_ifd0_tiff())),
            options: family,
            create_time: Some("2020-05-17T10:20:30Z"),
            expect: Expect {
                dto: Some("2020:05:17 10:20:30"),
                offset: Some("+00:00"),
                repairs: &[
                    "claims 32 entries",
                    "PhotometricInterpretation salvaged from a damaged IFD0",
                ],
                ..FAMILY
            },
        },
        Case {
            name: "tiff_is_patched_in_place",
            file: || camera_tiff(false),
            options: family,
            create_time: Some("2019-03-02T09:11:12Z"),
            expect: Expect {
                format: Format::Tiff,
                dto: CAMERA_DTO,
                offset: Some("+01:00"),
                ..FAMILY
            },
        },
        Case {
            // A download cut short after its EXIF (the walk never reaches SOS): the EXIF
            // is still written, and found again where it was written.
            name: "jpeg_cut_before_its_scan_is_still_written",
            file: || {
                let mut file = vec![0xFF, 0xD8];
                file.extend(jfif_app0());
                file.extend(exif_app1(&camera_tiff(true)));
                file
            },
            options: family,
            create_time: None,
            expect: Expect {
                dto: CAMERA_DTO,
                ..FAMILY
            },
        },
        Case {
            name: "jpeg_damaged_byte_order_mark_gets_a_fresh_exif",
            file: || jpeg_parts(&[&jfif_app0(), &exif_app1(&bad_byte_order_tiff())]),
            options: family,
            create_time: Some("2021-02-03T04:05:06Z"),
            expect: Expect {
                dto: Some("2021:02:03 04:05:06"),
                offset: Some("+00:00"),
                repairs: &["TIFF header was damaged"],
                ..FAMILY
            },
        },
        Case {
            name: "jpeg_truncated_tiff_header_gets_a_fresh_exif",
            file: || jpeg_parts(&[&jfif_app0(), &exif_app1(b"MM\0\x2a\0")]),
            options: family,
            create_time: Some("2021-02-03T04:05:06Z"),
            expect: Expect {
                dto: Some("2021:02:03 04:05:06"),
                offset: Some("+00:00"),
                repairs: &["TIFF header was damaged"],
                ..FAMILY
            },
        },
        Case {
            name: "camera_jpeg_little_endian_keeps_maker_note",
            file: || jpeg(Some(&camera_tiff(true))),
            options: family,
            create_time: Some("2019-03-02T09:11:12Z"),
            expect: Expect {
                dto: Some("2019:03:02 10:11:12"),
                offset: Some("+01:00"),
                ..FAMILY
            },
        },
        Case {
            name: "camera_jpeg_big_endian_keeps_maker_note",
            file: || jpeg(Some(&camera_tiff(false))),
            options: family,
            create_time: None,
            expect: Expect {
                dto: Some("2019:03:02 10:11:12"),
                ..FAMILY
            },
        },
        Case {
            name: "jpeg_without_exif_gets_a_new_app1",
            file: || jpeg(None),
            options: berlin,
            create_time: Some("2023-07-01T08:00:00.125Z"),
            expect: Expect {
                dto: Some("2023:07:01 10:00:00"),
                offset: Some("+02:00"),
                subsec: Some("125"),
                ..FAMILY
            },
        },
        Case {
            name: "jpeg_without_exif_and_nothing_asked_is_untouched",
            file: || jpeg(None),
            options: FixOptions::default,
            create_time: None,
            expect: Expect {
                artist: None,
                copyright: None,
                changed: false,
                ..FAMILY
            },
        },
        Case {
            name: "default_options_remove_software",
            file: || jpeg(Some(&camera_tiff(true))),
            options: || FixOptions::default().with_dates(DatePolicy::Keep),
            create_time: None,
            expect: Expect {
                artist: None,
                copyright: None,
                dto: Some("2019:03:02 10:11:12"),
                ..FAMILY
            },
        },
        Case {
            name: "broken_types_duplicates_bad_codes_and_misplaced_date_are_repaired",
            file: || jpeg(Some(&broken_tiff(false))),
            options: family,
            create_time: Some("2004-01-11T21:45:15Z"),
            expect: Expect {
                dto: Some("2004:01:11 22:45:15"),
                offset: Some("+01:00"),
                repairs: &[
                    "bad type code 99",
                    "duplicate",
                    "moved DateTimeOriginal to ExifIFD",
                    "SceneType stored as int16u: converted to undef",
                    "FileSource stored as int16u",
                    "ComponentsConfiguration stored as int16u",
                    "sorted",
                ],
                ..FAMILY
            },
        },
        Case {
            name: "broken_little_endian_too",
            file: || jpeg(Some(&broken_tiff(true))),
            options: family,
            create_time: None,
            expect: Expect {
                dto: Some("2004:01:11 22:45:15"),
                repairs: &["bad type code 99", "moved DateTimeOriginal"],
                ..FAMILY
            },
        },
        Case {
            name: "value_past_the_block_is_dropped",
            file: || jpeg(Some(&past_end_tiff())),
            options: family,
            create_time: None,
            expect: Expect {
                repairs: &["runs outside the EXIF block"],
                ..FAMILY
            },
        },
        Case {
            name: "overwrite_replaces_the_date_with_the_files_offset_source",
            file: || jpeg(Some(&camera_tiff(true))),
            options: || family().with_dates(DatePolicy::Overwrite),
            create_time: Some("2020-02-29T23:30:00Z"),
            expect: Expect {
                dto: Some("2020:02:29 23:30:00"),
                offset: Some("+00:00"),
                ..FAMILY
            },
        },
        Case {
            name: "png_exif_is_patched",
            file: || png(Some(&camera_tiff(false))),
            options: family,
            create_time: None,
            expect: Expect {
                format: Format::Png,
                dto: Some("2019:03:02 10:11:12"),
                ..FAMILY
            },
        },
        Case {
            name: "png_without_exif_gets_an_exif_chunk",
            file: || png(None),
            options: family,
            create_time: Some("2022-12-24T18:00:00Z"),
            expect: Expect {
                format: Format::Png,
                dto: Some("2022:12:24 18:00:00"),
                offset: Some("+00:00"),
                ..FAMILY
            },
        },
        Case {
            name: "webp_exif_with_exif_prefix_is_read_and_the_prefix_dropped",
            file: || webp(Some(&with_exif_prefix(&camera_tiff(true)))),
            options: family,
            create_time: None,
            expect: Expect {
                format: Format::Webp,
                dto: Some("2019:03:02 10:11:12"),
                repairs: &["Exif\\0\\0\" prefix"],
                ..FAMILY
            },
        },
        Case {
            name: "simple_webp_gains_vp8x_and_exif",
            file: || webp(None),
            options: family,
            create_time: Some("2022-06-01T12:00:00Z"),
            expect: Expect {
                format: Format::Webp,
                dto: Some("2022:06:01 12:00:00"),
                offset: Some("+00:00"),
                ..FAMILY
            },
        },
        Case {
            name: "heic_exif_at_the_end_of_mdat",
            file: || Heif::new(Some(&camera_tiff(false))).build(),
            options: family,
            create_time: None,
            expect: HEIC_FAMILY,
        },
        Case {
            name: "heic_exif_at_the_start_of_mdat",
            file: || {
                let mut h = Heif::new(Some(&camera_tiff(true)));
                h.items.rotate_right(1);
                h.build()
            },
            options: family,
            create_time: None,
            expect: HEIC_FAMILY,
        },
        Case {
            name: "heic_exif_and_image_in_several_extents",
            file: || {
                let mut h = Heif::new(Some(&camera_tiff(false)));
                h.items[0].pieces = 2;
                h.items[2].pieces = 3;
                h.build()
            },
            options: family,
            create_time: None,
            expect: HEIC_FAMILY,
        },
        Case {
            name: "heic_iloc_v0_with_base_offset",
            file: || {
                let mut h = Heif::new(Some(&camera_tiff(false)));
                (h.iloc_version, h.base_size, h.relative) = (0, 4, true);
                h.build()
            },
            options: family,
            create_time: None,
            expect: HEIC_FAMILY,
        },
        Case {
            name: "heic_iloc_v2_8_byte_offsets_and_extent_indexes",
            file: || {
                let mut h = Heif::new(Some(&camera_tiff(true)));
                (h.iloc_version, h.offset_size, h.length_size, h.index_size) = (2, 8, 8, 4);
                h.items[0].pieces = 2;
                h.build()
            },
            options: family,
            create_time: None,
            expect: HEIC_FAMILY,
        },
        Case {
            name: "heic_8_byte_base_offsets_without_offset_fields",
            file: || {
                let mut h = Heif::new(Some(&camera_tiff(false)));
                (h.offset_size, h.base_size) = (0, 8);
                h.build()
            },
            options: family,
            create_time: None,
            expect: HEIC_FAMILY,
        },
        Case {
            name: "heic_exif_in_idat_moves_to_mdat",
            file: || {
                // ExifTool cannot read an Exif item in idat ("construction method 1"),
                // so the input's own warnings are unknown to the oracle: a TIFF without
                // a MakerNote keeps the comparison meaningful.
                let mut h = Heif::new(Some(&plain_tiff()));
                h.items[2].in_idat = true;
                h.build()
            },
            options: family,
            create_time: None,
            expect: HEIC_FAMILY,
        },
        Case {
            name: "heic_boxes_between_meta_and_mdat_and_after",
            file: || {
                let mut h = Heif::new(Some(&camera_tiff(false)));
                h.between.push(plain_box(b"free", &[0; 7]));
                h.after.push(plain_box(b"free", b"trailing"));
                h.build()
            },
            options: family,
            create_time: None,
            expect: HEIC_FAMILY,
        },
        Case {
            name: "heic_32_bit_item_ids",
            file: || {
                let mut h = Heif::new(Some(&camera_tiff(false)));
                h.iloc_version = 2;
                for (item, id) in h.items.iter_mut().zip([70_000, 70_001, 70_002]) {
                    item.id = id;
                }
                h.primary = 70_000;
                h.build()
            },
            options: family,
            create_time: None,
            expect: HEIC_FAMILY,
        },
        Case {
            name: "heic_32_bit_item_ids_without_exif_gains_an_exif_item",
            file: || {
                let mut h = Heif::new(None);
                h.iloc_version = 2;
                h.items[0].id = 0x1_0000;
                h.primary = 0x1_0000;
                h.items
                    .push(HeifItem::new(0xFFFF_FF00, b"mime", b"<x/>".to_vec()));
                h.build()
            },
            options: family,
            create_time: Some("2021-02-03T04:05:06Z"),
            expect: Expect {
                format: Format::Heic,
                dto: Some("2021:02:03 04:05:06"),
                offset: Some("+00:00"),
                ..FAMILY
            },
        },
        Case {
            name: "avif_exif_is_written",
            file: || {
                let mut h = Heif::new(Some(&camera_tiff(true)));
                h.brand = *b"avif";
                h.items[0].kind = *b"av01";
                h.build()
            },
            options: family,
            create_time: None,
            expect: Expect {
                format: Format::Avif,
                ..HEIC_FAMILY
            },
        },
        Case {
            name: "heic_without_exif_gains_an_exif_item_and_an_iref",
            file: || Heif::new(None).build(),
            options: berlin,
            create_time: Some("2023-07-01T08:00:00.125Z"),
            expect: Expect {
                format: Format::Heic,
                dto: Some("2023:07:01 10:00:00"),
                offset: Some("+02:00"),
                subsec: Some("125"),
                ..FAMILY
            },
        },
        Case {
            name: "heic_with_xmp_but_no_exif_gains_an_exif_item",
            file: || {
                let mut h = Heif::new(None);
                h.items
                    .push(HeifItem::new(7, b"mime", b"<x:xmpmeta/>".to_vec()));
                h.iloc_version = 0;
                h.build()
            },
            options: family,
            create_time: Some("2021-02-03T04:05:06Z"),
            expect: Expect {
                format: Format::Heic,
                dto: Some("2021:02:03 04:05:06"),
                offset: Some("+00:00"),
                ..FAMILY
            },
        },
        Case {
            name: "heic_without_exif_and_nothing_asked_is_untouched",
            file: || Heif::new(None).build(),
            options: FixOptions::default,
            create_time: None,
            expect: Expect {
                format: Format::Heic,
                artist: None,
                copyright: None,
                changed: false,
                ..FAMILY
            },
        },
    ]
}

fn item(case: &Case) -> ItemContext {
    ItemContext {
        create_time: case.create_time.map(|t| t.parse().unwrap()),
        ..ItemContext::default()
    }
}

fn kamadak_field(file: &[u8], tag: exif::Tag) -> Option<String> {
    let reader = exif::Reader::new();
    let parsed = reader
        .read_from_container(&mut std::io::Cursor::new(file))
        .ok()?;
    let field = parsed.get_field(tag, exif::In::PRIMARY)?;
    match &field.value {
        exif::Value::Ascii(v) => v.first().map(|s| String::from_utf8_lossy(s).into_owned()),
        _ => Some(field.display_value().to_string()),
    }
}

#[test]
fn every_case_reads_fixes_and_rereads_as_asked() {
    for case in cases() {
        let name = case.name;
        let input = (case.file)();
        let options = (case.options)();
        let before = read(&input).unwrap_or_else(|e| panic!("{name}: read before: {e}"));
        assert_eq!(before.format, Some(case.expect.format), "{name}");

        let fixed = fix(&input, &options, &item(&case));
        assert_eq!(fixed.format, case.expect.format, "{name}");
        assert_eq!(
            fixed.changed(),
            case.expect.changed,
            "{name}: {}",
            fixed.report
        );
        let out = fixed.assemble(&input);
        assert_eq!(out.len() as u64, fixed.output_len(), "{name}");
        // The plan from ranges is the whole-buffer fix, however the reads are cut.
        for chunk in [1, 100, 1 << 20] {
            let (planned, _) = planned(&input, &options, &item(&case), chunk);
            assert_eq!(
                planned, fixed,
                "{name}: planned from reads of {chunk} bytes"
            );
        }

        let after = read(&out).unwrap_or_else(|e| panic!("{name}: re-read: {e}"));
        let e = &case.expect;
        assert_eq!(after.artist.as_deref(), e.artist, "{name}: Artist");
        assert_eq!(after.copyright.as_deref(), e.copyright, "{name}: Copyright");
        assert_eq!(
            after.date_time_original.as_deref(),
            e.dto,
            "{name}: DateTimeOriginal"
        );
        assert_eq!(
            after.offset_time_original.as_deref(),
            e.offset,
            "{name}: OffsetTime"
        );
        assert_eq!(
            after.sub_sec_time_original.as_deref(),
            e.subsec,
            "{name}: SubSec"
        );
        if options.remove_software {
            assert_eq!(after.software, None, "{name}: Software");
        }
        if e.offset.is_some() {
            let v: u32 = after.exif_version.as_deref().unwrap().parse().unwrap();
            assert!(v >= 232, "{name}: ExifVersion {v}");
        }
        for wanted in e.repairs {
            assert!(
                fixed.report.repairs.iter().any(|r| r.what.contains(wanted)),
                "{name}: no repair mentions {wanted:?}:\n{}",
                fixed.report
            );
        }
        assert!(
            after.problems.is_empty(),
            "{name}: still broken: {:?}",
            after.problems
        );

        // Properties: bytes outside the EXIF payload identical; idempotent.
        if e.format == Format::Jpeg && fixed.changed() {
            assert!(
                only_exif_segment_differs(&input, &out),
                "{name}: bytes outside the EXIF segment changed"
            );
        } else if e.format == Format::Tiff {
            assert!(
                tiff_patched_in_place(&input, &out),
                "{name}: an original byte moved or changed"
            );
        } else if matches!(e.format, Format::Heic | Format::Avif) {
            assert!(
                heif_only_exif_item_differs(&input, &out),
                "{name}: an item other than Exif changed"
            );
        } else {
            assert_eq!(
                without_exif(&input),
                without_exif(&out),
                "{name}: bytes outside EXIF"
            );
        }
        let again = fix(&out, &options, &item(&case));
        assert!(
            !again.changed(),
            "{name}: second fix changed:\n{}",
            again.report
        );
        assert_eq!(again.assemble(&out), out, "{name}: fix(fix(x)) != fix(x)");

        // An independent reader agrees (kamadak-exif trusts segment lengths, so it
        // cannot see past one that runs over the next marker: no second opinion there).
        let overran = name.contains("overrunning");
        if e.changed && e.format == Format::Jpeg && !overran {
            assert_eq!(
                kamadak_field(&out, exif::Tag::Artist).as_deref(),
                e.artist,
                "{name}: kamadak-exif Artist"
            );
            assert_eq!(
                kamadak_field(&out, exif::Tag::Software),
                None,
                "{name}: kamadak Software"
            );
        }
    }
}

#[test]
fn maker_note_offsets_stay_valid() {
    for le in [true, false] {
        let tiff = camera_tiff(le);
        let original = maker_note_inner_value(&tiff).unwrap();
        assert_eq!(&original[..9], b"MAKERNOTE");
        let input = jpeg(Some(&tiff));
        let fixed = fix(&input, &berlin(), &ItemContext::default());
        let out = fixed.assemble(&input);
        let app1 = out.windows(6).position(|w| w == b"Exif\0\0").unwrap() + 6;
        let len = u16::from_be_bytes([out[app1 - 8], out[app1 - 7]]) as usize;
        let new_tiff = &out[app1..app1 - 8 + 2 + len];
        assert_eq!(
            maker_note_inner_value(new_tiff).unwrap(),
            original,
            "le={le}"
        );
        let meta = read(&out).unwrap();
        assert_eq!(meta.maker_note_len, read(&input).unwrap().maker_note_len);
        assert_eq!(
            meta.byte_order,
            read(&input).unwrap().byte_order,
            "byte order kept"
        );
    }
}

#[test]
fn removed_software_string_does_not_linger() {
    let input = jpeg(Some(&camera_tiff(true)));
    let out = fix(&input, &FixOptions::default(), &ItemContext::default()).assemble(&input);
    let needle = b"Firmware Version 1.1.1";
    assert!(input.windows(needle.len()).any(|w| w == needle));
    assert!(!out.windows(needle.len()).any(|w| w == needle));
}

#[test]
fn heic_named_jpeg_is_saved_as_jpg() {
    let input = jpeg(Some(&camera_tiff(true)));
    let item = ItemContext::default()
        .with_filename("IMG_0001.HEIC")
        .with_mime_type("image/heic");
    let fixed = fix(&input, &FixOptions::default(), &item);
    assert_eq!(fixed.format, Format::Jpeg);
    assert_eq!(fixed.extension(), "jpg");
    assert_eq!(fixed.file_name("IMG_0001.HEIC"), "IMG_0001.jpg");
    assert_eq!(fixed.file_name("IMG_0001.JPEG"), "IMG_0001.JPEG");
    assert_eq!(fixed.file_name("noext"), "noext.jpg");
    let c = fixed
        .report
        .changes
        .iter()
        .find(|c| c.field == "file extension")
        .unwrap();
    assert_eq!(
        (c.before.as_deref(), c.after.as_deref()),
        (Some("HEIC"), Some("jpg"))
    );
    assert!(
        fixed
            .report
            .warnings
            .iter()
            .any(|w| w.kind == WarningKind::MimeTypeMismatch && w.message.contains("image/heic"))
    );
}

#[test]
fn truncated_and_garbage_input_pass_through_unchanged() {
    let full = jpeg(Some(&camera_tiff(true)));
    let options = berlin();
    let item = ItemContext::default().with_create_time("2020-01-01T00:00:00Z".parse().unwrap());
    for len in [0, 1, 2, 3, 4, 10, 30, 60, 100, 200, 400, full.len() - 1] {
        let input = &full[..len.min(full.len())];
        let fixed = fix(input, &options, &item);
        let out = fixed.assemble(input);
        if fixed.changed() {
            // What is written must read back.
            read(&out).unwrap_or_else(|e| panic!("len {len}: {e}"));
        } else {
            assert_eq!(out, input, "len {len}");
        }
    }
    for garbage in [
        &b"GIF89a\x01\x00"[..],
        b"\0\0\0\0\0\0\0\0",
        b"RIFF\xff\xff\xff\xffWEBPVP8X",
    ] {
        let fixed = fix(garbage, &options, &item);
        assert_eq!(fixed.assemble(garbage), garbage);
    }
    let fixed = fix(b"hello", &options, &item);
    assert_eq!(fixed.format, Format::Unknown);
    assert!(matches!(
        fixed.outcome(),
        Outcome::CouldNotEdit(ref n) if n.kind == NotDoneKind::UnknownFormat
    ));
    assert_eq!(
        read(b"hello").unwrap_err().kind(),
        metafix::ErrorKind::UnknownFormat
    );
}

#[test]
fn mp4_zeroed_dates_are_fixed_in_place() {
    let input = mp4(0);
    let create: jiff::Timestamp = "2021-05-06T07:08:09Z".parse().unwrap();
    let item = ItemContext::default().with_create_time(create);
    let fixed = fix(&input, &FixOptions::default(), &item);
    assert_eq!(fixed.format, Format::Mp4);
    assert!(fixed.changed());
    let out = fixed.assemble(&input);
    assert_eq!(out.len(), input.len(), "no byte moves");
    let differing = input.iter().zip(&out).filter(|(a, b)| a != b).count();
    assert!(
        differing > 0 && differing <= 3 * 8,
        "only date fields change: {differing}"
    );
    assert_eq!(read(&out).unwrap().movie_created, Some(create));
    assert_eq!(fixed.report.changes.len(), 6, "{}", fixed.report);
    assert_eq!(fixed.capture_time(), Some(create));
    // Idempotent, and real dates are kept under Fill.
    assert!(!fix(&out, &FixOptions::default(), &item).changed());
    let dated = mp4(3_000_000_000);
    assert!(!fix(&dated, &FixOptions::default(), &item).changed());
    assert!(
        fix(
            &dated,
            &FixOptions::default().with_dates(DatePolicy::Overwrite),
            &item
        )
        .changed()
    );
}

#[test]
fn capture_time_comes_from_the_file_when_it_states_one() {
    let input = jpeg(Some(&camera_tiff(true)));
    // The file says 10:11:12 local; createTime says 09:11:12Z: offset +01:00.
    let item = ItemContext::default().with_create_time("2019-03-02T09:11:12Z".parse().unwrap());
    let fixed = fix(&input, &FixOptions::default(), &item);
    assert_eq!(
        fixed.capture_time(),
        Some("2019-03-02T09:11:12Z".parse().unwrap())
    );
    assert_eq!(
        fixed.report.date_source,
        Some(metafix::DateSource::FileLocalTime)
    );
}

#[test]
fn options_validate_time_zones_and_tag_names() {
    let err = FixOptions::default()
        .with_time_zone("Mars/Olympus_Mons")
        .unwrap_err();
    assert_eq!(err.kind(), metafix::ErrorKind::InvalidTimeZone);
    let err = FixOptions::default()
        .with_removed_tag("NoSuchTag")
        .unwrap_err();
    assert_eq!(err.kind(), metafix::ErrorKind::InvalidTagName);
    let options = FixOptions::default()
        .with_removed_tag("Make")
        .unwrap()
        .with_removed_tag("0x0110")
        .unwrap();
    let input = jpeg(Some(&camera_tiff(false)));
    let out = fix(&input, &options, &ItemContext::default()).assemble(&input);
    let meta = read(&out).unwrap();
    assert_eq!((meta.make, meta.model), (None, None));
}

#[test]
fn report_serializes_and_renders() {
    let input = jpeg(Some(&broken_tiff(true)));
    let fixed = fix(&input, &family(), &ItemContext::default());
    let json = serde_json::to_string(&fixed.report).unwrap();
    let back: metafix::Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, fixed.report);
    let text = fixed.report.to_string();
    assert!(text.contains("Software"), "{text}");
    assert!(text.contains("repair"), "{text}");
}

#[test]
fn app1_limit_is_checked_and_reported() {
    // A block just under the limit: adding Artist pushes it over.
    let mut t = Tiff::new(true);
    let big = vec![b'x'; 65_480];
    let ifd0 = t.ifd(&[t.undef(0xc4a5, &big)], 0);
    let tiff = t.finish(ifd0);
    let input = jpeg(Some(&tiff));
    let fixed = fix(
        &input,
        &FixOptions::default().with_artist("A long artist name for the test"),
        &ItemContext::default(),
    );
    assert!(!fixed.changed());
    assert!(
        fixed
            .report
            .not_done
            .iter()
            .any(|n| n.kind == NotDoneKind::TooLarge && n.why.contains("65533")),
        "{}",
        fixed.report
    );
    assert!(fixed.report.changes.is_empty());
    assert!(
        matches!(fixed.outcome(), Outcome::CouldNotEdit(ref n) if n.kind == NotDoneKind::TooLarge),
        "an over-full APP1 is a file that could not be edited, not one already as asked"
    );
}

/// Fuzz crash 336c1f5c: a WebP whose last chunk has an odd size and no pad byte got
/// EXIF appended right after it, so a reader (and the second fix) took the EXIF
/// chunk's first byte as the missing pad and lost the chunk.
#[test]
fn webp_missing_final_pad_byte_is_supplied_before_appending() {
    let mut input = webp(Some(b"XXXX")); // extended file with a dummy EXIF chunk
    // Rename the EXIF chunk so the file has none, and end on an odd-sized chunk.
    let at = input.windows(4).position(|w| w == b"EXIF").unwrap();
    input[at..at + 4].copy_from_slice(b"JUNK");
    input.extend_from_slice(b"ABCD\x03\0\0\0xyz"); // odd size 3, pad byte missing
    let riff = (input.len() - 8) as u32;
    input[4..8].copy_from_slice(&riff.to_le_bytes());
    let options = family();
    let fixed = fix(&input, &options, &ItemContext::default());
    assert!(fixed.changed());
    let out = fixed.assemble(&input);
    assert_eq!(read(&out).unwrap().artist.as_deref(), Some("Grace Hopper"));
    assert!(!fix(&out, &options, &ItemContext::default()).changed());
    assert_eq!(
        u32::from_le_bytes(out[4..8].try_into().unwrap()) as usize,
        out.len() - 8
    );
}

/// The fuzz crash file itself (metafix/fuzz/artifacts, not committed): rebuilt here.
#[test]
fn fuzz_crash_336c1f5c_webp_is_idempotent() {
    let input: &[u8] = b"RIFFZ\0\0\0WEBPVP8X\x0a\0\0\0\x18\0\0\0\x02\0\0EBPVP8X\x0a\0\0\0\x18\0\0\0\x02\0\0\x02\0\0\
VP8L\x0d\0\0\0/\x02\x80\0\x10\x07\x10\x11\x11\x88\x88\xfe\x07\0EXI\xf8%\0\0\0Exif\0\0MM\0*\0\0\0:\x08\0\0\x01\
\x0f\0\x02\0\0\x93\x05\0\0\0\x1a\0\0\0\0ma\x02\0\0VP8L\x0d\0\0\0af*r\x01\0\0\x01dar_e";
    assert_eq!(input.len(), 137);
    let options = family();
    let item = ItemContext::default().with_create_time("2020-09-13T12:28:21Z".parse().unwrap());
    let fixed = fix(input, &options, &item);
    let out = fixed.assemble(input);
    read(&out).unwrap();
    let again = fix(&out, &options, &item);
    assert!(!again.changed(), "{}", again.report);
}

#[test]
fn heic_exif_is_written_and_a_heic_named_jpg_gets_its_extension() {
    let input = heic(&camera_tiff(false));
    let meta = read(&input).unwrap();
    assert_eq!(meta.format, Some(Format::Heic));
    assert_eq!(meta.make.as_deref(), Some("Canon"));
    let item = ItemContext::default()
        .with_create_time("2019-03-02T09:11:12Z".parse().unwrap())
        .with_filename("IMG_0001.jpg");
    let fixed = fix(&input, &berlin(), &item);
    assert_eq!(fixed.outcome(), Outcome::Changed, "{}", fixed.report);
    assert_eq!(fixed.extension(), "heic");
    assert_eq!(fixed.file_name("IMG_0001.jpg"), "IMG_0001.heic");
    assert_eq!(fixed.file_name("IMG_0001.HEIC"), "IMG_0001.HEIC");
    // A new meta and mdat between copies of the input: a few KB of new bytes.
    assert!(
        fixed.new_bytes() < 8 * 1024,
        "{} new bytes",
        fixed.new_bytes()
    );
    let copied: u64 = fixed
        .pieces()
        .iter()
        .filter_map(|p| match p {
            Piece::Copy(r) => Some(r.end - r.start),
            Piece::Bytes(_) => None,
        })
        .sum();
    assert!(
        copied + 8 * 1024 > input.len() as u64,
        "{:?}",
        fixed.pieces()
    );
    let out = fixed.assemble(&input);
    let after = read(&out).unwrap();
    assert_eq!(after.artist.as_deref(), Some("Grace Hopper"));
    assert_eq!(after.software, None);
    assert_eq!(after.make.as_deref(), Some("Canon"));
    assert_eq!(after.maker_note_len, meta.maker_note_len);
    // Berlin in March is +01:00: the file's local time is the instant createTime says.
    assert_eq!(fixed.capture_time(), item.create_time);
    assert!(heif_only_exif_item_differs(&input, &out));
    let saved = ItemContext {
        filename: Some("IMG_0001.heic".to_owned()),
        ..item
    };
    let again = fix(&out, &berlin(), &saved);
    assert_eq!(again.outcome(), Outcome::AlreadyAsAsked, "{}", again.report);
}

#[test]
fn heic_old_exif_bytes_do_not_linger() {
    for exif_first in [false, true] {
        let mut h = Heif::new(Some(&camera_tiff(true)));
        if exif_first {
            h.items.rotate_right(1);
        }
        let input = h.build();
        let out = fix(&input, &family(), &ItemContext::default()).assemble(&input);
        let needle = b"Firmware Version 1.1.1";
        assert!(input.windows(needle.len()).any(|w| w == needle));
        assert!(!out.windows(needle.len()).any(|w| w == needle));
        assert!(heif_only_exif_item_differs(&input, &out));
    }
}

/// Found by cargo-fuzz (crash-db22edba): an Exif item whose extent points at the file's
/// start had its old bytes zeroed there, `ftyp` included, and the output was no HEIC.
#[test]
fn fuzz_crash_db22edba_exif_extent_into_ftyp_leaves_the_structure_alone() {
    let mut input = Heif::new(Some(&camera_tiff(true))).build();
    let at = input.windows(4).position(|w| w == b"iloc").unwrap() - 4;
    let end = at + u32::from_be_bytes(input[at..at + 4].try_into().unwrap()) as usize;
    // The last entry is the Exif item's, with one extent: offset and length last.
    input[end - 8..end].copy_from_slice(&[0, 0, 0, 4, 0, 0, 0, 20]);
    let fixed = fix(&input, &family(), &ItemContext::default());
    assert!(fixed.changed(), "{}", fixed.report);
    let out = fixed.assemble(&input);
    assert_eq!(out[..24], input[..24], "ftyp changed");
    assert_eq!(read(&out).unwrap().artist.as_deref(), Some("Grace Hopper"));
    assert!(heif_only_exif_item_differs(&input, &out));
    assert!(!fix(&out, &family(), &ItemContext::default()).changed());
}

#[test]
fn heif_layouts_that_cannot_be_patched_are_refused_with_the_reason() {
    let tiff = camera_tiff(false);
    // What is wrong, how to make it so, and what the reason must say.
    type Refusal = (&'static str, fn(&mut Heif), &'static str);
    let refused: [Refusal; 6] = [
        (
            "a movie box",
            |h| h.between.push(plain_box(b"moov", &[0; 8])),
            "moov box",
        ),
        (
            "a derived item",
            |h| h.items[1].method = Some(2),
            "construction method 2",
        ),
        (
            "two meta boxes",
            |h| h.after.push(plain_box(b"meta", &[0; 4])),
            "more than one top-level meta",
        ),
        (
            "two Exif items",
            |h| {
                let extra = HeifItem::exif(9, &camera_tiff(true));
                h.items.push(extra);
            },
            "more than one Exif item",
        ),
        (
            "an iloc without offset fields",
            |h| (h.offset_size, h.base_size) = (0, 0),
            "no offset fields",
        ),
        (
            "an iloc without length fields",
            |h| h.length_size = 0,
            "no length fields",
        ),
    ];
    for (what, change, reason) in refused {
        let mut h = Heif::new(Some(&tiff));
        change(&mut h);
        let input = h.build();
        let fixed = fix(&input, &family(), &ItemContext::default());
        assert!(!fixed.changed(), "{what}");
        match fixed.outcome() {
            Outcome::CouldNotEdit(why) => {
                assert_eq!(why.kind, NotDoneKind::WriteFailed, "{what}");
                assert!(why.why.contains(reason), "{what}: {}", why.why);
            }
            other => panic!("{what}: {other}"),
        }
        assert_eq!(fixed.assemble(&input), input, "{what}");
    }
}

#[test]
fn mov_brand_is_a_mov_and_its_dates_are_fixed() {
    let mut input = mp4(0);
    input[8..12].copy_from_slice(b"qt  ");
    let item = ItemContext::default().with_create_time("2010-01-02T03:04:05Z".parse().unwrap());
    let fixed = fix(&input, &FixOptions::default(), &item);
    assert_eq!((fixed.format, fixed.extension()), (Format::Mov, "mov"));
    assert_eq!(fixed.file_name("clip.mp4"), "clip.mov");
    assert_eq!(
        read(&fixed.assemble(&input)).unwrap().movie_created,
        item.create_time
    );
}

/// ExifTool gives IFD1 the directory length it gave IFD0 (block end minus IFD0's
/// offset) and warns "Short directory size for IFD1" when IFD1's table is longer: the
/// appended IFD0 must leave at least that much room after it.
#[test]
fn appended_ifd0_leaves_room_for_ifd1s_table() {
    for le in [true, false] {
        let mut t = Tiff::new(le);
        let ifd1_entries: Vec<E> = (0..20).map(|i| t.short(0x0300 + i, &[1])).collect();
        let ifd1 = t.ifd(&ifd1_entries, 0);
        let ifd0 = t.ifd(&[t.ascii(0x0131, "Tiny")], ifd1);
        let original = t.finish(ifd0);
        let input = jpeg(Some(&original));
        let out = fix(&input, &FixOptions::default(), &ItemContext::default()).assemble(&input);
        let tiff = jpeg_exif_payload(&out).unwrap();
        let at = |p: usize| {
            let b: [u8; 4] = tiff[p..p + 4].try_into().unwrap();
            (if le {
                u32::from_le_bytes(b)
            } else {
                u32::from_be_bytes(b)
            }) as usize
        };
        let new_ifd0 = at(4);
        assert!(
            new_ifd0 >= original.len(),
            "IFD0 was appended after the old block"
        );
        assert!(
            tiff.len() - new_ifd0 >= 2 + 12 * 20,
            "le={le}: {} bytes after IFD0",
            tiff.len() - new_ifd0
        );
        let meta = read(&out).unwrap();
        assert_eq!(meta.software, None);
        assert_eq!(
            meta.tags
                .iter()
                .filter(|t| t.ifd == metafix::Ifd::Ifd1)
                .count(),
            20
        );
    }
}

/// The ExifTool oracle on the generated cases (needs no corpus): no warning after the
/// fix that was not there before.
#[test]
fn exiftool_finds_no_new_warnings_in_generated_cases() {
    if !have_exiftool() {
        eprintln!("SKIPPED: exiftool is not installed (apt-get install libimage-exiftool-perl)");
        return;
    }
    let scratch = std::env::temp_dir().join(format!("metafix-fixtures-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let (mut inputs, mut outputs, mut reports) = (Vec::new(), Vec::new(), Vec::new());
    let mut written = Vec::new();
    for (i, case) in cases().into_iter().enumerate() {
        let input = (case.file)();
        let fixed = fix(&input, &(case.options)(), &item(&case));
        written.push(fixed.changed());
        let ext = fixed.extension();
        let (a, b) = (
            scratch.join(format!("{i}-in.{ext}")),
            scratch.join(format!("{i}-out.{ext}")),
        );
        std::fs::write(&a, &input).unwrap();
        std::fs::write(&b, fixed.assemble(&input)).unwrap();
        inputs.push(a);
        outputs.push(b);
        reports.push((case.name, fixed.report));
    }
    let before = exiftool(&inputs, &scratch, "before");
    let after = exiftool(&outputs, &scratch, "after");
    // ExifTool as a writer of the same cases (Artist and Copyright), for the coverage
    // table: the classes of this issue are files ExifTool writes too.
    let by_exiftool = exiftool_write_all(
        &inputs,
        &scratch,
        "exiftool",
        "Grace Hopper",
        "(c) Hopper family",
    );
    let exiftool_outputs: Vec<_> = by_exiftool.iter().filter_map(|r| r.clone().ok()).collect();
    let after_exiftool = exiftool(&exiftool_outputs, &scratch, "exiftool-after");
    let mut coverage = Coverage {
        label: "the generated fixtures (the case table)".to_owned(),
        files: inputs.len(),
        exiftool_writes: exiftool_outputs.len(),
        metafix_writes: written.iter().filter(|w| **w).count(),
        ..Coverage::default()
    };
    let mut failures = Vec::new();
    for (i, ((a, b), (name, report))) in inputs.iter().zip(&outputs).zip(&reports).enumerate() {
        let (sa, sb) = (&before[a], &after[b]);
        let renamed = renamed_warnings(sb, report);
        let was = comparable_before(sa, report);
        let new: Vec<&String> = renamed.difference(&was).collect();
        if !new.is_empty() {
            coverage.new_warning_files_metafix += 1;
            failures.push(format!("{name}: new warnings {new:?}"));
        }
        match (&by_exiftool[i], written[i]) {
            (Ok(out), wrote) => {
                if after_exiftool[out]
                    .warnings
                    .difference(&sa.warnings)
                    .next()
                    .is_some()
                {
                    coverage.new_warning_files_exiftool += 1;
                }
                if !wrote {
                    coverage
                        .only_exiftool
                        .push((name.to_string(), report.outcome().to_string()));
                }
            }
            (Err(why), true) => coverage.only_metafix.push((name.to_string(), why.clone())),
            (Err(_), false) => {}
        }
        assert!(sb.maker_note_tags >= sa.maker_note_tags, "{name}");
        if name.starts_with("broken_types") {
            // The oracle sees the defects, and sees them gone.
            let wrong_ifd = |s: &Seen| s.warnings.iter().any(|w| w.starts_with("Wrong IFD"));
            assert!(
                wrong_ifd(sa) && !wrong_ifd(sb),
                "{name}: {:?} -> {:?}",
                sa.warnings,
                sb.warnings
            );
        }
    }
    println!("{coverage}");
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A deterministic mini-fuzzer for every CI run (cargo-fuzz needs nightly flags):
/// mutated cases must never panic, and what is written must re-read and be final.
#[test]
fn mutated_cases_never_panic_and_stay_idempotent() {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let item = ItemContext::default().with_create_time("2021-03-04T05:06:07Z".parse().unwrap());
    for case in cases() {
        let original = (case.file)();
        let options = (case.options)();
        for round in 0..300 {
            let mut input = original.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % input.len().max(1);
                match next() % 4 {
                    0 if !input.is_empty() => input[at] = next() as u8,
                    1 if !input.is_empty() => input[at] ^= 1 << (next() % 8),
                    2 => input.truncate(at),
                    _ if input.len() > at + 4 => {
                        let v = (next() as u32).to_le_bytes();
                        input[at..at + 4].copy_from_slice(&v);
                    }
                    _ => {}
                }
            }
            let fixed = fix(&input, &options, &item);
            let out = fixed.assemble(&input);
            assert_eq!(out.len() as u64, fixed.output_len());
            if fixed.changed() {
                let name = case.name;
                read(&out).unwrap_or_else(|e| panic!("{name} round {round}: {e}"));
                let again = fix(&out, &options, &item);
                assert!(
                    !again.changed(),
                    "{name} round {round}: not idempotent\n{}\n{}",
                    fixed.report,
                    again.report
                );
            }
        }
    }
}

#[test]
fn camera_mismatch_with_the_picker_is_a_warning() {
    let input = jpeg(Some(&camera_tiff(true)));
    let item = ItemContext {
        camera_make: Some("canon".to_owned()),
        camera_model: Some("Pixel 7".to_owned()),
        ..ItemContext::default()
    };
    let fixed = fix(&input, &FixOptions::default(), &item);
    let warnings = &fixed.report.warnings;
    assert!(
        !warnings.iter().any(|w| w.message.contains("make")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.kind == WarningKind::CameraMismatch && w.message.contains("Pixel 7")),
        "{warnings:?}"
    );
}

/// Fuzzing showed a 2 GB memory peak: an `iloc` entry listing the Exif item's extent
/// thousands of times made the reader concatenate far more than the file holds.
#[test]
fn heif_exif_item_larger_than_the_file_is_refused() {
    let tiff = camera_tiff(true);
    assert!(read(&heic_extents(&tiff, 1)).unwrap().exif_len.is_some());
    let input = heic_extents(&tiff, 4000);
    let meta = read(&input).unwrap();
    assert!(
        meta.exif_len.is_none_or(|l| l <= input.len()),
        "{:?}",
        meta.exif_len
    );
}

#[test]
fn removed_gps_leaves_no_location_bytes() {
    let mut t = Tiff::new(true);
    let mut lat = Vec::new();
    for (n, d) in [(48u32, 1u32), (51, 1), (2952, 100)] {
        lat.extend(t.u32(n));
        lat.extend(t.u32(d));
    }
    let gps = t.ifd(
        &[
            E {
                tag: 0x0000,
                typ: BYTE,
                count: 4,
                data: vec![2, 3, 0, 0],
            },
            t.ascii(0x0001, "N"),
            E {
                tag: 0x0002,
                typ: RATIONAL,
                count: 3,
                data: lat.clone(),
            },
        ],
        0,
    );
    let ifd0 = t.ifd(&[t.ascii(0x010f, "Phone"), t.long(0x8825, gps)], 0);
    let input = jpeg(Some(&t.finish(ifd0)));
    assert!(read(&input).unwrap().gps);
    let options = FixOptions::default().with_removed_tag("GPSInfo").unwrap();
    let out = fix(&input, &options, &ItemContext::default()).assemble(&input);
    let meta = read(&out).unwrap();
    assert!(!meta.gps);
    assert_eq!(meta.make.as_deref(), Some("Phone"));
    assert!(
        !out.windows(lat.len()).any(|w| w == lat),
        "the latitude bytes are gone"
    );
}

#[test]
fn jpeg_overrun_that_reads_two_ways_is_refused_with_the_reason() {
    // The COM segment runs past the end of the file. Inside it, an APP1 starts a chain
    // of segments to the real SOS, and a DQT inside that APP1 starts another chain
    // (through a frame header) to a SOS of its own: two readings of the same bytes, so
    // nothing is guessed.
    let mut inner = b"http://ns.example/\0".to_vec();
    inner.extend(segment(0xDB, &[0, 1, 2]));
    inner.extend(sof0());
    inner.extend_from_slice(&[0xFF, 0xDA, 0, 2]);
    let input = jpeg_parts(&[
        &jfif_app0(),
        &lying_com(0x7000, b"x"),
        &segment(0xE1, &inner),
    ]);
    let fixed = fix(&input, &family(), &ItemContext::default());
    assert!(!fixed.changed(), "{}", fixed.report);
    assert_eq!(fixed.assemble(&input), input);
    assert!(
        fixed
            .report
            .not_done
            .iter()
            .any(|n| n.kind == NotDoneKind::UnreadableStructure
                && n.why.contains("two ways")
                && n.why.contains("byte 20")),
        "{}",
        fixed.report
    );
}

#[test]
fn jpeg_stray_bytes_leading_nowhere_are_refused_with_the_reason() {
    // After the APP0, bytes that never reach a marker: not a JPEG header.
    let mut input = vec![0xFF, 0xD8];
    input.extend(jfif_app0());
    input.extend_from_slice(b"no marker follows these bytes at all");
    let fixed = fix(&input, &family(), &ItemContext::default());
    assert!(!fixed.changed());
    assert!(
        fixed
            .report
            .not_done
            .iter()
            .any(|n| n.kind == NotDoneKind::UnreadableStructure
                && n.why
                    .contains("byte 2 is followed by bytes that lead to no marker")),
        "{}",
        fixed.report
    );
}

#[test]
fn jpeg_stray_bytes_are_reported() {
    let input = jpeg_parts(&[&jfif_app0(), &segment(0xFE, b"c"), b"hello"]);
    let fixed = fix(&input, &family(), &ItemContext::default());
    assert!(
        fixed
            .report
            .warnings
            .iter()
            .any(|w| w.kind == WarningKind::StrayBytes && w.message.contains("5 stray byte(s)")),
        "{}",
        fixed.report
    );
}

#[test]
fn mpo_keeps_its_extension() {
    let input = jpeg(Some(&camera_tiff(true)));
    let item = ItemContext::default().with_filename("DSCF0001.MPO");
    let fixed = fix(&input, &family(), &item);
    assert_eq!(fixed.file_name("DSCF0001.MPO"), "DSCF0001.MPO");
    assert!(
        !fixed
            .report
            .changes
            .iter()
            .any(|c| c.field == "file extension"),
        "{}",
        fixed.report
    );
    assert_eq!(Format::from_extension("mpo"), Some(Format::Jpeg));
}

#[test]
fn outcome_tells_changed_already_as_asked_and_could_not_apart() {
    let options = family();
    let item = ItemContext::default();
    let input = jpeg(Some(&camera_tiff(true)));
    let first = fix(&input, &options, &item);
    assert_eq!(first.outcome(), Outcome::Changed);
    let out = first.assemble(&input);
    let second = fix(&out, &options, &item);
    assert_eq!(
        second.outcome(),
        Outcome::AlreadyAsAsked,
        "{}",
        second.report
    );
    // Bytes after the APP0 that lead to no marker: the file cannot be edited.
    let mut broken = vec![0xFF, 0xD8];
    broken.extend(jfif_app0());
    broken.extend_from_slice(b"????");
    let third = fix(&broken, &options, &item);
    assert!(!third.changed());
    assert!(
        matches!(third.outcome(), Outcome::CouldNotEdit(ref n) if n.kind == NotDoneKind::UnreadableStructure),
        "{}",
        third.report
    );
    assert!(third.report.to_string().contains("could not be edited"));
}

#[test]
fn local_file_without_create_time_reports_no_offset_mismatch() {
    // A camera file without an offset, fixed with no createTime and no time zone:
    // nothing to compare the file's time with, so nothing is "not done".
    let input = jpeg(Some(&camera_tiff(true)));
    let fixed = fix(&input, &family(), &ItemContext::default());
    assert!(
        !fixed
            .report
            .not_done
            .iter()
            .any(|n| n.kind == NotDoneKind::NoOffsetSource),
        "{}",
        fixed.report
    );
    assert_eq!(fixed.outcome(), Outcome::Changed);
    // With a createTime that does not match, it is said.
    let item = ItemContext::default().with_create_time("2001-01-01T00:00:00Z".parse().unwrap());
    let fixed = fix(&input, &family(), &item);
    assert!(
        fixed
            .report
            .not_done
            .iter()
            .any(|n| n.kind == NotDoneKind::NoOffsetSource),
        "{}",
        fixed.report
    );
}

#[test]
fn near_64k_exif_keeps_maker_note_and_vendor_sub_ifd_and_reports_dropped_thumbnail() {
    for (tiff, thumbnail_dropped) in [
        (sized_near_limit(true, 100, 300, 2000), false),
        (sized_near_limit(false, 60, 20, 3000), true),
    ] {
        let input = jpeg(Some(&tiff));
        let fixed = fix(&input, &family(), &ItemContext::default());
        assert_eq!(fixed.outcome(), Outcome::Changed, "{}", fixed.report);
        let out = fixed.assemble(&input);
        let after = jpeg_exif_payload(&out).unwrap();
        assert!(after.len() <= 65_527, "{}", after.len());
        assert_eq!(
            maker_note_inner_value(&after),
            maker_note_inner_value(&tiff),
            "the MakerNote's absolute offset still finds its value"
        );
        assert!(maker_note_inner_value(&after).is_some());
        assert_eq!(
            sub_ifd_table(&after),
            sub_ifd_table(&tiff),
            "vendor SubIFD kept"
        );
        let dropped = fixed
            .report
            .warnings
            .iter()
            .any(|w| w.kind == WarningKind::ThumbnailDropped);
        assert_eq!(dropped, thumbnail_dropped, "{}", fixed.report);
        let ifd1_tags = read(&out)
            .unwrap()
            .tags
            .iter()
            .filter(|t| t.ifd == metafix::Ifd::Ifd1)
            .count();
        assert_eq!(ifd1_tags == 0, thumbnail_dropped);
    }
}

#[test]
fn exif_that_cannot_fit_is_refused_naming_the_size() {
    // No Software to free, a tiny thumbnail: even dropped, the new IFD0 does not fit.
    let input = jpeg(Some(&sized_near_limit(true, 1, 0, 4)));
    let fixed = fix(&input, &family(), &ItemContext::default());
    assert!(!fixed.changed());
    let Outcome::CouldNotEdit(why) = fixed.outcome() else {
        panic!("{}", fixed.report)
    };
    assert_eq!(why.kind, NotDoneKind::TooLarge);
    assert!(
        why.why.contains("65533") && why.why.contains("MakerNote"),
        "{}",
        why.why
    );
    assert!(
        why.why
            .split(|c: char| !c.is_ascii_digit())
            .any(|n| n.parse::<usize>().is_ok_and(|n| n > 65_533)),
        "the size it would have is named: {}",
        why.why
    );
}

#[test]
fn mpo_images_are_found_after_the_fix() {
    let input = mpo(&camera_tiff(true));
    let images = mpf_images(&input).unwrap();
    assert_eq!(images.len(), 1);
    assert!(images[0].starts_with(&[0xFF, 0xD8]) && images[0].ends_with(&[0xFF, 0xD9]));
    let fixed = fix(&input, &family(), &ItemContext::default());
    let out = fixed.assemble(&input);
    assert_eq!(
        mpf_images(&out),
        Some(images),
        "the MPF entries lead to the same images"
    );
}

#[test]
fn written_values_and_tables_are_word_aligned() {
    // An odd-length block: what is appended must still start on even offsets.
    let mut tiff = camera_tiff(true);
    tiff.push(0);
    let input = jpeg(Some(&tiff));
    let item = ItemContext::default().with_create_time("2019-03-02T09:11:12.5Z".parse().unwrap());
    let fixed = fix(&input, &berlin(), &item);
    let out = jpeg_exif_payload(&fixed.assemble(&input)).unwrap();
    let le = out.starts_with(b"II");
    let u16_at = |p: usize| {
        let b = [out[p], out[p + 1]];
        if le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    };
    let u32_at = |p: usize| {
        let b = [out[p], out[p + 1], out[p + 2], out[p + 3]];
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let ifd0 = u32_at(4) as usize;
    assert_eq!(ifd0 % 2, 0, "IFD0 at {ifd0}");
    let mut tables = vec![ifd0];
    let mut checked = 0;
    while let Some(at) = tables.pop() {
        let n = u16_at(at) as usize;
        for i in 0..n {
            let e = at + 2 + 12 * i;
            let (tag, typ, count) = (u16_at(e), u16_at(e + 2), u32_at(e + 4));
            let size = [0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8][usize::from(typ).min(12)];
            let off = u32_at(e + 8) as usize;
            if tag == 0x8769 {
                assert_eq!(off % 2, 0, "Exif IFD at {off}");
                tables.push(off);
            } else if size * count as usize > 4 && off >= tiff.len() {
                // Out-of-line values metafix wrote (those past the old block's end).
                assert_eq!(off % 2, 0, "tag 0x{tag:04x} value at {off}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 2, "new values were checked: {checked}");
}

/// Fuzz crash f9bcca72: stray bytes after the APP0 held an embedded JPEG whose APP1
/// ran past the next real marker. It did not read as structure, so the new APP1 went
/// after the stray bytes; but once that APP1 was there, the old APP1's length landed
/// exactly on a marker again, and the second fix found that stray APP1 instead of the
/// new one. Rebuilt here with the length made to land that way.
#[test]
fn fuzz_crash_f9bcca72_stray_bytes_that_would_hide_the_new_app1_are_refused() {
    let file = |stated: u16| {
        let mut stray = vec![0x01, 0x02, 0xFF, 0xD8, 0xFF, 0xE1];
        stray.extend_from_slice(&stated.to_be_bytes());
        stray.extend_from_slice(b"Exif\0\0XX");
        stray.extend_from_slice(&[0x11; 40]);
        jpeg_parts(&[&jfif_app0(), &stray])
    };
    let options = family();
    let item = ItemContext::default().with_create_time("2020-09-13T12:29:28Z".parse().unwrap());
    // Where the fake APP1 is, where the new APP1 goes, and how long the new one is.
    let probe = file(0x0F00);
    let at = |marker: [u8; 2]| probe.windows(2).position(|w| w == marker).unwrap();
    let (fake, insert_at) = (at([0xFF, 0xE1]), at([0xFF, 0xC0]));
    let first = fix(&probe, &options, &item);
    assert!(first.changed(), "{}", first.report);
    let new_app1 = first.new_bytes() as usize;
    // The fake APP1's length lands on the SOF once the new APP1 is in front of it.
    let input = file((insert_at + new_app1 - fake - 2) as u16);
    let fixed = fix(&input, &options, &item);
    let out = fixed.assemble(&input);
    let again = fix(&out, &options, &item);
    assert!(
        !again.changed(),
        "not idempotent:\n{}\n{}",
        fixed.report,
        again.report
    );
    assert!(
        matches!(fixed.outcome(), Outcome::CouldNotEdit(ref n) if n.why.contains("stray bytes")),
        "{}",
        fixed.report
    );
}

/// A phone-sized JPEG (a few hundred bytes of segments, 4 MB of scan) is planned
/// from the first read and its last 12 bytes, in two rounds: checking where the new
/// EXIF lands walks only the output's first segments, not 256 KiB of it.
#[test]
fn a_phone_sized_jpeg_is_planned_from_its_first_read_and_its_last_bytes() {
    let small = jpeg(None);
    let eoi = small.len() - 2;
    let mut input = small[..eoi].to_vec();
    // Entropy-coded bytes (no 0xFF, so no marker) up to about 4 MB.
    input.extend((0..4_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8 % 0xFF));
    input.extend_from_slice(&small[eoi..]);
    let item = ItemContext::default().with_create_time("2021-06-07T08:09:10Z".parse().unwrap());
    let options = metafix::FixOptions::default();
    let whole = fix(&input, &options, &item);
    assert!(whole.changed(), "the dates are added: {}", whole.report);
    let (planned, reads) = planned(&input, &options, &item, 1 << 20);
    assert_eq!(planned, whole);
    assert_eq!(
        reads,
        Reads {
            rounds: 2,
            bytes: metafix::Planner::FIRST_READ + 12
        },
        "the first read, then the AFCP trailer's place"
    );
}
