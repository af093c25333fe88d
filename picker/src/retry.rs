//! The one retry policy of every client (the browser app, `helper pick`, the
//! helper's own downloads), as plain code: exponential backoff with full jitter,
//! `Retry-After` honoured, and a deadline per call instead of a fixed number of
//! attempts. Only transient failures are retried (a dropped connection, 408, 429,
//! 500, 502, 503, 504); a 400, 403 or 404 is an answer, not a hiccup.
//!
//! The decisions ([`Backoff`], [`parse_retry_after`], [`is_transient_status`]) use
//! no clock of their own; [`retrying`] drives a call through them with a
//! [`RetryEnv`] that supplies time, sleep and randomness (the browser's in the app,
//! tokio's in the helper, a fake one in tests).

use std::future::Future;
use std::time::Duration;

/// How long and how fast to retry one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first backoff ceiling; doubled after each failure.
    pub base: Duration,
    /// The largest backoff ceiling (a `Retry-After` may still ask for longer).
    pub cap: Duration,
    /// Give up when the next attempt would start later than this after the first.
    pub deadline: Duration,
}

impl RetryPolicy {
    /// Picker API JSON calls (`sessions.create`, a `mediaItems.list` page,
    /// `sessions.delete`): Google asks clients to back off for up to a minute or so
    /// under quota pressure, so two minutes leaves room for a few rounds.
    pub const PICKER: RetryPolicy = RetryPolicy {
        base: Duration::from_millis(500),
        cap: Duration::from_secs(30),
        deadline: Duration::from_secs(120),
    };

    /// Media downloads: each attempt that brings bytes resets the clock (see
    /// [`Backoff::reset`]), so this bounds a download that makes no progress at all.
    pub const MEDIA: RetryPolicy = RetryPolicy {
        base: Duration::from_millis(500),
        cap: Duration::from_secs(30),
        deadline: Duration::from_secs(300),
    };

    /// Calls to the helper (fetch, ranges, keep, the batch's saved items): it is on
    /// the same machine or network, and answers 503 with `Retry-After` when busy.
    pub const HELPER: RetryPolicy = RetryPolicy {
        base: Duration::from_millis(250),
        cap: Duration::from_secs(10),
        deadline: Duration::from_secs(120),
    };

    /// This policy with another deadline (polling retries until the session's own
    /// timeout, not a fixed time).
    pub const fn with_deadline(self, deadline: Duration) -> RetryPolicy {
        RetryPolicy { deadline, ..self }
    }

    /// The full-jitter delay before retry number `attempt` (0 for the first
    /// retry): uniformly in `0..=min(cap, base × 2^attempt)`, with `random` in `0..1`.
    /// Full jitter spreads the retries of many clients (or of our own concurrent
    /// downloads) instead of having them hit the server in lockstep.
    pub fn jittered(&self, attempt: u32, random: f64) -> Duration {
        let ceiling = self
            .base
            .checked_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
            .unwrap_or(self.cap)
            .min(self.cap);
        // A random source outside 0..1 (or NaN) must not stretch the wait.
        let random = if random.is_finite() {
            random.clamp(0.0, 1.0)
        } else {
            0.0
        };
        ceiling.mul_f64(random)
    }
}

/// What a failed call says about retrying it.
pub trait Retryable {
    /// Worth trying again as is (network trouble, overload), rather than an answer.
    fn is_transient(&self) -> bool;
    /// How long the server asked us to wait, when it said.
    fn retry_after(&self) -> Option<Duration>;
}

/// HTTP statuses worth retrying: request timeout, rate limit, server trouble.
/// Every other 4xx is the server's considered answer and repeating the request
/// cannot change it.
pub fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// What to do after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Try again after this long.
    Wait(Duration),
    /// The failure is not transient: report it.
    Permanent,
    /// Transient, but the next attempt would start past the deadline.
    DeadlinePassed,
}

/// The retry state of one call: how many failures so far and when it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    policy: RetryPolicy,
    started: Duration,
    failures: u32,
}

impl Backoff {
    /// A call starting at `now` (any monotonic clock, as long as it is the same
    /// one passed to [`Backoff::next`]).
    pub fn new(policy: RetryPolicy, now: Duration) -> Self {
        Backoff {
            policy,
            started: now,
            failures: 0,
        }
    }

    /// Failures seen since the start (or the last reset).
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Progress was made (a download brought bytes): start counting afresh, so a
    /// long download over a flaky line is not cut off by the deadline as long as
    /// each attempt moves it forward.
    pub fn reset(&mut self, now: Duration) {
        self.started = now;
        self.failures = 0;
    }

    /// Decides about a failure at `now`: wait (the jittered backoff, or the
    /// server's `Retry-After` when that is longer), or give up.
    pub fn next(
        &mut self,
        transient: bool,
        retry_after: Option<Duration>,
        now: Duration,
        random: f64,
    ) -> Verdict {
        if !transient {
            return Verdict::Permanent;
        }
        let jitter = self.policy.jittered(self.failures, random);
        let wait = retry_after.map_or(jitter, |asked| asked.max(jitter));
        let elapsed = now.saturating_sub(self.started);
        if elapsed.saturating_add(wait) > self.policy.deadline {
            return Verdict::DeadlinePassed;
        }
        self.failures += 1;
        Verdict::Wait(wait)
    }

    /// [`Backoff::next`] for a [`Retryable`] error.
    pub fn after<E: Retryable>(&mut self, err: &E, now: Duration, random: f64) -> Verdict {
        self.next(err.is_transient(), err.retry_after(), now, random)
    }
}

/// Reads a `Retry-After` value: delay seconds (`120`) or an HTTP date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`, or the two obsolete forms HTTP still asks
/// recipients to accept), as a wait from `now_unix_ms`. A date in the past is a
/// zero wait; anything unreadable is `None` (and the backoff alone decides).
pub fn parse_retry_after(value: &str, now_unix_ms: f64) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurd values are capped rather than refused: the deadline decides anyway.
        let seconds: u64 = value.parse().unwrap_or(u64::MAX).min(86_400);
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    let when_ms = when.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as f64;
    let wait_ms = (when_ms - now_unix_ms).max(0.0);
    Some(Duration::from_millis(wait_ms.min(86_400_000.0) as u64))
}

/// Time, sleep and randomness for [`retrying`]: the browser's in the app, a fake
/// in tests.
pub trait RetryEnv {
    /// A monotonic "now".
    fn now(&self) -> Duration;
    /// A uniform random number in `0..1`.
    fn random(&self) -> f64;
    /// Waits `duration`.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()>;
}

/// Runs `call` until it succeeds, fails permanently, or the policy's deadline
/// would pass; the error of the last attempt is returned.
pub async fn retrying<T, E, F, Fut>(
    env: &impl RetryEnv,
    policy: RetryPolicy,
    mut call: F,
) -> Result<T, E>
where
    E: Retryable,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut backoff = Backoff::new(policy, env.now());
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(err) => match backoff.after(&err, env.now(), env.random()) {
                Verdict::Wait(wait) => env.sleep(wait).await,
                Verdict::Permanent | Verdict::DeadlinePassed => return Err(err),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};

    const S: fn(u64) -> Duration = Duration::from_secs;
    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            base: MS(500),
            cap: S(8),
            deadline: S(60),
        }
    }

    #[test]
    fn jitter_stays_between_zero_and_the_doubling_ceiling() {
        let p = policy();
        for (attempt, ceiling) in [
            (0, MS(500)),
            (1, S(1)),
            (2, S(2)),
            (3, S(4)),
            (4, S(8)),
            (5, S(8)),
            (40, S(8)),
        ] {
            assert_eq!(
                p.jittered(attempt, 0.0),
                Duration::ZERO,
                "attempt {attempt}"
            );
            assert_eq!(p.jittered(attempt, 1.0), ceiling, "attempt {attempt}");
            let mid = p.jittered(attempt, 0.5);
            assert_eq!(mid, ceiling / 2, "attempt {attempt}");
        }
    }

    #[test]
    fn a_broken_random_source_cannot_stretch_the_wait() {
        let p = policy();
        assert_eq!(p.jittered(2, 7.0), S(2));
        assert_eq!(p.jittered(2, -1.0), Duration::ZERO);
        assert_eq!(p.jittered(2, f64::NAN), Duration::ZERO);
    }

    #[test]
    fn only_transient_statuses_are_retried() {
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(is_transient_status(status), "{status}");
        }
        for status in [200, 400, 401, 403, 404, 409, 413, 416, 501, 507] {
            assert!(!is_transient_status(status), "{status}");
        }
    }

    #[test]
    fn a_permanent_failure_is_never_retried() {
        let mut b = Backoff::new(policy(), S(0));
        assert_eq!(b.next(false, Some(S(1)), S(0), 0.5), Verdict::Permanent);
        assert_eq!(b.failures(), 0);
    }

    #[test]
    fn retry_after_wins_over_a_shorter_backoff_but_not_a_longer_one() {
        let mut b = Backoff::new(policy(), S(0));
        assert_eq!(b.next(true, Some(S(2)), S(0), 1.0), Verdict::Wait(S(2)));
        // Third failure: ceiling 2 s, random 1.0 → 2 s; Retry-After 1 s is shorter.
        b.next(true, None, S(2), 0.0);
        assert_eq!(b.next(true, Some(S(1)), S(3), 1.0), Verdict::Wait(S(2)));
    }

    #[test]
    fn the_deadline_stops_retrying_whatever_the_count() {
        let mut b = Backoff::new(policy(), S(100));
        // Well inside: waits.
        assert!(matches!(b.next(true, None, S(100), 1.0), Verdict::Wait(_)));
        // A wait that would end past the deadline is refused.
        assert_eq!(
            b.next(true, Some(S(30)), S(131), 0.0),
            Verdict::DeadlinePassed
        );
        assert_eq!(b.next(true, None, S(161), 0.0), Verdict::DeadlinePassed);
        // After progress, the clock starts again.
        b.reset(S(161));
        assert_eq!(b.failures(), 0);
        assert_eq!(b.next(true, None, S(161), 1.0), Verdict::Wait(MS(500)));
    }

    #[test]
    fn retry_after_in_seconds() {
        assert_eq!(parse_retry_after("2", 0.0), Some(S(2)));
        assert_eq!(parse_retry_after(" 120 ", 0.0), Some(S(120)));
        assert_eq!(parse_retry_after("0", 0.0), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("99999999999999999999999", 0.0),
            Some(S(86_400))
        );
        assert_eq!(parse_retry_after("-5", 0.0), None);
        assert_eq!(parse_retry_after("1.5", 0.0), None);
        assert_eq!(parse_retry_after("", 0.0), None);
        assert_eq!(parse_retry_after("soon", 0.0), None);
    }

    #[test]
    fn retry_after_as_an_http_date() {
        // 2015-10-21T07:28:00Z.
        let at = 1_445_412_480_000.0;
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", at - 30_000.0),
            Some(S(30))
        );
        // The obsolete RFC 850 and asctime forms name the same instant.
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT", at - 5_000.0),
            Some(S(5))
        );
        assert_eq!(
            parse_retry_after("Wed Oct 21 07:28:00 2015", at - 1_000.0),
            Some(S(1))
        );
        // A date already past: go now.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", at + 10_000.0),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("Wed, 32 Oct 2015 07:28:00 GMT", at), None);
    }

    /// A clock that jumps forward on sleep, a fixed random number, and a log.
    struct FakeEnv {
        now: Cell<Duration>,
        random: f64,
        slept: RefCell<Vec<Duration>>,
    }

    impl RetryEnv for FakeEnv {
        fn now(&self) -> Duration {
            self.now.get()
        }
        fn random(&self) -> f64 {
            self.random
        }
        fn sleep(&self, duration: Duration) -> impl Future<Output = ()> {
            self.slept.borrow_mut().push(duration);
            self.now.set(self.now.get() + duration);
            std::future::ready(())
        }
    }

    fn env(random: f64) -> FakeEnv {
        FakeEnv {
            now: Cell::new(S(0)),
            random,
            slept: RefCell::new(Vec::new()),
        }
    }

    #[derive(Debug, PartialEq)]
    struct Failure {
        transient: bool,
        retry_after: Option<Duration>,
    }

    impl Retryable for Failure {
        fn is_transient(&self) -> bool {
            self.transient
        }
        fn retry_after(&self) -> Option<Duration> {
            self.retry_after
        }
    }

    const FLAKY: Failure = Failure {
        transient: true,
        retry_after: None,
    };

    #[test]
    fn retrying_goes_on_until_success() {
        let env = env(1.0);
        let calls = Cell::new(0);
        let result = futures::executor::block_on(retrying(&env, policy(), || {
            calls.set(calls.get() + 1);
            std::future::ready(if calls.get() < 5 {
                Err(FLAKY)
            } else {
                Ok("done")
            })
        }));
        assert_eq!(result, Ok("done"));
        assert_eq!(calls.get(), 5);
        assert_eq!(*env.slept.borrow(), [MS(500), S(1), S(2), S(4)]);
    }

    #[test]
    fn retrying_stops_at_the_deadline_and_returns_the_last_error() {
        let env = env(1.0);
        let calls = Cell::new(0u32);
        let result: Result<(), Failure> =
            futures::executor::block_on(retrying(&env, policy(), || {
                calls.set(calls.get() + 1);
                std::future::ready(Err(FLAKY))
            }));
        assert_eq!(result, Err(FLAKY));
        // 0.5 + 1 + 2 + 4 + 8 × 6 = 55.5 s of waiting fits in 60 s; 8 s more does not.
        assert_eq!(calls.get(), 11);
        assert!(env.now.get() <= policy().deadline);
    }

    #[test]
    fn retrying_returns_a_permanent_error_at_once() {
        let env = env(1.0);
        let calls = Cell::new(0u32);
        let not_found = || Failure {
            transient: false,
            retry_after: None,
        };
        let result: Result<(), Failure> =
            futures::executor::block_on(retrying(&env, policy(), || {
                calls.set(calls.get() + 1);
                std::future::ready(Err(not_found()))
            }));
        assert_eq!(result, Err(not_found()));
        assert_eq!(calls.get(), 1);
        assert!(env.slept.borrow().is_empty());
    }

    #[test]
    fn retrying_waits_as_long_as_the_server_asks() {
        let env = env(0.0);
        let calls = Cell::new(0u32);
        let result = futures::executor::block_on(retrying(&env, policy(), || {
            calls.set(calls.get() + 1);
            std::future::ready(if calls.get() == 1 {
                Err(Failure {
                    transient: true,
                    retry_after: Some(S(7)),
                })
            } else {
                Ok(())
            })
        }));
        assert_eq!(result, Ok(()));
        assert_eq!(*env.slept.borrow(), [S(7)]);
    }
}
