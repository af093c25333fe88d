//! api: the helper's own HTTP contract, written once. The helper (axum) serves
//! these types and the browser app (Leptos, wasm32) reads them, so nothing is
//! mirrored by hand: the routes ([`routes`]), their request and response bodies,
//! the ids they take ([`BatchId`], [`ItemId`]), the enums they answer with
//! ([`Mode`], [`SaveStatus`]) and the CSRF header ([`CSRF_HEADER`]).
//!
//! Serde only (plus jiff for typed times): it builds for wasm32 and natively alike.
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

mod ids;
pub mod routes;

use jiff::Timestamp;
use jiff::civil::DateTime;
use serde::{Deserialize, Serialize};

pub use ids::{BatchId, InvalidId, ItemId, UploadId};

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

/// The cookie that carries a family member's session (HttpOnly: the app never
/// sees its value).
pub const SESSION_COOKIE: &str = "keepsake_session";

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
    /// wall-clock time names the `<YYYY>/<MM>` folder.
    pub capture_time: String,
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

/// The most bytes one part of a resumable upload may carry
/// ([`routes::UPLOAD_PART`]); the helper refuses larger parts with 413.
pub const UPLOAD_PART_MAX: u64 = 64 << 20;

/// A resumable upload, for files too large to send in one request (videos of
/// several GB): `POST` [`routes::UPLOAD_BEGIN`]`?size=…&fingerprint=…` begins one
/// (or finds the one already under way for this member, batch and item, after a
/// cut or a restart of either side, if it is of the same file: [`BeginQuery`]), or
/// answers at once that the item is already saved ([`UploadBegun`]), `PUT` [`routes::UPLOAD_PART`]`?offset=N` appends a part that must
/// start exactly at `received`, `GET` [`routes::UPLOAD_PART`] says how much has
/// arrived, and `POST` [`routes::UPLOAD_COMMIT`] publishes the file atomically and
/// answers the same [`SaveOutcome`] as the one-request upload.
///
/// The state of an upload: the answer to asking it, to a part, and (as
/// [`UploadBegun::Uploading`]) to beginning it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadStatus {
    /// The upload's id, for the part, state and commit URLs.
    pub upload_id: UploadId,
    /// Bytes the helper holds: the next part starts here.
    pub received: u64,
}

/// What the bytes of a resumable upload will be, named before the first part is
/// sent: a 64-bit XXH64 hash (hex) of the output's length and of every edit the
/// app makes to the original as it streams past. The same item saved with other
/// settings (another dates policy, time zone…) gets other edits, so another
/// fingerprint; the helper then discards the parts it holds rather than append
/// bytes patched one way to bytes patched another.
///
/// XXH64 (`xxhash-rust`), not a cryptographic hash: this is no security boundary
/// (a member can only spoil their own upload), the input is a few hundred bytes,
/// and it keeps the browser app small (XXH3-128 made the .wasm 2.3 KB gzipped
/// larger than XXH64); two settings of one item colliding is a 2⁻⁶⁴ chance. Built with [`UploadFingerprint::of_edits`]; any other
/// value is 16 lowercase hex digits or it does not parse.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UploadFingerprint(String);

/// A fingerprint that is not 16 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid upload fingerprint: use 16 lowercase hex digits")]
pub struct InvalidFingerprint;

impl UploadFingerprint {
    /// Hex digits in a fingerprint.
    pub const LEN: usize = 16;

    /// The fingerprint of a file of `len` bytes made of an original of the same
    /// length with `edits` (each: its offset and the bytes written there, in file
    /// order) applied. The encoding is length-prefixed, so no two different lists
    /// of edits hash the same bytes.
    pub fn of_edits<'a>(len: u64, edits: impl IntoIterator<Item = (u64, &'a [u8])>) -> Self {
        let mut hash = xxhash_rust::xxh64::Xxh64::new(0);
        hash.update(b"keepsake upload v2");
        hash.update(&len.to_le_bytes());
        for (offset, bytes) in edits {
            hash.update(&offset.to_le_bytes());
            hash.update(&(bytes.len() as u64).to_le_bytes());
            hash.update(bytes);
        }
        UploadFingerprint(format!("{:016x}", hash.digest()))
    }

    /// The fingerprint as text (16 lowercase hex digits).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UploadFingerprint {
    type Error = InvalidFingerprint;

    fn try_from(text: String) -> Result<Self, InvalidFingerprint> {
        let ok = text.len() == Self::LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if ok {
            Ok(UploadFingerprint(text))
        } else {
            Err(InvalidFingerprint)
        }
    }
}

impl std::str::FromStr for UploadFingerprint {
    type Err = InvalidFingerprint;

    fn from_str(text: &str) -> Result<Self, InvalidFingerprint> {
        UploadFingerprint::try_from(text.to_owned())
    }
}

impl From<UploadFingerprint> for String {
    fn from(fingerprint: UploadFingerprint) -> String {
        fingerprint.0
    }
}

impl std::fmt::Display for UploadFingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The query of beginning a resumable upload (`POST` [`routes::UPLOAD_BEGIN`]):
/// what the whole file will be. An upload of the item already under way with
/// another size or fingerprint holds bytes of another file: the helper discards
/// it and begins anew.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeginQuery {
    /// The whole file's length.
    pub size: u64,
    /// What its bytes will be.
    pub fingerprint: UploadFingerprint,
}

/// The answer to beginning a resumable upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadBegun {
    /// Send the parts: an upload begun, or the one under way (`received` > 0).
    Uploading(UploadStatus),
    /// The library already holds the item: nothing to send, no upload was made.
    /// The same [`SaveOutcome`] (status duplicate) the one-request upload gives.
    AlreadySaved(SaveOutcome),
}

/// The query of a part (`PUT` [`routes::UPLOAD_PART`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartQuery {
    /// Where the part starts in the file: the upload's `received`, or the helper
    /// answers 409 with an [`UploadConflict`].
    pub offset: u64,
}

/// The query of a commit (`POST` [`routes::UPLOAD_COMMIT`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitQuery {
    /// The file name to save under (already carrying the corrected extension).
    pub filename: String,
    /// When it was taken, as in [`UploadQuery::capture_time`].
    pub capture_time: String,
    /// The whole file's length: the helper refuses (409) a commit of an upload
    /// holding any other number of bytes.
    pub size: u64,
}

/// The body of a 409 from a part or a commit: the offset does not follow what
/// the helper holds. Resume from `received`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadConflict {
    /// What did not fit, for people.
    pub error: String,
    /// Bytes the helper holds.
    pub received: u64,
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
    /// The instant of the capture.
    pub capture_time: Timestamp,
    /// The photographer's wall-clock time at the capture.
    pub capture_local: DateTime,
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
        assert_eq!(file.capture_local.hour(), 5);
        assert_eq!(file.capture_time.to_string(), "2021-03-04T04:06:07Z");
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
    fn upload_fingerprints_follow_every_edit() {
        // Streamed in pieces, the hash is XXH64 of the whole (the crate's
        // one-shot function): the length prefixes are all that is added.
        let mut expected = b"keepsake upload v2".to_vec();
        expected.extend_from_slice(&7u64.to_le_bytes());
        expected.extend_from_slice(&3u64.to_le_bytes());
        expected.extend_from_slice(&2u64.to_le_bytes());
        expected.extend_from_slice(b"hi");
        assert_eq!(
            UploadFingerprint::of_edits(7, [(3, &b"hi"[..])]).as_str(),
            format!("{:016x}", xxhash_rust::xxh64::xxh64(&expected, 0))
        );

        let of = |len: u64, edits: &[(u64, &[u8])]| {
            UploadFingerprint::of_edits(len, edits.iter().map(|&(at, bytes)| (at, bytes)))
        };
        let base = of(1000, &[(40, b"\x01\x02"), (90, b"\x03")]);
        assert_eq!(
            base,
            of(1000, &[(40, b"\x01\x02"), (90, b"\x03")]),
            "stable"
        );
        assert_eq!(base.as_str().len(), UploadFingerprint::LEN);
        for other in [
            of(1001, &[(40, b"\x01\x02"), (90, b"\x03")]),
            of(1000, &[(41, b"\x01\x02"), (90, b"\x03")]),
            of(1000, &[(40, b"\x01\x09"), (90, b"\x03")]),
            of(1000, &[(40, b"\x01\x02")]),
            of(1000, &[]),
            // The same bytes cut into other edits.
            of(1000, &[(40, b"\x01"), (41, b"\x02"), (90, b"\x03")]),
        ] {
            assert_ne!(other, base);
        }
    }

    #[test]
    fn upload_fingerprints_parse_only_as_16_lowercase_hex_digits() {
        let good = UploadFingerprint::of_edits(5, []);
        assert_eq!(
            good.to_string().parse::<UploadFingerprint>(),
            Ok(good.clone())
        );
        let json = serde_json::to_string(&good).unwrap();
        assert_eq!(
            serde_json::from_str::<UploadFingerprint>(&json).unwrap(),
            good
        );
        for bad in [
            "",
            "abc",
            &"A".repeat(16),
            &"g".repeat(16),
            &"0".repeat(15),
            &"0".repeat(17),
            &"0".repeat(32),
            "0123456789abcde/",
        ] {
            assert!(bad.parse::<UploadFingerprint>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn beginning_an_upload_answers_an_upload_or_the_saved_file() {
        let uploading = UploadBegun::Uploading(UploadStatus {
            upload_id: "u1".parse().unwrap(),
            received: 7,
        });
        assert_eq!(
            serde_json::to_value(&uploading).unwrap(),
            serde_json::json!({"uploading": {"upload_id": "u1", "received": 7}})
        );
        let saved = UploadBegun::AlreadySaved(SaveOutcome {
            status: SaveStatus::Duplicate,
            path: "2021/03/a.mp4".into(),
            size: 9,
            sha256: "00".into(),
        });
        let json = serde_json::to_value(&saved).unwrap();
        assert_eq!(json["already_saved"]["status"], "duplicate");
        assert_eq!(serde_json::from_value::<UploadBegun>(json).unwrap(), saved);
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
