//! Benchmark: what live watchers cost the server. For N WebSocket watchers (1,000 and 5,000;
//! `GENNAKER_BENCH_WATCHERS="1000,5000"` overrides) subscribed to one application on
//! `/api/v1/ws`, it measures
//! - delivery latency per event per watcher, from the event's `ts` (the epoch ms the store
//!   takes just before the transaction that commits it, `store::executions::commit_step`) to
//!   the moment the watcher's task reads it off its socket (same machine, same clock; `ts` is
//!   whole milliseconds, so each sample reads up to 1 ms high): p50, p99, max; and, per event,
//!   how long until the last watcher had it;
//! - the server's CPU (utime + stime of the child process, `/proc/<pid>/stat`) from the first
//!   run's start until every watcher had every event, per delivery (event x watcher) and per
//!   event; also its idle CPU with 0 and with N open sockets (each socket looks at the store
//!   every second and at its credential every 5 s, see `ws.rs`);
//! - the server's resident memory (VmRSS) idle with 0 sockets and with N idle sockets, and
//!   (RSS_N - RSS_0) / N per socket.
//!
//! The server is the real `gennaker serve` binary (this package's, built by cargo with the
//! bench profile) as a child process on 127.0.0.1 with a fresh SQLite database, so its numbers
//! are its own. Watchers authenticate with an API token of the first admin. The events come from
//! `GENNAKER_BENCH_WATCHER_RUNS` (default 3) runs, one after the other, of a pipeline
//! `wait 1 s -> evaluateVariables -> wait 0 s -> evaluateVariables`, after a warm-up run nobody
//! watches. The client is one current-thread tokio runtime (at most one core, leaving the
//! server the other), one small task per socket (4 KiB read buffer) that only parses `seq`
//! and `ts`; its own CPU is printed too. Each socket is a file descriptor in both processes:
//! the open-files limit (`ulimit -n`) must exceed N, which `scripts/bench-watchers` raises to
//! the hard limit.
//! Run: `scripts/bench-watchers` (or `cargo bench -p server --bench watchers`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const ADMIN_PASSWORD: &str = "watchers bench admin password";
const APPLICATION: &str = "watched";
const PIPELINE: &str = "four-stages";
/// Sockets being opened at any one time.
const OPEN_AT_ONCE: usize = 64;
const IDLE_SECONDS: u64 = 10;

/// CPU seconds (user + system) of `/proc/<pid>`, `pid` being a number or `self`.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at its closing parenthesis.
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |index: usize| fields.get(index).and_then(|field| field.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the file, 12 and 13 after the name; 100 ticks/s.
    (ticks(11) + ticks(12)) / 100.0
}

/// Resident memory of `/proc/<pid>` in KB.
fn resident_kb(pid: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// This process's soft limit on open files.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn epoch_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_micros() as i64).unwrap_or_default()
}

fn percentile(sorted: &[u64], fraction: f64) -> f64 {
    sorted.get(((sorted.len().max(1) - 1) as f64 * fraction).round() as usize).map_or(0.0, |micros| *micros as f64 / 1e3)
}

/// `gennaker serve` as a child process, killed when dropped.
struct Gennaker {
    child: Child,
    pid: String,
    base: String,
    database: PathBuf,
    /// The last lines it printed, for errors.
    output: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Gennaker {
    fn start(dir: &Path) -> anyhow::Result<Self> {
        let database = dir.join("gennaker.db");
        let mut child = Command::new(env!("CARGO_BIN_EXE_gennaker"))
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--database-url"])
            .arg(format!("sqlite://{}", database.display()))
            .env("GENNAKER_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("GENNAKER_SECRET_KEY_FILE", dir.join("secret.key"))
            .env("GENNAKER_WORK_DIR", dir.join("work"))
            // The default log filter, as a server runs.
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let output = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (address, found) = std::sync::mpsc::channel();
        for (reader, address) in [
            (Box::new(child.stdout.take().expect("piped")) as Box<dyn std::io::Read + Send>, Some(address)),
            (Box::new(child.stderr.take().expect("piped")), None),
        ] {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(reader).lines().map_while(Result::ok) {
                    if let Some(sender) = &address {
                        let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                        if let Some(url) = event["fields"]["address"].as_str().or(event["address"].as_str()).filter(|a| a.starts_with("http")) {
                            let _ = sender.send(url.to_string());
                        }
                    }
                    let mut output = output.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    output.push(line);
                    if output.len() > 50 {
                        output.remove(0);
                    }
                }
            });
        }
        let pid = child.id().to_string();
        let mut server = Self { child, pid, base: String::new(), database, output };
        server.base = found.recv_timeout(Duration::from_secs(60)).map_err(|_| anyhow::anyhow!("gennaker did not say where it listens:\n{}", server.output()))?;
        Ok(server)
    }

    fn output(&self) -> String {
        self.output.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).join("\n")
    }
}

impl Drop for Gennaker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first admin's API token, as `Bearer ...`.
async fn token(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let session = client.post(format!("{base}/api/v1/session")).json(&json!({"username": "admin", "password": ADMIN_PASSWORD})).send().await?;
    anyhow::ensure!(session.status().is_success(), "signing in: {}", session.status());
    let cookie = session.headers()["set-cookie"].to_str()?.split(';').next().unwrap_or_default().to_string();
    let created: serde_json::Value = client
        .post(format!("{base}/api/v1/tokens"))
        .header("cookie", cookie)
        .header("origin", base)
        .json(&json!({"name": "watchers-bench"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(format!("Bearer {}", created["secret"].as_str().unwrap_or_default()))
}

/// Starts one run of the pipeline and waits until it has ended.
async fn run_once(client: &reqwest::Client, base: &str, auth: &str) -> anyhow::Result<()> {
    let started: serde_json::Value = client
        .post(format!("{base}/api/v1/applications/{APPLICATION}/pipelines/{PIPELINE}/executions"))
        .header("authorization", auth)
        .json(&json!({}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = started["id"].as_str().unwrap_or_default().to_string();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let execution: serde_json::Value =
            client.get(format!("{base}/api/v1/executions/{id}")).header("authorization", auth).send().await?.error_for_status()?.json().await?;
        match execution["status"].as_str().unwrap_or_default() {
            "SUCCEEDED" => return Ok(()),
            "TERMINAL" | "CANCELED" => anyhow::bail!("run {id} ended {}", execution["status"]),
            _ => anyhow::ensure!(Instant::now() < deadline, "run {id} not finished after 120 s"),
        }
    }
}

/// How many events the application's runs stored after `after`, and the last one's `seq`.
async fn stored_events(database: &SqlitePool, after: i64) -> anyhow::Result<(i64, i64)> {
    Ok(sqlx::query_as("SELECT COUNT(*), COALESCE(MAX(seq), $2) FROM execution_events WHERE application = $1 AND seq > $2")
        .bind(APPLICATION)
        .bind(after)
        .fetch_one(database)
        .await?)
}

/// Only what the latency needs: serde skips the execution without building it.
#[derive(Deserialize)]
struct Head {
    seq: i64,
    ts: i64,
}

#[derive(Default)]
struct Tally {
    received: AtomicU64,
    unexpected: AtomicU64,
    closed: AtomicU64,
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(url: &str, auth: &str, after: i64) -> anyhow::Result<Socket> {
    let mut request = url.into_client_request()?;
    request.headers_mut().insert("authorization", auth.parse()?);
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
    socket.send(Message::text(json!({"application": APPLICATION, "after": after}).to_string())).await?;
    Ok(socket)
}

/// Reads events until told to stop: (seq, latency in µs) of each.
async fn watch(mut socket: Socket, tally: Arc<Tally>, mut stop: tokio::sync::watch::Receiver<bool>) -> Vec<(i64, u64)> {
    let mut seen = Vec::new();
    let mut last = 0;
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => break,
            message = socket.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let received = epoch_micros();
                    match serde_json::from_str::<Head>(&text) {
                        Ok(head) if head.seq > last => {
                            last = head.seq;
                            seen.push((head.seq, (received - head.ts * 1000).max(0) as u64));
                            tally.received.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            tally.unexpected.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                Some(Ok(_)) => {}
                _ => {
                    tally.closed.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
    }
    let _ = socket.close(None).await;
    seen
}

async fn bench(watchers: usize, runs: usize) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("gennaker-bench-watchers-{}-{watchers}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let server = Gennaker::start(&dir)?;
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let auth = token(&client, &base).await?;
    client.post(format!("{base}/api/v1/applications")).header("authorization", &auth).json(&json!({"name": APPLICATION})).send().await?.error_for_status()?;
    let stages = json!([
        {"refId": "1", "type": "wait", "name": "Wait 1 s", "waitTime": 1},
        {"refId": "2", "type": "evaluateVariables", "name": "Evaluate", "variables": [], "requisiteStageRefIds": ["1"]},
        {"refId": "3", "type": "wait", "name": "Wait 0 s", "waitTime": 0, "requisiteStageRefIds": ["2"]},
        {"refId": "4", "type": "evaluateVariables", "name": "Evaluate again", "variables": [], "requisiteStageRefIds": ["3"]},
    ]);
    client
        .post(format!("{base}/api/v1/applications/{APPLICATION}/pipelines"))
        .header("authorization", &auth)
        .json(&json!({"name": PIPELINE, "limitConcurrent": false, "stages": stages}))
        .send()
        .await?
        .error_for_status()?;
    // A warm-up run nobody watches: first-use costs are not the sockets'.
    run_once(&client, &base, &auth).await?;
    let database = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::from_str(&format!("sqlite://{}?mode=ro", server.database.display()))?)
        .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, after) = stored_events(&database, 0).await?;
    let rss_empty = resident_kb(&server.pid);
    let cpu_before = cpu_seconds(&server.pid);
    let idle_started = Instant::now();
    tokio::time::sleep(Duration::from_secs(IDLE_SECONDS)).await;
    let idle_empty = (cpu_seconds(&server.pid) - cpu_before) / idle_started.elapsed().as_secs_f64() * 100.0;

    // N sockets, OPEN_AT_ONCE at a time.
    let url = format!("{}/api/v1/ws", base.replacen("http://", "ws://", 1));
    let tally = Arc::new(Tally::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let opening = Instant::now();
    let mut tasks = Vec::with_capacity(watchers);
    let mut refusals: Vec<String> = Vec::new();
    let mut attempts = futures_util::stream::iter(0..watchers).map(|_| open(&url, &auth, after)).buffer_unordered(OPEN_AT_ONCE);
    while let Some(opened) = attempts.next().await {
        match opened {
            Ok(socket) => tasks.push(tokio::spawn(watch(socket, tally.clone(), stopped.clone()))),
            Err(error) => refusals.push(error.to_string()),
        }
    }
    drop(attempts);
    let opened_in = opening.elapsed();
    let open = tasks.len();
    if open < watchers {
        println!(
            "{watchers} watchers: only {open} sockets opened, {} refused (first: {}); open-files limit {:?}; measuring with {open}",
            refusals.len(),
            refusals.first().map_or("", String::as_str),
            open_files_limit()
        );
    }
    anyhow::ensure!(open > 0, "no socket opened");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let rss_full = resident_kb(&server.pid);
    let cpu_before = cpu_seconds(&server.pid);
    let idle_started = Instant::now();
    tokio::time::sleep(Duration::from_secs(IDLE_SECONDS)).await;
    let idle_full = (cpu_seconds(&server.pid) - cpu_before) / idle_started.elapsed().as_secs_f64() * 100.0;
    anyhow::ensure!(tally.received.load(Ordering::Relaxed) == 0 && tally.closed.load(Ordering::Relaxed) == 0, "nothing happened yet, yet sockets received or closed");

    // The runs, then until every watcher has every event.
    let server_cpu = cpu_seconds(&server.pid);
    let client_cpu = cpu_seconds("self");
    let started = Instant::now();
    for _ in 0..runs {
        run_once(&client, &base, &auth).await?;
    }
    // Read again while waiting: an event committed after the run's status was seen counts too.
    let deadline = Instant::now() + Duration::from_secs(300);
    let (mut events, mut last_seq) = stored_events(&database, after).await?;
    while tally.received.load(Ordering::Relaxed) < events as u64 * open as u64 && tally.closed.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        (events, last_seq) = stored_events(&database, after).await?;
    }
    let expected = events as u64 * open as u64;
    let window = started.elapsed();
    let server_cpu = cpu_seconds(&server.pid) - server_cpu;
    let client_cpu = cpu_seconds("self") - client_cpu;
    let rss_after = resident_kb(&server.pid);

    let _ = stop.send(true);
    let mut latencies = Vec::with_capacity(expected as usize);
    let mut last_watcher: HashMap<i64, u64> = HashMap::new();
    let mut short = 0;
    for task in tasks {
        let seen = task.await?;
        if seen.len() < events as usize {
            short += 1;
        }
        for (seq, micros) in seen {
            latencies.push(micros);
            let slowest = last_watcher.entry(seq).or_default();
            *slowest = (*slowest).max(micros);
        }
    }
    latencies.sort_unstable();
    let mut slowest: Vec<u64> = last_watcher.into_values().collect();
    slowest.sort_unstable();
    let delivered = latencies.len();
    let unexpected = tally.unexpected.load(Ordering::Relaxed);
    let closed = tally.closed.load(Ordering::Relaxed);

    println!(
        "{open} watchers: {events} events (seq {}..={last_seq}, {runs} runs) x {open} = {delivered} of {expected} deliveries \
         ({short} watchers short, {closed} closed, {unexpected} unexpected messages); \
         commit->socket latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; last watcher per event p50 {:.1} ms, max {:.1} ms; \
         server CPU {:.2} s in {:.1} s = {:.1} us per delivery, {:.1} ms per event; idle server CPU {:.1}% of a core with 0 sockets, {:.1}% with {open}; \
         server RSS {:.1} MB with 0 sockets, {:.1} MB with {open} idle, {:.1} KB per idle socket ({:.1} MB after the runs); \
         sockets opened in {:.1} s; client CPU {:.2} s",
        after + 1,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        percentile(&slowest, 0.5),
        percentile(&slowest, 1.0),
        server_cpu,
        window.as_secs_f64(),
        server_cpu * 1e6 / delivered.max(1) as f64,
        server_cpu * 1e3 / events.max(1) as f64,
        idle_empty,
        idle_full,
        rss_empty / 1024.0,
        rss_full / 1024.0,
        (rss_full - rss_empty) / open as f64,
        rss_after / 1024.0,
        opened_in.as_secs_f64(),
        client_cpu,
    );
    database.close().await;
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let counts: Vec<usize> = std::env::var("GENNAKER_BENCH_WATCHERS")
        .ok()
        .map(|list| list.split(',').filter_map(|count| count.trim().replace('_', "").parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 5_000]);
    let runs: usize = std::env::var("GENNAKER_BENCH_WATCHER_RUNS").ok().and_then(|runs| runs.parse().ok()).unwrap_or(3);
    let limit = open_files_limit();
    println!(
        "pipeline: wait 1 s -> evaluateVariables -> wait 0 s -> evaluateVariables, {runs} runs one after the other; server: gennaker serve (child process, SQLite); open-files limit {}",
        limit.map_or("unknown".to_string(), |limit| limit.to_string())
    );
    for watchers in counts {
        bench(watchers, runs).await?;
    }
    Ok(())
}
