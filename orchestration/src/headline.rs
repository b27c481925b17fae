//! What a run tells its user at the end: a few headline figures of the warehouse, and
//! how the fraud rules did against the generator's planted frauds.

use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use datafusion::prelude::{CsvReadOptions, SessionContext};
use storage::delta;

use crate::error::{PipelineError, Result};
use crate::layout::DataLayout;

/// Opens the named warehouse tables (marts included) in a new session.
async fn warehouse(layout: &DataLayout, tables: &[&str]) -> Result<SessionContext> {
    let ctx = delta::session();
    for table in tables {
        delta::register(&ctx, table, &layout.transformed(table).location()?).await?;
    }
    Ok(ctx)
}

async fn collect(ctx: &SessionContext, what: &str, sql: &str) -> Result<Vec<RecordBatch>> {
    let error = |e| PipelineError::from(transformation::TransformError::datafusion(what, e));
    ctx.sql(sql)
        .await
        .map_err(error)?
        .collect()
        .await
        .map_err(error)
}

/// The headline figures, as titled tables.
const FIGURES: [(&str, &str); 4] = [
    (
        "transactions",
        "SELECT COUNT(*) AS transactions, \
                SUM(CASE WHEN status = 'booked' THEN 1 ELSE 0 END) AS booked, \
                CAST(SUM(CASE WHEN status = 'booked' AND direction = 'credit' THEN amount_eur END) AS DECIMAL(18, 2)) AS inflow_eur, \
                CAST(SUM(CASE WHEN status = 'booked' AND direction = 'debit' THEN amount_eur END) AS DECIMAL(18, 2)) AS outflow_eur, \
                SUM(CASE WHEN is_suspicious THEN 1 ELSE 0 END) AS suspicious \
         FROM fact_transactions",
    ),
    (
        "revenue by product category (EUR)",
        "SELECT COALESCE(p.category, 'unknown') AS category, \
                CAST(SUM(CASE WHEN r.revenue_type = 'account_fee' THEN r.amount_eur ELSE 0 END) AS DECIMAL(18, 2)) AS account_fee, \
                CAST(SUM(CASE WHEN r.revenue_type = 'interest_income' THEN r.amount_eur ELSE 0 END) AS DECIMAL(18, 2)) AS interest_income, \
                CAST(SUM(CASE WHEN r.revenue_type = 'fx_fee' THEN r.amount_eur ELSE 0 END) AS DECIMAL(18, 2)) AS fx_fee, \
                CAST(SUM(CASE WHEN r.revenue_type = 'late_fee' THEN r.amount_eur ELSE 0 END) AS DECIMAL(18, 2)) AS late_fee, \
                CAST(SUM(r.amount_eur) AS DECIMAL(18, 2)) AS total \
         FROM fact_revenue r LEFT JOIN dim_products p ON p.product_key = r.product_key \
         GROUP BY 1 ORDER BY total DESC NULLS LAST",
    ),
    (
        "loan portfolio (latest month)",
        "SELECT month_key, loans, outstanding_principal_eur, par30, par90, non_performing_ratio \
         FROM mart_loan_portfolio ORDER BY month_key DESC LIMIT 1",
    ),
    (
        "fraud alerts by rule",
        "SELECT rule_id, COUNT(*) AS alerts, CAST(SUM(amount_eur) AS DECIMAL(18, 2)) AS amount_eur, \
                round(AVG(risk_score), 1) AS avg_risk_score, COUNT(confirmed) AS reported, \
                SUM(CASE WHEN confirmed THEN 1 ELSE 0 END) AS confirmed \
         FROM fact_fraudes GROUP BY rule_id ORDER BY alerts DESC",
    ),
];

/// The headline figures of the warehouse under `layout`, as text tables.
pub async fn headline(layout: &DataLayout) -> Result<String> {
    let ctx = warehouse(
        layout,
        &[
            "fact_transactions",
            "fact_revenue",
            "dim_products",
            "mart_loan_portfolio",
            "fact_fraudes",
        ],
    )
    .await?;
    let mut out = String::new();
    for (title, sql) in FIGURES {
        let batches = collect(&ctx, title, sql).await?;
        let table = arrow::util::pretty::pretty_format_batches(&batches)
            .map_err(transformation::TransformError::from)?;
        out.push_str(&format!("\n{title}:\n{table}\n"));
    }
    Ok(out)
}

/// How one fraud rule did against the planted frauds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleScore {
    /// The rule.
    pub rule: String,
    /// Transactions it alerted on.
    pub alerts: u64,
    /// Transactions planted for it.
    pub planted: u64,
    /// Alerts on planted transactions.
    pub hits: u64,
}

impl RuleScore {
    /// Share of its alerts that were planted (1 when it raised none).
    pub fn precision(&self) -> f64 {
        ratio(self.hits, self.alerts)
    }

    /// Share of the planted transactions it found (1 when none were planted).
    pub fn recall(&self) -> f64 {
        ratio(self.hits, self.planted)
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

/// Scores `fact_fraudes` per rule against a generator's `planted_frauds.csv`
/// (`transaction_id`, `rule`).
pub async fn fraud_scores(layout: &DataLayout, planted: &Path) -> Result<Vec<RuleScore>> {
    let ctx = warehouse(layout, &["fact_fraudes"]).await?;
    let error = |e| PipelineError::from(transformation::TransformError::datafusion("planted", e));
    let path = planted.to_string_lossy();
    ctx.register_csv("planted", path.as_ref(), CsvReadOptions::new())
        .await
        .map_err(error)?;
    let batches = collect(
        &ctx,
        "fraud scores",
        "WITH a AS (SELECT DISTINCT transaction_id, rule_id FROM fact_fraudes), \
              p AS (SELECT DISTINCT CAST(transaction_id AS VARCHAR) AS transaction_id, CAST(rule AS VARCHAR) AS rule_id FROM planted) \
         SELECT COALESCE(a.rule_id, p.rule_id) AS rule, COUNT(a.transaction_id) AS alerts, \
                COUNT(p.transaction_id) AS planted, \
                CAST(SUM(CASE WHEN a.transaction_id IS NOT NULL AND p.transaction_id IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS hits \
         FROM a FULL OUTER JOIN p ON a.transaction_id = p.transaction_id AND a.rule_id = p.rule_id \
         GROUP BY 1 ORDER BY 1",
    )
    .await?;
    let mut scores = Vec::new();
    for batch in &batches {
        let rule = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8)
            .map_err(transformation::TransformError::from)?;
        let rule = rule.as_string::<i32>();
        let int = |i: usize, row: usize| {
            batch
                .column(i)
                .as_primitive_opt::<Int64Type>()
                .filter(|c| c.is_valid(row))
                .map_or(0, |c| c.value(row) as u64)
        };
        for row in 0..batch.num_rows() {
            scores.push(RuleScore {
                rule: rule.value(row).to_owned(),
                alerts: int(1, row),
                planted: int(2, row),
                hits: int(3, row),
            });
        }
    }
    Ok(scores)
}

/// The scores as a text table.
pub fn render_scores(scores: &[RuleScore]) -> String {
    let mut out = format!(
        "{:<22} {:>8} {:>8} {:>6} {:>10} {:>8}\n",
        "rule", "alerts", "planted", "hits", "precision", "recall"
    );
    for s in scores {
        out.push_str(&format!(
            "{:<22} {:>8} {:>8} {:>6} {:>10.3} {:>8.3}\n",
            s.rule,
            s.alerts,
            s.planted,
            s.hits,
            s.precision(),
            s.recall()
        ));
    }
    out
}
