//! The one door every run goes through (Orca's `ExecutionLauncher`): a manual start (REST, the
//! UI's server functions, the Gate-shaped routes), each trigger kind, the `pipeline` stage and
//! ad-hoc tasks all call [`Launcher::launch`]. It checks the pipeline can run (not disabled,
//! parameters resolve), authorizes whoever the run acts as, applies `limitConcurrent` /
//! `keepWaitingPipelines` the same way for every kind of start, stores the run with its first
//! event and its `StartExecution` message in one transaction, tells live subscribers and wakes
//! the workers. When a run ends, [`Launcher::promote_buffered`] starts the next waiting one.
//!
//! `limitConcurrent` is decided inside the store's transaction under a per-pipeline lock
//! ([`Store::insert_execution`]), not by a count before the insert, so two starts in the same
//! instant on PostgreSQL cannot both run.

use std::collections::BTreeMap;
use std::sync::Arc;

use app::error::AppError;
use app::model::auth::{Access, Caller};
use app::model::execution::{Execution, ExecutionEvent, Status, Trigger};
use app::model::pipeline::Pipeline;
use serde_json::Value;
use tokio::sync::{Notify, broadcast};

use super::clock::Clock;
use super::message::Message;
use super::service::{add_application_notifications, authorize, invalid, new_execution, new_execution_id, require_accounts};
use crate::store::executions::{ExecutionFilter, Outgoing, StepOutcome};
use crate::store::{self, Store, now_millis};

/// Whose authority a run starts with.
#[derive(Debug, Clone)]
pub enum RunAs {
    /// A user, service account or trigger identity: needs EXECUTE on the application and WRITE
    /// on the accounts the pipeline's stages change, checked at every launch.
    Caller(Caller),
    /// A `pipeline` stage starting its child: whoever saved the parent needed EXECUTE on the
    /// child's application then (`PipelineService::check`), so the run itself is not checked
    /// again; `user` (the parent's trigger user) is recorded as the child's.
    ParentRun { user: String },
}

/// What a start says about the run.
#[derive(Debug, Clone)]
pub struct Launch {
    pub pipeline: Pipeline,
    /// `manual`, `webhook`, `cron`, `pipeline`, ...: the run's `trigger.type`.
    pub trigger_kind: String,
    pub run_as: RunAs,
    /// As given; the pipeline's parameter configuration fills defaults and checks them.
    pub parameters: BTreeMap<String, String>,
    /// Kept in `trigger` (payload, parent execution, ...), readable by expressions.
    pub extra: BTreeMap<String, Value>,
    /// A deterministic id makes the launch idempotent: a second launch with it starts
    /// nothing. `None`: a fresh, time-ordered id.
    pub id: Option<String>,
}

impl Launch {
    /// A start of `pipeline` by `caller` with `parameters`, of trigger kind `kind`.
    pub fn by(caller: Caller, pipeline: Pipeline, kind: &str, parameters: BTreeMap<String, String>) -> Self {
        Self { pipeline, trigger_kind: kind.to_string(), run_as: RunAs::Caller(caller), parameters, extra: BTreeMap::new(), id: None }
    }
}

/// What a launch did.
#[derive(Debug, Clone)]
pub enum Launched {
    /// A new run, NOT_STARTED (its start is queued) or BUFFERED (it waits for another).
    Started(Execution),
    /// A run with the launch's id exists already; nothing was started.
    AlreadyStarted(String),
}

impl Launched {
    pub fn started(self) -> Option<Execution> {
        match self {
            Self::Started(execution) => Some(execution),
            Self::AlreadyStarted(_) => None,
        }
    }
}

/// Creates runs; shared by the engine, the services and the triggers (cheap to clone).
#[derive(Clone)]
pub struct Launcher {
    store: Store,
    clock: Arc<dyn Clock>,
    events: broadcast::Sender<ExecutionEvent>,
    wake: Arc<Notify>,
}

impl Launcher {
    pub fn new(store: Store, clock: Arc<dyn Clock>, events: broadcast::Sender<ExecutionEvent>, wake: Arc<Notify>) -> Self {
        Self { store, clock, events, wake }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Tells live subscribers about a state of an execution stored with event `seq`.
    pub fn publish(&self, seq: i64, execution: &Execution) {
        let _ = self.events.send(ExecutionEvent { seq, ts: now_millis(), execution: execution.clone() });
    }

    /// Wakes idle workers (a message was just enqueued).
    pub fn wake(&self) {
        self.wake.notify_waiters();
    }

    fn start_message(&self, id: &str) -> Outgoing {
        Outgoing {
            execution_id: id.to_string(),
            body: serde_json::to_string(&Message::StartExecution { execution: id.to_string() }).expect("messages serialize"),
            deliver_at: self.clock.now(),
        }
    }

    /// Starts a run (see the module doc for every step).
    pub async fn launch(&self, launch: Launch) -> Result<Launched, AppError> {
        let Launch { pipeline, trigger_kind, run_as, parameters, extra, id } = launch;
        if pipeline.disabled {
            return Err(AppError::invalid("pipeline", format!("pipeline {} is disabled", pipeline.name)));
        }
        if let RunAs::Caller(caller) = &run_as {
            authorize(&self.store, caller, &pipeline.application, Access::Execute).await?;
        }
        let parameters = pipeline.resolve_parameters(&parameters).map_err(invalid)?;
        let user = match &run_as {
            RunAs::Caller(caller) => {
                require_accounts(&self.store, caller, &pipeline).await?;
                caller.name.clone()
            }
            RunAs::ParentRun { user } => user.clone(),
        };
        let now = self.clock.now();
        let id = id.unwrap_or_else(|| new_execution_id(now));
        if self.store.load_execution(&id).await?.is_some() {
            return Ok(Launched::AlreadyStarted(id));
        }
        let trigger = Trigger { kind: trigger_kind, user, parameters, extra };
        let mut execution = new_execution(&pipeline, id.clone(), trigger, false, now);
        // Application notification defaults apply to pipelines; an ad-hoc task has none.
        if !pipeline.id.is_empty() {
            add_application_notifications(&self.store, &mut execution).await;
        }
        let start = self.start_message(&id);
        let wait_for_active = pipeline.limit_concurrent && !pipeline.id.is_empty();
        let seq = match self.store.insert_execution(&mut execution, start, wait_for_active).await {
            Ok(seq) => seq,
            Err(store::Error::Database(error)) if store::is_unique_violation(&error) => return Ok(Launched::AlreadyStarted(id)),
            Err(error) => return Err(error.into()),
        };
        self.publish(seq, &execution);
        self.wake();
        let buffered = execution.status == Status::Buffered;
        if buffered && !pipeline.keep_waiting_pipelines {
            self.supersede_older(&execution).await?;
        }
        tracing::info!(execution = %execution.id, application = %execution.application, pipeline = %execution.name,
            trigger = %execution.trigger.kind, by = %execution.trigger.user, buffered, "run launched");
        Ok(Launched::Started(execution))
    }

    /// Without `keepWaitingPipelines` only the newest waiting run is kept: the BUFFERED runs
    /// of the pipeline older than `newest` are canceled. Only older ones, so two launches
    /// buffered at once never cancel each other.
    async fn supersede_older(&self, newest: &Execution) -> Result<(), AppError> {
        let filter = ExecutionFilter {
            pipeline_id: Some(newest.pipeline_config_id.clone()),
            statuses: vec![Status::Buffered],
            limit: 500,
            ..Default::default()
        };
        let position = (newest.build_time, newest.id.as_str());
        for older in self.store.list_executions(&filter).await? {
            if (older.build_time, older.id.as_str()) >= position {
                continue;
            }
            self.cancel_buffered(&older.id, &newest.trigger.user).await?;
        }
        Ok(())
    }

    async fn cancel_buffered(&self, id: &str, by: &str) -> Result<(), AppError> {
        for _ in 0..20 {
            let Some((mut execution, version)) = self.store.load_execution(id).await? else { return Ok(()) };
            if execution.status != Status::Buffered {
                return Ok(());
            }
            execution.status = Status::Canceled;
            execution.canceled = true;
            execution.canceled_by = Some(by.to_string());
            execution.cancellation_reason = Some("a newer run of the pipeline superseded it".into());
            execution.end_time = Some(now_millis());
            match self.store.commit_step(None, Some((&execution, version)), &[], &[]).await? {
                StepOutcome::Committed(seqs) => {
                    for seq in seqs {
                        self.publish(seq, &execution);
                    }
                    return Ok(());
                }
                StepOutcome::Conflict => tokio::task::yield_now().await,
            }
        }
        Err(AppError::conflict("execution", format!("execution {id} is changing too fast; try again")))
    }

    /// Starts the oldest BUFFERED run of a pipeline once none is active.
    pub async fn promote_buffered(&self, pipeline_id: &str) -> Result<(), store::Error> {
        if pipeline_id.is_empty() {
            return Ok(());
        }
        if let Some((seq, execution)) = self.store.promote_buffered(pipeline_id, |id| self.start_message(id)).await? {
            self.publish(seq, &execution);
            self.wake();
            tracing::info!(execution = %execution.id, pipeline = %execution.name, "waiting run started");
        }
        Ok(())
    }
}
