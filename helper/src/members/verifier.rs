//! The cap on Argon2 work: passphrase checks run on at most [`CHECKS_AT_ONCE`]
//! blocking threads, each in one of that many reused memory buffers, with at most
//! [`CHECKS_WAITING`] more sign-ins queued (for at most [`QUEUE_WAIT`]). Anything
//! beyond is refused at once ([`Refused`], a 503 with `Retry-After`).
//!
//! Each check of a default hash (m = 19 MiB) touches all of its memory, so the
//! memory sign-in can take is `CHECKS_AT_ONCE` × 19 MiB, whatever the burst: the
//! buffers are allocated once and reused, so the allocator never holds freed copies
//! in other threads' arenas either.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argon2::password_hash::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

/// Argon2 checks that run at once (each holds a 19 MiB buffer).
pub const CHECKS_AT_ONCE: usize = 2;
/// Sign-ins that may wait for a check beyond those running; more get a 503 at once.
pub const CHECKS_WAITING: usize = 8;
/// The longest a queued sign-in waits for its check before it gets a 503.
pub const QUEUE_WAIT: Duration = Duration::from_secs(5);

/// A check was not run: too many sign-ins are already being checked or waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many sign-ins are being checked at once")]
pub struct Refused;

/// Runs passphrase checks within the cap.
#[derive(Debug)]
pub struct Verifier {
    permits: Semaphore,
    /// Checks running or waiting for a permit.
    admitted: AtomicUsize,
    /// Memory of finished checks, for the next ones (at most `CHECKS_AT_ONCE`).
    buffers: Mutex<Vec<Vec<Block>>>,
    queue_wait: Duration,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier::new(QUEUE_WAIT)
    }
}

/// Gives the admission back however the check ends (done, refused, cancelled).
struct Admission<'a>(&'a AtomicUsize);

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Verifier {
    /// A verifier whose queued checks wait at most `queue_wait`.
    pub fn new(queue_wait: Duration) -> Self {
        Verifier {
            permits: Semaphore::new(CHECKS_AT_ONCE),
            admitted: AtomicUsize::new(0),
            buffers: Mutex::new(Vec::with_capacity(CHECKS_AT_ONCE)),
            queue_wait,
        }
    }

    /// Whether `passphrase` matches the PHC string `hash`, checked on a blocking
    /// thread within the cap. `Err(Refused)` when the cap and its queue are full,
    /// or the queue did not move within its wait.
    pub async fn verify(
        self: &std::sync::Arc<Self>,
        passphrase: String,
        hash: String,
    ) -> Result<bool, Refused> {
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= CHECKS_AT_ONCE + CHECKS_WAITING {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(Refused);
        }
        let _admission = Admission(&self.admitted);
        let permit = tokio::time::timeout(self.queue_wait, self.permits.acquire())
            .await
            .map_err(|_| Refused)?
            .expect("the semaphore is never closed");
        let this = std::sync::Arc::clone(self);
        let matches = tokio::task::spawn_blocking(move || {
            let mut buffer = this
                .buffers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop()
                .unwrap_or_default();
            let matches = verify_with_memory(&passphrase, &hash, &mut buffer);
            this.buffers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(buffer);
            matches
        })
        .await
        // A panic in the check (there is none to expect) counts as a mismatch.
        .unwrap_or(false);
        drop(permit);
        Ok(matches)
    }
}

/// [`super::verify_passphrase`] in the caller's memory: `buffer` grows to the hash's
/// memory cost once and is reused by the next check.
pub fn verify_with_memory(passphrase: &str, hash: &str, buffer: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    if buffer.len() < params.block_count() {
        buffer.resize(params.block_count(), Block::default());
    }
    let argon2 = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    let blocks = &mut buffer[..argon2.params().block_count()];
    if argon2
        .hash_password_into_with_memory(passphrase.as_bytes(), salt, &mut out, blocks)
        .is_err()
    {
        return false;
    }
    // `Output`'s equality is constant-time.
    Output::new(&out).is_ok_and(|computed| computed == expected)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::members::{decoy_hash, hash_passphrase, verify_passphrase};

    #[test]
    fn the_reused_buffer_agrees_with_the_argon2_crate() {
        let hash = hash_passphrase("correct horse").unwrap();
        let mut buffer = Vec::new();
        for (passphrase, hash) in [
            ("correct horse", hash.as_str()),
            ("correct horse ", hash.as_str()),
            ("", hash.as_str()),
            ("x", decoy_hash()),
            ("correct horse", "not a hash"),
            (
                "correct horse",
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0",
            ),
        ] {
            assert_eq!(
                verify_with_memory(passphrase, hash, &mut buffer),
                verify_passphrase(passphrase, hash),
                "{passphrase:?} against {hash:?}"
            );
        }
        assert!(verify_with_memory("correct horse", &hash, &mut buffer));
        assert_eq!(
            buffer.len(),
            Params::default().block_count(),
            "one 19 MiB buffer"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checks_beyond_the_running_ones_and_the_queue_are_refused_at_once() {
        let verifier = Arc::new(Verifier::new(Duration::from_secs(60)));
        // Hold every permit, as long checks would.
        let held = verifier
            .permits
            .acquire_many(CHECKS_AT_ONCE as u32)
            .await
            .unwrap();
        let mut waiting = Vec::new();
        for _ in 0..CHECKS_AT_ONCE + CHECKS_WAITING {
            let verifier = Arc::clone(&verifier);
            waiting.push(tokio::spawn(async move {
                verifier.verify("p".into(), decoy_hash().into()).await
            }));
        }
        while verifier.admitted.load(Ordering::Acquire) < CHECKS_AT_ONCE + CHECKS_WAITING {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            verifier.verify("p".into(), decoy_hash().into()).await,
            Err(Refused),
            "the queue is full"
        );
        drop(held);
        for check in waiting {
            assert_eq!(check.await.unwrap(), Ok(false), "queued checks run");
        }
        assert_eq!(verifier.admitted.load(Ordering::Acquire), 0);
        assert!(verifier.buffers.lock().unwrap().len() <= CHECKS_AT_ONCE);
    }

    #[tokio::test(start_paused = true)]
    async fn a_check_that_waits_too_long_is_refused() {
        let verifier = Arc::new(Verifier::new(QUEUE_WAIT));
        let _held = verifier
            .permits
            .acquire_many(CHECKS_AT_ONCE as u32)
            .await
            .unwrap();
        assert_eq!(
            verifier.verify("p".into(), decoy_hash().into()).await,
            Err(Refused)
        );
    }
}
