//! The lake scan the tracer walks: every transfer once, in time order, month by month, as batches
//! of the columns the tracer needs. Memory is one batch (one month when several files share it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use sha2::{Digest, Sha256};

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

/// One month of a walk as a checkpoint records it: the lake files read, the rows walked, and, for
/// the walk's last month, a hash of those rows in walk order (a later walk checks that they are
/// still the month's first rows before it continues after them).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MonthWalked {
    /// `<year>/<month>`
    pub key: String,
    /// Lake-relative names.
    pub files: Vec<String>,
    /// Each file's size and modification time (ns): with the name, what says it is the same file.
    pub ids: Vec<(u64, u128)>,
    pub rows: u64,
    pub hash: Option<String>,
}

/// How a walk ended.
pub enum Walked {
    /// Every transfer was walked (after the resumed ones): the months, for the next checkpoint.
    All(Vec<MonthWalked>),
    /// `walk` stopped it.
    Stopped,
    /// The checkpoint's months are not the lake's first months any more (a month before its last
    /// was rewritten, or its last month's first rows changed): nothing was walked.
    Changed,
}

/// Hashes of rows, in walk order: each row's columns hashed to 64 bits, the row hashes fed to
/// SHA-256.
struct RowHash {
    sha: Sha256,
    rows: u64,
}

impl RowHash {
    fn new() -> RowHash {
        RowHash { sha: Sha256::new(), rows: 0 }
    }

    fn hex(&self) -> String {
        hex::encode(self.sha.clone().finalize())
    }

    /// Row hashes of a batch of [`columns`].
    fn of(df: &DataFrame) -> Result<Vec<u64>> {
        use std::hash::{BuildHasher, Hasher};
        let state = foldhash::quality::FixedState::with_seed(0x6966_725f_7761_6c6b);
        let mut rows = vec![0u64; df.height()];
        let mix = |acc: &mut u64, h: u64| *acc = acc.rotate_left(7) ^ h.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for c in df.columns() {
            let bad = |e| Error::polars(format!("hashing column {}", c.name()), e);
            let one = |v: Option<&[u8]>| -> u64 {
                let mut h = state.build_hasher();
                match v {
                    Some(b) => {
                        h.write_u8(1);
                        h.write(b);
                    }
                    None => h.write_u8(0),
                }
                h.finish()
            };
            match c.dtype() {
                DataType::String => {
                    for (acc, v) in rows.iter_mut().zip(c.str().map_err(bad)?.iter()) {
                        mix(acc, one(v.map(str::as_bytes)));
                    }
                }
                DataType::Float64 => {
                    for (acc, v) in rows.iter_mut().zip(c.f64().map_err(bad)?.iter()) {
                        mix(acc, one(v.map(|f| f.to_bits().to_le_bytes()).as_ref().map(|b| b.as_slice())));
                    }
                }
                _ => {
                    let ints = c.cast(&DataType::Int64).map_err(bad)?;
                    for (acc, v) in rows.iter_mut().zip(ints.i64().map_err(bad)?.iter()) {
                        mix(acc, one(v.map(|i| i.to_le_bytes()).as_ref().map(|b| b.as_slice())));
                    }
                }
            }
        }
        Ok(rows)
    }
}

/// Whether a month's files are one source's partition file and its later parts on one chain (see
/// `sources::partition::part_name`): then read one after another, in name order, they are the
/// month in chain order.
fn one_source(lake: &Lake, files: &[PathBuf]) -> bool {
    let id = |f: &PathBuf| -> (String, String) {
        let rel = f.strip_prefix(&lake.root).unwrap_or(f);
        let logical = crate::lake::logical_name(&rel.display().to_string());
        let chain = crate::lake::partition(&logical).map(|p| p.chain).unwrap_or_default();
        let name = Path::new(&logical).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let source = name.split(['~', '.']).next().unwrap_or("").to_string();
        (chain, source)
    };
    files.windows(2).all(|w| id(&w[0]) == id(&w[1]))
}

/// Call `walk` on every batch of the transfers of `chains`, file by file in the lake's order (each
/// file in chain order), `BATCH_ROWS` rows at a time: never a month of them merged in memory.
pub fn chain_batches(
    lake: &Lake,
    chains: &std::collections::BTreeSet<String>,
    mut walk: impl FnMut(&DataFrame) -> Result<()>,
) -> Result<()> {
    for file in lake.table_files("transfers")? {
        let rel = file.strip_prefix(&lake.root).unwrap_or(&file).display().to_string();
        if !crate::lake::partition(&rel).is_some_and(|p| chains.contains(&p.chain)) {
            continue;
        }
        file_batches(&file, |chunk| walk(&chunk).map(|()| true))?;
    }
    Ok(())
}

/// Call `each` on the batches of one transfers file (in its order, `BATCH_ROWS` rows at a time,
/// the tracer's columns), until it returns false.
fn file_batches(file: &Path, mut each: impl FnMut(DataFrame) -> Result<bool>) -> Result<()> {
    let open = || std::fs::File::open(file).map_err(|e| Error::io("opening", file, e));
    let bad = |e| Error::polars(format!("reading `{}`", file.display()), e);
    let mut first = ParquetReader::new(open()?);
    let meta = first.get_metadata().map_err(bad)?.clone();
    let n = first.num_rows().map_err(bad)?;
    let mut offset = 0;
    while offset < n {
        let mut reader = ParquetReader::new(open()?);
        reader.set_metadata(meta.clone()); // the footer is read once per file, not per slice
        let chunk = reader
            .with_columns(Some(COLUMNS.iter().map(|c| c.to_string()).collect()))
            .with_slice(Some((offset, BATCH_ROWS)))
            .finish()
            .and_then(|df| df.lazy().select(columns()).collect())
            .map_err(|e| Error::polars("reading transfers for tracing", e))?;
        offset += BATCH_ROWS;
        if !each(chunk)? {
            break;
        }
    }
    Ok(())
}

/// Call `walk` on every batch of transfers in time order (within a chain, chain order: block, tx,
/// log, trace); stop early when it returns false. With `resume` (the months of an earlier walk, as
/// [`Walked::All`] gave them), the rows that walk saw are skipped: its months but the last must be
/// the lake's first months, file for file, and its last month's files the first files of that month
/// now (a day added as a new part), or, with its rows' hash, its rows the first rows of that month
/// now (a month rewritten); otherwise nothing is walked and [`Walked::Changed`] returned.
/// The transfers of the chains in `skip` (UTXO chains, walked on their inputs and outputs) are left
/// out: see [`chain_batches`].
pub fn in_time_order(
    lake: &Lake,
    resume: &[MonthWalked],
    skip: &std::collections::BTreeSet<String>,
    mut walk: impl FnMut(&DataFrame) -> Result<bool>,
) -> Result<Walked> {
    // Files grouped by (year, month), whatever their chain: `<table>/chain=<c>/year=<y>/month=<m>/`.
    let mut months: BTreeMap<(i32, i32), Vec<PathBuf>> = BTreeMap::new();
    for f in lake.table_files("transfers")? {
        let rel = f.strip_prefix(&lake.root).unwrap_or(&f).display().to_string();
        let Some(p) = crate::lake::partition(&rel) else {
            return Err(Error::Internal(format!("a transfers file outside a chain/year/month partition: {rel}")));
        };
        if skip.contains(&p.chain) {
            continue;
        }
        months.entry((p.year, p.month)).or_default().push(f);
    }
    let rel_names = |files: &[PathBuf]| -> Vec<String> {
        files.iter().map(|f| f.strip_prefix(&lake.root).unwrap_or(f).display().to_string()).collect()
    };
    // A file that cannot be read gets an id no saved walk has.
    let ids = |files: &[PathBuf]| -> Vec<(u64, u128)> {
        files
            .iter()
            .map(|f| {
                let meta = std::fs::metadata(f).ok();
                let ns = meta.as_ref().and_then(|m| m.modified().ok()).and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
                (meta.map_or(u64::MAX, |m| m.len()), ns.map_or(u128::MAX, |d| d.as_nanos()))
            })
            .collect()
    };
    let keys: Vec<String> = months.keys().map(|(y, m)| format!("{y:04}/{m:02}")).collect();
    let mut walked: Vec<MonthWalked> = Vec::new();
    // The first month to read; in it, the files walked before (and their rows), or the rows walked
    // before (with their hash).
    let mut start = 0;
    let (mut skip_files, mut skip_file_rows, mut skip): (usize, u64, Option<(u64, String)>) = (0, 0, None);
    // The saved hash of a month all of whose files were walked before.
    let mut kept_hash = None;
    if let Some((last, before)) = resume.split_last() {
        let lake_months: Vec<(&String, &Vec<PathBuf>)> = keys.iter().zip(months.values()).collect();
        let same_before = before.len() < lake_months.len()
            && before.iter().zip(&lake_months).all(|(m, (k, files))| &m.key == *k && m.files == rel_names(files) && m.ids == ids(files));
        if !same_before || lake_months[before.len()].0 != &last.key {
            return Ok(Walked::Changed);
        }
        let files = lake_months[before.len()].1;
        let same_first = rel_names(files).starts_with(&last.files) && ids(files).starts_with(&last.ids);
        if same_first && (last.files.len() == files.len() || one_source(lake, files)) {
            (skip_files, skip_file_rows) = (last.files.len(), last.rows);
            if last.files.len() == files.len() {
                kept_hash = last.hash.clone();
            }
        } else if let Some(hash) = last.hash.clone() {
            skip = Some((last.rows, hash));
        } else {
            return Ok(Walked::Changed);
        }
        walked.extend(before.iter().cloned());
        start = before.len();
    }
    let n_months = months.len();
    for (i, (files, key)) in months.values().zip(&keys).enumerate().skip(start) {
        let is_last = i + 1 == n_months;
        let (first_file, mut rows) = if i == start { (skip_files, skip_file_rows) } else { (0, 0) };
        // The hash of the month's rows, for the next walk: only of the last month, read whole.
        let hashed = is_last && first_file == 0;
        let mut hash = RowHash::new();
        let (skip_rows, skip_hash) = match skip.take() {
            Some((n, h)) => (n, Some(h)),
            None => (0, None),
        };
        let mut verified = skip_rows == 0;
        // One batch: hash it as needed, pass on what was not walked before.
        let mut batch = |df: DataFrame| -> Result<Option<bool>> {
            let n = df.height() as u64;
            let offset = skip_rows.saturating_sub(rows).min(n);
            if hashed || !verified {
                let hashes = RowHash::of(&df)?;
                for (j, h) in hashes.iter().enumerate() {
                    hash.sha.update(h.to_le_bytes());
                    hash.rows += 1;
                    if !verified && hash.rows == skip_rows {
                        if Some(hash.hex()) != skip_hash {
                            return Ok(None);
                        }
                        verified = true;
                    }
                    if verified && !hashed && j as u64 + 1 >= offset {
                        break;
                    }
                }
            }
            rows += n;
            if offset == n {
                return Ok(Some(true));
            }
            let rest = if offset == 0 { df } else { df.slice(offset as i64, (n - offset) as usize) };
            walk(&rest).map(Some)
        };
        let go = if first_file >= files.len() {
            // Every file of the month was walked before.
            Some(true)
        } else if files.len() == 1 || one_source(lake, files) {
            // One source's file and parts: each already in chain order (ingest sorts every
            // partition), and each part after the files before it; read in slices of row groups,
            // never held whole.
            let mut go = Some(true);
            for file in &files[first_file.min(files.len())..] {
                file_batches(file, |chunk| {
                    go = batch(chunk)?;
                    Ok(go == Some(true))
                })?;
                if go != Some(true) {
                    break;
                }
            }
            go
        } else {
            // Several sources or chains in one month: merged in memory, in block-time order; within
            // one chain and one time, chain order. Block numbers of two chains are not
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
                            ["t", "chain", "block_number", "tx_index", "tx_hash", "log_index", "trace_address"],
                            SortMultipleOptions::default().with_nulls_last(false).with_maintain_order(true),
                        )
                        .collect()
                })
                .map_err(|e| Error::polars("reading transfers for tracing", e))?;
            batch(df)?
        };
        match go {
            None => return Ok(Walked::Changed),
            Some(false) => return Ok(Walked::Stopped),
            Some(true) if !verified => return Ok(Walked::Changed),
            Some(true) => {}
        }
        let hash = if hashed {
            Some(hash.hex())
        } else if i == start {
            kept_hash.take()
        } else {
            None
        };
        walked.push(MonthWalked { key: key.clone(), files: rel_names(files), ids: ids(files), rows, hash });
    }
    Ok(Walked::All(walked))
}
