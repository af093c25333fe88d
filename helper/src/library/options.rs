//! [`LibraryOptions`]: how a library saves files.

use super::error::Error;

/// Mode of saved files unless configured otherwise: readable by everyone (Samba,
/// Jellyfin, a backup user), writable by the helper's user.
pub const DEFAULT_FILE_MODE: u32 = 0o644;

/// Free space kept on the library's disk unless configured otherwise: enough for
/// the system and the index to keep working when the photos have filled the rest.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 512 * 1024 * 1024;

/// How a library saves files. [`Default`] is what `helper serve` uses unless told
/// otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LibraryOptions {
    /// Unix mode of saved files ([`DEFAULT_FILE_MODE`]); set as is, whatever the
    /// umask. At most `0o777`, and readable by the helper's own user (it zips them).
    /// Ignored where there are no Unix modes.
    pub file_mode: u32,
    /// Bytes that must stay free on the library's disk ([`DEFAULT_MIN_FREE_BYTES`]):
    /// a save is refused ([`Error::LowSpace`], HTTP 507) before it starts and
    /// stopped as it grows when less is free. 0 turns the floor off. Enforced where
    /// free space can be read (Unix).
    pub min_free_bytes: u64,
}

impl Default for LibraryOptions {
    fn default() -> Self {
        LibraryOptions {
            file_mode: DEFAULT_FILE_MODE,
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
        }
    }
}

impl LibraryOptions {
    /// Refuses options that cannot work.
    pub fn check(&self) -> Result<(), Error> {
        if self.file_mode & !0o777 != 0 {
            return Err(Error::InvalidOption(format!(
                "file mode {:o} has bits beyond rwxrwxrwx (setuid, setgid, sticky, or not a mode)",
                self.file_mode
            )));
        }
        if self.file_mode & 0o400 == 0 {
            return Err(Error::InvalidOption(format!(
                "file mode {:o} does not let the helper read its own files back (for zips)",
                self.file_mode
            )));
        }
        Ok(())
    }
}

/// Parses a file mode as people write it: octal, with or without a leading `0` or
/// `0o` (`644`, `0644`, `0o640`). For a command-line flag's value parser.
pub fn parse_file_mode(text: &str) -> Result<u32, String> {
    let digits = text.trim();
    let digits = digits.strip_prefix("0o").unwrap_or(digits);
    let mode = u32::from_str_radix(digits, 8)
        .map_err(|_| format!("{text:?} is not an octal file mode such as 0644"))?;
    let options = LibraryOptions {
        file_mode: mode,
        ..LibraryOptions::default()
    };
    options.check().map_err(|err| err.to_string())?;
    Ok(mode)
}
