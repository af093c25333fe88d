//! Downloads of picked items that ride through faults: a body cut off midway is
//! resumed with `Range` (what arrived is kept), 5xx and 429 are retried under
//! [`RetryPolicy::MEDIA`], and a 403 — the `baseUrl` expired (they live 60
//! minutes) — lists the session again for fresh URLs ([`UrlBook`]) and goes on.
//! The finished download is checked against the length the server announced.
//!
//! What to do with each answer ([`plan`], [`parse_content_range`]) is plain code
//! with native unit tests; the rest reads the browser's `fetch` stream.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use futures::lock::Mutex;
use gloo_net::http::Request;
use js_sys::{ArrayBuffer, Uint8Array};
use picker::{MediaSuffix, PickedMediaItem};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::client::{self, ApiError, BrowserEnv, PickerApi};
use crate::retry::{Backoff, RetryEnv, RetryPolicy, Verdict};

/// Google's documented `baseUrl` lifetime is 60 minutes; URLs older than this are
/// refreshed before use rather than after a 403 each.
const FRESH_FOR: Duration = Duration::from_secs(55 * 60);

/// How many times one download may ask for fresh URLs: a URL that is refused
/// again right after a refresh is refused for another reason (the session ended).
const MAX_REFRESHES: u32 = 3;

/// The largest item kept in one `ArrayBuffer` (browsers refuse much more).
const MAX_IN_MEMORY: u64 = 2 << 30;

/// The current `baseUrl` of every item of one picking session, refreshed by
/// listing the session again. Shared by the concurrent downloads of a run, so that
/// many expired URLs cause one listing, not one each.
#[derive(Clone)]
pub struct UrlBook {
    session: Rc<str>,
    book: Rc<Mutex<Book>>,
    refreshes: Rc<RefCell<u32>>,
}

#[derive(Debug)]
struct Book {
    /// Bumped by every refresh; a download remembers the one its URL came from.
    generation: u64,
    /// `Date.now()` of the listing the URLs came from.
    listed_at_ms: f64,
    urls: HashMap<String, String>,
}

impl std::fmt::Debug for UrlBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlBook")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl UrlBook {
    /// The URLs of `items`, just listed from `session`.
    pub fn new<'a>(session: &str, items: impl IntoIterator<Item = &'a PickedMediaItem>) -> Self {
        UrlBook {
            session: session.into(),
            book: Rc::new(Mutex::new(Book {
                generation: 0,
                listed_at_ms: js_sys::Date::now(),
                urls: items
                    .into_iter()
                    .map(|item| (item.id.clone(), item.media_file.base_url.clone()))
                    .collect(),
            })),
            refreshes: Rc::new(RefCell::new(0)),
        }
    }

    /// How many times the session was listed again for fresh URLs.
    pub fn refreshes(&self) -> u32 {
        *self.refreshes.borrow()
    }

    /// The `baseUrl` of `item_id` and the generation it belongs to; refreshed
    /// first when the listing is older than a `baseUrl` lives (a run resumed the
    /// next morning).
    async fn url(&self, api: &PickerApi, item_id: &str) -> Result<(u64, String), ApiError> {
        let generation = {
            let book = self.book.lock().await;
            if js_sys::Date::now() - book.listed_at_ms < FRESH_FOR.as_millis() as f64
                && let Some(url) = book.urls.get(item_id)
            {
                return Ok((book.generation, url.clone()));
            }
            book.generation
        };
        self.refresh(api, generation).await?;
        let book = self.book.lock().await;
        match book.urls.get(item_id) {
            Some(url) => Ok((book.generation, url.clone())),
            None => Err(ApiError::Unexpected {
                status: 200,
                message: "the item is no longer in the picking session".into(),
            }),
        }
    }

    /// Lists the session again, unless another download already did since
    /// `seen` (then its fresh URLs are used).
    async fn refresh(&self, api: &PickerApi, seen: u64) -> Result<(), ApiError> {
        // Held across the listing: the other downloads wait for its result.
        let mut book = self.book.lock().await;
        if book.generation != seen {
            return Ok(());
        }
        let items = api.list_all(&self.session).await?;
        book.urls = items
            .into_iter()
            .map(|item| (item.id, item.media_file.base_url))
            .collect();
        book.listed_at_ms = js_sys::Date::now();
        book.generation += 1;
        *self.refreshes.borrow_mut() += 1;
        Ok(())
    }
}

/// A download that broke off: the bytes so far, in a buffer of the full size.
struct Partial {
    buffer: Uint8Array,
    total: u64,
    received: u64,
}

/// Downloads `item`'s bytes with `suffix` through the helper's proxy, riding
/// through cut bodies, transient errors and expired URLs.
pub async fn download(
    api: &PickerApi,
    urls: &UrlBook,
    item_id: &str,
    suffix: MediaSuffix,
) -> Result<ArrayBuffer, ApiError> {
    let env = BrowserEnv;
    let mut backoff = Backoff::new(RetryPolicy::MEDIA, env.now());
    let mut partial: Option<Partial> = None;
    let mut refreshes = 0;
    loop {
        let (generation, base_url) = urls.url(api, item_id).await?;
        let url = PickerApi::media_url_of(&base_url, suffix);
        let before = partial.as_ref().map_or(0, |p| p.received);
        let err = match attempt(api, &url, &mut partial).await {
            Ok(buffer) => return Ok(buffer),
            Err(err) => err,
        };
        if partial.as_ref().map_or(0, |p| p.received) > before {
            // Bytes arrived: this is progress, not a dead end.
            backoff.reset(env.now());
        }
        if err.status() == 403 && refreshes < MAX_REFRESHES {
            // An expired `baseUrl` answers 403: fresh URLs, then the rest of the
            // bytes from the new one. A 401 from the listing (the token ran out)
            // ends the download as needing a new sign-in.
            refreshes += 1;
            urls.refresh(api, generation).await?;
            continue;
        }
        match backoff.after(&err, env.now(), env.random()) {
            Verdict::Wait(wait) => env.sleep(wait).await,
            Verdict::Permanent | Verdict::DeadlinePassed => return Err(err),
        }
    }
}

/// One request: the whole body on success; otherwise the error, with what
/// arrived kept in `partial` for the next attempt to continue from.
async fn attempt(
    api: &PickerApi,
    url: &str,
    partial: &mut Option<Partial>,
) -> Result<ArrayBuffer, ApiError> {
    let have = partial.as_ref().map(|p| (p.received, p.total));
    let mut request = Request::get(url).header("Authorization", api.bearer());
    if let Some((received, _)) = have {
        request = request.header("Range", &format!("bytes={received}-"));
    }
    let asked = crate::timing::now();
    let response = request.send().await.map_err(ApiError::network)?;
    crate::timing::record("download: headers", asked);
    let headers = response.headers();
    let status = response.status();
    let plan = plan(
        status,
        headers.get("content-range").as_deref(),
        headers
            .get("content-length")
            .and_then(|v| v.trim().parse().ok()),
        headers.get("content-encoding").is_some(),
        have,
    );
    let total = match plan {
        Plan::Error => return Err(client::error_from(response).await),
        Plan::StartOver => {
            *partial = None;
            return Err(ApiError::network(
                "the server could not continue the download; starting over",
            ));
        }
        Plan::Continue { total } => Some(total),
        Plan::Fresh { total } => {
            *partial = None;
            total
        }
    };
    if total.is_some_and(|total| total > MAX_IN_MEMORY) {
        return Err(ApiError::Unexpected {
            status,
            message: "the file is too large to download in one piece".into(),
        });
    }
    let Some(body) = response.body() else {
        return match total {
            Some(0) | None => Ok(ArrayBuffer::new(0)),
            Some(_) => Err(ApiError::network("the answer had no body")),
        };
    };
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let Some(total) = total else {
        // No length to check against, nor to resume from (a compressed answer):
        // read it whole, or fail and start over.
        return read_unsized(&reader).await;
    };
    let mut current = partial.take().unwrap_or_else(|| Partial {
        buffer: Uint8Array::new_with_length(total as u32),
        total,
        received: 0,
    });
    loop {
        let asked = crate::timing::now();
        let chunk = read_chunk(&reader).await;
        crate::timing::record("download: read", asked);
        let chunk = match chunk {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(err) => {
                let received = current.received;
                *partial = Some(current);
                return Err(ApiError::network(format!(
                    "download cut off after {received} of {total} bytes ({err})"
                )));
            }
        };
        let len = u64::from(chunk.length());
        if current.received + len > total {
            // More than announced: nothing in this buffer can be trusted.
            let _ = reader.cancel();
            return Err(ApiError::Unexpected {
                status,
                message: format!("more bytes than the announced {total}"),
            });
        }
        current.buffer.set(&chunk, current.received as u32);
        current.received += len;
    }
    if current.received != total {
        let received = current.received;
        *partial = Some(current);
        return Err(ApiError::network(format!(
            "download ended after {received} of {total} bytes"
        )));
    }
    Ok(current.buffer.buffer())
}

/// A range of an item's bytes, and the length of the whole file.
#[derive(Debug)]
pub struct RangeBytes {
    /// The bytes (fewer than asked only at the end of the file).
    pub bytes: Vec<u8>,
    /// The whole file's length, from `Content-Range`.
    pub total: u64,
}

/// Downloads bytes `range` of `item`'s file (clamped to its end) through the
/// helper's proxy, riding through faults as [`download`] does: a cut body goes
/// on from where it broke, transient errors wait under [`RetryPolicy::MEDIA`],
/// and an expired URL is refreshed. `total`, when known from an earlier range,
/// must not change (else the file changed under us: a permanent error). `have`
/// holds the range's first bytes when the caller has them already: only the rest
/// is downloaded, into the same buffer (one allocation for the whole range).
pub async fn download_range(
    api: &PickerApi,
    urls: &UrlBook,
    item_id: &str,
    suffix: MediaSuffix,
    range: std::ops::Range<u64>,
    total: Option<u64>,
    have: Vec<u8>,
) -> Result<RangeBytes, ApiError> {
    let env = BrowserEnv;
    let mut backoff = Backoff::new(RetryPolicy::MEDIA, env.now());
    let capacity = usize::try_from(range.end.saturating_sub(range.start))
        .unwrap_or(0)
        .min(crate::large::PART_LEN as usize);
    let mut bytes = have;
    bytes.reserve_exact(capacity.saturating_sub(bytes.len()));
    let mut got = RangeBytes {
        bytes,
        total: total.unwrap_or(0),
    };
    let mut known_total = total;
    let mut refreshes = 0;
    loop {
        let (generation, base_url) = urls.url(api, item_id).await?;
        let url = PickerApi::media_url_of(&base_url, suffix);
        let before = got.bytes.len();
        let err = match range_attempt(api, &url, &range, &mut known_total, &mut got.bytes).await {
            Ok(()) => {
                got.total = known_total.unwrap_or(0);
                return Ok(got);
            }
            Err(err) => err,
        };
        if got.bytes.len() > before {
            backoff.reset(env.now());
        }
        if err.status() == 403 && refreshes < MAX_REFRESHES {
            refreshes += 1;
            urls.refresh(api, generation).await?;
            continue;
        }
        match backoff.after(&err, env.now(), env.random()) {
            Verdict::Wait(wait) => env.sleep(wait).await,
            Verdict::Permanent | Verdict::DeadlinePassed => return Err(err),
        }
    }
}

/// One request for the rest of `range` (what `got` lacks); the bytes are
/// appended to `got`, even when the body breaks off.
async fn range_attempt(
    api: &PickerApi,
    url: &str,
    range: &std::ops::Range<u64>,
    total: &mut Option<u64>,
    got: &mut Vec<u8>,
) -> Result<(), ApiError> {
    let start = range.start + got.len() as u64;
    let end = match *total {
        Some(total) => range.end.min(total),
        None => range.end,
    };
    if start >= end {
        return Ok(());
    }
    let response = Request::get(url)
        .header("Authorization", api.bearer())
        .header("Range", &format!("bytes={start}-{}", end - 1))
        .send()
        .await
        .map_err(ApiError::network)?;
    let status = response.status();
    if status != 206 {
        if response.ok() {
            return Err(ApiError::Unexpected {
                status,
                message: "the media server ignored the byte range asked for".into(),
            });
        }
        return Err(client::error_from(response).await);
    }
    let headers = response.headers();
    let Some((first, last, whole)) = headers
        .get("content-range")
        .as_deref()
        .and_then(parse_content_range)
    else {
        return Err(ApiError::Unexpected {
            status,
            message: "a partial answer without a usable Content-Range".into(),
        });
    };
    if total.is_some_and(|known| known != whole) {
        return Err(ApiError::Unexpected {
            status,
            message: format!("the file changed size during the download ({whole} bytes now)"),
        });
    }
    // The server may end the range early only at the end of the file.
    let expected_last = end.min(whole).saturating_sub(1);
    if first != start || last != expected_last || headers.get("content-encoding").is_some() {
        return Err(ApiError::Unexpected {
            status,
            message: format!("asked for bytes {start}-{expected_last}, got {first}-{last}"),
        });
    }
    *total = Some(whole);
    let Some(body) = response.body() else {
        return Err(ApiError::network("the answer had no body"));
    };
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let want = last - first + 1;
    let mut received = 0u64;
    loop {
        let chunk = match read_chunk(&reader).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(err) => {
                return Err(ApiError::network(format!(
                    "download cut off after {received} of {want} bytes ({err})"
                )));
            }
        };
        let len = u64::from(chunk.length());
        if received + len > want {
            let _ = reader.cancel();
            return Err(ApiError::Unexpected {
                status,
                message: format!("more bytes than the {want} asked for"),
            });
        }
        let at = got.len();
        got.resize(at + chunk.length() as usize, 0);
        chunk.copy_to(&mut got[at..]);
        received += len;
    }
    if received != want {
        return Err(ApiError::network(format!(
            "download ended after {received} of {want} bytes"
        )));
    }
    Ok(())
}

/// The next piece of the body; `None` at its end.
async fn read_chunk(
    reader: &web_sys::ReadableStreamDefaultReader,
) -> Result<Option<Uint8Array>, String> {
    let result = JsFuture::from(reader.read())
        .await
        .map_err(|err| client::js_error(&err))?;
    let done = js_sys::Reflect::get(&result, &"done".into())
        .map_err(|err| client::js_error(&err))?
        .as_bool()
        .unwrap_or(false);
    if done {
        return Ok(None);
    }
    js_sys::Reflect::get(&result, &"value".into())
        .map_err(|err| client::js_error(&err))?
        .dyn_into::<Uint8Array>()
        .map(Some)
        .map_err(|_| "the body was not bytes".to_owned())
}

/// Reads a body of unknown length whole.
async fn read_unsized(
    reader: &web_sys::ReadableStreamDefaultReader,
) -> Result<ArrayBuffer, ApiError> {
    let mut chunks = Vec::new();
    let mut len = 0u64;
    while let Some(chunk) = read_chunk(reader).await.map_err(ApiError::network)? {
        len += u64::from(chunk.length());
        if len > MAX_IN_MEMORY {
            let _ = reader.cancel();
            return Err(ApiError::network(
                "the file is too large to download in one piece",
            ));
        }
        chunks.push(chunk);
    }
    let whole = Uint8Array::new_with_length(len as u32);
    let mut at = 0;
    for chunk in chunks {
        whole.set(&chunk, at);
        at += chunk.length();
    }
    Ok(whole.buffer())
}

/// What to do with an answer to a download request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// A whole body (of this length when known); anything kept is dropped.
    Fresh {
        /// Content-Length, unless the body is encoded.
        total: Option<u64>,
    },
    /// The rest of the body, continuing what was kept.
    Continue {
        /// Length of the whole file.
        total: u64,
    },
    /// The kept bytes cannot be continued: drop them and try again from 0.
    StartOver,
    /// An error answer.
    Error,
}

/// Decides about an answer: `status`, its `Content-Range` and `Content-Length`,
/// whether it is content-encoded, and what was kept (`(received, total)`).
pub fn plan(
    status: u16,
    content_range: Option<&str>,
    content_length: Option<u64>,
    encoded: bool,
    have: Option<(u64, u64)>,
) -> Plan {
    match status {
        // The server ignored the range (or none was asked): a whole new body.
        // Its length counts only when the bytes on the wire are the file's.
        200 => Plan::Fresh {
            total: content_length.filter(|_| !encoded),
        },
        206 => {
            let (Some((received, kept_total)), Some((start, end, total))) =
                (have, content_range.and_then(parse_content_range))
            else {
                // A partial answer we did not ask for, or cannot place.
                return Plan::StartOver;
            };
            let len_ok = content_length.is_none_or(|len| len == end - start + 1);
            if start == received && total == kept_total && end + 1 == total && len_ok && !encoded {
                Plan::Continue { total }
            } else {
                Plan::StartOver
            }
        }
        // Our range starts past the end: what we kept does not fit this file.
        416 if have.is_some() => Plan::StartOver,
        _ => Plan::Error,
    }
}

/// Parses `bytes START-END/TOTAL` (a known total only).
pub fn parse_content_range(value: &str) -> Option<(u64, u64, u64)> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.trim().split_once('-')?;
    let (start, end, total) = (
        start.trim().parse::<u64>().ok()?,
        end.trim().parse::<u64>().ok()?,
        total.trim().parse::<u64>().ok()?,
    );
    (start <= end && end < total).then_some((start, end, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_parses_only_what_http_allows() {
        assert_eq!(
            parse_content_range("bytes 100-199/200"),
            Some((100, 199, 200))
        );
        assert_eq!(parse_content_range("bytes 0-0/1"), Some((0, 0, 1)));
        assert_eq!(parse_content_range("bytes */200"), None);
        assert_eq!(parse_content_range("bytes 100-199/*"), None);
        assert_eq!(parse_content_range("bytes 150-100/200"), None);
        assert_eq!(parse_content_range("bytes 100-200/200"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
        assert_eq!(parse_content_range(""), None);
    }

    #[test]
    fn a_fresh_body_takes_its_length_unless_encoded() {
        assert_eq!(
            plan(200, None, Some(500), false, None),
            Plan::Fresh { total: Some(500) }
        );
        assert_eq!(
            plan(200, None, Some(500), true, None),
            Plan::Fresh { total: None }
        );
        assert_eq!(
            plan(200, None, None, false, None),
            Plan::Fresh { total: None }
        );
        // Range ignored: start again with the whole body.
        assert_eq!(
            plan(200, None, Some(500), false, Some((250, 500))),
            Plan::Fresh { total: Some(500) }
        );
    }

    #[test]
    fn a_partial_body_continues_only_exactly_where_we_stopped() {
        let have = Some((250, 500));
        assert_eq!(
            plan(206, Some("bytes 250-499/500"), Some(250), false, have),
            Plan::Continue { total: 500 }
        );
        assert_eq!(
            plan(206, Some("bytes 250-499/500"), None, false, have),
            Plan::Continue { total: 500 }
        );
        // Another starting point, another total, a short range, a wrong length.
        assert_eq!(
            plan(206, Some("bytes 200-499/500"), None, false, have),
            Plan::StartOver
        );
        assert_eq!(
            plan(206, Some("bytes 250-599/600"), None, false, have),
            Plan::StartOver
        );
        assert_eq!(
            plan(206, Some("bytes 250-299/500"), None, false, have),
            Plan::StartOver
        );
        assert_eq!(
            plan(206, Some("bytes 250-499/500"), Some(10), false, have),
            Plan::StartOver
        );
        assert_eq!(plan(206, None, None, false, have), Plan::StartOver);
        // A 206 we never asked for.
        assert_eq!(
            plan(206, Some("bytes 0-9/10"), None, false, None),
            Plan::StartOver
        );
    }

    #[test]
    fn errors_stay_errors_and_416_drops_what_was_kept() {
        assert_eq!(
            plan(416, Some("bytes */500"), None, false, Some((500, 500))),
            Plan::StartOver
        );
        assert_eq!(plan(416, None, None, false, None), Plan::Error);
        for status in [403, 404, 429, 500, 503] {
            assert_eq!(
                plan(status, None, None, false, Some((1, 2))),
                Plan::Error,
                "{status}"
            );
        }
    }
}
