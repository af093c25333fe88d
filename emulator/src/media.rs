//! Media bytes: `baseUrl` + `=d`, `=dv`, `=wW-hH[-c]`. Bearer token required (403
//! otherwise), URLs expire, no CORS headers at all (so a browser cannot fetch them
//! and must go through the helper), `=dv` refused while a video is PROCESSING, and
//! the configured body faults (cut mid-body, slow).
//!
//! `=dv` of a ready video answers 302 to the *video host*: a second server on its
//! own loopback port (Google's is `video-downloads.googleusercontent.com`), started
//! at the first such request. Its URLs are signed and expire like `baseUrl`s, need
//! no bearer, and get the whole file whatever `Range` says (200, no
//! `Accept-Ranges`), as that host has been reported to answer (PICKER-API.md §4).
//! `--demo-video-host same` serves `=dv` from the `baseUrl`'s host instead, with
//! `Range`.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use futures_util::StreamExt;
use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use picker::MediaSuffix;
use sha2::Sha256;

use super::config::VideoHost;
use super::faults::{self, BodyFault};
use super::library::{Item, Original, mp4};
use super::rng::Rng;
use super::{Bearer, Emulator, MEDIA_PATH_PREFIX, VIDEO_PATH_PREFIX, clock};

pub(super) fn routes(emu: Emulator) -> Router<Emulator> {
    Router::new()
        .route(&format!("{MEDIA_PATH_PREFIX}{{token}}"), get(media))
        .layer(axum::middleware::from_fn_with_state(
            emu.clone(),
            faults::media_faults,
        ))
        .layer(axum::middleware::from_fn_with_state(
            emu,
            super::downloads::count,
        ))
}

/// The video host's routes (served on its own listener by [`Emulator::video_origin`]).
fn video_routes(emu: Emulator) -> Router {
    Router::new()
        .route(&format!("{VIDEO_PATH_PREFIX}{{token}}"), get(video))
        .layer(axum::middleware::from_fn_with_state(
            emu.clone(),
            faults::media_faults,
        ))
        .layer(axum::middleware::from_fn_with_state(
            emu.clone(),
            super::downloads::count,
        ))
        .with_state(emu)
}

impl Emulator {
    /// The video host's origin (`http://127.0.0.1:PORT`), starting it on a free
    /// loopback port the first time. Only the helper fetches from it (browsers never
    /// see its URLs), so loopback is enough wherever the helper listens.
    pub async fn video_origin(&self) -> std::io::Result<String> {
        self.inner
            .video
            .get_or_try_init(|| async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                let origin = format!("http://{}", listener.local_addr()?);
                let router = video_routes(self.clone());
                tokio::spawn(async move {
                    if let Err(err) = axum::serve(listener, router).await {
                        tracing::error!(error = %err, "the emulator's video host stopped");
                    }
                });
                Ok(origin)
            })
            .await
            .cloned()
    }

    /// The video host's origin, if it has been started.
    pub fn started_video_origin(&self) -> Option<&str> {
        self.inner.video.get().map(String::as_str)
    }
}

/// What a `baseUrl` stands for, signed so it cannot be forged or extended.
#[derive(Debug, PartialEq, Eq)]
struct Claim {
    session_id: String,
    item_id: String,
    expires_ms: i64,
}

/// Bytes of the HMAC-SHA256 tag a `baseUrl` carries (96 bits: unforgeable here,
/// and short enough for URLs that are copied around).
const TAG_BYTES: usize = 12;

impl Emulator {
    fn mac(&self, payload: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.inner.secret)
            .expect("HMAC takes a key of any length");
        mac.update(payload.as_bytes());
        mac
    }

    /// A fresh `baseUrl` for an item of a session, valid for the configured lifetime.
    pub(super) fn base_url(
        &self,
        origin: &str,
        session_id: &str,
        item_id: &str,
        now: Timestamp,
    ) -> String {
        let expires = clock::add(now, self.inner.config.base_url_lifetime).as_millisecond();
        let payload = format!("{session_id}|{item_id}|{expires}");
        let tag = self.mac(&payload).finalize().into_bytes();
        format!(
            "{origin}{MEDIA_PATH_PREFIX}{}.{}",
            hex::encode(payload.as_bytes()),
            hex::encode(&tag[..TAG_BYTES])
        )
    }

    /// The video host's URL of a claim: signed apart from `baseUrl`s (a video URL
    /// cannot be turned into a `baseUrl`, nor the other way round).
    fn video_url(&self, origin: &str, claim: &Claim) -> String {
        let payload = format!(
            "video|{}|{}|{}",
            claim.session_id, claim.item_id, claim.expires_ms
        );
        let tag = self.mac(&payload).finalize().into_bytes();
        format!(
            "{origin}{VIDEO_PATH_PREFIX}{}.{}",
            hex::encode(payload.as_bytes()),
            hex::encode(&tag[..TAG_BYTES])
        )
    }

    fn verify_video(&self, token: &str) -> Option<Claim> {
        let claim = self.verify_signed(token)?;
        claim.strip_prefix("video|").and_then(parse_claim)
    }

    fn verify(&self, token: &str) -> Option<Claim> {
        let claim = self.verify_signed(token)?;
        if claim.starts_with("video|") {
            return None;
        }
        parse_claim(&claim)
    }

    /// The payload of a signed token whose tag is right.
    fn verify_signed(&self, token: &str) -> Option<String> {
        let (payload_hex, tag_hex) = token.split_once('.')?;
        let payload = String::from_utf8(hex::decode(payload_hex).ok()?).ok()?;
        let tag = hex::decode(tag_hex).ok()?;
        if tag.len() != TAG_BYTES {
            return None;
        }
        // Constant-time: a wrong tag never passes, and timing tells nothing.
        self.mac(&payload).verify_truncated_left(&tag).ok()?;
        Some(payload)
    }
}

fn parse_claim(payload: &str) -> Option<Claim> {
    let mut parts = payload.split('|');
    let claim = Claim {
        session_id: parts.next()?.to_owned(),
        item_id: parts.next()?.to_owned(),
        expires_ms: parts.next()?.parse().ok()?,
    };
    parts.next().is_none().then_some(claim)
}

/// Google's media servers answer errors with short HTML, never JSON.
fn media_error(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
        text,
    )
        .into_response()
}

async fn media(
    State(emu): State<Emulator>,
    headers: HeaderMap,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(raw)) = token else {
        return media_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let (token, suffix) = match raw.split_once('=') {
        Some((t, s)) => (t, Some(format!("={s}"))),
        None => (raw.as_str(), None),
    };
    let Some(claim) = emu.verify(token) else {
        return media_error(StatusCode::NOT_FOUND, "Not Found");
    };
    // Bearer token of the session's account, required on every byte request.
    let Bearer::Token(bearer) = super::bearer(&headers) else {
        return media_error(StatusCode::FORBIDDEN, "Forbidden");
    };
    let now = emu.now();
    let index = {
        let st = emu.state();
        let Some(token) = st.tokens.get(&bearer).filter(|t| t.expires > now) else {
            return media_error(StatusCode::FORBIDDEN, "Forbidden");
        };
        if claim.expires_ms <= now.as_millisecond() {
            return media_error(StatusCode::FORBIDDEN, "Forbidden");
        }
        // The session ended (deleted or expired): its items are no longer reachable.
        let Some(session) = st
            .sessions
            .get(&claim.session_id)
            .filter(|s| s.account == token.account && s.expire > now)
        else {
            return media_error(StatusCode::FORBIDDEN, "Forbidden");
        };
        let Some(index) = emu.library().find(&claim.item_id) else {
            return media_error(StatusCode::NOT_FOUND, "Not Found");
        };
        if !session.picked.as_ref().is_some_and(|p| p.contains(&index)) {
            return media_error(StatusCode::FORBIDDEN, "Forbidden");
        }
        index
    };
    let Some(item) = emu.library().get(index) else {
        return media_error(StatusCode::NOT_FOUND, "Not Found");
    };
    // No suffix: Google serves a small rendition.
    let suffix = match suffix {
        None => MediaSuffix::Fit {
            width: 512,
            height: 512,
            crop: false,
        },
        Some(s) => match s.parse::<MediaSuffix>() {
            Ok(s) => s,
            Err(_) => return media_error(StatusCode::BAD_REQUEST, "Bad Request"),
        },
    };
    let video_ready = item.kind == picker::MediaType::Video && !item.is_processing();
    if suffix == MediaSuffix::DownloadVideo
        && video_ready
        && emu.inner.config.video_host == VideoHost::Separate
    {
        return match emu.video_origin().await {
            Ok(origin) => (
                StatusCode::FOUND,
                [(header::LOCATION, emu.video_url(&origin, &claim))],
            )
                .into_response(),
            Err(err) => {
                tracing::error!(error = %err, "cannot start the emulator's video host");
                media_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        };
    }
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    serve(&emu, index, item, suffix, range).await
}

/// `GET /download/{token}` on the video host: the whole video, whatever `Range`
/// says; no bearer needed; the URL expires with the `baseUrl` it came from.
async fn video(
    State(emu): State<Emulator>,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(token)) = token else {
        return media_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let Some(claim) = emu.verify_video(&token) else {
        return media_error(StatusCode::NOT_FOUND, "Not Found");
    };
    if claim.expires_ms <= emu.now().as_millisecond() {
        return media_error(StatusCode::FORBIDDEN, "Forbidden");
    }
    let Some(index) = emu.library().find(&claim.item_id) else {
        return media_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let Some(item) = emu.library().get(index) else {
        return media_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let emu2 = emu.clone();
    let original =
        tokio::task::spawn_blocking(move || emu2.library().get(index).map(Item::original)).await;
    match original {
        Ok(Some(Ok(original))) => {
            let mut res = send_original(&emu, item, original, None);
            res.headers_mut().remove(header::ACCEPT_RANGES);
            res
        }
        _ => media_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    }
}

async fn serve(
    emu: &Emulator,
    index: usize,
    item: &Item,
    suffix: MediaSuffix,
    range: Option<&str>,
) -> Response {
    let is_video = item.kind == picker::MediaType::Video;
    match suffix {
        MediaSuffix::DownloadVideo if !is_video => media_error(StatusCode::NOT_FOUND, "Not Found"),
        // Not transcoded yet: Google's media server has nothing to give.
        MediaSuffix::DownloadVideo if item.is_processing() => {
            media_error(StatusCode::NOT_FOUND, "Not Found")
        }
        // `=d` on a video gives a full-size still, not the video.
        MediaSuffix::Download if is_video => {
            thumbnail(emu, index, item.width, item.height, false).await
        }
        MediaSuffix::Download | MediaSuffix::DownloadVideo => {
            let emu2 = emu.clone();
            let original =
                tokio::task::spawn_blocking(move || emu2.library().get(index).map(Item::original))
                    .await;
            match original {
                Ok(Some(Ok(original))) => send_original(emu, item, original, range),
                _ => media_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
            }
        }
        MediaSuffix::Fit {
            width,
            height,
            crop,
        } => thumbnail(emu, index, width.min(16_383), height.min(16_383), crop).await,
    }
}

/// A JPEG rendition, cached: picker pages and app grids ask for the same sizes.
pub(super) async fn thumbnail(
    emu: &Emulator,
    index: usize,
    width: u32,
    height: u32,
    crop: bool,
) -> Response {
    let key = (index, width, height, crop);
    let cached = emu
        .inner
        .thumbnails
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)
        .cloned();
    let bytes = match cached {
        Some(b) => b,
        None => {
            let emu2 = emu.clone();
            let made = tokio::task::spawn_blocking(move || {
                emu2.library()
                    .get(index)
                    .map(|i| i.thumbnail(width, height, crop))
            })
            .await;
            let Ok(Some(Ok(jpeg))) = made else {
                return media_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
            };
            let b = Bytes::from(jpeg);
            let mut cache = emu
                .inner
                .thumbnails
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            // Bounded: a crawler asking for every size must not fill memory.
            if cache.len() >= 1024 {
                cache.clear();
            }
            cache.insert(key, b.clone());
            b
        }
    };
    let body_fault = emu.draw_body_fault();
    respond_bytes(
        emu,
        "image/jpeg",
        None,
        Original::Whole(bytes),
        body_fault,
        None,
    )
}

fn send_original(emu: &Emulator, item: &Item, original: Original, range: Option<&str>) -> Response {
    // Content-Type follows the bytes (a `.heic` that is JPEG is sent as image/jpeg).
    let content_type = match &original {
        Original::Whole(b) if b.starts_with(&[0xff, 0xd8]) => "image/jpeg",
        Original::Whole(b) if b.starts_with(b"\x89PNG") => "image/png",
        Original::Whole(b) if b.get(8..12) == Some(b"WEBP") => "image/webp",
        _ => item.mime_type,
    };
    let disposition = format!(
        "attachment; filename=\"{}\"",
        item.filename.replace('"', "")
    );
    let body_fault = emu.draw_body_fault();
    let total = original.len();
    let window = match range.map(|r| parse_range(r, total)) {
        None | Some(RangeRequest::Ignored) => None,
        Some(RangeRequest::Satisfiable(start, end)) => Some((start, end)),
        Some(RangeRequest::Unsatisfiable) => {
            let mut res = media_error(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "Requested Range Not Satisfiable",
            );
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
                res.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return res;
        }
    };
    let mut res = respond_bytes(
        emu,
        content_type,
        Some(disposition),
        original,
        body_fault,
        window,
    );
    res.headers_mut()
        .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    res
}

/// What a `Range` header asks for.
#[derive(Debug, PartialEq, Eq)]
enum RangeRequest {
    /// Not a single byte range: answer the whole file (HTTP allows it).
    Ignored,
    /// Bytes `start..=end`.
    Satisfiable(u64, u64),
    /// Starts past the end: 416.
    Unsatisfiable,
}

/// Parses `bytes=a-b`, `bytes=a-` and `bytes=-n` (one range only).
fn parse_range(header: &str, total: u64) -> RangeRequest {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeRequest::Ignored;
    };
    if spec.contains(',') {
        return RangeRequest::Ignored;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeRequest::Ignored;
    };
    let (a, b) = (a.trim(), b.trim());
    let parsed = match (a.is_empty(), b.is_empty()) {
        (false, _) => {
            let Ok(start) = a.parse::<u64>() else {
                return RangeRequest::Ignored;
            };
            let end = if b.is_empty() {
                Some(total.saturating_sub(1))
            } else {
                b.parse::<u64>()
                    .ok()
                    .map(|e| e.min(total.saturating_sub(1)))
            };
            match end {
                Some(end) if end >= start => Some((start, end)),
                Some(_) if start < total => return RangeRequest::Ignored,
                Some(_) => None,
                None => return RangeRequest::Ignored,
            }
        }
        (true, false) => {
            let Ok(n) = b.parse::<u64>() else {
                return RangeRequest::Ignored;
            };
            (n > 0).then(|| (total.saturating_sub(n), total.saturating_sub(1)))
        }
        (true, true) => return RangeRequest::Ignored,
    };
    match parsed {
        Some((start, end)) if start < total => RangeRequest::Satisfiable(start, end),
        _ => RangeRequest::Unsatisfiable,
    }
}

fn respond_bytes(
    emu: &Emulator,
    content_type: &'static str,
    disposition: Option<String>,
    original: Original,
    fault: BodyFault,
    window: Option<(u64, u64)>,
) -> Response {
    let full = original.len();
    let (chunks, total) = match window {
        Some((start, end)) => {
            let (chunks, first) = chunk_stream_from(original, start);
            (
                slice_stream(chunks, start - first, end - start + 1),
                end - start + 1,
            )
        }
        None => (chunk_stream(original), full),
    };
    let body = match fault {
        BodyFault::None => Body::from_stream(chunks.map(Ok::<_, std::io::Error>)),
        BodyFault::Cut => {
            // Send about half, pause so it reaches the client with the headers, then
            // fail the stream: hyper drops the connection and the client sees a body
            // shorter than its Content-Length.
            let cut_at = total / 2;
            let partial = chunks.scan(0u64, move |sent, chunk| {
                let start = *sent;
                *sent += chunk.len() as u64;
                let piece = if start >= cut_at {
                    None
                } else {
                    Some(Ok::<_, std::io::Error>(
                        chunk.slice(..(cut_at - start).min(chunk.len() as u64) as usize),
                    ))
                };
                std::future::ready(piece)
            });
            let cut = futures_util::stream::once(async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected fault: connection cut",
                ))
            });
            Body::from_stream(partial.chain(cut))
        }
        BodyFault::Slow => {
            let speed = emu.inner.config.faults.slow_body_bytes_per_sec.max(1);
            // Pieces of a tenth of a second each.
            let piece = (speed / 10).clamp(1, 64 * 1024) as usize;
            let stream = chunks
                .flat_map(move |chunk| {
                    let pieces: Vec<Bytes> = (0..chunk.len())
                        .step_by(piece)
                        .map(|i| chunk.slice(i..(i + piece).min(chunk.len())))
                        .collect();
                    futures_util::stream::iter(pieces)
                })
                .then(move |p| async move {
                    let secs = p.len() as f64 / speed as f64;
                    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
                    Ok::<_, std::io::Error>(p)
                });
            Body::from_stream(stream)
        }
    };
    let mut res = Response::new(body);
    if let Some((start, end)) = window {
        *res.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{full}")) {
            res.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(total));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400, no-transform"),
    );
    if let Some(d) = disposition.and_then(|d| HeaderValue::from_str(&d).ok()) {
        h.insert(header::CONTENT_DISPOSITION, d);
    }
    res
}

/// Bytes `start..start + len` of a stream of pieces.
fn slice_stream(
    chunks: futures_util::stream::BoxStream<'static, Bytes>,
    start: u64,
    len: u64,
) -> futures_util::stream::BoxStream<'static, Bytes> {
    let stop = start + len;
    chunks
        .scan(0u64, move |pos, chunk| {
            let (from, to) = (*pos, *pos + chunk.len() as u64);
            *pos = to;
            if from >= stop {
                return std::future::ready(None);
            }
            let a = start.saturating_sub(from).min(chunk.len() as u64) as usize;
            let b = (stop - from).min(chunk.len() as u64) as usize;
            std::future::ready(Some(chunk.slice(a..b)))
        })
        .filter(|piece| std::future::ready(!piece.is_empty()))
        .boxed()
}

/// The bytes as 64 KiB pieces; large videos are generated as they are sent.
fn chunk_stream(original: Original) -> futures_util::stream::BoxStream<'static, Bytes> {
    chunk_stream_from(original, 0).0
}

/// The pieces from about `start` on, and the offset of the first one's first byte
/// (at most `start`). A large video's sample data starts at the 64 KiB piece that
/// holds `start`, its generator jumped there: a range read costs its own length,
/// however far into the file it starts (as Google's does).
fn chunk_stream_from(
    original: Original,
    start: u64,
) -> (futures_util::stream::BoxStream<'static, Bytes>, u64) {
    match original {
        Original::Whole(b) => {
            let pieces: Vec<Bytes> = (0..b.len())
                .step_by(mp4::PAYLOAD_CHUNK)
                .map(|i| b.slice(i..(i + mp4::PAYLOAD_CHUNK).min(b.len())))
                .collect();
            (futures_util::stream::iter(pieces).boxed(), 0)
        }
        Original::Streamed { head, spec } => {
            let head_len = head.len() as u64;
            let piece = mp4::PAYLOAD_CHUNK as u64;
            // Whole pieces of sample data before `start` are skipped, not generated.
            let skipped = (start.saturating_sub(head_len) / piece * piece).min(spec.payload_len);
            let mut rng = Rng::new(spec.payload_seed);
            // Each piece but the last is a multiple of 8 bytes: one draw per 8.
            rng.skip(skipped / 8);
            let payload =
                futures_util::stream::unfold((rng, skipped), move |(mut rng, sent)| async move {
                    if sent >= spec.payload_len {
                        return None;
                    }
                    let n = (spec.payload_len - sent).min(piece) as usize;
                    let chunk = Bytes::from(mp4::payload_chunk(&mut rng, n));
                    Some((chunk, (rng, sent + n as u64)))
                });
            if skipped == 0 && start < head_len {
                let stream = futures_util::stream::once(async move { head })
                    .chain(payload)
                    .boxed();
                (stream, 0)
            } else {
                (payload.boxed(), head_len + skipped)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EmulatorConfig;

    #[test]
    fn base_urls_verify_and_resist_tampering() {
        let emu = Emulator::new(EmulatorConfig {
            large_file_count: 0,
            ..EmulatorConfig::default()
        })
        .unwrap();
        let now = Timestamp::now();
        let url = emu.base_url("http://h", "s1", "AF1Qipabc", now);
        let token = url
            .strip_prefix(&format!("http://h{MEDIA_PATH_PREFIX}"))
            .unwrap();
        let claim = emu.verify(token).unwrap();
        assert_eq!(claim.session_id, "s1");
        assert_eq!(claim.item_id, "AF1Qipabc");
        let (payload, sig) = token.split_once('.').unwrap();
        let forged = format!("{}.{sig}", hex::encode(b"s1|AF1Qipabc|99999999999999"));
        assert_eq!(emu.verify(&forged), None);
        assert_eq!(emu.verify(&format!("{payload}.{}", "0".repeat(24))), None);
        assert_eq!(emu.verify("zz.zz"), None);
        assert_eq!(emu.verify("nodot"), None);
    }

    #[tokio::test]
    async fn a_range_deep_in_a_large_video_is_the_same_bytes_as_from_the_start() {
        let emu = Emulator::new(EmulatorConfig {
            large_file_count: 1,
            large_file_size: 3 << 20,
            ..EmulatorConfig::default()
        })
        .unwrap();
        let item = emu
            .library()
            .items()
            .iter()
            .find(|i| i.oddity == crate::library::Oddity::LargeMp4)
            .unwrap();
        let whole: Vec<u8> = chunk_stream(item.original().unwrap())
            .collect::<Vec<Bytes>>()
            .await
            .concat();
        assert_eq!(whole.len() as u64, item.original().unwrap().len());
        let head_len = match item.original().unwrap() {
            Original::Streamed { head, .. } => head.len(),
            Original::Whole(_) => unreachable!("large videos are streamed"),
        };
        for start in [
            0,
            5,
            head_len - 1,
            head_len,
            head_len + 1,
            head_len + 65_536 * 3 + 17,
            whole.len() - 1,
        ] {
            let (stream, first) = chunk_stream_from(item.original().unwrap(), start as u64);
            assert!(first <= start as u64);
            let len = (whole.len() - start).min(200_000) as u64;
            let got: Vec<u8> = slice_stream(stream, start as u64 - first, len)
                .collect::<Vec<Bytes>>()
                .await
                .concat();
            assert_eq!(got, whole[start..start + len as usize], "from {start}");
        }
    }

    #[test]
    fn ranges_parse_like_http() {
        use RangeRequest::*;
        assert_eq!(parse_range("bytes=0-99", 1000), Satisfiable(0, 99));
        assert_eq!(parse_range("bytes=900-", 1000), Satisfiable(900, 999));
        assert_eq!(parse_range("bytes=900-5000", 1000), Satisfiable(900, 999));
        assert_eq!(parse_range("bytes=-100", 1000), Satisfiable(900, 999));
        assert_eq!(parse_range("bytes=1000-", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), Ignored);
        assert_eq!(parse_range("items=0-1", 1000), Ignored);
        assert_eq!(parse_range("bytes=x-1", 1000), Ignored);
        assert_eq!(parse_range("bytes=5-1", 1000), Ignored);
    }

    #[tokio::test]
    async fn slices_cut_across_pieces() {
        let pieces: Vec<Bytes> = vec![
            Bytes::from_static(b"abc"),
            Bytes::from_static(b"defg"),
            Bytes::from_static(b"hi"),
        ];
        let stream = futures_util::stream::iter(pieces).boxed();
        let out: Vec<Bytes> = slice_stream(stream, 2, 5).collect().await;
        assert_eq!(out.concat(), b"cdefg");
    }

    #[test]
    fn a_tag_of_the_wrong_length_is_refused() {
        let emu = Emulator::new(EmulatorConfig {
            large_file_count: 0,
            ..EmulatorConfig::default()
        })
        .unwrap();
        let url = emu.base_url("http://h", "s1", "AF1Qipabc", Timestamp::now());
        let token = url
            .strip_prefix(&format!("http://h{MEDIA_PATH_PREFIX}"))
            .unwrap();
        // A prefix of the right tag is still not the tag.
        assert_eq!(emu.verify(&token[..token.len() - 2]), None);
        assert_eq!(emu.verify(&format!("{token}00")), None);
        assert_eq!(
            emu.verify(&format!("{}abc", &token[..token.len() - 3])),
            None
        );
    }
}
