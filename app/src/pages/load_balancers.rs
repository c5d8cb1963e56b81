//! An application's Load Balancers tab: each load balancer with its listeners, health check and
//! firewalls, a form to create one or edit it (Edit fills the form), and Delete behind a
//! disclosure that asks again. The list and Delete work without JavaScript; the form needs it,
//! as its body is structured (listeners, a health check, a set of firewalls), so it is rendered
//! in the browser only, from code loaded once the page is interactive.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::clusters::{DeleteLoadBalancer, list_load_balancers, list_security_groups, upsert_load_balancer};
use crate::components::ErrorMessage;
use crate::components::loaded::{Loaded, loaded};
use crate::components::in_browser::{InBrowser, load, split_view};
use crate::components::fields::{TextField, number, protocol, protocol_name, resource_name, stack_and_detail};
use crate::components::tabs::ApplicationTabs;
use crate::error::AppError;
use crate::model::cluster::{HealthCheck, Listener, LoadBalancer, LoadBalancerRequest, SecurityGroup};

#[component]
pub fn LoadBalancersPage() -> impl IntoView {
    let params = use_params_map();
    let application = move || params.read().get("name").unwrap_or_default();
    let saved = RwSignal::new(0u32);
    let delete = ServerAction::<DeleteLoadBalancer>::new();
    let balancers = Resource::new(move || (application(), saved.get(), delete.version().get()), |(application, _, _)| list_load_balancers(application));
    let firewalls = Resource::new(application, list_security_groups);
    let form = Fields::new();
    view! {
        <Title text=move || format!("{} load balancers · gennaker", application())/>
        <section class="page">
            <p class="breadcrumb"><a href="/applications">"Applications"</a> " / " {application}</p>
            <h1>{application}</h1>
            <ApplicationTabs application=application() current="loadBalancers"/>
            <Loaded fallback="Loading load balancers…" content=loaded(move || async move { balancers.await.map(|balancers| view! { <Table balancers delete form/> }) })/>
            {move || match delete.value().get() {
                Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                _ => ().into_any(),
            }}
            <h2>"Create or edit a load balancer"</h2>
            <Loaded content=loaded(move || async move {
                let on_saved = Callback::new(move |()| saved.update(|n| *n += 1));
                firewalls.await.map(|firewalls| view! {
                    <InBrowser load=load(move || load_balancer_form(application(), form, firewalls.clone(), on_saved)) placeholder="Loading the form…"/>
                })
            })/>
        </section>
    }
}

fn health_check_words(check: &Option<HealthCheck>) -> String {
    match check {
        Some(check) => format!(
            "{} every {} ms, timeout {} ms, healthy after {}, unhealthy after {}",
            check.path, check.interval_ms, check.timeout_ms, check.healthy_threshold, check.unhealthy_threshold
        ),
        None => "none".to_string(),
    }
}

#[component]
fn Table(balancers: Vec<LoadBalancer>, delete: ServerAction<DeleteLoadBalancer>, form: Fields) -> impl IntoView {
    if balancers.is_empty() {
        return view! { <p class="empty">"No load balancers yet. Create one below."</p> }.into_any();
    }
    view! {
        <table class="list" aria-label="Load balancers">
            <thead>
                <tr><th>"Name"</th><th>"Location"</th><th>"Listeners"</th><th>"Health check"</th><th>"Firewalls"</th><th>"Actions"</th></tr>
            </thead>
            <tbody>
                {balancers.into_iter().map(|balancer| {
                    let listeners = balancer.listeners.iter().map(|l| format!("{} {}", l.port, protocol_name(l.protocol).to_uppercase())).collect::<Vec<_>>().join(", ");
                    let firewalls = if balancer.security_groups.is_empty() { "—".to_string() } else { balancer.security_groups.join(", ") };
                    let name = balancer.name.clone();
                    let location = balancer.location.clone();
                    let edited = balancer.clone();
                    view! {
                        <tr>
                            <td><strong>{name.clone()}</strong></td>
                            <td>{format!("{} / {}", location.account, location.region)}</td>
                            <td>{listeners}</td>
                            <td>{health_check_words(&balancer.health_check)}</td>
                            <td>{firewalls}</td>
                            <td class="row-actions">
                                <button type="button" class="secondary" aria-label=format!("Edit {name}") on:click=move |_| form.fill(&edited)>"Edit"</button>
                                <details class="confirm">
                                    <summary aria-label=format!("Delete {name}…")>"Delete…"</summary>
                                    <ActionForm action=delete attr:class="inline">
                                        <input type="hidden" name="account" value=location.account/>
                                        <input type="hidden" name="region" value=location.region/>
                                        <input type="hidden" name="name" value=name.clone()/>
                                        <button type="submit" class="danger">"Delete " {name.clone()}</button>
                                    </ActionForm>
                                </details>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// The form's fields, as typed; Edit fills them from an existing load balancer.
#[derive(Clone, Copy)]
struct Fields {
    /// Not shown: kept from the edited load balancer, `local` for a new one.
    cloud_provider: RwSignal<String>,
    account: RwSignal<String>,
    region: RwSignal<String>,
    stack: RwSignal<String>,
    detail: RwSignal<String>,
    port: RwSignal<String>,
    protocol: RwSignal<String>,
    path: RwSignal<String>,
    interval: RwSignal<String>,
    timeout: RwSignal<String>,
    healthy: RwSignal<String>,
    unhealthy: RwSignal<String>,
    firewalls: RwSignal<Vec<String>>,
    /// Not shown: kept from the edited load balancer (AWS: classic, application or network).
    load_balancer_type: RwSignal<Option<crate::model::cluster::LoadBalancerType>>,
}

/// What a new load balancer starts with, in the order of [`Fields::texts`]: provider, account,
/// region, stack, detail, port, protocol, health check path, interval, timeout, thresholds.
const DEFAULTS: [&str; 12] = ["local", "local", "local", "", "", "", "http", "/health", "10000", "5000", "2", "3"];

impl Fields {
    fn new() -> Self {
        let [cloud_provider, account, region, stack, detail, port, protocol, path, interval, timeout, healthy, unhealthy] =
            DEFAULTS.map(|value| RwSignal::new(value.to_string()));
        Self {
            cloud_provider, account, region, stack, detail, port, protocol, path, interval, timeout, healthy, unhealthy,
            firewalls: RwSignal::new(Vec::new()),
            load_balancer_type: RwSignal::new(None),
        }
    }

    fn texts(&self) -> [RwSignal<String>; 12] {
        [self.cloud_provider, self.account, self.region, self.stack, self.detail, self.port, self.protocol, self.path, self.interval, self.timeout, self.healthy, self.unhealthy]
    }

    fn reset(&self) {
        for (signal, value) in self.texts().into_iter().zip(DEFAULTS) {
            signal.set(value.to_string());
        }
        self.firewalls.set(Vec::new());
        self.load_balancer_type.set(None);
    }

    fn fill(&self, balancer: &LoadBalancer) {
        let (stack, detail) = stack_and_detail(&balancer.name);
        self.cloud_provider.set(balancer.location.cloud_provider.clone());
        self.account.set(balancer.location.account.clone());
        self.region.set(balancer.location.region.clone());
        self.stack.set(stack);
        self.detail.set(detail);
        if let Some(listener) = balancer.listeners.first() {
            self.port.set(listener.port.to_string());
            self.protocol.set(protocol_name(listener.protocol).to_string());
        }
        match &balancer.health_check {
            Some(check) => {
                self.path.set(check.path.clone());
                self.interval.set(check.interval_ms.to_string());
                self.timeout.set(check.timeout_ms.to_string());
                self.healthy.set(check.healthy_threshold.to_string());
                self.unhealthy.set(check.unhealthy_threshold.to_string());
            }
            None => self.path.set(String::new()),
        }
        self.firewalls.set(balancer.security_groups.clone());
        self.load_balancer_type.set(balancer.load_balancer_type);
    }

    /// An empty health check path means no health check.
    fn request(&self, application: &str) -> Result<LoadBalancerRequest, AppError> {
        let path = self.path.get_untracked().trim().to_string();
        let health_check = if path.is_empty() {
            None
        } else {
            Some(HealthCheck {
                path,
                interval_ms: number("interval", "a number of milliseconds", &self.interval.get_untracked())?,
                timeout_ms: number("timeout", "a number of milliseconds", &self.timeout.get_untracked())?,
                healthy_threshold: number("healthyThreshold", "a whole number", &self.healthy.get_untracked())?,
                unhealthy_threshold: number("unhealthyThreshold", "a whole number", &self.unhealthy.get_untracked())?,
            })
        };
        Ok(LoadBalancerRequest {
            cloud_provider: self.cloud_provider.get_untracked(),
            account: self.account.get_untracked().trim().to_string(),
            region: self.region.get_untracked().trim().to_string(),
            application: application.to_string(),
            stack: self.stack.get_untracked().trim().to_string(),
            detail: self.detail.get_untracked().trim().to_string(),
            listeners: vec![Listener {
                port: number("port", "a port from 1 to 65535", &self.port.get_untracked())?,
                protocol: protocol("protocol", &self.protocol.get_untracked())?,
            }],
            health_check,
            security_groups: self.firewalls.get_untracked(),
            load_balancer_type: self.load_balancer_type.get_untracked(),
        })
    }
}

split_view! {
    /// The form's code is loaded on demand (see [`crate::components::in_browser`]).
    fn load_balancer_form(application: String, form: Fields, firewalls: Vec<SecurityGroup>, on_saved: Callback<()>) {
        view! { <Editor application form firewalls on_saved/> }.into_any()
    }
}

#[component]
fn Editor(application: String, form: Fields, firewalls: Vec<SecurityGroup>, on_saved: Callback<()>) -> impl IntoView {
    let save = Action::new(|request: &Result<LoadBalancerRequest, AppError>| {
        let request = request.clone();
        async move { upsert_load_balancer(request?).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            on_saved.run(());
        }
    });
    let app = application.clone();
    let name = move || resource_name(&app, &form.stack.get(), &form.detail.get());
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        save.dispatch(form.request(&application));
    };
    view! {
        <form class="form resource-form" aria-label="Load balancer" on:submit=submit>
            <fieldset>
                <legend>"Name"</legend>
                <TextField label="Account" value=form.account required=true/>
                <TextField label="Region" value=form.region required=true/>
                <TextField label="Stack" value=form.stack/>
                <TextField label="Detail" value=form.detail/>
                <p class="muted" aria-live="polite">
                    {move || match name() {
                        Ok(name) => view! { "Name: " <code>{name}</code> }.into_any(),
                        Err(problem) => view! { <span class="warning">{problem}</span> }.into_any(),
                    }}
                </p>
            </fieldset>
            <fieldset>
                <legend>"Listener"</legend>
                <TextField label="Port" value=form.port kind="number" required=true/>
                <label>"Protocol"
                    <select on:change=move |e| form.protocol.set(event_target_value(&e)) prop:value=move || form.protocol.get()>
                        <option value="http">"HTTP"</option>
                        <option value="tcp">"TCP"</option>
                    </select>
                </label>
            </fieldset>
            <fieldset>
                <legend>"Health check"</legend>
                <TextField label="Path (empty for none)" value=form.path/>
                <TextField label="Interval (ms)" value=form.interval kind="number"/>
                <TextField label="Timeout (ms)" value=form.timeout kind="number"/>
                <TextField label="Healthy threshold" value=form.healthy kind="number"/>
                <TextField label="Unhealthy threshold" value=form.unhealthy kind="number"/>
            </fieldset>
            <fieldset>
                <legend>"Firewalls"</legend>
                {if firewalls.is_empty() {
                    view! { <p class="muted">"No firewalls in this application yet."</p> }.into_any()
                } else {
                    firewalls.into_iter().map(|firewall| {
                        let (checked, toggled) = (firewall.name.clone(), firewall.name.clone());
                        view! {
                            <label class="check">
                                <input type="checkbox" prop:checked=move || form.firewalls.read().contains(&checked)
                                    on:change=move |e| {
                                        let on = event_target_checked(&e);
                                        form.firewalls.update(|chosen| {
                                            chosen.retain(|name| name != &toggled);
                                            if on { chosen.push(toggled.clone()); }
                                        });
                                    }/>
                                {firewall.name.clone()}
                            </label>
                        }
                    }).collect_view().into_any()
                }}
            </fieldset>
            <div class="actions">
                <button type="submit" disabled=move || save.pending().get()>"Save load balancer"</button>
                <button type="button" class="secondary" on:click=move |_| form.reset()>"New"</button>
            </div>
        </form>
        {move || match save.value().get() {
            Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
            Some(Ok(balancer)) => view! { <p class="notice" role="status">"Saved " {balancer.name} "."</p> }.into_any(),
            None => ().into_any(),
        }}
    }
}
