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
use crate::table::{Cell, TableBuilder, read_parquet, write_parquet};

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
        let amount = decimals.map(|d| crate::amount::adjusted(&t.amount, d as u32));
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
                Cell::Str(t.amount.to_string()),
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
            write_parquet(&mut df, &path)?;
            self.parts.entry(key).or_default().push(path);
        }
        Ok(())
    }

    /// Deduplicate and write every partition into `out` (the staged lake); returns the files written
    /// relative to `out`, and corrects the counts for duplicates.
    pub fn finish(mut self, acc: &mut Acc, out: &Path) -> Result<Vec<PathBuf>> {
        self.spill()?;
        let mut written = Vec::new();
        for ((table, y, m), parts) in std::mem::take(&mut self.parts) {
            let schema = schema::table(table);
            let mut frames = Vec::with_capacity(parts.len());
            for p in &parts {
                frames.push(read_parquet(p)?.lazy());
            }
            let df = concat(frames, UnionArgs::default())
                .and_then(|lf| lf.collect())
                .map_err(|e| Error::polars("combining staged parts", e))?;
            let counted_before = counted_rows(table, &df)?;
            let key: Vec<String> = schema.key.clone();
            let df = df
                .unique_stable(Some(&key), UniqueKeepStrategy::First, None)
                .map_err(|e| Error::polars("deduplicating", e))?;
            let dups = counted_before - counted_rows(table, &df)?;
            acc.counts.loaded -= dups;
            acc.counts.duplicates += dups;
            let mut df = df
                .sort(order(table).iter().copied(), SortMultipleOptions::default().with_nulls_last(false).with_maintain_order(true))
                .map_err(|e| Error::polars("sorting a partition", e))?;
            let rel = PathBuf::from(table).join(&self.chain).join(y.to_string()).join(format!("{m:02}")).join(format!("{}.parquet", self.source));
            write_parquet(&mut df, &out.join(&rel))?;
            written.push(rel);
            for p in parts {
                let _ = std::fs::remove_file(p);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(written)
    }
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
