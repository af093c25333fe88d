//! metafix's integration tests, one binary: the generated case table
//! ([`fixtures`]: read → fix → re-read → idempotence → ExifTool) and the real files
//! of `../shared/corpus` and `../shared/corpus-pending` ([`corpus`]: the ExifTool
//! oracle and the coverage table), with their shared helpers in [`support`].
//!
//! Run one group with a name filter: `cargo test -p metafix --test it -- corpus::`.

// A test binary: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod corpus;
mod fixtures;
mod support;
