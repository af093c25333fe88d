use leptos::prelude::*;

use crate::state::Ctx;

/// The signed-in indicator and "Sign out" in the top bar.
#[component]
pub fn Account() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let member = move || {
        ctx.config.with(|c| {
            c.as_ref()
                .and_then(|c| c.member.as_ref().map(|m| m.name.clone()))
        })
    };
    view! {
        <div class="account">
            {move || member().map(|name| view! { <span class="member">{name}</span> })}
            <Show when=move || ctx.token.with(Option::is_some)>
                <span class="signed-in" data-testid="signed-in">"Signed in to Google Photos"</span>
                <button
                    class="link"
                    data-testid="sign-out"
                    disabled=move || ctx.phase.with(|p| p.is_busy())
                    on:click=move |_| ctx.token.set(None)
                >
                    "Sign out"
                </button>
            </Show>
        </div>
    }
}
