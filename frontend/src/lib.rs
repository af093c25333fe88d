//! Keepsake's browser app: sign in to Google, pick photos with the Picker API, have
//! the helper fetch them, plan their metadata fix in WASM (metafix) from the few
//! ranges of each file it needs, and have the helper save them with that patch —
//! in its library or as a zip. Photo and video bytes never pass through the tab.
//!
//! `main.rs` only mounts [`App`]; everything lives here so browser tests can
//! mount it. Build and serve it with trunk (see the README).

pub mod auth;
pub mod batch;
pub mod browser;
pub mod client;
pub mod components;
pub mod flow;
pub mod layout;
pub mod model;
pub mod process;
pub mod state;
pub mod thumbs;
pub mod timing;
pub mod urls;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::auth::Return;
use crate::components::{
    Account, Details, Grid, History, MemberSignIn, Notice, PickCard, ProgressCard, Results,
    SettingsCard, SignIn,
};
use crate::state::{Ctx, PendingRun};

/// The whole app.
#[component]
pub fn App() -> impl IntoView {
    browser::expose_wasm_memory();
    // A run this tab left unfinished (its sign-in expired, or the page was
    // reloaded) continues in the same batch once the user is signed in again.
    let pending = PendingRun::load();
    let batch = match &pending {
        Some(run) => run.batch.clone(),
        None => state::new_batch_id(),
    };
    let ctx = Ctx::provide(batch);
    ctx.run.keep_counting();
    provide_context(thumbs::Thumbnails::new(ctx.auth));
    let Ctx {
        notices, auth, run, ..
    } = ctx;

    match auth::take_return(browser::now_ms()) {
        Some(Return::Token(token)) => auth.token.set(Some(token)),
        Some(Return::Failed(message)) => notices.fail(&message),
        None => {}
    }
    if pending.is_some() && auth.token.with_untracked(Option::is_none) {
        notices.inform("sign in again to continue where Keepsake stopped");
    }
    spawn_local(async move {
        ctx.reload_config().await;
        if auth.config.with_untracked(Option::is_none) {
            return;
        }
        if let Some(pending) = pending
            && auth.token.with_untracked(Option::is_some)
        {
            flow::resume(ctx, pending).await;
        }
    });

    let signed_in = move || auth.signed_in();
    let has_rows = move || run.has_items();
    let demo = move || auth.is_demo();

    view! {
        <header class="topbar">
            <div class="brand">
                <span class="logo" aria-hidden="true">"◆"</span>
                <span class="name">"Keepsake"</span>
                <Show when=demo>
                    <span class="badge" data-testid="demo-badge" title="Running against the built-in Google emulator">
                        "demo"
                    </span>
                </Show>
            </div>
            <Account/>
        </header>
        <main class="page">
            <Notice/>
            <Show when=move || auth.needs_member()>
                <MemberSignIn/>
            </Show>
            <Show when=move || !signed_in() && !auth.needs_member() && auth.config.with(Option::is_some)>
                <SignIn/>
            </Show>
            <Show when=move || signed_in() && !auth.needs_member()>
                <div class="columns">
                    <SettingsCard/>
                    <PickCard/>
                </div>
            </Show>
            <Show when=has_rows>
                <ProgressCard/>
                <Results/>
                <div class="workspace">
                    <Grid/>
                    <Details/>
                </div>
            </Show>
            <Show when=move || auth.config.with(Option::is_some) && !auth.needs_member()>
                <History/>
            </Show>
        </main>
        <footer class="footer">
            "Your photos go from Google Photos through your own Keepsake helper; nothing else sees them."
            {move || auth.config.with(|c| c.as_ref().filter(|c| !c.version.is_empty()).map(|c| {
                view! { <span class="version" data-testid="version">" · Keepsake "{c.version.clone()}</span> }
            }))}
        </footer>
    }
}
