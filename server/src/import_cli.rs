//! `gennaker import PATH...`: reads a Spinnaker export from disk and sends it to a running
//! gennaker's `POST /api/v1/import`, printing what became of each application and pipeline.
//! A path is a JSON file or a folder searched for them: `spin pipeline list` output (an array
//! of pipelines), one pipeline, Dinghy's `{"pipelines": [...]}`, or a copy of Front50's storage
//! (`applications/*/application-metadata.json`, `pipelines/*/pipeline-metadata.json`, or
//! `specification.json` as on GCS). What each file holds is told by its content.

use std::path::{Path, PathBuf};

use app::model::import::{ImportBundle, ImportReport, Outcome};
use clap::Args;
use serde_json::Value;

#[derive(Debug, Args)]
pub struct ImportConfig {
    /// Files or folders of the export.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The gennaker to import into.
    #[arg(long, env = "GENNAKER_URL", default_value = "http://127.0.0.1:3000")]
    pub url: String,
    /// An API token of the user the import acts as (their permissions apply).
    #[arg(long, env = "GENNAKER_TOKEN", hide_env_values = true)]
    pub token: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: not JSON: {source}")]
    Parse { path: String, source: serde_json::Error },
    #[error("cannot reach {url}: {source}")]
    Send { url: String, source: reqwest::Error },
    #[error("gennaker answered {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("{0} of the pipelines or applications were refused")]
    SomeRefused(usize),
}

/// What the files hold, and what was skipped (and why).
#[derive(Debug, Default)]
pub struct Collected {
    pub bundle: ImportBundle,
    pub skipped: Vec<String>,
}

/// Reads every JSON file under `paths` (folders in name order).
pub fn collect(paths: &[PathBuf]) -> Result<Collected, Error> {
    let mut collected = Collected::default();
    for path in paths {
        walk(path, &mut collected)?;
    }
    Ok(collected)
}

fn walk(path: &Path, collected: &mut Collected) -> Result<(), Error> {
    let read_error = |source| Error::Read { path: path.display().to_string(), source };
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path).map_err(read_error)?.filter_map(|entry| entry.ok().map(|e| e.path())).collect();
        entries.sort();
        for entry in entries {
            if entry.is_dir() || entry.extension().is_some_and(|extension| extension == "json") {
                walk(&entry, collected)?;
            }
        }
        return Ok(());
    }
    let text = std::fs::read_to_string(path).map_err(read_error)?;
    let value: Value = serde_json::from_str(&text).map_err(|source| Error::Parse { path: path.display().to_string(), source })?;
    classify(value, path, collected);
    Ok(())
}

/// A name for a pipeline that has none: its file's (or, for Front50's fixed file names, its
/// folder's) name.
fn name_from(path: &Path) -> String {
    let stem = path.file_stem().and_then(|stem| stem.to_str()).unwrap_or("imported");
    if matches!(stem, "pipeline-metadata" | "specification")
        && let Some(folder) = path.parent().and_then(Path::file_name).and_then(|name| name.to_str())
    {
        return folder.to_string();
    }
    stem.to_string()
}

fn classify(value: Value, path: &Path, collected: &mut Collected) {
    match value {
        Value::Array(items) => items.into_iter().for_each(|item| classify(item, path, collected)),
        Value::Object(mut map) => {
            if map.get("strategy").and_then(Value::as_bool) == Some(true) {
                collected.skipped.push(format!("{}: a deployment strategy, not a pipeline", path.display()));
            } else if map.contains_key("stages") {
                if map.get("name").and_then(Value::as_str).is_none_or(str::is_empty) {
                    map.insert("name".into(), Value::String(name_from(path)));
                }
                collected.bundle.pipelines.push(Value::Object(map));
            } else if let Some(Value::Array(pipelines)) = map.remove("pipelines") {
                pipelines.into_iter().for_each(|pipeline| classify(pipeline, path, collected));
            } else if map.contains_key("name") && ["email", "permissions", "cloudProviders", "createTs", "user"].iter().any(|key| map.contains_key(*key)) {
                collected.bundle.applications.push(Value::Object(map));
            } else {
                collected.skipped.push(format!("{}: neither a pipeline nor an application", path.display()));
            }
        }
        _ => collected.skipped.push(format!("{}: neither a pipeline nor an application", path.display())),
    }
}

/// One line per item, as printed.
pub fn lines(report: &ImportReport) -> Vec<String> {
    let word = |outcome: Outcome| match outcome {
        Outcome::Created => "created",
        Outcome::Exists => "exists",
        Outcome::Imported => "imported",
        Outcome::ImportedWithWarnings => "imported with warnings",
        Outcome::Unchanged => "unchanged",
        Outcome::Refused => "refused",
    };
    let mut lines: Vec<String> = report
        .applications
        .iter()
        .map(|app| match &app.reason {
            Some(reason) => format!("application {}: {}: {reason}", app.name, word(app.outcome)),
            None => format!("application {}: {}", app.name, word(app.outcome)),
        })
        .collect();
    for pipeline in &report.pipelines {
        let mut line = format!("pipeline {}/{}: {}", pipeline.application, pipeline.name, word(pipeline.outcome));
        if let Some(reason) = &pipeline.reason {
            line.push_str(&format!(": {reason}"));
        }
        for warning in &pipeline.warnings {
            line.push_str(&format!("\n    {warning}"));
        }
        lines.push(line);
    }
    lines
}

pub async fn run(config: ImportConfig) -> Result<(), Error> {
    let collected = collect(&config.paths)?;
    for skipped in &collected.skipped {
        println!("skipped {skipped}");
    }
    let url = format!("{}/api/v1/import", config.url.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .post(&url)
        .bearer_auth(&config.token)
        .json(&collected.bundle)
        .send()
        .await
        .map_err(|source| Error::Send { url: url.clone(), source })?;
    let status = response.status();
    let body = response.text().await.map_err(|source| Error::Send { url: url.clone(), source })?;
    if !status.is_success() {
        return Err(Error::Refused { status: status.as_u16(), body });
    }
    let report: ImportReport = serde_json::from_str(&body).map_err(|source| Error::Parse { path: url, source })?;
    for line in lines(&report) {
        println!("{line}");
    }
    let refused = report.applications.iter().filter(|a| a.outcome == Outcome::Refused).count()
        + report.pipelines.iter().filter(|p| p.outcome == Outcome::Refused).count();
    if refused > 0 {
        return Err(Error::SomeRefused(refused));
    }
    Ok(())
}
