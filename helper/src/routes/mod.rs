//! The HTTP surface: one function builds the whole router from the state, and
//! `serve` takes an already-bound listener and a shutdown future, so tests bind
//! port 0. Paths come from the `api` crate, the contract the app reads too.
//!
//! - [`config`]: `GET /api/config`
//! - [`media`]: `GET /api/media?url=…`, the streaming proxy
//! - [`downloads`]: fetch an item to the helper's disk, read ranges of it, keep it
//! - [`batches`]: one-request uploads, a batch's items, its zip, the history
//! - [`auth`]: family mode's sign-in, and whose library a request acts on

pub mod auth;
pub mod batches;
pub mod config;
pub mod downloads;
pub mod media;

use std::future::Future;

use api::routes;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use tokio::net::TcpListener;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::error::AppError;
use crate::state::AppState;
#[cfg(feature = "demo")]
use crate::state::Upstream;

/// `Path<T>` whose rejection is the helper's JSON error (a bad id is a 400 that
/// says which id and why).
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct ApiPath<T>(pub T);

/// `Query<T>` whose rejection is the helper's JSON error.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct ApiQuery<T>(pub T);

/// Builds the whole router: `/healthz`, `/api/*`, the emulator in demo mode, and
/// the app (with `index.html` for every other path, as a single-page app needs).
pub fn router(state: AppState) -> Router {
    // Everything that reads or writes a library, or spends the helper's bandwidth,
    // needs a signed-in member in family mode.
    let protected = Router::new()
        .route(routes::MEDIA, get(media::media))
        .route(
            routes::UPLOAD,
            // Photos and videos are far larger than axum's 2 MB default; the body
            // is streamed to disk (never held in memory) and capped by the upload
            // handler itself (--max-upload-size).
            put(batches::upload).layer(DefaultBodyLimit::disable()),
        )
        .route(routes::FETCH, post(downloads::fetch))
        .route(routes::DOWNLOAD, get(downloads::read))
        .route(
            routes::KEEP,
            // A patch's new bytes are at most an EXIF block or a movie header each.
            post(downloads::keep).layer(DefaultBodyLimit::max(
                downloads::MAX_KEEP_NEW_BYTES as usize + api::keep::MAX_HEADER + 8,
            )),
        )
        .route(routes::BATCH, get(batches::items))
        .route(routes::BATCH_ZIP, get(batches::zip))
        .route(routes::HISTORY, get(batches::history))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_member,
        ));
    let api = Router::new()
        .route(routes::CONFIG, get(config::config))
        .route(routes::TIME_ZONE, get(config::time_zone))
        .route(routes::LOGIN, post(auth::login))
        .route(routes::LOGOUT, post(auth::logout))
        .merge(protected)
        .route(
            &format!("{}/{{*rest}}", routes::API_PREFIX),
            any(api_not_found),
        )
        .route(routes::API_PREFIX, any(api_not_found))
        .route_layer(middleware::from_fn(require_csrf_header))
        // Every API answer is someone's (a member's files, history, settings, or
        // who is signed in): no shared cache may keep it or give it to another
        // cookie.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::appending(
            header::VARY,
            HeaderValue::from_static("Cookie"),
        ));

    let mut app = Router::new()
        .route(routes::HEALTHZ, get(|| async { "ok" }))
        .merge(api)
        .with_state(state.clone());
    #[cfg(feature = "demo")]
    if let Upstream::Demo(emulator) = state.upstream() {
        app = app.merge(emulator.router());
    }
    match &state.config().dist {
        Some(dist) => app = app.fallback_service(app_files(dist)),
        // Not a blank page: say what is missing.
        None => app = app.route("/", get(no_app)),
    }
    if state.config().tls.is_some() {
        // Browsers that reached it over https once never try plain http again (for
        // a year), so no one on the network can strip TLS from a later visit. Not
        // for other hosts of the domain; ignored by browsers over a certificate
        // they did not trust.
        app = app.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        ));
    }
    app.layer(state.config().guard.layer())
        .layer(TraceLayer::new_for_http())
}

/// Serves `router(state)` on `listener` until `shutdown` resolves: https when the
/// configuration names a certificate, with the configured header timeout.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let options = crate::serve::ServeOptions {
        tls: state
            .config()
            .tls
            .as_ref()
            .map(crate::serve::tls_config)
            .transpose()?,
        header_timeout: state.config().limits.header_timeout,
        first_request_timeout: state.config().limits.first_request_timeout,
        idle_timeout: state.config().limits.idle_timeout,
        send_timeout: state.config().limits.send_timeout,
        max_connections: state.config().limits.max_connections,
        ..crate::serve::ServeOptions::default()
    };
    crate::serve::serve(listener, router(state), options, shutdown).await?;
    Ok(())
}

/// `/` of a helper without the app: what to do about it.
async fn no_app() -> Response {
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        "<!DOCTYPE html><html lang=\"en\"><meta charset=\"utf-8\"><title>Keepsake: no app</title>\
         <body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\">\
         <h1>This Keepsake helper has no app to show</h1>\
         <p>It was built without the browser app, and was not given one. Build the app \
         first (<code>./scripts/build-app</code>), then the helper (<code>cargo build \
         --release -p helper</code>), which then carries it; or start it with \
         <code>--dist DIR</code>. Its API answers meanwhile.</p></body></html>",
    )
        .into_response()
}

/// The built app: precompressed copies when the browser takes them (`build-app`
/// writes `.br` and `.gz` beside each file), `index.html` for any other path (a
/// single-page app's deep links), and cache headers that fit trunk's file names.
fn app_files(dist: &std::path::Path) -> Router {
    let index = ServeFile::new(dist.join("index.html"))
        .precompressed_br()
        .precompressed_gzip();
    let files = ServeDir::new(dist)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(index);
    Router::new()
        .fallback_service(files)
        .layer(middleware::map_response(cache_headers_for_app))
}

/// `Cache-Control` for the app's files: content-hashed ones (trunk names them
/// `frontend-<hash>_bg.wasm`, `style-<hash>.css`) never change, so browsers may
/// keep them for a year; everything else (`index.html`, which names the current
/// hashes) is revalidated on every load.
async fn cache_headers_for_app(
    request_path: axum::extract::OriginalUri,
    mut response: Response,
) -> Response {
    let value = if response.status().is_success() && is_content_hashed(request_path.path()) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static(value),
    );
    response
}

/// Whether a file name carries trunk's content hash: a run of at least 12 hex
/// digits after the last `-` of its stem (`frontend-da60f35010ed2c5_bg.wasm`).
fn is_content_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let stem = name.split('.').next().unwrap_or(name);
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-')
        .is_some_and(|(_, hash)| hash.len() >= 12 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

async fn require_csrf_header(request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let marked = request
        .headers()
        .get(api::CSRF_HEADER)
        .is_some_and(|value| value == api::CSRF_VALUE);
    if safe || marked {
        next.run(request).await
    } else {
        AppError::Forbidden(format!(
            "missing header {}: {}",
            api::CSRF_HEADER,
            api::CSRF_VALUE
        ))
        .into_response()
    }
}

async fn api_not_found() -> AppError {
    AppError::NotFound("no such API route".into())
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;
    use crate::config::{Config, UpstreamConfig};
    use api::{BatchItems, CSRF_HEADER, CSRF_VALUE, ClientConfig};
    use axum::body::Body;
    use axum::http::{StatusCode, header};

    fn google_state(library: &std::path::Path, dist: Option<std::path::PathBuf>) -> AppState {
        let mut config = Config::new(
            library.to_owned(),
            UpstreamConfig::Google {
                client_id: "client-1.apps.googleusercontent.com".into(),
            },
        );
        config.dist = dist;
        AppState::new(config, "127.0.0.1:1".parse().unwrap()).unwrap()
    }

    /// Sends `request` as a browser on this machine would: with a `Host` header
    /// (the guard refuses requests without one).
    async fn send(app: &Router, mut request: Request<Body>) -> (StatusCode, Vec<u8>) {
        request
            .headers_mut()
            .entry(header::HOST)
            .or_insert(axum::http::HeaderValue::from_static("localhost"));
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, body.to_vec())
    }

    fn upload(batch: &str, item: &str, name: &str, body: &'static [u8]) -> Request<Body> {
        Request::put(format!(
            "/api/batches/{batch}/items/{item}?filename={name}&capture_time=2021-03-04T05%3A06%3A07%2B01%3A00"
        ))
        .header(CSRF_HEADER, CSRF_VALUE)
        .body(Body::from(body))
        .unwrap()
    }

    #[tokio::test]
    async fn state_changing_calls_need_the_csrf_header() {
        let dir = tempfile::tempdir().unwrap();
        let app = router(google_state(dir.path(), None));
        let request =
            Request::put("/api/batches/b/items/i?filename=a.jpg&capture_time=2021-03-04T05:06:07Z")
                .body(Body::from("x"))
                .unwrap();
        let (status, body) = send(&app, request).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(String::from_utf8_lossy(&body).contains("x-requested-with"));
        assert!(std::fs::read_dir(dir.path()).unwrap().all(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".keepsake")
        }));
    }

    #[tokio::test]
    async fn an_upload_says_where_the_saves_time_went() {
        let dir = tempfile::tempdir().unwrap();
        let app = router(google_state(dir.path(), None));
        let mut request = upload("batch-1", "item-a", "a.jpg", b"\xFF\xD8\xFFAAAA");
        request
            .headers_mut()
            .insert(header::HOST, header::HeaderValue::from_static("localhost"));
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let timing = response.headers()["server-timing"].to_str().unwrap();
        let names: Vec<&str> = timing
            .split(", ")
            .map(|metric| {
                let (name, duration) = metric.split_once(";dur=").unwrap();
                assert!(duration.parse::<f64>().unwrap() >= 0.0, "{timing}");
                name
            })
            .collect();
        assert_eq!(names, ["receive", "seal", "wait", "publish"]);
    }

    #[tokio::test]
    async fn uploads_are_saved_deduplicated_listed_and_zipped() {
        let dir = tempfile::tempdir().unwrap();
        let app = router(google_state(dir.path(), None));
        let (status, body) = send(
            &app,
            upload("batch-1", "item-a", "a.jpg", b"\xFF\xD8\xFFAAAA"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let saved: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(saved["status"], "saved");
        assert_eq!(saved["path"], "2021/03/a.jpg");
        assert_eq!(saved["size"], 7);
        let (_, body) = send(
            &app,
            upload("batch-1", "item-b", "a.jpg", b"\xFF\xD8\xFFBBBBBB"),
        )
        .await;
        let second: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(second["path"], "2021/03/a (2).jpg");
        let (_, body) = send(
            &app,
            upload("batch-1", "item-a", "a.jpg", b"\xFF\xD8\xFFother"),
        )
        .await;
        let again: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(again["status"], "duplicate");

        let (status, body) = send(
            &app,
            Request::get("/api/batches/batch-1")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let batch: BatchItems = serde_json::from_slice(&body).unwrap();
        let ids: Vec<_> = batch.items.iter().map(|f| f.item_id.as_str()).collect();
        assert_eq!(ids, ["item-a", "item-b"]);

        let (status, body) = send(
            &app,
            Request::get("/api/history").body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let history: api::HistoryPage = serde_json::from_slice(&body).unwrap();
        assert_eq!(history.items.len(), 2);
        assert!(history.next.is_none());

        let response = app
            .clone()
            .oneshot(
                Request::get("/api/batches/batch-1/zip")
                    .header(header::HOST, "localhost")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/zip");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
        assert_eq!(zip.len(), 2);
        let mut names = Vec::new();
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).unwrap();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            let modified = entry.last_modified().unwrap();
            assert_eq!(
                (
                    modified.year(),
                    modified.month(),
                    modified.day(),
                    modified.hour()
                ),
                (2021, 3, 4, 5),
                "entry time is the local capture time"
            );
            names.push((entry.name().unwrap().into_owned(), data));
        }
        names.sort();
        assert_eq!(
            names,
            vec![
                ("a (2).jpg".to_owned(), b"\xFF\xD8\xFFBBBBBB".to_vec()),
                ("a.jpg".to_owned(), b"\xFF\xD8\xFFAAAA".to_vec())
            ]
        );
    }

    #[tokio::test]
    async fn names_in_either_unicode_form_are_two_entries_of_the_zip_in_nfc() {
        let dir = tempfile::tempdir().unwrap();
        let app = router(google_state(dir.path(), None));
        // `café.jpg` composed (a phone) and decomposed (typed on a Mac).
        for (item, name) in [("item-a", "caf%C3%A9.jpg"), ("item-b", "cafe%CC%81.jpg")] {
            let (status, body) =
                send(&app, upload("batch-1", item, name, b"\xFF\xD8\xFFAAAA")).await;
            assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        }
        let response = app
            .clone()
            .oneshot(
                Request::get("/api/batches/batch-1/zip")
                    .header(header::HOST, "localhost")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
        let mut names: Vec<String> = (0..zip.len())
            .map(|i| zip.by_index(i).unwrap().name().unwrap().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["caf\u{e9} (2).jpg", "caf\u{e9}.jpg"]);
    }

    #[tokio::test]
    async fn a_saved_name_says_what_its_bytes_are_whatever_the_client_named_it() {
        let dir = tempfile::tempdir().unwrap();
        let app = router(google_state(dir.path(), None));
        for (item, name, body, saved) in [
            (
                "item-a",
                "page.html",
                &b"\xFF\xD8\xFFjpeg"[..],
                "2021/03/page.jpg",
            ),
            (
                "item-b",
                "image.svg",
                &b"<svg onload=alert(1)>"[..],
                "2021/03/image.svg.bin",
            ),
            (
                "item-c",
                "IMG_1.JPG",
                &b"\xFF\xD8\xFFjpeg"[..],
                "2021/03/IMG_1.JPG",
            ),
        ] {
            let body: &'static [u8] = Box::leak(body.to_vec().into_boxed_slice());
            let (status, answer) = send(&app, upload("batch-1", item, name, body)).await;
            assert_eq!(
                status,
                StatusCode::OK,
                "{}",
                String::from_utf8_lossy(&answer)
            );
            let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
            assert_eq!(answer["path"], saved, "{name}");
            assert!(dir.path().join(saved).is_file(), "{saved}");
        }
    }

    /// A log line a test can read: what the subscriber writes, gathered.
    #[derive(Clone, Default)]
    struct Gathered(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Gathered {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn sign_in_names_are_logged_escaped_so_no_client_forges_a_log_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(
            dir.path().to_owned(),
            UpstreamConfig::Google {
                client_id: "client-1.apps.googleusercontent.com".into(),
            },
        );
        config.members = crate::members::Members::new(vec![crate::members::Member {
            name: "maria".into(),
            passphrase_hash: crate::members::decoy_hash().to_owned(),
            artist: None,
            copyright: None,
            since: None,
            adopt: false,
        }])
        .unwrap();
        let app = router(AppState::new(config, "127.0.0.1:1".parse().unwrap()).unwrap());
        let log = Gathered::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        for name in [
            "maria\n2026-12-04T00:00:00Z  INFO helper: signed in member=carol",
            "x\u{1b}[2J\u{1b}[31mcleared",
        ] {
            let request = Request::post("/api/login")
                .header(CSRF_HEADER, CSRF_VALUE)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    serde_json::json!({ "member": name, "passphrase": "guess" }).to_string(),
                ))
                .unwrap();
            let (status, _) = send(&app, request).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("failed sign-in"), "{text}");
        assert_eq!(
            text.lines()
                .filter(|l| l.contains("failed sign-in"))
                .count(),
            2,
            "one line each, no forged one: {text}"
        );
        assert!(
            !text.lines().any(|l| l.starts_with("2026-12-04T00:00:00Z")),
            "{text}"
        );
        assert!(
            !text.contains('\u{1b}'),
            "no terminal escape passes: {text:?}"
        );
    }

    #[tokio::test]
    async fn api_answers_are_kept_by_no_cache_and_vary_by_cookie() {
        let dir = tempfile::tempdir().unwrap();
        let app = router(google_state(dir.path(), None));
        let (status, _) = send(
            &app,
            upload("batch-1", "item-a", "a.jpg", b"\xFF\xD8\xFFAAAA"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        for path in [
            "/api/config",
            "/api/history",
            "/api/batches/batch-1",
            "/api/batches/batch-1/zip",
            "/api/nothing-here",
        ] {
            let response = app
                .clone()
                .oneshot(
                    Request::get(path)
                        .header(header::HOST, "localhost")
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let headers = response.headers();
            assert_eq!(headers[header::CACHE_CONTROL], "no-store", "{path}");
            assert!(
                headers.get_all(header::VARY).iter().any(|v| v
                    .to_str()
                    .unwrap()
                    .to_ascii_lowercase()
                    .contains("cookie")),
                "{path}: {headers:?}"
            );
        }
    }

    #[tokio::test]
    async fn an_unknown_batch_has_no_zip() {
        let dir = tempfile::tempdir().unwrap();
        let app = router(google_state(dir.path(), None));
        let (status, _) = send(
            &app,
            Request::get("/api/batches/nope/zip")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn the_media_proxy_refuses_hosts_outside_the_allow_list() {
        let dir = tempfile::tempdir().unwrap();
        let app = router(google_state(dir.path(), None));
        for url in [
            "http%3A%2F%2F127.0.0.1%3A1%2Fapi%2Fhistory",
            "https%3A%2F%2Fexample.com%2Fx",
            "file%3A%2F%2F%2Fetc%2Fpasswd",
        ] {
            let (status, _) = send(
                &app,
                Request::get(format!("/api/media?url={url}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{url}");
        }
        let (status, _) = send(
            &app,
            Request::get("/api/media?url=%20")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn config_names_google_in_google_mode() {
        let dir = tempfile::tempdir().unwrap();
        let app = router(google_state(dir.path(), None));
        let (status, body) = send(
            &app,
            Request::get("/api/config").body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let config: ClientConfig = serde_json::from_slice(&body).unwrap();
        assert_eq!(config.mode, api::Mode::Google);
        assert_eq!(
            config.oauth.client_id,
            "client-1.apps.googleusercontent.com"
        );
        assert_eq!(config.oauth.auth_url, picker::GOOGLE_AUTH_URL);
        assert_eq!(config.picker_api, picker::GOOGLE_PICKER_API);
        assert!(config.member.is_none());
    }

    #[tokio::test]
    async fn time_zones_are_served_as_tzif_data_that_metafix_reads() {
        let dir = tempfile::tempdir().unwrap();
        let app = router(google_state(dir.path(), None));
        let (status, body) = send(
            &app,
            Request::get(api::routes::time_zone("America/Argentina/Buenos_Aires"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.starts_with(b"TZif"));
        let zone = metafix::time_zone_from_tzif("America/Argentina/Buenos_Aires", &body).unwrap();
        let at: jiff::Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(zone.to_offset(at), jiff::tz::Offset::constant(-3));

        let (status, body) = send(
            &app,
            Request::get(api::routes::time_zone("Mars/Olympus_Mons"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let error: api::ErrorBody = serde_json::from_slice(&body).unwrap();
        assert!(error.error.contains("Mars/Olympus_Mons"), "{}", error.error);
    }

    #[tokio::test]
    async fn the_app_is_served_with_an_spa_fallback_but_api_misses_are_json() {
        let dir = tempfile::tempdir().unwrap();
        let dist = dir.path().join("dist");
        std::fs::create_dir_all(&dist).unwrap();
        std::fs::write(dist.join("index.html"), "<html>app</html>").unwrap();
        std::fs::write(dist.join("app.js"), "js").unwrap();
        let app = router(google_state(&dir.path().join("lib"), Some(dist)));
        let (status, body) = send(&app, Request::get("/app.js").body(Body::empty()).unwrap()).await;
        assert_eq!((status, body), (StatusCode::OK, b"js".to_vec()));
        let (status, body) = send(
            &app,
            Request::get("/some/deep/link").body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, b"<html>app</html>");
        let (status, body) =
            send(&app, Request::get("/api/nope").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(String::from_utf8_lossy(&body).contains("error"));
        let (status, _) = send(&app, Request::get("/healthz").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK);
    }

    /// A helper with no app says so at `/`, instead of a blank page or a bare 404.
    #[tokio::test]
    async fn a_helper_without_the_app_says_so_at_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let app = router(google_state(&dir.path().join("lib"), None));
        let response = app
            .oneshot(
                axum::http::Request::get("/")
                    .header("host", "127.0.0.1:8080")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), 503);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.contains("no app to show") && text.contains("./scripts/build-app"),
            "{text}"
        );
    }

    #[test]
    fn trunk_hashed_names_are_recognised() {
        for hashed in [
            "/frontend-da60f35010ed2c5_bg.wasm",
            "/frontend-da60f35010ed2c5.js",
            "/style-9e2f4c1b0a7d3e55.css",
            "/favicon-0123456789abcdef.svg",
        ] {
            assert!(is_content_hashed(hashed), "{hashed}");
        }
        for plain in [
            "/",
            "/index.html",
            "/some/deep/link",
            "/my-photo.jpg",
            "/a-beef.js",
            "/x-zzzzzzzzzzzzzz.js",
        ] {
            assert!(!is_content_hashed(plain), "{plain}");
        }
    }

    #[tokio::test]
    async fn the_app_is_served_precompressed_with_cache_headers_that_fit_its_names() {
        let dir = tempfile::tempdir().unwrap();
        let dist = dir.path().join("dist");
        std::fs::create_dir_all(&dist).unwrap();
        std::fs::write(dist.join("index.html"), "<html>app</html>").unwrap();
        std::fs::write(dist.join("frontend-da60f35010ed2c5_bg.wasm"), "plain wasm").unwrap();
        std::fs::write(
            dist.join("frontend-da60f35010ed2c5_bg.wasm.br"),
            "brotli wasm",
        )
        .unwrap();
        std::fs::write(
            dist.join("frontend-da60f35010ed2c5_bg.wasm.gz"),
            "gzip wasm",
        )
        .unwrap();
        let app = router(google_state(&dir.path().join("lib"), Some(dist)));
        let get = |path: &str, encoding: &str| {
            Request::get(path)
                .header(header::HOST, "localhost")
                .header(header::ACCEPT_ENCODING, encoding)
                .body(Body::empty())
                .unwrap()
        };
        let response = app
            .clone()
            .oneshot(get(
                "/frontend-da60f35010ed2c5_bg.wasm",
                "gzip, deflate, br",
            ))
            .await
            .unwrap();
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "br");
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"brotli wasm");
        let response = app
            .clone()
            .oneshot(get("/frontend-da60f35010ed2c5_bg.wasm", "gzip"))
            .await
            .unwrap();
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
        let response = app
            .clone()
            .oneshot(get("/frontend-da60f35010ed2c5_bg.wasm", "identity"))
            .await
            .unwrap();
        assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
        for path in ["/", "/index.html", "/deep/link"] {
            let response = app.clone().oneshot(get(path, "br")).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(
                response.headers()[header::CACHE_CONTROL],
                "no-cache",
                "{path}"
            );
        }
        let response = app.clone().oneshot(get("/api/config", "br")).await.unwrap();
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "no-store",
            "the API's own caching is its own: nobody's answers are kept"
        );
    }

    #[tokio::test]
    async fn hostile_ids_are_refused_with_a_json_reason_and_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let app = router(google_state(dir.path(), None));
        for (batch, item) in [
            ("b", "..%2F..%2Fetc"),
            ("b", "a.jpg"),
            ("..", "i"),
            ("b%00", "i"),
            ("b", &"x".repeat(257)),
            ("%C3%A9", "i"),
        ] {
            let request = Request::put(format!(
                "/api/batches/{batch}/items/{item}?filename=a.jpg&capture_time=2021-03-04T05:06:07Z"
            ))
            .header(CSRF_HEADER, CSRF_VALUE)
            .body(Body::from("x"))
            .unwrap();
            let (status, body) = send(&app, request).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{batch}/{item}");
            let error: api::ErrorBody = serde_json::from_slice(&body).unwrap();
            assert!(error.error.contains("invalid"), "{}", error.error);
        }
        let (status, _) = send(
            &app,
            Request::get("/api/batches/a.b/zip")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let written: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| !name.starts_with(".keepsake"))
            .collect();
        assert!(written.is_empty(), "{written:?}");
    }

    #[tokio::test]
    async fn a_capture_time_without_an_offset_is_a_bad_request() {
        let dir = tempfile::tempdir().unwrap();
        let app = router(google_state(dir.path(), None));
        let request = Request::put(
            "/api/batches/b/items/i?filename=a.jpg&capture_time=2021-03-04T05%3A06%3A07",
        )
        .header(CSRF_HEADER, CSRF_VALUE)
        .body(Body::from("x"))
        .unwrap();
        let (status, body) = send(&app, request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(String::from_utf8_lossy(&body).contains("RFC 3339"));
    }
}
