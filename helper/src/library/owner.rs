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
