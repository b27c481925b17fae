//! Daily FX rates: the as-of rate of every day, so facts join rates on equality.
//!
//! The contract: a missing day uses the latest earlier rate. Rather than a range join
//! of every transaction against every earlier rate, the rates (a few thousand rows)
//! are filled forward into one row per currency and day, and facts join on
//! `(currency, date)`.
//!
//! EUR, the reporting currency, has a rate of 1 on every day, so every conversion is the
//! same division. A currency the extracts carry no rates for (the Berka data has none
//! for CZK) can take a fixed rate from the configuration (`[model.fx] fixed_per_eur`).

use serde::Deserialize;

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, AsArray, Date32Array, Decimal128Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Date32Type, Decimal128Type, Field, Schema, SchemaRef};

use crate::error::Result;

/// The schema of the daily rates: `date`, `currency`, `per_eur` (units for 1 EUR).
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("date", DataType::Date32, false),
        Field::new("currency", DataType::Utf8, false),
        Field::new("per_eur", DataType::Decimal128(18, 6), false),
    ]))
}

/// The reporting currency.
pub const REPORTING_CURRENCY: &str = "EUR";

/// FX settings (the `[model.fx]` table of the configuration).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FxConfig {
    /// Units of a currency for 1 EUR, for currencies the extracts have no rates for,
    /// e.g. `{ CZK = 25.0 }`.
    pub fixed_per_eur: BTreeMap<String, f64>,
}

impl FxConfig {
    /// Problems with the settings, one sentence each.
    pub fn problems(&self) -> Vec<String> {
        self.fixed_per_eur
            .iter()
            .filter(|(_, rate)| !(rate.is_finite() && **rate > 0.0))
            .map(|(currency, _)| format!("[model.fx] fixed_per_eur.{currency} must be > 0"))
            .collect()
    }
}

/// The days a daily rate table covers: from `first` to `last`, in days since the Unix
/// epoch (both included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days {
    /// The first day.
    pub first: i32,
    /// The last day.
    pub last: i32,
}

/// Fills `rates` (batches with `date`, `currency`, `per_eur`) forward to one rate per
/// currency and day, from each currency's first rate up to `days.last`; days before a
/// currency's first rate have no rate. EUR gets 1, and each currency of `config`'s
/// fixed rates that `rates` lacks gets its fixed rate, on every day of `days`.
pub fn daily(rates: &[RecordBatch], days: Days, config: &FxConfig) -> Result<RecordBatch> {
    let last_day = days.last;
    let mut by_currency: BTreeMap<String, BTreeMap<i32, i128>> = BTreeMap::new();
    for batch in rates {
        let (Some(date), Some(currency), Some(rate)) = (
            batch.column_by_name("date"),
            batch.column_by_name("currency"),
            batch.column_by_name("per_eur"),
        ) else {
            continue;
        };
        // DataFusion may hand text back as Utf8View: read it as Utf8.
        let currency = arrow::compute::cast(currency, &DataType::Utf8)?;
        let (date, currency, rate) = (
            date.as_primitive::<Date32Type>(),
            currency.as_string::<i32>(),
            rate.as_primitive::<Decimal128Type>(),
        );
        for row in 0..batch.num_rows() {
            if date.is_valid(row) && rate.is_valid(row) && currency.is_valid(row) {
                let rates = by_currency
                    .entry(currency.value(row).to_owned())
                    .or_default();
                rates.insert(date.value(row), rate.value(row));
            }
        }
    }
    let constant = |rate: f64| BTreeMap::from([(days.first, (rate * 1e6).round() as i128)]);
    for (currency, rate) in &config.fixed_per_eur {
        by_currency
            .entry(currency.to_uppercase())
            .or_insert_with(|| constant(*rate));
    }
    by_currency.insert(REPORTING_CURRENCY.to_owned(), constant(1.0));
    let (mut days, mut currencies, mut values) = (Vec::new(), Vec::new(), Vec::new());
    for (currency, rates) in &by_currency {
        let Some((&first, _)) = rates.first_key_value() else {
            continue;
        };
        let mut latest = None;
        for day in first..=last_day.max(first) {
            latest = rates.get(&day).copied().or(latest);
            if let Some(rate) = latest {
                days.push(day);
                currencies.push(currency.as_str());
                values.push(rate);
            }
        }
    }
    let rates = Decimal128Array::from(values).with_precision_and_scale(18, 6)?;
    Ok(RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Date32Array::from(days)),
            Arc::new(StringArray::from(currencies)),
            Arc::new(rates),
        ],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_day_uses_the_latest_earlier_rate_and_fixed_rates_only_fill_absent_currencies() {
        let batch = RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(Date32Array::from(vec![10, 12, 11])),
                Arc::new(StringArray::from(vec!["USD", "USD", "CZK"])),
                Arc::new(
                    Decimal128Array::from(vec![1_100_000, 1_200_000, 25_000_000])
                        .with_precision_and_scale(18, 6)
                        .expect("decimal"),
                ),
            ],
        )
        .expect("batch");
        let days = Days {
            first: 12,
            last: 13,
        };
        let config = FxConfig {
            fixed_per_eur: BTreeMap::from([
                ("CZK".into(), 30.0),
                ("czk".into(), 30.0),
                ("HUF".into(), 400.0),
            ]),
        };
        let daily = daily(&[batch], days, &config).expect("daily");
        let rows: Vec<(i32, String, i128)> = (0..daily.num_rows())
            .map(|i| {
                (
                    daily.column(0).as_primitive::<Date32Type>().value(i),
                    daily.column(1).as_string::<i32>().value(i).to_owned(),
                    daily.column(2).as_primitive::<Decimal128Type>().value(i),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (11, "CZK".into(), 25_000_000),
                (12, "CZK".into(), 25_000_000),
                (13, "CZK".into(), 25_000_000),
                (12, "EUR".into(), 1_000_000),
                (13, "EUR".into(), 1_000_000),
                (12, "HUF".into(), 400_000_000),
                (13, "HUF".into(), 400_000_000),
                (10, "USD".into(), 1_100_000),
                (11, "USD".into(), 1_100_000),
                (12, "USD".into(), 1_200_000),
                (13, "USD".into(), 1_200_000),
            ]
        );
    }
}
