//! What started a run, on its execution page: the trigger's type and user, what each type
//! records (a webhook's source, a git push's repository, branch and commit, the parent run of a
//! pipeline trigger, linked), the parameters, the artifacts the run bound to its expected
//! artifacts (and where each came from), and the payload that came with it. Other text fields a
//! trigger records (a cron trigger's id, a Docker tag) are listed as they are.

use leptos::prelude::*;
use serde_json::Value;

use crate::model::execution::Trigger;

/// Fields shown in their own words, or too big for a line, so not listed again as they are.
const NOT_LISTED: &[&str] = &["source", "project", "slug", "branch", "hash", "parentExecution", "payload", "artifacts", "resolvedExpectedArtifacts"];

#[component]
pub fn TriggerDetails(trigger: Trigger) -> impl IntoView {
    let text = |key: &str| trigger.extra.get(key).and_then(Value::as_str).filter(|text| !text.is_empty()).map(str::to_string);
    let row = |label: &'static str, value: String| view! { <dt>{label}</dt><dd>{value}</dd> }.into_any();
    let mut rows = vec![row("Type", trigger.kind.clone()), row("User", trigger.user.clone())];
    match trigger.kind.as_str() {
        "git" => {
            rows.extend(text("source").map(|source| row("Provider", source)));
            if let (Some(project), Some(slug)) = (text("project"), text("slug")) {
                rows.push(row("Repository", format!("{project}/{slug}")));
            }
            rows.extend(text("branch").map(|branch| row("Branch", branch)));
            rows.extend(text("hash").map(|hash| view! { <dt>"Commit"</dt><dd><code>{hash}</code></dd> }.into_any()));
        }
        _ => rows.extend(text("source").map(|source| row("Source", source))),
    }
    if let Some(parent) = trigger.extra.get("parentExecution") {
        rows.push(parent_run(parent));
    }
    for (key, value) in &trigger.extra {
        let shown = match value {
            Value::String(text) if !text.is_empty() => text.clone(),
            Value::Number(number) => number.to_string(),
            Value::Bool(flag) => flag.to_string(),
            _ => continue,
        };
        if !NOT_LISTED.contains(&key.as_str()) {
            rows.push(view! { <dt>{key.clone()}</dt><dd>{shown}</dd> }.into_any());
        }
    }
    if !trigger.parameters.is_empty() {
        let parameters = trigger.parameters.iter().map(|(name, value)| view! { <li><code>{name.clone()}</code> " = " {value.clone()}</li> }).collect_view();
        rows.push(view! { <dt>"Parameters"</dt><dd><ul class="plain">{parameters}</ul></dd> }.into_any());
    }
    if let Some(Value::Array(resolved)) = trigger.extra.get("resolvedExpectedArtifacts").filter(|list| list.as_array().is_some_and(|l| !l.is_empty())) {
        let items = resolved.iter().map(bound_artifact).collect_view();
        rows.push(view! { <dt>"Artifacts"</dt><dd><ul class="plain" aria-label="Bound artifacts">{items}</ul></dd> }.into_any());
    }
    let payload = trigger.extra.get("payload").map(|payload| {
        let text = serde_json::to_string_pretty(payload).unwrap_or_default();
        view! { <details><summary>"Payload"</summary><pre>{text}</pre></details> }
    });
    view! {
        <section class="trigger-details" aria-label="Trigger">
            <h2>"Trigger"</h2>
            <dl class="details">{rows}</dl>
            {payload}
        </section>
    }
}

/// One expected artifact and what the run bound to it: `id: type reference (from where)`.
fn bound_artifact(expected: &Value) -> AnyView {
    let text = |value: &Value, key: &str| value.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let bound = expected.get("boundArtifact").cloned().unwrap_or(Value::Null);
    let what = [text(&bound, "reference"), text(&bound, "name")].into_iter().find(|text| !text.is_empty()).unwrap_or_default();
    let version = text(&bound, "version");
    let from = match text(expected, "boundFrom").as_str() {
        "trigger" => "from the trigger",
        "priorExecution" => "from the previous run",
        "default" => "the default",
        _ => "",
    };
    view! {
        <li>
            <code>{text(expected, "id")}</code> ": " {text(&bound, "type")} " " <code>{what}</code>
            {(!version.is_empty()).then(|| format!(" (version {version})"))}
            " " <span class="muted">{from}</span>
        </li>
    }
    .into_any()
}

/// The run whose end started this one, linked to its own page.
fn parent_run(parent: &Value) -> AnyView {
    let text = |key: &str| parent.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let (application, id, name, status) = (text("application"), text("id"), text("name"), text("status"));
    let href = format!("/applications/{application}/executions/{id}");
    view! {
        <dt>"Parent run"</dt>
        <dd><a href=href>{format!("{application} / {name}")}</a> " " <span class="muted">{status}</span></dd>
    }
    .into_any()
}
