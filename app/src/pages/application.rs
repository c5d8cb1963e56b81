//! An application's Overview tab: its details. The other tabs show what it runs and how it ships.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::applications::get_application;
use crate::components::error_message::error_list;
use crate::components::tabs::ApplicationTabs;
use crate::model::time::format_utc;

#[component]
pub fn ApplicationPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let application = Resource::new(name, get_application);

    view! {
        <Title text=move || format!("{} · gennaker", name())/>
        <section class="page">
            <p class="breadcrumb"><a href="/applications">"Applications"</a> " / " {name}</p>
            <ApplicationTabs application=name() current="overview"/>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                <ErrorBoundary fallback=error_list>
                    {move || Suspend::new(async move {
                        application.await.map(|application| view! {
                            <h1>{application.name.clone()}</h1>
                            <dl class="details">
                                <dt>"Owner"</dt><dd>{if application.email.is_empty() { "—".to_string() } else { application.email }}</dd>
                                <dt>"Description"</dt><dd>{application.description}</dd>
                                <dt>"Created"</dt><dd>{format_utc(application.create_ts)}</dd>
                                <dt>"Updated"</dt><dd>{format_utc(application.update_ts)}</dd>
                            </dl>
                        })
                    })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}
