//! A batch of saved files as one streamed zip ([`super::zip_format`]): stored
//! entries (photos do not compress), sizes and CRC-32s in the local headers (so
//! streaming readers see every entry), the capture time as each entry's time,
//! ZIP64 where APPNOTE asks for it, and the archive's length known up front.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;

use api::{BatchId, SavedFile};

use super::zip_format::{self, EntryInfo};
use super::{Error, Library, Owner};

/// How much of a file one read takes: large reads, and one hand-off from the
/// reading thread to the HTTP body per read.
const CHUNK: usize = 1 << 20;
/// Chunks waiting between the reading thread and the body.
const QUEUED_CHUNKS: usize = 4;
/// Index rows read at a time: a batch of any size is walked page by page.
const PAGE: u32 = 1_000;

/// Calls its argument with each file of the zip, in order, until it says stop
/// (`false`); blocking.
type Source =
    Arc<dyn Fn(&mut dyn FnMut(SavedFile) -> io::Result<bool>) -> io::Result<()> + Send + Sync>;

/// A batch's zip, laid out before its first byte: every entry's name, size and
/// CRC-32 are known, so the archive's length is too (`Content-Length`). Its files
/// are read from the index page by page, once to lay it out and twice to write it
/// (the entries, then the central directory), so memory does not grow with the
/// entry count but for 8 bytes a name (names made unique).
pub struct ZipPlan {
    source: Source,
    dir: PathBuf,
    entries: u64,
    length: u64,
}

/// What [`Library::zip_plan`] found.
pub enum Planned {
    /// The zip, ready to stream.
    Ready(ZipPlan),
    /// The batch has no saved file.
    Empty,
    /// A file of the batch is no longer in the library folder (its path).
    Missing(String),
}

impl Library {
    /// Lays out the zip of the owner's `batch` as it is now (items added later
    /// wait for the next zip): files saved before the index recorded CRC-32s are
    /// read once for theirs, which the index then keeps.
    pub async fn zip_plan(&self, owner: &Owner, batch: &BatchId) -> Result<Planned, Error> {
        let (library, owner, batch) = (self.clone(), owner.clone(), batch.clone());
        self.blocking(move |p| {
            let key = owner.key().to_owned();
            let upto = p.index().batch_last_row(&key, &batch)?;
            let dir = p.owner_dir(&owner);
            // Pass 0, before the layout: every file is there, and has its CRC-32.
            let mut after = 0;
            loop {
                let page = p
                    .index()
                    .batch_files_page(&key, &batch, after, upto, PAGE)?;
                let Some((last, _)) = page.last() else { break };
                after = *last;
                for (_, file) in page {
                    let path = dir.join(&file.path);
                    if !path.is_file() {
                        return Ok(Planned::Missing(file.path));
                    }
                    if file.crc32.is_none() {
                        let crc32 = super::store::crc32_of(&path)
                            .map_err(Error::io("reading a saved file for its CRC-32"))?;
                        p.index().set_crc32(&key, &file.item_id, crc32)?;
                    }
                }
            }
            if upto == 0 {
                return Ok(Planned::Empty);
            }
            let source: Source = Arc::new(move |each| {
                let index = library.shared.publisher.index();
                let mut after = 0;
                loop {
                    let page = index
                        .batch_files_page(&key, &batch, after, upto, PAGE)
                        .map_err(io::Error::other)?;
                    let Some((last, _)) = page.last() else {
                        return Ok(());
                    };
                    after = *last;
                    for (_, file) in page {
                        if !each(file)? {
                            return Ok(());
                        }
                    }
                }
            });
            Ok(Planned::Ready(
                ZipPlan::lay_out(source, dir).map_err(Error::io("laying out a zip"))?,
            ))
        })
        .await
    }
}

impl ZipPlan {
    /// The zip of `files` (paths relative to `dir`, each with its CRC-32), held in
    /// memory: for tests and tools that have the list already.
    pub fn of_files(dir: &Path, files: Vec<SavedFile>) -> io::Result<ZipPlan> {
        let files = Arc::new(files);
        let source: Source = Arc::new(move |each| {
            for file in files.iter() {
                if !each(file.clone())? {
                    break;
                }
            }
            Ok(())
        });
        ZipPlan::lay_out(source, dir.to_owned())
    }

    fn lay_out(source: Source, dir: PathBuf) -> io::Result<ZipPlan> {
        let mut plan = ZipPlan {
            source,
            dir,
            entries: 0,
            length: 0,
        };
        let (mut offset, mut directory, mut entries) = (0u64, 0u64, 0u64);
        plan.each_entry(&mut |info, _| {
            directory += info.central_header_len(offset);
            offset += info.local_header_len() + info.size;
            entries += 1;
            Ok(true)
        })?;
        plan.entries = entries;
        plan.length = offset + directory + zip_format::end_records_len(entries, offset, directory);
        Ok(plan)
    }

    /// Calls `f` with each entry and its file, in order, names made unique the
    /// same way on every pass: entry names are the files' own names; a name that
    /// repeats gets ` (2)`, ` (3)`…; times are the capture's wall-clock time (the
    /// save's, in UTC, for a file with no date).
    fn each_entry(
        &self,
        f: &mut dyn FnMut(EntryInfo, &Path) -> io::Result<bool>,
    ) -> io::Result<()> {
        let mut names = HashedNames::default();
        (self.source)(&mut |file: SavedFile| {
            let crc32 = file.crc32.ok_or_else(|| {
                io::Error::other(format!("{}: its CRC-32 is not known yet", file.path))
            })?;
            let local = file
                .capture_local
                .unwrap_or_else(|| jiff::tz::Offset::UTC.to_datetime(file.saved_at));
            let (dos_date, dos_time) = zip_format::dos_date_time(local);
            let info = EntryInfo {
                name: unique_name(&mut names, file_name(&file.path)),
                size: file.size,
                crc32,
                dos_date,
                dos_time,
            };
            f(info, &self.dir.join(&file.path))
        })
    }

    /// The archive's length in bytes.
    pub fn len(&self) -> u64 {
        self.length
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Streams the archive: one blocking thread reads the files in 1 MiB reads
    /// and hands each read over. A file whose size or CRC-32 is no longer what the
    /// index says (changed on disk since it was saved) ends the stream with an
    /// error, so the client sees a failed download, never a wrong entry.
    pub fn stream(self) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        let (tx, rx) = tokio::sync::mpsc::channel(QUEUED_CHUNKS);
        tokio::task::spawn_blocking(move || {
            if let Err(err) = self.write(&tx) {
                tracing::error!(error = %err, "writing a zip failed");
                let _ = tx.blocking_send(Err(err));
            }
        });
        futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
    }

    fn write(&self, tx: &tokio::sync::mpsc::Sender<io::Result<Bytes>>) -> io::Result<()> {
        // Small entries and headers are gathered into pieces of CHUNK bytes, so a
        // batch of 70,000 photos is not 140,000 hand-offs and tiny writes.
        let mut out = Output {
            tx,
            buffer: Vec::with_capacity(CHUNK),
            gone: false,
        };
        let mut offset = 0u64;
        self.each_entry(&mut |info, path| {
            if !out.put(&info.local_header()) {
                return Ok(false);
            }
            let mut file = std::fs::File::open(path)?;
            let mut crc = crc32fast::Hasher::new();
            let mut left = info.size;
            while left > 0 {
                let piece = out.room(left);
                file.read_exact(piece)
                    .map_err(|err| changed(path, &err.to_string()))?;
                crc.update(piece);
                left -= piece.len() as u64;
                if !out.filled() {
                    return Ok(false);
                }
            }
            if file.read(&mut [0u8; 1])? != 0 {
                return Err(changed(path, "it grew"));
            }
            if crc.finalize() != info.crc32 {
                return Err(changed(path, "its bytes differ from the saved ones"));
            }
            offset += info.local_header_len() + info.size;
            Ok(true)
        })?;
        if out.gone {
            return Ok(());
        }
        let directory_offset = offset;
        let (mut at, mut directory_len, mut entries) = (0u64, 0u64, 0u64);
        self.each_entry(&mut |info, _| {
            let header = info.central_header(at);
            directory_len += header.len() as u64;
            at += info.local_header_len() + info.size;
            entries += 1;
            Ok(out.put(&header))
        })?;
        if out.gone {
            return Ok(());
        }
        if entries != self.entries || at != directory_offset {
            return Err(io::Error::other(
                "the batch changed while its zip was written",
            ));
        }
        out.put(&zip_format::end_records(
            entries,
            directory_offset,
            directory_len,
        ));
        out.flush();
        Ok(())
    }
}

/// The archive's bytes on their way to the body, in pieces of about CHUNK.
struct Output<'a> {
    tx: &'a tokio::sync::mpsc::Sender<io::Result<Bytes>>,
    buffer: Vec<u8>,
    /// The client went away: everything stops quietly.
    gone: bool,
}

impl Output<'_> {
    /// Appends `bytes`; `false` once the client is gone.
    fn put(&mut self, bytes: &[u8]) -> bool {
        self.buffer.extend_from_slice(bytes);
        self.filled()
    }

    /// Up to `wanted` bytes of the buffer's free room, for a file's data to be
    /// read into (sends the piece first if it is full).
    fn room(&mut self, wanted: u64) -> &mut [u8] {
        if self.buffer.len() >= CHUNK {
            self.flush();
        }
        let start = self.buffer.len();
        let take = usize::try_from(wanted.min((CHUNK - start) as u64)).unwrap_or(0);
        self.buffer.resize(start + take, 0);
        &mut self.buffer[start..]
    }

    /// Sends the piece if it is full; `false` once the client is gone.
    fn filled(&mut self) -> bool {
        if self.buffer.len() >= CHUNK {
            self.flush();
        }
        !self.gone
    }

    fn flush(&mut self) {
        if self.buffer.is_empty() || self.gone {
            return;
        }
        let piece = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK));
        self.gone = self.tx.blocking_send(Ok(Bytes::from(piece))).is_err();
    }
}

/// The names given so far, as 64-bit hashes of their folded form: 8 bytes a name,
/// the same answers on every pass. (Two different names with the same hash, a
/// chance in 2^64, would only give the second a needless ` (2)`.)
#[derive(Default)]
struct HashedNames(HashSet<u64>);

impl HashedNames {
    fn insert(&mut self, key: &str) -> bool {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut hasher);
        self.0.insert(hasher.finish())
    }
}

fn changed(path: &std::path::Path, why: &str) -> io::Error {
    io::Error::other(format!(
        "{} changed since it was saved ({why}): the zip stops here",
        path.display()
    ))
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `name` as the zip's entry name: in NFC (Unicode's composed form, what most file
/// systems and extractors normalise to), numbered when another entry has the same
/// name regardless of case, so an extractor that folds either never finds two
/// entries where one would overwrite the other (`café.jpg` typed on a Mac arrives
/// decomposed, beside the composed one from a phone).
fn unique_name(used: &mut HashedNames, name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let name: String = name.nfc().collect();
    let mut attempt = 1;
    loop {
        let candidate = super::names::numbered(&name, attempt);
        // Lowercasing can decompose nothing but may compose differently: fold
        // case, then normalise again.
        let key: String = candidate.to_lowercase().nfc().collect();
        if used.insert(&key) {
            return candidate;
        }
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_names_get_numbered_case_insensitively() {
        let mut used = HashedNames::default();
        assert_eq!(unique_name(&mut used, "a.jpg"), "a.jpg");
        assert_eq!(unique_name(&mut used, "A.JPG"), "A (2).JPG");
        assert_eq!(unique_name(&mut used, "a.jpg"), "a (3).jpg");
    }

    #[test]
    fn names_in_either_unicode_form_are_one_name_in_nfc() {
        let mut used = HashedNames::default();
        let composed = "caf\u{e9}.jpg";
        let decomposed = "cafe\u{301}.jpg";
        assert_eq!(unique_name(&mut used, composed), composed);
        assert_eq!(unique_name(&mut used, decomposed), "caf\u{e9} (2).jpg");
        assert_eq!(
            unique_name(&mut used, "CAFE\u{301}.JPG"),
            "CAF\u{c9} (3).JPG"
        );
        // A decomposed name alone is written composed.
        let mut fresh = HashedNames::default();
        assert_eq!(unique_name(&mut fresh, decomposed), composed);
    }
}
