//! The app's state as plain types, kept apart from the components so it can be
//! tested without a browser.

use metafix::DatePolicy;
use serde::{Deserialize, Serialize};

/// What the user chose on the settings card (remembered in local storage).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Artist to write; empty leaves the file's own.
    pub artist: String,
    /// Copyright to write; empty leaves the file's own.
    pub copyright: String,
    /// How to treat capture dates.
    pub dates: DatePolicy,
    /// IANA time zone for photos that carry no offset; empty writes UTC.
    pub time_zone: String,
    /// Items the helper downloads for the tab at the same time (more are being
    /// planned and kept meanwhile).
    pub parallel: usize,
}

impl Settings {
    /// The choices offered for [`Settings::parallel`].
    pub const PARALLEL_CHOICES: [usize; 6] = [1, 2, 3, 4, 6, 8];
    /// Items at the same time unless the user says otherwise. Chosen by
    /// `scripts/bench-app 200 4M N` (200 photos of 4 MB, loopback, one run each):
    /// 3 → 8.8 s and a 113 MB JS heap, 4 → 7.1 s and 149 MB, 6 → 6.7 s and 188 MB.
    /// 4 takes most of the gain, and leaves two of the browser's six connections to
    /// the helper free for thumbnails and the API.
    pub const DEFAULT_PARALLEL: usize = 4;

    /// [`Settings::parallel`], kept to the offered range (a stored value may be odd).
    pub fn parallel(&self) -> usize {
        self.parallel.clamp(1, 8)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            artist: String::new(),
            copyright: String::new(),
            dates: DatePolicy::Fill,
            time_zone: String::new(),
            parallel: Settings::DEFAULT_PARALLEL,
        }
    }
}

/// Where one picked item is in its journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Not started.
    Waiting,
    /// The helper fetching the item (the tab reads the ranges the plan needs).
    Downloading,
    /// metafix at work.
    Fixing,
    /// The helper applying the patch and saving the file.
    Saving,
    /// Written to the library.
    Saved,
    /// The library already had it; nothing written.
    Duplicate,
    /// Gave up; see the error.
    Failed,
    /// The user cancelled the run before it was saved.
    Cancelled,
}

impl Stage {
    /// Finished, one way or another.
    pub fn is_done(self) -> bool {
        matches!(
            self,
            Stage::Saved | Stage::Duplicate | Stage::Failed | Stage::Cancelled
        )
    }

    /// Under way: downloading, fixing or saving.
    pub fn is_working(self) -> bool {
        matches!(self, Stage::Downloading | Stage::Fixing | Stage::Saving)
    }

    /// Short label for the UI.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Waiting => "waiting",
            Stage::Downloading => "downloading",
            Stage::Fixing => "fixing",
            Stage::Saving => "saving",
            Stage::Saved => "saved",
            Stage::Duplicate => "already saved",
            Stage::Failed => "failed",
            Stage::Cancelled => "not saved (cancelled)",
        }
    }

    /// A stable machine name (used in `data-stage` attributes).
    pub fn name(self) -> &'static str {
        match self {
            Stage::Waiting => "waiting",
            Stage::Downloading => "downloading",
            Stage::Fixing => "fixing",
            Stage::Saving => "saving",
            Stage::Saved => "saved",
            Stage::Duplicate => "duplicate",
            Stage::Failed => "failed",
            Stage::Cancelled => "cancelled",
        }
    }
}

/// How far one item got.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Stage.
    pub stage: Stage,
    /// Bytes of the fixed file (once known); while the helper fetches the item,
    /// the bytes it holds so far.
    pub bytes: u64,
    /// The whole file's size while the helper fetches it (`bytes` of it are in).
    pub total: Option<u64>,
    /// Why it failed.
    pub error: Option<String>,
    /// Path in the library once saved.
    pub saved_path: Option<String>,
    /// The name the file was saved under.
    pub file_name: Option<String>,
    /// What metafix did.
    pub report: Option<metafix::Report>,
    /// The photographer's UTC offset at capture, when the fixed file says it.
    pub capture_offset: Option<jiff::tz::Offset>,
    /// When it was taken, as the plan decided (the file's own date, else
    /// Google's `createTime`); `None` before the plan, or when neither is known.
    pub capture_time: Option<jiff::Timestamp>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            stage: Stage::Waiting,
            bytes: 0,
            total: None,
            error: None,
            saved_path: None,
            file_name: None,
            report: None,
            capture_offset: None,
            capture_time: None,
        }
    }
}

/// Totals over all items, for the progress bar and the results card.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Items in the batch.
    pub items: usize,
    /// Items finished (saved, duplicate or failed).
    pub done: usize,
    /// Newly saved.
    pub saved: usize,
    /// Already in the library.
    pub duplicates: usize,
    /// Failed.
    pub failed: usize,
    /// Not started yet.
    pub waiting: usize,
    /// Downloading, fixing or saving right now.
    pub working: usize,
    /// Left unsaved by a cancel.
    pub cancelled: usize,
    /// Bytes saved or confirmed.
    pub bytes: u64,
}

impl Totals {
    /// Adds up the progress of every item.
    pub fn of<'a>(progress: impl IntoIterator<Item = &'a Progress>) -> Totals {
        let mut totals = Totals::default();
        for p in progress {
            totals.add(p);
        }
        totals
    }

    /// Counts one more item.
    pub fn add(&mut self, p: &Progress) {
        self.items += 1;
        if p.stage.is_done() {
            self.done += 1;
        }
        match p.stage {
            Stage::Saved => self.saved += 1,
            Stage::Duplicate => self.duplicates += 1,
            Stage::Failed => self.failed += 1,
            Stage::Cancelled => self.cancelled += 1,
            Stage::Waiting => self.waiting += 1,
            Stage::Downloading | Stage::Fixing | Stage::Saving => self.working += 1,
        }
        self.bytes += p.bytes;
    }

    /// Share done, 0–100.
    pub fn percent(&self) -> u32 {
        (self.done * 100)
            .checked_div(self.items)
            .map_or(0, |percent| percent as u32)
    }

    /// Everything finished.
    pub fn finished(&self) -> bool {
        self.items > 0 && self.done == self.items
    }
}

/// What a failed item's error says when it says nothing.
pub const NO_REASON: &str = "no reason given";

/// A failed item as the results card lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedItem {
    /// The item's id.
    pub id: String,
    /// Its file name.
    pub name: String,
    /// Why it failed (the group it is listed under).
    pub why: String,
}

/// The failed items grouped by reason, most common first (then by reason): what
/// the results card lists, each group with its own Retry.
pub fn failure_groups<'a>(
    progress: impl IntoIterator<Item = &'a Progress>,
) -> Vec<(String, usize)> {
    let mut groups: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for p in progress {
        if p.stage == Stage::Failed {
            *groups
                .entry(p.error.as_deref().unwrap_or(NO_REASON))
                .or_default() += 1;
        }
    }
    let mut groups: Vec<(String, usize)> = groups
        .into_iter()
        .map(|(why, n)| (why.to_owned(), n))
        .collect();
    groups.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    groups
}

/// A capture time as the photographer's clock showed it: `2021-03-14 15:09:26
/// +01:00`. The offset is the one the file carries (`offset`), else the one the
/// user's time zone setting (`zone`) had then, else UTC, said so.
pub fn photographer_time(
    instant: jiff::Timestamp,
    offset: Option<jiff::tz::Offset>,
    zone: Option<&jiff::tz::TimeZone>,
) -> String {
    let offset = match (offset, zone) {
        (Some(offset), _) => offset,
        (None, Some(zone)) => zone.to_offset(instant),
        (None, None) => return format!("{} UTC", instant.strftime("%Y-%m-%d %H:%M:%S")),
    };
    let clock = jiff::tz::TimeZone::fixed(offset).to_datetime(instant);
    let seconds = offset.seconds();
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!(
        "{} {sign}{:02}:{:02}",
        clock.strftime("%Y-%m-%d %H:%M:%S"),
        minutes / 60,
        minutes % 60
    )
}

/// Where a run stood at one moment: the baseline [`Pace::since`] measures from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    /// `Date.now()` then.
    pub at_ms: f64,
    /// Items finished then.
    pub done: usize,
    /// Bytes finished then.
    pub bytes: u64,
}

/// How fast a run goes, and how long it has left at that pace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    /// Bytes per second.
    pub bytes_per_sec: f64,
    /// Items per minute.
    pub items_per_min: f64,
    /// Seconds until the remaining items are done.
    pub secs_left: u64,
}

impl Pace {
    /// The pace from `mark` to `now_ms`; `None` until there is something to go by
    /// (a second has passed and an item has finished since the mark).
    pub fn since(mark: Mark, now_ms: f64, totals: &Totals) -> Option<Pace> {
        let elapsed = (now_ms - mark.at_ms) / 1000.0;
        let items = totals.done.checked_sub(mark.done).filter(|n| *n > 0)?;
        if elapsed < 1.0 {
            return None;
        }
        let items_per_sec = items as f64 / elapsed;
        let left = totals.items.saturating_sub(totals.done) as f64;
        Some(Pace {
            bytes_per_sec: totals.bytes.saturating_sub(mark.bytes) as f64 / elapsed,
            items_per_min: items_per_sec * 60.0,
            secs_left: (left / items_per_sec).ceil() as u64,
        })
    }
}

/// `about 3 min`, `about 1 h 20 min`, `under a minute`: a time left as people say it.
pub fn human_duration(secs: u64) -> String {
    match secs {
        0..=59 => "under a minute".to_owned(),
        60..=3599 => format!("about {} min", secs.div_ceil(60)),
        _ => format!(
            "about {} h {} min",
            secs / 3600,
            (secs % 3600).div_ceil(60).min(59)
        ),
    }
}

/// An instant on a clock `offset` from UTC (`2026-11-30 10:05`): the browser's,
/// for when things were saved.
pub fn local_time(instant: jiff::Timestamp, offset: jiff::tz::Offset) -> String {
    jiff::tz::TimeZone::fixed(offset)
        .to_datetime(instant)
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

/// `1.5 KB`, `12.3 MB`: sizes as people read them.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(stage: Stage, bytes: u64) -> Progress {
        Progress {
            stage,
            bytes,
            ..Progress::default()
        }
    }

    #[test]
    fn totals_count_each_outcome() {
        let all = [
            at(Stage::Saved, 10),
            at(Stage::Duplicate, 5),
            at(Stage::Failed, 0),
            at(Stage::Downloading, 0),
            at(Stage::Saving, 0),
            at(Stage::Waiting, 0),
            at(Stage::Cancelled, 0),
            at(Stage::Saved, 0),
        ];
        let totals = Totals::of(&all);
        assert_eq!(
            totals,
            Totals {
                items: 8,
                done: 5,
                saved: 2,
                duplicates: 1,
                failed: 1,
                waiting: 1,
                working: 2,
                cancelled: 1,
                bytes: 15
            }
        );
        assert_eq!(totals.percent(), 62);
        assert!(!totals.finished());
    }

    #[test]
    fn failures_group_by_reason_most_common_first() {
        let failed = |why: &str| Progress {
            stage: Stage::Failed,
            error: Some(why.to_owned()),
            ..Progress::default()
        };
        let all = [
            failed("Google is still processing this video"),
            failed("network error"),
            at(Stage::Saved, 1),
            failed("network error"),
            Progress {
                stage: Stage::Failed,
                ..Progress::default()
            },
        ];
        assert_eq!(
            failure_groups(&all),
            [
                ("network error".to_owned(), 2),
                ("Google is still processing this video".to_owned(), 1),
                ("no reason given".to_owned(), 1),
            ]
        );
        assert!(failure_groups(&[at(Stage::Saved, 1)]).is_empty());
    }

    #[test]
    fn capture_times_read_as_the_photographers_clock() {
        let instant: jiff::Timestamp = "2021-03-14T14:09:26Z".parse().unwrap();
        let madrid = jiff::tz::Offset::from_hours(1).unwrap();
        let new_york = jiff::tz::TimeZone::get("America/New_York").unwrap();
        assert_eq!(
            photographer_time(instant, Some(madrid), Some(&new_york)),
            "2021-03-14 15:09:26 +01:00",
            "the file's own offset wins"
        );
        assert_eq!(
            photographer_time(instant, None, Some(&new_york)),
            "2021-03-14 10:09:26 -04:00",
            "the zone's offset on that day (DST began that morning)"
        );
        assert_eq!(
            photographer_time(instant, None, None),
            "2021-03-14 14:09:26 UTC"
        );
        assert_eq!(
            local_time(instant, jiff::tz::Offset::from_hours(-4).unwrap()),
            "2021-03-14 10:09"
        );
    }

    #[test]
    fn sizes_read_like_a_person_writes_them() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500), "1.5 KB");
        assert_eq!(human_bytes(12_345_678), "12.3 MB");
    }

    #[test]
    fn pace_needs_a_second_and_a_finished_item_then_projects_the_rest() {
        let mark = Mark {
            at_ms: 1_000.0,
            done: 2,
            bytes: 1_000_000,
        };
        let totals = Totals {
            items: 12,
            done: 6,
            bytes: 9_000_000,
            ..Totals::default()
        };
        assert_eq!(Pace::since(mark, 1_500.0, &totals), None, "under a second");
        let same = Totals { done: 2, ..totals };
        assert_eq!(
            Pace::since(mark, 9_000.0, &same),
            None,
            "nothing finished yet"
        );
        // 4 items and 8 MB in 8 s: 1 MB/s, 30 items/min, 6 left → 12 s.
        let pace = Pace::since(mark, 9_000.0, &totals).unwrap();
        assert_eq!(pace.bytes_per_sec, 1_000_000.0);
        assert_eq!(pace.items_per_min, 30.0);
        assert_eq!(pace.secs_left, 12);
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human_duration(12), "under a minute");
        assert_eq!(human_duration(61), "about 2 min");
        assert_eq!(human_duration(3600), "about 1 h 0 min");
        assert_eq!(human_duration(4800), "about 1 h 20 min");
    }

    #[test]
    fn settings_survive_a_round_trip_and_old_versions() {
        let settings = Settings {
            artist: "Ada".into(),
            dates: DatePolicy::Overwrite,
            ..Settings::default()
        };
        let json = serde_json::to_string(&settings).unwrap();
        assert_eq!(serde_json::from_str::<Settings>(&json).unwrap(), settings);
        // A value saved by an older version, missing fields, still loads.
        assert_eq!(
            serde_json::from_str::<Settings>(r#"{"artist":"Ada"}"#).unwrap(),
            Settings {
                artist: "Ada".into(),
                ..Settings::default()
            }
        );
        let odd: Settings = serde_json::from_str(r#"{"parallel":0}"#).unwrap();
        assert_eq!(odd.parallel(), 1, "at least one at a time");
        assert_eq!(Settings::default().parallel(), Settings::DEFAULT_PARALLEL);
    }
}
