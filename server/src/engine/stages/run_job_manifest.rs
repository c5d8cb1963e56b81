//! `runJobManifest`: runs a Kubernetes Job to completion, as Spinnaker's Run Job (Manifest)
//! stage does (Orca's `RunJobStage` with its `KubernetesJobRunner`, Clouddriver's
//! `KubernetesRunJobOperation` and `KubernetesJobProvider`). The Job is written in the stage
//! (`manifest`, or the first Job of `manifests`) or read from an artifact (`source:
//! "artifact"`); it gets the moniker annotations and the run's Docker images, is created, and
//! the stage waits until it has completed; a failed Job fails the stage with its pod's exit
//! code. Canceling the stage, or its timeout, deletes the Job and its pods.
//!
//! **Names.** Spinnaker 1.22 and later delete a named Job and create it again under the same
//! name; gennaker gives a named Job a suffix the API server makes unique (`migrate` runs as
//! `migrate-x7k2p`: Kubernetes' `generateName`, and Spinnaker's own behaviour before 1.22), so
//! runs of one pipeline never collide, concurrent runs do not delete each other's Job, and each
//! run's Job and pods stay to be looked at. A Job annotated `strategy.spinnaker.io/recreate:
//! "true"` keeps its name: the previous Job of that name is deleted first. Creating is
//! idempotent: the Job carries a label naming the stage run, and a task run again finds it
//! instead of creating a second one.
//!
//! **Outputs** (Orca's keys): `deploy.jobs` (`{namespace: ["job migrate-x7k2p"]}`),
//! `deploy.account.name`, `outputs.manifestNamesByNamespace`, `outputs.manifests`,
//! `outputs.boundArtifacts`, `outputs.createdArtifacts`; once it ended `jobStatus` (Clouddriver's
//! `KubernetesJobStatus`: `name`, `location`, `jobState`, `createdTime`, `completedTime`,
//! `pods` with their phase, exit code and status, `failureDetails`, ...) and
//! `completionDetails`, kept in the stage's context too (also when it failed).
//!
//! **Properties.** With `propertyFile` (the name of the container whose log to read), the log
//! of the Job's pod is read through the API server (Spinnaker's `kubectl logs`) and its
//! properties become outputs and `propertyFileContents`: lines `SPINNAKER_PROPERTY_KEY=value`
//! (the key lowercased, as Clouddriver's `PropertyParser`), a line `SPINNAKER_CONFIG_JSON={...}`,
//! and gennaker's `runJob` form, a line `SPINNAKER_PROPERTIES` then `KEY=VALUE` lines. A log
//! that cannot be read (no kubelet serves it) is said in `propertyFileError`; the stage still
//! succeeds. With `consumeArtifactSource: "artifact"`, the bound artifact `consumeArtifactId`
//! (a JSON object) becomes outputs once the Job succeeded.

use std::collections::BTreeMap;
use std::time::Duration;

use app::model::artifact::Artifact;
use app::model::execution::Stage;
use app::model::pipeline::Extra;
use app::model::stage_types::{Field, Input, StageTypeInfo, choices};
use async_trait::async_trait;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject, LogParams, PostParams};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::deploy_manifest::{StageMoniker, kubernetes_only, without_managed_fields};
use super::{StageType, Step, Task, config_or_fail, failed, succeeded};
use crate::cloud::kubernetes::manifest::{self, Stability};
use crate::cloud::kubernetes::operations::{FIELD_MANAGER, Resource};
use crate::cloud::kubernetes::{Connection, view};
use crate::engine::manifests::{artifact_text, bound_artifact, connect, manifests_from_artifact, run_artifacts};
use crate::engine::server_groups::running;
use crate::engine::stage_forms as F;
use crate::engine::tasks::{Effects, TaskResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunJobManifestStage {
    #[serde(default)]
    pub account: String,
    /// Where older pipelines name the account.
    #[serde(default)]
    pub credentials: String,
    #[serde(default)]
    pub application: String,
    #[serde(default)]
    pub moniker: StageMoniker,
    /// `text` (the stage's `manifest` or `manifests`) or `artifact`.
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub manifest: Option<Value>,
    #[serde(default)]
    pub manifests: Vec<Value>,
    #[serde(default)]
    pub manifest_artifact_id: String,
    #[serde(default)]
    pub manifest_artifact: Option<Artifact>,
    #[serde(default)]
    pub namespace_override: String,
    #[serde(default)]
    pub required_artifact_ids: Vec<String>,
    /// The container whose log holds the properties.
    #[serde(default)]
    pub property_file: String,
    /// `none`, `propertyFile` or `artifact`.
    #[serde(default)]
    pub consume_artifact_source: String,
    #[serde(default)]
    pub consume_artifact_id: String,
    #[serde(default = "waits")]
    pub wait_for_completion: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

fn waits() -> bool {
    true
}

impl RunJobManifestStage {
    pub fn account(&self) -> &str {
        if self.account.is_empty() { &self.credentials } else { &self.account }
    }

    fn reads_artifact(&self) -> bool {
        self.source == "artifact"
            || (self.written().is_empty() && (!self.manifest_artifact_id.is_empty() || self.manifest_artifact.is_some()))
    }

    /// The manifests written in the stage: `manifest`, else `manifests`.
    fn written(&self) -> Vec<Value> {
        match &self.manifest {
            Some(one) if !one.is_null() => vec![one.clone()],
            _ => manifest::expand_lists(self.manifests.clone()),
        }
    }

    fn written_field(&self) -> &'static str {
        if self.manifest.as_ref().is_some_and(|one| !one.is_null()) { "manifest" } else { "manifests" }
    }
}

/// The label naming the stage run a Job was created for.
const RUN_LABEL: &str = "gennaker.io/stage-run";
/// Spinnaker's annotation asking for a Job to keep its name (the previous one is deleted).
const RECREATE: &str = "strategy.spinnaker.io/recreate";
/// The most log lines read for properties (the end of the log, where jobs print them).
const LOG_LINES: i64 = 10_000;
const LOG_TIMEOUT: Duration = Duration::from_secs(15);

pub struct RunJobManifest;

#[async_trait]
impl StageType for RunJobManifest {
    fn type_name(&self) -> &'static str {
        "runJobManifest"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        F::info(
            "runJobManifest",
            "Run Job (Manifest)",
            "Runs a Kubernetes Job until it completes; a failed Job fails the stage. Properties the job prints (SPINNAKER_PROPERTY_KEY=value) become outputs.",
            vec![
                Field::new("account", "Account", Input::Text, "The Kubernetes account."),
                Field::new("namespaceOverride", "Namespace", Input::Text, "Run the Job in this namespace (default: the manifest's own, else the account's)."),
                Field::new("source", "Manifest source", choices(&[("text", "Text"), ("artifact", "Artifact")]), ""),
                Field::new("manifest", "Job", Input::Json, "The Job manifest. A named Job runs as name-xxxxx, so runs never collide.").when("source", "text"),
                Field::new("manifestArtifactId", "Manifest artifact", Input::Text, "The id of a bound expected artifact holding the Job.").when("source", "artifact"),
                Field::new(
                    "consumeArtifactSource",
                    "Outputs from",
                    choices(&[("none", "Nothing"), ("propertyFile", "The container's log"), ("artifact", "An artifact")]),
                    "Where the job's outputs are read once it succeeded.",
                ),
                Field::new("propertyFile", "Container", Input::Text, "The container whose log holds SPINNAKER_PROPERTY_KEY=value lines.").when("consumeArtifactSource", "propertyFile"),
                Field::new("consumeArtifactId", "Artifact", Input::Text, "The id of a bound expected artifact holding a JSON object.").when("consumeArtifactSource", "artifact"),
                Field::new("waitForCompletion", "Wait for completion", Input::CheckOn, "Unchecked, the stage ends once the Job is created."),
            ],
            json!({"cloudProvider": "kubernetes", "account": "", "application": application, "source": "text", "consumeArtifactSource": "none",
                "manifest": {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": application},
                    "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
                        "containers": [{"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", "echo SPINNAKER_PROPERTY_DONE=true"]}]}}}}}),
        )
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["runJob", "waitOnJobCompletion", "consumeArtifact"]
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        let stage: RunJobManifestStage = super::parse(config)?;
        if stage.account().is_empty() {
            return Err(("account".into(), "name the Kubernetes account".into()));
        }
        if stage.reads_artifact() {
            if stage.manifest_artifact_id.is_empty() && stage.manifest_artifact.is_none() {
                return Err(("manifestArtifactId".into(), "name the artifact holding the Job".into()));
            }
        } else {
            let field = stage.written_field();
            let written = stage.written();
            manifest::check(&written).map_err(|e| (field.to_string(), e.to_string()))?;
            if !written.iter().any(|one| manifest::kind(one) == "Job") {
                return Err((field.into(), "a run job runs a Job: no manifest here is of kind Job".into()));
            }
        }
        match stage.consume_artifact_source.as_str() {
            "" | "none" => {}
            "propertyFile" if stage.property_file.is_empty() => {
                return Err(("propertyFile".into(), "name the container whose log holds the properties".into()));
            }
            "propertyFile" => {}
            "artifact" if stage.consume_artifact_id.is_empty() => {
                return Err(("consumeArtifactId".into(), "name the expected artifact holding the outputs".into()));
            }
            "artifact" => {}
            _ => return Err(("consumeArtifactSource".into(), "one of none, propertyFile, artifact".into())),
        }
        Ok(())
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<RunJobManifestStage>(config).map(|stage| vec![stage.account().to_string()]).unwrap_or_default()
    }

    fn cannot_run(&self, config: &Value) -> Option<String> {
        let named_in_credentials = config.get("credentials").and_then(Value::as_str).is_some_and(|account| !account.is_empty());
        kubernetes_only(config)
            .or_else(|| if named_in_credentials { None } else { super::deploy_manifest::unfinished(config) })
            .or_else(|| {
                // Kept as Spinnaker keeps a stage saved before its Job was written.
                let from_artifact = config.get("source").and_then(Value::as_str) == Some("artifact");
                let empty = |value: Option<&Value>| value.is_none_or(|value| value.is_null() || value.as_object().is_some_and(Map::is_empty) || value.as_array().is_some_and(Vec::is_empty));
                (!from_artifact && empty(config.get("manifest")) && empty(config.get("manifests"))).then(|| "it has no Job manifest".to_string())
            })
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: RunJobManifestStage = config_or_fail!(task.stage);
        let outcome = match task.index {
            0 => start(task, &config).await,
            1 => wait(task, &config).await,
            _ => consume(task, &config).await,
        };
        outcome.unwrap_or_else(failed)
    }

    /// Deletes the Job the stage started (Orca's `cancelWait`).
    async fn cancel(&self, execution_id: &str, stage: &Stage, effects: &Effects) {
        if let Err(error) = delete_job(Some(execution_id), stage, effects).await {
            tracing::warn!(%error, stage = %stage.id, "could not delete the canceled stage's Kubernetes Job");
        }
    }

    async fn on_timeout(&self, stage: &Stage, effects: &Effects) -> String {
        match delete_job(None, stage, effects).await {
            Ok(Some(deleted)) => format!("; {deleted} deleted"),
            Ok(None) => String::new(),
            Err(error) => format!("; deleting its Job failed: {error}"),
        }
    }
}

/// The label value naming one run of one stage (a restarted stage is a new run).
fn run_key(execution_id: &str, stage: &Stage) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{execution_id}/{}/{}", stage.id, stage.start_time.unwrap_or_default()));
    format!("{digest:x}")[..20].to_string()
}

/// The Job manifest the stage runs, as written or read from its artifact.
async fn job_manifest(task: Task<'_>, config: &RunJobManifestStage) -> Result<Value, String> {
    let manifests = if config.reads_artifact() {
        manifests_from_artifact(task.effects, task.execution, &config.manifest_artifact_id, config.manifest_artifact.as_ref()).await?
    } else {
        config.written()
    };
    manifest::check(&manifests).map_err(|e| e.to_string())?;
    manifests.into_iter().find(|one| manifest::kind(one) == "Job").ok_or_else(|| "a run job runs a Job: no manifest is of kind Job".to_string())
}

/// Creates the Job (or finds the one this stage run created before).
async fn start(task: Task<'_>, config: &RunJobManifestStage) -> Result<Step, String> {
    let connection = connect(task.effects, config.account()).await?;
    let mut job = job_manifest(task, config).await?;
    let resource = connection.resource(manifest::api_version(&job), "Job").await.map_err(|e| e.to_string())?;
    let namespace = if !config.namespace_override.is_empty() {
        config.namespace_override.clone()
    } else if !manifest::namespace(&job).is_empty() {
        manifest::namespace(&job).to_string()
    } else {
        connection.default_namespace.clone()
    };
    connection.check_namespace(&namespace).map_err(|e| e.to_string())?;
    let key = run_key(&task.execution.id, task.stage);
    let selector = format!("{RUN_LABEL}={key}");
    let earlier = connection.list(&resource, &namespace, Some(&selector)).await.map_err(|e| e.to_string())?;
    if let Some(created) = earlier.into_iter().next() {
        return Ok(started(config, &namespace, created, Vec::new()));
    }

    let application = if !config.moniker.app.is_empty() {
        config.moniker.app.clone()
    } else if !config.application.is_empty() {
        config.application.clone()
    } else {
        task.execution.application.clone()
    };
    let mut artifacts = run_artifacts(task.execution);
    let mut required = Vec::new();
    for id in &config.required_artifact_ids {
        let artifact = bound_artifact(task.execution, id)?;
        if !artifacts.contains(&artifact) {
            artifacts.insert(0, artifact.clone());
        }
        required.push(artifact);
    }
    let bound = manifest::bind_images(&mut job, &artifacts);
    let unbound: Vec<String> = required.iter().filter(|artifact| artifact.kind == "docker/image" && !bound.contains(artifact)).map(|a| a.reference.clone()).collect();
    if !unbound.is_empty() {
        return Err(format!("required artifacts were not bound into the Job (no container runs these images): {}", unbound.join(", ")));
    }
    let name = manifest::name(&job).to_string();
    let generated = job.pointer("/metadata/generateName").and_then(Value::as_str).unwrap_or_default().to_string();
    let base_name = if name.is_empty() { generated.trim_end_matches('-').to_string() } else { name.clone() };
    job["metadata"]["namespace"] = json!(namespace);
    manifest::annotate(&mut job, &application, &namespace, &base_name, None);
    job["metadata"]["labels"][RUN_LABEL] = json!(key);
    manifest::fill_default_protocols(&mut job);
    let recreate = !name.is_empty() && manifest::annotations(&job).get(RECREATE).map(String::as_str) == Some("true");
    if recreate {
        // Spinnaker's recreate: the previous Job of this name goes first (with its pods).
        connection.delete(&resource, &namespace, &name, true, None).await.map_err(|e| e.to_string())?;
    } else if !name.is_empty()
        && let Some(metadata) = job["metadata"].as_object_mut()
    {
        metadata.remove("name");
        metadata.insert("generateName".into(), json!(format!("{name}-")));
    }
    let object: DynamicObject = serde_json::from_value(job).map_err(|e| format!("the Job manifest: {e}"))?;
    let api: Api<DynamicObject> = Api::namespaced_with(connection.client.clone(), &namespace, &resource.api);
    let params = PostParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
    match api.create(&params, &object).await {
        Ok(created) => Ok(started(config, &namespace, serde_json::to_value(created).expect("an API object serializes"), bound)),
        // The previous Job of that name is still being deleted: try again shortly.
        Err(kube::Error::Api(status)) if recreate && status.code == 409 => Ok(running()),
        Err(error) => Err(format!("job {base_name}: {}", crate::cloud::kubernetes::Error::from(error))),
    }
}

/// The outputs of a created Job.
fn started(config: &RunJobManifestStage, namespace: &str, created: Value, bound: Vec<Artifact>) -> Step {
    let name = manifest::name(&created).to_string();
    let base_name = manifest::annotations(&created).get(manifest::ARTIFACT_NAME).cloned().unwrap_or_else(|| name.clone());
    let jobs = json!({namespace: [manifest::manifest_name("Job", &name)]});
    let mut outputs = BTreeMap::new();
    outputs.insert("deploy.account.name".into(), json!(config.account()));
    outputs.insert("deploy.jobs".into(), jobs.clone());
    outputs.insert("outputs.manifestNamesByNamespace".into(), jobs.clone());
    outputs.insert("outputs.manifests".into(), json!([without_managed_fields(created)]));
    outputs.insert("outputs.boundArtifacts".into(), json!(bound));
    outputs.insert("outputs.createdArtifacts".into(), json!([{"type": "kubernetes/job", "name": base_name, "reference": name, "location": namespace}]));
    let mut context = Map::new();
    context.insert("deploy.jobs".into(), jobs);
    (TaskResult::Succeeded { outputs }, context)
}

/// The namespace and name of the Job the stage created (its `deploy.jobs`).
fn job_of(stage: &Stage) -> Option<(String, String)> {
    let jobs = stage.outputs.get("deploy.jobs").or_else(|| stage.context.get("deploy.jobs"))?.as_object()?;
    let (namespace, names) = jobs.iter().next()?;
    let (_, name) = manifest::split_manifest_name(names.as_array()?.first()?.as_str()?).ok()?;
    Some((namespace.clone(), name))
}

/// The pods of a Job (by its selector), oldest first.
async fn pods_of(connection: &Connection, namespace: &str, job: &Value) -> Result<Vec<Value>, String> {
    let selector: Vec<String> = manifest::string_map(job.pointer("/spec/selector/matchLabels")).into_iter().map(|(key, value)| format!("{key}={value}")).collect();
    if selector.is_empty() {
        return Ok(Vec::new());
    }
    let pods = connection.resource("v1", "Pod").await.map_err(|e| e.to_string())?;
    let mut listed = connection.list(&pods, namespace, Some(&selector.join(","))).await.map_err(|e| e.to_string())?;
    listed.sort_by_key(|pod| view::millis(pod.pointer("/status/startTime").or_else(|| pod.pointer("/metadata/creationTimestamp"))));
    Ok(listed)
}

/// Waits until the Job has completed (or failed); its status goes to the stage's context as it goes.
async fn wait(task: Task<'_>, config: &RunJobManifestStage) -> Result<Step, String> {
    let Some((namespace, name)) = job_of(task.stage) else {
        return Err("the stage has no Job (deploy.jobs) to wait for".into());
    };
    let connection = connect(task.effects, config.account()).await?;
    let resource = connection.resource("batch/v1", "Job").await.map_err(|e| e.to_string())?;
    let Some(job) = connection.get(&resource, &namespace, &name).await.map_err(|e| e.to_string())? else {
        return Err(format!("job {name} in {namespace} is gone (deleted outside gennaker?)"));
    };
    let pods = pods_of(&connection, &namespace, &job).await?;
    let status = job_status(&job, &pods, config.account());
    let mut context = Map::new();
    context.insert("jobStatus".into(), status.clone());
    context.insert("completionDetails".into(), status["completionDetails"].clone());
    match manifest::stability(&job) {
        Stability::Waiting(_) if config.wait_for_completion => Ok((running().0, context)),
        Stability::Failed(_) => Ok((TaskResult::Failed { error: failure_message(&status) }, context)),
        Stability::Stable | Stability::Waiting(_) => {
            let mut outputs: BTreeMap<String, Value> = context.clone().into_iter().collect();
            if !config.property_file.is_empty() && status["jobState"] == "Succeeded" {
                match properties_of(&connection, &namespace, &status, &config.property_file).await {
                    Ok(properties) if properties.is_empty() => {
                        return Err(format!(
                            "propertyFile: the log of container {:?} of job {name} has no properties (SPINNAKER_PROPERTY_KEY=value, SPINNAKER_CONFIG_JSON={{...}} or SPINNAKER_PROPERTIES)",
                            config.property_file
                        ));
                    }
                    Ok(properties) => {
                        context.insert("propertyFileContents".into(), Value::Object(properties.clone()));
                        outputs.insert("propertyFileContents".into(), Value::Object(properties.clone()));
                        outputs.extend(properties);
                    }
                    Err(error) => {
                        outputs.insert("propertyFileError".into(), json!(error));
                    }
                }
            }
            Ok((TaskResult::Succeeded { outputs }, context))
        }
    }
}

/// The properties the Job's pod printed (the first succeeded pod's, else the newest pod's).
async fn properties_of(connection: &Connection, namespace: &str, status: &Value, container: &str) -> Result<Map<String, Value>, String> {
    let pods = status["pods"].as_array().cloned().unwrap_or_default();
    let pod = pods
        .iter()
        .find(|pod| pod["phase"] == "Succeeded")
        .or(pods.last())
        .and_then(|pod| pod["name"].as_str())
        .ok_or_else(|| "the job has no pod whose log could be read".to_string())?;
    let api: Api<Pod> = Api::namespaced(connection.client.clone(), namespace);
    let params = LogParams { container: Some(container.to_string()), tail_lines: Some(LOG_LINES), ..Default::default() };
    let log = match tokio::time::timeout(LOG_TIMEOUT, api.logs(pod, &params)).await {
        Ok(Ok(log)) => log,
        Ok(Err(error)) => return Err(format!("the log of container {container:?} of pod {pod} could not be read: {}", crate::cloud::kubernetes::Error::from(error))),
        Err(_) => return Err(format!("the log of container {container:?} of pod {pod} could not be read in {} s", LOG_TIMEOUT.as_secs())),
    };
    parse_properties(&log)
}

/// The properties in a job's log, as Clouddriver's `PropertyParser` reads them
/// (`SPINNAKER_PROPERTY_KEY=value`, key lowercased; `SPINNAKER_CONFIG_JSON={...}`), and as
/// gennaker's `runJob` reads them (`KEY=VALUE` lines after a line `SPINNAKER_PROPERTIES`).
pub fn parse_properties(log: &str) -> Result<Map<String, Value>, String> {
    const PROPERTY: &str = "SPINNAKER_PROPERTY_";
    const CONFIG_JSON: &str = "SPINNAKER_CONFIG_JSON=";
    let mut properties = Map::new();
    let mut in_block = false;
    for line in log.lines().map(str::trim).filter(|line| !line.is_empty()) {
        if let Some(json_text) = line.strip_prefix(CONFIG_JSON) {
            let parsed: Map<String, Value> = serde_json::from_str(json_text).map_err(|e| format!("{CONFIG_JSON} is not a JSON object: {e}"))?;
            properties.extend(parsed);
        } else if let Some(at) = line.find(PROPERTY) {
            if let Some((key, value)) = line[at + PROPERTY.len()..].split_once('=')
                && !key.trim().is_empty()
            {
                properties.insert(key.trim().to_lowercase(), json!(value.trim()));
            }
        } else if line == "SPINNAKER_PROPERTIES" {
            in_block = true;
        } else if in_block && let Some((key, value)) = line.split_once('=') {
            properties.insert(key.trim().to_string(), json!(value.trim()));
        }
    }
    Ok(properties)
}

/// Clouddriver's `KubernetesJobStatus` of a Job and its pods (oldest first): its state
/// (`Running`, `Succeeded`, `Failed`), times, pods with their phase and exit code, and why it
/// failed.
pub fn job_status(job: &Value, pods: &[Value], account: &str) -> Value {
    let state = match manifest::stability(job) {
        Stability::Stable => "Succeeded",
        Stability::Failed(_) => "Failed",
        Stability::Waiting(_) => "Running",
    };
    let failed_condition = job
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|conditions| conditions.iter().find(|c| c["type"] == "Failed" && c["status"] == "True"));
    let completed = job.pointer("/status/completionTime").or_else(|| failed_condition.and_then(|c| c.get("lastTransitionTime")));
    let text = |value: Option<&Value>| value.and_then(Value::as_str).unwrap_or_default().to_string();
    let (reason, message) = (text(failed_condition.and_then(|c| c.get("reason"))), text(failed_condition.and_then(|c| c.get("message"))));
    let mut failure: Option<(String, Container)> = None;
    let pod_statuses: Vec<Value> = pods
        .iter()
        .map(|pod| {
            let containers = containers_of(pod);
            let ended = containers.iter().find(|c| c.exit_code.is_some_and(|code| code != 0)).or_else(|| containers.iter().find(|c| c.waiting));
            if state == "Failed" && failure.is_none()
                && let Some(container) = ended
            {
                failure = Some((manifest::name(pod).to_string(), container.clone()));
            }
            let main = ended.or_else(|| containers.iter().find(|c| c.exit_code.is_some()));
            json!({"name": manifest::name(pod), "phase": pod.pointer("/status/phase").cloned().unwrap_or(Value::Null),
                "exitCode": main.and_then(|c| c.exit_code), "reason": main.map(|c| c.reason.clone()).unwrap_or_default(),
                "status": pod.get("status").cloned().unwrap_or(Value::Null)})
        })
        .collect();
    let failure_details = failure.as_ref().map(|(pod, container)| match container.exit_code {
        Some(code) => format!("pod {pod}: container {} exited with code {code} ({})", container.name, container.reason),
        None => format!("pod {pod}: container {} is waiting ({}: {})", container.name, container.reason, container.message),
    });
    let exit_code = failure.as_ref().and_then(|(_, container)| container.exit_code);
    json!({
        "name": manifest::name(job),
        "account": account,
        "location": manifest::namespace(job),
        "provider": "kubernetes",
        "jobState": state,
        "createdTime": view::millis(job.pointer("/metadata/creationTimestamp")),
        "completedTime": completed.map(|time| view::millis(Some(time))),
        "reason": reason,
        "message": message,
        "failureDetails": failure_details.unwrap_or_default(),
        "pods": pod_statuses,
        "mostRecentPodName": pods.last().map(manifest::name).unwrap_or_default(),
        "completionDetails": {"exitCode": exit_code.map(|code| code.to_string()).unwrap_or_default(), "signal": "", "message": message, "reason": reason},
    })
}

/// What a container of a pod did, as far as the API tells.
#[derive(Debug, Clone, Default)]
struct Container {
    name: String,
    exit_code: Option<i64>,
    waiting: bool,
    reason: String,
    message: String,
}

fn containers_of(pod: &Value) -> Vec<Container> {
    ["initContainerStatuses", "containerStatuses"]
        .into_iter()
        .filter_map(|list| pod.pointer(&format!("/status/{list}")).and_then(Value::as_array))
        .flatten()
        .map(|status| {
            let state = status.get("state");
            let terminated = state.and_then(|s| s.get("terminated"));
            let waiting = state.and_then(|s| s.get("waiting"));
            let detail = terminated.or(waiting);
            let text = |key: &str| detail.and_then(|d| d.get(key)).and_then(Value::as_str).unwrap_or_default().to_string();
            Container {
                name: status.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
                exit_code: terminated.and_then(|t| t.get("exitCode")).and_then(Value::as_i64),
                waiting: waiting.is_some(),
                reason: text("reason"),
                message: text("message"),
            }
        })
        .collect()
}

/// Why a Job failed, as Orca words it: the Job's reason and message, then its pod's details.
fn failure_message(status: &Value) -> String {
    let text = |key: &str| status[key].as_str().unwrap_or_default();
    let mut message = format!("job {} in {} failed", text("name"), text("location"));
    if !text("reason").is_empty() {
        message.push_str(&format!(": {}", text("reason")));
    }
    if !text("message").is_empty() {
        message.push_str(&format!(" ({})", text("message")));
    }
    if !text("failureDetails").is_empty() {
        message.push_str(&format!("; {}", text("failureDetails")));
    }
    message
}

/// Once the Job succeeded: the bound artifact `consumeArtifactId` (a JSON object) becomes
/// outputs (Orca's `ConsumeArtifactTask`).
async fn consume(task: Task<'_>, config: &RunJobManifestStage) -> Result<Step, String> {
    if config.consume_artifact_source != "artifact" {
        return Ok(succeeded(BTreeMap::new()));
    }
    let artifact = bound_artifact(task.execution, &config.consume_artifact_id)?;
    let text = artifact_text(task.effects, task.execution, &artifact).await?;
    let parsed: Map<String, Value> = serde_json::from_str(&text).map_err(|e| format!("the artifact {:?} is not a JSON object: {e}", config.consume_artifact_id))?;
    Ok(succeeded(parsed.into_iter().filter(|(_, value)| !value.is_null()).collect()))
}

/// Deletes the stage's Job with its pods: the one its outputs name, else (knowing the run) the
/// one labelled with its run (a cancel that came while the Job was being created). Returns what
/// it deleted.
async fn delete_job(execution_id: Option<&str>, stage: &Stage, effects: &Effects) -> Result<Option<String>, String> {
    let config: RunJobManifestStage = super::config(stage)?;
    if config.account().is_empty() {
        return Ok(None);
    }
    let connection = connect(effects, config.account()).await?;
    let resource: Resource = connection.resource("batch/v1", "Job").await.map_err(|e| e.to_string())?;
    let (namespace, name) = match job_of(stage) {
        Some(found) => found,
        None => {
            let Some(execution_id) = execution_id else { return Ok(None) };
            let namespace = if !config.namespace_override.is_empty() {
                config.namespace_override.clone()
            } else {
                config.written().iter().find(|one| manifest::kind(one) == "Job").map(|job| manifest::namespace(job).to_string()).filter(|ns| !ns.is_empty()).unwrap_or_else(|| connection.default_namespace.clone())
            };
            let selector = format!("{RUN_LABEL}={}", run_key(execution_id, stage));
            let labelled = connection.list(&resource, &namespace, Some(&selector)).await.map_err(|e| e.to_string())?;
            match labelled.first() {
                Some(job) => (namespace, manifest::name(job).to_string()),
                None => return Ok(None),
            }
        }
    };
    let deleted = connection.delete(&resource, &namespace, &name, true, None).await.map_err(|e| e.to_string())?;
    Ok(deleted.then(|| format!("job {name} in {namespace}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_are_read_in_every_form_spinnaker_jobs_print() {
        let log = "Cloning into 'shop'...\n\
            + echo SPINNAKER_PROPERTY_COMMIT_ID=3f2a9c1\n\
            SPINNAKER_PROPERTY_COMMIT_ID=3f2a9c1\n\
            SPINNAKER_PROPERTY_URL=https://x.test/?a=b\n\
            SPINNAKER_CONFIG_JSON={\"image\": \"shop/web:7\", \"replicas\": 3}\n\
            build done\n\
            SPINNAKER_PROPERTIES\n\
            VERSION=1.4.2\n\
            STAGE = qa\n";
        let properties = parse_properties(log).unwrap();
        assert_eq!(properties["commit_id"], "3f2a9c1", "SPINNAKER_PROPERTY_ keys are lowercased");
        assert_eq!(properties["url"], "https://x.test/?a=b", "a value may hold '='");
        assert_eq!(properties["image"], "shop/web:7");
        assert_eq!(properties["replicas"], 3, "JSON keeps its types");
        assert_eq!(properties["VERSION"], "1.4.2");
        assert_eq!(properties["STAGE"], "qa");
        assert!(!properties.contains_key("build done"));
        assert!(parse_properties("no properties here\n").unwrap().is_empty());
        assert!(parse_properties("SPINNAKER_CONFIG_JSON={not json").unwrap_err().contains("not a JSON object"));
    }

    #[test]
    fn a_failed_jobs_status_names_the_pod_and_its_exit_code() {
        let job = json!({"kind": "Job", "metadata": {"name": "migrate-x7k2p", "namespace": "shop", "creationTimestamp": "2026-11-30T08:00:00Z"},
            "status": {"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit", "lastTransitionTime": "2026-11-30T08:00:05Z"}]}});
        let pod = json!({"metadata": {"name": "migrate-x7k2p-abcde"}, "status": {"phase": "Failed", "containerStatuses": [
            {"name": "main", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}});
        let status = job_status(&job, &[pod], "k8s");
        assert_eq!(status["jobState"], "Failed");
        assert_eq!(status["location"], "shop");
        assert_eq!(status["completedTime"], 1_796_025_605_000_i64);
        assert_eq!(status["pods"][0]["phase"], "Failed");
        assert_eq!(status["pods"][0]["exitCode"], 1);
        assert_eq!(status["completionDetails"]["exitCode"], "1");
        assert_eq!(status["mostRecentPodName"], "migrate-x7k2p-abcde");
        assert_eq!(
            failure_message(&status),
            "job migrate-x7k2p in shop failed: BackoffLimitExceeded (Job has reached the specified backoff limit); pod migrate-x7k2p-abcde: container main exited with code 1 (Error)"
        );
        let done = json!({"kind": "Job", "metadata": {"name": "m"}, "status": {"succeeded": 1, "completionTime": "2026-11-30T08:00:05Z",
            "conditions": [{"type": "Complete", "status": "True"}]}});
        let ok = json!({"metadata": {"name": "m-1"}, "status": {"phase": "Succeeded", "containerStatuses": [{"name": "main", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}});
        let status = job_status(&done, &[ok], "k8s");
        assert_eq!(status["jobState"], "Succeeded");
        assert_eq!(status["pods"][0]["exitCode"], 0);
        assert_eq!(status["failureDetails"], "");
        assert_eq!(job_status(&json!({"kind": "Job", "metadata": {"name": "m"}}), &[], "k8s")["jobState"], "Running");
    }

    #[test]
    fn validation_names_the_field_at_fault() {
        let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"}});
        let check = |stage: Value| RunJobManifest.validate(&stage).map_err(|(field, _)| field);
        assert_eq!(check(json!({"account": "k8s", "manifest": job})), Ok(()));
        assert_eq!(check(json!({"credentials": "k8s", "manifests": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, job]})), Ok(()), "the first Job of manifests");
        assert_eq!(check(json!({"manifest": job})), Err("account".into()));
        assert_eq!(check(json!({"account": "k8s", "manifest": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}})), Err("manifest".into()));
        assert_eq!(check(json!({"account": "k8s", "manifests": [{"kind": "Job"}]})), Err("manifests".into()));
        assert_eq!(check(json!({"account": "k8s", "source": "artifact"})), Err("manifestArtifactId".into()));
        assert_eq!(check(json!({"account": "k8s", "manifest": job, "consumeArtifactSource": "propertyFile"})), Err("propertyFile".into()));
        assert_eq!(check(json!({"account": "k8s", "manifest": job, "consumeArtifactSource": "artifact"})), Err("consumeArtifactId".into()));
        assert_eq!(check(json!({"account": "k8s", "manifest": job, "consumeArtifactSource": "logs"})), Err("consumeArtifactSource".into()));
        // Saved before its account or Job was chosen: kept, refused at start.
        assert!(RunJobManifest.cannot_run(&json!({"manifest": job})).is_some());
        assert!(RunJobManifest.cannot_run(&json!({"account": "k8s", "manifest": {}})).is_some());
        assert!(RunJobManifest.cannot_run(&json!({"account": "k8s", "cloudProvider": "titus", "manifest": job})).is_some());
        assert_eq!(RunJobManifest.cannot_run(&json!({"credentials": "k8s", "cloudProvider": "kubernetes", "manifest": job})), None);
        assert_eq!(RunJobManifest.accounts(&json!({"credentials": "k8s", "manifest": job})), vec!["k8s".to_string()]);
    }

    #[test]
    fn the_job_is_found_in_deploy_jobs() {
        let mut stage = Stage {
            id: "1".into(),
            ref_id: "1".into(),
            kind: "runJobManifest".into(),
            name: "Run".into(),
            status: app::model::execution::Status::Running,
            requisite_stage_ref_ids: vec![],
            context: json!({}),
            config: Value::Null,
            outputs: BTreeMap::new(),
            tasks: vec![],
            start_time: None,
            end_time: None,
            error: None,
            warnings: vec![],
        };
        assert_eq!(job_of(&stage), None);
        stage.outputs.insert("deploy.jobs".into(), json!({"shop": ["job migrate-x7k2p"]}));
        assert_eq!(job_of(&stage), Some(("shop".into(), "migrate-x7k2p".into())));
        let first = run_key("e1", &stage);
        stage.start_time = Some(5);
        assert_ne!(run_key("e1", &stage), first, "a restarted stage is a new run");
        assert!(run_key("e1", &stage).len() <= 63, "a label value");
    }
}
