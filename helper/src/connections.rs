//! Open connections: how many there may be, and when one that serves no request
//! is closed. The accept loop ([`crate::serve`]) asks [`Registry::admit`] for a
//! place for each accepted socket, and races the connection against
//! [`Activity::until_closing`]; the service marks each request with
//! [`Activity::request_started`] until its response body is done.
//!
//! - From accept to its first complete request (TLS handshake included, any HTTP
//!   version), a connection has [`Timeouts::first_request`]. Silence, an
//!   HTTP/2 preface and nothing more, a header block never finished: all closed.
//! - Between requests, [`Timeouts::idle`].
//! - While a request is in flight (its response body included) neither runs:
//!   uploads and downloads have timeouts of their own.
//! - At most `max` connections at once. At the cap, a new connection evicts the
//!   oldest one that has not sent a request yet (nothing is lost: it asked for
//!   nothing) and waits up to [`EVICTION_WAIT`] for its place; when every open
//!   connection has sent a request, the new one is closed at once, with a warning
//!   in the log (at most one every [`FULL_WARNING_EVERY`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// How long a new connection at the cap waits for the place of the one it evicted.
pub const EVICTION_WAIT: Duration = Duration::from_secs(1);
/// The "connection cap reached" warning is logged at most this often.
pub const FULL_WARNING_EVERY: Duration = Duration::from_secs(10);

/// When a connection that serves no request is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From accept to the first complete request.
    pub first_request: Duration,
    /// From the end of the last response to the next request.
    pub idle: Duration,
}

/// Why a connection is being closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// No complete request within [`Timeouts::first_request`].
    NoRequest,
    /// No request within [`Timeouts::idle`] since the last one ended.
    Idle,
    /// Its place went to a newer connection at the cap.
    Evicted,
}

/// The open connections.
#[derive(Debug)]
pub struct Registry {
    max: usize,
    places: Arc<Semaphore>,
    /// Connections that have not sent a request yet, oldest first.
    silent: Mutex<BTreeMap<u64, Arc<Activity>>>,
    next_id: AtomicU64,
    last_full_warning: Mutex<Option<Instant>>,
}

/// An open connection's place; dropping it frees the place.
#[derive(Debug)]
pub struct Place {
    activity: Arc<Activity>,
    registry: Arc<Registry>,
    _permit: OwnedSemaphorePermit,
}

/// What a connection is doing, for its timers.
#[derive(Debug)]
pub struct Activity {
    id: u64,
    accepted: Instant,
    registry: Weak<Registry>,
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Debug)]
struct State {
    in_flight: usize,
    served_any: bool,
    last_change: Instant,
    evicted: bool,
}

/// A request in flight; dropped when its response is done (or abandoned).
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Registry {
    /// Room for `max` connections.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Registry {
            max,
            places: Arc::new(Semaphore::new(max)),
            silent: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(0),
            last_full_warning: Mutex::new(None),
        })
    }

    /// The cap.
    pub fn max(&self) -> usize {
        self.max
    }

    /// A place for a connection just accepted, or `None`: close it at once.
    pub async fn admit(self: &Arc<Self>) -> Option<Place> {
        if let Ok(permit) = Arc::clone(&self.places).try_acquire_owned() {
            return Some(self.place(permit));
        }
        if self.evict_oldest_silent() {
            let wait = Arc::clone(&self.places).acquire_owned();
            if let Ok(Ok(permit)) = tokio::time::timeout(EVICTION_WAIT, wait).await {
                return Some(self.place(permit));
            }
        }
        self.warn_full();
        None
    }

    fn place(self: &Arc<Self>, permit: OwnedSemaphorePermit) -> Place {
        let now = Instant::now();
        let activity = Arc::new(Activity {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            accepted: now,
            registry: Arc::downgrade(self),
            state: Mutex::new(State {
                in_flight: 0,
                served_any: false,
                last_change: now,
                evicted: false,
            }),
            changed: Notify::new(),
        });
        self.lock_silent()
            .insert(activity.id, Arc::clone(&activity));
        Place {
            activity,
            registry: Arc::clone(self),
            _permit: permit,
        }
    }

    /// Tells the oldest connection that has sent nothing to close. Whether there
    /// was one.
    fn evict_oldest_silent(&self) -> bool {
        let Some((_, oldest)) = self.lock_silent().pop_first() else {
            return false;
        };
        oldest.lock_state().evicted = true;
        oldest.changed.notify_one();
        tracing::debug!(
            connection = oldest.id,
            "at the cap of {} connections: closing the oldest silent one",
            self.max
        );
        true
    }

    fn warn_full(&self) {
        let now = Instant::now();
        let mut last = self
            .last_full_warning
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|at| now.duration_since(at) >= FULL_WARNING_EVERY) {
            *last = Some(now);
            tracing::warn!(
                "{} connections open, every one serving requests: closing new connections \
                 at once (--max-connections)",
                self.max
            );
        }
    }

    fn lock_silent(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Activity>>> {
        self.silent.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Place {
    /// The connection's activity, for its service and its timers.
    pub fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.registry.lock_silent().remove(&self.activity.id);
    }
}

impl Activity {
    fn lock_state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A request arrived (its headers are complete): the connection's timers stop
    /// until the returned guard is dropped.
    pub fn request_started(self: &Arc<Self>) -> InFlight {
        let first = {
            let mut state = self.lock_state();
            state.in_flight += 1;
            !std::mem::replace(&mut state.served_any, true)
        };
        if first && let Some(registry) = self.registry.upgrade() {
            registry.lock_silent().remove(&self.id);
        }
        self.changed.notify_one();
        InFlight(Arc::clone(self))
    }

    /// Resolves when the connection should be closed, and says why.
    pub async fn until_closing(&self, timeouts: Timeouts) -> Closing {
        loop {
            // Made before reading the state: a change in between leaves a permit.
            let changed = self.changed.notified();
            let deadline = {
                let state = self.lock_state();
                if state.evicted {
                    return Closing::Evicted;
                }
                if state.in_flight > 0 {
                    None
                } else if !state.served_any {
                    Some((self.accepted + timeouts.first_request, Closing::NoRequest))
                } else {
                    Some((state.last_change + timeouts.idle, Closing::Idle))
                }
            };
            match deadline {
                None => changed.await,
                Some((at, why)) => tokio::select! {
                    () = changed => {}
                    () = tokio::time::sleep_until(at) => return why,
                },
            }
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        {
            let mut state = self.0.lock_state();
            state.in_flight = state.in_flight.saturating_sub(1);
            state.last_change = Instant::now();
        }
        self.0.changed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUTS: Timeouts = Timeouts {
        first_request: Duration::from_secs(20),
        idle: Duration::from_secs(120),
    };

    #[tokio::test(start_paused = true)]
    async fn a_silent_connection_closes_after_the_first_request_timeout() {
        let registry = Registry::new(4);
        let place = registry.admit().await.unwrap();
        let started = Instant::now();
        assert_eq!(
            place.activity().until_closing(TIMEOUTS).await,
            Closing::NoRequest
        );
        assert_eq!(started.elapsed(), TIMEOUTS.first_request);
    }

    #[tokio::test(start_paused = true)]
    async fn timers_stop_while_a_request_is_in_flight_and_idle_runs_after_it() {
        let registry = Registry::new(4);
        let place = registry.admit().await.unwrap();
        let activity = Arc::clone(place.activity());
        let request = activity.request_started();
        let closing = tokio::spawn({
            let activity = Arc::clone(&activity);
            async move { activity.until_closing(TIMEOUTS).await }
        });
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert!(!closing.is_finished(), "an hour-long download stays open");
        let ended = Instant::now();
        drop(request);
        assert_eq!(closing.await.unwrap(), Closing::Idle);
        assert_eq!(ended.elapsed(), TIMEOUTS.idle);
    }

    #[tokio::test(start_paused = true)]
    async fn at_the_cap_the_oldest_silent_connection_makes_room() {
        let registry = Registry::new(3);
        let busy = registry.admit().await.unwrap();
        let _request = busy.activity().request_started();
        let oldest_silent = registry.admit().await.unwrap();
        let newer_silent = registry.admit().await.unwrap();
        let evicted = tokio::spawn({
            let activity = Arc::clone(oldest_silent.activity());
            async move { activity.until_closing(TIMEOUTS).await }
        });
        let closed = tokio::spawn(async move {
            let why = evicted.await.unwrap();
            drop(oldest_silent);
            why
        });
        let newcomer = registry.admit().await.expect("room was made");
        assert_eq!(closed.await.unwrap(), Closing::Evicted);
        // Now: one busy, two silent (the newer one and the newcomer).
        let _second = newer_silent.activity().request_started();
        let _third = newcomer.activity().request_started();
        assert!(
            registry.admit().await.is_none(),
            "every connection serves requests: the new one is closed at once"
        );
    }
}
