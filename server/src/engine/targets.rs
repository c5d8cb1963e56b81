//! What cloud stages act on, in Orca's field names so Spinnaker pipelines paste in unchanged: a
//! server group by name or a cluster and a `target` in it, a cluster, an artifact to run, the
//! rollback option. `account` also reads Spinnaker's `credentials`. Each stage type's own
//! configuration is in its file under `stages/`; these are the pieces several share.

use app::model::cluster::{Artifact, Location};
use app::model::pipeline::Extra;
use serde::{Deserialize, Serialize};

/// Serde's default for `cloudProvider`, `account` and `region`: the local cloud.
pub fn local() -> String {
    "local".to_string()
}

pub fn one() -> u32 {
    1
}

pub fn yes() -> bool {
    true
}

/// The application a server group, cluster, load balancer or security group belongs to by
/// Spinnaker's naming convention: the name's part before its first `-`. A name holding an
/// expression is returned whole (it is checked once evaluated).
pub fn application_of(name: &str) -> String {
    if name.contains("${") {
        return name.to_string();
    }
    name.split('-').next().unwrap_or(name).to_ascii_lowercase()
}

/// Which server group of a cluster a stage acts on, Spinnaker's `target` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetSelector {
    /// The newest server group.
    #[serde(alias = "current_asg")]
    CurrentAsgDynamic,
    /// The one before the newest.
    #[serde(alias = "ancestor_asg")]
    AncestorAsgDynamic,
    OldestAsgDynamic,
    /// The one with the most desired instances (the newest of equals).
    LargestAsgDynamic,
}

/// Where a stage acts: a cloud location and either a server group by name or a cluster and a
/// `target` in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerGroupTarget {
    #[serde(default = "crate::engine::targets::local")]
    pub cloud_provider: String,
    #[serde(default = "crate::engine::targets::local", alias = "credentials")]
    pub account: String,
    #[serde(default = "crate::engine::targets::local")]
    pub region: String,
    /// An explicit server group (`asgName` in older Spinnaker pipelines).
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "asgName")]
    pub server_group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetSelector>,
}

impl ServerGroupTarget {
    /// The applications whose resources this names (see [`application_of`]).
    pub fn applications(&self) -> Vec<String> {
        self.server_group_name.iter().chain(self.cluster.iter()).map(|name| application_of(name)).collect()
    }
}

/// Where a cluster-wide stage acts: `region`, or Spinnaker's `regions` naming one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "ClusterTargetFields")]
pub struct ClusterTarget {
    pub cloud_provider: String,
    pub account: String,
    pub region: String,
    pub cluster: String,
}

/// `ClusterTarget` as written, before `regions` is checked.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClusterTargetFields {
    #[serde(default = "crate::engine::targets::local")]
    cloud_provider: String,
    #[serde(default = "crate::engine::targets::local", alias = "credentials")]
    account: String,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    regions: Vec<String>,
    cluster: String,
}

impl TryFrom<ClusterTargetFields> for ClusterTarget {
    type Error = String;

    fn try_from(fields: ClusterTargetFields) -> Result<Self, String> {
        let region = match (fields.region, fields.regions.as_slice()) {
            (Some(region), _) => region,
            (None, []) => local(),
            (None, [one]) => one.clone(),
            (None, more) => return Err(format!("regions: a cluster-wide stage acts in one region here, not {}; add one stage per region", more.join(", "))),
        };
        Ok(Self { cloud_provider: fields.cloud_provider, account: fields.account, region, cluster: fields.cluster })
    }
}

impl ClusterTarget {
    /// The application whose cluster this is (see [`application_of`]).
    pub fn applications(&self) -> Vec<String> {
        vec![application_of(&self.cluster)]
    }
}

/// What a deploy runs: a command line on the local cloud (`demo-app ...` is the built-in demo),
/// a source to build (`type: git/repo`, `reference` the repository, `version` the commit, with
/// `buildCommand` and `runCommand`), a Docker image or a machine image. Untyped, as users write
/// it; the `type` tag is optional except for a source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// A source's build, run once per commit in the checkout (none: run as checked out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub build_command: Vec<String>,
    /// What each instance of a source runs, in the checkout.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub run_command: Vec<String>,
}

/// A source to build and run: the repository and commit of a `git/repo` artifact (or a
/// folder's path), and the commands.
pub fn source_artifact(repository: &str, commit: &str, build: &[String], run: &[String]) -> Result<Artifact, String> {
    if repository.trim().is_empty() {
        return Err("a source artifact needs the repository (reference)".to_string());
    }
    if run.is_empty() {
        return Err("a source artifact needs runCommand: what each instance runs".to_string());
    }
    let commit = if commit.trim().is_empty() { "HEAD" } else { commit.trim() };
    Ok(Artifact::Source { repository: repository.trim().to_string(), commit: commit.to_string(), build: build.to_vec(), run: run.to_vec() })
}

impl ArtifactSpec {
    pub fn to_artifact(&self) -> Result<Artifact, String> {
        if self.kind.as_deref() == Some("git/repo") {
            let repository = self.reference.as_deref().unwrap_or_default();
            return source_artifact(repository, &self.version, &self.build_command, &self.run_command);
        }
        if !self.command.is_empty() {
            let version = if self.version.is_empty() { "unversioned".to_string() } else { self.version.clone() };
            return Ok(Artifact::Command { command: self.command.clone(), version });
        }
        if let Some(reference) = &self.reference {
            return Ok(Artifact::DockerImage { reference: reference.clone() });
        }
        if let Some(image_id) = &self.image_id {
            return Ok(Artifact::MachineImage { image_id: image_id.clone() });
        }
        Err("artifact needs a command, a Docker image reference or an imageId".to_string())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackOptions {
    /// On a failed deploy, destroy the new server group and keep the previous one serving.
    #[serde(default)]
    pub on_failure: bool,
}

/// Enable, disable and destroy take only a target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerGroupStage {
    #[serde(flatten)]
    pub target: ServerGroupTarget,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Where a stage acting on named infrastructure acts: an account and its regions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Regions {
    #[serde(default = "crate::engine::targets::local")]
    pub cloud_provider: String,
    #[serde(default = "crate::engine::targets::local", alias = "account")]
    pub credentials: String,
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub region: Option<String>,
}

impl Regions {
    pub fn locations(&self) -> Vec<Location> {
        let regions: Vec<String> = if self.regions.is_empty() { vec![self.region.clone().unwrap_or_else(crate::engine::targets::local)] } else { self.regions.clone() };
        regions.into_iter().map(|region| Location { cloud_provider: self.cloud_provider.clone(), account: self.credentials.clone(), region }).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::ClusterTarget;

    #[test]
    fn a_cluster_target_takes_spinnakers_regions_of_one() {
        let target: ClusterTarget = serde_json::from_value(serde_json::json!({"cloudProvider": "aws", "credentials": "prod", "regions": ["eu-west-1"], "cluster": "shop-web"})).unwrap();
        assert_eq!((target.account.as_str(), target.region.as_str()), ("prod", "eu-west-1"));
        let local: ClusterTarget = serde_json::from_value(serde_json::json!({"cluster": "shop-web"})).unwrap();
        assert_eq!(local.region, "local");
        let two = serde_json::from_value::<ClusterTarget>(serde_json::json!({"regions": ["a", "b"], "cluster": "shop-web"})).unwrap_err();
        assert!(two.to_string().contains("one stage per region"), "{two}");
    }
}
