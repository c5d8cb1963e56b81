//! What the engine tells the rest of gennaker about runs, without knowing who listens: the
//! engine sits below triggers and notifications in the module graph, so it calls out through
//! these traits, registered at start-up (`Engine::with_listener`).

use app::model::execution::Execution;
use async_trait::async_trait;

use super::launcher::Launcher;

/// Told once a run has ended, from the durable `AfterCompletion` message: at least once (a
/// redelivery after a crash tells it again), so a listener must be idempotent, for example by
/// launching with a deterministic run id.
#[async_trait]
pub trait RunFinished: Send + Sync {
    async fn run_finished(&self, launcher: &Launcher, execution: &Execution);
}
