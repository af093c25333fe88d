//! The one retry policy ([`picker::retry`]) on tokio's clock: what `helper pick`'s
//! Picker API calls and the helper's own downloads wait with.

use std::future::Future;
use std::time::{Duration, Instant};

use picker::retry::RetryEnv;

/// Time, sleep and randomness from tokio and the operating system.
#[derive(Debug, Clone, Copy)]
pub struct TokioEnv {
    start: Instant,
}

impl Default for TokioEnv {
    fn default() -> Self {
        TokioEnv {
            start: Instant::now(),
        }
    }
}

impl RetryEnv for TokioEnv {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn random(&self) -> f64 {
        random_unit()
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> {
        tokio::time::sleep(duration)
    }
}

/// A uniform random number in `[0, 1)` from the operating system's generator (for
/// jitter; its quality matters little, its independence between clients does).
pub fn random_unit() -> f64 {
    use rand_core::RngCore as _;
    // 53 random bits: exactly the precision of an f64 mantissa.
    (rand_core::OsRng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// The `Retry-After` of a response, as a wait from now.
pub fn retry_after_of(response: &reqwest::Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64);
    picker::retry::parse_retry_after(value, now_ms)
}
