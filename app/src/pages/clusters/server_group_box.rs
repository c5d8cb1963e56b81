//! One server group in the clusters view: version, artifact version, desired size, and its
//! instances' health: a small square per instance (up green, then starting, out of service,
//! down, unknown) while it has few, a bar of counts beyond [`INSTANCE_SQUARES`], the counts in
//! words either way. Disabled ones are greyed and say so in words too; one that scales by
//! itself says between which sizes. The box is a link that opens the details.

use leptos::prelude::*;

use crate::model::cluster::{Artifact, HealthState, InstanceCounts};
use crate::model::cluster_page::{INSTANCE_SQUARES, InstanceHealth, ServerGroupView};
use crate::model::names::ServerGroupName;

/// What a server group runs, in a few characters: the version of a command, else the image.
pub fn artifact_version(artifact: &Artifact) -> String {
    artifact.label()
}

/// `v001` of `demo-web-v001` (and of Kubernetes' `replicaSet web-v001`); a Kubernetes
/// workload without a version shows its own name (`web-7d9f8c`).
fn version(name: &str) -> String {
    if let Ok(parsed) = ServerGroupName::parse(name) {
        return format!("v{:03}", parsed.version);
    }
    let Some((_, object)) = name.split_once(' ') else { return String::new() };
    match object.rsplit_once("-v") {
        Some((_, digits)) if digits.len() >= 3 && digits.chars().all(|c| c.is_ascii_digit()) => format!("v{digits}"),
        _ => object.to_string(),
    }
}

#[component]
pub fn ServerGroupBox(name: String, group: Memo<Option<ServerGroupView>>, selected: bool, href: String) -> impl IntoView {
    let disabled = move || group.read().as_ref().is_some_and(|group| group.summary.disabled);
    view! {
        <a class="server-group" class:disabled=disabled href=href
            aria-current=selected.then_some("true") data-testid=format!("server-group-{name}")>
            {move || group.get().map(|ServerGroupView { summary: group, instances }| {
                let state = if group.disabled { "disabled" } else { "enabled" };
                view! {
                    <span class="sg-head">
                        <strong class="sg-version">{version(&group.name)}</strong>
                        <span class="sg-state" data-testid="server-group-state">{state}</span>
                    </span>
                    <span class="sg-name">{group.name.clone()}</span>
                    <span class="sg-artifact" title="Artifact version">{artifact_version(&group.artifact)}</span>
                    <span class="sg-size">
                        <span><span data-testid="instance-count">{group.instance_counts.total}</span> " instances"</span>
                        <span>"desired " {group.capacity.desired}</span>
                        {(!group.scaling.is_empty()).then(|| view! {
                            <span class="sg-scaling" title=group.scaling.join("\n")>{format!("{}–{} autoscaling", group.capacity.min, group.capacity.max)}</span>
                        })}
                    </span>
                    {match instances {
                        Some(instances) if !instances.is_empty() && instances.len() <= INSTANCE_SQUARES as usize => {
                            view! { <InstanceSquares instances counts=group.instance_counts/> }.into_any()
                        }
                        _ => view! { <HealthBar counts=group.instance_counts/> }.into_any(),
                    }}
                }
            })}
        </a>
    }
}

fn health_class(state: HealthState) -> (&'static str, &'static str) {
    match state {
        HealthState::Up => ("up", "up"),
        HealthState::Starting => ("starting", "starting"),
        HealthState::OutOfService => ("out-of-service", "out of service"),
        HealthState::Down => ("down", "down"),
        HealthState::Unknown => ("unknown", "unknown"),
    }
}

/// The counts of `counts` in words (`2 up, 1 starting`).
fn health_words(counts: &InstanceCounts) -> String {
    let parts = [
        ("up", counts.up),
        ("starting", counts.starting),
        ("out of service", counts.out_of_service),
        ("down", counts.down),
        ("unknown", counts.unknown),
    ];
    let shown: Vec<String> = parts.iter().filter(|(_, count)| *count > 0).map(|(label, count)| format!("{count} {label}")).collect();
    if shown.is_empty() { "no instances".to_string() } else { shown.join(", ") }
}

/// A square per instance, as Deck draws them, titled with the instance's name and health; the
/// counts in words for those who do not see the colours.
#[component]
fn InstanceSquares(instances: Vec<InstanceHealth>, counts: InstanceCounts) -> impl IntoView {
    let words = health_words(&counts);
    view! {
        <span class="instance-squares" role="img" aria-label=format!("Health: {words}")>
            {instances.into_iter().map(|instance| {
                let (class, label) = health_class(instance.health_state);
                view! { <span class=format!("health-{class}") title=format!("{}: {label}", instance.name)></span> }
            }).collect_view()}
        </span>
        <span class="health-counts">{words}</span>
    }
}

/// Instance health as a bar of coloured segments, each as wide as its count, and the counts
/// in words for those who do not see the colours.
#[component]
pub fn HealthBar(counts: InstanceCounts) -> impl IntoView {
    let parts = [
        ("up", "up", counts.up),
        ("starting", "starting", counts.starting),
        ("out-of-service", "out of service", counts.out_of_service),
        ("down", "down", counts.down),
        ("unknown", "unknown", counts.unknown),
    ];
    let shown: Vec<_> = parts.into_iter().filter(|(_, _, count)| *count > 0).collect();
    let words = health_words(&counts);
    view! {
        <span class="health-bar" role="img" aria-label=format!("Health: {words}")>
            {shown.into_iter().map(|(class, label, count)| view! {
                <span class=format!("health-{class}") style=format!("flex-grow: {count}") title=format!("{count} {label}")></span>
            }).collect_view()}
        </span>
        <span class="health-counts">{words}</span>
    }
}
