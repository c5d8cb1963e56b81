//! Benchmark: how long a sign-in takes (argon2id verification plus the session write) and what
//! a bearer-token check adds to a request (digest plus one indexed read), in-process on SQLite
//! (or on PostgreSQL with `GENNAKER_BENCH_DATABASE_URL=postgres://...`).
//! Run: `scripts/bench-auth` (or `cargo bench -p server --bench auth`).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use app::model::auth::{Caller, NewApiToken, SignIn};
use app::ssr::AuthService;
use secrecy::SecretString;
use server::auth::bootstrap::ensure_admin;
use server::auth::service::{Auth, AuthConfig};
use server::config::DatabaseUrl;
use server::store::Store;

fn percentile(samples: &mut [Duration], fraction: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * fraction).round() as usize]
}

fn report(what: &str, samples: &mut [Duration]) {
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{what}: n={} mean={:.3} ms p50={:.3} ms p99={:.3} ms",
        samples.len(),
        mean.as_secs_f64() * 1e3,
        percentile(samples, 0.5).as_secs_f64() * 1e3,
        percentile(samples, 0.99).as_secs_f64() * 1e3,
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = match std::env::var("GENNAKER_BENCH_DATABASE_URL") {
        Ok(url) => url,
        Err(_) => {
            let dir = std::env::temp_dir().join(format!("gennaker-bench-auth-{}", std::process::id()));
            format!("sqlite://{}/bench.db", dir.display())
        }
    };
    let store = Store::open(&DatabaseUrl(url.clone())).await?;
    let password = "benchmark admin password";
    ensure_admin(&store, Some(&SecretString::from(password))).await?;
    let auth = Auth::new(store, AuthConfig { session_ttl: Duration::from_secs(3600), token_max_days: 365, secure_cookies: false });
    println!("database: {}", DatabaseUrl(url));

    let address: IpAddr = [127, 0, 0, 1].into();
    let mut sign_ins = Vec::new();
    for _ in 0..30 {
        let started = Instant::now();
        auth.sign_in(SignIn { username: "admin".into(), password: password.into() }, address).await?;
        sign_ins.push(started.elapsed());
    }
    report("sign-in (argon2id verify + session insert)", &mut sign_ins);

    let admin = Caller::system();
    let admin = Caller { name: "admin".into(), ..admin };
    let token = auth.create_token(&admin, NewApiToken { name: "bench".into(), expires_in_days: None }).await?.secret;
    let mut checks = Vec::new();
    for _ in 0..5000 {
        let started = Instant::now();
        let caller = auth.token_caller(&token).await?;
        checks.push(started.elapsed());
        assert!(caller.is_some());
    }
    report("token check (SHA-256 + indexed read)", &mut checks);
    Ok(())
}
