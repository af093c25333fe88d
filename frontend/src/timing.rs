//! Where a run's time goes: each stage of an item's journey (see
//! [`crate::process`]) adds its duration to a tally that the page shows on
//! `window.keepsakeTimings` — `{stage: [count, total ms, longest ms, first
//! start, last end]}` in `performance.now()` milliseconds — for
//! `scripts/bench-app` and anyone with DevTools open. A few numbers per stage,
//! whatever the batch's size.

use std::cell::RefCell;

use wasm_bindgen::JsValue;

#[derive(Clone, Copy)]
struct Tally {
    count: u32,
    total: f64,
    longest: f64,
    first_start: f64,
    last_end: f64,
}

thread_local! {
    static TALLIES: RefCell<Vec<(&'static str, Tally)>> = const { RefCell::new(Vec::new()) };
}

/// `performance.now()`: milliseconds since the page loaded, sub-millisecond.
pub fn now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or_else(js_sys::Date::now, |p| p.now())
}

/// Adds the time since `start` (from [`now`]) to `stage`; answers the time now,
/// the start of the next stage.
pub fn record(stage: &'static str, start: f64) -> f64 {
    let end = now();
    let tally = TALLIES.with_borrow_mut(|tallies| {
        let at = match tallies.iter().position(|(name, _)| *name == stage) {
            Some(at) => at,
            None => {
                tallies.push((
                    stage,
                    Tally {
                        count: 0,
                        total: 0.0,
                        longest: 0.0,
                        first_start: start,
                        last_end: end,
                    },
                ));
                tallies.len() - 1
            }
        };
        let tally = &mut tallies[at].1;
        tally.count += 1;
        tally.total += end - start;
        tally.longest = tally.longest.max(end - start);
        tally.first_start = tally.first_start.min(start);
        tally.last_end = tally.last_end.max(end);
        *tally
    });
    publish(stage, tally);
    end
}

fn publish(stage: &str, tally: Tally) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let key = JsValue::from_str("keepsakeTimings");
    let all = match js_sys::Reflect::get(&window, &key) {
        Ok(all) if all.is_object() => all,
        _ => {
            let all = js_sys::Object::new().into();
            let _ = js_sys::Reflect::set(&window, &key, &all);
            all
        }
    };
    let numbers = js_sys::Array::of5(
        &tally.count.into(),
        &tally.total.into(),
        &tally.longest.into(),
        &tally.first_start.into(),
        &tally.last_end.into(),
    );
    let _ = js_sys::Reflect::set(&all, &JsValue::from_str(stage), &numbers);
}
