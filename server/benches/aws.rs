//! Benchmark against the AWS emulator (moto's server from PyPI, started here on a free port):
//! the time of a red/black deploy of a 2-instance server group behind a load balancer (the
//! deploy stage from start to end: create the Auto Scaling group, wait for its instances to
//! be healthy in the target group, disable the previous one), and the caching agent's time to
//! observe a region holding 100 server groups (every Describe call of one refresh). moto
//! answers at once where AWS takes minutes to launch instances: the deploy figure is
//! gennaker's own overhead, not a real AWS deploy's time.
//! Run: `scripts/bench-aws` (or `cargo bench -p server --bench aws` with GENNAKER_TEST_PYTHON set).

use std::time::{Duration, Instant};

use app::model::cluster::Location;
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
    let python = std::env::var("GENNAKER_TEST_PYTHON").map_err(|_| anyhow::anyhow!("GENNAKER_TEST_PYTHON: run scripts/bench-aws"))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let _moto = tokio::process::Command::new(std::path::Path::new(&python).with_file_name("moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("{endpoint}/moto-api/")).await.is_err() {
        anyhow::ensure!(Instant::now() < deadline, "moto never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let dir = std::env::temp_dir().join(format!("gennaker-bench-aws-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config = ServeConfig::for_tests(&format!("sqlite://{}/bench.db", dir.display()));
    let server = Server::build(&config).await?;
    let base = format!("http://{}", server.local_addr());
    let clouds = server.state.engine.clouds().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let session = client.post(format!("{base}/api/v1/session")).json(&json!({"username": "admin", "password": server::config::TEST_ADMIN_PASSWORD})).send().await?;
    let cookie = session.headers()["set-cookie"].to_str()?.split(';').next().unwrap_or_default().to_string();
    let token: Value = client.post(format!("{base}/api/v1/tokens")).header("cookie", cookie).header("origin", &base).json(&json!({"name": "bench"})).send().await?.json().await?;
    let auth = format!("Bearer {}", token["secret"].as_str().unwrap_or_default());
    let call = |method: reqwest::Method, path: &str, body: Value| client.request(method, format!("{base}{path}")).header("authorization", &auth).json(&body).send();
    let ok = |response: reqwest::Response, what: &str| -> anyhow::Result<reqwest::Response> {
        anyhow::ensure!(response.status().is_success(), "{what}: {}", response.status());
        Ok(response)
    };
    ok(call(reqwest::Method::POST, "/api/v1/applications", json!({"name": "bench"})).await?, "application")?;
    let key = json!({"name": "bench-key", "value": "{\"accessKeyId\": \"testing\", \"secretAccessKey\": \"testing\"}", "roles": [], "applications": []});
    ok(call(reqwest::Method::POST, "/api/v1/secrets", key).await?, "secret")?;
    let account = json!({"cloudProvider": "aws", "regions": ["us-east-1"], "aws": {"credentialsSecret": "bench-key", "endpoint": endpoint}});
    ok(call(reqwest::Method::PUT, "/api/v1/clouds/accounts/bench", account).await?, "account")?;
    let balancer = json!({"cloudProvider": "aws", "account": "bench", "region": "us-east-1", "application": "bench", "listeners": [{"port": 80, "protocol": "http"}]});
    ok(call(reqwest::Method::POST, "/api/v1/loadBalancers", balancer).await?, "load balancer")?;
    let aws = clouds.aws().ok_or_else(|| anyhow::anyhow!("no AWS provider"))?.clone();
    let ec2 = aws.clients("bench", "us-east-1").await?.ec2;
    let images = ec2.describe_images().owners("amazon").send().await?;
    let image = images.images().iter().find_map(|image| image.image_id()).unwrap_or_default().to_string();

    let pipeline = json!({"name": "red/black", "stages": [{"refId": "1", "type": "deploy", "name": "Deploy", "clusters": [{
        "cloudProvider": "aws", "account": "bench", "application": "bench", "stack": "", "freeFormDetails": "",
        "availabilityZones": {"us-east-1": ["us-east-1a"]}, "imageId": image, "capacity": {"min": 2, "max": 2, "desired": 2},
        "targetGroups": ["bench"], "strategy": "redblack", "maxRemainingAsgs": 2}]}]});
    let saved: Value = ok(call(reqwest::Method::POST, "/api/v1/applications/bench/pipelines", pipeline).await?, "pipeline")?.json().await?;
    let id = saved["id"].as_str().unwrap_or_default().to_string();
    let mut deploys = Vec::new();
    for round in 0..=ROUNDS {
        let clock = Instant::now();
        let started: Value = call(reqwest::Method::POST, &format!("/api/v1/applications/bench/pipelines/{id}/executions"), json!({})).await?.json().await?;
        let execution_id = started["id"].as_str().unwrap_or_default().to_string();
        let deadline = Instant::now() + Duration::from_secs(120);
        let execution = loop {
            let execution: Value = client.get(format!("{base}/api/v1/executions/{execution_id}")).header("authorization", &auth).send().await?.json().await?;
            if ["SUCCEEDED", "TERMINAL", "CANCELED"].contains(&execution["status"].as_str().unwrap_or_default()) {
                break execution;
            }
            anyhow::ensure!(Instant::now() < deadline, "round {round} did not end");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        anyhow::ensure!(execution["status"] == "SUCCEEDED", "round {round}: {execution}");
        // The first round makes the clients and the first server group.
        if round > 0 {
            // Wall time from the start request to seeing it SUCCEEDED (polled every 20 ms).
            deploys.push(clock.elapsed());
        }
    }

    // 100 server groups in the region, made straight through the API as another tool would.
    let autoscaling = aws.clients("bench", "us-east-1").await?.autoscaling;
    ec2.create_launch_template()
        .launch_template_name("many")
        .launch_template_data(aws_sdk_ec2::types::RequestLaunchTemplateData::builder().image_id(&image).instance_type(aws_sdk_ec2::types::InstanceType::T3Micro).build())
        .send()
        .await?;
    let existing = autoscaling.describe_auto_scaling_groups().send().await?.auto_scaling_groups().len();
    for index in existing..100 {
        autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(format!("many-v{index:03}"))
            .launch_template(aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder().launch_template_name("many").version("$Latest").build())
            .min_size(1)
            .max_size(1)
            .desired_capacity(1)
            .availability_zones("us-east-1a")
            .send()
            .await?;
    }
    let location = Location { cloud_provider: "aws".into(), account: "bench".into(), region: "us-east-1".into() };
    let mut refreshes = Vec::new();
    for _ in 0..ROUNDS {
        let started = Instant::now();
        clouds.refresh(&location).await?;
        refreshes.push(started.elapsed());
    }
    let groups = clouds.cache.snapshot(&location).map(|snapshot| snapshot.server_groups.len()).unwrap_or_default();

    println!("red/black deploy of a 2-instance server group on the emulator (start request to SUCCEEDED seen, 20 ms polls): n={} p50={:.0} ms max={:.0} ms",
        deploys.len(), millis(percentile(&mut deploys, 0.5)), millis(deploys.iter().max().copied().unwrap_or_default()));
    println!("caching agent, one refresh of a region with {groups} server groups: n={} p50={:.0} ms max={:.0} ms",
        refreshes.len(), millis(percentile(&mut refreshes, 0.5)), millis(refreshes.iter().max().copied().unwrap_or_default()));
    let _ = stop.send(());
    let _ = running.await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
