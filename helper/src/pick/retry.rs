//! The one retry policy of `helper pick`: exponential backoff with full jitter,
//! `Retry-After` honoured (seconds or an HTTP date), a deadline per logical call.
//!
//! Plain code with no I/O of its own: the caller says what an attempt did
//! ([`Attempt`]) and the policy says whether and how long to wait, so every rule
//! is unit-tested without a network or a clock.

use std::time::{Duration, SystemTime};

/// How a failed attempt may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (the first one included).
    pub max_attempts: u32,
    /// Backoff ceiling before the first retry; doubled for each later one.
    pub base: Duration,
    /// The largest backoff ceiling, however many attempts came before.
    pub cap: Duration,
    /// Time budget of one logical call, its retries and waits included: a wait
    /// that would end past it is not started.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    /// Eight attempts, 250 ms doubling up to 20 s, within 5 minutes: long enough to
    /// ride out a Google hiccup or a 429 burst, short enough that a dead network
    /// fails the item in minutes, not hours.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(20),
            deadline: Duration::from_secs(300),
        }
    }
}

/// What the last attempt asks of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// How many attempts were made so far (1 after the first).
    pub made: u32,
    /// Time since the first attempt started.
    pub elapsed: Duration,
    /// The server's `Retry-After`, already turned into a duration.
    pub retry_after: Option<Duration>,
}

/// The policy's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Wait this long, then try again.
    Wait(Duration),
    /// Give up: attempts or time ran out.
    GiveUp,
}

impl RetryPolicy {
    /// The backoff ceiling before retry number `retry` (0 for the first retry):
    /// `min(cap, base · 2^retry)`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// Decides after a failed attempt. `unit` is a uniform random number in
    /// `[0, 1)`: full jitter waits `unit · ceiling`, so clients that failed
    /// together do not retry together. A `Retry-After` is a floor: the server said
    /// when it will take calls again, and jitter is only added on top of it.
    pub fn decide(&self, attempt: Attempt, unit: f64) -> Decision {
        if attempt.made >= self.max_attempts {
            return Decision::GiveUp;
        }
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let jitter = self.ceiling(attempt.made.saturating_sub(1)).mul_f64(unit);
        let wait = match attempt.retry_after {
            Some(after) => after.saturating_add(jitter.min(self.base)),
            None => jitter,
        };
        if attempt.elapsed.saturating_add(wait) > self.deadline {
            return Decision::GiveUp;
        }
        Decision::Wait(wait)
    }
}

/// Whether an HTTP status is worth another attempt: 408, 429 and every 5xx.
pub fn is_retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..=599).contains(&status)
}

/// Reads a `Retry-After` value: delay seconds (`120`) or an HTTP date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`), relative to `now`. A date in the past means
/// "now"; anything else unreadable is ignored (`None`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // A huge number is still "a long time", not garbage.
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A uniform random number in `[0, 1)` from the operating system's generator (for
/// jitter; its quality matters little, its independence between clients does).
pub fn random_unit() -> f64 {
    use rand_core::RngCore as _;
    // 53 random bits: exactly the precision of an f64 mantissa.
    (rand_core::OsRng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            deadline: Duration::from_secs(10),
        }
    }

    fn after(made: u32) -> Attempt {
        Attempt {
            made,
            elapsed: Duration::ZERO,
            retry_after: None,
        }
    }

    #[test]
    fn ceiling_doubles_then_stops_at_the_cap() {
        let p = policy();
        let ceilings: Vec<u128> = (0..6).map(|r| p.ceiling(r).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.ceiling(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn full_jitter_spans_zero_to_the_ceiling() {
        let p = policy();
        assert_eq!(p.decide(after(3), 0.0), Decision::Wait(Duration::ZERO));
        assert_eq!(
            p.decide(after(3), 0.5),
            Decision::Wait(Duration::from_millis(200))
        );
        assert_eq!(
            p.decide(after(3), 0.999_999),
            Decision::Wait(Duration::from_nanos(399_999_600))
        );
    }

    #[test]
    fn gives_up_after_the_last_attempt() {
        let p = policy();
        assert!(matches!(p.decide(after(4), 0.5), Decision::Wait(_)));
        assert_eq!(p.decide(after(5), 0.5), Decision::GiveUp);
    }

    #[test]
    fn retry_after_is_a_floor_with_a_little_jitter_on_top() {
        let p = policy();
        let attempt = Attempt {
            retry_after: Some(Duration::from_secs(2)),
            ..after(1)
        };
        assert_eq!(
            p.decide(attempt, 0.0),
            Decision::Wait(Duration::from_secs(2))
        );
        assert_eq!(
            p.decide(attempt, 0.5),
            Decision::Wait(Duration::from_millis(2050))
        );
    }

    #[test]
    fn a_wait_past_the_deadline_is_not_started() {
        let p = policy();
        let attempt = Attempt {
            made: 1,
            elapsed: Duration::from_secs(9),
            retry_after: Some(Duration::from_secs(2)),
        };
        assert_eq!(p.decide(attempt, 0.0), Decision::GiveUp);
        let attempt = Attempt {
            retry_after: Some(Duration::from_millis(500)),
            ..attempt
        };
        assert_eq!(
            p.decide(attempt, 0.0),
            Decision::Wait(Duration::from_millis(500))
        );
    }

    #[test]
    fn odd_random_numbers_do_not_panic() {
        let p = policy();
        assert_eq!(p.decide(after(1), f64::NAN), Decision::Wait(Duration::ZERO));
        assert_eq!(
            p.decide(after(1), 7.0),
            Decision::Wait(Duration::from_millis(100))
        );
    }

    #[test]
    fn retryable_statuses() {
        for status in [408, 429, 500, 502, 503, 504, 599] {
            assert!(is_retryable_status(status), "{status}");
        }
        for status in [200, 206, 400, 401, 403, 404, 416] {
            assert!(!is_retryable_status(status), "{status}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        for junk in ["", "-5", "1.5", "soon", "Wed, 99 Oct 2015"] {
            assert_eq!(parse_retry_after(junk, now), None, "{junk:?}");
        }
    }

    #[test]
    fn random_units_stay_in_range() {
        for _ in 0..1000 {
            let u = random_unit();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
