//! The current `baseUrl` of every item of a picking session. A `baseUrl` lives 60
//! minutes (PICKER-API.md §4); when one expires — or is about to — every client
//! lists the session again for fresh ones. Downloads under way at the same time
//! share one listing: each remembers the [`UrlBook::generation`] its URL came from,
//! and a refresh is only needed if no other download refreshed since.
//!
//! The book is plain data with the time passed in; each shell keeps it behind its
//! own lock and does the listing itself.

use std::collections::HashMap;
use std::time::Duration;

use crate::PickedMediaItem;

/// What the book holds for an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A URL young enough to use, from the listing of this generation.
    Fresh {
        /// The `baseUrl`.
        url: String,
        /// The listing it came from.
        generation: u64,
    },
    /// The listing is older than a URL lives (or the item is not in it): list the
    /// session again unless another download did since this generation.
    Stale {
        /// The listing the book holds.
        generation: u64,
    },
}

/// The `baseUrl`s of one session's items, by item id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlBook {
    generation: u64,
    listed_at: Duration,
    urls: HashMap<String, String>,
    refreshes: u32,
}

impl UrlBook {
    /// URLs older than this are refreshed before use rather than after a refusal
    /// each (Google documents 60 minutes).
    pub const FRESH_FOR: Duration = Duration::from_secs(55 * 60);
    /// How many times one download may ask for fresh URLs: a URL that is refused
    /// again right after a refresh is refused for another reason (the session ended).
    pub const MAX_REFRESHES_PER_ITEM: u32 = 3;

    /// The URLs of `items`, listed at `now` (any monotonic clock the caller keeps).
    pub fn new<'a>(items: impl IntoIterator<Item = &'a PickedMediaItem>, now: Duration) -> Self {
        UrlBook {
            generation: 0,
            listed_at: now,
            urls: urls_of(items),
            refreshes: 0,
        }
    }

    /// The URL of `item_id` at `now`.
    pub fn lookup(&self, item_id: &str, now: Duration) -> Lookup {
        let young = now.saturating_sub(self.listed_at) < Self::FRESH_FOR;
        match self.urls.get(item_id) {
            Some(url) if young => Lookup::Fresh {
                url: url.clone(),
                generation: self.generation,
            },
            _ => Lookup::Stale {
                generation: self.generation,
            },
        }
    }

    /// Whether a download whose URL came from generation `seen` must list the
    /// session again (no other download did since).
    pub fn needs_refresh(&self, seen: u64) -> bool {
        self.generation == seen
    }

    /// Takes a fresh listing made at `now`.
    pub fn refreshed<'a>(
        &mut self,
        items: impl IntoIterator<Item = &'a PickedMediaItem>,
        now: Duration,
    ) {
        self.urls = urls_of(items);
        self.listed_at = now;
        self.generation += 1;
        self.refreshes += 1;
    }

    /// The listing the book holds.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// How many times the session was listed again.
    pub fn refreshes(&self) -> u32 {
        self.refreshes
    }

    /// Whether `item_id` is in the listing.
    pub fn contains(&self, item_id: &str) -> bool {
        self.urls.contains_key(item_id)
    }
}

fn urls_of<'a>(items: impl IntoIterator<Item = &'a PickedMediaItem>) -> HashMap<String, String> {
    items
        .into_iter()
        .map(|item| (item.id.clone(), item.media_file.base_url.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, url: &str) -> PickedMediaItem {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "createTime": "2020-01-01T00:00:00Z",
            "type": "PHOTO",
            "mediaFile": {"baseUrl": url, "mimeType": "image/jpeg", "filename": "a.jpg"}
        }))
        .unwrap()
    }

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn urls_are_fresh_until_shortly_before_they_expire() {
        let book = UrlBook::new(&[item("a", "u1")], MIN);
        assert_eq!(
            book.lookup("a", MIN * 30),
            Lookup::Fresh {
                url: "u1".into(),
                generation: 0
            }
        );
        assert_eq!(book.lookup("a", MIN * 56), Lookup::Stale { generation: 0 });
        assert_eq!(book.lookup("b", MIN), Lookup::Stale { generation: 0 });
    }

    #[test]
    fn concurrent_downloads_share_one_refresh() {
        let mut book = UrlBook::new(&[item("a", "u1"), item("b", "v1")], Duration::ZERO);
        // Both downloads were refused with URLs of generation 0; the first refreshes.
        assert!(book.needs_refresh(0));
        book.refreshed(&[item("a", "u2"), item("b", "v2")], MIN);
        // The second finds the refresh done and uses the new URL.
        assert!(!book.needs_refresh(0));
        assert_eq!(
            book.lookup("b", MIN),
            Lookup::Fresh {
                url: "v2".into(),
                generation: 1
            }
        );
        assert_eq!(book.refreshes(), 1);
    }
}
