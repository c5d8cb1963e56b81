//! Local cloud instances as real processes (`gennaker demo-app`): started on their own ports,
//! replaced when killed, resized, stopped.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use server::cloud::local::processes::{InstanceSpec, ProcessGroup};

async fn healthy(client: &reqwest::Client, address: std::net::SocketAddr) -> bool {
    client.get(format!("http://{address}/health")).send().await.is_ok_and(|r| r.status().is_success())
}

async fn all_healthy(group: &ProcessGroup, count: usize) -> Vec<server::cloud::local::processes::InstanceInfo> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let instances = group.instances();
        let mut up = 0;
        for instance in &instances {
            if healthy(&client, instance.address).await {
                up += 1;
            }
        }
        if instances.len() == count && up == count {
            return instances;
        }
        assert!(Instant::now() < deadline, "expected {count} healthy instances, have {up} of {}", instances.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn instances_run_are_replaced_resized_and_stopped() {
    // Integration tests run from the test binary: point `demo-app` at the real gennaker binary.
    let spec = InstanceSpec {
        command: vec![env!("CARGO_BIN_EXE_gennaker").to_string(), "demo-app".into(), "--version".into(), "v7".into()],
        env: BTreeMap::new(),
        directory: None,
    };
    let sandbox = server::cloud::local::sandbox::Sandbox::prepare(&std::env::temp_dir().join("gennaker-work-tests"), None).unwrap();
    let group = ProcessGroup::start("shop-web-v001", spec, 2, std::sync::Arc::new(sandbox));
    let first = all_healthy(&group, 2).await;
    let answer: serde_json::Value = reqwest::get(format!("http://{}/", first[0].address)).await.unwrap().json().await.unwrap();
    assert_eq!(answer["version"], "v7");
    assert_eq!(answer["instance"], first[0].name.as_str(), "each instance knows its name");

    let victim = first[0].clone();
    std::process::Command::new("kill").args(["-9", &victim.pid.unwrap().to_string()]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let now = group.instances();
        if now.len() == 2 && !now.iter().any(|i| i.name == victim.name) {
            break;
        }
        assert!(Instant::now() < deadline, "the killed instance was not replaced");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    all_healthy(&group, 2).await;

    group.resize(1);
    let one = all_healthy(&group, 1).await;
    let addresses: Vec<_> = group.instances().iter().map(|i| i.address).collect();
    group.stop().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = reqwest::Client::new();
    for address in addresses {
        assert!(!healthy(&client, address).await, "stopped instances are gone");
    }
    assert_eq!(one.len(), 1);
}
