//! Jumps: revenue totals (in total and per type) and the fraud-alert rate against the
//! robust band of their trailing runs.

use std::sync::Arc;

use arrow::array::{Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::{TimeZone, Utc};
use datafusion::prelude::SessionContext;
use monitoring::checks::{Check, CheckKind, Evidence, Outcome, Severity, Verdict, judge};
use monitoring::measure::{Measure, SUM, group_sum, measure};
use monitoring::metrics::{self, History, Metric};
use monitoring::profile::{Depth, TableProfile, profile};
use storage::TableLocation;

const TYPES: [(&str, f64); 4] = [
    ("account_fee", 40_000.0),
    ("interest_income", 120_000.0),
    ("fx_fee", 15_000.0),
    ("late_fee", 3_000.0),
];

/// Earlier runs' revenue: ordinary noise of ±3 %.
const NOISE: [f64; 6] = [1.0, 1.02, 0.97, 1.01, 0.99, 1.03];

fn metric(table: &str, column: Option<&str>, name: &str, value: f64) -> Metric {
    Metric {
        table: table.into(),
        column: column.map(str::to_owned),
        metric: name.into(),
        value,
    }
}

/// A metrics history of one run per element of `runs`.
async fn history(runs: &[Vec<Metric>]) -> (tempfile::TempDir, History) {
    let dir = tempfile::tempdir().expect("dir");
    let location = TableLocation::local(&dir.path().join("metrics")).expect("location");
    for (run, figures) in runs.iter().enumerate() {
        let at = Utc
            .timestamp_opt(run as i64 * 86_400, 0)
            .single()
            .expect("time");
        metrics::record(&location, &format!("run-{run}"), at, figures)
            .await
            .expect("record");
    }
    let history = History::load(&location, None).await.expect("history");
    (dir, history)
}

fn revenue_check() -> Check {
    Check {
        id: "revenue_usual".into(),
        table: "fact_revenue".into(),
        severity: Severity::Warn,
        owner: None,
        kind: CheckKind::Total {
            column: "amount_eur".into(),
            by: Some("revenue_type".into()),
            band: Default::default(),
        },
    }
}

/// Today's revenue: one line per type, each type's usual amount × its factor.
fn revenue(factor: impl Fn(&str) -> f64) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("revenue_type", DataType::Utf8, false),
        Field::new("amount_eur", DataType::Float64, false),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from_iter_values(TYPES.iter().map(|t| t.0))),
            Arc::new(Float64Array::from_iter_values(
                TYPES.iter().map(|(name, amount)| amount * factor(name)),
            )),
        ],
    )
    .expect("batch")
}

async fn judge_revenue(earlier: &[f64], today: RecordBatch) -> Verdict {
    let runs: Vec<Vec<Metric>> = earlier
        .iter()
        .map(|noise| {
            let column = Some("amount_eur");
            let mut figures: Vec<Metric> = TYPES
                .iter()
                .map(|(name, amount)| {
                    let group = group_sum("revenue_type", name);
                    metric("fact_revenue", column, &group, amount * noise)
                })
                .collect();
            let total: f64 = TYPES.iter().map(|t| t.1 * noise).sum();
            figures.push(metric("fact_revenue", column, SUM, total));
            figures
        })
        .collect();
    let (_dir, history) = history(&runs).await;
    let ctx = SessionContext::new();
    ctx.register_batch("fact_revenue", today).expect("register");
    let profiles = vec![
        profile(&ctx, "fact_revenue", Depth::Counts)
            .await
            .expect("profile"),
    ];
    let check = revenue_check();
    let measures: Vec<Measure> = check.measure().into_iter().collect();
    let measured = measure(&ctx, &measures).await.expect("measure");
    let evidence = Evidence {
        profiles: &profiles,
        measured: &measured,
        history: &history,
        ctx: &ctx,
        business_day_end: Utc::now(),
    };
    judge(&check, &evidence).await
}

#[tokio::test]
async fn a_revenue_jump_of_sixty_percent_fails_and_ordinary_noise_does_not() {
    let jump = judge_revenue(&NOISE, revenue(|_| 1.6)).await;
    assert_eq!(jump.outcome, Outcome::Fail, "{jump:?}");
    assert!(jump.observed.starts_with("sum 284800"), "{}", jump.observed);
    let noise = judge_revenue(&NOISE, revenue(|_| 0.98)).await;
    assert_eq!(noise.outcome, Outcome::Pass, "{noise:?}");
    let noise = judge_revenue(&NOISE, revenue(|_| 1.03)).await;
    assert_eq!(noise.outcome, Outcome::Pass, "{noise:?}");
}

#[tokio::test]
async fn one_revenue_type_jumping_fails_though_the_total_is_usual() {
    let fx = judge_revenue(
        &NOISE,
        revenue(|name| if name == "fx_fee" { 1.6 } else { 1.0 }),
    )
    .await;
    assert_eq!(fx.outcome, Outcome::Fail, "{fx:?}");
    assert!(
        fx.observed
            .contains("by revenue_type, jumped: fx_fee 24000"),
        "{}",
        fx.observed
    );
    assert!(!fx.observed.contains("account_fee"), "{}", fx.observed);
}

#[tokio::test]
async fn no_revenue_verdict_before_the_minimum_history() {
    let young = judge_revenue(&NOISE[..4], revenue(|_| 1.6)).await;
    assert_eq!(young.outcome, Outcome::NotJudged, "{young:?}");
}

/// Judges fraud alerts per transaction today (`alerts`, `transactions`) against
/// earlier runs' counts.
async fn judge_fraud_rate(earlier: &[(f64, f64)], alerts: u64, transactions: u64) -> Verdict {
    let runs: Vec<Vec<Metric>> = earlier
        .iter()
        .map(|(alerts, transactions)| {
            vec![
                metric("fact_fraudes", None, "rows", *alerts),
                metric("fact_transactions", None, "rows", *transactions),
            ]
        })
        .collect();
    let (_dir, history) = history(&runs).await;
    let table = |name: &str, rows| TableProfile {
        table: name.into(),
        rows,
        columns: Vec::new(),
    };
    let profiles = vec![
        table("fact_fraudes", alerts),
        table("fact_transactions", transactions),
    ];
    let check = Check {
        id: "fraud_alert_rate_usual".into(),
        table: "fact_fraudes".into(),
        severity: Severity::Warn,
        owner: None,
        kind: CheckKind::Rate {
            per: "fact_transactions".into(),
            band: Default::default(),
        },
    };
    let ctx = SessionContext::new();
    let evidence = Evidence {
        profiles: &profiles,
        measured: &[],
        history: &history,
        ctx: &ctx,
        business_day_end: Utc::now(),
    };
    judge(&check, &evidence).await
}

#[tokio::test]
async fn a_doubled_fraud_alert_rate_fails_and_the_usual_one_passes() {
    let earlier = [
        (50.0, 10_000.0),
        (52.0, 10_300.0),
        (47.0, 9_800.0),
        (51.0, 10_100.0),
        (49.0, 9_900.0),
        (50.0, 10_050.0),
    ];
    let doubled = judge_fraud_rate(&earlier, 101, 10_000).await;
    assert_eq!(doubled.outcome, Outcome::Fail, "{doubled:?}");
    assert_eq!(
        doubled.observed,
        "0.0101 per fact_transactions row (101 / 10000)"
    );
    let usual = judge_fraud_rate(&earlier, 52, 10_150).await;
    assert_eq!(usual.outcome, Outcome::Pass, "{usual:?}");
    let young = judge_fraud_rate(&earlier[..2], 101, 10_000).await;
    assert_eq!(young.outcome, Outcome::NotJudged, "{young:?}");
    let nothing = judge_fraud_rate(&earlier, 3, 0).await;
    assert_eq!(
        (nothing.outcome, nothing.observed.as_str()),
        (Outcome::Fail, "no row in fact_transactions")
    );
}
