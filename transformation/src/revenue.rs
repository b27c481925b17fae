//! Revenue: `fact_revenue`, one line per client × account × product × month × type,
//! from the contract's default rules (each configurable in the `[model.revenue]` table):
//!
//! - `account_fee`: the product's `monthly_fee` for every month of the report window
//!   an account is open (the account's version valid at the month's end);
//! - `interest_income`: a loan's outstanding principal at the start of the month ×
//!   `annual_rate` / 12, for every month of the window the loan runs;
//! - `fx_fee`: `fx_fee_rate` of booked card transactions in another currency than
//!   the account's;
//! - `late_fee`: `late_fee_eur` per installment paid late or missed, in its due month.
//!
//! Amounts are in EUR at the month end's rate (fees and interest) or the transaction's
//! rate (FX fees); a line without a rate keeps its place with a null `amount_eur`, so
//! a missing rate shows rather than hides.

use serde::Deserialize;

use crate::sql::{cents, date_key, day_start, month_end_key, render, valid_at};

/// The revenue rules (the `[model.revenue]` table of the configuration).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RevenueRules {
    /// Charge the product's monthly fee.
    pub account_fee: bool,
    /// Earn interest on loans.
    pub interest_income: bool,
    /// The FX fee as a fraction of the amount (0.015 = 1.5 %); 0 turns it off.
    pub fx_fee_rate: f64,
    /// The channels whose foreign-currency transactions pay the FX fee.
    pub fx_fee_channels: Vec<String>,
    /// The fee in EUR per late or missed installment; 0 turns it off.
    pub late_fee_eur: f64,
}

impl Default for RevenueRules {
    fn default() -> Self {
        RevenueRules {
            account_fee: true,
            interest_income: true,
            fx_fee_rate: 0.015,
            fx_fee_channels: vec!["card".into()],
            late_fee_eur: 15.0,
        }
    }
}

impl RevenueRules {
    /// Problems with the rules, one sentence each (empty when they make sense).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !(0.0..1.0).contains(&self.fx_fee_rate) {
            problems.push("[model.revenue] fx_fee_rate must be a fraction in [0, 1)".to_owned());
        }
        if self.late_fee_eur < 0.0 {
            problems.push("[model.revenue] late_fee_eur must be ≥ 0".to_owned());
        }
        problems
    }

    /// `fact_revenue` as one SQL query over `report_months`, `dim_accounts`,
    /// `dim_products`, `dim_clients`, `fx_daily`, `loan_months`, `fact_loans`,
    /// `fact_transactions` and `fact_payments` (no rows when every rule is off).
    pub fn revenue_sql(&self) -> String {
        let mut lines = Vec::new();
        if self.account_fee {
            lines.push(render(
                ACCOUNT_FEE,
                &[
                    ("month_key", date_key("m.month_end")),
                    ("account_valid", valid_at("a", &day_start("m.month_end"))),
                    ("client_valid", valid_at("c", &day_start("m.month_end"))),
                    ("amount", cents("p.monthly_fee / f.per_eur")),
                ],
            ));
        }
        if self.interest_income {
            lines.push(render(
                INTEREST_INCOME,
                &[
                    ("month_key", date_key("lm.month_end")),
                    (
                        "amount",
                        cents("CAST(lm.outstanding_start * l.annual_rate / 12 AS DECIMAL(38, 10)) / f.per_eur"),
                    ),
                ],
            ));
        }
        if self.fx_fee_rate > 0.0 && !self.fx_fee_channels.is_empty() {
            let channels: Vec<String> = self
                .fx_fee_channels
                .iter()
                .map(|c| format!("'{}'", c.to_lowercase().replace('\'', "''")))
                .collect();
            lines.push(render(
                FX_FEE,
                &[
                    ("month_key", month_end_key("t.booked_at")),
                    ("channels", channels.join(", ")),
                    (
                        "amount",
                        cents(&format!(
                            "SUM(t.amount_eur) * {}",
                            decimal(self.fx_fee_rate)
                        )),
                    ),
                ],
            ));
        }
        if self.late_fee_eur > 0.0 {
            lines.push(render(
                LATE_FEE,
                &[
                    ("month_key", month_end_key("p.due_date")),
                    (
                        "amount",
                        cents(&format!("COUNT(*) * {}", decimal(self.late_fee_eur))),
                    ),
                ],
            ));
        }
        if lines.is_empty() {
            lines.push(NO_REVENUE.to_owned());
        }
        format!("{LINE_ID}\n{}\n) lines", lines.join("\nUNION ALL\n"))
    }
}

/// A configured number as an exact decimal literal, so money is never multiplied by a
/// binary float.
fn decimal(value: f64) -> String {
    format!("CAST('{value:?}' AS DECIMAL(18, 6))")
}

/// Every line's id, `revenue_type:date_key:account_key:client_key:product_key[:loan_id]`,
/// unique because each rule makes one line per account version (and loan) and month,
/// in front of the lines' columns; the rules' lines follow in parentheses.
const LINE_ID: &str = "\
SELECT concat_ws(':', revenue_type, CAST(date_key AS VARCHAR), CAST(account_key AS VARCHAR),
                 CAST(client_key AS VARCHAR), CAST(product_key AS VARCHAR), loan_id) AS revenue_id,
       date_key, client_key, account_key, product_key, loan_id, revenue_type, amount_eur
FROM (";

/// The shape of `fact_revenue` without rows, when every rule is off.
const NO_REVENUE: &str = "\
SELECT 0 AS date_key, CAST(-1 AS BIGINT) AS client_key, CAST(-1 AS BIGINT) AS account_key,
       CAST(-1 AS BIGINT) AS product_key, CAST(NULL AS VARCHAR) AS loan_id, '' AS revenue_type,
       CAST(0 AS DECIMAL(18, 2)) AS amount_eur
WHERE false";

const ACCOUNT_FEE: &str = "\
SELECT {month_key} AS date_key, COALESCE(c.client_key, -1) AS client_key, a.account_key,
       COALESCE(p.product_key, -1) AS product_key, CAST(NULL AS VARCHAR) AS loan_id,
       'account_fee' AS revenue_type, {amount} AS amount_eur
FROM dim_accounts a
JOIN report_months m ON a.opened_on <= m.month_end AND (a.closed_on IS NULL OR a.closed_on >= m.month_start)
     AND {account_valid}
JOIN dim_products p ON p.product_id = a.product_id AND p.monthly_fee > 0
LEFT JOIN dim_clients c ON c.client_id = a.client_id AND {client_valid}
LEFT JOIN fx_daily f ON f.currency = p.currency AND f.date = m.month_end
WHERE a.account_key <> -1";

const INTEREST_INCOME: &str = "\
SELECT {month_key} AS date_key, l.client_key, l.account_key, l.product_key, l.loan_id,
       'interest_income' AS revenue_type, {amount} AS amount_eur
FROM loan_months lm
JOIN fact_loans l ON l.loan_id = lm.loan_id
LEFT JOIN fx_daily f ON f.currency = l.currency AND f.date = lm.month_end
WHERE lm.outstanding_start > 0 AND l.annual_rate > 0";

const FX_FEE: &str = "\
SELECT {month_key} AS date_key, t.client_key, t.account_key, t.product_key,
       CAST(NULL AS VARCHAR) AS loan_id, 'fx_fee' AS revenue_type, {amount} AS amount_eur
FROM fact_transactions t
JOIN dim_accounts a ON a.account_key = t.account_key
WHERE t.status = 'booked' AND t.channel IN ({channels}) AND t.currency <> a.currency
GROUP BY 1, 2, 3, 4";

const LATE_FEE: &str = "\
SELECT {month_key} AS date_key, p.client_key, p.account_key, COALESCE(l.product_key, -1) AS product_key,
       p.loan_id, 'late_fee' AS revenue_type, {amount} AS amount_eur
FROM fact_payments p
LEFT JOIN fact_loans l ON l.loan_id = p.loan_id
WHERE p.kind = 'installment' AND p.status IN ('late', 'missed')
GROUP BY 1, 2, 3, 4, 5";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_contributes_a_line_type() {
        let sql = RevenueRules::default().revenue_sql();
        for kind in ["account_fee", "interest_income", "fx_fee", "late_fee"] {
            assert!(sql.contains(&format!("'{kind}' AS revenue_type")), "{kind}");
        }
    }

    #[test]
    fn rules_turned_off_leave_the_query() {
        let rules = RevenueRules {
            fx_fee_rate: 0.0,
            late_fee_eur: 0.0,
            ..RevenueRules::default()
        };
        let sql = rules.revenue_sql();
        assert!(!sql.contains("'fx_fee'") && !sql.contains("'late_fee'"));
        let none = RevenueRules {
            account_fee: false,
            interest_income: false,
            ..rules
        };
        assert_eq!(
            none.revenue_sql(),
            format!("{LINE_ID}\n{NO_REVENUE}\n) lines")
        );
    }
}
