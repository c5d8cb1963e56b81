//! Helm charts rendered in-process, as `helm template` renders them for Spinnaker's
//! `bakeManifest` (Rosco shells out to the `helm` binary, which cannot be installed here and
//! would be one more thing to ship): Go's template language (`template.rs`, `exec.rs`), the
//! Sprig and Helm functions charts use (`functions.rs`), YAML as Helm writes it (`yaml.rs`),
//! charts from archives or folders with subcharts (`chart.rs`), and here the values (chart
//! defaults, values files, `--set`/`--set-string` overrides, subchart scoping and `global`) and
//! the render itself. What is not supported says so by name (a missing function, `.Files.Glob`).

pub mod chart;
pub mod exec;
pub mod functions;
pub mod template;
pub mod yaml;

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

pub use chart::Chart;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Chart(#[from] chart::Error),
    #[error(transparent)]
    Template(#[from] exec::Error),
    #[error("values file {index}: {message}")]
    Values { index: usize, message: String },
    #[error("override {key:?}: {message}")]
    Override { key: String, message: String },
}

/// What `helm template` is told besides the chart.
#[derive(Debug, Clone, Default)]
pub struct Release {
    pub name: String,
    pub namespace: String,
    /// Values files' text, later ones winning.
    pub values_files: Vec<String>,
    /// `key=value` overrides (`image.tag`, `ports[0]`), applied last.
    pub overrides: BTreeMap<String, String>,
    /// `--set` (typed: numbers, booleans, `null`, `{a,b}` lists) rather than `--set-string`.
    pub raw_overrides: bool,
    /// `--kube-version`, else the version the API versions below are from.
    pub kube_version: String,
    /// `--api-versions`, added to the built-in ones.
    pub api_versions: Vec<String>,
}

/// The Kubernetes version charts see unless told: the test cluster's minor version.
const DEFAULT_KUBE_VERSION: &str = "v1.20.0";

/// API versions of a Kubernetes 1.20 server, for `.Capabilities.APIVersions.Has`.
const API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "apiextensions.k8s.io/v1",
    "apps/v1",
    "autoscaling/v1",
    "autoscaling/v2beta1",
    "autoscaling/v2beta2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1",
];

/// Helm's coalescing: `over` wins, maps merge, a `null` in `over` removes the key.
pub fn coalesce(base: &mut Map<String, Value>, over: &Map<String, Value>) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (_, Value::Null) => {
                base.remove(key);
            }
            (Some(Value::Object(existing)), Value::Object(incoming)) => coalesce(existing, incoming),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// One `--set` value: typed for `--set` (Helm's strvals), text for `--set-string`.
fn override_value(text: &str, typed: bool) -> Value {
    if !typed {
        return Value::String(text.to_string());
    }
    if let Some(items) = text.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')) {
        return Value::Array(items.split(',').filter(|item| !item.is_empty()).map(|item| override_value(item, true)).collect());
    }
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        _ => text.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::String(text.to_string())),
    }
}

/// Sets `key` (`a.b`, `list[1].c`, `a\.b` for a dot in a name) to `value` in `values`.
pub fn set_override(values: &mut Map<String, Value>, key: &str, value: Value) -> Result<(), Error> {
    let failed = |message: &str| Error::Override { key: key.to_string(), message: message.to_string() };
    // The path: names split on unescaped dots, each with any `[n]` indexes.
    let mut parts: Vec<(String, Vec<usize>)> = Vec::new();
    let mut current = String::new();
    let mut chars = key.chars().peekable();
    let mut indexes = Vec::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            '.' => parts.push((std::mem::take(&mut current), std::mem::take(&mut indexes))),
            '[' => {
                let digits: String = chars.by_ref().take_while(|c| *c != ']').collect();
                let index: usize = digits.parse().map_err(|_| failed("a list index must be a number"))?;
                if index > 65_536 {
                    return Err(failed("a list index may be at most 65536"));
                }
                indexes.push(index);
            }
            _ => current.push(c),
        }
    }
    parts.push((current, indexes));
    if parts.iter().any(|(name, _)| name.is_empty()) {
        return Err(failed("empty name in the key"));
    }
    set_path(values, &parts, value);
    Ok(())
}

fn set_path(values: &mut Map<String, Value>, parts: &[(String, Vec<usize>)], value: Value) {
    let Some(((name, indexes), rest)) = parts.split_first() else { return };
    let slot = values.entry(name.clone()).or_insert(Value::Null);
    set_indexed(slot, indexes, rest, value);
}

fn set_indexed(slot: &mut Value, indexes: &[usize], rest: &[(String, Vec<usize>)], value: Value) {
    if let Some((index, more)) = indexes.split_first() {
        if !slot.is_array() {
            *slot = Value::Array(Vec::new());
        }
        let list = slot.as_array_mut().expect("just made a list");
        while list.len() <= *index {
            list.push(Value::Null);
        }
        return set_indexed(&mut list[*index], more, rest, value);
    }
    if rest.is_empty() {
        *slot = value;
        return;
    }
    if !slot.is_object() {
        *slot = json!({});
    }
    set_path(slot.as_object_mut().expect("just made a map"), rest, value);
}

/// The values a chart renders with: defaults, then values files, then overrides.
pub fn values(chart: &Chart, release: &Release) -> Result<Map<String, Value>, Error> {
    let mut values = chart.values.clone();
    for (index, text) in release.values_files.iter().enumerate() {
        match yaml::from_yaml(text).map_err(|message| Error::Values { index: index + 1, message })? {
            Value::Object(file) => coalesce(&mut values, &file),
            _ => return Err(Error::Values { index: index + 1, message: "not a YAML map".into() }),
        }
    }
    for (key, text) in &release.overrides {
        set_override(&mut values, key, override_value(text, release.raw_overrides))?;
    }
    Ok(values)
}

fn capabilities(release: &Release) -> Value {
    let version = if release.kube_version.is_empty() { DEFAULT_KUBE_VERSION.to_string() } else { format!("v{}", release.kube_version.trim_start_matches('v')) };
    let mut parts = version.trim_start_matches('v').split('.');
    let (major, minor) = (parts.next().unwrap_or("1").to_string(), parts.next().unwrap_or("0").to_string());
    let mut apis: Vec<String> = API_VERSIONS.iter().map(|api| api.to_string()).collect();
    apis.extend(release.api_versions.iter().cloned());
    json!({"KubeVersion": {"Version": version, "GitVersion": version, "Major": major, "Minor": minor}, "APIVersions": apis, "HelmVersion": {"Version": "v3.5.0"}})
}

/// `Chart.yaml` as `.Chart` shows it (`name` is `.Chart.Name`).
fn chart_object(chart: &Chart) -> Value {
    let mut object = Map::new();
    for (key, value) in &chart.metadata {
        let name = if key == "apiVersion" { "APIVersion".to_string() } else { functions::call("title", vec![Value::String(key.clone())]).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_else(|| key.clone()) };
        object.insert(name, value.clone());
    }
    Value::Object(object)
}

/// One chart's templates with their context, the chart's subcharts' after it.
struct Scoped<'a> {
    chart: &'a Chart,
    path: String,
    values: Map<String, Value>,
}

/// Every chart of the tree with its values (a subchart's: its defaults, then the parent's
/// `<subchart>` section, with `global` from the parent); a dependency whose `condition` is
/// false is left out.
fn scopes<'a>(chart: &'a Chart, path: String, values: Map<String, Value>, out: &mut Vec<Scoped<'a>>) {
    let global = values.get("global").cloned();
    let dependencies: Vec<Value> = chart.metadata.get("dependencies").and_then(Value::as_array).cloned().unwrap_or_default();
    for subchart in &chart.subcharts {
        let name = subchart.name();
        let dependency = dependencies.iter().find(|dependency| dependency.get("name").and_then(Value::as_str) == Some(&name));
        let alias = dependency.and_then(|dependency| dependency.get("alias")).and_then(Value::as_str).unwrap_or(&name).to_string();
        let condition = dependency.and_then(|dependency| dependency.get("condition")).and_then(Value::as_str);
        if let Some(condition) = condition {
            let at_path = |path: &str| path.split('.').try_fold(None::<&Value>, |at, key| match at { None => values.get(key), Some(value) => value.get(key) }.map(Some)).flatten();
            let enabled = condition.split(',').map(str::trim).find_map(|path| at_path(path).and_then(Value::as_bool));
            if enabled == Some(false) {
                continue;
            }
        }
        let mut sub_values = subchart.values.clone();
        if let Some(Value::Object(section)) = values.get(&alias) {
            coalesce(&mut sub_values, section);
        }
        if let Some(Value::Object(global)) = &global {
            let mut merged = sub_values.get("global").and_then(Value::as_object).cloned().unwrap_or_default();
            coalesce(&mut merged, global);
            sub_values.insert("global".into(), Value::Object(merged));
        }
        scopes(subchart, format!("{path}/charts/{alias}"), sub_values, out);
    }
    out.insert(0, Scoped { chart, path, values });
}

/// Renders `chart` for `release`: the documents of every template, each after a
/// `# Source: <chart>/templates/<file>` line, as `helm template` prints them.
pub fn render(chart: &Chart, release: &Release) -> Result<String, Error> {
    let values = values(chart, release)?;
    let mut charts = Vec::new();
    scopes(chart, chart.name(), values, &mut charts);
    let mut parsed = Vec::new();
    let mut templates = exec::Templates::default();
    for scoped in &charts {
        for (path, text) in &scoped.chart.templates {
            let name = format!("{}/{path}", scoped.path);
            let file = template::parse(&name, text).map_err(exec::Error::from)?;
            templates.add(&file);
            parsed.push((scoped, name, path, file));
        }
    }
    let release_object = json!({"Name": release.name, "Namespace": release.namespace, "Service": "Helm", "IsInstall": true, "IsUpgrade": false, "Revision": 1});
    let capabilities = capabilities(release);
    let mut exec = exec::Exec::new(&templates, exec::Limits::default());
    let mut out = String::new();
    for (scoped, name, path, file) in &parsed {
        if path.rsplit('/').next().is_some_and(|file| file.starts_with('_')) {
            continue;
        }
        let data = json!({
            "Values": scoped.values,
            "Release": release_object,
            "Chart": chart_object(scoped.chart),
            "Capabilities": capabilities,
            "Template": {"Name": name, "BasePath": format!("{}/templates", scoped.path)},
            "Files": scoped.chart.files,
        });
        let rendered = exec.render(name, &file.body, &data)?;
        if rendered.trim().is_empty() {
            continue;
        }
        out.push_str(&format!("---\n# Source: {name}\n{}\n", rendered.trim_end()));
    }
    Ok(out)
}


#[cfg(test)]
mod tests {
    use super::*;

    /// The chart `helm create web` writes (Helm 3.5), from the test fixtures.
    fn web_chart() -> Chart {
        let files: BTreeMap<String, Vec<u8>> = [
            ("Chart.yaml", include_str!("../tests/fixtures/helm/web/Chart.yaml")),
            ("values.yaml", include_str!("../tests/fixtures/helm/web/values.yaml")),
            ("templates/_helpers.tpl", include_str!("../tests/fixtures/helm/web/templates/_helpers.tpl")),
            ("templates/deployment.yaml", include_str!("../tests/fixtures/helm/web/templates/deployment.yaml")),
            ("templates/service.yaml", include_str!("../tests/fixtures/helm/web/templates/service.yaml")),
            ("templates/serviceaccount.yaml", include_str!("../tests/fixtures/helm/web/templates/serviceaccount.yaml")),
            ("templates/hpa.yaml", include_str!("../tests/fixtures/helm/web/templates/hpa.yaml")),
            ("templates/ingress.yaml", include_str!("../tests/fixtures/helm/web/templates/ingress.yaml")),
            ("templates/NOTES.txt", include_str!("../tests/fixtures/helm/web/templates/NOTES.txt")),
            ("templates/tests/test-connection.yaml", include_str!("../tests/fixtures/helm/web/templates/tests/test-connection.yaml")),
        ]
        .into_iter()
        .map(|(path, text)| (path.to_string(), text.as_bytes().to_vec()))
        .collect();
        chart::load(&files, "").unwrap()
    }

    #[test]
    fn the_default_chart_renders_as_helm_template_renders_it() {
        let release = Release { name: "rel".into(), namespace: "shop".into(), ..Default::default() };
        let out = render(&web_chart(), &release).unwrap();
        let deployment = out.split("---\n").find(|document| document.contains("kind: Deployment")).unwrap();
        // What `helm template rel ./web` prints for this chart.
        let expected = r#"# Source: web/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: rel-web
  labels:
    helm.sh/chart: web-0.1.0
    app.kubernetes.io/name: web
    app.kubernetes.io/instance: rel
    app.kubernetes.io/version: "1.16.0"
    app.kubernetes.io/managed-by: Helm
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: web
      app.kubernetes.io/instance: rel
  template:
    metadata:
      labels:
        app.kubernetes.io/name: web
        app.kubernetes.io/instance: rel
    spec:
      serviceAccountName: rel-web
      securityContext:
        {}
      containers:
        - name: web
          securityContext:
            {}
          image: "nginx:1.16.0"
          imagePullPolicy: IfNotPresent
          ports:
            - name: http
              containerPort: 80
              protocol: TCP
          livenessProbe:
            httpGet:
              path: /
              port: http
          readinessProbe:
            httpGet:
              path: /
              port: http
          resources:
            {}
"#;
        assert_eq!(deployment, expected);
        let kinds: Vec<&str> = out.lines().filter_map(|line| line.strip_prefix("kind: ")).collect();
        assert_eq!(kinds, vec!["Deployment", "Service", "ServiceAccount"], "no hpa, ingress, NOTES or tests: {out}");
        assert!(out.contains("# Source: web/templates/service.yaml\n"));
        let documents = app::model::manifests::parse_text(&out).unwrap();
        assert_eq!(documents.len(), 3);
    }

    #[test]
    fn values_files_and_overrides_win_in_order() {
        let release = Release {
            name: "shop".into(),
            values_files: vec!["replicaCount: 2\nimage:\n  tag: from-file\ningress:\n  enabled: true\n  hosts:\n  - host: shop.example\n    paths: [{path: /}]\n".into(), "image:\n  pullPolicy: Always\n".into()],
            overrides: BTreeMap::from([("image.tag".to_string(), "1.2.3".to_string()), ("replicaCount".to_string(), "3".to_string())]),
            raw_overrides: true,
            ..Default::default()
        };
        let out = render(&web_chart(), &release).unwrap();
        assert!(out.contains("image: \"nginx:1.2.3\"") && out.contains("imagePullPolicy: Always") && out.contains("replicas: 3"), "{out}");
        assert!(out.contains("apiVersion: networking.k8s.io/v1beta1\nkind: Ingress") && out.contains("- host: \"shop.example\""), "{out}");
        let documents = app::model::manifests::parse_text(&out).unwrap();
        let ingress = documents.iter().find(|d| d["kind"] == "Ingress").unwrap();
        assert_eq!(ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["serviceName"], "shop-web");
        let strings = Release { name: "shop".into(), overrides: BTreeMap::from([("replicaCount".to_string(), "3".to_string())]), ..Default::default() };
        assert!(render(&web_chart(), &strings).unwrap().contains("replicas: 3"), "--set-string prints the same text");
    }

    #[test]
    fn overrides_reach_lists_and_escaped_names() {
        let mut values = Map::new();
        set_override(&mut values, "a.list[1].name", Value::String("x".into())).unwrap();
        set_override(&mut values, "annotations.prometheus\\.io/scrape", override_value("true", true)).unwrap();
        set_override(&mut values, "ports", override_value("{80,443}", true)).unwrap();
        assert_eq!(Value::Object(values), json!({"a": {"list": [null, {"name": "x"}]}, "annotations": {"prometheus.io/scrape": true}, "ports": [80, 443]}));
        assert!(set_override(&mut Map::new(), "a..b", Value::Null).is_err());
        assert!(set_override(&mut Map::new(), "a[x]", Value::Null).is_err());
    }

    #[test]
    fn a_chart_error_names_the_template_and_what_failed() {
        let mut chart = web_chart();
        chart.templates.insert("templates/broken.yaml".into(), "x: {{ required \"set image.digest\" .Values.image.digest }}".into());
        let error = render(&chart, &Release { name: "r".into(), ..Default::default() }).unwrap_err();
        assert_eq!(error.to_string(), "web/templates/broken.yaml: set image.digest");
        chart.templates.insert("templates/broken.yaml".into(), "{{ if }}".into());
        assert!(render(&chart, &Release::default()).unwrap_err().to_string().starts_with("web/templates/broken.yaml:1:"));
        chart.templates.insert("templates/broken.yaml".into(), "{{ nosuch 1 }}".into());
        assert!(render(&chart, &Release::default()).unwrap_err().to_string().contains("function \"nosuch\" not defined"));
    }

    #[test]
    fn subcharts_get_their_section_and_globals() {
        let mut chart = web_chart();
        let mut cache = Chart::default();
        cache.metadata.insert("name".into(), json!("cache"));
        cache.values = json!({"size": 1, "enabled": true}).as_object().unwrap().clone();
        cache.templates.insert("templates/cm.yaml".into(), "kind: ConfigMap\nsize: {{ .Values.size }}\nregion: {{ .Values.global.region }}\nname: {{ .Chart.Name }}".into());
        chart.subcharts.push(cache);
        chart.metadata.insert("dependencies".into(), json!([{"name": "cache", "condition": "cache.enabled"}]));
        let release = Release { name: "r".into(), values_files: vec!["cache: {size: 5}\nglobal: {region: eu}\n".into()], ..Default::default() };
        let out = render(&chart, &release).unwrap();
        assert!(out.contains("# Source: web/charts/cache/templates/cm.yaml\nkind: ConfigMap\nsize: 5\nregion: eu\nname: cache"), "{out}");
        let off = Release { name: "r".into(), values_files: vec!["cache: {enabled: false}\n".into()], ..Default::default() };
        assert!(!render(&chart, &off).unwrap().contains("ConfigMap"));
    }
}
