//! Videos saved exactly once, never made of two versions, and never through the
//! tab, in headless Chromium against a demo helper:
//!
//! - a video the library already holds (saved in an earlier batch, then picked
//!   again) is answered "already saved" when the app asks the helper to fetch it:
//!   nothing is downloaded, no range is read, nothing is kept;
//! - the tab reloaded mid-download, the dates setting changed, the run resumed: the
//!   fetch joins the helper's download under way (one download, never restarted),
//!   and the saved file is patched the new way throughout.
//!
//! What the tab fetched, read and sent is read from the page's own Resource Timing
//! entries (every `fetch` the app made, with its URL and body size), so the
//! counts are what went over the wire.
//!
//! Screenshots land in `target/e2e-screenshots/saved-once-*/`.

use std::io::Read;
use std::time::{Duration, Instant};

use emulator::EmulatorConfig;
use emulator::library::Oddity;
use fantoccini::{Client, Locator};
use keepsake_tests::{Browser, HelperProcess, Screenshots, built_app, emulator_client, walk_files};
use serde_json::json;

use crate::browser::{css, pick, sign_in};

/// The emulator's large video, picked by its description.
const LARGE_VIDEO: &str = "[data-testid=picker-item][title*='large MP4']";

/// How long one save of the test's video may take, far above what it takes.
const SAVE_DEADLINE: Duration = Duration::from_secs(5 * 60);

/// What the page has asked of the helper so far, from its Resource Timing entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Traffic {
    /// Asks to fetch an item.
    fetches: u64,
    /// Range reads of a download.
    reads: u64,
    /// Their body bytes.
    read_bytes: u64,
    /// Keeps (a patch sent).
    keeps: u64,
}

async fn traffic(client: &Client) -> Traffic {
    let value = client
        .execute(
            "let fetches = 0, reads = 0, bytes = 0, keeps = 0;
             for (const e of performance.getEntriesByType('resource')) {
                 const url = e.name;
                 if (url.endsWith('/fetch')) fetches++;
                 else if (url.endsWith('/keep')) keeps++;
                 else if (url.includes('/api/downloads/') && e.encodedBodySize > 0) {
                     reads++;
                     bytes += e.encodedBodySize;
                 }
             }
             return [fetches, reads, bytes, keeps];",
            vec![],
        )
        .await
        .unwrap();
    let n: Vec<u64> = serde_json::from_value(value).unwrap();
    Traffic {
        fetches: n[0],
        reads: n[1],
        read_bytes: n[2],
        keeps: n[3],
    }
}

/// Opens the app in a fresh document (a new batch, unless a run is pending) with
/// room for every Resource Timing entry of the test.
async fn open_app(client: &Client, base_url: &str) {
    client.goto(base_url).await.unwrap();
    client
        .execute(
            "performance.setResourceTimingBufferSize(100000); return null;",
            vec![],
        )
        .await
        .unwrap();
}

/// The stage of the item's tile ("" while it has none).
async fn stage_of(client: &Client, item: &str) -> String {
    let tile = format!("[data-testid=item][data-item-id=\"{item}\"]");
    match client.find(Locator::Css(&tile)).await {
        Ok(found) => found.attr("data-stage").await.unwrap().unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits until the item's tile shows `stage`; fails on "failed".
async fn wait_for_stage(client: &Client, item: &str, stage: &str) {
    let started = Instant::now();
    loop {
        let now = stage_of(client, item).await;
        if now == stage {
            return;
        }
        assert_ne!(now, "failed", "the video failed to save");
        assert!(
            started.elapsed() < SAVE_DEADLINE,
            "not {stage} within {SAVE_DEADLINE:?} (now {now:?})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The saved videos in the library (mp4 files outside the helper's own folders).
fn saved_videos(helper: &HelperProcess) -> Vec<std::path::PathBuf> {
    let root = helper.library.path();
    walk_files(root)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "mp4"))
        .filter(|p| {
            !p.strip_prefix(root)
                .unwrap_or(p)
                .components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with(".keepsake"))
        })
        .collect()
}

/// The download files the helper holds (bytes and notes); none before its first
/// download made the folder.
fn download_files(helper: &HelperProcess) -> Vec<std::path::PathBuf> {
    let dir = helper.library.path().join(".keepsake-uploads");
    if dir.is_dir() {
        walk_files(&dir)
    } else {
        Vec::new()
    }
}

/// A 48 MiB video saved in one batch is picked again: in a second session of the
/// same batch (its tile stays saved, nothing is redone), then after a reload (a
/// new batch, as the next day's run). The second time the helper answers the
/// fetch at once: the tile says "duplicate", no range is read and nothing is
/// kept. The first time, the tab read a few hundred KB of the video, not the
/// video. One file.
#[tokio::test(flavor = "multi_thread")]
async fn a_video_saved_before_is_not_fetched_or_read_again() {
    const SIZE: u64 = 48 << 20;
    let Some(dist) = built_app() else { return };
    let Some(browser) = Browser::start().await else {
        return;
    };
    let client = &browser.client;
    let flags = [
        "--demo-large-files",
        "1",
        "--demo-large-file-size",
        "48M",
        "--demo-no-processing-video",
    ];
    let helper = HelperProcess::start_demo(Some(&dist), &flags).unwrap();
    let mut shots = Screenshots::new("saved-once-again");
    open_app(client, &helper.base_url).await;
    sign_in(client, &mut shots).await;
    let picked = pick(client, &mut shots, &[(LARGE_VIDEO, 1)])
        .await
        .remove(0);
    let video = picked.first().expect("the video was picked").clone();
    wait_for_stage(client, &video, "saved").await;
    let first = traffic(client).await;
    // The probe sees a whole save: else the zeros below would prove nothing.
    assert!(
        first.fetches >= 1 && first.reads >= 1 && first.keeps >= 1,
        "{first:?}"
    );
    // The video's bytes never came to the tab: its first read and moov.
    assert!(first.read_bytes <= 1 << 20, "{first:?}");
    shots.take(client, "saved").await;

    // Pick more, in the same batch: the item is already in it, saved.
    pick(client, &mut shots, &[(LARGE_VIDEO, 1)]).await;
    css(client, "[data-testid=pick-photos]").await;
    assert_eq!(stage_of(client, &video).await, "saved");
    assert_eq!(
        client
            .find_all(Locator::Css("[data-testid=item]"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(traffic(client).await, first, "nothing redone in the batch");

    // A new batch (the tab reloaded, as another day's run) picks it again.
    open_app(client, &helper.base_url).await;
    sign_in(client, &mut shots).await;
    pick(client, &mut shots, &[(LARGE_VIDEO, 1)]).await;
    wait_for_stage(client, &video, "duplicate").await;
    shots.take(client, "already-saved").await;
    let second = traffic(client).await;
    println!("first save: {first:?}; picked again: {second:?}");
    assert_eq!(second.fetches, 1, "{second:?}");
    assert_eq!(
        (second.reads, second.keeps),
        (0, 0),
        "nothing read or kept again: {second:?}"
    );
    assert!(SIZE > first.read_bytes * 40);
    assert_eq!(saved_videos(&helper).len(), 1, "saved once");
    assert!(
        download_files(&helper).is_empty(),
        "{:?}",
        download_files(&helper)
    );
    // The new batch holds it too: its zip has the file.
    let zip_link = css(client, "[data-testid=download-zip]").await;
    assert!(zip_link.attr("href").await.unwrap().is_some());
}

/// A 64 MiB video is being fetched by the helper with the default dates policy
/// (fill the zeroed movie dates); meanwhile the user sets "keep" (never touch
/// dates) in another tab of the app, then reloads the first one, which resumes its
/// run in the same batch with the new settings. The fetch joins the helper's
/// download under way (one download file, never started over), and the saved
/// file is the original byte for byte (what "keep" writes). The demo's media are
/// sent at 8 MB/s, so the download is still going when the tab reloads.
#[tokio::test(flavor = "multi_thread")]
async fn a_tab_reloaded_mid_download_with_new_settings_joins_the_download() {
    const SIZE: u64 = 64 << 20;
    let Some(dist) = built_app() else { return };
    let Some(browser) = Browser::start().await else {
        return;
    };
    let client = &browser.client;
    let flags = [
        "--demo-large-files",
        "1",
        "--demo-large-file-size",
        "64M",
        "--demo-no-processing-video",
        "--demo-fault-slow-bodies",
        "1",
        "--demo-fault-slow-speed",
        "8M",
    ];
    let helper = HelperProcess::start_demo(Some(&dist), &flags).unwrap();
    let mut shots = Screenshots::new("saved-once-settings");
    open_app(client, &helper.base_url).await;
    sign_in(client, &mut shots).await;
    let dates = css(client, "[data-testid=dates]").await;
    assert_eq!(dates.prop("value").await.unwrap().as_deref(), Some("fill"));
    let picked = pick(client, &mut shots, &[(LARGE_VIDEO, 1)])
        .await
        .remove(0);
    let video = picked.first().expect("the video was picked").clone();

    // Wait for bytes in the helper's download.
    let downloaded = |helper: &HelperProcess| -> Vec<u64> {
        download_files(helper)
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "download"))
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .collect()
    };
    let started = Instant::now();
    let held = loop {
        let held = downloaded(&helper);
        if held.iter().any(|&len| len >= 16 << 20) {
            break held[0];
        }
        assert_ne!(stage_of(client, &video).await, "saved", "saved too soon");
        assert!(started.elapsed() < SAVE_DEADLINE, "no bytes arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // Another tab of the app (idle, so its settings can change): dates "keep".
    let first_tab = client.window().await.unwrap();
    let other = client.new_window(true).await.unwrap();
    client.switch_to_window(other.handle).await.unwrap();
    open_app(client, &helper.base_url).await;
    sign_in(client, &mut shots).await;
    css(client, "[data-testid=dates]")
        .await
        .select_by_value("keep")
        .await
        .unwrap();
    shots.take(client, "other-tab-keep").await;
    client.close_window().await.unwrap();
    client.switch_to_window(first_tab).await.unwrap();

    // The first tab reloads mid-download, and resumes once signed in again; the
    // helper's one download goes on meanwhile, never started over.
    assert!(
        saved_videos(&helper).is_empty() && !download_files(&helper).is_empty(),
        "the download is still under way"
    );
    open_app(client, &helper.base_url).await;
    sign_in(client, &mut shots).await;
    let dates = css(client, "[data-testid=dates]").await;
    assert_eq!(dates.prop("value").await.unwrap().as_deref(), Some("keep"));
    let mut last = held;
    loop {
        let now = downloaded(&helper);
        assert!(now.len() <= 1, "one download of the item: {now:?}");
        if let Some(&len) = now.first() {
            assert!(
                len >= last,
                "the download never starts over: {len} after {last}"
            );
            last = len;
        }
        if stage_of(client, &video).await == "saved" {
            break;
        }
        assert_ne!(stage_of(client, &video).await, "failed");
        assert!(started.elapsed() < SAVE_DEADLINE, "not saved in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shots.take(client, "saved").await;
    let resumed = traffic(client).await;
    println!("{held} bytes held before the reload; after it: {resumed:?}");

    // The original, from an in-process emulator of the same seed.
    let emu = emulator_client::start(EmulatorConfig {
        large_file_count: 1,
        large_file_size: SIZE,
        processing_video: false,
        ..EmulatorConfig::default()
    })
    .await;
    let large = emu
        .emulator
        .library()
        .items()
        .iter()
        .find(|item| item.oddity == Oddity::LargeMp4)
        .expect("the library has the large video");
    assert_eq!(large.id, video);
    let token = emu.sign_in(emulator_client::MARIA).await;
    let (session, _) = emu.picked_session(&token, None).await;
    let listed = emu.list_all(&token, &session, None).await;
    let base_url = listed
        .iter()
        .find(|item| item["id"] == json!(video))
        .and_then(|item| item["mediaFile"]["baseUrl"].as_str())
        .expect("the large video is listed")
        .to_owned();
    let mut original = emu.get_media(&format!("{base_url}=dv"), &token).await;
    assert_eq!(original.status(), 200);

    let saved = saved_videos(&helper);
    assert_eq!(saved.len(), 1, "{saved:?}");
    let mut file = std::fs::File::open(&saved[0]).unwrap();
    let mut offset = 0u64;
    let mut buffer = Vec::new();
    while let Some(chunk) = original.chunk().await.unwrap() {
        buffer.resize(chunk.len(), 0);
        file.read_exact(&mut buffer).unwrap();
        if let Some(at) = buffer.iter().zip(chunk.iter()).position(|(a, b)| a != b) {
            panic!(
                "the saved file differs from the original at byte {}: parts patched \
                 with the old dates policy were kept",
                offset + at as u64
            );
        }
        offset += chunk.len() as u64;
    }
    assert_eq!(
        file.read(&mut [0u8; 1]).unwrap(),
        0,
        "no bytes past the end"
    );
    assert!(offset.abs_diff(SIZE) <= 64, "{offset}");
    assert!(
        resumed.read_bytes <= 1 << 20,
        "the tab read little of the video: {resumed:?}"
    );
    assert!(
        download_files(&helper).is_empty(),
        "{:?}",
        download_files(&helper)
    );
}
