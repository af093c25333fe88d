//! The "Pick more" benchmark (issues 10 and 20): ignored in the test suite, run
//! by `scripts/bench-scale` against a release helper. The CI-sized version is
//! `scale::thumbnails_load_near_the_viewport_and_stay_bounded` (400 items, New
//! batch included) and the batch's own unit tests (5,000 rows over three
//! sessions).
//!
//! One batch grows past Google's 2,000-item cap per session the way a user
//! grows it: three picking sessions (1,000 + 2,000 + 2,000 by default) into the
//! same batch. Reports per session the time from Done to the last item saved and
//! what the tab holds (tiles in the page, thumbnails shown, the WASM heap in use,
//! the WASM memory's size, which never shrinks, and the JS heap after a forced
//! collection); how smoothly the grid scrolls (frame times while it is scrolled
//! top to bottom, a screen per frame); and what the tab holds after New batch.
//! Checks one file per item (by count: in a library this large some sample
//! photos share a name, and the second is rightly saved as `IMG_1234 (2).JPG`).

use std::time::Instant;

use keepsake_tests::{Browser, HelperProcess, Screenshots, dist_dir, eventually};
use serde_json::json;

use crate::browser::sign_in;
use crate::faults::wait_until_run_ends;
use crate::scale::pick_in_page;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What the tab holds at one moment.
#[derive(Debug, Clone, Copy, Default)]
struct TabState {
    /// `performance.memory.usedJSHeapSize` after a forced collection (Chromium
    /// runs with `--js-flags=--expose-gc` and precise memory info).
    js_heap: u64,
    /// The WASM memory's size: its high-water mark, since it never shrinks.
    wasm_memory: u64,
    /// What the WASM heap holds now (`keepsakeHeapInUse()`, the app's counting
    /// allocator).
    wasm_heap: u64,
    /// Tiles in the page.
    tiles: u64,
    /// Thumbnails shown in them.
    thumbs: u64,
}

impl TabState {
    fn line(&self) -> String {
        format!(
            "{} tiles in the page, {} thumbnails shown; WASM heap in use {:.1} MB, WASM memory \
             {:.1} MB (its peak), JS heap {:.1} MB",
            self.tiles,
            self.thumbs,
            self.wasm_heap as f64 / 1e6,
            self.wasm_memory as f64 / 1e6,
            self.js_heap as f64 / 1e6,
        )
    }
}

async fn tab_state(client: &fantoccini::Client) -> TabState {
    let v = client
        .execute(
            "if (window.gc) { gc(); }
             return [performance.memory ? performance.memory.usedJSHeapSize : 0,
                     window.keepsakeWasmMemory ? keepsakeWasmMemory.buffer.byteLength : 0,
                     window.keepsakeHeapInUse ? keepsakeHeapInUse() : 0,
                     document.querySelectorAll('[data-testid=item]').length,
                     document.querySelectorAll('[data-testid=item] .thumb img').length];",
            vec![],
        )
        .await
        .unwrap();
    let n = |i: usize| v[i].as_f64().unwrap_or(0.0) as u64;
    TabState {
        js_heap: n(0),
        wasm_memory: n(1),
        wasm_heap: n(2),
        tiles: n(3),
        thumbs: n(4),
    }
}

/// Scrolls the page down from the top, a screen per animation frame, until the
/// bottom or for at most 20 s; returns the frame intervals in ms (sorted) and the
/// share of the page covered.
async fn scroll_frames(client: &fantoccini::Client) -> (Vec<f64>, f64) {
    client
        .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
            Some(std::time::Duration::from_secs(60)),
            None,
            None,
        ))
        .await
        .unwrap();
    let v = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             window.scrollTo(0, 0);
             const frames = [];
             const start = performance.now();
             let last = start;
             const step = window.innerHeight;
             const height = document.documentElement.scrollHeight - window.innerHeight;
             function tick(now) {
                 frames.push(now - last);
                 last = now;
                 const before = window.scrollY;
                 window.scrollBy(0, step);
                 if (window.scrollY === before || now - start > 20000) {
                     done([frames.slice(1), window.scrollY / Math.max(1, height)]);
                 } else {
                     requestAnimationFrame(tick);
                 }
             }
             requestAnimationFrame(tick);",
            vec![],
        )
        .await
        .unwrap();
    let (mut frames, covered): (Vec<f64>, f64) = serde_json::from_value(v).unwrap();
    frames.sort_by(f64::total_cmp);
    (frames, covered)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: scripts/bench-scale runs it against a release helper"]
async fn bench_pick_more_grows_one_batch_past_the_session_cap() {
    let sessions: Vec<usize> = std::env::var("KEEPSAKE_BENCH_SESSIONS")
        .unwrap_or_else(|_| "1000,2000,2000".to_owned())
        .split(',')
        .map(|n| n.trim().parse().expect("session sizes: numbers, commas"))
        .collect();
    let total: usize = sessions.iter().sum();
    let parallel: usize = env_or("KEEPSAKE_BENCH_PARALLEL", 4);
    let dist = dist_dir().expect("a built app: ./scripts/build-app");
    let extra = (total + 10).to_string();
    let helper = HelperProcess::start_demo(
        Some(&dist),
        &[
            "--demo-large-files",
            "0",
            "--demo-no-processing-video",
            "--demo-extra-photos",
            &extra,
        ],
    )
    .unwrap();
    let browser = Browser::start().await.expect("chromium and chromedriver");
    let client = &browser.client;
    let mut shots = Screenshots::new("bench-scale");
    client.goto(&helper.base_url).await.unwrap();
    sign_in(client, &mut shots).await;
    client
        .execute(
            "const s = document.querySelector('[data-testid=parallel]');
             s.value = String(arguments[0]);
             s.dispatchEvent(new Event('change'));
             return null;",
            vec![json!(parallel)],
        )
        .await
        .unwrap();
    let empty = tab_state(client).await;
    eprintln!("bench-scale: signed in, no batch: {}", empty.line());

    let mut from = 0;
    let mut most = TabState::default();
    let whole = Instant::now();
    for (n, &size) in sessions.iter().enumerate() {
        // Photos only, the next `size` of the picker's grid.
        let picked = pick_in_page(
            client,
            &mut shots,
            "const tiles = [...document.querySelectorAll('[data-testid=picker-item]')]
                 .filter(t => !t.querySelector('.vid')).slice(arguments[0], arguments[1]);",
            vec![json!(from), json!(from + size)],
        )
        .await;
        assert_eq!(picked.len(), size, "the picker offers {size} more photos");
        from += size;
        let started = Instant::now();
        let stages = wait_until_run_ends(client, from).await;
        let took = started.elapsed().as_secs_f64();
        let now = tab_state(client).await;
        most.tiles = most.tiles.max(now.tiles);
        most.js_heap = most.js_heap.max(now.js_heap);
        assert_eq!(
            stages.get("saved").copied().unwrap_or(0),
            from,
            "session {}: {stages:?}",
            n + 1
        );
        eprintln!(
            "bench-scale: session {} ({size} items, batch now {from}): {took:.1} s, \
             {:.1} items/s; {}",
            n + 1,
            size as f64 / took,
            now.line(),
        );
    }
    shots.take(client, "batch-complete").await;
    let (frames, covered) = scroll_frames(client).await;
    let scrolled = tab_state(client).await;
    most.tiles = most.tiles.max(scrolled.tiles);
    shots.take(client, "scrolled-to-bottom").await;
    // One file per item. (Not `assert_one_file_each`: 5,000 sample photos named
    // IMG_1000…IMG_9999 share some names, saved rightly as `IMG_1234 (2).JPG`.)
    let files = helper.saved_files();
    assert_eq!(files.len(), total, "one file per item");

    // New batch: the page lets go of the rows, their signals and thumbnails.
    client
        .execute(
            "window.scrollTo(0, 0);
             document.querySelector('[data-testid=new-batch]').click();
             return null;",
            vec![],
        )
        .await
        .unwrap();
    eventually("the batch is cleared from the page", || async {
        client
            .find_all(fantoccini::Locator::Css("[data-testid=grid]"))
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    let cleared = tab_state(client).await;
    shots.take(client, "new-batch").await;

    let slow = frames.iter().filter(|&&f| f > 50.0).count();
    eprintln!(
        "bench-scale: {total} items in {} sessions, {:.1} s in all; one file each\n\
         \x20 grid of {total} items scrolled a screen per frame, {:.0} % of it in {} frames: \
         p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms, {slow} over 50 ms; at most {} tiles in \
         the page\n\
         \x20 after scrolling: {}\n\
         \x20 after New batch: {}",
        sessions.len(),
        whole.elapsed().as_secs_f64(),
        covered * 100.0,
        frames.len(),
        percentile(&frames, 0.5),
        percentile(&frames, 0.95),
        frames.last().copied().unwrap_or(0.0),
        most.tiles,
        scrolled.line(),
        cleared.line(),
    );
    client.clone().close().await.unwrap();
}
