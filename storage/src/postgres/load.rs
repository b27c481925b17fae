//! Loading a stream of batches: binary COPY into a staging table, then one atomic publish.

use std::error::Error;

use arrow::array::RecordBatch;
use futures::Stream;
use tokio_postgres::{Client, GenericClient, Transaction};

use super::copy::Copier;
use super::ddl::create_statements;
use super::error::PostgresError;
use super::ident::{object_name, quote_ident, quote_list};
use super::spec::TableSpec;

/// How a load treats the rows already in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadMode {
    /// The table ends up holding exactly the loaded rows.
    Replace,
    /// Loaded rows are inserted, or update the row with the same primary key where it
    /// differs; other rows stay. Needs a primary key.
    Upsert,
}

/// What a load did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadReport {
    /// The rows read from the stream and copied (all of them are in the table after it).
    pub rows: u64,
}

/// Loads a stream of batches into the table of `spec`, atomically.
///
/// 1. Creates the schema, table, indexes and comments if missing ([`create_statements`]).
/// 2. Opens one transaction and defers the deferrable constraints (foreign keys).
/// 3. Streams every batch with one binary `COPY … FROM STDIN`:
///    - [`LoadMode::Replace`]: deletes the table's rows, then copies straight into the
///      table (no staging: a second pass through a staging table costs more than the
///      COPY itself, and the transaction already hides the load until it commits);
///    - [`LoadMode::Upsert`]: copies into a temporary staging table `<name>__staging`
///      (`LIKE` the table, `ON COMMIT DROP`), then inserts the staged rows with
///      `ON CONFLICT (primary key) DO UPDATE` of the rows whose values differ, and drops
///      the staging table.
/// 4. Commits; the deferred foreign keys are checked then.
///
/// Readers see the previous content until the commit, then the new one. On any failure
/// (an `Err` from the stream, a batch that does not match the spec, a value or key the
/// server rejects, a lost connection, a killed backend) the transaction rolls back: the
/// table keeps its previous content and no staging table is left. Loading the same rows
/// again leaves the same content (an upsert rewrites no row then). Each batch's columns
/// are found by name; a column must have the spec's type (strings may be any of `Utf8`,
/// `LargeUtf8`, `Utf8View`; a decimal must have the spec's scale, its precision may
/// differ) and no nulls where the spec's field is not nullable. A replace holds the row
/// locks of the old rows until the commit: concurrent writers of the table wait.
pub async fn load<S, E>(
    client: &mut Client,
    spec: &TableSpec,
    batches: S,
    mode: LoadMode,
) -> Result<LoadReport, PostgresError>
where
    S: Stream<Item = Result<RecordBatch, E>> + Unpin,
    E: Error + Send + Sync + 'static,
{
    let statements = create_statements(spec)?;
    let plan = LoadPlan::new(spec, mode)?;
    execute_all(&*client, &statements).await?;
    let transaction = client
        .transaction()
        .await
        .map_err(|e| PostgresError::query("BEGIN", e))?;
    let result = async {
        transaction
            .batch_execute(DEFER_CONSTRAINTS)
            .await
            .map_err(|e| PostgresError::query(DEFER_CONSTRAINTS, e))?;
        plan.run(&transaction, batches).await
    }
    .await;
    match result {
        Ok(rows) => {
            transaction
                .commit()
                .await
                .map_err(|e| PostgresError::query("COMMIT", e))?;
            Ok(LoadReport { rows })
        }
        Err(error) => {
            // The first error is the one to report; a rollback that fails too means the
            // connection is gone, and the server rolls back on its own then.
            let _ = transaction.rollback().await;
            Err(error)
        }
    }
}

/// Loads a stream of batches into the table of `spec` inside the caller's
/// `transaction`, which the caller commits (or rolls back): the way to load several
/// tables so that they change together, in one commit.
///
/// Runs [`create_statements`] in the transaction (a table created here is gone again
/// if the transaction rolls back), then streams the batches as step 3 of [`load`]
/// does, in `mode` and with the same checks of each batch. Unlike [`load`], it does not
/// defer the constraints: they are checked in the transaction's mode (`SET
/// CONSTRAINTS`); in the default, immediate, mode every foreign key is checked when the
/// COPY (or the upsert) ends, and that cost is part of the load. After an error the
/// transaction is aborted: the caller rolls it back, and no table it touched changes.
pub async fn load_in<S, E>(
    transaction: &Transaction<'_>,
    spec: &TableSpec,
    batches: S,
    mode: LoadMode,
) -> Result<LoadReport, PostgresError>
where
    S: Stream<Item = Result<RecordBatch, E>> + Unpin,
    E: Error + Send + Sync + 'static,
{
    let statements = create_statements(spec)?;
    let plan = LoadPlan::new(spec, mode)?;
    execute_all(transaction, &statements).await?;
    let rows = plan.run(transaction, batches).await?;
    Ok(LoadReport { rows })
}

/// Defers the deferrable constraints (the foreign keys) to the commit of a [`load`].
const DEFER_CONSTRAINTS: &str = "SET CONSTRAINTS ALL DEFERRED";

/// The statements and wire types of one load.
struct LoadPlan<'s> {
    /// Statements run before the COPY, in the transaction.
    prepare: Vec<String>,
    copier: Copier<'s>,
    /// Statements run after the COPY, in the transaction.
    publish: Vec<String>,
}

impl<'s> LoadPlan<'s> {
    fn new(spec: &'s TableSpec, mode: LoadMode) -> Result<LoadPlan<'s>, PostgresError> {
        let mut prepare = Vec::new();
        let (copier, publish) = match mode {
            LoadMode::Replace => {
                prepare.push(format!("DELETE FROM {}", spec.qualified()));
                (Copier::new(spec, &spec.qualified(), false)?, vec![])
            }
            LoadMode::Upsert => {
                let columns = quote_list(&spec.column_names());
                let staging = staging_table(spec);
                prepare.push(format!(
                    "CREATE TEMP TABLE {staging} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP",
                    spec.qualified()
                ));
                let upsert = format!(
                    "INSERT INTO {} AS \"target\" ({columns}) SELECT {columns} FROM {staging} {}",
                    spec.qualified(),
                    on_conflict(spec)?
                );
                (
                    Copier::new(spec, &staging, false)?,
                    vec![upsert, format!("DROP TABLE {staging}")],
                )
            }
        };
        Ok(LoadPlan {
            prepare,
            copier,
            publish,
        })
    }

    /// Everything inside the transaction; returns the rows copied.
    async fn run<S, E>(
        &self,
        transaction: &Transaction<'_>,
        batches: S,
    ) -> Result<u64, PostgresError>
    where
        S: Stream<Item = Result<RecordBatch, E>> + Unpin,
        E: Error + Send + Sync + 'static,
    {
        execute_all(transaction, &self.prepare).await?;
        let rows = self.copier.copy(transaction, batches).await?;
        execute_all(transaction, &self.publish).await?;
        Ok(rows)
    }
}

/// `pg_temp."<name>__staging"`: the session's temporary staging table for an upsert.
fn staging_table(spec: &TableSpec) -> String {
    format!(
        "pg_temp.{}",
        quote_ident(&object_name(&[&spec.name], "_staging"))
    )
}

/// The `ON CONFLICT` clause of an upsert: update the non-key columns of rows that differ.
fn on_conflict(spec: &TableSpec) -> Result<String, PostgresError> {
    if spec.primary_key.is_empty() {
        return Err(spec.invalid("an upsert needs a primary key; give the spec one"));
    }
    let key = quote_list(&spec.primary_key);
    let others: Vec<String> = spec
        .column_names()
        .into_iter()
        .filter(|c| !spec.primary_key.iter().any(|k| k == c))
        .map(quote_ident)
        .collect();
    if others.is_empty() {
        return Ok(format!("ON CONFLICT ({key}) DO NOTHING"));
    }
    let set = others
        .iter()
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let current = others
        .iter()
        .map(|c| format!("\"target\".{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let new = others
        .iter()
        .map(|c| format!("EXCLUDED.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(format!(
        "ON CONFLICT ({key}) DO UPDATE SET {set} WHERE ({current}) IS DISTINCT FROM ({new})"
    ))
}

/// Runs `statements` one after the other on a client or in a transaction.
pub(crate) async fn execute_all<C: GenericClient>(
    client: &C,
    statements: &[String],
) -> Result<(), PostgresError> {
    for statement in statements {
        client
            .batch_execute(statement)
            .await
            .map_err(|e| PostgresError::query(statement, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn spec(primary_key: &[&str]) -> TableSpec {
        TableSpec {
            schema: "s".into(),
            name: "t".into(),
            columns: Arc::new(Schema::new(vec![
                Field::new("id", DataType::Int64, false),
                Field::new("v", DataType::Utf8, true),
            ])),
            primary_key: primary_key.iter().map(|k| k.to_string()).collect(),
            foreign_keys: vec![],
            indexes: vec![],
            comments: BTreeMap::new(),
        }
    }

    #[test]
    fn replace_deletes_then_copies_into_the_table() {
        let spec = spec(&["id"]);
        let plan = LoadPlan::new(&spec, LoadMode::Replace).unwrap();
        assert_eq!(plan.prepare, ["DELETE FROM \"s\".\"t\""]);
        assert_eq!(
            plan.copier.statement,
            "COPY \"s\".\"t\" (\"id\", \"v\") FROM STDIN (FORMAT binary)"
        );
        assert!(plan.publish.is_empty());
    }

    #[test]
    fn upsert_stages_then_updates_only_rows_that_differ() {
        let spec = spec(&["id"]);
        let plan = LoadPlan::new(&spec, LoadMode::Upsert).unwrap();
        assert_eq!(
            plan.prepare[0],
            "CREATE TEMP TABLE pg_temp.\"t__staging\" (LIKE \"s\".\"t\" INCLUDING DEFAULTS) \
             ON COMMIT DROP"
        );
        assert_eq!(
            plan.copier.statement,
            "COPY pg_temp.\"t__staging\" (\"id\", \"v\") FROM STDIN (FORMAT binary)"
        );
        assert_eq!(
            plan.publish,
            [
                "INSERT INTO \"s\".\"t\" AS \"target\" (\"id\", \"v\") \
                 SELECT \"id\", \"v\" FROM pg_temp.\"t__staging\" \
                 ON CONFLICT (\"id\") DO UPDATE SET \"v\" = EXCLUDED.\"v\" \
                 WHERE (\"target\".\"v\") IS DISTINCT FROM (EXCLUDED.\"v\")",
                "DROP TABLE pg_temp.\"t__staging\"",
            ]
        );
    }

    #[test]
    fn upsert_of_a_table_of_keys_only_does_nothing_on_conflict() {
        let mut spec = spec(&["id", "v"]);
        spec.columns = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("v", DataType::Utf8, false),
        ]));
        let plan = LoadPlan::new(&spec, LoadMode::Upsert).unwrap();
        assert!(plan.publish[0].ends_with("ON CONFLICT (\"id\", \"v\") DO NOTHING"));
    }

    #[test]
    fn upsert_needs_a_primary_key() {
        let spec = spec(&[]);
        let message = LoadPlan::new(&spec, LoadMode::Upsert)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(message.contains("primary key"), "{message}");
    }
}
