//! The clouds this gennaker manages, by capability: server-group providers (`local`; each with
//! the accounts and regions it serves) and the manifest cloud (Kubernetes, whose accounts are
//! configuration in the store), and the cluster cache their caching agents keep fresh: one
//! polling agent per server-group location, one watching agent per Kubernetes account (started
//! and stopped as accounts are added, changed and removed). Stages, REST and the UI reach every
//! provider through here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use app::model::cluster::Location;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::cache::ClusterCache;
use super::kubernetes::KubernetesCloud;
use super::provider::{Error, Provider, Result};

#[derive(Clone, Default)]
pub struct Clouds {
    providers: Arc<BTreeMap<String, (Arc<dyn Provider>, Vec<Location>)>>,
    pub cache: ClusterCache,
    kubernetes: Option<KubernetesCloud>,
    /// Told when accounts change, so agents start and stop at once.
    accounts_changed: Arc<tokio::sync::Notify>,
}

impl Clouds {
    /// `providers`: each with the (account, region) pairs it serves.
    pub fn new(providers: Vec<(Arc<dyn Provider>, Vec<Location>)>) -> Self {
        let providers = providers.into_iter().map(|(provider, locations)| (provider.name().to_string(), (provider, locations))).collect();
        Self { providers: Arc::new(providers), cache: ClusterCache::default(), kubernetes: None, accounts_changed: Arc::default() }
    }

    /// Adds the manifest cloud (Kubernetes accounts).
    pub fn with_kubernetes(mut self, kubernetes: KubernetesCloud) -> Self {
        self.kubernetes = Some(kubernetes);
        self
    }

    pub fn kubernetes(&self) -> Result<&KubernetesCloud> {
        self.kubernetes.as_ref().ok_or_else(|| Error::Invalid("this gennaker runs no Kubernetes accounts".into()))
    }

    /// Accounts were added, changed or removed: the agents follow now, not at the next sweep.
    pub fn accounts_changed(&self) {
        self.accounts_changed.notify_one();
    }

    pub fn provider(&self, cloud_provider: &str) -> Result<Arc<dyn Provider>> {
        self.providers.get(cloud_provider).map(|(provider, _)| provider.clone()).ok_or_else(|| {
            let known: Vec<&str> = self.providers.keys().map(String::as_str).collect();
            Error::Invalid(format!("no cloud provider {cloud_provider:?} is configured (known: {})", known.join(", ")))
        })
    }

    /// Checks that the provider serves this account and region.
    pub fn check_location(&self, location: &Location) -> Result<Arc<dyn Provider>> {
        let provider = self.provider(&location.cloud_provider)?;
        let (_, locations) = &self.providers[&location.cloud_provider];
        if !locations.contains(location) {
            return Err(Error::Invalid(format!(
                "{} has no account {:?} with region {:?}",
                location.cloud_provider, location.account, location.region
            )));
        }
        Ok(provider)
    }

    pub fn locations(&self) -> Vec<Location> {
        self.providers.values().flat_map(|(_, locations)| locations.iter().cloned()).collect()
    }

    /// Observes one location now and updates the cache (after a mutating task, say).
    pub async fn refresh(&self, location: &Location) -> Result<()> {
        let provider = self.provider(&location.cloud_provider)?;
        let snapshot = provider.observe(&location.account, &location.region).await?;
        self.cache.update(location.clone(), snapshot);
        Ok(())
    }

    /// Observes every location now.
    pub async fn refresh_all(&self) {
        for location in self.locations() {
            if let Err(error) = self.refresh(&location).await {
                tracing::warn!(%error, account = %location.account, region = %location.region, "caching agent could not observe");
            }
        }
    }

    /// One caching agent per location, each refreshing every `interval` until `stop` changes;
    /// and the supervisor of the Kubernetes accounts' agents.
    pub fn start_agents(&self, interval: Duration, stop: watch::Receiver<()>) -> Vec<JoinHandle<()>> {
        let mut handles = self.start_server_group_agents(interval, stop.clone());
        if let Some(kubernetes) = &self.kubernetes {
            handles.push(tokio::spawn(supervise_kubernetes(kubernetes.clone(), self.cache.clone(), self.accounts_changed.clone(), stop)));
        }
        handles
    }

    fn start_server_group_agents(&self, interval: Duration, stop: watch::Receiver<()>) -> Vec<JoinHandle<()>> {
        self.locations()
            .into_iter()
            .map(|location| {
                let clouds = self.clone();
                let mut stop = stop.clone();
                tokio::spawn(async move {
                    loop {
                        if let Err(error) = clouds.refresh(&location).await {
                            tracing::warn!(%error, account = %location.account, region = %location.region, "caching agent could not observe");
                        }
                        tokio::select! {
                            _ = stop.changed() => return,
                            () = tokio::time::sleep(interval) => {}
                        }
                    }
                })
            })
            .collect()
    }
}

/// How often the supervisor looks for account changes made elsewhere (another instance, the
/// clouds file at a restart), besides being told.
const ACCOUNT_SWEEP: Duration = Duration::from_secs(5);

/// Keeps one watching agent per Kubernetes account: started for a new account, restarted for
/// a changed one, stopped (and its resources dropped from the cache) for a removed one.
async fn supervise_kubernetes(kubernetes: KubernetesCloud, cache: ClusterCache, changed: Arc<tokio::sync::Notify>, mut stop: watch::Receiver<()>) {
    use app::model::clouds::{CloudAccount, CloudProviderKind};
    let mut running: BTreeMap<String, (CloudAccount, watch::Sender<()>)> = BTreeMap::new();
    loop {
        match kubernetes.accounts().await {
            Ok(accounts) => {
                let wanted: BTreeMap<String, CloudAccount> = accounts
                    .into_iter()
                    .filter(|account| account.cloud_provider == CloudProviderKind::Kubernetes)
                    .map(|account| (account.name.clone(), account))
                    .collect();
                let stale: Vec<String> =
                    running.iter().filter(|(name, (account, _))| wanted.get(*name) != Some(account)).map(|(name, _)| name.clone()).collect();
                for name in stale {
                    if let Some((_, stop_agent)) = running.remove(&name) {
                        let _ = stop_agent.send(());
                    }
                    kubernetes.forget(&name).await;
                    cache.forget_account("kubernetes", &name);
                    tracing::info!(account = %name, "kubernetes caching agent stopped");
                }
                for (name, account) in wanted {
                    if running.contains_key(&name) {
                        continue;
                    }
                    let (stop_agent, agent_stopped) = watch::channel(());
                    super::kubernetes::watch::start(kubernetes.clone(), cache.clone(), name.clone(), ACCOUNT_SWEEP, agent_stopped);
                    tracing::info!(account = %name, "kubernetes caching agent started");
                    running.insert(name, (account, stop_agent));
                }
            }
            Err(error) => tracing::warn!(%error, "cannot read the cloud accounts"),
        }
        tokio::select! {
            _ = stop.changed() => break,
            () = changed.notified() => {}
            () = tokio::time::sleep(ACCOUNT_SWEEP) => {}
        }
    }
    for (_, (_, stop_agent)) in running {
        let _ = stop_agent.send(());
    }
}
