//! Family mode: the members a helper serves, their passphrases (Argon2id hashes
//! in the configuration file), their sign-in sessions and the brake on guessing.
//!
//! - [`file`]: `helper member add|passwd|remove|list`, editing the TOML file in place
//! - [`sessions`]: server-side sessions in SQLite (they survive a restart, and expire)
//! - [`throttle`]: sign-in attempts reserved and slowed down per member and address
//! - [`verifier`]: the cap on Argon2 checks running (and memory held) at once

pub mod file;
pub mod sessions;
pub mod throttle;
pub mod verifier;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand_core::OsRng;
use serde::Deserialize;

/// Longest member name, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// One member, as the configuration file names them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// How they sign in, and the name of their folder (`<library>/<name>`, inside
    /// the library so its lock and crash recovery cover it): letters, digits, `-`, `_`.
    pub name: String,
    /// Argon2id hash of the passphrase (PHC string), as `helper member add` writes it.
    pub passphrase_hash: String,
    /// The Artist the app pre-fills for them.
    #[serde(default)]
    pub artist: Option<String>,
    /// The Copyright the app pre-fills for them.
    #[serde(default)]
    pub copyright: Option<String>,
    /// When `helper member add` added them. Photos the library holds under their
    /// name from before are a removed member's: the helper sets them aside. Absent
    /// (a member added by hand or by an older helper): everything under the name
    /// is theirs.
    #[serde(default)]
    pub since: Option<jiff::Timestamp>,
    /// Take back the library a removed member of this name left (`member add
    /// --adopt`), when they have none of their own.
    #[serde(default)]
    pub adopt: bool,
}

/// Why a member name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid member name {0:?}: use 1 to {MAX_NAME_LEN} letters, digits, '-' and '_' (it names a folder)"
)]
pub struct InvalidName(pub String);

/// Checks a member name: it becomes a folder name and a cookie's subject.
pub fn check_name(name: &str) -> Result<(), InvalidName> {
    // Windows reserves these as device names in every folder (a library shared over
    // Samba would show a folder nobody can open).
    const DEVICES: [&str; 22] = [
        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
        "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    ];
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !DEVICES.contains(&name.to_ascii_uppercase().as_str());
    if ok {
        Ok(())
    } else {
        Err(InvalidName(name.to_owned()))
    }
}

/// Hashes a passphrase with Argon2id (the crate's defaults: 19 MiB, 2 passes) and a
/// random salt, as a PHC string (`$argon2id$v=19$m=…`).
pub fn hash_passphrase(passphrase: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(passphrase.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| anyhow::anyhow!("hashing the passphrase: {err}"))
}

/// Whether `passphrase` matches `hash`. Slow on purpose (tens of milliseconds):
/// call it off the async workers.
pub fn verify_passphrase(passphrase: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(passphrase.as_bytes(), &parsed)
            .is_ok()
    })
}

/// The members of a family helper. Empty: a helper for one person.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Members(Vec<Member>);

impl Members {
    /// Checks names (valid, unique) and hashes (parseable) once, at start-up.
    pub fn new(members: Vec<Member>) -> anyhow::Result<Self> {
        let mut seen = std::collections::HashSet::new();
        for member in &members {
            check_name(&member.name)?;
            if !seen.insert(member.name.to_ascii_lowercase()) {
                anyhow::bail!("member {:?} is named twice", member.name);
            }
            PasswordHash::new(&member.passphrase_hash).map_err(|err| {
                anyhow::anyhow!(
                    "member {:?}: passphrase_hash is not an Argon2 hash ({err}); set it with \
                     `helper member passwd {}`",
                    member.name,
                    member.name
                )
            })?;
        }
        Ok(Members(members))
    }

    /// Whether family mode is on.
    pub fn is_family(&self) -> bool {
        !self.0.is_empty()
    }

    /// The member named `name` (exactly).
    pub fn get(&self, name: &str) -> Option<&Member> {
        self.0.iter().find(|m| m.name == name)
    }

    /// Every member.
    pub fn iter(&self) -> impl Iterator<Item = &Member> {
        self.0.iter()
    }

    /// Each member as the library's owners see them.
    pub fn owners(&self) -> Vec<crate::library::CurrentMember> {
        self.0
            .iter()
            .map(|m| crate::library::CurrentMember {
                name: m.name.clone(),
                since: m.since,
                adopt: m.adopt,
            })
            .collect()
    }
}

/// Sets aside the libraries of members no longer in `members` (or of an earlier
/// member of a re-added name) and lets adopting members take theirs back; logs
/// what moved. Errors are logged: a library that could not move stays as it was.
pub async fn settle_libraries(library: &crate::library::Library, members: &Members) {
    match library.settle_owners(members.owners()).await {
        Ok(settled) => {
            for change in settled {
                match change {
                    crate::library::Settled::SetAside { name, key } => tracing::info!(
                        member = %name,
                        folder = %library.root().join(&key).display(),
                        "a removed member's photos are set aside, whole; `helper member add \
                         {name} --adopt` gives them back"
                    ),
                    crate::library::Settled::Adopted { name, from } => tracing::info!(
                        member = %name,
                        from = %from,
                        "took back the photos set aside for this name"
                    ),
                }
            }
        }
        Err(err) => tracing::warn!(error = %err, "setting removed members' photos aside failed"),
    }
}

/// How often a running family helper reads its configuration file for changes to
/// its members.
pub const WATCH_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Follows the members of the configuration file at `path` while the helper runs,
/// reading it every `every`: a member added can sign in, a changed passphrase
/// refuses the old one and ends the sessions opened with it, and a removed member
/// is signed out and their photos set aside ([`settle_libraries`]) — within
/// `every`, without a restart. A file that no longer reads
/// (an edit half done by hand) changes nothing until it does; one with no members
/// left keeps this a family's helper that nobody can sign in to.
pub async fn watch(
    state: crate::state::AppState,
    path: std::path::PathBuf,
    every: std::time::Duration,
) {
    let mut last = tokio::fs::read(&path).await.ok();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = tokio::fs::read(&path).await.ok();
        if now == last {
            continue;
        }
        last = now;
        let read = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || crate::config::read_members(&path)).await
        };
        let members = match read {
            Ok(Ok(members)) => members,
            Ok(Err(err)) => {
                tracing::warn!(file = %path.display(), "the configuration file changed but does \
                    not read; the members stay as they were: {err:#}");
                continue;
            }
            Err(err) => {
                tracing::warn!(error = %err, "reading the configuration file failed");
                continue;
            }
        };
        let before = state.members();
        let names = |m: &Members| m.iter().map(|m| m.name.clone()).collect::<Vec<_>>();
        let added: Vec<String> = names(&members)
            .into_iter()
            .filter(|n| before.get(n).is_none())
            .collect();
        let removed: Vec<String> = names(&before)
            .into_iter()
            .filter(|n| members.get(n).is_none())
            .collect();
        let new_passphrase: Vec<String> = members
            .iter()
            .filter(|m| {
                before
                    .get(&m.name)
                    .is_some_and(|old| old.passphrase_hash != m.passphrase_hash)
            })
            .map(|m| m.name.clone())
            .collect();
        tracing::info!(
            ?added,
            ?removed,
            ?new_passphrase,
            "members changed in the configuration file"
        );
        if !members.is_family() {
            tracing::warn!("no members left: nobody can sign in until one is added");
        }
        // Before the new members can sign in: a re-added name must not see the old
        // member's photos, even for a moment.
        settle_libraries(state.library(), &members).await;
        state.set_members(members);
    }
}

/// A hash of a passphrase nobody has, to spend the same time on an unknown member
/// as on a known one (so timing does not tell which names exist). A constant with
/// the default parameters (those `helper member add` uses), so no sign-in ever
/// hashes it on an async worker or outside the cap on Argon2 work.
pub fn decoy_hash() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passphrases_verify_against_their_own_hash_only() {
        let hash = hash_passphrase("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_passphrase("correct horse", &hash));
        assert!(!verify_passphrase("correct horse ", &hash));
        assert!(!verify_passphrase("correct horse", "not a hash"));
        assert_ne!(hash, hash_passphrase("correct horse").unwrap(), "salted");
    }

    #[test]
    fn member_names_are_folder_safe() {
        for good in ["maria", "Tomás".replace('á', "a").as_str(), "a-b_c", "x"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "..",
            "a/b",
            "a b",
            "María",
            ".hidden",
            &"x".repeat(65),
            "CON.",
            "con",
            "Lpt1",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn duplicate_names_and_bad_hashes_are_refused_at_start() {
        let hash = hash_passphrase("p").unwrap();
        let member = |name: &str, hash: &str| Member {
            name: name.into(),
            passphrase_hash: hash.into(),
            artist: None,
            copyright: None,
            since: None,
            adopt: false,
        };
        assert!(Members::new(vec![member("ana", &hash), member("ANA", &hash)]).is_err());
        assert!(Members::new(vec![member("ana", "plaintext")]).is_err());
        let members = Members::new(vec![member("ana", &hash)]).unwrap();
        assert!(members.is_family());
        assert!(members.get("ana").is_some() && members.get("Ana").is_none());
        assert!(!verify_passphrase("x", decoy_hash()));
    }

    #[test]
    fn the_decoy_costs_what_a_new_member_s_hash_costs() {
        let decoy = PasswordHash::new(decoy_hash()).unwrap();
        let member_hash = hash_passphrase("p").unwrap();
        let member = PasswordHash::new(&member_hash).unwrap();
        assert_eq!(decoy.algorithm, member.algorithm);
        assert_eq!(decoy.version, member.version);
        assert_eq!(decoy.params, member.params);
        assert_eq!(decoy.hash.unwrap().len(), member.hash.unwrap().len());
    }
}
