//! Keepsake's helper: an axum server that serves the browser app, proxies Google
//! Photos media downloads (which need the bearer token and send no CORS headers),
//! saves the fixed photos atomically into a library folder (or streams them as a
//! zip), and — with `--demo` — emulates Google's OAuth and Picker API. `helper fix`
//! runs the same metadata engine on local files.
//!
//! Run it with `helper serve --demo` (see the README); the binary is a thin
//! wrapper around [`cli::main`].

pub mod batch_zip;
pub mod cli;
pub mod config;
pub mod emulator;
pub mod error;
pub mod fix_files;
pub mod library;
pub mod proxy;
pub mod server;
