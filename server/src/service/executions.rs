//! Executions as REST and the UI use them: start (through the engine's launcher), read and
//! list, and the few changes made outside the worker (cancel, judge, pause, resume, restart a
//! stage, skip a wait), each committed with the message that makes the engine act on it.

use std::collections::BTreeMap;

use app::error::{AppError, Result};
use app::model::auth::{Access, Caller};
use app::model::execution::{Execution, ExecutionEvent, ExecutionQuery, Judgment, JudgmentStatus, StartRequest, Status, Subscribe};
use app::ssr::ExecutionService;
use async_trait::async_trait;
use serde_json::{Value, json};

use crate::auth::access::authorize;
use crate::engine::Engine;
use crate::engine::stages;
use crate::engine::launcher::{Launch, Launched};
use crate::engine::message::{Message, Next};
use crate::expressions::Scope;
use crate::store::Store;
use crate::store::executions::{Changed, ExecutionFilter, StepOutcome};

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
            let (before, version) = self.readable(caller, id, Access::Execute).await?;
            let mut execution = before.clone();
            let next = change(&mut execution)?;
            let outgoing = self.engine.outgoing(&next);
            match self.store().commit_step(None, Some(Changed::once(&before, version, &execution)), &outgoing).await? {
                StepOutcome::Committed(events) => {
                    self.engine.publish(events);
                    self.engine.wake();
                    return Ok(execution);
                }
                StepOutcome::Conflict => tokio::task::yield_now().await,
            }
        }
        Err(AppError::conflict("execution", format!("execution {id} is changing too fast; try again")))
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
        let mut launch = Launch::by(caller.clone(), pipeline, "manual", request.parameters);
        if !request.artifacts.is_empty() {
            launch.extra.insert("artifacts".into(), serde_json::Value::Array(request.artifacts));
        }
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
            let Some(stage_type) = stages::find(&stage.kind).filter(|stage_type| stage_type.awaits_judgment()) else {
                return Err(AppError::invalid("stageId", format!("stage {} is a {}, not a manual judgment", stage.name, stage.kind)));
            };
            if stage.status != Status::Running || stage.context.get("judgmentStatus").is_some() {
                return Err(AppError::conflict("judgmentStatus", format!("stage {} is not waiting for a judgment", stage.name)));
            }
            if let Some(input) = &judgment.judgment_input {
                stage_type.check_judgment_input(stage, input).map_err(|message| AppError::invalid("judgmentInput", message))?;
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
        // A restart runs stages again as the one restarting them: they need WRITE on the
        // accounts the run's stages change, as a start would.
        let (execution, _) = self.readable(caller, id, Access::Execute).await?;
        let accounts = execution
            .stages
            .iter()
            .filter_map(|stage| Some(stages::find(&stage.kind)?.accounts(&stage.config)))
            .flatten()
            .collect();
        crate::auth::access::require_accounts(self.store(), caller, accounts).await?;
        let acted_on = execution
            .stages
            .iter()
            .filter_map(|stage| Some(stages::find(&stage.kind)?.applications_acted_on(&stage.config)))
            .flatten()
            .collect();
        crate::auth::access::require_applications_acted_on(self.store(), caller, &execution.application, acted_on).await?;
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
            if !stages::find(&stage.kind).is_some_and(|stage_type| stage_type.skippable()) || stage.status != Status::Running {
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

    async fn events(&self, caller: &Caller, subscribe: &Subscribe, after: i64, limit: u32) -> Result<Vec<ExecutionEvent>> {
        let application = match (&subscribe.execution, &subscribe.application) {
            (Some(id), None) => self.readable(caller, id, Access::Read).await?.0.application,
            (None, Some(application)) => {
                authorize(self.store(), caller, application, Access::Read).await?;
                application.clone()
            }
            _ => return Err(AppError::invalid("subscribe", "send exactly one of execution and application")),
        };
        let execution = subscribe.execution.as_deref();
        let application = if execution.is_some() { None } else { Some(application.as_str()) };
        Ok(self.store().events_after(execution, application, after, limit).await?)
    }

    async fn evaluate(&self, caller: &Caller, id: &str, expression: &str) -> Result<Value> {
        let (execution, _) = self.readable(caller, id, Access::Read).await?;
        let trimmed = expression.trim();
        let bare = trimmed.strip_prefix("${").and_then(|e| e.strip_suffix('}')).unwrap_or(trimmed);
        Scope::for_execution(&execution).evaluate(bare).map_err(|error| AppError::invalid("expression", error.to_string()))
    }
}
