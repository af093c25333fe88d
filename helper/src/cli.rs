//! The `helper` command line: `helper serve`, `helper fix`, `helper pick`,
//! `helper logout`, `helper member`, `helper tls`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::config::ServeArgs;
use crate::fix_files::{self, FixArgs};
use crate::routes;
use crate::state::AppState;

/// Keepsake's helper: serves the app, proxies Google Photos downloads, saves the
/// fixed photos; `--demo` runs a built-in Google emulator.
#[derive(Debug, Parser)]
#[command(name = "helper", version = crate::VERSION, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the app and its API (and, with --demo, the Google emulator).
    Serve(Box<ServeArgs>),
    /// Fix the metadata of local photos and videos (files or folders).
    Fix(Box<FixArgs>),
    /// Pick photos in Google Photos and save them, fixed, into a folder (the
    /// terminal workflow: sign in once, open the printed link, pick, wait).
    Pick(Box<crate::pick::PickArgs>),
    /// Revoke `helper pick`'s saved sign-in and delete its token file.
    Logout(crate::pick::LogoutArgs),
    /// Manage family members (names, passphrases, defaults) in the config file.
    Member(crate::members::file::MemberArgs),
    /// TLS helpers: make a self-signed certificate for a home server's LAN name.
    Tls(crate::tls::TlsArgs),
}

/// Runs the command line; what `main` calls.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    crate::media_proxy::install_crypto_provider();

    let result = match cli.command {
        Command::Serve(args) => run_serve(*args),
        Command::Fix(args) => fix_files::run(*args),
        Command::Pick(args) => crate::pick::run(*args),
        Command::Logout(args) => crate::pick::logout(args),
        Command::Member(args) => crate::members::file::run(args),
        Command::Tls(args) => crate::tls::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = args.into_config()?;
    // Each connection holds a descriptor; a service's soft limit is often 1024.
    match crate::open_files::raise() {
        Ok(Some((before, after))) => tracing::info!(
            before = ?before.soft,
            after = ?after.soft,
            hard = ?after.hard,
            "open-file limit"
        ),
        Ok(None) => {}
        Err(err) => tracing::warn!(error = %err, "could not raise the open-file limit"),
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        let local = listener.local_addr()?;
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        if config.insecure_single_user && !local.ip().is_loopback() {
            tracing::warn!(
                "--insecure-single-user: anyone who can reach {local} can read and write the \
                 library without signing in"
            );
        }
        if config.tls.is_none() && !local.ip().is_loopback() {
            tracing::warn!(
                "serving {local} over plain http: passphrases, session cookies and photos cross \
                 the network where anyone on it can read them; give the helper a certificate \
                 (`helper tls self-signed`, then --tls-cert and --tls-key)"
            );
        }
        let family = config.members.iter().count();
        let watched = config.config_file.clone().filter(|_| family > 0);
        let state = AppState::new(config, local)?;
        if family > 0 {
            crate::members::settle_libraries(state.library(), &state.members()).await;
        }
        if let Some(path) = watched {
            tokio::spawn(crate::members::watch(
                state.clone(),
                path,
                crate::members::WATCH_EVERY,
            ));
        }
        // The first line on stdout: scripts and tests read the port from it.
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {scheme}://{local}")?;
        if family > 0 {
            tracing::info!(
                members = family,
                "family mode: members sign in with their passphrase"
            );
        }
        stdout.flush()?;
        drop(stdout);
        routes::serve(listener, state, shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
