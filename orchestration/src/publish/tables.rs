//! The warehouse's tables as PostgreSQL sees them: keys, foreign keys, indexes and
//! column comments, declared here; the columns come from each Delta table's schema.
//!
//! Primary keys:
//! - dimensions: the surrogate key, unique per row (for the type 2 `dim_clients` and
//!   `dim_accounts`, per version); the `-1` unknown member is a row of each, so every
//!   fact's keys find one. `dim_dates` has no unknown member: no fact has a null or
//!   unknown day where it has a `date_key`.
//! - facts: the business id (`transaction_id`, `loan_id`, `payment_id`; `alert_id`,
//!   which is `transaction_id:rule_id`, for `fact_fraudes`; `revenue_id`, which is
//!   `revenue_type:date_key:account_key:client_key:product_key[:loan_id]`, for
//!   `fact_revenue`: the contract's grain, client × account × product × month × type,
//!   plus the loan, since a client can hold two loans of one product on one account).
//! - marts: their grain, which their `GROUP BY` makes unique (the current
//!   `client_key` × `month_key`, `product_key` × `month_key`, `month_key`,
//!   `date_key` × `channel` × `rule_id`).
//!
//! Foreign keys go from every fact (and `dim_satisfaction`) to the dimensions, and
//! from `fact_fraudes` to `fact_transactions` and `fact_payments` to `fact_loans`,
//! which ingestion's orphan rule guarantees. The marts have none: they are
//! aggregates, read as they are. Every foreign key gets an index (see
//! [`storage::postgres::create_statements`]), as do the date keys and the business ids
//! of the dimensions.

use std::collections::BTreeMap;

use arrow::datatypes::SchemaRef;
use storage::postgres::{ForeignKey, TableSpec};

/// What a table is, which sets when it loads: dimensions first, then facts, then marts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A dimension: facts refer to it.
    Dimension,
    /// A fact: refers to dimensions.
    Fact,
    /// A mart: an aggregate, refers to nothing.
    Mart,
}

/// One warehouse table's constraints and comments (its columns come from Delta).
#[derive(Debug, Clone, Copy)]
pub struct Declared {
    /// The table's name, in Delta (`<data>/transformed/…`) and in PostgreSQL.
    pub name: &'static str,
    /// Dimension, fact or mart.
    pub role: Role,
    /// The primary key's columns (empty: none).
    pub primary_key: &'static [&'static str],
    /// Foreign keys: (column, referenced table, referenced column).
    pub foreign_keys: &'static [(&'static str, &'static str, &'static str)],
    /// Indexes besides the foreign keys' (each a column list).
    pub indexes: &'static [&'static [&'static str]],
    /// Column comments, from the data contract. A comment on a column the Delta table
    /// does not have is left out.
    pub comments: &'static [(&'static str, &'static str)],
}

impl Declared {
    /// The PostgreSQL spec of this table in `schema`, with the columns of `columns`
    /// (the Delta table's Arrow schema, in its order).
    pub fn spec(&self, schema: &str, columns: SchemaRef) -> TableSpec {
        let names = |list: &[&str]| list.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        let comments: BTreeMap<String, String> = self
            .comments
            .iter()
            .filter(|(column, _)| columns.index_of(column).is_ok())
            .map(|(column, text)| (column.to_string(), text.to_string()))
            .collect();
        TableSpec {
            schema: schema.to_owned(),
            name: self.name.to_owned(),
            columns,
            primary_key: names(self.primary_key),
            foreign_keys: self
                .foreign_keys
                .iter()
                .map(|(column, table, referenced)| ForeignKey {
                    columns: vec![column.to_string()],
                    references_table: table.to_string(),
                    references_columns: vec![referenced.to_string()],
                })
                .collect(),
            indexes: self.indexes.iter().map(|index| names(index)).collect(),
            comments,
        }
    }
}

const CLIENT: (&str, &str) = (
    "client_key",
    "surrogate key of the client version (dim_clients; -1 unknown)",
);
const ACCOUNT: (&str, &str) = (
    "account_key",
    "surrogate key of the account version (dim_accounts; -1 unknown)",
);
const PRODUCT: (&str, &str) = (
    "product_key",
    "surrogate key of the product (dim_products; -1 unknown)",
);
const VALID_FROM: (&str, &str) = ("valid_from", "this version is valid from this instant");
const VALID_TO: (&str, &str) = (
    "valid_to",
    "this version is valid until this instant (null while current)",
);
const IS_CURRENT: (&str, &str) = ("is_current", "whether this is the current version");

/// Every table of the warehouse, in load order: dimensions (each after those it refers
/// to), facts (each after those it refers to), marts.
pub static WAREHOUSE: [Declared; 14] = [
    Declared {
        name: "dim_dates",
        role: Role::Dimension,
        primary_key: &["date_key"],
        foreign_keys: &[],
        indexes: &[&["date"]],
        comments: &[
            ("date_key", "the day as yyyymmdd"),
            ("date", "the calendar day"),
            ("month_name", "the month's English name"),
            ("iso_week", "ISO 8601 week number"),
            ("day_of_week", "ISO day of week: Monday 1 … Sunday 7"),
            ("is_weekend", "Saturday or Sunday"),
            ("is_month_end", "the last day of its month"),
        ],
    },
    Declared {
        name: "dim_products",
        role: Role::Dimension,
        primary_key: &["product_key"],
        foreign_keys: &[],
        indexes: &[&["product_id"]],
        comments: &[
            ("product_key", "surrogate key (-1: unknown product); type 1"),
            ("product_id", "the product's business id"),
            (
                "category",
                "current_account, savings, credit_card, personal_loan, mortgage, insurance, investment",
            ),
            ("monthly_fee", "fee charged per month an account is open"),
            ("interest_rate", "annual rate as a fraction (0.0425)"),
            ("currency", "ISO 4217"),
        ],
    },
    Declared {
        name: "dim_clients",
        role: Role::Dimension,
        primary_key: &["client_key"],
        foreign_keys: &[],
        indexes: &[&["client_id"]],
        comments: &[
            (
                "client_key",
                "surrogate key of this version (-1: unknown client); type 2",
            ),
            ("client_id", "the client's business id"),
            (
                "client_ref",
                "keyed hash of client_id; no names, e-mail, phone or birth date are kept",
            ),
            ("age_band", "age band at the run's business date"),
            ("segment", "retail, premium, private, business"),
            ("kyc_risk", "low, medium, high"),
            ("country", "ISO 3166-1 alpha-2"),
            VALID_FROM,
            VALID_TO,
            IS_CURRENT,
        ],
    },
    Declared {
        name: "dim_accounts",
        role: Role::Dimension,
        primary_key: &["account_key"],
        foreign_keys: &[],
        indexes: &[&["account_id"], &["client_id"]],
        comments: &[
            (
                "account_key",
                "surrogate key of this version (-1: unknown account); type 2",
            ),
            ("account_id", "the account's business id"),
            ("client_id", "the holder's business id"),
            ("product_id", "the product's business id"),
            ("status", "active, dormant, closed, frozen"),
            VALID_FROM,
            VALID_TO,
            IS_CURRENT,
        ],
    },
    Declared {
        name: "dim_satisfaction",
        role: Role::Dimension,
        primary_key: &["satisfaction_key"],
        foreign_keys: &[
            ("client_key", "dim_clients", "client_key"),
            ("product_key", "dim_products", "product_key"),
            ("date_key", "dim_dates", "date_key"),
        ],
        indexes: &[&["survey_id"]],
        comments: &[
            (
                "satisfaction_key",
                "surrogate key of the survey answer (-1: unknown)",
            ),
            ("survey_id", "the survey answer's business id"),
            CLIENT,
            PRODUCT,
            ("date_key", "the day it was answered, yyyymmdd (dim_dates)"),
            ("csat", "satisfaction, 1–5"),
            ("nps", "likelihood to recommend, 0–10"),
            (
                "nps_category",
                "promoter (9–10), passive (7–8), detractor (0–6)",
            ),
            ("has_comment", "whether the answer has a non-blank comment"),
        ],
    },
    Declared {
        name: "fact_transactions",
        role: Role::Fact,
        primary_key: &["transaction_id"],
        foreign_keys: &[
            ("date_key", "dim_dates", "date_key"),
            ("account_key", "dim_accounts", "account_key"),
            ("client_key", "dim_clients", "client_key"),
            ("product_key", "dim_products", "product_key"),
        ],
        indexes: &[],
        comments: &[
            ("transaction_id", "the transaction's business id"),
            ("date_key", "the booking day, yyyymmdd (dim_dates)"),
            ACCOUNT,
            CLIENT,
            PRODUCT,
            ("amount", "amount in the transaction's currency, > 0"),
            ("signed_amount", "amount, negative for debits"),
            ("amount_eur", "amount in EUR at the booking day's rate"),
            (
                "status",
                "booked, pending, reversed (only booked ones count)",
            ),
            ("is_international", "the country differs from the client's"),
            ("is_suspicious", "a fraud rule raised an alert on it"),
        ],
    },
    Declared {
        name: "fact_fraudes",
        role: Role::Fact,
        primary_key: &["alert_id"],
        foreign_keys: &[
            ("transaction_id", "fact_transactions", "transaction_id"),
            ("date_key", "dim_dates", "date_key"),
            ("client_key", "dim_clients", "client_key"),
            ("account_key", "dim_accounts", "account_key"),
        ],
        indexes: &[&["rule_id"]],
        comments: &[
            ("alert_id", "transaction_id:rule_id"),
            (
                "transaction_id",
                "the transaction alerted on (fact_transactions)",
            ),
            ("date_key", "the booking day, yyyymmdd (dim_dates)"),
            CLIENT,
            ACCOUNT,
            ("rule_id", "the fraud rule that fired"),
            ("risk_score", "0–100"),
            ("amount_eur", "the transaction's amount in EUR"),
            (
                "confirmed",
                "outcome of the fraud reports (null while unknown)",
            ),
        ],
    },
    Declared {
        name: "fact_loans",
        role: Role::Fact,
        primary_key: &["loan_id"],
        foreign_keys: &[
            ("client_key", "dim_clients", "client_key"),
            ("account_key", "dim_accounts", "account_key"),
            ("product_key", "dim_products", "product_key"),
            ("start_date_key", "dim_dates", "date_key"),
            ("maturity_date_key", "dim_dates", "date_key"),
        ],
        indexes: &[],
        comments: &[
            ("loan_id", "the loan's business id"),
            CLIENT,
            ACCOUNT,
            PRODUCT,
            (
                "principal_eur",
                "principal in EUR at the business date's rate",
            ),
            ("annual_rate", "annual rate as a fraction"),
            ("amount_repaid", "installments paid so far"),
            (
                "outstanding_principal",
                "principal still owed (annuity amortisation over the installments paid)",
            ),
            (
                "max_days_past_due",
                "the worst delay of an installment, in days",
            ),
            (
                "is_non_performing",
                "more than 90 days past due, or in default or written off",
            ),
        ],
    },
    Declared {
        name: "fact_payments",
        role: Role::Fact,
        primary_key: &["payment_id"],
        foreign_keys: &[
            ("loan_id", "fact_loans", "loan_id"),
            ("account_key", "dim_accounts", "account_key"),
            ("client_key", "dim_clients", "client_key"),
            ("due_date_key", "dim_dates", "date_key"),
            ("paid_date_key", "dim_dates", "date_key"),
        ],
        indexes: &[],
        comments: &[
            ("payment_id", "the payment's business id"),
            ("loan_id", "the loan it pays, if any (fact_loans)"),
            ACCOUNT,
            CLIENT,
            ("due_date_key", "the due day, yyyymmdd (dim_dates)"),
            (
                "paid_date_key",
                "the day it was paid, yyyymmdd (null while unpaid)",
            ),
            ("amount_eur", "amount in EUR at the due day's rate"),
            ("kind", "installment, fee, card_repayment, transfer"),
            ("status", "paid, late, missed, pending"),
            (
                "days_late",
                "days from due to paid, or overdue at the business date while unpaid",
            ),
        ],
    },
    Declared {
        name: "fact_revenue",
        role: Role::Fact,
        primary_key: &["revenue_id"],
        foreign_keys: &[
            ("date_key", "dim_dates", "date_key"),
            ("client_key", "dim_clients", "client_key"),
            ("account_key", "dim_accounts", "account_key"),
            ("product_key", "dim_products", "product_key"),
        ],
        indexes: &[&["date_key"], &["loan_id"]],
        comments: &[
            (
                "revenue_id",
                "the line's id: revenue_type:date_key:account_key:client_key:product_key[:loan_id]",
            ),
            ("date_key", "the month's last day, yyyymmdd (dim_dates)"),
            (
                "loan_id",
                "the loan of interest_income and late_fee lines, null for the others",
            ),
            CLIENT,
            ACCOUNT,
            PRODUCT,
            (
                "revenue_type",
                "account_fee, interest_income, fx_fee, late_fee",
            ),
            (
                "amount_eur",
                "revenue in EUR (null where no rate was known)",
            ),
        ],
    },
    Declared {
        name: "mart_client_monthly",
        role: Role::Mart,
        primary_key: &["client_key", "month_key"],
        foreign_keys: &[],
        indexes: &[&["month_key"]],
        comments: &[
            ("client_key", "the client's current version (dim_clients)"),
            ("month_key", "the month's last day, yyyymmdd"),
            ("transaction_count", "booked transactions"),
            ("inflow_eur", "booked credits in EUR"),
            ("outflow_eur", "booked debits in EUR"),
            ("revenue_eur", "revenue in EUR (fact_revenue)"),
            ("alerts", "fraud alerts"),
        ],
    },
    Declared {
        name: "mart_product_performance",
        role: Role::Mart,
        primary_key: &["product_key", "month_key"],
        foreign_keys: &[],
        indexes: &[&["month_key"]],
        comments: &[
            ("product_key", "the product (dim_products)"),
            ("month_key", "the month's last day, yyyymmdd"),
            ("active_accounts", "accounts active at the month's end"),
            ("avg_csat", "mean CSAT of the month's surveys"),
            ("nps", "promoters − detractors, in % of the NPS answers"),
        ],
    },
    Declared {
        name: "mart_loan_portfolio",
        role: Role::Mart,
        primary_key: &["month_key"],
        foreign_keys: &[],
        indexes: &[],
        comments: &[
            ("month_key", "the month's last day, yyyymmdd"),
            (
                "loans",
                "loans with principal outstanding at the month's end",
            ),
            (
                "outstanding_principal_eur",
                "outstanding principal in EUR at the month end's rate",
            ),
            (
                "par30",
                "share of the outstanding principal more than 30 days past due",
            ),
            (
                "par90",
                "share of the outstanding principal more than 90 days past due",
            ),
            (
                "non_performing_ratio",
                "share of loans more than 90 days past due",
            ),
        ],
    },
    Declared {
        name: "mart_fraud_daily",
        role: Role::Mart,
        primary_key: &["date_key", "channel", "rule_id"],
        foreign_keys: &[],
        indexes: &[],
        comments: &[
            ("date_key", "the day, yyyymmdd"),
            ("alerts", "alerts raised"),
            ("amount_eur", "their amount in EUR"),
            ("reported", "alerts with a fraud report"),
            (
                "confirmed_rate",
                "share of the reported alerts confirmed as fraud",
            ),
        ],
    },
];

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn dimensions_load_before_facts_and_facts_before_marts() {
        let roles: Vec<Role> = WAREHOUSE.iter().map(|t| t.role).collect();
        let mut sorted = roles.clone();
        sorted.sort_by_key(|role| *role as u8);
        assert_eq!(roles, sorted);
    }

    #[test]
    fn every_reference_is_to_a_table_loaded_before() {
        for (position, table) in WAREHOUSE.iter().enumerate() {
            for (_, referenced, _) in table.foreign_keys {
                let before = WAREHOUSE[..position].iter().any(|t| t.name == *referenced);
                assert!(before, "{} refers to {referenced}", table.name);
            }
        }
    }

    #[test]
    fn every_table_has_a_primary_key() {
        for table in WAREHOUSE {
            assert!(!table.primary_key.is_empty(), "{}", table.name);
        }
    }

    #[test]
    fn comments_on_missing_columns_are_left_out() {
        let columns = Arc::new(Schema::new(vec![
            Field::new("date_key", DataType::Int32, false),
            Field::new("date", DataType::Date32, false),
        ]));
        let spec = WAREHOUSE[0].spec("bank_dw", columns);
        assert_eq!(
            spec.comments.keys().collect::<Vec<_>>(),
            ["date", "date_key"]
        );
        assert_eq!(spec.primary_key, ["date_key"]);
        assert!(storage::postgres::create_statements(&spec).is_ok());
    }
}
