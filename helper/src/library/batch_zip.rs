//! A batch of saved files as one streamed zip: stored entries (photos do not
//! compress), the capture time as each entry's time, ZIP64 when it grows past
//! 4 GB, and constant memory whatever the size.

use std::collections::HashSet;
use std::io;
use std::path::PathBuf;

use async_zip::base::write::ZipFileWriter;
use async_zip::{Compression, ZipDateTimeBuilder, ZipEntryBuilder};
use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};
use jiff::civil::DateTime;
use tokio_util::compat::TokioAsyncReadCompatExt;
use tokio_util::io::ReaderStream;

use api::SavedFile;

/// Size of the pipe between the zip writer and the HTTP body.
const PIPE_BYTES: usize = 256 * 1024;

/// Streams `files` (paths relative to `member_dir`) as a zip archive.
///
/// Entry names are the files' own names; a name that repeats gets ` (2)`, ` (3)`…
/// If a file cannot be read half-way, the stream ends with an error so the client
/// sees a failed download rather than a silently truncated archive.
pub fn stream(
    member_dir: PathBuf,
    files: Vec<SavedFile>,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    let (reader, writer) = tokio::io::duplex(PIPE_BYTES);
    let task = tokio::spawn(write_zip(writer, member_dir, files));
    let tail = stream::once(async move {
        match task.await {
            Ok(Ok(())) => None,
            Ok(Err(err)) => {
                tracing::error!(error = %err, "writing a zip failed");
                Some(Err(err))
            }
            Err(join) => Some(Err(io::Error::other(join))),
        }
    })
    .filter_map(|end| async move { end });
    ReaderStream::new(reader).chain(tail)
}

async fn write_zip(
    writer: tokio::io::DuplexStream,
    member_dir: PathBuf,
    files: Vec<SavedFile>,
) -> io::Result<()> {
    let mut zip = ZipFileWriter::with_tokio(writer);
    let mut names = HashSet::new();
    for file in files {
        let name = unique_name(&mut names, file_name(&file.path));
        let mut builder =
            ZipEntryBuilder::new(name.into(), Compression::Stored).unix_permissions(0o644);
        // A file saved without a date is dated when it was saved.
        let local = file
            .capture_local
            .unwrap_or_else(|| jiff::tz::Offset::UTC.to_datetime(file.saved_at));
        builder = builder.last_modification_date(dos_time(local));
        let source = tokio::fs::File::open(member_dir.join(&file.path)).await?;
        let mut entry = zip.write_entry_stream(builder).await.map_err(zip_error)?;
        futures_util::io::copy(&mut source.compat(), &mut entry).await?;
        entry.close().await.map_err(zip_error)?;
    }
    let mut writer = zip.close().await.map_err(zip_error)?;
    futures_util::AsyncWriteExt::close(&mut writer).await?;
    Ok(())
}

fn zip_error(err: async_zip::error::ZipError) -> io::Error {
    io::Error::other(err)
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `name` as the zip's entry name: in NFC (Unicode's composed form, what most file
/// systems and extractors normalise to), numbered when another entry has the same
/// name regardless of case, so an extractor that folds either never finds two
/// entries where one would overwrite the other (`café.jpg` typed on a Mac arrives
/// decomposed, beside the composed one from a phone).
fn unique_name(used: &mut HashSet<String>, name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let name: String = name.nfc().collect();
    let mut attempt = 1;
    loop {
        let candidate = super::names::numbered(&name, attempt);
        // Lowercasing can decompose nothing but may compose differently: fold
        // case, then normalise again.
        let key: String = candidate.to_lowercase().nfc().collect();
        if used.insert(key) {
            return candidate;
        }
        attempt += 1;
    }
}

/// MS-DOS time (what unzip tools show): local wall-clock time, 1980–2107.
fn dos_time(local: DateTime) -> async_zip::ZipDateTime {
    let clamped = local.clamp(
        DateTime::constant(1980, 1, 1, 0, 0, 0, 0),
        DateTime::constant(2107, 12, 31, 23, 59, 58, 0),
    );
    ZipDateTimeBuilder::new()
        .year(i32::from(clamped.year()))
        .month(u32::from(clamped.month().unsigned_abs()))
        .day(u32::from(clamped.day().unsigned_abs()))
        .hour(u32::from(clamped.hour().unsigned_abs()))
        .minute(u32::from(clamped.minute().unsigned_abs()))
        .second(u32::from(clamped.second().unsigned_abs()))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_names_get_numbered_case_insensitively() {
        let mut used = HashSet::new();
        assert_eq!(unique_name(&mut used, "a.jpg"), "a.jpg");
        assert_eq!(unique_name(&mut used, "A.JPG"), "A (2).JPG");
        assert_eq!(unique_name(&mut used, "a.jpg"), "a (3).jpg");
    }

    #[test]
    fn names_in_either_unicode_form_are_one_name_in_nfc() {
        let mut used = HashSet::new();
        let composed = "caf\u{e9}.jpg";
        let decomposed = "cafe\u{301}.jpg";
        assert_eq!(unique_name(&mut used, composed), composed);
        assert_eq!(unique_name(&mut used, decomposed), "caf\u{e9} (2).jpg");
        assert_eq!(
            unique_name(&mut used, "CAFE\u{301}.JPG"),
            "CAF\u{c9} (3).JPG"
        );
        // A decomposed name alone is written composed.
        let mut fresh = HashSet::new();
        assert_eq!(unique_name(&mut fresh, decomposed), composed);
    }

    #[test]
    fn dos_time_clamps_to_its_range() {
        let t = dos_time(DateTime::constant(1975, 5, 1, 12, 0, 0, 0));
        assert_eq!((t.year(), t.month(), t.day()), (1980, 1, 1));
        let t = dos_time(DateTime::constant(2019, 7, 14, 11, 31, 12, 0));
        assert_eq!(
            (
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            (2019, 7, 14, 11, 31, 12)
        );
    }
}
