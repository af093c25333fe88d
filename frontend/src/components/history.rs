use std::collections::BTreeMap;

use leptos::prelude::*;

use crate::browser;
use crate::client::{self, SavedFile};
use crate::model::{human_bytes, local_time};
use crate::state::Run;

/// One past batch, as the history shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PastBatch {
    /// The batch.
    pub batch: api::BatchId,
    /// When its last file was saved.
    pub last_saved: jiff::Timestamp,
    /// Its files, newest first.
    pub files: Vec<SavedFile>,
}

/// Groups saved files by batch, the most recent batch first.
pub fn past_batches(files: Vec<SavedFile>) -> Vec<PastBatch> {
    let mut by_batch: BTreeMap<api::BatchId, Vec<SavedFile>> = BTreeMap::new();
    for file in files {
        by_batch.entry(file.batch.clone()).or_default().push(file);
    }
    let mut batches: Vec<PastBatch> = by_batch
        .into_iter()
        .map(|(batch, files)| PastBatch {
            last_saved: files.iter().map(|f| f.saved_at).max().unwrap_or_default(),
            batch,
            files,
        })
        .collect();
    batches.sort_by_key(|b| std::cmp::Reverse(b.last_saved));
    batches
}

/// "What I saved before": past batches with their files and a zip of each.
#[component]
pub fn History() -> impl IntoView {
    let run = expect_context::<Run>();
    let open = RwSignal::new(false);
    // Loaded when opened, and again whenever a run finishes (new files).
    let history = LocalResource::new(move || {
        let wanted = open.get();
        let _ = run.is_busy();
        async move {
            if wanted {
                Some(client::history().await)
            } else {
                None
            }
        }
    });
    view! {
        <section class="card history" data-testid="history">
            <div class="card-head">
                <h2>"What you saved before"</h2>
                <button class="link" data-testid="history-toggle" on:click=move |_| open.update(|o| *o = !*o)>
                    {move || if open.get() { "Hide" } else { "Show" }}
                </button>
            </div>
            {move || match history.get().flatten() {
                None => None,
                Some(Err(err)) => Some(view! { <p class="warning">{format!("could not load the history: {err}")}</p> }.into_any()),
                Some(Ok(files)) if files.is_empty() => Some(view! { <p class="fine" data-testid="history-empty">"Nothing saved yet."</p> }.into_any()),
                Some(Ok(files)) => Some(view! {
                    <ul class="batches">
                        {past_batches(files).into_iter().map(|past| {
                            let size: u64 = past.files.iter().map(|f| f.size).sum();
                            let zip = api::routes::batch_zip(&past.batch);
                            view! {
                                <li data-testid="history-batch">
                                    <div class="batch-line">
                                        <span>{format!("{} · {} · {}", local_time(past.last_saved, browser::local_offset(past.last_saved)), count(past.files.len()), human_bytes(size))}</span>
                                        <a class="button" data-testid="history-zip" href=zip download="">"Download zip"</a>
                                    </div>
                                    <ul class="files">
                                        {past.files.into_iter().map(|f| view! {
                                            <li data-testid="history-file"><code>{f.path}</code></li>
                                        }).collect_view()}
                                    </ul>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()),
            }}
        </section>
    }
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 file".to_owned()
    } else {
        format!("{n} files")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(item: &str, batch: &str, saved_at: &str) -> SavedFile {
        SavedFile {
            item_id: item.parse().unwrap(),
            path: format!("2024/01/{item}.jpg"),
            size: 10,
            sha256: String::new(),
            capture_time: Some("2024-01-01T00:00:00Z".parse().unwrap()),
            capture_local: Some("2024-01-01T01:00:00".parse().unwrap()),
            crc32: None,
            batch: batch.parse().unwrap(),
            saved_at: saved_at.parse().unwrap(),
            missing: false,
        }
    }

    #[test]
    fn batches_are_grouped_newest_first() {
        let batches = past_batches(vec![
            file("a", "old", "2026-01-01T10:00:00Z"),
            file("b", "new", "2026-02-01T10:00:00Z"),
            file("c", "old", "2026-01-01T11:00:00Z"),
        ]);
        let names: Vec<_> = batches.iter().map(|b| b.batch.as_str()).collect();
        assert_eq!(names, ["new", "old"]);
        assert_eq!(batches[1].files.len(), 2);
        assert_eq!(batches[1].last_saved.to_string(), "2026-01-01T11:00:00Z");
    }
}
