//! One-off processes for the Run Job stage: started once per client token (a retried start
//! finds the job already there), their output captured (the last `MAX_OUTPUT` bytes, stdout
//! and stderr interleaved as they arrive) and their exit code kept until gennaker stops. A job
//! that was running when gennaker stopped is gone after a restart: its status is `Unknown`,
//! which the stage reports as a failure instead of waiting forever. Every job starts inside
//! the [`Sandbox`].

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt};
use super::sandbox::Sandbox;
use crate::cloud::provider::{Error, JobStatus, Result};

/// How much output is kept per job (the end of it).
const MAX_OUTPUT: usize = 64 * 1024;

#[derive(Default)]
struct Job {
    output: Vec<u8>,
    exit_code: Option<i32>,
    cancel: Option<tokio::sync::oneshot::Sender<()>>,
}

#[derive(Clone)]
pub struct Jobs {
    jobs: Arc<Mutex<HashMap<String, Arc<Mutex<Job>>>>>,
    sandbox: Arc<Sandbox>,
}

fn append(job: &Mutex<Job>, bytes: &[u8]) {
    let mut job = job.lock().unwrap_or_else(|p| p.into_inner());
    job.output.extend_from_slice(bytes);
    if job.output.len() > MAX_OUTPUT {
        let cut = job.output.len() - MAX_OUTPUT;
        job.output.drain(..cut);
    }
}

async fn capture(mut reader: impl AsyncRead + Unpin, job: Arc<Mutex<Job>>) {
    let mut buffer = [0u8; 4096];
    while let Ok(read) = reader.read(&mut buffer).await {
        if read == 0 {
            break;
        }
        append(&job, &buffer[..read]);
    }
}

impl Jobs {
    pub fn new(sandbox: Arc<Sandbox>) -> Self {
        Self { jobs: Arc::default(), sandbox }
    }

    /// Starts the job unless one with this token exists.
    pub fn start(&self, token: &str, command: &[String], env: &std::collections::BTreeMap<String, String>) -> Result<()> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if jobs.contains_key(token) {
            return Ok(());
        }
        let program = command.first().cloned().unwrap_or_default();
        let mut child = self
            .sandbox
            .command(&format!("job-{token}"), command, env)
            .map_err(|error| Error::Invalid(error.to_string()))?
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| Error::Provider(format!("cannot start {program}: {error}")))?;
        let (cancel, canceled) = tokio::sync::oneshot::channel();
        let job = Arc::new(Mutex::new(Job { cancel: Some(cancel), ..Job::default() }));
        jobs.insert(token.to_string(), job.clone());
        let stdout = child.stdout.take().map(|out| tokio::spawn(capture(out, job.clone())));
        let stderr = child.stderr.take().map(|err| tokio::spawn(capture(err, job.clone())));
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status.ok(),
                _ = canceled => {
                    let _ = child.kill().await;
                    None
                }
            };
            for reader in [stdout, stderr].into_iter().flatten() {
                let _ = reader.await;
            }
            // Killed by a signal or canceled: no exit code, report -1.
            job.lock().unwrap_or_else(|p| p.into_inner()).exit_code = Some(status.and_then(|s| s.code()).unwrap_or(-1));
        });
        Ok(())
    }

    pub fn status(&self, token: &str) -> JobStatus {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let Some(job) = jobs.get(token) else { return JobStatus::Unknown };
        let job = job.lock().unwrap_or_else(|p| p.into_inner());
        match job.exit_code {
            None => JobStatus::Running,
            Some(code) => JobStatus::Exited { code, output: String::from_utf8_lossy(&job.output).into_owned() },
        }
    }

    pub fn cancel(&self, token: &str) {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(job) = jobs.get(token) {
            if let Some(cancel) = job.lock().unwrap_or_else(|p| p.into_inner()).cancel.take() {
                let _ = cancel.send(());
            }
        }
    }
}
