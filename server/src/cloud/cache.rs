//! The cluster cache: the last snapshot of every (provider, account, region), and each
//! application's clusters view computed from them. Caching agents (`Clouds::start_agents`)
//! refresh it on an interval and right after every mutating task; REST and the UI read only
//! from here, never from a provider, so a slow cloud never slows a page. When an application's
//! view changes, a [`ClusterChange`] goes to live subscribers: the whole new view (shared, not
//! copied) and which of its clusters changed, so a socket can push just those.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use app::model::cluster::{
    ClusterKey, ClusterSummary, LoadBalancer, Location, RegionClusters, SecurityGroup, ServerGroup, ServerGroupSummary,
};
use app::model::cluster_page::InstanceHealth;
use app::model::names::{ClusterName, Name};
use tokio::sync::broadcast;

use super::provider::Snapshot;

#[derive(Default)]
struct State {
    snapshots: BTreeMap<Location, Arc<Snapshot>>,
    /// Each application's clusters, by account and region.
    views: HashMap<String, Arc<Vec<RegionClusters>>>,
    /// A digest of each cluster's instances (names, health, addresses), by application: a
    /// replaced instance leaves the counts in the view as they were, but subscribers showing
    /// instances must hear of it.
    instances: HashMap<String, HashMap<ClusterKey, u64>>,
}

/// An application's view changed: the new view, and which clusters of it changed (added,
/// removed, or any server group or instance of theirs).
#[derive(Debug, Clone)]
pub struct ClusterChange {
    pub application: String,
    pub regions: Arc<Vec<RegionClusters>>,
    pub clusters: Vec<ClusterKey>,
}

fn instance_digests(snapshots: &BTreeMap<Location, Arc<Snapshot>>) -> HashMap<String, HashMap<ClusterKey, u64>> {
    use std::hash::{Hash, Hasher};
    let mut digests: HashMap<String, HashMap<ClusterKey, u64>> = HashMap::new();
    for (location, snapshot) in snapshots {
        // By (application, cluster) within the location; keyed with the location once per cluster.
        let mut hashers: HashMap<(String, String), std::collections::hash_map::DefaultHasher> = HashMap::new();
        for group in &snapshot.server_groups {
            let Some(placement) = placement_of(group) else { continue };
            let hasher = hashers.entry(placement).or_default();
            group.name.hash(hasher);
            for instance in &group.instances {
                (&instance.name, instance.health_state, &instance.address).hash(hasher);
            }
        }
        for ((application, cluster), hasher) in hashers {
            digests.entry(application).or_default().insert(ClusterKey { location: location.clone(), name: cluster }, hasher.finish());
        }
    }
    digests
}

/// The clusters of a view by key.
fn by_key(view: Option<&Arc<Vec<RegionClusters>>>) -> HashMap<ClusterKey, &ClusterSummary> {
    let mut found = HashMap::new();
    for region in view.map(|view| view.as_slice()).unwrap_or_default() {
        let location = Location { cloud_provider: region.cloud_provider.clone(), account: region.account.clone(), region: region.region.clone() };
        for cluster in &region.clusters {
            found.insert(ClusterKey { location: location.clone(), name: cluster.name.clone() }, cluster);
        }
    }
    found
}

/// The clusters that differ between two views of an application (or their instances do),
/// sorted.
fn changed_clusters(
    old: Option<&Arc<Vec<RegionClusters>>>,
    new: Option<&Arc<Vec<RegionClusters>>>,
    old_instances: Option<&HashMap<ClusterKey, u64>>,
    new_instances: Option<&HashMap<ClusterKey, u64>>,
) -> Vec<ClusterKey> {
    let same_instances = old_instances == new_instances;
    if same_instances && old == new {
        return Vec::new();
    }
    let (old, new) = (by_key(old), by_key(new));
    let digest = |digests: Option<&HashMap<ClusterKey, u64>>, key: &ClusterKey| digests.and_then(|d| d.get(key)).copied();
    let mut changed: Vec<ClusterKey> = old
        .keys()
        .chain(new.keys().filter(|key| !old.contains_key(*key)))
        .filter(|key| old.get(*key) != new.get(*key) || (!same_instances && digest(old_instances, key) != digest(new_instances, key)))
        .cloned()
        .collect();
    changed.sort();
    changed
}

#[derive(Clone)]
pub struct ClusterCache {
    state: Arc<RwLock<State>>,
    events: broadcast::Sender<ClusterChange>,
}

impl Default for ClusterCache {
    fn default() -> Self {
        Self { state: Arc::default(), events: broadcast::channel(256).0 }
    }
}

/// The application a resource name belongs to (`demo` for `demo-web-v001` and `demo-web`).
pub fn application_of(name: &str) -> Option<String> {
    Name::parse(name).ok().map(|name| name.cluster().application.clone())
}

/// A server group's application and cluster: its moniker when its provider set one, else its
/// name by the convention.
fn placement_of(server_group: &ServerGroup) -> Option<(String, String)> {
    if let Some(moniker) = &server_group.moniker {
        return Some((moniker.application.clone(), moniker.cluster.clone()));
    }
    Name::parse(&server_group.name).ok().map(|name| {
        let cluster: &ClusterName = name.cluster();
        (cluster.application.clone(), cluster.to_string())
    })
}

/// The application a load balancer or security group belongs to: its moniker, else its name.
fn owner(name: &str, moniker: Option<&app::model::cluster::Moniker>) -> Option<String> {
    match moniker {
        Some(moniker) => Some(moniker.application.clone()),
        None => application_of(name),
    }
}

/// Every application's view of the snapshots.
fn views(snapshots: &BTreeMap<Location, Arc<Snapshot>>) -> HashMap<String, Arc<Vec<RegionClusters>>> {
    let mut by_application: HashMap<String, Vec<RegionClusters>> = HashMap::new();
    for (location, snapshot) in snapshots {
        let mut clusters: BTreeMap<(String, String), Vec<ServerGroupSummary>> = BTreeMap::new();
        for server_group in &snapshot.server_groups {
            let Some((application, cluster_name)) = placement_of(server_group) else { continue };
            clusters
                .entry((application, cluster_name.clone()))
                .or_default()
                .push(ServerGroupSummary::of(server_group, &cluster_name));
        }
        let mut regions: BTreeMap<String, RegionClusters> = BTreeMap::new();
        for ((application, name), mut server_groups) in clusters {
            server_groups.sort_by(|a, b| a.created_time.cmp(&b.created_time).then_with(|| a.name.cmp(&b.name)));
            regions
                .entry(application)
                .or_insert_with(|| RegionClusters {
                    cloud_provider: location.cloud_provider.clone(),
                    account: location.account.clone(),
                    region: location.region.clone(),
                    clusters: Vec::new(),
                })
                .clusters
                .push(ClusterSummary { name, server_groups });
        }
        for (application, region) in regions {
            by_application.entry(application).or_default().push(region);
        }
    }
    by_application.into_iter().map(|(application, regions)| (application, Arc::new(regions))).collect()
}

impl ClusterCache {
    /// Replaces the snapshot of one location and tells subscribers of every application whose
    /// view changed.
    pub fn update(&self, location: Location, snapshot: Snapshot) {
        self.change(|snapshots| {
            if snapshots.get(&location).is_some_and(|old| **old == snapshot) {
                return false;
            }
            snapshots.insert(location, Arc::new(snapshot));
            true
        });
    }

    /// Replaces every snapshot of one account (a Kubernetes account's namespaces come and go):
    /// locations of the account missing from `snapshots` are dropped.
    pub fn replace_account(&self, cloud_provider: &str, account: &str, snapshots: BTreeMap<Location, Snapshot>) {
        self.change(|current| {
            let before: Vec<Location> =
                current.keys().filter(|location| location.cloud_provider == cloud_provider && location.account == account).cloned().collect();
            let mut changed = false;
            for location in before {
                if !snapshots.contains_key(&location) {
                    current.remove(&location);
                    changed = true;
                }
            }
            for (location, snapshot) in snapshots {
                if current.get(&location).is_none_or(|old| **old != snapshot) {
                    current.insert(location, Arc::new(snapshot));
                    changed = true;
                }
            }
            changed
        });
    }

    /// Drops everything known of an account (it was removed from the configuration).
    pub fn forget_account(&self, cloud_provider: &str, account: &str) {
        self.replace_account(cloud_provider, account, BTreeMap::new());
    }

    /// Applies `edit` to the snapshots; when it says it changed them, recomputes the views and
    /// tells subscribers of every application whose view changed.
    fn change(&self, edit: impl FnOnce(&mut BTreeMap<Location, Arc<Snapshot>>) -> bool) {
        let changed: Vec<ClusterChange> = {
            let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
            if !edit(&mut state.snapshots) {
                return;
            }
            let new_views = views(&state.snapshots);
            let new_instances = instance_digests(&state.snapshots);
            let mut changed = Vec::new();
            let gone = state.views.keys().filter(|a| !new_views.contains_key(*a));
            for application in new_views.keys().chain(gone) {
                let (new_view, new_digests) = (new_views.get(application), new_instances.get(application));
                let clusters = changed_clusters(state.views.get(application), new_view, state.instances.get(application), new_digests);
                if !clusters.is_empty() {
                    let regions = new_view.cloned().unwrap_or_default();
                    changed.push(ClusterChange { application: application.clone(), regions, clusters });
                }
            }
            state.views = new_views;
            state.instances = new_instances;
            changed
        };
        for event in changed {
            // No subscriber is fine.
            let _ = self.events.send(event);
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ClusterChange> {
        self.events.subscribe()
    }

    /// The instances of the named server groups at one location, by server group, in the
    /// provider's order (the Clusters tab's squares; one pass over that location).
    pub fn instance_health(&self, location: &Location, names: &[&str]) -> HashMap<String, Vec<InstanceHealth>> {
        let Some(snapshot) = self.snapshot(location) else { return HashMap::new() };
        let wanted: std::collections::HashSet<&str> = names.iter().copied().collect();
        snapshot
            .server_groups
            .iter()
            .filter(|group| wanted.contains(group.name.as_str()))
            .map(|group| {
                let instances = group.instances.iter().map(|i| InstanceHealth { name: i.name.clone(), health_state: i.health_state }).collect();
                (group.name.clone(), instances)
            })
            .collect()
    }

    /// The application's clusters, by account and region (empty when it has none).
    pub fn clusters(&self, application: &str) -> Arc<Vec<RegionClusters>> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        state.views.get(application).cloned().unwrap_or_default()
    }

    /// Every server group of `cloud_provider` with its application and cluster (by moniker or
    /// name), for Prometheus service discovery.
    pub fn placed_server_groups(&self, cloud_provider: &str) -> Vec<(String, String, ServerGroup)> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        state
            .snapshots
            .iter()
            .filter(|(location, _)| location.cloud_provider == cloud_provider)
            .flat_map(|(_, snapshot)| snapshot.server_groups.iter())
            .filter_map(|server_group| placement_of(server_group).map(|(application, cluster)| (application, cluster, server_group.clone())))
            .collect()
    }

    pub fn snapshot(&self, location: &Location) -> Option<Arc<Snapshot>> {
        self.state.read().unwrap_or_else(|p| p.into_inner()).snapshots.get(location).cloned()
    }

    pub fn server_group(&self, account: &str, region: &str, name: &str) -> Option<ServerGroup> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        state
            .snapshots
            .iter()
            .filter(|(location, _)| location.account == account && location.region == region)
            .flat_map(|(_, snapshot)| snapshot.server_groups.iter())
            .find(|server_group| server_group.name == name)
            .cloned()
    }

    /// Load balancers named for the application.
    pub fn load_balancers(&self, application: &str) -> Vec<LoadBalancer> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        state
            .snapshots
            .values()
            .flat_map(|snapshot| snapshot.load_balancers.iter())
            .filter(|lb| owner(&lb.name, lb.moniker.as_ref()).as_deref() == Some(application))
            .cloned()
            .collect()
    }

    /// Security groups named for the application, or used by its load balancers or server
    /// groups.
    pub fn security_groups(&self, application: &str) -> Vec<SecurityGroup> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        let mut found = Vec::new();
        for snapshot in state.snapshots.values() {
            let mut used: Vec<&str> = Vec::new();
            for lb in snapshot.load_balancers.iter().filter(|lb| owner(&lb.name, lb.moniker.as_ref()).as_deref() == Some(application)) {
                used.extend(lb.security_groups.iter().map(String::as_str));
            }
            for sg in snapshot.server_groups.iter().filter(|sg| placement_of(sg).is_some_and(|(owner, _)| owner == application)) {
                used.extend(sg.security_groups.iter().map(String::as_str));
            }
            found.extend(
                snapshot
                    .security_groups
                    .iter()
                    .filter(|sg| owner(&sg.name, sg.moniker.as_ref()).as_deref() == Some(application) || used.contains(&sg.name.as_str()))
                    .cloned(),
            );
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use app::model::cluster::{Artifact, Capacity, HealthState, Instance};

    use super::*;

    fn location() -> Location {
        Location { cloud_provider: "local".into(), account: "local".into(), region: "local".into() }
    }

    fn server_group(name: &str, created_time: i64, health: &[HealthState]) -> ServerGroup {
        ServerGroup {
            name: name.into(),
            location: location(),
            capacity: Capacity { min: 1, max: 3, desired: health.len() as u32 },
            artifact: Artifact::Command { command: vec!["demo-app".into()], version: "v1".into() },
            disabled: false,
            load_balancers: vec![],
            security_groups: vec![],
            instances: health
                .iter()
                .enumerate()
                .map(|(i, h)| Instance { name: format!("{name}-{i}"), health_state: *h, launch_time: 0, address: String::new(), pid: None })
                .collect(),
            created_time,
            metadata: BTreeMap::new(),
            moniker: None,
            launch: Default::default(),
            scaling_policies: Vec::new(),
            scheduled_actions: Vec::new(),
        }
    }

    #[test]
    fn views_group_by_application_and_cluster_and_events_name_what_changed() {
        let cache = ClusterCache::default();
        let mut events = cache.subscribe();
        let snapshot = Snapshot {
            server_groups: vec![
                server_group("demo-web-v002", 20, &[HealthState::Up, HealthState::Starting]),
                server_group("demo-web-v001", 10, &[HealthState::Up]),
                server_group("shop-v000", 5, &[]),
            ],
            ..Snapshot::default()
        };
        cache.update(location(), snapshot.clone());
        let demo = cache.clusters("demo");
        assert_eq!(demo.len(), 1);
        assert_eq!(demo[0].clusters[0].name, "demo-web");
        let names: Vec<&str> = demo[0].clusters[0].server_groups.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["demo-web-v001", "demo-web-v002"], "oldest first");
        assert_eq!(demo[0].clusters[0].server_groups[1].instance_counts.starting, 1);
        let mut applications: Vec<String> = (0..2).map(|_| events.try_recv().unwrap().application).collect();
        applications.sort();
        assert_eq!(applications, ["demo", "shop"]);

        // The same snapshot again: nothing to say.
        cache.update(location(), snapshot.clone());
        assert!(events.try_recv().is_err());

        // Only demo changed.
        let mut changed = snapshot;
        changed.server_groups[0].instances[1].health_state = HealthState::Up;
        cache.update(location(), changed.clone());
        let event = events.try_recv().unwrap();
        assert_eq!(event.application, "demo");
        assert_eq!(event.regions[0].clusters[0].server_groups[1].instance_counts.up, 2);
        let web = ClusterKey { location: location(), name: "demo-web".into() };
        assert_eq!(event.clusters, std::slice::from_ref(&web), "the event names the cluster that changed");
        assert!(events.try_recv().is_err());

        // An instance replaced by another in the same state: the counts stay, the event comes.
        changed.server_groups[1].instances[0].name = "demo-web-v001-replacement".into();
        cache.update(location(), changed.clone());
        let event = events.try_recv().unwrap();
        assert_eq!((event.application.as_str(), event.clusters.as_slice()), ("demo", [web.clone()].as_slice()));
        assert!(events.try_recv().is_err());

        // A new cluster beside: only it is named.
        changed.server_groups.push(server_group("demo-api-v000", 30, &[HealthState::Up]));
        cache.update(location(), changed.clone());
        let event = events.try_recv().unwrap();
        assert_eq!(event.clusters, [ClusterKey { location: location(), name: "demo-api".into() }]);
        let squares = cache.instance_health(&location(), &["demo-web-v002", "demo-api-v000"]);
        assert_eq!(squares["demo-web-v002"].len(), 2);
        assert_eq!(squares["demo-api-v000"][0].health_state, HealthState::Up);

        // shop's last server group goes: its subscribers hear it is empty.
        changed.server_groups.retain(|s| s.name != "shop-v000");
        cache.update(location(), changed);
        let event = events.try_recv().unwrap();
        assert_eq!((event.application.as_str(), event.regions.len()), ("shop", 0));
        assert_eq!(event.clusters, [ClusterKey { location: location(), name: "shop".into() }]);
        assert!(cache.clusters("shop").is_empty());
    }
}
