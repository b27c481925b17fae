//! Delta maintenance: optimize, vacuum, checkpoints.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use storage::StorageError;
use storage::delta::maintain::{self, DEFAULT_RETENTION, MaintenanceOptions};
use storage::delta::{self, At, TableLocation, WriteMode};

use crate::delta::{batch, table_rows, write};

/// A table of 5 files: an overwrite, then 4 appends.
async fn five_small_files(location: &TableLocation) {
    write(location, vec![batch(0..10)], WriteMode::Overwrite, "w0")
        .await
        .expect("write");
    for i in 1..5 {
        write(
            location,
            vec![batch(i * 10..i * 10 + 10)],
            WriteMode::Append,
            &format!("w{i}"),
        )
        .await
        .expect("append");
    }
}

/// The data files in the table's folder (tracked or not).
fn parquet_files(folder: &Path) -> usize {
    std::fs::read_dir(folder)
        .expect("folder")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
        .count()
}

/// Lets vacuum delete files removed any time ago, as the table's own setting.
async fn allow_zero_retention(location: &TableLocation) {
    let table = delta::open(location).await.expect("open").expect("table");
    table
        .set_tbl_properties()
        .with_properties(HashMap::from([(
            "delta.deletedFileRetentionDuration".to_owned(),
            "interval 0 seconds".to_owned(),
        )]))
        .await
        .expect("set the table's retention");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optimize_compacts_five_small_appends_into_one_file() {
    let dir = tempfile::tempdir().expect("dir");
    let location = TableLocation::local(dir.path()).expect("location");
    five_small_files(&location).await;
    let before = table_rows(&location).await;

    let report = maintain::optimize(&location, None, delta::run_metadata("opt"))
        .await
        .expect("optimize");
    assert_eq!(
        (
            report.files_before,
            report.files_after,
            report.files_removed,
            report.files_added
        ),
        (5, 1, 5, 1)
    );
    assert_eq!(report.version, 5);
    assert_eq!(table_rows(&location).await, before, "the same rows");
    let latest = delta::history(&location, Some(1)).await.expect("history");
    assert_eq!(latest[0].operation, "OPTIMIZE");
    assert_eq!(latest[0].run_id.as_deref(), Some("opt"));

    let again = maintain::optimize(&location, None, delta::run_metadata("opt2"))
        .await
        .expect("optimize again");
    assert_eq!((again.files_after, again.version), (1, 5), "nothing to do");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vacuum_below_the_minimum_retention_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let location = TableLocation::local(dir.path()).expect("location");
    five_small_files(&location).await;

    let error = maintain::vacuum(
        &location,
        Duration::from_secs(24 * 3600),
        false,
        delta::run_metadata("v"),
    )
    .await
    .expect_err("24 h is below 7 days");
    assert!(
        matches!(
            error,
            StorageError::RetentionTooShort {
                requested_hours: 24.0,
                minimum_hours: 168.0,
                ..
            }
        ),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("24 h is below the table's minimum of 168 h")
            && message.contains("time travel"),
        "{message}"
    );

    // maintain checks first: nothing compacted either.
    let options = MaintenanceOptions {
        retention: Duration::from_secs(3600),
        ..MaintenanceOptions::default()
    };
    maintain::maintain(&location, &options)
        .await
        .expect_err("refused");
    let latest = delta::history(&location, Some(1)).await.expect("history");
    assert_eq!(latest[0].version, 4, "no commit");

    let report = maintain::vacuum(
        &location,
        DEFAULT_RETENTION,
        false,
        delta::run_metadata("v"),
    )
    .await
    .expect("7 days is fine");
    assert!(report.files.is_empty(), "nothing removed 7 days ago");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vacuum_dry_run_lists_the_files_an_overwrite_removed() {
    let dir = tempfile::tempdir().expect("dir");
    let location = TableLocation::local(dir.path()).expect("location");
    write(&location, vec![batch(0..10)], WriteMode::Overwrite, "v0")
        .await
        .expect("write");
    allow_zero_retention(&location).await;
    write(&location, vec![batch(10..20)], WriteMode::Overwrite, "v2")
        .await
        .expect("overwrite");
    assert_eq!(parquet_files(dir.path()), 2);

    // The default retention keeps what was removed a moment ago.
    let kept = maintain::vacuum(&location, DEFAULT_RETENTION, true, delta::run_metadata("d"))
        .await
        .expect("dry run");
    assert!(kept.files.is_empty(), "{:?}", kept.files);

    tokio::time::sleep(Duration::from_millis(50)).await;
    let dry = maintain::vacuum(&location, Duration::ZERO, true, delta::run_metadata("d"))
        .await
        .expect("dry run");
    assert!(dry.dry_run);
    assert_eq!(dry.files.len(), 1, "{:?}", dry.files);
    assert!(dry.files[0].ends_with(".parquet"), "{:?}", dry.files);
    assert_eq!(parquet_files(dir.path()), 2, "a dry run deletes nothing");
    let old = delta::query_at(&location, "SELECT * FROM t", At::Version(0))
        .await
        .expect("time travel still works");
    assert_eq!(old.iter().map(|b| b.num_rows()).sum::<usize>(), 10);

    let done = maintain::vacuum(&location, Duration::ZERO, false, delta::run_metadata("vac"))
        .await
        .expect("vacuum");
    assert_eq!(done.files, dry.files);
    assert_eq!(parquet_files(dir.path()), 1);
    assert_eq!(done.version, 4, "VACUUM START and VACUUM END");
    let operations: Vec<(String, Option<String>)> = delta::history(&location, Some(2))
        .await
        .expect("history")
        .into_iter()
        .map(|c| (c.operation, c.run_id))
        .collect();
    assert_eq!(
        operations,
        vec![
            ("VACUUM END".to_owned(), Some("vac".to_owned())),
            ("VACUUM START".to_owned(), Some("vac".to_owned())),
        ]
    );
    assert_eq!(table_rows(&location).await.len(), 10);
    delta::query_at(&location, "SELECT * FROM t", At::Version(0))
        .await
        .expect_err("version 0's file is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_writes_a_parquet_checkpoint() {
    let dir = tempfile::tempdir().expect("dir");
    let location = TableLocation::local(dir.path()).expect("location");
    five_small_files(&location).await;

    let version = maintain::checkpoint(&location).await.expect("checkpoint");
    assert_eq!(version, 4);
    let log = dir.path().join("_delta_log");
    assert!(
        log.join("00000000000000000004.checkpoint.parquet")
            .is_file(),
        "{:?}",
        std::fs::read_dir(&log)
            .expect("log")
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Vec<_>>()
    );
    assert!(log.join("_last_checkpoint").is_file());
    assert_eq!(
        maintain::checkpoint(&location).await.expect("again"),
        4,
        "a second checkpoint of the same version is no error"
    );
    assert_eq!(table_rows(&location).await.len(), 50);
    write(&location, vec![batch(50..51)], WriteMode::Append, "after")
        .await
        .expect("append after the checkpoint");
    assert_eq!(delta::count_rows(&location).await.expect("count"), 51);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintain_compacts_vacuums_and_checkpoints() {
    let dir = tempfile::tempdir().expect("dir");
    let location = TableLocation::local(dir.path()).expect("location");
    five_small_files(&location).await;
    let before = table_rows(&location).await;

    let dry = maintain::maintain(
        &location,
        &MaintenanceOptions {
            dry_run: true,
            ..MaintenanceOptions::default()
        },
    )
    .await
    .expect("dry run");
    assert_eq!((dry.files_before, dry.files_after), (5, 5));
    assert_eq!((dry.optimize, dry.checkpoint, dry.version), (None, None, 4));

    let options = MaintenanceOptions {
        metadata: delta::run_metadata("maint"),
        ..MaintenanceOptions::default()
    };
    let report = maintain::maintain(&location, &options)
        .await
        .expect("maintain");
    assert_eq!((report.files_before, report.files_after), (5, 1));
    assert!(report.vacuum.files.is_empty(), "retention 7 days");
    assert_eq!(report.checkpoint, Some(5));
    assert_eq!(report.version, 5);
    assert!(
        dir.path()
            .join("_delta_log/00000000000000000005.checkpoint.parquet")
            .is_file()
    );
    assert_eq!(table_rows(&location).await, before);
}
