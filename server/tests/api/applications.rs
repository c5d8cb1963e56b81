//! Applications over REST, and the pages that show them.

use serde_json::{Value, json};

use crate::both_databases;
use crate::helpers::{Db, assert_error, spawn_app};

both_databases!(
    search_and_overview_answer_over_rest_as_the_caller_may_read,
    create_list_read_update_delete,
    invalid_input_is_rejected_with_the_field,
    duplicates_conflict_case_insensitively,
    pages_are_server_rendered,
);

async fn create_list_read_update_delete(db: Db) {
    let app = spawn_app(db).await;
    let created = app
        .post_json("/api/v1/applications", &json!({"name": "Shop", "description": "the shop", "email": "team@example.com"}))
        .await;
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.unwrap();
    assert_eq!(created["name"], "shop");
    assert_eq!(created["email"], "team@example.com");
    assert!(created["createTs"].as_i64().unwrap() > 0);
    app.create_application("api").await;

    let list: Vec<serde_json::Value> = app.get("/api/v1/applications").await.json().await.unwrap();
    let names: Vec<&str> = list.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["api", "shop"]);

    let read: serde_json::Value = app.get("/api/v1/applications/SHOP").await.json().await.unwrap();
    assert_eq!(read, created);

    let patched = app.patch_json("/api/v1/applications/shop", &json!({"description": "new words"})).await;
    assert_eq!(patched.status(), 200);
    let patched: serde_json::Value = patched.json().await.unwrap();
    assert_eq!(patched["description"], "new words");
    assert_eq!(patched["email"], "team@example.com", "fields left out stay");

    assert_eq!(app.delete("/api/v1/applications/shop").await.status(), 204);
    assert_error(app.get("/api/v1/applications/shop").await, 404, "not_found", None).await;
    assert_error(app.delete("/api/v1/applications/shop").await, 404, "not_found", None).await;
    let list: Vec<serde_json::Value> = app.get("/api/v1/applications").await.json().await.unwrap();
    assert_eq!(list.len(), 1);
}

async fn invalid_input_is_rejected_with_the_field(db: Db) {
    let app = spawn_app(db).await;
    let post = |body: serde_json::Value| {
        let app = &app;
        async move { app.post_json("/api/v1/applications", &body).await }
    };
    assert_error(post(json!({"name": "bad name!"})).await, 400, "invalid", Some("name")).await;
    assert_error(post(json!({"name": ""})).await, 400, "invalid", Some("name")).await;
    assert_error(post(json!({"name": "ok", "owner": "x"})).await, 400, "invalid", Some("owner")).await;
    assert_error(post(json!({"description": "no name"})).await, 400, "invalid", Some("name")).await;
    assert_error(post(json!({"name": "ok", "email": "nobody"})).await, 400, "invalid", Some("email")).await;
    assert_error(post(json!({"name": 5})).await, 400, "invalid", Some("name")).await;

    let not_json = app.client.post(app.url("/api/v1/applications")).body("name=x").send().await.unwrap();
    assert_error(not_json, 400, "invalid", None).await;
    let broken = app
        .client
        .post(app.url("/api/v1/applications"))
        .header("content-type", "application/json")
        .body("{\"name\":")
        .send()
        .await
        .unwrap();
    assert_error(broken, 400, "invalid", None).await;

    app.create_application("shop").await;
    let patch = app.patch_json("/api/v1/applications/shop", &json!({"name": "other"})).await;
    assert_error(patch, 400, "invalid", Some("name")).await;
    let patch = app.patch_json("/api/v1/applications/shop", &json!({"email": "x"})).await;
    assert_error(patch, 400, "invalid", Some("email")).await;
    assert_error(app.get("/api/v1/nothing-here").await, 404, "not_found", None).await;

    // Nothing stored was touched by the rejected requests.
    let list: Vec<serde_json::Value> = app.get("/api/v1/applications").await.json().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["email"], "");
}

async fn duplicates_conflict_case_insensitively(db: Db) {
    let app = spawn_app(db).await;
    app.create_application("shop").await;
    let again = app.post_json("/api/v1/applications", &json!({"name": "SHOP"})).await;
    assert_error(again, 409, "conflict", Some("name")).await;
}

async fn pages_are_server_rendered(db: Db) {
    let app = spawn_app(db).await;
    app.post_json("/api/v1/applications", &json!({"name": "shop", "description": "Sells things"})).await;

    let home = app.get("/").await;
    assert_eq!(home.status(), 200);
    let html = home.text().await.unwrap();
    assert!(html.contains("<h1>Applications</h1>"), "{html}");
    assert!(html.contains(r#"href="/applications/shop""#), "the list is rendered on the server: {html}");
    assert!(html.contains("/pkg/gennaker.js"), "hydration scripts are included");
    let bundle = app.get("/pkg/gennaker.js").await;
    assert_eq!(bundle.headers().get("cache-control").map(|v| v.to_str().unwrap()), Some("no-cache"), "the bundle is revalidated on every use");

    let page = app.get("/applications/shop").await.text().await.unwrap();
    assert!(page.contains("Sells things"), "{page}");

    let missing = app.get("/no/such/page").await;
    assert_eq!(missing.status(), 404);
}

/// The search box and the Overview tab are services REST answers too, each only with what
/// the caller may read.
async fn search_and_overview_answer_over_rest_as_the_caller_may_read(db: Db) {
    let app = spawn_app(db).await;
    for name in ["findable", "hidden"] {
        app.create_application(name).await;
    }
    let guard = json!({"READ": ["ops"], "WRITE": ["ops"], "EXECUTE": ["ops"]});
    let response = app.client.put(app.url("/api/v1/applications/hidden/permissions")).json(&guard).send().await.unwrap();
    assert_eq!(response.status(), 200);

    let found: Value = app.get("/api/v1/search?q=DAB").await.json().await.unwrap();
    assert_eq!(found["applications"], json!(["findable"]), "case-insensitive: {found}");
    assert_eq!(found["serverGroups"], json!([]));
    let everything: Value = app.get("/api/v1/search?q=i").await.json().await.unwrap();
    assert_eq!(everything["applications"], json!(["findable", "hidden"]), "an admin reads both");
    let outsider = app.user_client("outsider", &[]).await;
    let limited: Value = outsider.get(app.url("/api/v1/search?q=i")).send().await.unwrap().json().await.unwrap();
    assert_eq!(limited["applications"], json!(["findable"]), "the guarded application stays hidden");
    assert_error(app.get("/api/v1/search").await, 400, "invalid", Some("q")).await;

    let overview: Value = app.get("/api/v1/applications/findable/overview").await.json().await.unwrap();
    assert_eq!(overview["executions"], json!([]));
    assert_eq!(overview["runningTasks"], json!([]));
    assert!(overview["clusters"].is_array() && overview["seq"].is_i64(), "{overview}");
    let refused = outsider.get(app.url("/api/v1/applications/hidden/overview")).send().await.unwrap();
    assert_error(refused, 403, "forbidden", None).await;
}
