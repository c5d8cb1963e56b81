//! The details panel's scaling part: how a VM server group launches (AWS's launch template),
//! its scaling policies and scheduled actions as they are now (with a Delete button per
//! policy), and the forms that add a target tracking or step policy and set the schedule.
//! The forms are built once from the server group as the panel first loads it, so a live
//! change never wipes what someone is typing.

use leptos::prelude::*;

use super::actions::{TaskForm, Target};
use crate::api::clusters::get_server_group;
use crate::model::cluster::ServerGroup;
use crate::model::scaling::{PolicyType, ScalingPolicy};

/// One line saying what a policy does.
pub fn describe_policy(policy: &ScalingPolicy) -> String {
    let warmup = policy.estimated_instance_warmup.map(|s| format!(", warmup {s} s")).unwrap_or_default();
    match policy.policy_type {
        PolicyType::TargetTrackingScaling => {
            let Some(tracking) = &policy.target_tracking_configuration else { return "target tracking".into() };
            let scale_in = if tracking.disable_scale_in { ", scale-in disabled" } else { "" };
            format!("target tracking: keep {} at {}{scale_in}{warmup}", tracking.predefined_metric_specification.predefined_metric_type, tracking.target_value)
        }
        PolicyType::StepScaling => {
            let alarm = policy.alarms.first().map(|alarm| {
                format!("when {} {} {:?} {} for {} × {} s", alarm.statistic, alarm.metric_name, alarm.comparison_operator, alarm.threshold, alarm.evaluation_periods, alarm.period)
            });
            let steps: Vec<String> = policy.step_adjustments.iter().map(|step| format!("{:+}", step.scaling_adjustment)).collect();
            let adjustment = policy.adjustment_type.map(|kind| format!("{kind:?}")).unwrap_or_default();
            format!("step scaling {}: {} ({adjustment}){warmup}", alarm.unwrap_or_default(), steps.join(" / "))
        }
    }
}

/// Launch settings, policies and scheduled actions of `group` (nothing for a group with none).
#[component]
pub fn ScalingFacts(application: String, group: ServerGroup) -> impl IntoView {
    let launch = group.launch.clone();
    let target = Target::of(&application, &group);
    let has_launch = !launch.is_empty();
    let settings: Vec<(&'static str, String)> = [
        ("Instance type", launch.instance_type.clone()),
        ("Key pair", launch.key_pair.clone()),
        ("IAM role", launch.iam_role.clone()),
        ("Subnet type", launch.subnet_type.clone()),
        ("Launch template", launch.launch_template.clone()),
        ("User data", if launch.user_data.is_empty() { String::new() } else { format!("{} bytes (base64)", launch.user_data.len()) }),
    ]
    .into_iter()
    .filter(|(_, value)| !value.is_empty())
    .collect();
    view! {
        {has_launch.then(|| view! {
            <h3>"Launch"</h3>
            <dl class="details" aria-label="Launch settings">
                {settings.into_iter().map(|(label, value)| view! { <dt>{label}</dt><dd><code>{value}</code></dd> }).collect_view()}
            </dl>
        })}
        <h3>"Scaling policies"</h3>
        {group.scaling_policies.is_empty().then(|| view! { <p class="muted">"No scaling policies."</p> })}
        <ul class="policies" aria-label="Scaling policies">
            {group.scaling_policies.iter().map(|policy| {
                let name = policy.policy_name.clone();
                view! {
                    <li>
                        <code>{name.clone()}</code> " " {describe_policy(policy)}
                        <TaskForm target=target.clone() action="deletePolicy" label=format!("Delete policy {name}")>
                            <input type="hidden" name="policy_name" value=name.clone()/>
                            <button type="submit" class="secondary small">"Delete"</button>
                        </TaskForm>
                    </li>
                }
            }).collect_view()}
        </ul>
        <h3>"Scheduled actions"</h3>
        {group.scheduled_actions.is_empty().then(|| view! { <p class="muted">"No scheduled actions."</p> })}
        <ul class="policies" aria-label="Scheduled actions">
            {group.scheduled_actions.iter().map(|action| view! {
                <li><code>{action.scheduled_action_name.clone()}</code> " " <code>{action.line()}</code></li>
            }).collect_view()}
        </ul>
    }
}

/// The forms that add policies and set the schedule, from the server group as first loaded.
#[component]
pub fn ScalingActions(application: String, account: String, region: String, name: String) -> impl IntoView {
    let key = (application.clone(), account, region, name);
    let first = Resource::new(move || key.clone(), |(application, account, region, name)| get_server_group(application, account, region, name));
    view! {
        <Suspense fallback=|| ()>
            {move || first.get().and_then(Result::ok).map(|group| scaling_forms(&application, &group))}
        </Suspense>
    }
}

fn scaling_forms(application: &str, group: &ServerGroup) -> impl IntoView + use<> {
    let target = Target::of(application, group);
    let name = group.name.clone();
    let local = group.location.cloud_provider == "local";
    let schedule: String = group.scheduled_actions.iter().map(|action| action.line()).collect::<Vec<_>>().join("\n");
    let comparisons = ["GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"];
    let metrics: &[&str] = if local { &["ALBRequestCountPerTarget"] } else { &["ALBRequestCountPerTarget", "ASGAverageCPUUtilization", "ASGAverageNetworkIn", "ASGAverageNetworkOut"] };
    view! {
        <h3>"Add a target tracking policy"</h3>
        <TaskForm target=target.clone() action="targetTracking" label=format!("Target tracking policy of {name}")>
            <label>"Metric"
                <select name="metric">{metrics.iter().map(|metric| view! { <option value=*metric>{*metric}</option> }).collect_view()}</select>
            </label>
            <label>"Target value" <input type="number" name="target_value" step="any" min="0" required placeholder="600"/></label>
            <label>"Warmup (s)" <input type="number" name="warmup" min="0" placeholder="10"/></label>
            <label class="check"><input type="checkbox" name="disable_scale_in"/> "Disable scale-in"</label>
            <button type="submit">"Add policy"</button>
        </TaskForm>
        <p class="muted">{if local { "Requests per instance per minute, measured by the local load balancers." } else { "ALBRequestCountPerTarget: requests per target per minute." }}</p>

        <h3>"Add a step policy"</h3>
        <TaskForm target=target.clone() action="stepPolicy" label=format!("Step policy of {name}")>
            <label>"Metric" <input type="text" name="metric" required placeholder=if local { "RequestCount" } else { "CPUUtilization" }/></label>
            {(!local).then(|| view! { <label>"Namespace" <input type="text" name="namespace" placeholder="AWS/EC2"/></label> })}
            <label>"Statistic" <select name="statistic"><option>"Sum"</option><option>"Average"</option><option>"Maximum"</option></select></label>
            <label>"When" <select name="comparison">{comparisons.iter().map(|c| view! { <option value=*c>{*c}</option> }).collect_view()}</select></label>
            <label>"Threshold" <input type="number" name="threshold" step="any" required/></label>
            <label>"Period (s)" <input type="number" name="period" min="1" required value="60"/></label>
            <label>"Periods" <input type="number" name="evaluation_periods" min="1" required value="1"/></label>
            <label>"Adjust by" <select name="adjustment_type">
                <option value="ChangeInCapacity">"instances"</option>
                <option value="PercentChangeInCapacity">"percent"</option>
                <option value="ExactCapacity">"exactly"</option>
            </select></label>
            <label>"Adjustment" <input type="number" name="adjustment" required placeholder="1"/></label>
            <label>"Warmup (s)" <input type="number" name="warmup" min="0" placeholder="10"/></label>
            <button type="submit">"Add policy"</button>
        </TaskForm>

        <h3>"Schedule"</h3>
        <TaskForm target=target action="schedule" label=format!("Schedule of {name}")>
            <label>"Schedule lines"
                <textarea name="schedule" rows="3" spellcheck="false" placeholder="0 9 * * 1-5 min=2 desired=4">{schedule}</textarea>
            </label>
            <button type="submit">"Save schedule"</button>
        </TaskForm>
        <p class="muted">"One action per line: a cron line (UTC), then the sizes it sets, e.g. " <code>"0 9 * * 1-5 min=2 desired=4"</code> ". An empty list removes them all."</p>
    }
}
