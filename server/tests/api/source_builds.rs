//! Server groups built from source on the local cloud, end to end: a real git repository in a
//! folder (reached with a `file://` URL), a git push delivered to the webhook, a pipeline that
//! binds the pushed commit and deploys it red/black; the instances serve what that commit's
//! build made, each commit is built once, and a build that fails fails the deploy with its log.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{Db, TestApp, finished_as, spawn_app_with};

fn git(repository: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .args(args)
        .current_dir(repository)
        .env("GIT_AUTHOR_NAME", "tester")
        .env("GIT_AUTHOR_EMAIL", "tester@example.test")
        .env("GIT_COMMITTER_NAME", "tester")
        .env("GIT_COMMITTER_EMAIL", "tester@example.test")
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Commits `page` as `index.src` and answers the commit.
fn commit(repository: &Path, page: &str) -> String {
    std::fs::write(repository.join("index.src"), page).unwrap();
    git(repository, &["add", "."]);
    git(repository, &["commit", "--quiet", "-m", page]);
    git(repository, &["rev-parse", "HEAD"])
}

/// A push of `commit` to the repository, as GitHub describes one.
async fn push(app: &TestApp, url: &str, commit: &str) -> String {
    let body = json!({"ref": "refs/heads/main", "after": commit,
        "repository": {"name": "site", "full_name": "acme/site", "owner": {"login": "acme"}, "clone_url": url}});
    let answer: Value = app.client.post(app.url("/api/v1/webhooks/git/github")).header("x-github-event", "push").json(&body).send().await.unwrap().json().await.unwrap();
    answer["triggered"][0]["executionId"].as_str().unwrap_or_else(|| panic!("nothing started: {answer}")).to_string()
}

/// What the server group's instance serves at `/index.html`.
async fn served(app: &TestApp, server_group: &str) -> String {
    let group: Value = app.get(&format!("/api/v1/applications/site/serverGroups/local/local/{server_group}")).await.json().await.unwrap();
    let address = group["instances"][0]["address"].as_str().unwrap_or_else(|| panic!("no instance: {group}")).to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(response) = reqwest::get(format!("http://{address}/index.html")).await
            && response.status().is_success()
        {
            return response.text().await.unwrap();
        }
        assert!(Instant::now() < deadline, "{server_group} never served");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_git_push_deploys_that_commit_built_from_source_red_black() {
    let root = std::env::temp_dir().join(format!("gennaker-source-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let repository = root.join("site");
    std::fs::create_dir_all(&repository).unwrap();
    git(&repository, &["init", "--quiet", "--initial-branch=main"]);
    let url = format!("file://{}", repository.display());
    let work = root.join("work");
    let app = spawn_app_with(Db::Sqlite, |config| config.work_dir = Some(work.clone())).await;
    app.create_application("site").await;
    let pipeline = json!({"name": "publish", "limitConcurrent": true,
        "expectedArtifacts": [{"id": "src", "matchArtifact": {"type": "git/repo", "name": ".*/site"}}],
        "triggers": [{"type": "git", "source": "github", "project": "acme", "slug": "site", "branch": "main", "runAsUser": "admin"}],
        "stages": [{"refId": "1", "type": "deploy", "name": "Deploy", "clusters": [{"application": "site", "stack": "web",
            "capacity": {"min": 1, "max": 1, "desired": 1}, "strategy": "redblack", "artifactId": "src",
            "buildCommand": ["sh", "-c", "sed 's/^/built: /' index.src > index.html && echo once >> ../builds.log && echo \"building $(cat index.src)\""],
            "runCommand": ["sh", "-c", "exec python3 -m http.server --bind 127.0.0.1 \"$PORT\""]}]}]});
    let saved = app.post_json("/api/v1/applications/site/pipelines", &pipeline).await;
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());

    let first = commit(&repository, "one");
    let run = finished_as(&app, &app.client, &push(&app, &url, &first).await, 60).await;
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_eq!(served(&app, "site-web-v000").await.trim(), "built: one");

    let second = commit(&repository, "two");
    let run = finished_as(&app, &app.client, &push(&app, &url, &second).await, 60).await;
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_eq!(served(&app, "site-web-v001").await.trim(), "built: two", "the pushed commit, not the branch's head at some other time");
    // The build's log is kept and shown (the checkout's and the build's output).
    let log: Value = app.get("/api/v1/applications/site/serverGroups/local/local/site-web-v001/buildLog").await.json().await.unwrap();
    assert!(log["log"].as_str().unwrap_or_default().contains("building two"), "the build's output: {log}");
    let old: Value = app.get("/api/v1/applications/site/serverGroups/local/local/site-web-v000").await.json().await.unwrap();
    assert_eq!(old["disabled"], true, "red/black disabled the previous server group");

    // Each commit is built once: a redeploy of the first reuses its build.
    let builds_of = |commit: &str| -> usize {
        let folders = std::fs::read_dir(work.join("builds")).unwrap();
        folders
            .filter_map(Result::ok)
            .filter(|folder| std::fs::read_to_string(folder.path().join("built")).is_ok_and(|built| built == commit))
            .map(|folder| std::fs::read_to_string(folder.path().join("builds.log")).unwrap_or_default().lines().count())
            .sum()
    };
    let run = finished_as(&app, &app.client, &push(&app, &url, &first).await, 60).await;
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    assert_eq!(builds_of(&first), 1, "built once though deployed twice");
    assert_eq!(builds_of(&second), 1);

    // A broken build fails the deploy, quoting its log.
    std::fs::remove_file(repository.join("index.src")).unwrap();
    git(&repository, &["add", "-A"]);
    git(&repository, &["commit", "--quiet", "-m", "break"]);
    let broken = git(&repository, &["rev-parse", "HEAD"]);
    let run = finished_as(&app, &app.client, &push(&app, &url, &broken).await, 60).await;
    assert_eq!(run["status"], "TERMINAL", "{run}");
    let error = run["stages"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("the build of") && error.contains("index.src"), "the log's tail names what went wrong: {error}");
    drop(app);
    let _ = std::fs::remove_dir_all(&root);
}
