//! The emulator's notion of "now": the real clock plus an offset tests can advance,
//! so expiry (tokens, sessions, `baseUrl`s) is tested without sleeping.

use std::sync::Mutex;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// Real time shifted by an adjustable offset.
#[derive(Debug, Default)]
pub struct Clock {
    offset: Mutex<SignedDuration>,
}

impl Clock {
    /// The current emulated time.
    pub fn now(&self) -> Timestamp {
        let offset = *self.offset.lock().unwrap_or_else(|e| e.into_inner());
        Timestamp::now()
            .checked_add(offset)
            .unwrap_or_else(|_| Timestamp::now())
    }

    /// Moves the emulated time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut offset = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        let by = SignedDuration::try_from(by).unwrap_or(SignedDuration::MAX);
        *offset = offset.saturating_add(by);
    }
}

/// `t + d`, saturating at the end of time instead of failing.
pub fn add(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

/// How long from `now` until `later` (zero if `later` has passed).
pub fn until(now: Timestamp, later: Timestamp) -> Duration {
    let d = later.duration_since(now);
    Duration::try_from(d).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_now_forward() {
        let clock = Clock::default();
        let before = clock.now();
        clock.advance(Duration::from_secs(3600));
        let after = clock.now();
        assert!(until(before, after) >= Duration::from_secs(3600));
    }

    #[test]
    fn until_is_zero_for_the_past() {
        let now = Timestamp::now();
        assert_eq!(until(now, add(now, Duration::ZERO)), Duration::ZERO);
        assert_eq!(until(add(now, Duration::from_secs(5)), now), Duration::ZERO);
    }
}
