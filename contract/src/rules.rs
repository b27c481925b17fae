//! The stable rule ids under which ingestion quarantines a row.
//!
//! The order of [`RuleId::ALL`] is the contract's order: a row that breaks several
//! rules is quarantined once, under the first of them.

use std::fmt;

/// Why a row was quarantined. The string form ([`RuleId::as_str`]) is stable and
/// is what the quarantine tables and reports carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleId {
    /// Too many or too few fields, or broken quoting.
    MalformedRecord,
    /// Bytes that are not valid in the declared encoding.
    InvalidEncoding,
    /// A required value is absent.
    MissingRequired,
    /// A value does not parse as its type.
    Unparseable,
    /// A value breaks a bound (amount ≤ 0, csat outside 1–5, …).
    OutOfRange,
    /// A code outside the listed values (ISO codes included).
    UnknownCode,
    /// An IBAN whose ISO 13616 checksum fails.
    InvalidIban,
    /// Dates in the wrong order (closed before opened, maturity before start).
    DateOrder,
    /// The key of an earlier row repeated (the first row wins).
    Duplicate,
    /// A row replaced by a later delivery of the same key with other values (files
    /// are deliveries in name order; the latest one wins). Not one of the contract's
    /// ingestion rules: bankpipe's answer to re-delivered rows, such as a transaction
    /// whose status changed.
    Superseded,
    /// A reference to a parent row that does not exist.
    OrphanReference,
}

impl RuleId {
    /// Every rule, in the contract's precedence order.
    pub const ALL: [RuleId; 11] = [
        RuleId::MalformedRecord,
        RuleId::InvalidEncoding,
        RuleId::MissingRequired,
        RuleId::Unparseable,
        RuleId::OutOfRange,
        RuleId::UnknownCode,
        RuleId::InvalidIban,
        RuleId::DateOrder,
        RuleId::Duplicate,
        RuleId::Superseded,
        RuleId::OrphanReference,
    ];

    /// The stable id written to quarantine tables, e.g. `missing_required`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::MalformedRecord => "malformed_record",
            RuleId::InvalidEncoding => "invalid_encoding",
            RuleId::MissingRequired => "missing_required",
            RuleId::Unparseable => "unparseable",
            RuleId::OutOfRange => "out_of_range",
            RuleId::UnknownCode => "unknown_code",
            RuleId::InvalidIban => "invalid_iban",
            RuleId::DateOrder => "date_order",
            RuleId::Duplicate => "duplicate",
            RuleId::Superseded => "superseded",
            RuleId::OrphanReference => "orphan_reference",
        }
    }

    /// Parses a stable id back into the rule.
    pub fn parse(id: &str) -> Option<RuleId> {
        RuleId::ALL.into_iter().find(|rule| rule.as_str() == id)
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_keep_contract_order() {
        for rule in RuleId::ALL {
            assert_eq!(RuleId::parse(rule.as_str()), Some(rule));
        }
        let mut sorted = RuleId::ALL;
        sorted.sort();
        assert_eq!(sorted, RuleId::ALL, "enum order is precedence order");
        assert_eq!(RuleId::parse("nope"), None);
    }
}
