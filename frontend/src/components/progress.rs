use leptos::prelude::*;

use crate::model::human_bytes;
use crate::state::Ctx;

/// The overall progress bar.
#[component]
pub fn ProgressCard() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let totals = Memo::new(move |_| ctx.totals());
    view! {
        <section class="card progress" data-testid="progress">
            <div class="progress-head">
                <span data-testid="progress-text">
                    {move || {
                        let t = totals.get();
                        format!("{} of {} done · {}", t.done, t.items, human_bytes(t.bytes))
                    }}
                </span>
                <span class="counts">
                    {move || {
                        let t = totals.get();
                        format!("{} saved · {} already saved · {} failed", t.saved, t.duplicates, t.failed)
                    }}
                </span>
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
