//! The live clusters socket, `/api/v1/ws/clusters`. A client sends one `ClusterSubscribe`
//! (`{"application":"demo"}`); the server answers with the application's whole clusters view
//! at once and again after every change the caching agents see (instance health, capacity, new
//! or removed server groups). Whole views, not diffs: a client that reconnects is current with
//! the first message and never has to merge.
//!
//! That is megabytes per change for an application of 10,000 server groups, so a client may
//! ask for `{"application":"demo","expand":false}` instead: the first message sums up every
//! cluster (`ClusterChanges` with `snapshot: true`, no server groups, no instances), and after
//! that each message carries only the clusters that changed, summed up, and those removed. The
//! Clusters tab subscribes so; it reads the server groups of the few clusters it has open
//! itself, when the socket says they changed. A cluster is said to be removed only to a socket
//! that was sent it: a cluster of an account its caller may not read stays unnamed.

use std::collections::HashSet;

use app::error::AppError;
use app::model::auth::Caller;
use app::model::cluster::{ClusterChanges, ClusterEvent, ClusterHeader, ClusterKey, ClusterSubscribe};
use app::ssr::Services;
use axum::extract::{Extension, State};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use crate::engine::Engine;
use crate::http::Authenticated;
use crate::http::authenticate::{PresentedCredential, RECHECK_EVERY};
use crate::state::AppState;

pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Extension(credential): Extension<PresentedCredential>,
) -> Response {
    crate::ws::small_buffers(ws).on_upgrade(move |socket| async move {
        if let Err(error) = serve(socket, state.engine, state.services, caller, credential).await {
            tracing::debug!(%error, "clusters socket closed");
        }
    })
}

type Sink = futures_util::stream::SplitSink<WebSocket, Message>;

async fn send(sink: &mut Sink, event: &impl serde::Serialize) -> Result<(), axum::Error> {
    sink.send(Message::Text(serde_json::to_string(event).unwrap_or_default().into())).await
}

/// What a subscriber of `application` is sent: whole views, or changed clusters summed up
/// (with the clusters that subscriber was sent, so that it hears of their removal).
enum Form {
    Expanded,
    Summary { sent: HashSet<ClusterKey> },
}

impl Form {
    /// The first message, and the one after the socket fell behind: everything.
    async fn everything(&mut self, services: &Services, caller: &Caller, application: &str) -> Result<String, AppError> {
        Ok(match self {
            Form::Expanded => {
                let regions = services.clusters.clusters(caller, application).await?;
                serde_json::to_string(&ClusterEvent { application: application.to_string(), regions })
            }
            Form::Summary { sent } => {
                let clusters = services.clusters.cluster_headers(caller, application, None).await?;
                *sent = clusters.iter().map(ClusterHeader::key).collect();
                serde_json::to_string(&ClusterChanges { application: application.to_string(), snapshot: true, clusters, removed: Vec::new() })
            }
        }
        .unwrap_or_default())
    }

    /// After a change of `changed` clusters (sorted): what to send, if anything.
    async fn change(&mut self, services: &Services, caller: &Caller, application: &str, changed: &[ClusterKey]) -> Result<Option<String>, AppError> {
        let sent = match self {
            Form::Expanded => return self.everything(services, caller, application).await.map(Some),
            Form::Summary { sent } => sent,
        };
        // Filtered by account READ exactly as the REST call is.
        let headers = services.clusters.cluster_headers(caller, application, None).await?;
        let clusters: Vec<ClusterHeader> = headers.into_iter().filter(|header| changed.binary_search(&header.key()).is_ok()).collect();
        let still: HashSet<ClusterKey> = clusters.iter().map(ClusterHeader::key).collect();
        let removed: Vec<ClusterKey> = changed.iter().filter(|key| !still.contains(*key) && sent.contains(*key)).cloned().collect();
        for key in &removed {
            sent.remove(key);
        }
        sent.extend(still);
        if clusters.is_empty() && removed.is_empty() {
            return Ok(None);
        }
        let message = ClusterChanges { application: application.to_string(), snapshot: false, clusters, removed };
        Ok(Some(serde_json::to_string(&message).unwrap_or_default()))
    }
}

async fn serve(socket: WebSocket, engine: Engine, services: Services, mut caller: Caller, credential: PresentedCredential) -> Result<(), axum::Error> {
    let (mut sink, mut stream) = socket.split();
    let subscribe: ClusterSubscribe = loop {
        match stream.next().await {
            Some(Ok(Message::Text(text))) => match serde_json::from_str(&text) {
                Ok(subscribe) => break subscribe,
                Err(error) => {
                    let refusal = AppError::invalid("subscribe", format!("expected {{\"application\": ..., \"expand\": true or false}}: {error}"));
                    return send(&mut sink, &refusal.body()).await;
                }
            },
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            _ => return Ok(()),
        }
    };
    // Subscribe before reading the view, so no change falls between the two.
    let mut live = engine.clouds().cache.subscribe();
    let application = subscribe.application;
    let mut form = if subscribe.expand { Form::Expanded } else { Form::Summary { sent: HashSet::new() } };
    // The same checks as the REST call (application READ, accounts READ).
    let first = match form.everything(&services, &caller, &application).await {
        Ok(first) => first,
        Err(refusal) => return send(&mut sink, &refusal.body()).await,
    };
    sink.send(Message::Text(first.into())).await?;
    let mut recheck = tokio::time::interval(RECHECK_EVERY);
    loop {
        tokio::select! {
            // Roles, tokens, sessions and permissions change: look again, and close the socket
            // once its caller may no longer read the application.
            _ = recheck.tick() => {
                let Some(fresh) = credential.caller_now(&*services.auth).await else {
                    return sink.send(Message::Close(None)).await;
                };
                caller = fresh;
                // The summary: as cheap a read as the same checks allow.
                if services.clusters.cluster_headers(&caller, &application, Some("")).await.is_err() {
                    return sink.send(Message::Close(None)).await;
                }
            }
            received = live.recv() => match received {
                Ok(event) if event.application == application => {
                    match form.change(&services, &caller, &application, &event.clusters).await {
                        Ok(Some(message)) => sink.send(Message::Text(message.into())).await?,
                        Ok(None) => {}
                        Err(_) => return Ok(()),
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => {
                    // Changes were missed: everything again (a summary client reads it as such).
                    let Ok(message) = form.everything(&services, &caller, &application).await else { return Ok(()) };
                    sink.send(Message::Text(message.into())).await?;
                }
                Err(RecvError::Closed) => return Ok(()),
            },
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Ok(()),
                Some(Ok(_)) => {}
            },
        }
    }
}
