//! Security checks as an attacker would try them, black-box against the real server (issue
//! "Security hardening"): one test per finding, each shown failing before its fix.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::both_databases;
use crate::helpers::{Db, TestApp, assert_error, finished_as, spawn_app, spawn_app_with};

both_databases!(
    a_role_less_user_cannot_run_processes_until_an_admin_grants_the_account,
    a_child_pipeline_runs_only_where_the_runs_user_may_execute,
    a_deleted_applications_runs_do_not_reach_whoever_takes_its_name,
    secrets_are_used_only_where_their_scope_allows,
    stages_act_on_other_applications_resources_only_with_write_there,
    pipeline_triggers_on_other_applications_need_read_and_carry_what_readers_may_see,
);

/// Sets an application's permissions (as admin).
async fn grant_application(app: &TestApp, application: &str, permissions: Value) {
    let response = app.client.put(app.url(&format!("/api/v1/applications/{application}/permissions"))).json(&permissions).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

fn job(command: &str) -> Value {
    json!({"refId": "1", "name": "Job", "type": "runJob", "account": "local", "command": ["sh", "-c", command]})
}

/// Finding: a signed-in user without roles ran a shell on gennaker's host through `runJob` (or
/// a deploy's command) on `local`, open to everyone because no permission was set on it. Now
/// an account nobody was granted WRITE on is for admins only, at save and at run time.
async fn a_role_less_user_cannot_run_processes_until_an_admin_grants_the_account(db: Db) {
    let app = spawn_app(db).await;
    let mallory = app.user_client("mallory", &[]).await;
    let created = mallory.post(app.url("/api/v1/applications")).json(&json!({"name": "mine"})).send().await.unwrap();
    assert_eq!(created.status(), 201, "anyone may create an application");
    let pipelines = app.url("/api/v1/applications/mine/pipelines");
    let save = mallory.post(&pipelines).json(&json!({"name": "shell", "stages": [job("id")]})).send().await.unwrap();
    let body = assert_error(save, 403, "forbidden", None).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("account local"), "{body}");
    let deploy = json!({"refId": "1", "type": "deploy", "clusters": [{"application": "mine", "account": "local",
        "capacity": {"min": 1, "max": 1, "desired": 1}, "artifact": {"command": ["sh", "-c", "id"]}}]});
    let save = mallory.post(&pipelines).json(&json!({"name": "deploy", "stages": [deploy]})).send().await.unwrap();
    assert_error(save, 403, "forbidden", None).await;
    let task = mallory
        .post(app.url("/api/v1/tasks"))
        .json(&json!({"application": "mine", "description": "shell", "job": [job("id")]}))
        .send()
        .await
        .unwrap();
    assert_eq!(task.status(), 403, "nor as an ad-hoc task: {}", task.text().await.unwrap());

    // The documented grant: an admin gives a role WRITE on the account.
    let grant = app.client.put(app.url("/api/v1/accounts/local/permissions")).json(&json!({"READ": [], "WRITE": ["deployers"]})).send().await.unwrap();
    assert_eq!(grant.status(), 200);
    let deployer = app.user_client("dee", &["deployers"]).await;
    deployer.post(app.url("/api/v1/applications")).json(&json!({"name": "theirs"})).send().await.unwrap();
    let saved = deployer
        .post(app.url("/api/v1/applications/theirs/pipelines"))
        .json(&json!({"name": "job", "stages": [job("echo fine")]}))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200, "a granted role may: {}", saved.text().await.unwrap());
    let still = mallory.post(&pipelines).json(&json!({"name": "shell", "stages": [job("id")]})).send().await.unwrap();
    assert_eq!(still.status(), 403, "the grant is for the role only");
}

/// The secret key file as the sandbox test makes it: root's, mode 0600.
fn secret_file(directory: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(directory).unwrap();
    let path = directory.join("secret.key");
    std::fs::write(&path, "the-key-material").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        .unwrap_or(false)
}

/// Finding: jobs and instances inherited gennaker's environment (`DATABASE_URL`, every
/// `GENNAKER_*`), ran in its working directory as its user (root), and could read the secret
/// key file. Now: a cleared environment, a directory of their own outside the data directory,
/// and, where gennaker is root, the configured unprivileged user.
#[tokio::test]
async fn processes_start_with_nothing_of_gennakers() {
    let data = std::env::temp_dir().join(format!("gennaker-security-data-{}", std::process::id()));
    let key = secret_file(&data);
    let work = std::env::temp_dir().join(format!("gennaker-security-work-{}", std::process::id()));
    let work_for_config = work.clone();
    let app = spawn_app_with(Db::Sqlite, move |config| {
        config.run_as_user = "nobody".into();
        config.work_dir = Some(work_for_config);
    })
    .await;
    app.create_application("shop").await;
    let script = format!("env; echo UID=$(id -u); echo PWD=$(pwd); cat {} 2>/dev/null || echo KEY=unreadable", key.display());
    let mut stage = job(&script);
    stage["env"] = json!({"STAGE_VALUE": "from the stage"});
    let saved = app.post_json("/api/v1/applications/shop/pipelines", &json!({"name": "probe", "stages": [stage]})).await;
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    let started: Value = app.post_json("/api/v1/applications/shop/pipelines/probe/executions", &json!({})).await.json().await.unwrap();
    let execution = finished_as(&app, &app.client, started["id"].as_str().unwrap(), 20).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    let output = execution["stages"][0]["outputs"]["output"].as_str().unwrap().to_string();
    let variables: Vec<&str> = output.lines().filter_map(|line| line.split_once('=').map(|(name, _)| name)).collect();
    assert!(variables.contains(&"STAGE_VALUE"), "what the stage sets is there: {output}");
    assert!(variables.contains(&"PATH"));
    for name in &variables {
        assert!(!name.starts_with("GENNAKER_") && *name != "DATABASE_URL" && *name != "CARGO", "{name} leaked into the job: {output}");
    }
    let pwd = output.lines().find_map(|line| line.strip_prefix("PWD=")).unwrap();
    assert!(pwd.starts_with(work.to_str().unwrap()), "a directory of its own under the work dir: {pwd}");
    assert!(!output.contains("the-key-material"));
    if running_as_root() {
        assert!(!output.contains("UID=0"), "as root, gennaker runs jobs as nobody: {output}");
        assert!(output.contains("KEY=unreadable"), "{output}");
    }
    // A stage cannot hand a job gennaker's own variables either (nor the loader's).
    for name in ["GENNAKER_SECRET_KEY", "LD_PRELOAD"] {
        let mut smuggle = job("env");
        smuggle["env"] = json!({name: "x"});
        let saved = app.post_json("/api/v1/applications/shop/pipelines", &json!({"name": "smuggle", "stages": [smuggle]})).await;
        assert_error(saved, 400, "invalid", Some(&format!("stages[0].env.{name}"))).await;
    }
    std::fs::remove_dir_all(data).ok();
}

/// A receiver on 127.0.0.1 that counts what reaches it: `/start` redirects to `/inside`.
async fn receiver() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = vec![0u8; 4096];
            let read = socket.read(&mut request).await.unwrap_or(0);
            let request = String::from_utf8_lossy(&request[..read]).to_string();
            let answer = if request.starts_with("POST /start") || request.starts_with("GET /start") {
                format!("HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{port}/inside\r\ncontent-length: 0\r\n\r\n")
            } else {
                counted.fetch_add(1, Ordering::SeqCst);
                "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}".to_string()
            };
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    (port, hits)
}

async fn run_webhook(app: &TestApp, name: &str, url: &str) -> Value {
    let stage = json!({"refId": "1", "name": "Call", "type": "webhook", "url": url, "method": "POST"});
    let saved = app.post_json("/api/v1/applications/shop/pipelines", &json!({"name": name, "stages": [stage]})).await;
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    let started: Value = app.post_json(&format!("/api/v1/applications/shop/pipelines/{name}/executions"), &json!({})).await.json().await.unwrap();
    finished_as(app, &app.client, started["id"].as_str().unwrap(), 20).await
}

/// Finding: webhook stages (and notifications, pollers) called any address, the cloud metadata
/// service and gennaker's own loopback among them. Now inside addresses are refused unless an
/// admin allows them, redirects are checked at every hop, answers are capped.
#[tokio::test]
async fn webhooks_cannot_reach_inside_the_network_unless_allowed() {
    use std::sync::atomic::Ordering;
    let (port, hits) = receiver().await;
    let app = spawn_app_with(Db::Sqlite, |config| config.outbound_allow = Vec::new()).await;
    app.create_application("shop").await;
    for (name, url) in [
        ("metadata", "http://169.254.169.254/latest/meta-data/".to_string()),
        ("loopback", format!("http://127.0.0.1:{port}/inside")),
        ("named", format!("http://localhost:{port}/inside")),
    ] {
        let execution = run_webhook(&app, name, &url).await;
        assert_eq!(execution["status"], "TERMINAL", "{name}: {execution}");
        let error = execution["stages"][0]["error"].as_str().unwrap_or_default().to_string();
        assert!(error.contains("does not call"), "{name}: {error}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing reached the receiver");

    // Allowed by configuration: only what the entry names, redirects included.
    let allowed = format!("http://127.0.0.1:{port}/start");
    let app = spawn_app_with(Db::Sqlite, move |config| config.outbound_allow = vec![allowed]).await;
    app.create_application("shop").await;
    let execution = run_webhook(&app, "redirected", &format!("http://127.0.0.1:{port}/start")).await;
    assert_eq!(execution["status"], "TERMINAL", "the redirect leaves the allowed path: {execution}");
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    let execution = run_webhook(&app, "direct", &format!("http://127.0.0.1:{port}/inside")).await;
    assert_eq!(execution["status"], "TERMINAL");
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

/// Finding: a deeply nested `${...}` overflowed the parser's stack (the process died) and a long
/// one kept a request thread busy. Now length and depth are checked before any parser sees it,
/// and the refusal is a 400 naming the field.
#[tokio::test]
async fn expressions_cannot_crash_the_server() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("shop").await;
    let deep = format!("${{{}1{}}}", "(".repeat(100_000), ")".repeat(100_000));
    let negated = format!("${{{}true}}", "!".repeat(100_000));
    let long = format!("${{{}}}", "1 + ".repeat(5_000) + "1");
    for (what, expression) in [("deep", deep), ("negated", negated), ("long", long)] {
        let stage = json!({"refId": "1", "type": "wait", "waitTime": expression});
        let saved = app.post_json("/api/v1/applications/shop/pipelines", &json!({"name": "p", "stages": [stage]})).await;
        let body = assert_error(saved, 400, "invalid", Some("stages[0].waitTime")).await;
        assert!(body["error"]["message"].as_str().unwrap().contains("expression"), "{what}: {body}");
    }
    assert_eq!(app.get("/healthz").await.status(), 200, "the server is still up");
}

/// Finding: pages had no content security policy and could be framed (clickjacking the
/// judgment buttons); `/metrics` took any method name as a label value. Now every answer carries
/// the headers, and unknown methods fold into one label value.
#[tokio::test]
async fn pages_carry_security_headers_and_metrics_labels_are_bounded() {
    let app = spawn_app(Db::Sqlite).await;
    for path in ["/", "/signin", "/api/v1/applications", "/healthz"] {
        let response = app.anonymous.get(app.url(path)).send().await.unwrap();
        let headers = response.headers();
        let csp = headers.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("'wasm-unsafe-eval'"), "{path}: {csp:?}");
        assert_eq!(headers.get("x-frame-options").and_then(|v| v.to_str().ok()), Some("DENY"), "{path}");
        assert_eq!(headers.get("x-content-type-options").and_then(|v| v.to_str().ok()), Some("nosniff"), "{path}");
        assert!(headers.get("referrer-policy").is_some(), "{path}");
    }
    for method in ["FOOBAR1", "FOOBAR2", "FOOBAR3"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        app.anonymous.request(method, app.url("/healthz")).send().await.unwrap();
    }
    let metrics = app.anonymous.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(!metrics.contains("FOOBAR"), "an unknown method is not a label value");
    assert!(metrics.contains("method=\"OTHER\""), "{metrics}");
}

/// Finding: a `pipeline` stage whose `application` is an expression (unchecked at save) started
/// pipelines of applications its user may not run: child runs were never authorized. Now the
/// child is checked when it starts, as the run's user.
async fn a_child_pipeline_runs_only_where_the_runs_user_may_execute(db: Db) {
    let app = spawn_app(db).await;
    app.create_application("vault").await;
    grant_application(&app, "vault", json!({"READ": ["vault-ops"], "WRITE": ["vault-ops"], "EXECUTE": ["vault-ops"]})).await;
    let secret = json!({"name": "secret-job", "stages": [{"refId": "1", "type": "wait", "waitTime": 0}]});
    assert_eq!(app.post_json("/api/v1/applications/vault/pipelines", &secret).await.status(), 200);

    let eve = app.user_client("eve", &["shop-dev"]).await;
    eve.post(app.url("/api/v1/applications")).json(&json!({"name": "shop"})).send().await.unwrap();
    let direct = json!({"name": "direct", "stages": [{"refId": "1", "type": "pipeline", "application": "vault", "pipeline": "secret-job"}]});
    let saved = eve.post(app.url("/api/v1/applications/shop/pipelines")).json(&direct).send().await.unwrap();
    assert_eq!(saved.status(), 403, "named outright, the save refuses it");
    let indirect = json!({"name": "indirect", "parameterConfig": [{"name": "target", "default": "vault"}],
        "stages": [{"refId": "1", "type": "pipeline", "application": "${parameters.target}", "pipeline": "secret-job"}]});
    let saved = eve.post(app.url("/api/v1/applications/shop/pipelines")).json(&indirect).send().await.unwrap();
    assert_eq!(saved.status(), 200, "an expression is only known when it runs: {}", saved.text().await.unwrap());
    let started: Value = eve.post(app.url("/api/v1/applications/shop/pipelines/indirect/executions")).json(&json!({})).send().await.unwrap().json().await.unwrap();
    let execution = finished_as(&app, &eve, started["id"].as_str().unwrap(), 20).await;
    assert_eq!(execution["status"], "TERMINAL", "{execution}");
    let error = execution["stages"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("Execute permission on application vault"), "{error}");
    let runs: Vec<Value> = app.get("/api/v1/executions?application=vault").await.json().await.unwrap();
    assert!(runs.is_empty(), "nothing ran in vault: {runs:?}");
}

/// Finding: the load balancer and security group lists showed every account's, to users who may
/// not read the account (the clusters view already filtered). Now all three apply account READ.
#[tokio::test]
async fn load_balancers_and_firewalls_show_only_in_readable_accounts() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("shop").await;
    let port = crate::helpers::free_port();
    let balancer = json!({"cloudProvider": "local", "account": "local", "region": "local", "application": "shop", "stack": "web",
        "listeners": [{"port": port, "protocol": "http"}]});
    assert_eq!(app.post_json("/api/v1/loadBalancers", &balancer).await.status(), 200);
    let firewall = json!({"application": "shop", "stack": "lan", "ingress": [{"cidr": "127.0.0.0/8", "protocol": "tcp", "startPort": 1, "endPort": 65535}]});
    assert_eq!(app.post_json("/api/v1/securityGroups", &firewall).await.status(), 200);
    let grant = app.client.put(app.url("/api/v1/accounts/local/permissions")).json(&json!({"READ": ["ops"], "WRITE": ["ops"]})).send().await.unwrap();
    assert_eq!(grant.status(), 200);
    let list = |client: reqwest::Client, what: &'static str| {
        let url = app.url(&format!("/api/v1/applications/shop/{what}"));
        async move { client.get(url).send().await.unwrap().json::<Vec<Value>>().await.unwrap() }
    };
    let ops = app.user_client("olga", &["ops"]).await;
    let dev = app.user_client("dave", &["dev"]).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while list(ops.clone(), "loadBalancers").await.is_empty() || list(ops.clone(), "securityGroups").await.is_empty() {
        assert!(Instant::now() < deadline, "the cache shows them to ops");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for what in ["loadBalancers", "securityGroups"] {
        assert_eq!(list(dev.clone(), what).await, Vec::<Value>::new(), "{what} of an account dave may not read");
    }
}

/// Finding: deleting an application left its runs and events under its name; whoever created an
/// application of that name next could read them. Now they go with it (and it is refused while
/// a run is active).
async fn a_deleted_applications_runs_do_not_reach_whoever_takes_its_name(db: Db) {
    let app = spawn_app(db).await;
    app.create_application("payroll").await;
    grant_application(&app, "payroll", json!({"READ": ["hr"], "WRITE": ["hr"], "EXECUTE": ["hr"]})).await;
    let quick = json!({"name": "quick", "stages": [{"refId": "1", "type": "evaluateVariables", "variables": [{"key": "salary", "value": "secret"}]}]});
    assert_eq!(app.post_json("/api/v1/applications/payroll/pipelines", &quick).await.status(), 200);
    let slow = json!({"name": "slow", "stages": [{"refId": "1", "type": "wait", "waitTime": 600}]});
    assert_eq!(app.post_json("/api/v1/applications/payroll/pipelines", &slow).await.status(), 200);
    let done: Value = app.post_json("/api/v1/applications/payroll/pipelines/quick/executions", &json!({})).await.json().await.unwrap();
    let done_id = done["id"].as_str().unwrap().to_string();
    assert_eq!(finished_as(&app, &app.client, &done_id, 20).await["status"], "SUCCEEDED");
    let running: Value = app.post_json("/api/v1/applications/payroll/pipelines/slow/executions", &json!({})).await.json().await.unwrap();
    let running_id = running["id"].as_str().unwrap().to_string();

    let refused = app.delete("/api/v1/applications/payroll").await;
    assert_error(refused, 409, "conflict", Some("application")).await;
    let canceled = app.client.put(app.url(&format!("/api/v1/executions/{running_id}/cancel"))).send().await.unwrap();
    assert_eq!(canceled.status(), 200);
    finished_as(&app, &app.client, &running_id, 20).await;
    assert_eq!(app.delete("/api/v1/applications/payroll").await.status(), 204);

    let mallory = app.user_client("mallory", &[]).await;
    let created = mallory.post(app.url("/api/v1/applications")).json(&json!({"name": "payroll"})).send().await.unwrap();
    assert_eq!(created.status(), 201);
    let runs: Vec<Value> = mallory.get(app.url("/api/v1/executions?application=payroll")).send().await.unwrap().json().await.unwrap();
    assert!(runs.is_empty(), "the old runs are gone: {runs:?}");
    let old = mallory.get(app.url(&format!("/api/v1/executions/{done_id}"))).send().await.unwrap();
    assert_eq!(old.status(), 404);
}

/// Finding: a webhook call's answer listed every listening pipeline, with the reason it was
/// skipped, to any caller: a map of other applications' pipelines. Now it names only those the
/// caller may read (or whose trigger secret signed the call).
#[tokio::test]
async fn webhook_answers_name_only_pipelines_the_caller_may_read() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("hidden").await;
    grant_application(&app, "hidden", json!({"READ": ["ops"], "WRITE": ["ops"], "EXECUTE": ["ops"]})).await;
    let listening = json!({"name": "on-deploy", "triggers": [{"type": "webhook", "source": "deploy", "enabled": true}],
        "stages": [{"refId": "1", "type": "wait", "waitTime": 0}]});
    let saved = app.post_json("/api/v1/applications/hidden/pipelines", &listening).await;
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());

    let mallory = app.user_client("mallory", &[]).await;
    let answer: Value = mallory.post(app.url("/api/v1/webhooks/deploy")).json(&json!({})).send().await.unwrap().json().await.unwrap();
    assert_eq!(answer, json!({"triggered": [], "skipped": []}), "nothing about hidden's pipelines");
    let ops = app.user_client("olga", &["ops"]).await;
    let answer: Value = ops.post(app.url("/api/v1/webhooks/deploy")).json(&json!({})).send().await.unwrap().json().await.unwrap();
    // The trigger has no runAsUser, so its run would act as anonymous, who may not run it: a
    // reader is told so.
    assert_eq!(answer["skipped"][0]["pipeline"], "on-deploy", "a reader sees what listens and why: {answer}");
}

/// Finding: restarting a finished stage ran it again (a job on `local`, say) for anyone with
/// EXECUTE on the application, without WRITE on the account. Now a restart checks the accounts
/// as a start does.
#[tokio::test]
async fn restarting_a_stage_needs_the_accounts_a_start_needs() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("shop").await;
    grant_application(&app, "shop", json!({"READ": ["dev"], "WRITE": ["dev"], "EXECUTE": ["dev"]})).await;
    let saved = app.post_json("/api/v1/applications/shop/pipelines", &json!({"name": "job", "stages": [job("echo ran")]})).await;
    assert_eq!(saved.status(), 200);
    let started: Value = app.post_json("/api/v1/applications/shop/pipelines/job/executions", &json!({})).await.json().await.unwrap();
    let id = started["id"].as_str().unwrap().to_string();
    assert_eq!(finished_as(&app, &app.client, &id, 20).await["status"], "SUCCEEDED");

    let dev = app.user_client("dev", &["dev"]).await;
    let restart = dev.put(app.url(&format!("/api/v1/executions/{id}/stages/1/restart"))).send().await.unwrap();
    assert_eq!(restart.status(), 403, "{}", restart.text().await.unwrap());
    let restart = app.client.put(app.url(&format!("/api/v1/executions/{id}/stages/1/restart"))).send().await.unwrap();
    assert_eq!(restart.status(), 200, "an admin may");
}

/// Finding: a pipeline of any size and stage count was accepted (each run copies it, each event
/// carries it), and the cycle check recursed once per stage of a chain (a long chain overflowed
/// the stack). Now size and stage count are bounded and the check does not recurse.
#[tokio::test]
async fn pipelines_are_bounded_and_long_chains_do_not_crash_the_check() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("shop").await;
    let base = "/api/v1/applications/shop/pipelines";
    let chain = |count: usize| -> Vec<Value> {
        (1..=count)
            .map(|n| {
                let after: Vec<String> = if n == 1 { vec![] } else { vec![(n - 1).to_string()] };
                json!({"refId": n.to_string(), "type": "wait", "waitTime": 0, "requisiteStageRefIds": after})
            })
            .collect()
    };
    let long = app.post_json(&format!("{base}?dryRun=true"), &json!({"name": "long", "stages": chain(500)})).await;
    assert_eq!(long.status(), 200, "500 stages in one chain: {}", long.text().await.unwrap());
    let too_many = app.post_json(&format!("{base}?dryRun=true"), &json!({"name": "many", "stages": chain(501)})).await;
    assert_error(too_many, 400, "invalid", Some("stages")).await;
    let big = app.post_json(&format!("{base}?dryRun=true"), &json!({"name": "big", "description": "x".repeat(1_100_000), "stages": []})).await;
    assert_error(big, 400, "invalid", Some("pipeline")).await;
}

/// Finding: sign-in throttling counted a failure only after the (slow) password check, so
/// guesses sent at the same time all got through: 20 at once were 20 tries, and as many argon2
/// runs. Now an attempt counts before the check, so concurrent guesses are throttled like
/// sequential ones.
#[tokio::test]
async fn concurrent_wrong_passwords_are_throttled_like_sequential_ones() {
    let app = spawn_app(Db::Sqlite).await;
    let guesses = (0..20).map(|n| {
        let request = app.anonymous.post(app.url("/api/v1/session")).json(&json!({"username": "admin", "password": format!("guess number {n}")}));
        async move { request.send().await.unwrap().status().as_u16() }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let tried = statuses.iter().filter(|status| **status == 401).count();
    assert!(tried <= 6, "at most the free failures and one more were checked: {statuses:?}");
    assert_eq!(statuses.iter().filter(|status| **status == 429).count(), 20 - tried, "{statuses:?}");
}

/// Finding: a stolen session or token could set a new password without the old one (taking the
/// account over), and a password change left the user's API tokens working. Now the current
/// password is needed (an admin resetting someone else's excepted) and tokens end too.
#[tokio::test]
async fn a_password_change_needs_the_current_one_and_ends_tokens() {
    let app = spawn_app(Db::Sqlite).await;
    let stolen = app.user_client("victim", &[]).await;
    let takeover = stolen.patch(app.url("/api/v1/users/victim")).json(&json!({"password": "attacker chosen password"})).send().await.unwrap();
    assert_error(takeover, 400, "invalid", Some("currentPassword")).await;
    let wrong = stolen
        .patch(app.url("/api/v1/users/victim"))
        .json(&json!({"password": "attacker chosen password", "currentPassword": "a guess at it"}))
        .send()
        .await
        .unwrap();
    assert_error(wrong, 400, "invalid", Some("currentPassword")).await;
    let own = stolen
        .patch(app.url("/api/v1/users/victim"))
        .json(&json!({"password": "a brand new password", "currentPassword": "victim password long enough"}))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(stolen.get(app.url("/api/v1/applications")).send().await.unwrap().status(), 401, "the token ended with the old password");
    let reset = app.client.patch(app.url("/api/v1/users/victim")).json(&json!({"password": "reset by the admin"})).send().await.unwrap();
    assert_eq!(reset.status(), 200, "an admin resets another user's password without it");
}

/// Finding: API tokens could be made to never expire, and a token could mint tokens that
/// outlived it (a leaked one-day token became a permanent one). Now every token has a lifetime
/// of at most `--token-max-days` (365), and one made with a token ends no later than it.
#[tokio::test]
async fn tokens_have_bounded_lifetimes_and_do_not_outlive_their_maker() {
    let app = spawn_app(Db::Sqlite).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let day = 86_400_000i64;
    let unbounded: Value = app.post_json("/api/v1/tokens", &json!({"name": "forever"})).await.json().await.unwrap();
    let expires = unbounded["expiresTs"].as_i64().expect("a token without a lifetime gets the longest one");
    assert!(expires <= now + 366 * day, "{unbounded}");
    let too_long = app.post_json("/api/v1/tokens", &json!({"name": "long", "expiresInDays": 400})).await;
    assert_error(too_long, 400, "invalid", Some("expiresInDays")).await;

    let short: Value = app.post_json("/api/v1/tokens", &json!({"name": "short", "expiresInDays": 1})).await.json().await.unwrap();
    let short_client = crate::helpers::client_with_token(short["secret"].as_str().unwrap());
    let minted: Value = short_client
        .post(app.url("/api/v1/tokens"))
        .json(&json!({"name": "minted", "expiresInDays": 300}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(minted["expiresTs"].as_i64().unwrap() <= short["expiresTs"].as_i64().unwrap(), "{minted}");
}

/// Finding: every webhook call with a wrong signature, and every throttled sign-in, stored an
/// audit row: anyone could grow the audit log without bound. Now those refusals are counted in
/// /metrics instead.
#[tokio::test]
async fn strangers_cannot_grow_the_audit_log() {
    let app = spawn_app(Db::Sqlite).await;
    let rows = |app: &TestApp| {
        let request = app.client.get(app.url("/api/v1/audit?limit=500"));
        async move { request.send().await.unwrap().json::<Vec<Value>>().await.unwrap().len() }
    };
    let before = rows(&app).await;
    for _ in 0..30 {
        let refused = app
            .anonymous
            .post(app.url("/api/v1/webhooks/anything"))
            .header("X-Gennaker-Signature-256", "sha256=00")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401);
    }
    for _ in 0..30 {
        app.anonymous.post(app.url("/api/v1/session")).json(&json!({"username": "admin", "password": "not the password"})).send().await.unwrap();
    }
    let after = rows(&app).await;
    assert!(after - before <= 6, "only the checked sign-ins are stored, not the refusals: {before} -> {after}");
    let metrics = app.anonymous.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.lines().any(|line| line.contains("/api/v1/webhooks/{source}") && line.contains("status=\"401\"")), "counted instead");
}

/// Finding: the built-in load balancer passed on headers the client's `Connection` header named
/// as hop-by-hop (letting a client strip or smuggle headers between balancer and instance),
/// and passed on whatever `X-Forwarded-For` the client claimed. Now those are dropped and the
/// balancer says the client's real address.
#[tokio::test]
async fn the_balancer_drops_connection_named_headers_and_vouches_for_the_client_address() {
    use axum::routing::get;
    use server::cloud::local::balancer::{Balancer, Target};
    // An instance that answers with the headers it received.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let instance = listener.local_addr().unwrap();
    let echo = axum::Router::new().route(
        "/",
        get(|headers: axum::http::HeaderMap| async move {
            let seen: serde_json::Map<String, Value> =
                headers.iter().map(|(name, value)| (name.to_string(), json!(value.to_str().unwrap_or_default()))).collect();
            axum::Json(Value::Object(seen))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, echo).await.unwrap() });
    let balancer = Balancer::start("127.0.0.1:0".parse().unwrap(), None).await.unwrap();
    balancer.set_targets(vec![Target { address: instance, enabled: true, server_group: "web-v000".into() }]);
    let seen: Value = reqwest::Client::new()
        .get(format!("http://{}/", balancer.address()))
        .header("connection", "keep-alive, x-internal-auth")
        .header("x-internal-auth", "set by the client")
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-kept", "yes")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(seen.get("x-internal-auth").is_none(), "a header the Connection header names is not passed on: {seen}");
    assert_eq!(seen["x-forwarded-for"], "127.0.0.1", "the client's real address only: {seen}");
    assert_eq!(seen["x-kept"], "yes");
}

/// Opens `path` (a live socket) with `token` and subscribes.
async fn open_socket(app: &TestApp, path: &str, token: &str, subscribe: Value) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = app.url(path).replace("http://", "ws://").into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket.send(tokio_tungstenite::tungstenite::Message::Text(subscribe.to_string().into())).await.unwrap();
    socket
}

/// Waits until the server closes the socket; false if it is still open after `within`.
async fn closed_within(
    socket: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    within: Duration,
) -> bool {
    use futures_util::StreamExt;
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(500), socket.next()).await {
            Ok(None | Some(Err(_)) | Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_)))) => return true,
            _ => {}
        }
    }
    false
}

/// Finding: an open live socket kept streaming after its token was revoked or its user lost
/// READ on the application: it held the roles it opened with. Now a socket shows its credential
/// again every few seconds and closes once it no longer works or no longer reads.
#[tokio::test]
async fn live_sockets_close_when_access_is_lost() {
    let app = spawn_app(Db::Sqlite).await;
    app.create_application("shop").await;
    let reader = app.token_for_new_user("rita", &["readers"]).await;
    grant_application(&app, "shop", json!({"READ": ["readers"], "WRITE": [], "EXECUTE": []})).await;
    let mut events = open_socket(&app, "/api/v1/ws", &reader, json!({"application": "shop", "after": 0})).await;
    let mut clusters = open_socket(&app, "/api/v1/ws/clusters", &reader, json!({"application": "shop"})).await;
    assert!(!closed_within(&mut events, Duration::from_secs(1)).await, "open while rita may read");

    // Rita loses her role.
    let demoted = app.client.patch(app.url("/api/v1/users/rita")).json(&json!({"roles": []})).send().await.unwrap();
    assert_eq!(demoted.status(), 200);
    assert!(closed_within(&mut events, Duration::from_secs(12)).await, "the event socket closes");
    assert!(closed_within(&mut clusters, Duration::from_secs(12)).await, "the clusters socket closes");

    // A revoked token closes its socket too.
    let admin_socket_token: Value = app.post_json("/api/v1/tokens", &json!({"name": "socket", "expiresInDays": 1})).await.json().await.unwrap();
    let mut admin_events =
        open_socket(&app, "/api/v1/ws", admin_socket_token["secret"].as_str().unwrap(), json!({"application": "shop", "after": 0})).await;
    assert!(!closed_within(&mut admin_events, Duration::from_secs(1)).await);
    let revoked = app.delete(&format!("/api/v1/tokens/{}", admin_socket_token["id"].as_str().unwrap())).await;
    assert_eq!(revoked.status(), 204);
    assert!(closed_within(&mut admin_events, Duration::from_secs(12)).await, "a revoked token's socket closes");
}

async fn put_secret(app: &TestApp, name: &str, value: &str, roles: &[&str], applications: &[&str]) {
    let body = json!({"value": value, "roles": roles, "applications": applications});
    let response = app.client.put(app.url(&format!("/api/v1/secrets/{name}"))).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

fn signed_by(key: &str, body: &[u8]) -> String {
    server::triggers::webhook::signature(key.as_bytes(), body)
}

/// Finding: any user who could save a pipeline could name any secret in it (a notification's
/// address, a trigger's signing key) and so use, for instance, another team's chat hook or
/// webhook key. Now a secret names the roles and applications that may reference it, checked
/// at save and again each time a run or a delivery uses it; a secret's value (a malformed
/// address taken from one included) never appears in errors or records.
async fn secrets_are_used_only_where_their_scope_allows(db: Db) {
    let app = spawn_app_with(db, |config| {
        config.notify.smtp_host = Some("127.0.0.1".into());
        config.notify.smtp_port = 9;
        config.notify.smtp_tls = "none".into();
        config.notify.smtp_from = "gennaker@example.test".into();
        config.notify.notify_retry_ms = 1;
    })
    .await;
    put_secret(&app, "ops-key", "ops-signing-key", &["ops"], &[]).await;
    put_secret(&app, "shop-hook", "http://127.0.0.1:9/shop", &[], &["shop"]).await;
    put_secret(&app, "admins-only", "http://127.0.0.1:9/admin", &[], &[]).await;
    let listed: Value = app.client.get(app.url("/api/v1/secrets")).send().await.unwrap().json().await.unwrap();
    let ops_key = listed.as_array().unwrap().iter().find(|s| s["name"] == "ops-key").unwrap();
    assert_eq!(ops_key["roles"], json!(["ops"]), "the scope is listed: {listed}");
    let bad_scope = app.client.put(app.url("/api/v1/secrets/x")).json(&json!({"value": "v", "roles": ["no spaces"]})).send().await.unwrap();
    assert_error(bad_scope, 400, "invalid", Some("roles")).await;

    let mallory = app.user_client("mallory", &[]).await;
    let olga = app.user_client("olga", &["ops"]).await;
    for name in ["mine", "shop"] {
        let created = mallory.post(app.url("/api/v1/applications")).json(&json!({"name": name})).send().await.unwrap();
        assert_eq!(created.status(), 201);
    }
    let wait = json!([{"refId": "1", "type": "wait", "waitTime": 0}]);
    let hooked = |key: &str| json!({"name": "hooked", "stages": wait,
        "triggers": [{"type": "webhook", "source": "scoped", "enabled": true, "secretName": key}]});
    let notified = |secret: &str| json!({"name": "notified", "stages": wait,
        "notifications": [{"type": "slack", "secretName": secret, "when": ["pipeline.complete"]}]});
    let save = |client: &reqwest::Client, application: &str, pipeline: Value| {
        client.post(app.url(&format!("/api/v1/applications/{application}/pipelines"))).json(&pipeline).send()
    };

    // At save: the saver's roles or the pipeline's application must be in the scope.
    let refused = save(&mallory, "mine", hooked("ops-key")).await.unwrap();
    let body = assert_error(refused, 400, "invalid", Some("triggers[0].secretName")).await;
    assert!(!body.to_string().contains("ops-signing-key"), "{body}");
    assert_error(save(&mallory, "mine", notified("admins-only")).await.unwrap(), 400, "invalid", Some("notifications[0].secretName")).await;
    assert_error(save(&mallory, "mine", notified("shop-hook")).await.unwrap(), 400, "invalid", Some("notifications[0].secretName")).await;
    assert_error(save(&mallory, "mine", notified("no-such-secret")).await.unwrap(), 400, "invalid", Some("notifications[0].secretName")).await;
    let patch = mallory.patch(app.url("/api/v1/applications/mine")).json(&json!({"notifications": [
        {"type": "slack", "secretName": "admins-only", "when": ["pipeline.failed"]}]})).send().await.unwrap();
    assert_error(patch, 400, "invalid", Some("notifications[0].secretName")).await;
    assert_eq!(save(&mallory, "shop", notified("shop-hook")).await.unwrap().status(), 200, "shop's pipelines may use shop-hook");
    let saved = save(&olga, "mine", hooked("ops-key")).await.unwrap();
    assert_eq!(saved.status(), 200, "a holder of ops may use ops-key: {}", saved.text().await.unwrap());

    // At use: a delivery signed with the key starts the pipeline while the scope allows it ...
    let body = br#"{"ref":"main"}"#;
    let deliver = || {
        reqwest::Client::new()
            .post(app.url("/api/v1/webhooks/scoped"))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signed_by("ops-signing-key", body))
            .body(body.to_vec())
            .send()
    };
    let answer: Value = deliver().await.unwrap().json().await.unwrap();
    assert_eq!(answer["triggered"].as_array().map(Vec::len), Some(1), "{answer}");
    // ... and no longer once an admin narrows the scope.
    put_secret(&app, "ops-key", "ops-signing-key", &[], &[]).await;
    assert_eq!(deliver().await.unwrap().status(), 401, "the key no longer verifies anything for this pipeline");

    // A malformed address read from a secret is not quoted in the record.
    put_secret(&app, "mail-to", "not an address <leaked-value@", &[], &["shop"]).await;
    let mail = json!({"name": "mailed", "stages": wait,
        "notifications": [{"type": "email", "secretName": "mail-to", "when": ["pipeline.complete"]}]});
    assert_eq!(save(&mallory, "shop", mail).await.unwrap().status(), 200);
    let started: Value = mallory.post(app.url("/api/v1/applications/shop/pipelines/mailed/executions")).json(&json!({})).send().await.unwrap().json().await.unwrap();
    let id = started["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    let execution = loop {
        let execution: Value = mallory.get(app.url(&format!("/api/v1/executions/{id}"))).send().await.unwrap().json().await.unwrap();
        if execution["notifications"].as_array().is_some_and(|n| !n.is_empty()) {
            break execution;
        }
        assert!(Instant::now() < deadline, "no notification record: {execution}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let record = &execution["notifications"][0];
    assert_eq!(record["status"], "failed", "{record}");
    assert!(record["error"].as_str().unwrap().contains("not an email address"), "{record}");
    assert!(!execution.to_string().contains("leaked-value"), "the secret's value stays out of the run: {execution}");
}

/// Finding: a stage in an application its user owns could disable, resize or destroy another
/// application's server groups, or join its load balancer, on an account the user may deploy
/// to. Now a stage acts on resources named after another application (Spinnaker's naming
/// convention) only for a user with WRITE on that application: at save, at start, and when a
/// name written as an expression is known.
async fn stages_act_on_other_applications_resources_only_with_write_there(db: Db) {
    let app = spawn_app(db).await;
    app.create_application("payroll").await;
    grant_application(&app, "payroll", json!({"READ": ["payroll-ops"], "WRITE": ["payroll-ops"], "EXECUTE": ["payroll-ops"]})).await;
    let grant = app.client.put(app.url("/api/v1/accounts/local/permissions")).json(&json!({"READ": [], "WRITE": ["deployers"]})).send().await.unwrap();
    assert_eq!(grant.status(), 200);
    let dee = app.user_client("dee", &["deployers"]).await;
    assert_eq!(dee.post(app.url("/api/v1/applications")).json(&json!({"name": "shop"})).send().await.unwrap().status(), 201);
    let save = |client: &reqwest::Client, pipeline: Value| client.post(app.url("/api/v1/applications/shop/pipelines")).json(&pipeline).send();

    let destroy = json!({"name": "destroy", "stages": [{"refId": "1", "type": "destroyServerGroup", "serverGroupName": "payroll-v000"}]});
    let refused = assert_error(save(&dee, destroy.clone()).await.unwrap(), 403, "forbidden", None).await;
    assert!(refused["error"]["message"].as_str().unwrap().contains("application payroll"), "{refused}");
    let join = json!({"name": "join", "stages": [{"refId": "1", "type": "deploy", "clusters": [{"application": "shop", "account": "local",
        "capacity": {"min": 1, "max": 1, "desired": 1}, "loadBalancers": ["payroll-frontend"], "artifact": {"command": ["sleep", "60"]}}]}]});
    assert_error(save(&dee, join).await.unwrap(), 403, "forbidden", None).await;
    let shrink = json!({"name": "shrink", "stages": [{"refId": "1", "type": "shrinkCluster", "cluster": "payroll-main"}]});
    assert_error(save(&dee, shrink).await.unwrap(), 403, "forbidden", None).await;
    // The scaling stages too: another application's server group's policies and schedule.
    for stage in [
        json!({"type": "upsertScalingPolicy", "serverGroupName": "payroll-v000",
            "targetTrackingConfiguration": {"targetValue": 600, "predefinedMetricSpecification": {"predefinedMetricType": "ALBRequestCountPerTarget"}}}),
        json!({"type": "deleteScalingPolicy", "serverGroupName": "payroll-v000", "policyName": "target-tracking-1"}),
        json!({"type": "upsertAsgScheduledActions", "asgs": [{"asgName": "payroll-v000", "region": "local"}],
            "scheduledActions": [{"recurrence": "0 9 * * *", "desiredCapacity": 0}]}),
    ] {
        let mut stage = stage;
        stage["refId"] = json!("1");
        let pipeline = json!({"name": "scale", "stages": [stage]});
        assert_error(save(&dee, pipeline.clone()).await.unwrap(), 403, "forbidden", None).await;
        let task = dee.post(app.url("/api/v1/tasks")).json(&json!({"application": "shop", "job": [pipeline["stages"][0]]})).send().await.unwrap();
        assert_eq!(task.status(), 403, "an ad-hoc task is refused too: {}", task.text().await.unwrap());
    }

    // Named by an expression: refused when the stage starts, before it acts.
    let indirect = json!({"name": "indirect", "parameterConfig": [{"name": "target", "default": "payroll-v000"}],
        "stages": [{"refId": "1", "type": "destroyServerGroup", "serverGroupName": "${parameters.target}"}]});
    let saved = save(&dee, indirect).await.unwrap();
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    let started: Value = dee.post(app.url("/api/v1/applications/shop/pipelines/indirect/executions")).json(&json!({})).send().await.unwrap().json().await.unwrap();
    let execution = finished_as(&app, &dee, started["id"].as_str().unwrap(), 20).await;
    assert_eq!(execution["status"], "TERMINAL", "{execution}");
    let error = execution["stages"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("WRITE permission on application payroll"), "{error}");

    // Its own resources, and another application's for a user who may write there, pass.
    let own = json!({"name": "own", "stages": [{"refId": "1", "type": "destroyServerGroup", "serverGroupName": "shop-v000"}]});
    assert_eq!(save(&dee, own).await.unwrap().status(), 200);
    let olga = app.user_client("olga", &["deployers", "payroll-ops"]).await;
    let saved = save(&olga, destroy).await.unwrap();
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
}

async fn runs_of(app: &TestApp, application: &str) -> Vec<Value> {
    app.get(&format!("/api/v1/executions?application={application}")).await.json().await.unwrap()
}

/// Finding: a pipeline could listen to another application's runs without READ on it, and its
/// runs then carried the whole parent run (stage contexts and outputs) to their own readers.
/// Now saving such a trigger needs READ on the other application, it fires only while the run's
/// user may read it, and the child carries only a summary unless everyone may read the parent.
async fn pipeline_triggers_on_other_applications_need_read_and_carry_what_readers_may_see(db: Db) {
    let app = spawn_app(db).await;
    app.create_application("vault").await;
    grant_application(&app, "vault", json!({"READ": ["vault-readers"], "WRITE": ["vault-ops"], "EXECUTE": ["vault-ops"]})).await;
    let release = json!({"name": "release", "stages": [{"refId": "1", "type": "evaluateVariables", "name": "Keys",
        "variables": [{"key": "vaultToken", "value": "hidden-in-vault"}]}]});
    let saved = app.post_json("/api/v1/applications/vault/pipelines", &release).await;
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());

    let eve = app.user_client("eve", &[]).await;
    assert_eq!(eve.post(app.url("/api/v1/applications")).json(&json!({"name": "shop"})).send().await.unwrap().status(), 201);
    let listener = |name: &str, run_as: Option<&str>| {
        let mut trigger = json!({"type": "pipeline", "application": "vault", "pipeline": "release", "status": ["successful"], "enabled": true});
        if let Some(user) = run_as {
            trigger["runAsUser"] = json!(user);
        }
        json!({"name": name, "triggers": [trigger], "stages": [{"refId": "1", "type": "wait", "waitTime": 0}]})
    };
    let refused = eve.post(app.url("/api/v1/applications/shop/pipelines")).json(&listener("eavesdrop", None)).send().await.unwrap();
    assert_eq!(refused.status(), 403, "eve may not read vault: {}", refused.text().await.unwrap());

    // An admin wires two listeners: one acting as a vault reader, one as nobody in particular.
    app.user_client("rita", &["vault-readers"]).await;
    for (name, run_as) in [("as-reader", Some("rita")), ("as-anyone", None)] {
        let saved = app.post_json("/api/v1/applications/shop/pipelines", &listener(name, run_as)).await;
        assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    }
    let started: Value = app.post_json("/api/v1/applications/vault/pipelines/release/executions", &json!({})).await.json().await.unwrap();
    let parent = finished_as(&app, &app.client, started["id"].as_str().unwrap(), 20).await;
    assert_eq!(parent["status"], "SUCCEEDED", "{parent}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let children = loop {
        let runs = runs_of(&app, "shop").await;
        if !runs.is_empty() {
            break runs;
        }
        assert!(Instant::now() < deadline, "the reader's listener never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Give a second (wrongly fired) child the time to show up before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let children = if runs_of(&app, "shop").await.len() > children.len() { runs_of(&app, "shop").await } else { children };
    assert_eq!(children.len(), 1, "only the listener whose user may read vault fired: {children:?}");
    let child: Value = app.get(&format!("/api/v1/executions/{}", children[0]["id"].as_str().unwrap())).await.json().await.unwrap();
    assert_eq!(child["name"], "as-reader");
    let seen = &child["trigger"]["parentExecution"];
    assert_eq!(seen["id"], parent["id"], "{seen}");
    assert_eq!(seen["status"], "SUCCEEDED");
    assert!(seen.get("stages").is_none(), "no stage of the parent: {seen}");
    assert!(!child.to_string().contains("hidden-in-vault"), "the parent's outputs stay in vault: {child}");
}
