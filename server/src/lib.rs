//! gennaker's server: the axum application behind the `gennaker` binary.

pub mod auth;
pub mod canary;
pub mod cloud;
pub mod config;
pub mod demo;
pub mod demo_app;
pub mod engine;
pub mod expressions;
pub mod helm;
pub mod http;
pub mod import_cli;
pub mod metrics;
pub mod notify;
pub mod outbound;
pub mod retention;
pub mod schedule;
pub mod secrets;
pub mod serde_errors;
pub mod service;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod triggers;
pub mod event_hub;
pub mod ws;
pub mod ws_clusters;

use config::{Cli, Command};

/// Runs one command of the command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(config) => {
            telemetry::init(config.log_format);
            let server = startup::Server::build(&config).await?;
            server.run_until(startup::shutdown_signal()).await?;
        }
        Command::Migrate(database) => {
            telemetry::init(config::LogFormat::Human);
            store::Store::open(&database.database_url).await?;
            tracing::info!(database = %database.database_url, "migrations applied");
        }
        Command::DemoApp(config) => demo_app::run(config).await?,
        Command::Import(config) => import_cli::run(config).await?,
        Command::User { database, command } => {
            let store = store::Store::open(&database.database_url).await?;
            auth::cli::run(&store, command).await?;
        }
    }
    Ok(())
}
