//! Prometheus HTTP service discovery (`http_sd_configs`): every instance of the local cloud
//! with the labels canary analysis selects by (`application`, `cluster`, `serverGroup`,
//! `instance`, plus `account`, `region` and `version`), so any Prometheus scrapes each
//! instance's `/metrics` as the local cloud starts and replaces them.
//!
//! Who may ask: the scraper, presenting the metrics token (`--metrics-token-file`, a file
//! Prometheus reads as `authorization.credentials_file`), sees every instance; a signed-in user
//! or API token sees only the instances of applications they may READ in accounts they may
//! READ. Nobody else: the list names applications and addresses, which are not public.

use std::collections::BTreeMap;

use app::error::ErrorBody;
use app::model::auth::{Access, Caller};
use app::model::cluster::HealthState;
use axum::Extension;
use axum::extract::State;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, Json};
use crate::auth::access::authorize;
use crate::auth::policy;
use crate::engine::Engine;
use crate::state::AppState;
use crate::store::Store;

/// Put in a request's extensions by the authentication layer when it carried the metrics
/// token.
#[derive(Debug, Clone, Copy)]
pub struct MetricsScraper;

/// One target group as Prometheus's HTTP SD reads it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TargetGroup {
    /// `host:port` of each instance.
    pub targets: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(targets))
}

/// Every running local-cloud instance as a Prometheus scrape target, one group per instance
/// with its application, cluster, server group and instance names as labels (Prometheus HTTP
/// SD). Send the metrics token (`--metrics-token-file`) to see all; a user sees the
/// applications they may read.
#[utoipa::path(get, path = "/metrics/targets", tag = "canary",
    responses((status = 200, description = "target groups", body = Vec<TargetGroup>), (status = 401, body = ErrorBody)))]
pub async fn targets(
    State(engine): State<Engine>,
    State(store): State<Store>,
    scraper: Option<Extension<MetricsScraper>>,
    caller: Option<Extension<Caller>>,
) -> Result<Json<Vec<TargetGroup>>, ApiError> {
    let caller = match (scraper, caller) {
        (Some(_), _) => None,
        (None, Some(Extension(caller))) => Some(caller),
        (None, None) => return Err(ApiError(app::error::AppError::unauthenticated("send the metrics token or sign in"))),
    };
    let placed = engine.clouds().cache.placed_server_groups("local");
    let readable_accounts = store.account_permissions().await.map_err(|error| ApiError(app::error::AppError::from(error)))?;
    let mut readable_applications: BTreeMap<String, bool> = BTreeMap::new();
    let mut groups = Vec::new();
    for (application, cluster, server_group) in placed {
        if let Some(caller) = &caller {
            let granted = readable_accounts.get(&server_group.location.account).cloned().unwrap_or_default();
            if !policy::may_use_account(caller, &granted, Access::Read) {
                continue;
            }
            let readable = match readable_applications.get(&application) {
                Some(known) => *known,
                None => {
                    let may = authorize(&store, caller, &application, Access::Read).await.is_ok();
                    readable_applications.insert(application.clone(), may);
                    may
                }
            };
            if !readable {
                continue;
            }
        }
        for instance in server_group.instances.iter().filter(|instance| !instance.address.is_empty() && instance.health_state != HealthState::Down) {
            let labels = BTreeMap::from([
                ("application".to_string(), application.clone()),
                ("cluster".to_string(), cluster.clone()),
                ("serverGroup".to_string(), server_group.name.clone()),
                ("instance".to_string(), instance.name.clone()),
                ("account".to_string(), server_group.location.account.clone()),
                ("region".to_string(), server_group.location.region.clone()),
            ]);
            let mut labels = labels;
            if let app::model::cluster::Artifact::Command { version, .. } = &server_group.artifact {
                labels.insert("version".to_string(), version.clone());
            }
            groups.push(TargetGroup { targets: vec![instance.address.clone()], labels });
        }
    }
    Ok(Json(groups))
}
