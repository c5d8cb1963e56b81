//! The generic server-group stages (`resizeServerGroup`, `disableServerGroup`,
//! `enableServerGroup`, `destroyServerGroup`) on a Kubernetes server group of the test
//! cluster, by a cluster and target as Spinnaker's pipelines name them, and by name.

use serde_json::{Value, json};

use crate::helpers::{Db, finished_as, spawn_app};
use crate::kubernetes::{add_account, kube_client, save, unique};

async fn run(app: &crate::helpers::TestApp, pipeline: &str) -> Value {
    let started: Value = app.post_json(&format!("/api/v1/applications/shop/pipelines/{pipeline}/executions"), &json!({})).await.json().await.unwrap();
    finished_as(app, &app.client, started["id"].as_str().unwrap(), 90).await
}

fn replica_sets(client: &kube::Client, namespace: &str) -> kube::Api<kube::api::DynamicObject> {
    let resource = kube::core::ApiResource::from_gvk_with_plural(&kube::core::GroupVersionKind::gvk("apps", "v1", "ReplicaSet"), "replicasets");
    kube::Api::namespaced_with(client.clone(), namespace, &resource)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_group_stages_resize_disable_enable_and_destroy_a_replica_set() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("shop").await;
    add_account(&app, "k8s", &[]).await;
    let namespace = unique("groups");
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": namespace},
        "spec": {"selector": {"frontend": "web"}, "ports": [{"name": "http", "port": 80}]}});
    let replica_set = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": namespace},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"workload": "web"}},
            "template": {"metadata": {"labels": {"workload": "web"}}, "spec": {"containers": [{"name": "web", "image": "registry.test/shop/web:1"}]}}}});
    let setup = save(&app, "shop", json!({"name": "setup", "stages": [
        {"refId": "1", "type": "deployManifest", "account": "k8s", "cloudProvider": "kubernetes", "source": "text",
         "manifests": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}, service]},
        {"refId": "2", "requisiteStageRefIds": ["1"], "type": "deployManifest", "account": "k8s", "cloudProvider": "kubernetes", "source": "text",
         "manifests": [replica_set], "moniker": {"app": "shop"},
         "trafficManagement": {"enabled": true, "options": {"enableTraffic": true, "services": ["service web"], "strategy": "redblack"}}}]})).await;
    assert_eq!(run(&app, &setup).await["status"], "SUCCEEDED");

    // As Spinnaker writes them for Kubernetes: credentials, the namespace, a cluster and target.
    let where_ = json!({"cloudProvider": "kubernetes", "credentials": "k8s", "namespaces": [namespace], "cluster": "replicaSet web", "target": "current_asg_dynamic"});
    let with = |kind: &str, own: Value| { let mut stage = where_.clone(); stage["type"] = json!(kind); for (key, value) in own.as_object().unwrap() { stage[key] = value.clone(); } stage };
    let pipeline = save(&app, "shop", json!({"name": "operate", "stages": [
        with("resizeServerGroup", json!({"refId": "1", "action": "scale_exact", "capacity": {"min": 3, "max": 3, "desired": 3}})),
        with("disableServerGroup", json!({"refId": "2", "requisiteStageRefIds": ["1"]})),
        with("enableServerGroup", json!({"refId": "3", "requisiteStageRefIds": ["2"]}))]})).await;
    let ran = run(&app, &pipeline).await;
    assert_eq!(ran["status"], "SUCCEEDED", "{ran}");
    let stage = |ref_id: &str| ran["stages"].as_array().unwrap().iter().find(|stage| stage["refId"] == ref_id).unwrap().clone();
    assert_eq!(stage("1")["outputs"]["serverGroupName"], "replicaSet web-v000", "the newest of the cluster");
    assert_eq!(stage("2")["outputs"]["podsChanged"], 3, "each pod left the service");
    assert_eq!(stage("3")["outputs"]["podsChanged"], 3, "and came back");
    let client = kube_client().await;
    let web = serde_json::to_value(replica_sets(&client, &namespace).get("web-v000").await.unwrap()).unwrap();
    assert_eq!(web["spec"]["replicas"], 3);
    assert_eq!(web["spec"]["template"]["metadata"]["labels"]["frontend"], "web", "enabled again");

    // By name, a local-cloud server group's field: destroyed and gone when the stage ends.
    let destroy = save(&app, "shop", json!({"name": "destroy", "stages": [{"refId": "1", "type": "destroyServerGroup", "cloudProvider": "kubernetes",
        "credentials": "k8s", "namespaces": [namespace], "serverGroupName": "replicaSet web-v000"}]})).await;
    let ran = run(&app, &destroy).await;
    assert_eq!(ran["status"], "SUCCEEDED", "{ran}");
    assert!(replica_sets(&client, &namespace).get_opt("web-v000").await.unwrap().is_none());
}
