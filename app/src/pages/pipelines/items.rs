//! What the Triggers and Notifications sections share: the list of a pipeline's items, each a
//! row with its type, a one-line summary, Edit (which shows its inputs) and Remove.

use leptos::prelude::*;
use serde_json::Value;

use super::document::Document;

/// `(index, type)` of each item of `list`. While the JSON does not parse it keeps the last
/// list, so the rows (and which of them are open) survive a half-typed edit of the text.
pub fn listed(doc: Document, list: &'static str) -> Memo<Vec<(usize, String)>> {
    Memo::new(move |previous: Option<&Vec<(usize, String)>>| {
        if doc.parses() {
            doc.kinds(list).into_iter().enumerate().collect()
        } else {
            previous.cloned().unwrap_or_default()
        }
    })
}

/// One item of `list` in the document. `shown` are the keys whose inputs show their own save
/// errors; an error naming any other part of the item (its `type`, or the item itself when it
/// does not parse) shows in the row. A row with an error opens, so the error is seen next to
/// its input. `children` are the item's inputs; `head` goes before Edit (an Enabled toggle).
#[component]
pub fn ListedItem(
    doc: Document,
    list: &'static str,
    noun: &'static str,
    index: usize,
    kind: String,
    summary: fn(&Value) -> String,
    shown: Vec<&'static str>,
    #[prop(optional, into)] head: ViewFn,
    children: Children,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let prefix = format!("{list}[{index}]");
    let fields_id = format!("{list}-{index}-fields");
    let number = index + 1;
    let problem = {
        let prefix = prefix.clone();
        Memo::new(move |_| doc.problem_under(&prefix))
    };
    Effect::new(move |_| {
        if problem.with(Option::is_some) {
            open.set(true);
        }
    });
    let row_problem = move || {
        problem.get().and_then(|(field, message)| {
            let first = field.split(['.', '[']).next().unwrap_or_default();
            (!shown.contains(&first)).then_some(message)
        })
    };
    let text = move || doc.with(|root| root.and_then(|root| root.get(list)?.get(index)).map(summary).unwrap_or_default());
    view! {
        <li class="item" aria-label=format!("{} {number}: {kind}", capitalised(noun))>
            <div class="item-head">
                <span class="kind">{kind.clone()}</span>
                <span class="summary">{text}</span>
                {head.run()}
                <button type="button" class="secondary" aria-expanded=move || open.get().to_string() aria-controls=fields_id.clone()
                    aria-label=move || format!("{} {noun} {number}", if open.get() { "Close" } else { "Edit" }) on:click=move |_| open.update(|open| *open = !*open)>
                    {move || if open.get() { "Close" } else { "Edit" }}
                </button>
                <button type="button" class="secondary" aria-label=format!("Remove {noun} {number}") on:click=move |_| doc.remove(list, index)>
                    "Remove"
                </button>
            </div>
            {move || row_problem().map(|message| view! { <p class="field-error">{message}</p> })}
            <div class="item-fields" id=fields_id hidden=move || !open.get()>
                {children()}
            </div>
        </li>
    }
}

fn capitalised(noun: &str) -> String {
    let mut chars = noun.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
