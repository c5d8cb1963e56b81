//! An application's Pipelines tab: each pipeline with its recent runs as stage bars, updated
//! live; a Start dialog built from the pipeline's parameters; the application's executions,
//! filtered (see [`executions`]); and the pipeline editor (see [`editor`]): forms for stages,
//! parameters, triggers and notifications beside the JSON, errors next to their fields, and
//! revision history.

mod document;
mod diff;
mod editor;
mod executions;
mod history;
mod inputs;
mod items;
mod notifications;
mod parameters;
mod path;
mod stage_inputs;
mod stage_lists;
mod stages;
mod triggers;

use std::collections::BTreeMap;

use leptos::html::H2;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};

/// The editor's JSON text of a pipeline; the server renders the Pipelines tab's with it.
#[cfg_attr(not(feature = "ssr"), allow(unused_imports))]
pub(crate) use self::document::pretty;
use self::editor::LazyPipelineEditor;
use self::executions::ExecutionList;
use crate::api::pipelines::{PipelineListing, RecentRuns, list_pipelines, recent_executions, start_pipeline};
use crate::components::ErrorMessage;
use crate::components::loaded::{Loaded, loaded};
use crate::components::in_browser::{InBrowser, load, split_view};
use crate::components::live::watch;
use crate::components::stage_bar::StageBar;
use crate::components::tabs::ApplicationTabs;
use crate::model::execution::{Change, Execution, Subscribe};

const RUNS_SHOWN: usize = 5;

#[component]
pub fn PipelinesPage() -> impl IntoView {
    let params = use_params_map();
    let application = move || params.read().get("name").unwrap_or_default();
    let saved = RwSignal::new(0u32);
    let editing = RwSignal::new(String::from(EXAMPLE));
    let pipelines = Resource::new(move || (application(), saved.get()), |(application, _)| list_pipelines(application));
    let recent = Resource::new(application, recent_executions);
    let heading = NodeRef::<H2>::new();
    // Picking a pipeline to edit fills the editor and moves the focus to it.
    let edit = Callback::new(move |json: String| {
        editing.set(json);
        if let Some(heading) = heading.get_untracked() {
            let _ = heading.focus();
        }
    });

    view! {
        <Title text=move || format!("{} pipelines · gennaker", application())/>
        <section class="page">
            <p class="breadcrumb"><a href="/applications">"Applications"</a> " / " {application}</p>
            <h1>{application}</h1>
            <ApplicationTabs application=application() current="pipelines"/>
            <Loaded fallback="Loading pipelines…" content=loaded(move || async move {
                let pipelines = pipelines.await?;
                let recent = recent.await?;
                Ok::<_, crate::error::AppError>(view! { <PipelineList application=application() pipelines recent edit/> })
            })/>
            // `heading` is focused when a pipeline is picked for editing, so keyboard users land here.
            <section class="pipeline-editor" aria-labelledby="pipeline-editor-title">
                <h2 id="pipeline-editor-title" tabindex="-1" node_ref=heading>"Create or edit a pipeline"</h2>
                <LazyPipelineEditor application=application() json=editing on_saved=Callback::new(move |()| saved.update(|n| *n += 1))/>
            </section>
        </section>
    }
}

#[component]
fn PipelineList(application: String, pipelines: Vec<PipelineListing>, recent: RecentRuns, edit: Callback<String>) -> impl IntoView {
    let (runs, now) = (RwSignal::new(recent.executions), recent.now);
    watch(Subscribe { application: Some(application.clone()), execution: None, after: recent.seq }, move |event| {
        runs.update(|runs| upsert(runs, event.change));
    });
    if pipelines.is_empty() {
        return view! { <p class="empty">"No pipelines yet. Create one with the editor below."</p> }.into_any();
    }
    view! {
        <div class="pipelines">
            {pipelines.into_iter().map(|pipeline| view! { <PipelineRow application=application.clone() pipeline runs edit/> }).collect_view()}
        </div>
        <ExecutionList application runs now/>
    }
    .into_any()
}

/// Shows a change: to a run listed, or a new run (its first event is the whole run; a delta
/// of a run not listed, an older one, is not this list's).
fn upsert(runs: &mut Vec<Execution>, change: Change) {
    match runs.iter_mut().find(|run| run.id == change.execution_id()) {
        Some(run) => change.apply_to(run),
        None => {
            if let Change::Execution(execution) = change {
                runs.insert(0, execution);
            }
        }
    }
}

#[component]
fn PipelineRow(application: String, pipeline: PipelineListing, runs: RwSignal<Vec<Execution>>, edit: Callback<String>) -> impl IntoView {
    let as_json = pipeline.json.clone();
    let starting = RwSignal::new(false);
    let id = pipeline.id.clone();
    let name = pipeline.name.clone();
    let shown = move || runs.read().iter().filter(|run| run.pipeline_config_id == id).take(RUNS_SHOWN).cloned().collect::<Vec<_>>();
    view! {
        <section class="pipeline" aria-label=format!("Pipeline {name}")>
            <header>
                <h2>{name.clone()}</h2>
                {pipeline.disabled.then(|| view! { <span class="badge status-canceled">"disabled"</span> })}
                <button type="button" class="secondary" aria-label=format!("Edit {name}") on:click=move |_| edit.run(as_json.clone())>"Edit"</button>
                <button type="button" on:click=move |_| starting.set(true) disabled=pipeline.disabled>"Start"</button>
            </header>
            {(!pipeline.warnings.is_empty()).then(|| view! {
                <ul class="warnings" aria-label=format!("Warnings about {name}")>
                    {pipeline.warnings.iter().map(|warning| view! { <li class="warning">{warning.clone()}</li> }).collect_view()}
                </ul>
            })}
            <Show when=move || starting.get()>
                <InBrowser load={
                    let (application, pipeline) = (application.clone(), pipeline.clone());
                    load(move || start_dialog(application.clone(), pipeline.clone(), Callback::new(move |()| starting.set(false))))
                } placeholder="Loading…"/>
            </Show>
            <ul class="runs" aria-label=format!("Runs of {name}")>
                <For each=shown key=|run| (run.id.clone(), run.status, run.stages.iter().map(|s| s.status).collect::<Vec<_>>()) let:run>
                    <li><StageBar execution=run/></li>
                </For>
            </ul>
        </section>
    }
}

split_view! {
    /// The Start dialog's code is loaded on the first Start (see [`crate::components::in_browser`]).
    fn start_dialog(application: String, pipeline: PipelineListing, on_close: Callback<()>) {
        view! { <StartDialog application pipeline on_close/> }.into_any()
    }
}

#[component]
fn StartDialog(application: String, pipeline: PipelineListing, on_close: Callback<()>) -> impl IntoView {
    let values: Vec<(String, RwSignal<String>)> =
        pipeline.parameter_config.iter().map(|p| (p.name.clone(), RwSignal::new(p.default.clone()))).collect();
    let navigate = use_navigate();
    let artifacts = RwSignal::new(String::new());
    let start = Action::new(|(application, pipeline, parameters, artifacts): &(String, String, BTreeMap<String, String>, String)| {
        start_pipeline(application.clone(), pipeline.clone(), parameters.clone(), artifacts.clone())
    });
    let run_values = values.clone();
    let (run_application, run_pipeline) = (application.clone(), pipeline.id.clone());
    let run = move |_| {
        let parameters = run_values.iter().map(|(name, value)| (name.clone(), value.get())).collect();
        start.dispatch((run_application.clone(), run_pipeline.clone(), parameters, artifacts.get()));
    };
    let expected = pipeline.expected_artifacts.join("; ");
    Effect::new(move |_| {
        if let Some(Ok(execution)) = start.value().get() {
            navigate(&format!("/applications/{}/executions/{}", execution.application, execution.id), Default::default());
        }
    });
    view! {
        <div class="dialog" role="dialog" aria-label=format!("Start {}", pipeline.name)>
            <h3>"Start " {pipeline.name.clone()}</h3>
            {pipeline.parameter_config.iter().zip(values).map(|(parameter, (_, value))| {
                let label = if parameter.label.is_empty() { parameter.name.clone() } else { parameter.label.clone() };
                let input = if !parameter.offers_options() {
                    view! { <input type="text" prop:value=move || value.get() on:input=move |e| value.set(event_target_value(&e)) required=parameter.required/> }.into_any()
                } else {
                    view! {
                        <select on:change=move |e| value.set(event_target_value(&e))>
                            {parameter.options.iter().map(|option| {
                                let chosen = option.value == value.get_untracked();
                                view! { <option value=option.value.clone() selected=chosen>{option.value.clone()}</option> }
                            }).collect_view()}
                        </select>
                    }.into_any()
                };
                view! { <label>{label} {input} <small>{parameter.description.clone()}</small></label> }
            }).collect_view()}
            {(!expected.is_empty()).then(|| view! {
                <label>"Artifacts (JSON)"
                    <textarea rows="4" spellcheck="false" placeholder=r#"[{"type": "docker/image", "name": "registry/app", "version": "v2", "reference": "registry/app:v2"}]"#
                        prop:value=move || artifacts.get() on:input=move |e| artifacts.set(event_target_value(&e))></textarea>
                    <small>"Expected: " {expected.clone()} ". Leave empty to use each one's prior or default artifact."</small>
                </label>
            })}
            <div class="actions">
                <button type="button" on:click=run disabled=move || start.pending().get()>"Run"</button>
                <button type="button" class="secondary" on:click=move |_| on_close.run(())>"Cancel"</button>
            </div>
            {move || match start.value().get() {
                Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                _ => ().into_any(),
            }}
        </div>
    }
}

const EXAMPLE: &str = r#"{
  "name": "release",
  "parameterConfig": [{"name": "env", "default": "staging", "options": [{"value": "staging"}, {"value": "prod"}]}],
  "stages": [
    {"refId": "1", "name": "Prepare", "type": "evaluateVariables", "variables": [{"key": "target", "value": "${parameters.env}"}]},
    {"refId": "2", "name": "Approve", "type": "manualJudgment", "instructions": "Release to ${parameters.env}?", "requisiteStageRefIds": ["1"]},
    {"refId": "3", "name": "Settle", "type": "wait", "waitTime": 2, "requisiteStageRefIds": ["2"]}
  ]
}"#;
