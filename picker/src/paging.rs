//! Listing every page of `mediaItems.list`: the URL of each page, and the guard
//! against a server that never stops (or repeats its `nextPageToken`). Every client
//! walks pages with [`Pages`]; only the HTTP call is its own.

use crate::{MAX_PAGE_SIZE, media_items_url};

/// Why a listing stopped before its last page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PagingError {
    /// The same `nextPageToken` came back twice in a row: following it would loop.
    #[error("the same nextPageToken came back twice")]
    RepeatedToken,
    /// More pages than any session can have (2000 items at 100 a page is 20).
    #[error("the listing did not end after {0} pages")]
    TooManyPages(usize),
}

/// Where a listing of one session stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pages {
    session: String,
    token: Option<String>,
    pages: usize,
    done: bool,
}

impl Pages {
    /// The most pages a listing follows.
    pub const MAX_PAGES: usize = 10_000;

    /// A listing of `session` from its first page.
    pub fn new(session: &str) -> Self {
        Pages {
            session: session.to_owned(),
            token: None,
            pages: 0,
            done: false,
        }
    }

    /// The URL of the next page (the largest page size), or `None` when the last
    /// page has been listed.
    pub fn next_url(&self, api_base: &str) -> Option<String> {
        (!self.done).then(|| {
            media_items_url(
                api_base,
                &self.session,
                Some(MAX_PAGE_SIZE),
                self.token.as_deref(),
            )
        })
    }

    /// Takes a page's `nextPageToken` (absent or empty on the last page).
    pub fn advance(&mut self, next_page_token: Option<&str>) -> Result<(), PagingError> {
        self.pages += 1;
        match next_page_token.filter(|t| !t.is_empty()) {
            None => self.done = true,
            Some(next) if self.token.as_deref() == Some(next) => {
                return Err(PagingError::RepeatedToken);
            }
            Some(_) if self.pages >= Self::MAX_PAGES => {
                return Err(PagingError::TooManyPages(self.pages));
            }
            Some(next) => self.token = Some(next.to_owned()),
        }
        Ok(())
    }

    /// Pages listed so far.
    pub fn pages(&self) -> usize {
        self.pages
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_tokens_to_the_last_page() {
        let mut pages = Pages::new("s1");
        assert_eq!(
            pages.next_url("http://h/v1").as_deref(),
            Some("http://h/v1/mediaItems?sessionId=s1&pageSize=100")
        );
        pages.advance(Some("t2")).unwrap();
        assert_eq!(
            pages.next_url("http://h/v1").as_deref(),
            Some("http://h/v1/mediaItems?sessionId=s1&pageSize=100&pageToken=t2")
        );
        // An empty token ends the listing like an absent one.
        pages.advance(Some("")).unwrap();
        assert_eq!(pages.next_url("http://h/v1"), None);
        assert_eq!(pages.pages(), 2);
    }

    #[test]
    fn a_repeated_token_or_an_endless_listing_is_an_error() {
        let mut pages = Pages::new("s1");
        pages.advance(Some("t")).unwrap();
        assert_eq!(pages.advance(Some("t")), Err(PagingError::RepeatedToken));
        let mut endless = Pages::new("s1");
        let mut last = Ok(());
        for i in 0..Pages::MAX_PAGES {
            last = endless.advance(Some(&format!("t{i}")));
            if last.is_err() {
                break;
            }
        }
        assert_eq!(last, Err(PagingError::TooManyPages(Pages::MAX_PAGES)));
    }
}
