//! The lists of items a stage holds (a deploy's clusters, a check's preconditions), as its
//! stage type describes them ([`FieldList`]): each item in a fieldset of its own with its
//! fields (those that depend on another field's value show while it holds it), Remove while
//! more than the list's minimum are left, and Add. Bound to `stages[i].<list>[j]` like every
//! other stage field.

use leptos::prelude::*;
use serde_json::Value;

use super::document::Document;
use super::stage_inputs::JsonField;
use crate::model::stage_types::FieldList;

/// How many items the stage JSON holds in `list`.
pub fn count_in(stage: &Value, list: &str) -> usize {
    stage.get(list).and_then(Value::as_array).map_or(0, Vec::len)
}

#[component]
pub fn StageList(doc: Document, at: String, list: FieldList, count: usize) -> impl IntoView {
    let path = format!("{at}.{}", list.key);
    let add_path = format!("{path}[{count}]");
    let noun = list.noun.clone();
    let lowercase = noun.to_lowercase();
    let new_item = list.new_item.clone();
    let empty = list.empty.clone();
    view! {
        {(0..count).map(|index| {
            let base = format!("{path}[{index}]");
            let remove_path = base.clone();
            let item = {
                let base = base.clone();
                Memo::new(move |_| doc.value_at(&base))
            };
            let fields = list.fields.clone();
            let lowercase = lowercase.clone();
            view! {
                <fieldset class="cluster">
                    <legend>{format!("{} {}", list.noun, index + 1)}</legend>
                    <div class="fields">
                        {fields.into_iter().map(|field| {
                            let path = format!("{base}.{}", field.key);
                            if field.shown_when.is_none() {
                                return view! { <JsonField doc path field/> }.into_any();
                            }
                            // Shown while the field it depends on holds its value.
                            let shown = {
                                let field = field.clone();
                                Memo::new(move |_| item.with(|item| field.shown_in(item.as_ref())))
                            };
                            (move || shown.get().then(|| view! { <JsonField doc path=path.clone() field=field.clone()/> })).into_any()
                        }).collect_view()}
                    </div>
                    {(count > list.min_items).then(|| view! {
                        <button type="button" class="secondary" on:click=move |_| doc.set_at(&remove_path, None)>{format!("Remove {lowercase} {}", index + 1)}</button>
                    })}
                </fieldset>
            }
        }).collect_view()}
        {(count == 0 && !empty.is_empty()).then(|| view! { <p class="muted">{empty}</p> })}
        <button type="button" class="secondary" on:click=move |_| doc.set_at(&add_path, Some(new_item.clone()))>
            {format!("Add {}", noun.to_lowercase())}
        </button>
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn items_are_counted_per_list() {
        assert_eq!(count_in(&json!({"preconditions": [{}, {}, {}]}), "preconditions"), 3);
        assert_eq!(count_in(&json!({}), "clusters"), 0);
    }
}
