//! Pipeline configurations in Spinnaker's JSON shape, so users can paste what they know.
//! A stage's own fields stay JSON here: the server's stage-type registry (`engine::stages`)
//! types and checks them, and tells the editor what they are ([`super::stage_types`]). Fields
//! gennaker does not know are kept in `extra` (and written back), never dropped.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::time::EpochMillis;

/// The most stages a pipeline may have (Spinnaker's largest real pipelines have a few dozen).
pub const MAX_STAGES: usize = 500;

/// JSON fields a type does not model, kept as they came.
pub type Extra = BTreeMap<String, Value>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pipeline {
    /// Assigned by the server on creation.
    #[serde(default)]
    pub id: String,
    pub application: String,
    pub name: String,
    #[serde(default)]
    pub stages: Vec<StageConfig>,
    #[serde(default)]
    pub parameter_config: Vec<ParameterConfig>,
    #[serde(default)]
    pub triggers: Vec<Value>,
    #[serde(default)]
    pub notifications: Vec<Value>,
    /// Later runs wait (BUFFERED) while one runs. Spinnaker's default is true.
    #[serde(default = "yes")]
    pub limit_concurrent: bool,
    /// With `limitConcurrent`, keep every waiting run instead of only the newest.
    #[serde(default)]
    pub keep_waiting_pipelines: bool,
    #[serde(default)]
    pub disabled: bool,
    /// The revision this is (server-assigned; a save must send the one it read, or get 409).
    #[serde(default)]
    pub revision: i64,
    #[serde(default)]
    pub update_ts: EpochMillis,
    #[serde(default)]
    pub last_modified_by: String,
    /// What the server noticed and did not refuse (stages of types it does not run: the
    /// pipeline is kept, and refused when started). Worked out whenever it is read; never
    /// stored, and ignored when a client sends it back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(flatten)]
    pub extra: Extra,
    /// The document as it was saved: every field as its author wrote it (Spinnaker's stamps,
    /// strings for numbers, nulls, fields gennaker does not know). REST and Gate give this back
    /// ([`Pipeline::to_document`]), so whatever a client read it can send back unchanged; the
    /// typed fields above are the server's lenient reading of it.
    #[serde(skip)]
    pub document: Option<Value>,
}

/// The fields the server stamps on a saved pipeline, over what its author wrote.
const STAMPED: &[&str] = &["id", "application", "name", "revision", "updateTs", "lastModifiedBy"];

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParameterConfig {
    pub name: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub default: String,
    #[serde(default)]
    pub required: bool,
    /// When not empty (and `hasOptions` is not false), the value must be one of these.
    #[serde(default)]
    pub options: Vec<ParameterOption>,
    /// Spinnaker's switch for `options`: Deck keeps an empty option list with it false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_options: Option<bool>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl ParameterConfig {
    /// Whether the value must be one of `options`.
    pub fn offers_options(&self) -> bool {
        self.has_options != Some(false) && !self.options.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParameterOption {
    pub value: String,
}

/// One stage of a pipeline: the options every stage has, and its type's own fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageConfig {
    pub ref_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub requisite_stage_ref_ids: Vec<String>,
    /// On failure, fail the whole pipeline (default) ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_pipeline: Option<bool>,
    /// ... or carry on as FAILED_CONTINUE ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continue_pipeline: Option<bool>,
    /// ... or halt this branch, let the others finish, then fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete_other_branches_then_fail: Option<bool>,
    /// A failing `${...}` fails the stage (default), or leaves the text and warns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_on_failed_expressions: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_enabled: Option<StageEnabled>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restrict_execution_during_time_window: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restricted_execution_window: Option<ExecutionWindow>,
    /// Spinnaker's `type`: which stage type of the registry (`engine::stages` on the server)
    /// runs the stage and reads its own fields.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The type's own fields, as written: the stage type parses them into its typed
    /// configuration (and checks them) when the pipeline is saved and when the stage runs.
    #[serde(flatten)]
    pub fields: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageEnabled {
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Empty (or missing, as Deck leaves it before one is typed): the stage runs.
    #[serde(default)]
    pub expression: String,
}

/// Start only inside these hours (UTC), Spinnaker's `restrictedExecutionWindow`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionWindow {
    #[serde(default)]
    pub whitelist: Vec<TimeRange>,
    /// As Spinnaker (Java's Calendar): 1 = Sunday ... 7 = Saturday; empty = every day.
    #[serde(default)]
    pub days: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeRange {
    pub start_hour: u8,
    #[serde(default)]
    pub start_min: u8,
    pub end_hour: u8,
    #[serde(default)]
    pub end_min: u8,
}


/// What is wrong with a pipeline; `stage` is the refId when a stage is at fault.
///
/// `field` is the path of the value at fault in the pipeline's JSON (`stages[2].waitTime`,
/// `stages[0].clusters[1].capacity`, `parameterConfig[1].name`), so an editor can show the
/// message next to that value's input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub stage: Option<String>,
    pub field: String,
    pub message: String,
}

#[cfg(feature = "ssr")]
impl From<Invalid> for crate::error::AppError {
    fn from(error: Invalid) -> Self {
        Self::Invalid { field: Some(error.field), message: error.message }
    }
}

impl Invalid {
    /// `field` is relative to the stage at `index`.
    /// A fault of stage `index` (refId `ref_id`), its field named relative to the stage.
    pub fn stage(index: usize, ref_id: &str, field: &str, message: impl Into<String>) -> Self {
        let field = if field.is_empty() { format!("stages[{index}]") } else { format!("stages[{index}].{field}") };
        Self { stage: Some(ref_id.to_string()), field, message: format!("stage {ref_id}: {}", message.into()) }
    }
}

/// Orca's answer to a pipeline whose stages have no `refId` at all (written by hand, or from
/// an old export): the stages run one after another in the order listed. Numbers them `1`,
/// `2`, ... with each requiring the one before, in the document itself (what the server
/// stamps). Nothing changes when any stage has a `refId`.
pub fn number_linear_stages(document: &mut Value) -> bool {
    let Some(stages) = document.get_mut("stages").and_then(Value::as_array_mut) else { return false };
    let has_ref_id = |stage: &Value| stage.get("refId").is_some_and(|ref_id| !ref_id.is_null() && ref_id.as_str() != Some(""));
    if stages.is_empty() || stages.iter().any(has_ref_id) {
        return false;
    }
    for (index, stage) in stages.iter_mut().enumerate() {
        if let Value::Object(stage) = stage {
            stage.insert("refId".into(), Value::String((index + 1).to_string()));
            let before = if index == 0 { Vec::new() } else { vec![Value::String(index.to_string())] };
            stage.insert("requisiteStageRefIds".into(), Value::Array(before));
        }
    }
    true
}

/// Parses a pipeline from JSON, naming the stage and field at fault: a missing required field,
/// a wrong type Spinnaker would not coerce either (`lenient`). Each stage's own fields are its stage type's to parse and check.
pub fn parse_pipeline(json: &Value) -> Result<Pipeline, Invalid> {
    if let Some(stages) = json.get("stages").and_then(Value::as_array) {
        for (index, stage) in stages.iter().enumerate() {
            let ref_id = stage.get("refId").and_then(Value::as_str).map_or_else(|| format!("#{}", index + 1), str::to_string);
            if let Err(fault) = super::lenient::from_value::<StageConfig>(stage) {
                return Err(Invalid::stage(index, &ref_id, &fault.path, fault.message));
            }
        }
    }
    super::lenient::from_value(json).map_err(|fault| {
        let field = if fault.path.is_empty() { "pipeline".to_string() } else { fault.path };
        Invalid { stage: None, field, message: fault.message }
    })
}

impl Pipeline {
    /// The pipeline as REST gives it: the document as saved with the server's stamps (`id`,
    /// `revision`, `updateTs`, `lastModifiedBy`, trigger ids it assigned) and `warnings`; a
    /// pipeline that has no document yet is its typed fields.
    pub fn to_document(&self) -> Value {
        let Some(Value::Object(written)) = &self.document else {
            return serde_json::to_value(self).unwrap_or_default();
        };
        let mut document = written.clone();
        let typed = serde_json::to_value(self).unwrap_or_default();
        for key in STAMPED {
            if let Some(value) = typed.get(*key) {
                document.insert((*key).to_string(), value.clone());
            }
        }
        if document.contains_key("triggers") || !self.triggers.is_empty() {
            document.insert("triggers".into(), Value::Array(self.triggers.clone()));
        }
        document.remove("warnings");
        if !self.warnings.is_empty() {
            document.insert("warnings".into(), serde_json::to_value(&self.warnings).unwrap_or_default());
        }
        Value::Object(document)
    }

    /// The document to store: [`Pipeline::to_document`] without the warnings.
    pub fn stored_document(&self) -> Value {
        let mut document = self.to_document();
        if let Value::Object(map) = &mut document {
            map.remove("warnings");
        }
        document
    }

    /// Checks the graph and options: names, unique refIds, known requisites, no cycle,
    /// well-formed expressions (given a parser), execution windows. What each stage type
    /// checks of its own fields is the stage-type registry's (`engine::stages` on the server).
    pub fn validate(&self, parse_expression: &dyn Fn(&str) -> Result<(), String>) -> Result<(), Invalid> {
        let top = |field: &str, message: String| Invalid { stage: None, field: field.into(), message };
        if self.name.trim().is_empty() || self.name.len() > 200 {
            return Err(top("name", "pipeline name must be 1 to 200 characters".into()));
        }
        if self.stages.len() > MAX_STAGES {
            return Err(top("stages", format!("a pipeline has at most {MAX_STAGES} stages, not {}", self.stages.len())));
        }
        let mut ref_ids = BTreeSet::new();
        for (index, stage) in self.stages.iter().enumerate() {
            if stage.ref_id.is_empty() {
                return Err(Invalid::stage(index, &format!("#{}", index + 1), "refId", "every stage needs a refId"));
            }
            if !ref_ids.insert(stage.ref_id.as_str()) {
                return Err(Invalid::stage(index, &stage.ref_id, "refId", "duplicate refId"));
            }
        }
        for (index, stage) in self.stages.iter().enumerate() {
            let invalid = |field: &str, message: String| Invalid::stage(index, &stage.ref_id, field, message);
            for requisite in &stage.requisite_stage_ref_ids {
                if !ref_ids.contains(requisite.as_str()) {
                    return Err(invalid("requisiteStageRefIds", format!("unknown requisite stage {requisite:?}")));
                }
            }
            for (path, text) in strings_with_paths(&serde_json::to_value(stage).unwrap_or_default()) {
                for expression in expressions_in(&text).map_err(|message| invalid(&path, message))? {
                    parse_expression(expression).map_err(|message| invalid(&path, format!("${{{expression}}} does not parse: {message}")))?;
                }
            }
            if let Some(window) = &stage.restricted_execution_window {
                check_window(window).map_err(|(field, message)| invalid(&format!("restrictedExecutionWindow.{field}"), message))?;
            }
        }
        if let Some(cycle) = find_cycle(&self.stages) {
            let index = self.stages.iter().position(|stage| stage.ref_id == cycle).unwrap_or_default();
            return Err(Invalid::stage(index, &cycle, "requisiteStageRefIds", "the stages form a cycle"));
        }
        let mut names = BTreeSet::new();
        for (index, parameter) in self.parameter_config.iter().enumerate() {
            if parameter.name.is_empty() || !names.insert(parameter.name.as_str()) {
                return Err(top(
                    &format!("parameterConfig[{index}].name"),
                    format!("parameter names must be unique and not empty: {:?}", parameter.name),
                ));
            }
        }
        Ok(())
    }

    /// The parameters of a run: defaults filled in, required ones present, options respected.
    pub fn resolve_parameters(&self, given: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, Invalid> {
        let invalid = |name: &str, message: String| Invalid { stage: None, field: format!("parameters.{name}"), message };
        for name in given.keys() {
            if !self.parameter_config.iter().any(|p| &p.name == name) {
                return Err(invalid(name, format!("pipeline {} has no parameter {name:?}", self.name)));
            }
        }
        let mut resolved = BTreeMap::new();
        for parameter in &self.parameter_config {
            let value = given.get(&parameter.name).cloned().unwrap_or_else(|| parameter.default.clone());
            if parameter.required && value.is_empty() {
                return Err(invalid(&parameter.name, format!("parameter {:?} is required", parameter.name)));
            }
            if parameter.offers_options() && !value.is_empty() && !parameter.options.iter().any(|o| o.value == value) {
                let options: Vec<&str> = parameter.options.iter().map(|o| o.value.as_str()).collect();
                return Err(invalid(&parameter.name, format!("parameter {:?} must be one of {options:?}", parameter.name)));
            }
            resolved.insert(parameter.name.clone(), value);
        }
        Ok(resolved)
    }
}

/// Every string inside a JSON value with its path (`clusters[0].stack`; empty for the value
/// itself).
pub fn strings_with_paths(value: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    fn walk(value: &Value, path: String, found: &mut Vec<(String, String)>) {
        match value {
            Value::String(text) => found.push((path, text.clone())),
            Value::Array(items) => items.iter().enumerate().for_each(|(index, item)| walk(item, format!("{path}[{index}]"), found)),
            Value::Object(map) => map.iter().for_each(|(key, item)| {
                let path = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                walk(item, path, found)
            }),
            _ => {}
        }
    }
    walk(value, String::new(), &mut found);
    found
}

/// An execution window's hours and days are in range and each range is not empty.
fn check_window(window: &ExecutionWindow) -> Result<(), (String, String)> {
    for (index, range) in window.whitelist.iter().enumerate() {
        let at = |field: &str| format!("whitelist[{index}].{field}");
        if range.start_hour > 23 {
            return Err((at("startHour"), "startHour must be 0 to 23".into()));
        }
        if range.end_hour > 23 {
            return Err((at("endHour"), "endHour must be 0 to 23".into()));
        }
        if range.start_min > 59 {
            return Err((at("startMin"), "startMin must be 0 to 59".into()));
        }
        if range.end_min > 59 {
            return Err((at("endMin"), "endMin must be 0 to 59".into()));
        }
    }
    if let Some(day) = window.days.iter().find(|day| !(1..=7).contains(*day)) {
        return Err(("days".into(), format!("days are 1 (Sunday) to 7 (Saturday), not {day}")));
    }
    Ok(())
}

/// The `${...}` expressions in a text, with braces balanced (quotes respected).
pub fn expressions_in(text: &str) -> Result<Vec<&str>, String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let body = &rest[start + 2..];
        let end = closing_brace(body).ok_or_else(|| format!("unclosed ${{ in {text:?}"))?;
        found.push(body[..end].trim());
        rest = &body[end + 1..];
    }
    Ok(found)
}

/// The index of the `}` closing an expression body, skipping braces in string literals.
pub fn closing_brace(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (index, c) in body.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '{' => depth += 1,
            '}' if depth == 0 => return Some(index),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Each stage's column in a stage graph, by refId: 0 without requisites, else one more than its
/// deepest requisite's. `stages` are `(refId, requisites)`. As many passes as stages settle
/// every depth without recursion; a cycle (the editor draws unsaved ones) just stops growing.
pub fn graph_depths<'a>(stages: &[(&'a str, &'a [String])]) -> BTreeMap<&'a str, usize> {
    let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
    for _ in 0..stages.len() {
        for (ref_id, requisites) in stages {
            let d = requisites.iter().map(|r| depth.get(r.as_str()).map_or(0, |d| d + 1)).max().unwrap_or(0);
            depth.insert(ref_id, d);
        }
    }
    depth
}

/// A stage on a cycle of requisites, if there is one: what Kahn's ordering cannot place. No
/// recursion, so no stage graph, however long its chains, can exhaust the stack.
fn find_cycle(stages: &[StageConfig]) -> Option<String> {
    let mut waiting_on: HashMap<&str, usize> = stages.iter().map(|s| (s.ref_id.as_str(), s.requisite_stage_ref_ids.len())).collect();
    let mut followers: HashMap<&str, Vec<&str>> = HashMap::new();
    for stage in stages {
        for requisite in &stage.requisite_stage_ref_ids {
            followers.entry(requisite.as_str()).or_default().push(stage.ref_id.as_str());
        }
    }
    let mut ready: Vec<&str> = waiting_on.iter().filter(|(_, count)| **count == 0).map(|(id, _)| *id).collect();
    while let Some(done) = ready.pop() {
        for follower in followers.get(done).into_iter().flatten() {
            if let Some(count) = waiting_on.get_mut(follower) {
                *count -= 1;
                if *count == 0 {
                    ready.push(follower);
                }
            }
        }
        waiting_on.remove(done);
    }
    stages.iter().find(|stage| waiting_on.get(stage.ref_id.as_str()).is_some_and(|count| *count > 0)).map(|stage| stage.ref_id.clone())
}

/// One saved revision of a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineRevision {
    pub revision: i64,
    pub update_ts: EpochMillis,
    pub last_modified_by: String,
    pub pipeline: Pipeline,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(_: &str) -> Result<(), String> {
        Ok(())
    }

    fn pipeline(stages: Value) -> Pipeline {
        parse_pipeline(&json!({"application": "shop", "name": "deploy", "stages": stages})).unwrap()
    }

    #[test]
    fn unknown_fields_of_known_stages_are_kept() {
        let json = json!({"application": "shop", "name": "p", "spelEvaluator": "v4", "stages": [
            {"refId": "1", "type": "wait", "name": "Wait", "waitTime": 5, "comments": "keep me"}
        ]});
        let parsed = parse_pipeline(&json).unwrap();
        let back = serde_json::to_value(&parsed).unwrap();
        assert_eq!(back["stages"][0]["comments"], "keep me");
        assert_eq!(back["spelEvaluator"], "v4");
        assert_eq!(back["stages"][0]["type"], "wait");
    }

    #[test]
    fn errors_name_the_stage_and_field() {
        let untyped = parse_pipeline(&json!({"application": "a", "name": "p", "stages": [{"refId": "7"}]})).unwrap_err();
        assert_eq!((untyped.stage.as_deref(), untyped.field.as_str()), (Some("7"), "stages[0].type"));
        // Unknown stage types and each type's own fields are checked by the stage-type
        // registry (server/src/engine/stages.rs).

        let duplicate = pipeline(json!([{"refId": "1", "type": "wait", "waitTime": 1}, {"refId": "1", "type": "wait", "waitTime": 1}]));
        assert_eq!(duplicate.validate(&ok).unwrap_err().field, "stages[1].refId");
        let unknown_requisite = pipeline(json!([{"refId": "1", "type": "wait", "waitTime": 1, "requisiteStageRefIds": ["9"]}]));
        assert_eq!(unknown_requisite.validate(&ok).unwrap_err().field, "stages[0].requisiteStageRefIds");
        let cycle = pipeline(json!([
            {"refId": "1", "type": "wait", "waitTime": 1, "requisiteStageRefIds": ["2"]},
            {"refId": "2", "type": "wait", "waitTime": 1, "requisiteStageRefIds": ["1"]}
        ]));
        assert!(cycle.validate(&ok).unwrap_err().message.contains("cycle"));
        let unclosed = pipeline(json!([{"refId": "1", "type": "wait", "waitTime": "${parameters.x"}]));
        assert_eq!(unclosed.validate(&ok).unwrap_err().field, "stages[0].waitTime");
        let bad = pipeline(json!([{"refId": "1", "type": "wait", "waitTime": 1}, {"refId": "2", "type": "deploy", "clusters": [{
            "application": "shop", "capacity": {"min": 1, "max": 1, "desired": 1}, "artifact": {"command": ["demo-app", "${1 +}"]}
        }]}]));
        let refuse = |e: &str| if e.ends_with('+') { Err("dangling +".to_string()) } else { Ok(()) };
        let error = bad.validate(&refuse).unwrap_err();
        assert!(error.message.contains("dangling"));
        assert_eq!(error.field, "stages[1].clusters[0].artifact.command[1]", "the value holding the expression");
        // What each stage type checks of its own fields is tested with the stage-type registry
        // (server/src/engine/stages.rs).
        let window = pipeline(json!([{"refId": "1", "type": "wait", "waitTime": 1, "restrictExecutionDuringTimeWindow": true,
            "restrictedExecutionWindow": {"whitelist": [{"startHour": 9, "endHour": 25}], "days": [2]}}]));
        assert_eq!(window.validate(&ok).unwrap_err().field, "stages[0].restrictedExecutionWindow.whitelist[0].endHour");
    }

    #[test]
    fn expressions_are_found_with_braces_in_strings() {
        assert_eq!(expressions_in("a ${x} b ${ 'a}b' + y }").unwrap(), vec!["x", "'a}b' + y"]);
        assert!(expressions_in("${oops").is_err());
        assert!(expressions_in("no expressions").unwrap().is_empty());
    }

    #[test]
    fn parameters_are_checked_against_their_config() {
        let mut p = pipeline(json!([]));
        p.parameter_config = serde_json::from_value(json!([
            {"name": "env", "required": true, "options": [{"value": "dev"}, {"value": "prod"}]},
            {"name": "tag", "default": "latest"}
        ])).unwrap();
        let given = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let resolved = p.resolve_parameters(&given(&[("env", "dev")])).unwrap();
        assert_eq!(resolved["tag"], "latest");
        assert_eq!(p.resolve_parameters(&given(&[])).unwrap_err().field, "parameters.env");
        assert_eq!(p.resolve_parameters(&given(&[("env", "qa")])).unwrap_err().field, "parameters.env");
        assert_eq!(p.resolve_parameters(&given(&[("env", "dev"), ("x", "1")])).unwrap_err().field, "parameters.x");
    }
}
