//! Fraud detection: the contract's six rules as named, configurable rules over the
//! transactions, producing `fact_fraudes` (one alert per rule and transaction).
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
//! "Earlier" is in `booked_at` order (then `transaction_id`), whatever the status;
//! amounts compare in EUR ([`crate::banking::facts::TRANSACTIONS_EUR`]). DataFusion sorts
//! the transactions by account and time; [`scan`] runs every rule in one streaming pass
//! over that order; the candidates are scored and joined to the dimensions in SQL.
//!
//! The risk score (0–100) is the rule's `weight`, plus `multi_rule_bonus` for each other
//! rule that fired on the same transaction. `confirmed` comes from the latest fraud
//! report of the transaction (null while none).

pub mod scan;

use datafusion::prelude::{DataFrame, SessionContext};
use futures::StreamExt;
use serde::Deserialize;

use crate::error::{Result, TransformError};
use crate::sql::{date_key, render, valid_at};

pub use scan::Detector;

/// The fraud rules and their thresholds (the `[model.fraud]` table of the configuration).
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

impl FraudRules {
    /// Each rule's id, whether it runs and its weight, in the contract's order.
    pub fn rules(&self) -> [(&'static str, bool, u32); 6] {
        [
            (
                "large_amount",
                self.large_amount.enabled,
                self.large_amount.weight,
            ),
            ("velocity", self.velocity.enabled, self.velocity.weight),
            (
                "structuring",
                self.structuring.enabled,
                self.structuring.weight,
            ),
            (
                "new_country",
                self.new_country.enabled,
                self.new_country.weight,
            ),
            (
                "dormant_reactivation",
                self.dormant_reactivation.enabled,
                self.dormant_reactivation.weight,
            ),
            ("night_atm", self.night_atm.enabled, self.night_atm.weight),
        ]
    }

    /// Problems with the thresholds, one sentence each (empty when they make sense).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, what: &str| {
            if !ok {
                problems.push(format!("[model.fraud] {what}"));
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
        for (_, _, weight) in self.rules() {
            check(weight <= 100, "every weight must be between 0 and 100");
        }
        problems
    }

    /// The weight of each rule, as an SQL `CASE` over `rule_id`.
    fn weight_sql(&self) -> String {
        let arms: Vec<String> = self
            .rules()
            .iter()
            .map(|(rule, _, weight)| format!("WHEN '{rule}' THEN {weight}"))
            .collect();
        format!("CASE rule_id {} ELSE 0 END", arms.join(" "))
    }

    /// `fact_fraudes`: runs the rules over `transactions_eur` in `ctx` (registering
    /// their candidates as `fraud_candidates`) and returns the plan of the alerts,
    /// scored and joined to `dim_accounts`, `dim_clients` and `fraud_reports`.
    pub async fn alerts(&self, ctx: &SessionContext) -> Result<DataFrame> {
        let error = |e| TransformError::datafusion("fact_fraudes", e);
        let mut detector = Detector::new(self);
        if self.rules().iter().any(|(_, enabled, _)| *enabled) {
            let mut stream = ctx
                .sql(SCAN_INPUT)
                .await
                .map_err(error)?
                .execute_stream()
                .await
                .map_err(error)?;
            while let Some(batch) = stream.next().await {
                detector.push(&batch.map_err(error)?)?;
            }
        }
        ctx.deregister_table("fraud_candidates").map_err(error)?;
        ctx.register_batch("fraud_candidates", detector.finish()?)
            .map_err(error)?;
        let sql = render(
            ALERTS,
            &[
                ("weight", self.weight_sql()),
                ("bonus", self.multi_rule_bonus.to_string()),
                ("date_key", date_key("s.booked_at")),
                ("account_valid", valid_at("a", "s.booked_at")),
                ("client_valid", valid_at("c", "s.booked_at")),
            ],
        );
        ctx.sql(&sql).await.map_err(error)
    }
}

/// What the pass reads: the transactions in account and time order.
const SCAN_INPUT: &str = "\
SELECT transaction_id, account_id, booked_at, direction, channel, country, amount_eur
FROM transactions_eur ORDER BY account_id, booked_at, transaction_id";

/// The alerts from the pass's candidates: scored, with keys and confirmation.
const ALERTS: &str = "\
WITH scored AS (
  SELECT *, COUNT(*) OVER (PARTITION BY transaction_id) AS rules_fired FROM fraud_candidates),
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

    #[test]
    fn the_defaults_make_sense() {
        assert!(FraudRules::default().problems().is_empty());
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
