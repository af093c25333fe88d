use leptos::prelude::*;
use metafix::Report;

use crate::model::{Stage, human_bytes, photographer_time};
use crate::state::{Prefs, Row, Run};

/// The selected item: what metafix changed (before → after), repaired, could not
/// do, and what Google had already lost.
#[component]
pub fn Details() -> impl IntoView {
    let run = expect_context::<Run>();
    let row = move || {
        let id = run.selected.get()?;
        run.batch.with(|b| b.get(&id).cloned())
    };
    view! {
        <aside
            class="card details"
            class:has-selection=move || run.selected.with(Option::is_some)
            data-testid="details"
            aria-label="What Keepsake changed in the selected photo"
        >
            {move || match row() {
                None => view! {
                    <p class="fine">"Select a photo to see what Keepsake changed."</p>
                }.into_any(),
                Some(row) => view! { <RowDetails row=row/> }.into_any(),
            }}
        </aside>
    }
}

#[component]
fn RowDetails(row: Row) -> impl IntoView {
    let run = expect_context::<Run>();
    let prefs = expect_context::<Prefs>();
    let item = row.item.clone();
    let progress = RwSignal::from(row.progress.clone());
    let create_time = item.create_time;
    // On the photographer's clock: the offset the fixed file carries, else the
    // time zone setting's (the same rule metafix writes dates by). The file's own
    // date once the plan has found it, else Google's createTime.
    let created = move || {
        let (offset, planned) = progress.with(|p| (p.capture_offset, p.capture_time));
        match planned.or(create_time) {
            Some(instant) => prefs
                .zone
                .with(|zone| photographer_time(instant, offset, zone.time_zone())),
            None => "unknown: Google gave no date, and the file has none".to_owned(),
        }
    };
    let mime = item.media_file.mime_type.clone();
    view! {
        <div class="details-head">
            <h2 class="wrap">{move || progress.with(|p| p.file_name.clone()).unwrap_or_else(|| item.media_file.filename.clone())}</h2>
            <button class="link close" data-testid="details-close" aria-label="Close the details" on:click=move |_| run.selected.set(None)>
                "✕"
            </button>
        </div>
        <dl class="facts">
            <dt>"Taken"</dt><dd data-testid="detail-taken" title="The file's own capture time, else Google's createTime, on the photographer's clock">{created}</dd>
            <dt>"Type"</dt><dd>{mime}</dd>
            <dt>"Status"</dt>
            <dd data-testid="detail-stage">{move || progress.with(|p| p.stage.label())}</dd>
            {move || progress.with(|p| p.saved_path.clone()).map(|path| view! {
                <dt>"Saved as"</dt><dd class="wrap" data-testid="saved-path">{path}</dd>
            })}
            {move || progress.with(|p| match p.total {
                Some(total) => Some(view! {
                    <dt>"Fetched"</dt>
                    <dd data-testid="detail-sent">
                        {format!("{} of {}", human_bytes(p.bytes), human_bytes(total))}
                    </dd>
                }.into_any()),
                None => (p.bytes > 0).then(|| view! {
                    <dt>"Size"</dt><dd>{human_bytes(p.bytes)}</dd>
                }.into_any()),
            })}
        </dl>
        {move || progress.with(|p| p.error.clone()).map(|error| view! {
            <p class="warning" data-testid="detail-error">{error}</p>
        })}
        {move || {
            let p = progress.get();
            match p.report {
                Some(report) => view! { <ReportView report=report/> }.into_any(),
                None if p.stage == Stage::Failed => ().into_any(),
                None => view! { <p class="fine">"Not fixed yet."</p> }.into_any(),
            }
        }}
    }
}

/// A metafix report as tables.
#[component]
pub fn ReportView(report: Report) -> impl IntoView {
    let unchanged = report.outcome() == metafix::Outcome::AlreadyAsAsked;
    view! {
        <div class="report" data-testid="item-report">
            {(!report.changes.is_empty()).then(|| view! {
                <table class="changes">
                    <thead><tr><th>"Field"</th><th>"Before"</th><th>"After"</th></tr></thead>
                    <tbody>
                        {report.changes.iter().map(|c| view! {
                            <tr data-testid="change">
                                <td title=c.location.map_or("file", |ifd| ifd.name())>{c.field.clone()}</td>
                                <td class="before">{c.before.clone().unwrap_or_else(|| "—".into())}</td>
                                <td class="after">{c.after.clone().unwrap_or_else(|| "removed".into())}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
            {unchanged.then(|| view! { <p class="fine">"Nothing needed changing."</p> })}
            {report.date_source.clone().map(|source| view! {
                <p class="fine">"Time zone from " {source.to_string()} "."</p>
            })}
            <ReportList title="Repaired" items=report.repairs.iter().map(|r| format!("{}: {}", r.location_name(), r.what)).collect()/>
            <ReportList title="Could not do" items=report.not_done.iter().map(|n| format!("{} — {}", n.what, n.why)).collect()/>
            <ReportList title="Warnings" items=report.warnings.iter().map(ToString::to_string).collect()/>
            <ReportList title="Lost before Keepsake saw it" items=report.losses.clone()/>
        </div>
    }
}

#[component]
fn ReportList(title: &'static str, items: Vec<String>) -> impl IntoView {
    (!items.is_empty()).then(|| {
        view! {
            <h3>{title}</h3>
            <ul class="notes">{items.into_iter().map(|i| view! { <li>{i}</li> }).collect_view()}</ul>
        }
    })
}
