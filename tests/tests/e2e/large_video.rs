//! A 1 GiB video saved from the browser with bounded memory, its bytes never in
//! the tab: the built app against `helper serve --demo --demo-large-files 1
//! --demo-large-file-size 1G` in headless Chromium. The helper fetches the video
//! itself — `=dv` redirects to the emulator's video host, which needs no bearer
//! and ignores `Range`, as Google's has been reported to — the app reads the few
//! ranges metafix's plan needs and sends the patch. Checked: the saved file is the
//! emulator's original byte for byte except the patched movie dates (compared
//! against an in-process emulator of the same seed, streamed), its dates are
//! Google's createTime, and the tab's JS heap (`performance.memory.usedJSHeapSize`)
//! and WASM memory, sampled while it runs, stay small; the helper's peak RSS is
//! printed.
//!
//! Slow-ish by nature (a gigabyte through a debug helper: downloaded, then copied
//! with the patch): run it alone with `cargo test -p keepsake-tests --test e2e
//! large_video`.

use std::io::Read;
use std::time::{Duration, Instant};

use emulator::EmulatorConfig;
use emulator::library::Oddity;
use fantoccini::Locator;
use keepsake_tests::{
    Browser, HelperProcess, Screenshots, dist_dir, emulator_client, skip_or_fail, walk_files, which,
};
use metafix::Piece;

use crate::browser::{pick, sign_in};

/// The most the tab may hold while saving a gigabyte or more: the video's bytes
/// never come to it.
const MEMORY_CEILING: f64 = 64.0 * 1024.0 * 1024.0;

/// How long the save may take, far above the ~20 s it takes on a laptop.
const SAVE_DEADLINE: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Default, Clone, Copy)]
struct Peaks {
    js_heap: f64,
    wasm_memory: f64,
    samples: usize,
}

async fn sample(client: &fantoccini::Client, peaks: &mut Peaks) {
    let value = client
        .execute(
            "return [performance.memory ? performance.memory.usedJSHeapSize : -1, \
             window.keepsakeWasmMemory ? window.keepsakeWasmMemory.buffer.byteLength : -1];",
            vec![],
        )
        .await
        .unwrap();
    let numbers: Vec<f64> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(numbers[0] > 0.0, "Chromium reports performance.memory");
    assert!(numbers[1] > 0.0, "the app exposes its WASM memory");
    peaks.js_heap = peaks.js_heap.max(numbers[0]);
    peaks.wasm_memory = peaks.wasm_memory.max(numbers[1]);
    peaks.samples += 1;
}

fn mib(bytes: f64) -> f64 {
    bytes / (1024.0 * 1024.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_1_gib_video_is_saved_byte_identical_but_its_dates_with_bounded_tab_memory() {
    save_large_video("1G", 1 << 30, true, false).await;
}

/// The helper is killed (`kill -9`) while a 256 MiB video is downloading to it,
/// and started again on the same address and library: the restarted helper holds
/// the download paused, the app fetches the item again (the video host ignores
/// `Range`, so the download starts over) and keeps it with the same patch; the
/// saved file is still byte-identical to the original but its dates, saved once.
#[tokio::test(flavor = "multi_thread")]
async fn a_video_download_goes_on_after_the_helper_is_killed_midway() {
    save_large_video("256M", 256 << 20, true, true).await;
}

/// The benchmark of `scripts/bench-large`: a `KEEPSAKE_BENCH_SIZE` video (4G unless
/// set) through the helper `KEEPSAKE_HELPER` names (a release build); prints the
/// time, the rate, the tab's peaks and the helper's peak RSS. The saved bytes are
/// compared with the original only with `KEEPSAKE_BENCH_VERIFY=1` (minutes more).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: scripts/bench-large runs it"]
async fn bench_large_video() {
    let size_arg = std::env::var("KEEPSAKE_BENCH_SIZE").unwrap_or_else(|_| "4G".into());
    let size = parse_size(&size_arg).expect("KEEPSAKE_BENCH_SIZE like 4G or 512M");
    let verify = std::env::var("KEEPSAKE_BENCH_VERIFY").is_ok_and(|v| v == "1");
    save_large_video(&size_arg, size, verify, false).await;
}

fn parse_size(text: &str) -> Option<u64> {
    let (digits, shift) = match text.trim().chars().last()? {
        'G' | 'g' => (&text[..text.len() - 1], 30),
        'M' | 'm' => (&text[..text.len() - 1], 20),
        'K' | 'k' => (&text[..text.len() - 1], 10),
        _ => (text, 0),
    };
    digits.trim().parse::<u64>().ok()?.checked_shl(shift)
}

/// ExifTool's movie dates of `path` by tag name (UTC, as `YYYY:MM:DD HH:MM:SS`),
/// from the first track that has each; files over 4 GiB included.
fn exiftool_movie_dates(path: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    let output = std::process::Command::new("exiftool")
        .args([
            "-j",
            "-api",
            "LargeFileSupport=1",
            "-CreateDate",
            "-ModifyDate",
        ])
        .args(["-MediaCreateDate", "-TrackCreateDate"])
        .arg(path)
        .output()
        .expect("running exiftool");
    let all: serde_json::Value = serde_json::from_slice(&output.stdout).expect("exiftool's JSON");
    all[0]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(tag, value)| Some((tag.clone(), value.as_str()?.to_owned())))
        .collect()
}

/// The helper's peak resident memory (`VmHWM` of `/proc/PID/status`), in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Saves one `size`-byte demo video from the browser and checks the tab's memory;
/// with `verify`, also the saved bytes against the original; with `restart`, the
/// helper is killed and restarted once part of its download has arrived.
async fn save_large_video(size_arg: &str, size: u64, verify: bool, restart: bool) {
    let Some(dist) = dist_dir() else {
        skip_or_fail(
            "KEEPSAKE_REQUIRE_BROWSER",
            "no built app: run ./scripts/build-app or set KEEPSAKE_DIST",
        );
        return;
    };
    let Some(browser) = Browser::start().await else {
        return;
    };
    let mut shots = Screenshots::new(if restart {
        "large-video-restart"
    } else {
        "large-video"
    });
    let flags = [
        "--demo-large-files",
        "1",
        "--demo-large-file-size",
        size_arg,
        "--demo-no-processing-video",
    ];
    let mut helper = HelperProcess::start_demo(Some(&dist), &flags).unwrap();
    let mut restarted_at = None;
    // The same library in this process: the oracle for the original's bytes.
    let emu = emulator_client::start(EmulatorConfig {
        large_file_count: 1,
        large_file_size: size,
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
    let (large_id, create_time) = (large.id.clone(), large.create_time);
    // `size`, give or take the few bytes of a 64-bit mdat header past 4 GiB.
    let original_len = large.original().unwrap().len();
    assert!(original_len.abs_diff(size) <= 64, "{original_len}");

    let client = &browser.client;
    client.goto(&helper.base_url).await.unwrap();
    sign_in(client, &mut shots).await;
    let selector = format!("[data-testid=picker-item][data-item-id=\"{large_id}\"]");
    let picked = pick(client, &mut shots, &[(&selector, 1)]).await.remove(0);
    assert_eq!(
        picked.into_iter().collect::<Vec<_>>(),
        std::slice::from_ref(&large_id)
    );

    // Sample the tab's memory until the item is saved (or fails).
    let started = Instant::now();
    let mut peaks = Peaks::default();
    let tile = format!("[data-testid=item][data-item-id=\"{large_id}\"]");
    let mut shot_midway = false;
    loop {
        sample(client, &mut peaks).await;
        let stage = match client.find(Locator::Css(&tile)).await {
            Ok(found) => found.attr("data-stage").await.unwrap().unwrap_or_default(),
            Err(_) => String::new(),
        };
        if stage == "saved" {
            break;
        }
        if stage == "failed" {
            let why = match client.find(Locator::Css(&tile)).await {
                Ok(found) => found.attr("title").await.unwrap().unwrap_or_default(),
                Err(_) => String::new(),
            };
            shots.take(client, "failed").await;
            panic!("the video failed to save: {why}");
        }
        if restart && restarted_at.is_none() {
            // Kill once some of the video is in the helper's download.
            let received: u64 = walk_files(&helper.library.path().join(".keepsake-uploads"))
                .iter()
                .filter(|p| p.extension().is_some_and(|e| e == "download"))
                .filter_map(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
                .sum();
            if received >= 48 << 20 {
                helper = helper.restart(Some(&dist), &flags).unwrap();
                restarted_at = Some(received);
                shots.take(client, "helper-restarted").await;
            }
        }
        if !shot_midway && started.elapsed() > Duration::from_secs(5) {
            shots.take(client, "fetching").await;
            shot_midway = true;
        }
        assert!(
            started.elapsed() < SAVE_DEADLINE,
            "not saved within {SAVE_DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let took = started.elapsed();
    if restart {
        let received = restarted_at.expect("the helper was killed before the video was saved");
        assert!(
            received < size,
            "killed midway: {received} of {size} bytes in"
        );
        println!("helper killed with {received} of {size} bytes received; the download went on");
    }
    sample(client, &mut peaks).await;
    shots.take(client, "saved").await;
    println!(
        "{size_arg} video ({size} bytes) saved in {:.1} s ({:.1} MB/s); tab peaks over {} samples: \
         JS heap {:.1} MiB, WASM memory {:.1} MiB; helper peak RSS {} MiB",
        took.as_secs_f64(),
        size as f64 / 1e6 / took.as_secs_f64(),
        peaks.samples,
        mib(peaks.js_heap),
        mib(peaks.wasm_memory),
        peak_rss_kib(helper.pid()).map_or("?".to_owned(), |kib| (kib / 1024).to_string()),
    );
    assert!(peaks.samples >= 3, "sampled while it ran: {peaks:?}");
    assert!(
        peaks.js_heap < MEMORY_CEILING && peaks.wasm_memory < MEMORY_CEILING,
        "the tab held too much for a {size}-byte file: {peaks:?}"
    );

    // The saved file: one mp4, as long as the original.
    let saved: Vec<_> = walk_files(helper.library.path())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "mp4"))
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert_eq!(std::fs::metadata(&saved[0]).unwrap().len(), original_len);
    let leftovers: Vec<_> = walk_files(&helper.library.path().join(".keepsake-uploads"));
    assert!(
        leftovers.is_empty(),
        "the download's files are gone: {leftovers:?}"
    );
    // The oracle reads Google's createTime back from the movie's headers.
    if which("exiftool").is_some() {
        let dates = exiftool_movie_dates(&saved[0]);
        let expected = create_time.strftime("%Y:%m:%d %H:%M:%S").to_string();
        for tag in ["CreateDate", "MediaCreateDate", "TrackCreateDate"] {
            assert_eq!(
                dates.get(tag).map(String::as_str),
                Some(expected.as_str()),
                "ExifTool's {tag} of the saved video: {dates:?}"
            );
        }
        println!("ExifTool reads the saved video's dates as {expected} (createTime, UTC)");
    } else {
        skip_or_fail(
            "KEEPSAKE_REQUIRE_EXIFTOOL",
            "exiftool is not installed: the saved video's dates are not read back",
        );
    }
    if !verify {
        return;
    }

    // The original, streamed from the in-process emulator, against the saved file.
    let token = emu.sign_in(emulator_client::MARIA).await;
    let (session, _) = emu.picked_session(&token, None).await;
    let listed = emu.list_all(&token, &session, None).await;
    let base_url = listed
        .iter()
        .find(|item| item["id"] == large_id.as_str())
        .and_then(|item| item["mediaFile"]["baseUrl"].as_str())
        .expect("the large video is listed")
        .to_owned();
    let mut original = emu.get_media(&format!("{base_url}=dv"), &token).await;
    assert_eq!(original.status(), 200);
    // The head, up to the end of moov (the emulator writes moov first): the patch
    // the helper should have applied follows from it (metafix's plan, natively).
    let mut head = Vec::new();
    let options = metafix::FixOptions::default();
    let item = metafix::ItemContext::default().with_create_time(create_time);
    let expected = loop {
        let chunk = original
            .chunk()
            .await
            .unwrap()
            .expect("moov before the end");
        head.extend_from_slice(&chunk);
        assert!(head.len() < 16 << 20, "moov within the first 16 MiB");
        // A plan that reads only what the head holds; more is needed while it
        // asks beyond it.
        let plan = metafix::plan_with(original_len, &options, &item, |range| {
            head.get(range.start as usize..range.end as usize)
                .map(<[u8]>::to_vec)
                .ok_or(())
        });
        if let Ok(plan) = plan {
            break plan;
        }
    };
    assert!(
        expected.changed(),
        "the emulator's video has zeroed dates to fix"
    );
    assert_eq!(
        expected.output_len(),
        original_len,
        "dates patched in place"
    );
    // The new bytes, at the offsets they replace (a movie's patch keeps every
    // offset: each new piece stands in for as many original bytes).
    let mut edits = Vec::new();
    let mut at = 0u64;
    for piece in expected.pieces() {
        if let Piece::Bytes(bytes) = piece {
            edits.push((at, bytes.clone()));
        }
        at += piece.len();
    }
    let edited: usize = edits.iter().map(|(_, b)| b.len()).sum();
    let mut file = std::fs::File::open(&saved[0]).unwrap();
    let mut differing = 0usize;
    let mut buffer = Vec::new();
    let mut compare = |expected: &mut Vec<u8>, offset: u64, file: &mut std::fs::File| {
        buffer.resize(expected.len(), 0);
        file.read_exact(&mut buffer).unwrap();
        if buffer != *expected {
            differing += expected.iter().zip(&buffer).filter(|(a, b)| a != b).count();
        }
        let end = offset + expected.len() as u64;
        for (at, bytes) in &edits {
            let (from, to) = ((*at).max(offset), (at + bytes.len() as u64).min(end));
            if from < to {
                expected[(from - offset) as usize..(to - offset) as usize]
                    .copy_from_slice(&bytes[(from - at) as usize..(to - at) as usize]);
            }
        }
        assert!(
            buffer == *expected,
            "the saved file differs from the original beyond the date edits in bytes {offset}.."
        );
    };
    let mut offset = head.len() as u64;
    compare(&mut head.clone(), 0, &mut file);
    while let Some(chunk) = original.chunk().await.unwrap() {
        compare(&mut chunk.to_vec(), offset, &mut file);
        offset += chunk.len() as u64;
    }
    assert_eq!(offset, original_len);
    assert_eq!(
        file.read(&mut [0u8; 1]).unwrap(),
        0,
        "no bytes past the original's end"
    );
    assert!(
        differing > 0 && differing <= edited,
        "only date bytes differ: {differing} of {edited} edited"
    );

    // The saved file's own dates, read back by metafix from its head.
    let mut saved_head = vec![0u8; head.len().min(16 << 20)];
    std::fs::File::open(&saved[0])
        .unwrap()
        .read_exact(&mut saved_head)
        .unwrap();
    let again = metafix::plan_with(original_len, &options, &item, |range| {
        saved_head
            .get(range.start as usize..range.end as usize)
            .map(<[u8]>::to_vec)
            .ok_or(())
    })
    .expect("the saved file's moov is in its head");
    assert!(
        !again.changed(),
        "the saved file's dates are already as asked"
    );
    assert_eq!(again.capture_time(), Some(create_time));
}
