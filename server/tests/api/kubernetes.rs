//! Kubernetes accounts and manifest stages against a real Kubernetes API server with its real
//! controllers (Deployment, ReplicaSet, Job, garbage collector), started by `scripts/k8s up`
//! (the test command does it; `GENNAKER_TEST_KUBECONFIG` names its kubeconfig). Pods there are
//! run by the project's stand-in kubelet (`scripts/lib/kubelet_stand_in.py`: no container
//! runtime can run here), which makes them Running and Ready, or never Ready when labelled
//! `gennaker.io/test-never-ready`. Each test works in namespaces of its own.

use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use crate::helpers::{Db, TestApp, assert_error, finished_as, spawn_app};

/// The test cluster's kubeconfig.
pub(crate) fn kubeconfig() -> String {
    std::env::var("GENNAKER_TEST_KUBECONFIG").expect("GENNAKER_TEST_KUBECONFIG: start the test cluster with `scripts/k8s up` and source its env file")
}

/// A namespace name no other test (or earlier run) uses.
pub(crate) fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}-{}-{nanos:x}", std::process::id())
}

pub(crate) async fn kube_client() -> kube::Client {
    let config = kube::Config::from_custom_kubeconfig(kube::config::Kubeconfig::read_from(kubeconfig()).unwrap(), &Default::default()).await.unwrap();
    kube::Client::try_from(config).unwrap()
}

fn api(client: &kube::Client, namespace: &str, api_version: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    Api::namespaced_with(client.clone(), namespace, &resource)
}

async fn get(client: &kube::Client, namespace: &str, api_version: &str, kind: &str, plural: &str, name: &str) -> Option<Value> {
    api(client, namespace, api_version, kind, plural).get_opt(name).await.unwrap().map(|object| serde_json::to_value(object).unwrap())
}

/// Adds the test cluster as account `name` managing `namespaces`.
pub(crate) async fn add_account(app: &TestApp, name: &str, namespaces: &[&str]) {
    let account = json!({"name": name, "cloudProvider": "kubernetes", "kubernetes": {"kubeconfigFile": kubeconfig(), "namespaces": namespaces}});
    let response = app.client.put(app.url(&format!("/api/v1/clouds/accounts/{name}"))).json(&account).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

fn namespace_manifest(namespace: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
}

pub(crate) async fn save(app: &TestApp, application: &str, pipeline: Value) -> String {
    let saved = app.post_json(&format!("/api/v1/applications/{application}/pipelines"), &pipeline).await;
    let status = saved.status();
    let body: Value = saved.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body["id"].as_str().unwrap().to_string()
}

async fn run(app: &TestApp, application: &str, pipeline: &str, body: Value) -> Value {
    let started = app.post_json(&format!("/api/v1/applications/{application}/pipelines/{pipeline}/executions"), &body).await;
    let status = started.status();
    let started: Value = started.json().await.unwrap();
    assert!(status.is_success(), "{started}");
    finished_as(app, &app.client, started["id"].as_str().unwrap(), 90).await
}

/// One stage's outputs by its refId.
fn stage<'a>(execution: &'a Value, ref_id: &str) -> &'a Value {
    execution["stages"].as_array().unwrap().iter().find(|stage| stage["refId"] == ref_id).unwrap()
}

/// Waits until stage `ref_id` of the run is RUNNING (a judgment waiting for its answer).
async fn until_running(app: &TestApp, execution_id: &str, ref_id: &str, seconds: u64) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let execution: Value = app.get(&format!("/api/v1/executions/{execution_id}")).await.json().await.unwrap();
        if stage(&execution, ref_id)["status"] == "RUNNING" {
            return;
        }
        assert!(!["TERMINAL", "CANCELED"].contains(&execution["status"].as_str().unwrap()), "{execution}");
        assert!(Instant::now() < deadline, "never reached stage {ref_id}: {execution}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until `check` holds for the application's clusters view.
async fn until_clusters(app: &TestApp, application: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let view: Value = app.get(&format!("/api/v1/applications/{application}/clusters")).await.json().await.unwrap();
        if check(&view) {
            return view;
        }
        assert!(Instant::now() < deadline, "the clusters view never showed {what}: {view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The server groups of the view in `namespace` (tests share the cluster, and earlier runs'
/// namespaces may still be there).
fn server_groups_in(view: &Value, namespace: &str) -> Vec<Value> {
    view.as_array()
        .into_iter()
        .flatten()
        .filter(|region| region["region"] == namespace)
        .flat_map(|region| region["clusters"].as_array().cloned().unwrap_or_default())
        .flat_map(|cluster| cluster["serverGroups"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn server_group<'a>(groups: &'a [Value], name: &str) -> Option<&'a Value> {
    groups.iter().find(|group| group["name"] == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_configuration_that_only_admins_change() {
    let app = spawn_app(Db::Sqlite).await;
    let account = json!({"cloudProvider": "kubernetes", "kubernetes": {"kubeconfigFile": kubeconfig()}});
    let put = |name: &str, body: Value| app.client.put(app.url(&format!("/api/v1/clouds/accounts/{name}"))).json(&body).send();

    // Bad input is refused naming the field; nothing is stored.
    assert_error(put("k8s", json!({"cloudProvider": "kubernetes"})).await.unwrap(), 400, "invalid", Some("kubernetes")).await;
    assert_error(put("K8S", account.clone()).await.unwrap(), 400, "invalid", Some("name")).await;
    let missing_secret = json!({"cloudProvider": "kubernetes", "kubernetes": {"kubeconfigSecret": "no-such-secret"}});
    assert_error(put("k8s", missing_secret).await.unwrap(), 400, "invalid", Some("kubernetes.kubeconfigSecret")).await;
    assert_error(put("local", account.clone()).await.unwrap(), 409, "conflict", Some("name")).await;
    let listed: Vec<Value> = app.get("/api/v1/clouds/accounts").await.json().await.unwrap();
    assert_eq!(listed.len(), 1, "only local: {listed:?}");

    // A role-less user may neither see the configuration nor change it.
    let nobody = app.user_client("mallory", &[]).await;
    let refused = nobody.put(app.url("/api/v1/clouds/accounts/k8s")).json(&account).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(nobody.get(app.url("/api/v1/clouds/accounts")).send().await.unwrap().status(), 403);

    let saved = put("k8s", account.clone()).await.unwrap();
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    // Its caching agent says how it is doing: it reaches the cluster.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listed: Vec<Value> = app.get("/api/v1/clouds/accounts").await.json().await.unwrap();
        if listed.iter().any(|account| account["name"] == "k8s" && account["status"] == "watching") {
            break;
        }
        assert!(Instant::now() < deadline, "the account never showed as watching: {listed:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // An account whose kubeconfig file is not a kubeconfig says why.
    let bogus = std::env::temp_dir().join(format!("not-a-kubeconfig-{}", std::process::id()));
    std::fs::write(&bogus, "this: is not a kubeconfig").unwrap();
    let broken = json!({"cloudProvider": "kubernetes", "kubernetes": {"kubeconfigFile": bogus.display().to_string()}});
    assert_eq!(put("broken", broken).await.unwrap().status(), 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listed: Vec<Value> = app.get("/api/v1/clouds/accounts").await.json().await.unwrap();
        let status = listed.iter().find(|account| account["name"] == "broken").and_then(|account| account["status"].as_str()).unwrap_or_default().to_string();
        if status.starts_with("cannot connect") {
            break;
        }
        assert!(Instant::now() < deadline, "the broken account never said why: {listed:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.delete("/api/v1/clouds/accounts/broken").await.status(), 204);
    let accounts: Vec<Value> = app.get("/api/v1/accounts").await.json().await.unwrap();
    let names: Vec<&str> = accounts.iter().map(|account| account["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["local", "k8s"]);
    assert_eq!(accounts[1]["cloudProvider"], "kubernetes");

    // Permissions apply to it as to local.
    let permissions = json!({"READ": ["ops"], "WRITE": ["ops"]});
    let set = app.client.put(app.url("/api/v1/accounts/k8s/permissions")).json(&permissions).send().await.unwrap();
    assert_eq!(set.status(), 200);
    let seen: Vec<Value> = nobody.get(app.url("/api/v1/accounts")).send().await.unwrap().json().await.unwrap();
    assert!(seen.iter().all(|account| account["name"] != "k8s"), "a user without READ does not see it: {seen:?}");

    assert_eq!(app.delete("/api/v1/clouds/accounts/k8s").await.status(), 204);
    assert_eq!(app.delete("/api/v1/clouds/accounts/k8s").await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_manifest_versions_replica_sets_and_moves_traffic_red_black() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("shop").await;
    let namespace = unique("rb");
    add_account(&app, "k8s", &[]).await;
    let replica_set = |image: &str| {
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": namespace},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"workload": "web"}},
                "template": {"metadata": {"labels": {"workload": "web"}}, "spec": {"containers": [{"name": "web", "image": image}]}}}})
    };
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": namespace},
        "spec": {"selector": {"frontend": "web"}, "ports": [{"name": "http", "port": 80}]}});
    let setup = save(&app, "shop", json!({"name": "setup", "stages": [{"refId": "1", "type": "deployManifest", "name": "Namespace and service",
        "account": "k8s", "cloudProvider": "kubernetes", "source": "text", "manifests": [namespace_manifest(&namespace), service]}]})).await;
    let ran = run(&app, "shop", &setup, json!({})).await;
    assert_eq!(ran["status"], "SUCCEEDED", "{ran}");

    let pipeline = |image: &str| {
        json!({"name": "deploy web", "expectedArtifacts": [{"id": "image", "matchArtifact": {"type": "docker/image", "name": "registry.test/shop/web"}}],
            "stages": [{"refId": "1", "type": "deployManifest", "name": "Deploy", "account": "k8s", "cloudProvider": "kubernetes",
            "source": "text", "manifests": [replica_set(image)], "requiredArtifactIds": ["image"], "moniker": {"app": "shop"},
            "trafficManagement": {"enabled": true, "options": {"enableTraffic": true, "services": ["service web"], "strategy": "redblack"}}}]})
    };
    let deploy = save(&app, "shop", pipeline("registry.test/shop/web:placeholder")).await;
    let image = |tag: &str| json!({"type": "docker/image", "name": "registry.test/shop/web", "version": tag, "reference": format!("registry.test/shop/web:{tag}")});

    let first = run(&app, "shop", &deploy, json!({"artifacts": [image("1")]})).await;
    assert_eq!(first["status"], "SUCCEEDED", "{first}");
    let outputs = &stage(&first, "1")["outputs"];
    assert_eq!(outputs["outputs.manifestNamesByNamespace"][&namespace], json!(["replicaSet web-v000"]), "{outputs}");
    assert_eq!(outputs["outputs.boundArtifacts"][0]["reference"], "registry.test/shop/web:1");
    let client = kube_client().await;
    let v000 = get(&client, &namespace, "apps/v1", "ReplicaSet", "replicasets", "web-v000").await.expect("web-v000 exists");
    assert_eq!(v000["spec"]["template"]["spec"]["containers"][0]["image"], "registry.test/shop/web:1", "the bound image replaced the placeholder");
    assert_eq!(v000["metadata"]["annotations"]["moniker.spinnaker.io/application"], "shop");
    assert_eq!(v000["metadata"]["annotations"]["artifact.spinnaker.io/version"], "v000");
    assert_eq!(v000["spec"]["template"]["metadata"]["labels"]["frontend"], "web", "it joined the service");

    let view = until_clusters(&app, "shop", "web-v000 with 2 instances up", |view| {
        server_group(&server_groups_in(view, &namespace), "replicaSet web-v000").is_some_and(|group| group["instanceCounts"]["up"] == 2)
    })
    .await;
    let region = view.as_array().unwrap().iter().find(|region| region["region"] == namespace.as_str()).unwrap();
    assert_eq!(region["cloudProvider"], "kubernetes");
    assert_eq!(region["clusters"][0]["name"], "replicaSet web");

    // A new image: a new version takes the traffic, the old one leaves the service.
    let second = run(&app, "shop", &deploy, json!({"artifacts": [image("2")]})).await;
    assert_eq!(second["status"], "SUCCEEDED", "{second}");
    assert_eq!(stage(&second, "1")["outputs"]["disabledManifests"], json!(["replicaSet web-v000"]));
    let view = until_clusters(&app, "shop", "web-v000 disabled and web-v001 up", |view| {
        let groups = server_groups_in(view, &namespace);
        server_group(&groups, "replicaSet web-v000").is_some_and(|group| group["disabled"] == true)
            && server_group(&groups, "replicaSet web-v001").is_some_and(|group| group["disabled"] == false && group["instanceCounts"]["up"] == 2)
    })
    .await;
    assert_eq!(server_group(&server_groups_in(&view, &namespace), "replicaSet web-v001").unwrap()["loadBalancers"], json!(["service web"]));

    // The same manifest again makes no new version.
    let third = run(&app, "shop", &deploy, json!({"artifacts": [image("2")]})).await;
    assert_eq!(third["status"], "SUCCEEDED", "{third}");
    assert_eq!(stage(&third, "1")["outputs"]["outputs.manifestNamesByNamespace"][&namespace], json!(["replicaSet web-v001"]));
    assert!(get(&client, &namespace, "apps/v1", "ReplicaSet", "replicasets", "web-v002").await.is_none());

    // A clusterSize precondition counts the cluster's versions, as Deck writes it for Kubernetes.
    let precondition = |expected: u32| {
        json!({"name": format!("has {expected}"), "stages": [{"refId": "1", "type": "checkPreconditions", "name": "Check", "preconditions": [
            {"type": "clusterSize", "cloudProvider": "kubernetes", "failPipeline": true,
             "context": {"cluster": "replicaSet web", "credentials": "k8s", "regions": [namespace], "comparison": "==", "expected": expected}}]}]})
    };
    let two = save(&app, "shop", precondition(2)).await;
    assert_eq!(run(&app, "shop", &two, json!({})).await["status"], "SUCCEEDED");
    let three = save(&app, "shop", precondition(3)).await;
    let failed = run(&app, "shop", &three, json!({})).await;
    assert_eq!(failed["status"], "TERMINAL");
    assert!(stage(&failed, "1")["error"].as_str().unwrap_or_default().contains("has 2 server groups"), "{failed}");

    // A required image no container runs cannot be bound: the deploy fails and says so.
    let mut elsewhere = pipeline("nginx:1.27");
    elsewhere["name"] = json!("deploy other");
    elsewhere["stages"][0]["manifests"][0]["metadata"]["name"] = json!("other");
    let elsewhere = save(&app, "shop", elsewhere).await;
    let unbound = run(&app, "shop", &elsewhere, json!({"artifacts": [image("3")]})).await;
    assert_eq!(unbound["status"], "TERMINAL");
    let error = stage(&unbound, "1")["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("not bound") && error.contains("registry.test/shop/web:3"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_patch_undo_and_delete_a_deployment() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("api").await;
    let namespace = unique("ops");
    add_account(&app, "k8s", &[]).await;
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": namespace},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "api"}},
            "template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{"name": "api", "image": "api:1"}]}}}});
    let target = json!({"account": "k8s", "cloudProvider": "kubernetes", "location": namespace, "manifestName": "deployment api"});
    let with = |mut stage: Value, own: Value| {
        stage.as_object_mut().unwrap().extend(target.as_object().unwrap().clone());
        stage.as_object_mut().unwrap().extend(own.as_object().unwrap().clone());
        stage
    };
    let pipeline = json!({"name": "operate", "stages": [
        {"refId": "1", "type": "deployManifest", "name": "Deploy", "account": "k8s", "cloudProvider": "kubernetes", "manifests": [namespace_manifest(&namespace), deployment]},
        with(json!({"refId": "2", "requisiteStageRefIds": ["1"], "type": "scaleManifest", "name": "Scale"}), json!({"replicas": 3})),
        with(json!({"refId": "3", "requisiteStageRefIds": ["2"], "type": "patchManifest", "name": "Patch"}),
            json!({"options": {"mergeStrategy": "strategic"}, "patchBody": {"spec": {"template": {"spec": {"containers": [{"name": "api", "image": "api:2"}]}}}}})),
        with(json!({"refId": "4", "requisiteStageRefIds": ["3"], "type": "undoRolloutManifest", "name": "Undo"}), json!({"numRevisionsBack": 1})),
    ]});
    let id = save(&app, "api", pipeline).await;
    let ran = run(&app, "api", &id, json!({})).await;
    assert_eq!(ran["status"], "SUCCEEDED", "{ran}");
    let client = kube_client().await;
    let found = get(&client, &namespace, "apps/v1", "Deployment", "deployments", "api").await.unwrap();
    assert_eq!(found["spec"]["replicas"], 3, "scaled");
    assert_eq!(found["spec"]["template"]["spec"]["containers"][0]["image"], "api:1", "patched to api:2, then rolled back");
    assert_eq!(stage(&ran, "4")["outputs"]["revision"], 1);
    assert_eq!(found["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "3", "the undo is a new revision");

    let view = until_clusters(&app, "api", "the deployment's cluster", |view| {
        server_groups_in(view, &namespace).iter().any(|group| group["cluster"] == "deployment api" && group["instanceCounts"]["up"] == 3)
    })
    .await;
    assert!(server_groups_in(&view, &namespace).iter().all(|group| group["cluster"] == "deployment api"), "{view}");

    let delete = save(&app, "api", json!({"name": "delete", "stages": [with(json!({"refId": "1", "type": "deleteManifest", "name": "Delete"}), json!({"options": {"cascading": true}}))]})).await;
    let ran = run(&app, "api", &delete, json!({})).await;
    assert_eq!(ran["status"], "SUCCEEDED", "{ran}");
    assert!(get(&client, &namespace, "apps/v1", "Deployment", "deployments", "api").await.is_none());
    until_clusters(&app, "api", "nothing left", |view| server_groups_in(view, &namespace).is_empty()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_that_never_becomes_ready_fails_the_deploy() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("stuck").await;
    let namespace = unique("stuck");
    add_account(&app, "k8s", &[]).await;
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "stuck", "namespace": namespace},
        "spec": {"replicas": 1, "progressDeadlineSeconds": 2, "selector": {"matchLabels": {"app": "stuck"}},
            "template": {"metadata": {"labels": {"app": "stuck", "gennaker.io/test-never-ready": "true"}},
                "spec": {"containers": [{"name": "stuck", "image": "stuck:1"}]}}}});
    let id = save(&app, "stuck", json!({"name": "deploy", "stages": [{"refId": "1", "type": "deployManifest", "name": "Deploy",
        "account": "k8s", "cloudProvider": "kubernetes", "manifests": [namespace_manifest(&namespace), deployment]}]})).await;
    let ran = run(&app, "stuck", &id, json!({})).await;
    assert_eq!(ran["status"], "TERMINAL", "{ran}");
    let error = stage(&ran, "1")["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("will not become stable") && error.contains("progress"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_cache_sees_changes_made_outside_and_respects_permissions() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("outside").await;
    let namespace = unique("outside");
    add_account(&app, "k8s-watched", &[&namespace]).await;
    let client = kube_client().await;
    let namespaces: Api<DynamicObject> = Api::all_with(client.clone(), &ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", "Namespace"), "namespaces"));
    namespaces.patch(&namespace, &PatchParams::apply("test").force(), &Patch::Apply(namespace_manifest(&namespace))).await.unwrap();
    let deployments = api(&client, &namespace, "apps/v1", "Deployment", "deployments");
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "made-by-kubectl",
        "annotations": {"moniker.spinnaker.io/application": "outside"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "x"}}, "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "x", "image": "x:1"}]}}}});
    deployments.patch("made-by-kubectl", &PatchParams::apply("test").force(), &Patch::Apply(&deployment)).await.unwrap();
    until_clusters(&app, "outside", "the deployment made outside gennaker", |view| {
        server_groups_in(view, &namespace).iter().any(|group| group["cluster"] == "deployment made-by-kubectl" && group["instanceCounts"]["up"] == 1)
    })
    .await;
    // Scaled from outside: the watch brings it, no poll interval to wait for.
    let started = Instant::now();
    deployments.patch("made-by-kubectl", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 2}}))).await.unwrap();
    until_clusters(&app, "outside", "two instances", |view| server_groups_in(view, &namespace).iter().any(|group| group["instanceCounts"]["up"] == 2)).await;
    eprintln!("an outside scale reached the clusters view in {:?}", started.elapsed());

    // A user without READ on the account sees none of it, though the application is open.
    app.client.put(app.url("/api/v1/accounts/k8s-watched/permissions")).json(&json!({"READ": ["ops"], "WRITE": ["ops"]})).send().await.unwrap();
    let viewer = app.user_client("viewer", &[]).await;
    let view: Value = viewer.get(app.url("/api/v1/applications/outside/clusters")).send().await.unwrap().json().await.unwrap();
    assert!(server_groups_in(&view, &namespace).is_empty(), "{view}");
    // Nor may they deploy to it: the save is refused.
    let pipeline = json!({"name": "sneaky", "stages": [{"refId": "1", "type": "scaleManifest", "name": "Scale", "account": "k8s-watched",
        "cloudProvider": "kubernetes", "location": namespace, "manifestName": "deployment made-by-kubectl", "replicas": 0}]});
    let refused = viewer.post(app.url("/api/v1/applications/outside/pipelines")).json(&pipeline).send().await.unwrap();
    assert_eq!(refused.status(), 403, "{}", refused.text().await.unwrap());

    // A namespace the account does not manage is refused at run time.
    let elsewhere = save(&app, "outside", json!({"name": "elsewhere", "stages": [{"refId": "1", "type": "scaleManifest", "name": "Scale",
        "account": "k8s-watched", "cloudProvider": "kubernetes", "location": "default", "manifestName": "deployment anything", "replicas": 0}]})).await;
    let ran = run(&app, "outside", &elsewhere, json!({})).await;
    assert_eq!(ran["status"], "TERMINAL");
    assert!(stage(&ran, "1")["error"].as_str().unwrap_or_default().contains("does not manage namespace \"default\""), "{ran}");

    // Removing the account drops what it showed.
    assert_eq!(app.delete("/api/v1/clouds/accounts/k8s-watched").await.status(), 204);
    until_clusters(&app, "outside", "nothing once the account is gone", |view| server_groups_in(view, &namespace).is_empty()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_docker_push_deploys_its_image_red_black_through_a_service() {
    let registry = crate::triggers::registry();
    let app = crate::helpers::spawn_app_with(Db::Sqlite, |config| config.docker_poll_ms = 1_000).await;
    app.create_application("images").await;
    let namespace = unique("docker");
    add_account(&app, "k8s", &[]).await;
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": namespace},
        "spec": {"selector": {"frontend": "web"}, "ports": [{"port": 80}]}});
    let image = format!("{}/shop/web", registry.address);
    let replica_set = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": namespace},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"workload": "web"}},
            "template": {"metadata": {"labels": {"workload": "web"}}, "spec": {"containers": [{"name": "web", "image": format!("{image}:placeholder")}]}}}});
    let pipeline = json!({"name": "on image", "limitConcurrent": true,
        "expectedArtifacts": [{"id": "image", "matchArtifact": {"type": "docker/image", "name": ".*/shop/web"}}],
        "triggers": [{"type": "docker", "registry": registry.address, "repository": "shop/web", "tag": "v[0-9]+", "runAsUser": "admin"}],
        "stages": [{"refId": "1", "type": "deployManifest", "name": "Deploy", "account": "k8s", "cloudProvider": "kubernetes",
            "manifests": [namespace_manifest(&namespace), service, replica_set], "requiredArtifactIds": ["image"],
            "trafficManagement": {"enabled": true, "options": {"enableTraffic": true, "services": ["service web"], "strategy": "redblack"}}}]});
    save(&app, "images", pipeline).await;
    // The poller's first look only takes note of what is there; pushes after it start runs.
    crate::triggers::push(&registry, "shop/web", "v0", "zero").await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let runs = |app: &TestApp| {
        let path = "/api/v1/executions?application=images".to_string();
        let request = app.client.get(app.url(&path));
        async move { request.send().await.unwrap().json::<Vec<Value>>().await.unwrap() }
    };
    for (number, tag) in ["v1", "v2"].into_iter().enumerate() {
        crate::triggers::push(&registry, "shop/web", tag, tag).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        let run = loop {
            let found = runs(&app).await;
            if found.len() == number + 1 {
                break found[0].clone();
            }
            assert!(Instant::now() < deadline, "the push of {tag} started no run: {found:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let run = finished_as(&app, &app.client, run["id"].as_str().unwrap(), 60).await;
        assert_eq!(run["status"], "SUCCEEDED", "{run}");
        let version = format!("web-v{number:03}");
        let deployed = get(&kube_client().await, &namespace, "apps/v1", "ReplicaSet", "replicasets", &version).await.unwrap();
        assert_eq!(deployed["spec"]["template"]["spec"]["containers"][0]["image"], format!("{image}:{tag}"), "the pushed tag runs");
    }
    let view = until_clusters(&app, "images", "v001 taking the traffic", |view| {
        let groups = server_groups_in(view, &namespace);
        server_group(&groups, "replicaSet web-v000").is_some_and(|group| group["disabled"] == true)
            && server_group(&groups, "replicaSet web-v001").is_some_and(|group| group["disabled"] == false && group["instanceCounts"]["up"] == 1)
    })
    .await;
    assert_eq!(server_group(&server_groups_in(&view, &namespace), "replicaSet web-v001").unwrap()["artifact"]["reference"], format!("{image}:v2"));
}

/// A pipeline from a public repository (fixture 44), saved unchanged: its account is named
/// `spin-support-cluster`, so that is the name the test cluster gets here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_world_pipeline_runs_unchanged_on_the_test_cluster() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("invoicing").await;
    let namespace = unique("invoicing");
    let account = json!({"cloudProvider": "kubernetes", "kubernetes": {"kubeconfigFile": kubeconfig(), "namespaces": [namespace]}});
    // Its manifest names no namespace: it goes to the account's default, which this account's
    // kubeconfig context sets.
    let context_file = std::env::temp_dir().join(format!("{namespace}.kubeconfig"));
    let mut config: Value = serde_json::from_str(&serde_json::to_string(&serde_saphyr::from_str::<Value>(&std::fs::read_to_string(kubeconfig()).unwrap()).unwrap()).unwrap()).unwrap();
    config["contexts"][0]["context"]["namespace"] = json!(namespace);
    std::fs::write(&context_file, serde_json::to_string(&config).unwrap()).unwrap();
    let mut account = account;
    account["kubernetes"]["kubeconfigFile"] = json!(context_file.display().to_string());
    let saved = app.client.put(app.url("/api/v1/clouds/accounts/spin-support-cluster")).json(&account).send().await.unwrap();
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    let client = kube_client().await;
    let namespaces: Api<DynamicObject> = Api::all_with(client.clone(), &ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", "Namespace"), "namespaces"));
    namespaces.patch(&namespace, &PatchParams::apply("test").force(), &Patch::Apply(namespace_manifest(&namespace))).await.unwrap();

    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/spinnaker");
    let pipeline: Value = serde_json::from_str(&std::fs::read_to_string(folder.join("44-invoicing-deploy-judgment.json")).unwrap()).unwrap();
    // Its `application` is a name gennaker's naming convention refuses (a hyphen): it goes into
    // an application of ours, as `gennaker import` would put it.
    let mut pipeline = pipeline;
    pipeline["application"] = json!("invoicing");
    let id = save(&app, "invoicing", pipeline).await;
    let started = app.post_json(&format!("/api/v1/applications/invoicing/pipelines/{id}/executions"), &json!({})).await;
    let started: Value = started.json().await.unwrap();
    let execution_id = started["id"].as_str().unwrap().to_string();
    // It deploys, then asks a person; the answer is given through the API.
    until_running(&app, &execution_id, "2", 60).await;
    let judged = app.patch_json(&format!("/api/v1/executions/{execution_id}/stages/2"), &json!({"judgmentStatus": "continue"})).await;
    assert!(judged.status().is_success());
    let execution = finished_as(&app, &app.client, &execution_id, 30).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let deployment = get(&client, &namespace, "apps/v1", "Deployment", "deployments", "nginx-deployment").await.unwrap();
    assert_eq!(deployment["status"]["readyReplicas"], 3);
    assert_eq!(deployment["metadata"]["annotations"]["moniker.spinnaker.io/application"], "invoicing-integration-app");
}

/// The caching agent's watches survive the API server going away and coming back with their
/// resourceVersions compacted away (410 Gone): the view keeps what it knew meanwhile, and
/// changes made after the restart arrive. This test runs a cluster of its own (`scripts/k8s up
/// --dir`), since it restarts the API server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_cache_survives_an_api_server_restart_and_a_compaction() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/k8s");
    let dir = std::env::temp_dir().join(format!("gennaker-k8s-restart-{}", std::process::id()));
    let k8s = |args: &[&str]| {
        let output = std::process::Command::new(&script).args(args).arg("--dir").arg(&dir).output().unwrap();
        assert!(output.status.success(), "scripts/k8s {args:?}: {}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    };
    k8s(&["up"]);
    let kubeconfig_path = dir.join("kubeconfig");
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("steady").await;
    let account = json!({"cloudProvider": "kubernetes", "kubernetes": {"kubeconfigFile": kubeconfig_path.display().to_string()}});
    let saved = app.client.put(app.url("/api/v1/clouds/accounts/restarted")).json(&account).send().await.unwrap();
    assert_eq!(saved.status(), 200);
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "steady", "namespace": "default"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "steady"}}, "template": {"metadata": {"labels": {"app": "steady"}}, "spec": {"containers": [{"name": "s", "image": "s:1"}]}}}});
    let id = save(&app, "steady", json!({"name": "deploy", "stages": [{"refId": "1", "type": "deployManifest", "name": "Deploy",
        "account": "restarted", "cloudProvider": "kubernetes", "manifests": [deployment]}]})).await;
    assert_eq!(run(&app, "steady", &id, json!({})).await["status"], "SUCCEEDED");
    let up = |count: u64| move |view: &Value| server_groups_in(view, "default").iter().any(|group| group["instanceCounts"]["up"] == count);
    until_clusters(&app, "steady", "one instance", up(1)).await;

    // Force the 410 path: other writes move etcd's revision on, etcd is compacted to it, and the
    // API server restarts with an empty watch cache; the agent's watches resume from
    // resourceVersions that no longer exist (410 Gone) and must list again.
    let config = kube::Config::from_custom_kubeconfig(kube::config::Kubeconfig::read_from(&kubeconfig_path).unwrap(), &Default::default()).await.unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let config_maps = api(&client, "default", "v1", "ConfigMap", "configmaps");
    for index in 0..5 {
        let map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("churn-{index}")}, "data": {"n": index.to_string()}});
        config_maps.patch(&format!("churn-{index}"), &PatchParams::apply("test").force(), &Patch::Apply(map)).await.unwrap();
    }
    let state = std::fs::read_to_string(dir.join("state")).unwrap();
    let etcd_port = state.lines().find_map(|line| line.strip_prefix("ETCD_PORT=")).unwrap().trim().to_string();
    let etcd = reqwest::Client::new();
    let range: Value = etcd.post(format!("http://127.0.0.1:{etcd_port}/v3/kv/range")).json(&json!({"key": "Lw=="})).send().await.unwrap().json().await.unwrap();
    let revision = range["header"]["revision"].as_str().unwrap().to_string();
    let compacted = etcd.post(format!("http://127.0.0.1:{etcd_port}/v3/kv/compaction")).json(&json!({"revision": revision, "physical": true})).send().await.unwrap();
    assert!(compacted.status().is_success(), "{}", compacted.text().await.unwrap());

    k8s(&["restart-apiserver"]);
    let view: Value = app.get("/api/v1/applications/steady/clusters").await.json().await.unwrap();
    assert!(up(1)(&view), "the view kept what it knew across the restart: {view}");
    // A change made after the restart arrives through the relisted watches.
    api(&client, "default", "apps/v1", "Deployment", "deployments")
        .patch("steady", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 2}})))
        .await
        .unwrap();
    until_clusters(&app, "steady", "two instances after the restart", up(2)).await;
    drop(app);
    k8s(&["down"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// An account whose kubeconfig is a secret in the secrets store: the caching agent reads it
/// from there, and a secret that is not a kubeconfig is reported by its name, its content never
/// shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubeconfig_from_the_secrets_store_reaches_the_cluster_and_never_shows() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("secretive").await;
    let namespace = unique("secret");
    let content = std::fs::read_to_string(kubeconfig()).unwrap();
    let secret = json!({"name": "kubeconfig-test", "value": content, "description": "the test cluster", "roles": [], "applications": []});
    let created = app.post_json("/api/v1/secrets", &secret).await;
    assert!(created.status().is_success(), "{}", created.text().await.unwrap());
    let account = json!({"cloudProvider": "kubernetes", "kubernetes": {"kubeconfigSecret": "kubeconfig-test", "namespaces": [namespace]}});
    let saved = app.client.put(app.url("/api/v1/clouds/accounts/from-secret")).json(&account).send().await.unwrap();
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    let listed = app.get("/api/v1/clouds/accounts").await.text().await.unwrap();
    assert!(!listed.contains("certificate-authority-data") && !listed.contains("token:"), "only the secret's name is shown: {listed}");

    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "quiet", "namespace": namespace},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "quiet"}}, "template": {"metadata": {"labels": {"app": "quiet"}}, "spec": {"containers": [{"name": "q", "image": "q:1"}]}}}});
    let id = save(&app, "secretive", json!({"name": "deploy", "stages": [{"refId": "1", "type": "deployManifest", "name": "Deploy",
        "account": "from-secret", "cloudProvider": "kubernetes", "manifests": [namespace_manifest(&namespace), deployment]}]})).await;
    let ran = run(&app, "secretive", &id, json!({})).await;
    assert_eq!(ran["status"], "SUCCEEDED", "{ran}");
    until_clusters(&app, "secretive", "the deployment, seen through the secret's kubeconfig", |view| {
        server_groups_in(view, &namespace).iter().any(|group| group["cluster"] == "deployment quiet")
    })
    .await;

    // A secret that is not a kubeconfig: the run fails naming the secret, not showing its value.
    let garbage = "not: [a kubeconfig, token: hunter2-very-secret";
    let replaced = app.client.put(app.url("/api/v1/secrets/kubeconfig-test")).json(&json!({"value": garbage})).send().await.unwrap();
    assert!(replaced.status().is_success());
    let ran = run(&app, "secretive", &id, json!({})).await;
    assert_eq!(ran["status"], "TERMINAL");
    let text = ran.to_string();
    assert!(text.contains("kubeconfig-test") && text.contains("not a valid kubeconfig"), "{text}");
    assert!(!text.contains("hunter2"), "the secret's value never shows: {text}");
}

/// A second public pipeline (fixture 19, an Istio canary demo), saved unchanged: Deployments,
/// Services, a Job run twice with `strategy.spinnaker.io/recreate`, Istio's DestinationRule and
/// VirtualService (custom resources, found through discovery), a judgment, and a delete by
/// label selector. The test cluster gets what the pipeline assumes: an account named
/// `kubernetes`, a namespace `demo` and Istio's resource definitions (not Istio itself).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_world_istio_pipeline_with_jobs_runs_unchanged_on_the_test_cluster() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("istiodemo").await;
    let client = kube_client().await;
    let cluster_api = |group: &str, version: &str, kind: &str, plural: &str| -> Api<DynamicObject> {
        Api::all_with(client.clone(), &ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural))
    };
    let definitions = cluster_api("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions");
    for (kind, plural) in [("DestinationRule", "destinationrules"), ("VirtualService", "virtualservices")] {
        let definition = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{plural}.networking.istio.io")},
            "spec": {"group": "networking.istio.io", "scope": "Namespaced",
                "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase(), "listKind": format!("{kind}List")},
                "versions": [{"name": "v1alpha3", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
        definitions.patch(&format!("{plural}.networking.istio.io"), &PatchParams::apply("test").force(), &Patch::Apply(definition)).await.unwrap();
    }
    let namespaces = cluster_api("", "v1", "Namespace", "namespaces");
    namespaces.patch("demo", &PatchParams::apply("test").force(), &Patch::Apply(namespace_manifest("demo"))).await.unwrap();
    let account = json!({"cloudProvider": "kubernetes", "kubernetes": {"kubeconfigFile": kubeconfig(), "namespaces": ["demo"]}});
    let saved = app.client.put(app.url("/api/v1/clouds/accounts/kubernetes")).json(&account).send().await.unwrap();
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    // The resource definitions take a moment to be served.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/spinnaker");
    let mut pipeline: Value = serde_json::from_str(&std::fs::read_to_string(folder.join("19-istio-demo-runjob-judgment.json")).unwrap()).unwrap();
    pipeline["name"] = json!("istio demo");
    let id = save(&app, "istiodemo", pipeline).await;
    let started: Value = app.post_json(&format!("/api/v1/applications/istiodemo/pipelines/{id}/executions"), &json!({})).await.json().await.unwrap();
    let execution_id = started["id"].as_str().unwrap_or_else(|| panic!("{started}")).to_string();
    until_running(&app, &execution_id, "4", 90).await;
    let judged = app.patch_json(&format!("/api/v1/executions/{execution_id}/stages/4"), &json!({"judgmentStatus": "continue"})).await;
    assert!(judged.status().is_success());
    let execution = finished_as(&app, &app.client, &execution_id, 90).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let routes = api(&client, "demo", "networking.istio.io/v1alpha3", "VirtualService", "virtualservices");
    assert!(routes.get_opt("demo").await.unwrap().is_some(), "the custom resource was applied");
    assert!(get(&client, "demo", "apps/v1", "Deployment", "deployments", "demo-prod").await.is_some());
    assert!(get(&client, "demo", "apps/v1", "Deployment", "deployments", "demo-canary").await.is_none(), "deleted by its labels");
}

/// A stand-in for GitHub's contents API (a test double: GitHub itself cannot be reached from
/// here): `GET /repos/{owner}/{repo}/contents/{path}?ref=...` answers the raw file when the
/// request carries `Authorization: Bearer good-token` and asks for the raw media type;
/// it records the refs it was asked for.
async fn github_double(manifest: String) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use axum::extract::{Query, State};
    use axum::http::{HeaderMap, StatusCode};
    type Asked = std::sync::Arc<std::sync::Mutex<Vec<String>>>;
    async fn contents(State((manifest, asked)): State<(String, Asked)>, headers: HeaderMap, Query(query): Query<std::collections::HashMap<String, String>>) -> Result<String, StatusCode> {
        if headers.get("authorization").and_then(|value| value.to_str().ok()) != Some("Bearer good-token") {
            return Err(StatusCode::NOT_FOUND);
        }
        if headers.get("accept").and_then(|value| value.to_str().ok()) != Some("application/vnd.github.v3.raw") {
            return Err(StatusCode::NOT_ACCEPTABLE);
        }
        asked.lock().unwrap().push(query.get("ref").cloned().unwrap_or_default());
        Ok(manifest)
    }
    let asked: Asked = std::sync::Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().route("/repos/{owner}/{repo}/contents/{*path}", axum::routing::get(contents)).with_state((manifest, asked.clone()));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (address, asked)
}

/// A manifest kept in a GitHub repository (`github/file`, as fixture 05 deploys it): fetched
/// through the contents API at the bound version, with the token of the secret its
/// `artifactAccount` names, only if that secret's scope allows the pipeline's application.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_from_a_github_file_deploys_with_a_scoped_token() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("fromgit").await;
    let namespace = unique("github");
    add_account(&app, "k8s", &[]).await;
    let manifest = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {namespace}\ndata:\n  colour: blue\n"
    );
    let (github, asked) = github_double(manifest).await;
    let secret = json!({"name": "github-token", "value": "good-token", "roles": [], "applications": ["other"]});
    assert!(app.post_json("/api/v1/secrets", &secret).await.status().is_success());
    let pipeline = json!({"name": "from git",
        "expectedArtifacts": [{"id": "manifest", "matchArtifact": {"type": "github/file", "name": "k8s/settings.yml"},
            "useDefaultArtifact": true, "defaultArtifact": {"type": "github/file", "name": "k8s/settings.yml", "artifactAccount": "github-token",
                "reference": format!("{github}/repos/acme/site/contents/k8s/settings.yml"), "version": "release-1"}}],
        "stages": [{"refId": "1", "type": "deployManifest", "name": "Deploy", "account": "k8s", "cloudProvider": "kubernetes",
            "source": "artifact", "manifestArtifactId": "manifest"}]});
    // Saved by a developer, not an admin: the secret's scope is what decides.
    let permissions = json!({"READ": ["dev"], "WRITE": ["dev"], "EXECUTE": ["dev"]});
    assert_eq!(app.client.put(app.url("/api/v1/applications/fromgit/permissions")).json(&permissions).send().await.unwrap().status(), 200);
    let deployers = json!({"READ": ["dev"], "WRITE": ["dev"]});
    assert_eq!(app.client.put(app.url("/api/v1/accounts/k8s/permissions")).json(&deployers).send().await.unwrap().status(), 200);
    let dev = app.user_client("dana", &["dev"]).await;
    let saved = dev.post(app.url("/api/v1/applications/fromgit/pipelines")).json(&pipeline).send().await.unwrap();
    let saved: Value = saved.json().await.unwrap();
    let id = saved["id"].as_str().unwrap_or_else(|| panic!("{saved}")).to_string();

    // The secret may not be used by this application yet: the run fails, naming it, not its value.
    let refused = run(&app, "fromgit", &id, json!({})).await;
    assert_eq!(refused["status"], "TERMINAL");
    let error = stage(&refused, "1")["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("github-token") && !error.contains("good-token"), "{error}");
    assert!(asked.lock().unwrap().is_empty(), "nothing was fetched without the credentials");

    let scoped = json!({"value": "good-token", "roles": [], "applications": ["fromgit"]});
    assert!(app.client.put(app.url("/api/v1/secrets/github-token")).json(&scoped).send().await.unwrap().status().is_success());
    let ran = run(&app, "fromgit", &id, json!({})).await;
    assert_eq!(ran["status"], "SUCCEEDED", "{ran}");
    assert_eq!(*asked.lock().unwrap(), vec!["release-1".to_string()], "fetched at the artifact's version");
    let settings = get(&kube_client().await, &namespace, "v1", "ConfigMap", "configmaps", "settings-v000").await.expect("the versioned ConfigMap");
    assert_eq!(settings["data"]["colour"], "blue");
}

/// A user who may deploy to the account and change one application cannot, through it, change
/// what another application owns (its moniker annotation): refused when saved where the stage
/// names it, and when the stage runs where only the object says it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workloads_of_another_application_are_guarded_like_its_server_groups() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("mine").await;
    app.create_application("theirs").await;
    let namespace = unique("owned");
    add_account(&app, "k8s", &[]).await;
    let theirs = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "payroll", "namespace": namespace},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "payroll"}}, "template": {"metadata": {"labels": {"app": "payroll"}}, "spec": {"containers": [{"name": "p", "image": "p:1"}]}}}});
    let id = save(&app, "theirs", json!({"name": "deploy", "stages": [{"refId": "1", "type": "deployManifest", "name": "Deploy",
        "account": "k8s", "cloudProvider": "kubernetes", "manifests": [namespace_manifest(&namespace), theirs.clone()]}]})).await;
    assert_eq!(run(&app, "theirs", &id, json!({})).await["status"], "SUCCEEDED");

    let permissions = json!({"READ": ["dev"], "WRITE": ["dev"], "EXECUTE": ["dev"]});
    assert_eq!(app.client.put(app.url("/api/v1/applications/mine/permissions")).json(&permissions).send().await.unwrap().status(), 200);
    let only_admins = json!({"READ": ["payroll"], "WRITE": ["payroll"], "EXECUTE": ["payroll"]});
    assert_eq!(app.client.put(app.url("/api/v1/applications/theirs/permissions")).json(&only_admins).send().await.unwrap().status(), 200);
    assert_eq!(app.client.put(app.url("/api/v1/accounts/k8s/permissions")).json(&json!({"READ": ["dev"], "WRITE": ["dev"]})).send().await.unwrap().status(), 200);
    let dev = app.user_client("dana", &["dev"]).await;

    // Named in the stage: refused at save.
    let claim = json!({"name": "claim", "stages": [{"refId": "1", "type": "deployManifest", "name": "Deploy", "account": "k8s",
        "cloudProvider": "kubernetes", "moniker": {"app": "theirs"}, "manifests": [theirs]}]});
    let refused = dev.post(app.url("/api/v1/applications/mine/pipelines")).json(&claim).send().await.unwrap();
    assert_eq!(refused.status(), 403, "{}", refused.text().await.unwrap());

    // Only the object says whose it is: refused when the stage runs, and nothing changed.
    let scale = json!({"name": "scale", "stages": [{"refId": "1", "type": "scaleManifest", "name": "Scale", "account": "k8s",
        "cloudProvider": "kubernetes", "location": namespace, "manifestName": "deployment payroll", "replicas": 0}]});
    let saved: Value = dev.post(app.url("/api/v1/applications/mine/pipelines")).json(&scale).send().await.unwrap().json().await.unwrap();
    let pipeline = saved["id"].as_str().unwrap_or_else(|| panic!("{saved}")).to_string();
    let started: Value = dev.post(app.url(&format!("/api/v1/applications/mine/pipelines/{pipeline}/executions"))).json(&json!({})).send().await.unwrap().json().await.unwrap();
    let ran = finished_as(&app, &app.client, started["id"].as_str().unwrap_or_else(|| panic!("{started}")), 30).await;
    assert_eq!(ran["status"], "TERMINAL");
    assert!(stage(&ran, "1")["error"].as_str().unwrap_or_default().contains("application theirs"), "{ran}");
    let payroll = get(&kube_client().await, &namespace, "apps/v1", "Deployment", "deployments", "payroll").await.unwrap();
    assert_eq!(payroll["spec"]["replicas"], 1, "not scaled");
}
