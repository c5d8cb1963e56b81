//! Benchmark: stage completions per second for no-op pipelines (five `evaluateVariables`
//! stages in a row, 200 runs), drained by in-process workers, beside the raw commit rate of
//! the same database (one-row insert transactions), on SQLite and, when
//! `GENNAKER_BENCH_POSTGRES_URL` names an empty database, on PostgreSQL.
//! Run: `scripts/bench-engine`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::model::auth::{Caller, Credential};
use app::model::execution::StartRequest;
use app::ssr::{ApplicationService, ExecutionService, PipelineService};
use serde_json::json;
use server::config::DatabaseUrl;
use server::engine::Engine;
use server::engine::clock::SystemClock;
use server::service::{executions::Executions, pipelines::Pipelines};
use server::engine::worker::Outcome;
use server::service::applications::Applications;
use server::store::Store;

const RUNS: usize = 200;
const STAGES: usize = 5;
const WORKERS: usize = 4;

/// One-row insert transactions for two seconds on one connection; commits per second.
macro_rules! commit_loop {
    ($pool:expr) => {{
        let started = Instant::now();
        let mut commits = 0u64;
        while started.elapsed() < Duration::from_secs(2) {
            let mut tx = $pool.begin().await?;
            sqlx::query("INSERT INTO bench_commits (v) VALUES ('x')").execute(&mut *tx).await?;
            tx.commit().await?;
            commits += 1;
        }
        commits as f64 / started.elapsed().as_secs_f64()
    }};
}

async fn commit_rate(url: &str) -> anyhow::Result<f64> {
    if url.starts_with("sqlite:") {
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
        use std::str::FromStr;
        // The same settings the store uses.
        let options = SqliteConnectOptions::from_str(url)?.journal_mode(SqliteJournalMode::Wal).synchronous(SqliteSynchronous::Normal);
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
        sqlx::query("CREATE TABLE IF NOT EXISTS bench_commits (id INTEGER PRIMARY KEY, v TEXT)").execute(&pool).await?;
        Ok(commit_loop!(pool))
    } else {
        let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(url).await?;
        sqlx::query("CREATE TABLE IF NOT EXISTS bench_commits (id BIGSERIAL PRIMARY KEY, v TEXT)").execute(&pool).await?;
        Ok(commit_loop!(pool))
    }
}

async fn stage_rate(url: &str) -> anyhow::Result<(f64, Duration)> {
    let store = Store::open(&DatabaseUrl(url.to_string())).await?;
    let engine = Engine::new(store.clone(), Arc::new(SystemClock));
    let admin = Caller { name: "bench".into(), roles: vec![], admin: true, via: Credential::System };
    Applications::new(store.clone())
        .create(&admin, app::model::NewApplication { name: "bench".into(), description: String::new(), email: String::new() })
        .await?;
    let stages: Vec<_> = (1..=STAGES)
        .map(|n| json!({"refId": n.to_string(), "type": "evaluateVariables", "variables": [],
            "requisiteStageRefIds": if n == 1 { vec![] } else { vec![(n - 1).to_string()] }}))
        .collect();
    Pipelines::new(store.clone()).save(&admin, "bench", json!({"name": "noop", "limitConcurrent": false, "stages": stages})).await?;
    let executions = Executions::new(engine.clone());
    for _ in 0..RUNS {
        executions.start(&admin, "bench", "noop", StartRequest::default()).await?;
    }
    let started = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let engine = engine.clone();
            tokio::spawn(async move {
                let mut idle = 0;
                while idle < 3 {
                    match engine.try_execute_one().await {
                        Ok(Outcome::Idle) => {
                            idle += 1;
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        Ok(_) => idle = 0,
                        Err(error) => panic!("{error}"),
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await?;
    }
    let elapsed = started.elapsed();
    assert_eq!(store.queue_depth().await?, 0, "every message handled");
    Ok(((RUNS * STAGES) as f64 / elapsed.as_secs_f64(), elapsed))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("gennaker-bench-engine-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut targets = vec![("SQLite", format!("sqlite://{}/engine.db?mode=rwc", dir.display()), format!("sqlite://{}/commits.db?mode=rwc", dir.display()))];
    if let Ok(url) = std::env::var("GENNAKER_BENCH_POSTGRES_URL") {
        targets.push(("PostgreSQL", url.clone(), url));
    }
    for (name, engine_url, commit_url) in targets {
        let commits = commit_rate(&commit_url).await?;
        let (stages, elapsed) = stage_rate(&engine_url).await?;
        println!(
            "{name}: {stages:.0} stage completions/s ({RUNS} runs x {STAGES} no-op stages in {:.2} s, {WORKERS} workers); raw commit rate {commits:.0} commits/s",
            elapsed.as_secs_f64()
        );
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
