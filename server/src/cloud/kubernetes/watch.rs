//! The Kubernetes caching agent: for one account, a watch per kind the cluster view needs
//! (kube's watcher and reflector: list, then watch from the last resourceVersion, relist on
//! 410 Gone, retry with backoff when the API server is away), and one task that turns what the
//! reflectors hold into the account's snapshots whenever something changed. While the API
//! server is unreachable the reflectors keep what they last saw, so the cache keeps showing it.
//! When instances share the database the agent runs only on the holder of the account's lease
//! and publishes each new view for the others (`cloud::leases`).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde_json::Value;
use tokio::sync::{Notify, watch as signal};
use tokio::task::JoinHandle;

use super::view::{self, Observed};
use super::{Connection, KubernetesCloud};
use crate::cloud::cache::ClusterCache;
use crate::cloud::leases::Sharing;

/// The kinds the cluster view is made of.
const WATCHED: &[(&str, &str)] = &[
    ("apps/v1", "Deployment"),
    ("apps/v1", "ReplicaSet"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("v1", "Pod"),
    ("v1", "Service"),
    ("networking.k8s.io/v1", "Ingress"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
];

/// How long changes are gathered before the view is rebuilt: a rollout changes many objects
/// at once, and one rebuild for all of them is enough.
const SETTLE: Duration = Duration::from_millis(20);

/// Where a watching agent publishes what it sees for the other instances on the database
/// (`cloud::leases`), and under which key.
pub type Publish = Option<(Sharing, String)>;

/// Starts the agent of `account`; it runs until `stop` changes (or its sender is dropped). A
/// connection that cannot be made (a bad kubeconfig) is retried every `retry`.
pub fn start(cloud: KubernetesCloud, cache: ClusterCache, account: String, retry: Duration, publish: Publish, mut stop: signal::Receiver<()>) -> JoinHandle<()> {
    tokio::spawn(async move {
        cloud.set_status(&account, "connecting");
        let connection = loop {
            match cloud.connect(&account).await {
                Ok(connection) => break connection,
                Err(error) => {
                    tracing::warn!(%error, %account, "kubernetes caching agent cannot connect");
                    cloud.set_status(&account, format!("cannot connect: {error}"));
                    tokio::select! {
                        _ = stop.changed() => return,
                        () = tokio::time::sleep(retry) => {}
                    }
                }
            }
        };
        run(cloud, connection, cache, publish, stop).await;
    })
}

async fn run(cloud: KubernetesCloud, connection: Connection, cache: ClusterCache, publish: Publish, mut stop: signal::Receiver<()>) {
    let changed = Arc::new(Notify::new());
    let mut stores: Vec<(&'static str, reflector::Store<DynamicObject>)> = Vec::new();
    let mut watches = Vec::new();
    for (api_version, kind) in WATCHED {
        let resource = match connection.resource(api_version, kind).await {
            Ok(resource) => resource,
            Err(error) => {
                tracing::warn!(%error, account = %connection.account, kind, "kind not watched");
                continue;
            }
        };
        let namespaces: Vec<Option<String>> =
            if connection.settings.namespaces.is_empty() { vec![None] } else { connection.settings.namespaces.iter().cloned().map(Some).collect() };
        for namespace in namespaces {
            let api: Api<DynamicObject> = match &namespace {
                Some(namespace) => Api::namespaced_with(connection.client.clone(), namespace, &resource.api),
                None => Api::all_with(connection.client.clone(), &resource.api),
            };
            let writer = reflector::store::Writer::new(resource.api.clone());
            stores.push((kind, writer.as_reader()));
            let changed = changed.clone();
            let account = connection.account.clone();
            let cloud = cloud.clone();
            watches.push(tokio::spawn(async move {
                let mut events = std::pin::pin!(reflector(writer, watcher(api, watcher::Config::default())).default_backoff());
                let mut last_error: Option<String> = None;
                while let Some(event) = events.next().await {
                    match event {
                        Ok(_) => {
                            if last_error.take().is_some() {
                                cloud.set_status(&account, "watching");
                            }
                            changed.notify_one();
                        }
                        Err(error) => {
                            // Logged when the failure changes, not once per retry of an outage.
                            let text = error.to_string();
                            if last_error.as_deref() != Some(text.as_str()) {
                                cloud.set_status(&account, format!("watch of {kind} failed, retrying: {text}"));
                                tracing::warn!(error = %text, %account, kind, "kubernetes watch failed; retrying (relisting when its resourceVersion is gone), the cache keeps what it saw");
                                last_error = Some(text);
                            }
                        }
                    }
                }
            }));
        }
    }
    cloud.set_status(&connection.account, "watching");
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            () = changed.notified() => {}
        }
        tokio::time::sleep(SETTLE).await;
        let observed = observe(&stores);
        let settings = &connection.settings;
        let snapshots = view::snapshots(&connection.account, &observed, |namespace| settings.manages(namespace));
        if let Some((sharing, key)) = &publish {
            sharing.publish(key, snapshots.iter().collect()).await;
        }
        cache.replace_account("kubernetes", &connection.account, snapshots);
    }
    for watch in watches {
        watch.abort();
    }
}

/// What the reflectors hold now, by kind.
fn observe(stores: &[(&'static str, reflector::Store<DynamicObject>)]) -> Observed {
    let mut observed = Observed::default();
    for (kind, store) in stores {
        let objects: Vec<Value> = store
            .state()
            .iter()
            .map(|object| {
                let mut value = serde_json::to_value(object.as_ref()).expect("an API object serializes");
                value["kind"] = Value::String((*kind).to_string());
                value
            })
            .collect();
        let list = match *kind {
            "Deployment" => &mut observed.deployments,
            "ReplicaSet" => &mut observed.replica_sets,
            "StatefulSet" => &mut observed.stateful_sets,
            "DaemonSet" => &mut observed.daemon_sets,
            "Pod" => &mut observed.pods,
            "Service" => &mut observed.services,
            "Ingress" => &mut observed.ingresses,
            _ => &mut observed.network_policies,
        };
        list.extend(objects);
    }
    observed
}
