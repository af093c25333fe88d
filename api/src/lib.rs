//! api: the helper's own HTTP contract, written once. The helper (axum) serves
//! these types and the browser app (Leptos, wasm32) reads them, so nothing is
//! mirrored by hand: the routes ([`routes`]), their request and response bodies
//! (the patch a client keeps a download with: [`keep`]), the ids they take
//! ([`BatchId`], [`ItemId`], [`DownloadId`]), the enums they answer with ([`Mode`],
//! [`SaveStatus`], [`ErrorKind`]), the capture time ([`CaptureTime`]) and the CSRF
//! header ([`CSRF_HEADER`]).
//!
//! Serde (plus jiff for typed times, metafix for the patch's pieces): it builds for
//! wasm32 and natively alike.
//! Google's own contract (the Picker API, OAuth) is the `picker` crate's.
//!
//! ```
//! use api::{BatchId, ItemId, routes};
//! let batch: BatchId = "b-2024".parse()?;
//! let item: ItemId = "AF1QipN_x".parse()?;
//! assert_eq!(routes::batch_zip(&batch), "/api/batches/b-2024/zip");
//! assert!("../etc".parse::<ItemId>().is_err());
//! # Ok::<(), api::InvalidId>(())
//! ```
#![deny(missing_docs)]

mod capture;
mod ids;
pub mod keep;
pub mod routes;

use jiff::Timestamp;
use jiff::civil::DateTime;
use serde::{Deserialize, Serialize};

pub use capture::{CaptureTime, InvalidCaptureTime};
pub use ids::{BatchId, DownloadId, InvalidId, ItemId};
pub use keep::{KeepError, KeepRequest};

/// Header every state-changing `/api` call must carry: a cross-site form cannot
/// send it, so the helper refuses `PUT`/`POST`/`DELETE` without it.
pub const CSRF_HEADER: &str = "x-requested-with";
/// [`CSRF_HEADER`]'s required value.
pub const CSRF_VALUE: &str = "keepsake";

/// Whom the helper talks to for sign-in and the Picker API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Google itself, with the user's own OAuth client.
    Google,
    /// The built-in Google emulator (`helper serve --demo`).
    Demo,
}

/// `GET /api/config`: what the browser needs before it can sign in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientConfig {
    /// Google or the emulator.
    pub mode: Mode,
    /// Where and how to sign in.
    pub oauth: OAuthConfig,
    /// Picker API base, including `/v1`.
    pub picker_api: String,
    /// Whether this helper serves a family: then every other `/api` call needs a
    /// member signed in (`POST /api/login`).
    pub family: bool,
    /// The signed-in family member, if any.
    pub member: Option<MemberInfo>,
    /// The helper's version and commit (`0.1.0 (1a2b3c4d5e6f)`), for the footer.
    #[serde(default)]
    pub version: String,
}

/// OAuth endpoints and client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthConfig {
    /// OAuth client id.
    pub client_id: String,
    /// Authorization endpoint (browser token flow).
    pub auth_url: String,
    /// Token endpoint (installed-app flow).
    pub token_url: String,
    /// Revocation endpoint.
    pub revoke_url: String,
    /// The one scope the app asks for.
    pub scope: String,
}

/// A family member's name and defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    /// Display name.
    pub name: String,
    /// Default Artist.
    pub artist: Option<String>,
    /// Default Copyright.
    pub copyright: Option<String>,
}

/// `POST /api/login`'s body. The answer is the [`MemberInfo`] and a session cookie.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    /// The member's name.
    pub member: String,
    /// Their passphrase.
    pub passphrase: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never log a passphrase.
        f.debug_struct("LoginRequest")
            .field("member", &self.member)
            .finish_non_exhaustive()
    }
}

/// The cookie that carries a family member's session over plain http (HttpOnly:
/// the app never sees its value).
pub const SESSION_COOKIE: &str = "keepsake_session";

/// The session cookie's name under https: with the `__Host-` prefix, browsers take
/// it only when it is Secure, for `/` and for this host alone, so a page on a
/// sibling host cannot set one (cookie tossing) to sign a member in as someone else.
pub const SECURE_SESSION_COOKIE: &str = "__Host-keepsake_session";

/// The query of `GET /api/timezone`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeZoneQuery {
    /// The IANA name (`Europe/Madrid`).
    pub name: String,
}

/// The query of `PUT /api/batches/{batch}/items/{item_id}` (the body is the file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadQuery {
    /// The file name to save under (already carrying the corrected extension).
    pub filename: String,
    /// When the photo was taken, RFC 3339 with the photographer's offset
    /// (`2019-07-14T11:31:12+02:00`): the instant sets the mtime, the local
    /// wall-clock time names the `<YYYY>/<MM>` folder. Absent when no date is
    /// known: the file goes to `unknown-date/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_time: Option<CaptureTime>,
}

/// Whether a save wrote a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SaveStatus {
    /// A new file was written.
    Saved,
    /// The library already held this item; nothing was written.
    Duplicate,
}

/// The answer to an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaveOutcome {
    /// Saved or duplicate.
    pub status: SaveStatus,
    /// Path relative to the member's folder, with `/` separators.
    pub path: String,
    /// Bytes on disk.
    pub size: u64,
    /// Hex SHA-256 of the file.
    pub sha256: String,
}

/// `POST` [`routes::FETCH`]: the helper downloads an item itself, with the bearer
/// token of this request's `Authorization` header (used for this download only,
/// sent to the URL's own host only, never logged or stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRequest {
    /// The item's `baseUrl` with its suffix (`=d`, `=dv`).
    pub url: String,
    /// Google's file name, for the helper's log and notes.
    #[serde(default)]
    pub filename: String,
}

/// The answer to [`FetchRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FetchAnswer {
    /// The library already holds the item: nothing is fetched. The same
    /// [`SaveOutcome`] (status duplicate) a save gives.
    AlreadySaved(SaveOutcome),
    /// The helper is downloading the item (or has it): read ranges of it at
    /// [`routes::download`], then keep it with [`routes::keep`].
    Fetching(DownloadInfo),
}

/// A download the helper holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadInfo {
    /// Its id, for the range reads and the keep.
    pub download: DownloadId,
    /// Bytes received so far.
    pub received: u64,
    /// The whole length, once the media server said.
    pub total: Option<u64>,
}

/// One saved file, as the library's index records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedFile {
    /// Picker media item id.
    pub item_id: ItemId,
    /// Path relative to the member's folder, with `/` separators.
    pub path: String,
    /// Bytes on disk.
    pub size: u64,
    /// Hex SHA-256.
    pub sha256: String,
    /// The instant of the capture (`None`: no date was known).
    pub capture_time: Option<Timestamp>,
    /// The photographer's wall-clock time at the capture.
    pub capture_local: Option<DateTime>,
    /// The file's CRC-32 (as a zip entry records it), once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<u32>,
    /// The batch that first saved it.
    pub batch: BatchId,
    /// When it was saved.
    pub saved_at: Timestamp,
    /// The file is no longer in the library folder (deleted or moved by someone):
    /// the index still remembers it, and saving the item again writes it anew.
    #[serde(default)]
    pub missing: bool,
}

/// `GET /api/batches/{batch}`: what the batch holds so far, so an interrupted run
/// can resume without downloading those items again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchItems {
    /// The batch id.
    pub batch: BatchId,
    /// Its saved files, in the order they were added.
    pub items: Vec<SavedFile>,
}

/// Items on a history page when the query names no `limit`.
pub const HISTORY_DEFAULT_LIMIT: u32 = 100;
/// Most items on one history page; a larger `limit` is lowered to it.
pub const HISTORY_MAX_LIMIT: u32 = 1000;

/// The query of `GET /api/history`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryQuery {
    /// Most items to answer with ([`HISTORY_DEFAULT_LIMIT`] when absent, at most
    /// [`HISTORY_MAX_LIMIT`], at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Start after this item: the `next` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<HistoryCursor>,
}

impl HistoryQuery {
    /// The page size this query asks for, within 1..=[`HISTORY_MAX_LIMIT`].
    pub fn limit(&self) -> u32 {
        self.limit
            .unwrap_or(HISTORY_DEFAULT_LIMIT)
            .clamp(1, HISTORY_MAX_LIMIT)
    }
}

/// `GET /api/history`: one page of what was saved, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    /// The saved files, newest first.
    pub items: Vec<SavedFile>,
    /// Pass as `before` for the next (older) page; `None` on the last page.
    pub next: Option<HistoryCursor>,
}

/// Where a history page ends: the save time and id of its last item. Clients treat
/// it as an opaque string (`<milliseconds>.<item id>`) and hand it back as `before`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HistoryCursor {
    saved_at_ms: i64,
    item_id: ItemId,
}

/// A `before` that no history page handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid history cursor: pass the `next` of a history page")]
pub struct InvalidCursor;

impl HistoryCursor {
    /// The cursor right after `file` (the last item of a page).
    pub fn after(file: &SavedFile) -> Self {
        HistoryCursor {
            saved_at_ms: file.saved_at.as_millisecond(),
            item_id: file.item_id.clone(),
        }
    }

    /// The save time of the last item seen, in milliseconds since the Unix epoch.
    pub fn saved_at_ms(&self) -> i64 {
        self.saved_at_ms
    }

    /// The id of the last item seen.
    pub fn item_id(&self) -> &ItemId {
        &self.item_id
    }
}

impl std::fmt::Display for HistoryCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Ids never hold a '.', so the first one splits the two parts.
        write!(f, "{}.{}", self.saved_at_ms, self.item_id)
    }
}

impl std::str::FromStr for HistoryCursor {
    type Err = InvalidCursor;

    fn from_str(text: &str) -> Result<Self, InvalidCursor> {
        let (ms, item) = text.split_once('.').ok_or(InvalidCursor)?;
        Ok(HistoryCursor {
            saved_at_ms: ms.parse().map_err(|_| InvalidCursor)?,
            item_id: item.parse().map_err(|_| InvalidCursor)?,
        })
    }
}

impl TryFrom<String> for HistoryCursor {
    type Error = InvalidCursor;

    fn try_from(text: String) -> Result<Self, InvalidCursor> {
        text.parse()
    }
}

impl From<HistoryCursor> for String {
    fn from(cursor: HistoryCursor) -> String {
        cursor.to_string()
    }
}

/// The body of every error the helper's `/api` answers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A short message a person can act on.
    pub error: String,
    /// What a client can do about it, where that is more than showing the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ErrorKind>,
}

/// Errors a client acts on, beyond showing them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The media server refused the download (403): its `baseUrl` expired, or the
    /// picking session ended. List the session again and fetch with a fresh URL.
    MediaForbidden,
    /// The media server refused the bearer token (401): sign in again.
    MediaUnauthorized,
    /// The media server has no such item (404), e.g. a video still processing.
    MediaNotFound,
    /// The media server kept failing, or the download broke off too often.
    MediaFailed,
    /// No such download (finished, given up, or the helper restarted): fetch again.
    UnknownDownload,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_use_the_documented_names() {
        assert_eq!(serde_json::to_string(&Mode::Demo).unwrap(), "\"demo\"");
        assert_eq!(serde_json::to_string(&Mode::Google).unwrap(), "\"google\"");
        assert_eq!(
            serde_json::to_string(&SaveStatus::Duplicate).unwrap(),
            "\"duplicate\""
        );
    }

    #[test]
    fn saved_files_carry_typed_times_as_rfc_3339() {
        let json = r#"{"item_id":"a","path":"2021/03/a.jpg","size":4,"sha256":"00",
            "capture_time":"2021-03-04T04:06:07Z","capture_local":"2021-03-04T05:06:07",
            "batch":"b","saved_at":"2026-11-30T08:00:00Z"}"#;
        let file: SavedFile = serde_json::from_str(json).unwrap();
        assert_eq!(file.capture_local.map(|l| l.hour()), Some(5));
        assert_eq!(
            file.capture_time.map(|t| t.to_string()).as_deref(),
            Some("2021-03-04T04:06:07Z")
        );
        let back = serde_json::to_value(&file).unwrap();
        assert_eq!(back["capture_local"], "2021-03-04T05:06:07");
    }

    #[test]
    fn a_saved_file_is_present_unless_marked_missing() {
        let json = r#"{"item_id":"a","path":"a.jpg","size":4,"sha256":"00",
            "capture_time":"2021-03-04T04:06:07Z","capture_local":"2021-03-04T05:06:07",
            "batch":"b","saved_at":"2026-11-30T08:00:00Z"}"#;
        let mut file: SavedFile = serde_json::from_str(json).unwrap();
        assert!(!file.missing);
        file.missing = true;
        assert_eq!(serde_json::to_value(&file).unwrap()["missing"], true);
    }

    #[test]
    fn history_cursors_round_trip_and_refuse_what_no_page_handed_out() {
        let json = r#"{"item_id":"item-7","path":"a.jpg","size":4,"sha256":"00",
            "capture_time":"2021-03-04T04:06:07Z","capture_local":"2021-03-04T05:06:07",
            "batch":"b","saved_at":"2026-11-30T08:00:00.123Z"}"#;
        let file: SavedFile = serde_json::from_str(json).unwrap();
        let cursor = HistoryCursor::after(&file);
        assert_eq!(cursor.to_string(), "1796025600123.item-7");
        assert_eq!(cursor.to_string().parse::<HistoryCursor>().unwrap(), cursor);
        assert_eq!(cursor.item_id().as_str(), "item-7");
        for bad in ["", "123", "abc.item", "123.", "123.a/b", ".item", "1.2.3"] {
            assert!(bad.parse::<HistoryCursor>().is_err(), "{bad:?}");
        }
        let query: HistoryQuery = serde_json::from_str(r#"{"before":"5.x"}"#).unwrap();
        assert_eq!(query.before.unwrap().saved_at_ms(), 5);
        assert!(serde_json::from_str::<HistoryQuery>(r#"{"before":"x"}"#).is_err());
    }

    #[test]
    fn fetching_answers_a_download_or_the_saved_file() {
        let fetching = FetchAnswer::Fetching(DownloadInfo {
            download: "d1".parse().unwrap(),
            received: 7,
            total: None,
        });
        assert_eq!(
            serde_json::to_value(&fetching).unwrap(),
            serde_json::json!({"fetching": {"download": "d1", "received": 7, "total": null}})
        );
        let saved = FetchAnswer::AlreadySaved(SaveOutcome {
            status: SaveStatus::Duplicate,
            path: "2021/03/a.mp4".into(),
            size: 9,
            sha256: "00".into(),
        });
        let json = serde_json::to_value(&saved).unwrap();
        assert_eq!(json["already_saved"]["status"], "duplicate");
        assert_eq!(serde_json::from_value::<FetchAnswer>(json).unwrap(), saved);
    }

    #[test]
    fn error_kinds_are_optional_and_snake_case() {
        let plain: ErrorBody = serde_json::from_str(r#"{"error":"no"}"#).unwrap();
        assert_eq!(plain.kind, None);
        let body = ErrorBody {
            error: "expired".into(),
            kind: Some(ErrorKind::MediaForbidden),
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"error": "expired", "kind": "media_forbidden"})
        );
    }

    #[test]
    fn a_saved_file_without_a_date_reads_as_none() {
        let json = r#"{"item_id":"a","path":"unknown-date/a.png","size":4,"sha256":"00",
            "capture_time":null,"capture_local":null,"batch":"b","saved_at":"2026-11-30T08:00:00Z"}"#;
        let file: SavedFile = serde_json::from_str(json).unwrap();
        assert_eq!(file.capture_time, None);
        assert_eq!(file.crc32, None);
    }

    #[test]
    fn history_limits_are_kept_in_range() {
        let limit = |limit| {
            HistoryQuery {
                limit,
                before: None,
            }
            .limit()
        };
        assert_eq!(limit(None), HISTORY_DEFAULT_LIMIT);
        assert_eq!(limit(Some(0)), 1);
        assert_eq!(limit(Some(7)), 7);
        assert_eq!(limit(Some(u32::MAX)), HISTORY_MAX_LIMIT);
    }

    #[test]
    fn a_saved_file_with_a_path_like_id_does_not_parse() {
        let json = r#"{"item_id":"../a","path":"a.jpg","size":4,"sha256":"00",
            "capture_time":"2021-03-04T04:06:07Z","capture_local":"2021-03-04T05:06:07",
            "batch":"b","saved_at":"2026-11-30T08:00:00Z"}"#;
        assert!(serde_json::from_str::<SavedFile>(json).is_err());
    }
}
