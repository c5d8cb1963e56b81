//! The links of a chain, applied to the value so far: `.name`, `[index]`, `.method()`,
//! selection `.?[...]` / `.^[...]` / `.$[...]` and projection `.![...]`, with Spring's rules
//! for null (`?.` gives null; without it, reading from null is an error) and for maps
//! (selection and projection see entries with `key` and `value`).

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::super::ast::{Node, Step, Which};
use super::super::values::{convert_to_string, evaluate_error, type_name};
use super::super::{Error, methods, types};
use super::{Evaluator, This, Val};

impl Evaluator<'_> {
    pub(super) fn step<'a>(
        &mut self,
        current: Val<'a>,
        step: &'a Step,
        this: This<'a>,
        root: &'a Value,
    ) -> Result<Val<'a>, Error> {
        match step {
            Step::Property { name, null_safe } => property(current, name, *null_safe),
            Step::Method { null_safe: true, .. } if current.is_null() => Ok(Cow::Owned(Value::Null)),
            Step::Method { name, args, .. } => {
                // Spring evaluates arguments against #this (the element in a selection), not
                // against the value the method is called on.
                let args = self.arguments(args, this, root)?;
                methods::call(self, current, name, &args)
            }
            Step::Index { index, null_safe } => self.index(current, index, *null_safe, root),
            Step::Select { which, predicate, null_safe } => self.select(current, *which, predicate, *null_safe, root),
            Step::Project { expression, null_safe } => self.project(current, expression, *null_safe, root),
        }
    }

    fn index<'a>(
        &mut self,
        target: Val<'a>,
        index: &'a Node,
        null_safe: bool,
        root: &'a Value,
    ) -> Result<Val<'a>, Error> {
        if target.is_null() {
            if null_safe {
                return Ok(target);
            }
            return Err(evaluate_error("cannot index into null (use '?.[' to get null instead)"));
        }
        // Spring: a bare name indexing a map is the key itself (`map[key]` is `map['key']`).
        if let (Value::Object(_), Node::Property(name)) = (&*target, index) {
            return property(target, name, false);
        }
        // Spring evaluates an index against the root, even inside a selection.
        let key = self.eval(index, This::Value(root), root)?;
        element(self, target, &key)
    }

    fn select<'a>(
        &mut self,
        target: Val<'a>,
        which: Which,
        predicate: &'a Node,
        null_safe: bool,
        root: &'a Value,
    ) -> Result<Val<'a>, Error> {
        match &*target {
            Value::Array(items) => {
                let mut chosen = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    if self.test(predicate, This::Value(item), root)? {
                        chosen.push(i);
                        if which == Which::First {
                            break;
                        }
                    }
                }
                match (which, chosen.last()) {
                    (Which::All, _) => {
                        self.check_items(chosen.len())?;
                        Ok(Cow::Owned(Value::Array(self.take_items(target, &chosen)?)))
                    }
                    (_, None) => Ok(Cow::Owned(Value::Null)),
                    (_, Some(&last)) => element(self, target, &Value::from(last)),
                }
            }
            Value::Object(map) => {
                let mut chosen = Vec::new();
                for (key, value) in map {
                    if self.test(predicate, This::Entry(key, value), root)? {
                        chosen.push(key.clone());
                        if which == Which::First {
                            break;
                        }
                    }
                }
                if which == Which::Last {
                    chosen = chosen.pop().into_iter().collect();
                }
                if which != Which::All && chosen.is_empty() {
                    return Ok(Cow::Owned(Value::Null));
                }
                self.check_items(chosen.len())?;
                Ok(Cow::Owned(Value::Object(self.take_entries(target, &chosen)?)))
            }
            Value::Null if null_safe => Ok(Cow::Owned(Value::Null)),
            Value::Null => Err(evaluate_error("cannot select from null (use '?.' to get null instead)")),
            other => Err(evaluate_error(format!("selection needs a list or a map, not {}", type_name(other)))),
        }
    }

    /// A selection's criterion for one element: Spring accepts only a boolean.
    fn test(&mut self, predicate: &Node, this: This<'_>, root: &Value) -> Result<bool, Error> {
        self.meter.charge(1)?;
        match &*self.eval(predicate, this, root)? {
            Value::Bool(verdict) => Ok(*verdict),
            other => {
                Err(evaluate_error(format!("a selection's criterion must be true or false, not {}", type_name(other))))
            }
        }
    }

    fn take_items(&mut self, target: Val<'_>, chosen: &[usize]) -> Result<Vec<Value>, Error> {
        match target {
            Cow::Borrowed(Value::Array(items)) => {
                chosen.iter().filter_map(|&i| items.get(i)).map(|item| self.meter.copy(item)).collect()
            }
            Cow::Owned(Value::Array(items)) => {
                let mut keep = vec![false; items.len()];
                for &i in chosen {
                    if let Some(flag) = keep.get_mut(i) {
                        *flag = true;
                    }
                }
                Ok(items.into_iter().zip(keep).filter_map(|(item, kept)| kept.then_some(item)).collect())
            }
            _ => Ok(Vec::new()),
        }
    }

    fn take_entries(&mut self, target: Val<'_>, chosen: &[String]) -> Result<Map<String, Value>, Error> {
        let mut entries = Map::new();
        match target {
            Cow::Borrowed(Value::Object(map)) => {
                for key in chosen {
                    if let Some(value) = map.get(key) {
                        entries.insert(key.clone(), self.meter.copy(value)?);
                    }
                }
            }
            Cow::Owned(Value::Object(mut map)) => {
                for key in chosen {
                    if let Some(value) = map.remove(key) {
                        entries.insert(key.clone(), value);
                    }
                }
            }
            _ => {}
        }
        Ok(entries)
    }

    fn project<'a>(
        &mut self,
        target: Val<'a>,
        expression: &'a Node,
        null_safe: bool,
        root: &'a Value,
    ) -> Result<Val<'a>, Error> {
        let mut projected = Vec::new();
        match &*target {
            Value::Array(items) => {
                self.check_items(items.len())?;
                for item in items {
                    self.meter.charge(1)?;
                    let value = self.eval(expression, This::Value(item), root)?;
                    projected.push(self.own(value)?);
                }
            }
            Value::Object(map) => {
                self.check_items(map.len())?;
                for (key, item) in map {
                    self.meter.charge(1)?;
                    let value = self.eval(expression, This::Entry(key, item), root)?;
                    projected.push(self.own(value)?);
                }
            }
            Value::Null if null_safe => return Ok(Cow::Owned(Value::Null)),
            Value::Null => return Err(evaluate_error("cannot project null (use '?.' to get null instead)")),
            other => return Err(evaluate_error(format!("projection needs a list or a map, not {}", type_name(other)))),
        }
        Ok(Cow::Owned(Value::Array(projected)))
    }
}

/// `target.name`: a map's entry, null when the map has no such key (Orca evaluates stage
/// contexts with `allowUnknownKeys`); reading from null is an error unless `null_safe`.
pub(in super::super) fn property<'a>(target: Val<'a>, name: &str, null_safe: bool) -> Result<Val<'a>, Error> {
    match target {
        Cow::Borrowed(Value::Object(map)) => Ok(map.get(name).map_or(Cow::Owned(Value::Null), Cow::Borrowed)),
        Cow::Owned(Value::Object(mut map)) => Ok(Cow::Owned(map.remove(name).unwrap_or(Value::Null))),
        Cow::Borrowed(Value::Null) | Cow::Owned(Value::Null) if null_safe => Ok(Cow::Owned(Value::Null)),
        other => Err(evaluate_error(match &*other {
            Value::Null => format!("cannot read property '{name}' of null (use '?.' to get null instead)"),
            Value::Array(_) => {
                format!("cannot read property '{name}' of a list (to read it from every item use '.![{name}]')")
            }
            value => format!("cannot read property '{name}' of {}", type_name(value)),
        })),
    }
}

/// `target[key]` (and `get(key)`): a list's item, a map's entry (null when missing), a
/// string's character.
pub(in super::super) fn element<'a>(ev: &mut Evaluator<'_>, target: Val<'a>, key: &Value) -> Result<Val<'a>, Error> {
    ev.charge_strings([key])?;
    let position = |length: usize, what: &str| {
        let index = types::integral(key, i64::MIN, i64::MAX, "an index")?;
        usize::try_from(index)
            .ok()
            .filter(|&i| i < length)
            .ok_or_else(|| evaluate_error(format!("index {index} is out of range for {what} of {length}")))
    };
    match target {
        Cow::Borrowed(Value::Object(_)) | Cow::Owned(Value::Object(_)) => {
            let name = convert_to_string(key, ev.limits.max_string)?;
            property(target, &name, false)
        }
        Cow::Borrowed(Value::Array(items)) => {
            let i = position(items.len(), "a list")?;
            Ok(items.get(i).map_or(Cow::Owned(Value::Null), Cow::Borrowed))
        }
        Cow::Owned(Value::Array(items)) => {
            let i = position(items.len(), "a list")?;
            Ok(Cow::Owned(items.into_iter().nth(i).unwrap_or(Value::Null)))
        }
        Cow::Borrowed(Value::String(_)) | Cow::Owned(Value::String(_)) => {
            let text = target.as_str().unwrap_or_default();
            ev.meter.charge_bytes(text.len())?;
            char_at(text, position(text.chars().count(), "a string")?)
        }
        other => Err(evaluate_error(format!("cannot index into {}", type_name(&other)))),
    }
}

fn char_at<'a>(text: &str, index: usize) -> Result<Val<'a>, Error> {
    Ok(Cow::Owned(Value::String(text.chars().nth(index).map(String::from).unwrap_or_default())))
}
