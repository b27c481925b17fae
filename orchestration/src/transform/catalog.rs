//! The warehouse's tables: for each, what it reads and how it is built.
//!
//! What a table reads — processed entities, warehouse tables built before it, views
//! shared with other tables — is declared once here, and is at the same time what its
//! session registers, what its task waits for, and what its task's cache fingerprints.
//! This module's tests check each declaration against the tables its SQL names.

use contract::Entity;
use transformation::banking::facts;

use super::{TransformOptions, setup};

/// A view, or a small in-memory table, that several tables read: set up in each of
/// their sessions, from the processed layer and the run's setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// `report_months`: the months of the report window.
    ReportMonths,
    /// `fx_daily`: each currency's rate on each day the facts convert.
    FxDaily,
    /// `transactions_eur`: the processed transactions with their amount in EUR.
    TransactionsEur,
    /// `loan_months`: each loan in each month of the report window it runs in.
    LoanMonths,
}

impl View {
    /// Every view, each after the views it reads.
    pub const ALL: [View; 4] = [
        View::ReportMonths,
        View::FxDaily,
        View::TransactionsEur,
        View::LoanMonths,
    ];

    /// Its name in the sessions.
    pub fn name(self) -> &'static str {
        match self {
            View::ReportMonths => "report_months",
            View::FxDaily => "fx_daily",
            View::TransactionsEur => "transactions_eur",
            View::LoanMonths => "loan_months",
        }
    }

    /// The processed entities it reads in the session.
    pub fn entities(self) -> &'static [Entity] {
        match self {
            View::ReportMonths | View::FxDaily => &[],
            View::TransactionsEur => &[Entity::Transactions],
            View::LoanMonths => &[Entity::Loans, Entity::Payments],
        }
    }

    /// The views it reads.
    pub fn views(self) -> &'static [View] {
        match self {
            View::ReportMonths | View::FxDaily => &[],
            View::TransactionsEur => &[View::FxDaily],
            View::LoanMonths => &[View::ReportMonths],
        }
    }
}

/// What a table reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reads {
    /// Processed entities.
    pub entities: &'static [Entity],
    /// Warehouse tables (built before it).
    pub tables: &'static [&'static str],
    /// Shared views.
    pub views: &'static [View],
}

/// How a table is built.
#[derive(Debug, Clone, Copy)]
pub enum Build {
    /// A dimension of `transformation::banking::dimensions()`, merged with its previous
    /// version (which it reads from its own Delta table).
    Dimension,
    /// `fact_fraudes`: the fraud rules' pass over `transactions_eur`.
    FraudAlerts,
    /// One SQL query, made from the run's options.
    Sql(fn(&TransformOptions) -> String),
    /// `dim_dates`: every day of the report window and of every date key used.
    Calendar,
    /// A mart of `transformation::aggregation::marts()`.
    Mart,
}

/// One table of the warehouse.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// Its name, e.g. `fact_transactions`.
    pub name: &'static str,
    /// What it reads.
    pub reads: Reads,
    /// How it is built.
    pub build: Build,
}

impl Table {
    /// The views its session sets up: those it reads and those they read, each after
    /// the views it reads.
    pub fn views(&self) -> Vec<View> {
        let mut needed = self.reads.views.to_vec();
        let mut next = 0;
        while let Some(view) = needed.get(next).copied() {
            for read in view.views() {
                if !needed.contains(read) {
                    needed.push(*read);
                }
            }
            next += 1;
        }
        View::ALL
            .into_iter()
            .filter(|v| needed.contains(v))
            .collect()
    }

    /// The processed entities its session registers: those it reads and those its
    /// views read.
    pub fn entities(&self) -> Vec<Entity> {
        let views = self.views();
        let read = |entity: &Entity| {
            self.reads.entities.contains(entity)
                || views.iter().any(|v| v.entities().contains(entity))
        };
        Entity::ALL.into_iter().filter(read).collect()
    }

    /// Whether it needs the run's setup: the report window (its months, `dim_dates`)
    /// and the daily FX rates.
    pub fn needs_setup(&self) -> bool {
        !self.reads.views.is_empty() || matches!(self.build, Build::Calendar)
    }

    /// The processed entities its rows derive from: those its session registers, and
    /// those of the run's setup when it needs it.
    pub fn inputs(&self) -> Vec<Entity> {
        let registered = self.entities();
        let derived = |entity: &Entity| {
            registered.contains(entity) || (self.needs_setup() && setup::INPUTS.contains(entity))
        };
        Entity::ALL.into_iter().filter(derived).collect()
    }
}

/// The dimensions that the facts look versions up in.
const VERSIONED: [&str; 3] = ["dim_accounts", "dim_clients", "dim_products"];

/// The warehouse's tables, each after the tables it reads.
pub static TABLES: [Table; 14] = [
    Table {
        name: "dim_products",
        reads: Reads {
            entities: &[Entity::Products],
            tables: &[],
            views: &[],
        },
        build: Build::Dimension,
    },
    Table {
        name: "dim_clients",
        reads: Reads {
            entities: &[Entity::Clients],
            tables: &[],
            views: &[],
        },
        build: Build::Dimension,
    },
    Table {
        name: "dim_accounts",
        reads: Reads {
            entities: &[Entity::Accounts],
            tables: &[],
            views: &[],
        },
        build: Build::Dimension,
    },
    Table {
        name: "dim_satisfaction",
        reads: Reads {
            entities: &[Entity::Satisfaction],
            tables: &["dim_clients", "dim_products"],
            views: &[],
        },
        build: Build::Dimension,
    },
    Table {
        name: "fact_fraudes",
        reads: Reads {
            entities: &[Entity::FraudReports],
            tables: &["dim_accounts", "dim_clients"],
            views: &[View::TransactionsEur],
        },
        build: Build::FraudAlerts,
    },
    Table {
        name: "fact_transactions",
        reads: Reads {
            entities: &[],
            tables: &[
                "dim_accounts",
                "dim_clients",
                "dim_products",
                "fact_fraudes",
            ],
            views: &[View::TransactionsEur],
        },
        build: Build::Sql(|_| facts::fact_transactions()),
    },
    Table {
        name: "fact_loans",
        reads: Reads {
            entities: &[Entity::Loans, Entity::Payments],
            tables: &VERSIONED,
            views: &[View::FxDaily],
        },
        build: Build::Sql(|options| facts::fact_loans(options.params.as_of)),
    },
    Table {
        name: "fact_payments",
        reads: Reads {
            entities: &[Entity::Payments],
            tables: &["dim_accounts", "dim_clients"],
            views: &[View::FxDaily],
        },
        build: Build::Sql(|options| facts::fact_payments(options.params.as_of)),
    },
    Table {
        name: "fact_revenue",
        reads: Reads {
            entities: &[],
            tables: &[
                "dim_accounts",
                "dim_clients",
                "dim_products",
                "fact_loans",
                "fact_payments",
                "fact_transactions",
            ],
            views: &[View::ReportMonths, View::FxDaily, View::LoanMonths],
        },
        build: Build::Sql(|options| options.model.revenue.revenue_sql()),
    },
    Table {
        name: "dim_dates",
        reads: Reads {
            entities: &[],
            tables: &[
                "dim_satisfaction",
                "fact_loans",
                "fact_payments",
                "fact_revenue",
                "fact_transactions",
            ],
            views: &[],
        },
        build: Build::Calendar,
    },
    Table {
        name: "mart_client_monthly",
        reads: Reads {
            entities: &[],
            tables: &[
                "dim_clients",
                "fact_fraudes",
                "fact_revenue",
                "fact_transactions",
            ],
            views: &[],
        },
        build: Build::Mart,
    },
    Table {
        name: "mart_product_performance",
        reads: Reads {
            entities: &[],
            tables: &[
                "dim_accounts",
                "dim_products",
                "dim_satisfaction",
                "fact_revenue",
            ],
            views: &[View::ReportMonths],
        },
        build: Build::Mart,
    },
    Table {
        name: "mart_loan_portfolio",
        reads: Reads {
            entities: &[],
            tables: &[],
            views: &[View::FxDaily, View::LoanMonths],
        },
        build: Build::Mart,
    },
    Table {
        name: "mart_fraud_daily",
        reads: Reads {
            entities: &[],
            tables: &["fact_fraudes"],
            views: &[],
        },
        build: Build::Mart,
    },
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use datafusion::prelude::SessionContext;
    use transformation::aggregation;
    use transformation::banking::{self, ModelParams};

    use super::*;
    use crate::config::ModelConfig;
    use crate::layout::DataLayout;

    /// The tables an SQL query names (its CTEs left out).
    fn named(sql: &str) -> BTreeSet<String> {
        let state = SessionContext::new().state();
        let statement = state
            .sql_to_statement(sql, &datafusion::config::Dialect::Generic)
            .expect(sql);
        state
            .resolve_table_references(&statement)
            .expect(sql)
            .iter()
            .map(|t| t.table().to_owned())
            .collect()
    }

    /// What `table` declares it reads, by name (its views, not what they read).
    fn declared(table: &Table) -> BTreeSet<String> {
        let entities = table.reads.entities.iter().map(|e| e.name().to_owned());
        let tables = table.reads.tables.iter().map(|t| (*t).to_owned());
        let views = table.reads.views.iter().map(|v| v.name().to_owned());
        entities.chain(tables).chain(views).collect()
    }

    fn options() -> TransformOptions {
        TransformOptions {
            layout: DataLayout::new(std::path::Path::new("data")),
            run_id: "test".into(),
            params: ModelParams {
                hash_key: "key".into(),
                as_of: chrono::NaiveDate::from_ymd_opt(2026, 11, 24).expect("date"),
            },
            model: ModelConfig::default(),
            memory_limit: super::super::DEFAULT_MEMORY_LIMIT,
        }
    }

    /// The SQL of `table`, where it is one query (the fraud rules' is not).
    fn sql(table: &Table, options: &TransformOptions) -> Option<String> {
        match table.build {
            Build::Dimension => banking::dimensions()
                .into_iter()
                .find(|(spec, _)| spec.table == table.name)
                .map(|(_, sql)| sql.replace("{as_of}", "NULL").replace("{year}", "2026")),
            Build::FraudAlerts => None,
            Build::Sql(sql) => Some(sql(options)),
            Build::Calendar => Some(facts::DATE_KEY_RANGE.to_owned()),
            Build::Mart => aggregation::marts()
                .into_iter()
                .find(|m| m.table == table.name)
                .map(|m| m.sql),
        }
    }

    #[test]
    fn each_table_declares_what_its_sql_reads() {
        let options = options();
        for table in &TABLES {
            let Some(sql) = sql(table, &options) else {
                continue;
            };
            assert_eq!(named(&sql), declared(table), "{}", table.name);
        }
        for (view, sql) in [
            (View::TransactionsEur, facts::TRANSACTIONS_EUR.to_owned()),
            (View::LoanMonths, facts::loan_months()),
        ] {
            let entities = view.entities().iter().map(|e| e.name().to_owned());
            let views = view.views().iter().map(|v| v.name().to_owned());
            assert_eq!(named(&sql), entities.chain(views).collect(), "{view:?}");
        }
    }

    #[test]
    fn the_catalogue_is_the_model_in_dependency_order() {
        let names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        let dimensions: BTreeSet<String> = banking::dimensions()
            .into_iter()
            .map(|(spec, _)| spec.table)
            .collect();
        let marts: BTreeSet<&str> = aggregation::marts().iter().map(|m| m.table).collect();
        let of = |kind: fn(&Build) -> bool| -> BTreeSet<&str> {
            TABLES
                .iter()
                .filter(|t| kind(&t.build))
                .map(|t| t.name)
                .collect()
        };
        assert_eq!(
            of(|b| matches!(b, Build::Dimension)),
            dimensions.iter().map(String::as_str).collect()
        );
        assert_eq!(of(|b| matches!(b, Build::Mart)), marts);
        for (position, table) in TABLES.iter().enumerate() {
            for read in table.reads.tables {
                assert!(
                    names[..position].contains(read),
                    "{} reads {read}, which comes after it",
                    table.name
                );
            }
        }
    }

    #[test]
    fn a_table_registers_its_views_and_what_they_read() {
        let revenue = TABLES
            .iter()
            .find(|t| t.name == "fact_revenue")
            .expect("fact_revenue");
        assert_eq!(
            revenue.views(),
            [View::ReportMonths, View::FxDaily, View::LoanMonths]
        );
        assert_eq!(revenue.entities(), [Entity::Loans, Entity::Payments]);
        assert_eq!(
            revenue.inputs(),
            [
                Entity::Transactions,
                Entity::FxRates,
                Entity::Loans,
                Entity::Payments
            ]
        );
        let fraud = TABLES
            .iter()
            .find(|t| t.name == "fact_fraudes")
            .expect("fact_fraudes");
        assert_eq!(fraud.views(), [View::FxDaily, View::TransactionsEur]);
        assert_eq!(
            fraud.entities(),
            [Entity::Transactions, Entity::FraudReports]
        );
        let dimension = &TABLES[0];
        assert!(!dimension.needs_setup());
        assert_eq!(dimension.inputs(), [Entity::Products]);
    }
}
