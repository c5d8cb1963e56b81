//! The tabs of an application's pages.

use leptos::prelude::*;

#[component]
pub fn ApplicationTabs(application: String, current: &'static str) -> impl IntoView {
    let tabs = [("overview", "Overview", String::new()), ("pipelines", "Pipelines", "/pipelines".to_string())];
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
