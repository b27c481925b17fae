//! Defect planting: extra bad rows that an ingestion must quarantine, each breaking exactly
//! one rule, driven by one table of (entity, rule, ways to corrupt a valid row).
//!
//! A bad row is always a copy of the valid row written just before it, with a key no other
//! row has (a fresh id; for fx_rates an old date; for fraud_reports a later timestamp), then
//! one corruption from [`SPECS`]. `duplicate` rows keep the copied key instead (an exact
//! repeat, or a changed value under the same key). Nothing references a bad row, so no
//! orphans cascade and the expected counts are exact.

use std::collections::BTreeMap;

use contract::{Entity, RuleId};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::GenerateError;
use super::calendar::plus_days;
use super::fields::{FieldBuf, date_string, parse_date, parse_timestamp};
use super::iban;
use super::writer::RowSink;

/// One edit of a copied valid row; columns are named as in the contract.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Op {
    /// One field too many or too few (CSV), or a JSON object cut in the middle.
    Malformed,
    /// The bytes `0xFF 0xFE` (never valid UTF-8) inside the column's value.
    BadBytes(&'static str),
    /// A new value for the column.
    Set(&'static str, &'static str),
    /// A well-formed IBAN with one digit changed, so its mod-97 checksum fails.
    BreakIban(&'static str),
    /// A date `min_days` to `min_days + 365` days before the `anchor` column's date.
    DateBefore {
        column: &'static str,
        anchor: &'static str,
        min_days: i64,
    },
    /// A parent id that does not exist: `<prefix>-MISSING-<n>`.
    Orphan(&'static str, &'static str),
}

/// How a bad row gets a key no other row has.
#[derive(Clone, Copy, Debug)]
pub(crate) enum FreshKey {
    /// A new id `<prefix>D<n>` in the column (`TXD000001`).
    Id(&'static str, &'static str),
    /// A date a year and more before the first FX rate (key: date, currency).
    OldDate(&'static str),
    /// The timestamp moved later by `n` hours (key: transaction_id, reported_at).
    LaterTimestamp(&'static str),
}

/// The ways to break one rule; one variant is drawn per bad row.
pub(crate) struct RuleSpec {
    pub rule: RuleId,
    pub variants: &'static [&'static [Op]],
}

/// The defects of one entity.
pub(crate) struct DefectSpec {
    pub entity: Entity,
    pub key: FreshKey,
    pub rules: &'static [RuleSpec],
}

/// The ways `variants` to break `rule`.
const fn rule(rule: RuleId, variants: &'static [&'static [Op]]) -> RuleSpec {
    RuleSpec { rule, variants }
}

use Op::{BadBytes, BreakIban, DateBefore, Malformed, Orphan, Set};
use RuleId::{
    DateOrder, Duplicate, InvalidEncoding, InvalidIban, MalformedRecord, MissingRequired,
    OrphanReference, OutOfRange, UnknownCode, Unparseable,
};

/// Every entity's defects. A rule an entity cannot break alone is left out: clients have no
/// bound, date pair or reference; products no IBAN, date pair or reference; transactions no
/// date pair; fx_rates no free-text column (bad bytes would also make an unknown code);
/// satisfaction is JSON, whose text must be UTF-8 anyway.
pub(crate) const SPECS: &[DefectSpec] = &[
    DefectSpec {
        entity: Entity::Clients,
        key: FreshKey::Id("client_id", "CL"),
        rules: &[
            rule(MalformedRecord, &[&[Malformed]]),
            rule(
                InvalidEncoding,
                &[&[BadBytes("city")], &[BadBytes("last_name")]],
            ),
            rule(
                MissingRequired,
                &[
                    &[Set("last_name", "")],
                    &[Set("birth_date", "")],
                    &[Set("country", "")],
                ],
            ),
            rule(
                Unparseable,
                &[
                    &[Set("birth_date", "2024-13-45")],
                    &[Set("joined_on", "2021-02-30")],
                    &[Set("updated_at", "yesterday")],
                ],
            ),
            rule(
                UnknownCode,
                &[
                    &[Set("country", "QQ")],
                    &[Set("segment", "vip")],
                    &[Set("kyc_risk", "extreme")],
                    &[Set("gender", "Q")],
                ],
            ),
            rule(Duplicate, &[&[], &[Set("phone", "+49 30 0000000")]]),
        ],
    },
    DefectSpec {
        entity: Entity::Products,
        key: FreshKey::Id("product_id", "PR"),
        rules: &[
            rule(MalformedRecord, &[&[Malformed]]),
            rule(InvalidEncoding, &[&[BadBytes("name")]]),
            rule(
                MissingRequired,
                &[
                    &[Set("name", "")],
                    &[Set("category", "")],
                    &[Set("currency", "")],
                ],
            ),
            rule(
                Unparseable,
                &[
                    &[Set("monthly_fee", "abc")],
                    &[Set("active", "maybe")],
                    &[Set("interest_rate", "12.3.4")],
                ],
            ),
            rule(OutOfRange, &[&[Set("monthly_fee", "-1.00")]]),
            rule(
                UnknownCode,
                &[&[Set("category", "crypto")], &[Set("currency", "XXY")]],
            ),
            rule(Duplicate, &[&[], &[Set("name", "Duplicate product")]]),
        ],
    },
    DefectSpec {
        entity: Entity::Accounts,
        key: FreshKey::Id("account_id", "AC"),
        rules: &[
            rule(MalformedRecord, &[&[Malformed]]),
            rule(InvalidEncoding, &[&[BadBytes("branch_code")]]),
            rule(
                MissingRequired,
                &[
                    &[Set("client_id", "")],
                    &[Set("opened_on", "")],
                    &[Set("status", "")],
                    &[Set("currency", "")],
                ],
            ),
            rule(
                Unparseable,
                &[
                    &[Set("opened_on", "2024-13-45")],
                    &[Set("updated_at", "yesterday")],
                ],
            ),
            rule(
                UnknownCode,
                &[&[Set("status", "weird")], &[Set("currency", "XXY")]],
            ),
            rule(InvalidIban, &[&[BreakIban("iban")]]),
            rule(
                DateOrder,
                &[&[
                    DateBefore {
                        column: "closed_on",
                        anchor: "opened_on",
                        min_days: 1,
                    },
                    Set("status", "closed"),
                ]],
            ),
            rule(Duplicate, &[&[], &[Set("branch_code", "BR999")]]),
            rule(
                OrphanReference,
                &[&[Orphan("client_id", "CL")], &[Orphan("product_id", "PR")]],
            ),
        ],
    },
    DefectSpec {
        entity: Entity::Transactions,
        key: FreshKey::Id("transaction_id", "TX"),
        rules: &[
            rule(MalformedRecord, &[&[Malformed]]),
            rule(
                InvalidEncoding,
                &[&[BadBytes("merchant_name")], &[BadBytes("description")]],
            ),
            rule(
                MissingRequired,
                &[
                    &[Set("account_id", "")],
                    &[Set("booked_at", "")],
                    &[Set("amount", "")],
                    &[Set("direction", "")],
                    &[Set("currency", "")],
                ],
            ),
            rule(
                Unparseable,
                &[
                    &[Set("booked_at", "yesterday")],
                    &[Set("value_date", "2024-13-45")],
                    &[Set("amount", "12.3.4")],
                    &[Set("balance_after", "abc")],
                ],
            ),
            rule(
                OutOfRange,
                &[&[Set("amount", "0.00")], &[Set("amount", "-12.50")]],
            ),
            rule(
                UnknownCode,
                &[
                    &[Set("channel", "teleport")],
                    &[Set("direction", "sideways")],
                    &[Set("currency", "XXY")],
                    &[Set("country", "QQ")],
                    &[Set("status", "weird")],
                    &[Set("mcc", "12A")],
                ],
            ),
            rule(InvalidIban, &[&[BreakIban("counterparty_iban")]]),
            rule(Duplicate, &[&[], &[Set("description", "duplicate export")]]),
            rule(OrphanReference, &[&[Orphan("account_id", "AC")]]),
        ],
    },
    DefectSpec {
        entity: Entity::Loans,
        key: FreshKey::Id("loan_id", "LN"),
        rules: &[
            rule(MalformedRecord, &[&[Malformed]]),
            rule(InvalidEncoding, &[&[BadBytes("loan_id")]]),
            rule(
                MissingRequired,
                &[
                    &[Set("client_id", "")],
                    &[Set("principal", "")],
                    &[Set("start_date", "")],
                    &[Set("status", "")],
                ],
            ),
            rule(
                Unparseable,
                &[
                    &[Set("principal", "abc")],
                    &[Set("term_months", "twelve")],
                    &[Set("start_date", "2024-13-45")],
                ],
            ),
            rule(
                OutOfRange,
                &[
                    &[Set("principal", "0.00")],
                    &[Set("principal", "-5000.00")],
                    &[Set("term_months", "0")],
                    &[Set("annual_rate", "-0.0100")],
                ],
            ),
            rule(
                UnknownCode,
                &[&[Set("status", "weird")], &[Set("currency", "XXY")]],
            ),
            rule(
                DateOrder,
                &[&[DateBefore {
                    column: "maturity_date",
                    anchor: "start_date",
                    min_days: 0,
                }]],
            ),
            rule(Duplicate, &[&[], &[Set("status", "current")]]),
            rule(
                OrphanReference,
                &[
                    &[Orphan("account_id", "AC")],
                    &[Orphan("client_id", "CL")],
                    &[Orphan("product_id", "PR")],
                ],
            ),
        ],
    },
    DefectSpec {
        entity: Entity::Payments,
        key: FreshKey::Id("payment_id", "PY"),
        rules: &[
            rule(MalformedRecord, &[&[Malformed]]),
            rule(InvalidEncoding, &[&[BadBytes("payment_id")]]),
            rule(
                MissingRequired,
                &[
                    &[Set("account_id", "")],
                    &[Set("due_date", "")],
                    &[Set("amount", "")],
                    &[Set("kind", "")],
                ],
            ),
            rule(
                Unparseable,
                &[
                    &[Set("due_date", "2024-13-45")],
                    &[Set("paid_at", "yesterday")],
                    &[Set("amount", "abc")],
                ],
            ),
            rule(
                OutOfRange,
                &[&[Set("amount", "0.00")], &[Set("amount", "-5.00")]],
            ),
            rule(
                UnknownCode,
                &[
                    &[Set("kind", "weird")],
                    &[Set("status", "weird")],
                    &[Set("currency", "XXY")],
                ],
            ),
            rule(Duplicate, &[&[], &[Set("amount", "1.00")]]),
            rule(
                OrphanReference,
                &[&[Orphan("loan_id", "LN")], &[Orphan("account_id", "AC")]],
            ),
        ],
    },
    DefectSpec {
        entity: Entity::Satisfaction,
        key: FreshKey::Id("survey_id", "SV"),
        rules: &[
            rule(MalformedRecord, &[&[Malformed]]),
            rule(
                MissingRequired,
                &[
                    &[Set("client_id", "")],
                    &[Set("csat", ""), Set("nps", "")],
                    &[Set("channel", "")],
                    &[Set("answered_at", "")],
                ],
            ),
            rule(
                Unparseable,
                &[
                    &[Set("answered_at", "yesterday")],
                    &[Set("csat", "twelve")],
                    &[Set("nps", "ten")],
                ],
            ),
            rule(
                OutOfRange,
                &[
                    &[Set("csat", "7")],
                    &[Set("nps", "11")],
                    &[Set("csat", "0")],
                ],
            ),
            rule(UnknownCode, &[&[Set("channel", "teleport")]]),
            rule(Duplicate, &[&[], &[Set("comment", "duplicate answer")]]),
            rule(
                OrphanReference,
                &[&[Orphan("client_id", "CL")], &[Orphan("product_id", "PR")]],
            ),
        ],
    },
    DefectSpec {
        entity: Entity::FxRates,
        key: FreshKey::OldDate("date"),
        rules: &[
            rule(MalformedRecord, &[&[Malformed]]),
            rule(
                MissingRequired,
                &[&[Set("per_eur", "")], &[Set("currency", "")]],
            ),
            rule(
                Unparseable,
                &[
                    &[Set("date", "2024-13-45")],
                    &[Set("per_eur", "abc")],
                    &[Set("per_eur", "12.3.4")],
                ],
            ),
            rule(
                OutOfRange,
                &[
                    &[Set("per_eur", "0.000000")],
                    &[Set("per_eur", "-1.250000")],
                ],
            ),
            rule(UnknownCode, &[&[Set("currency", "XXY")]]),
            rule(Duplicate, &[&[], &[Set("per_eur", "1.000000")]]),
        ],
    },
    DefectSpec {
        entity: Entity::FraudReports,
        key: FreshKey::LaterTimestamp("reported_at"),
        rules: &[
            rule(MalformedRecord, &[&[Malformed]]),
            rule(InvalidEncoding, &[&[BadBytes("reason")]]),
            rule(
                MissingRequired,
                &[
                    &[Set("transaction_id", "")],
                    &[Set("reported_at", "")],
                    &[Set("confirmed", "")],
                ],
            ),
            rule(
                Unparseable,
                &[
                    &[Set("reported_at", "yesterday")],
                    &[Set("confirmed", "maybe")],
                ],
            ),
            rule(Duplicate, &[&[], &[Set("reason", "duplicate report")]]),
            rule(OrphanReference, &[&[Orphan("transaction_id", "TX")]]),
        ],
    },
];

/// The defect spec of `entity`.
pub(crate) fn spec(entity: Entity) -> Option<&'static DefectSpec> {
    SPECS.iter().find(|s| s.entity == entity)
}

/// [`Op`] with its columns resolved to positions.
#[derive(Clone, Copy, Debug)]
enum Edit {
    Malformed,
    BadBytes(usize),
    Set(usize, &'static str),
    BreakIban(usize),
    DateBefore {
        column: usize,
        anchor: usize,
        min_days: i64,
    },
    Orphan(usize, &'static str),
}

#[derive(Clone, Copy, Debug)]
enum Key {
    Id(usize, &'static str),
    OldDate(usize),
    LaterTimestamp(usize),
}

/// Plants an entity's bad rows: about `rate` per valid row, at least one per rule as soon
/// as the entity has a row, placed at random after valid rows.
pub(crate) struct Planter {
    rules: Vec<(RuleId, Vec<Vec<Edit>>)>,
    key: Key,
    rate: f64,
    quota: f64,
    scheduled: u64,
    planted: u64,
    orphans: u64,
    positions: Vec<usize>,
    cursor: usize,
    counts: BTreeMap<&'static str, u64>,
    old_dates_from: chrono::NaiveDate,
    rng: ChaCha8Rng,
    scratch: FieldBuf,
}

/// The position of column `name` among `entity`'s contract columns.
fn column(entity: Entity, name: &'static str) -> Result<usize, GenerateError> {
    let columns = entity.spec().columns;
    columns
        .iter()
        .position(|c| c.name == name)
        .ok_or(GenerateError::UnknownColumn {
            entity: entity.name(),
            column: name,
        })
}

fn resolve(entity: Entity, op: Op) -> Result<Edit, GenerateError> {
    Ok(match op {
        Op::Malformed => Edit::Malformed,
        Op::BadBytes(c) => Edit::BadBytes(column(entity, c)?),
        Op::Set(c, v) => Edit::Set(column(entity, c)?, v),
        Op::BreakIban(c) => Edit::BreakIban(column(entity, c)?),
        Op::DateBefore {
            column: c,
            anchor,
            min_days,
        } => Edit::DateBefore {
            column: column(entity, c)?,
            anchor: column(entity, anchor)?,
            min_days,
        },
        Op::Orphan(c, prefix) => Edit::Orphan(column(entity, c)?, prefix),
    })
}

impl Planter {
    /// A planter for `entity`; `old_dates_from` is where [`FreshKey::OldDate`] keys count
    /// back from.
    pub(crate) fn new(
        entity: Entity,
        rate: f64,
        rng: ChaCha8Rng,
        old_dates_from: chrono::NaiveDate,
    ) -> Result<Self, GenerateError> {
        let (key, specs) = match spec(entity) {
            Some(s) => (Some(s.key), s.rules),
            None => (None, &[][..]),
        };
        let key = match key {
            // No spec: the planter stays inactive and never uses its key.
            None => Key::Id(0, ""),
            Some(FreshKey::Id(c, prefix)) => Key::Id(column(entity, c)?, prefix),
            Some(FreshKey::OldDate(c)) => Key::OldDate(column(entity, c)?),
            Some(FreshKey::LaterTimestamp(c)) => Key::LaterTimestamp(column(entity, c)?),
        };
        let mut rules = Vec::with_capacity(specs.len());
        for spec in specs {
            let mut variants = Vec::with_capacity(spec.variants.len());
            for ops in spec.variants {
                variants.push(
                    ops.iter()
                        .map(|&op| resolve(entity, op))
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
            rules.push((spec.rule, variants));
        }
        Ok(Self {
            rules,
            key,
            rate: if rate > 0.0 { rate } else { 0.0 },
            quota: 0.0,
            scheduled: 0,
            planted: 0,
            orphans: 0,
            positions: Vec::new(),
            cursor: 0,
            counts: BTreeMap::new(),
            old_dates_from,
            rng,
            scratch: FieldBuf::default(),
        })
    }

    fn active(&self) -> bool {
        self.rate > 0.0 && !self.rules.is_empty()
    }

    /// An upper bound of the bad rows [`Planter::begin_batch`] can schedule for `rows`.
    pub(crate) fn max_defects(&self, rows: usize) -> u64 {
        if !self.active() || rows == 0 {
            return 0;
        }
        (self.rate * rows as f64).ceil() as u64 + 1 + self.rules.len() as u64
    }

    /// Schedules the bad rows that go between the next `rows` valid rows.
    pub(crate) fn begin_batch(&mut self, rows: usize) {
        self.positions.clear();
        self.cursor = 0;
        if !self.active() || rows == 0 {
            return;
        }
        self.quota += self.rate * rows as f64;
        let mut due = (self.quota.floor() as u64).saturating_sub(self.scheduled);
        if self.scheduled == 0 {
            due = due.max(self.rules.len() as u64);
        }
        self.scheduled += due;
        self.positions
            .extend((0..due).map(|_| self.rng.random_range(0..rows)));
        self.positions.sort_unstable();
    }

    /// Writes the bad rows scheduled after valid row `index` of the batch (`template`).
    pub(crate) fn after_row<S: RowSink>(
        &mut self,
        index: usize,
        template: &FieldBuf,
        sink: &mut S,
    ) -> Result<(), GenerateError> {
        while self.positions.get(self.cursor) == Some(&index) {
            self.cursor += 1;
            self.plant(template, sink)?;
        }
        Ok(())
    }

    /// Writes one bad row derived from `template`, counted under the rule it breaks.
    fn plant<S: RowSink>(
        &mut self,
        template: &FieldBuf,
        sink: &mut S,
    ) -> Result<(), GenerateError> {
        self.planted += 1;
        // The first bad rows visit every rule once; the others draw a rule at random.
        let r = match usize::try_from(self.planted - 1) {
            Ok(k) if k < self.rules.len() => k,
            _ => self.rng.random_range(0..self.rules.len()),
        };
        let rule = self.rules[r].0;
        let v = self.rng.random_range(0..self.rules[r].1.len());
        self.scratch.clone_from(template);
        if rule != RuleId::Duplicate {
            self.refresh_key(self.planted);
        }
        let mut malformed = false;
        for e in 0..self.rules[r].1[v].len() {
            match self.rules[r].1[v][e] {
                Edit::Malformed => malformed = true,
                edit => self.apply(edit),
            }
        }
        if malformed {
            let extra = self.rng.random_bool(0.5);
            sink.write_malformed(&self.scratch, extra)?;
        } else {
            sink.write_row(&self.scratch)?;
        }
        *self.counts.entry(rule.as_str()).or_insert(0) += 1;
        Ok(())
    }

    fn refresh_key(&mut self, n: u64) {
        match self.key {
            Key::Id(c, prefix) => self.scratch.set(c, format!("{prefix}D{n:06}").as_bytes()),
            Key::OldDate(c) => {
                let date = plus_days(self.old_dates_from, -(n as i64));
                self.scratch.set(c, date_string(date).as_bytes());
            }
            Key::LaterTimestamp(c) => {
                if let Some(at) = parse_timestamp(self.scratch.get(c)) {
                    let later = at + chrono::TimeDelta::seconds(n as i64 * 3_600 + 17);
                    let mut field = FieldBuf::default();
                    field.datetime(later);
                    self.scratch.set(c, field.get(0));
                }
            }
        }
    }

    fn apply(&mut self, edit: Edit) {
        match edit {
            Edit::Malformed => {}
            Edit::BadBytes(c) => {
                let value = with_bad_bytes(self.scratch.get(c));
                self.scratch.set(c, &value);
            }
            Edit::Set(c, value) => self.scratch.set(c, value.as_bytes()),
            Edit::BreakIban(c) => {
                let broken = iban::broken(&mut self.rng);
                self.scratch.set(c, broken.as_bytes());
            }
            Edit::DateBefore {
                column,
                anchor,
                min_days,
            } => {
                let fallback = super::calendar::ymd_or(2020, 6, 1, self.old_dates_from);
                let start = parse_date(self.scratch.get(anchor)).unwrap_or(fallback);
                self.scratch.set(anchor, date_string(start).as_bytes());
                let back = min_days + self.rng.random_range(0..=365);
                self.scratch
                    .set(column, date_string(plus_days(start, -back)).as_bytes());
            }
            Edit::Orphan(c, prefix) => {
                self.orphans += 1;
                let id = format!("{prefix}-MISSING-{}", self.orphans);
                self.scratch.set(c, id.as_bytes());
            }
        }
    }

    /// Bad rows written, per rule id.
    pub(crate) fn into_counts(self) -> BTreeMap<&'static str, u64> {
        self.counts
    }
}

/// `value` with `0xFF 0xFE` inserted at a character boundary near its middle.
fn with_bad_bytes(value: &[u8]) -> Vec<u8> {
    let mut cut = value.len() / 2;
    while cut > 0 && cut < value.len() && (value[cut] & 0xC0) == 0x80 {
        cut -= 1;
    }
    let mut out = Vec::with_capacity(value.len() + 2);
    out.extend_from_slice(&value[..cut]);
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&value[cut..]);
    out
}
