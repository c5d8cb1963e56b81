//! Benchmark: `GET /api/v1/applications/{app}/clusters` over real HTTP for an application with
//! 1,000 server groups and 10,000 instances in the cache (goal: 50 ms p50), in its default form
//! and its summary form (`expand=false`) and for one cluster (`cluster=`); the server-side
//! render of that application's Clusters page, collapsed and with one cluster open (goal: 150 ms
//! p50, under 1 MB of HTML); and the time the cache takes to absorb a changed snapshot of that
//! size.
//!
//! The size is chosen with `GENNAKER_BENCH_SERVER_GROUPS` (default 1,000) and
//! `GENNAKER_BENCH_INSTANCES_PER_GROUP` (default 10); clusters have 10 server groups each.
//! `scripts/bench-clusters` runs it at 1,000/10,000 and at 10,000/100,000.
//!
//! The snapshot is put into the cluster cache directly, under an account of its own (`bench`)
//! that no caching agent observes: starting 10,000 real processes is not what is measured here,
//! the cache and the REST path are. Everything else is the real server (`Server::build`).
//! Run: `scripts/bench-clusters` (or `cargo bench -p server --bench clusters`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use app::model::cluster::{Artifact, Capacity, HealthState, Instance, Location, ServerGroup};
use server::cloud::provider::Snapshot;
use server::config::ServeConfig;
use server::startup::Server;

/// Server groups per cluster (versions v000..v009).
const VERSIONS: usize = 10;

/// A size from the environment, or its default.
fn size(variable: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(variable) {
        Ok(text) => text.trim().replace(['_', ','], "").parse().map_err(|_| anyhow::anyhow!("{variable}={text:?} is not a number")),
        Err(_) => Ok(default),
    }
}

/// `rounds` requests made by `request`, the first `warmup` not counted (they warm up
/// connections and allocators): the times of the others and the size of the last answer.
async fn measure(rounds: usize, warmup: usize, request: impl Fn() -> reqwest::RequestBuilder) -> anyhow::Result<(Vec<Duration>, usize)> {
    let mut samples = Vec::new();
    let mut bytes = 0;
    for round in 0..rounds {
        let started = Instant::now();
        let response = request().send().await?;
        anyhow::ensure!(response.status().is_success(), "{}: {}", response.url().clone(), response.status());
        bytes = response.bytes().await?.len();
        if round >= warmup {
            samples.push(started.elapsed());
        }
    }
    Ok((samples, bytes))
}

fn percentile(samples: &mut [Duration], fraction: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * fraction).round() as usize]
}

fn snapshot(location: &Location, generation: u32, server_groups: usize, instances: usize) -> Snapshot {
    let server_groups = (0..server_groups)
        .map(|index| {
            // Clusters of 10 versions each.
            let name = format!("bench-stack{}-v{:03}", index / VERSIONS, index % VERSIONS);
            ServerGroup {
                name: name.clone(),
                location: location.clone(),
                capacity: Capacity { min: instances as u32, max: instances as u32, desired: instances as u32 },
                artifact: Artifact::Command { command: vec!["demo-app".into()], version: format!("v{generation}") },
                disabled: index % VERSIONS != VERSIONS - 1,
                load_balancers: vec![format!("bench-stack{}", index / VERSIONS)],
                security_groups: vec![],
                instances: (0..instances)
                    .map(|i| Instance {
                        name: format!("{name}-{i}"),
                        health_state: if i == 0 { HealthState::Starting } else { HealthState::Up },
                        launch_time: 1_700_000_000_000,
                        address: format!("127.0.0.1:{}", 20_000 + i),
                        pid: Some(1000 + i as u32),
                    })
                    .collect(),
                created_time: 1_700_000_000_000 + index as i64,
                metadata: BTreeMap::new(),
                moniker: None,
                launch: Default::default(),
                scaling_policies: Vec::new(),
                scheduled_actions: Vec::new(),
            }
        })
        .collect();
    Snapshot { server_groups, ..Snapshot::default() }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("gennaker-bench-clusters-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config = ServeConfig::for_tests(&format!("sqlite://{}/bench.db", dir.display()));
    let server = Server::build(&config).await?;
    let base = format!("http://{}", server.local_addr());
    let cache = server.state.engine.clouds().cache.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::new();
    let session = client
        .post(format!("{base}/api/v1/session"))
        .json(&serde_json::json!({"username": "admin", "password": server::config::TEST_ADMIN_PASSWORD}))
        .send()
        .await?;
    let cookie = session.headers()["set-cookie"].to_str()?.split(';').next().unwrap_or_default().to_string();
    let token: serde_json::Value = client
        .post(format!("{base}/api/v1/tokens"))
        .header("cookie", cookie)
        .header("origin", &base)
        .json(&serde_json::json!({"name": "bench"}))
        .send()
        .await?
        .json()
        .await?;
    let auth = format!("Bearer {}", token["secret"].as_str().unwrap_or_default());
    let created = client.post(format!("{base}/api/v1/applications")).header("authorization", &auth).json(&serde_json::json!({"name": "bench"})).send().await?;
    anyhow::ensure!(created.status().is_success(), "creating the application: {}", created.status());

    let (server_groups, instances) = (size("GENNAKER_BENCH_SERVER_GROUPS", 1_000)?, size("GENNAKER_BENCH_INSTANCES_PER_GROUP", 10)?);
    let clusters = server_groups.div_ceil(VERSIONS);
    let location = Location { cloud_provider: "local".into(), account: "bench".into(), region: "bench".into() };
    let mut updates = Vec::new();
    for generation in 0..10 {
        let snapshot = snapshot(&location, generation, server_groups, instances);
        let started = Instant::now();
        cache.update(location.clone(), snapshot);
        updates.push(started.elapsed());
    }

    // REST, in its three forms.
    let url = format!("{base}/api/v1/applications/bench/clusters");
    let rest = |query: &'static str| {
        let (client, url, auth) = (client.clone(), format!("{url}{query}"), auth.clone());
        async move { measure(220, 20, || client.get(&url).header("authorization", &auth)).await }
    };
    let (mut expanded, expanded_bytes) = rest("").await?;
    let (mut summary, summary_bytes) = rest("?expand=false").await?;
    let (mut one, one_bytes) = rest("?cluster=bench-stack1").await?;

    // The Clusters page, rendered on the server for a signed-in browser: the first page, and
    // the same with one cluster open.
    let browser_session = client
        .post(format!("{base}/api/v1/session"))
        .json(&serde_json::json!({"username": "admin", "password": server::config::TEST_ADMIN_PASSWORD}))
        .send()
        .await?;
    let browser_cookie = browser_session.headers()["set-cookie"].to_str()?.split(';').next().unwrap_or_default().to_string();
    let page = |query: &'static str| {
        let (client, url, cookie) = (client.clone(), format!("{base}/applications/bench/clusters{query}"), browser_cookie.clone());
        async move { measure(60, 10, || client.get(&url).header("cookie", &cookie).header("accept", "text/html")).await }
    };
    let (mut page_samples, page_bytes) = page("").await?;
    let (mut open_samples, open_bytes) = page("?expand=bench-stack1").await?;

    // What was measured is what it should be.
    let view: serde_json::Value = client.get(&url).header("authorization", &auth).send().await?.json().await?;
    let groups: usize = view[0]["clusters"].as_array().map_or(0, |c| c.iter().map(|c| c["serverGroups"].as_array().map_or(0, Vec::len)).sum());
    anyhow::ensure!(groups == server_groups, "expected {server_groups} server groups in the answer, got {groups}");
    let headers: serde_json::Value = client.get(format!("{url}?expand=false")).header("authorization", &auth).send().await?.json().await?;
    anyhow::ensure!(headers.as_array().map(Vec::len) == Some(clusters), "expected {clusters} clusters summed up: {}", &headers.to_string()[..200.min(headers.to_string().len())]);
    anyhow::ensure!(headers[0]["instanceCounts"]["total"] == VERSIONS.min(server_groups) * instances, "the summary counts the instances: {}", headers[0]);
    let first = client.get(format!("{base}/applications/bench/clusters")).header("cookie", &browser_cookie).send().await?.text().await?;
    anyhow::ensure!(first.contains("bench-stack0"), "the first page shows the first cluster");
    let opened = client.get(format!("{base}/applications/bench/clusters?expand=bench-stack1")).header("cookie", &browser_cookie).send().await?.text().await?;
    anyhow::ensure!(opened.contains("data-testid=\"server-group-bench-stack1-v009\""), "the open cluster shows its server groups");

    let ms = |samples: &mut Vec<Duration>, fraction| percentile(samples, fraction).as_secs_f64() * 1e3;
    println!("cache: {server_groups} server groups, {} instances, {clusters} clusters", server_groups * instances);
    for (label, samples, bytes) in [
        ("clusters REST, default (expanded)", &mut expanded, expanded_bytes),
        ("clusters REST, expand=false", &mut summary, summary_bytes),
        ("clusters REST, cluster=bench-stack1", &mut one, one_bytes),
    ] {
        println!("{label} ({} KB answer): n={} p50={:.2} ms p99={:.2} ms (goal: p50 <= 50 ms)", bytes / 1024, samples.len(), ms(samples, 0.5), ms(samples, 0.99));
    }
    for (label, samples, bytes) in [
        ("clusters page server-side render, first page", &mut page_samples, page_bytes),
        ("clusters page server-side render, one cluster open", &mut open_samples, open_bytes),
    ] {
        println!(
            "{label} ({} KB HTML, {bytes} bytes): n={} p50={:.2} ms p99={:.2} ms (goal: p50 <= 150 ms, under 1 MB)",
            bytes / 1024,
            samples.len(),
            ms(samples, 0.5),
            ms(samples, 0.99)
        );
    }
    println!("cache update with a changed snapshot: p50={:.2} ms max={:.2} ms", ms(&mut updates, 0.5), updates.iter().max().copied().unwrap_or_default().as_secs_f64() * 1e3);
    let _ = stop.send(());
    let _ = running.await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
