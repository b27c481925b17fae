//! Delta writes: streaming, one commit, metadata, and no partial commit on failure.

use std::sync::Arc;

use arrow::array::{Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::error::DataFusionError;
use storage::delta::{self, TableLocation, WriteMode};

/// `id` (not null) and `name`.
pub(crate) fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]))
}

/// Rows `id`, `n<id>` for `ids`.
pub(crate) fn batch(ids: std::ops::Range<i64>) -> Result<RecordBatch, DataFusionError> {
    let names: Vec<String> = ids.clone().map(|i| format!("n{i}")).collect();
    Ok(RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(ids)),
            Arc::new(StringArray::from(names)),
        ],
    )?)
}

/// Writes `batches` with the run id `id`.
pub(crate) async fn write(
    location: &TableLocation,
    batches: Vec<Result<RecordBatch, DataFusionError>>,
    mode: WriteMode,
    id: &str,
) -> storage::Result<storage::WriteReport> {
    delta::write_stream(
        location,
        schema(),
        futures::stream::iter(batches),
        mode,
        &[],
        delta::run_metadata(id),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overwrite_append_and_commit_metadata() {
    let dir = tempfile::tempdir().expect("dir");
    let location = TableLocation::local(dir.path()).expect("location");
    assert_eq!(delta::count_rows(&location).await.expect("no table yet"), 0);

    let first = write(
        &location,
        vec![batch(0..1000), batch(1000..2500)],
        WriteMode::Overwrite,
        "run-1",
    )
    .await
    .expect("write");
    assert_eq!(first.version, 0);
    assert_eq!(delta::count_rows(&location).await.expect("count"), 2500);

    let second = write(&location, vec![batch(0..10)], WriteMode::Overwrite, "run-2")
        .await
        .expect("overwrite");
    assert_eq!(second.version, 1);
    assert_eq!(delta::count_rows(&location).await.expect("count"), 10);

    write(&location, vec![batch(10..15)], WriteMode::Append, "run-3")
        .await
        .expect("append");
    assert_eq!(delta::count_rows(&location).await.expect("count"), 15);
    let metadata = delta::latest_commit_metadata(&location)
        .await
        .expect("history");
    assert_eq!(
        metadata.get(delta::RUN_ID_KEY),
        Some(&serde_json::Value::from("run-3"))
    );

    let names = delta::query(&location, "SELECT max(id) AS m FROM t")
        .await
        .expect("query");
    let max = names[0]
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .map(|a| a.value(0));
    assert_eq!(max, Some(14));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_stream_commits_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let location = TableLocation::local(dir.path()).expect("location");
    write(&location, vec![batch(0..100)], WriteMode::Overwrite, "good")
        .await
        .expect("first write");

    let failing = vec![
        batch(0..50),
        Err(DataFusionError::Execution("reader failed half-way".into())),
    ];
    let error = write(&location, failing, WriteMode::Overwrite, "bad")
        .await
        .expect_err("the write fails");
    assert!(
        error.to_string().contains("reader failed half-way"),
        "{error}"
    );
    assert_eq!(
        delta::count_rows(&location).await.expect("count"),
        100,
        "the previous version is intact"
    );
    let metadata = delta::latest_commit_metadata(&location)
        .await
        .expect("history");
    assert_eq!(
        metadata.get(delta::RUN_ID_KEY),
        Some(&serde_json::Value::from("good"))
    );
}

/// The `(id, name)` rows of batches with those two columns first.
pub(crate) fn id_names(batches: &[RecordBatch]) -> Vec<(i64, Option<String>)> {
    let mut rows = Vec::new();
    for batch in batches {
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("id is Int64");
        let names = arrow::compute::cast(batch.column(1), &DataType::Utf8).expect("name as text");
        let names = names
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("name is Utf8");
        for i in 0..batch.num_rows() {
            let name = (!names.is_null(i)).then(|| names.value(i).to_owned());
            rows.push((ids.value(i), name));
        }
    }
    rows
}

/// The table's `(id, name)` rows, by id.
pub(crate) async fn table_rows(location: &TableLocation) -> Vec<(i64, Option<String>)> {
    let batches = delta::query(location, "SELECT id, name FROM t ORDER BY id")
        .await
        .expect("query");
    id_names(&batches)
}

/// Batches of `(id, name)` rows as a stream.
/// The table's commits, newest first, as (version, operation, run id).
pub(crate) fn history_summary(history: &[delta::Commit]) -> Vec<(u64, &str, Option<&str>)> {
    history
        .iter()
        .map(|c| (c.version, c.operation.as_str(), c.run_id.as_deref()))
        .collect()
}

pub(crate) fn rows_stream(
    rows: &[(i64, Option<&str>)],
) -> futures::stream::Iter<std::vec::IntoIter<Result<RecordBatch, DataFusionError>>> {
    let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
    let names: Vec<Option<&str>> = rows.iter().map(|(_, name)| *name).collect();
    let batch = RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from(ids)),
            Arc::new(StringArray::from(names)),
        ],
    )
    .map_err(DataFusionError::from);
    futures::stream::iter(vec![batch])
}
