//! Fuzzes the whole `fix` call: it must never panic, what it writes must read back,
//! fixing its output again must change nothing, and planning it from ranges (fed in
//! reads whose size the input picks) must give the same patch.
//!
//! Run (stable toolchain; cargo-fuzz needs nightly flags):
//! `cd metafix/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run fix -s none -- -max_total_time=1800`
#![no_main]

use libfuzzer_sys::fuzz_target;
use metafix::{DatePolicy, FixOptions, ItemContext, Planner, Step, fix, read};

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
    assert_eq!(out.len() as u64, fixed.output_len());
    let chunk = 1 + u64::from(data.first().copied().unwrap_or(0)) * 97;
    let mut planner = Planner::new(input.len() as u64, &options, &item);
    let planned = loop {
        match planner.next_step() {
            Step::Read(ranges) => {
                for r in ranges {
                    let mut at = r.start;
                    while at < r.end {
                        let end = (at + chunk).min(r.end);
                        planner.feed(at, &input[at as usize..end as usize]);
                        at = end;
                    }
                }
            }
            Step::Done(patch) => break patch,
        }
    };
    assert_eq!(planned, fixed, "the plan from ranges differs");
    if fixed.changed() {
        if let Err(e) = read(&out) {
            panic!("output not re-readable: {e}\n{}", fixed.report);
        }
        let again = fix(&out, &options, &item);
        assert!(!again.changed(), "not idempotent:\nfirst:\n{}\nsecond:\n{}", fixed.report, again.report);
    }
});
