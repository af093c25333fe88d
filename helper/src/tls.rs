//! `helper tls self-signed --host NAME`: a certificate for a home server reached
//! by a LAN name (`photos.home.arpa`, `nas.local`), for people without a domain.
//! Browsers warn about it until it is trusted once (see the README).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

/// `helper tls …`.
#[derive(Debug, clap::Args)]
pub struct TlsArgs {
    #[command(subcommand)]
    command: TlsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TlsCommand {
    /// Write a self-signed certificate and its key (PEM) for these host names.
    SelfSigned {
        /// A name (or IP address) the server is reached by; repeatable.
        #[arg(long = "host", required = true)]
        hosts: Vec<String>,
        /// Where to write `cert.pem` and `key.pem` (never over existing files).
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

/// Runs `helper tls …`.
pub fn run(args: TlsArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        TlsCommand::SelfSigned { hosts, out } => {
            let (cert, key) = self_signed(&hosts)?;
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let cert_path = out.join("cert.pem");
            let key_path = out.join("key.pem");
            for path in [&cert_path, &key_path] {
                if path.exists() {
                    bail!("{} exists already; nothing was written", path.display());
                }
            }
            write_new(&cert_path, cert.as_bytes(), 0o644)?;
            write_new(&key_path, key.as_bytes(), 0o600)?;
            println!("{}", cert_path.display());
            println!("{}", key_path.display());
            eprintln!(
                "serve with: helper serve --server-name {} --tls-cert {} --tls-key {} (and add \
                 https://{}:PORT/ to the OAuth client's origins and redirect URIs)",
                hosts[0],
                cert_path.display(),
                key_path.display(),
                hosts[0]
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A self-signed certificate for `hosts`, as (certificate PEM, key PEM).
pub fn self_signed(hosts: &[String]) -> anyhow::Result<(String, String)> {
    if hosts.iter().any(|h| h.trim().is_empty()) {
        bail!("--host needs a name");
    }
    let certified =
        rcgen::generate_simple_self_signed(hosts.to_vec()).context("making the certificate")?;
    Ok((certified.cert.pem(), certified.signing_key.serialize_pem()))
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}
