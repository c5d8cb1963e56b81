//! Instances of the local cloud: child processes, each on its own port of 127.0.0.1 with
//! `PORT` and `GENNAKER_INSTANCE` in its environment. A group keeps `desired` of them running
//! and replaces any that exits, as an autoscaling group does; resizing adds or stops instances
//! (the newest go first). A command starting with `demo-app` runs `gennaker demo-app`. Every
//! instance starts inside the [`Sandbox`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::process::Child;

use super::sandbox::Sandbox;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the supervisor looks for exited instances.
const SUPERVISE_EVERY: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSpec {
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Where every instance runs (a source build's checkout); `None`: a fresh directory each.
    pub directory: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceInfo {
    pub name: String,
    pub address: SocketAddr,
    pub pid: Option<u32>,
    pub launch_time: i64,
}

struct Running {
    info: InstanceInfo,
    child: Child,
}

struct Group {
    name: String,
    spec: InstanceSpec,
    sandbox: Arc<Sandbox>,
    desired: Mutex<usize>,
    instances: Mutex<Vec<Running>>,
    counter: Mutex<u64>,
}

pub struct ProcessGroup {
    group: Arc<Group>,
    stop: watch::Sender<()>,
    task: JoinHandle<()>,
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Group {
    fn launch(&self) -> std::io::Result<Running> {
        let port = free_port()?;
        let number = {
            let mut counter = self.counter.lock().unwrap_or_else(|p| p.into_inner());
            *counter += 1;
            *counter
        };
        let name = format!("{}-{number}", self.name);
        let mut command = match &self.spec.directory {
            Some(directory) => self.sandbox.command_in(directory, &self.spec.command, &self.spec.env),
            None => self.sandbox.command(&name, &self.spec.command, &self.spec.env),
        }
        .map_err(std::io::Error::other)?;
        let child = command
            .env("PORT", port.to_string())
            .env("GENNAKER_INSTANCE", &name)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let info = InstanceInfo { name, address: SocketAddr::from(([127, 0, 0, 1], port)), pid: child.id(), launch_time: crate::store::now_millis() };
        tracing::info!(instance = %info.name, address = %info.address, "instance started");
        Ok(Running { info, child })
    }

    /// One reconcile step: drop exited instances, then start or stop to reach `desired`.
    fn reconcile(&self) {
        let desired = *self.desired.lock().unwrap_or_else(|p| p.into_inner());
        let mut instances = self.instances.lock().unwrap_or_else(|p| p.into_inner());
        instances.retain_mut(|running| match running.child.try_wait() {
            Ok(None) => true,
            Ok(Some(status)) => {
                tracing::warn!(instance = %running.info.name, %status, "instance exited; replacing it");
                false
            }
            Err(_) => false,
        });
        while instances.len() > desired {
            if let Some(mut newest) = instances.pop() {
                let _ = newest.child.start_kill();
            }
        }
        while instances.len() < desired {
            match self.launch() {
                Ok(running) => instances.push(running),
                Err(error) => {
                    tracing::error!(%error, group = %self.name, "cannot start an instance");
                    break;
                }
            }
        }
    }
}

impl ProcessGroup {
    pub fn start(name: &str, spec: InstanceSpec, desired: usize, sandbox: Arc<Sandbox>) -> Self {
        let group = Arc::new(Group {
            name: name.to_string(),
            spec,
            sandbox,
            desired: Mutex::new(desired),
            instances: Mutex::new(Vec::new()),
            counter: Mutex::new(0),
        });
        group.reconcile();
        let (stop, mut stopped) = watch::channel(());
        let supervised = group.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stopped.changed() => return,
                    () = tokio::time::sleep(SUPERVISE_EVERY) => supervised.reconcile(),
                }
            }
        });
        Self { group, stop, task }
    }

    pub fn resize(&self, desired: usize) {
        *self.group.desired.lock().unwrap_or_else(|p| p.into_inner()) = desired;
        self.group.reconcile();
    }

    pub fn instances(&self) -> Vec<InstanceInfo> {
        self.group.instances.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|r| r.info.clone()).collect()
    }

    /// Stops supervising and ends every instance.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
        let running: Vec<Running> = std::mem::take(&mut *self.group.instances.lock().unwrap_or_else(|p| p.into_inner()));
        for mut instance in running {
            let _ = instance.child.kill().await;
        }
    }
}
