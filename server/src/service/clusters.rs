//! Clusters, load balancers and security groups as REST and the UI see them: reads come from
//! the cluster cache (filtered by application READ), changes go to the provider (account
//! WRITE) and refresh the cache at once so the next read and live subscribers see them.

use std::sync::Arc;

use app::error::{AppError, Result};
use app::model::auth::{Access, Caller};
use app::model::cluster::{
    ClusterHeader, LoadBalancer, LoadBalancerRequest, Location, RegionClusters, SecurityGroup, SecurityGroupRequest, ServerGroup, WorkloadEvent, WorkloadManifest,
};
use app::model::cluster::cluster_headers;
use app::model::cluster_page::{self, ClustersPage, ClustersPageQuery};
use app::model::names::ClusterName;
use app::ssr::ClusterService;
use async_trait::async_trait;

use crate::auth::policy;
use crate::cloud::clouds::Clouds;
use crate::cloud::provider;
use crate::auth::access::authorize;
use crate::store::Store;

pub struct Clusters {
    store: Store,
    clouds: Clouds,
}

impl Clusters {
    pub fn new(store: Store, clouds: Clouds) -> Self {
        Self { store, clouds }
    }

    /// Which accounts `caller` may read (what runs there shows only to them).
    async fn readable_accounts(&self, caller: &Caller) -> Result<impl Fn(&str) -> bool + use<>> {
        let permissions = self.store.account_permissions().await?;
        let caller = caller.clone();
        Ok(move |account: &str| {
            let granted = permissions.get(account).cloned().unwrap_or_default();
            policy::may_use_account(&caller, &granted, Access::Read)
        })
    }

    /// The application's view (needs READ), less the regions of accounts `caller` may not
    /// read. Shared with the cache, not copied, when every account is readable: at 10,000
    /// server groups a copy costs more than the page cut from it.
    async fn readable_view(&self, caller: &Caller, application: &str) -> Result<Arc<Vec<RegionClusters>>> {
        authorize(&self.store, caller, application, Access::Read).await?;
        let readable = self.readable_accounts(caller).await?;
        let view = self.clouds.cache.clusters(application);
        if view.iter().all(|region| readable(&region.account)) {
            return Ok(view);
        }
        Ok(Arc::new(view.iter().filter(|region| readable(&region.account)).cloned().collect()))
    }

    async fn require_account(&self, caller: &Caller, account: &str, access: Access) -> Result<()> {
        let permissions = self.store.account_permissions().await?.remove(account).unwrap_or_default();
        policy::require_account(caller, account, &permissions, access)
    }

    /// Checks the caller may change this application in this account, and that the location
    /// exists.
    async fn may_change(&self, caller: &Caller, application: &str, location: &Location) -> Result<std::sync::Arc<dyn provider::Provider>> {
        authorize(&self.store, caller, application, Access::Write).await?;
        self.require_account(caller, &location.account, Access::Write).await?;
        self.clouds.check_location(location).map_err(provider_error)
    }
}

/// A provider's refusal as the client should see it.
pub fn provider_error(error: provider::Error) -> AppError {
    match error {
        provider::Error::NotFound(what) => AppError::not_found(format!("{what} not found")),
        provider::Error::Invalid(message) => AppError::Invalid { field: None, message },
        provider::Error::Provider(message) => AppError::Unavailable { message },
    }
}

fn named(application: &str, stack: &str, detail: &str) -> Result<String> {
    ClusterName::new(application, stack, detail)
        .map(|name| name.to_string())
        .map_err(|error| AppError::invalid("stack", error.to_string()))
}

fn application_of(name: &str) -> Result<String> {
    crate::cloud::cache::application_of(name).ok_or_else(|| AppError::invalid("name", format!("{name:?} does not follow the naming convention")))
}

#[async_trait]
impl ClusterService for Clusters {
    async fn clusters(&self, caller: &Caller, application: &str) -> Result<Vec<RegionClusters>> {
        Ok(Arc::unwrap_or_clone(self.readable_view(caller, application).await?))
    }

    async fn cluster(&self, caller: &Caller, application: &str, cluster: &str) -> Result<Vec<RegionClusters>> {
        let view = self.readable_view(caller, application).await?;
        Ok(view
            .iter()
            .filter_map(|region| {
                let clusters: Vec<_> = region.clusters.iter().filter(|found| found.name == cluster).cloned().collect();
                (!clusters.is_empty()).then(|| RegionClusters {
                    cloud_provider: region.cloud_provider.clone(),
                    account: region.account.clone(),
                    region: region.region.clone(),
                    clusters,
                })
            })
            .collect())
    }

    async fn cluster_headers(&self, caller: &Caller, application: &str, cluster: Option<&str>) -> Result<Vec<ClusterHeader>> {
        let view = self.readable_view(caller, application).await?;
        Ok(cluster_headers(&view, cluster))
    }

    async fn clusters_page(&self, caller: &Caller, application: &str, query: &ClustersPageQuery) -> Result<ClustersPage> {
        let view = self.readable_view(caller, application).await?;
        let cache = &self.clouds.cache;
        Ok(cluster_page::build(&view, query, |location, names| cache.instance_health(location, names)))
    }

    async fn server_group(&self, caller: &Caller, application: &str, account: &str, region: &str, name: &str) -> Result<ServerGroup> {
        authorize(&self.store, caller, application, Access::Read).await?;
        self.require_account(caller, account, Access::Read).await?;
        let not_found = || AppError::not_found(format!("server group {name} not found in {account}/{region}"));
        let found = self.clouds.cache.server_group(account, region, name).ok_or_else(not_found)?;
        let owner = found.moniker.as_ref().map(|moniker| moniker.application.clone()).or_else(|| application_of(name).ok());
        if owner.as_deref() != Some(application) {
            return Err(not_found());
        }
        Ok(found)
    }

    async fn build_log(&self, caller: &Caller, application: &str, account: &str, region: &str, name: &str) -> Result<Option<String>> {
        // The same checks as the server group's details: READ on both, and it is the application's.
        let group = self.server_group(caller, application, account, region, name).await?;
        let provider = self.clouds.provider(&group.location.cloud_provider).map_err(provider_error)?;
        provider.build_log(&group.location, name).await.map_err(provider_error)
    }

    async fn workload_manifest(&self, caller: &Caller, application: &str, account: &str, region: &str, name: &str) -> Result<WorkloadManifest> {
        // The same checks as the server group's details: READ on both, and it is the application's.
        let group = self.server_group(caller, application, account, region, name).await?;
        if group.location.cloud_provider != "kubernetes" {
            return Err(AppError::invalid("name", format!("{name} is not a Kubernetes workload: it has no manifest")));
        }
        let unavailable = |error: crate::cloud::kubernetes::Error| AppError::Unavailable { message: error.to_string() };
        let cloud = self.clouds.kubernetes().map_err(provider_error)?;
        let connection = cloud.connect(account).await.map_err(unavailable)?;
        let (kind, object) = crate::cloud::kubernetes::manifest::split_manifest_name(name).map_err(|e| AppError::invalid("name", e.to_string()))?;
        let resource = connection.resource_of_kind(&kind).await.map_err(unavailable)?;
        let manifest = connection
            .get(&resource, region, &object)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| AppError::not_found(format!("{name} not found in {account}/{region}")))?;
        let events = connection.events_of(region, &resource.api.kind, &object).await.map_err(unavailable)?;
        let events = events
            .iter()
            .map(|event| {
                let text = |key: &str| event.get(key).and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
                WorkloadEvent {
                    kind: text("type"),
                    reason: text("reason"),
                    message: text("message"),
                    count: event.get("count").and_then(serde_json::Value::as_u64).unwrap_or(1) as u32,
                    last_seen: crate::cloud::kubernetes::view::millis(event.get("lastTimestamp").or_else(|| event.pointer("/metadata/creationTimestamp"))),
                }
            })
            .collect();
        Ok(WorkloadManifest { manifest: crate::engine::stages::deploy_manifest::without_managed_fields(manifest), events })
    }

    async fn load_balancers(&self, caller: &Caller, application: &str) -> Result<Vec<LoadBalancer>> {
        authorize(&self.store, caller, application, Access::Read).await?;
        let readable = self.readable_accounts(caller).await?;
        Ok(self.clouds.cache.load_balancers(application).into_iter().filter(|found| readable(&found.location.account)).collect())
    }

    async fn upsert_load_balancer(&self, caller: &Caller, request: LoadBalancerRequest) -> Result<LoadBalancer> {
        let location = Location { cloud_provider: request.cloud_provider.clone(), account: request.account.clone(), region: request.region.clone() };
        let provider = self.may_change(caller, &request.application, &location).await?;
        if request.listeners.is_empty() {
            return Err(AppError::invalid("listeners", "a load balancer needs at least one listener"));
        }
        if let Some(check) = &request.health_check {
            if !check.path.starts_with('/') {
                return Err(AppError::invalid("healthCheck.path", "the health check path must start with /"));
            }
            if check.timeout_ms == 0 || check.interval_ms == 0 || check.timeout_ms > check.interval_ms {
                return Err(AppError::invalid("healthCheck.timeoutMs", "the timeout must be above 0 and at most the interval"));
            }
        }
        let known = self.clouds.cache.snapshot(&location).map(|s| s.security_groups.iter().map(|g| g.name.clone()).collect::<Vec<_>>()).unwrap_or_default();
        if let Some(unknown) = request.security_groups.iter().find(|name| !known.contains(name)) {
            return Err(AppError::invalid("securityGroups", format!("security group {unknown} does not exist in {}/{}", location.account, location.region)));
        }
        let balancer = LoadBalancer {
            name: named(&request.application, &request.stack, &request.detail)?,
            location: location.clone(),
            listeners: request.listeners,
            health_check: request.health_check,
            security_groups: request.security_groups,
            moniker: None,
            load_balancer_type: request.load_balancer_type,
        };
        let saved = provider.upsert_load_balancer(balancer).await.map_err(provider_error)?;
        self.clouds.refresh(&location).await.map_err(provider_error)?;
        tracing::info!(load_balancer = %saved.name, by = %caller.name, "load balancer saved");
        Ok(saved)
    }

    async fn delete_load_balancer(&self, caller: &Caller, account: &str, region: &str, name: &str) -> Result<()> {
        let location = self.location_of(account, region)?;
        let provider = self.may_change(caller, &application_of(name)?, &location).await?;
        let snapshot = self.clouds.cache.snapshot(&location).unwrap_or_default();
        if !snapshot.load_balancers.iter().any(|lb| lb.name == name) {
            return Err(AppError::not_found(format!("load balancer {name} not found in {account}/{region}")));
        }
        if let Some(user) = snapshot.server_groups.iter().find(|group| group.load_balancers.iter().any(|lb| lb == name)) {
            return Err(AppError::conflict("name", format!("server group {} still uses load balancer {name}", user.name)));
        }
        provider.delete_load_balancer(&location, name).await.map_err(provider_error)?;
        self.clouds.refresh(&location).await.map_err(provider_error)?;
        Ok(())
    }

    async fn security_groups(&self, caller: &Caller, application: &str) -> Result<Vec<SecurityGroup>> {
        authorize(&self.store, caller, application, Access::Read).await?;
        let readable = self.readable_accounts(caller).await?;
        Ok(self.clouds.cache.security_groups(application).into_iter().filter(|found| readable(&found.location.account)).collect())
    }

    async fn upsert_security_group(&self, caller: &Caller, request: SecurityGroupRequest) -> Result<SecurityGroup> {
        let location = Location { cloud_provider: request.cloud_provider.clone(), account: request.account.clone(), region: request.region.clone() };
        let provider = self.may_change(caller, &request.application, &location).await?;
        for (index, rule) in request.ingress.iter().enumerate() {
            if let Err(error) = rule.cidr.parse::<crate::cloud::cidr::Cidr>() {
                return Err(AppError::invalid(format!("ingress[{index}].cidr"), error.to_string()));
            }
            if rule.start_port > rule.end_port {
                return Err(AppError::invalid(format!("ingress[{index}].startPort"), format!("port range {}-{} is empty", rule.start_port, rule.end_port)));
            }
        }
        let security_group = SecurityGroup {
            name: named(&request.application, &request.stack, &request.detail)?,
            location: location.clone(),
            description: request.description,
            ingress: request.ingress,
            moniker: None,
        };
        let saved = provider.upsert_security_group(security_group).await.map_err(provider_error)?;
        self.clouds.refresh(&location).await.map_err(provider_error)?;
        tracing::info!(security_group = %saved.name, by = %caller.name, "security group saved");
        Ok(saved)
    }

    async fn delete_security_group(&self, caller: &Caller, account: &str, region: &str, name: &str) -> Result<()> {
        let location = self.location_of(account, region)?;
        let provider = self.may_change(caller, &application_of(name)?, &location).await?;
        let snapshot = self.clouds.cache.snapshot(&location).unwrap_or_default();
        if !snapshot.security_groups.iter().any(|sg| sg.name == name) {
            return Err(AppError::not_found(format!("security group {name} not found in {account}/{region}")));
        }
        let used_by = snapshot
            .load_balancers
            .iter()
            .find(|lb| lb.security_groups.iter().any(|sg| sg == name))
            .map(|lb| format!("load balancer {}", lb.name))
            .or_else(|| snapshot.server_groups.iter().find(|g| g.security_groups.iter().any(|sg| sg == name)).map(|g| format!("server group {}", g.name)));
        if let Some(user) = used_by {
            return Err(AppError::conflict("name", format!("{user} still uses security group {name}")));
        }
        provider.delete_security_group(&location, name).await.map_err(provider_error)?;
        self.clouds.refresh(&location).await.map_err(provider_error)?;
        Ok(())
    }
}

impl Clusters {
    fn location_of(&self, account: &str, region: &str) -> Result<Location> {
        self.clouds
            .locations()
            .into_iter()
            .find(|location| location.account == account && location.region == region)
            .ok_or_else(|| AppError::not_found(format!("account {account} with region {region} not found")))
    }
}
