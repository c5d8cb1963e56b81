//! Benchmark: latency (p50/p99) and requests per second straight to an instance and through the
//! local load balancer, in one run, over loopback. Run: `scripts/bench-balancer`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use server::cloud::local::balancer::{Balancer, Target};

const REQUESTS: usize = 5_000;
const CONCURRENCY: usize = 8;

fn percentile(samples: &mut [Duration], fraction: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * fraction).round() as usize]
}

/// Sequential latency, then concurrent throughput, against `url`.
async fn measure(url: &str) -> (Duration, Duration, f64) {
    let client = reqwest::Client::new();
    let mut latencies = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let started = Instant::now();
        let response = client.get(url).send().await.expect("request");
        assert!(response.status().is_success());
        response.bytes().await.expect("body");
        latencies.push(started.elapsed());
    }
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, url) = (client.clone(), url.to_string());
            tokio::spawn(async move {
                for _ in 0..REQUESTS / CONCURRENCY {
                    client.get(&url).send().await.expect("request").bytes().await.expect("body");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }
    let rate = (REQUESTS / CONCURRENCY * CONCURRENCY) as f64 / started.elapsed().as_secs_f64();
    (percentile(&mut latencies, 0.5), percentile(&mut latencies, 0.99), rate)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let app = Router::new().route("/", get(|| async { "hello from the instance" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let instance: SocketAddr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    let balancer = Balancer::start("127.0.0.1:0".parse()?, None).await?;
    balancer.set_targets(vec![Target { address: instance, enabled: true, server_group: "web-v000".into() }]);

    let (direct_p50, direct_p99, direct_rate) = measure(&format!("http://{instance}/")).await;
    let (lb_p50, lb_p99, lb_rate) = measure(&format!("http://{}/", balancer.address())).await;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("direct:       p50 {:.3} ms  p99 {:.3} ms  {direct_rate:.0} req/s ({CONCURRENCY} concurrent)", ms(direct_p50), ms(direct_p99));
    println!("via balancer: p50 {:.3} ms  p99 {:.3} ms  {lb_rate:.0} req/s ({CONCURRENCY} concurrent)", ms(lb_p50), ms(lb_p99));
    println!("the balancer adds {:.3} ms at p50", ms(lb_p50) - ms(direct_p50));
    balancer.stop().await;
    Ok(())
}
