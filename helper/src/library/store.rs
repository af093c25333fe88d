//! Files on disk: an upload streams into a temporary file beside its final place
//! (hashed on the way), then is published under a name nothing else has, with
//! the capture time as its mtime. Nothing is ever overwritten, and an upload that
//! breaks off leaves no file behind (the temp file deletes itself).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use super::Error;
use super::names;

/// Prefix of the temp files an upload is written to (`.keepsake-XXXX.part`).
pub const TEMP_PREFIX: &str = ".keepsake-";
/// Suffix of those temp files.
pub const TEMP_SUFFIX: &str = ".part";

/// Blocking: makes `dir` and a temp file in it.
pub fn create_temp(dir: &Path) -> io::Result<NamedTempFile> {
    fs::create_dir_all(dir)?;
    tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)
}

/// An upload written to its temp file.
pub struct Written {
    /// The temp file (deleted on drop unless published).
    pub temp: NamedTempFile,
    /// Bytes written.
    pub size: u64,
    /// Hex SHA-256 of those bytes.
    pub sha256: String,
}

/// Streams `body` into `temp`, hashing as it goes. An empty or broken body is an
/// error, and the temp file is dropped (deleted) with it.
pub async fn write_body<S, E>(temp: NamedTempFile, mut body: S) -> Result<Written, Error>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::error::Error + Send + Sync + 'static,
{
    let (file, temp_path) = temp.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut sha = Sha256::new();
    let mut size: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|err| Error::UploadBroke(Box::new(err)))?;
        sha.update(&chunk);
        size += chunk.len() as u64;
        tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
            .await
            .map_err(Error::io("writing the upload"))?;
    }
    if size == 0 {
        return Err(Error::EmptyUpload);
    }
    tokio::io::AsyncWriteExt::flush(&mut file)
        .await
        .map_err(Error::io("writing the upload"))?;
    let file = file.into_std().await;
    Ok(Written {
        temp: NamedTempFile::from_parts(file, temp_path),
        size,
        sha256: hex::encode(sha.finalize()),
    })
}

/// Blocking: makes the finished temp file durable and visible under a name nobody
/// else has in `dir`, with `mtime`. Returns the final path and the name used.
pub fn publish(
    temp: NamedTempFile,
    dir: &Path,
    filename: &str,
    mtime: Timestamp,
) -> io::Result<(PathBuf, String)> {
    let mut file: &File = temp.as_file();
    file.flush()?;
    file.sync_all()?;
    if let Ok(mtime) = std::time::SystemTime::try_from(mtime) {
        file.set_modified(mtime)?;
    }
    let mut temp = temp;
    for attempt in 1..10_000u32 {
        let name = names::numbered(filename, attempt);
        let candidate = dir.join(&name);
        // `persist_noclobber` gives the temp file the new name only if that name is
        // free: an existing photo is never replaced.
        match temp.persist_noclobber(&candidate) {
            Ok(_) => {
                // The new name is durable only once the folder itself is synced.
                File::open(dir)?.sync_all()?;
                return Ok((candidate, name));
            }
            Err(err) if err.error.kind() == io::ErrorKind::AlreadyExists => temp = err.file,
            Err(err) => return Err(err.error),
        }
    }
    Err(io::Error::other("no free file name"))
}
