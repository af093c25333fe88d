//! Family mode against the real `helper` binary: members added with `helper member
//! add`, sign-in and sign-out, every library route behind a session, each member
//! isolated from the others, sessions that survive a restart, the sign-in brake,
//! https with `helper tls self-signed`, and the refusal to serve a library to a
//! network without members. Every socket is on loopback.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use api::{CSRF_HEADER, CSRF_VALUE, ClientConfig, SESSION_COOKIE, routes};
use keepsake_tests::{HelperProcess, helper_binary};
use reqwest::StatusCode;

fn add_member(config: &Path, name: &str, passphrase: &str, artist: &str) {
    keepsake_tests::add_member(config, name, passphrase, artist).unwrap();
}

fn family_config(dir: &Path) -> std::path::PathBuf {
    let config = dir.join("keepsake.toml");
    std::fs::write(&config, "# the Rivera family's helper\nmax_uploads = 4\n").unwrap();
    add_member(&config, "maria", "maria's long passphrase", "María Rivera");
    add_member(&config, "tomas", "tomas's long passphrase", "Tomás Rivera");
    config
}

struct Client {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

impl Client {
    fn new(base: &str) -> Self {
        helper::media_proxy::install_crypto_provider();
        Client {
            http: reqwest::Client::new(),
            base: base.to_owned(),
            cookie: None,
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(CSRF_HEADER, CSRF_VALUE);
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        request
    }

    async fn login(&mut self, member: &str, passphrase: &str) -> reqwest::Response {
        let response = self
            .request(reqwest::Method::POST, routes::LOGIN)
            .json(&serde_json::json!({ "member": member, "passphrase": passphrase }))
            .send()
            .await
            .unwrap();
        if let Some(set) = response.headers().get("set-cookie") {
            let set = set.to_str().unwrap();
            self.cookie = set.split(';').next().map(str::to_owned);
        }
        response
    }

    async fn upload(&self, batch: &str, item: &str, body: &'static [u8]) -> reqwest::Response {
        self.request(
            reqwest::Method::PUT,
            &format!(
                "/api/batches/{batch}/items/{item}?filename=a.jpg&capture_time=2021-03-04T05%3A06%3A07%2B01%3A00"
            ),
        )
        .body(body)
        .send()
        .await
        .unwrap()
    }

    async fn get_json(&self, path: &str) -> (StatusCode, serde_json::Value) {
        let response = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }
}

/// Every route that reads or writes a library, with a request that would succeed
/// for a signed-in member.
const PROTECTED: [(&str, &str); 5] = [
    (
        "GET",
        "/api/media?url=http%3A%2F%2F127.0.0.1%2Femulator%2Fmedia%2Fx",
    ),
    (
        "PUT",
        "/api/batches/b1/items/i1?filename=a.jpg&capture_time=2021-03-04T05%3A06%3A07Z",
    ),
    ("GET", "/api/batches/b1"),
    ("GET", "/api/batches/b1/zip"),
    ("GET", "/api/history"),
];

#[tokio::test]
async fn every_library_route_needs_a_member_and_members_are_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let config = family_config(dir.path());
    let helper = HelperProcess::start_demo(None, &["--config", config.to_str().unwrap()]).unwrap();
    let mut maria = Client::new(&helper.base_url);
    let mut tomas = Client::new(&helper.base_url);

    // Signed out: the config says "family", and nothing else answers.
    let (status, body) = maria.get_json(routes::CONFIG).await;
    assert_eq!(status, StatusCode::OK);
    let config_answer: ClientConfig = serde_json::from_value(body).unwrap();
    assert!(config_answer.family && config_answer.member.is_none());
    for (method, path) in PROTECTED {
        let response = maria
            .request(method.parse().unwrap(), path)
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
    }

    // A wrong passphrase, an unknown member: the same 401.
    assert_eq!(maria.login("maria", "wrong passphrase").await.status(), 401);
    assert_eq!(
        maria
            .login("nobody", "maria's long passphrase")
            .await
            .status(),
        401
    );
    let response = maria.login("maria", "maria's long passphrase").await;
    assert_eq!(response.status(), StatusCode::OK);
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set_cookie.starts_with(&format!("{SESSION_COOKIE}=")),
        "{set_cookie}"
    );
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(flag), "{flag} missing: {set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "plain http: no Secure flag");
    let (_, body) = maria.get_json(routes::CONFIG).await;
    let member = serde_json::from_value::<ClientConfig>(body)
        .unwrap()
        .member
        .unwrap();
    assert_eq!(
        (member.name.as_str(), member.artist.as_deref()),
        ("maria", Some("María Rivera"))
    );
    assert_eq!(
        tomas
            .login("tomas", "tomas's long passphrase")
            .await
            .status(),
        200
    );

    // María saves a photo into batch b1.
    let saved = maria
        .upload("b1", "item-x", b"\xFF\xD8\xFFmaria's photo")
        .await;
    assert_eq!(saved.status(), StatusCode::OK);
    assert_eq!(
        maria.get_json("/api/history").await.1["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Tomás cannot see, list or zip it, nor learn that batch b1 exists.
    let (status, body) = tomas.get_json("/api/batches/b1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"].as_array().unwrap().len(), 0);
    let (status, _) = tomas.get_json("/api/batches/b1/zip").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = tomas.get_json("/api/batches/no-such-batch/zip").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the same answer as a batch nobody has"
    );
    assert_eq!(
        tomas.get_json("/api/history").await.1["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // The same Google item is not a "duplicate" for him: it is his own copy.
    let his = tomas
        .upload("b1", "item-x", b"\xFF\xD8\xFFtomas's photo")
        .await;
    let his: serde_json::Value = his.json().await.unwrap();
    assert_eq!(his["status"], "saved");
    let root = helper.library.path();
    assert_eq!(
        std::fs::read(root.join("maria/2021/03/a.jpg")).unwrap(),
        b"\xFF\xD8\xFFmaria's photo"
    );
    assert_eq!(
        std::fs::read(root.join("tomas/2021/03/a.jpg")).unwrap(),
        b"\xFF\xD8\xFFtomas's photo"
    );
    let (_, body) = maria.get_json("/api/batches/b1").await;
    assert_eq!(
        body["items"].as_array().unwrap().len(),
        1,
        "María's batch is hers alone"
    );

    // Signing out ends the session: the old cookie opens nothing.
    let stale = maria.cookie.clone();
    let response = maria
        .request(reqwest::Method::POST, routes::LOGOUT)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    maria.cookie = stale;
    assert_eq!(
        maria.get_json("/api/history").await.0,
        StatusCode::UNAUTHORIZED
    );

    // Tomás's session survives a restart of the helper.
    let library = helper.stop();
    let helper =
        HelperProcess::start_demo_in(library, None, &["--config", config.to_str().unwrap()])
            .unwrap();
    tomas.base = helper.base_url.clone();
    let (status, body) = tomas.get_json("/api/history").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn failed_sign_ins_are_slowed_down() {
    let dir = tempfile::tempdir().unwrap();
    let config = family_config(dir.path());
    let helper = HelperProcess::start_demo(None, &["--config", config.to_str().unwrap()]).unwrap();
    let mut client = Client::new(&helper.base_url);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            client
                .login("maria", "not her passphrase")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses[..3], [401, 401, 401], "a few typos cost nothing");
    assert!(statuses[3..].contains(&429), "{statuses:?}");
    // Even the right passphrase waits now, and the answer says for how long.
    let response = client.login("maria", "maria's long passphrase").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
}

#[test]
fn a_network_address_without_members_is_refused_before_binding() {
    let dir = tempfile::tempdir().unwrap();
    let no_members = dir.path().join("keepsake.toml");
    std::fs::write(&no_members, "max_uploads = 4\n").unwrap();
    let out = Command::new(helper_binary().unwrap())
        .args(["serve", "--demo", "--listen", "0.0.0.0:0", "--library"])
        .arg(dir.path())
        .arg("--config")
        .arg(&no_members)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("helper member add"), "{stderr}");
    assert!(out.stdout.is_empty(), "it never listened");
}

#[test]
fn member_commands_edit_the_file_and_keep_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let config = family_config(dir.path());
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.starts_with("# the Rivera family's helper\nmax_uploads = 4\n"),
        "comments and settings kept: {text}"
    );
    assert!(text.contains("$argon2id$"), "{text}");
    assert!(
        !text.contains("maria's long passphrase"),
        "never the passphrase itself"
    );
    let list = Command::new(helper_binary().unwrap())
        .args(["member", "list", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    assert_eq!(list.lines().count(), 2, "{list}");
    let remove = Command::new(helper_binary().unwrap())
        .args(["member", "remove", "tomas", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(remove.status.success());
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(!text.contains("tomas") && text.contains("maria"), "{text}");
    // A short passphrase is refused and changes nothing.
    let mut child = Command::new(helper_binary().unwrap())
        .args(["member", "passwd", "maria", "--config"])
        .arg(&config)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "short").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert_eq!(std::fs::read_to_string(&config).unwrap(), text);
}

/// Runs `helper member ARGS --config CONFIG` with `stdin` (a passphrase line);
/// whether it succeeded, and what it said.
fn member_command(config: &Path, args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new(helper_binary().unwrap())
        .arg("member")
        .args(args)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{stdin}").unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Polls `probe` until it answers `want`, for up to 15 s (the helper reads its
/// configuration file every 2 s).
async fn eventually<T, F, Fut>(what: &str, want: T, mut probe: F)
where
    T: PartialEq + std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let got = probe().await;
        if got == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: still {got:?}, not {want:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// `member passwd`, `remove` and `add` on a running helper take effect without a
/// restart: the old passphrase and the sessions opened with it are refused, a
/// removed member is signed out, an added one signs in. Names apart only by case
/// and weak passphrases are refused at `add`, with the file unchanged.
#[tokio::test]
async fn member_changes_take_effect_in_the_running_helper() {
    let dir = tempfile::tempdir().unwrap();
    let config = family_config(dir.path());
    let helper = HelperProcess::start_demo(None, &["--config", config.to_str().unwrap()]).unwrap();
    let mut maria = Client::new(&helper.base_url);
    let mut tomas = Client::new(&helper.base_url);
    assert_eq!(
        maria
            .login("maria", "maria's long passphrase")
            .await
            .status(),
        200
    );
    assert_eq!(
        tomas
            .login("tomas", "tomas's long passphrase")
            .await
            .status(),
        200
    );
    assert_eq!(maria.get_json(routes::HISTORY).await.0, StatusCode::OK);

    // A new passphrase for maria: her session ends, the old passphrase is refused,
    // the new one signs in.
    let (ok, said) = member_command(&config, &["passwd", "maria"], "maria's new passphrase");
    assert!(ok && said.contains("running helper"), "{said}");
    eventually("maria's old session", StatusCode::UNAUTHORIZED, || async {
        maria.get_json(routes::HISTORY).await.0
    })
    .await;
    let mut again = Client::new(&helper.base_url);
    assert_eq!(
        again
            .login("maria", "maria's long passphrase")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        again
            .login("maria", "maria's new passphrase")
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(again.get_json(routes::HISTORY).await.0, StatusCode::OK);
    // Tomás was not touched.
    assert_eq!(tomas.get_json(routes::HISTORY).await.0, StatusCode::OK);

    // Tomás removed: signed out at once (within the file's reading), and cannot sign in.
    let (ok, said) = member_command(&config, &["remove", "tomas"], "");
    assert!(ok, "{said}");
    eventually("tomas's session", StatusCode::UNAUTHORIZED, || async {
        tomas.get_json(routes::HISTORY).await.0
    })
    .await;
    assert_eq!(
        Client::new(&helper.base_url)
            .login("tomas", "tomas's long passphrase")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // Refused at add, the file unchanged: a name apart from maria's only by case,
    // and passphrases a guesser tries first.
    let before = std::fs::read_to_string(&config).unwrap();
    let (ok, said) = member_command(&config, &["add", "Maria"], "a fine long passphrase");
    assert!(!ok && said.contains("share a folder"), "{said}");
    for weak in ["        ", "aaaaaaaaaaaa"] {
        let (ok, said) = member_command(&config, &["add", "lucia"], weak);
        assert!(!ok && said.contains("different ones"), "{weak:?}: {said}");
    }
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);

    // Lucía added: she signs in without a restart.
    let (ok, said) = member_command(&config, &["add", "lucia"], "lucia's long passphrase");
    assert!(ok, "{said}");
    // (Her tries before the helper reads the file are wrong guesses to it: the
    // brake may hold one back a few seconds.)
    let base = helper.base_url.clone();
    eventually("lucia's sign-in", StatusCode::OK, || {
        let base = base.clone();
        async move {
            Client::new(&base)
                .login("lucia", "lucia's long passphrase")
                .await
                .status()
        }
    })
    .await;
}

/// The folders of the library root whose names start with `prefix`, sorted.
fn folders(root: &Path, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

/// A removed member's photos are set aside whole (`<name> (removed <time>)`), on
/// the running helper and across a restart; a name added again starts with an
/// empty library (the same Google item saves anew, nothing of the old member shows
/// in history or folder); `member add --adopt` takes the set-aside library back.
#[tokio::test]
async fn a_name_added_again_starts_empty_unless_it_adopts_the_old_library() {
    let dir = tempfile::tempdir().unwrap();
    let config = family_config(dir.path());
    let mut helper =
        HelperProcess::start_demo(None, &["--config", config.to_str().unwrap()]).unwrap();
    async fn history(client: &Client) -> Vec<String> {
        let (status, body) = client.get_json(routes::HISTORY).await;
        assert_eq!(status, StatusCode::OK);
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["item_id"].as_str().unwrap().to_owned())
            .collect()
    }
    async fn sign_in(base: &str, name: &str, passphrase: &str) -> Client {
        // (Tries before the helper reads the file are wrong guesses to it: the
        // brake may hold one back a few seconds.)
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let mut client = Client::new(base);
            let status = client.login(name, passphrase).await.status();
            if status == StatusCode::OK {
                return client;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name}'s sign-in: still {status}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    let root = helper.library.path().to_owned();

    // The first Tomás saves item-x.
    let tomas = sign_in(&helper.base_url, "tomas", "tomas's long passphrase").await;
    let saved: serde_json::Value = tomas
        .upload("b1", "item-x", b"\xFF\xD8\xFFfirst tomas")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(saved["status"], "saved");
    assert_eq!(history(&tomas).await, ["item-x"]);

    // Removed: his folder moves aside, whole, while the helper runs.
    let (ok, said) = member_command(&config, &["remove", "tomas"], "");
    assert!(ok && said.contains("removed <time>"), "{said}");
    eventually("tomas's folder set aside", 1, || async {
        folders(&root, "tomas (removed ").len()
    })
    .await;
    assert!(!root.join("tomas").exists());
    let first_aside = root.join(&folders(&root, "tomas (removed ")[0]);
    assert_eq!(
        std::fs::read(first_aside.join("2021/03/a.jpg")).unwrap(),
        b"\xFF\xD8\xFFfirst tomas"
    );

    // A new Tomás starts empty: no history, and item-x is his to save, not a duplicate.
    let (ok, said) = member_command(&config, &["add", "tomas"], "the second tomas's passphrase");
    assert!(ok && said.contains("empty library"), "{said}");
    let tomas = sign_in(&helper.base_url, "tomas", "the second tomas's passphrase").await;
    assert!(history(&tomas).await.is_empty());
    let saved: serde_json::Value = tomas
        .upload("b1", "item-x", b"\xFF\xD8\xFFsecond tomas")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(saved["status"], "saved", "{saved}");
    assert_eq!(saved["path"], "2021/03/a.jpg", "his own folder, no (2)");
    assert_eq!(
        std::fs::read(root.join("tomas/2021/03/a.jpg")).unwrap(),
        b"\xFF\xD8\xFFsecond tomas"
    );
    let (_, batch) = tomas.get_json("/api/batches/b1").await;
    assert_eq!(batch["items"].as_array().unwrap().len(), 1, "{batch}");

    // Removed and re-added while the helper is stopped: set aside at start, before
    // anyone signs in. Then re-added with --adopt: he gets that library back.
    let library = helper.stop();
    let (ok, said) = member_command(&config, &["remove", "tomas"], "");
    assert!(ok, "{said}");
    let (ok, said) = member_command(&config, &["add", "tomas"], "the third tomas's passphrase");
    assert!(ok, "{said}");
    helper = HelperProcess::start_demo_in(library, None, &["--config", config.to_str().unwrap()])
        .unwrap();
    let tomas = sign_in(&helper.base_url, "tomas", "the third tomas's passphrase").await;
    assert!(history(&tomas).await.is_empty());
    assert_eq!(folders(&root, "tomas (removed ").len(), 2);
    assert!(!root.join("tomas").exists());

    let (ok, _) = member_command(&config, &["remove", "tomas"], "");
    assert!(ok);
    eventually("tomas signed out", StatusCode::UNAUTHORIZED, || async {
        tomas.get_json(routes::HISTORY).await.0
    })
    .await;
    let (ok, said) = member_command(
        &config,
        &["add", "tomas", "--adopt"],
        "the second tomas's passphrase",
    );
    assert!(ok && said.contains("takes back"), "{said}");
    let tomas = sign_in(&helper.base_url, "tomas", "the second tomas's passphrase").await;
    assert_eq!(history(&tomas).await, ["item-x"]);
    assert_eq!(
        std::fs::read(root.join("tomas/2021/03/a.jpg")).unwrap(),
        b"\xFF\xD8\xFFsecond tomas",
        "the latest library set aside comes back"
    );
    assert_eq!(
        folders(&root, "tomas (removed "),
        [first_aside.file_name().unwrap().to_str().unwrap()]
    );
    // María was never touched.
    let maria = sign_in(&helper.base_url, "maria", "maria's long passphrase").await;
    assert!(history(&maria).await.is_empty());
}

#[tokio::test]
async fn https_with_a_self_signed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(helper_binary().unwrap())
        .args([
            "tls",
            "self-signed",
            "--host",
            "localhost",
            "--host",
            "127.0.0.1",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the key is private");
    }
    let config = family_config(dir.path());
    let helper = HelperProcess::start_demo(
        None,
        &[
            "--config",
            config.to_str().unwrap(),
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    )
    .unwrap();
    assert!(
        helper.base_url.starts_with("https://127.0.0.1:"),
        "{}",
        helper.base_url
    );
    helper::media_proxy::install_crypto_provider();
    let trusted = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap(),
        )
        .build()
        .unwrap();
    let health = trusted
        .get(format!("{}/healthz", helper.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    // Over HTTP/2 (ALPN) a request names its host in `:authority`, not `Host`: the
    // demo's endpoints must still come back, on https.
    let config = trusted
        .get(format!("{}{}", helper.base_url, routes::CONFIG))
        .send()
        .await
        .unwrap();
    assert_eq!(config.version(), reqwest::Version::HTTP_2);
    assert_eq!(config.status(), StatusCode::OK);
    let config: ClientConfig = config.json().await.unwrap();
    assert!(
        config
            .oauth
            .auth_url
            .starts_with(&format!("{}/emulator/", helper.base_url)),
        "{}",
        config.oauth.auth_url
    );
    let mut client = Client::new(&helper.base_url);
    client.http = trusted;
    let response = client.login("maria", "maria's long passphrase").await;
    assert_eq!(response.status(), StatusCode::OK);
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(
        set_cookie.starts_with(&format!("{}=", api::SECURE_SESSION_COOKIE))
            && set_cookie.contains("Secure")
            && set_cookie.contains("Path=/")
            && !set_cookie.contains("Domain"),
        "https: a __Host- cookie, Secure, for / and this host: {set_cookie}"
    );
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000",
        "https says to stay on https"
    );
    // Signed in with it; a second, different session cookie beside it (tossed in
    // from a sibling host) signs nobody in.
    let token = set_cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, value)| value.to_owned())
        .unwrap();
    let history = |cookie: String| {
        client
            .http
            .get(format!("{}{}", helper.base_url, routes::HISTORY))
            .header("cookie", cookie)
            .send()
    };
    let name = api::SECURE_SESSION_COOKIE;
    assert_eq!(
        history(format!("{name}={token}")).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        history(format!("{name}={token}; {name}=0123456789abcdef"))
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // The plain-http name means nothing under https.
    assert_eq!(
        history(format!("{SESSION_COOKIE}={token}"))
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // A client that does not trust the certificate is refused by TLS itself.
    assert!(
        reqwest::get(format!("{}/healthz", helper.base_url))
            .await
            .is_err()
    );
    // Plain http on the https port is sent to https, to the same place.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(helper.base_url.replace("https://", "http://") + "/healthz?x=1")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        plain.headers()["location"],
        format!("{}/healthz?x=1", helper.base_url).as_str()
    );
}
