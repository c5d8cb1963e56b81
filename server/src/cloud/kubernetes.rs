//! The Kubernetes provider: a manifest cloud (apply, patch, delete, scale and roll back
//! manifests of any kind) whose workloads are shown as server groups, reached with kube-rs
//! through each account's kubeconfig. Parts:
//! - `manifest`: Spinnaker's rules for manifests (names, moniker, versions, image binding,
//!   stability), pure;
//! - `view`: the cluster view of what the watches hold, pure;
//! - `operations`: the calls stages make (apply, get, list, delete, patch, scale, undo);
//! - `watch`: the caching agent, one per account, fed by watches (not polling).
//!
//! Connections are made lazily and kept per account; a changed account (its settings or its
//! kubeconfig secret) gets a new one. Credentials never appear in errors: a kubeconfig from the
//! secrets store that cannot be read is reported by the secret's name only.

pub mod manifest;
pub mod operations;
pub mod view;
pub mod watch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use app::model::clouds::{CloudAccount, CloudProviderKind, KubernetesAccountSettings};
use kube::config::{KubeConfigOptions, Kubeconfig};
use secrecy::ExposeSecret;

use crate::secrets::Secrets;
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no cloud account {0:?} is configured")]
    UnknownAccount(String),
    #[error("account {0:?} is not a kubernetes account")]
    NotKubernetes(String),
    #[error("account {account:?}: {message}")]
    Kubeconfig { account: String, message: String },
    #[error("account {account:?} does not manage namespace {namespace:?}")]
    NamespaceNotManaged { account: String, namespace: String },
    /// The API server refused or failed; its message, as it gave it.
    #[error("{0}")]
    Api(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Manifest(#[from] manifest::Error),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<kube::Error> for Error {
    fn from(error: kube::Error) -> Self {
        match error {
            kube::Error::Api(status) if status.code == 404 => Error::NotFound(status.message),
            kube::Error::Api(status) => Error::Api(format!("the Kubernetes API server refused ({}): {}", status.code, status.message)),
            other => {
                // The transport's own error says little ("client error (Connect)"); its causes
                // say why (refused, certificate, timeout).
                let mut message = other.to_string();
                let mut cause = std::error::Error::source(&other);
                while let Some(next) = cause {
                    message.push_str(&format!(": {next}"));
                    cause = next.source();
                }
                Error::Api(format!("the Kubernetes API server could not be reached: {message}"))
            }
        }
    }
}

/// One account's client and settings, with the resource types it has looked up.
#[derive(Clone)]
pub struct Connection {
    pub account: String,
    pub client: kube::Client,
    pub settings: KubernetesAccountSettings,
    /// The namespace of the kubeconfig's context (where manifests without one go).
    pub default_namespace: String,
    resources: Arc<Mutex<HashMap<(String, String), operations::Resource>>>,
    /// What the connection was made from, to notice a changed account.
    fingerprint: String,
}

impl Connection {
    /// Fails unless the account manages `namespace`.
    pub fn check_namespace(&self, namespace: &str) -> Result<()> {
        if self.settings.manages(namespace) {
            Ok(())
        } else {
            Err(Error::NamespaceNotManaged { account: self.account.clone(), namespace: namespace.to_string() })
        }
    }
}

/// Every Kubernetes account's connection, made on first use, and what its caching agent last
/// said of it.
#[derive(Clone)]
pub struct KubernetesCloud {
    store: Store,
    secrets: Arc<Secrets>,
    connections: Arc<tokio::sync::Mutex<HashMap<String, Connection>>>,
    statuses: Arc<Mutex<HashMap<String, String>>>,
}

impl KubernetesCloud {
    pub fn new(store: Store, secrets: Arc<Secrets>) -> Self {
        Self { store, secrets, connections: Arc::default(), statuses: Arc::default() }
    }

    /// The connection to a Kubernetes account (made now if there is none, or its account changed).
    pub async fn connect(&self, account: &str) -> Result<Connection> {
        let found = crate::cloud::accounts::find(&self.store, account).await?.ok_or_else(|| Error::UnknownAccount(account.to_string()))?;
        self.connect_to(&found).await
    }

    pub async fn connect_to(&self, account: &CloudAccount) -> Result<Connection> {
        if account.cloud_provider != CloudProviderKind::Kubernetes {
            return Err(Error::NotKubernetes(account.name.clone()));
        }
        let settings = account.kubernetes.clone().ok_or_else(|| Error::NotKubernetes(account.name.clone()))?;
        let kubeconfig_text = match (&settings.kubeconfig_file, &settings.kubeconfig_secret) {
            (_, Some(secret)) => Some(self.secrets.reveal(secret).await.map_err(|_| Error::Kubeconfig {
                account: account.name.clone(),
                message: format!("the kubeconfig secret {secret:?} cannot be read (is it in the secrets store?)"),
            })?),
            _ => None,
        };
        let fingerprint = {
            use sha2::Digest;
            let mut digest = sha2::Sha256::new();
            digest.update(serde_json::to_vec(&settings).expect("settings serialize"));
            if let Some(text) = &kubeconfig_text {
                digest.update(text.expose_secret().as_bytes());
            }
            if let Some(path) = &settings.kubeconfig_file
                && let Ok(content) = std::fs::read(path)
            {
                digest.update(&content);
            }
            format!("{:x}", digest.finalize())
        };
        let mut connections = self.connections.lock().await;
        if let Some(existing) = connections.get(&account.name)
            && existing.fingerprint == fingerprint
        {
            return Ok(existing.clone());
        }
        let kubeconfig_error = |message: String| Error::Kubeconfig { account: account.name.clone(), message };
        let kubeconfig = match (&settings.kubeconfig_file, &kubeconfig_text) {
            (_, Some(text)) => Kubeconfig::from_yaml(text.expose_secret()).map_err(|_| {
                // The parser's message may quote the content, which is a credential.
                kubeconfig_error(format!("the kubeconfig in secret {:?} is not a valid kubeconfig", settings.kubeconfig_secret.as_deref().unwrap_or_default()))
            })?,
            (Some(path), None) => Kubeconfig::read_from(path).map_err(|e| kubeconfig_error(format!("kubeconfig file {path}: {e}")))?,
            (None, None) => return Err(kubeconfig_error("no kubeconfigFile or kubeconfigSecret".into())),
        };
        let options = KubeConfigOptions { context: settings.context.clone(), cluster: None, user: None };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(|e| kubeconfig_error(format!("{e}")))?;
        let default_namespace = config.default_namespace.clone();
        let client = kube::Client::try_from(config).map_err(|e| kubeconfig_error(format!("cannot make a client: {e}")))?;
        let connection = Connection {
            account: account.name.clone(),
            client,
            settings,
            default_namespace,
            resources: Arc::default(),
            fingerprint,
        };
        connections.insert(account.name.clone(), connection.clone());
        Ok(connection)
    }

    /// Every configured account (of any provider).
    pub async fn accounts(&self) -> Result<Vec<CloudAccount>> {
        Ok(crate::cloud::accounts::all(&self.store).await?)
    }

    /// Forgets an account's connection (it was removed or changed).
    pub async fn forget(&self, account: &str) {
        self.connections.lock().await.remove(account);
        self.statuses.lock().unwrap_or_else(|p| p.into_inner()).remove(account);
    }

    /// Records what the account's caching agent says of it (`watching`, or why not).
    pub fn set_status(&self, account: &str, status: impl Into<String>) {
        self.statuses.lock().unwrap_or_else(|p| p.into_inner()).insert(account.to_string(), status.into());
    }

    /// What the account's caching agent last said of it, if it runs here.
    pub fn status(&self, account: &str) -> Option<String> {
        self.statuses.lock().unwrap_or_else(|p| p.into_inner()).get(account).cloned()
    }
}
