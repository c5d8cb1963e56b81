//! Server functions for the canary configurations page: list an application's configs (as the
//! form shows them), save one from the form's plain fields or from Kayenta JSON, delete one.
//! They call the same service as `/api/v1/applications/{application}/canaryConfigs`.
//!
//! The list answers each config already cut into the form's text fields and printed as JSON
//! (see [`CanaryConfigListing`]), so the page's browser code only ever handles strings.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// A canary config as the page lists and edits it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CanaryConfigListing {
    pub id: String,
    pub name: String,
    pub description: String,
    pub metrics: Vec<MetricFields>,
    /// `GROUP=WEIGHT`, one per line.
    pub group_weights: String,
    pub revision: i64,
    /// Milliseconds since the epoch.
    pub updated: i64,
    pub updated_by: String,
    /// The whole config as Kayenta JSON with its `id` and `revision`, for Edit as JSON.
    pub json: String,
}

/// The configuration form, as a browser posts it (plain fields, so it also works without
/// WASM). Metric rows are `metrics[N][field]`; a row left empty is ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CanaryConfigForm {
    pub application: String,
    /// The config edited; empty for a new one.
    #[serde(default)]
    pub id: String,
    /// The revision edited: saving over a newer one is refused (409), nothing is lost.
    #[serde(default)]
    pub revision: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub metrics: Vec<MetricFields>,
    /// `GROUP=WEIGHT`, one per line (empty: the groups share 100 equally).
    #[serde(default)]
    pub group_weights: String,
}

/// One metric's fields in the form. The query is either whole PromQL (stored as Kayenta's
/// `customInlineTemplate` `PromQL: ...`) or a Prometheus metric name narrowed by a filter: the
/// name of one of the config's `templates` (`customFilterTemplate`) or a label filter written
/// out (`customInlineTemplate`, e.g. `version="${scope}"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricFields {
    /// The metric's name as loaded, so its settings the form does not show (effect sizes,
    /// outliers, label bindings...) are kept when it is saved again.
    #[serde(default)]
    pub original: String,
    #[serde(default)]
    pub name: String,
    /// Comma-separated.
    #[serde(default)]
    pub groups: String,
    #[serde(default)]
    pub promql: String,
    #[serde(default)]
    pub metric_name: String,
    #[serde(default)]
    pub filter: String,
    /// `increase`, `decrease` or `either`.
    #[serde(default)]
    pub direction: String,
    /// A checkbox: present ("on") when ticked.
    #[serde(default)]
    pub critical: Option<String>,
    /// `remove` or `replace`.
    #[serde(default)]
    pub nan_strategy: String,
}

impl MetricFields {
    /// Whether the row says nothing (an unused row of the form).
    pub fn is_blank(&self) -> bool {
        [&self.name, &self.groups, &self.promql, &self.metric_name, &self.filter].iter().all(|text| text.trim().is_empty())
    }
}

#[server]
pub async fn list_canary_configs(application: String) -> Result<Vec<CanaryConfigListing>, AppError> {
    crate::ssr::respond(async move |services, caller| {
        let configs = services.canary_configs.list(&caller, &application).await?;
        Ok(configs.iter().map(super::canary_form::listing).collect())
    })
    .await
}

/// Creates a config from the form, or saves a new revision of the one it edits (keeping what
/// the form does not show).
#[server]
pub async fn save_canary_config(#[server(flatten)] form: CanaryConfigForm) -> Result<CanaryConfigListing, AppError> {
    crate::ssr::respond(async move |services, caller| {
        let id = form.id.trim().to_string();
        let base = if id.is_empty() { None } else { Some(services.canary_configs.get(&caller, &id).await?) };
        let document = super::canary_form::document(&form, base.as_ref())?;
        let saved = services.canary_configs.save(&caller, &form.application, document).await?;
        Ok(super::canary_form::listing(&saved))
    })
    .await
}

/// Creates or saves a config written as Kayenta JSON (with an `id` that exists, a new revision
/// of it; a `revision` older than the latest is refused).
#[server]
pub async fn save_canary_config_json(application: String, json: String) -> Result<CanaryConfigListing, AppError> {
    crate::ssr::respond(async move |services, caller| {
        let document: serde_json::Value =
            serde_json::from_str(&json).map_err(|error| AppError::invalid("json", format!("not valid JSON: {error}")))?;
        let saved = services.canary_configs.save(&caller, &application, document).await?;
        Ok(super::canary_form::listing(&saved))
    })
    .await
}

#[server]
pub async fn delete_canary_config(id: String) -> Result<(), AppError> {
    crate::ssr::respond(async move |services, caller| services.canary_configs.delete(&caller, &id).await).await
}
