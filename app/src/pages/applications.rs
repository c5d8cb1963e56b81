//! The Applications page: every application, and a form to create one. The form is an
//! `ActionForm`, so it also works before (or without) hydration as a plain HTML form post.
//!
//! Paged client-side, 50 to a page (`?page=N`): the service answers every readable application
//! at once (they are few hundred at most and already sorted by name), so slicing what was
//! fetched costs nothing and keeps the server function's contract unchanged.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::applications::{CreateApplication, list_applications};
use crate::components::ErrorMessage;
use crate::components::loaded::{Loaded, loaded};
use crate::components::pager::{Pager, page_of, use_page};
use crate::model::time::format_utc;

#[component]
pub fn ApplicationsPage() -> impl IntoView {
    let create = ServerAction::<CreateApplication>::new();
    let applications = Resource::new(move || create.version().get(), |_| list_applications());
    let page = use_page();

    view! {
        <Title text="Applications · gennaker"/>
        <section class="page">
            <h1>"Applications"</h1>
            <Loaded fallback="Loading applications…" content=loaded(move || { let page = page.get(); async move {
                applications.await.map(|applications| {
                    if applications.is_empty() {
                        return view! { <p class="empty">"No applications yet. Create the first one below."</p> }.into_any();
                    }
                    let (applications, has_next) = page_of(applications, page);
                    view! {
                        <table class="list" aria-label="Applications">
                            <thead>
                                <tr><th>"Name"</th><th>"Owner"</th><th>"Description"</th><th>"Created"</th></tr>
                            </thead>
                            <tbody>
                                {applications.into_iter().map(|application| {
                                    let href = format!("/applications/{}", application.name);
                                    view! {
                                        <tr>
                                            <td><a href=href>{application.name}</a></td>
                                            <td>{application.email}</td>
                                            <td>{application.description}</td>
                                            <td>{format_utc(application.create_ts)}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        <Pager path="/applications".to_string() page has_next label="Applications pages"/>
                    }.into_any()
                })
            }})/>

            <h2>"Create an application"</h2>
            <ActionForm action=create attr:class="form" attr:aria-label="Create application">
                <label>"Name" <input type="text" name="name" required placeholder="shop" autocomplete="off"/></label>
                <label>"Owner email" <input type="email" name="email" placeholder="team@example.com"/></label>
                <label>"Description" <input type="text" name="description"/></label>
                <button type="submit">"Create"</button>
            </ActionForm>
            {move || match create.value().get() {
                Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                Some(Ok(application)) => view! {
                    <p class="notice" role="status">"Created " {application.name} "."</p>
                }.into_any(),
                None => ().into_any(),
            }}
        </section>
    }
}
