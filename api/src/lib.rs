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

pub use ids::{BatchId, InvalidId, ItemId};

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
    fn a_saved_file_with_a_path_like_id_does_not_parse() {
        let json = r#"{"item_id":"../a","path":"a.jpg","size":4,"sha256":"00",
            "capture_time":"2021-03-04T04:06:07Z","capture_local":"2021-03-04T05:06:07",
            "batch":"b","saved_at":"2026-11-30T08:00:00Z"}"#;
        assert!(serde_json::from_str::<SavedFile>(json).is_err());
    }
}
