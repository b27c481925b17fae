//! Hand-made input tables for the model's queries, written as SQL `VALUES`.

use arrow::array::RecordBatch;
use arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;

/// A UTC timestamp column expression from ISO text.
pub fn ts(column: &str) -> String {
    format!("arrow_cast({column}, 'Timestamp(Microsecond, Some(\"UTC\"))')")
}

/// Creates table `name` from `select` (over `VALUES`, usually).
pub async fn create(ctx: &SessionContext, name: &str, select: &str) {
    ctx.sql(&format!("CREATE TABLE {name} AS {select}"))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
}

/// Runs `sql` and collects its batches.
pub async fn collect(ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
    ctx.sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{sql}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{sql}"))
}

/// Runs `sql` and renders its rows one per line, cells separated by `|`, for
/// comparisons that read like the expected table.
pub async fn rows(ctx: &SessionContext, sql: &str) -> Vec<String> {
    let batches = collect(ctx, sql).await;
    let table = pretty_format_batches(&batches).expect("format").to_string();
    table
        .lines()
        .filter(|l| l.starts_with('|'))
        .skip(1)
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

/// Registers the minimal dimensions the facts join: one account `A<n>` per name in
/// `accounts` (owned by client `C<n>`, product `P1`, currency EUR), each with one
/// version valid since the epoch, and the unknown members.
pub async fn dimensions(ctx: &SessionContext, accounts: &[&str]) {
    let epoch = ts("'1970-01-01T00:00:00Z'");
    let never = ts("NULL");
    let rows: Vec<String> = accounts
        .iter()
        .enumerate()
        .map(|(i, a)| format!("({}, '{a}', 'C{}', 'P1', 'EUR', 'CZ')", i + 1, i + 1))
        .collect();
    create(
        ctx,
        "dim_accounts",
        &format!(
            "SELECT CAST(column1 AS BIGINT) AS account_key, column2 AS account_id, column3 AS client_id, \
                    column4 AS product_id, column5 AS currency, {epoch} AS valid_from, \
                    {never} AS valid_to \
             FROM (VALUES {}, (-1, 'unknown', NULL, NULL, NULL, NULL))",
            rows.join(", "),
        ),
    )
    .await;
    create(
        ctx,
        "dim_clients",
        "SELECT CAST(account_key AS BIGINT) AS client_key, client_id, 'CZ' AS country, valid_from, \
                valid_to FROM dim_accounts WHERE account_key <> -1",
    )
    .await;
    create(
        ctx,
        "dim_products",
        "SELECT CAST(1 AS BIGINT) AS product_key, 'P1' AS product_id",
    )
    .await;
}
