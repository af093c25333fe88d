//! The brake on guessing: each failed sign-in makes the next attempt for the same
//! member, and from the same client address, wait longer. A few typos cost
//! nothing; a guessing script gets one try every few minutes at most.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures that cost nothing.
const FREE_FAILURES: u32 = 3;
/// The longest wait.
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// A record idle this long is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);

/// What a failure is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A member name (also names that are not members: the answer must not differ).
    Member(String),
    /// A client address.
    Client(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: Instant,
}

/// How long to wait after `failures` failed attempts: nothing for the first few,
/// then 1 s, 2 s, 4 s… up to 15 minutes.
pub fn delay_after(failures: u32) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (failures - FREE_FAILURES).min(20);
    Duration::from_secs(1u64 << doublings).min(MAX_DELAY)
}

/// Failed sign-ins by member and by client address.
#[derive(Debug, Default)]
pub struct Throttle {
    records: Mutex<HashMap<Key, Record>>,
}

impl Throttle {
    /// `Err(wait)` when any of `keys` must still wait before another attempt.
    pub fn check(&self, keys: &[Key], now: Instant) -> Result<(), Duration> {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records.retain(|_, r| now.saturating_duration_since(r.last) < FORGET_AFTER);
        let wait = keys
            .iter()
            .filter_map(|key| records.get(key))
            .map(|r| delay_after(r.failures).saturating_sub(now.saturating_duration_since(r.last)))
            .max()
            .unwrap_or(Duration::ZERO);
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }

    /// Counts a failed attempt against every key.
    pub fn fail(&self, keys: &[Key], now: Instant) {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        for key in keys {
            let record = records.entry(key.clone()).or_insert(Record {
                failures: 0,
                last: now,
            });
            record.failures = record.failures.saturating_add(1);
            record.last = now;
        }
    }

    /// A successful sign-in clears the member's record (not the address's: one
    /// right passphrase must not reset a script's count of wrong ones).
    pub fn succeed(&self, member: &Key) {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(member);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_a_few_free_failures_and_are_capped() {
        assert_eq!(delay_after(0), Duration::ZERO);
        assert_eq!(delay_after(2), Duration::ZERO);
        assert_eq!(delay_after(3), Duration::from_secs(1));
        assert_eq!(delay_after(4), Duration::from_secs(2));
        assert_eq!(delay_after(8), Duration::from_secs(32));
        assert_eq!(delay_after(100), MAX_DELAY);
    }

    #[test]
    fn a_member_and_an_address_are_slowed_down_separately() {
        let throttle = Throttle::default();
        let t0 = Instant::now();
        let ana = Key::Member("ana".into());
        let here = Key::Client("192.0.2.7".parse().unwrap());
        let elsewhere = Key::Client("192.0.2.8".parse().unwrap());
        for _ in 0..FREE_FAILURES {
            assert_eq!(throttle.check(&[ana.clone(), here.clone()], t0), Ok(()));
            throttle.fail(&[ana.clone(), here.clone()], t0);
        }
        assert_eq!(
            throttle.check(std::slice::from_ref(&ana), t0),
            Err(Duration::from_secs(1))
        );
        throttle.fail(&[ana.clone(), here.clone()], t0);
        // Four failures: two seconds to wait, for ana from anywhere and for this address.
        assert_eq!(
            throttle.check(std::slice::from_ref(&ana), t0),
            Err(Duration::from_secs(2))
        );
        assert_eq!(
            throttle.check(&[Key::Member("tomas".into()), here.clone()], t0),
            Err(Duration::from_secs(2))
        );
        assert_eq!(
            throttle.check(&[Key::Member("tomas".into()), elsewhere], t0),
            Ok(())
        );
        let later = t0 + Duration::from_secs(2);
        assert_eq!(throttle.check(&[ana.clone(), here.clone()], later), Ok(()));
        throttle.succeed(&ana);
        throttle.fail(std::slice::from_ref(&here), later);
        assert_eq!(
            throttle.check(&[ana], later),
            Ok(()),
            "success cleared the member"
        );
        assert!(
            throttle.check(&[here], later).is_err(),
            "but not the address"
        );
    }
}
