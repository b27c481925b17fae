//! Each fraud rule on hand-made transactions: what fires, what does not, the score
//! and the confirmation.

use datafusion::prelude::SessionContext;
use transformation::fraud::FraudRules;

use crate::tables::{create, dimensions, rows, ts};

/// One transaction: id, account, booked at (ISO, UTC), direction, channel, country,
/// amount in EUR.
type Tx<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
);

/// A session with `transactions_eur`, the dimensions of the accounts used, and
/// `fraud_reports` from (transaction, reported at, confirmed).
async fn session(transactions: &[Tx<'_>], reports: &[(&str, &str, bool)]) -> SessionContext {
    let ctx = SessionContext::new();
    let values: Vec<String> = transactions
        .iter()
        .map(|(id, account, at, direction, channel, country, amount)| {
            format!(
                "('{id}', '{account}', '{at}', '{direction}', '{channel}', '{country}', '{amount}')"
            )
        })
        .collect();
    create(
        &ctx,
        "transactions_eur",
        &format!(
            "SELECT column1 AS transaction_id, column2 AS account_id, {} AS booked_at, \
                    column4 AS direction, column5 AS channel, column6 AS country, \
                    CAST(column7 AS DECIMAL(18, 2)) AS amount_eur \
             FROM (VALUES {})",
            ts("column3"),
            values.join(", ")
        ),
    )
    .await;
    let mut accounts: Vec<&str> = transactions.iter().map(|t| t.1).collect();
    accounts.sort_unstable();
    accounts.dedup();
    dimensions(&ctx, &accounts).await;
    let reports: Vec<String> = reports
        .iter()
        .map(|(id, at, confirmed)| format!("('{id}', '{at}', {confirmed})"))
        .chain(["('none', '1970-01-01T00:00:00Z', false)".to_owned()])
        .collect();
    create(
        &ctx,
        "fraud_reports",
        &format!(
            "SELECT column1 AS transaction_id, {} AS reported_at, column3 AS confirmed FROM (VALUES {})",
            ts("column2"),
            reports.join(", ")
        ),
    )
    .await;
    ctx
}

/// Runs `rules` and registers their alerts as the table `alerts`.
async fn run(ctx: &SessionContext, rules: &FraudRules) {
    let frame = rules.alerts(ctx).await.expect("alerts");
    ctx.deregister_table("alerts").expect("deregister");
    ctx.register_table("alerts", frame.into_view())
        .expect("register");
}

/// The alerts as `transaction_id|rule_id` lines, sorted.
async fn alerts(ctx: &SessionContext, rules: &FraudRules) -> Vec<String> {
    run(ctx, rules).await;
    let mut alerts = rows(ctx, "SELECT transaction_id, rule_id FROM alerts").await;
    alerts.sort();
    alerts
}

/// `n` debits of `amount` on `account`, one a day from 2024-01-01 at noon.
fn history(account: &'static str, n: usize, amount: &'static str) -> Vec<Tx<'static>> {
    (0..n)
        .map(|i| {
            let id: &'static str = Box::leak(format!("{account}-h{i}").into_boxed_str());
            let at: &'static str =
                Box::leak(format!("2024-01-{:02}T12:00:00Z", i + 1).into_boxed_str());
            (id, account, at, "debit", "transfer", "CZ", amount)
        })
        .collect()
}

fn only(rule: &str) -> FraudRules {
    let mut rules = FraudRules::default();
    rules.large_amount.enabled = rule == "large_amount";
    rules.velocity.enabled = rule == "velocity";
    rules.structuring.enabled = rule == "structuring";
    rules.new_country.enabled = rule == "new_country";
    rules.dormant_reactivation.enabled = rule == "dormant_reactivation";
    rules.night_atm.enabled = rule == "night_atm";
    rules
}

#[tokio::test]
async fn large_amount_needs_history_and_the_factor() {
    let mut txs = history("A1", 5, "100.00");
    txs.push((
        "big",
        "A1",
        "2024-01-10T12:00:00Z",
        "debit",
        "card",
        "CZ",
        "1000.00",
    ));
    txs.extend(history("A2", 4, "100.00"));
    txs.push((
        "young",
        "A2",
        "2024-01-10T12:00:00Z",
        "debit",
        "card",
        "CZ",
        "5000.00",
    ));
    txs.extend(history("A3", 5, "100.00"));
    txs.push((
        "under",
        "A3",
        "2024-01-10T12:00:00Z",
        "debit",
        "card",
        "CZ",
        "999.99",
    ));
    txs.push((
        "credit",
        "A3",
        "2024-01-11T12:00:00Z",
        "credit",
        "card",
        "CZ",
        "9999.00",
    ));
    let ctx = session(&txs, &[]).await;
    assert_eq!(
        alerts(&ctx, &only("large_amount")).await,
        ["big|large_amount"]
    );
}

#[tokio::test]
async fn velocity_flags_every_transaction_of_a_burst() {
    let mut txs = Vec::new();
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    // Ten card payments 60 s apart (540 s): a burst. Nine on another account: none.
    for i in 0..10 {
        let at = leak(format!("2024-01-01T10:{:02}:00Z", i));
        txs.push((
            leak(format!("b{i}")),
            "A1",
            at,
            "debit",
            "card",
            "CZ",
            "10.00",
        ));
    }
    for i in 0..9 {
        let at = leak(format!("2024-01-01T10:{:02}:00Z", i));
        txs.push((
            leak(format!("n{i}")),
            "A2",
            at,
            "debit",
            "card",
            "CZ",
            "10.00",
        ));
    }
    // Ten spread over 630 s (70 s apart): no window of 600 s holds ten.
    for i in 0..10 {
        let at = leak(format!(
            "2024-01-01T11:{:02}:{:02}Z",
            i * 70 / 60,
            i * 70 % 60
        ));
        txs.push((
            leak(format!("s{i}")),
            "A3",
            at,
            "debit",
            "card",
            "CZ",
            "10.00",
        ));
    }
    let ctx = session(&txs, &[]).await;
    let expected: Vec<String> = (0..10).map(|i| format!("b{i}|velocity")).collect();
    assert_eq!(alerts(&ctx, &only("velocity")).await, expected);
}

#[tokio::test]
async fn structuring_counts_cash_credits_just_under_the_threshold_in_a_day() {
    let txs = [
        (
            "s1",
            "A1",
            "2024-01-01T09:00:00Z",
            "credit",
            "branch",
            "CZ",
            "9500.00",
        ),
        (
            "s2",
            "A1",
            "2024-01-01T12:00:00Z",
            "credit",
            "atm",
            "CZ",
            "9000.00",
        ),
        (
            "s3",
            "A1",
            "2024-01-01T16:00:00Z",
            "credit",
            "branch",
            "CZ",
            "9999.99",
        ),
        // Two the same day and one the next: not three in a day.
        (
            "d1",
            "A2",
            "2024-01-01T09:00:00Z",
            "credit",
            "branch",
            "CZ",
            "9500.00",
        ),
        (
            "d2",
            "A2",
            "2024-01-01T10:00:00Z",
            "credit",
            "branch",
            "CZ",
            "9500.00",
        ),
        (
            "d3",
            "A2",
            "2024-01-02T09:00:00Z",
            "credit",
            "branch",
            "CZ",
            "9500.00",
        ),
        // At the threshold, or by transfer: not structuring.
        (
            "t1",
            "A3",
            "2024-01-01T09:00:00Z",
            "credit",
            "branch",
            "CZ",
            "10000.00",
        ),
        (
            "t2",
            "A3",
            "2024-01-01T10:00:00Z",
            "credit",
            "transfer",
            "CZ",
            "9500.00",
        ),
        (
            "t3",
            "A3",
            "2024-01-01T11:00:00Z",
            "credit",
            "branch",
            "CZ",
            "9500.00",
        ),
    ];
    let ctx = session(&txs, &[]).await;
    assert_eq!(
        alerts(&ctx, &only("structuring")).await,
        ["s1|structuring", "s2|structuring", "s3|structuring"]
    );
}

#[tokio::test]
async fn new_country_needs_history_and_a_first_use() {
    let txs = [
        (
            "first",
            "A1",
            "2024-01-01T09:00:00Z",
            "debit",
            "card",
            "CZ",
            "10.00",
        ),
        (
            "early",
            "A1",
            "2024-01-10T09:00:00Z",
            "debit",
            "card",
            "DE",
            "10.00",
        ),
        (
            "new",
            "A1",
            "2024-02-05T09:00:00Z",
            "debit",
            "card",
            "FR",
            "10.00",
        ),
        (
            "again",
            "A1",
            "2024-02-06T09:00:00Z",
            "debit",
            "card",
            "FR",
            "10.00",
        ),
        (
            "transfer",
            "A1",
            "2024-02-07T09:00:00Z",
            "debit",
            "transfer",
            "IT",
            "10.00",
        ),
    ];
    let ctx = session(&txs, &[]).await;
    assert_eq!(
        alerts(&ctx, &only("new_country")).await,
        ["new|new_country"]
    );
}

#[tokio::test]
async fn dormant_reactivation_needs_the_gap_and_the_factor() {
    let txs = [
        (
            "a0",
            "A1",
            "2024-01-01T09:00:00Z",
            "debit",
            "card",
            "CZ",
            "100.00",
        ),
        (
            "a1",
            "A1",
            "2024-03-02T09:00:00Z",
            "debit",
            "card",
            "CZ",
            "600.00",
        ),
        (
            "b0",
            "A2",
            "2024-01-01T09:00:00Z",
            "debit",
            "card",
            "CZ",
            "100.00",
        ),
        (
            "b1",
            "A2",
            "2024-03-02T09:00:00Z",
            "debit",
            "card",
            "CZ",
            "400.00",
        ),
        (
            "c0",
            "A3",
            "2024-01-01T09:00:00Z",
            "debit",
            "card",
            "CZ",
            "100.00",
        ),
        (
            "c1",
            "A3",
            "2024-02-28T09:00:00Z",
            "debit",
            "card",
            "CZ",
            "600.00",
        ),
    ];
    let ctx = session(&txs, &[]).await;
    assert_eq!(
        alerts(&ctx, &only("dormant_reactivation")).await,
        ["a1|dormant_reactivation"]
    );
}

#[tokio::test]
async fn night_atm_flags_withdrawals_in_the_night_hours() {
    let txs = [
        (
            "night",
            "A1",
            "2024-01-01T02:30:00Z",
            "debit",
            "atm",
            "CZ",
            "200.00",
        ),
        (
            "edge",
            "A1",
            "2024-01-01T05:00:00Z",
            "debit",
            "atm",
            "CZ",
            "200.00",
        ),
        (
            "day",
            "A1",
            "2024-01-01T06:00:00Z",
            "debit",
            "atm",
            "CZ",
            "200.00",
        ),
        (
            "deposit",
            "A1",
            "2024-01-01T03:00:00Z",
            "credit",
            "atm",
            "CZ",
            "200.00",
        ),
        (
            "card",
            "A1",
            "2024-01-01T03:00:00Z",
            "debit",
            "card",
            "CZ",
            "200.00",
        ),
    ];
    let ctx = session(&txs, &[]).await;
    assert_eq!(alerts(&ctx, &only("night_atm")).await, ["night|night_atm"]);
}

#[tokio::test]
async fn the_score_rises_with_each_rule_and_reports_confirm() {
    // A night ATM withdrawal that is also ten times the account's usual debit.
    let mut txs = history("A1", 5, "20.00");
    txs.push((
        "both",
        "A1",
        "2024-01-10T01:00:00Z",
        "debit",
        "atm",
        "CZ",
        "400.00",
    ));
    txs.push((
        "one",
        "A1",
        "2024-01-11T01:00:00Z",
        "debit",
        "atm",
        "CZ",
        "20.00",
    ));
    let reports = [
        ("both", "2024-01-12T00:00:00Z", false),
        ("both", "2024-01-20T00:00:00Z", true),
    ];
    let ctx = session(&txs, &reports).await;
    run(&ctx, &FraudRules::default()).await;
    let sql = "SELECT alert_id, rule_id, risk_score, confirmed, client_key, account_key, date_key \
               FROM alerts ORDER BY alert_id";
    assert_eq!(
        rows(&ctx, sql).await,
        [
            "both:large_amount|large_amount|85|true|1|1|20240110",
            "both:night_atm|night_atm|55|true|1|1|20240110",
            "one:night_atm|night_atm|40||1|1|20240111",
        ]
    );
}

#[tokio::test]
async fn a_disabled_rule_raises_nothing_and_codes_compare_in_any_case() {
    let txs = [(
        "night",
        "A1",
        "2024-01-01T02:30:00Z",
        "debit",
        "atm",
        "CZ",
        "200.00",
    )];
    let ctx = session(&txs, &[]).await;
    let mut rules = only("night_atm");
    rules.night_atm.enabled = false;
    assert!(alerts(&ctx, &rules).await.is_empty());
    let mut rules = only("velocity");
    rules.velocity.channel = "ATM".into();
    rules.velocity.min_count = 1;
    assert_eq!(alerts(&ctx, &rules).await, ["night|velocity"]);
}
