//! The bytes of a stored (uncompressed) zip whose every size and CRC-32 is known
//! before its data: APPNOTE 6.3.10 §4.3 without data descriptors, so a reader that
//! unzips as the bytes arrive (`bsdtar -xf -`, Python's `stream-unzip`, a browser
//! extension) reads every entry from its local header alone, and one that reads the
//! central directory finds the same. ZIP64 exactly where APPNOTE asks for it: an
//! entry of 4 GiB or more carries the ZIP64 extra field in its local and central
//! headers (with version needed 4.5), an offset past 4 GiB in its central header,
//! and an archive with 65,535 entries or more, or a directory past 4 GiB, ends with
//! the ZIP64 end records.
//!
//! async_zip 0.0.19's stream writer marks every entry as ZIP64 in its local header
//! and then writes a data descriptor with 4-byte sizes (APPNOTE 4.3.9.2 wants 8),
//! with "version needed" 1.0: streaming readers lose entries. Nothing here is
//! deferred, so nothing can disagree.

/// Local file header.
const LOCAL_SIGNATURE: u32 = 0x0403_4b50;
/// Central directory file header.
const CENTRAL_SIGNATURE: u32 = 0x0201_4b50;
/// End of central directory record.
const END_SIGNATURE: u32 = 0x0605_4b50;
/// ZIP64 end of central directory record.
const ZIP64_END_SIGNATURE: u32 = 0x0606_4b50;
/// ZIP64 end of central directory locator.
const ZIP64_LOCATOR_SIGNATURE: u32 = 0x0706_4b50;
/// The ZIP64 extended information extra field's id.
const ZIP64_EXTRA_ID: u16 = 0x0001;
/// Bit 11: the name is UTF-8.
const FLAG_UTF8: u16 = 1 << 11;
/// "Version needed to extract": 2.0 for a plain stored entry, 4.5 with ZIP64.
const VERSION_PLAIN: u16 = 20;
const VERSION_ZIP64: u16 = 45;
/// "Version made by": Unix (3) in the high byte, so the mode below is read.
const MADE_BY: u16 = (3 << 8) | VERSION_ZIP64;
/// External attributes: a regular file, `rw-r--r--`.
const UNIX_FILE_0644: u32 = 0o100_644 << 16;
/// Where a 32-bit field says "see the ZIP64 field".
const U32_MAX: u64 = 0xFFFF_FFFF;
const U16_MAX: u64 = 0xFFFF;

/// One entry as the archive records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    /// The name, UTF-8.
    pub name: String,
    /// Its bytes (stored: the same on disk and in the archive).
    pub size: u64,
    /// CRC-32 of those bytes.
    pub crc32: u32,
    /// MS-DOS date and time (see [`dos_date_time`]).
    pub dos_date: u16,
    /// MS-DOS time.
    pub dos_time: u16,
}

impl EntryInfo {
    fn zip64_size(&self) -> bool {
        self.size >= U32_MAX
    }

    /// Length of this entry's local header.
    pub fn local_header_len(&self) -> u64 {
        30 + self.name.len() as u64 + if self.zip64_size() { 20 } else { 0 }
    }

    /// The local header, to be followed by exactly `size` bytes of data.
    pub fn local_header(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(usize::try_from(self.local_header_len()).unwrap_or(0));
        let zip64 = self.zip64_size();
        put32(&mut out, LOCAL_SIGNATURE);
        put16(&mut out, if zip64 { VERSION_ZIP64 } else { VERSION_PLAIN });
        put16(&mut out, FLAG_UTF8);
        put16(&mut out, 0); // stored
        put16(&mut out, self.dos_time);
        put16(&mut out, self.dos_date);
        put32(&mut out, self.crc32);
        let size32 = if zip64 { U32_MAX } else { self.size };
        put32(&mut out, size32 as u32); // compressed
        put32(&mut out, size32 as u32); // uncompressed
        put16(&mut out, name_len(&self.name));
        put16(&mut out, if zip64 { 20 } else { 0 });
        out.extend_from_slice(self.name.as_bytes());
        if zip64 {
            // APPNOTE 4.5.3: in the local header both sizes, uncompressed first.
            put16(&mut out, ZIP64_EXTRA_ID);
            put16(&mut out, 16);
            put64(&mut out, self.size);
            put64(&mut out, self.size);
        }
        out
    }

    /// Its central directory header, for a local header written at `offset`.
    pub fn central_header(&self, offset: u64) -> Vec<u8> {
        let big_size = self.zip64_size();
        let big_offset = offset >= U32_MAX;
        // APPNOTE 4.5.3: only the fields whose 32-bit place says 0xFFFFFFFF, in
        // the order uncompressed, compressed, offset.
        let mut extra = Vec::new();
        if big_size {
            put64(&mut extra, self.size);
            put64(&mut extra, self.size);
        }
        if big_offset {
            put64(&mut extra, offset);
        }
        let mut out = Vec::with_capacity(46 + self.name.len() + 4 + extra.len());
        put32(&mut out, CENTRAL_SIGNATURE);
        put16(&mut out, MADE_BY);
        put16(
            &mut out,
            if big_size || big_offset {
                VERSION_ZIP64
            } else {
                VERSION_PLAIN
            },
        );
        put16(&mut out, FLAG_UTF8);
        put16(&mut out, 0);
        put16(&mut out, self.dos_time);
        put16(&mut out, self.dos_date);
        put32(&mut out, self.crc32);
        let size32 = if big_size { U32_MAX } else { self.size };
        put32(&mut out, size32 as u32);
        put32(&mut out, size32 as u32);
        put16(&mut out, name_len(&self.name));
        let extra_len = if extra.is_empty() { 0 } else { 4 + extra.len() };
        put16(
            &mut out,
            u16::try_from(extra_len).expect("at most 28 bytes"),
        );
        put16(&mut out, 0); // comment
        put16(&mut out, 0); // disk
        put16(&mut out, 0); // internal attributes
        put32(&mut out, UNIX_FILE_0644);
        put32(&mut out, offset.min(U32_MAX) as u32);
        out.extend_from_slice(self.name.as_bytes());
        if !extra.is_empty() {
            put16(&mut out, ZIP64_EXTRA_ID);
            put16(
                &mut out,
                u16::try_from(extra.len()).expect("at most 24 bytes"),
            );
            out.extend_from_slice(&extra);
        }
        out
    }

    /// Length of [`EntryInfo::central_header`] at `offset`.
    pub fn central_header_len(&self, offset: u64) -> u64 {
        let fields = u64::from(self.zip64_size()) * 16 + u64::from(offset >= U32_MAX) * 8;
        46 + self.name.len() as u64 + if fields > 0 { 4 + fields } else { 0 }
    }
}

/// The records after the central directory: `entries` headers taking
/// `directory_len` bytes from `directory_offset`.
pub fn end_records(entries: u64, directory_offset: u64, directory_len: u64) -> Vec<u8> {
    let zip64 = entries >= U16_MAX || directory_offset >= U32_MAX || directory_len >= U32_MAX;
    let mut out = Vec::with_capacity(98);
    if zip64 {
        let record_offset = directory_offset + directory_len;
        put32(&mut out, ZIP64_END_SIGNATURE);
        put64(&mut out, 44); // the record's size after this field
        put16(&mut out, MADE_BY);
        put16(&mut out, VERSION_ZIP64);
        put32(&mut out, 0); // this disk
        put32(&mut out, 0); // the directory's disk
        put64(&mut out, entries);
        put64(&mut out, entries);
        put64(&mut out, directory_len);
        put64(&mut out, directory_offset);
        put32(&mut out, ZIP64_LOCATOR_SIGNATURE);
        put32(&mut out, 0); // the ZIP64 record's disk
        put64(&mut out, record_offset);
        put32(&mut out, 1); // disks
    }
    put32(&mut out, END_SIGNATURE);
    put16(&mut out, 0);
    put16(&mut out, 0);
    let count = entries.min(U16_MAX) as u16;
    put16(&mut out, count);
    put16(&mut out, count);
    put32(&mut out, directory_len.min(U32_MAX) as u32);
    put32(&mut out, directory_offset.min(U32_MAX) as u32);
    put16(&mut out, 0); // comment
    out
}

/// Length of [`end_records`].
pub fn end_records_len(entries: u64, directory_offset: u64, directory_len: u64) -> u64 {
    let zip64 = entries >= U16_MAX || directory_offset >= U32_MAX || directory_len >= U32_MAX;
    22 + if zip64 { 56 + 20 } else { 0 }
}

/// MS-DOS date and time (what unzip tools show): local wall-clock time, clamped
/// to 1980–2107, two-second steps.
pub fn dos_date_time(local: jiff::civil::DateTime) -> (u16, u16) {
    use jiff::civil::DateTime;
    let t = local.clamp(
        DateTime::constant(1980, 1, 1, 0, 0, 0, 0),
        DateTime::constant(2107, 12, 31, 23, 59, 58, 0),
    );
    let field = |v: i8| u16::try_from(v).unwrap_or(0);
    let year = u16::try_from(t.year() - 1980).unwrap_or(0);
    let date = (year << 9) | (field(t.month()) << 5) | field(t.day());
    let time = (field(t.hour()) << 11) | (field(t.minute()) << 5) | (field(t.second()) / 2);
    (date, time)
}

fn name_len(name: &str) -> u16 {
    u16::try_from(name.len()).expect("entry names are file names, far below 64 KiB")
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, size: u64) -> EntryInfo {
        let (dos_date, dos_time) = dos_date_time(jiff::civil::date(2019, 7, 14).at(11, 31, 12, 0));
        EntryInfo {
            name: name.into(),
            size,
            crc32: 0x1234_5678,
            dos_date,
            dos_time,
        }
    }

    #[test]
    fn lengths_are_what_is_written() {
        for e in [entry("a.jpg", 10), entry("café.mp4", 5 << 30)] {
            assert_eq!(e.local_header().len() as u64, e.local_header_len());
            for offset in [0, 5 << 30] {
                assert_eq!(
                    e.central_header(offset).len() as u64,
                    e.central_header_len(offset)
                );
            }
        }
        for (n, offset, len) in [(3, 100, 200), (70_000, 100, 200), (3, 5 << 30, 200)] {
            assert_eq!(
                end_records(n, offset, len).len() as u64,
                end_records_len(n, offset, len)
            );
        }
    }

    #[test]
    fn zip64_only_where_appnote_asks() {
        let small = entry("a.jpg", 10).local_header();
        assert_eq!(&small[4..6], &20u16.to_le_bytes(), "version needed 2.0");
        assert_eq!(&small[28..30], &0u16.to_le_bytes(), "no extra field");
        let big = entry("v.mp4", 5 << 30).local_header();
        assert_eq!(&big[4..6], &45u16.to_le_bytes(), "version needed 4.5");
        assert_eq!(
            &big[18..26],
            &[0xFF; 8],
            "both sizes point to the extra field"
        );
        assert_eq!(&big[30 + 5..30 + 5 + 4], &[1, 0, 16, 0]);
        assert_eq!(&big[39..47], &(5u64 << 30).to_le_bytes());
        // A small entry past 4 GiB: only its offset moves into the extra field.
        let central = entry("a.jpg", 10).central_header(5 << 30);
        assert_eq!(&central[6..8], &45u16.to_le_bytes());
        assert_eq!(&central[42..46], &[0xFF; 4]);
        assert_eq!(&central[46 + 5..46 + 5 + 4], &[1, 0, 8, 0]);
        assert_eq!(&central[55..63], &(5u64 << 30).to_le_bytes());
        assert_eq!(end_records(3, 100, 200).len(), 22);
        let many = end_records(70_000, 100, 200);
        assert_eq!(&many[..4], &ZIP64_END_SIGNATURE.to_le_bytes());
        assert_eq!(&many[many.len() - 22 + 8..many.len() - 22 + 12], &[0xFF; 4]);
    }

    #[test]
    fn dos_time_clamps_to_its_range() {
        use jiff::civil::date;
        assert_eq!(
            dos_date_time(date(1975, 5, 1).at(12, 0, 0, 0)),
            dos_date_time(date(1980, 1, 1).at(0, 0, 0, 0))
        );
        let (d, t) = dos_date_time(date(2019, 7, 14).at(11, 31, 12, 0));
        assert_eq!((d >> 9, (d >> 5) & 15, d & 31), (39, 7, 14));
        assert_eq!((t >> 11, (t >> 5) & 63, (t & 31) * 2), (11, 31, 12));
    }
}
