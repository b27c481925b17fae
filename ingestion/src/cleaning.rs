//! Cleaning: what ingestion changes in the values on their way to the processed layer,
//! counted per column and action, so that a report can say what changed in how many
//! rows. The changes themselves happen while typing (see [`crate::typing`]).

use std::collections::BTreeMap;
use std::fmt;

/// One kind of change, with a stable id ([`Action::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Leading or trailing white space removed.
    Trim,
    /// A value of white space only, read as no value.
    BlankToNull,
    /// A configured null token (`NULL`, `N/A`, …), read as no value.
    NullToken,
    /// A code, country or currency written in the case the contract lists it in.
    NormaliseCase,
}

impl Action {
    /// The stable id, e.g. `normalise_case`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Trim => "trim",
            Action::BlankToNull => "blank_to_null",
            Action::NullToken => "null_token",
            Action::NormaliseCase => "normalise_case",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Values changed, per column and action.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cleaning(BTreeMap<(&'static str, Action), u64>);

impl Cleaning {
    /// Counts one value of `column` changed by `action`.
    pub fn record(&mut self, column: &'static str, action: Action) {
        *self.0.entry((column, action)).or_default() += 1;
    }

    /// The counts, by column then action.
    pub fn counts(&self) -> impl Iterator<Item = (&'static str, Action, u64)> + '_ {
        self.0
            .iter()
            .map(|(&(column, action), &n)| (column, action, n))
    }

    /// How many values `action` changed in `column`.
    pub fn get(&self, column: &str, action: Action) -> u64 {
        self.counts()
            .filter(|&(c, a, _)| c == column && a == action)
            .map(|(.., n)| n)
            .sum()
    }

    /// Whether nothing was changed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
