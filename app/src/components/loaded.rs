//! The one way pages show what a resource loads: a fallback while it loads (and, with
//! `Transition`, the previous content while it reloads), the error list if it fails, the view
//! once it is there. One component with the view behind a trait object, rather than the same
//! `Transition > ErrorBoundary > Suspend` written out on every page: each written-out copy has
//! its own view type, and so its own copy of the code for rendering, hydrating and updating it
//! in the browser bundle.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use leptos::prelude::*;

use crate::components::error_message::error_list;
use crate::error::AppError;

type Loading = Pin<Box<dyn Future<Output = Result<AnyView, AppError>> + Send>>;

/// What a page shows once loaded: a future of its view, made again whenever what it reads
/// changes (it is called inside the reactive closure, so the signals it reads are tracked).
pub type Content = Arc<dyn Fn() -> Loading + Send + Sync>;

/// [`Content`] from a closure returning the page's async block.
pub fn loaded<Load, View>(content: impl Fn() -> Load + Send + Sync + 'static) -> Content
where
    Load: Future<Output = Result<View, AppError>> + Send + 'static,
    View: IntoView + 'static,
{
    Arc::new(move || {
        let load = content();
        Box::pin(async move { load.await.map(IntoAny::into_any) })
    })
}

/// `fallback` (a line of text; empty shows nothing) while `content` first loads.
#[component]
pub fn Loaded(#[prop(default = "")] fallback: &'static str, content: Content) -> impl IntoView {
    view! {
        <Transition fallback=move || (!fallback.is_empty()).then(|| view! { <p>{fallback}</p> })>
            <ErrorBoundary fallback=error_list>
                {move || Suspend::new(content())}
            </ErrorBoundary>
        </Transition>
    }
}
