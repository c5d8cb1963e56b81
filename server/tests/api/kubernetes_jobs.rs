//! `runJobManifest` and `findArtifactsFromResource` against the real Kubernetes API server
//! and controllers (Job, Deployment, garbage collector) of `scripts/k8s up`
//! (`GENNAKER_TEST_KUBECONFIG` names its kubeconfig). Pods there are run by the project's
//! stand-in kubelet (`scripts/lib/kubelet_stand_in.py`, a test double: no container runtime
//! can run here), which marks Job pods Succeeded (exit code 0), or Failed (exit code 1) when
//! labelled `gennaker.io/test-fail`, and serves no container logs. Each test works in a
//! namespace and an account of its own.

use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use crate::helpers::{Db, TestApp, finished_as, spawn_app};
use crate::kubernetes::{kube_client, save, unique};

fn resource(api_version: &str, kind: &str, plural: &str) -> ApiResource {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

fn jobs(client: &kube::Client, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, &resource("batch/v1", "Job", "jobs"))
}

/// The Jobs of a namespace, by name.
async fn job_names(client: &kube::Client, namespace: &str) -> Vec<String> {
    let mut names: Vec<String> = jobs(client, namespace).list(&Default::default()).await.unwrap().items.into_iter().filter_map(|job| job.metadata.name).collect();
    names.sort();
    names
}

/// A namespace of the test's own, made directly (not through gennaker).
async fn create_namespace(client: &kube::Client, namespace: &str) {
    let namespaces: Api<DynamicObject> = Api::all_with(client.clone(), &resource("v1", "Namespace", "namespaces"));
    let manifest = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
    namespaces.patch(namespace, &PatchParams::apply("test").force(), &Patch::Apply(manifest)).await.unwrap();
}

/// Adds the test cluster as account `name`, managing every namespace.
async fn add_account(app: &TestApp, name: &str) {
    crate::kubernetes::add_account(app, name, &[]).await;
}

async fn start(app: &TestApp, application: &str, pipeline: &str, body: Value) -> String {
    let started = app.post_json(&format!("/api/v1/applications/{application}/pipelines/{pipeline}/executions"), &body).await;
    let status = started.status();
    let started: Value = started.json().await.unwrap();
    assert!(status.is_success(), "{started}");
    started["id"].as_str().unwrap().to_string()
}

async fn run(app: &TestApp, application: &str, pipeline: &str, body: Value) -> Value {
    let id = start(app, application, pipeline, body).await;
    finished_as(app, &app.client, &id, 90).await
}

fn stage<'a>(execution: &'a Value, ref_id: &str) -> &'a Value {
    execution["stages"].as_array().unwrap().iter().find(|stage| stage["refId"] == ref_id).unwrap()
}

/// A Job running `image` in `namespace`; `labels` go on its pods.
fn job(name: &str, namespace: &str, image: &str, labels: Value) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": namespace},
        "spec": {"backoffLimit": 0, "template": {"metadata": {"labels": labels},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": image, "command": ["sh", "-c", "echo SPINNAKER_PROPERTY_DONE=yes"]}]}}}})
}

fn run_job_stage(ref_id: &str, name: &str, account: &str, manifest: Value, after: &[&str]) -> Value {
    json!({"refId": ref_id, "requisiteStageRefIds": after, "type": "runJobManifest", "name": name, "account": account, "credentials": account,
        "cloudProvider": "kubernetes", "source": "text", "manifest": manifest})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_to_completion_and_runs_again_without_a_name_collision() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("batch").await;
    let namespace = unique("jobs");
    let client = kube_client().await;
    create_namespace(&client, &namespace).await;
    add_account(&app, "k8s-jobs-run").await;
    let mut migrate = run_job_stage("1", "Migrate", "k8s-jobs-run", job("migrate", &namespace, "registry.test/shop/migrate:placeholder", json!({})), &[]);
    migrate["consumeArtifactSource"] = json!("propertyFile");
    migrate["propertyFile"] = json!("main");
    let mut fixed = job("fixed", &namespace, "busybox:1.36", json!({}));
    fixed["metadata"]["annotations"] = json!({"strategy.spinnaker.io/recreate": "true"});
    let pipeline = json!({"name": "migrate", "stages": [
        migrate,
        run_job_stage("2", "Recreate", "k8s-jobs-run", fixed, &["1"]),
        {"refId": "3", "requisiteStageRefIds": ["2"], "type": "evaluateVariables", "name": "Read", "variables": [
            {"key": "migratePhase", "value": "${#stage('Migrate').outputs.jobStatus.pods[0].phase}"},
            {"key": "migrateState", "value": "${#stage('Migrate').context.jobStatus.jobState}"}]}]});
    let id = save(&app, "batch", pipeline).await;
    let image = json!({"type": "docker/image", "name": "registry.test/shop/migrate", "version": "7", "reference": "registry.test/shop/migrate:7"});

    let first = run(&app, "batch", &id, json!({"artifacts": [image]})).await;
    assert_eq!(first["status"], "SUCCEEDED", "{first}");
    let outputs = &stage(&first, "1")["outputs"];
    let status = &outputs["jobStatus"];
    assert_eq!(status["jobState"], "Succeeded", "{outputs}");
    assert_eq!(status["location"], namespace.as_str());
    assert_eq!(status["pods"][0]["phase"], "Succeeded");
    assert_eq!(status["pods"][0]["exitCode"], 0);
    assert!(status["completedTime"].as_i64().unwrap() > 0, "{status}");
    let first_name = status["name"].as_str().unwrap().to_string();
    assert!(first_name.starts_with("migrate-") && first_name.len() > "migrate-".len(), "a named Job runs with a unique suffix: {first_name}");
    assert_eq!(outputs["deploy.jobs"], json!({&namespace: [format!("job {first_name}")]}));
    assert_eq!(outputs["outputs.manifestNamesByNamespace"], outputs["deploy.jobs"]);
    assert_eq!(outputs["outputs.boundArtifacts"][0]["reference"], "registry.test/shop/migrate:7");
    // The stand-in kubelet serves no logs: the stage says so and still succeeds.
    let log_error = outputs["propertyFileError"].as_str().unwrap_or_default();
    assert!(log_error.contains("\"main\"") && log_error.contains("could not be read"), "{outputs}");
    let read = &stage(&first, "3")["outputs"];
    assert_eq!(read["migratePhase"], "Succeeded", "{read}");
    assert_eq!(read["migrateState"], "Succeeded");

    let created = jobs(&client, &namespace).get(&first_name).await.unwrap();
    let created = serde_json::to_value(created).unwrap();
    assert_eq!(created["spec"]["template"]["spec"]["containers"][0]["image"], "registry.test/shop/migrate:7", "the run's image was bound");
    assert_eq!(created["metadata"]["annotations"]["moniker.spinnaker.io/application"], "batch");
    assert_eq!(created["metadata"]["annotations"]["moniker.spinnaker.io/cluster"], "job migrate");
    let fixed_uid = jobs(&client, &namespace).get("fixed").await.unwrap().metadata.uid;

    // The same pipeline again: a second Job beside the first; the recreated one replaced.
    let second = run(&app, "batch", &id, json!({"artifacts": [{"type": "docker/image", "name": "registry.test/shop/migrate", "reference": "registry.test/shop/migrate:8"}]})).await;
    assert_eq!(second["status"], "SUCCEEDED", "{second}");
    let second_name = stage(&second, "1")["outputs"]["jobStatus"]["name"].as_str().unwrap().to_string();
    assert_ne!(second_name, first_name);
    assert_eq!(stage(&second, "2")["outputs"]["jobStatus"]["name"], "fixed", "a Job annotated recreate keeps its name");
    assert_ne!(jobs(&client, &namespace).get("fixed").await.unwrap().metadata.uid, fixed_uid, "and is a new Job");
    let mut expected = vec![first_name, second_name, "fixed".to_string()];
    expected.sort();
    assert_eq!(job_names(&client, &namespace).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_job_fails_the_stage_with_its_pods_exit_code() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("failing").await;
    let namespace = unique("jobfail");
    let client = kube_client().await;
    create_namespace(&client, &namespace).await;
    add_account(&app, "k8s-jobs-fail").await;
    let manifest = job("check", &namespace, "busybox:1.36", json!({"gennaker.io/test-fail": "true"}));
    let id = save(&app, "failing", json!({"name": "check", "stages": [run_job_stage("1", "Check", "k8s-jobs-fail", manifest, &[])]})).await;
    let ran = run(&app, "failing", &id, json!({})).await;
    assert_eq!(ran["status"], "TERMINAL", "{ran}");
    let failed = stage(&ran, "1");
    let error = failed["error"].as_str().unwrap_or_default();
    assert!(error.contains("BackoffLimitExceeded") && error.contains("exited with code 1"), "{error}");
    assert!(error.contains(&namespace), "{error}");
    let status = &failed["context"]["jobStatus"];
    assert_eq!(status["jobState"], "Failed", "the status is kept with the failure: {failed}");
    assert_eq!(status["pods"][0]["phase"], "Failed");
    assert_eq!(status["completionDetails"]["exitCode"], "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canceling_the_stage_deletes_its_job() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("stuck").await;
    let namespace = unique("jobcancel");
    let client = kube_client().await;
    create_namespace(&client, &namespace).await;
    add_account(&app, "k8s-jobs-cancel").await;
    // No node matches: its pod stays Pending and the Job never completes.
    let mut manifest = job("forever", &namespace, "busybox:1.36", json!({}));
    manifest["spec"]["template"]["spec"]["nodeSelector"] = json!({"gennaker.io/no-such-node": "true"});
    let id = save(&app, "stuck", json!({"name": "forever", "stages": [run_job_stage("1", "Forever", "k8s-jobs-cancel", manifest, &[])]})).await;
    let execution = start(&app, "stuck", &id, json!({})).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let name = loop {
        let seen: Value = app.get(&format!("/api/v1/executions/{execution}")).await.json().await.unwrap();
        if let Some(names) = stage(&seen, "1")["outputs"]["deploy.jobs"][&namespace].as_array() {
            break names[0].as_str().unwrap().trim_start_matches("job ").to_string();
        }
        assert!(Instant::now() < deadline, "the Job was never created: {seen}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(job_names(&client, &namespace).await, vec![name.clone()]);
    let canceled = app.client.put(app.url(&format!("/api/v1/executions/{execution}/cancel"))).send().await.unwrap();
    assert!(canceled.status().is_success());
    let done = finished_as(&app, &app.client, &execution, 30).await;
    assert_eq!(done["status"], "CANCELED", "{done}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !job_names(&client, &namespace).await.is_empty() {
        assert!(Instant::now() < deadline, "job {name} was not deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_found_in_a_deployment_are_read_by_a_later_stage() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("shop").await;
    let namespace = unique("find");
    let client = kube_client().await;
    create_namespace(&client, &namespace).await;
    add_account(&app, "k8s-jobs-find").await;
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": namespace},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
            "containers": [
                {"name": "web", "image": "registry.test/shop/web:1.4", "envFrom": [{"configMapRef": {"name": "web-settings"}}]},
                {"name": "proxy", "image": "envoyproxy/envoy:v1.27.0"}],
            "volumes": [{"name": "tls", "secret": {"secretName": "web-tls"}}]}}}});
    let pipeline = json!({"name": "find", "stages": [
        {"refId": "1", "type": "deployManifest", "name": "Deploy", "account": "k8s-jobs-find", "cloudProvider": "kubernetes", "manifests": [deployment]},
        {"refId": "2", "requisiteStageRefIds": ["1"], "type": "findArtifactsFromResource", "name": "Get Info", "account": "k8s-jobs-find",
         "cloudProvider": "kubernetes", "location": namespace, "manifestName": "deployment web", "mode": "static", "app": "shop"},
        {"refId": "3", "requisiteStageRefIds": ["2"], "type": "evaluateVariables", "name": "Read", "variables": [
            {"key": "currentImage", "value": "${#stage(\"Get Info\").context.artifacts.^[type == \"docker/image\"].reference}"},
            {"key": "proxyVersion", "value": "${artifacts.^[name == 'envoyproxy/envoy'].version}"},
            {"key": "replicas", "value": "${#stage('Get Info').context.manifest.spec.replicas}"},
            {"key": "secret", "value": "${artifacts.^[type == 'kubernetes/secret'].name}"}]}]});
    let id = save(&app, "shop", pipeline).await;
    let ran = run(&app, "shop", &id, json!({})).await;
    assert_eq!(ran["status"], "SUCCEEDED", "{ran}");
    let found = &stage(&ran, "2")["outputs"]["artifacts"];
    let listed: Vec<(String, String)> = found.as_array().unwrap().iter().map(|a| (a["type"].as_str().unwrap().into(), a["reference"].as_str().unwrap().into())).collect();
    assert_eq!(
        listed,
        vec![
            ("docker/image".to_string(), "registry.test/shop/web:1.4".to_string()),
            ("docker/image".into(), "envoyproxy/envoy:v1.27.0".into()),
            ("kubernetes/configMap".into(), "web-settings".into()),
            ("kubernetes/secret".into(), "web-tls".into()),
        ]
    );
    assert_eq!(found[0]["name"], "registry.test/shop/web");
    assert_eq!(found[0]["version"], "1.4");
    let read = &stage(&ran, "3")["outputs"];
    assert_eq!(read["currentImage"], "registry.test/shop/web:1.4", "{read}");
    assert_eq!(read["proxyVersion"], "v1.27.0");
    assert_eq!(read["replicas"], 2);
    assert_eq!(read["secret"], "web-tls");

    // An object that is not there fails the stage, naming it.
    let missing = save(&app, "shop", json!({"name": "missing", "stages": [{"refId": "1", "type": "findArtifactsFromResource", "name": "Get Info",
        "account": "k8s-jobs-find", "cloudProvider": "kubernetes", "location": namespace, "manifestName": "deployment nowhere"}]})).await;
    let ran = run(&app, "shop", &missing, json!({})).await;
    assert_eq!(ran["status"], "TERMINAL");
    assert!(stage(&ran, "1")["error"].as_str().unwrap_or_default().contains("deployment nowhere"), "{ran}");
}
