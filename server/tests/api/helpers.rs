//! `spawn_app`: the real application on a free port of 127.0.0.1 with a fresh database (a new
//! SQLite file, or a new database on the local PostgreSQL), and typed helpers to call it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use server::config::{ServeConfig, TEST_ADMIN_PASSWORD};
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

/// A port nobody listens on right now, for a balancer or a peer a test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
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
    /// Sends the admin's API token with every request.
    pub client: reqwest::Client,
    /// Sends no credentials.
    pub anonymous: reqwest::Client,
    pub admin_token: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// A client whose every request carries `Authorization: Bearer <token>`.
pub fn client_with_token(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
    reqwest::Client::builder().default_headers(headers).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

pub async fn spawn_app(db: Db) -> TestApp {
    let database_url = fresh_database(db).await;
    spawn_app_on(&database_url).await
}

pub async fn spawn_app_on(database_url: &str) -> TestApp {
    spawn_configured(database_url, |_| {}).await
}

/// A fresh app with its configuration changed first (SMTP settings, say).
pub async fn spawn_app_with(db: Db, configure: impl FnOnce(&mut ServeConfig)) -> TestApp {
    let database_url = fresh_database(db).await;
    spawn_configured(&database_url, configure).await
}

async fn spawn_configured(database_url: &str, configure: impl FnOnce(&mut ServeConfig)) -> TestApp {
    // Logs go through the test harness, so they show only for failing tests.
    let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("info,sqlx=warn").try_init();
    let mut config = ServeConfig::for_tests(database_url);
    configure(&mut config);
    // The site built by scripts/build (LEPTOS_SITE_ROOT, exported by the scripts), else where
    // it lands in the conventional target dir.
    config.site_root = Some(std::env::var_os("LEPTOS_SITE_ROOT").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site"),
        std::path::PathBuf::from,
    ));
    let server = Server::build(&config).await.expect("the application builds");
    let address = format!("http://{}", server.local_addr());
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));
    let anonymous = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut app = TestApp {
        address,
        client: anonymous.clone(),
        anonymous,
        admin_token: String::new(),
        shutdown: Some(shutdown),
    };
    app.admin_token = app.token_for("admin", TEST_ADMIN_PASSWORD).await;
    app.client = client_with_token(&app.admin_token);
    app
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

    /// Signs in and returns the session cookie (`gennaker_session=...`).
    pub async fn sign_in(&self, username: &str, password: &str) -> String {
        let response = self
            .anonymous
            .post(self.url("/api/v1/session"))
            .json(&serde_json::json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "signing in as {username}");
        let cookie = response.headers()[reqwest::header::SET_COOKIE].to_str().unwrap().to_string();
        cookie.split(';').next().unwrap().to_string()
    }

    /// A same-origin request carrying a session cookie, as a browser would send it.
    pub fn with_cookie(&self, request: reqwest::RequestBuilder, cookie: &str) -> reqwest::RequestBuilder {
        request.header(reqwest::header::COOKIE, cookie).header(reqwest::header::ORIGIN, &self.address)
    }

    /// Signs in as `username` and creates an API token for them.
    pub async fn token_for(&self, username: &str, password: &str) -> String {
        let cookie = self.sign_in(username, password).await;
        let response = self
            .with_cookie(self.anonymous.post(self.url("/api/v1/tokens")), &cookie)
            .json(&serde_json::json!({"name": "tests"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let created: serde_json::Value = response.json().await.unwrap();
        created["secret"].as_str().unwrap().to_string()
    }

    /// Creates a user (as admin; password `<name> password long enough`) and returns a token.
    pub async fn token_for_new_user(&self, name: &str, roles: &[&str]) -> String {
        let password = format!("{name} password long enough");
        let response = self
            .post_json("/api/v1/users", &serde_json::json!({"name": name, "password": password, "roles": roles}))
            .await;
        assert_eq!(response.status(), 201, "creating user {name}");
        self.token_for(name, &password).await
    }

    /// Creates a user (as admin) and returns a client authenticated as them.
    pub async fn user_client(&self, name: &str, roles: &[&str]) -> reqwest::Client {
        client_with_token(&self.token_for_new_user(name, roles).await)
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

/// An outbound client that may call the tests' receivers on 127.0.0.1 (refused by default).
pub fn loopback_outbound() -> server::outbound::Outbound {
    server::outbound::Outbound::new(&["http://127.0.0.1".to_string()], 4 << 20, std::time::Duration::from_secs(10)).unwrap()
}

/// The execution `id` once it has ended (SUCCEEDED, TERMINAL or CANCELED), read as `client`;
/// fails the test after `seconds`.
pub async fn finished_as(app: &TestApp, client: &reqwest::Client, id: &str, seconds: u64) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        let execution: serde_json::Value = client.get(app.url(&format!("/api/v1/executions/{id}"))).send().await.unwrap().json().await.unwrap();
        if ["SUCCEEDED", "TERMINAL", "CANCELED"].contains(&execution["status"].as_str().unwrap_or_default()) {
            return execution;
        }
        assert!(std::time::Instant::now() < deadline, "the run did not end: {execution}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The execution `id` once it has ended, read as the admin (30 s at most).
pub async fn finished(app: &TestApp, id: &str) -> serde_json::Value {
    finished_as(app, &app.client, id, 30).await
}
