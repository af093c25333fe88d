//! A 1 GiB video saved from the browser with bounded memory (issue 10, "Any size,
//! constant memory"): the built app against `helper serve --demo
//! --demo-large-files 1 --demo-large-file-size 1G` in headless Chromium. The app
//! reads the video in ranges, fixes `moov` in WASM and sends resumable-upload
//! parts. Checked: the saved file is the emulator's original byte for byte except
//! the patched movie dates (compared against an in-process emulator of the same
//! seed, streamed), its dates are Google's createTime, and the tab's JS heap
//! (`performance.memory.usedJSHeapSize`) and WASM memory, sampled while the upload
//! runs, stay far below the file's size.
//!
//! Slow-ish by nature (a gigabyte through a debug helper twice: proxy and upload):
//! run it alone with `cargo test -p keepsake-tests --test e2e large_video`.

use std::io::Read;
use std::time::{Duration, Instant};

use emulator::EmulatorConfig;
use emulator::library::Oddity;
use fantoccini::Locator;
use keepsake_tests::{
    Browser, HelperProcess, Screenshots, dist_dir, emulator_client, skip_or_fail, walk_files,
};
use metafix::movie::{self, MoovSearch};

use crate::browser::{pick, sign_in};

/// The most the tab may hold while saving a gigabyte or more: a quarter of one.
const MEMORY_CEILING: f64 = 256.0 * 1024.0 * 1024.0;

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
async fn a_1_gib_video_is_saved_in_parts_byte_identical_but_its_dates_with_bounded_tab_memory() {
    save_large_video("1G", 1 << 30, true, false).await;
}

/// The helper is killed (`kill -9`) while a 256 MiB video's parts are arriving,
/// and started again on the same address and library: the app resumes from the
/// parts the helper kept, and the saved file is still byte-identical to the
/// original but its dates.
#[tokio::test(flavor = "multi_thread")]
async fn a_video_upload_resumes_after_the_helper_is_killed_midway() {
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

/// The helper's peak resident memory (`VmHWM` of `/proc/PID/status`), in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Saves one `size`-byte demo video from the browser and checks the tab's memory;
/// with `verify`, also the saved bytes against the original; with `restart`, the
/// helper is killed and restarted once parts of the upload have arrived.
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
        assert_ne!(stage, "failed", "the video failed to save");
        if restart && restarted_at.is_none() {
            // Kill once a few parts are in the helper's upload file.
            let received: u64 = walk_files(&helper.library.path().join(".keepsake-uploads"))
                .iter()
                .filter(|p| p.extension().is_some_and(|e| e == "part"))
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
            shots.take(client, "uploading").await;
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
        println!("helper killed with {received} of {size} bytes received; the upload resumed");
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
    assert!(
        peaks.samples >= 3,
        "sampled while the upload ran: {peaks:?}"
    );
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
        "the upload's files are gone: {leftovers:?}"
    );
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
    let mut original = emu
        .http
        .get(format!("{base_url}=dv"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(original.status(), 200);
    // The head, up to the end of moov (the emulator writes moov first): the edits
    // the app should have made follow from it (metafix natively, on the original).
    let mut head = Vec::new();
    let moov = loop {
        let chunk = original
            .chunk()
            .await
            .unwrap()
            .expect("moov before the end");
        head.extend_from_slice(&chunk);
        assert!(head.len() < 16 << 20, "moov within the first 16 MiB");
        if let MoovSearch::Found(moov) = walk(&head, original_len) {
            break moov;
        }
    };
    let fixed = movie::fix_moov(
        &head[..movie::HEAD_LEN.min(head.len())],
        &head[moov.start as usize..moov.end as usize],
        moov.start,
        original_len,
        &metafix::FixOptions::default(),
        &metafix::ItemContext::default().with_create_time(create_time),
    );
    assert!(
        fixed.changed(),
        "the emulator's video has zeroed dates to fix"
    );
    let edited: usize = fixed.edits.iter().map(|e| e.bytes.len()).sum();
    let mut file = std::fs::File::open(&saved[0]).unwrap();
    let mut differing = 0usize;
    let mut buffer = Vec::new();
    let mut compare = |expected: &mut Vec<u8>, offset: u64, file: &mut std::fs::File| {
        buffer.resize(expected.len(), 0);
        file.read_exact(&mut buffer).unwrap();
        if buffer != *expected {
            differing += expected.iter().zip(&buffer).filter(|(a, b)| a != b).count();
        }
        fixed.apply(expected, offset);
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

    // The saved file's own dates: ftyp + moov read back by metafix.
    let mut saved_head = vec![0u8; head.len().min(4 << 20)];
    std::fs::File::open(&saved[0])
        .unwrap()
        .read_exact(&mut saved_head)
        .unwrap();
    let MoovSearch::Found(moov) = walk(&saved_head, original_len) else {
        panic!("the saved file keeps its moov");
    };
    let ftyp_end = u32::from_be_bytes(saved_head[0..4].try_into().unwrap()) as usize;
    let mut small = saved_head[..ftyp_end].to_vec();
    small.extend_from_slice(&saved_head[moov.start as usize..moov.end as usize]);
    let meta = metafix::read(&small).unwrap();
    assert_eq!(meta.movie_created, Some(create_time));
}

/// Walks the top-level boxes in `head` for `moov`; `NotFound` when `head` ends first.
fn walk(head: &[u8], file_len: u64) -> MoovSearch {
    let mut at = 0u64;
    loop {
        let Some(bytes) = head.get(at as usize..) else {
            return MoovSearch::NotFound;
        };
        match movie::locate_moov(bytes, at, file_len) {
            MoovSearch::Next(next) => at = next,
            MoovSearch::Found(moov) if moov.end as usize <= head.len() => {
                return MoovSearch::Found(moov);
            }
            _ => return MoovSearch::NotFound,
        }
    }
}
