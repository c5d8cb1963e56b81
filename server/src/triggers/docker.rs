//! Docker registry triggers: the instance holding the `docker` poll lease lists each watched
//! repository's tags over the registry v2 API (`/v2/<repository>/tags/list`) and reads each
//! matching tag's manifest digest (`Docker-Content-Digest`). A tag it has not seen, or a tag
//! whose digest changed, starts one run with `trigger.tag`, `trigger.digest`,
//! `trigger.registry` and `trigger.repository`. What it has seen is stored, so a restart
//! neither misses a push nor repeats one; the first look at a repository only takes note (as
//! Spinnaker does), and each run's id derives from repository, tag and digest, so the same
//! image never starts two runs.
//!
//! Registries are reached over HTTPS unless the address says `http://` or is on localhost or
//! 127.0.0.1 (a local registry). Registries that need credentials are not supported yet.

use crate::outbound::Outbound;
use std::collections::BTreeMap;

use app::model::trigger::{DockerTrigger, TriggerKind};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::launch::{Firing, launch};
use crate::engine::launcher::Launcher;

const LEASE_MS: i64 = 60_000;
/// The manifest types asked for: the digest a registry reports depends on it.
const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Seen {
    /// Tag -> digest.
    tags: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// The registry's base URL.
pub fn base_url(registry: &str) -> String {
    let registry = registry.trim_end_matches('/');
    if registry.starts_with("http://") || registry.starts_with("https://") {
        return registry.to_string();
    }
    let host = registry.split(':').next().unwrap_or_default();
    if host == "localhost" || host == "127.0.0.1" { format!("http://{registry}") } else { format!("https://{registry}") }
}

fn key(pipeline_id: &str, trigger: &DockerTrigger) -> String {
    let identity = format!("{}|{}|{}", trigger.registry, trigger.repository, trigger.tag.as_deref().unwrap_or(""));
    format!("docker:{pipeline_id}:{}", super::short_digest(&identity, 8))
}

/// The repository's matching tags and their digests.
async fn observe(http: &Outbound, trigger: &DockerTrigger) -> Result<BTreeMap<String, String>, String> {
    let base = base_url(&trigger.registry);
    let response = http
        .get(&format!("{base}/v2/{}/tags/list", trigger.repository))
        .map_err(|error| error.to_string())?
        .send()
        .await
        .map_err(|error| format!("cannot reach {base}: {error}"))?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        // Nothing pushed yet.
        return Ok(BTreeMap::new());
    }
    if !response.status().is_success() {
        return Err(format!("{base} answered {} for the tags of {}", response.status(), trigger.repository));
    }
    let list: TagList = http.json(response).await.map_err(|error| format!("{base}: unreadable tag list: {error}"))?;
    let pattern = match &trigger.tag {
        Some(tag) if !tag.is_empty() => Some(regex::Regex::new(&format!("^(?:{tag})$")).map_err(|error| format!("tag {tag:?}: {error}"))?),
        _ => None,
    };
    let mut tags = BTreeMap::new();
    for tag in list.tags.unwrap_or_default().into_iter().filter(|tag| pattern.as_ref().is_none_or(|re| re.is_match(tag))) {
        let manifest = http
            .head(&format!("{base}/v2/{}/manifests/{tag}", trigger.repository))
            .map_err(|error| error.to_string())?
            .header("accept", MANIFEST_TYPES)
            .send()
            .await
            .map_err(|error| format!("cannot reach {base}: {error}"))?;
        let digest = manifest.headers().get("docker-content-digest").and_then(|d| d.to_str().ok()).map(str::to_string);
        match digest {
            Some(digest) if manifest.status().is_success() => {
                tags.insert(tag, digest);
            }
            // Deleted between the two calls, or a registry that does not say: next time.
            _ => {}
        }
    }
    Ok(tags)
}

/// One look at every Docker trigger; returns how many runs it started.
pub async fn poll(launcher: &Launcher, http: &Outbound, owner: &str, now: i64) -> Result<usize, crate::store::Error> {
    let store = launcher.store();
    if !store.take_poll_lease("docker", owner, now, LEASE_MS).await? {
        return Ok(0);
    }
    let mut started = 0;
    for (pipeline, triggers) in super::triggered_pipelines(store, "docker").await? {
        for trigger in &triggers {
            let TriggerKind::Docker(docker) = &trigger.kind else { continue };
            let tags = match observe(http, docker).await {
                Ok(tags) => tags,
                Err(error) => {
                    tracing::warn!(%error, pipeline = %pipeline.name, "a Docker trigger could not read its registry");
                    continue;
                }
            };
            let key = key(&pipeline.id, docker);
            let seen: Option<Seen> = store.trigger_state(&key).await?.and_then(|text| serde_json::from_str(&text).ok());
            if let Some(seen) = &seen {
                for (tag, digest) in tags.iter().filter(|(tag, digest)| seen.tags.get(*tag) != Some(*digest)) {
                    let image = super::short_digest(&format!("{}:{tag}@{digest}", docker.repository), 10);
                    let firing = Firing {
                        kind: "docker",
                        run_as_user: trigger.run_as_user.clone(),
                        parameters: BTreeMap::new(),
                        extra: BTreeMap::from([
                            ("registry".to_string(), json!(docker.registry)),
                            ("repository".to_string(), json!(docker.repository)),
                            ("tag".to_string(), json!(tag)),
                            ("digest".to_string(), json!(digest)),
                        ]),
                        id: Some(format!("{}-docker-{image}", pipeline.id)),
                    };
                    match launch(launcher, &pipeline, firing).await {
                        Ok(Some(execution)) => {
                            started += 1;
                            tracing::info!(pipeline = %pipeline.name, execution = %execution.id, %tag, %digest, "Docker trigger fired");
                        }
                        Ok(None) => {}
                        Err(error) => tracing::warn!(%error, pipeline = %pipeline.name, "a Docker trigger could not start its run"),
                    }
                }
            }
            let state = serde_json::to_string(&Seen { tags }).expect("states serialize");
            store.put_trigger_state(&key, &state).await?;
        }
    }
    Ok(started)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_on_this_machine_are_plain_http() {
        assert_eq!(base_url("127.0.0.1:5000"), "http://127.0.0.1:5000");
        assert_eq!(base_url("localhost:5000/"), "http://localhost:5000");
        assert_eq!(base_url("registry.example.com"), "https://registry.example.com");
        assert_eq!(base_url("http://registry.internal:5000"), "http://registry.internal:5000");
    }
}
