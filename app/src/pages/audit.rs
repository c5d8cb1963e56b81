//! The audit log for admins: every mutation, newest first, 50 a page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::auth::{AUDIT_PAGE, list_audit};
use crate::components::loaded::{Loaded, loaded};
use crate::model::time::format_utc;

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let before = move || query.read().get("before").and_then(|before| before.parse::<i64>().ok());
    let entries = Resource::new(before, list_audit);
    view! {
        <Title text="Audit log · gennaker"/>
        <section class="page">
            <h1>"Audit log"</h1>
            <Loaded fallback="Loading…" content=loaded(move || async move {
                entries.await.map(|entries| {
                    let older = (entries.len() == AUDIT_PAGE as usize)
                        .then(|| entries.last().map(|last| format!("/admin/audit?before={}", last.id)))
                        .flatten();
                    view! {
                        <table class="list audit" aria-label="Audit log">
                            <thead><tr><th>"When"</th><th>"Who"</th><th>"Action"</th><th>"Target"</th><th>"From"</th><th>"Status"</th></tr></thead>
                            <tbody>
                                {entries.into_iter().map(|entry| view! {
                                    <tr>
                                        <td>{format_utc(entry.ts)}</td>
                                        <td>{entry.actor}</td>
                                        <td><code>{entry.action}</code></td>
                                        <td>{entry.target}</td>
                                        <td>{entry.address}</td>
                                        <td>{entry.status}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        {older.map(|href| view! { <p><a href=href>"Older entries"</a></p> })}
                    }
                })
            })/>
        </section>
    }
}
