//! The pipeline engine: durable messages, pure decisions, nothing sleeping in-process.
//!
//! - `message`: the commands (StartExecution, StartStage, RunTask, CompleteStage, ...).
//! - `handlers`: what each command does to an execution (pure, tested alone).
//! - `tasks`: runs a stage's tasks through the registry; a task that must wait asks to be run
//!   again later.
//! - `stages`: the stage-type registry, one file per stage type (wait, webhook, pipeline,
//!   deploy with its strategies, the server group and cluster stages, run job, ...).
//! - `server_groups`: what the server group and cluster stages share (targets, observing and
//!   acting on the clouds).
//! - `listeners`: what the engine tells others about runs (a run finished), without knowing them.
//! - `launcher`: the one door every new run goes through (manual, triggers, child runs, tasks).
//! - `worker`: claims a message, runs its handler, commits state + acknowledgement + next
//!   messages + event in one transaction, then tells live subscribers.

pub mod artifact_files;
pub mod artifacts;
pub mod clock;
pub mod handlers;
pub mod launcher;
pub mod listeners;
pub mod manifests;
pub mod message;
pub mod server_groups;
pub mod stage_forms;
pub mod stages;
pub mod targets;
pub mod tasks;
pub mod window;
pub mod worker;

pub use worker::Engine;
