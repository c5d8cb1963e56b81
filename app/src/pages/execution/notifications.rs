//! The notifications sent for a run, on its execution page: for each, the event, the stage,
//! the channel, the recipient (never a secret's value: `secret:<name>`), whether it was sent,
//! after how many attempts, and why it failed.

use leptos::prelude::*;

use crate::model::notification::{Channel, NotificationRecord};
use crate::model::time::format_utc;

fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => "email",
        Channel::Slack => "slack",
        Channel::Teams => "teams",
        Channel::Googlechat => "googlechat",
        Channel::Sms => "sms",
        Channel::Webhook => "webhook",
        Channel::Hipchat => "hipchat",
    }
}

#[component]
pub fn NotificationLog(records: Vec<NotificationRecord>) -> impl IntoView {
    view! {
        <section class="notification-log" aria-labelledby="notification-log-title">
            <h2 id="notification-log-title">"Notifications"</h2>
            <table class="list" aria-label="Notifications sent">
                <thead>
                    <tr><th>"Event"</th><th>"Stage"</th><th>"Type"</th><th>"To"</th><th>"Status"</th><th>"Attempts"</th><th>"Error"</th><th>"At"</th></tr>
                </thead>
                <tbody>
                    {records.into_iter().map(|record| {
                        let class = if record.status == "sent" { "badge status-succeeded" } else { "badge status-failed" };
                        view! {
                            <tr>
                                <td>{record.event}</td>
                                <td>{record.stage.unwrap_or_default()}</td>
                                <td>{channel_name(record.channel)}</td>
                                <td><code>{record.to}</code></td>
                                <td><span class=class>{record.status}</span></td>
                                <td>{record.attempts}</td>
                                <td class="stage-error">{record.error.unwrap_or_default()}</td>
                                <td>{format_utc(record.at)}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}
