//! Scaling policies and scheduled actions of Auto Scaling groups: made with the server group,
//! changed and deleted by the scaling stages, read by the caching agent. A step policy's alarm
//! is a CloudWatch alarm named `<group>-<policy>` whose action is the policy (as Spinnaker
//! makes them); target tracking policies get their alarms from AWS itself.

use std::collections::HashMap;

use app::model::scaling::{
    AdjustmentType, Alarm, Comparison, MetricDimension, PolicyType, PredefinedMetric, ScalingPolicy, ScheduledAction, StepAdjustment, TargetTracking,
};
use aws_sdk_autoscaling::types as asg;

use super::cloudwatch::{Dimension, MetricAlarm};
use super::{Clients, aws_error};
use crate::cloud::provider::{Error, Result};

/// The dimension that points an alarm at its server group.
const GROUP_DIMENSION: &str = "AutoScalingGroupName";

/// By server group name.
pub type Policies = HashMap<String, Vec<ScalingPolicy>>;
pub type Actions = HashMap<String, Vec<ScheduledAction>>;

/// A step policy's alarm: named as the policy (which starts with its group's name when
/// gennaker named it), else `<group>-<policy>`, so it is unique in the region.
fn alarm_name(group: &str, policy: &str) -> String {
    if policy.starts_with(&format!("{group}-")) { policy.to_string() } else { format!("{group}-{policy}") }
}

/// The name of a new policy of `group` (Clouddriver's names carry the group's too): Auto
/// Scaling keys policies by group and name, so a copy on the next group needs no new one, but
/// the name says which group's it is.
pub fn policy_prefix(group: &str, policy_type: PolicyType) -> String {
    match policy_type {
        PolicyType::TargetTrackingScaling => format!("{group}-target-tracking"),
        PolicyType::StepScaling => format!("{group}-step"),
    }
}

/// A name not taken yet among `taken`: `<prefix>-1`, `<prefix>-2`, ...
pub fn fresh_name(prefix: &str, taken: &[String]) -> String {
    (1..).map(|n| format!("{prefix}-{n}")).find(|name| !taken.contains(name)).expect("some number is free")
}

fn comparison_name(comparison: Comparison) -> &'static str {
    match comparison {
        Comparison::GreaterThanOrEqualToThreshold => "GreaterThanOrEqualToThreshold",
        Comparison::GreaterThanThreshold => "GreaterThanThreshold",
        Comparison::LessThanThreshold => "LessThanThreshold",
        Comparison::LessThanOrEqualToThreshold => "LessThanOrEqualToThreshold",
    }
}

fn adjustment_name(adjustment: AdjustmentType) -> &'static str {
    match adjustment {
        AdjustmentType::ChangeInCapacity => "ChangeInCapacity",
        AdjustmentType::ExactCapacity => "ExactCapacity",
        AdjustmentType::PercentChangeInCapacity => "PercentChangeInCapacity",
    }
}

/// The CloudWatch alarm of a step policy of `group`: its dimensions as given, the group's own
/// in place of any `AutoScalingGroupName` (so a copied policy watches the new group).
pub fn metric_alarm(group: &str, policy_name: &str, alarm: &Alarm, policy_arn: &str) -> MetricAlarm {
    let mut dimensions: Vec<Dimension> = alarm
        .dimensions
        .iter()
        .map(|d| Dimension { name: d.name.clone(), value: if d.name == GROUP_DIMENSION { group.to_string() } else { d.value.clone() } })
        .collect();
    if dimensions.is_empty() {
        dimensions.push(Dimension { name: GROUP_DIMENSION.into(), value: group.into() });
    }
    MetricAlarm {
        alarm_name: alarm_name(group, policy_name),
        metric_name: alarm.metric_name.clone(),
        namespace: alarm.namespace.clone(),
        statistic: alarm.statistic.clone(),
        comparison_operator: comparison_name(alarm.comparison_operator).into(),
        threshold: alarm.threshold,
        period: alarm.period,
        evaluation_periods: alarm.evaluation_periods,
        dimensions,
        alarm_actions: vec![policy_arn.to_string()],
    }
}

/// An alarm as CloudWatch has it, in gennaker's shape (an unknown comparison reads as `>=`).
pub fn alarm_of(found: &MetricAlarm) -> Alarm {
    let comparison = serde_json::from_value(serde_json::Value::String(found.comparison_operator.clone())).unwrap_or(Comparison::GreaterThanOrEqualToThreshold);
    Alarm {
        alarm_name: found.alarm_name.clone(),
        metric_name: found.metric_name.clone(),
        namespace: found.namespace.clone(),
        statistic: found.statistic.clone(),
        comparison_operator: comparison,
        threshold: found.threshold,
        period: found.period,
        evaluation_periods: found.evaluation_periods,
        dimensions: found.dimensions.iter().map(|d| MetricDimension { name: d.name.clone(), value: d.value.clone() }).collect(),
    }
}

/// The alarms a step policy has: those Auto Scaling lists with it, else the one gennaker named
/// for it (moto lists none; AWS lists those whose action is the policy).
fn alarm_names_of(group: &str, policy: &asg::ScalingPolicy) -> Vec<String> {
    let listed: Vec<String> = policy.alarms().iter().filter_map(|alarm| alarm.alarm_name().map(str::to_string)).collect();
    match (listed.is_empty(), policy.policy_name()) {
        (true, Some(name)) if policy.policy_type() == Some("StepScaling") => vec![alarm_name(group, name)],
        _ => listed,
    }
}

/// A policy as Auto Scaling describes it (its alarm's details from `alarms`, by name).
pub fn policy_of(found: &asg::ScalingPolicy, alarms: &HashMap<String, MetricAlarm>) -> Option<ScalingPolicy> {
    let policy_type = match found.policy_type()? {
        "TargetTrackingScaling" => PolicyType::TargetTrackingScaling,
        "StepScaling" => PolicyType::StepScaling,
        _ => return None,
    };
    let tracking = found.target_tracking_configuration().map(|config| TargetTracking {
        target_value: config.target_value().unwrap_or_default(),
        predefined_metric_specification: PredefinedMetric {
            predefined_metric_type: config.predefined_metric_specification().map(|spec| spec.predefined_metric_type().map(|kind| kind.as_str().to_string()).unwrap_or_default()).unwrap_or_default(),
            resource_label: config.predefined_metric_specification().and_then(|spec| spec.resource_label()).map(str::to_string),
        },
        disable_scale_in: config.disable_scale_in().unwrap_or(false),
    });
    Some(ScalingPolicy {
        policy_name: found.policy_name()?.to_string(),
        policy_type,
        adjustment_type: found.adjustment_type().and_then(|kind| serde_json::from_value(serde_json::Value::String(kind.to_string())).ok()),
        step_adjustments: found
            .step_adjustments()
            .iter()
            .map(|step| StepAdjustment {
                metric_interval_lower_bound: step.metric_interval_lower_bound(),
                metric_interval_upper_bound: step.metric_interval_upper_bound(),
                scaling_adjustment: step.scaling_adjustment().unwrap_or_default(),
            })
            .collect(),
        alarms: if policy_type == PolicyType::StepScaling {
            alarm_names_of(found.auto_scaling_group_name().unwrap_or_default(), found).iter().filter_map(|name| alarms.get(name)).map(alarm_of).collect()
        } else {
            Vec::new()
        },
        target_tracking_configuration: tracking,
        estimated_instance_warmup: found.estimated_instance_warmup().and_then(|seconds| u32::try_from(seconds).ok()),
    })
}

pub fn action_of(found: &asg::ScheduledUpdateGroupAction) -> Option<ScheduledAction> {
    let size = |value: Option<i32>| value.and_then(|v| u32::try_from(v).ok());
    Some(ScheduledAction {
        scheduled_action_name: found.scheduled_action_name()?.to_string(),
        recurrence: found.recurrence().unwrap_or_default().to_string(),
        min_size: size(found.min_size()),
        max_size: size(found.max_size()),
        desired_capacity: size(found.desired_capacity()),
    })
}

/// `ALBRequestCountPerTarget`'s resource label from the group's first target group, when the
/// policy gives none: `app/<lb>/<id>/targetgroup/<tg>/<id>`, as AWS wants it.
async fn request_count_label(clients: &Clients, group: &str) -> Result<String> {
    let found = clients.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(group).send().await.map_err(|e| aws_error("DescribeAutoScalingGroups", e))?;
    let target_group = found
        .auto_scaling_groups()
        .first()
        .and_then(|g| g.target_group_arns().first().cloned())
        .ok_or_else(|| Error::Invalid(format!("ALBRequestCountPerTarget needs a load balancer: server group {group} is in no target group")))?;
    let described = clients.elb.describe_target_groups().target_group_arns(&target_group).send().await.map_err(|e| aws_error("DescribeTargetGroups", e))?;
    let balancer = described
        .target_groups()
        .first()
        .and_then(|tg| tg.load_balancer_arns().first().cloned())
        .ok_or_else(|| Error::Invalid(format!("ALBRequestCountPerTarget: target group {target_group} is behind no load balancer")))?;
    let tail = |arn: &str, marker: &str| arn.split_once(marker).map(|(_, rest)| rest.to_string()).unwrap_or_default();
    Ok(format!("{}/targetgroup/{}", tail(&balancer, ":loadbalancer/"), tail(&target_group, ":targetgroup/")))
}

/// Creates or replaces `policy` on `group`; returns it with its name (`<group>-<kind>-N` when
/// new).
pub async fn put_policy(clients: &Clients, group: &str, policy: &ScalingPolicy) -> Result<ScalingPolicy> {
    let problems = policy.problems();
    if !problems.is_empty() {
        return Err(Error::Invalid(problems.join("; ")));
    }
    let mut policy = policy.clone();
    if policy.policy_name.is_empty() {
        let existing = clients.autoscaling.describe_policies().auto_scaling_group_name(group).send().await.map_err(|e| aws_error("DescribePolicies", e))?;
        let taken: Vec<String> = existing.scaling_policies().iter().filter_map(|p| p.policy_name().map(str::to_string)).collect();
        policy.policy_name = fresh_name(&policy_prefix(group, policy.policy_type), &taken);
    }
    let mut request = clients
        .autoscaling
        .put_scaling_policy()
        .auto_scaling_group_name(group)
        .policy_name(&policy.policy_name)
        .set_estimated_instance_warmup(policy.estimated_instance_warmup.map(|s| s as i32));
    match policy.policy_type {
        PolicyType::TargetTrackingScaling => {
            let tracking = policy.target_tracking_configuration.as_mut().expect("checked by problems()");
            let metric = &mut tracking.predefined_metric_specification;
            if metric.predefined_metric_type == "ALBRequestCountPerTarget" && metric.resource_label.as_deref().is_none_or(str::is_empty) {
                metric.resource_label = Some(request_count_label(clients, group).await?);
            }
            let specification = asg::PredefinedMetricSpecification::builder()
                .predefined_metric_type(asg::MetricType::from(metric.predefined_metric_type.as_str()))
                .set_resource_label(metric.resource_label.clone())
                .build();
            let configuration = asg::TargetTrackingConfiguration::builder()
                .target_value(tracking.target_value)
                .disable_scale_in(tracking.disable_scale_in)
                .predefined_metric_specification(specification)
                .build();
            request = request.policy_type("TargetTrackingScaling").target_tracking_configuration(configuration);
            request.send().await.map_err(|e| aws_error("PutScalingPolicy", e))?;
        }
        PolicyType::StepScaling => {
            let steps = policy
                .step_adjustments
                .iter()
                .map(|step| {
                    asg::StepAdjustment::builder()
                        .set_metric_interval_lower_bound(step.metric_interval_lower_bound)
                        .set_metric_interval_upper_bound(step.metric_interval_upper_bound)
                        .scaling_adjustment(step.scaling_adjustment)
                        .build()
                })
                .collect::<Vec<_>>();
            let adjustment = policy.adjustment_type.expect("checked by problems()");
            request = request.policy_type("StepScaling").adjustment_type(adjustment_name(adjustment)).metric_aggregation_type("Average").set_step_adjustments(Some(steps));
            let made = request.send().await.map_err(|e| aws_error("PutScalingPolicy", e))?;
            let arn = made.policy_arn().unwrap_or_default();
            let alarm = metric_alarm(group, &policy.policy_name, &policy.alarms[0], arn);
            clients.cloudwatch.put_metric_alarm(&alarm).await.map_err(|e| Error::Provider(e.to_string()))?;
            policy.alarms[0].alarm_name = alarm.alarm_name;
        }
    }
    Ok(policy)
}

/// Deletes a policy and the alarm gennaker made for it; a policy already gone is no error.
pub async fn delete_policy(clients: &Clients, group: &str, name: &str) -> Result<()> {
    let existing = clients.autoscaling.describe_policies().auto_scaling_group_name(group).policy_names(name).send().await.map_err(|e| aws_error("DescribePolicies", e))?;
    if existing.scaling_policies().is_empty() {
        return Ok(());
    }
    clients.autoscaling.delete_policy().auto_scaling_group_name(group).policy_name(name).send().await.map_err(|e| aws_error("DeletePolicy", e))?;
    delete_own_alarms(clients, vec![alarm_name(group, name)]).await
}

/// Deletes those of the alarms gennaker named that exist (DeleteAlarms may refuse unknown ones).
async fn delete_own_alarms(clients: &Clients, names: Vec<String>) -> Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let existing: Vec<String> = clients.cloudwatch.describe_alarms(&names).await.map_err(|e| Error::Provider(e.to_string()))?.into_iter().map(|alarm| alarm.alarm_name).collect();
    if !existing.is_empty() {
        clients.cloudwatch.delete_alarms(&existing).await.map_err(|e| Error::Provider(e.to_string()))?;
    }
    Ok(())
}

/// Deletes every step alarm gennaker made for `group`'s policies (before the group goes).
pub async fn delete_alarms_of(clients: &Clients, group: &str) -> Result<()> {
    let existing = clients.autoscaling.describe_policies().auto_scaling_group_name(group).send().await.map_err(|e| aws_error("DescribePolicies", e))?;
    let mine: Vec<String> = existing
        .scaling_policies()
        .iter()
        .filter(|policy| policy.policy_type() == Some("StepScaling"))
        .filter_map(|policy| policy.policy_name().map(|name| alarm_name(group, name)))
        .collect();
    delete_own_alarms(clients, mine).await
}

/// Makes `actions` the group's scheduled actions: the others are deleted, new ones named
/// `<group>-schedule-N`. Returns them as stored.
pub async fn set_actions(clients: &Clients, group: &str, actions: &[ScheduledAction]) -> Result<Vec<ScheduledAction>> {
    for action in actions {
        let problems = action.problems();
        if !problems.is_empty() {
            return Err(Error::Invalid(problems.join("; ")));
        }
    }
    let existing = clients.autoscaling.describe_scheduled_actions().auto_scaling_group_name(group).send().await.map_err(|e| aws_error("DescribeScheduledActions", e))?;
    let existing: Vec<String> = existing.scheduled_update_group_actions().iter().filter_map(|a| a.scheduled_action_name().map(str::to_string)).collect();
    let mut taken: Vec<String> = actions.iter().map(|a| a.scheduled_action_name.clone()).filter(|name| !name.is_empty()).collect();
    let mut stored = Vec::new();
    for action in actions {
        let mut action = action.clone();
        if action.scheduled_action_name.is_empty() {
            action.scheduled_action_name = fresh_name(&format!("{group}-schedule"), &taken);
            taken.push(action.scheduled_action_name.clone());
        }
        clients
            .autoscaling
            .put_scheduled_update_group_action()
            .auto_scaling_group_name(group)
            .scheduled_action_name(&action.scheduled_action_name)
            .recurrence(&action.recurrence)
            .set_min_size(action.min_size.map(|v| v as i32))
            .set_max_size(action.max_size.map(|v| v as i32))
            .set_desired_capacity(action.desired_capacity.map(|v| v as i32))
            .send()
            .await
            .map_err(|e| aws_error("PutScheduledUpdateGroupAction", e))?;
        stored.push(action);
    }
    for name in existing.iter().filter(|name| !taken.contains(name)) {
        clients.autoscaling.delete_scheduled_action().auto_scaling_group_name(group).scheduled_action_name(name).send().await.map_err(|e| aws_error("DeleteScheduledAction", e))?;
    }
    Ok(stored)
}

/// Every group's policies and scheduled actions in the region: one paginated DescribePolicies,
/// DescribeAlarms for the step policies' alarms, one paginated DescribeScheduledActions.
pub async fn read(clients: &Clients) -> Result<(Policies, Actions)> {
    let found: Vec<asg::ScalingPolicy> = clients
        .autoscaling
        .describe_policies()
        .into_paginator()
        .items()
        .send()
        .collect::<std::result::Result<_, _>>()
        .await
        .map_err(|e| aws_error("DescribePolicies", e))?;
    let alarm_names: Vec<String> = found
        .iter()
        .filter(|policy| policy.policy_type() == Some("StepScaling"))
        .flat_map(|policy| alarm_names_of(policy.auto_scaling_group_name().unwrap_or_default(), policy))
        .collect();
    // The alarms only add detail to step policies: when CloudWatch cannot be read, the
    // policies still show (without their alarm) rather than the whole region going stale.
    let alarms: HashMap<String, MetricAlarm> = if alarm_names.is_empty() {
        HashMap::new()
    } else {
        match clients.cloudwatch.describe_alarms(&alarm_names).await {
            Ok(found) => found.into_iter().map(|alarm| (alarm.alarm_name.clone(), alarm)).collect(),
            Err(error) => {
                tracing::warn!(%error, "step policies' alarms could not be read");
                HashMap::new()
            }
        }
    };
    let mut policies: Policies = HashMap::new();
    for policy in &found {
        if let (Some(group), Some(converted)) = (policy.auto_scaling_group_name(), policy_of(policy, &alarms)) {
            policies.entry(group.to_string()).or_default().push(converted);
        }
    }
    let scheduled: Vec<asg::ScheduledUpdateGroupAction> = clients
        .autoscaling
        .describe_scheduled_actions()
        .into_paginator()
        .items()
        .send()
        .collect::<std::result::Result<_, _>>()
        .await
        .map_err(|e| aws_error("DescribeScheduledActions", e))?;
    let mut actions: Actions = HashMap::new();
    for action in &scheduled {
        if let (Some(group), Some(converted)) = (action.auto_scaling_group_name(), action_of(action)) {
            actions.entry(group.to_string()).or_default().push(converted);
        }
    }
    for list in policies.values_mut() {
        list.sort_by(|a, b| a.policy_name.cmp(&b.policy_name));
    }
    for list in actions.values_mut() {
        list.sort_by(|a, b| a.scheduled_action_name.cmp(&b.scheduled_action_name));
    }
    Ok((policies, actions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copied_alarm_watches_the_new_group() {
        let alarm = Alarm {
            alarm_name: "web-v001-step-1".into(),
            metric_name: "CPUUtilization".into(),
            namespace: "AWS/EC2".into(),
            statistic: "Average".into(),
            comparison_operator: Comparison::GreaterThanThreshold,
            threshold: 70.0,
            period: 60,
            evaluation_periods: 2,
            dimensions: vec![MetricDimension { name: GROUP_DIMENSION.into(), value: "web-v001".into() }],
        };
        let made = metric_alarm("web-v002", "step-1", &alarm, "arn:p");
        assert_eq!(made.alarm_name, "web-v002-step-1");
        assert_eq!(metric_alarm("web-v002", "web-v002-step-1", &alarm, "arn:p").alarm_name, "web-v002-step-1");
        assert_eq!(made.dimensions, vec![Dimension { name: GROUP_DIMENSION.into(), value: "web-v002".into() }]);
        assert_eq!(made.comparison_operator, "GreaterThanThreshold");
        let back = alarm_of(&made);
        assert_eq!(back.comparison_operator, Comparison::GreaterThanThreshold);
        assert_eq!(back.threshold, 70.0);
    }

    #[test]
    fn new_names_skip_taken_ones() {
        assert_eq!(fresh_name("step", &["step-1".into(), "step-3".into()]), "step-2");
    }
}
