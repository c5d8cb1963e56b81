//! Java methods called on values, `value.name(args)`: the common `java.lang.String`, `List`,
//! `Map`, `Number` and `Boolean` methods pipelines use. Positions count characters (Java
//! counts UTF-16 units; they differ only beyond the Basic Multilingual Plane). Regular
//! expressions (`split`, `replaceAll`, `matches`) use the regex crate's syntax, which is
//! Java's minus look-around and back-references. Anything else is an error naming the
//! method and the type.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::Error;
use super::eval::{Evaluator, Val, element};
use super::operators::equals;
use super::types::int32;
use super::values::{convert_to_string, evaluate_error, java_to_string, type_name};

pub(super) fn call<'a>(
    ev: &mut Evaluator<'_>,
    target: Val<'a>,
    name: &str,
    args: &[Val<'_>],
) -> Result<Val<'a>, Error> {
    ev.charge_strings(args.iter().map(|arg| &**arg))?;
    let collection = target.is_array() || target.is_object();
    // `get` returns part of the target: handled here so that it borrows instead of copying.
    match (name, args) {
        ("get", [key]) if collection => return element(ev, target, key),
        ("getOrDefault", [key, fallback]) if target.is_object() => {
            let key = convert_to_string(key, ev.limits.max_string)?;
            if target.get(&key).is_some() {
                return element(ev, target, &Value::String(key));
            }
            return Ok(Cow::Owned(ev.meter.copy(fallback)?));
        }
        _ => {}
    }
    let args: Vec<&Value> = args.iter().map(|arg| &**arg).collect();
    let result = match (name, args.as_slice(), &*target) {
        (_, _, Value::Null) => {
            return Err(evaluate_error(format!("cannot call {name}() on null (use '?.' to get null instead)")));
        }
        ("toString", [], value) => {
            let text = java_to_string(value, ev.limits.max_string)?;
            ev.meter.charge_bytes(text.len())?;
            Some(Value::String(text))
        }
        ("equals", [other], value) => Some(Value::Bool(equals(value, other, &mut ev.meter)?)),
        (_, args, Value::String(text)) => string_method(ev, text, name, args)?,
        (_, args, Value::Array(items)) => list_method(ev, items, name, args)?,
        (_, args, Value::Object(map)) => map_method(ev, map, name, args)?,
        (_, [], Value::Number(number)) => match (name, number.as_i64(), number.as_f64()) {
            // Java's narrowing: long to int wraps, double to int or long saturates.
            ("intValue", Some(int), _) => Some(Value::from(int as i32)),
            ("intValue", None, Some(float)) => Some(Value::from(float as i32)),
            ("longValue", Some(int), _) => Some(Value::from(int)),
            ("longValue", None, Some(float)) => Some(Value::from(float as i64)),
            ("doubleValue", _, Some(float)) => serde_json::Number::from_f64(float).map(Value::Number),
            _ => None,
        },
        ("booleanValue", [], Value::Bool(flag)) => Some(Value::Bool(*flag)),
        _ => None,
    };
    result.map(Cow::Owned).ok_or_else(|| {
        evaluate_error(format!("unknown method {name}() with {} arguments on {}", args.len(), type_name(&target)))
    })
}

fn text_argument<'v>(method: &str, value: &'v Value) -> Result<&'v str, Error> {
    value
        .as_str()
        .ok_or_else(|| evaluate_error(format!("the argument of {method}() must be a string, not {}", type_name(value))))
}

/// A character count as a JSON number (`indexOf` and friends), -1 for not found.
fn char_position(text: &str, byte: Option<usize>) -> Value {
    match byte {
        Some(byte) => Value::from(text.get(..byte).map_or(0, |prefix| prefix.chars().count())),
        None => Value::from(-1),
    }
}

/// The byte offset of the `chars`-th character (the end when there are fewer).
fn byte_offset(text: &str, chars: usize) -> usize {
    text.char_indices().nth(chars).map_or(text.len(), |(byte, _)| byte)
}

fn string_method(ev: &mut Evaluator<'_>, text: &str, name: &str, args: &[&Value]) -> Result<Option<Value>, Error> {
    ev.meter.charge_bytes(text.len())?;
    let produced = |ev: &mut Evaluator<'_>, result: String| -> Result<Value, Error> {
        ev.check_string(result.len())?;
        ev.meter.charge_bytes(result.len())?;
        Ok(Value::String(result))
    };
    Ok(Some(match (name, args) {
        ("length", []) => Value::from(text.chars().count()),
        ("isEmpty", []) => Value::Bool(text.is_empty()),
        ("isBlank", []) => Value::Bool(text.chars().all(char::is_whitespace)),
        // Java's trim() drops the control characters and spaces, strip() Unicode white space.
        ("trim", []) => Value::from(text.trim_matches(|c: char| c <= ' ')),
        ("strip", []) => Value::from(text.trim()),
        ("toUpperCase", []) => produced(ev, text.to_uppercase())?,
        ("toLowerCase", []) => produced(ev, text.to_lowercase())?,
        ("contains", [part]) => Value::Bool(text.contains(text_argument(name, part)?)),
        ("startsWith", [part]) => Value::Bool(text.starts_with(text_argument(name, part)?)),
        ("endsWith", [part]) => Value::Bool(text.ends_with(text_argument(name, part)?)),
        ("indexOf", [part]) => char_position(text, text.find(text_argument(name, part)?)),
        ("lastIndexOf", [part]) => char_position(text, text.rfind(text_argument(name, part)?)),
        ("equalsIgnoreCase", [other]) => {
            Value::Bool(other.as_str().is_some_and(|other| equals_ignore_case(text, other)))
        }
        ("concat", [other]) => {
            let other = text_argument(name, other)?;
            ev.check_string(text.len().saturating_add(other.len()))?;
            produced(ev, format!("{text}{other}"))?
        }
        ("charAt", [index]) => {
            let index = int32(index)?;
            let found = usize::try_from(index).ok().and_then(|i| text.chars().nth(i));
            let length = text.chars().count();
            let found = found
                .ok_or_else(|| evaluate_error(format!("charAt({index}) is out of range for a string of {length}")))?;
            Value::String(found.into())
        }
        ("substring", [start]) => substring(text, int32(start)?, None)?,
        ("substring", [start, end]) => substring(text, int32(start)?, Some(int32(end)?))?,
        ("replace", [from, to]) => {
            let (from, to) = (text_argument(name, from)?, text_argument(name, to)?);
            let count = if from.is_empty() { text.chars().count() + 1 } else { text.matches(from).count() };
            let size = text.len().saturating_sub(count * from.len()).saturating_add(count.saturating_mul(to.len()));
            ev.check_string(size)?;
            produced(ev, text.replace(from, to))?
        }
        ("replaceAll" | "replaceFirst", [pattern, replacement]) => {
            let (pattern, replacement) = (text_argument(name, pattern)?, text_argument(name, replacement)?);
            let limit = if name == "replaceFirst" { 1 } else { usize::MAX };
            replace_regex(ev, text, pattern, replacement, limit)?
        }
        ("matches", [pattern]) => {
            let pattern = ev.regex(text_argument(name, pattern)?, true)?;
            ev.charge_search(&pattern, text.len())?;
            Value::Bool(pattern.regex.is_match(text))
        }
        ("split", [pattern]) => split(ev, text, text_argument(name, pattern)?)?,
        _ => return Ok(None),
    }))
}

fn substring(text: &str, start: i64, end: Option<i64>) -> Result<Value, Error> {
    let length = text.chars().count();
    let end_index = end.unwrap_or(length as i64);
    let range = usize::try_from(start).ok().zip(usize::try_from(end_index).ok());
    match range {
        Some((from, to)) if from <= to && to <= length => {
            let (from, to) = (byte_offset(text, from), byte_offset(text, to));
            Ok(Value::from(text.get(from..to).unwrap_or_default()))
        }
        _ => Err(evaluate_error(format!("substring({start}, {end_index}) is out of range for a string of {length}"))),
    }
}

/// Java's `equalsIgnoreCase`: same length, each character equal up to case.
fn equals_ignore_case(a: &str, b: &str) -> bool {
    a.chars().count() == b.chars().count()
        && a.chars()
            .zip(b.chars())
            .all(|(x, y)| x == y || x.to_uppercase().eq(y.to_uppercase()) || x.to_lowercase().eq(y.to_lowercase()))
}

/// Java's `split(regex)`: no empty string for a zero-width match at the start, trailing empty
/// strings dropped. Like Java, a one-character separator that is not a regex metacharacter
/// (`","`) or an escaped one (`"\\."`) is split on literally, without compiling a pattern.
fn split(ev: &mut Evaluator<'_>, text: &str, pattern: &str) -> Result<Value, Error> {
    let mut chars = pattern.chars();
    let literal = match (chars.next(), chars.next(), chars.next()) {
        (Some(c), None, None) if !".$|()[{^?*+\\".contains(c) => Some(c.to_string()),
        (Some('\\'), Some(c), None) if !c.is_ascii_alphanumeric() => Some(c.to_string()),
        _ => None,
    };
    let matches: Vec<(usize, usize)> = match literal {
        Some(separator) => text.match_indices(&separator).map(|(at, found)| (at, at + found.len())).collect(),
        None => {
            let pattern = ev.regex(pattern, false)?;
            ev.charge_search(&pattern, text.len())?;
            pattern.regex.find_iter(text).map(|found| (found.start(), found.end())).collect()
        }
    };
    if text.is_empty() || matches.iter().all(|&(_, end)| end == 0) {
        return Ok(Value::Array(vec![Value::from(text)]));
    }
    let mut pieces = Vec::new();
    let mut last = 0;
    for (start, end) in matches.into_iter().filter(|&(_, end)| end > 0) {
        pieces.push(text.get(last..start).unwrap_or_default());
        last = end;
        ev.check_items(pieces.len())?;
        ev.meter.charge(1)?;
    }
    pieces.push(text.get(last..).unwrap_or_default());
    while pieces.last() == Some(&"") {
        pieces.pop();
    }
    Ok(Value::Array(pieces.into_iter().map(Value::from).collect()))
}

/// `replaceAll`/`replaceFirst` with a Java replacement string (`$1`, `${name}`, `\$`).
fn replace_regex(
    ev: &mut Evaluator<'_>,
    text: &str,
    pattern: &str,
    replacement: &str,
    limit: usize,
) -> Result<Value, Error> {
    let pattern = ev.regex(pattern, false)?;
    ev.charge_search(&pattern, text.len())?;
    let regex = &pattern.regex;
    let replacement = java_replacement(replacement, regex.captures_len().saturating_sub(1))?;
    let mut replaced = String::new();
    let mut last = 0;
    for captures in regex.captures_iter(text).take(limit) {
        let Some(found) = captures.get(0) else { continue };
        replaced.push_str(text.get(last..found.start()).unwrap_or_default());
        captures.expand(&replacement, &mut replaced);
        last = found.end();
        ev.check_string(replaced.len())?;
        ev.meter.charge(1)?;
    }
    replaced.push_str(text.get(last..).unwrap_or_default());
    ev.check_string(replaced.len())?;
    ev.meter.charge_bytes(replaced.len())?;
    Ok(Value::String(replaced))
}

/// Rewrites a Java replacement (`$n`, `${name}`, `\x` escapes) in the regex crate's syntax.
fn java_replacement(java: &str, groups: usize) -> Result<String, Error> {
    let mut rust = String::new();
    let mut chars = java.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => rust.push_str("$$"),
                Some(escaped) => rust.push(escaped),
                None => return Err(evaluate_error("the replacement ends with a lone '\\'")),
            },
            '$' if chars.peek() == Some(&'{') => {
                let name: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                rust.push_str(&format!("${{{name}}}"));
            }
            '$' => {
                // Java reads digits while they still name an existing group.
                let mut group = match chars.next().and_then(|d| d.to_digit(10)) {
                    Some(digit) => digit as usize,
                    None => return Err(evaluate_error("'$' in a replacement must be followed by a group")),
                };
                while let Some(digit) = chars.peek().and_then(|d| d.to_digit(10)) {
                    if group * 10 + digit as usize > groups {
                        break;
                    }
                    group = group * 10 + digit as usize;
                    chars.next();
                }
                if group > groups {
                    return Err(evaluate_error(format!(
                        "the replacement refers to group {group}, which does not exist"
                    )));
                }
                rust.push_str(&format!("${{{group}}}"));
            }
            other => rust.push(other),
        }
    }
    Ok(rust)
}

fn list_method(ev: &mut Evaluator<'_>, items: &[Value], name: &str, args: &[&Value]) -> Result<Option<Value>, Error> {
    Ok(Some(match (name, args) {
        ("size", []) => Value::from(items.len()),
        ("isEmpty", []) => Value::Bool(items.is_empty()),
        ("contains" | "indexOf", [wanted]) => {
            let mut found = None;
            for (i, item) in items.iter().enumerate() {
                if equals(item, wanted, &mut ev.meter)? {
                    found = Some(i);
                    break;
                }
            }
            if name == "contains" { Value::Bool(found.is_some()) } else { found.map_or(Value::from(-1), Value::from) }
        }
        _ => return Ok(None),
    }))
}

fn map_method(
    ev: &mut Evaluator<'_>,
    map: &Map<String, Value>,
    name: &str,
    args: &[&Value],
) -> Result<Option<Value>, Error> {
    Ok(Some(match (name, args) {
        ("size", []) => Value::from(map.len()),
        ("isEmpty", []) => Value::Bool(map.is_empty()),
        ("containsKey", [key]) => Value::Bool(map.contains_key(&convert_to_string(key, ev.limits.max_string)?)),
        ("containsValue", [wanted]) => {
            let mut found = false;
            for value in map.values() {
                if equals(value, wanted, &mut ev.meter)? {
                    found = true;
                    break;
                }
            }
            Value::Bool(found)
        }
        ("keySet", []) => {
            ev.check_items(map.len())?;
            ev.meter.charge(1 + map.len() as u64 / 4)?;
            Value::Array(map.keys().cloned().map(Value::String).collect())
        }
        ("values", []) => {
            ev.check_items(map.len())?;
            Value::Array(map.values().map(|value| ev.meter.copy(value)).collect::<Result<_, _>>()?)
        }
        _ => return Ok(None),
    }))
}
