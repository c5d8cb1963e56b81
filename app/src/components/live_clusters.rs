//! Live clusters in the browser: a socket to `/api/v1/ws/clusters` subscribed to one
//! application, in one of its two forms. [`watch_clusters`] gets the application's whole
//! clusters view at once and again after every change, so each event simply replaces what the
//! page shows (the Overview's table). [`watch_cluster_changes`] gets the summary form
//! (`"expand": false`): every cluster summed up at first (a snapshot), then only the clusters
//! that changed, summed up, and those removed; never server groups or instances, so an
//! application of 10,000 server groups costs a browser a few hundred bytes per change (the
//! Clusters tab). A reconnect (one second after a drop) starts again with the whole view or a
//! snapshot. A refusal (`{"error": ...}`) is reported and ends the watch: asking again would be
//! refused again.

use serde::de::DeserializeOwned;

use super::socket::{Next, keep_open};
use crate::error::ErrorBody;
use crate::model::cluster::{ClusterChanges, ClusterEvent, ClusterSubscribe};

/// Watches `application`'s whole clusters view until the calling component is cleaned up.
pub fn watch_clusters(application: String, on_event: impl Fn(ClusterEvent) + 'static, on_refused: impl Fn(String) + 'static) {
    watch(ClusterSubscribe { application, expand: true }, on_event, on_refused);
}

/// Watches `application`'s clusters, summed up, until the calling component is cleaned up.
pub fn watch_cluster_changes(application: String, on_changes: impl Fn(ClusterChanges) + 'static, on_refused: impl Fn(String) + 'static) {
    watch(ClusterSubscribe { application, expand: false }, on_changes, on_refused);
}

fn watch<T: DeserializeOwned>(subscribe: ClusterSubscribe, on_message: impl Fn(T) + 'static, on_refused: impl Fn(String) + 'static) {
    let hello = serde_json::to_string(&subscribe).unwrap_or_default();
    keep_open("/api/v1/ws/clusters", move || hello.clone(), move |text| {
        if let Ok(message) = serde_json::from_str::<T>(text) {
            on_message(message);
        } else if let Ok(refusal) = serde_json::from_str::<ErrorBody>(text) {
            on_refused(refusal.error.message);
            return Next::Stop;
        }
        Next::Continue
    });
}
