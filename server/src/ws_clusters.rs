//! The live clusters socket, `/api/v1/ws/clusters`. A client sends one `ClusterSubscribe`
//! (`{"application":"demo"}`); the server answers with the application's whole clusters view
//! at once and again after every change the caching agents see (instance health, capacity, new
//! or removed server groups). Whole views, not diffs: a client that reconnects is current with
//! the first message and never has to merge.

use app::error::AppError;
use app::model::auth::Caller;
use app::model::cluster::{ClusterEvent, ClusterSubscribe};
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
    ws.on_upgrade(move |socket| async move {
        if let Err(error) = serve(socket, state.engine, state.services, caller, credential).await {
            tracing::debug!(%error, "clusters socket closed");
        }
    })
}

async fn send(sink: &mut futures_util::stream::SplitSink<WebSocket, Message>, event: &ClusterEvent) -> Result<(), axum::Error> {
    sink.send(Message::Text(serde_json::to_string(event).unwrap_or_default().into())).await
}

async fn serve(socket: WebSocket, engine: Engine, services: Services, mut caller: Caller, credential: PresentedCredential) -> Result<(), axum::Error> {
    let (mut sink, mut stream) = socket.split();
    let subscribe: ClusterSubscribe = loop {
        match stream.next().await {
            Some(Ok(Message::Text(text))) => match serde_json::from_str(&text) {
                Ok(subscribe) => break subscribe,
                Err(error) => {
                    let refusal = AppError::invalid("subscribe", format!("expected {{\"application\": ...}}: {error}"));
                    return sink.send(Message::Text(serde_json::to_string(&refusal.body()).unwrap_or_default().into())).await;
                }
            },
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            _ => return Ok(()),
        }
    };
    // Subscribe before reading the view, so no change falls between the two.
    let mut live = engine.clouds().cache.subscribe();
    // The same checks as the REST call (application READ, accounts READ).
    let view = match services.clusters.clusters(&caller, &subscribe.application).await {
        Ok(view) => view,
        Err(refusal) => {
            return sink.send(Message::Text(serde_json::to_string(&refusal.body()).unwrap_or_default().into())).await;
        }
    };
    send(&mut sink, &ClusterEvent { application: subscribe.application.clone(), regions: view }).await?;
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
                if services.clusters.clusters(&caller, &subscribe.application).await.is_err() {
                    return sink.send(Message::Close(None)).await;
                }
            }
            received = live.recv() => match received {
                Ok(event) if event.application == subscribe.application => {
                    // Filter by account READ exactly as the REST call does.
                    let regions = match services.clusters.clusters(&caller, &subscribe.application).await {
                        Ok(regions) => regions,
                        Err(_) => return Ok(()),
                    };
                    send(&mut sink, &ClusterEvent { application: event.application, regions }).await?;
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => {
                    let regions = services.clusters.clusters(&caller, &subscribe.application).await.unwrap_or_default();
                    send(&mut sink, &ClusterEvent { application: subscribe.application.clone(), regions }).await?;
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
