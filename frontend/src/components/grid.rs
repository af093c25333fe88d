use leptos::prelude::*;

use crate::batch::Batch;
use crate::state::{Auth, Row, Run};
use crate::thumbs::Thumbnails;

/// Thumbnails of every picked item, each with its stage.
#[component]
pub fn Grid() -> impl IntoView {
    let run = expect_context::<Run>();
    // Only the list of rows: a row's progress is its own tile's business.
    let rows = move || {
        run.batch
            .with(|b: &Batch<Row>| untrack(|| b.rows().to_vec()))
    };
    view! {
        <section class="grid" data-testid="grid">
            <For each=rows key=|row| row.item.id.clone() let:row>
                <Tile row=row/>
            </For>
        </section>
    }
}

#[component]
fn Tile(row: Row) -> impl IntoView {
    let run = expect_context::<Run>();
    let auth = expect_context::<Auth>();
    let thumbnails = expect_context::<Thumbnails>();
    let id = row.item.id.clone();
    // The thumbnail loads while the tile is near the viewport.
    let tile = NodeRef::<leptos::html::Button>::new();
    let watched = row.clone();
    tile.on_load(move |element| thumbnails.watch(auth, watched, element.into()));
    let gone = id.clone();
    on_cleanup(move || thumbnails.forget(&gone));
    let id_for_click = id.clone();
    let id_for_class = id.clone();
    let name = row.item.media_file.filename.clone();
    let alt = name.clone();
    let progress = row.progress;
    let thumb = row.thumb;
    let is_video = row.item.kind == picker::MediaType::Video;
    let selected = move || {
        run.selected
            .with(|s| s.as_deref() == Some(id_for_class.as_str()))
    };
    view! {
        <button
            node_ref=tile
            class="tile"
            class:selected=selected
            data-testid="item"
            data-item-id=id
            data-stage=move || progress.with(|p| p.stage.name())
            title=move || progress.with(|p| p.error.clone().unwrap_or_default())
            on:click=move |_| run.selected.set(Some(id_for_click.clone()))
        >
            <div class="thumb">
                {move || match thumb.get() {
                    Some(src) => view! { <img src=src alt=alt.clone()/> }.into_any(),
                    None => view! { <div class="placeholder"></div> }.into_any(),
                }}
                {is_video.then(|| view! { <span class="video-mark">"▶"</span> })}
            </div>
            <div class="caption">
                <span class="filename">
                    {move || progress.with(|p| p.file_name.clone()).unwrap_or_else(|| name.clone())}
                </span>
                <span class=move || format!("stage stage-{}", progress.with(|p| p.stage.name()))>
                    {move || progress.with(|p| p.stage.label())}
                </span>
            </div>
        </button>
    }
}
