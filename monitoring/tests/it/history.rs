//! Profiles of real tables, and their history in a Delta table.

use std::sync::Arc;

use arrow::array::{BooleanArray, Date32Array, Decimal128Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::{TimeZone, Utc};
use datafusion::prelude::SessionContext;
use monitoring::metrics::{self, History, Metric};
use monitoring::profile::{Depth, profile};
use storage::TableLocation;

/// Four transactions: one without a channel, amounts 10, 20, 30 and a missing one.
pub fn transactions() -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("channel", DataType::Utf8, true),
        Field::new("amount", DataType::Decimal128(18, 2), true),
        Field::new("value_date", DataType::Date32, true),
        Field::new("is_suspicious", DataType::Boolean, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(vec![
                Some("atm"),
                Some("card"),
                None,
                Some("atm"),
            ])),
            Arc::new(
                Decimal128Array::from(vec![Some(1000), Some(2000), Some(3000), None])
                    .with_precision_and_scale(18, 2)
                    .expect("decimal"),
            ),
            Arc::new(Date32Array::from(vec![Some(0), Some(1), Some(2), Some(3)])),
            Arc::new(BooleanArray::from(vec![true, false, false, false])),
        ],
    )
    .expect("batch")
}

#[tokio::test]
async fn a_profile_counts_nulls_distinct_values_and_ranges() {
    let ctx = SessionContext::new();
    ctx.register_batch("transactions", transactions())
        .expect("register");
    let counts = profile(&ctx, "transactions", Depth::Counts)
        .await
        .expect("profile");
    let channel = counts.column("channel").expect("channel");
    assert_eq!((counts.rows, channel.nulls, channel.distinct), (4, 1, None));
    let profile = profile(&ctx, "transactions", Depth::Full)
        .await
        .expect("profile");
    assert_eq!(profile.rows, 4);
    let channel = profile.column("channel").expect("channel");
    assert_eq!((channel.nulls, channel.distinct), (1, Some(2)));
    assert_eq!(channel.min, None, "text has no range");
    let amount = profile.column("amount").expect("amount");
    assert_eq!(
        (amount.min, amount.max, amount.mean),
        (Some(10.0), Some(30.0), Some(20.0))
    );
    assert_eq!(profile.null_rate("amount"), Some(0.25));
    let day = profile.column("value_date").expect("value_date");
    assert_eq!((day.min, day.max), (Some(0.0), Some(3.0 * 86_400.0)));
    let flag = profile.column("is_suspicious").expect("flag");
    assert_eq!((flag.mean, flag.distinct), (Some(0.25), None));
    assert!(flag.quantiles.is_empty() && flag.top.is_empty());
}

#[tokio::test]
async fn a_profile_has_quantiles_and_frequent_codes_but_nothing_personal() {
    let ctx = SessionContext::new();
    let amounts: Vec<i64> = (1..=100).collect();
    let channels: Vec<&str> = (1..=100)
        .map(|i| match i % 10 {
            0..=5 => "card",
            6..=8 => "atm",
            _ => "branch",
        })
        .collect();
    let births: Vec<i32> = (0..100).map(|i| 3_000 + i).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("amount", DataType::Int64, false),
        Field::new("channel", DataType::Utf8, false),
        Field::new("birth_date", DataType::Date32, false),
        Field::new("last_name", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(arrow::array::Int64Array::from(amounts)),
            Arc::new(StringArray::from(channels)),
            Arc::new(Date32Array::from(births)),
            Arc::new(StringArray::from(vec!["Novak"; 100])),
        ],
    )
    .expect("batch");
    ctx.register_batch("clients", batch).expect("register");
    let profile = profile(&ctx, "clients", Depth::Full)
        .await
        .expect("profile");

    let amount = profile.column("amount").expect("amount");
    let percents: Vec<u8> = amount.quantiles.iter().map(|(p, _)| *p).collect();
    assert_eq!(percents, [5, 25, 50, 75, 95]);
    for (percent, value) in &amount.quantiles {
        assert!(
            (value - f64::from(*percent)).abs() <= 1.5,
            "p{percent} of 1..=100 is about {percent}, not {value}"
        );
    }
    let channel = profile.column("channel").expect("channel");
    assert_eq!(
        channel.top,
        [
            ("card".into(), 60),
            ("atm".into(), 30),
            ("branch".into(), 10)
        ]
    );
    assert!(channel.quantiles.is_empty(), "text has no quantiles");

    for personal in ["birth_date", "last_name"] {
        let column = profile.column(personal).expect("personal column");
        assert_eq!(column.nulls, 0);
        assert!(
            column.distinct.is_some(),
            "counting distinct values is fine"
        );
        assert!(
            column.min.is_none() && column.max.is_none() && column.mean.is_none(),
            "{personal}: an extreme is somebody's data"
        );
        assert!(
            column.quantiles.is_empty() && column.top.is_empty(),
            "{personal}"
        );
    }
    let stored = metrics::metrics_of(&profile);
    assert!(
        stored
            .iter()
            .any(|m| m.metric == "p50" && m.column.as_deref() == Some("amount"))
    );
    assert!(
        stored
            .iter()
            .any(|m| m.metric == "top:card" && m.value == 60.0)
    );
    assert!(!stored.iter().any(|m| m.metric.contains("Novak")));
}

#[tokio::test]
async fn history_accumulates_per_run_and_a_rerun_replaces_its_figures() {
    let dir = tempfile::tempdir().expect("dir");
    let location = TableLocation::local(&dir.path().join("metrics")).expect("location");
    let rows = |value: f64| {
        vec![Metric {
            table: "fact_transactions".into(),
            column: None,
            metric: "rows".into(),
            value,
        }]
    };
    for (day, value) in [(1, 100.0), (2, 110.0), (3, 120.0)] {
        let at = Utc
            .with_ymd_and_hms(2024, 3, day, 8, 0, 0)
            .single()
            .expect("time");
        metrics::record(&location, &format!("run-{day}"), at, &rows(value))
            .await
            .expect("record");
    }
    // Run 2 measured again: its figure is replaced, not doubled.
    let at = Utc
        .with_ymd_and_hms(2024, 3, 2, 9, 0, 0)
        .single()
        .expect("time");
    metrics::record(&location, "run-2", at, &rows(111.0))
        .await
        .expect("rerun");
    let history = History::load(&location, None).await.expect("history");
    assert_eq!(
        history.values("fact_transactions", None, "rows"),
        [100.0, 111.0, 120.0],
        "oldest first"
    );
    let without = History::load(&location, Some("run-3"))
        .await
        .expect("history");
    assert_eq!(
        without.values("fact_transactions", None, "rows"),
        [100.0, 111.0]
    );
    assert!(without.values("fact_transactions", None, "mean").is_empty());
}
