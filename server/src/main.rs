//! The `gennaker` binary: parse the command line and run it.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server::run(server::config::Cli::parse()).await
}
