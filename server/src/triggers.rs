//! Triggers: what starts a pipeline besides a person. Parts:
//! - `launch`: starts a triggered run as the trigger's `runAsUser` (permission checks, the
//!   concurrency rules and a deterministic id where the trigger has one, so a trigger delivered
//!   twice starts one run);
//! - `webhook`: `POST /api/v1/webhooks/{source}` and the git push hooks: signature checks,
//!   payload constraints, which pipelines a call starts;
//! - `pipeline`: pipelines started when another pipeline's run ends;
//! - `cron`: schedules, checked every second by the instance holding the `cron` poll lease;
//! - `docker`: new tags and digests in Docker registries, polled by the `docker` lease holder;
//! - `jenkins`: new successful builds of Jenkins jobs, polled by the `jenkins` lease holder;
//! - `pollers`: the loops that run cron, Docker and Jenkins in `gennaker serve`.

pub mod cron;
pub mod docker;
pub mod jenkins;
pub mod launch;
pub mod pipeline;
pub mod pollers;
pub mod webhook;

/// The first `bytes` bytes of the SHA-256 of `text`, in hex: a short stable key for trigger
/// state and run ids derived from what fired.
pub fn short_digest(text: &str, bytes: usize) -> String {
    use sha2::Digest;
    crate::auth::token::hex(&sha2::Sha256::digest(text.as_bytes())[..bytes])
}

/// Pipelines whose `triggers` may hold a trigger of `kind` (the store pre-filters by text).
pub async fn triggered_pipelines(store: &crate::store::Store, kind: &str) -> Result<Vec<(app::model::pipeline::Pipeline, Vec<app::model::trigger::TriggerConfig>)>, crate::store::Error> {
    let pipelines = store.pipelines_mentioning(&format!("\"type\":\"{kind}\"")).await?;
    Ok(pipelines
        .into_iter()
        .filter(|pipeline| !pipeline.disabled)
        .map(|pipeline| {
            let triggers = pipeline
                .triggers
                .iter()
                .filter_map(|trigger| app::model::lenient::from_value::<app::model::trigger::TriggerConfig>(trigger).ok())
                .filter(|trigger| trigger.enabled)
                .collect::<Vec<_>>();
            (pipeline, triggers)
        })
        .filter(|(_, triggers)| !triggers.is_empty())
        .collect())
}
