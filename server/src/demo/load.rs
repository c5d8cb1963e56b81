//! Steady traffic for the demo's load balancer (`--demo-load`), so the canary demo's judge has
//! requests to compare without anyone running a curl loop: `scripts/run` turns it on.
//!
//! Plain HTTP/1.1 `GET /` over a TCP socket to `127.0.0.1:<demo port>`: the target is the local
//! cloud's own balancer on this machine, not an outbound call to someone else's service, so it
//! does not go through the allow-listed outbound client (which refuses loopback addresses).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};

/// How many requests may be in flight at once (a slow or stopped balancer does not pile up
/// connections).
const IN_FLIGHT: usize = 16;
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// The most of an answer read (the demo app's answers are a few hundred bytes).
const MAX_ANSWER: u64 = 64 * 1024;

/// What the generator has seen, for its log line and tests.
#[derive(Debug, Default)]
pub struct Counts {
    pub sent: AtomicU64,
    /// Answered with a 2xx status.
    pub succeeded: AtomicU64,
    /// Answered with another status, refused, or timed out.
    pub failed: AtomicU64,
}

/// Sends `per_second` requests a second to `127.0.0.1:port` until `stopped` changes.
pub async fn run(port: u16, per_second: u32, mut stopped: watch::Receiver<()>, counts: Arc<Counts>) {
    if per_second == 0 {
        return;
    }
    tracing::info!(port, per_second, "demo load: sending steady traffic to the demo balancer");
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / per_second);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            _ = ticks.tick() => {}
        }
        let Ok(slot) = slots.clone().try_acquire_owned() else { continue };
        let counts = counts.clone();
        tokio::spawn(async move {
            counts.sent.fetch_add(1, Ordering::Relaxed);
            let ok = tokio::time::timeout(REQUEST_TIMEOUT, request(port)).await.is_ok_and(|status| status.is_some_and(|code| (200..300).contains(&code)));
            let counter = if ok { &counts.succeeded } else { &counts.failed };
            counter.fetch_add(1, Ordering::Relaxed);
            drop(slot);
        });
    }
}

/// One request; the answer's status code, if one came.
async fn request(port: u16) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    stream.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: gennaker-demo-load\r\nConnection: close\r\n\r\n").await.ok()?;
    let mut answer = Vec::new();
    stream.take(MAX_ANSWER).read_to_end(&mut answer).await.ok()?;
    status_code(&answer)
}

/// The status code of an HTTP/1.x answer's first line.
fn status_code(answer: &[u8]) -> Option<u16> {
    let line = answer.split(|byte| *byte == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    parts.next().filter(|version| version.starts_with("HTTP/1."))?;
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_status_line() {
        assert_eq!(status_code(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"), Some(200));
        assert_eq!(status_code(b"HTTP/1.0 503 Service Unavailable\r\n\r\n"), Some(503));
        assert_eq!(status_code(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(status_code(b""), None);
    }

    #[tokio::test]
    async fn sends_steady_traffic_and_counts_the_answers() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let served = Arc::new(AtomicU64::new(0));
        let server_count = served.clone();
        tokio::spawn(async move {
            let mut answered = 0u64;
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                answered += 1;
                // Every third request fails, as a bad canary would.
                let status = if answered % 3 == 0 { "500 Internal Server Error" } else { "200 OK" };
                server_count.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let mut request = [0u8; 1024];
                    let _ = socket.read(&mut request).await;
                    let _ = socket.write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes()).await;
                });
            }
        });
        let counts = Arc::new(Counts::default());
        let (stop, stopped) = watch::channel(());
        let generator = tokio::spawn(run(port, 50, stopped, counts.clone()));
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        drop(stop);
        generator.await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (sent, succeeded, failed) = (counts.sent.load(Ordering::Relaxed), counts.succeeded.load(Ordering::Relaxed), counts.failed.load(Ordering::Relaxed));
        // At most the rate asked for (a busy test machine may skip ticks, never add them).
        assert!((10..=55).contains(&sent), "up to 50 requests in a second, got {sent}");
        assert_eq!(succeeded + failed, sent, "every request was counted once");
        assert!(failed >= sent / 4 && succeeded >= sent / 2, "{succeeded} succeeded, {failed} failed of {sent}");
        assert_eq!(served.load(Ordering::Relaxed), sent, "each request reached the server");
    }
}
