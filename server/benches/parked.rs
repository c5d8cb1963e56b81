//! Benchmark: what runs parked at a wait cost while nothing happens. Half the runs wait at a
//! manual judgment, half at an hour-long `wait` stage; with the engine's workers running as
//! `gennaker serve` runs them (two), it measures the process's CPU (user + system, from
//! `/proc/self/stat`) over an idle stretch and its resident memory, then judges every judgment
//! and skips every wait and measures how long until all of them have finished.
//! SQLite by default; PostgreSQL too when `GENNAKER_BENCH_POSTGRES_URL` names an empty database.
//! `GENNAKER_BENCH_PARKED` sets how many runs (default 10,000).
//! Run: `scripts/bench-parked`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::model::auth::{Caller, Credential};
use app::model::execution::{Judgment, JudgmentStatus, StartRequest};
use app::ssr::{ApplicationService, ExecutionService, PipelineService};
use serde_json::json;
use server::config::DatabaseUrl;
use server::engine::Engine;
use server::engine::clock::SystemClock;
use server::service::applications::Applications;
use server::service::{executions::Executions, pipelines::Pipelines};
use server::store::Store;

const WORKERS: usize = 2;
const IDLE_SECONDS: u64 = 20;

/// CPU seconds this process has used (user + system).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at its closing parenthesis.
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |index: usize| fields.get(index).and_then(|field| field.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the file, 12 and 13 after the name; 100 ticks/s.
    (ticks(11) + ticks(12)) / 100.0
}

/// Resident memory in MB.
fn resident_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> anyhow::Result<bool>) -> anyhow::Result<Duration> {
    let started = Instant::now();
    while !done().await? {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(1800), "{what}: not after 30 minutes");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(started.elapsed())
}

async fn bench(name: &str, url: &str, parked: usize) -> anyhow::Result<()> {
    let store = Store::open(&DatabaseUrl(url.to_string())).await?;
    let engine = Engine::new(store.clone(), Arc::new(SystemClock));
    let admin = Caller { name: "bench".into(), roles: vec![], admin: true, via: Credential::System };
    Applications::new(store.clone())
        .create(&admin, app::model::NewApplication { name: "parked".into(), description: String::new(), email: String::new() })
        .await?;
    let pipelines = Pipelines::new(store.clone());
    let judged = pipelines
        .save(&admin, "parked", json!({"name": "judged", "limitConcurrent": false, "stages": [{"refId": "1", "type": "manualJudgment", "name": "Approve"}]}))
        .await?;
    let waiting = pipelines
        .save(&admin, "parked", json!({"name": "waiting", "limitConcurrent": false, "stages": [{"refId": "1", "type": "wait", "name": "Hour", "waitTime": 3600}]}))
        .await?;
    let (shutdown, stopped) = tokio::sync::watch::channel(false);
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let mut stopped = stopped.clone();
            tokio::spawn(engine.clone().run(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }))
        })
        .collect();
    let executions = Executions::new(engine.clone());
    let started = Instant::now();
    let mut runs = Vec::with_capacity(parked);
    for index in 0..parked {
        let pipeline = if index % 2 == 0 { "judged" } else { "waiting" };
        let execution = executions.start(&admin, "parked", pipeline, StartRequest::default()).await?;
        runs.push((index % 2 == 0, execution.id));
    }
    let active = |pipeline: String| {
        let store = store.clone();
        async move { store.active_executions(&pipeline).await }
    };
    // Parked: every run's only task has started (its stage is RUNNING).
    until("parking", async || {
        let running = store
            .list_executions(&server::store::executions::ExecutionFilter { application: Some("parked".into()), limit: u32::MAX, ..Default::default() })
            .await?
            .iter()
            .filter(|execution| execution.stages.first().is_some_and(|stage| stage.tasks.first().is_some_and(|task| task.start_time.is_some())))
            .count();
        Ok(running == parked)
    })
    .await?;
    let parking = started.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cpu_before = cpu_seconds();
    let idle_started = Instant::now();
    tokio::time::sleep(Duration::from_secs(IDLE_SECONDS)).await;
    let idle_cpu = (cpu_seconds() - cpu_before) / idle_started.elapsed().as_secs_f64() * 100.0;
    let memory = resident_mb();
    let acted = Instant::now();
    for (judgment, id) in &runs {
        let execution = executions.get(&admin, id).await?;
        let stage = &execution.stages[0].id;
        if *judgment {
            executions.judge(&admin, id, stage, Judgment { judgment_status: JudgmentStatus::Continue, judgment_input: None }).await?;
        } else {
            executions.skip_wait(&admin, id, stage).await?;
        }
    }
    let acting = acted.elapsed();
    let (judged_id, waiting_id) = (judged.id.clone(), waiting.id.clone());
    until("finishing", async || Ok(active(judged_id.clone()).await? + active(waiting_id.clone()).await? == 0)).await?;
    let finishing = acted.elapsed();
    let _ = shutdown.send(true);
    for worker in workers {
        worker.await?;
    }
    println!(
        "{name}: {parked} runs parked ({} at a judgment, {} at an hour's wait) in {:.1} s; idle for {IDLE_SECONDS} s: {idle_cpu:.1}% of a core, {memory:.0} MB resident; \
         judging and skipping all took {:.1} s, all finished {:.1} s after the first",
        parked.div_ceil(2),
        parked / 2,
        parking.as_secs_f64(),
        acting.as_secs_f64(),
        finishing.as_secs_f64()
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let parked: usize = std::env::var("GENNAKER_BENCH_PARKED").ok().and_then(|count| count.parse().ok()).unwrap_or(10_000);
    let dir = std::env::temp_dir().join(format!("gennaker-bench-parked-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut targets = vec![("SQLite", format!("sqlite://{}/parked.db?mode=rwc", dir.display()))];
    if let Ok(url) = std::env::var("GENNAKER_BENCH_POSTGRES_URL") {
        targets.push(("PostgreSQL", url));
    }
    for (name, url) in targets {
        bench(name, &url, parked).await?;
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
