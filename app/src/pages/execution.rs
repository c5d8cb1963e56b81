//! One execution: what failed, first (see [`failure`]); its stage graph (columns by depth, so parallel branches and joins show), each
//! stage's status, timing, context, outputs and errors in plain sight, cancel, skip a wait, and
//! for a waiting manual judgment its instructions, choices and Continue / Stop buttons; what
//! triggered the run (see [`trigger`]) and the notifications sent for it; a link to the report
//! of each canary analysis stage (see [`crate::pages::canary_report`]). Updated live over the
//! event socket. A finished run of a pipeline can be re-run with its parameters (see [`rerun`]).

mod failure;
mod notifications;
mod rerun;
mod trigger;

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use self::failure::{FailureSummary, failed_stages};
use self::notifications::NotificationLog;
use self::rerun::RerunButton;
use self::trigger::TriggerDetails;
use crate::api::pipelines::{CancelExecution, JudgeStage, PauseExecution, RestartStage, ResumeExecution, SkipWait, get_execution};
use crate::components::ErrorMessage;
use crate::pages::canary_report::{has_canary_analysis, report_href};
use crate::components::loaded::{Loaded, loaded};
use crate::components::live::watch;
use crate::components::stage_bar::status_class;
use crate::components::tabs::ApplicationTabs;
use crate::model::execution::{Execution, Stage, Status, Subscribe};
use crate::model::time::format_utc;

#[component]
pub fn ExecutionPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let application = move || params.read().get("name").unwrap_or_default();
    let execution = Resource::new(id, get_execution);
    view! {
        <Title text=move || format!("Execution {} · gennaker", id())/>
        <section class="page">
            <p class="breadcrumb">
                <a href="/applications">"Applications"</a> " / "
                <a href=move || format!("/applications/{}/pipelines", application())>{application}</a> " / execution"
            </p>
            <ApplicationTabs application=application() current="pipelines"/>
            <Loaded fallback="Loading…" content=loaded(move || async move { execution.await.map(|watched| view! { <ExecutionView initial=watched.execution seq=watched.seq/> }) })/>
        </section>
    }
}

fn duration(stage: &Stage) -> String {
    match (stage.start_time, stage.end_time) {
        (Some(start), Some(end)) => crate::model::time::format_seconds_tenths(end - start),
        (Some(_), None) => "running".to_string(),
        _ => String::new(),
    }
}

#[component]
fn ExecutionView(initial: Execution, seq: i64) -> impl IntoView {
    let current = RwSignal::new(initial.clone());
    watch(Subscribe { execution: Some(initial.id.clone()), application: None, after: seq }, move |event| current.update(|execution| event.change.apply_to(execution)));
    let selected = RwSignal::new(None::<String>);
    // A memo: the log is redrawn when a notification is recorded, not on every stage change.
    let notifications = Memo::new(move |_| current.with(|execution| execution.notifications.clone()));
    let cancel = ServerAction::<CancelExecution>::new();
    let pause = ServerAction::<PauseExecution>::new();
    let resume = ServerAction::<ResumeExecution>::new();

    let columns = move || {
        let execution = current.get();
        let edges: Vec<(&str, &[String])> =
            execution.stages.iter().map(|s| (s.ref_id.as_str(), s.requisite_stage_ref_ids.as_slice())).collect();
        let depth: BTreeMap<String, usize> =
            crate::model::pipeline::graph_depths(&edges).into_iter().map(|(id, d)| (id.to_string(), d)).collect();
        let mut columns: Vec<Vec<Stage>> = Vec::new();
        for stage in execution.stages {
            let d = depth.get(&stage.ref_id).copied().unwrap_or(0);
            if columns.len() <= d {
                columns.resize(d + 1, Vec::new());
            }
            columns[d].push(stage);
        }
        columns
    };

    view! {
        {move || {
            let execution = current.get();
            let status = execution.status;
            let (pause_id, resume_id, cancel_id) = (execution.id.clone(), execution.id.clone(), execution.id.clone());
            view! {
                <header class="execution-head">
                    <h1>{execution.name.clone()}</h1>
                    <span class=format!("badge {}", status_class(status)) aria-label="Execution status">{status.as_str()}</span>
                    <span class="muted">
                        "triggered by " {execution.trigger.user.clone()} " (" {execution.trigger.kind.clone()} ") at " {format_utc(execution.build_time)}
                    </span>
                    {(status == Status::Running).then(|| view! {
                        <ActionForm action=pause attr:class="inline">
                            <input type="hidden" name="id" value=pause_id/>
                            <button type="submit" class="secondary">"Pause"</button>
                        </ActionForm>
                    })}
                    {(status == Status::Paused).then(|| view! {
                        <ActionForm action=resume attr:class="inline">
                            <input type="hidden" name="id" value=resume_id/>
                            <button type="submit">"Resume"</button>
                        </ActionForm>
                    })}
                    {(!status.is_complete()).then(|| view! {
                        <ActionForm action=cancel attr:class="inline">
                            <input type="hidden" name="id" value=cancel_id/>
                            <button type="submit" class="secondary">"Cancel execution"</button>
                        </ActionForm>
                    })}
                    {(status.is_complete() && !execution.pipeline_config_id.is_empty()).then(|| view! { <RerunButton execution=execution.clone()/> })}
                </header>
                {execution.cancellation_reason.clone().map(|reason| view! { <p class="muted">"Canceled by " {execution.canceled_by.clone()} ": " {reason}</p> })}
            }
        }}
        {move || failed_stages(&current.read().stages).into_iter().map(|stage| view! { <FailureSummary stage/> }).collect_view()}
        <div class="graph" aria-label="Stages">
            {move || columns().into_iter().map(|column| view! {
                <div class="column">
                    {column.into_iter().map(|stage| {
                        let ref_id = stage.ref_id.clone();
                        // Named by what it shows (WCAG's label in name), "Stage" first for screen readers.
                        view! {
                            <button type="button" class=format!("stage {}", status_class(stage.status))
                                on:click=move |_| selected.set(Some(ref_id.clone()))>
                                <span class="visually-hidden">"Stage "</span>
                                <strong>{stage.name.clone()}</strong>
                                <span>{stage.kind.clone()}</span>
                                <span>{stage.status.as_str()} " " {duration(&stage)}</span>
                                {stage.error.clone().map(|error| view! { <span class="stage-error">{error}</span> })}
                            </button>
                        }
                    }).collect_view()}
                </div>
            }).collect_view()}
        </div>
        {move || {
            let execution = current.get();
            let canaries: Vec<(String, String)> = execution.stages.iter()
                .filter(|stage| has_canary_analysis(stage))
                .map(|stage| (report_href(&execution.application, &execution.id, &stage.id), stage.name.clone()))
                .collect();
            (!canaries.is_empty()).then(|| view! {
                <ul class="plain canary-links" aria-label="Canary reports">
                    {canaries.into_iter().map(|(href, name)| view! { <li><a href=href>"Canary report: " {name}</a></li> }).collect_view()}
                </ul>
            })
        }}
        {move || {
            let execution = current.get();
            execution.stages.iter()
                .filter(|stage| stage.kind == "manualJudgment" && stage.status == Status::Running && stage.context.get("judgmentStatus").is_none())
                .map(|stage| view! { <JudgmentPanel execution=execution.id.clone() stage=stage.clone()/> })
                .collect_view()
        }}
        {move || {
            let execution = current.get();
            let chosen = selected.get();
            let stage = execution.stages.iter()
                .find(|s| Some(&s.ref_id) == chosen.as_ref())
                .or_else(|| execution.stages.iter().find(|s| s.status == Status::Terminal))
                .or_else(|| execution.stages.iter().find(|s| s.status == Status::Running))
                .cloned();
            stage.map(|stage| view! { <StageDetails application=execution.application.clone() execution=execution.id.clone() stage/> })
        }}
        <TriggerDetails trigger=initial.trigger.clone()/>
        {move || {
            let records = notifications.get();
            (!records.is_empty()).then(|| view! { <NotificationLog records/> })
        }}
    }
}

#[component]
fn JudgmentPanel(execution: String, stage: Stage) -> impl IntoView {
    let judge = ServerAction::<JudgeStage>::new();
    let instructions = stage.context.get("instructions").and_then(|i| i.as_str()).unwrap_or_default().to_string();
    let choices: Vec<String> = stage
        .context
        .get("judgmentInputs")
        .and_then(|i| i.as_array())
        .map(|inputs| inputs.iter().filter_map(|i| i.get("value").and_then(|v| v.as_str()).map(str::to_string)).collect())
        .unwrap_or_default();
    view! {
        <section class="judgment" aria-label=format!("Manual judgment {}", stage.name)>
            <h2>"Manual judgment: " {stage.name.clone()}</h2>
            <p class="instructions">{instructions}</p>
            <ActionForm action=judge attr:class="form">
                <input type="hidden" name="id" value=execution/>
                <input type="hidden" name="stage" value=stage.id.clone()/>
                {if choices.is_empty() {
                    view! { <input type="hidden" name="input" value=""/> }.into_any()
                } else {
                    view! {
                        <label>"Choice"
                            <select name="input">
                                {choices.into_iter().map(|choice| view! { <option value=choice.clone()>{choice.clone()}</option> }).collect_view()}
                            </select>
                        </label>
                    }.into_any()
                }}
                <button type="submit" name="status" value="continue">"Continue"</button>
                <button type="submit" name="status" value="stop" class="secondary">"Stop"</button>
            </ActionForm>
            {move || match judge.value().get() {
                Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                _ => ().into_any(),
            }}
        </section>
    }
}

/// A Kubernetes stage's manifests and where each is on its way to stable (its
/// `manifestStatuses`), as a table.
fn manifest_statuses(stage: &Stage) -> Option<impl IntoView + use<>> {
    let statuses = stage.context.get("manifestStatuses")?.as_array()?.clone();
    let text = |status: &serde_json::Value, key: &str| status.get(key).and_then(|value| value.as_str()).unwrap_or_default().to_string();
    Some(view! {
        <h3>"Manifests"</h3>
        <table class="list" aria-label="Manifests">
            <thead><tr><th>"Manifest"</th><th>"Namespace"</th><th>"Status"</th><th>"Waiting for"</th></tr></thead>
            <tbody>
                {statuses.iter().map(|status| view! {
                    <tr>
                        <td>{text(status, "manifest")}</td>
                        <td>{text(status, "namespace")}</td>
                        <td>{text(status, "status")}</td>
                        <td>{text(status, "message")}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    })
}

#[component]
fn StageDetails(application: String, execution: String, stage: Stage) -> impl IntoView {
    let skip = ServerAction::<SkipWait>::new();
    let canary_report = has_canary_analysis(&stage).then(|| report_href(&application, &execution, &stage.id));
    let restart = ServerAction::<RestartStage>::new();
    let (skip_id, restart_id, skip_stage, restart_stage) = (execution.clone(), execution, stage.id.clone(), stage.id.clone());
    let pretty = |value: &serde_json::Value| serde_json::to_string_pretty(value).unwrap_or_default();
    let outputs = serde_json::to_value(&stage.outputs).unwrap_or_default();
    view! {
        <section class="stage-details" aria-label=format!("Details of {}", stage.name)>
            <h2>{stage.name.clone()} " " <span class=format!("badge {}", status_class(stage.status))>{stage.status.as_str()}</span></h2>
            {stage.error.clone().map(|error| view! { <p class="error" role="alert">{error}</p> })}
            {stage.warnings.iter().map(|warning| view! { <p class="warning">{warning.clone()}</p> }).collect_view()}
            <dl class="details">
                <dt>"Type"</dt><dd>{stage.kind.clone()}</dd>
                <dt>"Started"</dt><dd>{stage.start_time.map(format_utc).unwrap_or_default()}</dd>
                <dt>"Ended"</dt><dd>{stage.end_time.map(format_utc).unwrap_or_default()}</dd>
                <dt>"Tasks"</dt>
                <dd>{stage.tasks.iter().map(|task| format!("{} {}", task.name, task.status.as_str())).collect::<Vec<_>>().join(", ")}</dd>
            </dl>
            {(stage.kind == "wait" && stage.status == Status::Running).then(|| view! {
                <ActionForm action=skip attr:class="inline">
                    <input type="hidden" name="id" value=skip_id/>
                    <input type="hidden" name="stage" value=skip_stage/>
                    <button type="submit" class="secondary">"Skip remaining wait"</button>
                </ActionForm>
            })}
            {matches!(stage.status, Status::Terminal | Status::FailedContinue | Status::Stopped).then(|| view! {
                <ActionForm action=restart attr:class="inline">
                    <input type="hidden" name="id" value=restart_id/>
                    <input type="hidden" name="stage" value=restart_stage/>
                    <button type="submit">"Restart stage"</button>
                </ActionForm>
            })}
            {move || match restart.value().get() {
                Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                _ => ().into_any(),
            }}
            {canary_report.map(|href| view! { <p><a href=href>"Canary report"</a>": scores, metrics and their charts"</p> })}
            {manifest_statuses(&stage)}
            <h3>"Outputs"</h3>
            <pre>{pretty(&outputs)}</pre>
            <h3>"Context"</h3>
            <pre>{pretty(&stage.context)}</pre>
        </section>
    }
}
