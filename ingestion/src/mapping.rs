//! Mapping a source's columns onto the contract's columns.
//!
//! Per contract column, the value is a source column (by name), an SQL expression
//! over the source columns compiled once by DataFusion into a physical expression and
//! evaluated batch by batch, or absent. The result is still text: typing and
//! validation come next, the same for every source.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::DFSchema;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;

use contract::EntitySpec;

use crate::config::ColumnSource;
use crate::error::{IngestError, Result};

/// Where one output column comes from.
#[derive(Debug, Clone)]
enum Binding {
    Column(usize),
    Expr(Arc<dyn PhysicalExpr>),
    Absent,
}

/// The mapping of one source schema onto an entity: contract columns, then extras.
#[derive(Debug)]
struct Compiled {
    contract: Vec<Binding>,
    extras: Vec<Binding>,
}

/// Maps text batches of any source schema onto an entity's columns.
///
/// The extra (non-contract) columns are fixed by the first schema seen, so every
/// output batch has the same columns; a later file without one of them gets nulls.
#[derive(Debug)]
pub struct Mapper {
    spec: &'static EntitySpec,
    columns: Vec<(String, ColumnSource)>,
    keep_extras: bool,
    extras: Option<Vec<String>>,
    compiled: HashMap<SchemaRef, Compiled>,
}

/// Contract and extra columns of a batch, all text, in the entity's order.
#[derive(Debug)]
pub struct MappedColumns {
    /// One entry per contract column (`None` where the source has nothing for it).
    pub contract: Vec<Option<ArrayRef>>,
    /// One entry per extra column (see [`Mapper::extra_columns`]).
    pub extras: Vec<Option<ArrayRef>>,
}

impl Mapper {
    /// A mapper for `spec` with the configured column sources.
    pub fn new(
        spec: &'static EntitySpec,
        columns: &std::collections::BTreeMap<String, ColumnSource>,
        keep_extras: bool,
    ) -> Mapper {
        let columns = columns
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Mapper {
            spec,
            columns,
            keep_extras,
            extras: None,
            compiled: HashMap::new(),
        }
    }

    /// The extra columns carried into the processed layer (known after the first batch).
    pub fn extra_columns(&self) -> &[String] {
        self.extras.as_deref().unwrap_or_default()
    }

    /// Maps one batch of source text.
    pub fn map(&mut self, values: &RecordBatch) -> Result<MappedColumns> {
        let schema = values.schema();
        if !self.compiled.contains_key(&schema) {
            let compiled = self.compile(&schema)?;
            self.compiled.insert(schema.clone(), compiled);
        }
        let compiled = &self.compiled[&schema];
        let eval = |binding: &Binding| -> Result<Option<ArrayRef>> {
            Ok(match binding {
                Binding::Column(i) => Some(values.column(*i).clone()),
                Binding::Expr(expr) => {
                    let array = expr.evaluate(values)?.into_array(values.num_rows())?;
                    Some(if array.data_type() == &DataType::Utf8 {
                        array
                    } else {
                        cast(&array, &DataType::Utf8)?
                    })
                }
                Binding::Absent => None,
            })
        };
        Ok(MappedColumns {
            contract: compiled.contract.iter().map(eval).collect::<Result<_>>()?,
            extras: compiled.extras.iter().map(eval).collect::<Result<_>>()?,
        })
    }

    fn compile(&mut self, schema: &SchemaRef) -> Result<Compiled> {
        let entity = self.spec.entity.name();
        let available = || {
            schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let find = |name: &str| {
            schema.index_of(name).ok().or_else(|| {
                schema
                    .fields()
                    .iter()
                    .position(|f| f.name().eq_ignore_ascii_case(name))
            })
        };
        let ctx = SessionContext::new();
        let df_schema = DFSchema::try_from(schema.as_ref().clone())?;
        let mut used = Vec::new();
        let mut contract = Vec::with_capacity(self.spec.columns.len());
        for column in self.spec.columns {
            let configured = self
                .columns
                .iter()
                .find(|(name, _)| name == column.name)
                .map(|(_, source)| source);
            let binding = match configured {
                Some(ColumnSource::Column(source)) => {
                    let index = find(source).ok_or_else(|| IngestError::Mapping {
                        entity: entity.into(),
                        what: format!("column {} = \"{source}\"", column.name),
                        available: available(),
                        message: format!("the source has no column \"{source}\""),
                    })?;
                    used.push(index);
                    Binding::Column(index)
                }
                Some(ColumnSource::Sql { sql }) => {
                    let invalid = |e: datafusion::error::DataFusionError| IngestError::Mapping {
                        entity: entity.into(),
                        what: format!("column {} = `{sql}`", column.name),
                        available: available(),
                        message: e.to_string(),
                    };
                    let expr = ctx.parse_sql_expr(sql, &df_schema).map_err(invalid)?;
                    Binding::Expr(
                        ctx.create_physical_expr(expr, &df_schema)
                            .map_err(invalid)?,
                    )
                }
                None => find(column.name).map_or(Binding::Absent, |i| {
                    used.push(i);
                    Binding::Column(i)
                }),
            };
            contract.push(binding);
        }
        if self.extras.is_none() {
            let extras = schema
                .fields()
                .iter()
                .enumerate()
                .filter(|(i, f)| {
                    self.keep_extras && !used.contains(i) && self.spec.column(f.name()).is_none()
                })
                .map(|(_, f)| f.name().clone())
                .collect();
            self.extras = Some(extras);
        }
        let extras = self
            .extra_columns()
            .iter()
            .map(|name| find(name).map_or(Binding::Absent, Binding::Column))
            .collect();
        Ok(Compiled { contract, extras })
    }
}
