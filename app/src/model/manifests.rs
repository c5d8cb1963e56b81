//! Kubernetes manifests as people write them: YAML documents (`---` between them) or JSON (an
//! object or a list), a `kind: List` expanded into its items, each checked to be an object with
//! `apiVersion`, `kind` and a name. Shared by the server (stages, the editor's server function)
//! and the browser (JSON only: reading YAML is the server's, so its parser stays out of the
//! bundle).

use serde_json::Value;

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum Error {
    #[error("manifest text is not valid YAML or JSON: {0}")]
    Syntax(String),
    #[error("manifest {index}: {message}")]
    Invalid { index: usize, message: String },
    #[error("{0:?} is not a manifest name (write `kind name`, e.g. `deployment web`)")]
    Name(String),
}

/// Whether the text is JSON (the browser reads it itself) rather than YAML.
pub fn is_json(text: &str) -> bool {
    text.trim_start().starts_with(['{', '['])
}

/// Reads JSON manifest text (see [`is_json`]).
pub fn parse_json(text: &str) -> Result<Vec<Value>, Error> {
    let documents = match serde_json::from_str::<Value>(text).map_err(|e| Error::Syntax(e.to_string()))? {
        Value::Array(items) => items,
        other => vec![other],
    };
    let manifests = expand_lists(documents.into_iter().filter(|document| !document.is_null()).collect());
    check(&manifests)?;
    Ok(manifests)
}

/// Reads manifests from text: one JSON object or array, or YAML documents separated by `---`;
/// a `kind: List` is expanded into its items; empty documents are skipped.
#[cfg(feature = "ssr")]
pub fn parse_text(text: &str) -> Result<Vec<Value>, Error> {
    if is_json(text) {
        return parse_json(text);
    }
    let documents: Vec<Value> = serde_saphyr::from_multiple::<Value>(text).map_err(|e| Error::Syntax(e.to_string()))?;
    let manifests = expand_lists(documents.into_iter().filter(|document| !document.is_null()).collect());
    check(&manifests)?;
    Ok(manifests)
}

/// `kind: List` documents replaced by their items.
pub fn expand_lists(documents: Vec<Value>) -> Vec<Value> {
    documents
        .into_iter()
        .flat_map(|document| {
            if document.get("kind").and_then(Value::as_str) == Some("List") {
                document.get("items").and_then(Value::as_array).cloned().unwrap_or_default()
            } else {
                vec![document]
            }
        })
        .collect()
}

/// Every manifest is an object with `apiVersion`, `kind` and `metadata.name` (or
/// `generateName`, which only create-only kinds like Jobs may use).
pub fn check(manifests: &[Value]) -> Result<(), Error> {
    if manifests.is_empty() {
        return Err(Error::Invalid { index: 0, message: "there are no manifests".into() });
    }
    for (index, manifest) in manifests.iter().enumerate() {
        let invalid = |message: &str| Error::Invalid { index, message: message.to_string() };
        if !manifest.is_object() {
            return Err(invalid("is not an object"));
        }
        if field(manifest, "/apiVersion").is_empty() {
            return Err(invalid("has no apiVersion"));
        }
        if field(manifest, "/kind").is_empty() {
            return Err(invalid("has no kind"));
        }
        if field(manifest, "/metadata/name").is_empty() && manifest.pointer("/metadata/generateName").and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(invalid("has no metadata.name"));
        }
    }
    Ok(())
}

fn field<'a>(manifest: &'a Value, pointer: &str) -> &'a str {
    manifest.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}
