//! Canary configurations over REST (`/api/v1`) and Gate's `/v2/canaryConfig` routes: saved with
//! a revision per save and their history, checked field by field, shared by the applications
//! they name (READ on one reads, WRITE on all changes), and round-tripped in Kayenta's shape in
//! the order `spin canary canary-config save` makes its calls (get 404 → create; get → update).

use serde_json::{Value, json};

use crate::both_databases;
use crate::helpers::{Db, TestApp, assert_error, spawn_app};

both_databases!(
    configs_are_saved_listed_versioned_and_deleted,
    invalid_configs_are_refused_naming_the_field,
    configs_reach_only_callers_with_permission_on_their_applications,
    gate_routes_round_trip_a_kayenta_config,
);

/// What Deck's canary config editor saves for a Prometheus account: two groups weighted 70/30,
/// one metric written as a whole PromQL query, one by metric name narrowed by a filter template;
/// fields gennaker does not keep (`judge`, `configVersion`, `serviceType`) included.
fn kayenta_config() -> Value {
    json!({
        "name": "shop-golden-signals",
        "description": "The shop's errors and latency, canary against baseline",
        "configVersion": "1",
        "applications": ["shop"],
        "judge": {"name": "NetflixACAJudge-v1.0", "judgeConfigurations": {}},
        "metrics": [
            {
                "name": "error-ratio",
                "groups": ["Errors"],
                "scopeName": "default",
                "query": {
                    "type": "prometheus",
                    "serviceType": "prometheus",
                    "customInlineTemplate": "PromQL:sum(rate(http_requests_total{app=\"shop\",version=\"${scope}\",status=~\"5..\"}[2m])) / sum(rate(http_requests_total{app=\"shop\",version=\"${scope}\"}[2m]))"
                },
                "analysisConfigurations": {"canary": {"direction": "increase", "critical": true, "nanStrategy": "replace", "effectSize": {"allowedIncrease": 1.1}}}
            },
            {
                "name": "request-latency",
                "groups": ["Latency"],
                "scopeName": "default",
                "query": {
                    "type": "prometheus",
                    "serviceType": "prometheus",
                    "metricName": "http_request_duration_seconds_sum",
                    "customFilterTemplate": "shop-version",
                    "labelBindings": [],
                    "groupByFields": []
                },
                "analysisConfigurations": {"canary": {"direction": "increase", "outliers": {"strategy": "remove", "outlierFactor": 3.0}}}
            }
        ],
        "templates": {"shop-version": "app=\"shop\",version=\"${scope}\""},
        "classifier": {"groupWeights": {"Errors": 70, "Latency": 30}, "scoreThresholds": {"pass": 95, "marginal": 75}}
    })
}

/// A small valid config named `name` (of the application it is saved under).
fn small_config(name: &str) -> Value {
    json!({"name": name, "metrics": [{"name": "up", "query": {"type": "prometheus", "metricName": "up"}}]})
}

async fn put_json(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.client.put(app.url(path)).json(body).send().await.unwrap()
}

async fn grant(app: &TestApp, application: &str, permissions: Value) {
    let response = put_json(app, &format!("/api/v1/applications/{application}/permissions"), &permissions).await;
    assert_eq!(response.status(), 200, "permissions of {application}");
}

async fn configs_are_saved_listed_versioned_and_deleted(db: Db) {
    let app = spawn_app(db).await;
    app.create_application("shop").await;
    app.create_application("payments").await;

    // Without applications the path's application is the config's; without an id one is made.
    let mut body = kayenta_config();
    body.as_object_mut().unwrap().remove("applications");
    let created = app.post_json("/api/v1/applications/shop/canaryConfigs", &body).await;
    assert_eq!(created.status(), 200);
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(created["applications"], json!(["shop"]));
    assert_eq!((created["revision"].as_i64(), created["lastModifiedBy"].as_str()), (Some(1), Some("admin")));
    assert!(created["updatedTimestamp"].as_i64().unwrap() > 0);
    assert!(created["updatedTimestampIso"].as_str().unwrap().ends_with('Z'), "{created}");
    assert_eq!(created["classifier"]["groupWeights"], json!({"Errors": 70.0, "Latency": 30.0}));
    assert_eq!(created["metrics"][0]["analysisConfigurations"]["canary"]["direction"], "increase");

    let duplicate = app.post_json("/api/v1/applications/shop/canaryConfigs", &body).await;
    assert_error(duplicate, 409, "conflict", Some("name")).await;

    // A caller's id; the path's application joins those the body names.
    let mut shared = small_config("payments-latency");
    shared["id"] = json!("my-config");
    shared["applications"] = json!(["Payments"]);
    let shared: Value = app.post_json("/api/v1/applications/shop/canaryConfigs", &shared).await.json().await.unwrap();
    assert_eq!((shared["id"].as_str(), &shared["applications"]), (Some("my-config"), &json!(["payments", "shop"])));

    let of_shop: Vec<Value> = app.get("/api/v1/applications/shop/canaryConfigs").await.json().await.unwrap();
    assert_eq!(of_shop.iter().map(|c| c["name"].as_str().unwrap()).collect::<Vec<_>>(), ["payments-latency", "shop-golden-signals"]);
    let of_payments: Vec<Value> = app.get("/api/v1/applications/payments/canaryConfigs").await.json().await.unwrap();
    assert_eq!(of_payments.len(), 1);
    let read: Value = app.get(&format!("/api/v1/canaryConfigs/{id}")).await.json().await.unwrap();
    assert_eq!(read, created);

    // Each save is a revision; one based on an old revision is refused.
    let mut edited = read.clone();
    edited["description"] = json!("edited");
    edited["classifier"]["groupWeights"] = json!({"Errors": 60, "Latency": 40});
    let second = put_json(&app, &format!("/api/v1/canaryConfigs/{id}"), &edited).await;
    assert_eq!(second.status(), 200);
    let second: Value = second.json().await.unwrap();
    assert_eq!((second["revision"].as_i64(), second["description"].as_str()), (Some(2), Some("edited")));
    let stale = put_json(&app, &format!("/api/v1/canaryConfigs/{id}"), &edited).await;
    assert_error(stale, 409, "conflict", Some("revision")).await;
    let mut other_id = second.clone();
    other_id["id"] = json!("my-config");
    let mismatch = put_json(&app, &format!("/api/v1/canaryConfigs/{id}"), &other_id).await;
    assert_error(mismatch, 400, "invalid", Some("id")).await;
    // Posting what was read is a new revision of it too.
    let third: Value = app.post_json("/api/v1/applications/shop/canaryConfigs", &second).await.json().await.unwrap();
    assert_eq!((third["id"].as_str(), third["revision"].as_i64()), (Some(id.as_str()), Some(3)));

    let history: Vec<Value> = app.get(&format!("/api/v1/canaryConfigs/{id}/history")).await.json().await.unwrap();
    assert_eq!(history.iter().map(|r| r["revision"].as_i64().unwrap()).collect::<Vec<_>>(), [3, 2, 1]);
    assert_eq!((history[1]["description"].as_str(), history[2]["description"].as_str()), (Some("edited"), Some(body["description"].as_str().unwrap())));
    assert_eq!(history[2]["classifier"]["groupWeights"]["Errors"], 70.0);
    assert!(history.iter().all(|r| r["id"] == id.as_str() && r["lastModifiedBy"] == "admin"), "{history:?}");

    // An application deleted leaves the configs it shared, and takes those it owned.
    assert_eq!(app.delete("/api/v1/applications/shop").await.status(), 204);
    let left: Value = app.get("/api/v1/canaryConfigs/my-config").await.json().await.unwrap();
    assert_eq!(left["applications"], json!(["payments"]));
    assert_error(app.get(&format!("/api/v1/canaryConfigs/{id}")).await, 404, "not_found", None).await;

    assert_eq!(app.delete("/api/v1/canaryConfigs/my-config").await.status(), 204);
    assert_error(app.get("/api/v1/canaryConfigs/my-config").await, 404, "not_found", None).await;
    assert_error(app.get("/api/v1/canaryConfigs/my-config/history").await, 404, "not_found", None).await;
    assert_error(app.delete("/api/v1/canaryConfigs/my-config").await, 404, "not_found", None).await;
    assert_error(put_json(&app, "/api/v1/canaryConfigs/my-config", &small_config("x")).await, 404, "not_found", None).await;
    let of_payments: Vec<Value> = app.get("/api/v1/applications/payments/canaryConfigs").await.json().await.unwrap();
    assert!(of_payments.is_empty(), "{of_payments:?}");
}

async fn invalid_configs_are_refused_naming_the_field(db: Db) {
    let app = spawn_app(db).await;
    app.create_application("shop").await;
    let save = "/api/v1/applications/shop/canaryConfigs";
    let broken = |change: &dyn Fn(&mut Value)| {
        let mut config = kayenta_config();
        change(&mut config);
        config
    };
    let cases: Vec<(&str, Value)> = vec![
        ("name", broken(&|c| c["name"] = json!(""))),
        ("name", broken(&|c| c["name"] = json!("spaces are not Kayenta's"))),
        ("name", broken(&|c| drop(c.as_object_mut().unwrap().remove("name")))),
        ("id", broken(&|c| c["id"] = json!("a/b"))),
        ("applications[0]", broken(&|c| c["applications"] = json!(["nowhere"]))),
        ("metrics", broken(&|c| c["metrics"] = json!([]))),
        ("metrics[1].name", broken(&|c| c["metrics"][1]["name"] = json!("error-ratio"))),
        ("metrics[0].query.type", broken(&|c| c["metrics"][0]["query"]["type"] = json!("datadog"))),
        ("metrics[1].query.customFilterTemplate", broken(&|c| c["metrics"][1]["query"]["customFilterTemplate"] = json!("missing"))),
        ("metrics[1].query.metricName", broken(&|c| c["metrics"][1]["query"]["metricName"] = json!(""))),
        ("metrics[0].analysisConfigurations.canary.direction", broken(&|c| c["metrics"][0]["analysisConfigurations"]["canary"]["direction"] = json!("sideways"))),
        ("classifier.groupWeights", broken(&|c| c["classifier"]["groupWeights"] = json!({"Errors": 70, "Latency": 20}))),
        ("classifier.groupWeights", broken(&|c| c["classifier"]["groupWeights"] = json!({"Errors": 100}))),
        ("classifier.groupWeights.Errors", broken(&|c| c["classifier"]["groupWeights"] = json!({"Errors": -30, "Latency": 130}))),
        ("classifier.scoreThresholds", broken(&|c| c["classifier"]["scoreThresholds"] = json!({"pass": 50, "marginal": 75}))),
        ("config", json!(["not", "an", "object"])),
    ];
    for (field, config) in cases {
        let response = app.post_json(save, &config).await;
        let body = assert_error(response, 400, "invalid", Some(field)).await;
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    // Jackson's loose values read as Kayenta reads them.
    let loose = broken(&|c| c["classifier"]["groupWeights"] = json!({"Errors": "70", "Latency": "30"}));
    assert_eq!(app.post_json(save, &loose).await.status(), 200);
    let stored: Vec<Value> = app.get(save).await.json().await.unwrap();
    assert_eq!(stored.len(), 1, "only the valid one is stored");
    // Gate's create names no application in its path: the config must.
    let unowned = broken(&|c| drop(c.as_object_mut().unwrap().remove("applications")));
    assert_error(app.post_json("/gate/v2/canaryConfig", &unowned).await, 400, "invalid", Some("applications")).await;
}

async fn configs_reach_only_callers_with_permission_on_their_applications(db: Db) {
    let app = spawn_app(db).await;
    app.create_application("guarded").await;
    app.create_application("mine").await;
    grant(&app, "guarded", json!({"READ": ["viewers", "ops"], "WRITE": ["ops"]})).await;
    grant(&app, "mine", json!({"READ": ["devs"], "WRITE": ["devs"]})).await;
    let mut guarded = small_config("guarded-canary");
    guarded["id"] = json!("guarded-canary");
    assert_eq!(app.post_json("/api/v1/applications/guarded/canaryConfigs", &guarded).await.status(), 200);
    let nobody = app.user_client("nobody", &[]).await;
    let viewer = app.user_client("viewer", &["viewers"]).await;
    let dev = app.user_client("dev", &["devs"]).await;
    let url = |path: &str| app.url(path);
    let config_url = url("/api/v1/canaryConfigs/guarded-canary");

    // A user without roles: nothing of guarded's, by any route.
    let refusals = [
        nobody.get(url("/api/v1/applications/guarded/canaryConfigs")).send().await.unwrap(),
        nobody.get(&config_url).send().await.unwrap(),
        nobody.get(url("/api/v1/canaryConfigs/guarded-canary/history")).send().await.unwrap(),
        nobody.put(&config_url).json(&guarded).send().await.unwrap(),
        nobody.delete(&config_url).send().await.unwrap(),
        nobody.post(url("/api/v1/applications/guarded/canaryConfigs")).json(&small_config("smuggled")).send().await.unwrap(),
        nobody.get(url("/gate/v2/canaryConfig?application=guarded")).send().await.unwrap(),
        nobody.get(url("/gate/v2/canaryConfig/guarded-canary")).send().await.unwrap(),
        nobody.put(url("/gate/v2/canaryConfig/guarded-canary")).json(&guarded).send().await.unwrap(),
        nobody.delete(url("/gate/v2/canaryConfig/guarded-canary")).send().await.unwrap(),
    ];
    for response in refusals {
        let what = format!("{} {}", response.url().path(), response.url().query().unwrap_or_default());
        assert_eq!(response.status(), 403, "{what}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "forbidden", "{what}: {body}");
    }
    let mut smuggled = small_config("smuggled");
    smuggled["applications"] = json!(["guarded"]);
    let gate_create = nobody.post(url("/gate/v2/canaryConfig")).json(&smuggled).send().await.unwrap();
    assert_error(gate_create, 403, "forbidden", None).await;
    let listed: Vec<Value> = nobody.get(url("/gate/v2/canaryConfig")).send().await.unwrap().json().await.unwrap();
    assert!(listed.is_empty(), "Gate's list shows only readable applications' configs: {listed:?}");
    let unknown = nobody.get(url("/api/v1/canaryConfigs/no-such-config")).send().await.unwrap();
    assert_error(unknown, 404, "not_found", None).await;
    let unknown = nobody.get(url("/gate/v2/canaryConfig/no-such-config")).send().await.unwrap();
    assert_error(unknown, 404, "not_found", None).await;

    // READ reads; changing needs WRITE.
    assert_eq!(viewer.get(&config_url).send().await.unwrap().status(), 200);
    assert_eq!(viewer.get(url("/api/v1/applications/guarded/canaryConfigs")).send().await.unwrap().status(), 200);
    assert_error(viewer.put(&config_url).json(&guarded).send().await.unwrap(), 403, "forbidden", None).await;

    // WRITE on one application is not enough to hand a config to, or take one from, another.
    let mut handed = small_config("handed");
    handed["applications"] = json!(["guarded"]);
    let response = dev.post(url("/api/v1/applications/mine/canaryConfigs")).json(&handed).send().await.unwrap();
    assert_error(response, 403, "forbidden", None).await;
    let mut taken = guarded.clone();
    taken["applications"] = json!(["mine"]);
    assert_error(dev.put(&config_url).json(&taken).send().await.unwrap(), 403, "forbidden", None).await;
    let mut upsert = guarded.clone();
    upsert["applications"] = json!(["mine"]);
    let response = dev.post(url("/api/v1/applications/mine/canaryConfigs")).json(&upsert).send().await.unwrap();
    assert_error(response, 403, "forbidden", None).await;
    let mine: Value = dev.post(url("/api/v1/applications/mine/canaryConfigs")).json(&small_config("mine-canary")).send().await.unwrap().json().await.unwrap();
    assert_eq!(mine["applications"], json!(["mine"]));
    let mut shared = mine.clone();
    shared["applications"] = json!(["mine", "guarded"]);
    let response = dev.put(url(&format!("/api/v1/canaryConfigs/{}", mine["id"].as_str().unwrap()))).json(&shared).send().await.unwrap();
    assert_error(response, 403, "forbidden", None).await;

    let unchanged: Value = app.get("/api/v1/canaryConfigs/guarded-canary").await.json().await.unwrap();
    assert_eq!((unchanged["revision"].as_i64(), &unchanged["applications"]), (Some(1), &json!(["guarded"])));
    let of_guarded: Vec<Value> = app.get("/api/v1/applications/guarded/canaryConfigs").await.json().await.unwrap();
    assert_eq!(of_guarded.len(), 1, "nothing was smuggled in: {of_guarded:?}");
}

/// `spin` with `auth.basic`: every call carries the user and password.
fn spin_call(app: &TestApp, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new().request(method, app.url(&format!("/gate{path}"))).basic_auth("spinner", Some("spinner password long enough"))
}

async fn gate_routes_round_trip_a_kayenta_config(db: Db) {
    let app = spawn_app(db).await;
    app.create_application("shop").await;
    grant(&app, "shop", json!({"READ": ["deployers"], "WRITE": ["deployers"]})).await;
    app.token_for_new_user("spinner", &["deployers"]).await;
    let mut config = kayenta_config();
    config["id"] = json!("shop-canary");

    // spin canary canary-config save: the id is not there yet (404), so it is created.
    let missing = spin_call(&app, reqwest::Method::GET, "/v2/canaryConfig/shop-canary").send().await.unwrap();
    assert_error(missing, 404, "not_found", None).await;
    let created = spin_call(&app, reqwest::Method::POST, "/v2/canaryConfig").json(&config).send().await.unwrap();
    assert_eq!(created.status(), 200);
    assert_eq!(created.json::<Value>().await.unwrap(), json!({"canaryConfigId": "shop-canary"}));
    let again = spin_call(&app, reqwest::Method::POST, "/v2/canaryConfig").json(&config).send().await.unwrap();
    assert_error(again, 409, "conflict", Some("id")).await;

    // Deck's and spin's list: Kayenta's summaries, by application or of everything readable.
    let listed: Vec<Value> = spin_call(&app, reqwest::Method::GET, "/v2/canaryConfig?application=shop").send().await.unwrap().json().await.unwrap();
    assert_eq!(listed.len(), 1);
    let summary = listed[0].as_object().unwrap();
    let keys: std::collections::BTreeSet<&str> = summary.keys().map(String::as_str).collect();
    assert_eq!(keys, ["applications", "id", "name", "updatedTimestamp", "updatedTimestampIso"].into());
    assert_eq!((summary["id"].as_str(), summary["name"].as_str()), (Some("shop-canary"), Some("shop-golden-signals")));
    let everything: Vec<Value> = spin_call(&app, reqwest::Method::GET, "/v2/canaryConfig?application=").send().await.unwrap().json().await.unwrap();
    assert_eq!(everything, listed);

    // What was saved reads back as written, with Kayenta's timestamps and judge.
    let read: Value = spin_call(&app, reqwest::Method::GET, "/v2/canaryConfig/shop-canary").send().await.unwrap().json().await.unwrap();
    for field in ["id", "name", "description", "applications", "templates", "judge"] {
        assert_eq!(read[field], config[field], "{field}");
    }
    assert_eq!(read["classifier"]["groupWeights"], json!({"Errors": 70.0, "Latency": 30.0}));
    assert_eq!(read["classifier"]["scoreThresholds"], json!({"pass": 95.0, "marginal": 75.0}));
    assert_eq!(read["metrics"][0]["query"]["customInlineTemplate"], config["metrics"][0]["query"]["customInlineTemplate"]);
    assert!(read["metrics"][0]["query"]["customInlineTemplate"].as_str().unwrap().starts_with("PromQL:"));
    for key in ["type", "metricName", "customFilterTemplate"] {
        assert_eq!(read["metrics"][1]["query"][key], config["metrics"][1]["query"][key], "{key}");
    }
    assert_eq!(read["metrics"][0]["analysisConfigurations"]["canary"]["nanStrategy"], "replace");
    assert_eq!(read["metrics"][0]["analysisConfigurations"]["canary"]["effectSize"]["allowedIncrease"], 1.1);
    assert_eq!(read["metrics"][1]["analysisConfigurations"]["canary"]["outliers"]["strategy"], "remove");
    assert_eq!(read["updatedTimestamp"], summary["updatedTimestamp"]);
    assert_eq!(read["updatedTimestampIso"], summary["updatedTimestampIso"]);

    // spin canary canary-config save again: found (200), so updated; what was read saves back.
    let unchanged = spin_call(&app, reqwest::Method::PUT, "/v2/canaryConfig/shop-canary").json(&read).send().await.unwrap();
    assert_eq!(unchanged.status(), 200);
    assert_eq!(unchanged.json::<Value>().await.unwrap(), json!({"canaryConfigId": "shop-canary"}));
    let reread: Value = spin_call(&app, reqwest::Method::GET, "/v2/canaryConfig/shop-canary").send().await.unwrap().json().await.unwrap();
    let without_save = |value: &Value| {
        let mut value = value.clone();
        for key in ["revision", "updatedTimestamp", "updatedTimestampIso"] {
            value.as_object_mut().unwrap().remove(key);
        }
        value
    };
    assert_eq!(without_save(&reread), without_save(&read), "a round trip changes nothing");
    let mut edited = reread.clone();
    edited["classifier"]["groupWeights"] = json!({"Errors": 50, "Latency": 50});
    // Spinnaker's clients know no revisions: an old one in the body does not stop the save.
    edited["revision"] = json!(1);
    let updated = spin_call(&app, reqwest::Method::PUT, "/v2/canaryConfig/shop-canary").json(&edited).send().await.unwrap();
    assert_eq!(updated.status(), 200);
    let history: Vec<Value> = app.get("/api/v1/canaryConfigs/shop-canary/history").await.json().await.unwrap();
    assert_eq!(history.iter().map(|r| r["revision"].as_i64().unwrap()).collect::<Vec<_>>(), [3, 2, 1]);
    assert_eq!(history[0]["classifier"]["groupWeights"]["Errors"], 50.0);
    assert!(history.iter().all(|r| r["lastModifiedBy"] == "spinner"));

    // Deck creates without an id: Kayenta makes one.
    let mut unnamed = kayenta_config();
    unnamed["name"] = json!("shop-errors");
    let made: Value = spin_call(&app, reqwest::Method::POST, "/v2/canaryConfig").json(&unnamed).send().await.unwrap().json().await.unwrap();
    assert_eq!(made["canaryConfigId"].as_str().unwrap().len(), 36, "{made}");

    // spin canary canary-config delete: 200.
    let deleted = spin_call(&app, reqwest::Method::DELETE, "/v2/canaryConfig/shop-canary").send().await.unwrap();
    assert_eq!(deleted.status(), 200);
    assert_error(spin_call(&app, reqwest::Method::GET, "/v2/canaryConfig/shop-canary").send().await.unwrap(), 404, "not_found", None).await;
    let left: Vec<Value> = spin_call(&app, reqwest::Method::GET, "/v2/canaryConfig?application=shop").send().await.unwrap().json().await.unwrap();
    assert_eq!(left.len(), 1);
}
