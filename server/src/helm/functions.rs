//! The functions Helm charts call: Go's template built-ins (`eq`, `printf`, `index`, `len`,
//! ...), the Sprig library as Helm ships it (strings, lists, dicts, math, regular expressions,
//! encodings, semver) and Helm's own (`toYaml`, `fromYaml`, `toJson`, `required`, `fail`,
//! `lookup`, which renders as `helm template` does: an empty dict). `include` and `tpl` need
//! the running template and live in `exec.rs`. Sprig's `env`/`expandenv` are absent as in Helm:
//! a chart cannot read gennaker's environment. Values are JSON values; printing follows Go's
//! `%v` for them.

use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

type Result<T> = std::result::Result<T, String>;

/// Whether a value counts as true (`if`, `with`, `and`, `or`, `default`'s emptiness).
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(list) => !list.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

fn number_text(number: &serde_json::Number) -> String {
    match (number.as_i64(), number.as_u64(), number.as_f64()) {
        (Some(i), _, _) => i.to_string(),
        (_, Some(u), _) => u.to_string(),
        (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{f:.0}"),
        (_, _, Some(f)) if f.abs() >= 1e21 || (f != 0.0 && f.abs() < 1e-4) => format!("{f:e}").replace('e', "e+").replace("e+-", "e-"),
        (_, _, Some(f)) => f.to_string(),
        _ => number.to_string(),
    }
}

/// A value as Go's `%v` prints it (nothing for a missing value, as Helm prints it).
pub fn print(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(number) => number_text(number),
        Value::String(s) => s.clone(),
        Value::Array(list) => format!("[{}]", list.iter().map(print_inner).collect::<Vec<_>>().join(" ")),
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            format!("map[{}]", entries.iter().map(|(key, value)| format!("{key}:{}", print_inner(value))).collect::<Vec<_>>().join(" "))
        }
    }
}

fn print_inner(value: &Value) -> String {
    if value.is_null() { "<nil>".into() } else { print(value) }
}

/// Go's kind of a value, as `kindOf` names it.
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "invalid",
        Value::Bool(_) => "bool",
        Value::Number(number) if number.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(number) if number.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn number(value: &Value) -> f64 {
    match value {
        Value::Number(number) => number.as_f64().unwrap_or(0.0),
        Value::String(s) => s.trim().parse().unwrap_or(0.0),
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => 0.0,
    }
}

fn integer(value: &Value) -> i64 {
    match value {
        Value::Number(number) => number.as_i64().unwrap_or_else(|| number.as_f64().unwrap_or(0.0) as i64),
        Value::String(s) => s.trim().parse::<i64>().unwrap_or_else(|_| s.trim().parse::<f64>().map(|f| f as i64).unwrap_or(0)),
        Value::Bool(b) => i64::from(*b),
        _ => 0,
    }
}

fn float_value(f: f64) -> Value {
    serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
}

fn list_of(value: &Value) -> Result<Vec<Value>> {
    match value {
        Value::Array(list) => Ok(list.clone()),
        Value::Null => Ok(Vec::new()),
        other => Err(format!("cannot use {} as a list", type_of(other))),
    }
}

fn dict_of(value: &Value) -> Result<Map<String, Value>> {
    match value {
        Value::Object(map) => Ok(map.clone()),
        Value::Null => Ok(Map::new()),
        other => Err(format!("cannot use {} as a dict", type_of(other))),
    }
}

fn text(value: &Value) -> String {
    print(value)
}

fn args<const N: usize>(name: &str, arguments: &[Value]) -> Result<[Value; N]> {
    super::exec::exactly::<N>(name, arguments.to_vec())
}

fn compare(name: &str, a: &Value, b: &Value) -> Result<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => number(a).partial_cmp(&number(b)).ok_or_else(|| format!("{name}: cannot compare NaN")),
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        _ => Err(format!("{name}: incompatible types for comparison ({} and {})", type_of(a), type_of(b))),
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => number(a) == number(b),
        _ => a == b,
    }
}

/// A method of a value: `.Files.Get`, `.Capabilities.APIVersions.Has`.
pub fn method(receiver: &Value, name: &str, arguments: &[Value]) -> Result<Value> {
    match (name, receiver) {
        ("Get", Value::Object(files)) => {
            let [path] = args::<1>(name, arguments)?;
            Ok(files.get(&text(&path)).cloned().unwrap_or(Value::String(String::new())))
        }
        ("Has", Value::Array(list)) => {
            let [item] = args::<1>(name, arguments)?;
            Ok(Value::Bool(list.contains(&item)))
        }
        ("Glob" | "AsConfig" | "AsSecrets" | "Lines", _) => Err(format!(".Files.{name} is not supported by gennaker's chart renderer (use .Files.Get)")),
        _ => Err(format!("can't call method {name} on {}", type_of(receiver))),
    }
}

/// Go's `printf` for the verbs charts use: `%s %v %d %q %f %t %x %%` with width and precision.
pub fn printf(format: &str, arguments: &[Value]) -> String {
    let mut out = String::new();
    let mut next = arguments.iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut flags = String::new();
        while let Some(&f) = chars.peek() {
            if "+-# 0".contains(f) {
                flags.push(f);
                chars.next();
            } else {
                break;
            }
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut digits = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(d);
                chars.next();
            }
            precision = Some(digits.parse::<usize>().unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(argument) = next.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        let formatted = match verb {
            's' | 'v' => {
                let s = if argument.is_null() && verb == 'v' { "<nil>".to_string() } else if argument.is_null() { "%!s(<nil>)".to_string() } else { print(argument) };
                match precision {
                    Some(p) => s.chars().take(p).collect(),
                    None => s,
                }
            }
            'd' => integer(argument).to_string(),
            'q' => serde_json::to_string(&text(argument)).unwrap_or_default(),
            'f' | 'F' => format!("{:.*}", precision.unwrap_or(6), number(argument)),
            'g' => print(&float_value(number(argument))),
            't' => truthy(argument).to_string(),
            'x' => match argument {
                Value::String(s) => s.bytes().map(|b| format!("{b:02x}")).collect(),
                other => format!("{:x}", integer(other)),
            },
            'X' => format!("{:X}", integer(argument)),
            'o' => format!("{:o}", integer(argument)),
            'c' => char::from_u32(integer(argument) as u32).map(String::from).unwrap_or_default(),
            other => format!("%!{other}({})", print(argument)),
        };
        let width: usize = width.parse().unwrap_or(0);
        let pad = width.saturating_sub(formatted.chars().count());
        if flags.contains('-') {
            out.push_str(&formatted);
            out.push_str(&" ".repeat(pad));
        } else {
            let fill = if flags.contains('0') && verb != 's' { "0" } else { " " };
            out.push_str(&fill.repeat(pad));
            out.push_str(&formatted);
        }
    }
    if next.len() > 0 {
        out.push_str(&format!("%!(EXTRA {})", next.map(print).collect::<Vec<_>>().join(", ")));
    }
    out
}

fn indent(spaces: i64, s: &str) -> String {
    let pad = " ".repeat(spaces.max(0) as usize);
    format!("{pad}{}", s.replace('\n', &format!("\n{pad}")))
}

fn words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = s.chars().collect();
    for (at, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        let boundary = c.is_uppercase() && at > 0 && (chars[at - 1].is_lowercase() || chars.get(at + 1).is_some_and(|n| n.is_lowercase()) && chars[at - 1].is_uppercase());
        if boundary && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn regex(pattern: &str) -> Result<regex::Regex> {
    regex::RegexBuilder::new(pattern).size_limit(1 << 20).build().map_err(|e| format!("bad regular expression {pattern:?}: {e}"))
}

fn random_string(length: i64, alphabet: &[u8]) -> Result<Value> {
    let length = length.clamp(0, 4096) as usize;
    let mut bytes = vec![0u8; length];
    getrandom::fill(&mut bytes).map_err(|e| e.to_string())?;
    Ok(Value::String(bytes.iter().map(|b| alphabet[*b as usize % alphabet.len()] as char).collect()))
}

/// Parses `1.20.2`, `v1.20.2-gke.1`, `1.14-0` into numbers (missing parts are 0).
fn version(text: &str) -> Option<[u64; 3]> {
    let text = text.trim().trim_start_matches(['v', 'V']);
    let core = text.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|part| if part == "x" || part == "*" { Some(0) } else { part.parse::<u64>().ok() });
    Some([parts.next().flatten()?, parts.next().flatten().unwrap_or(0), parts.next().flatten().unwrap_or(0)])
}

/// Masterminds semver constraints as Helm charts use them: `>=1.14-0`, `<1.19-0`, `^1.2`,
/// `~1.2.3`, `1.2.x`, comma or space for AND, `||` for OR (prerelease parts ignored).
fn semver_matches(constraint: &str, against: &str) -> Result<bool> {
    let have = version(against).ok_or_else(|| format!("invalid semantic version {against:?}"))?;
    'alternatives: for alternative in constraint.split("||") {
        let spaced = alternative.replace(',', " ");
        let mut tokens: Vec<String> = Vec::new();
        for token in spaced.split_whitespace() {
            // `>= 1.2` is one condition.
            if let Some(last) = tokens.last_mut().filter(|last| last.chars().all(|c| "<>=!~^".contains(c))) {
                last.push_str(token);
            } else {
                tokens.push(token.to_string());
            }
        }
        for token in tokens {
            let split = token.find(|c: char| !"<>=!~^".contains(c)).unwrap_or(token.len());
            let (operator, wanted) = token.split_at(split);
            let want = version(wanted).ok_or_else(|| format!("improper constraint: {constraint}"))?;
            let parts = wanted.trim_start_matches(['v', 'V']).split(['-', '+']).next().unwrap_or_default().split('.').filter(|p| *p != "x" && *p != "*").count();
            let ok = match operator {
                "" | "=" if parts < 3 => have[..parts] == want[..parts],
                "" | "=" => have == want,
                "!=" => have != want,
                ">" => have > want,
                ">=" | "=>" => have >= want,
                "<" => have < want,
                "<=" | "=<" => have <= want,
                "~" | "~>" => have >= want && have[0] == want[0] && (parts < 2 || have[1] == want[1]),
                "^" => have >= want && have[0] == want[0] && (want[0] != 0 || have[1] == want[1]),
                other => return Err(format!("improper constraint operator {other:?}")),
            };
            if !ok {
                continue 'alternatives;
            }
        }
        return Ok(true);
    }
    Ok(false)
}

fn merge_into(target: &mut Map<String, Value>, source: &Map<String, Value>, overwrite: bool) {
    for (key, value) in source {
        match (target.get_mut(key), value) {
            (Some(Value::Object(existing)), Value::Object(incoming)) => merge_into(existing, incoming, overwrite),
            (Some(existing), _) if overwrite => *existing = value.clone(),
            (Some(existing), _) if existing.is_null() => *existing = value.clone(),
            (Some(_), _) => {}
            (None, _) => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Calls function `name` (not `include`/`tpl`, see `exec.rs`).
pub fn call(name: &str, a: Vec<Value>) -> Result<Value> {
    // Sprig's `must*` forms differ only in returning errors, which every function here does.
    let name = match name.strip_prefix("must") {
        Some(rest) if rest.starts_with(char::is_uppercase) => {
            let mut lower = rest.to_string();
            lower.replace_range(..1, &rest[..1].to_lowercase());
            lower
        }
        _ => name.to_string(),
    };
    let s = |index: usize| a.get(index).map(text).unwrap_or_default();
    let last = || a.last().cloned().unwrap_or(Value::Null);
    let string = |value: String| Ok(Value::String(value));
    match name.as_str() {
        // Go's built-ins.
        "eq" => {
            let Some((first, rest)) = a.split_first() else { return Err("eq: missing arguments".into()) };
            Ok(Value::Bool(rest.iter().any(|other| equal(first, other))))
        }
        "ne" => {
            let [x, y] = args::<2>(&name, &a)?;
            Ok(Value::Bool(!equal(&x, &y)))
        }
        "lt" | "le" | "gt" | "ge" => {
            let [x, y] = args::<2>(&name, &a)?;
            let order = compare(&name, &x, &y)?;
            Ok(Value::Bool(match name.as_str() {
                "lt" => order.is_lt(),
                "le" => order.is_le(),
                "gt" => order.is_gt(),
                _ => order.is_ge(),
            }))
        }
        "not" => Ok(Value::Bool(!truthy(&args::<1>(&name, &a)?[0]))),
        "len" => {
            let [x] = args::<1>(&name, &a)?;
            Ok(Value::from(match &x {
                Value::String(s) => s.len(),
                Value::Array(list) => list.len(),
                Value::Object(map) => map.len(),
                Value::Null => 0,
                other => return Err(format!("len of {}", type_of(other))),
            }))
        }
        "index" => {
            let mut value = a.first().cloned().unwrap_or(Value::Null);
            for key in a.iter().skip(1) {
                value = match (&value, key) {
                    (Value::Array(list), Value::Number(_)) => list.get(integer(key) as usize).cloned().ok_or_else(|| format!("index out of range: {}", integer(key)))?,
                    (Value::Object(map), _) => map.get(&text(key)).cloned().unwrap_or(Value::Null),
                    (Value::Null, _) => Value::Null,
                    (other, _) => return Err(format!("can't index item of type {}", type_of(other))),
                };
            }
            Ok(value)
        }
        "slice" => {
            let Some(first) = a.first() else { return Err("slice: missing argument".into()) };
            let from = a.get(1).map(integer).unwrap_or(0).max(0) as usize;
            match first {
                Value::String(s) => {
                    let to = a.get(2).map(|v| integer(v) as usize).unwrap_or(s.len()).min(s.len());
                    string(s.get(from..to).unwrap_or_default().to_string())
                }
                Value::Array(list) => {
                    let to = a.get(2).map(|v| integer(v) as usize).unwrap_or(list.len()).min(list.len());
                    Ok(Value::Array(list.get(from..to).map(<[Value]>::to_vec).unwrap_or_default()))
                }
                other => Err(format!("can't slice item of type {}", type_of(other))),
            }
        }
        "print" => string(a.iter().enumerate().map(|(i, v)| {
            let spaced = i > 0 && !matches!(v, Value::String(_)) && !matches!(a[i - 1], Value::String(_));
            format!("{}{}", if spaced { " " } else { "" }, print(v))
        }).collect()),
        "println" => string(format!("{}\n", a.iter().map(print).collect::<Vec<_>>().join(" "))),
        "printf" => string(printf(&s(0), a.get(1..).unwrap_or_default())),
        "html" => string(s(0).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&#34;").replace('\'', "&#39;")),
        "js" => string(serde_json::to_string(&s(0)).unwrap_or_default().trim_matches('"').to_string()),
        "urlquery" => string(url::form_urlencoded::byte_serialize(s(0).as_bytes()).collect()),
        // Sprig: defaults and flow.
        "default" => {
            let given = a.get(1).cloned().unwrap_or(Value::Null);
            Ok(if truthy(&given) { given } else { a.first().cloned().unwrap_or(Value::Null) })
        }
        "empty" => Ok(Value::Bool(!truthy(&a.first().cloned().unwrap_or(Value::Null)))),
        "coalesce" => Ok(a.iter().find(|v| truthy(v)).cloned().unwrap_or(Value::Null)),
        "ternary" => {
            let [yes, no, condition] = args::<3>(&name, &a)?;
            Ok(if truthy(&condition) { yes } else { no })
        }
        "required" => {
            let [message, value] = args::<2>(&name, &a)?;
            if value.is_null() || value == Value::String(String::new()) {
                return Err(text(&message));
            }
            Ok(value)
        }
        "fail" => Err(s(0)),
        "lookup" => Ok(Value::Object(Map::new())),
        // Strings.
        "quote" => string(a.iter().filter(|v| !v.is_null()).map(|v| serde_json::to_string(&text(v)).unwrap_or_default()).collect::<Vec<_>>().join(" ")),
        "squote" => string(a.iter().filter(|v| !v.is_null()).map(|v| format!("'{}'", text(v))).collect::<Vec<_>>().join(" ")),
        "upper" => string(s(0).to_uppercase()),
        "lower" => string(s(0).to_lowercase()),
        "title" => string(s(0).split(' ').map(capitalize).collect::<Vec<_>>().join(" ")),
        "untitle" => string(s(0).split(' ').map(|w| { let mut c = w.chars(); c.next().map(|f| f.to_lowercase().chain(c).collect()).unwrap_or_default() }).collect::<Vec<String>>().join(" ")),
        "trim" => string(s(0).trim().to_string()),
        "trimAll" => {
            let cut = s(0);
            string(s(1).trim_matches(|c: char| cut.contains(c)).to_string())
        }
        "trimPrefix" => string(s(1).strip_prefix(&s(0)).map(str::to_string).unwrap_or_else(|| s(1))),
        "trimSuffix" => string(s(1).strip_suffix(&s(0)).map(str::to_string).unwrap_or_else(|| s(1))),
        "trunc" => {
            let [length, value] = args::<2>(&name, &a)?;
            let (length, value) = (integer(&length), text(&value));
            let chars: Vec<char> = value.chars().collect();
            string(if length >= 0 { chars.iter().take(length as usize).collect() } else { chars[chars.len().saturating_sub((-length) as usize)..].iter().collect() })
        }
        "substr" => {
            let [start, end, value] = args::<3>(&name, &a)?;
            let chars: Vec<char> = text(&value).chars().collect();
            let start = integer(&start).clamp(0, chars.len() as i64) as usize;
            let end = if integer(&end) < 0 { chars.len() } else { (integer(&end) as usize).clamp(start, chars.len()) };
            string(chars[start..end].iter().collect())
        }
        "replace" => {
            let [old, new, value] = args::<3>(&name, &a)?;
            string(text(&value).replace(&text(&old), &text(&new)))
        }
        "contains" => Ok(Value::Bool(s(1).contains(&s(0)))),
        "hasPrefix" => Ok(Value::Bool(s(1).starts_with(&s(0)))),
        "hasSuffix" => Ok(Value::Bool(s(1).ends_with(&s(0)))),
        "indent" => string(indent(a.first().map(integer).unwrap_or(0), &s(1))),
        "nindent" => string(format!("\n{}", indent(a.first().map(integer).unwrap_or(0), &s(1)))),
        "repeat" => {
            let count = a.first().map(integer).unwrap_or(0).clamp(0, 100_000) as usize;
            if count.saturating_mul(s(1).len()) > 1 << 20 {
                return Err("repeat: the result would be larger than 1 MiB".into());
            }
            string(s(1).repeat(count))
        }
        "nospace" => string(s(0).chars().filter(|c| !c.is_whitespace()).collect()),
        "cat" => string(a.iter().filter(|v| !v.is_null()).map(print).collect::<Vec<_>>().join(" ")),
        "camelcase" => string(words(&s(0)).iter().map(|w| capitalize(&w.to_lowercase())).collect()),
        "kebabcase" => string(words(&s(0)).iter().map(|w| w.to_lowercase()).collect::<Vec<_>>().join("-")),
        "snakecase" => string(words(&s(0)).iter().map(|w| w.to_lowercase()).collect::<Vec<_>>().join("_")),
        "toString" => string(s(0)),
        "toStrings" => Ok(Value::Array(list_of(&last())?.iter().map(|v| Value::String(text(v))).collect())),
        "join" => {
            let [separator, list] = args::<2>(&name, &a)?;
            let items = match &list {
                Value::Array(items) => items.iter().map(text).collect::<Vec<_>>(),
                other => vec![text(other)],
            };
            string(items.join(&text(&separator)))
        }
        "splitList" => Ok(Value::Array(s(1).split(&s(0)).map(|part| Value::String(part.to_string())).collect())),
        "split" => Ok(Value::Object(s(1).split(&s(0)).enumerate().map(|(i, part)| (format!("_{i}"), Value::String(part.to_string()))).collect())),
        "regexMatch" => Ok(Value::Bool(regex(&s(0))?.is_match(&s(1)))),
        "regexFind" => string(regex(&s(0))?.find(&s(1)).map(|m| m.as_str().to_string()).unwrap_or_default()),
        "regexFindAll" => {
            let limit = a.get(2).map(integer).unwrap_or(-1);
            let found = regex(&s(0))?.find_iter(&s(1)).map(|m| Value::String(m.as_str().to_string())).take(if limit < 0 { usize::MAX } else { limit as usize }).collect();
            Ok(Value::Array(found))
        }
        "regexReplaceAll" => string(regex(&s(0))?.replace_all(&s(1), s(2).as_str()).into_owned()),
        "regexReplaceAllLiteral" => string(regex(&s(0))?.replace_all(&s(1), regex::NoExpand(&s(2))).into_owned()),
        "regexSplit" => Ok(Value::Array(regex(&s(0))?.split(&s(1)).map(|part| Value::String(part.to_string())).collect())),
        "b64enc" => string(base64::engine::general_purpose::STANDARD.encode(s(0))),
        "b64dec" => {
            let bytes = base64::engine::general_purpose::STANDARD.decode(s(0).trim()).map_err(|e| format!("b64dec: {e}"))?;
            string(String::from_utf8_lossy(&bytes).into_owned())
        }
        "sha256sum" => string(Sha256::digest(s(0).as_bytes()).iter().map(|b| format!("{b:02x}")).collect()),
        "randAlphaNum" => random_string(a.first().map(integer).unwrap_or(0), b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
        "randAlpha" => random_string(a.first().map(integer).unwrap_or(0), b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        "randNumeric" => random_string(a.first().map(integer).unwrap_or(0), b"0123456789"),
        "uuidv4" => {
            let mut bytes = [0u8; 16];
            getrandom::fill(&mut bytes).map_err(|e| e.to_string())?;
            bytes[6] = (bytes[6] & 0x0f) | 0x40;
            bytes[8] = (bytes[8] & 0x3f) | 0x80;
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            string(format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]))
        }
        // Lists.
        "list" | "tuple" => Ok(Value::Array(a)),
        "append" | "push" => {
            let [list, item] = args::<2>(&name, &a)?;
            let mut list = list_of(&list)?;
            list.push(item);
            Ok(Value::Array(list))
        }
        "prepend" => {
            let [list, item] = args::<2>(&name, &a)?;
            let mut list = list_of(&list)?;
            list.insert(0, item);
            Ok(Value::Array(list))
        }
        "first" => Ok(list_of(&last())?.first().cloned().unwrap_or(Value::Null)),
        "last" => Ok(list_of(&last())?.last().cloned().unwrap_or(Value::Null)),
        "rest" => Ok(Value::Array(list_of(&last())?.into_iter().skip(1).collect())),
        "initial" => {
            let mut list = list_of(&last())?;
            list.pop();
            Ok(Value::Array(list))
        }
        "reverse" => Ok(Value::Array(list_of(&last())?.into_iter().rev().collect())),
        "uniq" => {
            let mut unique: Vec<Value> = Vec::new();
            for item in list_of(&last())? {
                if !unique.contains(&item) {
                    unique.push(item);
                }
            }
            Ok(Value::Array(unique))
        }
        "compact" => Ok(Value::Array(list_of(&last())?.into_iter().filter(truthy).collect())),
        "without" => {
            let list = list_of(&a.first().cloned().unwrap_or(Value::Null))?;
            Ok(Value::Array(list.into_iter().filter(|item| !a[1..].contains(item)).collect()))
        }
        "has" => {
            let [item, list] = args::<2>(&name, &a)?;
            Ok(Value::Bool(list_of(&list)?.contains(&item)))
        }
        "concat" => {
            let mut all = Vec::new();
            for list in &a {
                all.extend(list_of(list)?);
            }
            Ok(Value::Array(all))
        }
        "sortAlpha" => {
            let mut items: Vec<String> = list_of(&last())?.iter().map(text).collect();
            items.sort();
            Ok(Value::Array(items.into_iter().map(Value::String).collect()))
        }
        "until" | "untilStep" | "seq" => {
            let (start, stop, step) = match (name.as_str(), a.len()) {
                ("until", _) => (0, a.first().map(integer).unwrap_or(0), 1),
                ("untilStep", _) => (a.first().map(integer).unwrap_or(0), a.get(1).map(integer).unwrap_or(0), a.get(2).map(integer).unwrap_or(1)),
                (_, 1) => (1, integer(&a[0]) + 1, 1),
                (_, 2) => (integer(&a[0]), integer(&a[1]) + 1, 1),
                _ => (a.first().map(integer).unwrap_or(0), a.get(2).map(integer).unwrap_or(0) + 1, a.get(1).map(integer).unwrap_or(1)),
            };
            if step == 0 || ((stop - start) / step) > 100_000 {
                return Err(format!("{name}: too many steps"));
            }
            let mut items = Vec::new();
            let mut at = start;
            while (step > 0 && at < stop) || (step < 0 && at > stop) {
                items.push(Value::from(at));
                at += step;
            }
            Ok(if name == "seq" { Value::String(items.iter().map(print).collect::<Vec<_>>().join(" ")) } else { Value::Array(items) })
        }
        // Dicts.
        "dict" => Ok(Value::Object(a.chunks(2).map(|pair| (text(&pair[0]), pair.get(1).cloned().unwrap_or(Value::Null))).collect())),
        "get" => {
            let [map, key] = args::<2>(&name, &a)?;
            Ok(dict_of(&map)?.get(&text(&key)).cloned().unwrap_or(Value::String(String::new())))
        }
        "set" => {
            let [map, key, value] = args::<3>(&name, &a)?;
            let mut map = dict_of(&map)?;
            map.insert(text(&key), value);
            Ok(Value::Object(map))
        }
        "unset" => {
            let [map, key] = args::<2>(&name, &a)?;
            let mut map = dict_of(&map)?;
            map.remove(&text(&key));
            Ok(Value::Object(map))
        }
        "hasKey" => {
            let [map, key] = args::<2>(&name, &a)?;
            Ok(Value::Bool(dict_of(&map)?.contains_key(&text(&key))))
        }
        "keys" => {
            let mut keys: Vec<String> = Vec::new();
            for map in &a {
                keys.extend(dict_of(map)?.keys().cloned());
            }
            Ok(Value::Array(keys.into_iter().map(Value::String).collect()))
        }
        "values" => Ok(Value::Array(dict_of(&last())?.values().cloned().collect())),
        "pluck" => {
            let key = s(0);
            Ok(Value::Array(a.iter().skip(1).filter_map(|map| map.get(&key).cloned()).collect()))
        }
        "pick" | "omit" => {
            let map = dict_of(&a.first().cloned().unwrap_or(Value::Null))?;
            let keys: Vec<String> = a.iter().skip(1).map(text).collect();
            Ok(Value::Object(map.into_iter().filter(|(key, _)| keys.contains(key) == (name == "pick")).collect()))
        }
        "merge" | "mergeOverwrite" => {
            let mut target = dict_of(&a.first().cloned().unwrap_or(Value::Null))?;
            for source in a.iter().skip(1) {
                merge_into(&mut target, &dict_of(source)?, name == "mergeOverwrite");
            }
            Ok(Value::Object(target))
        }
        "deepCopy" => Ok(last()),
        "dig" => {
            if a.len() < 3 {
                return Err("dig: needs keys, a default and a dict".into());
            }
            let mut value = a[a.len() - 1].clone();
            for key in &a[..a.len() - 2] {
                value = match value.get(text(key)) {
                    Some(found) => found.clone(),
                    None => return Ok(a[a.len() - 2].clone()),
                };
            }
            Ok(value)
        }
        // Math.
        "add" => Ok(if a.iter().any(|v| matches!(v, Value::Number(n) if n.is_f64())) { float_value(a.iter().map(number).sum()) } else { Value::from(a.iter().map(integer).sum::<i64>()) }),
        "add1" => Ok(Value::from(integer(&last()) + 1)),
        "sub" => Ok(Value::from(a.first().map(integer).unwrap_or(0) - a.get(1).map(integer).unwrap_or(0))),
        "mul" => Ok(Value::from(a.iter().map(integer).product::<i64>())),
        "div" | "mod" => {
            let (x, y) = (a.first().map(integer).unwrap_or(0), a.get(1).map(integer).unwrap_or(0));
            if y == 0 {
                return Err(format!("{name}: division by zero"));
            }
            Ok(Value::from(if name == "div" { x / y } else { x % y }))
        }
        "max" => Ok(Value::from(a.iter().map(integer).max().unwrap_or(0))),
        "min" => Ok(Value::from(a.iter().map(integer).min().unwrap_or(0))),
        "addf" => Ok(float_value(a.iter().map(number).sum())),
        "subf" => Ok(float_value(a.first().map(number).unwrap_or(0.0) - a.iter().skip(1).map(number).sum::<f64>())),
        "mulf" => Ok(float_value(a.iter().map(number).product())),
        "divf" => Ok(float_value(a.iter().skip(1).fold(a.first().map(number).unwrap_or(0.0), |x, y| x / number(y)))),
        "floor" => Ok(float_value(number(&last()).floor())),
        "ceil" => Ok(float_value(number(&last()).ceil())),
        "round" => {
            let places = a.get(1).map(integer).unwrap_or(0).clamp(0, 15) as i32;
            let factor = 10f64.powi(places);
            Ok(float_value((number(&a.first().cloned().unwrap_or(Value::Null)) * factor).round() / factor))
        }
        "int" | "int64" | "atoi" => Ok(Value::from(integer(&last()))),
        "float64" => Ok(float_value(number(&last()))),
        // Types.
        "kindOf" => string(kind_of(&last()).to_string()),
        "kindIs" => Ok(Value::Bool(kind_of(&a.get(1).cloned().unwrap_or(Value::Null)) == s(0))),
        "typeOf" => string(type_of(&last()).to_string()),
        "typeIs" | "typeIsLike" => Ok(Value::Bool(type_of(&a.get(1).cloned().unwrap_or(Value::Null)) == s(0))),
        "deepEqual" => {
            let [x, y] = args::<2>(&name, &a)?;
            Ok(Value::Bool(x == y))
        }
        // Encodings.
        "toYaml" => string(super::yaml::to_yaml(&last()).trim_end_matches('\n').to_string()),
        "toJson" | "toRawJson" => string(serde_json::to_string(&last()).unwrap_or_default()),
        "toPrettyJson" => string(serde_json::to_string_pretty(&last()).unwrap_or_default()),
        // Helm returns a dict holding `Error` when the text is not YAML; charts test for it.
        "fromYaml" | "fromJson" => Ok(super::yaml::from_yaml(&s(0)).map(|v| if v.is_object() { v } else { Value::Object(Map::new()) }).unwrap_or_else(|e| serde_json::json!({"Error": e}))),
        "fromYamlArray" | "fromJsonArray" => Ok(super::yaml::from_yaml(&s(0)).map(|v| if v.is_array() { v } else { Value::Array(Vec::new()) }).unwrap_or_else(|e| Value::Array(vec![Value::String(e)]))),
        "semverCompare" => Ok(Value::Bool(semver_matches(&s(0), &s(1))?)),
        "env" | "expandenv" => Err(format!("{name} is not available to charts (as in Helm)")),
        other => Err(format!("function {other:?} not defined")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call_with(name: &str, arguments: Value) -> Value {
        call(name, arguments.as_array().unwrap().clone()).unwrap()
    }

    #[test]
    fn strings_as_sprig_makes_them() {
        assert_eq!(call_with("trunc", json!([5, "release-name"])), json!("relea"));
        assert_eq!(call_with("trimSuffix", json!(["-", "web-"])), json!("web"));
        assert_eq!(call_with("quote", json!(["a\"b", 8080])), json!("\"a\\\"b\" \"8080\""));
        assert_eq!(call_with("nindent", json!([2, "a: 1\nb: 2"])), json!("\n  a: 1\n  b: 2"));
        assert_eq!(call_with("default", json!(["x", ""])), json!("x"));
        assert_eq!(call_with("default", json!(["x", false])), json!("x"));
        assert_eq!(call_with("default", json!(["x", "given"])), json!("given"));
        assert_eq!(call_with("printf", json!(["%s-%s:%d %q %.2f %5s|%-3v|", "web", "db", 8080, "x", 1.5, "ab", 1])), json!("web-db:8080 \"x\" 1.50    ab|1  |"));
        assert_eq!(call_with("kebabcase", json!(["FirstName"])), json!("first-name"));
        assert_eq!(call_with("snakecase", json!(["HTTPServer"])), json!("http_server"));
        assert_eq!(call_with("camelcase", json!(["http_server"])), json!("HttpServer"));
        assert_eq!(call_with("b64enc", json!(["admin"])), json!("YWRtaW4="));
        assert_eq!(call_with("regexReplaceAll", json!(["[^a-z]", "We-b1", "x"])), json!("xexbx"));
        assert_eq!(call_with("mustRegexMatch", json!(["^w", "web"])), json!(true));
    }

    #[test]
    fn lists_dicts_and_math() {
        assert_eq!(call_with("dict", json!(["a", 1, "b"])), json!({"a": 1, "b": null}));
        assert_eq!(call_with("merge", json!([{"a": {"x": 1}}, {"a": {"x": 2, "y": 3}, "b": 4}])), json!({"a": {"x": 1, "y": 3}, "b": 4}));
        assert_eq!(call_with("mergeOverwrite", json!([{"a": {"x": 1}}, {"a": {"x": 2}}])), json!({"a": {"x": 2}}));
        assert_eq!(call_with("index", json!([{"a": [1, {"b": 2}]}, "a", 1, "b"])), json!(2));
        assert_eq!(call_with("until", json!([3])), json!([0, 1, 2]));
        assert_eq!(call_with("add", json!([1, 2, 3])), json!(6));
        assert_eq!(call_with("div", json!([7, 2])), json!(3));
        assert_eq!(call_with("eq", json!([2, 1, 2.0])), json!(true));
        assert_eq!(call_with("dig", json!(["a", "b", "none", {"a": {"b": "found"}}])), json!("found"));
        assert_eq!(call_with("toYaml", json!([{"b": [1, "on"], "a": {"c": "x y"}}])), json!("a:\n  c: x y\nb:\n- 1\n- \"on\""));
        assert_eq!(call_with("fromYaml", json!(["a: [1, 2]"])), json!({"a": [1, 2]}));
        assert!(call("div", vec![json!(1), json!(0)]).is_err());
        assert!(call("env", vec![json!("HOME")]).unwrap_err().contains("not available"));
    }

    #[test]
    fn semver_constraints_as_charts_write_them() {
        assert!(semver_matches(">=1.14-0", "v1.20.2").unwrap());
        assert!(!semver_matches("<1.14-0", "v1.20.2").unwrap());
        assert!(semver_matches(">=1.8-0, <1.21-0", "v1.20.2-gke.100").unwrap());
        assert!(semver_matches("^1.2 || ^2", "2.5.0").unwrap());
        assert!(semver_matches("~1.20.0", "1.20.9").unwrap());
        assert!(!semver_matches("~1.20.0", "1.21.0").unwrap());
        assert!(semver_matches("1.20.x", "1.20.2").unwrap());
        assert!(semver_matches(">= 1.19", "1.20.2").unwrap());
    }
}
