//! The pipeline editor under the Pipelines tab: forms for the pipeline's settings, stages,
//! parameters, triggers and notifications beside its JSON, all editing the same text (see
//! [`super::document`]), so switching between a form and the JSON never loses an edit; and
//! one Save. While the user types, the server checks the pipeline as a save would (a dry run,
//! half a second after the last change), and its error shows next to the field it names before
//! Save is pressed; below, the pipeline's revisions (see [`super::history`]). The forms need the
//! WASM: their items are structured JSON.
//!
//! The editor is the largest part of the browser code, and only people changing pipelines use
//! it, so it is not in the main WASM: [`pipeline_editor`] is a split point, which
//! `scripts/build` cuts into a chunk of its own (wasm-split); [`LazyPipelineEditor`] shows it
//! once loaded (see [`crate::components::in_browser`]); everything above it (the pipeline list,
//! the executions) is interactive without waiting for it.

use leptos::prelude::*;

use super::document::{Document, pretty};
use super::history::RevisionHistory;
use super::notifications::NotificationsEditor;
use super::parameters::{ParametersEditor, PipelineOptions};
use super::stages::StagesEditor;
use super::triggers::TriggersEditor;
use crate::api::pipelines::{check_pipeline, save_pipeline};
use crate::components::ErrorMessage;
use crate::components::in_browser::{InBrowser, load, split_view};

/// The editor, once its code has loaded; "Loading the editor…" until then (and on the server,
/// where the page is rendered without it).
#[component]
pub fn LazyPipelineEditor(application: String, json: RwSignal<String>, on_saved: Callback<()>) -> impl IntoView {
    view! { <InBrowser load=load(move || pipeline_editor(application.clone(), json, on_saved)) placeholder="Loading the editor…"/> }
}

split_view! {
    /// The split point: on wasm32 this function and all that only it reaches go into a chunk
    /// loaded on the first call.
    fn pipeline_editor(application: String, json: RwSignal<String>, on_saved: Callback<()>) {
        view! { <PipelineEditor application json on_saved/> }.into_any()
    }
}

#[component]
fn PipelineEditor(application: String, json: RwSignal<String>, on_saved: Callback<()>) -> impl IntoView {
    let doc = Document::new(json);
    // Bumped after each save or restore, so the revision list reloads.
    let refresh = RwSignal::new(0u32);
    let on_restored = Callback::new(move |restored: crate::model::pipeline::Pipeline| {
        json.set(pretty(&serde_json::to_value(&restored).unwrap_or_default()));
        doc.problem.set(None);
        refresh.update(|n| *n += 1);
        on_saved.run(());
    });
    // What the server keeps but cannot run: as loaded, then as each check or save says.
    let warnings = RwSignal::new(untrack(|| doc.with(warnings_in)));
    let save = Action::new(|(application, json): &(String, String)| save_pipeline(application.clone(), json.clone()));
    Effect::new(move |_| match save.value().get() {
        Some(Ok(saved)) => {
            warnings.set(saved.warnings.clone());
            // Keep editing what was saved: its id and new revision make the next save an update.
            json.set(pretty(&serde_json::to_value(&saved).unwrap_or_default()));
            doc.problem.set(None);
            refresh.update(|n| *n += 1);
            on_saved.run(());
        }
        Some(Err(error)) => doc.problem.set(Some(error)),
        None => {}
    });
    check_as_typed(application.clone(), doc, warnings);
    let application_for_history = application.clone();
    let application_for_stages = application.clone();
    let application_for_new = application.clone();
    let editing = move || {
        doc.with(|root| {
            let text = |key: &str| root.and_then(|root| root.get(key)).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            let revision = root.and_then(|root| root.get("revision")).and_then(|v| v.as_i64()).unwrap_or_default();
            match (text("name"), text("id")) {
                (name, _) if root.is_none() || name.is_empty() => "The JSON below is not a pipeline yet.".to_string(),
                (name, id) if id.is_empty() => format!("A new pipeline: {name}."),
                (name, _) => format!("Editing {name} (revision {revision})."),
            }
        })
    };
    view! {
            <p class="editing">
                <span class="muted" aria-live="polite">{editing}</span>
                <button type="button" class="secondary" on:click=move |_| {
                    json.set(pretty(&serde_json::json!({"application": application_for_new, "name": "", "stages": []})));
                    doc.problem.set(None);
                }>"New pipeline"</button>
            </p>
            {move || {
                let warnings = warnings.get();
                (!warnings.is_empty()).then(|| view! {
                    <ul class="warnings" aria-label="Warnings">
                        {warnings.into_iter().map(|warning| view! { <li class="warning">{warning}</li> }).collect_view()}
                    </ul>
                })
            }}
            <div class="editor-grid">
                <div class="editor-forms">
                    <PipelineOptions doc/>
                    <StagesEditor doc application=application_for_stages/>
                    <ParametersEditor doc/>
                    <TriggersEditor doc/>
                    <NotificationsEditor doc/>
                </div>
                <form class="editor" aria-label="Pipeline JSON" on:submit=move |e| {
                    e.prevent_default();
                    save.dispatch((application.clone(), json.get_untracked()));
                }>
                    <label>"Pipeline JSON (include \"id\" and \"revision\" to edit an existing one)"
                        <textarea rows="24" spellcheck="false" prop:value=move || json.get() on:input=move |e| json.set(event_target_value(&e))></textarea>
                    </label>
                    <button type="submit" disabled=move || save.pending().get()>"Save pipeline"</button>
                    {move || match save.value().get() {
                        Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                        Some(Ok(pipeline)) => view! { <p class="notice" role="status">"Saved " {pipeline.name} " (revision " {pipeline.revision} ")."</p> }.into_any(),
                        None => ().into_any(),
                    }}
                </form>
            </div>
            <RevisionHistory application=application_for_history doc refresh on_restored/>
    }
}

/// Asks the server to check the text half a second after the last change, and shows what it
/// says next to the fields (or clears what it said). Only the latest text's answer counts: an
/// answer for a text since changed is dropped. The text as loaded is not checked, so opening
/// the editor shows no error before anything was typed.
fn check_as_typed(application: String, doc: Document, warnings: RwSignal<Vec<String>>) {
    #[cfg(feature = "hydrate")]
    {
        let generation = StoredValue::new(0u64);
        Effect::new(move |first: Option<()>| {
            let text = doc.text.get();
            if first.is_none() || !doc.parses() {
                return;
            }
            let mine = generation.get_value() + 1;
            generation.set_value(mine);
            let application = application.clone();
            // `try_`: the user may have left the page (and the editor been disposed) meanwhile.
            set_timeout(
                move || {
                    if generation.try_get_value() != Some(mine) {
                        return;
                    }
                    leptos::task::spawn_local(async move {
                        let answer = check_pipeline(application, text).await;
                        if generation.try_get_value() == Some(mine) {
                            if let Ok(found) = &answer {
                                warnings.try_set(found.clone());
                            }
                            doc.problem.try_set(answer.err());
                        }
                    });
                },
                std::time::Duration::from_millis(500),
            );
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (application, doc, warnings, check_pipeline);
}

/// The `warnings` a loaded document came with (the server's, as it read it).
fn warnings_in(root: Option<&serde_json::Value>) -> Vec<String> {
    root.and_then(|root| root.get("warnings")).and_then(|list| list.as_array()).into_iter().flatten()
        .filter_map(|warning| warning.as_str().map(str::to_string))
        .collect()
}
