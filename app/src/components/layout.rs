//! The frame around every page: brand and main navigation.

use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn Header() -> impl IntoView {
    view! {
        <header class="topbar">
            <a class="brand" href="/">"gennaker"</a>
            <nav aria-label="Main">
                <A href="/applications">"Applications"</A>
            </nav>
        </header>
    }
}
