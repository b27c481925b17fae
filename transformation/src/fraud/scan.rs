//! The fraud rules as one streaming pass over the transactions in account and time
//! order (`account_id, booked_at, transaction_id`, sorted by DataFusion, which spills
//! when memory is short).
//!
//! Each rule needs only what happened before on the same account (or within a day or
//! a short window of it), so the pass keeps a little state per account and resets it
//! when the account changes: linear time, memory bounded by one account's window. The
//! candidates it emits (a few per thousand transactions) are then scored and joined
//! to the dimensions in SQL.

use std::collections::VecDeque;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Decimal128Array, RecordBatch, StringArray, StringBuilder,
    StringViewArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{
    DataType, Decimal128Type, Field, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType,
};
use arrow::error::ArrowError;

use super::FraudRules;
use crate::error::Result;

const DAY_MICROS: i64 = 86_400_000_000;
const HOUR_MICROS: i64 = 3_600_000_000;

/// The columns the pass reads, in this order.
pub const INPUT_COLUMNS: [&str; 7] = [
    "transaction_id",
    "account_id",
    "booked_at",
    "direction",
    "channel",
    "country",
    "amount_eur",
];

/// The schema of the candidates: the transaction's columns the alerts need and the
/// rule that fired.
pub fn candidates_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("transaction_id", DataType::Utf8, false),
        Field::new("account_id", DataType::Utf8, false),
        Field::new(
            "booked_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("channel", DataType::Utf8, false),
        Field::new("amount_eur", DataType::Decimal128(18, 2), true),
        Field::new("rule_id", DataType::Utf8, false),
    ]))
}

/// One transaction, as far as the rules are concerned, borrowed from its batch.
#[derive(Debug, Clone, Copy)]
struct Tx<'a> {
    id: &'a str,
    at: i64,
    debit: bool,
    channel: &'a str,
    country: &'a str,
    /// Cents of EUR; `None` without a rate.
    cents: Option<i128>,
}

impl Tx<'_> {
    fn eur(&self) -> Option<f64> {
        self.cents.map(|c| c as f64 / 100.0)
    }

    /// What a candidate needs, owned: for transactions kept past their batch.
    fn hold(&self) -> Held {
        Held {
            id: self.id.to_owned(),
            at: self.at,
            channel: self.channel.to_owned(),
            cents: self.cents,
        }
    }
}

/// A transaction kept until its window or day shows whether it is a candidate.
#[derive(Debug, Clone)]
struct Held {
    id: String,
    at: i64,
    channel: String,
    cents: Option<i128>,
}

/// What the pass remembers of the current account.
#[derive(Debug, Default)]
struct Account {
    id: String,
    first_at: i64,
    previous_at: Option<i64>,
    /// Debits so far, with or without an EUR amount.
    debits: u64,
    /// Debits with an EUR amount, and their sum: the mean the amounts compare to.
    priced_debits: u64,
    debit_sum: f64,
    /// Each country seen, with its first time.
    countries: Vec<(String, i64)>,
    /// Recent transactions on the velocity channel, and whether each was emitted.
    window: VecDeque<(Held, bool)>,
    /// The current UTC day, and its structuring and night-ATM candidates.
    day: i64,
    cash: Vec<Held>,
    night: Vec<Held>,
}

/// The pass: feed it sorted batches, then take the candidates.
pub struct Detector {
    rules: FraudRules,
    account: Option<Account>,
    out: Candidates,
}

#[derive(Debug, Default)]
struct Candidates {
    ids: StringBuilder,
    accounts: StringBuilder,
    at: Vec<i64>,
    channels: StringBuilder,
    cents: Vec<Option<i128>>,
    rules: StringBuilder,
}

/// A candidate's own columns: transaction id, booking time, channel, EUR cents.
type Candidate<'a> = (&'a str, i64, &'a str, Option<i128>);

impl Candidates {
    fn push(&mut self, account: &str, (id, at, channel, cents): Candidate<'_>, rule: &str) {
        self.ids.append_value(id);
        self.accounts.append_value(account);
        self.at.push(at);
        self.channels.append_value(channel);
        self.cents.push(cents);
        self.rules.append_value(rule);
    }
}

impl Tx<'_> {
    fn candidate(&self) -> Candidate<'_> {
        (self.id, self.at, self.channel, self.cents)
    }
}

impl Held {
    fn candidate(&self) -> Candidate<'_> {
        (&self.id, self.at, &self.channel, self.cents)
    }
}

/// A text column read in place, in either of the layouts DataFusion hands back.
enum Text<'a> {
    Utf8(&'a StringArray),
    View(&'a StringViewArray),
}

impl<'a> Text<'a> {
    fn of(batch: &'a RecordBatch, index: usize) -> Result<Text<'a>> {
        let column = batch.column(index);
        if let Some(array) = column.as_string_opt::<i32>() {
            Ok(Text::Utf8(array))
        } else if let Some(array) = column.as_string_view_opt() {
            Ok(Text::View(array))
        } else {
            Err(ArrowError::InvalidArgumentError(format!(
                "fraud scan: column {} is {}, not text",
                INPUT_COLUMNS[index],
                column.data_type()
            ))
            .into())
        }
    }

    fn value(&self, row: usize) -> &'a str {
        match self {
            Text::Utf8(array) => array.value(row),
            Text::View(array) => array.value(row),
        }
    }

    fn is_null(&self, row: usize) -> bool {
        match self {
            Text::Utf8(array) => array.is_null(row),
            Text::View(array) => array.is_null(row),
        }
    }
}

impl Detector {
    /// A pass for `rules` (codes compare lower-case, as the processed layer has them).
    pub fn new(rules: &FraudRules) -> Detector {
        let mut rules = rules.clone();
        rules.velocity.channel = rules.velocity.channel.to_lowercase();
        rules.new_country.channel = rules.new_country.channel.to_lowercase();
        for channel in &mut rules.structuring.channels {
            *channel = channel.to_lowercase();
        }
        Detector {
            rules,
            account: None,
            out: Candidates::default(),
        }
    }

    /// Feeds a batch of [`INPUT_COLUMNS`]; batches must arrive in account and time order.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<()> {
        let (ids, accounts, directions, channels, countries) = (
            Text::of(batch, 0)?,
            Text::of(batch, 1)?,
            Text::of(batch, 3)?,
            Text::of(batch, 4)?,
            Text::of(batch, 5)?,
        );
        let at = batch
            .column(2)
            .as_primitive_opt::<TimestampMicrosecondType>()
            .ok_or_else(|| {
                ArrowError::InvalidArgumentError(
                    "fraud scan: booked_at is not a µs timestamp".into(),
                )
            })?;
        let amounts = batch.column(6).as_primitive_opt::<Decimal128Type>();
        for row in 0..batch.num_rows() {
            if accounts.is_null(row) || at.is_null(row) {
                continue;
            }
            let tx = Tx {
                id: ids.value(row),
                at: at.value(row),
                debit: directions.value(row) == "debit",
                channel: channels.value(row),
                country: countries.value(row),
                cents: amounts.filter(|a| a.is_valid(row)).map(|a| a.value(row)),
            };
            self.transaction(accounts.value(row), tx);
        }
        Ok(())
    }

    /// Ends the pass: the candidates as one batch of [`candidates_schema`].
    pub fn finish(mut self) -> Result<RecordBatch> {
        if let Some(account) = self.account.take() {
            self.close_day(&account);
        }
        let out = &mut self.out;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(out.ids.finish()),
            Arc::new(out.accounts.finish()),
            Arc::new(
                TimestampMicrosecondArray::from(std::mem::take(&mut out.at)).with_timezone("UTC"),
            ),
            Arc::new(out.channels.finish()),
            Arc::new(
                Decimal128Array::from(std::mem::take(&mut out.cents))
                    .with_precision_and_scale(18, 2)?,
            ),
            Arc::new(out.rules.finish()),
        ];
        Ok(RecordBatch::try_new(candidates_schema(), columns)?)
    }

    fn transaction(&mut self, account_id: &str, tx: Tx<'_>) {
        let mut account = match self.account.take() {
            Some(account) if account.id == account_id => account,
            previous => {
                if let Some(previous) = previous {
                    self.close_day(&previous);
                }
                Account {
                    id: account_id.to_owned(),
                    first_at: tx.at,
                    day: tx.at.div_euclid(DAY_MICROS),
                    ..Account::default()
                }
            }
        };
        let day = tx.at.div_euclid(DAY_MICROS);
        if day != account.day {
            self.close_day(&account);
            account.cash.clear();
            account.night.clear();
            account.day = day;
        }
        self.history_rules(&mut account, &tx);
        self.velocity(&mut account, &tx);
        self.day_rules(&mut account, &tx);
        if tx.debit {
            account.debits += 1;
            if let Some(eur) = tx.eur() {
                account.priced_debits += 1;
                account.debit_sum += eur;
            }
        }
        account.previous_at = Some(tx.at);
        self.account = Some(account);
    }

    /// `large_amount`, `dormant_reactivation`, `new_country`: against what came before.
    fn history_rules(&mut self, account: &mut Account, tx: &Tx<'_>) {
        let rules = &self.rules;
        let mean =
            (account.priced_debits > 0).then(|| account.debit_sum / account.priced_debits as f64);
        let above = |factor: f64| match (tx.eur(), mean) {
            (Some(eur), Some(mean)) => eur >= factor * mean,
            _ => false,
        };
        let r = &rules.large_amount;
        if r.enabled
            && tx.debit
            && account.debits >= u64::from(r.min_prior_debits)
            && above(r.min_factor)
        {
            self.out.push(&account.id, tx.candidate(), "large_amount");
        }
        let r = &rules.dormant_reactivation;
        if r.enabled
            && tx.debit
            && account.debits > 0
            && account
                .previous_at
                .is_some_and(|previous| tx.at - previous >= i64::from(r.min_gap_days) * DAY_MICROS)
            && above(r.min_factor)
        {
            self.out
                .push(&account.id, tx.candidate(), "dormant_reactivation");
        }
        let first_here = match account.countries.iter().find(|(c, _)| c == tx.country) {
            Some((_, first)) => *first == tx.at,
            None => {
                account.countries.push((tx.country.to_owned(), tx.at));
                true
            }
        };
        let r = &rules.new_country;
        if r.enabled
            && first_here
            && tx.channel == r.channel
            && tx.at - account.first_at >= i64::from(r.min_history_days) * DAY_MICROS
        {
            self.out.push(&account.id, tx.candidate(), "new_country");
        }
    }

    /// `velocity`: every transaction of a window of `window_seconds` holding at least
    /// `min_count` on the channel.
    fn velocity(&mut self, account: &mut Account, tx: &Tx<'_>) {
        let r = &self.rules.velocity;
        if !r.enabled || tx.channel != r.channel {
            return;
        }
        let window = i64::from(r.window_seconds) * 1_000_000;
        while account
            .window
            .front()
            .is_some_and(|(old, _)| old.at < tx.at - window)
        {
            account.window.pop_front();
        }
        account.window.push_back((tx.hold(), false));
        if account.window.len() >= r.min_count as usize {
            for (old, emitted) in account.window.iter_mut().filter(|(_, e)| !*e) {
                *emitted = true;
                self.out.push(&account.id, old.candidate(), "velocity");
            }
        }
    }

    /// Collects the day's `structuring` and `night_atm` candidates.
    fn day_rules(&mut self, account: &mut Account, tx: &Tx<'_>) {
        let rules = &self.rules;
        let r = &rules.structuring;
        if r.enabled
            && !tx.debit
            && r.channels.iter().any(|c| c == tx.channel)
            && tx
                .eur()
                .is_some_and(|eur| eur >= r.lower_bound_eur && eur < r.threshold_eur)
        {
            account.cash.push(tx.hold());
        }
        let r = &rules.night_atm;
        let hour = tx.at.rem_euclid(DAY_MICROS) / HOUR_MICROS;
        if r.enabled
            && tx.debit
            && tx.channel == "atm"
            && hour >= i64::from(r.from_hour_utc)
            && hour < i64::from(r.to_hour_utc)
        {
            account.night.push(tx.hold());
        }
    }

    /// Emits the day's groups that reach their rule's count.
    fn close_day(&mut self, account: &Account) {
        let rules = &self.rules;
        for (group, min, rule) in [
            (&account.cash, rules.structuring.min_count, "structuring"),
            (&account.night, rules.night_atm.min_count, "night_atm"),
        ] {
            if !group.is_empty() && group.len() >= min as usize {
                for tx in group {
                    self.out.push(&account.id, tx.candidate(), rule);
                }
            }
        }
    }
}
