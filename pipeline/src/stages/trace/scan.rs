//! The lake scan the tracer walks: every transfer once, in time order, month by month, as batches
//! of the columns the tracer needs. Memory is one batch (one month when several files share it).

use std::collections::BTreeMap;
use std::path::PathBuf;

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::lake::Lake;

/// Rows read at a time from a month's lake file (about a row group).
const BATCH_ROWS: usize = 256 * 1024;
const COLUMNS: [&str; 14] = [
    "chain",
    "block_number",
    "tx_index",
    "log_index",
    "trace_address",
    "block_time",
    "tx_hash",
    "from_address",
    "to_address",
    "asset",
    "token_address",
    "amount_raw",
    "decimals",
    "amount",
];

/// The batch's columns: `chain`, `t` (block time, µs), `tx_hash`, `from_address`, `to_address`,
/// `asset_key` (the symbol, else the token address, else `native`), `amount` (decimal-adjusted:
/// the lake's `amount`, the one the queries value) and `amount_raw` (for a token whose decimals are
/// unknown, where `amount` is NULL).
fn columns() -> [Expr; 12] {
    [
        col("chain"),
        col("block_number"),
        col("tx_index"),
        col("log_index"),
        col("trace_address"),
        col("block_time").cast(DataType::Int64).alias("t"),
        col("tx_hash"),
        col("from_address"),
        col("to_address"),
        coalesce(&[col("asset"), col("token_address"), lit("native")]).alias("asset_key"),
        col("amount"),
        col("amount_raw"),
    ]
}

/// Call `walk` on every batch of transfers in time order (within a chain, chain order: block, tx,
/// log, trace); stop early when it returns false.
pub fn in_time_order(lake: &Lake, mut walk: impl FnMut(&DataFrame) -> Result<bool>) -> Result<()> {
    // Files grouped by (year, month), whatever their chain: `<table>/<chain>/<year>/<month>/`.
    let mut months: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for f in lake.table_files("transfers")? {
        let rel = f.strip_prefix(&lake.root).unwrap_or(&f).to_path_buf();
        let key: PathBuf = rel.components().skip(2).take(2).collect();
        months.entry(key).or_default().push(f);
    }
    for files in months.values() {
        if let [file] = files.as_slice() {
            // One file: already in chain order (ingest sorts every partition), so it is read in
            // slices of row groups and never held whole.
            let open = || std::fs::File::open(file).map_err(|e| Error::io("opening", file, e));
            let bad = |e| Error::polars(format!("reading `{}`", file.display()), e);
            let mut first = ParquetReader::new(open()?);
            let meta = first.get_metadata().map_err(bad)?.clone();
            let n = first.num_rows().map_err(bad)?;
            let mut offset = 0;
            while offset < n {
                let mut reader = ParquetReader::new(open()?);
                reader.set_metadata(meta.clone()); // the footer is read once per month, not per slice
                let chunk = reader
                    .with_columns(Some(COLUMNS.iter().map(|c| c.to_string()).collect()))
                    .with_slice(Some((offset, BATCH_ROWS)))
                    .finish()
                    .and_then(|df| df.lazy().select(columns()).collect())
                    .map_err(|e| Error::polars("reading transfers for tracing", e))?;
                offset += BATCH_ROWS;
                if !walk(&chunk)? {
                    return Ok(());
                }
            }
            continue;
        }
        // Several files in one month (sources or chains): merged in memory, in block-time order;
        // within one chain and one time, chain order. Block numbers of two chains are not
        // comparable, so they are never the first key.
        let scans: Vec<LazyFrame> = files
            .iter()
            .map(|p| {
                let path = PlRefPath::try_from_path(p).map_err(|e| Error::polars("path", e))?;
                LazyFrame::scan_parquet(path, ScanArgsParquet::default()).map_err(|e| Error::polars("scanning transfers", e))
            })
            .collect::<Result<_>>()?;
        let df = concat(scans, UnionArgs::default())
            .and_then(|lf| {
                lf.select(columns())
                    .sort(
                        ["t", "chain", "block_number", "tx_index", "log_index", "trace_address"],
                        SortMultipleOptions::default().with_nulls_last(false),
                    )
                    .collect()
            })
            .map_err(|e| Error::polars("reading transfers for tracing", e))?;
        if !walk(&df)? {
            return Ok(());
        }
    }
    Ok(())
}
