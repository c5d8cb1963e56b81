//! Live clusters in the browser: a socket to `/api/v1/ws/clusters` subscribed to one
//! application. The server answers with the application's whole clusters view at once and again
//! after every change, so each event simply replaces what the page shows, and a reconnect (one
//! second after a drop) needs no bookkeeping. A refusal (`{"error": ...}`) is reported and ends
//! the watch: asking again would be refused again.

use super::socket::{Next, keep_open};
use crate::error::ErrorBody;
use crate::model::cluster::{ClusterEvent, ClusterSubscribe};

/// Watches `application`'s clusters until the calling component is cleaned up.
pub fn watch_clusters(application: String, on_event: impl Fn(ClusterEvent) + 'static, on_refused: impl Fn(String) + 'static) {
    let hello = serde_json::to_string(&ClusterSubscribe { application }).unwrap_or_default();
    keep_open("/api/v1/ws/clusters", move || hello.clone(), move |text| {
        if let Ok(event) = serde_json::from_str::<ClusterEvent>(text) {
            on_event(event);
        } else if let Ok(refusal) = serde_json::from_str::<ErrorBody>(text) {
            on_refused(refusal.error.message);
            return Next::Stop;
        }
        Next::Continue
    });
}
