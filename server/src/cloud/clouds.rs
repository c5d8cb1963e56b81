//! The clouds this gennaker manages, by capability: server-group providers (`local`, and `aws`
//! whose accounts and regions are configuration in the store) and the manifest cloud
//! (Kubernetes, likewise), and the cluster cache their caching agents keep fresh: one polling
//! agent per server-group location (AWS ones started and stopped as accounts change), one
//! watching agent per Kubernetes account. Stages, REST and the UI reach every provider through
//! here. With several instances on one PostgreSQL, each agent observes only while this
//! instance holds its location's lease, and otherwise follows what the holder publishes
//! (`leases`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use app::model::cluster::Location;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::aws::AwsCloud;
use super::cache::ClusterCache;
use super::kubernetes::KubernetesCloud;
use super::leases::{self, Sharing};
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
    /// Set when instances share the database: agents observe only under their lease.
    sharing: Option<Sharing>,
}

impl Clouds {
    /// `providers`: each with the (account, region) pairs it serves.
    pub fn new(providers: Vec<(Arc<dyn Provider>, Vec<Location>)>) -> Self {
        let providers = providers.into_iter().map(|(provider, locations)| (provider.name().to_string(), (provider, Arc::new(std::sync::RwLock::new(locations))))).collect();
        Self { providers: Arc::new(providers), cache: ClusterCache::default(), kubernetes: None, aws: None, accounts_changed: Arc::default(), aws_accounts_changed: Arc::default(), sharing: None }
    }

    /// Gives up this instance's caching and local-cloud leases (at a clean shutdown, after the
    /// agents and the local cloud stopped), so a rolling restart hands them over at once.
    pub async fn release_leases(&self) {
        if let Some(sharing) = &self.sharing {
            sharing.release().await;
        }
    }

    /// Shares the caching agents with the other instances on the database (`None`: this
    /// instance observes everything, as with SQLite).
    pub fn with_sharing(mut self, sharing: Option<Sharing>) -> Self {
        self.sharing = sharing;
        self
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

    /// Observes one location now and updates the cache (after a mutating task, say), and
    /// publishes what it saw, so the other instances see it at once too.
    pub async fn refresh(&self, location: &Location) -> Result<()> {
        let provider = self.provider(&location.cloud_provider)?;
        let snapshot = provider.observe(&location.account, &location.region).await?;
        if let Some(sharing) = &self.sharing {
            sharing.publish(&leases::key(location), vec![(location, &snapshot)]).await;
        }
        self.cache.update(location.clone(), snapshot);
        Ok(())
    }

    /// Loads what was published for `location` after version `known` into the cache: the
    /// version the cache has now.
    async fn follow(&self, sharing: &Sharing, location: &Location, known: i64) -> leases::Result<i64> {
        let Some((version, published)) = sharing.load_after(&leases::key(location), known).await? else { return Ok(known) };
        for (at, snapshot) in published {
            if at == *location {
                self.cache.update(at, snapshot);
            }
        }
        Ok(version)
    }

    /// Observes every location now (at startup, before anything is served). When instances
    /// share the database, only where this one takes the lease (the local cloud restores its
    /// processes then, as it does alone), loading what the holders published elsewhere.
    pub async fn refresh_all(&self) {
        for location in self.locations() {
            if let (Some(sharing), Ok(provider)) = (&self.sharing, self.provider(&location.cloud_provider)) {
                let held = sharing.take(&provider.lease_name(&location)).await;
                provider.lease_held(held).await;
                if !held {
                    if let Err(error) = self.follow(sharing, &location, 0).await {
                        tracing::warn!(%error, account = %location.account, region = %location.region, "cannot load a published cluster snapshot");
                    }
                    continue;
                }
            }
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
            let agents = KubernetesAgents { cloud: kubernetes.clone(), cache: self.cache.clone(), sharing: self.sharing.clone(), interval };
            handles.push(tokio::spawn(supervise_kubernetes(agents, self.accounts_changed.clone(), stop.clone())));
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
    /// what it last saw (an AWS account's status says why). When instances share the
    /// database it observes only while it holds the location's lease (renewed each loop), and
    /// otherwise loads what the holder published, each interval and when told of a change.
    fn start_agent(&self, location: Location, interval: Duration, mut stop: watch::Receiver<()>) -> JoinHandle<()> {
        let clouds = self.clone();
        tokio::spawn(async move {
            let Ok(provider) = clouds.provider(&location.cloud_provider) else { return };
            let (lease, key) = (provider.lease_name(&location), leases::key(&location));
            let mut notices = clouds.sharing.as_ref().map(Sharing::subscribe);
            // Whether the lease was held at the last loop, and the published version loaded.
            let (mut held, mut known) = (false, 0);
            loop {
                let holds = match &clouds.sharing {
                    None => true,
                    Some(sharing) => {
                        let holds = sharing.take(&lease).await;
                        if holds != held {
                            let verb = if holds { "took" } else { "no longer holds" };
                            tracing::info!(%lease, owner = sharing.owner(), "this instance {verb} a caching lease");
                        }
                        provider.lease_held(holds).await;
                        holds
                    }
                };
                held = holds;
                if holds {
                    // Loaded again in full should the lease go elsewhere.
                    known = 0;
                    let outcome = clouds.refresh(&location).await;
                    if let (Some(aws), "aws") = (&clouds.aws, location.cloud_provider.as_str()) {
                        aws.set_status(&location.account, &location.region, outcome.as_ref().err().map(ToString::to_string));
                    }
                    if let Err(error) = outcome {
                        tracing::warn!(%error, account = %location.account, region = %location.region, "caching agent could not observe");
                    }
                } else if let Some(sharing) = &clouds.sharing {
                    match clouds.follow(sharing, &location, known).await {
                        Ok(version) => known = version,
                        Err(error) => tracing::warn!(%error, %key, "cannot load a published cluster snapshot"),
                    }
                }
                let following = notices.as_mut().filter(|_| !holds);
                if leases::pause(&mut stop, interval, following, &key).await {
                    return;
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

/// What the Kubernetes accounts' agents share.
#[derive(Clone)]
struct KubernetesAgents {
    cloud: KubernetesCloud,
    cache: ClusterCache,
    sharing: Option<Sharing>,
    /// How often a follower renews its try for the lease and loads what was published.
    interval: Duration,
}

impl KubernetesAgents {
    /// The agent of one account: its watch, or, when instances share the database, the watch
    /// while this instance holds the account's lease and a follower of what the holder
    /// publishes while not.
    fn start(&self, account: String, stop: watch::Receiver<()>) {
        match &self.sharing {
            None => drop(super::kubernetes::watch::start(self.cloud.clone(), self.cache.clone(), account, ACCOUNT_SWEEP, None, stop)),
            Some(sharing) => drop(tokio::spawn(self.clone().leased(sharing.clone(), account, stop))),
        }
    }

    async fn leased(self, sharing: Sharing, account: String, mut stop: watch::Receiver<()>) {
        let key = leases::kubernetes_key(&account);
        let lease = format!("cache:{key}");
        let mut notices = sharing.subscribe();
        // Dropping it stops the watch.
        let mut watching: Option<watch::Sender<()>> = None;
        let mut known = 0;
        loop {
            let holds = sharing.take(&lease).await;
            if holds && watching.is_none() {
                tracing::info!(%lease, owner = sharing.owner(), "this instance took a caching lease");
                let (stop_watch, watch_stopped) = watch::channel(());
                let publish = Some((sharing.clone(), key.clone()));
                super::kubernetes::watch::start(self.cloud.clone(), self.cache.clone(), account.clone(), ACCOUNT_SWEEP, publish, watch_stopped);
                watching = Some(stop_watch);
            } else if !holds && watching.take().is_some() {
                tracing::info!(%lease, owner = sharing.owner(), "this instance no longer holds a caching lease");
                known = 0;
            }
            if !holds {
                self.cloud.set_status(&account, "watched by another gennaker instance (it holds the account's caching lease)");
                match sharing.load_after(&key, known).await {
                    Ok(Some((version, published))) => {
                        self.cache.replace_account("kubernetes", &account, published.into_iter().collect());
                        known = version;
                    }
                    Ok(None) => {}
                    Err(error) => tracing::warn!(%error, %key, "cannot load a published cluster snapshot"),
                }
            }
            if leases::pause(&mut stop, self.interval, (!holds).then_some(&mut notices), &key).await {
                return;
            }
        }
    }
}

/// Keeps one watching agent per Kubernetes account: started for a new account, restarted for
/// a changed one, stopped (and its resources dropped from the cache) for a removed one.
async fn supervise_kubernetes(agents: KubernetesAgents, changed: Arc<tokio::sync::Notify>, mut stop: watch::Receiver<()>) {
    use app::model::clouds::{CloudAccount, CloudProviderKind};
    let (kubernetes, cache) = (agents.cloud.clone(), agents.cache.clone());
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
                    agents.start(name.clone(), agent_stopped);
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
