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
        .unwrap();
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

/// Sends every request from its own connection (from `from(i)`), all but the last
/// byte first, then the last bytes together once every connection is ready.
async fn burst(helper: SocketAddr, requests: Vec<(IpAddr, Vec<u8>)>) -> Vec<Answer> {
    let barrier = Arc::new(Barrier::new(requests.len()));
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(from, request)| {
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                let mut stream = connect_from(from, helper).await;
                let (head, last) = request.split_at(request.len() - 1);
                stream.write_all(head).await.unwrap();
                barrier.wait().await;
                stream.write_all(last).await.unwrap();
                read_answer(&mut stream).await
            })
        })
        .collect();
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
