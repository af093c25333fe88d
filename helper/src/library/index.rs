//! The SQLite index of what was saved: one row per (owner, item) in `saved`, and
//! which batch each item was saved or met again in (`batch_items`). Every call is
//! blocking: the library runs them on tokio's blocking pool.
//!
//! Times are integers (milliseconds since the Unix epoch, offsets in seconds), so
//! nothing parses a string it wrote itself. The schema is versioned with
//! `PRAGMA user_version`; [`Index::open`] migrates older files in one transaction.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use api::{BatchId, ItemId, SavedFile};
use jiff::Timestamp;
use jiff::tz::Offset;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{CaptureTime, Error};

/// The schema this code writes. 0 is the unversioned layout of the first release
/// (RFC 3339 text times and an unused CRC column).
pub const SCHEMA_VERSION: i64 = 1;

/// How long a writer waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const CREATE_V1: &str = "
    CREATE TABLE saved (
        owner TEXT NOT NULL,
        item_id TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        capture_ms INTEGER NOT NULL,
        capture_offset_s INTEGER NOT NULL,
        batch TEXT NOT NULL,
        saved_ms INTEGER NOT NULL,
        PRIMARY KEY (owner, item_id)
    );
    CREATE TABLE batch_items (
        owner TEXT NOT NULL,
        batch TEXT NOT NULL,
        item_id TEXT NOT NULL,
        added_ms INTEGER NOT NULL,
        PRIMARY KEY (owner, batch, item_id)
    );";

/// A row to insert.
pub struct NewRow<'a> {
    pub owner: &'a str,
    pub item_id: &'a ItemId,
    pub path: &'a str,
    pub size: u64,
    pub sha256: &'a str,
    pub capture_time: CaptureTime,
    pub batch: &'a BatchId,
}

/// The open index.
pub struct Index {
    conn: Mutex<Connection>,
}

impl Index {
    /// Opens (creating or migrating) the index at `path`.
    pub fn open(path: &Path) -> Result<Index, Error> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")?;
        migrate(&mut conn)?;
        Ok(Index {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves a consistent connection (SQLite rolls
        // back an unfinished transaction): keep using it.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The saved file of an item, if the owner has one.
    pub fn find(&self, owner: &str, item: &ItemId) -> Result<Option<SavedFile>, Error> {
        let conn = self.conn();
        let row = conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM saved WHERE owner = ?1 AND item_id = ?2"),
                params![owner, item.as_str()],
                RawRow::read,
            )
            .optional()?;
        row.map(RawRow::into_saved_file).transpose()
    }

    /// Records a new file and its batch. `false` when the owner already had the
    /// item (another upload won the race): nothing is written then.
    pub fn insert(&self, row: &NewRow<'_>, now: Timestamp) -> Result<bool, Error> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO saved
             (owner, item_id, path, size, sha256, capture_ms, capture_offset_s, batch, saved_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                row.owner,
                row.item_id.as_str(),
                row.path,
                i64::try_from(row.size).unwrap_or(i64::MAX),
                row.sha256,
                row.capture_time.instant.as_millisecond(),
                row.capture_time.offset().seconds(),
                row.batch.as_str(),
                now.as_millisecond(),
            ],
        )?;
        if inserted == 1 {
            add_to_batch(&tx, row.owner, row.batch, row.item_id, now)?;
        }
        tx.commit()?;
        Ok(inserted == 1)
    }

    /// Records that `batch` met an item the owner already holds.
    pub fn add_to_batch(
        &self,
        owner: &str,
        batch: &BatchId,
        item: &ItemId,
        now: Timestamp,
    ) -> Result<(), Error> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        add_to_batch(&tx, owner, batch, item, now)?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets an item whose file is gone, so it can be saved again.
    pub fn forget(&self, owner: &str, item: &ItemId) -> Result<(), Error> {
        self.conn().execute(
            "DELETE FROM saved WHERE owner = ?1 AND item_id = ?2",
            params![owner, item.as_str()],
        )?;
        Ok(())
    }

    /// The files of one batch, in the order they were added.
    pub fn batch_files(&self, owner: &str, batch: &BatchId) -> Result<Vec<SavedFile>, Error> {
        let conn = self.conn();
        let mut statement = conn.prepare(&format!(
            "SELECT {COLUMNS_S} FROM batch_items b
             JOIN saved s ON s.owner = b.owner AND s.item_id = b.item_id
             WHERE b.owner = ?1 AND b.batch = ?2
             ORDER BY b.added_ms, b.rowid"
        ))?;
        let rows = statement
            .query_map(params![owner, batch.as_str()], RawRow::read)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(RawRow::into_saved_file).collect()
    }

    /// Everything the owner has saved, newest first.
    pub fn history(&self, owner: &str) -> Result<Vec<SavedFile>, Error> {
        let conn = self.conn();
        let mut statement = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM saved WHERE owner = ?1 ORDER BY saved_ms DESC, rowid DESC"
        ))?;
        let rows = statement
            .query_map(params![owner], RawRow::read)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(RawRow::into_saved_file).collect()
    }
}

fn add_to_batch(
    tx: &Transaction<'_>,
    owner: &str,
    batch: &BatchId,
    item: &ItemId,
    now: Timestamp,
) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT OR IGNORE INTO batch_items (owner, batch, item_id, added_ms) VALUES (?1, ?2, ?3, ?4)",
        params![owner, batch.as_str(), item.as_str(), now.as_millisecond()],
    )
}

const COLUMNS: &str = "item_id, path, size, sha256, capture_ms, capture_offset_s, batch, saved_ms";
const COLUMNS_S: &str =
    "s.item_id, s.path, s.size, s.sha256, s.capture_ms, s.capture_offset_s, s.batch, s.saved_ms";

/// A row as SQLite returns it, before its ids and times are checked.
struct RawRow {
    item_id: String,
    path: String,
    size: i64,
    sha256: String,
    capture_ms: i64,
    capture_offset_s: i32,
    batch: String,
    saved_ms: i64,
}

impl RawRow {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
        Ok(RawRow {
            item_id: row.get(0)?,
            path: row.get(1)?,
            size: row.get(2)?,
            sha256: row.get(3)?,
            capture_ms: row.get(4)?,
            capture_offset_s: row.get(5)?,
            batch: row.get(6)?,
            saved_ms: row.get(7)?,
        })
    }

    fn into_saved_file(self) -> Result<SavedFile, Error> {
        let corrupt = |what: &str| Error::CorruptIndex(format!("{what} of item {}", self.item_id));
        let capture_time = CaptureTime::from_parts(
            Timestamp::from_millisecond(self.capture_ms).map_err(|_| corrupt("capture time"))?,
            Offset::from_seconds(self.capture_offset_s).map_err(|_| corrupt("capture offset"))?,
        );
        Ok(SavedFile {
            item_id: self.item_id.parse().map_err(|_| corrupt("id"))?,
            path: self.path,
            size: u64::try_from(self.size).map_err(|_| corrupt("size"))?,
            sha256: self.sha256,
            capture_time: capture_time.instant,
            capture_local: capture_time.local,
            batch: self.batch.parse().map_err(|_| corrupt("batch id"))?,
            saved_at: Timestamp::from_millisecond(self.saved_ms)
                .map_err(|_| corrupt("save time"))?,
        })
    }
}

/// Brings the file to [`SCHEMA_VERSION`], in one transaction.
fn migrate(conn: &mut Connection) -> Result<(), Error> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(Error::NewerIndex {
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction()?;
    let has_v0: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'saved')",
        [],
        |row| row.get(0),
    )?;
    if has_v0 {
        migrate_v0_to_v1(&tx)?;
    } else {
        tx.execute_batch(CREATE_V1)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// Version 0 kept times as RFC 3339 text (`capture_time` the instant,
/// `capture_local` the wall clock) and a CRC nothing read.
fn migrate_v0_to_v1(tx: &Transaction<'_>) -> Result<(), Error> {
    tx.execute_batch(
        "ALTER TABLE saved RENAME TO saved_v0;
         ALTER TABLE batch_items RENAME TO batch_items_v0;",
    )?;
    tx.execute_batch(CREATE_V1)?;
    {
        let mut read = tx.prepare(
            "SELECT member, item_id, path, size, sha256, capture_time, capture_local, batch, saved_at
             FROM saved_v0",
        )?;
        let mut write = tx.prepare(
            "INSERT INTO saved
             (owner, item_id, path, size, sha256, capture_ms, capture_offset_s, batch, saved_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        let mut rows = read.query([])?;
        while let Some(row) = rows.next()? {
            let item: String = row.get(1)?;
            let text = |i: usize| -> Result<String, Error> { Ok(row.get::<_, String>(i)?) };
            let bad =
                |what: &str| Error::CorruptIndex(format!("{what} of item {item} (version 0)"));
            let instant: Timestamp = text(5)?.parse().map_err(|_| bad("capture time"))?;
            let local: jiff::civil::DateTime =
                text(6)?.parse().map_err(|_| bad("local capture time"))?;
            let offset = Offset::UTC
                .to_timestamp(local)
                .map_err(|_| bad("local capture time"))?
                .duration_since(instant);
            let offset_s = i32::try_from(offset.as_secs()).map_err(|_| bad("capture offset"))?;
            let saved: Timestamp = text(8)?.parse().map_err(|_| bad("save time"))?;
            write.execute(params![
                row.get::<_, String>(0)?,
                item,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, String>(4)?,
                instant.as_millisecond(),
                offset_s,
                row.get::<_, String>(7)?,
                saved.as_millisecond(),
            ])?;
        }
    }
    tx.execute_batch(
        "INSERT INTO batch_items (owner, batch, item_id, added_ms)
             SELECT member, batch, item_id,
                    CAST(ROUND((julianday(added_at) - 2440587.5) * 86400000) AS INTEGER)
             FROM batch_items_v0;
         DROP TABLE saved_v0;
         DROP TABLE batch_items_v0;",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first release's layout, as it created it.
    const CREATE_V0: &str = "
        CREATE TABLE saved (
            member TEXT NOT NULL, item_id TEXT NOT NULL, path TEXT NOT NULL,
            size INTEGER NOT NULL, sha256 TEXT NOT NULL, crc32 INTEGER NOT NULL,
            capture_time TEXT NOT NULL, capture_local TEXT NOT NULL,
            batch TEXT NOT NULL, saved_at TEXT NOT NULL,
            PRIMARY KEY (member, item_id));
        CREATE TABLE batch_items (
            member TEXT NOT NULL, batch TEXT NOT NULL, item_id TEXT NOT NULL,
            added_at TEXT NOT NULL, PRIMARY KEY (member, batch, item_id));";

    #[test]
    fn a_version_0_index_is_migrated_with_its_times() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite3");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(CREATE_V0).unwrap();
            conn.execute_batch(
                "INSERT INTO saved VALUES ('', 'item-a', '2019/07/a.jpg', 4, 'ab', 7,
                    '2019-07-15T04:31:12Z', '2019-07-14T23:31:12', 'b1', '2026-11-29T10:00:00Z');
                 INSERT INTO saved VALUES ('', 'item-b', '2019/07/b.jpg', 5, 'cd', 8,
                    '2019-07-15T04:31:13Z', '2019-07-15T04:31:13', 'b1', '2026-11-29T10:00:01Z');
                 INSERT INTO batch_items VALUES ('', 'b1', 'item-a', '2026-11-29T10:00:00Z');
                 INSERT INTO batch_items VALUES ('', 'b1', 'item-b', '2026-11-29T10:00:01Z');",
            )
            .unwrap();
        }
        let index = Index::open(&path).unwrap();
        let files = index.batch_files("", &"b1".parse().unwrap()).unwrap();
        let ids: Vec<_> = files.iter().map(|f| f.item_id.as_str()).collect();
        assert_eq!(ids, ["item-a", "item-b"], "batch order survives");
        let a = &files[0];
        assert_eq!(a.capture_time.to_string(), "2019-07-15T04:31:12Z");
        assert_eq!(a.capture_local.to_string(), "2019-07-14T23:31:12");
        assert_eq!(a.saved_at.to_string(), "2026-11-29T10:00:00Z");
        assert_eq!((a.size, a.sha256.as_str()), (4, "ab"));
        let version: i64 = index
            .conn()
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        drop(index);
        // Opening it again is a no-op.
        let index = Index::open(&path).unwrap();
        assert_eq!(index.history("").unwrap().len(), 2);
    }

    #[test]
    fn an_index_from_a_newer_helper_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite3");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let err = Index::open(&path).err().unwrap();
        assert!(matches!(err, Error::NewerIndex { .. }), "{err}");
    }
}
