use leptos::prelude::*;

use crate::auth;
use crate::state::Ctx;

/// The first card: what Keepsake does, and "Sign in with Google".
#[component]
pub fn SignIn() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let problem = move || {
        ctx.config
            .with(|c| c.as_ref().and_then(|c| auth::origin_problem(c.mode)))
    };
    let sign_in = move |_| {
        if let Some(config) = ctx.config.get_untracked()
            && let Err(message) = auth::start_sign_in(&config, None)
        {
            ctx.fail(&message);
        }
    };
    view! {
        <section class="card hero">
            <h1>"Your photos, with their stories intact."</h1>
            <p class="lead">
                "Pick photos and videos in Google Photos. Keepsake downloads them at full resolution, "
                "repairs their metadata — capture dates with the right time zone, your name as Artist "
                "and Copyright, no “Software” stamp, broken EXIF fields fixed — and keeps them in your "
                "own library folder or a zip."
            </p>
            {move || problem().map(|text| view! { <p class="warning" data-testid="origin-warning">{text}</p> })}
            <button
                class="primary big"
                data-testid="sign-in"
                disabled=move || ctx.config.with(Option::is_none)
                on:click=sign_in
            >
                "Sign in with Google"
            </button>
            <p class="fine">"Keepsake asks only to see the photos you pick, never your whole library."</p>
        </section>
    }
}
