//! `deleteLoadBalancer`: deletes a load balancer in each region named, as Spinnaker's stage:
//! `cloudProvider`, `credentials`, `regions` (or `region`), `loadBalancerName`. A load balancer
//! a server group still uses is not deleted (the stage fails naming the server group); one
//! already gone is fine, so a retried stage succeeds.

use app::model::pipeline::Extra;
use app::model::stage_types::{Field, Input, StageTypeInfo};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{StageType, Step, Task, config_or_fail, failed, succeeded};
use crate::engine::stage_forms as F;
use crate::engine::targets::Regions;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteLoadBalancerStage {
    #[serde(flatten)]
    pub regions: Regions,
    pub load_balancer_name: String,
    #[serde(flatten)]
    pub extra: Extra,
}

pub struct DeleteLoadBalancer;

#[async_trait]
impl StageType for DeleteLoadBalancer {
    fn type_name(&self) -> &'static str {
        "deleteLoadBalancer"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        let mut fields = vec![Field::new("loadBalancerName", "Load balancer", Input::Text, "The load balancer to delete, e.g. shop-web.")];
        fields.extend([
            Field::new("credentials", "Account", Input::Text, "The account."),
            Field::new("regions", "Regions", Input::Lines, "One per line."),
        ]);
        F::info("deleteLoadBalancer", "Delete Load Balancer", "Deletes a load balancer no server group uses, in each region.", fields,
            json!({"cloudProvider": "local", "credentials": "local", "regions": ["local"], "loadBalancerName": application}))
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["deleteLoadBalancer"]
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        super::parse::<DeleteLoadBalancerStage>(config).map(drop)
    }

    fn accounts(&self, config: &Value) -> Vec<String> {
        super::parse::<DeleteLoadBalancerStage>(config).map(|stage| vec![stage.regions.credentials]).unwrap_or_default()
    }

    fn applications_acted_on(&self, config: &Value) -> Vec<String> {
        super::parse::<DeleteLoadBalancerStage>(config).map(|stage| vec![crate::engine::targets::application_of(&stage.load_balancer_name)]).unwrap_or_default()
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: DeleteLoadBalancerStage = config_or_fail!(task.stage);
        let name = &config.load_balancer_name;
        let outcome = async {
            for location in config.regions.locations() {
                let (provider, snapshot) = crate::engine::server_groups::observe(task.effects, &location).await?;
                if let Some(user) = snapshot.server_groups.iter().find(|group| group.load_balancers.iter().any(|balancer| balancer == name)) {
                    return Err(format!("server group {} still uses load balancer {name} in {}", user.name, location.region));
                }
                provider.delete_load_balancer(&location, name).await.map_err(|e| format!("load balancer {name} in {}: {e}", location.region))?;
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
