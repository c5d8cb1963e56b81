//! Re-run: starts the same pipeline again with the run's parameters and opens the new run.
//! It goes through the start server function, like the Start dialog; the button needs the WASM
//! (the parameters are a map, sent as JSON).

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::api::pipelines::start_pipeline;
use crate::components::ErrorMessage;
use crate::model::execution::Execution;

#[component]
pub fn RerunButton(execution: Execution) -> impl IntoView {
    let navigate = use_navigate();
    let start = Action::new(|execution: &Execution| {
        // The same artifacts as the run it repeats.
        let artifacts = execution.trigger.extra.get("artifacts").filter(|list| list.as_array().is_some_and(|l| !l.is_empty())).map(|list| list.to_string()).unwrap_or_default();
        start_pipeline(execution.application.clone(), execution.pipeline_config_id.clone(), execution.trigger.parameters.clone(), artifacts)
    });
    Effect::new(move |_| {
        if let Some(Ok(run)) = start.value().get() {
            navigate(&format!("/applications/{}/executions/{}", run.application, run.id), Default::default());
        }
    });
    view! {
        <button type="button" on:click=move |_| { start.dispatch(execution.clone()); } disabled=move || start.pending().get()>"Re-run"</button>
        {move || match start.value().get() {
            Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
            _ => ().into_any(),
        }}
    }
}
