//! Bulk import: `gennaker import` (the real binary) reads a Front50 storage folder and
//! `spin pipeline list` output, sends them to a running gennaker, and prints per pipeline
//! imported, imported with warnings, or refused and why; a second import changes nothing.

use serde_json::{Value, json};

use crate::helpers::{Db, binary, spawn_app};

fn write(path: &std::path::Path, value: &Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
}

fn fixture(file: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/spinnaker").join(file);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn import(app: &crate::helpers::TestApp, folder: &std::path::Path) -> (bool, String) {
    let output = tokio::process::Command::new(binary())
        .args(["import", "--url", &app.address, folder.to_str().unwrap()])
        .env("GENNAKER_TOKEN", &app.admin_token)
        .output()
        .await
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[tokio::test]
async fn a_spinnaker_export_imports_once_and_says_what_became_of_each_pipeline() {
    let app = spawn_app(Db::Sqlite).await;
    let folder = std::env::temp_dir().join(format!("gennaker-import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    // Front50's layout: applications/<NAME>/application-metadata.json, pipelines/<id>/pipeline-metadata.json.
    write(&folder.join("front50/applications/STORE/application-metadata.json"),
        &json!({"name": "STORE", "email": "store@example.test", "createTs": "1700000000000", "permissions": {"READ": ["store-team"], "WRITE": ["store-team"]}}));
    let mut judged = fixture("01-helm3-bake-deploy-spel-name.json");
    judged["application"] = json!("store");
    judged["id"] = json!("p-judged");
    write(&folder.join("front50/pipelines/p-judged/pipeline-metadata.json"), &judged);
    let mut runnable = json!({"application": "store", "name": "settle", "id": "p-settle", "updateTs": "1700000000001",
        "stages": [{"type": "wait", "waitTime": "5"}, {"type": "manualJudgment", "name": "Approve"}]});
    write(&folder.join("front50/pipelines/p-settle/pipeline-metadata.json"), &runnable);
    write(&folder.join("front50/pipelines/p-settle/last-modified.json"), &json!({"lastModified": 1700000000001_i64}));
    // spin pipeline list --application other > other.json
    let cyclic = json!({"application": "other", "name": "loop", "stages": [
        {"refId": "1", "type": "wait", "waitTime": 1, "requisiteStageRefIds": ["2"]},
        {"refId": "2", "type": "wait", "waitTime": 1, "requisiteStageRefIds": ["1"]}]});
    write(&folder.join("other.json"), &json!([fixture("15-spin-pipeline-list-item.json"), cyclic]));

    let (succeeded, text) = import(&app, &folder).await;
    assert!(!succeeded, "one pipeline is refused, so the command fails: {text}");
    assert!(text.contains("application store: created"), "{text}");
    assert!(text.contains("pipeline store/settle: imported\n"), "{text}");
    assert!(text.contains("pipeline store/") && text.contains(": imported with warnings"), "{text}");
    assert!(text.contains("bakeManifest"), "the warning names the stage type: {text}");
    assert!(text.contains("pipeline other/loop: refused: stages[0].requisiteStageRefIds"), "{text}");
    assert!(text.contains("skipped") && text.contains("last-modified.json"), "{text}");
    let store: Value = app.get("/api/v1/applications/store").await.json().await.unwrap();
    assert_eq!(store["email"], "store@example.test");
    assert_eq!(store["permissions"]["WRITE"], json!(["store-team"]));
    let settle: Value = app.get("/api/v1/applications/store/pipelines/p-settle").await.json().await.unwrap();
    assert_eq!(settle["stages"][1]["requisiteStageRefIds"], json!(["1"]), "numbered as Orca runs them");
    assert_eq!(settle["revision"], 1);

    // Again: nothing changes (and nothing is saved), the refused one is refused again.
    let (_, text) = import(&app, &folder).await;
    assert!(text.contains("application store: exists"), "{text}");
    assert!(text.contains("pipeline store/settle: unchanged"), "{text}");
    assert!(!text.contains(": imported"), "a second import saves nothing: {text}");
    let settle: Value = app.get("/api/v1/applications/store/pipelines/p-settle").await.json().await.unwrap();
    assert_eq!(settle["revision"], 1);

    // A changed export saves a new revision.
    runnable["stages"][0]["waitTime"] = json!("7");
    write(&folder.join("front50/pipelines/p-settle/pipeline-metadata.json"), &runnable);
    let (_, text) = import(&app, &folder).await;
    assert!(text.contains("pipeline store/settle: imported\n"), "{text}");
    let settle: Value = app.get("/api/v1/applications/store/pipelines/p-settle").await.json().await.unwrap();
    assert_eq!(settle["revision"], 2);

    // The REST call answers the same report, and the caller's permissions apply.
    let mallory = app.user_client("mallory", &[]).await;
    let answer: Value = mallory
        .post(app.url("/api/v1/import"))
        .json(&json!({"pipelines": [{"application": "store", "name": "sneaky", "stages": []}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["pipelines"][0]["outcome"], "refused", "{answer}");
    assert!(answer["pipelines"][0]["reason"].as_str().unwrap().contains("WRITE") || answer["pipelines"][0]["reason"].as_str().unwrap().contains("Write"), "{answer}");
    std::fs::remove_dir_all(&folder).ok();
}
