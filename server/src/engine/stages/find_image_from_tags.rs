//! `findImageFromTags`: finds the newest machine image (AMI) of a package in each region, as
//! Spinnaker's stage does for AWS: images whose name starts with `packageName` and which carry
//! every one of `tags`. Outputs as Orca's: `amiDetails` and `deploymentDetails` (one per
//! region: `imageId`, `ami`, `imageName`, `amiName`, `region`), and `artifacts` (`aws/image`);
//! a later AWS deploy cluster without an image deploys the one found for its region.
//! Spinnaker searches every AWS account; gennaker searches the account the stage names
//! (`credentials`), so the permission to read it is checked like any account's (a stage
//! without one is kept and refused when started, saying so).

use std::collections::BTreeMap;

use app::model::artifact::Artifact;
use app::model::pipeline::Extra;
use app::model::stage_types::{Field, Input, StageTypeInfo};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{StageType, Step, Task, config_or_fail, failed, succeeded};
use crate::engine::stage_forms as F;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FindImageFromTagsStage {
    #[serde(default, alias = "account")]
    pub credentials: String,
    #[serde(default)]
    pub package_name: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

pub struct FindImageFromTags;

/// One image found, as Orca's `amiDetails` entries are written.
fn details(region: &str, image_id: &str, name: &str) -> Value {
    json!({"region": region, "imageId": image_id, "ami": image_id, "imageName": name, "amiName": name, "cloudProvider": "aws"})
}

#[async_trait]
impl StageType for FindImageFromTags {
    fn type_name(&self) -> &'static str {
        "findImageFromTags"
    }

    fn describe(&self, _application: &str) -> StageTypeInfo {
        F::info(
            "findImageFromTags",
            "Find Image from Tags",
            "Finds the newest AWS machine image of a package carrying the tags given, in each region; a later AWS deploy without an image deploys it.",
            vec![
                Field::new("credentials", "Account", Input::Text, "The AWS account whose images are searched."),
                Field::new("packageName", "Package", Input::Text, "Image names start with this, e.g. shop-web."),
                Field::new("tags", "Tags", Input::Pairs, "NAME=VALUE per line: the image carries each."),
                Field::new("regions", "Regions", Input::Lines, "One per line, e.g. us-east-1."),
            ],
            json!({"cloudProvider": "aws", "credentials": "", "packageName": "", "tags": {}, "regions": []}),
        )
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["findImageFromTags"]
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        super::parse::<FindImageFromTagsStage>(config).map(drop)
    }

    fn accounts_read(&self, config: &Value) -> Vec<String> {
        super::parse::<FindImageFromTagsStage>(config).ok().filter(|stage| !stage.credentials.is_empty()).map(|stage| vec![stage.credentials]).unwrap_or_default()
    }

    fn cannot_run(&self, config: &Value) -> Option<String> {
        let provider = config.get("cloudProvider").or_else(|| config.get("cloudProviderType")).and_then(Value::as_str).unwrap_or("aws");
        if provider != "aws" && !super::has_expression(provider) {
            return Some(format!("it finds images of cloud provider {provider:?}; gennaker finds AWS images"));
        }
        let stage: FindImageFromTagsStage = super::parse(config).ok()?;
        if stage.credentials.is_empty() {
            return Some("it names no AWS account to search (credentials); Spinnaker searches every account, gennaker the one named, whose READ permission is checked".into());
        }
        if stage.package_name.is_empty() {
            return Some("it names no packageName".into());
        }
        stage.regions.is_empty().then(|| "it names no regions".into())
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: FindImageFromTagsStage = config_or_fail!(task.stage);
        let outcome = async {
            let aws = task.effects.clouds.aws().ok_or("this gennaker runs no AWS accounts")?;
            let mut found = Vec::new();
            let mut artifacts = Vec::new();
            for region in &config.regions {
                let clients = aws.clients(&config.credentials, region).await.map_err(|e| e.to_string())?;
                let mut request = clients.ec2.describe_images().filters(aws_sdk_ec2::types::Filter::builder().name("name").values(format!("{}*", config.package_name)).build());
                for (key, value) in &config.tags {
                    request = request.filters(aws_sdk_ec2::types::Filter::builder().name(format!("tag:{key}")).values(value).build());
                }
                let images = request.send().await.map_err(|e| format!("AWS DescribeImages in {region}: {e}"))?;
                let newest = images.images().iter().filter(|image| image.image_id().is_some()).max_by_key(|image| image.creation_date().unwrap_or_default().to_string());
                let Some(image) = newest else {
                    let tags: Vec<String> = config.tags.iter().map(|(key, value)| format!("{key}={value}")).collect();
                    return Err(format!("no image named {}* with tags [{}] in {region} of {}", config.package_name, tags.join(", "), config.credentials));
                };
                let (id, name) = (image.image_id().unwrap_or_default(), image.name().unwrap_or_default());
                found.push(details(region, id, name));
                artifacts.push(Artifact { kind: "aws/image".into(), name: name.to_string(), reference: id.to_string(), location: region.clone(), ..Default::default() });
            }
            Ok::<_, String>(BTreeMap::from([
                ("amiDetails".to_string(), json!(found)),
                ("deploymentDetails".to_string(), json!(found)),
                ("artifacts".to_string(), json!(artifacts)),
            ]))
        };
        match outcome.await {
            Ok(outputs) => succeeded(outputs),
            Err(error) => failed(error),
        }
    }
}

/// The image a finished `findImageFromTags` (or any stage setting `deploymentDetails`) found
/// for `region`, newest stage first.
pub fn found_for_region(execution: &app::model::execution::Execution, region: &str) -> Option<String> {
    let mut stages: Vec<&app::model::execution::Stage> =
        execution.stages.iter().filter(|stage| stage.status == app::model::execution::Status::Succeeded && stage.outputs.contains_key("deploymentDetails")).collect();
    stages.sort_by_key(|stage| std::cmp::Reverse(stage.end_time));
    stages.iter().flat_map(|stage| stage.outputs["deploymentDetails"].as_array().cloned().unwrap_or_default()).find_map(|found| {
        (found.get("region").and_then(Value::as_str) == Some(region)).then(|| found.get("imageId").or_else(|| found.get("ami")).and_then(Value::as_str).map(str::to_string)).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_it_needs_is_said_by_name() {
        let spinnaker = json!({"cloudProvider": "aws", "cloudProviderType": "aws", "packageName": "orca", "regions": ["us-east-1"], "tags": {"stack": "test"}});
        assert!(FindImageFromTags.validate(&spinnaker).is_ok());
        assert!(FindImageFromTags.cannot_run(&spinnaker).unwrap().contains("credentials"));
        let mut named = spinnaker.clone();
        named["credentials"] = json!("prod");
        assert_eq!(FindImageFromTags.cannot_run(&named), None);
        assert_eq!(FindImageFromTags.accounts_read(&named), vec!["prod".to_string()]);
        named["cloudProvider"] = json!("gce");
        assert!(FindImageFromTags.cannot_run(&named).unwrap().contains("gce"));
    }
}
