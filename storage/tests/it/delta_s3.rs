//! Delta tables in S3: every operation, and concurrent writers, against an S3 stand-in
//! (moto's server in CI).
//!
//! The stand-in is `BANKPIPE_S3_ENDPOINT` (e.g. `http://127.0.0.1:5000`); without it a
//! test prints `SKIPPED: …` and passes, unless `BANKPIPE_REQUIRE_S3=1`. The bucket is
//! `BANKPIPE_S3_BUCKET` (default `bankpipe-test`), created if missing; each test works
//! under a prefix of its own. Credentials and region come from the environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, as in production), with
//! dummy ones when `AWS_ACCESS_KEY_ID` is unset.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use storage::StorageError;
use storage::delta::maintain::{self, MaintenanceOptions};
use storage::delta::{self, At, TableLocation, WriteMode};

use crate::delta::{batch, table_rows, write};
use crate::delta_concurrency::{appends_in_pairs_all_land, one_of_two_overwrites_wins};
use crate::delta_ops::merge;

/// The root of this test's tables in the stand-in's bucket, or `None` (skipped).
async fn s3_root(test: &str) -> Option<TableLocation> {
    const REQUIRE: &str = "BANKPIPE_REQUIRE_S3";
    let Ok(endpoint) = std::env::var("BANKPIPE_S3_ENDPOINT") else {
        crate::server::unavailable(REQUIRE, "no S3 stand-in", "BANKPIPE_S3_ENDPOINT is not set");
        return None;
    };
    let endpoint = endpoint.trim_end_matches('/').to_owned();
    let bucket = std::env::var("BANKPIPE_S3_BUCKET").unwrap_or_else(|_| "bankpipe-test".into());
    // The stand-in takes an unsigned request; it answers 409 when the bucket exists.
    match reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
    {
        Ok(response) if response.status().is_success() || response.status().as_u16() == 409 => {}
        Ok(response) => panic!(
            "creating bucket {bucket} at {endpoint}: {}",
            response.status()
        ),
        Err(error) => {
            let what = format!("no S3 stand-in at BANKPIPE_S3_ENDPOINT={endpoint}");
            crate::server::unavailable(REQUIRE, &what, error);
            return None;
        }
    }

    let mut options = BTreeMap::from([
        ("aws_endpoint".to_owned(), endpoint.clone()),
        (
            "aws_allow_http".to_owned(),
            endpoint.starts_with("http://").to_string(),
        ),
    ]);
    if std::env::var("AWS_ACCESS_KEY_ID").is_err() {
        for (key, value) in [
            ("aws_access_key_id", "bankpipe"),
            ("aws_secret_access_key", "bankpipe"),
            ("aws_region", "us-east-1"),
        ] {
            options.insert(key.to_owned(), value.to_owned());
        }
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let url = format!("s3://{bucket}/{test}-{}-{nanos}", std::process::id());
    Some(TableLocation::parse_with_options(&url, options).expect("S3 location"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_in_s3_takes_every_operation() {
    let Some(root) = s3_root("ops").await else {
        return;
    };
    let location = root.join("processed/clients").expect("child");
    assert!(location.to_string().ends_with("/processed/clients"));
    assert_eq!(delta::count_rows(&location).await.expect("no table yet"), 0);
    assert!(
        delta::history(&location, None)
            .await
            .expect("none")
            .is_empty()
    );

    // Create, then append.
    let created = write(&location, vec![batch(0..10)], WriteMode::Overwrite, "run-1")
        .await
        .expect("create");
    assert_eq!(created.version, 0);
    write(&location, vec![batch(10..15)], WriteMode::Append, "run-2")
        .await
        .expect("append");
    let rows = table_rows(&location).await;
    assert_eq!(rows.len(), 15);
    assert_eq!(rows[14], (14, Some("n14".to_owned())));

    // Merge, idempotent: the same rows again change nothing and commit nothing.
    let changes = [(1, Some("one")), (100, Some("hundred"))];
    let first = merge(&location, &changes, "run-3").await.expect("merge");
    assert_eq!((first.inserted, first.updated, first.version), (1, 1, 2));
    let after_merge = table_rows(&location).await;
    let again = merge(&location, &changes, "run-4")
        .await
        .expect("merge again");
    assert_eq!((again.inserted, again.updated, again.version), (0, 0, 2));
    assert_eq!(table_rows(&location).await, after_merge);

    let deleted = delta::delete(&location, "id = 2", delta::run_metadata("run-5"))
        .await
        .expect("delete");
    assert_eq!(deleted.deleted, Some(1));

    // Time travel.
    let count = |batches: Vec<arrow::array::RecordBatch>| -> usize {
        batches.iter().map(|b| b.num_rows()).sum()
    };
    let sql = "SELECT id, name FROM t";
    for (at, rows) in [
        (At::Version(0), 10),
        (At::Version(1), 15),
        (At::Version(2), 16),
        (At::Timestamp(chrono::Utc::now()), 15),
    ] {
        let batches = delta::query_at(&location, sql, at).await.expect("travel");
        assert_eq!(count(batches), rows, "{at}");
    }
    let error = delta::query_at(&location, sql, At::Version(9))
        .await
        .expect_err("no version 9");
    assert!(
        matches!(error, StorageError::NoSuchVersion { .. }),
        "{error}"
    );

    // History, with the runs.
    let history = delta::history(&location, None).await.expect("history");
    let summary = crate::delta::history_summary(&history);
    assert_eq!(
        summary,
        [
            (3, "DELETE", Some("run-5")),
            (2, "MERGE", Some("run-3")),
            (1, "WRITE", Some("run-2")),
            (0, "WRITE", Some("run-1")),
        ]
    );

    // Maintenance: compaction and a checkpoint; vacuum keeps the recent files.
    let report = maintain::maintain(&location, &MaintenanceOptions::default())
        .await
        .expect("maintain");
    assert!(report.files_after < report.files_before, "{report:?}");
    assert!(report.vacuum.files.is_empty(), "{report:?}");
    assert_eq!(report.checkpoint, Some(report.version), "{report:?}");
    assert_eq!(table_rows(&location).await.len(), 15);
    let old = delta::query_at(&location, sql, At::Version(0))
        .await
        .expect("travel after compaction");
    assert_eq!(count(old), 10);

    // A sibling table under the same root is a table of its own.
    let sibling = root.join("processed/accounts").expect("child");
    assert_eq!(delta::count_rows(&sibling).await.expect("no table"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_appends_to_s3_both_land() {
    let Some(location) = s3_root("appends").await else {
        return;
    };
    let runs = appends_in_pairs_all_land(&location, 2).await;
    assert_eq!(runs, ["a0", "a1", "b0", "b1", "base"]);
    let history = delta::history(&location, None).await.expect("history");
    let versions: Vec<u64> = history.iter().map(|c| c.version).collect();
    assert_eq!(versions, [4, 3, 2, 1, 0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_concurrent_overwrites_in_s3_one_commits_and_the_other_fails_clearly() {
    let Some(location) = s3_root("overwrites").await else {
        return;
    };
    let error = one_of_two_overwrites_wins(&location).await;
    assert!(
        error.to_string().contains(location.url().as_str()),
        "{error}"
    );
    let history = delta::history(&location, None).await.expect("history");
    assert_eq!(history.len(), 2);
}
