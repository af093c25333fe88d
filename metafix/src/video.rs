//! Fixing a movie (MP4/MOV): the fixed-size dates of its `mvhd`/`tkhd`/`mdhd` boxes,
//! patched in place. [`movie_edits`] decides what to change from the bytes that hold
//! `moov`; [`fix_video`] (a whole file in memory) and [`crate::movie::fix_moov`] (only
//! `moov`, for files too large to hold) both use it.

use crate::dates::Capture;
use crate::image::google_capture;
use crate::report::{NotDoneKind, Report};
use crate::{DatePolicy, FixOptions, Fixed, Format, ItemContext, bmff};

/// What to change in a movie: byte edits at offsets into the bytes given to
/// [`movie_edits`] (each the same length as what it replaces), the capture time
/// the saved file should get, and where `moov` ends in those bytes.
pub(crate) struct MovieEdits {
    pub edits: Vec<(usize, Vec<u8>)>,
    pub capture: Option<Capture>,
    pub moov_end: usize,
}

/// The date edits of the `moov` box found among the top-level boxes of `data` (a
/// whole file, or just the `moov` box); `None` when `data` holds no `moov` (reported).
pub(crate) fn movie_edits(
    data: &[u8],
    options: &FixOptions,
    item: &ItemContext,
    report: &mut Report,
) -> Option<MovieEdits> {
    let Some((dates, moov_end)) = bmff::movie_dates(data) else {
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
            moov_end,
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
    Some(MovieEdits {
        edits,
        capture,
        moov_end,
    })
}

pub(crate) fn fix_video(
    input: &[u8],
    format: Format,
    options: &FixOptions,
    item: &ItemContext,
    mut report: Report,
) -> Fixed {
    let Some(movie) = movie_edits(input, options, item, &mut report) else {
        return Fixed::unchanged(input, format, report, google_capture(item));
    };
    if movie.edits.is_empty() {
        return Fixed::unchanged(input, format, report, movie.capture);
    }
    let mut header = input.get(..movie.moov_end).unwrap_or(input).to_vec();
    for (at, bytes) in &movie.edits {
        if let Some(field) = header.get_mut(*at..at + bytes.len()) {
            field.copy_from_slice(bytes);
        }
    }
    let tail = header.len()..input.len();
    Fixed {
        header,
        tail,
        format,
        report,
        capture: movie.capture,
        input_len: input.len(),
    }
}
