//! Secrets are write-only and encrypted at rest: a stored value never shows in API answers, the
//! audit log, the process's logs (at debug level), or the database in plain text.

use serde_json::{Value, json};
use sqlx::Connection;

use crate::binary::{sign_in, start_binary, stop_with_sigterm};
use crate::both_databases;
use crate::helpers::{Db, assert_error, fresh_database, spawn_app};

both_databases!(a_secret_value_never_leaves, secrets_are_validated_and_admin_only);

const VALUE: &str = "sUp3r-s3cr3t-VALUE-7f3a";
const NEW_VALUE: &str = "r0tated-s3cr3t-VALUE-91c2";

async fn a_secret_value_never_leaves(db: Db) {
    let database_url = fresh_database(db).await;
    let running = start_binary(&database_url, &[("RUST_LOG", "debug")]);
    let client = reqwest::Client::new();
    let cookie = sign_in(&client, &running.address, "admin").await;
    let call = |method: reqwest::Method, path: &str| {
        client.request(method, format!("{}{path}", running.address)).header("cookie", &cookie).header("origin", &running.address)
    };
    let mut answers = String::new();

    let created = call(reqwest::Method::POST, "/api/v1/secrets")
        .json(&json!({"name": "smtp-password", "value": VALUE, "description": "mail relay"}))
        .send().await.unwrap();
    assert_eq!(created.status(), 201);
    answers += &created.text().await.unwrap();
    let replaced = call(reqwest::Method::PUT, "/api/v1/secrets/smtp-password").json(&json!({"value": NEW_VALUE})).send().await.unwrap();
    assert_eq!(replaced.status(), 200);
    answers += &replaced.text().await.unwrap();
    let listed = call(reqwest::Method::GET, "/api/v1/secrets").send().await.unwrap().text().await.unwrap();
    let list: Vec<Value> = serde_json::from_str(&listed).unwrap();
    assert_eq!(list[0]["name"], "smtp-password");
    assert!(list[0].get("value").is_none());
    answers += &listed;
    answers += &call(reqwest::Method::GET, "/api/v1/audit").send().await.unwrap().text().await.unwrap();

    let running = stop_with_sigterm(running);
    let logs = running.output();
    assert!(logs.contains("POST") || logs.contains("secrets"), "debug logs were captured: {}", logs.len());
    for value in [VALUE, NEW_VALUE] {
        assert!(!answers.contains(value), "API answers leak the secret");
        assert!(!logs.contains(value), "logs leak the secret");
    }

    // At rest: the database holds ciphertext only.
    match db {
        Db::Sqlite => {
            let path = database_url.trim_start_matches("sqlite://");
            for file in [path.to_string(), format!("{path}-wal")] {
                if let Ok(bytes) = std::fs::read(&file) {
                    for value in [VALUE, NEW_VALUE] {
                        assert!(!bytes.windows(value.len()).any(|w| w == value.as_bytes()), "{file} holds the plain text");
                    }
                }
            }
        }
        Db::Postgres => {
            let mut connection = sqlx::PgConnection::connect(&database_url).await.unwrap();
            let dump: Vec<(String,)> = sqlx::query_as(
                "SELECT row_to_json(s)::text FROM secrets s UNION ALL SELECT row_to_json(a)::text FROM audit_log a",
            )
            .fetch_all(&mut connection)
            .await
            .unwrap();
            let dump: String = dump.into_iter().map(|(row,)| row).collect();
            assert!(dump.contains("smtp-password"));
            for value in [VALUE, NEW_VALUE] {
                assert!(!dump.contains(value), "the database holds the plain text");
            }
        }
    }
}

async fn secrets_are_validated_and_admin_only(db: Db) {
    let app = spawn_app(db).await;
    let no_value = app.post_json("/api/v1/secrets", &json!({"name": "x"})).await;
    assert_error(no_value, 400, "invalid", Some("value")).await;
    let bad_name = app.client.put(app.url("/api/v1/secrets/bad%20name")).json(&json!({"value": "v"})).send().await.unwrap();
    assert_error(bad_name, 400, "invalid", Some("name")).await;
    let mismatch = app.client.put(app.url("/api/v1/secrets/a")).json(&json!({"name": "b", "value": "v"})).send().await.unwrap();
    assert_error(mismatch, 400, "invalid", Some("name")).await;
    assert_error(app.delete("/api/v1/secrets/none").await, 404, "not_found", None).await;

    let developer = app.user_client("developer", &["dev"]).await;
    let denied = developer.post(app.url("/api/v1/secrets")).json(&json!({"name": "x", "value": "v"})).send().await.unwrap();
    assert_eq!(denied.status(), 403);
}
