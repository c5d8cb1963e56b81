//! What the pipeline editor knows of a stage type, as the server's stage-type registry says it
//! (`GET /api/v1/stageTypes`): the name users know it by, a line about it, its fields (where
//! each is in the stage's JSON, how it is typed in, a line of help), the lists of items it
//! holds (a deploy's clusters, a check's preconditions) and the JSON a new stage starts with.
//! The editor has no table of its own: a stage type added on the server shows in the editor.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a value is typed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "choices", rename_all = "camelCase")]
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
    /// One of these; the empty value removes the key.
    Choice(Vec<Choice>),
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
    /// Kubernetes manifests: YAML documents or JSON, stored as a list of objects (YAML is read
    /// by the server as it is typed).
    Manifests,
    /// Seconds, stored as milliseconds (`stageTimeoutMs`).
    Millis,
    /// An expression that decides whether the stage runs (`stageEnabled`).
    Condition,
    /// Time ranges `09:00-17:00, 20:00-22:00` (an execution window's `whitelist`).
    Hours,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

/// Choices from `(value, label)` pairs.
pub fn choices(pairs: &[(&str, &str)]) -> Input {
    Input::Choice(pairs.iter().map(|(value, label)| Choice { value: value.to_string(), label: label.to_string() }).collect())
}

/// One input of a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Field {
    /// The path inside the stage (or inside one item of a list): `capacity.desired`.
    pub key: String,
    pub label: String,
    #[serde(default)]
    pub help: String,
    pub input: Input,
    /// Shown only while the item's `key` holds `value` (a precondition's fields by its type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shown_when: Option<ShownWhen>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownWhen {
    pub key: String,
    pub value: String,
}

impl Field {
    pub fn new(key: &str, label: &str, input: Input, help: &str) -> Self {
        Self { key: key.into(), label: label.into(), help: help.into(), input, shown_when: None }
    }

    /// This field, shown only while the item's `key` is `value`.
    pub fn when(mut self, key: &str, value: &str) -> Self {
        self.shown_when = Some(ShownWhen { key: key.into(), value: value.into() });
        self
    }

    /// Whether the field shows in `item` (the stage, or one item of a list).
    pub fn shown_in(&self, item: Option<&Value>) -> bool {
        self.shown_when.as_ref().is_none_or(|when| {
            let held = item.and_then(|item| item.get(&when.key)).and_then(Value::as_str).unwrap_or_default();
            held == when.value
        })
    }
}

/// A list of items of a stage, each in a fieldset of its own, with Add and Remove.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldList {
    /// Where the list is in the stage: `clusters`.
    pub key: String,
    /// What one item is called: `Cluster` (the fieldset says `Cluster 2`, the button
    /// `Add cluster`).
    pub noun: String,
    pub fields: Vec<Field>,
    /// What an added item starts as.
    pub new_item: Value,
    /// Items the list keeps (Remove is not offered below it).
    #[serde(default)]
    pub min_items: usize,
    /// What the form says while the list is empty.
    #[serde(default)]
    pub empty: String,
}

/// A stage type as the editor shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageTypeInfo {
    /// Spinnaker's `type`: `deploy`, `wait`, ...
    #[serde(rename = "type")]
    pub type_name: String,
    /// The name users know it by: `Deploy`, `Manual Judgment`.
    pub label: String,
    pub description: String,
    /// Its own fields, outside its lists.
    pub fields: Vec<Field>,
    #[serde(default)]
    pub lists: Vec<FieldList>,
    /// Its own fields as a new stage of it starts: what makes it valid and useful at once.
    pub defaults: Value,
}

impl StageTypeInfo {
    /// Every input path the type's form shows for `stage` (its lists' items by index), for
    /// telling which server errors have an input to sit next to.
    pub fn shown_paths(&self, at: &str, stage: Option<&Value>) -> Vec<String> {
        let mut paths: Vec<String> = self.fields.iter().map(|field| format!("{at}.{}", field.key)).collect();
        for list in &self.lists {
            let count = stage.and_then(|stage| stage.get(&list.key)).and_then(Value::as_array).map_or(0, Vec::len);
            for index in 0..count {
                paths.extend(list.fields.iter().map(|field| format!("{at}.{}[{index}].{}", list.key, field.key)));
            }
        }
        paths
    }
}

/// The stage types a server runs, in the order the Add menu offers them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageCatalog(pub Vec<StageTypeInfo>);

impl StageCatalog {
    pub fn find(&self, type_name: &str) -> Option<&StageTypeInfo> {
        self.0.iter().find(|info| info.type_name == type_name)
    }

    /// The name users know the type by (the type itself when this server does not run it).
    pub fn label<'a>(&'a self, type_name: &'a str) -> &'a str {
        self.find(type_name).map_or(type_name, |info| info.label.as_str())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_show_by_the_value_they_depend_on() {
        let field = Field::new("context.stageName", "Stage", Input::Text, "").when("type", "stageStatus");
        assert!(field.shown_in(Some(&json!({"type": "stageStatus"}))));
        assert!(!field.shown_in(Some(&json!({"type": "expression"}))));
        assert!(Field::new("x", "X", Input::Text, "").shown_in(None));
    }

    #[test]
    fn shown_paths_cover_every_item_of_a_list() {
        let info = StageTypeInfo {
            type_name: "deploy".into(),
            label: "Deploy".into(),
            description: String::new(),
            fields: vec![Field::new("note", "Note", Input::Text, "")],
            lists: vec![FieldList {
                key: "clusters".into(),
                noun: "Cluster".into(),
                fields: vec![Field::new("capacity.min", "Min", Input::Number, "")],
                new_item: json!({}),
                min_items: 1,
                empty: String::new(),
            }],
            defaults: json!({}),
        };
        let paths = info.shown_paths("stages[1]", Some(&json!({"clusters": [{}, {}]})));
        assert_eq!(paths, vec!["stages[1].note", "stages[1].clusters[0].capacity.min", "stages[1].clusters[1].capacity.min"]);
        let round: StageTypeInfo = serde_json::from_value(serde_json::to_value(&info).unwrap()).unwrap();
        assert_eq!(round, info);
        let choice = serde_json::to_value(choices(&[("a", "A")])).unwrap();
        assert_eq!(choice, json!({"kind": "choice", "choices": [{"value": "a", "label": "A"}]}));
    }
}
