use leptos::prelude::*;

use crate::state::Notices;

/// A dismissible message banner (errors and hints).
#[component]
pub fn Notice() -> impl IntoView {
    let notices = expect_context::<Notices>();
    move || {
        notices.current().map(|notice| {
            view! {
                <div
                    class="notice"
                    class:info=!notice.is_error
                    role=if notice.is_error { "alert" } else { "status" }
                    data-testid="notice"
                >
                    <span>{notice.text}</span>
                    <button class="link" on:click=move |_| notices.clear()>"Dismiss"</button>
                </div>
            }
        })
    }
}
