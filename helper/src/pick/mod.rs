//! `helper pick` and `helper logout`: the original Python tool's terminal
//! workflow. Sign in once (installed-app OAuth, the token kept 0600), create a
//! Picker session, show its link (and a QR code for a phone), wait for the user to
//! pick, then save each item through the same pipeline as the browser app: the
//! helper's [`Fetcher`] downloads it to disk once, metafix plans the fix from the
//! ranges it reads of the download, and the [`Library`] applies the patch while
//! copying it to its final place — skipping items the folder already holds — and
//! print a summary. Memory stays small at any file size and any `-j`.
//!
//! `--server URL` points it at a running `helper serve --demo`, whose
//! `/api/config` names the emulator's endpoints: that is how it is tested.
//!
//! - [`oauth`]: the code flow with PKCE, the token file, refresh, revoke
//! - [`session`]: the Picker API calls
//!
//! The rules it shares with the app live in `picker`: retries ([`picker::retry`]),
//! paging ([`picker::Pages`]), `baseUrl` refresh ([`picker::UrlBook`]).

pub mod oauth;
pub mod session;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use api::{CaptureTime, ErrorKind, KeepRequest};
use futures_util::StreamExt as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use metafix::{FixOptions, ItemContext};
use picker::{
    Lookup, MediaSuffix, MediaType, PickedMediaItem, PickingSession, PollDecision, PollSchedule,
    UrlBook,
};

use crate::fetch::{Download, Fetched, Fetcher, State};
use crate::fix_files::FixOptionsArgs;
use crate::library::{Library, Owner};
use crate::media_proxy::{self, MediaHosts};
use oauth::{Auth, ClientCredentials, Endpoints, TokenError, TokenFile};
use session::PickerClient;

/// The most time spent deleting the session at the end.
const DELETE_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a media server may stay silent mid-body.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(60);

/// Exit code after Ctrl-C (128 + SIGINT), as shells report it.
const INTERRUPTED: u8 = 130;

/// Flags of `helper pick`.
#[derive(Debug, Clone, clap::Args)]
pub struct PickArgs {
    /// Folder to save into (`<YYYY>/<MM>/` below it, with its index); default: a
    /// `Keepsake` folder in your Pictures folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Most items you may pick in this session, up to Google's 2000 (the default).
    #[arg(long, value_name = "N", value_parser = max_items)]
    pub max_items: Option<i64>,

    /// A running `helper serve --demo` (e.g. http://127.0.0.1:8080): use its Google
    /// emulator instead of Google.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,

    /// Print the links only; do not open a browser.
    #[arg(long)]
    pub no_browser: bool,

    /// Google's client_secret.json of a "Desktop app" OAuth client; default:
    /// `client_secret.json` in Keepsake's config folder.
    #[arg(long, value_name = "FILE", env = "KEEPSAKE_CLIENT_SECRET")]
    pub client_secret: Option<PathBuf>,

    /// Where the sign-in (refresh token) is kept, 0600; default: `token.json` in
    /// Keepsake's config folder (`demo-token.json` with --server).
    #[arg(long, value_name = "FILE", env = "KEEPSAKE_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,

    /// Sign in with the original Python tool's token.json (no new consent).
    #[arg(long, value_name = "FILE")]
    pub import_token: Option<PathBuf>,

    /// Downloads at a time.
    #[arg(long, short = 'j', default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub jobs: u16,

    /// What to fix (the same options as `helper fix`).
    #[command(flatten)]
    pub fix: FixOptionsArgs,
}

/// Flags of `helper logout`.
#[derive(Debug, Clone, clap::Args)]
pub struct LogoutArgs {
    /// The `helper serve --demo` whose emulator issued the token.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,

    /// The token file to revoke and delete (default as for `helper pick`).
    #[arg(long, value_name = "FILE", env = "KEEPSAKE_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
}

/// `--max-items`: 1 to 2000, the most one Google picking session takes.
fn max_items(text: &str) -> Result<i64, String> {
    let n: i64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number"))?;
    match n {
        1..=picker::DEFAULT_MAX_ITEM_COUNT => Ok(n),
        ..=0 => Err("pick at least 1 item".to_owned()),
        _ => Err(format!(
            "Google's picker takes at most {} items per session; run `helper pick` again \
             for more (items already saved are skipped)",
            picker::DEFAULT_MAX_ITEM_COUNT
        )),
    }
}

/// Opens `url` in the user's browser; a failure is not an error (the link is
/// printed on its own line anyway).
pub(crate) fn open_in_browser(url: &str) {
    if let Err(err) = open::that_detached(url) {
        tracing::debug!("could not open a browser: {err}");
    }
}

/// Keepsake's config folder (`~/.config/keepsake` on Linux).
fn config_dir() -> anyhow::Result<PathBuf> {
    directories::ProjectDirs::from("", "", "keepsake")
        .map(|dirs| dirs.config_dir().to_owned())
        .context("no home folder to keep the sign-in in; pass --token-file and --client-secret")
}

fn token_path(explicit: Option<&Path>, server: Option<&str>) -> anyhow::Result<PathBuf> {
    match explicit {
        Some(path) => Ok(path.to_owned()),
        // The demo's tokens are kept apart, so trying the demo never replaces the
        // sign-in with Google.
        None if server.is_some() => Ok(config_dir()?.join("demo-token.json")),
        None => Ok(config_dir()?.join("token.json")),
    }
}

/// What `--server` said about itself.
#[derive(Debug, Clone)]
struct Server {
    mode: api::Mode,
    client_id: String,
}

/// The endpoints to use: Google's, or those `--server`'s `/api/config` names.
async fn endpoints(
    http: &reqwest::Client,
    server: Option<&str>,
) -> anyhow::Result<(Endpoints, Option<Server>)> {
    let Some(server) = server else {
        return Ok((Endpoints::google(), None));
    };
    let url = format!("{}{}", server.trim_end_matches('/'), api::routes::CONFIG);
    let config: api::ClientConfig = async {
        let res = http
            .get(&url)
            .timeout(Duration::from_secs(30))
            .send()
            .await?
            .error_for_status()?;
        res.json().await
    }
    .await
    .with_context(|| format!("reading {url}: is `helper serve --demo` running there?"))?;
    Ok((
        Endpoints {
            auth_url: config.oauth.auth_url,
            token_url: config.oauth.token_url,
            revoke_url: config.oauth.revoke_url,
            picker_api: config.picker_api,
        },
        Some(Server {
            mode: config.mode,
            client_id: config.oauth.client_id,
        }),
    ))
}

/// The OAuth client for a new consent: `--client-secret`, else the emulator's
/// published demo client, else `client_secret.json` in the config folder.
fn credentials(args: &PickArgs, server: Option<&Server>) -> anyhow::Result<ClientCredentials> {
    if let Some(path) = &args.client_secret {
        return oauth::read_client_secret(path);
    }
    if let Some(server) = server
        && server.mode == api::Mode::Demo
    {
        return demo_credentials(&server.client_id);
    }
    oauth::read_client_secret(&config_dir()?.join("client_secret.json"))
}

/// The emulator's demo client. Its secret is public (it is in the emulator's
/// source and guards nothing but a demo), so a demo run needs no file.
#[cfg(feature = "demo")]
fn demo_credentials(client_id: &str) -> anyhow::Result<ClientCredentials> {
    Ok(ClientCredentials {
        client_id: client_id.to_owned(),
        client_secret: emulator::config::DEMO_CLIENT_SECRET.to_owned(),
    })
}

#[cfg(not(feature = "demo"))]
fn demo_credentials(_client_id: &str) -> anyhow::Result<ClientCredentials> {
    bail!(
        "this helper was built without the demo: pass --client-secret with a client_secret.json \
         holding the emulator's client id and secret"
    )
}

/// Signs in: `--import-token`, else the saved token file (refreshed), else a new
/// consent in the browser.
async fn establish(
    http: &reqwest::Client,
    endpoints: &Endpoints,
    args: &PickArgs,
    server: Option<&Server>,
) -> anyhow::Result<Auth> {
    let path = token_path(args.token_file.as_deref(), args.server.as_deref())?;
    if let Some(import) = &args.import_token {
        let file = TokenFile::read(import)?;
        if file.token_uri != endpoints.token_url {
            bail!(
                "{} was issued by {}, but this run signs in at {}",
                import.display(),
                file.token_uri,
                endpoints.token_url
            );
        }
        // Checked before anything is replaced: a dead file must not cost the
        // saved sign-in.
        let kept = if path.exists() {
            format!("the saved sign-in in {} is unchanged", path.display())
        } else {
            "nothing was saved".to_owned()
        };
        let auth = Auth::import(http.clone(), path.clone(), file)
            .await
            .map_err(|err| anyhow::anyhow!("{} cannot sign in: {err}; {kept}", import.display()))?;
        println!(
            "Signed in with {} (no new consent needed); kept in {}",
            import.display(),
            path.display()
        );
        return Ok(auth);
    }
    if path.exists() {
        match TokenFile::read(&path) {
            Ok(file) if file.token_uri == endpoints.token_url => {
                let auth = Auth::new(http.clone(), path.clone(), file)?;
                match auth.bearer().await {
                    Ok(_) => return Ok(auth),
                    Err(TokenError::InvalidGrant(why)) => {
                        println!(
                            "The saved sign-in was refused ({why}): {}.",
                            oauth::TESTING_MODE_HINT
                        );
                    }
                    Err(err) => return Err(err.into()),
                }
            }
            Ok(file) => println!(
                "{} belongs to {}; signing in again for {}.",
                path.display(),
                file.token_uri,
                endpoints.token_url
            ),
            Err(err) => println!("{err:#}; signing in again."),
        }
    }
    let client = credentials(args, server)?;
    let file = oauth::sign_in(http, endpoints, &client, args.no_browser).await?;
    let auth = Auth::new(http.clone(), path.clone(), file)?;
    println!(
        "Signed in. The sign-in is kept in {} (`helper logout` removes it).",
        path.display()
    );
    Ok(auth)
}

/// The default `--out`: `~/Pictures/Keepsake`, else `./Keepsake`.
fn default_out() -> PathBuf {
    directories::UserDirs::new()
        .and_then(|dirs| dirs.picture_dir().map(|p| p.join("Keepsake")))
        .unwrap_or_else(|| PathBuf::from("Keepsake"))
}

fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(20))
        .user_agent(concat!("keepsake-helper/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client")
}

/// Runs `helper pick`.
pub fn run(args: PickArgs) -> anyhow::Result<ExitCode> {
    let options = args.fix.to_fix_options()?;
    let out = args.out.clone().unwrap_or_else(default_out);
    let library =
        Library::open(&out).with_context(|| format!("opening the folder {}", out.display()))?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(pick(args, options, library))
}

async fn pick(args: PickArgs, options: FixOptions, library: Library) -> anyhow::Result<ExitCode> {
    // One listener for the whole run, made first: a Ctrl-C between two waits is
    // kept for the next one instead of being lost.
    let mut interrupt = Interrupt::new()?;
    let http = http_client()?;
    let (endpoints, server) = endpoints(&http, args.server.as_deref()).await?;
    let auth = tokio::select! {
        auth = establish(&http, &endpoints, &args, server.as_ref()) => auth?,
        () = interrupt.recv() => {
            println!("Interrupted.");
            return Ok(ExitCode::from(INTERRUPTED));
        }
    };
    let client = PickerClient::new(&http, &endpoints.picker_api, &auth);
    let hosts = match &args.server {
        Some(server) => MediaHosts::DemoServer {
            origin: url::Url::parse(server).with_context(|| format!("--server {server}"))?,
        },
        None => MediaHosts::Google,
    };
    let fetcher = Fetcher::new(
        library.clone(),
        media_proxy::client(MEDIA_TIMEOUT)?,
        hosts,
        usize::from(args.jobs),
    );
    let session = client
        .create_session(args.max_items)
        .await
        .context("creating a picking session")?;
    let run = Run {
        client: &client,
        fetcher: &fetcher,
        library: &library,
        options: &options,
        jobs: usize::from(args.jobs),
        no_browser: args.no_browser,
    };
    // From here on the session exists at Google: whatever happens, it is deleted
    // (Google asks clients to, to stay within resource limits).
    let outcome = tokio::select! {
        outcome = run.pick_and_save(&session) => Some(outcome),
        () = interrupt.recv() => None,
    };
    let code = match outcome {
        None => {
            println!();
            println!("Interrupted: deleting the picking session.");
            Ok(ExitCode::from(INTERRUPTED))
        }
        Some(Ok(summary)) => Ok(if summary.failed > 0 {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }),
        Some(Err(err)) => Err(err),
    };
    // Bounded, and a (second) Ctrl-C gives up on it: whoever presses Ctrl-C wants
    // out, and an undeleted session expires on its own at Google.
    tokio::select! {
        deleted = tokio::time::timeout(DELETE_TIMEOUT, client.delete_session(&session.id)) => {
            match deleted {
                Ok(Ok(())) => println!("Session deleted."),
                Ok(Err(err)) => eprintln!("warning: could not delete the picking session: {err}"),
                Err(_) => eprintln!(
                    "warning: the picking session was not deleted within {}s; it expires on its own",
                    DELETE_TIMEOUT.as_secs()
                ),
            }
        }
        () = interrupt.recv() => eprintln!("warning: the picking session was not deleted; it expires on its own"),
    }
    if auth.refreshes() > 0 {
        println!(
            "The access token was renewed {} time(s) without asking you.",
            auth.refreshes()
        );
    }
    code
}

/// Ctrl-C (SIGINT) as a stream that remembers a signal until it is awaited.
struct Interrupt {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Interrupt {
    fn new() -> anyhow::Result<Self> {
        Ok(Interrupt {
            #[cfg(unix)]
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
                .context("listening for Ctrl-C")?,
        })
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        {
            if self.signal.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Everything one run shares.
struct Run<'a> {
    client: &'a PickerClient<'a>,
    fetcher: &'a Fetcher,
    library: &'a Library,
    options: &'a FixOptions,
    jobs: usize,
    no_browser: bool,
}

/// What happened to one picked item.
#[derive(Debug)]
enum Outcome {
    /// Saved with changes (metadata or file name); `repaired` when metafix had to
    /// repair broken metadata.
    Fixed { path: String, repaired: bool },
    /// Saved as Google sent it.
    Unchanged { path: String },
    /// Already in the folder.
    Skipped { path: String },
    /// Not saved.
    Failed(String),
}

/// The counts of a run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Saved with changes.
    pub fixed: usize,
    /// Of those, with repairs.
    pub repaired: usize,
    /// Saved as sent.
    pub unchanged: usize,
    /// Already in the folder.
    pub skipped: usize,
    /// Not saved.
    pub failed: usize,
}

/// The session's `baseUrl`s, refreshed by listing the session again (one listing
/// for every download that found its URL stale at the same time).
struct Urls<'a> {
    client: &'a PickerClient<'a>,
    session: &'a str,
    book: tokio::sync::Mutex<UrlBook>,
    started: Instant,
}

impl Urls<'_> {
    /// The URL of `item` and the listing it came from.
    async fn url(&self, item: &str) -> anyhow::Result<(String, u64)> {
        let mut book = self.book.lock().await;
        match book.lookup(item, self.started.elapsed()) {
            Lookup::Fresh { url, generation } => Ok((url, generation)),
            Lookup::Stale { generation } => {
                self.refresh(&mut book, generation).await?;
                match book.lookup(item, self.started.elapsed()) {
                    Lookup::Fresh { url, generation } => Ok((url, generation)),
                    Lookup::Stale { .. } => bail!("the item is no longer in the picking session"),
                }
            }
        }
    }

    /// Lists the session again, unless another download did since `seen`.
    async fn refresh(&self, book: &mut UrlBook, seen: u64) -> anyhow::Result<()> {
        if !book.needs_refresh(seen) {
            return Ok(());
        }
        let items = self
            .client
            .list_all(self.session)
            .await
            .context("listing the session again for fresh download links")?;
        book.refreshed(&items, self.started.elapsed());
        Ok(())
    }

    /// After a download was refused with the URL of listing `seen`.
    async fn refused(&self, seen: u64) -> anyhow::Result<()> {
        let mut book = self.book.lock().await;
        self.refresh(&mut book, seen).await
    }
}

impl Run<'_> {
    async fn pick_and_save(&self, session: &PickingSession) -> anyhow::Result<Summary> {
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "Picking session {}", session.id)?;
            writeln!(
                out,
                "Pick your photos in Google Photos, then press Done. Open this link (or scan the code with your phone):"
            )?;
            writeln!(out, "{}", session.picker_uri)?;
            if let Some(qr) = qr_code(&session.picker_uri) {
                writeln!(out, "{qr}")?;
            }
            out.flush()?;
        }
        if !self.no_browser {
            open_in_browser(&session.picker_uri);
        }
        let session = wait_for_picks(self.client, session).await?;
        let items = self
            .client
            .list_all(&session.id)
            .await
            .context("listing the picked items")?;
        println!(
            "{} item(s) picked; saving into {}",
            items.len(),
            self.library.root().display()
        );
        let bar = progress_bar();
        let urls = Urls {
            client: self.client,
            session: &session.id,
            book: tokio::sync::Mutex::new(UrlBook::new(&items, Duration::ZERO)),
            started: Instant::now(),
        };
        let batch: api::BatchId = format!("pick-{}", uuid::Uuid::new_v4().simple())
            .parse()
            .context("a batch id")?;
        let done = std::sync::atomic::AtomicUsize::new(0);
        let total = items.len();
        bar.set_message(format!("0/{total} items"));
        let outcomes: Vec<(&PickedMediaItem, Outcome)> = futures_util::stream::iter(&items)
            .map(|item| {
                let (urls, batch, bar, done) = (&urls, &batch, &bar, &done);
                async move {
                    let outcome = match self.save_one(urls, batch, item, bar).await {
                        Ok(outcome) => outcome,
                        Err(err) => Outcome::Failed(format!("{err:#}")),
                    };
                    let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    bar.set_message(format!("{n}/{total} items"));
                    // On stdout, above the bar (which draws on stderr): a log
                    // of what went where survives a redirect.
                    let line = describe(item, &outcome);
                    bar.suspend(|| println!("{line}"));
                    (item, outcome)
                }
            })
            .buffer_unordered(self.jobs)
            .collect()
            .await;
        bar.finish_and_clear();

        let mut summary = Summary::default();
        for (_, outcome) in &outcomes {
            match outcome {
                Outcome::Fixed { repaired, .. } => {
                    summary.fixed += 1;
                    summary.repaired += usize::from(*repaired);
                }
                Outcome::Unchanged { .. } => summary.unchanged += 1,
                Outcome::Skipped { .. } => summary.skipped += 1,
                Outcome::Failed(_) => summary.failed += 1,
            }
        }
        let failures: Vec<_> = outcomes
            .iter()
            .filter_map(|(item, outcome)| match outcome {
                Outcome::Failed(why) => Some((item, why)),
                _ => None,
            })
            .collect();
        if !failures.is_empty() {
            println!("Not saved:");
            for (item, why) in failures {
                println!("  {} ({}): {why}", item.media_file.filename, item.id);
            }
        }
        println!(
            "{} items: {} fixed ({} with repairs), {} unchanged, {} skipped (already in the folder), {} failed",
            outcomes.len(),
            summary.fixed,
            summary.repaired,
            summary.unchanged,
            summary.skipped,
            summary.failed
        );
        Ok(summary)
    }

    /// Fetches `item` to disk (riding through expired URLs and tokens), plans its
    /// fix from ranges of the download, and keeps it.
    async fn save_one(
        &self,
        urls: &Urls<'_>,
        batch: &api::BatchId,
        item: &PickedMediaItem,
        bar: &ProgressBar,
    ) -> anyhow::Result<Outcome> {
        if item.is_processing() {
            bail!(
                "Google is still processing this video (processingStatus PROCESSING); pick it again later"
            );
        }
        let item_id: api::ItemId = item
            .id
            .parse()
            .context("Google sent an item id that cannot be stored")?;
        let suffix = if item.kind == MediaType::Video {
            MediaSuffix::DownloadVideo
        } else {
            MediaSuffix::Download
        };
        let auth = self.client.auth();
        let mut refusals = 0;
        let (download, len) = loop {
            let (base, generation) = urls.url(&item.id).await?;
            let bearer = auth.bearer().await?;
            let url = picker::media_url(&base, suffix);
            let fetched = self
                .fetcher
                .fetch(
                    &Owner::Single,
                    batch,
                    &item_id,
                    &url,
                    Some(bearer.token.clone()),
                )
                .await
                .map_err(|err| anyhow::anyhow!("{err}"))?;
            let download = match fetched {
                Fetched::AlreadySaved(saved) => return Ok(Outcome::Skipped { path: saved.path }),
                Fetched::Downloading(download) => download,
            };
            match finished_with_progress(&download, bar).await {
                Ok(len) => break (download, len),
                // The link expired (they live 60 minutes) or the token did: the
                // download goes on from where it stopped, with fresh ones.
                Err(failure)
                    if failure.kind == ErrorKind::MediaForbidden
                        && refusals < UrlBook::MAX_REFRESHES_PER_ITEM =>
                {
                    refusals += 1;
                    if auth.is_stale(&bearer).await {
                        auth.rejected(&bearer).await?;
                    } else {
                        urls.refused(generation).await?;
                    }
                }
                Err(failure)
                    if failure.kind == ErrorKind::MediaUnauthorized
                        && refusals < UrlBook::MAX_REFRESHES_PER_ITEM =>
                {
                    refusals += 1;
                    auth.rejected(&bearer).await?;
                }
                Err(failure) => bail!("{}", failure.message),
            }
        };
        let filename = item.media_file.filename.clone();
        let mut context = ItemContext::default()
            .with_filename(filename.clone())
            .with_mime_type(item.media_file.mime_type.clone());
        context.create_time = item.create_time;
        if let Some(meta) = &item.media_file.media_file_metadata {
            context.camera_make = meta.camera_make.clone();
            context.camera_model = meta.camera_model.clone();
        }
        let options = self.options.clone();
        // Parsing metadata is CPU work, the reads are file reads: off the workers.
        let planning = download.clone();
        let mut patch = tokio::task::spawn_blocking(move || {
            metafix::plan_with(len, &options, &context, |range| {
                planning.read_blocking(range)
            })
        })
        .await
        .context("the planning task failed")?
        .context("reading the download")?;
        let name = patch.file_name(&filename);
        let changed = patch.changed() || name != filename;
        let repaired = !patch.report.repairs.is_empty();
        let request = KeepRequest {
            download: download.id().clone(),
            filename: name,
            capture_time: CaptureTime::of_patch(&patch, item.create_time),
            pieces: patch.take_pieces(),
        };
        let (saved, _) = self
            .fetcher
            .keep(&Owner::Single, batch, &item_id, request)
            .await
            .map_err(|err| anyhow::anyhow!("{err}"))?;
        Ok(match saved.status {
            api::SaveStatus::Duplicate => Outcome::Skipped { path: saved.path },
            api::SaveStatus::Saved if changed => Outcome::Fixed {
                path: saved.path,
                repaired,
            },
            api::SaveStatus::Saved => Outcome::Unchanged { path: saved.path },
        })
    }
}

/// Waits for a download's last byte, counting its bytes on `bar` as they come.
async fn finished_with_progress(
    download: &Download,
    bar: &ProgressBar,
) -> Result<u64, crate::fetch::Failure> {
    let mut watch = download.subscribe();
    let mut counted = 0u64;
    let mut announced = false;
    loop {
        let progress = watch.borrow_and_update().clone();
        if let (Some(total), false) = (progress.total, announced) {
            bar.inc_length(total);
            announced = true;
        }
        // A download started over counts down as well as up.
        if progress.received >= counted {
            bar.inc(progress.received - counted);
        } else {
            bar.set_position(bar.position().saturating_sub(counted - progress.received));
        }
        counted = progress.received;
        match progress.state {
            State::Complete => return Ok(progress.received),
            State::Failed(failure) => return Err(failure),
            State::Running | State::Paused => {}
        }
        if watch.changed().await.is_err() {
            return download.finished().await;
        }
    }
}

/// One line per item, printed above the progress bar as it finishes.
fn describe(item: &PickedMediaItem, outcome: &Outcome) -> String {
    let name = &item.media_file.filename;
    // Google does not promise a createTime: say where the date came from when it
    // did not send one.
    let dated = |path: &str| {
        let undated = path.starts_with(&format!("{}/", crate::library::names::UNKNOWN_DATE_FOLDER));
        match (item.create_time, undated) {
            (_, true) => "; no capture date: Google sent none and the file has none",
            (None, false) => "; Google sent no date: the file's own",
            (Some(_), false) => "",
        }
    };
    match outcome {
        Outcome::Fixed {
            path,
            repaired: true,
        } => format!(
            "  fixed     {path}  (from {name}, metadata repaired{})",
            dated(path)
        ),
        Outcome::Fixed { path, .. } => format!("  fixed     {path}  (from {name}{})", dated(path)),
        Outcome::Unchanged { path } => {
            format!(
                "  saved     {path}  (from {name}, unchanged{})",
                dated(path)
            )
        }
        Outcome::Skipped { path } => format!("  skipped   {name}: already in the folder as {path}"),
        Outcome::Failed(why) => format!("  FAILED    {name}: {why}"),
    }
}

/// The download bar on stderr (hidden when stderr is not a terminal). Its length
/// grows as each answer announces its size, so the ETA firms up as files start.
fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {bar:30} {bytes}/{total_bytes}  {binary_bytes_per_sec}  ETA {eta}  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// `text` as a QR code of Unicode half blocks (two modules per character cell),
/// light on dark as most terminals are dark.
fn qr_code(text: &str) -> Option<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

/// Polls `sessions.get` as `pollingConfig` says until the user pressed Done,
/// with a spinner and the time left.
async fn wait_for_picks(
    client: &PickerClient<'_>,
    session: &PickingSession,
) -> anyhow::Result<PickingSession> {
    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.enable_steady_tick(Duration::from_millis(120));
    let mut current = session.clone();
    let mut received = Instant::now();
    loop {
        if current.media_items_set {
            spinner.finish_and_clear();
            return Ok(current);
        }
        // Each answer's pollingConfig counts from when it arrived.
        let schedule = PollSchedule::new(current.polling_config.as_ref());
        let timeout = current
            .polling_config
            .as_ref()
            .and_then(|c| c.timeout_in)
            .map(|t| t.get());
        match schedule.next(received.elapsed()) {
            PollDecision::Stop => {
                spinner.finish_and_clear();
                bail!("the time to pick ran out before Done was pressed; run `helper pick` again");
            }
            PollDecision::Wait(wait) => {
                let until = Instant::now() + wait;
                loop {
                    let left = timeout.map(|t| t.saturating_sub(received.elapsed()));
                    spinner.set_message(match left {
                        Some(left) => format!(
                            "Waiting for you to press Done in Google Photos… {} left",
                            minutes_seconds(left)
                        ),
                        None => "Waiting for you to press Done in Google Photos…".to_owned(),
                    });
                    let now = Instant::now();
                    if now >= until {
                        break;
                    }
                    tokio::time::sleep((until - now).min(Duration::from_secs(1))).await;
                }
            }
        }
        current = client
            .get_session(&current.id)
            .await
            .context("checking the picking session")?;
        received = Instant::now();
    }
}

/// `12m05s`.
fn minutes_seconds(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}m{:02}s", s / 60, s % 60)
}

/// Runs `helper logout`: revokes the saved sign-in and deletes its file.
pub fn logout(args: LogoutArgs) -> anyhow::Result<ExitCode> {
    let path = token_path(args.token_file.as_deref(), args.server.as_deref())?;
    if !path.exists() {
        println!("Not signed in: {} does not exist.", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let file = TokenFile::read(&path)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let http = http_client()?;
        let (endpoints, _) = endpoints(&http, args.server.as_deref()).await?;
        if file.token_uri != endpoints.token_url {
            bail!(
                "{} was issued by {}; pass the --server it came from",
                path.display(),
                file.token_uri
            );
        }
        match oauth::revoke(&http, &endpoints.revoke_url, &file.refresh_token).await {
            Ok(oauth::Revoked::Now) => println!("Revoked Keepsake's access."),
            Ok(oauth::Revoked::Already) => println!("The sign-in was already revoked or expired."),
            Err(err) => {
                return Err(err.context(format!(
                    "{} was kept: run `helper logout` again when online",
                    path.display()
                )));
            }
        }
        std::fs::remove_file(&path).with_context(|| format!("deleting {}", path.display()))?;
        println!("Deleted {}.", path.display());
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_codes_are_drawn_with_half_blocks() {
        let qr = qr_code("https://photos.google.com/picker/abc").unwrap();
        assert!(qr.lines().count() > 10);
        assert!(qr.contains('▀') || qr.contains('▄'));
    }

    #[test]
    fn time_left_reads_as_minutes_and_seconds() {
        assert_eq!(minutes_seconds(Duration::from_secs(1799)), "29m59s");
        assert_eq!(minutes_seconds(Duration::from_millis(500)), "0m00s");
    }

    #[test]
    fn demo_tokens_live_apart_from_googles() {
        let explicit = token_path(Some(Path::new("/t/x.json")), Some("http://h")).unwrap();
        assert_eq!(explicit, Path::new("/t/x.json"));
        if let (Ok(google), Ok(demo)) = (token_path(None, None), token_path(None, Some("http://h")))
        {
            assert_ne!(google, demo);
        }
    }
}
