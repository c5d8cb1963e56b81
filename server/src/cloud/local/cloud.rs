//! The `local` provider: server groups are supervised processes, load balancers are reverse
//! proxies on their listener ports, security groups' ingress rules guard those listeners. The
//! desired state is kept in the store (`local_resources`), so `LocalCloud::restore` after a
//! restart brings every server group, balancer and rule back. A background loop keeps the
//! balancers' targets in step with the instances (which change as crashed ones are replaced).
//!
//! Its instances are processes on one machine, so when several gennaker instances share one
//! PostgreSQL only one runs them: the holder of the `local-cloud` lease, which the local
//! location's caching agent takes and renews (`cloud::leases`). It starts as a standby
//! ([`LocalCloud::start`]); on taking the lease it restores what the store holds, as a
//! restart does, and on losing it stops its processes. A standby neither observes nor
//! changes anything: its cache follows what the holder publishes, and every call that would
//! act or look at the processes is refused naming the holder. On SQLite it always runs them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use app::model::cluster::{
    Artifact, Capacity, HealthState, Instance, LoadBalancer, Location, Protocol, SecurityGroup, ServerGroup,
};
use app::model::names::ServerGroupName;
use app::model::scaling::{PolicyType, ScalingPolicy, ScheduledAction};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::autoscaler::{Evaluator, GroupPolicies, Sample};
use super::balancer::{Balancer, HealthCheck, Target};
use super::builds::{Builds, Source};
use super::processes::{InstanceSpec, ProcessGroup};
use crate::cloud::cidr::Cidr;
use super::jobs::Jobs;
use super::sandbox::Sandbox;
use crate::cloud::provider::{Error, JobSpec, JobStatus, Provider, Result, ServerGroupSpec, Snapshot};
use crate::store::Store;

pub const ACCOUNT: &str = "local";
pub const REGION: &str = "local";
/// The lease of the instance that runs the local cloud's processes.
pub const LEASE: &str = "local-cloud";
const SYNC_EVERY: Duration = Duration::from_millis(250);
/// How often the autoscaler looks at the server groups' policies.
const AUTOSCALE_EVERY: Duration = Duration::from_secs(1);
/// How long a destroyed server group's instances keep serving requests already in flight
/// after its balancers stopped sending it new ones (a deregistration delay).
const DRAIN: Duration = Duration::from_millis(500);

/// A server group as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServerGroupRecord {
    spec: ServerGroupSpec,
    disabled: bool,
    created_time: i64,
}

struct RunningGroup {
    record: ServerGroupRecord,
    processes: ProcessGroup,
}

struct RunningBalancer {
    config: LoadBalancer,
    balancer: Balancer,
}

#[derive(Default)]
struct State {
    server_groups: BTreeMap<String, RunningGroup>,
    balancers: BTreeMap<String, RunningBalancer>,
    security_groups: BTreeMap<String, SecurityGroup>,
}

pub struct LocalCloud {
    store: Store,
    state: Arc<Mutex<State>>,
    sync: tokio::task::JoinHandle<()>,
    autoscaler: tokio::task::JoinHandle<()>,
    jobs: Jobs,
    sandbox: Arc<Sandbox>,
    builds: Builds,
    /// Whether this instance runs the processes (always, alone on a database; else while it
    /// holds the lease).
    running: AtomicBool,
}

fn location() -> Location {
    Location { cloud_provider: "local".into(), account: ACCOUNT.into(), region: REGION.into() }
}

fn store_error(error: crate::store::Error) -> Error {
    Error::Provider(format!("the local cloud's state could not be saved: {error}"))
}

/// How the instances of a server group running `artifact` start: its command, or, for a
/// source, its run command in the build's checkout (built first when it is not yet).
async fn instance_spec(builds: &Builds, artifact: &Artifact) -> Result<InstanceSpec> {
    match artifact {
        Artifact::Command { command, version } => {
            let mut env = BTreeMap::new();
            env.insert("DEMO_VERSION".to_string(), version.clone());
            Ok(InstanceSpec { command: command.clone(), env, directory: None })
        }
        Artifact::Source { repository, commit, build, run } => {
            let source = Source { repository: repository.clone(), commit: commit.clone(), build: build.clone() };
            let checkout = builds.prepare(&source).await.map_err(|error| Error::Invalid(error.to_string()))?;
            let env = BTreeMap::from([("SOURCE_COMMIT".to_string(), commit.clone())]);
            Ok(InstanceSpec { command: run.clone(), env, directory: Some(checkout) })
        }
        other => Err(Error::Invalid(format!("the local cloud runs commands and source builds, not {other:?}"))),
    }
}

/// The load balancer's HTTP listener port.
fn listener_address(config: &LoadBalancer) -> Result<SocketAddr> {
    let listener = config
        .listeners
        .iter()
        .find(|l| l.protocol == Protocol::Http)
        .ok_or_else(|| Error::Invalid(format!("load balancer {} needs an http listener", config.name)))?;
    Ok(SocketAddr::from(([127, 0, 0, 1], listener.port)))
}

fn health_check(config: &LoadBalancer) -> Option<HealthCheck> {
    config.health_check.as_ref().map(|check| HealthCheck {
        path: check.path.clone(),
        interval: Duration::from_millis(check.interval_ms.max(50)),
        timeout: Duration::from_millis(check.timeout_ms.max(10)),
        healthy_threshold: check.healthy_threshold.max(1),
        unhealthy_threshold: check.unhealthy_threshold.max(1),
    })
}

/// Points every balancer at the instances of the server groups attached to it, and applies the
/// ingress rules of its security groups to its listener.
fn sync_balancers(state: &State) {
    for (name, running) in &state.balancers {
        let targets = state
            .server_groups
            .values()
            .filter(|group| group.record.spec.load_balancers.contains(name))
            .flat_map(|group| {
                let enabled = !group.record.disabled;
                let server_group: std::sync::Arc<str> = group.record.spec.name.as_str().into();
                group.processes.instances().into_iter().map(move |i| Target { address: i.address, enabled, server_group: server_group.clone() })
            })
            .collect();
        running.balancer.set_targets(targets);
        let port = running.balancer.address().port();
        let ingress = (!running.config.security_groups.is_empty()).then(|| {
            running
                .config
                .security_groups
                .iter()
                .filter_map(|sg| state.security_groups.get(sg))
                .flat_map(|sg| sg.ingress.iter())
                .filter(|rule| rule.start_port <= port && port <= rule.end_port)
                .filter_map(|rule| rule.cidr.parse::<Cidr>().ok())
                .collect()
        });
        running.balancer.set_ingress(ingress);
    }
}

/// One look of the autoscaler at every enabled server group with policies or scheduled
/// actions; changed capacities are applied and saved.
async fn autoscale(state: &Mutex<State>, store: &Store, evaluator: &mut Evaluator, now: i64) {
    let changed: Vec<ServerGroupRecord> = {
        let mut state = state.lock().await;
        let mut served: BTreeMap<SocketAddr, u64> = BTreeMap::new();
        for running in state.balancers.values() {
            for (address, count) in running.balancer.served() {
                *served.entry(address).or_default() += count;
            }
        }
        let mut changed = Vec::new();
        for group in state.server_groups.values_mut() {
            let spec = &group.record.spec;
            if group.record.disabled || (spec.scaling_policies.is_empty() && spec.scheduled_actions.is_empty()) {
                continue;
            }
            let instances = group.processes.instances();
            let sample = Sample { at: now, served: instances.iter().map(|i| served.get(&i.address).copied().unwrap_or(0)).sum(), instances: instances.len() as u32 };
            let policies = GroupPolicies { name: &spec.name, capacity: spec.capacity, policies: &spec.scaling_policies, actions: &spec.scheduled_actions };
            if let Some(decision) = evaluator.evaluate(&policies, sample) {
                tracing::info!(server_group = %spec.name, reason = %decision.reason, desired = decision.capacity.desired, "autoscaling");
                group.record.spec.capacity = decision.capacity;
                group.processes.resize(decision.capacity.desired as usize);
                changed.push(group.record.clone());
            }
        }
        let names: Vec<&str> = state.server_groups.keys().map(String::as_str).collect();
        evaluator.retain(&names);
        if !changed.is_empty() {
            sync_balancers(&state);
        }
        changed
    };
    for record in changed {
        let body = serde_json::to_string(&record).expect("records serialize");
        if let Err(error) = store.put_local_resource("serverGroup", &record.spec.name, &body).await {
            tracing::error!(%error, server_group = %record.spec.name, "an autoscaled capacity could not be saved");
        }
    }
}

/// Why the local cloud cannot run these policies or actions, naming the first problem.
fn scaling_problem(policies: &[ScalingPolicy], actions: &[ScheduledAction]) -> Option<String> {
    policies
        .iter()
        .flat_map(|policy| policy.problems().into_iter().chain(policy.local_problem()))
        .chain(actions.iter().flat_map(|action| {
            let parsed = crate::schedule::parse(&action.recurrence, None).err().map(|error| format!("recurrence {error}"));
            action.problems().into_iter().chain(parsed)
        }))
        .next()
}

/// `<prefix>-N` for every unnamed policy or action, N not taken by another.
fn name_unnamed<T>(items: &mut [T], name: impl Fn(&mut T) -> &mut String, prefix: impl Fn(&T) -> &'static str) {
    let mut taken: Vec<String> = Vec::new();
    for item in items.iter_mut() {
        let current = name(item).clone();
        if !current.is_empty() {
            taken.push(current);
        }
    }
    for item in items.iter_mut() {
        if name(item).is_empty() {
            let prefix = prefix(item);
            let fresh = (1..).map(|n| format!("{prefix}-{n}")).find(|candidate| !taken.contains(candidate)).expect("a free name");
            taken.push(fresh.clone());
            *name(item) = fresh;
        }
    }
}

fn policy_prefix(policy: &ScalingPolicy) -> &'static str {
    match policy.policy_type {
        PolicyType::TargetTrackingScaling => "target-tracking",
        PolicyType::StepScaling => "step",
    }
}

impl LocalCloud {
    /// Starts the local cloud: restored from the store at once, or, when instances share the
    /// database (`shared`), as a standby until its caching agent takes the lease.
    pub async fn start(store: Store, sandbox: Arc<Sandbox>, shared: bool) -> Result<Self> {
        if shared { Ok(Self::standby(store, sandbox)) } else { Self::restore(store, sandbox).await }
    }

    /// Starts the local cloud with the state stored from before (none on a first start).
    /// Brings back what the store holds; every process starts inside `sandbox`.
    pub async fn restore(store: Store, sandbox: Arc<Sandbox>) -> Result<Self> {
        let cloud = Self::standby(store, sandbox);
        cloud.load().await?;
        Ok(cloud)
    }

    /// The local cloud running nothing yet.
    fn standby(store: Store, sandbox: Arc<Sandbox>) -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let sync_state = state.clone();
        let sync = tokio::spawn(async move {
            loop {
                tokio::time::sleep(SYNC_EVERY).await;
                sync_balancers(&*sync_state.lock().await);
            }
        });
        let (scale_state, scale_store) = (state.clone(), store.clone());
        let autoscaler = tokio::spawn(async move {
            let mut evaluator = Evaluator::default();
            loop {
                tokio::time::sleep(AUTOSCALE_EVERY).await;
                autoscale(&scale_state, &scale_store, &mut evaluator, crate::store::now_millis()).await;
            }
        });
        let builds = Builds::new(sandbox.clone());
        Self { store, state, sync, autoscaler, jobs: Jobs::new(sandbox.clone()), builds, sandbox, running: AtomicBool::new(false) }
    }

    /// Starts every balancer and server group the store holds; this instance runs the local
    /// cloud from now on.
    async fn load(&self) -> Result<()> {
        let (cloud, store) = (self, &self.store);
        for (_, body) in store.local_resources("securityGroup").await.map_err(store_error)? {
            let security_group: SecurityGroup = serde_json::from_str(&body).map_err(|e| Error::Provider(e.to_string()))?;
            cloud.state.lock().await.security_groups.insert(security_group.name.clone(), security_group);
        }
        for (_, body) in store.local_resources("loadBalancer").await.map_err(store_error)? {
            let config: LoadBalancer = serde_json::from_str(&body).map_err(|e| Error::Provider(e.to_string()))?;
            // A port taken by another program must not keep gennaker from starting: the
            // balancer stays stored and is tried again on the next start.
            if let Err(error) = cloud.start_balancer(config).await {
                tracing::error!(%error, "a stored load balancer could not start");
            }
        }
        for (_, body) in store.local_resources("serverGroup").await.map_err(store_error)? {
            let record: ServerGroupRecord = serde_json::from_str(&body).map_err(|e| Error::Provider(e.to_string()))?;
            let processes = ProcessGroup::start(&record.spec.name, instance_spec(&cloud.builds, &record.spec.artifact).await?, record.spec.capacity.desired as usize, cloud.sandbox.clone());
            cloud.state.lock().await.server_groups.insert(record.spec.name.clone(), RunningGroup { record, processes });
        }
        sync_balancers(&*cloud.state.lock().await);
        self.running.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Stops every balancer and instance here (another instance runs them now, or will).
    async fn stand_down(&self) {
        self.running.store(false, Ordering::SeqCst);
        let state = std::mem::take(&mut *self.state.lock().await);
        for (_, running) in state.balancers {
            running.balancer.stop().await;
        }
        for (_, group) in state.server_groups {
            group.processes.stop().await;
        }
    }

    /// Refuses what only the instance running the local cloud may do, naming that instance.
    async fn check_running(&self) -> Result<()> {
        if self.running.load(Ordering::SeqCst) {
            return Ok(());
        }
        let holder = match self.store.poll_lease(LEASE).await {
            Ok(Some((owner, until))) if until >= crate::store::now_millis() => format!("runs on gennaker instance {owner}"),
            Ok(Some((owner, _))) => format!("ran on gennaker instance {owner}, whose lease has lapsed (another instance takes it over shortly)"),
            Ok(None) => "is not run by any gennaker instance yet".to_string(),
            Err(error) => format!("runs on another gennaker instance (which one cannot be read now: {error})"),
        };
        Err(Error::Provider(format!("the local cloud {holder} (it holds the {LEASE} lease); this instance does not run local processes")))
    }

    async fn start_balancer(&self, config: LoadBalancer) -> Result<()> {
        let address = listener_address(&config)?;
        let balancer = Balancer::start(address, health_check(&config))
            .await
            .map_err(|error| Error::Invalid(format!("load balancer {} cannot listen on {address}: {error}", config.name)))?;
        self.state.lock().await.balancers.insert(config.name.clone(), RunningBalancer { config, balancer });
        Ok(())
    }

    async fn save_group(&self, record: &ServerGroupRecord) -> Result<()> {
        let body = serde_json::to_string(record).expect("records serialize");
        self.store.put_local_resource("serverGroup", &record.spec.name, &body).await.map_err(store_error)
    }

    async fn update_group(&self, name: &str, change: impl FnOnce(&mut ServerGroupRecord)) -> Result<ServerGroupRecord> {
        let record = {
            let mut state = self.state.lock().await;
            let group = state.server_groups.get_mut(name).ok_or_else(|| Error::NotFound(format!("server group {name}")))?;
            change(&mut group.record);
            group.processes.resize(group.record.spec.capacity.desired as usize);
            let record = group.record.clone();
            sync_balancers(&state);
            record
        };
        self.save_group(&record).await?;
        Ok(record)
    }

    /// Stops every balancer and instance (the stored state stays for the next start).
    pub async fn shutdown(&self) {
        self.sync.abort();
        self.autoscaler.abort();
        self.stand_down().await;
    }

    fn view(group: &RunningGroup, healthy: &BTreeMap<SocketAddr, bool>) -> ServerGroup {
        let instances = group
            .processes
            .instances()
            .into_iter()
            .map(|i| Instance {
                name: i.name,
                health_state: match (group.record.disabled, healthy.get(&i.address)) {
                    (true, _) => HealthState::OutOfService,
                    (false, Some(true)) => HealthState::Up,
                    (false, Some(false)) => HealthState::Starting,
                    (false, None) => HealthState::Unknown,
                },
                launch_time: i.launch_time,
                address: i.address.to_string(),
                pid: i.pid,
            })
            .collect();
        let spec = &group.record.spec;
        ServerGroup {
            name: spec.name.clone(),
            location: location(),
            capacity: spec.capacity,
            artifact: spec.artifact.clone(),
            disabled: group.record.disabled,
            load_balancers: spec.load_balancers.clone(),
            security_groups: spec.security_groups.clone(),
            instances,
            created_time: group.record.created_time,
            metadata: spec.metadata.clone(),
            moniker: None,
            launch: spec.launch.clone(),
            scaling_policies: spec.scaling_policies.clone(),
            scheduled_actions: spec.scheduled_actions.clone(),
        }
    }
}

/// The local cloud has one account and one region; it refuses any other.
fn serves(location: &Location) -> Result<()> {
    if location.account == ACCOUNT && location.region == REGION {
        Ok(())
    } else {
        Err(Error::Invalid(format!("the local cloud has only account {ACCOUNT} and region {REGION}, not {}/{}", location.account, location.region)))
    }
}

#[async_trait]
impl Provider for LocalCloud {
    fn name(&self) -> &'static str {
        "local"
    }

    /// The caching agent's lease is the processes' lease: what the holder publishes is what
    /// it runs.
    fn lease_name(&self, _location: &Location) -> String {
        LEASE.to_string()
    }

    async fn lease_held(&self, held: bool) {
        let running = self.running.load(Ordering::SeqCst);
        if held && !running {
            tracing::info!("this instance holds the {LEASE} lease: restoring the local cloud's processes");
            if let Err(error) = self.load().await {
                // Nothing half-started stays: the next loop tries again from the store.
                tracing::error!(%error, "the local cloud could not be restored; trying again");
                self.stand_down().await;
            }
        } else if !held && running {
            tracing::warn!("this instance lost the {LEASE} lease: stopping the local cloud's processes here");
            self.stand_down().await;
        }
    }

    async fn observe(&self, account: &str, region: &str) -> Result<Snapshot> {
        if account != ACCOUNT || region != REGION {
            return Ok(Snapshot::default());
        }
        // A standby has nothing of its own to show: it must not pass for an empty cloud.
        self.check_running().await?;
        let state = self.state.lock().await;
        let healthy: BTreeMap<SocketAddr, bool> = state.balancers.values().flat_map(|b| b.balancer.health()).collect();
        Ok(Snapshot {
            server_groups: state.server_groups.values().map(|group| Self::view(group, &healthy)).collect(),
            load_balancers: state.balancers.values().map(|b| b.config.clone()).collect(),
            security_groups: state.security_groups.values().cloned().collect(),
        })
    }

    async fn create_server_group(&self, mut spec: ServerGroupSpec) -> Result<ServerGroup> {
        self.check_running().await?;
        ServerGroupName::parse(&spec.name).map_err(|e| Error::Invalid(e.to_string()))?;
        if let Some(problem) = scaling_problem(&spec.scaling_policies, &spec.scheduled_actions) {
            return Err(Error::Invalid(problem));
        }
        name_unnamed(&mut spec.scaling_policies, |policy| &mut policy.policy_name, policy_prefix);
        name_unnamed(&mut spec.scheduled_actions, |action| &mut action.scheduled_action_name, |_| "schedule");
        if !spec.capacity.is_consistent() {
            return Err(Error::Invalid(format!("capacity must satisfy min <= desired <= max: {:?}", spec.capacity)));
        }
        {
            let state = self.state.lock().await;
            if let Some(existing) = state.server_groups.get(&spec.name) {
                // Idempotent: a retried create finds what the first one made.
                let healthy = state.balancers.values().flat_map(|b| b.balancer.health()).collect();
                return Ok(Self::view(existing, &healthy));
            }
            for name in &spec.load_balancers {
                if !state.balancers.contains_key(name) {
                    return Err(Error::Invalid(format!("load balancer {name} does not exist")));
                }
            }
        }
        // A source build happens before anything is recorded: a failed one leaves nothing.
        let instances = instance_spec(&self.builds, &spec.artifact).await?;
        let record = ServerGroupRecord { spec: spec.clone(), disabled: false, created_time: crate::store::now_millis() };
        self.save_group(&record).await?;
        let processes = ProcessGroup::start(&spec.name, instances, spec.capacity.desired as usize, self.sandbox.clone());
        let mut state = self.state.lock().await;
        state.server_groups.insert(spec.name.clone(), RunningGroup { record, processes });
        sync_balancers(&state);
        let healthy = state.balancers.values().flat_map(|b| b.balancer.health()).collect();
        Ok(Self::view(&state.server_groups[&spec.name], &healthy))
    }

    async fn resize(&self, location: &Location, name: &str, capacity: Capacity) -> Result<()> {
        serves(location)?;
        self.check_running().await?;
        if !capacity.is_consistent() {
            return Err(Error::Invalid(format!("capacity must satisfy min <= desired <= max: {capacity:?}")));
        }
        self.update_group(name, |record| record.spec.capacity = capacity).await.map(drop)
    }

    async fn enable(&self, location: &Location, name: &str) -> Result<()> {
        serves(location)?;
        self.check_running().await?;
        self.update_group(name, |record| record.disabled = false).await.map(drop)
    }

    async fn disable(&self, location: &Location, name: &str) -> Result<()> {
        serves(location)?;
        self.check_running().await?;
        self.update_group(name, |record| record.disabled = true).await.map(drop)
    }

    async fn destroy(&self, location: &Location, name: &str) -> Result<()> {
        serves(location)?;
        self.check_running().await?;
        let was_disabled = {
            let mut state = self.state.lock().await;
            let was_disabled = state.server_groups.get_mut(name).map(|group| std::mem::replace(&mut group.record.disabled, true));
            sync_balancers(&state);
            was_disabled
        };
        if was_disabled == Some(false) {
            // Drain: let requests in flight finish before the instances go.
            tokio::time::sleep(DRAIN).await;
        }
        let removed = {
            let mut state = self.state.lock().await;
            let removed = state.server_groups.remove(name);
            sync_balancers(&state);
            removed
        };
        self.store.delete_local_resource("serverGroup", name).await.map_err(store_error)?;
        if let Some(group) = removed {
            group.processes.stop().await;
        }
        Ok(())
    }

    async fn upsert_load_balancer(&self, config: LoadBalancer) -> Result<LoadBalancer> {
        serves(&config.location)?;
        self.check_running().await?;
        app::model::names::ClusterName::parse(&config.name).map_err(|e| Error::Invalid(e.to_string()))?;
        listener_address(&config)?;
        let previous = self.state.lock().await.balancers.remove(&config.name);
        if let Some(previous) = previous {
            previous.balancer.stop().await;
        }
        self.start_balancer(config.clone()).await?;
        let body = serde_json::to_string(&config).expect("load balancers serialize");
        self.store.put_local_resource("loadBalancer", &config.name, &body).await.map_err(store_error)?;
        sync_balancers(&*self.state.lock().await);
        Ok(config)
    }

    async fn delete_load_balancer(&self, location: &Location, name: &str) -> Result<()> {
        serves(location)?;
        self.check_running().await?;
        let removed = self.state.lock().await.balancers.remove(name);
        self.store.delete_local_resource("loadBalancer", name).await.map_err(store_error)?;
        if let Some(running) = removed {
            running.balancer.stop().await;
        }
        Ok(())
    }

    async fn upsert_security_group(&self, security_group: SecurityGroup) -> Result<SecurityGroup> {
        serves(&security_group.location)?;
        self.check_running().await?;
        for rule in &security_group.ingress {
            rule.cidr.parse::<Cidr>().map_err(|e| Error::Invalid(e.to_string()))?;
            if rule.start_port > rule.end_port {
                return Err(Error::Invalid(format!("port range {}-{} is empty", rule.start_port, rule.end_port)));
            }
        }
        let body = serde_json::to_string(&security_group).expect("security groups serialize");
        self.store.put_local_resource("securityGroup", &security_group.name, &body).await.map_err(store_error)?;
        let mut state = self.state.lock().await;
        state.security_groups.insert(security_group.name.clone(), security_group.clone());
        sync_balancers(&state);
        Ok(security_group)
    }

    async fn delete_security_group(&self, location: &Location, name: &str) -> Result<()> {
        serves(location)?;
        self.check_running().await?;
        self.store.delete_local_resource("securityGroup", name).await.map_err(store_error)?;
        let mut state = self.state.lock().await;
        state.security_groups.remove(name);
        sync_balancers(&state);
        Ok(())
    }

    async fn upsert_scaling_policy(&self, location: &Location, server_group: &str, policy: ScalingPolicy) -> Result<ScalingPolicy> {
        serves(location)?;
        self.check_running().await?;
        if let Some(problem) = scaling_problem(std::slice::from_ref(&policy), &[]) {
            return Err(Error::Invalid(problem));
        }
        let mut stored = policy;
        let record = self
            .update_group(server_group, |record| {
                let policies = &mut record.spec.scaling_policies;
                match policies.iter_mut().find(|existing| !stored.policy_name.is_empty() && existing.policy_name == stored.policy_name) {
                    Some(existing) => *existing = stored.clone(),
                    None => policies.push(stored.clone()),
                }
                name_unnamed(policies, |policy| &mut policy.policy_name, policy_prefix);
            })
            .await?;
        if stored.policy_name.is_empty() {
            stored = record.spec.scaling_policies.last().cloned().expect("just added");
        }
        Ok(stored)
    }

    async fn delete_scaling_policy(&self, location: &Location, server_group: &str, policy_name: &str) -> Result<()> {
        serves(location)?;
        self.check_running().await?;
        self.update_group(server_group, |record| record.spec.scaling_policies.retain(|policy| policy.policy_name != policy_name)).await.map(drop)
    }

    async fn set_scheduled_actions(&self, location: &Location, server_group: &str, mut actions: Vec<ScheduledAction>) -> Result<Vec<ScheduledAction>> {
        serves(location)?;
        self.check_running().await?;
        if let Some(problem) = scaling_problem(&[], &actions) {
            return Err(Error::Invalid(problem));
        }
        name_unnamed(&mut actions, |action| &mut action.scheduled_action_name, |_| "schedule");
        let record = self.update_group(server_group, |record| record.spec.scheduled_actions = actions).await?;
        Ok(record.spec.scheduled_actions)
    }

    async fn run_job(&self, spec: JobSpec) -> Result<()> {
        serves(&spec.location)?;
        self.check_running().await?;
        self.jobs.start(&spec.token, &spec.command, &spec.env)
    }

    async fn job_status(&self, location: &Location, token: &str) -> Result<JobStatus> {
        serves(location)?;
        self.check_running().await?;
        Ok(self.jobs.status(token))
    }

    async fn cancel_job(&self, location: &Location, token: &str) -> Result<()> {
        serves(location)?;
        self.check_running().await?;
        self.jobs.cancel(token);
        Ok(())
    }

    async fn load_balancer_traffic(&self) -> Vec<(String, String, super::balancer::GroupTraffic)> {
        let state = self.state.lock().await;
        state
            .balancers
            .iter()
            .flat_map(|(name, running)| running.balancer.traffic().into_iter().map(move |(group, traffic)| (name.clone(), group, traffic)))
            .collect()
    }

    async fn set_traffic_weights(&self, location: &Location, load_balancer: &str, weights: Option<BTreeMap<String, u32>>) -> Result<()> {
        serves(location)?;
        self.check_running().await?;
        let state = self.state.lock().await;
        let running = state.balancers.get(load_balancer).ok_or_else(|| Error::NotFound(format!("load balancer {load_balancer}")))?;
        running.balancer.set_weights(weights);
        Ok(())
    }

    async fn build_log(&self, location: &Location, name: &str) -> Result<Option<String>> {
        serves(location)?;
        self.check_running().await?;
        let artifact = {
            let state = self.state.lock().await;
            let group = state.server_groups.get(name).ok_or_else(|| Error::NotFound(format!("server group {name}")))?;
            group.record.spec.artifact.clone()
        };
        let Artifact::Source { repository, commit, build, .. } = artifact else { return Ok(None) };
        let source = Source { repository, commit, build };
        self.builds.log(&source, 64 * 1024).map_err(|error| Error::Provider(error.to_string()))
    }
}
