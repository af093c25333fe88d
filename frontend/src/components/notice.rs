use leptos::prelude::*;

use crate::state::Ctx;

/// A dismissible message banner (errors and hints).
#[component]
pub fn Notice() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    move || {
        ctx.notice.get().map(|message| {
            view! {
                <div class="notice" role="alert" data-testid="notice">
                    <span>{message}</span>
                    <button class="link" on:click=move |_| ctx.notice.set(None)>"Dismiss"</button>
                </div>
            }
        })
    }
}
