//! An application's Tasks tab: its ad-hoc tasks (resizes, rollbacks, clones...) newest first,
//! each with its status, its stages and their errors in plain sight, and Cancel while it runs.
//!
//! Live: tasks are executions of the application, so their events arrive on the application's
//! subscription of `/api/v1/ws`, among those of its pipeline runs; a task is the execution
//! without a pipeline (an empty `pipelineConfigId`).
//!
//! Paged on the server, 50 to a page (`?page=N`, see [`list_tasks`]). New tasks arrive live on
//! the first page only: on an older page they would push its rows onto the next one.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::tasks::{CancelTask, RecentTasks, list_tasks};
use crate::components::ErrorMessage;
use crate::components::loaded::{Loaded, loaded};
use crate::components::live::watch;
use crate::components::pager::{Pager, use_page};
use crate::components::stage_bar::status_class;
use crate::components::tabs::ApplicationTabs;
use crate::model::execution::{Execution, Stage, Subscribe};
use crate::model::time::format_utc;

#[component]
pub fn TasksPage() -> impl IntoView {
    let params = use_params_map();
    let application = move || params.read().get("name").unwrap_or_default();
    let page = use_page();
    let recent = Resource::new(move || (application(), page.get()), |(application, page)| list_tasks(application, page as u32));
    view! {
        <Title text=move || format!("{} tasks · gennaker", application())/>
        <section class="page">
            <p class="breadcrumb"><a href="/applications">"Applications"</a> " / " {application}</p>
            <h1>{application}</h1>
            <ApplicationTabs application=application() current="tasks"/>
            <Loaded fallback="Loading tasks…" content=loaded(move || async move { recent.await.map(|recent| {
                let has_next = recent.has_next;
                view! {
                    <TaskList application=application() recent first_page=page.get_untracked() == 1/>
                    <Pager path=format!("/applications/{}/tasks", application()) page=page.get_untracked() has_next label="Tasks pages"/>
                }
            }) })/>
        </section>
    }
}

#[component]
fn TaskList(application: String, recent: RecentTasks, first_page: bool) -> impl IntoView {
    let tasks = RwSignal::new(recent.tasks);
    watch(Subscribe { application: Some(application), execution: None, after: recent.seq }, move |event| {
        tasks.update(|tasks| {
            let known = tasks.iter().find(|task| task.id == event.change.execution_id());
            let Some(execution) = event.change.updated(known) else { return };
            if !execution.pipeline_config_id.is_empty() {
                return;
            }
            if let Some(task) = tasks.iter_mut().find(|task| task.id == execution.id) {
                *task = execution;
                return;
            }
            // Only a task newer than every one shown is new: events of older tasks (still
            // running, on a later page) must not climb onto this one. The page keeps its size.
            let newest = tasks.first().is_none_or(|newest| execution.build_time >= newest.build_time);
            if first_page && newest {
                tasks.insert(0, execution);
                tasks.truncate(crate::api::tasks::TASKS_PER_PAGE as usize);
            }
        });
    });
    let key = |task: &Execution| (task.id.clone(), task.status, task.stages.iter().map(|stage| stage.status).collect::<Vec<_>>());
    view! {
        <Show when=move || !tasks.read().is_empty() fallback=|| view! { <p class="empty">"No tasks yet. Actions on the Clusters tab run as tasks."</p> }>
            <ol class="tasks" aria-label="Tasks">
                <For each=move || tasks.get() key=key let:task>
                    <li><TaskItem task tasks/></li>
                </For>
            </ol>
        </Show>
    }
}

fn duration(start: Option<i64>, end: Option<i64>) -> String {
    match (start, end) {
        (Some(start), Some(end)) => crate::model::time::format_seconds_tenths(end - start),
        (Some(_), None) => "running".to_string(),
        _ => String::new(),
    }
}

#[component]
fn TaskItem(task: Execution, tasks: RwSignal<Vec<Execution>>) -> impl IntoView {
    let cancel = ServerAction::<CancelTask>::new();
    // The cancel's answer is the task as it is now: show it without waiting for its event.
    Effect::new(move |_| {
        if let Some(Ok(canceled)) = cancel.value().get() {
            tasks.update(|tasks| {
                if let Some(task) = tasks.iter_mut().find(|task| task.id == canceled.id) {
                    *task = canceled;
                }
            });
        }
    });
    let status = task.status;
    let id = task.id.clone();
    view! {
        <article class="task" id=format!("task-{}", task.id) aria-label=format!("Task {}", task.name)>
            <header>
                <h2>{task.name.clone()}</h2>
                <span class=format!("badge {}", status_class(status)) aria-label="Task status">{status.as_str()}</span>
                <span class="muted">
                    "by " {task.trigger.user.clone()} " at " {format_utc(task.build_time)} " " {duration(task.start_time, task.end_time)}
                </span>
                {(!status.is_complete()).then(|| view! {
                    <ActionForm action=cancel attr:class="inline">
                        <input type="hidden" name="id" value=id/>
                        <button type="submit" class="secondary">"Cancel"</button>
                    </ActionForm>
                })}
            </header>
            {move || match cancel.value().get() {
                Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                _ => ().into_any(),
            }}
            {task.cancellation_reason.clone().map(|reason| view! { <p class="muted">"Canceled by " {task.canceled_by.clone()} ": " {reason}</p> })}
            <ol class="task-stages" aria-label="Stages">
                {task.stages.into_iter().map(|stage| view! { <StageLine stage/> }).collect_view()}
            </ol>
        </article>
    }
}

#[component]
fn StageLine(stage: Stage) -> impl IntoView {
    view! {
        <li>
            <span class=format!("badge {}", status_class(stage.status))>{stage.status.as_str()}</span>
            " " <strong>{stage.name.clone()}</strong> " "
            <span class="muted">{(stage.kind != stage.name).then(|| format!("{} ", stage.kind))} {duration(stage.start_time, stage.end_time)}</span>
            {stage.error.map(|error| view! { <p class="error" role="alert">{error}</p> })}
        </li>
    }
}
