//! The web dashboard over a real socket, on a run store filled by real runs of tiny
//! flows (completed; failed after retries, its downstream task cancelled): the JSON
//! API, the token, the reports served without path traversal; then every page in
//! headless Chromium (screenshots in `<target>/tmp/dashboard-screenshots/`, printed),
//! and the key flow: "Run now" on the Deployments page, then the new run's page
//! updating itself to `completed` without a reload.
//!
//! Without a `chromium` on the PATH the browser tests say so and pass, unless
//! `BANKPIPE_REQUIRE_BROWSER=1` (CI sets it).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use futures::future::BoxFuture;
use futures::{SinkExt, StreamExt};
use monitoring::checks::{Outcome, Severity, Verdict};
use orchestration::dashboard::{DashboardState, DeploymentView, Launcher, serve_on};
use orchestration::runtime::{
    BACKFILL_PARAMETER, Backoff, Executor, Flow, FlowRunId, LogLevel, RunFilter, RunRequest,
    RunState, RunStore, Task, TaskContext, TaskError, TaskOutput, TaskPolicy,
};
use orchestration::schedule::new_backfill_id;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};
use tokio_tungstenite::tungstenite::Message;

// ---------------------------------------------------------------------------------
// The site under test.

/// The deployment of the fake launcher.
const DEPLOYMENT: &str = "sleepy-hourly";

/// A launcher of one deployment, `sleepy-hourly`, whose flow `sleepy` has one task
/// that waits until the test opens its gate (or 20 s), through the real executor.
struct FakeLauncher {
    executor: Executor,
    flow: Flow,
    paused: Mutex<bool>,
}

impl FakeLauncher {
    fn new(store: RunStore, gate: Arc<Notify>) -> Self {
        let task = Task::new("wait", move |ctx: TaskContext| {
            let gate = Arc::clone(&gate);
            async move {
                ctx.log(LogLevel::Info, "waiting for the gate");
                let _ = tokio::time::timeout(Duration::from_secs(20), gate.notified()).await;
                ctx.log(LogLevel::Info, "woke up");
                Ok(TaskOutput {
                    rows_in: Some(1),
                    rows_out: Some(1),
                    bytes: None,
                    note: None,
                })
            }
        });
        let report =
            Task::new("report", |_ctx| async { Ok(TaskOutput::default()) }).after(["wait"]);
        FakeLauncher {
            executor: Executor::new(store),
            flow: Flow::builder("sleepy")
                .task(task)
                .task(report)
                .build()
                .expect("a valid flow"),
            paused: Mutex::new(false),
        }
    }
}

impl Launcher for FakeLauncher {
    fn deployments(&self) -> Vec<DeploymentView> {
        let paused = *self.paused.lock().expect("paused");
        let next = Utc::now()
            .date_naive()
            .and_hms_opt(8, 0, 0)
            .expect("08:00")
            .and_utc();
        vec![DeploymentView {
            name: DEPLOYMENT.into(),
            flow: "sleepy".into(),
            schedule_words: "every hour, <on the hour>".into(),
            cron: "0 * * * *".into(),
            timezone: "Europe/Paris".into(),
            paused,
            next_runs: if paused {
                Vec::new()
            } else {
                (1..=5).map(|h| next + TimeDelta::hours(h)).collect()
            },
        }]
    }

    fn trigger(
        &self,
        deployment: &str,
        parameters: BTreeMap<String, String>,
    ) -> BoxFuture<'static, Result<FlowRunId, String>> {
        let (executor, flow) = (self.executor.clone(), self.flow.clone());
        let deployment = deployment.to_owned();
        Box::pin(async move {
            let store = executor.store().clone();
            let newest = || async {
                store
                    .list_runs(RunFilter {
                        limit: Some(1),
                        ..RunFilter::default()
                    })
                    .await
                    .map_err(|e| e.to_string())
                    .map(|runs| runs.first().map(|run| run.id))
            };
            let before = newest().await?;
            let request = RunRequest {
                parameters,
                deployment: Some(deployment),
            };
            tokio::spawn(async move { executor.run(&flow, request).await });
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(10) {
                if let Some(id) = newest().await?.filter(|id| Some(*id) != before) {
                    return Ok(id);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err("the run did not start".into())
        })
    }

    fn pause(&self, _deployment: &str) -> BoxFuture<'static, Result<(), String>> {
        *self.paused.lock().expect("paused") = true;
        Box::pin(async { Ok(()) })
    }

    fn resume(&self, _deployment: &str) -> BoxFuture<'static, Result<(), String>> {
        *self.paused.lock().expect("paused") = false;
        Box::pin(async { Ok(()) })
    }
}

/// The runs the store is filled with.
struct Runs {
    completed: FlowRunId,
    failed: FlowRunId,
    weekly: FlowRunId,
}

/// Runs tiny flows through the real executor: `daily` completed, `daily` failed
/// (its `build` fails its three attempts, `publish` after it is cancelled), `weekly`
/// completed.
async fn populate(store: &RunStore) -> Runs {
    let ingest = || {
        Task::new("ingest", |ctx: TaskContext| async move {
            ctx.log(LogLevel::Info, "read 100 rows");
            Ok(TaskOutput {
                rows_in: Some(100),
                rows_out: Some(97),
                bytes: Some(4_096),
                note: Some("3 rows quarantined".into()),
            })
        })
    };
    let good = Flow::builder("daily")
        .task(ingest())
        .task(Task::new("build", |_ctx| async { Ok(TaskOutput::default()) }).after(["ingest"]))
        .build()
        .expect("a valid flow");
    let bad = Flow::builder("daily")
        .task(ingest())
        .task(
            Task::new("build", |_ctx| async {
                Err(TaskError::retryable("bad <row> & co"))
            })
            .after(["ingest"])
            .with_policy(TaskPolicy {
                retries: 2,
                backoff: Backoff::NONE,
                timeout: None,
            }),
        )
        .task(Task::new("publish", |_ctx| async { Ok(TaskOutput::default()) }).after(["build"]))
        .build()
        .expect("a valid flow");
    let weekly = Flow::builder("weekly")
        .task(Task::new("summarise", |_ctx| async {
            Ok(TaskOutput::default())
        }))
        .build()
        .expect("a valid flow");
    let executor = Executor::new(store.clone());
    let date = RunRequest::default().with_parameter("business_date", "2026-11-24");
    let completed = executor.run(&good, date.clone()).await.expect("run");
    let failed = executor.run(&bad, date).await.expect("run");
    let weekly = executor
        .run(&weekly, RunRequest::default())
        .await
        .expect("run");
    assert_eq!(completed.run.state, RunState::Completed);
    assert_eq!(failed.run.state, RunState::Failed);
    Runs {
        completed: completed.run.id,
        failed: failed.run.id,
        weekly: weekly.run.id,
    }
}

/// A dashboard served on 127.0.0.1 (a free port) until dropped.
struct Site {
    base: String,
    dir: tempfile::TempDir,
    runs: Runs,
    gate: Arc<Notify>,
    store: RunStore,
    _stop: oneshot::Sender<()>,
}

impl Site {
    async fn start(token: Option<&str>) -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = RunStore::open_in(dir.path()).await.expect("run store");
        let runs = populate(&store).await;
        write_report(dir.path());
        let gate = Arc::new(Notify::new());
        let launcher = Arc::new(FakeLauncher::new(store.clone(), Arc::clone(&gate)));
        let mut state = DashboardState::new(store.clone(), launcher, dir.path());
        if let Some(token) = token {
            state = state.with_token(token);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let base = format!("http://{}", listener.local_addr().expect("its address"));
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve_on(listener, state, async {
            let _ = stopped.await;
        }));
        Site {
            base,
            dir,
            runs,
            gate,
            store,
            _stop: stop,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get_json(&self, path: &str) -> Value {
        let response = client().get(self.url(path)).send().await.expect("GET");
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json_value().await
    }

    async fn get_html(&self, path: &str) -> String {
        let response = client().get(self.url(path)).send().await.expect("GET");
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.text().await.expect("a page")
    }

    /// Waits until run `id` has ended, and returns it as the API shows it.
    async fn ended(&self, id: i64) -> Value {
        let started = Instant::now();
        loop {
            let run = self.get_json(&format!("/api/runs/{id}")).await;
            if run["run"]["active"] == json!(false) {
                return run;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "run {id} still going: {run}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A quality report of run `run-7`, as `bankpipe quality` writes it (`.json` and
/// `.html`), and a secret beside the reports' folder.
fn write_report(data: &Path) {
    let reports = data.join("monitoring").join("reports");
    std::fs::create_dir_all(&reports).expect("reports folder");
    let verdict = |check: &str, severity, outcome| Verdict {
        check: check.into(),
        table: "fact_transactions".into(),
        severity,
        owner: Some("data-team".into()),
        outcome,
        observed: "rows 4900".into(),
        expected: "9000–11000".into(),
    };
    let verdicts = vec![
        verdict("rows_usual", Severity::Warn, Outcome::Fail),
        verdict("amount_complete", Severity::Error, Outcome::Pass),
        verdict("ids_unique", Severity::Error, Outcome::Pass),
        verdict("nulls_usual", Severity::Warn, Outcome::NotJudged),
    ];
    let report = json!({
        "run_id": "run-7",
        "as_of": "2026-11-24",
        "verdicts": verdicts,
        "alerts": [],
        "deliveries": [],
    });
    std::fs::write(reports.join("run-7.json"), report.to_string()).expect("json report");
    let page = monitoring::report::html(&monitoring::report::ReportData {
        run_id: "run-7".into(),
        as_of: "2026-11-24".into(),
        verdicts,
        series: Vec::new(),
        quarantine: Vec::new(),
        deliveries: Vec::new(),
        profiles: Vec::new(),
    });
    std::fs::write(reports.join("run-7.html"), page).expect("html report");
    std::fs::write(data.join("secret.html"), "TOP-SECRET").expect("secret");
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

/// `reqwest` here has no `json` feature: the body as JSON by hand.
trait JsonBody {
    async fn json_value(self) -> Value;
}

impl JsonBody for reqwest::Response {
    async fn json_value(self) -> Value {
        let text = self.text().await.expect("a body");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }
}

// ---------------------------------------------------------------------------------
// The API.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_lists_runs_newest_first_filtered_and_paged() {
    let site = Site::start(None).await;
    let all = site.get_json("/api/runs").await;
    assert_eq!(all["total"], 3);
    let ids: Vec<i64> = all["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(
        ids,
        [
            site.runs.weekly.0,
            site.runs.failed.0,
            site.runs.completed.0
        ]
    );

    let daily = site.get_json("/api/runs?flow=daily").await;
    assert_eq!(daily["total"], 2);
    let failed = site.get_json("/api/runs?state=failed").await;
    assert_eq!(failed["total"], 1);
    assert_eq!(failed["runs"][0]["id"], site.runs.failed.0);
    assert!(
        failed["runs"][0]["error"]
            .as_str()
            .expect("an error")
            .contains("build"),
        "{failed}"
    );
    assert_eq!(
        failed["runs"][0]["parameters"]["business_date"],
        "2026-11-24"
    );

    let second = site.get_json("/api/runs?limit=1&offset=1").await;
    assert_eq!(second["total"], 3);
    assert_eq!(second["runs"].as_array().expect("runs").len(), 1);
    assert_eq!(second["runs"][0]["id"], site.runs.failed.0);

    let wrong = client()
        .get(site.url("/api/runs?state=sideways"))
        .send()
        .await
        .expect("GET");
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let wrong = wrong.json_value().await;
    assert!(wrong["error"].as_str().expect("error").contains("sideways"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_shows_a_run_with_its_tasks_and_tails_its_logs() {
    let site = Site::start(None).await;
    let id = site.runs.failed.0;
    let run = site.get_json(&format!("/api/runs/{id}")).await;
    assert_eq!(run["run"]["state"], "failed");
    assert_eq!(run["run"]["active"], false);
    let tasks: BTreeMap<&str, &Value> = run["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| (t["task"].as_str().expect("name"), t))
        .collect();
    assert_eq!(tasks["ingest"]["state"], "completed");
    assert_eq!(tasks["ingest"]["rows_in"], 100);
    assert_eq!(tasks["ingest"]["rows_out"], 97);
    assert_eq!(tasks["build"]["state"], "failed");
    assert_eq!(tasks["build"]["attempts"], 3);
    assert_eq!(tasks["build"]["error"], "bad <row> & co");
    assert_eq!(tasks["publish"]["state"], "cancelled");
    assert_eq!(tasks["publish"]["attempts"], 0);

    let logs = site.get_json(&format!("/api/runs/{id}/logs")).await;
    let lines = logs["logs"].as_array().expect("logs");
    assert!(lines.len() >= 4, "{logs}");
    assert_eq!(logs["last_id"], lines[lines.len() - 1]["id"]);
    let second = lines[1]["id"].as_i64().expect("id");
    let rest = site
        .get_json(&format!("/api/runs/{id}/logs?after={second}"))
        .await;
    assert_eq!(
        rest["logs"].as_array().expect("logs").len(),
        lines.len() - 2
    );
    assert_eq!(rest["logs"][0]["id"], lines[2]["id"]);

    let build = tasks["build"]["id"].as_i64().expect("id");
    let build_logs = site
        .get_json(&format!("/api/runs/{id}/logs?task={build}"))
        .await;
    let messages: Vec<&str> = build_logs["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .map(|l| l["message"].as_str().expect("message"))
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("attempt 1 of 3 failed")),
        "{messages:?}"
    );
    assert!(
        build_logs["logs"]
            .as_array()
            .expect("logs")
            .iter()
            .all(|l| l["task_run_id"] == build)
    );

    for (path, status) in [
        ("/api/runs/999999".to_owned(), StatusCode::NOT_FOUND),
        (
            format!("/api/runs/{id}/logs?task=999999"),
            StatusCode::NOT_FOUND,
        ),
        ("/api/runs/abc".to_owned(), StatusCode::BAD_REQUEST),
    ] {
        let response = client().get(site.url(&path)).send().await.expect("GET");
        assert_eq!(response.status(), status, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_counts_runs_per_day_and_lists_flows_deployments_and_quality() {
    let site = Site::start(None).await;
    let stats = site.get_json("/api/stats").await;
    let days = stats["days"].as_array().expect("days");
    assert_eq!(days.len(), 14);
    assert_eq!(days[13]["day"], Utc::now().date_naive().to_string());
    assert_eq!(days[13]["total"], 3);
    assert_eq!(days[13]["states"]["completed"], 2);
    assert_eq!(days[13]["states"]["failed"], 1);
    assert_eq!(stats["runs"], 3);
    let rate = stats["success_rate"].as_f64().expect("a rate");
    assert!((rate - 2.0 / 3.0).abs() < 1e-9, "{rate}");
    assert!(stats["mean_duration_seconds"].as_f64().is_some());
    assert_eq!(stats["recent_failures"][0]["id"], site.runs.failed.0);
    let week = site.get_json("/api/stats?days=7").await;
    assert_eq!(week["days"].as_array().expect("days").len(), 7);

    let flows = site.get_json("/api/flows").await;
    let names: Vec<&str> = flows
        .as_array()
        .expect("flows")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["daily", "sleepy", "weekly"]);
    assert_eq!(flows[0]["last_run"]["id"], site.runs.failed.0);
    assert_eq!(flows[1]["last_run"], Value::Null);
    assert_eq!(flows[1]["deployments"], json!([DEPLOYMENT]));
    assert_eq!(flows[1]["next_runs"].as_array().expect("next").len(), 5);

    let deployments = site.get_json("/api/deployments").await;
    assert_eq!(deployments[0]["name"], DEPLOYMENT);
    assert_eq!(deployments[0]["cron"], "0 * * * *");
    assert_eq!(deployments[0]["timezone"], "Europe/Paris");
    assert_eq!(deployments[0]["paused"], false);

    let quality = site.get_json("/api/quality").await;
    assert_eq!(quality["run_id"], "run-7");
    assert_eq!(quality["failed"], 1);
    assert_eq!(quality["passed"], 2);
    assert_eq!(quality["not_judged"], 1);
    assert_eq!(quality["failed_checks"][0]["check"], "rows_usual");
    assert_eq!(quality["report_url"], "/reports/run-7.html");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_triggers_pauses_and_resumes_a_deployment() {
    let site = Site::start(None).await;
    let created = client()
        .post(site.url(&format!("/api/deployments/{DEPLOYMENT}/runs")))
        .header("content-type", "application/json")
        .body(r#"{"parameters": {"business_date": "2026-11-25"}}"#)
        .send()
        .await
        .expect("POST");
    assert_eq!(created.status(), StatusCode::CREATED);
    let created = created.json_value().await;
    assert_eq!(created["flow"], "sleepy");
    assert_eq!(created["deployment"], DEPLOYMENT);
    assert_eq!(created["parameters"]["business_date"], "2026-11-25");
    assert_eq!(created["active"], true, "{created}");
    site.gate.notify_one();
    let run = site.ended(created["id"].as_i64().expect("id")).await;
    assert_eq!(run["run"]["state"], "completed", "{run}");

    let paused = client()
        .post(site.url(&format!("/api/deployments/{DEPLOYMENT}/pause")))
        .send()
        .await
        .expect("POST");
    assert_eq!(paused.status(), StatusCode::OK);
    let paused = paused.json_value().await;
    assert_eq!(paused["paused"], true);
    assert_eq!(paused["next_runs"], json!([]));
    assert_eq!(site.get_json("/api/deployments").await[0]["paused"], true);
    let resumed = client()
        .post(site.url(&format!("/api/deployments/{DEPLOYMENT}/resume")))
        .send()
        .await
        .expect("POST")
        .json_value()
        .await;
    assert_eq!(resumed["paused"], false);

    // The page's form: 303 to the new run's page.
    let form = client()
        .post(site.url(&format!("/deployments/{DEPLOYMENT}/run")))
        .send()
        .await
        .expect("POST");
    assert_eq!(form.status(), StatusCode::SEE_OTHER);
    let location = form.headers()["location"].to_str().expect("a location");
    let id: i64 = location
        .strip_prefix("/runs/")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("a run's page: {location}"));
    site.gate.notify_one();
    assert_eq!(site.ended(id).await["run"]["deployment"], DEPLOYMENT);

    for (path, body, status) in [
        ("/api/deployments/nope/runs", "", StatusCode::NOT_FOUND),
        ("/api/deployments/nope/pause", "", StatusCode::NOT_FOUND),
        (
            "/api/deployments/sleepy-hourly/runs",
            "{\"parameters\": 3}",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let response = client()
            .post(site.url(path))
            .body(body)
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status(), status, "{path}");
        assert!(response.json_value().await["error"].is_string());
    }
    let runs = site
        .store
        .list_runs(RunFilter::default())
        .await
        .expect("runs");
    assert_eq!(runs.len(), 5, "only the two triggers made runs");
}

// ---------------------------------------------------------------------------------
// Backfills.

/// The flow the backfills run: `daily`'s `ingest`, which fails when the run's
/// parameters say `fail=yes`.
fn backfill_flow() -> Flow {
    Flow::builder("daily")
        .task(Task::new("ingest", |ctx: TaskContext| async move {
            if ctx.parameter("fail") == Some("yes") {
                return Err(TaskError::fatal("no extract for this date"));
            }
            Ok(TaskOutput::default())
        }))
        .build()
        .expect("a valid flow")
}

/// Runs a backfill of `bank-daily` over `dates` through the real executor, as
/// `bankpipe backfill` does (the run of `failing` fails); returns its id and its runs,
/// oldest first.
async fn backfill(
    store: &RunStore,
    dates: &[&str],
    failing: Option<&str>,
) -> (String, Vec<FlowRunId>) {
    let day = |text: &str| text.parse().expect("a date");
    let id = new_backfill_id(day(dates[0]), day(dates[dates.len() - 1]));
    let executor = Executor::new(store.clone());
    let mut runs = Vec::new();
    for &date in dates {
        let mut request = RunRequest {
            deployment: Some("bank-daily".into()),
            ..RunRequest::default()
        }
        .with_parameter("business_date", date)
        .with_parameter("data", "/srv/bank")
        .with_parameter(BACKFILL_PARAMETER, &id);
        if failing == Some(date) {
            request = request.with_parameter("fail", "yes");
        }
        let run = executor.run(&backfill_flow(), request).await.expect("run");
        runs.push(run.run.id);
    }
    (id, runs)
}

/// The Runs page filtered on backfill `id`.
fn backfill_page(id: &str) -> String {
    format!("/runs?backfill={}", id.replace('@', "%40"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_is_one_group_of_runs_in_the_api_and_the_pages() {
    let site = Site::start(None).await;
    let (older, _) = backfill(&site.store, &["2026-10-01"], None).await;
    let dates = ["2026-11-01", "2026-11-02", "2026-11-03"];
    let (id, runs) = backfill(&site.store, &dates, Some("2026-11-02")).await;
    let retried = Executor::new(site.store.clone())
        .retry(&backfill_flow(), runs[1])
        .await
        .expect("retry");
    let encoded = id.replace('@', "%40");

    // The API: the group's runs, the run's backfill, the backfills.
    let group = site
        .get_json(&format!("/api/runs?backfill={encoded}"))
        .await;
    assert_eq!(
        group["total"], 4,
        "the retry stays in its backfill: {group}"
    );
    let ids: Vec<i64> = group["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|run| {
            assert_eq!(run["backfill"], id.as_str(), "{run}");
            run["id"].as_i64().expect("id")
        })
        .collect();
    assert_eq!(ids, [retried.run.id.0, runs[2].0, runs[1].0, runs[0].0]);
    let alone = site
        .get_json(&format!("/api/runs/{}", site.runs.completed))
        .await;
    assert_eq!(alone["run"]["backfill"], Value::Null);

    let backfills = site.get_json("/api/backfills").await;
    assert_eq!(backfills.as_array().expect("backfills").len(), 2);
    let latest = &backfills[0];
    assert_eq!(latest["id"], id.as_str());
    assert_eq!(latest["deployment"], "bank-daily");
    assert_eq!(latest["runs"], 4);
    assert_eq!(latest["states"], json!({"completed": 2, "failed": 2}));
    assert_eq!(latest["active"], false);
    assert_eq!(latest["latest_run_id"], retried.run.id.0);
    assert_eq!(latest["url"], backfill_page(&id));
    assert_eq!(backfills[1]["id"], older.as_str());
    assert_eq!(backfills[1]["runs"], 1);
    let first = site.get_json("/api/backfills?limit=1").await;
    assert_eq!(first.as_array().expect("backfills").len(), 1);

    // The Runs page: a badge per run of a backfill, linking to its group; the filter.
    let all = site.get_html("/runs").await;
    let badge = format!("<a class=\"group\" href=\"{}\"", backfill_page(&id));
    assert_eq!(all.matches(&badge).count(), 4, "{all}");
    assert!(all.contains(&format!("<option value=\"{id}\">{id} (4 runs)</option>")));
    let filtered = site.get_html(&backfill_page(&id)).await;
    assert_eq!(filtered.matches("<tr data-run=").count(), 4, "{filtered}");
    assert!(!filtered.contains(&format!("data-run=\"{}\"", site.runs.completed)));
    assert!(filtered.contains("id=\"backfill-summary\""), "{filtered}");
    assert!(filtered.contains(&format!("<option value=\"{id}\" selected>")));

    // A run's page: its backfill, and the group's runs with what tells them apart.
    let page = site.get_html(&format!("/runs/{}", runs[1])).await;
    assert!(
        page.contains(&format!("<dd id=\"run-backfill\">{badge}")),
        "{page}"
    );
    assert_eq!(
        page.matches("<tr data-run=").count(),
        4,
        "the group's runs: {page}"
    );
    assert!(page.contains(&format!("data-run=\"{}\" class=\"current\"", runs[1])));
    assert!(page.contains("business_date=2026-11-02 fail=yes"), "{page}");
    assert!(
        !page.contains("data=/srv/bank"),
        "the parameters they share are not repeated: {page}"
    );
}

// ---------------------------------------------------------------------------------
// Security.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_guards_every_page_and_route_and_posts_must_come_from_the_site() {
    let token = "s3cret&x y";
    let site = Site::start(Some(token)).await;
    for path in [
        "/",
        "/runs",
        "/runs/1",
        "/quality",
        "/api/runs",
        "/api/stats",
        "/assets/style.css",
        "/reports/run-7.html",
        "/?token=wrong",
    ] {
        let response = client().get(site.url(path)).send().await.expect("GET");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert!(
            response.headers().contains_key("www-authenticate"),
            "{path}"
        );
    }
    let refused = client()
        .post(site.url(&format!("/api/deployments/{DEPLOYMENT}/pause")))
        .send()
        .await
        .expect("POST");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.json_value().await["error"].is_string());

    let bearer = format!("Bearer {token}");
    for path in [
        "/",
        "/runs",
        "/api/runs",
        "/assets/app.js",
        "/reports/run-7.html",
    ] {
        let response = client()
            .get(site.url(path))
            .header("authorization", &bearer)
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }

    // A browser: `?token=` once sets the cookie, and the address loses the token.
    let visit = client()
        .get(site.url("/runs?state=failed&token=s3cret%26x%20y"))
        .send()
        .await
        .expect("GET");
    assert_eq!(visit.status(), StatusCode::SEE_OTHER);
    assert_eq!(visit.headers()["location"], "/runs?state=failed");
    let cookie = visit.headers()["set-cookie"]
        .to_str()
        .expect("a cookie")
        .split(';')
        .next()
        .expect("name=value")
        .to_owned();
    assert!(
        visit.headers()["set-cookie"]
            .to_str()
            .expect("a cookie")
            .contains("HttpOnly")
    );
    let page = client()
        .get(site.url("/runs?state=failed"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("GET");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.expect("a page").contains("data-run="));

    // POSTs from another site are refused, token or not; from the site they pass.
    let host = site.base.trim_start_matches("http://").to_owned();
    for origin in ["http://evil.example", "null"] {
        let response = client()
            .post(site.url(&format!("/api/deployments/{DEPLOYMENT}/pause")))
            .header("authorization", &bearer)
            .header("origin", origin)
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{origin}");
    }
    let response = client()
        .post(site.url(&format!("/deployments/{DEPLOYMENT}/pause")))
        .header("cookie", &cookie)
        .header("origin", format!("http://{host}"))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/deployments");
}

/// Sends a raw request (no client normalises its path) and returns the answer.
fn raw_get(base: &str, path: &str) -> String {
    let host = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_served_and_nothing_outside_their_folder() {
    let site = Site::start(None).await;
    let report = client()
        .get(site.url("/reports/run-7.html"))
        .send()
        .await
        .expect("GET");
    assert_eq!(report.status(), StatusCode::OK);
    assert!(
        report.headers()["content-type"]
            .to_str()
            .expect("a type")
            .starts_with("text/html")
    );
    assert!(
        report.headers()["content-security-policy"]
            .to_str()
            .expect("a policy")
            .contains("sandbox")
    );
    assert!(
        report
            .text()
            .await
            .expect("a page")
            .contains("Data quality")
    );

    // A link in the folder to a file outside it.
    let reports = site.dir.path().join("monitoring").join("reports");
    std::os::unix::fs::symlink(
        site.dir.path().join("secret.html"),
        reports.join("link.html"),
    )
    .expect("a link");
    let base = site.base.clone();
    let answers = tokio::task::spawn_blocking(move || {
        [
            "/reports/../secret.html",
            "/reports/..%2Fsecret.html",
            "/reports/%2e%2e%2fsecret.html",
            "/reports/%2E%2E%2Fsecret.html",
            "/reports/..%5Csecret.html",
            "/reports/....%2F%2Fsecret.html",
            "/reports/%252e%252e%252fsecret.html",
            "/reports/link.html",
            "/reports/.hidden.html",
            "/reports/run-7.json",
            "/reports/",
            "/reports/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        ]
        .map(|path| (path, raw_get(&base, path)))
    })
    .await
    .expect("requests");
    for (path, answer) in answers {
        let status = answer.split(' ').nth(1).unwrap_or("");
        assert!(
            matches!(status, "400" | "404"),
            "{path} answered {status}: {answer}"
        );
        assert!(!answer.contains("TOP-SECRET"), "{path} leaked");
        assert!(!answer.contains("root:"), "{path} leaked");
    }
}

// ---------------------------------------------------------------------------------
// In a browser.

fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| Command::new(name).arg("--version").output().is_ok());
    if found.is_none() {
        assert!(
            std::env::var("BANKPIPE_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "BANKPIPE_REQUIRE_BROWSER=1 but no chromium on the PATH"
        );
        eprintln!(
            "SKIPPED: no chromium on the PATH (apt-get install -y chromium): \
             the dashboard was not tested in a browser"
        );
    }
    found
}

/// Headless Chromium with a profile of its own.
fn headless(browser: &str, profile: &Path) -> Command {
    let mut command = Command::new(browser);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--window-size=1280,900",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display()));
    command
}

/// Where the screenshots go (printed, kept after the test).
fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshots folder");
    println!("screenshots in {}", dir.display());
    dir
}

/// Asserts that `file` is a PNG with content, not a blank page.
fn assert_screenshot(file: &Path) {
    let png = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert!(png.starts_with(b"\x89PNG"), "{} is a PNG", file.display());
    assert!(
        png.len() > 25_000,
        "{} has content, not a blank page ({} bytes)",
        file.display(),
        png.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_in_chromium() {
    let Some(browser) = chromium() else { return };
    let site = Site::start(None).await;
    let failed = site.runs.failed;
    let pages: Vec<(&str, String, Vec<String>)> = vec![
        (
            "dashboard",
            "/".into(),
            vec![
                "Runs per day".into(),
                "<svg class=\"chart\"".into(),
                "id=\"success-rate\">67 %".into(),
                format!("href=\"/runs/{failed}\""),
                "bad &lt;row&gt; &amp; co".into(),
            ],
        ),
        (
            "flows",
            "/flows".into(),
            vec![
                "data-flow=\"daily\"".into(),
                "data-flow=\"sleepy\"".into(),
                "never run".into(),
            ],
        ),
        (
            "deployments",
            "/deployments".into(),
            vec![
                "every hour, &lt;on the hour&gt;".into(),
                "<code>0 * * * *</code>".into(),
                "Europe/Paris".into(),
                "Run now".into(),
                "Pause".into(),
            ],
        ),
        (
            "runs",
            "/runs?flow=daily".into(),
            vec![
                format!("data-run=\"{failed}\""),
                format!("data-run=\"{}\"", site.runs.completed),
                "page 1 of 1 · 2 runs".into(),
            ],
        ),
        (
            "run-failed",
            format!("/runs/{failed}"),
            vec![
                "<svg class=\"gantt\"".into(),
                "s-cancelled".into(),
                "attempt 1 of 3 failed".into(),
                "bad &lt;row&gt; &amp; co".into(),
                "business_date".into(),
            ],
        ),
        (
            "quality",
            "/quality".into(),
            vec![
                "id=\"verdicts-failed\">1<".into(),
                "id=\"verdicts-passed\">2<".into(),
                "href=\"/reports/run-7.html\"".into(),
            ],
        ),
        (
            "report",
            "/reports/run-7.html".into(),
            vec!["rows_usual".into()],
        ),
    ];
    let shots = screenshots();
    let base = site.base.clone();
    let browser = browser.to_owned();
    tokio::task::spawn_blocking(move || {
        let profile = tempfile::tempdir().expect("a profile");
        for (name, path, expected) in pages {
            let url = format!("{base}{path}");
            let dom = headless(&browser, profile.path())
                .arg("--dump-dom")
                .arg(&url)
                .output()
                .expect("chromium runs");
            let dom = String::from_utf8_lossy(&dom.stdout);
            for text in &expected {
                assert!(dom.contains(text.as_str()), "{path}: no `{text}` in\n{dom}");
            }
            assert!(!dom.contains("<script>alert"), "{path}");
            let shot = shots.join(format!("{name}.png"));
            let _ = std::fs::remove_file(&shot);
            let status = headless(&browser, profile.path())
                .current_dir(profile.path())
                .arg(format!("--screenshot={}", shot.display()))
                .arg(&url)
                .output()
                .expect("chromium runs");
            assert!(status.status.success(), "{status:?}");
            assert_screenshot(&shot);
        }
    })
    .await
    .expect("the browser checks");
}

/// A Chromium driven over the DevTools protocol (its websocket): enough to open a
/// page, click, read the page and take a screenshot.
struct Devtools {
    child: Child,
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    session: String,
    next: u64,
    _profile: tempfile::TempDir,
}

impl Devtools {
    async fn launch(browser: &str) -> Devtools {
        let profile = tempfile::tempdir().expect("a profile");
        let mut child = headless(browser, profile.path())
            .arg("--remote-debugging-port=0")
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts");
        let stderr = child.stderr.take().expect("its stderr");
        let (found, address) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = found.send(url.trim().to_owned());
                }
            }
        });
        let url = address
            .recv_timeout(Duration::from_secs(60))
            .expect("chromium says where its DevTools listen");
        let (socket, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("the DevTools socket");
        let mut devtools = Devtools {
            child,
            socket,
            session: String::new(),
            next: 0,
            _profile: profile,
        };
        let target = devtools
            .call("Target.createTarget", json!({ "url": "about:blank" }))
            .await;
        let attached = devtools
            .call(
                "Target.attachToTarget",
                json!({ "targetId": target["targetId"], "flatten": true }),
            )
            .await;
        devtools.session = attached["sessionId"]
            .as_str()
            .expect("a session")
            .to_owned();
        devtools
    }

    /// Calls a method (on the page once attached) and returns its result.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            message["sessionId"] = json!(self.session);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("send to DevTools");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let Ok(Some(Ok(Message::Text(text)))) =
                tokio::time::timeout(Duration::from_secs(30), self.socket.next()).await
            else {
                continue;
            };
            let answer: Value = serde_json::from_str(text.as_str()).expect("JSON from DevTools");
            if answer["id"] == id {
                assert!(answer["error"].is_null(), "{method}: {answer}");
                return answer["result"].clone();
            }
        }
        panic!("{method}: no answer from DevTools");
    }

    /// Evaluates `expression` in the page and returns its value.
    async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        result["result"]["value"].clone()
    }

    /// Evaluates `expression` until it is true, for at most `limit`.
    async fn wait_for(&mut self, expression: &str, limit: Duration) {
        let started = Instant::now();
        while self.eval(expression).await != json!(true) {
            if started.elapsed() > limit {
                let page = self.eval("document.documentElement.outerHTML").await;
                panic!("still not `{expression}` after {limit:?}:\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Opens `url` and waits until it (or where it redirects, `path`) is loaded.
    async fn open(&mut self, url: &str, path: &str) {
        self.call("Page.navigate", json!({ "url": url })).await;
        self.wait_for(
            &format!("location.pathname === '{path}' && document.readyState === 'complete'"),
            Duration::from_secs(30),
        )
        .await;
    }

    /// Saves a screenshot of the page.
    async fn screenshot(&mut self, file: &Path) {
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let png = base64(shot["data"].as_str().expect("PNG data"));
        std::fs::write(file, png).expect("a screenshot");
        assert_screenshot(file);
    }

    async fn close(mut self) {
        self.session.clear();
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            self.call("Browser.close", json!({})),
        )
        .await;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Decodes standard base64 (what DevTools sends screenshots as).
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|&c| c != b'=').map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &d)| n | u32::from(d) << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_now_on_the_deployments_page_opens_the_run_which_goes_live_to_completed() {
    let Some(browser) = chromium() else { return };
    let token = "t0ken";
    let site = Site::start(Some(token)).await;
    let shots = screenshots();
    let mut page = Devtools::launch(browser).await;

    // The token once in the address: a cookie from then on.
    page.open(&site.url(&format!("/?token={token}")), "/").await;
    page.open(&site.url("/deployments"), "/deployments").await;
    page.screenshot(&shots.join("deployments-before-run.png"))
        .await;
    let clicked = page
        .eval(&format!(
            "(() => {{ const b = document.querySelector(\
             'form[data-action=\"run\"][data-deployment=\"{DEPLOYMENT}\"] button'); \
             if (!b) return false; b.click(); return true; }})()"
        ))
        .await;
    assert_eq!(clicked, json!(true), "a Run now button");
    page.wait_for(
        "/^\\/runs\\/\\d+$/.test(location.pathname) && document.readyState === 'complete'",
        Duration::from_secs(30),
    )
    .await;
    let path = page.eval("location.pathname").await;
    let id: i64 = path
        .as_str()
        .and_then(|p| p.strip_prefix("/runs/"))
        .and_then(|id| id.parse().ok())
        .expect("a run's page");
    let run = site
        .store
        .get_run(FlowRunId(id))
        .await
        .expect("the new run");
    assert_eq!(run.run.deployment.as_deref(), Some(DEPLOYMENT));

    // The page was loaded while the run waits: mark it, so a reload would show.
    let first = page
        .eval("window.__same_page = true; document.getElementById('run-state').textContent")
        .await;
    assert!(
        matches!(first.as_str(), Some("pending" | "running")),
        "the run is going when its page opens: {first}"
    );
    page.wait_for(
        "document.getElementById('run-state').textContent === 'running' && \
         document.querySelector('#logs').textContent.includes('waiting for the gate')",
        Duration::from_secs(30),
    )
    .await;
    page.screenshot(&shots.join("run-live-running.png")).await;

    site.gate.notify_one();
    page.wait_for(
        "document.getElementById('run-state').textContent === 'completed' && \
         document.querySelector('[data-live-run]').dataset.active === 'false'",
        Duration::from_secs(30),
    )
    .await;
    let after = page
        .eval(
            "JSON.stringify({ same: window.__same_page === true, \
             logs: document.querySelector('#logs').textContent, \
             tasks: [...document.querySelectorAll('#tasks .t-state')].map(e => e.textContent), \
             gantt: document.querySelectorAll('#timeline rect').length })",
        )
        .await;
    let after: Value = serde_json::from_str(after.as_str().expect("JSON")).expect("JSON");
    assert_eq!(after["same"], true, "updated without a reload: {after}");
    assert!(
        after["logs"].as_str().expect("logs").contains("woke up"),
        "the logs were tailed live: {after}"
    );
    assert_eq!(after["tasks"], json!(["completed", "completed"]), "{after}");
    assert!(after["gantt"].as_i64().expect("bars") >= 2, "{after}");
    page.screenshot(&shots.join("run-live-completed.png")).await;
    page.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfills_badge_opens_its_group_and_a_run_shows_its_siblings_in_chromium() {
    let Some(browser) = chromium() else { return };
    let site = Site::start(None).await;
    let dates = ["2026-11-01", "2026-11-02", "2026-11-03"];
    let (id, runs) = backfill(&site.store, &dates, Some("2026-11-02")).await;
    let shots = screenshots();
    let mut page = Devtools::launch(browser).await;

    page.open(&site.url("/runs"), "/runs").await;
    page.screenshot(&shots.join("runs-with-backfill.png")).await;
    let clicked = page
        .eval(&format!(
            "(() => {{ const a = document.querySelector('tr[data-run=\"{}\"] a.group'); \
             if (!a) return false; a.click(); return true; }})()",
            runs[0]
        ))
        .await;
    assert_eq!(clicked, json!(true), "a backfill badge on the run's row");
    page.wait_for(
        "location.search.startsWith('?backfill=') && document.readyState === 'complete' \
         && document.getElementById('backfill-summary') !== null",
        Duration::from_secs(30),
    )
    .await;
    let group = page
        .eval(
            "JSON.stringify({ runs: [...document.querySelectorAll('#runs tr[data-run]')]\
             .map(r => Number(r.dataset.run)), \
             chosen: document.querySelector('select[name=backfill]').value, \
             summary: document.getElementById('backfill-summary').textContent })",
        )
        .await;
    let group: Value = serde_json::from_str(group.as_str().expect("JSON")).expect("JSON");
    assert_eq!(
        group["runs"],
        json!([runs[2].0, runs[1].0, runs[0].0]),
        "the backfill's runs only: {group}"
    );
    assert_eq!(group["chosen"], id.as_str(), "{group}");
    let summary = group["summary"].as_str().expect("a summary");
    assert!(
        summary.contains(&id) && summary.contains("3 runs"),
        "{summary}"
    );
    page.screenshot(&shots.join("runs-of-a-backfill.png")).await;

    let path = format!("/runs/{}", runs[1]);
    page.open(&site.url(&path), &path).await;
    let run = page
        .eval(
            "JSON.stringify({ backfill: document.querySelector('#run-backfill a.group').textContent, \
             siblings: [...document.querySelectorAll('#backfill-runs tr[data-run]')]\
             .map(r => Number(r.dataset.run)), \
             current: Number(document.querySelector('#backfill-runs tr.current').dataset.run) })",
        )
        .await;
    let run: Value = serde_json::from_str(run.as_str().expect("JSON")).expect("JSON");
    assert_eq!(run["backfill"], id.as_str(), "{run}");
    assert_eq!(
        run["siblings"],
        json!([runs[0].0, runs[1].0, runs[2].0]),
        "oldest first: {run}"
    );
    assert_eq!(run["current"], runs[1].0, "{run}");
    page.screenshot(&shots.join("run-in-a-backfill.png")).await;
    page.close().await;
}
