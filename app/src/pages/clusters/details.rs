//! The details panel of the selected server group: where it runs, what, at which capacity,
//! behind which load balancers, its instances with their health, and the actions on it. It is
//! fetched again whenever the live view says the server group changed, so instance health
//! follows without a reload; the action forms are built once, so a live change never wipes
//! what someone is typing.

use leptos::prelude::*;

use super::actions::ServerGroupActions;
use super::scaling::{ScalingActions, ScalingFacts};
use super::server_group_box::{HealthBar, artifact_version};
use super::Selection;
use crate::api::clusters::{get_build_log, get_server_group, get_workload_manifest};
use crate::components::loaded::{Loaded, loaded};
use crate::model::cluster::{ClusterSummary, HealthState, ServerGroup};
use crate::model::time::format_utc;

fn health_words(state: HealthState) -> (&'static str, &'static str) {
    match state {
        HealthState::Up => ("up", "Up"),
        HealthState::Starting => ("starting", "Starting"),
        HealthState::OutOfService => ("out-of-service", "Out of service"),
        HealthState::Down => ("down", "Down"),
        HealthState::Unknown => ("unknown", "Unknown"),
    }
}

#[component]
pub fn ServerGroupPanel(application: String, selection: Selection, cluster: Memo<Option<ClusterSummary>>, close_href: String) -> impl IntoView {
    let summary = Memo::new({
        let name = selection.name.clone();
        move |_| cluster.with(|cluster| cluster.as_ref().and_then(|cluster| cluster.server_groups.iter().find(|group| group.name == name).cloned()))
    });
    let exists = Memo::new(move |_| summary.read().is_some());
    let disabled = Signal::derive(move || summary.read().as_ref().is_some_and(|group| group.disabled));
    // Every other server group of the same cluster, newest first: the candidates to roll back to.
    let others = Memo::new({
        let name = selection.name.clone();
        move |_| {
            cluster.with(|cluster| {
                let mut others: Vec<_> = cluster
                    .iter()
                    .flat_map(|cluster| &cluster.server_groups)
                    .filter(|group| group.name != name)
                    .map(|group| (group.created_time, group.name.clone()))
                    .collect();
                others.sort_by(|a, b| b.cmp(a));
                others.into_iter().map(|(_, name)| name).collect::<Vec<_>>()
            })
        }
    });
    let key = (application.clone(), selection.account.clone(), selection.region.clone(), selection.name.clone());
    let details = Resource::new(move || (key.clone(), summary.get()), |((application, account, region, name), _)| {
        get_server_group(application, account, region, name)
    });
    let name = selection.name.clone();
    let kubernetes = summary.get_untracked().is_some_and(|group| group.location.cloud_provider == "kubernetes");
    let from_source = summary.get_untracked().is_some_and(|group| matches!(group.artifact, crate::model::cluster::Artifact::Source { .. }));

    view! {
        <aside class="details-panel" aria-label=format!("Server group {name}")>
            <header>
                <h2>{name.clone()}</h2>
                <a class="close" href=close_href aria-label="Close details">"✕"</a>
            </header>
            <Show when=move || exists.get() fallback={
                let name = name.clone();
                move || view! { <p class="empty">{name.clone()} " is no longer there."</p> }
            }>
                <Loaded fallback="Loading…" content=loaded({
                    let application = application.clone();
                    move || {
                        let application = application.clone();
                        async move {
                            details.await.map(|group| {
                                let scaling = (group.location.cloud_provider != "kubernetes").then(|| view! { <ScalingFacts application group=group.clone()/> });
                                view! { <Facts group/> {scaling} }
                            })
                        }
                    }
                })/>
                {kubernetes.then(|| view! { <WorkloadManifestView application=application.clone() selection=selection.clone() summary/> })}
                {from_source.then(|| view! { <BuildLogView application=application.clone() selection=selection.clone()/> })}
                {
                    let application = application.clone();
                    summary.get_untracked().map(|current| view! { <ServerGroupActions application current disabled others/> })
                }
                {(!kubernetes).then(|| view! {
                    <section class="sg-actions" aria-label="Scaling">
                        <ScalingActions application=application.clone() account=selection.account.clone() region=selection.region.clone() name=selection.name.clone()/>
                    </section>
                })}
            </Show>
        </aside>
    }
}

/// The log of the build a server group built from source ran, read when the panel opens.
#[component]
fn BuildLogView(application: String, selection: Selection) -> impl IntoView {
    let key = (application, selection.account, selection.region, selection.name);
    let log = Resource::new(move || key.clone(), |(application, account, region, name)| get_build_log(application, account, region, name));
    view! {
        <Loaded fallback="Loading the build log…" content=loaded(move || async move {
            log.await.map(|log| view! {
                <details class="build-log">
                    <summary>"Build log"</summary>
                    <pre aria-label="Build log">{log.unwrap_or_else(|| "No build log.".to_string())}</pre>
                </details>
            })
        })/>
    }
}

/// A Kubernetes workload's raw manifest and events, read from its API server when the panel
/// opens and again when the live view says it changed.
#[component]
fn WorkloadManifestView(application: String, selection: Selection, summary: Memo<Option<crate::model::cluster::ServerGroupSummary>>) -> impl IntoView {
    let key = (application, selection.account, selection.region, selection.name);
    let found = Resource::new(move || (key.clone(), summary.get()), |((application, account, region, name), _)| {
        get_workload_manifest(application, account, region, name)
    });
    view! {
        <Loaded fallback="Loading the manifest…" content=loaded(move || async move {
            found.await.map(|found| view! {
                <h3>"Events"</h3>
                {if found.events.is_empty() {
                    view! { <p class="empty">"No events."</p> }.into_any()
                } else {
                    view! {
                        <table class="list" aria-label="Events">
                            <thead><tr><th>"Type"</th><th>"Reason"</th><th>"Message"</th><th>"Count"</th><th>"Last seen"</th></tr></thead>
                            <tbody>
                                {found.events.into_iter().map(|event| view! {
                                    <tr>
                                        <td>{event.kind}</td>
                                        <td>{event.reason}</td>
                                        <td>{event.message}</td>
                                        <td>{event.count}</td>
                                        <td>{format_utc(event.last_seen)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
                <details class="manifest">
                    <summary>"Manifest"</summary>
                    <pre aria-label="Manifest">{serde_json::to_string_pretty(&found.manifest).unwrap_or_default()}</pre>
                </details>
            })
        })/>
    }
}

#[component]
fn Facts(group: ServerGroup) -> impl IntoView {
    let counts = crate::model::cluster::InstanceCounts::of(&group.instances);
    let list = |items: &[String]| if items.is_empty() { "—".to_string() } else { items.join(", ") };
    let capacity = group.capacity;
    view! {
        <dl class="details">
            <dt>"Status"</dt><dd>{if group.disabled { "disabled" } else { "enabled" }}</dd>
            <dt>"Location"</dt><dd>{format!("{} / {} / {}", group.location.cloud_provider, group.location.account, group.location.region)}</dd>
            <dt>"Artifact"</dt><dd>{artifact_version(&group.artifact)}</dd>
            <dt>"Capacity"</dt><dd>{format!("min {}, desired {}, max {}", capacity.min, capacity.desired, capacity.max)}</dd>
            <dt>"Load balancers"</dt><dd>{list(&group.load_balancers)}</dd>
            <dt>"Firewalls"</dt><dd>{list(&group.security_groups)}</dd>
            <dt>"Created"</dt><dd>{format_utc(group.created_time)}</dd>
            <dt>"Tags"</dt><dd>{
                let tags = crate::model::cluster::user_tags(&group.metadata);
                if tags.is_empty() { "—".to_string() } else { tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ") }
            }</dd>
        </dl>
        <HealthBar counts/>
        <table class="list instances" aria-label=format!("Instances of {}", group.name)>
            <thead><tr><th>"Instance"</th><th>"Health"</th><th>"Address"</th><th>"Launched"</th></tr></thead>
            <tbody>
                {group.instances.iter().map(|instance| {
                    let (class, words) = health_words(instance.health_state);
                    view! {
                        <tr>
                            <td><code>{instance.name.clone()}</code></td>
                            <td><span class=format!("health health-{class}")>{words}</span></td>
                            <td><code>{instance.address.clone()}</code></td>
                            <td>{format_utc(instance.launch_time)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        {group.instances.is_empty().then(|| view! { <p class="empty">"No instances."</p> })}
    }
}
