//! A small TIFF/EXIF writer that does exactly what it is told, including what real
//! files get wrong: entries are written in the order given (duplicates kept), any
//! tag may carry any type, and a maker note may hold an IFD whose offsets are
//! absolute (counted from the TIFF header, like Canon's), so moving it breaks it.

/// Byte order of the TIFF structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    /// `II`: Intel, little-endian (most cameras and phones).
    Little,
    /// `MM`: Motorola, big-endian (Nikon, some editors).
    Big,
}

/// A value with its TIFF type.
#[derive(Debug, Clone)]
pub enum Value {
    /// BYTE (1).
    Byte(Vec<u8>),
    /// ASCII (2): a NUL terminator is added.
    Ascii(String),
    /// SHORT (3).
    Short(Vec<u16>),
    /// LONG (4).
    Long(Vec<u32>),
    /// RATIONAL (5).
    Rational(Vec<(u32, u32)>),
    /// UNDEFINED (7).
    Undefined(Vec<u8>),
    /// SRATIONAL (10).
    SRational(Vec<(i32, i32)>),
    /// A LONG pointing to a sub-IFD (ExifIFD, GPS, Interop) written after this IFD.
    SubIfd(Vec<Entry>),
    /// UNDEFINED bytes that are themselves an IFD, with offsets counted from the
    /// TIFF header (absolute), as Canon's maker notes are.
    MakerNoteAbsolute(Vec<Entry>),
}

/// One IFD entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Tag number.
    pub tag: u16,
    /// Typed value.
    pub value: Value,
}

impl Entry {
    /// Shorthand constructor.
    pub fn new(tag: u16, value: Value) -> Self {
        Entry { tag, value }
    }
}

/// Tag numbers used by the sample library.
#[allow(missing_docs)]
pub mod tag {
    pub const MAKE: u16 = 0x010f;
    pub const MODEL: u16 = 0x0110;
    pub const ORIENTATION: u16 = 0x0112;
    pub const X_RESOLUTION: u16 = 0x011a;
    pub const Y_RESOLUTION: u16 = 0x011b;
    pub const RESOLUTION_UNIT: u16 = 0x0128;
    pub const SOFTWARE: u16 = 0x0131;
    pub const DATE_TIME: u16 = 0x0132;
    pub const YCBCR_POSITIONING: u16 = 0x0213;
    pub const EXIF_IFD: u16 = 0x8769;
    pub const EXPOSURE_TIME: u16 = 0x829a;
    pub const F_NUMBER: u16 = 0x829d;
    pub const ISO: u16 = 0x8827;
    pub const EXIF_VERSION: u16 = 0x9000;
    pub const DATE_TIME_ORIGINAL: u16 = 0x9003;
    pub const DATE_TIME_DIGITIZED: u16 = 0x9004;
    pub const OFFSET_TIME: u16 = 0x9010;
    pub const OFFSET_TIME_ORIGINAL: u16 = 0x9011;
    pub const COMPONENTS_CONFIGURATION: u16 = 0x9101;
    pub const FOCAL_LENGTH: u16 = 0x920a;
    pub const MAKER_NOTE: u16 = 0x927c;
    pub const SUB_SEC_TIME_ORIGINAL: u16 = 0x9291;
    pub const FLASHPIX_VERSION: u16 = 0xa000;
    pub const COLOR_SPACE: u16 = 0xa001;
    pub const PIXEL_X_DIMENSION: u16 = 0xa002;
    pub const PIXEL_Y_DIMENSION: u16 = 0xa003;
    pub const SCENE_TYPE: u16 = 0xa301;
}

impl Value {
    fn type_and_count(&self) -> (u16, u32) {
        let n = |len: usize| u32::try_from(len).unwrap_or(u32::MAX);
        match self {
            Value::Byte(v) => (1, n(v.len())),
            Value::Ascii(s) => (2, n(s.len() + 1)),
            Value::Short(v) => (3, n(v.len())),
            Value::Long(v) => (4, n(v.len())),
            Value::Rational(v) => (5, n(v.len())),
            Value::Undefined(v) => (7, n(v.len())),
            Value::SRational(v) => (10, n(v.len())),
            Value::SubIfd(_) => (4, 1),
            // The count is only known once the maker note is laid out.
            Value::MakerNoteAbsolute(_) => (7, 0),
        }
    }

    fn encode(&self, e: Endian) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Value::Byte(v) | Value::Undefined(v) => out.extend_from_slice(v),
            Value::Ascii(s) => {
                out.extend_from_slice(s.as_bytes());
                out.push(0);
            }
            Value::Short(v) => v.iter().for_each(|&x| out.extend_from_slice(&u16b(e, x))),
            Value::Long(v) => v.iter().for_each(|&x| out.extend_from_slice(&u32b(e, x))),
            Value::Rational(v) => v.iter().for_each(|&(a, b)| {
                out.extend_from_slice(&u32b(e, a));
                out.extend_from_slice(&u32b(e, b));
            }),
            Value::SRational(v) => v.iter().for_each(|&(a, b)| {
                out.extend_from_slice(&u32b(e, a as u32));
                out.extend_from_slice(&u32b(e, b as u32));
            }),
            Value::SubIfd(_) | Value::MakerNoteAbsolute(_) => {}
        }
        out
    }
}

fn u16b(e: Endian, v: u16) -> [u8; 2] {
    match e {
        Endian::Little => v.to_le_bytes(),
        Endian::Big => v.to_be_bytes(),
    }
}

fn u32b(e: Endian, v: u32) -> [u8; 4] {
    match e {
        Endian::Little => v.to_le_bytes(),
        Endian::Big => v.to_be_bytes(),
    }
}

fn offset(pos: usize) -> u32 {
    u32::try_from(pos).expect("sample EXIF blocks are far below 4 GiB")
}

/// A complete TIFF structure (`II*\0` or `MM\0*`, IFD0 at offset 8) holding `ifd0`.
pub fn build_tiff(endian: Endian, ifd0: &[Entry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    match endian {
        Endian::Little => out.extend_from_slice(b"II"),
        Endian::Big => out.extend_from_slice(b"MM"),
    }
    out.extend_from_slice(&u16b(endian, 42));
    out.extend_from_slice(&u32b(endian, 8));
    write_ifd(&mut out, endian, ifd0);
    out
}

/// Writes an IFD at the end of `out` (word-aligned), then its out-of-line values,
/// then its sub-IFDs; returns where the IFD starts. Offsets are positions in `out`,
/// which is the TIFF structure itself: they are absolute.
fn write_ifd(out: &mut Vec<u8>, e: Endian, entries: &[Entry]) -> usize {
    if out.len() % 2 == 1 {
        out.push(0);
    }
    let start = out.len();
    let count = u16::try_from(entries.len()).expect("sample IFDs are small");
    out.extend_from_slice(&u16b(e, count));
    let table = out.len();
    out.resize(table + 12 * entries.len() + 4, 0); // entries + next-IFD 0

    let mut pending_sub = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let slot = table + 12 * i;
        let (ty, mut cnt) = entry.value.type_and_count();
        let field: [u8; 4] = match &entry.value {
            Value::SubIfd(_) => {
                pending_sub.push(i);
                [0; 4]
            }
            Value::MakerNoteAbsolute(inner) => {
                let at = write_ifd(out, e, inner);
                cnt = offset(out.len() - at);
                u32b(e, offset(at))
            }
            value => {
                let bytes = value.encode(e);
                if bytes.len() <= 4 {
                    let mut f = [0u8; 4];
                    f[..bytes.len()].copy_from_slice(&bytes);
                    f
                } else {
                    if out.len() % 2 == 1 {
                        out.push(0);
                    }
                    let at = out.len();
                    out.extend_from_slice(&bytes);
                    u32b(e, offset(at))
                }
            }
        };
        out[slot..slot + 2].copy_from_slice(&u16b(e, entry.tag));
        out[slot + 2..slot + 4].copy_from_slice(&u16b(e, ty));
        out[slot + 4..slot + 8].copy_from_slice(&u32b(e, cnt));
        out[slot + 8..slot + 12].copy_from_slice(&field);
    }
    for i in pending_sub {
        if let Value::SubIfd(inner) = &entries[i].value {
            let at = write_ifd(out, e, inner);
            let slot = table + 12 * i;
            out[slot + 8..slot + 12].copy_from_slice(&u32b(e, offset(at)));
        }
    }
    start
}

/// `"2019:07:14 11:31:12"`: EXIF's date format.
pub fn exif_datetime(dt: jiff::civil::DateTime) -> String {
    dt.strftime("%Y:%m:%d %H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_u16(b: &[u8], at: usize, e: Endian) -> u16 {
        let a = [b[at], b[at + 1]];
        match e {
            Endian::Little => u16::from_le_bytes(a),
            Endian::Big => u16::from_be_bytes(a),
        }
    }
    fn read_u32(b: &[u8], at: usize, e: Endian) -> u32 {
        let a = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        match e {
            Endian::Little => u32::from_le_bytes(a),
            Endian::Big => u32::from_be_bytes(a),
        }
    }

    #[test]
    fn writes_both_byte_orders_with_sub_ifd() {
        for e in [Endian::Little, Endian::Big] {
            let tiff = build_tiff(
                e,
                &[
                    Entry::new(tag::MAKE, Value::Ascii("Canon".into())),
                    Entry::new(
                        tag::EXIF_IFD,
                        Value::SubIfd(vec![Entry::new(tag::ISO, Value::Short(vec![100]))]),
                    ),
                ],
            );
            assert_eq!(&tiff[..2], if e == Endian::Little { b"II" } else { b"MM" });
            assert_eq!(read_u16(&tiff, 2, e), 42);
            assert_eq!(read_u16(&tiff, 8, e), 2);
            // Make: ASCII, 6 bytes, out of line.
            assert_eq!(read_u16(&tiff, 10, e), tag::MAKE);
            let make_at = read_u32(&tiff, 18, e) as usize;
            assert_eq!(&tiff[make_at..make_at + 6], b"Canon\0");
            let exif_at = read_u32(&tiff, 30, e) as usize;
            assert_eq!(read_u16(&tiff, exif_at, e), 1);
            assert_eq!(read_u16(&tiff, exif_at + 2, e), tag::ISO);
            assert_eq!(read_u16(&tiff, exif_at + 10, e), 100);
        }
    }

    #[test]
    fn maker_note_offsets_are_absolute() {
        let e = Endian::Little;
        let tiff = build_tiff(
            e,
            &[Entry::new(
                tag::MAKER_NOTE,
                Value::MakerNoteAbsolute(vec![Entry::new(
                    1,
                    Value::Ascii("firmware 1.0.2".into()),
                )]),
            )],
        );
        let mn_at = read_u32(&tiff, 18, e) as usize;
        let mn_len = read_u32(&tiff, 14, e) as usize;
        assert!(mn_at + mn_len <= tiff.len());
        let value_at = read_u32(&tiff, mn_at + 2 + 8, e) as usize;
        // The offset points into the whole TIFF, not into the maker note.
        assert!(value_at > mn_at);
        assert_eq!(&tiff[value_at..value_at + 15], b"firmware 1.0.2\0");
    }

    #[test]
    fn duplicates_and_wrong_types_are_kept() {
        let e = Endian::Little;
        let tiff = build_tiff(
            e,
            &[
                Entry::new(tag::SOFTWARE, Value::Ascii("Picasa".into())),
                Entry::new(tag::SOFTWARE, Value::Ascii("Picasa".into())),
                Entry::new(tag::SCENE_TYPE, Value::Short(vec![1])),
            ],
        );
        assert_eq!(read_u16(&tiff, 8, e), 3);
        assert_eq!(read_u16(&tiff, 22, e), tag::SOFTWARE);
        assert_eq!(read_u16(&tiff, 36, e), 3); // SceneType typed SHORT
    }
}
