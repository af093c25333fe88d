//! The HTTP server: one function builds the whole router from the state; `serve`
//! takes an already-bound listener and a shutdown future, so tests bind port 0.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;
use url::Url;

use crate::batch_zip;
use crate::config::{Config, Mode};
use crate::emulator::Emulator;
use crate::error::{AppError, AppResult};
use crate::library::{CaptureTime, Library, SaveOutcome, SaveRequest, SavedFile};
use crate::proxy::{self, MediaHosts};

/// Header every state-changing `/api` call must carry (a cross-site form can't).
pub const CSRF_HEADER: &str = "x-requested-with";
/// Its required value.
pub const CSRF_VALUE: &str = "keepsake";

/// Everything the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: Config,
    library: Library,
    http: reqwest::Client,
    media_hosts: MediaHosts,
    emulator: Option<Emulator>,
}

impl AppState {
    /// Builds the state for a helper listening on `local_addr`.
    pub fn new(config: Config, local_addr: SocketAddr) -> anyhow::Result<Self> {
        let library = Library::open(&config.library)?;
        let http = proxy::client(config.media_timeout)?;
        let (media_hosts, emulator) = match &config.mode {
            Mode::Google { .. } => (MediaHosts::Google, None),
            Mode::Demo(emulator_config) => {
                let mut loopback = local_addr;
                if loopback.ip().is_unspecified() {
                    loopback.set_ip(if loopback.is_ipv4() {
                        std::net::Ipv4Addr::LOCALHOST.into()
                    } else {
                        std::net::Ipv6Addr::LOCALHOST.into()
                    });
                }
                let local_origin = Url::parse(&format!("http://{loopback}"))?;
                let emulator = Emulator::new((**emulator_config).clone())?;
                (MediaHosts::Demo { local_origin }, Some(emulator))
            }
        };
        Ok(AppState(Arc::new(Inner {
            config,
            library,
            http,
            media_hosts,
            emulator,
        })))
    }

    /// The validated configuration.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The photo library.
    pub fn library(&self) -> &Library {
        &self.0.library
    }

    /// The HTTP client of the media proxy.
    pub fn http(&self) -> &reqwest::Client {
        &self.0.http
    }

    /// The proxy's allow-list.
    pub fn media_hosts(&self) -> &MediaHosts {
        &self.0.media_hosts
    }
}

/// Builds the whole router: `/healthz`, `/api/*`, the emulator in demo mode, and
/// the app (with `index.html` for every other path, as a single-page app needs).
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/config", get(config))
        .route("/media", get(proxy::media))
        .route(
            "/batches/{batch}/items/{item_id}",
            // Photos and videos are far larger than axum's 2 MB default; the body
            // is streamed to disk, never held in memory.
            put(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/batches/{batch}", get(batch_items))
        .route("/batches/{batch}/zip", get(batch_zip))
        .route("/history", get(history))
        .fallback(api_not_found)
        .route_layer(middleware::from_fn(require_csrf_header));

    let mut app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .nest("/api", api)
        .with_state(state.clone());
    if let Some(emulator) = &state.0.emulator {
        app = app.merge(emulator.router());
    }
    if let Some(dist) = &state.0.config.dist {
        let index = dist.join("index.html");
        app = app.fallback_service(ServeDir::new(dist).fallback(ServeFile::new(index)));
    }
    app.layer(TraceLayer::new_for_http())
}

/// Serves `router(state)` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn require_csrf_header(request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let marked = request
        .headers()
        .get(CSRF_HEADER)
        .is_some_and(|value| value == CSRF_VALUE);
    if safe || marked {
        next.run(request).await
    } else {
        AppError::Forbidden(format!("missing header {CSRF_HEADER}: {CSRF_VALUE}")).into_response()
    }
}

async fn api_not_found() -> AppError {
    AppError::NotFound("no such API route".into())
}

/// `GET /api/config`'s answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct ClientConfig {
    /// `"demo"` or `"google"`.
    pub mode: String,
    /// Where and how to sign in.
    pub oauth: OAuthConfig,
    /// Picker API base, including `/v1`.
    pub picker_api: String,
    /// The signed-in family member, if the helper runs in family mode.
    pub member: Option<MemberInfo>,
}

/// OAuth endpoints and client.
#[derive(Debug, Serialize, Deserialize)]
pub struct OAuthConfig {
    /// OAuth client id.
    pub client_id: String,
    /// Authorization endpoint (browser token flow).
    pub auth_url: String,
    /// Token endpoint (installed-app flow).
    pub token_url: String,
    /// Revocation endpoint.
    pub revoke_url: String,
    /// The one scope the app asks for.
    pub scope: String,
}

/// A family member's name and defaults.
#[derive(Debug, Serialize, Deserialize)]
pub struct MemberInfo {
    /// Display name.
    pub name: String,
    /// Default Artist.
    pub artist: Option<String>,
    /// Default Copyright.
    pub copyright: Option<String>,
}

async fn config(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> AppResult<Json<ClientConfig>> {
    let (mode, oauth, picker_api) = match (&state.0.config.mode, &state.0.emulator) {
        (Mode::Demo(_), Some(emulator)) => {
            let origin = request_origin(&headers)?;
            let endpoints = emulator.endpoints(&origin);
            (
                "demo",
                OAuthConfig {
                    client_id: endpoints.client_id,
                    auth_url: endpoints.auth_url,
                    token_url: endpoints.token_url,
                    revoke_url: endpoints.revoke_url,
                    scope: endpoints.scope,
                },
                endpoints.picker_api,
            )
        }
        (Mode::Google { client_id }, _) => (
            "google",
            OAuthConfig {
                client_id: client_id.clone(),
                auth_url: picker::GOOGLE_AUTH_URL.to_owned(),
                token_url: picker::GOOGLE_TOKEN_URL.to_owned(),
                revoke_url: picker::GOOGLE_REVOKE_URL.to_owned(),
                scope: picker::SCOPE.to_owned(),
            },
            picker::GOOGLE_PICKER_API.to_owned(),
        ),
        (Mode::Demo(_), None) => {
            return Err(AppError::Internal(anyhow::anyhow!(
                "demo mode without an emulator"
            )));
        }
    };
    Ok(Json(ClientConfig {
        mode: mode.to_owned(),
        oauth,
        picker_api,
        member: None,
    }))
}

/// `http://<Host>` of the request: the origin the browser used to reach us.
fn request_origin(headers: &HeaderMap) -> AppResult<String> {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .ok_or_else(|| AppError::BadRequest("missing or invalid Host header".into()))?;
    Ok(format!("http://{host}"))
}

/// The query of an upload.
#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    filename: String,
    capture_time: String,
}

async fn upload(
    State(state): State<AppState>,
    Path((batch, item_id)): Path<(String, String)>,
    Query(query): Query<UploadQuery>,
    body: Body,
) -> AppResult<Json<SaveOutcome>> {
    let request = SaveRequest {
        member: String::new(),
        batch,
        item_id,
        filename: query.filename,
        capture_time: CaptureTime::parse(&query.capture_time)?,
    };
    let outcome = state
        .library()
        .save(request, body.into_data_stream())
        .await?;
    tracing::info!(path = %outcome.path, status = ?outcome.status, size = outcome.size, "upload");
    Ok(Json(outcome))
}

/// `GET /api/batches/{batch}`'s answer: what the batch holds so far (so an
/// interrupted run can resume without downloading those items again).
#[derive(Debug, Serialize, Deserialize)]
pub struct BatchItems {
    /// The batch id.
    pub batch: String,
    /// Its saved files, in the order they were added.
    pub items: Vec<SavedFile>,
}

async fn batch_items(
    State(state): State<AppState>,
    Path(batch): Path<String>,
) -> AppResult<Json<BatchItems>> {
    let library = state.library().clone();
    let id = batch.clone();
    let items = tokio::task::spawn_blocking(move || library.batch_files("", &id))
        .await
        .map_err(|err| AppError::Internal(err.into()))??;
    Ok(Json(BatchItems { batch, items }))
}

async fn batch_zip(
    State(state): State<AppState>,
    Path(batch): Path<String>,
) -> AppResult<Response> {
    let member = String::new();
    let files = {
        let library = state.library().clone();
        let member = member.clone();
        let batch = batch.clone();
        tokio::task::spawn_blocking(move || library.batch_files(&member, &batch))
            .await
            .map_err(|err| AppError::Internal(err.into()))??
    };
    if files.is_empty() {
        return Err(AppError::NotFound("this batch has no saved files".into()));
    }
    let member_dir = state.library().member_dir(&member);
    if let Some(missing) = files
        .iter()
        .find(|file| !member_dir.join(&file.path).is_file())
    {
        return Err(AppError::NotFound(format!(
            "{} is no longer in the library folder",
            missing.path
        )));
    }
    let filename = format!("keepsake-{}.zip", sanitize_batch(&batch));
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .map_err(|err| AppError::Internal(err.into()))?;
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/zip"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Body::from_stream(batch_zip::stream(member_dir, files)),
    )
        .into_response())
}

fn sanitize_batch(batch: &str) -> String {
    batch
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect()
}

async fn history(State(state): State<AppState>) -> AppResult<Json<Vec<SavedFile>>> {
    let library = state.library().clone();
    let files = tokio::task::spawn_blocking(move || library.history(""))
        .await
        .map_err(|err| AppError::Internal(err.into()))??;
    Ok(Json(files))
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::time::Duration;

    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    fn google_state(library: &std::path::Path, dist: Option<std::path::PathBuf>) -> AppState {
        let config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            dist,
            library: library.to_owned(),
            mode: Mode::Google {
                client_id: "client-1.apps.googleusercontent.com".into(),
            },
            media_timeout: Duration::from_secs(5),
        };
        AppState::new(config, "127.0.0.1:1".parse().unwrap()).unwrap()
    }

    async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Vec<u8>) {
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
    async fn uploads_are_saved_deduplicated_listed_and_zipped() {
        let dir = tempfile::tempdir().unwrap();
        let app = router(google_state(dir.path(), None));
        let (status, body) = send(&app, upload("batch-1", "item-a", "a.jpg", b"AAAA")).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let saved: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(saved["status"], "saved");
        assert_eq!(saved["path"], "2021/03/a.jpg");
        assert_eq!(saved["size"], 4);
        let (_, body) = send(&app, upload("batch-1", "item-b", "a.jpg", b"BBBBBB")).await;
        let second: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(second["path"], "2021/03/a (2).jpg");
        let (_, body) = send(&app, upload("batch-1", "item-a", "a.jpg", b"other")).await;
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
        let history: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(history.as_array().unwrap().len(), 2);

        let response = app
            .clone()
            .oneshot(
                Request::get("/api/batches/batch-1/zip")
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
                ("a (2).jpg".to_owned(), b"BBBBBB".to_vec()),
                ("a.jpg".to_owned(), b"AAAA".to_vec())
            ]
        );
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
        assert_eq!(config.mode, "google");
        assert_eq!(
            config.oauth.client_id,
            "client-1.apps.googleusercontent.com"
        );
        assert_eq!(config.oauth.auth_url, picker::GOOGLE_AUTH_URL);
        assert_eq!(config.picker_api, picker::GOOGLE_PICKER_API);
        assert!(config.member.is_none());
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
}
