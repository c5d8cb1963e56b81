//! What AWS's Describe calls return, as gennaker's cluster model: an Auto Scaling group as a
//! server group (capacity, image from its tag, disabled when Spinnaker's processes are
//! suspended, instances with their health from the group and its target groups, each load
//! balancer once however many of its target groups the group is in), an ELBv2 load balancer
//! with its listeners and its own target group's health check, an EC2 security group's TCP
//! ingress rules. Pure, so the mapping is tested without AWS.

use std::collections::{BTreeMap, HashMap};

use app::model::cluster::{Artifact, Capacity, HealthCheck, HealthState, IngressRule, Instance, Listener, LoadBalancer, Location, Protocol, SecurityGroup, ServerGroup};
use app::model::scaling::LaunchSettings;
use aws_sdk_autoscaling::types::AutoScalingGroup;

use super::IMAGE_TAG;

/// What DescribeInstances adds to an Auto Scaling group's instance.
#[derive(Debug, Clone, Default)]
pub struct InstanceFacts {
    pub launch_time: i64,
    pub address: String,
}

/// What a launch template version says the instances run and how they launch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchFacts {
    pub image_id: String,
    pub security_group_ids: Vec<String>,
    /// Instance type, key pair, IAM instance profile and user data (`launch_template` is
    /// `<name>:<version>`; `subnet_type` comes from the group's tag).
    pub launch: LaunchSettings,
}

pub fn launch_facts(template: &str, version: i64, data: &aws_sdk_ec2::types::ResponseLaunchTemplateData) -> LaunchFacts {
    let profile = data.iam_instance_profile().and_then(|profile| profile.name().or(profile.arn())).unwrap_or_default();
    LaunchFacts {
        image_id: data.image_id().unwrap_or_default().to_string(),
        security_group_ids: data.security_group_ids().to_vec(),
        launch: LaunchSettings {
            instance_type: data.instance_type().map(|kind| kind.as_str().to_string()).unwrap_or_default(),
            key_pair: data.key_name().unwrap_or_default().to_string(),
            iam_role: profile.to_string(),
            user_data: data.user_data().unwrap_or_default().to_string(),
            subnet_type: String::new(),
            launch_template: format!("{template}:{version}"),
        },
    }
}

/// A subnet's purpose from Spinnaker's `immutable_metadata` tag (`{"purpose": "internal"}`).
pub fn subnet_purpose(subnet: &aws_sdk_ec2::types::Subnet) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Metadata {
        purpose: String,
    }
    let tag = subnet.tags().iter().find(|tag| tag.key() == Some(super::SUBNET_PURPOSE_TAG))?;
    serde_json::from_str::<Metadata>(tag.value()?).ok().map(|metadata| metadata.purpose)
}

/// Whether Spinnaker's disable has suspended the group's processes.
pub fn is_disabled(group: &AutoScalingGroup) -> bool {
    group.suspended_processes().iter().any(|process| process.process_name() == Some("AddToLoadBalancer"))
}

/// An instance's health as Spinnaker aggregates it: the group's lifecycle and health check,
/// then every target group's view (healthy in all is Up; `initial` is Starting; deregistered
/// or draining is OutOfService).
pub fn health(lifecycle: &str, health_status: &str, disabled: bool, target_states: &[&str]) -> HealthState {
    if lifecycle.starts_with("Pending") {
        return HealthState::Starting;
    }
    if lifecycle != "InService" {
        return HealthState::OutOfService;
    }
    if health_status != "Healthy" {
        return HealthState::Down;
    }
    if disabled {
        return HealthState::OutOfService;
    }
    if target_states.contains(&"unhealthy") {
        return HealthState::Down;
    }
    if target_states.iter().any(|state| *state == "initial" || *state == "missing") {
        return HealthState::Starting;
    }
    if target_states.iter().any(|state| *state == "unused" || *state == "draining") {
        return HealthState::OutOfService;
    }
    HealthState::Up
}

/// What the group is attached to: its target groups' ARNs and its classic ELBs' keys.
fn attachment_keys(group: &AutoScalingGroup) -> Vec<String> {
    group.target_group_arns().iter().cloned().chain(group.load_balancer_names().iter().map(|name| super::classic::key(name))).collect()
}

pub fn server_group(
    location: &Location,
    group: &AutoScalingGroup,
    target_health: &HashMap<String, HashMap<String, String>>,
    target_group_names: &HashMap<String, String>,
    facts: &HashMap<String, InstanceFacts>,
) -> ServerGroup {
    let name = group.auto_scaling_group_name().unwrap_or_default().to_string();
    let disabled = is_disabled(group);
    let tags: BTreeMap<String, String> = group.tags().iter().filter_map(|tag| Some((tag.key()?.to_string(), tag.value().unwrap_or_default().to_string()))).collect();
    let instances = group
        .instances()
        .iter()
        .map(|instance| {
            let id = instance.instance_id().unwrap_or_default().to_string();
            // A target group that does not list the instance has not registered it (yet).
            let states: Vec<&str> = attachment_keys(group)
                .iter()
                .map(|key| target_health.get(key).and_then(|states| states.get(&id)).map_or("missing", String::as_str))
                .collect();
            let lifecycle = instance.lifecycle_state().map(|state| state.as_str()).unwrap_or_default();
            let fact = facts.get(&id).cloned().unwrap_or_default();
            Instance {
                name: id,
                health_state: health(lifecycle, instance.health_status().unwrap_or_default(), disabled, &states),
                launch_time: fact.launch_time,
                address: fact.address,
                pid: None,
            }
        })
        .collect();
    let image_id = tags.get(IMAGE_TAG).cloned().unwrap_or_default();
    let metadata = tags.into_iter().filter(|(key, _)| key != IMAGE_TAG).collect();
    ServerGroup {
        name,
        location: location.clone(),
        capacity: Capacity {
            min: group.min_size().unwrap_or(0).max(0) as u32,
            max: group.max_size().unwrap_or(0).max(0) as u32,
            desired: group.desired_capacity().unwrap_or(0).max(0) as u32,
        },
        artifact: Artifact::MachineImage { image_id },
        disabled,
        load_balancers: attachment_keys(group).iter().filter_map(|key| target_group_names.get(key).cloned()).fold(Vec::new(), |mut names, name| {
            if !names.contains(&name) {
                names.push(name);
            }
            names
        }),
        security_groups: Vec::new(),
        instances,
        created_time: group.created_time().and_then(|time| time.to_millis().ok()).unwrap_or(0),
        metadata,
        moniker: None,
        launch: Default::default(),
        scaling_policies: Vec::new(),
        scheduled_actions: Vec::new(),
    }
}

fn protocol_of(protocol: Option<&aws_sdk_elasticloadbalancingv2::types::ProtocolEnum>) -> Protocol {
    match protocol.map(|protocol| protocol.as_str()) {
        Some("HTTP" | "HTTPS") => Protocol::Http,
        _ => Protocol::Tcp,
    }
}

pub fn load_balancer(
    location: &Location,
    balancer: &aws_sdk_elasticloadbalancingv2::types::LoadBalancer,
    listeners: &[aws_sdk_elasticloadbalancingv2::types::Listener],
    target_groups: &[aws_sdk_elasticloadbalancingv2::types::TargetGroup],
    security_group_names: &HashMap<String, String>,
) -> LoadBalancer {
    // Its own target group (named after it), not a server group's for weighing traffic.
    let own = target_groups.iter().find(|group| group.target_group_name().is_some() && group.target_group_name() == balancer.load_balancer_name()).or(target_groups.first());
    let health_check = own.and_then(|group| {
        Some(HealthCheck {
            path: group.health_check_path()?.to_string(),
            interval_ms: group.health_check_interval_seconds().unwrap_or(30).max(0) as u64 * 1000,
            timeout_ms: group.health_check_timeout_seconds().unwrap_or(5).max(0) as u64 * 1000,
            healthy_threshold: group.healthy_threshold_count().unwrap_or(5).max(0) as u32,
            unhealthy_threshold: group.unhealthy_threshold_count().unwrap_or(2).max(0) as u32,
        })
    });
    LoadBalancer {
        name: balancer.load_balancer_name().unwrap_or_default().to_string(),
        location: location.clone(),
        listeners: listeners.iter().map(|listener| Listener { port: listener.port().unwrap_or(0).clamp(0, 65535) as u16, protocol: protocol_of(listener.protocol()) }).collect(),
        health_check,
        security_groups: balancer.security_groups().iter().map(|id| security_group_names.get(id).cloned().unwrap_or_else(|| id.clone())).collect(),
        moniker: None,
        load_balancer_type: None,
    }
}

/// A security group's TCP rules by CIDR (all traffic, `-1`, is TCP 0-65535; UDP and ICMP
/// rules, and rules naming other groups, are not in gennaker's model and are left out).
pub fn security_group(location: &Location, group: &aws_sdk_ec2::types::SecurityGroup) -> SecurityGroup {
    let mut ingress = Vec::new();
    for permission in group.ip_permissions() {
        let (start, end) = match permission.ip_protocol() {
            Some("tcp" | "6") => (permission.from_port().unwrap_or(0), permission.to_port().unwrap_or(65535)),
            Some("-1") => (0, 65535),
            _ => continue,
        };
        for range in permission.ip_ranges() {
            if let Some(cidr) = range.cidr_ip() {
                ingress.push(IngressRule { cidr: cidr.to_string(), protocol: Protocol::Tcp, start_port: start.clamp(0, 65535) as u16, end_port: end.clamp(0, 65535) as u16 });
            }
        }
    }
    SecurityGroup {
        name: group.group_name().unwrap_or_default().to_string(),
        location: location.clone(),
        description: group.description().unwrap_or_default().to_string(),
        ingress,
        moniker: None,
    }
}

/// A rule as EC2 takes it.
pub fn permission(rule: &IngressRule) -> aws_sdk_ec2::types::IpPermission {
    aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(i32::from(rule.start_port))
        .to_port(i32::from(rule.end_port))
        .ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip(&rule.cidr).build())
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_autoscaling::types::{Instance as GroupInstance, LifecycleState, SuspendedProcess, TagDescription};

    fn location() -> Location {
        Location { cloud_provider: "aws".into(), account: "prod".into(), region: "us-east-1".into() }
    }

    #[test]
    fn health_combines_the_group_and_its_target_groups() {
        assert_eq!(health("Pending", "Healthy", false, &[]), HealthState::Starting);
        assert_eq!(health("InService", "Healthy", false, &[]), HealthState::Up);
        assert_eq!(health("InService", "Healthy", false, &["healthy", "initial"]), HealthState::Starting);
        assert_eq!(health("InService", "Healthy", false, &["healthy", "unhealthy"]), HealthState::Down);
        assert_eq!(health("InService", "Unhealthy", false, &["healthy"]), HealthState::Down);
        assert_eq!(health("InService", "Healthy", true, &["healthy"]), HealthState::OutOfService, "a disabled group takes no traffic");
        assert_eq!(health("Terminating", "Healthy", false, &[]), HealthState::OutOfService);
        assert_eq!(health("InService", "Healthy", false, &["missing"]), HealthState::Starting, "not registered yet");
    }

    #[test]
    fn an_auto_scaling_group_is_a_server_group() {
        let group = AutoScalingGroup::builder()
            .auto_scaling_group_name("shop-web-v003")
            .min_size(1)
            .max_size(4)
            .desired_capacity(2)
            .target_group_arns("arn:tg/shop-web")
            .target_group_arns("arn:tg/shop-web-v003-1a2b3c4d")
            .suspended_processes(SuspendedProcess::builder().process_name("Launch").build())
            .tags(TagDescription::builder().key(IMAGE_TAG).value("ami-123").build())
            .tags(TagDescription::builder().key("team").value("shop").build())
            .instances(GroupInstance::builder().instance_id("i-1").lifecycle_state(LifecycleState::InService).health_status("Healthy").build())
            .build();
        let healthy = HashMap::from([("i-1".to_string(), "healthy".to_string())]);
        let health = HashMap::from([("arn:tg/shop-web".to_string(), healthy.clone()), ("arn:tg/shop-web-v003-1a2b3c4d".to_string(), healthy)]);
        let names = HashMap::from([("arn:tg/shop-web".to_string(), "shop-web".to_string()), ("arn:tg/shop-web-v003-1a2b3c4d".to_string(), "shop-web".to_string())]);
        let facts = HashMap::from([("i-1".to_string(), InstanceFacts { launch_time: 42, address: "10.0.0.5".into() })]);
        let converted = server_group(&location(), &group, &health, &names, &facts);
        assert_eq!(converted.name, "shop-web-v003");
        assert_eq!(converted.capacity, Capacity { min: 1, max: 4, desired: 2 });
        assert_eq!(converted.artifact, Artifact::MachineImage { image_id: "ami-123".into() });
        assert!(!converted.disabled, "only AddToLoadBalancer suspended means disabled");
        assert_eq!(converted.load_balancers, vec!["shop-web".to_string()], "its own target group for weighing traffic is the same load balancer");
        assert_eq!(converted.metadata, BTreeMap::from([("team".to_string(), "shop".to_string())]));
        assert_eq!(converted.instances[0].health_state, HealthState::Up);
        assert_eq!((converted.instances[0].launch_time, converted.instances[0].address.as_str()), (42, "10.0.0.5"));
    }

    #[test]
    fn a_load_balancers_health_check_is_its_own_target_groups() {
        use aws_sdk_elasticloadbalancingv2::types::{LoadBalancer as Balancer, TargetGroup};
        let balancer = Balancer::builder().load_balancer_name("shop-web").build();
        let weighing = TargetGroup::builder().target_group_name("shop-web-v003-1a2b3c4d").health_check_path("/other").build();
        let own = TargetGroup::builder().target_group_name("shop-web").health_check_path("/health").build();
        let converted = load_balancer(&location(), &balancer, &[], &[weighing, own], &HashMap::new());
        assert_eq!(converted.health_check.map(|check| check.path).as_deref(), Some("/health"));
    }

    #[test]
    fn a_launch_template_version_gives_the_launch_settings() {
        let data = aws_sdk_ec2::types::ResponseLaunchTemplateData::builder()
            .image_id("ami-1")
            .instance_type(aws_sdk_ec2::types::InstanceType::M5Large)
            .key_name("ops")
            .user_data("IyEvYmluL3NoCg==")
            .iam_instance_profile(aws_sdk_ec2::types::LaunchTemplateIamInstanceProfileSpecification::builder().name("web-role").build())
            .build();
        let facts = launch_facts("shop-web-v003", 2, &data);
        assert_eq!(facts.image_id, "ami-1");
        assert_eq!(facts.launch.instance_type, "m5.large");
        assert_eq!((facts.launch.key_pair.as_str(), facts.launch.iam_role.as_str()), ("ops", "web-role"));
        assert_eq!(facts.launch.user_data, "IyEvYmluL3NoCg==");
        assert_eq!(facts.launch.launch_template, "shop-web-v003:2");
        let subnet = aws_sdk_ec2::types::Subnet::builder().tags(aws_sdk_ec2::types::Tag::builder().key("immutable_metadata").value(r#"{"purpose": "internal", "target": "ec2"}"#).build()).build();
        assert_eq!(subnet_purpose(&subnet).as_deref(), Some("internal"));
    }

    #[test]
    fn security_group_rules_round_trip() {
        let rule = IngressRule { cidr: "10.0.0.0/8".into(), protocol: Protocol::Tcp, start_port: 80, end_port: 443 };
        let group = aws_sdk_ec2::types::SecurityGroup::builder()
            .group_name("shop")
            .ip_permissions(permission(&rule))
            .ip_permissions(aws_sdk_ec2::types::IpPermission::builder().ip_protocol("udp").from_port(53).to_port(53).ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip("0.0.0.0/0").build()).build())
            .build();
        assert_eq!(security_group(&location(), &group).ingress, vec![rule]);
    }
}
