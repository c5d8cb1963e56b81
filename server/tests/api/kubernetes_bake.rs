//! `bakeManifest` then `deployManifest`, as Spinnaker's Helm pipelines are written: the chart
//! `helm create` makes (tests/fixtures/helm/web), packaged and served by a chart server (a
//! plain HTTP server over a real socket, as chart repositories are), rendered by gennaker with
//! a values file and overrides, and the produced artifact deployed to the test cluster.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::helpers::{Db, finished_as, spawn_app};
use crate::kubernetes::{add_account, kube_client, save, unique};

/// The fixture chart as `helm package` packs it: `web/...` in a gzipped tar.
fn packaged_chart() -> Vec<u8> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/helm/web");
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    builder.append_dir_all("web", &root).unwrap();
    builder.into_inner().unwrap().finish().unwrap()
}

/// Serves `/charts/web-0.1.0.tgz` (the chart) and `/charts/broken.tgz` (an HTML page).
async fn chart_server() -> String {
    let chart = packaged_chart();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new()
        .route("/charts/web-0.1.0.tgz", axum::routing::get(move || async move { chart }))
        .route("/charts/broken.tgz", axum::routing::get(|| async { "<html>not found</html>" }));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    address
}

fn pipeline(namespace: &str, chart_url: &str) -> Value {
    let values = base64::engine::general_purpose::STANDARD.encode("replicaCount: 2\nserviceAccount:\n  create: false\n");
    json!({"name": "helm", "parameterConfig": [{"name": "tag", "default": "1.17"}],
        "expectedArtifacts": [{"id": "chart", "displayName": "web chart", "matchArtifact": {"type": "http/file", "name": "web-chart"},
            "useDefaultArtifact": true, "defaultArtifact": {"type": "http/file", "name": "web-chart", "reference": chart_url}}],
        "stages": [
            {"refId": "ns", "type": "deployManifest", "name": "Namespace", "account": "k8s", "cloudProvider": "kubernetes", "source": "text",
             "manifests": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}]},
            {"refId": "bake", "requisiteStageRefIds": ["ns"], "type": "bakeManifest", "name": "Bake", "templateRenderer": "HELM3",
             "outputName": "shop", "namespace": namespace,
             "inputArtifacts": [{"id": "chart", "account": "http-default"}, {"account": "embedded-artifact", "artifact": {"type": "embedded/base64", "name": "values", "reference": values}}],
             "overrides": {"image.tag": "${parameters.tag}"},
             "expectedArtifacts": [{"id": "baked", "matchArtifact": {"type": "embedded/base64", "name": "shop-manifests", "kind": "base64"}, "useDefaultArtifact": false}]},
            {"refId": "deploy", "requisiteStageRefIds": ["bake"], "type": "deployManifest", "name": "Deploy", "account": "k8s", "cloudProvider": "kubernetes",
             "source": "artifact", "manifestArtifactId": "baked", "namespaceOverride": namespace, "moniker": {"app": "helmshop"}}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helm_chart_bakes_into_manifests_that_deploy() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("helmshop").await;
    add_account(&app, "k8s", &[]).await;
    let server = chart_server().await;
    let namespace = unique("helm");
    let id = save(&app, "helmshop", pipeline(&namespace, &format!("{server}/charts/web-0.1.0.tgz"))).await;
    let started: Value = app.post_json(&format!("/api/v1/applications/helmshop/pipelines/{id}/executions"), &json!({"parameters": {"tag": "1.19"}})).await.json().await.unwrap();
    let ran = finished_as(&app, &app.client, started["id"].as_str().unwrap(), 90).await;
    assert_eq!(ran["status"], "SUCCEEDED", "{ran}");

    let bake = ran["stages"].as_array().unwrap().iter().find(|stage| stage["refId"] == "bake").unwrap();
    let produced = &bake["outputs"]["artifacts"][0];
    assert_eq!(produced["type"], "embedded/base64");
    assert_eq!(produced["name"], "shop-manifests", "named as the stage's expected artifact");
    let rendered = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(produced["reference"].as_str().unwrap()).unwrap()).unwrap();
    assert!(rendered.contains("# Source: web/templates/deployment.yaml") && !rendered.contains("ServiceAccount"), "{rendered}");

    let client = kube_client().await;
    let deployments: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(client.clone(), &namespace, &kube::core::ApiResource::from_gvk_with_plural(&kube::core::GroupVersionKind::gvk("apps", "v1", "Deployment"), "deployments"));
    let deployment = serde_json::to_value(deployments.get("shop-web").await.unwrap()).unwrap();
    assert_eq!(deployment["spec"]["replicas"], 2, "from the values file");
    assert_eq!(deployment["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.19", "from the override, its expression evaluated");
    assert_eq!(deployment["metadata"]["labels"]["helm.sh/chart"], "web-0.1.0");
    assert_eq!(deployment["metadata"]["labels"]["app.kubernetes.io/instance"], "shop", "outputName is the release");
    assert_eq!(deployment["metadata"]["annotations"]["moniker.spinnaker.io/application"], "helmshop");
    let services: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(client, &namespace, &kube::core::ApiResource::from_gvk_with_plural(&kube::core::GroupVersionKind::gvk("", "v1", "Service"), "services"));
    assert!(services.get_opt("shop-web").await.unwrap().is_some(), "the chart's Service is deployed too");

    // Something that is not a chart fails the bake, saying so; nothing is deployed after it.
    let broken = save(&app, "helmshop", { let mut p = pipeline(&unique("broken"), &format!("{server}/charts/broken.tgz")); p["name"] = json!("broken"); p }).await;
    let started: Value = app.post_json(&format!("/api/v1/applications/helmshop/pipelines/{broken}/executions"), &json!({})).await.json().await.unwrap();
    let failed = finished_as(&app, &app.client, started["id"].as_str().unwrap(), 60).await;
    assert_eq!(failed["status"], "TERMINAL");
    let bake = failed["stages"].as_array().unwrap().iter().find(|stage| stage["refId"] == "bake").unwrap();
    assert!(bake["error"].as_str().unwrap_or_default().contains("is not a packaged chart"), "{bake}");

    // Kustomize is refused by name when saved (a warning) and when started.
    let mut kustomize = pipeline(&namespace, "https://charts.example/x.tgz");
    kustomize["name"] = json!("kustomize");
    kustomize["stages"][1]["templateRenderer"] = json!("KUSTOMIZE");
    let saved = app.post_json("/api/v1/applications/helmshop/pipelines", &kustomize).await;
    let saved: Value = saved.json().await.unwrap();
    assert!(saved["warnings"].to_string().contains("KUSTOMIZE is not supported"), "{saved}");
}
