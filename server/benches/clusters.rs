//! Benchmark: `GET /api/v1/applications/{app}/clusters` over real HTTP for an application with
//! 1,000 server groups and 10,000 instances in the cache (goal: 50 ms p50), the server-side
//! render of that application's Clusters page (goal: 150 ms p50), and the time the cache takes
//! to absorb a changed snapshot of that size.
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

const SERVER_GROUPS: usize = 1_000;
const INSTANCES_PER_GROUP: usize = 10;

fn percentile(samples: &mut [Duration], fraction: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * fraction).round() as usize]
}

fn snapshot(location: &Location, generation: u32) -> Snapshot {
    let server_groups = (0..SERVER_GROUPS)
        .map(|index| {
            // 100 clusters of 10 versions each.
            let name = format!("bench-stack{}-v{:03}", index / 10, index % 10);
            ServerGroup {
                name: name.clone(),
                location: location.clone(),
                capacity: Capacity { min: 10, max: 10, desired: 10 },
                artifact: Artifact::Command { command: vec!["demo-app".into()], version: format!("v{generation}") },
                disabled: index % 10 != 9,
                load_balancers: vec![format!("bench-stack{}", index / 10)],
                security_groups: vec![],
                instances: (0..INSTANCES_PER_GROUP)
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

    let location = Location { cloud_provider: "local".into(), account: "bench".into(), region: "bench".into() };
    let mut updates = Vec::new();
    for generation in 0..10 {
        let snapshot = snapshot(&location, generation);
        let started = Instant::now();
        cache.update(location.clone(), snapshot);
        updates.push(started.elapsed());
    }

    let url = format!("{base}/api/v1/applications/bench/clusters");
    let mut bytes = 0;
    let mut samples = Vec::new();
    for round in 0..220 {
        let started = Instant::now();
        let response = client.get(&url).header("authorization", &auth).send().await?;
        anyhow::ensure!(response.status().is_success(), "clusters: {}", response.status());
        let body = response.bytes().await?;
        // The first requests warm up connections and allocators.
        if round >= 20 {
            samples.push(started.elapsed());
        }
        bytes = body.len();
    }
    // The Clusters page, rendered on the server for a signed-in browser.
    let page_url = format!("{base}/applications/bench/clusters");
    let browser_session = client
        .post(format!("{base}/api/v1/session"))
        .json(&serde_json::json!({"username": "admin", "password": server::config::TEST_ADMIN_PASSWORD}))
        .send()
        .await?;
    let browser_cookie = browser_session.headers()["set-cookie"].to_str()?.split(';').next().unwrap_or_default().to_string();
    let mut page_samples = Vec::new();
    let mut page_bytes = 0;
    for round in 0..60 {
        let started = Instant::now();
        let response = client.get(&page_url).header("cookie", &browser_cookie).header("accept", "text/html").send().await?;
        anyhow::ensure!(response.status().is_success(), "clusters page: {}", response.status());
        let body = response.text().await?;
        if round >= 10 {
            page_samples.push(started.elapsed());
        }
        anyhow::ensure!(body.contains("bench-stack99-v009"), "the page lists every server group");
        page_bytes = body.len();
    }

    let view: serde_json::Value = client.get(&url).header("authorization", &auth).send().await?.json().await?;
    let groups: usize = view[0]["clusters"].as_array().map_or(0, |c| c.iter().map(|c| c["serverGroups"].as_array().map_or(0, Vec::len)).sum());
    anyhow::ensure!(groups == SERVER_GROUPS, "expected {SERVER_GROUPS} server groups in the answer, got {groups}");

    println!("cache: {SERVER_GROUPS} server groups, {} instances", SERVER_GROUPS * INSTANCES_PER_GROUP);
    println!(
        "clusters REST ({} KB answer): n={} p50={:.2} ms p99={:.2} ms (goal: p50 <= 50 ms)",
        bytes / 1024,
        samples.len(),
        percentile(&mut samples, 0.5).as_secs_f64() * 1e3,
        percentile(&mut samples, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "clusters page server-side render ({} KB HTML): n={} p50={:.2} ms p99={:.2} ms (goal: p50 <= 150 ms)",
        page_bytes / 1024,
        page_samples.len(),
        percentile(&mut page_samples, 0.5).as_secs_f64() * 1e3,
        percentile(&mut page_samples, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "cache update with a changed snapshot: p50={:.2} ms max={:.2} ms",
        percentile(&mut updates, 0.5).as_secs_f64() * 1e3,
        updates.iter().max().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    let _ = stop.send(());
    let _ = running.await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
