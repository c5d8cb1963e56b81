//! Errors shown in plain sight, never only in a tooltip: the message, and the field it concerns.

use leptos::prelude::*;

use crate::error::AppError;

#[component]
pub fn ErrorMessage(error: AppError) -> impl IntoView {
    let field = error.field().map(|field| format!(" ({field})"));
    view! {
        <p class="error" role="alert">
            {error.to_string()}
            {field}
        </p>
    }
}

/// The fallback of an `<ErrorBoundary>`: every error it caught, each on its own line.
pub fn error_list(errors: ArcRwSignal<Errors>) -> impl IntoView {
    view! {
        <div class="error" role="alert">
            <ul>
                {move || {
                    errors
                        .get()
                        .into_iter()
                        .map(|(_, error)| view! { <li>{error.to_string()}</li> })
                        .collect_view()
                }}
            </ul>
        </div>
    }
}
