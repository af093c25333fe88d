//! The built app carried inside the helper (see `build.rs`): `helper serve`
//! without `--dist` unpacks it once into a private temporary folder and serves it
//! from there, with the same precompressed files and cache headers as a `dist/`.

use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/embedded_app.rs"));

/// Whether this helper was built with the app inside it.
pub fn is_present() -> bool {
    APP.iter().any(|(name, _)| *name == "index.html")
}

/// Writes the app's files into `dir` (which must be empty or missing).
pub fn unpack(dir: &Path) -> std::io::Result<()> {
    for (name, bytes) in APP {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, bytes)?;
    }
    Ok(())
}
