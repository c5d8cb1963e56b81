//! Reading JSON as Spinnaker reads it. Orca and Front50 read pipelines with Jackson, which
//! coerces loose values: `"30"` where a number is expected, `"false"` where a boolean is,
//! a number or a boolean where text is, and `null` for anything (the field's default). Real
//! pipelines are full of these, so gennaker's typed views of a pipeline and of each stage's
//! configuration are read through [`from_value`], which does the same coercions, and only
//! those, before giving up with the path of the field at fault.
//!
//! Only the typed *view* is coerced: the document a user saved is stored and given back as
//! written (see `Pipeline::document`).
//!
//! How: serde reports the first field it cannot read, with its path (`serde_path_to_error`);
//! if the value there is one Jackson would coerce, it is coerced in a copy and the read is
//! tried again, at most [`MAX_COERCIONS`] times. Where serde cannot say the path (inside a
//! `#[serde(flatten)]`), the value named by the error is looked for in the deepest object the
//! path reaches.

use serde::de::DeserializeOwned;
use serde_json::{Number, Value};
use serde_path_to_error::Segment;

/// The most values coerced in one read: a document with more loose values than this is read
/// as far as that and then refused with the next field at fault.
pub const MAX_COERCIONS: usize = 256;

/// A field that could not be read even leniently: its path (`clusters[0].capacity.min`, empty
/// for the whole) and what is wrong, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() { f.write_str(&self.message) } else { write!(f, "{}: {}", self.path, self.message) }
    }
}

/// Reads `value` as `T`, coercing loose values as Jackson would (see the module doc).
pub fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, Fault> {
    let mut current = value.clone();
    for _ in 0..=MAX_COERCIONS {
        let error = match serde_path_to_error::deserialize::<_, T>(current.clone()) {
            Ok(read) => return Ok(read),
            Err(error) => error,
        };
        let segments: Vec<Segment> = error.path().iter().cloned().collect();
        let message = error.into_inner().to_string();
        if !coerce(&mut current, &segments, &message) {
            return Err(Fault { path: path_text(&segments, &message), message: in_words(&message) });
        }
    }
    Err(Fault { path: String::new(), message: format!("more than {MAX_COERCIONS} values needed coercing") })
}

/// The path as the rest of gennaker writes it (`stages[1].waitTime`); a missing or unknown
/// field's name is taken from the message when serde's path stops short of it.
fn path_text(segments: &[Segment], message: &str) -> String {
    let mut text = String::new();
    for segment in segments {
        match segment {
            Segment::Seq { index } => text.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(key);
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    if let Some(name) = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next()) {
        if !text.is_empty() {
            text.push('.');
        }
        text.push_str(name);
    }
    text
}

/// serde's words, with its internal names replaced by what a user writes.
fn in_words(message: &str) -> String {
    let message = message.replace(
        "data did not match any variant of untagged enum NumberOrExpression",
        "expected a number or an expression such as ${parameters.seconds}",
    );
    match message.split_once(" at line ") {
        Some((words, _)) => words.to_string(),
        None => message,
    }
}

/// What serde found where it expected something else: `invalid type: string "30", expected u64`.
#[derive(Debug, PartialEq)]
enum Found {
    Text(String),
    Integer(String),
    Decimal(String),
    Boolean(bool),
    Null,
}

fn found_in(message: &str) -> Option<(Found, &str)> {
    let rest = message.strip_prefix("invalid type: ")?;
    let (found, expected) = rest.split_once(", expected ")?;
    let found = if let Some(text) = found.strip_prefix("string \"").and_then(|t| t.strip_suffix('"')) {
        Found::Text(text.to_string())
    } else if let Some(number) = found.strip_prefix("integer `").and_then(|t| t.strip_suffix('`')) {
        Found::Integer(number.to_string())
    } else if let Some(number) = found.strip_prefix("floating point `").and_then(|t| t.strip_suffix('`')) {
        Found::Decimal(number.to_string())
    } else if let Some(flag) = found.strip_prefix("boolean `").and_then(|t| t.strip_suffix('`')) {
        Found::Boolean(flag == "true")
    } else if found == "null" {
        Found::Null
    } else {
        return None;
    };
    Some((found, expected))
}

fn expects_integer(expected: &str) -> bool {
    ["u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize", "integer"].iter().any(|name| expected.contains(name))
}

/// The value Jackson would read `found` as, given what serde `expected`; `None` for `null`
/// (the field is dropped, so its default applies) and when Jackson would refuse too.
fn coerced(found: &Found, expected: &str) -> Option<Option<Value>> {
    match found {
        Found::Null => Some(None),
        Found::Text(text) => {
            let text = text.trim();
            if expected.contains("a boolean") {
                match text.to_ascii_lowercase().as_str() {
                    "true" => Some(Some(Value::Bool(true))),
                    "false" => Some(Some(Value::Bool(false))),
                    _ => None,
                }
            } else if expects_integer(expected) {
                text.parse::<i64>().ok().map(|n| Some(Value::from(n))).or_else(|| text.parse::<u64>().ok().map(|n| Some(Value::from(n))))
            } else if expected.contains("f32") || expected.contains("f64") || expected.contains("float") {
                text.parse::<f64>().ok().and_then(Number::from_f64).map(|n| Some(Value::Number(n)))
            } else {
                None
            }
        }
        Found::Integer(number) | Found::Decimal(number) if expected.contains("a string") => Some(Some(Value::String(number.clone()))),
        Found::Boolean(flag) if expected.contains("a string") => Some(Some(Value::String(flag.to_string()))),
        _ => None,
    }
}

/// Whether `value` is what serde reported finding.
fn is_found(value: &Value, found: &Found) -> bool {
    match (value, found) {
        (Value::String(text), Found::Text(wanted)) => text == wanted,
        (Value::Number(number), Found::Integer(wanted) | Found::Decimal(wanted)) => number.to_string() == *wanted,
        (Value::Bool(flag), Found::Boolean(wanted)) => flag == wanted,
        (Value::Null, Found::Null) => true,
        _ => false,
    }
}

/// Coerces the value the error is about; false when there is nothing Jackson would coerce.
fn coerce(document: &mut Value, segments: &[Segment], message: &str) -> bool {
    let Some((found, expected)) = found_in(message) else { return false };
    let Some(replacement) = coerced(&found, expected) else { return false };
    // Follow the path as far as it goes; the last step names the value itself, unless serde
    // lost track inside a flattened struct, when it names the struct holding it.
    let mut reached: &mut Value = document;
    for (position, segment) in segments.iter().enumerate() {
        let exists = match (segment, &*reached) {
            (Segment::Map { key }, Value::Object(map)) => map.contains_key(key),
            (Segment::Seq { index }, Value::Array(items)) => *index < items.len(),
            _ => false,
        };
        if !exists {
            break;
        }
        if position + 1 == segments.len() && replace_child(reached, segment, &found, replacement.clone()) {
            return true;
        }
        reached = match (segment, reached) {
            (Segment::Map { key }, Value::Object(map)) => map.get_mut(key).expect("checked above"),
            (Segment::Seq { index }, Value::Array(items)) => &mut items[*index],
            _ => unreachable!("checked above"),
        };
    }
    replace_within(reached, &found, replacement, 0)
}

fn replace_child(parent: &mut Value, segment: &Segment, found: &Found, replacement: Option<Value>) -> bool {
    match (segment, parent) {
        (Segment::Map { key }, Value::Object(map)) => {
            if !map.get(key).is_some_and(|value| is_found(value, found)) {
                return false;
            }
            match replacement {
                Some(value) => map.insert(key.clone(), value),
                None => map.remove(key),
            };
            true
        }
        (Segment::Seq { index }, Value::Array(items)) => {
            if !items.get(*index).is_some_and(|value| is_found(value, found)) {
                return false;
            }
            match replacement {
                Some(value) => items[*index] = value,
                None => {
                    items.remove(*index);
                }
            }
            true
        }
        _ => false,
    }
}

/// The first value (breadth-first, a few levels deep) equal to what serde found, replaced.
fn replace_within(value: &mut Value, found: &Found, replacement: Option<Value>, depth: usize) -> bool {
    const MAX_DEPTH: usize = 3;
    if let Value::Object(map) = value
        && let Some(key) = map.iter().find(|(_, child)| is_found(child, found)).map(|(key, _)| key.clone())
    {
        match replacement {
            Some(new) => map.insert(key, new),
            None => map.remove(&key),
        };
        return true;
    }
    if depth >= MAX_DEPTH {
        return false;
    }
    match value {
        Value::Object(map) => map.values_mut().any(|child| replace_within(child, found, replacement.clone(), depth + 1)),
        Value::Array(items) => items.iter_mut().any(|child| replace_within(child, found, replacement.clone(), depth + 1)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Capacity {
        min: u32,
        desired: u32,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Target {
        #[serde(default)]
        account: String,
        #[serde(default)]
        scale_down: bool,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Cluster {
        capacity: Capacity,
        #[serde(default)]
        load_balancers: Vec<String>,
        #[serde(default)]
        prefer_larger_over_newer: bool,
        #[serde(default)]
        delay: Option<f64>,
        #[serde(flatten)]
        target: Target,
        #[serde(flatten)]
        extra: BTreeMap<String, Value>,
    }

    #[test]
    fn loose_values_are_read_as_jackson_reads_them() {
        let cluster: Cluster = from_value(&json!({
            "capacity": {"min": "1", "desired": 3},
            "loadBalancers": null,
            "preferLargerOverNewer": "false",
            "delay": "1.5",
            "account": 42,
            "scaleDown": "TRUE",
            "appConfig": null,
        }))
        .unwrap();
        assert_eq!(cluster.capacity, Capacity { min: 1, desired: 3 });
        assert!(cluster.load_balancers.is_empty());
        assert!(!cluster.prefer_larger_over_newer);
        assert_eq!(cluster.delay, Some(1.5));
        assert_eq!(cluster.target, Target { account: "42".into(), scale_down: true }, "inside a flatten too");
        assert_eq!(cluster.extra.get("appConfig"), Some(&Value::Null), "unknown fields are kept as written");
    }

    #[test]
    fn what_jackson_refuses_is_refused_with_its_path_in_words() {
        let fault = from_value::<Vec<Cluster>>(&json!([{"capacity": {"min": "one", "desired": 1}}])).unwrap_err();
        assert_eq!(fault.path, "[0].capacity.min");
        assert!(fault.message.contains("invalid type: string \"one\""), "{fault}");
        let fault = from_value::<Cluster>(&json!({"capacity": {"min": 1}})).unwrap_err();
        assert_eq!(fault.path, "capacity.desired");
        let fault = from_value::<Cluster>(&json!({"capacity": null})).unwrap_err();
        assert_eq!(fault.path, "capacity", "a required field given as null is missing: {fault}");
    }
}
