//! AWS accounts against the AWS emulator from PyPI (moto's server, installed into the tools
//! venv by `scripts/python-tools`; each test starts its own on a free port of 127.0.0.1, so
//! tests share nothing). Where moto is kinder than AWS it is said beside the assertion:
//! instances are InService and Healthy at once, target groups report registered targets
//! `healthy` at once, and its account is 123456789012.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{Db, TestApp, finished_as, spawn_app};
use crate::kubernetes::save;

/// One moto server, stopped when dropped.
pub(crate) struct Moto {
    _child: tokio::process::Child,
    pub endpoint: String,
}

pub(crate) async fn moto() -> Moto {
    let python = std::env::var("GENNAKER_TEST_PYTHON").expect("GENNAKER_TEST_PYTHON: the tools venv's python (scripts/python-tools)");
    let server = std::path::Path::new(&python).with_file_name("moto_server");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = tokio::process::Command::new(&server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e} (run scripts/python-tools)", server.display()));
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("{endpoint}/moto-api/")).await.is_err() {
        assert!(Instant::now() < deadline, "moto never answered on {endpoint}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Moto { _child: child, endpoint }
}

/// The emulator seen through the AWS SDK, as an operator's tool would see the account.
pub(crate) async fn ec2_and_autoscaling(endpoint: &str) -> (aws_sdk_ec2::Client, aws_sdk_autoscaling::Client) {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::Credentials::new("testing", "testing", None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .load()
        .await;
    (aws_sdk_ec2::Client::new(&config), aws_sdk_autoscaling::Client::new(&config))
}

/// Adds account `name` (us-east-1) reaching `endpoint` with a key from the secrets store.
pub(crate) async fn add_aws_account(app: &TestApp, name: &str, endpoint: &str) {
    let secret = json!({"name": format!("{name}-key"), "value": "{\"accessKeyId\": \"testing\", \"secretAccessKey\": \"testing\"}", "roles": [], "applications": []});
    let created = app.post_json("/api/v1/secrets", &secret).await;
    assert!(created.status().is_success(), "{}", created.text().await.unwrap());
    let account = json!({"cloudProvider": "aws", "regions": ["us-east-1"], "aws": {"credentialsSecret": format!("{name}-key"), "endpoint": endpoint}});
    let response = app.client.put(app.url(&format!("/api/v1/clouds/accounts/{name}"))).json(&account).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

/// What most AWS tests start from: their own moto, a gennaker with application `shop` and
/// account `aws-test` reaching it, the SDK's clients and an image moto ships.
pub(crate) struct AwsTest {
    pub moto: Moto,
    pub app: TestApp,
    pub ec2: aws_sdk_ec2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub image: String,
}

pub(crate) async fn aws_test() -> AwsTest {
    let moto = moto().await;
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("shop").await;
    add_aws_account(&app, "aws-test", &moto.endpoint).await;
    let (ec2, autoscaling) = ec2_and_autoscaling(&moto.endpoint).await;
    let image = ec2.describe_images().owners("amazon").send().await.unwrap().images().iter().find_map(|image| image.image_id().map(str::to_string)).unwrap();
    AwsTest { moto, app, ec2, autoscaling, image }
}

async fn server_groups(app: &TestApp, application: &str) -> Vec<Value> {
    let view: Value = app.get(&format!("/api/v1/applications/{application}/clusters")).await.json().await.unwrap();
    view.as_array()
        .into_iter()
        .flatten()
        .filter(|region| region["cloudProvider"] == "aws")
        .flat_map(|region| region["clusters"].as_array().cloned().unwrap_or_default())
        .flat_map(|cluster| cluster["serverGroups"].as_array().cloned().unwrap_or_default())
        .collect()
}

async fn run(app: &TestApp, pipeline: &str) -> Value {
    let started: Value = app.post_json(&format!("/api/v1/applications/shop/pipelines/{pipeline}/executions"), &json!({})).await.json().await.unwrap();
    finished_as(app, &app.client, started["id"].as_str().unwrap_or_else(|| panic!("{started}")), 120).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aws_account_deploys_red_black_behind_a_load_balancer_and_runs_the_server_group_stages() {
    let moto = moto().await;
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("shop").await;
    add_aws_account(&app, "aws-test", &moto.endpoint).await;
    let accounts: Value = app.get("/api/v1/clouds/accounts").await.json().await.unwrap();
    let listed = accounts.as_array().unwrap().iter().find(|account| account["name"] == "aws-test").unwrap();
    assert!(!listed.to_string().contains("testing"), "the key stays in the secrets store: {listed}");
    let (ec2, autoscaling) = ec2_and_autoscaling(&moto.endpoint).await;
    let images = ec2.describe_images().owners("amazon").send().await.unwrap();
    let image = images.images().iter().find(|image| image.image_id().is_some() && image.name().is_some()).unwrap();
    let (image_id, image_name) = (image.image_id().unwrap().to_string(), image.name().unwrap().to_string());

    // A firewall and a load balancer, through the same REST as local ones.
    let firewall = json!({"cloudProvider": "aws", "account": "aws-test", "region": "us-east-1", "application": "shop", "description": "shop web",
        "ingress": [{"cidr": "10.0.0.0/8", "protocol": "tcp", "startPort": 80, "endPort": 80}]});
    let saved = app.post_json("/api/v1/securityGroups", &firewall).await;
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    let balancer = json!({"cloudProvider": "aws", "account": "aws-test", "region": "us-east-1", "application": "shop",
        "listeners": [{"port": 80, "protocol": "http"}], "securityGroups": ["shop"],
        "healthCheck": {"path": "/health", "intervalMs": 10000, "timeoutMs": 5000, "healthyThreshold": 2, "unhealthyThreshold": 2}});
    let saved = app.post_json("/api/v1/loadBalancers", &balancer).await;
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    let balancers: Value = app.get("/api/v1/applications/shop/loadBalancers").await.json().await.unwrap();
    let shop = balancers.as_array().unwrap().iter().find(|lb| lb["name"] == "shop" && lb["cloudProvider"] == "aws").unwrap_or_else(|| panic!("{balancers}"));
    assert_eq!(shop["healthCheck"]["path"], "/health");
    assert_eq!(shop["securityGroups"], json!(["shop"]));

    // The deploy stage as Spinnaker's AWS pipelines write it.
    let cluster = |image: &str| json!({"cloudProvider": "aws", "account": "aws-test", "application": "shop", "stack": "", "freeFormDetails": "",
        "availabilityZones": {"us-east-1": ["us-east-1a", "us-east-1b"]}, "amiName": image, "instanceType": "t3.small",
        "capacity": {"min": 2, "max": 2, "desired": 2}, "targetGroups": ["shop"], "securityGroups": ["shop"],
        "tags": {"team": "web"}, "strategy": "redblack", "maxRemainingAsgs": 2, "rollback": {"onFailure": true}});
    let deploy = save(&app, "shop", json!({"name": "deploy", "stages": [{"refId": "1", "type": "deploy", "name": "Deploy", "clusters": [cluster(&image_name)]}]})).await;
    let first = run(&app, &deploy).await;
    assert_eq!(first["status"], "SUCCEEDED", "{first}");
    let second = run(&app, &deploy).await;
    assert_eq!(second["status"], "SUCCEEDED", "{second}");

    let groups = server_groups(&app, "shop").await;
    let group = |name: &str| groups.iter().find(|group| group["name"] == name).cloned().unwrap_or_else(|| panic!("{name} in {groups:?}"));
    let (v000, v001) = (group("shop-v000"), group("shop-v001"));
    assert_eq!(v001["artifact"], json!({"type": "machineImage", "imageId": image_id}), "amiName was looked up");
    assert_eq!(v001["tags"]["team"], "web", "{v001}");
    let detail: Value = app.get("/api/v1/applications/shop/serverGroups/aws-test/us-east-1/shop-v001").await.json().await.unwrap();
    assert_eq!(detail["launch"]["instanceType"], "t3.small", "{detail}");
    assert_eq!(detail["launch"]["launchTemplate"], "shop-v001:1");
    assert_eq!(v001["loadBalancers"], json!(["shop"]));
    assert_eq!(v001["securityGroups"], json!(["shop"]), "from its launch template: {v001}");
    assert_eq!(v001["disabled"], false);
    assert_eq!(v000["disabled"], true, "red/black disabled the previous one");
    // moto: instances are InService and Healthy, and healthy in the target group, at once.
    assert_eq!(v001["instanceCounts"]["up"], 2, "{v001}");
    assert_eq!(v000["instanceCounts"]["outOfService"], 2, "a disabled group's instances take no traffic: {v000}");
    let asgs = autoscaling.describe_auto_scaling_groups().auto_scaling_group_names("shop-v000").send().await.unwrap();
    let suspended: Vec<&str> = asgs.auto_scaling_groups()[0].suspended_processes().iter().filter_map(|process| process.process_name()).collect();
    for process in ["Launch", "Terminate", "AddToLoadBalancer"] {
        assert!(suspended.contains(&process), "disabled as Spinnaker disables: {suspended:?}");
    }
    let template = ec2.describe_launch_template_versions().launch_template_name("shop-v001").send().await.unwrap();
    let data = template.launch_template_versions()[0].launch_template_data().unwrap();
    assert_eq!(data.image_id(), Some(image_id.as_str()));
    assert_eq!(data.instance_type().map(|kind| kind.as_str()), Some("t3.small"));

    // The generic server-group stages act on AWS as on local.
    let operate = save(&app, "shop", json!({"name": "operate", "stages": [
        {"refId": "1", "type": "resizeServerGroup", "cloudProvider": "aws", "credentials": "aws-test", "region": "us-east-1",
         "cluster": "shop", "target": "current_asg_dynamic", "action": "scale_exact", "capacity": {"min": 1, "max": 3, "desired": 3}},
        {"refId": "2", "requisiteStageRefIds": ["1"], "type": "destroyServerGroup", "cloudProvider": "aws", "credentials": "aws-test",
         "region": "us-east-1", "serverGroupName": "shop-v000"},
        {"refId": "3", "requisiteStageRefIds": ["2"], "type": "cloneServerGroup", "cloudProvider": "aws", "credentials": "aws-test",
         "region": "us-east-1", "serverGroupName": "shop-v001", "capacity": {"min": 1, "max": 1, "desired": 1}, "disableSource": true}]})).await;
    let ran = run(&app, &operate).await;
    assert_eq!(ran["status"], "SUCCEEDED", "{ran}");
    let resized = autoscaling.describe_auto_scaling_groups().auto_scaling_group_names("shop-v001").send().await.unwrap();
    assert_eq!(resized.auto_scaling_groups()[0].desired_capacity(), Some(3));
    let gone = autoscaling.describe_auto_scaling_groups().auto_scaling_group_names("shop-v000").send().await.unwrap();
    assert!(gone.auto_scaling_groups().is_empty(), "destroyed");
    let clone = ec2.describe_launch_template_versions().launch_template_name("shop-v002").send().await.unwrap();
    let data = clone.launch_template_versions()[0].launch_template_data().unwrap();
    assert_eq!(data.image_id(), Some(image_id.as_str()), "the clone runs the same image");
    assert_eq!(data.instance_type().map(|kind| kind.as_str()), Some("t3.small"), "of the same type");
    assert_eq!(data.security_group_ids().len(), 1, "in the same security group");
    let cloned = autoscaling.describe_auto_scaling_groups().auto_scaling_group_names("shop-v002").send().await.unwrap();
    assert_eq!(cloned.auto_scaling_groups()[0].target_group_arns().len(), 1, "behind the same load balancer");
    let source = autoscaling.describe_auto_scaling_groups().auto_scaling_group_names("shop-v001").send().await.unwrap();
    assert!(source.auto_scaling_groups()[0].suspended_processes().iter().any(|process| process.process_name() == Some("AddToLoadBalancer")), "the source was disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_aws_account_says_why_and_bad_accounts_are_refused() {
    let app = spawn_app(Db::Sqlite).await;
    // Nothing listens there: the caching agent reports it on the account.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    add_aws_account(&app, "aws-down", &format!("http://127.0.0.1:{port}")).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let accounts: Value = app.get("/api/v1/clouds/accounts").await.json().await.unwrap();
        let status = accounts.as_array().unwrap().iter().find(|account| account["name"] == "aws-down").unwrap()["status"].clone();
        if status.as_str().is_some_and(|status| status.starts_with("cannot reach us-east-1")) {
            assert!(!status.to_string().contains("testing"), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "the account never said why it cannot be reached: {status}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for (body, field) in [
        (json!({"cloudProvider": "aws"}), "regions"),
        (json!({"cloudProvider": "aws", "regions": ["us-east-1"], "aws": {"credentialsSecret": "no-such-secret"}}), "aws.credentialsSecret"),
        (json!({"cloudProvider": "aws", "regions": ["us-east-1"], "aws": {"endpoint": "file:///etc"}}), "aws.endpoint"),
    ] {
        let response = app.client.put(app.url("/api/v1/clouds/accounts/bad")).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 400);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["field"], field, "{error}");
    }
}

/// A proxy in front of moto that answers AWS's throttling error to the first `throttled`
/// requests, then forwards: a test double for AWS's rate limits, which moto does not have.
async fn throttling_proxy(upstream: String, throttled: usize) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let seen = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let client = reqwest::Client::new();
    let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let (client, upstream, counter) = (client.clone(), upstream.clone(), counter.clone());
        async move {
            if counter.fetch_add(1, Ordering::SeqCst) < throttled {
                let error = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>t</RequestId></ErrorResponse>";
                return (StatusCode::BAD_REQUEST, HeaderMap::new(), error.as_bytes().to_vec());
            }
            let mut request = client.request(method, format!("{upstream}{}", uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")));
            for (name, value) in &headers {
                if name != "host" && name != "content-length" {
                    request = request.header(name, value);
                }
            }
            let answer = request.body(body).send().await.unwrap();
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
            let mut out = HeaderMap::new();
            if let Some(kind) = answer.headers().get("content-type") {
                out.insert("content-type", kind.clone());
            }
            (status, out, answer.bytes().await.unwrap().to_vec())
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(handler)).await.unwrap() });
    (address, seen)
}

/// AWS throttles: the SDK's retries (backoff with jitter) carry the caching agent through, and
/// what another tool made in the account shows in the clusters view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_caching_agent_rides_out_throttling_and_sees_what_others_made() {
    let moto = moto().await;
    let (ec2, autoscaling) = ec2_and_autoscaling(&moto.endpoint).await;
    let images = ec2.describe_images().owners("amazon").send().await.unwrap();
    let image = images.images().iter().find_map(|image| image.image_id()).unwrap().to_string();
    ec2.create_launch_template()
        .launch_template_name("made-elsewhere")
        .launch_template_data(aws_sdk_ec2::types::RequestLaunchTemplateData::builder().image_id(&image).build())
        .send()
        .await
        .unwrap();
    autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name("legacy-api-v007")
        .launch_template(aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder().launch_template_name("made-elsewhere").version("$Latest").build())
        .min_size(1)
        .max_size(1)
        .desired_capacity(1)
        .availability_zones("us-east-1a")
        .send()
        .await
        .unwrap();
    let (proxy, seen) = throttling_proxy(moto.endpoint.clone(), 3).await;
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("legacy").await;
    add_aws_account(&app, "aws-throttled", &proxy).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let view: Value = app.get("/api/v1/applications/legacy/clusters").await.json().await.unwrap();
        let found = view.as_array().into_iter().flatten().filter(|region| region["cloudProvider"] == "aws")
            .flat_map(|region| region["clusters"].as_array().cloned().unwrap_or_default())
            .any(|cluster| cluster["name"] == "legacy-api");
        if found {
            break;
        }
        assert!(Instant::now() < deadline, "the cluster never showed: {view}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(seen.load(std::sync::atomic::Ordering::SeqCst) > 3, "the throttled calls were tried again");
    let accounts: Value = app.get("/api/v1/clouds/accounts").await.json().await.unwrap();
    let status = &accounts.as_array().unwrap().iter().find(|account| account["name"] == "aws-throttled").unwrap()["status"];
    assert_eq!(status, "watching");
}

/// Find Image from Tags, as Spinnaker's AWS pipelines find what a bake made: the newest image
/// of the package carrying the tags, which the deploy after it launches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_image_from_tags_feeds_the_deploy_after_it() {
    let AwsTest { moto: _moto, app, ec2, autoscaling, image: base } = aws_test().await;
    let launched = ec2.run_instances().image_id(&base).min_count(1).max_count(1).send().await.unwrap();
    let instance = launched.instances()[0].instance_id().unwrap().to_string();
    let mut made = Vec::new();
    for (name, release) in [("shop-web-1.0.0", "stable"), ("shop-web-1.1.0", "stable"), ("shop-web-1.2.0-rc1", "candidate")] {
        let image = ec2.create_image().instance_id(&instance).name(name).send().await.unwrap().image_id().unwrap().to_string();
        ec2.create_tags().resources(&image).tags(aws_sdk_ec2::types::Tag::builder().key("release").value(release).build()).send().await.unwrap();
        made.push(image);
        // Creation dates are whole seconds: each image is newer than the one before.
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let pipeline = save(&app, "shop", json!({"name": "from tags", "stages": [
        {"refId": "1", "type": "findImageFromTags", "cloudProvider": "aws", "cloudProviderType": "aws", "credentials": "aws-test",
         "packageName": "shop-web", "tags": {"release": "stable"}, "regions": ["us-east-1"]},
        {"refId": "2", "requisiteStageRefIds": ["1"], "type": "deploy", "clusters": [{"cloudProvider": "aws", "account": "aws-test", "application": "shop",
         "stack": "tagged", "availabilityZones": {"us-east-1": ["us-east-1a"]}, "capacity": {"min": 1, "max": 1, "desired": 1}, "strategy": "redblack"}]}]})).await;
    let ran = run(&app, &pipeline).await;
    assert_eq!(ran["status"], "SUCCEEDED", "{ran}");
    let found = &ran["stages"][0]["outputs"]["amiDetails"][0];
    assert_eq!(found["imageId"], made[1].as_str(), "the newest stable one, not the candidate: {found}");
    assert_eq!(found["amiName"], "shop-web-1.1.0");
    let groups = autoscaling.describe_auto_scaling_groups().auto_scaling_group_names("shop-tagged-v000").send().await.unwrap();
    assert_eq!(groups.auto_scaling_groups().len(), 1);
    let template = ec2.describe_launch_template_versions().launch_template_name("shop-tagged-v000").send().await.unwrap();
    assert_eq!(template.launch_template_versions()[0].launch_template_data().unwrap().image_id(), Some(made[1].as_str()));

    // Without an account it is kept, and refused when started, saying why.
    let spinnaker = save(&app, "shop", json!({"name": "as written", "stages": [{"refId": "1", "type": "findImageFromTags", "cloudProvider": "aws",
        "packageName": "shop-web", "tags": {}, "regions": ["us-east-1"]}]})).await;
    let refused = app.post_json(&format!("/api/v1/applications/shop/pipelines/{spinnaker}/executions"), &json!({})).await;
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("credentials"));
}

/// Infrastructure as pipeline stages, in Spinnaker's shapes: a security group and a load
/// balancer made, used by a deploy, refused deletion while used, then deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancer_and_security_group_stages_make_and_delete_infrastructure() {
    let AwsTest { moto: _moto, app, ec2, image, .. } = aws_test().await;
    let make = save(&app, "shop", json!({"name": "make", "stages": [
        {"refId": "1", "type": "upsertSecurityGroup", "cloudProvider": "aws", "credentials": "aws-test", "regions": ["us-east-1"],
         "name": "shop-api", "description": "api", "ipIngress": [{"cidr": "10.0.0.0/8", "type": "tcp", "startPort": 8080, "endPort": 8080}]},
        {"refId": "2", "requisiteStageRefIds": ["1"], "type": "upsertLoadBalancers", "loadBalancers": [{"cloudProvider": "aws", "credentials": "aws-test",
         "region": "us-east-1", "name": "shop-api", "listeners": [{"externalPort": 80, "externalProtocol": "HTTP"}], "securityGroups": ["shop-api"],
         "targetGroups": [{"name": "shop-api", "healthCheckPath": "/ready", "healthCheckInterval": 15}]}]},
        {"refId": "3", "requisiteStageRefIds": ["2"], "type": "deploy", "clusters": [{"cloudProvider": "aws", "account": "aws-test", "application": "shop",
         "stack": "api", "availabilityZones": {"us-east-1": ["us-east-1a"]}, "imageId": image, "capacity": {"min": 1, "max": 1, "desired": 1},
         "targetGroups": ["shop-api"], "securityGroups": ["shop-api"], "strategy": "redblack"}]}]})).await;
    let made = run(&app, &make).await;
    assert_eq!(made["status"], "SUCCEEDED", "{made}");
    let groups = ec2.describe_security_groups().filters(aws_sdk_ec2::types::Filter::builder().name("group-name").values("shop-api").build()).send().await.unwrap();
    let rule = &groups.security_groups()[0].ip_permissions()[0];
    assert_eq!((rule.from_port(), rule.to_port()), (Some(8080), Some(8080)));
    let balancers: Value = app.get("/api/v1/applications/shop/loadBalancers").await.json().await.unwrap();
    let api = balancers.as_array().unwrap().iter().find(|lb| lb["name"] == "shop-api").unwrap_or_else(|| panic!("{balancers}"));
    assert_eq!(api["healthCheck"]["path"], "/ready");
    assert_eq!(api["healthCheck"]["intervalMs"], 15000);

    let delete = |name: &str, stages: Value| json!({"name": name, "stages": stages});
    let teardown = save(&app, "shop", delete("too early", json!([
        {"refId": "1", "type": "deleteLoadBalancer", "cloudProvider": "aws", "credentials": "aws-test", "regions": ["us-east-1"], "loadBalancerName": "shop-api"}]))).await;
    let refused = run(&app, &teardown).await;
    assert_eq!(refused["status"], "TERMINAL");
    assert!(refused["stages"][0]["error"].as_str().unwrap_or_default().contains("server group shop-api-v000 still uses load balancer shop-api"), "{refused}");

    let all = save(&app, "shop", delete("tear down", json!([
        {"refId": "1", "type": "destroyServerGroup", "cloudProvider": "aws", "credentials": "aws-test", "region": "us-east-1", "serverGroupName": "shop-api-v000"},
        {"refId": "2", "requisiteStageRefIds": ["1"], "type": "deleteLoadBalancer", "cloudProvider": "aws", "credentials": "aws-test", "regions": ["us-east-1"], "loadBalancerName": "shop-api"},
        {"refId": "3", "requisiteStageRefIds": ["2"], "type": "deleteSecurityGroup", "cloudProvider": "aws", "credentials": "aws-test", "regions": ["us-east-1"], "securityGroupName": "shop-api"}]))).await;
    let ran = run(&app, &all).await;
    assert_eq!(ran["status"], "SUCCEEDED", "{ran}");
    let groups = ec2.describe_security_groups().filters(aws_sdk_ec2::types::Filter::builder().name("group-name").values("shop-api").build()).send().await.unwrap();
    assert!(groups.security_groups().is_empty(), "the security group is gone");
    let balancers: Value = app.get("/api/v1/applications/shop/loadBalancers").await.json().await.unwrap();
    assert!(!balancers.to_string().contains("shop-api"), "the load balancer is gone: {balancers}");
}

/// The other strategies and cluster stages on AWS, as on local: highlander, rolling red/black,
/// canary then promoted, and Find Image from Cluster (by its old name `findAmi`), rollback,
/// scale down and shrink cluster. (Rollback on a failed deploy needs instances that never turn
/// healthy, which moto cannot make: it is tested on local, through the same engine code.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_strategy_and_cluster_stage_runs_on_aws() {
    let AwsTest { moto: _moto, app, ec2, autoscaling, image: base } = aws_test().await;
    let launched = ec2.run_instances().image_id(&base).min_count(1).max_count(1).send().await.unwrap();
    let newer = ec2.create_image().instance_id(launched.instances()[0].instance_id().unwrap()).name("shop-2.0").send().await.unwrap().image_id().unwrap().to_string();
    let balancer = json!({"cloudProvider": "aws", "account": "aws-test", "region": "us-east-1", "application": "shop", "listeners": [{"port": 80, "protocol": "http"}]});
    assert_eq!(app.post_json("/api/v1/loadBalancers", &balancer).await.status(), 200);
    let cluster = |image: &str, strategy: &str| json!({"cloudProvider": "aws", "account": "aws-test", "application": "shop", "stack": "web",
        "availabilityZones": {"us-east-1": ["us-east-1a"]}, "imageId": image, "capacity": {"min": 2, "max": 2, "desired": 2},
        "targetGroups": ["shop"], "strategy": strategy, "targetPercentages": [50, 100], "canaryCapacity": 1});
    let deploy = |name: &str, image: &str, strategy: &str| json!({"name": name, "stages": [{"refId": "1", "type": "deploy", "name": "Deploy", "clusters": [cluster(image, strategy)]}]});
    let names = |groups: &[aws_sdk_autoscaling::types::AutoScalingGroup]| {
        let mut names: Vec<String> = groups.iter().filter_map(|group| group.auto_scaling_group_name().map(str::to_string)).collect();
        names.sort();
        names
    };

    for (image, expected) in [(&base, vec!["shop-web-v000"]), (&newer, vec!["shop-web-v001"])] {
        let highlander = save(&app, "shop", deploy(&format!("highlander {image}"), image, "highlander")).await;
        let ran = run(&app, &highlander).await;
        assert_eq!(ran["status"], "SUCCEEDED", "{ran}");
        let groups = autoscaling.describe_auto_scaling_groups().send().await.unwrap();
        assert_eq!(names(groups.auto_scaling_groups()), expected, "highlander leaves only the new one");
    }
    let rolling = save(&app, "shop", deploy("rolling", &base, "rollingredblack")).await;
    let ran = run(&app, &rolling).await;
    assert_eq!(ran["status"], "SUCCEEDED", "{ran}");
    let groups = server_groups(&app, "shop").await;
    let state = |name: &str| groups.iter().find(|group| group["name"] == name).map(|group| (group["disabled"].as_bool().unwrap(), group["capacity"]["desired"].as_u64().unwrap()));
    assert_eq!(state("shop-web-v002"), Some((false, 2)), "rolling red/black reached 100%: {groups:?}");
    assert_eq!(state("shop-web-v001"), Some((true, 2)));

    let canary = save(&app, "shop", json!({"name": "canary", "stages": [
        {"refId": "1", "type": "deploy", "name": "Canary", "clusters": [cluster(&newer, "canary")]},
        {"refId": "2", "requisiteStageRefIds": ["1"], "type": "resizeServerGroup", "name": "Promote", "cloudProvider": "aws", "credentials": "aws-test",
         "region": "us-east-1", "cluster": "shop-web", "target": "current_asg_dynamic", "action": "scale_exact", "capacity": {"min": 2, "max": 2, "desired": 2}},
        {"refId": "3", "requisiteStageRefIds": ["2"], "type": "disableCluster", "name": "Retire", "cloudProvider": "aws", "credentials": "aws-test",
         "regions": ["us-east-1"], "cluster": "shop-web", "remainingEnabledServerGroups": 1}]})).await;
    let ran = run(&app, &canary).await;
    assert_eq!(ran["status"], "SUCCEEDED", "{ran}");
    assert_eq!(ran["stages"][0]["outputs"]["serverGroupName"], "shop-web-v003");
    let canary_group = autoscaling.describe_auto_scaling_groups().auto_scaling_group_names("shop-web-v003").send().await.unwrap();
    assert_eq!(canary_group.auto_scaling_groups()[0].desired_capacity(), Some(2), "promoted from its canary size");
    let groups = server_groups(&app, "shop").await;
    let enabled: Vec<&str> = groups.iter().filter(|group| group["disabled"] == false).filter_map(|group| group["name"].as_str()).collect();
    assert_eq!(enabled, ["shop-web-v003"], "the cluster retired the others");

    let where_ = json!({"cloudProvider": "aws", "credentials": "aws-test", "region": "us-east-1", "regions": ["us-east-1"], "cluster": "shop-web"});
    let stage = |ref_id: &str, body: Value| {
        let mut stage = where_.clone();
        stage.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
        stage["refId"] = json!(ref_id);
        if ref_id != "1" {
            stage["requisiteStageRefIds"] = json!([(ref_id.parse::<u32>().unwrap() - 1).to_string()]);
        }
        stage
    };
    let operations = save(&app, "shop", json!({"name": "operations", "stages": [
        stage("1", json!({"type": "findAmi", "selectionStrategy": "NEWEST"})),
        stage("2", json!({"type": "rollbackServerGroup"})),
        stage("3", json!({"type": "scaleDownCluster", "remainingFullSizeServerGroups": 0})),
        stage("4", json!({"type": "shrinkCluster", "shrinkToSize": 2}))]})).await;
    let ran = run(&app, &operations).await;
    assert_eq!(ran["status"], "SUCCEEDED", "{ran}");
    let output = |index: usize, key: &str| ran["stages"][index]["outputs"][key].clone();
    assert_eq!(output(0, "serverGroupName"), "shop-web-v003", "{ran}");
    assert_eq!(output(1, "restoreServerGroupName"), "shop-web-v002", "rollback restores the one before the newest");
    let groups = autoscaling.describe_auto_scaling_groups().send().await.unwrap();
    assert_eq!(names(groups.auto_scaling_groups()), ["shop-web-v002", "shop-web-v003"], "shrink kept the newest two");
    let restored = groups.auto_scaling_groups().iter().find(|group| group.auto_scaling_group_name() == Some("shop-web-v002")).unwrap();
    assert!(restored.suspended_processes().is_empty(), "the restored one is enabled again");
    let rolled_back = groups.auto_scaling_groups().iter().find(|group| group.auto_scaling_group_name() == Some("shop-web-v003")).unwrap();
    assert_eq!(rolled_back.desired_capacity(), Some(0), "the disabled one scaled down (the enabled one is left: no allowScaleDownActive)");
}

/// A classic ELB (Spinnaker's `loadBalancerType: "classic"`): made by the stage with its
/// health check written as Spinnaker writes it, joined by a deploy's `loadBalancers`, its
/// instances deregistered when red/black disables the older server group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_load_balancers_take_server_groups_and_follow_enable_and_disable() {
    let AwsTest { moto, app, autoscaling, image, .. } = aws_test().await;
    let deploy = json!({"name": "legacy", "stages": [
        {"refId": "1", "type": "upsertLoadBalancers", "loadBalancers": [{"cloudProvider": "aws", "credentials": "aws-test", "region": "us-east-1",
         "name": "shop-legacy", "loadBalancerType": "classic",
         "listeners": [{"externalPort": 80, "externalProtocol": "HTTP", "internalPort": 80, "internalProtocol": "HTTP"}],
         "healthCheck": "HTTP:80/healthcheck", "healthInterval": 10, "healthTimeout": 5, "healthyThreshold": 2, "unhealthyThreshold": 3}]},
        {"refId": "2", "requisiteStageRefIds": ["1"], "type": "deploy", "clusters": [{"cloudProvider": "aws", "account": "aws-test", "application": "shop",
         "stack": "legacy", "availabilityZones": {"us-east-1": ["us-east-1a"]}, "imageId": image, "capacity": {"min": 1, "max": 1, "desired": 1},
         "loadBalancers": ["shop-legacy"], "strategy": "redblack"}]}]});
    let pipeline = save(&app, "shop", deploy).await;
    for _ in 0..2 {
        let ran = run(&app, &pipeline).await;
        assert_eq!(ran["status"], "SUCCEEDED", "{ran}");
    }
    let groups = autoscaling.describe_auto_scaling_groups().auto_scaling_group_names("shop-legacy-v000").auto_scaling_group_names("shop-legacy-v001").send().await.unwrap();
    let instance = |name: &str| {
        let group = groups.auto_scaling_groups().iter().find(|group| group.auto_scaling_group_name() == Some(name)).unwrap();
        assert_eq!(group.load_balancer_names(), ["shop-legacy"], "{name} joined the classic ELB");
        group.instances()[0].instance_id().unwrap().to_string()
    };
    let (old, new) = (instance("shop-legacy-v000"), instance("shop-legacy-v001"));
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(aws_credential_types::Credentials::new("testing", "testing", None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .load()
        .await;
    let classic = aws_sdk_elasticloadbalancing::Client::new(&config);
    let described = classic.describe_load_balancers().load_balancer_names("shop-legacy").send().await.unwrap();
    let registered: Vec<&str> = described.load_balancer_descriptions()[0].instances().iter().filter_map(|instance| instance.instance_id()).collect();
    assert!(registered.contains(&new.as_str()), "the new group takes traffic: {registered:?}");
    assert!(!registered.contains(&old.as_str()), "red/black deregistered the old one: {registered:?}");
    assert_eq!(described.load_balancer_descriptions()[0].health_check().unwrap().target(), "HTTP:80/healthcheck");

    let balancers: Value = app.get("/api/v1/applications/shop/loadBalancers").await.json().await.unwrap();
    let legacy = balancers.as_array().unwrap().iter().find(|lb| lb["name"] == "shop-legacy").unwrap_or_else(|| panic!("{balancers}"));
    assert_eq!(legacy["loadBalancerType"], "classic");
    assert_eq!(legacy["healthCheck"]["path"], "/healthcheck");
    assert_eq!(legacy["healthCheck"]["intervalMs"], 10000);
    let view = server_groups(&app, "shop").await;
    let v001 = view.iter().find(|group| group["name"] == "shop-legacy-v001").unwrap();
    assert_eq!(v001["loadBalancers"], json!(["shop-legacy"]), "{v001}");
    assert_eq!(v001["instanceCounts"]["up"], 1, "InService in the ELB: {v001}");
}

/// The canary strategy's weighted rollout on AWS (an Application Load Balancer): while it
/// pauses at 20%, every listener forwards to production, the canary and the baseline through
/// target groups of their own, weighted 60/20/20 (the load balancer's own target group stays
/// in at weight 0), each holding its server group's instances; once promoted, the listeners
/// forward to the load balancer's own target group again and the per-server-group ones are
/// gone. Throughout, gennaker shows each server group behind the one load balancer. (moto
/// routes no traffic, so the split itself is the listeners' configuration; the local cloud's
/// test measures it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_rollout_on_aws_moves_traffic_by_weighted_target_groups() {
    use aws_sdk_elasticloadbalancingv2::types::Action;
    let AwsTest { moto, app, autoscaling, image, .. } = aws_test().await;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(aws_credential_types::Credentials::new("testing", "testing", None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .load()
        .await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let balancer = json!({"cloudProvider": "aws", "account": "aws-test", "region": "us-east-1", "application": "shop", "listeners": [{"port": 80, "protocol": "http"}],
        "healthCheck": {"path": "/health", "intervalMs": 10000, "timeoutMs": 5000, "healthyThreshold": 2, "unhealthyThreshold": 2}});
    assert_eq!(app.post_json("/api/v1/loadBalancers", &balancer).await.status(), 200);
    let balancer_arn = elb.describe_load_balancers().names("shop").send().await.unwrap().load_balancers()[0].load_balancer_arn().unwrap().to_string();
    let main = elb.describe_target_groups().names("shop").send().await.unwrap().target_groups()[0].target_group_arn().unwrap().to_string();

    let cluster = json!({"cloudProvider": "aws", "account": "aws-test", "application": "shop", "stack": "web",
        "availabilityZones": {"us-east-1": ["us-east-1a"]}, "imageId": image, "capacity": {"min": 1, "max": 1, "desired": 1},
        "loadBalancers": ["shop"], "strategy": "canary", "canaryCapacity": 1,
        "canaryAnalysis": {"steps": [{"setWeight": 20}, {"pause": {"duration": "10s"}}], "analysis": {}}});
    let pipeline = save(&app, "shop", json!({"name": "release", "stages": [{"refId": "1", "type": "deploy", "name": "Deploy", "clusters": [cluster]}]})).await;
    // The first release has nothing to compare with: it is deployed as is.
    let first = run(&app, &pipeline).await;
    assert_eq!(first["status"], "SUCCEEDED", "{first}");

    // What a listener's default action forwards to, by target group ARN.
    let forwarded = |actions: &[Action]| -> Vec<(String, i32)> {
        let action = &actions[0];
        match action.forward_config().map(|config| config.target_groups()).filter(|groups| !groups.is_empty()) {
            Some(groups) => groups.iter().map(|group| (group.target_group_arn().unwrap().to_string(), group.weight().unwrap_or(1))).collect(),
            None => vec![(action.target_group_arn().unwrap().to_string(), 1)],
        }
    };
    let instances_of = async |name: &str| -> Vec<String> {
        let found = autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(name).send().await.unwrap();
        let mut ids: Vec<String> = found.auto_scaling_groups()[0].instances().iter().filter_map(|instance| instance.instance_id().map(str::to_string)).collect();
        ids.sort();
        ids
    };
    let shown_behind_the_balancer = |groups: &[Value]| {
        for group in groups {
            assert_eq!(group["loadBalancers"], json!(["shop"]), "one load balancer, however many target groups: {group}");
        }
    };

    let started: Value = app.post_json(&format!("/api/v1/applications/shop/pipelines/{pipeline}/executions"), &json!({})).await.json().await.unwrap();
    let id = started["id"].as_str().unwrap_or_else(|| panic!("{started}")).to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    let weighted = loop {
        let listeners = elb.describe_listeners().load_balancer_arn(&balancer_arn).send().await.unwrap();
        let now = forwarded(listeners.listeners()[0].default_actions());
        if now.iter().filter(|(_, weight)| *weight > 0).count() == 3 {
            break now;
        }
        let execution: Value = app.get(&format!("/api/v1/executions/{id}")).await.json().await.unwrap();
        assert!(["NOT_STARTED", "RUNNING"].contains(&execution["status"].as_str().unwrap_or_default()), "{execution}");
        assert!(Instant::now() < deadline, "the listener never weighed three server groups: {now:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(weighted.contains(&(main.clone(), 0)), "the load balancer's own target group stays in at 0: {weighted:?}");
    let mut by_group = std::collections::BTreeMap::new();
    for (arn, weight) in weighted.iter().filter(|(arn, _)| *arn != main) {
        let tags = elb.describe_tags().resource_arns(arn).send().await.unwrap();
        let tag = |key: &str| tags.tag_descriptions()[0].tags().iter().find(|tag| tag.key() == Some(key)).and_then(|tag| tag.value()).map(str::to_string);
        assert_eq!(tag("gennaker:loadBalancer").as_deref(), Some("shop"));
        let group = tag("gennaker:serverGroup").unwrap();
        let health = elb.describe_target_health().target_group_arn(arn).send().await.unwrap();
        let mut registered: Vec<String> = health.target_health_descriptions().iter().filter_map(|description| description.target()?.id().map(str::to_string)).collect();
        registered.sort();
        assert_eq!(registered, instances_of(&group).await, "{group}'s target group holds its instances");
        assert!(by_group.insert(group, *weight).is_none(), "a target group per server group: {weighted:?}");
    }
    assert_eq!(by_group, [("shop-web-baseline-v000", 20), ("shop-web-v000", 60), ("shop-web-v001", 20)].map(|(group, weight)| (group.to_string(), weight)).into());
    for listener in elb.describe_listeners().load_balancer_arn(&balancer_arn).send().await.unwrap().listeners() {
        assert_eq!(forwarded(listener.default_actions()), weighted, "every listener");
    }
    // While the pause runs, the cache sees the canary and the baseline behind `shop` alone.
    let mut seen_all = false;
    loop {
        let groups = server_groups(&app, "shop").await;
        shown_behind_the_balancer(&groups);
        seen_all |= groups.len() == 3 && groups.iter().all(|group| group["instanceCounts"]["up"] == 1);
        let execution: Value = app.get(&format!("/api/v1/executions/{id}")).await.json().await.unwrap();
        if execution["status"] != "RUNNING" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(seen_all, "the three server groups showed, each instance up in every target group");

    let ended = finished_as(&app, &app.client, &id, 120).await;
    assert_eq!(ended["status"], "SUCCEEDED", "{ended}");
    for listener in elb.describe_listeners().load_balancer_arn(&balancer_arn).send().await.unwrap().listeners() {
        assert_eq!(forwarded(listener.default_actions()), [(main.clone(), 1)], "plain rotation on the load balancer's own target group again");
    }
    let target_groups = elb.describe_target_groups().send().await.unwrap();
    let names: Vec<&str> = target_groups.target_groups().iter().filter_map(|group| group.target_group_name()).collect();
    assert_eq!(names, ["shop"], "the per-server-group target groups are gone");
    let canary = autoscaling.describe_auto_scaling_groups().auto_scaling_group_names("shop-web-v001").send().await.unwrap();
    assert_eq!(canary.auto_scaling_groups()[0].target_group_arns(), [main.clone()], "the promoted canary is in the load balancer's own target group alone");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let groups = server_groups(&app, "shop").await;
        shown_behind_the_balancer(&groups);
        let mut serving: Vec<(String, bool)> = groups.iter().map(|group| (group["name"].as_str().unwrap().to_string(), group["disabled"].as_bool().unwrap())).collect();
        serving.sort();
        if serving == [("shop-web-v000".to_string(), true), ("shop-web-v001".to_string(), false)] {
            break;
        }
        assert!(Instant::now() < deadline, "promoted, production disabled, the baseline gone: {serving:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
