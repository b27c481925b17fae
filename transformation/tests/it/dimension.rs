//! The dimension builder across runs: stable keys, SCD type 2 history, type 1, the
//! unknown member.

use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, TimeUnit};
use datafusion::prelude::{DataFrame, SessionContext};
use transformation::star_schema::{DimensionSpec, History};

fn spec(history: History) -> DimensionSpec {
    DimensionSpec {
        table: "dim_clients".into(),
        surrogate_key: "client_key".into(),
        business_key: "client_id".into(),
        attributes: vec!["city".into()],
        history,
    }
}

fn incoming(ctx: &SessionContext, rows: &[(&str, &str)], day: i64) -> DataFrame {
    let schema = Arc::new(Schema::new(vec![
        Field::new("client_id", DataType::Utf8, false),
        Field::new("city", DataType::Utf8, true),
        Field::new(
            "valid_from",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]));
    let ids = StringArray::from_iter_values(rows.iter().map(|r| r.0));
    let cities = StringArray::from_iter_values(rows.iter().map(|r| r.1));
    let from = TimestampMicrosecondArray::from(vec![day * 86_400_000_000; rows.len()])
        .with_timezone("UTC");
    let batch = RecordBatch::try_new(
        schema,
        vec![Arc::new(ids), Arc::new(cities), Arc::new(from)],
    )
    .expect("batch");
    ctx.read_batch(batch).expect("frame")
}

/// Runs the builder and returns the dimension sorted by key, plus (key, id, city, to
/// day, current) rows.
pub(crate) async fn run(
    ctx: &SessionContext,
    history: History,
    rows: &[(&str, &str)],
    day: i64,
    previous: Option<Vec<RecordBatch>>,
) -> (
    Vec<RecordBatch>,
    Vec<(i64, String, Option<String>, Option<i64>, bool)>,
) {
    let previous = previous.map(|batches| ctx.read_batches(batches).expect("previous"));
    let frame = spec(history)
        .build(ctx, incoming(ctx, rows, day), previous)
        .await
        .expect("build");
    let batches = frame
        .sort_by(vec![datafusion::prelude::col("client_key")])
        .expect("sort")
        .collect()
        .await
        .expect("collect");
    let mut out = Vec::new();
    for batch in &batches {
        let key = batch
            .column_by_name("client_key")
            .expect("key")
            .as_primitive::<Int64Type>();
        let id = batch
            .column_by_name("client_id")
            .expect("id")
            .as_string::<i32>();
        let city = batch
            .column_by_name("city")
            .expect("city")
            .as_string::<i32>();
        let to = batch
            .column_by_name("valid_to")
            .expect("to")
            .as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
        let current = batch
            .column_by_name("is_current")
            .expect("current")
            .as_boolean();
        for row in 0..batch.num_rows() {
            use arrow::array::Array;
            out.push((
                key.value(row),
                id.value(row).to_owned(),
                city.is_valid(row).then(|| city.value(row).to_owned()),
                to.is_valid(row).then(|| to.value(row) / 86_400_000_000),
                current.value(row),
            ));
        }
    }
    (batches, out)
}

fn row(
    key: i64,
    id: &str,
    city: Option<&str>,
    to: Option<i64>,
    current: bool,
) -> (i64, String, Option<String>, Option<i64>, bool) {
    (key, id.to_owned(), city.map(str::to_owned), to, current)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type2_history_over_three_runs_keeps_keys_stable() {
    let ctx = SessionContext::new();
    let (first, rows) = run(
        &ctx,
        History::Type2,
        &[("C2", "Lyon"), ("C1", "Paris")],
        1,
        None,
    )
    .await;
    assert_eq!(
        rows,
        [
            row(-1, "unknown", None, None, true),
            row(1, "C1", Some("Paris"), None, true),
            row(2, "C2", Some("Lyon"), None, true)
        ]
    );

    let (second, rows) = run(
        &ctx,
        History::Type2,
        &[("C1", "Nice"), ("C2", "Lyon"), ("C3", "Brno")],
        5,
        Some(first),
    )
    .await;
    assert_eq!(
        rows,
        [
            row(-1, "unknown", None, None, true),
            row(1, "C1", Some("Paris"), Some(5), false),
            row(2, "C2", Some("Lyon"), None, true),
            row(3, "C1", Some("Nice"), None, true),
            row(4, "C3", Some("Brno"), None, true),
        ]
    );

    // The same delivery again changes nothing; a partial one closes nothing.
    let (third, again) = run(
        &ctx,
        History::Type2,
        &[("C1", "Nice"), ("C2", "Lyon"), ("C3", "Brno")],
        9,
        Some(second),
    )
    .await;
    assert_eq!(again, rows);
    let (_, partial) = run(&ctx, History::Type2, &[("C3", "Brno")], 10, Some(third)).await;
    assert_eq!(partial, rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_attributes_as_utf8_view() {
    let ctx = SessionContext::new();
    let frame = incoming(&ctx, &[("C1", "Paris")], 1);
    let view = frame
        .select(vec![
            datafusion::prelude::cast(datafusion::prelude::col("client_id"), DataType::Utf8View)
                .alias("client_id"),
            datafusion::prelude::cast(datafusion::prelude::col("city"), DataType::Utf8View)
                .alias("city"),
            datafusion::prelude::cast(datafusion::prelude::col("city"), DataType::Utf8View)
                .alias("region"),
            datafusion::prelude::col("valid_from"),
        ])
        .expect("select");
    let spec = DimensionSpec {
        attributes: vec!["city".into(), "region".into()],
        ..spec(History::Type2)
    };
    let first = spec
        .build(&ctx, view.clone(), None)
        .await
        .expect("build")
        .collect()
        .await
        .expect("collect");
    let first = spec
        .build(&ctx, view, Some(ctx.read_batches(first).expect("previous")))
        .await
        .expect("second run");
    let first = first.collect().await.expect("collect");
    assert_eq!(first.iter().map(RecordBatch::num_rows).sum::<usize>(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type1_overwrites_in_place() {
    let ctx = SessionContext::new();
    let (first, _) = run(&ctx, History::Type1, &[("P1", "a"), ("P2", "b")], 1, None).await;
    let (_, rows) = run(
        &ctx,
        History::Type1,
        &[("P2", "c"), ("P3", "d")],
        2,
        Some(first),
    )
    .await;
    assert_eq!(
        rows,
        [
            row(-1, "unknown", None, None, true),
            row(1, "P1", Some("a"), None, true),
            row(2, "P2", Some("c"), None, true),
            row(3, "P3", Some("d"), None, true),
        ]
    );
}
