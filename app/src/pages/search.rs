//! The search page, `/search?q=...`: what the header's search box finds (applications, clusters
//! and server groups by name), as links to where each lives. The box is a plain GET form, so a
//! search works without JavaScript and its results can be bookmarked.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::clusters::server_group_href;
use crate::api::search::{SearchResults, search};
use crate::components::loaded::{Loaded, loaded};

#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let text = Memo::new(move |_| query.read().get("q").unwrap_or_default());
    let results = Resource::new(move || text.get(), search);
    view! {
        <Title text=move || format!("Search {} · gennaker", text.get())/>
        <section class="page">
            <h1>"Search"</h1>
            <Loaded fallback="Searching…" content=loaded(move || async move {
                results.await.map(|results| view! { <Results text=text.get_untracked() results/> })
            })/>
        </section>
    }
}

#[component]
fn Results(text: String, results: SearchResults) -> impl IntoView {
    if text.trim().is_empty() {
        return view! { <p class="empty">"Type part of an application, cluster or server group name in the search box."</p> }.into_any();
    }
    if results == SearchResults::default() {
        return view! { <p class="empty" role="status">"Nothing is named like “" {text} "”."</p> }.into_any();
    }
    let SearchResults { applications, clusters, server_groups } = results;
    view! {
        <p class="muted" role="status">"Results for “" {text} "”"</p>
        {(!applications.is_empty()).then(|| view! {
            <h2>"Applications"</h2>
            <ul class="plain" aria-label="Applications found">
                {applications.into_iter().map(|name| {
                    let href = format!("/applications/{name}");
                    view! { <li><a href=href>{name}</a></li> }
                }).collect_view()}
            </ul>
        })}
        {(!clusters.is_empty()).then(|| view! {
            <h2>"Clusters"</h2>
            <ul class="plain" aria-label="Clusters found">
                {clusters.into_iter().map(|hit| {
                    let href = format!("/applications/{}/clusters", hit.application);
                    view! {
                        <li>
                            <a href=href>{hit.name}</a>
                            <span class="muted">{format!(" in {} · {} / {}", hit.application, hit.account, hit.region)}</span>
                        </li>
                    }
                }).collect_view()}
            </ul>
        })}
        {(!server_groups.is_empty()).then(|| view! {
            <h2>"Server groups"</h2>
            <ul class="plain" aria-label="Server groups found">
                {server_groups.into_iter().map(|hit| {
                    let href = server_group_href(&hit.application, &hit.account, &hit.region, &hit.name);
                    view! {
                        <li>
                            <a href=href>{hit.name}</a>
                            <span class="muted">{format!(" in {} · {} · {} / {}", hit.application, hit.cluster, hit.account, hit.region)}</span>
                        </li>
                    }
                }).collect_view()}
            </ul>
        })}
    }
    .into_any()
}
