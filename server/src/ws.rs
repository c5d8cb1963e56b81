//! The live event socket, `/api/v1/ws`. A client sends one `Subscribe` (an execution or an
//! application, and the last sequence number it saw); the server sends every stored event after
//! it, oldest first, then live events as they happen, each exactly once and in order, so a
//! client that reconnects with its last `seq` misses nothing. It registers with the process's
//! event hub (`event_hub`: events encoded once, in sequence order, from every instance) before
//! reading the stored ones, so nothing falls between the two. A socket too slow to keep up is
//! closed with the sequence number to resume after, rather than buffered without end.

use std::sync::Arc;

use app::error::AppError;
use app::model::auth::Caller;
use app::model::execution::Subscribe;
use app::ssr::{AuthService, ExecutionService};
use axum::extract::{Extension, State};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};

use crate::event_hub::EventHub;
use crate::http::Authenticated;
use crate::http::authenticate::{PresentedCredential, RECHECK_EVERY};
use crate::state::AppState;

const PAGE: u32 = 500;

/// A watcher mostly listens: the default buffers (128 KiB to read, and as much to write) would
/// make each idle socket cost more than its events ever need. Frames larger than these buffers
/// still pass (they grow for the frame and shrink back).
pub fn small_buffers(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.read_buffer_size(4 * 1024).write_buffer_size(0).max_write_buffer_size(1024 * 1024)
}

pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Extension(credential): Extension<PresentedCredential>,
) -> Response {
    crate::ws::small_buffers(ws).on_upgrade(move |socket| async move {
        let holder = Holder { caller: std::sync::Mutex::new(caller), credential, auth: state.services.auth.clone() };
        if let Err(error) = serve(socket, state.events, state.services.executions, holder).await {
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

async fn serve(socket: WebSocket, hub: EventHub, executions: Arc<dyn ExecutionService>, holder: Holder) -> Result<(), Error> {
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
    let application = match (&subscribe.execution, &subscribe.application) {
        (Some(id), _) => executions.get(&holder.current(), id).await.map_err(Error::Refused)?.application,
        (None, Some(application)) => application.clone(),
        (None, None) => return Ok(()),
    };

    // Registered before catching up, so nothing committed in between is missed; what arrives
    // twice is told apart by its sequence number.
    let mut watch = hub.watch(&application, subscribe.execution.as_deref());
    let mut last = subscribe.after;
    // Stored events first, a page at a time.
    let catch_up = async |sink: &mut futures_util::stream::SplitSink<WebSocket, Message>, last: &mut i64| -> Result<(), Error> {
        loop {
            let events = executions.events(&holder.current(), &subscribe, *last, PAGE).await.map_err(Error::Refused)?;
            for event in &events {
                sink.send(Message::Text(serde_json::to_string(event).unwrap_or_default().into())).await?;
                *last = event.seq;
            }
            if events.len() < PAGE as usize {
                return Ok(());
            }
        }
    };
    catch_up(&mut sink, &mut last).await?;
    let mut recheck = tokio::time::interval(RECHECK_EVERY);
    recheck.reset();
    loop {
        tokio::select! {
            // Roles, tokens and sessions change: look again, and close the socket once the
            // credential no longer works or READ on the application is gone.
            _ = recheck.tick() => {
                if !holder.refresh().await || executions.events(&holder.current(), &subscribe, last, 1).await.is_err() {
                    let _ = sink.send(Message::Close(None)).await;
                    return Ok(());
                }
            }
            frame = watch.frames.recv() => match frame {
                Some(frame) if frame.seq > last => {
                    last = frame.seq;
                    sink.send(Message::Text(frame.text)).await?;
                }
                Some(_) => {}
                // Dropped as too slow: say where to resume (the browser resubscribes from the
                // last event it has) and close.
                None => {
                    let hint = serde_json::json!({"error": "slow", "message": "this socket fell too far behind and was closed; subscribe again with after", "resumeAfter": last});
                    let _ = sink.send(Message::Text(hint.to_string().into())).await;
                    let _ = sink.send(Message::Close(Some(axum::extract::ws::CloseFrame { code: 1013, reason: "too slow; resubscribe".into() }))).await;
                    return Ok(());
                }
            },
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Ok(()),
                Some(Ok(_)) => {}
            },
        }
    }
}
