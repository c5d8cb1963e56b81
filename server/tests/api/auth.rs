//! Authentication and authorization over HTTP: every route in the OpenAPI document is refused
//! without credentials (401) and without permission (403), for token and cookie callers alike;
//! sign-in, throttling, CSRF, tokens, users, application permissions and the audit log.

use serde_json::{Value, json};

use crate::binary::{ADMIN_PASSWORD, sign_in_with, start_binary, stop_with_sigterm};
use crate::both_databases;
use crate::helpers::{Db, assert_error, client_with_token, fresh_database, spawn_app, TestApp};

both_databases!(
    every_route_needs_credentials_and_permission,
    sign_in_sets_a_safe_cookie_and_sign_out_ends_it,
    failed_sign_ins_are_throttled,
    cross_site_mutations_are_refused,
    tokens_are_listed_without_secrets_and_revocable,
    users_service_accounts_and_passwords,
    application_permissions_filter_and_guard,
    mutations_are_audited,
);

/// Operations any signed-in user may call whatever their roles (they act on the caller's own
/// things, or filter by permission); every other operation must answer 403 to a user without
/// roles on a guarded application.
const SELF_SERVICE: &[(&str, &str)] = &[
    ("post", "/api/v1/session"),
    ("get", "/api/v1/session"),
    ("delete", "/api/v1/session"),
    ("get", "/api/v1/tokens"),
    ("post", "/api/v1/tokens"),
    ("delete", "/api/v1/tokens/{id}"),
    ("get", "/api/v1/applications"),
    ("post", "/api/v1/applications"),
    ("get", "/api/v1/executions"),
    ("get", "/api/v1/accounts"),
    // Search answers only what the caller may read.
    ("get", "/api/v1/search"),
    // So does Prometheus service discovery (instances of readable applications only).
    ("get", "/api/v1/metrics/targets"),
    // Import answers per item: what the caller may not save is refused in its report (import.rs).
    ("post", "/api/v1/import"),
    // Webhooks start only the pipelines the caller may run (or whose secret signed the call);
    // a caller without roles gets an answer listing nothing started.
    ("post", "/api/v1/webhooks/{source}"),
    ("post", "/api/v1/webhooks/git/{provider}"),
];

/// Routes that answer without credentials.
const PUBLIC: &[(&str, &str)] = &[("post", "/api/v1/session")];

/// A valid body per request schema, so a 403 comes from the policy, not from validation. A
/// new schema without an entry here fails the test: add one.
fn sample_body(schema: &str) -> Value {
    match schema {
        "NewApplication" => json!({"name": "walker"}),
        "ApplicationPatch" => json!({"description": "changed"}),
        "Permissions" => json!({"READ": ["dev"]}),
        "NewUser" => json!({"name": "intruder", "password": "a long enough password"}),
        "UserPatch" => json!({"roles": ["ops"]}),
        "SecretWrite" => json!({"name": "smtp", "value": "v"}),
        "NewApiToken" => json!({"name": "t"}),
        "SignIn" => json!({"username": "nobody", "password": "nothing at all"}),
        "EvaluateRequest" => json!({"expression": "1 + 1"}),
        "Judgment" => json!({"judgmentStatus": "continue"}),
        "AccountPermissions" => json!({"WRITE": ["ops"]}),
        "StartRequest" => json!({}),
        "LoadBalancerRequest" => json!({"application": "guarded", "listeners": [{"port": 1, "protocol": "http"}]}),
        "SecurityGroupRequest" => json!({"application": "guarded", "ingress": []}),
        "TaskRequest" => json!({"application": "guarded", "job": [{"type": "disableServerGroup", "serverGroupName": "guarded-v000"}]}),
        "ImportBundle" => json!({"pipelines": [{"application": "guarded", "name": "smuggled", "stages": []}]}),
        "CloudAccount" => json!({"cloudProvider": "kubernetes", "kubernetes": {"kubeconfigFile": "/etc/hostname"}}),
        other => panic!("add a sample body for request schema {other} to sample_body()"),
    }
}

/// A real path for a route template: the guarded application, its pipeline `walk`, an
/// execution of it and its canary config `walk-canary`, so a 403 comes from the policy and not
/// from a 404.
fn concrete_path(template: &str, execution: &str) -> String {
    let name = if template.starts_with("/api/v1/users/") { "admin" } else { "guarded" };
    let id = if template.starts_with("/api/v1/tokens/") { "0000" } else { execution };
    template
        .replace("{name}", name)
        .replace("{app}", "guarded")
        .replace("{id}", id)
        .replace("{pipeline}", "walk")
        .replace("{pipelineName}", "walk")
        .replace("{canaryConfigId}", "walk-canary")
        .replace("{revision}", "1")
        .replace("{stageId}", "1")
        .replace("{account}", "local")
        .replace("{application}", "guarded")
        .replace("{region}", "local")
}

struct Operation {
    method: String,
    template: String,
    body: Option<Value>,
}

fn operations(document: &Value) -> Vec<Operation> {
    let mut operations = Vec::new();
    for (template, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let content = &operation["requestBody"]["content"]["application/json"]["schema"];
            let body = match content["$ref"].as_str() {
                Some(reference) => Some(sample_body(reference.rsplit('/').next().unwrap())),
                // Free-form JSON (a pipeline): an empty object reaches the policy check.
                None if !content.is_null() => Some(json!({})),
                None => None,
            };
            operations.push(Operation { method: method.clone(), template: template.clone(), body });
        }
    }
    operations
}

fn request(client: &reqwest::Client, app: &TestApp, operation: &Operation, execution: &str) -> reqwest::RequestBuilder {
    let method = reqwest::Method::from_bytes(operation.method.to_uppercase().as_bytes()).unwrap();
    let builder = client.request(method, app.url(&concrete_path(&operation.template, execution)));
    match &operation.body {
        Some(body) => builder.json(body),
        None => builder,
    }
}

async fn every_route_needs_credentials_and_permission(db: Db) {
    let app = spawn_app(db).await;
    app.create_application("guarded").await;
    let guarded = json!({"READ": ["ops"], "WRITE": ["ops"], "EXECUTE": ["ops"]});
    let response = app.client.put(app.url("/api/v1/applications/guarded/permissions")).json(&guarded).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let pipeline = json!({"name": "walk", "stages": [{"refId": "1", "type": "wait", "waitTime": 3600}]});
    assert_eq!(app.post_json("/api/v1/applications/guarded/pipelines", &pipeline).await.status(), 200);
    let canary_config = json!({"id": "walk-canary", "name": "walk", "metrics": [{"name": "up", "query": {"type": "prometheus", "metricName": "up"}}]});
    assert_eq!(app.post_json("/api/v1/applications/guarded/canaryConfigs", &canary_config).await.status(), 200);
    let execution: Value = app.post_json("/api/v1/applications/guarded/pipelines/walk/executions", &json!({})).await.json().await.unwrap();
    let execution = execution["id"].as_str().unwrap().to_string();
    let viewer_token = client_with_token(&app.token_for_new_user("viewer", &["dev"]).await);
    let viewer_cookie = app.sign_in("viewer", "viewer password long enough").await;
    let forged = client_with_token("gnk_forged");

    let document: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    let operations = operations(&document);
    assert!(operations.len() >= 35, "the document lists every route: {}", operations.len());
    let (mut refused, mut forbidden) = (0, 0);
    for operation in &operations {
        let key = (operation.method.as_str(), operation.template.as_str());
        let what = format!("{} {}", operation.method, operation.template);
        if !PUBLIC.contains(&key) {
            let anonymous = request(&app.anonymous, &app, operation, &execution).send().await.unwrap();
            assert_eq!(anonymous.status(), 401, "{what} without credentials");
            let forged = request(&forged, &app, operation, &execution).send().await.unwrap();
            assert_eq!(forged.status(), 401, "{what} with a forged token");
            refused += 1;
        }
        if !SELF_SERVICE.contains(&key) {
            let by_token = request(&viewer_token, &app, operation, &execution).send().await.unwrap();
            assert_eq!(by_token.status(), 403, "{what} as a token caller without permission");
            let by_cookie = app.with_cookie(request(&app.anonymous, &app, operation, &execution), &viewer_cookie).send().await.unwrap();
            assert_eq!(by_cookie.status(), 403, "{what} as a cookie caller without permission");
            forbidden += 1;
        }
    }
    assert!(refused >= 34 && forbidden >= 25, "checked {refused} for 401 and {forbidden} for 403");

    // Pages send signed-out browsers to the sign-in page; server functions answer 401.
    let page = app.anonymous.get(app.url("/applications/guarded")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/signin?next=/applications/guarded");
    let api_client = app.anonymous.get(app.url("/applications/guarded")).send().await.unwrap();
    assert_eq!(api_client.status(), 401, "clients that do not ask for HTML get a 401");
    let signin = app.anonymous.get(app.url("/signin")).send().await.unwrap();
    assert_eq!(signin.status(), 200);
    let server_fn = app.anonymous.post(app.url("/api/list_applications")).send().await.unwrap();
    assert_eq!(server_fn.status(), 401);
    for public in ["/healthz", "/readyz", "/metrics", "/favicon.ico"] {
        let response = app.anonymous.get(app.url(public)).send().await.unwrap();
        assert_ne!(response.status(), 401, "{public} is public");
    }
}

async fn sign_in_sets_a_safe_cookie_and_sign_out_ends_it(db: Db) {
    let app = spawn_app(db).await;
    let response = app
        .anonymous
        .post(app.url("/api/v1/session"))
        .json(&json!({"username": "admin", "password": server::config::TEST_ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax") && set_cookie.contains("Path=/"), "{set_cookie}");
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["name"], "admin");
    assert!(user.get("passwordHash").is_none());
    let cookie = set_cookie.split(';').next().unwrap().to_string();

    let me = app.with_cookie(app.anonymous.get(app.url("/api/v1/session")), &cookie).send().await.unwrap();
    assert_eq!(me.json::<Value>().await.unwrap()["admin"], true);
    let out = app.with_cookie(app.anonymous.delete(app.url("/api/v1/session")), &cookie).send().await.unwrap();
    assert_eq!(out.status(), 204);
    assert!(out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let after = app.with_cookie(app.anonymous.get(app.url("/api/v1/session")), &cookie).send().await.unwrap();
    assert_eq!(after.status(), 401, "the session is gone on the server, not only in the browser");

    let wrong = app.anonymous.post(app.url("/api/v1/session")).json(&json!({"username": "admin", "password": "wrong password"})).send().await.unwrap();
    assert_error(wrong, 401, "unauthenticated", None).await;
    let nobody = app.anonymous.post(app.url("/api/v1/session")).json(&json!({"username": "nobody", "password": "wrong password"})).send().await.unwrap();
    let body = assert_error(nobody, 401, "unauthenticated", None).await;
    assert_eq!(body["error"]["message"], "wrong user name or password", "no hint whether the user exists");
}

async fn failed_sign_ins_are_throttled(db: Db) {
    let app = spawn_app(db).await;
    let attempt = |password: &'static str| {
        let app = &app;
        async move {
            app.anonymous.post(app.url("/api/v1/session")).json(&json!({"username": "admin", "password": password})).send().await.unwrap()
        }
    };
    for _ in 0..5 {
        assert_eq!(attempt("wrong password").await.status(), 401);
    }
    assert_eq!(attempt("wrong password").await.status(), 401, "the sixth failure locks the account");
    let locked = attempt(server::config::TEST_ADMIN_PASSWORD).await;
    assert_eq!(locked.status(), 429, "even the right password waits out the lock");
    assert!(locked.headers().contains_key("retry-after"));
    // Tokens keep working: automation is not locked out by someone guessing passwords.
    assert_eq!(app.get("/api/v1/applications").await.status(), 200);
}

async fn cross_site_mutations_are_refused(db: Db) {
    let app = spawn_app(db).await;
    let cookie = app.sign_in("admin", server::config::TEST_ADMIN_PASSWORD).await;
    let body = json!({"name": "csrf"});
    let post = || app.anonymous.post(app.url("/api/v1/applications")).header("cookie", &cookie).json(&body);

    let foreign = post().header("origin", "http://evil.example").send().await.unwrap();
    assert_error(foreign, 403, "forbidden", None).await;
    let no_origin = post().send().await.unwrap();
    assert_eq!(no_origin.status(), 403, "a cookie mutation must prove it is same-origin");
    let same = post().header("origin", &app.address).send().await.unwrap();
    assert_eq!(same.status(), 201);
    let referer = app.anonymous.delete(app.url("/api/v1/applications/csrf")).header("cookie", &cookie)
        .header("referer", format!("{}/applications/csrf", app.address)).send().await.unwrap();
    assert_eq!(referer.status(), 204, "a same-origin Referer will do");
    // Bearer tokens are not sent by browsers on their own: no Origin needed.
    assert_eq!(app.post_json("/api/v1/applications", &body).await.status(), 201);
    // A signed-out sign-in from a foreign page (login CSRF) is refused too.
    let login = app.anonymous.post(app.url("/api/v1/session")).header("origin", "http://evil.example")
        .json(&json!({"username": "admin", "password": server::config::TEST_ADMIN_PASSWORD})).send().await.unwrap();
    assert_eq!(login.status(), 403);
}

async fn tokens_are_listed_without_secrets_and_revocable(db: Db) {
    let app = spawn_app(db).await;
    let created = app.post_json("/api/v1/tokens", &json!({"name": "ci", "expiresInDays": 30})).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("gnk_"));
    assert!(created["expiresTs"].as_i64().unwrap() > created["createTs"].as_i64().unwrap());

    let ci = client_with_token(&secret);
    assert_eq!(ci.get(app.url("/api/v1/applications")).send().await.unwrap().status(), 200);
    let listed = app.get("/api/v1/tokens").await.text().await.unwrap();
    assert!(listed.contains("\"ci\"") && !listed.contains(&secret[4..]), "{listed}");
    let listed: Vec<Value> = serde_json::from_str(&listed).unwrap();
    let ci_token = listed.iter().find(|token| token["name"] == "ci").unwrap();
    assert!(ci_token["lastUsedTs"].as_i64().is_some(), "use is recorded");

    let id = created["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/api/v1/tokens/{id}")).await.status(), 204);
    assert_eq!(ci.get(app.url("/api/v1/applications")).send().await.unwrap().status(), 401, "revoked at once");

    for bad in [json!({"name": ""}), json!({"name": "x", "expiresInDays": 0}), json!({"name": "x", "scope": "all"})] {
        assert_eq!(app.post_json("/api/v1/tokens", &bad).await.status(), 400, "{bad}");
    }
}

async fn users_service_accounts_and_passwords(db: Db) {
    let app = spawn_app(db).await;
    let created = app.post_json("/api/v1/users", &json!({"name": "alice", "password": "alice password 1", "roles": ["dev"]})).await;
    assert_eq!(created.status(), 201);
    let duplicate = app.post_json("/api/v1/users", &json!({"name": "alice", "password": "alice password 1"})).await;
    assert_error(duplicate, 409, "conflict", Some("name")).await;
    let short = app.post_json("/api/v1/users", &json!({"name": "bob", "password": "short"})).await;
    assert_error(short, 400, "invalid", Some("password")).await;
    let bad_role = app.post_json("/api/v1/users", &json!({"name": "bob", "password": "bob password 12", "roles": ["a b"]})).await;
    assert_error(bad_role, 400, "invalid", Some("roles")).await;

    let robot = app.post_json("/api/v1/users", &json!({"name": "deployer", "serviceAccount": true, "roles": ["ops"]})).await;
    assert_eq!(robot.status(), 201);
    let robot_sign_in = app.anonymous.post(app.url("/api/v1/session")).json(&json!({"username": "deployer", "password": "anything at all"})).send().await.unwrap();
    assert_eq!(robot_sign_in.status(), 401, "service accounts cannot sign in");

    // Alice changes her own password; her old session ends; she may not grant herself roles.
    let cookie = app.sign_in("alice", "alice password 1").await;
    let alice = client_with_token(&app.token_for("alice", "alice password 1").await);
    let own = alice.patch(app.url("/api/v1/users/alice")).json(&json!({"password": "alice password 2", "currentPassword": "alice password 1"})).send().await.unwrap();
    assert_eq!(own.status(), 200);
    let old_session = app.with_cookie(app.anonymous.get(app.url("/api/v1/session")), &cookie).send().await.unwrap();
    assert_eq!(old_session.status(), 401);
    assert_eq!(alice.get(app.url("/api/v1/applications")).send().await.unwrap().status(), 401, "and her tokens");
    app.sign_in("alice", "alice password 2").await;
    let alice = client_with_token(&app.token_for("alice", "alice password 2").await);
    let escalate = alice.patch(app.url("/api/v1/users/alice")).json(&json!({"admin": true})).send().await.unwrap();
    assert_eq!(escalate.status(), 403);

    let users: Vec<Value> = app.get("/api/v1/users").await.json().await.unwrap();
    let names: Vec<&str> = users.iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["admin", "alice", "deployer"]);
    assert_eq!(app.delete("/api/v1/users/alice").await.status(), 204);
    assert_eq!(alice.get(app.url("/api/v1/applications")).send().await.unwrap().status(), 401, "tokens die with their user");
    assert_eq!(app.delete("/api/v1/users/admin").await.status(), 400, "admins cannot delete themselves");
}

async fn application_permissions_filter_and_guard(db: Db) {
    let app = spawn_app(db).await;
    for name in ["open", "guarded"] {
        app.create_application(name).await;
    }
    let grant = json!({"READ": ["dev"], "WRITE": ["ops"], "EXECUTE": ["release"]});
    let granted: Value = app.client.put(app.url("/api/v1/applications/guarded/permissions")).json(&grant).send().await.unwrap().json().await.unwrap();
    assert_eq!(granted["permissions"]["WRITE"], json!(["ops"]));

    let outsider = app.user_client("outsider", &[]).await;
    let developer = app.user_client("developer", &["dev"]).await;
    let operator = app.user_client("operator", &["ops"]).await;
    let names = |client: reqwest::Client| {
        let app = &app;
        async move {
            let list: Vec<Value> = client.get(app.url("/api/v1/applications")).send().await.unwrap().json().await.unwrap();
            list.iter().map(|a| a["name"].as_str().unwrap().to_string()).collect::<Vec<_>>()
        }
    };
    assert_eq!(names(outsider.clone()).await, ["open"]);
    assert_eq!(names(developer.clone()).await, ["guarded", "open"]);
    assert_eq!(outsider.get(app.url("/api/v1/applications/guarded")).send().await.unwrap().status(), 403);
    assert_eq!(developer.get(app.url("/api/v1/applications/guarded")).send().await.unwrap().status(), 200);
    let patch = json!({"description": "x"});
    assert_eq!(developer.patch(app.url("/api/v1/applications/guarded")).json(&patch).send().await.unwrap().status(), 403);
    assert_eq!(operator.patch(app.url("/api/v1/applications/guarded")).json(&patch).send().await.unwrap().status(), 200);
    assert_eq!(outsider.patch(app.url("/api/v1/applications/open")).json(&patch).send().await.unwrap().status(), 200, "open to all");

    let bad = app.client.put(app.url("/api/v1/applications/guarded/permissions")).json(&json!({"ADMIN": []})).send().await.unwrap();
    assert_error(bad, 400, "invalid", Some("ADMIN")).await;

    // Accounts: only admins grant; readers see only the accounts they may read.
    let grant = json!({"READ": ["dev"], "WRITE": ["ops"]});
    assert_eq!(developer.put(app.url("/api/v1/accounts/local/permissions")).json(&grant).send().await.unwrap().status(), 403);
    let granted: Value = app.client.put(app.url("/api/v1/accounts/local/permissions")).json(&grant).send().await.unwrap().json().await.unwrap();
    assert_eq!(granted["permissions"]["WRITE"], json!(["ops"]));
    let accounts = |client: reqwest::Client| {
        let app = &app;
        async move { client.get(app.url("/api/v1/accounts")).send().await.unwrap().json::<Vec<Value>>().await.unwrap().len() }
    };
    assert_eq!(accounts(developer.clone()).await, 1);
    assert_eq!(accounts(outsider.clone()).await, 0);
    let unknown = app.client.put(app.url("/api/v1/accounts/nowhere/permissions")).json(&grant).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
}

async fn mutations_are_audited(db: Db) {
    let app = spawn_app(db).await;
    app.create_application("audited").await;
    app.anonymous.post(app.url("/api/v1/session")).json(&json!({"username": "mallory", "password": "guessing wrong"})).send().await.unwrap();
    let developer = app.user_client("developer", &[]).await;
    assert_eq!(developer.get(app.url("/api/v1/audit")).send().await.unwrap().status(), 403);

    let entries: Vec<Value> = app.get("/api/v1/audit?limit=100").await.json().await.unwrap();
    let created = entries.iter().find(|e| e["action"] == "POST /api/v1/applications").expect("creation audited");
    assert_eq!(created["actor"], "admin");
    assert_eq!(created["status"], 201);
    assert_eq!(created["address"], "127.0.0.1");
    let failed = entries.iter().find(|e| e["actor"] == "mallory").expect("failed sign-in audited");
    assert_eq!(failed["status"], 401);
    assert!(entries.windows(2).all(|pair| pair[0]["id"].as_i64() > pair[1]["id"].as_i64()), "newest first");
    assert!(!entries.iter().any(|e| e["action"].as_str().unwrap().starts_with("GET")), "reads are not mutations");

    let first_page: Vec<Value> = app.get("/api/v1/audit?limit=2").await.json().await.unwrap();
    let before = first_page[1]["id"].as_i64().unwrap();
    let second_page: Vec<Value> = app.get(&format!("/api/v1/audit?limit=2&before={before}")).await.json().await.unwrap();
    assert!(second_page.iter().all(|e| e["id"].as_i64().unwrap() < before));
    assert_eq!(app.get("/api/v1/audit?limit=0").await.status(), 400);
}

#[tokio::test]
async fn the_first_start_prints_a_random_admin_password_once() {
    let database_url = fresh_database(Db::Sqlite).await;
    let first = start_binary(&database_url, &[("GENNAKER_ADMIN_PASSWORD", "")]);
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let password = loop {
        let output = first.output();
        // The banner's lines may interleave with JSON log lines (stdout and stderr are read
        // apart): the password is the first line after the banner's that is neither.
        let line = output
            .lines()
            .skip_while(|l| !l.contains("created the user `admin`"))
            .skip(1)
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('{'))
            .map(str::to_string);
        if let Some(password) = line.filter(|p| !p.is_empty()) {
            break password;
        }
        assert!(std::time::Instant::now() < deadline, "no password printed: {output}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    sign_in_with(&client, &first.address, "admin", &password).await;
    let first = stop_with_sigterm(first);
    let log_lines = first.output();
    assert_eq!(log_lines.matches(&password).count(), 1, "printed once, never logged");

    let second = start_binary(&database_url, &[("GENNAKER_ADMIN_PASSWORD", "")]);
    sign_in_with(&client, &second.address, "admin", &password).await;
    let second = stop_with_sigterm(second);
    assert!(!second.output().contains("created the user"), "only on the first start");
    assert!(!second.output().contains(&password));
    let _ = ADMIN_PASSWORD;
}

#[tokio::test]
async fn the_user_command_adds_users_and_changes_passwords() {
    let database_url = fresh_database(Db::Sqlite).await;
    let gennaker = |args: &[&str], password: &str| {
        let output = std::process::Command::new(crate::helpers::binary())
            .args(["user", "--database-url", &database_url])
            .args(args)
            .env("GENNAKER_PASSWORD", password)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    gennaker(&["add", "carol", "--role", "ops", "--role", "dev"], "carol's passphrase");
    gennaker(&["add", "robot", "--service-account"], "");
    let listed = gennaker(&["list"], "");
    assert!(listed.contains("carol\tuser\tops,dev"), "{listed}");
    assert!(listed.contains("robot\tservice account"), "{listed}");

    let server = start_binary(&database_url, &[]);
    let client = reqwest::Client::new();
    sign_in_with(&client, &server.address, "carol", "carol's passphrase").await;
    gennaker(&["passwd", "carol"], "carol's new passphrase");
    sign_in_with(&client, &server.address, "carol", "carol's new passphrase").await;
    stop_with_sigterm(server);
}
