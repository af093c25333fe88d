//! The run of one picking session: create it, wait for the user, list what they
//! picked, fetch thumbnails, process every item with bounded concurrency, then
//! delete the session.

use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc;
use futures::{FutureExt, StreamExt};
use leptos::prelude::*;
use picker::{MediaSuffix, PickedMediaItem, PickingSession, PollDecision, PollSchedule};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;

use crate::api::{ApiError, PickerApi};
use crate::browser;
use crate::model::Progress;
use crate::process::{self, Job};
use crate::state::{Ctx, Phase, Row};

/// Items processed at the same time (downloads are the bottleneck; more would
/// only compete for the same bandwidth and memory).
const CONCURRENT_ITEMS: usize = 3;
/// Thumbnails fetched at the same time.
const CONCURRENT_THUMBNAILS: usize = 6;
/// Thumbnail size asked of Google (CSS shows them at 160 px; 2× for sharp screens).
const THUMBNAIL_PX: u32 = 320;

/// Starts a picking session and carries it through to the end.
pub async fn pick_and_process(ctx: Ctx) {
    let Some(api) = ctx.picker_api() else {
        ctx.fail("sign in first");
        return;
    };
    let options = match process::fix_options(&ctx.settings.get_untracked()) {
        Ok(options) => options,
        Err(message) => {
            ctx.fail(&message);
            return;
        }
    };
    ctx.notice.set(None);
    ctx.phase.set(Phase::Creating);
    let request_id = match browser::random_id() {
        Ok(id) => id,
        Err(message) => {
            ctx.fail(&message);
            return;
        }
    };
    let session = match api.create_session(&request_id).await {
        Ok(session) => session,
        Err(err) => {
            ctx.api_failed("could not start a picking session", &err);
            ctx.phase.set(Phase::Idle);
            return;
        }
    };
    ctx.phase.set(Phase::Picking(session.clone()));

    let session = match wait_for_picks(&ctx, &api, session).await {
        Ok(Some(session)) => session,
        Ok(None) => {
            // Cancelled or timed out: the session is of no further use.
            let _ = api.delete_session(&ctx_session_id(&ctx)).await;
            ctx.phase.set(Phase::Idle);
            return;
        }
        Err(err) => {
            ctx.api_failed("lost the picking session", &err);
            ctx.phase.set(Phase::Idle);
            return;
        }
    };

    ctx.phase.set(Phase::Listing);
    let items = match api.list_all(&session.id).await {
        Ok(items) => items,
        Err(err) => {
            ctx.api_failed("could not list the picked items", &err);
            ctx.phase.set(Phase::Idle);
            return;
        }
    };
    let new_rows = ctx.add_items(items);
    ctx.phase.set(Phase::Processing);

    let thumbnails = load_thumbnails(&api, &new_rows);
    let job = Job {
        api: api.clone(),
        batch: ctx.batch.get_value(),
        options,
    };
    let processing = futures::stream::iter(new_rows.iter().cloned()).for_each_concurrent(
        CONCURRENT_ITEMS,
        |row| {
            let job = job.clone();
            async move { process::process(&job, &row.item, row.progress).await }
        },
    );
    futures::join!(thumbnails, processing);

    // Done with the session: delete it so it does not count against the limits.
    if let Err(err) = api.delete_session(&session.id).await {
        leptos::logging::warn!("could not delete the picking session: {err}");
    }
    ctx.phase.set(Phase::Done);
}

fn ctx_session_id(ctx: &Ctx) -> String {
    match ctx.phase.get_untracked() {
        Phase::Picking(session) => session.id,
        _ => String::new(),
    }
}

/// Polls `sessions.get` as `pollingConfig` says — and at once whenever the tab
/// becomes visible again, since browsers throttle background timers — until the
/// user is done (`Some`), cancels or the session times out (`None`).
async fn wait_for_picks(
    ctx: &Ctx,
    api: &PickerApi,
    mut session: PickingSession,
) -> Result<Option<PickingSession>, ApiError> {
    let (wake, mut woken) = mpsc::unbounded::<()>();
    let on_visible = Closure::<dyn FnMut()>::new(move || {
        if browser::is_visible() {
            let _ = wake.unbounded_send(());
        }
    });
    let document = web_sys::window().and_then(|w| w.document());
    if let Some(document) = &document {
        let _ = document.add_event_listener_with_callback(
            "visibilitychange",
            on_visible.as_ref().unchecked_ref(),
        );
    }
    let mut cancelled = ctx.cancellation();
    let result = async {
        loop {
            if session.media_items_set {
                return Ok(Some(session));
            }
            // Every answer carries a fresh pollingConfig whose timeoutIn counts
            // from that answer: measure from now.
            let schedule = PollSchedule::new(session.polling_config.as_ref());
            let delay = match schedule.next(Duration::ZERO) {
                PollDecision::Wait(delay) => delay,
                PollDecision::Stop => {
                    ctx.fail("the picking session timed out; press “Pick photos” to start again");
                    return Ok(None);
                }
            };
            let mut sleep = gloo_timers::future::sleep(delay).fuse();
            futures::select! {
                () = sleep => {},
                _ = woken.next() => {},
                _ = cancelled => return Ok(None),
            }
            session = api.get_session(&session.id).await?;
            ctx.phase.set(Phase::Picking(session.clone()));
        }
    }
    .await;
    if let Some(document) = &document {
        let _ = document.remove_event_listener_with_callback(
            "visibilitychange",
            on_visible.as_ref().unchecked_ref(),
        );
    }
    result
}

/// Fetches every row's thumbnail through the proxy (an `<img>` cannot send the
/// bearer token) and shows it from an object URL.
async fn load_thumbnails(api: &PickerApi, rows: &[Row]) {
    futures::stream::iter(rows.iter().cloned())
        .for_each_concurrent(CONCURRENT_THUMBNAILS, |row| {
            let api = api.clone();
            async move {
                let url = PickerApi::media_url(
                    &row.item,
                    MediaSuffix::Fit {
                        width: THUMBNAIL_PX,
                        height: THUMBNAIL_PX,
                        crop: true,
                    },
                );
                match api.fetch_media(&url).await {
                    Ok(buffer) => {
                        if let Ok(object_url) = browser::object_url(&buffer, "image/jpeg") {
                            row.thumb.set(Some(object_url));
                        }
                    }
                    Err(err) => leptos::logging::warn!("thumbnail of {}: {err}", row.item.id),
                }
            }
        })
        .await;
}

/// New rows for items not already in the batch (a "Pick more" session may
/// return items picked before).
pub fn new_rows(existing: &[Row], items: Vec<PickedMediaItem>) -> Vec<Row> {
    let mut seen: std::collections::HashSet<String> =
        existing.iter().map(|row| row.item.id.clone()).collect();
    items
        .into_iter()
        .filter(|item| seen.insert(item.id.clone()))
        .map(|item| Row {
            item: Arc::new(item),
            thumb: RwSignal::new(None),
            progress: RwSignal::new(Progress::default()),
        })
        .collect()
}
