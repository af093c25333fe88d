//! Hostile input at the helper's network edge: server-side request forgery
//! through the media proxy, and DNS-rebinding `Host`/`Origin` values against the
//! guard.
//!
//! **No test here sends a packet to any address but loopback, even when the code
//! under test is wrong.** Address and URL decisions are tested as pure functions.
//! Live probes name only a loopback [`Canary`] (as IP literals, so not even a DNS
//! query leaves the machine), resolve names through a fixed table instead of DNS,
//! and assert that the canary saw no connection; each probe also shows that the
//! canary does see a connection when one is made, so its silence means something.

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, put};
use helper::guard::{Guard, GuardConfig};
use helper::media_proxy::{
    self, ForbiddenAddress, GuardedResolver, MediaHosts, allowed_addresses, is_forbidden,
};
use keepsake_tests::emulator_client::{self, Emu, MARIA};
use keepsake_tests::{HelperProcess, helper_binary};
use url::Url;

/// A loopback listener that never answers and counts who knocked.
struct Canary {
    listener: TcpListener,
    addr: SocketAddr,
}

impl Canary {
    fn start() -> Canary {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        Canary { listener, addr }
    }

    /// Connections made since the last call. The kernel completes a handshake
    /// before `connect` returns, so every finished connection attempt is already
    /// waiting here: no sleep needed.
    fn connections(&self) -> usize {
        let mut count = 0;
        loop {
            match self.listener.accept() {
                Ok(_) => count += 1,
                Err(err) if err.kind() == ErrorKind::WouldBlock => return count,
                Err(err) => panic!("canary accept failed: {err}"),
            }
        }
    }

    /// Proves the canary hears a real connection, then forgets it.
    fn self_test(&self) {
        drop(TcpStream::connect(self.addr).unwrap());
        assert_eq!(self.connections(), 1, "the canary must hear a connection");
    }
}

fn parse_and_check(hosts: &MediaHosts, raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|err| format!("not a URL: {err}"))?;
    hosts.resolve(&url).map_err(|err| err.to_string())
}

#[test]
fn ssrf_attempts_are_refused_by_the_google_url_policy() {
    let hosts = MediaHosts::Google;
    let attempts = [
        // Loopback in every spelling a URL parser accepts.
        "http://2130706433/",
        "https://2130706433/",
        "https://0x7f.1/",
        "https://0x7f000001/",
        "https://0177.0.0.1/",
        "https://127.1/",
        "https://127.0.0.1:443/",
        "https://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:7f00:1]/",
        "https://[0:0:0:0:0:0:0:1]/",
        "https://localhost/",
        "https://localhost./",
        "https://LOCALHOST/",
        "https://0.0.0.0/",
        "https://0/",
        "https://[::]/",
        // Metadata services and private networks.
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00:ec2::254]/latest/meta-data/",
        "https://[::ffff:169.254.169.254]/",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://100.100.100.200/latest/meta-data/",
        "https://192.168.1.1/",
        "https://10.0.0.1/",
        "https://[fe80::1]/",
        // Look-alikes of the allowed hosts.
        "https://lh3.googleusercontent.com@evil.example/",
        "https://lh3.googleusercontent.com:pw@evil.example/",
        "https://evil.example#@lh3.googleusercontent.com/",
        "https://evil.example?@lh3.googleusercontent.com/",
        "https://evil.example\\@lh3.googleusercontent.com/",
        "https://lh3.googleusercontent.com.evil.com/",
        "https://lh3%2egoogleusercontent%2ecom.evil.com/",
        "https://lh3.googleusercontent.com./",
        "https://lh3.googleusercontent.com%00.evil.com/",
        "https://evil-lh3.googleusercontent.com/",
        "https://doc-0s-8c-docs.googleusercontent.com/",
        "https://googleusercontent.com/",
        "https://lh3.googleusercontent.co/",
        // Credentials, ports and schemes.
        "https://user@lh3.googleusercontent.com/",
        "https://lh3.googleusercontent.com:80/",
        "https://lh3.googleusercontent.com:8443/",
        "https://lh3.googleusercontent.com:0/",
        "http://lh3.googleusercontent.com/",
        "ftp://lh3.googleusercontent.com/",
        "gopher://lh3.googleusercontent.com:70/_GET%20/",
        "file:///etc/passwd",
        "file://lh3.googleusercontent.com/etc/passwd",
        "data:image/png;base64,AAAA",
        "javascript:alert(1)",
        "//lh3.googleusercontent.com/x",
        "/ppa/x",
        // A host nobody has seen Picker bytes come from.
        "https://video.googleusercontent.com/v=dv",
        "",
    ];
    assert!(attempts.len() >= 25);
    for raw in attempts {
        assert!(
            parse_and_check(&hosts, raw).is_err(),
            "{raw:?} would be fetched"
        );
    }
    // The policy is not simply "refuse": Google's real URLs, however spelled, pass.
    for raw in [
        "https://lh3.googleusercontent.com/ppa/AbC=d",
        "https://LH3.googleusercontent.COM/ppa/AbC=w256-h256-c",
        "https://lh3%2Egoogleusercontent%2Ecom/ppa/AbC=d",
        "https://lh3\u{3002}googleusercontent\u{3002}com/ppa/AbC=d",
        "https://video-downloads.googleusercontent.com/v=dv",
    ] {
        let url = parse_and_check(&hosts, raw).unwrap_or_else(|err| panic!("{raw}: {err}"));
        assert!(url.as_str().starts_with("https://"), "{url}");
    }
}

#[test]
fn redirects_to_forbidden_targets_are_refused() {
    let hosts = MediaHosts::Google;
    let from = Url::parse("https://lh3.googleusercontent.com/ppa/AbC=dv").unwrap();
    for location in [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "https://169.254.169.254/",
        "//127.0.0.1/x",
        "/\\127.0.0.1/x",
        "\\\\127.0.0.1\\x",
        "https://[::ffff:a9fe:a9fe]/",
        "https://lh3.googleusercontent.com@127.0.0.1/",
        "https://lh3.googleusercontent.com:22/",
        "http://lh3.googleusercontent.com/ppa/AbC=dv",
        "https://drive.usercontent.google.com/download",
        "https://video.googleusercontent.com/x",
        "file:///proc/self/environ",
        "https://",
    ] {
        assert!(hosts.next_hop(&from, location).is_err(), "{location:?}");
    }
    let next = hosts
        .next_hop(
            &from,
            "https://video-downloads.googleusercontent.com/v/x=dv",
        )
        .unwrap();
    assert_eq!(
        next.host_str(),
        Some("video-downloads.googleusercontent.com")
    );
}

#[test]
fn dns_answers_in_forbidden_ranges_are_never_used() {
    // What a hostile or rebinding resolver might answer for lh3.googleusercontent.com.
    let hostile_answers = [
        "127.0.0.1",
        "127.53.0.1",
        "0.0.0.0",
        "10.0.0.1",
        "100.64.0.1",
        "169.254.169.254",
        "172.16.0.1",
        "192.168.0.1",
        "192.0.0.192",
        "192.0.2.1",
        "198.18.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:192.168.0.1",
        "::127.0.0.1",
        "64:ff9b::7f00:1",
        "2002:a9fe:a9fe::1",
        "fc00::1",
        "fd00:ec2::254",
        "fe80::1",
        "ff02::1",
        "2001:db8::1",
    ];
    for answer in hostile_answers {
        let ip: IpAddr = answer.parse().unwrap();
        assert!(is_forbidden(ip), "{answer}");
        assert!(
            allowed_addresses("lh3.googleusercontent.com", [ip]).is_err(),
            "{answer}"
        );
    }
    let public: IpAddr = "142.250.185.65".parse().unwrap();
    assert_eq!(
        allowed_addresses(
            "lh3.googleusercontent.com",
            hostile_answers
                .iter()
                .map(|a| a.parse().unwrap())
                .chain([public])
        )
        .unwrap(),
        [public]
    );
}

/// A `helper serve` in Google mode on loopback, killed on drop.
struct GoogleHelper {
    child: Child,
    base_url: String,
    _library: tempfile::TempDir,
}

impl GoogleHelper {
    fn start() -> GoogleHelper {
        let library = tempfile::tempdir().unwrap();
        let mut child = Command::new(helper_binary().unwrap())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(["--client-id", "1-test.apps.googleusercontent.com"])
            .arg("--library")
            .arg(library.path())
            .arg("--dist")
            .arg(library.path().join("no-app"))
            .env("RUST_LOG", "warn")
            // A proxy from the environment must not matter; set one that would
            // land on loopback if it were used.
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let base_url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap()
            .to_owned();
        GoogleHelper {
            child,
            base_url,
            _library: library,
        }
    }
}

impl Drop for GoogleHelper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain client for talking to the helper under test (installs the TLS crypto
/// provider reqwest needs, as the helper does at start-up).
fn http_client() -> reqwest::Client {
    media_proxy::install_crypto_provider();
    reqwest::Client::new()
}

fn media_path(url: &str) -> String {
    format!("/api/media?{}", emulator_client::query(&[("url", url)]))
}

#[tokio::test]
async fn the_google_mode_helper_never_connects_to_a_url_naming_the_canary() {
    let canary = Canary::start();
    canary.self_test();
    let helper = GoogleHelper::start();
    let port = canary.addr.port();
    let http = http_client();
    // Every spelling names the canary by IP, so even a broken policy could only
    // knock on the canary.
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("https://127.0.0.1:{port}/"),
        format!("http://2130706433:{port}/"),
        format!("http://0x7f.1:{port}/"),
        format!("http://0177.0.0.1:{port}/"),
        format!("http://127.1:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("https://lh3.googleusercontent.com@127.0.0.1:{port}/"),
        format!("http://127.0.0.1:{port}#@lh3.googleusercontent.com/"),
        format!("http://127.0.0.1:{port}\\@lh3.googleusercontent.com/"),
        format!("https://lh3.googleusercontent.com:{port}@127.0.0.1:{port}/"),
    ] {
        let response = http
            .get(format!("{}{}", helper.base_url, media_path(&url)))
            .bearer_auth("token")
            .send()
            .await
            .unwrap();
        assert!(
            matches!(
                response.status(),
                StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST
            ),
            "{url}: {}",
            response.status()
        );
        assert_eq!(canary.connections(), 0, "{url} reached the canary");
    }
}

#[tokio::test]
async fn a_media_host_that_resolves_to_loopback_is_never_connected() {
    let canary = Canary::start();
    canary.self_test();
    let port = canary.addr.port();
    // A resolver that answers every name with loopback, as a rebinding DNS would.
    // No DNS query is made.
    let rebinding = || {
        GuardedResolver::with_lookup(|_name| async {
            Ok(vec![
                "127.0.0.1".parse().unwrap(),
                "::ffff:127.0.0.1".parse().unwrap(),
            ])
        })
    };
    let client = media_proxy::client_with_resolver(Duration::from_secs(5), rebinding()).unwrap();
    let err = client
        .get(format!("http://canary.test:{port}/"))
        .send()
        .await
        .unwrap_err();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    let mut refused = false;
    while let Some(current) = source {
        refused |= current.downcast_ref::<ForbiddenAddress>().is_some();
        source = current.source();
    }
    assert!(refused, "not refused by the resolver: {err:?}");
    assert_eq!(canary.connections(), 0);

    // Through the proxy's own fetch loop, the Google host gets a 403, not a connection.
    let err = media_proxy::fetch(
        &client,
        &MediaHosts::Google,
        &Url::parse("https://lh3.googleusercontent.com/ppa/AbC=d").unwrap(),
        Some(&HeaderValue::from_static("Bearer token")),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(err.into_response().status(), StatusCode::FORBIDDEN);
    assert_eq!(canary.connections(), 0);
}

#[tokio::test]
async fn demo_mode_redirects_never_leave_this_helpers_socket() {
    let canary = Canary::start();
    canary.self_test();
    let port = canary.addr.port();
    let upstream = Router::new()
        .route(
            "/ppa/hop",
            get(move || async move {
                (
                    StatusCode::FOUND,
                    [("location", format!("http://127.0.0.1:{port}/ppa/landed"))],
                )
            }),
        )
        .route(
            "/ppa/escape",
            get(move || async move {
                (
                    StatusCode::FOUND,
                    [("location", format!("http://127.0.0.1:{port}/api/history"))],
                )
            }),
        )
        .route(
            "/ppa/forever",
            get(|| async { (StatusCode::FOUND, [("location", "/ppa/forever")]) }),
        )
        .route(
            "/ppa/landed",
            get(|| async { ([("content-type", "text/html")], "landed") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, upstream).await });

    let hosts = MediaHosts::Demo {
        local_origin: Url::parse(&origin).unwrap(),
        emulator: emulator::Emulator::new(emulator::EmulatorConfig {
            large_file_count: 0,
            ..emulator::EmulatorConfig::default()
        })
        .unwrap(),
    };
    let client = media_proxy::client(Duration::from_secs(5)).unwrap();
    let fetch = |path: &'static str| {
        let url = Url::parse(&format!("http://localhost:1{path}")).unwrap();
        let client = client.clone();
        let hosts = hosts.clone();
        async move { media_proxy::fetch(&client, &hosts, &url, None, None).await }
    };

    // The redirect named the canary; the proxy asked its own socket instead.
    let landed = fetch("/ppa/hop").await.unwrap();
    assert_eq!(landed.status(), StatusCode::OK);
    assert_eq!(
        media_proxy::media_content_type(landed.headers().get("content-type")),
        "application/octet-stream"
    );
    assert_eq!(landed.text().await.unwrap(), "landed");
    let escape = fetch("/ppa/escape").await.unwrap_err();
    assert_eq!(escape.into_response().status(), StatusCode::FORBIDDEN);
    let forever = fetch("/ppa/forever").await.unwrap_err();
    assert_eq!(forever.into_response().status(), StatusCode::BAD_GATEWAY);
    assert_eq!(canary.connections(), 0);
}

#[tokio::test]
async fn proxied_media_is_inert_whatever_the_upstream_says() {
    media_proxy::install_crypto_provider();
    let helper = HelperProcess::start_demo(None, &[]).unwrap();
    // The helper's own emulator, driven over HTTP (the in-process emulator here
    // only supplies the demo client id, which both share).
    let emu = Emu {
        origin: helper.base_url.clone(),
        emulator: emulator::Emulator::new(emulator_client::config()).unwrap(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    };
    let token = emu.sign_in(MARIA).await;
    let (session, _) = emu.picked_session(&token, Some(1)).await;
    let items = emu.list_all(&token, &session, None).await;
    let base_url = items[0]["mediaFile"]["baseUrl"].as_str().unwrap();

    let http = http_client();
    let url = format!(
        "{}{}",
        helper.base_url,
        media_path(&format!("{base_url}=d"))
    );
    let photo = http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(photo.status(), StatusCode::OK);
    let headers = photo.headers();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("image/"),
        "{headers:?}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers["content-security-policy"],
        "sandbox; default-src 'none'"
    );
    assert_eq!(headers["cross-origin-resource-policy"], "same-origin");
    assert_eq!(headers["content-disposition"], "attachment");

    // Without the token the emulator answers with an HTML error page; the
    // browser gets it as opaque bytes.
    let refused = http.get(&url).send().await.unwrap();
    assert!(refused.status().is_client_error(), "{}", refused.status());
    assert_eq!(
        refused.headers()["content-type"],
        "application/octet-stream"
    );
    assert_eq!(
        refused.headers()["content-security-policy"],
        "sandbox; default-src 'none'"
    );
}

/// Sends `request` (raw HTTP/1.1, so any `Host` can be written) to `addr` and
/// returns the status code.
async fn raw_status(addr: SocketAddr, request: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    let status = answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
    status.parse().unwrap()
}

#[tokio::test]
async fn dns_rebinding_hosts_and_foreign_origins_are_turned_away_on_the_wire() {
    let guard = Guard::new(GuardConfig {
        server_names: vec!["photos.example.com".into()],
        ..GuardConfig::default()
    })
    .unwrap();
    let app = Router::new()
        .route("/", get(|| async { "app" }))
        .route("/api/batches/b/items/i", put(|| async { "saved" }))
        .layer(guard.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let port = addr.port();

    let get = |host: &str| format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let cases: Vec<(String, u16)> = vec![
        (get(&format!("127.0.0.1:{port}")), 200),
        (get(&format!("localhost:{port}")), 200),
        (get(&format!("[::1]:{port}")), 200),
        (get("photos.example.com"), 200),
        // A rebinding page sends its own name.
        (get(&format!("attacker.example:{port}")), 421),
        (get(&format!("7f000001.rbndr.us:{port}")), 421),
        (get(&format!("127.0.0.1.nip.io:{port}")), 421),
        (get(&format!("localhost.attacker.example:{port}")), 421),
        (
            get(&format!("photos.example.com.attacker.example:{port}")),
            421,
        ),
        (get(&format!("127.0.0.2:{port}")), 421),
        (get(&format!("[::ffff:7f00:1]:{port}")), 421),
        (get(&format!("2130706433:{port}")), 400),
        (get(&format!("localhost.:{port}")), 400),
        (get(&format!("user@localhost:{port}")), 400),
        (get(""), 400),
        ("GET / HTTP/1.1\r\nConnection: close\r\n\r\n".into(), 400),
        (
            format!(
                "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: attacker.example\r\nConnection: close\r\n\r\n"
            ),
            400,
        ),
        // An absolute-form target that contradicts Host.
        (
            format!(
                "GET http://attacker.example/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
            ),
            400,
        ),
    ];
    let put = |origin: &str, site: &str| {
        format!(
            "PUT /api/batches/b/items/i HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: {origin}\r\n\
             Sec-Fetch-Site: {site}\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx"
        )
    };
    let writes = vec![
        (put(&format!("http://127.0.0.1:{port}"), "same-origin"), 200),
        (put("http://attacker.example", "cross-site"), 403),
        (put(&format!("http://127.0.0.1:{port}"), "same-site"), 403),
        (put(&format!("http://localhost:{port}"), "same-origin"), 403),
        (put("null", "cross-site"), 403),
    ];
    for (request, expected) in cases.into_iter().chain(writes) {
        assert_eq!(raw_status(addr, &request).await, expected, "{request:?}");
    }
}
