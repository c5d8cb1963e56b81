//! The frame around every page: brand, main navigation, the search box, and who is signed in.
//!
//! The search box is a plain GET form to `/search` (a `role="search"` landmark): it works
//! without JavaScript, Enter submits it, and the results page can be bookmarked.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_location, use_query_map};

use crate::api::auth::{SignOut, current_user};

#[component]
pub fn Header() -> impl IntoView {
    let pathname = use_location().pathname;
    // Keyed on the path, so signing in or out (which navigates) refreshes who is shown.
    let user = Resource::new(move || pathname.get(), |_| current_user());
    let sign_out = ServerAction::<SignOut>::new();
    // On the results page the box keeps the text searched for.
    let query = use_query_map();
    let searched = move || if pathname.get() == "/search" { query.read().get("q").unwrap_or_default() } else { String::new() };
    view! {
        <header class="topbar">
            <a class="brand" href="/">"gennaker"</a>
            <nav aria-label="Main">
                <A href="/applications">"Applications"</A>
            </nav>
            <form class="search" role="search" method="get" action="/search" aria-label="Search">
                <input type="search" name="q" prop:value=searched value=searched aria-label="Search applications, clusters and server groups"
                    placeholder="Search…" autocomplete="off"/>
                <button type="submit" class="secondary">"Search"</button>
            </form>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match user.await {
                        Ok(Some(user)) => {
                            let admin = user.admin;
                            view! {
                                <div class="account">
                                    <A href="/account/tokens">"API tokens"</A>
                                    {admin.then(|| view! { <A href="/admin/clouds">"Cloud accounts"</A> <A href="/admin/audit">"Audit log"</A> })}
                                    <span class="who">"Signed in as " <strong>{user.name}</strong></span>
                                    <ActionForm action=sign_out attr:class="inline">
                                        <button type="submit" class="secondary">"Sign out"</button>
                                    </ActionForm>
                                </div>
                            }
                            .into_any()
                        }
                        _ => ().into_any(),
                    }
                })}
            </Transition>
        </header>
    }
}
