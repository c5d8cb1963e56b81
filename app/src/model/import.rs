//! A Spinnaker export brought into gennaker in one call (`POST /api/v1/import`,
//! `gennaker import`): applications as Front50 stores them and pipeline documents as
//! `spin pipeline list` prints them, and what became of each.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What to import. Applications named by pipelines but not listed are created too.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportBundle {
    /// Front50 application objects (`name`, `email`, `description`, `permissions`).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Object>))]
    pub applications: Vec<Value>,
    /// Pipeline documents, each naming its `application`.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Object>))]
    pub pipelines: Vec<Value>,
}

/// What became of one application or pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// An application that did not exist.
    Created,
    /// An application that existed already (left as it is).
    Exists,
    /// A pipeline saved (new, or a new revision), all of it runnable.
    Imported,
    /// A pipeline saved, with stages (triggers, notifications) it cannot run: see `warnings`.
    ImportedWithWarnings,
    /// A pipeline identical to the one stored: nothing saved.
    Unchanged,
    /// Not saved: see `reason`.
    Refused,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ImportedApplication {
    pub name: String,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ImportedPipeline {
    pub application: String,
    pub name: String,
    /// The saved pipeline's id (none when refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub applications: Vec<ImportedApplication>,
    pub pipelines: Vec<ImportedPipeline>,
}
