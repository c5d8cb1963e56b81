//! Helpers over `serde_json::Value` shared by the evaluator: the work meter (the step budget),
//! numbers as Java sees them, type names for messages, and text as Java and Spring write it
//! (`toString()`, string concatenation), always within the string size limit.

use serde_json::{Number, Value};

use super::Error;

/// Counts the work an evaluation does against `Limits::max_steps`: one unit per node evaluated
/// or element visited, and for bulk work (copying values, scanning or building strings) one
/// unit per 4 JSON nodes or 128 bytes, so time and memory stay bounded by the same budget.
/// (Measured in a release build, a budget of 100,000 units is at most about 0.1 s of work.)
#[derive(Debug)]
pub(super) struct Meter {
    used: u64,
    limit: u64,
}

impl Meter {
    pub(super) fn new(limit: u64) -> Self {
        Self { used: 0, limit }
    }

    pub(super) fn charge(&mut self, units: u64) -> Result<(), Error> {
        self.used = self.used.saturating_add(units);
        if self.used > self.limit {
            return Err(Error::TooCostly { limit: self.limit });
        }
        Ok(())
    }

    /// Charges for scanning or producing `bytes` bytes of text.
    pub(super) fn charge_bytes(&mut self, bytes: usize) -> Result<(), Error> {
        self.charge(1 + bytes as u64 / 128)
    }

    /// A deep copy of `value`, paid for before it is made: a copy of a huge value fails without
    /// walking (or allocating) more than the budget allows.
    pub(super) fn copy(&mut self, value: &Value) -> Result<Value, Error> {
        let budget = self.limit.saturating_sub(self.used).saturating_mul(256);
        // In 1/256 units: a node costs 64 (a quarter unit), a byte of text 2.
        let mut cost: u64 = 64;
        let mut pending = vec![value];
        while let Some(next) = pending.pop() {
            match next {
                Value::String(text) => cost = cost.saturating_add(2 * text.len() as u64),
                Value::Array(items) => {
                    cost = cost.saturating_add(64 * items.len() as u64);
                    if cost <= budget {
                        pending.extend(items);
                    }
                }
                Value::Object(map) => {
                    cost = cost.saturating_add(64 * map.len() as u64);
                    if cost <= budget {
                        for (key, item) in map {
                            cost = cost.saturating_add(2 * key.len() as u64);
                            pending.push(item);
                        }
                    }
                }
                _ => {}
            }
            if cost > budget {
                return Err(Error::TooCostly { limit: self.limit });
            }
        }
        self.charge(1 + cost / 256)?;
        Ok(value.clone())
    }
}

/// A number as Java arithmetic sees it: integral (`int`/`long`) or decimal (`double`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    pub(super) fn of(value: &Value) -> Option<Num> {
        let Value::Number(number) = value else { return None };
        Some(match number.as_i64() {
            Some(int) => Num::Int(int),
            // u64 beyond i64 and decimals: as_f64 is always Some for a JSON number.
            None => Num::Float(number.as_f64().unwrap_or(0.0)),
        })
    }

    pub(super) fn as_f64(self) -> f64 {
        match self {
            Num::Int(int) => int as f64,
            Num::Float(float) => float,
        }
    }

    /// As a JSON value; infinities and NaN (which JSON cannot hold) are an error.
    pub(super) fn into_value(self) -> Result<Value, Error> {
        match self {
            Num::Int(int) => Ok(Value::from(int)),
            Num::Float(float) => Number::from_f64(float)
                .map(Value::Number)
                .ok_or_else(|| evaluate_error("the result is not a finite number")),
        }
    }
}

pub(super) fn evaluate_error(message: impl Into<String>) -> Error {
    Error::Evaluate { message: message.into() }
}

pub(super) fn string_too_long(limit: usize) -> Error {
    Error::TooLarge { what: "a string's length in bytes", limit }
}

pub(super) fn too_many_items(limit: usize) -> Error {
    Error::TooLarge { what: "a list's or map's number of items", limit }
}

/// The value's type as messages name it.
pub(super) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(number) if number.is_f64() => "a decimal number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// The value for an error message: short scalars as written, strings quoted and cut.
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::String(text) if text.chars().count() > 40 => {
            format!("'{}...'", text.chars().take(40).collect::<String>())
        }
        Value::String(text) => format!("'{text}'"),
        Value::Number(number) => number_text(number),
        Value::Bool(flag) => flag.to_string(),
        other => type_name(other).to_string(),
    }
}

/// Java's `Double.toString`: `1.0`, `0.001`, `1.0E7`, `1.5E-4`.
pub(super) fn java_double(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude == 0.0 || (1e-3..1e7).contains(&magnitude) {
        let text = value.to_string();
        return if text.contains('.') { text } else { format!("{text}.0") };
    }
    let text = format!("{value:e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    if mantissa.contains('.') { format!("{mantissa}E{exponent}") } else { format!("{mantissa}.0E{exponent}") }
}

fn number_text(number: &Number) -> String {
    match number.as_f64() {
        Some(float) if number.is_f64() => java_double(float),
        _ => number.to_string(),
    }
}

/// A string that refuses to grow beyond the limit.
struct Text {
    text: String,
    limit: usize,
}

impl Text {
    fn push(&mut self, part: &str) -> Result<(), Error> {
        if self.text.len().saturating_add(part.len()) > self.limit {
            return Err(string_too_long(self.limit));
        }
        self.text.push_str(part);
        Ok(())
    }

    /// Java's `Object.toString()`: `[a, b]` for lists, `{k=v, k2=v2}` for maps.
    fn java(&mut self, value: &Value) -> Result<(), Error> {
        match value {
            Value::Null => self.push("null"),
            Value::Bool(flag) => self.push(if *flag { "true" } else { "false" }),
            Value::Number(number) => self.push(&number_text(number)),
            Value::String(text) => self.push(text),
            Value::Array(items) => {
                self.push("[")?;
                for (i, item) in items.iter().enumerate() {
                    self.push(if i == 0 { "" } else { ", " })?;
                    self.java(item)?;
                }
                self.push("]")
            }
            Value::Object(map) => {
                self.push("{")?;
                for (i, (key, item)) in map.iter().enumerate() {
                    self.push(if i == 0 { "" } else { ", " })?;
                    self.push(key)?;
                    self.push("=")?;
                    self.java(item)?;
                }
                self.push("}")
            }
        }
    }

    /// Spring's conversion to `String`: lists join their items with `,`; the rest as Java.
    fn converted(&mut self, value: &Value) -> Result<(), Error> {
        match value {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.push(if i == 0 { "" } else { "," })?;
                    self.converted(item)?;
                }
                Ok(())
            }
            other => self.java(other),
        }
    }
}

/// What Java's `toString()` gives for the value, at most `limit` bytes.
pub(super) fn java_to_string(value: &Value, limit: usize) -> Result<String, Error> {
    let mut text = Text { text: String::new(), limit };
    text.java(value)?;
    Ok(text.text)
}

/// What Spring's type conversion to `String` gives (used by `+` and for string arguments):
/// like `toString()` except that lists are joined with `,`. At most `limit` bytes.
pub(super) fn convert_to_string(value: &Value, limit: usize) -> Result<String, Error> {
    let mut text = Text { text: String::new(), limit };
    text.converted(value)?;
    Ok(text.text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(-0.5), "-0.5");
        assert_eq!(java_double(1234567.0), "1234567.0");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(1.5e-4), "1.5E-4");
        assert_eq!(java_double(0.0), "0.0");
    }

    #[test]
    fn values_print_like_java_and_spring() {
        let value = json!({"a": [1, "x", null], "b": 2.5});
        assert_eq!(java_to_string(&value, 100), Ok("{a=[1, x, null], b=2.5}".to_string()));
        assert_eq!(convert_to_string(&json!(["a", 1, true]), 100), Ok("a,1,true".to_string()));
        assert!(matches!(java_to_string(&json!(["abcdef"]), 4), Err(Error::TooLarge { .. })));
    }

    #[test]
    fn copies_are_paid_for_before_they_are_made() {
        let big = json!(vec!["x".repeat(1000); 1000]);
        let mut meter = Meter::new(100);
        assert!(matches!(meter.copy(&big), Err(Error::TooCostly { limit: 100 })));
        let mut meter = Meter::new(100_000);
        assert_eq!(meter.copy(&big), Ok(big.clone()));
        assert!(meter.used > 7000, "1 MB of text costs about 8000 units, charged {}", meter.used);
    }
}
