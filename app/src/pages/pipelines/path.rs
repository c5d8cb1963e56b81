//! Paths into a pipeline's JSON in the form the server's errors use (`stages[1].clusters[0].capacity.min`),
//! so the stage forms read and write a value by the same name the server blames it by.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// `a.b[2].c` as steps; a malformed index is read as a key (it then finds nothing).
fn steps(path: &str) -> Vec<Step> {
    let mut found = Vec::new();
    for part in path.split('.').filter(|part| !part.is_empty()) {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            if open > 0 {
                found.push(Step::Key(rest[..open].to_string()));
            }
            rest = &rest[open..];
            while let Some(body) = rest.strip_prefix('[') {
                let Some(close) = body.find(']') else { break };
                match body[..close].parse() {
                    Ok(index) => found.push(Step::Index(index)),
                    Err(_) => found.push(Step::Key(body[..close].to_string())),
                }
                rest = &body[close + 1..];
            }
        } else {
            found.push(Step::Key(rest.to_string()));
        }
    }
    found
}

/// The value at `path`, if there is one.
pub fn get<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    steps(path).iter().try_fold(root, |value, step| match step {
        Step::Key(key) => value.get(key),
        Step::Index(index) => value.get(index),
    })
}

/// Sets the value at `path`, creating the objects on the way; `None` removes it. An index past
/// the end of a list appends. Does nothing where the path crosses a value of another shape.
pub fn set(root: &mut Value, path: &str, value: Option<Value>) {
    let steps = steps(path);
    let Some((last, parents)) = steps.split_last() else { return };
    let mut at = root;
    for (position, step) in parents.iter().enumerate() {
        let next_is_index = matches!(steps[position + 1], Step::Index(_));
        let empty = || if next_is_index { Value::Array(Vec::new()) } else { Value::Object(Map::new()) };
        at = match (step, at) {
            (Step::Key(key), Value::Object(map)) => {
                if value.is_none() && !map.contains_key(key) {
                    return;
                }
                map.entry(key.clone()).or_insert_with(empty)
            }
            (Step::Index(index), Value::Array(items)) => {
                if *index >= items.len() {
                    if value.is_none() {
                        return;
                    }
                    items.push(empty());
                }
                let last = items.len() - 1;
                &mut items[(*index).min(last)]
            }
            _ => return,
        };
    }
    match (last, at, value) {
        (Step::Key(key), Value::Object(map), Some(value)) => {
            map.insert(key.clone(), value);
        }
        (Step::Key(key), Value::Object(map), None) => {
            map.remove(key);
        }
        (Step::Index(index), Value::Array(items), Some(value)) if *index < items.len() => items[*index] = value,
        (Step::Index(_), Value::Array(items), Some(value)) => items.push(value),
        (Step::Index(index), Value::Array(items), None) if *index < items.len() => {
            items.remove(*index);
        }
        _ => {}
    }
}

/// Whether an error naming `field` concerns the value at `path` (the value itself, or inside it).
pub fn concerns(field: &str, path: &str) -> bool {
    field.strip_prefix(path).is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_and_writes_by_the_servers_names() {
        let mut root = json!({"stages": [{"refId": "1", "clusters": [{"capacity": {"min": 1}}]}]});
        assert_eq!(get(&root, "stages[0].clusters[0].capacity.min"), Some(&json!(1)));
        assert_eq!(get(&root, "stages[1].refId"), None);
        set(&mut root, "stages[0].clusters[0].capacity.max", Some(json!(3)));
        set(&mut root, "stages[0].stageEnabled.expression", Some(json!("${true}")));
        assert_eq!(root["stages"][0]["clusters"][0]["capacity"], json!({"min": 1, "max": 3}));
        assert_eq!(root["stages"][0]["stageEnabled"], json!({"expression": "${true}"}));
        set(&mut root, "stages[0].clusters[0].capacity.min", None);
        set(&mut root, "stages[0].nothing.here", None);
        assert_eq!(root["stages"][0]["clusters"][0]["capacity"], json!({"max": 3}));
        assert!(root["stages"][0].get("nothing").is_none(), "removing what is not there creates nothing");
        set(&mut root, "stages[0].clusters[1]", Some(json!({"stack": "b"})));
        assert_eq!(root["stages"][0]["clusters"][1]["stack"], "b");
        set(&mut root, "stages[0].clusters[0]", None);
        assert_eq!(root["stages"][0]["clusters"], json!([{"stack": "b"}]));
        set(&mut root, "stages[0].refId.oops", Some(json!(1)));
        assert_eq!(root["stages"][0]["refId"], "1", "a path across a text changes nothing");
    }

    #[test]
    fn an_error_concerns_its_value_and_what_is_inside() {
        assert!(concerns("stages[0].clusters[0].artifact.command[1]", "stages[0].clusters[0].artifact.command"));
        assert!(concerns("stages[0].waitTime", "stages[0].waitTime"));
        assert!(!concerns("stages[10].waitTime", "stages[1]"));
        assert!(!concerns("stages[0].waitTimeout", "stages[0].waitTime"));
    }
}
