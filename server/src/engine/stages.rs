//! The stage-type registry (Orca's `StageDefinitionBuilder`, one per stage type): each stage
//! type is one file under `stages/` that says its Spinnaker `type` name, the tasks it expands
//! into, what each task does (reading its typed configuration from the stage's evaluated
//! context), what cancel and timeout do, and the outputs it sets; its typed configuration and
//! the save-time checks of it; and what the editor shows of it (name, help, fields, defaults:
//! `describe`, served as `GET /api/v1/stageTypes`). The engine, validation and the editor find
//! a stage's definition here by its `type`; nothing else matches on stage types. A new stage
//! type is its file plus one line in [`REGISTRY`].

pub mod bake_manifest;
pub mod check_preconditions;
pub mod clone_server_group;
pub mod delete_load_balancer;
pub mod delete_manifest;
pub mod delete_security_group;
pub mod deploy;
pub mod deploy_manifest;
pub mod destroy_server_group;
pub mod disable_cluster;
pub mod disable_server_group;
pub mod enable_manifest;
pub mod enable_server_group;
pub mod evaluate_variables;
pub mod find_artifacts_from_resource;
pub mod find_image;
pub mod find_image_from_tags;
pub mod jenkins;
pub mod kayenta_canary;
pub mod kubernetes_server_group;
pub mod manual_judgment;
pub mod patch_manifest;
pub mod pipeline;
pub mod resize_server_group;
pub mod rollback_server_group;
pub mod run_job;
pub mod run_job_manifest;
pub mod scaling_policy;
pub mod scale_manifest;
pub mod scale_down_cluster;
pub mod shrink_cluster;
pub mod undo_rollout_manifest;
pub mod upsert_load_balancers;
pub mod upsert_security_group;
pub mod wait;
pub mod webhook;

use std::collections::BTreeMap;

use app::model::execution::{Execution, Stage};
use app::model::pipeline::{Invalid, Pipeline};
use app::model::stage_types::{StageCatalog, StageTypeInfo};
use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::tasks::{Effects, TaskResult};

/// A task's result and the keys it sets in its stage's context.
pub type Step = (TaskResult, Map<String, Value>);

/// One task of a stage, as the engine runs it.
#[derive(Clone, Copy)]
pub struct Task<'a> {
    pub execution: &'a Execution,
    pub stage: &'a Stage,
    /// Which of the stage type's `task_names` this is.
    pub index: usize,
    /// The engine clock's time.
    pub now: i64,
    pub effects: &'a Effects,
}

/// What a stage type is to the engine.
#[async_trait]
pub trait StageType: Send + Sync + 'static {
    /// Spinnaker's `type` (`wait`, `deploy`, ...).
    fn type_name(&self) -> &'static str;

    /// The tasks the stage expands into, in order.
    fn task_names(&self) -> &'static [&'static str];

    /// Runs task `task.index`: still running (look again later), succeeded with outputs, or
    /// failed.
    async fn run(&self, task: Task<'_>) -> Step;

    /// A running stage was canceled: stop what it started elsewhere. Most have nothing to undo.
    async fn cancel(&self, _execution_id: &str, _stage: &Stage, _effects: &Effects) {}

    /// The stage's timeout stopped it: undo what must be undone, said as a suffix of its error.
    async fn on_timeout(&self, _stage: &Stage, _effects: &Effects) -> String {
        String::new()
    }

    /// What the editor shows of the type: its name, help, fields and a new stage's fields
    /// (for a stage of `application`).
    fn describe(&self, application: &str) -> StageTypeInfo;

    /// Parses the stage's typed configuration and checks what serde cannot (names,
    /// capacities, strategies, targets) when a pipeline is saved; `config` is the stage's JSON.
    /// The fault names its field relative to the stage (`clusters[1].capacity`). Fields
    /// holding expressions are checked when the stage runs.
    fn validate(&self, config: &Value) -> Result<(), Fault>;

    /// The cloud accounts the stage changes (whoever runs it needs WRITE on each); an account
    /// written as an expression is returned as written.
    fn accounts(&self, _config: &Value) -> Vec<String> {
        Vec::new()
    }

    /// The cloud accounts the stage only reads (whoever runs it needs READ on each).
    fn accounts_read(&self, _config: &Value) -> Vec<String> {
        Vec::new()
    }

    /// Why this configuration cannot run on this server though the type is known (a cloud
    /// provider gennaker does not run yet, a placeholder where a URL belongs): the pipeline is
    /// kept with this as a warning, and refused when started. `None`: it can run.
    fn cannot_run(&self, config: &Value) -> Option<String> {
        other_cloud(config)
    }

    /// The applications whose server groups, clusters, load balancers or security groups the
    /// stage acts on, by the naming convention (`targets::application_of`); one written as an
    /// expression is returned as written. Acting on another application's needs WRITE on it.
    fn applications_acted_on(&self, _config: &Value) -> Vec<String> {
        Vec::new()
    }

    /// The applications whose pipelines the stage starts (whoever saves it needs EXECUTE on
    /// each); one written as an expression is returned as written.
    fn starts_pipelines_of(&self, _config: &Value) -> Vec<String> {
        Vec::new()
    }

    /// Whether the stage waits for a person's judgment (its start and end notify
    /// `manualJudgment`, `manualJudgmentContinue`, `manualJudgmentStop`).
    fn awaits_judgment(&self) -> bool {
        false
    }

    /// Checks the input a judge chose against the ones the stage offers.
    fn check_judgment_input(&self, _stage: &Stage, _input: &str) -> Result<(), String> {
        Ok(())
    }

    /// Whether a person may end the running stage early (a wait's Skip).
    fn skippable(&self) -> bool {
        false
    }
}

/// Every stage's answer to `ask`, over a pipeline's stages.
fn gather(pipeline: &Pipeline, ask: impl Fn(&dyn StageType, &Value) -> Vec<String>) -> std::collections::BTreeSet<String> {
    pipeline
        .stages
        .iter()
        .filter_map(|stage| Some((find(&stage.type_name)?, serde_json::to_value(stage).ok()?)))
        .flat_map(|(stage_type, config)| ask(stage_type, &config))
        .collect()
}

/// A stage aimed at a cloud provider other than `local` (Spinnaker's `cloudProvider`, or
/// `provider` in older pipelines): gennaker runs only the local cloud so far.
/// The server-group clouds every cluster stage runs on.
pub const SERVER_GROUP_CLOUDS: &[&str] = &["local", "aws"];

pub fn other_cloud(config: &Value) -> Option<String> {
    let provider = config.get("cloudProvider").or_else(|| config.get("provider")).and_then(Value::as_str)?;
    (!SERVER_GROUP_CLOUDS.contains(&provider) && !has_expression(provider)).then(|| format!("it acts on cloud provider {provider:?}, which gennaker does not run yet"))
}

/// For the generic server-group stages that also act on Kubernetes server groups: any
/// provider but `local` and `kubernetes` cannot run.
pub fn server_group_cloud(config: &Value) -> Option<String> {
    let provider = config.get("cloudProvider").or_else(|| config.get("provider")).and_then(Value::as_str);
    if provider == Some("kubernetes") { None } else { other_cloud(config) }
}

/// The cloud accounts a pipeline's stages change.
pub fn accounts_of(pipeline: &Pipeline) -> std::collections::BTreeSet<String> {
    gather(pipeline, |stage_type, config| stage_type.accounts(config))
}

/// The cloud accounts a pipeline's stages read.
pub fn accounts_read_by(pipeline: &Pipeline) -> std::collections::BTreeSet<String> {
    gather(pipeline, |stage_type, config| stage_type.accounts_read(config))
}

/// The applications whose resources a pipeline's stages act on.
pub fn applications_acted_on(pipeline: &Pipeline) -> std::collections::BTreeSet<String> {
    gather(pipeline, |stage_type, config| stage_type.applications_acted_on(config))
}

/// The applications whose pipelines a pipeline's stages start.
pub fn applications_started_by(pipeline: &Pipeline) -> std::collections::BTreeSet<String> {
    gather(pipeline, |stage_type, config| stage_type.starts_pipelines_of(config))
}

/// A configuration fault: the field (relative to the stage) and what is wrong with it.
pub type Fault = (String, String);

/// The stage's typed configuration, for `validate`: read as Spinnaker reads it (loose values
/// coerced, `app::model::lenient`); a missing or mistyped field is a fault naming it.
pub fn parse<T: DeserializeOwned>(config: &Value) -> Result<T, Fault> {
    app::model::lenient::from_value(config).map_err(|fault| (fault.path, fault.message))
}

/// True when a field holds an expression (checked when the stage runs, not at save).
pub fn has_expression(text: &str) -> bool {
    text.contains("${")
}

/// Each stage's own checks (its type's `validate`), after `Pipeline::validate`'s checks of the
/// whole: a save, a dry run and an ad-hoc task all pass through here. A stage of a type this
/// build does not run is not a fault: the pipeline is kept (Spinnaker's pipelines use many
/// such types) with a warning for each, and refused when started ([`not_runnable`]).
pub fn validate_pipeline(pipeline: &Pipeline) -> Result<Vec<String>, Invalid> {
    for (index, stage) in pipeline.stages.iter().enumerate() {
        let Some(stage_type) = find(&stage.type_name) else { continue };
        let config = serde_json::to_value(stage).unwrap_or_default();
        if stage_type.cannot_run(&config).is_some() {
            continue;
        }
        stage_type.validate(&config).map_err(|(field, message)| Invalid::stage(index, &stage.ref_id, &field, message))?;
    }
    Ok(not_runnable(pipeline))
}

/// One line per stage this build cannot run (a type it lacks, or a configuration it does not
/// support), naming the stage, its type and why.
pub fn not_runnable(pipeline: &Pipeline) -> Vec<String> {
    pipeline
        .stages
        .iter()
        .filter_map(|stage| {
            let why = match find(&stage.type_name) {
                None => "gennaker does not run this stage type yet".to_string(),
                Some(stage_type) => stage_type.cannot_run(&serde_json::to_value(stage).unwrap_or_default())?,
            };
            let name = if stage.name.is_empty() { format!("refId {}", stage.ref_id) } else { format!("{:?} (refId {})", stage.name, stage.ref_id) };
            Some(format!("stage {name} of type {:?} cannot run: {why}; the pipeline is kept but cannot start", stage.type_name))
        })
        .collect()
}

/// Every stage type this build runs, one line each.
pub static REGISTRY: &[&dyn StageType] = &[
    &wait::Wait,
    &manual_judgment::ManualJudgment,
    &check_preconditions::CheckPreconditions,
    &evaluate_variables::EvaluateVariables,
    &webhook::Webhook,
    &jenkins::Jenkins,
    &pipeline::RunPipeline,
    &deploy::Deploy,
    &resize_server_group::ResizeServerGroup,
    &enable_server_group::EnableServerGroup,
    &disable_server_group::DisableServerGroup,
    &destroy_server_group::DestroyServerGroup,
    &rollback_server_group::RollbackServerGroup,
    &clone_server_group::CloneServerGroup,
    &find_image::FindImage,
    &find_image_from_tags::FindImageFromTags,
    &shrink_cluster::ShrinkCluster,
    &disable_cluster::DisableCluster,
    &scale_down_cluster::ScaleDownCluster,
    &run_job::RunJob,
    &deploy_manifest::DeployManifest,
    &delete_manifest::DeleteManifest,
    &scale_manifest::ScaleManifest,
    &patch_manifest::PatchManifest,
    &undo_rollout_manifest::UndoRolloutManifest,
    &enable_manifest::ENABLE,
    &enable_manifest::DISABLE,
    &run_job_manifest::RunJobManifest,
    &find_artifacts_from_resource::FindArtifactsFromResource,
    &bake_manifest::BakeManifest,
    &upsert_load_balancers::UpsertLoadBalancers,
    &delete_load_balancer::DeleteLoadBalancer,
    &upsert_security_group::UpsertSecurityGroup,
    &delete_security_group::DeleteSecurityGroup,
    &scaling_policy::UpsertScalingPolicy,
    &scaling_policy::DeleteScalingPolicy,
    &scaling_policy::UpsertScheduledActions,
    &kayenta_canary::KayentaCanary,
];

/// What the editor shows of every stage type, in the order its Add menu offers them.
pub fn catalog(application: &str) -> StageCatalog {
    let mut types: Vec<StageTypeInfo> = REGISTRY.iter().map(|stage_type| stage_type.describe(application)).collect();
    // The Add menu's order: what most pipelines use first.
    let first = ["deploy", "manualJudgment", "wait"];
    types.sort_by_key(|info| first.iter().position(|name| *name == info.type_name).unwrap_or(first.len()));
    StageCatalog(types)
}

/// The definition of stage type `type_name`, if this build knows it.
pub fn find(type_name: &str) -> Option<&'static dyn StageType> {
    // Orca's old names for stage types that were renamed.
    let type_name = match type_name {
        "findAmi" => "findImage",
        other => other,
    };
    REGISTRY.iter().copied().find(|stage_type| stage_type.type_name() == type_name)
}

/// The stage's typed configuration, read from its (evaluated) context.
pub fn config<T: DeserializeOwned>(stage: &Stage) -> Result<T, String> {
    app::model::lenient::from_value(&stage.context).map_err(|fault| format!("stage {} is misconfigured: {fault}", stage.name))
}

pub fn failed(error: impl Into<String>) -> Step {
    (TaskResult::Failed { error: error.into() }, Map::new())
}

pub fn succeeded(outputs: BTreeMap<String, Value>) -> Step {
    (TaskResult::Succeeded { outputs }, Map::new())
}

/// Reads the stage's configuration or fails the task with the reason.
macro_rules! config_or_fail {
    ($stage:expr) => {
        match $crate::engine::stages::config($stage) {
            Ok(config) => config,
            Err(error) => return $crate::engine::stages::failed(error),
        }
    };
}
pub(crate) use config_or_fail;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_stage_type_is_registered_once() {
        let names: Vec<&str> = REGISTRY.iter().map(|stage_type| stage_type.type_name()).collect();
        let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len(), "a type registered twice: {names:?}");
        for stage_type in REGISTRY {
            assert!(!stage_type.task_names().is_empty(), "{} has tasks", stage_type.type_name());
        }
    }

    #[test]
    fn every_stage_type_tells_the_editor_its_name_and_fields_once() {
        let catalog = catalog("shop");
        assert_eq!(catalog.0.len(), REGISTRY.len());
        assert_eq!(catalog.0[0].type_name, "deploy", "the Add menu starts with deploy");
        for info in &catalog.0 {
            assert_ne!(info.label, info.type_name, "{} has a name users know", info.type_name);
            assert!(!info.description.is_empty(), "{} says what it does", info.type_name);
            assert!(info.defaults.is_object(), "{}'s defaults are an object", info.type_name);
            for fields in std::iter::once(&info.fields).chain(info.lists.iter().map(|list| &list.fields)) {
                let keys: Vec<&str> = fields.iter().map(|field| field.key.as_str()).collect();
                let unique: std::collections::BTreeSet<&str> = keys.iter().copied().collect();
                assert_eq!(keys.len(), unique.len(), "{} lists a field twice", info.type_name);
            }
        }
        let wait = catalog.find("wait").unwrap();
        assert!(wait.fields.iter().any(|field| field.key == "waitTime"));
        let deploy = catalog.find("deploy").unwrap();
        assert!(deploy.lists[0].fields.iter().any(|field| field.key == "strategy"));
        assert_eq!(deploy.defaults["clusters"][0]["application"], "shop");
    }
}

#[cfg(test)]
mod validation_tests {
    use app::model::pipeline::parse_pipeline;
    use serde_json::{Value, json};

    use super::{REGISTRY, validate_pipeline};

    fn field_at_fault(stages: Value) -> String {
        let pipeline = parse_pipeline(&json!({"application": "shop", "name": "p", "stages": stages})).unwrap();
        validate_pipeline(&pipeline).unwrap_err().field
    }

    #[test]
    fn each_stage_type_checks_its_own_fields() {
        let capacity = json!([{"refId": "1", "type": "deploy", "clusters": [
            {"application": "shop", "capacity": {"min": 1, "max": 1, "desired": 1}},
            {"application": "shop", "capacity": {"min": 2, "max": 1, "desired": 1}}
        ]}]);
        assert_eq!(field_at_fault(capacity), "stages[0].clusters[1].capacity");
        let strategy = json!([{"refId": "1", "type": "deploy", "clusters": [{"application": "shop", "strategy": "yolo",
            "capacity": {"min": 1, "max": 1, "desired": 1}}]}]);
        assert_eq!(field_at_fault(strategy), "stages[0].clusters[0].strategy");
        assert_eq!(field_at_fault(json!([{"refId": "1", "type": "wait", "waitTime": "soon"}])), "stages[0].waitTime");
        assert_eq!(field_at_fault(json!([{"refId": "1", "type": "webhook"}])), "stages[0].url", "a missing field is named");
        assert_eq!(field_at_fault(json!([{"refId": "1", "type": "runJob", "command": []}])), "stages[0].command");
        // Loose values are read as Spinnaker reads them; an unknown type is a warning.
        let loose = json!([{"refId": "1", "type": "wait", "waitTime": "30"}, {"refId": "2", "type": "deploy", "clusters": [
            {"application": "shop", "capacity": {"min": "1", "max": "2", "desired": "1"}, "scaleDown": "false"}]},
            {"refId": "3", "type": "wait"}, {"refId": "4", "type": "teleport"},
            {"refId": "5", "type": "webhook", "url": "<webhook_url>"},
            {"refId": "6", "type": "deploy", "clusters": [{"cloudProvider": "gce", "account": "prod", "application": "shop"}]}]);
        let pipeline = parse_pipeline(&json!({"application": "shop", "name": "p", "stages": loose})).unwrap();
        let warnings = validate_pipeline(&pipeline).unwrap();
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].contains("refId 4") && warnings[0].contains("\"teleport\""), "{warnings:?}");
        assert!(warnings[1].contains("<webhook_url>"), "a placeholder URL is kept: {warnings:?}");
        assert!(warnings[2].contains("\"gce\""), "another cloud is kept: {warnings:?}");
        assert_eq!(
            field_at_fault(json!([{"refId": "1", "type": "disableServerGroup", "cluster": "shop-web"}])),
            "stages[0].target",
            "a cluster needs a target selector"
        );
    }

    #[test]
    fn the_editors_defaults_pass_every_stage_types_checks() {
        for stage_type in REGISTRY {
            let kind = stage_type.type_name();
            // The pipeline stage's empty name, and a Kubernetes stage's account and object, are
            // for the user to fill in (there is no account every cluster has).
            if kind == "pipeline" || stage_type.describe("shop").defaults["cloudProvider"] == "kubernetes" {
                continue;
            }
            let mut stage = stage_type.describe("shop").defaults;
            stage["refId"] = json!("1");
            stage["type"] = json!(kind);
            let pipeline = parse_pipeline(&json!({"application": "shop", "name": "p", "stages": [stage]})).unwrap();
            pipeline.validate(&|_| Ok(())).unwrap_or_else(|error| panic!("{kind}: {error}"));
            validate_pipeline(&pipeline).unwrap_or_else(|error| panic!("{kind}: {error}"));
            for list in stage_type.describe("shop").lists {
                let mut with_item = pipeline.clone();
                let items = with_item.stages[0].fields.get_mut(&list.key).and_then(Value::as_array_mut).unwrap();
                items.push(list.new_item.clone());
                validate_pipeline(&with_item).unwrap_or_else(|error| panic!("{kind} with a new {}: {error}", list.noun));
            }
        }
    }
}

#[cfg(test)]
mod access_tests {
    use app::model::pipeline::parse_pipeline;
    use serde_json::json;

    use super::{accounts_of, applications_started_by};

    #[test]
    fn stages_say_which_accounts_they_change_and_which_pipelines_they_start() {
        let pipeline = parse_pipeline(&json!({"application": "shop", "name": "p", "stages": [
            {"refId": "1", "type": "wait", "waitTime": 1},
            {"refId": "2", "type": "disableServerGroup", "cloudProvider": "local", "account": "prod", "region": "local",
             "cluster": "shop-web", "target": "current_asg_dynamic"},
            {"refId": "3", "type": "runJob", "account": "${parameters.account}", "command": ["true"]},
            {"refId": "4", "type": "pipeline", "application": "billing", "pipeline": "nightly"}
        ]}))
        .unwrap();
        let accounts: Vec<String> = accounts_of(&pipeline).into_iter().collect();
        assert_eq!(accounts, ["${parameters.account}", "prod"]);
        let started: Vec<String> = applications_started_by(&pipeline).into_iter().collect();
        assert_eq!(started, ["billing"]);
    }
}
