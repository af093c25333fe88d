//! Contract tests of the Google emulator: plain HTTP (reqwest) against the emulator
//! started on port 0, checking every rule of PICKER-API.md it implements — OAuth,
//! the four Picker API calls and their errors, the picker page, media bytes and
//! the fault knobs. No client code is used: requests are built by hand and answers
//! read as raw JSON, the way a client written only from PICKER-API.md would. The
//! client is [`keepsake_tests::emulator_client`], shared with the other tests.
//!
//! One module per resource. Run: `cargo test -p keepsake-tests --test e2e emulator_contract::`.

mod auth;
mod faults;
mod index_page;
mod media;
mod media_items;
mod oauth;
mod picker_page;
mod sessions;
