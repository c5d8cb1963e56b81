//! An application's Firewalls tab (Spinnaker's name for security groups): each firewall with
//! its ingress rules, a form to create one or edit it (rules added and removed row by row), and
//! Delete behind a disclosure that asks again. The list and Delete work without JavaScript; the
//! form needs it, as its rules are a list, so it is rendered in the browser only, from code
//! loaded once the page is interactive.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::clusters::{DeleteSecurityGroup, list_security_groups, upsert_security_group};
use crate::components::ErrorMessage;
use crate::components::loaded::{Loaded, loaded};
use crate::components::in_browser::{InBrowser, load, split_view};
use crate::components::fields::{TextField, number, protocol, protocol_name, resource_name, stack_and_detail};
use crate::components::tabs::ApplicationTabs;
use crate::error::AppError;
use crate::model::cluster::{IngressRule, SecurityGroup, SecurityGroupRequest};

#[component]
pub fn FirewallsPage() -> impl IntoView {
    let params = use_params_map();
    let application = move || params.read().get("name").unwrap_or_default();
    let saved = RwSignal::new(0u32);
    let delete = ServerAction::<DeleteSecurityGroup>::new();
    let firewalls = Resource::new(move || (application(), saved.get(), delete.version().get()), |(application, _, _)| list_security_groups(application));
    let form = Fields::new();
    view! {
        <Title text=move || format!("{} firewalls · gennaker", application())/>
        <section class="page">
            <p class="breadcrumb"><a href="/applications">"Applications"</a> " / " {application}</p>
            <h1>{application}</h1>
            <ApplicationTabs application=application() current="firewalls"/>
            <Loaded fallback="Loading firewalls…" content=loaded(move || async move { firewalls.await.map(|firewalls| view! { <Table firewalls delete form/> }) })/>
            {move || match delete.value().get() {
                Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                _ => ().into_any(),
            }}
            <h2>"Create or edit a firewall"</h2>
            <InBrowser load=load(move || firewall_form(application(), form, Callback::new(move |()| saved.update(|n| *n += 1)))) placeholder="Loading the form…"/>
        </section>
    }
}

fn rule_words(rule: &IngressRule) -> String {
    let ports = if rule.start_port == rule.end_port { rule.start_port.to_string() } else { format!("{}–{}", rule.start_port, rule.end_port) };
    format!("{} {} {}", rule.cidr, protocol_name(rule.protocol).to_uppercase(), ports)
}

#[component]
fn Table(firewalls: Vec<SecurityGroup>, delete: ServerAction<DeleteSecurityGroup>, form: Fields) -> impl IntoView {
    if firewalls.is_empty() {
        return view! { <p class="empty">"No firewalls yet. Create one below."</p> }.into_any();
    }
    view! {
        <table class="list" aria-label="Firewalls">
            <thead>
                <tr><th>"Name"</th><th>"Location"</th><th>"Description"</th><th>"Ingress rules"</th><th>"Actions"</th></tr>
            </thead>
            <tbody>
                {firewalls.into_iter().map(|firewall| {
                    let name = firewall.name.clone();
                    let location = firewall.location.clone();
                    let edited = firewall.clone();
                    view! {
                        <tr>
                            <td><strong>{name.clone()}</strong></td>
                            <td>{format!("{} / {}", location.account, location.region)}</td>
                            <td>{firewall.description.clone()}</td>
                            <td>
                                {if firewall.ingress.is_empty() {
                                    view! { <span class="muted">"none: nothing may connect"</span> }.into_any()
                                } else {
                                    view! {
                                        <ul class="rules">
                                            {firewall.ingress.iter().map(|rule| view! { <li><code>{rule_words(rule)}</code></li> }).collect_view()}
                                        </ul>
                                    }.into_any()
                                }}
                            </td>
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

/// One ingress rule row of the form, as typed. `id` keeps a row's inputs when others go.
#[derive(Debug, Clone, PartialEq)]
struct Rule {
    id: u32,
    cidr: String,
    protocol: String,
    start: String,
    end: String,
}

impl Rule {
    fn new(id: u32) -> Self {
        Self { id, cidr: "127.0.0.0/8".into(), protocol: "http".into(), start: String::new(), end: String::new() }
    }
}

/// The form's fields, as typed; Edit fills them from an existing firewall.
#[derive(Clone, Copy)]
struct Fields {
    /// Not shown: kept from the edited firewall, `local` for a new one.
    cloud_provider: RwSignal<String>,
    account: RwSignal<String>,
    region: RwSignal<String>,
    stack: RwSignal<String>,
    detail: RwSignal<String>,
    description: RwSignal<String>,
    rules: RwSignal<Vec<Rule>>,
    next_rule: RwSignal<u32>,
}

impl Fields {
    fn new() -> Self {
        let text = |value: &str| RwSignal::new(value.to_string());
        Self {
            cloud_provider: text("local"),
            account: text("local"),
            region: text("local"),
            stack: text(""),
            detail: text(""),
            description: text(""),
            rules: RwSignal::new(vec![Rule::new(0)]),
            next_rule: RwSignal::new(1),
        }
    }

    fn reset(&self) {
        for (signal, value) in [self.cloud_provider, self.account, self.region, self.stack, self.detail, self.description].into_iter().zip(["local", "local", "local", "", "", ""]) {
            signal.set(value.to_string());
        }
        self.rules.set(Vec::new());
        self.add_rule();
    }

    fn add_rule(&self) {
        let id = self.next_rule.get_untracked();
        self.next_rule.set(id + 1);
        self.rules.update(|rules| rules.push(Rule::new(id)));
    }

    fn edit_rule(&self, id: u32, change: impl FnOnce(&mut Rule)) {
        self.rules.update(|rules| {
            if let Some(rule) = rules.iter_mut().find(|rule| rule.id == id) {
                change(rule);
            }
        });
    }

    fn fill(&self, firewall: &SecurityGroup) {
        let (stack, detail) = stack_and_detail(&firewall.name);
        self.cloud_provider.set(firewall.location.cloud_provider.clone());
        self.account.set(firewall.location.account.clone());
        self.region.set(firewall.location.region.clone());
        self.stack.set(stack);
        self.detail.set(detail);
        self.description.set(firewall.description.clone());
        let first = self.next_rule.get_untracked();
        let rules: Vec<Rule> = firewall
            .ingress
            .iter()
            .zip(first..)
            .map(|(rule, id)| Rule {
                id,
                cidr: rule.cidr.clone(),
                protocol: protocol_name(rule.protocol).to_string(),
                start: rule.start_port.to_string(),
                end: rule.end_port.to_string(),
            })
            .collect();
        self.next_rule.set(first + rules.len() as u32);
        self.rules.set(rules);
    }

    fn request(&self, application: &str) -> Result<SecurityGroupRequest, AppError> {
        let ingress = self
            .rules
            .get_untracked()
            .iter()
            .map(|rule| {
                let start_port = number("startPort", "a port from 1 to 65535", &rule.start)?;
                // An empty end port means the one start port.
                let end_port = if rule.end.trim().is_empty() { start_port } else { number("endPort", "a port from 1 to 65535", &rule.end)? };
                Ok(IngressRule { cidr: rule.cidr.trim().to_string(), protocol: protocol("protocol", &rule.protocol)?, start_port, end_port })
            })
            .collect::<Result<Vec<_>, AppError>>()?;
        Ok(SecurityGroupRequest {
            cloud_provider: self.cloud_provider.get_untracked(),
            account: self.account.get_untracked().trim().to_string(),
            region: self.region.get_untracked().trim().to_string(),
            application: application.to_string(),
            stack: self.stack.get_untracked().trim().to_string(),
            detail: self.detail.get_untracked().trim().to_string(),
            description: self.description.get_untracked().trim().to_string(),
            ingress,
        })
    }
}

split_view! {
    /// The form's code is loaded on demand (see [`crate::components::in_browser`]).
    fn firewall_form(application: String, form: Fields, on_saved: Callback<()>) {
        view! { <Editor application form on_saved/> }.into_any()
    }
}

#[component]
fn Editor(application: String, form: Fields, on_saved: Callback<()>) -> impl IntoView {
    let save = Action::new(|request: &Result<SecurityGroupRequest, AppError>| {
        let request = request.clone();
        async move { upsert_security_group(request?).await }
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
    let ids = move || form.rules.read().iter().map(|rule| rule.id).collect::<Vec<_>>();
    view! {
        <form class="form resource-form" aria-label="Firewall" on:submit=submit>
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
            <fieldset class="wide">
                <legend>"Description"</legend>
                <TextField label="Description" value=form.description/>
            </fieldset>
            <fieldset class="wide">
                <legend>"Ingress rules"</legend>
                <table class="rules-editor" aria-label="Ingress rules">
                    <thead><tr><th>"CIDR"</th><th>"Protocol"</th><th>"Start port"</th><th>"End port"</th><th>"Remove"</th></tr></thead>
                    <tbody>
                        <For each=ids key=|id| *id let:id>
                            <RuleRow form id/>
                        </For>
                    </tbody>
                </table>
                <button type="button" class="secondary" on:click=move |_| form.add_rule()>"Add rule"</button>
            </fieldset>
            <div class="actions">
                <button type="submit" disabled=move || save.pending().get()>"Save firewall"</button>
                <button type="button" class="secondary" on:click=move |_| form.reset()>"New"</button>
            </div>
        </form>
        {move || match save.value().get() {
            Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
            Some(Ok(firewall)) => view! { <p class="notice" role="status">"Saved " {firewall.name} "."</p> }.into_any(),
            None => ().into_any(),
        }}
    }
}

#[component]
fn RuleRow(form: Fields, id: u32) -> impl IntoView {
    let read = move |field: fn(&Rule) -> String| form.rules.read().iter().find(|rule| rule.id == id).map(field).unwrap_or_default();
    // Rows are labelled by position, which changes as rows above are removed.
    let number = move || form.rules.read().iter().position(|rule| rule.id == id).map_or(0, |at| at + 1);
    view! {
        <tr>
            <td><input type="text" aria-label=move || format!("Rule {} CIDR", number()) required prop:value=move || read(|r| r.cidr.clone())
                on:input=move |e| form.edit_rule(id, |r| r.cidr = event_target_value(&e))/></td>
            <td>
                <select aria-label=move || format!("Rule {} protocol", number()) prop:value=move || read(|r| r.protocol.clone())
                    on:change=move |e| form.edit_rule(id, |r| r.protocol = event_target_value(&e))>
                    <option value="http">"HTTP"</option>
                    <option value="tcp">"TCP"</option>
                </select>
            </td>
            <td><input type="number" min="1" max="65535" required aria-label=move || format!("Rule {} start port", number())
                prop:value=move || read(|r| r.start.clone()) on:input=move |e| form.edit_rule(id, |r| r.start = event_target_value(&e))/></td>
            <td><input type="number" min="1" max="65535" aria-label=move || format!("Rule {} end port", number())
                prop:value=move || read(|r| r.end.clone()) on:input=move |e| form.edit_rule(id, |r| r.end = event_target_value(&e))/></td>
            <td><button type="button" class="secondary" aria-label=move || format!("Remove rule {}", number())
                on:click=move |_| form.rules.update(|rules| rules.retain(|rule| rule.id != id))>"✕"</button></td>
        </tr>
    }
}
