//! How a server group grows and shrinks by itself, and how its VM instances launch. The
//! shapes are AWS Auto Scaling's (`PutScalingPolicy`, `PutScheduledUpdateGroupAction`) with
//! camelCase names, which is what Clouddriver shows as a server group's `scalingPolicies` and
//! `scheduledActions`, so Spinnaker scripts reading them work unchanged. The same policies run
//! on the `local` cloud, which measures the request rate its own load balancers see.

use serde::{Deserialize, Serialize};

/// A dynamic scaling policy: target tracking (keep a metric near a value) or step scaling (an
/// alarm on a metric adds or removes instances by how far the metric is past the threshold).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScalingPolicy {
    /// Unique within the server group; given by the provider when a new policy has none.
    #[serde(default)]
    pub policy_name: String,
    pub policy_type: PolicyType,
    /// Step scaling: how `scalingAdjustment` is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjustment_type: Option<AdjustmentType>,
    /// Step scaling: the steps, by how far the metric is past the alarm's threshold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step_adjustments: Vec<StepAdjustment>,
    /// Step scaling: the alarm that sets the policy off (AWS: a CloudWatch alarm).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<Alarm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_tracking_configuration: Option<TargetTracking>,
    /// Seconds before a new instance's metrics count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_instance_warmup: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PolicyType {
    TargetTrackingScaling,
    StepScaling,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdjustmentType {
    ChangeInCapacity,
    ExactCapacity,
    PercentChangeInCapacity,
}

/// One step: applies when `lower <= metric - threshold < upper` (a missing bound is infinite).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepAdjustment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_interval_lower_bound: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_interval_upper_bound: Option<f64>,
    pub scaling_adjustment: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetTracking {
    pub target_value: f64,
    pub predefined_metric_specification: PredefinedMetric,
    /// Only ever scale out.
    #[serde(default)]
    pub disable_scale_in: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PredefinedMetric {
    /// `ASGAverageCPUUtilization`, `ASGAverageNetworkIn`, `ASGAverageNetworkOut` or
    /// `ALBRequestCountPerTarget` (AWS's names).
    pub predefined_metric_type: String,
    /// `ALBRequestCountPerTarget` on AWS: `app/<lb>/<id>/targetgroup/<tg>/<id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_label: Option<String>,
}

/// The metric alarm of a step policy, as CloudWatch's `PutMetricAlarm` takes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alarm {
    #[serde(default)]
    pub alarm_name: String,
    pub metric_name: String,
    pub namespace: String,
    #[serde(default = "average")]
    pub statistic: String,
    pub comparison_operator: Comparison,
    pub threshold: f64,
    /// Seconds per evaluation period.
    pub period: u32,
    #[serde(default = "one")]
    pub evaluation_periods: u32,
    /// AWS: the metric's dimensions; none means the server group's own
    /// (`AutoScalingGroupName`), which a copy to a new server group points at the new one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<MetricDimension>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricDimension {
    pub name: String,
    pub value: String,
}

fn average() -> String {
    "Average".into()
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl Comparison {
    pub fn breached(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::GreaterThanOrEqualToThreshold => value >= threshold,
            Self::GreaterThanThreshold => value > threshold,
            Self::LessThanThreshold => value < threshold,
            Self::LessThanOrEqualToThreshold => value <= threshold,
        }
    }
}

/// A scheduled capacity change: at each time `recurrence` (a five-field cron line, UTC) names,
/// the given bounds are set. The local cloud also takes six fields, seconds first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledAction {
    #[serde(default)]
    pub scheduled_action_name: String,
    pub recurrence: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_capacity: Option<u32>,
}

/// How a VM server group's instances launch (AWS: its launch template). A clone and the next
/// deploy of the cluster keep them. Empty strings mean "not set".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchSettings {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub instance_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key_pair: String,
    /// The IAM instance profile (Spinnaker's `iamRole`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub iam_role: String,
    /// Base64, as EC2 takes it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user_data: String,
    /// Subnets tagged `immutable_metadata` `{"purpose": <subnetType>}` (Spinnaker's
    /// convention); empty: the default VPC's subnets.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subnet_type: String,
    /// The launch template and version the provider made (read-only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub launch_template: String,
}

impl LaunchSettings {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The metrics the `local` cloud can measure from its own load balancers.
pub const LOCAL_TARGET_METRICS: &[&str] = &["ALBRequestCountPerTarget"];
/// The alarm metrics the `local` cloud can measure (namespace `AWS/ApplicationELB`).
pub const LOCAL_ALARM_METRICS: &[&str] = &["RequestCountPerTarget", "RequestCount"];

impl ScalingPolicy {
    /// What is wrong with the policy, naming the field; empty when nothing is.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match self.policy_type {
            PolicyType::TargetTrackingScaling => match &self.target_tracking_configuration {
                None => problems.push("targetTrackingConfiguration is required for a TargetTrackingScaling policy".to_string()),
                Some(tracking) => {
                    if !(tracking.target_value.is_finite() && tracking.target_value > 0.0) {
                        problems.push(format!("targetTrackingConfiguration.targetValue must be a positive number, not {}", tracking.target_value));
                    }
                    if tracking.predefined_metric_specification.predefined_metric_type.trim().is_empty() {
                        problems.push("targetTrackingConfiguration.predefinedMetricSpecification.predefinedMetricType is required".to_string());
                    }
                }
            },
            PolicyType::StepScaling => {
                if self.step_adjustments.is_empty() {
                    problems.push("stepAdjustments: a StepScaling policy needs at least one step".to_string());
                }
                if self.adjustment_type.is_none() {
                    problems.push("adjustmentType is required for a StepScaling policy (ChangeInCapacity, ExactCapacity or PercentChangeInCapacity)".to_string());
                }
                match self.alarms.as_slice() {
                    [alarm] => {
                        if alarm.metric_name.trim().is_empty() || alarm.namespace.trim().is_empty() {
                            problems.push("alarms[0] needs a metricName and a namespace".to_string());
                        }
                        if alarm.period == 0 || alarm.evaluation_periods == 0 {
                            problems.push("alarms[0].period and evaluationPeriods must be at least 1".to_string());
                        }
                        if !alarm.threshold.is_finite() {
                            problems.push("alarms[0].threshold must be a number".to_string());
                        }
                    }
                    _ => problems.push("alarms: a StepScaling policy needs exactly one alarm".to_string()),
                }
                for (index, step) in self.step_adjustments.iter().enumerate() {
                    if let (Some(lower), Some(upper)) = (step.metric_interval_lower_bound, step.metric_interval_upper_bound)
                        && lower >= upper
                    {
                        problems.push(format!("stepAdjustments[{index}]: metricIntervalLowerBound {lower} must be below metricIntervalUpperBound {upper}"));
                    }
                }
            }
        }
        problems
    }

    /// Why the `local` cloud cannot run this policy (it measures only request counts).
    pub fn local_problem(&self) -> Option<String> {
        match self.policy_type {
            PolicyType::TargetTrackingScaling => {
                let metric = &self.target_tracking_configuration.as_ref()?.predefined_metric_specification.predefined_metric_type;
                (!LOCAL_TARGET_METRICS.contains(&metric.as_str())).then(|| {
                    format!("the local cloud measures only request counts: predefinedMetricType must be {}, not {metric}", LOCAL_TARGET_METRICS.join(" or "))
                })
            }
            PolicyType::StepScaling => {
                let alarm = self.alarms.first()?;
                (!LOCAL_ALARM_METRICS.contains(&alarm.metric_name.as_str())).then(|| {
                    format!("the local cloud measures only request counts: the alarm's metricName must be {}, not {}", LOCAL_ALARM_METRICS.join(" or "), alarm.metric_name)
                })
            }
        }
    }

    /// The step that applies when the metric is `excess` past the threshold.
    pub fn step_for(&self, excess: f64) -> Option<&StepAdjustment> {
        self.step_adjustments.iter().find(|step| {
            step.metric_interval_lower_bound.is_none_or(|lower| excess >= lower) && step.metric_interval_upper_bound.is_none_or(|upper| excess < upper)
        })
    }
}

impl AdjustmentType {
    /// The new desired capacity from `current` (before clamping to min and max).
    pub fn apply(self, current: u32, adjustment: i32) -> i64 {
        let current = i64::from(current);
        match self {
            Self::ChangeInCapacity => current + i64::from(adjustment),
            Self::ExactCapacity => i64::from(adjustment),
            Self::PercentChangeInCapacity => {
                let change = (current as f64 * f64::from(adjustment) / 100.0).trunc() as i64;
                // AWS: a non-zero percentage changes capacity by at least one.
                let change = if change == 0 && adjustment != 0 { i64::from(adjustment.signum()) } else { change };
                current + change
            }
        }
    }
}

impl ScheduledAction {
    /// The action as one line of the schedule form: `<cron line> min=N max=N desired=N`.
    pub fn line(&self) -> String {
        let sizes = [("min", self.min_size), ("max", self.max_size), ("desired", self.desired_capacity)];
        std::iter::once(self.recurrence.clone()).chain(sizes.iter().filter_map(|(key, size)| size.map(|size| format!("{key}={size}")))).collect::<Vec<_>>().join(" ")
    }

    /// What is wrong with the action, naming the field; empty when nothing is.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        // Six fields (seconds first) only the local cloud takes; AWS refuses them itself.
        if !matches!(self.recurrence.split_whitespace().count(), 5 | 6) {
            problems.push(format!("recurrence must be a five-field cron line (minute hour day month weekday), not {:?}", self.recurrence));
        }
        if self.min_size.is_none() && self.max_size.is_none() && self.desired_capacity.is_none() {
            problems.push("a scheduled action sets at least one of minSize, maxSize, desiredCapacity".to_string());
        }
        if let (Some(min), Some(max)) = (self.min_size, self.max_size)
            && min > max
        {
            problems.push(format!("minSize {min} is above maxSize {max}"));
        }
        problems
    }
}

/// Target tracking: the desired capacity that brings `metric` (per instance, with `current`
/// instances) back to `target`, as AWS computes it (rounded up).
pub fn tracked_capacity(current: u32, metric: f64, target: f64) -> u32 {
    if current == 0 || target <= 0.0 {
        return current;
    }
    (f64::from(current) * metric / target).ceil().max(0.0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step_policy() -> ScalingPolicy {
        serde_json::from_value(serde_json::json!({
            "policyType": "StepScaling", "adjustmentType": "ChangeInCapacity",
            "stepAdjustments": [
                {"metricIntervalLowerBound": 0, "metricIntervalUpperBound": 100, "scalingAdjustment": 1},
                {"metricIntervalLowerBound": 100, "scalingAdjustment": 3}
            ],
            "alarms": [{"metricName": "RequestCountPerTarget", "namespace": "AWS/ApplicationELB", "comparisonOperator": "GreaterThanOrEqualToThreshold", "threshold": 50, "period": 60}]
        }))
        .unwrap()
    }

    #[test]
    fn a_step_policy_reads_as_aws_writes_it_and_picks_its_step() {
        let policy = step_policy();
        assert!(policy.problems().is_empty(), "{:?}", policy.problems());
        assert_eq!(policy.alarms[0].statistic, "Average");
        assert_eq!(policy.step_for(20.0).unwrap().scaling_adjustment, 1);
        assert_eq!(policy.step_for(150.0).unwrap().scaling_adjustment, 3);
        assert!(policy.step_for(-1.0).is_none());
        assert!(policy.local_problem().is_none());
    }

    #[test]
    fn problems_name_the_field() {
        let mut policy = step_policy();
        policy.alarms.clear();
        policy.adjustment_type = None;
        let problems = policy.problems().join("; ");
        assert!(problems.contains("alarms") && problems.contains("adjustmentType"), "{problems}");
        let tracking: ScalingPolicy = serde_json::from_value(serde_json::json!({
            "policyType": "TargetTrackingScaling",
            "targetTrackingConfiguration": {"targetValue": -1, "predefinedMetricSpecification": {"predefinedMetricType": "ASGAverageCPUUtilization"}}
        }))
        .unwrap();
        assert!(tracking.problems()[0].contains("targetValue"));
        assert!(tracking.local_problem().unwrap().contains("ALBRequestCountPerTarget"));
    }

    #[test]
    fn adjustments_and_tracking_compute_as_aws_does() {
        assert_eq!(AdjustmentType::ChangeInCapacity.apply(3, -1), 2);
        assert_eq!(AdjustmentType::ExactCapacity.apply(3, 5), 5);
        assert_eq!(AdjustmentType::PercentChangeInCapacity.apply(4, 50), 6);
        assert_eq!(AdjustmentType::PercentChangeInCapacity.apply(1, 10), 2, "at least one");
        assert_eq!(tracked_capacity(2, 150.0, 100.0), 3);
        assert_eq!(tracked_capacity(4, 10.0, 100.0), 1);
    }

    #[test]
    fn scheduled_actions_need_a_cron_line_and_a_size() {
        let action = ScheduledAction { scheduled_action_name: String::new(), recurrence: "0 9 * * *".into(), min_size: None, max_size: None, desired_capacity: None };
        assert!(action.problems()[0].contains("at least one"));
        let bad = ScheduledAction { recurrence: "daily".into(), desired_capacity: Some(2), ..action };
        assert!(bad.problems()[0].contains("cron"));
    }
}
