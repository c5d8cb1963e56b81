//! The service layer: business rules for each resource, called alike by REST handlers and
//! server functions. It turns store errors into `AppError`s, logging causes clients must not see.

pub mod applications;
pub mod audit;
pub mod canary_configs;
pub mod cloud_accounts;
pub mod clusters;
pub mod executions;
pub mod import;
pub mod pipelines;
pub mod tasks;
pub mod views;

use std::sync::Arc;

use app::error::AppError;
use app::ssr::Services;

use crate::auth::service::{Auth, AuthConfig};
use crate::engine::Engine;
use executions::Executions;
use pipelines::Pipelines;
use crate::secrets::Secrets;
use crate::store::{self, Store};

/// The services, plus the concrete handles the server itself needs beyond the traits.
pub struct Built {
    pub services: Services,
    pub auth: Arc<Auth>,
    pub secrets: Arc<Secrets>,
}

pub fn build(store: Store, auth_config: AuthConfig, secrets: Arc<Secrets>, engine: Engine) -> Built {
    let auth = Auth::new(store.clone(), auth_config);
    let engine_clouds = engine.clouds().clone();
    let executions: Arc<dyn app::ssr::ExecutionService> = Arc::new(Executions::new(engine.clone()));
    let clusters = Arc::new(clusters::Clusters::new(store.clone(), engine.clouds().clone()));
    let tasks: Arc<dyn app::ssr::TaskService> = Arc::new(tasks::Tasks::new(engine, executions.clone()));
    let applications: Arc<dyn app::ssr::ApplicationService> = Arc::new(applications::Applications::new(store.clone()));
    let views = Arc::new(views::Views {
        applications: applications.clone(),
        executions: executions.clone(),
        clusters: clusters.clone(),
        tasks: tasks.clone(),
    });
    let services = Services {
        applications,
        auth: auth.clone(),
        secrets: secrets.clone(),
        audit: Arc::new(audit::Audit::new(store.clone())),
        cloud_accounts: Arc::new(cloud_accounts::CloudAccounts::new(store.clone(), engine_clouds.clone())),
        pipelines: Arc::new(Pipelines::new(store.clone())),
        canary_configs: Arc::new(canary_configs::CanaryConfigs::new(store)),
        executions,
        clusters,
        tasks,
        views,
    };
    Built { services, auth, secrets }
}

impl From<store::Error> for AppError {
    fn from(error: store::Error) -> Self {
        match error {
            store::Error::Duplicate(what) => AppError::conflict("name", format!("{what} already exists")),
            store::Error::NotFound(what) => AppError::not_found(format!("{what} not found")),
            store::Error::Stale(message) => AppError::conflict("revision", message),
            store::Error::InUse(field, message) => AppError::conflict(field, message),
            other => {
                tracing::error!(error = %other, "store failure");
                AppError::Internal
            }
        }
    }
}
