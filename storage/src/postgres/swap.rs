//! Replacing tables by swapping in fresh copies: each new table is filled with no
//! constraint to check row by row, given its keys and indexes in bulk, and renamed in
//! place of the old one when every table is ready.

use std::error::Error;

use arrow::array::RecordBatch;
use futures::Stream;
use tokio_postgres::{GenericClient, Transaction};

use super::copy::Copier;
use super::ddl::{
    column_definitions, comment, foreign_key_clause, foreign_key_name, index_column_sets,
    index_name, primary_key_clause, primary_key_name,
};
use super::error::PostgresError;
use super::ident::{object_name, qualified, quote_ident, quote_list};
use super::load::{LoadReport, execute_all};
use super::spec::TableSpec;

/// Replaces a set of tables inside a transaction of the caller's by building a fresh
/// copy of each ([`Swap::stage`]) and swapping the copies in ([`Swap::finish`]); the
/// caller then commits.
///
/// A staged table `<name>__new` is created without constraints and filled by one
/// binary `COPY … FREEZE` (no key or index to maintain row by row, and no later
/// vacuum to freeze the rows); then its primary key and indexes are built in one sort
/// each, its foreign keys are added (one join each checks every row) and it is
/// analysed, so the planner knows it from the first query. The old tables are not
/// touched until [`Swap::finish`], which drops them and renames the staged tables and
/// their indexes to the final names: readers (BI tools) read the old tables
/// throughout the load and wait only for that catalog work and the commit.
///
/// The tables end up exactly as [`create_statements`](super::create_statements) would
/// create them (same names of table, key, indexes and foreign keys, same comments).
/// Stage the tables in an order where each comes after the tables it refers to: a
/// foreign key refers to the staged copy when that table is staged already, to the
/// existing table otherwise.
///
/// Privileges granted on the old tables are granted on the new ones. The old tables
/// are dropped without `CASCADE`: if a view or another table's foreign
/// key depends on one, [`Swap::finish`] fails (and the caller rolls back, leaving
/// everything as it was). [`dependents`] lists such objects beforehand, so the caller
/// can load those tables in place instead ([`load_in`](super::load_in)).
pub struct Swap<'a, 't> {
    transaction: &'a Transaction<'t>,
    staged: Vec<TableSpec>,
}

impl<'a, 't> Swap<'a, 't> {
    /// A swap in `transaction`, with nothing staged yet.
    pub fn new(transaction: &'a Transaction<'t>) -> Swap<'a, 't> {
        Swap {
            transaction,
            staged: Vec::new(),
        }
    }

    /// Builds the staged copy of `spec`'s table from `batches` (see [`Swap`]) and
    /// returns the rows copied.
    ///
    /// Fails on an inconsistent spec, a table staged twice, a batch that does not
    /// match the spec, a stream error, or a row the server refuses (a duplicate key or
    /// a foreign key without its member, found when the key is built); the transaction
    /// is aborted then, and the caller rolls back.
    pub async fn stage<S, E>(
        &mut self,
        spec: &TableSpec,
        batches: S,
    ) -> Result<LoadReport, PostgresError>
    where
        S: Stream<Item = Result<RecordBatch, E>> + Unpin,
        E: Error + Send + Sync + 'static,
    {
        spec.validate()?;
        if self.staged.iter().any(|s| s.same_table(spec)) {
            return Err(spec.invalid("it is staged twice in one swap"));
        }
        let staged = staged_name(&spec.name);
        let table = qualified(&spec.schema, &staged);
        execute_all(
            self.transaction,
            &[
                format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(&spec.schema)),
                format!(
                    "CREATE TABLE {table} (\n    {}\n)",
                    column_definitions(spec)?.join(",\n    ")
                ),
            ],
        )
        .await?;
        let rows = Copier::new(spec, &table, true)?
            .copy(self.transaction, batches)
            .await?;
        execute_all(self.transaction, &self.build_statements(spec, &staged)).await?;
        self.staged.push(spec.clone());
        Ok(LoadReport { rows })
    }

    /// Drops the old tables (those that exist; the last staged first) and renames the
    /// staged tables, their keys and their indexes to the final names; the privileges
    /// granted on an old table (to a BI tool's role, say) are granted on its new one.
    /// The caller commits next.
    pub async fn finish(self) -> Result<(), PostgresError> {
        let mut statements = Vec::new();
        for spec in &self.staged {
            statements.extend(grants(self.transaction, spec).await?);
        }
        let drops = self
            .staged
            .iter()
            .rev()
            .map(|spec| format!("DROP TABLE IF EXISTS {}", spec.qualified()));
        let renames = self.staged.iter().flat_map(rename_statements);
        let statements: Vec<String> = drops.chain(renames).chain(statements).collect();
        execute_all(self.transaction, &statements).await
    }

    /// Primary key, indexes, foreign keys, comments and statistics of the staged
    /// table `staged` of `spec`.
    fn build_statements(&self, spec: &TableSpec, staged: &str) -> Vec<String> {
        let table = qualified(&spec.schema, staged);
        let mut statements = Vec::new();
        if !spec.primary_key.is_empty() {
            statements.push(format!(
                "ALTER TABLE {table} ADD CONSTRAINT {} {}",
                quote_ident(&primary_key_name(staged)),
                primary_key_clause(spec)
            ));
        }
        for columns in index_column_sets(spec) {
            statements.push(format!(
                "CREATE INDEX {} ON {table} ({})",
                quote_ident(&index_name(staged, columns)),
                quote_list(columns)
            ));
        }
        for key in &spec.foreign_keys {
            let staged_already = self
                .staged
                .iter()
                .any(|s| s.schema == spec.schema && s.name == key.references_table);
            let referenced = if staged_already {
                staged_name(&key.references_table)
            } else {
                key.references_table.clone()
            };
            statements.push(format!(
                "ALTER TABLE {table} ADD CONSTRAINT {} {}",
                quote_ident(&foreign_key_name(&spec.name, key)),
                foreign_key_clause(&qualified(&spec.schema, &referenced), key)
            ));
        }
        statements.extend(
            spec.comments
                .iter()
                .map(|(column, text)| comment(&table, column, text)),
        );
        statements.push(format!("ANALYZE {table}"));
        statements
    }
}

/// The name of the staged copy of table `name`: `<name>__new`.
fn staged_name(name: &str) -> String {
    object_name(&[name], "_new")
}

/// Renames the staged table of `spec`, its primary key and its indexes to their final
/// names (the foreign keys have theirs already).
fn rename_statements(spec: &TableSpec) -> Vec<String> {
    let staged = staged_name(&spec.name);
    let mut statements = vec![format!(
        "ALTER TABLE {} RENAME TO {}",
        qualified(&spec.schema, &staged),
        quote_ident(&spec.name)
    )];
    let mut rename_index = |from: String, to: String| {
        statements.push(format!(
            "ALTER INDEX {} RENAME TO {}",
            qualified(&spec.schema, &from),
            quote_ident(&to)
        ));
    };
    if !spec.primary_key.is_empty() {
        rename_index(primary_key_name(&staged), primary_key_name(&spec.name));
    }
    for columns in index_column_sets(spec) {
        rename_index(
            index_name(&staged, columns),
            index_name(&spec.name, columns),
        );
    }
    statements
}

/// The `GRANT` statements that give the table of `spec` the privileges granted on it
/// now (to roles other than its owner), none if it does not exist.
async fn grants(
    transaction: &Transaction<'_>,
    spec: &TableSpec,
) -> Result<Vec<String>, PostgresError> {
    const SQL: &str = "SELECT coalesce(r.rolname, ''), a.privilege_type, a.is_grantable \
        FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a \
        LEFT JOIN pg_roles r ON r.oid = a.grantee \
        WHERE c.oid = to_regclass($1) AND a.grantee <> c.relowner \
        ORDER BY 1, 2";
    /// The privileges a table can be granted: the only words spliced into the SQL.
    const PRIVILEGES: [&str; 8] = [
        "SELECT",
        "INSERT",
        "UPDATE",
        "DELETE",
        "TRUNCATE",
        "REFERENCES",
        "TRIGGER",
        "MAINTAIN",
    ];
    let rows = transaction
        .query(SQL, &[&spec.qualified()])
        .await
        .map_err(|e| PostgresError::query(SQL, e))?;
    let mut statements = Vec::with_capacity(rows.len());
    for row in rows {
        let (role, privilege, grantable): (String, String, bool) =
            (row.get(0), row.get(1), row.get(2));
        let Some(privilege) = PRIVILEGES.iter().find(|p| **p == privilege) else {
            continue;
        };
        let grantee = if role.is_empty() {
            "PUBLIC".to_owned()
        } else {
            quote_ident(&role)
        };
        let option = if grantable { " WITH GRANT OPTION" } else { "" };
        statements.push(format!(
            "GRANT {privilege} ON {} TO {grantee}{option}",
            spec.qualified()
        ));
    }
    Ok(statements)
}

/// The objects outside `specs` that depend on their existing tables, one line each
/// (`view "s"."v"`, `foreign key "k" of "s"."t"`), sorted: views (materialized or not)
/// reading a table, and other tables' foreign keys referring to one. Tables that do not
/// exist yet are skipped. Empty means the tables can be swapped ([`Swap`]).
pub async fn dependents<C: GenericClient>(
    client: &C,
    specs: &[TableSpec],
) -> Result<Vec<String>, PostgresError> {
    const SQL: &str = "WITH t AS ( \
            SELECT to_regclass(n) AS oid FROM unnest($1::text[]) AS n \
            WHERE to_regclass(n) IS NOT NULL) \
        SELECT DISTINCT format('view %s', v.oid::regclass) \
        FROM pg_depend d \
        JOIN pg_rewrite r ON r.oid = d.objid \
        JOIN pg_class v ON v.oid = r.ev_class \
        WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass \
          AND d.refobjid IN (SELECT oid FROM t) AND v.oid NOT IN (SELECT oid FROM t) \
        UNION \
        SELECT format('foreign key %I of %s', c.conname, c.conrelid::regclass) \
        FROM pg_constraint c \
        WHERE c.contype = 'f' AND c.confrelid IN (SELECT oid FROM t) \
          AND c.conrelid NOT IN (SELECT oid FROM t) \
        ORDER BY 1";
    let tables: Vec<String> = specs.iter().map(TableSpec::qualified).collect();
    let rows = client
        .query(SQL, &[&tables])
        .await
        .map_err(|e| PostgresError::query(SQL, e))?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use arrow::datatypes::{DataType, Field, Schema};

    use super::super::spec::ForeignKey;
    use super::*;

    #[test]
    fn renames_the_staged_table_its_key_and_indexes() {
        let spec = TableSpec {
            schema: "s".into(),
            name: "f".into(),
            columns: Arc::new(Schema::new(vec![
                Field::new("id", DataType::Int64, false),
                Field::new("d", DataType::Int64, false),
            ])),
            primary_key: vec!["id".into()],
            foreign_keys: vec![ForeignKey {
                columns: vec!["d".into()],
                references_table: "dim".into(),
                references_columns: vec!["d".into()],
            }],
            indexes: vec![],
            comments: BTreeMap::new(),
        };
        assert_eq!(
            rename_statements(&spec),
            [
                "ALTER TABLE \"s\".\"f__new\" RENAME TO \"f\"",
                "ALTER INDEX \"s\".\"f__new_pkey\" RENAME TO \"f_pkey\"",
                "ALTER INDEX \"s\".\"f__new_d_idx\" RENAME TO \"f_d_idx\"",
            ]
        );
    }
}
