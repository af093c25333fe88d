//! Media bytes for `helper pick`: `baseUrl` + `=d`/`=dv` with the bearer token,
//! retried under the one [`RetryPolicy`](super::retry::RetryPolicy), resumed with
//! `Range` where the server allows it, and re-listed for a fresh `baseUrl` when
//! one has expired (a 403 after its 60 minutes).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use futures_util::StreamExt as _;
use indicatif::ProgressBar;
use picker::{MediaSuffix, MediaType, PickedMediaItem};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT_RANGES, CONTENT_RANGE, RANGE};

use super::retry::{self, Attempt, Decision, RetryPolicy};
use super::session::{self, PickerClient};

/// How long to wait for a media server to start answering.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a body may stall between two chunks before it counts as cut.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Most memory reserved up front from a `Content-Length` (a lying header must not
/// allocate gigabytes before a byte arrives).
const MAX_RESERVE: usize = 64 << 20;
/// How many times one item may ask for a fresh `baseUrl`.
const MAX_RELISTS: u32 = 2;

/// Downloads the items of one session, sharing their current `baseUrl`s.
#[derive(Debug)]
pub struct Downloader<'a> {
    client: &'a PickerClient<'a>,
    http: &'a reqwest::Client,
    session: &'a str,
    urls: Mutex<HashMap<String, String>>,
    relist: tokio::sync::Mutex<()>,
    policy: RetryPolicy,
    bar: ProgressBar,
}

/// Where a partly received body stands.
#[derive(Debug, Default)]
struct Partial {
    bytes: Vec<u8>,
    /// Whether the server said it takes `Range` (so a cut body can be resumed).
    resumable: bool,
    /// The whole body's length, once known.
    total: Option<u64>,
}

/// What `Content-Range: bytes START-END/TOTAL` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    /// First byte.
    pub start: u64,
    /// The whole length, when given (`*` otherwise).
    pub total: Option<u64>,
}

/// Parses a `Content-Range` of a 206 answer.
pub fn parse_content_range(value: &str) -> Option<ContentRange> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    if end < start {
        return None;
    }
    let total = match total.trim() {
        "*" => None,
        n => Some(n.parse().ok()?),
    };
    Some(ContentRange { start, total })
}

impl<'a> Downloader<'a> {
    /// A downloader for `items` of `session`, counting bytes on `bar`.
    pub fn new(
        client: &'a PickerClient<'a>,
        http: &'a reqwest::Client,
        session: &'a str,
        items: &[PickedMediaItem],
        bar: ProgressBar,
    ) -> Self {
        let urls = items
            .iter()
            .map(|item| (item.id.clone(), item.media_file.base_url.clone()))
            .collect();
        Downloader {
            client,
            http,
            session,
            urls: Mutex::new(urls),
            relist: tokio::sync::Mutex::new(()),
            policy: RetryPolicy::default(),
            bar,
        }
    }

    fn url_of(&self, id: &str) -> Option<String> {
        self.urls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    /// Lists the session again for fresh `baseUrl`s — once for every download
    /// that found `stale` expired at the same time.
    async fn refresh_urls(&self, id: &str, stale: &str) -> anyhow::Result<()> {
        let _one_at_a_time = self.relist.lock().await;
        if self.url_of(id).as_deref() != Some(stale) {
            return Ok(()); // another download re-listed meanwhile
        }
        let items = self
            .client
            .list_all(self.session)
            .await
            .context("listing the session again for fresh download links")?;
        let mut urls = self.urls.lock().unwrap_or_else(|e| e.into_inner());
        for item in items {
            urls.insert(item.id, item.media_file.base_url);
        }
        Ok(())
    }

    /// The item's bytes: the photo (`=d`) or the video (`=dv`). A video Google is
    /// still processing fails at once with that reason.
    pub async fn fetch(&self, item: &PickedMediaItem) -> anyhow::Result<Bytes> {
        if item.is_processing() {
            bail!(
                "Google is still processing this video (processingStatus PROCESSING); pick it again later"
            );
        }
        let suffix = if item.kind == MediaType::Video {
            MediaSuffix::DownloadVideo
        } else {
            MediaSuffix::Download
        };
        let auth = self.client.auth();
        let started = Instant::now();
        let mut partial = Partial::default();
        let mut counted_length = false;
        let mut made = 0u32;
        let mut relists = 0u32;
        let mut refreshed = false;
        // Answers that lead straight to another attempt (401, 403, 416) are
        // bounded too, so no server can keep us here.
        let mut free_retries = 0u32;
        let mut bearer = auth.bearer().await?;
        loop {
            made += 1;
            let base = self
                .url_of(&item.id)
                .context("the item is no longer in the session")?;
            let url = picker::media_url(&base, suffix);
            let mut request = self.http.get(&url).bearer_auth(&bearer.token);
            let resume_from = partial.bytes.len();
            if resume_from > 0 && partial.resumable {
                request = request.header(RANGE, format!("bytes={resume_from}-"));
            }
            let answered = tokio::time::timeout(ANSWER_TIMEOUT, request.send()).await;
            let (retry_after, last) = match answered {
                Err(_) => (
                    None,
                    format!("no answer within {}s", ANSWER_TIMEOUT.as_secs()),
                ),
                Ok(Err(err)) => (None, format!("{err}")),
                Ok(Ok(res)) => match res.status() {
                    StatusCode::OK | StatusCode::PARTIAL_CONTENT => {
                        let cut = self.receive(res, &mut partial, &mut counted_length).await?;
                        match cut {
                            None => return Ok(Bytes::from(std::mem::take(&mut partial.bytes))),
                            Some(why) => (None, why),
                        }
                    }
                    StatusCode::UNAUTHORIZED if !refreshed => {
                        refreshed = true;
                        free_retries += 1;
                        bearer = auth.rejected(&bearer).await?;
                        continue;
                    }
                    StatusCode::FORBIDDEN if free_retries < 2 * MAX_RELISTS + 2 => {
                        // A 403 means an expired token or an expired baseUrl; the
                        // media server does not say which.
                        free_retries += 1;
                        if auth.is_stale(&bearer).await {
                            bearer = auth.rejected(&bearer).await?;
                            continue;
                        }
                        if relists >= MAX_RELISTS {
                            bail!("forbidden (403) even with a fresh download link and token");
                        }
                        relists += 1;
                        self.refresh_urls(&item.id, &base).await?;
                        bearer = auth.bearer().await?;
                        continue;
                    }
                    StatusCode::RANGE_NOT_SATISFIABLE if free_retries < 2 => {
                        // Our partial copy does not fit the file any more: start over.
                        free_retries += 1;
                        self.forget(&mut partial);
                        continue;
                    }
                    status if retry::is_retryable_status(status.as_u16()) => {
                        (session::retry_after_of(&res), format!("HTTP {status}"))
                    }
                    _ => bail!("{}", session::describe_error(res).await),
                },
            };
            let attempt = Attempt {
                made,
                elapsed: started.elapsed(),
                retry_after,
            };
            match self.policy.decide(attempt, retry::random_unit()) {
                Decision::Wait(wait) => {
                    tracing::debug!(item = %item.id, %last, ?wait, "retrying a download");
                    tokio::time::sleep(wait).await;
                    bearer = auth.bearer().await?;
                }
                Decision::GiveUp => bail!("gave up after {made} attempts; last: {last}"),
            }
        }
    }

    /// Drops a partial copy (and its bytes from the progress bar).
    fn forget(&self, partial: &mut Partial) {
        let had = partial.bytes.len() as u64;
        self.bar
            .set_position(self.bar.position().saturating_sub(had));
        partial.bytes.clear();
        partial.resumable = false;
    }

    /// Reads a 200 or 206 body into `partial`. `Ok(None)` when it is complete,
    /// `Ok(Some(why))` when it broke off (retry, resuming if possible).
    async fn receive(
        &self,
        res: reqwest::Response,
        partial: &mut Partial,
        counted_length: &mut bool,
    ) -> anyhow::Result<Option<String>> {
        let status = res.status();
        let accepts_ranges = res
            .headers()
            .get(ACCEPT_RANGES)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("bytes"));
        if status == StatusCode::PARTIAL_CONTENT {
            let range = res
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_content_range);
            match range {
                Some(range) if range.start == partial.bytes.len() as u64 => {
                    tracing::debug!(from = range.start, "resuming a cut download");
                    partial.total = range.total.or(partial.total);
                }
                // A range we did not ask for: keep nothing of it, start over.
                _ => {
                    self.forget(partial);
                    return Ok(Some("a partial answer for the wrong range".into()));
                }
            }
            partial.resumable = true;
        } else {
            // A whole body: whatever we had is superseded.
            self.forget(partial);
            partial.total = res.content_length();
            partial.resumable = accepts_ranges;
        }
        if let (Some(total), false) = (partial.total, *counted_length) {
            self.bar.inc_length(total);
            *counted_length = true;
            let want = usize::try_from(total)
                .unwrap_or(usize::MAX)
                .min(MAX_RESERVE);
            partial
                .bytes
                .reserve(want.saturating_sub(partial.bytes.len()));
        }
        let mut body = res.bytes_stream();
        loop {
            match tokio::time::timeout(IDLE_TIMEOUT, body.next()).await {
                Err(_) => {
                    return Ok(Some(format!(
                        "the download stalled for {}s",
                        IDLE_TIMEOUT.as_secs()
                    )));
                }
                Ok(None) => break,
                Ok(Some(Ok(chunk))) => {
                    partial.bytes.extend_from_slice(&chunk);
                    self.bar.inc(chunk.len() as u64);
                }
                Ok(Some(Err(err))) => {
                    return Ok(Some(format!(
                        "the connection broke after {} bytes: {err}",
                        partial.bytes.len()
                    )));
                }
            }
        }
        match partial.total {
            Some(total) if (partial.bytes.len() as u64) < total => Ok(Some(format!(
                "the body ended after {} of {total} bytes",
                partial.bytes.len()
            ))),
            Some(total) if (partial.bytes.len() as u64) > total => {
                self.forget(partial);
                Ok(Some("more bytes than announced".into()))
            }
            _ if partial.bytes.is_empty() => bail!("the server sent an empty file"),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_parse() {
        assert_eq!(
            parse_content_range("bytes 100-199/1000"),
            Some(ContentRange {
                start: 100,
                total: Some(1000)
            })
        );
        assert_eq!(
            parse_content_range("bytes 0-0/*"),
            Some(ContentRange {
                start: 0,
                total: None
            })
        );
        for bad in [
            "",
            "bytes */1000",
            "bytes 5-1/10",
            "items 0-1/2",
            "bytes 0-1",
        ] {
            assert_eq!(parse_content_range(bad), None, "{bad:?}");
        }
    }
}
