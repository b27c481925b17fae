//! Transactions, made day by day and written as they are made. Each day every live account
//! draws its ordinary activity (a Poisson count), its income, card repayment or contract
//! debit when due, a keep-alive payment after 40 quiet days, and the fraud pattern planted on
//! it if any; the day's rows are sorted by booking time, numbered and written. Only a small
//! state per account (balance, debit history, countries used) stays in memory.
//!
//! Amounts are drawn in EUR and converted with the day's rate, so every debit of an ordinary
//! account stays between 0.4 and 2.5 times its typical amount in EUR: the fraud thresholds
//! in `fraud_params.json` then only fire on planted patterns.

use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDateTime, NaiveTime, TimeDelta};
use contract::Entity;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::GenerateError;
use super::bank::{Bank, Mix, WEEKEND_FACTOR};
use super::calendar::{DAY_SECS, WINDOW_DAYS, Window, plus_days};
use super::catalog::{
    CARD_TEXTS, COUNTRIES, CREDITORS, Ccy, DIRECT_DEBIT_TEXTS, DOMESTIC_MERCHANTS, Merchant,
    SALARY_TEXTS, TRANSFER_IN_TEXTS, TRANSFER_OUT_TEXTS, TRAVEL_MERCHANTS,
};
use super::context::Ctx;
use super::fields::FieldBuf;
use super::fraud::{self, FraudPlan, FraudRule, Stage};
use super::fx::FxTable;
use super::parties::{account_id, code};
use super::random::{Stream, pick, poisson, spread, weighted};
use super::writer::{CsvSink, EntityWriter, RowSink, Written, header};

/// Most data rows in one transactions file.
pub(crate) const MAX_ROWS_PER_FILE: u64 = 2_000_000;
/// Quiet days after which an ordinary account makes a small payment (well under the 60 days
/// of the dormant-reactivation rule).
pub(crate) const KEEPALIVE_DAYS: u32 = 40;
/// Largest cash deposit of ordinary data, in EUR (structuring starts at 9 000).
pub(crate) const CASH_CREDIT_MAX_EUR: f64 = 5_000.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Credit,
    Debit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Channel {
    Branch,
    Atm,
    Card,
    Online,
    Mobile,
    Transfer,
    DirectDebit,
}

impl Channel {
    fn code(self) -> &'static str {
        match self {
            Self::Branch => "branch",
            Self::Atm => "atm",
            Self::Card => "card",
            Self::Online => "online",
            Self::Mobile => "mobile",
            Self::Transfer => "transfer",
            Self::DirectDebit => "direct_debit",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TxStatus {
    Booked,
    Pending,
    Reversed,
}

impl TxStatus {
    fn code(self) -> &'static str {
        match self {
            Self::Booked => "booked",
            Self::Pending => "pending",
            Self::Reversed => "reversed",
        }
    }
}

/// One transaction before it gets its id.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TxRow {
    /// Booking time, in seconds since the window's first midnight.
    secs: u32,
    account: u32,
    seq: u32,
    /// Amount in EUR, for the account's debit history.
    eur: f64,
    /// Amount in `currency`, in cents.
    amount: i64,
    /// Signed change of the balance, in the account's currency cents.
    delta: i64,
    balance: Option<i64>,
    counterparty: Option<u32>,
    merchant: Option<&'static str>,
    mcc: Option<&'static str>,
    value_lag: u8,
    direction: Direction,
    currency: Ccy,
    channel: Channel,
    country: u8,
    status: TxStatus,
    description: &'static str,
    upper: bool,
    fraud: Option<FraudRule>,
}

impl TxRow {
    fn is_cash_credit(&self) -> bool {
        self.direction == Direction::Credit
            && matches!(self.channel, Channel::Atm | Channel::Branch)
    }
}

/// What a generator decides about a transaction; [`Engine::push`] derives the rest.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowSpec {
    account: usize,
    day: u32,
    secs_of_day: u32,
    channel: Channel,
    direction: Direction,
    eur: f64,
    country: u8,
    merchant: Option<&'static str>,
    mcc: Option<&'static str>,
    counterparty: Option<u32>,
    description: &'static str,
    round_cash: bool,
    fraud: Option<FraudRule>,
}

impl RowSpec {
    pub(crate) fn at(mut self, secs_of_day: u32) -> Self {
        self.secs_of_day = secs_of_day.min(DAY_SECS - 1);
        self
    }

    /// A card payment at `merchant` in country `country`.
    pub(crate) fn card(mut self, merchant: &'static Merchant, country: u8) -> Self {
        self.merchant = Some(merchant.name);
        self.mcc = Some(merchant.mcc);
        self.country = country;
        self
    }

    pub(crate) fn counterparty(mut self, index: u32) -> Self {
        self.counterparty = Some(index);
        self
    }

    pub(crate) fn creditor(mut self, name: &'static str) -> Self {
        self.merchant = Some(name);
        self
    }

    pub(crate) fn text(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }

    /// Cash: the amount is rounded to tens of the currency.
    pub(crate) fn cash(mut self) -> Self {
        self.round_cash = true;
        self
    }

    pub(crate) fn fraud(mut self, rule: FraudRule) -> Self {
        self.fraud = Some(rule);
        self
    }
}

/// What the generator remembers of an account between days.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct State {
    pub balance: i64,
    pub first_day: Option<u32>,
    pub last_day: Option<u32>,
    pub debit_eur: f64,
    pub debits: u32,
    /// Bit `i` set when the account has a transaction in `COUNTRIES[i]`.
    pub countries: u64,
}

impl State {
    pub(crate) fn mean_debit_eur(&self) -> Option<f64> {
        (self.debits > 0).then(|| self.debit_eur / f64::from(self.debits))
    }

    pub(crate) fn used(&self, country: u8) -> bool {
        self.countries & (1 << country) != 0
    }
}

/// Draws the transactions of one account-day at a time.
pub(crate) struct Engine<'a> {
    pub(crate) window: Window,
    pub(crate) bank: &'a Bank,
    fx: &'a FxTable,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) states: Vec<State>,
    pub(crate) plan: FraudPlan,
    rows: Vec<TxRow>,
    seq: u32,
}

impl<'a> Engine<'a> {
    fn new(ctx: &Ctx, bank: &'a Bank, fx: &'a FxTable, plan: FraudPlan) -> Self {
        let states = bank
            .accounts
            .iter()
            .map(|a| State {
                balance: (a.profile.opening_eur * fx.per_eur(a.currency, 0) * 100.0).round() as i64,
                ..State::default()
            })
            .collect();
        Self {
            window: ctx.window,
            bank,
            fx,
            rng: ctx.rng(Stream::Transactions),
            states,
            plan,
            rows: Vec::with_capacity(64),
            seq: 0,
        }
    }

    /// Fills `out` with day `d`'s transactions, sorted by booking time.
    fn run_day(&mut self, d: u32, out: &mut Vec<TxRow>) {
        out.clear();
        let weekend = self.window.is_weekend(i64::from(d));
        for a in 0..self.bank.accounts.len() {
            self.account_day(a, d, weekend);
            out.extend_from_slice(&self.rows);
        }
        out.sort_unstable_by_key(|r| (r.secs, r.account, r.seq));
    }

    fn account_day(&mut self, a: usize, d: u32, weekend: bool) {
        self.rows.clear();
        let profile = self.bank.accounts[a].profile;
        let Some((from, to)) = profile.live else {
            return;
        };
        if d < from || d > to {
            return;
        }
        let stage = self.plan.stage(a, d);
        match stage {
            Stage::Silent => return,
            Stage::Reactivate => {
                self.try_plant(a, d);
                self.settle(a, d);
                return;
            }
            Stage::LastActivity => self.keepalive(a, d),
            Stage::Normal | Stage::Plant => {}
        }
        let factor = if weekend { WEEKEND_FACTOR } else { 1.0 };
        for _ in 0..poisson(&mut self.rng, profile.rate * factor) {
            let spec = self.ordinary(a, d, weekend);
            self.push(spec);
        }
        let quiet = self.states[a]
            .last_day
            .is_some_and(|last| d - last >= KEEPALIVE_DAYS);
        if self.rows.is_empty() && quiet {
            self.keepalive(a, d);
        }
        self.recurring(a, d);
        if stage == Stage::Plant {
            self.try_plant(a, d);
        }
        self.settle(a, d);
    }

    /// A spec with the account's home country, booked at noon.
    pub(crate) fn spec(
        &self,
        a: usize,
        d: u32,
        channel: Channel,
        direction: Direction,
        eur: f64,
    ) -> RowSpec {
        RowSpec {
            account: a,
            day: d,
            secs_of_day: DAY_SECS / 2,
            channel,
            direction,
            eur,
            country: self.bank.accounts[a].profile.home,
            merchant: None,
            mcc: None,
            counterparty: None,
            description: "",
            round_cash: false,
            fraud: None,
        }
    }

    /// A random time between hours `from` and `to` (UTC).
    pub(crate) fn hours(&mut self, from: u32, to: u32) -> u32 {
        self.rng.random_range(from * 3600..to * 3600)
    }

    /// An ordinary debit amount: the account's typical amount times 0.4–2.5.
    pub(crate) fn debit_eur(&mut self, a: usize) -> f64 {
        let typical = self.bank.accounts[a].profile.typical_eur;
        typical
            * spread(
                &mut self.rng,
                0.35,
                fraud::DEBIT_FACTOR_MIN,
                fraud::DEBIT_FACTOR_MAX,
            )
    }

    pub(crate) fn any_counterparty(&mut self) -> u32 {
        self.rng
            .random_range(0..self.bank.counterparties.len().max(1) as u32)
    }

    fn ordinary(&mut self, a: usize, d: u32, weekend: bool) -> RowSpec {
        let table: &[(Channel, u32)] = match self.bank.accounts[a].profile.mix {
            Mix::Current => &[
                (Channel::Card, 45),
                (Channel::Online, 12),
                (Channel::Mobile, 13),
                (Channel::Transfer, 8),
                (Channel::DirectDebit, 10),
                (Channel::Atm, 8),
                (Channel::Branch, 4),
            ],
            Mix::CreditCard => &[(Channel::Card, 1)],
            Mix::Savings => &[
                (Channel::Transfer, 60),
                (Channel::Online, 25),
                (Channel::Mobile, 10),
                (Channel::Branch, 5),
            ],
            Mix::ForeignCurrency => &[
                (Channel::Transfer, 50),
                (Channel::Online, 30),
                (Channel::Card, 20),
            ],
            Mix::Contract => &[(Channel::DirectDebit, 1)],
        };
        match weighted(&mut self.rng, table) {
            Channel::Card => self.card_payment(a, d),
            Channel::Branch if weekend => self.transfer(a, d, Channel::Online),
            channel @ (Channel::Atm | Channel::Branch) => self.cash(a, d, channel),
            channel @ (Channel::Online | Channel::Mobile | Channel::Transfer) => {
                self.transfer(a, d, channel)
            }
            Channel::DirectDebit => self.direct_debit(a, d),
        }
    }

    fn card_payment(&mut self, a: usize, d: u32) -> RowSpec {
        let profile = self.bank.accounts[a].profile;
        let abroad = profile
            .secondary
            .filter(|&c| self.may_use_secondary(a, d, c))
            .filter(|_| self.rng.random_bool(0.25));
        let (country, merchant) = match abroad {
            Some(c) => (c, pick(&mut self.rng, TRAVEL_MERCHANTS)),
            None => (profile.home, pick(&mut self.rng, DOMESTIC_MERCHANTS)),
        };
        let refund = self.rng.random_bool(0.02);
        let secs = if self.rng.random_bool(0.97) {
            self.hours(7, 23)
        } else {
            self.hours(0, 24)
        };
        let direction = if refund {
            Direction::Credit
        } else {
            Direction::Debit
        };
        let eur = self.debit_eur(a);
        let text = *pick(&mut self.rng, CARD_TEXTS);
        self.spec(a, d, Channel::Card, direction, eur)
            .at(secs)
            .card(merchant, country)
            .text(text)
    }

    /// Ordinary card use abroad stays within the account's first weeks of history (or a
    /// country already used), so that `new_country` alerts come from planted rows only.
    fn may_use_secondary(&self, a: usize, d: u32, country: u8) -> bool {
        let state = &self.states[a];
        state.used(country)
            || state
                .first_day
                .is_none_or(|first| d - first <= fraud::NEW_COUNTRY_ORDINARY_DAYS)
    }

    fn cash(&mut self, a: usize, d: u32, channel: Channel) -> RowSpec {
        let deposit_share = if channel == Channel::Atm { 0.1 } else { 0.5 };
        let one_deposit_a_day = !self.rows.iter().any(TxRow::is_cash_credit);
        let deposit = one_deposit_a_day && self.rng.random_bool(deposit_share);
        let secs = if channel == Channel::Atm {
            self.hours(fraud::ORDINARY_ATM_FROM_HOUR, 24)
        } else {
            self.hours(8, 17)
        };
        if deposit {
            let typical = self.bank.accounts[a].profile.typical_eur;
            let eur =
                (typical * 2.0 * spread(&mut self.rng, 0.35, 0.4, 2.5)).min(CASH_CREDIT_MAX_EUR);
            self.spec(a, d, channel, Direction::Credit, eur)
                .at(secs)
                .text("Cash deposit")
        } else {
            let eur = self.debit_eur(a);
            let text = if channel == Channel::Atm {
                "ATM withdrawal"
            } else {
                "Cash withdrawal"
            };
            self.spec(a, d, channel, Direction::Debit, eur)
                .at(secs)
                .cash()
                .text(text)
        }
    }

    fn transfer(&mut self, a: usize, d: u32, channel: Channel) -> RowSpec {
        let incoming = self.rng.random_bool(if channel == Channel::Transfer {
            0.5
        } else {
            0.2
        });
        let secs = if channel == Channel::Transfer {
            self.hours(2, 7)
        } else {
            self.hours(6, 24)
        };
        let counterparty = self.any_counterparty();
        let (direction, eur, text) = if incoming {
            let typical = self.bank.accounts[a].profile.typical_eur;
            let eur = typical * 3.0 * spread(&mut self.rng, 0.35, 0.4, 2.5);
            (
                Direction::Credit,
                eur,
                *pick(&mut self.rng, TRANSFER_IN_TEXTS),
            )
        } else {
            let eur = self.debit_eur(a);
            (
                Direction::Debit,
                eur,
                *pick(&mut self.rng, TRANSFER_OUT_TEXTS),
            )
        };
        self.spec(a, d, channel, direction, eur)
            .at(secs)
            .counterparty(counterparty)
            .text(text)
    }

    fn direct_debit(&mut self, a: usize, d: u32) -> RowSpec {
        let creditor = *pick(&mut self.rng, CREDITORS);
        let eur = self.debit_eur(a);
        let secs = self.hours(2, 7);
        let counterparty = self.any_counterparty();
        let text = *pick(&mut self.rng, DIRECT_DEBIT_TEXTS);
        self.spec(a, d, Channel::DirectDebit, Direction::Debit, eur)
            .at(secs)
            .creditor(creditor)
            .counterparty(counterparty)
            .text(text)
    }

    /// A small card payment at home.
    fn keepalive(&mut self, a: usize, d: u32) {
        let merchant = pick(&mut self.rng, DOMESTIC_MERCHANTS);
        let home = self.bank.accounts[a].profile.home;
        let eur = self.bank.accounts[a].profile.typical_eur * self.rng.random_range(0.5..0.9);
        let secs = self.hours(8, 20);
        let spec = self
            .spec(a, d, Channel::Card, Direction::Debit, eur)
            .at(secs)
            .card(merchant, home)
            .text("Card payment");
        self.push(spec);
    }

    /// Incomes, credit card repayments and contract premiums on their day of the month.
    fn recurring(&mut self, a: usize, d: u32) {
        let account = &self.bank.accounts[a];
        let profile = account.profile;
        let day_of_month = self.window.date(i64::from(d)).day();
        if let Some(income) = profile.income
            && income.day == day_of_month
        {
            let secs = self.hours(3, 7);
            let text = if income.business {
                "Invoice paid"
            } else {
                *pick(&mut self.rng, SALARY_TEXTS)
            };
            let spec = self
                .spec(
                    a,
                    d,
                    Channel::Transfer,
                    Direction::Credit,
                    income.eur(&profile),
                )
                .at(secs)
                .counterparty(income.payer)
                .text(text);
            self.push(spec);
        }
        let balance = self.states[a].balance;
        if profile.mix == Mix::CreditCard && day_of_month == 20 && balance < 0 {
            let rate = self.fx.per_eur(account.currency, i64::from(d));
            let eur = (-balance as f64 / 100.0 / rate).max(10.0);
            let secs = self.hours(3, 7);
            let counterparty = self.any_counterparty();
            let spec = self
                .spec(a, d, Channel::Transfer, Direction::Credit, eur)
                .at(secs)
                .counterparty(counterparty)
                .text("Credit card repayment");
            self.push(spec);
        }
        if profile.mix == Mix::Contract && day_of_month == (a % 28) as u32 + 1 {
            let creditor = *pick(&mut self.rng, CREDITORS);
            let eur = self.debit_eur(a);
            let secs = self.hours(2, 7);
            let counterparty = self.any_counterparty();
            let spec = self
                .spec(a, d, Channel::DirectDebit, Direction::Debit, eur)
                .at(secs)
                .creditor(creditor)
                .counterparty(counterparty)
                .text("SEPA direct debit");
            self.push(spec);
        }
    }

    /// Turns a spec into a row: currency, converted amounts, status, value date.
    pub(crate) fn push(&mut self, spec: RowSpec) {
        let account = &self.bank.accounts[spec.account];
        let currency = if spec.channel == Channel::Card {
            COUNTRIES[spec.country as usize].currency
        } else {
            account.currency
        };
        let day = i64::from(spec.day);
        let rate = self.fx.per_eur(currency, day);
        let mut amount = (spec.eur * rate * 100.0).round() as i64;
        if spec.round_cash {
            amount = ((amount as f64 / 1_000.0).round() as i64).max(1) * 1_000;
        }
        let amount = amount.max(1);
        let eur = amount as f64 / 100.0 / rate;
        let magnitude = (eur * self.fx.per_eur(account.currency, day) * 100.0).round() as i64;
        let delta = match spec.direction {
            Direction::Debit => -magnitude,
            Direction::Credit => magnitude,
        };
        let status = match spec.fraud {
            Some(_) => TxStatus::Booked,
            None => self.draw_status(spec.day),
        };
        let value_lag = match spec.channel {
            Channel::Card => weighted(&mut self.rng, &[(0, 50), (1, 35), (2, 15)]),
            _ => 0,
        };
        let description = if spec.fraud.is_none() && self.rng.random_bool(0.15) {
            ""
        } else {
            spec.description
        };
        self.seq += 1;
        self.rows.push(TxRow {
            secs: spec.day * DAY_SECS + spec.secs_of_day,
            account: spec.account as u32,
            seq: self.seq,
            eur,
            amount,
            delta,
            balance: None,
            counterparty: spec.counterparty,
            merchant: spec.merchant,
            mcc: spec.mcc,
            value_lag,
            direction: spec.direction,
            currency,
            channel: spec.channel,
            country: spec.country,
            status,
            description,
            upper: self.rng.random_bool(0.005),
            fraud: spec.fraud,
        });
    }

    fn draw_status(&mut self, day: u32) -> TxStatus {
        if day + 2 >= WINDOW_DAYS && self.rng.random_bool(0.3) {
            TxStatus::Pending
        } else if self.rng.random_bool(0.01) {
            TxStatus::Reversed
        } else {
            TxStatus::Booked
        }
    }

    /// Orders the account-day's rows and applies them to the account's state: booked rows
    /// move the balance, reversed rows show it unchanged, pending rows have none yet.
    fn settle(&mut self, a: usize, d: u32) {
        self.rows.sort_unstable_by_key(|r| (r.secs, r.seq));
        let state = &mut self.states[a];
        for row in &mut self.rows {
            match row.status {
                TxStatus::Booked => {
                    state.balance += row.delta;
                    row.balance = Some(state.balance);
                }
                TxStatus::Reversed => row.balance = Some(state.balance),
                TxStatus::Pending => row.balance = None,
            }
            if row.direction == Direction::Debit {
                state.debit_eur += row.eur;
                state.debits += 1;
            }
            state.countries |= 1 << row.country;
        }
        if !self.rows.is_empty() {
            state.first_day.get_or_insert(d);
            state.last_day = Some(d);
        }
    }
}

/// A written transaction, for the fraud reports.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TxRef {
    pub id: u64,
    pub booked: NaiveDateTime,
}

/// A transaction of a planted fraud pattern.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Planted {
    pub tx: TxRef,
    pub rule: FraudRule,
}

/// What the other entities need from the transactions.
pub(crate) struct TxOutput {
    pub written: Written,
    pub planted: Vec<Planted>,
    /// Ordinary booked transactions, sampled for false fraud reports.
    pub sampled: Vec<TxRef>,
}

/// The planted rows, and a uniform sample (reservoir) of ordinary booked rows.
struct Truth {
    planted: Vec<Planted>,
    sample: Vec<TxRef>,
    capacity: usize,
    seen: u64,
    rng: ChaCha8Rng,
}

impl Truth {
    fn observe(&mut self, row: &TxRow, id: u64, window: &Window) {
        let booked =
            window.start.and_time(NaiveTime::MIN) + TimeDelta::seconds(i64::from(row.secs));
        let tx = TxRef { id, booked };
        match row.fraud {
            Some(rule) => self.planted.push(Planted { tx, rule }),
            None if row.status == TxStatus::Booked => {
                self.seen += 1;
                if self.sample.len() < self.capacity {
                    self.sample.push(tx);
                } else {
                    let j = self.rng.random_range(0..self.seen);
                    if let Some(slot) = usize::try_from(j).ok().and_then(|j| self.sample.get_mut(j))
                    {
                        *slot = tx;
                    }
                }
            }
            None => {}
        }
    }
}

fn render(row: &TxRow, id: u64, bank: &Bank, window: &Window, f: &mut FieldBuf) {
    let date = window.date(i64::from(row.secs / DAY_SECS));
    f.id("TX", id, 10);
    account_id(f, row.account)
        .timestamp(date, row.secs % DAY_SECS)
        .date(plus_days(date, -i64::from(row.value_lag)))
        .fixed(row.amount, 2)
        .text(match row.direction {
            Direction::Credit => "credit",
            Direction::Debit => "debit",
        })
        .text(row.currency.code());
    code(f, row.channel.code(), row.upper)
        .opt(row.merchant, FieldBuf::text)
        .opt(row.mcc, FieldBuf::text)
        .opt(
            row.counterparty
                .and_then(|i| bank.counterparties.get(i as usize)),
            |f, iban| f.text(iban),
        )
        .text(COUNTRIES[row.country as usize].code)
        .opt(row.balance, |f, b| f.fixed(b, 2))
        .text(row.status.code())
        .text(row.description);
}

/// `transactions.csv`, or `transactions_001.csv`, `_002` … of at most 2 M rows each for
/// large runs. Files switch only between days, so a duplicate stays in its original's file.
struct TxFiles {
    dir: PathBuf,
    split: bool,
    part: u32,
    current: CsvSink,
    earlier_rows: u64,
    finished: Vec<PathBuf>,
}

impl TxFiles {
    fn create(ctx: &Ctx) -> Result<Self, GenerateError> {
        let split = ctx.sizes.transactions as f64 * 1.2 > MAX_ROWS_PER_FILE as f64;
        let dir = ctx.opts.out.clone();
        Ok(Self {
            current: CsvSink::create(Self::file(&dir, split, 1), header(Entity::Transactions))?,
            dir,
            split,
            part: 1,
            earlier_rows: 0,
            finished: Vec::new(),
        })
    }

    fn file(dir: &Path, split: bool, part: u32) -> PathBuf {
        if split {
            dir.join(format!("transactions_{part:03}.csv"))
        } else {
            dir.join("transactions.csv")
        }
    }

    /// Starts the next file when `upcoming` more rows would overflow the current one.
    fn reserve(&mut self, upcoming: u64) -> Result<(), GenerateError> {
        let rows = self.current.rows();
        if self.split && rows > 0 && rows + upcoming > MAX_ROWS_PER_FILE {
            self.part += 1;
            let path = Self::file(&self.dir, true, self.part);
            let next = CsvSink::create(path, header(Entity::Transactions))?;
            let done = std::mem::replace(&mut self.current, next);
            self.earlier_rows += done.rows();
            self.finished.extend(done.finish()?);
        }
        Ok(())
    }
}

impl RowSink for TxFiles {
    fn write_row(&mut self, row: &FieldBuf) -> Result<(), GenerateError> {
        self.current.write_row(row)
    }

    fn write_malformed(&mut self, row: &FieldBuf, extra_field: bool) -> Result<(), GenerateError> {
        self.current.write_malformed(row, extra_field)
    }

    fn rows(&self) -> u64 {
        self.earlier_rows + self.current.rows()
    }

    fn finish(mut self) -> Result<Vec<PathBuf>, GenerateError> {
        self.finished.extend(self.current.finish()?);
        Ok(self.finished)
    }
}

/// Writes the transactions files and returns what the fraud reports and ground truth need.
pub(crate) fn write(ctx: &Ctx, bank: &Bank, fx: &FxTable) -> Result<TxOutput, GenerateError> {
    let plan = FraudPlan::new(ctx, bank);
    let mut engine = Engine::new(ctx, bank, fx, plan);
    let sink = TxFiles::create(ctx)?;
    let mut writer = EntityWriter::new(
        Entity::Transactions,
        sink,
        ctx.planter(Entity::Transactions)?,
    );
    let mut truth = Truth {
        planted: Vec::new(),
        sample: Vec::new(),
        capacity: (ctx.sizes.fraud_instances * 2).max(3),
        seen: 0,
        rng: ctx.rng(Stream::Sample),
    };
    let window = ctx.window;
    let mut day = Vec::new();
    let mut id = 0u64;
    for d in 0..WINDOW_DAYS {
        engine.run_day(d, &mut day);
        let upcoming = day.len() as u64 + writer.max_defects(day.len());
        writer.sink_mut().reserve(upcoming)?;
        writer.write_batch(&day, |row, f| {
            id += 1;
            render(row, id, bank, &window, f);
            truth.observe(row, id, &window);
        })?;
    }
    Ok(TxOutput {
        written: writer.close()?,
        planted: truth.planted,
        sampled: truth.sample,
    })
}
