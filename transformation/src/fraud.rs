//! Fraud detection: the contract's six rules as named, configurable rules over the
//! transactions, producing `fact_fraudes` (one alert per rule and transaction).
//!
//! Every rule is a DataFusion plan over `transactions_eur` (the processed
//! transactions with their amount in EUR, see [`crate::banking::TRANSACTIONS_EUR`]):
//!
//! | rule | fires on |
//! |---|---|
//! | `large_amount` | a debit of at least `min_factor` × the mean of the account's earlier debits, after `min_prior_debits` of them |
//! | `velocity` | every transaction of a run of at least `min_count` on one account and channel within `window_seconds` |
//! | `structuring` | cash credits (`channels`) in `[lower_bound_eur, threshold_eur)`, at least `min_count` on one account in a calendar day (UTC) |
//! | `new_country` | the first transaction in a country on an account (on `channel`), at least `min_history_days` after the account's first transaction |
//! | `dormant_reactivation` | a debit after at least `min_gap_days` without any transaction, of at least `min_factor` × the mean of the earlier debits |
//! | `night_atm` | ATM withdrawals between `from_hour_utc` and `to_hour_utc`, when the account makes at least `min_count` in that night |
//!
//! The risk score (0–100) is the rule's `weight`, plus `multi_rule_bonus` for each other
//! rule that fired on the same transaction. `confirmed` comes from the latest fraud
//! report of the transaction (null while none).

use serde::Deserialize;

use crate::sql::{date_key, micros, render, valid_at};

/// The fraud rules and their thresholds (the `[fraud]` table of the configuration).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FraudRules {
    /// Large amount against the account's own history.
    pub large_amount: LargeAmount,
    /// Many transactions on one account in a short window.
    pub velocity: Velocity,
    /// Several cash credits just under a reporting threshold within a day.
    pub structuring: Structuring,
    /// First use of a new country.
    pub new_country: NewCountry,
    /// A dormant account suddenly active.
    pub dormant_reactivation: DormantReactivation,
    /// ATM withdrawals at night.
    pub night_atm: NightAtm,
    /// Added to an alert's score for each other rule that fired on its transaction.
    pub multi_rule_bonus: u32,
}

/// `large_amount`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LargeAmount {
    /// Whether the rule runs.
    pub enabled: bool,
    /// The alert's base risk score.
    pub weight: u32,
    /// The debit must be at least this many times the mean of the earlier debits.
    pub min_factor: f64,
    /// The account needs at least this many earlier debits.
    pub min_prior_debits: u32,
}

/// `velocity`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Velocity {
    /// Whether the rule runs.
    pub enabled: bool,
    /// The alert's base risk score.
    pub weight: u32,
    /// At least this many transactions …
    pub min_count: u32,
    /// … within this many seconds.
    pub window_seconds: u32,
    /// On this channel.
    pub channel: String,
}

/// `structuring`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Structuring {
    /// Whether the rule runs.
    pub enabled: bool,
    /// The alert's base risk score.
    pub weight: u32,
    /// The reporting threshold in EUR (credits must stay under it).
    pub threshold_eur: f64,
    /// Credits from this amount in EUR count as "just under".
    pub lower_bound_eur: f64,
    /// At least this many such credits on one account in a day.
    pub min_count: u32,
    /// The cash channels.
    pub channels: Vec<String>,
}

/// `new_country`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NewCountry {
    /// Whether the rule runs.
    pub enabled: bool,
    /// The alert's base risk score.
    pub weight: u32,
    /// The channel watched.
    pub channel: String,
    /// The account must have this many days of history before a new country counts.
    pub min_history_days: u32,
}

/// `dormant_reactivation`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DormantReactivation {
    /// Whether the rule runs.
    pub enabled: bool,
    /// The alert's base risk score.
    pub weight: u32,
    /// Days without any transaction that make an account dormant.
    pub min_gap_days: u32,
    /// The reactivating debit must be at least this many times the earlier debits' mean.
    pub min_factor: f64,
}

/// `night_atm`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NightAtm {
    /// Whether the rule runs.
    pub enabled: bool,
    /// The alert's base risk score.
    pub weight: u32,
    /// The night starts at this hour (UTC, included) …
    pub from_hour_utc: u32,
    /// … and ends at this one (excluded).
    pub to_hour_utc: u32,
    /// Withdrawals in one night on one account before it alerts.
    pub min_count: u32,
}

impl Default for FraudRules {
    fn default() -> Self {
        FraudRules {
            large_amount: LargeAmount::default(),
            velocity: Velocity::default(),
            structuring: Structuring::default(),
            new_country: NewCountry::default(),
            dormant_reactivation: DormantReactivation::default(),
            night_atm: NightAtm::default(),
            multi_rule_bonus: 15,
        }
    }
}

impl Default for LargeAmount {
    fn default() -> Self {
        LargeAmount {
            enabled: true,
            weight: 70,
            min_factor: 10.0,
            min_prior_debits: 5,
        }
    }
}

impl Default for Velocity {
    fn default() -> Self {
        Velocity {
            enabled: true,
            weight: 60,
            min_count: 10,
            window_seconds: 600,
            channel: "card".into(),
        }
    }
}

impl Default for Structuring {
    fn default() -> Self {
        Structuring {
            enabled: true,
            weight: 80,
            threshold_eur: 10_000.0,
            lower_bound_eur: 9_000.0,
            min_count: 3,
            channels: vec!["branch".into(), "atm".into()],
        }
    }
}

impl Default for NewCountry {
    fn default() -> Self {
        NewCountry {
            enabled: true,
            weight: 50,
            channel: "card".into(),
            min_history_days: 30,
        }
    }
}

impl Default for DormantReactivation {
    fn default() -> Self {
        DormantReactivation {
            enabled: true,
            weight: 75,
            min_gap_days: 60,
            min_factor: 5.0,
        }
    }
}

impl Default for NightAtm {
    fn default() -> Self {
        NightAtm {
            enabled: true,
            weight: 40,
            from_hour_utc: 0,
            to_hour_utc: 5,
            min_count: 1,
        }
    }
}

/// The rule ids, in the contract's order.
pub const RULE_IDS: [&str; 6] = [
    "large_amount",
    "velocity",
    "structuring",
    "new_country",
    "dormant_reactivation",
    "night_atm",
];

/// An SQL string literal of a code the configuration names (quotes doubled).
fn literal(text: &str) -> String {
    format!("'{}'", text.to_lowercase().replace('\'', "''"))
}

const DAY_MICROS: u64 = 86_400_000_000;

impl FraudRules {
    /// Problems with the thresholds, one sentence each (empty when they make sense).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, what: &str| {
            if !ok {
                problems.push(format!("[fraud] {what}"));
            }
        };
        check(
            self.large_amount.min_factor > 0.0,
            "large_amount.min_factor must be > 0",
        );
        check(
            self.velocity.min_count > 0,
            "velocity.min_count must be > 0",
        );
        check(
            self.velocity.window_seconds > 0,
            "velocity.window_seconds must be > 0",
        );
        check(
            self.structuring.lower_bound_eur < self.structuring.threshold_eur,
            "structuring.lower_bound_eur must be below threshold_eur",
        );
        check(
            self.night_atm.from_hour_utc < self.night_atm.to_hour_utc
                && self.night_atm.to_hour_utc <= 24,
            "night_atm hours must satisfy from_hour_utc < to_hour_utc <= 24",
        );
        for weight in [
            self.large_amount.weight,
            self.velocity.weight,
            self.structuring.weight,
            self.new_country.weight,
            self.dormant_reactivation.weight,
            self.night_atm.weight,
        ] {
            check(weight <= 100, "every weight must be between 0 and 100");
        }
        problems
    }

    /// The conditions of the rules that read an account's history (`history` CTE of
    /// [`FraudRules::alerts_sql`]), by rule id.
    fn history_conditions(&self) -> Vec<(&'static str, String)> {
        let mut conditions = Vec::new();
        let r = &self.large_amount;
        if r.enabled {
            conditions.push((
                "large_amount",
                format!(
                    "direction = 'debit' AND prior_debits >= {} \
                     AND CAST(amount_eur AS DOUBLE) >= {:?} * prior_debit_mean",
                    r.min_prior_debits, r.min_factor
                ),
            ));
        }
        let r = &self.new_country;
        if r.enabled {
            conditions.push((
                "new_country",
                format!(
                    "channel = {channel} AND booked_at = first_in_country AND {t} - {first} >= {history}",
                    channel = literal(&r.channel),
                    t = micros("booked_at"),
                    first = micros("first_at"),
                    history = u64::from(r.min_history_days) * DAY_MICROS,
                ),
            ));
        }
        let r = &self.dormant_reactivation;
        if r.enabled {
            conditions.push((
                "dormant_reactivation",
                format!(
                    "direction = 'debit' AND previous_at IS NOT NULL AND prior_debits > 0 \
                     AND {t} - {previous} >= {gap} \
                     AND CAST(amount_eur AS DOUBLE) >= {factor:?} * prior_debit_mean",
                    t = micros("booked_at"),
                    previous = micros("previous_at"),
                    gap = u64::from(r.min_gap_days) * DAY_MICROS,
                    factor = r.min_factor,
                ),
            ));
        }
        conditions
    }

    /// The per-rule selects, each giving `transaction_id, account_id, booked_at,
    /// channel, amount_eur, rule_id`. The history rules share one pass over the
    /// account-ordered transactions: each row lists the rules it fires, and the list is
    /// unnested into one alert per rule.
    fn rule_selects(&self) -> Vec<String> {
        let mut selects = Vec::new();
        let columns = "transaction_id, account_id, booked_at, channel, amount_eur";
        let history = self.history_conditions();
        if !history.is_empty() {
            let fired: Vec<String> = history
                .iter()
                .map(|(rule, condition)| format!("CASE WHEN {condition} THEN '{rule}' END"))
                .collect();
            selects.push(format!(
                "SELECT {columns}, rule_id FROM ( \
                   SELECT {columns}, unnest(string_to_array(fired, ',')) AS rule_id FROM ( \
                     SELECT {columns}, concat_ws(',', {fired}) AS fired FROM history) \
                   WHERE fired <> '') \
                 WHERE rule_id <> ''",
                fired = fired.join(", "),
            ));
        }
        let r = &self.velocity;
        if r.enabled {
            let window = u64::from(r.window_seconds) * 1_000_000;
            selects.push(format!(
                "SELECT {columns}, 'velocity' AS rule_id FROM ( \
                   SELECT *, MAX(trailing) OVER (PARTITION BY account_id ORDER BY t \
                            RANGE BETWEEN CURRENT ROW AND {window} FOLLOWING) AS peak FROM ( \
                     SELECT *, COUNT(*) OVER (PARTITION BY account_id ORDER BY t \
                              RANGE BETWEEN {window} PRECEDING AND CURRENT ROW) AS trailing \
                     FROM (SELECT {columns}, {t} AS t FROM transactions_eur WHERE channel = {channel}))) \
                 WHERE peak >= {min}",
                t = micros("booked_at"),
                channel = literal(&r.channel),
                min = r.min_count,
            ));
        }
        let r = &self.structuring;
        if r.enabled && !r.channels.is_empty() {
            let channels: Vec<String> = r.channels.iter().map(|c| literal(c)).collect();
            selects.push(format!(
                "SELECT {columns}, 'structuring' AS rule_id FROM ( \
                   SELECT {columns}, COUNT(*) OVER (PARTITION BY account_id, CAST(booked_at AS DATE)) AS n \
                   FROM transactions_eur \
                   WHERE direction = 'credit' AND channel IN ({channels}) \
                     AND CAST(amount_eur AS DOUBLE) >= {low:?} AND CAST(amount_eur AS DOUBLE) < {high:?}) \
                 WHERE n >= {min}",
                channels = channels.join(", "),
                low = r.lower_bound_eur,
                high = r.threshold_eur,
                min = r.min_count,
            ));
        }
        let r = &self.night_atm;
        if r.enabled {
            selects.push(format!(
                "SELECT {columns}, 'night_atm' AS rule_id FROM ( \
                   SELECT {columns}, COUNT(*) OVER (PARTITION BY account_id, CAST(booked_at AS DATE)) AS n \
                   FROM transactions_eur \
                   WHERE channel = 'atm' AND direction = 'debit' \
                     AND date_part('hour', booked_at) >= {from} AND date_part('hour', booked_at) < {to}) \
                 WHERE n >= {min}",
                from = r.from_hour_utc,
                to = r.to_hour_utc,
                min = r.min_count,
            ));
        }
        selects
    }

    /// The weight of each rule, as an SQL `CASE` over `rule_id`.
    fn weight_sql(&self) -> String {
        let weights = [
            self.large_amount.weight,
            self.velocity.weight,
            self.structuring.weight,
            self.new_country.weight,
            self.dormant_reactivation.weight,
            self.night_atm.weight,
        ];
        let arms: Vec<String> = RULE_IDS
            .iter()
            .zip(weights)
            .map(|(rule, weight)| format!("WHEN '{rule}' THEN {weight}"))
            .collect();
        format!("CASE rule_id {} ELSE 0 END", arms.join(" "))
    }

    /// `fact_fraudes` as one SQL query over `transactions_eur`, `dim_accounts`,
    /// `dim_clients` and `fraud_reports` (no rows when every rule is disabled).
    pub fn alerts_sql(&self) -> String {
        let mut selects = self.rule_selects();
        if selects.is_empty() {
            selects.push(
                "SELECT transaction_id, account_id, booked_at, channel, amount_eur, \
                 CAST(NULL AS VARCHAR) AS rule_id FROM transactions_eur WHERE false"
                    .to_owned(),
            );
        }
        render(
            ALERTS,
            &[
                ("rules", selects.join("\nUNION ALL\n")),
                ("weight", self.weight_sql()),
                ("bonus", self.multi_rule_bonus.to_string()),
                ("date_key", date_key("s.booked_at")),
                ("account_valid", valid_at("a", "s.booked_at")),
                ("client_valid", valid_at("c", "s.booked_at")),
            ],
        )
    }
}

/// The frame of the alerts query; `{rules}` is the union of the enabled rules.
const ALERTS: &str = "\
WITH history AS (
  SELECT t.transaction_id, t.account_id, t.booked_at, t.direction, t.channel, t.country, t.amount_eur,
         c.first_in_country,
         AVG(CAST(CASE WHEN t.direction = 'debit' THEN t.amount_eur END AS DOUBLE)) OVER (
             PARTITION BY t.account_id ORDER BY t.booked_at, t.transaction_id
             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prior_debit_mean,
         COUNT(CASE WHEN t.direction = 'debit' THEN 1 END) OVER (
             PARTITION BY t.account_id ORDER BY t.booked_at, t.transaction_id
             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prior_debits,
         LAG(t.booked_at) OVER (PARTITION BY t.account_id ORDER BY t.booked_at, t.transaction_id) AS previous_at,
         MIN(t.booked_at) OVER (PARTITION BY t.account_id ORDER BY t.booked_at, t.transaction_id) AS first_at
  FROM transactions_eur t
  JOIN (SELECT account_id, country, MIN(booked_at) AS first_in_country
        FROM transactions_eur GROUP BY account_id, country) c
    ON c.account_id = t.account_id AND c.country = t.country),
alerts AS (
{rules}),
scored AS (
  SELECT *, COUNT(*) OVER (PARTITION BY transaction_id) AS rules_fired FROM alerts),
reports AS (
  SELECT transaction_id, confirmed FROM (
    SELECT transaction_id, confirmed,
           ROW_NUMBER() OVER (PARTITION BY transaction_id ORDER BY reported_at DESC, confirmed DESC) AS n
    FROM fraud_reports) WHERE n = 1)
SELECT concat(s.transaction_id, ':', s.rule_id) AS alert_id,
       s.transaction_id,
       {date_key} AS date_key,
       COALESCE(c.client_key, -1) AS client_key,
       COALESCE(a.account_key, -1) AS account_key,
       s.rule_id,
       CAST(least(100, {weight} + {bonus} * (s.rules_fired - 1)) AS INT) AS risk_score,
       s.amount_eur,
       s.channel,
       r.confirmed,
       s.booked_at
FROM scored s
LEFT JOIN dim_accounts a ON a.account_id = s.account_id AND {account_valid}
LEFT JOIN dim_clients c ON c.client_id = a.client_id AND {client_valid}
LEFT JOIN reports r ON r.transaction_id = s.transaction_id";

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the query can raise alerts of `rule` (a select or a history condition).
    fn fires(sql: &str, rule: &str) -> bool {
        sql.contains(&format!("'{rule}' AS rule_id")) || sql.contains(&format!("THEN '{rule}' END"))
    }

    #[test]
    fn the_defaults_are_the_contract_thresholds_and_make_sense() {
        let rules = FraudRules::default();
        assert!(rules.problems().is_empty());
        let sql = rules.alerts_sql();
        for rule in RULE_IDS {
            assert!(fires(&sql, rule), "{rule}");
        }
    }

    #[test]
    fn disabled_rules_leave_the_query() {
        let mut rules = FraudRules::default();
        rules.velocity.enabled = false;
        let sql = rules.alerts_sql();
        assert!(!fires(&sql, "velocity"));
        rules.large_amount.enabled = false;
        assert!(!fires(&rules.alerts_sql(), "large_amount"));
        assert!(fires(&rules.alerts_sql(), "new_country"));
    }

    #[test]
    fn a_configuration_overrides_only_what_it_names() {
        let rules: FraudRules =
            toml::from_str("[velocity]\nmin_count = 4\n").expect("configuration");
        assert_eq!(rules.velocity.min_count, 4);
        assert_eq!(rules.velocity.window_seconds, 600);
        assert_eq!(rules.large_amount, LargeAmount::default());
    }

    #[test]
    fn nonsense_thresholds_are_reported() {
        let mut rules = FraudRules::default();
        rules.structuring.lower_bound_eur = 20_000.0;
        rules.night_atm.to_hour_utc = 30;
        assert_eq!(rules.problems().len(), 2);
    }
}
