//! The engine's durable messages: commands, named as imperatives (Orca's shape, smaller).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Message {
    StartExecution { execution: String },
    StartStage { execution: String, stage: String },
    RunTask { execution: String, stage: String, task: usize },
    CompleteStage { execution: String, stage: String },
    CompleteExecution { execution: String },
    CancelExecution { execution: String },
    /// Picks a paused execution up where it stopped.
    ResumeExecution { execution: String },
    /// Runs a finished stage (and everything after it) again.
    RestartStage { execution: String, stage: String },
    /// After a run ended: start what its end triggers (pipeline triggers) and wake the parent
    /// stage waiting for it.
    AfterCompletion { execution: String },
    /// Something a running stage waits for has happened (a child run ended): run its waiting
    /// task now rather than at its next poll. Harmless when nothing waits any more.
    WakeStage { execution: String, stage: String },
    /// Deliver one notification: `index` into the run's notifications, or (`own`) into the
    /// stage's; `stage` is the stage the event is about.
    Notify { execution: String, event: String, stage: Option<String>, own: bool, index: usize, attempt: u32 },
}

impl Message {
    pub fn execution(&self) -> &str {
        match self {
            Self::StartExecution { execution }
            | Self::StartStage { execution, .. }
            | Self::RunTask { execution, .. }
            | Self::CompleteStage { execution, .. }
            | Self::CompleteExecution { execution }
            | Self::CancelExecution { execution }
            | Self::ResumeExecution { execution }
            | Self::RestartStage { execution, .. }
            | Self::AfterCompletion { execution }
            | Self::WakeStage { execution, .. }
            | Self::Notify { execution, .. } => execution,
        }
    }
}

impl Message {
    /// The durable message that delivers a notification of `execution`.
    pub fn notify(execution: &str, delivery: crate::notify::Delivery) -> Self {
        let crate::notify::Delivery { event, stage, own, index, attempt } = delivery;
        Self::Notify { execution: execution.to_string(), event, stage, own, index, attempt }
    }
}

/// The `Notify` messages `event` calls for (see `notify::deliveries`). Delivered after a
/// millisecond, so each goes through the queue on its own rather than inside the step.
pub fn notifications(execution: &app::model::execution::Execution, event: &str, stage: Option<&app::model::execution::Stage>) -> Vec<Next> {
    crate::notify::deliveries(execution, event, stage)
        .into_iter()
        .map(|delivery| Next::after(Message::notify(&execution.id, delivery), 1))
        .collect()
}

/// A message to enqueue, after a delay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Next {
    pub message: Message,
    pub delay_ms: i64,
}

impl Next {
    pub fn now(message: Message) -> Self {
        Self { message, delay_ms: 0 }
    }

    pub fn after(message: Message, delay_ms: i64) -> Self {
        Self { message, delay_ms }
    }
}
