//! `deleteSecurityGroup`: deletes a security group in each region named, as Spinnaker's stage:
//! `cloudProvider`, `credentials`, `regions` (or `region`), `securityGroupName`. One a server
//! group or load balancer still uses is not deleted (the stage fails naming it); one already
//! gone is fine.

use app::model::pipeline::Extra;
use app::model::stage_types::{Field, Input, StageTypeInfo};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::engine::targets::Regions;
use super::{StageType, Step, Task, config_or_fail, failed, succeeded};
use crate::engine::stage_forms as F;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteSecurityGroupStage {
    #[serde(flatten)]
    pub regions: Regions,
    pub security_group_name: String,
    #[serde(flatten)]
    pub extra: Extra,
}

pub struct DeleteSecurityGroup;

#[async_trait]
impl StageType for DeleteSecurityGroup {
    fn type_name(&self) -> &'static str {
        "deleteSecurityGroup"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        let fields = vec![
            Field::new("securityGroupName", "Security group", Input::Text, "The security group to delete, e.g. shop-web."),
            Field::new("credentials", "Account", Input::Text, "The account."),
            Field::new("regions", "Regions", Input::Lines, "One per line."),
        ];
        F::info("deleteSecurityGroup", "Delete Security Group", "Deletes a security group nothing uses, in each region.", fields,
            json!({"cloudProvider": "local", "credentials": "local", "regions": ["local"], "securityGroupName": application}))
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["deleteSecurityGroup"]
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        super::parse::<DeleteSecurityGroupStage>(config).map(drop)
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<DeleteSecurityGroupStage>(config).map(|stage| vec![stage.regions.credentials]).unwrap_or_default()
    }

    fn applications_acted_on(&self, config: &Value) -> Vec<String> {
        super::parse::<DeleteSecurityGroupStage>(config).map(|stage| vec![crate::engine::targets::application_of(&stage.security_group_name)]).unwrap_or_default()
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: DeleteSecurityGroupStage = config_or_fail!(task.stage);
        let name = &config.security_group_name;
        let outcome = async {
            for location in config.regions.locations() {
                let (provider, snapshot) = crate::engine::server_groups::observe(task.effects, &location).await?;
                let user = snapshot
                    .server_groups
                    .iter()
                    .filter(|group| group.security_groups.contains(name))
                    .map(|group| format!("server group {}", group.name))
                    .chain(snapshot.load_balancers.iter().filter(|balancer| balancer.security_groups.contains(name)).map(|balancer| format!("load balancer {}", balancer.name)))
                    .next();
                if let Some(user) = user {
                    return Err(format!("{user} still uses security group {name} in {}", location.region));
                }
                provider.delete_security_group(&location, name).await.map_err(|e| format!("security group {name} in {}: {e}", location.region))?;
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
