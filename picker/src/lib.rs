//! picker: the Google Photos Picker API and OAuth contract (PICKER-API.md) as Rust
//! types, shared by every client (the browser app, the terminal client) and the
//! emulator, so the contract is written once.
//!
//! Sans-IO: no network, clock or threads; builds for wasm32 and native unchanged.
//! Time enters as arguments (`elapsed`), bytes and strings as values. Besides the
//! wire types, the rules every client follows live here once: the polling schedule
//! ([`PollSchedule`]), paging ([`Pages`]), `baseUrl` refresh ([`UrlBook`]), retries
//! ([`retry`]) and download resumption ([`resume`], [`parse_content_range`]).

mod duration;
mod error;
mod media;
mod oauth;
mod paging;
mod poll;
pub mod retry;
mod urls;
mod wire;

pub use duration::{Duration, DurationParseError};
pub use error::{ErrorStatus, GoogleError, GoogleErrorBody};
pub use media::{
    ContentRange, MediaSuffix, MediaSuffixParseError, Resume, media_url, parse_content_range,
    resume,
};
pub use oauth::{OAuthError, TokenGrant, authorize_url, parse_token_fragment};
pub use paging::{Pages, PagingError};
pub use poll::{PollDecision, PollSchedule};
pub use urls::{Lookup, UrlBook};
pub use wire::{
    CreateSessionRequest, ListMediaItemsResponse, MediaFile, MediaFileMetadata, MediaType,
    PhotoMetadata, PickedMediaItem, PickingConfig, PickingSession, PollingConfig, ProcessingStatus,
    VideoMetadata,
};

/// The OAuth scope every Picker API call needs.
pub const SCOPE: &str = "https://www.googleapis.com/auth/photospicker.mediaitems.readonly";
/// Google's OAuth 2.0 authorization endpoint (browser token flow and code flow).
pub const GOOGLE_AUTH_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// Google's OAuth 2.0 token endpoint (installed-app code exchange and refresh).
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Google's OAuth 2.0 revocation endpoint (`POST …?token=…`).
pub const GOOGLE_REVOKE_URL: &str = "https://oauth2.googleapis.com/revoke";
/// Base of the Picker API, including the version prefix.
pub const GOOGLE_PICKER_API: &str = "https://photospicker.googleapis.com/v1";

/// `maxItemCount` when a session is created without one.
pub const DEFAULT_MAX_ITEM_COUNT: i64 = 2000;
/// `pageSize` used when the caller gives none (or 0).
pub const DEFAULT_PAGE_SIZE: i32 = 50;
/// Largest page the API returns; larger `pageSize` values are clamped to it.
pub const MAX_PAGE_SIZE: i32 = 100;

/// Whether `id` is acceptable as the `requestId` of `sessions.create`: 32
/// hexadecimal digits (either case) in 8-4-4-4-12 groups, the format Google's
/// reference gives. The reference also calls it a UUID v4, but does not say it
/// checks the version: the original tool sends random hex in that shape and is
/// published as working (PICKER-API.md §1), so any version and variant passes.
pub fn is_valid_request_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Whether `id` is a UUID v4 (version nibble `4`, variant `8 9 a b`): what
/// Keepsake's own clients send, the strictest reading of the reference.
pub fn is_uuid_v4(id: &str) -> bool {
    let bytes = id.as_bytes();
    is_valid_request_id(id)
        && bytes[14] == b'4'
        && matches!(bytes[19], b'8' | b'9' | b'a' | b'b' | b'A' | b'B')
}

/// `POST` here creates a session (`sessions.create`); `api_base` ends in `/v1`.
pub fn sessions_url(api_base: &str) -> String {
    format!("{}/sessions", api_base.trim_end_matches('/'))
}

/// `GET`/`DELETE` here reads or deletes one session.
pub fn session_url(api_base: &str, session_id: &str) -> String {
    format!(
        "{}/sessions/{}",
        api_base.trim_end_matches('/'),
        oauth::encode_component(session_id)
    )
}

/// One page of `mediaItems.list`. `page_size` `None` leaves the server default (50).
pub fn media_items_url(
    api_base: &str,
    session_id: &str,
    page_size: Option<i32>,
    page_token: Option<&str>,
) -> String {
    let mut url = format!(
        "{}/mediaItems?sessionId={}",
        api_base.trim_end_matches('/'),
        oauth::encode_component(session_id)
    );
    if let Some(size) = page_size {
        url.push_str(&format!("&pageSize={size}"));
    }
    if let Some(token) = page_token {
        url.push_str("&pageToken=");
        url.push_str(&oauth::encode_component(token));
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_accepts_uuid_v4_in_either_case() {
        assert!(is_valid_request_id("3f2504e0-4f89-41d3-9a0c-0305e82c3301"));
        assert!(is_valid_request_id("3F2504E0-4F89-41D3-BA0C-0305E82C3301"));
        assert!(is_uuid_v4("3f2504e0-4f89-41d3-9a0c-0305e82c3301"));
    }

    /// The original tool's ids: random hex in the 8-4-4-4-12 shape, any version.
    #[test]
    fn request_id_accepts_any_hex_in_the_uuid_shape() {
        for id in [
            "3f2504e0-4f89-11d3-9a0c-0305e82c3301", // version 1
            "3f2504e0-4f89-41d3-7a0c-0305e82c3301", // variant 0
            "c0ffee00-dead-beef-cafe-0123456789ab", // version b
        ] {
            assert!(is_valid_request_id(id), "{id}");
            assert!(!is_uuid_v4(id), "{id}");
        }
    }

    #[test]
    fn request_id_rejects_other_shapes() {
        for bad in [
            "",
            "not-a-uuid",
            "3f2504e04f8941d39a0c0305e82c3301",       // no dashes
            "{3f2504e0-4f89-41d3-9a0c-0305e82c3301}", // braces
            "3f2504e0-4f89-41d3-9a0c-0305e82c330g",   // not hex
            "3f2504e0-4f89-41d3-9a0c-0305e82c33011",  // too long
            "3f2504e0-4f8941d3-9a0c--0305e82c3301",   // dashes misplaced
        ] {
            assert!(!is_valid_request_id(bad), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn api_urls_encode_ids_and_tokens() {
        assert_eq!(sessions_url("http://h/v1/"), "http://h/v1/sessions");
        assert_eq!(
            session_url("http://h/v1", "a b"),
            "http://h/v1/sessions/a%20b"
        );
        assert_eq!(
            media_items_url("http://h/v1", "s1", Some(100), Some("t/=+")),
            "http://h/v1/mediaItems?sessionId=s1&pageSize=100&pageToken=t%2F%3D%2B"
        );
        assert_eq!(
            media_items_url("http://h/v1", "s1", None, None),
            "http://h/v1/mediaItems?sessionId=s1"
        );
    }
}
