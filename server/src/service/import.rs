//! Bringing a Spinnaker export in (`POST /api/v1/import`, `gennaker import`): applications
//! first (created when missing, left alone when present), then each pipeline through the same
//! save as REST (same checks, same permissions, the caller's), reported one by one: imported,
//! imported with warnings (what it keeps but cannot run), unchanged, or refused and why.
//! Idempotent: a pipeline already stored as the export has it is left alone ("unchanged"), so
//! importing the same export twice saves nothing the second time.

use std::collections::BTreeSet;

use app::error::{AppError, Result};
use app::model::auth::{Caller, Permissions};
use app::model::import::{ImportBundle, ImportReport, ImportedApplication, ImportedPipeline, Outcome};
use app::model::pipeline::number_linear_stages;
use app::model::NewApplication;
use app::ssr::Services;
use serde_json::{Map, Value};

/// The most items one import takes.
pub const MAX_ITEMS: usize = 5_000;

/// What a stored document and an export may differ in without being different pipelines.
const STAMPED: &[&str] = &["id", "revision", "updateTs", "lastModifiedBy", "warnings", "application"];

pub async fn import(services: &Services, caller: &Caller, bundle: ImportBundle) -> Result<ImportReport> {
    if bundle.applications.len() + bundle.pipelines.len() > MAX_ITEMS {
        return Err(AppError::invalid("pipelines", format!("one import takes at most {MAX_ITEMS} applications and pipelines")));
    }
    let mut report = ImportReport::default();
    let mut seen = BTreeSet::new();
    for raw in &bundle.applications {
        let outcome = application(services, caller, raw).await;
        seen.insert(outcome.name.clone());
        report.applications.push(outcome);
    }
    // Applications only named by pipelines are created bare.
    for raw in &bundle.pipelines {
        let Some(name) = raw.get("application").and_then(Value::as_str).map(str::to_ascii_lowercase) else { continue };
        if seen.insert(name.clone()) {
            let outcome = application(services, caller, &serde_json::json!({"name": name})).await;
            report.applications.push(outcome);
        }
    }
    for raw in &bundle.pipelines {
        report.pipelines.push(pipeline(services, caller, raw).await);
    }
    Ok(report)
}

async fn application(services: &Services, caller: &Caller, raw: &Value) -> ImportedApplication {
    let name = raw.get("name").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
    let refused = |name: &str, reason: String| ImportedApplication { name: name.to_string(), outcome: Outcome::Refused, reason: Some(reason) };
    if name.is_empty() {
        return refused("", "an application needs a name".into());
    }
    if services.applications.get(caller, &name).await.is_ok() {
        return ImportedApplication { name, outcome: Outcome::Exists, reason: None };
    }
    let text = |key: &str| raw.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let new = NewApplication { name: name.clone(), description: text("description"), email: text("email") };
    if let Err(error) = services.applications.create(caller, new).await {
        return refused(&name, error.to_string());
    }
    if let Some(permissions) = raw.get("permissions").filter(|value| !value.is_null()) {
        let applied = match app::model::lenient::from_value::<Permissions>(permissions) {
            Ok(permissions) => services.applications.set_permissions(caller, &name, permissions).await.map(drop),
            Err(fault) => Err(AppError::invalid(format!("permissions.{}", fault.path), fault.message)),
        };
        if let Err(error) = applied {
            return refused(&name, format!("created, but its permissions were not set: {error}"));
        }
    }
    ImportedApplication { name, outcome: Outcome::Created, reason: None }
}

/// The document without what the server stamps, numbered as a save would number it.
fn comparable(document: &Value) -> Value {
    let mut document = document.clone();
    number_linear_stages(&mut document);
    if let Value::Object(map) = &mut document {
        for key in STAMPED {
            map.remove(*key);
        }
        // Cron triggers get an id when saved.
        for trigger in map.get_mut("triggers").and_then(Value::as_array_mut).into_iter().flatten() {
            if let Value::Object(trigger) = trigger {
                trigger.remove("id");
            }
        }
    }
    document
}

async fn pipeline(services: &Services, caller: &Caller, raw: &Value) -> ImportedPipeline {
    let application = raw.get("application").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
    let name = raw.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
    let report = |outcome: Outcome, id: Option<String>, warnings: Vec<String>, reason: Option<String>| ImportedPipeline {
        application: application.clone(),
        name: name.clone(),
        id,
        outcome,
        warnings,
        reason,
    };
    let Value::Object(document) = raw else {
        return report(Outcome::Refused, None, Vec::new(), Some("a pipeline is a JSON object".into()));
    };
    if application.is_empty() {
        return report(Outcome::Refused, None, Vec::new(), Some("the pipeline names no application".into()));
    }
    if name.trim().is_empty() {
        return report(Outcome::Refused, None, Vec::new(), Some("the pipeline has no name".into()));
    }
    let mut document: Map<String, Value> = document.clone();
    document.insert("application".into(), Value::String(application.clone()));
    // The stored pipeline this one is: by id, else by name.
    let given_id = document.get("id").and_then(Value::as_str).filter(|id| !id.is_empty()).map(str::to_string);
    let stored = match &given_id {
        Some(id) => services.pipelines.get(caller, &application, id).await.ok(),
        None => None,
    };
    let stored = match stored {
        Some(found) => Some(found),
        None => services.pipelines.get(caller, &application, &name).await.ok(),
    };
    if let Some(stored) = &stored {
        if comparable(&stored.to_document()) == comparable(&Value::Object(document.clone())) {
            return report(Outcome::Unchanged, Some(stored.id.clone()), stored.warnings.clone(), None);
        }
        document.insert("id".into(), Value::String(stored.id.clone()));
        // An export does not know gennaker's revisions: it replaces the latest.
        document.insert("revision".into(), Value::from(0));
    }
    match services.pipelines.save(caller, &application, Value::Object(document)).await {
        Ok(saved) if saved.warnings.is_empty() => report(Outcome::Imported, Some(saved.id), Vec::new(), None),
        Ok(saved) => report(Outcome::ImportedWithWarnings, Some(saved.id), saved.warnings, None),
        Err(error) => {
            let reason = match &error {
                AppError::Invalid { field: Some(field), message } => format!("{field}: {message}"),
                other => other.to_string(),
            };
            report(Outcome::Refused, None, Vec::new(), Some(reason))
        }
    }
}
