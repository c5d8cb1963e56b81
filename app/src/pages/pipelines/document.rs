//! The pipeline being edited, as the one piece of state its editors share: the JSON text.
//!
//! The Triggers and Notifications forms read their lists out of the parsed text and write every
//! change straight back into it, so the forms and the JSON editor can never disagree, whichever
//! one was used last, and what is saved is exactly what the text says. Fields the forms do not
//! know (a cron trigger's `id`, anything Spinnaker adds) stay where they are.
//!
//! The last save's error is kept beside the text, so each input can show the error that names
//! it (the server names fields as `triggers[0].source`).

use leptos::prelude::*;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::error::AppError;

#[derive(Clone, Copy)]
pub struct Document {
    /// The JSON as typed.
    pub text: RwSignal<String>,
    /// The text parsed, when it is a JSON object.
    parsed: Memo<Option<Value>>,
    /// What the last save said was wrong; cleared when items are added or removed, as its
    /// `[index]` may then name another item.
    pub problem: RwSignal<Option<AppError>>,
}

impl Document {
    pub fn new(text: RwSignal<String>) -> Self {
        let parsed = Memo::new(move |_| text.with(|text| serde_json::from_str::<Value>(text).ok().filter(Value::is_object)));
        Self { text, parsed, problem: RwSignal::new(None) }
    }

    pub fn parses(self) -> bool {
        self.parsed.with(Option::is_some)
    }

    /// Reads the parsed document (tracked).
    pub fn with<T>(self, read: impl FnOnce(Option<&Value>) -> T) -> T {
        self.parsed.with(|parsed| read(parsed.as_ref()))
    }

    /// The `type` of each item of `list` (`triggers`, `notifications`).
    pub fn kinds(self, list: &str) -> Vec<String> {
        self.with(|root| {
            let items = root.and_then(|root| root.get(list)).and_then(Value::as_array);
            items.into_iter().flatten().map(|item| text_of(item, "type")).collect()
        })
    }

    /// Changes the document and writes it back as text; does nothing while the text does not
    /// parse (the forms are disabled then).
    pub fn edit(self, change: impl FnOnce(&mut Map<String, Value>)) {
        let Some(Value::Object(mut root)) = self.text.with_untracked(|text| serde_json::from_str::<Value>(text).ok()) else {
            return;
        };
        change(&mut root);
        self.text.set(pretty(&Value::Object(root)));
    }

    /// Appends `item` to `list`, creating the list if the document has none.
    pub fn push(self, list: &str, item: Value) {
        self.edit(|root| match root.entry(list).or_insert_with(|| Value::Array(Vec::new())) {
            Value::Array(items) => items.push(item),
            other => *other = Value::Array(vec![item]),
        });
        self.problem.set(None);
    }

    pub fn remove(self, list: &str, index: usize) {
        self.edit(|root| {
            if let Some(Value::Array(items)) = root.get_mut(list)
                && index < items.len()
            {
                items.remove(index);
            }
        });
        self.problem.set(None);
    }

    /// The value at `path` (`stages[0].waitTime`, see [`super::path`]) (tracked).
    pub fn value_at(self, path: &str) -> Option<Value> {
        self.with(|root| root.and_then(|root| super::path::get(root, path)).cloned())
    }

    /// Sets (or, with `None`, removes) the value at `path`.
    pub fn set_at(self, path: &str, value: Option<Value>) {
        self.edit(|root| {
            let mut whole = Value::Object(std::mem::take(root));
            super::path::set(&mut whole, path, value);
            if let Value::Object(map) = whole {
                *root = map;
            }
        });
    }

    /// The message of the last check's or save's error when it concerns the value at `path` or
    /// something inside it (tracked).
    pub fn problem_in(self, path: &str) -> Option<String> {
        self.problem.with(|problem| {
            let error = problem.as_ref()?;
            super::path::concerns(error.field()?, path).then(|| error.to_string())
        })
    }

    /// The message of the last save's error when it names exactly `field` (tracked).
    pub fn problem_at(self, field: &str) -> Option<String> {
        self.problem.with(|problem| problem.as_ref().filter(|error| error.field() == Some(field)).map(ToString::to_string))
    }

    /// The field named by the last save's error below `prefix` (`triggers[0]`), relative to it
    /// (`source`, `payloadConstraints.branch`, or empty for the item itself), and its message.
    pub fn problem_under(self, prefix: &str) -> Option<(String, String)> {
        self.problem.with(|problem| {
            let error = problem.as_ref()?;
            let field = error.field()?;
            let rest = field.strip_prefix(prefix)?;
            let relative = if rest.is_empty() { "" } else { rest.strip_prefix('.')? };
            Some((relative.to_string(), error.to_string()))
        })
    }
}

/// The text of `key` in a JSON object, empty when missing or not text.
pub fn text_of(object: &Value, key: &str) -> String {
    object.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// One trigger or notification while it is edited: a new one in an Add form, or one already in
/// the document. The inputs are written once, against this, for both.
#[derive(Clone, Copy)]
pub enum Item {
    New {
        /// `triggers` or `notifications`: names the inputs' ids.
        list: &'static str,
        fields: RwSignal<Map<String, Value>>,
        /// Checked in the browser before adding; its `field` is a bare key (`address`).
        problem: RwSignal<Option<AppError>>,
    },
    Listed { doc: Document, list: &'static str, index: usize },
}

impl Item {
    pub fn is_new(self) -> bool {
        matches!(self, Self::New { .. })
    }

    /// The value of `key` (tracked).
    pub fn get(self, key: &str) -> Option<Value> {
        match self {
            Self::New { fields, .. } => fields.with(|fields| fields.get(key).cloned()),
            Self::Listed { doc, list, index } => doc.with(|root| root?.get(list)?.get(index)?.get(key).cloned()),
        }
    }

    pub fn text(self, key: &str) -> String {
        self.get(key).and_then(|value| value.as_str().map(str::to_string)).unwrap_or_default()
    }

    /// The strings of an array field (`when`, `status`).
    pub fn texts(self, key: &str) -> Vec<String> {
        match self.get(key) {
            Some(Value::Array(items)) => items.iter().filter_map(|item| item.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        }
    }

    pub fn update(self, change: impl FnOnce(&mut Map<String, Value>)) {
        match self {
            Self::New { fields, .. } => fields.update(change),
            Self::Listed { doc, list, index } => doc.edit(|root| {
                if let Some(Value::Array(items)) = root.get_mut(list)
                    && let Some(Value::Object(item)) = items.get_mut(index)
                {
                    change(item);
                }
            }),
        }
    }

    /// Sets a text field; an optional one left empty is removed rather than sent as `""`
    /// (an empty `secretName` would name a secret that does not exist).
    pub fn set_text(self, key: &str, text: String, optional: bool) {
        self.update(|item| {
            if optional && text.trim().is_empty() {
                item.remove(key);
            } else {
                item.insert(key.to_string(), Value::String(text));
            }
        });
    }

    /// The field's name in the server's errors (`triggers[0].source`); a new item's is its key.
    pub fn path(self, key: &str) -> String {
        match self {
            Self::New { .. } => key.to_string(),
            Self::Listed { list, index, .. } => format!("{list}[{index}].{key}"),
        }
    }

    /// A unique DOM id for the input of `key` (dots would need escaping in selectors).
    pub fn dom_id(self, key: &str) -> String {
        let key = key.replace(|c: char| !c.is_ascii_alphanumeric(), "-");
        match self {
            Self::New { list, .. } => format!("new-{list}-{key}"),
            Self::Listed { list, index, .. } => format!("{list}-{index}-{key}"),
        }
    }

    /// The error naming `key`, if any (tracked).
    pub fn problem(self, key: &str) -> Option<String> {
        match self {
            Self::New { problem, .. } => {
                problem.with(|problem| problem.as_ref().filter(|error| error.field() == Some(key)).map(ToString::to_string))
            }
            Self::Listed { doc, .. } => doc.problem_at(&self.path(key)),
        }
    }
}

/// Keys in the order people read them: what it is, then its fields, then the bookkeeping.
/// Other keys follow, alphabetically.
const KEY_ORDER: &[&str] = &[
    "id",
    "application",
    "refId",
    "name",
    "type",
    "enabled",
    "runAsUser",
    "requisiteStageRefIds",
    "parameterConfig",
    "stages",
    "triggers",
    "notifications",
    "limitConcurrent",
    "keepWaitingPipelines",
    "disabled",
    "revision",
    "updateTs",
    "lastModifiedBy",
];

/// Pretty JSON with keys in [`KEY_ORDER`]. serde_json's `Value` sorts keys alphabetically
/// (turning on its `preserve_order` would change every map on the server too), which would put
/// `name` in the middle of a pipeline the first time a form touched it.
pub fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(&Ordered(value)).unwrap_or_default()
}

struct Ordered<'a>(&'a Value);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort_by_key(|key| (KEY_ORDER.iter().position(|known| known == key).unwrap_or(KEY_ORDER.len()), key.as_str()));
                let mut out = serializer.serialize_map(Some(keys.len()))?;
                for key in keys {
                    out.serialize_entry(key, &Ordered(&map[key]))?;
                }
                out.end()
            }
            Value::Array(items) => serializer.collect_seq(items.iter().map(Ordered)),
            other => other.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn pretty_puts_what_a_thing_is_first() {
        let text = pretty(&json!({"stages": [], "name": "p", "id": "1", "triggers": [{"source": "ci", "type": "webhook", "enabled": true}]}));
        let at = |needle: &str| text.find(needle).unwrap();
        assert!(at("\"id\"") < at("\"name\"") && at("\"name\"") < at("\"stages\"") && at("\"stages\"") < at("\"triggers\""), "{text}");
        assert!(at("\"type\"") < at("\"enabled\"") && at("\"enabled\"") < at("\"source\""), "{text}");
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["triggers"][0]["source"], "ci");
    }

    #[test]
    fn forms_edit_the_text_and_keep_what_they_do_not_know() {
        let owner = Owner::new();
        owner.set();
        let doc = Document::new(RwSignal::new(r#"{"name": "p", "triggers": [{"type": "cron", "cronExpression": "* * * * *", "id": "keep"}]}"#.into()));
        doc.push("triggers", json!({"type": "webhook", "source": ""}));
        assert_eq!(doc.kinds("triggers"), vec!["cron", "webhook"]);
        let hook = Item::Listed { doc, list: "triggers", index: 1 };
        hook.set_text("source", "ci".into(), false);
        hook.set_text("secretName", "  ".into(), true);
        let parsed: Value = serde_json::from_str(&doc.text.get_untracked()).unwrap();
        assert_eq!(parsed["triggers"][1], json!({"type": "webhook", "source": "ci"}));
        assert_eq!(parsed["triggers"][0]["id"], "keep");

        doc.problem.set(Some(AppError::invalid("triggers[1].payloadConstraints.b", "bad regex")));
        assert_eq!(doc.problem_under("triggers[1]"), Some(("payloadConstraints.b".into(), "bad regex".into())));
        assert_eq!(doc.problem_under("triggers[0]"), None);
        assert_eq!(doc.problem_under("triggers[1"), None, "a prefix of the index is another item");
        doc.remove("triggers", 0);
        assert_eq!(doc.kinds("triggers"), vec!["webhook"]);
        assert!(doc.problem.get_untracked().is_none(), "indexes moved: the error no longer names the right item");

        doc.text.set("{ not json".into());
        assert!(!doc.parses());
        doc.push("triggers", json!({"type": "manual"}));
        assert_eq!(doc.text.get_untracked(), "{ not json", "a broken text is never overwritten");
    }

    #[test]
    fn ids_and_paths_name_the_field() {
        let owner = Owner::new();
        owner.set();
        let doc = Document::new(RwSignal::new("{}".into()));
        let listed = Item::Listed { doc, list: "triggers", index: 2 };
        assert_eq!(listed.path("source"), "triggers[2].source");
        assert_eq!(listed.dom_id("payloadConstraints.a.b"), "triggers-2-payloadConstraints-a-b");
    }
}
