//! The server half's services as the UI's server functions see them. `app` cannot depend on
//! `server` (the server depends on it), so the server implements these traits and provides a
//! [`Services`] value as Leptos context; server functions fetch it with [`services`] and the
//! caller with [`caller`]. REST handlers call the very same trait objects, so the UI and
//! automation share one house, and every method that acts for someone takes the [`Caller`].

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use leptos::prelude::use_context;

use crate::error::{AppError, Result};
use crate::model::auth::{
    ApiToken, AuditEntry, Caller, CreatedApiToken, NewApiToken, NewUser, Permissions, SecretInfo,
    SecretWrite, SignIn, User, UserPatch,
};
use crate::model::canary::StoredCanaryConfig;
use crate::model::cluster::{
    LoadBalancer, LoadBalancerRequest, RegionClusters, SecurityGroup, SecurityGroupRequest, ServerGroup, TaskRequest,
};
use crate::model::execution::{Execution, ExecutionEvent, ExecutionQuery, Judgment, StartRequest, Subscribe};
use crate::model::pipeline::{Pipeline, PipelineRevision};
use crate::model::{Application, ApplicationPatch, NewApplication};

#[async_trait]
pub trait ApplicationService: Send + Sync + 'static {
    /// The applications the caller may read, ordered by name.
    async fn list(&self, caller: &Caller) -> Result<Vec<Application>>;
    async fn get(&self, caller: &Caller, name: &str) -> Result<Application>;
    async fn create(&self, caller: &Caller, new: NewApplication) -> Result<Application>;
    async fn update(&self, caller: &Caller, name: &str, patch: ApplicationPatch) -> Result<Application>;
    async fn delete(&self, caller: &Caller, name: &str) -> Result<()>;
    async fn set_permissions(&self, caller: &Caller, name: &str, permissions: Permissions) -> Result<Application>;
}

/// A successful sign-in: the user, and the `Set-Cookie` header value carrying the session.
pub struct SignedIn {
    pub user: User,
    pub set_cookie: String,
}

/// The client's IP address, put in the request's extensions by the server's auth layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

#[async_trait]
pub trait AuthService: Send + Sync + 'static {
    async fn sign_in(&self, credentials: SignIn, address: IpAddr) -> Result<SignedIn>;
    /// Ends the session; returns the `Set-Cookie` value that removes the cookie.
    async fn sign_out(&self, session_token: &str) -> Result<String>;
    /// The caller behind a session cookie, if the session is valid.
    async fn session_caller(&self, session_token: &str) -> Result<Option<Caller>>;
    /// The caller behind a bearer token, if the token is valid.
    async fn token_caller(&self, token: &str) -> Result<Option<Caller>>;
    /// HTTP Basic authentication, as `spin` and the Terraform providers send it: a user and
    /// their password (throttled like sign-in), or a user and one of their API tokens.
    async fn basic_caller(&self, username: &str, secret: &str, address: std::net::IpAddr) -> Result<Caller>;
    async fn me(&self, caller: &Caller) -> Result<User>;

    async fn create_token(&self, caller: &Caller, new: NewApiToken) -> Result<CreatedApiToken>;
    async fn list_tokens(&self, caller: &Caller) -> Result<Vec<ApiToken>>;
    async fn revoke_token(&self, caller: &Caller, id: &str) -> Result<()>;

    async fn list_users(&self, caller: &Caller) -> Result<Vec<User>>;
    async fn create_user(&self, caller: &Caller, new: NewUser) -> Result<User>;
    async fn update_user(&self, caller: &Caller, name: &str, patch: UserPatch) -> Result<User>;
    async fn delete_user(&self, caller: &Caller, name: &str) -> Result<()>;
}

#[async_trait]
pub trait SecretService: Send + Sync + 'static {
    async fn list(&self, caller: &Caller) -> Result<Vec<SecretInfo>>;
    /// Creates or replaces the secret `name`.
    async fn put(&self, caller: &Caller, name: &str, write: SecretWrite) -> Result<SecretInfo>;
    async fn delete(&self, caller: &Caller, name: &str) -> Result<()>;
}

#[async_trait]
pub trait AuditService: Send + Sync + 'static {
    /// Newest first; `before` pages backwards by id.
    async fn list(&self, caller: &Caller, before: Option<i64>, limit: u32) -> Result<Vec<AuditEntry>>;
}

/// Cloud accounts as configuration (admins only): list, add or replace, delete. Accounts of
/// the clouds file and `local` are listed but not changed.
#[async_trait]
pub trait CloudAccountService: Send + Sync + 'static {
    async fn list(&self, caller: &Caller) -> Result<Vec<crate::model::clouds::CloudAccount>>;
    async fn put(&self, caller: &Caller, name: &str, account: crate::model::clouds::CloudAccount) -> Result<crate::model::clouds::CloudAccount>;
    async fn delete(&self, caller: &Caller, name: &str) -> Result<()>;
}

#[async_trait]
pub trait PipelineService: Send + Sync + 'static {
    async fn list(&self, caller: &Caller, application: &str) -> Result<Vec<Pipeline>>;
    async fn get(&self, caller: &Caller, application: &str, name_or_id: &str) -> Result<Pipeline>;
    /// Creates the pipeline, or saves a new revision of it (matched by `id`). A `revision`
    /// other than the latest is refused (409); 0 overwrites the latest.
    async fn save(&self, caller: &Caller, application: &str, config: serde_json::Value) -> Result<Pipeline>;
    /// Checks the pipeline as `save` would (WRITE, parse, graph, expressions, triggers,
    /// notifications) without storing it; answers it as it would be saved.
    async fn check(&self, caller: &Caller, application: &str, config: serde_json::Value) -> Result<Pipeline>;
    async fn delete(&self, caller: &Caller, application: &str, name_or_id: &str) -> Result<()>;
    /// Every saved revision, newest first.
    async fn history(&self, caller: &Caller, application: &str, name_or_id: &str) -> Result<Vec<PipelineRevision>>;
    /// The stage types this server runs, as the editor shows them; their defaults are for a
    /// stage of `application` (READ on it).
    async fn stage_types(&self, caller: &Caller, application: &str) -> Result<crate::model::stage_types::StageCatalog>;
    /// Saves an old revision's content as the newest revision.
    async fn restore(&self, caller: &Caller, application: &str, name_or_id: &str, revision: i64) -> Result<Pipeline>;
}

/// Canary configurations in Kayenta's shape, shared by the applications they name: READ on
/// one of them reads a config, changing it needs WRITE on all of them (before and after).
#[async_trait]
pub trait CanaryConfigService: Send + Sync + 'static {
    /// The configs `application` is one of the applications of, by name (READ on it).
    async fn list(&self, caller: &Caller, application: &str) -> Result<Vec<StoredCanaryConfig>>;
    /// Every config of an application the caller may read, by name.
    async fn list_readable(&self, caller: &Caller) -> Result<Vec<StoredCanaryConfig>>;
    async fn get(&self, caller: &Caller, id: &str) -> Result<StoredCanaryConfig>;
    /// Creates the config, or saves a new revision of the one whose `id` the body names (a
    /// `revision` other than the latest is refused, 409). `application` is added to the
    /// config's applications when missing.
    async fn save(&self, caller: &Caller, application: &str, config: serde_json::Value) -> Result<StoredCanaryConfig>;
    /// Creates the config, as Kayenta does: an `id` already taken is refused (409).
    async fn create(&self, caller: &Caller, config: serde_json::Value) -> Result<StoredCanaryConfig>;
    /// Saves a new revision of config `id` (a `revision` in the body other than the latest is
    /// refused, 409; without one the last save wins).
    async fn update(&self, caller: &Caller, id: &str, config: serde_json::Value) -> Result<StoredCanaryConfig>;
    async fn delete(&self, caller: &Caller, id: &str) -> Result<()>;
    /// Every saved revision, newest first.
    async fn history(&self, caller: &Caller, id: &str) -> Result<Vec<StoredCanaryConfig>>;
}

#[async_trait]
pub trait ExecutionService: Send + Sync + 'static {
    /// Starts a run (BUFFERED while another runs, with `limitConcurrent`).
    async fn start(&self, caller: &Caller, application: &str, name_or_id: &str, request: StartRequest) -> Result<Execution>;
    async fn get(&self, caller: &Caller, id: &str) -> Result<Execution>;
    /// Newest first (build time, then id); only applications the caller may read; without a
    /// `pipeline`, pipeline runs only. Every filter of `query` applies in the store, over all
    /// runs; `before` pages. A bad filter is `Invalid` naming its field.
    async fn list(&self, caller: &Caller, query: ExecutionQuery) -> Result<Vec<Execution>>;
    async fn cancel(&self, caller: &Caller, id: &str, reason: Option<String>) -> Result<Execution>;
    /// Continue or stop a manual judgment stage.
    async fn judge(&self, caller: &Caller, id: &str, stage_id: &str, judgment: Judgment) -> Result<Execution>;
    /// Holds a running execution: nothing new starts until it is resumed.
    async fn pause(&self, caller: &Caller, id: &str) -> Result<Execution>;
    async fn resume(&self, caller: &Caller, id: &str) -> Result<Execution>;
    /// Runs a finished stage, and everything after it, again.
    async fn restart_stage(&self, caller: &Caller, id: &str, stage_id: &str) -> Result<Execution>;
    /// Ends a running wait stage now.
    async fn skip_wait(&self, caller: &Caller, id: &str, stage_id: &str) -> Result<Execution>;
    /// The sequence number of the application's latest event (0 when none).
    async fn latest_seq(&self, caller: &Caller, application: &str) -> Result<i64>;
    /// Evaluates `${...}` (or a bare expression) against the execution.
    async fn evaluate(&self, caller: &Caller, id: &str, expression: &str) -> Result<serde_json::Value>;
    /// Stored events of the execution or application `subscribe` names, after sequence
    /// `after`, oldest first, at most `limit`; needs READ on the application (checked on
    /// every call, so a socket stops being fed once its caller loses access).
    async fn events(&self, caller: &Caller, subscribe: &Subscribe, after: i64, limit: u32) -> Result<Vec<ExecutionEvent>>;
}

/// Read models composed from the other services: the search box and an application's Overview.
#[async_trait]
pub trait ViewService: Send + Sync + 'static {
    /// Applications, clusters and server groups the caller may read whose name contains
    /// `text` (case-insensitive; blank text finds nothing).
    async fn search(&self, caller: &Caller, text: &str) -> Result<crate::api::search::SearchResults>;
    /// What an application runs and did lately, read so that a live view can go on from it.
    async fn overview(&self, caller: &Caller, application: &str) -> Result<crate::api::overview::Overview>;
}

#[async_trait]
pub trait ClusterService: Send + Sync + 'static {
    /// The application's clusters from the cache, by account and region.
    async fn clusters(&self, caller: &Caller, application: &str) -> Result<Vec<RegionClusters>>;
    /// One cluster of the application, in every account and region that has it (empty when
    /// none does).
    async fn cluster(&self, caller: &Caller, application: &str, cluster: &str) -> Result<Vec<RegionClusters>>;
    /// The application's clusters summed up, without server groups (Gate's `expand=false`);
    /// only those named `cluster` when given.
    async fn cluster_headers(&self, caller: &Caller, application: &str, cluster: Option<&str>) -> Result<Vec<crate::model::cluster::ClusterHeader>>;
    /// One page of the Clusters tab (filtered, paged, big pages collapsed).
    async fn clusters_page(
        &self,
        caller: &Caller,
        application: &str,
        query: &crate::model::cluster_page::ClustersPageQuery,
    ) -> Result<crate::model::cluster_page::ClustersPage>;
    /// One server group with its instances.
    async fn server_group(&self, caller: &Caller, application: &str, account: &str, region: &str, name: &str) -> Result<ServerGroup>;
    /// The log of the build a server group built from source ran (`None`: not built here).
    async fn build_log(&self, caller: &Caller, application: &str, account: &str, region: &str, name: &str) -> Result<Option<String>>;
    /// A Kubernetes server group's raw manifest and events, read from its API server now.
    async fn workload_manifest(&self, caller: &Caller, application: &str, account: &str, region: &str, name: &str) -> Result<crate::model::cluster::WorkloadManifest>;
    async fn load_balancers(&self, caller: &Caller, application: &str) -> Result<Vec<LoadBalancer>>;
    /// Creates or replaces a load balancer (account WRITE).
    async fn upsert_load_balancer(&self, caller: &Caller, request: LoadBalancerRequest) -> Result<LoadBalancer>;
    /// Refused (409) while server groups still use it.
    async fn delete_load_balancer(&self, caller: &Caller, account: &str, region: &str, name: &str) -> Result<()>;
    async fn security_groups(&self, caller: &Caller, application: &str) -> Result<Vec<SecurityGroup>>;
    async fn upsert_security_group(&self, caller: &Caller, request: SecurityGroupRequest) -> Result<SecurityGroup>;
    /// Refused (409) while load balancers or server groups still use it.
    async fn delete_security_group(&self, caller: &Caller, account: &str, region: &str, name: &str) -> Result<()>;
}

/// Ad-hoc tasks (Spinnaker's orchestrations): executions of the given stages, outside any
/// pipeline, run and tracked by the engine.
#[async_trait]
pub trait TaskService: Send + Sync + 'static {
    async fn submit(&self, caller: &Caller, request: TaskRequest) -> Result<Execution>;
    async fn get(&self, caller: &Caller, id: &str) -> Result<Execution>;
    /// The application's tasks, newest first.
    async fn list(&self, caller: &Caller, application: &str, limit: u32) -> Result<Vec<Execution>>;
    async fn cancel(&self, caller: &Caller, id: &str) -> Result<Execution>;
}

/// One handle per resource; cheap to clone.
#[derive(Clone)]
pub struct Services {
    pub applications: Arc<dyn ApplicationService>,
    pub auth: Arc<dyn AuthService>,
    pub secrets: Arc<dyn SecretService>,
    pub audit: Arc<dyn AuditService>,
    pub cloud_accounts: Arc<dyn CloudAccountService>,
    pub pipelines: Arc<dyn PipelineService>,
    pub canary_configs: Arc<dyn CanaryConfigService>,
    pub executions: Arc<dyn ExecutionService>,
    pub clusters: Arc<dyn ClusterService>,
    pub tasks: Arc<dyn TaskService>,
    pub views: Arc<dyn ViewService>,
}

/// Answers a server function's error with its HTTP status (400, 404, ...) instead of the
/// transport's blanket 500, so the browser and logs tell a bad input from a fault. Plain form
/// posts (no WASM) keep the framework's redirect back to the page.
pub fn with_status<T>(result: Result<T>) -> Result<T> {
    if let Err(error) = &result {
        let plain_form_post = use_context::<http::request::Parts>().is_some_and(|parts| {
            parts
                .headers
                .get(http::header::ACCEPT)
                .and_then(|accept| accept.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"))
        });
        if let (false, Some(response)) = (plain_form_post, use_context::<leptos_axum::ResponseOptions>()) {
            response.set_status(http::StatusCode::from_u16(error.status()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR));
        }
    }
    result
}

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "gennaker_session";

/// The session token among a request's cookies.
pub fn session_token(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|cookie| cookie.trim().split_once('='))
        .find_map(|(key, value)| (key == SESSION_COOKIE).then_some(value))
        .filter(|value| !value.is_empty())
}

/// Runs a server function's body with the services and the signed-in caller, and answers an
/// error with its status.
pub async fn respond<T>(call: impl AsyncFnOnce(Services, Caller) -> Result<T>) -> Result<T> {
    let result = match (services(), caller()) {
        (Ok(services), Ok(caller)) => call(services, caller).await,
        (Err(error), _) | (_, Err(error)) => Err(error),
    };
    with_status(result)
}

/// The services, inside a server function.
pub fn services() -> Result<Services> {
    use_context::<Services>().ok_or_else(|| {
        leptos::logging::error!("server function called without Services in context");
        AppError::Internal
    })
}

/// The authenticated caller of the current request (the server's auth layer put it there).
pub fn caller() -> Result<Caller> {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Caller>().cloned())
        .ok_or_else(|| AppError::Unauthenticated { message: "sign in first".into() })
}

/// The caller if there is one: for pages that also render signed out (the sign-in page).
pub fn maybe_caller() -> Option<Caller> {
    caller().ok()
}
