//! The open-file (descriptor) limit: every connection holds one. systemd and most
//! shells start a service with a soft limit of 1024, far below the hard limit the
//! system allows, so `helper serve` raises the soft limit to the hard one at start,
//! and the accept loop keeps its connection cap below whatever it got.

/// The soft and hard limits on open files, where the platform has them
/// (`None`: unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// What the process may open now.
    pub soft: Option<u64>,
    /// What it may raise `soft` to.
    pub hard: Option<u64>,
}

/// Where a hard limit is "unlimited", the soft limit is raised this far (Linux's
/// default `fs.nr_open`).
#[cfg(unix)]
const UNLIMITED_TARGET: u64 = 1 << 20;

/// The process's limit now; `None` on platforms without one.
pub fn current() -> Option<Limit> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, getrlimit};
        let limit = getrlimit(Resource::Nofile);
        Some(Limit {
            soft: limit.current,
            hard: limit.maximum,
        })
    }
    #[cfg(not(unix))]
    None
}

/// Raises the soft limit to the hard one. Returns the limits before and after
/// (the same when there was nothing to raise), or why it could not.
pub fn raise() -> std::io::Result<Option<(Limit, Limit)>> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, setrlimit};
        let Some(before) = current() else {
            return Ok(None);
        };
        let target = before.hard.unwrap_or(UNLIMITED_TARGET);
        if before.soft.is_some_and(|soft| soft < target) {
            setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: Some(target),
                    maximum: before.hard,
                },
            )?;
        }
        Ok(current().map(|after| (before, after)))
    }
    #[cfg(not(unix))]
    Ok(None)
}

/// Descriptors kept for everything but connections: the library's files and
/// SQLite, downloads to disk, the log.
pub const RESERVED: u64 = 256;

/// The connection cap that fits `soft` open files: `wanted`, or fewer when the
/// limit leaves no room for it (never below 16).
pub fn connection_cap(wanted: usize, soft: Option<u64>) -> usize {
    match soft {
        None => wanted,
        Some(soft) => {
            let room = usize::try_from(soft.saturating_sub(RESERVED)).unwrap_or(usize::MAX);
            wanted.min(room).max(16)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_for_the_library() {
        assert_eq!(connection_cap(1024, Some(20_000)), 1024);
        assert_eq!(connection_cap(1024, Some(1024)), 768);
        assert_eq!(connection_cap(1024, Some(100)), 16);
        assert_eq!(connection_cap(1024, None), 1024);
    }

    #[cfg(unix)]
    #[test]
    fn raising_ends_at_the_hard_limit() {
        let (_, after) = raise().unwrap().unwrap();
        assert!(
            after.soft.is_none() || after.soft == after.hard.or(Some(UNLIMITED_TARGET)),
            "{after:?}"
        );
    }
}
