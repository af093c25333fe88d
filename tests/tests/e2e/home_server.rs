//! A family helper under the load an attacker on the LAN can make (issue 19),
//! against the real `helper` binary: bursts of sign-ins (one guess checked, memory
//! bounded) and connections that send nothing (each closed within its timeout;
//! a member still served beside 1,100 of them).
//!
//! Requests are written by hand on raw sockets: the tests decide when each byte
//! goes, and which loopback address (127.0.x.y) a client comes from.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use api::{CSRF_HEADER, CSRF_VALUE, routes};
use keepsake_tests::HelperProcess;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Barrier;

const PASSPHRASE: &str = "maria's long passphrase";

fn family_config(dir: &Path) -> PathBuf {
    let config = dir.join("keepsake.toml");
    std::fs::write(&config, "# a family's helper\n").unwrap();
    keepsake_tests::add_member(&config, "maria", PASSPHRASE, "María Rivera").unwrap();
    config
}

fn address(helper: &HelperProcess) -> SocketAddr {
    helper
        .base_url
        .strip_prefix("http://")
        .expect("a plain-http helper")
        .parse()
        .unwrap()
}

/// A loopback address of its own for client `i` (Linux answers all of 127/8).
fn client_address(i: usize) -> IpAddr {
    let i = u32::try_from(i).unwrap() + 2;
    IpAddr::V4(Ipv4Addr::from(0x7f00_0000 | i))
}

async fn connect_from(from: IpAddr, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    socket.connect(to).await.unwrap()
}

/// `POST /api/login` as bytes.
fn login_request(helper: SocketAddr, member: &str, passphrase: &str) -> Vec<u8> {
    let body = serde_json::json!({ "member": member, "passphrase": passphrase }).to_string();
    format!(
        "POST {} HTTP/1.1\r\nHost: {helper}\r\n{CSRF_HEADER}: {CSRF_VALUE}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        routes::LOGIN,
        body.len()
    )
    .into_bytes()
}

/// An answer's status and `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Answer {
    status: u16,
    retry_after: Option<u64>,
}

/// Reads a `Connection: close` answer to its end.
async fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut bytes))
        .await
        .expect("an answer within a minute")
        .expect("an answer, not a closed connection");
    let text = String::from_utf8_lossy(&bytes);
    let mut lines = text.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let retry_after = lines.take_while(|line| !line.is_empty()).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("retry-after")
            .then(|| value.trim().parse().ok())?
    });
    Answer {
        status,
        retry_after,
    }
}

/// Sends every request from its own connection (from its own address), all but
/// the last byte first, then the last bytes together once every connection is
/// ready. The connections are opened one after the other (a few hundred SYNs at
/// once would test the kernel's SYN queue, not the helper); only the requests are
/// released together.
async fn burst(helper: SocketAddr, requests: Vec<(IpAddr, Vec<u8>)>) -> Vec<Answer> {
    let barrier = Arc::new(Barrier::new(requests.len()));
    let mut tasks = Vec::new();
    for (from, request) in requests {
        let mut stream = connect_from(from, helper).await;
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            let (head, last) = request.split_at(request.len() - 1);
            stream.write_all(head).await.unwrap();
            barrier.wait().await;
            stream.write_all(last).await.unwrap();
            read_answer(&mut stream).await
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

fn count(answers: &[Answer], status: u16) -> usize {
    answers.iter().filter(|a| a.status == status).count()
}

/// Peak and current resident memory of a process, in KiB (`VmHWM`, `VmRSS`).
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Issue 19: `login` checked the brake, ran Argon2 and only then counted the
/// failure, so 16 sign-ins released together (15 wrong, 1 right) were all
/// checked: 15×401, 1×200.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_sign_ins_at_once_get_one_check() {
    let dir = tempfile::tempdir().unwrap();
    let config = family_config(dir.path());
    let helper = HelperProcess::start_demo(None, &["--config", config.to_str().unwrap()]).unwrap();
    let to = address(&helper);
    let here = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut requests: Vec<_> = (0..15)
        .map(|i| (here, login_request(to, "maria", &format!("guess {i}"))))
        .collect();
    requests.insert(7, (here, login_request(to, "maria", PASSPHRASE)));

    let answers = burst(to, requests).await;
    let checked = count(&answers, 401) + count(&answers, 200);
    let refused = count(&answers, 429);
    eprintln!(
        "burst of 16: {} × 401, {} × 200, {refused} × 429",
        count(&answers, 401),
        count(&answers, 200)
    );
    assert_eq!(checked, 1, "one guess checked: {answers:?}");
    assert_eq!(refused, 15, "the others refused unchecked: {answers:?}");
    assert!(
        answers
            .iter()
            .filter(|a| a.status == 429)
            .all(|a| a.retry_after.is_some_and(|s| s >= 1)),
        "every refusal says when to come back: {answers:?}"
    );
}

/// Issue 19: every sign-in ran its own 19 MiB Argon2 check at once, so 32 with
/// made-up names took the helper from 14 to 641 MiB (512 would need ~9.5 GiB).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_sign_ins_with_made_up_names_stay_within_64_mib() {
    const HEADROOM_KIB: u64 = 64 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let config = family_config(dir.path());
    let helper = HelperProcess::start_demo(None, &["--config", config.to_str().unwrap()]).unwrap();
    let to = address(&helper);
    let (idle, _) = memory_kib(helper.pid());
    for parallel in [32, 512] {
        // Each from an address and under a name of its own, so only the cap on
        // Argon2 work (not the brake) stands between the burst and the memory.
        let requests = (0..parallel)
            .map(|i| {
                let from = client_address(parallel + i);
                (
                    from,
                    login_request(to, &format!("nobody-{parallel}-{i}"), "guess"),
                )
            })
            .collect();
        let answers = burst(to, requests).await;
        let (peak, now) = memory_kib(helper.pid());
        eprintln!(
            "{parallel} sign-ins: {} × 401, {} × 503, {} × 429; peak {} MiB, now {} MiB, idle {} MiB",
            count(&answers, 401),
            count(&answers, 503),
            count(&answers, 429),
            peak / 1024,
            now / 1024,
            idle / 1024
        );
        assert!(
            answers.iter().all(|a| [401, 429, 503].contains(&a.status)),
            "every made-up name refused: {answers:?}"
        );
        assert!(count(&answers, 401) >= 1, "some were checked: {answers:?}");
        assert!(
            peak <= idle + HEADROOM_KIB,
            "{parallel} sign-ins took the helper from {idle} KiB to {peak} KiB"
        );
    }
}

/// The short timeouts the silent-connection tests run with.
const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
const IDLE_TIMEOUT: Duration = Duration::from_secs(3);
/// How late after its timeout a connection may be closed.
const MARGIN: Duration = Duration::from_secs(2);

fn short_timeouts() -> [&'static str; 4] {
    ["--first-request-timeout", "2s", "--idle-timeout", "3s"]
}

/// Reads (and drops) what the server sends until it closes the connection; how
/// long that took from `since`. Panics if it stays open past `limit`.
async fn closed_after(
    stream: &mut TcpStream,
    since: Instant,
    limit: Duration,
    what: &str,
) -> Duration {
    let mut buffer = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(since.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => return since.elapsed(),
            Ok(Ok(_)) => {}
            Err(_) => panic!("{what}: still open after {limit:?}"),
        }
    }
}

/// The HTTP/2 connection preface and an empty SETTINGS frame.
fn h2_preface() -> Vec<u8> {
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    bytes.extend_from_slice(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0]);
    bytes
}

/// A HEADERS frame on stream 1 without END_HEADERS: the header block goes on in
/// CONTINUATION frames, which never come.
fn h2_unfinished_headers() -> Vec<u8> {
    // Length 1, type HEADERS, flags END_STREAM only, stream 1; `:method: GET`.
    vec![0, 0, 1, 0x1, 0x1, 0, 0, 0, 1, 0x82]
}

/// Issue 19: a connection that sent nothing, an HTTP/2 preface and then silence,
/// HTTP/2 headers never finished, and a finished TLS handshake followed by silence
/// all stayed open (still open after 40 s with the 30 s header timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_kind_of_silent_connection_is_closed_within_its_timeout() {
    let helper = HelperProcess::start_demo(None, &short_timeouts()).unwrap();
    let to = address(&helper);
    let limit = FIRST_REQUEST_TIMEOUT + MARGIN;
    let kinds: [(&str, Vec<u8>); 4] = [
        ("TCP, nothing sent", Vec::new()),
        (
            "HTTP/1 headers never finished",
            format!("GET /healthz HTTP/1.1\r\nHost: {to}\r\n").into_bytes(),
        ),
        ("HTTP/2 preface, then silence", h2_preface()),
        (
            "HTTP/2 headers never finished",
            [h2_preface(), h2_unfinished_headers()].concat(),
        ),
    ];
    let mut tasks = Vec::new();
    for (what, bytes) in kinds {
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(to).await.unwrap();
            let since = Instant::now();
            stream.write_all(&bytes).await.unwrap();
            (what, closed_after(&mut stream, since, limit, what).await)
        }));
    }
    // A keep-alive connection after its request: the idle timeout.
    tasks.push(tokio::spawn(async move {
        let what = "HTTP/1 keep-alive, idle after a request";
        let mut stream = TcpStream::connect(to).await.unwrap();
        stream
            .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {to}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            stream.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        let text = String::from_utf8_lossy(&head).to_lowercase();
        assert!(text.starts_with("http/1.1 200"), "{text}");
        let length: usize = text
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .expect("a Content-Length");
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).await.unwrap();
        let since = Instant::now();
        let elapsed = closed_after(&mut stream, since, IDLE_TIMEOUT + MARGIN, what).await;
        assert!(
            elapsed >= IDLE_TIMEOUT - MARGIN / 4,
            "{what}: closed after only {elapsed:?}"
        );
        (what, elapsed)
    }));
    for task in tasks {
        let (what, elapsed) = task.await.unwrap();
        eprintln!("{what}: closed after {elapsed:?}");
        assert!(
            elapsed >= FIRST_REQUEST_TIMEOUT - MARGIN / 4,
            "{what}: closed after only {elapsed:?}, before its timeout"
        );
    }
}

/// The TLS kinds: no handshake at all, a finished handshake and then silence, and
/// an HTTP/2 preface over TLS and then silence.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn silent_tls_connections_are_closed_within_the_first_request_timeout() {
    use std::io::{Read, Write};

    helper::media_proxy::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = helper::tls::self_signed(&["localhost".to_owned()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &key).unwrap();
    let mut extra = short_timeouts().to_vec();
    extra.extend([
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ]);
    let helper = HelperProcess::start_demo(None, &extra).unwrap();
    let to: SocketAddr = helper
        .base_url
        .strip_prefix("https://")
        .expect("an https helper")
        .parse()
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        roots
            .add(CertificateDer::from_pem_slice(cert.as_bytes()).unwrap())
            .unwrap();
    }
    let roots = Arc::new(roots);
    let limit = FIRST_REQUEST_TIMEOUT + MARGIN;
    let mut tasks = Vec::new();
    for (what, alpn, bytes) in [
        (
            "TLS handshake, then silence",
            b"http/1.1".to_vec(),
            Vec::new(),
        ),
        (
            "TLS, HTTP/2 preface, then silence",
            b"h2".to_vec(),
            h2_preface(),
        ),
    ] {
        let roots = Arc::clone(&roots);
        tasks.push(tokio::task::spawn_blocking(move || {
            let mut config = rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.alpn_protocols = vec![alpn];
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
            let socket = std::net::TcpStream::connect(to).unwrap();
            let since = Instant::now();
            socket.set_read_timeout(Some(limit)).unwrap();
            let mut tls = rustls::StreamOwned::new(connection, socket);
            while tls.conn.is_handshaking() {
                tls.conn.complete_io(&mut tls.sock).unwrap();
            }
            tls.write_all(&bytes).unwrap();
            tls.flush().unwrap();
            let mut buffer = [0u8; 4096];
            loop {
                match tls.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(err)
                        if matches!(
                            err.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        panic!("{what}: still open after {limit:?}")
                    }
                    // Closed without close_notify, or reset: closed all the same.
                    Err(_) => break,
                }
                assert!(
                    since.elapsed() < limit,
                    "{what}: still open after {limit:?}"
                );
            }
            (what, since.elapsed())
        }));
    }
    // A TLS handshake never begun: the same timer covers the handshake.
    tasks.push(tokio::spawn(async move {
        let what = "TLS port, nothing sent";
        let mut stream = TcpStream::connect(to).await.unwrap();
        (
            what,
            closed_after(&mut stream, Instant::now(), limit, what).await,
        )
    }));
    for task in tasks {
        let (what, elapsed) = task.await.unwrap();
        eprintln!("{what}: closed after {elapsed:?}");
        assert!(elapsed < limit, "{what}: closed after {elapsed:?}");
        assert!(
            elapsed >= FIRST_REQUEST_TIMEOUT - MARGIN / 4,
            "{what}: closed after only {elapsed:?}"
        );
    }
}

/// The soft open-file limit of a process (`Max open files` in `/proc/PID/limits`).
fn soft_open_files(pid: u32) -> u64 {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|soft| soft.parse().ok())
        .expect("a Max open files line")
}

/// Issue 19: with systemd's soft limit of 1024 descriptors (which the helper did
/// not raise), 1,100 silent connections made a member's `GET /healthz` time out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_is_served_beside_1100_silent_connections() {
    // This test holds more than a thousand sockets itself.
    helper::open_files::raise().unwrap();
    helper::media_proxy::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let config = family_config(dir.path());
    let helper =
        HelperProcess::start_demo_with_open_files(1024, &["--config", config.to_str().unwrap()])
            .unwrap();
    let to = address(&helper);
    let raised = soft_open_files(helper.pid());
    assert!(
        raised > 1024,
        "the helper raised its open-file limit: {raised}"
    );

    let mut silent = Vec::new();
    for _ in 0..1100 {
        silent.push(TcpStream::connect(to).await.unwrap());
    }
    // Well inside the 20 s the silent ones have for a first request: the member is
    // served beside them, not after they time out.
    let member = async {
        let http = reqwest::Client::new();
        let base = &helper.base_url;
        let health = http
            .get(format!("{base}{}", routes::HEALTHZ))
            .send()
            .await?;
        assert_eq!(health.status(), 200);
        let login = http
            .post(format!("{base}{}", routes::LOGIN))
            .header(CSRF_HEADER, CSRF_VALUE)
            .json(&serde_json::json!({ "member": "maria", "passphrase": PASSPHRASE }))
            .send()
            .await?;
        assert_eq!(login.status(), 200);
        let cookie = login.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let config = http
            .get(format!("{base}{}", routes::CONFIG))
            .header("cookie", cookie)
            .send()
            .await?
            .json::<api::ClientConfig>()
            .await?;
        assert_eq!(config.member.map(|m| m.name).as_deref(), Some("maria"));
        anyhow::Ok(())
    };
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), member)
        .await
        .expect("the member is served within 10 s")
        .unwrap();
    eprintln!(
        "beside 1,100 silent connections: the member served in {:?} (helper's open-file limit {raised})",
        started.elapsed()
    );
    // The cap (1024) made room by closing the oldest silent connections.
    let oldest = closed_after(
        &mut silent[0],
        Instant::now(),
        MARGIN,
        "the oldest silent one",
    )
    .await;
    eprintln!("the oldest silent connection was closed (seen {oldest:?} after the member)");
    let mut byte = [0u8; 1];
    assert!(
        matches!(silent[1099].try_read(&mut byte), Err(err) if err.kind() == std::io::ErrorKind::WouldBlock),
        "the newest silent connection is still open: only as many closed as needed"
    );
}

/// The timers stop while a request is in flight: an upload that trickles in for
/// longer than both the first-request and the idle timeout is saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_upload_outlasts_the_first_request_and_idle_timeouts() {
    let helper = HelperProcess::start_demo(None, &short_timeouts()).unwrap();
    let to = address(&helper);
    let body = b"\xFF\xD8\xFFa photo, slowly";
    let mut stream = TcpStream::connect(to).await.unwrap();
    let head = format!(
        "PUT /api/batches/b1/items/i1?filename=a.jpg&capture_time=2021-03-04T05%3A06%3A07Z \
         HTTP/1.1\r\nHost: {to}\r\n{CSRF_HEADER}: {CSRF_VALUE}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    // A slow client's pace (not a wait for the server): a few bytes every 500 ms,
    // for longer than the idle timeout.
    for chunk in body.chunks(2) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        stream.write_all(chunk).await.unwrap();
    }
    assert!(
        started.elapsed() > IDLE_TIMEOUT,
        "the upload outlasted the timeouts"
    );
    let answer = read_answer(&mut stream).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(helper.saved_files().len(), 1, "{:?}", helper.saved_files());
}

/// The systemd unit that ships for a home server passes `systemd-analyze verify`
/// (with its ExecStart pointed at the built helper: verify wants a real binary),
/// and keeps the hardening a home server expects.
#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let unit = std::fs::read_to_string(
        keepsake_tests::workspace_root().join("packaging/keepsake.service"),
    )
    .unwrap();
    for line in [
        "User=keepsake",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/keepsake",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "LimitNOFILE=65536",
    ] {
        assert!(unit.lines().any(|l| l == line), "the unit has {line}");
    }
    let Some(analyze) = keepsake_tests::which("systemd-analyze") else {
        eprintln!("SKIPPED: systemd-analyze is not installed");
        return;
    };
    let helper = keepsake_tests::helper_binary().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("keepsake.service");
    std::fs::write(
        &copy,
        unit.replace("/usr/local/bin/keepsake-helper", helper.to_str().unwrap()),
    )
    .unwrap();
    let out = std::process::Command::new(analyze)
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
}
