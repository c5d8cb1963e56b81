//! The local provider end to end with real processes and a real balancer: server groups behind a
//! load balancer, disabling moves traffic, security groups refuse connections, and a restart of
//! the provider brings everything back.

use std::time::{Duration, Instant};

use app::model::cluster::{Artifact, Capacity, HealthCheck, IngressRule, Listener, LoadBalancer, Location, Protocol, SecurityGroup};
use server::cloud::local::cloud::LocalCloud;
use server::cloud::local::sandbox::Sandbox;
use server::cloud::provider::{Provider, ServerGroupSpec};
use server::config::DatabaseUrl;
use server::store::Store;

use crate::helpers::{Db, free_port, fresh_database};

/// The sandbox processes start in, as the test's own user.
fn sandbox() -> std::sync::Arc<Sandbox> {
    std::sync::Arc::new(Sandbox::prepare(&std::env::temp_dir().join("gennaker-work-tests"), None).unwrap())
}

fn location() -> Location {
    Location { cloud_provider: "local".into(), account: "local".into(), region: "local".into() }
}

fn demo(name: &str, version: &str, desired: u32) -> ServerGroupSpec {
    ServerGroupSpec {
        name: name.into(),
        location: location(),
        capacity: Capacity { min: desired, max: desired, desired },
        artifact: Artifact::Command {
            command: vec![env!("CARGO_BIN_EXE_gennaker").into(), "demo-app".into(), "--version".into(), version.into()],
            version: version.into(),
        },
        load_balancers: vec!["shop-web".into()],
        security_groups: vec![],
        metadata: Default::default(),
        launch: Default::default(),
        scaling_policies: Vec::new(),
        scheduled_actions: Vec::new(),
    }
}

fn balancer(port: u16, security_groups: Vec<String>) -> LoadBalancer {
    LoadBalancer {
        name: "shop-web".into(),
        location: location(),
        listeners: vec![Listener { port, protocol: Protocol::Http }],
        health_check: Some(HealthCheck { path: "/health".into(), interval_ms: 100, timeout_ms: 500, healthy_threshold: 1, unhealthy_threshold: 1 }),
        security_groups,
        moniker: None,
        load_balancer_type: None,
    }
}

/// The versions answering through the balancer in `n` requests (failures count as "error").
async fn versions(port: u16, n: usize) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut seen = Vec::new();
    for _ in 0..n {
        let answer = client.get(format!("http://127.0.0.1:{port}/")).send().await;
        let version = match answer {
            Ok(response) if response.status() == 200 => response.json::<serde_json::Value>().await.unwrap()["version"].as_str().unwrap().to_string(),
            Ok(response) => format!("status {}", response.status()),
            Err(_) => "refused".to_string(),
        };
        seen.push(version);
    }
    seen
}

async fn eventually(what: &str, port: u16, condition: impl Fn(&[String]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let seen = versions(port, 8).await;
        if condition(&seen) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {seen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn server_groups_balancers_security_groups_and_a_restart() {
    let store = Store::open(&DatabaseUrl(fresh_database(Db::Sqlite).await)).await.unwrap();
    let port = free_port();
    let cloud = LocalCloud::restore(store.clone(), sandbox()).await.unwrap();
    cloud.upsert_load_balancer(balancer(port, vec![])).await.unwrap();
    assert!(versions(port, 1).await[0].starts_with("status 503"), "no instance yet");

    cloud.create_server_group(demo("shop-web-v001", "v1", 2)).await.unwrap();
    eventually("v1 serving", port, |seen| seen.iter().all(|v| v == "v1")).await;
    let again = cloud.create_server_group(demo("shop-web-v001", "v1", 2)).await.unwrap();
    assert_eq!(again.instances.len(), 2, "creating again is idempotent");
    let snapshot = cloud.observe("local", "local").await.unwrap();
    assert_eq!(snapshot.server_groups[0].instances.len(), 2);

    cloud.create_server_group(demo("shop-web-v002", "v2", 1)).await.unwrap();
    eventually("v2 in service", port, |seen| seen.iter().any(|v| v == "v2")).await;
    let elsewhere = Location { account: "prod".into(), ..location() };
    let refused = cloud.disable(&elsewhere, "shop-web-v001").await.unwrap_err();
    assert!(refused.to_string().contains("only account local"), "every call names its account: {refused}");
    cloud.disable(&location(), "shop-web-v001").await.unwrap();
    eventually("only v2", port, |seen| seen.iter().all(|v| v == "v2")).await;
    let snapshot = cloud.observe("local", "local").await.unwrap();
    let old = snapshot.server_groups.iter().find(|g| g.name == "shop-web-v001").unwrap();
    assert!(old.disabled);

    let rule = |cidr: &str| IngressRule { cidr: cidr.into(), protocol: Protocol::Http, start_port: port, end_port: port };
    let outside = SecurityGroup { name: "shop".into(), location: location(), description: String::new(), moniker: None, ingress: vec![rule("10.0.0.0/8")] };
    cloud.upsert_security_group(outside).await.unwrap();
    cloud.upsert_load_balancer(balancer(port, vec!["shop".into()])).await.unwrap();
    eventually("refused from 127.0.0.1", port, |seen| seen.iter().all(|v| v == "refused")).await;
    let inside = SecurityGroup { name: "shop".into(), location: location(), description: String::new(), moniker: None, ingress: vec![rule("127.0.0.0/8")] };
    cloud.upsert_security_group(inside).await.unwrap();
    eventually("admitted again", port, |seen| seen.iter().all(|v| v == "v2")).await;

    // A restart (new provider on the same store) brings it all back.
    cloud.shutdown().await;
    assert_eq!(versions(port, 1).await, ["refused"], "nothing listens while it is down");
    let cloud = LocalCloud::restore(store.clone(), sandbox()).await.unwrap();
    eventually("v2 serving after the restart", port, |seen| seen.iter().all(|v| v == "v2")).await;
    let snapshot = cloud.observe("local", "local").await.unwrap();
    assert_eq!(snapshot.server_groups.len(), 2);
    assert_eq!(snapshot.security_groups.len(), 1);

    cloud.destroy(&location(), "shop-web-v002").await.unwrap();
    cloud.destroy(&location(), "shop-web-v001").await.unwrap();
    cloud.destroy(&location(), "shop-web-v001").await.unwrap();
    eventually("no instances", port, |seen| seen.iter().all(|v| v.starts_with("status 503"))).await;
    cloud.shutdown().await;
}
