//! `upsertSecurityGroup`: creates or updates a security group (firewall) in each region named,
//! as Spinnaker's stage: `cloudProvider`, `credentials`, `regions` (or `region`), `name`
//! (`application[-stack[-detail]]`), `description`, and its rules: Spinnaker's `ipIngress`
//! (`{cidr, type: "tcp", startPort, endPort}`) or gennaker's `ingress`. The rules become
//! exactly those given.

use app::model::cluster::{IngressRule, Protocol, SecurityGroup};
use app::model::pipeline::Extra;
use app::model::stage_types::{Field, Input, StageTypeInfo};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::engine::targets::Regions;
use super::{StageType, Step, Task, config_or_fail, failed, succeeded};
use crate::engine::stage_forms as F;

/// One of Spinnaker's `ipIngress` rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpIngress {
    pub cidr: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    pub start_port: u16,
    pub end_port: u16,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsertSecurityGroupStage {
    #[serde(flatten)]
    pub regions: Regions,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub ip_ingress: Vec<IpIngress>,
    #[serde(default)]
    pub ingress: Vec<IngressRule>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl UpsertSecurityGroupStage {
    /// Every rule, checked: a CIDR, TCP, a port range that is not empty.
    pub fn rules(&self) -> Result<Vec<IngressRule>, super::Fault> {
        let mut rules = self.ingress.clone();
        for (index, rule) in self.ip_ingress.iter().enumerate() {
            if !rule.kind.is_empty() && !rule.kind.eq_ignore_ascii_case("tcp") {
                return Err((format!("ipIngress[{index}].type"), format!("{:?}: gennaker's security groups hold TCP rules", rule.kind)));
            }
            rules.push(IngressRule { cidr: rule.cidr.clone(), protocol: Protocol::Tcp, start_port: rule.start_port, end_port: rule.end_port });
        }
        for (index, rule) in rules.iter().enumerate() {
            if let Err(error) = rule.cidr.parse::<crate::cloud::cidr::Cidr>() {
                return Err((format!("ingress[{index}].cidr"), error.to_string()));
            }
            if rule.start_port > rule.end_port {
                return Err((format!("ingress[{index}].startPort"), format!("port range {}-{} is empty", rule.start_port, rule.end_port)));
            }
        }
        Ok(rules)
    }
}

pub struct UpsertSecurityGroup;

#[async_trait]
impl StageType for UpsertSecurityGroup {
    fn type_name(&self) -> &'static str {
        "upsertSecurityGroup"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        let fields = vec![
            Field::new("name", "Name", Input::Text, "application[-stack[-detail]], e.g. shop-web."),
            Field::new("credentials", "Account", Input::Text, "The account."),
            Field::new("regions", "Regions", Input::Lines, "One per line."),
            Field::new("description", "Description", Input::Text, ""),
            Field::new("ipIngress", "Rules", Input::Json, "[{\"cidr\": \"10.0.0.0/8\", \"type\": \"tcp\", \"startPort\": 80, \"endPort\": 80}]"),
        ];
        F::info("upsertSecurityGroup", "Create Security Group", "Creates or updates a security group: its ingress rules become exactly those given.", fields,
            json!({"cloudProvider": "local", "credentials": "local", "regions": ["local"], "name": application, "ipIngress": []}))
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["upsertSecurityGroup"]
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        let stage: UpsertSecurityGroupStage = super::parse(config)?;
        if !super::has_expression(&stage.name) && crate::cloud::cache::application_of(&stage.name).is_none() {
            return Err(("name".into(), format!("{:?} does not follow application[-stack[-detail]]", stage.name)));
        }
        stage.rules().map(drop)
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<UpsertSecurityGroupStage>(config).map(|stage| vec![stage.regions.credentials]).unwrap_or_default()
    }

    fn applications_acted_on(&self, config: &Value) -> Vec<String> {
        super::parse::<UpsertSecurityGroupStage>(config).map(|stage| vec![crate::engine::targets::application_of(&stage.name)]).unwrap_or_default()
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: UpsertSecurityGroupStage = config_or_fail!(task.stage);
        let outcome = async {
            let rules = config.rules().map_err(|(field, message)| format!("{field}: {message}"))?;
            for location in config.regions.locations() {
                let provider = task.effects.clouds.check_location(&location).map_err(|e| e.to_string())?;
                let group = SecurityGroup { name: config.name.clone(), location: location.clone(), description: config.description.clone(), ingress: rules.clone(), moniker: None };
                provider.upsert_security_group(group).await.map_err(|e| format!("security group {} in {}: {e}", config.name, location.region))?;
                crate::engine::server_groups::refresh(task.effects, &location).await;
            }
            Ok::<_, String>(())
        };
        match outcome.await {
            Ok(()) => succeeded(Default::default()),
            Err(error) => failed(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spinnaker_rules_are_checked() {
        let good = json!({"cloudProvider": "aws", "credentials": "prod", "regions": ["us-east-1"], "name": "shop-web",
            "ipIngress": [{"cidr": "10.0.0.0/8", "type": "tcp", "startPort": 80, "endPort": 443}]});
        assert!(UpsertSecurityGroup.validate(&good).is_ok());
        let mut udp = good.clone();
        udp["ipIngress"][0]["type"] = json!("udp");
        assert_eq!(UpsertSecurityGroup.validate(&udp).unwrap_err().0, "ipIngress[0].type");
        let mut bad = good.clone();
        bad["ipIngress"][0]["cidr"] = json!("10.0.0.0/99");
        assert_eq!(UpsertSecurityGroup.validate(&bad).unwrap_err().0, "ingress[0].cidr");
        assert_eq!(UpsertSecurityGroup.accounts(&good), vec!["prod".to_string()]);
    }
}
