//! Resumable uploads: a file too large for one request arrives in parts, each
//! appended to one file in `<root>/.keepsake-uploads/` (on the library's own file
//! system, so the commit links it into its `<YYYY>/<MM>` folder without copying),
//! then is published by the same steps as a one-request save ([`super::Library`]'s
//! claim, link-without-overwrite, row).
//!
//! Each upload is two files named by its id: `<id>.part` (the bytes so far, fsynced
//! after each part, so its length is what arrived) and `<id>.json` (whose upload it
//! is: owner, batch, item; and of what file: its size and [`UploadFingerprint`]). A
//! helper that restarts finds them again ([`Uploads::open`]), so the client resumes
//! from the part file's length. Beginning an upload of an item whose upload under
//! way is of another file (the user changed a setting that changes the edits, so
//! the parts held were patched another way) deletes that one and begins anew: a
//! saved file is never made of parts of two versions. An upload untouched for
//! [`ABANDONED_AFTER`] is deleted, at start and whenever another upload begins; so
//! is a part file without a readable note (or one written before notes named the
//! file), or a note without its part file.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use api::{BatchId, ItemId, UploadFingerprint, UploadId};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Error;
use super::store::{self, SpaceFloor};

/// The folder of the uploads under way, inside the library root.
pub const UPLOADS_DIR: &str = ".keepsake-uploads";

/// An upload that has received nothing for this long is given up and deleted.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// How many bytes a part may grow between two free-space checks.
const SPACE_CHECK_EVERY: u64 = 8 * 1024 * 1024;

/// Whose upload it is, and of what file; kept in `<id>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Note {
    owner: String,
    batch: BatchId,
    item_id: ItemId,
    /// The whole file's length, as the begin declared it: no part may run past it.
    size: u64,
    /// What its bytes are: a begin naming another fingerprint discards the upload.
    fingerprint: UploadFingerprint,
}

impl Note {
    /// Whether this is an upload of `owner`'s `item` in `batch` (of any file).
    fn is_of(&self, owner: &str, batch: &BatchId, item: &ItemId) -> bool {
        self.owner == owner && &self.batch == batch && &self.item_id == item
    }
}

/// One upload under way.
#[derive(Debug)]
struct Entry {
    note: Note,
    /// Held while a part is written or the upload is committed.
    state: tokio::sync::Mutex<PartState>,
}

#[derive(Debug)]
struct PartState {
    received: u64,
    /// The hash of the bytes so far, unless they were found on disk at start
    /// (then the commit hashes the file).
    sha: Option<Sha256>,
    /// Committed or swept: the entry is no longer in the map.
    gone: bool,
}

/// The uploads under way in one library.
#[derive(Debug)]
pub(crate) struct Uploads {
    dir: PathBuf,
    entries: Mutex<HashMap<UploadId, Arc<Entry>>>,
}

/// What [`Uploads::open`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadsReport {
    /// Uploads found under way, to be resumed.
    pub resumable: usize,
    /// Uploads (or stray files of them) deleted: abandoned, or half made.
    pub swept: usize,
}

fn part_path(dir: &Path, id: &UploadId) -> PathBuf {
    dir.join(format!("{id}.part"))
}

fn note_path(dir: &Path, id: &UploadId) -> PathBuf {
    dir.join(format!("{id}.json"))
}

fn abandoned(modified: io::Result<SystemTime>, now: SystemTime) -> bool {
    modified
        .ok()
        .and_then(|m| now.duration_since(m).ok())
        .is_some_and(|idle| idle > ABANDONED_AFTER)
}

fn remove_quietly(path: &Path) {
    if let Err(err) = fs::remove_file(path)
        && err.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %err, "cannot delete an upload's file");
    }
}

impl Uploads {
    /// Blocking: finds the uploads a previous helper left under way in `root`, and
    /// deletes the abandoned and the half-made ones. Call it holding the library's lock.
    pub(crate) fn open(root: &Path) -> (Uploads, UploadsReport) {
        let dir = root.join(UPLOADS_DIR);
        let mut report = UploadsReport::default();
        let mut entries = HashMap::new();
        let now = SystemTime::now();
        let listing = match fs::read_dir(&dir) {
            Ok(listing) => listing.filter_map(Result::ok).collect::<Vec<_>>(),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(err) => {
                tracing::warn!(dir = %dir.display(), error = %err, "cannot read the uploads under way");
                Vec::new()
            }
        };
        let mut keep = std::collections::HashSet::new();
        for entry in &listing {
            let name = entry.file_name();
            let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|id| id.parse::<UploadId>().ok())
            else {
                continue;
            };
            let part = part_path(&dir, &id);
            let note = fs::read(entry.path())
                .ok()
                .and_then(|text| serde_json::from_slice::<Note>(&text).ok());
            let meta = fs::symlink_metadata(&part).ok().filter(|m| m.is_file());
            match (note, meta) {
                (Some(note), Some(meta)) if !abandoned(meta.modified(), now) => {
                    keep.insert(id.clone());
                    report.resumable += 1;
                    entries.insert(
                        id,
                        Arc::new(Entry {
                            note,
                            state: tokio::sync::Mutex::new(PartState {
                                received: meta.len(),
                                sha: None,
                                gone: false,
                            }),
                        }),
                    );
                }
                _ => {}
            }
        }
        // Everything else in the folder is ours and dead: abandoned, a part whose note
        // was never written, a note whose part was published or lost.
        for entry in listing {
            let name = entry.file_name();
            let id = name
                .to_str()
                .and_then(|n| n.strip_suffix(".json").or_else(|| n.strip_suffix(".part")))
                .and_then(|id| id.parse::<UploadId>().ok());
            match id {
                Some(id) if keep.contains(&id) => {}
                Some(_) if entry.file_type().is_ok_and(|t| t.is_file()) => {
                    remove_quietly(&entry.path());
                    report.swept += 1;
                }
                _ => {}
            }
        }
        (
            Uploads {
                dir,
                entries: Mutex::new(entries),
            },
            report,
        )
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<UploadId, Arc<Entry>>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The upload `id` if it is `owner`'s, for this batch and item. Another
    /// member's upload is "not found" too: nobody learns it exists.
    fn get(
        &self,
        owner: &str,
        batch: &BatchId,
        item: &ItemId,
        id: &UploadId,
    ) -> Result<Arc<Entry>, Error> {
        self.entries()
            .get(id)
            .filter(|e| e.note.is_of(owner, batch, item))
            .cloned()
            .ok_or(Error::UploadNotFound)
    }

    /// Deletes the uploads nothing was written to for [`ABANDONED_AFTER`] (and
    /// that no request is using now).
    async fn sweep_abandoned(&self) {
        let now = SystemTime::now();
        let candidates: Vec<(UploadId, Arc<Entry>)> = self
            .entries()
            .iter()
            .map(|(id, e)| (id.clone(), e.clone()))
            .collect();
        for (id, entry) in candidates {
            let Ok(mut state) = entry.state.try_lock() else {
                continue;
            };
            let part = part_path(&self.dir, &id);
            let modified = tokio::fs::metadata(&part).await.and_then(|m| m.modified());
            if !abandoned(modified, now) {
                continue;
            }
            tracing::info!(upload = %id, item = %entry.note.item_id, "deleting an abandoned upload");
            state.gone = true;
            self.entries().remove(&id);
            let dir = self.dir.clone();
            let _ = tokio::task::spawn_blocking(move || {
                remove_quietly(&part_path(&dir, &id));
                remove_quietly(&note_path(&dir, &id));
            })
            .await;
        }
    }

    /// Begins an upload of `item` for `owner` in `batch`, of a file of `size` bytes
    /// whose bytes `fingerprint` names, or finds the one under way: its id and how
    /// many bytes it holds. One under way of another file (another size or
    /// fingerprint) is deleted first, so its parts never join this file's.
    pub(crate) async fn begin(
        &self,
        owner: &str,
        (batch, item): (&BatchId, &ItemId),
        size: u64,
        fingerprint: &UploadFingerprint,
        min_free_bytes: u64,
    ) -> Result<(UploadId, u64), Error> {
        self.sweep_abandoned().await;
        let note = Note {
            owner: owner.to_owned(),
            batch: batch.clone(),
            item_id: item.clone(),
            size,
            fingerprint: fingerprint.clone(),
        };
        let found: Vec<(UploadId, Arc<Entry>)> = self
            .entries()
            .iter()
            .filter(|(_, e)| e.note.is_of(owner, batch, item))
            .map(|(id, e)| (id.clone(), e.clone()))
            .collect();
        for (id, entry) in found {
            let mut state = entry.state.lock().await;
            if state.gone {
                continue;
            }
            if entry.note == note {
                return Ok((id, state.received));
            }
            tracing::info!(
                upload = %id,
                item = %item,
                held = state.received,
                "discarding an upload of another version of the file (settings changed)"
            );
            state.gone = true;
            self.entries().remove(&id);
            let dir = self.dir.clone();
            tokio::task::spawn_blocking(move || {
                remove_quietly(&part_path(&dir, &id));
                remove_quietly(&note_path(&dir, &id));
            })
            .await?;
        }
        let id: UploadId = uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .parse()
            .expect("a uuid in hex is a valid id");
        let dir = self.dir.clone();
        let (id_for_disk, note_for_disk) = (id.clone(), note.clone());
        tokio::task::spawn_blocking(move || -> Result<(), Error> {
            let floor = SpaceFloor {
                dir: dir.clone(),
                min_free_bytes,
            };
            store::create_dir_durable(&dir).map_err(Error::io("creating the uploads folder"))?;
            floor.check()?;
            let part = part_path(&dir, &id_for_disk);
            fs::File::create_new(&part).map_err(Error::io("creating an upload's file"))?;
            let text = serde_json::to_vec(&note_for_disk).expect("a note serializes");
            let written = fs::File::create_new(note_path(&dir, &id_for_disk)).and_then(|mut f| {
                io::Write::write_all(&mut f, &text)?;
                f.sync_all()
            });
            if let Err(err) = written.and_then(|()| store::sync_dir(&dir)) {
                remove_quietly(&part);
                remove_quietly(&note_path(&dir, &id_for_disk));
                return Err(Error::io("creating an upload's file")(err));
            }
            Ok(())
        })
        .await??;
        self.entries().insert(
            id.clone(),
            Arc::new(Entry {
                note,
                state: tokio::sync::Mutex::new(PartState {
                    received: 0,
                    sha: Some(Sha256::new()),
                    gone: false,
                }),
            }),
        );
        tracing::info!(upload = %id, item = %item, "began a resumable upload");
        Ok((id, 0))
    }

    /// How many bytes the upload holds.
    pub(crate) async fn received(
        &self,
        owner: &str,
        batch: &BatchId,
        item: &ItemId,
        id: &UploadId,
    ) -> Result<u64, Error> {
        let entry = self.get(owner, batch, item, id)?;
        let state = entry.state.lock().await;
        if state.gone {
            return Err(Error::UploadNotFound);
        }
        Ok(state.received)
    }

    /// Appends `body` at `offset`, which must be what the upload holds. A part that
    /// breaks off is taken back whole (the file is cut to where it began), so the
    /// upload only ever grows by whole parts; the bytes are fsynced before the
    /// answer. Returns the bytes the upload now holds.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn append<S, E>(
        &self,
        owner: &str,
        batch: &BatchId,
        item: &ItemId,
        id: &UploadId,
        offset: u64,
        mut body: S,
        min_free_bytes: u64,
    ) -> Result<u64, Error>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::error::Error + Send + Sync + 'static,
    {
        let entry = self.get(owner, batch, item, id)?;
        let mut state = entry.state.lock().await;
        if state.gone {
            return Err(Error::UploadNotFound);
        }
        if offset != state.received {
            return Err(Error::UploadOffset {
                received: state.received,
                offset,
            });
        }
        let floor = SpaceFloor {
            dir: self.dir.clone(),
            min_free_bytes,
        };
        let path = part_path(&self.dir, id);
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .await
            .map_err(Error::io("opening an upload's file"))?;
        let mut file = tokio::io::BufWriter::with_capacity(1 << 20, file);
        tokio::io::AsyncSeekExt::seek(&mut file, io::SeekFrom::Start(offset))
            .await
            .map_err(Error::io("opening an upload's file"))?;
        let mut sha = state.sha.clone();
        let mut written: u64 = 0;
        let mut unchecked: u64 = 0;
        let outcome: Result<(), Error> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|err| Error::UploadBroke(Box::new(err)))?;
                if offset + written + chunk.len() as u64 > entry.note.size {
                    return Err(Error::UploadPastSize {
                        size: entry.note.size,
                    });
                }
                if let Some(sha) = &mut sha {
                    sha.update(&chunk);
                }
                written += chunk.len() as u64;
                unchecked += chunk.len() as u64;
                if unchecked >= SPACE_CHECK_EVERY {
                    unchecked = 0;
                    let floor = floor.clone();
                    tokio::task::spawn_blocking(move || floor.check()).await??;
                }
                tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
                    .await
                    .map_err(Error::io("writing the upload"))?;
            }
            tokio::io::AsyncWriteExt::flush(&mut file)
                .await
                .map_err(Error::io("writing the upload"))?;
            file.get_ref()
                .sync_data()
                .await
                .map_err(Error::io("writing the upload"))
        }
        .await;
        if let Err(err) = outcome {
            // Take the broken part back: the upload holds whole parts only.
            let file = file.into_inner();
            if let Err(cut) = file.set_len(state.received).await {
                // The file now holds more than `received` says; the next part
                // overwrites it from `received` on (it seeks there), so no byte of
                // it can end up in the saved file.
                tracing::warn!(upload = %id, error = %cut, "cannot cut back a broken part");
            }
            return Err(err);
        }
        state.received += written;
        state.sha = sha;
        Ok(state.received)
    }

    /// Takes the upload out for its commit, if it holds exactly `size` bytes, the
    /// size it began with: the part file (as a temp file that deletes itself unless published) and its
    /// SHA-256. Its note is deleted by [`Uploads::forget`] once it is published.
    pub(crate) async fn take(
        &self,
        owner: &str,
        batch: &BatchId,
        item: &ItemId,
        id: &UploadId,
        size: u64,
    ) -> Result<Taken, Error> {
        let entry = self.get(owner, batch, item, id)?;
        let mut state = entry.state.lock().await;
        if state.gone {
            return Err(Error::UploadNotFound);
        }
        if state.received != size || size != entry.note.size {
            return Err(Error::UploadOffset {
                received: state.received,
                offset: size,
            });
        }
        state.gone = true;
        self.entries().remove(id);
        let sha = state.sha.take();
        let (dir, id) = (self.dir.clone(), id.clone());
        tokio::task::spawn_blocking(move || {
            let path = part_path(&dir, &id);
            let file = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(Error::io("opening an upload's file"))?;
            let temp_path = tempfile::TempPath::try_from_path(path)
                .map_err(Error::io("opening an upload's file"))?;
            let temp = tempfile::NamedTempFile::from_parts(file, temp_path);
            let sha256 = match sha {
                Some(sha) => hex::encode(sha.finalize()),
                // Found on disk at start: hash what is there.
                None => {
                    store::hash_file(temp.path())
                        .map_err(Error::io("reading an upload's file"))?
                        .ok_or(Error::UploadNotFound)?
                        .1
                }
            };
            Ok(Taken {
                written: store::Written { temp, size, sha256 },
                note: note_path(&dir, &id),
            })
        })
        .await?
    }
}

/// An upload taken out for its commit.
pub(crate) struct Taken {
    /// The part file and its hash.
    pub written: store::Written,
    /// The upload's note, to delete once the file is published (or refused).
    pub note: PathBuf,
}

impl Taken {
    /// Blocking: deletes the note (the part file is gone: published or dropped).
    pub(crate) fn forget(note: &Path) {
        remove_quietly(note);
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use api::{SaveOutcome, SaveStatus};

    use super::super::{Library, Owner, SaveRequest};
    use super::*;

    fn ids() -> (BatchId, ItemId) {
        ("b1".parse().unwrap(), "item1".parse().unwrap())
    }

    fn request(name: &str) -> SaveRequest {
        let (batch, item_id) = ids();
        SaveRequest {
            batch,
            item_id,
            filename: name.into(),
            capture_time: "2019-07-14T11:31:12+02:00".parse().unwrap(),
        }
    }

    fn part(bytes: &[u8]) -> impl Stream<Item = Result<Bytes, Infallible>> + Unpin {
        futures_util::stream::iter(
            bytes
                .chunks(3)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect::<Vec<_>>(),
        )
    }

    /// A fingerprint of a `size`-byte file patched with `edit` at offset 0.
    fn version(size: u64, edit: &[u8]) -> UploadFingerprint {
        UploadFingerprint::of_edits(size, [(0, edit)])
    }

    /// Begins (or finds) the upload of `item` in batch b1 of a `size`-byte file.
    async fn begin_file(
        library: &Library,
        owner: &Owner,
        item: &ItemId,
        size: u64,
        fingerprint: &UploadFingerprint,
    ) -> api::UploadBegun {
        let (batch, _) = ids();
        library
            .begin_upload(owner, (&batch, item), size, fingerprint)
            .await
            .unwrap()
    }

    /// [`begin_file`] of one version of the file, which is not saved yet.
    async fn begin(library: &Library, owner: &Owner, item: &ItemId, size: u64) -> (UploadId, u64) {
        match begin_file(library, owner, item, size, &version(size, b"v1")).await {
            api::UploadBegun::Uploading(status) => (status.upload_id, status.received),
            other => panic!("not an upload: {other:?}"),
        }
    }

    async fn append(
        library: &Library,
        owner: &Owner,
        id: &UploadId,
        offset: u64,
        bytes: &[u8],
    ) -> Result<u64, Error> {
        let (batch, item) = ids();
        library
            .append_part(owner, (&batch, &item, id), offset, part(bytes))
            .await
    }

    /// Everything under the library root but its index, lock and uploads.
    fn saved_files(root: &Path) -> Vec<String> {
        let mut files: Vec<String> = walkdir::WalkDir::new(root)
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                e.path()
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|p| !p.starts_with(".keepsake"))
            .collect();
        files.sort();
        files
    }

    #[tokio::test]
    async fn parts_in_order_are_published_whole_only_at_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        let (batch, item) = ids();
        let (id, received) = begin(&library, &Owner::Single, &item, 15).await;
        assert_eq!(received, 0);
        assert_eq!(
            append(&library, &Owner::Single, &id, 0, b"hello ")
                .await
                .unwrap(),
            6
        );
        assert_eq!(
            append(&library, &Owner::Single, &id, 6, b"big ")
                .await
                .unwrap(),
            10
        );
        assert_eq!(
            append(&library, &Owner::Single, &id, 10, b"world")
                .await
                .unwrap(),
            15
        );
        // Nothing is visible in the library before the commit: no final name, no
        // half file in the year folder.
        assert!(
            saved_files(dir.path()).is_empty(),
            "{:?}",
            saved_files(dir.path())
        );
        // Asking again finds the same upload.
        assert_eq!(
            begin(&library, &Owner::Single, &item, 15).await,
            (id.clone(), 15)
        );
        let outcome = library
            .commit_upload(&Owner::Single, &id, request("clip.mp4"), 15)
            .await
            .unwrap();
        assert_eq!(outcome.status, SaveStatus::Saved);
        assert_eq!(outcome.path, "2019/07/clip.mp4");
        assert_eq!(outcome.size, 15);
        assert_eq!(
            outcome.sha256,
            hex::encode(Sha256::digest(b"hello big world"))
        );
        assert_eq!(
            fs::read(dir.path().join("2019/07/clip.mp4")).unwrap(),
            b"hello big world"
        );
        assert_eq!(saved_files(dir.path()), ["2019/07/clip.mp4"]);
        // The upload is gone, files and all.
        assert!(
            fs::read_dir(dir.path().join(UPLOADS_DIR))
                .unwrap()
                .next()
                .is_none()
        );
        assert!(matches!(
            library
                .upload_received(&Owner::Single, &batch, &item, &id)
                .await,
            Err(Error::UploadNotFound)
        ));
        let found = library.find(&Owner::Single, &item).await.unwrap().unwrap();
        assert_eq!((found.size, found.sha256), (15, outcome.sha256));
    }

    #[tokio::test]
    async fn a_part_at_the_wrong_offset_is_refused_naming_what_arrived() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        let (_, item) = ids();
        let (id, _) = begin(&library, &Owner::Single, &item, 5).await;
        append(&library, &Owner::Single, &id, 0, b"abcd")
            .await
            .unwrap();
        for offset in [0, 2, 5, u64::MAX] {
            let err = append(&library, &Owner::Single, &id, offset, b"zz")
                .await
                .unwrap_err();
            assert!(
                matches!(err, Error::UploadOffset { received: 4, .. }),
                "{err}"
            );
        }
        // A commit of another size is refused too, and keeps the upload.
        let err = library
            .commit_upload(&Owner::Single, &id, request("a.mp4"), 5)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::UploadOffset { received: 4, .. }),
            "{err}"
        );
        append(&library, &Owner::Single, &id, 4, b"e")
            .await
            .unwrap();
        let outcome = library
            .commit_upload(&Owner::Single, &id, request("a.mp4"), 5)
            .await
            .unwrap();
        assert_eq!(fs::read(dir.path().join(&outcome.path)).unwrap(), b"abcde");
    }

    #[tokio::test]
    async fn a_part_that_breaks_off_is_taken_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        let (batch, item) = ids();
        let (id, _) = begin(&library, &Owner::Single, &item, 6).await;
        append(&library, &Owner::Single, &id, 0, b"abc")
            .await
            .unwrap();
        let broken = futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"XYZ")),
            Err(io::Error::other("connection reset")),
        ]);
        let err = library
            .append_part(&Owner::Single, (&batch, &item, &id), 3, broken)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::UploadBroke(_)), "{err}");
        assert_eq!(
            library
                .upload_received(&Owner::Single, &batch, &item, &id)
                .await
                .unwrap(),
            3
        );
        append(&library, &Owner::Single, &id, 3, b"def")
            .await
            .unwrap();
        let outcome = library
            .commit_upload(&Owner::Single, &id, request("a.mp4"), 6)
            .await
            .unwrap();
        assert_eq!(fs::read(dir.path().join(&outcome.path)).unwrap(), b"abcdef");
        assert_eq!(outcome.sha256, hex::encode(Sha256::digest(b"abcdef")));
    }

    #[tokio::test]
    async fn an_upload_resumes_after_the_helper_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let (_, item) = ids();
        let library = Library::open(dir.path()).unwrap();
        let (id, _) = begin(&library, &Owner::Single, &item, 23).await;
        append(&library, &Owner::Single, &id, 0, b"first half, ")
            .await
            .unwrap();
        drop(library);

        let library = Library::open(dir.path()).unwrap();
        assert_eq!(library.open_report().resumable_uploads, 1);
        assert_eq!(library.open_report().swept_uploads, 0);
        assert_eq!(
            begin(&library, &Owner::Single, &item, 23).await,
            (id.clone(), 12),
            "the same upload, holding what arrived before the restart"
        );
        append(&library, &Owner::Single, &id, 12, b"second half")
            .await
            .unwrap();
        let outcome = library
            .commit_upload(&Owner::Single, &id, request("a.mp4"), 23)
            .await
            .unwrap();
        assert_eq!(
            fs::read(dir.path().join(&outcome.path)).unwrap(),
            b"first half, second half"
        );
        // Hashed from the file, as no hash state survives a restart.
        assert_eq!(
            outcome.sha256,
            hex::encode(Sha256::digest(b"first half, second half"))
        );
    }

    #[tokio::test]
    async fn a_commit_of_an_item_already_held_is_a_duplicate_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        let (_, item) = ids();
        // The upload begins before the item is saved another way (a race the
        // begin cannot see): the commit still finds it held.
        let (id, _) = begin(&library, &Owner::Single, &item, 6).await;
        let one_shot =
            futures_util::stream::iter(vec![Ok::<_, Infallible>(Bytes::from_static(b"first"))]);
        library
            .save(&Owner::Single, request("a.mp4"), one_shot)
            .await
            .unwrap();
        append(&library, &Owner::Single, &id, 0, b"second")
            .await
            .unwrap();
        let outcome = library
            .commit_upload(&Owner::Single, &id, request("a.mp4"), 6)
            .await
            .unwrap();
        assert_eq!(outcome.status, SaveStatus::Duplicate);
        assert_eq!(outcome.path, "2019/07/a.mp4");
        assert_eq!(
            fs::read(dir.path().join("2019/07/a.mp4")).unwrap(),
            b"first"
        );
        assert_eq!(saved_files(dir.path()), ["2019/07/a.mp4"]);
        assert!(
            fs::read_dir(dir.path().join(UPLOADS_DIR))
                .unwrap()
                .next()
                .is_none()
        );
    }

    /// The upload files in the uploads folder (none when it was never made).
    fn upload_files(root: &Path) -> Vec<String> {
        let mut names: Vec<String> = match fs::read_dir(root.join(UPLOADS_DIR)) {
            Ok(listing) => listing
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect(),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(err) => panic!("{err}"),
        };
        names.sort();
        names
    }

    /// Issue "every item saved exactly once": a video saved before (in another
    /// batch) was downloaded and uploaded whole before the commit said "duplicate".
    #[tokio::test]
    async fn beginning_an_upload_of_an_item_already_saved_answers_duplicate_and_makes_no_upload() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        let (_, item) = ids();
        let one_shot =
            futures_util::stream::iter(vec![Ok::<_, Infallible>(Bytes::from_static(b"first"))]);
        let saved = library
            .save(&Owner::Single, request("a.mp4"), one_shot)
            .await
            .unwrap();
        assert_eq!(saved.status, SaveStatus::Saved);

        let second: BatchId = "b2".parse().unwrap();
        let begun = library
            .begin_upload(
                &Owner::Single,
                (&second, &item),
                1 << 30,
                &version(1 << 30, b"v1"),
            )
            .await
            .unwrap();
        assert_eq!(
            begun,
            api::UploadBegun::AlreadySaved(SaveOutcome {
                status: SaveStatus::Duplicate,
                path: "2019/07/a.mp4".into(),
                size: 5,
                sha256: saved.sha256,
            }),
            "what the one-request save answers for an item held"
        );
        assert_eq!(
            upload_files(dir.path()),
            Vec::<String>::new(),
            "no upload made"
        );
        assert_eq!(saved_files(dir.path()), ["2019/07/a.mp4"]);
        // Like a duplicate one-request save, the item joins the second batch (its zip).
        let in_second = library.batch_files(&Owner::Single, &second).await.unwrap();
        assert_eq!(in_second.len(), 1);
        assert_eq!(in_second[0].path, "2019/07/a.mp4");

        // Another member holds nothing: theirs begins.
        let ana = Owner::Member("ana".into());
        let theirs = begin_file(&library, &ana, &item, 5, &version(5, b"v1")).await;
        assert!(
            matches!(theirs, api::UploadBegun::Uploading(_)),
            "{theirs:?}"
        );
    }

    /// Issue "a restarted helper or browser resumes from the last part it has":
    /// the user changed a setting between the cut and the resume, so the parts
    /// held were patched the old way; resuming would mix both in one file.
    #[tokio::test]
    async fn beginning_an_upload_of_another_version_discards_the_parts_held_and_starts_at_0() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        let (batch, item) = ids();
        let old = version(10, b"artist=Ana");
        let begun = begin_file(&library, &Owner::Single, &item, 10, &old).await;
        let api::UploadBegun::Uploading(first) = begun else {
            panic!("{begun:?}");
        };
        append(&library, &Owner::Single, &first.upload_id, 0, b"OLD-P")
            .await
            .unwrap();
        let uploads = dir.path().join(UPLOADS_DIR);
        assert!(part_path(&uploads, &first.upload_id).is_file());

        // The helper restarts too: what decides is the note on disk.
        drop(library);
        let library = Library::open(dir.path()).unwrap();
        let new = version(10, b"artist=Bo");
        let begun = begin_file(&library, &Owner::Single, &item, 10, &new).await;
        let api::UploadBegun::Uploading(second) = begun else {
            panic!("{begun:?}");
        };
        assert_ne!(second.upload_id, first.upload_id);
        assert_eq!(second.received, 0, "nothing of the old version is kept");
        assert!(
            !part_path(&uploads, &first.upload_id).exists()
                && !note_path(&uploads, &first.upload_id).exists(),
            "the old version's files are deleted: {:?}",
            upload_files(dir.path())
        );
        assert!(matches!(
            library
                .upload_received(&Owner::Single, &batch, &item, &first.upload_id)
                .await,
            Err(Error::UploadNotFound)
        ));
        // Another size is another file too, whatever the fingerprint.
        let begun = begin_file(&library, &Owner::Single, &item, 11, &new).await;
        let api::UploadBegun::Uploading(third) = begun else {
            panic!("{begun:?}");
        };
        assert_ne!(third.upload_id, second.upload_id);
        assert_eq!(third.received, 0);
        assert_eq!(
            upload_files(dir.path()).len(),
            2,
            "one upload: part and note"
        );

        append(
            &library,
            &Owner::Single,
            &third.upload_id,
            0,
            b"new version",
        )
        .await
        .unwrap();
        let outcome = library
            .commit_upload(&Owner::Single, &third.upload_id, request("a.mp4"), 11)
            .await
            .unwrap();
        assert_eq!(
            fs::read(dir.path().join(&outcome.path)).unwrap(),
            b"new version"
        );
    }

    #[tokio::test]
    async fn beginning_an_upload_of_the_same_version_resumes_at_what_arrived() {
        let dir = tempfile::tempdir().unwrap();
        let (batch, item) = ids();
        let library = Library::open(dir.path()).unwrap();
        let same = version(9, b"artist=Ana");
        let api::UploadBegun::Uploading(first) =
            begin_file(&library, &Owner::Single, &item, 9, &same).await
        else {
            panic!("not an upload");
        };
        append(&library, &Owner::Single, &first.upload_id, 0, b"abcd")
            .await
            .unwrap();
        let again = begin_file(&library, &Owner::Single, &item, 9, &same).await;
        assert_eq!(
            again,
            api::UploadBegun::Uploading(api::UploadStatus {
                upload_id: first.upload_id.clone(),
                received: 4,
            })
        );
        drop(library);
        let library = Library::open(dir.path()).unwrap();
        let again = begin_file(&library, &Owner::Single, &item, 9, &same).await;
        assert_eq!(
            again,
            api::UploadBegun::Uploading(api::UploadStatus {
                upload_id: first.upload_id.clone(),
                received: 4,
            }),
            "after a restart too"
        );
        append(&library, &Owner::Single, &first.upload_id, 4, b"efghi")
            .await
            .unwrap();
        let outcome = library
            .commit_upload(&Owner::Single, &first.upload_id, request("a.mp4"), 9)
            .await
            .unwrap();
        assert_eq!(
            fs::read(dir.path().join(&outcome.path)).unwrap(),
            b"abcdefghi"
        );
        assert!(matches!(
            library
                .upload_received(&Owner::Single, &batch, &item, &first.upload_id)
                .await,
            Err(Error::UploadNotFound)
        ));
    }

    #[tokio::test]
    async fn a_part_past_the_size_begun_with_is_refused_and_nothing_of_it_kept() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        let (_, item) = ids();
        let (id, _) = begin(&library, &Owner::Single, &item, 5).await;
        append(&library, &Owner::Single, &id, 0, b"abc")
            .await
            .unwrap();
        let err = append(&library, &Owner::Single, &id, 3, b"defg")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::UploadPastSize { size: 5 }), "{err}");
        assert_eq!(
            fs::metadata(part_path(&dir.path().join(UPLOADS_DIR), &id))
                .unwrap()
                .len(),
            3
        );
        // Nor may a commit name another size than the upload began with.
        append(&library, &Owner::Single, &id, 3, b"de")
            .await
            .unwrap();
        assert!(matches!(
            library
                .commit_upload(&Owner::Single, &id, request("a.mp4"), 4)
                .await,
            Err(Error::UploadOffset { received: 5, .. })
        ));
        let outcome = library
            .commit_upload(&Owner::Single, &id, request("a.mp4"), 5)
            .await
            .unwrap();
        assert_eq!(fs::read(dir.path().join(&outcome.path)).unwrap(), b"abcde");
    }

    #[tokio::test]
    async fn a_commit_never_overwrites_a_file_with_the_name() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("2019/07")).unwrap();
        fs::write(dir.path().join("2019/07/a.mp4"), b"user's own").unwrap();
        let library = Library::open(dir.path()).unwrap();
        let (_, item) = ids();
        let (id, _) = begin(&library, &Owner::Single, &item, 3).await;
        append(&library, &Owner::Single, &id, 0, b"new")
            .await
            .unwrap();
        let outcome = library
            .commit_upload(&Owner::Single, &id, request("a.mp4"), 3)
            .await
            .unwrap();
        assert_eq!(outcome.path, "2019/07/a (2).mp4");
        assert_eq!(
            fs::read(dir.path().join("2019/07/a.mp4")).unwrap(),
            b"user's own"
        );
    }

    #[tokio::test]
    async fn another_members_upload_cannot_be_seen_or_touched() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        let (batch, item) = ids();
        let (ana, bo) = (Owner::Member("ana".into()), Owner::Member("bo".into()));
        let (id, _) = begin(&library, &ana, &item, 5).await;
        append(&library, &ana, &id, 0, b"ana's").await.unwrap();
        assert!(matches!(
            library.upload_received(&bo, &batch, &item, &id).await,
            Err(Error::UploadNotFound)
        ));
        assert!(matches!(
            append(&library, &bo, &id, 5, b"x").await,
            Err(Error::UploadNotFound)
        ));
        assert!(matches!(
            library.commit_upload(&bo, &id, request("a.mp4"), 5).await,
            Err(Error::UploadNotFound)
        ));
        // Nor through another batch or item of ana's own.
        let other: ItemId = "item2".parse().unwrap();
        assert!(matches!(
            library.upload_received(&ana, &batch, &other, &id).await,
            Err(Error::UploadNotFound)
        ));
        // Bo's own upload of the same item is another upload.
        let (bos, _) = begin(&library, &bo, &item, 5).await;
        assert_ne!(bos, id);
        assert_eq!(
            library
                .upload_received(&ana, &batch, &item, &id)
                .await
                .unwrap(),
            5
        );
        let outcome = library
            .commit_upload(&ana, &id, request("a.mp4"), 5)
            .await
            .unwrap();
        assert_eq!(outcome.path, "2019/07/a.mp4");
        assert!(dir.path().join("ana/2019/07/a.mp4").is_file());
    }

    #[tokio::test]
    async fn abandoned_and_half_begun_uploads_are_swept_at_start_and_later() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        let (batch, item) = ids();
        let (old, _) = begin(&library, &Owner::Single, &item, 3).await;
        append(&library, &Owner::Single, &old, 0, b"old")
            .await
            .unwrap();
        let kept_item: ItemId = "item2".parse().unwrap();
        let (kept, _) = begin(&library, &Owner::Single, &kept_item, 1).await;
        let uploads = dir.path().join(UPLOADS_DIR);
        let age = |id: &UploadId| {
            let long_ago = SystemTime::now() - ABANDONED_AFTER - Duration::from_secs(60);
            fs::File::options()
                .write(true)
                .open(part_path(&uploads, id))
                .unwrap()
                .set_modified(long_ago)
                .unwrap();
        };
        // Later: beginning another upload sweeps the one idle for too long.
        age(&old);
        let third: ItemId = "item3".parse().unwrap();
        begin(&library, &Owner::Single, &third, 1).await;
        assert!(!part_path(&uploads, &old).exists() && !note_path(&uploads, &old).exists());
        assert!(matches!(
            library
                .upload_received(&Owner::Single, &batch, &item, &old)
                .await,
            Err(Error::UploadNotFound)
        ));
        drop(library);

        // At start: an abandoned one, a part without its note, a note without its part.
        age(&kept);
        fs::write(uploads.join("0123abcd.part"), b"no note").unwrap();
        fs::write(uploads.join("4567abcd.json"), b"{}").unwrap();
        fs::write(uploads.join("not-ours.txt"), b"left alone").unwrap();
        let library = Library::open(dir.path()).unwrap();
        assert_eq!(library.open_report().resumable_uploads, 1, "item3's");
        assert_eq!(library.open_report().swept_uploads, 4);
        let mut left: Vec<String> = fs::read_dir(&uploads)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left.len(), 3, "{left:?}");
        assert!(left.contains(&"not-ours.txt".to_owned()));
    }
}
