//! The automated `canary` strategy (progressive delivery, as Argo Rollouts does it with
//! Kayenta's judge): a cluster deployed with `strategy: canary` and `canaryAnalysis` gets,
//! beside production, a *baseline* (production's artifact, the canary's size) and the *canary*
//! (the new version), and moves traffic to them in steps by weight on the load balancers:
//! `setWeight: w` sends w% to the canary and w% to the baseline (production keeps the rest),
//! `analysis` judges the canary against the baseline as a `kayentaCanary` stage would
//! (intervals, marginal and pass), `pause` waits. Then, by itself: all passed, the canary grows
//! to the cluster's capacity, takes all the traffic and production is disabled (red/black,
//! with the cluster's red/black settings); an analysis failed, traffic goes back to production
//! alone, the canary and baseline are destroyed, and the deploy fails saying why.
//!
//! Until the first `setWeight` the canary and baseline take no traffic (weights are set on the
//! balancers before the canary is created), so a bad canary only ever sees its share.
//! Departure: weights live in the balancers (the local cloud's in memory; on AWS, the
//! listeners' weighted target groups, `cloud::aws::weights`); a restart of gennaker in the
//! middle of a rollout re-applies them at the next step, not before.

use std::collections::BTreeMap;

use app::model::cluster::{Capacity, ServerGroup};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ClusterDeploy, Progress, cluster_location, cluster_name};
use crate::canary::analysis::IntervalResult;
use crate::cloud::provider::ServerGroupSpec;
use crate::engine::server_groups::{CLIENT_TOKEN, created_with, is_healthy, next_name, observe, refresh};
use crate::engine::stages::kayenta_canary::{Advance, Analysis, CanaryStageConfig, KayentaCanaryStage, StageScope};
use crate::engine::tasks::Effects;

/// The default steps: 10% analysed, then 50% analysed.
fn default_steps() -> Vec<RolloutStep> {
    vec![RolloutStep::weight(10), RolloutStep::analyze(), RolloutStep::weight(50), RolloutStep::analyze()]
}

/// A cluster's `canaryAnalysis`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryRollout {
    /// Argo Rollouts' steps (default: 10% analysed, 50% analysed).
    #[serde(default)]
    pub steps: Vec<RolloutStep>,
    /// How each `analysis` step judges: a `kayentaCanary` stage's `canaryConfig` without
    /// scopes (the baseline and the canary are the scopes).
    pub analysis: CanaryStageConfig,
    /// Compare with a baseline (production's artifact at the canary's size, default) or with
    /// production itself.
    #[serde(default = "yes")]
    pub baseline: bool,
}

fn yes() -> bool {
    true
}

/// One step; exactly one of its fields is set.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStep {
    /// Percent of the traffic the canary takes (and the baseline as much again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_weight: Option<u32>,
    /// Judge the canary; fields given here replace the rollout's `analysis` settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<serde_json::Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<Pause>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pause {
    /// `30s`, `5m`, `1h`, or seconds.
    pub duration: String,
}

impl RolloutStep {
    fn weight(percent: u32) -> Self {
        Self { set_weight: Some(percent), ..Self::default() }
    }

    fn analyze() -> Self {
        Self { analysis: Some(serde_json::Map::new()), ..Self::default() }
    }
}

/// Where a rollout stands, kept in the deploy's progress.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutState {
    #[serde(default)]
    pub baseline: Option<String>,
    #[serde(default)]
    pub step: usize,
    #[serde(default)]
    pub step_started: Option<i64>,
    /// Percent the canary takes now.
    #[serde(default)]
    pub weight: u32,
    /// The running analysis step's intervals.
    #[serde(default)]
    pub intervals: Vec<IntervalResult>,
    #[serde(default)]
    pub unreachable_tries: u64,
    /// Every finished analysis step: the weight it ran at and its intervals.
    #[serde(default)]
    pub analyses: Vec<StepAnalysis>,
    #[serde(default)]
    pub promoted: bool,
    /// When traffic went back to production after a failed analysis (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepAnalysis {
    pub step: usize,
    pub weight: u32,
    pub intervals: Vec<IntervalResult>,
}

/// What the deploy does next with this cluster.
pub enum Outcome {
    /// Look again in this many ms.
    Wait(i64),
    /// Promoted: the canary serves everything; red/black clean-up follows.
    Promoted,
    /// Rolled back; the deploy fails with this.
    Failed(String),
}

/// Checks a cluster's `canaryAnalysis` when the pipeline is saved.
pub fn validate(cluster: &ClusterDeploy) -> Result<(), (String, String)> {
    let Some(rollout) = cluster.canary_analysis.as_ref() else { return Ok(()) };
    let max_weight = if rollout.baseline { 50 } else { 100 };
    for (index, step) in steps(rollout).iter().enumerate() {
        let set = [step.set_weight.is_some(), step.analysis.is_some(), step.pause.is_some()].iter().filter(|set| **set).count();
        if set != 1 {
            return Err((format!("canaryAnalysis.steps[{index}]"), "each step is one of setWeight, analysis or pause".into()));
        }
        if step.set_weight.is_some_and(|weight| weight > max_weight) {
            return Err((format!("canaryAnalysis.steps[{index}].setWeight"), format!("at most {max_weight} (the baseline takes as much again)")));
        }
        if let Some(pause) = &step.pause
            && !pause.duration.contains("${")
        {
            seconds(&pause.duration).ok_or_else(|| (format!("canaryAnalysis.steps[{index}].pause.duration"), format!("{:?} is not a duration (30s, 5m, 1h)", pause.duration)))?;
        }
        if step.analysis.is_some() {
            analysis_stage(rollout, step, "control", "experiment").check(false).map_err(|(field, message)| (format!("canaryAnalysis.{}", field.trim_start_matches("canaryConfig.")), message))?;
        }
    }
    Ok(())
}

fn steps(rollout: &CanaryRollout) -> Vec<RolloutStep> {
    if rollout.steps.is_empty() { default_steps() } else { rollout.steps.clone() }
}

/// Seconds in `text` (`30s`, `5m`, `1h`, or a number of seconds), as the canary stage reads
/// its durations.
fn seconds(text: &str) -> Option<i64> {
    crate::engine::stages::kayenta_canary::duration(Some(text), 1.0, "duration").ok().flatten()
}

/// The `kayentaCanary` stage an analysis step amounts to.
fn analysis_stage(rollout: &CanaryRollout, step: &RolloutStep, control: &str, experiment: &str) -> KayentaCanaryStage {
    let mut config = serde_json::to_value(&rollout.analysis).unwrap_or_default();
    if let (Value::Object(config), Some(overrides)) = (&mut config, &step.analysis) {
        config.extend(overrides.clone());
    }
    let mut canary_config: CanaryStageConfig = crate::engine::stages::parse(&config).unwrap_or_else(|_| rollout.analysis.clone());
    canary_config.scopes = vec![StageScope {
        scope_name: "default".into(),
        control_scope: control.into(),
        control_location: String::new(),
        experiment_scope: experiment.into(),
        experiment_location: String::new(),
        start_time_iso: None,
        end_time_iso: None,
        step: rollout.analysis.scopes.first().and_then(|scope| scope.step.clone()),
        extended_scope_params: BTreeMap::new(),
        extra: Default::default(),
    }];
    KayentaCanaryStage { analysis_type: None, canary_config, extra: Default::default() }
}

/// Weights for the cluster's load balancers: production's groups share what the canary and
/// the baseline do not take (weights are relative, so each production group gets
/// `100 - 2w` and the canary and baseline `w` times their number).
fn weights(production: &[String], baseline: Option<&str>, canary: &str, weight: u32) -> BTreeMap<String, u32> {
    let groups = u32::try_from(production.len().max(1)).unwrap_or(1);
    let taken = if baseline.is_some() { 2 * weight } else { weight };
    let mut weights: BTreeMap<String, u32> = production.iter().map(|group| (group.clone(), 100u32.saturating_sub(taken))).collect();
    weights.insert(canary.to_string(), weight * groups);
    if let Some(baseline) = baseline {
        weights.insert(baseline.to_string(), weight * groups);
    }
    weights
}

async fn set_weights(effects: &Effects, cluster: &ClusterDeploy, weights: Option<BTreeMap<String, u32>>) -> Result<(), String> {
    let location = cluster_location(cluster);
    let provider = effects.clouds.provider(&cluster.cloud_provider).map_err(|error| error.to_string())?;
    for balancer in &cluster.load_balancers {
        provider.set_traffic_weights(&location, balancer, weights.clone()).await.map_err(|error| format!("traffic weights on {balancer}: {error}"))?;
    }
    Ok(())
}

/// Before the canary is created: production keeps all the traffic.
pub async fn hold_traffic(effects: &Effects, cluster: &ClusterDeploy, production: &[String]) -> Result<(), String> {
    if cluster.canary_analysis.is_none() || production.is_empty() {
        return Ok(());
    }
    set_weights(effects, cluster, Some(production.iter().map(|group| (group.clone(), 100)).collect())).await
}

/// After promotion and clean-up: plain rotation again.
pub async fn release_traffic(effects: &Effects, cluster: &ClusterDeploy) -> Result<(), String> {
    set_weights(effects, cluster, None).await
}

/// Moves the rollout of one cluster on as far as it can now.
pub async fn advance(
    execution: &app::model::execution::Execution,
    stage_id: &str,
    index: usize,
    cluster: &ClusterDeploy,
    progress: &mut Progress,
    now: i64,
    effects: &Effects,
) -> Result<Outcome, String> {
    let Some(rollout) = cluster.canary_analysis.as_ref() else { return Ok(Outcome::Promoted) };
    let state = progress.rollout.get_or_insert_with(RolloutState::default);
    if state.promoted {
        return Ok(Outcome::Promoted);
    }
    let location = cluster_location(cluster);
    let (provider, snapshot) = observe(effects, &location).await?;
    let production: Vec<String> = progress.previously_enabled.clone();
    let canary = progress.server_group.clone();
    if production.is_empty() {
        // Nothing serves yet, so there is nothing to compare with: the canary is the release.
        let outcome = promote(effects, cluster, &canary, None, &production, &provider, &snapshot).await?;
        state.promoted = matches!(outcome, Outcome::Promoted);
        return Ok(outcome);
    }

    // The baseline: production's artifact at the canary's size.
    if rollout.baseline && state.baseline.is_none() {
        let source = production.iter().find_map(|name| snapshot.server_groups.iter().find(|group| &group.name == name)).ok_or("production's server group disappeared")?;
        let token = format!("{}/{stage_id}/{index}/baseline", execution.id);
        let name = match created_with(&snapshot, &token) {
            Some(existing) => existing.name.clone(),
            None => {
                let cluster_name = cluster_name(cluster)?;
                let detail = if cluster_name.detail.is_empty() { "baseline".to_string() } else { format!("{}-baseline", cluster_name.detail) };
                let baseline_cluster = app::model::names::ClusterName::new(&cluster_name.application, &cluster_name.stack, &detail).map_err(|error| error.to_string())?;
                let size = cluster.canary_capacity.unwrap_or(1);
                let spec = ServerGroupSpec {
                    name: next_name(&snapshot, &baseline_cluster)?,
                    location: location.clone(),
                    capacity: Capacity { min: size, max: size, desired: size },
                    artifact: source.artifact.clone(),
                    load_balancers: cluster.load_balancers.clone(),
                    security_groups: cluster.security_groups.clone(),
                    metadata: [(CLIENT_TOKEN.to_string(), token)].into(),
                    launch: source.launch.clone(),
                    scaling_policies: Vec::new(),
                    scheduled_actions: Vec::new(),
                };
                provider.create_server_group(spec).await.map_err(|error| format!("cannot create the baseline: {error}"))?.name
            }
        };
        refresh(effects, &location).await;
        state.baseline = Some(name);
    }
    let baseline = state.baseline.clone();
    if let Some(baseline) = &baseline {
        let group = snapshot.server_groups.iter().find(|group| &group.name == baseline);
        if !group.is_some_and(|group| is_healthy(group, cluster.canary_capacity.unwrap_or(1))) {
            return Ok(Outcome::Wait(crate::engine::server_groups::CLOUD_POLL_MS));
        }
    }

    let steps = steps(rollout);
    while state.step < steps.len() {
        let step = &steps[state.step];
        let step_started = *state.step_started.get_or_insert(now);
        if let Some(weight) = step.set_weight {
            set_weights(effects, cluster, Some(weights(&production, baseline.as_deref(), &canary, weight))).await?;
            state.weight = weight;
        } else if let Some(pause) = &step.pause {
            let wait_ms = seconds(&pause.duration).unwrap_or(0) * 1000 - (now - step_started);
            if wait_ms > 0 {
                return Ok(Outcome::Wait(wait_ms.min(60_000)));
            }
        } else {
            let control = baseline.clone().unwrap_or_else(|| production[0].clone());
            let judged = analysis_stage(rollout, step, &control, &canary);
            let analysis = Analysis { stage: &judged, execution, effects };
            match analysis.advance(step_started / 1000, now / 1000, &mut state.intervals, state.unreachable_tries).await {
                Advance::Wait { retry_after_ms, .. } => return Ok(Outcome::Wait(retry_after_ms)),
                Advance::Unreachable { tries, .. } => {
                    state.unreachable_tries = tries;
                    return Ok(Outcome::Wait(5_000));
                }
                Advance::Broken(message) => return roll_back(effects, cluster, state, &production, &canary, now, format!("canary analysis could not run: {message}")).await,
                Advance::Done { verdict } => {
                    let intervals = std::mem::take(&mut state.intervals);
                    state.analyses.push(StepAnalysis { step: state.step, weight: state.weight, intervals });
                    state.unreachable_tries = 0;
                    if let Err(message) = verdict {
                        return roll_back(effects, cluster, state, &production, &canary, now, format!("canary analysis at {}% failed: {message}", state.weight)).await;
                    }
                }
            }
        }
        state.step += 1;
        state.step_started = Some(now);
    }
    let outcome = promote(effects, cluster, &canary, baseline.as_deref(), &production, &provider, &snapshot).await?;
    state.promoted = matches!(outcome, Outcome::Promoted);
    Ok(outcome)
}

/// The canary at the cluster's size takes all the traffic; production and the baseline leave.
async fn promote(
    effects: &Effects,
    cluster: &ClusterDeploy,
    canary: &str,
    baseline: Option<&str>,
    production: &[String],
    provider: &std::sync::Arc<dyn crate::cloud::provider::Provider>,
    snapshot: &crate::cloud::provider::Snapshot,
) -> Result<Outcome, String> {
    let location = cluster_location(cluster);
    let group: &ServerGroup = snapshot.server_groups.iter().find(|group| group.name == canary).ok_or_else(|| format!("the canary {canary} disappeared"))?;
    if group.capacity != cluster.capacity {
        provider.resize(&location, canary, cluster.capacity).await.map_err(|error| format!("grow {canary}: {error}"))?;
        refresh(effects, &location).await;
        return Ok(Outcome::Wait(crate::engine::server_groups::CLOUD_POLL_MS));
    }
    if !is_healthy(group, cluster.capacity.desired) {
        return Ok(Outcome::Wait(crate::engine::server_groups::CLOUD_POLL_MS));
    }
    if !production.is_empty() {
        set_weights(effects, cluster, Some([(canary.to_string(), 100)].into())).await?;
    }
    if let Some(baseline) = baseline
        && snapshot.server_groups.iter().any(|group| group.name == baseline)
    {
        provider.disable(&location, baseline).await.map_err(|error| format!("disable {baseline}: {error}"))?;
        provider.destroy(&location, baseline).await.map_err(|error| format!("destroy {baseline}: {error}"))?;
    }
    // Red/black clean-up (disabling production) follows; weights end with it.
    refresh(effects, &location).await;
    Ok(Outcome::Promoted)
}

/// Traffic back to production alone, then the canary and the baseline go.
async fn roll_back(effects: &Effects, cluster: &ClusterDeploy, state: &mut RolloutState, production: &[String], canary: &str, now: i64, reason: String) -> Result<Outcome, String> {
    let location = cluster_location(cluster);
    set_weights(effects, cluster, Some(production.iter().map(|group| (group.clone(), 100)).collect())).await?;
    state.rolled_back_at = Some(now);
    let provider = effects.clouds.provider(&cluster.cloud_provider).map_err(|error| error.to_string())?;
    let mut done = vec![format!("traffic back to {}", production.join(", "))];
    for group in [Some(canary.to_string()), state.baseline.clone()].into_iter().flatten() {
        match provider.destroy(&location, &group).await {
            Ok(()) => done.push(format!("destroyed {group}")),
            Err(error) => done.push(format!("could not destroy {group}: {error}")),
        }
    }
    set_weights(effects, cluster, None).await?;
    refresh(effects, &location).await;
    Ok(Outcome::Failed(format!("{reason}; rolled back: {}", done.join(", "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_keeps_what_the_canary_and_baseline_do_not_take() {
        let two = weights(&["web-v001".into(), "web-v002".into()], Some("web-baseline-v000"), "web-v003", 10);
        assert_eq!(two, BTreeMap::from([("web-v001".into(), 80), ("web-v002".into(), 80), ("web-v003".into(), 20), ("web-baseline-v000".into(), 20)]));
        let total: u32 = two.values().sum();
        assert_eq!(two["web-v003"] * 100 / total, 10);
        let without = weights(&["web-v001".into()], None, "web-v002", 25);
        assert_eq!(without, BTreeMap::from([("web-v001".into(), 75), ("web-v002".into(), 25)]));
    }

    #[test]
    fn steps_are_read_as_argo_writes_them() {
        let rollout: CanaryRollout = serde_json::from_value(serde_json::json!({
            "steps": [{"setWeight": 20}, {"pause": {"duration": "30s"}}, {"analysis": {"lifetimeDuration": "PT1M"}}],
            "analysis": {"canaryConfigId": "c", "lifetimeDuration": "PT5M"}
        }))
        .unwrap();
        assert_eq!(steps(&rollout)[0].set_weight, Some(20));
        assert_eq!(seconds(&rollout.steps[1].pause.as_ref().unwrap().duration), Some(30));
        let judged = analysis_stage(&rollout, &rollout.steps[2], "b", "c");
        assert_eq!(judged.canary_config.lifetime_duration.as_deref(), Some("PT1M"));
        assert_eq!(judged.canary_config.scopes[0].experiment_scope, "c");
        let defaults: CanaryRollout = serde_json::from_value(serde_json::json!({"analysis": {"canaryConfigId": "c", "lifetimeDuration": "PT1M"}})).unwrap();
        assert_eq!(steps(&defaults).len(), 4);
        assert!(defaults.baseline);
    }

    #[test]
    fn a_rollout_is_refused_where_traffic_cannot_be_weighed() {
        use crate::engine::stages::StageType;
        let cluster = |provider: &str| serde_json::json!({"clusters": [{"cloudProvider": provider, "account": "prod", "region": "us-east-1", "application": "shop", "stack": "web",
            "capacity": {"min": 1, "max": 1, "desired": 1}, "strategy": "canary", "loadBalancers": ["shop-web"],
            "canaryAnalysis": {"analysis": {"canaryConfigId": "c", "lifetimeDuration": "PT1M"}}}]});
        let (field, message) = super::super::Deploy.validate(&cluster("kubernetes")).unwrap_err();
        assert_eq!(field, "clusters[0].canaryAnalysis");
        assert!(message.contains("local and aws clouds only") && message.contains("kubernetes cannot weigh traffic"), "{message}");
        assert!(super::super::Deploy.validate(&cluster("local")).is_ok());
        assert!(super::super::Deploy.validate(&cluster("aws")).is_ok(), "by weighted target groups");
    }
}
