//! Generated fixtures: TIFF/EXIF blocks built entry by entry (any byte order, any
//! defect), wrapped in JPEG, PNG, WebP; minimal MP4s; and the helpers that compare
//! files outside their EXIF payload.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Type codes.
pub const BYTE: u16 = 1;
pub const ASCII: u16 = 2;
pub const SHORT: u16 = 3;
pub const LONG: u16 = 4;
pub const RATIONAL: u16 = 5;
pub const UNDEFINED: u16 = 7;

/// One entry to build: the value bytes are already in the block's byte order.
#[derive(Clone, Debug)]
pub struct E {
    pub tag: u16,
    pub typ: u16,
    pub count: u32,
    pub data: Vec<u8>,
}

/// Builds a TIFF block: a header, then IFDs and values appended in call order.
pub struct Tiff {
    pub le: bool,
    pub buf: Vec<u8>,
}

impl Tiff {
    pub fn new(le: bool) -> Tiff {
        let mut buf = if le {
            b"II\x2a\0".to_vec()
        } else {
            b"MM\0\x2a".to_vec()
        };
        buf.extend_from_slice(&[0, 0, 0, 0]);
        Tiff { le, buf }
    }

    pub fn u16(&self, v: u16) -> Vec<u8> {
        if self.le {
            v.to_le_bytes().to_vec()
        } else {
            v.to_be_bytes().to_vec()
        }
    }

    pub fn u32(&self, v: u32) -> Vec<u8> {
        if self.le {
            v.to_le_bytes().to_vec()
        } else {
            v.to_be_bytes().to_vec()
        }
    }

    pub fn ascii(&self, tag: u16, s: &str) -> E {
        let mut data = s.as_bytes().to_vec();
        data.push(0);
        E {
            tag,
            typ: ASCII,
            count: data.len() as u32,
            data,
        }
    }

    pub fn short(&self, tag: u16, v: &[u16]) -> E {
        E {
            tag,
            typ: SHORT,
            count: v.len() as u32,
            data: v.iter().flat_map(|&x| self.u16(x)).collect(),
        }
    }

    pub fn long(&self, tag: u16, v: u32) -> E {
        E {
            tag,
            typ: LONG,
            count: 1,
            data: self.u32(v),
        }
    }

    pub fn rational(&self, tag: u16, n: u32, d: u32) -> E {
        let mut data = self.u32(n);
        data.extend(self.u32(d));
        E {
            tag,
            typ: RATIONAL,
            count: 1,
            data,
        }
    }

    pub fn undef(&self, tag: u16, bytes: &[u8]) -> E {
        E {
            tag,
            typ: UNDEFINED,
            count: bytes.len() as u32,
            data: bytes.to_vec(),
        }
    }

    /// Appends raw bytes (word-aligned) and returns their offset.
    pub fn blob(&mut self, bytes: &[u8]) -> u32 {
        if self.buf.len() % 2 == 1 {
            self.buf.push(0);
        }
        let at = self.buf.len() as u32;
        self.buf.extend_from_slice(bytes);
        at
    }

    /// Appends an IFD table (entries in the given order) and its values; returns its
    /// offset. `next` is the next-IFD link.
    pub fn ifd(&mut self, entries: &[E], next: u32) -> u32 {
        if self.buf.len() % 2 == 1 {
            self.buf.push(0);
        }
        let at = self.buf.len();
        let table_len = 2 + 12 * entries.len() + 4;
        let mut values_at = at + table_len;
        let mut table = self.u16(entries.len() as u16);
        let mut values = Vec::new();
        for e in entries {
            table.extend(self.u16(e.tag));
            table.extend(self.u16(e.typ));
            table.extend(self.u32(e.count));
            if e.data.len() <= 4 {
                let mut field = e.data.clone();
                field.resize(4, 0);
                table.extend(field);
            } else {
                table.extend(self.u32(values_at as u32));
                values.extend_from_slice(&e.data);
                values_at += e.data.len();
                if values_at % 2 == 1 {
                    values.push(0);
                    values_at += 1;
                }
            }
        }
        table.extend(self.u32(next));
        self.buf.extend(table);
        self.buf.extend(values);
        at as u32
    }

    /// Sets the header's IFD0 offset and returns the block.
    pub fn finish(mut self, ifd0: u32) -> Vec<u8> {
        let off = self.u32(ifd0);
        self.buf[4..8].copy_from_slice(&off);
        self.buf
    }

    /// Patches the next-IFD link of the IFD at `ifd`.
    pub fn set_next(&mut self, ifd: u32, next: u32) {
        let n = u16::from_be_bytes(if self.le {
            [self.buf[ifd as usize + 1], self.buf[ifd as usize]]
        } else {
            [self.buf[ifd as usize], self.buf[ifd as usize + 1]]
        }) as usize;
        let at = ifd as usize + 2 + 12 * n;
        let v = self.u32(next);
        self.buf[at..at + 4].copy_from_slice(&v);
    }
}

/// A camera-style block: IFD0 (Make, Model, Software, …), an Exif IFD with a
/// Canon-style MakerNote whose inner values sit at offsets absolute in the block, an
/// IFD1 with a thumbnail.
pub fn camera_tiff(le: bool) -> Vec<u8> {
    let mut t = Tiff::new(le);
    // The MakerNote's own value, placed before the MakerNote, addressed absolutely.
    let inner_value = t.blob(b"MAKERNOTE-FIRMWARE-1.2.3\0");
    let mn = {
        let mut mt = Tiff {
            le,
            buf: Vec::new(),
        };
        let mut table = mt.u16(1);
        table.extend(mt.u16(0x0007));
        table.extend(mt.u16(ASCII));
        table.extend(mt.u32(25));
        table.extend(mt.u32(inner_value));
        table.extend(mt.u32(0));
        mt.buf = table;
        mt.buf
    };
    let mn_len = mn.len() as u32;
    let exif = [
        t.rational(0x829a, 1, 125),
        t.undef(0x9000, b"0230"),
        t.ascii(0x9003, "2019:03:02 10:11:12"),
        t.undef(0x9101, &[1, 2, 3, 0]),
        E {
            tag: 0x927c,
            typ: UNDEFINED,
            count: mn_len,
            data: mn,
        },
        t.undef(0xa000, b"0100"),
        t.short(0xa001, &[1]),
        t.short(0xa002, &[640]),
        t.short(0xa003, &[480]),
    ];
    let exif_at = t.ifd(&exif, 0);
    let thumb = t.blob(&[0xFF, 0xD8, 0xFF, 0xD9]);
    let ifd1 = t.ifd(
        &[
            t.short(0x0103, &[6]),
            t.rational(0x011a, 72, 1),
            t.rational(0x011b, 72, 1),
            t.short(0x0128, &[2]),
            t.long(0x0201, thumb),
            t.long(0x0202, 4),
        ],
        0,
    );
    let ifd0 = t.ifd(
        &[
            t.ascii(0x010f, "Canon"),
            t.ascii(0x0110, "Canon EOS 5D"),
            t.rational(0x011a, 72, 1),
            t.rational(0x011b, 72, 1),
            t.short(0x0128, &[2]),
            t.ascii(0x0131, "Firmware Version 1.1.1"),
            t.ascii(0x0132, "2019:03:02 10:11:12"),
            t.short(0x0213, &[2]),
            t.long(0x8769, exif_at),
        ],
        ifd1,
    );
    t.finish(ifd0)
}

/// A camera block near the 64 KB APP1 limit, like Nikon D90/D3100 files: IFD0 with a
/// `software_len`-byte Software, a vendor SubIFD (0x014a) right after IFD0's table, an
/// Exif IFD whose `maker_note_len`-byte MakerNote addresses a value absolutely (as
/// Canon's and Nikon's do), and an IFD1 with a `thumb_len`-byte thumbnail at the end.
pub fn near_limit_tiff(
    le: bool,
    maker_note_len: usize,
    software_len: usize,
    thumb_len: usize,
) -> Vec<u8> {
    let mut t = Tiff::new(le);
    let inner_value = t.blob(b"MAKERNOTE-FIRMWARE-1.2.3\0");
    let mut mn = t.u16(1);
    mn.extend(t.u16(0x0007));
    mn.extend(t.u16(ASCII));
    mn.extend(t.u32(25));
    mn.extend(t.u32(inner_value));
    mn.extend(t.u32(0));
    mn.resize(maker_note_len.max(mn.len()), 0x5A);
    let exif = [
        t.undef(0x9000, b"0230"),
        t.ascii(0x9003, "2010:06:01 12:00:00"),
        t.undef(0x9101, &[1, 2, 3, 0]),
        E {
            tag: 0x927c,
            typ: UNDEFINED,
            count: mn.len() as u32,
            data: mn,
        },
        t.undef(0xa000, b"0100"),
        t.short(0xa001, &[1]),
        t.short(0xa002, &[640]),
        t.short(0xa003, &[480]),
    ];
    let exif_at = t.ifd(&exif, 0);
    let software = "S".repeat(software_len.saturating_sub(1));
    // IFD0's table first, the vendor SubIFD's table right after it, then IFD0's values:
    // the SubIFD table must survive IFD0 being re-placed and its values freed.
    if t.buf.len() % 2 == 1 {
        t.buf.push(0);
    }
    let ifd0_at = t.buf.len() as u32;
    let n = 9u32;
    let sub_at = ifd0_at + 2 + 12 * n + 4;
    let sub_len = 2 + 12 * 2 + 4;
    let entries = [
        t.ascii(0x010f, "NIKON CORPORATION"),
        t.ascii(0x0110, "NIKON D90"),
        t.rational(0x011a, 300, 1),
        t.rational(0x011b, 300, 1),
        t.short(0x0128, &[2]),
        t.ascii(0x0131, &software),
        t.long(0x014a, sub_at),
        t.short(0x0213, &[2]),
        t.long(0x8769, exif_at),
    ];
    let mut sub_table = t.u16(2);
    for (tag, v) in [(0x0100u16, 64u32), (0x0101, 48)] {
        sub_table.extend(t.u16(tag));
        sub_table.extend(t.u16(LONG));
        sub_table.extend(t.u32(1));
        sub_table.extend(t.u32(v));
    }
    sub_table.extend(t.u32(0));
    let mut values = Vec::new();
    let mut values_at = (sub_at + sub_len) as usize;
    let mut table = t.u16(n as u16);
    for e in &entries {
        table.extend(t.u16(e.tag));
        table.extend(t.u16(e.typ));
        table.extend(t.u32(e.count));
        if e.data.len() <= 4 {
            let mut field = e.data.clone();
            field.resize(4, 0);
            table.extend(field);
        } else {
            table.extend(t.u32(values_at as u32));
            values.extend_from_slice(&e.data);
            values_at += e.data.len();
            if values_at % 2 == 1 {
                values.push(0);
                values_at += 1;
            }
        }
    }
    let next_at = t.buf.len() + table.len();
    table.extend(t.u32(0)); // IFD1's link, set below
    t.buf.extend(table);
    t.buf.extend(sub_table);
    t.buf.extend(values);
    let thumb_at = t.blob(&{
        let mut th = vec![0xFF, 0xD8];
        th.resize(thumb_len.max(4) - 2, 0x33);
        th.extend_from_slice(&[0xFF, 0xD9]);
        th
    });
    let ifd1 = t.ifd(
        &[
            t.short(0x0103, &[6]),
            t.rational(0x011a, 72, 1),
            t.rational(0x011b, 72, 1),
            t.short(0x0128, &[2]),
            t.long(0x0201, thumb_at),
            t.long(0x0202, thumb_len.max(4) as u32),
        ],
        0,
    );
    let link = t.u32(ifd1);
    t.buf[next_at..next_at + 4].copy_from_slice(&link);
    t.finish(ifd0_at)
}

/// The vendor SubIFD table (0x014a) of a block, as bytes: (count, entries, next).
pub fn sub_ifd_table(tiff: &[u8]) -> Option<Vec<u8>> {
    let le = tiff.starts_with(b"II");
    let u16_at = |p: usize| {
        let b: [u8; 2] = tiff.get(p..p + 2)?.try_into().ok()?;
        Some(if le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |p: usize| {
        let b: [u8; 4] = tiff.get(p..p + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let ifd0 = u32_at(4)? as usize;
    let n = u16_at(ifd0)? as usize;
    let at = (0..n).find_map(|i| {
        let e = ifd0 + 2 + 12 * i;
        (u16_at(e)? == 0x014a).then(|| u32_at(e + 8))?
    })? as usize;
    let count = u16_at(at)? as usize;
    tiff.get(at..at + 2 + 12 * count + 4).map(<[u8]>::to_vec)
}

/// Where the MakerNote of a block is, and the absolute offset its first entry names.
pub fn maker_note_inner_value(tiff: &[u8]) -> Option<Vec<u8>> {
    let meta = read_tiff_entries(tiff)?;
    let (le, exif) = meta;
    let mn = exif.iter().find(|e| e.0 == 0x927c)?;
    let at = mn.3 as usize;
    let u32_at = |p: usize| {
        let b: [u8; 4] = tiff.get(p..p + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let value_off = u32_at(at + 2 + 8)? as usize;
    Some(tiff.get(value_off..value_off + 25)?.to_vec())
}

/// (little-endian?, Exif IFD entries as (tag, type, count, value field)).
/// (tag, type, count, value field) of an IFD entry.
type RawEntry = (u16, u16, u32, u32);

fn read_tiff_entries(tiff: &[u8]) -> Option<(bool, Vec<RawEntry>)> {
    let le = tiff.starts_with(b"II");
    let u16_at = |p: usize| {
        let b: [u8; 2] = tiff.get(p..p + 2)?.try_into().ok()?;
        Some(if le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |p: usize| {
        let b: [u8; 4] = tiff.get(p..p + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let entries = |at: usize| -> Option<Vec<RawEntry>> {
        let n = u16_at(at)? as usize;
        (0..n)
            .map(|i| {
                let p = at + 2 + 12 * i;
                Some((u16_at(p)?, u16_at(p + 2)?, u32_at(p + 4)?, u32_at(p + 8)?))
            })
            .collect()
    };
    let ifd0 = entries(u32_at(4)? as usize)?;
    let exif_at = ifd0.iter().find(|e| e.0 == 0x8769)?.3 as usize;
    Some((le, entries(exif_at)?))
}

/// One JPEG marker segment: `FF marker`, the length, the body.
pub fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0xFF, marker];
    out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// An EXIF APP1 segment holding `tiff`.
pub fn exif_app1(tiff: &[u8]) -> Vec<u8> {
    let mut body = b"Exif\0\0".to_vec();
    body.extend_from_slice(tiff);
    segment(0xE1, &body)
}

/// The JFIF APP0 segment [`jpeg`] starts with.
pub fn jfif_app0() -> Vec<u8> {
    segment(
        0xE0,
        &[b'J', b'F', b'I', b'F', 0, 1, 1, 1, 0, 96, 0, 96, 0, 0],
    )
}

/// A fake SOF0 (8-bit, 480 x 640, 3 components).
pub fn sof0() -> Vec<u8> {
    segment(
        0xC0,
        &[
            8, 0x01, 0xE0, 0x02, 0x80, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,
        ],
    )
}

/// SOS, "pixels" (with a stuffed `FF 00` and an RST marker, as real scans have) and EOI.
pub fn scan_and_eoi() -> Vec<u8> {
    let mut out = vec![0xFF, 0xDA, 0, 12, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 0x3F, 0];
    out.extend((0..2000u32).map(|i| (i * 7 % 251) as u8));
    out.extend_from_slice(&[0xFF, 0x00, 0x12, 0xFF, 0xD0, 0x34]);
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// A JPEG from SOI and the given raw parts (segments, stray bytes…), then a SOF0, the
/// scan and EOI.
pub fn jpeg_parts(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    for part in parts {
        out.extend_from_slice(part);
    }
    out.extend(sof0());
    out.extend(scan_and_eoi());
    out
}

/// Whether `output` is `input` with exactly one EXIF APP1 segment replaced or
/// inserted, and every other byte (stray bytes, fill bytes, segments with wrong
/// lengths, the scan) identical. Walks no markers, so it judges the walker's work
/// independently: it looks for a prefix and a suffix the two files share, with an
/// EXIF APP1 segment of consistent length between them in the output.
pub fn only_exif_segment_differs(input: &[u8], output: &[u8]) -> bool {
    let prefix = input.iter().zip(output).take_while(|(a, b)| a == b).count();
    (0..=prefix.min(output.len())).rev().any(|a| {
        let Some(seg) = output.get(a..a + 10) else {
            return false;
        };
        if seg[..2] != [0xFF, 0xE1] || &seg[4..10] != b"Exif\0\0" {
            return false;
        }
        let end = a + 2 + u16::from_be_bytes([seg[2], seg[3]]) as usize;
        let Some(rest) = output.get(end..) else {
            return false;
        };
        if !input.ends_with(rest) || input.len() < a + rest.len() {
            return false;
        }
        // What the new segment took the place of: nothing, or an old EXIF APP1.
        let old = &input[a..input.len() - rest.len()];
        old.is_empty() || (old.starts_with(&[0xFF, 0xE1]) && old.get(4..10) == Some(b"Exif\0\0"))
    })
}

/// Whether a TIFF file was patched the way METADATA.md says: every original byte
/// where it was (or zeroed: a dropped value or an abandoned table), the header's IFD0
/// offset repointed, and new bytes only after the old end.
pub fn tiff_patched_in_place(input: &[u8], output: &[u8]) -> bool {
    output.len() >= input.len()
        && input[..4] == output[..4]
        && input[8..]
            .iter()
            .zip(&output[8..])
            .all(|(a, b)| a == b || *b == 0)
}

/// The images an MPF (multi-picture) APP2 segment points at, after the first: their
/// bytes, found through the MP entries' offsets (relative to the MPF header, as the
/// CIPA DC-007 standard says). `None` without a readable MPF segment. Two files whose
/// MPF offsets differ but lead to the same images hold the same pictures.
pub fn mpf_images(file: &[u8]) -> Option<Vec<Vec<u8>>> {
    let seg = file
        .windows(8)
        .position(|w| w[..2] == [0xFF, 0xE2] && &w[4..8] == b"MPF\0")?;
    let base = seg + 8;
    let le = file.get(base..base + 2)? == b"II";
    let u16_at = |p: usize| {
        let b: [u8; 2] = file.get(p..p + 2)?.try_into().ok()?;
        Some(if le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |p: usize| {
        let b: [u8; 4] = file.get(p..p + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let ifd = base + u32_at(base + 4)? as usize;
    let n = u16_at(ifd)? as usize;
    let (count, at) = (0..n).find_map(|i| {
        let e = ifd + 2 + 12 * i;
        (u16_at(e)? == 0xB002).then(|| Some((u32_at(e + 4)? as usize, u32_at(e + 8)? as usize)))?
    })?;
    let mut images = Vec::new();
    for k in 0..count / 16 {
        let entry = base + at + 16 * k;
        let (size, offset) = (u32_at(entry + 4)? as usize, u32_at(entry + 8)? as usize);
        if offset == 0 {
            continue; // the first image is the file itself
        }
        let start = base + offset;
        images.push(file.get(start..start.checked_add(size)?)?.to_vec());
    }
    Some(images)
}

/// A multi-picture JPEG (MPO): a first image with EXIF and an MPF APP2 segment whose
/// MP Index IFD sits at an odd offset (as some cameras write it), then a second image
/// after the first's EOI, which the MPF entry finds relative to the MPF header.
pub fn mpo(tiff: &[u8]) -> Vec<u8> {
    let second = jpeg_parts(&[&jfif_app0()]);
    // MPF: "MPF\0", a big-endian TIFF header whose IFD offset is 9 (odd), one pad byte,
    // the MP Index IFD (version, number of images, MP entries), then two 16-byte entries.
    let mut mpf = b"MPF\0MM\0\x2a\0\0\0\x09\0".to_vec();
    let entries_at: u32 = 9 + 2 + 3 * 12 + 4; // relative to the TIFF header
    mpf.extend_from_slice(&[0, 3]);
    mpf.extend_from_slice(&[0xB0, 0x00, 0, 7, 0, 0, 0, 4, b'0', b'1', b'0', b'0']);
    mpf.extend_from_slice(&[0xB0, 0x01, 0, 4, 0, 0, 0, 1, 0, 0, 0, 2]);
    mpf.extend_from_slice(&[0xB0, 0x02, 0, 7, 0, 0, 0, 32]);
    mpf.extend_from_slice(&entries_at.to_be_bytes());
    mpf.extend_from_slice(&[0, 0, 0, 0]);
    let entries_pos = mpf.len();
    mpf.extend_from_slice(&[0; 32]);
    let mut first = vec![0xFF, 0xD8];
    first.extend(jfif_app0());
    first.extend(exif_app1(tiff));
    let mpf_header = first.len() + 4 + 4; // FF E2, length, "MPF\0"
    first.extend(segment(0xE2, &mpf));
    first.extend(sof0());
    first.extend(scan_and_eoi());
    let seg_body = first.len() - (sof0().len() + scan_and_eoi().len()) - mpf.len();
    let at = seg_body + entries_pos;
    let put = |buf: &mut Vec<u8>, p: usize, v: u32| buf[p..p + 4].copy_from_slice(&v.to_be_bytes());
    put(&mut first, at, 0x2003_0000); // primary image, baseline MP
    put(&mut first, at + 4, 0); // size: set below
    put(&mut first, at + 8, 0);
    put(&mut first, at + 16, 0x0002_0002); // disparity image
    put(&mut first, at + 20, second.len() as u32);
    let first_len = first.len();
    put(&mut first, at + 4, first_len as u32);
    put(&mut first, at + 24, (first_len - mpf_header) as u32);
    first.extend(second);
    first
}

/// A JPEG: SOI, optional JFIF APP0, optional EXIF APP1, a fake SOF0, SOS and "pixels".
pub fn jpeg(tiff: Option<&[u8]>) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    out.extend_from_slice(&[
        0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1, 1, 1, 0, 96, 0, 96, 0, 0,
    ]);
    if let Some(tiff) = tiff {
        let len = (2 + 6 + tiff.len()) as u16;
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(b"Exif\0\0");
        out.extend_from_slice(tiff);
    }
    // SOF0: 8-bit, 480 x 640, 3 components.
    out.extend_from_slice(&[
        0xFF, 0xC0, 0, 17, 8, 0x01, 0xE0, 0x02, 0x80, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,
    ]);
    out.extend_from_slice(&[0xFF, 0xDA, 0, 12, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 0x3F, 0]);
    out.extend((0..2000u32).map(|i| (i * 7 % 251) as u8));
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = 0xFFFF_FFFFu32;
    for &b in &out[4..] {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                0xEDB8_8320 ^ (crc >> 1)
            } else {
                crc >> 1
            };
        }
    }
    out.extend_from_slice(&(crc ^ 0xFFFF_FFFF).to_be_bytes());
    out
}

/// A PNG with an optional `eXIf` chunk (before IDAT).
pub fn png(exif: Option<&[u8]>) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(png_chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]));
    if let Some(exif) = exif {
        out.extend(png_chunk(b"eXIf", exif));
    }
    out.extend(png_chunk(
        b"IDAT",
        &[0x78, 0x9C, 0x63, 0xF8, 0x0F, 0x00, 0x01, 0x01, 0x01, 0x00],
    ));
    out.extend(png_chunk(b"IEND", &[]));
    out
}

fn riff_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = kind.to_vec();
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    out
}

/// A lossless WebP: with `exif`, an extended file (VP8X) with an EXIF chunk holding
/// those bytes (prefix and all); without, a simple VP8L file.
pub fn webp(exif: Option<&[u8]>) -> Vec<u8> {
    // VP8L 2x3 header bits: width-1=1, height-1=2, no alpha, version 0; then payload.
    let bits: u32 = 1 | (2 << 14);
    let mut vp8l = vec![0x2F];
    vp8l.extend_from_slice(&bits.to_le_bytes());
    vp8l.extend_from_slice(&[0x00, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0x08]);
    let mut body = b"WEBP".to_vec();
    if let Some(exif) = exif {
        body.extend(riff_chunk(b"VP8X", &[0x08, 0, 0, 0, 1, 0, 0, 2, 0, 0]));
        body.extend(riff_chunk(b"VP8L", &vp8l));
        body.extend(riff_chunk(b"EXIF", exif));
    } else {
        body.extend(riff_chunk(b"VP8L", &vp8l));
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend(body);
    out
}

fn bmff_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

/// An MP4 with `mvhd`, one track (`tkhd`, `mdia/mdhd`) whose dates are `created`
/// (seconds since 1904; 0 = zeroed), version 0 boxes; `moov` before `mdat`.
pub fn mp4(created: u32) -> Vec<u8> {
    let times = |extra: usize| {
        let mut b = vec![0, 0, 0, 0];
        b.extend_from_slice(&created.to_be_bytes());
        b.extend_from_slice(&created.to_be_bytes());
        b.extend(std::iter::repeat_n(0x11, extra));
        b
    };
    let mvhd = bmff_box(b"mvhd", &times(88));
    let tkhd = bmff_box(b"tkhd", &times(72));
    let mdhd = bmff_box(b"mdhd", &times(12));
    let mdia = bmff_box(b"mdia", &mdhd);
    let mut trak_body = tkhd;
    trak_body.extend(mdia);
    let trak = bmff_box(b"trak", &trak_body);
    let mut moov_body = mvhd;
    moov_body.extend(trak);
    let mut out = bmff_box(b"ftyp", b"isom\0\0\x02\0isomiso2mp41");
    out.extend(bmff_box(b"moov", &moov_body));
    out.extend(bmff_box(b"mdat", &[0xAB; 500]));
    out
}

/// A file with its EXIF payload removed (JPEG APP1, PNG eXIf chunk, WebP EXIF chunk,
/// with the WebP RIFF size and VP8X EXIF flag neutralised): two files that differ only
/// inside their EXIF compare equal.
pub fn without_exif(file: &[u8]) -> Vec<u8> {
    if file.starts_with(&[0xFF, 0xD8]) {
        let mut out = file[..2].to_vec();
        let mut pos = 2;
        while pos + 4 <= file.len() && file[pos] == 0xFF && file[pos + 1] != 0xDA {
            let len = u16::from_be_bytes([file[pos + 2], file[pos + 3]]) as usize;
            let end = (pos + 2 + len).min(file.len());
            let is_exif = file[pos + 1] == 0xE1 && file[pos + 4..].starts_with(b"Exif\0\0");
            if !is_exif {
                out.extend_from_slice(&file[pos..end]);
            }
            pos = end;
        }
        out.extend_from_slice(&file[pos.min(file.len())..]);
        return out;
    }
    if file.starts_with(b"\x89PNG") {
        let mut out = file[..8].to_vec();
        let mut pos = 8;
        while pos + 12 <= file.len() {
            let len = u32::from_be_bytes(file[pos..pos + 4].try_into().unwrap()) as usize;
            let end = (pos + 12 + len).min(file.len());
            if &file[pos + 4..pos + 8] != b"eXIf" {
                out.extend_from_slice(&file[pos..end]);
            }
            pos = end;
        }
        out.extend_from_slice(&file[pos.min(file.len())..]);
        return out;
    }
    if file.starts_with(b"RIFF") {
        let mut out = b"RIFF\0\0\0\0WEBP".to_vec();
        let mut pos = 12;
        while pos + 8 <= file.len() {
            let len = u32::from_le_bytes(file[pos + 4..pos + 8].try_into().unwrap()) as usize;
            let end = (pos + 8 + len + (len & 1)).min(file.len());
            match &file[pos..pos + 4] {
                b"EXIF" | b"VP8X" => {}
                _ => out.extend_from_slice(&file[pos..end]),
            }
            pos = end;
        }
        return out;
    }
    file.to_vec()
}

/// The TIFF block of a JPEG's first EXIF APP1 segment (walking markers to SOS).
pub fn jpeg_exif_payload(file: &[u8]) -> Option<Vec<u8>> {
    let mut pos = 2;
    while pos + 4 <= file.len() && file[pos] == 0xFF && file[pos + 1] != 0xDA {
        let len = u16::from_be_bytes([file[pos + 2], file[pos + 3]]) as usize;
        let end = (pos + 2 + len).min(file.len());
        if file[pos + 1] == 0xE1 && file[pos + 4..].starts_with(b"Exif\0\0") {
            return file.get(pos + 10..end).map(<[u8]>::to_vec);
        }
        pos = end;
    }
    None
}

/// A minimal HEIF file: `ftyp` (heic), `meta` with an `Exif` item (`iinf`/`infe` v2,
/// `iloc` v0) whose data in `mdat` is the 4-byte TIFF offset, `Exif\0\0` and `tiff`.
pub fn heic(tiff: &[u8]) -> Vec<u8> {
    heic_extents(tiff, 1)
}

/// [`heic`] whose `iloc` lists the Exif item's one extent `copies` times.
pub fn heic_extents(tiff: &[u8], copies: u16) -> Vec<u8> {
    let full = |kind: &[u8; 4], version: u8, body: &[u8]| {
        let mut b = vec![version, 0, 0, 0];
        b.extend_from_slice(body);
        bmff_box(kind, &b)
    };
    let mut item = vec![0, 0, 0, 6];
    item.extend_from_slice(b"Exif\0\0");
    item.extend_from_slice(tiff);
    let infe = full(b"infe", 2, &[0, 1, 0, 0, b'E', b'x', b'i', b'f', 0]);
    let mut iinf_body = vec![0, 1];
    iinf_body.extend(infe);
    let iinf = full(b"iinf", 0, &iinf_body);
    let hdlr = full(b"hdlr", 0, b"\0\0\0\0pict\0\0\0\0\0\0\0\0\0\0\0\0\0");
    let ftyp = bmff_box(b"ftyp", b"heic\0\0\0\0mif1heic");
    // iloc: offset_size 4, length_size 4, base_offset_size 0; one item, one extent.
    let iloc_len = 8 + 4 + 2 + 2 + 2 + 2 + 2 + 8 * usize::from(copies);
    let meta_len = 8 + 4 + hdlr.len() + iinf.len() + iloc_len;
    let data_at = ftyp.len() + meta_len + 8;
    let mut iloc_body = vec![0x44, 0x00, 0, 1, 0, 1, 0, 0];
    iloc_body.extend_from_slice(&copies.to_be_bytes());
    for _ in 0..copies {
        iloc_body.extend_from_slice(&(data_at as u32).to_be_bytes());
        iloc_body.extend_from_slice(&(item.len() as u32).to_be_bytes());
    }
    let iloc = full(b"iloc", 0, &iloc_body);
    let mut meta_body = hdlr;
    meta_body.extend(iinf);
    meta_body.extend(iloc);
    let meta = full(b"meta", 0, &meta_body);
    assert_eq!(meta.len(), meta_len);
    let mut out = ftyp;
    out.extend(meta);
    out.extend(bmff_box(b"mdat", &item));
    out
}

/// What ExifTool says about one file.
#[derive(Default, Debug)]
pub struct Seen {
    pub warnings: BTreeSet<String>,
    pub maker_note_tags: usize,
    pub tags: BTreeMap<String, String>,
}

/// Runs one ExifTool process over `files` (via an argument file).
pub fn exiftool(files: &[PathBuf], scratch: &Path, label: &str) -> BTreeMap<PathBuf, Seen> {
    let args_file = scratch.join(format!("{label}.args"));
    let mut args = String::new();
    for a in [
        "-a",
        "-G0:1",
        "-s",
        "-validate",
        "-warning",
        "-MakerNotes:all",
        "-IFD0:Artist",
        "-IFD0:Copyright",
        "-IFD0:Software",
        "-ExifIFD:DateTimeOriginal",
    ] {
        args.push_str(a);
        args.push('\n');
    }
    for f in files {
        args.push_str(&f.display().to_string());
        args.push('\n');
    }
    std::fs::write(&args_file, args).unwrap();
    let output = Command::new("exiftool")
        .arg("-@")
        .arg(&args_file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let mut seen: BTreeMap<PathBuf, Seen> = BTreeMap::new();
    let mut current: Option<PathBuf> = None;
    for line in text.lines() {
        if let Some(path) = line.strip_prefix("======== ") {
            current = Some(PathBuf::from(path));
            seen.entry(PathBuf::from(path)).or_default();
            continue;
        }
        let (Some(cur), Some(rest)) = (&current, line.strip_prefix('[')) else {
            continue;
        };
        let Some((group, rest)) = rest.split_once(']') else {
            continue;
        };
        let Some((tag, value)) = rest.split_once(':') else {
            continue;
        };
        let (tag, value) = (tag.trim(), value.trim().to_owned());
        let entry = seen.entry(cur.clone()).or_default();
        if tag == "Warning" {
            entry.warnings.insert(value);
        } else if group.starts_with("MakerNotes") {
            entry.maker_note_tags += 1;
        } else {
            entry.tags.insert(format!("{group}:{tag}"), value);
        }
    }
    // A single file gets no "========" header.
    if files.len() == 1 && seen.is_empty() {
        seen.insert(files[0].clone(), Seen::default());
    }
    seen
}

/// Whether ExifTool can be run (the oracle tests skip without it, unless
/// `KEEPSAKE_REQUIRE_EXIFTOOL=1` says a missing ExifTool is a failure, as in CI).
pub fn have_exiftool() -> bool {
    let found = std::process::Command::new("exiftool")
        .arg("-ver")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var("KEEPSAKE_REQUIRE_EXIFTOOL").is_ok_and(|v| v == "1") {
        panic!("KEEPSAKE_REQUIRE_EXIFTOOL=1 but exiftool cannot be run");
    }
    found
}

/// ExifTool's warnings after a fix, with warnings about a moved tag's (unchanged)
/// value renamed back to the IFD it came from, given the report's "moved X to Y"
/// repairs.
pub fn renamed_warnings(after: &Seen, report: &metafix::Report) -> BTreeSet<String> {
    let moved: Vec<(String, String, String)> = report
        .repairs
        .iter()
        .filter_map(|r| {
            let (name, to) = r.what.strip_prefix("moved ")?.split_once(" to ")?;
            Some((name.to_owned(), r.location_name().to_owned(), to.to_owned()))
        })
        .collect();
    let overrun = report_overran(report);
    after
        .warnings
        .iter()
        .map(|w| {
            let w = moved.iter().fold(w.clone(), |w, (name, from, to)| {
                w.replace(&format!("{to}:{name}"), &format!("{from}:{name}"))
            });
            if overrun { skipped_count_hidden(&w) } else { w }
        })
        .collect()
}

/// ExifTool's warnings before a fix, normalised the way [`renamed_warnings`]
/// normalises those after.
pub fn comparable_before(before: &Seen, report: &metafix::Report) -> BTreeSet<String> {
    let overrun = report_overran(report);
    before
        .warnings
        .iter()
        .map(|w| {
            if overrun {
                skipped_count_hidden(w)
            } else {
                w.clone()
            }
        })
        .collect()
}

/// Whether the fix cut a JPEG segment whose length runs past the next marker.
/// ExifTool trusts such a length and skips what it swallowed ("Skipped unknown N
/// bytes after JPEG COM segment"); when the EXIF after it grows, N grows with it. The
/// same warning about the same segment, so the count is not compared.
fn report_overran(report: &metafix::Report) -> bool {
    report
        .warnings
        .iter()
        .any(|w| w.kind == metafix::WarningKind::SegmentOverrun)
}

fn skipped_count_hidden(w: &str) -> String {
    match w.split_once("Skipped unknown ") {
        Some((head, tail)) => match tail.split_once(' ') {
            Some((n, rest)) if n.chars().all(|c| c.is_ascii_digit()) => {
                format!("{head}Skipped unknown N {rest}")
            }
            _ => w.to_owned(),
        },
        None => w.to_owned(),
    }
}

/// Has ExifTool write each of `inputs` with the same edits as the oracle (Software
/// removed, Artist and Copyright set), one process for all, each output to
/// `scratch/label/NNN/name`. Gives, per input, the output path, or ExifTool's reason
/// for not writing it.
pub fn exiftool_write_all(
    inputs: &[PathBuf],
    scratch: &Path,
    label: &str,
    artist: &str,
    copyright: &str,
) -> Vec<Result<PathBuf, String>> {
    let mut args = String::new();
    let mut outs = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let out = scratch
            .join(label)
            .join(format!("{i:03}"))
            .join(input.file_name().unwrap());
        for a in [
            "-Software=".to_owned(),
            format!("-Artist={artist}"),
            format!("-Copyright={copyright}"),
            // A folder (trailing slash) keeps the name: with an explicit output file
            // name ExifTool 12.57 refuses WebP ("Can't write RIFF files").
            "-o".to_owned(),
            format!("{}/", out.parent().unwrap().display()),
            input.display().to_string(),
            "-execute".to_owned(),
        ] {
            args.push_str(&a);
            args.push('\n');
        }
        outs.push(out);
    }
    let args_file = scratch.join(format!("{label}.args"));
    std::fs::write(&args_file, args).unwrap();
    let output = Command::new("exiftool")
        .arg("-@")
        .arg(&args_file)
        .output()
        .unwrap();
    let errors = String::from_utf8_lossy(&output.stderr).into_owned();
    inputs
        .iter()
        .zip(outs)
        .map(|(input, out)| {
            if out.is_file() {
                return Ok(out);
            }
            let shown = input.display().to_string();
            let why = errors
                .lines()
                .find(|l| l.starts_with("Error") && l.ends_with(&shown))
                .map(|l| {
                    l.trim_end_matches(&shown)
                        .trim_end_matches(" - ")
                        .to_owned()
                })
                .unwrap_or_else(|| "no output".to_owned());
            Err(why)
        })
        .collect()
}

/// The coverage table of round two: which files each writer writes, which only one of
/// them writes (and why the other does not), and how many files gain a new ExifTool
/// warning from each.
#[derive(Debug, Default)]
pub struct Coverage {
    pub label: String,
    pub files: usize,
    pub exiftool_writes: usize,
    pub metafix_writes: usize,
    /// (file, why metafix did not write it)
    pub only_exiftool: Vec<(String, String)>,
    /// (file, why ExifTool did not write it)
    pub only_metafix: Vec<(String, String)>,
    pub new_warning_files_metafix: usize,
    pub new_warning_files_exiftool: usize,
}

impl std::fmt::Display for Coverage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "coverage over {} ({} files):", self.label, self.files)?;
        writeln!(f, "  | writer   | writes | new-warning files |")?;
        writeln!(f, "  |----------|--------|-------------------|")?;
        writeln!(
            f,
            "  | ExifTool | {:>6} | {:>17} |",
            self.exiftool_writes, self.new_warning_files_exiftool
        )?;
        writeln!(
            f,
            "  | metafix  | {:>6} | {:>17} |",
            self.metafix_writes, self.new_warning_files_metafix
        )?;
        writeln!(f, "  only ExifTool writes: {}", self.only_exiftool.len())?;
        for (file, why) in &self.only_exiftool {
            writeln!(f, "    {file} (metafix: {why})")?;
        }
        writeln!(f, "  only metafix writes: {}", self.only_metafix.len())?;
        for (file, why) in &self.only_metafix {
            writeln!(f, "    {file} (ExifTool: {why})")?;
        }
        Ok(())
    }
}

/// One item of a generated HEIF file.
#[derive(Clone, Debug)]
pub struct HeifItem {
    pub id: u32,
    pub kind: [u8; 4],
    pub data: Vec<u8>,
    /// In `idat` (construction method 1) rather than `mdat`.
    pub in_idat: bool,
    /// How many extents the item's data is split into.
    pub pieces: usize,
    /// A construction method to state instead of the real one (for refused layouts).
    pub method: Option<u16>,
}

impl HeifItem {
    pub fn new(id: u32, kind: &[u8; 4], data: Vec<u8>) -> HeifItem {
        HeifItem {
            id,
            kind: *kind,
            data,
            in_idat: false,
            pieces: 1,
            method: None,
        }
    }

    /// An `Exif` item holding `tiff` (offset 6, `Exif\0\0`, the TIFF block).
    pub fn exif(id: u32, tiff: &[u8]) -> HeifItem {
        let mut data = vec![0, 0, 0, 6];
        data.extend_from_slice(b"Exif\0\0");
        data.extend_from_slice(tiff);
        HeifItem::new(id, b"Exif", data)
    }
}

/// A generated HEIF file: `ftyp`, `meta` (hdlr, pitm, iloc, iinf, iref, iprp, idat),
/// then `between` boxes, one `mdat` with the items in order, then `after` boxes.
#[derive(Clone, Debug)]
pub struct Heif {
    pub brand: [u8; 4],
    pub iloc_version: u8,
    pub offset_size: u8,
    pub length_size: u8,
    pub base_size: u8,
    pub index_size: u8,
    /// Offsets relative to a base offset at the start of `mdat`'s body.
    pub relative: bool,
    pub primary: u32,
    pub items: Vec<HeifItem>,
    /// Top-level boxes between `meta` and `mdat`, and after `mdat`.
    pub between: Vec<Vec<u8>>,
    pub after: Vec<Vec<u8>>,
}

impl Heif {
    /// A HEIC with an image item (1), a thumbnail (2) and, when `tiff` is given, an
    /// Exif item (3) in that order in `mdat`; `iloc` v1, 4-byte offsets and lengths.
    pub fn new(tiff: Option<&[u8]>) -> Heif {
        let mut items = vec![
            HeifItem::new(1, b"hvc1", (0..200u8).collect()),
            HeifItem::new(2, b"hvc1", vec![0xAB; 50]),
        ];
        if let Some(t) = tiff {
            items.push(HeifItem::exif(3, t));
        }
        Heif {
            brand: *b"heic",
            iloc_version: 1,
            offset_size: 4,
            length_size: 4,
            base_size: 0,
            index_size: 0,
            relative: false,
            primary: 1,
            items,
            between: Vec::new(),
            after: Vec::new(),
        }
    }

    pub fn build(&self) -> Vec<u8> {
        let full = |kind: &[u8; 4], version: u8, body: &[u8]| {
            let mut b = vec![version, 0, 0, 0];
            b.extend_from_slice(body);
            bmff_box(kind, &b)
        };
        let uint = |v: u64, size: u8| v.to_be_bytes()[8 - usize::from(size)..].to_vec();
        let ftyp = bmff_box(
            b"ftyp",
            &[&self.brand[..], b"\0\0\0\0mif1", &self.brand].concat(),
        );
        let hdlr = full(b"hdlr", 0, b"\0\0\0\0pict\0\0\0\0\0\0\0\0\0\0\0\0\0");
        // Item IDs past 16 bits need pitm v1, infe v3 and iref v1 (and iloc v2).
        let wide = self.primary > 0xFFFF || self.items.iter().any(|i| i.id > 0xFFFF);
        let id_bytes = |id: u32| {
            if wide {
                uint(id.into(), 4)
            } else {
                uint(id.into(), 2)
            }
        };
        let pitm = full(b"pitm", u8::from(wide), &id_bytes(self.primary));
        let mut iinf_body = (self.items.len() as u16).to_be_bytes().to_vec();
        for item in &self.items {
            let mut infe = id_bytes(item.id);
            infe.extend_from_slice(&[0, 0]);
            infe.extend_from_slice(&item.kind);
            infe.push(0);
            iinf_body.extend(full(b"infe", if wide { 3 } else { 2 }, &infe));
        }
        let iinf = full(b"iinf", 0, &iinf_body);
        let mut iref_body = Vec::new();
        for item in self.items.iter().filter(|i| i.kind != *b"hvc1") {
            let mut r = id_bytes(item.id);
            r.extend_from_slice(&1u16.to_be_bytes());
            r.extend(id_bytes(self.primary));
            iref_body.extend(bmff_box(b"cdsc", &r));
        }
        let iref = (!iref_body.is_empty()).then(|| full(b"iref", u8::from(wide), &iref_body));
        let ispe = full(b"ispe", 0, &[0, 0, 0, 64, 0, 0, 0, 48]);
        let iprp = bmff_box(b"iprp", &bmff_box(b"ipco", &ispe));
        let idat_data: Vec<u8> = self
            .items
            .iter()
            .filter(|i| i.in_idat)
            .flat_map(|i| i.data.clone())
            .collect();
        let idat = (!idat_data.is_empty()).then(|| bmff_box(b"idat", &idat_data));
        let iloc = |mdat_body: u64| {
            let mut b = vec![
                self.offset_size << 4 | self.length_size,
                self.base_size << 4 | self.index_size,
            ];
            let id_size = if self.iloc_version < 2 { 2 } else { 4 };
            b.extend(uint(self.items.len() as u64, id_size));
            let (mut in_mdat, mut in_idat) = (0u64, 0u64);
            for item in &self.items {
                b.extend(uint(u64::from(item.id), id_size));
                if self.iloc_version >= 1 {
                    let method = item.method.unwrap_or(u16::from(item.in_idat));
                    b.extend_from_slice(&method.to_be_bytes());
                }
                b.extend_from_slice(&[0, 0]);
                let at = if item.in_idat {
                    &mut in_idat
                } else {
                    &mut in_mdat
                };
                let origin = if item.in_idat { 0 } else { mdat_body };
                // Without offset fields the base offset says where the item starts.
                let base = match (self.offset_size, self.relative && !item.in_idat) {
                    (0, _) => origin + *at,
                    (_, true) => mdat_body,
                    _ => 0,
                };
                b.extend(uint(base, self.base_size));
                b.extend_from_slice(&(item.pieces as u16).to_be_bytes());
                let piece = item.data.len().div_ceil(item.pieces);
                for chunk in item.data.chunks(piece) {
                    if self.iloc_version >= 1 {
                        b.extend(uint(0, self.index_size));
                    }
                    b.extend(uint(origin + *at - base, self.offset_size));
                    b.extend(uint(chunk.len() as u64, self.length_size));
                    *at += chunk.len() as u64;
                }
            }
            full(b"iloc", self.iloc_version, &b)
        };
        let meta = |mdat_body: u64| {
            let mut body = hdlr.clone();
            body.extend_from_slice(&pitm);
            body.extend(iloc(mdat_body));
            body.extend_from_slice(&iinf);
            body.extend(iref.clone().unwrap_or_default());
            body.extend_from_slice(&iprp);
            body.extend(idat.clone().unwrap_or_default());
            full(b"meta", 0, &body)
        };
        let between: Vec<u8> = self.between.concat();
        let mdat_body = (ftyp.len() + meta(0).len() + between.len() + 8) as u64;
        let mdat_data: Vec<u8> = self
            .items
            .iter()
            .filter(|i| !i.in_idat)
            .flat_map(|i| i.data.clone())
            .collect();
        let mut out = ftyp;
        out.extend(meta(mdat_body));
        out.extend(between);
        out.extend(bmff_box(b"mdat", &mdat_data));
        out.extend(self.after.concat());
        out
    }
}

/// A top-level box for [`Heif::between`] and [`Heif::after`].
pub fn plain_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    bmff_box(kind, body)
}

/// Item ID → (item type, data).
pub type HeifItems = BTreeMap<u32, ([u8; 4], Vec<u8>)>;

/// Every item of a HEIF file, read independently of metafix: ID → (type, data read
/// through `iloc`, from the file or `idat`). `None` when the structure cannot be read.
pub fn heif_items(file: &[u8]) -> Option<HeifItems> {
    fn children(data: &[u8], mut pos: usize, end: usize) -> Vec<([u8; 4], usize, usize)> {
        let mut out = Vec::new();
        while pos + 8 <= end {
            let size = u32::from_be_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
            if size < 8 || pos + size > end {
                break;
            }
            out.push((
                data[pos + 4..pos + 8].try_into().unwrap(),
                pos + 8,
                pos + size,
            ));
            pos += size;
        }
        out
    }
    let uint = |at: &mut usize, size: u8| -> Option<u64> {
        let b = file.get(*at..*at + usize::from(size))?;
        *at += usize::from(size);
        Some(b.iter().fold(0u64, |a, &x| a << 8 | u64::from(x)))
    };
    let top = children(file, 0, file.len());
    let &(_, meta_body, meta_end) = top.iter().find(|b| &b.0 == b"meta")?;
    let meta = children(file, meta_body + 4, meta_end);
    let find = |kind: &[u8; 4]| meta.iter().find(|b| &b.0 == kind).copied();
    let (_, iinf, iinf_end) = find(b"iinf")?;
    let skip = if file[iinf] == 0 { 6 } else { 8 };
    let mut types = BTreeMap::new();
    for (_, body, _) in children(file, iinf + skip, iinf_end) {
        let (id, at) = match file[body] {
            2 => (
                u16::from_be_bytes([file[body + 4], file[body + 5]]) as u32,
                body + 8,
            ),
            _ => (
                u32::from_be_bytes(file[body + 4..body + 8].try_into().unwrap()),
                body + 10,
            ),
        };
        types.insert(id, <[u8; 4]>::try_from(&file[at..at + 4]).ok()?);
    }
    let idat = find(b"idat").map(|(_, b, e)| &file[b..e]);
    let (_, iloc, _) = find(b"iloc")?;
    let version = file[iloc];
    let (os, ls) = (file[iloc + 4] >> 4, file[iloc + 4] & 15);
    let (bs, is) = (
        file[iloc + 5] >> 4,
        if version > 0 { file[iloc + 5] & 15 } else { 0 },
    );
    let ids = if version < 2 { 2 } else { 4 };
    let mut at = iloc + 6;
    let mut out = BTreeMap::new();
    for _ in 0..uint(&mut at, ids)? {
        let id = uint(&mut at, ids)? as u32;
        let method = if version > 0 {
            uint(&mut at, 2)? & 15
        } else {
            0
        };
        at += 2;
        let base = uint(&mut at, bs)?;
        let mut data = Vec::new();
        for _ in 0..uint(&mut at, 2)? {
            uint(&mut at, is)?;
            let off = (base + uint(&mut at, os)?) as usize;
            let len = uint(&mut at, ls)? as usize;
            let source = if method == 1 { idat? } else { file };
            data.extend_from_slice(source.get(off..off + len)?);
        }
        out.insert(id, (*types.get(&id)?, data));
    }
    Some(out)
}

/// Whether every item but the Exif item has the same type and bytes in both files,
/// and the Exif item (if the input had one) kept its ID.
pub fn heif_only_exif_item_differs(input: &[u8], output: &[u8]) -> bool {
    let (Some(mut a), Some(mut b)) = (heif_items(input), heif_items(output)) else {
        return false;
    };
    let exif_a: Vec<u32> = a
        .iter()
        .filter(|(_, v)| &v.0 == b"Exif")
        .map(|(k, _)| *k)
        .collect();
    let exif_b: Vec<u32> = b
        .iter()
        .filter(|(_, v)| &v.0 == b"Exif")
        .map(|(k, _)| *k)
        .collect();
    if !exif_a.is_empty() && exif_a != exif_b {
        return false;
    }
    a.retain(|_, v| &v.0 != b"Exif");
    b.retain(|_, v| &v.0 != b"Exif");
    a == b
}

/// The plan of `input` made from ranges, as a client with the file elsewhere makes
/// it: each range the planner asks for fed in reads of at most `chunk` bytes. Also
/// the bytes it asked for and its rounds of reads.
pub fn planned(
    input: &[u8],
    options: &metafix::FixOptions,
    item: &metafix::ItemContext,
    chunk: u64,
) -> (metafix::Patch, Reads) {
    let mut planner = metafix::Planner::new(input.len() as u64, options, item);
    let mut reads = Reads::default();
    loop {
        match planner.next_step() {
            metafix::Step::Read(ranges) => {
                reads.rounds += 1;
                for r in ranges {
                    assert!(
                        r.start < r.end && r.end <= input.len() as u64,
                        "a read outside the file: {r:?}"
                    );
                    reads.bytes += r.end - r.start;
                    let mut at = r.start;
                    while at < r.end {
                        let end = (at + chunk).min(r.end);
                        planner.feed(at, &input[at as usize..end as usize]);
                        at = end;
                    }
                }
            }
            metafix::Step::Done(patch) => return (patch, reads),
        }
    }
}

/// What a plan read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reads {
    /// Rounds of reads.
    pub rounds: u32,
    /// Bytes read in all.
    pub bytes: u64,
}
