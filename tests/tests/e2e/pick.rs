//! `helper pick` end to end: the built binary run as a child process against a
//! `helper serve --demo`, the way a user runs it. A scripted client follows the
//! links it prints — the consent page (whose redirect lands on `helper pick`'s
//! loopback listener) and the picker page — with plain HTTP, through the support
//! crate's emulator page scrapers.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, SystemTime};

use keepsake_tests::emulator_client::{
    MARIA, assert_google_error, attr_values, consent_id, get_pair, parse_pairs, query,
};
use keepsake_tests::{HelperProcess, exiftool_json, helper_binary, skip_or_fail, which};

/// How long one step of a run may take before the test fails.
const STEP: Duration = Duration::from_secs(90);

/// Flags every demo helper of these tests gets: no large videos (quick), and no
/// video stuck in PROCESSING unless a test wants one.
const QUICK: [&str; 3] = ["--demo-large-files", "0", "--demo-no-processing-video"];

/// The demo helper's emulator, seen from outside: its `/api/config` and a client
/// that does not follow redirects (so OAuth redirects can be read).
struct Google {
    origin: String,
    config: api::ClientConfig,
    http: reqwest::Client,
}

impl Google {
    async fn of(helper: &HelperProcess) -> Google {
        helper::media_proxy::install_crypto_provider();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let config = http
            .get(format!("{}{}", helper.base_url, api::routes::CONFIG))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Google {
            origin: helper.base_url.clone(),
            config,
            http,
        }
    }

    /// Answers the consent page at `url` as `email` ("Allow") and returns the
    /// redirect it answers with.
    async fn allow(&self, url: &str, email: &str) -> String {
        self.answer_consent(url, email, true).await
    }

    /// [`Google::allow`], with the photos box ticked or not (Google's granular
    /// consent: a browser sends the `offered` scopes and the ticked `grant`s).
    async fn answer_consent(&self, url: &str, email: &str, photos: bool) -> String {
        let res = self.http.get(url).send().await.unwrap();
        assert_eq!(res.status(), 200, "the printed consent URL opens a page");
        let page = res.text().await.unwrap();
        let emails = attr_values(&page, "data-testid=\"consent-account\"", "data-email");
        let index = emails
            .iter()
            .position(|e| e == email)
            .expect("account listed");
        let res = self
            .http
            .post(format!("{}{}/consent", self.origin, emulator::AUTH_PATH))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(query(&[
                ("consent", &consent_id(&page)),
                ("account", &index.to_string()),
                ("offered", picker::SCOPE),
                ("grant", if photos { picker::SCOPE } else { "" }),
                ("action", "allow"),
            ]))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_redirection(), "{}", res.status());
        res.headers()["location"].to_str().unwrap().to_owned()
    }

    /// Follows the printed consent URL as Maria, then the redirect to `helper
    /// pick`'s loopback listener, as a browser would.
    async fn consent(&self, url: &str) {
        let location = self.allow(url, MARIA).await;
        assert!(
            location.starts_with("http://127.0.0.1:"),
            "the code comes back to a loopback port: {location}"
        );
        let res = self.http.get(&location).send().await.unwrap();
        assert_eq!(res.status(), 200, "helper pick's listener took the code");
    }

    /// Ticks the tiles whose title `wanted` accepts on the picker page and
    /// presses Done; returns the picked ids.
    async fn pick(&self, picker_uri: &str, wanted: impl Fn(&str) -> bool) -> Vec<String> {
        let res = self.http.get(picker_uri).send().await.unwrap();
        assert_eq!(res.status(), 200, "the printed picker URL opens a page");
        let html = res.text().await.unwrap();
        let ids = attr_values(&html, "data-testid=\"picker-item\"", "data-item-id");
        let titles = attr_values(&html, "data-testid=\"picker-item\"", "title");
        assert_eq!(ids.len(), titles.len());
        let picked: Vec<String> = ids
            .into_iter()
            .zip(titles)
            .filter(|(_, title)| wanted(title))
            .map(|(id, _)| id)
            .collect();
        assert!(!picked.is_empty(), "nothing to pick");
        let mut form: Vec<(&str, &str)> = picked.iter().map(|i| ("item", i.as_str())).collect();
        form.push(("autoclose", "0"));
        let res = self
            .http
            .post(format!("{picker_uri}/done"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(query(&form))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        picked
    }

    /// `sessions.get` with `token`: the status code.
    async fn session_status(&self, token: &str, id: &str) -> reqwest::Response {
        self.http
            .get(picker::session_url(&self.config.picker_api, id))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// A refresh token got by hand through the code flow (as the Python tool
    /// would have), and its access token.
    async fn refresh_token_by_hand(&self) -> (String, String) {
        let redirect = "http://127.0.0.1:9/";
        let url = format!(
            "{}?{}",
            self.config.oauth.auth_url,
            query(&[
                ("client_id", &self.config.oauth.client_id),
                ("redirect_uri", redirect),
                ("response_type", "code"),
                ("scope", picker::SCOPE),
                ("access_type", "offline"),
                ("state", "py"),
            ])
        );
        let location = self.allow(&url, MARIA).await;
        let query_part = location.split_once('?').unwrap().1;
        let code = get_pair(&parse_pairs(query_part), "code")
            .unwrap()
            .to_owned();
        let res = self
            .http
            .post(&self.config.oauth.token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(query(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect),
                ("client_id", &self.config.oauth.client_id),
                ("client_secret", emulator::config::DEMO_CLIENT_SECRET),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        (
            body["refresh_token"].as_str().unwrap().to_owned(),
            body["access_token"].as_str().unwrap().to_owned(),
        )
    }

    /// Whether the token endpoint still takes `refresh`.
    async fn refresh_works(&self, refresh: &str) -> bool {
        let res = self
            .http
            .post(&self.config.oauth.token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(query(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("client_id", &self.config.oauth.client_id),
                ("client_secret", emulator::config::DEMO_CLIENT_SECRET),
            ]))
            .send()
            .await
            .unwrap();
        res.status() == 200
    }
}

/// A running `helper pick` (killed on drop), its stdout read line by line.
///
/// Plain `std::process` with a reader thread: tokio's `process` feature here
/// would change tokio's features between `cargo test` and the helper build
/// [`helper_binary`] runs, and each would then rebuild the other's crates.
struct PickRun {
    child: std::process::Child,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    stdout: Vec<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Drop for PickRun {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PickRun {
    /// `helper pick --server … --no-browser --out OUT --token-file TOKEN EXTRA…`.
    fn start(helper: &HelperProcess, out: &Path, token: &Path, extra: &[&str]) -> PickRun {
        let mut child = std::process::Command::new(helper_binary().unwrap())
            .args([
                "pick",
                "--server",
                &helper.base_url,
                "--no-browser",
                "--out",
            ])
            .arg(out)
            .arg("--token-file")
            .arg(token)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
            text
        });
        PickRun {
            child,
            lines,
            stdout: Vec::new(),
            stderr,
        }
    }

    /// Reads stdout until a line `wanted` accepts; fails after [`STEP`] or when
    /// the program ends first.
    async fn line(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        loop {
            let next = tokio::time::timeout(STEP, self.lines.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!("no {what} within {STEP:?}; stdout: {:#?}", self.stdout)
                });
            let Some(line) = next else {
                let status = self.child.wait().unwrap();
                panic!(
                    "helper pick ended ({status}) before printing {what}; stdout: {:#?}",
                    self.stdout
                );
            };
            self.stdout.push(line.clone());
            if wanted(&line) {
                return line;
            }
        }
    }

    /// Signs in through the printed consent URL when one comes, then picks on the
    /// printed picker URL. Returns the session id and the picked ids.
    async fn sign_in_and_pick(
        &mut self,
        google: &Google,
        wanted: impl Fn(&str) -> bool,
    ) -> (String, Vec<String>) {
        let picker_prefix = format!("{}{}", google.origin, emulator::PICKER_UI_PATH);
        let auth_url = google.config.oauth.auth_url.clone();
        let url = self
            .line("the consent or picker URL", |l| {
                l.starts_with(&auth_url) || l.starts_with(&picker_prefix)
            })
            .await;
        let picker_uri = if url.starts_with(&auth_url) {
            google.consent(&url).await;
            self.line("the picker URL", |l| l.starts_with(&picker_prefix))
                .await
        } else {
            url
        };
        let session = self.session_id();
        (session, google.pick(&picker_uri, wanted).await)
    }

    /// The process id of the running `helper pick`.
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The id of the session the run created (printed before its link).
    fn session_id(&self) -> String {
        self.stdout
            .iter()
            .find_map(|l| l.strip_prefix("Picking session "))
            .expect("the session id was printed")
            .trim()
            .to_owned()
    }

    /// Waits for the end; returns the exit status, all of stdout and stderr.
    async fn finish(mut self) -> (ExitStatus, String, String) {
        // stdout closes when the program ends.
        let rest = async {
            while let Some(line) = self.lines.recv().await {
                self.stdout.push(line);
            }
        };
        tokio::time::timeout(STEP * 2, rest)
            .await
            .unwrap_or_else(|_| panic!("helper pick did not finish; stdout: {:#?}", self.stdout));
        let status = self.child.wait().unwrap();
        let stderr = std::mem::replace(&mut self.stderr, std::thread::spawn(String::new));
        let stderr = stderr.join().unwrap_or_default();
        (status, self.stdout.join("\n"), stderr)
    }
}

fn everything(_: &str) -> bool {
    true
}

/// The saved files below `out` (not the index), relative, with their bytes and mtimes.
fn saved_files(out: &Path) -> Vec<(PathBuf, Vec<u8>, SystemTime)> {
    let mut files: Vec<_> = keepsake_tests::walk_files(out)
        .into_iter()
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
            (p.strip_prefix(out).unwrap().to_owned(), bytes, mtime)
        })
        .collect();
    files.sort();
    files
}

/// The summary line's counts: (fixed, unchanged, skipped, failed).
fn summary(stdout: &str) -> (usize, usize, usize, usize) {
    let line = stdout
        .lines()
        .find(|l| l.contains(" items: ") && l.ends_with(" failed"))
        .unwrap_or_else(|| panic!("no summary in {stdout}"));
    let numbers: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    // "N items: F fixed (R with repairs), U unchanged, S skipped (…), X failed"
    assert_eq!(numbers.len(), 6, "{line}");
    (numbers[1], numbers[3], numbers[4], numbers[5])
}

fn is_photo(path: &Path) -> bool {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    matches!(ext.as_str(), "jpg" | "jpeg" | "png" | "webp")
}

/// Checks the folder holds the picked items, fixed, under `<YYYY>/<MM>/` with
/// their capture time as mtime; ExifTool agrees where it is installed.
fn assert_fixed(out: &Path, picked: usize) {
    let files = saved_files(out);
    assert_eq!(files.len(), picked, "one file per picked item: {files:#?}");
    let exiftool = which("exiftool").is_some();
    let a_day_ago = SystemTime::now() - Duration::from_secs(86_400);
    for (path, bytes, mtime) in &files {
        let parts: Vec<_> = path.components().collect();
        assert_eq!(parts.len(), 3, "{path:?} sits in <YYYY>/<MM>/");
        assert!(*mtime < a_day_ago, "{path:?}: mtime is the capture time");
        let meta = metafix::read(bytes).unwrap_or_else(|err| panic!("{path:?}: {err}"));
        if !is_photo(path) {
            continue;
        }
        assert_eq!(meta.software, None, "{path:?} still has a Software tag");
        assert_eq!(meta.artist.as_deref(), Some("Ada Lovelace"), "{path:?}");
        if exiftool {
            let tags = exiftool_json(&out.join(path)).unwrap();
            assert_eq!(tags["IFD0:Artist"], "Ada Lovelace", "{path:?}: {tags}");
            assert!(tags.get("IFD0:Software").is_none(), "{path:?}: {tags}");
            assert!(
                tags.get("ExifIFD:DateTimeOriginal").is_some(),
                "{path:?} has a capture time: {tags}"
            );
        }
    }
    if !exiftool {
        skip_or_fail(
            "KEEPSAKE_REQUIRE_EXIFTOOL",
            "exiftool is not installed: checked the files with metafix only",
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pick_saves_the_picked_photos_fixed_and_a_second_run_writes_nothing() {
    let helper = HelperProcess::start_demo(None, &QUICK).unwrap();
    let google = Google::of(&helper).await;
    let dir = tempfile::tempdir().unwrap();
    let (out, token) = (dir.path().join("photos"), dir.path().join("token.json"));

    let mut run = PickRun::start(&helper, &out, &token, &["--artist", "Ada Lovelace"]);
    let (_, picked) = run.sign_in_and_pick(&google, everything).await;
    let (status, stdout, stderr) = run.finish().await;
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    let (fixed, unchanged, skipped, failed) = summary(&stdout);
    assert_eq!((fixed + unchanged, skipped, failed), (picked.len(), 0, 0));
    assert!(fixed > 0, "Google's files need fixing: {stdout}");
    assert!(stdout.contains("Session deleted."), "{stdout}");
    assert_fixed(&out, picked.len());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&token).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the token file is private");
    }

    // The same picks again: the saved token signs in (no consent), nothing is
    // downloaded or written.
    let before = saved_files(&out);
    let mut again = PickRun::start(&helper, &out, &token, &["--artist", "Ada Lovelace"]);
    let (_, picked_again) = again.sign_in_and_pick(&google, everything).await;
    assert_eq!(picked_again, picked);
    let (status, stdout, stderr) = again.finish().await;
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    assert!(
        !stdout.contains(&google.config.oauth.auth_url),
        "no second consent: {stdout}"
    );
    assert_eq!(summary(&stdout), (0, 0, picked.len(), 0), "{stdout}");
    assert_eq!(saved_files(&out), before, "the second run wrote nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_access_token_that_expires_mid_run_is_renewed_silently() {
    // Tokens live 2 s (announced as 1 s): the run outlives several of them.
    let mut flags = QUICK.to_vec();
    flags.extend(["--demo-token-lifetime", "2s"]);
    let helper = HelperProcess::start_demo(None, &flags).unwrap();
    let google = Google::of(&helper).await;
    let dir = tempfile::tempdir().unwrap();
    let (out, token) = (dir.path().join("photos"), dir.path().join("token.json"));

    let mut run = PickRun::start(&helper, &out, &token, &["--artist", "Ada Lovelace"]);
    let (_, picked) = run.sign_in_and_pick(&google, everything).await;
    let (status, stdout, stderr) = run.finish().await;
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    let consents = stdout
        .lines()
        .filter(|l| l.starts_with(&google.config.oauth.auth_url))
        .count();
    assert_eq!(consents, 1, "one consent only: {stdout}");
    let renewed = stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("The access token was renewed ")?
                .split(' ')
                .next()?
                .parse::<u32>()
                .ok()
        })
        .unwrap_or(0);
    assert!(
        renewed >= 1,
        "the token was renewed during the run: {stdout}"
    );
    assert_eq!(summary(&stdout).3, 0, "{stdout}");
    assert_eq!(saved_files(&out).len(), picked.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_under_server_errors_rate_limits_and_cut_bodies_saves_every_item_once() {
    let mut flags = QUICK.to_vec();
    flags.extend([
        "--demo-seed",
        "11",
        "--demo-fault-server-errors",
        "0.2",
        "--demo-fault-rate-limit",
        "0.1",
        "--demo-fault-retry-after",
        "1",
        "--demo-fault-cut-bodies",
        "0.4",
    ]);
    let helper = HelperProcess::start_demo(None, &flags).unwrap();
    let google = Google::of(&helper).await;
    let dir = tempfile::tempdir().unwrap();
    let (out, token) = (dir.path().join("photos"), dir.path().join("token.json"));

    let mut run = PickRun::start(&helper, &out, &token, &["--artist", "Ada Lovelace"]);
    let (_, picked) = run.sign_in_and_pick(&google, everything).await;
    let (status, stdout, stderr) = run.finish().await;
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    let (fixed, unchanged, skipped, failed) = summary(&stdout);
    assert_eq!((fixed + unchanged, skipped, failed), (picked.len(), 0, 0));
    // Exactly once: one file per item, and no two files with the same bytes.
    assert_fixed(&out, picked.len());
    let files = saved_files(&out);
    let distinct: std::collections::HashSet<&Vec<u8>> = files.iter().map(|(_, b, _)| b).collect();
    assert_eq!(distinct.len(), files.len(), "no item saved twice");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_while_waiting_for_picks_deletes_the_session() {
    let helper = HelperProcess::start_demo(None, &QUICK).unwrap();
    let google = Google::of(&helper).await;
    let dir = tempfile::tempdir().unwrap();
    let (out, token) = (dir.path().join("photos"), dir.path().join("token.json"));

    let mut run = PickRun::start(&helper, &out, &token, &[]);
    let picker_prefix = format!("{}{}", google.origin, emulator::PICKER_UI_PATH);
    let consent = run
        .line("the consent URL", |l| {
            l.starts_with(&google.config.oauth.auth_url)
        })
        .await;
    google.consent(&consent).await;
    run.line("the picker URL", |l| l.starts_with(&picker_prefix))
        .await;
    let session = run.session_id();
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&token).unwrap()).unwrap();
    let access = saved["token"].as_str().unwrap().to_owned();
    assert_eq!(
        google.session_status(&access, &session).await.status(),
        200,
        "the session is open while the user picks"
    );

    let pid = run.child.id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let (status, stdout, stderr) = run.finish().await;
    assert_eq!(status.code(), Some(130), "{stdout}\n{stderr}");
    assert!(stdout.contains("Session deleted."), "{stdout}\n{stderr}");
    let res = google.session_status(&access, &session).await;
    assert_google_error(res, 404, "NOT_FOUND").await;
    assert!(saved_files(&out).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_tools_token_json_is_imported_without_a_new_consent() {
    let helper = HelperProcess::start_demo(None, &QUICK).unwrap();
    let google = Google::of(&helper).await;
    let dir = tempfile::tempdir().unwrap();
    let (out, token) = (
        dir.path().join("photos"),
        dir.path().join("keepsake-token.json"),
    );

    // google-auth's Credentials.to_json(), expired an hour ago: the import must
    // refresh it.
    let (refresh, access) = google.refresh_token_by_hand().await;
    let python = dir.path().join("token.json");
    let expired = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    let python_json = serde_json::json!({
        "token": access,
        "refresh_token": refresh,
        "token_uri": google.config.oauth.token_url,
        "client_id": google.config.oauth.client_id,
        "client_secret": emulator::config::DEMO_CLIENT_SECRET,
        "scopes": [picker::SCOPE],
        "universe_domain": "googleapis.com",
        "account": "",
        "expiry": format!("{}.000000Z", expired.strftime("%Y-%m-%dT%H:%M:%S")),
    });
    std::fs::write(&python, python_json.to_string()).unwrap();

    let import = python.to_str().unwrap().to_owned();
    let mut run = PickRun::start(
        &helper,
        &out,
        &token,
        &["--import-token", &import, "--artist", "Ada Lovelace"],
    );
    let (_, picked) = run.sign_in_and_pick(&google, everything).await;
    let (status, stdout, stderr) = run.finish().await;
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    assert!(
        !stdout.contains(&google.config.oauth.auth_url),
        "no consent page: {stdout}"
    );
    assert_eq!(saved_files(&out).len(), picked.len());
    let kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&token).unwrap()).unwrap();
    assert_eq!(kept["refresh_token"], refresh.as_str());

    // `helper logout` revokes the grant and deletes the file.
    let logout = std::process::Command::new(helper_binary().unwrap())
        .args(["logout", "--server", &helper.base_url, "--token-file"])
        .arg(&token)
        .output()
        .unwrap();
    assert!(logout.status.success(), "{logout:?}");
    assert!(!token.exists(), "the token file is gone");
    assert!(
        !google.refresh_works(&refresh).await,
        "the refresh token was revoked"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_video_still_processing_fails_with_its_reason_and_the_run_exits_non_zero() {
    let helper = HelperProcess::start_demo(None, &["--demo-large-files", "0"]).unwrap();
    let google = Google::of(&helper).await;
    let dir = tempfile::tempdir().unwrap();
    let (out, token) = (dir.path().join("photos"), dir.path().join("token.json"));

    let mut run = PickRun::start(&helper, &out, &token, &[]);
    let (_, picked) = run
        .sign_in_and_pick(&google, |title| title.contains("PROCESSING"))
        .await;
    assert_eq!(picked.len(), 1);
    let (status, stdout, stderr) = run.finish().await;
    assert_eq!(status.code(), Some(1), "{stdout}\n{stderr}");
    assert_eq!(summary(&stdout), (0, 0, 0, 1), "{stdout}");
    assert!(
        stdout.contains("Google is still processing this video"),
        "the reason is given: {stdout}"
    );
    assert!(stdout.contains("Session deleted."), "{stdout}");
    assert!(saved_files(&out).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_base_urls_are_listed_again_and_every_item_is_saved() {
    // Download links live 1 s and every body trickles at 256 KiB/s: most links
    // have expired (403) by the time their download starts.
    let mut flags = QUICK.to_vec();
    flags.extend([
        "--demo-base-url-lifetime",
        "1s",
        "--demo-fault-slow-bodies",
        "1",
        "--demo-fault-slow-speed",
        "256K",
    ]);
    let helper = HelperProcess::start_demo(None, &flags).unwrap();
    let google = Google::of(&helper).await;
    let dir = tempfile::tempdir().unwrap();
    let (out, token) = (dir.path().join("photos"), dir.path().join("token.json"));

    let mut run = PickRun::start(&helper, &out, &token, &[]);
    let (_, picked) = run.sign_in_and_pick(&google, everything).await;
    let (status, stdout, stderr) = run.finish().await;
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    assert_eq!(summary(&stdout).3, 0, "{stdout}");
    assert_eq!(saved_files(&out).len(), picked.len());
}

/// A saved sign-in Google no longer takes (revoked, or 7 days old in "Testing")
/// leads to a new consent, not to a failed run.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_saved_sign_in_asks_for_consent_again() {
    let helper = HelperProcess::start_demo(None, &QUICK).unwrap();
    let google = Google::of(&helper).await;
    let dir = tempfile::tempdir().unwrap();
    let (out, token) = (dir.path().join("photos"), dir.path().join("token.json"));
    let stale = serde_json::json!({
        "refresh_token": "1//0revoked-long-ago",
        "token_uri": google.config.oauth.token_url,
        "client_id": google.config.oauth.client_id,
        "client_secret": emulator::config::DEMO_CLIENT_SECRET,
        "scopes": [picker::SCOPE],
    });
    std::fs::write(&token, stale.to_string()).unwrap();

    let mut run = PickRun::start(&helper, &out, &token, &[]);
    let consent = run
        .line("a new consent URL", |l| {
            l.starts_with(&google.config.oauth.auth_url)
        })
        .await;
    google.consent(&consent).await;
    let (_, picked) = run.sign_in_and_pick(&google, everything).await;
    let (status, stdout, stderr) = run.finish().await;
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    assert_eq!(saved_files(&out).len(), picked.len());
    let kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&token).unwrap()).unwrap();
    assert_ne!(kept["refresh_token"], "1//0revoked-long-ago");
}

/// The original Python tool's workflow with Google's own, unmodified libraries
/// (google-auth-oauthlib's `InstalledAppFlow`, google-api-python-client built from
/// the emulator's discovery document, the tool's own request ids), every response
/// checked against Google's documented fields and formats
/// (`tests/python/original_tool_workflow.py`). Then the `token.json` files it leaves
/// are imported as its users would: fresh, expired (refreshed first), and revoked:
/// refused with one clear error, the saved sign-in left as it was.
#[tokio::test(flavor = "multi_thread")]
async fn the_original_tools_workflow_on_googles_python_libraries_and_its_token_files() {
    let python = keepsake_tests::workspace_root().join("target/python-venv/bin/python");
    if !python.exists() {
        skip_or_fail(
            "KEEPSAKE_REQUIRE_PYTHON",
            "Google's Python libraries are not installed: run ./scripts/setup",
        );
        return;
    }
    let helper = HelperProcess::start_demo(None, &QUICK).unwrap();
    let google = Google::of(&helper).await;
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("python");
    let script = keepsake_tests::workspace_root().join("tests/python/original_tool_workflow.py");
    let run = tokio::task::spawn_blocking({
        let (python, base, tokens) = (python.clone(), helper.base_url.clone(), tokens.clone());
        let client_id = google.config.oauth.client_id.clone();
        move || {
            std::process::Command::new(python)
                .arg(script)
                .args([
                    "--base",
                    &base,
                    "--client-id",
                    &client_id,
                    "--client-secret",
                ])
                .arg(emulator::config::DEMO_CLIENT_SECRET)
                .arg("--out")
                .arg(tokens)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "the workflow failed:\n{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(summary["ok"], true, "{summary:#}");
    assert_eq!(summary["discovery_source"], "served", "{summary:#}");
    assert!(
        summary["downloaded_files"].as_u64().unwrap() > 0
            && summary["checks_run"].as_u64().unwrap() > 100,
        "{summary:#}"
    );

    // Fresh: imported without a consent, the run saves what is picked.
    let (out, token) = (
        dir.path().join("photos"),
        dir.path().join("keepsake-token.json"),
    );
    // One photo per run: the first JPEG the picker page lists.
    let one_photo = || {
        let taken = std::cell::Cell::new(false);
        move |title: &str| {
            // Titles are "NAME — ODDITY".
            let name = title.split(" — ").next().unwrap_or(title);
            let photo = name.to_ascii_lowercase().ends_with(".jpg");
            let take = photo && !taken.get();
            taken.set(taken.get() || take);
            take
        }
    };
    for file in ["token.json", "token-expired.json"] {
        let import = tokens.join(file).to_str().unwrap().to_owned();
        let mut run = PickRun::start(
            &helper,
            &out,
            &token,
            &["--import-token", &import, "--max-items", "1"],
        );
        let (_, picked) = run.sign_in_and_pick(&google, one_photo()).await;
        let (status, stdout, stderr) = run.finish().await;
        assert!(status.success(), "{file}: {status}\n{stdout}\n{stderr}");
        assert!(
            !stdout.contains(&google.config.oauth.auth_url),
            "{file}: no consent page: {stdout}"
        );
        assert!(!picked.is_empty(), "{file}");
    }
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tokens.join("token.json")).unwrap()).unwrap();
    let kept_before = std::fs::read(&token).unwrap();
    let kept: serde_json::Value = serde_json::from_slice(&kept_before).unwrap();
    assert_eq!(kept["refresh_token"], original["refresh_token"]);

    // Revoked (its access token not yet expired): refused before anything is
    // replaced, in one clear error, and the saved sign-in still works.
    let revoked = tokens.join("token-revoked.json");
    let run = std::process::Command::new(helper_binary().unwrap())
        .args([
            "pick",
            "--server",
            &helper.base_url,
            "--no-browser",
            "--out",
        ])
        .arg(&out)
        .arg("--token-file")
        .arg(&token)
        .arg("--import-token")
        .arg(&revoked)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
    );
    assert!(!run.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains("Signed in"), "{stdout}");
    assert!(
        stderr.contains("cannot sign in")
            && stderr.contains("7 days")
            && stderr.contains("is unchanged"),
        "{stderr}"
    );
    assert!(
        !stdout.contains("Picking session"),
        "no session was created: {stdout}"
    );
    assert_eq!(
        std::fs::read(&token).unwrap(),
        kept_before,
        "the saved sign-in is untouched"
    );
    let mut run = PickRun::start(&helper, &out, &token, &["--max-items", "1"]);
    let (_, picked) = run.sign_in_and_pick(&google, one_photo()).await;
    let (status, stdout, stderr) = run.finish().await;
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    assert!(!stdout.contains(&google.config.oauth.auth_url), "{stdout}");
    assert!(!picked.is_empty());
}

/// Google does not promise `createTime`. Listed without it, every item is still
/// saved, dated by the file's own metadata when it has some (and filed under
/// `unknown-date/` when not), and each line says which.
#[tokio::test(flavor = "multi_thread")]
async fn items_without_create_time_are_dated_by_their_own_metadata_and_say_so() {
    let mut flags = QUICK.to_vec();
    flags.extend(["--demo-fault-no-create-time", "1"]);
    let helper = HelperProcess::start_demo(None, &flags).unwrap();
    let google = Google::of(&helper).await;
    let dir = tempfile::tempdir().unwrap();
    let (out, token) = (dir.path().join("photos"), dir.path().join("token.json"));
    let mut run = PickRun::start(&helper, &out, &token, &[]);
    let (_, picked) = run.sign_in_and_pick(&google, everything).await;
    let (status, stdout, stderr) = run.finish().await;
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    assert_eq!(summary(&stdout).3, 0, "nothing failed: {stdout}");
    assert_eq!(saved_files(&out).len(), picked.len());
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("  fixed") || l.starts_with("  saved"))
        .collect();
    assert_eq!(lines.len(), picked.len(), "{stdout}");
    let own = lines
        .iter()
        .filter(|l| l.contains("Google sent no date: the file's own"))
        .count();
    let none = lines
        .iter()
        .filter(|l| l.contains("unknown-date/") && l.contains("no capture date"))
        .count();
    assert_eq!(
        own + none,
        lines.len(),
        "every line says where its date came from: {stdout}"
    );
    assert!(own > 0, "most demo photos carry their own date: {stdout}");
}

/// A consent with the photos box unticked gives a code whose token cannot pick:
/// `helper pick` says so and saves no sign-in, instead of failing later.
#[tokio::test(flavor = "multi_thread")]
async fn a_sign_in_without_the_photos_permission_is_refused_with_the_reason() {
    let helper = HelperProcess::start_demo(None, &QUICK).unwrap();
    let google = Google::of(&helper).await;
    let dir = tempfile::tempdir().unwrap();
    let (out, token) = (dir.path().join("photos"), dir.path().join("token.json"));
    let mut run = PickRun::start(&helper, &out, &token, &[]);
    let auth_url = google.config.oauth.auth_url.clone();
    let consent = run
        .line("the consent URL", |l| l.starts_with(&auth_url))
        .await;
    let location = google.answer_consent(&consent, MARIA, false).await;
    let res = google.http.get(&location).send().await.unwrap();
    assert_eq!(res.status(), 200, "helper pick's listener took the code");
    let (status, stdout, stderr) = run.finish().await;
    assert!(!status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("did not allow access to the photos you pick"),
        "{stderr}"
    );
    assert!(!token.exists(), "no useless sign-in is kept");
}

/// `--max-items` over Google's 2000 per session is refused with the reason.
#[test]
fn more_than_2000_items_is_refused_with_the_reason() {
    let run = std::process::Command::new(helper_binary().unwrap())
        .args([
            "pick",
            "--max-items",
            "2001",
            "--server",
            "http://127.0.0.1:9",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(
        stderr.contains("at most 2000 items per session"),
        "{stderr}"
    );
}

/// A process's resident memory now (`VmRSS`), in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The benchmark of issue 16: `helper pick` of two large videos (2 GiB each, unless
/// `KEEPSAKE_BENCH_VIDEO_SIZE` says otherwise) four at a time, through the demo's
/// redirecting, Range-ignoring video host: both saved, and `helper pick`'s resident
/// memory sampled all along. Run by `scripts/bench-native` against release builds.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: scripts/bench-native runs it against a release helper"]
async fn bench_pick_of_two_large_videos() {
    let size = std::env::var("KEEPSAKE_BENCH_VIDEO_SIZE").unwrap_or_else(|_| "2G".to_owned());
    let helper = HelperProcess::start_demo(
        None,
        &[
            "--demo-large-files",
            "2",
            "--demo-large-file-size",
            &size,
            "--demo-no-processing-video",
        ],
    )
    .unwrap();
    let google = Google::of(&helper).await;
    let out = tempfile::tempdir().unwrap();
    let token = out.path().join("token.json");
    let mut run = PickRun::start(&helper, &out.path().join("photos"), &token, &["-j", "4"]);
    let pid = run.pid();
    let (_, picked) = run
        .sign_in_and_pick(&google, |title| title.contains("large MP4"))
        .await;
    assert_eq!(picked.len(), 2);
    let started = std::time::Instant::now();
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            let mut peak = 0u64;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(kib) = rss_kib(pid) {
                    peak = peak.max(kib);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        })
    };
    let (status, stdout, stderr) = run.finish().await;
    let took = started.elapsed();
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.join().unwrap();
    assert!(status.success(), "{stdout}\n{stderr}");
    let saved: Vec<PathBuf> = keepsake_tests::walk_files(&out.path().join("photos"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "mp4"))
        .collect();
    assert_eq!(saved.len(), 2, "{stdout}");
    let bytes: u64 = saved
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    println!(
        "bench-native: helper pick of two {size} videos at -j 4: {:.1} s from Done ({:.0} MB/s), \
         peak RSS {:.1} MiB (VmRSS sampled every 20 ms)",
        took.as_secs_f64(),
        bytes as f64 / 1e6 / took.as_secs_f64(),
        peak as f64 / 1024.0
    );
    for path in &saved {
        if which("exiftool").is_some() {
            let meta = exiftool_json(path).unwrap();
            println!(
                "  {}: CreateDate {} (ExifTool)",
                path.display(),
                meta["QuickTime:CreateDate"]
            );
            assert_ne!(meta["QuickTime:CreateDate"], "0000:00:00 00:00:00");
        }
    }
}
