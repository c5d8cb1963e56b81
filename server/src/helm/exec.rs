//! Runs parsed Go templates over JSON values, as Helm runs a chart's templates
//! (`missingkey=zero`, so a missing value prints nothing, but a field of nothing is an error
//! as in Helm: `nil pointer evaluating interface {}.tag`). Templates share one set of
//! `define`s; `include` and `tpl` render into a string. Bounded like expressions are: steps,
//! nesting and output size, so a chart cannot loop or grow without end.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::functions;
use super::template::{self, Command, Node, Operand, Parsed, Pipeline};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    #[error(transparent)]
    Syntax(#[from] template::Error),
    #[error("{template}: {message}")]
    Failed { template: String, message: String },
}

/// How far a render may go.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_steps: u64,
    pub max_depth: usize,
    pub max_output: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_steps: 5_000_000, max_depth: 100, max_output: 8 << 20 }
    }
}

/// The `define`d templates of every file of a chart (and its subcharts), by name.
#[derive(Debug, Default)]
pub struct Templates {
    defines: BTreeMap<String, Vec<Node>>,
}

impl Templates {
    /// Adds a file's defines (a later file's define of the same name wins, as in Helm).
    pub fn add(&mut self, parsed: &Parsed) {
        self.defines.extend(parsed.defines.iter().map(|(name, body)| (name.clone(), body.clone())));
    }
}

enum Flow {
    Normal,
    Break,
    Continue,
}

/// One render: the templates, the variables in scope, and what it has used of its limits.
pub struct Exec<'a> {
    templates: &'a Templates,
    /// Defines made by `tpl` text, seen only while it runs.
    overlays: Vec<BTreeMap<String, Vec<Node>>>,
    variables: Vec<(String, Value)>,
    limits: Limits,
    steps: u64,
    depth: usize,
    /// The template being run, for errors.
    name: String,
}

impl<'a> Exec<'a> {
    pub fn new(templates: &'a Templates, limits: Limits) -> Self {
        Self { templates, overlays: Vec::new(), variables: Vec::new(), limits, steps: 0, depth: 0, name: String::new() }
    }

    fn fail(&self, message: impl Into<String>) -> Error {
        Error::Failed { template: self.name.clone(), message: message.into() }
    }

    /// Renders a template body named `name` with `data` as dot and `$`.
    pub fn render(&mut self, name: &str, body: &[Node], data: &Value) -> Result<String, Error> {
        let previous = std::mem::replace(&mut self.name, name.to_string());
        let saved = std::mem::replace(&mut self.variables, vec![("$".into(), data.clone())]);
        let mut out = String::new();
        let result = self.nodes(body, data, &mut out);
        self.variables = saved;
        self.name = previous;
        result.map(|_| out)
    }

    /// Renders the defined template `name` (what `include` and `template` do).
    pub fn include(&mut self, name: &str, data: &Value) -> Result<String, Error> {
        let body = self
            .overlays
            .iter()
            .rev()
            .find_map(|overlay| overlay.get(name))
            .or_else(|| self.templates.defines.get(name))
            .cloned()
            .ok_or_else(|| self.fail(format!("no template {name:?} is defined")))?;
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            self.depth -= 1;
            return Err(self.fail(format!("templates nest deeper than {} (does {name:?} include itself?)", self.limits.max_depth)));
        }
        let saved = std::mem::replace(&mut self.variables, vec![("$".into(), data.clone())]);
        let mut out = String::new();
        let result = self.nodes(&body, data, &mut out);
        self.variables = saved;
        self.depth -= 1;
        result.map(|_| out)
    }

    /// Renders `text` as a template with `data` (Helm's `tpl`).
    pub fn tpl(&mut self, text: &str, data: &Value) -> Result<String, Error> {
        let parsed = template::parse(&format!("{} (tpl)", self.name), text)?;
        self.overlays.push(parsed.defines.clone());
        self.depth += 1;
        let result = if self.depth > self.limits.max_depth {
            Err(self.fail("tpl nests too deep"))
        } else {
            let saved = std::mem::replace(&mut self.variables, vec![("$".into(), data.clone())]);
            let mut out = String::new();
            let result = self.nodes(&parsed.body, data, &mut out).map(|_| out);
            self.variables = saved;
            result
        };
        self.depth -= 1;
        self.overlays.pop();
        result
    }

    fn step(&mut self) -> Result<(), Error> {
        self.steps += 1;
        if self.steps > self.limits.max_steps {
            return Err(self.fail(format!("the chart took more than {} steps to render", self.limits.max_steps)));
        }
        Ok(())
    }

    fn write(&self, out: &mut String, text: &str) -> Result<(), Error> {
        if out.len() + text.len() > self.limits.max_output {
            return Err(self.fail(format!("the output is larger than {} bytes", self.limits.max_output)));
        }
        out.push_str(text);
        Ok(())
    }

    fn nodes(&mut self, nodes: &[Node], dot: &Value, out: &mut String) -> Result<Flow, Error> {
        for node in nodes {
            self.step()?;
            match node {
                Node::Text(text) => self.write(out, text)?,
                Node::Action(pipeline) => {
                    let value = self.pipeline(pipeline, dot)?;
                    if pipeline.variables.is_empty() {
                        self.write(out, &functions::print(&value))?;
                    }
                }
                Node::If { branches, otherwise } | Node::With { branches, otherwise } => {
                    let with = matches!(node, Node::With { .. });
                    let mark = self.variables.len();
                    let mut chosen = None;
                    for (pipeline, body) in branches {
                        let value = self.pipeline(pipeline, dot)?;
                        if functions::truthy(&value) {
                            chosen = Some((body, value));
                            break;
                        }
                    }
                    let flow = match chosen {
                        Some((body, value)) => self.nodes(body, if with { &value } else { dot }, out),
                        None => self.nodes(otherwise, dot, out),
                    };
                    self.variables.truncate(mark);
                    match flow? {
                        Flow::Normal => {}
                        other => return Ok(other),
                    }
                }
                Node::Range { pipeline, body, otherwise } => {
                    let mark = self.variables.len();
                    let mut unnamed = pipeline.clone();
                    unnamed.variables.clear();
                    let value = self.pipeline(&unnamed, dot)?;
                    let items: Vec<(Value, Value)> = match value {
                        Value::Array(list) => list.into_iter().enumerate().map(|(index, item)| (Value::from(index), item)).collect(),
                        Value::Object(map) => {
                            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
                            entries.sort_by(|a, b| a.0.cmp(&b.0));
                            entries.into_iter().map(|(key, item)| (Value::String(key), item)).collect()
                        }
                        Value::Number(number) if number.as_i64().is_some() => {
                            let count = number.as_i64().unwrap_or(0).max(0);
                            if count as u64 > self.limits.max_steps {
                                return Err(self.fail(format!("range over {count} is more than a render may take")));
                            }
                            (0..count).map(|index| (Value::from(index), Value::from(index))).collect()
                        }
                        Value::Null => Vec::new(),
                        other => return Err(self.fail(format!("range can't iterate over {}", functions::print(&other)))),
                    };
                    if items.is_empty() {
                        let flow = self.nodes(otherwise, dot, out)?;
                        self.variables.truncate(mark);
                        if !matches!(flow, Flow::Normal) {
                            return Ok(flow);
                        }
                        continue;
                    }
                    for (key, item) in items {
                        self.variables.truncate(mark);
                        match pipeline.variables.as_slice() {
                            [one] => self.variables.push((one.clone(), item.clone())),
                            [index, element] => {
                                self.variables.push((index.clone(), key));
                                self.variables.push((element.clone(), item.clone()));
                            }
                            _ => {}
                        }
                        match self.nodes(body, &item, out)? {
                            Flow::Break => break,
                            Flow::Continue | Flow::Normal => {}
                        }
                    }
                    self.variables.truncate(mark);
                }
                Node::Template { name, data } => {
                    let data = match data {
                        Some(pipeline) => self.pipeline(pipeline, dot)?,
                        None => Value::Null,
                    };
                    let text = self.include(name, &data)?;
                    self.write(out, &text)?;
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }

    fn pipeline(&mut self, pipeline: &Pipeline, dot: &Value) -> Result<Value, Error> {
        let mut value = None;
        for command in &pipeline.commands {
            self.step()?;
            value = Some(self.command(command, dot, value)?);
        }
        let value = value.unwrap_or(Value::Null);
        if let Some(name) = pipeline.variables.first() {
            if pipeline.assigns {
                let slot = self.variables.iter_mut().rev().find(|(variable, _)| variable == name);
                match slot {
                    Some((_, existing)) => *existing = value.clone(),
                    None => return Err(self.fail(format!("undefined variable: {name}"))),
                }
            } else {
                self.variables.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn variable(&self, name: &str) -> Result<Value, Error> {
        self.variables.iter().rev().find(|(variable, _)| variable == name).map(|(_, value)| value.clone()).ok_or_else(|| self.fail(format!("undefined variable: {name}")))
    }

    fn fields(&self, mut value: Value, names: &[String]) -> Result<Value, Error> {
        for name in names {
            value = match value {
                Value::Object(mut map) => map.remove(name).unwrap_or(Value::Null),
                Value::Null => return Err(self.fail(format!("nil pointer evaluating interface {{}}.{name}"))),
                other => return Err(self.fail(format!("can't evaluate field {name} in type {}", functions::kind_of(&other)))),
            };
        }
        Ok(value)
    }

    fn operand(&mut self, operand: &Operand, dot: &Value) -> Result<Value, Error> {
        match operand {
            Operand::Field(names) => self.fields(dot.clone(), names),
            Operand::Variable(name, names) => {
                let value = self.variable(name)?;
                self.fields(value, names)
            }
            Operand::Literal(value) => Ok(value.clone()),
            Operand::Function(name) => self.call(name, Vec::new(), dot),
            Operand::Group(pipeline, names) => {
                let value = self.pipeline(pipeline, dot)?;
                self.fields(value, names)
            }
        }
    }

    fn command(&mut self, command: &Command, dot: &Value, piped: Option<Value>) -> Result<Value, Error> {
        let first = &command.operands[0];
        let rest = &command.operands[1..];
        match first {
            Operand::Function(name) if name == "and" || name == "or" => {
                let mut last = Value::Null;
                let count = rest.len() + usize::from(piped.is_some());
                if count == 0 {
                    return Err(self.fail(format!("{name}: wrong number of args")));
                }
                let mut piped = piped;
                for index in 0..count {
                    last = match rest.get(index) {
                        Some(operand) => self.operand(operand, dot)?,
                        None => piped.take().unwrap_or(Value::Null),
                    };
                    let truth = functions::truthy(&last);
                    if (name == "and" && !truth) || (name == "or" && truth) {
                        return Ok(last);
                    }
                }
                Ok(last)
            }
            Operand::Function(name) => {
                let mut arguments = Vec::with_capacity(rest.len() + 1);
                for operand in rest {
                    arguments.push(self.operand(operand, dot)?);
                }
                arguments.extend(piped);
                let result = self.call(name, arguments, dot)?;
                // Sprig's `set`, `unset`, `merge` change the dict they are given; the dict is
                // a value here, so a variable passed to them is updated in place.
                if matches!(name.as_str(), "set" | "unset" | "merge" | "mergeOverwrite" | "mustMerge" | "mustMergeOverwrite")
                    && let Some(Operand::Variable(variable, path)) = rest.first()
                {
                    self.write_back(variable, path, result.clone());
                }
                Ok(result)
            }
            // A method: `.Files.Get "name"`, `.Capabilities.APIVersions.Has "apps/v1"`.
            Operand::Field(names) | Operand::Variable(_, names) if !names.is_empty() && (!rest.is_empty() || piped.is_some()) => {
                let receiver = match first {
                    Operand::Variable(name, _) => {
                        let value = self.variable(name)?;
                        self.fields(value, &names[..names.len() - 1])?
                    }
                    _ => self.fields(dot.clone(), &names[..names.len() - 1])?,
                };
                let mut arguments = Vec::new();
                for operand in rest {
                    arguments.push(self.operand(operand, dot)?);
                }
                arguments.extend(piped);
                functions::method(&receiver, &names[names.len() - 1], &arguments).map_err(|message| self.fail(message))
            }
            _ if !rest.is_empty() || piped.is_some() => Err(self.fail("can't give argument to non-function")),
            _ => self.operand(first, dot),
        }
    }

    fn write_back(&mut self, variable: &str, path: &[String], value: Value) {
        let Some((_, slot)) = self.variables.iter_mut().rev().find(|(name, _)| name == variable) else { return };
        let mut target = slot;
        for name in path {
            let Value::Object(map) = target else { return };
            target = map.entry(name.clone()).or_insert_with(|| Value::Object(Map::new()));
        }
        *target = value;
    }

    fn call(&mut self, name: &str, arguments: Vec<Value>, _dot: &Value) -> Result<Value, Error> {
        match name {
            "include" => {
                let [name, data] = exactly::<2>(name, arguments).map_err(|message| self.fail(message))?;
                let name = functions::print(&name);
                Ok(Value::String(self.include(&name, &data)?))
            }
            "tpl" => {
                let [text, data] = exactly::<2>(name, arguments).map_err(|message| self.fail(message))?;
                Ok(Value::String(self.tpl(&functions::print(&text), &data)?))
            }
            "template" => Err(self.fail("template is an action: {{ template \"name\" . }}")),
            _ => functions::call(name, arguments).map_err(|message| self.fail(message)),
        }
    }
}

/// The arguments of a function taking exactly `N`.
pub fn exactly<const N: usize>(name: &str, arguments: Vec<Value>) -> Result<[Value; N], String> {
    let count = arguments.len();
    arguments.try_into().map_err(|_| format!("wrong number of args for {name}: want {N} got {count}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(source: &str, data: Value) -> Result<String, Error> {
        let parsed = template::parse("t", source)?;
        let mut templates = Templates::default();
        templates.add(&parsed);
        Exec::new(&templates, Limits::default()).render("t", &parsed.body, &data)
    }

    #[test]
    fn values_conditions_and_loops() {
        let data = json!({"Values": {"name": "web", "ports": [80, 443], "labels": {"b": "2", "a": "1"}, "on": true, "zero": 0}});
        assert_eq!(render("{{ .Values.name }}-{{ .Values.missing }}.", data.clone()).unwrap(), "web-.");
        assert_eq!(render("{{ if .Values.zero }}no{{ else if .Values.on }}yes{{ end }}", data.clone()).unwrap(), "yes");
        assert_eq!(render("{{ range $i, $p := .Values.ports }}{{ $i }}={{ $p }};{{ end }}", data.clone()).unwrap(), "0=80;1=443;");
        assert_eq!(render("{{ range $k, $v := .Values.labels }}{{ $k }}:{{ $v }} {{ end }}", data.clone()).unwrap(), "a:1 b:2 ");
        assert_eq!(render("{{ with .Values.labels }}{{ .a }}{{ end }}{{ with .Values.none }}x{{ else }}none{{ end }}", data.clone()).unwrap(), "1none");
        assert_eq!(render("{{ range .Values.ports }}{{ if eq . 443 }}{{ break }}{{ end }}{{ . }}{{ end }}", data.clone()).unwrap(), "80");
        assert_eq!(render("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", data.clone()).unwrap(), "2");
        assert_eq!(render("{{ range .Values.none }}x{{ else }}empty{{ end }}", data.clone()).unwrap(), "empty");
        assert_eq!(render("{{ and .Values.on .Values.name }} {{ or .Values.zero \"d\" }}", data.clone()).unwrap(), "web d");
        assert_eq!(render("{{ .Values.missing.tag }}", data).unwrap_err().to_string(), "t: nil pointer evaluating interface {}.tag");
    }

    #[test]
    fn defines_include_and_tpl_share_one_set() {
        let source = r#"{{- define "name" -}}{{ .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- define "labels" -}}
app: {{ include "name" . }}
{{- end -}}
metadata:
  labels:
    {{- include "labels" . | nindent 4 }}
  note: {{ tpl .Values.note . }}
  {{- template "name" . }}"#;
        let data = json!({"Chart": {"Name": "web"}, "Values": {"note": "{{ .Chart.Name }}-x"}});
        assert_eq!(render(source, data).unwrap(), "metadata:\n  labels:\n    app: web\n  note: web-xweb");
    }

    #[test]
    fn set_changes_the_variable_it_is_given() {
        assert_eq!(render(r#"{{ $d := dict "a" 1 }}{{ $_ := set $d "b" 2 }}{{ $d | toJson }}"#, json!({})).unwrap(), r#"{"a":1,"b":2}"#);
    }

    #[test]
    fn methods_of_files_and_capabilities() {
        let data = json!({"Files": {"conf/app.ini": "x=1"}, "Capabilities": {"APIVersions": ["apps/v1"]}});
        assert_eq!(render(r#"{{ .Files.Get "conf/app.ini" }} {{ .Capabilities.APIVersions.Has "apps/v1" }} {{ .Capabilities.APIVersions.Has "x/v1" }}"#, data).unwrap(), "x=1 true false");
    }

    #[test]
    fn a_chart_cannot_loop_or_recurse_without_end() {
        let error = render(r#"{{ define "a" }}{{ include "a" . }}{{ end }}{{ include "a" . }}"#, json!({})).unwrap_err();
        assert!(error.to_string().contains("nest deeper than 100"), "{error}");
        let parsed = template::parse("t", "{{ range 5000 }}{{ range 5000 }}x{{ end }}{{ end }}").unwrap();
        let templates = Templates::default();
        let limits = Limits { max_steps: 10_000, ..Limits::default() };
        let error = Exec::new(&templates, limits).render("t", &parsed.body, &json!({})).unwrap_err();
        assert!(error.to_string().contains("more than 10000 steps"), "{error}");
    }
}
