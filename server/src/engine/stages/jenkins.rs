//! `jenkins`: starts a Jenkins job with parameters and waits for its build, as Spinnaker's
//! Jenkins stage does. The start asks the master for a CSRF crumb (when it issues them) and
//! posts to `buildWithParameters` (or `build` without parameters); the queue item Jenkins
//! answers with is followed to the build number, the build to its result. SUCCESS succeeds,
//! UNSTABLE too with `markUnstableAsSuccessful`, anything else fails the stage. The stage's
//! outputs: `buildInfo` (number, result, url, name, timestamp, artifacts) and, with
//! `propertyFile`, each `KEY=VALUE` of that build artifact (so later stages read `${KEY}`) and
//! `propertyFileContents`. Calls go through the outbound allow-list.
//!
//! `master` is the name of one given with `--jenkins-master name=url`, or a URL. Masters that
//! need credentials are not supported yet. Canceling the run stops the build.

use std::collections::BTreeMap;

use app::model::pipeline::Extra;
use app::model::stage_types::{Field, Input, StageTypeInfo};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{StageType, Step, Task, config_or_fail, failed, succeeded};
use crate::engine::stage_forms as F;
use crate::engine::tasks::{Effects, TaskResult};
use crate::outbound::Outbound;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JenkinsStage {
    /// Missing or empty: the stage is kept and cannot run (see `cannot_run`).
    #[serde(default)]
    pub master: String,
    /// The job's path, folders included (`folder/job/name` or `folder/name`).
    #[serde(default)]
    pub job: String,
    #[serde(default)]
    pub parameters: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property_file: Option<String>,
    #[serde(default)]
    pub mark_unstable_as_successful: bool,
    #[serde(default = "crate::engine::targets::yes")]
    pub wait_for_completion: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

/// What the stage keeps in its context between tasks.
const QUEUE_URL: &str = "queuedBuildUrl";
const BUILD_NUMBER: &str = "buildNumber";
const BUILD_INFO: &str = "buildInfo";

/// How often the queue and the build are looked at while Jenkins works.
const POLL_MS: i64 = 1_000;

#[derive(Debug, Deserialize)]
struct Crumb {
    #[serde(rename = "crumbRequestField")]
    field: String,
    crumb: String,
}

#[derive(Debug, Deserialize)]
struct QueueItem {
    #[serde(default)]
    executable: Option<Executable>,
    #[serde(default)]
    cancelled: bool,
}

#[derive(Debug, Deserialize)]
struct Executable {
    number: u64,
}

#[derive(Debug, Deserialize, Serialize)]
struct Build {
    #[serde(default)]
    building: bool,
    #[serde(default)]
    result: Option<String>,
    #[serde(default)]
    url: String,
    #[serde(default)]
    timestamp: i64,
    #[serde(default)]
    artifacts: Vec<Artifact>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct Artifact {
    file_name: String,
    relative_path: String,
}

/// The master's base URL from the stage's (or a trigger's) `master`.
pub fn master_url(master: &str, masters: &BTreeMap<String, String>) -> Result<String, String> {
    if master.starts_with("http://") || master.starts_with("https://") {
        return Ok(master.trim_end_matches('/').to_string());
    }
    masters
        .get(master)
        .map(|url| url.trim_end_matches('/').to_string())
        .ok_or_else(|| format!("no Jenkins master {master:?} (give its URL, or --jenkins-master {master}=<url>)"))
}

/// `KEY=VALUE` lines (blank lines and `#` comments skipped).
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with('!'))
        .filter_map(|line| line.split_once(['=', ':']))
        .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
        .collect()
}

/// The job's URL under the master: `folder/job/name` and `folder/name` both become
/// `/job/folder/job/name`.
fn job_url(base: &str, job: &str) -> String {
    let path = job.split('/').filter(|part| !part.is_empty() && *part != "job").collect::<Vec<_>>().join("/job/");
    format!("{base}/job/{path}")
}

fn base_of(effects: &Effects, master: &str) -> Result<String, String> {
    master_url(master, &effects.jenkins_masters)
}

async fn get_json<T: serde::de::DeserializeOwned>(http: &Outbound, url: &str) -> Result<T, String> {
    let response = http.get(url).map_err(|error| error.to_string())?.send().await.map_err(|error| format!("cannot reach {url}: {}", crate::outbound::describe(&error)))?;
    if !response.status().is_success() {
        return Err(format!("{url} answered {}", response.status()));
    }
    http.json(response).await.map_err(|error| format!("{url}: unreadable answer: {error}"))
}

async fn start(effects: &Effects, config: &JenkinsStage) -> Result<String, String> {
    let base = base_of(effects, &config.master)?;
    let http = &effects.http;
    // A master that issues crumbs wants one with every POST; one that does not answers 404.
    let crumb: Option<Crumb> = get_json(http, &format!("{base}/crumbIssuer/api/json")).await.ok();
    let job = job_url(&base, &config.job);
    let url = if config.parameters.is_empty() { format!("{job}/build") } else { format!("{job}/buildWithParameters") };
    let parameters: Vec<(String, String)> =
        config.parameters.iter().map(|(key, value)| (key.clone(), value.as_str().map_or_else(|| value.to_string(), str::to_string))).collect();
    let mut request = http.post(&url).map_err(|error| error.to_string())?.query(&parameters);
    if let Some(crumb) = &crumb {
        request = request.header(crumb.field.as_str(), crumb.crumb.as_str());
    }
    let response = request.send().await.map_err(|error| format!("cannot reach {url}: {}", crate::outbound::describe(&error)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("Jenkins answered {status} to starting job {}", config.job));
    }
    let queue = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|location| location.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| format!("Jenkins started job {} without saying where it queued it (no Location)", config.job))?;
    Ok(queue)
}

fn running() -> Step {
    (TaskResult::Polling { first_ms: POLL_MS }, Map::new())
}

fn set(key: &str, value: Value) -> Map<String, Value> {
    let mut patch = Map::new();
    patch.insert(key.to_string(), value);
    patch
}

/// Follows the queue item to a build number, then the build to its end.
async fn monitor(effects: &Effects, stage: &app::model::execution::Stage, config: &JenkinsStage) -> Result<Step, String> {
    let base = base_of(effects, &config.master)?;
    let http = &effects.http;
    let Some(number) = stage.context.get(BUILD_NUMBER).and_then(Value::as_u64) else {
        let queue = stage.context.get(QUEUE_URL).and_then(Value::as_str).ok_or("the build was never queued")?;
        let item: QueueItem = get_json(http, &format!("{}/api/json", queue.trim_end_matches('/'))).await?;
        if item.cancelled {
            return Err(format!("the queued build of job {} was cancelled in Jenkins", config.job));
        }
        return Ok(match item.executable {
            Some(executable) => (TaskResult::Running { retry_after_ms: 0 }, set(BUILD_NUMBER, json!(executable.number))),
            None => running(),
        });
    };
    let build: Build = get_json(http, &format!("{}/{number}/api/json", job_url(&base, &config.job))).await?;
    let info = json!({"number": number, "result": build.result, "url": build.url, "name": config.job, "building": build.building,
        "timestamp": build.timestamp, "artifacts": build.artifacts});
    if build.building || build.result.is_none() {
        return Ok((TaskResult::Polling { first_ms: POLL_MS }, set(BUILD_INFO, info)));
    }
    let result = build.result.as_deref().unwrap_or_default();
    let passed = result == "SUCCESS" || (result == "UNSTABLE" && config.mark_unstable_as_successful);
    if !passed {
        return Err(format!("build {number} of job {} ended {result}", config.job));
    }
    Ok((TaskResult::Succeeded { outputs: BTreeMap::new() }, set(BUILD_INFO, info)))
}

/// The stage's outputs: `buildInfo`, and the property file's values.
async fn outputs(effects: &Effects, stage: &app::model::execution::Stage, config: &JenkinsStage) -> Result<Step, String> {
    let info = stage.context.get(BUILD_INFO).cloned().unwrap_or(Value::Null);
    let mut outputs = BTreeMap::from([(BUILD_INFO.to_string(), info.clone())]);
    if let Some(file) = &config.property_file {
        let artifacts: Vec<Artifact> = serde_json::from_value(info["artifacts"].clone()).unwrap_or_default();
        let artifact = artifacts
            .iter()
            .find(|artifact| artifact.file_name == *file || artifact.relative_path == *file)
            .ok_or_else(|| format!("build {} has no artifact {file}", info["number"]))?;
        let url = format!("{}/artifact/{}", info["url"].as_str().unwrap_or_default().trim_end_matches('/'), artifact.relative_path);
        let http = &effects.http;
        let response = http.get(&url).map_err(|error| error.to_string())?.send().await.map_err(|error| format!("cannot read {url}: {}", crate::outbound::describe(&error)))?;
        if !response.status().is_success() {
            return Err(format!("the property file {file}: {url} answered {}", response.status()));
        }
        let text = http.text(response).await.map_err(|error| error.to_string())?;
        for (key, value) in parse_properties(&text) {
            outputs.insert(key, Value::String(value));
        }
        outputs.insert("propertyFileContents".into(), Value::String(text));
    }
    Ok(succeeded(outputs))
}

pub struct Jenkins;

#[async_trait]
impl StageType for Jenkins {
    fn type_name(&self) -> &'static str {
        "jenkins"
    }

    fn describe(&self, _application: &str) -> StageTypeInfo {
        F::info(
            "jenkins",
            "Jenkins",
            "Starts a Jenkins job with parameters and waits for its build; the build's number, result and property file become outputs.",
            vec![
                Field::new("master", "Master", Input::Text, "A name given with --jenkins-master name=url, or the master's URL."),
                Field::new("job", "Job", Input::Text, "The job's path, e.g. folder/job/name."),
                Field::new("parameters", "Parameters", Input::Pairs, "NAME=VALUE per line; values may be expressions."),
                Field::new("propertyFile", "Property file", Input::Text, "A build artifact of KEY=VALUE lines; each becomes an output (${KEY})."),
                Field::new("markUnstableAsSuccessful", "Treat UNSTABLE as success", Input::Check, ""),
                Field::new("waitForCompletion", "Wait for the build", Input::CheckOn, "Unchecked, the stage ends once the job is started."),
            ],
            json!({"master": "", "job": "", "parameters": {}, "waitForCompletion": true}),
        )
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        super::parse::<JenkinsStage>(config).map(drop)
    }

    /// A new stage has neither yet: kept, with a warning, until both are filled in.
    fn cannot_run(&self, config: &Value) -> Option<String> {
        let blank = |key: &str| config.get(key).and_then(Value::as_str).is_none_or(|text| text.trim().is_empty());
        if blank("master") {
            Some("it names no Jenkins master".into())
        } else if blank("job") {
            Some("it names no job".into())
        } else {
            None
        }
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["startJenkinsJob", "waitForJenkinsBuild", "getBuildProperties"]
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: JenkinsStage = config_or_fail!(task.stage);
        let result = match task.index {
            0 if task.stage.context.get(QUEUE_URL).is_some() => Ok(succeeded(BTreeMap::new())),
            0 => start(task.effects, &config).await.map(|queue| (TaskResult::Succeeded { outputs: BTreeMap::new() }, set(QUEUE_URL, json!(queue)))),
            1 if !config.wait_for_completion => Ok(succeeded(BTreeMap::new())),
            1 => monitor(task.effects, task.stage, &config).await,
            _ if !config.wait_for_completion => Ok(succeeded(BTreeMap::new())),
            _ => outputs(task.effects, task.stage, &config).await,
        };
        result.unwrap_or_else(|error| failed(error))
    }

    /// Stops the build the stage started.
    async fn cancel(&self, _execution_id: &str, stage: &app::model::execution::Stage, effects: &Effects) {
        let (Ok(config), Some(number)) = (super::config::<JenkinsStage>(stage), stage.context.get(BUILD_NUMBER).and_then(Value::as_u64)) else {
            return;
        };
        let Ok(base) = base_of(effects, &config.master) else { return };
        let url = format!("{}/{number}/stop", job_url(&base, &config.job));
        if let Ok(request) = effects.http.post(&url) {
            if let Err(error) = request.send().await {
                tracing::warn!(error = %crate::outbound::describe(&error), "could not stop the Jenkins build");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::job_url;

    #[test]
    fn jobs_in_folders_become_jenkins_paths() {
        assert_eq!(job_url("http://ci", "app"), "http://ci/job/app");
        assert_eq!(job_url("http://ci", "folder/job/app"), "http://ci/job/folder/job/app");
        assert_eq!(job_url("http://ci", "folder/app"), "http://ci/job/folder/job/app");
    }
}
