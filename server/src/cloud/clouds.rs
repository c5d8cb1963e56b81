//! The clouds this gennaker manages, by capability: server-group providers (`local`, and `aws`
//! whose accounts and regions are configuration in the store) and the manifest cloud
//! (Kubernetes, likewise), and the cluster cache their caching agents keep fresh: one polling
//! agent per server-group location (AWS ones started and stopped as accounts change), one
//! watching agent per Kubernetes account. Stages, REST and the UI reach every provider through
//! here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use app::model::cluster::Location;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::aws::AwsCloud;
use super::cache::ClusterCache;
use super::kubernetes::KubernetesCloud;
use super::provider::{Error, Provider, Result};

/// The locations a provider serves now (AWS's follow its accounts).
type Served = Arc<std::sync::RwLock<Vec<Location>>>;
/// The server-group providers by name, with the locations each serves.
type Providers = BTreeMap<String, (Arc<dyn Provider>, Served)>;

#[derive(Clone, Default)]
pub struct Clouds {
    providers: Arc<Providers>,
    pub cache: ClusterCache,
    kubernetes: Option<KubernetesCloud>,
    aws: Option<AwsCloud>,
    /// Told when accounts change, so agents start and stop at once (one for each supervisor).
    accounts_changed: Arc<tokio::sync::Notify>,
    aws_accounts_changed: Arc<tokio::sync::Notify>,
}

impl Clouds {
    /// `providers`: each with the (account, region) pairs it serves.
    pub fn new(providers: Vec<(Arc<dyn Provider>, Vec<Location>)>) -> Self {
        let providers = providers.into_iter().map(|(provider, locations)| (provider.name().to_string(), (provider, Arc::new(std::sync::RwLock::new(locations))))).collect();
        Self { providers: Arc::new(providers), cache: ClusterCache::default(), kubernetes: None, aws: None, accounts_changed: Arc::default(), aws_accounts_changed: Arc::default() }
    }

    /// Adds the AWS provider; its locations are its accounts' regions, followed as they change.
    pub async fn with_aws(mut self, aws: AwsCloud) -> Self {
        let locations = aws.locations().await.unwrap_or_default();
        let mut providers = (*self.providers).clone();
        providers.insert("aws".into(), (Arc::new(aws.clone()) as Arc<dyn Provider>, Arc::new(std::sync::RwLock::new(locations))));
        self.providers = Arc::new(providers);
        self.aws = Some(aws);
        self
    }

    /// Makes the AWS provider serve its accounts' regions as the store has them now (an
    /// account just added can be deployed to at once; its agent follows).
    pub async fn sync_aws_locations(&self) {
        let (Some(aws), Some((_, served))) = (&self.aws, self.providers.get("aws")) else { return };
        if let Ok(locations) = aws.locations().await {
            *served.write().unwrap_or_else(|p| p.into_inner()) = locations;
        }
    }

    pub fn aws(&self) -> Option<&AwsCloud> {
        self.aws.as_ref()
    }

    fn served(&self, cloud_provider: &str) -> Vec<Location> {
        self.providers.get(cloud_provider).map(|(_, served)| served.read().unwrap_or_else(|p| p.into_inner()).clone()).unwrap_or_default()
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
        self.aws_accounts_changed.notify_one();
    }

    pub fn provider(&self, cloud_provider: &str) -> Result<Arc<dyn Provider>> {
        self.providers.get(cloud_provider).map(|(provider, _)| provider.clone()).ok_or_else(|| {
            let known: Vec<&str> = self.providers.keys().map(String::as_str).collect();
            Error::Invalid(format!("no cloud provider {cloud_provider:?} is configured (known: {})", known.join(", ")))
        })
    }

    /// Every server-group provider.
    pub fn providers(&self) -> Vec<Arc<dyn Provider>> {
        self.providers.values().map(|(provider, _)| provider.clone()).collect()
    }

    /// Checks that the provider serves this account and region.
    pub fn check_location(&self, location: &Location) -> Result<Arc<dyn Provider>> {
        let provider = self.provider(&location.cloud_provider)?;
        if !self.served(&location.cloud_provider).contains(location) {
            return Err(Error::Invalid(format!(
                "{} has no account {:?} with region {:?}",
                location.cloud_provider, location.account, location.region
            )));
        }
        Ok(provider)
    }

    pub fn locations(&self) -> Vec<Location> {
        self.providers.keys().flat_map(|name| self.served(name)).collect()
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
            handles.push(tokio::spawn(supervise_kubernetes(kubernetes.clone(), self.cache.clone(), self.accounts_changed.clone(), stop.clone())));
        }
        if self.aws.is_some() {
            handles.push(tokio::spawn(supervise_aws(self.clone(), interval, stop)));
        }
        handles
    }

    fn start_server_group_agents(&self, interval: Duration, stop: watch::Receiver<()>) -> Vec<JoinHandle<()>> {
        self.locations().into_iter().filter(|location| location.cloud_provider != "aws").map(|location| self.start_agent(location, interval, stop.clone())).collect()
    }

    /// A polling agent for one location. While its cloud cannot be reached the cache keeps
    /// what it last saw (an AWS account's status says why).
    fn start_agent(&self, location: Location, interval: Duration, mut stop: watch::Receiver<()>) -> JoinHandle<()> {
        let clouds = self.clone();
        tokio::spawn(async move {
            loop {
                let outcome = clouds.refresh(&location).await;
                if let (Some(aws), "aws") = (&clouds.aws, location.cloud_provider.as_str()) {
                    aws.set_status(&location.account, &location.region, outcome.as_ref().err().map(ToString::to_string));
                }
                if let Err(error) = outcome {
                    tracing::warn!(%error, account = %location.account, region = %location.region, "caching agent could not observe");
                }
                tokio::select! {
                    _ = stop.changed() => return,
                    () = tokio::time::sleep(interval) => {}
                }
            }
        })
    }
}

/// Keeps one polling agent per AWS account and region: the provider's locations follow the
/// accounts (so stages may act there), agents start for new ones and stop for removed ones
/// (whose resources leave the cache).
async fn supervise_aws(clouds: Clouds, interval: Duration, mut stop: watch::Receiver<()>) {
    let Some(aws) = clouds.aws.clone() else { return };
    let mut running: BTreeMap<(String, String), watch::Sender<()>> = BTreeMap::new();
    loop {
        match aws.locations().await {
            Ok(locations) => {
                if let Some((_, served)) = clouds.providers.get("aws") {
                    *served.write().unwrap_or_else(|p| p.into_inner()) = locations.clone();
                }
                let wanted: BTreeMap<(String, String), Location> = locations.into_iter().map(|location| ((location.account.clone(), location.region.clone()), location)).collect();
                let gone: Vec<(String, String)> = running.keys().filter(|key| !wanted.contains_key(*key)).cloned().collect();
                for key in gone {
                    if let Some(stop_agent) = running.remove(&key) {
                        let _ = stop_agent.send(());
                    }
                    let location = Location { cloud_provider: "aws".into(), account: key.0.clone(), region: key.1.clone() };
                    clouds.cache.update(location, super::provider::Snapshot::default());
                    if !wanted.keys().any(|(account, _)| account == &key.0) {
                        clouds.cache.forget_account("aws", &key.0);
                    }
                    tracing::info!(account = %key.0, region = %key.1, "aws caching agent stopped");
                }
                for (key, location) in wanted {
                    if running.contains_key(&key) {
                        continue;
                    }
                    let (stop_agent, agent_stopped) = watch::channel(());
                    clouds.start_agent(location, interval, agent_stopped);
                    tracing::info!(account = %key.0, region = %key.1, "aws caching agent started");
                    running.insert(key, stop_agent);
                }
            }
            Err(error) => tracing::warn!(%error, "cannot read the cloud accounts"),
        }
        tokio::select! {
            _ = stop.changed() => break,
            () = clouds.aws_accounts_changed.notified() => {}
            () = tokio::time::sleep(ACCOUNT_SWEEP) => {}
        }
    }
    for (_, stop_agent) in running {
        let _ = stop_agent.send(());
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
