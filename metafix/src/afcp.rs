//! The AFCP trailer: absolute file offsets at the end of a file, moved with the data.

use std::ops::Range;

use crate::ByteOrder;
use crate::report::Report;

/// An AFCP trailer (`AXS!`/`AXS*` in the last 12 bytes, written by some photo
/// agencies' tools) holds absolute file offsets: when the header changes size they
/// must move with the data, as ExifTool does. Such files are rare; the output is then
/// assembled whole.
pub(crate) fn shift_afcp(
    input: &[u8],
    header: Vec<u8>,
    tail: Range<usize>,
    report: &mut Report,
) -> (Vec<u8>, Range<usize>) {
    let n = input.len();
    let Some(trailer) = n.checked_sub(12).and_then(|s| input.get(s..)) else {
        return (header, tail);
    };
    let order = match trailer.get(0..4) {
        Some(b"AXS!") => ByteOrder::BigEndian,
        Some(b"AXS*") => ByteOrder::LittleEndian,
        _ => return (header, tail),
    };
    let Some(start) = order.u32(trailer, 4).and_then(|s| usize::try_from(s).ok()) else {
        return (header, tail);
    };
    let delta = header.len() as i64 - tail.start as i64;
    let valid = input.get(start..start.saturating_add(4)) == trailer.get(0..4);
    if delta == 0 || !valid || start < tail.start {
        return (header, tail);
    }
    let mut out = header;
    out.extend_from_slice(input.get(tail.clone()).unwrap_or(&[]));
    let Some(new_start) = usize::try_from(start as i64 + delta).ok() else {
        return (out, n..n);
    };
    let entries = order.u16(&out, new_start + 6).map_or(0, usize::from);
    for i in 0..entries {
        let at = new_start + 12 + 12 * i + 8;
        if let Some(old) = order.u32(&out, at)
            && usize::try_from(old).is_ok_and(|o| o >= tail.start)
            && let Ok(new) = u32::try_from(i64::from(old) + delta)
            && let Some(field) = out.get_mut(at..at + 4)
        {
            field.copy_from_slice(&order.put_u32(new));
        }
    }
    let end = out.len();
    if let (Ok(new), Some(field)) = (u32::try_from(new_start), out.get_mut(end - 8..end - 4)) {
        field.copy_from_slice(&order.put_u32(new));
    }
    report.change(
        "AFCP trailer offsets",
        None,
        None,
        Some(format!("start {start}")),
        Some(format!("start {new_start}")),
    );
    (out, n..n)
}
