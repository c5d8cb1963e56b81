//! Executions, the engine's message queue and the event log, kept together because the
//! engine changes all three in one transaction: new state, the message acknowledged, the next
//! messages, and the event telling subscribers.
//!
//! The queue is a table with leases (CIO's worker shape): a worker claims the oldest due
//! message by a conditional UPDATE (with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so two
//! engines never claim the same row); an expired lease makes the message claimable again; the
//! acknowledgement deletes the row only while the lease is still the claimer's, so a worker that
//! lost its lease cannot commit a second, duplicate step.

use app::model::execution::{Change, Execution, ExecutionEvent, Status};
use app::model::execution_delta::{ExecutionDelta, diff};

use super::{Error, Pool, Result, Store, now_millis, on_pool};

/// How many runs of a pipeline (`$1`) are active: they keep a `limitConcurrent` run waiting.
const ACTIVE_RUNS: &str = "SELECT COUNT(*) FROM executions WHERE pipeline_id = $1 AND status IN ('RUNNING', 'NOT_STARTED', 'PAUSED')";

/// How a new run's pipeline limits concurrent runs (`limitConcurrent`, `keepWaitingPipelines`).
pub enum Concurrency<'a> {
    /// Start at once, whatever else runs.
    Unlimited,
    /// Wait while another run is active; keep every waiting run.
    KeepWaiting,
    /// Wait while another run is active; a new waiting run replaces those already waiting,
    /// each changed by this function.
    Supersede(&'a (dyn Fn(&mut Execution) + Sync)),
}

/// What storing a new run did.
#[derive(Debug)]
pub struct Inserted {
    /// The new run's first event.
    pub seq: i64,
    /// The waiting runs it replaced, as stored, each with its event.
    pub superseded: Vec<(i64, Execution)>,
}

/// A claimed message.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub body: String,
    pub lease_until: i64,
}

/// A message to enqueue.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub execution_id: String,
    pub body: String,
    pub deliver_at: i64,
}

/// What a step's commit found.
#[derive(Debug, Clone, PartialEq)]
pub enum StepOutcome {
    /// Committed; the events appended, in order (to publish).
    Committed(Vec<ExecutionEvent>),
    /// Another step changed the execution first, or the lease was lost: nothing was written.
    Conflict,
}

/// A run a step changed: as loaded, and each state it went through.
#[derive(Debug, Clone, Copy)]
pub struct Changed<'a> {
    /// The run as loaded, at `version`.
    pub before: &'a Execution,
    pub version: i64,
    /// The states it went through, in order; the last one is written. Each becomes an event:
    /// a delta from the state before it, or the whole run when a delta cannot say it.
    pub states: &'a [Execution],
}

impl<'a> Changed<'a> {
    /// One change, from `before` to `after`.
    pub fn once(before: &'a Execution, version: i64, after: &'a Execution) -> Self {
        Self { before, version, states: std::slice::from_ref(after) }
    }
}

/// The events for the states a run went through, each with its kind and stored body.
fn changes(changed: &Changed<'_>) -> Vec<(Change, &'static str, String)> {
    let mut previous = changed.before;
    changed
        .states
        .iter()
        .map(|state| {
            let change = match diff(previous, state) {
                Some(delta) => Change::Delta(delta),
                None => Change::Execution(state.clone()),
            };
            previous = state;
            let (kind, body) = match &change {
                Change::Execution(execution) => ("snapshot", serde_json::to_string(execution)),
                Change::Delta(delta) => ("delta", serde_json::to_string(delta)),
            };
            (change, kind, body.expect("events serialize"))
        })
        .collect()
}

/// Reads a stored event back.
fn stored_change(kind: &str, body: &str) -> Result<Change> {
    Ok(if kind == "delta" {
        Change::Delta(serde_json::from_str::<ExecutionDelta>(body).map_err(|e| corrupt("event", e))?)
    } else {
        Change::Execution(serde_json::from_str(body).map_err(|e| corrupt("event", e))?)
    })
}

/// Which executions to list, newest first (by build time, then id). Empty fields let every
/// execution through.
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    pub application: Option<String>,
    pub pipeline_id: Option<String>,
    /// Leave out ad-hoc tasks (the executions without a pipeline).
    pub pipelines_only: bool,
    pub statuses: Vec<Status>,
    /// Exactly this trigger type.
    pub trigger: Option<String>,
    /// Built at or after this time (epoch milliseconds).
    pub started_after: Option<i64>,
    /// Text some parameter value contains, already lower-cased (see [`parameter_text`]).
    pub search: Option<String>,
    /// Only executions listed after this position, `(build_time, id)`: the next page.
    pub before: Option<(i64, String)>,
    pub limit: u32,
}

/// Separates the values in [`parameter_text`]; a search for it is refused upstream.
pub const PARAMETER_SEPARATOR: char = '\u{1f}';

/// What a search looks in: the trigger's parameter values, lower-cased (Unicode, in Rust, so
/// both databases fold case alike) and joined by [`PARAMETER_SEPARATOR`].
pub fn parameter_text(execution: &Execution) -> String {
    let values: Vec<String> = execution.trigger.parameters.values().map(|value| value.to_lowercase()).collect();
    values.join(&PARAMETER_SEPARATOR.to_string())
}

/// A value bound to a statement built at run time.
enum Arg {
    Text(String),
    Int(i64),
}

/// The conditions of a listing and their values, numbered `$1`, `$2`... in order.
#[derive(Default)]
struct Conditions {
    clauses: Vec<String>,
    args: Vec<Arg>,
}

impl Conditions {
    fn arg(&mut self, value: Arg) -> String {
        self.args.push(value);
        format!("${}", self.args.len())
    }
}

fn corrupt(id: &str, error: serde_json::Error) -> Error {
    Error::Corrupt(format!("execution {id}: {error}"))
}

impl Store {
    /// Taken in each transaction that appends an event: on PostgreSQL, sequence numbers are
    /// handed out at insert but become visible at commit, so without it a later event could
    /// be seen before an earlier one and a subscriber could skip it. SQLite has one writer.
    fn event_order_lock(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "SELECT 1",
            Pool::Postgres(_) => "SELECT pg_advisory_xact_lock(7420001)",
        }
    }

    /// On PostgreSQL, tells every instance listening (`store::notices`) that events up to `$1`
    /// were committed and that the queue has new messages: sent at commit, never for a
    /// transaction rolled back. SQLite has one process: nothing to tell.
    fn announce(&self) -> Option<&'static str> {
        match self.pool {
            Pool::Sqlite(_) => None,
            Pool::Postgres(_) => Some("SELECT pg_notify('gennaker_events', $1), pg_notify('gennaker_queue', '')"),
        }
    }

    /// Serialises the launches and promotions of one pipeline's runs (`limitConcurrent`): the
    /// first statement of their transactions. PostgreSQL: an advisory lock on the pipeline, held
    /// to commit. SQLite: a write (that changes nothing) takes the database's single write lock
    /// before anything is read, so the count that follows sees every run committed before it.
    fn pipeline_lock(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "UPDATE executions SET version = version WHERE pipeline_id = $1 AND id = ''",
            Pool::Postgres(_) => "SELECT pg_advisory_xact_lock(7420002, hashtext($1))",
        }
    }

    /// Stores a new execution with its first event and, unless it must wait, its `start`
    /// message, in one transaction. With `concurrency` (the pipeline's `limitConcurrent`), the
    /// run becomes BUFFERED when another run of its pipeline is active, decided under the
    /// pipeline's lock so that two launches in the same instant cannot both start; a BUFFERED
    /// run with [`Concurrency::Supersede`] then replaces the runs already waiting: each is
    /// changed by the given function (canceled) in the same transaction, so "older" means
    /// stored before, even within one millisecond. `execution.status` says what was decided.
    pub async fn insert_execution(&self, execution: &mut Execution, start: Outgoing, concurrency: Concurrency<'_>) -> Result<Inserted> {
        let now = now_millis();
        let inserted: Inserted = on_pool!(self, pool => {
            async {
                let mut tx = pool.begin().await?;
                let limited = !matches!(concurrency, Concurrency::Unlimited);
                if limited {
                    sqlx::query(self.pipeline_lock()).bind(&execution.pipeline_config_id).execute(&mut *tx).await?;
                    let (active,): (i64,) = sqlx::query_as(ACTIVE_RUNS).bind(&execution.pipeline_config_id).fetch_one(&mut *tx).await?;
                    if active > 0 {
                        execution.status = Status::Buffered;
                    }
                }
                let mut superseded = Vec::new();
                if let (Status::Buffered, Concurrency::Supersede(change)) = (execution.status, &concurrency) {
                    let waiting: Vec<(String, String, i64)> = sqlx::query_as("SELECT id, body, version FROM executions WHERE pipeline_id = $1 AND status = 'BUFFERED'")
                        .bind(&execution.pipeline_config_id).fetch_all(&mut *tx).await?;
                    for (id, body, version) in waiting {
                        let mut older: Execution = serde_json::from_str(&body).map_err(|e| corrupt(&id, e))?;
                        change(&mut older);
                        let body = serde_json::to_string(&older).expect("executions serialize");
                        let updated = sqlx::query("UPDATE executions SET body = $2, status = $3, version = version + 1 WHERE id = $1 AND version = $4")
                            .bind(&id).bind(&body).bind(older.status.as_str()).bind(version)
                            .execute(&mut *tx).await?.rows_affected();
                        // Changed meanwhile (canceled by a person, say): it is no longer ours to replace.
                        if updated == 1 {
                            superseded.push((older, body));
                        }
                    }
                }
                let body = serde_json::to_string(&*execution).expect("executions serialize");
                sqlx::query(
                    "INSERT INTO executions (id, application, pipeline_id, status, build_time, body, version, trigger_type, parameter_text) \
                     VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8)",
                )
                .bind(&execution.id).bind(&execution.application).bind(&execution.pipeline_config_id)
                .bind(execution.status.as_str()).bind(execution.build_time).bind(&body)
                .bind(&execution.trigger.kind).bind(parameter_text(execution))
                .execute(&mut *tx).await?;
                if execution.status != Status::Buffered {
                    sqlx::query("INSERT INTO queue (execution_id, message, deliver_at) VALUES ($1, $2, $3)")
                        .bind(&start.execution_id).bind(&start.body).bind(start.deliver_at)
                        .execute(&mut *tx).await?;
                }
                sqlx::query(self.event_order_lock()).execute(&mut *tx).await?;
                let mut events = Vec::new();
                for (older, body) in superseded {
                    let (seq,): (i64,) = sqlx::query_as("INSERT INTO execution_events (execution_id, application, ts, body) VALUES ($1, $2, $3, $4) RETURNING seq")
                        .bind(&older.id).bind(&older.application).bind(now).bind(&body)
                        .fetch_one(&mut *tx).await?;
                    events.push((seq, older));
                }
                let (seq,): (i64,) = sqlx::query_as("INSERT INTO execution_events (execution_id, application, ts, body) VALUES ($1, $2, $3, $4) RETURNING seq")
                    .bind(&execution.id).bind(&execution.application).bind(now).bind(&body)
                    .fetch_one(&mut *tx).await?;
                if let Some(announce) = self.announce() {
                    sqlx::query(announce).bind(seq.to_string()).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok::<_, Error>(Inserted { seq, superseded: events })
            }.await
        })?;
        Ok(inserted)
    }

    /// Starts the oldest BUFFERED run of a pipeline when none of its runs is active: the run
    /// becomes NOT_STARTED, its event is logged and `start(id)` enqueued, under the same
    /// pipeline lock as [`Store::insert_execution`] (so a launch and a promotion in the same
    /// instant cannot both start a run). Returns the event's sequence number and the run.
    pub async fn promote_buffered(&self, pipeline_id: &str, start: impl FnOnce(&str) -> Outgoing) -> Result<Option<(i64, Execution)>> {
        let now = now_millis();
        let promoted: Option<(i64, Execution)> = on_pool!(self, pool => {
            async {
                let mut tx = pool.begin().await?;
                sqlx::query(self.pipeline_lock()).bind(pipeline_id).execute(&mut *tx).await?;
                let (active,): (i64,) = sqlx::query_as(ACTIVE_RUNS).bind(pipeline_id).fetch_one(&mut *tx).await?;
                if active > 0 {
                    return Ok::<_, Error>(None);
                }
                let oldest: Option<(String, String, i64)> = sqlx::query_as(
                    "SELECT id, body, version FROM executions WHERE pipeline_id = $1 AND status = 'BUFFERED' ORDER BY build_time, id LIMIT 1",
                )
                .bind(pipeline_id).fetch_optional(&mut *tx).await?;
                let Some((id, body, version)) = oldest else { return Ok(None) };
                let mut execution: Execution = serde_json::from_str(&body).map_err(|e| corrupt(&id, e))?;
                execution.status = Status::NotStarted;
                let body = serde_json::to_string(&execution).expect("executions serialize");
                let updated = sqlx::query("UPDATE executions SET body = $2, status = $3, version = version + 1 WHERE id = $1 AND version = $4")
                    .bind(&id).bind(&body).bind(execution.status.as_str()).bind(version)
                    .execute(&mut *tx).await?.rows_affected();
                if updated == 0 {
                    return Ok(None);
                }
                let message = start(&id);
                sqlx::query("INSERT INTO queue (execution_id, message, deliver_at) VALUES ($1, $2, $3)")
                    .bind(&message.execution_id).bind(&message.body).bind(message.deliver_at)
                    .execute(&mut *tx).await?;
                sqlx::query(self.event_order_lock()).execute(&mut *tx).await?;
                let (seq,): (i64,) = sqlx::query_as("INSERT INTO execution_events (execution_id, application, ts, body) VALUES ($1, $2, $3, $4) RETURNING seq")
                    .bind(&id).bind(&execution.application).bind(now).bind(&body)
                    .fetch_one(&mut *tx).await?;
                if let Some(announce) = self.announce() {
                    sqlx::query(announce).bind(seq.to_string()).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(Some((seq, execution)))
            }.await
        })?;
        Ok(promoted)
    }

    /// The execution and its version (for optimistic updates).
    pub async fn load_execution(&self, id: &str) -> Result<Option<(Execution, i64)>> {
        let row: Option<(String, i64)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT body, version FROM executions WHERE id = $1").bind(id).fetch_optional(pool).await
        })?;
        row.map(|(body, version)| Ok((serde_json::from_str(&body).map_err(|e| corrupt(id, e))?, version))).transpose()
    }

    /// Executions matching `filter`, newest first. The statement names only the conditions
    /// given (rather than `$1 IS NULL OR ...`), so each database plans it with its indexes:
    /// `(application, build_time, id)` walked backwards stops after `limit` matches.
    pub async fn list_executions(&self, filter: &ExecutionFilter) -> Result<Vec<Execution>> {
        let mut conditions = Conditions::default();
        if let Some(application) = &filter.application {
            let arg = conditions.arg(Arg::Text(application.clone()));
            conditions.clauses.push(format!("application = {arg}"));
        }
        if let Some(pipeline_id) = &filter.pipeline_id {
            let arg = conditions.arg(Arg::Text(pipeline_id.clone()));
            conditions.clauses.push(format!("pipeline_id = {arg}"));
        }
        if filter.pipelines_only {
            conditions.clauses.push("pipeline_id <> ''".to_string());
        }
        if !filter.statuses.is_empty() {
            let args: Vec<String> = filter.statuses.iter().map(|status| conditions.arg(Arg::Text(status.as_str().to_string()))).collect();
            conditions.clauses.push(format!("status IN ({})", args.join(", ")));
        }
        if let Some(trigger) = &filter.trigger {
            let arg = conditions.arg(Arg::Text(trigger.clone()));
            conditions.clauses.push(format!("trigger_type = {arg}"));
        }
        if let Some(after) = filter.started_after {
            let arg = conditions.arg(Arg::Int(after));
            conditions.clauses.push(format!("build_time >= {arg}"));
        }
        if let Some(search) = &filter.search {
            let arg = conditions.arg(Arg::Text(search.clone()));
            // A plain substring test: no LIKE pattern to escape, and no case folding by the
            // database (which folds differently in each): both sides are lower-cased in Rust.
            conditions.clauses.push(match self.pool {
                Pool::Sqlite(_) => format!("instr(parameter_text, {arg}) > 0"),
                Pool::Postgres(_) => format!("strpos(parameter_text, {arg}) > 0"),
            });
        }
        if let Some((build_time, id)) = &filter.before {
            let time = conditions.arg(Arg::Int(*build_time));
            let id = conditions.arg(Arg::Text(id.clone()));
            conditions.clauses.push(format!("build_time <= {time} AND (build_time < {time} OR id < {id})"));
        }
        let limit = conditions.arg(Arg::Int(i64::from(filter.limit)));
        let condition = if conditions.clauses.is_empty() { "TRUE".to_string() } else { conditions.clauses.join(" AND ") };
        let sql = format!("SELECT body FROM executions WHERE {condition} ORDER BY build_time DESC, id DESC LIMIT {limit}");
        let rows: Vec<(String,)> = on_pool!(self, pool => {
            let mut query = sqlx::query_as(&sql);
            for arg in &conditions.args {
                query = match arg {
                    Arg::Text(text) => query.bind(text.as_str()),
                    Arg::Int(number) => query.bind(*number),
                };
            }
            query.fetch_all(pool).await
        })?;
        rows.into_iter().map(|(body,)| serde_json::from_str(&body).map_err(|e| corrupt("listed", e))).collect()
    }

    /// Where an execution sits in listings, `(build_time, id)`, to page after it.
    pub async fn execution_position(&self, id: &str) -> Result<Option<(i64, String)>> {
        let row: Option<(i64, String)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT build_time, id FROM executions WHERE id = $1").bind(id).fetch_optional(pool).await
        })?;
        Ok(row)
    }

    /// How many executions of a pipeline are RUNNING or NOT_STARTED (for `limitConcurrent`).
    pub async fn active_executions(&self, pipeline_id: &str) -> Result<i64> {
        let (count,): (i64,) = on_pool!(self, pool => {
            sqlx::query_as(ACTIVE_RUNS).bind(pipeline_id).fetch_one(pool).await
        })?;
        Ok(count)
    }

    /// Claims the oldest due message for `lease_ms`.
    pub async fn claim_message(&self, now: i64, lease_ms: i64) -> Result<Option<Claimed>> {
        let lease_until = now + lease_ms;
        let pick = match &self.pool {
            Pool::Sqlite(_) => "SELECT id FROM queue WHERE deliver_at <= $2 AND (lease_until IS NULL OR lease_until < $2) ORDER BY deliver_at, id LIMIT 1",
            Pool::Postgres(_) => "SELECT id FROM queue WHERE deliver_at <= $2 AND (lease_until IS NULL OR lease_until < $2) ORDER BY deliver_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE queue SET lease_until = $1, attempts = attempts + 1 WHERE id = ({pick}) \
             AND deliver_at <= $2 AND (lease_until IS NULL OR lease_until < $2) RETURNING id, message"
        );
        let row: Option<(i64, String)> = on_pool!(self, pool => {
            sqlx::query_as(&sql).bind(lease_until).bind(now).fetch_optional(pool).await
        })?;
        Ok(row.map(|(id, body)| Claimed { id, body, lease_until }))
    }

    /// When the next unclaimed message falls due (`None`: the queue holds none), so an idle
    /// worker sleeps until then rather than asking again and again. The `deliver_at` index
    /// answers it from its first unleased entry.
    pub async fn next_delivery(&self) -> Result<Option<i64>> {
        let row: Option<(i64,)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT deliver_at FROM queue WHERE lease_until IS NULL ORDER BY deliver_at LIMIT 1").fetch_optional(pool).await
        })?;
        Ok(row.map(|(at,)| at))
    }

    /// Gives a claimed message back, to be delivered again at `deliver_at`.
    pub async fn release_message(&self, claimed: &Claimed, deliver_at: i64) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query("UPDATE queue SET lease_until = NULL, deliver_at = $3 WHERE id = $1 AND lease_until = $2")
                .bind(claimed.id).bind(claimed.lease_until).bind(deliver_at).execute(pool).await.map(drop)
        })?;
        Ok(())
    }

    /// One engine step, atomically: acknowledge `claimed` (if given), write the changed run
    /// (if its version is still the one loaded), log one event per state it went through
    /// (deltas, or the whole run where a delta cannot say the change), and enqueue `outgoing`.
    pub async fn commit_step(&self, claimed: Option<&Claimed>, changed: Option<Changed<'_>>, outgoing: &[Outgoing]) -> Result<StepOutcome> {
        let now = now_millis();
        // The run as written: its last state, at the version it was loaded at.
        let write = changed.as_ref().and_then(|changed| changed.states.last().map(|last| (changed.version, last, serde_json::to_string(last).expect("executions serialize"))));
        let events = changed.as_ref().map(changes).unwrap_or_default();
        // The sequence numbers of the events appended; `None`: a conflict, nothing written.
        let committed: Option<Vec<i64>> = on_pool!(self, pool => {
            async {
                let mut tx = pool.begin().await?;
                if let Some(claimed) = claimed {
                    let acknowledged = sqlx::query("DELETE FROM queue WHERE id = $1 AND lease_until = $2")
                        .bind(claimed.id).bind(claimed.lease_until).execute(&mut *tx).await?.rows_affected();
                    if acknowledged == 0 {
                        return Ok::<_, sqlx::Error>(None);
                    }
                }
                let mut seqs = Vec::new();
                if let Some((version, execution, body)) = &write {
                    let updated = sqlx::query("UPDATE executions SET body = $2, status = $3, version = version + 1 WHERE id = $1 AND version = $4")
                        .bind(&execution.id).bind(body).bind(execution.status.as_str()).bind(*version)
                        .execute(&mut *tx).await?.rows_affected();
                    if updated == 0 {
                        return Ok(None);
                    }
                    sqlx::query(self.event_order_lock()).execute(&mut *tx).await?;
                    for (_, kind, event) in &events {
                        let (inserted,): (i64,) = sqlx::query_as("INSERT INTO execution_events (execution_id, application, ts, body, kind) VALUES ($1, $2, $3, $4, $5) RETURNING seq")
                            .bind(&execution.id).bind(&execution.application).bind(now).bind(event).bind(*kind)
                            .fetch_one(&mut *tx).await?;
                        seqs.push(inserted);
                    }
                }
                for message in outgoing {
                    sqlx::query("INSERT INTO queue (execution_id, message, deliver_at) VALUES ($1, $2, $3)")
                        .bind(&message.execution_id).bind(&message.body).bind(message.deliver_at)
                        .execute(&mut *tx).await?;
                }
                if let Some(announce) = self.announce().filter(|_| !seqs.is_empty() || !outgoing.is_empty()) {
                    sqlx::query(announce).bind(seqs.last().copied().unwrap_or(0).to_string()).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(Some(seqs))
            }.await
        })?;
        Ok(match committed {
            Some(seqs) => StepOutcome::Committed(seqs.into_iter().zip(events).map(|(seq, (change, _, _))| ExecutionEvent { seq, ts: now, change }).collect()),
            None => StepOutcome::Conflict,
        })
    }

    /// Events after `after`, oldest first, for one execution or one application.
    pub async fn events_after(&self, execution_id: Option<&str>, application: Option<&str>, after: i64, limit: u32) -> Result<Vec<ExecutionEvent>> {
        let rows: Vec<(i64, i64, String, String)> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT seq, ts, kind, body FROM execution_events WHERE seq > $1 AND ($2 IS NULL OR execution_id = $2) \
                 AND ($3 IS NULL OR application = $3) ORDER BY seq LIMIT $4",
            )
            .bind(after).bind(execution_id).bind(application).bind(i64::from(limit))
            .fetch_all(pool).await
        })?;
        rows.into_iter()
            .map(|(seq, ts, kind, body)| Ok(ExecutionEvent { seq, ts, change: stored_change(&kind, &body)? }))
            .collect()
    }

    /// Retention: of each run that ended and was started before `built_before` (epoch ms),
    /// keeps only its final state, at most `batch` events at a time; how many went. The run's
    /// last event becomes the whole run (a delta needs the events before it) and every event
    /// before it goes: the final state is all its page and a replay need once it is over.
    /// Running runs keep every event.
    pub async fn expire_events(&self, built_before: i64, batch: i64) -> Result<u64> {
        let ended = "'SUCCEEDED', 'FAILED_CONTINUE', 'TERMINAL', 'CANCELED', 'SKIPPED', 'STOPPED'";
        let old_ended = format!("JOIN executions x ON x.id = ev.execution_id WHERE x.build_time < $1 AND x.status IN ({ended})");
        // The run's body is its state as of its last event: both are written in one commit.
        let finalize = format!(
            "UPDATE execution_events SET kind = 'snapshot', body = (SELECT x.body FROM executions x WHERE x.id = execution_events.execution_id) \
             WHERE seq IN (SELECT ev.seq FROM execution_events ev {old_ended} AND ev.kind = 'delta' \
               AND ev.seq = (SELECT MAX(last.seq) FROM execution_events last WHERE last.execution_id = ev.execution_id) LIMIT $2)"
        );
        // Only what comes before a snapshot: a replay always starts from a whole run.
        let expire = format!(
            "DELETE FROM execution_events WHERE seq IN (SELECT ev.seq FROM execution_events ev {old_ended} \
               AND ev.seq < (SELECT MAX(last.seq) FROM execution_events last WHERE last.execution_id = ev.execution_id AND last.kind = 'snapshot') \
               LIMIT $2)"
        );
        let removed: u64 = on_pool!(self, pool => {
            async {
                let mut tx = pool.begin().await?;
                sqlx::query(&finalize).bind(built_before).bind(batch).execute(&mut *tx).await?;
                let removed = sqlx::query(&expire).bind(built_before).bind(batch).execute(&mut *tx).await?.rows_affected();
                tx.commit().await?;
                Ok::<_, sqlx::Error>(removed)
            }.await
        })?;
        Ok(removed)
    }

    /// How many events the log holds for one run (for tests and retention reports).
    pub async fn event_count(&self, execution_id: &str) -> Result<i64> {
        let (count,): (i64,) = on_pool!(self, pool => sqlx::query_as("SELECT COUNT(*) FROM execution_events WHERE execution_id = $1").bind(execution_id).fetch_one(pool).await)?;
        Ok(count)
    }

    /// The event log's latest sequence number (0 when empty).
    pub async fn latest_event_seq(&self) -> Result<i64> {
        let (seq,): (Option<i64>,) = on_pool!(self, pool => sqlx::query_as("SELECT MAX(seq) FROM execution_events").fetch_one(pool).await)?;
        Ok(seq.unwrap_or(0))
    }

    /// The application's latest event sequence number (0 when none).
    pub async fn latest_seq(&self, application: &str) -> Result<i64> {
        let (seq,): (Option<i64>,) = on_pool!(self, pool => {
            sqlx::query_as("SELECT MAX(seq) FROM execution_events WHERE application = $1").bind(application).fetch_one(pool).await
        })?;
        Ok(seq.unwrap_or(0))
    }

    /// How many messages wait in the queue (for tests and metrics).
    pub async fn queue_depth(&self) -> Result<i64> {
        let (count,): (i64,) = on_pool!(self, pool => sqlx::query_as("SELECT COUNT(*) FROM queue").fetch_one(pool).await)?;
        Ok(count)
    }
}
