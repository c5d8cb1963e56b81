//! An application's Canary tab: its canary configurations (Kayenta's JSON, which
//! `kayentaCanary` stages name by id) with how many metrics each judges, its revision and its
//! last save; a form that creates one or edits the one picked (`?edit=<id>`, so the choice
//! survives a reload and works without JavaScript); and Edit as JSON for the whole document,
//! where Kayenta configs are pasted as they are. Reports of runs are on the execution pages
//! (see [`super::canary_report`]).
//!
//! Every form is an `ActionForm` of plain fields, so it also works as a form post; hydrated,
//! Add metric and Remove edit the rows in place. The form is built once from the list as loaded
//! and again only after a save or delete succeeded, so a refused save keeps what was typed,
//! with the server's error (naming its field) next to it.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

use crate::api::canary::{CanaryConfigListing, DeleteCanaryConfig, MetricFields, SaveCanaryConfig, SaveCanaryConfigJson, list_canary_configs};
use crate::components::ErrorMessage;
use crate::components::loaded::{Loaded, loaded};
use crate::components::tabs::ApplicationTabs;
use crate::error::AppError;
use crate::model::time::format_utc;

/// What Edit as JSON starts from when no config is picked: a config of one PromQL metric.
const EXAMPLE: &str = r#"{
  "name": "my-canary-config",
  "description": "",
  "metrics": [
    {
      "name": "error-rate",
      "groups": ["Errors"],
      "query": {"type": "prometheus", "customInlineTemplate": "PromQL: sum(rate(http_requests_total{status=~\"5..\",version=\"${scope}\"}[1m]))"},
      "analysisConfigurations": {"canary": {"direction": "increase", "critical": true}}
    }
  ],
  "classifier": {"groupWeights": {"Errors": 100}}
}"#;

#[component]
pub fn CanaryConfigsPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let application = move || params.read().get("name").unwrap_or_default();
    let editing = move || query.read().get("edit").filter(|id| !id.is_empty());
    let save = ServerAction::<SaveCanaryConfig>::new();
    let save_json = ServerAction::<SaveCanaryConfigJson>::new();
    let delete = ServerAction::<DeleteCanaryConfig>::new();
    // Bumped after each successful save or delete: the list, and the form with it, reload.
    let changed = RwSignal::new(0u32);
    let configs = Resource::new(move || (application(), changed.get()), |(application, _)| list_canary_configs(application));
    let navigate = use_navigate();
    // In the browser, a saved config stays in the form: the next save is its next revision.
    let edit_saved = move |saved: &CanaryConfigListing| {
        changed.update(|n| *n += 1);
        if query.with_untracked(|query| query.get("edit")).as_deref() != Some(saved.id.as_str()) {
            navigate(&format!("/applications/{}/canary?edit={}", application(), saved.id), Default::default());
        }
    };
    let edit_json_saved = edit_saved.clone();
    // What the other form said last is about the config as it was: it goes.
    Effect::new(move |_| {
        if let Some(Ok(saved)) = save.value().get() {
            save_json.value().set(None);
            edit_saved(&saved);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(saved)) = save_json.value().get() {
            save.value().set(None);
            edit_json_saved(&saved);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            changed.update(|n| *n += 1);
        }
    });

    view! {
        <Title text=move || format!("{} canary configurations · gennaker", application())/>
        <section class="page">
            <p class="breadcrumb"><a href="/applications">"Applications"</a> " / " {application}</p>
            <h1>{application}</h1>
            <ApplicationTabs application=application() current="canary"/>
            <h2>"Canary configurations"</h2>
            <p class="hint">
                "What a " <code>"kayentaCanary"</code> " stage judges, by its id (" <code>"canaryConfig.canaryConfigId"</code>
                "). Each run's report is linked from its execution page."
            </p>
            <Loaded fallback="Loading canary configurations…" content=loaded(move || {
                let editing = editing();
                async move {
                    configs.await.map(|configs| {
                        let edited = editing.and_then(|id| configs.iter().find(|config| config.id == id).cloned());
                        // Keyed by what it edits, so a reload builds a new form (fresh inputs)
                        // only when that changed; deleting another config leaves it as typed.
                        let form_key = edited.as_ref().map(|config| (config.id.clone(), config.revision));
                        let form_application = application();
                        view! {
                            <ConfigTable application=application() configs delete/>
                            <For each=move || [(form_key.clone(), edited.clone())] key=|(key, _)| key.clone() children=move |(_, edited)| {
                                view! { <ConfigForm application=form_application.clone() edited save save_json/> }
                            }/>
                        }
                    })
                }
            })/>
            {move || delete.value().get().and_then(Result::err).map(|error| view! { <ErrorMessage error/> })}
        </section>
    }
}

#[component]
fn ConfigTable(application: String, configs: Vec<CanaryConfigListing>, delete: ServerAction<DeleteCanaryConfig>) -> impl IntoView {
    if configs.is_empty() {
        return view! { <p class="empty">"No canary configurations yet. Create one with the form below."</p> }.into_any();
    }
    view! {
        <table class="list canary-configs" aria-label="Canary configurations">
            <thead><tr><th>"Name"</th><th>"Metrics"</th><th>"Revision"</th><th>"Updated"</th><th>"By"</th><th></th></tr></thead>
            // Keyed rows: a row's DOM (an open Delete… among it) is the config's, never another's.
            <tbody>
                <For each=move || configs.clone() key=|config| (config.id.clone(), config.revision) children=move |config| {
                    let name = config.name.clone();
                    let edit = format!("/applications/{application}/canary?edit={}", config.id);
                    view! {
                        <tr>
                            <td>
                                <strong>{config.name.clone()}</strong>
                                {(!config.description.is_empty()).then(|| view! { <div class="hint">{config.description.clone()}</div> })}
                            </td>
                            <td>{config.metrics.len()}</td>
                            <td>{config.revision}</td>
                            <td>{format_utc(config.updated)}</td>
                            <td>{config.updated_by.clone()}</td>
                            <td class="row-actions">
                                <a href=edit aria-label=format!("Edit {name}")>"Edit"</a>
                                <details class="confirm">
                                    <summary aria-label=format!("Delete {name}…")>"Delete…"</summary>
                                    <ActionForm action=delete attr:class="inline">
                                        <input type="hidden" name="id" value=config.id.clone()/>
                                        <button type="submit" class="danger">"Delete " {name.clone()}</button>
                                    </ActionForm>
                                </details>
                            </td>
                        </tr>
                    }
                }/>
            </tbody>
        </table>
    }
    .into_any()
}

/// The form for `edited` (a new config when `None`), and Edit as JSON beside it.
#[component]
fn ConfigForm(
    application: String,
    edited: Option<CanaryConfigListing>,
    save: ServerAction<SaveCanaryConfig>,
    save_json: ServerAction<SaveCanaryConfigJson>,
) -> impl IntoView {
    let config = edited.clone().unwrap_or_default();
    let heading = match &edited {
        Some(config) => format!("Edit {} (revision {})", config.name, config.revision),
        None => "New canary configuration".to_string(),
    };
    // One empty row to fill in, also without WASM (blank rows are ignored).
    let mut initial = config.metrics.clone();
    initial.push(MetricFields::default());
    let next_key = StoredValue::new(initial.len());
    let rows = RwSignal::new(initial.into_iter().enumerate().collect::<Vec<(usize, MetricFields)>>());
    let add = move |_| {
        let key = next_key.get_value();
        next_key.set_value(key + 1);
        rows.update(|rows| rows.push((key, MetricFields::default())));
    };
    let remove = Callback::new(move |key: usize| rows.update(|rows| rows.retain(|(row, _)| *row != key)));
    let json = if edited.is_some() { config.json.clone() } else { EXAMPLE.to_string() };
    let new_link = edited.is_some().then(|| format!("/applications/{application}/canary"));
    let json_application = application.clone();
    view! {
        <section class="canary-editor" aria-labelledby="canary-form-title">
            <h2 id="canary-form-title">{heading}</h2>
            {new_link.map(|href| view! { <p class="muted"><a href=href>"Create a new configuration instead"</a></p> })}
            <ActionForm action=save attr:class="form resource-form canary-form" attr:aria-label="Canary configuration">
                <input type="hidden" name="application" value=application/>
                <input type="hidden" name="id" value=config.id.clone()/>
                <input type="hidden" name="revision" value=edited.as_ref().map(|config| config.revision.to_string()).unwrap_or_default()/>
                <label>"Configuration name" <input type="text" name="name" required autocomplete="off" value=config.name.clone() placeholder="shop-golden-signals"/></label>
                <label class="wide">"Description" <input type="text" name="description" autocomplete="off" value=config.description.clone()/></label>
                <div class="metrics wide">
                    <p class="hint">
                        "Each metric is a PromQL query, or a Prometheus metric name narrowed by a filter template (a template's name, or a label filter such as "
                        <code>"version=\"${scope}\""</code> "). " <code>"${scope}"</code> " is the control's or the experiment's server group. Rows left empty are ignored."
                    </p>
                    <For each=move || rows.get() key=|(key, _)| *key let:row>
                        <MetricRow key=row.0 fields=row.1 rows remove/>
                    </For>
                    <button type="button" class="secondary" on:click=add>"Add metric"</button>
                </div>
                <label class="wide">"Group weights (GROUP=WEIGHT, one per line, adding up to 100; empty: equal shares)"
                    <textarea name="group_weights" rows="3" spellcheck="false" placeholder="Errors=70\nLatency=30">{config.group_weights.clone()}</textarea>
                </label>
                <div class="actions">
                    <button type="submit">"Save configuration"</button>
                </div>
            </ActionForm>
            {save_outcome(save.value())}
            <details class="json-editor">
                <summary>"Edit as JSON"</summary>
                <p class="hint">
                    "The whole configuration in Kayenta's JSON (paste one from Kayenta or Spinnaker as it is). With an "
                    <code>"id"</code> " it saves a new revision of that configuration; without, it creates one."
                </p>
                <ActionForm action=save_json attr:class="form editor" attr:aria-label="Canary configuration JSON">
                    <input type="hidden" name="application" value=json_application/>
                    <label>"Kayenta JSON"
                        <textarea name="json" rows="18" spellcheck="false">{json}</textarea>
                    </label>
                    <div class="actions"><button type="submit">"Save JSON"</button></div>
                </ActionForm>
            </details>
            {save_outcome(save_json.value())}
        </section>
    }
}

/// Saved (with the new revision), or the server's error naming its field.
fn save_outcome(value: MappedSignal<Option<Result<CanaryConfigListing, AppError>>>) -> impl IntoView {
    move || match value.get() {
        Some(Ok(saved)) => view! { <p class="notice" role="status">"Saved " <strong>{saved.name}</strong> " (revision " {saved.revision} ")."</p> }.into_any(),
        Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
        None => ().into_any(),
    }
}

/// One metric's fields, named `metrics[KEY][field]` (keys stay put when rows are removed).
#[component]
fn MetricRow(key: usize, fields: MetricFields, rows: RwSignal<Vec<(usize, MetricFields)>>, remove: Callback<usize>) -> impl IntoView {
    let name = move |field: &str| format!("metrics[{key}][{field}]");
    let position = move || rows.with(|rows| rows.iter().position(|(row, _)| *row == key).map_or(0, |index| index + 1));
    let choice = |value: &'static str, current: &str, label: &'static str| {
        let selected = current == value || (current.is_empty() && matches!(value, "either" | "remove"));
        view! { <option value=value selected=selected>{label}</option> }
    };
    view! {
        <fieldset class="metric">
            <legend>"Metric " {position}</legend>
            <input type="hidden" name=name("original") value=fields.original.clone()/>
            <label>"Name" <input type="text" name=name("name") autocomplete="off" value=fields.name.clone() placeholder="error-rate"/></label>
            <label>"Groups" <input type="text" name=name("groups") autocomplete="off" value=fields.groups.clone() placeholder="Errors"/></label>
            <label class="wide">"PromQL query"
                <input type="text" name=name("promql") autocomplete="off" spellcheck="false" value=fields.promql.clone()
                    placeholder="sum(rate(http_requests_total{status=~\"5..\",version=\"${scope}\"}[1m]))"/>
            </label>
            <label>"Or metric name" <input type="text" name=name("metric_name") autocomplete="off" spellcheck="false" value=fields.metric_name.clone() placeholder="http_request_duration_seconds"/></label>
            <label>"Filter template" <input type="text" name=name("filter") autocomplete="off" spellcheck="false" value=fields.filter.clone() placeholder="version=\"${scope}\""/></label>
            <label>"Fails when it"
                <select name=name("direction")>
                    {choice("increase", &fields.direction, "increases")}
                    {choice("decrease", &fields.direction, "decreases")}
                    {choice("either", &fields.direction, "changes either way")}
                </select>
            </label>
            <label>"Missing values (NaN)"
                <select name=name("nan_strategy")>
                    {choice("remove", &fields.nan_strategy, "removed")}
                    {choice("replace", &fields.nan_strategy, "replaced by 0")}
                </select>
            </label>
            <label class="check"><input type="checkbox" name=name("critical") checked=fields.critical.is_some()/> "Critical (failing it fails the canary)"</label>
            <button type="button" class="secondary small" aria-label=move || format!("Remove metric {}", position()) on:click=move |_| remove.run(key)>"Remove"</button>
        </fieldset>
    }
}
