//! `upsertLoadBalancers`: creates or updates load balancers on any server-group cloud (local,
//! AWS), as Spinnaker's stage of that name: `loadBalancers`, each with `cloudProvider`,
//! `credentials`, `region`, `name` (`application[-stack[-detail]]`), `listeners` (gennaker's
//! `{port, protocol}` or Spinnaker's `{externalPort, externalProtocol}`), the health check
//! (gennaker's `healthCheck`, or Spinnaker's first `targetGroups[].healthCheckPath`,
//! `healthCheckInterval`, `healthCheckTimeout`, `healthyThreshold`, `unhealthyThreshold`)
//! and `securityGroups`. Each account needs WRITE, and each load balancer's application.

use app::model::cluster::{HealthCheck, Listener, LoadBalancer, Location, Protocol};
use app::model::pipeline::Extra;
use app::model::stage_types::{Field, Input, StageTypeInfo};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{StageType, Step, Task, config_or_fail, failed, succeeded};
use crate::engine::stage_forms as F;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerEntry {
    #[serde(default = "crate::engine::targets::local")]
    pub cloud_provider: String,
    #[serde(default = "crate::engine::targets::local", alias = "account")]
    pub credentials: String,
    #[serde(default = "crate::engine::targets::local")]
    pub region: String,
    pub name: String,
    #[serde(default)]
    pub listeners: Vec<Value>,
    /// gennaker's `{path, intervalMs, ...}`, or a classic ELB's target (`"HTTP:7001/health"`,
    /// with `healthInterval`, `healthTimeout`, `healthyThreshold`, `unhealthyThreshold` beside it).
    #[serde(default)]
    pub health_check: Option<Value>,
    #[serde(default)]
    pub target_groups: Vec<Value>,
    #[serde(default)]
    pub security_groups: Vec<String>,
    /// AWS: `classic`, `application` or `network` (Spinnaker's `loadBalancerType`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_type: Option<app::model::cluster::LoadBalancerType>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsertLoadBalancersStage {
    pub load_balancers: Vec<LoadBalancerEntry>,
    #[serde(flatten)]
    pub extra: Extra,
}

fn protocol(text: &str) -> Result<Protocol, String> {
    match text.to_ascii_lowercase().as_str() {
        "http" | "https" => Ok(Protocol::Http),
        "tcp" | "tls" => Ok(Protocol::Tcp),
        other => Err(format!("listener protocol {other:?}: http or tcp")),
    }
}

fn number(value: Option<&Value>) -> Option<u64> {
    value.and_then(|value| value.as_u64().or_else(|| value.as_str().and_then(|text| text.parse().ok())))
}

impl LoadBalancerEntry {
    pub fn location(&self) -> Location {
        Location { cloud_provider: self.cloud_provider.clone(), account: self.credentials.clone(), region: self.region.clone() }
    }

    /// The load balancer it describes, in gennaker's model.
    pub fn to_load_balancer(&self) -> Result<LoadBalancer, String> {
        let mut listeners = Vec::new();
        for (index, listener) in self.listeners.iter().enumerate() {
            let port = number(listener.get("port").or_else(|| listener.get("externalPort"))).ok_or(format!("listeners[{index}] needs a port"))?;
            let port = u16::try_from(port).map_err(|_| format!("listeners[{index}]: port {port} is above 65535"))?;
            let kind = listener.get("protocol").or_else(|| listener.get("externalProtocol")).and_then(Value::as_str).unwrap_or("http");
            listeners.push(Listener { port, protocol: protocol(kind).map_err(|e| format!("listeners[{index}]: {e}"))? });
        }
        if listeners.is_empty() {
            return Err("a load balancer needs a listener".into());
        }
        let classic = |target: &str| {
            // `HTTP:7001/health` (a TCP target has no path: no HTTP check in gennaker's model).
            let path = target.split_once('/').map(|(_, path)| format!("/{path}"))?;
            let seconds = |key: &str, default: u64| number(self.extra.get(key)).unwrap_or(default) * 1000;
            Some(HealthCheck {
                path,
                interval_ms: seconds("healthInterval", 10),
                timeout_ms: seconds("healthTimeout", 5),
                healthy_threshold: number(self.extra.get("healthyThreshold")).unwrap_or(2) as u32,
                unhealthy_threshold: number(self.extra.get("unhealthyThreshold")).unwrap_or(2) as u32,
            })
        };
        let given = match &self.health_check {
            None => None,
            Some(Value::String(target)) => classic(target),
            Some(other) => Some(serde_json::from_value::<HealthCheck>(other.clone()).map_err(|e| format!("healthCheck: {e}"))?),
        };
        let from_path = || {
            let path = self.extra.get("healthCheckPath").and_then(Value::as_str)?;
            let port = number(self.extra.get("healthCheckPort")).map(|port| port.to_string()).unwrap_or_default();
            classic(&format!("HTTP:{port}{path}"))
        };
        let health_check = given.or_else(from_path).or_else(|| {
            let group = self.target_groups.first()?;
            let path = group.get("healthCheckPath").and_then(Value::as_str)?.to_string();
            let seconds = |key: &str, default: u64| number(group.get(key)).unwrap_or(default) * 1000;
            Some(HealthCheck {
                path,
                interval_ms: seconds("healthCheckInterval", 10),
                timeout_ms: seconds("healthCheckTimeout", 5),
                healthy_threshold: number(group.get("healthyThreshold")).unwrap_or(2) as u32,
                unhealthy_threshold: number(group.get("unhealthyThreshold")).unwrap_or(2) as u32,
            })
        });
        Ok(LoadBalancer { name: self.name.clone(), location: self.location(), listeners, health_check, security_groups: self.security_groups.clone(), moniker: None, load_balancer_type: self.load_balancer_type })
    }
}

pub struct UpsertLoadBalancers;

#[async_trait]
impl StageType for UpsertLoadBalancers {
    fn type_name(&self) -> &'static str {
        "upsertLoadBalancers"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        F::info(
            "upsertLoadBalancers",
            "Create Load Balancers",
            "Creates or updates load balancers (local, or AWS Application/Network Load Balancers with their target group).",
            vec![Field::new("loadBalancers", "Load balancers", Input::Json, "[{\"cloudProvider\": \"aws\", \"credentials\": \"aws-prod\", \"region\": \"us-east-1\", \"name\": \"shop-web\", \"listeners\": [{\"port\": 80, \"protocol\": \"http\"}], \"healthCheck\": {\"path\": \"/health\", \"intervalMs\": 10000, \"timeoutMs\": 5000, \"healthyThreshold\": 2, \"unhealthyThreshold\": 2}}]")],
            json!({"loadBalancers": [{"cloudProvider": "local", "credentials": "local", "region": "local", "name": application, "listeners": [{"port": 80, "protocol": "http"}]}]}),
        )
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["upsertLoadBalancers"]
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        let stage: UpsertLoadBalancersStage = super::parse(config)?;
        if stage.load_balancers.is_empty() {
            return Err(("loadBalancers".into(), "name at least one load balancer".into()));
        }
        for (index, entry) in stage.load_balancers.iter().enumerate() {
            if super::has_expression(&entry.name) {
                continue;
            }
            crate::cloud::cache::application_of(&entry.name).ok_or((format!("loadBalancers[{index}].name"), format!("{:?} does not follow application[-stack[-detail]]", entry.name)))?;
            entry.to_load_balancer().map_err(|message| (format!("loadBalancers[{index}]"), message))?;
        }
        Ok(())
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<UpsertLoadBalancersStage>(config).map(|stage| stage.load_balancers.into_iter().map(|entry| entry.credentials).collect()).unwrap_or_default()
    }

    fn applications_acted_on(&self, config: &Value) -> Vec<String> {
        super::parse::<UpsertLoadBalancersStage>(config).map(|stage| stage.load_balancers.iter().map(|entry| crate::engine::targets::application_of(&entry.name)).collect()).unwrap_or_default()
    }

    fn cannot_run(&self, config: &Value) -> Option<String> {
        config.get("loadBalancers").and_then(Value::as_array).into_iter().flatten().find_map(super::other_cloud)
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: UpsertLoadBalancersStage = config_or_fail!(task.stage);
        let outcome = async {
            let mut names = Vec::new();
            for entry in &config.load_balancers {
                let balancer = entry.to_load_balancer()?;
                let location = entry.location();
                let provider = task.effects.clouds.check_location(&location).map_err(|e| e.to_string())?;
                provider.upsert_load_balancer(balancer).await.map_err(|e| format!("load balancer {}: {e}", entry.name))?;
                crate::engine::server_groups::refresh(task.effects, &location).await;
                names.push(entry.name.clone());
            }
            Ok::<_, String>(names)
        };
        match outcome.await {
            Ok(names) => succeeded([("loadBalancers".to_string(), json!(names))].into_iter().collect()),
            Err(error) => failed(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spinnaker_and_gennaker_shapes_both_read() {
        let spinnaker: LoadBalancerEntry = serde_json::from_value(json!({"cloudProvider": "aws", "credentials": "prod", "region": "us-east-1", "name": "shop-web",
            "listeners": [{"externalPort": "443", "externalProtocol": "HTTPS"}],
            "targetGroups": [{"name": "shop-web", "healthCheckPath": "/ready", "healthCheckInterval": 30, "healthyThreshold": 3}]})).unwrap();
        let balancer = spinnaker.to_load_balancer().unwrap();
        assert_eq!(balancer.listeners, vec![Listener { port: 443, protocol: Protocol::Http }]);
        let check = balancer.health_check.unwrap();
        assert_eq!((check.path.as_str(), check.interval_ms, check.healthy_threshold), ("/ready", 30_000, 3));
        let stage = json!({"loadBalancers": [{"name": "shop-web", "listeners": [{"port": 99999}]}]});
        assert!(UpsertLoadBalancers.validate(&stage).unwrap_err().1.contains("65535"));
        assert_eq!(UpsertLoadBalancers.validate(&json!({"loadBalancers": [{"name": "Bad Name", "listeners": [{"port": 80}]}]})).unwrap_err().0, "loadBalancers[0].name");
        let good = json!({"loadBalancers": [{"cloudProvider": "aws", "credentials": "prod", "region": "us-east-1", "name": "shop-web", "listeners": [{"port": 80}]}]});
        assert!(UpsertLoadBalancers.validate(&good).is_ok());
        assert_eq!(UpsertLoadBalancers.accounts(&good), vec!["prod".to_string()]);
        assert_eq!(UpsertLoadBalancers.applications_acted_on(&good), vec!["shop".to_string()]);
    }
}
