//! Two writers on one table at the same time: Delta's optimistic concurrency.
//!
//! Each writer's input waits at a barrier for the other's, so both have read the same
//! version of the table before either commits: the race is certain, not left to the
//! scheduler.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use futures::Stream;
use storage::StorageError;
use storage::delta::{self, TableLocation, WriteMode};
use tokio::sync::Barrier;

use crate::delta::{batch, rows_stream, schema, table_rows, write};

/// `batches`, held back until the other writer's input is being read too (or a few
/// seconds have passed, so a writer that fails early cannot hang the test).
fn after_barrier(
    barrier: Arc<Barrier>,
    batches: impl Stream<Item = Result<RecordBatch, DataFusionError>> + Send + 'static,
) -> impl Stream<Item = Result<RecordBatch, DataFusionError>> + Send + 'static {
    use futures::StreamExt;
    futures::stream::once(async move {
        let _ = tokio::time::timeout(Duration::from_secs(10), barrier.wait()).await;
        batches
    })
    .flatten()
}

/// Writes `ids` with `mode` in a task of its own, once the other writer sharing
/// `barrier` is writing too.
pub(crate) fn append(
    location: &TableLocation,
    barrier: &Arc<Barrier>,
    ids: std::ops::Range<i64>,
    mode: WriteMode,
    run: String,
) -> tokio::task::JoinHandle<storage::Result<storage::WriteReport>> {
    let location = location.clone();
    let input = after_barrier(barrier.clone(), futures::stream::iter(vec![batch(ids)]));
    tokio::spawn(async move {
        delta::write_stream(
            &location,
            schema(),
            input,
            mode,
            &[],
            delta::run_metadata(&run),
        )
        .await
    })
}

/// The versions of the commit files in the table's log, in order.
fn log_versions(folder: &std::path::Path) -> Vec<u64> {
    let mut versions: Vec<u64> = std::fs::read_dir(folder.join("_delta_log"))
        .expect("log")
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".json")?.parse().ok()
        })
        .collect();
    versions.sort_unstable();
    versions
}

fn is_conflict(error: &StorageError) -> bool {
    matches!(error, StorageError::ConcurrentCommit { .. })
        && error.to_string().contains("concurrent commit conflict")
}

/// Creates the table at `location` with 10 rows, then `rounds` times appends from two
/// writers at once: both land, at consecutive versions, with their run ids. Returns
/// the history's run ids, sorted.
pub(crate) async fn appends_in_pairs_all_land(
    location: &TableLocation,
    rounds: i64,
) -> Vec<String> {
    write(location, vec![batch(0..10)], WriteMode::Overwrite, "base")
        .await
        .expect("create");
    for round in 0..rounds {
        let barrier = Arc::new(Barrier::new(2));
        let start = 1000 * (round + 1);
        let a = append(
            location,
            &barrier,
            start..start + 100,
            WriteMode::Append,
            format!("a{round}"),
        );
        let b = append(
            location,
            &barrier,
            start + 500..start + 550,
            WriteMode::Append,
            format!("b{round}"),
        );
        let (a, b) = tokio::join!(a, b);
        let a = a.expect("task a").expect("append a");
        let b = b.expect("task b").expect("append b");
        let base = 2 * round as u64;
        let mut versions = [a.version, b.version];
        versions.sort_unstable();
        assert_eq!(versions, [base + 1, base + 2], "round {round}");
    }
    assert_eq!(
        delta::count_rows(location).await.expect("count"),
        10 + 150 * rounds as u64
    );
    let history = delta::history(location, None).await.expect("history");
    let mut runs: Vec<String> = history.into_iter().filter_map(|c| c.run_id).collect();
    runs.sort();
    runs
}

/// Creates the table at `location` with 10 rows, then overwrites it from two writers
/// at once: one commits, the other fails with a conflict, and the table holds the
/// winner's rows only. Returns the loser's error.
pub(crate) async fn one_of_two_overwrites_wins(location: &TableLocation) -> StorageError {
    write(location, vec![batch(0..10)], WriteMode::Overwrite, "base")
        .await
        .expect("create");
    let barrier = Arc::new(Barrier::new(2));
    let a = append(
        location,
        &barrier,
        100..110,
        WriteMode::Overwrite,
        "a".into(),
    );
    let b = append(
        location,
        &barrier,
        200..205,
        WriteMode::Overwrite,
        "b".into(),
    );
    let (a, b) = tokio::join!(a, b);
    let (winner, error) = match (a.expect("task a"), b.expect("task b")) {
        (Ok(_), Err(error)) => (100..110, error),
        (Err(error), Ok(_)) => (200..205, error),
        (a, b) => panic!("one overwrite must win and one fail: {a:?} {b:?}"),
    };
    assert!(is_conflict(&error), "{error}");
    let ids: Vec<i64> = table_rows(location)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        ids,
        winner.collect::<Vec<_>>(),
        "the winner's rows, nothing of the loser's"
    );
    error
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_appends_both_land() {
    let dir = tempfile::tempdir().expect("dir");
    let location = TableLocation::local(dir.path()).expect("location");
    let runs = appends_in_pairs_all_land(&location, 3).await;
    assert_eq!(runs, ["a0", "a1", "a2", "b0", "b1", "b2", "base"]);
    assert_eq!(log_versions(dir.path()), (0..=6).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_concurrent_overwrites_one_commits_and_the_other_fails_clearly() {
    let dir = tempfile::tempdir().expect("dir");
    let location = TableLocation::local(dir.path()).expect("location");
    let error = one_of_two_overwrites_wins(&location).await;
    // delta-rs 1.1: the loser's overwrite read (and removes) the file the winner removed.
    assert!(
        error
            .to_string()
            .contains("a concurrent transaction deleted data this operation read"),
        "{error}"
    );
    assert_eq!(log_versions(dir.path()), vec![0, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_concurrent_merges_of_the_same_keys_one_commits_and_the_other_fails_clearly() {
    let dir = tempfile::tempdir().expect("dir");
    let location = TableLocation::local(dir.path()).expect("location");
    write(&location, vec![batch(0..10)], WriteMode::Overwrite, "base")
        .await
        .expect("create");

    let barrier = Arc::new(Barrier::new(2));
    let merge = |name: &'static str| {
        let location = location.clone();
        let input = after_barrier(
            barrier.clone(),
            rows_stream(&[(1, Some(name)), (2, Some(name))]),
        );
        tokio::spawn(async move {
            delta::merge(
                &location,
                schema(),
                input,
                &["id"],
                delta::run_metadata(name),
            )
            .await
        })
    };
    let (a, b) = tokio::join!(merge("a"), merge("b"));
    let (a, b) = (a.expect("task a"), b.expect("task b"));
    let (winner, error) = match (a, b) {
        (Ok(_), Err(error)) => ("a", error),
        (Err(error), Ok(_)) => ("b", error),
        (a, b) => panic!("one merge must win and one fail: {a:?} {b:?}"),
    };
    assert!(is_conflict(&error), "{error}");
    // delta-rs 1.1: the winner's rewritten file is new data the loser's merge should
    // have read.
    assert!(
        error
            .to_string()
            .contains("a concurrent transactions added new data"),
        "{error}"
    );
    let rows = table_rows(&location).await;
    assert_eq!(rows[1], (1, Some(winner.to_owned())));
    assert_eq!(rows[2], (2, Some(winner.to_owned())));
    assert_eq!(rows.len(), 10);
    assert_eq!(log_versions(dir.path()), vec![0, 1]);
}
