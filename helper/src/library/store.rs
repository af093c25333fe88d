//! Files on disk: an upload streams into a temporary file beside its final place
//! (hashed on the way, with the free-space floor checked as it grows), then is
//! sealed (mode, capture-time mtime, fsync) and linked under a name nothing else
//! has. Nothing is ever overwritten, an upload that breaks off leaves no file behind
//! (the temp file deletes itself), and the temp files of a helper that was killed
//! are swept at the next start ([`sweep_temp_files`]).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use super::error::Error;

/// Prefix of the temp files an upload is written to (`.keepsake-XXXXXX.part`).
pub const TEMP_PREFIX: &str = ".keepsake-";
/// Suffix of those temp files.
pub const TEMP_SUFFIX: &str = ".part";
/// Random letters and digits between the prefix and the suffix. Pinned here (not
/// left to tempfile's default) because [`is_temp_name`] matches exactly this shape.
pub const TEMP_RANDOM_LEN: usize = 6;

/// How many bytes an upload may grow between two free-space checks.
const SPACE_CHECK_EVERY: u64 = 8 * 1024 * 1024;

/// Whether `name` is one of this module's temp files, and so safe to delete when no
/// upload is running. A saved file never matches: cleaned names lose their leading
/// dot ([`super::names::sanitize_filename`]).
pub fn is_temp_name(name: &str) -> bool {
    name.strip_prefix(TEMP_PREFIX)
        .and_then(|rest| rest.strip_suffix(TEMP_SUFFIX))
        .is_some_and(|random| {
            random.len() == TEMP_RANDOM_LEN && random.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// What [`sweep_temp_files`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Temp files deleted.
    pub removed: usize,
    /// Temp files that could not be deleted (logged).
    pub failed: usize,
}

/// Blocking: deletes every temp file ([`is_temp_name`]) anywhere under `root`,
/// left by a helper that was killed mid-upload. Only call it while holding the
/// library's lock, so no upload of another helper is running. Symbolic links are
/// neither followed nor deleted; folders that cannot be read are logged and skipped.
pub fn sweep_temp_files(root: &Path) -> Swept {
    let mut swept = Swept::default();
    for entry in walkdir::WalkDir::new(root).follow_links(false) {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                tracing::warn!(error = %err, "cannot look for leftover temp files here");
                continue;
            }
        };
        let is_temp =
            entry.file_type().is_file() && entry.file_name().to_str().is_some_and(is_temp_name);
        if !is_temp {
            continue;
        }
        match fs::remove_file(entry.path()) {
            Ok(()) => swept.removed += 1,
            Err(err) => {
                swept.failed += 1;
                tracing::warn!(path = %entry.path().display(), error = %err,
                    "cannot delete a leftover temp file");
            }
        }
    }
    swept
}

/// Bytes available to this (unprivileged) process on the file system of `path`.
#[cfg(unix)]
pub fn available_space(path: &Path) -> io::Result<u64> {
    let stat = rustix::fs::statvfs(path)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Bytes available on the file system of `path`: unknown on this platform, so the
/// free-space floor is not enforced (a full disk still fails the write cleanly).
#[cfg(not(unix))]
pub fn available_space(_path: &Path) -> io::Result<u64> {
    Ok(u64::MAX)
}

/// The free-space floor of one upload: the folder it is written in and the bytes
/// that must stay free there (0: no floor).
#[derive(Debug, Clone)]
pub struct SpaceFloor {
    /// The folder the upload is written in.
    pub dir: PathBuf,
    /// Bytes to leave free.
    pub min_free_bytes: u64,
}

impl SpaceFloor {
    /// Blocking: refuses when the file system of `dir` has less than the floor free.
    pub fn check(&self) -> Result<(), Error> {
        if self.min_free_bytes == 0 {
            return Ok(());
        }
        let available = available_space(&self.dir).map_err(Error::io("reading the free space"))?;
        if available < self.min_free_bytes {
            return Err(Error::LowSpace {
                available,
                floor: self.min_free_bytes,
            });
        }
        Ok(())
    }
}

/// Blocking: makes the floor's folder (durably), checks the floor, and creates a
/// temp file there.
pub fn create_temp(floor: &SpaceFloor) -> Result<NamedTempFile, Error> {
    create_dir_durable(&floor.dir).map_err(Error::io("creating a folder in the library"))?;
    floor.check()?;
    tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .rand_bytes(TEMP_RANDOM_LEN)
        .tempfile_in(&floor.dir)
        .map_err(Error::io("creating a temporary file in the library"))
}

/// Blocking: `create_dir_all`, then syncs the parent of every folder it made, so a
/// new `<YYYY>/<MM>` cannot vanish in a power cut with the photo fsynced inside it.
pub fn create_dir_durable(dir: &Path) -> io::Result<()> {
    let made: Vec<&Path> = dir
        .ancestors()
        .take_while(|folder| !folder.as_os_str().is_empty() && !folder.exists())
        .collect();
    fs::create_dir_all(dir)?;
    for folder in made {
        if let Some(parent) = folder.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

/// A file written to its temp file, not yet published.
pub struct Written {
    /// The temp file (deleted on drop unless published).
    pub temp: NamedTempFile,
    /// Bytes written.
    pub size: u64,
    /// Hex SHA-256 of those bytes.
    pub sha256: String,
    /// Their CRC-32 (a zip entry's).
    pub crc32: u32,
}

/// The size, SHA-256 and CRC-32 of bytes as they are written.
#[derive(Default)]
pub struct Hashes {
    size: u64,
    sha: Sha256,
    crc: crc32fast::Hasher,
}

impl Hashes {
    /// Takes the next bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        self.sha.update(bytes);
        self.crc.update(bytes);
    }

    /// Bytes so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The finished temp file, with what was written into it.
    pub fn finish(self, temp: NamedTempFile) -> Written {
        Written {
            temp,
            size: self.size,
            sha256: hex::encode(self.sha.finalize()),
            crc32: self.crc.finalize(),
        }
    }
}

/// Streams `body` into `temp`, hashing as it goes and checking `floor` every few
/// megabytes. An empty or broken body, or one that would eat into the floor, is an
/// error, and the temp file is dropped (deleted) with it.
pub async fn write_body<S, E>(
    temp: NamedTempFile,
    mut body: S,
    floor: &SpaceFloor,
) -> Result<Written, Error>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::error::Error + Send + Sync + 'static,
{
    // The path half keeps deleting the file on drop while the file half is written.
    let (file, temp_path) = temp.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut hashes = Hashes::default();
    let mut unchecked: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|err| Error::UploadBroke(Box::new(err)))?;
        hashes.update(&chunk);
        unchecked += chunk.len() as u64;
        if unchecked >= SPACE_CHECK_EVERY {
            unchecked = 0;
            let floor = floor.clone();
            tokio::task::spawn_blocking(move || floor.check()).await??;
        }
        tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
            .await
            .map_err(Error::io("writing the upload"))?;
    }
    if hashes.size() == 0 {
        return Err(Error::EmptyUpload);
    }
    tokio::io::AsyncWriteExt::flush(&mut file)
        .await
        .map_err(Error::io("writing the upload"))?;
    let file = file.into_std().await;
    Ok(hashes.finish(NamedTempFile::from_parts(file, temp_path)))
}

/// Blocking: writes the output of `pieces` into `temp` — copies of `source`'s
/// bytes (a file of `source_len` bytes) and new bytes — hashing it on the way
/// and checking `floor` every few megabytes; reads and writes a megabyte at a
/// time. A piece outside `source` is refused before anything is written.
pub fn write_pieces(
    temp: NamedTempFile,
    source: &File,
    source_len: u64,
    pieces: &[metafix::Piece],
    floor: &SpaceFloor,
) -> Result<Written, Error> {
    const BUFFER: usize = 1 << 20;
    for piece in pieces {
        if let metafix::Piece::Copy(range) = piece
            && (range.start > range.end || range.end > source_len)
        {
            return Err(Error::PatchOutsideDownload {
                start: range.start,
                end: range.end,
                len: source_len,
            });
        }
    }
    let mut out = io::BufWriter::with_capacity(BUFFER, temp);
    let mut hashes = Hashes::default();
    let mut unchecked = 0u64;
    let mut buffer = vec![0; BUFFER];
    let mut write = |out: &mut io::BufWriter<NamedTempFile>, bytes: &[u8]| -> Result<(), Error> {
        hashes.update(bytes);
        unchecked += bytes.len() as u64;
        if unchecked >= SPACE_CHECK_EVERY {
            unchecked = 0;
            floor.check()?;
        }
        out.write_all(bytes).map_err(Error::io("writing the file"))
    };
    for piece in pieces {
        match piece {
            metafix::Piece::Bytes(bytes) => write(&mut out, bytes)?,
            metafix::Piece::Copy(range) => {
                let mut at = range.start;
                while at < range.end {
                    let n = usize::try_from(range.end - at).map_or(BUFFER, |left| left.min(BUFFER));
                    read_exact_at(source, &mut buffer[..n], at)
                        .map_err(Error::io("reading the download"))?;
                    write(&mut out, &buffer[..n])?;
                    at += n as u64;
                }
            }
        }
    }
    if hashes.size() == 0 {
        return Err(Error::EmptyPatch);
    }
    let temp = out
        .into_inner()
        .map_err(|err| Error::io("writing the file")(err.into_error()))?;
    Ok(hashes.finish(temp))
}

/// Reads exactly `buffer.len()` bytes of `file` at `offset`, without moving a
/// shared cursor (several readers share one download file).
#[cfg(unix)]
pub fn read_exact_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buffer, offset)
}

/// Reads exactly `buffer.len()` bytes of `file` at `offset`.
#[cfg(windows)]
pub fn read_exact_at(file: &File, mut buffer: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buffer.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, buffer, offset)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                buffer = &mut buffer[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

/// Blocking: gives the finished temp file its final mode and the capture time as
/// its mtime (when one is known), and makes its bytes durable, before it gets a
/// visible name.
pub fn seal(temp: &NamedTempFile, file_mode: u32, mtime: Option<Timestamp>) -> io::Result<()> {
    let mut file: &File = temp.as_file();
    file.flush()?;
    set_mode(file, file_mode)?;
    if let Some(mtime) = mtime.and_then(|t| std::time::SystemTime::try_from(t).ok()) {
        file.set_modified(mtime)?;
    }
    file.sync_all()
}

#[cfg(unix)]
fn set_mode(file: &File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // Set explicitly (not through the umask): a library shared with Samba, Jellyfin
    // or a backup user must be readable by them whatever umask the helper runs with.
    file.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_file: &File, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// Why [`link`] did not publish.
pub enum LinkError {
    /// The name is taken; the temp file is handed back for the next name.
    Taken(NamedTempFile),
    /// Anything else.
    Failed(io::Error),
}

/// Blocking: gives the sealed temp file the name `path` only if that name is free.
/// An existing file is never replaced. The caller syncs the folder afterwards.
pub fn link(temp: NamedTempFile, path: &Path) -> Result<(), LinkError> {
    match temp.persist_noclobber(path) {
        Ok(_) => Ok(()),
        Err(err) if err.error.kind() == io::ErrorKind::AlreadyExists => {
            Err(LinkError::Taken(err.file))
        }
        Err(err) => Err(LinkError::Failed(err.error)),
    }
}

/// Blocking: makes the names in `dir` durable (a rename is durable only once the
/// folder itself is synced).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Blocking: the CRC-32 of the file at `path` (as a zip entry records it), read
/// in 1 MiB pieces.
pub fn crc32_of(path: &Path) -> io::Result<u32> {
    let mut file = File::open(path)?;
    let mut crc = crc32fast::Hasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = io::Read::read(&mut file, &mut buffer)?;
        if n == 0 {
            return Ok(crc.finalize());
        }
        crc.update(&buffer[..n]);
    }
}

/// Blocking: the size and hex SHA-256 of the regular file at `path`; `None` when
/// there is no regular file there (nothing, a folder, a symbolic link).
pub fn hash_file(path: &Path) -> io::Result<Option<(u64, String)>> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => return Ok(None),
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    }
    let mut file = File::open(path)?;
    let mut sha = Sha256::new();
    let mut buffer = vec![0; 256 * 1024];
    let mut size = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        sha.update(&buffer[..read]);
        size += read as u64;
    }
    Ok(Some((size, hex::encode(sha.finalize()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_temp_shape_counts_as_a_temp_file() {
        assert!(is_temp_name(".keepsake-a1B2c3.part"));
        for name in [
            "keepsake-a1B2c3.part",
            ".keepsake-a1B2c3.part.jpg",
            ".keepsake-a1B2c.part",
            ".keepsake-a1B2c3d.part",
            ".keepsake-a1B2-3.part",
            ".keepsake-.part",
            ".keepsake.sqlite3",
            ".keepsake.lock",
            "IMG_1.part",
            "photo.jpg",
        ] {
            assert!(!is_temp_name(name), "{name}");
        }
    }

    #[test]
    fn created_temp_files_have_the_swept_shape() {
        let dir = tempfile::tempdir().unwrap();
        let temp = create_temp(&SpaceFloor {
            dir: dir.path().join("2019/07"),
            min_free_bytes: 0,
        })
        .unwrap();
        let name = temp.path().file_name().unwrap().to_str().unwrap();
        assert!(is_temp_name(name), "{name}");
    }

    #[test]
    fn the_sweep_deletes_temp_files_everywhere_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for folder in ["2019/07", "ana/2020/01", "unknown-date"] {
            fs::create_dir_all(root.join(folder)).unwrap();
            fs::write(root.join(folder).join(".keepsake-Ab12Cd.part"), b"x").unwrap();
            fs::write(root.join(folder).join("keep.jpg"), b"photo").unwrap();
        }
        fs::write(root.join(".keepsake-Zz99Yy.part"), b"x").unwrap();
        // Look-alikes that are not ours, and a folder with the temp shape.
        fs::write(root.join("2019/07/.keepsake-notes.part"), b"user").unwrap();
        fs::write(root.join("2019/07/keepsake-Ab12Cd.part"), b"saved").unwrap();
        fs::create_dir(root.join(".keepsake-Dir123.part")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(
            root.join("2019/07/keep.jpg"),
            root.join("2019/07/.keepsake-Link12.part"),
        )
        .unwrap();

        let swept = sweep_temp_files(root);
        assert_eq!(
            swept,
            Swept {
                removed: 4,
                failed: 0
            }
        );
        let mut left: Vec<String> = walkdir::WalkDir::new(root)
            .into_iter()
            .map(|e| {
                let e = e.unwrap();
                e.path()
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|p| !p.is_empty())
            .collect();
        left.sort();
        let mut expected = vec![
            ".keepsake-Dir123.part",
            "2019",
            "2019/07",
            "2019/07/.keepsake-notes.part",
            "2019/07/keep.jpg",
            "2019/07/keepsake-Ab12Cd.part",
            "ana",
            "ana/2020",
            "ana/2020/01",
            "ana/2020/01/keep.jpg",
            "unknown-date",
            "unknown-date/keep.jpg",
        ];
        if cfg!(unix) {
            expected.push("2019/07/.keepsake-Link12.part");
        }
        expected.sort();
        assert_eq!(left, expected);
    }

    #[test]
    fn a_floor_above_the_free_space_refuses_and_zero_disables_it() {
        let dir = tempfile::tempdir().unwrap();
        let free = available_space(dir.path()).unwrap();
        assert!(free > 0);
        let err = SpaceFloor {
            dir: dir.path().to_owned(),
            min_free_bytes: u64::MAX,
        }
        .check()
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::LowSpace {
                    floor: u64::MAX,
                    ..
                }
            ),
            "{err}"
        );
        SpaceFloor {
            dir: dir.path().to_owned(),
            min_free_bytes: 0,
        }
        .check()
        .unwrap();
    }
}
