//! The app's benchmark (issue 16, "The bytes go once"): ignored in the test suite,
//! run by `scripts/bench-app` against a release helper.
//!
//! A demo library of phone-sized photos (`--demo-photo-size`). First the floor: a
//! plain HTTP client signs in, picks the same photos, and downloads their
//! `baseUrl`s itself, as many at a time as the app, writing each to disk (after
//! one untimed pass, so the emulator's encoded photos are cached for both runs).
//! Then the app in headless Chromium, through a byte-counting relay in front of
//! the helper, picks them; the run is timed from Done in the picker to the last
//! item settled, sampling the tab's JS heap (`performance.memory`) and the
//! helper's resident memory (`VmRSS`), and the relay counts every byte between
//! the tab and the helper.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keepsake_tests::emulator_client::{Emu, MARIA};
use std::path::Path;

use keepsake_tests::{Browser, HelperProcess, Screenshots, dist_dir};
use serde_json::Value;

use crate::browser::sign_in;
use crate::scale::pick_first;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One photo for the plain client: its download URL and its id.
#[derive(Clone)]
struct Photo {
    url: String,
    id: String,
}

/// Where [`fetch_all`] puts what it downloads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// Nowhere (the bytes are only read).
    Nothing,
    /// Written to a file, left to the page cache.
    Written,
    /// Written to a file and fsynced: on disk, as a saved photo must be.
    Durable,
}

/// Downloads `photos` (their `baseUrl` with `=d`, from the media server itself, as
/// the helper does), `parallel` at a time, into files in `to` as `keep` says. The
/// bytes fetched.
async fn fetch_all(token: &str, photos: &[Photo], parallel: usize, to: &Path, keep: Keep) -> u64 {
    let queue = Arc::new(Mutex::new(photos.to_vec()));
    let http = reqwest::Client::new();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..parallel {
        let (queue, http) = (queue.clone(), http.clone());
        let token = token.to_owned();
        let to = to.to_owned();
        workers.spawn(async move {
            use tokio::io::AsyncWriteExt;
            let mut bytes = 0u64;
            loop {
                let Some(photo) = queue.lock().unwrap().pop() else {
                    return bytes;
                };
                let mut response = http
                    .get(&photo.url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .error_for_status()
                    .unwrap();
                let mut file = match keep {
                    Keep::Nothing => None,
                    Keep::Written | Keep::Durable => Some(
                        tokio::fs::File::create(to.join(format!("{}.jpg", photo.id)))
                            .await
                            .unwrap(),
                    ),
                };
                while let Some(chunk) = response.chunk().await.unwrap() {
                    bytes += chunk.len() as u64;
                    if let Some(file) = &mut file {
                        file.write_all(&chunk).await.unwrap();
                    }
                }
                if let Some(mut file) = file {
                    file.flush().await.unwrap();
                    if keep == Keep::Durable {
                        file.sync_all().await.unwrap();
                    }
                }
            }
        });
    }
    let mut total = 0;
    while let Some(bytes) = workers.join_next().await {
        total += bytes.unwrap();
    }
    total
}

/// CPU time spent so far (user + system), in seconds: by the process `pid`, by
/// every Chromium process, and by this test process; from `/proc/PID/stat`.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    helper: f64,
    chromium: f64,
    harness: f64,
}

fn cpu_of(stat: &str) -> Option<f64> {
    // Fields after the `(comm)`: state is the 3rd field, utime and stime the 14th
    // and 15th (1-based), in clock ticks (100 a second on Linux).
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn cpu_now(helper: u32) -> Cpu {
    let read = |pid: &str| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
    let mut cpu = Cpu {
        helper: read(&helper.to_string())
            .as_deref()
            .and_then(cpu_of)
            .unwrap_or(0.0),
        harness: read("self").as_deref().and_then(cpu_of).unwrap_or(0.0),
        chromium: 0.0,
    };
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.contains("chrom") {
            cpu.chromium += read(pid).as_deref().and_then(cpu_of).unwrap_or(0.0);
        }
    }
    cpu
}

/// A process's resident memory now (`VmRSS`), in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Size of the built app's `.wasm`, raw and as served (`.gz`, `.br`).
fn wasm_sizes(dist: &std::path::Path) -> (u64, u64, u64) {
    let wasm = std::fs::read_dir(dist)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "wasm"))
        .expect("a .wasm in the app folder");
    let size = |p: std::path::PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut gz = wasm.clone().into_os_string();
    gz.push(".gz");
    let mut br = wasm.clone().into_os_string();
    br.push(".br");
    (size(wasm), size(gz.into()), size(br.into()))
}

/// Signs in at `helper`'s demo Google as a plain client, picks everything, and
/// returns the token and the first `count` photos (the app's picks: the picker's
/// first photos).
async fn photos_of(helper: &HelperProcess, count: usize) -> (String, Vec<Photo>) {
    let emu = Emu {
        origin: helper.base_url.clone(),
        emulator: emulator::Emulator::new(keepsake_tests::emulator_client::config()).unwrap(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    };
    let token = emu.sign_in(MARIA).await;
    let (session, _) = emu.picked_session(&token, None).await;
    let listed = emu.list_all(&token, &session, Some("100")).await;
    let photos: Vec<Photo> = listed
        .iter()
        .filter(|item| item["type"] == "PHOTO")
        .take(count)
        .map(|item| Photo {
            url: format!("{}=d", item["mediaFile"]["baseUrl"].as_str().unwrap()),
            id: item["id"].as_str().unwrap().to_owned(),
        })
        .collect();
    assert_eq!(photos.len(), count, "the library has {count} photos");
    (token, photos)
}

/// The app's own account of where its time went (`window.keepsakeTimings`, see
/// `frontend/src/timing.rs`): the span of the items' processing, and per stage
/// of a photo's journey the mean and longest time and its share of the photos'
/// time (stages overlap across the items processed at once).
async fn print_stage_timings(client: &fantoccini::Client, photos: usize) {
    let timings = client
        .execute("return window.keepsakeTimings || {};", vec![])
        .await
        .unwrap();
    let numbers = |name: &str| -> Option<Vec<f64>> {
        let values = timings.get(name)?.as_array()?;
        Some(values.iter().map(|v| v.as_f64().unwrap_or(0.0)).collect())
    };
    let Some(photo) = numbers("item") else {
        println!("  app stages: none recorded (window.keepsakeTimings is missing)");
        return;
    };
    let span = (photo[4] - photo[3]) / 1e3;
    println!(
        "  app processing: {span:.1} s from the first photo started to the last saved, {:.2} items/s (the rest of the time from Done: noticing the picks, listing)",
        photos as f64 / span
    );
    println!("  app stages (per photo): count, mean ms, longest ms, share of the photos' time");
    for name in ["fetch", "read", "plan", "keep", "progress", "item"] {
        let Some(values) = numbers(name) else {
            continue;
        };
        let (count, total, longest) = (values[0], values[1], values[2]);
        println!(
            "    {name:<18} {count:>5.0} {:>8.1} {longest:>8.1} {:>6.1}%",
            total / count.max(1.0),
            100.0 * total / photo[1].max(1e-9)
        );
    }
}

/// What the browser's Resource Timing saw of the run's requests (the buffer is
/// enlarged before the run): per kind of request, the mean and longest time
/// queued in the browser (waiting for one of its 6 connections to the helper),
/// from the request to its first answer byte, and the answer's body; and the
/// helper's own `Server-Timing` of each keep (copy the download with the patch,
/// fsync it, wait for the lock, publish).
async fn print_request_timings(client: &fantoccini::Client) {
    let rows = client
        .execute(
            "const rows = {};
             const add = (name, v) => {
                 const r = rows[name] || (rows[name] = [0, 0, 0]);
                 r[0] += 1; r[1] += v; r[2] = Math.max(r[2], v);
             };
             for (const e of performance.getEntriesByType('resource')) {
                 let kind;
                 if (e.name.includes('/api/media')) {
                     kind = 'thumbnail';
                 } else if (e.name.endsWith('/fetch')) {
                     kind = 'fetch';
                 } else if (e.name.includes('/api/downloads/')) {
                     kind = 'read';
                 } else if (e.name.endsWith('/keep')) {
                     kind = 'keep';
                 } else {
                     continue;
                 }
                 add(kind + ': queued', e.requestStart - e.fetchStart);
                 add(kind + ': to first byte', e.responseStart - e.requestStart);
                 add(kind + ': body', e.responseEnd - e.responseStart);
                 for (const t of e.serverTiming || []) {
                     add(kind + ': helper ' + t.name, t.duration);
                 }
             }
             return Object.entries(rows).sort();",
            vec![],
        )
        .await
        .unwrap();
    let rows: Vec<(String, Vec<f64>)> = serde_json::from_value(rows).unwrap_or_default();
    println!("  requests (Resource Timing): count, mean ms, longest ms");
    for (name, values) in rows {
        let (count, total, longest) = (values[0], values[1], values[2]);
        println!(
            "    {name:<28} {count:>5.0} {:>8.1} {longest:>8.1}",
            total / count.max(1.0)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: scripts/bench-app runs it against a release helper"]
async fn bench_app_saves_phone_photos() {
    let photos: usize = env_or("KEEPSAKE_BENCH_PHOTOS", 200);
    let photo_size: String = env_or("KEEPSAKE_BENCH_PHOTO_SIZE", "4M".to_owned());
    helper::media_proxy::install_crypto_provider();
    let dist = dist_dir().expect("a built app: ./scripts/build-app");
    // A per-body speed (`8M`: bytes a second) makes Google the bottleneck, as a
    // real network is, instead of this machine's cores.
    let body_speed = std::env::var("KEEPSAKE_BENCH_BODY_SPEED")
        .ok()
        .filter(|s| !s.is_empty());
    let extra = (photos + 10).to_string();
    let mut flags = vec![
        "--demo-large-files",
        "0",
        "--demo-no-processing-video",
        "--demo-extra-photos",
        &extra,
        "--demo-photo-size",
        &photo_size,
    ];
    if let Some(speed) = &body_speed {
        flags.extend([
            "--demo-fault-slow-bodies",
            "1",
            "--demo-fault-slow-speed",
            speed,
        ]);
    }
    let helper = HelperProcess::start_demo(Some(&dist), &flags).unwrap();
    let parallel: usize = env_or("KEEPSAKE_BENCH_PARALLEL", 4);

    // The floor: the same photos' bytes from the media server, as many at a time as
    // the app, written to disk — fsynced, as a saved photo is; and, for comparison,
    // only written (after a first pass that has the emulator encode them).
    let (token, photos_listed) = photos_of(&helper, photos).await;
    let scratch = tempfile::tempdir_in(helper.library.path()).unwrap();
    let warm = Instant::now();
    fetch_all(
        &token,
        &photos_listed,
        parallel,
        scratch.path(),
        Keep::Nothing,
    )
    .await;
    eprintln!(
        "bench: first pass (the emulator encodes its photos) {:.1} s",
        warm.elapsed().as_secs_f64()
    );
    let timed = |keep: Keep| {
        let (token, photos_listed, dir) = (&token, &photos_listed, scratch.path());
        async move {
            let started = Instant::now();
            let bytes = fetch_all(token, photos_listed, parallel, dir, keep).await;
            (bytes, started.elapsed())
        }
    };
    let (floor_bytes, floor) = timed(Keep::Durable).await;
    let (_, floor_unsynced) = timed(Keep::Written).await;
    drop(scratch);

    // The app, through a relay that counts what crosses between tab and helper.
    let helper_addr: std::net::SocketAddr = helper
        .base_url
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let relay = keepsake_tests::CountingRelay::start(helper_addr)
        .await
        .unwrap();
    let browser = Browser::start().await.expect("chromium and chromedriver");
    let client = &browser.client;
    let mut shots = Screenshots::new("bench-app");
    client.goto(&relay.base_url).await.unwrap();
    sign_in(client, &mut shots).await;
    // Room for every request of the run in Resource Timing (250 by default).
    client
        .execute(
            "performance.setResourceTimingBufferSize(100000); return null;",
            vec![],
        )
        .await
        .unwrap();
    client
        .execute(
            "const s = document.querySelector('[data-testid=parallel]');
             s.value = String(arguments[0]);
             s.dispatchEvent(new Event('change'));
             return null;",
            vec![serde_json::json!(parallel)],
        )
        .await
        .unwrap();
    pick_first(client, &mut shots, photos).await;
    let started = Instant::now();
    let (up_before, down_before) = relay.bytes();
    let mut peak_heap = 0u64;
    // The helper's memory before the run: the demo's emulator shares its process
    // and holds the photos it encoded in the first pass, which a helper fetching
    // from Google does not; the run's own memory is what it adds to that.
    let rss_at_done = rss_kib(helper.pid()).unwrap_or(0);
    let cpu_at_done = cpu_now(helper.pid());
    let mut peak_rss = 0u64;
    let mut rss_samples = 0usize;
    loop {
        if let Some(kib) = rss_kib(helper.pid()) {
            peak_rss = peak_rss.max(kib);
            rss_samples += 1;
        }
        let sample = client
            .execute(
                "const p = document.querySelector('[data-testid=progress]');
                 const n = k => p ? Number(p.dataset[k] || 0) : 0;
                 return [n('total'), n('saved') + n('duplicate') + n('failed'), n('failed'),
                         performance.memory ? performance.memory.usedJSHeapSize : 0];",
                vec![],
            )
            .await
            .unwrap();
        let sample: Vec<Value> = serde_json::from_value(sample).unwrap();
        let n = |i: usize| sample[i].as_u64().unwrap_or(0);
        peak_heap = peak_heap.max(n(3));
        if n(0) == photos as u64 && n(1) == photos as u64 {
            assert_eq!(n(2), 0, "items failed");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "the run did not finish in 30 min"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();
    let cpu_at_end = cpu_now(helper.pid());
    shots.take(client, "done").await;
    let saved_bytes: u64 = keepsake_tests::walk_files(helper.library.path())
        .into_iter()
        .filter(|p| {
            !p.components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with(".keepsake"))
        })
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();

    let mb = |bytes: u64, time: Duration| bytes as f64 / 1e6 / time.as_secs_f64();
    let (raw, gz, br) = wasm_sizes(&dist);
    println!("bench-app: {photos} photos of about {photo_size}, {parallel} at a time in the app");
    println!(
        "  app:   {:.1} s from Done to the last saved, {:.2} items/s, {:.1} MB/s ({:.0} MB saved)",
        elapsed.as_secs_f64(),
        photos as f64 / elapsed.as_secs_f64(),
        mb(saved_bytes, elapsed),
        saved_bytes as f64 / 1e6
    );
    println!(
        "  floor: {:.1} s, {:.1} MB/s (a plain client downloading the same baseUrls, {parallel} at a time, each written to disk and fsynced)",
        floor.as_secs_f64(),
        mb(floor_bytes, floor)
    );
    println!(
        "  floor without fsync: {:.1} s, {:.1} MB/s (the same, left in the page cache)",
        floor_unsynced.as_secs_f64(),
        mb(floor_bytes, floor_unsynced)
    );
    println!(
        "  ratio: the app takes {:.2}x the floor's time ({:.2}x the floor without fsync)",
        elapsed.as_secs_f64() / floor.as_secs_f64(),
        elapsed.as_secs_f64() / floor_unsynced.as_secs_f64()
    );
    let (up, down) = relay.bytes();
    let (up, down) = (up - up_before, down - down_before);
    println!(
        "  tab <-> helper: {:.2} MB to the helper, {:.2} MB from it, {:.4} bytes per byte saved",
        up as f64 / 1e6,
        down as f64 / 1e6,
        (up + down) as f64 / saved_bytes.max(1) as f64
    );
    println!(
        "  helper: peak RSS {:.1} MB through the run ({rss_samples} samples of VmRSS), {:.1} MB \
         above its {:.1} MB at Done (the in-process emulator's encoded photos)",
        peak_rss as f64 / 1024.0,
        peak_rss.saturating_sub(rss_at_done) as f64 / 1024.0,
        rss_at_done as f64 / 1024.0
    );
    println!(
        "  cpu:   from Done to the last save, {:.1} s of {:.1} s on {} cores: helper (with its \
         emulator) {:.1} s, Chromium {:.1} s, this test (relay, polling) {:.1} s",
        cpu_at_end.helper - cpu_at_done.helper + cpu_at_end.chromium - cpu_at_done.chromium
            + cpu_at_end.harness
            - cpu_at_done.harness,
        elapsed.as_secs_f64()
            * std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_at_end.helper - cpu_at_done.helper,
        cpu_at_end.chromium - cpu_at_done.chromium,
        cpu_at_end.harness - cpu_at_done.harness,
    );
    println!(
        "  tab:   peak JS heap {:.1} MB (performance.memory.usedJSHeapSize)",
        peak_heap as f64 / 1e6
    );
    println!("  wasm:  {raw} bytes raw, {gz} gzip, {br} brotli");
    print_stage_timings(client, photos).await;
    print_request_timings(client).await;
    client.clone().close().await.unwrap();
}
