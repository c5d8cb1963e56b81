//! The real `gennaker` binary as a child process: started on a free port, its JSON log kept
//! for assertions, stopped with SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helpers::binary;

pub const ADMIN_PASSWORD: &str = "binary admin password";

pub struct RunningBinary {
    pub child: Child,
    pub address: String,
    /// Every line the process printed (stdout and stderr), so far.
    pub output: Arc<Mutex<Vec<String>>>,
}

/// A test that panics still stops its processes: they would otherwise outlive it, holding
/// ports and database connections.
impl Drop for RunningBinary {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl RunningBinary {
    pub fn output(&self) -> String {
        self.output.lock().unwrap().join("\n")
    }
}

fn drain(reader: impl std::io::Read + Send + 'static, output: Arc<Mutex<Vec<String>>>, address: Option<std::sync::mpsc::Sender<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if let Some(sender) = &address {
                let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                // The listening line's address is a URL; instances log bare addresses.
                if let Some(found) = event["address"].as_str().filter(|a| a.starts_with("http")) {
                    let _ = sender.send(found.to_string());
                }
            }
            output.lock().unwrap().push(line);
        }
    });
}

/// Starts `gennaker serve` on the database with `GENNAKER_ADMIN_PASSWORD` set unless `env`
/// overrides it (an empty value removes it), and waits until it listens.
pub fn start_binary(database_url: &str, env: &[(&str, &str)]) -> RunningBinary {
    let key_dir = std::env::temp_dir().join(format!("gennaker-bin-{}", std::process::id()));
    let mut command = Command::new(binary());
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--database-url", database_url])
        .env("GENNAKER_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("GENNAKER_SECRET_KEY_FILE", key_dir.join("secret.key"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        if value.is_empty() {
            command.env_remove(name);
        } else {
            command.env(name, value);
        }
    }
    let mut child = command.spawn().expect("gennaker starts");
    let output = Arc::new(Mutex::new(Vec::new()));
    let (sender, receiver) = std::sync::mpsc::channel();
    drain(child.stdout.take().unwrap(), output.clone(), Some(sender));
    drain(child.stderr.take().unwrap(), output.clone(), None);
    let address = receiver.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| {
        panic!("gennaker did not report its address: {}", output.lock().unwrap().join("\n"))
    });
    RunningBinary { child, address, output }
}

pub fn stop_with_sigterm(mut running: RunningBinary) -> RunningBinary {
    let status = Command::new("kill").args(["-TERM", &running.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(exit) = running.child.try_wait().unwrap() {
            assert!(exit.success(), "graceful shutdown exits 0, got {exit}");
            return running;
        }
        assert!(Instant::now() < deadline, "gennaker ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Signs in over HTTP and returns the session cookie (`gennaker_session=...`).
pub async fn sign_in(client: &reqwest::Client, address: &str, username: &str) -> String {
    sign_in_with(client, address, username, ADMIN_PASSWORD).await
}

pub async fn sign_in_with(client: &reqwest::Client, address: &str, username: &str, password: &str) -> String {
    let response = client
        .post(format!("{address}/api/v1/session"))
        .json(&serde_json::json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "sign in as {username}");
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_string()
}
