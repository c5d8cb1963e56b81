//! What the stage form shows for each stage type the engine knows: its fields (where they are
//! in the stage's JSON, how they are typed in, a line of help) and the JSON a new stage of that
//! type starts with. A table rather than a component per type: eighteen forms written out would
//! repeat the same inputs eighteen times, and the table is what a new stage type adds to.

use serde_json::{Value, json};

/// How a value is typed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A line of text; left empty, the key is removed.
    Text,
    /// Several lines of text.
    LongText,
    /// A whole number; left empty, the key is removed.
    Number,
    /// Seconds as a number, or an expression `${...}`.
    NumberOrExpression,
    Check,
    /// A checkbox whose absent key means checked (`failPipeline`): unchecked stores `false`,
    /// checked removes the key.
    CheckOn,
    /// One of `(value, label)`; the empty value removes the key.
    Choice(&'static [(&'static str, &'static str)]),
    /// A list of texts, one per line.
    Lines,
    /// A list of objects `{"value": ...}`, one per line (judgment inputs).
    Values,
    /// A map of texts, `KEY=VALUE` per line.
    Pairs,
    /// A list of objects `{"key", "value"}`, `KEY=VALUE` per line (variables).
    KeyValues,
    /// Whole numbers separated by commas.
    Numbers,
    /// Any JSON.
    Json,
    /// Seconds, stored as milliseconds (`stageTimeoutMs`).
    Millis,
    /// An expression that decides whether the stage runs (`stageEnabled`).
    Condition,
    /// Time ranges `09:00-17:00, 20:00-22:00` (an execution window's `whitelist`).
    Hours,
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The path inside the stage (or inside one cluster of a deploy).
    pub key: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub input: Input,
}

const fn field(key: &'static str, label: &'static str, input: Input, help: &'static str) -> Field {
    Field { key, label, help, input }
}

const TARGETS: &[(&str, &str)] = &[
    ("", "(a server group by name)"),
    ("current_asg_dynamic", "Newest server group"),
    ("ancestor_asg_dynamic", "Previous server group"),
    ("oldest_asg_dynamic", "Oldest server group"),
    ("largest_asg_dynamic", "Largest server group"),
];

const STRATEGIES: &[(&str, &str)] = &[
    ("redblack", "Red/black (blue/green)"),
    ("highlander", "Highlander"),
    ("rollingredblack", "Rolling red/black"),
    ("canary", "Canary"),
    ("none", "None: just add a server group"),
];

const LOCATION: [Field; 2] = [
    field("account", "Account", Input::Text, "The cloud account (the local cloud's is local)."),
    field("region", "Region", Input::Text, "The region (the local cloud's is local)."),
];

const TARGET: [Field; 3] = [
    field("cluster", "Cluster", Input::Text, "The cluster, application-stack-detail, e.g. shop-web."),
    field("target", "Target", Input::Choice(TARGETS), "Which server group of the cluster, when it runs."),
    field("serverGroupName", "Server group", Input::Text, "Or an exact server group, e.g. shop-web-v003 (overrides the target)."),
];

const CLUSTER: [Field; 1] = [field("cluster", "Cluster", Input::Text, "The cluster, application-stack-detail, e.g. shop-web.")];

/// One cluster of a deploy stage, relative to `clusters[i]`.
pub const DEPLOY_CLUSTER: &[Field] = &[
    field("application", "Application", Input::Text, "The cluster's application (names the server groups)."),
    field("stack", "Stack", Input::Text, "Optional, e.g. web or prod: the second part of the cluster's name."),
    field("freeFormDetails", "Detail", Input::Text, "Optional third part of the cluster's name."),
    field("account", "Account", Input::Text, "The cloud account (the local cloud's is local)."),
    field("region", "Region", Input::Text, "The region (the local cloud's is local)."),
    field("capacity.min", "Min", Input::Number, "Fewest instances."),
    field("capacity.max", "Max", Input::Number, "Most instances."),
    field("capacity.desired", "Desired", Input::Number, "Instances to run: min <= desired <= max."),
    field("artifact.command", "Command", Input::Lines, "What each instance runs, one argument per line; the local cloud's demo is demo-app. Leave empty to deploy what a Find Image stage found."),
    field("artifact.version", "Version", Input::Text, "The version shown for the server group, e.g. v2 or ${parameters.version}."),
    field("loadBalancers", "Load balancers", Input::Lines, "Load balancers the server group joins, one per line."),
    field("securityGroups", "Firewalls", Input::Lines, "Security groups, one per line."),
    field("strategy", "Strategy", Input::Choice(STRATEGIES), "How the new server group replaces the old ones."),
    field("maxRemainingAsgs", "Server groups kept", Input::Number, "Red/black: server groups the cluster keeps, the new one included; older ones are destroyed."),
    field("delayBeforeCleanup", "Delay before disabling (s)", Input::Number, "Red/black: seconds to wait after the new server group is healthy."),
    field("scaleDown", "Scale down replaced server groups", Input::Check, "Red/black: disabled server groups go to zero instances."),
    field("targetPercentages", "Rolling steps (%)", Input::Numbers, "Rolling red/black: e.g. 25, 50, 100."),
    field("canaryCapacity", "Canary instances", Input::Number, "Canary: how many instances the canary runs."),
    field("waitForHealthyTimeoutSec", "Healthy within (s)", Input::Number, "Seconds every new instance has to pass its health checks (default 600)."),
    field("rollback.onFailure", "Roll back on failure", Input::Check, "If the deploy fails, destroy the new server group and keep the old one serving."),
];

const PRECONDITION_TYPES: &[(&str, &str)] = &[("expression", "An expression is true"), ("stageStatus", "A stage has a status")];
const STAGE_STATUSES: &[(&str, &str)] = &[
    ("SUCCEEDED", "Succeeded"),
    ("FAILED_CONTINUE", "Failed, pipeline continued"),
    ("TERMINAL", "Failed (terminal)"),
    ("SKIPPED", "Skipped"),
    ("CANCELED", "Canceled"),
];

/// One precondition of a Check Preconditions stage, relative to `preconditions[i]`: its type,
/// then the fields of that type, then what every precondition has.
pub const PRECONDITION_TYPE: Field =
    field("type", "Check that", Input::Choice(PRECONDITION_TYPES), "What must hold for the pipeline to go on.");
pub const PRECONDITION_EXPRESSION: &[Field] = &[field(
    "context.expression",
    "Expression",
    Input::Text,
    "Must be true, e.g. ${parameters.env == 'prod'} or ${trigger.user != 'anonymous'}.",
)];
pub const PRECONDITION_STAGE: &[Field] = &[
    field("context.stageName", "Stage name", Input::Text, "The name of an earlier stage of this pipeline."),
    field("context.stageStatus", "Status", Input::Choice(STAGE_STATUSES), "The status that stage must have ended with."),
];
pub const PRECONDITION_COMMON: &[Field] = &[
    field("context.failureMessage", "Failure message", Input::Text, "Optional: what the stage says when this does not hold."),
    field("failPipeline", "Fail the pipeline", Input::CheckOn, "Unchecked, a failing precondition only warns: the stage ends FAILED_CONTINUE and the pipeline goes on."),
];

/// Every field a precondition can show, for telling which errors the form shows.
pub fn precondition_fields() -> impl Iterator<Item = &'static Field> {
    std::iter::once(&PRECONDITION_TYPE).chain(PRECONDITION_EXPRESSION).chain(PRECONDITION_STAGE).chain(PRECONDITION_COMMON)
}

/// A new precondition: an expression that holds, so the stage is valid as added.
pub fn new_precondition() -> Value {
    json!({"type": "expression", "context": {"expression": "${true}"}, "failPipeline": true})
}

const RESIZE_ACTIONS: &[(&str, &str)] =
    &[("scale_exact", "Resize to an exact capacity"), ("scale_up", "Scale up by"), ("scale_down", "Scale down by")];
const SELECTION: &[(&str, &str)] =
    &[("NEWEST", "Newest"), ("OLDEST", "Oldest"), ("LARGEST", "Largest"), ("FAIL", "Fail unless exactly one")];
const METHODS: &[(&str, &str)] = &[("POST", "POST"), ("GET", "GET"), ("PUT", "PUT"), ("PATCH", "PATCH"), ("DELETE", "DELETE")];
const STATUS_URL: &[(&str, &str)] = &[
    ("", "(do not poll)"),
    ("getMethod", "Poll the same URL with GET"),
    ("locationHeader", "Poll the Location header"),
    ("webhookResponse", "Poll a URL found in the answer"),
];

/// The fields of a stage type, outside its clusters (deploy's are [`DEPLOY_CLUSTER`]).
pub fn fields(kind: &str) -> Vec<Field> {
    let target_with = |own: &[Field]| [&TARGET[..], &LOCATION[..], own].concat();
    let cluster_with = |own: &[Field]| [&CLUSTER[..], &LOCATION[..], own].concat();
    match kind {
        "wait" => vec![field("waitTime", "Seconds to wait", Input::NumberOrExpression, "A number, or an expression such as ${parameters.delay}.")],
        "manualJudgment" => vec![
            field("instructions", "Instructions", Input::LongText, "What the judge should check before continuing."),
            field("judgmentInputs", "Choices", Input::Values, "Optional choices offered with Continue, one per line; later stages read judgment(\"Name\")."),
        ],
        // Each precondition has its own fieldset: see [`PRECONDITION`].
        "checkPreconditions" => vec![],
        "evaluateVariables" => vec![field("variables", "Variables", Input::KeyValues, "NAME=VALUE per line; values may be expressions. Later stages read them as ${NAME}.")],
        "webhook" => vec![
            field("url", "URL", Input::Text, "http:// or https://; may hold expressions."),
            field("method", "Method", Input::Choice(METHODS), ""),
            field("customHeaders", "Headers", Input::Pairs, "Name=value per line."),
            field("payload", "Payload (JSON)", Input::Json, "Sent as the body; may hold expressions."),
            field("waitForCompletion", "Wait for completion", Input::Check, "Poll a status URL until it reports success."),
            field("statusUrlResolution", "Status URL", Input::Choice(STATUS_URL), ""),
            field("statusUrlJsonPath", "Status URL JSON path", Input::Text, "Where the status URL is in the answer, e.g. $.links.status."),
            field("statusJsonPath", "Status JSON path", Input::Text, "Where the status is in the status answer, e.g. $.status."),
            field("successStatuses", "Success statuses", Input::Text, "Comma-separated, e.g. DONE,OK."),
            field("terminalStatuses", "Terminal statuses", Input::Text, "Comma-separated statuses that fail the stage."),
            field("failFastStatusCodes", "Fail at once on", Input::Numbers, "HTTP codes that fail without retrying, e.g. 404, 422."),
        ],
        "pipeline" => vec![
            field("application", "Application", Input::Text, "The application of the pipeline to run."),
            field("pipeline", "Pipeline", Input::Text, "Its name or id."),
            field("pipelineParameters", "Parameters", Input::Pairs, "NAME=VALUE per line; values may be expressions."),
            field("waitForCompletion", "Wait for it to finish", Input::Check, "The stage fails if the pipeline fails."),
        ],
        "deploy" => Vec::new(),
        "resizeServerGroup" => target_with(&[
            field("action", "Action", Input::Choice(RESIZE_ACTIONS), ""),
            field("capacity.min", "Min", Input::Number, "Exact resize: fewest instances."),
            field("capacity.max", "Max", Input::Number, "Exact resize: most instances."),
            field("capacity.desired", "Desired", Input::Number, "Exact resize: instances to run."),
            field("scaleNum", "By instances", Input::Number, "Scale up/down: by this many instances."),
            field("scalePct", "By percent", Input::Number, "Scale up/down: or by this percentage."),
        ]),
        "enableServerGroup" | "disableServerGroup" | "destroyServerGroup" => target_with(&[]),
        "rollbackServerGroup" => target_with(&[field(
            "restoreServerGroupName",
            "Restore server group",
            Input::Text,
            "Optional: the server group to go back to (default: the one before the target).",
        )]),
        "cloneServerGroup" => target_with(&[
            field("capacity.min", "Min", Input::Number, "Optional capacity override."),
            field("capacity.max", "Max", Input::Number, ""),
            field("capacity.desired", "Desired", Input::Number, ""),
            field("disableSource", "Disable the source", Input::Check, "Once the clone is healthy."),
        ]),
        "findImage" => cluster_with(&[
            field("selectionStrategy", "Pick", Input::Choice(SELECTION), "Which server group's artifact, when several match."),
            field("onlyEnabled", "Only enabled server groups", Input::Check, ""),
        ]),
        "shrinkCluster" => cluster_with(&[
            field("shrinkToSize", "Keep", Input::Number, "Server groups kept, newest first; the rest are destroyed."),
            field("allowDeleteActive", "Allow destroying enabled ones", Input::Check, ""),
            field("retainLargerOverNewer", "Keep the largest rather than the newest", Input::Check, ""),
        ]),
        "disableCluster" => cluster_with(&[
            field("remainingEnabledServerGroups", "Keep enabled", Input::Number, "Enabled server groups left, newest first."),
            field("preferLargerOverNewer", "Prefer the largest", Input::Check, ""),
        ]),
        "scaleDownCluster" => cluster_with(&[
            field("remainingFullSizeServerGroups", "Keep full size", Input::Number, "Server groups left at full size, newest first."),
            field("allowScaleDownActive", "Allow scaling down enabled ones", Input::Check, ""),
            field("preferLargerOverNewer", "Prefer the largest", Input::Check, ""),
        ]),
        "runJob" => [
            &[
                field("command", "Command", Input::Lines, "One argument per line, e.g. sh, -c, ./migrate.sh. A non-zero exit fails the stage."),
                field("env", "Environment", Input::Pairs, "NAME=VALUE per line."),
            ][..],
            &LOCATION[..],
        ]
        .concat(),
        _ => Vec::new(),
    }
}

/// Stage types with the name users know them by, in the order the Add menu offers them.
pub const KINDS: &[(&str, &str)] = &[
    ("deploy", "Deploy"),
    ("manualJudgment", "Manual Judgment"),
    ("wait", "Wait"),
    ("checkPreconditions", "Check Preconditions"),
    ("evaluateVariables", "Evaluate Variables"),
    ("webhook", "Webhook"),
    ("pipeline", "Pipeline"),
    ("findImage", "Find Image from Cluster"),
    ("resizeServerGroup", "Resize Server Group"),
    ("enableServerGroup", "Enable Server Group"),
    ("disableServerGroup", "Disable Server Group"),
    ("destroyServerGroup", "Destroy Server Group"),
    ("rollbackServerGroup", "Rollback Cluster"),
    ("cloneServerGroup", "Clone Server Group"),
    ("shrinkCluster", "Shrink Cluster"),
    ("disableCluster", "Disable Cluster"),
    ("scaleDownCluster", "Scale Down Cluster"),
    ("runJob", "Run Job"),
];

pub fn label(kind: &str) -> &str {
    KINDS.iter().find(|(known, _)| *known == kind).map_or(kind, |(_, label)| label)
}

/// The keys every stage has whatever its type: kept when the type changes.
pub const COMMON_KEYS: &[&str] = &[
    "refId",
    "name",
    "requisiteStageRefIds",
    "failPipeline",
    "continuePipeline",
    "completeOtherBranchesThenFail",
    "failOnFailedExpressions",
    "stageEnabled",
    "stageTimeoutMs",
    "restrictExecutionDuringTimeWindow",
    "restrictedExecutionWindow",
    "comments",
];

/// A deploy's cluster as the form starts it: the application's main cluster, red/black, on the
/// local cloud, running the demo app.
pub fn new_cluster(application: &str) -> Value {
    json!({
        "cloudProvider": "local", "account": "local", "region": "local",
        "application": application, "stack": "", "freeFormDetails": "",
        "capacity": {"min": 1, "max": 1, "desired": 1},
        "artifact": {"command": ["demo-app", "--version", "v1"], "version": "v1"},
        "loadBalancers": [], "securityGroups": [],
        "strategy": "redblack", "maxRemainingAsgs": 2,
        "rollback": {"onFailure": true}
    })
}

/// The type's own fields as a new stage of it starts: what makes it valid and useful at once.
pub fn defaults(kind: &str, application: &str) -> Value {
    let target = json!({"cloudProvider": "local", "account": "local", "region": "local", "cluster": application, "target": "current_asg_dynamic"});
    let cluster = json!({"cloudProvider": "local", "account": "local", "region": "local", "cluster": application});
    let with = |base: &Value, own: Value| {
        let mut merged = base.clone();
        if let (Some(merged), Value::Object(own)) = (merged.as_object_mut(), own) {
            merged.extend(own);
        }
        merged
    };
    match kind {
        "wait" => json!({"waitTime": 30}),
        "manualJudgment" => json!({"instructions": "", "judgmentInputs": []}),
        "checkPreconditions" => {
            json!({"preconditions": [new_precondition()]})
        }
        "evaluateVariables" => json!({"variables": []}),
        "webhook" => json!({"url": "https://example.com/hook", "method": "POST"}),
        "pipeline" => json!({"application": application, "pipeline": "", "waitForCompletion": true}),
        "deploy" => json!({"clusters": [new_cluster(application)]}),
        "resizeServerGroup" => with(&target, json!({"action": "scale_exact", "capacity": {"min": 1, "max": 1, "desired": 1}})),
        "enableServerGroup" | "disableServerGroup" | "destroyServerGroup" | "cloneServerGroup" => target,
        "rollbackServerGroup" => cluster,
        "findImage" => with(&cluster, json!({"selectionStrategy": "NEWEST", "onlyEnabled": true})),
        "shrinkCluster" => with(&cluster, json!({"shrinkToSize": 1})),
        "disableCluster" => with(&cluster, json!({"remainingEnabledServerGroups": 1})),
        "scaleDownCluster" => with(&cluster, json!({"remainingFullSizeServerGroups": 1})),
        "runJob" => json!({"cloudProvider": "local", "account": "local", "region": "local", "command": ["sh", "-c", "echo done"]}),
        _ => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::pipeline::{STAGE_TYPES, parse_pipeline};

    #[test]
    fn every_stage_type_has_a_name_and_valid_defaults() {
        for kind in STAGE_TYPES {
            assert_ne!(label(kind), *kind, "{kind} has a name in the Add menu");
            let mut stage = defaults(kind, "shop");
            stage["refId"] = json!("1");
            stage["type"] = json!(kind);
            let pipeline = parse_pipeline(&json!({"application": "shop", "name": "p", "stages": [stage]}));
            let pipeline = pipeline.unwrap_or_else(|error| panic!("{kind}: {error}"));
            // The pipeline stage's empty name is for the user to fill in; everything else is ready.
            if *kind != "pipeline" {
                pipeline.validate(&|_| Ok(())).unwrap_or_else(|error| panic!("{kind}: {error}"));
            }
        }
    }

    #[test]
    fn the_form_covers_the_fields_the_engine_needs() {
        assert!(fields("wait").iter().any(|f| f.key == "waitTime"));
        assert!(fields("resizeServerGroup").iter().any(|f| f.key == "capacity.desired"));
        assert!(DEPLOY_CLUSTER.iter().any(|f| f.key == "strategy"));
        for kind in STAGE_TYPES {
            let keys: Vec<&str> = fields(kind).iter().map(|f| f.key).collect();
            let unique: std::collections::BTreeSet<&str> = keys.iter().copied().collect();
            assert_eq!(keys.len(), unique.len(), "{kind} lists a field twice");
        }
    }
}
