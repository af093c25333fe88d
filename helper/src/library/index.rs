//! The SQLite index of what was saved: one row per (owner, item) in `saved`, which
//! batch each item was saved or met again in (`batch_items`), and the saves under
//! way (`pending`: a claim written before a file gets its name, so a crash between
//! the rename and the row is recovered, see [`super::Library`]). Every call is
//! blocking: the library runs them on tokio's blocking pool.
//!
//! Times are integers (milliseconds since the Unix epoch, offsets in seconds), so
//! nothing parses a string it wrote itself. The schema is versioned with
//! `PRAGMA user_version`; [`Index::open`] migrates older files in one transaction.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use api::{BatchId, HistoryCursor, ItemId, SavedFile};
use jiff::Timestamp;
use jiff::tz::Offset;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use api::CaptureTime;

use super::error::Error;

/// File name of the index inside the library root.
pub const DATABASE_NAME: &str = ".keepsake.sqlite3";

/// The schema this code writes. 0 is the unversioned layout of the first release
/// (RFC 3339 text times and an unused CRC column); 1 has integer times; 2 adds the
/// `pending` claims and an index for paging the history; 3 allows files without a
/// capture time and records each file's CRC-32 (for zips); 4 indexes each batch in
/// the order its items were added (a zip pages through it).
pub const SCHEMA_VERSION: i64 = 4;

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

/// Version 1 to 2: claims of saves under way, and history pages by save time.
const V1_TO_V2: &str = "
    CREATE TABLE pending (
        owner TEXT NOT NULL,
        item_id TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        capture_ms INTEGER NOT NULL,
        capture_offset_s INTEGER NOT NULL,
        batch TEXT NOT NULL,
        claimed_ms INTEGER NOT NULL,
        PRIMARY KEY (owner, item_id)
    );
    CREATE INDEX saved_by_time ON saved (owner, saved_ms, item_id);";

/// Version 2 to 3: capture times may be absent (no date was known), and a file's
/// CRC-32 is recorded (NULL for files saved before: computed when first needed).
/// SQLite cannot drop a NOT NULL: the tables are rebuilt.
const V2_TO_V3: &str = "
    CREATE TABLE saved_v3 (
        owner TEXT NOT NULL,
        item_id TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        crc32 INTEGER,
        capture_ms INTEGER,
        capture_offset_s INTEGER,
        batch TEXT NOT NULL,
        saved_ms INTEGER NOT NULL,
        PRIMARY KEY (owner, item_id)
    );
    INSERT INTO saved_v3
        (owner, item_id, path, size, sha256, crc32, capture_ms, capture_offset_s, batch, saved_ms)
        SELECT owner, item_id, path, size, sha256, NULL, capture_ms, capture_offset_s, batch, saved_ms
        FROM saved;
    DROP TABLE saved;
    ALTER TABLE saved_v3 RENAME TO saved;
    CREATE INDEX saved_by_time ON saved (owner, saved_ms, item_id);
    CREATE TABLE pending_v3 (
        owner TEXT NOT NULL,
        item_id TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        crc32 INTEGER,
        capture_ms INTEGER,
        capture_offset_s INTEGER,
        batch TEXT NOT NULL,
        claimed_ms INTEGER NOT NULL,
        PRIMARY KEY (owner, item_id)
    );
    INSERT INTO pending_v3
        (owner, item_id, path, size, sha256, crc32, capture_ms, capture_offset_s, batch, claimed_ms)
        SELECT owner, item_id, path, size, sha256, NULL, capture_ms, capture_offset_s, batch, claimed_ms
        FROM pending;
    DROP TABLE pending;
    ALTER TABLE pending_v3 RENAME TO pending;";

/// Version 3 to 4: a batch's rows in the order they were added (an index on
/// `(owner, batch)` holds the rowid after them), so a zip's pages are each one
/// seek, not a sort of the whole batch.
const V3_TO_V4: &str = "CREATE INDEX batch_items_in_order ON batch_items (owner, batch);";

/// A save under way: the row `saved` gets once the file has its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The owner's key.
    pub owner: String,
    /// The item.
    pub item_id: ItemId,
    /// The path the file is being given, relative to the owner's folder.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// Its hex SHA-256.
    pub sha256: String,
    /// Its CRC-32, when known.
    pub crc32: Option<u32>,
    /// Its capture time, when known.
    pub capture_time: Option<CaptureTime>,
    /// The batch saving it.
    pub batch: BatchId,
    /// When the claim was written.
    pub claimed_at: Timestamp,
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
        // FULL: a commit is on disk before the call returns, so a claim is durable
        // before its file is renamed, even across a power cut (NORMAL would only
        // survive a killed process). Saves are few and each already syncs a photo.
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")?;
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

    /// Writes (or replaces) the claim of a save: committed before the file gets
    /// its name, so a crash after the rename leaves a claim that names the file.
    pub fn claim(&self, claim: &Claim) -> Result<(), Error> {
        self.conn().execute(
            "INSERT OR REPLACE INTO pending
             (owner, item_id, path, size, sha256, crc32, capture_ms, capture_offset_s, batch, claimed_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                claim.owner,
                claim.item_id.as_str(),
                claim.path,
                i64::try_from(claim.size).unwrap_or(i64::MAX),
                claim.sha256,
                claim.crc32,
                claim.capture_time.map(|t| t.instant.as_millisecond()),
                claim.capture_time.map(|t| t.offset().seconds()),
                claim.batch.as_str(),
                claim.claimed_at.as_millisecond(),
            ],
        )?;
        Ok(())
    }

    /// Drops a claim whose file never got its name.
    pub fn release(&self, owner: &str, item: &ItemId) -> Result<(), Error> {
        self.conn().execute(
            "DELETE FROM pending WHERE owner = ?1 AND item_id = ?2",
            params![owner, item.as_str()],
        )?;
        Ok(())
    }

    /// Turns a claim into the item's row (replacing an older row whose file went
    /// missing) and records its batch, in one transaction. `false` when there is
    /// no such claim.
    pub fn complete(&self, owner: &str, item: &ItemId, saved_at: Timestamp) -> Result<bool, Error> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let batch: Option<String> = tx
            .query_row(
                "SELECT batch FROM pending WHERE owner = ?1 AND item_id = ?2",
                params![owner, item.as_str()],
                |row| row.get(0),
            )
            .optional()?;
        let Some(batch) = batch else {
            return Ok(false);
        };
        let batch: BatchId = batch
            .parse()
            .map_err(|_| Error::CorruptIndex(format!("batch id of the claim of item {item}")))?;
        tx.execute(
            "INSERT OR REPLACE INTO saved
             (owner, item_id, path, size, sha256, crc32, capture_ms, capture_offset_s, batch, saved_ms)
             SELECT owner, item_id, path, size, sha256, crc32, capture_ms, capture_offset_s, batch, ?3
             FROM pending WHERE owner = ?1 AND item_id = ?2",
            params![owner, item.as_str(), saved_at.as_millisecond()],
        )?;
        tx.execute(
            "DELETE FROM pending WHERE owner = ?1 AND item_id = ?2",
            params![owner, item.as_str()],
        )?;
        add_to_batch(&tx, owner, &batch, item, saved_at)?;
        tx.commit()?;
        Ok(true)
    }

    /// The claim of one item, if a save of it is under way (or was, when a helper
    /// was killed).
    pub fn claim_of(&self, owner: &str, item: &ItemId) -> Result<Option<Claim>, Error> {
        let conn = self.conn();
        let row = conn
            .query_row(
                &format!("SELECT {CLAIM_COLUMNS} FROM pending WHERE owner = ?1 AND item_id = ?2"),
                params![owner, item.as_str()],
                RawClaim::read,
            )
            .optional()?;
        row.map(RawClaim::into_claim).transpose()
    }

    /// Every claim, oldest first.
    pub fn claims(&self) -> Result<Vec<Claim>, Error> {
        let conn = self.conn();
        let mut statement = conn.prepare(&format!(
            "SELECT {CLAIM_COLUMNS} FROM pending ORDER BY claimed_ms, rowid"
        ))?;
        let rows = statement
            .query_map([], RawClaim::read)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(RawClaim::into_claim).collect()
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

    /// Records the CRC-32 of a file saved before the index kept them.
    pub fn set_crc32(&self, owner: &str, item: &ItemId, crc32: u32) -> Result<(), Error> {
        self.conn().execute(
            "UPDATE saved SET crc32 = ?3 WHERE owner = ?1 AND item_id = ?2",
            params![owner, item.as_str(), crc32],
        )?;
        Ok(())
    }

    /// Every owner key that has rows (saved, met in a batch, or claimed), each with
    /// the time of its oldest row, in milliseconds.
    pub fn owners(&self) -> Result<Vec<(String, i64)>, Error> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT owner, MIN(t) FROM (
                SELECT owner, saved_ms AS t FROM saved
                UNION ALL SELECT owner, added_ms FROM batch_items
                UNION ALL SELECT owner, claimed_ms FROM pending)
             GROUP BY owner ORDER BY owner",
        )?;
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Gives every row of the owner `from` to the owner `to` (who has none), in one
    /// transaction. Returns how many rows moved.
    pub fn rekey(&self, from: &str, to: &str) -> Result<usize, Error> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut moved = 0;
        for table in ["saved", "batch_items", "pending"] {
            moved += tx.execute(
                &format!("UPDATE {table} SET owner = ?2 WHERE owner = ?1"),
                params![from, to],
            )?;
        }
        tx.commit()?;
        Ok(moved)
    }

    /// The newest row of a batch's list now (0 when it has none): a zip lays out
    /// the batch up to it, so items added meanwhile wait for the next zip.
    pub fn batch_last_row(&self, owner: &str, batch: &BatchId) -> Result<i64, Error> {
        Ok(self.conn().query_row(
            "SELECT COALESCE(MAX(rowid), 0) FROM batch_items WHERE owner = ?1 AND batch = ?2",
            params![owner, batch.as_str()],
            |row| row.get(0),
        )?)
    }

    /// Up to `limit` files of one batch, in the order they were added, after the
    /// row `after` and up to the row `upto` (see [`Index::batch_last_row`]), each
    /// with its row: pages of a batch too large to hold at once.
    pub fn batch_files_page(
        &self,
        owner: &str,
        batch: &BatchId,
        after: i64,
        upto: i64,
        limit: u32,
    ) -> Result<Vec<(i64, SavedFile)>, Error> {
        let conn = self.conn();
        // `rowid` grows with each row added (rows are never deleted from a batch),
        // so it orders the batch as `added_ms, rowid` does, and pages by keyset.
        let mut statement = conn.prepare_cached(&format!(
            "SELECT b.rowid, {COLUMNS_S} FROM batch_items b
             JOIN saved s ON s.owner = b.owner AND s.item_id = b.item_id
             WHERE b.owner = ?1 AND b.batch = ?2 AND b.rowid > ?3 AND b.rowid <= ?4
             ORDER BY b.rowid
             LIMIT ?5"
        ))?;
        let rows = statement
            .query_map(params![owner, batch.as_str(), after, upto, limit], |row| {
                Ok((row.get::<_, i64>(0)?, RawRow::read_from(row, 1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(rowid, raw)| Ok((rowid, raw.into_saved_file()?)))
            .collect()
    }

    /// Up to `limit` of the owner's saved files, newest first (ties by item id),
    /// starting after `before`.
    pub fn history(
        &self,
        owner: &str,
        before: Option<&HistoryCursor>,
        limit: u32,
    ) -> Result<Vec<SavedFile>, Error> {
        let conn = self.conn();
        // Keyset paging: a page never repeats or skips a row that other saves push
        // down, and costs the same however deep it is.
        let (before_ms, before_item) = match before {
            Some(cursor) => (cursor.saved_at_ms(), cursor.item_id().as_str()),
            None => (i64::MAX, ""),
        };
        let mut statement = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM saved
             WHERE owner = ?1 AND (saved_ms < ?2 OR (saved_ms = ?2 AND (?3 = '' OR item_id < ?3)))
             ORDER BY saved_ms DESC, item_id DESC
             LIMIT ?4"
        ))?;
        let rows = statement
            .query_map(params![owner, before_ms, before_item, limit], RawRow::read)?
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

const COLUMNS: &str =
    "item_id, path, size, sha256, capture_ms, capture_offset_s, batch, saved_ms, crc32";
const COLUMNS_S: &str = "s.item_id, s.path, s.size, s.sha256, s.capture_ms, s.capture_offset_s, \
                         s.batch, s.saved_ms, s.crc32";

/// A row as SQLite returns it, before its ids and times are checked.
struct RawRow {
    item_id: String,
    path: String,
    size: i64,
    sha256: String,
    capture_ms: Option<i64>,
    capture_offset_s: Option<i32>,
    batch: String,
    saved_ms: i64,
    crc32: Option<i64>,
}

impl RawRow {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
        RawRow::read_from(row, 0)
    }

    /// The row's columns from column `first` on.
    fn read_from(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<RawRow> {
        Ok(RawRow {
            item_id: row.get(first)?,
            path: row.get(first + 1)?,
            size: row.get(first + 2)?,
            sha256: row.get(first + 3)?,
            capture_ms: row.get(first + 4)?,
            capture_offset_s: row.get(first + 5)?,
            batch: row.get(first + 6)?,
            saved_ms: row.get(first + 7)?,
            crc32: row.get(first + 8)?,
        })
    }

    fn into_saved_file(self) -> Result<SavedFile, Error> {
        let corrupt = |what: &str| Error::CorruptIndex(format!("{what} of item {}", self.item_id));
        let capture_time = capture_of(self.capture_ms, self.capture_offset_s).map_err(&corrupt)?;
        Ok(SavedFile {
            item_id: self.item_id.parse().map_err(|_| corrupt("id"))?,
            path: self.path,
            size: u64::try_from(self.size).map_err(|_| corrupt("size"))?,
            sha256: self.sha256,
            capture_time: capture_time.map(|t| t.instant),
            capture_local: capture_time.map(|t| t.local),
            crc32: self
                .crc32
                .map(|c| u32::try_from(c).map_err(|_| corrupt("CRC-32")))
                .transpose()?,
            batch: self.batch.parse().map_err(|_| corrupt("batch id"))?,
            saved_at: Timestamp::from_millisecond(self.saved_ms)
                .map_err(|_| corrupt("save time"))?,
            // Whether the file is still there is the library's to find out.
            missing: false,
        })
    }
}

const CLAIM_COLUMNS: &str =
    "owner, item_id, path, size, sha256, capture_ms, capture_offset_s, batch, claimed_ms, crc32";

/// A capture time from its two columns (both set, or both NULL for "no date").
fn capture_of(ms: Option<i64>, offset_s: Option<i32>) -> Result<Option<CaptureTime>, &'static str> {
    match (ms, offset_s) {
        (None, None) => Ok(None),
        (Some(ms), Some(offset_s)) => Ok(Some(CaptureTime::from_parts(
            Timestamp::from_millisecond(ms).map_err(|_| "capture time")?,
            Offset::from_seconds(offset_s).map_err(|_| "capture offset")?,
        ))),
        _ => Err("capture time"),
    }
}

/// A claim as SQLite returns it.
struct RawClaim {
    owner: String,
    item_id: String,
    path: String,
    size: i64,
    sha256: String,
    capture_ms: Option<i64>,
    capture_offset_s: Option<i32>,
    batch: String,
    claimed_ms: i64,
    crc32: Option<i64>,
}

impl RawClaim {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawClaim> {
        Ok(RawClaim {
            owner: row.get(0)?,
            item_id: row.get(1)?,
            path: row.get(2)?,
            size: row.get(3)?,
            sha256: row.get(4)?,
            capture_ms: row.get(5)?,
            capture_offset_s: row.get(6)?,
            batch: row.get(7)?,
            claimed_ms: row.get(8)?,
            crc32: row.get(9)?,
        })
    }

    fn into_claim(self) -> Result<Claim, Error> {
        let corrupt = |what: &str| {
            Error::CorruptIndex(format!("{what} of the claim of item {}", self.item_id))
        };
        Ok(Claim {
            capture_time: capture_of(self.capture_ms, self.capture_offset_s).map_err(&corrupt)?,
            crc32: self
                .crc32
                .map(|c| u32::try_from(c).map_err(|_| corrupt("CRC-32")))
                .transpose()?,
            claimed_at: Timestamp::from_millisecond(self.claimed_ms)
                .map_err(|_| corrupt("claim time"))?,
            item_id: self.item_id.parse().map_err(|_| corrupt("id"))?,
            batch: self.batch.parse().map_err(|_| corrupt("batch id"))?,
            size: u64::try_from(self.size).map_err(|_| corrupt("size"))?,
            owner: self.owner,
            path: self.path,
            sha256: self.sha256,
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
    if version < 2 {
        migrate_to_v2(&tx, version)?;
    }
    if version < 3 {
        tx.execute_batch(V2_TO_V3)?;
    }
    tx.execute_batch(V3_TO_V4)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// Versions 0 (or a new file) and 1 to 2.
fn migrate_to_v2(tx: &Transaction<'_>, version: i64) -> Result<(), Error> {
    if version == 0 {
        let has_v0: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'saved')",
            [],
            |row| row.get(0),
        )?;
        if has_v0 {
            migrate_v0_to_v1(tx)?;
        } else {
            tx.execute_batch(CREATE_V1)?;
        }
    }
    // Every version from 1 on is reached through the same steps, fresh or not.
    tx.execute_batch(V1_TO_V2)?;
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
        assert_eq!(
            a.capture_time.map(|t| t.to_string()).as_deref(),
            Some("2019-07-15T04:31:12Z")
        );
        assert_eq!(
            a.capture_local.map(|t| t.to_string()).as_deref(),
            Some("2019-07-14T23:31:12")
        );
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
        assert_eq!(index.history("", None, 10).unwrap().len(), 2);
        assert!(index.claims().unwrap().is_empty());
    }

    fn claim(item: &str, path: &str, batch: &str, at_ms: i64) -> Claim {
        Claim {
            owner: String::new(),
            item_id: item.parse().unwrap(),
            path: path.into(),
            size: 3,
            sha256: "abc".into(),
            crc32: Some(0xDEAD_BEEF),
            capture_time: Some("2021-03-04T05:06:07+01:00".parse().unwrap()),
            batch: batch.parse().unwrap(),
            claimed_at: Timestamp::from_millisecond(at_ms).unwrap(),
        }
    }

    #[test]
    fn a_version_1_index_is_migrated_keeping_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite3");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(CREATE_V1).unwrap();
            conn.execute_batch(
                "INSERT INTO saved VALUES ('', 'item-a', '2019/07/a.jpg', 4, 'ab',
                    1563161472000, 3600, 'b1', 1795939200000);
                 INSERT INTO batch_items VALUES ('', 'b1', 'item-a', 1795939200000);
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let index = Index::open(&path).unwrap();
        let history = index.history("", None, 10).unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].path, "2019/07/a.jpg");
        assert_eq!(
            index.batch_files("", &"b1".parse().unwrap()).unwrap().len(),
            1
        );
        // The new table is there.
        index
            .claim(&claim("item-b", "2019/07/b.jpg", "b1", 1))
            .unwrap();
        assert_eq!(index.claims().unwrap().len(), 1);
    }

    #[test]
    fn a_completed_claim_becomes_the_row_and_joins_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open(&dir.path().join("i.sqlite3")).unwrap();
        let item: ItemId = "item-a".parse().unwrap();
        index
            .claim(&claim("item-a", "2021/03/a.jpg", "b1", 1))
            .unwrap();
        assert!(
            index.find("", &item).unwrap().is_none(),
            "a claim is not a row"
        );
        assert_eq!(
            index.claim_of("", &item).unwrap().unwrap(),
            claim("item-a", "2021/03/a.jpg", "b1", 1)
        );
        let at = Timestamp::from_millisecond(5_000).unwrap();
        assert!(index.complete("", &item, at).unwrap());
        assert!(index.claims().unwrap().is_empty());
        let row = index.find("", &item).unwrap().unwrap();
        assert_eq!((row.path.as_str(), row.saved_at), ("2021/03/a.jpg", at));
        assert_eq!(
            index.batch_files("", &"b1".parse().unwrap()).unwrap(),
            [row]
        );
        assert!(!index.complete("", &item, at).unwrap(), "no claim left");

        // A later save of the same item (its file went missing) replaces the row.
        index
            .claim(&claim("item-a", "2021/03/a (2).jpg", "b2", 6))
            .unwrap();
        assert!(index.complete("", &item, at).unwrap());
        let row = index.find("", &item).unwrap().unwrap();
        assert_eq!(
            (row.path.as_str(), row.batch.as_str()),
            ("2021/03/a (2).jpg", "b2")
        );

        // A released claim leaves nothing.
        index
            .claim(&claim("item-c", "2021/03/c.jpg", "b2", 7))
            .unwrap();
        index.release("", &"item-c".parse().unwrap()).unwrap();
        assert!(index.claims().unwrap().is_empty());
        assert!(
            index
                .find("", &"item-c".parse().unwrap())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn history_pages_walk_every_row_once_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open(&dir.path().join("i.sqlite3")).unwrap();
        // Seven items, three of them saved in the same millisecond.
        let saves = [
            ("i1", 10),
            ("i2", 20),
            ("i3", 20),
            ("i4", 20),
            ("i5", 30),
            ("i6", 40),
            ("i7", 50),
        ];
        for (item, at) in saves {
            index
                .claim(&claim(item, &format!("2021/03/{item}.jpg"), "b", at))
                .unwrap();
            index
                .complete(
                    "",
                    &item.parse().unwrap(),
                    Timestamp::from_millisecond(at).unwrap(),
                )
                .unwrap();
        }
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = index.history("", before.as_ref(), 2).unwrap();
            assert!(page.len() <= 2);
            let Some(last) = page.last() else { break };
            before = Some(HistoryCursor::after(last));
            seen.extend(page.iter().map(|f| f.item_id.as_str().to_owned()));
        }
        assert_eq!(seen, ["i7", "i6", "i5", "i4", "i3", "i2", "i1"]);
        // Another owner's rows never show.
        assert!(index.history("ana", None, 10).unwrap().is_empty());
    }

    #[test]
    fn a_version_2_index_is_migrated_to_dateless_rows_with_crcs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite3");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(CREATE_V1).unwrap();
            conn.execute_batch(V1_TO_V2).unwrap();
            conn.execute_batch(
                "INSERT INTO saved VALUES ('', 'item-a', '2019/07/a.jpg', 4, 'ab',
                    1563161472000, 3600, 'b1', 1795939200000);
                 INSERT INTO pending VALUES ('', 'item-c', '2019/07/c.jpg', 4, 'cd',
                    1563161472000, 3600, 'b1', 1795939200000);
                 INSERT INTO batch_items VALUES ('', 'b1', 'item-a', 1795939200000);
                 PRAGMA user_version = 2;",
            )
            .unwrap();
        }
        let index = Index::open(&path).unwrap();
        let old = index.find("", &"item-a".parse().unwrap()).unwrap().unwrap();
        assert_eq!(old.crc32, None, "computed when a zip first needs it");
        assert!(old.capture_time.is_some());
        assert_eq!(index.claims().unwrap().len(), 1);
        // A file without a date, with its CRC.
        let mut dateless = claim("item-b", "unknown-date/b.png", "b1", 1);
        dateless.capture_time = None;
        index.claim(&dateless).unwrap();
        assert!(
            index
                .complete("", &"item-b".parse().unwrap(), Timestamp::UNIX_EPOCH)
                .unwrap()
        );
        let saved = index.find("", &"item-b".parse().unwrap()).unwrap().unwrap();
        assert_eq!((saved.capture_time, saved.capture_local), (None, None));
        assert_eq!(saved.crc32, Some(0xDEAD_BEEF));
        assert_eq!(index.history("", None, 10).unwrap().len(), 2);
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
