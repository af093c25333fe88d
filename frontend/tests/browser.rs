//! The app's logic in a real browser (headless Chromium, through
//! `wasm-bindgen-test-runner`): what only holds in WASM and the DOM — upload
//! bodies assembled from WASM memory and JS buffers, metafix compiled to WASM, the
//! time zone from the browser, storage, the contexts' reactivity, the retry
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
use frontend::retry::{Backoff, RetryEnv, RetryPolicy, Verdict};
use frontend::state::{Ctx, PendingRun};
use js_sys::{ArrayBuffer, Uint8Array};
use leptos::prelude::*;
use metafix::{FixOptions, ItemContext};
use picker::PickedMediaItem;
use wasm_bindgen_futures::JsFuture;
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

/// The bytes a body holds, as `fetch` sends them (through a `Response`, so the
/// browser itself reads the view).
async fn sent_bytes(body: &Uint8Array) -> Vec<u8> {
    let response = web_sys::Response::new_with_opt_buffer_source(Some(body)).unwrap();
    let buffer = JsFuture::from(response.array_buffer().unwrap())
        .await
        .unwrap();
    Uint8Array::new(&buffer).to_vec()
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
async fn a_photo_is_fixed_in_wasm_and_sent_as_header_plus_the_original_tail() {
    let original = jpeg(64, 48);
    let buffer = js_buffer(&original);
    // The app's photo path: the download's buffer copied into WASM, fixed there,
    // then one body of the new header and the untouched rest of the JS buffer.
    let input = client::to_vec(&buffer);
    assert_eq!(input, original);
    let options = FixOptions::default().with_artist("Ada Lovelace");
    let context = ItemContext::default()
        .with_create_time("2024-05-01T10:00:00Z".parse().unwrap())
        .with_filename("IMG_0001.jpg".to_owned())
        .with_mime_type("image/jpeg".to_owned());
    let fixed = metafix::fix(&input, &options, &context);
    assert!(
        !fixed.header.is_empty(),
        "an Artist to add means a new header"
    );
    let body = browser::upload_body_of(&fixed.header, &buffer, fixed.tail.start, fixed.tail.end);
    let sent = sent_bytes(&body).await;
    let mut expected = fixed.header.clone();
    expected.extend_from_slice(&original[fixed.tail.clone()]);
    assert_eq!(
        sent, expected,
        "the body is exactly header + original[tail]"
    );
    assert_eq!(sent.len(), fixed.output_len());
    // The pixels are the original's bytes; the metadata says what was asked.
    assert!(original.ends_with(&sent[sent.len() - (fixed.tail.end - fixed.tail.start)..]));
    let read = metafix::read(&sent).unwrap();
    assert_eq!(read.artist.as_deref(), Some("Ada Lovelace"));
    assert!(read.date_time_original.is_some(), "the date was filled in");
    // Fixing the result again changes nothing.
    let again = metafix::fix(&sent, &options, &context);
    assert_eq!(again.outcome(), metafix::Outcome::AlreadyAsAsked);
}

#[wasm_bindgen_test]
async fn a_body_of_an_empty_header_is_the_original_range_alone() {
    let original: Vec<u8> = (0..=255).collect();
    let buffer = js_buffer(&original);
    let body = browser::upload_body_of(&[], &buffer, 10, 200);
    assert_eq!(sent_bytes(&body).await, &original[10..200]);
    let body = browser::upload_body_of(b"head", &buffer, 5, 5);
    assert_eq!(sent_bytes(&body).await, b"head");
    // The downloaded buffer is left as it was.
    assert_eq!(Uint8Array::new(&buffer).to_vec(), original);
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
        retry_after: None,
    };
    assert!(matches!(
        backoff.after(&gone, env.now(), env.random()),
        Verdict::Permanent
    ));
}
