//! Classic Elastic Load Balancers (`loadBalancerType: "classic"`), which Spinnaker's older AWS
//! pipelines still use: a server group joins one by name (the Auto Scaling group's
//! `LoadBalancerNames`, Spinnaker's `loadBalancers` of an AWS deploy), and is disabled by
//! deregistering its instances from it as from a target group. A classic ELB forwards each
//! listener's port to the same instance port, and checks `HTTP:<first port><path>`.

use std::collections::HashMap;

use app::model::cluster::{HealthCheck, Listener, LoadBalancer, LoadBalancerType, Location, Protocol};
use aws_sdk_elasticloadbalancing::types as elb;

use super::{Clients, aws_error};
use crate::cloud::provider::{Error, Result};

/// The key of a classic ELB in the provider's health and name maps, beside target group ARNs.
pub fn key(name: &str) -> String {
    format!("classic:{name}")
}

fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Http => "HTTP",
        Protocol::Tcp => "TCP",
    }
}

/// The classic ELB named so, if there is one.
pub async fn find(clients: &Clients, name: &str) -> Option<elb::LoadBalancerDescription> {
    let found = clients.elb_classic.describe_load_balancers().load_balancer_names(name).send().await.ok()?;
    found.load_balancer_descriptions().first().cloned()
}

/// Creates the ELB, or brings an existing one's security groups, listeners and health check in
/// line with `balancer`.
pub async fn upsert(clients: &Clients, balancer: &LoadBalancer, subnets: Vec<String>, security_groups: Vec<String>) -> Result<()> {
    let listeners: Vec<elb::Listener> = balancer
        .listeners
        .iter()
        .map(|listener| {
            elb::Listener::builder()
                .protocol(protocol_name(listener.protocol))
                .load_balancer_port(i32::from(listener.port))
                .instance_protocol(protocol_name(listener.protocol))
                .instance_port(i32::from(listener.port))
                .build()
                .map_err(|e| Error::Invalid(format!("listener: {e}")))
        })
        .collect::<Result<_>>()?;
    match find(clients, &balancer.name).await {
        None => {
            clients
                .elb_classic
                .create_load_balancer()
                .load_balancer_name(&balancer.name)
                .set_listeners(Some(listeners))
                .set_subnets(Some(subnets))
                .set_security_groups(Some(security_groups).filter(|ids| !ids.is_empty()))
                .send()
                .await
                .map_err(|e| aws_error("CreateLoadBalancer (classic)", e))?;
        }
        Some(existing) => {
            if !security_groups.is_empty() {
                clients
                    .elb_classic
                    .apply_security_groups_to_load_balancer()
                    .load_balancer_name(&balancer.name)
                    .set_security_groups(Some(security_groups))
                    .send()
                    .await
                    .map_err(|e| aws_error("ApplySecurityGroupsToLoadBalancer", e))?;
            }
            let ports: Vec<i32> = existing.listener_descriptions().iter().filter_map(|d| d.listener().map(|l| l.load_balancer_port())).collect();
            let missing: Vec<elb::Listener> = listeners.into_iter().filter(|listener| !ports.contains(&listener.load_balancer_port())).collect();
            if !missing.is_empty() {
                clients
                    .elb_classic
                    .create_load_balancer_listeners()
                    .load_balancer_name(&balancer.name)
                    .set_listeners(Some(missing))
                    .send()
                    .await
                    .map_err(|e| aws_error("CreateLoadBalancerListeners", e))?;
            }
        }
    }
    if let (Some(check), Some(first)) = (&balancer.health_check, balancer.listeners.first()) {
        let check = elb::HealthCheck::builder()
            .target(format!("HTTP:{}{}", first.port, check.path))
            .interval((check.interval_ms / 1000).clamp(5, 300) as i32)
            .timeout((check.timeout_ms / 1000).clamp(2, 60) as i32)
            .healthy_threshold(check.healthy_threshold.clamp(2, 10) as i32)
            .unhealthy_threshold(check.unhealthy_threshold.clamp(2, 10) as i32)
            .build()
            .map_err(|e| Error::Invalid(format!("healthCheck: {e}")))?;
        clients
            .elb_classic
            .configure_health_check()
            .load_balancer_name(&balancer.name)
            .health_check(check)
            .send()
            .await
            .map_err(|e| aws_error("ConfigureHealthCheck", e))?;
    }
    Ok(())
}

pub async fn delete(clients: &Clients, name: &str) -> Result<()> {
    if find(clients, name).await.is_some() {
        clients.elb_classic.delete_load_balancer().load_balancer_name(name).send().await.map_err(|e| aws_error("DeleteLoadBalancer (classic)", e))?;
    }
    Ok(())
}

/// A classic ELB in gennaker's model.
pub fn load_balancer(location: &Location, found: &elb::LoadBalancerDescription, security_group_names: &HashMap<String, String>) -> LoadBalancer {
    let listeners = found
        .listener_descriptions()
        .iter()
        .filter_map(|description| description.listener())
        .map(|listener| Listener {
            port: listener.load_balancer_port().clamp(0, 65535) as u16,
            protocol: if listener.protocol().eq_ignore_ascii_case("tcp") || listener.protocol().eq_ignore_ascii_case("ssl") { Protocol::Tcp } else { Protocol::Http },
        })
        .collect();
    let health_check = found.health_check().and_then(|check| {
        let (_, path) = check.target().split_once('/')?;
        Some(HealthCheck {
            path: format!("/{path}"),
            interval_ms: check.interval().max(0) as u64 * 1000,
            timeout_ms: check.timeout().max(0) as u64 * 1000,
            healthy_threshold: check.healthy_threshold().max(0) as u32,
            unhealthy_threshold: check.unhealthy_threshold().max(0) as u32,
        })
    });
    LoadBalancer {
        name: found.load_balancer_name().unwrap_or_default().to_string(),
        location: location.clone(),
        listeners,
        health_check,
        security_groups: found.security_groups().iter().map(|id| security_group_names.get(id).cloned().unwrap_or_else(|| id.clone())).collect(),
        moniker: None,
        load_balancer_type: Some(LoadBalancerType::Classic),
    }
}

/// Each instance's state as the ELB sees it, in ELBv2's words (`healthy`, `unhealthy`), so one
/// rule reads both kinds.
pub async fn instance_states(clients: &Clients, name: &str) -> Result<HashMap<String, String>> {
    let found = clients.elb_classic.describe_instance_health().load_balancer_name(name).send().await.map_err(|e| aws_error("DescribeInstanceHealth", e))?;
    Ok(found
        .instance_states()
        .iter()
        .filter_map(|state| {
            let word = match state.state()? {
                "InService" => "healthy",
                "OutOfService" => "unhealthy",
                _ => "initial",
            };
            Some((state.instance_id()?.to_string(), word.to_string()))
        })
        .collect())
}

/// Registers (or deregisters) instances with a classic ELB.
pub async fn set_registered(clients: &Clients, name: &str, instance_ids: &[String], register: bool) -> Result<()> {
    let instances: Vec<elb::Instance> = instance_ids.iter().map(|id| elb::Instance::builder().instance_id(id).build()).collect();
    if register {
        clients
            .elb_classic
            .register_instances_with_load_balancer()
            .load_balancer_name(name)
            .set_instances(Some(instances))
            .send()
            .await
            .map_err(|e| aws_error("RegisterInstancesWithLoadBalancer", e))?;
    } else {
        clients
            .elb_classic
            .deregister_instances_from_load_balancer()
            .load_balancer_name(name)
            .set_instances(Some(instances))
            .send()
            .await
            .map_err(|e| aws_error("DeregisterInstancesFromLoadBalancer", e))?;
    }
    Ok(())
}
