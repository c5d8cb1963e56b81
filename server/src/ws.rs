//! The live event socket, `/api/v1/ws`. A client sends one `Subscribe` (an execution or an
//! application, and the last sequence number it saw); the server sends every stored event after
//! it, oldest first, then live events as they happen, each exactly once and in order, so a
//! client that reconnects with its last `seq` misses nothing. It subscribes to live events
//! before reading the stored ones, so nothing falls between the two, and fills any gap in
//! sequence numbers from the store (events commit in sequence order, see `store::executions`).

use std::sync::Arc;

use app::error::AppError;
use app::model::auth::Caller;
use app::model::execution::{ExecutionEvent, Subscribe};
use app::ssr::{AuthService, ExecutionService};
use axum::extract::{Extension, State};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use crate::engine::Engine;
use crate::http::Authenticated;
use crate::http::authenticate::{PresentedCredential, RECHECK_EVERY};
use crate::state::AppState;

const PAGE: u32 = 500;

pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Extension(credential): Extension<PresentedCredential>,
) -> Response {
    ws.on_upgrade(move |socket| async move {
        let holder = Holder { caller: std::sync::Mutex::new(caller), credential, auth: state.services.auth.clone() };
        if let Err(error) = serve(socket, state.engine, state.services.executions, holder).await {
            tracing::debug!(%error, "event socket closed");
        }
    })
}

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("socket: {0}")]
    Socket(#[from] axum::Error),
    #[error("refused: {0}")]
    Refused(AppError),
}

fn wanted(subscribe: &Subscribe, event: &ExecutionEvent) -> bool {
    subscribe.execution.as_deref().is_none_or(|id| id == event.execution.id)
        && subscribe.application.as_deref().is_none_or(|app| app == event.execution.application)
}

/// Who the socket serves, as of the last look at their credential.
struct Holder {
    caller: std::sync::Mutex<Caller>,
    credential: PresentedCredential,
    auth: Arc<dyn AuthService>,
}

impl Holder {
    fn current(&self) -> Caller {
        self.caller.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Looks at the credential again: `false` once it no longer works.
    async fn refresh(&self) -> bool {
        match self.credential.caller_now(&*self.auth).await {
            Some(fresh) => {
                *self.caller.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
                true
            }
            None => false,
        }
    }
}

async fn serve(socket: WebSocket, engine: Engine, executions: Arc<dyn ExecutionService>, holder: Holder) -> Result<(), Error> {
    let (mut sink, mut stream) = socket.split();
    let subscribe: Subscribe = loop {
        match stream.next().await {
            Some(Ok(Message::Text(text))) => match serde_json::from_str(&text) {
                Ok(subscribe) => break subscribe,
                Err(error) => {
                    let refusal = AppError::invalid("subscribe", format!("expected {{\"execution\"|\"application\", \"after\"}}: {error}"));
                    sink.send(Message::Text(serde_json::to_string(&refusal.body()).unwrap_or_default().into())).await?;
                    return Err(Error::Refused(refusal));
                }
            },
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            _ => return Ok(()),
        }
    };
    // Authorized (READ on the application) by the service, here and on every catch-up.
    if let Err(refusal) = executions.events(&holder.current(), &subscribe, subscribe.after, 1).await {
        sink.send(Message::Text(serde_json::to_string(&refusal.body()).unwrap_or_default().into())).await?;
        return Err(Error::Refused(refusal));
    }

    let mut live = engine.subscribe();
    let mut last = subscribe.after;
    let send = async |sink: &mut futures_util::stream::SplitSink<WebSocket, Message>, event: &ExecutionEvent| {
        sink.send(Message::Text(serde_json::to_string(event).unwrap_or_default().into())).await
    };
    // Stored events first (also after a lag of the live channel).
    let catch_up = async |sink: &mut futures_util::stream::SplitSink<WebSocket, Message>, last: &mut i64| -> Result<(), Error> {
        loop {
            let events = executions.events(&holder.current(), &subscribe, *last, PAGE).await.map_err(Error::Refused)?;
            for event in &events {
                send(sink, event).await?;
                *last = event.seq;
            }
            if events.len() < PAGE as usize {
                return Ok(());
            }
        }
    };
    catch_up(&mut sink, &mut last).await?;
    // Events committed by other gennaker processes on the same database reach this one only
    // through the store: look there every second too.
    let mut sweep = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut recheck = tokio::time::interval(RECHECK_EVERY);
    loop {
        tokio::select! {
            _ = sweep.tick() => catch_up(&mut sink, &mut last).await?,
            // Roles, tokens and sessions change: look again, and the next catch-up checks the
            // application with what holds now (closing the socket when READ is gone).
            _ = recheck.tick() => {
                if !holder.refresh().await {
                    let _ = sink.send(Message::Close(None)).await;
                    return Ok(());
                }
                catch_up(&mut sink, &mut last).await?;
            }
            received = live.recv() => match received {
                Ok(event) if event.seq > last && wanted(&subscribe, &event) => {
                    // A gap means events committed by others (or out of order): fill it from the store.
                    if event.seq > last + 1 {
                        catch_up(&mut sink, &mut last).await?;
                    }
                    if event.seq > last {
                        send(&mut sink, &event).await?;
                        last = event.seq;
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => catch_up(&mut sink, &mut last).await?,
                Err(RecvError::Closed) => return Ok(()),
            },
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Ok(()),
                Some(Ok(_)) => {}
            },
        }
    }
}
