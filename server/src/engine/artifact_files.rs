//! Reading file artifacts for a run, as Spinnaker's artifact accounts do: `embedded/base64`
//! (decoded), `http/file` (fetched), and files on git hosting through their APIs: `github/file`
//! (`reference` is the contents API URL, `version` the branch, tag or commit),
//! `gitlab/file` (the repository files API) and `bitbucket/file` (a raw file URL). Every call
//! goes through the outbound allow-list. An artifact's `artifactAccount` is the name of a
//! secret holding the credentials (a token; for Bitbucket `user:app-password`), revealed only
//! if that secret's scope allows the run's application or pipeline; an artifact without one is
//! fetched anonymously. Neither the secret's value nor the file's content appears in an error.

use app::model::artifact::Artifact;
use app::model::execution::Execution;
use base64::Engine as _;
use secrecy::ExposeSecret;
use serde_json::Value;

use super::tasks::Effects;

/// Most bytes a file artifact may have.
pub const MAX_BYTES: usize = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("artifact type {0:?} cannot be read as a file here (embedded/base64, http/file, github/file, gitlab/file, bitbucket/file)")]
    Unsupported(String),
    #[error("artifact {name:?}: {message}")]
    Invalid { name: String, message: String },
    #[error("artifact account {account:?}: {message}")]
    Credentials { account: String, message: String },
    #[error("fetching artifact {url}: {message}")]
    Fetch { url: String, message: String },
}

/// How the credentials go with a request.
enum Credentials {
    None,
    Bearer(String),
    Header(&'static str, String),
    Basic(String, String),
}

/// The artifact's content as text.
pub async fn text(effects: &Effects, execution: &Execution, artifact: &Artifact) -> Result<String, Error> {
    let bytes = bytes(effects, execution, artifact).await?;
    String::from_utf8(bytes).map_err(|_| Error::Invalid { name: artifact.name.clone(), message: "it is not UTF-8 text".into() })
}

/// The artifact's content (a packaged chart, a file), at most [`MAX_BYTES`].
pub async fn bytes(effects: &Effects, execution: &Execution, artifact: &Artifact) -> Result<Vec<u8>, Error> {
    let invalid = |message: &str| Error::Invalid { name: artifact.name.clone(), message: message.to_string() };
    let bytes = match artifact.kind.as_str() {
        "embedded/base64" => {
            let encoded = if artifact.reference.is_empty() { artifact.extra.get("contents").and_then(Value::as_str).unwrap_or_default() } else { &artifact.reference };
            base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| invalid("its reference is not base64"))?
        }
        "http/file" => fetch(effects, &location(artifact), None, account_credentials(effects, execution, artifact, "http/file").await?).await?,
        "github/file" => {
            let url = with_ref(&location(artifact), "ref", &artifact.version);
            fetch(effects, &url, Some("application/vnd.github.v3.raw"), account_credentials(effects, execution, artifact, "github/file").await?).await?
        }
        "gitlab/file" => {
            let url = with_ref(&location(artifact), "ref", &artifact.version);
            fetch(effects, &url, None, account_credentials(effects, execution, artifact, "gitlab/file").await?).await?
        }
        "bitbucket/file" => fetch(effects, &location(artifact), None, account_credentials(effects, execution, artifact, "bitbucket/file").await?).await?,
        other => return Err(Error::Unsupported(other.to_string())),
    };
    if bytes.len() > MAX_BYTES {
        return Err(invalid(&format!("it is larger than {MAX_BYTES} bytes")));
    }
    Ok(bytes)
}

/// Where the file is: its `reference`, else its `name` (Spinnaker fills either).
fn location(artifact: &Artifact) -> String {
    if artifact.reference.is_empty() { artifact.name.clone() } else { artifact.reference.clone() }
}

/// `url` with `key=value` added to its query, unless it has that key or there is no value.
fn with_ref(url: &str, key: &str, value: &str) -> String {
    if value.is_empty() || url.contains(&format!("{key}=")) {
        return url.to_string();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{key}={}", url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>())
}

/// The credentials the artifact's `artifactAccount` names (a secret), within its scope.
async fn account_credentials(effects: &Effects, execution: &Execution, artifact: &Artifact, kind: &str) -> Result<Credentials, Error> {
    let Some(account) = artifact.extra.get("artifactAccount").and_then(Value::as_str).filter(|account| !account.is_empty()) else {
        return Ok(Credentials::None);
    };
    let secrets = effects.secrets.as_ref().ok_or_else(|| Error::Credentials { account: account.to_string(), message: "no secrets store here".into() })?;
    // An account name that is no secret is an account without credentials (Spinnaker's
    // default accounts: `embedded-artifact`, `http-default`, a public GitHub).
    if effects.store.secret_scope(account).await.is_err() {
        return Ok(Credentials::None);
    }
    let value = secrets
        .reveal_for(account, &execution.application, &execution.pipeline_config_id)
        .await
        .map_err(|error| Error::Credentials { account: account.to_string(), message: error.to_string() })?;
    let value = value.expose_secret().trim().to_string();
    Ok(match kind {
        "gitlab/file" => Credentials::Header("PRIVATE-TOKEN", value),
        "bitbucket/file" => match value.split_once(':') {
            Some((user, password)) => Credentials::Basic(user.to_string(), password.to_string()),
            None => Credentials::Bearer(value),
        },
        _ => Credentials::Bearer(value),
    })
}

async fn fetch(effects: &Effects, url: &str, accept: Option<&str>, credentials: Credentials) -> Result<Vec<u8>, Error> {
    let failed = |message: String| Error::Fetch { url: url.to_string(), message };
    let mut request = effects.http.get(url).map_err(|e| failed(e.to_string()))?;
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    request = match credentials {
        Credentials::None => request,
        Credentials::Bearer(token) => request.bearer_auth(token),
        Credentials::Header(name, value) => request.header(name, value),
        Credentials::Basic(user, password) => request.basic_auth(user, Some(password)),
    };
    let response = request.send().await.map_err(|e| failed(crate::outbound::describe(&e)))?;
    if !response.status().is_success() {
        return Err(failed(format!("HTTP {}", response.status())));
    }
    effects.http.bytes(response).await.map_err(|e| failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_goes_into_the_query_once() {
        assert_eq!(with_ref("https://api.github.com/repos/o/r/contents/k8s/web.yml", "ref", "main"), "https://api.github.com/repos/o/r/contents/k8s/web.yml?ref=main");
        assert_eq!(with_ref("https://x/raw?ref=dev", "ref", "main"), "https://x/raw?ref=dev", "a ref already there is kept");
        assert_eq!(with_ref("https://x/raw?a=1", "ref", "feature/x"), "https://x/raw?a=1&ref=feature%2Fx");
        assert_eq!(with_ref("https://x/raw", "ref", ""), "https://x/raw");
    }
}
