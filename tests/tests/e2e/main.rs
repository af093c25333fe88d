//! Keepsake's integration and browser end-to-end tests, one binary: the emulator's
//! HTTP contract, its pages in a browser, `helper fix` on real files, `helper pick` against the demo, the sample
//! library through metafix, the library surviving `kill -9`, and the built app end
//! to end. Shared support (starting the helper, the emulator client, the browser)
//! is the `keepsake_tests` library.
//!
//! Run one group with a name filter, e.g. `cargo test -p keepsake-tests -- fix_command::`.

// A test binary: helpers unwrap too, a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bench;
mod bench_scale;
mod browser;
mod emulator_browser;
mod emulator_contract;
mod family;
mod faults;
mod fix_command;
mod google_hosts;
mod home_server;
mod hostile_input;
mod large_video;
mod library_crash;
mod pick;
mod sample_library;
mod saved_once;
mod scale;
mod screens;
mod zip_readers;
