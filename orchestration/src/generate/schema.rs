//! The raw entities and their columns, exactly as the data contract names them.

/// The type of a column; the JSON Lines writer uses it to emit numbers and booleans bare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Code,
    Date,
    Timestamp,
    Decimal,
    Int,
    Bool,
}

/// One column of an entity.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub nullable: bool,
}

pub(crate) const fn req(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        nullable: false,
    }
}

const fn opt(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        nullable: true,
    }
}

use Kind::{Bool, Code, Date, Decimal, Int, Text, Timestamp};

const CLIENTS: &[Column] = &[
    req("client_id", Text),
    req("first_name", Text),
    req("last_name", Text),
    req("birth_date", Date),
    opt("gender", Code),
    opt("email", Text),
    opt("phone", Text),
    req("city", Text),
    req("country", Code),
    req("segment", Code),
    req("kyc_risk", Code),
    req("joined_on", Date),
    req("updated_at", Timestamp),
];

const PRODUCTS: &[Column] = &[
    req("product_id", Text),
    req("name", Text),
    req("category", Code),
    req("monthly_fee", Decimal),
    opt("interest_rate", Decimal),
    req("currency", Code),
    req("active", Bool),
];

const ACCOUNTS: &[Column] = &[
    req("account_id", Text),
    req("client_id", Text),
    req("product_id", Text),
    opt("iban", Text),
    req("currency", Code),
    req("opened_on", Date),
    opt("closed_on", Date),
    req("status", Code),
    req("branch_code", Text),
    req("updated_at", Timestamp),
];

const TRANSACTIONS: &[Column] = &[
    req("transaction_id", Text),
    req("account_id", Text),
    req("booked_at", Timestamp),
    req("value_date", Date),
    req("amount", Decimal),
    req("direction", Code),
    req("currency", Code),
    req("channel", Code),
    opt("merchant_name", Text),
    opt("mcc", Code),
    opt("counterparty_iban", Text),
    req("country", Code),
    opt("balance_after", Decimal),
    req("status", Code),
    opt("description", Text),
];

const LOANS: &[Column] = &[
    req("loan_id", Text),
    req("client_id", Text),
    req("account_id", Text),
    req("product_id", Text),
    req("principal", Decimal),
    req("currency", Code),
    req("annual_rate", Decimal),
    req("term_months", Int),
    req("start_date", Date),
    req("maturity_date", Date),
    req("status", Code),
];

const PAYMENTS: &[Column] = &[
    req("payment_id", Text),
    opt("loan_id", Text),
    req("account_id", Text),
    req("due_date", Date),
    opt("paid_at", Timestamp),
    req("amount", Decimal),
    req("currency", Code),
    req("kind", Code),
    req("status", Code),
];

const SATISFACTION: &[Column] = &[
    req("survey_id", Text),
    req("client_id", Text),
    opt("product_id", Text),
    req("channel", Code),
    req("answered_at", Timestamp),
    opt("csat", Int),
    opt("nps", Int),
    opt("comment", Text),
];

const FX_RATES: &[Column] = &[
    req("date", Date),
    req("currency", Code),
    req("per_eur", Decimal),
];

const FRAUD_REPORTS: &[Column] = &[
    req("transaction_id", Text),
    req("reported_at", Timestamp),
    req("confirmed", Bool),
    opt("reason", Text),
];

/// A raw entity of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Entity {
    Clients,
    Products,
    Accounts,
    Transactions,
    Loans,
    Payments,
    Satisfaction,
    FxRates,
    FraudReports,
}

impl Entity {
    pub(crate) const ALL: [Entity; 9] = [
        Self::Clients,
        Self::Products,
        Self::Accounts,
        Self::Transactions,
        Self::Loans,
        Self::Payments,
        Self::Satisfaction,
        Self::FxRates,
        Self::FraudReports,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Clients => "clients",
            Self::Products => "products",
            Self::Accounts => "accounts",
            Self::Transactions => "transactions",
            Self::Loans => "loans",
            Self::Payments => "payments",
            Self::Satisfaction => "satisfaction",
            Self::FxRates => "fx_rates",
            Self::FraudReports => "fraud_reports",
        }
    }

    pub(crate) fn columns(self) -> &'static [Column] {
        match self {
            Self::Clients => CLIENTS,
            Self::Products => PRODUCTS,
            Self::Accounts => ACCOUNTS,
            Self::Transactions => TRANSACTIONS,
            Self::Loans => LOANS,
            Self::Payments => PAYMENTS,
            Self::Satisfaction => SATISFACTION,
            Self::FxRates => FX_RATES,
            Self::FraudReports => FRAUD_REPORTS,
        }
    }

    /// True for the one JSON Lines entity.
    pub(crate) fn is_jsonl(self) -> bool {
        self == Self::Satisfaction
    }

    /// The file name of a single-file extract (`clients.csv`, `satisfaction.jsonl`).
    pub(crate) fn file_name(self) -> String {
        let ext = if self.is_jsonl() { "jsonl" } else { "csv" };
        format!("{}.{ext}", self.name())
    }

    /// Position of column `name`.
    pub(crate) fn index(self, name: &str) -> Option<usize> {
        self.columns().iter().position(|c| c.name == name)
    }

    /// Position in [`Entity::ALL`], used to derive a random stream.
    pub(crate) fn ordinal(self) -> u64 {
        Self::ALL.iter().position(|&e| e == self).unwrap_or(0) as u64
    }
}
