//! Spinnaker compatibility: real pipelines written by Spinnaker users (the fixtures in
//! `tests/fixtures/spinnaker/`, with their sources in its README) save as they are, come back
//! unchanged apart from what gennaker stamps, and either start or are refused naming each stage
//! type gennaker does not run.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::both_databases;
use crate::helpers::{Db, spawn_app};

both_databases!(real_spinnaker_pipelines_save_round_trip_and_start_or_say_why_not);

/// What gennaker writes over a saved document (`Pipeline::to_document`).
const STAMPED: &[&str] = &["id", "application", "name", "revision", "updateTs", "lastModifiedBy", "warnings"];

fn fixtures() -> Vec<(String, Value)> {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/spinnaker");
    let index: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(folder.join("index.json")).unwrap()).unwrap();
    index
        .iter()
        .map(|entry| {
            let file = entry["file"].as_str().unwrap().to_string();
            let text = std::fs::read_to_string(folder.join(&file)).unwrap();
            (file, serde_json::from_str(&text).unwrap())
        })
        .collect()
}

/// The stage types of a document, nested `stages` included.
fn stage_types(stages: &Value, into: &mut BTreeSet<String>) {
    for stage in stages.as_array().into_iter().flatten() {
        if let Some(kind) = stage["type"].as_str() {
            into.insert(kind.to_string());
        }
        stage_types(&stage["stages"], into);
    }
}

/// Differences between what was written and what came back, apart from the stamps (and the
/// `refId`s gennaker numbers when a pipeline has none).
fn differences(written: &Value, got: &Value, numbered: bool) -> Vec<String> {
    let mut found = Vec::new();
    let (Some(written), Some(got)) = (written.as_object(), got.as_object()) else { return vec!["not an object".into()] };
    for (key, value) in written {
        if STAMPED.contains(&key.as_str()) {
            continue;
        }
        let back = got.get(key).unwrap_or(&Value::Null);
        if key == "stages" && numbered {
            let strip = |stages: &Value| -> Value {
                let mut stages = stages.clone();
                for stage in stages.as_array_mut().into_iter().flatten() {
                    if let Some(stage) = stage.as_object_mut() {
                        stage.remove("refId");
                        stage.remove("requisiteStageRefIds");
                    }
                }
                stages
            };
            if strip(value) != strip(back) {
                found.push("stages (beyond the numbered refIds)".into());
            }
        } else if value != back && (!value.is_null() || got.contains_key(key)) {
            found.push(format!("{key}: wrote {value}, got {back}"));
        }
    }
    for key in got.keys() {
        let expected = written.contains_key(key) || STAMPED.contains(&key.as_str()) || (numbered && key == "stages");
        if !expected {
            found.push(format!("{key} was added"));
        }
    }
    found
}

/// Each required parameter gets its default, its first option, or a word.
fn parameters(pipeline: &Value) -> Value {
    let mut given = serde_json::Map::new();
    for parameter in pipeline["parameterConfig"].as_array().into_iter().flatten() {
        let Some(name) = parameter["name"].as_str() else { continue };
        let default = match &parameter["default"] {
            Value::String(text) if !text.is_empty() => text.clone(),
            Value::Number(number) => number.to_string(),
            Value::Bool(flag) => flag.to_string(),
            _ => parameter["options"][0]["value"].as_str().map_or_else(|| "x".to_string(), str::to_string),
        };
        let value = if default.is_empty() { "x".to_string() } else { default };
        given.insert(name.to_string(), Value::String(value));
    }
    // Each expected artifact gets one matching it, as a trigger would bring it.
    let artifacts: Vec<Value> = pipeline["expectedArtifacts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|expected| {
            let mut artifact = expected["matchArtifact"].clone();
            let name = artifact["name"].as_str().unwrap_or("artifact").to_string();
            if artifact.get("reference").and_then(Value::as_str).is_none_or(str::is_empty) {
                artifact["reference"] = json!(name);
            }
            artifact
        })
        .collect();
    json!({ "parameters": given, "artifacts": artifacts })
}

async fn real_spinnaker_pipelines_save_round_trip_and_start_or_say_why_not(db: Db) {
    let app = spawn_app(db).await;
    let fixtures = fixtures();
    assert!(fixtures.len() >= 25, "at least 25 fixtures");
    let mut failures = Vec::new();
    let mut started = 0;
    let mut refused = 0;
    let mut ids = BTreeSet::new();
    for (number, (file, written)) in fixtures.iter().enumerate() {
        // Each in an application of its own: several fixtures share names.
        let application = format!("fixture{number}");
        app.create_application(&application).await;
        let mut document = written.clone();
        document["application"] = json!(application);
        if document.get("name").and_then(Value::as_str).is_none() {
            // Pasted from Spinnaker's "Edit as JSON": the editor (or the importer) names it.
            document["name"] = json!(file.trim_end_matches(".json"));
        }
        // Two fixtures copied from one source share an id; ids are global, as in Spinnaker.
        if let Some(id) = document.get("id").and_then(Value::as_str)
            && !ids.insert(id.to_string())
        {
            document.as_object_mut().unwrap().remove("id");
        }
        let base = format!("/api/v1/applications/{application}/pipelines");
        let saved = app.post_json(&base, &document).await;
        let status = saved.status();
        let answer: Value = saved.json().await.unwrap_or_default();
        if status != 200 {
            failures.push(format!("{file}: save answered {status}: {answer}"));
            continue;
        }
        let id = answer["id"].as_str().unwrap().to_string();
        let got: Value = app.get(&format!("{base}/{id}")).await.json().await.unwrap();
        let has_ref_ids = written["stages"].as_array().into_iter().flatten().any(|stage| stage.get("refId").is_some_and(|r| !r.is_null()));
        let numbered = !has_ref_ids && written["stages"].as_array().is_some_and(|stages| !stages.is_empty());
        let differences = differences(written, &got, numbered);
        if !differences.is_empty() {
            failures.push(format!("{file}: does not round-trip: {}", differences.join("; ")));
        }
        // Whatever a client read it can send back: a second save is a new revision, same content.
        let resaved = app.post_json(&base, &got).await;
        if resaved.status() != 200 {
            failures.push(format!("{file}: saving back what GET gave answered {}", resaved.status()));
        }

        let mut types = BTreeSet::new();
        stage_types(&written["stages"], &mut types);
        let catalog: Value = app.get(&format!("/api/v1/applications/{application}/stageTypes")).await.json().await.unwrap();
        let known: BTreeSet<String> = catalog.as_array().unwrap().iter().filter_map(|info| info["type"].as_str().map(str::to_string)).collect();
        let unknown: Vec<&String> = types.iter().filter(|kind| !known.contains(*kind)).collect();
        // Known types the server cannot run as configured (another cloud, a placeholder URL).
        let stage_warnings: Vec<String> = answer["warnings"].as_array().into_iter().flatten()
            .filter_map(Value::as_str).filter(|w| w.contains("cannot run")).map(str::to_string).collect();
        let start = app.post_json(&format!("{base}/{id}/executions"), &parameters(written)).await;
        let start_status = start.status();
        let start_answer: Value = start.json().await.unwrap_or_default();
        // Expected artifacts no trigger of this test can supply (their names are patterns with
        // placeholders): the start is refused naming each one, which is the promised outcome.
        let artifacts_missing = start_status == 400
            && start_answer["error"]["field"] == "expectedArtifacts"
            && written["expectedArtifacts"].as_array().into_iter().flatten().all(|expected| {
                let id = expected["id"].as_str().unwrap_or_default();
                start_answer["error"]["message"].as_str().unwrap_or_default().contains(id) || expected["useDefaultArtifact"] == true
            });
        if unknown.is_empty() && stage_warnings.is_empty() && artifacts_missing {
            refused += 1;
        } else if unknown.is_empty() && stage_warnings.is_empty() {
            if start_status != 201 {
                failures.push(format!("{file}: only known stage types, but start answered {start_status}: {start_answer}"));
                continue;
            }
            started += 1;
            let cancel = app.client.put(app.url(&format!("/api/v1/executions/{}/cancel", start_answer["id"].as_str().unwrap()))).send().await.unwrap();
            assert!(cancel.status().is_success(), "{file}: cancel");
        } else {
            let message = start_answer["error"]["message"].as_str().unwrap_or_default();
            let named = unknown.iter().all(|kind| message.contains(&format!("{kind:?}"))) && stage_warnings.iter().all(|w| message.contains(w.as_str()));
            if start_status != 400 || !named {
                failures.push(format!("{file}: stage types {unknown:?} cannot run, but start answered {start_status}: {start_answer}"));
                continue;
            }
            let warnings = answer["warnings"].as_array().cloned().unwrap_or_default();
            if !unknown.iter().all(|kind| warnings.iter().any(|w| w.as_str().unwrap_or_default().contains(&format!("{kind:?}")))) {
                failures.push(format!("{file}: the save's warnings do not name {unknown:?}: {warnings:?}"));
            }
            refused += 1;
        }
    }
    assert!(failures.is_empty(), "{} of {} fixtures failed:\n{}", failures.len(), fixtures.len(), failures.join("\n"));
    assert_eq!(started + refused, fixtures.len());
}
