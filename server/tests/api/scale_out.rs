//! Scale-out with the real binary: three `gennaker serve` processes on one PostgreSQL, with an
//! AWS account on a real emulator (moto) that all three reach. Runs are started on all three;
//! one is killed with SIGKILL while deploys run and judgments wait. Every run finishes, no stage
//! runs twice (the event log) and no server group is created twice (the provider's own state),
//! a live socket on the killed instance resumes on another and misses nothing, and the cron
//! poll lease the killed instance held moves to another within its lease time.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::binary::{RunningBinary, start_binary, stop_with_sigterm};
use crate::durability::{Client, assert_each_stage_ran_once, event_log, kill_hard};
use crate::helpers::{Db, fresh_database};

/// Adds the AWS account `aws-test` on the emulator at `endpoint` through REST (its key a stored
/// secret): the emulator's Auto Scaling client, to look at its own state, and an image it knows.
pub(crate) async fn moto_account(client: &Client, endpoint: &str) -> (aws_sdk_autoscaling::Client, String) {
    let secret = json!({"name": "aws-key", "value": "{\"accessKeyId\": \"testing\", \"secretAccessKey\": \"testing\"}", "roles": [], "applications": []});
    client.json(reqwest::Method::POST, "/api/v1/secrets", Some(secret)).await;
    let account = json!({"cloudProvider": "aws", "regions": ["us-east-1"], "aws": {"credentialsSecret": "aws-key", "endpoint": endpoint}});
    client.json(reqwest::Method::PUT, "/api/v1/clouds/accounts/aws-test", Some(account)).await;
    let (ec2, autoscaling) = crate::aws::ec2_and_autoscaling(endpoint).await;
    let image = ec2.describe_images().owners("amazon").send().await.unwrap().images().iter().find_map(|image| image.name().map(str::to_string)).unwrap();
    (autoscaling, image)
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The cron poll lease (`triggers::cron`).
const CRON_LEASE_MS: i64 = 10_000;

async fn subscribe(client: &Client, application: &str, after: i64) -> Socket {
    let mut request = format!("{}/api/v1/ws", client.address).replace("http://", "ws://").into_client_request().unwrap();
    request.headers_mut().insert("cookie", client.cookie.parse().unwrap());
    request.headers_mut().insert("origin", client.address.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket.send(Message::Text(json!({"application": application, "after": after}).to_string().into())).await.unwrap();
    socket
}

/// Reads events until the socket ends (its instance died) or stays quiet for `quiet`: the
/// sequence numbers seen, in order.
async fn read_events(socket: &mut Socket, quiet: Duration, seen: &mut Vec<i64>) -> bool {
    loop {
        match tokio::time::timeout(quiet, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                let event: Value = serde_json::from_str(&text).unwrap();
                let seq = event["seq"].as_i64().unwrap_or_else(|| panic!("an event: {event}"));
                seen.push(seq);
            }
            Ok(Some(Ok(_))) => {}
            // Ended: the instance is gone.
            Ok(None | Some(Err(_))) => return false,
            Err(_) => return true,
        }
    }
}

async fn status(client: &Client, id: &str) -> Value {
    client.json(reqwest::Method::GET, &format!("/api/v1/executions/{id}"), None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_the_work_and_lose_nothing_when_one_is_killed() {
    let moto = crate::aws::moto().await;
    let database_url = fresh_database(Db::Postgres).await;
    // A short engine lease, so the killed instance's messages move on within seconds.
    let env = [("GENNAKER_ENGINE_LEASE_MS", "3000"), ("GENNAKER_WORKERS", "2")];

    // The first instance alone first: it sets the database up and takes the cron poll lease.
    let first = start_binary(&database_url, &env);
    let client = Client::new(&first).await;
    for application in ["shop", "ticks"] {
        client.json(reqwest::Method::POST, "/api/v1/applications", Some(json!({"name": application}))).await;
    }
    let (autoscaling, image) = moto_account(&client, &moto.endpoint).await;

    let cron = json!({"name": "every-two-seconds", "limitConcurrent": false, "triggers": [{"type": "cron", "cronExpression": "*/2 * * * * ?"}],
        "stages": [{"refId": "1", "name": "Tick", "type": "evaluateVariables", "variables": [{"key": "tick", "value": 1}]}]});
    client.json(reqwest::Method::POST, "/api/v1/applications/ticks/pipelines", Some(cron)).await;
    let judged = json!({"name": "judged", "limitConcurrent": false, "stages": [
        {"refId": "1", "name": "Approve", "type": "manualJudgment"},
        {"refId": "2", "name": "After", "type": "evaluateVariables", "variables": [{"key": "done", "value": true}], "requisiteStageRefIds": ["1"]}]});
    client.json(reqwest::Method::POST, "/api/v1/applications/shop/pipelines", Some(judged)).await;
    let cluster = json!({"cloudProvider": "aws", "account": "aws-test", "application": "shop", "stack": "${parameters.stack}", "freeFormDetails": "",
        "availabilityZones": {"us-east-1": ["us-east-1a"]}, "amiName": image, "instanceType": "t3.small",
        "capacity": {"min": 1, "max": 1, "desired": 1}, "strategy": "redblack", "maxRemainingAsgs": 2,
        // Holds each deploy open a few seconds after its server group is up: the kill lands mid-deploy.
        "delayBeforeCleanup": 4});
    let deploy = json!({"name": "deploy", "limitConcurrent": false, "parameterConfig": [{"name": "stack", "required": true}],
        "stages": [{"refId": "1", "name": "Deploy", "type": "deploy", "clusters": [cluster]},
                   {"refId": "2", "name": "After", "type": "evaluateVariables", "variables": [{"key": "done", "value": true}], "requisiteStageRefIds": ["1"]}]});
    client.json(reqwest::Method::POST, "/api/v1/applications/shop/pipelines", Some(deploy)).await;

    // The cron trigger fires on the first instance (the only one yet, so it holds the lease).
    let cron_runs = async |client: &Client| -> Vec<i64> {
        let runs = client.json(reqwest::Method::GET, "/api/v1/executions?application=ticks&limit=500", None).await;
        let mut times: Vec<i64> = runs.as_array().unwrap().iter().filter_map(|run| run["trigger"]["scheduledTime"].as_i64()).collect();
        times.sort_unstable();
        times
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while cron_runs(&client).await.is_empty() {
        assert!(Instant::now() < deadline, "the cron trigger never fired");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let second = start_binary(&database_url, &env);
    let third = start_binary(&database_url, &env);
    let instances: [&RunningBinary; 3] = [&first, &second, &third];
    let clients: Vec<Client> = instances.iter().map(|running| client.at(running)).collect();

    // A watcher on the instance about to die.
    let mut socket = subscribe(&clients[0], "shop", 0).await;
    let mut seen = Vec::new();

    // Runs started on all three: a judgment each and a deploy each, on its own stack.
    let mut judgments = Vec::new();
    let mut deploys = Vec::new();
    for (index, client) in clients.iter().enumerate() {
        for round in 0..2 {
            let run = client.json(reqwest::Method::POST, "/api/v1/applications/shop/pipelines/judged/executions", None).await;
            judgments.push(run["id"].as_str().unwrap().to_string());
            let stack = format!("s{index}{round}");
            let run = client.json(reqwest::Method::POST, "/api/v1/applications/shop/pipelines/deploy/executions", Some(json!({"parameters": {"stack": stack}}))).await;
            deploys.push((stack, run["id"].as_str().unwrap().to_string()));
        }
    }
    // Mid-deploy and mid-judgment: the deploys are in flight, the judgments wait.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let alive = read_events(&mut socket, Duration::from_millis(200), &mut seen).await;
    assert!(alive, "the watcher's instance is still up");
    // Not finished: still in its first step (committed with the step, so NOT_STARTED until
    // then, the provider already called) or waiting out its delay.
    let mut unfinished = 0;
    for (_, id) in &deploys {
        if status(&clients[1], id).await["status"] != "SUCCEEDED" {
            unfinished += 1;
        }
    }
    assert!(unfinished > 0, "the kill comes while deploys run");
    let killed_at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let [first, second, third] = [first, second, third];
    kill_hard(first);
    let client = &clients[1];

    // The watcher's socket ends with its instance; it resumes on another from its last event.
    assert!(!read_events(&mut socket, Duration::from_secs(10), &mut seen).await, "the socket ended when its instance died");
    let resumed_after = seen.last().copied().unwrap_or(0);
    let mut socket = subscribe(client, "shop", resumed_after).await;

    // Judge every judgment through the survivors, once each is waiting.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut judged = BTreeSet::new();
    loop {
        let mut finished = 0;
        for id in judgments.iter().chain(deploys.iter().map(|(_, id)| id)) {
            let execution = status(client, id).await;
            assert!(!["TERMINAL", "CANCELED"].contains(&execution["status"].as_str().unwrap()), "{execution:#}");
            if judgments.contains(id) && execution["stages"][0]["status"] == "RUNNING" && judged.insert(id.clone()) {
                let stage = execution["stages"][0]["id"].as_str().unwrap();
                let survivor = &clients[1 + judged.len() % 2];
                survivor.json(reqwest::Method::PATCH, &format!("/api/v1/executions/{id}/stages/{stage}"), Some(json!({"judgmentStatus": "continue"}))).await;
            }
            if execution["status"] == "SUCCEEDED" {
                finished += 1;
            }
        }
        if finished == judgments.len() + deploys.len() {
            break;
        }
        assert!(Instant::now() < deadline, "the runs did not all finish after the kill");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // The watcher missed nothing and got nothing twice: what it saw across both instances is
    // the application's event log, in order.
    read_events(&mut socket, Duration::from_secs(3), &mut seen).await;
    let mut replay = subscribe(client, "shop", 0).await;
    let mut everything = Vec::new();
    read_events(&mut replay, Duration::from_secs(3), &mut everything).await;
    assert!(!everything.is_empty());
    assert_eq!(seen, everything, "across the kill the watcher saw every event once, in order");

    // No server group was created twice: each stack has exactly its first one.
    for (stack, _) in &deploys {
        let cluster = format!("shop-{stack}");
        let groups = autoscaling.describe_auto_scaling_groups().send().await.unwrap();
        let names: Vec<&str> = groups.auto_scaling_groups().iter().filter_map(|group| group.auto_scaling_group_name()).filter(|name| name.starts_with(&format!("{cluster}-v"))).collect();
        assert_eq!(names, [format!("{cluster}-v000").as_str()], "one server group for {cluster}");
    }

    // The cron lease moved: ticks go on after the kill, the first within the lease time.
    let deadline = Instant::now() + Duration::from_secs(30);
    let after_kill = loop {
        let later: Vec<i64> = cron_runs(client).await.into_iter().filter(|at| *at > killed_at).collect();
        if let Some(first_later) = later.first() {
            break *first_later;
        }
        assert!(Instant::now() < deadline, "no cron run after the kill");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    println!("killed with {unfinished} of {} deploys running and {} judgments waiting; the next cron run came {} ms later", deploys.len(), judgments.len(), after_kill - killed_at);
    assert!(after_kill - killed_at <= CRON_LEASE_MS + 4_000, "the cron lease moved within its lease time: {} ms", after_kill - killed_at);
    let times = cron_runs(client).await;
    let distinct: BTreeSet<&i64> = times.iter().collect();
    assert_eq!(distinct.len(), times.len(), "each cron occurrence ran once across three instances");

    drop(stop_with_sigterm(second));
    drop(stop_with_sigterm(third));
    let events = event_log(&database_url).await;
    assert_each_stage_ran_once(&events);
}
