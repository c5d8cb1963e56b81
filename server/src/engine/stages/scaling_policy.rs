//! The scaling stages and tasks, in the shapes Spinnaker's Deck sends them:
//! - `upsertScalingPolicy`: `serverGroupName`, `credentials`, `region`, `cloudProvider`, and
//!   either `targetTrackingConfiguration` (+ `estimatedInstanceWarmup`) or a step policy
//!   (`adjustmentType`, `step: {stepAdjustments, estimatedInstanceWarmup}`, `alarm: {...}`);
//!   `policyName` replaces that policy. A whole `policy` in the server group's
//!   `scalingPolicies` shape is taken too. Deck's `simple` policies are refused by name.
//! - `deleteScalingPolicy`: `serverGroupName`, `policyName`, `credentials`, `region`.
//! - `upsertAsgScheduledActions`: `asgs: [{asgName, region}]`, `scheduledActions: [...]`,
//!   `credentials`: the actions become the groups' whole schedule (Deck's editor sends all).
//!
//! Each checks the account (WRITE) and the server group's application like every stage; the
//! provider refuses what its cloud cannot run (the local cloud measures request counts only).

use app::model::pipeline::Extra;
use app::model::scaling::{AdjustmentType, Alarm, PolicyType, ScalingPolicy, ScheduledAction, StepAdjustment, TargetTracking};
use app::model::stage_types::{Field, Input, StageTypeInfo};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{StageType, Step, Task, config_or_fail, failed, succeeded};
use crate::engine::stage_forms as F;
use crate::engine::targets::{Regions, application_of};

/// Deck's `step` section of a step policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepSection {
    #[serde(default)]
    pub step_adjustments: Vec<StepAdjustment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_instance_warmup: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsertScalingPolicyStage {
    #[serde(flatten)]
    pub regions: Regions,
    pub server_group_name: String,
    /// Not Deck's `name`: every stage's `name` is its title.
    #[serde(default)]
    pub policy_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_tracking_configuration: Option<TargetTracking>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjustment_type: Option<AdjustmentType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<StepSection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm: Option<Alarm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_instance_warmup: Option<u32>,
    /// A whole policy, as a server group's `scalingPolicies` list it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<ScalingPolicy>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl UpsertScalingPolicyStage {
    /// The policy the stage describes, or what is wrong with it (field, message).
    pub fn policy(&self) -> Result<ScalingPolicy, super::Fault> {
        if self.extra.contains_key("simple") {
            return Err(("simple".into(), "simple scaling policies are not supported: use a step policy with one step (adjustmentType, step.stepAdjustments, alarm)".into()));
        }
        let mut policy = match (&self.policy, &self.target_tracking_configuration, &self.step) {
            (Some(policy), _, _) => policy.clone(),
            (None, Some(tracking), _) => ScalingPolicy {
                policy_name: String::new(),
                policy_type: PolicyType::TargetTrackingScaling,
                adjustment_type: None,
                step_adjustments: Vec::new(),
                alarms: Vec::new(),
                target_tracking_configuration: Some(tracking.clone()),
                estimated_instance_warmup: self.estimated_instance_warmup,
            },
            (None, None, Some(step)) => ScalingPolicy {
                policy_name: String::new(),
                policy_type: PolicyType::StepScaling,
                adjustment_type: self.adjustment_type,
                step_adjustments: step.step_adjustments.clone(),
                alarms: self.alarm.clone().into_iter().collect(),
                target_tracking_configuration: None,
                estimated_instance_warmup: step.estimated_instance_warmup.or(self.estimated_instance_warmup),
            },
            (None, None, None) => return Err(("targetTrackingConfiguration".into(), "name a targetTrackingConfiguration, a step policy (adjustmentType, step, alarm) or a policy".into())),
        };
        if !self.policy_name.is_empty() {
            policy.policy_name.clone_from(&self.policy_name);
        }
        match policy.problems().into_iter().next() {
            Some(problem) => Err(("policy".into(), problem)),
            None => Ok(policy),
        }
    }
}

fn single_location(regions: &Regions) -> Result<app::model::cluster::Location, String> {
    match regions.locations().as_slice() {
        [one] => Ok(one.clone()),
        _ => Err("name one region (region or regions: [one])".into()),
    }
}

pub struct UpsertScalingPolicy;

#[async_trait]
impl StageType for UpsertScalingPolicy {
    fn type_name(&self) -> &'static str {
        "upsertScalingPolicy"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        let fields = vec![
            Field::new("serverGroupName", "Server group", Input::Text, "e.g. shop-web-v002."),
            Field::new("credentials", "Account", Input::Text, "The account."),
            Field::new("region", "Region", Input::Text, "The region."),
            Field::new("policyName", "Policy name", Input::Text, "Replaces this policy; empty: a new one."),
        ];
        F::info(
            "upsertScalingPolicy",
            "Upsert Scaling Policy",
            "Creates or replaces a target tracking or step scaling policy of a server group.",
            fields,
            json!({"cloudProvider": "local", "credentials": "local", "region": "local", "serverGroupName": format!("{application}-v000"),
                "targetTrackingConfiguration": {"targetValue": 600, "predefinedMetricSpecification": {"predefinedMetricType": "ALBRequestCountPerTarget"}}}),
        )
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["upsertScalingPolicy"]
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        super::parse::<UpsertScalingPolicyStage>(config)?.policy().map(drop)
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<UpsertScalingPolicyStage>(config).map(|stage| vec![stage.regions.credentials]).unwrap_or_default()
    }

    fn applications_acted_on(&self, config: &Value) -> Vec<String> {
        super::parse::<UpsertScalingPolicyStage>(config).map(|stage| vec![application_of(&stage.server_group_name)]).unwrap_or_default()
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: UpsertScalingPolicyStage = config_or_fail!(task.stage);
        let outcome = async {
            let policy = config.policy().map_err(|(field, message)| format!("{field}: {message}"))?;
            let location = single_location(&config.regions)?;
            let (provider, _) = crate::engine::server_groups::observe(task.effects, &location).await?;
            let group = &config.server_group_name;
            let stored = provider.upsert_scaling_policy(&location, group, policy).await.map_err(|e| format!("scaling policy of {group}: {e}"))?;
            crate::engine::server_groups::refresh(task.effects, &location).await;
            Ok::<_, String>(stored)
        };
        match outcome.await {
            Ok(stored) => succeeded([("policyName".to_string(), Value::String(stored.policy_name))].into_iter().collect()),
            Err(error) => failed(error),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteScalingPolicyStage {
    #[serde(flatten)]
    pub regions: Regions,
    pub server_group_name: String,
    pub policy_name: String,
    #[serde(flatten)]
    pub extra: Extra,
}

pub struct DeleteScalingPolicy;

#[async_trait]
impl StageType for DeleteScalingPolicy {
    fn type_name(&self) -> &'static str {
        "deleteScalingPolicy"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        let fields = vec![
            Field::new("serverGroupName", "Server group", Input::Text, "e.g. shop-web-v002."),
            Field::new("policyName", "Policy name", Input::Text, "The policy to delete."),
            Field::new("credentials", "Account", Input::Text, "The account."),
            Field::new("region", "Region", Input::Text, "The region."),
        ];
        F::info("deleteScalingPolicy", "Delete Scaling Policy", "Deletes a scaling policy (and its alarm) of a server group.", fields,
            json!({"cloudProvider": "local", "credentials": "local", "region": "local", "serverGroupName": format!("{application}-v000"), "policyName": "target-tracking-1"}))
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["deleteScalingPolicy"]
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        let stage: DeleteScalingPolicyStage = super::parse(config)?;
        if stage.policy_name.trim().is_empty() {
            return Err(("policyName".into(), "name the policy to delete".into()));
        }
        Ok(())
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<DeleteScalingPolicyStage>(config).map(|stage| vec![stage.regions.credentials]).unwrap_or_default()
    }

    fn applications_acted_on(&self, config: &Value) -> Vec<String> {
        super::parse::<DeleteScalingPolicyStage>(config).map(|stage| vec![application_of(&stage.server_group_name)]).unwrap_or_default()
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: DeleteScalingPolicyStage = config_or_fail!(task.stage);
        let outcome = async {
            let location = single_location(&config.regions)?;
            let (provider, _) = crate::engine::server_groups::observe(task.effects, &location).await?;
            let group = &config.server_group_name;
            provider.delete_scaling_policy(&location, group, &config.policy_name).await.map_err(|e| format!("scaling policy {} of {group}: {e}", config.policy_name))?;
            crate::engine::server_groups::refresh(task.effects, &location).await;
            Ok::<_, String>(())
        };
        match outcome.await {
            Ok(()) => succeeded(Default::default()),
            Err(error) => failed(error),
        }
    }
}

/// One server group of `upsertAsgScheduledActions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Asg {
    #[serde(alias = "serverGroupName")]
    pub asg_name: String,
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsertScheduledActionsStage {
    #[serde(default = "crate::engine::targets::local")]
    pub cloud_provider: String,
    #[serde(default = "crate::engine::targets::local", alias = "account")]
    pub credentials: String,
    pub asgs: Vec<Asg>,
    #[serde(default)]
    pub scheduled_actions: Vec<ScheduledAction>,
    #[serde(flatten)]
    pub extra: Extra,
}

pub struct UpsertScheduledActions;

#[async_trait]
impl StageType for UpsertScheduledActions {
    fn type_name(&self) -> &'static str {
        "upsertAsgScheduledActions"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        let fields = vec![Field::new("credentials", "Account", Input::Text, "The account.")];
        F::info(
            "upsertAsgScheduledActions",
            "Upsert Scheduled Actions",
            "Sets the scheduled capacity changes of server groups (the list replaces theirs).",
            fields,
            json!({"cloudProvider": "local", "credentials": "local", "asgs": [{"asgName": format!("{application}-v000"), "region": "local"}],
                "scheduledActions": [{"recurrence": "0 9 * * 1-5", "minSize": 1, "maxSize": 4, "desiredCapacity": 2}]}),
        )
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["upsertAsgScheduledActions"]
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        let stage: UpsertScheduledActionsStage = super::parse(config)?;
        if stage.asgs.is_empty() {
            return Err(("asgs".into(), "name at least one server group: [{asgName, region}]".into()));
        }
        for (index, action) in stage.scheduled_actions.iter().enumerate() {
            if let Some(problem) = action.problems().into_iter().next() {
                return Err((format!("scheduledActions[{index}]"), problem));
            }
        }
        Ok(())
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<UpsertScheduledActionsStage>(config).map(|stage| vec![stage.credentials]).unwrap_or_default()
    }

    fn applications_acted_on(&self, config: &Value) -> Vec<String> {
        super::parse::<UpsertScheduledActionsStage>(config).map(|stage| stage.asgs.iter().map(|asg| application_of(&asg.asg_name)).collect()).unwrap_or_default()
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: UpsertScheduledActionsStage = config_or_fail!(task.stage);
        let outcome = async {
            let mut names = Vec::new();
            for asg in &config.asgs {
                let location = crate::engine::server_groups::location(&config.cloud_provider, &config.credentials, &asg.region);
                let (provider, _) = crate::engine::server_groups::observe(task.effects, &location).await?;
                let stored = provider
                    .set_scheduled_actions(&location, &asg.asg_name, config.scheduled_actions.clone())
                    .await
                    .map_err(|e| format!("scheduled actions of {}: {e}", asg.asg_name))?;
                names.extend(stored.into_iter().map(|action| action.scheduled_action_name));
                crate::engine::server_groups::refresh(task.effects, &location).await;
            }
            Ok::<_, String>(names)
        };
        match outcome.await {
            Ok(names) => succeeded([("scheduledActionNames".to_string(), json!(names))].into_iter().collect()),
            Err(error) => failed(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decks_step_policy_becomes_a_policy_and_simple_is_refused_by_name() {
        let stage: UpsertScalingPolicyStage = serde_json::from_value(json!({
            "type": "upsertScalingPolicy", "cloudProvider": "aws", "credentials": "prod", "region": "us-east-1", "serverGroupName": "shop-web-v002",
            "adjustmentType": "ChangeInCapacity",
            "step": {"stepAdjustments": [{"metricIntervalLowerBound": 0, "scalingAdjustment": 1}], "estimatedInstanceWarmup": 120},
            "alarm": {"name": "ignored", "namespace": "AWS/EC2", "metricName": "CPUUtilization", "comparisonOperator": "GreaterThanThreshold", "threshold": 70, "period": 60, "evaluationPeriods": 2, "statistic": "Average", "actionsEnabled": true}
        }))
        .unwrap();
        let policy = stage.policy().unwrap();
        assert_eq!(policy.policy_type, PolicyType::StepScaling);
        assert_eq!(policy.estimated_instance_warmup, Some(120));
        assert_eq!(policy.alarms[0].metric_name, "CPUUtilization");
        let simple: UpsertScalingPolicyStage =
            serde_json::from_value(json!({"serverGroupName": "shop-web-v002", "simple": {"scalingAdjustment": 1, "cooldown": 300}})).unwrap();
        assert_eq!(simple.policy().unwrap_err().0, "simple");
    }
}
