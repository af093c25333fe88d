//! Every route of the helper: the patterns the helper's router mounts (axum's
//! `{name}` syntax) and the URL builders the app calls, side by side so they
//! cannot drift apart. URLs are relative to the helper's origin.

use crate::{BatchId, DownloadId, HistoryQuery, ItemId, UploadQuery};

/// `GET`: 200 when the helper is ready.
pub const HEALTHZ: &str = "/healthz";
/// `GET`: [`ClientConfig`](crate::ClientConfig).
pub const CONFIG: &str = "/api/config";
/// `POST` ([`LoginRequest`](crate::LoginRequest)): signs a family member in.
pub const LOGIN: &str = "/api/login";
/// `POST`: signs the member out.
pub const LOGOUT: &str = "/api/logout";
/// `GET ?url=…`: the streaming media proxy.
pub const MEDIA: &str = "/api/media";
/// `PUT` (body: the file, query: [`UploadQuery`]): [`SaveOutcome`](crate::SaveOutcome).
pub const UPLOAD: &str = "/api/batches/{batch}/items/{item_id}";
/// `POST` ([`FetchRequest`](crate::FetchRequest), the bearer token in
/// `Authorization`): the helper downloads the item itself, or answers that it is
/// already saved: [`FetchAnswer`](crate::FetchAnswer).
pub const FETCH: &str = "/api/batches/{batch}/items/{item_id}/fetch";
/// `GET` with `Range: bytes=A-B`: those bytes of a download (206), waiting for them
/// while the download is still arriving; `Content-Range` gives the whole length.
pub const DOWNLOAD: &str = "/api/downloads/{download}";
/// `POST` (body: a [`KeepRequest`](crate::KeepRequest)): applies the planned fix
/// while copying the download to its final place, and publishes it:
/// [`SaveOutcome`](crate::SaveOutcome).
pub const KEEP: &str = "/api/batches/{batch}/items/{item_id}/keep";
/// `GET`: [`BatchItems`](crate::BatchItems).
pub const BATCH: &str = "/api/batches/{batch}";
/// `GET`: the batch's saved files as one streamed zip.
pub const BATCH_ZIP: &str = "/api/batches/{batch}/zip";
/// `GET ?limit=…&before=…` ([`HistoryQuery`]): a [`HistoryPage`](crate::HistoryPage)
/// of [`SavedFile`](crate::SavedFile)s, newest first.
pub const HISTORY: &str = "/api/history";
/// `GET ?name=<IANA name>`: the zone's TZif data (RFC 8536), for the browser app,
/// which ships no time zone database of its own.
pub const TIME_ZONE: &str = "/api/timezone";
/// Everything under this prefix is the helper's API (JSON errors, CSRF rule).
pub const API_PREFIX: &str = "/api";

/// `/api/media?url=<url>` for a `baseUrl` with its suffix.
pub fn media(url: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("url", url)
        .finish();
    format!("{MEDIA}?{query}")
}

/// `/api/timezone?name=<IANA name>`.
pub fn time_zone(name: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("name", name)
        .finish();
    format!("{TIME_ZONE}?{query}")
}

/// `/api/batches/{batch}/items/{item_id}?filename=…&capture_time=…`.
pub fn upload(batch: &BatchId, item: &ItemId, query: &UploadQuery) -> String {
    // The ids are path-free tokens by construction: no escaping needed.
    let mut pairs = form_urlencoded::Serializer::new(String::new());
    pairs.append_pair("filename", &query.filename);
    if let Some(time) = &query.capture_time {
        pairs.append_pair("capture_time", &time.to_string());
    }
    format!("/api/batches/{batch}/items/{item}?{}", pairs.finish())
}

/// `/api/batches/{batch}/items/{item_id}/fetch`.
pub fn fetch(batch: &BatchId, item: &ItemId) -> String {
    format!("/api/batches/{batch}/items/{item}/fetch")
}

/// `/api/downloads/{download}`.
pub fn download(download: &DownloadId) -> String {
    format!("/api/downloads/{download}")
}

/// `/api/batches/{batch}/items/{item_id}/keep`.
pub fn keep(batch: &BatchId, item: &ItemId) -> String {
    format!("/api/batches/{batch}/items/{item}/keep")
}

/// `/api/batches/{batch}`.
pub fn batch(batch: &BatchId) -> String {
    format!("/api/batches/{batch}")
}

/// `/api/batches/{batch}/zip`.
pub fn batch_zip(batch: &BatchId) -> String {
    format!("/api/batches/{batch}/zip")
}

/// `/api/history?limit=…&before=…` (each part only when set).
pub fn history(query: &HistoryQuery) -> String {
    let mut pairs = form_urlencoded::Serializer::new(String::new());
    if let Some(limit) = query.limit {
        pairs.append_pair("limit", &limit.to_string());
    }
    if let Some(before) = &query.before {
        pairs.append_pair("before", &before.to_string());
    }
    let pairs = pairs.finish();
    if pairs.is_empty() {
        HISTORY.to_owned()
    } else {
        format!("{HISTORY}?{pairs}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fills a route pattern's `{name}` holes, as the router would match them.
    fn fill(pattern: &str, values: &[(&str, &str)]) -> String {
        values
            .iter()
            .fold(pattern.to_owned(), |path, (name, value)| {
                path.replace(&format!("{{{name}}}"), value)
            })
    }

    #[test]
    fn time_zone_names_are_query_encoded() {
        assert_eq!(
            time_zone("America/Argentina/Buenos_Aires"),
            "/api/timezone?name=America%2FArgentina%2FBuenos_Aires"
        );
    }

    #[test]
    fn builders_match_their_patterns() {
        let batch: BatchId = "b1".parse().unwrap();
        let item: ItemId = "i-2".parse().unwrap();
        assert_eq!(super::batch(&batch), fill(BATCH, &[("batch", "b1")]));
        assert_eq!(batch_zip(&batch), fill(BATCH_ZIP, &[("batch", "b1")]));
        let query = UploadQuery {
            filename: "a b&c.jpg".into(),
            capture_time: Some("2019-07-14T11:31:12+02:00".parse().unwrap()),
        };
        let url = upload(&batch, &item, &query);
        let (path, query_text) = url.split_once('?').unwrap();
        assert_eq!(path, fill(UPLOAD, &[("batch", "b1"), ("item_id", "i-2")]));
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query_text.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(
            pairs,
            [
                ("filename".to_owned(), "a b&c.jpg".to_owned()),
                (
                    "capture_time".to_owned(),
                    "2019-07-14T11:31:12+02:00".to_owned()
                )
            ]
        );
    }

    #[test]
    fn fetch_download_and_keep_builders_match_their_patterns() {
        let batch: BatchId = "b1".parse().unwrap();
        let item: ItemId = "i-2".parse().unwrap();
        let download: DownloadId = "d_3".parse().unwrap();
        let ids = [("batch", "b1"), ("item_id", "i-2"), ("download", "d_3")];
        assert_eq!(fetch(&batch, &item), fill(FETCH, &ids));
        assert_eq!(super::download(&download), fill(DOWNLOAD, &ids));
        assert_eq!(keep(&batch, &item), fill(KEEP, &ids));
    }

    #[test]
    fn history_urls_carry_only_what_is_set() {
        assert_eq!(history(&HistoryQuery::default()), HISTORY);
        let query = HistoryQuery {
            limit: Some(20),
            before: Some("1700000000000.item-9".parse().unwrap()),
        };
        assert_eq!(
            history(&query),
            "/api/history?limit=20&before=1700000000000.item-9"
        );
    }

    #[test]
    fn media_urls_carry_the_whole_target_in_one_parameter() {
        let url = media("https://lh3.googleusercontent.com/abc=d?x=1&y=2");
        let query = url.strip_prefix("/api/media?").unwrap();
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(
            pairs,
            [(
                "url".to_owned(),
                "https://lh3.googleusercontent.com/abc=d?x=1&y=2".to_owned()
            )]
        );
    }
}
