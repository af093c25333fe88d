//! Support code shared by Keepsake's integration tests: start the real `helper`
//! binary on port 0, start ChromeDriver and a headless Chromium, find the built
//! app, and say clearly when a tool is missing.
//!
//! Tests that need Chromium or ExifTool skip (printing why) when the tool is not
//! installed — unless `KEEPSAKE_REQUIRE_BROWSER=1` / `KEEPSAKE_REQUIRE_EXIFTOOL=1`
//! is set, as `scripts/test` (and so CI) does, in which case they fail.
//!
//! [`emulator_client`] is the plain-HTTP client of the Google emulator that every
//! test talking to the emulator uses.

pub mod emulator_client;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;

/// The repository root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits inside the workspace")
        .to_owned()
}

/// Cargo's target folder for this workspace.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Whether a missing tool must fail the test rather than skip it.
fn required(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == "1")
}

/// Says why a test is skipped — or panics when the tool is required.
pub fn skip_or_fail(require_var: &str, why: &str) {
    if required(require_var) {
        panic!("{why} (and {require_var}=1 demands it)");
    }
    eprintln!("SKIPPED: {why}");
}

/// An IPv4 address of this machine other than loopback (the one it would reach
/// the network from), if it has one. Connecting a UDP socket sends nothing.
pub fn network_address() -> Option<std::net::IpAddr> {
    ["192.0.2.1:9", "10.0.0.1:9", "8.8.8.8:53"]
        .iter()
        .find_map(|peer| {
            let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
            socket.connect(peer).ok()?;
            let ip = socket.local_addr().ok()?.ip();
            (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
        })
}

/// Path of an installed program, if any.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    })
}

/// The built app: `KEEPSAKE_DIST`, else `<root>/dist`, if it holds an `index.html`.
pub fn dist_dir() -> Option<PathBuf> {
    let dist = std::env::var_os("KEEPSAKE_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("dist"));
    dist.join("index.html").is_file().then_some(dist)
}

/// [`dist_dir`] for a browser test: `None` after saying why it is missing (which
/// fails the test where `KEEPSAKE_REQUIRE_BROWSER` is set, as in CI).
pub fn built_app() -> Option<PathBuf> {
    let dist = dist_dir();
    if dist.is_none() {
        skip_or_fail(
            "KEEPSAKE_REQUIRE_BROWSER",
            "no built app: run ./scripts/build-app or set KEEPSAKE_DIST",
        );
    }
    dist
}

/// Builds the `helper` binary once per test process and returns its path; or the
/// binary `KEEPSAKE_HELPER` names (a benchmark's release build), as it is.
pub fn helper_binary() -> anyhow::Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            if let Some(given) = std::env::var_os("KEEPSAKE_HELPER") {
                let given = PathBuf::from(given);
                return if given.is_file() {
                    Ok(given)
                } else {
                    Err(format!("KEEPSAKE_HELPER: no binary at {}", given.display()))
                };
            }
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let status = Command::new(cargo)
                .args(["build", "--quiet", "-p", "helper", "--bin", "helper"])
                .current_dir(workspace_root())
                .status()
                .map_err(|err| format!("running cargo build: {err}"))?;
            if !status.success() {
                return Err(format!("cargo build -p helper failed: {status}"));
            }
            let binary = target_dir().join("debug").join("helper");
            if binary.is_file() {
                Ok(binary)
            } else {
                Err(format!("no helper binary at {}", binary.display()))
            }
        })
        .clone()
        .map_err(anyhow::Error::msg)
}

/// `helper member add NAME --artist ARTIST --config FILE`, the passphrase on stdin
/// (as a script would): adds a family member to a helper's configuration file.
pub fn add_member(config: &Path, name: &str, passphrase: &str, artist: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut child = Command::new(helper_binary()?)
        .args(["member", "add", name, "--artist", artist, "--config"])
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting helper member add")?;
    writeln!(child.stdin.take().context("stdin")?, "{passphrase}")?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "helper member add {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A running `helper serve`, killed on drop.
pub struct HelperProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The library folder it saves into.
    pub library: tempfile::TempDir,
}

impl HelperProcess {
    /// Starts `helper serve --demo --listen 127.0.0.1:0` with `extra` arguments,
    /// and waits for its `listening on …` line.
    pub fn start_demo(dist: Option<&Path>, extra: &[&str]) -> anyhow::Result<Self> {
        Self::start_demo_in(tempfile::tempdir()?, dist, extra)
    }

    /// [`HelperProcess::start_demo`] on an existing library folder (to restart a
    /// helper on the library a previous one left).
    pub fn start_demo_in(
        library: tempfile::TempDir,
        dist: Option<&Path>,
        extra: &[&str],
    ) -> anyhow::Result<Self> {
        Self::start_demo_at("127.0.0.1:0", library, dist, extra)
    }

    /// [`HelperProcess::start_demo`] listening on `listen` (an address of this
    /// machine other than loopback, say).
    pub fn start_demo_on(
        listen: &str,
        dist: Option<&Path>,
        extra: &[&str],
    ) -> anyhow::Result<Self> {
        Self::start_demo_at(listen, tempfile::tempdir()?, dist, extra)
    }

    /// Kills the helper (`kill -9`: no graceful shutdown) and starts it again on
    /// the same address and library folder with `extra` arguments, as a home
    /// server's helper comes back after a crash or an update. The demo Google's
    /// state lives in the library folder, so sessions and tokens survive.
    pub fn restart(self, dist: Option<&Path>, extra: &[&str]) -> anyhow::Result<Self> {
        let listen = self
            .base_url
            .strip_prefix("http://")
            .context("a plain-HTTP helper")?
            .to_owned();
        let library = self.stop();
        Self::start_demo_at(&listen, library, dist, extra)
    }

    /// [`HelperProcess::start_demo`] under a soft open-file limit of `soft` (the
    /// 1024 a systemd service starts with), set by the shell that `exec`s it.
    #[cfg(unix)]
    pub fn start_demo_with_open_files(soft: u64, extra: &[&str]) -> anyhow::Result<Self> {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -S -n {soft} && exec \"$0\" \"$@\""))
            .arg(helper_binary()?);
        Self::spawn_demo(command, "127.0.0.1:0", tempfile::tempdir()?, None, extra)
    }

    fn start_demo_at(
        listen: &str,
        library: tempfile::TempDir,
        dist: Option<&Path>,
        extra: &[&str],
    ) -> anyhow::Result<Self> {
        Self::spawn_demo(Command::new(helper_binary()?), listen, library, dist, extra)
    }

    /// Runs `command` (the helper, or what `exec`s it) with `serve --demo …`.
    fn spawn_demo(
        command: Command,
        listen: &str,
        library: tempfile::TempDir,
        dist: Option<&Path>,
        extra: &[&str],
    ) -> anyhow::Result<Self> {
        let extra: Vec<&str> = ["--demo"]
            .into_iter()
            .chain(extra.iter().copied())
            .collect();
        Self::spawn(command, listen, library, dist, &extra)
    }

    /// The helper binary copied alone into an empty folder and started there as
    /// `helper serve --demo` with no `--dist`: what a home server gets from a
    /// release archive. Returns the helper and the folder (only the binary in it).
    pub fn start_demo_alone(extra: &[&str]) -> anyhow::Result<(Self, tempfile::TempDir)> {
        let folder = tempfile::tempdir()?;
        let copy = folder.path().join("helper");
        std::fs::copy(helper_binary()?, &copy)?;
        let library = tempfile::tempdir()?;
        let mut command = Command::new(&copy);
        command
            .current_dir(folder.path())
            .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--library"])
            .arg(library.path())
            .args(extra)
            .env(
                "RUST_LOG",
                std::env::var("KEEPSAKE_HELPER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().context("starting the copied helper")?;
        let stdout = child.stdout.take().context("helper stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let base_url = line
            .trim()
            .strip_prefix("listening on ")
            .with_context(|| format!("unexpected first line from helper: {line:?}"))?
            .to_owned();
        Ok((
            HelperProcess {
                child,
                base_url,
                library,
            },
            folder,
        ))
    }

    /// `helper serve` for real Google (no emulator: nothing is asked of Google
    /// until a browser signs in) on `listen`, with `extra` flags (`--client-id` …).
    pub fn start_google(listen: &str, dist: Option<&Path>, extra: &[&str]) -> anyhow::Result<Self> {
        Self::spawn(
            Command::new(helper_binary()?),
            listen,
            tempfile::tempdir()?,
            dist,
            extra,
        )
    }

    /// Runs `command` with `serve --listen LISTEN --library … --dist … EXTRA…` and
    /// reads the address it prints.
    fn spawn(
        mut command: Command,
        listen: &str,
        library: tempfile::TempDir,
        dist: Option<&Path>,
        extra: &[&str],
    ) -> anyhow::Result<Self> {
        command
            .args(["serve", "--listen", listen, "--library"])
            .arg(library.path())
            .arg("--dist")
            .arg(dist.map_or_else(|| library.path().join("no-app"), Path::to_owned))
            .args(extra)
            // `KEEPSAKE_HELPER_LOG=helper=debug` shows a helper's own log in a test.
            .env(
                "RUST_LOG",
                std::env::var("KEEPSAKE_HELPER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().context("starting helper")?;
        let stdout = child.stdout.take().context("helper stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .context("reading helper's first line")?;
        let base_url = line
            .trim()
            .strip_prefix("listening on ")
            .with_context(|| format!("unexpected first line from helper: {line:?}"))?
            .to_owned();
        Ok(HelperProcess {
            child,
            base_url,
            library,
        })
    }
}

impl HelperProcess {
    /// The helper's process id (to read its memory from `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The names of the files saved in its library folder, at any depth: none of
    /// the helper's own (`.keepsake…` files and folders: index, lock, uploads).
    pub fn saved_files(&self) -> Vec<String> {
        let root = self.library.path();
        walk_files(root)
            .into_iter()
            .filter(|p| {
                !p.strip_prefix(root)
                    .unwrap_or(p)
                    .components()
                    .any(|c| c.as_os_str().to_string_lossy().starts_with(".keepsake"))
            })
            .filter_map(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
            .collect()
    }

    /// Asserts the library holds `count` saved files, none a `name (2).jpg`: one
    /// file per item, nothing saved twice.
    pub fn assert_one_file_each(&self, count: usize) {
        let files = self.saved_files();
        assert_eq!(files.len(), count, "files in the library: {files:?}");
        assert!(
            files.iter().all(|name| !name.contains(" (")),
            "a duplicate file name: {files:?}"
        );
    }

    /// Stops the helper and hands back its library folder (for a restart).
    pub fn stop(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let empty = tempfile::tempdir().expect("a temporary folder");
        std::mem::replace(&mut self.library, empty)
    }
}

impl Drop for HelperProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port on loopback (for programs that cannot bind port 0 themselves
/// and report it, like ChromeDriver).
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A running ChromeDriver, killed on drop.
struct ChromeDriver {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    url: String,
}

impl ChromeDriver {
    /// Starts ChromeDriver on a free port and polls until it answers.
    fn start(binary: &Path) -> anyhow::Result<Self> {
        let port = free_port()?;
        let mut command = Command::new(binary);
        command
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group, which the Chromium it starts joins: dropping the
        // driver ends the browser too, even when a test failed before closing it.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().context("starting chromedriver")?;
        let driver = ChromeDriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(driver);
            }
            if Instant::now() > deadline {
                bail!("chromedriver did not start listening within 30 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The whole group: ChromeDriver and the browser it started.
        #[cfg(unix)]
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// WebDriver capabilities for headless Chromium on this kind of machine (as root,
/// no network beyond loopback). `download_dir` receives downloads.
fn chrome_capabilities(
    user_data_dir: &Path,
    download_dir: &Path,
    look: Look,
) -> serde_json::Map<String, serde_json::Value> {
    let chromium = which("chromium").unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let options = serde_json::json!({
        "binary": chromium,
        "args": [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            // Memory figures a test can trust: `performance.memory` exact, and
            // `gc()` to collect before reading it.
            "--enable-precise-memory-info",
            "--js-flags=--expose-gc",
            format!("--window-size={},{}", look.width, look.height),
            // The system's colour scheme as the page sees it (`prefers-color-scheme`).
            if look.dark { "--force-dark-mode" } else { "--no-first-run" },
            format!("--user-data-dir={}", user_data_dir.display()),
        ],
        "prefs": {
            "download.default_directory": download_dir,
            "download.prompt_for_download": false,
        },
    });
    let mut options = options;
    if look.width < 500 {
        // Chromium's windows are at least 500 px wide: a phone's viewport is emulated.
        options["mobileEmulation"] = serde_json::json!({
            "deviceMetrics": { "width": look.width, "height": look.height, "pixelRatio": 1 },
        });
    }
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "chrome".into());
    // The tests' https helpers have self-signed certificates.
    caps.insert("acceptInsecureCerts".into(), true.into());
    caps.insert("goog:chromeOptions".into(), options);
    caps
}

/// ExifTool's view of a file: every tag (`-j -a -G1 -all`; `-validate` alone would ask for its verdict only) plus its `-validate` verdict and warnings.
pub fn exiftool_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    let output = Command::new("exiftool")
        .args(["-j", "-a", "-G1", "-all", "-validate"])
        .arg(path)
        .output()
        .context("running exiftool")?;
    let mut all: serde_json::Value = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("exiftool output for {}", path.display()))?;
    Ok(all
        .get_mut(0)
        .map(serde_json::Value::take)
        .unwrap_or_default())
}

/// How long a browser test waits for one step before it fails.
pub const BROWSER_STEP: Duration = Duration::from_secs(60);

/// How the browser window looks to the page: its size and the system's colour
/// scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    /// Window width in CSS pixels.
    pub width: u32,
    /// Window height in CSS pixels.
    pub height: u32,
    /// `prefers-color-scheme: dark`.
    pub dark: bool,
}

impl Look {
    /// A laptop's window, light scheme (what most tests use).
    pub const DESKTOP: Look = Look {
        width: 1280,
        height: 900,
        dark: false,
    };
    /// A 390 px wide phone (an iPhone 12–15), light scheme.
    pub const PHONE: Look = Look {
        width: 390,
        height: 844,
        dark: false,
    };

    /// The same size in the dark scheme.
    pub const fn dark(self) -> Look {
        Look { dark: true, ..self }
    }

    /// A name for screenshot folders: `390-dark`.
    pub fn name(&self) -> String {
        format!(
            "{}-{}",
            self.width,
            if self.dark { "dark" } else { "light" }
        )
    }
}

/// A headless Chromium driven through its own ChromeDriver, with a fresh profile.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    _driver: ChromeDriver,
    _profile: tempfile::TempDir,
    /// Where downloads land.
    pub downloads: tempfile::TempDir,
}

impl Browser {
    /// Starts ChromeDriver and Chromium; `None` (after saying why) when they are
    /// not installed and `KEEPSAKE_REQUIRE_BROWSER` does not demand them.
    pub async fn start() -> Option<Browser> {
        Self::start_with(Look::DESKTOP).await
    }

    /// [`Browser::start`] with a window size and colour scheme.
    pub async fn start_with(look: Look) -> Option<Browser> {
        let (Some(chromedriver), Some(_)) = (which("chromedriver"), which("chromium")) else {
            skip_or_fail(
                "KEEPSAKE_REQUIRE_BROWSER",
                "chromium and chromedriver are not installed",
            );
            return None;
        };
        let driver = ChromeDriver::start(&chromedriver).expect("starting chromedriver");
        let profile = tempfile::tempdir().expect("a temporary profile folder");
        let downloads = tempfile::tempdir().expect("a temporary download folder");
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(chrome_capabilities(profile.path(), downloads.path(), look))
            .connect(&driver.url)
            .await
            .expect("starting headless Chromium");
        Some(Browser {
            client,
            _driver: driver,
            _profile: profile,
            downloads,
        })
    }
}

/// Numbered screenshots of a test, in `target/e2e-screenshots/<test>/`.
pub struct Screenshots {
    dir: PathBuf,
    n: usize,
}

impl Screenshots {
    /// An empty folder for `test`'s screenshots.
    pub fn new(test: &str) -> Self {
        let dir = target_dir().join("e2e-screenshots").join(test);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating the screenshot folder");
        Screenshots { dir, n: 0 }
    }

    /// Scrolls the element `selector` matches into view, then takes a screenshot.
    pub async fn take_at(&mut self, client: &Client, selector: &str, step: &str) {
        client
            .execute(
                "document.querySelector(arguments[0])?.scrollIntoView({block: 'center'})",
                vec![serde_json::Value::from(selector)],
            )
            .await
            .expect("scrolling for a screenshot");
        self.take(client, step).await;
    }

    /// Saves what the browser shows as `NN-<step>.png`.
    pub async fn take(&mut self, client: &Client, step: &str) {
        self.n += 1;
        let png = client.screenshot().await.expect("taking a screenshot");
        std::fs::write(self.dir.join(format!("{:02}-{step}.png", self.n)), png)
            .expect("saving a screenshot");
    }
}

/// Polls `check` until it holds; panics after [`BROWSER_STEP`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + BROWSER_STEP;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {BROWSER_STEP:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for a window other than `current` to open and returns it.
pub async fn new_window(
    client: &Client,
    current: &fantoccini::wd::WindowHandle,
) -> fantoccini::wd::WindowHandle {
    let deadline = Instant::now() + BROWSER_STEP;
    loop {
        let windows = client.windows().await.unwrap_or_default();
        if let Some(window) = windows.into_iter().find(|w| w != current) {
            return window;
        }
        assert!(
            Instant::now() < deadline,
            "no new window opened within {BROWSER_STEP:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every file below `dir`, recursively.
pub fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("reading a test folder") {
        let path = entry.expect("reading a test folder").path();
        if path.is_dir() {
            out.extend(walk_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The real `trunk serve` (the README's developer loop) in front of a helper, run
/// from the repository's own `Trunk.toml` with only what a test must change: the
/// helper's address in each `[[proxy]]` backend, a free port, absolute paths and a
/// dist folder of its own. Every other setting (`no_redirect` above all) is the
/// file's. `--release --cargo-profile wasm-release` with `build-app`'s flags, so it
/// reuses the release build and adds seconds (wasm-bindgen, wasm-opt), not minutes.
/// Killed on drop.
pub struct TrunkServe {
    child: Child,
    /// `http://127.0.0.1:PORT`: where the browser goes.
    pub base_url: String,
    _dir: tempfile::TempDir,
}

impl TrunkServe {
    /// A free loopback port for trunk, which cannot report the one it bound to
    /// port 0: the helper is told this origin (as it knows trunk's :8081) before
    /// trunk starts.
    pub fn reserve_port() -> anyhow::Result<u16> {
        Ok(std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port())
    }

    /// Starts `trunk serve` on `port`, proxying to the helper at `helper`
    /// (`http://127.0.0.1:PORT`), and waits (up to 5 minutes: a cold build) until it
    /// serves the app. `None` when trunk is not installed.
    pub async fn start(port: u16, helper: &str) -> anyhow::Result<Option<Self>> {
        let Some(trunk) = which("trunk") else {
            return Ok(None);
        };
        helper::media_proxy::install_crypto_provider();
        let root = workspace_root();
        let mut config: toml::Table = std::fs::read_to_string(root.join("Trunk.toml"))?.parse()?;
        let dir = tempfile::tempdir()?;
        let text = |value: &Path| toml::Value::String(value.to_string_lossy().into_owned());
        let build = config
            .entry("build")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .context("[build] is a table")?;
        build.insert("target".into(), text(&root.join("index.html")));
        build.insert("dist".into(), text(&dir.path().join("dist")));
        config.insert(
            "watch".into(),
            toml::Value::Table(toml::Table::from_iter([(
                "watch".to_owned(),
                toml::Value::Array(vec![text(&root.join("index.html"))]),
            )])),
        );
        config
            .get_mut("serve")
            .and_then(toml::Value::as_table_mut)
            .context("Trunk.toml has a [serve] table")?
            .insert("port".into(), toml::Value::Integer(i64::from(port)));
        let proxies = config
            .get_mut("proxy")
            .and_then(toml::Value::as_array_mut)
            .context("Trunk.toml has [[proxy]] entries")?;
        for proxy in proxies {
            let proxy = proxy.as_table_mut().context("a [[proxy]] is a table")?;
            let backend = proxy
                .get("backend")
                .and_then(toml::Value::as_str)
                .context("a [[proxy]] has a backend")?;
            let path = backend
                .strip_prefix("http://127.0.0.1:8080")
                .with_context(|| format!("a backend on the helper's default address: {backend}"))?;
            let moved = format!("{}{path}", helper.trim_end_matches('/'));
            proxy.insert("backend".into(), toml::Value::String(moved));
        }
        let file = dir.path().join("Trunk.toml");
        std::fs::write(&file, toml::to_string(&config)?)?;
        let child = Command::new(trunk)
            .arg("serve")
            .arg("--config")
            .arg(&file)
            .args([
                "--release",
                "--cargo-profile",
                "wasm-release",
                "--offline",
                "--skip-version-check",
                "--no-autoreload",
            ])
            .current_dir(&root)
            // What scripts/build-app builds with: anything else rebuilds the app.
            .env("RUSTFLAGS", "--cfg erase_components")
            .env("TRUNK_OFFLINE", "true")
            .env("TRUNK_SKIP_VERSION_CHECK", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting trunk serve")?;
        let mut trunk = TrunkServe {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(300);
        loop {
            if let Some(status) = trunk.child.try_wait()? {
                bail!("trunk serve exited ({status}) before serving");
            }
            let answer = reqwest::get(format!("{}/", trunk.base_url)).await;
            if answer.is_ok_and(|a| a.status().is_success()) {
                return Ok(Some(trunk));
            }
            if std::time::Instant::now() > deadline {
                bail!("trunk serve did not serve the app within 5 minutes");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for TrunkServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP relay on loopback port 0 in front of `target` that counts the bytes it
/// carries each way: what crosses the network between a browser and the helper,
/// measured from outside both.
pub struct CountingRelay {
    /// `http://127.0.0.1:PORT`: where the browser goes.
    pub base_url: String,
    to_target: std::sync::Arc<std::sync::atomic::AtomicU64>,
    from_target: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingRelay {
    /// Relays every connection to `target` (`127.0.0.1:PORT`).
    pub async fn start(target: std::net::SocketAddr) -> anyhow::Result<Self> {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU64, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let (to_target, from_target) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (up, down) = (to_target.clone(), from_target.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (up, down) = (up.clone(), down.clone());
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    let pump = |mut from: tokio::net::tcp::OwnedReadHalf,
                                mut to: tokio::net::tcp::OwnedWriteHalf,
                                count: Arc<AtomicU64>| async move {
                        let mut buffer = vec![0u8; 64 * 1024];
                        loop {
                            match from.read(&mut buffer).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    count.fetch_add(n as u64, Ordering::Relaxed);
                                    if to.write_all(&buffer[..n]).await.is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                        let _ = to.shutdown().await;
                    };
                    tokio::join!(
                        pump(client_read, server_write, up),
                        pump(server_read, client_write, down),
                    );
                });
            }
        });
        Ok(CountingRelay {
            base_url,
            to_target,
            from_target,
            task,
        })
    }

    /// Bytes carried so far: (to the target, from the target).
    pub fn bytes(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering;
        (
            self.to_target.load(Ordering::Relaxed),
            self.from_target.load(Ordering::Relaxed),
        )
    }
}

impl Drop for CountingRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}
