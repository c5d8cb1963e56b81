//! One input of the stage form, bound to a path in the pipeline's JSON: how its value is shown
//! as text and read back ([`show`], [`read`]), and the labelled input that shows, below itself,
//! what is wrong: its own text that does not read (a letter in a number), or the server's check
//! naming that path.
//!
//! Text inputs keep what was typed in a signal of their own and take the document's value only
//! when it changes for another reason (the JSON edited, a revision restored): written back
//! through the document at every keystroke, a list would lose the new line being started.

use leptos::prelude::*;
use serde_json::{Map, Value, json};

use super::document::Document;
use crate::model::stage_types::{Field, Input};

/// The value as the input shows it.
pub fn show(input: &Input, value: Option<&Value>) -> String {
    let text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let Some(value) = value else {
        return if matches!(input, Input::CheckOn) { "true".to_string() } else { String::new() };
    };
    let items = || value.as_array().cloned().unwrap_or_default();
    match input {
        Input::Text | Input::LongText | Input::Number | Input::NumberOrExpression | Input::Choice(_) | Input::Check | Input::CheckOn => {
            text(value)
        }
        Input::Lines => items().iter().map(text).collect::<Vec<_>>().join("\n"),
        Input::Values => items().iter().map(|item| item.get("value").map(text).unwrap_or_default()).collect::<Vec<_>>().join("\n"),
        Input::Pairs => value
            .as_object()
            .map(|map| map.iter().map(|(key, value)| format!("{key}={}", text(value))).collect::<Vec<_>>().join("\n"))
            .unwrap_or_default(),
        Input::KeyValues => items()
            .iter()
            .map(|item| format!("{}={}", item.get("key").map(text).unwrap_or_default(), item.get("value").map(text).unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("\n"),
        Input::Numbers => items().iter().map(text).collect::<Vec<_>>().join(", "),
        Input::Json | Input::Manifests => serde_json::to_string_pretty(value).unwrap_or_default(),
        Input::Millis => value.as_u64().map(format_millis_as_seconds).unwrap_or_else(|| text(value)),
        Input::Condition => value.get("expression").map(text).unwrap_or_default(),
        Input::Hours => items()
            .iter()
            .map(|range| {
                let part = |key: &str| range.get(key).and_then(Value::as_u64).unwrap_or_default();
                format!("{:02}:{:02}-{:02}:{:02}", part("startHour"), part("startMin"), part("endHour"), part("endMin"))
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// `90000` → `90`, `1500` → `1.5`. Integers only: float formatting and parsing would add their
/// code to the browser bundle for this one input.
fn format_millis_as_seconds(millis: u64) -> String {
    let fraction = format!("{:03}", millis % 1000);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() { (millis / 1000).to_string() } else { format!("{}.{fraction}", millis / 1000) }
}

/// `1.5` → `1500`; at most three decimals, more than 0.
fn read_seconds_as_millis(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) || (whole.is_empty() && fraction.is_empty()) {
        return None;
    }
    let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let fraction: u64 = if fraction.is_empty() { 0 } else { format!("{fraction:0<3}").parse().ok()? };
    whole.checked_mul(1000)?.checked_add(fraction).filter(|millis| *millis > 0)
}

/// What the typed text means: the value to store (`None` removes the key), or why it cannot be
/// read. Only what the browser can know is checked here; the rest is the server's check.
pub fn read(input: &Input, text: &str) -> Result<Option<Value>, String> {
    let trimmed = text.trim();
    let lines = || text.lines().map(str::trim).filter(|line| !line.is_empty());
    let pair = |line: &str| {
        line.split_once('=')
            .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
            .filter(|(key, _)| !key.is_empty())
            .ok_or_else(|| format!("each line is NAME=VALUE, not {line:?}"))
    };
    match input {
        Input::Check => Ok(Some(Value::Bool(trimmed == "true"))),
        Input::CheckOn => Ok((trimmed != "true").then_some(Value::Bool(false))),
        _ if trimmed.is_empty() => Ok(None),
        Input::Condition => Ok(Some(json!({"type": "expression", "expression": trimmed}))),
        Input::Text | Input::LongText | Input::Choice(_) => Ok(Some(Value::String(text.to_string()))),
        Input::Number => trimmed.parse::<u64>().map(|n| Some(json!(n))).map_err(|_| format!("a whole number, not {trimmed:?}")),
        Input::NumberOrExpression => Ok(Some(trimmed.parse::<u64>().map_or_else(|_| Value::String(trimmed.to_string()), |n| json!(n)))),
        Input::Lines => Ok(Some(Value::Array(lines().map(|line| Value::String(line.to_string())).collect()))),
        Input::Values => Ok(Some(Value::Array(lines().map(|line| json!({"value": line})).collect()))),
        Input::Pairs => {
            let pairs = lines().map(pair).collect::<Result<Vec<_>, _>>()?;
            Ok(Some(Value::Object(pairs.into_iter().map(|(key, value)| (key, Value::String(value))).collect::<Map<_, _>>())))
        }
        Input::KeyValues => {
            let pairs = lines().map(pair).collect::<Result<Vec<_>, _>>()?;
            Ok(Some(Value::Array(pairs.into_iter().map(|(key, value)| json!({"key": key, "value": value})).collect())))
        }
        Input::Numbers => trimmed
            .split(',')
            .map(|part| part.trim().parse::<u64>().map(Value::from).map_err(|_| format!("whole numbers separated by commas, not {:?}", part.trim())))
            .collect::<Result<Vec<_>, _>>()
            .map(|numbers| Some(Value::Array(numbers))),
        Input::Json => serde_json::from_str(trimmed).map(Some).map_err(|error| format!("not JSON: {error}")),
        // YAML goes to the server (`write` below); here only JSON is read.
        Input::Manifests => crate::model::manifests::parse_json(trimmed).map(|manifests| Some(Value::Array(manifests))).map_err(|error| error.to_string()),
        Input::Millis => read_seconds_as_millis(trimmed)
            .map(|millis| Some(json!(millis)))
            .ok_or_else(|| format!("seconds, more than 0 (up to three decimals), not {trimmed:?}")),
        Input::Hours => trimmed.split(',').map(|range| read_range(range.trim())).collect::<Result<Vec<_>, _>>().map(|ranges| Some(Value::Array(ranges))),
    }
}

/// `09:00-17:30` as Spinnaker's `{startHour, startMin, endHour, endMin}`.
fn read_range(text: &str) -> Result<Value, String> {
    let wrong = || format!("ranges like 09:00-17:00, not {text:?}");
    let (start, end) = text.split_once('-').ok_or_else(wrong)?;
    let time = |part: &str| -> Result<(u64, u64), String> {
        let (hour, minute) = part.trim().split_once(':').unwrap_or((part.trim(), "0"));
        let hour = hour.parse::<u64>().ok().filter(|h| *h < 24).ok_or_else(wrong)?;
        let minute = minute.parse::<u64>().ok().filter(|m| *m < 60).ok_or_else(wrong)?;
        Ok((hour, minute))
    };
    let ((start_hour, start_min), (end_hour, end_min)) = (time(start)?, time(end)?);
    Ok(json!({"startHour": start_hour, "startMin": start_min, "endHour": end_hour, "endMin": end_min}))
}

/// A DOM id from a path (`stages[0].waitTime` → `stage-0-waitTime`): brackets and dots would
/// need escaping in selectors and label `for`s.
pub fn dom_id(path: &str) -> String {
    path.replace(|c: char| !c.is_ascii_alphanumeric(), "-").replace("--", "-").trim_end_matches('-').to_string()
}

/// The labelled input of `field` at `path`, with its help and the error that concerns it.
#[component]
pub fn JsonField(doc: Document, path: String, field: Field) -> impl IntoView {
    let input = StoredValue::new(field.input.clone());
    let (label, help) = (field.label.clone(), field.help.clone());
    let has_help = !help.is_empty();
    let id = dom_id(&path);
    let error_id = format!("{id}-error");
    let help_id = format!("{id}-help");
    let stored = {
        let path = path.clone();
        Memo::new(move |_| doc.value_at(&path))
    };
    let typed = RwSignal::new(untrack(|| input.with_value(|input| show(input, stored.get().as_ref()))));
    let local_problem = RwSignal::new(None::<String>);
    // What the server read of YAML typed here (the browser cannot read it back to compare).
    let read_by_server = RwSignal::new(None::<Option<Value>>);
    // Take the document's value when it changed for another reason than this input.
    Effect::new(move |_| {
        let value = stored.get();
        let same = typed.with_untracked(|text| input.with_value(|input| read(input, text)).ok() == Some(value.clone()))
            || read_by_server.with_untracked(|read| read.as_ref() == Some(&value));
        if !same {
            typed.set(input.with_value(|input| show(input, value.as_ref())));
            local_problem.set(None);
        }
    });
    let server_problem = {
        let path = path.clone();
        Signal::derive(move || doc.problem_in(&path))
    };
    let message = Signal::derive(move || local_problem.get().or_else(|| server_problem.get()));
    let write = {
        let path = path.clone();
        move |text: String| {
            typed.set(text.clone());
            let yaml = input.with_value(|input| matches!(input, Input::Manifests)) && !text.trim().is_empty() && !crate::model::manifests::is_json(&text);
            if yaml {
                // The server reads YAML (its parser is not in the browser); the answer for text
                // typed since is dropped.
                let path = path.clone();
                leptos::task::spawn_local(async move {
                    let answer = crate::api::clouds::read_manifests(text.clone()).await;
                    if typed.get_untracked() != text {
                        return;
                    }
                    match answer {
                        Ok(manifests) => {
                            local_problem.set(None);
                            let value = Some(Value::Array(manifests));
                            read_by_server.set(Some(value.clone()));
                            doc.set_at(&path, value);
                        }
                        Err(problem) => local_problem.set(Some(problem.to_string())),
                    }
                });
                return;
            }
            match input.with_value(|input| read(input, &text)) {
                Ok(value) => {
                    local_problem.set(None);
                    doc.set_at(&path, value);
                }
                Err(problem) => local_problem.set(Some(problem)),
            }
        }
    };
    let described = {
        let (error_id, help_id) = (error_id.clone(), help_id.clone());
        move || {
            let mut ids = Vec::new();
            if message.with(Option::is_some) {
                ids.push(error_id.clone());
            }
            if has_help {
                ids.push(help_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    let invalid = move || message.with(Option::is_some).then_some("true");
    let control = match field.input {
        Input::Check | Input::CheckOn => {
            let write = write.clone();
            view! {
                <label class="check">
                    <input type="checkbox" id=id.clone() prop:checked=move || typed.get() == "true"
                        on:change=move |e| write(event_target_checked(&e).to_string())
                        aria-invalid=invalid aria-describedby=described.clone()/>
                    {label}
                </label>
            }
            .into_any()
        }
        Input::Choice(options) => {
            let initial = typed.get_untracked();
            let write = write.clone();
            view! {
                <label>{label}
                    <select id=id.clone() prop:value=move || typed.get() on:change=move |e| write(event_target_value(&e))
                        aria-invalid=invalid aria-describedby=described.clone()>
                        {options.into_iter().map(|choice| {
                            let selected = choice.value == initial;
                            view! { <option value=choice.value selected=selected>{choice.label}</option> }
                        }).collect_view()}
                    </select>
                </label>
            }
            .into_any()
        }
        ref multiline @ (Input::LongText | Input::Lines | Input::Values | Input::Pairs | Input::KeyValues | Input::Json | Input::Manifests) => {
            let write = write.clone();
            let rows = match multiline {
                Input::Manifests => 14,
                Input::Json => 6,
                _ => 3,
            };
            view! {
                <label>{label}
                    <textarea id=id.clone() rows=rows spellcheck="false" prop:value=move || typed.get()
                        on:input=move |e| write(event_target_value(&e))
                        aria-invalid=invalid aria-describedby=described.clone()></textarea>
                </label>
            }
            .into_any()
        }
        ref other => {
            let write = write.clone();
            let mode = if matches!(other, Input::Number) { "numeric" } else { "text" };
            view! {
                <label>{label}
                    <input type="text" inputmode=mode id=id.clone() autocomplete="off" spellcheck="false" prop:value=move || typed.get()
                        on:input=move |e| write(event_target_value(&e))
                        aria-invalid=invalid aria-describedby=described.clone()/>
                </label>
            }
            .into_any()
        }
    };
    let wide = input.with_value(|input| matches!(input, Input::LongText | Input::Json | Input::Manifests | Input::Lines | Input::Pairs | Input::KeyValues | Input::Values));
    view! {
        <div class=if wide { "field wide" } else { "field" }>
            {control}
            {has_help.then(|| view! { <span class="help" id=help_id>{help}</span> })}
            {move || message.get().map(|message| view! { <span class="field-error" id=error_id.clone()>{message}</span> })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(input: &Input, text: &str) -> String {
        show(input, read(input, text).unwrap().as_ref())
    }

    #[test]
    fn typed_text_reads_as_the_stage_json() {
        assert_eq!(read(&Input::NumberOrExpression, "30"), Ok(Some(json!(30))));
        assert_eq!(read(&Input::NumberOrExpression, "${parameters.delay}"), Ok(Some(json!("${parameters.delay}"))));
        assert_eq!(read(&Input::Number, " "), Ok(None), "an empty number removes the key");
        assert!(read(&Input::Number, "3x").unwrap_err().contains("whole number"));
        assert_eq!(read(&Input::Lines, "demo-app\n\n --version \nv2\n"), Ok(Some(json!(["demo-app", "--version", "v2"]))));
        assert_eq!(read(&Input::Values, "ship\nhold"), Ok(Some(json!([{"value": "ship"}, {"value": "hold"}]))));
        assert_eq!(read(&Input::Pairs, "A=1\nB = two=2"), Ok(Some(json!({"A": "1", "B": "two=2"}))));
        assert!(read(&Input::Pairs, "no equals").is_err());
        assert_eq!(read(&Input::KeyValues, "region=eu"), Ok(Some(json!([{"key": "region", "value": "eu"}]))));
        assert_eq!(read(&Input::Numbers, "25, 50,100"), Ok(Some(json!([25, 50, 100]))));
        assert_eq!(read(&Input::Millis, "90"), Ok(Some(json!(90000))));
        assert_eq!(read(&Input::Millis, "0.25"), Ok(Some(json!(250))));
        assert!(read(&Input::Millis, "-1").is_err());
        assert!(read(&Input::Millis, "0").is_err());
        assert!(read(&Input::Millis, "1.2345").is_err());
        assert_eq!(read(&Input::Condition, "${parameters.go}"), Ok(Some(json!({"type": "expression", "expression": "${parameters.go}"}))));
        assert_eq!(read(&Input::Hours, "9-17:30"), Ok(Some(json!([{"startHour": 9, "startMin": 0, "endHour": 17, "endMin": 30}]))));
        assert!(read(&Input::Hours, "25:00-26:00").is_err());
        assert_eq!(read(&Input::Check, "false"), Ok(Some(json!(false))));
        assert_eq!(read(&Input::CheckOn, "false"), Ok(Some(json!(false))));
        assert_eq!(read(&Input::CheckOn, "true"), Ok(None), "checked is the default: the key goes");
        assert_eq!(show(&Input::CheckOn, None), "true");
        assert_eq!(show(&Input::CheckOn, Some(&json!(true))), "true");
        assert!(read(&Input::Json, "{").is_err());
    }

    #[test]
    fn what_is_shown_reads_back_the_same() {
        for (input, text) in [
            (Input::Lines, "a\nb"),
            (Input::Pairs, "A=1\nB=2"),
            (Input::KeyValues, "x=1"),
            (Input::Numbers, "25, 100"),
            (Input::Millis, "1.5"),
            (Input::Hours, "09:00-17:30, 20:00-22:00"),
            (Input::Values, "ship\nhold"),
        ] {
            assert_eq!(round_trip(&input, text), text, "{input:?}");
        }
        assert_eq!(show(&Input::Number, Some(&json!(3))), "3");
        assert_eq!(show(&Input::Text, None), "");
    }

    #[test]
    fn ids_are_plain() {
        assert_eq!(dom_id("stages[0].clusters[1].capacity.min"), "stages-0-clusters-1-capacity-min");
    }
}
