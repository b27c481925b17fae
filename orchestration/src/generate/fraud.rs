//! Planted fraud patterns: which accounts carry them and when, how their transactions are
//! made, and the ground truth written under `_generator/` (`planted_frauds.csv`,
//! `fraud_params.json`).
//!
//! Each pattern instance is planted on its own active current account (opened before the
//! window, with at least the median activity). A pattern whose precondition does not hold
//! yet on its day (too little history) is retried on the following days; one that never
//! gets planted is simply absent from `planted_frauds.csv`, which lists exactly the
//! transactions written.

use std::path::PathBuf;

use rand::Rng;
use rand::seq::SliceRandom;
use serde::Serialize;

use super::GenerateError;
use super::bank::{AccountStatus, Bank, Mix};
use super::calendar::WINDOW_DAYS;
use super::catalog::{
    CARD_TEXTS, COUNTRIES, Ccy, DOMESTIC_MERCHANTS, ONLINE_MERCHANTS, TRAVEL_MERCHANTS,
};
use super::context::Ctx;
use super::fields::FieldBuf;
use super::random::{Stream, between, pick};
use super::transactions::{
    CASH_CREDIT_MAX_EUR, Channel, Direction, Engine, KEEPALIVE_DAYS, Planted,
};
use super::writer::{CsvSink, RowSink, write_json};

/// Debits of ordinary data are the account's typical amount times a factor in this range.
pub(crate) const DEBIT_FACTOR_MIN: f64 = 0.4;
/// See [`DEBIT_FACTOR_MIN`].
pub(crate) const DEBIT_FACTOR_MAX: f64 = 2.5;

const LARGE_FACTOR: f64 = 10.0;
const LARGE_PLANTED: (f64, f64) = (20.0, 40.0);
const LARGE_MIN_DEBITS: u32 = 5;

const VELOCITY_COUNT: u32 = 10;
const VELOCITY_WINDOW_SECS: u32 = 600;
const VELOCITY_PLANTED: (u32, u32) = (12, 15);
const VELOCITY_MAX_GAP_SECS: u32 = 40;

const STRUCTURING_THRESHOLD_CENTS: i64 = 1_000_000;
const STRUCTURING_FLOOR_CENTS: i64 = 900_000;
const STRUCTURING_COUNT: u32 = 3;
const STRUCTURING_PLANTED: (u32, u32) = (3, 4);

const NEW_COUNTRY_HISTORY_DAYS: u32 = 30;
/// Ordinary card use in a new country happens at most this many days after an account's
/// first transaction.
pub(crate) const NEW_COUNTRY_ORDINARY_DAYS: u32 = NEW_COUNTRY_HISTORY_DAYS - 2;
const NEW_COUNTRY_PLANTED_DAYS: u32 = NEW_COUNTRY_HISTORY_DAYS + 2;

const DORMANT_GAP_DAYS: u32 = 60;
const DORMANT_FACTOR: f64 = 5.0;
const DORMANT_PLANTED: (f64, f64) = (6.0, 8.0);

const NIGHT_FROM_HOUR: u32 = 0;
const NIGHT_TO_HOUR: u32 = 5;
const NIGHT_PLANTED: (u32, u32) = (2, 3);
/// Ordinary ATM use starts at this hour (UTC).
pub(crate) const ORDINARY_ATM_FROM_HOUR: u32 = 6;

/// A fraud rule whose pattern is planted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum FraudRule {
    LargeAmount,
    Velocity,
    Structuring,
    NewCountry,
    DormantReactivation,
    NightAtm,
}

impl FraudRule {
    pub(crate) const ALL: [FraudRule; 6] = [
        Self::LargeAmount,
        Self::Velocity,
        Self::Structuring,
        Self::NewCountry,
        Self::DormantReactivation,
        Self::NightAtm,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::LargeAmount => "large_amount",
            Self::Velocity => "velocity",
            Self::Structuring => "structuring",
            Self::NewCountry => "new_country",
            Self::DormantReactivation => "dormant_reactivation",
            Self::NightAtm => "night_atm",
        }
    }
}

/// One pattern instance on one account.
#[derive(Clone, Copy, Debug)]
struct Plant {
    rule: FraudRule,
    /// First day to try planting (the reactivation day for dormant accounts).
    day: u32,
    /// Dormant accounts: no transaction from `silence.0` until `silence.1`.
    silence: (u32, u32),
    done: bool,
}

/// What an account does on a day because of its planted pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    Normal,
    /// Try to plant the pattern today (after the ordinary rows).
    Plant,
    /// The day before a dormant account falls silent: make sure it has a debit.
    LastActivity,
    /// A dormant account: no transaction at all.
    Silent,
    /// The dormant account's large debit, and nothing else that day.
    Reactivate,
}

/// The accounts carrying a pattern.
pub(crate) struct FraudPlan {
    by_account: Vec<u32>,
    plants: Vec<Plant>,
}

const NO_PLANT: u32 = u32::MAX;

impl FraudPlan {
    pub(crate) fn new(ctx: &Ctx, bank: &Bank) -> Self {
        let mut rng = ctx.rng(Stream::FraudPlan);
        let last = WINDOW_DAYS - 1;
        let mut eligible: Vec<u32> = (0..bank.accounts.len() as u32)
            .filter(|&a| {
                let account = &bank.accounts[a as usize];
                account.profile.mix == Mix::Current
                    && account.status == AccountStatus::Active
                    && account.closed.is_none()
                    && account.profile.live == Some((0, last))
            })
            .collect();
        let mut rates: Vec<f64> = eligible
            .iter()
            .map(|&a| bank.accounts[a as usize].profile.rate)
            .collect();
        rates.sort_by(f64::total_cmp);
        let median = rates.get(rates.len() / 2).copied().unwrap_or(0.0);
        eligible.retain(|&a| bank.accounts[a as usize].profile.rate >= median);
        eligible.shuffle(&mut rng);

        let mut picker = Picker {
            eligible: &eligible,
            taken: vec![false; eligible.len()],
            any: 0,
            eur: 0,
        };
        let mut plan = Self {
            by_account: vec![NO_PLANT; bank.accounts.len()],
            plants: Vec::new(),
        };
        for _ in 0..ctx.sizes.fraud_instances {
            for rule in FraudRule::ALL {
                let account = if rule == FraudRule::Structuring {
                    picker.next_eur(bank)
                } else {
                    picker.next_any()
                };
                if let Some(a) = account {
                    plan.by_account[a as usize] = plan.plants.len() as u32;
                    plan.plants.push(schedule(rule, &mut rng));
                }
            }
        }
        plan
    }

    fn get(&self, a: usize) -> Option<Plant> {
        let i = *self.by_account.get(a)?;
        self.plants.get(i as usize).copied()
    }

    fn finish(&mut self, a: usize) {
        if let Some(&i) = self.by_account.get(a)
            && let Some(plant) = self.plants.get_mut(i as usize)
        {
            plant.done = true;
        }
    }

    /// What account `a` does on day `d`.
    pub(crate) fn stage(&self, a: usize, d: u32) -> Stage {
        let Some(plant) = self.get(a) else {
            return Stage::Normal;
        };
        if plant.rule == FraudRule::DormantReactivation {
            let (silent_from, reactivation) = plant.silence;
            if d + 1 == silent_from {
                Stage::LastActivity
            } else if (silent_from..reactivation).contains(&d) {
                Stage::Silent
            } else if d == reactivation && !plant.done {
                Stage::Reactivate
            } else {
                Stage::Normal
            }
        } else if !plant.done && d >= plant.day {
            Stage::Plant
        } else {
            Stage::Normal
        }
    }
}

/// Hands out shuffled eligible accounts, each once.
struct Picker<'a> {
    eligible: &'a [u32],
    taken: Vec<bool>,
    any: usize,
    eur: usize,
}

impl Picker<'_> {
    fn take(&mut self, from_eur_cursor: bool, accept: impl Fn(u32) -> bool) -> Option<u32> {
        let cursor = if from_eur_cursor {
            &mut self.eur
        } else {
            &mut self.any
        };
        while *cursor < self.eligible.len() {
            let i = *cursor;
            *cursor += 1;
            if !self.taken[i] && accept(self.eligible[i]) {
                self.taken[i] = true;
                return Some(self.eligible[i]);
            }
        }
        None
    }

    fn next_any(&mut self) -> Option<u32> {
        self.take(false, |_| true)
    }

    fn next_eur(&mut self, bank: &Bank) -> Option<u32> {
        self.take(true, |a| bank.accounts[a as usize].currency == Ccy::Eur)
    }
}

/// The day(s) of one pattern instance.
fn schedule(rule: FraudRule, rng: &mut impl Rng) -> Plant {
    let last = WINDOW_DAYS - 2;
    let (day, silence) = match rule {
        FraudRule::LargeAmount => (rng.random_range(55..=last - 3), (0, 0)),
        FraudRule::Velocity => (rng.random_range(20..=last), (0, 0)),
        FraudRule::Structuring => (rng.random_range(10..=last), (0, 0)),
        FraudRule::NewCountry => (rng.random_range(45..=last - 3), (0, 0)),
        FraudRule::NightAtm => (rng.random_range(5..=last), (0, 0)),
        FraudRule::DormantReactivation => {
            let silent_from = rng.random_range(8..=15);
            let reactivation = rng.random_range(silent_from + DORMANT_GAP_DAYS + 2..=last);
            (reactivation, (silent_from, reactivation))
        }
    };
    Plant {
        rule,
        day,
        silence,
        done: false,
    }
}

impl Engine<'_> {
    /// Adds account `a`'s pattern to day `d` when its preconditions hold.
    pub(crate) fn try_plant(&mut self, a: usize, d: u32) {
        let Some(plant) = self.plan.get(a) else {
            return;
        };
        let planted = match plant.rule {
            FraudRule::LargeAmount => self.plant_large_amount(a, d),
            FraudRule::Velocity => self.plant_velocity(a, d),
            FraudRule::Structuring => self.plant_structuring(a, d),
            FraudRule::NewCountry => self.plant_new_country(a, d),
            FraudRule::DormantReactivation => self.plant_dormant(a, d),
            FraudRule::NightAtm => self.plant_night_atm(a, d),
        };
        if planted || plant.rule == FraudRule::DormantReactivation {
            self.plan.finish(a);
        }
    }

    /// One debit of 20–40 times the mean of the account's earlier debits.
    fn plant_large_amount(&mut self, a: usize, d: u32) -> bool {
        let state = self.states[a];
        let Some(mean) = state
            .mean_debit_eur()
            .filter(|_| state.debits >= LARGE_MIN_DEBITS)
        else {
            return false;
        };
        let eur = mean * between(&mut self.rng, LARGE_PLANTED.0, LARGE_PLANTED.1);
        let secs = self.hours(9, 21);
        let spec = if self.rng.random_bool(0.5) {
            let counterparty = self.any_counterparty();
            self.spec(a, d, Channel::Online, Direction::Debit, eur)
                .counterparty(counterparty)
                .text("Urgent transfer")
        } else {
            let home = self.bank.accounts[a].profile.home;
            let merchant = pick(&mut self.rng, DOMESTIC_MERCHANTS);
            self.spec(a, d, Channel::Card, Direction::Debit, eur)
                .card(merchant, home)
                .text("Card payment")
        };
        self.push(spec.at(secs).fraud(FraudRule::LargeAmount));
        true
    }

    /// 12–15 small card payments less than 40 s apart.
    fn plant_velocity(&mut self, a: usize, d: u32) -> bool {
        let home = self.bank.accounts[a].profile.home;
        let count = self
            .rng
            .random_range(VELOCITY_PLANTED.0..=VELOCITY_PLANTED.1);
        let mut secs = self.hours(8, 20);
        for _ in 0..count {
            let merchant = pick(&mut self.rng, ONLINE_MERCHANTS);
            let eur = self.debit_eur(a);
            let spec = self
                .spec(a, d, Channel::Card, Direction::Debit, eur)
                .card(merchant, home)
                .at(secs)
                .text("Card payment")
                .fraud(FraudRule::Velocity);
            self.push(spec);
            secs += self.rng.random_range(10..=VELOCITY_MAX_GAP_SECS);
        }
        true
    }

    /// 3–4 cash deposits of 9 000–9 999.99 EUR in one day (EUR accounts only).
    fn plant_structuring(&mut self, a: usize, d: u32) -> bool {
        if self.bank.accounts[a].currency != Ccy::Eur {
            return false;
        }
        let weekend = self.window.is_weekend(i64::from(d));
        let count = self
            .rng
            .random_range(STRUCTURING_PLANTED.0..=STRUCTURING_PLANTED.1);
        for _ in 0..count {
            let channel = if weekend || self.rng.random_bool(0.5) {
                Channel::Atm
            } else {
                Channel::Branch
            };
            let cents = self
                .rng
                .random_range(STRUCTURING_FLOOR_CENTS..STRUCTURING_THRESHOLD_CENTS);
            let secs = self.hours(9, 17);
            let spec = self
                .spec(a, d, channel, Direction::Credit, cents as f64 / 100.0)
                .at(secs)
                .text("Cash deposit")
                .fraud(FraudRule::Structuring);
            self.push(spec);
        }
        true
    }

    /// A card payment in a country the account never used, after 32+ days of history.
    fn plant_new_country(&mut self, a: usize, d: u32) -> bool {
        let state = self.states[a];
        let profile = self.bank.accounts[a].profile;
        if state
            .first_day
            .is_none_or(|first| d < first + NEW_COUNTRY_PLANTED_DAYS)
        {
            return false;
        }
        let fresh: Vec<u8> = (0..COUNTRIES.len() as u8)
            .filter(|&c| !state.used(c) && c != profile.home && Some(c) != profile.secondary)
            .collect();
        if fresh.is_empty() {
            return false;
        }
        let country = *pick(&mut self.rng, &fresh);
        let merchant = pick(&mut self.rng, TRAVEL_MERCHANTS);
        let eur = self.debit_eur(a);
        let secs = self.hours(9, 22);
        let text = *pick(&mut self.rng, CARD_TEXTS);
        let spec = self
            .spec(a, d, Channel::Card, Direction::Debit, eur)
            .card(merchant, country)
            .at(secs)
            .text(text)
            .fraud(FraudRule::NewCountry);
        self.push(spec);
        true
    }

    /// After 61+ silent days, a debit of 6–8 times the mean earlier debit.
    fn plant_dormant(&mut self, a: usize, d: u32) -> bool {
        let state = self.states[a];
        let (Some(last), Some(mean)) = (state.last_day, state.mean_debit_eur()) else {
            return false;
        };
        if d < last + DORMANT_GAP_DAYS + 1 {
            return false;
        }
        let eur = mean * between(&mut self.rng, DORMANT_PLANTED.0, DORMANT_PLANTED.1);
        let secs = self.hours(10, 20);
        let counterparty = self.any_counterparty();
        let spec = self
            .spec(a, d, Channel::Online, Direction::Debit, eur)
            .counterparty(counterparty)
            .at(secs)
            .text("Transfer")
            .fraud(FraudRule::DormantReactivation);
        self.push(spec);
        true
    }

    /// 2–3 ATM withdrawals between 00:00 and 04:59 UTC.
    fn plant_night_atm(&mut self, a: usize, d: u32) -> bool {
        let count = self.rng.random_range(NIGHT_PLANTED.0..=NIGHT_PLANTED.1);
        for _ in 0..count {
            let eur = self.debit_eur(a);
            let secs = self.hours(NIGHT_FROM_HOUR, NIGHT_TO_HOUR);
            let spec = self
                .spec(a, d, Channel::Atm, Direction::Debit, eur)
                .at(secs)
                .cash()
                .text("ATM withdrawal")
                .fraud(FraudRule::NightAtm);
            self.push(spec);
        }
        true
    }
}

/// `fraud_params.json`: how the patterns were planted, to configure a rule engine.
#[derive(Debug, Serialize)]
struct FraudParams {
    planted_file: &'static str,
    note: &'static str,
    amount_basis: &'static str,
    instances_per_rule: usize,
    large_amount: LargeAmount,
    velocity: Velocity,
    structuring: Structuring,
    new_country: NewCountry,
    dormant_reactivation: Dormant,
    night_atm: NightAtm,
    ordinary_data: OrdinaryData,
}

#[derive(Debug, Serialize)]
struct LargeAmount {
    direction: &'static str,
    min_factor: f64,
    baseline: &'static str,
    min_prior_debits: u32,
    planted_factor: [f64; 2],
}

#[derive(Debug, Serialize)]
struct Velocity {
    min_count: u32,
    window_seconds: u32,
    planted_count: [u32; 2],
    planted_max_gap_seconds: u32,
    channel: &'static str,
}

#[derive(Debug, Serialize)]
struct Structuring {
    threshold_eur: f64,
    lower_bound_eur: f64,
    min_count: u32,
    window: &'static str,
    channels: [&'static str; 2],
    direction: &'static str,
    planted_count: [u32; 2],
}

#[derive(Debug, Serialize)]
struct NewCountry {
    channel: &'static str,
    min_history_days: u32,
    history_start: &'static str,
    planted_after_days: u32,
}

#[derive(Debug, Serialize)]
struct Dormant {
    min_gap_days: u32,
    direction: &'static str,
    min_factor: f64,
    baseline: &'static str,
    planted_gap_days_at_least: u32,
    planted_factor: [f64; 2],
}

#[derive(Debug, Serialize)]
struct NightAtm {
    channel: &'static str,
    direction: &'static str,
    from_hour_utc: u32,
    to_hour_utc: u32,
    min_count: u32,
    planted_count: [u32; 2],
}

#[derive(Debug, Serialize)]
struct OrdinaryData {
    debit_factor_range: [f64; 2],
    atm_from_hour_utc: u32,
    max_cash_deposits_per_account_day: u32,
    max_cash_deposit_eur: f64,
    foreign_card_use_within_days_of_first_transaction: u32,
    keepalive_after_quiet_days: u32,
}

fn params(instances_per_rule: usize) -> FraudParams {
    let mean = "mean amount_eur of the account's earlier debits in the data (any status)";
    FraudParams {
        planted_file: "planted_frauds.csv lists every transaction of every planted pattern \
                       (all 12-15 of a velocity burst, all 3-4 structuring deposits, all night \
                       withdrawals); planted rows are always booked",
        note: "ordinary data is drawn so that these thresholds fire on planted rows only",
        amount_basis: "amount_eur = amount / per_eur of the booking date (EUR: 1)",
        instances_per_rule,
        large_amount: LargeAmount {
            direction: "debit",
            min_factor: LARGE_FACTOR,
            baseline: mean,
            min_prior_debits: LARGE_MIN_DEBITS,
            planted_factor: [LARGE_PLANTED.0, LARGE_PLANTED.1],
        },
        velocity: Velocity {
            min_count: VELOCITY_COUNT,
            window_seconds: VELOCITY_WINDOW_SECS,
            planted_count: [VELOCITY_PLANTED.0, VELOCITY_PLANTED.1],
            planted_max_gap_seconds: VELOCITY_MAX_GAP_SECS,
            channel: "card",
        },
        structuring: Structuring {
            threshold_eur: STRUCTURING_THRESHOLD_CENTS as f64 / 100.0,
            lower_bound_eur: STRUCTURING_FLOOR_CENTS as f64 / 100.0,
            min_count: STRUCTURING_COUNT,
            window: "calendar day (UTC) of booked_at",
            channels: ["branch", "atm"],
            direction: "credit",
            planted_count: [STRUCTURING_PLANTED.0, STRUCTURING_PLANTED.1],
        },
        new_country: NewCountry {
            channel: "card",
            min_history_days: NEW_COUNTRY_HISTORY_DAYS,
            history_start: "the account's first transaction in the data",
            planted_after_days: NEW_COUNTRY_PLANTED_DAYS,
        },
        dormant_reactivation: Dormant {
            min_gap_days: DORMANT_GAP_DAYS,
            direction: "debit",
            min_factor: DORMANT_FACTOR,
            baseline: mean,
            planted_gap_days_at_least: DORMANT_GAP_DAYS + 1,
            planted_factor: [DORMANT_PLANTED.0, DORMANT_PLANTED.1],
        },
        night_atm: NightAtm {
            channel: "atm",
            direction: "debit",
            from_hour_utc: NIGHT_FROM_HOUR,
            to_hour_utc: NIGHT_TO_HOUR,
            min_count: 1,
            planted_count: [NIGHT_PLANTED.0, NIGHT_PLANTED.1],
        },
        ordinary_data: OrdinaryData {
            debit_factor_range: [DEBIT_FACTOR_MIN, DEBIT_FACTOR_MAX],
            atm_from_hour_utc: ORDINARY_ATM_FROM_HOUR,
            max_cash_deposits_per_account_day: 1,
            max_cash_deposit_eur: CASH_CREDIT_MAX_EUR,
            foreign_card_use_within_days_of_first_transaction: NEW_COUNTRY_ORDINARY_DAYS,
            keepalive_after_quiet_days: KEEPALIVE_DAYS,
        },
    }
}

/// The header row of `planted_frauds.csv` (a generator file, not a contract entity).
const PLANTED_HEADER: [&str; 2] = ["transaction_id", "rule"];

/// Writes `_generator/planted_frauds.csv` and `_generator/fraud_params.json`.
pub(crate) fn write_ground_truth(
    ctx: &Ctx,
    planted: &[Planted],
) -> Result<Vec<PathBuf>, GenerateError> {
    let dir = ctx.generator_dir();
    let mut sink = CsvSink::create(dir.join("planted_frauds.csv"), PLANTED_HEADER)?;
    let mut row = FieldBuf::default();
    for p in planted {
        row.clear();
        row.id("TX", p.tx.id, 10).text(p.rule.name());
        sink.write_row(&row)?;
    }
    let mut files = sink.finish()?;
    let params_path = dir.join("fraud_params.json");
    write_json(&params_path, &params(ctx.sizes.fraud_instances))?;
    files.push(params_path);
    Ok(files)
}
