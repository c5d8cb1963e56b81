//! The one door every run goes through (Orca's `ExecutionLauncher`): a manual start (REST, the
//! UI's server functions, the Gate-shaped routes), each trigger kind, the `pipeline` stage and
//! ad-hoc tasks all call [`Launcher::launch`]. It checks the pipeline can run (not disabled,
//! parameters resolve), authorizes whoever the run acts as, applies `limitConcurrent` /
//! `keepWaitingPipelines` the same way for every kind of start (a new waiting run replaces
//! the older waiting ones unless the pipeline keeps them), stores the run with its first
//! event and its `StartExecution` message in one transaction, tells live subscribers and wakes
//! the workers. When a run ends, [`Launcher::promote_buffered`] starts the next waiting one.
//!
//! `limitConcurrent` is decided inside the store's transaction under a per-pipeline lock
//! ([`Store::insert_execution`]), not by a count before the insert, so two starts in the same
//! instant on PostgreSQL cannot both run.

use std::collections::BTreeMap;
use std::sync::Arc;

use app::error::AppError;
use app::model::artifact::ExpectedArtifact;
use app::model::auth::{Access, Caller, Credential};
use app::model::execution::{Change, Execution, ExecutionEvent, Stage, Status, Trigger};
use app::model::pipeline::{Pipeline, StageConfig};
use serde_json::Value;
use tokio::sync::{Notify, broadcast};

use super::clock::Clock;
use super::message::Message;
use crate::auth::access::{authorize, require_accounts, require_applications_acted_on};
use crate::store::executions::{Concurrency, ExecutionFilter, Outgoing};
use crate::store::{self, Store, now_millis};

/// Whose authority a run starts with.
#[derive(Debug, Clone)]
pub enum RunAs {
    /// A user, service account or trigger identity: needs EXECUTE on the application and WRITE
    /// on the accounts the pipeline's stages change, checked at every launch.
    Caller(Caller),
    /// A `pipeline` stage starting its child (or a deploy's `pipelineBeforeCleanup`): the
    /// child acts as the parent's user (`user`, the parent's trigger user), who is checked again
    /// now like any caller: EXECUTE on the child's application (which may have come from an
    /// expression), WRITE on its accounts. A user gennaker does not know (a trigger's
    /// `anonymous`) has no roles.
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

    /// Tells live subscribers about a whole execution stored with event `seq`.
    pub fn publish(&self, seq: i64, execution: &Execution) {
        self.publish_event(ExecutionEvent { seq, ts: now_millis(), change: Change::Execution(execution.clone()) });
    }

    /// Tells live subscribers about an event as it was stored.
    pub fn publish_event(&self, event: ExecutionEvent) {
        let _ = self.events.send(event);
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

    /// The authority of a run's user: their roles when gennaker knows them, none otherwise.
    pub async fn caller_named(&self, name: &str) -> Result<Caller, AppError> {
        match self.store.get_user(name).await {
            Ok(user) => Ok(Caller { name: user.name, roles: user.roles, admin: user.admin, via: Credential::System }),
            Err(store::Error::NotFound(_)) => Ok(Caller { name: name.to_string(), roles: Vec::new(), admin: false, via: Credential::System }),
            Err(error) => Err(error.into()),
        }
    }

    /// The trigger's artifacts and the pipeline's `expectedArtifacts` bound to them, recorded
    /// in the trigger (`artifacts`, `resolvedExpectedArtifacts`, each with `boundArtifact` and
    /// `boundFrom`); an expected artifact that cannot be bound refuses the start, naming it.
    async fn bind_artifacts(&self, pipeline: &Pipeline, kind: &str, mut extra: BTreeMap<String, Value>) -> Result<BTreeMap<String, Value>, AppError> {
        let expected: Vec<ExpectedArtifact> = match pipeline.extra.get("expectedArtifacts") {
            Some(list) if !list.is_null() => app::model::lenient::from_value(list)
                .map_err(|fault| AppError::invalid(format!("expectedArtifacts{}", fault.path), fault.message))?,
            _ => Vec::new(),
        };
        let available = super::artifacts::trigger_artifacts(kind, &extra);
        if expected.is_empty() && available.is_empty() {
            return Ok(extra);
        }
        let prior = if expected.iter().any(|wanted| wanted.use_prior_artifact) && !pipeline.id.is_empty() {
            let filter = ExecutionFilter { pipeline_id: Some(pipeline.id.clone()), limit: 1, ..Default::default() };
            let latest = self.store.list_executions(&filter).await?;
            latest
                .first()
                .and_then(|run| run.trigger.extra.get("resolvedExpectedArtifacts").cloned())
                .and_then(|list| app::model::lenient::from_value::<Vec<ExpectedArtifact>>(&list).ok())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let bound = super::artifacts::bind(&expected, &available, &prior)
            .map_err(|message| AppError::invalid("expectedArtifacts", format!("pipeline {} cannot start: {message}", pipeline.name)))?;
        let resolved: Vec<Value> = bound
            .into_iter()
            .map(|(mut wanted, from)| {
                wanted.extra.insert("boundFrom".into(), serde_json::to_value(from).unwrap_or_default());
                serde_json::to_value(wanted).unwrap_or_default()
            })
            .collect();
        extra.insert("artifacts".into(), serde_json::to_value(&available).unwrap_or_default());
        extra.insert("resolvedExpectedArtifacts".into(), Value::Array(resolved));
        Ok(extra)
    }

    /// Starts a run (see the module doc for every step).
    pub async fn launch(&self, launch: Launch) -> Result<Launched, AppError> {
        let Launch { pipeline, trigger_kind, run_as, parameters, extra, id } = launch;
        if pipeline.disabled {
            return Err(AppError::invalid("pipeline", format!("pipeline {} is disabled", pipeline.name)));
        }
        // Kept at save with a warning, refused here: nothing of the run starts.
        let not_runnable = super::stages::not_runnable(&pipeline);
        if !not_runnable.is_empty() {
            return Err(AppError::invalid("stages", format!("pipeline {} cannot start: {}", pipeline.name, not_runnable.join("; "))));
        }
        let caller = match run_as {
            RunAs::Caller(caller) => caller,
            RunAs::ParentRun { user } => self.caller_named(&user).await?,
        };
        authorize(&self.store, &caller, &pipeline.application, Access::Execute).await?;
        let parameters = pipeline.resolve_parameters(&parameters).map_err(AppError::from)?;
        require_accounts(&self.store, &caller, super::stages::accounts_of(&pipeline)).await?;
        let acted_on = super::stages::applications_acted_on(&pipeline);
        require_applications_acted_on(&self.store, &caller, &pipeline.application, acted_on).await?;
        let user = caller.name.clone();
        let now = self.clock.now();
        let id = id.unwrap_or_else(|| new_execution_id(now));
        if self.store.load_execution(&id).await?.is_some() {
            return Ok(Launched::AlreadyStarted(id));
        }
        let extra = self.bind_artifacts(&pipeline, &trigger_kind, extra).await?;
        let trigger = Trigger { kind: trigger_kind, user, parameters, extra };
        let mut execution = new_execution(&pipeline, id.clone(), trigger, now);
        // Application notification defaults apply to pipelines; an ad-hoc task has none.
        if !pipeline.id.is_empty() {
            add_application_notifications(&self.store, &mut execution).await;
        }
        let start = self.start_message(&id);
        let by = execution.trigger.user.clone();
        let supersede = move |older: &mut Execution| {
            older.status = Status::Canceled;
            older.canceled = true;
            older.canceled_by = Some(by.clone());
            older.cancellation_reason = Some("a newer run of the pipeline superseded it".into());
            older.end_time = Some(now_millis());
        };
        let concurrency = match (pipeline.limit_concurrent && !pipeline.id.is_empty(), pipeline.keep_waiting_pipelines) {
            (false, _) => Concurrency::Unlimited,
            (true, true) => Concurrency::KeepWaiting,
            (true, false) => Concurrency::Supersede(&supersede),
        };
        let inserted = match self.store.insert_execution(&mut execution, start, concurrency).await {
            Ok(inserted) => inserted,
            Err(store::Error::Database(error)) if store::is_unique_violation(&error) => return Ok(Launched::AlreadyStarted(id)),
            Err(error) => return Err(error.into()),
        };
        for (seq, older) in &inserted.superseded {
            self.publish(*seq, older);
        }
        self.publish(inserted.seq, &execution);
        self.wake();
        let buffered = execution.status == Status::Buffered;
        tracing::info!(execution = %execution.id, application = %execution.application, pipeline = %execution.name,
            trigger = %execution.trigger.kind, by = %execution.trigger.user, buffered, "run launched");
        Ok(Launched::Started(execution))
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

/// Adds the application's notification defaults to a new run.
async fn add_application_notifications(store: &Store, execution: &mut Execution) {
    if let Ok(application) = store.get_application(&execution.application).await {
        execution.notification_configs.extend(application.notifications);
    }
}

/// A new run of `pipeline`, NOT_STARTED (the store decides whether it must wait).
fn new_execution(pipeline: &Pipeline, id: String, trigger: Trigger, now: i64) -> Execution {
    Execution {
        id,
        application: pipeline.application.clone(),
        pipeline_config_id: pipeline.id.clone(),
        name: pipeline.name.clone(),
        status: Status::NotStarted,
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

fn new_execution_id(now: i64) -> String {
    // Time first, so ids sort by creation.
    format!("{now:013x}{}", &crate::auth::token::new_id()[..8])
}

fn stage_from_config(config: &StageConfig) -> Stage {
    Stage {
        id: config.ref_id.clone(),
        ref_id: config.ref_id.clone(),
        kind: config.type_name.clone(),
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

