//! Loans, payments and revenue on a hand-made book with known answers: amortisation,
//! days past due, the portfolio month by month, each revenue rule.

use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use transformation::aggregation::marts;
use transformation::banking::facts;
use transformation::revenue::RevenueRules;

use crate::tables::{create, rows, ts};

fn day(text: &str) -> NaiveDate {
    text.parse().expect("date")
}

/// Three loans on account A1 (client C1) and their installments; one fee payment;
/// the report window April–May 2024; a USD rate of 2 per EUR.
async fn book(ctx: &SessionContext) {
    let epoch = ts("'1970-01-01T00:00:00Z'");
    let never = ts("NULL");
    create(
        ctx,
        "dim_accounts",
        &format!(
            "SELECT CAST(column1 AS BIGINT) AS account_key, column2 AS account_id, 'C1' AS client_id, \
                    'P1' AS product_id, 'EUR' AS currency, 'active' AS status, \
                    CAST('2020-01-01' AS DATE) AS opened_on, CAST(NULL AS DATE) AS closed_on, \
                    {epoch} AS valid_from, {never} AS valid_to \
             FROM (VALUES (1, 'A1'), (-1, 'unknown'))"
        ),
    )
    .await;
    create(
        ctx,
        "dim_clients",
        &format!(
            "SELECT CAST(1 AS BIGINT) AS client_key, 'C1' AS client_id, true AS is_current, \
                    {epoch} AS valid_from, {never} AS valid_to"
        ),
    )
    .await;
    create(
        ctx,
        "dim_products",
        "SELECT CAST(1 AS BIGINT) AS product_key, 'P1' AS product_id, 'current_account' AS category, \
                CAST(5 AS DECIMAL(18, 2)) AS monthly_fee, 'EUR' AS currency",
    )
    .await;
    create(
        ctx,
        "loans",
        "SELECT column1 AS loan_id, 'C1' AS client_id, 'A1' AS account_id, 'P1' AS product_id, \
                CAST(column2 AS DECIMAL(18, 2)) AS principal, 'EUR' AS currency, \
                CAST(column3 AS DECIMAL(6, 4)) AS annual_rate, CAST(column4 AS BIGINT) AS term_months, \
                CAST(column5 AS DATE) AS start_date, CAST(column6 AS DATE) AS maturity_date, column7 AS status \
         FROM (VALUES ('L1', '1200', '0.12', 12, '2024-01-01', '2025-01-01', 'late'), \
                      ('L2', '1200', '0', 12, '2023-06-01', '2024-06-01', 'current'), \
                      ('L3', '500', '0.06', 10, '2024-01-01', '2024-11-01', 'default'))",
    )
    .await;
    create(
        ctx,
        "payments",
        &format!(
            "SELECT column1 AS payment_id, column2 AS loan_id, 'A1' AS account_id, \
                    CAST(column3 AS DATE) AS due_date, {} AS paid_at, \
                    CAST(column5 AS DECIMAL(18, 2)) AS amount, column6 AS currency, \
                    column7 AS kind, column8 AS status \
             FROM (VALUES \
               ('p1', 'L1', '2024-02-01', '2024-02-01T10:00:00Z', '106.62', 'EUR', 'installment', 'paid'), \
               ('p2', 'L1', '2024-03-01', '2024-03-06T10:00:00Z', '106.62', 'EUR', 'installment', 'late'), \
               ('p3', 'L1', '2024-04-01', NULL, '106.62', 'EUR', 'installment', 'missed'), \
               ('p4', 'L1', '2024-05-01', NULL, '106.62', 'EUR', 'installment', 'missed'), \
               ('q1', 'L2', '2023-07-01', '2023-07-01T10:00:00Z', '100', 'EUR', 'installment', 'paid'), \
               ('q2', 'L2', '2023-08-01', '2023-08-01T10:00:00Z', '100', 'EUR', 'installment', 'paid'), \
               ('q3', 'L2', '2023-09-01', '2023-09-01T10:00:00Z', '100', 'EUR', 'installment', 'paid'), \
               ('f1', NULL, '2024-06-01', NULL, '20', 'USD', 'fee', 'pending'))",
            ts("column4")
        ),
    )
    .await;
    create(
        ctx,
        "report_months",
        "SELECT CAST(column1 AS DATE) AS month_start, CAST(column2 AS DATE) AS month_end \
         FROM (VALUES ('2024-04-01', '2024-04-30'), ('2024-05-01', '2024-05-31'))",
    )
    .await;
    create(
        ctx,
        "fx_daily",
        "SELECT d AS date, c AS currency, CAST(r AS DECIMAL(18, 6)) AS per_eur FROM ( \
           SELECT CAST(column1 AS DATE) AS d, column2 AS c, column3 AS r FROM (VALUES \
             ('2023-07-01', 'EUR', '1'), ('2024-04-30', 'EUR', '1'), ('2024-05-15', 'EUR', '1'), \
             ('2024-05-31', 'EUR', '1'), ('2024-06-01', 'USD', '2')))",
    )
    .await;
}

/// The book, then `fact_loans`, `fact_payments` and `loan_months` at `as_of`.
async fn facts_at(as_of: NaiveDate) -> SessionContext {
    let ctx = SessionContext::new();
    book(&ctx).await;
    create(&ctx, "fact_loans", &facts::fact_loans(as_of)).await;
    create(&ctx, "fact_payments", &facts::fact_payments(as_of)).await;
    create(&ctx, "loan_months", &facts::loan_months()).await;
    ctx
}

#[tokio::test]
async fn loans_amortise_and_age_their_arrears() {
    let ctx = facts_at(day("2024-05-15")).await;
    assert_eq!(
        rows(
            &ctx,
            "SELECT loan_id, amount_repaid, outstanding_principal, days_past_due, max_days_past_due, \
                    is_non_performing, principal_eur, start_date_key FROM fact_loans ORDER BY loan_id"
        )
        .await,
        [
            // Two of twelve annuity installments at 1 % a month paid: 1200·(1.01¹²−1.01²)/(1.01¹²−1).
            "L1|213.24|1009.82|44|44|false|1200.00|20240101",
            // No interest: linear; nothing unpaid.
            "L2|300.00|900.00|0|0|false|1200.00|20230601",
            // In default: non-performing whatever its arrears.
            "L3|0.00|500.00|0|0|true|500.00|20240101",
        ]
    );
    assert_eq!(
        rows(
            &ctx,
            "SELECT payment_id, days_late, paid_date_key, amount_eur FROM fact_payments ORDER BY payment_id"
        )
        .await,
        [
            "f1|0||10.00",
            "p1|0|20240201|",
            "p2|5|20240306|",
            "p3|44||",
            "p4|14||",
            "q1|0|20230701|100.00",
            "q2|0|20230801|",
            "q3|0|20230901|",
        ],
        "a payment without a rate on its day shows a null amount in EUR"
    );
}

#[tokio::test]
async fn the_portfolio_is_rebuilt_month_by_month() {
    let ctx = facts_at(day("2024-05-15")).await;
    assert_eq!(
        rows(
            &ctx,
            "SELECT loan_id, month_end, outstanding_start, outstanding_end, days_past_due \
             FROM loan_months ORDER BY loan_id, month_end"
        )
        .await,
        [
            "L1|2024-04-30|1009.82|1009.82|29",
            "L1|2024-05-31|1009.82|1009.82|60",
            "L2|2024-04-30|900.00|900.00|0",
            "L2|2024-05-31|900.00|900.00|0",
            "L3|2024-04-30|500.00|500.00|0",
            "L3|2024-05-31|500.00|500.00|0",
        ]
    );
    let portfolio = marts()
        .into_iter()
        .find(|m| m.table == "mart_loan_portfolio")
        .expect("mart");
    assert_eq!(
        rows(
            &ctx,
            &format!("SELECT * FROM ({}) ORDER BY month_key", portfolio.sql)
        )
        .await,
        [
            // April: L1 29 days past due, under 30.
            "20240430|3|2409.82|0.0|0.0|0.0",
            // May: L1 60 days past due (1009.82 of 2409.82), under 90.
            "20240531|3|2409.82|0.419|0.0|0.0",
        ]
    );
}

#[tokio::test]
async fn each_revenue_rule_makes_its_lines() {
    let ctx = facts_at(day("2024-05-15")).await;
    create(
        &ctx,
        "fact_transactions",
        &format!(
            "SELECT column1 AS transaction_id, CAST(1 AS BIGINT) AS client_key, CAST(1 AS BIGINT) AS account_key, \
                    CAST(1 AS BIGINT) AS product_key, {} AS booked_at, column3 AS currency, column4 AS channel, \
                    column5 AS status, CAST(column6 AS DECIMAL(18, 2)) AS amount_eur \
             FROM (VALUES ('t1', '2024-04-10T10:00:00Z', 'USD', 'card', 'booked', '100'), \
                          ('t2', '2024-04-11T10:00:00Z', 'USD', 'card', 'booked', '33.33'), \
                          ('t3', '2024-04-12T10:00:00Z', 'EUR', 'card', 'booked', '100'), \
                          ('t4', '2024-04-13T10:00:00Z', 'USD', 'card', 'pending', '100'), \
                          ('t5', '2024-05-13T10:00:00Z', 'USD', 'online', 'booked', '100'))",
            ts("column2")
        ),
    )
    .await;
    let sql = format!(
        "SELECT revenue_type, date_key, client_key, account_key, product_key, amount_eur FROM ({}) \
         ORDER BY revenue_type, date_key, amount_eur",
        RevenueRules::default().revenue_sql()
    );
    assert_eq!(
        rows(&ctx, &sql).await,
        [
            "account_fee|20240430|1|1|1|5.00",
            "account_fee|20240531|1|1|1|5.00",
            // 1.5 % of the month's foreign card spending (133.33 EUR), booked only.
            "fx_fee|20240430|1|1|1|2.00",
            // Outstanding at the month's start × rate / 12: L3 500 × 0.5 %, L1 1009.82 × 1 %.
            "interest_income|20240430|1|1|1|2.50",
            "interest_income|20240430|1|1|1|10.10",
            "interest_income|20240531|1|1|1|2.50",
            "interest_income|20240531|1|1|1|10.10",
            // EUR 15 per late or missed installment, in its due month.
            "late_fee|20240331|1|1|1|15.00",
            "late_fee|20240430|1|1|1|15.00",
            "late_fee|20240531|1|1|1|15.00",
        ]
    );
}
