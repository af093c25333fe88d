use leptos::prelude::*;

use crate::batch::Phase;
use crate::browser;
use crate::model::{Mark, Pace, Totals, human_bytes, human_duration};
use crate::state::Run;

/// The overall progress bar.
#[component]
pub fn ProgressCard() -> impl IntoView {
    let run = expect_context::<Run>();
    let totals = Memo::new(move |_| run.totals());
    // The pace is measured from when this run started to move (the first change
    // seen), and re-based whenever nothing is left to do (a "Pick more" starts over).
    let mark = StoredValue::new(None::<Mark>);
    let pace = Memo::new(move |_| {
        let t = totals.get();
        let now = browser::now_ms();
        if t.finished() || t.items == 0 {
            mark.set_value(None);
            return None;
        }
        let since = match mark.get_value() {
            Some(since) => since,
            None => {
                let since = Mark {
                    at_ms: now,
                    done: t.done,
                    bytes: t.bytes,
                };
                mark.set_value(Some(since));
                since
            }
        };
        Pace::since(since, now, &t)
    });
    view! {
        // The counts as attributes too: the grid keeps only the rows in view in
        // the page, so tests and outside checks read the batch's state here.
        <section
            class="card progress"
            data-testid="progress"
            data-total=move || totals.get().items
            data-saved=move || totals.get().saved
            data-duplicate=move || totals.get().duplicates
            data-failed=move || totals.get().failed
            data-waiting=move || totals.get().waiting
            data-working=move || totals.get().working
            data-cancelled=move || totals.get().cancelled
        >
            <div class="progress-head">
                <span data-testid="progress-text">
                    {move || {
                        let t = totals.get();
                        format!("{} of {} done · {}", t.done, t.items, human_bytes(t.bytes))
                    }}
                </span>
                <span class="pace" data-testid="progress-pace">
                    {move || pace.get().map(|p| format!(
                        "{}/s · {:.0} items/min · {} left",
                        human_bytes(p.bytes_per_sec as u64),
                        p.items_per_min,
                        human_duration(p.secs_left)
                    ))}
                </span>
                <span class="counts" data-testid="progress-counts">
                    {move || counts(&totals.get())}
                </span>
                <Show when=move || run.with_phase(|p| *p == Phase::Processing)>
                    <button
                        class="link"
                        data-testid="cancel-run"
                        title="Stop now: what is saved stays saved, the picking session is deleted"
                        on:click=move |_| run.cancel()
                    >
                        "Cancel"
                    </button>
                </Show>
            </div>
            <div
                class="bar"
                role="progressbar"
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=move || totals.get().percent()
            >
                <div class="fill" style:width=move || format!("{}%", totals.get().percent())></div>
            </div>
        </section>
    }
}

/// Items per state, the empty ones left out: `3 waiting · 3 under way · 40 saved`.
fn counts(t: &Totals) -> String {
    let parts = [
        (t.waiting, "waiting"),
        (t.working, "under way"),
        (t.saved, "saved"),
        (t.duplicates, "already saved"),
        (t.failed, "failed"),
        (t.cancelled, "cancelled"),
    ];
    let shown: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    shown.join(" · ")
}
