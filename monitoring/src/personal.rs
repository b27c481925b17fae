//! The contract's personal columns (names, e-mail, phone, birth dates, IBANs): their
//! values never leave in clear, in reports, alerts, samples or stored metrics.

/// What a personal value is shown as.
pub const MASK: &str = "***";

/// Whether a column of that name is personal data in the contract (any entity).
pub fn is_personal(name: &str) -> bool {
    contract::Entity::ALL.iter().any(|entity| {
        entity
            .spec()
            .columns
            .iter()
            .any(|c| c.personal && c.name.eq_ignore_ascii_case(name))
    })
}

/// `value` of `column` as it may be shown: masked when the column is personal.
pub fn shown<'a>(column: &str, value: &'a str) -> &'a str {
    if is_personal(column) { MASK } else { value }
}
