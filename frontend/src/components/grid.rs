use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;

use crate::batch::Batch;
use crate::layout::{GridLayout, Viewport};
use crate::state::{Auth, Row, Run};
use crate::thumbs::Thumbnails;

/// Thumbnails of every picked item, each with its stage. Only the rows near the
/// viewport are in the page (see [`crate::layout`]): the grid is as tall as all
/// of them, and the tiles drawn move with the scroll.
#[component]
pub fn Grid() -> impl IntoView {
    let run = expect_context::<Run>();
    let section = NodeRef::<leptos::html::Section>::new();
    let viewport = RwSignal::new(Viewport::default());
    let measure = move || {
        let Some(element) = section.get_untracked() else {
            return;
        };
        let rect = element.get_bounding_client_rect();
        let height = web_sys::window()
            .and_then(|w| w.inner_height().ok())
            .and_then(|h| h.as_f64())
            .unwrap_or(0.0);
        viewport.set(Viewport {
            width: f64::from(element.client_width()),
            top: rect.top(),
            height,
        });
    };
    // Scrolling and resizing move the window; the grid's own size changes too
    // when a scroll bar comes or the details column opens.
    let scrolled = window_event_listener(leptos::ev::scroll, move |_| measure());
    let resized = window_event_listener(leptos::ev::resize, move |_| measure());
    let observer = StoredValue::new_local(None::<(web_sys::ResizeObserver, Closure<dyn FnMut()>)>);
    section.on_load(move |element| {
        let changed = Closure::<dyn FnMut()>::new(measure);
        if let Ok(watch) = web_sys::ResizeObserver::new(changed.as_ref().unchecked_ref()) {
            watch.observe(&element);
            observer.set_value(Some((watch, changed)));
        }
        measure();
    });
    on_cleanup(move || {
        scrolled.remove();
        resized.remove();
        if let Some((watch, _)) = observer.try_update_value(Option::take).flatten() {
            watch.disconnect();
        }
    });

    let count = Memo::new(move |_| run.batch.with(Batch::len));
    let layout = Memo::new(move |_| GridLayout::for_width(viewport.with(|v| v.width)));
    let window = Memo::new(move |_| layout.get().window(viewport.get(), count.get()));
    // Only the rows in the window: a row's progress is its own tile's business.
    let rows = move || {
        let items = window.with(|w| w.items.clone());
        run.batch.with_untracked(|b: &Batch<Row>| {
            let rows = b.rows();
            rows[items.start.min(rows.len())..items.end.min(rows.len())].to_vec()
        })
    };
    view! {
        <section
            class="grid"
            data-testid="grid"
            node_ref=section
            style:height=move || format!("{}px", layout.get().height(count.get()))
        >
            <div
                class="grid-window"
                style:top=move || format!("{}px", window.with(|w| w.offset_px))
                style:grid-template-columns=move || {
                    format!("repeat({}, minmax(0, 1fr))", layout.get().columns)
                }
                style:grid-auto-rows=move || format!("{}px", layout.get().row_px)
            >
                <For each=rows key=|row| row.item.id.clone() let:row>
                    <Tile row=row/>
                </For>
            </div>
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
    // Handles in this tile's scope (freed with it) to the row's own signals.
    let progress = RwSignal::from(row.progress.clone());
    let thumb = RwSignal::from(row.thumb.clone());
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
