//! An application's Overview tab: its details, what it runs and did lately at a glance (see
//! [`glance`]), its settings (description, owner, permissions) and its notification defaults.
//! The other tabs tell the whole story.

mod glance;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use self::glance::Glance;
use crate::api::applications::{UpdateApplicationSettings, UpdateNotificationDefaults, get_application};
use crate::api::overview::get_overview;
use crate::components::ErrorMessage;
use crate::components::loaded::{Loaded, loaded};
use crate::components::tabs::ApplicationTabs;
use crate::model::time::format_utc;

#[component]
pub fn ApplicationPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let save = ServerAction::<UpdateNotificationDefaults>::new();
    let settings = ServerAction::<UpdateApplicationSettings>::new();
    let application =
        Resource::new(move || (name(), save.version().get(), settings.version().get()), |(name, _, _)| get_application(name));
    let overview = Resource::new(name, get_overview);

    view! {
        <Title text=move || format!("{} · gennaker", name())/>
        <section class="page">
            <p class="breadcrumb"><a href="/applications">"Applications"</a> " / " {name}</p>
            <ApplicationTabs application=name() current="overview"/>
            <Loaded fallback="Loading…" content=loaded(move || async move {
                application.await.map(|application| view! {
                    <h1>{application.name.clone()}</h1>
                    <dl class="details">
                        <dt>"Owner"</dt><dd>{if application.email.is_empty() { "—".to_string() } else { application.email }}</dd>
                        <dt>"Description"</dt><dd>{application.description}</dd>
                        <dt>"Created"</dt><dd>{format_utc(application.create_ts)}</dd>
                        <dt>"Updated"</dt><dd>{format_utc(application.update_ts)}</dd>
                    </dl>
                })
            })/>
            <Loaded fallback="Loading clusters and executions…" content=loaded(move || async move {
                overview.await.map(|overview| view! { <Glance application=name() overview/> })
            })/>
            // The details above already said why the application could not be read.
            <Transition fallback=|| ()>
                <ErrorBoundary fallback=|_| ()>
                    {move || Suspend::new(async move {
                        application.await.map(|application| {
                            let settings_name = application.name.clone();
                            let (read, write, execute) = (
                                roles(&application.permissions.read),
                                roles(&application.permissions.write),
                                roles(&application.permissions.execute),
                            );
                            let (description, email) = (application.description.clone(), application.email.clone());
                            view! {
                            <h2>"Settings"</h2>
                            <ActionForm action=settings attr:class="form" attr:aria-label="Application settings">
                                <input type="hidden" name="name" value=settings_name/>
                                <label>"Description" <input type="text" name="description" value=description/></label>
                                <label>"Owner email" <input type="text" name="email" value=email/></label>
                                <fieldset>
                                    <legend>"Permissions: roles, comma-separated (all empty: every signed-in user may do everything)"</legend>
                                    <label>"Read" <input type="text" name="read" value=read/></label>
                                    <label>"Write (change pipelines and clusters)" <input type="text" name="write" value=write/></label>
                                    <label>"Execute (run and judge pipelines)" <input type="text" name="execute" value=execute/></label>
                                </fieldset>
                                <button type="submit">"Save settings"</button>
                            </ActionForm>
                            <SettingsOutcome settings/>
                            <h2>"Notification defaults"</h2>
                            <p class="hint">
                                "Added to every run of this application's pipelines: a JSON list like "
                                <code>{r#"[{"type":"slack","secretName":"team-chat","when":["pipeline.failed"]}]"#}</code>
                                ". Types: email, slack, teams, googlechat, sms, webhook, hipchat."
                            </p>
                            <ActionForm action=save attr:class="form" attr:aria-label="Notification defaults">
                                <input type="hidden" name="name" value=application.name/>
                                <label>"Notifications (JSON)"
                                    <textarea name="json" rows="6" spellcheck="false">
                                        {serde_json::to_string_pretty(&application.notifications).unwrap_or_default()}
                                    </textarea>
                                </label>
                                <button type="submit">"Save notification defaults"</button>
                            </ActionForm>
                            }
                        })
                    })}
                </ErrorBoundary>
            </Transition>
            {move || match save.value().get() {
                Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                Some(Ok(_)) => view! { <p class="notice" role="status">"Notification defaults saved."</p> }.into_any(),
                None => ().into_any(),
            }}
        </section>
    }
}

fn roles(roles: &std::collections::BTreeSet<String>) -> String {
    roles.iter().cloned().collect::<Vec<_>>().join(", ")
}

/// What the last Save settings said: saved, or the error (naming the role it refused).
#[component]
fn SettingsOutcome(settings: ServerAction<UpdateApplicationSettings>) -> impl IntoView {
    move || match settings.value().get() {
        Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
        Some(Ok(_)) => view! { <p class="notice" role="status">"Settings saved."</p> }.into_any(),
        None => ().into_any(),
    }
}
