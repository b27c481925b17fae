//! Small SQL building blocks shared by the model's queries, so each expression is
//! written once: date keys, day differences, month ends, and parameter rendering.
//!
//! Only values the code owns (numbers, dates, identifiers of the model) are rendered
//! into SQL text; data never is.

use chrono::NaiveDate;

/// An identifier (table or column name), double-quoted with embedded quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A string literal, single-quoted with embedded quotes doubled.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The `yyyymmdd` integer key of a date or timestamp expression.
pub fn date_key(expr: &str) -> String {
    format!("CAST(to_char({expr}, '%Y%m%d') AS INT)")
}

/// The `yyyymm` integer month of a `yyyymmdd` date key expression (the partition
/// value of the monthly partitioned facts; the key is computed once, the division is
/// nearly free).
pub fn month_key(date_key: &str) -> String {
    format!("CAST({date_key} / 100 AS INT)")
}

/// The last day of the month of a date or timestamp expression, as a date.
pub fn month_end(expr: &str) -> String {
    format!(
        "CAST(date_trunc('month', CAST({expr} AS TIMESTAMP)) + INTERVAL '1 month' - INTERVAL '1 day' AS DATE)"
    )
}

/// The key of the last day of the month of a date or timestamp expression.
pub fn month_end_key(expr: &str) -> String {
    date_key(&month_end(expr))
}

/// Whole days from the date expression `from` to the date expression `to`.
pub fn days_between(from: &str, to: &str) -> String {
    format!("(arrow_cast({to}, 'Int32') - arrow_cast({from}, 'Int32'))")
}

/// A date as an SQL literal.
pub fn date_literal(date: NaiveDate) -> String {
    format!("DATE '{date}'")
}

/// The start of a day (a date expression) as a UTC timestamp, to compare with `valid_from`.
pub fn day_start(expr: &str) -> String {
    format!("arrow_cast(CAST({expr} AS TIMESTAMP), 'Timestamp(Microsecond, Some(\"UTC\"))')")
}

/// The join condition "this version of `alias` was valid at `at`" for a type 2 dimension.
pub fn valid_at(alias: &str, at: &str) -> String {
    format!("{at} >= {alias}.valid_from AND ({alias}.valid_to IS NULL OR {at} < {alias}.valid_to)")
}

/// A decimal amount expression rounded to cents.
pub fn cents(expr: &str) -> String {
    format!("CAST(round(CAST({expr} AS DECIMAL(38, 10)), 2) AS DECIMAL(18, 2))")
}

/// Replaces each `{name}` of `template` with its value.
pub fn render(template: &str, params: &[(&str, String)]) -> String {
    params
        .iter()
        .fold(template.to_owned(), |sql, (name, value)| {
            sql.replace(&format!("{{{name}}}"), value)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_replaces_every_occurrence() {
        let sql = render("{a} + {a} - {b}", &[("a", "1".into()), ("b", "x".into())]);
        assert_eq!(sql, "1 + 1 - x");
    }
}
