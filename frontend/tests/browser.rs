//! The app's logic in a real browser (headless Chromium, through
//! `wasm-bindgen-test-runner`): what only holds in WASM and the DOM — metafix's
//! plan compiled to WASM and fed ranges from JS buffers, the patch a keep sends,
//! the time zone from the browser, storage, the contexts' reactivity, the retry
//! policy on the browser's clock.
//!
//! Run by `scripts/test` as
//! `cargo test -p frontend --target wasm32-unknown-unknown --test browser`
//! (the runner comes from `.cargo/config.toml`, Chromium's flags from
//! `frontend/webdriver.json`). Natively this file is empty.
#![cfg(target_arch = "wasm32")]
// `#[wasm_bindgen_test]` functions are tests too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use frontend::batch::{Event, Phase, Slot};
use frontend::browser;
use frontend::client::{self, ApiError};
use frontend::model::{Progress, Stage};
use frontend::state::{Ctx, PendingRun};
use js_sys::{ArrayBuffer, Uint8Array};
use leptos::prelude::*;
use metafix::{FixOptions, ItemContext};
use picker::PickedMediaItem;
use picker::retry::{Backoff, RetryEnv, RetryPolicy, Verdict};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// A small real JPEG (no EXIF), made here so the test needs no file.
fn jpeg(width: u16, height: u16) -> Vec<u8> {
    let pixels: Vec<u8> = (0..usize::from(width) * usize::from(height) * 3)
        .map(|n| (n * 7 % 251) as u8)
        .collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 85)
        .encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

fn js_buffer(bytes: &[u8]) -> ArrayBuffer {
    Uint8Array::from(bytes).buffer()
}

fn item(id: &str) -> PickedMediaItem {
    serde_json::from_value(serde_json::json!({
        "id": id,
        "createTime": "2024-05-01T10:00:00Z",
        "type": "PHOTO",
        "mediaFile": {
            "baseUrl": format!("https://lh3.googleusercontent.com/{id}"),
            "mimeType": "image/jpeg",
            "filename": format!("{id}.jpg"),
        }
    }))
    .unwrap()
}

#[wasm_bindgen_test]
fn a_photo_is_planned_in_wasm_from_ranges_of_a_js_buffer_and_kept_as_a_patch() {
    let original = jpeg(640, 480);
    let buffer = js_buffer(&original);
    let options = FixOptions::default().with_artist("Ada Lovelace");
    let context = ItemContext::default()
        .with_create_time("2024-05-01T10:00:00Z".parse().unwrap())
        .with_filename("IMG_0001.jpg".to_owned())
        .with_mime_type("image/jpeg".to_owned());
    // The app's path: only the ranges the plan asks for leave the (helper's)
    // buffer, as a range read's body would, each copied into WASM on its own.
    let mut planner = metafix::Planner::new(original.len() as u64, &options, &context);
    let mut read = 0u64;
    let patch = loop {
        match planner.next_step() {
            metafix::Step::Read(ranges) => {
                for range in ranges {
                    let view = Uint8Array::new_with_byte_offset_and_length(
                        &buffer,
                        range.start as u32,
                        (range.end - range.start) as u32,
                    );
                    read += range.end - range.start;
                    planner.feed(range.start, &view.to_vec());
                }
            }
            metafix::Step::Done(patch) => break patch,
        }
    };
    assert_eq!(patch, metafix::fix(&original, &options, &context));
    assert!(patch.changed(), "an Artist to add means a new EXIF segment");
    assert!(
        (patch.new_bytes() as usize) < original.len() / 4,
        "the patch is the new EXIF, not the photo"
    );
    // What the keep sends, and what the helper reads of it.
    let keep = api::KeepRequest {
        download: "d1".parse().unwrap(),
        filename: patch.file_name("IMG_0001.jpg"),
        capture_time: api::CaptureTime::of_patch(&patch, context.create_time),
        pieces: patch.pieces().to_vec(),
    };
    let body = keep.encode();
    assert!(body.len() < original.len() / 4, "{} bytes sent", body.len());
    let received = api::KeepRequest::decode(&body, 1 << 20).unwrap();
    assert_eq!(received, keep);
    let saved = patch.assemble(&original);
    let meta = metafix::read(&saved).unwrap();
    assert_eq!(meta.artist.as_deref(), Some("Ada Lovelace"));
    assert!(meta.date_time_original.is_some(), "the date was filled in");
    assert!(
        read <= metafix::Planner::FIRST_READ + 16,
        "read {read} bytes"
    );
    // Fixing the result again changes nothing.
    let again = metafix::fix(&saved, &options, &context);
    assert_eq!(again.outcome(), metafix::Outcome::AlreadyAsAsked);
}

#[wasm_bindgen_test]
fn the_browser_names_a_time_zone_the_app_can_fill_in() {
    // The settings start from the browser's zone: an IANA name.
    let zone = browser::time_zone().expect("Chromium names its time zone");
    assert!(!zone.is_empty());
    let now = jiff::Timestamp::now();
    let offset = browser::local_offset(now);
    assert!(offset.seconds().abs() <= 14 * 3600);
}

#[wasm_bindgen_test]
fn a_pending_run_survives_in_the_tabs_session_storage() {
    let owner = Owner::new();
    owner.with(|| {
        let ctx = Ctx::provide("b-storage".parse().unwrap());
        ctx.run.remember("session-1");
        assert_eq!(
            PendingRun::load(),
            Some(PendingRun {
                batch: "b-storage".parse().unwrap(),
                session: "session-1".to_owned(),
            })
        );
        assert_eq!(
            ctx.run.open_session.get_untracked().as_deref(),
            Some("session-1")
        );
        ctx.run.forget();
        assert_eq!(PendingRun::load(), None);
    });
}

#[wasm_bindgen_test]
fn settings_are_remembered_in_local_storage() {
    let owner = Owner::new();
    owner.with(|| {
        let ctx = Ctx::provide("b-settings".parse().unwrap());
        ctx.prefs.update(|s| {
            s.artist = "Grace Hopper".to_owned();
            s.parallel = 6;
        });
        // A new tab reads them back.
        let again = Ctx::provide("b-other".parse().unwrap());
        let settings = again.prefs.settings.get_untracked();
        assert_eq!(settings.artist, "Grace Hopper");
        assert_eq!(settings.parallel(), 6);
        ctx.prefs.update(|s| *s = Default::default());
    });
}

#[wasm_bindgen_test]
fn totals_follow_every_rows_progress_and_the_run_refuses_a_second_start() {
    let owner = Owner::new();
    owner.with(|| {
        let ctx = Ctx::provide("b-totals".parse().unwrap());
        let run = ctx.run;
        let totals = Memo::new(move |_| run.totals());
        assert_eq!(totals.get_untracked().items, 0);

        let work = run.add_items(vec![item("a"), item("b"), item("c")]);
        assert_eq!(work.len(), 3);
        assert_eq!(totals.get_untracked().waiting, 3);
        // A row's change reaches the batch's totals at the next count (the
        // clock's, every TALLY_EVERY), not at once: counting reads every row.
        work[1].0.set_progress(Progress {
            stage: Stage::Saved,
            bytes: 1234,
            ..Progress::default()
        });
        assert_eq!(totals.get_untracked().saved, 0);
        run.recount();
        let t = totals.get_untracked();
        assert_eq!((t.saved, t.waiting, t.bytes), (1, 2, 1234));
        work[2].0.set_progress(Progress {
            stage: Stage::Failed,
            error: Some("network error".to_owned()),
            ..Progress::default()
        });
        run.recount();
        assert_eq!(run.tally().failures, [("network error".to_owned(), 1)]);

        // The phase moves only as the machine allows.
        assert_eq!(run.advance(Event::Start), Ok(()));
        assert!(run.advance(Event::Start).is_err(), "one run at a time");
        assert!(run.with_phase(Phase::is_busy));
        ctx.stop("the picking session timed out");
        assert_eq!(
            run.with_phase(Clone::clone),
            Phase::Done,
            "a stopped run with items shows them"
        );
        assert_eq!(
            ctx.notices.current().map(|n| (n.text, n.is_error)),
            Some(("The picking session timed out".to_owned(), true))
        );
        // "Pick more" listing an item again after it saved leaves it alone.
        assert!(run.add_items(vec![item("b"), item("d")]).len() == 1);
        assert_eq!(run.peek(|b| b.len()), 4);
        let row = run.peek(|b| b.get("d").cloned()).unwrap();
        assert!(Arc::ptr_eq(row.item(), &row.item));
    });
}

#[wasm_bindgen_test]
async fn the_tally_is_counted_again_by_the_clock() {
    // What mounting the app does: Leptos' tasks run on wasm-bindgen-futures.
    let _ = any_spawner::Executor::init_wasm_bindgen();
    let owner = Owner::new();
    let run = owner.with(|| {
        let ctx = Ctx::provide("b-clock".parse().unwrap());
        ctx.run.keep_counting();
        ctx.run
    });
    let work = owner.with(|| run.add_items(vec![item("x")]));
    // Counted once (the memo holds it), then a row changes behind its back.
    assert_eq!(owner.with(|| run.totals()).waiting, 1);
    work[0].0.set_progress(Progress {
        stage: Stage::Saved,
        ..Progress::default()
    });
    let waited = js_sys::Date::now();
    gloo_timers::future::sleep(frontend::state::TALLY_EVERY * 2).await;
    assert!(js_sys::Date::now() - waited >= frontend::state::TALLY_EVERY.as_millis() as f64);
    assert_eq!(owner.with(|| run.totals()).saved, 1);
}

#[wasm_bindgen_test]
async fn the_retry_policy_waits_on_the_browsers_clock_and_honours_retry_after() {
    let env = client::BrowserEnv;
    let start = env.now();
    let mut backoff = Backoff::new(RetryPolicy::MEDIA, start);
    let busy = ApiError::Http {
        status: 429,
        message: "slow down".to_owned(),
        kind: None,
        retry_after: Some(std::time::Duration::from_millis(300)),
    };
    let wait = match backoff.after(&busy, env.now(), env.random()) {
        Verdict::Wait(wait) => wait,
        other => panic!("a 429 is transient: {other:?}"),
    };
    assert!(wait >= std::time::Duration::from_millis(300), "{wait:?}");
    gloo_timers::future::sleep(wait).await;
    assert!(env.now() - start >= std::time::Duration::from_millis(290));
    let random = env.random();
    assert!((0.0..1.0).contains(&random));
    let gone = ApiError::Http {
        status: 404,
        message: "gone".to_owned(),
        kind: None,
        retry_after: None,
    };
    assert!(matches!(
        backoff.after(&gone, env.now(), env.random()),
        Verdict::Permanent
    ));
}
