//! Server groups built from source on the local cloud: a repository (any URL or path `git
//! clone` takes, `file://` included) is checked out at a commit and built once per commit and
//! build command; every instance of every server group of that build then runs in the
//! checkout. Each build lives in `<work dir>/builds/<key>/` with its `build.log`; a `built`
//! file marks a finished one, so a later deploy (or a restart) reuses it. Checkout and build run
//! inside the [`Sandbox`] like any process of the local cloud (cleared environment, the
//! sandbox's user), one at a time per build. A failed build fails the deploy with its log's
//! tail, and is tried again by the next deploy.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use super::sandbox::Sandbox;

/// How much of a failed build's log its error quotes.
const LOG_TAIL: usize = 2_000;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot prepare the build directory: {0}")]
    Directory(String),
    #[error("{step} of {repository}@{commit} failed; the end of its log:\n{tail}")]
    Failed { step: &'static str, repository: String, commit: String, tail: String },
}

/// What to build: the source and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub repository: String,
    pub commit: String,
    pub build: Vec<String>,
}

pub struct Builds {
    sandbox: Arc<Sandbox>,
    /// One lock per build key, so a build runs once however many deploys ask for it.
    running: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

fn key(source: &Source) -> String {
    let digest = Sha256::digest(format!("{}\n{}\n{}", source.repository, source.commit, source.build.join("\u{1f}")).as_bytes());
    digest.iter().take(12).map(|byte| format!("{byte:02x}")).collect()
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let start = text.len().saturating_sub(LOG_TAIL);
    let start = (start..text.len()).find(|at| text.is_char_boundary(*at)).unwrap_or(text.len());
    text[start..].to_string()
}

impl Builds {
    pub fn new(sandbox: Arc<Sandbox>) -> Self {
        Self { sandbox, running: Mutex::default() }
    }

    /// The build's folder (holding `src/` and `build.log`).
    pub fn folder(&self, source: &Source) -> Result<PathBuf, Error> {
        self.sandbox.shared_directory(&Path::new("builds").join(key(source))).map_err(|error| Error::Directory(error.to_string()))
    }

    /// The end of a build's log (at most `limit` bytes), if it ran.
    pub fn log(&self, source: &Source, limit: usize) -> Result<Option<String>, Error> {
        let path = self.folder(source)?.join("build.log");
        let Ok(bytes) = std::fs::read(&path) else { return Ok(None) };
        let start = bytes.len().saturating_sub(limit);
        Ok(Some(String::from_utf8_lossy(&bytes[start..]).into_owned()))
    }

    /// The checkout to run instances in, built first unless an earlier build finished.
    pub async fn prepare(&self, source: &Source) -> Result<PathBuf, Error> {
        let lock = self.running.lock().await.entry(key(source)).or_default().clone();
        let _building = lock.lock().await;
        let folder = self.folder(source)?;
        let checkout = folder.join("src");
        if folder.join("built").exists() {
            return Ok(checkout);
        }
        let log = folder.join("build.log");
        let _ = std::fs::remove_dir_all(&checkout);
        std::fs::write(&log, "").map_err(|error| Error::Directory(error.to_string()))?;
        let git = |args: &[&str]| -> Vec<String> { std::iter::once("git").chain(args.iter().copied()).map(str::to_string).collect() };
        let clone = git(&["clone", "--quiet", "--no-checkout", &source.repository, "src"]);
        self.step("the checkout", &folder, &clone, &log, source).await?;
        self.step("the checkout", &checkout, &git(&["checkout", "--quiet", "--detach", &source.commit]), &log, source).await?;
        if !source.build.is_empty() {
            self.step("the build", &checkout, &source.build, &log, source).await?;
        }
        std::fs::write(folder.join("built"), &source.commit).map_err(|error| Error::Directory(error.to_string()))?;
        tracing::info!(repository = %source.repository, commit = %source.commit, "built from source");
        Ok(checkout)
    }

    /// Runs one step in `directory`, its output appended to the log.
    async fn step(&self, step: &'static str, directory: &Path, command: &[String], log: &Path, source: &Source) -> Result<(), Error> {
        let failed = |detail: String| {
            let mut tail = tail(log);
            if !detail.is_empty() {
                tail.push_str(&detail);
            }
            Error::Failed { step, repository: source.repository.clone(), commit: source.commit.clone(), tail }
        };
        let output = std::fs::OpenOptions::new().append(true).open(log).map_err(|error| Error::Directory(error.to_string()))?;
        let errors = output.try_clone().map_err(|error| Error::Directory(error.to_string()))?;
        // The repository may belong to another user than the one the sandbox runs as: git
        // refuses such ones unless told they are safe, and a local clone's upload-pack only
        // takes that from a global (protected) config file, so one is written for the build.
        let global = log.with_file_name("gitconfig");
        std::fs::write(&global, "[safe]\n\tdirectory = *\n").map_err(|error| failed(format!("\n{error}")))?;
        let env = std::collections::BTreeMap::from([
            ("GIT_CONFIG_GLOBAL".to_string(), global.display().to_string()),
            ("GIT_CONFIG_COUNT".to_string(), "1".to_string()),
            ("GIT_CONFIG_KEY_0".to_string(), "safe.directory".to_string()),
            ("GIT_CONFIG_VALUE_0".to_string(), "*".to_string()),
        ]);
        let mut process = self.sandbox.command_in(directory, command, &env).map_err(|error| failed(format!("\n{error}")))?;
        let status = process
            .stdin(std::process::Stdio::null())
            .stdout(output)
            .stderr(errors)
            .status()
            .await
            .map_err(|error| failed(format!("\ncannot start {:?}: {error}", command.first().map(String::as_str).unwrap_or_default())))?;
        if status.success() { Ok(()) } else { Err(failed(format!("\n({status})"))) }
    }
}
