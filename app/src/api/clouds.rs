//! Server functions for the cloud accounts page (admins only): list accounts, add or replace
//! a Kubernetes account, delete one. They call the same service as `/api/v1/clouds/accounts`.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::clouds::CloudAccount;
#[cfg(feature = "ssr")]
use crate::model::clouds::{AccountSource, AwsAccountSettings, CloudProviderKind, KubernetesAccountSettings, PrometheusAccountSettings};

#[server]
pub async fn list_cloud_accounts() -> Result<Vec<CloudAccount>, AppError> {
    crate::ssr::respond(async |services, caller| services.cloud_accounts.list(&caller).await).await
}

/// Adds or replaces Kubernetes account `name`: a kubeconfig file on the gennaker host or the
/// name of a secret holding one, an optional context, and the namespaces to manage (comma or
/// space separated; empty: all).
#[server]
pub async fn save_kubernetes_account(
    name: String,
    kubeconfig_file: String,
    kubeconfig_secret: String,
    context: String,
    namespaces: String,
) -> Result<CloudAccount, AppError> {
    let some = |text: String| Some(text.trim().to_string()).filter(|text| !text.is_empty());
    let account = CloudAccount {
        name: name.trim().to_string(),
        cloud_provider: CloudProviderKind::Kubernetes,
        regions: Vec::new(),
        kubernetes: Some(KubernetesAccountSettings {
            kubeconfig_file: some(kubeconfig_file),
            kubeconfig_secret: some(kubeconfig_secret),
            context: some(context),
            namespaces: namespaces.split([',', ' ', '\n']).map(str::trim).filter(|n| !n.is_empty()).map(str::to_string).collect(),
            omit_namespaces: Vec::new(),
        }),
        aws: None,
        prometheus: None,
        source: AccountSource::Api,
        status: None,
    };
    let name = account.name.clone();
    crate::ssr::respond(async move |services, caller| services.cloud_accounts.put(&caller, &name, account).await).await
}

/// Adds or replaces AWS account `name`: its regions (comma or space separated), the secret
/// holding its access key (empty: the default credential chain), a role to assume and an
/// endpoint (both optional).
#[server]
pub async fn save_aws_account(name: String, regions: String, credentials_secret: String, assume_role: String, endpoint: String) -> Result<CloudAccount, AppError> {
    let some = |text: String| Some(text.trim().to_string()).filter(|text| !text.is_empty());
    let account = CloudAccount {
        name: name.trim().to_string(),
        cloud_provider: CloudProviderKind::Aws,
        regions: regions.split([',', ' ', '\n']).map(str::trim).filter(|r| !r.is_empty()).map(str::to_string).collect(),
        kubernetes: None,
        aws: Some(AwsAccountSettings { credentials_secret: some(credentials_secret), assume_role: some(assume_role), endpoint: some(endpoint) }),
        prometheus: None,
        source: AccountSource::Api,
        status: None,
    };
    let name = account.name.clone();
    crate::ssr::respond(async move |services, caller| services.cloud_accounts.put(&caller, &name, account).await).await
}

/// Adds or replaces metrics account `name`: a Prometheus at `base_url`, with an optional secret
/// holding a bearer token for it.
#[server]
pub async fn save_prometheus_account(name: String, base_url: String, bearer_token_secret: String) -> Result<CloudAccount, AppError> {
    let account = CloudAccount {
        name: name.trim().to_string(),
        cloud_provider: CloudProviderKind::Prometheus,
        regions: Vec::new(),
        kubernetes: None,
        aws: None,
        prometheus: Some(PrometheusAccountSettings {
            base_url: base_url.trim().trim_end_matches('/').to_string(),
            bearer_token_secret: Some(bearer_token_secret.trim().to_string()).filter(|secret| !secret.is_empty()),
        }),
        source: AccountSource::Api,
        status: None,
    };
    let name = account.name.clone();
    crate::ssr::respond(async move |services, caller| services.cloud_accounts.put(&caller, &name, account).await).await
}

#[server]
pub async fn delete_cloud_account(name: String) -> Result<(), AppError> {
    crate::ssr::respond(async move |services, caller| services.cloud_accounts.delete(&caller, &name).await).await
}

/// Reads Kubernetes manifests written as YAML (or JSON) for the editor, as the deploy stage
/// will read them: each document an object with apiVersion, kind and a name.
#[server]
pub async fn read_manifests(text: String) -> Result<Vec<serde_json::Value>, AppError> {
    crate::ssr::respond(async move |_, _| {
        crate::model::manifests::parse_text(&text).map_err(|error| AppError::invalid("manifests", error.to_string()))
    })
    .await
}
