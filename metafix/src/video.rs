//! Fixing a movie (MP4/MOV): the fixed-size dates of its `mvhd`/`tkhd`/`mdhd` boxes,
//! patched in place. [`movie_edits`] decides what to change from the bytes that hold
//! `moov`; [`crate::movie::fix_moov`] turns that into a patch.

use crate::dates::Capture;
use crate::report::{NotDoneKind, Report};
use crate::{DatePolicy, FixOptions, ItemContext, bmff};

/// What to change in a movie: byte edits at offsets into the bytes given to
/// [`movie_edits`] (each the same length as what it replaces), the capture time
/// the saved file should get.
pub(crate) struct MovieEdits {
    pub edits: Vec<(usize, Vec<u8>)>,
    pub capture: Option<Capture>,
}

/// The date edits of the `moov` box found among the top-level boxes of `data` (a
/// whole file, or just the `moov` box); `None` when `data` holds no `moov` (reported).
pub(crate) fn movie_edits(
    data: &[u8],
    options: &FixOptions,
    item: &ItemContext,
    report: &mut Report,
) -> Option<MovieEdits> {
    let Some(dates) = bmff::movie_dates(data) else {
        report.not_done(
            NotDoneKind::NoMovieDates,
            "set movie dates",
            "no moov box found",
        );
        return None;
    };
    if dates.is_empty() {
        report.not_done(
            NotDoneKind::NoMovieDates,
            "set movie dates",
            "the moov box has no mvhd/tkhd/mdhd dates",
        );
    }
    let file_time = dates
        .iter()
        .find(|d| d.kind == "mvhd")
        .and_then(|d| bmff::movie_time(d.creation));
    let Some(create) = item.create_time else {
        if dates.iter().any(|d| d.creation == 0) {
            report.not_done(
                NotDoneKind::NoCaptureTime,
                "set movie dates",
                "no createTime is known for this item",
            );
        }
        return Some(MovieEdits {
            edits: Vec::new(),
            capture: file_time.map(Capture::instant),
        });
    };
    let edits = bmff::movie_date_edits(&dates, create, options.dates, report);
    let changed = !edits.is_empty();
    // Movie times are UTC and carry no offset.
    let capture = if changed && (file_time.is_none() || options.dates == DatePolicy::Overwrite) {
        Some(Capture::instant(create))
    } else {
        Some(Capture::instant(file_time.unwrap_or(create)))
    };
    Some(MovieEdits { edits, capture })
}
