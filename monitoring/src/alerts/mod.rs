//! Alerts: failed checks told to people, once, then again only when they change or
//! after a while, and a recovery message when they pass again.
//!
//! [`decide`] turns a run's verdicts and the remembered [`AlertState`] into the alerts
//! to send (pure: the state file and the clock are the caller's); [`channels`] delivers
//! them to the log, a JSON-lines file, a webhook (Slack and Teams read its `text`) and
//! e-mail, each with its minimum severity. A delivery that fails is retried, logged
//! and returned, never dropped silently.
//!
//! ```toml
//! [quality.alerts]
//! repeat_after_hours = 24
//!
//! [[quality.alerts.channels]]
//! min_severity = "warn"
//! jsonl = { path = "data/monitoring/alerts.jsonl" }
//!
//! [[quality.alerts.channels]]
//! min_severity = "error"
//! webhook = { url = "https://hooks.slack.com/services/…" }
//!
//! [[quality.alerts.channels]]
//! min_severity = "error"
//! email = { host = "smtp.bank.example", from = "bankpipe@bank.example", to = ["data-team@bank.example"] }
//! ```

pub mod channels;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::checks::{Outcome, Severity, Verdict};

pub use channels::{Channel, ChannelConfig, Delivery, deliver};

/// The `[quality.alerts]` settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertConfig {
    /// Where alerts go (none: only the run's output shows the failures).
    pub channels: Vec<ChannelConfig>,
    /// A check still failing the same way alerts again after this many hours.
    pub repeat_after_hours: f64,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            channels: Vec::new(),
            repeat_after_hours: 24.0,
        }
    }
}

/// Whether an alert opens (or repeats) a problem, or closes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertKind {
    /// The check fails.
    Failing,
    /// The check, failing before, passes again.
    Recovered,
}

/// One alert: what, where, how bad, since when, and where to read more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Failing or recovered.
    pub kind: AlertKind,
    /// The check's id.
    pub check: String,
    /// The table checked.
    pub table: String,
    /// How bad it is.
    pub severity: Severity,
    /// Who owns the check.
    pub owner: Option<String>,
    /// What was seen.
    pub observed: String,
    /// What was expected.
    pub expected: String,
    /// When the check started failing.
    pub since: DateTime<Utc>,
    /// The run that saw it.
    pub run_id: String,
    /// The run's quality report.
    pub report: String,
}

impl Alert {
    /// The alert as one line a person reads.
    pub fn message(&self) -> String {
        match self.kind {
            AlertKind::Failing => format!(
                "[{}] {} failed on {}: {} (expected {}), failing since {} — run {}, report {}",
                self.severity,
                self.check,
                self.table,
                self.observed,
                self.expected,
                self.since.format("%Y-%m-%d %H:%M UTC"),
                self.run_id,
                self.report
            ),
            AlertKind::Recovered => format!(
                "[{}] {} on {} passes again ({}), after failing since {} — run {}, report {}",
                self.severity,
                self.check,
                self.table,
                self.observed,
                self.since.format("%Y-%m-%d %H:%M UTC"),
                self.run_id,
                self.report
            ),
        }
    }
}

/// A check that is failing, as last told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenProblem {
    /// When it started failing.
    pub since: DateTime<Utc>,
    /// When it was last alerted.
    pub last_sent: DateTime<Utc>,
    /// What was seen when it was last alerted.
    pub observed: String,
}

/// The checks failing so far, by id: what [`decide`] remembers between runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertState {
    /// Open problems by check id.
    pub open: BTreeMap<String, OpenProblem>,
}

impl AlertState {
    /// Reads the state file (an absent file is an empty state).
    pub fn load(path: &Path) -> std::io::Result<AlertState> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AlertState::default()),
            Err(e) => Err(e),
        }
    }

    /// Writes the state file.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text)
    }
}

/// The alerts a run's verdicts call for, given what was told before, and the state
/// to remember: a check that starts failing alerts; one still failing alerts again
/// only when what is seen changed or `config.repeat_after_hours` passed; one that
/// passes after failing sends a recovery. Checks not judged change nothing.
pub fn decide(
    verdicts: &[Verdict],
    state: &mut AlertState,
    config: &AlertConfig,
    now: DateTime<Utc>,
    run_id: &str,
    report: &str,
) -> Vec<Alert> {
    let alert = |kind, verdict: &Verdict, since| Alert {
        kind,
        check: verdict.check.clone(),
        table: verdict.table.clone(),
        severity: verdict.severity,
        owner: verdict.owner.clone(),
        observed: verdict.observed.clone(),
        expected: verdict.expected.clone(),
        since,
        run_id: run_id.to_owned(),
        report: report.to_owned(),
    };
    let repeat_after = chrono::Duration::seconds((config.repeat_after_hours * 3600.0) as i64);
    let mut alerts = Vec::new();
    for verdict in verdicts {
        match (verdict.outcome, state.open.get_mut(&verdict.check)) {
            (Outcome::Fail, None) => {
                alerts.push(alert(AlertKind::Failing, verdict, now));
                state.open.insert(
                    verdict.check.clone(),
                    OpenProblem {
                        since: now,
                        last_sent: now,
                        observed: verdict.observed.clone(),
                    },
                );
            }
            (Outcome::Fail, Some(open)) => {
                if open.observed != verdict.observed || now - open.last_sent >= repeat_after {
                    alerts.push(alert(AlertKind::Failing, verdict, open.since));
                    open.last_sent = now;
                    open.observed = verdict.observed.clone();
                }
            }
            (Outcome::Pass, Some(open)) => {
                alerts.push(alert(AlertKind::Recovered, verdict, open.since));
                state.open.remove(&verdict.check);
            }
            (Outcome::Pass | Outcome::NotJudged, None) | (Outcome::NotJudged, Some(_)) => {}
        }
    }
    alerts
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn verdict(outcome: Outcome, observed: &str) -> Verdict {
        Verdict {
            check: "rows_usual".into(),
            table: "fact_transactions".into(),
            severity: Severity::Warn,
            owner: None,
            outcome,
            observed: observed.into(),
            expected: "9000–11000".into(),
        }
    }

    #[test]
    fn alert_once_again_on_change_or_after_a_while_then_recover() {
        let config = AlertConfig::default();
        let mut state = AlertState::default();
        let at = |hour: u32| {
            Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap()
                + chrono::Duration::hours(hour.into())
        };
        let mut run = |hour, outcome, observed: &str| {
            decide(
                &[verdict(outcome, observed)],
                &mut state,
                &config,
                at(hour),
                "run",
                "report",
            )
            .into_iter()
            .map(|a| (a.kind, a.since))
            .collect::<Vec<_>>()
        };
        assert_eq!(
            run(0, Outcome::Fail, "rows 4900"),
            [(AlertKind::Failing, at(0))]
        );
        assert!(
            run(1, Outcome::Fail, "rows 4900").is_empty(),
            "the same failure is told once"
        );
        assert_eq!(
            run(2, Outcome::Fail, "rows 3000"),
            [(AlertKind::Failing, at(0))],
            "it changed: told again, failing since the start"
        );
        assert!(run(3, Outcome::NotJudged, "").is_empty());
        assert!(
            run(25, Outcome::Fail, "rows 3000").is_empty(),
            "23 h after the last alert"
        );
        assert_eq!(
            run(26, Outcome::Fail, "rows 3000"),
            [(AlertKind::Failing, at(0))]
        );
        assert_eq!(
            run(27, Outcome::Pass, "rows 10000"),
            [(AlertKind::Recovered, at(0))]
        );
        assert!(run(28, Outcome::Pass, "rows 10000").is_empty());
    }
}
