//! Distribution drift (PSI): on hand-made distributions, and as checks over a metrics
//! history kept in a Delta table.

use std::sync::Arc;

use arrow::array::{Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::{TimeZone, Utc};
use datafusion::prelude::SessionContext;
use monitoring::checks::{Check, Evidence, Outcome, Severity, Verdict, judge};
use monitoring::drift::{Distribution, DriftJudgement, DriftLevel, DriftRule, Reference, compare};
use monitoring::measure::{Measure, measure};
use monitoring::metrics::{self, History};
use monitoring::profile::{Depth, profile};
use serde::Deserialize;
use storage::TableLocation;

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A log-normal amount: median 50, σ = 1 on the log scale.
    fn amount(&mut self) -> f64 {
        let (u, v) = (self.next().max(f64::MIN_POSITIVE), self.next());
        let normal = (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
        (50f64.ln() + normal).exp()
    }

    /// A code drawn with the shares of `mix`.
    fn code<'a>(&mut self, mix: &[(&'a str, f64)]) -> &'a str {
        let mut draw = self.next();
        for (code, share) in mix {
            if draw < *share {
                return code;
            }
            draw -= share;
        }
        mix[mix.len() - 1].0
    }
}

fn amounts(seed: u64, n: usize, scale: f64) -> Vec<f64> {
    let mut rng = Rng(seed);
    (0..n).map(|_| rng.amount() * scale).collect()
}

const USUAL_MIX: [(&str, f64); 4] = [
    ("card", 0.5),
    ("online", 0.3),
    ("atm", 0.1),
    ("branch", 0.1),
];
const ATM_AT_40: [(&str, f64); 4] = [
    ("card", 0.3),
    ("online", 0.2),
    ("atm", 0.4),
    ("branch", 0.1),
];

fn channels(seed: u64, n: usize, mix: &[(&str, f64)]) -> Distribution {
    let mut rng = Rng(seed);
    let mut counts = std::collections::BTreeMap::<String, f64>::new();
    for _ in 0..n {
        *counts.entry(rng.code(mix).to_owned()).or_default() += 1.0;
    }
    Distribution::of_codes(counts)
}

#[test]
fn psi_is_zero_for_the_same_data_small_for_noise_and_large_for_a_shift() {
    let reference = Distribution::of_numbers(amounts(1, 10_000, 1.0));
    assert!(
        compare(&reference, &reference).psi.abs() < 1e-9,
        "identical"
    );
    let noise = compare(
        &reference,
        &Distribution::of_numbers(amounts(2, 10_000, 1.0)),
    );
    assert!(noise.psi < 0.1, "ordinary sampling noise: {}", noise.psi);
    let doubled = compare(
        &reference,
        &Distribution::of_numbers(amounts(3, 10_000, 2.0)),
    );
    assert!(doubled.psi > 0.25, "amounts doubled: {}", doubled.psi);
    let top = doubled.top(1)[0];
    assert!(
        top.expected != top.actual && top.contribution > 0.0,
        "the top bin moved: {top:?}"
    );
}

#[test]
fn a_channel_going_from_ten_to_forty_percent_is_significant_drift() {
    let reference = channels(1, 10_000, &USUAL_MIX);
    let noise = compare(&reference, &channels(2, 10_000, &USUAL_MIX));
    assert!(noise.psi < 0.1, "ordinary noise: {}", noise.psi);
    let shifted = compare(&reference, &channels(3, 10_000, &ATM_AT_40));
    assert!(shifted.psi > 0.25, "{}", shifted.psi);
    let top = shifted.top(1)[0];
    assert_eq!(top.label, "atm");
    assert!((top.expected - 0.1).abs() < 0.02 && (top.actual - 0.4).abs() < 0.02);
}

#[test]
fn the_rule_waits_for_its_history_and_can_compare_with_the_previous_run_only() {
    let run = |seed, scale| Distribution::of_numbers(amounts(seed, 5_000, scale));
    let rule = DriftRule::default();
    let four: Vec<Distribution> = (1..=4).map(|seed| run(seed, 1.0)).collect();
    assert_eq!(
        rule.judge(&run(9, 3.0), &four),
        DriftJudgement::NotEnoughHistory { have: 4, need: 5 }
    );
    // Four usual runs, then a run where amounts doubled; today is like that last run.
    let mut history = four;
    history.push(run(5, 2.0));
    let today = run(6, 2.0);
    let level = |rule: &DriftRule| match rule.judge(&today, &history) {
        DriftJudgement::Judged(drift) => drift.level,
        other => panic!("judged: {other:?}"),
    };
    assert_eq!(level(&rule), DriftLevel::Significant, "against the pool");
    let previous = DriftRule {
        reference: Reference::Previous,
        ..rule
    };
    assert_eq!(
        level(&previous),
        DriftLevel::Stable,
        "against the previous run"
    );
}

#[derive(Deserialize)]
struct File {
    checks: Vec<Check>,
}

fn declared() -> Vec<Check> {
    toml::from_str::<File>(
        r#"
        [[checks]]
        id = "amounts_stable"
        table = "fact_transactions"
        severity = "error"
        owner = "risk@bank.example"
        drift = { column = "amount_eur" }
        [[checks]]
        id = "channel_mix_stable"
        table = "fact_transactions"
        severity = "error"
        drift = { column = "channel", max_psi = 0.25 }
        "#,
    )
    .expect("checks")
    .checks
}

/// A day of transactions: amounts (× `scale`) and channels drawn with `mix`.
fn day(seed: u64, scale: f64, mix: &[(&str, f64)]) -> RecordBatch {
    let n = 4_000;
    let mut rng = Rng(seed ^ 0xABCD);
    let channel: Vec<&str> = (0..n).map(|_| rng.code(mix)).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("channel", DataType::Utf8, true),
        Field::new("amount_eur", DataType::Float64, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(channel)),
            Arc::new(Float64Array::from(amounts(seed, n, scale))),
        ],
    )
    .expect("batch")
}

fn session(batch: RecordBatch) -> SessionContext {
    let ctx = SessionContext::new();
    ctx.register_batch("fact_transactions", batch)
        .expect("register");
    ctx
}

/// Records `earlier` days' distributions as runs of a metrics history, then judges
/// `checks` on each of `today`.
async fn judged(checks: &[Check], earlier: usize, today: &[RecordBatch]) -> Vec<Vec<Verdict>> {
    let measures: Vec<Measure> = checks.iter().filter_map(Check::measure).collect();
    let dir = tempfile::tempdir().expect("dir");
    let location = TableLocation::local(&dir.path().join("metrics")).expect("location");
    for run in 0..earlier {
        let ctx = session(day(run as u64 + 1, 1.0, &USUAL_MIX));
        let figures = measure(&ctx, &measures).await.expect("measure");
        let at = Utc
            .timestamp_opt(run as i64 * 86_400, 0)
            .single()
            .expect("time");
        metrics::record(&location, &format!("run-{run}"), at, &figures)
            .await
            .expect("record");
    }
    let history = History::load(&location, None).await.expect("history");
    let mut out = Vec::new();
    for batch in today {
        let ctx = session(batch.clone());
        let profiles = vec![
            profile(&ctx, "fact_transactions", Depth::Counts)
                .await
                .expect("profile"),
        ];
        let measured = measure(&ctx, &measures).await.expect("measure");
        let evidence = Evidence {
            profiles: &profiles,
            measured: &measured,
            history: &history,
            ctx: &ctx,
            business_day_end: Utc::now(),
        };
        let mut verdicts = Vec::new();
        for check in checks {
            verdicts.push(judge(check, &evidence).await);
        }
        out.push(verdicts);
    }
    out
}

#[tokio::test]
async fn drift_checks_flag_shifted_amounts_and_a_changed_channel_mix_only() {
    let checks = declared();
    let days = [
        day(100, 1.0, &USUAL_MIX),
        day(101, 2.0, &USUAL_MIX),
        day(102, 1.0, &ATM_AT_40),
    ];
    let verdicts = judged(&checks, 5, &days).await;
    let outcomes = |day: &[Verdict]| day.iter().map(|v| v.outcome).collect::<Vec<_>>();
    use Outcome::{Fail, Pass};
    assert_eq!(outcomes(&verdicts[0]), [Pass, Pass], "{:?}", verdicts[0]);
    assert_eq!(outcomes(&verdicts[1]), [Fail, Pass], "{:?}", verdicts[1]);
    assert_eq!(outcomes(&verdicts[2]), [Pass, Fail], "{:?}", verdicts[2]);
    let amounts = &verdicts[1][0];
    assert_eq!(
        amounts.severity,
        Severity::Error,
        "significant: the check's severity"
    );
    assert!(
        amounts.observed.starts_with("PSI ") && amounts.observed.contains("significant drift"),
        "{}",
        amounts.observed
    );
    assert!(
        amounts.expected.contains("the last 5 runs pooled"),
        "{}",
        amounts.expected
    );
    let mix = &verdicts[2][1];
    assert!(
        mix.observed.contains("moved most: atm "),
        "{}",
        mix.observed
    );
}

#[tokio::test]
async fn no_drift_verdict_before_the_minimum_history() {
    let verdicts = judged(&declared(), 4, &[day(101, 2.0, &ATM_AT_40)]).await;
    for verdict in &verdicts[0] {
        assert_eq!(verdict.outcome, Outcome::NotJudged, "{verdict:?}");
        assert_eq!(verdict.expected, "5 earlier runs to judge by (4 so far)");
    }
}
