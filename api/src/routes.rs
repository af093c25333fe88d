//! Every route of the helper: the patterns the helper's router mounts (axum's
//! `{name}` syntax) and the URL builders the app calls, side by side so they
//! cannot drift apart. URLs are relative to the helper's origin.

use crate::{BatchId, BeginQuery, CommitQuery, HistoryQuery, ItemId, UploadId, UploadQuery};

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
/// `POST ?size=…&fingerprint=…` ([`BeginQuery`]): begins a resumable upload of the
/// item, or finds the one under way for the same file, or says the item is
/// already saved: [`UploadBegun`](crate::UploadBegun).
pub const UPLOAD_BEGIN: &str = "/api/batches/{batch}/items/{item_id}/upload";
/// `PUT ?offset=N` (body: the part, at most [`UPLOAD_PART_MAX`](crate::UPLOAD_PART_MAX)
/// bytes) appends a part; `GET` says how much has arrived. Both answer
/// [`UploadStatus`](crate::UploadStatus); a part that does not start at `received`
/// is a 409 with an [`UploadConflict`](crate::UploadConflict).
pub const UPLOAD_PART: &str = "/api/batches/{batch}/items/{item_id}/upload/{upload_id}";
/// `POST ?filename=…&capture_time=…&size=…` ([`CommitQuery`]): publishes the
/// upload, answering [`SaveOutcome`](crate::SaveOutcome).
pub const UPLOAD_COMMIT: &str = "/api/batches/{batch}/items/{item_id}/upload/{upload_id}/commit";
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
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("filename", &query.filename)
        .append_pair("capture_time", &query.capture_time)
        .finish();
    format!("/api/batches/{batch}/items/{item}?{query}")
}

/// `/api/batches/{batch}/items/{item_id}/upload?size=…&fingerprint=…`.
pub fn upload_begin(batch: &BatchId, item: &ItemId, query: &BeginQuery) -> String {
    // A fingerprint is hex digits: no escaping needed either.
    format!(
        "/api/batches/{batch}/items/{item}/upload?size={}&fingerprint={}",
        query.size, query.fingerprint
    )
}

/// `/api/batches/{batch}/items/{item_id}/upload/{upload_id}` (the state).
pub fn upload_status(batch: &BatchId, item: &ItemId, upload: &UploadId) -> String {
    format!("/api/batches/{batch}/items/{item}/upload/{upload}")
}

/// `/api/batches/{batch}/items/{item_id}/upload/{upload_id}?offset=N` (a part).
pub fn upload_part(batch: &BatchId, item: &ItemId, upload: &UploadId, offset: u64) -> String {
    format!("{}?offset={offset}", upload_status(batch, item, upload))
}

/// `/api/batches/{batch}/items/{item_id}/upload/{upload_id}/commit?filename=…&capture_time=…&size=…`.
pub fn upload_commit(
    batch: &BatchId,
    item: &ItemId,
    upload: &UploadId,
    query: &CommitQuery,
) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("filename", &query.filename)
        .append_pair("capture_time", &query.capture_time)
        .append_pair("size", &query.size.to_string())
        .finish();
    format!("{}/commit?{query}", upload_status(batch, item, upload))
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
            capture_time: "2019-07-14T11:31:12+02:00".into(),
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
    fn resumable_upload_builders_match_their_patterns() {
        let batch: BatchId = "b1".parse().unwrap();
        let item: ItemId = "i-2".parse().unwrap();
        let upload: UploadId = "u_3".parse().unwrap();
        let ids = [("batch", "b1"), ("item_id", "i-2"), ("upload_id", "u_3")];
        let begin = BeginQuery {
            size: 5 << 30,
            fingerprint: crate::UploadFingerprint::of_edits(5 << 30, []),
        };
        let url = upload_begin(&batch, &item, &begin);
        let (path, query_text) = url.split_once('?').unwrap();
        assert_eq!(path, fill(UPLOAD_BEGIN, &ids));
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query_text.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(
            pairs,
            [
                ("size".to_owned(), "5368709120".to_owned()),
                ("fingerprint".to_owned(), begin.fingerprint.to_string()),
            ]
        );
        assert_eq!(
            upload_status(&batch, &item, &upload),
            fill(UPLOAD_PART, &ids)
        );
        assert_eq!(
            upload_part(&batch, &item, &upload, 8 << 20),
            format!("{}?offset=8388608", fill(UPLOAD_PART, &ids))
        );
        let query = CommitQuery {
            filename: "a b&c.mp4".into(),
            capture_time: "2019-07-14T11:31:12+02:00".into(),
            size: 5 << 30,
        };
        let url = upload_commit(&batch, &item, &upload, &query);
        let (path, query_text) = url.split_once('?').unwrap();
        assert_eq!(path, fill(UPLOAD_COMMIT, &ids));
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query_text.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(
            pairs,
            [
                ("filename".to_owned(), "a b&c.mp4".to_owned()),
                (
                    "capture_time".to_owned(),
                    "2019-07-14T11:31:12+02:00".to_owned()
                ),
                ("size".to_owned(), "5368709120".to_owned())
            ]
        );
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
