use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::client;
use crate::state::Ctx;

/// Family mode's first card: the member signs in to the helper (name and
/// passphrase) before anything else; Google comes next.
#[component]
pub fn MemberSignIn() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let member = RwSignal::new(String::new());
    let passphrase = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        spawn_local(async move {
            let name = member.get_untracked();
            match client::login(name.trim(), &passphrase.get_untracked()).await {
                Ok(_) => {
                    passphrase.set(String::new());
                    ctx.notices.clear();
                    ctx.reload_config().await;
                }
                Err(err) if err.status() == 401 => ctx
                    .notices
                    .fail("that name and passphrase do not match a member of this helper"),
                Err(err) => ctx.notices.fail(&format!("could not sign in: {err}")),
            }
            busy.set(false);
        });
    };
    view! {
        <section class="card hero">
            <h1>"Welcome home."</h1>
            <p class="lead">
                "This Keepsake helper keeps a family's photos, each member in their own folder. "
                "Sign in with the name and passphrase your family's helper gave you."
            </p>
            {crate::auth::plain_http_off_this_machine(&crate::browser::origin()).then(|| view! {
                <p class="warning" data-testid="plain-http-warning">
                    "This connection is not encrypted: anyone on this network can read your "
                    "passphrase and the photos you save. Ask whoever runs the helper to give it a "
                    "certificate (helper tls self-signed, then --tls-cert and --tls-key)."
                </p>
            })}
            <form class="member-sign-in" on:submit=submit>
                <label>
                    "Name"
                    <input
                        type="text"
                        name="username"
                        autocomplete="username"
                        data-testid="member-name"
                        required
                        prop:value=move || member.get()
                        on:input=move |ev| member.set(event_target_value(&ev))
                    />
                </label>
                <label>
                    "Passphrase"
                    <input
                        type="password"
                        name="password"
                        autocomplete="current-password"
                        data-testid="member-passphrase"
                        required
                        prop:value=move || passphrase.get()
                        on:input=move |ev| passphrase.set(event_target_value(&ev))
                    />
                </label>
                <button class="primary big" type="submit" data-testid="member-sign-in" disabled=move || busy.get()>
                    "Sign in"
                </button>
            </form>
        </section>
    }
}
