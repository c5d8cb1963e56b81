//! The pipeline's own settings in the editor: its name and concurrency options, and its
//! parameters (`parameterConfig`: name, label, help, default, required, allowed values), which
//! the Start dialog asks for and expressions read as `${parameters.name}`.

use leptos::prelude::*;
use serde_json::{Value, json};

use super::document::Document;
use crate::model::stage_types::{Field, Input};
use super::stage_inputs::JsonField;

/// A checkbox for a pipeline flag whose absence means `default`.
#[component]
fn Flag(doc: Document, key: &'static str, label: &'static str, help: &'static str, default: bool) -> impl IntoView {
    let help_id = format!("pipeline-{key}-help");
    view! {
        <div class="field">
            <label class="check">
                <input type="checkbox" aria-describedby=help_id.clone()
                    prop:checked=move || doc.value_at(key).and_then(|v| v.as_bool()).unwrap_or(default)
                    on:change=move |e| doc.set_at(key, Some(Value::Bool(event_target_checked(&e))))/>
                {label}
            </label>
            <span class="help" id=help_id>{help}</span>
        </div>
    }
}

#[component]
pub fn PipelineOptions(doc: Document) -> impl IntoView {
    view! {
        <section class="items-editor" aria-labelledby="pipeline-options-title">
            <h3 id="pipeline-options-title">"Pipeline"</h3>
            <div class="fields">
                <JsonField doc path="name".to_string() field=Field::new("name", "Pipeline name", Input::Text, "Unique in the application; triggers and other pipelines refer to it.")/>
            </div>
            <div class="fields">
                <Flag doc key="limitConcurrent" label="Run one at a time" default=true
                    help="Later runs wait (BUFFERED) until the running one finishes."/>
                <Flag doc key="keepWaitingPipelines" label="Keep every waiting run" default=false
                    help="With one at a time: run each waiting run in turn, not only the newest."/>
                <Flag doc key="disabled" label="Disabled" default=false help="Triggers and Start are refused while disabled."/>
            </div>
        </section>
    }
}

#[component]
pub fn ParametersEditor(doc: Document) -> impl IntoView {
    let count = Memo::new(move |previous: Option<&usize>| {
        if doc.parses() {
            doc.with(|root| root.and_then(|root| root.get("parameterConfig")).and_then(Value::as_array).map_or(0, Vec::len))
        } else {
            previous.copied().unwrap_or_default()
        }
    });
    view! {
        <section class="items-editor" aria-labelledby="parameters-title">
            <h3 id="parameters-title">"Parameters"</h3>
            {move || (count.get() == 0).then(|| view! { <p class="muted">"No parameters: runs start without asking anything."</p> })}
            <ol class="items" aria-label="Parameters">
                {move || (0..count.get()).map(|index| view! { <Parameter doc index/> }).collect_view()}
            </ol>
            <button type="button" class="secondary" disabled=move || !doc.parses()
                on:click=move |_| doc.push("parameterConfig", json!({"name": "", "label": "", "default": "", "required": false}))>
                "Add parameter"
            </button>
        </section>
    }
}

#[component]
fn Parameter(doc: Document, index: usize) -> impl IntoView {
    let at = format!("parameterConfig[{index}]");
    let name = {
        let at = at.clone();
        Signal::derive(move || doc.value_at(&format!("{at}.name")).and_then(|v| v.as_str().map(str::to_string)).filter(|n| !n.is_empty()))
    };
    let field = |key: &'static str, label: &'static str, help: &'static str, input: Input| {
        view! { <JsonField doc path=format!("{at}.{key}") field=Field::new(key, label, input, help)/> }
    };
    view! {
        <li class="item" aria-label=move || format!("Parameter {}", name.get().unwrap_or_else(|| (index + 1).to_string()))>
            <div class="fields">
                {field("name", "Parameter name", "Read as ${parameters.name}.", Input::Text)}
                {field("label", "Label", "Shown in the Start dialog.", Input::Text)}
                {field("default", "Default", "", Input::Text)}
                {field("required", "Required", "", Input::Check)}
            </div>
            <div class="fields">
                {field("description", "Help", "", Input::Text)}
                {field("options", "Allowed values", "One per line; empty: any value.", Input::Values)}
            </div>
            <button type="button" class="secondary" aria-label=move || format!("Remove parameter {}", name.get().unwrap_or_else(|| (index + 1).to_string()))
                on:click=move |_| doc.remove("parameterConfig", index)>"Remove"</button>
        </li>
    }
}
