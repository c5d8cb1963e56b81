//! Artifacts as Spinnaker models them: what a trigger brings (a Docker image, a git commit,
//! what a webhook's payload lists, what a person chose), and a pipeline's `expectedArtifacts`,
//! which a run binds when it starts (the server's `engine::artifacts`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};


/// The artifact types gennaker reads; others are carried as they are.
pub const TYPES: &[&str] =
    &["docker/image", "git/repo", "embedded/base64", "http/file", "github/file", "gitlab/file", "bitbucket/file", "s3/object", "helm/chart"];

/// One artifact, in Spinnaker's shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reference: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub location: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A pipeline's `expectedArtifacts[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpectedArtifact {
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub display_name: String,
    #[serde(default)]
    pub match_artifact: Artifact,
    #[serde(default)]
    pub use_prior_artifact: bool,
    #[serde(default)]
    pub use_default_artifact: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_artifact: Option<Artifact>,
    /// What the run bound to it (set when a run starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_artifact: Option<Artifact>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ExpectedArtifact {
    /// How a person or a message names it.
    pub fn label(&self) -> String {
        if !self.display_name.is_empty() {
            return format!("{} ({})", self.display_name, self.id);
        }
        let name = if self.match_artifact.name.is_empty() { "any name" } else { &self.match_artifact.name };
        format!("{} {} ({})", self.match_artifact.kind, name, self.id)
    }
}

/// Where a bound artifact came from, for the execution page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BoundFrom {
    Trigger,
    PriorExecution,
    Default,
}
