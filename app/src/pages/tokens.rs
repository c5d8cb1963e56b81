//! The caller's API tokens: create one (its secret is shown once), list, revoke.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::auth::{CreateToken, RevokeToken, list_tokens};
use crate::components::ErrorMessage;
use crate::components::loaded::{Loaded, loaded};
use crate::model::time::format_utc;

#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(move || (create.version().get(), revoke.version().get()), |_| list_tokens());
    view! {
        <Title text="API tokens · gennaker"/>
        <section class="page">
            <h1>"API tokens"</h1>
            <p>"Automation sends a token as " <code>"Authorization: Bearer <token>"</code> "."</p>
            <ActionForm action=create attr:class="form" attr:aria-label="Create token">
                <label>"Name" <input type="text" name="name" required placeholder="ci"/></label>
                <label>"Expires in days (empty: the longest allowed)" <input type="number" name="expires_in_days" min="1"/></label>
                <button type="submit">"Create token"</button>
            </ActionForm>
            {move || match create.value().get() {
                Some(Ok(created)) => view! {
                    <div class="notice" role="status">
                        <p>"Token " <strong>{created.token.name}</strong> " created. Copy it now: it is not shown again."</p>
                        <code class="secret" aria-label="New token">{created.secret}</code>
                    </div>
                }.into_any(),
                Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                None => ().into_any(),
            }}
            <Loaded fallback="Loading tokens…" content=loaded(move || async move {
                tokens.await.map(|tokens| view! {
                    <table class="list" aria-label="Tokens">
                        <thead><tr><th>"Name"</th><th>"Created"</th><th>"Expires"</th><th>"Last used"</th><th></th></tr></thead>
                        <tbody>
                            {tokens.into_iter().map(|token| view! {
                                <tr>
                                    <td>{token.name.clone()}</td>
                                    <td>{format_utc(token.create_ts)}</td>
                                    <td>{token.expires_ts.map_or_else(|| "never".to_string(), format_utc)}</td>
                                    <td>{token.last_used_ts.map_or_else(|| "—".to_string(), format_utc)}</td>
                                    <td>
                                        <ActionForm action=revoke attr:class="inline">
                                            <input type="hidden" name="id" value=token.id/>
                                            <button type="submit" class="secondary" aria-label=format!("Revoke {}", token.name)>"Revoke"</button>
                                        </ActionForm>
                                    </td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                })
            })/>
        </section>
    }
}
