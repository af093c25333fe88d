//! Sign-in sessions, kept server-side in SQLite beside the library index
//! (`<library>/.keepsake-sessions.sqlite3`), so they survive a restart. The
//! browser holds only a random token in an HttpOnly cookie; the file holds its
//! SHA-256, so a copy of the file signs nobody in. Sessions expire after a fixed
//! lifetime, and end early when the member's passphrase changes (each session
//! remembers a fingerprint of the hash it was signed in with).

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use jiff::Timestamp;
use rand_core::{OsRng, RngCore};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

/// File name of the session store inside the library root.
pub const DATABASE_NAME: &str = ".keepsake-sessions.sqlite3";

/// A signed-in session, as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The member it signs in.
    pub member: String,
    /// Fingerprint of the passphrase hash it was signed in with.
    pub hash_fingerprint: String,
}

/// The session store.
pub struct Sessions {
    conn: Mutex<Connection>,
    lifetime: Duration,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

/// Fingerprint of a passphrase hash: which passphrase a session was opened with,
/// without storing the hash twice.
pub fn fingerprint(passphrase_hash: &str) -> String {
    hex::encode(&Sha256::digest(passphrase_hash.as_bytes())[..16])
}

fn token_key(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Sessions {
    /// Opens (creating) the store at `path`; sessions last `lifetime`.
    pub fn open(path: &Path, lifetime: Duration) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE IF NOT EXISTS sessions (
                 token_sha256 TEXT PRIMARY KEY,
                 member TEXT NOT NULL,
                 hash_fingerprint TEXT NOT NULL,
                 expires_ms INTEGER NOT NULL
             );",
        )?;
        Ok(Sessions {
            conn: Mutex::new(conn),
            lifetime,
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long a session lasts.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Opens a session for `member`; returns the token for the cookie.
    pub fn create(
        &self,
        member: &str,
        hash_fingerprint: &str,
        now: Timestamp,
    ) -> rusqlite::Result<String> {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let token = hex::encode(bytes);
        let lifetime_ms = i64::try_from(self.lifetime.as_millis()).unwrap_or(i64::MAX);
        let conn = self.conn();
        // Forget expired sessions while we are here, so the table stays small.
        conn.execute(
            "DELETE FROM sessions WHERE expires_ms <= ?1",
            params![now.as_millisecond()],
        )?;
        conn.execute(
            "INSERT INTO sessions (token_sha256, member, hash_fingerprint, expires_ms)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                token_key(&token),
                member,
                hash_fingerprint,
                now.as_millisecond().saturating_add(lifetime_ms)
            ],
        )?;
        Ok(token)
    }

    /// The live session a token stands for.
    pub fn lookup(&self, token: &str, now: Timestamp) -> rusqlite::Result<Option<Session>> {
        self.conn()
            .query_row(
                "SELECT member, hash_fingerprint FROM sessions
                 WHERE token_sha256 = ?1 AND expires_ms > ?2",
                params![token_key(token), now.as_millisecond()],
                |row| {
                    Ok(Session {
                        member: row.get(0)?,
                        hash_fingerprint: row.get(1)?,
                    })
                },
            )
            .optional()
    }

    /// Ends a session (sign-out).
    pub fn delete(&self, token: &str) -> rusqlite::Result<()> {
        self.conn().execute(
            "DELETE FROM sessions WHERE token_sha256 = ?1",
            params![token_key(token)],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_survive_a_reopen_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DATABASE_NAME);
        let now: Timestamp = "2026-11-30T10:00:00Z".parse().unwrap();
        let token = {
            let sessions = Sessions::open(&path, Duration::from_secs(3600)).unwrap();
            sessions.create("ana", "fp", now).unwrap()
        };
        let sessions = Sessions::open(&path, Duration::from_secs(3600)).unwrap();
        let found = sessions.lookup(&token, now).unwrap().unwrap();
        assert_eq!(found.member, "ana");
        assert_eq!(found.hash_fingerprint, "fp");
        let later = now + jiff::SignedDuration::from_secs(3600);
        assert_eq!(sessions.lookup(&token, later).unwrap(), None, "expired");
        assert_eq!(sessions.lookup("not-a-token", now).unwrap(), None);
    }

    #[test]
    fn the_store_holds_no_usable_token_and_sign_out_ends_the_session() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DATABASE_NAME);
        let now = Timestamp::now();
        let sessions = Sessions::open(&path, Duration::from_secs(60)).unwrap();
        let token = sessions.create("ana", "fp", now).unwrap();
        assert_eq!(token.len(), 64);
        let raw = std::fs::read(&path).unwrap();
        let wal =
            std::fs::read(dir.path().join(format!("{DATABASE_NAME}-wal"))).unwrap_or_default();
        for bytes in [&raw, &wal] {
            assert!(
                !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
                "the token itself must not be stored"
            );
        }
        sessions.delete(&token).unwrap();
        assert_eq!(sessions.lookup(&token, now).unwrap(), None);
    }
}
