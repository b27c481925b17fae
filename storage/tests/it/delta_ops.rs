//! Delta operations: merge, replace_where, delete, time travel and history.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::error::DataFusionError;
use storage::StorageError;
use storage::delta::{self, At, TableLocation, WriteMode};

use crate::delta::{batch, rows_stream, schema, table_rows, write};

fn owned(rows: &[(i64, Option<&str>)]) -> Vec<(i64, Option<String>)> {
    rows.iter()
        .map(|(id, name)| (*id, name.map(str::to_owned)))
        .collect()
}

/// Merges `rows` on `id` with the run id `run`.
pub(crate) async fn merge(
    location: &TableLocation,
    rows: &[(i64, Option<&str>)],
    run: &str,
) -> storage::Result<delta::MergeReport> {
    delta::merge(
        location,
        schema(),
        rows_stream(rows),
        &["id"],
        delta::run_metadata(run),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_creates_inserts_and_updates_on_keys() {
    let dir = tempfile::tempdir().expect("dir");
    let location = TableLocation::local(dir.path()).expect("location");

    let first = [(1, Some("a")), (2, Some("b")), (3, None)];
    let created = merge(&location, &first, "run-1").await.expect("merge");
    assert_eq!(
        (created.inserted, created.updated, created.version),
        (3, 0, 0),
        "the first merge creates the table"
    );

    // 1 unchanged, 2 changed, 3 from NULL to a value, 4 new.
    let second = [
        (1, Some("a")),
        (2, Some("B")),
        (3, Some("c")),
        (4, Some("d")),
    ];
    let report = merge(&location, &second, "run-2").await.expect("merge");
    assert_eq!(
        report,
        delta::MergeReport {
            inserted: 1,
            updated: 2,
            deleted: 0,
            version: 1
        }
    );
    assert_eq!(table_rows(&location).await, owned(&second));

    // A value back to NULL is a change too.
    let third = [(2, None)];
    let report = merge(&location, &third, "run-3").await.expect("merge");
    assert_eq!((report.inserted, report.updated), (0, 1));
    assert_eq!(
        table_rows(&location).await,
        owned(&[(1, Some("a")), (2, None), (3, Some("c")), (4, Some("d"))])
    );
    let metadata = delta::latest_commit_metadata(&location)
        .await
        .expect("meta");
    assert_eq!(
        metadata.get(delta::RUN_ID_KEY),
        Some(&serde_json::Value::from("run-3"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merging_the_same_rows_twice_changes_nothing_the_second_time() {
    let dir = tempfile::tempdir().expect("dir");
    let location = TableLocation::local(dir.path()).expect("location");
    write(&location, vec![batch(0..100)], WriteMode::Overwrite, "base")
        .await
        .expect("write");

    let rows = [(5, Some("five")), (50, None), (500, Some("new"))];
    let first = merge(&location, &rows, "run-1").await.expect("first merge");
    assert_eq!((first.inserted, first.updated, first.version), (1, 2, 1));
    let after_first = table_rows(&location).await;

    let second = merge(&location, &rows, "run-2")
        .await
        .expect("second merge");
    assert_eq!(
        second,
        delta::MergeReport {
            inserted: 0,
            updated: 0,
            deleted: 0,
            version: 1
        },
        "nothing to do: no commit"
    );
    assert_eq!(table_rows(&location).await, after_first);
    assert_eq!(after_first.len(), 101);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_refuses_bad_keys_and_two_rows_for_one_key() {
    let dir = tempfile::tempdir().expect("dir");
    let location = TableLocation::local(dir.path()).expect("location");
    write(&location, vec![batch(0..10)], WriteMode::Overwrite, "base")
        .await
        .expect("write");

    for keys in [&[][..], &["nope"][..], &["id", "id"][..]] {
        let error = delta::merge(
            &location,
            schema(),
            rows_stream(&[(1, Some("x"))]),
            keys,
            delta::run_metadata("bad"),
        )
        .await
        .expect_err("bad keys");
        assert!(matches!(error, StorageError::Invalid { .. }), "{error}");
    }

    let error = merge(&location, &[(1, Some("x")), (1, Some("y"))], "dup")
        .await
        .expect_err("two source rows for one target row");
    assert!(
        error
            .to_string()
            .contains("matched a target row with multiple source rows"),
        "{error}"
    );
    assert_eq!(table_rows(&location).await.len(), 10, "nothing written");
}

fn monthly_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("month", DataType::Utf8, false),
        Field::new("amount", DataType::Int64, true),
    ]))
}

fn monthly(rows: &[(i64, &str, i64)]) -> Vec<Result<RecordBatch, DataFusionError>> {
    let batch = RecordBatch::try_new(
        monthly_schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
        ],
    );
    vec![batch.map_err(DataFusionError::from)]
}

async fn monthly_rows(location: &TableLocation) -> Vec<String> {
    let batches = delta::query(
        location,
        "SELECT id, month, amount FROM t ORDER BY month, id",
    )
    .await
    .expect("query");
    let text = arrow::util::pretty::pretty_format_batches(&batches)
        .expect("format")
        .to_string();
    text.lines()
        .filter(|line| line.starts_with("| "))
        .skip(1)
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_where_rewrites_only_its_partition() {
    let dir = tempfile::tempdir().expect("dir");
    let location = TableLocation::local(dir.path()).expect("location");
    let rows = [
        (1, "2024-01", 10),
        (2, "2024-01", 20),
        (3, "2024-02", 30),
        (4, "2024-02", 40),
        (5, "2024-03", 50),
    ];
    delta::write_stream(
        &location,
        monthly_schema(),
        futures::stream::iter(monthly(&rows)),
        WriteMode::Overwrite,
        &["month"],
        delta::run_metadata("base"),
    )
    .await
    .expect("write");
    let january = std::fs::read_dir(dir.path().join("month=2024-01"))
        .expect("january's folder")
        .count();

    let report = delta::replace_where(
        &location,
        monthly_schema(),
        futures::stream::iter(monthly(&[(3, "2024-02", 33), (6, "2024-02", 60)])),
        "month = '2024-02'",
        &["month"],
        delta::run_metadata("february"),
    )
    .await
    .expect("replace february");
    assert_eq!(report.version, 1);
    assert_eq!(
        monthly_rows(&location).await,
        vec![
            "| 1 | 2024-01 | 10 |",
            "| 2 | 2024-01 | 20 |",
            "| 3 | 2024-02 | 33 |",
            "| 6 | 2024-02 | 60 |",
            "| 5 | 2024-03 | 50 |",
        ]
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("month=2024-01"))
            .expect("january's folder")
            .count(),
        january,
        "no file of another month was rewritten"
    );
    let replace = delta::history(&location, Some(1)).await.expect("history");
    assert_eq!(
        (
            replace[0].metrics.get("num_removed_files"),
            replace[0].metrics.get("num_added_files"),
            replace[0].run_id.as_deref(),
        ),
        (
            Some(&serde_json::Value::from(1)),
            Some(&serde_json::Value::from(1)),
            Some("february")
        ),
        "only February's file replaced: {:?}",
        replace[0].metrics
    );

    // A row outside the predicate is refused, and nothing is written.
    let error = delta::replace_where(
        &location,
        monthly_schema(),
        futures::stream::iter(monthly(&[(7, "2024-03", 70)])),
        "month = '2024-02'",
        &["month"],
        delta::run_metadata("wrong"),
    )
    .await
    .expect_err("a row of March in February's replacement");
    assert!(matches!(error, StorageError::Invalid { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("replace_where 'month = '2024-02'': some incoming rows do not match"),
        "{error}"
    );
    let history = delta::history(&location, Some(1)).await.expect("history");
    assert_eq!(history[0].version, 1, "no commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_the_matching_rows() {
    let dir = tempfile::tempdir().expect("dir");
    let location = TableLocation::local(dir.path()).expect("location");
    let error = delta::delete(&location, "id < 5", delta::run_metadata("none"))
        .await
        .expect_err("no table");
    assert!(error.to_string().contains("Not a Delta table"), "{error}");

    write(&location, vec![batch(0..20)], WriteMode::Overwrite, "base")
        .await
        .expect("write");
    let report = delta::delete(&location, "id < 5 OR id >= 18", delta::run_metadata("del"))
        .await
        .expect("delete");
    assert_eq!(report.deleted, Some(7));
    assert_eq!(report.version, 1);
    let ids: Vec<i64> = table_rows(&location)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, (5..18).collect::<Vec<_>>());

    let none = delta::delete(&location, "id > 1000", delta::run_metadata("none"))
        .await
        .expect("delete nothing");
    assert_eq!(none.deleted, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_travel_by_version_and_by_timestamp_reads_the_old_rows() {
    let dir = tempfile::tempdir().expect("dir");
    let location = TableLocation::local(dir.path()).expect("location");
    let before_table = chrono::Utc::now() - chrono::Duration::seconds(5);
    write(&location, vec![batch(0..10)], WriteMode::Overwrite, "v0")
        .await
        .expect("v0");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let between = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(100)).await;
    write(&location, vec![batch(100..103)], WriteMode::Overwrite, "v1")
        .await
        .expect("v1");
    write(&location, vec![batch(103..104)], WriteMode::Append, "v2")
        .await
        .expect("v2");

    let count = |batches: Vec<RecordBatch>| -> usize { batches.iter().map(|b| b.num_rows()).sum() };
    let sql = "SELECT id, name FROM t";
    let v0 = delta::query_at(&location, sql, At::Version(0))
        .await
        .expect("version 0");
    assert_eq!(count(v0), 10);
    let v1 = delta::query_at(&location, sql, At::Version(1))
        .await
        .expect("version 1");
    assert_eq!(count(v1), 3);
    let then = delta::query_at(&location, sql, At::Timestamp(between))
        .await
        .expect("at a time between v0 and v1");
    assert_eq!(count(then), 10, "the rows of version 0");
    let now = delta::query_at(&location, sql, At::Timestamp(chrono::Utc::now()))
        .await
        .expect("now");
    assert_eq!(count(now), 4);

    // Both versions side by side in one session.
    let ctx = delta::session();
    delta::register_at(&ctx, "old", &location, At::Version(0))
        .await
        .expect("register v0");
    delta::register_at(&ctx, "new", &location, At::Version(2))
        .await
        .expect("register v2");
    let joined = ctx
        .sql("SELECT count(*) FROM old JOIN new ON old.id = new.id")
        .await
        .expect("plan")
        .collect()
        .await
        .expect("run");
    let matches = joined[0]
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .map(|a| a.value(0));
    assert_eq!(matches, Some(0), "no id is in both versions");

    for at in [At::Version(3), At::Timestamp(before_table)] {
        let error = delta::query_at(&location, sql, at)
            .await
            .expect_err("no such version");
        assert!(
            matches!(error, StorageError::NoSuchVersion { .. }),
            "{at}: {error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lists_the_operations_with_their_run_ids_newest_first() {
    let dir = tempfile::tempdir().expect("dir");
    let location = TableLocation::local(dir.path()).expect("location");
    assert!(
        delta::history(&location, None)
            .await
            .expect("none")
            .is_empty()
    );

    write(&location, vec![batch(0..10)], WriteMode::Overwrite, "run-1")
        .await
        .expect("write");
    merge(&location, &[(1, Some("x")), (20, Some("y"))], "run-2")
        .await
        .expect("merge");
    delta::delete(&location, "id = 2", delta::run_metadata("run-3"))
        .await
        .expect("delete");
    write(&location, vec![batch(30..31)], WriteMode::Append, "run-4")
        .await
        .expect("append");

    let history = delta::history(&location, None).await.expect("history");
    let summary = crate::delta::history_summary(&history);
    assert_eq!(
        summary,
        vec![
            (3, "WRITE", Some("run-4")),
            (2, "DELETE", Some("run-3")),
            (1, "MERGE", Some("run-2")),
            (0, "WRITE", Some("run-1")),
        ]
    );
    let times: Vec<_> = history.iter().map(|c| c.timestamp.expect("time")).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    assert_eq!(
        history[3].parameters.get("mode"),
        Some(&serde_json::Value::from("Overwrite"))
    );
    assert!(
        history[2].metrics.contains_key("num_target_rows_updated"),
        "{:?}",
        history[2].metrics
    );

    let latest_two = delta::history(&location, Some(2)).await.expect("history");
    assert_eq!(
        latest_two.iter().map(|c| c.version).collect::<Vec<_>>(),
        vec![3, 2]
    );
}
