//! Thumbnails, loaded only for the tiles near the viewport: a 5,000-item batch
//! fetches the few dozen a screen shows (and a screen of look-ahead), a few at a
//! time, and keeps at most [`MAX_LOADED`] of them — the grid keeps only the
//! rows near the viewport in the page, and a thumbnail outlives its tile until
//! it is among the least recently loaded of those far away, so scrolling back
//! a little shows them at once. [`Thumbnails::clear`] releases them all.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use picker::MediaSuffix;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{IntersectionObserver, IntersectionObserverEntry, IntersectionObserverInit};

use crate::browser;
use crate::client::{self, PickerApi};
use crate::state::{Auth, Row};
use picker::retry::RetryPolicy;

/// Thumbnails fetched at the same time.
const CONCURRENT: usize = 6;
/// Thumbnail size asked of Google (CSS shows them at 160 px; 2× for sharp screens).
const THUMBNAIL_PX: u32 = 320;
/// How far beyond the viewport a tile counts as near: about a screen of look-ahead.
const ROOT_MARGIN: &str = "800px 0px";
/// Thumbnails kept at once; past this, those of tiles not near the viewport are
/// released (a few MB of decoded images, whatever the batch's size).
pub const MAX_LOADED: usize = 240;
/// A thumbnail is a nicety: retried briefly, then left as a placeholder.
const RETRY: RetryPolicy = RetryPolicy::MEDIA.with_deadline(Duration::from_secs(20));

/// Handle to the loader (in the context; `Copy`).
#[derive(Clone, Copy)]
pub struct Thumbnails {
    loader: StoredValue<Loader, LocalStorage>,
}

struct Tile {
    row: Row,
    element: web_sys::Element,
    near: bool,
    /// Queued or being fetched.
    pending: bool,
}

#[derive(Default)]
struct Loader {
    /// `None` where the browser has no `IntersectionObserver`: every tile is near.
    observer: Option<IntersectionObserver>,
    on_change: Option<Closure<dyn FnMut(js_sys::Array)>>,
    tiles: HashMap<String, Tile>,
    queue: VecDeque<String>,
    running: usize,
    /// Rows whose thumbnail is kept (shown, or ready for when their tile comes
    /// back), least recently loaded first.
    loaded: VecDeque<Row>,
}

impl Thumbnails {
    /// Creates the loader (once, in `App`).
    pub fn new(auth: Auth) -> Self {
        let thumbnails = Thumbnails {
            loader: StoredValue::new_local(Loader::default()),
        };
        let on_change = Closure::<dyn FnMut(js_sys::Array)>::new(move |entries: js_sys::Array| {
            for entry in entries.iter() {
                let Ok(entry) = entry.dyn_into::<IntersectionObserverEntry>() else {
                    continue;
                };
                let Some(id) = entry.target().get_attribute("data-item-id") else {
                    continue;
                };
                thumbnails.set_near(&id, entry.is_intersecting());
            }
            thumbnails.pump(auth);
        });
        let options = IntersectionObserverInit::new();
        options.set_root_margin(ROOT_MARGIN);
        let observer =
            IntersectionObserver::new_with_options(on_change.as_ref().unchecked_ref(), &options)
                .ok();
        thumbnails.loader.update_value(|loader| {
            loader.observer = observer;
            loader.on_change = Some(on_change);
        });
        thumbnails
    }

    /// Starts watching a tile: its thumbnail loads while it is near the viewport.
    pub fn watch(&self, auth: Auth, row: Row, element: web_sys::Element) {
        let id = row.item.id.clone();
        let observed = self.loader.with_value(|loader| match &loader.observer {
            Some(observer) => {
                observer.observe(&element);
                true
            }
            None => false,
        });
        self.loader.update_value(|loader| {
            loader.tiles.insert(
                id.clone(),
                Tile {
                    row,
                    element,
                    near: false,
                    pending: false,
                },
            );
        });
        if !observed {
            self.set_near(&id, true);
            self.pump(auth);
        }
    }

    /// Stops watching a tile that left the page; its thumbnail is kept while
    /// fewer than [`MAX_LOADED`] are.
    pub fn forget(&self, id: &str) {
        self.loader.update_value(|loader| {
            if let Some(tile) = loader.tiles.remove(id)
                && let Some(observer) = &loader.observer
            {
                observer.unobserve(&tile.element);
            }
            loader.queue.retain(|queued| queued != id);
            evict(loader);
        });
    }

    /// Releases every thumbnail (the batch is cleared); fetches under way are
    /// dropped when they end.
    pub fn clear(&self) {
        self.loader.update_value(|loader| {
            for row in loader.loaded.drain(..) {
                release(&row);
            }
            loader.queue.clear();
            for tile in loader.tiles.values_mut() {
                tile.pending = false;
            }
        });
    }

    /// Thumbnails kept now.
    pub fn kept(&self) -> usize {
        self.loader.with_value(|loader| loader.loaded.len())
    }

    fn set_near(&self, id: &str, near: bool) {
        self.loader.update_value(|loader| {
            let Some(tile) = loader.tiles.get_mut(id) else {
                return;
            };
            tile.near = near;
            let wanted = near && !tile.pending && tile.row.thumb.with_untracked(Option::is_none);
            if wanted {
                tile.pending = true;
                loader.queue.push_back(id.to_owned());
            }
        });
    }

    /// Starts fetches for queued tiles that are still near, up to [`CONCURRENT`].
    fn pump(&self, auth: Auth) {
        loop {
            let next = self.loader.try_update_value(|loader| {
                if loader.running >= CONCURRENT {
                    return None;
                }
                while let Some(id) = loader.queue.pop_front() {
                    let Some(tile) = loader.tiles.get_mut(&id) else {
                        continue;
                    };
                    if !tile.near {
                        // Scrolled past before its turn: it queues again if it comes back.
                        tile.pending = false;
                        continue;
                    }
                    loader.running += 1;
                    return Some(tile.row.clone());
                }
                None
            });
            let Some(Some(row)) = next else {
                return;
            };
            let thumbnails = *self;
            spawn_local(async move {
                let url = fetch(auth, &row).await;
                thumbnails.loaded(auth, &row, url);
            });
        }
    }

    /// A fetch ended: shows the thumbnail, releases the oldest far ones past
    /// [`MAX_LOADED`], and starts the next fetch.
    fn loaded(&self, auth: Auth, row: &Row, url: Option<String>) {
        let id = row.item.id.clone();
        self.loader.update_value(|loader| {
            loader.running = loader.running.saturating_sub(1);
            let Some(tile) = loader.tiles.get_mut(&id) else {
                // The tile went away meanwhile.
                if let Some(url) = url {
                    revoke(&url);
                }
                return;
            };
            tile.pending = false;
            let Some(url) = url else {
                return;
            };
            release(&tile.row);
            loader.loaded.retain(|row| row.item.id != id);
            tile.row.thumb.set(Some(url));
            loader.loaded.push_back(tile.row.clone());
            evict(loader);
        });
        self.pump(auth);
    }
}

/// Releases the least recently loaded thumbnails of tiles not near the viewport
/// until at most [`MAX_LOADED`] are kept.
fn evict(loader: &mut Loader) {
    let mut kept = VecDeque::with_capacity(loader.loaded.len());
    let mut excess = loader.loaded.len().saturating_sub(MAX_LOADED);
    while let Some(row) = loader.loaded.pop_front() {
        let far = loader.tiles.get(&row.item.id).is_none_or(|tile| !tile.near);
        if excess > 0 && far {
            release(&row);
            excess -= 1;
        } else {
            kept.push_back(row);
        }
    }
    loader.loaded = kept;
}

/// Drops a row's thumbnail and revokes its object URL.
fn release(row: &Row) {
    if let Some(url) = row.thumb.try_get_untracked().flatten() {
        row.thumb.set(None);
        revoke(&url);
    }
}

fn revoke(url: &str) {
    let _ = web_sys::Url::revoke_object_url(url);
}

/// Fetches a row's thumbnail through the proxy (an `<img>` cannot send the bearer
/// token): an object URL, or `None` (logged) when it could not be had.
async fn fetch(auth: Auth, row: &Row) -> Option<String> {
    let api = auth.picker_api()?;
    let url = PickerApi::media_url(
        &row.item,
        MediaSuffix::Fit {
            width: THUMBNAIL_PX,
            height: THUMBNAIL_PX,
            crop: true,
        },
    );
    match client::with_retry(RETRY, || api.fetch_media(&url)).await {
        Ok(buffer) => browser::object_url(&buffer, "image/jpeg").ok(),
        Err(err) => {
            leptos::logging::warn!("thumbnail of {}: {err}", row.item.id);
            None
        }
    }
}
