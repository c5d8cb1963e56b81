//! The Triggers section of the pipeline editor: the pipeline's `triggers` listed (type, what
//! starts it, Enabled, Edit, Remove) and a form to add one, with the fields of the chosen type.
//! Everything is written into the pipeline's JSON at once (see [`super::document`]); Save
//! pipeline sends it, and the server's errors show next to the field they name.

use leptos::prelude::*;
use serde_json::{Map, Value};

use super::document::{Document, Item, text_of};
use super::inputs::{ChecksInput, ConstraintsInput, SelectInput, TextInput};
use super::items::{ListedItem, listed};
use crate::error::AppError;
use crate::model::trigger::{TRIGGER_TYPES, TriggerConfig};

enum Input {
    Text { required: bool, placeholder: &'static str },
    Select(&'static [&'static str]),
    /// Several of these; a new trigger starts with the first chosen.
    Checks(&'static [&'static str]),
    Constraints,
}

struct Field {
    key: &'static str,
    label: &'static str,
    input: Input,
}

const fn required(key: &'static str, label: &'static str, placeholder: &'static str) -> Field {
    Field { key, label, input: Input::Text { required: true, placeholder } }
}

const fn optional(key: &'static str, label: &'static str, placeholder: &'static str) -> Field {
    Field { key, label, input: Input::Text { required: false, placeholder } }
}

const CRON: &[Field] =
    &[required("cronExpression", "Cron expression", "0 0/15 * * * ?"), optional("timeZone", "Time zone (default UTC)", "Europe/Paris")];
const WEBHOOK: &[Field] = &[
    required("source", "Source", "my-ci"),
    optional("secretName", "Secret name (signs the calls)", "ci-hook"),
    Field { key: "payloadConstraints", label: "Payload constraints", input: Input::Constraints },
];
const PIPELINE: &[Field] = &[
    required("application", "Application", ""),
    required("pipeline", "Pipeline (name or id)", ""),
    Field { key: "status", label: "When its run is", input: Input::Checks(&["successful", "failed", "canceled"]) },
];
const GIT: &[Field] = &[
    Field { key: "source", label: "Git provider", input: Input::Select(&["github", "gitlab", "bitbucket"]) },
    required("project", "Project (owner)", "acme"),
    required("slug", "Repository slug", "shop"),
    optional("branch", "Branch (regex, default any)", "main|release/.*"),
    optional("secretName", "Secret name (signs the calls)", "github"),
];
const DOCKER: &[Field] =
    &[required("registry", "Registry", "registry.example.com"), required("repository", "Repository", "acme/shop"), optional("tag", "Tag (regex, default any)", "v.*")];
const JENKINS: &[Field] =
    &[required("master", "Jenkins master", "ci"), required("job", "Job", "shop/build"), optional("propertyFile", "Property file", "build.properties")];

fn fields_of(kind: &str) -> &'static [Field] {
    match kind {
        "cron" => CRON,
        "webhook" => WEBHOOK,
        "pipeline" => PIPELINE,
        "git" => GIT,
        "docker" => DOCKER,
        "jenkins" => JENKINS,
        _ => &[],
    }
}

/// The keys whose inputs a trigger of `kind` shows.
fn shown(kind: &str) -> Vec<&'static str> {
    fields_of(kind).iter().map(|field| field.key).chain(["runAsUser", "enabled"]).collect()
}

/// A new trigger of `kind`: required texts present (empty), so the server names them when left
/// so, rather than failing to read the trigger at all.
fn fresh(kind: &str, run_as_user: Option<Value>) -> Map<String, Value> {
    let mut trigger = Map::new();
    trigger.insert("type".into(), Value::String(kind.to_string()));
    trigger.insert("enabled".into(), Value::Bool(true));
    if let Some(user) = run_as_user {
        trigger.insert("runAsUser".into(), user);
    }
    for field in fields_of(kind) {
        let initial = match field.input {
            Input::Text { required: true, .. } => Value::String(String::new()),
            Input::Select(options) => Value::String(options[0].to_string()),
            Input::Checks(options) => Value::Array(vec![Value::String(options[0].to_string())]),
            Input::Constraints => Value::Object(Map::new()),
            Input::Text { required: false, .. } => continue,
        };
        trigger.insert(field.key.to_string(), initial);
    }
    trigger
}

/// One line saying what starts the pipeline.
pub fn summary(trigger: &Value) -> String {
    let text = |key: &str| text_of(trigger, key);
    let or = |text: String, fallback: &str| if text.is_empty() { fallback.to_string() } else { text };
    let mut words = match text("type").as_str() {
        "manual" => "started by hand".to_string(),
        "cron" => format!("on schedule {} ({})", text("cronExpression"), or(text("timeZone"), "UTC")),
        "webhook" => {
            let count = trigger.get("payloadConstraints").and_then(Value::as_object).map_or(0, |c| c.len());
            let constraints = match count {
                0 => String::new(),
                1 => ", 1 payload constraint".to_string(),
                n => format!(", {n} payload constraints"),
            };
            format!("POST /api/v1/webhooks/{}{constraints}", text("source"))
        }
        "pipeline" => {
            let statuses: Vec<&str> = trigger.get("status").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
            let statuses = if statuses.is_empty() { "successful".to_string() } else { statuses.join(" or ") };
            format!("when {}/{} is {statuses}", text("application"), text("pipeline"))
        }
        "git" => format!("push to {} {}/{}, branch {}", text("source"), text("project"), text("slug"), or(text("branch"), "any")),
        "docker" => format!("new tag of {}/{} matching {}", text("registry"), text("repository"), or(text("tag"), "any")),
        "jenkins" => format!("build of {} on {}", text("job"), text("master")),
        other => other.to_string(),
    };
    if !text("secretName").is_empty() {
        words.push_str(&format!(", signed with secret {}", text("secretName")));
    }
    if !text("runAsUser").is_empty() {
        words.push_str(&format!(", runs as {}", text("runAsUser")));
    }
    words
}

#[component]
pub fn TriggersEditor(doc: Document) -> impl IntoView {
    let triggers = listed(doc, "triggers");
    view! {
        <section class="items-editor" aria-labelledby="triggers-title">
            <h3 id="triggers-title">"Triggers"</h3>
            <fieldset class="plain" disabled=move || !doc.parses()>
                {move || triggers.with(Vec::is_empty).then(|| view! { <p class="empty">"No triggers: the pipeline starts only when someone starts it."</p> })}
                <ol class="items" aria-label="Triggers">
                    <For each=move || triggers.get() key=|pair| pair.clone() children=move |(index, kind)| view! { <TriggerRow doc index kind/> }/>
                </ol>
                <AddTrigger doc/>
            </fieldset>
        </section>
    }
}

#[component]
fn TriggerRow(doc: Document, index: usize, kind: String) -> impl IntoView {
    let item = Item::Listed { doc, list: "triggers", index };
    let enabled = move || item.get("enabled").and_then(|enabled| enabled.as_bool()).unwrap_or(true);
    let head = move || {
        view! {
            <label class="check">
                <input type="checkbox" prop:checked=enabled
                    on:change=move |e| item.update(|trigger| { trigger.insert("enabled".into(), Value::Bool(event_target_checked(&e))); })/>
                "Enabled"
            </label>
        }
    };
    view! {
        <ListedItem doc list="triggers" noun="trigger" index kind=kind.clone() summary shown=shown(&kind) head>
            <TriggerFields item kind=kind.clone()/>
        </ListedItem>
    }
}

/// The inputs of a trigger of `kind`.
#[component]
fn TriggerFields(item: Item, kind: String) -> impl IntoView {
    let inputs = fields_of(&kind)
        .iter()
        .map(|field| match field.input {
            Input::Text { required, placeholder } => view! { <TextInput item key=field.key label=field.label required placeholder/> }.into_any(),
            Input::Select(options) => view! { <SelectInput item key=field.key label=field.label options/> }.into_any(),
            Input::Checks(options) => view! { <ChecksInput item key=field.key legend=field.label options/> }.into_any(),
            Input::Constraints => view! { <ConstraintsInput item/> }.into_any(),
        })
        .collect_view();
    let hint = match kind.as_str() {
        "webhook" => Some(view! {
            <p class="hint">
                "Call " <code>{move || format!("POST /api/v1/webhooks/{}", item.text("source"))}</code>
                " with a JSON body; with a secret, sign it: " <code>"X-Gennaker-Signature-256: sha256=<HMAC-SHA256 of the body>"</code>
                ". Its " <code>"parameters"</code> " object sets the run's parameters."
            </p>
        }.into_any()),
        "git" => Some(view! {
            <p class="hint">"Point the provider's push hook at " <code>{move || format!("/api/v1/webhooks/git/{}", item.text("source"))}</code> "."</p>
        }.into_any()),
        "cron" => Some(view! { <p class="hint">"Quartz (seconds first, " <code>"?"</code> " allowed) or the classic five fields."</p> }.into_any()),
        _ => None,
    };
    view! {
        <div class="fields">
            {inputs}
            <TextInput item key="runAsUser" label="Run as user (optional)" placeholder="a user or service account"/>
        </div>
        {hint}
    }
}

#[component]
fn AddTrigger(doc: Document) -> impl IntoView {
    let fields = RwSignal::new(fresh("webhook", None));
    let problem = RwSignal::new(None::<AppError>);
    let item = Item::New { list: "triggers", fields, problem };
    // A memo: typing in a field must not rebuild the fields (and lose the focus).
    let kind = Memo::new(move |_| item.text("type"));
    let added = RwSignal::new(String::new());
    let change_type = Callback::new(move |kind: String| {
        let user = fields.with_untracked(|fields| fields.get("runAsUser").cloned());
        fields.set(fresh(&kind, user));
        problem.set(None);
    });
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let trigger = Value::Object(fields.get_untracked());
        match serde_json::from_value::<TriggerConfig>(trigger.clone()) {
            Err(error) => problem.set(Some(AppError::Invalid { field: None, message: error.to_string() })),
            Ok(_) => {
                let kind = kind.get_untracked();
                doc.push("triggers", trigger);
                added.set(format!("The {kind} trigger is added; save the pipeline to keep it."));
                change_type.run(kind);
            }
        }
    };
    let general = move || problem.with(|problem| problem.as_ref().filter(|error| error.field().is_none()).map(ToString::to_string));
    view! {
        <form class="item-form" aria-label="Add trigger" on:submit=submit>
            <h4>"Add a trigger"</h4>
            <div class="fields">
                <SelectInput item key="type" label="Type" options=TRIGGER_TYPES on_change=change_type/>
            </div>
            {move || view! { <TriggerFields item kind=kind.get()/> }}
            {move || general().map(|message| view! { <p class="field-error">{message}</p> })}
            <div class="actions">
                <button type="submit">"Add trigger"</button>
                <span class="muted" aria-live="polite">{move || added.get()}</span>
            </div>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_fresh_trigger_of_every_type_reads_as_one() {
        for kind in TRIGGER_TYPES {
            let trigger = Value::Object(fresh(kind, Some(json!("bot"))));
            let parsed: TriggerConfig = serde_json::from_value(trigger.clone()).unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(parsed.run_as_user.as_deref(), Some("bot"));
            assert!(!summary(&trigger).is_empty());
        }
    }

    #[test]
    fn summaries_say_what_starts_the_pipeline() {
        let hook = json!({"type": "webhook", "source": "ci", "secretName": "s", "payloadConstraints": {"a": "b"}});
        assert_eq!(summary(&hook), "POST /api/v1/webhooks/ci, 1 payload constraint, signed with secret s");
        let after = json!({"type": "pipeline", "application": "shop", "pipeline": "build", "status": ["failed", "canceled"]});
        assert_eq!(summary(&after), "when shop/build is failed or canceled");
        assert_eq!(summary(&json!({"type": "cron", "cronExpression": "0 0 * * *"})), "on schedule 0 0 * * * (UTC)");
    }
}
