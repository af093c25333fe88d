//! The TIFF/EXIF block: a tolerant parser into an editable model, and the patch
//! writer of METADATA.md.
//!
//! The writer never moves an original byte. IFDs that change are appended after the
//! old block's end (with their new out-of-line values), the few pointers that lead to
//! them are repointed, and every value that did not change keeps its original offset —
//! so MakerNote, PrintIM, thumbnail and interop data stay valid whatever their internal
//! offsets assume. Dropped values and abandoned IFD tables are zeroed unless something
//! still in use overlaps them.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::report::Repair;
use crate::tags::{self, id};
use crate::{Error, Ifd};

/// A TIFF field type code (BYTE = 1 … DOUBLE = 12, and TIFF 6's IFD = 13), as it is
/// stored in an IFD entry. Any code can be read from a file; only 1..=13 have a size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FieldType(pub u16);

impl FieldType {
    /// Bytes per value; `None` for codes outside 1..=13.
    pub fn size(self) -> Option<usize> {
        Some(match self {
            BYTE | ASCII | SBYTE | UNDEFINED => 1,
            SHORT | SSHORT => 2,
            LONG | SLONG | FLOAT | IFD_TYPE => 4,
            RATIONAL | SRATIONAL | DOUBLE => 8,
            _ => return None,
        })
    }

    /// The name ExifTool gives the type (`int16u`, `string`, `undef`…; `?` if unknown).
    pub fn name(self) -> &'static str {
        match self {
            BYTE => "int8u",
            ASCII => "string",
            SHORT => "int16u",
            LONG => "int32u",
            RATIONAL => "rational64u",
            SBYTE => "int8s",
            UNDEFINED => "undef",
            SSHORT => "int16s",
            SLONG => "int32s",
            SRATIONAL => "rational64s",
            FLOAT => "float",
            DOUBLE => "double",
            IFD_TYPE => "ifd",
            _ => "?",
        }
    }
}

impl std::fmt::Display for FieldType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

pub(crate) const BYTE: FieldType = FieldType(1);
pub(crate) const ASCII: FieldType = FieldType(2);
pub(crate) const SHORT: FieldType = FieldType(3);
pub(crate) const LONG: FieldType = FieldType(4);
pub(crate) const RATIONAL: FieldType = FieldType(5);
pub(crate) const SBYTE: FieldType = FieldType(6);
pub(crate) const UNDEFINED: FieldType = FieldType(7);
pub(crate) const SSHORT: FieldType = FieldType(8);
pub(crate) const SLONG: FieldType = FieldType(9);
pub(crate) const SRATIONAL: FieldType = FieldType(10);
pub(crate) const FLOAT: FieldType = FieldType(11);
pub(crate) const DOUBLE: FieldType = FieldType(12);
/// The TIFF 6 "IFD" type (a LONG offset); some writers use it for sub-IFD pointers.
pub(crate) const IFD_TYPE: FieldType = FieldType(13);

/// Whether a block starts with a readable TIFF header (byte-order mark, magic 42, and
/// an IFD0 offset).
pub(crate) fn header_ok(block: &[u8]) -> bool {
    matches!(block.get(0..4), Some(b"II\x2a\0" | b"MM\0\x2a")) && block.len() >= 8
}

/// Byte order of a TIFF block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ByteOrder {
    /// `II`: Intel, little-endian.
    LittleEndian,
    /// `MM`: Motorola, big-endian.
    BigEndian,
}

impl ByteOrder {
    pub(crate) fn u16(self, b: &[u8], at: usize) -> Option<u16> {
        let s: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(match self {
            ByteOrder::LittleEndian => u16::from_le_bytes(s),
            ByteOrder::BigEndian => u16::from_be_bytes(s),
        })
    }

    pub(crate) fn u32(self, b: &[u8], at: usize) -> Option<u32> {
        let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(match self {
            ByteOrder::LittleEndian => u32::from_le_bytes(s),
            ByteOrder::BigEndian => u32::from_be_bytes(s),
        })
    }

    pub(crate) fn put_u16(self, v: u16) -> [u8; 2] {
        match self {
            ByteOrder::LittleEndian => v.to_le_bytes(),
            ByteOrder::BigEndian => v.to_be_bytes(),
        }
    }

    pub(crate) fn put_u32(self, v: u32) -> [u8; 4] {
        match self {
            ByteOrder::LittleEndian => v.to_le_bytes(),
            ByteOrder::BigEndian => v.to_be_bytes(),
        }
    }
}

/// Where an entry's value is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// Up to 4 bytes held in the entry itself (as found, in the block's byte order).
    Inline([u8; 4]),
    /// Out-of-line bytes at this offset of the original block; they never move.
    Stored(u32),
    /// A new value (in the block's byte order), written inline or appended.
    New(Vec<u8>),
    /// A pointer to another IFD of the model.
    Child(Ifd),
}

/// One IFD entry of the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub tag: u16,
    pub typ: FieldType,
    pub count: u32,
    pub value: Value,
}

impl Entry {
    /// A new entry of a type with `bytes` (already in the block's byte order).
    pub(crate) fn new(tag: u16, typ: FieldType, bytes: Vec<u8>) -> Entry {
        let size = typ.size().unwrap_or(1);
        let count = u32::try_from(bytes.len() / size).unwrap_or(u32::MAX);
        Entry {
            tag,
            typ,
            count,
            value: Value::New(bytes),
        }
    }

    /// A new NUL-terminated ASCII entry.
    pub(crate) fn ascii(tag: u16, text: &str) -> Entry {
        let mut bytes = text.as_bytes().to_vec();
        bytes.push(0);
        Entry::new(tag, ASCII, bytes)
    }

    /// Size of the value in bytes (`None` on overflow or a bad type code).
    pub(crate) fn byte_len(&self) -> Option<usize> {
        self.typ
            .size()?
            .checked_mul(usize::try_from(self.count).ok()?)
    }
}

/// Where an IFD table was in the original block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Origin {
    pub offset: usize,
    /// Bytes of the table including the next-IFD link (clipped to the block).
    pub len: usize,
}

/// One IFD of the model.
#[derive(Debug, Clone)]
pub(crate) struct Dir {
    pub entries: Vec<Entry>,
    pub origin: Option<Origin>,
    /// Must be written anew (changed, repaired, or new).
    pub dirty: bool,
    /// The next-IFD link as found (only IFD1's is ever written back: it may lead on).
    pub next_raw: u32,
    /// The table claimed more entries than fit in the block: what was read is what
    /// could be saved (ExifTool calls such a table bad and reads none of it).
    pub salvaged: bool,
}

impl Dir {
    pub(crate) fn empty() -> Dir {
        Dir {
            entries: Vec::new(),
            origin: None,
            dirty: true,
            next_raw: 0,
            salvaged: false,
        }
    }

    pub(crate) fn get(&self, tag: u16) -> Option<&Entry> {
        self.entries.iter().find(|e| e.tag == tag)
    }

    pub(crate) fn position(&self, tag: u16) -> Option<usize> {
        self.entries.iter().position(|e| e.tag == tag)
    }
}

/// The order IFDs are laid out in when appended: IFD0 first, so that ExifTool's
/// inherited directory length for IFD1 (block length minus IFD0's offset) is largest.
pub(crate) const LAYOUT: [Ifd; 5] = [Ifd::Ifd0, Ifd::Exif, Ifd::Interop, Ifd::Gps, Ifd::Ifd1];

/// An EXIF TIFF block as an editable model.
#[derive(Debug, Clone)]
pub(crate) struct Exif {
    /// The original block (owned: at most 64 KB in a JPEG, and edits zero bytes in it).
    pub data: Vec<u8>,
    pub order: ByteOrder,
    dirs: [Option<Dir>; 5],
    /// Out-of-line values that nothing references any more (zeroed on write if free).
    pub orphans: Vec<Range<usize>>,
    /// Repairs made while parsing.
    pub repairs: Vec<Repair>,
    /// Whether the block was made from nothing (no EXIF in the file).
    pub created: bool,
}

fn slot(ifd: Ifd) -> usize {
    match ifd {
        Ifd::Ifd0 => 0,
        Ifd::Exif => 1,
        Ifd::Interop => 2,
        Ifd::Gps => 3,
        Ifd::Ifd1 => 4,
    }
}

impl Exif {
    /// A new, empty block (big-endian like ExifTool's default) with an empty IFD0.
    pub(crate) fn create() -> Exif {
        let mut dirs: [Option<Dir>; 5] = Default::default();
        dirs[0] = Some(Dir::empty());
        Exif {
            data: b"MM\0\x2a\0\0\0\x08".to_vec(),
            order: ByteOrder::BigEndian,
            dirs,
            orphans: Vec::new(),
            repairs: Vec::new(),
            created: true,
        }
    }

    pub(crate) fn dir(&self, ifd: Ifd) -> Option<&Dir> {
        self.dirs[slot(ifd)].as_ref()
    }

    pub(crate) fn dir_mut(&mut self, ifd: Ifd) -> Option<&mut Dir> {
        self.dirs[slot(ifd)].as_mut()
    }

    pub(crate) fn set_dir(&mut self, ifd: Ifd, dir: Option<Dir>) {
        self.dirs[slot(ifd)] = dir;
    }

    /// Whether any IFD must be written, i.e. the block changes.
    pub(crate) fn is_dirty(&self) -> bool {
        self.dirs.iter().flatten().any(|d| d.dirty)
    }

    /// The bytes of an entry's value (`None` when it points outside the block).
    pub(crate) fn value_bytes<'s>(&'s self, entry: &'s Entry) -> Option<&'s [u8]> {
        let len = entry.byte_len()?;
        match &entry.value {
            Value::Inline(field) => field.get(..len),
            Value::Stored(off) => {
                let start = usize::try_from(*off).ok()?;
                self.data.get(start..start.checked_add(len)?)
            }
            Value::New(bytes) => Some(bytes.as_slice()),
            Value::Child(_) => None,
        }
    }

    /// An ASCII value as text, up to its first NUL (`None` if absent or not ASCII type).
    pub(crate) fn text(&self, ifd: Ifd, tag: u16) -> Option<String> {
        let entry = self.dir(ifd)?.get(tag)?;
        let bytes = self.value_bytes(entry)?;
        Some(bytes_to_text(bytes))
    }

    /// Removes an entry; its out-of-line value becomes an orphan. Returns it.
    pub(crate) fn remove(&mut self, ifd: Ifd, tag: u16) -> Option<Entry> {
        let dir = self.dirs[slot(ifd)].as_mut()?;
        let at = dir.position(tag)?;
        let entry = dir.entries.remove(at);
        dir.dirty = true;
        self.orphan(&entry);
        Some(entry)
    }

    /// Inserts or replaces an entry; a replaced out-of-line value becomes an orphan.
    pub(crate) fn put(&mut self, ifd: Ifd, entry: Entry) {
        if self.dirs[slot(ifd)].is_none() {
            self.dirs[slot(ifd)] = Some(Dir::empty());
        }
        let Some(dir) = self.dirs[slot(ifd)].as_mut() else {
            return;
        };
        dir.dirty = true;
        let old = match dir.position(entry.tag) {
            Some(at) => Some(std::mem::replace(&mut dir.entries[at], entry)),
            None => {
                dir.entries.push(entry);
                None
            }
        };
        if let Some(old) = old {
            self.orphan(&old);
        }
    }

    pub(crate) fn orphan(&mut self, entry: &Entry) {
        if let Value::Stored(off) = entry.value
            && let (Ok(start), Some(len)) = (usize::try_from(off), entry.byte_len())
            && let Some(end) = start.checked_add(len)
            && end <= self.data.len()
        {
            self.orphans.push(start..end);
        }
    }

    /// Parses a TIFF block. Fails only when there is no usable IFD0.
    pub(crate) fn parse(block: Vec<u8>) -> Result<Exif, Error> {
        let order = match block.get(0..4) {
            Some(b"II\x2a\0") => ByteOrder::LittleEndian,
            Some(b"MM\0\x2a") => ByteOrder::BigEndian,
            Some(_) => return Err(Error::malformed("not a TIFF header")),
            None => return Err(Error::truncated("TIFF header")),
        };
        let ifd0 = order
            .u32(&block, 4)
            .ok_or_else(|| Error::truncated("TIFF header"))?;
        let mut exif = Exif {
            data: block,
            order,
            dirs: Default::default(),
            orphans: Vec::new(),
            repairs: Vec::new(),
            created: false,
        };
        let mut visited: Vec<usize> = Vec::new();
        let dir0 = exif
            .parse_dir(Ifd::Ifd0, ifd0, &mut visited)
            .map_err(Error::malformed)?;
        exif.set_dir(Ifd::Ifd0, Some(dir0));

        // IFD1 (thumbnail) through IFD0's next link.
        let next = exif.dir(Ifd::Ifd0).map_or(0, |d| d.next_raw);
        if next != 0 {
            match exif.parse_dir(Ifd::Ifd1, next, &mut visited) {
                Ok(dir) => exif.set_dir(Ifd::Ifd1, Some(dir)),
                Err(why) => {
                    exif.repairs.push(Repair::new(
                        Ifd::Ifd0,
                        None,
                        format!("dropped the link to IFD1: {why}"),
                    ));
                    if let Some(d) = exif.dir_mut(Ifd::Ifd0) {
                        d.dirty = true;
                        d.next_raw = 0;
                    }
                }
            }
        }
        // Sub-IFDs: Exif and GPS from IFD0, Interop from Exif.
        for (parent, tag, child) in [
            (Ifd::Ifd0, id::EXIF_OFFSET, Ifd::Exif),
            (Ifd::Ifd0, id::GPS_INFO, Ifd::Gps),
            (Ifd::Exif, id::INTEROP_OFFSET, Ifd::Interop),
        ] {
            exif.parse_child(parent, tag, child, &mut visited);
        }
        Ok(exif)
    }

    fn parse_child(&mut self, parent: Ifd, tag: u16, child: Ifd, visited: &mut Vec<usize>) {
        let Some(entry) = self.dir(parent).and_then(|d| d.get(tag)).cloned() else {
            return;
        };
        let offset = match (&entry.value, entry.typ, entry.count) {
            (Value::Inline(field), LONG | IFD_TYPE, 1) => Some(self.order.u32(field, 0)),
            (Value::Inline(field), SHORT, 1) => Some(self.order.u16(field, 0).map(u32::from)),
            _ => None,
        }
        .flatten();
        let name = tags::name(parent, tag).unwrap_or("pointer");
        let result = match offset {
            Some(off) => self.parse_dir(child, off, visited),
            None => Err("the pointer is not a single LONG"),
        };
        match result {
            Ok(dir) => {
                self.set_dir(child, Some(dir));
                if let Some(d) = self.dir_mut(parent)
                    && let Some(at) = d.position(tag)
                {
                    let canonical = entry.typ == LONG || entry.typ == IFD_TYPE;
                    d.entries[at] = Entry {
                        tag,
                        typ: if canonical { entry.typ } else { LONG },
                        count: 1,
                        value: Value::Child(child),
                    };
                    if !canonical {
                        d.dirty = true;
                        self.repairs.push(Repair::new(
                            parent,
                            Some(tag),
                            format!("{name} stored as {}: rewritten as int32u", entry.typ.name()),
                        ));
                    }
                }
            }
            Err(why) => {
                if let Some(d) = self.dir_mut(parent)
                    && let Some(at) = d.position(tag)
                {
                    d.entries.remove(at);
                    d.dirty = true;
                }
                self.repairs.push(Repair::new(
                    parent,
                    Some(tag),
                    format!("dropped {name}: {why}"),
                ));
            }
        }
    }

    /// Parses one IFD table; drops what cannot be kept and records why.
    fn parse_dir(
        &mut self,
        ifd: Ifd,
        offset: u32,
        visited: &mut Vec<usize>,
    ) -> Result<Dir, &'static str> {
        let data = &self.data;
        let order = self.order;
        let start = usize::try_from(offset).map_err(|_| "offset out of range")?;
        if start < 8 || start.checked_add(2).is_none_or(|e| e > data.len()) {
            return Err("it points outside the EXIF block");
        }
        if visited.contains(&start) {
            return Err("it points at an IFD already read (a loop or an alias)");
        }
        visited.push(start);
        let declared = usize::from(order.u16(data, start).ok_or("truncated IFD")?);
        let room = (data.len() - start - 2) / 12;
        let count = declared.min(room);
        let mut dir = Dir {
            entries: Vec::with_capacity(count),
            origin: None,
            dirty: false,
            next_raw: 0,
            salvaged: false,
        };
        let mut repairs = Vec::new();
        if count < declared {
            dir.dirty = true;
            dir.salvaged = true;
            repairs.push(Repair::new(
                ifd,
                None,
                format!("the IFD claims {declared} entries but only {count} fit in the block"),
            ));
        }
        if declared > 0 && count == 0 {
            return Err("the IFD table does not fit in the block");
        }
        let mut last: Option<u16> = None;
        let mut unsorted = false;
        for i in 0..count {
            let at = start + 2 + 12 * i;
            let (Some(tag), Some(typ), Some(n)) = (
                order.u16(data, at),
                order.u16(data, at + 2).map(FieldType),
                order.u32(data, at + 4),
            ) else {
                break;
            };
            let mut field = [0u8; 4];
            if let Some(f) = data.get(at + 8..at + 12) {
                field.copy_from_slice(f);
            }
            // Only built when an entry is dropped (the common path allocates nothing).
            let name =
                || tags::name(ifd, tag).map_or_else(|| format!("tag 0x{tag:04x}"), str::to_owned);
            let Some(size) = typ.size() else {
                // ExifTool's rule: a bad type code in the first entry means the table is
                // not an IFD at all (random bytes), not an IFD with one bad entry.
                if i == 0 {
                    return Err("its first entry has a bad type code: not an IFD");
                }
                dir.dirty = true;
                repairs.push(Repair::new(
                    ifd,
                    Some(tag),
                    format!("dropped {}: bad type code {}", name(), typ.0),
                ));
                continue;
            };
            let Some(len) = usize::try_from(n).ok().and_then(|n| n.checked_mul(size)) else {
                dir.dirty = true;
                repairs.push(Repair::new(
                    ifd,
                    Some(tag),
                    format!("dropped {}: impossible count {n}", name()),
                ));
                continue;
            };
            let value = if len <= 4 {
                Value::Inline(field)
            } else {
                let off = order.u32(&field, 0).unwrap_or(0);
                let ok = usize::try_from(off)
                    .ok()
                    .filter(|&o| o >= 8)
                    .and_then(|o| o.checked_add(len))
                    .is_some_and(|end| end <= data.len());
                if !ok {
                    dir.dirty = true;
                    repairs.push(Repair::new(
                        ifd,
                        Some(tag),
                        format!(
                            "dropped {}: its {len}-byte value runs outside the EXIF block",
                            name()
                        ),
                    ));
                    continue;
                }
                Value::Stored(off)
            };
            if dir.entries.iter().any(|e| e.tag == tag) {
                dir.dirty = true;
                repairs.push(Repair::new(
                    ifd,
                    Some(tag),
                    format!("dropped a duplicate {}", name()),
                ));
                if let Value::Stored(off) = value
                    && let Ok(s) = usize::try_from(off)
                {
                    // The kept first copy may share these bytes; the writer checks.
                    self.orphans.push(s..s.saturating_add(len));
                }
                continue;
            }
            if last.is_some_and(|l| tag <= l) {
                unsorted = true;
            }
            last = Some(tag);
            dir.entries.push(Entry {
                tag,
                typ,
                count: n,
                value,
            });
        }
        if unsorted {
            dir.dirty = true;
            repairs.push(Repair::new(
                ifd,
                None,
                "sorted the entries by tag".to_owned(),
            ));
        }
        let table_end = start + 2 + 12 * count;
        dir.next_raw = order.u32(data, table_end).unwrap_or(0);
        dir.origin = Some(Origin {
            offset: start,
            len: (table_end + 4).min(data.len()) - start,
        });
        self.repairs.extend(repairs);
        Ok(dir)
    }

    /// Writes the block: the original bytes (orphans zeroed, header repointed) plus the
    /// appended IFDs, within `limit` bytes when one is given (a JPEG APP1 holds 65,527
    /// bytes of TIFF). Returns the input unchanged when nothing is dirty. When appending does not fit, space is reclaimed in
    /// this order, each step only if the one before is not enough: the holes left by
    /// removed values and abandoned tables are reused (the new IFD0 where the old one
    /// was); trailing padding that nothing points to is dropped; the IFD1 thumbnail is
    /// dropped (and said so). MakerNote bytes never move and are never dropped.
    pub(crate) fn write_within(
        &self,
        limit: Option<usize>,
    ) -> Result<(Vec<u8>, Vec<Reclaimed>), Error> {
        if !self.is_dirty() {
            return Ok((self.data.clone(), Vec::new()));
        }
        let appended = self.write_with(Room::Append)?;
        let Some(limit) = limit else {
            return Ok((appended, Vec::new()));
        };
        if appended.len() <= limit {
            return Ok((appended, Vec::new()));
        }
        let mut steps = vec![Reclaimed::FreedSpace];
        let reused = self.write_with(Room::Holes {
            trim_padding: false,
        })?;
        if reused.len() <= limit {
            return Ok((reused, steps));
        }
        steps.push(Reclaimed::Padding);
        let trimmed = self.write_with(Room::Holes { trim_padding: true })?;
        if trimmed.len() <= limit {
            return Ok((trimmed, steps));
        }
        if let Some((slim, thumbnail)) = self.without_thumbnail() {
            steps.push(Reclaimed::Thumbnail(thumbnail));
            let slimmed = slim.write_with(Room::Holes { trim_padding: true })?;
            if slimmed.len() <= limit {
                return Ok((slimmed, steps));
            }
        }
        Err(Error::new(
            crate::ErrorKind::TooLarge,
            format!(
                "the EXIF would be {} bytes ({} appended; {} after reusing freed space, \
                 dropping padding and the thumbnail); a JPEG APP1 segment holds at most \
                 {} (MakerNote data is never dropped)",
                appended.len() + 6,
                appended.len(),
                trimmed.len(),
                limit + 6
            ),
        ))
    }

    /// The model without IFD1 and its thumbnail, whose bytes become free; and the
    /// thumbnail's size. `None` without an IFD1.
    fn without_thumbnail(&self) -> Option<(Exif, usize)> {
        let d1 = self.dir(Ifd::Ifd1)?;
        let mut slim = self.clone();
        let mut thumbnail = 0;
        for e in &d1.entries {
            slim.orphan(e);
        }
        if let Some(o) = d1.origin {
            slim.orphans.push(o.offset..o.offset + o.len);
        }
        let number = |tag| {
            d1.get(tag)
                .and_then(|e| self.numbers(e))
                .and_then(|v| v.first().copied())
                .and_then(|v| usize::try_from(v).ok())
        };
        if let (Some(at), Some(len)) = (number(id::THUMBNAIL_OFFSET), number(id::THUMBNAIL_LENGTH))
            && at
                .checked_add(len)
                .is_some_and(|end| end <= self.data.len())
        {
            slim.orphans.push(at..at + len);
            thumbnail = len;
        }
        slim.set_dir(Ifd::Ifd1, None);
        if let Some(d0) = slim.dir_mut(Ifd::Ifd0) {
            d0.dirty = true;
        }
        Some((slim, thumbnail))
    }

    /// Writes the block, placing the new tables and values as `room` allows.
    fn write_with(&self, room: Room) -> Result<Vec<u8>, Error> {
        // Room for the appended IFDs up front: the block is copied once, never regrown.
        let mut out = Vec::with_capacity(self.data.len() + 4096);
        out.extend_from_slice(&self.data);
        let order = self.order;
        // IFD0 must be rewritten when anything below it moves; callers mark it, but make
        // sure: a dirty child needs its parent's pointer changed.
        let dirty = |ifd: Ifd| -> bool {
            match self.dir(ifd) {
                None => false,
                Some(d) => {
                    d.dirty
                        || d.origin.is_none()
                        || match ifd {
                            Ifd::Ifd0 => true,
                            Ifd::Exif => self.dir(Ifd::Interop).is_some_and(|c| c.dirty),
                            _ => false,
                        }
                }
            }
        };

        let (holes, used_end) = self.zero_orphans(&mut out, &dirty);
        let mut space = match room {
            Room::Append => Space::append(out.len()),
            Room::Holes { trim_padding } => {
                if trim_padding {
                    // Trailing bytes that nothing points to and that hold nothing
                    // (zeros, including what was just zeroed) are padding.
                    let last_data = out.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                    out.truncate(used_end.max(last_data).max(8));
                }
                Space::with_holes(out.len(), holes)
            }
        };

        // Layout: tables and their new values, in LAYOUT order, word-aligned.
        let mut placed: [Option<usize>; 5] = [None; 5];
        let mut value_at: Vec<(Ifd, usize, usize)> = Vec::new(); // (ifd, entry index, offset)
        for ifd in LAYOUT {
            if !dirty(ifd) {
                continue;
            }
            let Some(d) = self.dir(ifd) else { continue };
            placed[slot(ifd)] = Some(space.alloc(2 + 12 * d.entries.len() + 4)?);
            for (i, e) in sorted(&d.entries).into_iter().enumerate() {
                if let Value::New(bytes) = &e.value
                    && bytes.len() > 4
                {
                    value_at.push((ifd, i, space.alloc(bytes.len())?));
                }
            }
        }
        // ExifTool gives IFD1 the directory length it gave IFD0 (block end minus IFD0's
        // offset): leave at least IFD1's table size after the new IFD0.
        if let (Some(ifd0_at), Some(d1)) = (placed[slot(Ifd::Ifd0)], self.dir(Ifd::Ifd1)) {
            space.reach(add(ifd0_at, 2 + 12 * d1.entries.len() + 4)?);
        }
        let pos = space.end;
        if u32::try_from(pos).is_err() {
            return Err(Error::new(
                crate::ErrorKind::TooLarge,
                "EXIF block over 4 GB",
            ));
        }
        out.resize(pos.max(out.len()), 0);

        let offset_of = |ifd: Ifd| -> u32 {
            placed[slot(ifd)]
                .or_else(|| self.dir(ifd).and_then(|d| d.origin).map(|o| o.offset))
                .and_then(|o| u32::try_from(o).ok())
                .unwrap_or(0)
        };
        for ifd in LAYOUT {
            let (Some(at), Some(d)) = (placed[slot(ifd)], self.dir(ifd)) else {
                continue;
            };
            let entries = sorted(&d.entries);
            let mut table = Vec::with_capacity(2 + 12 * entries.len() + 4);
            let n = u16::try_from(entries.len()).map_err(|_| {
                Error::new(crate::ErrorKind::TooLarge, "too many entries in one IFD")
            })?;
            table.extend_from_slice(&order.put_u16(n));
            for (i, e) in entries.iter().enumerate() {
                let mut field = [0u8; 4];
                let (typ, count) = match &e.value {
                    Value::Inline(f) => {
                        field = *f;
                        (e.typ, e.count)
                    }
                    Value::Stored(off) => {
                        field = order.put_u32(*off);
                        (e.typ, e.count)
                    }
                    Value::New(bytes) if bytes.len() <= 4 => {
                        field[..bytes.len()].copy_from_slice(bytes);
                        (e.typ, e.count)
                    }
                    Value::New(_) => {
                        let off = value_at
                            .iter()
                            .find(|(f, j, _)| *f == ifd && *j == i)
                            .map_or(0, |&(_, _, o)| o);
                        field = order.put_u32(u32::try_from(off).unwrap_or(0));
                        (e.typ, e.count)
                    }
                    Value::Child(child) => {
                        field = order.put_u32(offset_of(*child));
                        (if e.typ == IFD_TYPE { IFD_TYPE } else { LONG }, 1)
                    }
                };
                table.extend_from_slice(&order.put_u16(e.tag));
                table.extend_from_slice(&order.put_u16(typ.0));
                table.extend_from_slice(&order.put_u32(count));
                table.extend_from_slice(&field);
            }
            let next = match ifd {
                Ifd::Ifd0 if self.dir(Ifd::Ifd1).is_some() => offset_of(Ifd::Ifd1),
                Ifd::Ifd1 => self.valid_ifd1_next(),
                _ => 0,
            };
            table.extend_from_slice(&order.put_u32(next));
            out[at..at + table.len()].copy_from_slice(&table);
        }
        for (ifd, i, at) in value_at {
            if let Some(d) = self.dir(ifd)
                && let Some(e) = sorted(&d.entries).get(i)
                && let Value::New(bytes) = &e.value
            {
                out[at..at + bytes.len()].copy_from_slice(bytes);
            }
        }
        let ifd0 = order.put_u32(offset_of(Ifd::Ifd0));
        out[4..8].copy_from_slice(&ifd0);
        Ok(out)
    }

    /// IFD1's link onwards, kept if it plausibly leads to another IFD in the block.
    fn valid_ifd1_next(&self) -> u32 {
        let Some(d1) = self.dir(Ifd::Ifd1) else {
            return 0;
        };
        let next = d1.next_raw;
        let ok = usize::try_from(next).is_ok_and(|n| {
            n >= 8
                && n.checked_add(2).is_some_and(|e| e <= self.data.len())
                && !self
                    .dirs
                    .iter()
                    .flatten()
                    .any(|d| d.origin.is_some_and(|o| o.offset == n))
        });
        if ok { next } else { 0 }
    }

    /// Zeroes abandoned tables and orphaned values, except where anything that stays
    /// referenced overlaps them (broken files alias structures; MakerNotes are opaque).
    /// Returns the zeroed ranges (free for new data: the holes) and the end of the last
    /// byte anything still points to.
    fn zero_orphans(
        &self,
        out: &mut [u8],
        dirty: &dyn Fn(Ifd) -> bool,
    ) -> (Vec<Range<usize>>, usize) {
        let mut candidates: Vec<Range<usize>> = self.orphans.clone();
        // The TIFF header is always in use.
        let mut kept: Vec<Range<usize>> = Vec::new();
        kept.push(0..8);
        for ifd in LAYOUT {
            let Some(d) = self.dir(ifd) else { continue };
            if let Some(o) = d.origin {
                let r = o.offset..o.offset + o.len;
                if dirty(ifd) {
                    candidates.push(r);
                } else {
                    kept.push(r);
                }
            }
            for e in &d.entries {
                if let Value::Stored(off) = e.value
                    && let (Ok(s), Some(len)) = (usize::try_from(off), e.byte_len())
                {
                    kept.push(s..s.saturating_add(len));
                }
            }
            // Vendor sub-IFDs (Nikon's scan IFD, SubIFDs…) are not modelled: their
            // tables stay where they are and their pointers are copied as they are, so
            // they must never be zeroed as part of an abandoned IFD0's span.
            for tag in tags::VENDOR_SUB_IFDS {
                let targets = d.get(tag).and_then(|e| self.numbers(e)).unwrap_or_default();
                for t in targets {
                    if let Ok(n) = usize::try_from(t)
                        && n >= 8
                    {
                        let count = self.order.u16(&self.data, n).map_or(0, usize::from);
                        kept.push(n..n.saturating_add(2 + 12 * count + 4));
                    }
                }
            }
            // Offset/length pairs point at data (thumbnail, strips) outside any value.
            for (off_tag, len_tag) in [
                (id::THUMBNAIL_OFFSET, id::THUMBNAIL_LENGTH),
                (id::STRIP_OFFSETS, id::STRIP_BYTE_COUNTS),
            ] {
                let offs = d
                    .get(off_tag)
                    .and_then(|e| self.numbers(e))
                    .unwrap_or_default();
                let lens = d
                    .get(len_tag)
                    .and_then(|e| self.numbers(e))
                    .unwrap_or_default();
                for (o, l) in offs.iter().zip(lens.iter()) {
                    if let (Ok(o), Ok(l)) = (usize::try_from(*o), usize::try_from(*l)) {
                        kept.push(o..o.saturating_add(l));
                    }
                }
            }
        }
        // IFD1's onward chain (IFD2…) is not modelled: keep it whole to the block end
        // would be too much; keep its table at least.
        if let Some(d1) = self.dir(Ifd::Ifd1)
            && let Ok(n) = usize::try_from(d1.next_raw)
            && n >= 8
        {
            let count = self.order.u16(&self.data, n).map_or(0, usize::from);
            kept.push(n..n.saturating_add(2 + 12 * count + 4));
        }
        let mut holes = Vec::new();
        for r in candidates {
            if r.start >= r.end || r.end > out.len() {
                continue;
            }
            if kept.iter().any(|k| k.start < r.end && r.start < k.end) {
                continue;
            }
            out[r.clone()].fill(0);
            holes.push(r);
        }
        let used_end = kept.iter().map(|k| k.end).max().unwrap_or(8).min(out.len());
        (holes, used_end)
    }

    /// Unsigned integer values of a SHORT/LONG entry.
    pub(crate) fn numbers(&self, e: &Entry) -> Option<Vec<u64>> {
        let bytes = self.value_bytes(e)?;
        let order = self.order;
        match e.typ {
            BYTE => Some(bytes.iter().map(|&b| u64::from(b)).collect()),
            SHORT => Some(
                (0..bytes.len() / 2)
                    .filter_map(|i| order.u16(bytes, i * 2).map(u64::from))
                    .collect(),
            ),
            LONG | IFD_TYPE => Some(
                (0..bytes.len() / 4)
                    .filter_map(|i| order.u32(bytes, i * 4).map(u64::from))
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// How [`Exif::write_with`] may place new tables and values.
#[derive(Debug, Clone, Copy)]
enum Room {
    /// After the old block only (the normal case: nothing of the old layout is reused,
    /// which is what ExifTool's directory-size checks expect).
    Append,
    /// In the holes freed inside the block first; with `trim_padding`, trailing bytes
    /// nothing points to are dropped before appending.
    Holes { trim_padding: bool },
}

/// What was done to make the block fit its container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reclaimed {
    /// Freed space (removed values, abandoned tables) was reused.
    FreedSpace,
    /// Trailing padding was dropped.
    Padding,
    /// The IFD1 thumbnail (this many bytes) was dropped.
    Thumbnail(usize),
}

/// A word-aligned allocator: first fit into holes, else at the end.
struct Space {
    holes: Vec<Range<usize>>,
    end: usize,
}

impl Space {
    fn append(len: usize) -> Space {
        Space {
            holes: Vec::new(),
            end: len + (len & 1),
        }
    }

    fn with_holes(len: usize, mut holes: Vec<Range<usize>>) -> Space {
        holes.retain(|h| h.end <= len);
        holes.sort_by_key(|h| h.start);
        // Touching or overlapping holes are one.
        let mut merged: Vec<Range<usize>> = Vec::new();
        for h in holes {
            match merged.last_mut() {
                Some(last) if h.start <= last.end => last.end = last.end.max(h.end),
                _ => merged.push(h),
            }
        }
        Space {
            holes: merged,
            end: len + (len & 1),
        }
    }

    /// A word-aligned place for `size` bytes.
    fn alloc(&mut self, size: usize) -> Result<usize, Error> {
        for h in &mut self.holes {
            let start = h.start + (h.start & 1);
            if start.checked_add(size).is_some_and(|e| e <= h.end) {
                let end = start + size;
                h.start = end + (end & 1);
                return Ok(start);
            }
        }
        let at = self.end;
        self.end = add(at, size)?;
        self.end += self.end & 1;
        Ok(at)
    }

    /// Makes the block reach at least `end`.
    fn reach(&mut self, end: usize) {
        self.end = self.end.max(end + (end & 1));
    }
}

fn add(a: usize, b: usize) -> Result<usize, Error> {
    a.checked_add(b)
        .ok_or_else(|| Error::new(crate::ErrorKind::TooLarge, "EXIF block too large"))
}

/// Entries sorted by tag (TIFF requires ascending order; ExifTool warns otherwise).
fn sorted(entries: &[Entry]) -> Vec<&Entry> {
    let mut v: Vec<&Entry> = entries.iter().collect();
    v.sort_by_key(|e| e.tag);
    v
}

/// ASCII bytes up to the first NUL, as text (invalid UTF-8 replaced).
pub(crate) fn bytes_to_text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// A value rendered for people: text for ASCII, numbers, `n/d` for rationals, text for
/// printable UNDEFINED (like ExifVersion `0232`), else a byte count.
pub(crate) fn display(order: ByteOrder, typ: FieldType, bytes: &[u8]) -> String {
    fn join<T: ToString>(v: impl Iterator<Item = T>) -> String {
        let items: Vec<String> = v.take(16).map(|x| x.to_string()).collect();
        items.join(" ")
    }
    let n = |size: usize| (0..bytes.len() / size).map(move |i| i * size);
    match typ {
        ASCII => bytes_to_text(bytes).trim_end().to_owned(),
        BYTE => join(bytes.iter()),
        SBYTE => join(bytes.iter().map(|&b| b as i8)),
        SHORT => join(n(2).filter_map(|i| order.u16(bytes, i))),
        SSHORT => join(n(2).filter_map(|i| order.u16(bytes, i).map(|v| v as i16))),
        LONG | IFD_TYPE => join(n(4).filter_map(|i| order.u32(bytes, i))),
        SLONG => join(n(4).filter_map(|i| order.u32(bytes, i).map(|v| v as i32))),
        RATIONAL => join(n(8).filter_map(|i| {
            Some(format!(
                "{}/{}",
                order.u32(bytes, i)?,
                order.u32(bytes, i + 4)?
            ))
        })),
        SRATIONAL => join(n(8).filter_map(|i| {
            Some(format!(
                "{}/{}",
                order.u32(bytes, i)? as i32,
                order.u32(bytes, i + 4)? as i32
            ))
        })),
        FLOAT => join(n(4).filter_map(|i| order.u32(bytes, i).map(f32::from_bits))),
        DOUBLE => join(n(8).filter_map(|i| {
            let hi = u64::from(order.u32(bytes, i)?);
            let lo = u64::from(order.u32(bytes, i + 4)?);
            Some(match order {
                ByteOrder::BigEndian => f64::from_bits(hi << 32 | lo),
                ByteOrder::LittleEndian => f64::from_bits(lo << 32 | hi),
            })
        })),
        _ => {
            let printable = !bytes.is_empty()
                && bytes.len() <= 64
                && bytes.iter().all(|&b| b == 0 || (0x20..0x7f).contains(&b));
            if printable {
                bytes_to_text(bytes)
            } else {
                format!("({} bytes)", bytes.len())
            }
        }
    }
}
