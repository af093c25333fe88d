//! When to poll `sessions.get` next, from the session's `pollingConfig`.

use crate::PollingConfig;
use std::time::Duration;

/// What a poller should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollDecision {
    /// Poll again after this long.
    Wait(Duration),
    /// Stop: `timeoutIn` ran out (or was 0). The user did not finish in time.
    Stop,
}

/// The polling schedule one `pollingConfig` describes.
///
/// Each `sessions.get` answer carries a fresh `pollingConfig` whose `timeoutIn`
/// counts from that answer, so build a new schedule from every answer and measure
/// `elapsed` from when it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollSchedule {
    interval: Duration,
    timeout: Option<Duration>,
}

impl PollSchedule {
    /// Used when the config names no interval.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
    /// The shortest wait ever returned: a zero interval from a server must not turn
    /// into a busy loop.
    pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

    /// The schedule of `config`; `None` (no `pollingConfig`) polls at the default
    /// interval with no deadline.
    pub fn new(config: Option<&PollingConfig>) -> Self {
        let interval = config
            .and_then(|c| c.poll_interval)
            .map_or(Self::DEFAULT_INTERVAL, |d| d.get())
            .max(Self::MIN_INTERVAL);
        let timeout = config.and_then(|c| c.timeout_in).map(|d| d.get());
        PollSchedule { interval, timeout }
    }

    /// The recommended interval between polls.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// What to do `elapsed` after the config was received: wait (never past the
    /// deadline, so the last poll lands just before it) or stop.
    pub fn next(&self, elapsed: Duration) -> PollDecision {
        match self.timeout {
            None => PollDecision::Wait(self.interval),
            Some(timeout) if timeout.is_zero() || elapsed >= timeout => PollDecision::Stop,
            Some(timeout) => {
                PollDecision::Wait(self.interval.min(timeout - elapsed).max(Self::MIN_INTERVAL))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Duration as Wire;

    fn config(interval: &str, timeout: &str) -> PollingConfig {
        PollingConfig {
            poll_interval: Some(interval.parse::<Wire>().unwrap()),
            timeout_in: Some(timeout.parse::<Wire>().unwrap()),
        }
    }

    #[test]
    fn waits_the_fractional_interval() {
        let s = PollSchedule::new(Some(&config("3.5s", "1800s")));
        assert_eq!(
            s.next(Duration::ZERO),
            PollDecision::Wait(Duration::from_millis(3500))
        );
        assert_eq!(
            s.next(Duration::from_secs(100)),
            PollDecision::Wait(Duration::from_millis(3500))
        );
    }

    #[test]
    fn timeout_zero_means_stop() {
        let s = PollSchedule::new(Some(&config("5s", "0s")));
        assert_eq!(s.next(Duration::ZERO), PollDecision::Stop);
    }

    #[test]
    fn stops_at_the_deadline_and_never_waits_past_it() {
        let s = PollSchedule::new(Some(&config("5s", "12s")));
        assert_eq!(
            s.next(Duration::from_secs(10)),
            PollDecision::Wait(Duration::from_secs(2))
        );
        assert_eq!(s.next(Duration::from_secs(12)), PollDecision::Stop);
        assert_eq!(s.next(Duration::from_secs(60)), PollDecision::Stop);
    }

    #[test]
    fn missing_config_polls_at_default_forever() {
        let s = PollSchedule::new(None);
        assert_eq!(
            s.next(Duration::from_secs(1_000_000)),
            PollDecision::Wait(PollSchedule::DEFAULT_INTERVAL)
        );
        let partial = PollingConfig {
            poll_interval: None,
            timeout_in: Some(Wire::from_secs(60)),
        };
        assert_eq!(
            PollSchedule::new(Some(&partial)).interval(),
            PollSchedule::DEFAULT_INTERVAL
        );
    }

    #[test]
    fn zero_interval_is_floored() {
        let s = PollSchedule::new(Some(&config("0s", "10s")));
        assert_eq!(
            s.next(Duration::ZERO),
            PollDecision::Wait(PollSchedule::MIN_INTERVAL)
        );
    }
}
