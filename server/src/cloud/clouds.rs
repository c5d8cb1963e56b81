//! The clouds this gennaker manages: each provider with the accounts and regions it serves,
//! and the cluster cache their caching agents keep fresh. Stages, REST and the UI reach every
//! provider through here, by the `cloudProvider` name in their configuration.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use app::model::cluster::Location;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::cache::ClusterCache;
use super::provider::{Error, Provider, Result};

#[derive(Clone, Default)]
pub struct Clouds {
    providers: Arc<BTreeMap<String, (Arc<dyn Provider>, Vec<Location>)>>,
    pub cache: ClusterCache,
}

impl Clouds {
    /// `providers`: each with the (account, region) pairs it serves.
    pub fn new(providers: Vec<(Arc<dyn Provider>, Vec<Location>)>) -> Self {
        let providers = providers.into_iter().map(|(provider, locations)| (provider.name().to_string(), (provider, locations))).collect();
        Self { providers: Arc::new(providers), cache: ClusterCache::default() }
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

    /// One caching agent per location, each refreshing every `interval` until `stop` changes.
    pub fn start_agents(&self, interval: Duration, stop: watch::Receiver<()>) -> Vec<JoinHandle<()>> {
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
