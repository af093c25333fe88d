use leptos::prelude::*;

use metafix::DatePolicy;

use crate::model::Settings;
use crate::state::{Prefs, Run, Zone};

/// Artist, Copyright, date policy and time zone.
#[component]
pub fn SettingsCard() -> impl IntoView {
    let prefs = expect_context::<Prefs>();
    let run = expect_context::<Run>();
    let s = prefs.settings;
    let busy = move || run.is_busy();
    let problem = move || match prefs.zone.get() {
        Zone::Unknown(_, why) => Some(format!("Time zone: {why}")),
        _ => None,
    };
    // Check (and fetch) the time zone whenever the setting changes.
    Effect::new(move |_| {
        s.with(|settings| settings.time_zone.clone());
        leptos::task::spawn_local(async move {
            let _ = prefs.time_zone().await;
        });
    });
    view! {
        <section class="card settings">
            <h2>"What to fix"</h2>
            <p class="fine">"Every photo loses Google's “Software” tag and gets broken EXIF fields repaired."</p>
            <TextSetting
                label="Artist"
                testid="artist"
                placeholder="leave the photo's own"
                get=|s| s.artist.clone()
                set=|s, v| s.artist = v
            />
            <TextSetting
                label="Copyright"
                testid="copyright"
                placeholder="leave the photo's own"
                get=|s| s.copyright.clone()
                set=|s, v| s.copyright = v
            />
            <label>
                "Capture dates"
                <select
                    data-testid="dates"
                    disabled=busy
                    on:change=move |ev| {
                        if let Ok(choice) = event_target_value(&ev).parse::<DatePolicy>() {
                            prefs.update(|s| s.dates = choice);
                        }
                    }
                >
                    {DatePolicy::ALL
                        .into_iter()
                        .map(|choice| {
                            let label = match choice {
                                DatePolicy::Fill => "Add where missing",
                                DatePolicy::Overwrite => "Always use Google's date",
                                DatePolicy::Keep => "Leave dates alone",
                            };
                            view! {
                                <option value=choice.as_str() selected=move || s.with(|s| s.dates == choice)>
                                    {label}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <TextSetting
                label="Time zone for photos without one"
                testid="time-zone"
                placeholder="UTC"
                get=|s| s.time_zone.clone()
                set=|s, v| s.time_zone = v
            />
            <details class="advanced">
                <summary>"Advanced"</summary>
                <label>
                    "Downloads at a time"
                    <select
                        data-testid="parallel"
                        disabled=busy
                        on:change=move |ev| {
                            if let Ok(n) = event_target_value(&ev).parse::<usize>() {
                                prefs.update(|s| s.parallel = n);
                            }
                        }
                    >
                        {Settings::PARALLEL_CHOICES
                            .into_iter()
                            .map(|n| view! {
                                <option value=n.to_string() selected=move || s.with(|s| s.parallel() == n)>
                                    {if n == Settings::DEFAULT_PARALLEL { format!("{n} (default)") } else { n.to_string() }}
                                </option>
                            })
                            .collect_view()}
                    </select>
                </label>
            </details>
            {move || problem().map(|e| view! { <p class="warning" data-testid="settings-problem">{e}</p> })}
        </section>
    }
}

/// One text field of the settings, remembered as soon as it changes.
#[component]
fn TextSetting(
    label: &'static str,
    testid: &'static str,
    placeholder: &'static str,
    get: fn(&Settings) -> String,
    set: fn(&mut Settings, String),
) -> impl IntoView {
    let prefs = expect_context::<Prefs>();
    let run = expect_context::<Run>();
    view! {
        <label>
            {label}
            <input
                type="text"
                data-testid=testid
                placeholder=placeholder
                prop:value=move || prefs.settings.with(get)
                disabled=move || run.is_busy()
                on:change=move |ev| {
                    let value = event_target_value(&ev);
                    prefs.update(|s| set(s, value));
                }
            />
        </label>
    }
}
