//! `bakeManifest`: renders a Helm chart into Kubernetes manifests, as Spinnaker's stage does
//! through Rosco's `helm template`, with gennaker's own renderer (`crate::helm`; no `helm`
//! binary). The fields Spinnaker writes: `templateRenderer` (`HELM3`, `HELM2`), `outputName`
//! (the release name), `namespace`, `inputArtifacts` (the chart first, a packaged `.tgz` from
//! any file artifact: embedded, http, github, gitlab, bitbucket; then values files),
//! `overrides` (`--set-string`, or `--set` with `rawOverrides`), `helmChartFilePath` (the chart's
//! folder inside the archive), `apiVersions`, `kubeVersion`, and `expectedArtifacts` with the
//! one artifact it produces: the rendered YAML as `embedded/base64`, bound to that expected
//! artifact so a later `deployManifest` reads it by `manifestArtifactId`. Outputs as Orca's:
//! `artifacts` and `resolvedExpectedArtifacts`. Kustomize, Helmfile and CloudFormation are
//! refused naming the renderer. The stage touches no account: it only reads artifacts.

use std::collections::BTreeMap;

use app::model::artifact::Artifact;
use app::model::pipeline::Extra;
use app::model::stage_types::{Field, Input, StageTypeInfo, choices};
use async_trait::async_trait;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{StageType, Step, Task, config_or_fail, failed, succeeded};
use crate::engine::stage_forms as F;
use crate::helm;

/// The renderers Spinnaker offers and which of them gennaker runs.
const RENDERERS: &[&str] = &["HELM3", "HELM2"];
const OTHER_RENDERERS: &[&str] = &["KUSTOMIZE", "KUSTOMIZE4", "HELMFILE", "CF"];

/// One of `inputArtifacts`: an expected artifact's `id`, or the artifact itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputArtifact {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub account: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BakeManifestStage {
    #[serde(default)]
    pub template_renderer: String,
    #[serde(default)]
    pub output_name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub input_artifacts: Vec<InputArtifact>,
    #[serde(default)]
    pub overrides: BTreeMap<String, Value>,
    #[serde(default)]
    pub raw_overrides: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub helm_chart_file_path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_versions: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kube_version: String,
    /// The one artifact it produces, as written (Spinnaker's editor may leave out its `id`).
    #[serde(default)]
    pub expected_artifacts: Vec<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

pub struct BakeManifest;

#[async_trait]
impl StageType for BakeManifest {
    fn type_name(&self) -> &'static str {
        "bakeManifest"
    }

    fn describe(&self, _application: &str) -> StageTypeInfo {
        let fields = vec![
            Field::new("templateRenderer", "Renderer", choices(&[("HELM3", "Helm 3"), ("HELM2", "Helm 2")]), "How the chart is rendered (gennaker renders Helm charts itself)."),
            Field::new("outputName", "Release name", Input::Text, "The Helm release name (.Release.Name), and the produced artifact's name."),
            Field::new("namespace", "Namespace", Input::Text, "The release namespace (.Release.Namespace)."),
            Field::new("inputArtifacts", "Chart and values files", Input::Json, "The chart first (a .tgz artifact, or {\"id\": expected artifact id}), then values files: [{\"id\": \"chart\"}, {\"artifact\": {\"type\": \"embedded/base64\", \"reference\": \"...\"}}]."),
            Field::new("helmChartFilePath", "Chart folder", Input::Text, "The chart's folder inside the archive, when it is not the top one."),
            Field::new("overrides", "Overrides", Input::Pairs, "Values set last, KEY=VALUE per line (image.tag=${trigger.tag})."),
            Field::new("rawOverrides", "Typed overrides", Input::Check, "Read overrides as --set does (numbers, booleans, {a,b} lists) rather than as text (--set-string)."),
            Field::new("expectedArtifacts", "Produces", Input::Json, "The one artifact it produces: [{\"id\": \"baked\", \"matchArtifact\": {\"type\": \"embedded/base64\", \"name\": \"web\"}}]; deploy it with manifestArtifactId \"baked\"."),
        ];
        F::info(
            "bakeManifest",
            "Bake (Manifest)",
            "Renders a Helm chart with values files and overrides into Kubernetes manifests, produced as an embedded artifact for Deploy (Manifest).",
            fields,
            json!({"templateRenderer": "HELM3", "inputArtifacts": [], "overrides": {}, "expectedArtifacts": []}),
        )
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["createBakeManifestTask", "bindProducedArtifacts"]
    }

    fn validate(&self, config: &Value) -> Result<(), super::Fault> {
        let stage = super::parse::<BakeManifestStage>(config)?;
        let renderer = stage.template_renderer.to_uppercase();
        if !renderer.is_empty() && !super::has_expression(&renderer) && !RENDERERS.contains(&renderer.as_str()) && !OTHER_RENDERERS.contains(&renderer.as_str()) {
            return Err(("templateRenderer".into(), format!("one of {}", RENDERERS.iter().chain(OTHER_RENDERERS).copied().collect::<Vec<_>>().join(", "))));
        }
        Ok(())
    }

    /// What Orca checks before a bake, said when the pipeline is saved and refused at start.
    fn cannot_run(&self, config: &Value) -> Option<String> {
        let stage: BakeManifestStage = super::parse(config).ok()?;
        let renderer = stage.template_renderer.to_uppercase();
        if OTHER_RENDERERS.contains(&renderer.as_str()) {
            return Some(format!("templateRenderer {renderer} is not supported: gennaker renders Helm charts (HELM3, HELM2)"));
        }
        if stage.output_name.is_empty() {
            return Some("it names no release (outputName)".into());
        }
        if stage.input_artifacts.is_empty() {
            return Some("it names no chart (inputArtifacts)".into());
        }
        if stage.expected_artifacts.len() != 1 {
            return Some("it must produce exactly one artifact (expectedArtifacts), the rendered manifests".into());
        }
        let unsupported = stage.input_artifacts.iter().filter_map(|input| input.artifact.as_ref()).find(|artifact| !readable(&artifact.kind));
        unsupported.map(|artifact| format!("artifact type {} cannot be read here (a packaged chart .tgz as embedded/base64, http/file, github/file, gitlab/file or bitbucket/file)", artifact.kind))
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let config: BakeManifestStage = config_or_fail!(task.stage);
        match task.index {
            0 => match bake(task, &config).await {
                Ok(outputs) => succeeded(outputs),
                Err(error) => failed(error),
            },
            // The produced artifact was bound with the bake; the task is Orca's name for it.
            _ => succeeded(BTreeMap::new()),
        }
    }
}

fn readable(kind: &str) -> bool {
    matches!(kind, "embedded/base64" | "http/file" | "github/file" | "gitlab/file" | "bitbucket/file") || super::has_expression(kind)
}

/// The artifact an input names: its own, else the run's bound artifact of that id.
fn input_artifact(task: Task<'_>, input: &InputArtifact) -> Result<Artifact, String> {
    match &input.artifact {
        Some(artifact) => Ok(artifact.clone()),
        None if !input.id.is_empty() => crate::engine::manifests::bound_artifact(task.execution, &input.id),
        None => Err("an input artifact names neither an id nor an artifact".into()),
    }
}

async fn bake(task: Task<'_>, config: &BakeManifestStage) -> Result<BTreeMap<String, Value>, String> {
    let renderer = config.template_renderer.to_uppercase();
    if !RENDERERS.contains(&renderer.as_str()) && !renderer.is_empty() {
        return Err(format!("templateRenderer {renderer} is not supported: gennaker renders Helm charts (HELM3, HELM2)"));
    }
    let Some((chart_input, values_inputs)) = config.input_artifacts.split_first() else { return Err("name the chart (inputArtifacts)".into()) };
    let [expected] = config.expected_artifacts.as_slice() else {
        return Err("the stage must produce exactly one artifact (expectedArtifacts): the rendered manifests".into());
    };
    let chart_artifact = input_artifact(task, chart_input)?;
    let bytes = crate::engine::artifact_files::bytes(task.effects, task.execution, &chart_artifact).await.map_err(|e| e.to_string())?;
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(format!("the chart artifact {:?} is not a packaged chart (.tgz; `helm package` makes one)", chart_artifact.name));
    }
    let files = helm::chart::unpack(&bytes).map_err(|e| e.to_string())?;
    let chart = helm::chart::load(&files, &config.helm_chart_file_path).map_err(|e| e.to_string())?;
    let mut values_files = Vec::new();
    for input in values_inputs {
        let artifact = input_artifact(task, input)?;
        values_files.push(crate::engine::artifact_files::text(task.effects, task.execution, &artifact).await.map_err(|e| e.to_string())?);
    }
    let overrides = config.overrides.iter().map(|(key, value)| (key.clone(), match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }));
    let release = helm::Release {
        name: config.output_name.clone(),
        namespace: config.namespace.clone(),
        values_files,
        overrides: overrides.collect(),
        raw_overrides: config.raw_overrides,
        kube_version: config.kube_version.clone(),
        api_versions: config.api_versions.split(',').map(str::trim).filter(|api| !api.is_empty()).map(str::to_string).collect(),
    };
    // Rendering is CPU work bounded by the renderer's limits; it runs off the async workers.
    let rendered = tokio::task::spawn_blocking(move || helm::render(&chart, &release)).await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
    if rendered.len() > crate::engine::artifact_files::MAX_BYTES {
        return Err(format!("the rendered manifests are larger than {} bytes", crate::engine::artifact_files::MAX_BYTES));
    }
    let name = expected.pointer("/matchArtifact/name").and_then(Value::as_str).filter(|name| !name.is_empty() && !name.contains('*')).unwrap_or(&config.output_name).to_string();
    let artifact = Artifact { kind: "embedded/base64".into(), name, reference: base64::engine::general_purpose::STANDARD.encode(rendered.as_bytes()), ..Default::default() };
    let mut bound = expected.clone();
    if let Some(bound) = bound.as_object_mut() {
        bound.insert("boundArtifact".into(), json!(artifact));
    }
    Ok(BTreeMap::from([("artifacts".to_string(), json!([artifact])), ("resolvedExpectedArtifacts".to_string(), json!([bound]))]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_cannot_run_is_said_by_name() {
        let chart = json!({"artifact": {"type": "http/file", "reference": "https://charts.example/web-0.1.0.tgz"}});
        let produces = json!([{"id": "baked", "matchArtifact": {"type": "embedded/base64", "name": "web"}}]);
        let good = json!({"templateRenderer": "HELM3", "outputName": "web", "inputArtifacts": [chart], "expectedArtifacts": produces});
        assert!(BakeManifest.validate(&good).is_ok());
        assert_eq!(BakeManifest.cannot_run(&good), None);
        let mut kustomize = good.clone();
        kustomize["templateRenderer"] = json!("KUSTOMIZE");
        assert!(BakeManifest.cannot_run(&kustomize).unwrap().contains("KUSTOMIZE is not supported"));
        let mut git = good.clone();
        git["inputArtifacts"][0]["artifact"]["type"] = json!("git/repo");
        assert!(BakeManifest.cannot_run(&git).unwrap().contains("git/repo cannot be read"));
        let mut two = good.clone();
        two["expectedArtifacts"] = json!([]);
        assert!(BakeManifest.cannot_run(&two).unwrap().contains("exactly one artifact"));
        assert!(BakeManifest.cannot_run(&json!({"templateRenderer": "HELM3"})).unwrap().contains("outputName"));
        assert_eq!(BakeManifest.validate(&json!({"templateRenderer": "JSONNET"})).unwrap_err().0, "templateRenderer");
        assert!(BakeManifest.accounts(&good).is_empty() && BakeManifest.accounts_read(&good).is_empty());
    }
}
