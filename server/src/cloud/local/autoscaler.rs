//! Scaling policies and scheduled actions on the `local` cloud, measured from gennaker's own
//! load balancers: the only metric the local cloud has is the request count each instance
//! served (`RequestCount`, `RequestCountPerTarget`; target tracking on
//! `ALBRequestCountPerTarget`, requests per instance per minute as AWS defines it).
//!
//! The decisions are AWS's: target tracking sets the capacity to `ceil(instances * metric /
//! target)` (scaling in only when two looks in a row agree, and never with `disableScaleIn`);
//! a step policy's alarm fires after `evaluationPeriods` breached periods in a row and applies
//! the step for how far the metric is past the threshold; results are clamped to min..max;
//! after a change the group waits `estimatedInstanceWarmup` (default 10 s) before the next.
//! Scheduled actions (cron lines, UTC; six fields with seconds first are accepted here too, so
//! demos need not wait for the minute) set min, max and desired at each occurrence. Where AWS
//! looks at one-minute metrics, the local cloud measures the rate over the last
//! `TRACKING_WINDOW` and scales it to a minute, so a demo reacts in seconds.
//!
//! Disabled server groups are left alone, as AWS's are with their processes suspended.
//! The pure part (`Evaluator`) is tested without processes; `LocalCloud` runs it every second.

use std::collections::{BTreeMap, VecDeque};

use app::model::cluster::Capacity;
use app::model::scaling::{PolicyType, ScalingPolicy, ScheduledAction, tracked_capacity};

/// How far back target tracking looks.
pub const TRACKING_WINDOW_MS: i64 = 10_000;
/// Samples kept per server group (enough for the longest alarm period the demo uses).
const MAX_HISTORY_MS: i64 = 15 * 60_000;
const DEFAULT_WARMUP_MS: i64 = 10_000;

/// What the local cloud measured of one server group at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub at: i64,
    /// Requests its instances have served since gennaker started (a running total).
    pub served: u64,
    /// Instances running.
    pub instances: u32,
}

#[derive(Debug, Default)]
struct GroupState {
    history: VecDeque<Sample>,
    /// When the group's capacity was last changed by a policy.
    last_change: Option<i64>,
    /// Target tracking wanted to scale in at the last look (scale in needs two in a row).
    wanted_in: bool,
    /// Consecutive breached periods, by policy, and the period end last counted.
    breaches: BTreeMap<String, (u32, i64)>,
    /// Up to when scheduled actions were looked at.
    schedule_checked: Option<i64>,
}

/// One server group's policies, as the evaluator needs them.
pub struct GroupPolicies<'a> {
    pub name: &'a str,
    pub capacity: Capacity,
    pub policies: &'a [ScalingPolicy],
    pub actions: &'a [ScheduledAction],
}

/// What to do to a group, and why (for the log).
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub capacity: Capacity,
    pub reason: String,
}

#[derive(Default)]
pub struct Evaluator {
    groups: BTreeMap<String, GroupState>,
}

impl GroupState {
    /// Requests served in `(now - window, now]`, from the samples (0 with too little history).
    fn served_within(&self, now: i64, window: i64) -> Option<(u64, i64)> {
        let latest = self.history.back()?;
        let start = self.history.iter().find(|sample| sample.at >= now - window)?;
        let span = latest.at - start.at;
        (span > 0).then(|| (latest.served.saturating_sub(start.served), span))
    }
}

impl Evaluator {
    /// Records a sample and decides; `None`: leave the group as it is.
    pub fn evaluate(&mut self, group: &GroupPolicies<'_>, sample: Sample) -> Option<Decision> {
        let state = self.groups.entry(group.name.to_string()).or_default();
        if state.history.back().is_some_and(|last| sample.served < last.served) {
            // Counters restarted (an instance replaced or gennaker restarted): start over.
            state.history.clear();
        }
        state.history.push_back(sample);
        while state.history.front().is_some_and(|first| first.at < sample.at - MAX_HISTORY_MS) {
            state.history.pop_front();
        }
        let now = sample.at;
        if let Some(decision) = scheduled(state, group, now) {
            return Some(decision);
        }
        let instances = sample.instances.max(1);
        let mut wanted: Option<(i64, String)> = None;
        let mut wants_in = false;
        for policy in group.policies {
            let proposal = match policy.policy_type {
                PolicyType::TargetTrackingScaling => {
                    let Some(tracking) = policy.target_tracking_configuration.as_ref() else { continue };
                    let Some((served, span)) = state.served_within(now, TRACKING_WINDOW_MS) else { continue };
                    let per_minute = served as f64 / instances as f64 * 60_000.0 / span as f64;
                    let target = i64::from(tracked_capacity(instances, per_minute, tracking.target_value));
                    if target < i64::from(group.capacity.desired) {
                        if tracking.disable_scale_in {
                            continue;
                        }
                        wants_in = true;
                        if !state.wanted_in {
                            continue;
                        }
                    }
                    Some((target, format!("{}: {per_minute:.0} requests per instance per minute, target {}", policy.policy_name, tracking.target_value)))
                }
                PolicyType::StepScaling => step(state, policy, group.capacity.desired, instances, now),
            };
            if let Some((capacity, reason)) = proposal
                // Of several policies, the one asking for the most capacity wins (AWS's rule).
                && wanted.as_ref().is_none_or(|(best, _)| capacity > *best)
            {
                wanted = Some((capacity, reason));
            }
        }
        state.wanted_in = wants_in;
        let (desired, reason) = wanted?;
        let desired = desired.clamp(i64::from(group.capacity.min), i64::from(group.capacity.max)) as u32;
        if desired == group.capacity.desired {
            return None;
        }
        let warmup = group.policies.iter().filter_map(|p| p.estimated_instance_warmup).map(|s| i64::from(s) * 1000).max().unwrap_or(DEFAULT_WARMUP_MS);
        if state.last_change.is_some_and(|at| now - at < warmup) {
            return None;
        }
        state.last_change = Some(now);
        state.wanted_in = false;
        Some(Decision { capacity: Capacity { desired, ..group.capacity }, reason })
    }

    /// Forgets groups that are gone.
    pub fn retain(&mut self, names: &[&str]) {
        self.groups.retain(|name, _| names.contains(&name.as_str()));
    }
}

/// A step policy's proposal: its alarm is breached for `evaluationPeriods` periods in a row.
fn step(state: &mut GroupState, policy: &ScalingPolicy, desired: u32, instances: u32, now: i64) -> Option<(i64, String)> {
    let alarm = policy.alarms.first()?;
    let period = i64::from(alarm.period.max(1)) * 1000;
    let (served, span) = state.served_within(now, period)?;
    // Only a full period counts (a young group has not been measured long enough).
    if span < period - 1500 {
        return None;
    }
    let value = match alarm.metric_name.as_str() {
        "RequestCountPerTarget" => served as f64 / f64::from(instances),
        _ => served as f64,
    };
    let breached = alarm.comparison_operator.breached(value, alarm.threshold);
    let period_end = now - now.rem_euclid(period);
    let entry = state.breaches.entry(policy.policy_name.clone()).or_insert((0, 0));
    if entry.1 != period_end {
        entry.0 = if breached { entry.0 + 1 } else { 0 };
        entry.1 = period_end;
    }
    if entry.0 < alarm.evaluation_periods.max(1) {
        return None;
    }
    let step = policy.step_for(value - alarm.threshold)?;
    let capacity = policy.adjustment_type?.apply(desired, step.scaling_adjustment);
    Some((capacity, format!("{}: {} is {value:.0}, threshold {}", policy.policy_name, alarm.metric_name, alarm.threshold)))
}

/// The latest scheduled action due since the last look, applied to the capacity.
fn scheduled(state: &mut GroupState, group: &GroupPolicies<'_>, now: i64) -> Option<Decision> {
    let checked = state.schedule_checked.replace(now)?;
    let due = group
        .actions
        .iter()
        .filter_map(|action| {
            let schedule = crate::schedule::parse(&action.recurrence, None).ok()?;
            schedule.latest_between(checked, now).map(|at| (at, action))
        })
        .max_by_key(|(at, _)| *at)?
        .1;
    let min = due.min_size.unwrap_or(group.capacity.min);
    let max = due.max_size.unwrap_or(group.capacity.max).max(min);
    let desired = due.desired_capacity.unwrap_or(group.capacity.desired).clamp(min, max);
    let capacity = Capacity { min, max, desired };
    (capacity != group.capacity).then(|| Decision { capacity, reason: format!("scheduled action {} ({})", due.scheduled_action_name, due.recurrence) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracking(target: f64) -> ScalingPolicy {
        serde_json::from_value(serde_json::json!({
            "policyName": "target-tracking-1", "policyType": "TargetTrackingScaling", "estimatedInstanceWarmup": 5,
            "targetTrackingConfiguration": {"targetValue": target, "predefinedMetricSpecification": {"predefinedMetricType": "ALBRequestCountPerTarget"}}
        }))
        .unwrap()
    }

    fn group<'a>(policies: &'a [ScalingPolicy], actions: &'a [ScheduledAction], desired: u32) -> GroupPolicies<'a> {
        GroupPolicies { name: "web-v001", capacity: Capacity { min: 1, max: 4, desired }, policies, actions }
    }

    #[test]
    fn target_tracking_scales_out_to_the_target_and_in_only_when_two_looks_agree() {
        let policies = [tracking(600.0)];
        let mut evaluator = Evaluator::default();
        // 1 instance serving 20 requests a second: 1200 a minute, twice the target.
        assert_eq!(evaluator.evaluate(&group(&policies, &[], 1), Sample { at: 0, served: 0, instances: 1 }), None);
        let decision = evaluator.evaluate(&group(&policies, &[], 1), Sample { at: 5_000, served: 100, instances: 1 }).unwrap();
        assert_eq!(decision.capacity.desired, 2, "{}", decision.reason);
        // Idle now: the first look wanting fewer does nothing, the second scales in.
        assert_eq!(evaluator.evaluate(&group(&policies, &[], 2), Sample { at: 20_000, served: 100, instances: 2 }), None, "no rate measured yet");
        assert_eq!(evaluator.evaluate(&group(&policies, &[], 2), Sample { at: 21_000, served: 100, instances: 2 }), None, "one look is not enough");
        assert_eq!(evaluator.evaluate(&group(&policies, &[], 2), Sample { at: 22_000, served: 100, instances: 2 }).unwrap().capacity.desired, 1);
    }

    #[test]
    fn a_step_alarm_fires_after_its_evaluation_periods_and_clamps_to_max() {
        let policy: ScalingPolicy = serde_json::from_value(serde_json::json!({
            "policyName": "step-1", "policyType": "StepScaling", "adjustmentType": "ChangeInCapacity",
            "stepAdjustments": [{"metricIntervalLowerBound": 0, "metricIntervalUpperBound": 50, "scalingAdjustment": 1}, {"metricIntervalLowerBound": 50, "scalingAdjustment": 5}],
            "alarms": [{"metricName": "RequestCount", "namespace": "AWS/ApplicationELB", "statistic": "Sum", "comparisonOperator": "GreaterThanThreshold", "threshold": 10, "period": 2, "evaluationPeriods": 2}]
        }))
        .unwrap();
        let policies = [policy];
        let mut evaluator = Evaluator::default();
        let mut decisions = Vec::new();
        for second in 0..8 {
            let sample = Sample { at: second * 1000, served: (second as u64) * 40, instances: 1 };
            decisions.extend(evaluator.evaluate(&group(&policies, &[], 1), sample));
        }
        // 80 requests per 2 s period: 70 past the threshold, the second step: +5, clamped to 4.
        assert_eq!(decisions.len(), 1, "{decisions:?}");
        assert_eq!(decisions[0].capacity.desired, 4);
    }

    #[test]
    fn a_scheduled_action_sets_the_bounds_when_it_comes_due() {
        let actions = [ScheduledAction { scheduled_action_name: "schedule-1".into(), recurrence: "*/5 * * * * *".into(), min_size: Some(2), max_size: Some(6), desired_capacity: Some(3) }];
        let mut evaluator = Evaluator::default();
        assert_eq!(evaluator.evaluate(&group(&[], &actions, 1), Sample { at: 1_000, served: 0, instances: 1 }), None, "the first look only notes the time");
        assert_eq!(evaluator.evaluate(&group(&[], &actions, 1), Sample { at: 3_000, served: 0, instances: 1 }), None);
        let decision = evaluator.evaluate(&group(&[], &actions, 1), Sample { at: 6_000, served: 0, instances: 1 }).unwrap();
        assert_eq!(decision.capacity, Capacity { min: 2, max: 6, desired: 3 });
    }
}
