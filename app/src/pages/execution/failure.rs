//! What went wrong, first: for each failed stage of a run, its error, the task that failed
//! (name and status) and the provider's message, in plain text above the stage graph, so
//! nobody has to find the red box and hover it.
//!
//! The engine records a failing task's reason as the stage's `error`; for cloud operations
//! that is the provider's own message (a provider error displays as the text the provider
//! gave). A stage whose context carries Spinnaker's `exception.details` (a pasted or imported
//! one) shows those messages as the provider's message instead.

use leptos::prelude::*;
use serde_json::Value;

use crate::model::execution::{Stage, Status};

/// The stages that failed, in graph order.
pub fn failed_stages(stages: &[Stage]) -> Vec<Stage> {
    stages.iter().filter(|stage| matches!(stage.status, Status::Terminal | Status::FailedContinue | Status::Stopped) && stage.error.is_some()).cloned().collect()
}

/// Spinnaker's `exception.details.error` and `errors` from the stage context, joined.
fn detailed_message(context: &Value) -> Option<String> {
    let details = context.get("exception")?.get("details")?;
    let mut messages: Vec<String> = details.get("error").and_then(Value::as_str).map(str::to_string).into_iter().collect();
    let errors = details.get("errors").and_then(Value::as_array).into_iter().flatten();
    messages.extend(errors.filter_map(|error| error.as_str().map(str::to_string)));
    (!messages.is_empty()).then(|| messages.join("; "))
}

#[component]
pub fn FailureSummary(stage: Stage) -> impl IntoView {
    let error = stage.error.clone().unwrap_or_default();
    let task = stage.tasks.iter().find(|task| task.status == Status::Terminal).or_else(|| stage.tasks.iter().find(|task| task.status != Status::Succeeded));
    let task = task.map_or_else(|| "none (the stage failed before its tasks ran)".to_string(), |task| format!("{} ({})", task.name, task.status.as_str()));
    let provider = detailed_message(&stage.context).unwrap_or_else(|| error.clone());
    view! {
        <section class="failure" aria-label=format!("Failure of {}", stage.name)>
            <h2>"Stage " {stage.name.clone()} " failed"</h2>
            <dl class="details">
                <dt>"Error"</dt><dd class="error">{error}</dd>
                <dt>"Failed task"</dt><dd>{task}</dd>
                <dt>"Provider's message"</dt><dd><pre>{provider}</pre></dd>
            </dl>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn spinnaker_exception_details_are_the_providers_message() {
        let context = json!({"exception": {"details": {"error": "Operation failed", "errors": ["quota exceeded"]}}});
        assert_eq!(detailed_message(&context).as_deref(), Some("Operation failed; quota exceeded"));
        assert_eq!(detailed_message(&json!({})), None);
    }
}
