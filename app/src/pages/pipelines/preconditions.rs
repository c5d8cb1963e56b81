//! The preconditions of a Check Preconditions stage, each in a fieldset of its own: what it
//! checks (an expression, or another stage's status), the fields of that kind, its failure
//! message and whether it fails the pipeline; with Add / Remove precondition. The fields are
//! the table's ([`super::stage_fields::PRECONDITION_TYPE`] and the lists after it), bound to
//! `stages[i].preconditions[j]` like every other stage field.

use leptos::prelude::*;
use serde_json::Value;

use super::document::Document;
use super::stage_fields::{self, PRECONDITION_COMMON, PRECONDITION_EXPRESSION, PRECONDITION_STAGE, PRECONDITION_TYPE};
use super::stage_inputs::JsonField;

/// The paths of every input the preconditions of the stage at `at` show, for telling which
/// server errors have an input to sit next to.
pub fn shown_paths(at: &str, count: usize) -> impl Iterator<Item = String> + '_ {
    (0..count).flat_map(move |index| stage_fields::precondition_fields().map(move |field| format!("{at}.preconditions[{index}].{}", field.key)))
}

#[component]
pub fn Preconditions(doc: Document, at: String, count: usize) -> impl IntoView {
    let list = format!("{at}.preconditions");
    let add_path = format!("{list}[{count}]");
    view! {
        {(0..count).map(|index| {
            let base = format!("{list}[{index}]");
            let (kind_path, remove_path) = (format!("{base}.type"), base.clone());
            let is_stage_status = Memo::new(move |_| doc.value_at(&kind_path).and_then(|kind| kind.as_str().map(|kind| kind == "stageStatus")).unwrap_or(false));
            let kind_fields = {
                let base = base.clone();
                move || {
                    let fields = if is_stage_status.get() { PRECONDITION_STAGE } else { PRECONDITION_EXPRESSION };
                    fields.iter().map(|field| view! { <JsonField doc path=format!("{base}.{}", field.key) field=*field/> }).collect_view()
                }
            };
            view! {
                <fieldset class="cluster precondition">
                    <legend>{format!("Precondition {}", index + 1)}</legend>
                    <div class="fields">
                        <JsonField doc path=format!("{base}.{}", PRECONDITION_TYPE.key) field=PRECONDITION_TYPE/>
                        {kind_fields}
                        {PRECONDITION_COMMON.iter().map(|field| view! { <JsonField doc path=format!("{base}.{}", field.key) field=*field/> }).collect_view()}
                    </div>
                    {(count > 1).then(|| view! {
                        <button type="button" class="secondary" on:click=move |_| doc.set_at(&remove_path, None)>"Remove precondition " {index + 1}</button>
                    })}
                </fieldset>
            }
        }).collect_view()}
        {(count == 0).then(|| view! { <p class="muted">"No preconditions: the stage always passes."</p> })}
        <button type="button" class="secondary" on:click=move |_| doc.set_at(&add_path, Some(stage_fields::new_precondition()))>
            "Add precondition"
        </button>
    }
}

/// How many preconditions the stage JSON has.
pub fn count_in(stage: &Value) -> usize {
    stage.get("preconditions").and_then(Value::as_array).map_or(0, Vec::len)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_precondition_input_is_a_shown_path() {
        let paths: Vec<String> = shown_paths("stages[2]", 2).collect();
        assert!(paths.contains(&"stages[2].preconditions[0].type".to_string()));
        assert!(paths.contains(&"stages[2].preconditions[1].context.expression".to_string()));
        assert!(paths.contains(&"stages[2].preconditions[1].failPipeline".to_string()));
        assert_eq!(count_in(&json!({"preconditions": [{}, {}, {}]})), 3);
        assert_eq!(count_in(&json!({})), 0);
    }
}
