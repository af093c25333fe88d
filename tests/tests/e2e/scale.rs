//! The app at a family's scale (issue 10), in headless Chromium against a demo
//! helper:
//!
//! - a long batch keeps only the rows near the viewport in the page and loads
//!   only their thumbnails, a bounded number however far the user scrolls;
//! - the helper killed (`kill -9`) and restarted mid-run: the app rides through
//!   the outage and every item ends saved exactly once.
//!
//! Screenshots land in `target/e2e-screenshots/scale-*/`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use keepsake_tests::{
    BROWSER_STEP, Browser, HelperProcess, Screenshots, built_app, eventually, new_window,
};
use serde_json::json;

use crate::browser::{css, sign_in, tiles_in};
use crate::faults::{batch_counts, wait_until_run_ends, wait_until_settled};

/// Thumbnails the app keeps at most (`frontend::thumbs::MAX_LOADED`).
const MAX_LOADED: usize = 240;

/// Opens the picker from the app, ticks its first `count` photos (in the page,
/// which is much faster than a click per tile), presses Done and comes back.
pub(crate) async fn pick_first(
    client: &Client,
    shots: &mut Screenshots,
    count: usize,
) -> BTreeSet<String> {
    pick_first_of(client, shots, count, false).await
}

/// [`pick_first`], videos included when `videos`.
pub(crate) async fn pick_first_of(
    client: &Client,
    shots: &mut Screenshots,
    count: usize,
    videos: bool,
) -> BTreeSet<String> {
    let picked = pick_in_page(
        client,
        shots,
        "const tiles = [...document.querySelectorAll('[data-testid=picker-item]')]
             .filter(t => arguments[1] || !t.querySelector('.vid')).slice(0, arguments[0]);",
        vec![json!(count), json!(videos)],
    )
    .await;
    assert_eq!(picked.len(), count, "the picker offers {count} items");
    picked
}

/// Opens the picker from the app ("Pick more" once the batch has items), ticks
/// exactly the items `ids`, presses Done and comes back.
pub(crate) async fn pick_ids(
    client: &Client,
    shots: &mut Screenshots,
    ids: &BTreeSet<String>,
) -> BTreeSet<String> {
    let picked = pick_in_page(
        client,
        shots,
        "const wanted = new Set(arguments[0]);
         const tiles = [...document.querySelectorAll('[data-testid=picker-item]')]
             .filter(t => wanted.has(t.dataset.itemId));",
        vec![json!(ids)],
    )
    .await;
    assert_eq!(&picked, ids, "the picker offers every item asked for");
    picked
}

/// Opens the picker, runs `select` (a script that sets `tiles` to the picker
/// tiles to tick, given `args`), ticks them, presses Done and comes back to the
/// app's window; returns the ticked ids.
pub(crate) async fn pick_in_page(
    client: &Client,
    shots: &mut Screenshots,
    select: &str,
    args: Vec<serde_json::Value>,
) -> BTreeSet<String> {
    css(client, "[data-testid=pick-photos]")
        .await
        .click()
        .await
        .unwrap();
    let open_picker = css(client, "[data-testid=open-picker]").await;
    let app_window = client.window().await.unwrap();
    open_picker.click().await.unwrap();
    let picker_window = new_window(client, &app_window).await;
    client.switch_to_window(picker_window).await.unwrap();
    css(client, "[data-testid=picker-item]").await;
    let script = format!(
        "{select}
         tiles.forEach(t => t.querySelector('input').click());
         return tiles.map(t => t.dataset.itemId);"
    );
    let ticked = client.execute(&script, args).await.unwrap();
    let picked: BTreeSet<String> = serde_json::from_value(ticked).unwrap();
    shots.take(client, "picker-ticked").await;
    css(client, "[data-testid=picker-done]:not([disabled])")
        .await
        .click()
        .await
        .unwrap();
    eventually("the picker tab to close itself", || async {
        client.windows().await.is_ok_and(|w| w.len() == 1)
    })
    .await;
    client.switch_to_window(app_window).await.unwrap();
    picked
}

/// `(tiles, tiles showing a thumbnail, tiles in the viewport, of those showing one)`.
async fn thumbnail_counts(client: &Client) -> (usize, usize, usize, usize) {
    let counts = client
        .execute(
            "const tiles = [...document.querySelectorAll('[data-testid=item]')];
             const shown = t => t.querySelector('.thumb img') !== null;
             const inView = tiles.filter(t => {
                 const r = t.getBoundingClientRect();
                 return r.bottom > 0 && r.top < window.innerHeight;
             });
             return [tiles.length, tiles.filter(shown).length,
                     inView.length, inView.filter(shown).length];",
            vec![],
        )
        .await
        .unwrap();
    let counts: Vec<usize> = serde_json::from_value(counts).unwrap();
    (counts[0], counts[1], counts[2], counts[3])
}

/// Waits until every tile in the viewport shows its thumbnail; returns the counts.
async fn wait_for_view(client: &Client) -> (usize, usize, usize, usize) {
    let deadline = Instant::now() + BROWSER_STEP;
    loop {
        let counts = thumbnail_counts(client).await;
        let (_, _, in_view, shown_in_view) = counts;
        if in_view > 0 && shown_in_view == in_view {
            return counts;
        }
        assert!(
            Instant::now() < deadline,
            "the tiles in view did not all show a thumbnail: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The ids of the tiles in the page, in order.
async fn tile_ids(client: &Client) -> Vec<String> {
    let ids = client
        .execute(
            "return [...document.querySelectorAll('[data-testid=item]')]
                 .map(t => t.dataset.itemId);",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(ids).unwrap()
}

/// Tiles the page may hold at most with the test browser's 900 px viewport: the
/// rows crossing it and 800 px of them above and below (`frontend::layout`),
/// five tiles a row at most in its 1280 px window.
const MOST_TILES: usize = 80;

/// 400 photos: the grid holds only the rows near the viewport, and the first
/// screen loads only their thumbnails; scrolling through the whole grid brings
/// every tile into the page in turn, each showing its thumbnail as it comes into
/// view, while the page never holds more than [`MOST_TILES`] tiles nor more
/// than [`MAX_LOADED`] thumbnails; back at the top, the first tiles are back.
#[tokio::test(flavor = "multi_thread")]
async fn thumbnails_load_near_the_viewport_and_stay_bounded() {
    const PICKS: usize = 400;
    let Some(dist) = built_app() else { return };
    let Some(browser) = Browser::start().await else {
        return;
    };
    let client = &browser.client;
    let helper = HelperProcess::start_demo(
        Some(&dist),
        &["--demo-large-files", "0", "--demo-extra-photos", "420"],
    )
    .unwrap();
    let mut shots = Screenshots::new("scale-thumbnails");
    client.goto(&helper.base_url).await.unwrap();
    sign_in(client, &mut shots).await;
    let picked = pick_first(client, &mut shots, PICKS).await;

    // The first screen, and no further than its look-ahead.
    css(client, "[data-testid=grid]").await;
    let (tiles, shown, in_view, _) = wait_for_view(client).await;
    assert!(
        tiles <= MOST_TILES && in_view < tiles,
        "{tiles} tiles in the page, {in_view} in view"
    );
    assert!(
        shown <= tiles,
        "{shown} thumbnails shown with {tiles} tiles in the page"
    );
    let first = tile_ids(client).await;
    shots.take(client, "first-screen").await;

    // Down the whole grid, a screen at a time.
    let mut seen: BTreeSet<String> = first.iter().cloned().collect();
    let mut most_tiles = tiles;
    let mut most_shown = shown;
    loop {
        let at_bottom = client
            .execute(
                "window.scrollBy(0, window.innerHeight * 0.9);
                 return window.innerHeight + window.scrollY >= document.body.scrollHeight - 2;",
                vec![],
            )
            .await
            .unwrap()
            .as_bool()
            .unwrap_or(true);
        let (tiles, shown, _, _) = wait_for_view(client).await;
        most_tiles = most_tiles.max(tiles);
        most_shown = most_shown.max(shown);
        seen.extend(tile_ids(client).await);
        if at_bottom {
            break;
        }
    }
    shots.take(client, "bottom").await;
    assert_eq!(
        seen, picked,
        "every tile came into the page on the way down"
    );
    assert!(
        most_tiles <= MOST_TILES,
        "{most_tiles} tiles in the page at once"
    );
    assert!(
        most_shown <= MAX_LOADED.min(most_tiles),
        "{most_shown} thumbnails shown at once"
    );
    let bottom = tile_ids(client).await;
    assert!(
        !bottom.contains(&first[0]),
        "the first tile left the page far down the grid"
    );

    // Back to the top: the first tiles again, with their thumbnails.
    client
        .execute("window.scrollTo(0, 0); return null;", vec![])
        .await
        .unwrap();
    wait_for_view(client).await;
    assert_eq!(tile_ids(client).await[0], first[0]);

    // New batch: the page lets go of the rows and their thumbnails.
    let counts = wait_until_run_ends(client, PICKS).await;
    assert_eq!(counts.get("saved"), Some(&PICKS), "{counts:?}");
    let full = heap_in_use(client).await;
    shots.take(client, "done").await;
    css(client, "[data-testid=new-batch]")
        .await
        .click()
        .await
        .unwrap();
    eventually("the page holds no batch", || async {
        client
            .find_all(Locator::Css(
                "[data-testid=grid], [data-testid=item], [data-testid=results]",
            ))
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    let label = css(client, "[data-testid=pick-photos]")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        label.trim(),
        "Pick photos",
        "a new batch starts from nothing"
    );
    let cleared = heap_in_use(client).await;
    shots.take(client, "new-batch").await;
    assert!(
        cleared * 2 < full,
        "the heap went from {full} to {cleared} bytes when the batch was cleared"
    );
    assert_eq!(
        helper.saved_files().len(),
        PICKS,
        "what was saved stays in the library"
    );
    eprintln!(
        "thumbnails: {PICKS} items; at most {most_tiles} tiles and {most_shown} thumbnails \
         in the page at once; heap {:.1} MB done, {:.1} MB after New batch",
        full as f64 / 1e6,
        cleared as f64 / 1e6
    );
    client.clone().close().await.unwrap();
}

/// Bytes the app's WASM heap holds now (`keepsakeHeapInUse()`).
pub(crate) async fn heap_in_use(client: &Client) -> u64 {
    client
        .execute(
            "return window.keepsakeHeapInUse ? keepsakeHeapInUse() : 0;",
            vec![],
        )
        .await
        .unwrap()
        .as_f64()
        .unwrap_or(0.0) as u64
}

/// The helper is killed mid-run and started again on the same address and
/// library: the app's downloads and uploads fail while it is gone and are retried;
/// every item ends saved exactly once, one file each.
#[tokio::test(flavor = "multi_thread")]
async fn a_helper_killed_and_restarted_mid_run_finishes_the_run() {
    const PICKS: usize = 24;
    let Some(dist) = built_app() else { return };
    let Some(browser) = Browser::start().await else {
        return;
    };
    let client = &browser.client;
    let flags = [
        "--demo-large-files",
        "0",
        "--demo-no-processing-video",
        "--demo-extra-photos",
        "30",
        // Slow enough that the run is still going when the helper is killed.
        "--demo-fault-slow-bodies",
        "1",
        "--demo-fault-slow-speed",
        "32K",
    ];
    let helper = HelperProcess::start_demo(Some(&dist), &flags).unwrap();
    let mut shots = Screenshots::new("scale-helper-restart");
    client.goto(&helper.base_url).await.unwrap();
    sign_in(client, &mut shots).await;
    let picked = pick_first(client, &mut shots, PICKS).await;

    let saved = || async {
        batch_counts(client)
            .await
            .get("saved")
            .copied()
            .unwrap_or(0)
    };
    eventually("a few items saved", || async { saved().await >= 3 }).await;
    let saved_before = saved().await;
    assert!(
        saved_before < PICKS,
        "the run finished before the helper could be killed"
    );
    let helper = helper.restart(Some(&dist), &flags).unwrap();
    shots.take(client, "after-restart").await;

    let stages = wait_until_settled(client, PICKS).await;
    shots.take(client, "settled").await;
    assert_eq!(
        stages.get("saved").copied().unwrap_or(0) + stages.get("duplicate").copied().unwrap_or(0),
        PICKS,
        "every item saved: {stages:?}"
    );
    assert_eq!(stages.get("total"), Some(&picked.len()));
    helper.assert_one_file_each(PICKS);
    eprintln!("helper restart: {saved_before} of {PICKS} saved before the kill, all after");
    client.clone().close().await.unwrap();
}

/// The ids of the tiles in any of `stages`.
async fn tiles_in_any(client: &Client, stages: &[&str]) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for stage in stages {
        ids.extend(tiles_in(client, stage).await);
    }
    ids
}

/// Cancel mid-run: nothing new starts, the items under way finish, the picking
/// session is deleted at Google, and exactly what the app shows as saved is in
/// the library. Picking the same photos again saves the cancelled ones and leaves
/// the saved ones alone.
#[tokio::test(flavor = "multi_thread")]
async fn cancel_keeps_what_is_saved_deletes_the_session_and_picking_again_finishes() {
    const PICKS: usize = 12;
    let Some(dist) = built_app() else { return };
    let Some(browser) = Browser::start().await else {
        return;
    };
    let client = &browser.client;
    let helper = HelperProcess::start_demo(
        Some(&dist),
        &[
            "--demo-large-files",
            "0",
            "--demo-extra-photos",
            "20",
            "--demo-fault-slow-bodies",
            "1",
            "--demo-fault-slow-speed",
            "24K",
        ],
    )
    .unwrap();
    let mut shots = Screenshots::new("scale-cancel");
    client.goto(&helper.base_url).await.unwrap();
    sign_in(client, &mut shots).await;
    let picked = pick_first(client, &mut shots, PICKS).await;
    eventually("an item saved", || async {
        !tiles_in(client, "saved").await.is_empty()
    })
    .await;
    css(client, "[data-testid=cancel-run]")
        .await
        .click()
        .await
        .unwrap();
    let results = css(client, "[data-testid=results] h2").await;
    shots.take(client, "cancelled").await;
    let headline = results.text().await.unwrap();
    assert!(headline.contains("cancelled"), "{headline}");

    let saved = tiles_in(client, "saved").await;
    let cancelled = tiles_in(client, "cancelled").await;
    assert!(!cancelled.is_empty(), "everything finished before Cancel");
    assert_eq!(
        tiles_in_any(client, &["saved", "cancelled"]).await,
        picked,
        "every item saved or cancelled, none left under way or failed"
    );
    assert_eq!(
        helper.saved_files().len(),
        saved.len(),
        "the library holds exactly what the app shows as saved"
    );
    let notice = css(client, "[data-testid=notice]")
        .await
        .text()
        .await
        .unwrap();
    assert!(notice.contains("ancelled"), "{notice}");
    // The demo Google's state (kept in the library folder) has no session left.
    let google: serde_json::Value = serde_json::from_slice(
        &std::fs::read(helper.library.path().join(".keepsake.demo-google.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        google["state"]["sessions"],
        json!({}),
        "the picking session was deleted"
    );

    // The same photos again: the cancelled ones are saved, the saved ones kept.
    let again = pick_first(client, &mut shots, PICKS).await;
    assert_eq!(again, picked);
    eventually("every item saved", || async {
        tiles_in(client, "saved").await == picked
    })
    .await;
    shots.take(client, "picked-again").await;
    helper.assert_one_file_each(PICKS);
    client.clone().close().await.unwrap();
}
