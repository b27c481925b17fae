//! The bank's population, held in memory (a few hundred bytes per account): clients, their
//! accounts, and how each account behaves (activity, typical amount, income, travel).
//! Transactions and payments are drawn from it and written out, never stored.

use std::ops::Range;

use chrono::NaiveDate;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::calendar::{WINDOW_DAYS, Window, minus_months, plus_days, plus_months, ymd_or};
use super::catalog::{
    self, BANK_CODE, COUNTRIES, CZ, Ccy, EMAIL_DOMAINS, FEMALE_NAMES, LAST_NAMES, MALE_NAMES,
    ascii_fold, product,
};
use super::context::Ctx;
use super::iban::{self, IbanFormat};
use super::random::{Stream, between, pick, spread, weighted};

/// Share of the transaction target drawn as ordinary Poisson activity; incomes, card
/// repayments, keep-alive payments and the fraud patterns make up the rest.
const ORDINARY_SHARE: f64 = 0.935;
/// Activity on Saturdays and Sundays relative to weekdays.
pub(crate) const WEEKEND_FACTOR: f64 = 0.6;
/// Cap of an account's ordinary transactions per day (keeps velocity patterns planted-only).
const MAX_DAILY_RATE: f64 = 8.0;

/// A client segment of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    Retail,
    Premium,
    Private,
    Business,
}

impl Segment {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Self::Retail => "retail",
            Self::Premium => "premium",
            Self::Private => "private",
            Self::Business => "business",
        }
    }

    /// The usual size of this segment's payments, in EUR.
    fn typical_eur(self) -> f64 {
        match self {
            Self::Retail => 35.0,
            Self::Premium => 60.0,
            Self::Private => 110.0,
            Self::Business => 220.0,
        }
    }
}

/// An account status of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AccountStatus {
    Active,
    Dormant,
    Closed,
    Frozen,
}

impl AccountStatus {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Dormant => "dormant",
            Self::Closed => "closed",
            Self::Frozen => "frozen",
        }
    }
}

/// How an account is used, which decides its channels and amounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mix {
    /// A client's main current account: cards, transfers, income, cash.
    Current,
    CreditCard,
    Savings,
    /// A second current account in USD, GBP or CHF.
    ForeignCurrency,
    /// Insurance and investment contracts: a monthly direct debit.
    Contract,
}

impl Mix {
    /// Relative activity.
    fn weight(self) -> f64 {
        match self {
            Self::Current => 1.0,
            Self::CreditCard => 0.5,
            Self::Savings => 0.08,
            Self::ForeignCurrency => 0.15,
            Self::Contract => 0.03,
        }
    }
}

/// A client.
#[derive(Debug)]
pub(crate) struct Client {
    pub first: &'static str,
    pub last: &'static str,
    pub birth: NaiveDate,
    pub gender: Option<&'static str>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub city: &'static str,
    /// Index into [`COUNTRIES`].
    pub country: u8,
    pub segment: Segment,
    pub kyc: &'static str,
    pub joined: NaiveDate,
    pub updated: (NaiveDate, u32),
    pub branch: u16,
    /// The client's accounts (indices into [`Bank::accounts`]); the first is the main one.
    pub accounts: Range<u32>,
    /// Write the segment in upper case (input codes are case-insensitive).
    pub upper: bool,
}

/// A monthly income (salary, pension, or customer payments of a business) credited to a
/// current account, sized to cover its spending so balances drift up, not down.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Income {
    pub day: u32,
    /// Months of expected spending it brings, on top of a base of 10 typical amounts.
    pub cover: f64,
    /// Index into [`Bank::counterparties`].
    pub payer: u32,
    pub business: bool,
}

impl Income {
    /// The amount in EUR for an account of `profile`.
    pub(crate) fn eur(&self, profile: &Profile) -> f64 {
        profile.typical_eur * (10.0 + profile.rate * 30.0 * self.cover)
    }
}

/// How an account behaves over the window.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Profile {
    pub mix: Mix,
    /// The client's country (index into [`COUNTRIES`]).
    pub home: u8,
    pub weight: f64,
    /// Ordinary transactions per weekday.
    pub rate: f64,
    /// Usual size of a debit, in EUR.
    pub typical_eur: f64,
    pub income: Option<Income>,
    /// A country the client also pays in by card (first used in its first weeks).
    pub secondary: Option<u8>,
    pub opening_eur: f64,
    /// First and last window day the account can move money.
    pub live: Option<(u32, u32)>,
}

/// An account.
#[derive(Debug)]
pub(crate) struct Account {
    pub client: u32,
    /// Index into [`catalog::PRODUCTS`].
    pub product: u8,
    pub currency: Ccy,
    pub opened: NaiveDate,
    pub closed: Option<NaiveDate>,
    pub status: AccountStatus,
    pub has_iban: bool,
    pub updated: (NaiveDate, u32),
    pub upper: bool,
    pub profile: Profile,
}

/// The whole population.
pub(crate) struct Bank {
    pub clients: Vec<Client>,
    pub accounts: Vec<Account>,
    /// IBANs of other banks' accounts: employers, landlords, creditors, friends.
    pub counterparties: Vec<String>,
}

impl Bank {
    pub(crate) fn generate(ctx: &Ctx) -> Self {
        let counterparties = counterparty_pool(ctx);
        let homes: Vec<(u8, u32)> = COUNTRIES
            .iter()
            .enumerate()
            .map(|(i, c)| (i as u8, c.home_weight))
            .collect();
        let mut client_rng = ctx.rng(Stream::Clients);
        let mut account_rng = ctx.rng(Stream::Accounts);
        let mut clients = Vec::with_capacity(ctx.sizes.clients);
        let mut accounts = Vec::with_capacity(ctx.sizes.clients * 8 / 5);
        for i in 0..ctx.sizes.clients {
            let mut client = draw_client(&mut client_rng, &ctx.window, &homes);
            let first = accounts.len() as u32;
            let mut opener = Opener {
                rng: &mut account_rng,
                window: &ctx.window,
                client_index: i as u32,
                client: &client,
                employers: counterparties.len() as u32,
                out: &mut accounts,
            };
            opener.open_all();
            client.accounts = first..accounts.len() as u32;
            clients.push(client);
        }
        set_rates(ctx, &mut accounts);
        Self {
            clients,
            accounts,
            counterparties,
        }
    }
}

/// The IBAN of account `a` of this bank.
pub(crate) fn account_iban(a: usize) -> String {
    iban::domestic(BANK_CODE, 1_000_000_000 + a as u64 * 7)
}

fn uniform_date(rng: &mut ChaCha8Rng, lo: NaiveDate, hi: NaiveDate) -> NaiveDate {
    let span = (hi - lo).num_days();
    if span <= 0 {
        lo
    } else {
        plus_days(lo, rng.random_range(0..=span))
    }
}

fn draw_client(rng: &mut ChaCha8Rng, window: &Window, homes: &[(u8, u32)]) -> Client {
    let country = weighted(rng, homes);
    let gender = weighted(
        rng,
        &[(Some("F"), 48), (Some("M"), 48), (Some("X"), 1), (None, 3)],
    );
    let female = match gender {
        Some("F") => true,
        Some("M") => false,
        _ => rng.random_bool(0.5),
    };
    let first = *pick(rng, if female { FEMALE_NAMES } else { MALE_NAMES });
    let last = *pick(rng, LAST_NAMES);
    let age_months = rng.random_range(18 * 12..90 * 12);
    let birth = plus_days(
        minus_months(window.end, age_months),
        -rng.random_range(0..28),
    );
    let earliest = plus_months(birth, 18 * 12).max(ymd_or(2003, 1, 1, window.start));
    let joined = if rng.random_bool(0.04) {
        uniform_date(rng, earliest.max(window.start), window.end)
    } else {
        uniform_date(rng, earliest, plus_days(window.start, -1).max(earliest))
    };
    let segment = weighted(
        rng,
        &[
            (Segment::Retail, 80),
            (Segment::Premium, 12),
            (Segment::Private, 3),
            (Segment::Business, 5),
        ],
    );
    let kyc = if matches!(segment, Segment::Private | Segment::Business) {
        weighted(rng, &[("low", 60), ("medium", 30), ("high", 10)])
    } else {
        weighted(rng, &[("low", 82), ("medium", 15), ("high", 3)])
    };
    let home = &COUNTRIES[country as usize];
    let email = rng.random_bool(0.88).then(|| {
        format!(
            "{}.{}{}@{}",
            ascii_fold(first),
            ascii_fold(last),
            rng.random_range(1..100),
            pick(rng, EMAIL_DOMAINS)
        )
    });
    let phone = rng.random_bool(0.85).then(|| {
        format!(
            "{} {} {:07}",
            home.phone,
            rng.random_range(150..180),
            rng.random_range(0..10_000_000)
        )
    });
    let city = *pick(rng, home.cities);
    Client {
        first,
        last,
        birth,
        gender,
        email,
        phone,
        city,
        country,
        segment,
        kyc,
        joined,
        updated: (
            uniform_date(rng, joined, window.end),
            rng.random_range(0..86_400),
        ),
        branch: rng.random_range(1..=140),
        accounts: 0..0,
        upper: rng.random_bool(0.01),
    }
}

/// Opens one client's accounts.
struct Opener<'a> {
    rng: &'a mut ChaCha8Rng,
    window: &'a Window,
    client_index: u32,
    client: &'a Client,
    employers: u32,
    out: &'a mut Vec<Account>,
}

impl Opener<'_> {
    fn open_all(&mut self) {
        let c = self.client;
        let premium = matches!(c.segment, Segment::Premium | Segment::Private);
        let (main, main_ccy) = match (c.country == CZ, c.segment) {
            (true, _) => (product::FOREIGN_CURRENCY, Ccy::Czk),
            (false, Segment::Retail) => (product::GIRO_BASIC, Ccy::Eur),
            (false, Segment::Premium | Segment::Private) => (product::GIRO_PREMIUM, Ccy::Eur),
            (false, Segment::Business) => (product::BUSINESS, Ccy::Eur),
        };
        let status = weighted(
            self.rng,
            &[
                (AccountStatus::Active, 975),
                (AccountStatus::Dormant, 20),
                (AccountStatus::Frozen, 5),
            ],
        );
        self.open(main, main_ccy, Mix::Current, c.joined, status, None);
        if self.rng.random_bool(0.30) {
            let legacy = c.joined < ymd_or(2012, 1, 1, c.joined) && self.rng.random_bool(0.3);
            let p = if legacy {
                product::SAVINGS_LEGACY
            } else {
                product::SAVINGS
            };
            self.open_secondary(p, Ccy::Eur, Mix::Savings);
        }
        if self.rng.random_bool(if premium { 0.35 } else { 0.10 }) {
            let p = if premium {
                product::CARD_GOLD
            } else {
                product::CARD_CLASSIC
            };
            self.open_secondary(p, main_ccy, Mix::CreditCard);
        }
        if self.rng.random_bool(0.04) {
            self.open_secondary(product::INSURANCE, Ccy::Eur, Mix::Contract);
        }
        if self.rng.random_bool(if premium { 0.20 } else { 0.03 }) {
            self.open_secondary(product::INVESTMENT, Ccy::Eur, Mix::Contract);
        }
        if c.country != CZ && self.rng.random_bool(0.03) {
            let ccy = *pick(self.rng, &[Ccy::Usd, Ccy::Gbp, Ccy::Chf]);
            self.open_secondary(product::FOREIGN_CURRENCY, ccy, Mix::ForeignCurrency);
        }
    }

    fn open_secondary(&mut self, product: u8, currency: Ccy, mix: Mix) {
        let opened = uniform_date(self.rng, self.client.joined, self.window.end);
        let status = weighted(
            self.rng,
            &[
                (AccountStatus::Active, 915),
                (AccountStatus::Closed, 60),
                (AccountStatus::Dormant, 20),
                (AccountStatus::Frozen, 5),
            ],
        );
        let closed = (status == AccountStatus::Closed)
            .then(|| uniform_date(self.rng, opened, self.window.end));
        self.open(product, currency, mix, opened, status, closed);
    }

    fn open(
        &mut self,
        product: u8,
        currency: Ccy,
        mix: Mix,
        opened: NaiveDate,
        status: AccountStatus,
        closed: Option<NaiveDate>,
    ) {
        let profile = self.profile(mix, opened, status, closed);
        let last_change = closed.unwrap_or(opened);
        let updated = (
            uniform_date(self.rng, last_change, self.window.end),
            self.rng.random_range(0..86_400),
        );
        self.out.push(Account {
            client: self.client_index,
            product,
            currency,
            opened,
            closed,
            status,
            has_iban: mix != Mix::CreditCard,
            updated,
            upper: self.rng.random_bool(0.01),
            profile,
        });
    }

    fn profile(
        &mut self,
        mix: Mix,
        opened: NaiveDate,
        status: AccountStatus,
        closed: Option<NaiveDate>,
    ) -> Profile {
        let rng = &mut *self.rng;
        let segment = self.client.segment;
        let typical_eur =
            (segment.typical_eur() * spread(rng, 0.35, 0.5, 3.0)).clamp(15.0, 1_500.0);
        let business = if segment == Segment::Business {
            2.5
        } else {
            1.0
        };
        let weight = mix.weight() * spread(rng, 0.6, 0.2, 5.0) * business;
        let income = (mix == Mix::Current && rng.random_bool(0.95)).then(|| Income {
            day: weighted(
                rng,
                &[(1, 20), (15, 10), (25, 25), (26, 15), (27, 15), (28, 15)],
            ),
            cover: between(rng, 0.9, 1.4),
            payer: rng.random_range(0..self.employers.max(1)),
            business: segment == Segment::Business,
        });
        let home = self.client.country;
        let secondary = (matches!(mix, Mix::Current | Mix::CreditCard) && rng.random_bool(0.12))
            .then(|| {
                let other = rng.random_range(1..COUNTRIES.len() as u8);
                (home + other) % COUNTRIES.len() as u8
            });
        let opening_eur = typical_eur
            * match mix {
                Mix::Current if rng.random_bool(0.1) => -between(rng, 1.0, 12.0),
                Mix::Current => between(rng, 3.0, 40.0),
                Mix::CreditCard => -between(rng, 0.0, 10.0),
                Mix::Savings => between(rng, 30.0, 300.0),
                Mix::ForeignCurrency => between(rng, 5.0, 50.0),
                Mix::Contract => between(rng, 5.0, 30.0),
            };
        Profile {
            mix,
            home,
            weight,
            rate: 0.0,
            typical_eur,
            income,
            secondary,
            opening_eur,
            live: live_days(self.window, opened, status, closed),
        }
    }
}

/// The window days an account can move money: open, and neither dormant nor frozen.
fn live_days(
    window: &Window,
    opened: NaiveDate,
    status: AccountStatus,
    closed: Option<NaiveDate>,
) -> Option<(u32, u32)> {
    if matches!(status, AccountStatus::Dormant | AccountStatus::Frozen) {
        return None;
    }
    let last = i64::from(WINDOW_DAYS) - 1;
    let from = window.day_of(opened).max(0);
    let to = closed.map_or(last, |c| window.day_of(c).min(last));
    (from <= to).then_some((from as u32, to as u32))
}

/// Sets each account's daily rate so the expected ordinary transactions add up to the
/// target share.
fn set_rates(ctx: &Ctx, accounts: &mut [Account]) {
    let mut cumulative = vec![0.0; WINDOW_DAYS as usize + 1];
    for d in 0..WINDOW_DAYS as usize {
        let factor = if ctx.window.is_weekend(d as i64) {
            WEEKEND_FACTOR
        } else {
            1.0
        };
        cumulative[d + 1] = cumulative[d] + factor;
    }
    let exposure: f64 = accounts
        .iter()
        .filter_map(|a| {
            let (from, to) = a.profile.live?;
            Some(a.profile.weight * (cumulative[to as usize + 1] - cumulative[from as usize]))
        })
        .sum();
    let base = if exposure > 0.0 {
        ctx.sizes.transactions as f64 * ORDINARY_SHARE / exposure
    } else {
        0.0
    };
    for a in accounts {
        a.profile.rate = (base * a.profile.weight).min(MAX_DAILY_RATE);
    }
}

/// Counterparty IBANs of other banks, mostly German, all with valid checksums.
fn counterparty_pool(ctx: &Ctx) -> Vec<String> {
    let mut rng = ctx.rng(Stream::Counterparties);
    let formats: Vec<(&'static IbanFormat, u32)> = COUNTRIES
        .iter()
        .filter(|c| c.counterparty_weight > 0)
        .filter_map(|c| iban::format_of(c.code).map(|f| (f, c.counterparty_weight)))
        .collect();
    let n = ctx.sizes.clients.clamp(200, 20_000);
    (0..n)
        .map(|_| {
            let format = weighted(&mut rng, &formats);
            iban::random(&mut rng, format)
        })
        .collect()
}

/// The product of account `a`.
pub(crate) fn product_of(account: &Account) -> &'static catalog::Product {
    &catalog::PRODUCTS[account.product as usize]
}
