//! Starting a run for a trigger (through the engine's launcher, like every start). The run acts as the trigger's `runAsUser` (a service account
//! or user, with its roles) or, without one, as `anonymous` with no roles: it needs EXECUTE on
//! the application and WRITE on the accounts its stages change, like anyone starting it.

use std::collections::BTreeMap;

use app::error::AppError;
use app::model::auth::{Caller, Credential};
use app::model::execution::Execution;
use app::model::pipeline::Pipeline;
use serde_json::Value;

use crate::engine::launcher::{Launch, Launcher, RunAs};
use crate::store::Store;

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

/// Starts the run through the launcher; `Ok(None)` when a run with the firing's id exists
/// already.
pub async fn launch(launcher: &Launcher, pipeline: &Pipeline, firing: Firing) -> Result<Option<Execution>, AppError> {
    let caller = caller_for(launcher.store(), firing.run_as_user.as_deref()).await?;
    let launch = Launch {
        pipeline: pipeline.clone(),
        trigger_kind: firing.kind.to_string(),
        run_as: RunAs::Caller(caller),
        parameters: firing.parameters,
        extra: firing.extra,
        id: firing.id,
    };
    Ok(launcher.launch(launch).await?.started())
}
