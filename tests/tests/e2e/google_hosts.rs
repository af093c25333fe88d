//! The Google-mode hop policy with Google's real host names, sent to a TLS
//! stand-in on loopback (through a CONNECT proxy of the test's, which reaches the
//! stand-in whatever name is asked: https URLs are port 443, which a test cannot
//! bind; the stand-in has a certificate for those names): the
//! helper's own download of a `=dv` follows the redirect to
//! `video-downloads.googleusercontent.com` without the bearer, takes its whole
//! body when it ignores `Range`, and refuses a redirect to a host off the list —
//! the path a real account's videos take, tested without one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use helper::fetch::{Fetched, Fetcher};
use helper::library::{Library, Owner};
use helper::media_proxy::{self, GuardedResolver, MediaHosts};

/// What the stand-in saw: per host and path, whether a bearer came.
type Seen = Arc<Mutex<Vec<(String, String, Option<String>)>>>;

const NAMES: [&str; 3] = [
    "lh3.googleusercontent.com",
    "video-downloads.googleusercontent.com",
    "drive.googleusercontent.com",
];

fn video_bytes() -> Vec<u8> {
    (0..3_000_000u32).map(|i| (i % 251) as u8).collect()
}

async fn stand_in(State(seen): State<Seen>, headers: HeaderMap, request: Request) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let path = request.uri().path().to_owned();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    seen.lock()
        .unwrap()
        .push((host.clone(), path.clone(), bearer.clone()));
    let with_bearer = bearer.as_deref() == Some("Bearer picker-token");
    match (host.as_str(), path.as_str()) {
        ("lh3.googleusercontent.com", "/ppa/video=dv") if with_bearer => (
            StatusCode::FOUND,
            [(
                header::LOCATION,
                "https://video-downloads.googleusercontent.com/v/abc?sig=1",
            )],
        )
            .into_response(),
        ("lh3.googleusercontent.com", "/ppa/elsewhere=dv") if with_bearer => (
            StatusCode::FOUND,
            [(header::LOCATION, "https://drive.googleusercontent.com/x")],
        )
            .into_response(),
        ("lh3.googleusercontent.com", _) => StatusCode::FORBIDDEN.into_response(),
        // Ignores Range: 200 with the whole body, no Accept-Ranges.
        ("video-downloads.googleusercontent.com", "/v/abc") => {
            ([(header::CONTENT_TYPE, "video/mp4")], video_bytes()).into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

#[tokio::test]
async fn a_google_video_follows_the_redirect_without_the_bearer_and_refuses_other_hosts() {
    media_proxy::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = NAMES.iter().map(|n| (*n).to_owned()).collect();
    let (cert, key) = helper::tls::self_signed(&names).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &key).unwrap();
    let tls = helper::serve::tls_config(&helper::config::TlsFiles {
        cert: cert_path,
        key: key_path,
    })
    .unwrap();
    let seen: Seen = Arc::default();
    let app = Router::new().fallback(stand_in).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(helper::serve::serve(
        listener,
        app,
        helper::serve::ServeOptions {
            tls: Some(tls),
            header_timeout: Duration::from_secs(5),
            ..helper::serve::ServeOptions::default()
        },
        async move {
            let _ = stopped.await;
        },
    ));

    // The helper's media client, with every https connection tunnelled to the
    // stand-in, and the stand-in's certificate trusted.
    let proxy = connect_proxy_to(addr).await;
    let builder = media_proxy::client_builder(
        Duration::from_secs(10),
        GuardedResolver::with_lookup(|name| async move {
            Err(std::io::Error::other(format!(
                "no DNS in this test: {name}"
            )))
        }),
    )
    .add_root_certificate(reqwest::Certificate::from_pem(cert.as_bytes()).unwrap())
    .proxy(reqwest::Proxy::https(format!("http://{proxy}")).unwrap());
    let client = builder.build().unwrap();
    let library = Library::open(&dir.path().join("library")).unwrap();
    let fetcher = Fetcher::new(library, client, MediaHosts::GoogleStandIn, 2);
    let batch: api::BatchId = "b1".parse().unwrap();

    let fetched = fetcher
        .fetch(
            &Owner::Single,
            &batch,
            &"video".parse().unwrap(),
            "https://lh3.googleusercontent.com/ppa/video=dv",
            Some("picker-token".to_owned()),
        )
        .await
        .unwrap();
    let Fetched::Downloading(download) = fetched else {
        panic!("a new item is downloaded");
    };
    let len = download.finished().await.unwrap();
    assert_eq!(len, video_bytes().len() as u64);
    assert_eq!(download.read_blocking(0..len).unwrap(), video_bytes());
    {
        let seen = seen.lock().unwrap();
        let lh3: Vec<_> = seen
            .iter()
            .filter(|(host, ..)| host == "lh3.googleusercontent.com")
            .collect();
        let video: Vec<_> = seen
            .iter()
            .filter(|(host, ..)| host == "video-downloads.googleusercontent.com")
            .collect();
        assert!(!lh3.is_empty() && !video.is_empty(), "{seen:?}");
        assert!(
            lh3.iter().all(|(.., bearer)| bearer.is_some()),
            "the baseUrl's own host gets the bearer: {seen:?}"
        );
        assert!(
            video.iter().all(|(.., bearer)| bearer.is_none()),
            "the video host never gets the bearer: {seen:?}"
        );
    }

    // A redirect to a host off the list: refused, with its name, and never asked.
    let fetched = fetcher
        .fetch(
            &Owner::Single,
            &batch,
            &"elsewhere".parse().unwrap(),
            "https://lh3.googleusercontent.com/ppa/elsewhere=dv",
            Some("picker-token".to_owned()),
        )
        .await
        .unwrap();
    let Fetched::Downloading(download) = fetched else {
        panic!("a new item is downloaded");
    };
    let failure = download.finished().await.unwrap_err();
    assert!(
        failure.message.contains("drive.googleusercontent.com"),
        "{failure:?}"
    );
    assert!(
        !seen
            .lock()
            .unwrap()
            .iter()
            .any(|(host, ..)| host == "drive.googleusercontent.com"),
        "the unlisted host was never contacted"
    );
    // The plain Google policy refuses the stand-in's loopback address outright.
    let strict = media_proxy::fetch(
        &media_proxy::client_builder(
            Duration::from_secs(5),
            GuardedResolver::with_lookup(move |_| async move { Ok(vec![addr.ip()]) }),
        )
        .build()
        .unwrap(),
        &MediaHosts::Google,
        &url::Url::parse("https://lh3.googleusercontent.com/ppa/video=dv").unwrap(),
        None,
        None,
    )
    .await;
    assert!(strict.is_err(), "Google mode never connects to loopback");
    let _ = stop.send(());
}

/// An HTTP CONNECT proxy on loopback port 0 that tunnels every connection to
/// `target`, whatever host it names.
async fn connect_proxy_to(target: std::net::SocketAddr) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 || head.len() > 8192 {
                        return;
                    }
                    head.push(byte[0]);
                }
                if !head.starts_with(b"CONNECT ") {
                    return;
                }
                let Ok(mut server) = tokio::net::TcpStream::connect(target).await else {
                    return;
                };
                if client
                    .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                    .await
                    .is_ok()
                {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    addr
}
