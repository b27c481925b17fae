//! Each kind of check on hand-made profiles and histories.

use chrono::{TimeZone, Utc};
use datafusion::prelude::SessionContext;
use monitoring::checks::{Check, Evidence, Outcome, Severity, Verdict, judge, render};
use monitoring::metrics::{self, History, Metric};
use monitoring::profile::{Depth, profile};
use serde::Deserialize;
use storage::TableLocation;

#[derive(Deserialize)]
struct File {
    checks: Vec<Check>,
}

fn checks(toml_text: &str) -> Vec<Check> {
    toml::from_str::<File>(toml_text).expect("checks").checks
}

/// The outcomes of `checks` (see [`judged`]).
async fn outcomes(checks: &[Check], history: &[f64]) -> Vec<Outcome> {
    judged(checks, history)
        .await
        .into_iter()
        .map(|v| v.outcome)
        .collect()
}

/// Judges `checks` on the test transactions, with `history` as earlier runs' row counts.
async fn judged(checks: &[Check], history: &[f64]) -> Vec<Verdict> {
    let ctx = SessionContext::new();
    ctx.register_batch("transactions", crate::history::transactions())
        .expect("register");
    let profiles = vec![
        profile(&ctx, "transactions", Depth::Full)
            .await
            .expect("profile"),
    ];
    let dir = tempfile::tempdir().expect("dir");
    let location = TableLocation::local(&dir.path().join("metrics")).expect("location");
    for (day, rows) in history.iter().enumerate() {
        let metric = Metric {
            table: "transactions".into(),
            column: None,
            metric: "rows".into(),
            value: *rows,
        };
        let at = Utc
            .timestamp_opt(day as i64 * 86_400, 0)
            .single()
            .expect("time");
        metrics::record(&location, &format!("run-{day}"), at, &[metric])
            .await
            .expect("record");
    }
    let history = History::load(&location, None).await.expect("history");
    let evidence = Evidence {
        profiles: &profiles,
        measured: &[],
        history: &history,
        ctx: &ctx,
        // The test data's newest value_date is 1970-01-04: a day later ends at 01-05.
        business_day_end: Utc
            .with_ymd_and_hms(1970, 1, 5, 0, 0, 0)
            .single()
            .expect("time"),
    };
    let mut out = Vec::new();
    for check in checks {
        out.push(judge(check, &evidence).await);
    }
    out
}

#[tokio::test]
async fn volume_completeness_freshness_and_sql_checks() {
    let declared = checks(
        r#"
        [[checks]]
        id = "enough"
        table = "transactions"
        severity = "error"
        volume = { min = 4 }
        [[checks]]
        id = "too_many"
        table = "transactions"
        severity = "warn"
        volume = { max = 3 }
        [[checks]]
        id = "amount_mostly_there"
        table = "transactions"
        severity = "error"
        completeness = { column = "amount", max_null_rate = 0.25 }
        [[checks]]
        id = "amount_always_there"
        table = "transactions"
        severity = "error"
        completeness = { column = "amount", max_null_rate = 0.0 }
        [[checks]]
        id = "fresh_within_a_day"
        table = "transactions"
        severity = "warn"
        freshness = { column = "value_date", max_age_hours = 24 }
        [[checks]]
        id = "fresh_within_an_hour"
        table = "transactions"
        severity = "warn"
        freshness = { column = "value_date", max_age_hours = 1 }
        [[checks]]
        id = "one_suspicious_at_most"
        table = "transactions"
        severity = "error"
        sql = { query = "SELECT * FROM transactions WHERE is_suspicious", max_rows = 1 }
        [[checks]]
        id = "no_suspicious"
        table = "transactions"
        severity = "error"
        sql = { query = "SELECT * FROM transactions WHERE is_suspicious" }
        [[checks]]
        id = "a_missing_table_fails"
        table = "nowhere"
        severity = "info"
        volume = { min = 0 }
        "#,
    );
    use Outcome::{Fail, Pass};
    assert_eq!(
        outcomes(&declared, &[]).await,
        [Pass, Fail, Pass, Fail, Pass, Fail, Pass, Fail, Fail]
    );
}

#[tokio::test]
async fn an_sql_check_shows_its_first_row_with_personal_columns_masked() {
    let declared = checks(
        r#"
        [[checks]]
        id = "cards"
        table = "transactions"
        severity = "warn"
        sql = { query = "SELECT 'Jana' AS first_name, 'DE89370400440532013000' AS iban, channel FROM transactions WHERE channel = 'card'" }
        "#,
    );
    let verdict = judged(&declared, &[]).await.remove(0);
    assert_eq!(verdict.outcome, Outcome::Fail);
    assert_eq!(
        verdict.observed,
        "1 rows, first: first_name=***, iban=***, channel=card"
    );
}

#[tokio::test]
async fn volume_anomalies_need_history_and_catch_a_drop_by_half() {
    let declared = checks(
        r#"
        [[checks]]
        id = "rows_usual"
        table = "transactions"
        severity = "warn"
        anomaly = { metric = "rows", min_history = 5 }
        "#,
    );
    // The table has 4 rows today.
    assert_eq!(
        outcomes(&declared, &[8.0, 8.0, 8.0]).await,
        [Outcome::NotJudged],
        "no judgement before five earlier runs"
    );
    assert_eq!(
        outcomes(&declared, &[8.0, 8.2, 7.9, 8.1, 7.8, 8.0]).await,
        [Outcome::Fail],
        "half the usual volume"
    );
    assert_eq!(
        outcomes(&declared, &[4.1, 3.9, 4.0, 4.2, 3.8, 4.0]).await,
        [Outcome::Pass],
        "ordinary noise"
    );
}

#[test]
fn a_check_needs_exactly_one_kind_and_render_lists_failures_first() {
    let two = toml::from_str::<File>(
        "[[checks]]\nid = \"x\"\ntable = \"t\"\nseverity = \"warn\"\nvolume = { min = 1 }\nsql = { query = \"SELECT 1\" }\n",
    );
    assert!(
        two.err()
            .is_some_and(|e| e.to_string().contains("exactly one"))
    );
    let verdict = |check: &str, severity, outcome| monitoring::checks::Verdict {
        check: check.into(),
        table: "t".into(),
        severity,
        owner: None,
        outcome,
        observed: "seen".into(),
        expected: "wanted".into(),
    };
    let text = render(&[
        verdict("fine", Severity::Error, Outcome::Pass),
        verdict("minor", Severity::Warn, Outcome::Fail),
        verdict("major", Severity::Error, Outcome::Fail),
        verdict("young", Severity::Warn, Outcome::NotJudged),
    ]);
    assert!(
        text.starts_with("4 checks: 1 passed, 2 failed, 1 not judged yet"),
        "{text}"
    );
    let major = text.find("major").expect("major listed");
    let minor = text.find("minor").expect("minor listed");
    assert!(major < minor, "errors first: {text}");
    assert!(!text.contains("fine") && !text.contains("young"));
}

#[test]
fn drift_total_and_rate_checks_parse_and_bad_ones_say_why() {
    use monitoring::checks::CheckKind;
    use monitoring::drift::Reference;
    let parsed = checks(
        r#"
        [[checks]]
        id = "amounts_stable"
        table = "fact_transactions"
        severity = "error"
        drift = { column = "amount_eur", warn_psi = 0.05, max_psi = 0.2, reference = "previous", min_history = 3 }
        [[checks]]
        id = "revenue_usual"
        table = "fact_revenue"
        severity = "warn"
        total = { column = "amount_eur", by = "revenue_type", k = 3.0 }
        [[checks]]
        id = "fraud_alert_rate_usual"
        table = "fact_fraudes"
        severity = "warn"
        rate = { per = "fact_transactions" }
        "#,
    );
    let CheckKind::Drift { column, rule } = &parsed[0].kind else {
        panic!("a drift check: {:?}", parsed[0]);
    };
    assert_eq!(column, "amount_eur");
    assert_eq!(
        (
            rule.warn_psi,
            rule.max_psi,
            rule.reference,
            rule.min_history,
            rule.window
        ),
        (0.05, 0.2, Reference::Previous, 3, 14)
    );
    let CheckKind::Total { by, band, .. } = &parsed[1].kind else {
        panic!("a total check: {:?}", parsed[1]);
    };
    assert_eq!(
        (by.as_deref(), band.k, band.min_history),
        (Some("revenue_type"), 3.0, 5)
    );
    assert!(matches!(&parsed[2].kind, CheckKind::Rate { per, .. } if per == "fact_transactions"));

    let error = |kind: &str| {
        let text = format!(
            "[[checks]]\nid = \"bad\"\ntable = \"fact_transactions\"\nseverity = \"warn\"\n{kind}\n"
        );
        match toml::from_str::<File>(&text) {
            Ok(_) => panic!("`{kind}` should not parse"),
            Err(e) => e.to_string(),
        }
    };
    for (kind, says) in [
        (
            "drift = { column = \"amount_eur\", warn_psi = 0.3, max_psi = 0.25 }",
            "check `bad`: drift needs 0 ≤ warn_psi ≤ max_psi (found warn_psi = 0.3, max_psi = 0.25)",
        ),
        (
            "drift = { column = \"amount_eur\", max_pis = 0.3 }",
            "unknown field `max_pis`",
        ),
        (
            "drift = { column = \"amount_eur\", reference = \"yesterday\" }",
            "unknown variant `yesterday`",
        ),
        ("drift = { max_psi = 0.3 }", "missing field `column`"),
        (
            "drift = { column = \"iban\" }",
            "drift.column `iban` is personal data",
        ),
        (
            "drift = { column = \"amount_eur\", min_history = 20 }",
            "drift needs 1 ≤ min_history ≤ window (found min_history = 20, window = 14)",
        ),
        (
            "total = { column = \"amount_eur\", by = \"email\" }",
            "total.by `email` is personal data",
        ),
        (
            "total = { column = \"amount_eur\", k = 0 }",
            "total needs k > 0",
        ),
        ("rate = { }", "missing field `per`"),
        ("rate = { per = \"\" }", "rate.per is empty"),
        (
            "rate = { per = \"fact_transactions\" }\ndrift = { column = \"channel\" }",
            "exactly one of volume, completeness, freshness, anomaly, drift, total, rate, sql, rule, references",
        ),
    ] {
        let message = error(kind);
        assert!(message.contains(says), "`{kind}` says: {message}");
    }
}

#[tokio::test]
async fn validation_rules_and_references_judge_whole_tables() {
    let declared = checks(
        r#"
        [[checks]]
        id = "channels_known"
        table = "transactions"
        severity = "error"
        rule = { accepted_values = { column = "channel", values = ["atm", "card"] } }
        [[checks]]
        id = "cards_only"
        table = "transactions"
        severity = "error"
        rule = { accepted_values = { column = "channel", values = ["card"] } }
        [[checks]]
        id = "one_row_per_channel"
        table = "transactions"
        severity = "warn"
        rule = { unique = ["channel"] }
        [[checks]]
        id = "amounts_small"
        table = "transactions"
        severity = "warn"
        rule = { range = { column = "amount", max = 25 } }
        [[checks]]
        id = "amounts_positive"
        table = "transactions"
        severity = "warn"
        rule = { range = { column = "amount", min = 0 } }
        [[checks]]
        id = "channels_lower_case"
        table = "transactions"
        severity = "warn"
        rule = { regex = { column = "channel", pattern = "^[a-z]+$" } }
        [[checks]]
        id = "channel_given"
        table = "transactions"
        severity = "warn"
        rule = { not_null = "channel" }
        [[checks]]
        id = "channels_refer"
        table = "transactions"
        severity = "error"
        references = { column = "channel", table = "transactions", key = "channel" }
        [[checks]]
        id = "channels_refer_to_nothing"
        table = "transactions"
        severity = "error"
        references = { column = "channel", table = "transactions", key = "value_date" }
        "#,
    );
    use Outcome::{Fail, Pass};
    let verdicts = judged(&declared, &[]).await;
    let got: Vec<(&str, Outcome)> = verdicts
        .iter()
        .map(|v| (v.check.as_str(), v.outcome))
        .collect();
    assert_eq!(
        got,
        [
            ("channels_known", Pass),
            ("cards_only", Fail),
            ("one_row_per_channel", Fail),
            ("amounts_small", Fail),
            ("amounts_positive", Pass),
            ("channels_lower_case", Pass),
            ("channel_given", Fail),
            ("channels_refer", Pass),
            ("channels_refer_to_nothing", Fail),
        ],
        "{verdicts:#?}"
    );
    assert!(
        verdicts[1].observed.starts_with("2 rows"),
        "{:?}",
        verdicts[1]
    );
    let bad = "[[checks]]\nid = \"x\"\ntable = \"t\"\nseverity = \"warn\"\n\
               rule = { not_null = \"a\", unique = [\"b\"] }\n";
    let error = toml::from_str::<File>(bad).map(|_| ()).unwrap_err();
    assert!(error.to_string().contains("exactly one check"), "{error}");
}
