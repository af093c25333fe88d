//! The brake on guessing. Every sign-in first reserves its attempt here, under one
//! lock, before its passphrase is checked: the reservation counts as a failure
//! until the check says otherwise, so a burst of concurrent guesses cannot all
//! pass a check that only later learns of their failures.
//!
//! An attempt is counted against three keys, each with its own schedule (after
//! `free` failures: 1 s, 2 s, 4 s… up to `longest`, counted from the last answer):
//!
//! | key | free failures | longest wait | why |
//! |---|---|---|---|
//! | this member from this address ([`PAIR`]) | 3 | 15 min | a guesser at one address |
//! | any names from this address ([`ADDRESS`]) | 10 | 15 min | one address spraying names |
//! | this member from anywhere ([`MEMBER`]) | 10 | 60 s | the backstop for many addresses |
//!
//! So an outsider's failures lock the outsider's address out for up to 15
//! minutes, but hold the member back (from their own address) by at most 60 s at
//! a time: the slower, capped, per-member back-off still limits a guesser with
//! many addresses to about one guess a minute per member.
//!
//! And while an attempt is being checked, no other attempt for the same member
//! or from the same address is checked ([`Refusal::InFlight`], retry in 1 s): a
//! burst gets one check, not one per request.
//!
//! Only failures leave a record (an attempt that was never checked, or succeeded,
//! leaves none), and a record is forgotten an hour after its last attempt: the cap
//! on Argon2 checks ([`super::verifier`]) bounds how fast records can appear, and
//! names are at most [`super::MAX_NAME_LEN`] bytes (longer ones are refused before
//! they get here).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How failures against a key turn into waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Failures that cost nothing.
    pub free: u32,
    /// The longest wait.
    pub longest: Duration,
}

/// This member from this address.
pub const PAIR: Policy = Policy {
    free: 3,
    longest: Duration::from_secs(15 * 60),
};
/// Any member names from this address.
pub const ADDRESS: Policy = Policy {
    free: 10,
    longest: Duration::from_secs(15 * 60),
};
/// This member from any address: the slower, capped backstop.
pub const MEMBER: Policy = Policy {
    free: 10,
    longest: Duration::from_secs(60),
};
/// `Retry-After` while another attempt is being checked (a check takes well under
/// a second).
pub const IN_FLIGHT_WAIT: Duration = Duration::from_secs(1);
/// A record idle this long is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);

impl Policy {
    /// How long to wait after `failures` failed attempts: nothing for the first
    /// `free`, then 1 s, 2 s, 4 s… up to `longest`.
    pub fn delay_after(self, failures: u32) -> Duration {
        if failures < self.free {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free).min(20);
        Duration::from_secs(1u64 << doublings).min(self.longest)
    }
}

/// What a failure is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// A member name, lowercased (also names that are not members: the answer
    /// must not differ).
    Member(String),
    /// A member name from one client address.
    Pair(String, IpAddr),
    /// A client address.
    Client(IpAddr),
}

impl Key {
    fn policy(&self) -> Policy {
        match self {
            Key::Member(_) => MEMBER,
            Key::Pair(..) => PAIR,
            Key::Client(_) => ADDRESS,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: Instant,
    in_flight: bool,
}

/// Why an attempt may not be checked now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many recent failures: wait this long.
    Wait(Duration),
    /// Another attempt for this member or from this address is being checked.
    InFlight,
}

impl Refusal {
    /// The `Retry-After` to answer with.
    pub fn retry_after(self) -> Duration {
        match self {
            Refusal::Wait(wait) => wait,
            Refusal::InFlight => IN_FLIGHT_WAIT,
        }
    }
}

/// Sign-in attempts by member, by client address and by both.
#[derive(Debug, Default)]
pub struct Throttle {
    records: Mutex<HashMap<Key, Record>>,
}

/// An attempt reserved by [`Throttle::begin`]: counted as a failure until
/// [`Reservation::succeeded`] or [`Reservation::not_checked`] says otherwise.
/// Dropped without a verdict (the request was cancelled mid-check), it stays a
/// failure.
#[derive(Debug)]
#[must_use = "an attempt is released by its verdict"]
pub struct Reservation<'a> {
    throttle: &'a Throttle,
    keys: Vec<Key>,
    settled: bool,
}

#[derive(Debug, Clone, Copy)]
enum Verdict {
    Failed,
    Succeeded,
    NotChecked,
}

impl Throttle {
    /// Reserves an attempt to sign in as `member` from `client` (no address: a
    /// test through `oneshot`), or says why not.
    pub fn begin(
        &self,
        member: &str,
        client: Option<IpAddr>,
        now: Instant,
    ) -> Result<Reservation<'_>, Refusal> {
        let member = member.to_lowercase();
        let mut keys = vec![Key::Member(member.clone())];
        if let Some(ip) = client {
            keys.push(Key::Pair(member, ip));
            keys.push(Key::Client(ip));
        }
        let mut records = self.lock();
        records.retain(|_, r| r.in_flight || now.saturating_duration_since(r.last) < FORGET_AFTER);
        if keys
            .iter()
            .any(|key| records.get(key).is_some_and(|r| r.in_flight))
        {
            return Err(Refusal::InFlight);
        }
        let wait = keys
            .iter()
            .filter_map(|key| {
                let record = records.get(key)?;
                Some(
                    key.policy()
                        .delay_after(record.failures)
                        .saturating_sub(now.saturating_duration_since(record.last)),
                )
            })
            .max()
            .unwrap_or(Duration::ZERO);
        if !wait.is_zero() {
            return Err(Refusal::Wait(wait));
        }
        for key in &keys {
            let record = records.entry(key.clone()).or_insert(Record {
                failures: 0,
                last: now,
                in_flight: false,
            });
            record.failures = record.failures.saturating_add(1);
            record.last = now;
            record.in_flight = true;
        }
        drop(records);
        Ok(Reservation {
            throttle: self,
            keys,
            settled: false,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Record>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Reservation<'_> {
    /// The passphrase was wrong (or the member unknown): the failure stays, and
    /// the wait runs from `now`, the answer.
    pub fn failed(mut self, now: Instant) {
        self.settle(Verdict::Failed, now);
    }

    /// The passphrase was right: the member's records are cleared, and the
    /// address's keeps its earlier failures (one right passphrase must not reset
    /// a script's count of wrong ones) but not this attempt.
    pub fn succeeded(mut self) {
        self.settle(Verdict::Succeeded, Instant::now());
    }

    /// The passphrase was never checked (the helper was too busy): as if the
    /// attempt had not been made.
    pub fn not_checked(mut self) {
        self.settle(Verdict::NotChecked, Instant::now());
    }

    fn settle(&mut self, verdict: Verdict, now: Instant) {
        if std::mem::replace(&mut self.settled, true) {
            return;
        }
        let mut records = self.throttle.lock();
        for key in &self.keys {
            let forget = matches!(
                (verdict, key),
                (Verdict::Succeeded, Key::Member(_) | Key::Pair(..))
            );
            if forget {
                records.remove(key);
                continue;
            }
            let Some(record) = records.get_mut(key) else {
                continue;
            };
            record.in_flight = false;
            match verdict {
                Verdict::Failed => record.last = record.last.max(now),
                Verdict::Succeeded | Verdict::NotChecked => {
                    record.failures = record.failures.saturating_sub(1);
                }
            }
            // Only failures are remembered: a flood the cap refused leaves nothing.
            if record.failures == 0 {
                records.remove(key);
            }
        }
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.settle(Verdict::Failed, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([192, 0, 2, last]))
    }

    /// `count` failed attempts, each answered at `now`.
    fn fail(throttle: &Throttle, member: &str, client: Option<IpAddr>, now: Instant, count: u32) {
        for i in 0..count {
            throttle
                .begin(member, client, now)
                .unwrap_or_else(|refusal| panic!("attempt {i}: {refusal:?}"))
                .failed(now);
        }
    }

    #[test]
    fn delays_grow_after_a_few_free_failures_and_are_capped() {
        assert_eq!(PAIR.delay_after(0), Duration::ZERO);
        assert_eq!(PAIR.delay_after(2), Duration::ZERO);
        assert_eq!(PAIR.delay_after(3), Duration::from_secs(1));
        assert_eq!(PAIR.delay_after(4), Duration::from_secs(2));
        assert_eq!(PAIR.delay_after(8), Duration::from_secs(32));
        assert_eq!(PAIR.delay_after(100), Duration::from_secs(15 * 60));
        assert_eq!(MEMBER.delay_after(9), Duration::ZERO);
        assert_eq!(MEMBER.delay_after(10), Duration::from_secs(1));
        assert_eq!(MEMBER.delay_after(100), Duration::from_secs(60));
    }

    #[test]
    fn an_attempt_being_checked_holds_off_its_member_and_its_address() {
        let throttle = Throttle::default();
        let t0 = Instant::now();
        let checking = throttle.begin("ana", ip(7), t0).unwrap();
        assert_eq!(
            throttle.begin("ana", ip(7), t0).unwrap_err(),
            Refusal::InFlight
        );
        assert_eq!(
            throttle.begin("ANA", ip(8), t0).unwrap_err(),
            Refusal::InFlight,
            "the same member from elsewhere"
        );
        assert_eq!(
            throttle.begin("tomas", ip(7), t0).unwrap_err(),
            Refusal::InFlight,
            "another name from the same address"
        );
        throttle.begin("tomas", ip(8), t0).unwrap().failed(t0);
        checking.failed(t0);
        throttle.begin("ana", ip(7), t0).unwrap().failed(t0);
    }

    #[test]
    fn a_burst_gets_one_check_even_before_any_verdict() {
        let throttle = Throttle::default();
        let t0 = Instant::now();
        let first = throttle.begin("ana", ip(7), t0).unwrap();
        let refused = (0..15)
            .filter(|_| throttle.begin("ana", ip(7), t0).is_err())
            .count();
        assert_eq!(refused, 15);
        drop(first);
        // A cancelled check still counts: after the free ones, the address waits.
        fail(&throttle, "ana", ip(7), t0, 2);
        assert_eq!(
            throttle.begin("ana", ip(7), t0).unwrap_err(),
            Refusal::Wait(Duration::from_secs(1))
        );
    }

    #[test]
    fn an_outsider_delays_a_member_by_a_minute_at_most() {
        let throttle = Throttle::default();
        let mut now = Instant::now();
        // A script at one address, as fast as it is let, for hours.
        let mut failures = 0;
        while failures < 40 {
            match throttle.begin("ana", ip(66), now) {
                Ok(attempt) => {
                    attempt.failed(now);
                    failures += 1;
                }
                Err(refusal) => now += refusal.retry_after(),
            }
        }
        let Err(Refusal::Wait(outsider)) = throttle.begin("ana", ip(66), now) else {
            panic!("the outsider's address is held back");
        };
        assert_eq!(outsider, Duration::from_secs(15 * 60));
        match throttle.begin("ana", ip(7), now) {
            Ok(attempt) => attempt.succeeded(),
            Err(refusal) => {
                assert!(
                    refusal.retry_after() <= Duration::from_secs(60),
                    "{refusal:?}"
                );
                now += refusal.retry_after();
                throttle.begin("ana", ip(7), now).unwrap().succeeded();
            }
        }
        assert!(
            throttle.begin("ana", ip(66), now).is_err(),
            "her success does not clear the outsider's address"
        );
    }

    #[test]
    fn many_addresses_get_about_one_guess_a_minute_per_member() {
        let throttle = Throttle::default();
        let t0 = Instant::now();
        for last in 0..MEMBER.free {
            fail(&throttle, "ana", ip(last as u8), t0, 1);
        }
        for last in 100..110 {
            throttle
                .begin("ana", ip(last), t0)
                .expect_err("the member's own back-off");
        }
        let later = t0 + Duration::from_secs(1);
        fail(&throttle, "ana", ip(200), later, 1);
        let Err(Refusal::Wait(wait)) = throttle.begin("ana", ip(201), later) else {
            panic!("the member's back-off grows");
        };
        assert_eq!(wait, Duration::from_secs(2));
    }

    #[test]
    fn success_clears_the_member_but_not_the_address_and_is_not_a_failure() {
        let throttle = Throttle::default();
        let t0 = Instant::now();
        fail(&throttle, "ana", ip(7), t0, 2);
        for name in ["n0", "n1", "n2", "n3", "n4", "n5", "n6"] {
            fail(&throttle, name, ip(7), t0, 1);
        }
        throttle.begin("ana", ip(7), t0).unwrap().succeeded();
        // The address has 9 failures; one more is still free, then it waits.
        fail(&throttle, "ana", ip(7), t0, 1);
        assert_eq!(
            throttle.begin("ana", ip(7), t0).unwrap_err(),
            Refusal::Wait(Duration::from_secs(1)),
            "the address's count survived her success"
        );
        throttle.begin("ana", ip(8), t0).unwrap().succeeded();
        fail(&throttle, "ana", ip(8), t0, PAIR.free);
        assert!(throttle.begin("ana", ip(8), t0).is_err());
    }

    #[test]
    fn an_attempt_that_was_never_checked_costs_nothing() {
        let throttle = Throttle::default();
        let t0 = Instant::now();
        for _ in 0..50 {
            throttle.begin("ana", ip(7), t0).unwrap().not_checked();
        }
        assert!(throttle.lock().is_empty(), "nothing is remembered");
        fail(&throttle, "ana", ip(7), t0, PAIR.free);
        assert!(throttle.begin("ana", ip(7), t0).is_err());
        assert!(
            throttle.begin("x", None, t0).is_ok(),
            "no address: the member only"
        );
    }
}
