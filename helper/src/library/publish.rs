//! Publishing a written file: the crash-safe steps that give it its name and its
//! row (see [`super::Library`] for what a crash can leave), and finding what an
//! owner already holds. Everything here is blocking: the library runs it on
//! tokio's blocking pool.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use api::{BatchId, CaptureTime, ItemId, SaveOutcome, SaveStatus, SavedFile};
use jiff::Timestamp;

use super::error::Error;
use super::index::{Claim, Index};
use super::names;
use super::options::LibraryOptions;
use super::owner::{self, CurrentMember, Owner, Settled};
use super::store::{self, LinkError, Written};

/// How many numbered names (`a (2).jpg`…) a save tries before giving up.
const MAX_NAME_ATTEMPTS: u32 = 10_000;

/// What a client says about a file it saves.
#[derive(Debug, Clone)]
pub struct SaveRequest {
    /// The batch (one run of the app) the file belongs to.
    pub batch: BatchId,
    /// The Picker's stable media item id: the key for dedupe.
    pub item_id: ItemId,
    /// The file name to use (already carrying the corrected extension).
    pub filename: String,
    /// When the photo was taken; `None` when no date is known (the file goes to
    /// `unknown-date/` and keeps the time it was saved as its mtime).
    pub capture_time: Option<CaptureTime>,
}

impl SaveRequest {
    /// The folder under the owner's, relative (`2019/07`, `unknown-date`).
    pub fn relative_dir(&self) -> String {
        match &self.capture_time {
            Some(time) => names::capture_folder(time.local),
            None => names::UNKNOWN_DATE_FOLDER.to_owned(),
        }
    }
}

/// Where the time of one save went; the save routes send it as `Server-Timing`,
/// so a browser's DevTools (and `scripts/bench-app`) see it.
#[derive(Debug, Clone, Copy, Default)]
pub struct SaveTimings {
    /// Receiving the body (or copying the download) into the temp file.
    pub receive: Duration,
    /// Its mode and mtime, and the fsync of its bytes.
    pub seal: Duration,
    /// Waiting for the other saves' claims, links and rows (one at a time).
    pub wait: Duration,
    /// The claim, the link under its name, the folder's fsync, the row.
    pub publish: Duration,
}

impl SaveTimings {
    /// The `Server-Timing` header's value, in milliseconds.
    pub fn header_value(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        format!(
            "receive;dur={:.1}, seal;dur={:.1}, wait;dur={:.1}, publish;dur={:.1}",
            ms(self.receive),
            ms(self.seal),
            ms(self.wait),
            ms(self.publish)
        )
    }
}

/// What an owner already holds of an item.
pub enum Held {
    /// A row whose file is in place.
    Present(SavedFile),
    /// A row whose file is gone from the folder.
    Missing(SavedFile),
    /// No row.
    Absent,
}

/// What [`Publisher::reconcile`] did with a claim.
pub enum Reconciled {
    /// Its file was in place: it became the item's row.
    Recovered,
    /// Its file was not (or was another file): it was dropped.
    Abandoned,
}

/// The index and the steps that publish into the library's folders.
pub struct Publisher {
    root: PathBuf,
    index: Index,
    options: LibraryOptions,
    /// Held from the claim to the row (steps 3 to 5 of a save).
    publishing: Mutex<()>,
}

impl Publisher {
    /// Publishes into `root` with `index`.
    pub fn new(root: &Path, index: Index, options: LibraryOptions) -> Publisher {
        Publisher {
            root: root.to_owned(),
            index,
            options,
            publishing: Mutex::new(()),
        }
    }

    /// The index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The options files are saved with.
    pub fn options(&self) -> LibraryOptions {
        self.options
    }

    /// The folder of one owner.
    pub fn owner_dir(&self, owner: &Owner) -> PathBuf {
        owner.dir(&self.root)
    }

    /// See [`super::Library::settle_owners`]. Runs under the publishing lock, so
    /// no save's claim, link or row falls between a library's rows and its folder
    /// moving.
    pub fn settle_owners(
        &self,
        members: &[CurrentMember],
        now: Timestamp,
    ) -> Result<Vec<Settled>, Error> {
        let _publishing = self
            .publishing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut owners = self.index.owners()?;
        self.finish_moves(&owners);
        let mut settled = Vec::new();
        for (key, oldest_ms) in owners.clone() {
            if key.is_empty() || owner::set_aside_name(&key).is_some() {
                continue;
            }
            let stays = members.iter().find(|m| m.name == key).is_some_and(|m| {
                m.adopt
                    || m.since
                        .is_none_or(|since| oldest_ms >= since.as_millisecond())
            });
            if stays {
                continue;
            }
            let taken = |candidate: &str| {
                owners.iter().any(|(k, _)| k == candidate) || self.root.join(candidate).exists()
            };
            let aside = (0..)
                .map(|attempt| owner::set_aside_key(&key, now, attempt))
                .find(|candidate| !taken(candidate))
                .expect("an endless range finds a free name");
            // Rows first, then the folder: a crash between the two is finished by
            // the next settle (see `finish_moves`).
            self.index.rekey(&key, &aside)?;
            self.move_folder(&key, &aside)?;
            owners.retain(|(k, _)| k != &key);
            owners.push((aside.clone(), oldest_ms));
            settled.push(Settled::SetAside {
                name: key,
                key: aside,
            });
        }
        for member in members.iter().filter(|m| m.adopt) {
            if owners.iter().any(|(k, _)| k == &member.name) {
                continue;
            }
            // The latest one: the key's time sorts as text.
            let Some(from) = owners
                .iter()
                .map(|(k, _)| k)
                .filter(|k| owner::set_aside_name(k) == Some(member.name.as_str()))
                .max()
                .cloned()
            else {
                continue;
            };
            let folder = self.root.join(&member.name);
            if folder.exists() && !is_empty_dir(&folder) {
                tracing::warn!(
                    member = %member.name,
                    folder = %folder.display(),
                    set_aside = %from,
                    "not adopting the library set aside: the member's folder is not empty"
                );
                continue;
            }
            // An empty folder (left by a save that never finished) makes way.
            let _ = std::fs::remove_dir(&folder);
            // The folder first, then the rows: a crash between the two looks like a
            // set-aside cut short, which `finish_moves` undoes, and this adopts again.
            self.move_folder(&from, &member.name)?;
            self.index.rekey(&from, &member.name)?;
            owners.retain(|(k, _)| k != &from);
            settled.push(Settled::Adopted {
                name: member.name.clone(),
                from,
            });
        }
        Ok(settled)
    }

    /// Moves the folder of owner key `from` to `to`, if there is one.
    fn move_folder(&self, from: &str, to: &str) -> Result<(), Error> {
        let (from, to) = (self.root.join(from), self.root.join(to));
        match std::fs::rename(&from, &to) {
            Ok(()) => store::sync_dir(&self.root).map_err(Error::io("syncing the library folder")),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(Error::io("moving a member's folder")(err)),
        }
    }

    /// A crash between a library's rows and its folder moving leaves rows under a
    /// set-aside key with no folder, and the folder under the member name that no
    /// rows use: the folder follows its rows.
    fn finish_moves(&self, owners: &[(String, i64)]) {
        for (key, _) in owners {
            let Some(name) = owner::set_aside_name(key) else {
                continue;
            };
            let (aside, folder) = (self.root.join(key), self.root.join(name));
            let name_has_rows = owners.iter().any(|(k, _)| k == name);
            if !aside.exists()
                && folder.is_dir()
                && !name_has_rows
                && let Err(err) = self.move_folder(name, key)
            {
                tracing::warn!(error = %err, key, "finishing a member folder's move");
            }
        }
    }

    /// Steps 2 to 5 of a save (see [`super::Library`]): seals the written file
    /// (mode, mtime, fsync), then under the publishing lock claims a free name,
    /// links the file there, syncs the folder and writes the row. A duplicate when
    /// another save of the item landed meanwhile. Records where the time went.
    pub fn publish(
        &self,
        owner: &Owner,
        request: &SaveRequest,
        written: Written,
        timings: &mut SaveTimings,
    ) -> Result<SaveOutcome, Error> {
        let sealing = Instant::now();
        store::seal(
            &written.temp,
            self.options.file_mode,
            request.capture_time.map(|t| t.instant),
        )
        .map_err(Error::io("saving the file"))?;
        timings.seal = sealing.elapsed();
        let relative_dir = request.relative_dir();
        let dir = self.owner_dir(owner).join(&relative_dir);
        // The name's extension says what the bytes are, whatever the client said.
        let filename = {
            let given = names::sanitize_filename(&request.filename);
            let mut head = [0u8; names::SNIFF_BYTES];
            let len = usize::try_from(written.size).map_or(head.len(), |n| n.min(head.len()));
            store::read_exact_at(written.temp.as_file(), &mut head[..len], 0)
                .map_err(Error::io("reading the file back"))?;
            let fitted = names::fit_extension(&given, &head[..len]);
            if fitted != given {
                tracing::warn!(item = %request.item_id, given = ?request.filename,
                    saved_as = ?fitted, "the name did not say what the bytes are: saved under one that does");
            }
            fitted
        };
        let waiting = Instant::now();
        // A panic while holding it leaves nothing half-done that the claims do not
        // describe: keep going.
        let _publishing = self
            .publishing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        timings.wait = waiting.elapsed();
        let publishing = Instant::now();
        let published =
            self.publish_locked(owner, request, written, &dir, &relative_dir, &filename);
        timings.publish = publishing.elapsed();
        published
    }

    /// Steps 3 to 5 of a save, holding the publishing lock.
    fn publish_locked(
        &self,
        owner: &Owner,
        request: &SaveRequest,
        written: Written,
        dir: &Path,
        relative_dir: &str,
        filename: &str,
    ) -> Result<SaveOutcome, Error> {
        // A claim here is from a save of this item that failed after its rename
        // (say, the row could not be written): it may name a file already in place.
        if let Some(claim) = self.index.claim_of(owner.key(), &request.item_id)? {
            self.reconcile(&claim)?;
        }
        // Another save of the item may have finished while this one was written.
        if let Held::Present(saved) = self.held(owner, &request.batch, &request.item_id)? {
            return Ok(duplicate(saved));
        }
        let Written {
            temp,
            size,
            sha256,
            crc32,
        } = written;
        let mut temp = temp;
        for attempt in 1..MAX_NAME_ATTEMPTS {
            let name = names::numbered(filename, attempt);
            let candidate = dir.join(&name);
            // A taken name needs no claim; `link` still refuses one taken meanwhile.
            if candidate.symlink_metadata().is_ok() {
                continue;
            }
            let path = format!("{relative_dir}/{name}");
            self.index.claim(&Claim {
                owner: owner.key().to_owned(),
                item_id: request.item_id.clone(),
                path: path.clone(),
                size,
                sha256: sha256.clone(),
                crc32: Some(crc32),
                capture_time: request.capture_time,
                batch: request.batch.clone(),
                claimed_at: Timestamp::now(),
            })?;
            match store::link(temp, &candidate) {
                Ok(()) => {
                    // On failure from here on the claim stays: it names a file that is
                    // in place, and the next save of the item or start finishes it.
                    store::sync_dir(dir).map_err(Error::io("saving the file"))?;
                    if !self
                        .index
                        .complete(owner.key(), &request.item_id, Timestamp::now())?
                    {
                        return Err(Error::CorruptIndex(format!(
                            "the claim of item {} vanished during a save",
                            request.item_id
                        )));
                    }
                    return Ok(SaveOutcome {
                        status: SaveStatus::Saved,
                        path,
                        size,
                        sha256,
                    });
                }
                Err(LinkError::Taken(back)) => temp = back,
                Err(LinkError::Failed(err)) => {
                    self.release_after_failure(owner, &request.item_id);
                    return Err(Error::io("saving the file")(err));
                }
            }
        }
        self.release_after_failure(owner, &request.item_id);
        Err(Error::Io {
            context: "saving the file",
            source: std::io::Error::other(format!(
                "no free name like {filename} in {relative_dir}"
            )),
        })
    }

    /// Drops the claim of a save that failed before its rename. If even that fails,
    /// the claim names no file, and the next start drops it.
    fn release_after_failure(&self, owner: &Owner, item: &ItemId) {
        if let Err(err) = self.index.release(owner.key(), item) {
            tracing::warn!(error = %err, item = %item, "cannot drop the claim of a failed save");
        }
    }

    /// What the owner holds of `item`; a held item also joins `batch` (so that
    /// batch's zip has it).
    pub fn held(&self, owner: &Owner, batch: &BatchId, item: &ItemId) -> Result<Held, Error> {
        let Some(saved) = self.index.find(owner.key(), item)? else {
            return Ok(Held::Absent);
        };
        if !self.owner_dir(owner).join(&saved.path).is_file() {
            return Ok(Held::Missing(saved));
        }
        self.index
            .add_to_batch(owner.key(), batch, item, Timestamp::now())?;
        Ok(Held::Present(saved))
    }

    /// When the owner already holds the item (and its file is still there), records
    /// it in this batch too and answers "duplicate". When its file is gone, says so
    /// in the log and lets the save write it again (the row stays, marked missing in
    /// the history, until the new file replaces it).
    pub fn existing(
        &self,
        owner: &Owner,
        batch: &BatchId,
        item: &ItemId,
    ) -> Result<Option<SaveOutcome>, Error> {
        match self.held(owner, batch, item)? {
            Held::Present(saved) => Ok(Some(duplicate(saved))),
            Held::Missing(saved) => {
                tracing::warn!(
                    item = %item,
                    path = %saved.path,
                    saved_at = %saved.saved_at,
                    "the saved file is no longer in the library folder (deleted or moved); \
                     saving it again"
                );
                Ok(None)
            }
            Held::Absent => Ok(None),
        }
    }

    /// Sets `missing` on the files that are no longer in the folder.
    pub fn mark_missing(&self, owner: &Owner, mut files: Vec<SavedFile>) -> Vec<SavedFile> {
        let dir = self.owner_dir(owner);
        for file in &mut files {
            file.missing = !dir.join(&file.path).is_file();
        }
        files
    }

    /// Settles a claim left by a save that stopped after writing it.
    pub fn reconcile(&self, claim: &Claim) -> Result<Reconciled, Error> {
        let path = self
            .owner_dir(&Owner::from_key(&claim.owner))
            .join(&claim.path);
        let found = store::hash_file(&path).map_err(Error::io("checking a file left mid-save"))?;
        if found.as_ref() == Some(&(claim.size, claim.sha256.clone())) {
            // Saved at the claim's time: that is when the file got its name, give or take.
            self.index
                .complete(&claim.owner, &claim.item_id, claim.claimed_at)?;
            tracing::info!(path = %path.display(), item = %claim.item_id,
                "recorded a file that was saved just before the helper stopped");
            Ok(Reconciled::Recovered)
        } else {
            if found.is_some() {
                tracing::warn!(path = %path.display(), item = %claim.item_id,
                    "a different file now has the name a stopped save claimed: kept it, \
                     the item will be saved again");
            }
            self.index.release(&claim.owner, &claim.item_id)?;
            Ok(Reconciled::Abandoned)
        }
    }
}

/// The answer for an item the owner already holds.
pub fn duplicate(saved: SavedFile) -> SaveOutcome {
    SaveOutcome {
        status: SaveStatus::Duplicate,
        path: saved.path,
        size: saved.size,
        sha256: saved.sha256,
    }
}

fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none())
}
