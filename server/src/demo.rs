//! The demo a newcomer sees on a first start (`serve --demo`, what the README's run command
//! passes): application `demo` with load balancer `demo-web` on 127.0.0.1:`--demo-port`, server
//! group `demo-web-v000` running two instances of `gennaker demo-app --version v1`, and the
//! pipeline `Deploy demo` that deploys a version (parameter `version`, default v2) red/black.
//! Created only when the database has no application yet, so it never comes back after a user
//! deleted it and never touches a database in use.

use std::collections::BTreeMap;

use app::model::NewApplication;
use app::model::cluster::{Artifact, Capacity, HealthCheck, Listener, LoadBalancer, Location, Protocol};
use app::model::pipeline::parse_pipeline;
use serde_json::json;

use crate::cloud::clouds::Clouds;
use crate::cloud::provider::ServerGroupSpec;
use crate::store::Store;

pub const APPLICATION: &str = "demo";
pub const PIPELINE: &str = "Deploy demo";

fn location() -> Location {
    Location { cloud_provider: "local".into(), account: "local".into(), region: "local".into() }
}

/// The demo pipeline: one red/black deploy of `demo-app --version ${parameters.version}`.
pub fn pipeline_config() -> serde_json::Value {
    json!({
        "application": APPLICATION,
        "name": PIPELINE,
        "parameterConfig": [{"name": "version", "label": "Version", "default": "v2", "required": true,
            "description": "The version the demo app reports"}],
        "stages": [{
            "refId": "1", "type": "deploy", "name": "Deploy red/black",
            "clusters": [{
                "cloudProvider": "local", "account": "local", "region": "local",
                "application": APPLICATION, "stack": "web", "freeFormDetails": "",
                "capacity": {"min": 2, "max": 2, "desired": 2},
                "artifact": {"command": ["demo-app", "--version", "${parameters.version}"], "version": "${parameters.version}"},
                "loadBalancers": ["demo-web"], "securityGroups": [],
                "strategy": "redblack", "maxRemainingAsgs": 2,
                "rollback": {"onFailure": true},
                "waitForHealthyTimeoutSec": 120
            }]
        }]
    })
}

pub async fn create_if_first_start(store: &Store, clouds: &Clouds, port: u16) -> anyhow::Result<()> {
    if !store.list_applications().await?.is_empty() {
        return Ok(());
    }
    tracing::info!(port, "first start: creating the demo application");
    let new = NewApplication {
        name: APPLICATION.into(),
        description: "The demo: a small web service deployed red/black on the local cloud".into(),
        email: String::new(),
    };
    store.insert_application(&new).await?;
    let local = clouds.provider("local")?;
    local
        .upsert_load_balancer(LoadBalancer {
            name: "demo-web".into(),
            location: location(),
            listeners: vec![Listener { port, protocol: Protocol::Http }],
            health_check: Some(HealthCheck { path: "/health".into(), interval_ms: 500, timeout_ms: 400, healthy_threshold: 2, unhealthy_threshold: 2 }),
            security_groups: vec![],
            moniker: None,
            load_balancer_type: None,
        })
        .await?;
    local
        .create_server_group(ServerGroupSpec {
            name: "demo-web-v000".into(),
            location: location(),
            capacity: Capacity { min: 2, max: 2, desired: 2 },
            artifact: Artifact::Command { command: vec!["demo-app".into(), "--version".into(), "v1".into()], version: "v1".into() },
            load_balancers: vec!["demo-web".into()],
            security_groups: vec![],
            metadata: BTreeMap::new(),
            launch: Default::default(),
            scaling_policies: Vec::new(),
            scheduled_actions: Vec::new(),
        })
        .await?;
    let mut pipeline = parse_pipeline(&pipeline_config()).map_err(|e| anyhow::anyhow!("the demo pipeline: {e}"))?;
    pipeline.id = crate::auth::token::new_id();
    store.save_pipeline(&pipeline, None, "gennaker").await?;
    clouds.refresh_all().await;
    tracing::info!(url = %format!("http://127.0.0.1:{port}/"), "demo-web is serving");
    Ok(())
}
