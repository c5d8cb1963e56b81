//! Pipelines and executions as REST and the UI use them: authorization, validation, and the
//! few changes made outside the worker (start, cancel, judge, skip a wait), each committed with
//! the message that makes the engine act on it.

use std::collections::BTreeMap;

use app::error::{AppError, Result};
use app::model::auth::{Access, Caller};
use app::model::execution::{
    Execution, ExecutionQuery, Judgment, JudgmentStatus, Stage, StartRequest, Status, Trigger,
};
use app::model::pipeline::{Pipeline, PipelineRevision, StageKind, parse_pipeline};
use app::ssr::{ExecutionService, PipelineService};
use async_trait::async_trait;
use serde_json::{Value, json};

use super::expressions::{self, Scope};
use super::launcher::{Launch, Launched};
use super::message::{Message, Next};
use super::worker::Engine;
use crate::auth::{policy, token};
use crate::store::executions::{ExecutionFilter, StepOutcome};
use crate::store::Store;

pub struct Pipelines {
    store: Store,
}

impl Pipelines {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

pub async fn authorize(store: &Store, caller: &Caller, application: &str, access: Access) -> Result<()> {
    let application = store.get_application(&application.to_ascii_lowercase()).await?;
    policy::require_application(caller, &application, access)
}

pub fn invalid(error: app::model::pipeline::Invalid) -> AppError {
    AppError::Invalid { field: Some(error.field), message: error.message }
}

#[async_trait]
impl PipelineService for Pipelines {
    async fn list(&self, caller: &Caller, application: &str) -> Result<Vec<Pipeline>> {
        authorize(&self.store, caller, application, Access::Read).await?;
        Ok(self.store.list_pipelines(application).await?)
    }

    async fn get(&self, caller: &Caller, application: &str, name_or_id: &str) -> Result<Pipeline> {
        authorize(&self.store, caller, application, Access::Read).await?;
        Ok(self.store.get_pipeline(application, name_or_id).await?)
    }

    async fn save(&self, caller: &Caller, application: &str, config: Value) -> Result<Pipeline> {
        let mut pipeline = self.check(caller, application, config).await?;
        let existing = if pipeline.id.is_empty() { None } else { self.store.get_pipeline(application, &pipeline.id).await.ok() };
        let expected = match &existing {
            None => {
                if pipeline.id.is_empty() {
                    pipeline.id = token::new_id();
                }
                None
            }
            Some(current) if pipeline.revision == 0 => Some(current.revision),
            Some(_) => Some(pipeline.revision),
        };
        Ok(self.store.save_pipeline(&pipeline, expected, &caller.name).await?)
    }

    async fn check(&self, caller: &Caller, application: &str, mut config: Value) -> Result<Pipeline> {
        authorize(&self.store, caller, application, Access::Write).await?;
        let Some(object) = config.as_object_mut() else {
            return Err(AppError::invalid("pipeline", "a pipeline is a JSON object"));
        };
        match object.get("application").and_then(Value::as_str) {
            Some(named) if named != application => {
                return Err(AppError::invalid("application", format!("the body names application {named:?}, the path {application:?}")));
            }
            Some(_) => {}
            None => {
                object.insert("application".into(), Value::String(application.to_string()));
            }
        }
        let mut pipeline = parse_pipeline(&config).map_err(invalid)?;
        pipeline.validate(&expressions::check).map_err(invalid)?;
        crate::triggers::webhook::validate(&self.store, caller, &mut pipeline).await?;
        crate::notify::validate(&self.store, &pipeline).await?;
        // Whoever saves a pipeline that runs another must be allowed to run that one.
        for stage in &pipeline.stages {
            if let StageKind::Pipeline(child) = &stage.kind {
                if !child.application.contains("${") {
                    authorize(&self.store, caller, &child.application, Access::Execute).await?;
                }
            }
        }
        Ok(pipeline)
    }

    async fn delete(&self, caller: &Caller, application: &str, name_or_id: &str) -> Result<()> {
        authorize(&self.store, caller, application, Access::Write).await?;
        let pipeline = self.store.get_pipeline(application, name_or_id).await?;
        Ok(self.store.delete_pipeline(application, &pipeline.id).await?)
    }

    async fn history(&self, caller: &Caller, application: &str, name_or_id: &str) -> Result<Vec<PipelineRevision>> {
        authorize(&self.store, caller, application, Access::Read).await?;
        let pipeline = self.store.get_pipeline(application, name_or_id).await?;
        Ok(self.store.pipeline_history(&pipeline.id).await?)
    }

    async fn restore(&self, caller: &Caller, application: &str, name_or_id: &str, revision: i64) -> Result<Pipeline> {
        authorize(&self.store, caller, application, Access::Write).await?;
        let current = self.store.get_pipeline(application, name_or_id).await?;
        let history = self.store.pipeline_history(&current.id).await?;
        let old = history
            .into_iter()
            .find(|r| r.revision == revision)
            .ok_or_else(|| AppError::not_found(format!("revision {revision} of pipeline {name_or_id} not found")))?;
        let mut restored = old.pipeline;
        restored.id = current.id.clone();
        Ok(self.store.save_pipeline(&restored, Some(current.revision), &caller.name).await?)
    }
}

pub struct Executions {
    engine: Engine,
}

impl Executions {
    pub fn new(engine: Engine) -> Self {
        Self { engine }
    }

    fn store(&self) -> &Store {
        self.engine.store()
    }

    /// Where the execution `id` sits in listings, for `before`: the page after it.
    async fn position(&self, id: &str) -> Result<(i64, String)> {
        let plausible = id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        let position = if plausible { self.store().execution_position(id).await? } else { None };
        position.ok_or_else(|| AppError::invalid("before", format!("no execution {id:?} to list runs before")))
    }

    async fn readable(&self, caller: &Caller, id: &str, access: Access) -> Result<(Execution, i64)> {
        let (execution, version) = self
            .store()
            .load_execution(id)
            .await?
            .ok_or_else(|| AppError::not_found(format!("execution {id} not found")))?;
        authorize(self.store(), caller, &execution.application, access).await?;
        Ok((execution, version))
    }

    /// Applies `change` to the execution and commits it with the messages it returns, retrying
    /// when a worker moved the execution in between.
    async fn change(
        &self,
        caller: &Caller,
        id: &str,
        change: impl Fn(&mut Execution) -> Result<Vec<Next>>,
    ) -> Result<Execution> {
        for _ in 0..20 {
            let (mut execution, version) = self.readable(caller, id, Access::Execute).await?;
            let next = change(&mut execution)?;
            let outgoing = self.engine.outgoing(&next);
            match self.store().commit_step(None, Some((&execution, version)), &[], &outgoing).await? {
                StepOutcome::Committed(seqs) => {
                    for seq in seqs {
                        self.engine.publish(seq, &execution);
                    }
                    self.engine.wake();
                    return Ok(execution);
                }
                StepOutcome::Conflict => tokio::task::yield_now().await,
            }
        }
        Err(AppError::conflict("execution", format!("execution {id} is changing too fast; try again")))
    }
}

/// Whoever runs stages that change a cloud account needs WRITE on it. An account written as an
/// expression is only known at run time, so it needs WRITE on every account.
pub async fn require_accounts(store: &Store, caller: &Caller, pipeline: &Pipeline) -> Result<()> {
    let mut accounts: std::collections::BTreeSet<&str> = pipeline.stages.iter().flat_map(|stage| stage.kind.accounts()).collect();
    if accounts.iter().any(|account| account.contains("${")) {
        accounts.retain(|account| !account.contains("${"));
        accounts.extend(crate::http::accounts::KNOWN_ACCOUNTS.iter().map(|(name, _)| *name));
    }
    if accounts.is_empty() {
        return Ok(());
    }
    let mut permissions = store.account_permissions().await?;
    for account in accounts {
        let granted = permissions.remove(account).unwrap_or_default();
        policy::require_account(caller, account, &granted, Access::Write)?;
    }
    Ok(())
}

/// Adds the application's notification defaults to a new run.
pub async fn add_application_notifications(store: &Store, execution: &mut Execution) {
    if let Ok(application) = store.get_application(&execution.application).await {
        execution.notification_configs.extend(application.notifications);
    }
}

/// A new run of `pipeline`, BUFFERED when it must wait for another.
pub fn new_execution(pipeline: &Pipeline, id: String, trigger: Trigger, waiting: bool, now: i64) -> Execution {
    Execution {
        id,
        application: pipeline.application.clone(),
        pipeline_config_id: pipeline.id.clone(),
        name: pipeline.name.clone(),
        status: if waiting { Status::Buffered } else { Status::NotStarted },
        trigger,
        stages: pipeline.stages.iter().map(stage_from_config).collect(),
        build_time: now,
        start_time: None,
        end_time: None,
        canceled: false,
        canceled_by: None,
        cancellation_reason: None,
        limit_concurrent: pipeline.limit_concurrent,
        keep_waiting_pipelines: pipeline.keep_waiting_pipelines,
        notification_configs: pipeline.notifications.clone(),
        notifications: Vec::new(),
    }
}

pub fn new_execution_id(now: i64) -> String {
    // Time first, so ids sort by creation.
    format!("{now:013x}{}", &token::new_id()[..8])
}

pub fn stage_from_config(config: &app::model::pipeline::StageConfig) -> Stage {
    Stage {
        id: config.ref_id.clone(),
        ref_id: config.ref_id.clone(),
        kind: config.kind.type_name().to_string(),
        name: if config.name.is_empty() { config.ref_id.clone() } else { config.name.clone() },
        status: Status::NotStarted,
        requisite_stage_ref_ids: config.requisite_stage_ref_ids.clone(),
        context: serde_json::to_value(config).unwrap_or_default(),
        config: serde_json::to_value(config).unwrap_or_default(),
        outputs: BTreeMap::new(),
        tasks: Vec::new(),
        start_time: None,
        end_time: None,
        error: None,
        warnings: Vec::new(),
    }
}

/// A trigger type to filter on: a word such as `manual`, `cron` or `docker`.
fn checked_trigger(trigger: &str) -> Result<String> {
    let word = trigger.len() <= 64 && trigger.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if !word {
        return Err(AppError::invalid("trigger", "a trigger type is a word of letters, digits, '-', '_', '.' or ':' (at most 64)"));
    }
    Ok(trigger.to_string())
}

/// Search text, lower-cased as the stored parameter text is (see `store::executions::parameter_text`).
fn checked_search(search: &str) -> Result<String> {
    if search.chars().count() > 200 {
        return Err(AppError::invalid("search", "search text is at most 200 characters"));
    }
    // NUL cannot reach PostgreSQL, and the separator between stored values must not match.
    if search.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        return Err(AppError::invalid("search", "search text may not contain control characters"));
    }
    Ok(search.to_lowercase())
}

#[async_trait]
impl ExecutionService for Executions {
    async fn start(&self, caller: &Caller, application: &str, name_or_id: &str, request: StartRequest) -> Result<Execution> {
        // Checked before the lookup, so a caller without access learns nothing of its pipelines.
        authorize(self.store(), caller, application, Access::Execute).await?;
        let pipeline = self.store().get_pipeline(application, name_or_id).await?;
        let launch = Launch::by(caller.clone(), pipeline, "manual", request.parameters);
        match self.engine.launcher().launch(launch).await? {
            Launched::Started(execution) => Ok(execution),
            Launched::AlreadyStarted(id) => Err(AppError::conflict("execution", format!("execution {id} exists already"))),
        }
    }

    async fn get(&self, caller: &Caller, id: &str) -> Result<Execution> {
        Ok(self.readable(caller, id, Access::Read).await?.0)
    }

    async fn list(&self, caller: &Caller, query: ExecutionQuery) -> Result<Vec<Execution>> {
        let limit = query.limit.unwrap_or(25);
        if limit == 0 || limit > 500 {
            return Err(AppError::invalid("limit", "limit must be 1 to 500"));
        }
        let mut statuses = Vec::new();
        for text in query.statuses.as_deref().unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty()) {
            statuses.push(Status::parse(text).ok_or_else(|| AppError::invalid("statuses", format!("unknown status {text:?}")))?);
        }
        let pipeline_id = match (&query.pipeline, &query.application) {
            (Some(pipeline), Some(application)) => {
                Some(self.store().get_pipeline(application, pipeline).await.map(|p| p.id).unwrap_or_else(|_| pipeline.clone()))
            }
            (pipeline, _) => pipeline.clone(),
        };
        let trigger = query.trigger.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(checked_trigger).transpose()?;
        let search = query.search.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(checked_search).transpose()?;
        if let Some(application) = &query.application {
            authorize(self.store(), caller, application, Access::Read).await?;
        }
        let before = match query.before.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
            Some(id) => Some(self.position(id).await?),
            None => None,
        };
        let filter = ExecutionFilter {
            application: query.application.clone(),
            // Ad-hoc tasks have their own list (`/api/v1/tasks`).
            pipelines_only: pipeline_id.is_none(),
            pipeline_id,
            statuses,
            trigger,
            started_after: query.started_after,
            search,
            before,
            limit,
        };
        let executions = self.store().list_executions(&filter).await?;
        let mut readable = Vec::with_capacity(executions.len());
        let mut permissions: BTreeMap<String, bool> = BTreeMap::new();
        for execution in executions {
            let allowed = match permissions.get(&execution.application) {
                Some(allowed) => *allowed,
                None => {
                    let allowed = authorize(self.store(), caller, &execution.application, Access::Read).await.is_ok();
                    permissions.insert(execution.application.clone(), allowed);
                    allowed
                }
            };
            if allowed {
                readable.push(execution);
            }
        }
        Ok(readable)
    }

    async fn cancel(&self, caller: &Caller, id: &str, reason: Option<String>) -> Result<Execution> {
        self.change(caller, id, |execution| {
            if execution.status.is_complete() {
                return Ok(Vec::new());
            }
            execution.canceled = true;
            execution.canceled_by = Some(caller.name.clone());
            execution.cancellation_reason = reason.clone();
            if execution.status == Status::Buffered {
                execution.status = Status::Canceled;
                execution.end_time = Some(crate::store::now_millis());
                return Ok(Vec::new());
            }
            Ok(vec![Next::now(Message::CancelExecution { execution: execution.id.clone() })])
        })
        .await
    }

    async fn judge(&self, caller: &Caller, id: &str, stage_id: &str, judgment: Judgment) -> Result<Execution> {
        self.change(caller, id, |execution| {
            let execution_id = execution.id.clone();
            let stage = execution
                .stage_mut(stage_id)
                .ok_or_else(|| AppError::not_found(format!("stage {stage_id} not found in execution {execution_id}")))?;
            if stage.kind != "manualJudgment" {
                return Err(AppError::invalid("stageId", format!("stage {} is a {}, not a manual judgment", stage.name, stage.kind)));
            }
            if stage.status != Status::Running || stage.context.get("judgmentStatus").is_some() {
                return Err(AppError::conflict("judgmentStatus", format!("stage {} is not waiting for a judgment", stage.name)));
            }
            if let (Ok(StageKind::ManualJudgment(config)), Some(input)) = (super::tasks::stage_kind(stage), &judgment.judgment_input) {
                if !config.judgment_inputs.is_empty() && !config.judgment_inputs.iter().any(|choice| &choice.value == input) {
                    let choices: Vec<&str> = config.judgment_inputs.iter().map(|c| c.value.as_str()).collect();
                    return Err(AppError::invalid("judgmentInput", format!("judgmentInput must be one of {choices:?}")));
                }
            }
            let status = match judgment.judgment_status {
                JudgmentStatus::Continue => "continue",
                JudgmentStatus::Stop => "stop",
            };
            if let Value::Object(context) = &mut stage.context {
                context.insert("judgmentStatus".into(), json!(status));
                context.insert("judgmentInput".into(), json!(judgment.judgment_input));
                context.insert("lastModifiedBy".into(), json!(caller.name));
                context.insert("judgedAt".into(), json!(crate::store::now_millis()));
            }
            Ok(vec![Next::now(Message::RunTask { execution: execution_id, stage: stage_id.to_string(), task: 0 })])
        })
        .await
    }

    async fn pause(&self, caller: &Caller, id: &str) -> Result<Execution> {
        self.change(caller, id, |execution| {
            if execution.status != Status::Running {
                return Err(AppError::conflict("status", format!("only a RUNNING execution can be paused; this one is {}", execution.status.as_str())));
            }
            execution.status = Status::Paused;
            Ok(Vec::new())
        })
        .await
    }

    async fn resume(&self, caller: &Caller, id: &str) -> Result<Execution> {
        let resumed = self
            .change(caller, id, |execution| {
                if execution.status != Status::Paused {
                    return Err(AppError::conflict("status", format!("only a PAUSED execution can be resumed; this one is {}", execution.status.as_str())));
                }
                Ok(vec![Next::now(Message::ResumeExecution { execution: execution.id.clone() })])
            })
            .await?;
        Ok(resumed)
    }

    async fn restart_stage(&self, caller: &Caller, id: &str, stage_id: &str) -> Result<Execution> {
        self.change(caller, id, |execution| {
            let execution_id = execution.id.clone();
            if execution.canceled {
                return Err(AppError::conflict("status", "a canceled execution cannot be restarted"));
            }
            let stage = execution
                .stage(stage_id)
                .ok_or_else(|| AppError::not_found(format!("stage {stage_id} not found in execution {execution_id}")))?;
            if !stage.status.is_complete() {
                return Err(AppError::conflict("stageId", format!("stage {} is {}, not finished", stage.name, stage.status.as_str())));
            }
            Ok(vec![Next::now(Message::RestartStage { execution: execution_id, stage: stage_id.to_string() })])
        })
        .await
    }

    async fn skip_wait(&self, caller: &Caller, id: &str, stage_id: &str) -> Result<Execution> {
        self.change(caller, id, |execution| {
            let execution_id = execution.id.clone();
            let stage = execution
                .stage_mut(stage_id)
                .ok_or_else(|| AppError::not_found(format!("stage {stage_id} not found in execution {execution_id}")))?;
            if stage.kind != "wait" || stage.status != Status::Running {
                return Err(AppError::conflict("stageId", format!("stage {} is not a running wait", stage.name)));
            }
            if let Value::Object(context) = &mut stage.context {
                context.insert("skipRemainingWait".into(), json!(true));
            }
            Ok(vec![Next::now(Message::RunTask { execution: execution_id, stage: stage_id.to_string(), task: 0 })])
        })
        .await
    }

    async fn latest_seq(&self, caller: &Caller, application: &str) -> Result<i64> {
        authorize(self.store(), caller, application, Access::Read).await?;
        Ok(self.store().latest_seq(application).await?)
    }

    async fn evaluate(&self, caller: &Caller, id: &str, expression: &str) -> Result<Value> {
        let (execution, _) = self.readable(caller, id, Access::Read).await?;
        let trimmed = expression.trim();
        let bare = trimmed.strip_prefix("${").and_then(|e| e.strip_suffix('}')).unwrap_or(trimmed);
        Scope::for_execution(&execution).evaluate(bare).map_err(|error| AppError::invalid("expression", error.to_string()))
    }
}
