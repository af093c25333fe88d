//! [`Fixed`]: what [`fix`](crate::fix) gives back — new header bytes, the range of the
//! input that follows them, and the report.

use std::ops::Range;

use jiff::Timestamp;

use crate::Format;
use crate::dates::Capture;
use crate::report::{Outcome, Report};

/// The result of [`fix`](crate::fix): the output is `header` followed by `input[tail]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixed {
    /// New bytes that start the output (empty when nothing changed).
    pub header: Vec<u8>,
    /// The range of the input that follows `header` in the output.
    pub tail: Range<usize>,
    /// The format found in the bytes.
    pub format: Format,
    /// What was done, repaired, not done, and lost.
    pub report: Report,
    pub(crate) capture: Option<Capture>,
    pub(crate) input_len: usize,
}

impl Fixed {
    pub(crate) fn unchanged(
        input: &[u8],
        format: Format,
        report: Report,
        capture: Option<Capture>,
    ) -> Fixed {
        Fixed {
            header: Vec::new(),
            tail: 0..input.len(),
            format,
            report,
            capture,
            input_len: input.len(),
        }
    }

    /// The whole output file: `header` + `input[tail]`. `input` must be the bytes given
    /// to [`fix`](crate::fix).
    pub fn assemble(&self, input: &[u8]) -> Vec<u8> {
        let tail = input.get(self.tail.clone()).unwrap_or(&[]);
        let mut out = Vec::with_capacity(self.header.len() + tail.len());
        out.extend_from_slice(&self.header);
        out.extend_from_slice(tail);
        out
    }

    /// The file extension for the bytes (`"jpg"`, `"png"`, `"webp"`, `"heic"`, `"avif"`,
    /// `"tif"`, `"mp4"`, `"mov"`; `""` when the format is unknown).
    pub fn extension(&self) -> &'static str {
        self.format.extension()
    }

    /// `original` with its extension corrected for the bytes (`IMG_1.HEIC` holding a
    /// JPEG → `IMG_1.jpg`); unchanged when the extension already names the format or
    /// the format is unknown.
    pub fn file_name(&self, original: &str) -> String {
        corrected_file_name(self.format, original)
    }

    /// The capture time the saved file should get as its modification time: what the
    /// output file states (date and offset), else the item's `createTime`.
    pub fn capture_time(&self) -> Option<Timestamp> {
        self.capture.map(|c| c.instant)
    }

    /// The UTC offset of the photographer's clock at [`capture_time`](Self::capture_time),
    /// when the file states one (or the dates were written with one). `None` when
    /// only Google's UTC `createTime` is known.
    pub fn capture_offset(&self) -> Option<jiff::tz::Offset> {
        self.capture.and_then(|c| c.offset)
    }

    /// What happened to the file: [`Outcome::Changed`], [`Outcome::AlreadyAsAsked`], or
    /// [`Outcome::CouldNotEdit`] with the reason (the file is passed through unchanged,
    /// and must be shown as a failure, not as saved).
    ///
    /// ```
    /// use metafix::{fix, FixOptions, ItemContext, NotDoneKind, Outcome};
    ///
    /// // A JPEG whose header bytes lead nowhere: it cannot be edited.
    /// let broken = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, b'x', b'y', b'?', b'?'];
    /// let fixed = fix(&broken, &FixOptions::default().with_artist("Ada"), &ItemContext::default());
    /// match fixed.outcome() {
    ///     Outcome::CouldNotEdit(why) => assert_eq!(why.kind, NotDoneKind::UnreadableStructure),
    ///     other => panic!("{other}"),
    /// }
    /// ```
    pub fn outcome(&self) -> Outcome {
        match self.report.outcome() {
            Outcome::AlreadyAsAsked if self.changed() => Outcome::Changed,
            outcome => outcome,
        }
    }

    /// Whether the output bytes differ from the input.
    pub fn changed(&self) -> bool {
        !(self.header.is_empty() && self.tail == (0..self.input_len))
    }

    /// The length of the output file.
    pub fn output_len(&self) -> usize {
        self.header.len() + self.tail.len()
    }
}

/// `original` with its extension corrected for `format` (see [`Fixed::file_name`]).
pub(crate) fn corrected_file_name(format: Format, original: &str) -> String {
    if format == Format::Unknown {
        return original.to_owned();
    }
    let (stem, ext) = crate::split_extension(original);
    if ext.and_then(Format::from_extension) == Some(format) {
        return original.to_owned();
    }
    format!("{stem}.{}", format.extension())
}
