//! Spinnaker Gate's API under `/gate`, for the tools Spinnaker users script with: point
//! `spin --gate-endpoint http://HOST:3000/gate` or a Terraform Spinnaker provider at it. The
//! calls those clients make, with Gate's statuses and bodies (what they read is checked in
//! `tests/api/gate.rs`, in the order `spin` makes the calls). Authentication is the same as
//! everywhere (a bearer token, or HTTP Basic with a password or a token as `spin` sends it), and
//! so is authorization: every handler goes through the same services as REST.
//!
//! Not in the OpenAPI document: its shapes are Spinnaker's (documented by Gate), and the
//! document describes gennaker's own API.
//!
//! Applications are created, updated and deleted as Gate does it, through `POST /tasks` with a
//! `createApplication`/`updateApplication`/`deleteApplication` job, answered with a task
//! reference the client polls. Those jobs are done at once, so the task is finished when the
//! answer is sent; its outcome is kept for polling in this process (the last
//! [`KEPT_TASKS`]): on several instances a poll may reach one that did not run it, which
//! answers 404 (clients then read the application itself).
//!
//! Canary configurations are Gate's `/v2/canaryConfig` routes with Kayenta's bodies, as
//! `spin canary canary-config list|get|save|delete` and Deck's canary config editor call them
//! (checked in `tests/api/canary_configs.rs`).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use app::error::AppError;
use app::model::execution::{Execution, ExecutionQuery, Judgment, StartRequest};
use app::model::{ApplicationPatch, NewApplication};
use app::model::auth::Permissions;
use app::model::canary::StoredCanaryConfig;
use app::ssr::Services;
use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post, put};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, Authenticated, Json};
use crate::auth::token;
use crate::state::AppState;

/// How many finished application tasks are kept for polling.
pub const KEPT_TASKS: usize = 1_000;

/// A finished `POST /tasks`: who submitted it (only they, and admins, may read it) and its
/// outcome.
struct KeptTask {
    id: String,
    owner: String,
    task: Value,
}

/// Finished `POST /tasks` outcomes, newest last.
#[derive(Clone, Default)]
struct Tasks(Arc<Mutex<VecDeque<KeptTask>>>);

impl Tasks {
    fn keep(&self, id: &str, owner: &str, task: Value) {
        let mut tasks = self.0.lock().expect("the task list is never poisoned");
        tasks.push_back(KeptTask { id: id.to_string(), owner: owner.to_string(), task });
        while tasks.len() > KEPT_TASKS {
            tasks.pop_front();
        }
    }

    fn get(&self, id: &str, caller: &app::model::auth::Caller) -> Option<Value> {
        let tasks = self.0.lock().expect("the task list is never poisoned");
        tasks.iter().find(|kept| kept.id == id && (caller.admin || kept.owner == caller.name)).map(|kept| kept.task.clone())
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/version", get(version))
        .route("/applications", get(applications))
        .route("/applications/{app}", get(application))
        .route("/applications/{app}/pipelineConfigs", get(pipeline_configs))
        .route("/applications/{app}/pipelineConfigs/{name}", get(pipeline_config))
        .route("/applications/{app}/pipelines", get(application_executions))
        .route("/pipelines", post(save_pipeline))
        .route("/pipelines/{id}", get(execution).put(update_pipeline))
        .route("/pipelines/{app}/{name}", post(start).delete(delete_pipeline))
        .route("/pipelines/{id}/cancel", put(cancel))
        .route("/pipelines/{id}/pause", put(pause))
        .route("/pipelines/{id}/resume", put(resume))
        .route("/pipelines/{id}/stages/{stage}", patch(judge))
        .route("/executions", get(executions))
        .route("/tasks", post(submit_task))
        .route("/tasks/{id}", get(task))
        .route("/v2/canaryConfig", get(canary_configs).post(create_canary_config))
        .route("/v2/canaryConfig/{id}", get(canary_config).put(update_canary_config).delete(delete_canary_config))
        .route("/{*rest}", axum::routing::any(unknown))
        .layer(Extension(Tasks::default()))
}

async fn unknown() -> ApiError {
    ApiError(AppError::not_found("gennaker's Gate API has no such call (see the README's Coming from Spinnaker)"))
}

async fn version() -> Json<Value> {
    Json(json!({"version": format!("gennaker {}", env!("CARGO_PKG_VERSION"))}))
}

/// An application as Front50 lists it.
fn front50_application(application: &app::model::Application) -> Value {
    json!({
        "name": application.name,
        "email": application.email,
        "description": application.description,
        "permissions": application.permissions,
        "createTs": application.create_ts.to_string(),
        "updateTs": application.update_ts.to_string(),
    })
}

async fn applications(State(services): State<Services>, Authenticated(caller): Authenticated) -> Result<Json<Value>, ApiError> {
    let list = services.applications.list(&caller).await?;
    Ok(Json(Value::Array(list.iter().map(front50_application).collect())))
}

/// Gate's application: its name, its attributes (what Front50 stores) and its clusters.
async fn application(State(services): State<Services>, Authenticated(caller): Authenticated, Path(app): Path<String>) -> Result<Json<Value>, ApiError> {
    let application = services.applications.get(&caller, &app.to_ascii_lowercase()).await?;
    Ok(Json(json!({"name": application.name, "attributes": front50_application(&application), "clusters": {}})))
}

async fn pipeline_configs(State(services): State<Services>, Authenticated(caller): Authenticated, Path(app): Path<String>) -> Result<Json<Value>, ApiError> {
    let pipelines = services.pipelines.list(&caller, &app.to_ascii_lowercase()).await?;
    Ok(Json(Value::Array(pipelines.iter().map(app::model::pipeline::Pipeline::to_document).collect())))
}

/// One pipeline by name (or id); 404 when there is none, which `spin pipeline save` relies on.
async fn pipeline_config(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path((app, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(services.pipelines.get(&caller, &app.to_ascii_lowercase(), &name).await?.to_document()))
}

fn object(body: &Bytes) -> Result<serde_json::Map<String, Value>, ApiError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError(AppError::invalid("pipeline", "a pipeline is a JSON object"))),
        Err(error) => Err(ApiError(AppError::invalid("pipeline", format!("not JSON: {error}")))),
    }
}

/// Gate's save: an upsert keyed on `id`; without one, the pipeline of that name in the
/// application if there is one (as `spin pipeline save` expects), else a new one. 200 with an
/// empty body.
async fn save_pipeline(State(services): State<Services>, Authenticated(caller): Authenticated, body: Bytes) -> Result<StatusCode, ApiError> {
    let mut pipeline = object(&body)?;
    let Some(app) = pipeline.get("application").and_then(Value::as_str).map(str::to_ascii_lowercase) else {
        return Err(ApiError(AppError::invalid("application", "Gate's pipeline save needs the pipeline's application")));
    };
    pipeline.insert("application".into(), Value::String(app.clone()));
    upsert(&services, &caller, &app, pipeline).await?;
    Ok(StatusCode::OK)
}

async fn upsert(services: &Services, caller: &app::model::auth::Caller, app: &str, mut pipeline: serde_json::Map<String, Value>) -> Result<Value, ApiError> {
    let given_id = pipeline.get("id").and_then(Value::as_str).filter(|id| !id.is_empty()).map(str::to_string);
    let existing = match &given_id {
        Some(id) => services.pipelines.get(caller, app, id).await.ok(),
        None => match pipeline.get("name").and_then(Value::as_str) {
            Some(name) => services.pipelines.get(caller, app, name).await.ok(),
            None => None,
        },
    };
    if let Some(existing) = existing {
        // Spinnaker's clients do not know gennaker's revisions: the last save wins.
        pipeline.insert("id".into(), Value::String(existing.id));
        pipeline.insert("revision".into(), Value::from(0));
    }
    Ok(services.pipelines.save(caller, app, Value::Object(pipeline)).await?.to_document())
}

async fn update_pipeline(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let mut pipeline = object(&body)?;
    let Some(app) = pipeline.get("application").and_then(Value::as_str).map(str::to_ascii_lowercase) else {
        return Err(ApiError(AppError::invalid("application", "Gate's pipeline update needs the pipeline's application")));
    };
    pipeline.insert("id".into(), Value::String(id));
    pipeline.insert("application".into(), Value::String(app.clone()));
    Ok(Json(upsert(&services, &caller, &app, pipeline).await?))
}

/// Gate answers 200 whether or not something was deleted.
async fn delete_pipeline(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path((app, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    match services.pipelines.delete(&caller, &app.to_ascii_lowercase(), &name).await {
        Ok(()) | Err(AppError::NotFound { .. }) => Ok(StatusCode::OK),
        Err(error) => Err(ApiError(error)),
    }
}

/// Gate's trigger body: parameters, plus fields gennaker records but does not need.
#[derive(Debug, Default, Deserialize)]
struct GateTrigger {
    #[serde(default)]
    parameters: BTreeMap<String, Value>,
    #[serde(default)]
    artifacts: Vec<Value>,
}

/// 202 `{"ref": "/pipelines/<id>"}`.
async fn start(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path((app, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let trigger: GateTrigger = if body.iter().all(u8::is_ascii_whitespace) {
        GateTrigger::default()
    } else {
        app::model::lenient::from_value(&serde_json::from_slice::<Value>(&body).map_err(|error| ApiError(AppError::invalid("trigger", error.to_string())))?)
            .map_err(|fault| ApiError(AppError::invalid(format!("trigger.{}", fault.path), fault.message)))?
    };
    // Spinnaker's parameters may be numbers or booleans; gennaker's are text.
    let parameters = trigger
        .parameters
        .into_iter()
        .map(|(key, value)| (key, value.as_str().map_or_else(|| value.to_string(), str::to_string)))
        .collect();
    let execution = services.executions.start(&caller, &app.to_ascii_lowercase(), &name, StartRequest { parameters, artifacts: trigger.artifacts }).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"ref": format!("/pipelines/{}", execution.id)}))))
}

/// An execution in Orca's shape: `type`, `status`, `startTime`/`endTime`, `stages[]` with `id`,
/// `refId`, `type`, `context`, `outputs`, `tasks`.
pub fn orca_execution(execution: &Execution) -> Value {
    let mut value = serde_json::to_value(execution).unwrap_or_default();
    if let Value::Object(map) = &mut value {
        map.insert("type".into(), json!("PIPELINE"));
        map.entry("pipelineConfigId").or_insert_with(|| json!(execution.pipeline_config_id));
        map.insert("buildTime".into(), json!(execution.build_time));
    }
    value
}

async fn execution(State(services): State<Services>, Authenticated(caller): Authenticated, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(orca_execution(&services.executions.get(&caller, &id).await?)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecutionsQuery {
    #[serde(default)]
    pipeline_config_ids: Option<String>,
    #[serde(default)]
    execution_ids: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    statuses: Option<String>,
}

/// Gate's `GET /executions?pipelineConfigIds=a,b&executionIds=x,y&limit=&statuses=`.
async fn executions(State(services): State<Services>, Authenticated(caller): Authenticated, Query(query): Query<ExecutionsQuery>) -> Result<Json<Value>, ApiError> {
    let mut found = Vec::new();
    for id in query.execution_ids.iter().flat_map(|ids| ids.split(',')).map(str::trim).filter(|id| !id.is_empty()) {
        match services.executions.get(&caller, id).await {
            Ok(execution) => found.push(execution),
            Err(AppError::NotFound { .. } | AppError::Forbidden { .. }) => {}
            Err(error) => return Err(ApiError(error)),
        }
    }
    for pipeline in query.pipeline_config_ids.iter().flat_map(|ids| ids.split(',')).map(str::trim).filter(|id| !id.is_empty()) {
        let listing = ExecutionQuery { pipeline: Some(pipeline.to_string()), statuses: query.statuses.clone(), limit: query.limit.or(Some(25)), ..Default::default() };
        found.extend(services.executions.list(&caller, listing).await?);
    }
    Ok(Json(Value::Array(found.iter().map(orca_execution).collect())))
}

#[derive(Debug, Default, Deserialize)]
struct ApplicationExecutionsQuery {
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    statuses: Option<String>,
}

async fn application_executions(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(app): Path<String>,
    Query(query): Query<ApplicationExecutionsQuery>,
) -> Result<Json<Value>, ApiError> {
    let listing = ExecutionQuery { application: Some(app.to_ascii_lowercase()), statuses: query.statuses, limit: query.limit.or(Some(25)), ..Default::default() };
    let found = services.executions.list(&caller, listing).await?;
    Ok(Json(Value::Array(found.iter().map(orca_execution).collect())))
}

#[derive(Debug, Default, Deserialize)]
struct CancelQuery {
    #[serde(default)]
    reason: Option<String>,
}

/// 200 with an empty body, as Gate.
async fn cancel(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Query(query): Query<CancelQuery>,
) -> Result<StatusCode, ApiError> {
    services.executions.cancel(&caller, &id, query.reason).await?;
    Ok(StatusCode::OK)
}

async fn pause(State(services): State<Services>, Authenticated(caller): Authenticated, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    services.executions.pause(&caller, &id).await?;
    Ok(StatusCode::OK)
}

async fn resume(State(services): State<Services>, Authenticated(caller): Authenticated, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    services.executions.resume(&caller, &id).await?;
    Ok(StatusCode::OK)
}

/// A manual judgment, by the stage's id in the execution (Orca's): `judgmentStatus`
/// `continue`/`stop` and `judgmentInput`; other fields Deck sends are ignored.
async fn judge(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path((id, stage)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: Value = serde_json::from_slice(&body).map_err(|error| ApiError(AppError::invalid("judgmentStatus", error.to_string())))?;
    let judgment = json!({"judgmentStatus": body.get("judgmentStatus").cloned().unwrap_or(Value::Null),
        "judgmentInput": body.get("judgmentInput").cloned().unwrap_or(Value::Null)});
    let judgment: Judgment = app::model::lenient::from_value(&judgment).map_err(|fault| ApiError(AppError::invalid(fault.path, fault.message)))?;
    Ok(Json(orca_execution(&services.executions.judge(&caller, &id, &stage, judgment).await?)))
}

/// One job of a Gate task.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Job {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    application: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskBody {
    #[serde(default)]
    application: Option<String>,
    #[serde(default)]
    description: Option<String>,
    job: Vec<Job>,
}

/// `POST /tasks` with application jobs; answers `{"ref": "/tasks/<id>"}` at once (the task has
/// finished; see the module doc). Other job types (server group operations) are refused with a
/// message saying so: gennaker's own `POST /api/v1/tasks` runs those.
async fn submit_task(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Extension(tasks): Extension<Tasks>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: Value = serde_json::from_slice(&body).map_err(|error| ApiError(AppError::invalid("job", format!("not JSON: {error}"))))?;
    let request: TaskBody = app::model::lenient::from_value(&body).map_err(|fault| ApiError(AppError::invalid(fault.path, fault.message)))?;
    let id = token::new_id();
    let started = crate::store::now_millis();
    let mut outcome: Result<(), AppError> = Ok(());
    for (index, job) in request.job.iter().enumerate() {
        outcome = application_job(&services, &caller, job, request.application.as_deref()).await.map_err(|error| match error {
            AppError::Invalid { field, message } => AppError::Invalid { field: Some(format!("job[{index}].{}", field.unwrap_or_default())), message },
            other => other,
        });
        if outcome.is_err() {
            break;
        }
    }
    // Refusals a client must see at once are answers, not task outcomes.
    if let Err(error @ (AppError::Invalid { .. } | AppError::Forbidden { .. } | AppError::Unauthenticated { .. })) = &outcome {
        return Err(ApiError(error.clone()));
    }
    let status = if outcome.is_ok() { "SUCCEEDED" } else { "TERMINAL" };
    let variables = match &outcome {
        Ok(()) => json!([]),
        Err(error) => json!([{"key": "exception", "value": {"details": {"error": error.to_string(), "errors": [error.to_string()]}}}]),
    };
    let task = json!({
        "id": id,
        "name": request.description.unwrap_or_else(|| "Application task".into()),
        "application": request.application,
        "status": status,
        "startTime": started,
        "endTime": crate::store::now_millis(),
        "variables": variables,
        "steps": [],
    });
    tasks.keep(&id, &caller.name, task);
    Ok(Json(json!({"ref": format!("/tasks/{id}")})))
}

async fn application_job(services: &Services, caller: &app::model::auth::Caller, job: &Job, task_application: Option<&str>) -> Result<(), AppError> {
    let given = job.application.clone().unwrap_or(Value::Null);
    let name = given
        .get("name")
        .and_then(Value::as_str)
        .or(task_application)
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| AppError::invalid("application.name", "the job names no application"))?;
    let text = |key: &str| given.get(key).and_then(Value::as_str).map(str::to_string);
    let permissions: Option<Permissions> = match given.get("permissions") {
        Some(value) if !value.is_null() => Some(
            app::model::lenient::from_value(value).map_err(|fault| AppError::invalid(format!("application.permissions.{}", fault.path), fault.message))?,
        ),
        _ => None,
    };
    match job.kind.as_str() {
        "createApplication" | "updateApplication" => {
            let exists = services.applications.get(caller, &name).await.is_ok();
            if exists {
                let patch = ApplicationPatch { description: text("description"), email: text("email"), notifications: None };
                services.applications.update(caller, &name, patch).await?;
            } else {
                let new = NewApplication { name: name.clone(), description: text("description").unwrap_or_default(), email: text("email").unwrap_or_default() };
                services.applications.create(caller, new).await?;
            }
            if let Some(permissions) = permissions {
                services.applications.set_permissions(caller, &name, permissions).await?;
            }
            Ok(())
        }
        "deleteApplication" => services.applications.delete(caller, &name).await,
        other => Err(AppError::invalid("type", format!("gennaker's Gate API runs application jobs only (createApplication, updateApplication, deleteApplication), not {other:?}"))),
    }
}

async fn task(Extension(tasks): Extension<Tasks>, Authenticated(caller): Authenticated, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    tasks.get(&id, &caller).map(Json).ok_or_else(|| ApiError(AppError::not_found(format!("task {id} not found"))))
}

/// Kayenta's summary of a canary config, as its list answers it.
fn canary_config_summary(stored: &StoredCanaryConfig) -> Value {
    json!({
        "id": stored.config.id,
        "name": stored.config.name,
        "updatedTimestamp": stored.updated_timestamp,
        "updatedTimestampIso": stored.updated_timestamp_iso,
        "applications": stored.config.applications,
    })
}

/// A canary config as Kayenta answers it: the document, its timestamps (and gennaker's
/// `revision`), and the judge that reads it, Kayenta's, the only one gennaker runs.
fn kayenta_canary_config(stored: &StoredCanaryConfig) -> Value {
    let mut value = serde_json::to_value(stored).unwrap_or_default();
    if let Value::Object(map) = &mut value {
        map.insert("judge".into(), json!({"name": "NetflixACAJudge-v1.0", "judgeConfigurations": {}}));
    }
    value
}

fn canary_config_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|error| ApiError(AppError::invalid("config", format!("not JSON: {error}"))))
}

/// `GET /v2/canaryConfig?application=X` (repeatable, as Kayenta takes it): the summaries of
/// those applications' configs; without one (or empty, as `spin canary canary-config list`
/// sends it), of every application the caller may read.
async fn canary_configs(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let applications: Vec<&str> =
        query.iter().filter(|(key, _)| key == "application").map(|(_, value)| value.trim()).filter(|value| !value.is_empty()).collect();
    let configs = if applications.is_empty() {
        services.canary_configs.list_readable(&caller).await?
    } else {
        let mut found: Vec<StoredCanaryConfig> = Vec::new();
        for application in applications {
            for stored in services.canary_configs.list(&caller, &application.to_ascii_lowercase()).await? {
                if !found.iter().any(|seen| seen.config.id == stored.config.id) {
                    found.push(stored);
                }
            }
        }
        found
    };
    Ok(Json(Value::Array(configs.iter().map(canary_config_summary).collect())))
}

/// 404 when there is none, which `spin canary canary-config save` relies on to create it.
async fn canary_config(State(services): State<Services>, Authenticated(caller): Authenticated, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(kayenta_canary_config(&services.canary_configs.get(&caller, &id).await?)))
}

/// Kayenta's create: `{"canaryConfigId": id}`; an id already taken is a 409.
async fn create_canary_config(State(services): State<Services>, Authenticated(caller): Authenticated, body: Bytes) -> Result<Json<Value>, ApiError> {
    let saved = services.canary_configs.create(&caller, canary_config_body(&body)?).await?;
    Ok(Json(json!({"canaryConfigId": saved.config.id})))
}

/// Kayenta's update: `{"canaryConfigId": id}`. Spinnaker's clients do not know gennaker's
/// revisions: the last save wins.
async fn update_canary_config(
    State(services): State<Services>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let mut config = canary_config_body(&body)?;
    if let Value::Object(map) = &mut config {
        map.remove("revision");
    }
    let saved = services.canary_configs.update(&caller, &id, config).await?;
    Ok(Json(json!({"canaryConfigId": saved.config.id})))
}

/// 200 with an empty body, as Gate.
async fn delete_canary_config(State(services): State<Services>, Authenticated(caller): Authenticated, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    services.canary_configs.delete(&caller, &id).await?;
    Ok(StatusCode::OK)
}
