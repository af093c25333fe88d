//! The batch as plain types: its rows (every item of every "Pick more" session),
//! what a new listing adds to it, its totals and failures, and the phase of the
//! run as a state machine. Nothing here knows about signals or the browser: the
//! app keeps each row's progress in a signal ([`crate::state::Row`]), the tests
//! below in a `RefCell`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use picker::{PickedMediaItem, PickingSession};

use crate::model::{FailedItem, NO_REASON, Progress, Stage, Totals, failure_groups};

/// One row of the batch: the item Google listed, and where its progress is kept.
pub trait Slot: Clone {
    /// A new row for `item`, waiting.
    fn new(item: Arc<PickedMediaItem>) -> Self;
    /// The item.
    fn item(&self) -> &Arc<PickedMediaItem>;
    /// Reads the progress (the app's rows track the read, so a memo over the
    /// batch follows every row).
    fn with_progress<T>(&self, read: impl FnOnce(&Progress) -> T) -> T;
    /// Replaces the progress.
    fn set_progress(&self, progress: Progress);
}

/// Every item of the batch, in the order they were listed; an item picked in
/// several sessions is one row.
#[derive(Debug, Clone)]
pub struct Batch<R> {
    rows: Vec<R>,
    index: HashMap<String, usize>,
}

impl<R> Default for Batch<R> {
    fn default() -> Self {
        Batch {
            rows: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<R: Slot> Batch<R> {
    /// The rows, in listing order.
    pub fn rows(&self) -> &[R] {
        &self.rows
    }

    /// How many items.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// No item yet.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The row of item `id`.
    pub fn get(&self, id: &str) -> Option<&R> {
        self.index.get(id).map(|&at| &self.rows[at])
    }

    /// Adds a listing's items; returns what to process, each row with the item as
    /// this listing gave it (its URLs are the fresh ones): the new rows, and the
    /// rows of items picked again after they failed or were cancelled (reset to
    /// waiting). Items saved, already saved, waiting or under way are left alone,
    /// and an item listed twice counts once.
    pub fn add_items(&mut self, items: Vec<PickedMediaItem>) -> Vec<(R, PickedMediaItem)> {
        let mut seen = HashSet::new();
        let mut again = Vec::new();
        let mut fresh = Vec::new();
        for item in items {
            if !seen.insert(item.id.clone()) {
                continue;
            }
            match self.get(&item.id) {
                Some(row) => {
                    if row.with_progress(|p| matches!(p.stage, Stage::Failed | Stage::Cancelled)) {
                        row.set_progress(Progress::default());
                        again.push((row.clone(), item));
                    }
                }
                None => {
                    let row = R::new(Arc::new(item.clone()));
                    self.index.insert(item.id.clone(), self.rows.len());
                    self.rows.push(row.clone());
                    fresh.push((row, item));
                }
            }
        }
        again.extend(fresh);
        again
    }

    /// Totals over every row.
    pub fn totals(&self) -> Totals {
        let mut totals = Totals::default();
        for row in &self.rows {
            row.with_progress(|p| totals.add(p));
        }
        totals
    }

    /// The failed rows grouped by reason, most common first.
    pub fn failure_groups(&self) -> Vec<(String, usize)> {
        let failed: Vec<Progress> = self
            .rows
            .iter()
            .filter_map(|row| row.with_progress(|p| (p.stage == Stage::Failed).then(|| p.clone())))
            .collect();
        failure_groups(&failed)
    }

    /// Every failed item, in listing order, with why.
    pub fn failed_items(&self) -> Vec<FailedItem> {
        self.rows
            .iter()
            .filter_map(|row| {
                row.with_progress(|p| {
                    (p.stage == Stage::Failed).then(|| FailedItem {
                        id: row.item().id.clone(),
                        name: p
                            .file_name
                            .clone()
                            .unwrap_or_else(|| row.item().media_file.filename.clone()),
                        why: p.error.clone().unwrap_or_else(|| NO_REASON.to_owned()),
                    })
                })
            })
            .collect()
    }

    /// The rows that failed (for `reason`, or for any).
    pub fn failed(&self, reason: Option<&str>) -> Vec<R> {
        self.rows
            .iter()
            .filter(|row| {
                row.with_progress(|p| {
                    p.stage == Stage::Failed && reason.is_none_or(|r| p.error.as_deref() == Some(r))
                })
            })
            .cloned()
            .collect()
    }

    /// How many rows are at `stage`.
    pub fn count(&self, stage: Stage) -> usize {
        self.rows
            .iter()
            .filter(|row| row.with_progress(|p| p.stage == stage))
            .count()
    }
}

/// Where the run is.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Nothing running, nothing picked yet.
    Idle,
    /// Creating a session.
    Creating,
    /// Waiting for the user to pick in Google Photos.
    Picking(PickingSession),
    /// Reading the list of picked items.
    Listing,
    /// Downloading, fixing, saving.
    Processing,
    /// Nothing running; the batch has items (finished, failed or cancelled).
    Done,
}

/// What happens to the run.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The user asks for a new picking session.
    Start,
    /// Google opened it.
    Created(PickingSession),
    /// A poll answered (the session, with a fresh polling config).
    Polled(PickingSession),
    /// The user pressed Done in Google Photos.
    Picked,
    /// A session's items are listed again without picking (a resume, a retry).
    Relist,
    /// The listing is in the batch.
    Listed,
    /// Every item of the run has ended (saved, failed, cancelled, or waiting for
    /// a new sign-in).
    Finished,
    /// The run stopped early: cancelled while picking, timed out, or an error.
    Stopped,
    /// The user starts a new batch: the page lets go of this one.
    Cleared,
}

/// A transition the machine does not allow (a second run started while one is
/// under way, a poll for another session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The phase's name.
    pub from: &'static str,
    /// The event's name.
    pub event: &'static str,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "“{}” cannot happen while {}", self.event, self.from)
    }
}

impl std::error::Error for Refused {}

impl Phase {
    /// A session is open or its items are being processed.
    pub fn is_busy(&self) -> bool {
        !matches!(self, Phase::Idle | Phase::Done)
    }

    /// The phase after `event`; `has_items` says whether the batch holds items
    /// (a stopped run shows its results, an empty one starts over).
    pub fn next(&self, event: Event, has_items: bool) -> Result<Phase, Refused> {
        let rest = if has_items { Phase::Done } else { Phase::Idle };
        match (self, event) {
            (Phase::Idle | Phase::Done, Event::Start) => Ok(Phase::Creating),
            (Phase::Creating, Event::Created(session)) => Ok(Phase::Picking(session)),
            (Phase::Picking(open), Event::Polled(session)) if open.id == session.id => {
                Ok(Phase::Picking(session))
            }
            (Phase::Picking(_), Event::Picked) => Ok(Phase::Listing),
            (Phase::Idle | Phase::Done, Event::Relist) => Ok(Phase::Listing),
            (Phase::Listing, Event::Listed) => Ok(Phase::Processing),
            (Phase::Idle | Phase::Done, Event::Cleared) => Ok(Phase::Idle),
            (Phase::Processing, Event::Finished) => Ok(Phase::Done),
            (
                Phase::Creating | Phase::Picking(_) | Phase::Listing | Phase::Processing,
                Event::Stopped,
            ) => Ok(rest),
            (_, event) => Err(Refused {
                from: self.name(),
                event: event.name(),
            }),
        }
    }

    /// The phase, as a log line says it.
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Creating => "creating a session",
            Phase::Picking(_) => "picking",
            Phase::Listing => "listing",
            Phase::Processing => "processing",
            Phase::Done => "done",
        }
    }
}

impl Event {
    /// The event, as a log line says it.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Start => "start",
            Event::Created(_) => "session created",
            Event::Polled(_) => "polled",
            Event::Picked => "picked",
            Event::Relist => "list again",
            Event::Listed => "listed",
            Event::Finished => "finished",
            Event::Stopped => "stopped",
            Event::Cleared => "cleared",
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;

    #[derive(Debug, Clone)]
    struct TestRow {
        item: Arc<PickedMediaItem>,
        progress: Rc<RefCell<Progress>>,
    }

    impl Slot for TestRow {
        fn new(item: Arc<PickedMediaItem>) -> Self {
            TestRow {
                item,
                progress: Rc::default(),
            }
        }
        fn item(&self) -> &Arc<PickedMediaItem> {
            &self.item
        }
        fn with_progress<T>(&self, read: impl FnOnce(&Progress) -> T) -> T {
            read(&self.progress.borrow())
        }
        fn set_progress(&self, progress: Progress) {
            *self.progress.borrow_mut() = progress;
        }
    }

    fn item(id: &str, url: &str) -> PickedMediaItem {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "createTime": "2024-05-01T10:00:00Z",
            "type": "PHOTO",
            "mediaFile": {
                "baseUrl": url,
                "mimeType": "image/jpeg",
                "filename": format!("{id}.jpg"),
            }
        }))
        .unwrap()
    }

    fn at(stage: Stage) -> Progress {
        Progress {
            stage,
            ..Progress::default()
        }
    }

    fn failed(why: &str) -> Progress {
        Progress {
            stage: Stage::Failed,
            error: Some(why.to_owned()),
            ..Progress::default()
        }
    }

    fn ids(work: &[(TestRow, PickedMediaItem)]) -> Vec<&str> {
        work.iter().map(|(row, _)| row.item.id.as_str()).collect()
    }

    fn session(id: &str) -> PickingSession {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "pickerUri": "https://photos.google.com/picker/x",
            "mediaItemsSet": false,
        }))
        .unwrap()
    }

    #[test]
    fn a_listing_adds_each_item_once_in_order() {
        let mut batch = Batch::<TestRow>::default();
        let work = batch.add_items(vec![item("a", "u1"), item("b", "u1"), item("a", "u1")]);
        assert_eq!(ids(&work), ["a", "b"], "an item listed twice is one row");
        assert_eq!(batch.len(), 2);
        assert_eq!(batch.get("b").unwrap().item.id, "b");
        assert!(batch.get("c").is_none());
    }

    #[test]
    fn pick_more_adds_only_new_items_and_takes_back_failed_and_cancelled_ones() {
        let mut batch = Batch::<TestRow>::default();
        batch.add_items(vec![
            item("saved", "old"),
            item("failed", "old"),
            item("cancelled", "old"),
            item("working", "old"),
            item("duplicate", "old"),
        ]);
        batch.get("saved").unwrap().set_progress(at(Stage::Saved));
        batch.get("failed").unwrap().set_progress(failed("network"));
        batch
            .get("cancelled")
            .unwrap()
            .set_progress(at(Stage::Cancelled));
        batch
            .get("working")
            .unwrap()
            .set_progress(at(Stage::Saving));
        batch
            .get("duplicate")
            .unwrap()
            .set_progress(at(Stage::Duplicate));

        let work = batch.add_items(vec![
            item("new", "fresh"),
            item("saved", "fresh"),
            item("failed", "fresh"),
            item("cancelled", "fresh"),
            item("working", "fresh"),
            item("duplicate", "fresh"),
        ]);
        assert_eq!(ids(&work), ["failed", "cancelled", "new"]);
        assert!(
            work.iter()
                .all(|(_, item)| item.media_file.base_url == "fresh"),
            "work goes with the fresh listing's URLs"
        );
        assert_eq!(batch.len(), 6);
        let stage = |id: &str| batch.get(id).unwrap().with_progress(|p| p.stage);
        assert_eq!(stage("failed"), Stage::Waiting, "reset for the new attempt");
        assert_eq!(stage("cancelled"), Stage::Waiting);
        assert_eq!(stage("saved"), Stage::Saved);
        assert_eq!(stage("working"), Stage::Saving);
        assert_eq!(
            batch
                .get("failed")
                .unwrap()
                .with_progress(|p| p.error.clone()),
            None
        );
    }

    #[test]
    fn five_thousand_items_over_three_sessions_are_one_batch() {
        let mut batch = Batch::<TestRow>::default();
        let session = |from: usize, to: usize| {
            (from..to)
                .map(|n| item(&format!("i{n}"), "u"))
                .collect::<Vec<_>>()
        };
        assert_eq!(batch.add_items(session(0, 2000)).len(), 2000);
        // The second session repeats 500 of the first.
        assert_eq!(batch.add_items(session(1500, 3500)).len(), 1500);
        assert_eq!(batch.add_items(session(3500, 5000)).len(), 1500);
        assert_eq!(batch.len(), 5000);
        assert_eq!(batch.totals().waiting, 5000);
    }

    #[test]
    fn totals_and_failures_read_every_row() {
        let mut batch = Batch::<TestRow>::default();
        batch.add_items((0..6).map(|n| item(&format!("i{n}"), "u")).collect());
        let rows = batch.rows().to_vec();
        rows[0].set_progress(Progress {
            bytes: 10,
            ..at(Stage::Saved)
        });
        rows[1].set_progress(failed("network error"));
        rows[2].set_progress(failed("Google is still processing this video"));
        rows[3].set_progress(failed("network error"));
        rows[4].set_progress(at(Stage::Cancelled));
        let totals = batch.totals();
        assert_eq!(
            (
                totals.items,
                totals.done,
                totals.saved,
                totals.failed,
                totals.waiting
            ),
            (6, 5, 1, 3, 1)
        );
        assert_eq!(totals.cancelled, 1);
        assert_eq!(totals.bytes, 10);
        assert_eq!(
            batch.failure_groups(),
            [
                ("network error".to_owned(), 2),
                ("Google is still processing this video".to_owned(), 1)
            ]
        );
        let failed_ids = |reason| -> Vec<String> {
            batch
                .failed(reason)
                .iter()
                .map(|r| r.item.id.clone())
                .collect()
        };
        assert_eq!(failed_ids(Some("network error")), ["i1", "i3"]);
        assert_eq!(failed_ids(None), ["i1", "i2", "i3"]);
        assert_eq!(batch.count(Stage::Cancelled), 1);
        // Every failed item by name, in listing order, the saved name where known.
        rows[3].set_progress(Progress {
            file_name: Some("i3 (renamed).jpg".into()),
            ..failed("network error")
        });
        let listed: Vec<(String, String, String)> = batch
            .failed_items()
            .into_iter()
            .map(|f| (f.id, f.name, f.why))
            .collect();
        assert_eq!(
            listed,
            [
                ("i1".into(), "i1.jpg".into(), "network error".into()),
                (
                    "i2".into(),
                    "i2.jpg".into(),
                    "Google is still processing this video".into()
                ),
                (
                    "i3".into(),
                    "i3 (renamed).jpg".into(),
                    "network error".into()
                ),
            ]
        );
    }

    #[test]
    fn a_batch_is_cleared_only_when_nothing_runs() {
        assert_eq!(Phase::Done.next(Event::Cleared, true), Ok(Phase::Idle));
        assert_eq!(Phase::Idle.next(Event::Cleared, false), Ok(Phase::Idle));
        for busy in [
            Phase::Creating,
            Phase::Picking(session("s1")),
            Phase::Listing,
            Phase::Processing,
        ] {
            let refused = busy.next(Event::Cleared, true).unwrap_err();
            assert_eq!(refused.event, "cleared");
        }
    }

    #[test]
    fn a_run_goes_through_its_phases_in_order() {
        let s = session("s1");
        let mut phase = Phase::Idle;
        for event in [
            Event::Start,
            Event::Created(s.clone()),
            Event::Polled(s.clone()),
            Event::Picked,
            Event::Listed,
            Event::Finished,
        ] {
            phase = phase.next(event, true).unwrap();
        }
        assert_eq!(phase, Phase::Done);
        // Pick more, from Done.
        assert_eq!(phase.next(Event::Start, true), Ok(Phase::Creating));
        // Resume and retry list again without picking.
        assert_eq!(Phase::Idle.next(Event::Relist, false), Ok(Phase::Listing));
        assert_eq!(Phase::Done.next(Event::Relist, true), Ok(Phase::Listing));
    }

    #[test]
    fn a_second_run_cannot_start_while_one_is_under_way() {
        for busy in [
            Phase::Creating,
            Phase::Picking(session("s1")),
            Phase::Listing,
            Phase::Processing,
        ] {
            assert!(busy.is_busy());
            let refused = busy.next(Event::Start, true).unwrap_err();
            assert_eq!(refused.event, "start");
            assert!(busy.next(Event::Relist, true).is_err());
        }
        assert!(!Phase::Idle.is_busy() && !Phase::Done.is_busy());
    }

    #[test]
    fn a_poll_for_another_session_and_out_of_order_events_are_refused() {
        let picking = Phase::Picking(session("s1"));
        assert!(picking.next(Event::Polled(session("s2")), false).is_err());
        assert!(Phase::Idle.next(Event::Picked, false).is_err());
        assert!(Phase::Idle.next(Event::Listed, false).is_err());
        assert!(Phase::Creating.next(Event::Finished, false).is_err());
        assert!(
            Phase::Done.next(Event::Stopped, true).is_err(),
            "nothing to stop"
        );
        assert_eq!(
            Phase::Listing
                .next(Event::Finished, true)
                .unwrap_err()
                .to_string(),
            "“finished” cannot happen while listing"
        );
    }

    #[test]
    fn a_stopped_run_shows_its_results_or_starts_over() {
        for running in [
            Phase::Creating,
            Phase::Picking(session("s1")),
            Phase::Listing,
            Phase::Processing,
        ] {
            assert_eq!(running.next(Event::Stopped, true), Ok(Phase::Done));
            assert_eq!(running.next(Event::Stopped, false), Ok(Phase::Idle));
        }
    }
}
