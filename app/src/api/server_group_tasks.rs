//! Turns a details panel form (plain text fields, as a browser posts them) into the ad-hoc task
//! that does what it asks: one job, shaped like the Orca stage it runs (`resizeServerGroup`,
//! `enableServerGroup`, ...). Numbers and confirmations are checked here, naming the field at
//! fault, so a mistyped form is explained next to it before anything is submitted.

use serde_json::{Value, json};

use super::clusters::{CreateServerGroupForm, ServerGroupForm};
use crate::error::{AppError, Result};
use crate::model::cluster::{Capacity, TaskRequest};
use crate::model::scaling::{Alarm, Comparison, PolicyType, PredefinedMetric, ScalingPolicy, ScheduledAction, StepAdjustment, TargetTracking};

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|value| !value.is_empty())
}

fn number(field: &'static str, value: &Option<String>) -> Result<u32> {
    let text = given(value).ok_or_else(|| AppError::invalid(field, format!("{field} is required")))?;
    text.parse().map_err(|_| AppError::invalid(field, format!("{field} must be a whole number of instances, got {text:?}")))
}

/// All three of `min`, `max` and `desired`, or (when `optional`) none of them.
fn capacity(form: &ServerGroupForm, optional: bool) -> Result<Option<Capacity>> {
    if optional && [&form.min, &form.max, &form.desired].iter().all(|value| given(value).is_none()) {
        return Ok(None);
    }
    let capacity = Capacity { min: number("min", &form.min)?, max: number("max", &form.max)?, desired: number("desired", &form.desired)? };
    if !capacity.is_consistent() {
        return Err(AppError::invalid(
            "capacity",
            format!("capacity must satisfy min <= desired <= max, got min {}, desired {}, max {}", capacity.min, capacity.desired, capacity.max),
        ));
    }
    Ok(Some(capacity))
}

/// The task the form asks for, described as Deck describes its tasks.
pub fn task_request(form: &ServerGroupForm) -> Result<TaskRequest> {
    if form.cloud_provider == "kubernetes" {
        return kubernetes_task(form);
    }
    let server_group = form.server_group.as_str();
    // The stage's name is what the Tasks tab lists under the task.
    let job = |kind: &str, name: &str| {
        json!({
            "type": kind,
            "name": name,
            "cloudProvider": form.cloud_provider,
            "account": form.account,
            "region": form.region,
            "serverGroupName": server_group,
        })
    };
    let with = |mut job: Value, key: &str, value: Value| {
        job[key] = value;
        job
    };
    let (description, job) = match form.action.as_str() {
        "resize" => {
            let capacity = capacity(form, false)?.unwrap_or_default();
            let job = with(job("resizeServerGroup", "Resize"), "action", json!("scale_exact"));
            (
                format!("Resize {server_group} to min {}, max {}, desired {}", capacity.min, capacity.max, capacity.desired),
                with(job, "capacity", json!(capacity)),
            )
        }
        "enable" => (format!("Enable {server_group}"), job("enableServerGroup", "Enable")),
        "disable" => (format!("Disable {server_group}"), job("disableServerGroup", "Disable")),
        "rollback" => {
            let restore = given(&form.restore).ok_or_else(|| AppError::invalid("restore", "choose the server group to restore"))?;
            if restore == server_group {
                return Err(AppError::invalid("restore", "restore another server group of the cluster than the one rolled back"));
            }
            (format!("Roll back {server_group} to {restore}"), with(job("rollbackServerGroup", "Roll back"), "restoreServerGroupName", json!(restore)))
        }
        "clone" => match capacity(form, true)? {
            Some(capacity) => (format!("Clone {server_group}"), with(job("cloneServerGroup", "Clone"), "capacity", json!(capacity))),
            None => (format!("Clone {server_group}"), job("cloneServerGroup", "Clone")),
        },
        "destroy" => {
            if given(&form.confirm) != Some(server_group) {
                return Err(AppError::invalid("confirm", format!("type {server_group} to confirm that it is to be destroyed")));
            }
            (format!("Destroy {server_group}"), job("destroyServerGroup", "Destroy"))
        }
        "targetTracking" | "stepPolicy" => {
            let policy = policy(form)?;
            let mut job = job("upsertScalingPolicy", "Upsert scaling policy");
            job["policy"] = serde_json::to_value(&policy).expect("policies serialize");
            (format!("Upsert a {} policy of {server_group}", if form.action == "stepPolicy" { "step scaling" } else { "target tracking" }), job)
        }
        "deletePolicy" => {
            let name = given(&form.policy_name).ok_or_else(|| AppError::invalid("policy_name", "choose the policy to delete"))?;
            (format!("Delete scaling policy {name} of {server_group}"), with(job("deleteScalingPolicy", "Delete scaling policy"), "policyName", json!(name)))
        }
        "schedule" => {
            let actions = schedule(form.schedule.as_deref().unwrap_or_default())?;
            let job = json!({
                "type": "upsertAsgScheduledActions", "name": "Upsert scheduled actions", "cloudProvider": form.cloud_provider,
                "credentials": form.account, "asgs": [{"asgName": server_group, "region": form.region}], "scheduledActions": actions,
            });
            (format!("Set the scheduled actions of {server_group}"), job)
        }
        other => return Err(AppError::invalid("action", format!("unknown server group action {other:?}"))),
    };
    Ok(TaskRequest { application: form.application.clone(), description, job: vec![job] })
}

fn decimal(field: &'static str, value: &Option<String>) -> Result<f64> {
    let text = given(value).ok_or_else(|| AppError::invalid(field, format!("{field} is required")))?;
    text.parse::<f64>().ok().filter(|value| value.is_finite()).ok_or_else(|| AppError::invalid(field, format!("{field} must be a number, got {text:?}")))
}

fn choice<T: serde::de::DeserializeOwned>(field: &'static str, value: &Option<String>) -> Result<T> {
    let text = given(value).ok_or_else(|| AppError::invalid(field, format!("{field} is required")))?;
    serde_json::from_value(Value::String(text.to_string())).map_err(|_| AppError::invalid(field, format!("{text:?} is not a {field} gennaker knows")))
}

/// The policy a scaling form describes (target tracking, or a step policy of one step).
fn policy(form: &ServerGroupForm) -> Result<ScalingPolicy> {
    let warmup = match given(&form.warmup) {
        Some(_) => Some(number("warmup", &form.warmup)?),
        None => None,
    };
    let name = given(&form.policy_name).unwrap_or_default().to_string();
    let policy = if form.action == "targetTracking" {
        ScalingPolicy {
            policy_name: name,
            policy_type: PolicyType::TargetTrackingScaling,
            adjustment_type: None,
            step_adjustments: Vec::new(),
            alarms: Vec::new(),
            target_tracking_configuration: Some(TargetTracking {
                target_value: decimal("target_value", &form.target_value)?,
                predefined_metric_specification: PredefinedMetric {
                    predefined_metric_type: given(&form.metric).unwrap_or("ALBRequestCountPerTarget").to_string(),
                    resource_label: None,
                },
                disable_scale_in: given(&form.disable_scale_in).is_some(),
            }),
            estimated_instance_warmup: warmup,
        }
    } else {
        let adjustment = given(&form.adjustment).ok_or_else(|| AppError::invalid("adjustment", "adjustment is required"))?;
        let adjustment: i32 = adjustment.parse().map_err(|_| AppError::invalid("adjustment", format!("adjustment must be a whole number (negative removes), got {adjustment:?}")))?;
        let comparison: Comparison = choice("comparison", &form.comparison)?;
        // One step from the threshold on, in the direction the alarm looks.
        let upward = matches!(comparison, Comparison::GreaterThanOrEqualToThreshold | Comparison::GreaterThanThreshold);
        ScalingPolicy {
            policy_name: name,
            policy_type: PolicyType::StepScaling,
            adjustment_type: Some(choice("adjustment_type", &form.adjustment_type)?),
            step_adjustments: vec![StepAdjustment {
                metric_interval_lower_bound: upward.then_some(0.0),
                metric_interval_upper_bound: (!upward).then_some(0.0),
                scaling_adjustment: adjustment,
            }],
            alarms: vec![Alarm {
                alarm_name: String::new(),
                metric_name: given(&form.metric).ok_or_else(|| AppError::invalid("metric", "metric is required"))?.to_string(),
                namespace: given(&form.namespace).unwrap_or("AWS/ApplicationELB").to_string(),
                statistic: given(&form.statistic).unwrap_or("Sum").to_string(),
                comparison_operator: comparison,
                threshold: decimal("threshold", &form.threshold)?,
                period: number("period", &form.period)?,
                evaluation_periods: number("evaluation_periods", &form.evaluation_periods)?,
                dimensions: Vec::new(),
            }],
            target_tracking_configuration: None,
            estimated_instance_warmup: warmup,
        }
    };
    match policy.problems().into_iter().next() {
        Some(problem) => Err(AppError::invalid("policy", problem)),
        None => Ok(policy),
    }
}

/// Scheduled actions, one per line: the cron line, then `min=N`, `max=N`, `desired=N`.
pub fn schedule(text: &str) -> Result<Vec<ScheduledAction>> {
    let mut actions = Vec::new();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let mut recurrence = Vec::new();
        let mut action = ScheduledAction { scheduled_action_name: String::new(), recurrence: String::new(), min_size: None, max_size: None, desired_capacity: None };
        for word in line.split_whitespace() {
            match word.split_once('=') {
                Some((key, value)) => {
                    let size: u32 = value.parse().map_err(|_| AppError::invalid("schedule", format!("{key} must be a whole number in {line:?}")))?;
                    match key {
                        "min" => action.min_size = Some(size),
                        "max" => action.max_size = Some(size),
                        "desired" => action.desired_capacity = Some(size),
                        other => return Err(AppError::invalid("schedule", format!("{other:?} is not min, max or desired (in {line:?})"))),
                    }
                }
                None => recurrence.push(word),
            }
        }
        action.recurrence = recurrence.join(" ");
        if let Some(problem) = action.problems().into_iter().next() {
            return Err(AppError::invalid("schedule", format!("{line:?}: {problem}")));
        }
        actions.push(action);
    }
    Ok(actions)
}


/// The Create server group form as a task: one `deploy` job of one cluster (no strategy: the
/// new version joins the ones running), with its tags.
pub fn create_request(form: &CreateServerGroupForm) -> Result<TaskRequest> {
    let wrapped = |value: &str| Some(value.to_string());
    let sizes = ServerGroupForm { min: wrapped(&form.min), max: wrapped(&form.max), desired: wrapped(&form.desired), ..ServerGroupForm::default() };
    let capacity = capacity(&sizes, false)?.unwrap_or_default();
    let aws = form.cloud_provider.trim() == "aws";
    let command: Vec<String> = form.command.lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_string).collect();
    if command.is_empty() && !aws {
        return Err(AppError::invalid("command", "give the command the instances run, one argument per line"));
    }
    if aws {
        for (field, value) in [("account", &form.account), ("region", &form.region), ("image", &form.image)] {
            if value.trim().is_empty() {
                return Err(AppError::invalid(field, format!("an AWS server group needs its {field}")));
            }
        }
    }
    let mut tags = serde_json::Map::new();
    for line in form.tags.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let (key, value) = line.split_once('=').ok_or_else(|| AppError::invalid("tags", format!("each tag is KEY=VALUE, not {line:?}")))?;
        tags.insert(key.trim().to_string(), Value::String(value.trim().to_string()));
    }
    let load_balancers: Vec<&str> = form.load_balancers.split([',', ' ', '\n']).map(str::trim).filter(|name| !name.is_empty()).collect();
    let version = if form.version.trim().is_empty() { "v1" } else { form.version.trim() };
    let cluster = if aws {
        // As Spinnaker's AWS deploy stage writes a cluster; load balancers are target groups.
        let instance_type = if form.instance_type.trim().is_empty() { "t3.micro" } else { form.instance_type.trim() };
        json!({
            "application": form.application, "stack": form.stack.trim(), "freeFormDetails": form.detail.trim(),
            "cloudProvider": "aws", "account": form.account.trim(), "region": form.region.trim(),
            "capacity": capacity, "strategy": "", "targetGroups": load_balancers, "tags": tags,
            "amiName": form.image.trim(), "instanceType": instance_type,
        })
    } else {
        json!({
            "application": form.application, "stack": form.stack.trim(), "freeFormDetails": form.detail.trim(),
            "cloudProvider": "local", "account": "local", "region": "local",
            "capacity": capacity, "strategy": "", "loadBalancers": load_balancers, "tags": tags,
            "artifact": {"type": "command", "command": command, "version": version},
        })
    };
    let job = json!({"type": "deploy", "name": "Create server group", "clusters": [cluster]});
    let name = [form.application.as_str(), form.stack.trim(), form.detail.trim()].iter().filter(|part| !part.is_empty()).copied().collect::<Vec<_>>().join("-");
    Ok(TaskRequest { application: form.application.clone(), description: format!("Create server group in {name}"), job: vec![job] })
}

/// A Kubernetes workload's actions, as Spinnaker's manifest stages: scale (the Deployment that
/// owns a ReplicaSet, else the workload itself), undo the Deployment's rollout, send or stop a
/// versioned ReplicaSet's Services' traffic, delete.
fn kubernetes_task(form: &ServerGroupForm) -> Result<TaskRequest> {
    let workload = form.server_group.as_str();
    let deployment = given(&form.cluster).filter(|cluster| cluster.starts_with("deployment "));
    let job = |kind: &str, name: &str, manifest: &str| {
        json!({"type": kind, "name": name, "cloudProvider": "kubernetes", "account": form.account, "location": form.region, "manifestName": manifest})
    };
    let (description, job) = match form.action.as_str() {
        "resize" => {
            let replicas = number("desired", &form.desired)?;
            let target = deployment.unwrap_or(workload);
            let mut job = job("scaleManifest", "Scale", target);
            job["replicas"] = json!(replicas);
            (format!("Scale {target} to {replicas}"), job)
        }
        "undo" => {
            let target = deployment.ok_or_else(|| AppError::invalid("action", format!("{workload} is not managed by a Deployment: there is no rollout to undo")))?;
            let mut job = job("undoRolloutManifest", "Undo rollout", target);
            job["numRevisionsBack"] = json!(1);
            (format!("Undo the rollout of {target}"), job)
        }
        "enable" => (format!("Enable {workload}"), job("enableManifest", "Enable", workload)),
        "disable" => (format!("Disable {workload}"), job("disableManifest", "Disable", workload)),
        "destroy" => {
            if given(&form.confirm) != Some(workload) {
                return Err(AppError::invalid("confirm", format!("type {workload} to confirm that it is to be deleted")));
            }
            let mut job = job("deleteManifest", "Delete", workload);
            job["options"] = json!({"cascading": true});
            (format!("Delete {workload}"), job)
        }
        other => return Err(AppError::invalid("action", format!("{other:?} is not an action on Kubernetes workloads (scale, undo, enable, disable, destroy)"))),
    };
    Ok(TaskRequest { application: form.application.clone(), description, job: vec![job] })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(server_group: &str, action: &str) -> ServerGroupForm {
        ServerGroupForm {
            application: "demo".into(),
            cloud_provider: "local".into(),
            account: "local".into(),
            region: "local".into(),
            server_group: server_group.into(),
            action: action.into(),
            ..ServerGroupForm::default()
        }
    }

    fn sized(action: &str, min: &str, max: &str, desired: &str) -> ServerGroupForm {
        ServerGroupForm { min: Some(min.into()), max: Some(max.into()), desired: Some(desired.into()), ..form("demo-web-v000", action) }
    }

    #[test]
    fn resize_is_an_exact_scale_to_the_capacity() {
        let request = task_request(&sized("resize", "1", "3", "3")).unwrap();
        assert_eq!(request.application, "demo");
        assert_eq!(request.description, "Resize demo-web-v000 to min 1, max 3, desired 3");
        assert_eq!(
            request.job,
            vec![json!({
                "type": "resizeServerGroup", "name": "Resize", "cloudProvider": "local", "account": "local", "region": "local",
                "serverGroupName": "demo-web-v000", "action": "scale_exact", "capacity": {"min": 1, "max": 3, "desired": 3},
            })]
        );
    }

    #[test]
    fn bad_numbers_name_their_field() {
        assert_eq!(task_request(&sized("resize", "1", "three", "3")).unwrap_err().field(), Some("max"));
        assert_eq!(task_request(&sized("resize", "2", "3", "1")).unwrap_err().field(), Some("capacity"));
        assert_eq!(task_request(&form("demo-web-v000", "resize")).unwrap_err().field(), Some("min"));
    }

    #[test]
    fn clone_capacity_is_all_or_nothing() {
        let request = task_request(&sized("clone", "", " ", "")).unwrap();
        assert!(request.job[0].get("capacity").is_none());
        assert_eq!(task_request(&sized("clone", "1", "", "")).unwrap_err().field(), Some("max"));
    }

    #[test]
    fn destroy_needs_the_name_typed_again() {
        let mut destroy = ServerGroupForm { confirm: Some("demo-web-v00".into()), ..form("demo-web-v000", "destroy") };
        assert_eq!(task_request(&destroy).unwrap_err().field(), Some("confirm"));
        destroy.confirm = Some("demo-web-v000".into());
        assert_eq!(task_request(&destroy).unwrap().job[0]["type"], "destroyServerGroup");
    }

    #[test]
    fn rollback_restores_another_server_group() {
        let rollback = |name: &str| ServerGroupForm { restore: Some("demo-web-v000".into()), ..form(name, "rollback") };
        let request = task_request(&rollback("demo-web-v001")).unwrap();
        assert_eq!(request.job[0]["serverGroupName"], "demo-web-v001");
        assert_eq!(request.job[0]["restoreServerGroupName"], "demo-web-v000");
        assert_eq!(task_request(&rollback("demo-web-v000")).unwrap_err().field(), Some("restore"));
    }

    #[test]
    fn create_is_one_deploy_job_with_its_tags() {
        let form = CreateServerGroupForm {
            application: "shop".into(),
            stack: "web".into(),
            min: "1".into(),
            max: "2".into(),
            desired: "1".into(),
            command: "demo-app\n--version\nv3\n".into(),
            version: "v3".into(),
            load_balancers: "shop-web".into(),
            tags: "team = payments\ntier=front".into(),
            ..CreateServerGroupForm::default()
        };
        let request = create_request(&form).unwrap();
        assert_eq!(request.description, "Create server group in shop-web");
        let cluster = &request.job[0]["clusters"][0];
        assert_eq!(request.job[0]["type"], "deploy");
        assert_eq!(cluster["tags"], json!({"team": "payments", "tier": "front"}));
        assert_eq!(cluster["artifact"]["command"], json!(["demo-app", "--version", "v3"]));
        assert_eq!(cluster["loadBalancers"], json!(["shop-web"]));
        let untagged = CreateServerGroupForm { tags: "no equals".into(), ..form.clone() };
        assert_eq!(create_request(&untagged).unwrap_err().field(), Some("tags"));
        let commandless = CreateServerGroupForm { command: " ".into(), ..form };
        assert_eq!(create_request(&commandless).unwrap_err().field(), Some("command"));
    }

    #[test]
    fn kubernetes_actions_are_manifest_stages() {
        let workload = |action: &str| ServerGroupForm {
            cloud_provider: "kubernetes".into(),
            account: "k8s".into(),
            region: "shop".into(),
            cluster: Some("deployment web".into()),
            desired: Some("4".into()),
            ..form("replicaSet web-5d8f", action)
        };
        let scale = task_request(&workload("resize")).unwrap();
        assert_eq!(scale.job[0]["type"], "scaleManifest");
        assert_eq!(scale.job[0]["manifestName"], "deployment web", "a ReplicaSet of a Deployment is scaled through it");
        assert_eq!(scale.job[0]["location"], "shop");
        assert_eq!(scale.job[0]["replicas"], 4);
        assert_eq!(task_request(&workload("undo")).unwrap().job[0]["type"], "undoRolloutManifest");
        assert_eq!(task_request(&workload("enable")).unwrap().job[0]["manifestName"], "replicaSet web-5d8f");
        assert_eq!(task_request(&workload("rollback")).unwrap_err().field(), Some("action"));
        let lone = ServerGroupForm { cluster: Some("replicaSet web".into()), ..workload("undo") };
        assert_eq!(task_request(&lone).unwrap_err().field(), Some("action"));
        let delete = ServerGroupForm { confirm: Some("replicaSet web-5d8f".into()), ..workload("destroy") };
        assert_eq!(task_request(&delete).unwrap().job[0]["type"], "deleteManifest");
    }

    #[test]
    fn scaling_forms_become_scaling_jobs() {
        let mut tracking = form("shop-web-v002", "targetTracking");
        tracking.target_value = Some("600".into());
        tracking.disable_scale_in = Some("on".into());
        let request = task_request(&tracking).unwrap();
        assert_eq!(request.job[0]["type"], "upsertScalingPolicy");
        assert_eq!(request.job[0]["policy"]["targetTrackingConfiguration"]["disableScaleIn"], true);
        assert_eq!(request.job[0]["policy"]["targetTrackingConfiguration"]["predefinedMetricSpecification"]["predefinedMetricType"], "ALBRequestCountPerTarget");
        let mut step = form("shop-web-v002", "stepPolicy");
        step.metric = Some("RequestCount".into());
        step.comparison = Some("GreaterThanThreshold".into());
        step.threshold = Some("100".into());
        step.period = Some("60".into());
        step.evaluation_periods = Some("2".into());
        step.adjustment_type = Some("ChangeInCapacity".into());
        step.adjustment = Some("two".into());
        assert_eq!(task_request(&step).unwrap_err().field(), Some("adjustment"));
        step.adjustment = Some("2".into());
        let request = task_request(&step).unwrap();
        assert_eq!(request.job[0]["policy"]["stepAdjustments"][0]["metricIntervalLowerBound"], 0.0);
        let mut scheduled = form("shop-web-v002", "schedule");
        scheduled.schedule = Some("0 9 * * 1-5 min=2 desired=3\n0 18 * * * min=1 desired=1".into());
        let request = task_request(&scheduled).unwrap();
        assert_eq!(request.job[0]["scheduledActions"][0]["recurrence"], "0 9 * * 1-5");
        assert_eq!(request.job[0]["scheduledActions"][1]["desiredCapacity"], 1);
        scheduled.schedule = Some("daily min=2".into());
        assert_eq!(task_request(&scheduled).unwrap_err().field(), Some("schedule"));
        assert_eq!(schedule("0 9 * * * min=2 desired=3").unwrap()[0].line(), "0 9 * * * min=2 desired=3");
    }

    #[test]
    fn unknown_actions_are_refused() {
        assert_eq!(task_request(&form("demo-web-v000", "explode")).unwrap_err().field(), Some("action"));
    }
}
