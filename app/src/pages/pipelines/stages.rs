//! The Stages section of the pipeline editor: the stage graph as it will run (columns by depth,
//! so parallel branches and joins show), each stage listed with Move up / Move down / Edit /
//! Remove, and Add stage. A stage's form has its name, type, the stages it runs after, its
//! type's fields and lists of items as the server's stage-type registry describes them (the
//! stage catalog, loaded with the editor; see [`crate::model::stage_types`]) and its execution
//! options. Everything is written into the pipeline's JSON at once (see [`super::document`]).

use std::collections::{BTreeMap, BTreeSet};

use leptos::prelude::*;
use serde_json::{Map, Value, json};

use super::document::{Document, text_of};
use super::path::concerns;
use super::stage_inputs::{JsonField, dom_id};
use super::stage_lists::{StageList, count_in};
use crate::api::pipelines::stage_types;
use crate::components::ErrorMessage;
use crate::model::pipeline::graph_depths;
use crate::model::stage_types::{Field, Input, StageCatalog};

/// The keys every stage has whatever its type: kept when the type changes.
const COMMON_KEYS: &[&str] = &[
    "refId",
    "name",
    "requisiteStageRefIds",
    "failPipeline",
    "continuePipeline",
    "completeOtherBranchesThenFail",
    "failOnFailedExpressions",
    "stageEnabled",
    "stageTimeoutMs",
    "restrictExecutionDuringTimeWindow",
    "restrictedExecutionWindow",
    "comments",
];

/// What the list and the graph need of a stage.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    index: usize,
    ref_id: String,
    name: String,
    kind: String,
    requisites: Vec<String>,
    /// How many items each list of the stage holds (a form is redrawn when one changes).
    lists: Vec<(String, usize)>,
    /// The type's name as users know it.
    label: String,
}

impl Row {
    fn title(&self) -> String {
        if self.name.is_empty() { format!("{} ({})", self.label, self.ref_id) } else { self.name.clone() }
    }
}

fn rows_of(root: Option<&Value>, catalog: &StageCatalog) -> Vec<Row> {
    let stages = root.and_then(|root| root.get("stages")).and_then(Value::as_array);
    stages
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(index, stage)| Row {
            index,
            ref_id: text_of(stage, "refId"),
            name: text_of(stage, "name"),
            kind: text_of(stage, "type"),
            requisites: stage
                .get("requisiteStageRefIds")
                .and_then(Value::as_array)
                .map(|ids| ids.iter().filter_map(|id| id.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
            lists: catalog
                .find(&text_of(stage, "type"))
                .map(|info| info.lists.iter().map(|list| (list.key.clone(), count_in(stage, &list.key))).collect())
                .unwrap_or_default(),
            label: catalog.label(&text_of(stage, "type")).to_string(),
        })
        .collect()
}

/// The next free refId: one more than the largest number used (Deck's rule).
fn next_ref_id(rows: &[Row]) -> String {
    let taken: BTreeSet<&str> = rows.iter().map(|row| row.ref_id.as_str()).collect();
    let mut next = rows.iter().filter_map(|row| row.ref_id.parse::<u64>().ok()).max().unwrap_or(0) + 1;
    while taken.contains(next.to_string().as_str()) {
        next += 1;
    }
    next.to_string()
}

/// Columns of the graph (see [`graph_depths`]).
fn columns(rows: &[Row]) -> Vec<Vec<Row>> {
    let edges: Vec<(&str, &[String])> = rows.iter().map(|row| (row.ref_id.as_str(), row.requisites.as_slice())).collect();
    let depth = graph_depths(&edges);
    let mut columns: Vec<Vec<Row>> = Vec::new();
    for row in rows {
        let d = depth.get(row.ref_id.as_str()).copied().unwrap_or(0);
        if columns.len() <= d {
            columns.resize(d + 1, Vec::new());
        }
        columns[d].push(row.clone());
    }
    columns
}

/// The stage list with `stage` of a new `kind` appended after the last one.
fn new_stage(catalog: &StageCatalog, kind: &str, rows: &[Row]) -> Value {
    let mut stage = catalog.find(kind).map_or_else(|| json!({}), |info| info.defaults.clone());
    if let Some(object) = stage.as_object_mut() {
        object.insert("refId".into(), json!(next_ref_id(rows)));
        object.insert("name".into(), json!(catalog.label(kind)));
        object.insert("type".into(), json!(kind));
        let after: Vec<&str> = rows.last().map(|row| row.ref_id.as_str()).into_iter().collect();
        object.insert("requisiteStageRefIds".into(), json!(after));
    }
    stage
}

/// The stage as another `kind`: what every stage has is kept, the old type's fields go.
fn retyped(catalog: &StageCatalog, stage: &Map<String, Value>, kind: &str) -> Map<String, Value> {
    let mut changed: Map<String, Value> = stage.iter().filter(|(key, _)| COMMON_KEYS.contains(&key.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    if let Some(Value::Object(defaults)) = catalog.find(kind).map(|info| info.defaults.clone()) {
        changed.extend(defaults);
    }
    changed.insert("type".into(), json!(kind));
    changed
}

fn stages_mut(root: &mut Map<String, Value>) -> Option<&mut Vec<Value>> {
    root.get_mut("stages").and_then(Value::as_array_mut)
}

/// Removes the stage at `index` and every mention of it as a requisite.
fn remove_stage(root: &mut Map<String, Value>, index: usize) {
    let Some(stages) = stages_mut(root) else { return };
    if index >= stages.len() {
        return;
    }
    let removed = stages.remove(index);
    let ref_id = text_of(&removed, "refId");
    for stage in stages.iter_mut() {
        if let Some(Value::Array(ids)) = stage.get_mut("requisiteStageRefIds") {
            ids.retain(|id| id.as_str() != Some(ref_id.as_str()));
        }
    }
}

/// The Stages section once the stage catalog (what the server's stage types are) has loaded.
#[component]
pub fn StagesEditor(doc: Document, application: String) -> impl IntoView {
    let catalog = LocalResource::new(move || stage_types(application.clone()));
    move || match catalog.get() {
        None => view! { <p class="muted">"Loading the stage types…"</p> }.into_any(),
        Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
        Some(Ok(catalog)) => view! { <Stages doc catalog=StoredValue::new(catalog)/> }.into_any(),
    }
}

#[component]
fn Stages(doc: Document, catalog: StoredValue<StageCatalog>) -> impl IntoView {
    // While the JSON does not parse, the last list stays, so the open forms survive.
    let rows = Memo::new(move |previous: Option<&Vec<Row>>| {
        if doc.parses() { catalog.with_value(|catalog| doc.with(|root| rows_of(root, catalog))) } else { previous.cloned().unwrap_or_default() }
    });
    let open = RwSignal::new(BTreeSet::<String>::new());
    let adding = RwSignal::new(String::from("deploy"));
    let add = move |_| {
        let kind = adding.get_untracked();
        let stage = catalog.with_value(|catalog| new_stage(catalog, &kind, &rows.get_untracked()));
        let ref_id = text_of(&stage, "refId");
        doc.push("stages", stage);
        open.update(|open| {
            open.insert(ref_id);
        });
    };
    view! {
        <section class="items-editor stages-editor" aria-labelledby="stages-title">
            <h3 id="stages-title">"Stages"</h3>
            <StageGraph rows/>
            {move || rows.with(Vec::is_empty).then(|| view! { <p class="muted">"No stages yet: add the first below."</p> })}
            <ol class="items" aria-label="Stages">
                <For each=move || rows.get() key=|row| (row.index, row.ref_id.clone(), row.kind.clone(), row.lists.clone()) let:row>
                    <StageItem doc row rows open catalog/>
                </For>
            </ol>
            <div class="add-item">
                <label>"New stage type"
                    <select prop:value=move || adding.get() on:change=move |e| adding.set(event_target_value(&e))>
                        {catalog.with_value(|catalog| catalog.0.iter().map(|info| {
                            let selected = info.type_name == "deploy";
                            view! { <option value=info.type_name.clone() selected=selected>{info.label.clone()}</option> }
                        }).collect_view())}
                    </select>
                </label>
                <button type="button" on:click=add disabled=move || !doc.parses()>"Add stage"</button>
            </div>
        </section>
    }
}

/// The stages in columns by depth, redrawn as requisites change; each stage says what it
/// runs after, so the joins read as well as they show.
#[component]
fn StageGraph(rows: Memo<Vec<Row>>) -> impl IntoView {
    view! {
        <div class="graph editor-graph" role="group" aria-label="Stage graph">
            {move || {
                let rows = rows.get();
                let names: BTreeMap<String, String> = rows.iter().map(|row| (row.ref_id.clone(), row.title())).collect();
                columns(&rows).into_iter().enumerate().map(|(step, column)| view! {
                    <div class="column" role="list" aria-label=format!("Step {}", step + 1)>
                        {column.into_iter().map(|row| {
                            let after: Vec<String> = row.requisites.iter().map(|r| names.get(r).cloned().unwrap_or_else(|| r.clone())).collect();
                            view! {
                                <div class="node" role="listitem">
                                    <strong>{row.title()}</strong>
                                    <small>{row.label.clone()}</small>
                                    {(!after.is_empty()).then(|| view! { <small class="after">"after " {after.join(", ")}</small> })}
                                </div>
                            }
                        }).collect_view()}
                    </div>
                }).collect_view()
            }}
        </div>
    }
}

#[component]
fn StageItem(doc: Document, row: Row, rows: Memo<Vec<Row>>, open: RwSignal<BTreeSet<String>>, catalog: StoredValue<StageCatalog>) -> impl IntoView {
    let index = row.index;
    let at = format!("stages[{index}]");
    let ref_id = row.ref_id.clone();
    let kind = row.kind.clone();
    let is_open = {
        let ref_id = ref_id.clone();
        Signal::derive(move || open.with(|open| open.contains(&ref_id)))
    };
    let toggle = {
        let ref_id = ref_id.clone();
        move |_| {
            open.update(|open| {
                if !open.remove(&ref_id) {
                    open.insert(ref_id.clone());
                }
            })
        }
    };
    let title = {
        let at = at.clone();
        let label = row.label.clone();
        Memo::new(move |_| {
            let name = doc.value_at(&format!("{at}.name")).and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            if name.is_empty() { label.clone() } else { name }
        })
    };
    let info = catalog.with_value(|catalog| catalog.find(&kind).cloned());
    // A type this server does not run (kept from a Spinnaker pipeline): each of its own fields
    // is edited as JSON.
    let unknown = info.is_none();
    let type_fields = match &info {
        Some(info) => info.fields.clone(),
        None => untrack(|| doc.value_at(&at))
            .and_then(|stage| stage.as_object().map(|object| object.keys().cloned().collect::<Vec<_>>()))
            .unwrap_or_default()
            .into_iter()
            .filter(|key| !["name", "type", "refId", "requisiteStageRefIds"].contains(&key.as_str()) && !OPTION_KEYS.contains(&key.as_str()))
            .map(|key| Field::new(&key, &key, Input::Json, ""))
            .collect(),
    };
    // The paths this form has inputs for; an error about anything else shows on the row.
    let mut shown: Vec<String> =
        ["name", "type", "requisiteStageRefIds"].iter().chain(OPTION_KEYS).map(|key| format!("{at}.{key}")).collect();
    if let Some(info) = &info {
        shown.extend(info.shown_paths(&at, untrack(|| doc.value_at(&at)).as_ref()));
    }
    let problem = {
        let at = at.clone();
        Memo::new(move |_| doc.problem_in(&at))
    };
    let ref_for_effect = ref_id.clone();
    Effect::new(move |_| {
        if problem.with(Option::is_some) {
            open.update(|open| {
                open.insert(ref_for_effect.clone());
            });
        }
    });
    let row_problem = move || {
        let message = problem.get()?;
        let field = doc.problem.with(|p| p.as_ref().and_then(|e| e.field().map(str::to_string)))?;
        (!shown.iter().any(|path| concerns(&field, path))).then_some(message)
    };
    let move_by = move |offset: isize| {
        doc.edit(|root| {
            if let Some(stages) = stages_mut(root) {
                let target = index as isize + offset;
                if target >= 0 && (target as usize) < stages.len() {
                    stages.swap(index, target as usize);
                }
            }
        });
        doc.problem.set(None);
    };
    let fields_id = format!("stage-{}-fields", dom_id(&ref_id));
    let retype = move |new_kind: String| {
        doc.edit(|root| {
            if let Some(Value::Object(stage)) = stages_mut(root).and_then(|stages| stages.get_mut(index)) {
                *stage = catalog.with_value(|catalog| retyped(catalog, stage, &new_kind));
            }
        });
    };
    let kind_for_select = kind.clone();
    view! {
        <li class="item stage" aria-label=move || format!("Stage {}", title.get())>
            <div class="item-head">
                <span class="kind">{row.label.clone()}</span>
                <span class="title">{move || title.get()}</span>
                <span class="summary">{move || rows.with(|rows| rows.get(index).map(|row| summary(row, rows)).unwrap_or_default())}</span>
                <button type="button" class="secondary" aria-label=move || format!("Move {} up", title.get()) disabled=index == 0 on:click=move |_| move_by(-1)>"Up"</button>
                <button type="button" class="secondary" aria-label=move || format!("Move {} down", title.get()) disabled=move || { index + 1 >= rows.with(Vec::len) } on:click=move |_| move_by(1)>"Down"</button>
                <button type="button" class="secondary" aria-expanded=move || is_open.get().to_string() aria-controls=fields_id.clone()
                    aria-label=move || format!("{} {}", if is_open.get() { "Close" } else { "Edit" }, title.get()) on:click=toggle>
                    {move || if is_open.get() { "Close" } else { "Edit" }}
                </button>
                <button type="button" class="secondary" aria-label=move || format!("Remove {}", title.get()) on:click=move |_| {
                    doc.edit(|root| remove_stage(root, index));
                    doc.problem.set(None);
                }>"Remove"</button>
            </div>
            {move || row_problem().map(|message| view! { <p class="field-error" role="alert">{message}</p> })}
            <div class="item-fields" id=fields_id hidden=move || !is_open.get()>
                <div class="fields">
                    <JsonField doc path=format!("{at}.name") field=Field::new("name", "Stage name", Input::Text, "")/>
                    <div class="field">
                        <label>"Stage type"
                            <select on:change=move |e| retype(event_target_value(&e))>
                                {unknown.then(|| view! { <option value=kind_for_select.clone() selected=true>{format!("{kind_for_select} (not run by gennaker)")}</option> })}
                                {catalog.with_value(|catalog| catalog.0.iter().map(|info| {
                                    let selected = info.type_name == kind_for_select;
                                    view! { <option value=info.type_name.clone() selected=selected>{info.label.clone()}</option> }
                                }).collect_view())}
                            </select>
                        </label>
                        <span class="help">"Changing the type keeps the name, the stages it runs after and the execution options."</span>
                    </div>
                </div>
                <Requisites doc at=at.clone() ref_id=ref_id.clone() rows/>
                {unknown.then(|| view! {
                    <p class="warning">"gennaker does not run stages of type " {kind.clone()} " yet: the pipeline keeps it, and cannot start while it is here. Its fields are shown as JSON."</p>
                })}
                <div class="fields">
                    {type_fields.into_iter().map(|field| view! { <JsonField doc path=format!("{at}.{}", field.key) field/> }).collect_view()}
                </div>
                {info.map(|info| info.lists.into_iter().map(|list| {
                    let count = row.lists.iter().find(|(key, _)| *key == list.key).map_or(0, |(_, count)| *count);
                    view! { <StageList doc at=at.clone() list count/> }
                }).collect_view())}
                <StageOptions doc at=at.clone()/>
            </div>
        </li>
    }
}

/// What a collapsed stage says: what it runs after.
fn summary(row: &Row, rows: &[Row]) -> String {
    if row.requisites.is_empty() {
        return "runs first".to_string();
    }
    let names: Vec<String> =
        row.requisites.iter().map(|r| rows.iter().find(|other| &other.ref_id == r).map_or_else(|| r.clone(), Row::title)).collect();
    format!("runs after {}", names.join(", "))
}

/// Checkboxes for the stages this one runs after.
#[component]
fn Requisites(doc: Document, at: String, ref_id: String, rows: Memo<Vec<Row>>) -> impl IntoView {
    let path = format!("{at}.requisiteStageRefIds");
    let chosen = {
        let path = path.clone();
        move || -> Vec<String> {
            doc.value_at(&path).and_then(|v| v.as_array().cloned()).unwrap_or_default().iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
        }
    };
    let message = {
        let path = path.clone();
        Signal::derive(move || doc.problem_in(&path))
    };
    let error_id = format!("{}-error", dom_id(&path));
    let described = error_id.clone();
    let others = Memo::new(move |_| rows.with(|rows| rows.iter().filter(|other| other.ref_id != ref_id).cloned().collect::<Vec<_>>()));
    let toggle = {
        let chosen = chosen.clone();
        move |ref_id: String, on: bool| {
            let mut ids = chosen();
            ids.retain(|id| *id != ref_id);
            if on {
                ids.push(ref_id);
            }
            doc.set_at(&path, Some(json!(ids)));
        }
    };
    view! {
        <fieldset class="checks" aria-invalid=move || message.get().map(|_| "true") aria-describedby=move || message.get().map(|_| described.clone())>
            <legend>"Runs after"</legend>
            {move || others.with(Vec::is_empty).then(|| view! { <span class="muted">"No other stage yet: this one runs when the pipeline starts."</span> })}
            {move || others.get().into_iter().map(|other| {
                let (ref_id, checked_id) = (other.ref_id.clone(), other.ref_id.clone());
                let chosen = chosen.clone();
                let toggle = toggle.clone();
                view! {
                    <label class="check">
                        <input type="checkbox" prop:checked=move || chosen().contains(&checked_id)
                            on:change=move |e| toggle(ref_id.clone(), event_target_checked(&e))/>
                        {other.title()}
                    </label>
                }
            }).collect_view()}
        </fieldset>
        {move || message.get().map(|message| view! { <span class="field-error" id=error_id.clone()>{message}</span> })}
    }
}

/// The keys of the execution options, for telling which errors they show.
const OPTION_KEYS: &[&str] = &[
    "failPipeline",
    "continuePipeline",
    "completeOtherBranchesThenFail",
    "failOnFailedExpressions",
    "stageTimeoutMs",
    "stageEnabled",
    "restrictExecutionDuringTimeWindow",
    "restrictedExecutionWindow",
];

/// What happens when the stage fails, Spinnaker's four choices, as `(value, label)`.
const ON_FAILURE: &[(&str, &str)] = &[
    ("halt", "Halt the entire pipeline"),
    ("haltBranchThenFail", "Halt this branch, fail the pipeline once other branches finish"),
    ("haltBranch", "Halt this branch, let the others go on"),
    ("ignore", "Ignore the failure (FAILED_CONTINUE)"),
];

fn failure_choice(stage: Option<&Value>) -> &'static str {
    let flag = |key: &str| stage.and_then(|stage| stage.get(key)).and_then(Value::as_bool);
    match (flag("failPipeline"), flag("continuePipeline"), flag("completeOtherBranchesThenFail")) {
        (_, Some(true), _) => "ignore",
        (_, _, Some(true)) => "haltBranchThenFail",
        (Some(false), _, _) => "haltBranch",
        _ => "halt",
    }
}

fn set_failure_choice(stage: &mut Map<String, Value>, choice: &str) {
    for key in ["failPipeline", "continuePipeline", "completeOtherBranchesThenFail"] {
        stage.remove(key);
    }
    let flags: &[(&str, bool)] = match choice {
        "ignore" => &[("failPipeline", false), ("continuePipeline", true)],
        "haltBranchThenFail" => &[("failPipeline", false), ("completeOtherBranchesThenFail", true)],
        "haltBranch" => &[("failPipeline", false), ("continuePipeline", false)],
        _ => &[],
    };
    for (key, value) in flags {
        stage.insert((*key).to_string(), Value::Bool(*value));
    }
}

const DAYS: [(u8, &str); 7] = [(1, "Sun"), (2, "Mon"), (3, "Tue"), (4, "Wed"), (5, "Thu"), (6, "Fri"), (7, "Sat")];

/// The options every stage has: on failure, expressions, timeout, condition, execution window.
#[component]
fn StageOptions(doc: Document, at: String) -> impl IntoView {
    let index: usize = at.trim_start_matches("stages[").trim_end_matches(']').parse().unwrap_or_default();
    let failure = {
        let at = at.clone();
        move || doc.with(|root| failure_choice(root.and_then(|root| super::path::get(root, &at))))
    };
    let set_failure = move |choice: String| {
        doc.edit(|root| {
            if let Some(Value::Object(stage)) = stages_mut(root).and_then(|stages| stages.get_mut(index)) {
                set_failure_choice(stage, &choice);
            }
        })
    };
    let expressions_path = format!("{at}.failOnFailedExpressions");
    let window_on_path = format!("{at}.restrictExecutionDuringTimeWindow");
    let days_path = format!("{at}.restrictedExecutionWindow.days");
    let window_on = {
        let path = window_on_path.clone();
        move || doc.value_at(&path).and_then(|v| v.as_bool()).unwrap_or(false)
    };
    let days = {
        let path = days_path.clone();
        move || -> Vec<u64> { doc.value_at(&path).and_then(|v| v.as_array().cloned()).unwrap_or_default().iter().filter_map(Value::as_u64).collect() }
    };
    let failure_id = dom_id(&format!("{at}.onFailure"));
    let initial_failure = untrack(failure.clone());
    view! {
        <fieldset class="options">
            <legend>"Execution options"</legend>
            <div class="fields">
                <div class="field">
                    <label>"If the stage fails"
                        <select id=failure_id prop:value=failure on:change=move |e| set_failure(event_target_value(&e))>
                            {ON_FAILURE.iter().map(|(value, name)| view! { <option value=*value selected=*value == initial_failure>{*name}</option> }).collect_view()}
                        </select>
                    </label>
                </div>
                <div class="field">
                    <label class="check">
                        <input type="checkbox" prop:checked={
                            let path = expressions_path.clone();
                            move || doc.value_at(&path).and_then(|v| v.as_bool()).unwrap_or(true)
                        } on:change={
                            let path = expressions_path.clone();
                            move |e| doc.set_at(&path, (!event_target_checked(&e)).then_some(Value::Bool(false)))
                        }/>
                        "Fail the stage when an expression fails"
                    </label>
                    <span class="help">"Unchecked, the text is left as it is and a warning shows."</span>
                </div>
                <JsonField doc path=format!("{at}.stageTimeoutMs") field=Field::new("stageTimeoutMs", "Timeout (s)", Input::Millis, "Fail the stage if it runs longer; empty: no limit.")/>
                <JsonField doc path=format!("{at}.stageEnabled") field=Field::new("stageEnabled", "Run only if", Input::Condition, "An expression, e.g. ${parameters.env == 'prod'}; false skips the stage.")/>
            </div>
            <div class="fields">
                <div class="field">
                    <label class="check">
                        <input type="checkbox" prop:checked=window_on.clone() on:change={
                            let path = window_on_path.clone();
                            move |e| doc.set_at(&path, event_target_checked(&e).then_some(Value::Bool(true)))
                        }/>
                        "Restrict to an execution window"
                    </label>
                    <span class="help">"The stage waits until the window opens (UTC)."</span>
                </div>
            </div>
            <div class="fields" hidden=move || !window_on()>
                <JsonField doc path=format!("{at}.restrictedExecutionWindow.whitelist") field=Field::new("whitelist", "Hours (UTC)", Input::Hours, "e.g. 09:00-17:00, 20:00-22:00")/>
                <fieldset class="checks">
                    <legend>"Days (none: every day)"</legend>
                    {DAYS.iter().map(|(number, name)| {
                        let days = days.clone();
                        let path = days_path.clone();
                        let number = u64::from(*number);
                        view! {
                            <label class="check">
                                <input type="checkbox" prop:checked={ let days = days.clone(); move || days().contains(&number) } on:change=move |e| {
                                    let mut chosen = days();
                                    chosen.retain(|day| *day != number);
                                    if event_target_checked(&e) { chosen.push(number); }
                                    chosen.sort_unstable();
                                    doc.set_at(&path, (!chosen.is_empty()).then(|| json!(chosen)));
                                }/>
                                {*name}
                            </label>
                        }
                    }).collect_view()}
                </fieldset>
            </div>
            {
                let at = at.clone();
                move || doc.problem_in(&format!("{at}.restrictedExecutionWindow.days")).map(|message| view! { <span class="field-error">{message}</span> })
            }
        </fieldset>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::stage_types::StageTypeInfo;

    /// Two stage types as a server would describe them.
    fn catalog() -> StageCatalog {
        let info = |type_name: &str, label: &str, defaults: Value| StageTypeInfo {
            type_name: type_name.into(),
            label: label.into(),
            description: String::new(),
            fields: Vec::new(),
            lists: Vec::new(),
            defaults,
        };
        StageCatalog(vec![info("wait", "Wait", json!({"waitTime": 30})), info("manualJudgment", "Manual Judgment", json!({"instructions": ""}))])
    }

    fn rows(stages: Value) -> Vec<Row> {
        rows_of(Some(&json!({"stages": stages})), &catalog())
    }

    #[test]
    fn new_stages_follow_the_last_and_take_a_free_ref_id() {
        let existing = rows(json!([{"refId": "1", "type": "wait"}, {"refId": "7", "type": "wait", "requisiteStageRefIds": ["1"]}]));
        let stage = new_stage(&catalog(), "manualJudgment", &existing);
        assert_eq!(stage["refId"], "8");
        assert_eq!(stage["requisiteStageRefIds"], json!(["7"]));
        assert_eq!(stage["name"], "Manual Judgment");
        assert_eq!(stage["instructions"], "", "the type's defaults");
        assert_eq!(new_stage(&catalog(), "wait", &[])["requisiteStageRefIds"], json!([]));
    }

    #[test]
    fn the_graph_puts_branches_side_by_side_and_joins_after_them() {
        let graph = columns(&rows(json!([
            {"refId": "1", "type": "wait"},
            {"refId": "2", "type": "wait", "requisiteStageRefIds": ["1"]},
            {"refId": "3", "type": "wait", "requisiteStageRefIds": ["1"]},
            {"refId": "4", "type": "wait", "requisiteStageRefIds": ["2", "3"]}
        ])));
        let ids: Vec<Vec<&str>> = graph.iter().map(|column| column.iter().map(|row| row.ref_id.as_str()).collect()).collect();
        assert_eq!(ids, vec![vec!["1"], vec!["2", "3"], vec!["4"]]);
        let cycle = columns(&rows(json!([{"refId": "1", "type": "wait", "requisiteStageRefIds": ["2"]}, {"refId": "2", "type": "wait", "requisiteStageRefIds": ["1"]}])));
        assert_eq!(cycle.iter().map(Vec::len).sum::<usize>(), 2, "a cycle still shows every stage");
    }

    #[test]
    fn removing_a_stage_unlinks_it_and_retyping_keeps_the_common_options() {
        let mut root = json!({"stages": [
            {"refId": "1", "type": "wait", "waitTime": 5},
            {"refId": "2", "type": "wait", "waitTime": 5, "requisiteStageRefIds": ["1"], "name": "Later", "stageTimeoutMs": 1000}
        ]});
        let map = root.as_object_mut().unwrap();
        let retyped = retyped(&catalog(), map["stages"][1].as_object().unwrap(), "manualJudgment");
        assert_eq!(retyped.get("name"), Some(&json!("Later")));
        assert_eq!(retyped.get("stageTimeoutMs"), Some(&json!(1000)));
        assert!(retyped.get("waitTime").is_none());
        assert_eq!(retyped.get("type"), Some(&json!("manualJudgment")));
        remove_stage(map, 0);
        assert_eq!(map["stages"], json!([{"refId": "2", "type": "wait", "waitTime": 5, "requisiteStageRefIds": [], "name": "Later", "stageTimeoutMs": 1000}]));
    }

    #[test]
    fn the_four_failure_options_read_back() {
        for (choice, _) in ON_FAILURE {
            let mut stage = Map::new();
            set_failure_choice(&mut stage, choice);
            assert_eq!(failure_choice(Some(&Value::Object(stage))), *choice);
        }
    }
}
