//! `${...}` expressions in stage configurations, evaluated with CEL (the `cel-interpreter`
//! crate): typed, side-effect free, no I/O. Variables: `trigger`, `parameters`, `execution`
//! (id, application, name), and the functions `stage("Name")` (its `outputs`, `context`,
//! `status`) and `judgment("Name")` (the input chosen at that manual judgment).
//!
//! A string that is exactly one expression takes the expression's type (`"${1 + 2}"` is 3);
//! text around expressions makes a string.

use std::collections::HashMap;
use std::sync::Arc;

use app::model::execution::{Execution, Stage};
use app::model::pipeline::{closing_brace, expressions_in};
use cel_interpreter::{Context, ExecutionError, Program, Value as CelValue};
use serde_json::{Value, json};

pub mod spel;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("${{{expression}}} does not parse: {message}")]
    Parse { expression: String, message: String },
    #[error("${{{expression}}} failed: {message}")]
    Evaluate { expression: String, message: String },
    #[error("unclosed ${{ in {0:?}")]
    Unclosed(String),
}

thread_local! {
    /// Set while the CEL library runs: its panics are expected (and caught), not bugs.
    static CAUGHT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `work` (which may panic inside the CEL library) with the panic caught and kept out of
/// stderr: the default hook would print a backtrace for every malformed expression a user
/// types, and the editor checks as the user types. Other panics still print as before.
fn caught<T>(work: impl FnOnce() -> T) -> std::thread::Result<T> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CAUGHT.with(std::cell::Cell::get) {
                tracing::debug!(panic = %info, "the CEL library panicked; reported as an expression error");
            } else {
                previous(info);
            }
        }));
    });
    CAUGHT.with(|flag| flag.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    CAUGHT.with(|flag| flag.set(false));
    result
}

/// Longest expression accepted (Spring's own default limit).
const MAX_LENGTH: usize = 10_000;
/// Deepest nesting accepted: brackets, and runs of unary operators, each recurse in a parser.
const MAX_DEPTH: usize = 64;

/// Refuses, before any parser sees it, an expression so long or so deeply nested that parsing
/// it could exhaust the stack or take long: a request must not be able to crash the process.
fn check_bounds(expression: &str) -> Result<(), String> {
    if expression.len() > MAX_LENGTH {
        return Err(format!("the expression is longer than {MAX_LENGTH} characters"));
    }
    let (mut depth, mut unary_run, mut quote) = (0usize, 0usize, None::<char>);
    for c in expression.chars() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        unary_run = if matches!(c, '!' | '-') { unary_run + 1 } else if c.is_whitespace() { unary_run } else { 0 };
        if depth + unary_run > MAX_DEPTH {
            return Err(format!("the expression is nested deeper than {MAX_DEPTH} levels"));
        }
    }
    Ok(())
}

/// Compiles an expression. The CEL parser (antlr4rust) panics on some malformed input instead
/// of failing; a panic here must not take a request or a worker down, so it becomes an error.
fn compile(expression: &str) -> Result<Program, String> {
    check_bounds(expression)?;
    match caught(|| Program::compile(expression)) {
        Ok(Ok(program)) => Ok(program),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("syntax error".to_string()),
    }
}

/// Checks that an expression parses (for validation when a pipeline is saved).
pub fn check(expression: &str) -> Result<(), String> {
    compile(expression).map(drop)
}

/// What expressions can see.
pub struct Scope {
    context: Context<'static>,
}

impl Scope {
    /// The scope of a stage of `execution`: everything that happened before it.
    pub fn for_execution(execution: &Execution) -> Self {
        let mut context = Context::default();
        let trigger = serde_json::to_value(&execution.trigger).unwrap_or_default();
        let parameters = serde_json::to_value(&execution.trigger.parameters).unwrap_or_default();
        let summary = json!({
            "id": execution.id,
            "application": execution.application,
            "name": execution.name,
            "status": execution.status.as_str(),
        });
        for (name, value) in [("trigger", trigger), ("parameters", parameters), ("execution", summary)] {
            context.add_variable_from_value(name, to_cel(&value));
        }
        let stages: Arc<HashMap<String, Value>> = Arc::new(
            execution.stages.iter().map(|stage| (stage.name.clone(), stage_view(stage))).collect(),
        );
        let by_name = stages.clone();
        context.add_function("stage", move |name: Arc<String>| -> Result<CelValue, ExecutionError> {
            let stage = by_name.get(name.as_str()).ok_or_else(|| ExecutionError::function_error("stage", format!("no stage named {name:?}")))?;
            Ok(to_cel(stage))
        });
        context.add_function("judgment", move |name: Arc<String>| -> Result<CelValue, ExecutionError> {
            let stage = stages.get(name.as_str()).ok_or_else(|| ExecutionError::function_error("judgment", format!("no stage named {name:?}")))?;
            let input = stage["context"]["judgmentInput"].as_str().unwrap_or_default().to_string();
            Ok(CelValue::String(Arc::new(input)))
        });
        Self { context }
    }

    pub fn evaluate(&self, expression: &str) -> Result<Value, Error> {
        let program = compile(expression).map_err(|message| Error::Parse { expression: expression.to_string(), message })?;
        let executed = caught(|| program.execute(&self.context))
            .map_err(|_| Error::Evaluate { expression: expression.to_string(), message: "the evaluator failed".to_string() })?;
        let value = executed.map_err(|error| Error::Evaluate { expression: expression.to_string(), message: error.to_string() })?;
        value.json().map_err(|error| Error::Evaluate { expression: expression.to_string(), message: error.to_string() })
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
            match self.evaluate(body[..end].trim())? {
                Value::String(s) => out.push_str(&s),
                other => out.push_str(&other.to_string()),
            }
            rest = &body[end + 1..];
        }
        out.push_str(rest);
        Ok(Value::String(out))
    }
}

/// JSON to CEL. Whole numbers become CEL `int` (not `uint`), so `outputs.replicas + 1` works
/// as people expect instead of failing on CEL's strict int/uint arithmetic.
fn to_cel(value: &Value) -> CelValue {
    match value {
        Value::Null => CelValue::Null,
        Value::Bool(b) => CelValue::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => CelValue::Int(i),
            (None, Some(u), _) => CelValue::UInt(u),
            (_, _, f) => CelValue::Float(f.unwrap_or_default()),
        },
        Value::String(text) => CelValue::String(Arc::new(text.clone())),
        Value::Array(items) => CelValue::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(map) => {
            let map: HashMap<String, CelValue> = map.iter().map(|(k, v)| (k.clone(), to_cel(v))).collect();
            CelValue::from(map)
        }
    }
}

fn stage_view(stage: &Stage) -> Value {
    json!({
        "id": stage.id,
        "refId": stage.ref_id,
        "name": stage.name,
        "type": stage.kind,
        "status": stage.status.as_str(),
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
            "waitTime": "${int(parameters.seconds)}",
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
        for attempt in ["env('HOME')", "readFile('/etc/passwd')", "http('x')"] {
            assert!(scope.evaluate(attempt).is_err(), "{attempt}");
        }
    }
}
