//! Webhook and git push triggers. A call reaches every enabled trigger listening to its source;
//! for each one it must be *authorized*, then *match*:
//! - a trigger with `secretName` accepts a call signed with that secret (an HMAC-SHA256 of the
//!   body in `X-Gennaker-Signature-256` or GitHub's `X-Hub-Signature-256`, `sha256=<hex>`; or
//!   GitLab's `X-Gitlab-Token` equal to the secret), whoever sends it;
//! - a trigger without a secret accepts only signed-in callers with EXECUTE on the application
//!   (so no route starts pipelines for anonymous callers unless a secret says so);
//! - generic webhooks then check `payloadConstraints` (every field's text must match its regex
//!   whole); git triggers check project, slug and the branch regex.
//!
//! The payload's `parameters` object, if any, gives the run's parameters. An anonymous call
//! that no secret verifies is answered 401 and starts nothing.

use std::collections::BTreeMap;

use app::error::AppError;
use app::model::auth::{Access, Caller};
use app::model::pipeline::Pipeline;
use app::model::trigger::{SkippedPipeline, TriggerConfig, TriggerKind, TriggeredRun, WebhookResponse, payload_field};
use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sha2::Sha256;

use super::launch::{Firing, launch};
use crate::engine::launcher::Launcher;
use crate::auth::access::authorize;
use crate::secrets::Secrets;
use crate::store::Store;

/// The signature headers a call may carry (a request with one passes the auth layer unsigned-in;
/// the signature is checked here).
pub const SIGNATURE_HEADERS: &[&str] = &["x-gennaker-signature-256", "x-hub-signature-256", "x-gitlab-token"];

/// What arrived.
pub struct Delivery<'a> {
    pub body: &'a [u8],
    pub headers: &'a HeaderMap,
    pub caller: Option<&'a Caller>,
}

/// A git push, as the providers describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    pub project: String,
    pub slug: String,
    pub branch: String,
    pub hash: String,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Constant-time comparison, so the time taken tells nothing about the secret.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `sha256=<hex>` of the body keyed with `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", crate::auth::token::hex(&mac.finalize().into_bytes()))
}

fn signed_with(delivery: &Delivery, secret: &[u8]) -> bool {
    let expected = signature(secret, delivery.body);
    let by_hmac = ["x-gennaker-signature-256", "x-hub-signature-256"]
        .iter()
        .filter_map(|name| header(delivery.headers, name))
        .any(|given| same(given.trim().as_bytes(), expected.as_bytes()));
    let by_token = header(delivery.headers, "x-gitlab-token").is_some_and(|token| same(token.as_bytes(), secret));
    by_hmac || by_token
}

/// Reads a git provider's push payload; `None` for other events (pings, tags are ignored).
pub fn parse_push(provider: &str, headers: &HeaderMap, payload: &Value) -> Result<Option<Push>, AppError> {
    let text = |path: &str| payload_field(payload, path);
    let branch_of = |reference: String| reference.strip_prefix("refs/heads/").map(str::to_string);
    let push = match provider {
        "github" => {
            if header(headers, "x-github-event").is_some_and(|event| event != "push") {
                return Ok(None);
            }
            let (Some(owner), Some(name), Some(reference)) = (text("repository.owner.login").or(text("repository.owner.name")), text("repository.name"), text("ref")) else {
                return Err(AppError::invalid("payload", "a GitHub push needs repository.owner.login, repository.name and ref"));
            };
            branch_of(reference).map(|branch| Push { project: owner, slug: name, branch, hash: text("after").unwrap_or_default() })
        }
        "gitlab" => {
            if header(headers, "x-gitlab-event").is_some_and(|event| event != "Push Hook") {
                return Ok(None);
            }
            let (Some(namespace), Some(name), Some(reference)) = (text("project.namespace"), text("project.name"), text("ref")) else {
                return Err(AppError::invalid("payload", "a GitLab push needs project.namespace, project.name and ref"));
            };
            branch_of(reference).map(|branch| Push { project: namespace, slug: name, branch, hash: text("checkout_sha").unwrap_or_default() })
        }
        "bitbucket" => {
            let (Some(full_name), Some(branch)) = (text("repository.full_name"), text("push.changes.0.new.name")) else {
                return Err(AppError::invalid("payload", "a Bitbucket push needs repository.full_name and push.changes[0].new.name"));
            };
            let (project, slug) = full_name.split_once('/').map(|(p, s)| (p.to_string(), s.to_string())).unwrap_or((String::new(), full_name));
            Some(Push { project, slug, branch, hash: text("push.changes.0.new.target.hash").unwrap_or_default() })
        }
        other => return Err(AppError::not_found(format!("unknown git provider {other:?}; known: github, gitlab, bitbucket"))),
    };
    Ok(push)
}

/// The whole-text match of a constraint or branch pattern.
fn full_match(pattern: &str, text: &str) -> Result<bool, String> {
    regex::Regex::new(&format!("^(?:{pattern})$")).map(|re| re.is_match(text)).map_err(|e| format!("{pattern:?} is not a valid regex: {e}"))
}

/// Why a trigger does not take this payload, if it does not.
fn mismatch(trigger: &TriggerConfig, payload: &Value, push: Option<&Push>) -> Option<String> {
    match (&trigger.kind, push) {
        (TriggerKind::Webhook(webhook), _) => {
            for (field, pattern) in &webhook.payload_constraints {
                let value = payload_field(payload, field);
                match value.as_deref().map(|text| full_match(pattern, text)) {
                    None => return Some(format!("payloadConstraints: the payload has no field {field}")),
                    Some(Ok(true)) => {}
                    Some(Ok(false)) => return Some(format!("payloadConstraints: {field} is {:?}, which does not match {pattern:?}", value.unwrap_or_default())),
                    Some(Err(error)) => return Some(format!("payloadConstraints: {error}")),
                }
            }
            None
        }
        (TriggerKind::Git(git), Some(push)) => {
            if !git.project.eq_ignore_ascii_case(&push.project) || !git.slug.eq_ignore_ascii_case(&push.slug) {
                return Some(format!("the push is to {}/{}, the trigger watches {}/{}", push.project, push.slug, git.project, git.slug));
            }
            match git.branch.as_deref().map(|pattern| full_match(pattern, &push.branch)) {
                None | Some(Ok(true)) => None,
                Some(Ok(false)) => Some(format!("branch {} does not match {:?}", push.branch, git.branch.as_deref().unwrap_or_default())),
                Some(Err(error)) => Some(format!("branch: {error}")),
            }
        }
        _ => Some("not a trigger of this kind".into()),
    }
}

fn secret_name(trigger: &TriggerConfig) -> Option<&str> {
    match &trigger.kind {
        TriggerKind::Webhook(webhook) => webhook.secret_name.as_deref(),
        TriggerKind::Git(git) => git.secret_name.as_deref(),
        _ => None,
    }
}

/// Handles a call for `source` (`git/<provider>` for git pushes).
pub async fn deliver(launcher: &Launcher, secrets: &Secrets, source: &str, delivery: Delivery<'_>) -> Result<WebhookResponse, AppError> {
    let store = launcher.store();
    let payload: Value = if delivery.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(delivery.body).map_err(|error| AppError::invalid("payload", format!("the body is not JSON: {error}")))?
    };
    let (kind, push) = match source.strip_prefix("git/") {
        Some(provider) => match parse_push(provider, delivery.headers, &payload)? {
            Some(push) => ("git", Some(push)),
            // Not a branch push (a ping, a tag): nothing to start, and that is fine.
            None => return Ok(WebhookResponse::default()),
        },
        None => ("webhook", None),
    };
    let candidates = super::triggered_pipelines(store, kind).await?;
    let mut response = WebhookResponse::default();
    let mut verified_any = false;
    for (pipeline, triggers) in candidates {
        let listening: Vec<&TriggerConfig> = triggers
            .iter()
            .filter(|trigger| match (&trigger.kind, &push) {
                (TriggerKind::Webhook(webhook), None) => webhook.source == source,
                (TriggerKind::Git(git), Some(_)) => Some(git.source.as_str()) == source.strip_prefix("git/"),
                _ => false,
            })
            .collect();
        let mut reasons = Vec::new();
        let mut fired = false;
        // The answer names a pipeline only to whoever may read it, or who signed the call with
        // one of its triggers' secrets: a webhook must not tell strangers what listens.
        let mut visible = match delivery.caller {
            Some(caller) => authorize(store, caller, &pipeline.application, Access::Read).await.is_ok(),
            None => false,
        };
        for trigger in listening {
            let authorized = match secret_name(trigger) {
                Some(name) => match secrets.reveal_for(name, &pipeline.application, &pipeline.id).await {
                    Ok(secret) => signed_with(&delivery, secret.expose_secret().as_bytes()),
                    Err(error) => {
                        reasons.push(error.to_string());
                        continue;
                    }
                },
                None => match delivery.caller {
                    Some(caller) => authorize(store, caller, &pipeline.application, Access::Execute).await.is_ok(),
                    None => false,
                },
            };
            if !authorized {
                reasons.push(if secret_name(trigger).is_some() { "the signature does not match".into() } else { "the caller may not run it".into() });
                continue;
            }
            verified_any |= secret_name(trigger).is_some();
            visible |= secret_name(trigger).is_some();
            if let Some(reason) = mismatch(trigger, &payload, push.as_ref()) {
                reasons.push(reason);
                continue;
            }
            match start(launcher, &pipeline, trigger, kind, &payload, push.as_ref(), source).await {
                Ok(Some(run)) => {
                    if visible {
                        response.triggered.push(run);
                    }
                    fired = true;
                    break;
                }
                Ok(None) => {}
                Err(error) => reasons.push(error.to_string()),
            }
        }
        if visible && !fired && !reasons.is_empty() {
            response.skipped.push(SkippedPipeline { application: pipeline.application.clone(), pipeline: pipeline.name.clone(), reason: reasons.join("; ") });
        }
    }
    if delivery.caller.is_none() && !verified_any {
        return Err(AppError::unauthenticated("the signature matches no trigger's secret; sign the body or send an API token"));
    }
    Ok(response)
}

#[allow(clippy::too_many_arguments)]
async fn start(
    launcher: &Launcher,
    pipeline: &Pipeline,
    trigger: &TriggerConfig,
    kind: &'static str,
    payload: &Value,
    push: Option<&Push>,
    source: &str,
) -> Result<Option<TriggeredRun>, AppError> {
    let parameters: BTreeMap<String, String> = payload
        .get("parameters")
        .and_then(Value::as_object)
        .map(|given| given.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect())
        .unwrap_or_default();
    let mut extra = BTreeMap::from([("payload".to_string(), payload.clone()), ("source".to_string(), json!(source))]);
    if let Some(push) = push {
        extra.insert("source".into(), json!(source.trim_start_matches("git/")));
        extra.insert("project".into(), json!(push.project));
        extra.insert("slug".into(), json!(push.slug));
        extra.insert("branch".into(), json!(push.branch));
        extra.insert("hash".into(), json!(push.hash));
    }
    let firing = Firing { kind, run_as_user: trigger.run_as_user.clone(), parameters, extra, id: None };
    Ok(launch(launcher, pipeline, firing).await?.map(|execution| TriggeredRun {
        application: pipeline.application.clone(),
        pipeline: pipeline.name.clone(),
        execution_id: execution.id,
    }))
}

/// Checks a pipeline's triggers when it is saved: each parses, patterns compile, named secrets
/// exist, and the saver may act as each `runAsUser`. Sets a stable id on cron triggers.
/// A trigger of a type gennaker lacks (`pubsub`, `artifactory`, `helm`, ...) is kept with a
/// warning and never fires; the answer is those warnings.
pub async fn validate(store: &Store, saver: &Caller, pipeline: &mut Pipeline) -> Result<Vec<String>, AppError> {
    let mut warnings = Vec::new();
    for (index, raw) in pipeline.triggers.iter_mut().enumerate() {
        let field = format!("triggers[{index}]");
        let kind = raw.get("type").and_then(Value::as_str).unwrap_or_default();
        if !app::model::trigger::TRIGGER_TYPES.contains(&kind) {
            warnings.push(format!(
                "{field}: triggers of type {kind:?} are kept but never fire (gennaker's: {})",
                app::model::trigger::TRIGGER_TYPES.join(", ")
            ));
            continue;
        }
        // One that does not read as its type (a field missing or mistyped) is kept, as Spinnaker
        // keeps it, and never fires; the warning names the field (`triggers[0].project`).
        let trigger: TriggerConfig = match app::model::lenient::from_value(raw) {
            Ok(trigger) => trigger,
            Err(fault) => {
                let at = if fault.path.is_empty() { field.clone() } else { format!("{field}.{}", fault.path) };
                warnings.push(format!("{at}: {}: the trigger is kept but never fires", fault.message));
                continue;
            }
        };
        // An admin may name a user (a Spinnaker service account) not created here yet.
        let missing_user = match &trigger.run_as_user {
            Some(user) if saver.admin => store.get_user(user).await.is_err(),
            _ => false,
        };
        if missing_user {
            let user = trigger.run_as_user.as_deref().unwrap_or_default();
            warnings.push(format!("{field}.runAsUser: there is no user {user:?} yet: the trigger does not fire until an admin creates it"));
        } else if let Some(user) = &trigger.run_as_user {
            super::launch::may_run_as(store, saver, user).await.map_err(|error| match error {
                AppError::Invalid { message, .. } => AppError::invalid(format!("{field}.runAsUser"), message),
                other => other,
            })?;
        }
        if let Some(name) = secret_name(&trigger) {
            crate::secrets::require_usable(store, saver, &pipeline.application, &format!("{field}.secretName"), name).await?;
        }
        match &trigger.kind {
            TriggerKind::Webhook(webhook) => {
                if webhook.source.is_empty() || !webhook.source.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
                    return Err(AppError::invalid(format!("{field}.source"), "source is 1 or more letters, digits, '-', '_' or '.'"));
                }
                for (name, pattern) in &webhook.payload_constraints {
                    full_match(pattern, "").map_err(|error| AppError::invalid(format!("{field}.payloadConstraints.{name}"), error))?;
                }
            }
            TriggerKind::Git(git) => {
                if !["github", "gitlab", "bitbucket"].contains(&git.source.as_str()) {
                    return Err(AppError::invalid(format!("{field}.source"), "source is github, gitlab or bitbucket"));
                }
                if let Some(pattern) = &git.branch {
                    full_match(pattern, "").map_err(|error| AppError::invalid(format!("{field}.branch"), error))?;
                }
            }
            TriggerKind::Pipeline(parent) if !parent.application.eq_ignore_ascii_case(&pipeline.application) => {
                // Listening to another application's runs reads them (their outcome, and
                // `trigger.parentExecution`): the saver needs READ there.
                match authorize(store, saver, &parent.application, Access::Read).await {
                    // Checked again when it would fire, as the run's user.
                    Err(AppError::NotFound { .. }) => warnings.push(format!(
                        "{field}.application: there is no application {:?} yet: the trigger fires once it exists and its runs end",
                        parent.application
                    )),
                    other => other?,
                }
            }
            TriggerKind::Docker(docker) => {
                if docker.registry.trim().is_empty() || docker.repository.trim().is_empty() {
                    return Err(AppError::invalid(format!("{field}.repository"), "a Docker trigger needs a registry and a repository"));
                }
                if let Some(pattern) = &docker.tag {
                    full_match(pattern, "").map_err(|error| AppError::invalid(format!("{field}.tag"), error))?;
                }
            }
            TriggerKind::Jenkins(jenkins) if jenkins.master.trim().is_empty() || jenkins.job.trim().is_empty() => {
                return Err(AppError::invalid(format!("{field}.job"), "a Jenkins trigger needs a master and a job"));
            }
            TriggerKind::Cron(cron) => {
                super::cron::parse(&cron.cron_expression, cron.time_zone.as_deref())
                    .map_err(|error| AppError::invalid(format!("{field}.cronExpression"), error))?;
                if cron.id.is_empty() {
                    if let Value::Object(map) = raw {
                        map.insert("id".into(), json!(crate::auth::token::new_id()));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_github_compatible() {
        // GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!".
        assert_eq!(
            signature(b"It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn pushes_are_read_from_each_provider() {
        let headers = HeaderMap::new();
        let github = json!({"ref": "refs/heads/main", "after": "abc", "repository": {"name": "shop", "owner": {"login": "acme"}}});
        assert_eq!(
            parse_push("github", &headers, &github).unwrap(),
            Some(Push { project: "acme".into(), slug: "shop".into(), branch: "main".into(), hash: "abc".into() })
        );
        let tag = json!({"ref": "refs/tags/v1", "repository": {"name": "shop", "owner": {"login": "acme"}}});
        assert_eq!(parse_push("github", &headers, &tag).unwrap(), None, "tags are not branch pushes");
        let gitlab = json!({"ref": "refs/heads/dev", "checkout_sha": "def", "project": {"namespace": "acme", "name": "shop"}});
        assert_eq!(parse_push("gitlab", &headers, &gitlab).unwrap().unwrap().branch, "dev");
        let bitbucket = json!({"repository": {"full_name": "acme/shop"}, "push": {"changes": [{"new": {"name": "main", "target": {"hash": "123"}}}]}});
        assert_eq!(parse_push("bitbucket", &headers, &bitbucket).unwrap().unwrap().project, "acme");
        assert!(parse_push("svn", &headers, &github).is_err());
    }

    #[test]
    fn constraints_match_whole_values() {
        assert_eq!(full_match("main", "main"), Ok(true));
        assert_eq!(full_match("main", "mainline"), Ok(false));
        assert_eq!(full_match("release/.*", "release/1.2"), Ok(true));
        assert!(full_match("(", "x").is_err());
    }
}
