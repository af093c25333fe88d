//! The files of the downloads under way: each item the helper fetches is written
//! to `<root>/.keepsake-uploads/<id>.download` (on the library's own file system,
//! beside the folders it is kept in), with a note `<id>.json` saying whose item it
//! is and how many of its bytes are durable. The network side is
//! [`crate::fetch`]; this module only keeps the files.
//!
//! A download is fsynced every [`SYNC_EVERY`] bytes and its note then rewritten, so
//! after a crash (or a power cut) the bytes up to the note's `synced` are known to
//! be on disk: [`DownloadFiles::open`] cuts each file to that length, and the next
//! fetch of the item resumes from there. A note or file without its partner, or a
//! download untouched for [`ABANDONED_AFTER`], is deleted.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use api::{BatchId, DownloadId, ItemId};
use serde::{Deserialize, Serialize};

/// The folder of the downloads under way, inside the library root.
pub const DOWNLOADS_DIR: &str = ".keepsake-uploads";

/// A download untouched for this long is given up and deleted.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// How many bytes a download grows between two fsyncs of its file and note.
pub const SYNC_EVERY: u64 = 64 << 20;

/// Whose download it is, and how much of it is durable; kept in `<id>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// The owner's key ([`super::Owner::key`]).
    pub owner: String,
    /// The batch that asked for it first.
    pub batch: BatchId,
    /// The item.
    pub item_id: ItemId,
    /// The whole length, once the media server said.
    pub total: Option<u64>,
    /// Bytes of the file known to be on disk.
    pub synced: u64,
    /// The media server's validator for the bytes held, when it sent one: a resume
    /// asks for the rest only of the same file (`If-Range`).
    #[serde(default)]
    pub validator: Option<String>,
}

/// A download found on disk at start, to be resumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its id.
    pub id: DownloadId,
    /// Its note (with `synced` the file's length now).
    pub note: Note,
}

/// The downloads folder of one library.
#[derive(Debug)]
pub struct DownloadFiles {
    dir: PathBuf,
}

fn remove_quietly(path: &Path) {
    if let Err(err) = fs::remove_file(path)
        && err.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %err, "cannot delete a download's file");
    }
}

fn abandoned(modified: io::Result<SystemTime>, now: SystemTime) -> bool {
    modified
        .ok()
        .and_then(|m| now.duration_since(m).ok())
        .is_some_and(|idle| idle > ABANDONED_AFTER)
}

impl DownloadFiles {
    /// Blocking: opens the folder under `root` (creating it), deletes what cannot be
    /// resumed, and cuts every other download to its durable length. Returns the
    /// downloads to resume and how many files were deleted.
    pub fn open(root: &Path) -> (DownloadFiles, Vec<Found>, usize) {
        let files = DownloadFiles {
            dir: root.join(DOWNLOADS_DIR),
        };
        if let Err(err) = fs::create_dir_all(&files.dir) {
            tracing::warn!(dir = %files.dir.display(), error = %err, "cannot create the downloads folder");
        }
        let now = SystemTime::now();
        let mut found = Vec::new();
        let mut swept = 0;
        let mut stems: HashMap<String, (bool, bool)> = HashMap::new();
        let Ok(entries) = fs::read_dir(&files.dir) else {
            return (files, found, 0);
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(".download") {
                stems.entry(stem.to_owned()).or_default().0 = true;
            } else if let Some(stem) = name.strip_suffix(".json") {
                stems.entry(stem.to_owned()).or_default().1 = true;
            } else if name.ends_with(".part") {
                // The resumable uploads of helpers before downloads: nothing resumes them.
                remove_quietly(&entry.path());
                swept += 1;
            }
        }
        for (stem, (has_file, has_note)) in stems {
            let (file, note_path) = (
                files.dir.join(format!("{stem}.download")),
                files.dir.join(format!("{stem}.json")),
            );
            let read = || -> Option<Found> {
                let id: DownloadId = stem.parse().ok()?;
                let note: Note = serde_json::from_slice(&fs::read(&note_path).ok()?).ok()?;
                if abandoned(fs::metadata(&file).and_then(|m| m.modified()), now) {
                    return None;
                }
                let len = fs::metadata(&file).ok()?.len();
                let durable = note.synced.min(len);
                // Bytes past the last fsync may be anything after a power cut.
                OpenOptions::new()
                    .write(true)
                    .open(&file)
                    .and_then(|f| f.set_len(durable))
                    .ok()?;
                Some(Found {
                    id,
                    note: Note {
                        synced: durable,
                        ..note
                    },
                })
            };
            match (has_file && has_note).then(read).flatten() {
                Some(download) => found.push(download),
                None => {
                    remove_quietly(&file);
                    remove_quietly(&note_path);
                    swept += 1;
                }
            }
        }
        (files, found, swept)
    }

    /// The bytes file of a download.
    pub fn path(&self, id: &DownloadId) -> PathBuf {
        self.dir.join(format!("{id}.download"))
    }

    fn note_path(&self, id: &DownloadId) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Blocking: a new, empty download file and its note.
    pub fn create(&self, id: &DownloadId, note: &Note) -> io::Result<File> {
        fs::create_dir_all(&self.dir)?;
        self.write_note(id, note)?;
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(self.path(id))
    }

    /// Blocking: opens a download's file for appending (it must exist).
    pub fn reopen(&self, id: &DownloadId) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.path(id))
    }

    /// Blocking: rewrites a download's note (atomically: a temp file renamed over it).
    pub fn write_note(&self, id: &DownloadId, note: &Note) -> io::Result<()> {
        let json = serde_json::to_vec(note).map_err(io::Error::other)?;
        let path = self.note_path(id);
        let temp = self.dir.join(format!("{id}.json.new"));
        fs::write(&temp, json)?;
        fs::rename(&temp, &path)
    }

    /// Blocking: deletes a download's files.
    pub fn remove(&self, id: &DownloadId) {
        remove_quietly(&self.path(id));
        remove_quietly(&self.note_path(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn note(synced: u64) -> Note {
        Note {
            owner: String::new(),
            batch: "b".parse().unwrap(),
            item_id: "i".parse().unwrap(),
            total: Some(100),
            synced,
            validator: None,
        }
    }

    #[test]
    fn a_download_is_found_again_cut_to_what_was_synced() {
        let root = tempfile::tempdir().unwrap();
        let (files, found, swept) = DownloadFiles::open(root.path());
        assert!(found.is_empty() && swept == 0);
        let id: DownloadId = "d1".parse().unwrap();
        let mut file = files.create(&id, &note(40)).unwrap();
        file.write_all(&[7; 70]).unwrap();
        // A note without its file, a file without its note, an old upload part.
        let dir = root.path().join(DOWNLOADS_DIR);
        fs::write(dir.join("d2.json"), serde_json::to_vec(&note(0)).unwrap()).unwrap();
        fs::write(dir.join("d3.download"), b"x").unwrap();
        fs::write(dir.join("u1.part"), b"x").unwrap();
        let (_, found, swept) = DownloadFiles::open(root.path());
        assert_eq!(swept, 3);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, id);
        assert_eq!(found[0].note.synced, 40);
        assert_eq!(fs::metadata(files.path(&id)).unwrap().len(), 40);
        let mut left: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["d1.download", "d1.json"]);
        files.remove(&id);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
    }
}
