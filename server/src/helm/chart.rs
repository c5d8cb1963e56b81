//! A Helm chart read from its files: a packaged chart (`.tgz`, one top folder) or the files of
//! a folder. `Chart.yaml`, `values.yaml`, `templates/**` (files starting with `_` only define
//! templates; `NOTES.txt` and `templates/tests/` are left out as Spinnaker's Rosco leaves them
//! out), other files for `.Files.Get`, and subcharts under `charts/` (folders or `.tgz`).
//! Reading is bounded (bytes and files) so an archive cannot expand without end.

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::{Map, Value};

/// Most bytes a chart (with its subcharts) may expand to.
pub const MAX_BYTES: u64 = 32 << 20;
/// Most files a chart may have.
pub const MAX_FILES: usize = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the chart archive cannot be read: {0}")]
    Archive(String),
    #[error("the chart is larger than {MAX_BYTES} bytes or {MAX_FILES} files")]
    TooLarge,
    #[error("{0}: no Chart.yaml (is this a Helm chart? for a chart in a folder of the archive or repository, set helmChartFilePath)")]
    NoChart(String),
    #[error("{path}: {message}")]
    File { path: String, message: String },
}

#[derive(Debug, Clone, Default)]
pub struct Chart {
    /// `Chart.yaml` as written (`name`, `version`, `appVersion`, `dependencies`, ...).
    pub metadata: Map<String, Value>,
    /// The chart's `values.yaml`.
    pub values: Map<String, Value>,
    /// Template files (`templates/...`) and their text.
    pub templates: BTreeMap<String, String>,
    /// Every other text file, for `.Files.Get`.
    pub files: BTreeMap<String, String>,
    pub subcharts: Vec<Chart>,
}

impl Chart {
    pub fn name(&self) -> String {
        self.metadata.get("name").and_then(Value::as_str).unwrap_or_default().to_string()
    }
}

/// The files of a gzipped tar archive, by path.
pub fn unpack(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, Error> {
    let decoder = flate2::read::GzDecoder::new(bytes).take(MAX_BYTES + 1);
    let mut archive = tar::Archive::new(decoder);
    let mut files = BTreeMap::new();
    let mut total = 0u64;
    for entry in archive.entries().map_err(|e| Error::Archive(e.to_string()))? {
        let mut entry = entry.map_err(|e| Error::Archive(e.to_string()))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().map_err(|e| Error::Archive(e.to_string()))?.to_string_lossy().into_owned();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).map_err(|e| Error::Archive(e.to_string()))?;
        total += content.len() as u64;
        if total > MAX_BYTES || files.len() >= MAX_FILES {
            return Err(Error::TooLarge);
        }
        files.insert(path, content);
    }
    Ok(files)
}

/// The chart at `folder` (`""` for the top; a packaged chart's one top folder is found) of
/// `files`.
pub fn load(files: &BTreeMap<String, Vec<u8>>, folder: &str) -> Result<Chart, Error> {
    let mut folder = folder.trim_matches('/').to_string();
    if folder.is_empty() || !files.contains_key(&format!("{folder}/Chart.yaml")) {
        // A packaged chart holds one folder named after the chart.
        let inside = |path: &str| if folder.is_empty() { Some(path.to_string()) } else { path.strip_prefix(&format!("{folder}/")).map(str::to_string) };
        let top = files.keys().filter_map(|path| inside(path)).filter(|path| path.ends_with("Chart.yaml")).min_by_key(|path| path.matches('/').count());
        match top {
            Some(path) if path == "Chart.yaml" => {}
            Some(path) if path.matches('/').count() == 1 => folder = if folder.is_empty() { path.trim_end_matches("/Chart.yaml").to_string() } else { format!("{folder}/{}", path.trim_end_matches("/Chart.yaml")) },
            _ => return Err(Error::NoChart(if folder.is_empty() { "the chart".into() } else { folder })),
        }
    }
    let prefix = if folder.is_empty() { String::new() } else { format!("{folder}/") };
    let text = |path: &str, bytes: &[u8]| String::from_utf8(bytes.to_vec()).map_err(|_| Error::File { path: path.to_string(), message: "not UTF-8 text".into() });
    let yaml_map = |path: &str| -> Result<Map<String, Value>, Error> {
        let Some(bytes) = files.get(&format!("{prefix}{path}")) else { return Ok(Map::new()) };
        let value = super::yaml::from_yaml(&text(path, bytes)?).map_err(|message| Error::File { path: format!("{prefix}{path}"), message })?;
        match value {
            Value::Object(map) => Ok(map),
            _ => Err(Error::File { path: format!("{prefix}{path}"), message: "not a YAML map".into() }),
        }
    };
    let mut chart = Chart { metadata: yaml_map("Chart.yaml")?, values: yaml_map("values.yaml")?, ..Default::default() };
    if chart.name().is_empty() {
        return Err(Error::File { path: format!("{prefix}Chart.yaml"), message: "the chart has no name".into() });
    }
    let mut subchart_folders: Vec<String> = Vec::new();
    for (path, bytes) in files {
        let Some(relative) = path.strip_prefix(&prefix) else { continue };
        if let Some(inner) = relative.strip_prefix("charts/") {
            match inner.split_once('/') {
                Some((name, "Chart.yaml")) => subchart_folders.push(format!("{prefix}charts/{name}")),
                None if inner.ends_with(".tgz") => {
                    let unpacked = unpack(bytes)?;
                    chart.subcharts.push(load(&unpacked, "")?);
                }
                _ => {}
            }
            continue;
        }
        if let Some(template) = relative.strip_prefix("templates/") {
            if template == "NOTES.txt" || template.starts_with("tests/") {
                continue;
            }
            chart.templates.insert(relative.to_string(), text(path, bytes)?);
        } else if let Ok(content) = String::from_utf8(bytes.clone()) {
            chart.files.insert(relative.to_string(), content);
        }
    }
    for folder in subchart_folders {
        chart.subcharts.push(load(files, &folder)?);
    }
    Ok(chart)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn archive(files: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        for (path, content) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, path, content.as_bytes()).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn a_packaged_chart_with_a_subchart_loads() {
        let bytes = archive(&[
            ("web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n"),
            ("web/values.yaml", "replicaCount: 2\n"),
            ("web/templates/deployment.yaml", "kind: Deployment"),
            ("web/templates/_helpers.tpl", "{{ define \"x\" }}{{ end }}"),
            ("web/templates/NOTES.txt", "thanks"),
            ("web/templates/tests/test-connection.yaml", "kind: Pod"),
            ("web/config/app.ini", "a=1"),
            ("web/charts/cache/Chart.yaml", "name: cache\nversion: 1.0.0\n"),
            ("web/charts/cache/templates/cm.yaml", "kind: ConfigMap"),
        ]);
        let chart = load(&unpack(&bytes).unwrap(), "").unwrap();
        assert_eq!(chart.name(), "web");
        assert_eq!(chart.values["replicaCount"], 2);
        assert_eq!(chart.templates.keys().collect::<Vec<_>>(), vec!["templates/_helpers.tpl", "templates/deployment.yaml"]);
        assert_eq!(chart.files["config/app.ini"], "a=1");
        assert_eq!(chart.subcharts[0].name(), "cache");
        assert!(matches!(load(&unpack(&archive(&[("x/readme", "no")])).unwrap(), ""), Err(Error::NoChart(_))));
        assert!(matches!(unpack(b"not gzip"), Err(Error::Archive(_))));
    }
}
