//! The Kubernetes manifests in `deploy/kubernetes` (README "Scaling out"), judged by the real
//! Kubernetes API server `scripts/k8s up` starts (as in kubernetes.rs: `GENNAKER_TEST_KUBECONFIG`
//! names its kubeconfig, and the tests that need it fail without it). Every object of every file
//! passes a server-side apply with dry-run, so the API server's own decoding, defaulting and
//! validation judge it and nothing is stored; a Deployment broken three ways is refused the same
//! way, which shows the dry-run validates for real. What the manifests ask of gennaker is checked
//! against gennaker itself: flags and environment variables against `config.rs`'s parser, the
//! probes' paths against a running app.
//!
//! The namespaced objects name namespace `gennaker`; they are dry-run in a namespace of the
//! test's own (each Kubernetes test here works in its own), so runs sharing the cluster do not
//! meet, and it is deleted at the end.
//!
//! The test server is Kubernetes 1.20, which predates `policy/v1` (1.21), while newer servers
//! have dropped `policy/v1beta1` (1.25). The manifest says `policy/v1`; on a server older than
//! 1.21 its PodDisruptionBudget is dry-run as `policy/v1beta1`, whose fields it uses
//! (`minAvailable`, a non-empty `selector`) mean the same.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams, ValidationDirective};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Scope;
use serde_json::{Value, json};
use server::config::{Cli, Command, DatabaseUrl};

use crate::helpers::{Db, spawn_app};
use crate::kubernetes::{kube_client, unique};

const FIELD_MANAGER: &str = "gennaker-test";

fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes")
}

/// The `.yaml` files directly in `dir`, sorted.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|extension| extension == "yaml"))
        .collect();
    files.sort();
    files
}

/// Every document of a YAML file (empty ones left out).
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let documents: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    documents.into_iter().filter(|document| !document.is_null()).collect()
}

/// One object and the file it comes from (relative to `deploy/kubernetes`).
struct Manifest {
    file: String,
    object: Value,
}

impl Manifest {
    fn describe(&self) -> String {
        format!("{}: {} {}", self.file, self.object["kind"], self.object["metadata"]["name"])
    }
}

/// The objects `kubectl apply -k deploy/kubernetes` applies, then those of `optional/`.
fn manifests() -> Vec<Manifest> {
    let folder = folder();
    let mut files: Vec<PathBuf> = yaml_files(&folder).into_iter().filter(|path| !path.ends_with("kustomization.yaml")).collect();
    files.extend(yaml_files(&folder.join("optional")));
    let mut manifests = Vec::new();
    for path in files {
        let file = path.strip_prefix(&folder).unwrap().display().to_string();
        manifests.extend(documents(&path).into_iter().map(|object| Manifest { file: file.clone(), object }));
    }
    manifests
}

fn find<'a>(manifests: &'a [Manifest], kind: &str, name: &str) -> &'a Value {
    manifests
        .iter()
        .map(|manifest| &manifest.object)
        .find(|object| object["kind"] == kind && object["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in deploy/kubernetes"))
}

fn text<'a>(value: &'a Value, what: &str) -> &'a str {
    value.as_str().unwrap_or_else(|| panic!("{what} is not a string: {value}"))
}

/// The API server's minor version (`"20"`, or `"20+"` on some distributions).
async fn minor_version(client: &kube::Client) -> u32 {
    let info = client.apiserver_version().await.unwrap();
    info.minor.trim_end_matches('+').parse().unwrap_or_else(|_| panic!("minor version {:?}", info.minor))
}

/// Where the API server serves `object`'s kind, and its scope; a PodDisruptionBudget moves to
/// `policy/v1beta1` on a server older than 1.21 (module doc).
async fn served(client: &kube::Client, object: &mut Value) -> (ApiResource, Scope) {
    let api_version = text(&object["apiVersion"], "apiVersion").to_string();
    let kind = text(&object["kind"], "kind").to_string();
    let gvk = |api_version: &str| {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        GroupVersionKind::gvk(group, version, &kind)
    };
    match kube::discovery::pinned_kind(client, &gvk(&api_version)).await {
        Ok((resource, capabilities)) => (resource, capabilities.scope),
        Err(error) => {
            let older = minor_version(client).await < 21;
            assert!(kind == "PodDisruptionBudget" && api_version == "policy/v1" && older, "the API server does not serve {api_version} {kind}: {error}");
            object["apiVersion"] = json!("policy/v1beta1");
            let (resource, capabilities) = kube::discovery::pinned_kind(client, &gvk("policy/v1beta1")).await.unwrap();
            (resource, capabilities.scope)
        }
    }
}

/// A server-side apply of `object` with dry-run and strict field validation (servers before
/// 1.25 ignore that parameter, but refuse unknown fields in an apply all the same); a
/// namespaced object goes to `namespace`. Returns the object as the server would have stored it.
async fn dry_run(client: &kube::Client, namespace: &str, mut object: Value) -> Result<Value, kube::Error> {
    let (resource, scope) = served(client, &mut object).await;
    let api: Api<DynamicObject> = match scope {
        Scope::Namespaced => {
            object["metadata"]["namespace"] = json!(namespace);
            Api::namespaced_with(client.clone(), namespace, &resource)
        }
        Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    let name = text(&object["metadata"]["name"], "metadata.name").to_string();
    let params = PatchParams::apply(FIELD_MANAGER).dry_run().validation(ValidationDirective::Strict);
    let applied = api.patch(&name, &params, &Patch::Apply(&object)).await?;
    Ok(serde_json::to_value(applied).unwrap())
}

fn namespaces(client: &kube::Client) -> Api<k8s_openapi::api::core::v1::Namespace> {
    Api::all(client.clone())
}

async fn create_namespace(client: &kube::Client, name: &str) {
    let namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    namespaces(client).create(&PostParams::default(), &namespace).await.unwrap();
}

async fn delete_namespace(client: &kube::Client, name: &str) {
    namespaces(client).delete(name, &DeleteParams::default()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_manifest_passes_a_server_side_dry_run_and_nothing_is_stored() {
    let manifests = manifests();
    let client = kube_client().await;
    let namespace = unique("deploy");
    create_namespace(&client, &namespace).await;

    let mut kinds = BTreeSet::new();
    for manifest in &manifests {
        let what = manifest.describe();
        let applied = dry_run(&client, &namespace, manifest.object.clone()).await.unwrap_or_else(|error| panic!("{what} was refused: {error}"));
        assert_eq!(applied["metadata"]["name"], manifest.object["metadata"]["name"], "{what}: {applied}");
        kinds.insert(text(&manifest.object["kind"], "kind").to_string());
    }
    let expected = ["ConfigMap", "Deployment", "Ingress", "Namespace", "PodDisruptionBudget", "Secret", "Service", "ServiceAccount", "StatefulSet"];
    assert_eq!(kinds, expected.iter().map(|kind| kind.to_string()).collect(), "every file was read and dry-run");

    // The answer carries the server's defaults: the object went through its admission chain.
    let deployment = dry_run(&client, &namespace, find(&manifests, "Deployment", "gennaker").clone()).await.unwrap();
    assert_eq!(deployment["spec"]["replicas"], 3, "{deployment}");
    assert_eq!(deployment["spec"]["template"]["spec"]["dnsPolicy"], "ClusterFirst", "{deployment}");
    assert_eq!(deployment["spec"]["revisionHistoryLimit"], 10, "{deployment}");

    // A dry-run stores nothing.
    let deployments = Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(client.clone(), &namespace);
    assert!(deployments.get_opt("gennaker").await.unwrap().is_none(), "the dry-run stored the Deployment");
    let secrets = Api::<k8s_openapi::api::core::v1::Secret>::namespaced(client.clone(), &namespace);
    assert!(secrets.get_opt("gennaker").await.unwrap().is_none(), "the dry-run stored the Secret");

    delete_namespace(&client, &namespace).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_refuses_a_broken_deployment_in_the_same_dry_run() {
    let manifests = manifests();
    let deployment = find(&manifests, "Deployment", "gennaker");
    let client = kube_client().await;
    let namespace = unique("deploy-broken");
    create_namespace(&client, &namespace).await;
    dry_run(&client, &namespace, deployment.clone()).await.expect("the Deployment as written passes");

    // The part of the server's message that names what is wrong. The 1.20 server answers the
    // first two with a 500 ("failed to create typed patch object"), newer ones with a 4xx.
    let broken: [(&str, &str, fn(&mut Value)); 3] = [
        ("a string for replicas", "spec.replicas", |deployment| deployment["spec"]["replicas"] = json!("three")),
        ("an unknown field", "replicaz", |deployment| deployment["spec"]["replicaz"] = json!(3)),
        ("negative replicas", "spec.replicas", |deployment| deployment["spec"]["replicas"] = json!(-1)),
    ];
    for (what, named, breaks) in broken {
        let mut copy = deployment.clone();
        breaks(&mut copy);
        match dry_run(&client, &namespace, copy).await {
            Err(kube::Error::Api(status)) => assert!(status.message.contains(named), "{what}: {status:?}"),
            other => panic!("{what} was not refused: {other:?}"),
        }
    }

    delete_namespace(&client, &namespace).await;
}

/// Needs no cluster: what the manifests hand `gennaker serve` against what it reads and serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manifests_ask_gennaker_only_for_what_it_knows_and_serves() {
    let manifests = manifests();

    // kustomization.yaml lists every top-level file (and no other).
    let folder = folder();
    let kustomization = documents(&folder.join("kustomization.yaml")).remove(0);
    let listed: BTreeSet<String> = kustomization["resources"].as_array().unwrap().iter().map(|file| text(file, "resource").to_string()).collect();
    let present: BTreeSet<String> = yaml_files(&folder)
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|file| file != "kustomization.yaml")
        .collect();
    assert_eq!(listed, present, "kustomization.yaml's resources");

    let deployment = find(&manifests, "Deployment", "gennaker");
    let secret = find(&manifests, "Secret", "gennaker");
    let config_map = find(&manifests, "ConfigMap", "gennaker");
    let replicas = deployment["spec"]["replicas"].as_i64().unwrap();
    assert!(replicas >= 2, "several replicas: {replicas}");
    let pod = &deployment["spec"]["template"]["spec"];
    let labels = deployment["spec"]["template"]["metadata"]["labels"].as_object().unwrap();
    let container = pod["containers"].as_array().unwrap().iter().find(|container| container["name"] == "gennaker").expect("a container named gennaker");

    // The command is one `gennaker serve` accepts, listening on the port named `http`.
    let command: Vec<&str> = container["command"].as_array().unwrap().iter().map(|word| text(word, "command")).collect();
    let config = match Cli::try_parse_from(command.iter().copied()).unwrap_or_else(|error| panic!("{command:?}: {error}")).command {
        Command::Serve(config) => config,
        other => panic!("{command:?} is not serve: {other:?}"),
    };
    let http = container["ports"].as_array().unwrap().iter().find(|port| port["name"] == "http").expect("a port named http");
    assert_eq!(Some(u64::from(config.listen.port())), http["containerPort"].as_u64());

    // Every variable set for gennaker (here and in the image) is one config.rs reads.
    let cli = Cli::command();
    let serve = cli.find_subcommand("serve").unwrap();
    let known: BTreeSet<String> = serve.get_arguments().filter_map(|argument| argument.get_env()).map(|name| name.to_string_lossy().into_owned()).collect();
    let mut set: BTreeSet<String> = config_map["data"].as_object().unwrap().keys().cloned().collect();
    set.extend(container["env"].as_array().unwrap().iter().map(|variable| text(&variable["name"], "env name").to_string()));
    let dockerfile = std::fs::read_to_string(folder.join("../Dockerfile")).unwrap();
    set.extend(regex::Regex::new(r"\b((?:GENNAKER|LEPTOS)_[A-Z_]+)=").unwrap().captures_iter(&dockerfile).map(|found| found[1].to_string()));
    let unknown: Vec<&String> = set.iter().filter(|name| !known.contains(*name)).collect();
    assert!(unknown.is_empty(), "variables gennaker serve does not read: {unknown:?}");
    assert_eq!(container["envFrom"][0]["configMapRef"]["name"], config_map["metadata"]["name"]);

    // The database is PostgreSQL, its URL from the Secret; the Secret holds placeholders only.
    let from_secret = |name: &str| {
        let variable = container["env"].as_array().unwrap().iter().find(|variable| variable["name"] == name).unwrap_or_else(|| panic!("{name} is not set"));
        let reference = &variable["valueFrom"]["secretKeyRef"];
        assert_eq!(reference["name"], secret["metadata"]["name"], "{name} comes from the Secret");
        text(&secret["stringData"][text(&reference["key"], "key")], name).to_string()
    };
    let database_url = from_secret("DATABASE_URL");
    assert!(database_url.starts_with("postgres://"), "{database_url}");
    database_url.parse::<DatabaseUrl>().unwrap();
    for (key, value) in secret["stringData"].as_object().unwrap() {
        assert!(text(value, key).contains("REPLACE-"), "{key} must be a placeholder, not a real value");
    }
    let secret_key = from_secret("GENNAKER_SECRET_KEY");
    assert!(server::secrets::SecretKey::from_base64(&secret_key).is_err(), "gennaker refuses the placeholder key");
    from_secret("GENNAKER_ADMIN_PASSWORD");

    // The metrics token file is the Secret's key, mounted where the flag says.
    let token_file = config.metrics_token_file.expect("--metrics-token-file");
    let mount = container["volumeMounts"].as_array().unwrap().iter().find(|mount| token_file.parent() == Some(Path::new(text(&mount["mountPath"], "mountPath")))).expect("the token's folder is mounted");
    let volume = pod["volumes"].as_array().unwrap().iter().find(|volume| volume["name"] == mount["name"]).unwrap();
    assert_eq!(volume["secret"]["secretName"], secret["metadata"]["name"]);
    let item = &volume["secret"]["items"][0];
    assert_eq!(Some(token_file.file_name().unwrap().to_str().unwrap()), item["path"].as_str());
    assert!(text(&secret["stringData"][text(&item["key"], "key")], "metrics token").len() >= 16);

    // Not root, no way to become root.
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert!(pod["securityContext"]["runAsUser"].as_i64().unwrap() > 0);
    assert_eq!(container["securityContext"]["allowPrivilegeEscalation"], false);

    // The probes ask for paths gennaker answers without credentials (the kubelet has none);
    // readiness is the one that asks the database.
    let probe_path = |probe: &str| {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["port"], "http", "{probe}");
        text(&get["path"], probe).to_string()
    };
    assert_eq!(probe_path("readinessProbe"), "/readyz");
    let app = spawn_app(Db::Sqlite).await;
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let path = probe_path(probe);
        let response = app.anonymous.get(app.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{probe} {path}");
    }

    // The Service, the PodDisruptionBudget and the Ingress reach these pods.
    let service = find(&manifests, "Service", "gennaker");
    for (what, selector) in [("Service", &service["spec"]["selector"]), ("PodDisruptionBudget", &find(&manifests, "PodDisruptionBudget", "gennaker")["spec"]["selector"]["matchLabels"])] {
        let selector = selector.as_object().unwrap();
        assert!(!selector.is_empty() && selector.iter().all(|(key, value)| labels.get(key) == Some(value)), "the {what} selects the pods");
    }
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "http");
    let min_available = find(&manifests, "PodDisruptionBudget", "gennaker")["spec"]["minAvailable"].as_i64().unwrap();
    assert!(min_available < replicas, "a drain can move a replica");
    let backend = &find(&manifests, "Ingress", "gennaker")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
    assert_eq!(backend["name"], service["metadata"]["name"]);
    assert_eq!(backend["port"]["name"], service["spec"]["ports"][0]["name"]);
}
