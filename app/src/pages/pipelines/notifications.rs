//! The Notifications section of the pipeline editor: the pipeline's `notifications` listed
//! (channel, recipient, events, Edit, Remove) and a form to add one: the channel, an address or
//! the secret holding it, the events that send it, and optional text per event. Like the
//! Triggers section it writes into the pipeline's JSON at once.

use leptos::prelude::*;
use serde_json::{Map, Value};

use super::document::{Document, Item, text_of};
use super::inputs::{ChecksInput, MessageInput, SelectInput, TextInput};
use super::items::{ListedItem, listed};
use crate::error::AppError;
use crate::model::notification::{EVENTS, NotificationConfig};

/// The channels of [`crate::model::notification::Channel`], as written in JSON.
const CHANNELS: &[&str] = &["email", "slack", "teams", "googlechat", "sms", "webhook", "hipchat"];

/// The keys whose inputs a notification shows (`message.*` errors show in the row).
const SHOWN: &[&str] = &["type", "address", "secretName", "when"];

fn fresh(channel: &str) -> Map<String, Value> {
    let mut notification = Map::new();
    notification.insert("type".into(), Value::String(channel.to_string()));
    notification.insert("address".into(), Value::String(String::new()));
    notification.insert("when".into(), Value::Array(vec![Value::String("pipeline.failed".into())]));
    notification
}

/// One line saying who hears about what.
pub fn summary(notification: &Value) -> String {
    let to = match (text_of(notification, "address"), text_of(notification, "secretName")) {
        (_, secret) if !secret.is_empty() => format!("the address in secret {secret}"),
        (address, _) if !address.is_empty() => address,
        _ => "nobody yet".to_string(),
    };
    let when: Vec<&str> = notification.get("when").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let when = if when.is_empty() { "no events yet".to_string() } else { when.join(", ") };
    let custom = notification.get("message").and_then(Value::as_object).map_or(0, |messages| messages.len());
    let custom = if custom == 0 { String::new() } else { format!(" (custom text for {custom})") };
    format!("to {to} on {when}{custom}")
}

#[component]
pub fn NotificationsEditor(doc: Document) -> impl IntoView {
    let notifications = listed(doc, "notifications");
    view! {
        <section class="items-editor" aria-labelledby="notifications-title">
            <h3 id="notifications-title">"Notifications"</h3>
            <fieldset class="plain" disabled=move || !doc.parses()>
                {move || notifications.with(Vec::is_empty).then(|| view! { <p class="empty">"No notifications."</p> })}
                <ol class="items" aria-label="Notifications">
                    <For each=move || notifications.get() key=|pair| pair.clone() children=move |(index, kind)| {
                        let item = Item::Listed { doc, list: "notifications", index };
                        view! {
                            <ListedItem doc list="notifications" noun="notification" index kind summary shown=SHOWN.to_vec()>
                                <NotificationFields item/>
                            </ListedItem>
                        }
                    }/>
                </ol>
                <AddNotification doc/>
            </fieldset>
        </section>
    }
}

#[component]
fn NotificationFields(item: Item) -> impl IntoView {
    // A memo: typing a message must not rebuild the message inputs.
    let events = Memo::new(move |_| item.texts("when"));
    view! {
        <div class="fields">
            <SelectInput item key="type" label="Channel" options=CHANNELS/>
            <TextInput item key="address" label="Address" placeholder="email, phone number or URL"/>
            <TextInput item key="secretName" label="Secret name (holds the address instead)"/>
        </div>
        <ChecksInput item key="when" legend="Send when" options=EVENTS/>
        <div class="fields">
            {move || events.get().into_iter().map(|event| view! { <MessageInput item event/> }).collect_view()}
        </div>
    }
}

#[component]
fn AddNotification(doc: Document) -> impl IntoView {
    let fields = RwSignal::new(fresh("email"));
    let problem = RwSignal::new(None::<AppError>);
    let item = Item::New { list: "notifications", fields, problem };
    let added = RwSignal::new(String::new());
    // Checked here with the model's own rules, so a missing address is named before saving.
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let notification = Value::Object(fields.get_untracked());
        let checked = serde_json::from_value::<NotificationConfig>(notification.clone())
            .map_err(|error| AppError::Invalid { field: None, message: error.to_string() })
            .and_then(|config| config.check().map_err(|(field, message)| AppError::invalid(field, message)));
        match checked {
            Err(error) => problem.set(Some(error)),
            Ok(()) => {
                let channel = item.text("type");
                doc.push("notifications", notification);
                added.set(format!("The {channel} notification is added; save the pipeline to keep it."));
                fields.set(fresh(&channel));
                problem.set(None);
            }
        }
    };
    let general = move || problem.with(|problem| problem.as_ref().filter(|error| error.field().is_none()).map(ToString::to_string));
    view! {
        <form class="item-form" aria-label="Add notification" on:submit=submit>
            <h4>"Add a notification"</h4>
            <NotificationFields item/>
            {move || general().map(|message| view! { <p class="field-error">{message}</p> })}
            <div class="actions">
                <button type="submit">"Add notification"</button>
                <span class="muted" aria-live="polite">{move || added.get()}</span>
            </div>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_fresh_notification_reads_as_one_and_needs_an_address() {
        let config: NotificationConfig = serde_json::from_value(Value::Object(fresh("email"))).unwrap();
        assert_eq!(config.check().unwrap_err().0, "address");
        assert_eq!(CHANNELS.len(), 7);
        for channel in CHANNELS {
            assert!(serde_json::from_value::<NotificationConfig>(Value::Object(fresh(channel))).is_ok(), "{channel}");
        }
    }

    #[test]
    fn summaries_say_who_hears_what() {
        let slack = json!({"type": "slack", "secretName": "chat", "when": ["pipeline.failed"], "message": {"pipeline.failed": {"text": "x"}}});
        assert_eq!(summary(&slack), "to the address in secret chat on pipeline.failed (custom text for 1)");
    }
}
