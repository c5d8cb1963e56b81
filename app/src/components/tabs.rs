//! The tabs of an application's pages, in Spinnaker's Deck order.

use leptos::prelude::*;

/// `current` is the key of the page shown: `overview`, `clusters`, `pipelines`, `canary`,
/// `loadBalancers`, `firewalls` or `tasks`.
#[component]
pub fn ApplicationTabs(application: String, current: &'static str) -> impl IntoView {
    let tabs = [
        ("overview", "Overview", ""),
        ("clusters", "Clusters", "/clusters"),
        ("pipelines", "Pipelines", "/pipelines"),
        ("canary", "Canary", "/canary"),
        ("loadBalancers", "Load Balancers", "/loadBalancers"),
        ("firewalls", "Firewalls", "/firewalls"),
        ("tasks", "Tasks", "/tasks"),
    ];
    view! {
        <nav class="tabs" aria-label="Application">
            {tabs.into_iter().map(|(key, label, suffix)| {
                let href = format!("/applications/{application}{suffix}");
                let selected = (key == current).then_some("page");
                view! { <a href=href aria-current=selected>{label}</a> }
            }).collect_view()}
        </nav>
    }
}
