//! The raw entities of the contract: their columns, types, keys and references.
//!
//! Everything ingestion checks is declared here as data, so the rules have one
//! source: the contract's tables, transcribed once.

use std::fmt;

/// The type of a contract column, as written in the data contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Free text.
    Text,
    /// A calendar day, ISO `YYYY-MM-DD` (other formats by configuration).
    Date,
    /// A point in time, ISO 8601; no offset means UTC.
    Timestamp,
    /// An exact decimal with this many digits after the point (at most 18 digits).
    Decimal {
        /// Digits after the decimal point.
        scale: i8,
    },
    /// A 32-bit integer.
    Int,
    /// `true/false`, `1/0`, `yes/no`.
    Bool,
    /// One of the listed values, case-insensitive on input, lower case once processed.
    Code(&'static [&'static str]),
    /// An ISO 3166-1 alpha-2 country, upper case once processed.
    Country,
    /// An ISO 4217 currency, upper case once processed.
    Currency,
}

/// A check on a parsed value beyond its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Strictly greater than zero.
    Positive,
    /// Zero or more.
    NonNegative,
    /// Between `min` and `max`, both included (integers).
    Range {
        /// Lowest accepted value.
        min: i64,
        /// Highest accepted value.
        max: i64,
    },
    /// Exactly four ASCII digits (merchant category codes).
    FourDigits,
    /// An ISO 13616 IBAN with a valid mod-97 checksum.
    Iban,
}

/// One column of a raw entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The exact column name.
    pub name: &'static str,
    /// Its type.
    pub ty: ColumnType,
    /// Whether a value is required (the contract's columns without `?`).
    pub required: bool,
    /// A further check on the parsed value.
    pub check: Option<Check>,
    /// Personal data: never reaches the warehouse, logs, reports or alerts in clear.
    pub personal: bool,
}

impl Column {
    const fn new(name: &'static str, ty: ColumnType) -> Column {
        Column {
            name,
            ty,
            required: true,
            check: None,
            personal: false,
        }
    }
    const fn optional(self) -> Column {
        Column {
            required: false,
            ..self
        }
    }
    const fn check(self, check: Check) -> Column {
        Column {
            check: Some(check),
            ..self
        }
    }
    const fn personal(self) -> Column {
        Column {
            personal: true,
            ..self
        }
    }
}

/// A foreign key: `column` must name an accepted row of `parent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference {
    /// The referring column.
    pub column: &'static str,
    /// The entity whose key it names.
    pub parent: Entity,
}

/// Two dates that must come in order: `later` ≥ `earlier` (or > when `strict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateOrder {
    /// The column that comes first.
    pub earlier: &'static str,
    /// The column that must not come before it.
    pub later: &'static str,
    /// Whether equal dates break the rule too.
    pub strict: bool,
}

/// Everything the contract says about one raw entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntitySpec {
    /// Which entity.
    pub entity: Entity,
    /// The default file name pattern in the raw folder.
    pub file_pattern: &'static str,
    /// The columns in contract order.
    pub columns: &'static [Column],
    /// The columns that identify a row; a repeat is a `duplicate`.
    pub key: &'static [&'static str],
    /// Foreign keys to other entities.
    pub references: &'static [Reference],
    /// Date columns that must come in order.
    pub date_order: &'static [DateOrder],
    /// Columns of which at least one must have a value.
    pub one_of: &'static [&'static str],
}

impl EntitySpec {
    /// The column named `name`, if the entity has one.
    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// A raw entity of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Entity {
    /// Bank products (accounts, cards, loans, …).
    Products,
    /// The bank's clients.
    Clients,
    /// Accounts held by clients.
    Accounts,
    /// Booked, pending and reversed transactions.
    Transactions,
    /// Daily exchange rates against the euro.
    FxRates,
    /// Loans granted.
    Loans,
    /// Loan installments, fees and repayments.
    Payments,
    /// Survey answers.
    Satisfaction,
    /// Outcomes of fraud investigations.
    FraudReports,
}

impl Entity {
    /// Every entity, parents before children: the order ingestion follows.
    pub const ALL: [Entity; 9] = [
        Entity::Products,
        Entity::Clients,
        Entity::Accounts,
        Entity::Transactions,
        Entity::FxRates,
        Entity::Loans,
        Entity::Payments,
        Entity::Satisfaction,
        Entity::FraudReports,
    ];

    /// The entity's name: its folder in every layer and its key in configuration.
    pub fn name(self) -> &'static str {
        self.spec()
            .file_pattern
            .split('*')
            .next()
            .unwrap_or_default()
    }

    /// Parses an entity name such as `transactions`.
    pub fn parse(name: &str) -> Option<Entity> {
        Entity::ALL.into_iter().find(|e| e.name() == name)
    }

    /// The contract's description of this entity.
    pub fn spec(self) -> &'static EntitySpec {
        match self {
            Entity::Products => &PRODUCTS,
            Entity::Clients => &CLIENTS,
            Entity::Accounts => &ACCOUNTS,
            Entity::Transactions => &TRANSACTIONS,
            Entity::FxRates => &FX_RATES,
            Entity::Loans => &LOANS,
            Entity::Payments => &PAYMENTS,
            Entity::Satisfaction => &SATISFACTION,
            Entity::FraudReports => &FRAUD_REPORTS,
        }
    }

    /// The entities this one refers to, each once, parents first.
    pub fn parents(self) -> Vec<Entity> {
        let refers = |parent: &Entity| self.spec().references.iter().any(|r| r.parent == *parent);
        Entity::ALL.into_iter().filter(refers).collect()
    }

    /// The entities that refer to this one.
    pub fn children(self) -> Vec<Entity> {
        Entity::ALL
            .into_iter()
            .filter(|child| child.parents().contains(&self))
            .collect()
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

use Check::*;
use ColumnType::*;

const MONEY: ColumnType = Decimal { scale: 2 };
const RATE: ColumnType = Decimal { scale: 4 };

static PRODUCTS: EntitySpec = EntitySpec {
    entity: Entity::Products,
    file_pattern: "products*.csv",
    columns: &[
        Column::new("product_id", Text),
        Column::new("name", Text),
        Column::new(
            "category",
            Code(&[
                "current_account",
                "savings",
                "credit_card",
                "personal_loan",
                "mortgage",
                "insurance",
                "investment",
            ]),
        ),
        Column::new("monthly_fee", MONEY).check(NonNegative),
        Column::new("interest_rate", RATE).optional(),
        Column::new("currency", Currency),
        Column::new("active", Bool),
    ],
    key: &["product_id"],
    references: &[],
    date_order: &[],
    one_of: &[],
};

static CLIENTS: EntitySpec = EntitySpec {
    entity: Entity::Clients,
    file_pattern: "clients*.csv",
    columns: &[
        Column::new("client_id", Text),
        Column::new("first_name", Text).personal(),
        Column::new("last_name", Text).personal(),
        Column::new("birth_date", Date).personal(),
        Column::new("gender", Code(&["f", "m", "x"])).optional(),
        Column::new("email", Text).optional().personal(),
        Column::new("phone", Text).optional().personal(),
        Column::new("city", Text),
        Column::new("country", Country),
        Column::new(
            "segment",
            Code(&["retail", "premium", "private", "business"]),
        ),
        Column::new("kyc_risk", Code(&["low", "medium", "high"])),
        Column::new("joined_on", Date),
        Column::new("updated_at", Timestamp),
    ],
    key: &["client_id"],
    references: &[],
    date_order: &[],
    one_of: &[],
};

static ACCOUNTS: EntitySpec = EntitySpec {
    entity: Entity::Accounts,
    file_pattern: "accounts*.csv",
    columns: &[
        Column::new("account_id", Text),
        Column::new("client_id", Text),
        Column::new("product_id", Text),
        Column::new("iban", Text).optional().check(Iban).personal(),
        Column::new("currency", Currency),
        Column::new("opened_on", Date),
        Column::new("closed_on", Date).optional(),
        Column::new("status", Code(&["active", "dormant", "closed", "frozen"])),
        Column::new("branch_code", Text),
        Column::new("updated_at", Timestamp),
    ],
    key: &["account_id"],
    references: &[
        Reference {
            column: "client_id",
            parent: Entity::Clients,
        },
        Reference {
            column: "product_id",
            parent: Entity::Products,
        },
    ],
    date_order: &[DateOrder {
        earlier: "opened_on",
        later: "closed_on",
        strict: false,
    }],
    one_of: &[],
};

static TRANSACTIONS: EntitySpec = EntitySpec {
    entity: Entity::Transactions,
    file_pattern: "transactions*.csv",
    columns: &[
        Column::new("transaction_id", Text),
        Column::new("account_id", Text),
        Column::new("booked_at", Timestamp),
        Column::new("value_date", Date),
        Column::new("amount", MONEY).check(Positive),
        Column::new("direction", Code(&["credit", "debit"])),
        Column::new("currency", Currency),
        Column::new(
            "channel",
            Code(&[
                "branch",
                "atm",
                "card",
                "online",
                "mobile",
                "transfer",
                "direct_debit",
            ]),
        ),
        Column::new("merchant_name", Text).optional(),
        Column::new("mcc", Text).optional().check(FourDigits),
        Column::new("counterparty_iban", Text)
            .optional()
            .check(Iban)
            .personal(),
        Column::new("country", Country),
        Column::new("balance_after", MONEY).optional(),
        Column::new("status", Code(&["booked", "pending", "reversed"])),
        Column::new("description", Text).optional(),
    ],
    key: &["transaction_id"],
    references: &[Reference {
        column: "account_id",
        parent: Entity::Accounts,
    }],
    date_order: &[],
    one_of: &[],
};

static FX_RATES: EntitySpec = EntitySpec {
    entity: Entity::FxRates,
    file_pattern: "fx_rates*.csv",
    columns: &[
        Column::new("date", Date),
        Column::new("currency", Currency),
        Column::new("per_eur", Decimal { scale: 6 }).check(Positive),
    ],
    key: &["date", "currency"],
    references: &[],
    date_order: &[],
    one_of: &[],
};

static LOANS: EntitySpec = EntitySpec {
    entity: Entity::Loans,
    file_pattern: "loans*.csv",
    columns: &[
        Column::new("loan_id", Text),
        Column::new("client_id", Text),
        Column::new("account_id", Text),
        Column::new("product_id", Text),
        Column::new("principal", MONEY).check(Positive),
        Column::new("currency", Currency),
        Column::new("annual_rate", RATE).check(NonNegative),
        Column::new("term_months", Int).check(Positive),
        Column::new("start_date", Date),
        Column::new("maturity_date", Date),
        Column::new(
            "status",
            Code(&["current", "late", "default", "repaid", "written_off"]),
        ),
    ],
    key: &["loan_id"],
    references: &[
        Reference {
            column: "client_id",
            parent: Entity::Clients,
        },
        Reference {
            column: "account_id",
            parent: Entity::Accounts,
        },
        Reference {
            column: "product_id",
            parent: Entity::Products,
        },
    ],
    date_order: &[DateOrder {
        earlier: "start_date",
        later: "maturity_date",
        strict: true,
    }],
    one_of: &[],
};

static PAYMENTS: EntitySpec = EntitySpec {
    entity: Entity::Payments,
    file_pattern: "payments*.csv",
    columns: &[
        Column::new("payment_id", Text),
        Column::new("loan_id", Text).optional(),
        Column::new("account_id", Text),
        Column::new("due_date", Date),
        Column::new("paid_at", Timestamp).optional(),
        Column::new("amount", MONEY).check(Positive),
        Column::new("currency", Currency),
        Column::new(
            "kind",
            Code(&["installment", "fee", "card_repayment", "transfer"]),
        ),
        Column::new("status", Code(&["paid", "late", "missed", "pending"])),
    ],
    key: &["payment_id"],
    references: &[
        Reference {
            column: "loan_id",
            parent: Entity::Loans,
        },
        Reference {
            column: "account_id",
            parent: Entity::Accounts,
        },
    ],
    date_order: &[],
    one_of: &[],
};

static SATISFACTION: EntitySpec = EntitySpec {
    entity: Entity::Satisfaction,
    file_pattern: "satisfaction*.jsonl",
    columns: &[
        Column::new("survey_id", Text),
        Column::new("client_id", Text),
        Column::new("product_id", Text).optional(),
        Column::new("channel", Code(&["web", "app", "branch", "phone", "email"])),
        Column::new("answered_at", Timestamp),
        Column::new("csat", Int)
            .optional()
            .check(Range { min: 1, max: 5 }),
        Column::new("nps", Int)
            .optional()
            .check(Range { min: 0, max: 10 }),
        Column::new("comment", Text).optional(),
    ],
    key: &["survey_id"],
    references: &[
        Reference {
            column: "client_id",
            parent: Entity::Clients,
        },
        Reference {
            column: "product_id",
            parent: Entity::Products,
        },
    ],
    date_order: &[],
    one_of: &["csat", "nps"],
};

static FRAUD_REPORTS: EntitySpec = EntitySpec {
    entity: Entity::FraudReports,
    file_pattern: "fraud_reports*.csv",
    columns: &[
        Column::new("transaction_id", Text),
        Column::new("reported_at", Timestamp),
        Column::new("confirmed", Bool),
        Column::new("reason", Text).optional(),
    ],
    key: &["transaction_id", "reported_at"],
    references: &[Reference {
        column: "transaction_id",
        parent: Entity::Transactions,
    }],
    date_order: &[],
    one_of: &[],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_and_children_follow_the_contract() {
        assert_eq!(
            Entity::Accounts.parents(),
            [Entity::Products, Entity::Clients]
        );
        assert_eq!(Entity::FraudReports.parents(), [Entity::Transactions]);
        assert!(Entity::Clients.parents().is_empty());
        assert_eq!(Entity::Transactions.children(), [Entity::FraudReports]);
    }

    #[test]
    fn names_round_trip() {
        for entity in Entity::ALL {
            assert_eq!(Entity::parse(entity.name()), Some(entity));
        }
        assert_eq!(Entity::FxRates.name(), "fx_rates");
        assert_eq!(Entity::FraudReports.name(), "fraud_reports");
    }

    #[test]
    fn declarations_are_consistent() {
        for entity in Entity::ALL {
            let spec = entity.spec();
            assert_eq!(spec.entity, entity);
            let names = spec.key.iter().chain(spec.one_of);
            let names = names.chain(spec.references.iter().map(|r| &r.column));
            for name in names {
                assert!(
                    spec.column(name).is_some(),
                    "{entity}: unknown column {name}"
                );
            }
            for order in spec.date_order {
                assert!(spec.column(order.earlier).is_some() && spec.column(order.later).is_some());
            }
            for reference in spec.references {
                let parent = Entity::ALL.iter().position(|e| *e == reference.parent);
                let child = Entity::ALL.iter().position(|e| *e == entity);
                assert!(
                    parent < child,
                    "{entity}: parent {} comes later",
                    reference.parent
                );
            }
        }
    }
}
