//! Fixing a movie (MP4/MOV): the fixed-size dates of its `mvhd`/`tkhd`/`mdhd` boxes,
//! patched in place.

use crate::dates::Capture;
use crate::image::google_capture;
use crate::report::{NotDoneKind, Report};
use crate::{DatePolicy, FixOptions, Fixed, Format, ItemContext, bmff};

pub(crate) fn fix_video(
    input: &[u8],
    format: Format,
    options: &FixOptions,
    item: &ItemContext,
    mut report: Report,
) -> Fixed {
    let Some((dates, moov_end)) = bmff::movie_dates(input) else {
        report.not_done(
            NotDoneKind::NoMovieDates,
            "set movie dates",
            "no moov box found",
        );
        return Fixed::unchanged(input, format, report, google_capture(item));
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
        return Fixed::unchanged(input, format, report, file_time.map(Capture::instant));
    };
    let mut header = input.get(..moov_end).unwrap_or(input).to_vec();
    let changed = bmff::fix_movie_dates(&mut header, &dates, create, options.dates, &mut report);
    // Movie times are UTC and carry no offset.
    let capture = if changed && (file_time.is_none() || options.dates == DatePolicy::Overwrite) {
        Some(Capture::instant(create))
    } else {
        Some(Capture::instant(file_time.unwrap_or(create)))
    };
    if !changed {
        return Fixed::unchanged(input, format, report, capture);
    }
    let tail = header.len()..input.len();
    Fixed {
        header,
        tail,
        format,
        report,
        capture,
        input_len: input.len(),
    }
}
