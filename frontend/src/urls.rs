//! The current `baseUrl` of every item of one picking session, shared by the
//! concurrent items of a run: [`picker::UrlBook`]'s rule (URLs refreshed shortly
//! before they expire, one listing for every download that found its URL refused
//! at the same time), behind the tab's lock, listing with the tab's Picker client.

use std::rc::Rc;
use std::time::Duration;

use futures::lock::Mutex;
use picker::{Lookup, PickedMediaItem, UrlBook};

use crate::client::{ApiError, PickerApi};

/// The browser's clock for the book (any monotonic-enough clock does: it only
/// compares ages).
fn now() -> Duration {
    Duration::from_secs_f64(js_sys::Date::now().max(0.0) / 1000.0)
}

/// One session's URLs. Cheap to clone.
#[derive(Clone)]
pub struct Urls {
    session: Rc<str>,
    book: Rc<Mutex<UrlBook>>,
}

impl std::fmt::Debug for Urls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Urls")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl Urls {
    /// The URLs of `items`, just listed from `session`.
    pub fn new<'a>(session: &str, items: impl IntoIterator<Item = &'a PickedMediaItem>) -> Self {
        Urls {
            session: session.into(),
            book: Rc::new(Mutex::new(UrlBook::new(items, now()))),
        }
    }

    /// How many times the session was listed again for fresh URLs.
    pub async fn refreshes(&self) -> u32 {
        self.book.lock().await.refreshes()
    }

    /// The `baseUrl` of `item_id` and the listing it came from; listed again
    /// first when the book is older than a `baseUrl` lives (a run resumed the
    /// next morning).
    pub async fn url(&self, api: &PickerApi, item_id: &str) -> Result<(String, u64), ApiError> {
        // Held across a listing: the other items wait for its result.
        let mut book = self.book.lock().await;
        if let Lookup::Fresh { url, generation } = book.lookup(item_id, now()) {
            return Ok((url, generation));
        }
        let seen = book.generation();
        self.refresh(api, &mut book, seen).await?;
        match book.lookup(item_id, now()) {
            Lookup::Fresh { url, generation } => Ok((url, generation)),
            Lookup::Stale { .. } => Err(ApiError::Unexpected {
                status: 200,
                message: "the item is no longer in the picking session".into(),
            }),
        }
    }

    /// After a download was refused with a URL of listing `seen`: lists the session
    /// again, unless another item already did since.
    pub async fn refused(&self, api: &PickerApi, seen: u64) -> Result<(), ApiError> {
        let mut book = self.book.lock().await;
        self.refresh(api, &mut book, seen).await
    }

    async fn refresh(
        &self,
        api: &PickerApi,
        book: &mut UrlBook,
        seen: u64,
    ) -> Result<(), ApiError> {
        if !book.needs_refresh(seen) {
            return Ok(());
        }
        let items = api.list_all(&self.session).await?;
        book.refreshed(&items, now());
        Ok(())
    }
}
