//! The pure `#name(x)` helpers kork registers for every Spinnaker expression
//! (`JsonExpressionFunctionProvider`, `StringExpressionFunctionProvider`, and `#readJson` from
//! Orca's `UrlExpressionFunctionProvider`), with their Java semantics. The helpers that fetch
//! URLs are refused when the expression is parsed: expressions perform no I/O.

use base64::Engine;
use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::Value;

use super::Error;
use super::eval::{Evaluator, Val};
use super::types::{int32, parse_double};
use super::values::{Num, convert_to_string, describe, string_too_long, type_name};

/// Orca's helpers that download from a URL.
pub(super) fn performs_io(name: &str) -> bool {
    matches!(name, "fromUrl" | "jsonFromUrl" | "yamlFromUrl" | "propertiesFromUrl")
}

/// Java's `Base64.getDecoder()`: standard alphabet, padding optional.
const JAVA_DECODER: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Runs the built-in `name`, or `None` when there is no such built-in (the caller's
/// [`super::Functions`] are asked next).
pub(super) fn builtin(ev: &mut Evaluator<'_>, name: &str, args: &[Val<'_>]) -> Option<Result<Value, Error>> {
    let run: fn(&mut Evaluator<'_>, &Value) -> Result<Value, Failure> = match name {
        "toJson" => to_json,
        "readJson" => read_json,
        "toInt" => to_int,
        "toFloat" => to_float,
        "toBoolean" => to_boolean,
        "toBase64" => to_base64,
        "fromBase64" => from_base64,
        "alphanumerical" => alphanumerical,
        _ => return None,
    };
    let result = match args {
        [arg] => run(ev, arg),
        _ => Err(Failure::Message(format!("takes 1 argument, not {}", args.len()))),
    };
    Some(result.map_err(|failure| match failure {
        Failure::Limit(error) => error,
        Failure::Message(message) => Error::Function { name: name.into(), message },
    }))
}

/// Why a helper failed: a limit (reported as such) or its own complaint about the argument.
enum Failure {
    Limit(Error),
    Message(String),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Limit(error)
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Message(message)
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Self {
        Failure::Message(message.into())
    }
}

/// A conversion's error as the helper's complaint.
fn complaint(error: Error) -> Failure {
    Failure::Message(error.to_string())
}

/// The argument as the `String` parameter of a kork helper receives it: Spring converts
/// numbers and booleans to text; null and maps are refused.
fn text(ev: &mut Evaluator<'_>, value: &Value) -> Result<String, Failure> {
    match value {
        Value::String(text) => {
            ev.meter.charge_bytes(text.len())?;
            Ok(text.clone())
        }
        Value::Null | Value::Object(_) => Err(format!("needs a string, not {}", type_name(value)).into()),
        other => Ok(convert_to_string(other, ev.limits.max_string)?),
    }
}

/// `#toJson(x)`: compact JSON. Like kork, refuses a result containing `${`, so that the JSON
/// of a pipeline fragment cannot smuggle in a new expression.
fn to_json(ev: &mut Evaluator<'_>, value: &Value) -> Result<Value, Failure> {
    let limit = ev.limits.max_string;
    let mut writer = Bounded { bytes: Vec::new(), limit, exceeded: false };
    if let Err(error) = serde_json::to_writer(&mut writer, value) {
        return Err(if writer.exceeded { string_too_long(limit).into() } else { error.to_string().into() });
    }
    ev.meter.charge_bytes(writer.bytes.len())?;
    let json = String::from_utf8(writer.bytes).map_err(|error| error.to_string())?;
    if json.contains("${") {
        return Err("the result cannot contain an expression ('${')".into());
    }
    Ok(Value::String(json))
}

/// `#readJson(text)`: a list when the text starts with `[`, otherwise an object (as Orca).
fn read_json(ev: &mut Evaluator<'_>, value: &Value) -> Result<Value, Failure> {
    let Value::String(json) = value else {
        return Err(format!("needs a string, not {}", type_name(value)).into());
    };
    ev.meter.charge_bytes(json.len())?;
    // serde_json refuses nesting deeper than 128 levels, so parsing cannot overflow the stack.
    let parsed: Value =
        serde_json::from_str(json).map_err(|error| format!("{} is not JSON: {error}", describe(value)))?;
    match (json.starts_with('['), &parsed) {
        (true, Value::Array(_)) | (false, Value::Object(_)) => {}
        _ => return Err("expects a JSON object, or a list when the text starts with '['".into()),
    }
    let mut pending = vec![&parsed];
    while let Some(next) = pending.pop() {
        match next {
            Value::Array(items) => {
                ev.check_items(items.len())?;
                pending.extend(items);
            }
            Value::Object(map) => {
                ev.check_items(map.len())?;
                pending.extend(map.values());
            }
            _ => {}
        }
    }
    Ok(parsed)
}

/// `#toInt(text)`: Java's `Integer.valueOf`, so 32-bit and digits only.
fn to_int(ev: &mut Evaluator<'_>, value: &Value) -> Result<Value, Failure> {
    let text = text(ev, value)?;
    int32(&Value::String(text)).map(Value::from).map_err(complaint)
}

/// `#toFloat(text)`: Java's `Float.valueOf` (kept as a double: JSON has one number type).
fn to_float(ev: &mut Evaluator<'_>, value: &Value) -> Result<Value, Failure> {
    let text = text(ev, value)?;
    let float = parse_double(&text).ok_or_else(|| format!("cannot convert '{text}' to a number"))?;
    Num::Float(float).into_value().map_err(complaint)
}

/// `#toBoolean(text)`: Java's `Boolean.valueOf`, true only for "true" in any case.
fn to_boolean(ev: &mut Evaluator<'_>, value: &Value) -> Result<Value, Failure> {
    match value {
        Value::Null => Ok(Value::Bool(false)),
        other => Ok(Value::Bool(text(ev, other)?.eq_ignore_ascii_case("true"))),
    }
}

fn to_base64(ev: &mut Evaluator<'_>, value: &Value) -> Result<Value, Failure> {
    let text = text(ev, value)?;
    let encoded_length = text.len().div_ceil(3).saturating_mul(4);
    ev.check_string(encoded_length)?;
    ev.meter.charge_bytes(encoded_length)?;
    Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(text)))
}

/// `#fromBase64(text)`: decoded as UTF-8, invalid sequences replaced (as Java's `new String`).
fn from_base64(ev: &mut Evaluator<'_>, value: &Value) -> Result<Value, Failure> {
    let text = text(ev, value)?;
    ev.meter.charge_bytes(text.len())?;
    let bytes = JAVA_DECODER.decode(&text).map_err(|error| format!("{} is not base64: {error}", describe(value)))?;
    Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
}

/// `#alphanumerical(text)`: drops everything but `[A-Za-z0-9]`.
fn alphanumerical(ev: &mut Evaluator<'_>, value: &Value) -> Result<Value, Failure> {
    let text = text(ev, value)?;
    ev.meter.charge_bytes(text.len())?;
    Ok(Value::String(text.chars().filter(char::is_ascii_alphanumeric).collect()))
}

/// A writer that refuses to hold more than `limit` bytes, so `#toJson` of something huge
/// stops at the limit instead of allocating all of it first.
struct Bounded {
    bytes: Vec<u8>,
    limit: usize,
    exceeded: bool,
}

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len().saturating_add(buf.len()) > self.limit {
            self.exceeded = true;
            return Err(std::io::Error::other("size limit reached"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
