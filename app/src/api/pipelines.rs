//! Server functions for the Pipelines tab and the execution page.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;
use crate::model::execution::Execution;
use crate::model::pipeline::{ParameterConfig, Pipeline, PipelineRevision};

/// A pipeline as the Pipelines tab lists it: what its row and Start dialog show, and the whole
/// pipeline as the editor's JSON text (rendered by the server). The page's code (in every
/// page's WASM) thus never decodes typed stages, whose serde code for eighteen stage types is
/// large, nor prints JSON; only the editor, loaded on demand, does.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PipelineListing {
    pub id: String,
    pub name: String,
    pub disabled: bool,
    pub parameter_config: Vec<ParameterConfig>,
    /// The pipeline as the REST API returns it, as the editor shows it.
    pub json: String,
    /// Stages (and triggers, notifications) it keeps but cannot run.
    pub warnings: Vec<String>,
    /// Its expected artifacts, as the Start dialog names them.
    pub expected_artifacts: Vec<String>,
}

#[server]
pub async fn list_pipelines(application: String) -> Result<Vec<PipelineListing>, AppError> {
    crate::ssr::respond(async |services, caller| {
        let pipelines = services.pipelines.list(&caller, &application).await?;
        Ok(pipelines
            .into_iter()
            .map(|pipeline| PipelineListing {
                json: crate::pages::pipelines::pretty(&pipeline.to_document()),
                warnings: pipeline.warnings.clone(),
                expected_artifacts: pipeline
                    .extra
                    .get("expectedArtifacts")
                    .and_then(|list| crate::model::lenient::from_value::<Vec<crate::model::artifact::ExpectedArtifact>>(list).ok())
                    .unwrap_or_default()
                    .iter()
                    .map(crate::model::artifact::ExpectedArtifact::label)
                    .collect(),
                id: pipeline.id,
                name: pipeline.name,
                disabled: pipeline.disabled,
                parameter_config: pipeline.parameter_config,
            })
            .collect())
    })
    .await
}

/// The stage types this server runs, as the editor shows them (for a stage of `application`).
#[server]
pub async fn stage_types(application: String) -> Result<crate::model::stage_types::StageCatalog, AppError> {
    crate::ssr::respond(async |services, caller| services.pipelines.stage_types(&caller, &application).await).await
}

/// Saves pipeline JSON as typed in the editor; errors name the stage and field.
#[server(input = Json)]
pub async fn save_pipeline(application: String, json: String) -> Result<Pipeline, AppError> {
    let config: serde_json::Value = serde_json::from_str(&json).map_err(|error| {
        AppError::Invalid { field: Some("json".into()), message: format!("not valid JSON: {error}") }
    })?;
    crate::ssr::respond(async |services, caller| services.pipelines.save(&caller, &application, config).await).await
}

/// Checks pipeline JSON as a save would, without storing it: the editor calls it as the user
/// types, so an error shows next to its field before Save is pressed. Answers the warnings (what
/// the pipeline keeps but cannot run).
#[server(input = Json)]
pub async fn check_pipeline(application: String, json: String) -> Result<Vec<String>, AppError> {
    let config: serde_json::Value = serde_json::from_str(&json).map_err(|error| {
        AppError::Invalid { field: Some("json".into()), message: format!("not valid JSON: {error}") }
    })?;
    crate::ssr::respond(async |services, caller| services.pipelines.check(&caller, &application, config).await.map(|pipeline| pipeline.warnings)).await
}

/// The pipeline's saved revisions, newest first, each with who saved it and when.
#[server]
pub async fn pipeline_history(application: String, pipeline: String) -> Result<Vec<PipelineRevision>, AppError> {
    crate::ssr::respond(async |services, caller| services.pipelines.history(&caller, &application, &pipeline).await).await
}

/// Saves an old revision's content as the pipeline's newest revision.
#[server]
pub async fn restore_pipeline(application: String, pipeline: String, revision: i64) -> Result<Pipeline, AppError> {
    crate::ssr::respond(async |services, caller| services.pipelines.restore(&caller, &application, &pipeline, revision).await).await
}

#[server(input = Json)]
pub async fn start_pipeline(application: String, pipeline: String, parameters: BTreeMap<String, String>, artifacts: String) -> Result<Execution, AppError> {
    // The dialog's artifacts: a JSON list, as Spinnaker's manual trigger takes them.
    let artifacts = match artifacts.trim() {
        "" => Vec::new(),
        text => serde_json::from_str::<Vec<serde_json::Value>>(text)
            .map_err(|error| AppError::Invalid { field: Some("artifacts".into()), message: format!("artifacts are a JSON list: {error}") })?,
    };
    let request = crate::model::execution::StartRequest { parameters, artifacts };
    crate::ssr::respond(async |services, caller| services.executions.start(&caller, &application, &pipeline, request).await).await
}

/// The application's most recent executions (newest first), the sequence number of the last
/// event before they were read, to watch live changes from, and the server's time then.
#[server]
pub async fn recent_executions(application: String) -> Result<RecentRuns, AppError> {
    let query = crate::model::execution::ExecutionQuery { application: Some(application.clone()), limit: Some(RECENT), ..Default::default() };
    crate::ssr::respond(async |services, caller| {
        let seq = services.executions.latest_seq(&caller, &application).await?;
        let executions = services.executions.list(&caller, query).await?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        Ok(RecentRuns { executions, seq, now })
    })
    .await
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RecentRuns {
    pub executions: Vec<Execution>,
    pub seq: i64,
    /// When they were read: the time filters count back from it, so the server's render and
    /// the browser's agree (the browser's clock may differ).
    pub now: crate::model::time::EpochMillis,
}

pub const RECENT: u32 = 50;

/// The Executions list's filters applied on the server, over all of the application's runs:
/// the [`RECENT`] newest pipeline runs that match (after `query.before`, when given: the next
/// page). `within` (milliseconds) keeps runs built that recently by the server's clock, so a
/// tab left open does not count back from the time it was loaded.
#[server(input = Json)]
pub async fn find_executions(
    application: String,
    query: crate::model::execution::ExecutionQuery,
    within: Option<i64>,
) -> Result<RecentRuns, AppError> {
    crate::ssr::respond(async |services, caller| {
        let seq = services.executions.latest_seq(&caller, &application).await?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let started_after = within.map(|within| now.saturating_sub(within));
        let query = crate::model::execution::ExecutionQuery { application: Some(application.clone()), limit: Some(RECENT), started_after, ..query };
        let executions = services.executions.list(&caller, query).await?;
        Ok(RecentRuns { executions, seq, now })
    })
    .await
}

/// An execution and the event sequence number to watch it from, so the page goes on from the
/// state it shows instead of replaying every state the run went through.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WatchedExecution {
    pub execution: Execution,
    pub seq: i64,
}

#[server]
pub async fn get_execution(id: String) -> Result<WatchedExecution, AppError> {
    crate::ssr::respond(async |services, caller| {
        let application = services.executions.get(&caller, &id).await?.application;
        // The sequence number before the state: an event between the reads is sent again, never lost.
        let seq = services.executions.latest_seq(&caller, &application).await?;
        let execution = services.executions.get(&caller, &id).await?;
        Ok(WatchedExecution { execution, seq })
    })
    .await
}

#[server]
pub async fn cancel_execution(id: String) -> Result<Execution, AppError> {
    crate::ssr::respond(async |services, caller| services.executions.cancel(&caller, &id, Some("canceled from the UI".into())).await).await
}

/// `status` is `continue` or `stop`; `input` is the chosen judgment input (may be empty).
#[server]
pub async fn judge_stage(id: String, stage: String, status: String, input: String) -> Result<Execution, AppError> {
    use crate::model::execution::{Judgment, JudgmentStatus};
    let judgment_status = match status.as_str() {
        "continue" => JudgmentStatus::Continue,
        "stop" => JudgmentStatus::Stop,
        other => return Err(AppError::invalid("judgmentStatus", format!("judgment must be continue or stop, not {other:?}"))),
    };
    let judgment = Judgment { judgment_status, judgment_input: (!input.is_empty()).then_some(input) };
    crate::ssr::respond(async |services, caller| services.executions.judge(&caller, &id, &stage, judgment).await).await
}

#[server]
pub async fn skip_wait(id: String, stage: String) -> Result<Execution, AppError> {
    crate::ssr::respond(async |services, caller| services.executions.skip_wait(&caller, &id, &stage).await).await
}

#[server]
pub async fn pause_execution(id: String) -> Result<Execution, AppError> {
    crate::ssr::respond(async |services, caller| services.executions.pause(&caller, &id).await).await
}

#[server]
pub async fn resume_execution(id: String) -> Result<Execution, AppError> {
    crate::ssr::respond(async |services, caller| services.executions.resume(&caller, &id).await).await
}

#[server]
pub async fn restart_stage(id: String, stage: String) -> Result<Execution, AppError> {
    crate::ssr::respond(async |services, caller| services.executions.restart_stage(&caller, &id, &stage).await).await
}
