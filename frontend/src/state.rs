//! The app-wide state, shared through a context: signals created once where the
//! state is owned (in `App`), read and written by the components.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::channel::oneshot;
use jiff::tz::TimeZone;
use leptos::prelude::*;
use picker::{PickedMediaItem, PickingSession};
use serde::{Deserialize, Serialize};

use crate::auth::AccessToken;
use crate::browser;
use crate::client::{ApiError, BatchId, ClientConfig, PickerApi};
use crate::model::{Progress, Settings, Stage, Totals};

/// A message shown above the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// What went wrong, or what to do next.
    pub text: String,
    /// A problem (red) or a hint (blue).
    pub is_error: bool,
}

/// Where the app is in the picking flow.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Nothing running.
    Idle,
    /// Creating a session.
    Creating,
    /// Waiting for the user to pick in Google Photos.
    Picking(PickingSession),
    /// Reading the list of picked items.
    Listing,
    /// Downloading, fixing, saving.
    Processing,
    /// The last session's items are all done.
    Done,
}

impl Phase {
    /// A session is open or its items are being processed.
    pub fn is_busy(&self) -> bool {
        !matches!(self, Phase::Idle | Phase::Done)
    }
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

/// One picked item in the batch.
#[derive(Debug, Clone)]
pub struct Row {
    /// What the Picker said.
    pub item: Arc<PickedMediaItem>,
    /// Object URL of its thumbnail, once loaded.
    pub thumb: RwSignal<Option<String>>,
    /// How far it got.
    pub progress: RwSignal<Progress>,
}

/// Shared state. `Copy`: every field is a handle.
#[derive(Clone, Copy)]
pub struct Ctx {
    /// The helper's configuration (`None` while loading).
    pub config: RwSignal<Option<ClientConfig>>,
    /// The Google access token, kept in memory only.
    pub token: RwSignal<Option<AccessToken>>,
    /// A message for the user.
    pub notice: RwSignal<Option<Notice>>,
    /// The settings card.
    pub settings: RwSignal<Settings>,
    /// The settings' time zone, loaded from the helper.
    pub zone: RwSignal<Zone>,
    /// This run's batch id (one zip, one history entry).
    pub batch: StoredValue<BatchId>,
    /// Where the flow is.
    pub phase: RwSignal<Phase>,
    /// Every item of the batch, across "Pick more" sessions.
    pub rows: RwSignal<Vec<Row>>,
    /// The item whose details are open.
    pub selected: RwSignal<Option<String>>,
    /// The picking session whose items are not all saved yet (kept for a retry,
    /// and remembered across a sign-in redirect so the run can resume).
    pub open_session: RwSignal<Option<String>>,
    /// Cancels the picking wait.
    cancel: StoredValue<Option<oneshot::Sender<()>>>,
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

impl Ctx {
    /// Creates the state (in `App`).
    pub fn new(batch: BatchId) -> Self {
        let settings = browser::local_get(SETTINGS_KEY)
            .and_then(|json| serde_json::from_str::<Settings>(&json).ok())
            .unwrap_or_else(|| Settings {
                time_zone: browser::time_zone().unwrap_or_default(),
                ..Settings::default()
            });
        Ctx {
            config: RwSignal::new(None),
            token: RwSignal::new(None),
            notice: RwSignal::new(None),
            settings: RwSignal::new(settings),
            zone: RwSignal::new(Zone::Unset),
            batch: StoredValue::new(batch),
            phase: RwSignal::new(Phase::Idle),
            rows: RwSignal::new(Vec::new()),
            selected: RwSignal::new(None),
            open_session: RwSignal::new(None),
            cancel: StoredValue::new(None),
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

    /// Changes the settings and remembers them.
    pub fn update_settings(&self, change: impl FnOnce(&mut Settings)) {
        self.settings.update(change);
        if let Ok(json) = serde_json::to_string(&self.settings.get_untracked()) {
            browser::local_set(SETTINGS_KEY, &json);
        }
    }

    /// Remembers that `session`'s items are being processed (until [`Ctx::forget_run`]).
    pub fn remember_run(&self, session: &str) {
        self.open_session.set(Some(session.to_owned()));
        let run = PendingRun {
            batch: self.batch.get_value(),
            session: session.to_owned(),
        };
        if let Ok(json) = serde_json::to_string(&run) {
            let _ = browser::session_set(RUN_KEY, &json);
        }
    }

    /// The open session is finished (or gone): nothing to resume.
    pub fn forget_run(&self) {
        self.open_session.set(None);
        browser::session_remove(RUN_KEY);
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

    /// Hides the notice.
    pub fn clear_notice(&self) {
        self.notice.set(None);
    }

    /// Loads the helper's configuration again (after a member signs in or out),
    /// and pre-fills the member's Artist and Copyright where the settings have none.
    pub async fn reload_config(&self) {
        match crate::client::load_config().await {
            Ok(mut config) => {
                crate::auth::rebase_demo_config(&mut config, &crate::browser::origin());
                if let Some(member) = &config.member {
                    self.update_settings(|s| {
                        if s.artist.trim().is_empty() {
                            s.artist = member.artist.clone().unwrap_or_default();
                        }
                        if s.copyright.trim().is_empty() {
                            s.copyright = member.copyright.clone().unwrap_or_default();
                        }
                    });
                }
                self.config.set(Some(config));
            }
            Err(err) => self.fail(&format!("could not reach the Keepsake helper: {err}")),
        }
    }

    /// Whether the helper waits for a family member to sign in.
    pub fn needs_member(&self) -> bool {
        self.config
            .with(|c| c.as_ref().is_some_and(|c| c.family && c.member.is_none()))
    }

    /// Shows a problem.
    pub fn fail(&self, message: &str) {
        self.notice.set(Some(Notice {
            text: sentence(message),
            is_error: true,
        }));
    }

    /// Shows a hint.
    pub fn inform(&self, message: &str) {
        self.notice.set(Some(Notice {
            text: sentence(message),
            is_error: false,
        }));
    }

    /// Shows why a run stopped, and leaves the flow where the user can go on.
    pub fn stop(&self, message: &str) {
        self.fail(message);
        self.settle();
    }

    /// Like [`Ctx::stop`], for a failed call.
    pub fn stop_api(&self, what: &str, err: &ApiError) {
        self.api_failed(what, err);
        self.settle();
    }

    fn settle(&self) {
        let has_rows = self.rows.with_untracked(|rows| !rows.is_empty());
        self.phase
            .set(if has_rows { Phase::Done } else { Phase::Idle });
    }

    /// Shows a failed call; an expired token signs the user out so they can sign in again.
    pub fn api_failed(&self, what: &str, err: &ApiError) {
        if err.needs_sign_in() {
            self.token.set(None);
            self.fail(&format!(
                "{what}: your Google sign-in has expired; please sign in again"
            ));
        } else {
            self.fail(&format!("{what}: {err}"));
        }
    }

    /// Adds the picked items to the batch; returns what to process: the new rows,
    /// and the rows of items picked again after they failed or were cancelled (with
    /// the fresh item, whose URLs are new). Items saved or under way are left alone.
    pub fn add_items(&self, items: Vec<PickedMediaItem>) -> Vec<(Row, PickedMediaItem)> {
        let existing = self.rows.get_untracked();
        let by_id: HashMap<&str, &Row> = existing
            .iter()
            .map(|row| (row.item.id.as_str(), row))
            .collect();
        let mut again = Vec::new();
        let mut again_ids = HashSet::new();
        let mut fresh = Vec::new();
        for item in items {
            match by_id.get(item.id.as_str()) {
                Some(row) => {
                    let retake = row
                        .progress
                        .with_untracked(|p| matches!(p.stage, Stage::Failed | Stage::Cancelled));
                    if retake && again_ids.insert(item.id.clone()) {
                        row.progress.set(Progress::default());
                        again.push(((*row).clone(), item));
                    }
                }
                None => fresh.push(item),
            }
        }
        let rows = new_rows(&existing, fresh);
        self.rows.update(|all| all.extend(rows.iter().cloned()));
        again
            .into_iter()
            .chain(rows.into_iter().map(|row| {
                let item = (*row.item).clone();
                (row, item)
            }))
            .collect()
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

    /// Totals over the batch.
    pub fn totals(&self) -> Totals {
        // Read in place: every progress change of every row recounts them, and a
        // row's progress holds its whole metadata report.
        self.rows.with(|rows| {
            let mut totals = Totals::default();
            for row in rows {
                row.progress.with(|p| totals.add(p));
            }
            totals
        })
    }
}

/// New rows for items not already in the batch (a "Pick more" session may
/// return items picked before).
fn new_rows(existing: &[Row], items: Vec<PickedMediaItem>) -> Vec<Row> {
    let mut seen: HashSet<String> = existing.iter().map(|row| row.item.id.clone()).collect();
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

/// `message` with a capital first letter (messages are composed from lowercase
/// parts, like error chains).
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
