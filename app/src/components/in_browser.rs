//! Parts of a page that only the browser renders, with code loaded on demand: a function
//! declared with [`split_view!`] (a split point, cut into a WASM chunk of its own by wasm-split,
//! see `scripts/lib/bundle.sh`) builds the part, and [`InBrowser`] shows a placeholder on the
//! server and while hydrating, then loads the chunk once the page is interactive and puts the
//! part in its place. For forms that need the WASM anyway (their inputs are structured), so the
//! pages that do not show them, and these pages' first paint, do not pay for their code.
//!
//! [`split_view!`] rather than Leptos' `#[lazy]`: the same wasm-split split point, but a chunk
//! that cannot be fetched (the network, a server restarted on a new build) is an error shown
//! where the part would be, instead of a panic that stops the page's WASM.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use leptos::prelude::*;
use send_wrapper::SendWrapper;

/// A chunk that could not be loaded.
#[derive(Debug, Clone)]
pub struct NotLoaded;

impl From<leptos::wasm_split::SplitLoaderError> for NotLoaded {
    fn from(_: leptos::wasm_split::SplitLoaderError) -> Self {
        NotLoaded
    }
}

/// Declares `async fn $name(args) -> Result<AnyView, NotLoaded>` returning `$body`: in the
/// browser a split point (the function and what only it reaches go into a chunk, fetched on the
/// first call), on the server a plain function.
macro_rules! split_view {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        #[cfg(feature = "hydrate")]
        #[::leptos::wasm_split::wasm_split($name, fallible, wasm_split_path = ::leptos::wasm_split)]
        $vis fn $name($($arg: $ty),*) -> Result<AnyView, $crate::components::in_browser::NotLoaded> {
            Ok($body)
        }
        $(#[$meta])*
        #[cfg(not(feature = "hydrate"))]
        $vis async fn $name($($arg: $ty),*) -> Result<AnyView, $crate::components::in_browser::NotLoaded> {
            Ok($body)
        }
    };
}
pub(crate) use split_view;

/// What builds the part: a call of its [`split_view!`] function. A trait object rather than a
/// type parameter, so the component's code is in the bundle once, not once per use.
pub type Load = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<AnyView, NotLoaded>>>> + Send + Sync>;

/// [`Load`] from a closure calling a [`split_view!`] function.
pub fn load<Loading>(call: impl Fn() -> Loading + Send + Sync + 'static) -> Load
where
    Loading: Future<Output = Result<AnyView, NotLoaded>> + 'static,
{
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
            let loading = SendWrapper::new(load());
            Suspend::new(async move {
                loading.await.unwrap_or_else(|NotLoaded| {
                    view! {
                        <p class="field-error" role="alert">
                            "This part of the page could not be loaded (the network, or gennaker was updated meanwhile). Reload the page to try again."
                        </p>
                    }
                    .into_any()
                })
            })
            .into_any()
        } else {
            view! { <p class="muted loading">{placeholder}</p> }.into_any()
        }
    }
}
