//! The pipeline editor under the Pipelines tab: the Triggers and Notifications forms beside the
//! pipeline's JSON, all editing the same text (see [`super::document`]), and one Save. The
//! server's validation error shows below Save and, when it names a trigger's or notification's
//! field, next to that field too; below them, the pipeline's revisions (see [`super::history`]).
//! The forms need the WASM: their items are structured JSON.

use leptos::html::H2;
use leptos::prelude::*;

use super::document::{Document, pretty};
use super::history::RevisionHistory;
use super::notifications::NotificationsEditor;
use super::triggers::TriggersEditor;
use crate::api::pipelines::save_pipeline;
use crate::components::ErrorMessage;

/// `heading` is focused when a pipeline is picked for editing, so keyboard users land here.
#[component]
pub fn PipelineEditor(application: String, json: RwSignal<String>, heading: NodeRef<H2>, on_saved: impl Fn() + Send + Sync + 'static) -> impl IntoView {
    let doc = Document::new(json);
    let on_saved = Callback::new(move |()| on_saved());
    // Bumped after each save or restore, so the revision list reloads.
    let refresh = RwSignal::new(0u32);
    let on_restored = Callback::new(move |restored: crate::model::pipeline::Pipeline| {
        json.set(pretty(&serde_json::to_value(&restored).unwrap_or_default()));
        doc.problem.set(None);
        refresh.update(|n| *n += 1);
        on_saved.run(());
    });
    let save = Action::new(|(application, json): &(String, String)| save_pipeline(application.clone(), json.clone()));
    Effect::new(move |_| match save.value().get() {
        Some(Ok(saved)) => {
            // Keep editing what was saved: its id and new revision make the next save an update.
            json.set(pretty(&serde_json::to_value(&saved).unwrap_or_default()));
            doc.problem.set(None);
            refresh.update(|n| *n += 1);
            on_saved.run(());
        }
        Some(Err(error)) => doc.problem.set(Some(error)),
        None => {}
    });
    let application_for_history = application.clone();
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
        <section class="pipeline-editor" aria-labelledby="pipeline-editor-title">
            <h2 id="pipeline-editor-title" tabindex="-1" node_ref=heading>"Create or edit a pipeline"</h2>
            <p class="muted" aria-live="polite">{editing}</p>
            <div class="editor-grid">
                <div class="editor-forms">
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
        </section>
    }
}
