//! The photo library on disk: atomic, never-overwriting saves, and the SQLite
//! index of what was saved (so re-runs skip, interrupted runs resume, and the app
//! can show history and build a batch's zip).
//!
//! Layout: `<root>/[<member>/]<YYYY>/<MM>/<name>`, the year and month of the
//! capture time as the photographer's clock showed it.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::fmt::temporal::Pieces;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

/// File name of the index inside the library root.
pub const DATABASE_NAME: &str = ".keepsake.sqlite3";

/// A capture time as the client sent it: the instant plus the wall-clock time
/// the photographer saw (which names the folder and the zip entry's time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureTime {
    /// The instant, for the file's mtime.
    pub instant: Timestamp,
    /// Local wall-clock time at the capture.
    pub local: DateTime,
}

impl CaptureTime {
    /// Parses RFC 3339 (`2019-07-14T11:31:12+02:00`, `…Z`).
    pub fn parse(text: &str) -> Result<Self, AppError> {
        let bad = || AppError::BadRequest(format!("capture_time is not RFC 3339: {text:?}"));
        let pieces = Pieces::parse(text).map_err(|_| bad())?;
        let offset = pieces.to_numeric_offset().ok_or_else(bad)?;
        let time = pieces.time().ok_or_else(bad)?;
        let local = pieces.date().to_datetime(time);
        let instant = offset.to_timestamp(local).map_err(|_| bad())?;
        Ok(CaptureTime { instant, local })
    }
}

/// What the browser says about a file it uploads.
#[derive(Debug, Clone)]
pub struct SaveRequest {
    /// Family member ("" when the helper runs for one person).
    pub member: String,
    /// The batch (one run of the app) the file belongs to.
    pub batch: String,
    /// The Picker's stable media item id: the key for dedupe.
    pub item_id: String,
    /// The file name to use (already carrying the corrected extension).
    pub filename: String,
    /// When the photo was taken.
    pub capture_time: CaptureTime,
}

/// Whether a save wrote a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SaveStatus {
    /// A new file was written.
    Saved,
    /// The member already had this item; nothing was written.
    Duplicate,
}

/// The answer to a save.
#[derive(Debug, Clone, Serialize)]
pub struct SaveOutcome {
    /// Saved or duplicate.
    pub status: SaveStatus,
    /// Path relative to the member's folder, with `/` separators.
    pub path: String,
    /// Bytes on disk.
    pub size: u64,
    /// Hex SHA-256 of the file.
    pub sha256: String,
}

/// One saved file, as the index records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedFile {
    /// Picker media item id.
    pub item_id: String,
    /// Path relative to the member's folder, with `/` separators.
    pub path: String,
    /// Bytes on disk.
    pub size: u64,
    /// Hex SHA-256.
    pub sha256: String,
    /// CRC-32 of the bytes (what a zip entry needs).
    #[serde(skip)]
    pub crc32: u32,
    /// RFC 3339 instant of the capture.
    pub capture_time: String,
    /// Local wall-clock time of the capture.
    pub capture_local: String,
    /// The batch that first saved it.
    pub batch: String,
    /// When it was saved (RFC 3339).
    pub saved_at: String,
}

/// The library root and its index. Cheap to clone.
#[derive(Clone)]
pub struct Library {
    root: PathBuf,
    db: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library").field("root", &self.root).finish()
    }
}

impl Library {
    /// Opens (creating if needed) the library folder and its index.
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        fs::create_dir_all(root)
            .with_context(|| format!("creating the library folder {}", root.display()))?;
        let db_path = root.join(DATABASE_NAME);
        let db = Connection::open(&db_path)
            .with_context(|| format!("opening the library index {}", db_path.display()))?;
        db.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             CREATE TABLE IF NOT EXISTS saved (
                 member TEXT NOT NULL,
                 item_id TEXT NOT NULL,
                 path TEXT NOT NULL,
                 size INTEGER NOT NULL,
                 sha256 TEXT NOT NULL,
                 crc32 INTEGER NOT NULL,
                 capture_time TEXT NOT NULL,
                 capture_local TEXT NOT NULL,
                 batch TEXT NOT NULL,
                 saved_at TEXT NOT NULL,
                 PRIMARY KEY (member, item_id)
             );
             CREATE TABLE IF NOT EXISTS batch_items (
                 member TEXT NOT NULL,
                 batch TEXT NOT NULL,
                 item_id TEXT NOT NULL,
                 added_at TEXT NOT NULL,
                 PRIMARY KEY (member, batch, item_id)
             );",
        )
        .context("creating the library index tables")?;
        Ok(Library {
            root: root.to_owned(),
            db: Arc::new(Mutex::new(db)),
        })
    }

    /// The library root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of one member.
    pub fn member_dir(&self, member: &str) -> PathBuf {
        if member.is_empty() {
            self.root.clone()
        } else {
            self.root.join(member)
        }
    }

    fn with_db<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> AppResult<T> {
        let db = self
            .db
            .lock()
            .map_err(|_| AppError::Internal(anyhow::anyhow!("library index lock poisoned")))?;
        f(&db).map_err(|err| AppError::Internal(err.into()))
    }

    /// The saved file of an item, if the member has one.
    pub fn find(&self, member: &str, item_id: &str) -> AppResult<Option<SavedFile>> {
        self.with_db(|db| {
            db.query_row(
                &format!("SELECT {SAVED_COLUMNS} FROM saved WHERE member = ?1 AND item_id = ?2"),
                params![member, item_id],
                saved_file_from_row,
            )
            .optional()
        })
    }

    /// Saves one uploaded file: streams it into a temporary file beside its final
    /// place, then links it under a name no other file has. Never overwrites, never
    /// leaves a partial file behind, and skips an item the member already holds.
    pub async fn save<S, E>(&self, request: SaveRequest, body: S) -> AppResult<SaveOutcome>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::error::Error + Send + Sync + 'static,
    {
        validate_id("batch", &request.batch)?;
        validate_id("item id", &request.item_id)?;
        let filename = sanitize_filename(&request.filename);

        if let Some(outcome) = self.existing(&request)? {
            return Ok(outcome);
        }

        let member_dir = self.member_dir(&request.member);
        let relative_dir = format!(
            "{:04}/{:02}",
            request.capture_time.local.year(),
            request.capture_time.local.month()
        );
        let dir = member_dir.join(&relative_dir);
        let temp = {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || -> io::Result<tempfile::NamedTempFile> {
                fs::create_dir_all(&dir)?;
                tempfile::Builder::new()
                    .prefix(".keepsake-")
                    .suffix(".part")
                    .tempfile_in(&dir)
            })
            .await
            .map_err(|err| AppError::Internal(err.into()))??
        };

        // Stream the body to the temp file, hashing as we go. The temp file deletes
        // itself if anything below fails or the client goes away.
        let (temp, size, sha256, crc32) = write_body(temp, body).await?;

        let instant = request.capture_time.instant;
        let (final_path, name) = {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || publish(temp, &dir, &filename, instant))
                .await
                .map_err(|err| AppError::Internal(err.into()))??
        };
        let path = format!("{relative_dir}/{name}");

        let inserted = self.with_db(|db| {
            let now = Timestamp::now().to_string();
            let inserted = db.execute(
                "INSERT OR IGNORE INTO saved
                 (member, item_id, path, size, sha256, crc32, capture_time, capture_local, batch, saved_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    request.member,
                    request.item_id,
                    path,
                    i64::try_from(size).unwrap_or(i64::MAX),
                    sha256,
                    crc32,
                    request.capture_time.instant.to_string(),
                    request.capture_time.local.to_string(),
                    request.batch,
                    now
                ],
            )?;
            db.execute(
                "INSERT OR IGNORE INTO batch_items (member, batch, item_id, added_at) VALUES (?1, ?2, ?3, ?4)",
                params![request.member, request.batch, request.item_id, now],
            )?;
            Ok(inserted)
        })?;
        if inserted == 0 {
            // Another upload of the same item won the race: keep its file, drop ours.
            let _ = fs::remove_file(&final_path);
            return self.existing(&request)?.ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!("saved row vanished during a save"))
            });
        }
        Ok(SaveOutcome {
            status: SaveStatus::Saved,
            path,
            size,
            sha256,
        })
    }

    /// When the member already holds the item (and its file is still there), records
    /// it in this batch too and answers "duplicate".
    fn existing(&self, request: &SaveRequest) -> AppResult<Option<SaveOutcome>> {
        let Some(saved) = self.find(&request.member, &request.item_id)? else {
            return Ok(None);
        };
        if !self.member_dir(&request.member).join(&saved.path).is_file() {
            // The user deleted or moved the file: forget it and save it again.
            self.with_db(|db| {
                db.execute(
                    "DELETE FROM saved WHERE member = ?1 AND item_id = ?2",
                    params![request.member, request.item_id],
                )
            })?;
            return Ok(None);
        }
        self.with_db(|db| {
            db.execute(
                "INSERT OR IGNORE INTO batch_items (member, batch, item_id, added_at) VALUES (?1, ?2, ?3, ?4)",
                params![
                    request.member,
                    request.batch,
                    request.item_id,
                    Timestamp::now().to_string()
                ],
            )
        })?;
        Ok(Some(SaveOutcome {
            status: SaveStatus::Duplicate,
            path: saved.path,
            size: saved.size,
            sha256: saved.sha256,
        }))
    }

    /// The files of one batch, in the order they were added.
    pub fn batch_files(&self, member: &str, batch: &str) -> AppResult<Vec<SavedFile>> {
        self.with_db(|db| {
            let mut statement = db.prepare(&format!(
                "SELECT {SAVED_COLUMNS_S} FROM batch_items b
                 JOIN saved s ON s.member = b.member AND s.item_id = b.item_id
                 WHERE b.member = ?1 AND b.batch = ?2
                 ORDER BY b.added_at, b.rowid"
            ))?;
            statement
                .query_map(params![member, batch], saved_file_from_row)?
                .collect()
        })
    }

    /// Everything the member has saved, newest first.
    pub fn history(&self, member: &str) -> AppResult<Vec<SavedFile>> {
        self.with_db(|db| {
            let mut statement = db.prepare(&format!(
                "SELECT {SAVED_COLUMNS} FROM saved WHERE member = ?1 ORDER BY saved_at DESC, rowid DESC"
            ))?;
            statement
                .query_map(params![member], saved_file_from_row)?
                .collect()
        })
    }
}

const SAVED_COLUMNS: &str =
    "item_id, path, size, sha256, crc32, capture_time, capture_local, batch, saved_at";
const SAVED_COLUMNS_S: &str = "s.item_id, s.path, s.size, s.sha256, s.crc32, s.capture_time, s.capture_local, s.batch, s.saved_at";

fn saved_file_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SavedFile> {
    Ok(SavedFile {
        item_id: row.get(0)?,
        path: row.get(1)?,
        size: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
        sha256: row.get(3)?,
        crc32: row.get(4)?,
        capture_time: row.get(5)?,
        capture_local: row.get(6)?,
        batch: row.get(7)?,
        saved_at: row.get(8)?,
    })
}

async fn write_body<S, E>(
    temp: tempfile::NamedTempFile,
    mut body: S,
) -> AppResult<(tempfile::NamedTempFile, u64, String, u32)>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::error::Error + Send + Sync + 'static,
{
    let (file, temp_path) = temp.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut sha = Sha256::new();
    let mut crc = crc32fast::Hasher::new();
    let mut size: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|err| {
            AppError::BadRequest(format!("the upload broke off: {err}; nothing was saved"))
        })?;
        sha.update(&chunk);
        crc.update(&chunk);
        size += chunk.len() as u64;
        tokio::io::AsyncWriteExt::write_all(&mut file, &chunk).await?;
    }
    if size == 0 {
        return Err(AppError::BadRequest(
            "the upload is empty; nothing was saved".into(),
        ));
    }
    tokio::io::AsyncWriteExt::flush(&mut file).await?;
    let file = file.into_std().await;
    let temp = tempfile::NamedTempFile::from_parts(file, temp_path);
    Ok((temp, size, hex::encode(sha.finalize()), crc.finalize()))
}

/// Makes the finished temp file visible under a name nobody else has, with the
/// capture time as its mtime. Returns the final path and the name used.
fn publish(
    temp: tempfile::NamedTempFile,
    dir: &Path,
    filename: &str,
    mtime: Timestamp,
) -> io::Result<(PathBuf, String)> {
    let mut file: &File = temp.as_file();
    file.flush()?;
    file.sync_all()?;
    if let Ok(mtime) = std::time::SystemTime::try_from(mtime) {
        file.set_modified(mtime)?;
    }
    let (stem, extension) = split_extension(filename);
    let mut temp = temp;
    for attempt in 1..10_000u32 {
        let name = if attempt == 1 {
            filename.to_owned()
        } else {
            format!("{stem} ({attempt}){extension}")
        };
        let candidate = dir.join(&name);
        // `persist_noclobber` gives the temp file the new name only if that name is
        // free: an existing photo is never replaced.
        match temp.persist_noclobber(&candidate) {
            Ok(_) => return Ok((candidate, name)),
            Err(err) if err.error.kind() == io::ErrorKind::AlreadyExists => temp = err.file,
            Err(err) => return Err(err.error),
        }
    }
    Err(io::Error::other("no free file name"))
}

fn split_extension(name: &str) -> (String, String) {
    match name.rfind('.') {
        Some(dot) if dot > 0 => (name[..dot].to_owned(), name[dot..].to_owned()),
        _ => (name.to_owned(), String::new()),
    }
}

/// Ids are path-free tokens: letters, digits, `-`, `_`, at most 256 bytes.
fn validate_id(what: &str, id: &str) -> AppResult<()> {
    let ok = !id.is_empty()
        && id.len() <= 256
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(AppError::BadRequest(format!(
            "invalid {what}: use letters, digits, '-' and '_'"
        )))
    }
}

/// A file name that is safe on every common file system: no directories, no
/// control or reserved characters, no leading dots, at most 180 bytes.
pub fn sanitize_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned
        .trim()
        .trim_start_matches('.')
        .trim_end_matches(['.', ' ']);
    let mut out = String::new();
    for c in trimmed.chars() {
        if out.len() + c.len_utf8() > 180 {
            break;
        }
        out.push(c);
    }
    if out.is_empty() || !out.chars().any(|c| c != '.') {
        "photo".to_owned()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    fn request(item: &str, name: &str) -> SaveRequest {
        SaveRequest {
            member: String::new(),
            batch: "b1".into(),
            item_id: item.into(),
            filename: name.into(),
            capture_time: CaptureTime::parse("2019-07-14T11:31:12+02:00").unwrap(),
        }
    }

    fn body(bytes: &'static [u8]) -> impl Stream<Item = Result<Bytes, Infallible>> + Unpin {
        futures_util::stream::iter(vec![Ok(Bytes::from_static(bytes))])
    }

    #[test]
    fn capture_time_keeps_the_local_clock() {
        let t = CaptureTime::parse("2019-07-14T23:31:12-05:00").unwrap();
        assert_eq!(t.local.to_string(), "2019-07-14T23:31:12");
        assert_eq!(t.instant.to_string(), "2019-07-15T04:31:12Z");
        assert!(CaptureTime::parse("2019-07-14 23:31").is_err());
        assert!(
            CaptureTime::parse("2019-07-14T23:31:12").is_err(),
            "needs an offset"
        );
    }

    #[test]
    fn filenames_lose_paths_and_reserved_characters() {
        assert_eq!(sanitize_filename("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_filename("..\\..\\boot.ini"), "boot.ini");
        assert_eq!(sanitize_filename("a:b*c?.jpg"), "a_b_c_.jpg");
        assert_eq!(sanitize_filename(".."), "photo");
        assert_eq!(sanitize_filename(".hidden.jpg"), "hidden.jpg");
        assert_eq!(sanitize_filename(""), "photo");
        assert!(sanitize_filename(&"é".repeat(300)).len() <= 180);
    }

    #[tokio::test]
    async fn save_writes_into_year_month_with_capture_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        let outcome = library
            .save(request("item1", "IMG_1.jpg"), body(b"jpeg bytes"))
            .await
            .unwrap();
        assert_eq!(outcome.status, SaveStatus::Saved);
        assert_eq!(outcome.path, "2019/07/IMG_1.jpg");
        let path = dir.path().join("2019/07/IMG_1.jpg");
        assert_eq!(fs::read(&path).unwrap(), b"jpeg bytes");
        let mtime = fs::metadata(&path).unwrap().modified().unwrap();
        let expected: std::time::SystemTime = "2019-07-14T09:31:12Z"
            .parse::<Timestamp>()
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(mtime, expected);
        // No temp file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path().join("2019/07"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("IMG_1.jpg")]);
    }

    #[tokio::test]
    async fn same_item_twice_is_a_duplicate_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        library
            .save(request("item1", "IMG_1.jpg"), body(b"first"))
            .await
            .unwrap();
        let mut again = request("item1", "IMG_1.jpg");
        again.batch = "b2".into();
        let outcome = library.save(again, body(b"second")).await.unwrap();
        assert_eq!(outcome.status, SaveStatus::Duplicate);
        assert_eq!(
            fs::read(dir.path().join("2019/07/IMG_1.jpg")).unwrap(),
            b"first"
        );
        // The duplicate still belongs to the second batch (so its zip has it).
        assert_eq!(library.batch_files("", "b2").unwrap().len(), 1);
    }

    #[tokio::test]
    async fn an_existing_file_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("2019/07")).unwrap();
        fs::write(dir.path().join("2019/07/IMG_1.jpg"), b"user's own file").unwrap();
        let library = Library::open(dir.path()).unwrap();
        let outcome = library
            .save(request("item1", "IMG_1.jpg"), body(b"new"))
            .await
            .unwrap();
        assert_eq!(outcome.path, "2019/07/IMG_1 (2).jpg");
        assert_eq!(
            fs::read(dir.path().join("2019/07/IMG_1.jpg")).unwrap(),
            b"user's own file"
        );
        assert_eq!(
            fs::read(dir.path().join("2019/07/IMG_1 (2).jpg")).unwrap(),
            b"new"
        );
    }

    #[tokio::test]
    async fn a_broken_upload_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        let broken = futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"partial")),
            Err(io::Error::other("connection reset")),
        ]);
        let err = library
            .save(request("item1", "IMG_1.jpg"), broken)
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::BadRequest(_)));
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("2019/07")).unwrap().collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        assert!(library.find("", "item1").unwrap().is_none());
    }

    #[tokio::test]
    async fn ids_with_path_characters_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::open(dir.path()).unwrap();
        let err = library
            .save(request("../x", "a.jpg"), body(b"x"))
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::BadRequest(_)));
    }
}
