use leptos::prelude::*;

use crate::model::DatesChoice;
use crate::process;
use crate::state::Ctx;

/// Artist, Copyright, date policy and time zone.
#[component]
pub fn SettingsCard() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let s = ctx.settings;
    let busy = move || ctx.phase.with(|p| p.is_busy());
    let tz_error = move || s.with(|settings| process::fix_options(settings).err());
    view! {
        <section class="card settings">
            <h2>"What to fix"</h2>
            <p class="fine">"Every photo loses Google's “Software” tag and gets broken EXIF fields repaired."</p>
            <label>
                "Artist"
                <input
                    type="text"
                    data-testid="artist"
                    placeholder="leave the photo's own"
                    prop:value=move || s.with(|s| s.artist.clone())
                    disabled=busy
                    on:change=move |ev| { let v = event_target_value(&ev); ctx.update_settings(|s| s.artist = v) }
                />
            </label>
            <label>
                "Copyright"
                <input
                    type="text"
                    data-testid="copyright"
                    placeholder="leave the photo's own"
                    prop:value=move || s.with(|s| s.copyright.clone())
                    disabled=busy
                    on:change=move |ev| { let v = event_target_value(&ev); ctx.update_settings(|s| s.copyright = v) }
                />
            </label>
            <label>
                "Capture dates"
                <select
                    data-testid="dates"
                    disabled=busy
                    on:change=move |ev| {
                        if let Some(choice) = DatesChoice::parse(&event_target_value(&ev)) {
                            ctx.update_settings(|s| s.dates = choice);
                        }
                    }
                >
                    {[
                        (DatesChoice::Fill, "Add where missing"),
                        (DatesChoice::Overwrite, "Always use Google's date"),
                        (DatesChoice::Keep, "Leave dates alone"),
                    ]
                        .into_iter()
                        .map(|(choice, label)| {
                            view! {
                                <option value=choice.as_str() selected=move || s.with(|s| s.dates == choice)>
                                    {label}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <label>
                "Time zone for photos without one"
                <input
                    type="text"
                    data-testid="time-zone"
                    placeholder="UTC"
                    prop:value=move || s.with(|s| s.time_zone.clone())
                    disabled=busy
                    on:change=move |ev| { let v = event_target_value(&ev); ctx.update_settings(|s| s.time_zone = v) }
                />
            </label>
            {move || tz_error().map(|e| view! { <p class="warning">{e}</p> })}
        </section>
    }
}
