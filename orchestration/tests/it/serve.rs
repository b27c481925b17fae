//! `bankpipe serve` end to end: the real launcher behind the dashboard's API starts a
//! deployment's pipeline run, which the API then shows completed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use orchestration::generate::{GenerateOptions, generate};
use orchestration::pipeline::PipelineSettings;
use orchestration::runtime::RunStore;
use orchestration::schedule::Deployment;
use orchestration::serve::{PipelineLauncher, serve};
use serde_json::Value;

/// A port free on the loopback interface now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

async fn json(response: reqwest::Response) -> Value {
    let text = response.text().await.expect("body");
    serde_json::from_str(&text).expect(&text)
}

fn deployment() -> Deployment {
    toml::from_str(
        "name = \"bank-daily\"\ncron = \"0 8 * * *\"\n\
         parameters = { business_date = \"2026-11-24\" }\n",
    )
    .expect("deployment")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_triggered_through_the_api_runs_the_pipeline_to_completed() {
    let dir = tempfile::tempdir().expect("dir");
    let as_of: NaiveDate = "2026-11-24".parse().expect("date");
    generate(&GenerateOptions {
        out: dir.path().join("raw"),
        scale: 0.002,
        seed: 9,
        defects: 0.0,
        end_date: as_of,
    })
    .expect("generate");
    let store = RunStore::open_in(dir.path()).await.expect("store");
    let base = PipelineSettings::new(dir.path().to_owned(), as_of);
    let launcher = PipelineLauncher::new(base, vec![deployment()], store.clone())
        .await
        .expect("launcher");
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(Arc::new(launcher), store, addr, None, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let api = format!("http://{addr}/api");
    let mut deployments = None;
    for _ in 0..100 {
        if let Ok(response) = client.get(format!("{api}/deployments")).send().await {
            deployments = Some(json(response).await);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deployments = deployments.expect("the dashboard answers");
    assert_eq!(deployments[0]["name"], "bank-daily");
    assert_eq!(
        deployments[0]["next_runs"].as_array().map(Vec::len),
        Some(5)
    );

    let started = json(
        client
            .post(format!("{api}/deployments/bank-daily/runs"))
            .send()
            .await
            .expect("trigger"),
    )
    .await;
    let id = started["id"].as_i64().expect("run id");
    let deadline = Instant::now() + Duration::from_secs(300);
    let run = loop {
        let run = json(
            client
                .get(format!("{api}/runs/{id}"))
                .send()
                .await
                .expect("run"),
        )
        .await;
        let state = run["run"]["state"].as_str().unwrap_or_default().to_owned();
        if !matches!(state.as_str(), "pending" | "running") || Instant::now() > deadline {
            break run;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(run["run"]["state"], "completed", "{run:#}");
    assert_eq!(run["run"]["deployment"], "bank-daily");
    assert_eq!(run["run"]["parameters"]["business_date"], "2026-11-24");
    let tasks: Vec<&str> = run["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|t| t["task"].as_str())
        .collect();
    assert!(
        tasks.first().is_some_and(|t| t.starts_with("ingest.")),
        "{tasks:?}"
    );
    assert_eq!(tasks.last(), Some(&"quality"));
    assert!(
        tasks.contains(&"transform.fact_transactions") && tasks.contains(&"transform.reconcile"),
        "{tasks:?}"
    );
    assert!(
        dir.path()
            .join("transformed")
            .join("fact_transactions")
            .is_dir()
    );

    let _ = stop.send(());
    server.await.expect("server task").expect("server");
}
