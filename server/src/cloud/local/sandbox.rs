//! How the local cloud starts a process (an instance or a job) so that it cannot reach what
//! gennaker holds: a cleared environment (only `PATH`, `HOME`, what the stage sets, and for
//! instances `PORT` and `GENNAKER_INSTANCE`), a working directory of its own under the sandbox
//! root (outside gennaker's data directory), and, when gennaker runs as root, an unprivileged
//! user (`nobody` unless configured), so the secret key file (mode 0600) and the database stay
//! out of its reach. `demo-app` runs gennaker's own binary through a link in the sandbox root,
//! since the build directory may sit where that user cannot look (under `/root`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::process::Command;

/// What every process gets for `PATH`.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Variables a stage may not set: they would hand the process what the sandbox holds back, or
/// change what the dynamic loader runs.
const REFUSED_PREFIXES: &[&str] = &["GENNAKER_", "DATABASE_URL", "LD_", "DYLD_"];

/// Refuses a variable a stage may not set.
pub fn check_variable(name: &str) -> Result<(), Error> {
    if REFUSED_PREFIXES.iter().any(|prefix| name.starts_with(prefix)) { Err(Error::RefusedVariable(name.to_string())) } else { Ok(()) }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the sandbox root {path}: {source}")]
    Root { path: PathBuf, source: std::io::Error },
    #[error("no user {0:?} to run processes as (see --run-as-user)")]
    NoSuchUser(String),
    #[error("the environment variable {0} is gennaker's own and cannot be set by a stage")]
    RefusedVariable(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Who processes run as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug)]
pub struct Sandbox {
    root: PathBuf,
    run_as: Option<RunAs>,
    /// gennaker's own binary, linked into the root (what `demo-app` runs).
    own_binary: PathBuf,
    counter: AtomicU64,
}

impl Sandbox {
    /// Prepares `root` (created, mode 0755). `user`: whom processes run as when gennaker runs
    /// as root (`None`, or gennaker not root: as gennaker's own user).
    pub fn prepare(root: &Path, user: Option<&str>) -> Result<Self, Error> {
        let at_root = |source| Error::Root { path: root.to_path_buf(), source };
        std::fs::create_dir_all(root).map_err(at_root)?;
        set_mode(root, 0o755).map_err(at_root)?;
        let run_as = match user {
            Some(user) if running_as_root() => Some(lookup_user(user)?),
            _ => None,
        };
        let own_binary = link_own_binary(root).map_err(at_root)?;
        Ok(Self { root: root.to_path_buf(), run_as, own_binary, counter: AtomicU64::new(0) })
    }

    /// Whom processes run as (`None`: gennaker's own user).
    pub fn run_as(&self) -> Option<RunAs> {
        self.run_as
    }

    /// The command for `command` (`demo-app ...` runs gennaker's demo app), named `name` (its
    /// working directory is named after it), with `env` on top of the cleared environment.
    pub fn command(&self, name: &str, command: &[String], env: &BTreeMap<String, String>) -> Result<Command, Error> {
        let directory = self.working_directory(name)?;
        self.command_in(&directory, command, env)
    }

    /// A directory of the sandbox's own (under its root), owned by the user processes run as:
    /// for what several processes share, such as a source build's checkout.
    pub fn shared_directory(&self, relative: &Path) -> Result<PathBuf, Error> {
        let directory = self.root.join(relative);
        std::fs::create_dir_all(&directory)?;
        set_mode(&directory, 0o700)?;
        if let Some(run_as) = self.run_as {
            std::os::unix::fs::chown(&directory, Some(run_as.uid), Some(run_as.gid))?;
        }
        Ok(directory)
    }

    /// The command for `command` run in `directory` (which the caller prepared), with the
    /// same cleared environment and user as [`Sandbox::command`].
    pub fn command_in(&self, directory: &Path, command: &[String], env: &BTreeMap<String, String>) -> Result<Command, Error> {
        env.keys().try_for_each(|name| check_variable(name))?;
        let (program, args) = match command.split_first() {
            Some((first, rest)) if first == "demo-app" => {
                let mut args = vec!["demo-app".to_string()];
                args.extend(rest.iter().cloned());
                (self.own_binary.clone(), args)
            }
            Some((first, rest)) => (PathBuf::from(first), rest.to_vec()),
            None => return Err(Error::Io(std::io::Error::other("a process needs a command"))),
        };
        let mut process = Command::new(program);
        process.args(args).env_clear().env("PATH", PATH).env("HOME", directory).envs(env).current_dir(directory);
        if let Some(run_as) = self.run_as {
            // Rust's std drops the supplementary groups too when it changes the user.
            process.uid(run_as.uid).gid(run_as.gid);
        }
        Ok(process)
    }

    /// A fresh directory for one process, owned by the user it runs as.
    fn working_directory(&self, name: &str) -> Result<PathBuf, Error> {
        let safe: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).take(80).collect();
        let number = self.counter.fetch_add(1, Ordering::Relaxed);
        let directory = self.root.join(format!("{safe}-{}-{number}", std::process::id()));
        std::fs::create_dir_all(&directory)?;
        set_mode(&directory, 0o700)?;
        if let Some(run_as) = self.run_as {
            std::os::unix::fs::chown(&directory, Some(run_as.uid), Some(run_as.gid))?;
        }
        Ok(directory)
    }
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Whether this process's effective user is root (from `/proc/self/status`, so no `unsafe`
/// call to `geteuid` is needed).
fn running_as_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|line| line.strip_prefix("Uid:")).and_then(|ids| ids.split_whitespace().nth(1)).is_some_and(|euid| euid == "0")
}

/// The user's ids from `/etc/passwd`.
fn lookup_user(user: &str) -> Result<RunAs, Error> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&user))
        .and_then(|fields| Some(RunAs { uid: fields.get(2)?.parse().ok()?, gid: fields.get(3)?.parse().ok()? }))
        .ok_or_else(|| Error::NoSuchUser(user.to_string()))
}

/// Links (or, across file systems, copies) gennaker's binary into `root/bin/`, under a name
/// unique to this binary, atomically: several servers may share one root.
fn link_own_binary(root: &Path) -> std::io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let metadata = std::fs::metadata(&exe)?;
    let modified = metadata.modified().ok().and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin)?;
    set_mode(&bin, 0o755)?;
    let name = format!("{}-{}-{modified}", exe.file_name().and_then(|n| n.to_str()).unwrap_or("gennaker"), metadata.len());
    let linked = bin.join(name);
    if linked.exists() {
        return Ok(linked);
    }
    static STAGED: AtomicU64 = AtomicU64::new(0);
    let staging = bin.join(format!(".staging-{}-{}", std::process::id(), STAGED.fetch_add(1, Ordering::Relaxed)));
    if std::fs::hard_link(&exe, &staging).is_err() {
        std::fs::copy(&exe, &staging)?;
    }
    set_mode(&staging, 0o755)?;
    std::fs::rename(&staging, &linked)?;
    Ok(linked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_cannot_set_gennakers_own_variables() {
        let root = std::env::temp_dir().join(format!("gennaker-sandbox-test-{}", std::process::id()));
        let sandbox = Sandbox::prepare(&root, None).unwrap();
        for name in ["GENNAKER_SECRET_KEY", "DATABASE_URL", "LD_PRELOAD"] {
            let env = BTreeMap::from([(name.to_string(), "x".to_string())]);
            assert!(matches!(sandbox.command("job", &["true".into()], &env), Err(Error::RefusedVariable(_))), "{name}");
        }
        assert!(sandbox.command("job", &["true".into()], &BTreeMap::from([("APP_MODE".into(), "x".into())])).is_ok());
        assert!(matches!(lookup_user("no-such-user-here"), Err(Error::NoSuchUser(_))));
        assert_eq!(lookup_user("root").unwrap(), RunAs { uid: 0, gid: 0 });
        std::fs::remove_dir_all(root).ok();
    }
}
