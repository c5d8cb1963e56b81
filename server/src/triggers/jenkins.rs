//! Jenkins triggers: the instance holding the `jenkins` poll lease reads each watched job's
//! builds from Jenkins' JSON API (`<master>/job/<job>/api/json?tree=builds[...]`) and starts
//! one run per new successful build, with `trigger.buildInfo` (number, result, url, timestamp,
//! job) and, with `propertyFile`, `trigger.properties` read from that build artifact
//! (`KEY=VALUE` lines, as Spinnaker reads it). The highest build number handled is stored, so
//! a restart neither misses nor repeats a build; the first look only takes note; each run's id
//! derives from master, job and build number.
//!
//! `master` is a URL, or the name of one given with `--jenkins-master name=url`. Jobs in
//! folders are written `folder/job/name`, as in Jenkins URLs. Masters that need credentials
//! are not supported yet.

use crate::outbound::Outbound;
use std::collections::BTreeMap;

use app::model::trigger::{JenkinsTrigger, TriggerKind};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::launch::{Firing, launch};
pub use crate::engine::stages::jenkins::{master_url, parse_properties};
use crate::engine::launcher::Launcher;

const LEASE_MS: i64 = 60_000;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Seen {
    last_build: u64,
}

#[derive(Debug, Deserialize)]
struct Job {
    #[serde(default)]
    builds: Vec<Build>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct Build {
    number: u64,
    #[serde(default)]
    result: Option<String>,
    #[serde(default)]
    building: bool,
    #[serde(default)]
    url: String,
    #[serde(default)]
    timestamp: i64,
}

fn key(pipeline_id: &str, trigger: &JenkinsTrigger) -> String {
    format!("jenkins:{pipeline_id}:{}", super::short_digest(&format!("{}|{}", trigger.master, trigger.job), 8))
}

async fn builds(http: &Outbound, base: &str, job: &str) -> Result<Vec<Build>, String> {
    let path = job.split('/').filter(|p| !p.is_empty() && *p != "job").collect::<Vec<_>>().join("/job/");
    let url = format!("{base}/job/{path}/api/json?tree=builds[number,result,building,url,timestamp]");
    let response = http.get(&url).map_err(|error| error.to_string())?.send().await.map_err(|error| format!("cannot reach {base}: {error}"))?;
    if !response.status().is_success() {
        return Err(format!("{base} answered {} for job {job}", response.status()));
    }
    let job: Job = http.json(response).await.map_err(|error| format!("{base}: unreadable job JSON: {error}"))?;
    Ok(job.builds)
}

async fn properties(http: &Outbound, build: &Build, file: &str) -> Result<BTreeMap<String, String>, String> {
    let url = format!("{}/artifact/{file}", build.url.trim_end_matches('/'));
    let response = http.get(&url).map_err(|error| error.to_string())?.send().await.map_err(|error| format!("cannot read {url}: {error}"))?;
    if !response.status().is_success() {
        return Err(format!("the property file {file} of build {}: {}", build.number, response.status()));
    }
    Ok(parse_properties(&http.text(response).await.map_err(|error| error.to_string())?))
}

/// One look at every Jenkins trigger; returns how many runs it started.
pub async fn poll(launcher: &Launcher, http: &Outbound, masters: &BTreeMap<String, String>, owner: &str, now: i64) -> Result<usize, crate::store::Error> {
    let store = launcher.store();
    if !store.take_poll_lease("jenkins", owner, now, LEASE_MS).await? {
        return Ok(0);
    }
    let mut started = 0;
    for (pipeline, triggers) in super::triggered_pipelines(store, "jenkins").await? {
        for trigger in &triggers {
            let TriggerKind::Jenkins(jenkins) = &trigger.kind else { continue };
            let found = match master_url(&jenkins.master, masters) {
                Ok(base) => builds(http, &base, &jenkins.job).await,
                Err(error) => Err(error),
            };
            let mut finished: Vec<Build> = match found {
                Ok(builds) => builds.into_iter().filter(|b| !b.building && b.result.is_some()).collect(),
                Err(error) => {
                    tracing::warn!(%error, pipeline = %pipeline.name, "a Jenkins trigger could not read its job");
                    continue;
                }
            };
            finished.sort_by_key(|b| b.number);
            let key = key(&pipeline.id, jenkins);
            let seen: Option<Seen> = store.trigger_state(&key).await?.and_then(|text| serde_json::from_str(&text).ok());
            let highest = finished.last().map_or(0, |b| b.number);
            if let Some(seen) = &seen {
                for build in finished.iter().filter(|b| b.number > seen.last_build && b.result.as_deref() == Some("SUCCESS")) {
                    let mut extra = BTreeMap::from([
                        ("master".to_string(), json!(jenkins.master)),
                        ("job".to_string(), json!(jenkins.job)),
                        ("buildNumber".to_string(), json!(build.number)),
                        ("buildInfo".to_string(), json!({"number": build.number, "result": build.result, "url": build.url,
                            "timestamp": build.timestamp, "name": jenkins.job, "building": false})),
                    ]);
                    if let Some(file) = &jenkins.property_file {
                        match properties(http, build, file).await {
                            Ok(properties) => {
                                extra.insert("properties".into(), json!(properties));
                            }
                            Err(error) => {
                                tracing::warn!(%error, pipeline = %pipeline.name, "a Jenkins build's property file could not be read");
                                extra.insert("propertiesError".into(), json!(error));
                            }
                        }
                    }
                    let identity = super::short_digest(&format!("{}|{}", jenkins.master, jenkins.job), 6);
                    let firing = Firing {
                        kind: "jenkins",
                        run_as_user: trigger.run_as_user.clone(),
                        parameters: BTreeMap::new(),
                        extra,
                        id: Some(format!("{}-jenkins-{identity}-{}", pipeline.id, build.number)),
                    };
                    match launch(launcher, &pipeline, firing).await {
                        Ok(Some(execution)) => {
                            started += 1;
                            tracing::info!(pipeline = %pipeline.name, execution = %execution.id, build = build.number, "Jenkins trigger fired");
                        }
                        Ok(None) => {}
                        Err(error) => tracing::warn!(%error, pipeline = %pipeline.name, "a Jenkins trigger could not start its run"),
                    }
                }
            }
            let last_build = highest.max(seen.map_or(0, |s| s.last_build));
            store.put_trigger_state(&key, &serde_json::to_string(&Seen { last_build }).expect("states serialize")).await?;
        }
    }
    Ok(started)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_files_and_masters() {
        let properties = parse_properties("# built by CI\nVERSION=1.2.3\nCOMMIT: abc\n\n!skip\n");
        assert_eq!(properties["VERSION"], "1.2.3");
        assert_eq!(properties["COMMIT"], "abc");
        assert_eq!(properties.len(), 2);
        let masters = BTreeMap::from([("ci".to_string(), "http://jenkins.internal:8080/".to_string())]);
        assert_eq!(master_url("ci", &masters).unwrap(), "http://jenkins.internal:8080");
        assert_eq!(master_url("http://127.0.0.1:9/", &masters).unwrap(), "http://127.0.0.1:9");
        assert!(master_url("other", &masters).is_err());
    }
}
