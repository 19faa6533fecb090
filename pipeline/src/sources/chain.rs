//! Staging for chain exports, shared by the cryo and ethereum-etl loaders. Rows are routed to
//! chain/year/month partitions and spilled to part files after every input file, so memory is
//! bounded by one file, not by how many there are; `finish` then deduplicates each partition on the
//! natural key (first file wins), sorts it in chain order and writes one file per partition.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{Datelike, TimeZone};
use polars::prelude::*;
use ruint::aliases::U256;

use super::{Acc, At, file_name};
use crate::error::{Error, Result};
use crate::schema;
use crate::table::{Cell, TableBuilder, read_parquet, write_parquet, write_scratch_parquet};

/// Decimals and symbols of the assets a chain source may move (from the `assets` table).
#[derive(Debug, Default, Clone)]
pub struct Assets {
    map: HashMap<(String, Option<String>), (String, i32)>,
}

impl Assets {
    pub fn insert(&mut self, chain: &str, token: Option<&str>, symbol: &str, decimals: i32) {
        self.map.insert((chain.to_string(), token.map(str::to_string)), (symbol.to_string(), decimals));
    }

    /// Build from an `assets` frame.
    pub fn from_frame(df: &DataFrame) -> Result<Assets> {
        let mut a = Assets::default();
        let err = |e| Error::polars("reading the assets table", e);
        let chain = df.column("chain").map_err(err)?.str().map_err(err)?;
        let token = df.column("token_address").map_err(err)?.str().map_err(err)?;
        let symbol = df.column("symbol").map_err(err)?.str().map_err(err)?;
        let decimals = df.column("decimals").map_err(err)?.i32().map_err(err)?;
        for i in 0..df.height() {
            if let (Some(c), Some(s), Some(d)) = (chain.get(i), symbol.get(i), decimals.get(i)) {
                a.insert(c, token.get(i), s, d);
            }
        }
        Ok(a)
    }

    /// (symbol, decimals) of the chain's native coin: the assets table, else the EVM default (18).
    pub fn native(&self, chain: &str) -> (Option<String>, i32) {
        if let Some((s, d)) = self.map.get(&(chain.to_string(), None)) {
            return (Some(s.clone()), *d);
        }
        let sym = match chain {
            "ethereum" | "arbitrum" | "optimism" | "base" => Some("ETH"),
            "bsc" => Some("BNB"),
            "polygon" => Some("POL"),
            "avalanche" => Some("AVAX"),
            _ => None,
        };
        (sym.map(str::to_string), 18)
    }

    /// Add another list's entries (later lists win on the same chain and token).
    pub fn extend(&mut self, other: Assets) {
        self.map.extend(other.map);
    }

    pub fn token(&self, chain: &str, token: &str) -> Option<(String, i32)> {
        self.map.get(&(chain.to_string(), Some(token.to_string()))).cloned()
    }
}

/// Sort order of each chain table inside a partition: chain order.
fn order(table: &str) -> &'static [&'static str] {
    match table {
        "blocks" => &["block_number"],
        "transactions" => &["block_number", "tx_index", "tx_hash"],
        _ => &["block_number", "tx_index", "tx_hash", "kind", "log_index", "trace_address"],
    }
}

type PartKey = (&'static str, i32, i32);

/// A native or token movement about to become a `transfers` row.
pub struct Transfer<'a> {
    pub block_number: i64,
    /// Microseconds, when the input row carries its own time.
    pub time: Option<i64>,
    pub tx_hash: String,
    pub tx_index: Option<i64>,
    pub log_index: Option<i64>,
    pub trace_address: Option<String>,
    pub token: Option<String>,
    pub from: String,
    pub to: String,
    pub amount: U256,
    pub file: &'a Path,
    /// Counted as an input item (false for the value of a transaction row, already counted).
    pub counted: bool,
}

impl<'a> Transfer<'a> {
    /// A counted transfer with the required fields; set the others with struct-update syntax.
    pub fn new(block_number: i64, tx_hash: String, from: String, to: String, amount: U256, file: &'a Path) -> Self {
        Transfer {
            block_number,
            time: None,
            tx_hash,
            tx_index: None,
            log_index: None,
            trace_address: None,
            token: None,
            from,
            to,
            amount,
            file,
            counted: true,
        }
    }
}

pub struct ChainStage<'a> {
    pub chain: String,
    pub source: String,
    dir: PathBuf,
    assets: &'a Assets,
    builders: BTreeMap<PartKey, TableBuilder>,
    parts: BTreeMap<PartKey, Vec<PathBuf>>,
    block_times: HashMap<i64, i64>,
    native: (Option<String>, i32),
    spills: usize,
}

pub fn year_month(micros: i64) -> Option<(i32, i32)> {
    let t = chrono::Utc.timestamp_micros(micros).single()?;
    Some((t.year(), t.month() as i32))
}

impl<'a> ChainStage<'a> {
    pub fn new(chain: &str, source: &str, dir: PathBuf, assets: &'a Assets) -> Self {
        ChainStage {
            chain: chain.to_string(),
            source: source.to_string(),
            native: assets.native(chain),
            dir,
            assets,
            builders: BTreeMap::new(),
            parts: BTreeMap::new(),
            block_times: HashMap::new(),
            spills: 0,
        }
    }

    fn push(&mut self, table: &'static str, micros: i64, row: impl FnOnce(i32, i32) -> Vec<Cell>) -> Result<()> {
        let (y, m) = year_month(micros).ok_or_else(|| Error::Internal(format!("timestamp {micros} out of range")))?;
        let b = self.builders.entry((table, y, m)).or_insert_with(|| TableBuilder::new(schema::table(table)));
        b.push(row(y, m))
    }

    pub fn block_time(&self, n: i64) -> Option<i64> {
        self.block_times.get(&n).copied()
    }

    /// Remember a block's time (from a transactions file that carries it) without a blocks row.
    pub fn note_block_time(&mut self, n: i64, micros: i64) {
        self.block_times.entry(n).or_insert(micros);
    }

    pub fn block(&mut self, acc: &mut Acc, number: i64, hash: Option<String>, micros: i64, file: &Path) -> Result<()> {
        self.block_times.insert(number, micros);
        let chain = self.chain.clone();
        self.push("blocks", micros, |y, m| {
            vec![Cell::Str(chain), Cell::I64(number), hash.into(), Cell::Datetime(micros), Cell::I32(y), Cell::I32(m), Cell::Str(file_name(file))]
        })?;
        acc.counts.loaded += 1;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn transaction(
        &mut self,
        acc: &mut Acc,
        at: At<'_>,
        block_number: i64,
        time: Option<i64>,
        tx_hash: &str,
        tx_index: Option<i64>,
        from: &str,
        to: Option<&str>,
        value: &U256,
        success: Option<bool>,
    ) -> Result<bool> {
        let Some(micros) = time.or_else(|| self.block_time(block_number)) else {
            acc.quarantine(at, Some("block_number"), Some(&block_number.to_string()), "block is not in the blocks export (its time is unknown)")?;
            return Ok(false);
        };
        let chain = self.chain.clone();
        let file = file_name(at.file);
        self.push("transactions", micros, |y, m| {
            vec![
                Cell::Str(chain),
                Cell::I64(block_number),
                Cell::Datetime(micros),
                Cell::I32(y),
                Cell::I32(m),
                Cell::Str(tx_hash.to_string()),
                tx_index.into(),
                Cell::Str(from.to_string()),
                to.map(str::to_string).into(),
                Cell::Str(value.to_string()),
                success.into(),
                Cell::Str(file),
            ]
        })?;
        acc.counts.loaded += 1;
        Ok(true)
    }

    /// The native value a successful top-level transaction moved, as a transfer (not counted as an
    /// input item: the transaction row is). Nothing for zero values, failures or contract creations.
    #[allow(clippy::too_many_arguments)]
    pub fn transaction_value(
        &mut self,
        acc: &mut Acc,
        at: At<'_>,
        block_number: i64,
        time: Option<i64>,
        tx_hash: String,
        tx_index: Option<i64>,
        from: String,
        to: Option<String>,
        value: U256,
        success: Option<bool>,
    ) -> Result<()> {
        match to {
            Some(to) if !value.is_zero() && success != Some(false) => self.transfer(
                acc,
                at,
                Transfer { time, tx_index, counted: false, ..Transfer::new(block_number, tx_hash, from, to, value, at.file) },
            ),
            _ => Ok(()),
        }
    }

    /// Stage a transfer; quarantines it when its block's time is unknown.
    pub fn transfer(&mut self, acc: &mut Acc, at: At<'_>, t: Transfer<'_>) -> Result<()> {
        let Some(micros) = t.time.or_else(|| self.block_time(t.block_number)) else {
            if t.counted {
                acc.quarantine(at, Some("block_number"), Some(&t.block_number.to_string()), "block is not in the blocks export (its time is unknown)")?;
            }
            return Ok(());
        };
        let (asset, decimals) = match &t.token {
            None => (self.native.0.clone(), Some(self.native.1)),
            Some(tok) => match self.assets.token(&self.chain, tok) {
                Some((s, d)) => (Some(s), Some(d)),
                None => (None, None),
            },
        };
        let raw = t.amount.to_string();
        let amount = decimals.map(|d| crate::amount::adjusted_text(&raw, d as u32));
        let chain = self.chain.clone();
        let kind = if t.token.is_some() { "token" } else { "native" };
        let file = file_name(t.file);
        self.push("transfers", micros, |y, m| {
            vec![
                Cell::Str(chain),
                Cell::I64(t.block_number),
                Cell::Datetime(micros),
                Cell::I32(y),
                Cell::I32(m),
                Cell::Str(t.tx_hash),
                t.tx_index.into(),
                t.log_index.into(),
                t.trace_address.into(),
                Cell::Str(kind.into()),
                t.token.into(),
                asset.into(),
                Cell::Str(t.from),
                Cell::Str(t.to),
                Cell::Str(raw),
                decimals.into(),
                amount.into(),
                Cell::Str(file),
            ]
        })?;
        if t.counted {
            acc.counts.loaded += 1;
        }
        Ok(())
    }

    /// Write what is buffered to part files (called after each input file).
    pub fn spill(&mut self) -> Result<()> {
        let builders = std::mem::take(&mut self.builders);
        for (key, b) in builders {
            if b.is_empty() {
                continue;
            }
            self.spills += 1;
            let path = self.dir.join(format!("part-{:06}.parquet", self.spills));
            let mut df = b.finish()?;
            write_scratch_parquet(&mut df, &path)?;
            self.parts.entry(key).or_default().push(path);
        }
        Ok(())
    }

    /// Deduplicate and write every partition into `out` (the staged lake); returns the files written
    /// relative to `out`, and corrects the counts for duplicates.
    ///
    /// Memory is bounded by one run of overlapping block ranges, not by the partition: a first pass
    /// reads only the key columns and hashes each row's natural key; when no two hashes are equal
    /// there is no duplicate, and the part files (each from one input file, so one block range) are
    /// sorted and written a run of overlapping block ranges at a time. Only a partition where two
    /// key hashes are equal is deduplicated exactly in memory as a whole.
    pub fn finish(mut self, acc: &mut Acc, out: &Path) -> Result<Vec<PathBuf>> {
        self.spill()?;
        let mut written = Vec::new();
        for ((table, y, m), parts) in std::mem::take(&mut self.parts) {
            let rel = PathBuf::from(table).join(&self.chain).join(y.to_string()).join(format!("{m:02}")).join(format!("{}.parquet", self.source));
            let scanned = scan_keys(table, &parts)?;
            if scanned.maybe_duplicates {
                dedup_in_memory(acc, table, &parts, &out.join(&rel))?;
            } else {
                write_sorted_runs(table, &parts, &scanned.ranges, &out.join(&rel))?;
            }
            written.push(rel);
            for p in parts {
                let _ = std::fs::remove_file(p);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(written)
    }
}

/// The exact path: the whole partition in memory, first row per key kept.
fn dedup_in_memory(acc: &mut Acc, table: &'static str, parts: &[PathBuf], path: &Path) -> Result<()> {
    let schema = schema::table(table);
    let df = concat_parts(parts)?;
    let counted_before = counted_rows(table, &df)?;
    let key: Vec<String> = schema.key.clone();
    let df = df
        .unique_stable(Some(&key), UniqueKeepStrategy::First, None)
        .map_err(|e| Error::polars("deduplicating", e))?;
    let dups = counted_before - counted_rows(table, &df)?;
    acc.counts.loaded -= dups;
    acc.counts.duplicates += dups;
    let mut df = sort_chain_order(table, df)?;
    write_parquet(&mut df, path)
}

fn concat_parts(parts: &[PathBuf]) -> Result<DataFrame> {
    let mut frames = Vec::with_capacity(parts.len());
    for p in parts {
        frames.push(read_parquet(p)?.lazy());
    }
    concat(frames, UnionArgs::default())
        .and_then(|lf| lf.collect())
        .map_err(|e| Error::polars("combining staged parts", e))
}

fn sort_chain_order(table: &str, df: DataFrame) -> Result<DataFrame> {
    df.sort(order(table).iter().copied(), SortMultipleOptions::default().with_nulls_last(false).with_maintain_order(true))
        .map_err(|e| Error::polars("sorting a partition", e))
}

struct KeyScan {
    /// Two rows share a key hash (perhaps a duplicate: the exact path decides).
    maybe_duplicates: bool,
    /// Block range (min, max) of each part, in part order.
    ranges: Vec<(i64, i64)>,
}

/// Read only the key columns of every part, hash each row's natural key (a fixed hasher: the same
/// on every run) and report whether any two are equal, with each part's block range.
fn scan_keys(table: &str, parts: &[PathBuf]) -> Result<KeyScan> {
    use std::hash::{Hash, Hasher};
    let key = schema::table(table).key.clone();
    let mut cols: Vec<String> = key.clone();
    if !cols.iter().any(|c| c == "block_number") {
        cols.push("block_number".to_string());
    }
    let mut hashes: Vec<u64> = Vec::new();
    let mut ranges = Vec::with_capacity(parts.len());
    for p in parts {
        let file = std::fs::File::open(p).map_err(|e| Error::io("opening", p, e))?;
        let df = ParquetReader::new(file)
            .with_columns(Some(cols.clone()))
            .finish()
            .map_err(|e| Error::polars(format!("reading `{}`", p.display()), e))?;
        let err = |e| Error::polars("reading staged keys", e);
        let blocks = df.column("block_number").map_err(err)?.i64().map_err(err)?;
        ranges.push((blocks.min().unwrap_or(0), blocks.max().unwrap_or(0)));
        let key_cols: Vec<&Column> = key.iter().map(|k| df.column(k)).collect::<PolarsResult<_>>().map_err(err)?;
        let mut row_hashes = vec![std::hash::DefaultHasher::new(); df.height()];
        for c in key_cols {
            match c.dtype() {
                DataType::String => {
                    for (h, v) in row_hashes.iter_mut().zip(c.str().map_err(err)?.iter()) {
                        v.hash(h);
                    }
                }
                _ => {
                    let c = c.cast(&DataType::Int64).map_err(err)?;
                    for (h, v) in row_hashes.iter_mut().zip(c.i64().map_err(err)?.iter()) {
                        v.hash(h);
                    }
                }
            }
        }
        hashes.extend(row_hashes.into_iter().map(|h| h.finish()));
    }
    hashes.sort_unstable();
    let maybe_duplicates = hashes.windows(2).any(|w| w[0] == w[1]);
    Ok(KeyScan { maybe_duplicates, ranges })
}

/// Rows per Parquet row group when a partition is written in runs.
const ROW_GROUP_ROWS: usize = 256 * 1024;

/// Write a partition without duplicates: parts whose block ranges overlap are sorted together
/// (stable, in part order, as the in-memory path would), runs in block order, row groups of about
/// ROW_GROUP_ROWS rows.
fn write_sorted_runs(table: &str, parts: &[PathBuf], ranges: &[(i64, i64)], path: &Path) -> Result<()> {
    let mut order_idx: Vec<usize> = (0..parts.len()).collect();
    order_idx.sort_by_key(|&i| (ranges[i].0, i));
    let mut runs: Vec<Vec<usize>> = Vec::new();
    let mut run_max = i64::MIN;
    for i in order_idx {
        match runs.last_mut() {
            Some(run) if ranges[i].0 <= run_max => run.push(i),
            _ => runs.push(vec![i]),
        }
        run_max = run_max.max(ranges[i].1);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating folder", dir, e))?;
    }
    let file = std::fs::File::create(path).map_err(|e| Error::io("creating", path, e))?;
    let schema = schema::table(table).polars_schema();
    let mut writer = ParquetWriter::new(file)
        .with_compression(crate::table::lake_compression())
        .with_statistics(StatisticsOptions::full())
        .batched(&schema)
        .map_err(|e| Error::polars(format!("writing `{}`", path.display()), e))?;
    let mut pending: Vec<DataFrame> = Vec::new();
    let mut pending_rows = 0;
    let flush = |pending: &mut Vec<DataFrame>, writer: &mut polars::io::parquet::write::BatchedWriter<std::fs::File>| -> Result<()> {
        if pending.is_empty() {
            return Ok(());
        }
        let mut df = pending.remove(0);
        for d in pending.drain(..) {
            df.vstack_mut_owned(d).map_err(|e| Error::polars("combining sorted runs", e))?;
        }
        writer.write_batch(&df).map_err(|e| Error::polars(format!("writing `{}`", path.display()), e))
    };
    for run in runs {
        let mut run = run;
        run.sort_unstable(); // part order inside a run: ties keep the order of the input files
        let files: Vec<PathBuf> = run.iter().map(|&i| parts[i].clone()).collect();
        let df = sort_chain_order(table, concat_parts(&files)?)?;
        pending_rows += df.height();
        pending.push(df);
        if pending_rows >= ROW_GROUP_ROWS {
            flush(&mut pending, &mut writer)?;
            pending_rows = 0;
        }
    }
    flush(&mut pending, &mut writer)?;
    writer.finish().map_err(|e| Error::polars(format!("writing `{}`", path.display()), e))?;
    Ok(())
}

/// Rows that stand for an input item (a transaction's own value transfer does not: the transaction row does).
fn counted_rows(table: &str, df: &DataFrame) -> Result<u64> {
    if table != "transfers" {
        return Ok(df.height() as u64);
    }
    let err = |e| Error::polars("counting transfers", e);
    let derived = df
        .column("log_index")
        .map_err(err)?
        .is_null()
        .bitand(df.column("trace_address").map_err(err)?.is_null());
    Ok((df.height() - derived.sum().unwrap_or(0) as usize) as u64)
}

use std::ops::BitAnd;
