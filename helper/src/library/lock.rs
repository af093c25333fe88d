//! The library's lock file: one helper per library folder.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::Path;

use super::error::Error;

/// File name of the lock file inside the library root: held (`flock`) by the one
/// helper that uses the library. It stays when the helper stops; the lock does not.
pub const LOCK_NAME: &str = ".keepsake.lock";

pub fn lock_library(root: &Path) -> Result<File, Error> {
    let path = root.join(LOCK_NAME);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(Error::io("opening the library's lock file"))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let holder = file
                .read_to_string(&mut text)
                .ok()
                .and_then(|_| text.trim().parse().ok());
            return Err(Error::Locked {
                root: root.to_owned(),
                holder,
            });
        }
        Err(std::fs::TryLockError::Error(err)) => {
            return Err(Error::io("locking the library's lock file")(err));
        }
    }
    // The process id, for the message a second helper prints; the lock itself is
    // what keeps it out, and the kernel drops it when this process ends, however.
    let written = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()));
    if let Err(err) = written {
        tracing::warn!(error = %err, path = %path.display(), "cannot write the lock file's process id");
    }
    Ok(file)
}
