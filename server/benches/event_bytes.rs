//! Benchmark: what one run writes to `execution_events`, and so what every subscriber of its
//! application or execution is sent over `/api/v1/ws`, as pipelines grow. A run of S stages
//! makes O(S) changes. A run's first event is the whole run, O(S); each later one is a delta of
//! the stages it changed, O(1) (`store::executions::commit_step`), so the bytes grow with S
//! (when every change stored the whole run, they grew with S²: 15.02 MB for 100 stages). For chains of 10, 50 and 100 `evaluateVariables` stages (override with
//! `GENNAKER_BENCH_EVENT_STAGES`, e.g. "10,50,100,200") it runs one execution to completion with
//! an in-process engine on SQLite and prints the events stored, their bytes
//! (`SUM(LENGTH(CAST(body AS BLOB)))`), the bytes a subscriber is sent for them (each event as
//! the socket serializes it), the largest event's size and bytes / S.
//! Run: `scripts/bench-event-bytes` (or `cargo bench -p server --bench event_bytes`).

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::model::auth::{Caller, Credential};
use app::model::execution::{StartRequest, Status};
use app::ssr::{ApplicationService, ExecutionService, PipelineService};
use serde_json::json;
use server::config::DatabaseUrl;
use server::engine::Engine;
use server::engine::clock::SystemClock;
use server::engine::worker::Outcome;
use server::service::applications::Applications;
use server::service::{executions::Executions, pipelines::Pipelines};
use server::store::Store;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

/// Handles queued messages until none has been due three times in a row.
async fn drain(engine: &Engine) -> anyhow::Result<()> {
    let mut idle = 0;
    while idle < 3 {
        match engine.try_execute_one().await? {
            Outcome::Idle => {
                idle += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            _ => idle = 0,
        }
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let sizes: Vec<usize> = std::env::var("GENNAKER_BENCH_EVENT_STAGES")
        .ok()
        .map(|list| list.split(',').filter_map(|size| size.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 50, 100]);
    let dir = std::env::temp_dir().join(format!("gennaker-bench-event-bytes-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}/events.db?mode=rwc", dir.display());
    let store = Store::open(&DatabaseUrl(url.clone())).await?;
    let engine = Engine::new(store.clone(), Arc::new(SystemClock));
    // A second pool on the same file, for the plain SQL sums.
    let sql = SqlitePoolOptions::new().max_connections(1).connect_with(SqliteConnectOptions::from_str(&url)?).await?;
    let admin = Caller { name: "bench".into(), roles: vec![], admin: true, via: Credential::System };
    Applications::new(store.clone())
        .create(&admin, app::model::NewApplication { name: "bytes".into(), description: String::new(), email: String::new() })
        .await?;
    let pipelines = Pipelines::new(store.clone());
    let executions = Executions::new(engine.clone());

    let mut previous: Option<(usize, i64)> = None;
    for stages in sizes {
        let chain: Vec<_> = (1..=stages)
            .map(|n| json!({"refId": n.to_string(), "type": "evaluateVariables", "name": format!("Evaluate {n}"), "variables": [],
                "requisiteStageRefIds": if n == 1 { vec![] } else { vec![(n - 1).to_string()] }}))
            .collect();
        let name = format!("chain-{stages}");
        pipelines.save(&admin, "bytes", json!({"name": name, "limitConcurrent": false, "stages": chain})).await?;
        let started = Instant::now();
        let execution = executions.start(&admin, "bytes", &name, StartRequest::default()).await?;
        drain(&engine).await?;
        let elapsed = started.elapsed();
        let finished = executions.get(&admin, &execution.id).await?;
        anyhow::ensure!(finished.status == Status::Succeeded, "{name} ended {:?}", finished.status);

        let (events, stored, largest): (i64, i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(CAST(body AS BLOB))), 0), COALESCE(MAX(LENGTH(CAST(body AS BLOB))), 0) \
             FROM execution_events WHERE execution_id = $1",
        )
        .bind(&execution.id)
        .fetch_one(&sql)
        .await?;
        // What the socket sends a subscriber: each event serialized as `ws.rs` does it.
        let sent: usize = store
            .events_after(Some(&execution.id), None, 0, u32::MAX)
            .await?
            .iter()
            .map(|event| serde_json::to_string(event).map(|text| text.len()).unwrap_or_default())
            .sum();
        let growth = previous
            .map(|(size, bytes)| format!("; x{:.1} the bytes of {size} stages for x{:.1} the stages", stored as f64 / bytes as f64, stages as f64 / size as f64))
            .unwrap_or_default();
        println!(
            "{stages} stages: {events} events ({:.1} per stage), {:.2} MB stored (SUM(LENGTH(body))), {:.2} MB sent to each subscriber, \
             {:.0} bytes per event on average, largest event {:.1} KB (the first: the whole run), {:.0} bytes per stage; run took {:.2} s{growth}",
            events as f64 / stages as f64,
            stored as f64 / 1e6,
            sent as f64 / 1e6,
            stored as f64 / events.max(1) as f64,
            largest as f64 / 1e3,
            stored as f64 / stages as f64,
            elapsed.as_secs_f64()
        );
        previous = Some((stages, stored));
    }
    sql.close().await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
