//! The engine's scenarios, driven step by step with a manual clock (no sleeping), on SQLite and
//! PostgreSQL: DAG order with a join, the four failure options, timeouts, skipped stages,
//! cancel, concurrency limits, expressions and manual judgments.

use std::collections::BTreeMap;
use std::sync::Arc;

use app::model::auth::{Caller, Credential};
use app::model::execution::{Execution, Judgment, JudgmentStatus, StartRequest, Status};
use app::ssr::{ApplicationService, ExecutionService, PipelineService};
use serde_json::{Value, json};
use server::engine::Engine;
use server::engine::clock::ManualClock;
use server::service::{executions::Executions, pipelines::Pipelines};
use server::engine::worker::Outcome;
use server::service::applications::Applications;
use server::store::Store;

use crate::both_databases;
use crate::helpers::{Db, fresh_database};

both_databases!(
    stages_run_in_dag_order_with_a_join,
    failure_options_decide_the_pipeline,
    each_precondition_decides_whether_it_fails_the_pipeline,
    a_stage_times_out,
    a_disabled_stage_is_skipped,
    cancel_stops_a_running_wait,
    concurrent_runs_wait_their_turn,
    expressions_feed_later_stages_and_fail_loudly,
    manual_judgment_continues_or_stops,
    waiting_costs_nothing_until_its_moment_or_its_event,
    retention_cuts_old_finished_runs_to_their_final_state,
);

struct Harness {
    engine: Engine,
    clock: ManualClock,
    pipelines: Pipelines,
    executions: Executions,
    admin: Caller,
}

async fn harness(db: Db) -> Harness {
    let store = Store::open(&server::config::DatabaseUrl(fresh_database(db).await)).await.unwrap();
    let clock = ManualClock::starting_at(1_800_000_000_000);
    // The tests' receivers listen on 127.0.0.1, which the outbound client refuses by default.
    let outbound = crate::helpers::loopback_outbound();
    let engine = Engine::new(store.clone(), Arc::new(clock.clone()))
        .with_listener(Arc::new(server::triggers::pipeline::PipelineTriggers))
        .with_outbound(outbound);
    let admin = Caller { name: "tester".into(), roles: vec![], admin: true, via: Credential::System };
    let applications = Applications::new(store.clone());
    applications
        .create(&admin, app::model::NewApplication { name: "shop".into(), description: String::new(), email: String::new() })
        .await
        .unwrap();
    Harness { pipelines: Pipelines::new(store), executions: Executions::new(engine.clone()), engine, clock, admin }
}

impl Harness {
    /// Handles every due message.
    async fn drain(&self) {
        for _ in 0..10_000 {
            match self.engine.try_execute_one().await.unwrap() {
                Outcome::Idle => return,
                Outcome::Handled | Outcome::Conflict => {}
            }
        }
        panic!("the engine never went idle");
    }

    /// Handles every due message; how many there were.
    async fn deliveries(&self) -> usize {
        let mut handled = 0;
        loop {
            match self.engine.try_execute_one().await.unwrap() {
                Outcome::Idle => return handled,
                Outcome::Handled | Outcome::Conflict => handled += 1,
            }
        }
    }

    async fn save(&self, name: &str, stages: Value) -> String {
        let config = json!({"name": name, "stages": stages});
        self.pipelines.save(&self.admin, "shop", config).await.unwrap().id
    }

    async fn start(&self, pipeline: &str, parameters: &[(&str, &str)]) -> Execution {
        let parameters: BTreeMap<String, String> = parameters.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.executions.start(&self.admin, "shop", pipeline, StartRequest { parameters, ..Default::default() }).await.unwrap()
    }

    async fn get(&self, id: &str) -> Execution {
        self.executions.get(&self.admin, id).await.unwrap()
    }

    async fn run(&self, pipeline: &str) -> Execution {
        let started = self.start(pipeline, &[]).await;
        self.drain().await;
        self.get(&started.id).await
    }
}

fn status_of(execution: &Execution, stage: &str) -> Status {
    execution.stages.iter().find(|s| s.ref_id == stage).unwrap().status
}

fn wait(ref_id: &str, seconds: u64, after: &[&str]) -> Value {
    json!({"refId": ref_id, "name": format!("Wait {ref_id}"), "type": "wait", "waitTime": seconds, "requisiteStageRefIds": after})
}

fn variables(ref_id: &str, name: &str, pairs: Value, after: &[&str]) -> Value {
    json!({"refId": ref_id, "name": name, "type": "evaluateVariables", "variables": pairs, "requisiteStageRefIds": after})
}

fn failing_check(ref_id: &str, after: &[&str], options: Value) -> Value {
    let mut stage = json!({"refId": ref_id, "name": format!("Check {ref_id}"), "type": "checkPreconditions",
        "requisiteStageRefIds": after,
        "preconditions": [{"type": "expression", "context": {"expression": "${1 == 2}"}, "failPipeline": true}]});
    for (key, value) in options.as_object().unwrap() {
        stage[key] = value.clone();
    }
    stage
}

async fn stages_run_in_dag_order_with_a_join(db: Db) {
    let h = harness(db).await;
    h.save("dag", json!([
        variables("1", "Start", json!([{"key": "a", "value": 1}]), &[]),
        wait("2", 5, &["1"]),
        variables("3", "Side", json!([{"key": "b", "value": 2}]), &["1"]),
        variables("4", "Join", json!([{"key": "c", "value": 3}]), &["2", "3"]),
    ])).await;
    let started = h.start("dag", &[]).await;
    h.drain().await;
    let running = h.get(&started.id).await;
    assert_eq!(running.status, Status::Running);
    assert_eq!(status_of(&running, "3"), Status::Succeeded, "the side branch ran beside the wait");
    assert_eq!(status_of(&running, "2"), Status::Running);
    assert_eq!(status_of(&running, "4"), Status::NotStarted, "the join waits for both branches");

    h.clock.advance(5_000);
    h.drain().await;
    let done = h.get(&started.id).await;
    assert_eq!(done.status, Status::Succeeded);
    let join = done.stages.iter().find(|s| s.ref_id == "4").unwrap();
    for upstream in ["2", "3"] {
        let stage = done.stages.iter().find(|s| s.ref_id == upstream).unwrap();
        assert!(stage.end_time.unwrap() <= join.start_time.unwrap());
    }
    assert_eq!(join.outputs["c"], json!(3));
    assert_eq!(h.engine.store().queue_depth().await.unwrap(), 0, "nothing left queued");
}

async fn failure_options_decide_the_pipeline(db: Db) {
    let h = harness(db).await;
    // Each pipeline: a failing check beside a long wait, and a stage after the check.
    let cases = [
        ("fail-pipeline", json!({}), Status::Terminal, Status::Terminal, Status::NotStarted, Status::Canceled),
        ("continue", json!({"continuePipeline": true, "failPipeline": false}), Status::FailedContinue, Status::Succeeded, Status::Succeeded, Status::Succeeded),
        ("halt-branch", json!({"failPipeline": false}), Status::Stopped, Status::Succeeded, Status::NotStarted, Status::Succeeded),
        ("halt-then-fail", json!({"failPipeline": false, "completeOtherBranchesThenFail": true}), Status::Stopped, Status::Terminal, Status::NotStarted, Status::Succeeded),
    ];
    for (name, options, check_status, pipeline_status, after_status, wait_status) in cases {
        h.save(name, json!([
            failing_check("1", &[], options),
            variables("2", "After", json!([{"key": "x", "value": 1}]), &["1"]),
            wait("3", 10, &[]),
        ])).await;
        let started = h.start(name, &[]).await;
        h.drain().await;
        h.clock.advance(10_000);
        h.drain().await;
        let done = h.get(&started.id).await;
        assert_eq!(status_of(&done, "1"), check_status, "{name}: the failing stage");
        assert_eq!(status_of(&done, "2"), after_status, "{name}: the stage after it");
        assert_eq!(status_of(&done, "3"), wait_status, "{name}: the other branch");
        assert_eq!(done.status, pipeline_status, "{name}: the pipeline");
        let check = done.stages.iter().find(|s| s.ref_id == "1").unwrap();
        assert!(check.error.as_deref().unwrap().contains("precondition"), "{name}: the error is shown");
    }
}

/// Spinnaker's rule: a failing precondition with `failPipeline: false` only warns (the stage
/// ends FAILED_CONTINUE), even beside preconditions that would fail the pipeline had they failed.
async fn each_precondition_decides_whether_it_fails_the_pipeline(db: Db) {
    let h = harness(db).await;
    let hard_pass = json!({"type": "expression", "context": {"expression": "${1 == 1}"}, "failPipeline": true});
    let soft_fail = json!({"type": "expression", "context": {"expression": "${1 == 2}", "failureMessage": "only a warning"}, "failPipeline": false});
    let hard_fail = json!({"type": "stageStatus", "context": {"stageName": "Setup", "stageStatus": "TERMINAL"}});
    let cases = [
        ("warns", json!([hard_pass, soft_fail]), Status::FailedContinue, Status::Succeeded, "only a warning"),
        ("fails", json!([soft_fail, hard_fail]), Status::Terminal, Status::Terminal, "stage \"Setup\" is not TERMINAL"),
    ];
    for (name, preconditions, check_status, pipeline_status, message) in cases {
        h.save(name, json!([
            variables("1", "Setup", json!([{"key": "x", "value": 1}]), &[]),
            {"refId": "2", "name": "Check", "type": "checkPreconditions", "requisiteStageRefIds": ["1"], "preconditions": preconditions},
        ])).await;
        let started = h.start(name, &[]).await;
        h.drain().await;
        let done = h.get(&started.id).await;
        assert_eq!(status_of(&done, "2"), check_status, "{name}: the check");
        assert_eq!(done.status, pipeline_status, "{name}: the pipeline");
        let check = done.stages.iter().find(|s| s.ref_id == "2").unwrap();
        assert_eq!(check.error.as_deref(), Some(message), "{name}: the failing precondition's message");
    }
}

async fn a_stage_times_out(db: Db) {
    let h = harness(db).await;
    h.save("slow", json!([{"refId": "1", "name": "Long", "type": "wait", "waitTime": 600, "stageTimeoutMs": 2000}])).await;
    let started = h.start("slow", &[]).await;
    h.drain().await;
    h.clock.advance(1_000);
    h.drain().await;
    assert_eq!(h.get(&started.id).await.status, Status::Running);
    h.clock.advance(5_000);
    h.drain().await;
    let done = h.get(&started.id).await;
    assert_eq!(done.status, Status::Terminal);
    assert!(done.stages[0].error.as_deref().unwrap().contains("timed out after 2000 ms"));
}

async fn a_disabled_stage_is_skipped(db: Db) {
    let h = harness(db).await;
    h.save("skip", json!([
        {"refId": "1", "name": "Only in prod", "type": "wait", "waitTime": 60,
         "stageEnabled": {"type": "expression", "expression": "parameters.env == 'prod'"}},
        variables("2", "After", json!([{"key": "ran", "value": true}]), &["1"]),
    ])).await;
    let config = h.pipelines.get(&h.admin, "shop", "skip").await.unwrap();
    let mut json = serde_json::to_value(&config).unwrap();
    json["parameterConfig"] = json!([{"name": "env", "default": "dev"}]);
    h.pipelines.save(&h.admin, "shop", json).await.unwrap();
    let done = h.run("skip").await;
    assert_eq!(status_of(&done, "1"), Status::Skipped);
    assert_eq!(status_of(&done, "2"), Status::Succeeded, "a skipped stage lets the next run");
    assert_eq!(done.status, Status::Succeeded);
}

async fn cancel_stops_a_running_wait(db: Db) {
    let h = harness(db).await;
    h.save("long", json!([wait("1", 3600, &[]), variables("2", "Never", json!([]), &["1"])])).await;
    let started = h.start("long", &[]).await;
    h.drain().await;
    assert_eq!(status_of(&h.get(&started.id).await, "1"), Status::Running);
    h.executions.cancel(&h.admin, &started.id, Some("changed my mind".into())).await.unwrap();
    h.drain().await;
    let done = h.get(&started.id).await;
    assert_eq!(done.status, Status::Canceled);
    assert_eq!(status_of(&done, "1"), Status::Canceled);
    assert_eq!(status_of(&done, "2"), Status::NotStarted);
    assert_eq!(done.canceled_by.as_deref(), Some("tester"));
    assert_eq!(done.cancellation_reason.as_deref(), Some("changed my mind"));
    // The wait's pending re-check finds the execution canceled and does nothing.
    h.clock.advance(3_600_000);
    h.drain().await;
    assert_eq!(h.get(&started.id).await, done);
    assert_eq!(h.engine.store().queue_depth().await.unwrap(), 0);
}

async fn concurrent_runs_wait_their_turn(db: Db) {
    let h = harness(db).await;
    h.save("serial", json!([wait("1", 10, &[])])).await;
    let first = h.start("serial", &[]).await;
    h.drain().await;
    let second = h.start("serial", &[]).await;
    assert_eq!(second.status, Status::Buffered);
    let third = h.start("serial", &[]).await;
    assert_eq!(third.status, Status::Buffered);
    assert_eq!(h.get(&second.id).await.status, Status::Canceled, "only the newest waiting run is kept");

    h.clock.advance(10_000);
    h.drain().await;
    assert_eq!(h.get(&first.id).await.status, Status::Succeeded);
    assert_eq!(h.get(&third.id).await.status, Status::Running, "the waiting run starts when the first ends");
    h.clock.advance(10_000);
    h.drain().await;
    assert_eq!(h.get(&third.id).await.status, Status::Succeeded);

    // keepWaitingPipelines keeps every waiting run, in order.
    let mut config = serde_json::to_value(h.pipelines.get(&h.admin, "shop", "serial").await.unwrap()).unwrap();
    config["keepWaitingPipelines"] = json!(true);
    h.pipelines.save(&h.admin, "shop", config).await.unwrap();
    let a = h.start("serial", &[]).await;
    let b = h.start("serial", &[]).await;
    let c = h.start("serial", &[]).await;
    h.drain().await;
    assert_eq!([h.get(&b.id).await.status, h.get(&c.id).await.status], [Status::Buffered, Status::Buffered]);
    for _ in 0..3 {
        h.clock.advance(10_000);
        h.drain().await;
    }
    for run in [a, b, c] {
        assert_eq!(h.get(&run.id).await.status, Status::Succeeded);
    }
}

async fn expressions_feed_later_stages_and_fail_loudly(db: Db) {
    let h = harness(db).await;
    let config = json!({"name": "exprs", "parameterConfig": [{"name": "replicas", "default": "2"}], "stages": [
        variables("1", "Compute", json!([{"key": "doubled", "value": "${#toInt(parameters.replicas) * 2}"}]), &[]),
        variables("2", "Use", json!([{"key": "message", "value": "scaling to ${stage('Compute').outputs.doubled} by ${trigger.user}"}]), &["1"]),
    ]});
    h.pipelines.save(&h.admin, "shop", config).await.unwrap();
    let started = h.start("exprs", &[("replicas", "3")]).await;
    h.drain().await;
    let done = h.get(&started.id).await;
    assert_eq!(done.status, Status::Succeeded);
    assert_eq!(done.stages[0].outputs["doubled"], json!(6));
    assert_eq!(done.stages[1].outputs["message"], json!("scaling to 6 by tester"));
    let evaluated = h.executions.evaluate(&h.admin, &started.id, "${stage('Use').outputs.message.length()}").await.unwrap();
    assert_eq!(evaluated, json!(22));

    h.save("broken", json!([variables("1", "Bad", json!([{"key": "x", "value": "${parameters.missing + 1}"}]), &[])])).await;
    let broken = h.run("broken").await;
    assert_eq!(broken.status, Status::Terminal);
    let error = broken.stages[0].error.clone().unwrap();
    assert!(error.contains("variables[0].value") && error.contains("${parameters.missing + 1}"), "names field and expression: {error}");

    let mut lenient = variables("1", "Lenient", json!([{"key": "x", "value": "${parameters.missing}"}]), &[]);
    lenient["failOnFailedExpressions"] = json!(false);
    h.save("lenient", json!([lenient])).await;
    let lenient = h.run("lenient").await;
    assert_eq!(lenient.status, Status::Succeeded);
    assert_eq!(lenient.stages[0].outputs["x"], json!("${parameters.missing}"), "the raw text stays");
    assert!(lenient.stages[0].warnings[0].contains("left as text"));
}

async fn manual_judgment_continues_or_stops(db: Db) {
    let h = harness(db).await;
    h.save("gated", json!([
        {"refId": "1", "name": "Approve", "type": "manualJudgment", "instructions": "Ship it?",
         "judgmentInputs": [{"value": "blue"}, {"value": "green"}]},
        variables("2", "After", json!([{"key": "color", "value": "${judgment('Approve')}"}]), &["1"]),
    ])).await;
    let started = h.start("gated", &[]).await;
    h.drain().await;
    h.clock.advance(120_000);
    h.drain().await;
    assert_eq!(status_of(&h.get(&started.id).await, "1"), Status::Running, "waits for a person");

    let wrong = Judgment { judgment_status: JudgmentStatus::Continue, judgment_input: Some("red".into()) };
    assert!(h.executions.judge(&h.admin, &started.id, "1", wrong).await.is_err());
    let judgment = Judgment { judgment_status: JudgmentStatus::Continue, judgment_input: Some("green".into()) };
    h.executions.judge(&h.admin, &started.id, "1", judgment.clone()).await.unwrap();
    h.drain().await;
    let done = h.get(&started.id).await;
    assert_eq!(done.status, Status::Succeeded);
    assert_eq!(done.stages[0].context["lastModifiedBy"], "tester");
    assert_eq!(done.stages[1].outputs["color"], json!("green"));
    assert!(h.executions.judge(&h.admin, &started.id, "1", judgment).await.is_err(), "judged once");

    let stopped = h.start("gated", &[]).await;
    h.drain().await;
    h.executions.judge(&h.admin, &stopped.id, "1", Judgment { judgment_status: JudgmentStatus::Stop, judgment_input: None }).await.unwrap();
    h.drain().await;
    let stopped = h.get(&stopped.id).await;
    assert_eq!(stopped.status, Status::Terminal);
    assert!(stopped.stages[0].error.as_deref().unwrap().contains("stopped by tester"));
}

#[tokio::test]
async fn a_stage_waits_for_its_execution_window() {
    let h = harness(Db::Sqlite).await;
    // The manual clock starts at 2027-01-15 08:00 UTC (a Friday); the window opens at 09:00.
    h.save("windowed", json!([{"refId": "1", "name": "Office hours", "type": "evaluateVariables", "variables": [],
        "restrictExecutionDuringTimeWindow": true,
        "restrictedExecutionWindow": {"whitelist": [{"startHour": 9, "startMin": 0, "endHour": 17, "endMin": 0}]}}])).await;
    let started = h.start("windowed", &[]).await;
    h.drain().await;
    let waiting = h.get(&started.id).await;
    assert_eq!(status_of(&waiting, "1"), Status::NotStarted);
    assert_eq!(waiting.status, Status::Running);
    h.clock.advance(59 * 60_000);
    h.drain().await;
    assert_eq!(status_of(&h.get(&started.id).await, "1"), Status::NotStarted, "08:59: still closed");
    h.clock.advance(60_000);
    h.drain().await;
    assert_eq!(h.get(&started.id).await.status, Status::Succeeded, "09:00: it ran");
}

both_databases!(pause_holds_and_resume_continues, a_failed_stage_restarts_with_fresh_expressions);

async fn pause_holds_and_resume_continues(db: Db) {
    let h = harness(db).await;
    h.save("pausable", json!([wait("1", 5, &[]), variables("2", "After", json!([{"key": "done", "value": true}]), &["1"])])).await;
    let started = h.start("pausable", &[]).await;
    h.drain().await;
    h.executions.pause(&h.admin, &started.id).await.unwrap();
    h.clock.advance(10_000);
    h.drain().await;
    let paused = h.get(&started.id).await;
    assert_eq!(paused.status, Status::Paused);
    assert_eq!(status_of(&paused, "1"), Status::Running, "nothing moves while paused");
    assert!(h.executions.pause(&h.admin, &started.id).await.is_err(), "pausing twice is refused");
    h.executions.resume(&h.admin, &started.id).await.unwrap();
    h.drain().await;
    let done = h.get(&started.id).await;
    assert_eq!(done.status, Status::Succeeded);
    assert_eq!(status_of(&done, "2"), Status::Succeeded);
}

async fn a_failed_stage_restarts_with_fresh_expressions(db: Db) {
    let h = harness(db).await;
    // The check passes only when the judgment chose "go"; the first judgment chooses "wait".
    h.save("flaky", json!([
        {"refId": "1", "name": "Gate", "type": "manualJudgment"},
        {"refId": "2", "name": "Check", "type": "checkPreconditions", "requisiteStageRefIds": ["1"],
         "preconditions": [{"type": "expression", "context": {"expression": "${judgment('Gate') == 'go'}"}, "failPipeline": true}]},
        variables("3", "After", json!([{"key": "ok", "value": true}]), &["2"]),
    ])).await;
    let started = h.start("flaky", &[]).await;
    h.drain().await;
    let judgment = Judgment { judgment_status: JudgmentStatus::Continue, judgment_input: Some("wait".into()) };
    h.executions.judge(&h.admin, &started.id, "1", judgment).await.unwrap();
    h.drain().await;
    let failed = h.get(&started.id).await;
    assert_eq!(failed.status, Status::Terminal);
    assert!(h.executions.restart_stage(&h.admin, &started.id, "3").await.is_err(), "a stage that never ran cannot be restarted");

    // Restarting the judgment runs it, the check and the stage after it again.
    h.executions.restart_stage(&h.admin, &started.id, "1").await.unwrap();
    h.drain().await;
    let reopened = h.get(&started.id).await;
    assert_eq!(reopened.status, Status::Running);
    assert_eq!(status_of(&reopened, "1"), Status::Running);
    assert_eq!(status_of(&reopened, "2"), Status::NotStarted);
    assert!(reopened.stages[1].error.is_none());
    let judgment = Judgment { judgment_status: JudgmentStatus::Continue, judgment_input: Some("go".into()) };
    h.executions.judge(&h.admin, &started.id, "1", judgment).await.unwrap();
    h.drain().await;
    let done = h.get(&started.id).await;
    assert_eq!(done.status, Status::Succeeded, "{:?}", done.stages[1].error);
    assert_eq!(done.stages[1].context["preconditions"][0]["context"]["expression"], json!(true), "evaluated anew");
}

/// A local HTTP receiver standing in for the systems webhooks call: it records what it gets
/// and answers per path (a real server over a real socket).
mod receiver {
    use std::sync::{Arc, Mutex};

    use axum::Json;
    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::IntoResponse;
    use axum::routing::{get, post};
    use serde_json::{Value, json};

    #[derive(Clone, Default)]
    pub struct Received {
        pub calls: Arc<Mutex<Vec<(String, HeaderMap, Value)>>>,
    }

    impl Received {
        fn count(&self, path: &str) -> usize {
            self.calls.lock().unwrap().iter().filter(|(p, _, _)| p == path).count()
        }
        pub fn bodies(&self, path: &str) -> Vec<(HeaderMap, Value)> {
            self.calls.lock().unwrap().iter().filter(|(p, _, _)| p == path).map(|(_, h, b)| (h.clone(), b.clone())).collect()
        }
    }

    async fn hook(State(r): State<Received>, headers: HeaderMap, Json(body): Json<Value>) -> impl IntoResponse {
        r.calls.lock().unwrap().push(("/hook".into(), headers, body));
        (StatusCode::CREATED, [(header::LOCATION, "/status/job")], Json(json!({"statusUrl": "/status/job", "id": "job"})))
    }

    async fn flaky(State(r): State<Received>, headers: HeaderMap) -> impl IntoResponse {
        r.calls.lock().unwrap().push(("/flaky".into(), headers, Value::Null));
        if r.count("/flaky") <= 2 { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK }
    }

    async fn status(State(r): State<Received>, Path(job): Path<String>) -> Json<Value> {
        let path = format!("/status/{job}");
        r.calls.lock().unwrap().push((path.clone(), HeaderMap::new(), Value::Null));
        let polls = r.count(&path);
        let status = match job.as_str() {
            "broken" => "FAILED",
            _ if polls <= 2 => "RUNNING",
            _ => "DONE",
        };
        Json(json!({"job": {"status": status}}))
    }

    pub async fn start() -> (String, Received) {
        let received = Received::default();
        let app = axum::Router::new()
            .route("/hook", post(hook))
            .route("/flaky", post(flaky))
            .route("/missing", post(|| async { StatusCode::NOT_FOUND }))
            .route("/status/{job}", get(status))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (address, received)
    }
}

both_databases!(webhooks_call_retry_and_wait_for_completion);

async fn webhooks_call_retry_and_wait_for_completion(db: Db) {
    let h = harness(db).await;
    let (base, received) = receiver::start().await;
    let hook = |ref_id: &str, path: &str, extra: Value| {
        let mut stage = json!({"refId": ref_id, "name": format!("Hook {ref_id}"), "type": "webhook", "url": format!("{base}{path}"),
            "method": "POST", "customHeaders": {"X-Team": "shop"}, "payload": {"env": "${parameters.env}", "by": "${trigger.user}"}});
        for (key, value) in extra.as_object().unwrap() {
            stage[key] = value.clone();
        }
        stage
    };
    let waiting = json!({"waitForCompletion": true, "statusUrlResolution": "webhookResponse", "statusUrlJsonPath": "$.statusUrl",
        "statusJsonPath": "$.job.status", "successStatuses": "DONE", "terminalStatuses": "FAILED"});
    let config = json!({"name": "hooks", "parameterConfig": [{"name": "env", "default": "prod"}], "stages": [hook("1", "/hook", waiting.clone())]});
    h.pipelines.save(&h.admin, "shop", config).await.unwrap();
    let started = h.start("hooks", &[]).await;
    for _ in 0..10 {
        h.drain().await;
        h.clock.advance(1_000);
    }
    let done = h.get(&started.id).await;
    assert_eq!(done.status, Status::Succeeded, "{:?}", done.stages[0].error);
    assert_eq!(done.stages[0].outputs["webhook"]["statusCode"], json!(201));
    assert_eq!(done.stages[0].outputs["webhookStatus"], json!("DONE"));
    let calls = received.bodies("/hook");
    assert_eq!(calls.len(), 1, "called once");
    assert_eq!(calls[0].1, json!({"env": "prod", "by": "tester"}), "the payload's expressions were evaluated");
    assert_eq!(calls[0].0["x-team"], "shop");
    assert_eq!(received.bodies("/status/job").len(), 3, "polled until DONE");

    let save_with_env = |name: &str, stages: Value| {
        let config = json!({"name": name, "parameterConfig": [{"name": "env", "default": "prod"}], "stages": stages});
        let h = &h;
        async move { h.pipelines.save(&h.admin, "shop", config).await.unwrap() }
    };
    save_with_env("flaky", json!([hook("1", "/flaky", json!({}))])).await;
    let flaky = h.start("flaky", &[]).await;
    for _ in 0..10 {
        h.drain().await;
        h.clock.advance(2_000);
    }
    let flaky = h.get(&flaky.id).await;
    assert_eq!(flaky.status, Status::Succeeded, "{:?}", flaky.stages[0].error);
    assert_eq!(flaky.stages[0].context["webhookAttempts"], json!(3), "two 503s retried");

    save_with_env("missing", json!([hook("1", "/missing", json!({}))])).await;
    let missing = h.run("missing").await;
    assert_eq!(missing.status, Status::Terminal);
    assert!(missing.stages[0].error.as_deref().unwrap().contains("404"));

    let mut broken = waiting.clone();
    broken["statusUrlResolution"] = json!("getMethod");
    let mut stage = hook("1", "/status/broken", broken);
    stage["method"] = json!("GET");
    save_with_env("broken", json!([stage])).await;
    let broken = h.run("broken").await;
    assert_eq!(broken.status, Status::Terminal);
    assert!(broken.stages[0].error.as_deref().unwrap().contains("status FAILED"), "{:?}", broken.stages[0].error);
}

/// Runs parked at a judgment, an hour-long wait and a child pipeline are not looked at while
/// they wait: the wait is due when it ends, the judgment and the child's end wake their stage.
async fn waiting_costs_nothing_until_its_moment_or_its_event(db: Db) {
    let h = harness(db).await;
    h.pipelines
        .save(&h.admin, "shop", json!({"name": "child", "stages": [{"refId": "1", "name": "Gate", "type": "manualJudgment"}]}))
        .await
        .unwrap();
    h.save("parked", json!([
        {"refId": "1", "name": "Approve", "type": "manualJudgment"},
        wait("2", 3600, &[]),
        {"refId": "3", "name": "Run child", "type": "pipeline", "application": "shop", "pipeline": "child"},
    ])).await;
    let started = h.start("parked", &[]).await;
    h.drain().await;
    let running = h.get(&started.id).await;
    assert!(running.stages.iter().all(|stage| stage.status == Status::Running), "all three wait");
    let child = running.stages[2].context["executionId"].as_str().unwrap().to_string();

    // 59 minutes pass, a minute at a time: nobody looks at the judgment or the wait, and the
    // parent looks at its child less and less often.
    let mut looks = 0;
    for _ in 0..59 {
        h.clock.advance(60_000);
        looks += h.deliveries().await;
    }
    assert!(looks <= 12, "only the child's safety-net poll, every five minutes; got {looks} deliveries");

    // The judgment wakes its stage at once, without the clock moving.
    h.executions.judge(&h.admin, &started.id, "1", Judgment { judgment_status: JudgmentStatus::Continue, judgment_input: None }).await.unwrap();
    h.drain().await;
    assert_eq!(status_of(&h.get(&started.id).await, "1"), Status::Succeeded);
    // So does the child's end, for the parent's pipeline stage.
    h.executions.judge(&h.admin, &child, "1", Judgment { judgment_status: JudgmentStatus::Continue, judgment_input: None }).await.unwrap();
    h.drain().await;
    assert_eq!(h.get(&child).await.status, Status::Succeeded);
    assert_eq!(status_of(&h.get(&started.id).await, "3"), Status::Succeeded, "the child's end woke its parent");
    assert_eq!(status_of(&h.get(&started.id).await, "2"), Status::Running);

    // The wait ends when its hour is up, on the first look.
    h.clock.advance(60_000);
    h.drain().await;
    let done = h.get(&started.id).await;
    assert_eq!(done.status, Status::Succeeded, "{:?}", done.stages);
}

/// Retention keeps a finished run's final state and drops the states before it; a running
/// run keeps every event, and only the instance holding the lease cleans up.
async fn retention_cuts_old_finished_runs_to_their_final_state(db: Db) {
    let h = harness(db).await;
    h.save("steps", json!([variables("1", "One", json!([{"key": "a", "value": 1}]), &[]), variables("2", "Two", json!([{"key": "b", "value": 2}]), &["1"])])).await;
    h.save("gated", json!([{"refId": "1", "name": "Approve", "type": "manualJudgment"}])).await;
    let finished = h.run("steps").await;
    assert_eq!(finished.status, Status::Succeeded);
    let waiting = h.start("gated", &[]).await;
    h.drain().await;
    let store = h.engine.store();
    let (finished_before, waiting_before) = (store.event_count(&finished.id).await.unwrap(), store.event_count(&waiting.id).await.unwrap());
    assert!(finished_before > 3 && waiting_before > 1);

    // Too recent for a 30-day retention: nothing goes.
    let now = h.engine.now();
    assert_eq!(server::retention::pass(store, "one", now, 30).await.unwrap(), 0);
    assert_eq!(store.event_count(&finished.id).await.unwrap(), finished_before);
    // 31 days on, on another instance while the first holds the lease: still nothing.
    let later = now + 31 * 24 * 3600 * 1000;
    assert_eq!(server::retention::pass(store, "two", now + 1000, 30).await.unwrap(), 0, "the lease is the first instance's");
    let removed = server::retention::pass(store, "one", later, 30).await.unwrap();
    assert_eq!(removed as i64, finished_before - 1);
    assert_eq!(store.event_count(&finished.id).await.unwrap(), 1, "the final state stays");
    assert_eq!(store.event_count(&waiting.id).await.unwrap(), waiting_before, "a running run keeps its log");
    let kept = store.events_after(Some(&finished.id), None, 0, 10).await.unwrap();
    // The run's last event was a delta; what stays is the whole run as it ended.
    assert_eq!(kept[0].change, app::model::execution::Change::Execution(h.get(&finished.id).await), "what stays is the run as it ended");
    // 0 days: keep everything.
    assert_eq!(server::retention::pass(store, "one", later, 0).await.unwrap(), 0);
}

both_databases!(a_pipeline_stage_runs_another_and_follows_its_fate);

async fn a_pipeline_stage_runs_another_and_follows_its_fate(db: Db) {
    let h = harness(db).await;
    let child = json!({"name": "child", "parameterConfig": [{"name": "size", "required": true}], "stages": [
        {"refId": "1", "name": "Echo", "type": "evaluateVariables", "variables": [{"key": "size", "value": "${parameters.size}"},
            {"key": "parent", "value": "${trigger.parentExecution.name}"}]},
        {"refId": "2", "name": "Gate", "type": "manualJudgment", "requisiteStageRefIds": ["1"]}
    ]});
    h.pipelines.save(&h.admin, "shop", child).await.unwrap();
    h.save("parent", json!([{"refId": "1", "name": "Run child", "type": "pipeline", "application": "shop", "pipeline": "child",
        "pipelineParameters": {"size": "${'large'}"}}])).await;

    let parent = h.start("parent", &[]).await;
    h.drain().await;
    h.clock.advance(1_000);
    h.drain().await;
    let running = h.get(&parent.id).await;
    assert_eq!(status_of(&running, "1"), Status::Running, "waits for the child");
    let child_id = running.stages[0].context["executionId"].as_str().unwrap().to_string();
    let child = h.get(&child_id).await;
    assert_eq!(child.trigger.kind, "pipeline");
    assert_eq!(child.trigger.extra["parentExecution"]["id"], json!(parent.id));
    assert_eq!(child.stages[0].outputs["size"], json!("large"));
    assert_eq!(child.stages[0].outputs["parent"], json!("parent"));

    h.executions.judge(&h.admin, &child_id, "2", Judgment { judgment_status: JudgmentStatus::Continue, judgment_input: None }).await.unwrap();
    h.drain().await;
    h.clock.advance(1_000);
    h.drain().await;
    assert_eq!(h.get(&parent.id).await.status, Status::Succeeded);

    // A child that fails fails the parent, with the reason in plain words.
    let failing = h.start("parent", &[]).await;
    h.drain().await;
    let child_id = h.get(&failing.id).await.stages[0].context["executionId"].as_str().unwrap().to_string();
    h.executions.judge(&h.admin, &child_id, "2", Judgment { judgment_status: JudgmentStatus::Stop, judgment_input: None }).await.unwrap();
    h.drain().await;
    h.clock.advance(1_000);
    h.drain().await;
    let failed = h.get(&failing.id).await;
    assert_eq!(failed.status, Status::Terminal);
    assert!(failed.stages[0].error.as_deref().unwrap().contains("ended TERMINAL"));

    h.save("orphan", json!([{"refId": "1", "type": "pipeline", "application": "shop", "pipeline": "nope"}])).await;
    let orphan = h.run("orphan").await;
    assert!(orphan.stages[0].error.as_deref().unwrap().contains("not found"));
}

#[tokio::test]
async fn canceling_a_parent_cancels_its_child_and_calls_cancel_hooks() {
    let h = harness(Db::Sqlite).await;
    let (base, received) = receiver::start().await;
    h.save("child", json!([wait("1", 3600, &[])])).await;
    h.save("parent", json!([
        {"refId": "1", "name": "Run child", "type": "pipeline", "application": "shop", "pipeline": "child"},
        {"refId": "2", "name": "Job", "type": "webhook", "url": format!("{base}/status/job"), "method": "GET",
         "waitForCompletion": true, "statusJsonPath": "$.job.status", "successStatuses": "NEVER",
         "cancelEndpoint": format!("{base}/hook"), "cancelPayload": {"cancel": "job"}}
    ])).await;
    let parent = h.start("parent", &[]).await;
    h.drain().await;
    let running = h.get(&parent.id).await;
    let child_id = running.stages[0].context["executionId"].as_str().unwrap().to_string();
    assert_eq!(h.get(&child_id).await.status, Status::Running);

    h.executions.cancel(&h.admin, &parent.id, Some("stop everything".into())).await.unwrap();
    h.drain().await;
    assert_eq!(h.get(&parent.id).await.status, Status::Canceled);
    let child = h.get(&child_id).await;
    assert_eq!(child.status, Status::Canceled, "the child run is canceled with its parent");
    assert_eq!(child.canceled_by.as_deref(), Some("parent pipeline"));
    let cancels = received.bodies("/hook");
    assert_eq!(cancels.len(), 1, "the webhook's cancel endpoint was called");
    assert_eq!(cancels[0].1, json!({"cancel": "job"}));
}

both_databases!(
    simultaneous_starts_of_a_serial_pipeline_run_one_at_a_time,
    every_kind_of_start_publishes_its_first_event_and_supersedes_waiting_runs,
);

/// `limitConcurrent` is decided where the run is stored, under a lock per pipeline: starts in
/// the same instant (on PostgreSQL, each on its own connection) cannot all see "nothing runs".
async fn simultaneous_starts_of_a_serial_pipeline_run_one_at_a_time(db: Db) {
    let h = harness(db).await;
    h.save("serial", json!([wait("1", 10, &[])])).await;
    let mut config = serde_json::to_value(h.pipelines.get(&h.admin, "shop", "serial").await.unwrap()).unwrap();
    config["keepWaitingPipelines"] = json!(true);
    h.pipelines.save(&h.admin, "shop", config).await.unwrap();
    // Open a connection per start first, so that the starts really overlap.
    let reads = (0..8).map(|_| h.pipelines.get(&h.admin, "shop", "serial"));
    futures_util::future::join_all(reads).await;
    let starts = (0..8).map(|_| h.executions.start(&h.admin, "shop", "serial", StartRequest::default()));
    let started: Vec<Execution> = futures_util::future::join_all(starts).await.into_iter().map(Result::unwrap).collect();
    let running: Vec<&Execution> = started.iter().filter(|run| run.status == Status::NotStarted).collect();
    assert_eq!(running.len(), 1, "exactly one start runs: {:?}", started.iter().map(|r| r.status).collect::<Vec<_>>());
    assert_eq!(started.iter().filter(|run| run.status == Status::Buffered).count(), 7);
    // They then run one after another, each to the end, in the order they were stored.
    for _ in 0..8 {
        h.drain().await;
        let mut active = 0;
        for run in &started {
            if matches!(h.get(&run.id).await.status, Status::Running | Status::NotStarted) {
                active += 1;
            }
        }
        assert_eq!(active, 1, "one run at a time");
        h.clock.advance(10_000);
    }
    h.drain().await;
    for run in &started {
        assert_eq!(h.get(&run.id).await.status, Status::Succeeded);
    }
}

/// Runs started by a trigger and by a `pipeline` stage go through the same door as a manual
/// start: their first state reaches live subscribers, and a waiting run is superseded by a
/// newer one whoever started either.
async fn every_kind_of_start_publishes_its_first_event_and_supersedes_waiting_runs(db: Db) {
    let h = harness(db).await;
    // "slow" runs one at a time (without keepWaitingPipelines) and starts when "quick" ends.
    h.pipelines
        .save(&h.admin, "shop", json!({"name": "slow", "stages": [wait("1", 60, &[])],
            "triggers": [{"type": "pipeline", "application": "shop", "pipeline": "quick", "status": ["successful"]}]}))
        .await
        .unwrap();
    h.save("quick", json!([variables("1", "Quick", json!([{"key": "a", "value": 1}]), &[])])).await;
    h.save("parent", json!([{"refId": "1", "name": "Run slow", "type": "pipeline", "application": "shop", "pipeline": "slow",
        "waitForCompletion": false}])).await;
    let mut events = h.engine.subscribe();

    let manual = h.start("slow", &[]).await;
    h.drain().await;
    h.run("quick").await;
    let parent = h.run("parent").await;
    assert_eq!(parent.status, Status::Succeeded, "{:?}", parent.stages[0].error);
    let child_id = parent.stages[0].outputs["executionId"].as_str().unwrap().to_string();

    let mut first_states: BTreeMap<String, (String, Status)> = BTreeMap::new();
    while let Ok(event) = events.try_recv() {
        // A run's first event is the whole run.
        if let app::model::execution::Change::Execution(execution) = event.change {
            first_states.entry(execution.id.clone()).or_insert((execution.trigger.kind.clone(), execution.status));
        }
    }
    let triggered: Vec<(&String, &(String, Status))> = first_states.iter().filter(|(_, (kind, _))| kind == "pipeline").collect();
    assert_eq!(triggered.len(), 2, "the trigger's run and the stage's child each published their first state: {first_states:?}");
    for (id, (_, status)) in &triggered {
        assert_eq!(*status, Status::Buffered, "{id} waits for the manual run");
    }
    assert!(first_states.contains_key(&child_id));

    // The child (newest) superseded the triggered run (older), as a manual start would have.
    let triggered_id = triggered.iter().map(|(id, _)| (*id).clone()).find(|id| *id != child_id).unwrap();
    let superseded = h.get(&triggered_id).await;
    assert_eq!(superseded.status, Status::Canceled);
    assert_eq!(superseded.cancellation_reason.as_deref(), Some("a newer run of the pipeline superseded it"));
    assert_eq!(h.get(&child_id).await.status, Status::Buffered);
    assert_eq!(h.get(&manual.id).await.status, Status::Running);

    // When the manual run ends, the waiting child starts.
    h.clock.advance(60_000);
    h.drain().await;
    assert_eq!(h.get(&manual.id).await.status, Status::Succeeded);
    assert_eq!(h.get(&child_id).await.status, Status::Running);
}
