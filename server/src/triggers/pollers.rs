//! The background loops behind polled triggers: cron every second, Docker registries and
//! Jenkins masters every `--docker-poll-ms`. Each pass is only acted on by the instance holding
//! that kind's poll lease; a pass that started runs wakes the engine.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::engine::Engine;

/// Runs `step` every `every` until `stopped` changes.
fn repeat<F, Fut>(every: Duration, mut stopped: watch::Receiver<()>, mut step: F) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        loop {
            step().await;
            tokio::select! {
                _ = stopped.changed() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    })
}

fn report(engine: &Engine, started: Result<usize, crate::store::Error>, what: &str) {
    match started {
        Ok(0) => {}
        Ok(_) => engine.wake(),
        Err(error) => tracing::warn!(%error, "{what} triggers could not be checked"),
    }
}

pub fn start(
    engine: Engine,
    http: crate::outbound::Outbound,
    jenkins_masters: BTreeMap<String, String>,
    poll_every: Duration,
    stopped: watch::Receiver<()>,
) -> Vec<JoinHandle<()>> {
    let owner = crate::auth::token::new_id();
    let cron = {
        let (engine, owner) = (engine.clone(), owner.clone());
        repeat(Duration::from_secs(1), stopped.clone(), move || {
            let (engine, owner) = (engine.clone(), owner.clone());
            async move { report(&engine, super::cron::tick(engine.launcher(), &owner, engine.now()).await, "cron") }
        })
    };
    let polled = repeat(poll_every, stopped, move || {
        let (engine, owner, http, masters) = (engine.clone(), owner.clone(), http.clone(), jenkins_masters.clone());
        async move {
            report(&engine, super::docker::poll(engine.launcher(), &http, &owner, engine.now()).await, "Docker");
            report(&engine, super::jenkins::poll(engine.launcher(), &http, &masters, &owner, engine.now()).await, "Jenkins");
        }
    });
    vec![cron, polled]
}
