//! Records the commit the helper is built from (`KEEPSAKE_COMMIT`), for
//! `helper --version` and the app's footer: `git rev-parse --short=12 HEAD` (the
//! commit, not whether the work tree has changes since); `KEEPSAKE_COMMIT` from
//! the environment wins (a build from a source archive without `.git`); "unknown"
//! otherwise.

use std::process::Command;

fn main() {
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
