use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::client;
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
            {move || member().map(|name| view! {
                <span class="member" data-testid="member">"Signed in as " <b>{name}</b></span>
                <button
                    class="link"
                    data-testid="member-sign-out"
                    disabled=move || ctx.phase.with(|p| p.is_busy())
                    on:click=move |_| spawn_local(async move {
                        if let Err(err) = client::logout().await {
                            ctx.fail(&format!("could not sign out: {err}"));
                        }
                        // Google's token is this member's: it goes too.
                        ctx.token.set(None);
                        ctx.reload_config().await;
                    })
                >
                    "Sign out of the helper"
                </button>
            })}
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
