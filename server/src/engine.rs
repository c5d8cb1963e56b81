//! The pipeline engine: durable messages, pure decisions, nothing sleeping in-process.
//!
//! - `message`: the commands (StartExecution, StartStage, RunTask, CompleteStage, ...).
//! - `handlers`: what each command does to an execution (pure, tested alone).
//! - `tasks`: what each stage type does; a task that must wait asks to be run again later.
//! - `webhook`: the webhook stage's call and status polling.
//! - `deploy`: the deploy stage and its strategies (red/black, highlander, rolling, canary).
//! - `server_groups`: resize, enable, disable, destroy, rollback, clone, find image, the
//!   cluster-wide stages and run job.
//! - `listeners`: what the engine tells others about runs (a run finished), without knowing them.
//! - `launcher`: the one door every new run goes through (manual, triggers, child runs, tasks).
//! - `child`: the pipeline stage, which runs another pipeline and waits for it.
//! - `worker`: claims a message, runs its handler, commits state + acknowledgement + next
//!   messages + event in one transaction, then tells live subscribers.

pub mod child;
pub mod clock;
pub mod deploy;
pub mod handlers;
pub mod launcher;
pub mod listeners;
pub mod message;
pub mod server_groups;
pub mod tasks;
pub mod webhook;
pub mod window;
pub mod worker;

pub use worker::Engine;
