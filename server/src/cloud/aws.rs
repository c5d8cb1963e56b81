//! The AWS provider: a server-group cloud like `local`, so every cluster stage, strategy,
//! rollback and task works on AWS accounts through the same `Provider` trait. As Spinnaker's
//! Clouddriver models AWS:
//! - a server group is an Auto Scaling group named `app-stack-detail-vNNN`, launched from a
//!   launch template of the same name (the machine image, an AMI, is its artifact), its tags
//!   the server group's metadata;
//! - enabling and disabling are Spinnaker's: disable suspends the group's `Launch`,
//!   `Terminate` and `AddToLoadBalancer` processes and deregisters its instances from its target
//!   groups; enable resumes them and registers the instances again;
//! - a load balancer is an Application Load Balancer (a Network one when every listener is TCP)
//!   with one target group of the same name, which server groups joining it attach; to
//!   weigh traffic between server groups (the canary strategy), each server group also gets
//!   a target group of its own there for the while (`weights`);
//! - a security group is an EC2 security group of the default VPC, named as gennaker names it.
//!
//! Accounts are configuration (`app::model::clouds::AwsAccountSettings`): each (account,
//! region) gets SDK clients made on first use, remade when the account changes, with the
//! account's access key from the secrets store (or the default chain), an optional role to
//! assume and an optional endpoint. The SDK's standard retry mode backs off with jitter on
//! throttling; calls have timeouts. Errors carry AWS's message, never the credentials.
//! `convert` turns what the Describe calls return into gennaker's model (pure, tested).

pub mod classic;
pub mod cloudwatch;
pub mod convert;
pub mod scaling;
pub mod weights;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use app::model::cluster::{Artifact, Capacity, LoadBalancer, Location, Protocol, SecurityGroup, ServerGroup};
use app::model::clouds::{CloudAccount, CloudProviderKind};
use app::model::scaling::{ScalingPolicy, ScheduledAction};
use async_trait::async_trait;
use secrecy::ExposeSecret;

use super::provider::{Error, JobSpec, JobStatus, Provider, Result, ServerGroupSpec, Snapshot};
use crate::secrets::Secrets;
use crate::store::Store;

/// The processes Spinnaker suspends to disable a server group.
pub const DISABLE_PROCESSES: &[&str] = &["Launch", "Terminate", "AddToLoadBalancer"];
/// The tag holding the machine image a server group was launched from.
pub const IMAGE_TAG: &str = "gennaker:image";
/// The tag holding the `subnetType` a server group was launched into.
pub const SUBNET_TYPE_TAG: &str = "gennaker:subnetType";
/// The instance type when a deploy names none.
pub const DEFAULT_INSTANCE_TYPE: &str = "t3.micro";
/// The subnet tag Spinnaker reads a subnet's purpose from (`{"purpose": "internal", ...}`).
pub const SUBNET_PURPOSE_TAG: &str = "immutable_metadata";

/// A load balancer's health check as a target group takes it (ELBv2's bounds: interval at
/// least 5 s, timeout at least 2 s, thresholds 2 to 10).
struct TargetGroupCheck {
    path: String,
    interval_seconds: i32,
    timeout_seconds: i32,
    healthy: i32,
    unhealthy: i32,
}

impl TargetGroupCheck {
    fn of(check: &app::model::cluster::HealthCheck) -> Self {
        Self {
            path: check.path.clone(),
            interval_seconds: (check.interval_ms / 1000).max(5) as i32,
            timeout_seconds: (check.timeout_ms / 1000).max(2) as i32,
            healthy: check.healthy_threshold.clamp(2, 10) as i32,
            unhealthy: check.unhealthy_threshold.clamp(2, 10) as i32,
        }
    }
}

/// One (account, region)'s SDK clients.
#[derive(Clone)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub elb_classic: aws_sdk_elasticloadbalancing::Client,
    pub cloudwatch: cloudwatch::CloudWatch,
    fingerprint: String,
}

/// By (account, region): `None` when its agent last saw it, else why not.
type Statuses = BTreeMap<(String, String), Option<String>>;

/// Every AWS account's clients, made on first use.
#[derive(Clone)]
pub struct AwsCloud {
    store: Store,
    secrets: Arc<Secrets>,
    clients: Arc<tokio::sync::Mutex<HashMap<(String, String), Clients>>>,
    http: aws_sdk_ec2::config::SharedHttpClient,
    /// What each (account, region)'s caching agent last met: nothing wrong, or why not.
    statuses: Arc<std::sync::Mutex<Statuses>>,
    /// Launch template versions read so far (a version never changes), by template id and version.
    launch_versions: Arc<std::sync::Mutex<HashMap<(String, i64), convert::LaunchFacts>>>,
}

/// AWS's message for a failed call (its code and message when it gave them).
fn aws_error<E: std::error::Error + 'static>(action: &str, error: E) -> Error {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        message.push_str(&format!(": {next}"));
        cause = next.source();
    }
    Error::Provider(format!("AWS {action}: {message}"))
}

/// Access keys as the secret holds them: `{"accessKeyId", "secretAccessKey", "sessionToken"?}`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessKey {
    access_key_id: String,
    secret_access_key: String,
    #[serde(default)]
    session_token: Option<String>,
}

impl AwsCloud {
    pub fn new(store: Store, secrets: Arc<Secrets>) -> Self {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring))
            .build_https();
        Self { store, secrets, clients: Arc::default(), http, statuses: Arc::default(), launch_versions: Arc::default() }
    }

    /// Records what an agent's last look at (account, region) met (`None`: it saw the region).
    pub fn set_status(&self, account: &str, region: &str, error: Option<String>) {
        self.statuses.lock().unwrap_or_else(|p| p.into_inner()).insert((account.to_string(), region.to_string()), error);
    }

    /// `watching` when every region of the account was seen, else the first region's trouble.
    pub fn status(&self, account: &str) -> Option<String> {
        let statuses = self.statuses.lock().unwrap_or_else(|p| p.into_inner());
        let mine: Vec<(&String, &Option<String>)> = statuses.iter().filter(|((name, _), _)| name == account).map(|((_, region), status)| (region, status)).collect();
        if mine.is_empty() {
            return None;
        }
        match mine.iter().find_map(|(region, status)| status.as_ref().map(|error| (region, error))) {
            Some((region, error)) => Some(format!("cannot reach {region}: {error}")),
            None => Some("watching".into()),
        }
    }

    /// The AWS accounts.
    pub async fn accounts(&self) -> std::result::Result<Vec<CloudAccount>, crate::store::Error> {
        Ok(super::accounts::all(&self.store).await?.into_iter().filter(|account| account.cloud_provider == CloudProviderKind::Aws).collect())
    }

    /// Every (account, region) of the AWS accounts.
    pub async fn locations(&self) -> std::result::Result<Vec<Location>, crate::store::Error> {
        Ok(self
            .accounts()
            .await?
            .into_iter()
            .flat_map(|account| account.regions.iter().map(|region| Location { cloud_provider: "aws".into(), account: account.name.clone(), region: region.clone() }).collect::<Vec<_>>())
            .collect())
    }

    /// The clients of `account` in `region` (made now if there are none or the account changed).
    pub async fn clients(&self, account: &str, region: &str) -> Result<Clients> {
        let found = super::accounts::find(&self.store, account)
            .await
            .map_err(|e| Error::Provider(e.to_string()))?
            .filter(|found| found.cloud_provider == CloudProviderKind::Aws)
            .ok_or_else(|| Error::Invalid(format!("no AWS account {account:?} is configured")))?;
        if !found.regions.iter().any(|known| known == region) {
            return Err(Error::Invalid(format!("AWS account {account:?} has no region {region:?}")));
        }
        let settings = found.aws.clone().unwrap_or_default();
        let key = match &settings.credentials_secret {
            Some(secret) => {
                let text = self
                    .secrets
                    .reveal(secret)
                    .await
                    .map_err(|_| Error::Invalid(format!("AWS account {account:?}: the credentials secret {secret:?} cannot be read (is it in the secrets store?)")))?;
                let parsed: AccessKey = serde_json::from_str(text.expose_secret()).map_err(|_| {
                    Error::Invalid(format!("AWS account {account:?}: the credentials secret {secret:?} is not {{\"accessKeyId\", \"secretAccessKey\", \"sessionToken\"?}}"))
                })?;
                Some(parsed)
            }
            None => None,
        };
        let fingerprint = {
            use sha2::Digest;
            let mut digest = sha2::Sha256::new();
            digest.update(serde_json::to_vec(&settings).expect("settings serialize"));
            if let Some(key) = &key {
                digest.update(key.access_key_id.as_bytes());
                digest.update(key.secret_access_key.as_bytes());
                digest.update(key.session_token.as_deref().unwrap_or_default().as_bytes());
            }
            format!("{:x}", digest.finalize())
        };
        let mut clients = self.clients.lock().await;
        let slot = (account.to_string(), region.to_string());
        if let Some(existing) = clients.get(&slot)
            && existing.fingerprint == fingerprint
        {
            return Ok(existing.clone());
        }
        let timeouts = aws_config::timeout::TimeoutConfig::builder().connect_timeout(Duration::from_secs(5)).operation_attempt_timeout(Duration::from_secs(30)).build();
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()))
            .http_client(self.http.clone())
            .timeout_config(timeouts)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(5));
        if let Some(key) = key {
            loader = loader.credentials_provider(aws_credential_types::Credentials::new(key.access_key_id, key.secret_access_key, key.session_token, None, "gennaker-secrets"));
        }
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let mut config = loader.load().await;
        if let Some(role) = &settings.assume_role {
            let provider = aws_config::sts::AssumeRoleProvider::builder(role).session_name("gennaker").configure(&config).build().await;
            config = config.into_builder().credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(provider)).build();
        }
        let made = Clients {
            ec2: aws_sdk_ec2::Client::new(&config),
            autoscaling: aws_sdk_autoscaling::Client::new(&config),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&config),
            elb_classic: aws_sdk_elasticloadbalancing::Client::new(&config),
            cloudwatch: cloudwatch::CloudWatch::new(region, settings.endpoint.as_deref(), config.credentials_provider()),
            fingerprint,
        };
        clients.insert(slot, made.clone());
        Ok(made)
    }

    /// Every launch template's latest version (image, instance type, security groups), by
    /// template name: one DescribeLaunchTemplates call, and a version read only the first time.
    async fn launch_facts(&self, clients: &Clients) -> Result<HashMap<String, convert::LaunchFacts>> {
        let templates: Vec<aws_sdk_ec2::types::LaunchTemplate> = clients
            .ec2
            .describe_launch_templates()
            .into_paginator()
            .items()
            .send()
            .collect::<std::result::Result<_, _>>()
            .await
            .map_err(|e| aws_error("DescribeLaunchTemplates", e))?;
        let mut facts = HashMap::new();
        for template in templates {
            let (Some(id), Some(name), Some(version)) = (template.launch_template_id(), template.launch_template_name(), template.latest_version_number()) else { continue };
            let key = (id.to_string(), version);
            let known = self.launch_versions.lock().unwrap_or_else(|p| p.into_inner()).get(&key).cloned();
            let found = match known {
                Some(found) => found,
                None => {
                    let versions = clients
                        .ec2
                        .describe_launch_template_versions()
                        .launch_template_id(id)
                        .versions(version.to_string())
                        .send()
                        .await
                        .map_err(|e| aws_error("DescribeLaunchTemplateVersions", e))?;
                    let found = versions
                        .launch_template_versions()
                        .first()
                        .and_then(|version| version.launch_template_data())
                        .map(|data| convert::launch_facts(name, version, data))
                        .unwrap_or_default();
                    self.launch_versions.lock().unwrap_or_else(|p| p.into_inner()).insert(key, found.clone());
                    found
                }
            };
            facts.insert(name.to_string(), found);
        }
        Ok(facts)
    }

    async fn location_clients(&self, location: &Location) -> Result<Clients> {
        self.clients(&location.account, &location.region).await
    }

    /// The default VPC's id and its default subnets (one per zone), where gennaker puts what
    /// it creates.
    async fn default_network(&self, clients: &Clients) -> Result<(String, Vec<String>)> {
        let vpcs = clients
            .ec2
            .describe_vpcs()
            .filters(aws_sdk_ec2::types::Filter::builder().name("is-default").values("true").build())
            .send()
            .await
            .map_err(|e| aws_error("DescribeVpcs", e))?;
        let vpc = vpcs.vpcs().first().and_then(|vpc| vpc.vpc_id()).ok_or_else(|| Error::Invalid("the region has no default VPC".into()))?.to_string();
        let subnets = clients
            .ec2
            .describe_subnets()
            .filters(aws_sdk_ec2::types::Filter::builder().name("vpc-id").values(&vpc).build())
            .send()
            .await
            .map_err(|e| aws_error("DescribeSubnets", e))?;
        let mut by_zone: BTreeMap<String, String> = BTreeMap::new();
        for subnet in subnets.subnets() {
            if let (Some(zone), Some(id)) = (subnet.availability_zone(), subnet.subnet_id()) {
                by_zone.entry(zone.to_string()).or_insert_with(|| id.to_string());
            }
        }
        Ok((vpc, by_zone.into_values().collect()))
    }

    /// Where a server group's instances go: the subnets tagged for `subnet_type` (Spinnaker's
    /// `immutable_metadata` `{"purpose": ...}` tag), or the default VPC's when none is named.
    async fn subnets(&self, clients: &Clients, subnet_type: &str) -> Result<Vec<String>> {
        if subnet_type.is_empty() {
            return Ok(self.default_network(clients).await?.1);
        }
        let found: Vec<aws_sdk_ec2::types::Subnet> = clients
            .ec2
            .describe_subnets()
            .filters(aws_sdk_ec2::types::Filter::builder().name("tag-key").values(SUBNET_PURPOSE_TAG).build())
            .into_paginator()
            .items()
            .send()
            .collect::<std::result::Result<_, _>>()
            .await
            .map_err(|e| aws_error("DescribeSubnets", e))?;
        let ids: Vec<String> = found.iter().filter(|subnet| convert::subnet_purpose(subnet).as_deref() == Some(subnet_type)).filter_map(|subnet| subnet.subnet_id().map(str::to_string)).collect();
        if ids.is_empty() {
            return Err(Error::Invalid(format!("no subnet is tagged for subnetType {subnet_type:?} (tag {SUBNET_PURPOSE_TAG} = {{\"purpose\": \"{subnet_type}\"}})")));
        }
        Ok(ids)
    }

    /// An image's id: `ami-...` as it is, else the newest image of that name (Spinnaker's
    /// `amiName`).
    async fn image_id(&self, clients: &Clients, image: &str) -> Result<String> {
        if image.starts_with("ami-") {
            return Ok(image.to_string());
        }
        let found = clients
            .ec2
            .describe_images()
            .filters(aws_sdk_ec2::types::Filter::builder().name("name").values(image).build())
            .send()
            .await
            .map_err(|e| aws_error("DescribeImages", e))?;
        let mut images: Vec<&aws_sdk_ec2::types::Image> = found.images().iter().collect();
        images.sort_by_key(|image| image.creation_date().unwrap_or_default().to_string());
        images.last().and_then(|image| image.image_id()).map(str::to_string).ok_or_else(|| Error::NotFound(format!("machine image named {image:?}")))
    }

    /// Security group ids by name (in the default VPC; an `sg-...` id is taken as it is); a
    /// missing one is an error naming it.
    async fn security_group_ids(&self, clients: &Clients, names: &[String]) -> Result<Vec<String>> {
        if names.iter().all(|name| name.starts_with("sg-")) {
            return Ok(names.to_vec());
        }
        let found = clients
            .ec2
            .describe_security_groups()
            .filters(aws_sdk_ec2::types::Filter::builder().name("group-name").set_values(Some(names.to_vec())).build())
            .send()
            .await
            .map_err(|e| aws_error("DescribeSecurityGroups", e))?;
        names
            .iter()
            .map(|name| {
                found
                    .security_groups()
                    .iter()
                    .find(|group| group.group_name() == Some(name.as_str()))
                    .and_then(|group| group.group_id())
                    .map(str::to_string)
                    .ok_or_else(|| Error::NotFound(format!("security group {name}")))
            })
            .collect()
    }

    /// What a server group joins, by name: target group ARNs (an ALB's or NLB's) and classic
    /// ELB names; a name that is neither is an error naming it.
    async fn attachments(&self, clients: &Clients, names: &[String]) -> Result<(Vec<String>, Vec<String>)> {
        let (mut arns, mut classic_names) = (Vec::new(), Vec::new());
        for name in names {
            let target_group = clients.elb.describe_target_groups().names(name).send().await.ok().and_then(|found| found.target_groups().first().and_then(|g| g.target_group_arn().map(str::to_string)));
            match target_group {
                Some(arn) => arns.push(arn),
                None if classic::find(clients, name).await.is_some() => classic_names.push(name.clone()),
                None => return Err(Error::NotFound(format!("load balancer {name} (neither a target group nor a classic ELB)"))),
            }
        }
        Ok((arns, classic_names))
    }

    async fn group(&self, clients: &Clients, name: &str) -> Result<Option<aws_sdk_autoscaling::types::AutoScalingGroup>> {
        let found = clients.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(name).send().await.map_err(|e| aws_error("DescribeAutoScalingGroups", e))?;
        Ok(found.auto_scaling_groups().first().cloned())
    }

    /// Spinnaker's enable (resume the processes, register the instances) or disable (suspend
    /// them, deregister the instances).
    async fn set_enabled(&self, location: &Location, name: &str, enable: bool) -> Result<()> {
        let clients = self.location_clients(location).await?;
        let group = self.group(&clients, name).await?.ok_or_else(|| Error::NotFound(format!("server group {name}")))?;
        let processes = Some(DISABLE_PROCESSES.iter().map(|process| process.to_string()).collect());
        if enable {
            clients.autoscaling.resume_processes().auto_scaling_group_name(name).set_scaling_processes(processes).send().await.map_err(|e| aws_error("ResumeProcesses", e))?;
        } else {
            clients.autoscaling.suspend_processes().auto_scaling_group_name(name).set_scaling_processes(processes).send().await.map_err(|e| aws_error("SuspendProcesses", e))?;
        }
        self.set_registered(&clients, &group, enable).await
    }

    /// Registers (or deregisters) a group's in-service instances with its target groups.
    async fn set_registered(&self, clients: &Clients, group: &aws_sdk_autoscaling::types::AutoScalingGroup, register: bool) -> Result<()> {
        let targets: Vec<aws_sdk_elasticloadbalancingv2::types::TargetDescription> = group
            .instances()
            .iter()
            .filter_map(|instance| instance.instance_id())
            .map(|id| aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder().id(id).build())
            .collect();
        if targets.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = targets.iter().filter_map(|target| target.id().map(str::to_string)).collect();
        for name in group.load_balancer_names() {
            classic::set_registered(clients, name, &ids, register).await?;
        }
        for arn in group.target_group_arns() {
            if register {
                clients.elb.register_targets().target_group_arn(arn).set_targets(Some(targets.clone())).send().await.map_err(|e| aws_error("RegisterTargets", e))?;
            } else {
                clients.elb.deregister_targets().target_group_arn(arn).set_targets(Some(targets.clone())).send().await.map_err(|e| aws_error("DeregisterTargets", e))?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Provider for AwsCloud {
    fn name(&self) -> &'static str {
        "aws"
    }

    async fn observe(&self, account: &str, region: &str) -> Result<Snapshot> {
        let clients = self.clients(account, region).await?;
        let location = Location { cloud_provider: "aws".into(), account: account.into(), region: region.into() };
        let groups: Vec<aws_sdk_autoscaling::types::AutoScalingGroup> = clients
            .autoscaling
            .describe_auto_scaling_groups()
            .into_paginator()
            .items()
            .send()
            .collect::<std::result::Result<_, _>>()
            .await
            .map_err(|e| aws_error("DescribeAutoScalingGroups", e))?;
        // Each target group's view of its targets' health.
        let mut target_health: HashMap<String, HashMap<String, String>> = HashMap::new();
        for arn in groups.iter().flat_map(|group| group.target_group_arns()) {
            if target_health.contains_key(arn) {
                continue;
            }
            let health = match clients.elb.describe_target_health().target_group_arn(arn).send().await {
                Ok(health) => health,
                // Deleted since the groups were read (a canary's own, `weights`): no view of it.
                Err(error) if error.as_service_error().is_some_and(|e| e.is_target_group_not_found_exception()) => continue,
                Err(error) => return Err(aws_error("DescribeTargetHealth", error)),
            };
            let states = health
                .target_health_descriptions()
                .iter()
                .filter_map(|description| {
                    let id = description.target()?.id()?.to_string();
                    let state = description.target_health()?.state()?.as_str().to_string();
                    Some((id, state))
                })
                .collect();
            target_health.insert(arn.to_string(), states);
        }
        // Classic ELBs' views, in the same maps (keyed `classic:<name>`).
        for name in groups.iter().flat_map(|group| group.load_balancer_names()) {
            if let std::collections::hash_map::Entry::Vacant(slot) = target_health.entry(classic::key(name)) {
                slot.insert(classic::instance_states(&clients, name).await?);
            }
        }
        let instance_ids: Vec<String> = groups.iter().flat_map(|group| group.instances()).filter_map(|instance| instance.instance_id().map(str::to_string)).collect();
        let mut instances: HashMap<String, convert::InstanceFacts> = HashMap::new();
        for chunk in instance_ids.chunks(200) {
            let found = clients.ec2.describe_instances().set_instance_ids(Some(chunk.to_vec())).send().await.map_err(|e| aws_error("DescribeInstances", e))?;
            for instance in found.reservations().iter().flat_map(|reservation| reservation.instances()) {
                if let Some(id) = instance.instance_id() {
                    let launch = instance.launch_time().map(|time| time.to_millis().unwrap_or(0)).unwrap_or(0);
                    instances.insert(id.to_string(), convert::InstanceFacts { launch_time: launch, address: instance.private_ip_address().unwrap_or_default().to_string() });
                }
            }
        }
        let security_groups: Vec<aws_sdk_ec2::types::SecurityGroup> = clients
            .ec2
            .describe_security_groups()
            .into_paginator()
            .items()
            .send()
            .collect::<std::result::Result<_, _>>()
            .await
            .map_err(|e| aws_error("DescribeSecurityGroups", e))?;
        let group_names: HashMap<String, String> =
            security_groups.iter().filter_map(|group| Some((group.group_id()?.to_string(), group.group_name()?.to_string()))).collect();
        let balancers: Vec<aws_sdk_elasticloadbalancingv2::types::LoadBalancer> = clients
            .elb
            .describe_load_balancers()
            .into_paginator()
            .items()
            .send()
            .collect::<std::result::Result<_, _>>()
            .await
            .map_err(|e| aws_error("DescribeLoadBalancers", e))?;
        // A server group's target groups by the load balancer they belong to: a load
        // balancer's own is named after it; one of its per-server-group ones (`weights`) is
        // tagged with it, read only for target groups a server group uses that are not named so.
        let target_group_names: HashMap<String, String> = {
            let all: Vec<aws_sdk_elasticloadbalancingv2::types::TargetGroup> = clients
                .elb
                .describe_target_groups()
                .into_paginator()
                .items()
                .send()
                .collect::<std::result::Result<_, _>>()
                .await
                .map_err(|e| aws_error("DescribeTargetGroups", e))?;
            let mut names: HashMap<String, String> = all.iter().filter_map(|group| Some((group.target_group_arn()?.to_string(), group.target_group_name()?.to_string()))).collect();
            let balancer_names: std::collections::HashSet<&str> = balancers.iter().filter_map(|balancer| balancer.load_balancer_name()).collect();
            let mut unknown: Vec<String> = groups
                .iter()
                .flat_map(|group| group.target_group_arns())
                .filter(|arn| names.get(*arn).is_some_and(|name| !balancer_names.contains(name.as_str())))
                .cloned()
                .collect();
            unknown.sort();
            unknown.dedup();
            if !unknown.is_empty() {
                names.extend(weights::owners(&clients, &unknown).await?.into_iter().map(|(arn, (balancer, _))| (arn, balancer)));
            }
            names.extend(groups.iter().flat_map(|group| group.load_balancer_names()).map(|name| (classic::key(name), name.clone())));
            names
        };
        let launch = self.launch_facts(&clients).await?;
        let (policies, actions) = scaling::read(&clients).await?;
        let server_groups = groups
            .iter()
            .map(|group| {
                let mut converted = convert::server_group(&location, group, &target_health, &target_group_names, &instances);
                let template = group.launch_template().and_then(|template| template.launch_template_name()).and_then(|name| launch.get(name));
                if let Some(facts) = template {
                    converted.security_groups = facts.security_group_ids.iter().map(|id| group_names.get(id).cloned().unwrap_or_else(|| id.clone())).collect();
                    if let app::model::cluster::Artifact::MachineImage { image_id } = &mut converted.artifact
                        && image_id.is_empty()
                    {
                        image_id.clone_from(&facts.image_id);
                    }
                    converted.launch = facts.launch.clone();
                }
                if let Some(subnet_type) = converted.metadata.remove(SUBNET_TYPE_TAG) {
                    converted.launch.subnet_type = subnet_type;
                }
                converted.scaling_policies = policies.get(&converted.name).cloned().unwrap_or_default();
                converted.scheduled_actions = actions.get(&converted.name).cloned().unwrap_or_default();
                converted
            })
            .collect();
        let mut load_balancers = Vec::new();
        for balancer in &balancers {
            let Some(arn) = balancer.load_balancer_arn() else { continue };
            let listeners = clients.elb.describe_listeners().load_balancer_arn(arn).send().await.map_err(|e| aws_error("DescribeListeners", e))?;
            let target_groups = clients.elb.describe_target_groups().load_balancer_arn(arn).send().await.map_err(|e| aws_error("DescribeTargetGroups", e))?;
            load_balancers.push(convert::load_balancer(&location, balancer, listeners.listeners(), target_groups.target_groups(), &group_names));
        }
        let classics: Vec<aws_sdk_elasticloadbalancing::types::LoadBalancerDescription> = clients
            .elb_classic
            .describe_load_balancers()
            .into_paginator()
            .items()
            .send()
            .collect::<std::result::Result<_, _>>()
            .await
            .map_err(|e| aws_error("DescribeLoadBalancers (classic)", e))?;
        load_balancers.extend(classics.iter().map(|found| classic::load_balancer(&location, found, &group_names)));
        let security_groups = security_groups.iter().map(|group| convert::security_group(&location, group)).collect();
        Ok(Snapshot { server_groups, load_balancers, security_groups })
    }

    async fn create_server_group(&self, spec: ServerGroupSpec) -> Result<ServerGroup> {
        let Artifact::MachineImage { image_id } = &spec.artifact else {
            return Err(Error::Invalid("an AWS server group runs a machine image (an AMI id, e.g. ami-0abc...)".into()));
        };
        if let Some(problem) = spec.scaling_policies.iter().flat_map(ScalingPolicy::problems).chain(spec.scheduled_actions.iter().flat_map(ScheduledAction::problems)).next() {
            return Err(Error::Invalid(problem));
        }
        let clients = self.location_clients(&spec.location).await?;
        if self.group(&clients, &spec.name).await?.is_none() {
            let image_id = &self.image_id(&clients, image_id).await?;
            let security_groups = self.security_group_ids(&clients, &spec.security_groups).await?;
            let (target_groups, classic_balancers) = self.attachments(&clients, &spec.load_balancers).await?;
            let subnets = self.subnets(&clients, &spec.launch.subnet_type).await?;
            let launch = &spec.launch;
            let instance_type = if launch.instance_type.is_empty() { DEFAULT_INSTANCE_TYPE } else { launch.instance_type.as_str() };
            let profile = (!launch.iam_role.is_empty()).then(|| {
                let profile = aws_sdk_ec2::types::LaunchTemplateIamInstanceProfileSpecificationRequest::builder();
                if launch.iam_role.starts_with("arn:") { profile.arn(&launch.iam_role).build() } else { profile.name(&launch.iam_role).build() }
            });
            let data = aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                .image_id(image_id)
                .instance_type(aws_sdk_ec2::types::InstanceType::from(instance_type))
                .set_security_group_ids(Some(security_groups).filter(|ids| !ids.is_empty()))
                .set_key_name(Some(launch.key_pair.clone()).filter(|key| !key.is_empty()))
                .set_user_data(Some(launch.user_data.clone()).filter(|data| !data.is_empty()))
                .set_iam_instance_profile(profile)
                .build();
            let exists = clients.ec2.describe_launch_templates().launch_template_names(&spec.name).send().await.is_ok_and(|found| !found.launch_templates().is_empty());
            if !exists {
                clients.ec2.create_launch_template().launch_template_name(&spec.name).launch_template_data(data).send().await.map_err(|e| aws_error("CreateLaunchTemplate", e))?;
            }
            let mut tags: Vec<(String, String)> = spec.metadata.iter().map(|(key, value)| (key.clone(), value.clone())).collect();
            tags.push((IMAGE_TAG.to_string(), image_id.clone()));
            if !launch.subnet_type.is_empty() {
                tags.push((SUBNET_TYPE_TAG.to_string(), launch.subnet_type.clone()));
            }
            let tags = tags
                .into_iter()
                .map(|(key, value)| {
                    aws_sdk_autoscaling::types::Tag::builder().key(key).value(value).propagate_at_launch(true).resource_id(&spec.name).resource_type("auto-scaling-group").build()
                })
                .collect::<Vec<_>>();
            clients
                .autoscaling
                .create_auto_scaling_group()
                .auto_scaling_group_name(&spec.name)
                .launch_template(aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder().launch_template_name(&spec.name).version("$Latest").build())
                .min_size(spec.capacity.min as i32)
                .max_size(spec.capacity.max as i32)
                .desired_capacity(spec.capacity.desired as i32)
                .vpc_zone_identifier(subnets.join(","))
                .set_target_group_arns(Some(target_groups).filter(|arns| !arns.is_empty()))
                .set_load_balancer_names(Some(classic_balancers).filter(|names| !names.is_empty()))
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| aws_error("CreateAutoScalingGroup", e))?;
        }
        // Named here, so a create retried after a crash replaces rather than duplicates them.
        let mut taken: Vec<String> = spec.scaling_policies.iter().map(|p| p.policy_name.clone()).filter(|n| !n.is_empty()).collect();
        for policy in &spec.scaling_policies {
            let mut policy = policy.clone();
            if policy.policy_name.is_empty() {
                policy.policy_name = scaling::fresh_name(&scaling::policy_prefix(&spec.name, policy.policy_type), &taken);
                taken.push(policy.policy_name.clone());
            }
            scaling::put_policy(&clients, &spec.name, &policy).await?;
        }
        if !spec.scheduled_actions.is_empty() {
            scaling::set_actions(&clients, &spec.name, &spec.scheduled_actions).await?;
        }
        let snapshot = self.observe(&spec.location.account, &spec.location.region).await?;
        snapshot.server_groups.into_iter().find(|group| group.name == spec.name).ok_or_else(|| Error::NotFound(format!("server group {}", spec.name)))
    }

    async fn resize(&self, location: &Location, name: &str, capacity: Capacity) -> Result<()> {
        let clients = self.location_clients(location).await?;
        self.group(&clients, name).await?.ok_or_else(|| Error::NotFound(format!("server group {name}")))?;
        clients
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(name)
            .min_size(capacity.min as i32)
            .max_size(capacity.max as i32)
            .desired_capacity(capacity.desired as i32)
            .send()
            .await
            .map_err(|e| aws_error("UpdateAutoScalingGroup", e))?;
        Ok(())
    }

    async fn enable(&self, location: &Location, name: &str) -> Result<()> {
        self.set_enabled(location, name, true).await
    }

    async fn disable(&self, location: &Location, name: &str) -> Result<()> {
        self.set_enabled(location, name, false).await
    }

    async fn destroy(&self, location: &Location, name: &str) -> Result<()> {
        let clients = self.location_clients(location).await?;
        // Its own target groups from a canary's weights go first, so nothing forwards to them.
        weights::forget(&clients, name).await?;
        if self.group(&clients, name).await?.is_some() {
            // Auto Scaling deletes the group's policies, not the alarms gennaker made for them.
            scaling::delete_alarms_of(&clients, name).await?;
            clients.autoscaling.delete_auto_scaling_group().auto_scaling_group_name(name).force_delete(true).send().await.map_err(|e| aws_error("DeleteAutoScalingGroup", e))?;
        }
        let exists = clients.ec2.describe_launch_templates().launch_template_names(name).send().await.is_ok_and(|found| !found.launch_templates().is_empty());
        if exists {
            clients.ec2.delete_launch_template().launch_template_name(name).send().await.map_err(|e| aws_error("DeleteLaunchTemplate", e))?;
        }
        Ok(())
    }

    async fn upsert_load_balancer(&self, load_balancer: LoadBalancer) -> Result<LoadBalancer> {
        let clients = self.location_clients(&load_balancer.location).await?;
        if load_balancer.load_balancer_type == Some(app::model::cluster::LoadBalancerType::Classic) {
            let (_, subnets) = self.default_network(&clients).await?;
            let security_groups = self.security_group_ids(&clients, &load_balancer.security_groups).await?;
            classic::upsert(&clients, &load_balancer, subnets, security_groups).await?;
            return Ok(load_balancer);
        }
        let Some(first) = load_balancer.listeners.first() else { return Err(Error::Invalid("a load balancer needs a listener".into())) };
        let network = load_balancer.listeners.iter().all(|listener| listener.protocol == Protocol::Tcp);
        if !network && load_balancer.listeners.iter().any(|listener| listener.protocol == Protocol::Tcp) {
            return Err(Error::Invalid("an AWS load balancer's listeners are all HTTP (an Application Load Balancer) or all TCP (a Network one)".into()));
        }
        let (vpc, subnets) = self.default_network(&clients).await?;
        let security_groups = if network { Vec::new() } else { self.security_group_ids(&clients, &load_balancer.security_groups).await? };
        let existing = clients.elb.describe_load_balancers().names(&load_balancer.name).send().await.ok().and_then(|found| found.load_balancers().first().cloned());
        let arn = match existing.and_then(|balancer| balancer.load_balancer_arn().map(str::to_string)) {
            Some(arn) => {
                if !network {
                    clients.elb.set_security_groups().load_balancer_arn(&arn).set_security_groups(Some(security_groups)).send().await.map_err(|e| aws_error("SetSecurityGroups", e))?;
                }
                arn
            }
            None => {
                let kind = if network { aws_sdk_elasticloadbalancingv2::types::LoadBalancerTypeEnum::Network } else { aws_sdk_elasticloadbalancingv2::types::LoadBalancerTypeEnum::Application };
                let created = clients
                    .elb
                    .create_load_balancer()
                    .name(&load_balancer.name)
                    .r#type(kind)
                    .set_subnets(Some(subnets))
                    .set_security_groups(Some(security_groups).filter(|ids| !ids.is_empty()))
                    .send()
                    .await
                    .map_err(|e| aws_error("CreateLoadBalancer", e))?;
                created.load_balancers().first().and_then(|balancer| balancer.load_balancer_arn()).map(str::to_string).ok_or_else(|| Error::Provider("CreateLoadBalancer returned no ARN".into()))?
            }
        };
        let protocol = if network { aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Tcp } else { aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http };
        let existing_group = clients.elb.describe_target_groups().names(&load_balancer.name).send().await.ok().and_then(|found| found.target_groups().first().cloned());
        let health = load_balancer.health_check.as_ref().map(TargetGroupCheck::of);
        let group_arn = match existing_group.and_then(|group| group.target_group_arn().map(str::to_string)) {
            Some(group_arn) => {
                if let Some(check) = &health {
                    clients
                        .elb
                        .modify_target_group()
                        .target_group_arn(&group_arn)
                        .health_check_path(&check.path)
                        .health_check_interval_seconds(check.interval_seconds)
                        .health_check_timeout_seconds(check.timeout_seconds)
                        .healthy_threshold_count(check.healthy)
                        .unhealthy_threshold_count(check.unhealthy)
                        .send()
                        .await
                        .map_err(|e| aws_error("ModifyTargetGroup", e))?;
                }
                group_arn
            }
            None => {
                let mut request = clients.elb.create_target_group().name(&load_balancer.name).protocol(protocol.clone()).port(i32::from(first.port)).vpc_id(&vpc);
                if let Some(check) = &health {
                    request = request
                        .health_check_path(&check.path)
                        .health_check_interval_seconds(check.interval_seconds)
                        .health_check_timeout_seconds(check.timeout_seconds)
                        .healthy_threshold_count(check.healthy)
                        .unhealthy_threshold_count(check.unhealthy);
                }
                let created = request.send().await.map_err(|e| aws_error("CreateTargetGroup", e))?;
                created.target_groups().first().and_then(|group| group.target_group_arn()).map(str::to_string).ok_or_else(|| Error::Provider("CreateTargetGroup returned no ARN".into()))?
            }
        };
        let listeners = clients.elb.describe_listeners().load_balancer_arn(&arn).send().await.map_err(|e| aws_error("DescribeListeners", e))?;
        let existing_ports: Vec<i32> = listeners.listeners().iter().filter_map(|listener| listener.port()).collect();
        for listener in &load_balancer.listeners {
            if existing_ports.contains(&i32::from(listener.port)) {
                continue;
            }
            let forward = aws_sdk_elasticloadbalancingv2::types::Action::builder()
                .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
                .target_group_arn(&group_arn)
                .build();
            clients
                .elb
                .create_listener()
                .load_balancer_arn(&arn)
                .protocol(protocol.clone())
                .port(i32::from(listener.port))
                .default_actions(forward)
                .send()
                .await
                .map_err(|e| aws_error("CreateListener", e))?;
        }
        Ok(load_balancer)
    }

    async fn delete_load_balancer(&self, location: &Location, name: &str) -> Result<()> {
        let clients = self.location_clients(location).await?;
        if let Some(arn) = clients.elb.describe_load_balancers().names(name).send().await.ok().and_then(|found| found.load_balancers().first().and_then(|b| b.load_balancer_arn().map(str::to_string))) {
            clients.elb.delete_load_balancer().load_balancer_arn(&arn).send().await.map_err(|e| aws_error("DeleteLoadBalancer", e))?;
        }
        if let Some(arn) = clients.elb.describe_target_groups().names(name).send().await.ok().and_then(|found| found.target_groups().first().and_then(|g| g.target_group_arn().map(str::to_string))) {
            clients.elb.delete_target_group().target_group_arn(&arn).send().await.map_err(|e| aws_error("DeleteTargetGroup", e))?;
        }
        classic::delete(&clients, name).await
    }

    async fn upsert_security_group(&self, security_group: SecurityGroup) -> Result<SecurityGroup> {
        let clients = self.location_clients(&security_group.location).await?;
        let (vpc, _) = self.default_network(&clients).await?;
        let existing = self.security_group_ids(&clients, std::slice::from_ref(&security_group.name)).await.ok().and_then(|ids| ids.into_iter().next());
        let group_id = match existing {
            Some(id) => id,
            None => {
                let description = if security_group.description.is_empty() { format!("{} (gennaker)", security_group.name) } else { security_group.description.clone() };
                let created = clients
                    .ec2
                    .create_security_group()
                    .group_name(&security_group.name)
                    .description(description)
                    .vpc_id(&vpc)
                    .send()
                    .await
                    .map_err(|e| aws_error("CreateSecurityGroup", e))?;
                created.group_id().map(str::to_string).ok_or_else(|| Error::Provider("CreateSecurityGroup returned no id".into()))?
            }
        };
        // The rules become exactly those asked for: the missing added, the others revoked.
        let current = clients.ec2.describe_security_groups().group_ids(&group_id).send().await.map_err(|e| aws_error("DescribeSecurityGroups", e))?;
        let had = current.security_groups().first().map(|group| convert::security_group(&security_group.location, group).ingress).unwrap_or_default();
        let wanted = &security_group.ingress;
        let added: Vec<_> = wanted.iter().filter(|rule| !had.contains(rule)).map(convert::permission).collect();
        let removed: Vec<_> = had.iter().filter(|rule| !wanted.contains(rule)).map(convert::permission).collect();
        if !added.is_empty() {
            clients.ec2.authorize_security_group_ingress().group_id(&group_id).set_ip_permissions(Some(added)).send().await.map_err(|e| aws_error("AuthorizeSecurityGroupIngress", e))?;
        }
        if !removed.is_empty() {
            clients.ec2.revoke_security_group_ingress().group_id(&group_id).set_ip_permissions(Some(removed)).send().await.map_err(|e| aws_error("RevokeSecurityGroupIngress", e))?;
        }
        Ok(security_group)
    }

    async fn delete_security_group(&self, location: &Location, name: &str) -> Result<()> {
        let clients = self.location_clients(location).await?;
        if let Ok(ids) = self.security_group_ids(&clients, &[name.to_string()]).await {
            for id in ids {
                clients.ec2.delete_security_group().group_id(id).send().await.map_err(|e| aws_error("DeleteSecurityGroup", e))?;
            }
        }
        Ok(())
    }

    async fn upsert_scaling_policy(&self, location: &Location, server_group: &str, policy: ScalingPolicy) -> Result<ScalingPolicy> {
        let clients = self.location_clients(location).await?;
        self.group(&clients, server_group).await?.ok_or_else(|| Error::NotFound(format!("server group {server_group}")))?;
        scaling::put_policy(&clients, server_group, &policy).await
    }

    async fn delete_scaling_policy(&self, location: &Location, server_group: &str, policy_name: &str) -> Result<()> {
        let clients = self.location_clients(location).await?;
        scaling::delete_policy(&clients, server_group, policy_name).await
    }

    async fn set_scheduled_actions(&self, location: &Location, server_group: &str, actions: Vec<ScheduledAction>) -> Result<Vec<ScheduledAction>> {
        let clients = self.location_clients(location).await?;
        self.group(&clients, server_group).await?.ok_or_else(|| Error::NotFound(format!("server group {server_group}")))?;
        scaling::set_actions(&clients, server_group, &actions).await
    }

    async fn set_traffic_weights(&self, location: &Location, load_balancer: &str, weights: Option<BTreeMap<String, u32>>) -> Result<()> {
        let clients = self.location_clients(location).await?;
        weights::set(&clients, load_balancer, weights).await
    }

    async fn run_job(&self, _spec: JobSpec) -> Result<()> {
        Err(Error::Invalid("Run Job runs commands on the local cloud, or Kubernetes Jobs with runJobManifest; AWS has no jobs".into()))
    }

    async fn job_status(&self, _location: &Location, _token: &str) -> Result<JobStatus> {
        Ok(JobStatus::Unknown)
    }

    async fn cancel_job(&self, _location: &Location, _token: &str) -> Result<()> {
        Ok(())
    }
}
