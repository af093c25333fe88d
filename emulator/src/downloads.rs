//! How many media downloads (`=d`, `=dv` and the video host's bodies) the emulator
//! is sending, and the most at once: what a test reads at `GET /emulator/stats` to
//! check a client's "downloads at a time" (thumbnails are not counted).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;
use serde::Serialize;

use super::Emulator;

/// Bodies under way, and the peak.
#[derive(Debug, Default)]
pub(crate) struct Counter {
    now: AtomicUsize,
    peak: AtomicUsize,
}

/// One body being sent: counted until it is dropped (sent whole, or cut).
struct Sending(Arc<Counter>);

impl Sending {
    fn start(counter: &Arc<Counter>) -> Sending {
        let now = counter.now.fetch_add(1, Ordering::SeqCst) + 1;
        counter.peak.fetch_max(now, Ordering::SeqCst);
        Sending(counter.clone())
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What `GET /emulator/stats` answers.
#[derive(Debug, Serialize)]
pub(crate) struct Stats {
    /// Download bodies being sent now.
    downloads_now: usize,
    /// The most download bodies sent at once since the emulator started.
    downloads_peak: usize,
}

/// Counts a download's body while it is sent (a middleware on the media routes).
pub(super) async fn count(State(emu): State<Emulator>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let download =
        path.ends_with("=d") || path.ends_with("=dv") || path.starts_with(super::VIDEO_PATH_PREFIX);
    let response = next.run(req).await;
    if !download || !response.status().is_success() {
        return response;
    }
    let sending = Sending::start(&emu.inner.downloads);
    let (parts, body) = response.into_parts();
    let body = Body::from_stream(body.into_data_stream().map(move |chunk| {
        let _counted = &sending;
        chunk
    }));
    Response::from_parts(parts, body)
}

/// `GET /emulator/stats`.
pub(super) async fn stats(State(emu): State<Emulator>) -> Json<Stats> {
    let counter = &emu.inner.downloads;
    Json(Stats {
        downloads_now: counter.now.load(Ordering::SeqCst),
        downloads_peak: counter.peak.load(Ordering::SeqCst),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_is_the_most_at_once() {
        let counter = Arc::new(Counter::default());
        let a = Sending::start(&counter);
        let b = Sending::start(&counter);
        drop(a);
        let c = Sending::start(&counter);
        drop((b, c));
        assert_eq!(counter.now.load(Ordering::SeqCst), 0);
        assert_eq!(counter.peak.load(Ordering::SeqCst), 2);
    }
}
