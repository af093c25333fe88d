//! Keepsake's helper: an axum server that serves the browser app, downloads the
//! picked Google Photos items itself (they need the bearer token and send no CORS
//! headers) to disk, lets the app read the ranges its metadata plan needs, applies
//! the app's patch while saving each file atomically into a library folder (or
//! streams them as a zip), proxies thumbnails, and — with `--demo` (cargo feature
//! `demo`, on by default) — serves the Google emulator of the `emulator` crate.
//! `helper fix` and `helper pick` run the same plan and the same saving natively.
//!
//! Run it with `helper serve --demo` (see the README); the binary is a thin
//! wrapper around [`cli::main`].
//!
//! - [`config`]: flags, env and TOML turned into one validated `Config`
//! - [`state`]: what handlers share, and whom they talk to (`Upstream`)
//! - [`routes`]: the router and every handler (paths from the `api` crate)
//! - [`serve`] and [`connections`]: the accept loop (TLS, HTTP/1 and 2), the cap on
//!   open connections and their timeouts; [`open_files`]: the descriptor limit
//! - [`guard`]: the Host/Origin checks and security headers in front of it all
//! - [`media_proxy`]: the media allow-list, SSRF-safe resolver, the hop policy and
//!   the HTTP client
//! - [`fetch`]: the helper's own downloads of picked items, to disk, once
//! - [`library`]: files on disk, their names, the SQLite index, batch zips
//! - [`fix_files`]: `helper fix`
//! - [`pick`]: `helper pick` and `helper logout`, the terminal workflow

/// The helper's version and the commit it was built from: `0.1.0 (1a2b3c4d5e6f)`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("KEEPSAKE_COMMIT"),
    ")"
);

pub mod cli;
pub mod config;
pub mod connections;
pub mod embedded_app;
pub mod error;
pub mod fetch;
pub mod fix_files;
pub mod guard;
pub mod library;
pub mod media_proxy;
pub mod members;
pub mod open_files;
pub mod pick;
pub mod retrying;
pub mod routes;
pub mod serve;
pub mod state;
pub mod tls;
pub mod upload_body;
