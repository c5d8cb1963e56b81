//! Every singleton leased, with the real binary: several `gennaker serve` processes on one
//! PostgreSQL. A caching agent observes each location on one instance only (the holder of its
//! lease in `poll_leases`), the others serve the same clusters from what it publishes, and when
//! the holder is killed with SIGKILL another takes the lease within the lease time and keeps
//! the cache fresh. The local cloud's processes run on the one instance holding `local-cloud`;
//! another refuses to act on them, naming the holder, and restores them when the holder dies.
//!
//! The caching interval is shortened to 200 ms, so a lease lasts its floor of 2 s
//! (`cloud::leases`).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Connection;

use crate::binary::{RunningBinary, start_binary, stop_with_sigterm};
use crate::durability::{Client, kill_hard};
use crate::helpers::{Db, fresh_database};

/// The lease the agents hold with a 200 ms interval (five intervals, at least 2 s).
const LEASE_MS: u128 = 2_000;
/// What a takeover may take beyond the lease: the next loop of a survivor, on a busy machine.
const SLACK_MS: u128 = 3_000;
const INTERVAL: (&str, &str) = ("GENNAKER_CACHE_INTERVAL_MS", "200");

/// Who holds the lease `name` now.
async fn lease_owner(database_url: &str, name: &str) -> Option<String> {
    let mut connection = sqlx::PgConnection::connect(database_url).await.unwrap();
    let row: Option<(String, i64)> = sqlx::query_as("SELECT owner, lease_until FROM poll_leases WHERE name = $1").bind(name).fetch_optional(&mut connection).await.unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    row.filter(|(_, until)| *until >= now).map(|(owner, _)| owner)
}

/// The instance's name in `poll_leases` begins with its host and port.
fn port_of(running: &RunningBinary) -> String {
    format!(":{} (pid {})", running.address.rsplit(':').next().unwrap(), running.child.id())
}

/// Whether the instance's log says it took the lease `name`.
fn took(running: &RunningBinary, name: &str) -> bool {
    running.output().lines().any(|line| line.contains("took a caching lease") && line.contains(name))
}

/// The application's server groups as REST serves them: (name, desired capacity).
async fn server_groups(client: &Client, application: &str) -> Vec<(String, u64)> {
    let view = client.json(reqwest::Method::GET, &format!("/api/v1/applications/{application}/clusters"), None).await;
    let mut found: Vec<(String, u64)> = view
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|region| region["clusters"].as_array().cloned().unwrap_or_default())
        .flat_map(|cluster| cluster["serverGroups"].as_array().cloned().unwrap_or_default())
        .map(|group| (group["name"].as_str().unwrap().to_string(), group["capacity"]["desired"].as_u64().unwrap()))
        .collect();
    found.sort();
    found
}

async fn eventually<T: std::fmt::Debug>(what: &str, seconds: u64, mut check: impl AsyncFnMut() -> (bool, T)) -> T {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let (done, seen) = check().await;
        if done {
            return seen;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {seen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs a pipeline through `client` (on `running`) and waits for it to succeed.
async fn run(client: &Client, running: &RunningBinary, application: &str, pipeline: &str, parameters: Value) {
    let started = client.json(reqwest::Method::POST, &format!("/api/v1/applications/{application}/pipelines/{pipeline}/executions"), Some(json!({"parameters": parameters}))).await;
    let path = format!("/api/v1/executions/{}", started["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let execution = client.json(reqwest::Method::GET, &path, None).await;
        if execution["status"] == "SUCCEEDED" {
            return;
        }
        let finished = !["NOT_STARTED", "RUNNING", "BUFFERED"].contains(&execution["status"].as_str().unwrap_or_default());
        assert!(!finished && Instant::now() < deadline, "{execution:#}\n{}", running.output());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_location_is_observed_by_one_instance_and_moves_when_it_dies() {
    let moto = crate::aws::moto().await;
    let database_url = fresh_database(Db::Postgres).await;
    let env = [INTERVAL];
    let lease = "cache:aws:aws-test:us-east-1";

    // The first instance alone: it deploys one server group to the emulator.
    let first = start_binary(&database_url, &env);
    let client = Client::new(&first).await;
    client.json(reqwest::Method::POST, "/api/v1/applications", Some(json!({"name": "shop"}))).await;
    let (autoscaling, image) = crate::scale_out::moto_account(&client, &moto.endpoint).await;
    let cluster = json!({"cloudProvider": "aws", "account": "aws-test", "application": "shop", "stack": "web", "freeFormDetails": "",
        "availabilityZones": {"us-east-1": ["us-east-1a"]}, "amiName": image, "instanceType": "t3.small",
        "capacity": {"min": 1, "max": 1, "desired": 1}, "strategy": "none"});
    let deploy = json!({"name": "deploy", "stages": [{"refId": "1", "name": "Deploy", "type": "deploy", "clusters": [cluster]}]});
    client.json(reqwest::Method::POST, "/api/v1/applications/shop/pipelines", Some(deploy)).await;
    run(&client, &first, "shop", "deploy", json!({})).await;

    let second = start_binary(&database_url, &env);
    let third = start_binary(&database_url, &env);
    let clients = [client.at(&first), client.at(&second), client.at(&third)];

    // All three serve the same clusters; only the first observes (it holds the lease, and the
    // others never took it).
    let expected = vec![("shop-web-v000".to_string(), 1)];
    for client in &clients {
        eventually("the server group on every instance", 20, async || {
            let seen = server_groups(client, "shop").await;
            (seen == expected, seen)
        })
        .await;
    }
    let owner = lease_owner(&database_url, lease).await.expect("a holder");
    assert!(owner.contains(&port_of(&first)), "the first instance holds {lease}: {owner}");
    // A few of the others' loops go by: they follow, they never take it.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert!(took(&first, lease));
    assert!(!took(&second, lease) && !took(&third, lease), "only the holder observes {lease}");
    let mut database = sqlx::PgConnection::connect(&database_url).await.unwrap();
    let (holder,): (String,) = sqlx::query_as("SELECT holder FROM cache_snapshots WHERE location = 'aws:aws-test:us-east-1'").fetch_one(&mut database).await.unwrap();
    assert!(holder.contains(&port_of(&first)), "the holder published the snapshot: {holder}");

    // The holder dies: another instance takes the lease within the lease time.
    let killed_at = Instant::now();
    kill_hard(first);
    let new_owner = eventually("another holder", 20, async || {
        let owner = lease_owner(&database_url, lease).await;
        (owner.as_ref().is_some_and(|owner| *owner != holder), owner)
    })
    .await
    .unwrap();
    let moved_after = killed_at.elapsed().as_millis();
    println!("{lease} moved to {new_owner} {moved_after} ms after the kill");
    assert!(moved_after <= LEASE_MS + SLACK_MS, "the lease moved within its lease time: {moved_after} ms");
    assert_eq!(u8::from(took(&second, lease)) + u8::from(took(&third, lease)), 1, "one survivor took the lease");

    // A change made in the cloud after the kill shows on both survivors.
    autoscaling.update_auto_scaling_group().auto_scaling_group_name("shop-web-v000").max_size(2).desired_capacity(2).send().await.unwrap();
    let expected = vec![("shop-web-v000".to_string(), 2)];
    for client in &clients[1..] {
        eventually("the change on every survivor", 20, async || {
            let seen = server_groups(client, "shop").await;
            (seen == expected, seen)
        })
        .await;
    }
    drop(stop_with_sigterm(second));
    drop(stop_with_sigterm(third));
}

/// The process ids of a local server group's instances as `client`'s instance serves them.
async fn instance_pids(client: &Client, name: &str) -> Vec<u64> {
    let detail = client.json(reqwest::Method::GET, &format!("/api/v1/applications/ops/serverGroups/local/local/{name}"), None).await;
    detail["instances"].as_array().unwrap().iter().filter_map(|instance| instance["pid"].as_u64()).collect()
}

fn alive(pid: u64) -> bool {
    std::process::Command::new("kill").args(["-0", &pid.to_string()]).status().unwrap().success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_cloud_runs_on_one_instance_and_moves_when_it_dies() {
    let database_url = fresh_database(Db::Postgres).await;
    // Each instance its own work folder, as on two machines.
    let work = |n: u32| std::env::temp_dir().join(format!("gennaker-leases-{}-{n}", std::process::id())).display().to_string();
    let (work_first, work_second) = (work(1), work(2));

    let first = start_binary(&database_url, &[INTERVAL, ("GENNAKER_WORK_DIR", work_first.as_str())]);
    let client = Client::new(&first).await;
    client.json(reqwest::Method::POST, "/api/v1/applications", Some(json!({"name": "ops"}))).await;
    // `demo-app` runs through the sandbox's link to gennaker, which the unprivileged user may reach.
    let command = json!(["demo-app", "--version", "v1"]);
    let cluster = json!({"cloudProvider": "local", "account": "local", "region": "local", "application": "ops", "stack": "web", "freeFormDetails": "",
        "capacity": {"min": 1, "max": 1, "desired": 1}, "artifact": {"command": command, "version": "v1"},
        "loadBalancers": [], "securityGroups": [], "strategy": "none"});
    let deploy = json!({"name": "deploy", "stages": [{"refId": "1", "name": "Deploy", "type": "deploy", "clusters": [cluster]}]});
    client.json(reqwest::Method::POST, "/api/v1/applications/ops/pipelines", Some(deploy)).await;
    run(&client, &first, "ops", "deploy", json!({})).await;
    let before = eventually("the instance up on the first", 20, async || {
        let pids = instance_pids(&client, "ops-web-v000").await;
        (pids.len() == 1, pids)
    })
    .await;

    // The second serves the same server group from what the first published, runs nothing
    // itself and refuses what only the holder may do, naming it.
    let second = start_binary(&database_url, &[INTERVAL, ("GENNAKER_WORK_DIR", work_second.as_str())]);
    let follower = client.at(&second);
    eventually("the first's instance on the second", 20, async || {
        let pids = instance_pids(&follower, "ops-web-v000").await;
        (pids == before, pids)
    })
    .await;
    let owner = lease_owner(&database_url, "local-cloud").await.expect("a holder");
    assert!(owner.contains(&port_of(&first)), "the first instance runs the local cloud: {owner}");
    let refused = follower.send(reqwest::Method::GET, "/api/v1/applications/ops/serverGroups/local/local/ops-web-v000/buildLog", None).await;
    assert!(!refused.status().is_success());
    let message = refused.text().await.unwrap();
    assert!(message.contains("it holds the local-cloud lease") && message.contains(&port_of(&first)), "the refusal names the holder: {message}");
    assert!(!second.output().contains("restoring the local cloud"), "the second starts no local process");

    // The holder dies (its instance lives on, an orphan): the second takes the lease within
    // the lease time and restores the server group from the store, with processes of its own.
    let killed_at = Instant::now();
    kill_hard(first);
    eventually("the second holding local-cloud", 20, async || {
        let owner = lease_owner(&database_url, "local-cloud").await;
        (owner.as_ref().is_some_and(|owner| owner.contains(&port_of(&second))), owner)
    })
    .await;
    let moved_after = killed_at.elapsed().as_millis();
    println!("local-cloud moved {moved_after} ms after the kill");
    assert!(moved_after <= LEASE_MS + SLACK_MS, "the lease moved within its lease time: {moved_after} ms");
    let restored = eventually("the instance restored by the second", 20, async || {
        let pids = instance_pids(&follower, "ops-web-v000").await;
        (pids.len() == 1 && pids != before && pids.iter().all(|pid| alive(*pid)), pids)
    })
    .await;

    // It acts on the local cloud now: a resize after the kill shows at once.
    let resize = json!({"application": "ops", "description": "grow", "job": [{"type": "resizeServerGroup", "cloudProvider": "local", "account": "local",
        "region": "local", "serverGroupName": "ops-web-v000", "action": "scale_exact", "capacity": {"min": 2, "max": 2, "desired": 2}}]});
    let task = follower.json(reqwest::Method::POST, "/api/v1/tasks", Some(resize)).await;
    let path = format!("/api/v1/tasks/{}", task["id"].as_str().unwrap());
    let task = eventually("the resize", 60, async || {
        let task = follower.json(reqwest::Method::GET, &path, None).await;
        (!["NOT_STARTED", "RUNNING", "BUFFERED"].contains(&task["status"].as_str().unwrap_or_default()), task)
    })
    .await;
    assert_eq!(task["status"], "SUCCEEDED", "{task:#}");
    eventually("two instances", 20, async || {
        let pids = instance_pids(&follower, "ops-web-v000").await;
        (pids.len() == 2 && pids.contains(&restored[0]), pids)
    })
    .await;

    // A clean stop (a rolling restart) hands the lease over at once rather than when it runs
    // out: the holder gives it up as it exits, after stopping its processes, and a third
    // instance restores them.
    let work_third = work(3);
    let third = start_binary(&database_url, &[INTERVAL, ("GENNAKER_WORK_DIR", work_third.as_str())]);
    let stopped = stop_with_sigterm(second);
    let owner = lease_owner(&database_url, "local-cloud").await;
    assert!(!owner.as_ref().is_some_and(|owner| owner.contains(&port_of(&stopped))), "the stopped holder gave local-cloud up: {owner:?}");
    assert!(stopped.output().contains("caching leases given up"), "{}", stopped.output());
    drop(stopped);
    let successor = client.at(&third);
    eventually("the third running the server group", 20, async || {
        let pids = instance_pids(&successor, "ops-web-v000").await;
        (pids.len() == 2 && !pids.contains(&restored[0]) && pids.iter().all(|pid| alive(*pid)), pids)
    })
    .await;
    assert!(lease_owner(&database_url, "local-cloud").await.is_some_and(|owner| owner.contains(&port_of(&third))));

    drop(stop_with_sigterm(third));
    // The killed holder's instance outlived it; the test leaves nothing behind.
    for pid in before {
        let _ = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    }
    for folder in [work_first, work_second, work_third] {
        let _ = std::fs::remove_dir_all(folder);
    }
}
