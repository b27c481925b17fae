//! The banking facts as SQL over the processed entities and the built dimensions.
//!
//! Each fact keeps its business id (`transaction_id`, `loan_id`, `payment_id`) so every
//! row traces back to its source row, and finds the dimension versions valid at its
//! event time, or the unknown member `-1`. EUR amounts divide by `fx_daily.per_eur`
//! (EUR itself has a rate of 1 there): at the booking day for transactions, the due
//! day for payments, and the as-of day for loan balances.

use chrono::NaiveDate;

use crate::sql::{
    cents, date_key, date_literal, day_start, days_between, month_key, render, valid_at,
};

/// `transactions_eur`: the processed transactions with `amount_eur` at the booking
/// day's rate. Registered as a view; the facts and the fraud rules read it.
pub const TRANSACTIONS_EUR: &str = "\
SELECT t.*, CAST(round(CAST(t.amount AS DECIMAL(38, 10)) / f.per_eur, 2) AS DECIMAL(18, 2)) AS amount_eur
FROM transactions t
LEFT JOIN fx_daily f ON f.currency = t.currency AND f.date = CAST(t.booked_at AS DATE)";

/// The facts stored partitioned by month, with their partition column: the large,
/// ever-growing ones, so that a month can be read, replaced or compacted alone.
pub const MONTHLY_PARTITIONS: [(&str, &str); 2] = [
    ("fact_transactions", "booked_month"),
    ("fact_payments", "due_month"),
];

/// `fact_transactions`: one row per processed transaction, whatever its status, with
/// the account, client (versions valid at booking time) and product keys, the signed
/// amount, the EUR amount, whether a fraud rule flagged it (`fact_fraudes`), and its
/// month (`booked_month`, `yyyymm`, the partition).
pub fn fact_transactions() -> String {
    render(
        "\
SELECT t.transaction_id,
       {date_key} AS date_key,
       COALESCE(a.account_key, -1) AS account_key,
       COALESCE(c.client_key, -1) AS client_key,
       COALESCE(p.product_key, -1) AS product_key,
       t.amount,
       CASE WHEN t.direction = 'debit' THEN -t.amount ELSE t.amount END AS signed_amount,
       t.amount_eur,
       t.currency, t.direction, t.channel, t.status, t.mcc, t.country,
       t.country <> COALESCE(c.country, t.country) AS is_international,
       s.transaction_id IS NOT NULL AS is_suspicious,
       t.booked_at, t.value_date,
       {month} AS booked_month
FROM transactions_eur t
LEFT JOIN dim_accounts a ON a.account_id = t.account_id AND {account_valid}
LEFT JOIN dim_clients c ON c.client_id = a.client_id AND {client_valid}
LEFT JOIN dim_products p ON p.product_id = a.product_id
LEFT JOIN (SELECT DISTINCT transaction_id FROM fact_fraudes) s ON s.transaction_id = t.transaction_id",
        &[
            ("date_key", date_key("t.booked_at")),
            ("month", month_key(&date_key("t.booked_at"))),
            ("account_valid", valid_at("a", "t.booked_at")),
            ("client_valid", valid_at("c", "t.booked_at")),
        ],
    )
}

/// `installments`: the loan installments of `payments`, with the day they were paid.
const INSTALLMENTS: &str = "\
SELECT loan_id, due_date, CAST(paid_at AS DATE) AS paid_on, amount
FROM payments WHERE loan_id IS NOT NULL AND kind = 'installment'";

/// The principal still owed on an annuity loan after `paid` installments of `term`
/// (the standard amortisation balance, `P·((1+r)^n − (1+r)^k) / ((1+r)^n − 1)` with
/// the monthly rate `r`; linear when the rate is zero), rounded to cents.
fn balance(principal: &str, annual_rate: &str, term: &str, paid: &str) -> String {
    let r = format!("(CAST({annual_rate} AS DOUBLE) / 12)");
    let k = format!("CAST(least({paid}, {term}) AS DOUBLE)");
    let n = format!("CAST({term} AS DOUBLE)");
    let p = format!("CAST({principal} AS DOUBLE)");
    format!(
        "CAST(round(CASE WHEN {r} = 0 THEN {p} * (1 - {k} / {n}) \
              ELSE {p} * (power(1 + {r}, {n}) - power(1 + {r}, {k})) / (power(1 + {r}, {n}) - 1) END, 2) \
         AS DECIMAL(18, 2))"
    )
}

/// `fact_loans`: one row per loan, with what was repaid, the outstanding principal by
/// amortisation over the installments paid, the days past due of the oldest unpaid
/// installment at `as_of` (`days_past_due`) and the worst delay ever
/// (`max_days_past_due`), and whether it is non-performing (more than 90 days past
/// due, or in default or written off).
pub fn fact_loans(as_of: NaiveDate) -> String {
    let as_of = date_literal(as_of);
    let at_start = day_start("l.start_date");
    render(
        "\
WITH installments AS ({installments}),
paid AS (
  SELECT loan_id,
         SUM(CASE WHEN paid_on IS NOT NULL THEN amount END) AS amount_repaid,
         COUNT(paid_on) AS paid_count,
         MAX(CASE WHEN paid_on IS NOT NULL THEN greatest({late_paid}, 0)
                  WHEN due_date < {as_of} THEN {late_unpaid} ELSE 0 END) AS max_days_past_due,
         MIN(CASE WHEN paid_on IS NULL AND due_date < {as_of} THEN due_date END) AS oldest_unpaid
  FROM installments GROUP BY loan_id),
loans_due AS (
  SELECT l.*, COALESCE(p.amount_repaid, 0) AS amount_repaid, COALESCE(p.paid_count, 0) AS paid_count,
         CAST(COALESCE(p.max_days_past_due, 0) AS INT) AS max_days_past_due,
         CAST(COALESCE({dpd}, 0) AS INT) AS days_past_due
  FROM loans l LEFT JOIN paid p ON p.loan_id = l.loan_id)
SELECT l.loan_id,
       COALESCE(c.client_key, -1) AS client_key,
       COALESCE(a.account_key, -1) AS account_key,
       COALESCE(pr.product_key, -1) AS product_key,
       {start_key} AS start_date_key,
       {maturity_key} AS maturity_date_key,
       l.principal,
       {principal_eur} AS principal_eur,
       l.currency, l.annual_rate, l.term_months, l.status,
       CAST(l.amount_repaid AS DECIMAL(18, 2)) AS amount_repaid,
       CASE WHEN l.status = 'repaid' THEN CAST(0 AS DECIMAL(18, 2)) ELSE {balance} END AS outstanding_principal,
       l.days_past_due,
       l.max_days_past_due,
       l.days_past_due > 90 OR l.status IN ('default', 'written_off') AS is_non_performing
FROM loans_due l
LEFT JOIN dim_clients c ON c.client_id = l.client_id AND {client_valid}
LEFT JOIN dim_accounts a ON a.account_id = l.account_id AND {account_valid}
LEFT JOIN dim_products pr ON pr.product_id = l.product_id
LEFT JOIN fx_daily f ON f.currency = l.currency AND f.date = {as_of}",
        &[
            ("installments", INSTALLMENTS.to_owned()),
            ("late_paid", days_between("due_date", "paid_on")),
            ("late_unpaid", days_between("due_date", &as_of)),
            ("dpd", days_between("p.oldest_unpaid", &as_of)),
            ("start_key", date_key("l.start_date")),
            ("maturity_key", date_key("l.maturity_date")),
            ("principal_eur", cents("l.principal / f.per_eur")),
            (
                "balance",
                balance("l.principal", "l.annual_rate", "l.term_months", "l.paid_count"),
            ),
            ("client_valid", valid_at("c", &at_start)),
            ("account_valid", valid_at("a", &at_start)),
            ("as_of", as_of.clone()),
        ],
    )
}

/// `loan_months`: each loan in each month of `report_months` it runs in, with the
/// outstanding principal at the month's start and end and the days past due of its
/// oldest unpaid installment at the month's end. The portfolio mart and the interest
/// income read it.
pub fn loan_months() -> String {
    render(
        "\
WITH installments AS ({installments}),
states AS (
  SELECT l.loan_id, m.month_start, m.month_end,
         COUNT(CASE WHEN i.paid_on <= m.month_end THEN 1 END) AS paid_by_end,
         COUNT(CASE WHEN i.paid_on < m.month_start THEN 1 END) AS paid_by_start,
         MIN(CASE WHEN i.due_date <= m.month_end AND (i.paid_on IS NULL OR i.paid_on > m.month_end)
                  THEN i.due_date END) AS oldest_unpaid
  FROM loans l
  JOIN report_months m ON l.start_date <= m.month_end
  LEFT JOIN installments i ON i.loan_id = l.loan_id
  GROUP BY l.loan_id, m.month_start, m.month_end)
SELECT s.loan_id, s.month_start, s.month_end, l.currency,
       {balance_start} AS outstanding_start,
       {balance_end} AS outstanding_end,
       CAST(COALESCE({dpd}, 0) AS INT) AS days_past_due
FROM states s JOIN loans l ON l.loan_id = s.loan_id",
        &[
            ("installments", INSTALLMENTS.to_owned()),
            (
                "balance_start",
                balance(
                    "l.principal",
                    "l.annual_rate",
                    "l.term_months",
                    "s.paid_by_start",
                ),
            ),
            (
                "balance_end",
                balance(
                    "l.principal",
                    "l.annual_rate",
                    "l.term_months",
                    "s.paid_by_end",
                ),
            ),
            ("dpd", days_between("s.oldest_unpaid", "s.month_end")),
        ],
    )
}

/// `fact_payments`: one row per payment, with the account and client versions valid at
/// its due date, the EUR amount at the due day's rate, and `days_late`: for a paid
/// payment the days from due to paid (never negative), for an unpaid one the days it
/// is overdue at `as_of`; partitioned by the month due (`due_month`).
pub fn fact_payments(as_of: NaiveDate) -> String {
    let as_of = date_literal(as_of);
    let due = day_start("p.due_date");
    render(
        "\
SELECT p.payment_id, p.loan_id,
       COALESCE(a.account_key, -1) AS account_key,
       COALESCE(c.client_key, -1) AS client_key,
       {due_key} AS due_date_key,
       {paid_key} AS paid_date_key,
       p.due_date, p.paid_at,
       p.amount,
       {amount_eur} AS amount_eur,
       p.currency, p.kind, p.status,
       CAST(CASE WHEN p.paid_at IS NOT NULL THEN greatest({late_paid}, 0)
                 WHEN p.due_date < {as_of} THEN {late_unpaid}
                 ELSE 0 END AS INT) AS days_late,
       {month} AS due_month
FROM payments p
LEFT JOIN dim_accounts a ON a.account_id = p.account_id AND {account_valid}
LEFT JOIN dim_clients c ON c.client_id = a.client_id AND {client_valid}
LEFT JOIN fx_daily f ON f.currency = p.currency AND f.date = p.due_date",
        &[
            ("due_key", date_key("p.due_date")),
            ("month", month_key(&date_key("p.due_date"))),
            ("paid_key", date_key("p.paid_at")),
            ("amount_eur", cents("p.amount / f.per_eur")),
            (
                "late_paid",
                days_between("p.due_date", "CAST(p.paid_at AS DATE)"),
            ),
            ("late_unpaid", days_between("p.due_date", &as_of)),
            ("account_valid", valid_at("a", &due)),
            ("client_valid", valid_at("c", &due)),
            ("as_of", as_of.clone()),
        ],
    )
}

/// The first and last day of the transactions (booking and value dates), if any.
pub const TRANSACTION_DATE_RANGE: &str = "\
SELECT min(d) AS first, max(d) AS last FROM (
  SELECT CAST(booked_at AS DATE) AS d FROM transactions
  UNION ALL SELECT value_date FROM transactions)";

/// Every date key the warehouse uses (facts, dimensions, report months), as the
/// smallest and largest: `dim_dates` covers that range.
pub const DATE_KEY_RANGE: &str = "\
SELECT min(k) AS first, max(k) AS last FROM (
  SELECT date_key AS k FROM fact_transactions
  UNION ALL SELECT start_date_key FROM fact_loans
  UNION ALL SELECT maturity_date_key FROM fact_loans
  UNION ALL SELECT due_date_key FROM fact_payments
  UNION ALL SELECT paid_date_key FROM fact_payments
  UNION ALL SELECT date_key FROM fact_revenue
  UNION ALL SELECT date_key FROM dim_satisfaction)";
