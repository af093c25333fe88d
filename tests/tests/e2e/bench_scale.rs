//! The "Pick more" benchmark (issue 10, "Scale"): ignored in the test suite, run
//! by `scripts/bench-scale` against a release helper. The CI-sized version is
//! `scale::thumbnails_load_near_the_viewport_and_stay_bounded` (400 items) and
//! the batch's own unit tests (5,000 rows over three sessions).
//!
//! One batch grows past Google's 2,000-item cap per session the way a user
//! grows it: three picking sessions (2,000 + 2,000 + 1,000 by default) into the
//! same batch. Reports per session the time from Done to the last item saved,
//! the tab's peak JS heap and WASM memory, the thumbnails held, and how smoothly
//! the 5,000-tile grid scrolls (frame times while it is scrolled top to bottom);
//! checks one file per item (by count: in a library this large some sample
//! photos share a name, and the second is rightly saved as `IMG_1234 (2).JPG`).

use std::time::Instant;

use keepsake_tests::{Browser, HelperProcess, Screenshots, dist_dir};
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

/// `(JS heap bytes, WASM memory bytes, tiles, thumbnails shown)` of the tab now.
async fn tab_state(client: &fantoccini::Client) -> (u64, u64, u64, u64) {
    let v = client
        .execute(
            "return [performance.memory ? performance.memory.usedJSHeapSize : 0,
                     window.keepsakeWasmMemory ? keepsakeWasmMemory.buffer.byteLength : 0,
                     document.querySelectorAll('[data-testid=item]').length,
                     document.querySelectorAll('[data-testid=item] .thumb img').length];",
            vec![],
        )
        .await
        .unwrap();
    let n = |i: usize| v[i].as_u64().unwrap_or(0);
    (n(0), n(1), n(2), n(3))
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
        .unwrap_or_else(|_| "2000,2000,1000".to_owned())
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

    let mut from = 0;
    let mut peak_heap = 0;
    let mut peak_wasm = 0;
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
        let (heap, wasm, tiles, thumbs) = tab_state(client).await;
        peak_heap = peak_heap.max(heap);
        peak_wasm = peak_wasm.max(wasm);
        assert_eq!(
            stages.get("saved").copied().unwrap_or(0),
            from,
            "session {}: {stages:?}",
            n + 1
        );
        eprintln!(
            "bench-scale: session {} ({size} items, batch now {from}): {took:.1} s, \
             {:.1} items/s; tiles {tiles}, thumbnails shown {thumbs}, JS heap {:.1} MB, \
             WASM {:.1} MB",
            n + 1,
            size as f64 / took,
            heap as f64 / 1e6,
            wasm as f64 / 1e6,
        );
    }
    shots.take(client, "batch-complete").await;
    let (frames, covered) = scroll_frames(client).await;
    let (heap, wasm, tiles, thumbs) = tab_state(client).await;
    peak_heap = peak_heap.max(heap);
    peak_wasm = peak_wasm.max(wasm);
    shots.take(client, "scrolled-to-bottom").await;
    // One file per item. (Not `assert_one_file_each`: 5,000 sample photos named
    // IMG_1000…IMG_9999 share some names, saved rightly as `IMG_1234 (2).JPG`.)
    let files = helper.saved_files();
    assert_eq!(files.len(), total, "one file per item");
    let slow = frames.iter().filter(|&&f| f > 50.0).count();
    eprintln!(
        "bench-scale: {total} items in {} sessions, {:.1} s in all; one file each\n\
         \x20 grid of {tiles} tiles scrolled a screen per frame, {:.0} % of it in {} frames: \
         p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms, {slow} over 50 ms; thumbnails shown \
         after: {thumbs}\n\
         \x20 tab: peak JS heap {:.1} MB, WASM memory {:.1} MB",
        sessions.len(),
        whole.elapsed().as_secs_f64(),
        covered * 100.0,
        frames.len(),
        percentile(&frames, 0.5),
        percentile(&frames, 0.95),
        frames.last().copied().unwrap_or(0.0),
        peak_heap as f64 / 1e6,
        peak_wasm as f64 / 1e6,
    );
    client.clone().close().await.unwrap();
}
