//! The marts (`data/transformed/marts/`): aggregates of the star schema that analysts
//! and the dashboard read directly. Months are keyed by their last day
//! (`month_key`, `yyyymmdd`), like `fact_revenue`, so they join `dim_dates`.
//!
//! Transactions count when `booked` (pending and reversed ones do not move money).

use crate::sql::{date_key, day_start, month_end_key, render, valid_at};

/// One mart: its table name and its SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mart {
    /// The table, e.g. `mart_client_monthly`.
    pub table: &'static str,
    /// The query over the star schema.
    pub sql: String,
}

/// The four marts of the contract.
pub fn marts() -> Vec<Mart> {
    vec![
        Mart {
            table: "mart_client_monthly",
            sql: client_monthly(),
        },
        Mart {
            table: "mart_product_performance",
            sql: product_performance(),
        },
        Mart {
            table: "mart_loan_portfolio",
            sql: LOAN_PORTFOLIO.to_owned(),
        },
        Mart {
            table: "mart_fraud_daily",
            sql: FRAUD_DAILY.to_owned(),
        },
    ]
}

/// Client × month: booked transactions, inflow and outflow in EUR, revenue, alerts.
/// A client's versions count as one client, keyed by its current version.
fn client_monthly() -> String {
    render(
        "\
WITH parts AS (
  SELECT c.client_id, {tx_month} AS month_key, 1 AS transactions,
         CASE WHEN t.direction = 'credit' THEN t.amount_eur END AS inflow,
         CASE WHEN t.direction = 'debit' THEN t.amount_eur END AS outflow,
         CAST(NULL AS DECIMAL(18, 2)) AS revenue, 0 AS alerts
  FROM fact_transactions t JOIN dim_clients c ON c.client_key = t.client_key
  WHERE t.status = 'booked'
  UNION ALL
  SELECT c.client_id, r.date_key, 0, NULL, NULL, r.amount_eur, 0
  FROM fact_revenue r JOIN dim_clients c ON c.client_key = r.client_key
  UNION ALL
  SELECT c.client_id, {alert_month}, 0, NULL, NULL, NULL, 1
  FROM fact_fraudes f JOIN dim_clients c ON c.client_key = f.client_key)
SELECT cur.client_key, p.client_id, p.month_key,
       CAST(SUM(p.transactions) AS BIGINT) AS transaction_count,
       CAST(COALESCE(SUM(p.inflow), 0) AS DECIMAL(18, 2)) AS inflow_eur,
       CAST(COALESCE(SUM(p.outflow), 0) AS DECIMAL(18, 2)) AS outflow_eur,
       CAST(COALESCE(SUM(p.revenue), 0) AS DECIMAL(18, 2)) AS revenue_eur,
       CAST(SUM(p.alerts) AS BIGINT) AS alerts
FROM parts p JOIN dim_clients cur ON cur.client_id = p.client_id AND cur.is_current
GROUP BY cur.client_key, p.client_id, p.month_key",
        &[
            ("tx_month", month_end_key("t.booked_at")),
            ("alert_month", month_end_key("f.booked_at")),
        ],
    )
}

/// Product × month: accounts active at the month's end, revenue, average CSAT and NPS
/// (promoters − detractors, in % of the NPS answers) of the month's surveys.
fn product_performance() -> String {
    render(
        "\
WITH parts AS (
  SELECT a.product_id, {month_key} AS month_key, 1 AS active_accounts,
         CAST(NULL AS DECIMAL(18, 2)) AS revenue, CAST(NULL AS INT) AS csat, CAST(NULL AS INT) AS nps
  FROM dim_accounts a
  JOIN report_months m ON a.status = 'active' AND a.opened_on <= m.month_end
       AND (a.closed_on IS NULL OR a.closed_on > m.month_end) AND {account_valid}
  WHERE a.account_key <> -1
  UNION ALL
  SELECT p.product_id, r.date_key, 0, r.amount_eur, NULL, NULL
  FROM fact_revenue r JOIN dim_products p ON p.product_key = r.product_key
  UNION ALL
  SELECT p.product_id, {survey_month}, 0, NULL, s.csat, s.nps
  FROM dim_satisfaction s JOIN dim_products p ON p.product_key = s.product_key
  WHERE s.satisfaction_key <> -1)
SELECT p.product_key, x.product_id, x.month_key,
       CAST(SUM(x.active_accounts) AS BIGINT) AS active_accounts,
       CAST(COALESCE(SUM(x.revenue), 0) AS DECIMAL(18, 2)) AS revenue_eur,
       round(AVG(CAST(x.csat AS DOUBLE)), 2) AS avg_csat,
       COUNT(x.nps) AS nps_answers,
       round(100.0 * (SUM(CASE WHEN x.nps >= 9 THEN 1 ELSE 0 END) - SUM(CASE WHEN x.nps <= 6 THEN 1 ELSE 0 END))
             / NULLIF(COUNT(x.nps), 0), 1) AS nps
FROM parts x JOIN dim_products p ON p.product_id = x.product_id
GROUP BY p.product_key, x.product_id, x.month_key",
        &[
            ("month_key", date_key("m.month_end")),
            ("account_valid", valid_at("a", &day_start("m.month_end"))),
            ("survey_month", month_end_key("s.answered_on")),
        ],
    )
}

/// Month: loans running, outstanding principal in EUR (month-end rate), PAR30 and
/// PAR90 (share of the outstanding principal more than 30 / 90 days past due) and the
/// non-performing ratio (more than 90 days past due, by count of loans).
const LOAN_PORTFOLIO: &str = "\
WITH running AS (
  SELECT lm.month_end, lm.days_past_due,
         CAST(lm.outstanding_end AS DOUBLE) / CAST(f.per_eur AS DOUBLE) AS outstanding_eur
  FROM loan_months lm
  LEFT JOIN fx_daily f ON f.currency = lm.currency AND f.date = lm.month_end
  WHERE lm.outstanding_end > 0)
SELECT CAST(to_char(month_end, '%Y%m%d') AS INT) AS month_key,
       COUNT(*) AS loans,
       CAST(round(SUM(outstanding_eur), 2) AS DECIMAL(18, 2)) AS outstanding_principal_eur,
       round(SUM(CASE WHEN days_past_due > 30 THEN outstanding_eur ELSE 0 END) / NULLIF(SUM(outstanding_eur), 0), 4) AS par30,
       round(SUM(CASE WHEN days_past_due > 90 THEN outstanding_eur ELSE 0 END) / NULLIF(SUM(outstanding_eur), 0), 4) AS par90,
       round(CAST(SUM(CASE WHEN days_past_due > 90 THEN 1 ELSE 0 END) AS DOUBLE) / COUNT(*), 4) AS non_performing_ratio
FROM running
GROUP BY month_end";

/// Day × channel × rule: alerts, their amount in EUR, how many were reported and the
/// share of reported alerts confirmed as fraud.
const FRAUD_DAILY: &str = "\
SELECT date_key, channel, rule_id,
       COUNT(*) AS alerts,
       CAST(COALESCE(SUM(amount_eur), 0) AS DECIMAL(18, 2)) AS amount_eur,
       COUNT(confirmed) AS reported,
       SUM(CASE WHEN confirmed THEN 1 ELSE 0 END) AS confirmed,
       round(CAST(SUM(CASE WHEN confirmed THEN 1 ELSE 0 END) AS DOUBLE) / NULLIF(COUNT(confirmed), 0), 4) AS confirmed_rate
FROM fact_fraudes
GROUP BY date_key, channel, rule_id";
