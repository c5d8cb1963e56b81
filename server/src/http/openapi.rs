//! The OpenAPI document's frame (title, security scheme, tags); the paths come from the routers
//! registered in `http::api_router`, so they cannot drift from the code.

use std::sync::Arc;

use axum::extract::State;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "gennaker", description = "Continuous delivery: cluster management and pipelines."),
    modifiers(&Security),
    security(("bearer" = []), ("session" = [])),
    tags(
        (name = "applications", description = "Applications group clusters and pipelines"),
        (name = "auth", description = "Sign-in, sessions, API tokens and users"),
        (name = "secrets", description = "Encrypted values referenced by name"),
        (name = "audit", description = "Who changed what"),
        (name = "pipelines", description = "Pipeline configurations and their revisions"),
        (name = "canary", description = "Canary configurations (Kayenta's shape) and their revisions"),
        (name = "executions", description = "Runs of pipelines: start, watch, cancel, judge"),
        (name = "gate", description = "Spinnaker Gate's shapes, for existing scripts"),
        (name = "clusters", description = "Clusters, server groups, load balancers and security groups (from the cache)"),
        (name = "triggers", description = "Webhooks and git push hooks that start pipelines"),
        (name = "tasks", description = "Ad-hoc tasks: resize, enable, disable, destroy, rollback, clone"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("gnk_...").build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::auth::SESSION_COOKIE))),
        );
    }
}

/// The document, built once at start-up.
pub type Document = Arc<utoipa::openapi::OpenApi>;

pub async fn serve(State(document): State<Document>) -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json((*document).clone())
}
