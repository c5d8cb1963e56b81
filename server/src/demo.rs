//! The demo a newcomer sees on a first start (`serve --demo`, what the README's run command
//! passes): application `demo` with load balancer `demo-web` on 127.0.0.1:`--demo-port`, server
//! group `demo-web-v000` running two instances of `gennaker demo-app --version v1`, and the
//! pipeline `Deploy demo` that deploys a version (parameter `version`, default v2) red/black;
//! and the automated canary: canary configuration `demo-errors` (the error ratio, read from
//! the Prometheus metrics account `prometheus` the run command starts) and the pipeline
//! `Canary demo`, which releases a version (parameters `version`, `failPercent`) with the
//! canary strategy: 20% then 50% of the traffic, each judged, then promoted or rolled back.
//! Created only when the database has no application yet, so it never comes back after a user
//! deleted it and never touches a database in use.

pub mod load;

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
pub const CANARY_PIPELINE: &str = "Canary demo";
pub const CANARY_CONFIG: &str = "demo-errors";

/// The demo's canary configuration: the share of requests a server group fails (500s), which
/// must not rise; critical, so a failing canary scores 0.
pub fn canary_config() -> serde_json::Value {
    json!({
        "id": CANARY_CONFIG, "name": CANARY_CONFIG, "applications": [APPLICATION],
        "description": "The demo app's error ratio, from its own /metrics as Prometheus scrapes it",
        "metrics": [{
            "name": "error ratio", "groups": ["Errors"], "scopeName": "default",
            "query": {"type": "prometheus", "customInlineTemplate":
                "PromQL: (sum(rate(demo_requests_total{serverGroup=\"${scope}\",code=\"500\"}[10s])) or vector(0)) / sum(rate(demo_requests_total{serverGroup=\"${scope}\"}[10s]))"},
            "analysisConfigurations": {"canary": {"direction": "increase", "critical": true}}
        }],
        "classifier": {"groupWeights": {"Errors": 100}}
    })
}

/// The canary demo: the `demo-web` cluster released with the automated canary strategy.
pub fn canary_pipeline_config() -> serde_json::Value {
    json!({
        "application": APPLICATION,
        "name": CANARY_PIPELINE,
        "parameterConfig": [
            {"name": "version", "label": "Version", "default": "v3", "required": true, "description": "The version the demo app reports"},
            {"name": "failPercent", "label": "Fail percent", "default": "0", "required": true,
             "description": "The share of requests the new version fails: 20 makes a bad canary that is rolled back"}
        ],
        "stages": [{
            "refId": "1", "type": "deploy", "name": "Canary release",
            "clusters": [{
                "cloudProvider": "local", "account": "local", "region": "local",
                "application": APPLICATION, "stack": "web", "freeFormDetails": "",
                "capacity": {"min": 2, "max": 2, "desired": 2},
                "artifact": {"command": ["demo-app", "--version", "${parameters.version}", "--fail-percent", "${parameters.failPercent}"], "version": "${parameters.version}"},
                "loadBalancers": ["demo-web"], "securityGroups": [],
                "strategy": "canary", "canaryCapacity": 1, "maxRemainingAsgs": 2,
                "canaryAnalysis": {
                    "steps": [{"setWeight": 20}, {"analysis": {}}, {"setWeight": 50}, {"analysis": {}}],
                    "analysis": {"canaryConfigId": CANARY_CONFIG, "metricsAccountName": "prometheus",
                        "beginCanaryAnalysisAfterMins": "15s", "lifetimeDuration": "PT30S", "canaryAnalysisIntervalMins": "15s",
                        "scoreThresholds": {"pass": "75", "marginal": "50"}, "scopes": [{"step": "2"}]}
                },
                "waitForHealthyTimeoutSec": 120
            }]
        }]
    })
}

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
    for config in [pipeline_config(), canary_pipeline_config()] {
        let mut pipeline = parse_pipeline(&config).map_err(|e| anyhow::anyhow!("the demo pipeline: {e}"))?;
        pipeline.id = crate::auth::token::new_id();
        store.save_pipeline(&pipeline, None, "gennaker").await?;
    }
    let canary: app::model::canary::CanaryConfig = serde_json::from_value(canary_config())?;
    store.save_canary_config(&canary, "gennaker").await?;
    clouds.refresh_all().await;
    tracing::info!(url = %format!("http://127.0.0.1:{port}/"), "demo-web is serving");
    Ok(())
}
