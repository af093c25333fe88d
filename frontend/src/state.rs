//! The app-wide state: four small contexts — [`Notices`], [`Auth`], [`Prefs`],
//! [`Run`] — created once in `App`, each component taking the ones it reads. The
//! flow takes all four as a [`Ctx`]. The logic they hold is plain code in
//! [`crate::batch`] and [`crate::model`].

use std::sync::Arc;

use futures::channel::oneshot;
use jiff::tz::TimeZone;
use leptos::prelude::*;
use picker::PickedMediaItem;
use serde::{Deserialize, Serialize};

use crate::auth::AccessToken;
use crate::batch::{Batch, Event, Phase, Refused, Slot};
use crate::browser;
use crate::client::{ApiError, BatchId, ClientConfig, PickerApi};
use crate::model::{FailedItem, Progress, Settings, Totals};

/// A message shown above the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// What went wrong, or what to do next.
    pub text: String,
    /// A problem (red) or a hint (blue).
    pub is_error: bool,
}

/// The time zone the settings name, as far as the app knows it (the app has no
/// zone database: the helper sends the one zone's data).
#[derive(Debug, Clone, Default)]
pub enum Zone {
    /// The setting is empty: UTC for photos without an offset.
    #[default]
    Unset,
    /// Being fetched from the helper.
    Loading(String),
    /// Known.
    Ready(String, TimeZone),
    /// The helper has no such zone (or could not be asked): why.
    Unknown(String, String),
}

impl Zone {
    /// The zone, when known.
    pub fn time_zone(&self) -> Option<&TimeZone> {
        match self {
            Zone::Ready(_, zone) => Some(zone),
            _ => None,
        }
    }
}

/// One picked item in the batch: the app's [`Slot`], its progress and thumbnail
/// in signals so a tile re-renders alone. Reference-counted signals, not the
/// arena's: a row's state is freed with the last clone of the row (the batch's,
/// a tile's while it is in the page), so clearing a batch frees all of it.
#[derive(Debug, Clone)]
pub struct Row {
    /// What the Picker said.
    pub item: Arc<PickedMediaItem>,
    /// Object URL of its thumbnail, once loaded.
    pub thumb: ArcRwSignal<Option<String>>,
    /// How far it got.
    pub progress: ArcRwSignal<Progress>,
}

impl Slot for Row {
    fn new(item: Arc<PickedMediaItem>) -> Self {
        Row {
            item,
            thumb: ArcRwSignal::new(None),
            progress: ArcRwSignal::new(Progress::default()),
        }
    }
    fn item(&self) -> &Arc<PickedMediaItem> {
        &self.item
    }
    fn with_progress<T>(&self, read: impl FnOnce(&Progress) -> T) -> T {
        self.progress.with(read)
    }
    fn set_progress(&self, progress: Progress) {
        self.progress.set(progress);
    }
}

/// The message shown above the page (a context of its own).
#[derive(Clone, Copy)]
pub struct Notices(RwSignal<Option<Notice>>);

impl Notices {
    /// The message shown, tracked.
    pub fn current(&self) -> Option<Notice> {
        self.0.get()
    }

    /// Shows a problem.
    pub fn fail(&self, message: &str) {
        self.0.set(Some(Notice {
            text: sentence(message),
            is_error: true,
        }));
    }

    /// Shows a hint.
    pub fn inform(&self, message: &str) {
        self.0.set(Some(Notice {
            text: sentence(message),
            is_error: false,
        }));
    }

    /// Hides the message.
    pub fn clear(&self) {
        self.0.set(None);
    }
}

/// Who is signed in: the helper's configuration (with the family member, if
/// any) and the Google token (a context of its own).
#[derive(Clone, Copy)]
pub struct Auth {
    /// The helper's configuration (`None` while loading).
    pub config: RwSignal<Option<ClientConfig>>,
    /// The Google access token, kept in memory only.
    pub token: RwSignal<Option<AccessToken>>,
}

impl Auth {
    /// Signed in to Google (tracked).
    pub fn signed_in(&self) -> bool {
        self.token.with(Option::is_some)
    }

    /// Forgets the Google token: the user signs in again.
    pub fn sign_out(&self) {
        self.token.set(None);
    }

    /// The helper runs its Google emulator (tracked).
    pub fn is_demo(&self) -> bool {
        self.config
            .with(|c| c.as_ref().is_some_and(|c| c.mode == api::Mode::Demo))
    }

    /// Whether the helper waits for a family member to sign in (tracked).
    pub fn needs_member(&self) -> bool {
        self.config
            .with(|c| c.as_ref().is_some_and(|c| c.family && c.member.is_none()))
    }

    /// A Picker API client with the current token, if signed in and not expired.
    pub fn picker_api(&self) -> Option<PickerApi> {
        let config = self.config.get_untracked()?;
        let token = self.token.get_untracked()?;
        if token.is_expired(browser::now_ms()) {
            self.token.set(None);
            return None;
        }
        Some(PickerApi::new(&config.picker_api, &token.token))
    }
}

/// The settings card and the time zone it names (a context of its own).
#[derive(Clone, Copy)]
pub struct Prefs {
    /// The settings card.
    pub settings: RwSignal<Settings>,
    /// The settings' time zone, loaded from the helper.
    pub zone: RwSignal<Zone>,
}

/// What the progress and results cards show of the whole batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Counts and bytes.
    pub totals: Totals,
    /// Failed items grouped by reason, most common first.
    pub failures: Vec<(String, usize)>,
    /// Every failed item, in listing order (the grid shows only the rows in
    /// view; the results card lists these in full).
    pub failed: Vec<FailedItem>,
}

/// How often the batch's [`Tally`] is counted again while rows change. Counting
/// reads every row: done on every row's change, a 5,000-item batch would do
/// it some 25,000 times per run (tens of billions of reads); a few times a
/// second is as fresh as a person can read.
pub const TALLY_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// This tab's batch and the run over it (a context of its own).
#[derive(Clone, Copy)]
pub struct Run {
    /// This run's batch id (one zip, one history entry).
    pub id: StoredValue<BatchId>,
    /// Where the run is; changed only through [`Run::advance`].
    phase: RwSignal<Phase>,
    /// Every item of the batch, across "Pick more" sessions.
    pub batch: RwSignal<Batch<Row>>,
    /// The item whose details are open.
    pub selected: RwSignal<Option<String>>,
    /// The picking session whose items are not all saved yet (kept for a retry,
    /// and remembered across a sign-in redirect so the run can resume).
    pub open_session: RwSignal<Option<String>>,
    /// Cancels the picking wait, or the processing.
    cancel: StoredValue<Option<oneshot::Sender<()>>>,
    /// Bumped to count the tally again (by the clock, and when the phase moves).
    recount: RwSignal<u64>,
    /// The batch's totals and failures, counted on [`Run::recount`] and when
    /// rows are added — not on every row's change.
    tally: Memo<Tally>,
}

/// Everything the flow touches: the four contexts. `Copy`: every field is a handle.
#[derive(Clone, Copy)]
pub struct Ctx {
    /// The message above the page.
    pub notices: Notices,
    /// Helper configuration and Google sign-in.
    pub auth: Auth,
    /// Settings.
    pub prefs: Prefs,
    /// The batch and its run.
    pub run: Run,
}

/// Key of the remembered settings.
const SETTINGS_KEY: &str = "keepsake.settings";
/// Key of the run to resume after a sign-in redirect (this tab only).
const RUN_KEY: &str = "keepsake.run";

/// A run that was interrupted (by an expired sign-in, a reload) before all of its
/// session's items were saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingRun {
    /// The batch the saved items belong to.
    pub batch: BatchId,
    /// The picking session to list again.
    pub session: String,
}

impl PendingRun {
    /// The run this tab left unfinished, if any.
    pub fn load() -> Option<PendingRun> {
        serde_json::from_str(&browser::session_get(RUN_KEY)?).ok()
    }
}

impl Prefs {
    fn load() -> Self {
        let settings = browser::local_get(SETTINGS_KEY)
            .and_then(|json| serde_json::from_str::<Settings>(&json).ok())
            .unwrap_or_else(|| Settings {
                time_zone: browser::time_zone().unwrap_or_default(),
                ..Settings::default()
            });
        Prefs {
            settings: RwSignal::new(settings),
            zone: RwSignal::new(Zone::Unset),
        }
    }

    /// Changes the settings and remembers them.
    pub fn update(&self, change: impl FnOnce(&mut Settings)) {
        self.settings.update(change);
        if let Ok(json) = serde_json::to_string(&self.settings.get_untracked()) {
            browser::local_set(SETTINGS_KEY, &json);
        }
    }

    /// The settings' time zone, fetched from the helper unless it is already
    /// known: `Ok(None)` when the setting is empty, `Err` (why) when the helper has
    /// no such zone.
    pub async fn time_zone(&self) -> Result<Option<TimeZone>, String> {
        let name = self
            .settings
            .with_untracked(|s| s.time_zone.trim().to_owned());
        if name.is_empty() {
            self.zone.set(Zone::Unset);
            return Ok(None);
        }
        if let Zone::Ready(known, zone) = self.zone.get_untracked()
            && known == name
        {
            return Ok(Some(zone));
        }
        self.zone.set(Zone::Loading(name.clone()));
        let loaded = match crate::client::time_zone_data(&name).await {
            Ok(tzif) => metafix::time_zone_from_tzif(&name, &tzif).map_err(|err| err.to_string()),
            Err(err) if err.status() == 404 => Err(format!("unknown time zone {name:?}")),
            Err(err) => Err(format!("could not load the time zone {name:?}: {err}")),
        };
        // The setting may have changed while this one loaded: only the current one counts.
        let current = self.settings.with_untracked(|s| s.time_zone.trim() == name);
        match loaded {
            Ok(zone) => {
                if current {
                    self.zone.set(Zone::Ready(name, zone.clone()));
                }
                Ok(Some(zone))
            }
            Err(why) => {
                if current {
                    self.zone.set(Zone::Unknown(name, why.clone()));
                }
                Err(why)
            }
        }
    }
}

impl Run {
    fn new(id: BatchId) -> Self {
        let batch = RwSignal::new(Batch::<Row>::default());
        let recount = RwSignal::new(0);
        let tally = Memo::new(move |_| {
            recount.track();
            batch.track();
            untrack(|| {
                batch.with_untracked(|b| Tally {
                    totals: b.totals(),
                    failures: b.failure_groups(),
                    failed: b.failed_items(),
                })
            })
        });
        Run {
            id: StoredValue::new(id),
            phase: RwSignal::new(Phase::Idle),
            batch,
            selected: RwSignal::new(None),
            open_session: RwSignal::new(None),
            cancel: StoredValue::new(None),
            recount,
            tally,
        }
    }

    /// Counts the tally again now.
    pub fn recount(&self) {
        self.recount.update(|n| *n += 1);
    }

    /// Counts the tally again every [`TALLY_EVERY`], for as long as the app runs
    /// (in `App`). An unchanged tally changes nothing on the page.
    pub fn keep_counting(&self) {
        let run = *self;
        leptos::task::spawn_local(async move {
            loop {
                gloo_timers::future::sleep(TALLY_EVERY).await;
                if run.recount.try_update(|n| *n += 1).is_none() {
                    return; // the app is gone
                }
            }
        });
    }

    /// The batch's totals and failures (tracked; at most [`TALLY_EVERY`] old).
    pub fn tally(&self) -> Tally {
        self.tally.get()
    }

    /// Where the run is (tracked).
    pub fn phase(&self) -> Phase {
        self.phase.get()
    }

    /// Reads the phase (tracked).
    pub fn with_phase<T>(&self, read: impl FnOnce(&Phase) -> T) -> T {
        self.phase.with(read)
    }

    /// A session is open or its items are being processed (tracked).
    pub fn is_busy(&self) -> bool {
        self.phase.with(Phase::is_busy)
    }

    /// Moves the run on; a transition the machine refuses changes nothing and
    /// says why (logged): the caller must not go on.
    pub fn advance(&self, event: Event) -> Result<(), Refused> {
        let has_items = self.batch.with_untracked(|b| !b.is_empty());
        let next = self.phase.with_untracked(|p| p.next(event, has_items));
        match next {
            Ok(next) => {
                self.phase.set(next);
                // The cards read the phase with the tally: both fresh together.
                self.recount();
                Ok(())
            }
            Err(refused) => {
                leptos::logging::warn!("run: {refused}");
                Err(refused)
            }
        }
    }

    /// The batch has items (tracked).
    pub fn has_items(&self) -> bool {
        self.batch.with(|b| !b.is_empty())
    }

    /// Totals over the batch (tracked; at most [`TALLY_EVERY`] old).
    pub fn totals(&self) -> Totals {
        self.tally.with(|t| t.totals)
    }

    /// Reads the batch without tracking (the flow's view).
    pub fn peek<T>(&self, read: impl FnOnce(&Batch<Row>) -> T) -> T {
        untrack(|| self.batch.with_untracked(read))
    }

    /// Adds a listing's items to the batch; returns what to process (see
    /// [`Batch::add_items`]).
    pub fn add_items(&self, items: Vec<PickedMediaItem>) -> Vec<(Row, PickedMediaItem)> {
        let mut work = Vec::new();
        untrack(|| self.batch.update(|b| work = b.add_items(items)));
        work
    }

    /// Lets go of the batch (the user starts a new one): its rows, and with them
    /// every row's state, are freed; the next pick saves into a new batch (a
    /// new zip, a new history entry). The saved files stay in the library.
    pub fn clear(&self) {
        self.selected.set(None);
        self.batch.set(Batch::default());
        self.id.set_value(new_batch_id());
        self.recount();
    }

    /// Remembers that `session`'s items are being processed (until [`Run::forget`]).
    pub fn remember(&self, session: &str) {
        self.open_session.set(Some(session.to_owned()));
        let run = PendingRun {
            batch: self.id.get_value(),
            session: session.to_owned(),
        };
        if let Ok(json) = serde_json::to_string(&run) {
            let _ = browser::session_set(RUN_KEY, &json);
        }
    }

    /// The open session is finished (or gone): nothing to resume.
    pub fn forget(&self) {
        self.open_session.set(None);
        browser::session_remove(RUN_KEY);
    }

    /// A receiver that resolves when the user cancels the current wait.
    pub fn cancellation(&self) -> oneshot::Receiver<()> {
        let (sender, receiver) = oneshot::channel();
        self.cancel.set_value(Some(sender));
        receiver
    }

    /// Cancels the current wait, if any.
    pub fn cancel(&self) {
        if let Some(sender) = self.cancel.try_update_value(Option::take).flatten() {
            let _ = sender.send(());
        }
    }
}

impl Ctx {
    /// Creates the state (in `App`) and provides each context.
    pub fn provide(batch: BatchId) -> Self {
        let ctx = Ctx {
            notices: Notices(RwSignal::new(None)),
            auth: Auth {
                config: RwSignal::new(None),
                token: RwSignal::new(None),
            },
            prefs: Prefs::load(),
            run: Run::new(batch),
        };
        provide_context(ctx);
        provide_context(ctx.notices);
        provide_context(ctx.auth);
        provide_context(ctx.prefs);
        provide_context(ctx.run);
        ctx
    }

    /// Loads the helper's configuration again (after a member signs in or out),
    /// and pre-fills the member's Artist and Copyright where the settings have none.
    pub async fn reload_config(&self) {
        match crate::client::load_config().await {
            Ok(mut config) => {
                crate::auth::rebase_demo_config(&mut config, &crate::browser::origin());
                if let Some(member) = &config.member {
                    self.prefs.update(|s| {
                        if s.artist.trim().is_empty() {
                            s.artist = member.artist.clone().unwrap_or_default();
                        }
                        if s.copyright.trim().is_empty() {
                            s.copyright = member.copyright.clone().unwrap_or_default();
                        }
                    });
                }
                self.auth.config.set(Some(config));
            }
            Err(err) => self
                .notices
                .fail(&format!("could not reach the Keepsake helper: {err}")),
        }
    }

    /// Shows why a run stopped, and leaves the flow where the user can go on.
    pub fn stop(&self, message: &str) {
        self.notices.fail(message);
        let _ = self.run.advance(Event::Stopped);
    }

    /// Like [`Ctx::stop`], for a failed call.
    pub fn stop_api(&self, what: &str, err: &ApiError) {
        self.api_failed(what, err);
        let _ = self.run.advance(Event::Stopped);
    }

    /// Shows a failed call; an expired token signs the user out so they can sign in again.
    pub fn api_failed(&self, what: &str, err: &ApiError) {
        if err.needs_sign_in() {
            self.auth.sign_out();
            self.notices.fail(&format!(
                "{what}: your Google sign-in has expired; please sign in again"
            ));
        } else {
            self.notices.fail(&format!("{what}: {err}"));
        }
    }
}

/// A new batch's id: random, else from the clock.
pub fn new_batch_id() -> BatchId {
    browser::random_id()
        .ok()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| {
            format!("b{}", browser::now_ms() as u64)
                .parse()
                .expect("'b' and digits make a valid batch id")
        })
}

/// `message` with a capital first letter (messages are composed from lowercase
/// parts, like error chains).
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_start_with_a_capital() {
        assert_eq!(sentence("could not reach"), "Could not reach");
        assert_eq!(sentence("ünïcode first"), "Ünïcode first");
        assert_eq!(sentence(""), "");
    }
}
