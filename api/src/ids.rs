//! The ids in the helper's routes, validated once when they are made (parsed from
//! a path, a JSON body or a string), so no code past that point can meet an id
//! that would escape a folder or break a URL.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest id accepted, in bytes (Google's media item ids are far shorter).
pub const MAX_ID_LEN: usize = 256;

/// An id that is not a path-free token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: use 1 to {MAX_ID_LEN} letters, digits, '-' and '_'")]
pub struct InvalidId {
    what: &'static str,
}

fn check(what: &'static str, id: &str) -> Result<(), InvalidId> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(InvalidId { what }) }
}

macro_rules! token_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The id as text (only letters, digits, `-` and `_`).
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;

            fn try_from(id: String) -> Result<Self, InvalidId> {
                check($what, &id)?;
                Ok($name(id))
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(id: &str) -> Result<Self, InvalidId> {
                $name::try_from(id.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

token_id!(
    /// One run of the app (everything saved between "Pick photos" and the results),
    /// as the app named it.
    BatchId,
    "batch id"
);
token_id!(
    /// A Picker media item's stable id: the key that keeps a photo from being saved twice.
    ItemId,
    "item id"
);
token_id!(
    /// One download the helper makes of an item ([`DownloadInfo`](crate::DownloadInfo)).
    DownloadId,
    "download id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_path_free_tokens() {
        for good in ["a", "AF1QipN-x_Y", &"x".repeat(MAX_ID_LEN)] {
            assert!(good.parse::<ItemId>().is_ok(), "{good}");
        }
        for bad in [
            "",
            "..",
            "../x",
            "a/b",
            "a\\b",
            "a b",
            "a%2Fb",
            "é",
            "a\0",
            "a.jpg",
            &"x".repeat(MAX_ID_LEN + 1),
        ] {
            assert!(bad.parse::<BatchId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_error_names_the_id() {
        let err = "a/b".parse::<BatchId>().unwrap_err();
        assert!(err.to_string().starts_with("invalid batch id"), "{err}");
    }
}
