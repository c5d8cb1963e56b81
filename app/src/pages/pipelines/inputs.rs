//! The labelled inputs the Triggers and Notifications forms are made of, each bound to one key
//! of an [`Item`] and showing, right below itself, the save error that names that key. The
//! input is then marked `aria-invalid` and described by the message, so a screen reader reads
//! the error with the field.

use leptos::prelude::*;
use serde_json::{Map, Value};

use super::document::Item;

/// The error under an input, with the id the input points its `aria-describedby` at.
#[component]
fn FieldError(id: String, message: Signal<Option<String>>) -> impl IntoView {
    move || message.get().map(|message| view! { <span class="field-error" id=id.clone()>{message}</span> })
}

/// A text input for `key`. A `required` one must be filled before a new item is added; an
/// optional one left empty is removed from the item.
#[component]
pub fn TextInput(
    item: Item,
    key: &'static str,
    label: &'static str,
    #[prop(optional)] required: bool,
    #[prop(optional)] placeholder: &'static str,
) -> impl IntoView {
    let id = item.dom_id(key);
    let error_id = format!("{id}-error");
    let message = Signal::derive(move || item.problem(key));
    let described = error_id.clone();
    view! {
        <div class="field">
            <label>{label}
                <input type="text" id=id autocomplete="off" spellcheck="false" placeholder=placeholder
                    required=required && item.is_new()
                    prop:value=move || item.text(key)
                    on:input=move |e| item.set_text(key, event_target_value(&e), !required)
                    aria-invalid=move || message.get().map(|_| "true")
                    aria-describedby=move || message.get().map(|_| described.clone())/>
            </label>
            <FieldError id=error_id message/>
        </div>
    }
}

/// A choice of `options` for `key`; `on_change` runs after the item changed.
#[component]
pub fn SelectInput(
    item: Item,
    key: &'static str,
    label: &'static str,
    options: &'static [&'static str],
    #[prop(optional, into)] on_change: Option<Callback<String>>,
) -> impl IntoView {
    let id = item.dom_id(key);
    let error_id = format!("{id}-error");
    let message = Signal::derive(move || item.problem(key));
    let described = error_id.clone();
    let initial = untrack(|| item.text(key));
    view! {
        <div class="field">
            <label>{label}
                <select id=id prop:value=move || item.text(key)
                    on:change=move |e| {
                        let value = event_target_value(&e);
                        item.set_text(key, value.clone(), false);
                        if let Some(on_change) = on_change { on_change.run(value); }
                    }
                    aria-invalid=move || message.get().map(|_| "true")
                    aria-describedby=move || message.get().map(|_| described.clone())>
                    // `selected` for the server-rendered page; `prop:value` once hydrated.
                    {options.iter().map(|option| view! { <option value=*option selected=*option == initial>{*option}</option> }).collect_view()}
                </select>
            </label>
            <FieldError id=error_id message/>
        </div>
    }
}

/// Checkboxes for an array of strings (`when`, `status`), in the order of `options`.
#[component]
pub fn ChecksInput(item: Item, key: &'static str, legend: &'static str, options: &'static [&'static str]) -> impl IntoView {
    let error_id = format!("{}-error", item.dom_id(key));
    let message = Signal::derive(move || item.problem(key));
    let described = error_id.clone();
    let toggle = move |option: &'static str, on: bool| {
        let mut chosen = item.texts(key);
        chosen.retain(|value| value != option);
        if on {
            chosen.push(option.to_string());
        }
        chosen.sort_by_key(|value| options.iter().position(|o| o == value));
        item.update(|item| {
            item.insert(key.to_string(), Value::Array(chosen.into_iter().map(Value::String).collect()));
        });
    };
    view! {
        <fieldset class="checks" aria-invalid=move || message.get().map(|_| "true")
            aria-describedby=move || message.get().map(|_| described.clone())>
            <legend>{legend}</legend>
            {options.iter().map(|option| view! {
                <label class="check">
                    <input type="checkbox" value=*option prop:checked=move || item.texts(key).iter().any(|v| v == option)
                        on:change=move |e| toggle(option, event_target_checked(&e))/>
                    {*option}
                </label>
            }).collect_view()}
        </fieldset>
        <FieldError id=error_id message/>
    }
}

/// The custom text of one event of a notification (`message.{event}.text`); empty removes it.
#[component]
pub fn MessageInput(item: Item, event: String) -> impl IntoView {
    let key = format!("message.{event}.text");
    let id = item.dom_id(&key);
    let text = {
        let event = event.clone();
        move || item.get("message").and_then(|m| m.get(&event)?.get("text")?.as_str().map(str::to_string)).unwrap_or_default()
    };
    let write = {
        let event = event.clone();
        move |text: String| {
            item.update(|item| {
                let messages = item.entry("message").or_insert_with(|| Value::Object(Map::new()));
                if !messages.is_object() {
                    *messages = Value::Object(Map::new());
                }
                if let Value::Object(messages) = messages {
                    if text.trim().is_empty() {
                        messages.remove(&event);
                    } else {
                        messages.insert(event.clone(), serde_json::json!({ "text": text }));
                    }
                }
            })
        }
    };
    view! {
        <div class="field wide">
            <label>{format!("Message for {event} (optional)")}
                <input type="text" id=id autocomplete="off" placeholder="${execution.name} ..."
                    prop:value=text on:input=move |e| write(event_target_value(&e))/>
            </label>
        </div>
    }
}

/// One row of the payload constraints while it is typed. Rows live here, not in the item: an
/// object cannot hold a row whose field is still empty, or two rows with the same field.
#[derive(Clone, Copy)]
struct Row {
    id: usize,
    field: RwSignal<String>,
    regex: RwSignal<String>,
}

fn constraints_of(item: Item) -> Vec<(String, String)> {
    match item.get("payloadConstraints") {
        Some(Value::Object(map)) => map.into_iter().map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect(),
        _ => Vec::new(),
    }
}

/// A webhook trigger's `payloadConstraints`: rows of a payload field (dotted path) and the regex
/// its value must match. Rows are rebuilt from the item only when it changed elsewhere (the
/// JSON editor), so typing here never loses focus.
#[component]
pub fn ConstraintsInput(item: Item) -> impl IntoView {
    let next = StoredValue::new(0usize);
    // Rows are made in the component's owner: made in the effect below, they would be disposed
    // when it next runs, while still shown.
    let owner = Owner::current().expect("components run inside an owner");
    let make = move |field: String, regex: String| {
        let id = next.get_value();
        next.set_value(id + 1);
        owner.with(|| Row { id, field: RwSignal::new(field), regex: RwSignal::new(regex) })
    };
    let rows = RwSignal::new(untrack(|| constraints_of(item)).into_iter().map(|(f, r)| make(f, r)).collect::<Vec<_>>());
    let remake = make.clone();
    let typed = move || {
        let mut pairs: Vec<(String, String)> = rows
            .with_untracked(|rows| rows.iter().map(|row| (row.field.get_untracked().trim().to_string(), row.regex.get_untracked())).collect());
        pairs.retain(|(field, _)| !field.is_empty());
        pairs.sort();
        pairs.dedup_by(|a, b| a.0 == b.0);
        pairs
    };
    Effect::new(move |_| {
        let stored = constraints_of(item);
        if stored != typed() {
            rows.set(stored.into_iter().map(|(f, r)| remake(f, r)).collect());
        }
    });
    let write = move || {
        let map: Map<String, Value> = typed().into_iter().map(|(field, regex)| (field, Value::String(regex))).collect();
        item.update(|item| {
            item.insert("payloadConstraints".into(), Value::Object(map));
        });
    };
    view! {
        <fieldset class="constraints">
            <legend>"Payload constraints (every field must match its regex)"</legend>
            <For each=move || rows.get() key=|row| row.id let:row>
                {
                    let message = Signal::derive(move || item.problem(&format!("payloadConstraints.{}", row.field.get().trim())));
                    let error_id = format!("{}-constraint-{}-error", item.dom_id("payloadConstraints"), row.id);
                    let described = error_id.clone();
                    view! {
                        <div class="constraint">
                            <label>"Payload field"
                                <input type="text" autocomplete="off" spellcheck="false" placeholder="build.branch"
                                    prop:value=move || row.field.get()
                                    on:input=move |e| { row.field.set(event_target_value(&e)); write(); }/>
                            </label>
                            <label>{move || format!("Regex for {}", row.field.get().trim())}
                                <input type="text" autocomplete="off" spellcheck="false" placeholder="main|release/.*"
                                    prop:value=move || row.regex.get()
                                    on:input=move |e| { row.regex.set(event_target_value(&e)); write(); }
                                    aria-invalid=move || message.get().map(|_| "true")
                                    aria-describedby=move || message.get().map(|_| described.clone())/>
                            </label>
                            <button type="button" class="secondary" aria-label=move || format!("Remove constraint {}", row.field.get().trim())
                                on:click=move |_| { rows.update(|rows| rows.retain(|r| r.id != row.id)); write(); }>"Remove"</button>
                            <FieldError id=error_id message/>
                        </div>
                    }
                }
            </For>
            <button type="button" class="secondary" on:click=move |_| rows.update(|rows| rows.push(make(String::new(), String::new())))>
                "Add constraint"
            </button>
        </fieldset>
    }
}
