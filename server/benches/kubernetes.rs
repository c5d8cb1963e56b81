//! Benchmark against the real Kubernetes API server of `scripts/k8s up` (its kubeconfig in
//! `GENNAKER_TEST_KUBECONFIG`): how long a `deployManifest` of a 3-replica Deployment takes
//! from apply to stable (a new image each round, so each is a real rollout through the
//! Deployment and ReplicaSet controllers and the stand-in kubelet), and how fresh the cluster
//! cache is: the time from a scale made outside gennaker (as `kubectl scale` does, straight to
//! the API server) to the cache event that is pushed to browsers showing it.
//! Run: `scripts/bench-kubernetes` (or, with the cluster up, `cargo bench -p server --bench kubernetes`).

use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};
use server::config::ServeConfig;
use server::startup::Server;

const ROUNDS: usize = 10;

fn percentile(samples: &mut [Duration], fraction: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * fraction).round() as usize]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let kubeconfig = std::env::var("GENNAKER_TEST_KUBECONFIG").map_err(|_| anyhow::anyhow!("GENNAKER_TEST_KUBECONFIG: run scripts/bench-kubernetes"))?;
    let dir = std::env::temp_dir().join(format!("gennaker-bench-kubernetes-{}", std::process::id()));
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
        .json(&json!({"username": "admin", "password": server::config::TEST_ADMIN_PASSWORD}))
        .send()
        .await?;
    let cookie = session.headers()["set-cookie"].to_str()?.split(';').next().unwrap_or_default().to_string();
    let token: Value = client.post(format!("{base}/api/v1/tokens")).header("cookie", cookie).header("origin", &base).json(&json!({"name": "bench"})).send().await?.json().await?;
    let auth = format!("Bearer {}", token["secret"].as_str().unwrap_or_default());
    let call = |method: reqwest::Method, path: &str, body: Value| client.request(method, format!("{base}{path}")).header("authorization", &auth).json(&body).send();
    anyhow::ensure!(call(reqwest::Method::POST, "/api/v1/applications", json!({"name": "bench"})).await?.status().is_success(), "creating the application");
    let account = json!({"cloudProvider": "kubernetes", "kubernetes": {"kubeconfigFile": kubeconfig}});
    anyhow::ensure!(call(reqwest::Method::PUT, "/api/v1/clouds/accounts/bench", account).await?.status().is_success(), "adding the account");

    let namespace = format!("bench-{}", std::process::id());
    let deployment = |image: &str| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": namespace},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": image}]}}}})
    };
    let mut apply_to_stable = Vec::new();
    for round in 0..=ROUNDS {
        let pipeline = json!({"name": format!("round {round}"), "stages": [{"refId": "1", "type": "deployManifest", "name": "Deploy",
            "account": "bench", "cloudProvider": "kubernetes",
            "manifests": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}, deployment(&format!("web:{round}"))]}]});
        let saved: Value = call(reqwest::Method::POST, "/api/v1/applications/bench/pipelines", pipeline).await?.json().await?;
        let id = saved["id"].as_str().unwrap_or_default().to_string();
        let started: Value = call(reqwest::Method::POST, &format!("/api/v1/applications/bench/pipelines/{id}/executions"), json!({})).await?.json().await?;
        let execution_id = started["id"].as_str().unwrap_or_default().to_string();
        let deadline = Instant::now() + Duration::from_secs(60);
        let execution = loop {
            let execution: Value = client.get(format!("{base}/api/v1/executions/{execution_id}")).header("authorization", &auth).send().await?.json().await?;
            if ["SUCCEEDED", "TERMINAL", "CANCELED"].contains(&execution["status"].as_str().unwrap_or_default()) {
                break execution;
            }
            anyhow::ensure!(Instant::now() < deadline, "round {round} did not end");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        anyhow::ensure!(execution["status"] == "SUCCEEDED", "round {round}: {execution}");
        let tasks = &execution["stages"][0]["tasks"];
        let (applied, stable) = (tasks[0]["startTime"].as_i64().unwrap_or_default(), tasks[1]["endTime"].as_i64().unwrap_or_default());
        // The first round creates the namespace and warms the connection up.
        if round > 0 {
            apply_to_stable.push(Duration::from_millis((stable - applied).max(0) as u64));
        }
    }

    // Freshness: scale from outside, wait for the cache's event (what browsers are sent).
    let kube_config = kube::Config::from_custom_kubeconfig(kube::config::Kubeconfig::read_from(std::env::var("GENNAKER_TEST_KUBECONFIG")?)?, &Default::default()).await?;
    let kube = kube::Client::try_from(kube_config)?;
    let deployments: Api<DynamicObject> =
        Api::namespaced_with(kube, &namespace, &ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("apps", "v1", "Deployment"), "deployments"));
    let mut freshness = Vec::new();
    for round in 0..ROUNDS {
        let replicas = 4 + (round % 2) as u32;
        let mut events = cache.subscribe();
        let started = Instant::now();
        deployments.patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": replicas}}))).await?;
        loop {
            let event = tokio::time::timeout(Duration::from_secs(20), events.recv()).await??;
            let seen = event.application == "bench"
                && event.regions.iter().filter(|region| region.region == namespace).flat_map(|region| &region.clusters).any(|cluster| {
                    cluster.server_groups.iter().any(|group| group.capacity.desired == replicas && group.instance_counts.total == replicas)
                });
            if seen {
                break;
            }
        }
        freshness.push(started.elapsed());
    }

    println!("deployManifest of a 3-replica Deployment, apply to stable (new image each round): n={} p50={:.0} ms max={:.0} ms",
        apply_to_stable.len(), millis(percentile(&mut apply_to_stable, 0.5)), millis(apply_to_stable.iter().max().copied().unwrap_or_default()));
    println!("cache freshness, an outside scale to the pushed event showing every new pod: n={} p50={:.0} ms max={:.0} ms",
        freshness.len(), millis(percentile(&mut freshness, 0.5)), millis(freshness.iter().max().copied().unwrap_or_default()));
    let namespaces: Api<DynamicObject> = Api::all_with(deployments.clone().into_client(), &ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", "Namespace"), "namespaces"));
    let _ = namespaces.delete(&namespace, &Default::default()).await;
    let _ = stop.send(());
    let _ = running.await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
