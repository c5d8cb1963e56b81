//! The Overview tab's "at a glance" part: the application's clusters, its last pipeline runs
//! and its running tasks, each linking to the tab that tells more.
//!
//! Server-rendered complete; once hydrated it follows the same sockets as the Clusters and Tasks
//! tabs. Each cluster event replaces the whole clusters view (as it does there), and the table is
//! simply drawn again: it holds only links, so there is no state or focus worth keeping.

use leptos::prelude::*;

use crate::api::overview::{Overview, RECENT_EXECUTIONS};
use crate::components::live::watch;
use crate::components::live_clusters::watch_clusters;
use crate::components::stage_bar::status_class;
use crate::model::cluster::{InstanceCounts, RegionClusters};
use crate::model::execution::{Execution, Subscribe};
use crate::model::time::format_utc;
use crate::pages::clusters::server_group_href;

#[component]
pub fn Glance(application: String, overview: Overview) -> impl IntoView {
    let regions = RwSignal::new(overview.clusters);
    let executions = RwSignal::new(overview.executions);
    let running = RwSignal::new(overview.running_tasks);
    watch_clusters(application.clone(), move |event| regions.set(event.regions), |_| {});
    watch(Subscribe { application: Some(application.clone()), execution: None, after: overview.seq }, move |event| {
        let id = event.change.execution_id().to_string();
        let known = running.with_untracked(|tasks| tasks.iter().find(|task| task.id == id).cloned())
            .or_else(|| executions.with_untracked(|runs| runs.iter().find(|run| run.id == id).cloned()));
        let Some(execution) = event.change.updated(known.as_ref()) else { return };
        if execution.pipeline_config_id.is_empty() {
            running.update(|tasks| {
                tasks.retain(|task| task.id != execution.id);
                if !execution.status.is_complete() {
                    tasks.insert(0, execution);
                }
            });
        } else {
            executions.update(|runs| match runs.iter_mut().find(|run| run.id == execution.id) {
                Some(run) => *run = execution,
                None => {
                    runs.insert(0, execution);
                    runs.truncate(RECENT_EXECUTIONS);
                }
            });
        }
    });
    let app = StoredValue::new(application);
    view! {
        <h2 id="overview-clusters">"Clusters"</h2>
        {move || view! { <ClustersTable application=app.get_value() regions=regions.get()/> }}
        <h2 id="overview-executions">"Recent executions"</h2>
        {move || view! { <ExecutionsTable application=app.get_value() executions=executions.get()/> }}
        <h2 id="overview-tasks">"Running tasks"</h2>
        {move || view! { <RunningTasks application=app.get_value() tasks=running.get()/> }}
    }
}

/// Health counts in words, the non-zero ones only.
fn health(counts: InstanceCounts) -> String {
    let parts: Vec<String> = [
        (counts.up, "up"),
        (counts.starting, "starting"),
        (counts.out_of_service, "out of service"),
        (counts.down, "down"),
        (counts.unknown, "unknown"),
    ]
    .into_iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, state)| format!("{count} {state}"))
    .collect();
    if parts.is_empty() { "no instances".to_string() } else { parts.join(", ") }
}

#[component]
fn ClustersTable(application: String, regions: Vec<RegionClusters>) -> impl IntoView {
    if regions.iter().all(|region| region.clusters.is_empty()) {
        return view! { <p class="empty">"No clusters yet. A pipeline's deploy stage creates them."</p> }.into_any();
    }
    let tab = format!("/applications/{application}/clusters");
    let rows = regions
        .into_iter()
        .flat_map(|region| region.clusters.into_iter().map(move |cluster| (region.account.clone(), region.region.clone(), cluster)))
        .map(|(account, region, cluster)| {
            let groups = cluster
                .server_groups
                .into_iter()
                .map(|group| {
                    let href = server_group_href(&application, &account, &region, &group.name);
                    let state = if group.disabled { "disabled" } else { "enabled" };
                    view! {
                        <li>
                            <a href=href>{group.name}</a> " "
                            <span class=format!("badge sg-{state}")>{state}</span> " "
                            <span class="muted">{health(group.instance_counts)}</span>
                        </li>
                    }
                })
                .collect_view();
            view! {
                <tr>
                    <td><a href=tab.clone()>{cluster.name}</a></td>
                    <td>{format!("{account} / {region}")}</td>
                    <td><ul class="plain">{groups}</ul></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="list" aria-label="Clusters">
            <thead><tr><th>"Cluster"</th><th>"Account / region"</th><th>"Server groups"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

#[component]
fn ExecutionsTable(application: String, executions: Vec<Execution>) -> impl IntoView {
    if executions.is_empty() {
        let pipelines = format!("/applications/{application}/pipelines");
        return view! { <p class="empty">"No pipeline runs yet. Start one on the " <a href=pipelines>"Pipelines"</a> " tab."</p> }.into_any();
    }
    view! {
        <table class="list" aria-label="Recent executions">
            <thead><tr><th>"Pipeline"</th><th>"Status"</th><th>"Trigger"</th><th>"Started"</th></tr></thead>
            <tbody>
                {executions.into_iter().map(|execution| {
                    let href = format!("/applications/{application}/executions/{}", execution.id);
                    view! {
                        <tr>
                            <td><a href=href>{execution.name}</a></td>
                            <td><span class=format!("badge {}", status_class(execution.status))>{execution.status.as_str()}</span></td>
                            <td>{format!("{} by {}", execution.trigger.kind, execution.trigger.user)}</td>
                            <td>{format_utc(execution.build_time)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn RunningTasks(application: String, tasks: Vec<Execution>) -> impl IntoView {
    if tasks.is_empty() {
        return view! { <p class="empty">"No task running."</p> }.into_any();
    }
    view! {
        <ul class="plain" aria-label="Running tasks">
            {tasks.into_iter().map(|task| {
                let href = format!("/applications/{application}/tasks#task-{}", task.id);
                view! {
                    <li>
                        <a href=href>{task.name}</a> " "
                        <span class=format!("badge {}", status_class(task.status))>{task.status.as_str()}</span> " "
                        <span class="muted">"by " {task.trigger.user} " at " {format_utc(task.build_time)}</span>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_names_only_the_states_some_instance_is_in() {
        assert_eq!(health(InstanceCounts::default()), "no instances");
        let counts = InstanceCounts { total: 3, up: 2, down: 1, ..InstanceCounts::default() };
        assert_eq!(health(counts), "2 up, 1 down");
    }
}
