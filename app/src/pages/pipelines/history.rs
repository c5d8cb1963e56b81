//! The revision history under the pipeline editor: every saved revision of the pipeline being
//! edited (number, author, time), a line diff between any two of them (see [`super::diff`]),
//! and a Restore button per revision, which saves that revision's content as the newest one
//! and loads it into the editor. Needs the WASM, like the editor it belongs to.

use leptos::prelude::*;
use serde_json::Value;

use super::diff::{Line, lines};
use super::document::{Document, pretty, text_of};
use crate::api::pipelines::{pipeline_history, restore_pipeline};
use crate::components::ErrorMessage;
use crate::error::AppError;
use crate::model::pipeline::{Pipeline, PipelineRevision};
use crate::model::time::format_utc;

type Restore = Action<(String, String, i64), Result<Pipeline, AppError>>;

/// `refresh` changes whenever the pipeline was saved, so the list shows the new revision.
#[component]
pub fn RevisionHistory(application: String, doc: Document, refresh: RwSignal<u32>, on_restored: Callback<Pipeline>) -> impl IntoView {
    let pipeline_id = Memo::new(move |_| doc.with(|root| root.map(|root| text_of(root, "id")).unwrap_or_default()));
    let source_application = application.clone();
    let history = Resource::new(
        move || (source_application.clone(), pipeline_id.get(), refresh.get()),
        |(application, id, _)| async move { if id.is_empty() { Ok(Vec::new()) } else { pipeline_history(application, id).await } },
    );
    let restore: Restore = Action::new(|(application, id, revision): &(String, String, i64)| {
        restore_pipeline(application.clone(), id.clone(), *revision)
    });
    Effect::new(move |_| {
        if let Some(Ok(pipeline)) = restore.value().get() {
            on_restored.run(pipeline);
        }
    });
    view! {
        <section class="revision-history" aria-labelledby="revision-history-title">
            <h3 id="revision-history-title">"Revision history"</h3>
            <Transition fallback=|| view! { <p>"Loading revisions…"</p> }>
                {move || {
                    let application = application.clone();
                    Suspend::new(async move {
                        match history.await {
                            Ok(revisions) if revisions.is_empty() => {
                                view! { <p class="muted">"Save the pipeline, or pick one to edit, to see its revisions."</p> }.into_any()
                            }
                            Ok(revisions) => view! { <RevisionList application pipeline=pipeline_id.get_untracked() revisions restore/> }.into_any(),
                            Err(error) => view! { <ErrorMessage error/> }.into_any(),
                        }
                    })
                }}
            </Transition>
            {move || match restore.value().get() {
                Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                Some(Ok(pipeline)) => view! { <p class="notice" role="status">"Restored as revision " {pipeline.revision} "."</p> }.into_any(),
                None => ().into_any(),
            }}
        </section>
    }
}

/// The revisions, newest first, with the diff between the two chosen for comparison.
#[component]
fn RevisionList(application: String, pipeline: String, revisions: Vec<PipelineRevision>, restore: Restore) -> impl IntoView {
    let chosen = RwSignal::new(Vec::<i64>::new());
    let numbers: Vec<i64> = revisions.iter().map(|revision| revision.revision).collect();
    // What is compared: the revisions ticked, topped up with the newest ones, so the latest
    // change shows without any click.
    let compared = {
        let numbers = numbers.clone();
        Memo::new(move |_| {
            let mut pair: Vec<i64> = chosen.get().into_iter().filter(|n| numbers.contains(n)).collect();
            for n in &numbers {
                if pair.len() >= 2 {
                    break;
                }
                if !pair.contains(n) {
                    pair.push(*n);
                }
            }
            pair.sort_unstable();
            pair
        })
    };
    let toggle = move |revision: i64, on: bool| {
        let mut pair = compared.get_untracked();
        pair.retain(|n| *n != revision);
        if on {
            // Ticking a third drops the one ticked earliest.
            if pair.len() >= 2 {
                pair.remove(0);
            }
            pair.push(revision);
        }
        chosen.set(pair);
    };
    let texts: Vec<(i64, String)> = revisions.iter().map(|revision| (revision.revision, comparable(&revision.pipeline))).collect();
    let diff = move || {
        let pair = compared.get();
        let [old, new] = pair.as_slice() else { return ().into_any() };
        let text = |n: i64| texts.iter().find(|(revision, _)| *revision == n).map(|(_, text)| text.as_str()).unwrap_or_default();
        view! { <DiffView old=*old new=*new diff=lines(text(*old), text(*new))/> }.into_any()
    };
    view! {
        <table class="table revisions" aria-label="Revisions">
            <thead><tr><th>"Compare"</th><th>"Revision"</th><th>"Saved by"</th><th>"Saved at"</th><th></th></tr></thead>
            <tbody>
                {revisions.iter().map(|revision| {
                    let number = revision.revision;
                    let (application, pipeline) = (application.clone(), pipeline.clone());
                    view! {
                        <tr>
                            <td><input type="checkbox" aria-label=format!("Compare revision {number}")
                                prop:checked=move || compared.read().contains(&number)
                                on:change=move |e| toggle(number, event_target_checked(&e))/></td>
                            <td>{number}</td>
                            <td>{revision.last_modified_by.clone()}</td>
                            <td>{format_utc(revision.update_ts)}</td>
                            <td><button type="button" class="secondary" aria-label=format!("Restore revision {number}")
                                disabled=move || restore.pending().get()
                                on:click=move |_| { restore.dispatch((application.clone(), pipeline.clone(), number)); }>"Restore"</button></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        {diff}
    }
}

/// A revision's JSON as compared: the bookkeeping every save changes (revision number, time,
/// author) is left out, as the table already shows it and it would make every diff non-empty.
fn comparable(pipeline: &Pipeline) -> String {
    let mut value = serde_json::to_value(pipeline).unwrap_or_default();
    if let Value::Object(map) = &mut value {
        for key in ["revision", "updateTs", "lastModifiedBy"] {
            map.remove(key);
        }
    }
    pretty(&value)
}

/// Added lines in `<ins>`, removed ones in `<del>` (roles insertion and deletion for assistive
/// technology); the +/- signs are for the eye only.
#[component]
fn DiffView(old: i64, new: i64, diff: Vec<Line>) -> impl IntoView {
    let (added, removed) = diff.iter().fold((0, 0), |(a, r), line| match line {
        Line::Added(_) => (a + 1, r),
        Line::Removed(_) => (a, r + 1),
        Line::Same(_) => (a, r),
    });
    view! {
        <p class="muted">{format!("Revision {old} to revision {new}: {added} lines added, {removed} removed.")}</p>
        <ol class="diff" aria-label=format!("Changes from revision {old} to revision {new}")>
            {diff.into_iter().map(|line| {
                let (sign, text) = (line.sign(), line.text().to_string());
                match line {
                    Line::Added(_) => view! { <li class="diff-added"><span class="sign" aria-hidden="true">{sign}</span><ins>{text}</ins></li> }.into_any(),
                    Line::Removed(_) => view! { <li class="diff-removed"><span class="sign" aria-hidden="true">{sign}</span><del>{text}</del></li> }.into_any(),
                    Line::Same(_) => view! { <li class="diff-same"><span class="sign" aria-hidden="true">{sign}</span><span>{text}</span></li> }.into_any(),
                }
            }).collect_view()}
        </ol>
    }
}
