use leptos::prelude::*;

use crate::state::{Auth, Notices};

/// The first card: what Keepsake does, and "Sign in with Google".
#[component]
pub fn SignIn() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let notices = expect_context::<Notices>();
    let problem = move || {
        auth.config
            .with(|c| c.as_ref().and_then(|c| crate::auth::origin_problem(c.mode)))
    };
    let sign_in = move |_| {
        if let Some(config) = auth.config.get_untracked()
            && let Err(message) = crate::auth::start_sign_in(&config, None)
        {
            notices.fail(&message);
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
                disabled=move || auth.config.with(Option::is_none)
                on:click=sign_in
            >
                "Sign in with Google"
            </button>
            <p class="fine">"Keepsake asks only to see the photos you pick, never your whole library."</p>
        </section>
    }
}
