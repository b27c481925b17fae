//! The run store's two backends for tests: an SQLite file in a temporary folder, or a
//! schema of its own in the PostgreSQL server of `DATABASE_URL` (see [`crate::pg`]),
//! dropped when the test ends. [`on_both_stores!`] runs a scenario on each.

use orchestration::runtime::{RunStore, StoreLocation, StoreOptions};
use tempfile::TempDir;

use crate::pg::{SchemaGuard, database_url, test_schema, try_connect};

/// Where a test keeps its runs.
pub enum TestStore {
    /// An SQLite file in a temporary folder.
    Sqlite(TempDir),
    /// A PostgreSQL schema of the test's own.
    Postgres(SchemaGuard),
}

impl TestStore {
    /// An SQLite store in a new temporary folder.
    pub fn sqlite() -> TestStore {
        TestStore::Sqlite(tempfile::tempdir().expect("temp dir"))
    }

    /// A PostgreSQL store in a new schema; `None` (the test is skipped, loudly)
    /// when no server is reachable, unless `BANKPIPE_REQUIRE_PG=1`.
    pub async fn postgres(test: &str) -> Option<TestStore> {
        try_connect().await?;
        Some(TestStore::Postgres(SchemaGuard(test_schema(test))))
    }

    /// The store's location.
    pub fn location(&self) -> StoreLocation {
        match self {
            TestStore::Sqlite(dir) => StoreLocation::Sqlite(dir.path().join("runs.sqlite")),
            TestStore::Postgres(schema) => StoreLocation::Postgres {
                url: database_url(),
                schema: schema.0.clone(),
            },
        }
    }

    /// Opens the store (again), with the default options.
    pub async fn open(&self) -> RunStore {
        self.open_with(StoreOptions::default()).await
    }

    /// Opens the store (again) with `options`.
    pub async fn open_with(&self, options: StoreOptions) -> RunStore {
        RunStore::open_at(self.location(), options)
            .await
            .expect("run store")
    }
}

/// Runs each `scenario(store: TestStore)` of the calling module as two tests,
/// `<scenario>::sqlite` and `<scenario>::postgres`.
macro_rules! on_both_stores {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use crate::run_stores::TestStore;

            #[tokio::test]
            async fn sqlite() {
                super::$scenario(TestStore::sqlite()).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(store) = TestStore::postgres(stringify!($scenario)).await {
                    super::$scenario(store).await;
                }
            }
        }
    )*};
}
pub(crate) use on_both_stores;
