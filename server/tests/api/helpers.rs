//! `spawn_app`: the real application on a free port of 127.0.0.1 with a fresh database (a new
//! SQLite file, or a new database on the local PostgreSQL), and typed helpers to call it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use server::config::ServeConfig;
use server::startup::Server;
use sqlx::Connection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Runs a test body once per database: `both_databases!(name)` makes `name::sqlite` and
/// `name::postgres` from `async fn name(db: Db)`.
#[macro_export]
macro_rules! both_databases {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[tokio::test]
            async fn sqlite() { super::$test($crate::helpers::Db::Sqlite).await }
            #[tokio::test]
            async fn postgres() { super::$test($crate::helpers::Db::Postgres).await }
        }
    )*};
}

static NEXT: AtomicU32 = AtomicU32::new(0);

fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{}_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed), nanos)
}

/// A fresh, empty database URL.
pub async fn fresh_database(db: Db) -> String {
    match db {
        Db::Sqlite => {
            let dir = std::env::temp_dir().join(format!("gennaker-test-{}", unique_suffix()));
            std::fs::create_dir_all(&dir).unwrap();
            format!("sqlite://{}", dir.join("gennaker.db").display())
        }
        Db::Postgres => {
            let admin_url = std::env::var("GENNAKER_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
            let name = format!("gennaker_test_{}", unique_suffix());
            let mut admin = sqlx::PgConnection::connect(&admin_url)
                .await
                .expect("PostgreSQL must run on 127.0.0.1:5432 (scripts/postgres starts it)");
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
            let (base, _) = admin_url.rsplit_once('/').unwrap();
            format!("{base}/{name}")
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub database_url: String,
    pub client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

pub async fn spawn_app(db: Db) -> TestApp {
    let database_url = fresh_database(db).await;
    spawn_app_on(&database_url).await
}

pub async fn spawn_app_on(database_url: &str) -> TestApp {
    server::telemetry::init(server::config::LogFormat::Human);
    let config = ServeConfig::for_tests(database_url);
    let server = Server::build(&config).await.expect("the application builds");
    let address = format!("http://{}", server.local_addr());
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    TestApp { address, database_url: database_url.to_string(), client, shutdown: Some(shutdown) }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client.post(self.url(path)).json(body).send().await.unwrap()
    }

    pub async fn patch_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client.patch(self.url(path)).json(body).send().await.unwrap()
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.client.delete(self.url(path)).send().await.unwrap()
    }

    pub async fn create_application(&self, name: &str) -> serde_json::Value {
        let response = self.post_json("/api/v1/applications", &serde_json::json!({"name": name})).await;
        assert_eq!(response.status(), 201, "creating {name}");
        response.json().await.unwrap()
    }
}

/// Asserts the error shape `{"error":{"code","message","field"}}` and returns the body.
pub async fn assert_error(response: reqwest::Response, status: u16, code: &str, field: Option<&str>) -> serde_json::Value {
    assert_eq!(response.status(), status);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    match field {
        Some(field) => assert_eq!(body["error"]["field"], field, "{body}"),
        None => assert!(body["error"].get("field").is_none(), "{body}"),
    }
    body
}

/// The `gennaker` binary cargo built for these tests.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gennaker"))
}
