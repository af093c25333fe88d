//! The discovery document of `photospicker` v1, as Google serves it at
//! `https://photospicker.googleapis.com/$discovery/rest?version=v1`, here with the
//! emulator's own root: Google's client libraries build their calls from it
//! (`googleapiclient.discovery.build(..., discoveryServiceUrl=…)` or
//! `build_from_document`).
//!
//! `discovery.json` is written from Google's public reference (methods, paths,
//! parameters, schemas with their formats); where the reference gives no number
//! format, the one the Library API uses for the same field.

use axum::extract::RawQuery;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{PICKER_API_PATH, origin_of};

/// Where the document is served (with `?version=v1`).
pub const DISCOVERY_PATH: &str = "/emulator/picker/$discovery/rest";

/// The document, its root left as `{{ROOT_URL}}`.
const DOCUMENT: &str = include_str!("discovery.json");

/// `GET $discovery/rest?version=v1`.
pub(super) async fn document(headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let version = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "version")
        .map(|(_, v)| v.into_owned());
    if version.as_deref().is_some_and(|v| v != "v1") {
        let body = serde_json::json!({ "error": {
            "code": 404,
            "message": format!(
                "Discovery document not found for API service: photospicker.googleapis.com \
                 format: rest version: {}",
                version.unwrap_or_default()
            ),
            "status": "NOT_FOUND",
        }});
        return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
    }
    let api_root = PICKER_API_PATH
        .strip_suffix("v1")
        .expect("the API path ends in its version");
    let root = format!("{}{api_root}", origin_of(&headers));
    let mut response = DOCUMENT.replace("{{ROOT_URL}}", &root).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every method of the document names a path the emulator serves, under the
    /// root it is given, with the scope it checks.
    #[test]
    fn the_document_describes_the_four_calls_the_emulator_serves() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        assert_eq!(doc["name"], "photospicker");
        assert_eq!(doc["version"], "v1");
        assert_eq!(doc["rootUrl"], "{{ROOT_URL}}");
        let mut calls = Vec::new();
        for (resource, body) in doc["resources"].as_object().unwrap() {
            for (method, body) in body["methods"].as_object().unwrap() {
                assert_eq!(body["scopes"][0], picker::SCOPE, "{resource}.{method}");
                calls.push(format!(
                    "{} {} {}",
                    body["id"].as_str().unwrap(),
                    body["httpMethod"].as_str().unwrap(),
                    body["path"].as_str().unwrap()
                ));
            }
        }
        calls.sort();
        assert_eq!(
            calls,
            [
                "photospicker.mediaItems.list GET v1/mediaItems",
                "photospicker.sessions.create POST v1/sessions",
                "photospicker.sessions.delete DELETE v1/sessions/{sessionId}",
                "photospicker.sessions.get GET v1/sessions/{sessionId}",
            ]
        );
        for schema in [
            "PickingSession",
            "PickedMediaItem",
            "MediaFile",
            "PollingConfig",
        ] {
            assert!(doc["schemas"][schema]["properties"].is_object(), "{schema}");
        }
    }
}
