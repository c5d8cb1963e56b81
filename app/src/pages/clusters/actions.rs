//! The actions of the details panel: Resize, Enable, Disable, Rollback, Clone and Destroy (on a
//! Kubernetes workload: Scale, Undo rollout, Enable, Disable and Delete, as manifest stages). Each
//! is its own small `ActionForm` (so it also works as a plain form post) that submits an ad-hoc
//! task, and shows next to itself either what went wrong or the task it started, with the
//! task's status followed live until it ends.

use leptos::prelude::*;

use crate::api::clusters::SubmitServerGroupTask;
use crate::components::ErrorMessage;
use crate::components::live::watch;
use crate::components::stage_bar::status_class;
use crate::model::cluster::ServerGroupSummary;
use crate::model::execution::{Execution, Status, Subscribe};

/// The server group every form of the panel acts on.
#[derive(Debug, Clone)]
pub struct Target {
    application: String,
    group: ServerGroupSummary,
}

impl Target {
    pub fn of(application: &str, group: &crate::model::cluster::ServerGroup) -> Self {
        let cluster = match &group.moniker {
            Some(moniker) => moniker.cluster.clone(),
            None => crate::model::names::ServerGroupName::parse(&group.name).map(|name| name.cluster.to_string()).unwrap_or_default(),
        };
        Self { application: application.to_string(), group: ServerGroupSummary::of(group, &cluster) }
    }
}

/// `current` gives the forms their starting values; `disabled` and `others` follow live.
#[component]
pub fn ServerGroupActions(application: String, current: ServerGroupSummary, disabled: Signal<bool>, others: Memo<Vec<String>>) -> impl IntoView {
    let name = current.name.clone();
    let capacity = current.capacity;
    let target = Target { application, group: current };
    let typed = RwSignal::new(String::new());
    let rollback = (target.clone(), format!("Roll back {name}"));
    let confirmed = {
        let name = name.clone();
        move || typed.get() == name
    };
    if target.group.location.cloud_provider == "kubernetes" {
        return kubernetes_actions(target, typed).into_any();
    }
    view! {
        <section class="sg-actions" aria-label="Actions">
            <h3>"Resize"</h3>
            <TaskForm target=target.clone() action="resize" label=format!("Resize {name}")>
                <label>"Min" <input type="number" name="min" min="0" required value=capacity.min.to_string()/></label>
                <label>"Max" <input type="number" name="max" min="0" required value=capacity.max.to_string()/></label>
                <label>"Desired" <input type="number" name="desired" min="0" required value=capacity.desired.to_string()/></label>
                <button type="submit">"Resize"</button>
            </TaskForm>

            <h3>"Traffic"</h3>
            <div class="inline-actions">
                <TaskForm target=target.clone() action="enable" label=format!("Enable {name}")>
                    <button type="submit" disabled=move || !disabled.get()>"Enable"</button>
                </TaskForm>
                <TaskForm target=target.clone() action="disable" label=format!("Disable {name}")>
                    <button type="submit" class="secondary" disabled=move || disabled.get()>"Disable"</button>
                </TaskForm>
            </div>

            <h3>"Rollback"</h3>
            <Show when=move || !others.read().is_empty() fallback=|| view! { <p class="muted">"No other server group in this cluster to roll back to."</p> }>
                <TaskForm target=rollback.0.clone() action="rollback" label=rollback.1.clone()>
                    <label>"Restore"
                        <select name="restore" required>
                            {move || others.get().into_iter().map(|other| view! { <option value=other.clone()>{other.clone()}</option> }).collect_view()}
                        </select>
                    </label>
                    <button type="submit">"Roll back"</button>
                </TaskForm>
            </Show>

            <h3>"Clone"</h3>
            <TaskForm target=target.clone() action="clone" label=format!("Clone {name}")>
                <label>"Min" <input type="number" name="min" min="0" placeholder=capacity.min.to_string()/></label>
                <label>"Max" <input type="number" name="max" min="0" placeholder=capacity.max.to_string()/></label>
                <label>"Desired" <input type="number" name="desired" min="0" placeholder=capacity.desired.to_string()/></label>
                <button type="submit">"Clone"</button>
            </TaskForm>
            <p class="muted">"Leave the capacity empty to copy the source's."</p>

            <h3>"Destroy"</h3>
            <TaskForm target=target action="destroy" label=format!("Destroy {name}")>
                <label>{format!("Type {name} to confirm")}
                    <input type="text" name="confirm" autocomplete="off" spellcheck="false"
                        prop:value=move || typed.get() on:input=move |e| typed.set(event_target_value(&e))/>
                </label>
                <button type="submit" class="danger" disabled=move || !confirmed()>"Destroy"</button>
            </TaskForm>
        </section>
    }
    .into_any()
}

/// A Kubernetes workload's actions: Scale (its Deployment's replicas when one owns it), Undo
/// rollout (of that Deployment), Enable and Disable (its Services' traffic), Delete.
fn kubernetes_actions(target: Target, typed: RwSignal<String>) -> impl IntoView {
    let name = target.group.name.clone();
    let owner = target.group.cluster.strip_prefix("deployment ").map(|deployment| format!("deployment {deployment}"));
    let scaled = owner.clone().unwrap_or_else(|| name.clone());
    let replicas = target.group.capacity.desired;
    let confirmed = {
        let name = name.clone();
        move || typed.get() == name
    };
    view! {
        <section class="sg-actions" aria-label="Actions">
            <h3>"Scale"</h3>
            <TaskForm target=target.clone() action="resize" label=format!("Scale {scaled}")>
                <label>{format!("Replicas of {scaled}")} <input type="number" name="desired" min="0" required value=replicas.to_string()/></label>
                <button type="submit">"Scale"</button>
            </TaskForm>
            {owner.map(|owner| view! {
                <h3>"Rollout"</h3>
                <TaskForm target=target.clone() action="undo" label=format!("Undo rollout of {owner}")>
                    <button type="submit" class="secondary">{format!("Undo the rollout of {owner}")}</button>
                </TaskForm>
            })}
            <h3>"Traffic"</h3>
            <div class="inline-actions">
                <TaskForm target=target.clone() action="enable" label=format!("Enable {name}")>
                    <button type="submit">"Enable"</button>
                </TaskForm>
                <TaskForm target=target.clone() action="disable" label=format!("Disable {name}")>
                    <button type="submit" class="secondary">"Disable"</button>
                </TaskForm>
            </div>
            <h3>"Delete"</h3>
            <TaskForm target=target action="destroy" label=format!("Delete {name}")>
                <label>{format!("Type {name} to confirm")}
                    <input type="text" name="confirm" autocomplete="off" spellcheck="false"
                        prop:value=move || typed.get() on:input=move |e| typed.set(event_target_value(&e))/>
                </label>
                <button type="submit" class="danger" disabled=move || !confirmed()>"Delete"</button>
            </TaskForm>
        </section>
    }
}

/// One action's form, with the fields naming the server group, and its outcome below it.
#[component]
pub fn TaskForm(target: Target, action: &'static str, label: String, children: Children) -> impl IntoView {
    let submit = ServerAction::<SubmitServerGroupTask>::new();
    let Target { application, group } = target;
    view! {
        <div class="task-action">
            <ActionForm action=submit attr:class="task-form" attr:aria-label=label>
                <input type="hidden" name="application" value=application/>
                <input type="hidden" name="cloud_provider" value=group.location.cloud_provider/>
                <input type="hidden" name="account" value=group.location.account/>
                <input type="hidden" name="region" value=group.location.region/>
                <input type="hidden" name="server_group" value=group.name/>
                <input type="hidden" name="cluster" value=group.cluster/>
                <input type="hidden" name="action" value=action/>
                {children()}
            </ActionForm>
            {move || match submit.value().get() {
                Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                Some(Ok(task)) => view! { <TaskStarted task/> }.into_any(),
                None => ().into_any(),
            }}
        </div>
    }
}

/// The task an action started: a link to it on the Tasks tab and its status, live; the error
/// of a stage that failed is shown right there.
#[component]
fn TaskStarted(task: Execution) -> impl IntoView {
    let href = format!("/applications/{}/tasks#task-{}", task.application, task.id);
    let name = task.name.clone();
    let current = RwSignal::new(task.clone());
    if !task.status.is_complete() {
        watch(Subscribe { execution: Some(task.id), application: None, after: 0 }, move |event| current.update(|task| event.change.apply_to(task)));
    }
    let status = move || current.read().status;
    view! {
        <p class="task-started" role="status">
            "Task " <a href=href>{name}</a> " "
            <span class=move || format!("badge {}", status_class(status())) aria-label="Task status">{move || status().as_str()}</span>
        </p>
        {move || {
            let task = current.read();
            (task.status == Status::Terminal).then(|| {
                let errors: Vec<String> = task.stages.iter().filter_map(|stage| stage.error.clone()).collect();
                view! { <p class="error" role="alert">{if errors.is_empty() { "The task failed.".to_string() } else { errors.join("; ") }}</p> }
            })
        }}
    }
}
