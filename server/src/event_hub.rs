//! Live execution events, followed once per process and fanned out to every watcher (the event
//! socket, `ws`): each event is encoded to JSON once and the same bytes go to each socket
//! watching its application or execution.
//!
//! One task follows the event log in sequence order. Events this process commits arrive through
//! the engine's channel; events other instances commit are read from the store when PostgreSQL
//! says some were committed (LISTEN/NOTIFY, `store::notices`), when a gap in sequence numbers
//! shows some are missing, or at the latest by a sweep every few seconds, the fallback. A socket
//! no longer looks at the store on its own except to catch up when it subscribes.
//!
//! Each watcher has a bounded queue. A watcher whose queue is full (a slow or stuck client) is
//! dropped rather than buffered without end: its socket closes saying after which sequence
//! number to resume, and the browser resubscribes from there, missing nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use app::model::execution::ExecutionEvent;
use axum::extract::ws::Utf8Bytes;
use tokio::sync::{broadcast, mpsc};

use crate::store::Store;

/// How many encoded events may wait for one watcher before it is dropped as too slow.
pub const WATCHER_QUEUE: usize = 256;
/// The fallback: how often the store is asked for events nobody announced.
const SWEEP: Duration = Duration::from_secs(5);
/// Events read from the store per query.
const PAGE: u32 = 500;

/// One event, encoded once, shared by every watcher it goes to.
#[derive(Debug, Clone)]
pub struct Frame {
    pub seq: i64,
    pub text: Utf8Bytes,
}

struct Watcher {
    /// Only this execution's events (else all of the application's).
    execution: Option<String>,
    frames: mpsc::Sender<Frame>,
}

#[derive(Default)]
struct Inner {
    /// Watchers by application, then by id: an event reaches only its application's.
    watchers: Mutex<HashMap<String, HashMap<u64, Watcher>>>,
    next_id: AtomicU64,
    /// Events dispatched and watchers dropped as slow, for tests and `/metrics`.
    dispatched: AtomicU64,
    dropped: AtomicU64,
}

/// The process's live events; cheap to clone.
#[derive(Clone)]
pub struct EventHub {
    inner: Arc<Inner>,
}

/// One watcher's registration: frames arrive on `frames`; dropping it unregisters. `frames`
/// ends (`None`) when the watcher was dropped as too slow.
pub struct Watch {
    pub frames: mpsc::Receiver<Frame>,
    id: u64,
    application: String,
    hub: Weak<Inner>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(inner) = self.hub.upgrade() {
            let mut watchers = inner.watchers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(group) = watchers.get_mut(&self.application) {
                group.remove(&self.id);
                if group.is_empty() {
                    watchers.remove(&self.application);
                }
            }
        }
    }
}

impl EventHub {
    /// Starts following: `live` is the engine's channel of events this process commits,
    /// `notices` the sequence numbers other instances announce (PostgreSQL), if any. The
    /// follower stops when the last clone of the hub is dropped.
    pub fn start(store: Store, live: broadcast::Receiver<ExecutionEvent>, notices: Option<mpsc::Receiver<i64>>) -> Self {
        let inner = Arc::new(Inner::default());
        tokio::spawn(follow(Arc::downgrade(&inner), store, live, notices));
        Self { inner }
    }

    /// Registers a watcher of `application` (only `execution`'s events, if given). Register
    /// before catching up from the store: nothing committed in between is missed (events seen
    /// twice are told apart by their sequence numbers).
    pub fn watch(&self, application: &str, execution: Option<&str>) -> Watch {
        let (sender, frames) = mpsc::channel(WATCHER_QUEUE);
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let watcher = Watcher { execution: execution.map(str::to_string), frames: sender };
        self.inner.watchers.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).entry(application.to_string()).or_default().insert(id, watcher);
        Watch { frames, id, application: application.to_string(), hub: Arc::downgrade(&self.inner) }
    }

    /// How many watchers are registered now.
    pub fn watchers(&self) -> usize {
        self.inner.watchers.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).values().map(HashMap::len).sum()
    }

    /// Events encoded and sent so far, and watchers dropped for being too slow.
    pub fn counts(&self) -> (u64, u64) {
        (self.inner.dispatched.load(Ordering::Relaxed), self.inner.dropped.load(Ordering::Relaxed))
    }
}

/// Sends `event` to its watchers: encoded once, only if someone watches its application.
fn dispatch(inner: &Inner, event: &ExecutionEvent) {
    let mut watchers = inner.watchers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let Some(group) = watchers.get_mut(event.change.application()) else { return };
    let frame = Frame { seq: event.seq, text: Utf8Bytes::from(serde_json::to_string(event).unwrap_or_default()) };
    inner.dispatched.fetch_add(1, Ordering::Relaxed);
    group.retain(|_, watcher| {
        if watcher.execution.as_deref().is_some_and(|id| id != event.change.execution_id()) {
            return true;
        }
        match watcher.frames.try_send(frame.clone()) {
            Ok(()) => true,
            // Full: too slow, dropped (its socket resumes from what it last sent). Closed: gone.
            Err(mpsc::error::TrySendError::Full(_)) => {
                inner.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    });
    if group.is_empty() {
        watchers.remove(event.change.application());
    }
}

/// Reads every stored event after `last` and dispatches it.
async fn fill(inner: &Inner, store: &Store, last: &mut i64) {
    loop {
        let events = match store.events_after(None, None, *last, PAGE).await {
            Ok(events) => events,
            Err(error) => {
                tracing::warn!(%error, "live events: cannot read the event log; trying again at the next sweep");
                return;
            }
        };
        for event in &events {
            dispatch(inner, event);
            *last = event.seq;
        }
        if events.len() < PAGE as usize {
            return;
        }
    }
}

async fn follow(inner: Weak<Inner>, store: Store, mut live: broadcast::Receiver<ExecutionEvent>, mut notices: Option<mpsc::Receiver<i64>>) {
    // From now on: a watcher catches up on what came before from the store itself.
    let mut last = match store.latest_event_seq().await {
        Ok(seq) => seq,
        Err(error) => {
            tracing::warn!(%error, "live events: cannot read the event log's end; following from the start");
            0
        }
    };
    let mut sweep = tokio::time::interval(SWEEP);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    enum Woke {
        Live(Result<ExecutionEvent, broadcast::error::RecvError>),
        Notice(Option<i64>),
        Sweep,
    }
    loop {
        let woke = {
            let notice = async {
                match notices.as_mut() {
                    Some(notices) => notices.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                received = live.recv() => Woke::Live(received),
                notice = notice => Woke::Notice(notice),
                _ = sweep.tick() => Woke::Sweep,
            }
        };
        let Some(inner) = inner.upgrade() else { return };
        match woke {
            Woke::Live(Ok(event)) => {
                // A gap: events committed elsewhere (or published out of order) come first.
                if event.seq > last + 1 {
                    fill(&inner, &store, &mut last).await;
                }
                if event.seq > last {
                    dispatch(&inner, &event);
                    last = event.seq;
                }
            }
            Woke::Live(Err(broadcast::error::RecvError::Lagged(_))) => fill(&inner, &store, &mut last).await,
            Woke::Live(Err(broadcast::error::RecvError::Closed)) => return,
            Woke::Notice(Some(seq)) => {
                if seq > last {
                    fill(&inner, &store, &mut last).await;
                }
            }
            Woke::Notice(None) => notices = None,
            Woke::Sweep => fill(&inner, &store, &mut last).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64, application: &str, execution: &str) -> ExecutionEvent {
        let execution = serde_json::from_value(serde_json::json!({
            "id": execution, "application": application, "pipelineConfigId": "p", "name": "release", "status": "RUNNING",
            "trigger": {"type": "manual", "user": "someone"}, "stages": [], "buildTime": 1, "startTime": 1, "endTime": null,
            "limitConcurrent": false, "keepWaitingPipelines": false
        }))
        .expect("an execution");
        ExecutionEvent { seq, ts: 1, change: app::model::execution::Change::Execution(execution) }
    }

    /// Removes the test's database folder when dropped.
    struct Folder(std::path::PathBuf);

    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    async fn hub() -> (EventHub, broadcast::Sender<ExecutionEvent>, Folder) {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!("gennaker-hub-test-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir_all(&dir).unwrap();
        let url = crate::config::DatabaseUrl(format!("sqlite://{}/hub.db?mode=rwc", dir.display()));
        let store = Store::open(&url).await.unwrap();
        let (live, receiver) = broadcast::channel(4096);
        (EventHub::start(store, receiver, None), live, Folder(dir))
    }

    async fn next(watch: &mut Watch) -> Option<Frame> {
        tokio::time::timeout(Duration::from_secs(2), watch.frames.recv()).await.ok().flatten()
    }

    #[tokio::test]
    async fn an_event_is_encoded_once_and_reaches_only_its_watchers() {
        let (hub, live, _dir) = hub().await;
        let mut shop = hub.watch("shop", None);
        let mut one_run = hub.watch("shop", Some("run-2"));
        let mut other = hub.watch("bank", None);
        live.send(event(1, "shop", "run-1")).unwrap();
        live.send(event(2, "shop", "run-2")).unwrap();
        let first = next(&mut shop).await.unwrap();
        let second = next(&mut shop).await.unwrap();
        assert_eq!((first.seq, second.seq), (1, 2), "in order");
        let only = next(&mut one_run).await.unwrap();
        assert_eq!(only.seq, 2, "an execution's watcher gets only its run");
        // The very same bytes as the application's watcher got: encoded once.
        assert_eq!(only.text.as_str().as_ptr(), second.text.as_str().as_ptr());
        assert!(only.text.as_str().contains("\"seq\":2"));
        assert!(tokio::time::timeout(Duration::from_millis(200), other.frames.recv()).await.is_err(), "another application's watcher hears nothing");
        assert_eq!(hub.counts().0, 2, "two events encoded, for three watchers");
        drop(shop);
        assert_eq!(hub.watchers(), 2, "a dropped watch unregisters");
    }

    #[tokio::test]
    async fn a_watcher_that_does_not_keep_up_is_dropped_not_buffered() {
        let (hub, live, _dir) = hub().await;
        let mut stuck = hub.watch("shop", None);
        let mut reading = hub.watch("shop", None);
        let total = WATCHER_QUEUE as i64 + 20;
        let reader = tokio::spawn(async move {
            let mut seen = Vec::new();
            while let Some(frame) = next(&mut reading).await {
                seen.push(frame.seq);
                if frame.seq == total {
                    break;
                }
            }
            seen
        });
        for seq in 1..=total {
            live.send(event(seq, "shop", "run-1")).unwrap();
            tokio::task::yield_now().await;
        }
        let seen = reader.await.unwrap();
        assert_eq!(seen, (1..=total).collect::<Vec<_>>(), "a reader keeps up and misses nothing");
        // The stuck one got what its queue holds, then its queue ended: the socket closes with
        // a resume hint instead of holding more.
        let mut held = 0;
        while let Some(frame) = stuck.frames.recv().await {
            held += 1;
            assert_eq!(frame.seq, held);
        }
        assert_eq!(held, WATCHER_QUEUE as i64);
        assert_eq!(hub.counts().1, 1, "one watcher dropped as too slow");
    }
}
