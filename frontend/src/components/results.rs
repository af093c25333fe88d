use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::batch::Phase;
use crate::flow;
use crate::model::{FailedItem, Totals};
use crate::state::Ctx;
use crate::thumbs::Thumbnails;

/// When a session's items are all done: what happened, and the zip.
#[component]
pub fn Results() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let run = ctx.run;
    let totals = Memo::new(move |_| run.totals());
    let done = move || run.with_phase(|p| *p == Phase::Done) && totals.get().finished();
    let zip_url = move || api::routes::batch_zip(&run.id.get_value());
    let groups = Memo::new(move |_| run.tally().failures);
    let thumbnails = expect_context::<Thumbnails>();
    // The session is kept while items failed; without it there is nothing to retry.
    let can_retry = move || run.open_session.with(Option::is_some);
    view! {
        <Show when=done>
            <section class="card results" data-testid="results">
                <div>
                    <h2>
                        {move || headline(&totals.get())}
                    </h2>
                    <p class="fine">
                        "Saved in the helper's library folder, sorted by year and month of capture."
                    </p>
                </div>
                <div class="actions">
                <Show when=move || { groups.with(|g| g.len() > 1) && can_retry() }>
                    <button
                        class="button"
                        data-testid="retry-failed"
                        on:click=move |_| spawn_local(flow::retry_failed(ctx, None))
                    >
                        "Retry all failed"
                    </button>
                </Show>
                <Show when=move || { let t = totals.get(); t.saved + t.duplicates > 0 }>
                    <a class="button primary" data-testid="download-zip" href=zip_url download="">
                        "Download zip"
                    </a>
                </Show>
                    <button
                        class="button"
                        data-testid="new-batch"
                        title="Clear this batch from the page and start a new one; what is saved stays in the library"
                        on:click=move |_| flow::new_batch(ctx, thumbnails)
                    >
                        "New batch"
                    </button>
                </div>
                <Show when=move || groups.with(|g| !g.is_empty())>
                    <ul class="failures" data-testid="failure-groups">
                        <For each=move || groups.get() key=|(why, n)| (why.clone(), *n) let:group>
                            <FailureGroup why=group.0 count=group.1 can_retry=can_retry/>
                        </For>
                    </ul>
                </Show>
            </section>
        </Show>
    }
}

/// One reason items failed, how many, and a Retry for just those.
#[component]
fn FailureGroup(
    why: String,
    count: usize,
    can_retry: impl Fn() -> bool + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let run = ctx.run;
    let reason = why.clone();
    let of_group = why.clone();
    // Every item of the group by name, each opening its details: the grid
    // holds only the rows in view.
    let items = Memo::new(move |_| {
        run.tally()
            .failed
            .into_iter()
            .filter(|item| item.why == of_group)
            .collect::<Vec<FailedItem>>()
    });
    view! {
        <li class="failure" data-testid="failure-group">
            <span class="count">{format!("{count} ×")}</span>
            <span class="why">{why}</span>
            <Show when=can_retry>
                <button
                    class="button small"
                    data-testid="retry-group"
                    on:click={
                        let reason = reason.clone();
                        move |_| spawn_local(flow::retry_failed(ctx, Some(reason.clone())))
                    }
                >
                    "Retry"
                </button>
            </Show>
            <ul class="failed-items">
                <For each=move || items.get() key=|item| item.id.clone() let:item>
                    <li>
                        <button
                            class="link"
                            data-testid="failed-item"
                            data-item-id=item.id.clone()
                            title=item.why.clone()
                            on:click={
                                let id = item.id.clone();
                                move |_| run.selected.set(Some(id.clone()))
                            }
                        >
                            {item.name.clone()}
                        </button>
                    </li>
                </For>
            </ul>
        </li>
    }
}

/// `All 12 done`, or what fell short: `6 of 12 saved, 1 failed, 5 cancelled`.
fn headline(t: &Totals) -> String {
    if t.failed == 0 && t.cancelled == 0 {
        return format!("All {} done", t.items);
    }
    let mut text = format!("{} of {} saved", t.saved + t.duplicates, t.items);
    if t.failed > 0 {
        text.push_str(&format!(", {} failed", t.failed));
    }
    if t.cancelled > 0 {
        text.push_str(&format!(", {} cancelled", t.cancelled));
    }
    text
}
