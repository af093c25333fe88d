//! [`Owner`]: whose files these are.

use std::path::{Path, PathBuf};

/// Whose files these are: the one user of a personal helper, or a member of a
/// family's. Each owner has a folder and a separate index namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Owner {
    /// A helper for one person: files go straight under the library root.
    Single,
    /// A family member: files go under `<root>/<name>`.
    Member(String),
}

impl Owner {
    /// The owner's key in the index (and in download notes).
    pub fn key(&self) -> &str {
        match self {
            Owner::Single => "",
            Owner::Member(name) => name,
        }
    }

    /// The owner of an index key.
    pub fn from_key(key: &str) -> Owner {
        if key.is_empty() {
            Owner::Single
        } else {
            Owner::Member(key.to_owned())
        }
    }

    /// The owner's folder under the library `root`.
    pub fn dir(&self, root: &Path) -> PathBuf {
        match self {
            Owner::Single => root.to_owned(),
            Owner::Member(name) => root.join(name),
        }
    }
}

/// What marks an owner key as a removed member's library set aside:
/// `<name> (removed <time>)`. A member name cannot hold a space or a parenthesis,
/// so such a key (and its folder) never meets a member's.
const SET_ASIDE_MARK: &str = " (removed ";

/// The key (and folder name) a removed member's library is set aside under.
pub(super) fn set_aside_key(name: &str, at: jiff::Timestamp, attempt: u32) -> String {
    // No `:` in it: folders shared over SMB or copied to Windows cannot hold one.
    let time = at.strftime("%Y-%m-%dT%H%M%SZ");
    match attempt {
        0 => format!("{name}{SET_ASIDE_MARK}{time})"),
        // Sorts after the one without (`-` after `)`), as it came later.
        n => format!("{name}{SET_ASIDE_MARK}{time}-{})", n + 1),
    }
}

/// The member name a set-aside key was made from, if it is one.
pub(super) fn set_aside_name(key: &str) -> Option<&str> {
    key.split_once(SET_ASIDE_MARK)
        .filter(|(_, rest)| rest.ends_with(')'))
        .map(|(name, _)| name)
}

/// A member of the family now, as [`super::Library::settle_owners`] needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentMember {
    /// Their name (their owner key and folder).
    pub name: String,
    /// When `helper member add` added them: rows of their name older than this are
    /// an earlier member's of the same name. `None` (added by an older helper, or
    /// by hand): every row of the name is theirs.
    pub since: Option<jiff::Timestamp>,
    /// Asked to take back the library a removed member of their name left.
    pub adopt: bool,
}

/// What [`super::Library::settle_owners`] did with one library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// A removed member's library (index rows and folder) now lives under `key`:
    /// kept whole, but nobody's, so a new member of the same name starts empty.
    SetAside {
        /// The member name.
        name: String,
        /// The key and folder name it is kept under.
        key: String,
    },
    /// A member asked to adopt took back the library set aside under `from`.
    Adopted {
        /// The member name.
        name: String,
        /// The key it had been set aside under.
        from: String,
    },
}
