//! Schedules: next runs across the daylight saving time changes of Europe/Paris, the
//! catch-up policies after a downtime, restarts that never launch an occurrence twice,
//! pause and resume kept in the run store, the loop on a manual clock, and the
//! configuration's validation, each on a real run store in a temporary folder.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use orchestration::runtime::{FlowRunId, RuntimeError};
use orchestration::schedule::{
    CatchUp, Clock, Deployment, DueRun, Launcher, ManualClock, ScheduleError, Scheduler,
    SchedulerOptions, validate,
};
use serde::Deserialize;

use crate::run_stores::{TestStore, on_both_stores};

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("an RFC 3339 instant")
}

fn deployment(name: &str, cron: &str, catch_up: CatchUp) -> Deployment {
    Deployment {
        name: name.to_owned(),
        flow: "daily".to_owned(),
        cron: cron.to_owned(),
        timezone: "Europe/Paris".to_owned(),
        parameters: Default::default(),
        catch_up,
        paused: false,
        description: None,
    }
}

fn next_runs(cron: &str, after: &str, n: usize) -> Vec<DateTime<Utc>> {
    deployment("d", cron, CatchUp::Skip)
        .schedule()
        .expect("a valid schedule")
        .next_runs(at(after), n)
}

/// A scheduler over the store `stores`, opened anew (as after a restart).
async fn scheduler(stores: &TestStore, deployments: Vec<Deployment>) -> Scheduler {
    Scheduler::new(deployments, stores.open().await).expect("valid deployments")
}

/// A launch asked of the fake launcher: the deployment, the occurrence, and the time
/// of its clock when asked.
type Launch = (String, DateTime<Utc>, Option<DateTime<Utc>>);

/// Launches nothing but remembers what it was asked, and when (by its clock).
#[derive(Clone)]
struct FakeLauncher {
    clock: Option<ManualClock>,
    launches: Arc<Mutex<Vec<Launch>>>,
    /// Deployments whose launches fail.
    failing: Vec<String>,
}

impl FakeLauncher {
    fn new() -> Self {
        FakeLauncher {
            clock: None,
            launches: Arc::default(),
            failing: Vec::new(),
        }
    }

    /// `(deployment, scheduled for)` of each launch so far.
    fn launched(&self) -> Vec<(String, DateTime<Utc>)> {
        let launches = self.launches.lock().expect("launches");
        launches.iter().map(|(d, s, _)| (d.clone(), *s)).collect()
    }
}

impl Launcher for FakeLauncher {
    fn launch<'a>(
        &'a self,
        deployment: &'a Deployment,
        scheduled_for: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<FlowRunId, RuntimeError>> {
        async move {
            let mut launches = self.launches.lock().expect("launches");
            launches.push((
                deployment.name.clone(),
                scheduled_for,
                self.clock.as_ref().map(Clock::now),
            ));
            if self.failing.contains(&deployment.name) {
                return Err(RuntimeError::RunNotFound(FlowRunId(0)));
            }
            Ok(FlowRunId(launches.len() as i64))
        }
        .boxed()
    }
}

fn launched(runs: &[(DueRun, FlowRunId)]) -> Vec<DateTime<Utc>> {
    runs.iter().map(|(run, _)| run.scheduled_for).collect()
}

#[test]
fn daily_at_eight_in_paris_is_seven_utc_in_winter_and_six_in_summer() {
    // Summer time starts on Sunday 29 March 2026 and ends on Sunday 25 October 2026.
    assert_eq!(
        next_runs("0 8 * * *", "2026-03-27T12:00:00Z", 4),
        [
            at("2026-03-28T07:00:00Z"),
            at("2026-03-29T06:00:00Z"),
            at("2026-03-30T06:00:00Z"),
            at("2026-03-31T06:00:00Z"),
        ]
    );
    assert_eq!(
        next_runs("0 8 * * *", "2026-10-23T12:00:00Z", 4),
        [
            at("2026-10-24T06:00:00Z"),
            at("2026-10-25T07:00:00Z"),
            at("2026-10-26T07:00:00Z"),
            at("2026-10-27T07:00:00Z"),
        ]
    );
    // Strictly after: the occurrence at `after` itself is not a next run.
    assert_eq!(
        next_runs("0 8 * * *", "2026-11-24T07:00:00Z", 1),
        [at("2026-11-25T07:00:00Z")]
    );
}

#[test]
fn a_time_in_the_spring_forward_gap_runs_once_at_the_first_instant_after_it() {
    // 02:30 does not exist on 29 March 2026 in Paris (02:00 CET → 03:00 CEST).
    assert_eq!(
        next_runs("30 2 * * *", "2026-03-27T12:00:00Z", 3),
        [
            at("2026-03-28T01:30:00Z"), // 02:30 CET
            at("2026-03-29T01:00:00Z"), // 03:00 CEST, the end of the gap
            at("2026-03-30T00:30:00Z"), // 02:30 CEST
        ]
    );
    // A repeating pattern has no occurrence in the gap, and no extra one after it.
    assert_eq!(
        next_runs("0 * * * *", "2026-03-29T00:30:00Z", 2),
        [at("2026-03-29T01:00:00Z"), at("2026-03-29T02:00:00Z")]
    );
}

#[test]
fn a_time_in_the_fall_back_overlap_runs_once_at_its_first_occurrence() {
    // 02:30 happens twice on 25 October 2026 in Paris: 00:30 UTC (CEST), 01:30 UTC (CET).
    assert_eq!(
        next_runs("30 2 * * *", "2026-10-23T12:00:00Z", 3),
        [
            at("2026-10-24T00:30:00Z"),
            at("2026-10-25T00:30:00Z"),
            at("2026-10-26T01:30:00Z"),
        ]
    );
    // Started between the two 02:30s, it does not run at the second one.
    assert_eq!(
        next_runs("30 2 * * *", "2026-10-25T01:00:00Z", 1),
        [at("2026-10-26T01:30:00Z")]
    );
    // A repeating pattern runs as real time passes: both 02:00s.
    assert_eq!(
        next_runs("0 * * * *", "2026-10-24T23:30:00Z", 3),
        [
            at("2026-10-25T00:00:00Z"),
            at("2026-10-25T01:00:00Z"),
            at("2026-10-25T02:00:00Z"),
        ]
    );
}

#[tokio::test]
async fn catching_up_all_across_both_changes_gives_the_same_runs_as_the_schedule() {
    let deployments = vec![
        deployment("at-0230", "30 2 * * *", CatchUp::All),
        deployment("hourly", "0 * * * *", CatchUp::All),
    ];
    let options = SchedulerOptions {
        max_catch_up: 1000,
        ..SchedulerOptions::default()
    };
    for (from, to) in [
        ("2026-03-27T12:00:00Z", "2026-03-31T12:00:00Z"),
        ("2026-10-23T12:00:00Z", "2026-10-27T12:00:00Z"),
    ] {
        let stores = TestStore::sqlite();
        let scheduler = scheduler(&stores, deployments.clone())
            .await
            .with_options(options);
        scheduler
            .tick(at(from), &FakeLauncher::new())
            .await
            .expect("tick");
        let states = stores
            .open()
            .await
            .deployment_states()
            .await
            .expect("states");
        let due = scheduler.due(&states, at(to));
        for deployment in &deployments {
            let schedule = deployment.schedule().expect("schedule");
            let expected: Vec<_> = schedule
                .next_runs(at(from), 200)
                .into_iter()
                .filter(|run| *run <= at(to))
                .collect();
            let found: Vec<_> = due
                .iter()
                .filter(|run| run.deployment == deployment.name)
                .map(|run| run.scheduled_for)
                .collect();
            assert_eq!(found, expected, "{} from {from}", deployment.name);
        }
    }
}

/// Ticks once on 20 November (the scheduler sees the deployment), then restarts three
/// days later and ticks again: what the second tick launches.
async fn after_three_days_down(catch_up: CatchUp) -> (Vec<DateTime<Utc>>, Scheduler) {
    let stores = TestStore::sqlite();
    let deployments = vec![deployment("bank-daily", "0 8 * * *", catch_up)];
    let first = scheduler(&stores, deployments.clone()).await;
    let launcher = FakeLauncher::new();
    let none = first
        .tick(at("2026-11-20T12:00:00Z"), &launcher)
        .await
        .expect("tick");
    assert!(none.is_empty());
    let restarted = scheduler(&stores, deployments).await;
    let runs = restarted
        .tick(at("2026-11-23T12:00:00Z"), &launcher)
        .await
        .expect("tick");
    assert_eq!(
        launched(&runs),
        launcher
            .launched()
            .into_iter()
            .map(|l| l.1)
            .collect::<Vec<_>>()
    );
    // Whatever was launched or skipped, a second pass launches nothing more.
    let again = restarted
        .tick(at("2026-11-23T12:00:30Z"), &launcher)
        .await
        .expect("tick");
    assert!(again.is_empty(), "{again:?}");
    (launched(&runs), restarted)
}

#[tokio::test]
async fn after_a_downtime_skip_launches_no_missed_run_and_the_next_is_tomorrow() {
    let (runs, scheduler) = after_three_days_down(CatchUp::Skip).await;
    assert!(runs.is_empty(), "{runs:?}");
    let (_, schedule) = scheduler.deployment("bank-daily").expect("deployment");
    assert_eq!(
        schedule.next_runs(at("2026-11-23T12:00:00Z"), 1),
        [at("2026-11-24T07:00:00Z")]
    );
}

#[tokio::test]
async fn after_a_downtime_latest_launches_the_most_recent_missed_run_once() {
    let (runs, _) = after_three_days_down(CatchUp::Latest).await;
    assert_eq!(runs, [at("2026-11-23T07:00:00Z")]);
}

#[tokio::test]
async fn after_a_downtime_all_launches_every_missed_run_oldest_first() {
    let (runs, _) = after_three_days_down(CatchUp::All).await;
    assert_eq!(
        runs,
        [
            at("2026-11-21T07:00:00Z"),
            at("2026-11-22T07:00:00Z"),
            at("2026-11-23T07:00:00Z"),
        ]
    );
}

#[tokio::test]
async fn catching_up_all_is_capped_to_the_most_recent_runs() {
    let stores = TestStore::sqlite();
    let deployments = vec![deployment("bank-daily", "0 8 * * *", CatchUp::All)];
    let options = SchedulerOptions {
        max_catch_up: 2,
        ..SchedulerOptions::default()
    };
    let launcher = FakeLauncher::new();
    let first = scheduler(&stores, deployments.clone())
        .await
        .with_options(options);
    first
        .tick(at("2026-11-01T12:00:00Z"), &launcher)
        .await
        .expect("tick");
    let restarted = scheduler(&stores, deployments).await.with_options(options);
    let runs = restarted
        .tick(at("2026-11-23T12:00:00Z"), &launcher)
        .await
        .expect("tick");
    assert_eq!(
        launched(&runs),
        [at("2026-11-22T07:00:00Z"), at("2026-11-23T07:00:00Z")]
    );
}

async fn a_restart_does_not_launch_an_occurrence_already_launched(stores: TestStore) {
    let deployments = vec![deployment("bank-daily", "0 8 * * *", CatchUp::All)];
    let launcher = FakeLauncher::new();
    let first = scheduler(&stores, deployments.clone()).await;
    first
        .tick(at("2026-11-24T06:00:00Z"), &launcher)
        .await
        .expect("tick");
    let runs = first
        .tick(at("2026-11-24T07:00:00Z"), &launcher)
        .await
        .expect("tick");
    assert_eq!(launched(&runs), [at("2026-11-24T07:00:00Z")]);

    // The process restarts a few seconds later (still within the grace period): the
    // restarted scheduler does not launch it again.
    let restarted = scheduler(&stores, deployments.clone()).await;
    let states = stores
        .open()
        .await
        .deployment_states()
        .await
        .expect("states");
    assert_eq!(states.len(), 1);
    assert_eq!(
        states[0].last_scheduled_for,
        Some(at("2026-11-24T07:00:00Z"))
    );
    assert!(
        restarted
            .due(&states, at("2026-11-24T07:00:10Z"))
            .is_empty()
    );
    let again = restarted
        .tick(at("2026-11-24T07:00:10Z"), &launcher)
        .await
        .expect("tick");
    assert!(again.is_empty());
    assert_eq!(launcher.launched().len(), 1);

    // A stale view of the store (the state before the launch) cannot launch it either:
    // the claim in the store refuses.
    let store = stores.open().await;
    assert!(
        !store
            .claim_occurrence("bank-daily", at("2026-11-24T07:00:00Z"), false)
            .await
            .expect("claim")
    );
    // Nor can an occurrence of a deployment paused by its configuration (and never
    // resumed) be claimed.
    assert!(
        !store
            .claim_occurrence("paused-by-config", at("2026-11-24T07:00:00Z"), true)
            .await
            .expect("claim")
    );
}

async fn pause_and_resume_survive_reopening_the_store_and_win_over_the_configuration(
    stores: TestStore,
) {
    let mut paused_in_config = deployment("weekly", "0 9 * * 1", CatchUp::Skip);
    paused_in_config.paused = true;
    let deployments = vec![
        deployment("bank-daily", "0 8 * * *", CatchUp::Skip),
        paused_in_config,
    ];
    let launcher = FakeLauncher::new();
    let first = scheduler(&stores, deployments.clone()).await;
    first
        .tick(at("2026-11-22T12:00:00Z"), &launcher)
        .await
        .expect("tick");
    first.pause("bank-daily").await.expect("pause");
    assert!(matches!(
        first.pause("nope").await,
        Err(ScheduleError::UnknownDeployment { .. })
    ));

    // Reopened: bank-daily is still paused; weekly is paused by its configuration.
    let reopened = scheduler(&stores, deployments.clone()).await;
    let states = stores
        .open()
        .await
        .deployment_states()
        .await
        .expect("states");
    let daily = states
        .iter()
        .find(|s| s.name == "bank-daily")
        .expect("daily");
    assert_eq!(daily.paused, Some(true));
    let runs = reopened
        .tick(at("2026-11-23T08:00:00Z"), &launcher) // Monday, 09:00 in Paris
        .await
        .expect("tick");
    assert!(runs.is_empty(), "{runs:?}");
    reopened.resume("bank-daily").await.expect("resume");
    reopened.resume("weekly").await.expect("resume");

    // Reopened again: both resumed, weekly against its configuration; the occurrences
    // that passed while they were paused are not caught up.
    let resumed = scheduler(&stores, deployments).await;
    let states = stores
        .open()
        .await
        .deployment_states()
        .await
        .expect("states");
    assert!(states.iter().all(|state| state.paused == Some(false)));
    assert!(resumed.due(&states, at("2026-11-23T08:00:10Z")).is_empty());
    let runs = resumed
        .tick(at("2026-11-30T08:00:00Z"), &launcher) // the next Monday, 09:00
        .await
        .expect("tick");
    assert_eq!(
        runs.iter()
            .map(|(run, _)| (run.deployment.as_str(), run.scheduled_for))
            .collect::<Vec<_>>(),
        [("weekly", at("2026-11-30T08:00:00Z"))]
    );
}

#[tokio::test]
async fn the_loop_launches_each_run_at_its_time_and_goes_on_after_a_failed_launch() {
    let stores = TestStore::sqlite();
    let mut hourly = deployment("hourly", "15 * * * *", CatchUp::Skip);
    hourly.timezone = "UTC".to_owned();
    let deployments = vec![deployment("bank-daily", "0 8 * * *", CatchUp::Skip), hourly];
    let scheduler = scheduler(&stores, deployments).await;
    let clock = ManualClock::new(at("2026-11-24T06:00:00Z"));
    let launcher = FakeLauncher {
        clock: Some(clock.clone()),
        failing: vec!["hourly".to_owned()],
        ..FakeLauncher::new()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn({
        let (clock, launcher) = (clock.clone(), launcher.clone());
        async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            scheduler.run(&clock, &launcher, shutdown).await;
        }
    });
    let step = async |to: &str| {
        clock.set(at(to));
        tokio::time::timeout(Duration::from_secs(10), clock.until_idle())
            .await
            .expect("the scheduler goes back to sleep");
    };

    step("2026-11-24T06:00:00Z").await;
    step("2026-11-24T06:14:59Z").await;
    assert!(launcher.launched().is_empty());
    step("2026-11-24T06:15:00Z").await; // the hourly launch fails …
    step("2026-11-24T06:59:59Z").await;
    step("2026-11-24T07:00:00Z").await; // … and the loop goes on
    step("2026-11-24T07:15:00Z").await;
    clock.advance(TimeDelta::minutes(10));
    tokio::time::timeout(Duration::from_secs(10), clock.until_idle())
        .await
        .expect("idle");
    let launches = launcher.launches.lock().expect("launches").clone();
    assert_eq!(
        launches,
        [
            (
                "hourly".to_owned(),
                at("2026-11-24T06:15:00Z"),
                Some(at("2026-11-24T06:15:00Z"))
            ),
            (
                "bank-daily".to_owned(),
                at("2026-11-24T07:00:00Z"),
                Some(at("2026-11-24T07:00:00Z"))
            ),
            (
                "hourly".to_owned(),
                at("2026-11-24T07:15:00Z"),
                Some(at("2026-11-24T07:15:00Z"))
            ),
        ]
    );
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the loop stops on shutdown")
        .expect("the loop did not panic");
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    deployments: Vec<Deployment>,
}

fn parse(text: &str) -> Result<Vec<Deployment>, toml::de::Error> {
    toml::from_str::<ConfigFile>(text).map(|file| file.deployments)
}

#[test]
fn deployments_are_read_from_the_configuration_with_their_defaults() {
    let deployments = parse(
        r#"
        [[deployments]]
        name = "bank-daily"
        cron = "0 8 * * *"
        parameters = { business_date = "yesterday", sinks = "delta,postgres" }
        description = "The daily load"

        [[deployments]]
        name = "bank-weekly"
        flow = "weekly"
        cron = "30 6 * * MON-FRI"
        timezone = "UTC"
        catch_up = "all"
        paused = true
        "#,
    )
    .expect("valid TOML");
    let daily = &deployments[0];
    assert_eq!(
        (daily.flow.as_str(), daily.timezone.as_str()),
        ("daily", "Europe/Paris")
    );
    assert_eq!((daily.catch_up, daily.paused), (CatchUp::Skip, false));
    assert_eq!(daily.parameters["sinks"], "delta,postgres");
    let weekly = &deployments[1];
    assert_eq!((weekly.catch_up, weekly.paused), (CatchUp::All, true));
    let schedules = validate(&deployments).expect("valid deployments");
    assert_eq!(schedules[0].describe(), "every day at 08:00 (Europe/Paris)");
    assert_eq!(
        schedules[1].describe(),
        "at 06:30 on Monday to Friday (UTC)"
    );

    let error = parse("[[deployments]]\nname = \"x\"\ncron = \"0 8 * * *\"\ncatchup = \"all\"\n")
        .expect_err("unknown field");
    assert!(
        error.to_string().contains("unknown field `catchup`"),
        "{error}"
    );
    let error = parse("[[deployments]]\nname = \"x\"\ncron = \"0 8 * * *\"\ncatch_up = \"some\"\n")
        .expect_err("unknown policy");
    assert!(error.to_string().contains("skip"), "{error}");
}

#[test]
fn every_problem_of_the_deployments_is_reported_with_its_deployment_and_field() {
    let deployments = parse(
        r#"
        [[deployments]]
        name = "bank-daily"
        cron = "0 25 * * *"
        timezone = "Europe/Pari"

        [[deployments]]
        name = "bank-daily"
        cron = "0 8 30 2 *"

        [[deployments]]
        name = "with space"
        cron = "0 0 8 * * *"

        [[deployments]]
        name = ""
        cron = "0 8 * * *"
        flow = " "
        "#,
    )
    .expect("valid TOML");
    let Err(ScheduleError::Invalid(problems)) = validate(&deployments) else {
        panic!("the deployments should be invalid");
    };
    let found: Vec<(&str, &str)> = problems
        .iter()
        .map(|p| (p.deployment.as_str(), p.field))
        .collect();
    assert_eq!(
        found,
        [
            ("bank-daily", "cron"),
            ("bank-daily", "timezone"),
            ("bank-daily", "name"),
            ("bank-daily", "cron"),
            ("with space", "name"),
            ("with space", "cron"),
            ("#4", "name"),
            ("#4", "flow"),
        ]
    );
    let message = ScheduleError::Invalid(problems).to_string();
    for expected in [
        "deployment `bank-daily`, field `cron`: `0 25 * * *` is not a 5-field cron expression",
        "deployment `bank-daily`, field `timezone`: unknown time zone `Europe/Pari`",
        "deployment `bank-daily`, field `name`: is used by an earlier deployment",
        "deployment `bank-daily`, field `cron`: `0 8 30 2 *` matches no date",
        "deployment `with space`, field `cron`: `0 0 8 * * *` is not a 5-field cron expression",
    ] {
        assert!(message.contains(expected), "{expected}\nnot in\n{message}");
    }
}

on_both_stores!(
    a_restart_does_not_launch_an_occurrence_already_launched,
    pause_and_resume_survive_reopening_the_store_and_win_over_the_configuration,
);
