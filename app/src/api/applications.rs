//! Server functions for the Applications pages.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::Application;

#[server]
pub async fn list_applications() -> Result<Vec<Application>, AppError> {
    crate::ssr::respond(async |services, caller| services.applications.list(&caller).await).await
}

#[server]
pub async fn get_application(name: String) -> Result<Application, AppError> {
    crate::ssr::respond(async |services, caller| services.applications.get(&caller, &name).await).await
}

/// Called by the create form; its fields arrive as form fields, so this works without WASM too.
#[server]
pub async fn create_application(name: String, description: String, email: String) -> Result<Application, AppError> {
    let new = crate::model::NewApplication { name, description, email };
    crate::ssr::respond(async |services, caller| services.applications.create(&caller, new).await).await
}

/// Replaces the application's notification defaults with the JSON list typed on its page.
#[server]
pub async fn update_notification_defaults(name: String, json: String) -> Result<Application, AppError> {
    let notifications: Vec<serde_json::Value> = serde_json::from_str(if json.trim().is_empty() { "[]" } else { &json })
        .map_err(|error| AppError::Invalid { field: Some("notifications".into()), message: format!("not a JSON list: {error}") })?;
    let patch = crate::model::ApplicationPatch { notifications: Some(notifications), ..Default::default() };
    crate::ssr::respond(async |services, caller| services.applications.update(&caller, &name, patch).await).await
}

/// The Overview's settings form: description, owner and who may do what (roles, comma-separated
/// per access; all empty leaves the application open to every signed-in user). Needs WRITE.
#[server]
pub async fn update_application_settings(
    name: String,
    description: String,
    email: String,
    read: String,
    write: String,
    execute: String,
) -> Result<Application, AppError> {
    let roles = |text: &str| text.split(',').map(str::trim).filter(|role| !role.is_empty()).map(str::to_string).collect();
    let permissions = crate::model::auth::Permissions { read: roles(&read), write: roles(&write), execute: roles(&execute) };
    let patch = crate::model::ApplicationPatch { description: Some(description), email: Some(email), ..Default::default() };
    crate::ssr::respond(async |services, caller| {
        // Permissions first: a role name it refuses leaves the description untouched too.
        services.applications.set_permissions(&caller, &name, permissions).await?;
        services.applications.update(&caller, &name, patch).await
    })
    .await
}
