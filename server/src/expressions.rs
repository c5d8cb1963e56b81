//! `${...}` expressions in stage configurations, read as SpEL (Spring Expression Language)
//! the way Spinnaker's Orca reads them, so pipelines written for Spinnaker run unchanged. The
//! evaluator is `spel` (pure Rust, over JSON): no I/O, no type or bean references, and a hard
//! budget of length, nesting, steps and result size on every evaluation (see `spel`'s module
//! doc), so a `${...}` can neither crash the process nor keep a thread busy for long (at most
//! about 0.1 s of work in a release build).
//!
//! What an expression sees, as in Orca's `ContextParameterProcessor`: the stage's own context
//! keys; the outputs of the stages upstream of it (the nearest one's value when several set a
//! key) for keys the context does not set; and `execution` (the whole run), `trigger` and
//! `parameters` (the trigger's parameters). Functions: Spinnaker's pure helpers (`#toJson`,
//! `#readJson`, `#toInt`, `#toFloat`, `#toBoolean`, `#toBase64`, `#fromBase64`,
//! `#alphanumerical`) and the ones about the run: `#stage(name)` (its `status`, `context`,
//! `outputs`, ...), `#stageByRefId(refId)`, `#stageExists(nameOrRefId)`, `#judgment(name)`
//! (also spelled `#judgement`: the input chosen at that manual judgment) and
//! `#currentStage()`. `stage(name)` and `judgment(name)` without `#` are gennaker's earlier
//! spelling and still work.
//!
//! CEL, which gennaker read before, is gone: its forms that SpEL lacks (`size(x)`, `has(x.y)`,
//! `x in list`, `int(x)`) are written `x.size()`, `x?.y != null`, `list.contains(x)`,
//! `#toInt(x)`. One language, the one Spinnaker users already write, and one with a budget.
//!
//! A string that is exactly one expression takes the expression's type (`"${1 + 2}"` is 3);
//! text around expressions makes a string (Spring's conversion: lists join with `,`). An
//! expression whose value is null failed, as in Orca: the field keeps its text.

use std::collections::{BTreeSet, VecDeque};

use app::model::execution::{Execution, Stage};
use app::model::pipeline::{closing_brace, expressions_in};
use serde_json::{Map, Value, json};

pub mod spel;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("${{{expression}}} does not parse: {message}")]
    Parse { expression: String, message: String },
    #[error("${{{expression}}} failed: {message}")]
    Evaluate { expression: String, message: String },
    #[error("unclosed ${{ in {0:?}")]
    Unclosed(String),
}

/// The bounds every expression is held to.
fn limits() -> spel::Limits {
    spel::Limits::default()
}

/// Checks that an expression parses (for validation when a pipeline is saved): a syntax
/// error, or a form expressions may never use (`T(java.lang.Runtime)`, `#fromUrl`, ...).
pub fn check(expression: &str) -> Result<(), String> {
    spel::parse(expression, &limits()).map(drop).map_err(|error| error.to_string())
}

/// What expressions can see: the root object and the run's stages for the functions.
pub struct Scope {
    root: Value,
    stages: Vec<Value>,
    current: Option<Value>,
}

impl Scope {
    /// The scope of the run as a whole (the Evaluate box of the execution page): every
    /// finished stage's outputs, later stages' winning.
    pub fn for_execution(execution: &Execution) -> Self {
        let mut root = Map::new();
        for stage in &execution.stages {
            root.extend(stage.outputs.iter().map(|(key, value)| (key.clone(), value.clone())));
        }
        Self::with_run(root, execution, None)
    }

    /// The scope of `stage` of `execution` as it starts: its context, its upstream stages'
    /// outputs, the run.
    pub fn for_stage(execution: &Execution, stage: &Stage) -> Self {
        let mut root = Map::new();
        // Farthest first, so the nearest stage's value for a key is the one left.
        for ancestor in ancestors(execution, stage).iter().rev() {
            root.extend(ancestor.outputs.iter().map(|(key, value)| (key.clone(), value.clone())));
        }
        if let Value::Object(context) = &stage.context {
            root.extend(context.iter().map(|(key, value)| (key.clone(), value.clone())));
        }
        Self::with_run(root, execution, Some(stage))
    }

    fn with_run(mut root: Map<String, Value>, execution: &Execution, current: Option<&Stage>) -> Self {
        root.insert("execution".into(), serde_json::to_value(execution).unwrap_or_default());
        root.insert("trigger".into(), serde_json::to_value(&execution.trigger).unwrap_or_default());
        root.insert("parameters".into(), serde_json::to_value(&execution.trigger.parameters).unwrap_or_default());
        Self { root: Value::Object(root), stages: execution.stages.iter().map(stage_view).collect(), current: current.map(stage_view) }
    }

    /// The run's functions (`#stage`, `#judgment`, ...).
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let text_arg = || match args {
            [Value::String(text)] => Ok(text.as_str()),
            _ => Err(format!("#{name} takes one text argument")),
        };
        let by = |key: &str, wanted: &str| self.stages.iter().find(|stage| stage[key] == wanted).cloned();
        let result = match name {
            "stage" => text_arg().and_then(|wanted| by("name", wanted).ok_or_else(|| format!("no stage named {wanted:?}"))),
            "stageByRefId" => text_arg().and_then(|wanted| by("refId", wanted).ok_or_else(|| format!("no stage with refId {wanted:?}"))),
            "stageExists" => text_arg().map(|wanted| Value::Bool(by("name", wanted).or_else(|| by("id", wanted)).or_else(|| by("refId", wanted)).is_some())),
            "judgment" | "judgement" => text_arg().and_then(|wanted| {
                let stage = self.stages.iter().find(|stage| stage["name"] == wanted && stage["type"] == "manualJudgment");
                let stage = stage.or_else(|| self.stages.iter().find(|stage| stage["name"] == wanted));
                let stage = stage.ok_or_else(|| format!("no manual judgment stage named {wanted:?}"))?;
                Ok(stage["context"].get("judgmentInput").cloned().unwrap_or(Value::Null))
            }),
            "currentStage" => self.current.clone().ok_or_else(|| "there is no current stage here".to_string()),
            // The artifact the run bound, by its name or its type (Orca's helpers).
            "triggerResolvedArtifact" | "triggerResolvedArtifactByType" => text_arg().and_then(|wanted| {
                let key = if name == "triggerResolvedArtifact" { "name" } else { "type" };
                let resolved = self.root["trigger"]["resolvedExpectedArtifacts"].as_array().into_iter().flatten();
                resolved
                    .filter_map(|expected| expected.get("boundArtifact"))
                    .find(|artifact| artifact.get(key).and_then(Value::as_str) == Some(wanted))
                    .cloned()
                    .ok_or_else(|| format!("no bound artifact with {key} {wanted:?}"))
            }),
            _ => return None,
        };
        Some(result)
    }

    pub fn evaluate(&self, expression: &str) -> Result<Value, Error> {
        let functions = |name: &str, args: &[Value]| self.call(name, args);
        let parsed = spel::parse(expression, &limits()).map_err(|error| Error::Parse { expression: expression.to_string(), message: error.to_string() })?;
        let value = spel::evaluate_parsed(&parsed, &self.root, &functions, &limits())
            .map_err(|error| Error::Evaluate { expression: expression.to_string(), message: error.to_string() })?;
        if value.is_null() {
            // Orca's answer to a null: the expression failed (it names what it did not find).
            return Err(Error::Evaluate { expression: expression.to_string(), message: "it refers to something that is not there (null)".into() });
        }
        Ok(value)
    }

    /// Evaluates every expression in every string of `value`. Returns the new value and the
    /// failures, each with the JSON path of the field it is in; a failed expression leaves
    /// its text in place.
    pub fn evaluate_all(&self, value: &Value) -> (Value, Vec<(String, Error)>) {
        let mut failures = Vec::new();
        let evaluated = self.walk(value, "", &mut failures);
        (evaluated, failures)
    }

    fn walk(&self, value: &Value, path: &str, failures: &mut Vec<(String, Error)>) -> Value {
        match value {
            Value::String(text) if text.contains("${") => match self.interpolate(text) {
                Ok(value) => value,
                Err(error) => {
                    failures.push((path.to_string(), error));
                    value.clone()
                }
            },
            Value::Array(items) => Value::Array(
                items.iter().enumerate().map(|(i, item)| self.walk(item, &format!("{path}[{i}]"), failures)).collect(),
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, item)| {
                        let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                        (key.clone(), self.walk(item, &child, failures))
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn interpolate(&self, text: &str) -> Result<Value, Error> {
        let expressions = expressions_in(text).map_err(|_| Error::Unclosed(text.to_string()))?;
        let trimmed = text.trim();
        if expressions.len() == 1 && trimmed.starts_with("${") && closing_brace(&trimmed[2..]) == Some(trimmed.len() - 3) {
            return self.evaluate(expressions[0]);
        }
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let body = &rest[start + 2..];
            let end = closing_brace(body).ok_or_else(|| Error::Unclosed(text.to_string()))?;
            let expression = body[..end].trim();
            let value = self.evaluate(expression)?;
            let piece = spel::to_text(&value, &limits()).map_err(|error| Error::Evaluate { expression: expression.to_string(), message: error.to_string() })?;
            out.push_str(&piece);
            rest = &body[end + 1..];
        }
        out.push_str(rest);
        Ok(Value::String(out))
    }
}

/// The stages upstream of `stage`, nearest first (breadth-first over `requisiteStageRefIds`).
fn ancestors<'a>(execution: &'a Execution, stage: &Stage) -> Vec<&'a Stage> {
    let mut seen = BTreeSet::new();
    let mut found = Vec::new();
    let mut queue: VecDeque<&str> = stage.requisite_stage_ref_ids.iter().map(String::as_str).collect();
    while let Some(ref_id) = queue.pop_front() {
        if !seen.insert(ref_id.to_string()) {
            continue;
        }
        if let Some(upstream) = execution.stages.iter().find(|candidate| candidate.ref_id == ref_id) {
            found.push(upstream);
            queue.extend(upstream.requisite_stage_ref_ids.iter().map(String::as_str));
        }
    }
    found
}

/// A stage as `#stage(...)` gives it.
fn stage_view(stage: &Stage) -> Value {
    json!({
        "id": stage.id,
        "refId": stage.ref_id,
        "name": stage.name,
        "type": stage.kind,
        "status": stage.status.as_str(),
        "startTime": stage.start_time,
        "endTime": stage.end_time,
        "outputs": stage.outputs,
        "context": stage.context,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::execution::{Status, Trigger};
    use std::collections::BTreeMap;

    fn execution() -> Execution {
        let mut parameters = BTreeMap::new();
        parameters.insert("env".to_string(), "prod".to_string());
        parameters.insert("seconds".to_string(), "5".to_string());
        Execution {
            id: "e1".into(),
            application: "shop".into(),
            pipeline_config_id: "p1".into(),
            name: "deploy".into(),
            status: Status::Running,
            trigger: Trigger { kind: "manual".into(), user: "ann".into(), parameters, extra: BTreeMap::new() },
            stages: vec![Stage {
                id: "1".into(),
                ref_id: "1".into(),
                kind: "evaluateVariables".into(),
                name: "Compute".into(),
                status: Status::Succeeded,
                requisite_stage_ref_ids: vec![],
                context: json!({"judgmentInput": "blue"}),
                config: Value::Null,
                outputs: [("replicas".to_string(), json!(3))].into_iter().collect(),
                tasks: vec![],
                start_time: None,
                end_time: None,
                error: None,
                warnings: vec![],
            }],
            build_time: 0,
            start_time: None,
            end_time: None,
            canceled: false,
            canceled_by: None,
            cancellation_reason: None,
            limit_concurrent: true,
            keep_waiting_pipelines: false,
            notification_configs: Vec::new(),
            notifications: Vec::new(),
        }
    }

    #[test]
    fn variables_and_functions() {
        let scope = Scope::for_execution(&execution());
        assert_eq!(scope.evaluate("parameters.env == 'prod'").unwrap(), json!(true));
        assert_eq!(scope.evaluate("trigger.user").unwrap(), json!("ann"));
        assert_eq!(scope.evaluate("stage('Compute').outputs.replicas + 1").unwrap(), json!(4));
        assert_eq!(scope.evaluate("judgment('Compute')").unwrap(), json!("blue"));
        assert_eq!(scope.evaluate("execution.application").unwrap(), json!("shop"));
        assert!(matches!(scope.evaluate("stage('Nope').outputs"), Err(Error::Evaluate { .. })));
        assert!(matches!(scope.evaluate("1 +"), Err(Error::Parse { .. })));
    }

    #[test]
    fn whole_strings_keep_types_and_mixed_text_interpolates() {
        let scope = Scope::for_execution(&execution());
        let (value, failures) = scope.evaluate_all(&json!({
            "waitTime": "${#toInt(parameters.seconds)}",
            "message": "deploying to ${parameters.env} by ${trigger.user}",
            "list": ["${1 + 1}", "plain"],
            "broken": "${nothing.here}"
        }));
        assert_eq!(value["waitTime"], json!(5));
        assert_eq!(value["message"], json!("deploying to prod by ann"));
        assert_eq!(value["list"], json!([2, "plain"]));
        assert_eq!(value["broken"], json!("${nothing.here}"), "a failure leaves the text");
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].0, "broken");
    }

    #[test]
    fn expressions_cannot_reach_outside() {
        // No function touches files, network or the environment: unknown names fail.
        let scope = Scope::for_execution(&execution());
        for attempt in ["env('HOME')", "readFile('/etc/passwd')", "http('x')", "T(java.lang.Runtime).getRuntime()", "#fromUrl('http://x')"] {
            assert!(scope.evaluate(attempt).is_err(), "{attempt}");
        }
        assert!(check("#jsonFromUrl('http://169.254.169.254/')").unwrap_err().contains("jsonFromUrl"));
    }

    #[test]
    fn spinnaker_forms_evaluate_as_orca_would() {
        let scope = Scope::for_execution(&execution());
        assert_eq!(scope.evaluate("#stage('Compute')['status'].toString() == 'SUCCEEDED'").unwrap(), json!(true));
        assert_eq!(scope.evaluate("#judgment('Compute')").unwrap(), json!("blue"));
        assert_eq!(scope.evaluate("new Integer(parameters['seconds']) + 1").unwrap(), json!(6));
        assert_eq!(scope.evaluate("execution.stages.?[name == 'Compute'][0].status").unwrap(), json!("SUCCEEDED"));
        assert_eq!(scope.evaluate("parameters['env'] == 'prod' ? 1 : 0").unwrap(), json!(1));
        assert_eq!(scope.evaluate("replicas").unwrap(), json!(3), "stage outputs are names too");
        assert_eq!(scope.evaluate("#stageExists('Compute') && !#stageExists('Nope')").unwrap(), json!(true));
        assert!(matches!(scope.evaluate("trigger.nope"), Err(Error::Evaluate { .. })), "null is a failure, as in Orca");
    }

    #[test]
    fn a_stage_sees_its_context_and_its_upstream_outputs_nearest_first() {
        let mut run = execution();
        let mut far = run.stages[0].clone();
        far.ref_id = "0".into();
        far.name = "Far".into();
        far.outputs = [("color".to_string(), json!("red")), ("size".to_string(), json!(1))].into_iter().collect();
        run.stages[0].requisite_stage_ref_ids = vec!["0".into()];
        run.stages[0].outputs = [("color".to_string(), json!("blue"))].into_iter().collect();
        let mut current = run.stages[0].clone();
        current.ref_id = "2".into();
        current.name = "Now".into();
        current.requisite_stage_ref_ids = vec!["1".into()];
        current.context = json!({"size": 9});
        run.stages.insert(0, far);
        let scope = Scope::for_stage(&run, &current);
        assert_eq!(scope.evaluate("color").unwrap(), json!("blue"), "the nearest upstream stage wins");
        assert_eq!(scope.evaluate("size").unwrap(), json!(9), "the stage's own context wins over outputs");
        assert_eq!(scope.evaluate("#currentStage().name").unwrap(), json!("Now"));
        let (text, failures) = scope.evaluate_all(&json!("sizes ${ {1, 2} } of ${color}"));
        assert!(failures.is_empty(), "{failures:?}");
        assert_eq!(text, json!("sizes 1,2 of blue"));
    }
}
