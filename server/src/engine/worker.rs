//! The worker: `try_execute_one` claims one due message and handles it; `run` loops over it.
//! Handling is one transaction (see `store::executions`), so a crash at any point leaves either
//! the old state with the message still queued (its lease expires and it is redelivered) or the
//! new state with the message gone: never half a step, never a step twice.
//!
//! Messages a step produces for the same execution with no delay (StartStage -> RunTask ->
//! CompleteStage -> ...) are handled at once inside the same transaction, up to
//! `MAX_INLINE_STEPS`, instead of a round trip through the queue each: the same decisions in
//! the same order, with every intermediate state still logged as its own event, at a fraction
//! of the commits.

use std::sync::Arc;
use std::time::Duration;

use app::model::execution::{Execution, ExecutionEvent};
use tokio::sync::{Notify, broadcast};

use super::clock::Clock;
use super::handlers;
use super::launcher::Launcher;
use super::message::{Message, Next};
use super::tasks::Effects;
use crate::cloud::clouds::Clouds;
use crate::store::executions::{Changed, Claimed, Outgoing, StepOutcome};
use crate::store::{self, Store};

/// How long a claimed message is ours before another worker may take it (the default; a
/// message whose worker died is redelivered after this).
pub const LEASE_MS: i64 = 30_000;
/// How many follow-up messages one step may handle in its own transaction.
const MAX_INLINE_STEPS: usize = 64;
/// The longest an idle worker sleeps before looking at the queue again, whatever is due: how
/// soon it notices a message another process enqueued (a new run started on another instance,
/// or a message whose worker died and whose lease ran out). Messages this process enqueues wake
/// it at once, and it sleeps only until the next delivery it knows of, so runs parked at a
/// wait or a judgment cost nothing while they wait.
const IDLE_SQLITE: Duration = Duration::from_millis(1_000);
const IDLE_POSTGRES: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No message was due.
    Idle,
    Handled,
    /// Another worker moved the execution first; the message goes back to the queue.
    Conflict,
}

#[derive(Clone)]
pub struct Engine {
    store: Store,
    clock: Arc<dyn Clock>,
    events: broadcast::Sender<ExecutionEvent>,
    wake: Arc<Notify>,
    lease_ms: i64,
    effects: Effects,
}

impl Engine {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        let (events, _) = broadcast::channel(1024);
        let wake = Arc::new(Notify::new());
        let launcher = Launcher::new(store.clone(), clock.clone(), events.clone(), wake.clone());
        let effects = Effects { http: crate::outbound::Outbound::default(), store: store.clone(), clouds: Clouds::default(), notifier: Default::default(), launcher, listeners: Vec::new(), jenkins_masters: Default::default(), secrets: None };
        Self { store, clock, events, wake, lease_ms: LEASE_MS, effects }
    }

    /// The one door for new runs (see `engine::launcher`).
    pub fn launcher(&self) -> &Launcher {
        &self.effects.launcher
    }

    /// The clouds the deploy and server group stages act on (none by default).
    pub fn with_clouds(mut self, clouds: Clouds) -> Self {
        self.effects.clouds = clouds;
        self
    }

    /// Adds a listener told when a run has ended (for example, pipeline triggers).
    pub fn with_listener(mut self, listener: Arc<dyn super::listeners::RunFinished>) -> Self {
        self.effects.listeners.push(listener);
        self
    }

    /// How notifications are delivered (chat and webhook channels only, by default).
    pub fn with_notifier(mut self, notifier: crate::notify::Notifier) -> Self {
        self.effects.notifier = notifier;
        self
    }

    /// The allow-listed client webhook stages call through.
    pub fn with_outbound(mut self, outbound: crate::outbound::Outbound) -> Self {
        self.effects.http = outbound;
        self
    }

    /// The secrets store stages read credentials from (within each secret's scope).
    pub fn with_secrets(mut self, secrets: std::sync::Arc<crate::secrets::Secrets>) -> Self {
        self.effects.secrets = Some(secrets);
        self
    }

    /// The Jenkins masters the `jenkins` stage may name.
    pub fn with_jenkins_masters(mut self, masters: std::collections::BTreeMap<String, String>) -> Self {
        self.effects.jenkins_masters = masters;
        self
    }

    pub fn clouds(&self) -> &Clouds {
        &self.effects.clouds
    }

    /// Sets how long a claimed message stays ours; must exceed the longest step.
    pub fn with_lease(mut self, lease_ms: i64) -> Self {
        self.lease_ms = lease_ms.max(100);
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Live events, for the WebSocket (stored events are read from the store).
    pub fn subscribe(&self) -> broadcast::Receiver<ExecutionEvent> {
        self.events.subscribe()
    }

    /// What wakes idle workers, for those who learn of new messages elsewhere (another
    /// instance's notice).
    pub fn wake_handle(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Wakes idle workers (a message was just enqueued).
    pub fn wake(&self) {
        self.launcher().wake();
    }

    /// Tells live subscribers about the events a step committed.
    pub fn publish(&self, events: Vec<ExecutionEvent>) {
        for event in events {
            self.launcher().publish_event(event);
        }
    }

    pub fn outgoing(&self, next: &[Next]) -> Vec<Outgoing> {
        let now = self.clock.now();
        next.iter()
            .map(|next| Outgoing {
                execution_id: next.message.execution().to_string(),
                body: serde_json::to_string(&next.message).expect("messages serialize"),
                deliver_at: now + next.delay_ms,
            })
            .collect()
    }

    /// Claims and handles one due message.
    pub async fn try_execute_one(&self) -> Result<Outcome, Error> {
        let now = self.clock.now();
        let Some(claimed) = self.store.claim_message(now, self.lease_ms).await? else { return Ok(Outcome::Idle) };
        let message: Message = match serde_json::from_str(&claimed.body) {
            Ok(message) => message,
            Err(error) => {
                tracing::error!(%error, id = claimed.id, "dropping an unreadable message");
                self.store.commit_step(Some(&claimed), None, &[]).await?;
                return Ok(Outcome::Handled);
            }
        };
        self.handle(&claimed, &message, now).await
    }

    /// Delivers a notification once, then records the outcome on the execution, reloading and
    /// retrying the record (never the delivery) when the execution changed meanwhile.
    async fn notify(&self, claimed: &Claimed, message: &Message, now: i64) -> Result<Outcome, Error> {
        let Message::Notify { execution: id, event, stage, own, index, attempt } = message else { return Ok(Outcome::Idle) };
        let Some((execution, _)) = self.store.load_execution(id).await? else {
            self.store.commit_step(Some(claimed), None, &[]).await?;
            return Ok(Outcome::Handled);
        };
        let outcome = crate::notify::attempt(&execution, event, stage.as_deref(), *own, *index, *attempt, now, &self.effects.notifier).await;
        let (record, retry) = match outcome {
            crate::notify::Attempt::Skipped => (None, Vec::new()),
            crate::notify::Attempt::Done(record) => (Some(record), Vec::new()),
            crate::notify::Attempt::Retry { delivery, delay_ms } => (None, vec![Next::after(Message::notify(id, delivery), delay_ms)]),
        };
        let outgoing = self.outgoing(&retry);
        for _ in 0..50 {
            let Some((before, version)) = self.store.load_execution(id).await? else { return Ok(Outcome::Handled) };
            let mut after = before.clone();
            let changed = record.as_ref().map(|record| {
                after.notifications.push(record.clone());
                Changed::once(&before, version, &after)
            });
            match self.store.commit_step(Some(claimed), changed, &outgoing).await? {
                StepOutcome::Committed(events) => {
                    self.publish(events);
                    return Ok(Outcome::Handled);
                }
                StepOutcome::Conflict => tokio::task::yield_now().await,
            }
        }
        tracing::warn!(execution = %id, "could not record a notification's outcome");
        Ok(Outcome::Conflict)
    }

    async fn handle(&self, claimed: &Claimed, message: &Message, now: i64) -> Result<Outcome, Error> {
        if matches!(message, Message::Notify { .. }) {
            return self.notify(claimed, message, now).await;
        }
        let Some((mut execution, version)) = self.store.load_execution(message.execution()).await? else {
            tracing::warn!(?message, "message for an unknown execution dropped");
            self.store.commit_step(Some(claimed), None, &[]).await?;
            return Ok(Outcome::Handled);
        };
        let mut snapshots: Vec<Execution> = Vec::new();
        let mut later: Vec<Next> = Vec::new();
        let mut pending = std::collections::VecDeque::from([message.clone()]);
        let mut completed = false;
        let mut steps = 0;
        let loaded = execution.clone();
        let mut previous = execution.clone();
        while let Some(message) = pending.pop_front() {
            tracing::debug!(?message, "handling");
            let next = handlers::handle(&message, &mut execution, now, &self.effects).await;
            if execution != previous {
                snapshots.push(execution.clone());
                previous = execution.clone();
            }
            completed |= matches!(message, Message::CompleteExecution { .. }) && execution.status.is_complete();
            steps += 1;
            for next in next {
                if next.delay_ms == 0 && next.message.execution() == execution.id && steps + pending.len() < MAX_INLINE_STEPS {
                    pending.push_back(next.message);
                } else {
                    later.push(next);
                }
            }
        }
        let changed = (!snapshots.is_empty()).then_some(Changed { before: &loaded, version, states: &snapshots });
        let outgoing = self.outgoing(&later);
        match self.store.commit_step(Some(claimed), changed, &outgoing).await? {
            StepOutcome::Committed(events) => {
                self.publish(events);
                // Idle workers sleep until the delivery they know of: tell them of new ones.
                if !later.is_empty() {
                    self.wake();
                }
                if completed {
                    self.launcher().promote_buffered(&execution.pipeline_config_id).await?;
                }
                Ok(Outcome::Handled)
            }
            StepOutcome::Conflict => {
                self.store.release_message(claimed, now + 10).await?;
                Ok(Outcome::Conflict)
            }
        }
    }

    /// How long an idle worker may sleep: until the next delivery, at most the idle limit.
    async fn idle_pause(&self) -> Duration {
        let limit = match self.store.backend() {
            store::Backend::Postgres => IDLE_POSTGRES,
            store::Backend::Sqlite => IDLE_SQLITE,
        };
        match self.store.next_delivery().await {
            Ok(Some(at)) => Duration::from_millis(u64::try_from(at - self.clock.now()).unwrap_or(0)).clamp(Duration::from_millis(1), limit),
            Ok(None) => limit,
            Err(_) => Duration::from_millis(50),
        }
    }

    /// Handles messages until `shutdown` resolves; idle, it sleeps until the next delivery or
    /// a wake-up.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            // Listening before looking: a wake-up that comes while this worker finds the queue
            // empty is not lost.
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let outcome = tokio::select! {
                () = &mut shutdown => return,
                outcome = self.try_execute_one() => outcome,
            };
            match outcome {
                Ok(Outcome::Handled | Outcome::Conflict) => {}
                Ok(Outcome::Idle) => {
                    let pause = self.idle_pause().await;
                    tokio::select! {
                        () = &mut shutdown => return,
                        () = woken => {}
                        () = tokio::time::sleep(pause) => {}
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "engine step failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
}
