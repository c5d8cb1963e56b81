//! An execution as a row of stage bars coloured by status, as Spinnaker's Deck shows them.

use leptos::prelude::*;

use crate::model::execution::{Execution, Status};

pub fn status_class(status: Status) -> &'static str {
    match status {
        Status::NotStarted | Status::Buffered => "status-waiting",
        Status::Running | Status::Paused => "status-running",
        Status::Succeeded => "status-succeeded",
        Status::FailedContinue | Status::Stopped => "status-warning",
        Status::Terminal => "status-failed",
        Status::Canceled | Status::Skipped => "status-canceled",
    }
}

#[component]
pub fn StageBar(execution: Execution) -> impl IntoView {
    let href = format!("/applications/{}/executions/{}", execution.application, execution.id);
    let label = format!("{} {} by {}", execution.name, execution.status.as_str(), execution.trigger.user);
    view! {
        <a class="stage-bar" href=href aria-label=label>
            <span class=format!("badge {}", status_class(execution.status))>{execution.status.as_str()}</span>
            <span class="segments">
                {execution.stages.into_iter().map(|stage| {
                    let title = format!("{}: {}", stage.name, stage.status.as_str());
                    view! { <span class=format!("segment {}", status_class(stage.status)) title=title></span> }
                }).collect_view()}
            </span>
        </a>
    }
}
