//! Typing and row rules: text columns become the contract's Arrow types, and each
//! row gets the first rule it breaks, in the contract's order.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Date32Builder, Decimal128Builder, Int32Builder,
    StringArray, StringBuilder, TimestampMicrosecondBuilder,
};
use contract::{Check, Column, ColumnType, EntitySpec, RuleId, codes, schema::UTC};

use crate::cleaning::{Action, Cleaning};
use crate::iban;
use crate::parse::{self, ValueFormat};

/// A rule a row breaks: one of the contract's, or a configured one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broken {
    /// A contract rule.
    Contract(RuleId),
    /// The configured rule at this index of the entity's validator.
    Configured(usize),
}

/// The first rule a row breaks, with the column at fault and a reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The rule.
    pub rule: Broken,
    /// The column at fault, where one is.
    pub column: Option<&'static str>,
    /// A sentence a person understands (empty for a configured rule: the rule has it).
    pub reason: String,
}

impl Failure {
    /// The contract rule broken, if it is one.
    pub fn contract_rule(&self) -> Option<RuleId> {
        match self.rule {
            Broken::Contract(rule) => Some(rule),
            Broken::Configured(_) => None,
        }
    }
}

/// Per-row failures of a batch: `None` while a row breaks no rule.
#[derive(Debug, Default)]
pub struct Failures(Vec<Option<Failure>>);

impl Failures {
    /// No failures yet, for `rows` rows.
    pub fn new(rows: usize) -> Failures {
        Failures(vec![None; rows])
    }

    /// Records that `row` breaks `rule`, unless it already breaks an earlier rule.
    /// The reason is only built when it is kept.
    pub fn record(
        &mut self,
        row: usize,
        rule: RuleId,
        column: Option<&'static str>,
        reason: impl FnOnce() -> String,
    ) {
        let slot = &mut self.0[row];
        let earlier = |f: &Failure| match f.rule {
            Broken::Contract(other) => rule < other,
            Broken::Configured(_) => false,
        };
        if slot.as_ref().is_none_or(earlier) {
            *slot = Some(Failure {
                rule: Broken::Contract(rule),
                column,
                reason: reason(),
            });
        }
    }

    /// Records that `row`, which passed the contract's rules so far, breaks the
    /// configured rule at `index` (configured rules run after the contract's value
    /// rules and before its key rules).
    pub fn record_configured(&mut self, row: usize, index: usize) {
        let slot = &mut self.0[row];
        if slot.is_none() {
            *slot = Some(Failure {
                rule: Broken::Configured(index),
                column: None,
                reason: String::new(),
            });
        }
    }

    /// Whether `row` breaks no rule so far.
    pub fn passes(&self, row: usize) -> bool {
        self.0[row].is_none()
    }

    /// The failure of `row`, if any.
    pub fn get(&self, row: usize) -> Option<&Failure> {
        self.0[row].as_ref()
    }
}

/// Types the text of contract column `column` into its Arrow type, recording the
/// failures of the column's own rules (required, type, bound, code, IBAN) and
/// counting the values cleaned on the way (trimmed, blank or null token read as no
/// value, case normalised).
pub fn type_column(
    column: &'static Column,
    text: Option<&ArrayRef>,
    rows: usize,
    format: &ValueFormat,
    failures: &mut Failures,
    cleaning: &mut Cleaning,
) -> ArrayRef {
    let text: Option<&StringArray> = text.and_then(|t| t.as_string_opt::<i32>());
    let mut value = |row: usize| {
        let given = text.filter(|t| t.is_valid(row)).map(|t| t.value(row))?;
        let v = given.trim();
        if v.len() != given.len() {
            cleaning.record(
                column.name,
                if v.is_empty() {
                    Action::BlankToNull
                } else {
                    Action::Trim
                },
            );
        }
        if format.null_values.iter().any(|token| token == v) {
            cleaning.record(column.name, Action::NullToken);
            return None;
        }
        Some(v).filter(|v| !v.is_empty())
    };
    let name = Some(column.name);
    let mut typed = Typed::new(column.ty, rows);
    let mut normalised = 0;
    for row in 0..rows {
        let Some(v) = value(row) else {
            if column.required {
                failures.record(row, RuleId::MissingRequired, name, || {
                    format!("{} is required but empty", column.name)
                });
            }
            typed.append_null();
            continue;
        };
        match typed.append(column, v, format) {
            Ok(changed) => normalised += usize::from(changed),
            Err((rule, reason)) => {
                typed.append_null();
                failures.record(row, rule, name, || reason);
            }
        }
    }
    (0..normalised).for_each(|_| cleaning.record(column.name, Action::NormaliseCase));
    typed.finish()
}

/// A builder for one column's Arrow type.
enum Typed {
    Text(StringBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Decimal(Decimal128Builder, i8),
    Int(Int32Builder),
    Bool(BooleanBuilder),
}

type ValueError = (RuleId, String);

impl Typed {
    fn new(ty: ColumnType, rows: usize) -> Typed {
        match ty {
            ColumnType::Text | ColumnType::Code(_) | ColumnType::Country | ColumnType::Currency => {
                Typed::Text(StringBuilder::with_capacity(rows, rows * 8))
            }
            ColumnType::Date => Typed::Date(Date32Builder::with_capacity(rows)),
            ColumnType::Timestamp => {
                Typed::Timestamp(TimestampMicrosecondBuilder::with_capacity(rows))
            }
            ColumnType::Decimal { scale } => {
                Typed::Decimal(Decimal128Builder::with_capacity(rows), scale)
            }
            ColumnType::Int => Typed::Int(Int32Builder::with_capacity(rows)),
            ColumnType::Bool => Typed::Bool(BooleanBuilder::with_capacity(rows)),
        }
    }

    fn append_null(&mut self) {
        match self {
            Typed::Text(b) => b.append_null(),
            Typed::Date(b) => b.append_null(),
            Typed::Timestamp(b) => b.append_null(),
            Typed::Decimal(b, _) => b.append_null(),
            Typed::Int(b) => b.append_null(),
            Typed::Bool(b) => b.append_null(),
        }
    }

    /// Parses and checks `v`, appending it; on a broken rule nothing is appended.
    /// True when the stored text differs from `v` (a code in another case).
    fn append(
        &mut self,
        column: &Column,
        v: &str,
        format: &ValueFormat,
    ) -> Result<bool, ValueError> {
        let unparseable =
            |reason: String| (RuleId::Unparseable, format!("{}: {reason}", column.name));
        match self {
            Typed::Text(b) => {
                let stored = check_text(column, v)?;
                b.append_value(stored);
                return Ok(stored != v);
            }
            Typed::Date(b) => {
                let date = parse::date(v, &format.date_formats).map_err(unparseable)?;
                b.append_value(parse::date32(date));
            }
            Typed::Timestamp(b) => {
                b.append_value(parse::timestamp(v, &format.timestamp_formats).map_err(unparseable)?)
            }
            Typed::Decimal(b, scale) => {
                let value = parse::decimal(v, *scale, format.decimal_comma).map_err(unparseable)?;
                check_bound(column, value, || v.to_owned())?;
                b.append_value(value);
            }
            Typed::Int(b) => {
                let value = parse::int(v).map_err(unparseable)?;
                check_bound(column, i128::from(value), || v.to_owned())?;
                b.append_value(value);
            }
            Typed::Bool(b) => b.append_value(parse::boolean(v).map_err(unparseable)?),
        }
        Ok(false)
    }

    fn finish(self) -> ArrayRef {
        match self {
            Typed::Text(mut b) => Arc::new(b.finish()),
            Typed::Date(mut b) => Arc::new(b.finish()),
            Typed::Timestamp(mut b) => Arc::new(b.finish().with_timezone(UTC)),
            Typed::Decimal(mut b, scale) => {
                let array = b.finish();
                // 18 digits and a scale of at most 18 always make a valid decimal type.
                Arc::new(
                    array
                        .clone()
                        .with_precision_and_scale(18, scale)
                        .unwrap_or(array),
                )
            }
            Typed::Int(mut b) => Arc::new(b.finish()),
            Typed::Bool(mut b) => Arc::new(b.finish()),
        }
    }
}

/// Normalises a text, code or ISO value and checks it; returns the stored form.
fn check_text<'a>(column: &Column, v: &'a str) -> Result<&'a str, ValueError> {
    let unknown = |what: &str| {
        (
            RuleId::UnknownCode,
            format!("{} '{v}' is not {what}", column.name),
        )
    };
    // Codes are matched in any case and stored as the list writes them, without
    // allocating for each value.
    let stored = match column.ty {
        ColumnType::Code(list) => list
            .iter()
            .find(|code| code.eq_ignore_ascii_case(v))
            .copied()
            .ok_or_else(|| unknown(&format!("one of {}", list.join(", "))))?,
        ColumnType::Country => {
            codes::country(v).ok_or_else(|| unknown("an ISO 3166-1 alpha-2 country"))?
        }
        ColumnType::Currency => {
            codes::currency(v).ok_or_else(|| unknown("an ISO 4217 currency"))?
        }
        _ => v,
    };
    match column.check {
        Some(Check::FourDigits) if !(v.len() == 4 && v.bytes().all(|b| b.is_ascii_digit())) => {
            Err(unknown("a 4-digit code"))
        }
        // The value is personal data: the reason does not quote it.
        Some(Check::Iban) if !iban::is_valid(v) => Err((
            RuleId::InvalidIban,
            format!("{} fails the ISO 13616 checksum", column.name),
        )),
        _ => Ok(stored),
    }
}

fn check_bound(
    column: &Column,
    value: i128,
    text: impl FnOnce() -> String,
) -> Result<(), ValueError> {
    let scale = match column.ty {
        ColumnType::Decimal { scale } => scale,
        _ => 0,
    };
    let (ok, rule) = match column.check {
        Some(Check::Positive) => (value > 0, "greater than 0".to_owned()),
        Some(Check::NonNegative) => (value >= 0, "0 or more".to_owned()),
        Some(Check::Range { min, max }) => {
            let unit = 10_i128.pow(scale.max(0) as u32);
            (
                value >= i128::from(min) * unit && value <= i128::from(max) * unit,
                format!("between {min} and {max}"),
            )
        }
        _ => (true, String::new()),
    };
    if ok {
        Ok(())
    } else {
        Err((
            RuleId::OutOfRange,
            format!("{} is {} but must be {rule}", column.name, text()),
        ))
    }
}

/// Records the rules that span columns: at least one of `one_of`, and date order.
/// `text` and `typed` hold the entity's contract columns, in contract order, before
/// and after typing.
pub fn check_rows(
    spec: &EntitySpec,
    text: &[Option<ArrayRef>],
    typed: &[ArrayRef],
    failures: &mut Failures,
) {
    let index = |name: &str| spec.columns.iter().position(|c| c.name == name);
    let column = |name: &str| index(name).map(|i| &typed[i]);
    let rows = typed.first().map_or(0, |a| a.len());
    if !spec.one_of.is_empty() {
        let given: Vec<&StringArray> = spec
            .one_of
            .iter()
            .filter_map(|n| text[index(n)?].as_ref()?.as_string_opt::<i32>())
            .collect();
        let present = |a: &&StringArray, row| a.is_valid(row) && !a.value(row).trim().is_empty();
        for row in 0..rows {
            if !given.iter().any(|a| present(a, row)) {
                failures.record(row, RuleId::MissingRequired, None, || {
                    format!("at least one of {} is required", spec.one_of.join(", "))
                });
            }
        }
    }
    for order in spec.date_order {
        let (Some(earlier), Some(later)) = (column(order.earlier), column(order.later)) else {
            continue;
        };
        let (Some(earlier), Some(later)) = (
            earlier.as_primitive_opt::<arrow::datatypes::Date32Type>(),
            later.as_primitive_opt::<arrow::datatypes::Date32Type>(),
        ) else {
            continue;
        };
        for row in 0..rows {
            if earlier.is_null(row) || later.is_null(row) {
                continue;
            }
            let (a, b) = (earlier.value(row), later.value(row));
            if b < a || (order.strict && b == a) {
                let word = if order.strict { "after" } else { "on or after" };
                failures.record(row, RuleId::DateOrder, Some(order.later), || {
                    format!("{} must be {word} {}", order.later, order.earlier)
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::Entity;

    fn text(values: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(values.to_vec()))
    }

    fn run(entity: Entity, column: &str, values: &[Option<&str>]) -> (ArrayRef, Failures) {
        let spec = entity.spec();
        let column = spec.column(column).expect("contract column");
        let mut failures = Failures::new(values.len());
        let array = type_column(
            column,
            Some(&text(values)),
            values.len(),
            &ValueFormat::default(),
            &mut failures,
            &mut Cleaning::default(),
        );
        (array, failures)
    }

    fn rules(failures: &Failures, rows: usize) -> Vec<Option<RuleId>> {
        (0..rows)
            .map(|r| failures.get(r).and_then(Failure::contract_rule))
            .collect()
    }

    #[test]
    fn amount_rules_in_order() {
        let values = [
            Some("10.50"),
            Some(""),
            Some("abc"),
            Some("0.00"),
            Some(" 3 "),
            None,
        ];
        let (array, failures) = run(Entity::Transactions, "amount", &values);
        use RuleId::*;
        assert_eq!(
            rules(&failures, 6),
            [
                None,
                Some(MissingRequired),
                Some(Unparseable),
                Some(OutOfRange),
                None,
                Some(MissingRequired)
            ]
        );
        let decimals = array.as_primitive::<arrow::datatypes::Decimal128Type>();
        assert_eq!((decimals.value(0), decimals.value(4)), (1050, 300));
    }

    #[test]
    fn codes_are_normalised_and_checked() {
        let (array, failures) = run(
            Entity::Transactions,
            "channel",
            &[Some("ATM"), Some("teleport")],
        );
        assert_eq!(array.as_string::<i32>().value(0), "atm");
        assert_eq!(rules(&failures, 2), [None, Some(RuleId::UnknownCode)]);
        let (array, failures) = run(
            Entity::Transactions,
            "currency",
            &[Some("eur"), Some("XXY")],
        );
        assert_eq!(array.as_string::<i32>().value(0), "EUR");
        assert_eq!(rules(&failures, 2), [None, Some(RuleId::UnknownCode)]);
        let (_, failures) = run(
            Entity::Transactions,
            "mcc",
            &[Some("5411"), Some("12A"), None],
        );
        assert_eq!(rules(&failures, 3), [None, Some(RuleId::UnknownCode), None]);
    }

    #[test]
    fn iban_reason_does_not_quote_the_value() {
        let (_, failures) = run(Entity::Accounts, "iban", &[Some("DE89370400440532013001")]);
        let failure = failures.get(0).expect("invalid iban");
        assert_eq!(failure.contract_rule(), Some(RuleId::InvalidIban));
        assert!(!failure.reason.contains("DE89"));
    }

    #[test]
    fn earlier_rule_wins_whatever_the_column_order() {
        let mut failures = Failures::new(1);
        failures.record(0, RuleId::UnknownCode, Some("channel"), || "late".into());
        failures.record(0, RuleId::MissingRequired, Some("booked_at"), || {
            "early".into()
        });
        failures.record(0, RuleId::Unparseable, Some("amount"), || "ignored".into());
        assert_eq!(
            failures.get(0).and_then(Failure::contract_rule),
            Some(RuleId::MissingRequired)
        );
    }

    #[test]
    fn satisfaction_needs_csat_or_nps_and_ranges() {
        let spec = Entity::Satisfaction.spec();
        let (csat, mut failures) = run(Entity::Satisfaction, "csat", &[Some("5"), None, Some("7")]);
        let nps_column = spec.column("nps").expect("nps");
        let nps = type_column(
            nps_column,
            Some(&text(&[None, None, None])),
            3,
            &ValueFormat::default(),
            &mut failures,
            &mut Cleaning::default(),
        );
        let mut typed: Vec<ArrayRef> = spec
            .columns
            .iter()
            .map(|_| arrow::array::new_null_array(&arrow::datatypes::DataType::Utf8, 3))
            .collect();
        typed[5] = csat;
        typed[6] = nps;
        let mut given = vec![None; spec.columns.len()];
        given[5] = Some(text(&[Some("5"), None, Some("7")]));
        check_rows(spec, &given, &typed, &mut failures);
        assert_eq!(
            rules(&failures, 3),
            [
                None,
                Some(RuleId::MissingRequired),
                Some(RuleId::OutOfRange)
            ]
        );
    }

    #[test]
    fn maturity_must_come_after_start() {
        let spec = Entity::Loans.spec();
        let mut failures = Failures::new(2);
        let mut typed: Vec<ArrayRef> = spec
            .columns
            .iter()
            .map(|_| arrow::array::new_null_array(&arrow::datatypes::DataType::Utf8, 2))
            .collect();
        let format = ValueFormat::default();
        let start = spec.column("start_date").expect("start");
        let maturity = spec.column("maturity_date").expect("maturity");
        typed[8] = type_column(
            start,
            Some(&text(&[Some("2024-01-01"), Some("2024-01-01")])),
            2,
            &format,
            &mut failures,
            &mut Cleaning::default(),
        );
        typed[9] = type_column(
            maturity,
            Some(&text(&[Some("2025-01-01"), Some("2024-01-01")])),
            2,
            &format,
            &mut failures,
            &mut Cleaning::default(),
        );
        check_rows(spec, &vec![None; spec.columns.len()], &typed, &mut failures);
        assert_eq!(rules(&failures, 2), [None, Some(RuleId::DateOrder)]);
    }
}
