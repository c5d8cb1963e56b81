//! Cloud accounts as configuration: which accounts gennaker deploys to, of which provider, in
//! which regions (or Kubernetes namespaces), and where their credentials come from. `local` is
//! always there; the others come from the clouds file (`--clouds-file`) or the admin REST API
//! (`/api/v1/clouds/accounts`). Credentials are never stored here, only the name of the secret
//! (secrets store) holding them, so an account's JSON is safe to show and to log.

use serde::{Deserialize, Serialize};

use crate::error::{AppError, Result};

/// The providers gennaker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum CloudProviderKind {
    /// The embedded cloud: processes and reverse proxies on this machine.
    Local,
    /// A Kubernetes cluster, reached through a kubeconfig (a manifest cloud).
    Kubernetes,
    /// An AWS account: Auto Scaling groups, ELBv2 load balancers, EC2 security groups.
    Aws,
    /// A metrics account (Kayenta's `METRICS_STORE`): a Prometheus that canary analysis
    /// queries. Not a cloud: it has no server groups and no caching agent.
    Prometheus,
}

impl CloudProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Kubernetes => "kubernetes",
            Self::Aws => "aws",
            Self::Prometheus => "prometheus",
        }
    }

    /// Whether accounts of this kind hold server groups (a metrics account does not).
    pub fn is_cloud(self) -> bool {
        !matches!(self, Self::Prometheus)
    }
}

/// Where an account's definition came from: the clouds file is the operator's (REST may not
/// change it; the next start would undo the change), the API's are kept in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AccountSource {
    /// Built in (`local`).
    Builtin,
    /// The clouds file given with `--clouds-file`.
    File,
    /// Made through the admin REST API or the UI.
    #[default]
    Api,
}

/// How gennaker reaches a Kubernetes cluster, as Spinnaker's Clouddriver accounts say it
/// (`kubeconfigFile`, `context`, `namespaces`, `omitNamespaces`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubernetesAccountSettings {
    /// A kubeconfig file on the gennaker host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig_file: Option<String>,
    /// Or the name of a secret (secrets store) holding a kubeconfig's content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig_secret: Option<String>,
    /// The kubeconfig context to use (default: its current context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// The namespaces gennaker manages and shows; empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Namespaces never shown nor deployed to (with `namespaces` empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub omit_namespaces: Vec<String>,
}

impl KubernetesAccountSettings {
    /// Whether gennaker may act in `namespace` of this account.
    pub fn manages(&self, namespace: &str) -> bool {
        if self.omit_namespaces.iter().any(|omitted| omitted == namespace) {
            return false;
        }
        self.namespaces.is_empty() || self.namespaces.iter().any(|managed| managed == namespace)
    }
}

/// How gennaker reaches an AWS account, as Clouddriver's AWS accounts say it: the regions are
/// the account's `regions`; credentials are the default chain (environment, profile, instance
/// role) unless `credentialsSecret` names a secret holding an access key
/// (`{"accessKeyId", "secretAccessKey", "sessionToken"?}`); `assumeRole` is a role ARN taken on
/// with them; `endpoint` sends every call elsewhere (a VPC endpoint, or the emulator in tests).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsAccountSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assume_role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// Where a metrics account's Prometheus answers, as Kayenta's `prometheus.accounts[].endpoint`:
/// any Prometheus (or a compatible API such as Thanos), not only the one the run command starts.
/// A private address needs an `--outbound-allow` entry like any call gennaker makes for users.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrometheusAccountSettings {
    /// `http://prometheus.example:9090` (queries go to `<baseUrl>/api/v1/query_range`).
    pub base_url: String,
    /// The name of a secret (secrets store) holding a bearer token sent with each query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_secret: Option<String>,
}

/// One cloud account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloudAccount {
    /// Taken from the path when a REST call leaves it out.
    #[serde(default)]
    pub name: String,
    pub cloud_provider: CloudProviderKind,
    /// The account's regions (`local`: `local`). Kubernetes accounts use namespaces instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesAccountSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsAccountSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusAccountSettings>,
    /// Filled in by the server; ignored when sent.
    #[serde(default)]
    pub source: AccountSource,
    /// Filled in by the server when listing (ignored when sent): whether its caching agent
    /// reaches the cloud (`watching`), is still connecting, or why it cannot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// The clouds file (`--clouds-file`): `{"accounts": [...]}` in JSON or YAML.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloudsFile {
    #[serde(default)]
    pub accounts: Vec<CloudAccount>,
}

/// The name of the embedded cloud's one account.
pub const LOCAL_ACCOUNT: &str = "local";

impl CloudAccount {
    /// The built-in `local` account.
    pub fn local() -> Self {
        Self {
            name: LOCAL_ACCOUNT.into(),
            cloud_provider: CloudProviderKind::Local,
            regions: vec!["local".into()],
            kubernetes: None,
            aws: None,
            prometheus: None,
            source: AccountSource::Builtin,
            status: None,
        }
    }

    /// Checks what serde cannot: the name, and that a provider's settings are there and
    /// consistent. Errors name the field.
    pub fn validate(&self) -> Result<()> {
        validate_account_name(&self.name)?;
        match self.cloud_provider {
            CloudProviderKind::Local => Err(AppError::invalid(
                "cloudProvider",
                "only the built-in account `local` is of provider local; add accounts of provider kubernetes, aws or prometheus",
            )),
            CloudProviderKind::Prometheus => {
                if self.kubernetes.is_some() || self.aws.is_some() {
                    return Err(AppError::invalid("cloudProvider", "a prometheus account has prometheus settings only"));
                }
                if !self.regions.is_empty() {
                    return Err(AppError::invalid("regions", "a prometheus account has no regions"));
                }
                let Some(settings) = &self.prometheus else {
                    return Err(AppError::invalid("prometheus", "a prometheus account needs its settings: {\"baseUrl\": \"http://host:9090\"}"));
                };
                let host = settings.base_url.strip_prefix("http://").or_else(|| settings.base_url.strip_prefix("https://"));
                if host.is_none_or(|host| host.is_empty() || host.starts_with('/') || host.contains(char::is_whitespace)) {
                    return Err(AppError::invalid("prometheus.baseUrl", format!("{:?} is not an http:// or https:// URL", settings.base_url)));
                }
                if settings.bearer_token_secret.as_deref().is_some_and(|secret| secret.trim().is_empty()) {
                    return Err(AppError::invalid("prometheus.bearerTokenSecret", "empty"));
                }
                Ok(())
            }
            CloudProviderKind::Aws => {
                if self.prometheus.is_some() {
                    return Err(AppError::invalid("prometheus", "an aws account has aws settings, not prometheus ones"));
                }
                if self.kubernetes.is_some() {
                    return Err(AppError::invalid("kubernetes", "an aws account has aws settings, not kubernetes ones"));
                }
                if self.regions.is_empty() {
                    return Err(AppError::invalid("regions", "name the account's regions, e.g. [\"us-east-1\"]"));
                }
                for region in &self.regions {
                    let valid = !region.is_empty() && region.len() <= 32 && region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                    if !valid {
                        return Err(AppError::invalid("regions", format!("{region:?} is not an AWS region name (like us-east-1)")));
                    }
                }
                let settings = self.aws.clone().unwrap_or_default();
                if let Some(endpoint) = &settings.endpoint
                    && !(endpoint.starts_with("https://") || endpoint.starts_with("http://"))
                {
                    return Err(AppError::invalid("aws.endpoint", "an http:// or https:// URL"));
                }
                if settings.credentials_secret.as_deref().is_some_and(|secret| secret.trim().is_empty()) {
                    return Err(AppError::invalid("aws.credentialsSecret", "empty"));
                }
                if let Some(role) = &settings.assume_role
                    && !role.starts_with("arn:")
                {
                    return Err(AppError::invalid("aws.assumeRole", "a role ARN (arn:aws:iam::123456789012:role/name)"));
                }
                Ok(())
            }
            CloudProviderKind::Kubernetes => {
                if self.aws.is_some() || self.prometheus.is_some() {
                    return Err(AppError::invalid("aws", "a kubernetes account has kubernetes settings, not aws ones"));
                }
                let Some(settings) = &self.kubernetes else {
                    return Err(AppError::invalid("kubernetes", "a kubernetes account needs its settings (kubeconfigFile or kubeconfigSecret)"));
                };
                if !self.regions.is_empty() {
                    return Err(AppError::invalid("regions", "a kubernetes account has namespaces (kubernetes.namespaces), not regions"));
                }
                match (&settings.kubeconfig_file, &settings.kubeconfig_secret) {
                    (Some(_), Some(_)) => Err(AppError::invalid("kubernetes", "give kubeconfigFile or kubeconfigSecret, not both")),
                    (None, None) => Err(AppError::invalid("kubernetes", "give kubeconfigFile or kubeconfigSecret")),
                    (Some(file), None) if file.trim().is_empty() => Err(AppError::invalid("kubernetes.kubeconfigFile", "empty")),
                    (None, Some(secret)) if secret.trim().is_empty() => Err(AppError::invalid("kubernetes.kubeconfigSecret", "empty")),
                    _ => {
                        for namespace in settings.namespaces.iter().chain(&settings.omit_namespaces) {
                            validate_namespace(namespace)?;
                        }
                        Ok(())
                    }
                }
            }
        }
    }
}

/// Account names as Spinnaker allows them: lowercase letters, digits, `-` and `_`, 1 to 63.
pub fn validate_account_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(AppError::invalid("name", format!(
            "{name:?} is not a valid account name (lowercase letters, digits, '-' and '_', at most 63, starting with a letter or digit)"
        )))
    }
}

/// A Kubernetes namespace name (an RFC 1123 label).
pub fn validate_namespace(namespace: &str) -> Result<()> {
    let valid = !namespace.is_empty()
        && namespace.len() <= 63
        && namespace.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !namespace.starts_with('-')
        && !namespace.ends_with('-');
    if valid { Ok(()) } else { Err(AppError::invalid("namespaces", format!("{namespace:?} is not a valid Kubernetes namespace name"))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubernetes(settings: KubernetesAccountSettings) -> CloudAccount {
        CloudAccount {
            name: "k8s-dev".into(),
            cloud_provider: CloudProviderKind::Kubernetes,
            regions: vec![],
            kubernetes: Some(settings),
            aws: None,
            prometheus: None,
            source: AccountSource::Api,
            status: None,
        }
    }

    #[test]
    fn a_kubernetes_account_needs_exactly_one_kubeconfig_source() {
        let file = KubernetesAccountSettings { kubeconfig_file: Some("/etc/kube/config".into()), ..Default::default() };
        assert!(kubernetes(file.clone()).validate().is_ok());
        let both = KubernetesAccountSettings { kubeconfig_secret: Some("kubeconfig".into()), ..file };
        assert!(kubernetes(both).validate().unwrap_err().to_string().contains("not both"));
        assert!(kubernetes(KubernetesAccountSettings::default()).validate().is_err());
        let mut no_settings = kubernetes(KubernetesAccountSettings::default());
        no_settings.kubernetes = None;
        assert!(no_settings.validate().unwrap_err().to_string().contains("kubernetes"));
    }

    #[test]
    fn names_and_namespaces_are_checked() {
        assert!(validate_account_name("prod-eu_1").is_ok());
        assert!(validate_account_name("Prod").is_err());
        assert!(validate_account_name("").is_err());
        assert!(validate_account_name("-x").is_err());
        assert!(validate_namespace("team-a").is_ok());
        assert!(validate_namespace("Team").is_err());
        assert!(validate_namespace("a-").is_err());
        let settings = KubernetesAccountSettings { kubeconfig_file: Some("f".into()), namespaces: vec!["bad_ns".into()], ..Default::default() };
        assert!(kubernetes(settings).validate().is_err());
    }

    #[test]
    fn an_aws_account_needs_regions_and_well_formed_settings() {
        let account = |value: serde_json::Value| serde_json::from_value::<CloudAccount>(value).unwrap();
        let good = account(serde_json::json!({"name": "prod", "cloudProvider": "aws", "regions": ["us-east-1"],
            "aws": {"credentialsSecret": "aws-prod", "endpoint": "http://127.0.0.1:5000", "assumeRole": "arn:aws:iam::123456789012:role/deploy"}}));
        assert!(good.validate().is_ok());
        assert!(account(serde_json::json!({"name": "p", "cloudProvider": "aws", "regions": ["us-east-1"]})).validate().is_ok(), "the default chain");
        assert_eq!(account(serde_json::json!({"name": "p", "cloudProvider": "aws"})).validate().unwrap_err().to_string().contains("regions"), true);
        assert!(account(serde_json::json!({"name": "p", "cloudProvider": "aws", "regions": ["US East"]})).validate().is_err());
        assert!(account(serde_json::json!({"name": "p", "cloudProvider": "aws", "regions": ["us-east-1"], "aws": {"endpoint": "ftp://x"}})).validate().is_err());
        assert!(account(serde_json::json!({"name": "p", "cloudProvider": "aws", "regions": ["us-east-1"], "aws": {"assumeRole": "deploy"}})).validate().is_err());
    }

    #[test]
    fn only_local_is_of_provider_local() {
        let mut account = CloudAccount::local();
        account.name = "other".into();
        assert!(account.validate().is_err());
    }

    #[test]
    fn namespaces_managed() {
        let all = KubernetesAccountSettings { omit_namespaces: vec!["kube-system".into()], ..Default::default() };
        assert!(all.manages("default"));
        assert!(!all.manages("kube-system"));
        let some = KubernetesAccountSettings { namespaces: vec!["team-a".into()], ..Default::default() };
        assert!(some.manages("team-a"));
        assert!(!some.manages("default"));
    }

    #[test]
    fn unknown_fields_are_refused_so_typos_are_not_silently_ignored() {
        let typo = serde_json::json!({"name": "k", "cloudProvider": "kubernetes", "kubernetes": {"kubeconfigFiel": "/x"}});
        assert!(serde_json::from_value::<CloudAccount>(typo).is_err());
    }
}
