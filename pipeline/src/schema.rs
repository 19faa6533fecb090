//! The documented lake tables: `data/schemas/*.yaml`, embedded, is the one source of truth for
//! every table's columns, types and natural key.

use std::sync::OnceLock;

use polars::prelude::{DataType, Field, Schema, TimeUnit, TimeZone};
use serde::Deserialize;

/// Column types used in the lake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColType {
    Str,
    I64,
    I32,
    F64,
    Bool,
    Date,
    /// Microseconds since the epoch, UTC.
    Datetime,
}

impl ColType {
    pub fn dtype(self) -> DataType {
        match self {
            ColType::Str => DataType::String,
            ColType::I64 => DataType::Int64,
            ColType::I32 => DataType::Int32,
            ColType::F64 => DataType::Float64,
            ColType::Bool => DataType::Boolean,
            ColType::Date => DataType::Date,
            ColType::Datetime => DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnDoc {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ColType,
    pub nullable: bool,
    pub meaning: String,
    pub constraints: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSchema {
    pub table: String,
    pub description: String,
    /// Folder levels of the table (chain/year/month for chain tables); empty: one file per source.
    pub partitioned_by: Vec<String>,
    /// Natural key: rows with equal keys within a source are duplicates (the first is kept).
    pub key: Vec<String>,
    pub columns: Vec<ColumnDoc>,
}

impl TableSchema {
    pub fn polars_schema(&self) -> Schema {
        self.columns.iter().map(|c| Field::new(c.name.as_str().into(), c.ty.dtype())).collect()
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

const SOURCES: [(&str, &str); 14] = [
    ("blocks", include_str!("../../data/schemas/blocks.yaml")),
    ("transactions", include_str!("../../data/schemas/transactions.yaml")),
    ("transfers", include_str!("../../data/schemas/transfers.yaml")),
    ("utxo_outputs", include_str!("../../data/schemas/utxo_outputs.yaml")),
    ("utxo_inputs", include_str!("../../data/schemas/utxo_inputs.yaml")),
    ("sanctions", include_str!("../../data/schemas/sanctions.yaml")),
    ("labels", include_str!("../../data/schemas/labels.yaml")),
    ("actors", include_str!("../../data/schemas/actors.yaml")),
    ("incidents", include_str!("../../data/schemas/incidents.yaml")),
    ("recoveries", include_str!("../../data/schemas/recoveries.yaml")),
    ("crosschain_links", include_str!("../../data/schemas/crosschain_links.yaml")),
    ("prices", include_str!("../../data/schemas/prices.yaml")),
    ("assets", include_str!("../../data/schemas/assets.yaml")),
    ("quarantine", include_str!("../../data/schemas/quarantine.yaml")),
];

/// Every lake table, in a stable order.
pub fn all() -> &'static [TableSchema] {
    static TABLES: OnceLock<Vec<TableSchema>> = OnceLock::new();
    TABLES.get_or_init(|| {
        SOURCES
            .iter()
            .map(|(name, text)| {
                // The files are ifr's own and checked by a unit test: a parse failure is a build defect.
                let t: TableSchema = serde_norway::from_str(text).unwrap_or_else(|e| panic!("data/schemas/{name}.yaml is invalid: {e}"));
                assert_eq!(&t.table, name, "data/schemas/{name}.yaml names another table");
                t
            })
            .collect()
    })
}

/// The schema of a table by name.
pub fn table(name: &str) -> &'static TableSchema {
    all().iter().find(|t| t.table == name).unwrap_or_else(|| panic!("no lake table named {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_parses_and_keys_name_columns() {
        for t in all() {
            assert!(!t.columns.is_empty(), "{}", t.table);
            for k in t.key.iter().chain(&t.partitioned_by) {
                assert!(t.index_of(k).is_some(), "{}: key column {k} is not documented", t.table);
            }
            for c in &t.columns {
                assert!(!c.meaning.is_empty(), "{}.{} has no meaning", t.table, c.name);
            }
        }
        assert_eq!(all().len(), 14);
    }
}
