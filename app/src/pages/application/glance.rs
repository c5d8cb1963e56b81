//! The Overview tab's "at a glance" part: the application's clusters, its last pipeline runs
//! and its running tasks, each linking to the tab that tells more.
//!
//! Server-rendered complete; once hydrated it follows the same sockets as the Clusters and Tasks
//! tabs. Clusters are summed up (counts, health, the newest server group), never expanded, and
//! only the first [`OVERVIEW_CLUSTERS`] are shown: the socket's summary form sends every cluster
//! once and then only those that changed, so an application of thousands of server groups costs
//! this tab a few kilobytes. The table holds only links, so it is simply drawn again.

use leptos::prelude::*;

use crate::api::overview::{OVERVIEW_CLUSTERS, Overview, RECENT_EXECUTIONS};
use crate::components::live::watch;
use crate::components::live_clusters::watch_cluster_changes;
use crate::components::stage_bar::status_class;
use crate::model::cluster::{ClusterChanges, ClusterHeader, InstanceCounts};
use crate::model::execution::{Execution, Subscribe};
use crate::model::time::format_utc;
use crate::pages::clusters::server_group_href;

#[component]
pub fn Glance(application: String, overview: Overview) -> impl IntoView {
    let clusters = RwSignal::new(overview.clusters);
    let cluster_count = RwSignal::new(overview.cluster_count);
    let executions = RwSignal::new(overview.executions);
    let running = RwSignal::new(overview.running_tasks);
    watch_cluster_changes(application.clone(), move |changes| {
        clusters.update(|shown| follow(shown, changes));
        cluster_count.set(clusters.with_untracked(Vec::len));
    }, |_| {});
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
        {move || view! { <ClustersTable application=app.get_value() clusters=clusters.get() count=cluster_count.get()/> }}
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

/// Keeps `shown` in the view's order as the socket reports: its first message has every
/// cluster, later ones those that changed or went.
fn follow(shown: &mut Vec<ClusterHeader>, changes: ClusterChanges) {
    if changes.snapshot {
        shown.clear();
    }
    for header in changes.clusters {
        let key = header.key();
        match shown.binary_search_by(|known| known.key().cmp(&key)) {
            Ok(at) => shown[at] = header,
            Err(at) => shown.insert(at, header),
        }
    }
    shown.retain(|known| !changes.removed.contains(&known.key()));
}

#[component]
fn ClustersTable(application: String, clusters: Vec<ClusterHeader>, count: usize) -> impl IntoView {
    if clusters.is_empty() {
        return view! { <p class="empty">"No clusters yet. A pipeline's deploy stage creates them."</p> }.into_any();
    }
    let tab = format!("/applications/{application}/clusters");
    let more = (count > OVERVIEW_CLUSTERS).then(|| {
        let tab = tab.clone();
        view! { <p class="muted">{format!("The first {OVERVIEW_CLUSTERS} of {count} clusters; ")} <a href=tab>"all of them on the Clusters tab"</a> "."</p> }
    });
    let rows = clusters
        .into_iter()
        .take(OVERVIEW_CLUSTERS)
        .map(|cluster| {
            let (account, region) = (cluster.location.account.clone(), cluster.location.region.clone());
            let newest = cluster.newest.clone().map(|newest| {
                let href = server_group_href(&application, &account, &region, &newest.name);
                let state = if newest.enabled { "enabled" } else { "disabled" };
                view! {
                    <a href=href>{newest.name}</a> " "
                    <span class=format!("badge sg-{state}")>{state}</span> " "
                    <span class="muted">{newest.version}</span>
                }
            });
            let groups = format!("{} server groups, {} enabled", cluster.server_group_count, cluster.enabled_server_group_count);
            view! {
                <tr>
                    <td><a href=tab.clone()>{cluster.name}</a></td>
                    <td>{format!("{account} / {region}")}</td>
                    <td>{newest}</td>
                    <td>{groups}</td>
                    <td class="muted">{health(cluster.instance_counts)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="list" aria-label="Clusters">
            <thead><tr><th>"Cluster"</th><th>"Account / region"</th><th>"Newest server group"</th><th>"Server groups"</th><th>"Instances"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
        {more}
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
