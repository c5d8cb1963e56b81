//! The page for unknown paths; the server answers it with 404.

use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <section>
            <h1>"Not found"</h1>
            <p>"There is nothing at this address. " <a href="/applications">"See all applications."</a></p>
        </section>
    }
}
