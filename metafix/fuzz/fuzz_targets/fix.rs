//! Fuzzes the whole `fix` call: it must never panic, what it writes must read back,
//! and fixing its output again must change nothing.
//!
//! Run (stable toolchain; cargo-fuzz needs nightly flags):
//! `cd metafix/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run fix -s none -- -max_total_time=1800`
#![no_main]

use libfuzzer_sys::fuzz_target;
use metafix::{DatePolicy, FixOptions, ItemContext, fix, read};

fuzz_target!(|data: &[u8]| {
    // The last byte also picks the options (so real files still work as seeds).
    let knobs = data.last().copied().unwrap_or(0);
    let input = data;
    let mut options = FixOptions::default();
    options.dates = match knobs & 3 {
        0 => DatePolicy::Fill,
        1 => DatePolicy::Overwrite,
        _ => DatePolicy::Keep,
    };
    if knobs & 4 != 0 {
        options.artist = Some("Fuzz Artist".to_owned());
        options.copyright = Some("(c) Fuzz".to_owned());
    }
    if knobs & 8 != 0 {
        options.remove_tags = vec!["Make".to_owned(), "GPSInfo".to_owned(), "0x9286".to_owned()];
    }
    if knobs & 16 != 0 {
        options.time_zone = jiff::tz::TimeZone::get("America/St_Johns").ok();
    }
    let mut item = ItemContext::default();
    if knobs & 32 != 0 {
        item.create_time = jiff::Timestamp::from_second(1_600_000_000 + i64::from(knobs)).ok();
    }
    let fixed = fix(input, &options, &item);
    let out = fixed.assemble(input);
    assert_eq!(out.len(), fixed.output_len());
    if fixed.changed() {
        if let Err(e) = read(&out) {
            panic!("output not re-readable: {e}\n{}", fixed.report);
        }
        let again = fix(&out, &options, &item);
        assert!(!again.changed(), "not idempotent:\nfirst:\n{}\nsecond:\n{}", fixed.report, again.report);
    }
});
