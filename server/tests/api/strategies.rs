//! Deployment strategies step by step, deterministically: the engine with the manual clock
//! against a scripted in-memory cloud that records every operation, so each strategy's order
//! of operations (red/black, highlander, rolling red/black, canary, rollback on failure) is
//! asserted exactly, without processes or sleeps. The real local cloud runs the same
//! strategies end to end in `clusters.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use app::model::auth::{Caller, Credential};
use app::model::cluster::{Artifact, Capacity, HealthState, Instance, LoadBalancer, Location, SecurityGroup, ServerGroup};
use app::model::execution::{Execution, StartRequest, Status};
use app::ssr::{ApplicationService, ExecutionService, PipelineService};
use async_trait::async_trait;
use serde_json::{Value, json};
use server::cloud::clouds::Clouds;
use server::cloud::provider::{Error, JobSpec, JobStatus, Provider, Result, ServerGroupSpec, Snapshot};
use server::engine::Engine;
use server::engine::clock::{Clock, ManualClock};
use server::engine::worker::Outcome;
use server::service::applications::Applications;
use server::service::executions::Executions;
use server::service::pipelines::Pipelines;
use server::store::Store;

use crate::helpers::{Db, fresh_database};

/// A test double for the engine's own logic (the real clouds keep their own tests): an
/// in-memory server-group cloud standing in for the `local` account. Every change is logged
/// as a line (`create shop-web-v001 2`, `disable shop-web-v000`, ...); instances are healthy
/// at once, except those of artifact versions listed in `unhealthy`, which never become so.
#[derive(Default)]
struct ScriptedCloud {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    groups: BTreeMap<String, ServerGroup>,
    log: Vec<String>,
    unhealthy: BTreeSet<String>,
    created: i64,
}

impl ScriptedCloud {
    fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut self.state.lock().unwrap().log)
    }

    fn groups(&self) -> Vec<(String, bool, u32)> {
        self.state.lock().unwrap().groups.values().map(|g| (g.name.clone(), g.disabled, g.capacity.desired)).collect()
    }

    fn never_healthy(&self, version: &str) {
        self.state.lock().unwrap().unhealthy.insert(version.to_string());
    }
}

fn instances(name: &str, count: u32, health: HealthState) -> Vec<Instance> {
    (0..count)
        .map(|index| Instance { name: format!("{name}-{index}"), health_state: health, launch_time: 0, address: String::new(), pid: None })
        .collect()
}

impl State {
    fn health(&self, group: &ServerGroup) -> HealthState {
        match &group.artifact {
            Artifact::Command { version, .. } if self.unhealthy.contains(version) => HealthState::Down,
            _ => HealthState::Up,
        }
    }

    fn group(&mut self, name: &str) -> Result<&mut ServerGroup> {
        self.groups.get_mut(name).ok_or_else(|| Error::NotFound(format!("server group {name}")))
    }
}

#[async_trait]
impl Provider for ScriptedCloud {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn observe(&self, _account: &str, _region: &str) -> Result<Snapshot> {
        let state = self.state.lock().unwrap();
        Ok(Snapshot { server_groups: state.groups.values().cloned().collect(), ..Snapshot::default() })
    }

    async fn create_server_group(&self, spec: ServerGroupSpec) -> Result<ServerGroup> {
        let mut state = self.state.lock().unwrap();
        if let Some(existing) = state.groups.get(&spec.name) {
            return Ok(existing.clone());
        }
        state.created += 1;
        let mut group = ServerGroup {
            name: spec.name.clone(),
            location: spec.location,
            capacity: spec.capacity,
            artifact: spec.artifact,
            disabled: false,
            load_balancers: spec.load_balancers,
            security_groups: spec.security_groups,
            instances: Vec::new(),
            created_time: state.created,
            metadata: spec.metadata,
            moniker: None,
            launch: Default::default(),
            scaling_policies: Vec::new(),
            scheduled_actions: Vec::new(),
        };
        group.instances = instances(&group.name, group.capacity.desired, state.health(&group));
        state.log.push(format!("create {} {}", group.name, group.capacity.desired));
        state.groups.insert(group.name.clone(), group.clone());
        Ok(group)
    }

    async fn resize(&self, _location: &Location, name: &str, capacity: Capacity) -> Result<()> {
        let mut state = self.state.lock().unwrap();
        let health = state.health(state.groups.get(name).ok_or_else(|| Error::NotFound(name.into()))?);
        let group = state.group(name)?;
        group.capacity = capacity;
        group.instances = instances(name, capacity.desired, health);
        state.log.push(format!("resize {name} {}", capacity.desired));
        Ok(())
    }

    async fn enable(&self, _location: &Location, name: &str) -> Result<()> {
        let mut state = self.state.lock().unwrap();
        state.group(name)?.disabled = false;
        state.log.push(format!("enable {name}"));
        Ok(())
    }

    async fn disable(&self, _location: &Location, name: &str) -> Result<()> {
        let mut state = self.state.lock().unwrap();
        state.group(name)?.disabled = true;
        state.log.push(format!("disable {name}"));
        Ok(())
    }

    async fn destroy(&self, _location: &Location, name: &str) -> Result<()> {
        let mut state = self.state.lock().unwrap();
        if state.groups.remove(name).is_some() {
            state.log.push(format!("destroy {name}"));
        }
        Ok(())
    }

    async fn upsert_load_balancer(&self, _load_balancer: LoadBalancer) -> Result<LoadBalancer> {
        Err(Error::Invalid("the scripted cloud has no load balancers".into()))
    }

    async fn delete_load_balancer(&self, _location: &Location, _name: &str) -> Result<()> {
        Ok(())
    }

    async fn upsert_security_group(&self, _security_group: SecurityGroup) -> Result<SecurityGroup> {
        Err(Error::Invalid("the scripted cloud has no security groups".into()))
    }

    async fn delete_security_group(&self, _location: &Location, _name: &str) -> Result<()> {
        Ok(())
    }

    async fn run_job(&self, _spec: JobSpec) -> Result<()> {
        Err(Error::Invalid("the scripted cloud runs no jobs".into()))
    }

    async fn job_status(&self, _location: &Location, _token: &str) -> Result<JobStatus> {
        Ok(JobStatus::Unknown)
    }

    async fn cancel_job(&self, _location: &Location, _token: &str) -> Result<()> {
        Ok(())
    }
}

struct Scenario {
    engine: Engine,
    clock: ManualClock,
    cloud: Arc<ScriptedCloud>,
    executions: Executions,
    admin: Caller,
}

async fn scenario(cluster: Value) -> Scenario {
    let store = Store::open(&server::config::DatabaseUrl(fresh_database(Db::Sqlite).await)).await.unwrap();
    let clock = ManualClock::starting_at(1_800_000_000_000);
    let cloud = Arc::new(ScriptedCloud::default());
    let location = Location { cloud_provider: "local".into(), account: "local".into(), region: "local".into() };
    let clouds = Clouds::new(vec![(cloud.clone() as Arc<dyn Provider>, vec![location])]);
    let engine = Engine::new(store.clone(), Arc::new(clock.clone())).with_clouds(clouds);
    let admin = Caller { name: "tester".into(), roles: vec![], admin: true, via: Credential::System };
    // Stages act as the run's user as the store knows them when they start.
    let tester = server::store::users::UserRecord { name: "tester", password_hash: None, roles: &[], admin: true, service_account: false };
    store.insert_user(&tester).await.unwrap();
    let new = app::model::NewApplication { name: "shop".into(), description: String::new(), email: String::new() };
    Applications::new(store.clone()).create(&admin, new).await.unwrap();
    let mut deploy = json!({"cloudProvider": "local", "account": "local", "region": "local", "application": "shop",
        "stack": "web", "freeFormDetails": "", "capacity": {"min": 4, "max": 4, "desired": 4},
        "artifact": {"command": ["/bin/true"], "version": "${parameters.version}"},
        "loadBalancers": [], "securityGroups": [], "waitForHealthyTimeoutSec": 30});
    for (key, value) in cluster.as_object().unwrap() {
        deploy[key] = value.clone();
    }
    let pipeline = json!({"name": "deploy", "parameterConfig": [{"name": "version", "default": "v1"}],
        "stages": [{"refId": "1", "type": "deploy", "name": "Deploy", "clusters": [deploy]}]});
    let pipelines = Pipelines::new(store);
    pipelines.save(&admin, "shop", pipeline).await.unwrap();
    Scenario { executions: Executions::new(engine.clone()), engine, clock, cloud, admin }
}

impl Scenario {
    /// Runs the deploy of `version` to its end, moving the manual clock a second whenever
    /// the engine waits, and returns the run and the operations it made, in order.
    async fn deploy(&self, version: &str) -> (Execution, Vec<String>) {
        self.cloud.take_log();
        let parameters = BTreeMap::from([("version".to_string(), version.to_string())]);
        let started = self.executions.start(&self.admin, "shop", "deploy", StartRequest { parameters, ..Default::default() }).await.unwrap();
        for _ in 0..600 {
            while self.engine.try_execute_one().await.unwrap() != Outcome::Idle {}
            let run = self.executions.get(&self.admin, &started.id).await.unwrap();
            if run.status.is_complete() {
                return (run, self.cloud.take_log());
            }
            self.clock.advance(1_000);
        }
        panic!("the deploy of {version} never ended");
    }
}

fn ops(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|line| line.to_string()).collect()
}

#[tokio::test]
async fn redblack_creates_then_disables_the_old_and_keeps_max_remaining() {
    let s = scenario(json!({"strategy": "redblack", "maxRemainingAsgs": 2})).await;
    let (first, log) = s.deploy("v1").await;
    assert_eq!(first.status, Status::Succeeded);
    assert_eq!(log, ops(&["create shop-web-v000 4"]));
    let (_, log) = s.deploy("v2").await;
    assert_eq!(log, ops(&["create shop-web-v001 4", "disable shop-web-v000"]));
    let (_, log) = s.deploy("v3").await;
    assert_eq!(log, ops(&["create shop-web-v002 4", "disable shop-web-v001", "destroy shop-web-v000"]), "two kept");
    assert_eq!(s.cloud.groups(), [("shop-web-v001".to_string(), true, 4), ("shop-web-v002".to_string(), false, 4)]);
}

#[tokio::test]
async fn redblack_scales_down_the_old_after_its_delay() {
    let s = scenario(json!({"strategy": "redblack", "scaleDown": true, "delayBeforeScaleDownSec": 30})).await;
    s.deploy("v1").await;
    let before = s.clock.now();
    let (_, log) = s.deploy("v2").await;
    assert_eq!(log, ops(&["create shop-web-v001 4", "disable shop-web-v000", "resize shop-web-v000 0"]));
    assert!(s.clock.now() - before >= 30_000, "the scale down waited for its delay");
}

#[tokio::test]
async fn highlander_destroys_every_other_server_group() {
    let s = scenario(json!({"strategy": "highlander"})).await;
    s.deploy("v1").await;
    let (_, log) = s.deploy("v2").await;
    assert_eq!(log, ops(&["create shop-web-v001 4", "destroy shop-web-v000"]));
    assert_eq!(s.cloud.groups(), [("shop-web-v001".to_string(), false, 4)]);
}

#[tokio::test]
async fn rolling_redblack_grows_step_by_step_before_disabling_the_old() {
    let s = scenario(json!({"strategy": "rollingredblack", "targetPercentages": [25, 50, 100]})).await;
    s.deploy("v1").await;
    let (run, log) = s.deploy("v2").await;
    assert_eq!(run.status, Status::Succeeded, "{:?}", run.stages[0].error);
    assert_eq!(
        log,
        ops(&["create shop-web-v001 0", "resize shop-web-v001 1", "resize shop-web-v001 2", "resize shop-web-v001 4", "disable shop-web-v000"])
    );
}

#[tokio::test]
async fn canary_starts_small_beside_the_current_server_group() {
    let s = scenario(json!({"strategy": "canary", "canaryCapacity": 1})).await;
    s.deploy("v1").await;
    let (_, log) = s.deploy("v2").await;
    assert_eq!(log, ops(&["create shop-web-v001 1"]), "the current server group keeps serving");
    // (The first deploy, by the same pipeline, was a canary of one instance too.)
    assert_eq!(s.cloud.groups(), [("shop-web-v000".to_string(), false, 1), ("shop-web-v001".to_string(), false, 1)]);
}

#[tokio::test]
async fn a_deploy_that_never_becomes_healthy_is_rolled_back() {
    let s = scenario(json!({"strategy": "redblack", "rollback": {"onFailure": true}, "waitForHealthyTimeoutSec": 5})).await;
    s.deploy("v1").await;
    s.cloud.never_healthy("v2");
    let (run, log) = s.deploy("v2").await;
    assert_eq!(run.status, Status::Terminal);
    let error = run.stages[0].error.clone().unwrap_or_default();
    assert!(error.contains("did not become healthy within 5 s"), "{error}");
    // What the deploy found enabled is enabled again (it never got as far as disabling it),
    // and what it created goes.
    assert_eq!(log, ops(&["create shop-web-v001 4", "enable shop-web-v000", "destroy shop-web-v001"]));
    assert_eq!(s.cloud.groups(), [("shop-web-v000".to_string(), false, 4)]);
}

/// Spinnaker's `clusterSize` precondition counts the cluster's server groups (in each region)
/// and compares: a gate that holds lets the run go on, one that does not fails it, naming the
/// count.
#[tokio::test]
async fn a_cluster_size_precondition_counts_server_groups() {
    let s = scenario(json!({"strategy": "highlander"})).await;
    s.deploy("v1").await;
    let gate = |comparison: &str, expected: i64| {
        json!({"name": format!("gate{comparison}{expected}"), "stages": [{"refId": "1", "type": "checkPreconditions", "preconditions": [
            {"type": "clusterSize", "context": {"credentials": "local", "cluster": "shop-web", "regions": ["local"],
                "comparison": comparison, "expected": expected}}]}]})
    };
    let pipelines = Pipelines::new(s.engine.store().clone());
    for (comparison, expected, status) in [("==", 1, Status::Succeeded), (">=", 2, Status::Terminal), ("<", 2, Status::Succeeded)] {
        let pipeline = pipelines.save(&s.admin, "shop", gate(comparison, expected)).await.unwrap();
        let started = s.executions.start(&s.admin, "shop", &pipeline.name, StartRequest::default()).await.unwrap();
        while s.engine.try_execute_one().await.unwrap() != Outcome::Idle {}
        let run = s.executions.get(&s.admin, &started.id).await.unwrap();
        assert_eq!(run.status, status, "{comparison} {expected}: {:?}", run.stages[0].error);
        if status == Status::Terminal {
            let error = run.stages[0].error.clone().unwrap_or_default();
            assert!(error.contains("has 1 server groups") && error.contains(">= 2"), "{error}");
        }
    }
    let bad = json!({"name": "bad", "stages": [{"refId": "1", "type": "checkPreconditions", "preconditions": [
        {"type": "clusterSize", "context": {"cluster": "shop-web", "comparison": "about"}}]}]});
    let refused = pipelines.save(&s.admin, "shop", bad).await.unwrap_err();
    assert!(refused.to_string().contains("\"about\""), "{refused}");
}

/// A deploy's `tags` are the server group's (its metadata, beside gennaker's own keys), in the
/// stage's outputs, and a clone copies them.
#[tokio::test]
async fn tags_set_by_a_deploy_stay_with_the_server_group_and_its_clones() {
    let s = scenario(json!({"strategy": "highlander", "tags": {"team": "payments", "tier": "web"}})).await;
    let (run, _) = s.deploy("v1").await;
    assert_eq!(run.stages[0].outputs["tags"], json!({"team": "payments", "tier": "web"}));
    let tags_of = |name: &str| {
        let state = s.cloud.state.lock().unwrap();
        app::model::cluster::user_tags(&state.groups[name].metadata)
    };
    assert_eq!(tags_of("shop-web-v000").get("team").map(String::as_str), Some("payments"));
    let bad = scenario_pipeline_error(&s, json!({"gennaker.clientToken": "forged"})).await;
    assert!(bad.contains("gennaker."), "{bad}");

    let clone = json!({"name": "copy", "stages": [{"refId": "1", "type": "cloneServerGroup", "serverGroupName": "shop-web-v000"}]});
    let pipelines = Pipelines::new(s.engine.store().clone());
    pipelines.save(&s.admin, "shop", clone).await.unwrap();
    let started = s.executions.start(&s.admin, "shop", "copy", StartRequest::default()).await.unwrap();
    for _ in 0..100 {
        while s.engine.try_execute_one().await.unwrap() != Outcome::Idle {}
        if s.executions.get(&s.admin, &started.id).await.unwrap().status.is_complete() {
            break;
        }
        s.clock.advance(1_000);
    }
    let run = s.executions.get(&s.admin, &started.id).await.unwrap();
    assert_eq!(run.status, Status::Succeeded, "{:?}", run.stages[0].error);
    assert_eq!(tags_of("shop-web-v001"), tags_of("shop-web-v000"), "the clone has the source's tags");
}

/// The save error of a deploy pipeline with these `tags`.
async fn scenario_pipeline_error(s: &Scenario, tags: Value) -> String {
    let pipeline = json!({"name": "tagged", "stages": [{"refId": "1", "type": "deploy", "clusters": [{"application": "shop", "stack": "web",
        "capacity": {"min": 1, "max": 1, "desired": 1}, "artifact": {"command": ["/bin/true"]}, "tags": tags}]}]});
    Pipelines::new(s.engine.store().clone()).save(&s.admin, "shop", pipeline).await.unwrap_err().to_string()
}
