//! HEIF (HEIC, AVIF): where the `Exif` item is, and how a new EXIF block is put in as
//! a patch.
//!
//! The `meta` box is rewritten (its `iloc` repointed, and an `Exif` item added with
//! its `infe`, `iloc` entry and `cdsc` reference when there was none); the new Exif
//! payload goes into a new `mdat` right after `meta`, and every absolute `iloc` offset
//! into what follows is shifted by the bytes inserted. So the output is the new
//! `meta` and `mdat` between two copies of the input: everything after `meta` is
//! unmoved relative to itself, and every other item's bytes are identical. The old
//! Exif bytes are zeroed (a removed Software string should not linger) unless
//! another item shares them: a few bytes of new zeros in the middle of that copy,
//! wherever in the file they are. Layouts whose offsets cannot all be found and
//! shifted (movie boxes, items in other files, derived extents) are refused, never
//! guessed.

use std::ops::Range;

use crate::bmff::{self, BoxRef, be, be_bytes};
use crate::container::EXIF_PREFIX;
use crate::patch::Pieces;
use crate::source::Source;
use crate::{Error, ErrorKind};

/// The Exif item payload starts with the offset from its end to the TIFF header: here
/// past `Exif\0\0`, as cameras and ExifTool write it.
const EXIF_ITEM_HEAD: [u8; 4] = [0, 0, 0, 6];

/// What the walk of a HEIF file found, for reading the Exif item and writing a new one.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// The Exif item's TIFF block (as [`bmff::heif_exif`] reads it), if readable.
    pub exif_block: Option<Vec<u8>>,
    /// The `Exif` item's ID, if the file has one.
    pub exif_id: Option<u32>,
    meta: BoxRef,
    children: Vec<BoxRef>,
    iloc: Iloc,
    /// The `pitm` primary item, which a new Exif item describes.
    primary: Option<u32>,
    /// Every item ID `iinf` lists (a new item takes the next free one).
    ids: Vec<u32>,
    /// The bodies of the top-level `mdat` boxes and of `idat`: the only bytes an old
    /// Exif item's data may be zeroed in (never a box structure it might point into).
    data_areas: Vec<Range<usize>>,
    /// Why this layout cannot be patched, found while reading and told when writing.
    refusal: Option<String>,
}

/// The `iloc` box, parsed whole so it can be written back with changed values and
/// the same field sizes (an unchanged `iloc` is written back byte for byte).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Iloc {
    version: u8,
    flags: [u8; 3],
    offset_size: u8,
    length_size: u8,
    base_size: u8,
    /// The fourth nibble: index_size (v1, v2) or reserved (v0), kept as it was.
    index_nibble: u8,
    entries: Vec<Location>,
    /// Bytes after the last entry, kept.
    rest: Vec<u8>,
}

/// One item's `iloc` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Location {
    id: u32,
    /// The 16-bit field whose low 4 bits are construction_method (v1, v2).
    method_field: u16,
    data_reference: u16,
    base: u64,
    extents: Vec<Extent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Extent {
    index: u64,
    offset: u64,
    length: u64,
}

impl Iloc {
    fn index_size(&self) -> u8 {
        if self.version >= 1 {
            self.index_nibble
        } else {
            0
        }
    }

    fn id_size(&self) -> usize {
        if self.version < 2 { 2 } else { 4 }
    }

    /// Parses an `iloc` body (after the 8-byte box header).
    fn parse(body: &[u8]) -> Option<Iloc> {
        let mut r = Reader { data: body, at: 0 };
        let version = r.uint(1)? as u8;
        if version > 2 {
            return None;
        }
        let flags = [r.uint(1)? as u8, r.uint(1)? as u8, r.uint(1)? as u8];
        let sizes = r.uint(1)? as u8;
        let sizes2 = r.uint(1)? as u8;
        let mut iloc = Iloc {
            version,
            flags,
            offset_size: sizes >> 4,
            length_size: sizes & 15,
            base_size: sizes2 >> 4,
            index_nibble: sizes2 & 15,
            entries: Vec::new(),
            rest: Vec::new(),
        };
        let field_sizes = [
            iloc.offset_size,
            iloc.length_size,
            iloc.base_size,
            iloc.index_size(),
        ];
        if field_sizes.iter().any(|s| ![0, 4, 8].contains(s)) {
            return None;
        }
        let extent_size = usize::from(iloc.offset_size + iloc.length_size + iloc.index_size());
        let count = r.uint(iloc.id_size())?;
        for _ in 0..count {
            let id = r.uint(iloc.id_size())? as u32;
            let method_field = if version >= 1 { r.uint(2)? as u16 } else { 0 };
            let data_reference = r.uint(2)? as u16;
            let base = r.uint(usize::from(iloc.base_size))?;
            let extent_count = r.uint(2)?;
            // Extents of zero bytes each would let a tiny box ask for millions.
            if extent_size == 0 && extent_count > 1 {
                return None;
            }
            let mut extents = Vec::new();
            for _ in 0..extent_count {
                extents.push(Extent {
                    index: r.uint(usize::from(iloc.index_size()))?,
                    offset: r.uint(usize::from(iloc.offset_size))?,
                    length: r.uint(usize::from(iloc.length_size))?,
                });
            }
            iloc.entries.push(Location {
                id,
                method_field,
                data_reference,
                base,
                extents,
            });
        }
        iloc.rest = body.get(r.at..)?.to_vec();
        Some(iloc)
    }

    /// The `iloc` body again; fails when a value does not fit its field.
    fn write(&self) -> Result<Vec<u8>, Error> {
        let mut out = vec![self.version];
        out.extend_from_slice(&self.flags);
        out.push(self.offset_size << 4 | self.length_size);
        out.push(self.base_size << 4 | self.index_nibble);
        let id_size = self.id_size();
        put_uint(&mut out, self.entries.len() as u64, id_size, "item count")?;
        for e in &self.entries {
            put_uint(&mut out, u64::from(e.id), id_size, "item ID")?;
            if self.version >= 1 {
                out.extend_from_slice(&e.method_field.to_be_bytes());
            }
            out.extend_from_slice(&e.data_reference.to_be_bytes());
            put_uint(&mut out, e.base, self.base_size.into(), "base offset")?;
            let count = u16::try_from(e.extents.len())
                .map_err(|_| Error::new(ErrorKind::Unsupported, "too many iloc extents"))?;
            out.extend_from_slice(&count.to_be_bytes());
            for x in &e.extents {
                put_uint(&mut out, x.index, self.index_size().into(), "extent index")?;
                put_uint(&mut out, x.offset, self.offset_size.into(), "extent offset")?;
                put_uint(&mut out, x.length, self.length_size.into(), "extent length")?;
            }
        }
        out.extend_from_slice(&self.rest);
        Ok(out)
    }
}

impl Location {
    fn method(&self) -> u16 {
        self.method_field & 15
    }
}

/// Big-endian fields read one after the other.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    /// A `size`-byte unsigned field (0 bytes: the field is absent and reads as 0).
    fn uint(&mut self, size: usize) -> Option<u64> {
        let v = if size == 0 {
            0
        } else {
            be_bytes(self.data, self.at, size)?
        };
        self.at += size;
        Some(v)
    }
}

/// Appends `value` as a `size`-byte big-endian field; a value too wide for its field
/// (or any value but 0 for an absent field) is refused.
fn put_uint(out: &mut Vec<u8>, value: u64, size: usize, what: &str) -> Result<(), Error> {
    let fits = size >= 8 || value >> (8 * size) == 0;
    if !fits {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!("the new {what} ({value}) does not fit its {size}-byte iloc field"),
        ));
    }
    out.extend_from_slice(&value.to_be_bytes()[8 - size.min(8)..]);
    Ok(())
}

/// A box with a 32-bit size header.
fn make_box(kind: &[u8; 4], body: &[u8]) -> Result<Vec<u8>, Error> {
    let size = u32::try_from(body.len() + 8)
        .map_err(|_| Error::new(ErrorKind::TooLarge, "a HEIF box over 4 GB"))?;
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    Ok(out)
}

/// Top-level boxes that hold absolute file offsets this module does not shift.
const OFFSET_HOLDERS: [&[u8; 4]; 4] = [b"moov", b"moof", b"sidx", b"mfra"];

/// Walks a HEIF file: its `meta` box, items and the Exif item's TIFF block. Fails
/// only when there is no `meta` with an `iloc` and `iinf` to read; layouts that can
/// be read but not patched are noted and refused by [`place`].
pub(crate) fn scan(input: &Source<'_>) -> Result<Layout, Error> {
    let unreadable = |what: &str| Error::new(ErrorKind::Malformed, what.to_owned());
    let top = bmff::boxes(input, 0..input.len());
    let mut metas = top.iter().filter(|b| &b.kind == b"meta");
    let meta = *metas.next().ok_or_else(|| unreadable("no meta box"))?;
    let mut refusal = None;
    let mut refuse = |why: String| {
        refusal.get_or_insert(why);
    };
    if metas.next().is_some() {
        refuse("the file has more than one top-level meta box".to_owned());
    }
    if let Some(b) = top.iter().find(|b| OFFSET_HOLDERS.contains(&&b.kind)) {
        refuse(format!(
            "the file has a {} box, whose absolute offsets this tool does not shift",
            String::from_utf8_lossy(&b.kind)
        ));
    }
    let stated = be(input, meta.start, 4);
    if meta.body != meta.start + 8 || stated != Some((meta.end - meta.start) as u64) {
        refuse("the meta box's size is 64-bit, open-ended or past the file's end".to_owned());
    }
    let children = bmff::boxes(input, meta.body + 4..meta.end);
    if !well_formed(input, meta.body + 4..meta.end) {
        refuse("the meta box's children do not fill it exactly".to_owned());
    }
    for kind in [b"iloc", b"iinf", b"iref", b"pitm", b"idat"] {
        if children.iter().filter(|b| &b.kind == kind).count() > 1 {
            refuse(format!(
                "the meta box has more than one {} box",
                String::from_utf8_lossy(kind)
            ));
        }
    }
    let child = |kind: &[u8; 4]| children.iter().find(|b| &b.kind == kind).copied();
    let iloc_box = child(b"iloc").ok_or_else(|| unreadable("no iloc box in meta"))?;
    let iloc = input
        .get(iloc_box.body..iloc_box.end)
        .and_then(Iloc::parse)
        .ok_or_else(|| unreadable("the iloc box cannot be read"))?;
    let iinf = child(b"iinf").ok_or_else(|| unreadable("no iinf box in meta"))?;
    let items = item_types(input, iinf).ok_or_else(|| unreadable("the iinf box cannot be read"))?;
    // A new infe or reference appended after a damaged box would be hidden in it.
    let entries_at = iinf.body
        + if input.byte(iinf.body) == Some(0) {
            6
        } else {
            8
        };
    let stated = be(input, iinf.body + 4, entries_at - iinf.body - 4);
    let found = bmff::boxes(input, entries_at..iinf.end).len() as u64;
    if !well_formed(input, entries_at..iinf.end) || stated != Some(found) {
        refuse("the iinf box's entries do not fill it exactly or match its count".to_owned());
    }
    if let Some(iref) = child(b"iref")
        && !well_formed(input, iref.body + 4..iref.end)
    {
        refuse("the iref box's references do not fill it exactly".to_owned());
    }
    let exif_ids: Vec<u32> = items
        .iter()
        .filter(|(_, t)| t == b"Exif")
        .map(|(id, _)| *id)
        .collect();
    if exif_ids.len() > 1 {
        refuse("the file has more than one Exif item".to_owned());
    }
    for e in &iloc.entries {
        if e.method() > 1 {
            refuse(format!(
                "item {} is built from other items (construction method {})",
                e.id,
                e.method()
            ));
        }
        if e.data_reference != 0 {
            refuse(format!("item {}'s data is in another file", e.id));
        }
    }
    let primary = child(b"pitm").and_then(|p| {
        let size = if input.byte(p.body)? == 0 { 2 } else { 4 };
        be(input, p.body + 4, size).map(|id| id as u32)
    });
    if exif_ids.is_empty() && primary.is_none() {
        refuse("the file has no Exif item and no primary item to attach one to".to_owned());
    }
    let data_areas = top
        .iter()
        .filter(|b| &b.kind == b"mdat")
        .chain(child(b"idat").as_ref())
        .map(|b| b.body..b.end)
        .collect();
    Ok(Layout {
        exif_block: bmff::heif_exif(input),
        data_areas,
        exif_id: exif_ids.first().copied(),
        meta,
        children,
        iloc,
        primary,
        ids: items.iter().map(|(id, _)| *id).collect(),
        refusal,
    })
}

/// Whether `range` holds whole boxes with 32-bit sizes, back to back to its very end.
fn well_formed(input: &Source<'_>, range: Range<usize>) -> bool {
    let mut pos = range.start;
    while pos < range.end {
        let size = be(input, pos, 4).and_then(|s| usize::try_from(s).ok());
        match size.and_then(|s| pos.checked_add(s)) {
            Some(end) if end >= pos + 8 && end <= range.end => pos = end,
            _ => return false,
        }
    }
    pos == range.end && range.end <= input.len()
}

/// The ID and item type of every `infe` (versions 2 and 3; older ones have no type).
fn item_types(input: &Source<'_>, iinf: BoxRef) -> Option<Vec<(u32, [u8; 4])>> {
    let version = input.byte(iinf.body)?;
    let first = iinf.body + 4 + if version == 0 { 2 } else { 4 };
    let mut out = Vec::new();
    for infe in bmff::boxes(input, first..iinf.end)
        .into_iter()
        .filter(|b| &b.kind == b"infe")
    {
        let (id, at) = match input.byte(infe.body)? {
            2 => (be(input, infe.body + 4, 2)?, infe.body + 8),
            3 => (be(input, infe.body + 4, 4)?, infe.body + 10),
            _ => continue,
        };
        let mut kind = [0u8; 4];
        kind.copy_from_slice(input.get(at..at + 4)?);
        out.push((id as u32, kind));
    }
    Some(out)
}

/// The input ranges an item's extents cover (`None` for an extent whose place cannot
/// be told: open-ended, or overflowing).
fn item_ranges(input: &Source<'_>, layout: &Layout, e: &Location) -> Vec<Option<Range<usize>>> {
    let idat = layout.children.iter().find(|b| &b.kind == b"idat");
    e.extents
        .iter()
        .map(|x| {
            let origin = match e.method() {
                0 => 0,
                1 => idat?.body,
                _ => return None,
            };
            let start = usize::try_from(e.base.checked_add(x.offset)?)
                .ok()?
                .checked_add(origin)?;
            let end = start.checked_add(usize::try_from(x.length).ok()?)?;
            (x.length != 0 && end <= input.len()).then_some(start..end)
        })
        .collect()
}

/// Puts a TIFF block into the file as its Exif item: the output as pieces — the
/// bytes before `meta` and after it copied (the old Exif bytes zeroed), a new `meta`
/// and a new `mdat` holding the Exif item in between.
pub(crate) fn place(input: &Source<'_>, layout: &Layout, tiff: &[u8]) -> Result<Pieces, Error> {
    if let Some(why) = &layout.refusal {
        return Err(Error::new(ErrorKind::Unsupported, why.clone()));
    }
    let meta = layout.meta;
    let mut payload = Vec::with_capacity(tiff.len() + 10);
    payload.extend_from_slice(&EXIF_ITEM_HEAD);
    payload.extend_from_slice(EXIF_PREFIX);
    payload.extend_from_slice(tiff);
    let (exif_id, added) = match layout.exif_id {
        Some(id) => (id, false),
        None => (new_item_id(layout)?, true),
    };
    let zero = old_exif_ranges(input, layout, exif_id);
    // The meta box's size does not depend on the offsets written into it: build it once
    // to learn where the new mdat goes, then again with the real offsets.
    let probe = new_meta(input, layout, exif_id, added, 0..payload.len(), 0, &zero)?;
    let exif_at = meta.start + probe.len() + 8;
    let mdat = make_box(b"mdat", &payload)?;
    let delta = (probe.len() + mdat.len()) as i64 - (meta.end - meta.start) as i64;
    let exif = exif_at..exif_at + payload.len();
    let new_meta = new_meta(input, layout, exif_id, added, exif, delta, &zero)?;
    debug_assert_eq!(new_meta.len(), probe.len());
    let zeros: Vec<(usize, Vec<u8>)> = zero.iter().map(|r| (r.start, vec![0; r.len()])).collect();
    let overrides: Vec<(usize, &[u8])> = zeros.iter().map(|(at, z)| (*at, &z[..])).collect();
    let mut out = Pieces::default();
    out.copy_with(0..meta.start, &overrides)
        .push_owned(new_meta)
        .push_owned(mdat)
        .copy_with(meta.end..input.len(), &overrides);
    Ok(out)
}

/// The next free item ID for a new Exif item, if the ID fields can hold it.
fn new_item_id(layout: &Layout) -> Result<u32, Error> {
    let highest = layout
        .ids
        .iter()
        .chain(layout.iloc.entries.iter().map(|e| &e.id))
        .chain(&layout.primary)
        .max()
        .copied()
        .unwrap_or(0);
    let limit = if layout.iloc.version < 2 {
        u32::from(u16::MAX)
    } else {
        u32::MAX
    };
    highest
        .checked_add(1)
        .filter(|&id| id <= limit)
        .ok_or_else(|| Error::new(ErrorKind::Unsupported, "no free item ID for an Exif item"))
}

/// The old Exif item's bytes that no other item shares and that lie in item data
/// (`mdat`, `idat`): to be zeroed.
fn old_exif_ranges(input: &Source<'_>, layout: &Layout, exif_id: u32) -> Vec<Range<usize>> {
    let (mine, others): (Vec<_>, Vec<_>) =
        layout.iloc.entries.iter().partition(|e| e.id == exif_id);
    let taken: Vec<Option<Range<usize>>> = others
        .iter()
        .flat_map(|e| item_ranges(input, layout, e))
        .collect();
    mine.iter()
        .flat_map(|e| item_ranges(input, layout, e))
        .flatten()
        .filter(|r| {
            // An open-ended or unplaceable extent of another item might cover it.
            taken.iter().all(|t| {
                t.as_ref()
                    .is_some_and(|t| t.end <= r.start || r.end <= t.start)
            })
        })
        // A damaged iloc may point into box headers: those are never touched.
        .filter(|r| {
            layout
                .data_areas
                .iter()
                .any(|a| a.start <= r.start && r.end <= a.end)
        })
        .collect()
}

/// Appends `input[range]` with the bytes inside `zero` set to 0.
fn copy_zeroed(out: &mut Vec<u8>, input: &Source<'_>, range: Range<usize>, zero: &[Range<usize>]) {
    let at = out.len();
    out.extend_from_slice(input.get(range.clone()).unwrap_or(&[]));
    for z in zero {
        let start = z.start.max(range.start);
        let end = z.end.min(range.end);
        if start < end
            && let Some(bytes) = out.get_mut(at + start - range.start..at + end - range.start)
        {
            bytes.fill(0);
        }
    }
}

/// The new `meta` box: `iloc` with the Exif item at `exif` and every absolute
/// offset past the old `meta` shifted by `delta`; for a new item, `iinf` and `iref`
/// gain its entries. Every other child is copied (with `zero` applied).
fn new_meta(
    input: &Source<'_>,
    layout: &Layout,
    exif_id: u32,
    added: bool,
    exif: Range<usize>,
    delta: i64,
    zero: &[Range<usize>],
) -> Result<Vec<u8>, Error> {
    let meta = layout.meta;
    let iloc = make_box(b"iloc", &new_iloc(layout, exif_id, &exif, delta)?.write()?)?;
    let mut body = input
        .get(meta.body..meta.body + 4)
        .ok_or_else(|| Error::malformed("meta box without its version"))?
        .to_vec();
    let mut has_iref = false;
    let mut end = meta.body + 4;
    for child in &layout.children {
        match &child.kind {
            b"iloc" => body.extend_from_slice(&iloc),
            b"iinf" if added => body.extend(with_exif_infe(input, *child, exif_id)?),
            b"iref" if added => {
                has_iref = true;
                body.extend(with_cdsc(input, *child, exif_id, layout.primary)?);
            }
            _ => copy_zeroed(&mut body, input, child.start..child.end, zero),
        }
        end = child.end;
    }
    // Bytes after the last whole child are kept as they were.
    copy_zeroed(&mut body, input, end..meta.end, zero);
    if added && !has_iref {
        let wide = exif_id > 0xFFFF || layout.primary.is_some_and(|p| p > 0xFFFF);
        let mut iref = vec![u8::from(wide), 0, 0, 0];
        iref.extend(cdsc(exif_id, layout.primary, wide)?);
        body.extend(make_box(b"iref", &iref)?);
    }
    make_box(b"meta", &body)
}

/// The `iloc` entries with the Exif item in the new `mdat` and the rest shifted.
fn new_iloc(layout: &Layout, exif_id: u32, exif: &Range<usize>, delta: i64) -> Result<Iloc, Error> {
    let mut iloc = layout.iloc.clone();
    let at = exif.start as u64;
    let (base, offset) = match (iloc.offset_size, iloc.base_size) {
        (0, 0) => {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "the iloc box has no offset fields to place the Exif item with",
            ));
        }
        (0, _) => (at, 0),
        _ => (0, at),
    };
    if iloc.length_size == 0 {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "the iloc box has no length fields to size the Exif item with",
        ));
    }
    let old_meta = layout.meta.start..layout.meta.end;
    for e in iloc.entries.iter_mut().filter(|e| e.id != exif_id) {
        if e.method() == 0 {
            shift(e, &old_meta, delta)?;
        }
    }
    let entry = Location {
        id: exif_id,
        method_field: 0,
        data_reference: 0,
        base,
        extents: vec![Extent {
            index: 0,
            offset,
            length: exif.len() as u64,
        }],
    };
    match iloc.entries.iter().position(|e| e.id == exif_id) {
        Some(i) => {
            let old = &iloc.entries[i];
            iloc.entries[i] = Location {
                method_field: old.method_field & !15,
                ..entry
            };
        }
        None => iloc.entries.push(entry),
    }
    Ok(iloc)
}

/// Moves an item's absolute (construction method 0) extents that lie past the old
/// `meta` by `delta`; an extent inside `meta`, or across it, cannot be kept valid.
fn shift(e: &mut Location, old_meta: &Range<usize>, delta: i64) -> Result<(), Error> {
    let (start, end) = (old_meta.start as u64, old_meta.end as u64);
    let moved = |v: u64| {
        v.checked_add_signed(delta)
            .ok_or_else(|| Error::malformed("an item offset out of range"))
    };
    if e.base >= end {
        e.base = moved(e.base)?;
        return Ok(());
    }
    for x in &mut e.extents {
        let at = e
            .base
            .checked_add(x.offset)
            .ok_or_else(|| Error::malformed("an item offset out of range"))?;
        if at >= end {
            x.offset = moved(x.offset)?;
        } else if x.length == 0 || at.saturating_add(x.length) > start {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("item {}'s data overlaps the meta box", e.id),
            ));
        }
    }
    Ok(())
}

/// The `iinf` box with an `infe` for a new (hidden) Exif item appended.
fn with_exif_infe(input: &Source<'_>, iinf: BoxRef, exif_id: u32) -> Result<Vec<u8>, Error> {
    let bad = || Error::malformed("the iinf box cannot be read");
    let version = input.byte(iinf.body).ok_or_else(bad)?;
    let count_size = if version == 0 { 2 } else { 4 };
    let count = be(input, iinf.body + 4, count_size).ok_or_else(bad)?;
    let mut body = input
        .get(iinf.body..iinf.body + 4)
        .ok_or_else(bad)?
        .to_vec();
    put_uint(&mut body, count + 1, count_size, "item count")?;
    body.extend_from_slice(
        input
            .get(iinf.body + 4 + count_size..iinf.end)
            .ok_or_else(bad)?,
    );
    // infe version 2 (16-bit ID) or 3 (32-bit), flags 1: hidden, as metadata items are.
    let mut infe = Vec::new();
    match u16::try_from(exif_id) {
        Ok(id) => {
            infe.extend_from_slice(&[2, 0, 0, 1]);
            infe.extend_from_slice(&id.to_be_bytes());
        }
        Err(_) => {
            infe.extend_from_slice(&[3, 0, 0, 1]);
            infe.extend_from_slice(&exif_id.to_be_bytes());
        }
    }
    infe.extend_from_slice(&[0, 0]); // item_protection_index
    infe.extend_from_slice(b"Exif\0"); // item_type, empty item_name
    body.extend(make_box(b"infe", &infe)?);
    make_box(b"iinf", &body)
}

/// The `iref` box with a `cdsc` reference from the new Exif item to the primary item.
fn with_cdsc(
    input: &Source<'_>,
    iref: BoxRef,
    exif_id: u32,
    primary: Option<u32>,
) -> Result<Vec<u8>, Error> {
    let mut body = input
        .get(iref.body..iref.end)
        .ok_or_else(|| Error::malformed("the iref box cannot be read"))?
        .to_vec();
    let wide = body.first().is_some_and(|&v| v != 0);
    body.extend(cdsc(exif_id, primary, wide)?);
    make_box(b"iref", &body)
}

/// A `cdsc` reference box: `from` describes the primary item.
fn cdsc(from: u32, primary: Option<u32>, wide: bool) -> Result<Vec<u8>, Error> {
    let to = primary.ok_or_else(|| Error::new(ErrorKind::Unsupported, "no primary item"))?;
    let size = if wide { 4 } else { 2 };
    let mut body = Vec::new();
    put_uint(&mut body, u64::from(from), size, "item ID")?;
    body.extend_from_slice(&1u16.to_be_bytes());
    put_uint(&mut body, u64::from(to), size, "item ID")?;
    make_box(b"cdsc", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iloc_written_back_unchanged_is_byte_identical() {
        // v1, offset 4, length 4, base 4, index 4; two items, the second with 2 extents.
        let mut body = vec![1, 0, 0, 0, 0x44, 0x44, 0, 2];
        body.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1]);
        body.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 20]);
        body.extend_from_slice(&[0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]);
        for _ in 0..2 {
            body.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 2]);
        }
        let iloc = Iloc::parse(&body).unwrap();
        assert_eq!(iloc.entries.len(), 2);
        assert_eq!(iloc.entries[1].method(), 1);
        assert_eq!(iloc.write().unwrap(), body);
    }

    #[test]
    fn a_value_too_wide_for_its_field_is_refused() {
        let mut out = Vec::new();
        assert!(put_uint(&mut out, 1 << 32, 4, "extent offset").is_err());
        assert!(put_uint(&mut out, 1, 0, "base offset").is_err());
        put_uint(&mut out, 7, 0, "base offset").unwrap_err();
        put_uint(&mut out, 0, 0, "base offset").unwrap();
        put_uint(&mut out, u64::MAX, 8, "extent offset").unwrap();
        assert_eq!(out, [0xFF; 8]);
    }

    #[test]
    fn zero_sized_extents_cannot_ask_for_millions() {
        // offset, length and index sizes 0, and 65535 extents in a 20-byte box.
        let body = [1, 0, 0, 0, 0x00, 0x00, 0, 1, 0, 1, 0, 0, 0, 0, 0xFF, 0xFF];
        assert!(Iloc::parse(&body).is_none());
    }
}
