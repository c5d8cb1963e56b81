//! Weighted target groups: how an AWS Application Load Balancer splits its traffic between
//! server groups by weight, for the canary strategy (`engine::stages::deploy::rollout`), as
//! the local cloud's balancer does by itself.
//!
//! ELBv2 weighs target groups, not instances: a listener's `forward` action names up to five
//! target groups, each with a weight from 0 to 999. A load balancer gennaker makes has one
//! target group (named after it) that every server group joins, so to weigh server groups
//! each one named in the weights gets a target group of its own on that load balancer: the
//! main one's protocol, port, VPC and health check, tagged with the load balancer and the
//! server group (so it is found again, shown as its load balancer, and cleaned up). The Auto
//! Scaling group is attached to it (instances it launches later join by themselves) and its
//! instances in service are registered at once, so it takes its share as soon as every
//! listener forwards by weight.
//!
//! The main target group stays in the weighted action at weight 0 (room allowing): AWS
//! reports the targets of a target group no listener uses as `unused`, which would show every
//! instance out of service; at weight 0 it is still health-checked and takes nothing, so a
//! server group created meanwhile (a canary before its first step) takes no traffic.
//!
//! A server group left out of later weights (production, once the canary is promoted) keeps
//! its target group, taking nothing, until traffic goes back to plain rotation.
//!
//! Back to plain rotation (`None`), the listeners forward to the main target group again and
//! the per-server-group ones are detached and deleted; destroying a server group deletes its
//! own, first taking them out of any listener still forwarding to them. Every step looks
//! before it acts, so each call may be repeated. Classic ELBs cannot weigh at all, nor can a
//! Network Load Balancer's listener forward to more than one target group: both are refused.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, ForwardActionConfig, LoadBalancerTypeEnum, TargetGroup, TargetGroupTuple};

use super::{Clients, aws_error, classic};
use crate::cloud::provider::{Error, Result};

/// The tag naming the load balancer a per-server-group target group belongs to.
pub const LOAD_BALANCER_TAG: &str = "gennaker:loadBalancer";
/// The tag naming the server group a per-server-group target group holds.
pub const SERVER_GROUP_TAG: &str = "gennaker:serverGroup";
/// ELBv2's limits on one forward action.
const MAX_TARGET_GROUPS: usize = 5;
const MAX_WEIGHT: u32 = 999;
/// DescribeTags takes at most 20 resources.
const TAGS_PER_CALL: usize = 20;

/// The name of `server_group`'s target group on `load_balancer`: the server group's name cut
/// to fit, then a hash of both, within ELBv2's rules (at most 32 letters, digits and single
/// hyphens, none at either end).
pub fn target_group_name(load_balancer: &str, server_group: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{load_balancer}/{server_group}").as_bytes());
    let hash: String = digest.iter().take(4).map(|byte| format!("{byte:02x}")).collect();
    let mut prefix = String::new();
    for c in server_group.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if c == '-' && (prefix.is_empty() || prefix.ends_with('-')) {
            continue;
        }
        prefix.push(c);
    }
    prefix.truncate(32 - 1 - hash.len());
    let prefix = prefix.trim_end_matches('-');
    if prefix.is_empty() { format!("tg-{hash}") } else { format!("{prefix}-{hash}") }
}

/// Weights as ELBv2 takes them: relative, so scaled down into 0-999 when one is larger (a
/// weight above 0 stays above 0).
pub fn scaled(weights: &BTreeMap<String, u32>) -> BTreeMap<String, i32> {
    let top = weights.values().copied().max().unwrap_or(0);
    weights
        .iter()
        .map(|(group, weight)| {
            let mut fitted = if top <= MAX_WEIGHT { *weight } else { (u64::from(*weight) * u64::from(MAX_WEIGHT) / u64::from(top)) as u32 };
            if fitted == 0 && *weight > 0 {
                fitted = 1;
            }
            (group.clone(), i32::try_from(fitted).unwrap_or(0))
        })
        .collect()
}

/// A forward action to target groups by weight.
pub fn forward(tuples: &[(String, i32)]) -> Action {
    let config = ForwardActionConfig::builder()
        .set_target_groups(Some(tuples.iter().map(|(arn, weight)| TargetGroupTuple::builder().target_group_arn(arn).weight(*weight).build()).collect()))
        .build();
    Action::builder().r#type(ActionTypeEnum::Forward).forward_config(config).build()
}

/// A plain forward action to one target group.
pub fn forward_to(arn: &str) -> Action {
    Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(arn).build()
}

/// The target groups, with their weights, that a listener's default actions forward to (a
/// plain forward is one target group at weight 1).
pub fn forwarded(actions: &[Action]) -> Vec<(String, i32)> {
    actions
        .iter()
        .filter(|action| action.r#type() == Some(&ActionTypeEnum::Forward))
        .flat_map(|action| {
            let weighted: Vec<(String, i32)> = action
                .forward_config()
                .map(|config| config.target_groups().iter().filter_map(|tuple| Some((tuple.target_group_arn()?.to_string(), tuple.weight().unwrap_or(1)))).collect())
                .unwrap_or_default();
            if weighted.is_empty() { action.target_group_arn().map(|arn| vec![(arn.to_string(), 1)]).unwrap_or_default() } else { weighted }
        })
        .collect()
}

/// What a listener forwarding `current` does once `arn` is gone: the others at their weights,
/// or the main target group alone when none of them takes anything.
pub fn without(current: &[(String, i32)], arn: &str, main: Option<&str>) -> Action {
    let rest: Vec<(String, i32)> = current.iter().filter(|(other, _)| other != arn).cloned().collect();
    match main {
        Some(main) if rest.iter().all(|(_, weight)| *weight == 0) => forward_to(main),
        _ => forward(&rest),
    }
}

/// Which load balancer and server group each of `arns` is tagged for, for those tagged so.
pub async fn owners(clients: &Clients, arns: &[String]) -> Result<HashMap<String, (String, String)>> {
    let mut owners = HashMap::new();
    for chunk in arns.chunks(TAGS_PER_CALL) {
        let described = match clients.elb.describe_tags().set_resource_arns(Some(chunk.to_vec())).send().await {
            Ok(described) => vec![described],
            // One was deleted since it was listed (a canary's going): the others one by one.
            Err(error) if error.as_service_error().is_some_and(|e| e.is_target_group_not_found_exception()) => {
                let mut each = Vec::new();
                for arn in chunk {
                    match clients.elb.describe_tags().resource_arns(arn).send().await {
                        Ok(described) => each.push(described),
                        Err(error) if error.as_service_error().is_some_and(|e| e.is_target_group_not_found_exception()) => {}
                        Err(error) => return Err(aws_error("DescribeTags", error)),
                    }
                }
                each
            }
            Err(error) => return Err(aws_error("DescribeTags", error)),
        };
        for description in described.iter().flat_map(|described| described.tag_descriptions()) {
            let tag = |key: &str| description.tags().iter().find(|tag| tag.key() == Some(key)).and_then(|tag| tag.value()).map(str::to_string);
            if let (Some(arn), Some(balancer)) = (description.resource_arn(), tag(LOAD_BALANCER_TAG)) {
                owners.insert(arn.to_string(), (balancer, tag(SERVER_GROUP_TAG).unwrap_or_default()));
            }
        }
    }
    Ok(owners)
}

/// Every per-server-group target group (ARN, load balancer, server group).
async fn all_owned(clients: &Clients) -> Result<Vec<(String, String, String)>> {
    let all: Vec<TargetGroup> =
        clients.elb.describe_target_groups().into_paginator().items().send().collect::<std::result::Result<_, _>>().await.map_err(|e| aws_error("DescribeTargetGroups", e))?;
    let arns: Vec<String> = all.iter().filter_map(|group| group.target_group_arn().map(str::to_string)).collect();
    let owners = owners(clients, &arns).await?;
    Ok(arns.into_iter().filter_map(|arn| owners.get(&arn).cloned().map(|(balancer, group)| (arn, balancer, group))).collect())
}

/// The ELBv2 load balancer named so, if there is one.
async fn find_balancer(clients: &Clients, name: &str) -> Result<Option<aws_sdk_elasticloadbalancingv2::types::LoadBalancer>> {
    match clients.elb.describe_load_balancers().names(name).send().await {
        Ok(found) => Ok(found.load_balancers().first().cloned()),
        Err(error) if error.as_service_error().is_some_and(|e| e.is_load_balancer_not_found_exception()) => Ok(None),
        Err(error) => Err(aws_error("DescribeLoadBalancers", error)),
    }
}

/// The target group named so, if there is one.
async fn find_target_group(clients: &Clients, name: &str) -> Result<Option<TargetGroup>> {
    match clients.elb.describe_target_groups().names(name).send().await {
        Ok(found) => Ok(found.target_groups().first().cloned()),
        Err(error) if error.as_service_error().is_some_and(|e| e.is_target_group_not_found_exception()) => Ok(None),
        Err(error) => Err(aws_error("DescribeTargetGroups", error)),
    }
}

/// A load balancer's listeners: (ARN, what they forward to).
async fn listeners(clients: &Clients, balancer_arn: &str) -> Result<Vec<(String, Vec<(String, i32)>)>> {
    let found = clients.elb.describe_listeners().load_balancer_arn(balancer_arn).send().await.map_err(|e| aws_error("DescribeListeners", e))?;
    Ok(found.listeners().iter().filter_map(|listener| Some((listener.listener_arn()?.to_string(), forwarded(listener.default_actions())))).collect())
}

async fn set_default_action(clients: &Clients, listener_arn: &str, action: Action) -> Result<()> {
    clients.elb.modify_listener().listener_arn(listener_arn).default_actions(action).send().await.map_err(|e| aws_error("ModifyListener", e))?;
    Ok(())
}

/// `server_group`'s target group on `load_balancer`, made now (as `main` is) if missing.
async fn ensure_target_group(clients: &Clients, load_balancer: &str, server_group: &str, main: &TargetGroup) -> Result<String> {
    let name = target_group_name(load_balancer, server_group);
    if let Some(arn) = find_target_group(clients, &name).await?.and_then(|group| group.target_group_arn().map(str::to_string)) {
        return Ok(arn);
    }
    let tag = |key: &str, value: &str| aws_sdk_elasticloadbalancingv2::types::Tag::builder().key(key).value(value).build();
    let created = clients
        .elb
        .create_target_group()
        .name(&name)
        .set_protocol(main.protocol().cloned())
        .set_port(main.port())
        .set_vpc_id(main.vpc_id().map(str::to_string))
        .set_target_type(main.target_type().cloned())
        .set_health_check_protocol(main.health_check_protocol().cloned())
        .set_health_check_port(main.health_check_port().map(str::to_string))
        .set_health_check_path(main.health_check_path().map(str::to_string))
        .set_health_check_interval_seconds(main.health_check_interval_seconds())
        .set_health_check_timeout_seconds(main.health_check_timeout_seconds())
        .set_healthy_threshold_count(main.healthy_threshold_count())
        .set_unhealthy_threshold_count(main.unhealthy_threshold_count())
        .set_matcher(main.matcher().cloned())
        .tags(tag(LOAD_BALANCER_TAG, load_balancer))
        .tags(tag(SERVER_GROUP_TAG, server_group))
        .send()
        .await
        .map_err(|e| aws_error("CreateTargetGroup", e))?;
    created.target_groups().first().and_then(|group| group.target_group_arn()).map(str::to_string).ok_or_else(|| Error::Provider("CreateTargetGroup returned no ARN".into()))
}

/// Splits `load_balancer`'s traffic between server groups by weight, or (`None`) puts it back
/// on its main target group and removes the per-server-group ones.
pub async fn set(clients: &Clients, load_balancer: &str, weights: Option<BTreeMap<String, u32>>) -> Result<()> {
    let balancer = find_balancer(clients, load_balancer).await?;
    let Some(weights) = weights else { return release(clients, load_balancer, balancer.as_ref()).await };
    let Some(balancer) = balancer else {
        if classic::find(clients, load_balancer).await.is_some() {
            return Err(Error::Invalid(format!("{load_balancer} is a classic ELB, which cannot weigh traffic between server groups: use an Application Load Balancer")));
        }
        return Err(Error::NotFound(format!("load balancer {load_balancer}")));
    };
    if balancer.r#type() == Some(&LoadBalancerTypeEnum::Network) {
        return Err(Error::Invalid(format!(
            "{load_balancer} is a Network Load Balancer, whose listeners forward to one target group: weighing traffic between server groups needs an Application Load Balancer"
        )));
    }
    if weights.len() > MAX_TARGET_GROUPS {
        return Err(Error::Invalid(format!("an AWS listener weighs at most {MAX_TARGET_GROUPS} target groups, not {} server groups", weights.len())));
    }
    let balancer_arn = balancer.load_balancer_arn().ok_or_else(|| Error::Provider("DescribeLoadBalancers returned no ARN".into()))?;
    let main = find_target_group(clients, load_balancer).await?.ok_or_else(|| Error::NotFound(format!("target group {load_balancer} (the load balancer's own)")))?;
    let main_arn = main.target_group_arn().unwrap_or_default().to_string();
    let names: Vec<String> = weights.keys().cloned().collect();
    let found = clients.autoscaling.describe_auto_scaling_groups().set_auto_scaling_group_names(Some(names)).send().await.map_err(|e| aws_error("DescribeAutoScalingGroups", e))?;
    let groups: HashMap<&str, &aws_sdk_autoscaling::types::AutoScalingGroup> =
        found.auto_scaling_groups().iter().filter_map(|group| Some((group.auto_scaling_group_name()?, group))).collect();
    if let Some(missing) = weights.keys().find(|name| !groups.contains_key(name.as_str())) {
        return Err(Error::NotFound(format!("server group {missing}")));
    }
    let scaled = scaled(&weights);
    let mut tuples = Vec::new();
    for (name, weight) in &scaled {
        let group = groups[name.as_str()];
        let arn = ensure_target_group(clients, load_balancer, name, &main).await?;
        if !group.target_group_arns().contains(&arn) {
            clients
                .autoscaling
                .attach_load_balancer_target_groups()
                .auto_scaling_group_name(name)
                .target_group_arns(&arn)
                .send()
                .await
                .map_err(|e| aws_error("AttachLoadBalancerTargetGroups", e))?;
        }
        // Auto Scaling registers them too, in its own time (and not while disabled): the share
        // is taken now, and a disabled group's instances stay out as disabling left them.
        if !super::convert::is_disabled(group) {
            let targets: Vec<aws_sdk_elasticloadbalancingv2::types::TargetDescription> = group
                .instances()
                .iter()
                .filter(|instance| instance.lifecycle_state() == Some(&aws_sdk_autoscaling::types::LifecycleState::InService))
                .filter_map(|instance| instance.instance_id())
                .map(|id| aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder().id(id).build())
                .collect();
            if !targets.is_empty() {
                clients.elb.register_targets().target_group_arn(&arn).set_targets(Some(targets)).send().await.map_err(|e| aws_error("RegisterTargets", e))?;
            }
        }
        tuples.push((arn, *weight));
    }
    if tuples.len() < MAX_TARGET_GROUPS {
        tuples.push((main_arn, 0));
    }
    for (listener, _) in listeners(clients, balancer_arn).await? {
        set_default_action(clients, &listener, forward(&tuples)).await?;
    }
    Ok(())
}

/// Plain rotation again: listeners forwarding to a per-server-group target group of
/// `load_balancer` forward to its main one, and those target groups go.
async fn release(clients: &Clients, load_balancer: &str, balancer: Option<&aws_sdk_elasticloadbalancingv2::types::LoadBalancer>) -> Result<()> {
    let owned: Vec<(String, String)> = all_owned(clients).await?.into_iter().filter(|(_, balancer, _)| balancer == load_balancer).map(|(arn, _, group)| (arn, group)).collect();
    if owned.is_empty() {
        return Ok(());
    }
    if let Some(balancer_arn) = balancer.and_then(|balancer| balancer.load_balancer_arn()) {
        for (listener, current) in listeners(clients, balancer_arn).await? {
            if current.iter().any(|(arn, _)| owned.iter().any(|(own, _)| own == arn)) {
                let main = find_target_group(clients, load_balancer).await?.and_then(|group| group.target_group_arn().map(str::to_string));
                let main = main.ok_or_else(|| Error::NotFound(format!("target group {load_balancer} (the load balancer's own, to forward to again)")))?;
                set_default_action(clients, &listener, forward_to(&main)).await?;
            }
        }
    }
    for (arn, group) in owned {
        remove(clients, &arn, &group).await?;
    }
    Ok(())
}

/// Deletes `server_group`'s own target groups (each load balancer's listeners still
/// forwarding to one forward to the others, or to the main one), for a server group going.
pub async fn forget(clients: &Clients, server_group: &str) -> Result<()> {
    let owned: Vec<(String, String)> = all_owned(clients).await?.into_iter().filter(|(_, _, group)| group == server_group).map(|(arn, balancer, _)| (arn, balancer)).collect();
    for (arn, load_balancer) in owned {
        if let Some(balancer_arn) = find_balancer(clients, &load_balancer).await?.and_then(|balancer| balancer.load_balancer_arn().map(str::to_string)) {
            let main = find_target_group(clients, &load_balancer).await?.and_then(|group| group.target_group_arn().map(str::to_string));
            for (listener, current) in listeners(clients, &balancer_arn).await? {
                if current.iter().any(|(other, _)| *other == arn) {
                    set_default_action(clients, &listener, without(&current, &arn, main.as_deref())).await?;
                }
            }
        }
        remove(clients, &arn, server_group).await?;
    }
    Ok(())
}

/// Detaches a per-server-group target group from its Auto Scaling group (if both are still
/// there) and deletes it (if it still is).
async fn remove(clients: &Clients, arn: &str, server_group: &str) -> Result<()> {
    let found = clients.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(server_group).send().await.map_err(|e| aws_error("DescribeAutoScalingGroups", e))?;
    if found.auto_scaling_groups().first().is_some_and(|group| group.target_group_arns().iter().any(|attached| attached == arn)) {
        let detached = clients.autoscaling.detach_load_balancer_target_groups().auto_scaling_group_name(server_group).target_group_arns(arn).send().await;
        match detached {
            Ok(_) => {}
            // The AWS emulator (moto) detaches, then fails deregistering the instances of a
            // disabled group, which disabling deregistered already: detached all the same.
            Err(error) if error.code() == Some("InvalidTarget") => {}
            Err(error) => return Err(aws_error("DetachLoadBalancerTargetGroups", error)),
        }
    }
    match clients.elb.delete_target_group().target_group_arn(arn).send().await {
        Ok(_) => Ok(()),
        Err(error) if error.code() == Some("TargetGroupNotFound") => Ok(()),
        Err(error) => Err(aws_error("DeleteTargetGroup", error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_group_names_fit_elbv2_and_differ_per_load_balancer() {
        let name = target_group_name("shop-web", "shop-web-canary-v003");
        assert!(name.starts_with("shop-web-canary-v003-") && name.len() == "shop-web-canary-v003-".len() + 8, "{name}");
        assert_ne!(name, target_group_name("shop-api", "shop-web-canary-v003"), "one per (load balancer, server group)");
        let long = target_group_name("lb", "a-very-long-application-name-with-stack--and-detail-v012");
        assert!(long.len() <= 32, "{long}");
        for name in [long, target_group_name("lb", "shop--beta-v001"), target_group_name("lb", "-_-"), target_group_name("lb", "abcdefghijklmnopqrstuv-xyz")] {
            assert!(name.len() <= 32 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'), "{name}");
            assert!(!name.starts_with('-') && !name.ends_with('-') && !name.contains("--"), "{name}");
        }
        assert_eq!(target_group_name("lb", "x"), target_group_name("lb", "x"), "found again by name");
    }

    #[test]
    fn weights_are_scaled_into_elbv2s_range() {
        let small = BTreeMap::from([("a".to_string(), 60), ("b".to_string(), 20), ("c".to_string(), 0)]);
        assert_eq!(scaled(&small), BTreeMap::from([("a".to_string(), 60), ("b".to_string(), 20), ("c".to_string(), 0)]));
        let large = BTreeMap::from([("a".to_string(), 2000), ("b".to_string(), 1)]);
        assert_eq!(scaled(&large), BTreeMap::from([("a".to_string(), 999), ("b".to_string(), 1)]), "above 0 stays above 0");
    }

    #[test]
    fn listeners_are_read_and_rewritten_by_target_group() {
        let weighted = forward(&[("tg-a".into(), 60), ("tg-b".into(), 20), ("main".into(), 0)]);
        assert_eq!(forwarded(std::slice::from_ref(&weighted)), [("tg-a".to_string(), 60), ("tg-b".to_string(), 20), ("main".to_string(), 0)]);
        assert_eq!(forwarded(&[forward_to("main")]), [("main".to_string(), 1)]);
        let current = forwarded(&[weighted]);
        assert_eq!(forwarded(&[without(&current, "tg-b", Some("main"))]), [("tg-a".to_string(), 60), ("main".to_string(), 0)]);
        let rest = forwarded(&[without(&current, "tg-b", Some("main"))]);
        assert_eq!(without(&rest, "tg-a", Some("main")), forward_to("main"), "nothing left takes traffic: plain rotation");
    }
}
