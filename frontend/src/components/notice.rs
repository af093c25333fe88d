use leptos::prelude::*;

use crate::state::Ctx;

/// A dismissible message banner (errors and hints).
#[component]
pub fn Notice() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    move || {
        ctx.notice.get().map(|notice| {
            view! {
                <div
                    class="notice"
                    class:info=!notice.is_error
                    role=if notice.is_error { "alert" } else { "status" }
                    data-testid="notice"
                >
                    <span>{notice.text}</span>
                    <button class="link" on:click=move |_| ctx.notice.set(None)>"Dismiss"</button>
                </div>
            }
        })
    }
}
