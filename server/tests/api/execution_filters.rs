//! `GET /api/v1/executions` filters on the server, over every run of an application: a run
//! older than the newest 50 is found by its parameter value, trigger type and start time
//! narrow the list as the runs themselves say they should, `before` pages through a listing
//! without overlap or gap, and a bad filter answers 400 naming its parameter.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::both_databases;
use crate::helpers::{Db, TestApp, assert_error, spawn_app};

both_databases!(filters_reach_past_the_newest_runs_and_pages_cover_them_all, bad_filters_answer_400_naming_the_parameter);

/// Runs of a pipeline without stages end as soon as they start; `limitConcurrent` off, so
/// none waits for another. Its webhook trigger (no secret: token callers only) gives runs of a
/// second trigger type.
async fn noop_pipeline(app: &TestApp, application: &str) {
    app.create_application(application).await;
    let pipeline = json!({"name": "noop", "limitConcurrent": false, "parameterConfig": [{"name": "target", "default": "none"}],
        "triggers": [{"type": "webhook", "source": format!("{application}-hook")}], "stages": []});
    let saved = app.post_json(&format!("/api/v1/applications/{application}/pipelines"), &pipeline).await;
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
}

async fn start(app: &TestApp, application: &str, target: &str) -> String {
    let path = format!("/api/v1/applications/{application}/pipelines/noop/executions");
    let started = app.post_json(&path, &json!({"parameters": {"target": target}})).await;
    assert_eq!(started.status(), 201);
    started.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

async fn list(app: &TestApp, query: &str) -> Vec<Value> {
    let response = app.get(&format!("/api/v1/executions?{query}")).await;
    assert_eq!(response.status(), 200, "{query}: {}", response.text().await.unwrap());
    response.json().await.unwrap()
}

fn ids(runs: &[Value]) -> Vec<String> {
    runs.iter().map(|run| run["id"].as_str().unwrap().to_string()).collect()
}

/// Every page of `query`, `limit` at a time, following `before`.
async fn every_page(app: &TestApp, query: &str, limit: u32) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let cursor = before.as_ref().map(|id| format!("&before={id}")).unwrap_or_default();
        let page = list(app, &format!("{query}&limit={limit}{cursor}")).await;
        assert!(pages.len() < 100, "paging never ends");
        if page.is_empty() {
            return pages;
        }
        before = Some(page.last().unwrap()["id"].as_str().unwrap().to_string());
        pages.push(page);
    }
}

/// The Pipelines tab of `fleet` as the server renders it.
async fn page(app: &TestApp, query: &str) -> String {
    let response = app.get(&format!("/applications/fleet/pipelines{query}")).await;
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

async fn filters_reach_past_the_newest_runs_and_pages_cover_them_all(db: Db) {
    let app = spawn_app(db).await;
    noop_pipeline(&app, "fleet").await;
    noop_pipeline(&app, "other").await;
    let needle = start(&app, "fleet", "Rare-Ünïcode-Needle").await;
    let hooked = app.post_json("/api/v1/webhooks/fleet-hook", &json!({"parameters": {"target": "from-the-hook"}})).await;
    assert_eq!(hooked.status(), 200);
    let hooked: Value = hooked.json().await.unwrap();
    let hooked = hooked["triggered"][0]["executionId"].as_str().expect("the webhook started a run").to_string();
    for i in 0..60 {
        start(&app, "fleet", &format!("common-{i:02}")).await;
    }
    start(&app, "other", "rare-ünïcode-needle").await;

    let all = list(&app, "application=fleet&limit=500").await;
    assert_eq!(all.len(), 62);
    let newest = list(&app, "application=fleet&limit=50").await;
    assert!(!ids(&newest).contains(&needle) && !ids(&newest).contains(&hooked), "both are older than the newest 50");

    // Parameter text: case-insensitive (Unicode too), any part of a value, not the name.
    for search in ["needle", "RARE-ÜNÏCODE", "%C3%BCn%C3%AFcode-n"] {
        assert_eq!(ids(&list(&app, &format!("application=fleet&search={search}")).await), [needle.clone()], "search={search}");
    }
    assert_eq!(list(&app, "search=needle&limit=500").await.len(), 2, "without an application, every readable one");
    assert!(list(&app, "application=fleet&search=target").await.is_empty(), "names are not searched");
    assert_eq!(list(&app, "application=fleet&search=common-4&limit=500").await.len(), 10);
    assert!(list(&app, "application=fleet&search=%25").await.is_empty(), "no LIKE wildcards");

    // Trigger type.
    assert_eq!(ids(&list(&app, "application=fleet&trigger=webhook").await), [hooked.clone()]);
    let manual = list(&app, "application=fleet&trigger=manual&limit=500").await;
    assert_eq!(manual.len(), 61);
    assert!(manual.iter().all(|run| run["trigger"]["type"] == "manual"));
    assert!(list(&app, "application=fleet&trigger=cron").await.is_empty());

    // Start time: at or after a run's buildTime, exactly the runs built since.
    let since = all[20]["buildTime"].as_i64().unwrap();
    let expected: Vec<String> = ids(&all).into_iter().zip(&all).filter(|(_, run)| run["buildTime"].as_i64().unwrap() >= since).map(|(id, _)| id).collect();
    assert!(expected.len() >= 21);
    assert_eq!(ids(&list(&app, &format!("application=fleet&startedAfter={since}&limit=500")).await), expected);
    assert!(list(&app, &format!("application=fleet&startedAfter={}", all[0]["buildTime"].as_i64().unwrap() + 1)).await.is_empty());

    // Filters together, and with statuses.
    let combined = list(&app, &format!("application=fleet&trigger=manual&search=needle&startedAfter={}&statuses=SUCCEEDED", since - 3_600_000)).await;
    assert_eq!(ids(&combined), [needle.clone()]);

    // Paging: the pages, in order, are the whole listing, each run once.
    let pages = every_page(&app, "application=fleet", 7).await;
    assert_eq!(pages.len(), 9);
    assert!(pages[..8].iter().all(|page| page.len() == 7));
    let paged: Vec<String> = pages.iter().flat_map(|page| ids(page)).collect();
    assert_eq!(paged, ids(&all), "no overlap, no gap, same order");
    assert_eq!(paged.iter().collect::<BTreeSet<_>>().len(), 62);
    // ...and through a filtered listing.
    let filtered = list(&app, "application=fleet&search=common&limit=500").await;
    assert_eq!(filtered.len(), 60);
    let paged: Vec<String> = every_page(&app, "application=fleet&search=common", 50).await.iter().flat_map(|page| ids(page)).collect();
    assert_eq!(paged, ids(&filtered));
    // The cursor may be a run the filter leaves out: paging resumes from its place.
    let after_hook = list(&app, &format!("application=fleet&trigger=manual&before={hooked}")).await;
    assert_eq!(ids(&after_hook), [needle.clone()]);

    // The Pipelines tab's Executions list asks the same of the server, from the address alone
    // (rendered on the server: no JavaScript needed).
    let found = page(&app, "?q=NEEDLE").await;
    assert!(found.contains("target=Rare-Ünïcode-Needle") && !found.contains("target=common-"), "{found}");
    let hooks = page(&app, "?trigger=webhook&since=week").await;
    assert!(hooks.contains("target=from-the-hook") && !hooks.contains("target=common-"), "{hooks}");
    let newest = page(&app, "").await;
    assert!(newest.contains("target=common-59") && !newest.contains("target=from-the-hook"));
    let older = newest.split(r#"rel="next">Older runs"#).next().unwrap().rsplit(r#"href=""#).next().unwrap().split('"').next().unwrap().replace("&amp;", "&");
    assert!(older.contains("before="), "{older}");
    let second = page(&app, older.trim_start_matches("/applications/fleet/pipelines")).await;
    assert!(second.contains("target=Rare-Ünïcode-Needle") && second.contains("target=from-the-hook") && !second.contains("target=common-59"), "{second}");
    assert!(second.contains("Newest runs") && !second.contains("Older runs"), "the last page");
}

async fn bad_filters_answer_400_naming_the_parameter(db: Db) {
    let app = spawn_app(db).await;
    noop_pipeline(&app, "fleet").await;
    start(&app, "fleet", "one").await;
    assert_error(app.get("/api/v1/executions?statuses=DONE").await, 400, "invalid", Some("statuses")).await;
    assert_error(app.get("/api/v1/executions?startedAfter=yesterday").await, 400, "invalid", Some("startedAfter")).await;
    assert_error(app.get("/api/v1/executions?startedAfter=99999999999999999999").await, 400, "invalid", Some("startedAfter")).await;
    assert_error(app.get("/api/v1/executions?limit=ten").await, 400, "invalid", Some("limit")).await;
    assert_error(app.get("/api/v1/executions?trigger=no%20such%20type!").await, 400, "invalid", Some("trigger")).await;
    assert_error(app.get("/api/v1/executions?search=a%00b").await, 400, "invalid", Some("search")).await;
    assert_error(app.get(&format!("/api/v1/executions?search={}", "x".repeat(201))).await, 400, "invalid", Some("search")).await;
    assert_error(app.get("/api/v1/executions?application=fleet&before=no-such-run").await, 400, "invalid", Some("before")).await;
    assert_error(app.get("/api/v1/executions?before=%00").await, 400, "invalid", Some("before")).await;
    assert_error(app.get("/api/v1/executions?started_after=1").await, 400, "invalid", Some("started_after")).await;
    // The OpenAPI document names them as the API takes them (schemathesis fuzzes from it).
    let document: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    let parameters: BTreeSet<&str> =
        document["paths"]["/api/v1/executions"]["get"]["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    let expected = ["application", "pipeline", "statuses", "trigger", "startedAfter", "search", "before", "limit"];
    assert_eq!(parameters, expected.into_iter().collect());
    // Empty filters are no filters.
    assert_eq!(list(&app, "application=fleet&trigger=&search=%20&before=").await.len(), 1);
}
