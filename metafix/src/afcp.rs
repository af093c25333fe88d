//! The AFCP trailer: absolute file offsets at the end of a file, moved with the data.

use crate::ByteOrder;
use crate::patch::{Piece, Pieces};
use crate::report::Report;
use crate::source::Source;

/// An AFCP trailer (`AXS!`/`AXS*` in the last 12 bytes, written by some photo
/// agencies' tools) holds absolute file offsets: when the bytes before it move (the
/// header changed size) they must move with the data, as ExifTool does. `out` is
/// the output so far; when it ends with a copy of the original's last bytes that
/// holds the trailer, the trailer's offsets are rewritten in that copy.
pub(crate) fn shift_afcp(input: &Source<'_>, out: Pieces, report: &mut Report) -> Pieces {
    let n = input.len();
    let mut pieces = out.into_pieces();
    let tail = match pieces.last() {
        Some(Piece::Copy(r)) if r.end == n as u64 => r.start as usize..n,
        _ => return Pieces::from_pieces(pieces),
    };
    let out_len: u64 = pieces.iter().map(Piece::len).sum();
    let delta = out_len as i64 - n as i64;
    let Some(trailer) = n.checked_sub(12).and_then(|s| input.get(s..n)) else {
        return Pieces::from_pieces(pieces);
    };
    let order = match trailer.get(0..4) {
        Some(b"AXS!") => ByteOrder::BigEndian,
        Some(b"AXS*") => ByteOrder::LittleEndian,
        _ => return Pieces::from_pieces(pieces),
    };
    let Some(start) = order.u32(trailer, 4).and_then(|s| usize::try_from(s).ok()) else {
        return Pieces::from_pieces(pieces);
    };
    let valid = input.get(start..start.saturating_add(4)) == trailer.get(0..4);
    if delta == 0 || !valid || start < tail.start {
        return Pieces::from_pieces(pieces);
    }
    let Some(new_start) = usize::try_from(start as i64 + delta).ok() else {
        return Pieces::from_pieces(pieces);
    };
    let entries = input
        .get(start + 6..start + 8)
        .and_then(|b| order.u16(b, 0))
        .map_or(0, usize::from);
    let mut fields: Vec<(usize, [u8; 4])> = Vec::new();
    for i in 0..entries {
        let at = start + 12 + 12 * i + 8;
        if let Some(old) = input.get(at..at + 4).and_then(|b| order.u32(b, 0))
            && usize::try_from(old).is_ok_and(|o| o >= tail.start)
            && let Ok(new) = u32::try_from(i64::from(old) + delta)
        {
            fields.push((at, order.put_u32(new)));
        }
    }
    if let Ok(new) = u32::try_from(new_start) {
        fields.push((n - 8, order.put_u32(new)));
    }
    let overrides: Vec<(usize, &[u8])> = fields.iter().map(|(at, b)| (*at, &b[..])).collect();
    pieces.pop();
    let mut out = Pieces::from_pieces(pieces);
    out.copy_with(tail, &overrides);
    report.change(
        "AFCP trailer offsets",
        None,
        None,
        Some(format!("start {start}")),
        Some(format!("start {new_start}")),
    );
    out
}
