//! Starting a run for a trigger. The run acts as the trigger's `runAsUser` (a service account
//! or user, with its roles) or, without one, as `anonymous` with no roles: it needs EXECUTE on
//! the application and WRITE on the accounts its stages change, like anyone starting it.

use std::collections::BTreeMap;

use app::error::AppError;
use app::model::auth::{Access, Caller, Credential};
use app::model::execution::{Execution, Status, Trigger};
use app::model::pipeline::Pipeline;
use serde_json::Value;

use crate::engine::message::Message;
use crate::engine::service::{authorize, new_execution, require_accounts};
use crate::store::executions::Outgoing;
use crate::store::{self, Store};

pub const ANONYMOUS: &str = "anonymous";

/// The caller a trigger acts as.
pub async fn caller_for(store: &Store, run_as_user: Option<&str>) -> Result<Caller, AppError> {
    match run_as_user {
        None => Ok(Caller { name: ANONYMOUS.into(), roles: Vec::new(), admin: false, via: Credential::System }),
        Some(name) => {
            let user = store.get_user(name).await.map_err(|_| AppError::invalid("runAsUser", format!("runAsUser {name} does not exist")))?;
            Ok(Caller { name: user.name, roles: user.roles, admin: user.admin, via: Credential::System })
        }
    }
}

/// Whoever saves a trigger with `runAsUser` must be allowed to act as it: be it, be an admin,
/// or hold every role it holds (so nobody gains permissions by naming a mightier account).
pub async fn may_run_as(store: &Store, saver: &Caller, run_as_user: &str) -> Result<(), AppError> {
    let target = caller_for(store, Some(run_as_user)).await?;
    if saver.admin || saver.name == target.name || (!target.admin && target.roles.iter().all(|role| saver.roles.contains(role))) {
        Ok(())
    } else {
        Err(AppError::forbidden(format!("{} may not run pipelines as {run_as_user}", saver.name)))
    }
}

/// What a trigger says about the run it starts.
pub struct Firing {
    /// `webhook`, `pipeline`, `git`, ...
    pub kind: &'static str,
    pub run_as_user: Option<String>,
    pub parameters: BTreeMap<String, String>,
    /// Kept in `trigger` (payload, parent execution, ...), readable by expressions.
    pub extra: BTreeMap<String, Value>,
    /// A deterministic id: a second firing with it starts nothing. `None`: a fresh id.
    pub id: Option<String>,
}

/// Starts the run; `Ok(None)` when a run with the firing's id exists already.
pub async fn launch(store: &Store, pipeline: &Pipeline, firing: Firing, now: i64) -> Result<Option<Execution>, AppError> {
    let caller = caller_for(store, firing.run_as_user.as_deref()).await?;
    authorize(store, &caller, &pipeline.application, Access::Execute).await?;
    require_accounts(store, &caller, pipeline).await?;
    let parameters = pipeline
        .resolve_parameters(&firing.parameters)
        .map_err(|invalid| AppError::Invalid { field: Some(invalid.field), message: invalid.message })?;
    let id = firing.id.unwrap_or_else(|| crate::engine::service::new_execution_id(now));
    if store.load_execution(&id).await?.is_some() {
        return Ok(None);
    }
    let waiting = pipeline.limit_concurrent && store.active_executions(&pipeline.id).await? > 0;
    let trigger = Trigger { kind: firing.kind.into(), user: caller.name.clone(), parameters, extra: firing.extra };
    let mut execution = new_execution(pipeline, id.clone(), trigger, waiting, now);
    crate::engine::service::add_application_notifications(store, &mut execution).await;
    let start = (!waiting).then(|| Outgoing {
        execution_id: id.clone(),
        body: serde_json::to_string(&Message::StartExecution { execution: id.clone() }).expect("messages serialize"),
        deliver_at: now,
    });
    match store.insert_execution(&execution, start).await {
        Ok(_) => {}
        Err(store::Error::Database(error)) if store::is_unique_violation(&error) => return Ok(None),
        Err(error) => return Err(error.into()),
    }
    tracing::info!(execution = %execution.id, pipeline = %pipeline.name, trigger = firing.kind, as_user = %caller.name,
        buffered = execution.status == Status::Buffered, "triggered run started");
    Ok(Some(execution))
}
