use leptos::prelude::*;
use leptos::task::spawn_local;

use super::Qr;
use crate::batch::Phase;
use crate::flow;
use crate::state::{Auth, Ctx, Run};

/// "Pick photos": opens a picking session, links to Google Photos, and shows
/// where the session is.
#[component]
pub fn PickCard() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let auth = expect_context::<Auth>();
    let run = expect_context::<Run>();
    let start = move |_| spawn_local(flow::pick_and_process(ctx));
    let has_rows = move || run.has_items();

    view! {
        <section class="card pick">
            <h2>"Pick photos"</h2>
            {move || match run.phase() {
                Phase::Idle | Phase::Done => view! {
                    <p>"Choose photos and videos in Google Photos; Keepsake takes it from there."</p>
                    <button class="primary big" data-testid="pick-photos" on:click=start>
                        {move || if has_rows() { "Pick more" } else { "Pick photos" }}
                    </button>
                }.into_any(),
                Phase::Creating => view! {
                    <p class="status" data-testid="picking-status">"Opening a picking session…"</p>
                }.into_any(),
                Phase::Picking(session) => {
                    // A real link, clicked by the user: a popup opened after an
                    // await would be blocked. `/autoclose` closes the tab when done.
                    let demo = untrack(|| auth.is_demo());
                    let picker_uri = if demo {
                        crate::auth::rebase(&session.picker_uri, &crate::browser::origin())
                    } else {
                        session.picker_uri.clone()
                    };
                    let href = format!("{}/autoclose", picker_uri.trim_end_matches('/'));
                    let qr_hint = picker_uri;
                    view! {
                        <ol class="steps">
                            <li>
                                <a class="button primary big" data-testid="open-picker" href=href target="_blank" rel="noopener">
                                    "Open Google Photos ↗"
                                </a>
                            </li>
                            <li>"Tick the photos you want, then press " <b>"Done"</b> "."</li>
                        </ol>
                        <p class="status" data-testid="picking-status">
                            <span class="spinner" aria-hidden="true"></span>
                            "Waiting for you to finish picking…"
                        </p>
                        <details class="fine" data-testid="phone-picking">
                            <summary>"On your phone instead?"</summary>
                            <p>"Scan this with a phone signed in to the same Google account, or open the link there:"</p>
                            <Qr text=qr_hint.clone()/>
                            <code class="wrap">{qr_hint}</code>
                        </details>
                        <button class="link" data-testid="cancel-picking" on:click=move |_| run.cancel()>
                            "Cancel"
                        </button>
                    }.into_any()
                }
                Phase::Listing => view! {
                    <p class="status" data-testid="picking-status">"Reading what you picked…"</p>
                }.into_any(),
                Phase::Processing => view! {
                    <p class="status" data-testid="picking-status">"Fixing and saving your photos…"</p>
                }.into_any(),
            }}
        </section>
    }
}
