//! Two things the helper carries from its build:
//!
//! - the built app (`embedded_app.rs` in `OUT_DIR`): every file of
//!   `$KEEPSAKE_APP_DIR`, else of the workspace's `dist/` when `./scripts/build-app`
//!   made it, is included in the binary, so `helper serve` needs no `dist/` beside
//!   it (an empty list when there is no built app: the helper then says so);
//! - the commit it is built from (`KEEPSAKE_COMMIT`), for `helper --version` and the
//!   app's footer: `git rev-parse --short=12 HEAD` (the commit, not whether the
//!   work tree has changes since); `KEEPSAKE_COMMIT` from the environment wins (a
//!   build from a source archive without `.git`); "unknown" otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    embed_app();
    println!("cargo:rerun-if-env-changed=KEEPSAKE_COMMIT");
    let commit = std::env::var("KEEPSAKE_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=KEEPSAKE_COMMIT={commit}");
}

fn git_commit() -> Option<String> {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let head = git(&["rev-parse", "--short=12", "HEAD"])?;
    // A new commit, a checkout or a branch move changes these files.
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        for file in ["HEAD", "packed-refs"] {
            println!("cargo:rerun-if-changed={dir}/{file}");
        }
        if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={dir}/{reference}");
        }
    }
    Some(head)
}

/// Writes `embedded_app.rs`: `APP`, each file of the built app as (name, bytes).
fn embed_app() {
    println!("cargo:rerun-if-env-changed=KEEPSAKE_APP_DIR");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dir = std::env::var_os("KEEPSAKE_APP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../dist"));
    // Cargo looks through the whole folder for changes (a new build of the app).
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files = Vec::new();
    if dir.join("index.html").is_file() {
        collect(&dir, &dir, &mut files);
    }
    files.sort();
    let mut code = String::from(
        "/// The built app's files (paths relative to its folder), included at build time.\n\
         pub static APP: &[(&str, &[u8])] = &[\n",
    );
    for (name, path) in &files {
        code.push_str(&format!("    ({name:?}, include_bytes!({path:?})),\n"));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    std::fs::write(out.join("embedded_app.rs"), code).expect("writing embedded_app.rs");
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if let (Ok(relative), Some(full)) = (path.strip_prefix(root), path.to_str()) {
            let name = relative.to_string_lossy().replace('\\', "/");
            files.push((name, full.to_owned()));
        }
    }
}
