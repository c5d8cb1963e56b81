//! `gennaker demo-app`, the service the local cloud deploys, as a real process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::helpers::binary;

struct Demo {
    child: Child,
    address: String,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Demo {
    let mut child = Command::new(binary())
        .args(["demo-app", "--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let address = line.trim().rsplit(' ').next().unwrap().to_string();
    Demo { child, address: format!("http://{address}") }
}

#[tokio::test]
async fn answers_version_health_and_metrics() {
    let demo = start(&["--version", "v2", "--color", "green"]);
    let client = reqwest::Client::new();
    let root: Value = client.get(&demo.address).send().await.unwrap().json().await.unwrap();
    assert_eq!(root["version"], "v2");
    assert_eq!(root["color"], "green");
    let page = client.get(&demo.address).header("accept", "text/html").send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<h1>v2</h1>") && page.contains("background:green"));
    assert_eq!(client.get(format!("{}/health", demo.address)).send().await.unwrap().status(), 200);
    let metrics = client.get(format!("{}/metrics", demo.address)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("demo_requests_total{code=\"200\"} 2"), "{metrics}");
}

#[tokio::test]
async fn can_be_made_failing_and_unhealthy() {
    let demo = start(&["--fail-percent", "25", "--unhealthy"]);
    let client = reqwest::Client::new();
    let mut failed = 0;
    for _ in 0..100 {
        if client.get(&demo.address).send().await.unwrap().status() == 500 {
            failed += 1;
        }
    }
    assert_eq!(failed, 25, "exactly the share asked for");
    assert_eq!(client.get(format!("{}/health", demo.address)).send().await.unwrap().status(), 503);
}
