//! Autoscaling: scaling policies and scheduled actions on the local cloud (measured from its
//! own load balancer under real HTTP load from the test) and on AWS against moto's server,
//! with the launch settings a deploy gives an Auto Scaling group and Spinnaker's copy of a
//! cluster's policies to the next server group. Where moto is kinder than AWS it is said
//! beside the assertion.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::aws::{AwsTest, aws_test};
use crate::clusters::{create_balancer, finished, save_deploy_pipeline, submit_task};
use crate::helpers::{Db, TestApp, free_port, spawn_app};
use crate::kubernetes::save;

async fn detail(app: &TestApp, application: &str, account: &str, region: &str, name: &str) -> Value {
    app.get(&format!("/api/v1/applications/{application}/serverGroups/{account}/{region}/{name}")).await.json().await.unwrap()
}

async fn run(app: &TestApp, application: &str, pipeline: &str) -> Value {
    let response = app.post_json(&format!("/api/v1/applications/{application}/pipelines/{pipeline}/executions"), &json!({})).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let started: Value = response.json().await.unwrap();
    finished(app, &format!("/api/v1/executions/{}", started["id"].as_str().unwrap())).await
}

/// Waits until the local server group's detail satisfies `done`; returns it.
async fn until(app: &TestApp, name: &str, seconds: u64, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let group = detail(app, "grow", "local", "local", name).await;
        if done(&group) {
            return group;
        }
        assert!(Instant::now() < deadline, "{what}: {group:#}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Requests through the load balancer, several at a time, until stopped.
fn load(port: u16) -> (tokio::task::JoinHandle<u64>, tokio::sync::watch::Sender<bool>) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(async move {
        let client = reqwest::Client::new();
        let mut sent = 0;
        while !*stopped.borrow() {
            let batch = (0..5).map(|_| client.get(format!("http://127.0.0.1:{port}/")).send());
            sent += futures_util::future::join_all(batch).await.into_iter().filter(|answer| answer.is_ok()).count() as u64;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        sent
    });
    (handle, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_server_groups_scale_by_request_rate_and_schedule_and_deploys_copy_the_policies() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("grow").await;
    let port = free_port();
    create_balancer(&app, "grow", port).await;
    let pipeline = save_deploy_pipeline(&app, "grow", json!({"capacity": {"min": 1, "max": 3, "desired": 1}, "strategy": "redblack"})).await;
    let pipeline = pipeline["id"].as_str().unwrap().to_string();
    let first = run(&app, "grow", &pipeline).await;
    assert_eq!(first["status"], "SUCCEEDED", "{first:#}");

    let target = |job: Value| {
        let mut base = json!({"type": "upsertScalingPolicy", "cloudProvider": "local", "credentials": "local", "region": "local", "serverGroupName": "grow-web-v000"});
        for (key, value) in job.as_object().unwrap() {
            base[key] = value.clone();
        }
        base
    };
    // What the local cloud cannot measure is refused, saying what it can.
    let cpu = submit_task(&app, "grow", target(json!({"targetTrackingConfiguration": {"targetValue": 50, "predefinedMetricSpecification": {"predefinedMetricType": "ASGAverageCPUUtilization"}}}))).await;
    assert_eq!(cpu["status"], "TERMINAL");
    assert!(cpu.to_string().contains("measures only request counts"), "{cpu:#}");
    let bad = app.post_json("/api/v1/tasks", &json!({"application": "grow", "job": [target(json!({"simple": {"scalingAdjustment": 1}}))]})).await;
    assert_eq!(bad.status(), 400, "Deck's simple policies are refused when submitted");
    assert!(bad.text().await.unwrap().contains("simple scaling policies are not supported"));

    // One request a second per instance: the load below is many times that.
    let added = submit_task(&app, "grow", target(json!({"estimatedInstanceWarmup": 2,
        "targetTrackingConfiguration": {"targetValue": 60, "predefinedMetricSpecification": {"predefinedMetricType": "ALBRequestCountPerTarget"}}}))).await;
    assert_eq!(added["status"], "SUCCEEDED", "{added:#}");
    assert_eq!(added["stages"][0]["outputs"]["policyName"], "target-tracking-1");
    let (traffic, stop) = load(port);
    let grown = until(&app, "grow-web-v000", 40, "the load never scaled the group out", |group| group["capacity"]["desired"] == 3).await;
    assert_eq!(grown["capacity"]["max"], 3, "clamped to max");
    stop.send(true).unwrap();
    // The load was real (the group may grow within the autoscaler's first second of it, so
    // only a few dozen requests may have gone out by then).
    let sent = traffic.await.unwrap();
    assert!(sent > 10, "{sent} requests");
    until(&app, "grow-web-v000", 60, "the idle group never scaled back in", |group| group["capacity"]["desired"] == 1).await;

    // A schedule (six fields, seconds first: the local cloud's extension) sets the bounds.
    let scheduled = submit_task(&app, "grow", json!({"type": "upsertAsgScheduledActions", "cloudProvider": "local", "credentials": "local",
        "asgs": [{"asgName": "grow-web-v000", "region": "local"}], "scheduledActions": [{"recurrence": "*/2 * * * * *", "minSize": 2, "desiredCapacity": 2}]})).await;
    assert_eq!(scheduled["status"], "SUCCEEDED", "{scheduled:#}");
    let group = until(&app, "grow-web-v000", 20, "the scheduled action never came due", |group| group["capacity"]["min"] == 2 && group["capacity"]["desired"] == 2).await;
    assert_eq!(group["scheduledActions"][0]["scheduledActionName"], "schedule-1");

    // The next deploy copies the cluster's policies and schedule, as Spinnaker's does.
    let second = run(&app, "grow", &pipeline).await;
    assert_eq!(second["status"], "SUCCEEDED", "{second:#}");
    let copied = detail(&app, "grow", "local", "local", "grow-web-v001").await;
    assert_eq!(copied["scalingPolicies"][0]["policyName"], "target-tracking-1", "{copied:#}");
    assert_eq!(copied["scheduledActions"][0]["recurrence"], "*/2 * * * * *");
    let deleted = submit_task(&app, "grow", json!({"type": "deleteScalingPolicy", "cloudProvider": "local", "credentials": "local", "region": "local",
        "serverGroupName": "grow-web-v001", "policyName": "target-tracking-1"})).await;
    assert_eq!(deleted["status"], "SUCCEEDED", "{deleted:#}");
    assert!(detail(&app, "grow", "local", "local", "grow-web-v001").await.get("scalingPolicies").is_none());
}

/// moto's CloudWatch through gennaker's own JSON-protocol client, as the provider calls it.
fn cloudwatch(endpoint: &str) -> server::cloud::aws::cloudwatch::CloudWatch {
    let credentials = aws_credential_types::Credentials::new("testing", "testing", None, None, "test");
    server::cloud::aws::cloudwatch::CloudWatch::new("us-east-1", Some(endpoint), Some(aws_credential_types::provider::SharedCredentialsProvider::new(credentials)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_server_groups_launch_as_configured_and_keep_their_policies_across_deploys() {
    let AwsTest { moto, app, ec2, autoscaling, image } = aws_test().await;
    ec2.create_key_pair().key_name("shop-key").send().await.unwrap();
    // A subnet tagged for subnetType "internal", as Spinnaker's AWS setups tag theirs.
    let vpc = ec2.describe_vpcs().send().await.unwrap().vpcs().iter().find(|vpc| vpc.is_default() == Some(true)).and_then(|vpc| vpc.vpc_id()).unwrap().to_string();
    let subnet = ec2.create_subnet().vpc_id(&vpc).cidr_block("172.31.192.0/20").availability_zone("us-east-1a").send().await.unwrap();
    let subnet = subnet.subnet().and_then(|subnet| subnet.subnet_id()).unwrap().to_string();
    ec2.create_tags().resources(&subnet).tags(aws_sdk_ec2::types::Tag::builder().key("immutable_metadata").value(r#"{"purpose": "internal"}"#).build()).send().await.unwrap();
    let balancer = json!({"cloudProvider": "aws", "account": "aws-test", "region": "us-east-1", "application": "shop", "listeners": [{"port": 80, "protocol": "http"}]});
    let saved = app.post_json("/api/v1/loadBalancers", &balancer).await;
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());

    let user_data = "IyEvYmluL3NoCmVjaG8gaGVsbG8K";
    let deploy = save(&app, "shop", json!({"name": "deploy", "stages": [{"refId": "1", "type": "deploy", "clusters": [{
        "cloudProvider": "aws", "account": "aws-test", "application": "shop", "stack": "web", "availabilityZones": {"us-east-1": ["us-east-1a"]},
        "imageId": image, "instanceType": "m5.large", "keyPair": "shop-key", "base64UserData": user_data, "subnetType": "internal",
        "capacity": {"min": 1, "max": 4, "desired": 1}, "targetGroups": ["shop"], "strategy": "redblack"}]}]})).await;
    let first = run(&app, "shop", &deploy).await;
    assert_eq!(first["status"], "SUCCEEDED", "{first:#}");
    let asg = autoscaling.describe_auto_scaling_groups().auto_scaling_group_names("shop-web-v000").send().await.unwrap();
    assert_eq!(asg.auto_scaling_groups()[0].vpc_zone_identifier(), Some(subnet.as_str()), "launched into the subnets of its subnetType");
    let template = ec2.describe_launch_template_versions().launch_template_name("shop-web-v000").send().await.unwrap();
    let data = template.launch_template_versions()[0].launch_template_data().unwrap();
    assert_eq!((data.key_name(), data.user_data()), (Some("shop-key"), Some(user_data)));

    let job = |extra: Value| {
        let mut job = json!({"type": "upsertScalingPolicy", "cloudProvider": "aws", "credentials": "aws-test", "region": "us-east-1", "serverGroupName": "shop-web-v000"});
        for (key, value) in extra.as_object().unwrap() {
            job[key] = value.clone();
        }
        job
    };
    // Deck's two policy shapes: target tracking on the load balancer's request count (its
    // resource label found from the group's target group), and a step policy with its alarm.
    let tracking = submit_task(&app, "shop", job(json!({"targetTrackingConfiguration": {"targetValue": 1000, "predefinedMetricSpecification": {"predefinedMetricType": "ALBRequestCountPerTarget"}}}))).await;
    assert_eq!(tracking["status"], "SUCCEEDED", "{tracking:#}");
    let step = submit_task(&app, "shop", job(json!({"adjustmentType": "ChangeInCapacity",
        "step": {"stepAdjustments": [{"metricIntervalLowerBound": 0, "scalingAdjustment": 2}], "estimatedInstanceWarmup": 120},
        "alarm": {"namespace": "AWS/EC2", "metricName": "CPUUtilization", "statistic": "Average", "comparisonOperator": "GreaterThanThreshold", "threshold": 70, "period": 60, "evaluationPeriods": 2}}))).await;
    assert_eq!(step["status"], "SUCCEEDED", "{step:#}");
    let schedule = submit_task(&app, "shop", json!({"type": "upsertAsgScheduledActions", "cloudProvider": "aws", "credentials": "aws-test",
        "asgs": [{"asgName": "shop-web-v000", "region": "us-east-1"}], "scheduledActions": [{"recurrence": "0 9 * * 1-5", "minSize": 2, "desiredCapacity": 3}]})).await;
    assert_eq!(schedule["status"], "SUCCEEDED", "{schedule:#}");

    let policies = autoscaling.describe_policies().auto_scaling_group_name("shop-web-v000").send().await.unwrap();
    let label = policies.scaling_policies().iter().find_map(|policy| policy.target_tracking_configuration()?.predefined_metric_specification()?.resource_label()).unwrap();
    assert!(label.starts_with("app/shop/") && label.contains("/targetgroup/shop/"), "{label}");
    let watch = cloudwatch(&moto.endpoint);
    let alarms = watch.describe_alarms(&["shop-web-v000-step-1".to_string()]).await.unwrap();
    assert_eq!(alarms[0].alarm_actions.len(), 1, "the alarm sets off the policy: {alarms:?}");
    assert_eq!(alarms[0].dimensions[0].value, "shop-web-v000");

    // The cache shows launch settings, policies (the alarm read back) and the schedule.
    let deadline = Instant::now() + Duration::from_secs(30);
    let v000 = loop {
        let group = detail(&app, "shop", "aws-test", "us-east-1", "shop-web-v000").await;
        if group["scalingPolicies"].as_array().is_some_and(|policies| policies.len() == 2) && group["scheduledActions"].is_array() {
            break group;
        }
        assert!(Instant::now() < deadline, "the policies never showed: {group:#}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(v000["launch"]["instanceType"], "m5.large", "{v000:#}");
    assert_eq!(v000["launch"]["keyPair"], "shop-key");
    assert_eq!(v000["launch"]["subnetType"], "internal");
    let step_policy = v000["scalingPolicies"].as_array().unwrap().iter().find(|policy| policy["policyType"] == "StepScaling").unwrap();
    // moto's DescribePolicies lists no alarms with a policy (AWS lists those whose action it
    // is): gennaker finds the alarm by the name it gave it, which works on both.
    assert_eq!(step_policy["alarms"][0]["threshold"], 70.0, "{step_policy}");
    assert_eq!(v000["scheduledActions"][0]["desiredCapacity"], 3);

    // Red/black to v001: policies, alarm (now watching v001) and schedule come along.
    let second = run(&app, "shop", &deploy).await;
    assert_eq!(second["status"], "SUCCEEDED", "{second:#}");
    let copied = autoscaling.describe_policies().auto_scaling_group_name("shop-web-v001").send().await.unwrap();
    assert_eq!(copied.scaling_policies().len(), 2);
    let alarms = watch.describe_alarms(&["shop-web-v001-step-1".to_string()]).await.unwrap();
    assert_eq!(alarms[0].dimensions[0].value, "shop-web-v001");
    let actions = autoscaling.describe_scheduled_actions().auto_scaling_group_name("shop-web-v001").send().await.unwrap();
    assert_eq!(actions.scheduled_update_group_actions()[0].recurrence(), Some("0 9 * * 1-5"));
    let template = ec2.describe_launch_template_versions().launch_template_name("shop-web-v001").send().await.unwrap();
    assert_eq!(template.launch_template_versions()[0].launch_template_data().unwrap().key_name(), Some("shop-key"));

    // Deleting a policy deletes its alarm; destroying a group deletes its alarms.
    let deleted = submit_task(&app, "shop", json!({"type": "deleteScalingPolicy", "cloudProvider": "aws", "credentials": "aws-test", "region": "us-east-1",
        "serverGroupName": "shop-web-v001", "policyName": "shop-web-v001-step-1"})).await;
    assert_eq!(deleted["status"], "SUCCEEDED", "{deleted:#}");
    assert!(watch.describe_alarms(&["shop-web-v001-step-1".to_string()]).await.unwrap().is_empty());
    let destroyed = submit_task(&app, "shop", json!({"type": "destroyServerGroup", "cloudProvider": "aws", "credentials": "aws-test", "region": "us-east-1",
        "serverGroupName": "shop-web-v000"})).await;
    assert_eq!(destroyed["status"], "SUCCEEDED", "{destroyed:#}");
    assert!(watch.describe_alarms(&["shop-web-v000-step-1".to_string()]).await.unwrap().is_empty());
}

/// A step policy on the local cloud: its alarm on the balancer's request count fires under
/// load and adds an instance per breached period, up to the maximum.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_step_policy_adds_instances_when_its_alarm_fires() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("grow").await;
    let port = free_port();
    create_balancer(&app, "grow", port).await;
    let pipeline = save_deploy_pipeline(&app, "grow", json!({"capacity": {"min": 1, "max": 2, "desired": 1}, "strategy": "redblack"})).await;
    let first = run(&app, "grow", pipeline["id"].as_str().unwrap()).await;
    assert_eq!(first["status"], "SUCCEEDED", "{first:#}");
    let step = submit_task(&app, "grow", json!({"type": "upsertScalingPolicy", "cloudProvider": "local", "credentials": "local", "region": "local",
        "serverGroupName": "grow-web-v000", "adjustmentType": "ChangeInCapacity",
        "step": {"stepAdjustments": [{"metricIntervalLowerBound": 0, "scalingAdjustment": 1}], "estimatedInstanceWarmup": 2},
        "alarm": {"namespace": "AWS/ApplicationELB", "metricName": "RequestCount", "statistic": "Sum", "comparisonOperator": "GreaterThanThreshold",
                  "threshold": 20, "period": 2, "evaluationPeriods": 1}})).await;
    assert_eq!(step["status"], "SUCCEEDED", "{step:#}");
    assert_eq!(step["stages"][0]["outputs"]["policyName"], "step-1");
    // Idle: more than 20 requests in 2 s is not reached, nothing changes.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(detail(&app, "grow", "local", "local", "grow-web-v000").await["capacity"]["desired"], 1);
    let (traffic, stop) = load(port);
    let grown = until(&app, "grow-web-v000", 40, "the alarm never fired", |group| group["capacity"]["desired"] == 2).await;
    assert_eq!(grown["scalingPolicies"][0]["alarms"][0]["metricName"], "RequestCount");
    stop.send(true).unwrap();
    assert!(traffic.await.unwrap() > 20);
}
