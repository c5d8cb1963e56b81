//! The cluster view of a Kubernetes account, as Spinnaker shows it: ReplicaSets, StatefulSets
//! and DaemonSets are server groups (a Deployment is the cluster owning its ReplicaSets), Pods
//! their instances, Services and Ingresses load balancers, NetworkPolicies security groups;
//! each namespace is a region. Applications and clusters come from Spinnaker's moniker
//! annotations, then the `app.kubernetes.io/*` labels, then the naming convention. Pure: the
//! watch cache feeds it what its reflectors hold.

use std::collections::{BTreeMap, HashMap};

use app::model::cluster::{
    Artifact, Capacity, HealthState, IngressRule, Instance, Listener, LoadBalancer, Location, Moniker, Protocol, SecurityGroup, ServerGroup,
};
use app::model::names::Name;
use serde_json::Value;

use super::manifest::{self, APPLICATION, CLUSTER, LOAD_BALANCERS};
use crate::cloud::provider::Snapshot;

/// What the reflectors of one account hold, by kind.
#[derive(Debug, Default, Clone)]
pub struct Observed {
    pub deployments: Vec<Value>,
    pub replica_sets: Vec<Value>,
    pub stateful_sets: Vec<Value>,
    pub daemon_sets: Vec<Value>,
    pub pods: Vec<Value>,
    pub services: Vec<Value>,
    pub ingresses: Vec<Value>,
    pub network_policies: Vec<Value>,
}

/// Metadata keys of a Kubernetes server group that gennaker sets (not the user's tags).
pub const KIND_KEY: &str = "gennaker.kubernetes.kind";
pub const REVISION_KEY: &str = "gennaker.kubernetes.revision";

fn uid(object: &Value) -> &str {
    object.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default()
}

fn owners(object: &Value) -> impl Iterator<Item = &Value> {
    object.pointer("/metadata/ownerReferences").and_then(Value::as_array).into_iter().flatten()
}

fn owner_of_kind<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    owners(object).find(|owner| owner.get("kind").and_then(Value::as_str) == Some(kind))
}

pub fn millis(timestamp: Option<&Value>) -> i64 {
    timestamp
        .and_then(Value::as_str)
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
        .map_or(0, |time| time.timestamp_millis())
}

/// The application an object belongs to: its moniker annotation, then the standard labels,
/// then its name by the convention; `fallback` (its owner's) before the name.
fn application(object: &Value, fallback: Option<&str>) -> Option<String> {
    let annotations = manifest::annotations(object);
    let labels = manifest::labels(object);
    annotations
        .get(APPLICATION)
        .or_else(|| labels.get("app.kubernetes.io/part-of"))
        .or_else(|| labels.get("app.kubernetes.io/name"))
        .cloned()
        .or_else(|| fallback.map(str::to_string))
        .or_else(|| Name::parse(manifest::name(object)).ok().map(|name| name.cluster().application.clone()))
        .filter(|application| !application.is_empty())
}

fn selector_matches(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(key, value)| labels.get(key) == Some(value))
}

fn instance(pod: &Value) -> Instance {
    let phase = pod.pointer("/status/phase").and_then(Value::as_str).unwrap_or("Pending");
    let ready = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|condition| condition.get("type").and_then(Value::as_str) == Some("Ready") && condition.get("status").and_then(Value::as_str) == Some("True"));
    let health_state = if pod.pointer("/metadata/deletionTimestamp").is_some() {
        HealthState::OutOfService
    } else {
        match phase {
            "Running" if ready => HealthState::Up,
            "Pending" => HealthState::Starting,
            "Succeeded" => HealthState::OutOfService,
            _ => HealthState::Down,
        }
    };
    let launch_time = match millis(pod.pointer("/status/startTime")) {
        0 => millis(pod.pointer("/metadata/creationTimestamp")),
        started => started,
    };
    Instance {
        name: manifest::name(pod).to_string(),
        health_state,
        launch_time,
        address: pod.pointer("/status/podIP").and_then(Value::as_str).unwrap_or_default().to_string(),
        pid: None,
    }
}

/// Every namespace's snapshot of an account; namespaces `manages` refuses are left out.
pub fn snapshots(account: &str, observed: &Observed, manages: impl Fn(&str) -> bool) -> BTreeMap<Location, Snapshot> {
    let location = |namespace: &str| Location { cloud_provider: "kubernetes".into(), account: account.into(), region: namespace.into() };
    let mut snapshots: BTreeMap<Location, Snapshot> = BTreeMap::new();
    let mut pods_by_owner: HashMap<&str, Vec<&Value>> = HashMap::new();
    for pod in &observed.pods {
        for owner in owners(pod) {
            if let Some(owner_uid) = owner.get("uid").and_then(Value::as_str) {
                pods_by_owner.entry(owner_uid).or_default().push(pod);
            }
        }
    }
    let deployments: HashMap<(&str, &str), &Value> =
        observed.deployments.iter().map(|deployment| ((manifest::namespace(deployment), manifest::name(deployment)), deployment)).collect();
    // Services by namespace, with their selectors, for which workloads they send traffic to.
    type Selectors = Vec<(String, BTreeMap<String, String>)>;
    let mut services: HashMap<&str, Selectors> = HashMap::new();
    for service in &observed.services {
        let selector = manifest::string_map(service.pointer("/spec/selector"));
        services.entry(manifest::namespace(service)).or_default().push((manifest::manifest_name("Service", manifest::name(service)), selector));
    }

    let workloads = [("ReplicaSet", &observed.replica_sets), ("StatefulSet", &observed.stateful_sets), ("DaemonSet", &observed.daemon_sets)];
    for (kind, objects) in workloads {
        for workload in objects.iter() {
            let namespace = manifest::namespace(workload);
            if !manages(namespace) {
                continue;
            }
            let deployment = owner_of_kind(workload, "Deployment")
                .and_then(|owner| owner.get("name").and_then(Value::as_str))
                .and_then(|name| deployments.get(&(namespace, name)).copied());
            let owner_application = deployment.and_then(|deployment| application(deployment, None));
            let Some(application) = application(workload, owner_application.as_deref()) else { continue };
            let annotations = manifest::annotations(workload);
            let name = manifest::name(workload);
            let cluster = match (annotations.get(CLUSTER), deployment) {
                (_, Some(deployment)) => manifest::annotations(deployment)
                    .get(CLUSTER)
                    .cloned()
                    .unwrap_or_else(|| manifest::manifest_name("Deployment", manifest::name(deployment))),
                (Some(cluster), None) => cluster.clone(),
                (None, None) => manifest::manifest_name(kind, manifest::parse_version(name).map_or(name, |(base, _)| base)),
            };
            let template_labels = manifest::string_map(workload.pointer("/spec/template/metadata/labels"));
            let load_balancers: Vec<String> = services
                .get(namespace)
                .into_iter()
                .flatten()
                .filter(|(_, selector)| selector_matches(selector, &template_labels))
                .map(|(service, _)| service.clone())
                .collect();
            let wants_traffic = annotations.get(LOAD_BALANCERS).is_some_and(|services| services.contains("service "));
            let replicas = match kind {
                "DaemonSet" => workload.pointer("/status/desiredNumberScheduled").and_then(Value::as_u64).unwrap_or(0),
                _ => workload.pointer("/spec/replicas").and_then(Value::as_u64).unwrap_or(1),
            } as u32;
            let mut metadata: BTreeMap<String, String> = manifest::labels(workload);
            metadata.insert(KIND_KEY.into(), kind.into());
            if let Some(revision) = annotations.get("deployment.kubernetes.io/revision") {
                metadata.insert(REVISION_KEY.into(), revision.clone());
            }
            let mut instances: Vec<Instance> = pods_by_owner.get(uid(workload)).into_iter().flatten().map(|pod| instance(pod)).collect();
            instances.sort_by(|a, b| a.name.cmp(&b.name));
            let images = manifest::images(workload);
            snapshots.entry(location(namespace)).or_default().server_groups.push(ServerGroup {
                name: manifest::manifest_name(kind, name),
                location: location(namespace),
                capacity: Capacity { min: replicas, max: replicas, desired: replicas },
                artifact: Artifact::DockerImage { reference: images.first().cloned().unwrap_or_default() },
                disabled: wants_traffic && load_balancers.is_empty(),
                load_balancers,
                security_groups: Vec::new(),
                instances,
                created_time: millis(workload.pointer("/metadata/creationTimestamp")),
                metadata,
                moniker: Some(Moniker { application, cluster }),
                launch: Default::default(),
                scaling_policies: Vec::new(),
                scheduled_actions: Vec::new(),
            });
        }
    }

    for service in &observed.services {
        let namespace = manifest::namespace(service);
        if !manages(namespace) {
            continue;
        }
        let Some(application) = application(service, None) else { continue };
        let listeners = service
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|port| {
                let number = u16::try_from(port.get("port")?.as_u64()?).ok()?;
                let http = port.get("name").and_then(Value::as_str).is_some_and(|name| name.starts_with("http"));
                Some(Listener { port: number, protocol: if http { Protocol::Http } else { Protocol::Tcp } })
            })
            .collect();
        snapshots.entry(location(namespace)).or_default().load_balancers.push(LoadBalancer {
            name: manifest::manifest_name("Service", manifest::name(service)),
            location: location(namespace),
            listeners,
            health_check: None,
            security_groups: Vec::new(),
            moniker: Some(Moniker { application, cluster: String::new() }),
            load_balancer_type: None,
        });
    }
    for ingress in &observed.ingresses {
        let namespace = manifest::namespace(ingress);
        if !manages(namespace) {
            continue;
        }
        let Some(application) = application(ingress, None) else { continue };
        let tls = ingress.pointer("/spec/tls").and_then(Value::as_array).is_some_and(|tls| !tls.is_empty());
        let mut listeners = vec![Listener { port: 80, protocol: Protocol::Http }];
        if tls {
            listeners.push(Listener { port: 443, protocol: Protocol::Http });
        }
        snapshots.entry(location(namespace)).or_default().load_balancers.push(LoadBalancer {
            name: manifest::manifest_name("Ingress", manifest::name(ingress)),
            location: location(namespace),
            listeners,
            health_check: None,
            security_groups: Vec::new(),
            moniker: Some(Moniker { application, cluster: String::new() }),
            load_balancer_type: None,
        });
    }
    for policy in &observed.network_policies {
        let namespace = manifest::namespace(policy);
        if !manages(namespace) {
            continue;
        }
        let Some(application) = application(policy, None) else { continue };
        snapshots.entry(location(namespace)).or_default().security_groups.push(SecurityGroup {
            name: manifest::manifest_name("NetworkPolicy", manifest::name(policy)),
            location: location(namespace),
            description: String::new(),
            ingress: ingress_rules(policy),
            moniker: Some(Moniker { application, cluster: String::new() }),
        });
    }
    snapshots
}

/// A NetworkPolicy's ingress rules that name address blocks, one per block and port.
fn ingress_rules(policy: &Value) -> Vec<IngressRule> {
    let mut rules = Vec::new();
    for rule in policy.pointer("/spec/ingress").and_then(Value::as_array).into_iter().flatten() {
        let cidrs: Vec<String> = rule
            .get("from")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|peer| peer.pointer("/ipBlock/cidr").and_then(Value::as_str).map(str::to_string))
            .collect();
        let ports: Vec<(u16, u16)> = rule
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|port| {
                let start = u16::try_from(port.get("port")?.as_u64()?).ok()?;
                let end = port.get("endPort").and_then(Value::as_u64).and_then(|end| u16::try_from(end).ok()).unwrap_or(start);
                Some((start, end))
            })
            .collect();
        let ports = if ports.is_empty() { vec![(1, 65535)] } else { ports };
        for cidr in &cidrs {
            for (start_port, end_port) in &ports {
                rules.push(IngressRule { cidr: cidr.clone(), protocol: Protocol::Tcp, start_port: *start_port, end_port: *end_port });
            }
        }
    }
    rules
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn observed() -> Observed {
        let deployment = json!({"kind": "Deployment", "metadata": {"name": "web", "namespace": "prod", "uid": "d1",
            "annotations": {APPLICATION: "shop", CLUSTER: "deployment web"}}});
        let replica_set = json!({"kind": "ReplicaSet", "metadata": {"name": "web-5d8f", "namespace": "prod", "uid": "r1",
            "creationTimestamp": "2026-11-30T08:00:00Z",
            "annotations": {"deployment.kubernetes.io/revision": "2"},
            "labels": {"team": "payments"},
            "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": "d1"}]},
            "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "shop/web:2"}]}}}});
        let versioned = json!({"kind": "ReplicaSet", "metadata": {"name": "api-v003", "namespace": "prod", "uid": "r2",
            "annotations": {APPLICATION: "shop", LOAD_BALANCERS: "[\"service api\"]"}},
            "spec": {"replicas": 1, "template": {"metadata": {"labels": {"app": "api-old"}}, "spec": {"containers": [{"name": "api", "image": "shop/api:3"}]}}}});
        let ready = json!({"kind": "Pod", "metadata": {"name": "web-5d8f-a", "namespace": "prod", "ownerReferences": [{"kind": "ReplicaSet", "uid": "r1"}]},
            "status": {"phase": "Running", "podIP": "192.0.2.1", "startTime": "2026-11-30T08:00:01Z", "conditions": [{"type": "Ready", "status": "True"}]}});
        let pending = json!({"kind": "Pod", "metadata": {"name": "web-5d8f-b", "namespace": "prod", "ownerReferences": [{"kind": "ReplicaSet", "uid": "r1"}]},
            "status": {"phase": "Pending"}});
        let service = json!({"kind": "Service", "metadata": {"name": "web", "namespace": "prod", "labels": {"app.kubernetes.io/part-of": "shop"}},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]}});
        let stranger = json!({"kind": "ReplicaSet", "metadata": {"name": "x", "namespace": "kube-system", "uid": "r3", "annotations": {APPLICATION: "sys"}}, "spec": {"replicas": 1}});
        let policy = json!({"kind": "NetworkPolicy", "metadata": {"name": "web", "namespace": "prod", "annotations": {APPLICATION: "shop"}},
            "spec": {"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 8080}]}]}});
        Observed {
            deployments: vec![deployment],
            replica_sets: vec![replica_set, versioned, stranger],
            pods: vec![ready, pending],
            services: vec![service],
            network_policies: vec![policy],
            ..Default::default()
        }
    }

    #[test]
    fn workloads_become_server_groups_of_their_moniker() {
        let snapshots = snapshots("k8s", &observed(), |namespace| namespace != "kube-system");
        assert_eq!(snapshots.len(), 1, "kube-system is not managed");
        let prod = &snapshots[&Location { cloud_provider: "kubernetes".into(), account: "k8s".into(), region: "prod".into() }];
        let web = prod.server_groups.iter().find(|group| group.name == "replicaSet web-5d8f").unwrap();
        assert_eq!(web.moniker, Some(Moniker { application: "shop".into(), cluster: "deployment web".into() }), "owned by its Deployment");
        assert_eq!(web.capacity.desired, 2);
        assert_eq!(web.artifact, Artifact::DockerImage { reference: "shop/web:2".into() });
        assert_eq!(web.load_balancers, vec!["service web"]);
        assert!(!web.disabled);
        assert_eq!(web.metadata["team"], "payments");
        assert_eq!(web.metadata[REVISION_KEY], "2");
        let states: Vec<HealthState> = web.instances.iter().map(|instance| instance.health_state).collect();
        assert_eq!(states, vec![HealthState::Up, HealthState::Starting]);
        assert_eq!(web.instances[0].address, "192.0.2.1");
        let api = prod.server_groups.iter().find(|group| group.name == "replicaSet api-v003").unwrap();
        assert_eq!(api.moniker.as_ref().unwrap().cluster, "replicaSet api", "a versioned name's cluster drops the version");
        assert!(api.disabled, "it wants a service's traffic but no service selects it");
        assert_eq!(prod.load_balancers[0].name, "service web");
        assert_eq!(prod.load_balancers[0].moniker.as_ref().unwrap().application, "shop", "from app.kubernetes.io/part-of");
        assert_eq!(prod.security_groups[0].ingress, vec![IngressRule { cidr: "10.0.0.0/8".into(), protocol: Protocol::Tcp, start_port: 8080, end_port: 8080 }]);
    }
}
