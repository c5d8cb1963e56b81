//! The local cloud's load balancer over real sockets: round robin over healthy, enabled
//! instances; health checks with thresholds; draining disabled instances; retrying when an
//! instance dies; security group ingress rules refusing connections.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use server::cloud::cidr::Cidr;
use server::cloud::local::balancer::{Balancer, HealthCheck, Target};

/// An instance: answers `/` with its name; `/health` follows its switch.
struct Instance {
    address: SocketAddr,
    healthy: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

async fn instance(name: &'static str) -> Instance {
    let healthy = Arc::new(AtomicBool::new(true));
    let app = Router::new()
        .route("/", get(move || async move { name }))
        .route("/health", get(|State(ok): State<Arc<AtomicBool>>| async move {
            if ok.load(Ordering::SeqCst) { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }
        }))
        .with_state(healthy.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Instance { address, healthy, task }
}

fn check() -> HealthCheck {
    HealthCheck { path: "/health".into(), interval: Duration::from_millis(50), timeout: Duration::from_millis(200), healthy_threshold: 2, unhealthy_threshold: 2 }
}

async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn answers(client: &reqwest::Client, balancer: &Balancer, n: usize) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..n {
        let response = client.get(format!("http://{}/", balancer.address())).send().await.unwrap();
        assert_eq!(response.status(), 200);
        seen.push(response.text().await.unwrap());
    }
    seen
}

#[tokio::test]
async fn balances_checks_health_drains_and_survives_a_dying_instance() {
    let (blue, green) = (instance("blue").await, instance("green").await);
    let balancer = Balancer::start("127.0.0.1:0".parse().unwrap(), Some(check())).await.unwrap();
    balancer.set_targets(vec![Target { address: blue.address, enabled: true, server_group: "web-blue-v000".into() }, Target { address: green.address, enabled: true, server_group: "web-green-v000".into() }]);
    assert!(balancer.in_service().is_empty(), "new instances wait for their health checks");
    let unavailable = reqwest::get(format!("http://{}/", balancer.address())).await.unwrap();
    assert_eq!(unavailable.status(), 503);
    eventually("both healthy", || balancer.in_service().len() == 2).await;

    let client = reqwest::Client::new();
    let seen = answers(&client, &balancer, 10).await;
    assert_eq!(seen.iter().filter(|s| *s == "blue").count(), 5, "round robin: {seen:?}");

    // Unhealthy instances leave the rotation after `unhealthyThreshold` failed checks.
    green.healthy.store(false, Ordering::SeqCst);
    eventually("green out", || balancer.in_service() == vec![blue.address]).await;
    assert!(answers(&client, &balancer, 6).await.iter().all(|s| s == "blue"));
    green.healthy.store(true, Ordering::SeqCst);
    eventually("green back", || balancer.in_service().len() == 2).await;

    // Disabling a server group drains it: no new requests go there.
    balancer.set_targets(vec![Target { address: blue.address, enabled: false, server_group: "web-blue-v000".into() }, Target { address: green.address, enabled: true, server_group: "web-green-v000".into() }]);
    assert!(answers(&client, &balancer, 6).await.iter().all(|s| s == "green"));

    // An instance that dies before the checks notice costs no request: it is retried elsewhere.
    balancer.set_targets(vec![Target { address: blue.address, enabled: true, server_group: "web-blue-v000".into() }, Target { address: green.address, enabled: true, server_group: "web-green-v000".into() }]);
    green.task.abort();
    let _ = green.task.await;
    let fresh = reqwest::Client::new();
    assert!(answers(&fresh, &balancer, 10).await.iter().all(|s| s == "blue"));
    balancer.stop().await;
    blue.task.abort();
}

#[tokio::test]
async fn security_group_rules_refuse_connections_from_outside() {
    let blue = instance("blue").await;
    let balancer = Balancer::start("127.0.0.1:0".parse().unwrap(), None).await.unwrap();
    balancer.set_targets(vec![Target { address: blue.address, enabled: true, server_group: "web-blue-v000".into() }]);
    let url = format!("http://{}/", balancer.address());
    assert_eq!(reqwest::get(&url).await.unwrap().text().await.unwrap(), "blue");

    balancer.set_ingress(Some(vec!["10.0.0.0/8".parse::<Cidr>().unwrap()]));
    let refused = reqwest::Client::new().get(&url).send().await;
    assert!(refused.is_err(), "a rule that excludes 127.0.0.0/8 refuses the connection");

    balancer.set_ingress(Some(vec!["127.0.0.0/8".parse::<Cidr>().unwrap()]));
    assert_eq!(reqwest::Client::new().get(&url).send().await.unwrap().status(), 200);
    balancer.stop().await;
    blue.task.abort();
}

#[tokio::test]
async fn weights_split_traffic_exactly_between_server_groups_and_each_groups_answers_are_counted() {
    let (blue, green, spare) = (instance("blue").await, instance("green").await, instance("spare").await);
    let balancer = Balancer::start("127.0.0.1:0".parse().unwrap(), None).await.unwrap();
    let target = |instance: &Instance, group: &str| Target { address: instance.address, enabled: true, server_group: group.into() };
    balancer.set_targets(vec![target(&blue, "web-v001"), target(&spare, "web-v001"), target(&green, "web-canary-v000")]);
    // 90/10: of 100 requests, exactly 10 reach the canary; both of the other group's instances
    // share the rest.
    balancer.set_weights(Some([("web-v001".to_string(), 90), ("web-canary-v000".to_string(), 10)].into()));
    let client = reqwest::Client::new();
    let seen = answers(&client, &balancer, 100).await;
    assert_eq!(seen.iter().filter(|s| *s == "green").count(), 10, "{seen:?}");
    assert!(seen.iter().filter(|s| *s == "blue").count() == 45 && seen.iter().filter(|s| *s == "spare").count() == 45, "{seen:?}");

    // A group left out of the weights gets nothing; a weighted group with no instance in
    // service gives its share to the others.
    balancer.set_weights(Some([("web-canary-v000".to_string(), 100)].into()));
    assert!(answers(&client, &balancer, 10).await.iter().all(|s| s == "green"));
    green.task.abort();
    let _ = green.task.await;
    balancer.set_targets(vec![target(&blue, "web-v001"), target(&spare, "web-v001")]);
    balancer.set_weights(Some([("web-v001".to_string(), 0), ("web-canary-v000".to_string(), 100)].into()));
    assert_eq!(answers(&client, &balancer, 4).await.len(), 4, "nothing weighted in service: every instance serves");

    // Counts by server group and status, with latency.
    let traffic = balancer.traffic();
    let v001 = &traffic.iter().find(|(group, _)| group == "web-v001").unwrap().1;
    assert_eq!(v001.by_status.get(&200), Some(&94));
    assert_eq!(v001.count, 94);
    assert_eq!(v001.latency_buckets.iter().sum::<u64>(), 94);
    assert!(traffic.iter().all(|(group, _)| group != "web-canary-v000"), "a group no longer behind the balancer has no series: {traffic:?}");
    balancer.set_weights(None);
    assert_eq!(balancer.weights(), None);
    balancer.stop().await;
    blue.task.abort();
    spare.task.abort();
}
