//! Parts of a page that only the browser renders, with code loaded on demand: a `#[lazy]`
//! function (a Leptos split point, cut into a WASM chunk of its own by wasm-split, see
//! `scripts/lib/bundle.sh`) builds the part, and [`InBrowser`] shows a placeholder on the
//! server and while hydrating, then loads the chunk once the page is interactive and puts the
//! part in its place. For forms that need the WASM anyway (their inputs are structured), so the
//! pages that do not show them, and these pages' first paint, do not pay for their code.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use leptos::prelude::*;
use send_wrapper::SendWrapper;

/// What builds the part: a call of its `#[lazy]` function. A trait object rather than a type
/// parameter, so the component's code is in the bundle once, not once per use.
pub type Load = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = AnyView>>> + Send + Sync>;

/// [`Load`] from a closure calling a `#[lazy]` function.
pub fn load<Loading: Future<Output = AnyView> + 'static>(call: impl Fn() -> Loading + Send + Sync + 'static) -> Load {
    Arc::new(move || Box::pin(call()))
}

/// `load` is called once the page is interactive; `placeholder` shows until its view is there.
#[component]
pub fn InBrowser(load: Load, placeholder: &'static str) -> impl IntoView {
    // Effects run only in the browser, after hydration: the server's HTML and the hydrated
    // page agree on the placeholder.
    let wanted = RwSignal::new(false);
    Effect::new(move |_| wanted.set(true));
    move || {
        if wanted.get() {
            // The chunk loader's future holds JS values; it is only ever polled on the one
            // browser thread.
            Suspend::new(SendWrapper::new(load())).into_any()
        } else {
            view! { <p class="muted loading">{placeholder}</p> }.into_any()
        }
    }
}
