//! The sign-in page: user name and password; then back to the page that sent you here.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::auth::SignIn;
use crate::components::ErrorMessage;

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/".to_string());
    let sign_in = ServerAction::<SignIn>::new();
    view! {
        <Title text="Sign in · gennaker"/>
        <section class="page narrow">
            <h1>"Sign in"</h1>
            <ActionForm action=sign_in attr:class="form stacked" attr:aria-label="Sign in">
                <input type="hidden" name="next" value=next/>
                <label>"User name" <input type="text" name="username" required autocomplete="username"/></label>
                <label>"Password" <input type="password" name="password" required autocomplete="current-password"/></label>
                <button type="submit">"Sign in"</button>
            </ActionForm>
            {move || match sign_in.value().get() {
                Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                _ => ().into_any(),
            }}
        </section>
    }
}
