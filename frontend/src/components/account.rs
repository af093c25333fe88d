use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::client;
use crate::state::{Auth, Ctx, Notices, Run};

/// The signed-in indicator and "Sign out" in the top bar.
#[component]
pub fn Account() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let auth = expect_context::<Auth>();
    let notices = expect_context::<Notices>();
    let run = expect_context::<Run>();
    let member = move || {
        auth.config.with(|c| {
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
                    disabled=move || run.is_busy()
                    on:click=move |_| spawn_local(async move {
                        if let Err(err) = client::logout().await {
                            notices.fail(&format!("could not sign out: {err}"));
                        }
                        // Google's token is this member's: it goes too.
                        auth.sign_out();
                        ctx.reload_config().await;
                    })
                >
                    "Sign out of the helper"
                </button>
            })}
            <Show when=move || auth.signed_in()>
                <span class="signed-in" data-testid="signed-in">"Signed in to Google Photos"</span>
                <button
                    class="link"
                    data-testid="sign-out"
                    disabled=move || run.is_busy()
                    on:click=move |_| auth.sign_out()
                >
                    "Sign out"
                </button>
            </Show>
        </div>
    }
}
