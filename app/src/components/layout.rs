//! The frame around every page: brand, main navigation, and who is signed in.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

use crate::api::auth::{SignOut, current_user};

#[component]
pub fn Header() -> impl IntoView {
    let location = use_location();
    // Keyed on the path, so signing in or out (which navigates) refreshes who is shown.
    let user = Resource::new(move || location.pathname.get(), |_| current_user());
    let sign_out = ServerAction::<SignOut>::new();
    view! {
        <header class="topbar">
            <a class="brand" href="/">"gennaker"</a>
            <nav aria-label="Main">
                <A href="/applications">"Applications"</A>
            </nav>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match user.await {
                        Ok(Some(user)) => {
                            let admin = user.admin;
                            view! {
                                <div class="account">
                                    <A href="/account/tokens">"API tokens"</A>
                                    {admin.then(|| view! { <A href="/admin/audit">"Audit log"</A> })}
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
