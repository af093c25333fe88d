//! The Google emulator on its own, for poking at it by hand:
//!
//! ```text
//! cargo run -p emulator --example serve -- --listen 127.0.0.1:0 [--demo-… flags]
//! ```
//!
//! Prints `listening on http://HOST:PORT`; open `/emulator/` there. The real product
//! serves it from `helper serve --demo` instead.

use clap::Parser;
use emulator::{Emulator, EmulatorArgs};

#[derive(Parser)]
struct Cli {
    /// Address to bind; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Also register `http://HOST:PORT/callback`-style redirect URIs via
    /// `--demo-redirect-uri`.
    #[command(flatten)]
    demo: EmulatorArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let emulator = Emulator::new(cli.demo.into_config()?)?;
    let listener = tokio::net::TcpListener::bind(&cli.listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, emulator.router()).await?;
    Ok(())
}
