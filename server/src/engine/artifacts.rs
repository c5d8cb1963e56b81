//! Binding a pipeline's `expectedArtifacts` when a run starts (Orca's `ArtifactResolver`):
//! each expected artifact takes the one trigger artifact its `matchArtifact` matches, else (if
//! allowed) the artifact the pipeline's previous run bound to it, else (if allowed) its
//! `defaultArtifact`; one that none of these gives stops the run before it starts, naming it.
//! Matching is Orca's: every field the match artifact sets (`type`, `name`, `version`,
//! `location`, `reference`) is a regular expression the candidate's field must match whole.
//!
//! Also what each trigger kind brings as artifacts (`trigger_artifacts`).

use app::model::artifact::{Artifact, BoundFrom, ExpectedArtifact};
use serde_json::{Map, Value, json};

/// Whether `pattern` (a regular expression, anchored at both ends) matches all of `text`;
/// an empty pattern matches anything. A pattern that does not compile matches only itself.
fn field_matches(pattern: &str, text: &str) -> bool {
    if pattern.is_empty() {
        return true;
    }
    match regex::Regex::new(&format!("^(?:{pattern})$")) {
        Ok(regex) => regex.is_match(text),
        Err(_) => pattern == text,
    }
}

/// Whether `candidate` is what `pattern` (a match artifact) describes.
pub fn matches(pattern: &Artifact, candidate: &Artifact) -> bool {
    field_matches(&pattern.kind, &candidate.kind)
        && field_matches(&pattern.name, &candidate.name)
        && field_matches(&pattern.version, &candidate.version)
        && field_matches(&pattern.location, &candidate.location)
        && field_matches(&pattern.reference, &candidate.reference)
}

/// Binds every expected artifact (see the module doc). `prior` are the expected artifacts the
/// pipeline's previous run bound (with `boundArtifact`). The error names each expected
/// artifact that could not be bound, and why.
pub fn bind(expected: &[ExpectedArtifact], available: &[Artifact], prior: &[ExpectedArtifact]) -> Result<Vec<(ExpectedArtifact, BoundFrom)>, String> {
    let mut bound = Vec::new();
    let mut problems = Vec::new();
    for wanted in expected {
        let found: Vec<&Artifact> = available.iter().filter(|artifact| matches(&wanted.match_artifact, artifact)).collect();
        let choice = match found.as_slice() {
            [one] => Some(((*one).clone(), BoundFrom::Trigger)),
            [] => {
                let from_prior = prior
                    .iter()
                    .filter(|_| wanted.use_prior_artifact)
                    .find(|earlier| earlier.id == wanted.id)
                    .and_then(|earlier| earlier.bound_artifact.clone())
                    .map(|artifact| (artifact, BoundFrom::PriorExecution));
                from_prior.or_else(|| wanted.default_artifact.clone().filter(|_| wanted.use_default_artifact).map(|artifact| (artifact, BoundFrom::Default)))
            }
            several => {
                problems.push(format!("expected artifact {} matches {} of the trigger's artifacts; make its match narrower", wanted.label(), several.len()));
                continue;
            }
        };
        match choice {
            Some((artifact, from)) => {
                let mut resolved = wanted.clone();
                resolved.bound_artifact = Some(artifact);
                bound.push((resolved, from));
            }
            None => problems.push(format!("expected artifact {} was not supplied by the trigger and has no prior or default artifact to use", wanted.label())),
        }
    }
    if problems.is_empty() { Ok(bound) } else { Err(problems.join("; ")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::artifact::{Artifact, BoundFrom, ExpectedArtifact};
    use serde_json::json;

    fn artifact(value: Value) -> Artifact {
        serde_json::from_value(value).unwrap()
    }

    fn expected(value: Value) -> ExpectedArtifact {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn binding_takes_the_match_then_the_prior_then_the_default() {
        let image = expected(json!({"id": "img", "matchArtifact": {"type": "docker/image", "name": "registry.example/shop"},
            "useDefaultArtifact": true, "defaultArtifact": {"type": "docker/image", "name": "registry.example/shop", "reference": "registry.example/shop:stable"}}));
        let pushed = artifact(json!({"type": "docker/image", "name": "registry.example/shop", "version": "v7", "reference": "registry.example/shop:v7"}));
        let other = artifact(json!({"type": "docker/image", "name": "registry.example/cart", "version": "v1"}));
        let bound = bind(std::slice::from_ref(&image), &[other.clone(), pushed.clone()], &[]).unwrap();
        assert_eq!(bound[0].0.bound_artifact.as_ref(), Some(&pushed));
        assert_eq!(bound[0].1, BoundFrom::Trigger);

        let bound = bind(std::slice::from_ref(&image), std::slice::from_ref(&other), &[]).unwrap();
        assert_eq!(bound[0].0.bound_artifact.as_ref().unwrap().reference, "registry.example/shop:stable");
        assert_eq!(bound[0].1, BoundFrom::Default);

        let mut prior_allowed = image.clone();
        prior_allowed.use_prior_artifact = true;
        let mut earlier = prior_allowed.clone();
        earlier.bound_artifact = Some(pushed.clone());
        let bound = bind(std::slice::from_ref(&prior_allowed), &[], &[earlier]).unwrap();
        assert_eq!(bound[0].0.bound_artifact.as_ref(), Some(&pushed), "the prior run's wins over the default");
        assert_eq!(bound[0].1, BoundFrom::PriorExecution);
    }

    #[test]
    fn an_unbindable_or_ambiguous_artifact_is_named() {
        let commit = expected(json!({"id": "src", "displayName": "Source", "matchArtifact": {"type": "git/repo", "name": ".*/shop.git"}}));
        let missing = bind(std::slice::from_ref(&commit), &[], &[]).unwrap_err();
        assert!(missing.contains("Source (src)") && missing.contains("not supplied"), "{missing}");
        let two = [
            artifact(json!({"type": "git/repo", "name": "https://git.example/a/shop.git", "version": "1"})),
            artifact(json!({"type": "git/repo", "name": "https://git.example/b/shop.git", "version": "2"})),
        ];
        assert!(bind(&[commit], &two, &[]).unwrap_err().contains("matches 2"));
    }

    #[test]
    fn match_fields_are_whole_regular_expressions() {
        let pattern = artifact(json!({"type": "docker/image", "name": "gcr.io/.*/app", "version": "v\\d+"}));
        assert!(matches(&pattern, &artifact(json!({"type": "docker/image", "name": "gcr.io/p/app", "version": "v12"}))));
        assert!(!matches(&pattern, &artifact(json!({"type": "docker/image", "name": "gcr.io/p/app-old", "version": "v12"}))));
        assert!(!matches(&pattern, &artifact(json!({"type": "docker/image", "name": "gcr.io/p/app", "version": "latest"}))));
        assert!(matches(&artifact(json!({})), &artifact(json!({"type": "http/file"}))), "an empty match takes anything");
    }
}

/// The artifacts a trigger brings, from what its firing recorded: a Docker push is a
/// `docker/image` (name `registry/repository`, version the tag, reference `name:tag`, the
/// digest in metadata); a git push a `git/repo` (name and reference the repository's URL,
/// version the commit, the branch in metadata); and any trigger's own `artifacts` list (a
/// webhook payload's, a manual start's) as given.
pub fn trigger_artifacts(kind: &str, extra: &std::collections::BTreeMap<String, Value>) -> Vec<Artifact> {
    let text = |key: &str| extra.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let mut found = Vec::new();
    match kind {
        "docker" => {
            let registry = text("registry");
            let registry = registry.split_once("://").map_or(registry.as_str(), |(_, rest)| rest).trim_end_matches('/');
            let name = format!("{registry}/{}", text("repository"));
            let mut metadata = Map::new();
            metadata.insert("digest".into(), json!(text("digest")));
            found.push(Artifact { kind: "docker/image".into(), reference: format!("{name}:{}", text("tag")), name, version: text("tag"), metadata, ..Default::default() });
        }
        "git" => {
            let payload = extra.get("payload").cloned().unwrap_or(Value::Null);
            let url = [
                payload.pointer("/repository/clone_url"),
                payload.pointer("/project/git_http_url"),
                payload.pointer("/repository/links/html/href"),
            ]
            .into_iter()
            .flatten()
            .find_map(Value::as_str)
            .map_or_else(|| format!("{}/{}", text("project"), text("slug")), str::to_string);
            let mut metadata = Map::new();
            metadata.insert("branch".into(), json!(text("branch")));
            found.push(Artifact { kind: "git/repo".into(), name: url.clone(), reference: url, version: text("hash"), metadata, ..Default::default() });
        }
        _ => {}
    }
    let listed = [extra.get("artifacts"), extra.get("payload").and_then(|payload| payload.get("artifacts"))];
    for list in listed.into_iter().flatten().filter_map(Value::as_array) {
        found.extend(list.iter().filter_map(|item| app::model::lenient::from_value::<Artifact>(item).ok()));
    }
    found.dedup();
    found
}

#[cfg(test)]
mod trigger_tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::trigger_artifacts;

    #[test]
    fn docker_and_git_pushes_bring_their_artifacts() {
        let docker = BTreeMap::from([
            ("registry".to_string(), json!("http://127.0.0.1:5000")),
            ("repository".to_string(), json!("shop/web")),
            ("tag".to_string(), json!("v3")),
            ("digest".to_string(), json!("sha256:abc")),
        ]);
        let image = &trigger_artifacts("docker", &docker)[0];
        assert_eq!((image.kind.as_str(), image.name.as_str(), image.version.as_str()), ("docker/image", "127.0.0.1:5000/shop/web", "v3"));
        assert_eq!(image.reference, "127.0.0.1:5000/shop/web:v3");
        assert_eq!(image.metadata["digest"], "sha256:abc");

        let git = BTreeMap::from([
            ("project".to_string(), json!("acme")),
            ("slug".to_string(), json!("shop")),
            ("branch".to_string(), json!("main")),
            ("hash".to_string(), json!("0123abc")),
            ("payload".to_string(), json!({"repository": {"clone_url": "https://git.example/acme/shop.git"},
                "artifacts": [{"type": "http/file", "name": "notes.txt", "reference": "https://files.example/notes.txt"}]})),
        ]);
        let found = trigger_artifacts("git", &git);
        assert_eq!(found[0].kind, "git/repo");
        assert_eq!((found[0].name.as_str(), found[0].version.as_str()), ("https://git.example/acme/shop.git", "0123abc"));
        assert_eq!(found[1].name, "notes.txt", "a payload's own artifacts come too");
    }
}
