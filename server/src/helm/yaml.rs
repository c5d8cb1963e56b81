//! YAML for charts: `toYaml` writes values as Helm's (go-yaml) does (keys sorted, two-space
//! indent, a list inside a map not indented, strings quoted only where YAML would read them as
//! something else), so a chart's `{{ toYaml .Values.resources | nindent 12 }}` lands as valid
//! YAML at any indent; reading (`values.yaml`, `fromYaml`) is serde-saphyr's.

use serde_json::Value;

/// `value` as block YAML, ending in a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if map.is_empty() => out.push_str("{}\n"),
        Value::Array(list) if list.is_empty() => out.push_str("[]\n"),
        Value::Object(_) | Value::Array(_) => block(value, 0, &mut out),
        scalar => {
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
    out
}

fn block(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for key in keys {
                let item = &map[key];
                out.push_str(&format!("{pad}{}:", string_text(key)));
                nested(item, indent, true, out);
            }
        }
        Value::Array(list) => {
            for item in list {
                out.push_str(&format!("{pad}-"));
                match item {
                    Value::Object(map) if !map.is_empty() => {
                        // The first key goes on the dash's line.
                        let mut inner = String::new();
                        block(item, indent + 2, &mut inner);
                        out.push(' ');
                        out.push_str(&inner[indent + 2..]);
                    }
                    _ => nested(item, indent, false, out),
                }
            }
        }
        scalar => {
            out.push_str(&pad);
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
}

/// What follows `key:` or `-`: an inline scalar or empty collection, else a block below.
fn nested(item: &Value, indent: usize, in_map: bool, out: &mut String) {
    match item {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            block(item, indent + 2, out);
        }
        // go-yaml writes a map's list at the map's own indent.
        Value::Array(list) if !list.is_empty() => {
            out.push('\n');
            block(item, if in_map { indent } else { indent + 2 }, out);
        }
        Value::String(s) if s.contains('\n') => {
            let chomp = if s.ends_with('\n') { "" } else { "-" };
            out.push_str(&format!(" |{chomp}\n"));
            let pad = " ".repeat(indent + 2);
            for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
                if line.is_empty() {
                    out.push('\n');
                } else {
                    out.push_str(&format!("{pad}{line}\n"));
                }
            }
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(number) => super::functions::print(&Value::Number(number.clone())),
        Value::String(s) => string_text(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

/// Words YAML 1.1 (go-yaml) reads as booleans or null.
const SPECIAL_WORDS: &[&str] = &["y", "yes", "n", "no", "true", "false", "on", "off", "null", "~"];

/// A string as YAML: plain when it reads back as the same string, else double-quoted.
fn string_text(s: &str) -> String {
    let looks_special = SPECIAL_WORDS.contains(&s.to_lowercase().as_str())
        || s.parse::<f64>().is_ok()
        || s.starts_with("0x")
        || s.starts_with("0o")
        || s.starts_with(['-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', ' ', '.'])
        || s.ends_with([' ', ':'])
        || s.contains(": ")
        || s.contains(" #")
        || s.contains(['\n', '\t', '\r'])
        || s.is_empty()
        || s.chars().any(char::is_control);
    if looks_special { serde_json::to_string(s).unwrap_or_default() } else { s.to_string() }
}

/// One YAML document as a value (empty text is an empty map, as Helm reads an empty values file).
pub fn from_yaml(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    let value: Value = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
    Ok(if value.is_null() { Value::Object(serde_json::Map::new()) } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn written_yaml_reads_back_as_the_same_value() {
        let value = json!({"resources": {"limits": {"cpu": "100m", "memory": "128Mi"}}, "ports": [{"name": "http", "containerPort": 80}, {"name": "x"}],
            "tricky": ["yes", "1.0", "", "a: b", "-x", "multi\nline", " lead", "#c", 3.5, null, true], "empty": {}, "none": [],
            "nested": [[1, 2], {"a": [{"b": 1}]}]});
        let text = to_yaml(&value);
        assert_eq!(from_yaml(&text).unwrap(), value, "{text}");
        assert!(text.contains("ports:\n- containerPort: 80\n  name: http\n- name: x\n"), "{text}");
    }
}
