use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::flow;
use crate::state::{Ctx, Phase};

/// When a session's items are all done: what happened, and the zip.
#[component]
pub fn Results() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let totals = Memo::new(move |_| ctx.totals());
    let done = move || ctx.phase.with(|p| *p == Phase::Done) && totals.get().finished();
    let zip_url = move || api::routes::batch_zip(&ctx.batch.get_value());
    view! {
        <Show when=done>
            <section class="card results" data-testid="results">
                <div>
                    <h2>
                        {move || {
                            let t = totals.get();
                            if t.failed == 0 {
                                format!("All {} done", t.items)
                            } else {
                                format!("{} of {} done, {} failed", t.saved + t.duplicates, t.items, t.failed)
                            }
                        }}
                    </h2>
                    <p class="fine">
                        "Saved in the helper's library folder, sorted by year and month of capture."
                    </p>
                </div>
                <div class="actions">
                <Show when=move || { totals.get().failed > 0 && ctx.open_session.with(Option::is_some) }>
                    <button
                        class="button"
                        data-testid="retry-failed"
                        on:click=move |_| spawn_local(flow::retry_failed(ctx))
                    >
                        "Retry failed"
                    </button>
                </Show>
                <Show when=move || { let t = totals.get(); t.saved + t.duplicates > 0 }>
                    <a class="button primary" data-testid="download-zip" href=zip_url download="">
                        "Download zip"
                    </a>
                </Show>
                </div>
            </section>
        </Show>
    }
}
