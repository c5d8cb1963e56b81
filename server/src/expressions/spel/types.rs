//! The Java types an expression may name, in `new X(...)` and `T(X).member`: `Integer`,
//! `Long`, `Double`, `Boolean`, `String` (`java.lang.`, written or not) and `T(Math)`. Every
//! other name (`java.lang.Runtime`, `java.io.File`, ...) is refused when the expression is
//! parsed; the types Orca's allow-list admits and gennaker does not implement (dates, UUID,
//! Random, ...) are refused with a hint saying so.

use serde_json::Value;

use super::Error;
use super::values::{Num, convert_to_string, describe, evaluate_error, java_to_string, string_too_long, type_name};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JavaType {
    Integer,
    Long,
    Double,
    Boolean,
    String,
    Math,
}

/// On kork's `InstantiationTypeRestrictor` allow-list, not implemented here.
const ORCA_ONLY: [&str; 12] = [
    "java.util.Date",
    "java.text.SimpleDateFormat",
    "java.lang.Byte",
    "java.util.Random",
    "java.util.UUID",
    "java.time.LocalDate",
    "java.time.LocalDateTime",
    "java.time.DayOfWeek",
    "java.time.Instant",
    "java.time.temporal.ChronoUnit",
    "java.time.temporal.TemporalAdjusters",
    "java.net.URLEncoder",
];

impl JavaType {
    /// The type a name denotes; an unqualified name is looked up in `java.lang`, as Spring does.
    pub(super) fn resolve(name: &str) -> Result<JavaType, Error> {
        let qualified = if name.contains('.') { name.to_string() } else { format!("java.lang.{name}") };
        Ok(match qualified.as_str() {
            "java.lang.Integer" => JavaType::Integer,
            "java.lang.Long" => JavaType::Long,
            "java.lang.Double" => JavaType::Double,
            "java.lang.Boolean" => JavaType::Boolean,
            "java.lang.String" => JavaType::String,
            "java.lang.Math" => JavaType::Math,
            other => {
                let hint =
                    if ORCA_ONLY.contains(&other) { " (Orca allows it; gennaker does not implement it)" } else { "" };
                return Err(Error::NotAllowed { what: format!("type {name}"), hint: hint.into() });
            }
        })
    }

    fn name(self) -> &'static str {
        match self {
            JavaType::Integer => "Integer",
            JavaType::Long => "Long",
            JavaType::Double => "Double",
            JavaType::Boolean => "Boolean",
            JavaType::String => "String",
            JavaType::Math => "Math",
        }
    }
}

fn conversion_error(value: &Value, target: &str) -> Error {
    evaluate_error(format!("cannot convert {} to {target}", describe(value)))
}

/// An integer in `min..=max` from a string (parsed as Java's `parseInt`: optional sign and
/// digits) or a number (decimals truncate, as Spring's number conversion does).
pub(super) fn integral(value: &Value, min: i64, max: i64, target: &str) -> Result<i64, Error> {
    let converted = match (value, Num::of(value)) {
        (Value::String(text), _) => text.parse::<i64>().ok(),
        (_, Some(Num::Int(int))) => Some(int),
        (_, Some(Num::Float(float))) if float.is_finite() => Some(float.trunc() as i64),
        _ => None,
    };
    converted.filter(|int| (min..=max).contains(int)).ok_or_else(|| conversion_error(value, target))
}

pub(super) fn int32(value: &Value) -> Result<i64, Error> {
    integral(value, i32::MIN.into(), i32::MAX.into(), "an Integer")
}

/// Java's `Double.parseDouble`: surrounding blanks and a `d`/`f` suffix are accepted; the
/// result must be finite (JSON has no infinities or NaN).
pub(super) fn parse_double(text: &str) -> Option<f64> {
    let trimmed = text.trim_matches(|c: char| c <= ' ');
    let body = trimmed.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(trimmed);
    body.parse::<f64>().ok().filter(|float| float.is_finite())
}

pub(super) fn double(value: &Value) -> Result<f64, Error> {
    match (value, Num::of(value)) {
        (Value::String(text), _) => parse_double(text),
        (_, number) => number.map(Num::as_f64),
    }
    .ok_or_else(|| conversion_error(value, "a Double"))
}

/// Java's `Boolean.valueOf`: true only for the string "true" in any case (or true itself).
pub(super) fn boolean(value: &Value) -> Result<bool, Error> {
    match value {
        Value::Bool(flag) => Ok(*flag),
        Value::String(text) => Ok(text.eq_ignore_ascii_case("true")),
        Value::Null => Ok(false),
        other => Err(conversion_error(other, "a Boolean")),
    }
}

fn float_value(float: f64) -> Result<Value, Error> {
    Num::Float(float).into_value()
}

/// `new X(args)`.
pub(super) fn construct(class: JavaType, args: &[&Value], max_string: usize) -> Result<Value, Error> {
    match (class, args) {
        (JavaType::Integer, [value]) => int32(value).map(Value::from),
        (JavaType::Long, [value]) => integral(value, i64::MIN, i64::MAX, "a Long").map(Value::from),
        (JavaType::Double, [value]) => double(value).and_then(float_value),
        (JavaType::Boolean, [value]) => boolean(value).map(Value::Bool),
        (JavaType::String, []) => Ok(Value::String(String::new())),
        (JavaType::String, [value]) => java_to_string(value, max_string).map(Value::String),
        (JavaType::Math, _) => Err(evaluate_error("java.lang.Math cannot be instantiated")),
        (class, args) => Err(evaluate_error(format!("new {}() does not take {} arguments", class.name(), args.len()))),
    }
}

/// `T(X).member` (a field when `args` is `None`) or `T(X).member(args)`.
pub(super) fn static_member(
    class: JavaType,
    member: &str,
    args: Option<&[&Value]>,
    max_string: usize,
) -> Result<Value, Error> {
    use JavaType::{Boolean, Double, Integer, Long, Math, String as Text};
    let Some(args) = args else {
        return match (class, member) {
            (Integer, "MAX_VALUE") => Ok(i32::MAX.into()),
            (Integer, "MIN_VALUE") => Ok(i32::MIN.into()),
            (Long, "MAX_VALUE") => Ok(i64::MAX.into()),
            (Long, "MIN_VALUE") => Ok(i64::MIN.into()),
            (Boolean, "TRUE") => Ok(true.into()),
            (Boolean, "FALSE") => Ok(false.into()),
            (Math, "PI") => float_value(std::f64::consts::PI),
            (Math, "E") => float_value(std::f64::consts::E),
            _ => Err(evaluate_error(format!("T({}) has no static field '{member}'", class.name()))),
        };
    };
    let text = |value: &Value| convert_to_string(value, max_string);
    match (class, member, args) {
        (Integer, "parseInt", [value]) => int32(&Value::String(text(value)?)).map(Value::from),
        (Integer, "valueOf", [value]) => int32(value).map(Value::from),
        (Long, "parseLong", [value]) => {
            integral(&Value::String(text(value)?), i64::MIN, i64::MAX, "a Long").map(Value::from)
        }
        (Long, "valueOf", [value]) => integral(value, i64::MIN, i64::MAX, "a Long").map(Value::from),
        (Double, "parseDouble" | "valueOf", [value]) => double(value).and_then(float_value),
        (Boolean, "parseBoolean" | "valueOf", [value]) => boolean(value).map(Value::Bool),
        (Text, "valueOf", [value]) => java_to_string(value, max_string).map(Value::String),
        (Text, "join", [separator, items @ ..]) => join(separator, items, max_string),
        (Math, "max" | "min" | "pow", [a, b]) => math2(member, a, b),
        (Math, "abs" | "floor" | "ceil" | "round", [a]) => math1(member, a),
        _ => Err(evaluate_error(format!(
            "T({}) has no static method '{member}' taking {} arguments",
            class.name(),
            args.len()
        ))),
    }
}

/// `String.join(separator, list)` or `String.join(separator, a, b, ...)`.
fn join(separator: &Value, items: &[&Value], max_string: usize) -> Result<Value, Error> {
    let Value::String(separator) = separator else {
        return Err(evaluate_error("the separator of String.join must be a string"));
    };
    let parts: Vec<&Value> = match items {
        [Value::Array(list)] => list.iter().collect(),
        _ => items.to_vec(),
    };
    let mut joined = String::new();
    for (i, part) in parts.into_iter().enumerate() {
        let part = convert_to_string(part, max_string)?;
        if joined.len() + separator.len() + part.len() > max_string {
            return Err(string_too_long(max_string));
        }
        if i > 0 {
            joined.push_str(separator);
        }
        joined.push_str(&part);
    }
    Ok(Value::String(joined))
}

fn number(value: &Value) -> Result<Num, Error> {
    Num::of(value).ok_or_else(|| evaluate_error(format!("Math needs numbers, not {}", type_name(value))))
}

fn math2(member: &str, a: &Value, b: &Value) -> Result<Value, Error> {
    let (a, b) = (number(a)?, number(b)?);
    match (member, a, b) {
        ("max", Num::Int(x), Num::Int(y)) => Ok(x.max(y).into()),
        ("min", Num::Int(x), Num::Int(y)) => Ok(x.min(y).into()),
        ("max", ..) => float_value(a.as_f64().max(b.as_f64())),
        ("min", ..) => float_value(a.as_f64().min(b.as_f64())),
        _ => float_value(a.as_f64().powf(b.as_f64())),
    }
}

fn math1(member: &str, a: &Value) -> Result<Value, Error> {
    match (member, number(a)?) {
        ("abs", Num::Int(x)) => {
            x.checked_abs().map(Value::from).ok_or_else(|| evaluate_error(format!("integer overflow in Math.abs({x})")))
        }
        ("abs", Num::Float(x)) => float_value(x.abs()),
        ("round", Num::Int(x)) => Ok(x.into()),
        // Java's Math.round: floor(x + 0.5), saturating at the long range.
        ("round", Num::Float(x)) => Ok(((x + 0.5).floor() as i64).into()),
        ("floor", x) => float_value(x.as_f64().floor()),
        (_, x) => float_value(x.as_f64().ceil()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_the_allow_list_resolves() {
        assert_eq!(JavaType::resolve("java.lang.Integer"), Ok(JavaType::Integer));
        assert_eq!(JavaType::resolve("Math"), Ok(JavaType::Math));
        let refused = JavaType::resolve("java.lang.Runtime").expect_err("Runtime is refused");
        assert_eq!(refused.to_string(), "type java.lang.Runtime is not allowed in expressions");
        let hinted = JavaType::resolve("java.util.UUID").expect_err("UUID is refused");
        assert!(hinted.to_string().contains("Orca allows it"), "{hinted}");
    }

    #[test]
    fn constructors_convert_like_java() {
        assert_eq!(construct(JavaType::Integer, &[&json!("41")], 100), Ok(json!(41)));
        assert_eq!(construct(JavaType::Integer, &[&json!(4.9)], 100), Ok(json!(4)));
        assert!(construct(JavaType::Integer, &[&json!("4.5")], 100).is_err());
        assert!(construct(JavaType::Integer, &[&json!("3000000000")], 100).is_err());
        assert_eq!(construct(JavaType::Long, &[&json!("3000000000")], 100), Ok(json!(3_000_000_000_i64)));
        assert_eq!(construct(JavaType::Double, &[&json!(" 2.5d ")], 100), Ok(json!(2.5)));
        assert_eq!(construct(JavaType::Boolean, &[&json!("TRUE")], 100), Ok(json!(true)));
        assert_eq!(construct(JavaType::String, &[&json!(1.0)], 100), Ok(json!("1.0")));
    }

    #[test]
    fn static_members() {
        let call = |class, member, args: &[&Value]| static_member(class, member, Some(args), 100);
        assert_eq!(call(JavaType::Integer, "parseInt", &[&json!("-12")]), Ok(json!(-12)));
        assert_eq!(call(JavaType::Math, "max", &[&json!(3), &json!(7)]), Ok(json!(7)));
        assert_eq!(call(JavaType::Math, "max", &[&json!(3), &json!(7.5)]), Ok(json!(7.5)));
        assert_eq!(call(JavaType::Math, "abs", &[&json!(-3)]), Ok(json!(3)));
        assert!(call(JavaType::Math, "abs", &[&json!(i64::MIN)]).is_err());
        assert_eq!(call(JavaType::Math, "round", &[&json!(2.5)]), Ok(json!(3)));
        assert_eq!(call(JavaType::String, "valueOf", &[&json!([1, 2])]), Ok(json!("[1, 2]")));
        assert_eq!(call(JavaType::String, "join", &[&json!("-"), &json!(["a", "b"])]), Ok(json!("a-b")));
        assert_eq!(call(JavaType::Boolean, "parseBoolean", &[&json!("yes")]), Ok(json!(false)));
        assert_eq!(static_member(JavaType::Integer, "MAX_VALUE", None, 100), Ok(json!(i32::MAX)));
        assert!(call(JavaType::Math, "random", &[]).is_err());
    }
}
