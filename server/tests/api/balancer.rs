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
    balancer.set_targets(vec![Target { address: blue.address, enabled: true }, Target { address: green.address, enabled: true }]);
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
    balancer.set_targets(vec![Target { address: blue.address, enabled: false }, Target { address: green.address, enabled: true }]);
    assert!(answers(&client, &balancer, 6).await.iter().all(|s| s == "green"));

    // An instance that dies before the checks notice costs no request: it is retried elsewhere.
    balancer.set_targets(vec![Target { address: blue.address, enabled: true }, Target { address: green.address, enabled: true }]);
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
    balancer.set_targets(vec![Target { address: blue.address, enabled: true }]);
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
