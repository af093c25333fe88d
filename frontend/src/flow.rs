//! The run of one picking session: create it, wait for the user, list what they
//! picked, process every item with bounded concurrency, then
//! delete the session — or keep it for a retry when items failed, and resume it
//! after a new sign-in when the token ran out.

use std::collections::HashMap;
use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures::{FutureExt, StreamExt};
use leptos::prelude::*;
use leptos::task::spawn_local;
use picker::{PickedMediaItem, PickingSession, PollDecision, PollSchedule};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;

use crate::batch::{Event, Slot};
use crate::browser;
use crate::client::{self, ApiError, BatchId, BrowserEnv, PickerApi};
use crate::model::{Progress, Settings, Stage};
use crate::process::{self, ItemFailure, Job};
use crate::state::{Ctx, PendingRun, Row};
use crate::thumbs::Thumbnails;
use crate::urls::Urls;
use metafix::FixOptions;
use picker::retry::{Backoff, RetryEnv, RetryPolicy, Verdict};

/// Starts a picking session and carries it through to the end.
pub async fn pick_and_process(ctx: Ctx) {
    // One run at a time (a second click, a second tab's resume…).
    if ctx.run.advance(Event::Start).is_err() {
        return;
    }
    let Some((api, job)) = prepare(&ctx).await else {
        let _ = ctx.run.advance(Event::Stopped);
        return;
    };
    let request_id = match browser::random_id() {
        Ok(id) => id,
        Err(message) => return ctx.stop(&message),
    };
    let session = match api.create_session(&request_id).await {
        Ok(session) => session,
        Err(err) => return ctx.stop_api("could not start a picking session", &err),
    };
    ctx.run.remember(&session.id);
    let _ = ctx.run.advance(Event::Created(session.clone()));

    let session_id = session.id.clone();
    match wait_for_picks(&ctx, &api, session).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            // Cancelled or timed out: the session is of no further use.
            let _ = api.delete_session(&session_id).await;
            ctx.run.forget();
            let _ = ctx.run.advance(Event::Stopped);
            return;
        }
        Err(err) => return ctx.stop_api("lost the picking session", &err),
    }

    let _ = ctx.run.advance(Event::Picked);
    let items = match api.list_all(&session_id).await {
        Ok(items) => items,
        Err(err) => return ctx.stop_api("could not list the picked items", &err),
    };
    let work = ctx.run.add_items(items);
    run(&ctx, &api, job, &session_id, work).await;
}

/// Continues a run this tab left unfinished (the sign-in expired, or the page was
/// reloaded): lists its session again, marks what the helper already saved, and
/// processes the rest.
pub async fn resume(ctx: Ctx, pending: PendingRun) {
    if ctx.run.advance(Event::Relist).is_err() {
        return;
    }
    let Some((api, job)) = prepare(&ctx).await else {
        let _ = ctx.run.advance(Event::Stopped);
        return;
    };
    let items = match api.list_all(&pending.session).await {
        Ok(items) => items,
        Err(err) => {
            // The session expired or was deleted: nothing left to resume.
            ctx.run.forget();
            return ctx.stop_api(
                "could not resume the last run (pick the photos again)",
                &err,
            );
        }
    };
    ctx.run.remember(&pending.session);
    let saved: HashMap<String, api::SavedFile> = match client::batch_items(&job.0).await {
        // A file the user has since deleted from the folder is fetched again.
        Ok(saved) => saved
            .into_iter()
            .filter(|item| !item.missing)
            .map(|item| (item.item_id.to_string(), item))
            .collect(),
        Err(err) => return ctx.stop_api("could not ask the helper what it saved", &err),
    };
    let mut work = Vec::new();
    for (row, item) in ctx.run.add_items(items) {
        match saved.get(&row.item.id) {
            Some(file) => row.set_progress(Progress {
                stage: Stage::Saved,
                bytes: file.size,
                saved_path: Some(file.path.clone()),
                ..Progress::default()
            }),
            None => work.push((row, item)),
        }
    }
    run(&ctx, &api, job, &pending.session, work).await;
}

/// Starts a new batch (the user is done with this one): the page lets go of its
/// rows and thumbnails, and the picking session kept for a retry is deleted.
/// What was saved stays in the library and its history.
pub fn new_batch(ctx: Ctx, thumbnails: Thumbnails) {
    if ctx.run.advance(Event::Cleared).is_err() {
        return;
    }
    if let Some(session) = ctx.run.open_session.get_untracked()
        && let Some(api) = ctx.auth.picker_api()
    {
        spawn_local(async move {
            if let Err(err) = api.delete_session(&session).await {
                leptos::logging::warn!("deleting the picking session {session}: {err}");
            }
        });
    }
    ctx.run.forget();
    ctx.notices.clear();
    thumbnails.clear();
    ctx.run.clear();
}

/// Processes the batch's failed items again (those failed for `reason`, or all),
/// with fresh download URLs.
pub async fn retry_failed(ctx: Ctx, reason: Option<String>) {
    let Some(session) = ctx.run.open_session.get_untracked() else {
        return;
    };
    if ctx.run.advance(Event::Relist).is_err() {
        return;
    }
    let Some((api, job)) = prepare(&ctx).await else {
        let _ = ctx.run.advance(Event::Stopped);
        return;
    };
    // Download URLs live an hour: list again for fresh ones.
    let fresh: HashMap<String, PickedMediaItem> = match api.list_all(&session).await {
        Ok(items) => items.into_iter().map(|i| (i.id.clone(), i)).collect(),
        Err(err) => {
            ctx.run.forget();
            return ctx.stop_api("could not list the picked items again", &err);
        }
    };
    let work: Vec<(Row, PickedMediaItem)> = ctx
        .run
        .peek(|batch| batch.failed(reason.as_deref()))
        .into_iter()
        .filter_map(|row| {
            let item = fresh.get(&row.item.id)?.clone();
            Some((row, item))
        })
        .collect();
    run(&ctx, &api, job, &session, work).await;
}

/// Checks the sign-in and the settings; `None` (with a message shown) when a run
/// cannot start. The batch and options become a [`Job`] once the items (and so
/// their URLs) are listed.
async fn prepare(ctx: &Ctx) -> Option<(PickerApi, (BatchId, FixOptions))> {
    let Some(api) = ctx.auth.picker_api() else {
        ctx.notices
            .fail("your Google sign-in has expired; please sign in again");
        return None;
    };
    let zone = match ctx.prefs.time_zone().await {
        Ok(zone) => zone,
        Err(why) => {
            ctx.notices.fail(&format!("time zone: {why}"));
            return None;
        }
    };
    let options = process::fix_options(&ctx.prefs.settings.get_untracked(), zone);
    ctx.notices.clear();
    Some((api, (ctx.run.id.get_value(), options)))
}

/// Processes `work` (the grid loads thumbnails as tiles come into view); then
/// deletes the session if everything is saved, or keeps it for a retry (or a
/// resume after a new sign-in).
async fn run(
    ctx: &Ctx,
    api: &PickerApi,
    (batch, options): (BatchId, FixOptions),
    session: &str,
    work: Vec<(Row, PickedMediaItem)>,
) {
    let _ = ctx.run.advance(Event::Listed);
    let downloads = ctx.prefs.settings.with_untracked(Settings::parallel);
    let job = &Job {
        api: api.clone(),
        batch,
        options,
        urls: Urls::new(session, work.iter().map(|(_, item)| item)),
        slots: std::sync::Arc::new(async_lock::Semaphore::new(downloads)),
    };
    // Once the token has run out, nothing else can be downloaded: the items not
    // started yet stay waiting for the new sign-in instead of each failing on it.
    let paused = std::cell::Cell::new(false);
    let paused = &paused;
    // Cancel starts nothing new; the items under way finish (an upload cut off
    // midway might still land in the library while the app called it cancelled).
    let cancelled = std::cell::Cell::new(false);
    let cancelled = &cancelled;
    // Once Google says the session expired, nothing more can be fetched from it:
    // the items not started yet fail at once, for the same reason.
    let gone = std::cell::Cell::new(false);
    let gone = &gone;
    let processing = futures::stream::iter(work)
        .map(|(row, item)| async move {
            if cancelled.get() {
                row.progress.set(Progress {
                    stage: Stage::Cancelled,
                    ..Progress::default()
                });
                return None;
            }
            if paused.get() {
                return Some(ItemFailure {
                    message: "waiting for a new Google sign-in".into(),
                    needs_sign_in: true,
                    session_gone: false,
                });
            }
            if gone.get() {
                row.progress.set(Progress {
                    stage: Stage::Failed,
                    error: Some(process::SESSION_GONE.to_owned()),
                    ..Progress::default()
                });
                return Some(ItemFailure {
                    message: process::SESSION_GONE.to_owned(),
                    needs_sign_in: false,
                    session_gone: true,
                });
            }
            let failure = process::process(job, &item, &row.progress).await.err();
            if let Some(failure) = &failure {
                paused.set(paused.get() || failure.needs_sign_in);
                gone.set(gone.get() || failure.session_gone);
            }
            failure
        })
        // Half as many items again as downloads: while one is planned and kept,
        // the next one's download has its slot (see `Job::slots`); no more, as
        // each holds one of the browser's six connections to the helper.
        .buffer_unordered(downloads + downloads.div_ceil(2))
        .filter_map(|failure| async move { failure })
        .collect::<Vec<ItemFailure>>();
    let cancel = ctx.run.cancellation().then(|sent| async move {
        if sent.is_ok() {
            cancelled.set(true);
            ctx.notices
                .inform("cancelling: finishing the items under way");
        }
        // Whatever happened, the processing decides when the run ends.
        futures::future::pending::<std::convert::Infallible>().await
    });
    let failures =
        match futures::future::select(std::pin::pin!(processing), std::pin::pin!(cancel)).await {
            futures::future::Either::Left((failures, _)) => failures,
            futures::future::Either::Right((never, _)) => match never {},
        };

    if cancelled.get() {
        return cancelled_run(ctx, api, session).await;
    }
    let any_failed = ctx.run.peek(|batch| batch.count(Stage::Failed) > 0);
    let lost = failures.iter().filter(|f| f.session_gone).count();
    if lost > 0 {
        // Retrying would list the dead session again: the way on is a new one
        // ("Pick more"), into the same batch.
        let _ = api.delete_session(session).await;
        ctx.run.forget();
        ctx.notices.inform(&format!(
            "Google's picking session expired before {lost} item{} saved; press \
             “Pick more” and pick {} again — what is saved stays",
            if lost == 1 { " was" } else { "s were" },
            if lost == 1 { "it" } else { "them" },
        ));
    } else if failures.iter().any(|f| f.needs_sign_in) {
        // Keep the session: after the new sign-in the run resumes where it stopped.
        ctx.auth.sign_out();
        ctx.notices.inform(
            "your Google sign-in expired during the run; sign in again and Keepsake \
             continues with the photos not saved yet",
        );
    } else if !any_failed {
        // Done with the session: delete it so it does not count against the limits.
        if let Err(err) = api.delete_session(session).await {
            leptos::logging::warn!("could not delete the picking session: {err}");
        }
        ctx.run.forget();
    }
    let _ = ctx.run.advance(Event::Finished);
}

/// The user cancelled a run, and the items under way have finished: the session
/// is deleted (it is of no further use) and what is saved stays.
async fn cancelled_run(ctx: &Ctx, api: &PickerApi, session: &str) {
    if let Err(err) = api.delete_session(session).await {
        leptos::logging::warn!("could not delete the picking session: {err}");
    }
    ctx.run.forget();
    let dropped = ctx.run.peek(|batch| batch.count(Stage::Cancelled));
    ctx.notices.inform(&format!(
        "cancelled: what was saved stays in the library; {dropped} item{} not saved",
        if dropped == 1 { " was" } else { "s were" },
    ));
    let _ = ctx.run.advance(Event::Finished);
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
    let mut cancelled = ctx.run.cancellation();
    let mut received_at = BrowserEnv.now();
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
                    ctx.notices
                        .fail("the picking session timed out; press “Pick photos” to start again");
                    return Ok(None);
                }
            };
            let mut sleep = gloo_timers::future::sleep(delay).fuse();
            futures::select! {
                () = sleep => {},
                _ = woken.next() => {},
                _ = cancelled => return Ok(None),
            }
            session = match poll(api, &session, received_at, &mut cancelled).await? {
                Polled::Answer(next) => next,
                Polled::Cancelled => return Ok(None),
                Polled::TimedOut => {
                    ctx.notices
                        .fail("the picking session timed out; press “Pick photos” to start again");
                    return Ok(None);
                }
            };
            received_at = BrowserEnv.now();
            let _ = ctx.run.advance(Event::Polled(session.clone()));
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

/// How one poll ended.
enum Polled {
    /// `sessions.get` answered.
    Answer(PickingSession),
    /// The session's picking time ran out while Google kept failing.
    TimedOut,
    /// The user cancelled while we waited to try again.
    Cancelled,
}

/// One `sessions.get`, ridden through 429s and 5xx: backs off (honouring
/// `Retry-After`, never polling faster than `pollInterval`) and tries again until
/// the session's own picking timeout, which `last`'s answer (received at
/// `received_at`) counts down. Only a permanent error (404: the session is gone;
/// 401: sign in again) ends the wait with an error.
async fn poll(
    api: &PickerApi,
    last: &PickingSession,
    received_at: Duration,
    mut cancelled: &mut oneshot::Receiver<()>,
) -> Result<Polled, ApiError> {
    let env = BrowserEnv;
    let schedule = PollSchedule::new(last.polling_config.as_ref());
    // No timeoutIn at all: the Picker policy's own deadline bounds the retries.
    let timeout = last
        .polling_config
        .as_ref()
        .and_then(|c| c.timeout_in)
        .map_or(RetryPolicy::PICKER.deadline, |t| t.get());
    let mut backoff = Backoff::new(RetryPolicy::PICKER.with_deadline(timeout), received_at);
    loop {
        let err = match api.get_session(&last.id).await {
            Ok(session) => return Ok(Polled::Answer(session)),
            Err(err) => err,
        };
        let wait = match backoff.after(&err, env.now(), env.random()) {
            Verdict::Wait(wait) => wait.max(schedule.interval()),
            Verdict::DeadlinePassed => return Ok(Polled::TimedOut),
            Verdict::Permanent => return Err(err),
        };
        leptos::logging::warn!("polling the picking session: {err}; again in {wait:?}");
        let mut sleep = gloo_timers::future::sleep(wait).fuse();
        futures::select! {
            () = sleep => {},
            _ = cancelled => return Ok(Polled::Cancelled),
        }
    }
}
