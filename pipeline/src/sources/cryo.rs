//! cryo Parquet exports (`{network}__{dataset}__{start}_to_{end}.parquet`): blocks, transactions,
//! native_transfers, traces and erc20_transfers. Addresses and hashes may be raw bytes or 0x-hex;
//! 256-bit values are read from `*_binary` or `*_string` columns, never from `*_f64`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use ruint::aliases::U256;

use super::chain::{ChainStage, Transfer};
use super::partition::MonthOf;
use super::{Acc, At, Input, file_name};
use crate::error::{Error, Result};
use crate::{address, amount};

/// A cryo dataset ifr reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dataset {
    Blocks,
    Transactions,
    NativeTransfers,
    Traces,
    Erc20Transfers,
}

impl Dataset {
    /// In the order they are loaded (blocks first: they give time).
    pub const ALL: [Dataset; 5] =
        [Dataset::Blocks, Dataset::Transactions, Dataset::NativeTransfers, Dataset::Traces, Dataset::Erc20Transfers];

    /// The name in cryo's file names (`{network}__{dataset}__{start}_to_{end}.parquet`).
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Blocks => "blocks",
            Dataset::Transactions => "transactions",
            Dataset::NativeTransfers => "native_transfers",
            Dataset::Traces => "traces",
            Dataset::Erc20Transfers => "erc20_transfers",
        }
    }

    /// The dataset named in a cryo file name.
    pub fn of(path: &Path) -> Option<Dataset> {
        let name = path.file_name()?.to_str()?;
        let parts: Vec<&str> = name.split("__").collect();
        if parts.len() < 3 {
            return None;
        }
        Dataset::ALL.into_iter().find(|d| d.name() == parts[1])
    }

    /// The lake tables the dataset can add rows to.
    fn tables(self) -> &'static [&'static str] {
        match self {
            Dataset::Blocks => &["blocks"],
            Dataset::Transactions => &["transactions", "transfers"],
            Dataset::NativeTransfers | Dataset::Traces | Dataset::Erc20Transfers => &["transfers"],
        }
    }
}

impl std::fmt::Display for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A column of addresses or hashes, as bytes or as text.
enum HexCol {
    Bin(BinaryChunked),
    Str(StringChunked),
}

impl HexCol {
    fn is_null(&self, i: usize) -> bool {
        match self {
            HexCol::Bin(c) => c.get(i).is_none(),
            HexCol::Str(c) => c.get(i).is_none(),
        }
    }

    /// Row `i` as lowercase 0x hex of `bytes` bytes, written into `out` (replacing its contents).
    fn hex_into(&self, i: usize, bytes: usize, out: &mut Vec<u8>) -> Result<(), String> {
        out.clear();
        match self {
            HexCol::Bin(c) => match c.get(i) {
                None => Err("missing value".into()),
                Some(b) if b.len() == bytes => {
                    address::hex0x_into(b, out);
                    Ok(())
                }
                Some(b) if bytes == 20 => Err(format!("expected a 20-byte address, got {} bytes", b.len())),
                Some(b) => Err(format!("expected a 32-byte hash, got {} bytes", b.len())),
            },
            HexCol::Str(_) => {
                let s = self.get(i, bytes).unwrap_or_else(|| Err("missing value".into()))?;
                out.extend_from_slice(s.as_bytes());
                Ok(())
            }
        }
    }

    fn get(&self, i: usize, bytes: usize) -> Option<Result<String, String>> {
        match self {
            HexCol::Bin(c) => c.get(i).map(|b| if bytes == 20 { address::evm_bytes(b) } else { address::hash32_bytes(b) }),
            HexCol::Str(c) => c.get(i).map(|s| if bytes == 20 { address::evm(s) } else { address::hash32(s) }),
        }
    }
}

enum ValCol {
    Bin(BinaryChunked),
    Str(StringChunked),
}

impl ValCol {
    fn get(&self, i: usize) -> Option<Result<U256, String>> {
        match self {
            ValCol::Bin(c) => c.get(i).map(amount::from_be_bytes),
            ValCol::Str(c) => c.get(i).map(amount::parse_any),
        }
    }
}

struct Frame<'a> {
    df: DataFrame,
    path: &'a Path,
    dataset: Dataset,
}

impl<'a> Frame<'a> {
    fn missing(&self, what: &str) -> Error {
        let found: Vec<String> = self.df.get_column_names().iter().map(|s| s.to_string()).collect();
        Error::input(self.path, format!("cryo {} file: expected column {what}; found {}", self.dataset, found.join(", ")))
    }

    fn hex(&self, name: &str) -> Result<HexCol> {
        let c = self.df.column(name).map_err(|_| self.missing(name))?;
        match c.dtype() {
            DataType::Binary => Ok(HexCol::Bin(c.binary().map_err(|e| Error::polars("binary column", e))?.clone())),
            DataType::String => Ok(HexCol::Str(c.str().map_err(|e| Error::polars("string column", e))?.clone())),
            other => Err(Error::input(self.path, format!("column {name}: expected binary or 0x-hex text, found {other}"))),
        }
    }

    fn int(&self, name: &str) -> Result<Int64Chunked> {
        let c = self.df.column(name).map_err(|_| self.missing(name))?;
        let c = c.cast(&DataType::Int64).map_err(|e| Error::input_caused(self.path, format!("column {name}: expected an integer"), e))?;
        Ok(c.i64().map_err(|e| Error::polars("int column", e))?.clone())
    }

    fn opt_int(&self, name: &str) -> Result<Option<Int64Chunked>> {
        if self.df.column(name).is_ok() { self.int(name).map(Some) } else { Ok(None) }
    }

    fn opt_str(&self, name: &str) -> Result<Option<StringChunked>> {
        match self.df.column(name) {
            Err(_) => Ok(None),
            Ok(c) => {
                let c =
                    c.cast(&DataType::String).map_err(|e| Error::input_caused(self.path, format!("column {name}: expected text"), e))?;
                Ok(Some(c.str().map_err(|e| Error::polars("string column", e))?.clone()))
            }
        }
    }

    /// A 256-bit value column: `{base}_binary`, `{base}_string`, or `{base}` itself.
    fn value(&self, base: &str) -> Result<ValCol> {
        for name in [format!("{base}_binary"), format!("{base}_string"), base.to_string()] {
            if let Ok(c) = self.df.column(&name) {
                return match c.dtype() {
                    DataType::Binary => Ok(ValCol::Bin(c.binary().map_err(|e| Error::polars("binary column", e))?.clone())),
                    DataType::String => Ok(ValCol::Str(c.str().map_err(|e| Error::polars("string column", e))?.clone())),
                    other => Err(Error::input(
                        self.path,
                        format!(
                            "column {name}: expected a 256-bit value as bytes or text, found {other} (ifr never reads amounts through floats)"
                        ),
                    )),
                };
            }
        }
        Err(self.missing(&format!("{base}_binary or {base}_string (a {base}_f64 column alone is not exact)")))
    }
}

fn read_frame(path: &Path) -> Result<DataFrame> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("opening", path, e))?;
    ParquetReader::new(file).finish().map_err(|e| Error::input_caused(path, "not a readable Parquet file (truncated or corrupt?)", e))
}

pub fn load(input: &Input<'_>, acc: &mut Acc, stage: &mut ChainStage<'_>) -> Result<()> {
    let mut files: Vec<(Dataset, &PathBuf)> = Vec::new();
    for f in input.files {
        let ds = Dataset::of(f).ok_or_else(|| {
            let names: Vec<&str> = Dataset::ALL.iter().map(|d| d.name()).collect();
            Error::input(
                f,
                format!("not a cryo file name ifr reads: expected {{network}}__{{dataset}}__{{start}}_to_{{end}}.parquet with dataset one of {}", names.join(", ")),
            )
        })?;
        files.push((ds, f));
    }
    files.sort_by_key(|(ds, f)| (*ds, (*f).clone()));
    let has_native = files.iter().any(|(d, _)| *d == Dataset::NativeTransfers);
    let has_traces = files.iter().any(|(d, _)| *d == Dataset::Traces);

    // Streaming wants the files in block order: every blocks file first (they give the times),
    // then the other datasets range by range. It needs every file's block range from its name.
    let starts: Option<Vec<i64>> = if stage.streaming() { files.iter().map(|(_, f)| claimed_start(f)).collect() } else { None };
    let next: Vec<[Option<i64>; 3]> = match starts {
        None => {
            if stage.streaming() {
                stage.stream_no_more("a file name without a block range ({start}_to_{end})");
            }
            vec![[None; 3]; files.len() + 1]
        }
        Some(starts) => {
            let mut ordered: Vec<((Dataset, &PathBuf), i64)> = files.into_iter().zip(starts).collect();
            ordered.sort_by_key(|((ds, f), start)| (*ds != Dataset::Blocks, *start, *ds, (*f).clone()));
            // For each position, the lowest claimed start of the files from there on, per table.
            let mut next = vec![[None; 3]; ordered.len() + 1];
            for (i, ((ds, _), start)) in ordered.iter().enumerate().rev() {
                let mut n: [Option<i64>; 3] = next[i + 1];
                for t in ds.tables() {
                    let slot = &mut n[table_slot(t)];
                    *slot = Some(slot.map_or(*start, |s: i64| s.min(*start)));
                }
                next[i] = n;
            }
            files = ordered.into_iter().map(|(f, _)| f).collect();
            next
        }
    };

    for (i, (ds, path)) in files.into_iter().enumerate() {
        input.file_started(path);
        let fr = Frame { df: read_frame(path)?, path, dataset: ds };
        match ds {
            Dataset::Blocks => blocks(&fr, acc, stage)?,
            Dataset::Transactions => transactions(&fr, acc, stage, !(has_native || has_traces))?,
            Dataset::NativeTransfers => transfers(&fr, acc, stage, false)?,
            Dataset::Traces => traces(&fr, acc, stage, has_native)?,
            Dataset::Erc20Transfers => transfers(&fr, acc, stage, true)?,
        }
        let after = &next[i + 1];
        stage.file_done(&|t| after[table_slot(t)])?;
        if stage.abandoned().is_some() {
            return Ok(()); // loaded again through part files
        }
    }
    Ok(())
}

fn table_slot(table: &str) -> usize {
    match table {
        "blocks" => 0,
        "transactions" => 1,
        _ => 2,
    }
}

/// The first block of a cryo file's range, from its name (`…__{start}_to_{end}.parquet`).
fn claimed_start(path: &Path) -> Option<i64> {
    super::chain::chunk_range(crate::config::Format::Cryo, path).map(|(start, _)| start)
}

/// Blocks, column by column: each block's time is remembered for the transfers that follow.
fn blocks(fr: &Frame<'_>, acc: &mut Acc, stage: &mut ChainStage<'_>) -> Result<()> {
    let number = fr.int("block_number")?;
    let ts = fr.int("timestamp")?;
    let hash = if fr.df.column("block_hash").is_ok() { Some(fr.hex("block_hash")?) } else { None };
    let n = fr.df.height();
    acc.counts.read += n as u64;
    let mut block_number: Vec<i64> = Vec::with_capacity(n);
    let mut block_time: Vec<i64> = Vec::with_capacity(n);
    let (mut year, mut month): (Vec<i32>, Vec<i32>) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut block_hash = StringChunkedBuilder::new("block_hash".into(), n);
    let mut buf = Vec::with_capacity(66);
    let mut months = MonthOf::default();
    for i in 0..n {
        let at = At::new(fr.path, i as i64);
        let (Some(b), Some(t)) = (number.get(i), ts.get(i)) else {
            // A value that is there but did not fit a signed 64-bit integer (a uint64 >= 2^63).
            let raw = |c: &str| fr.df.column(c).ok().and_then(|c| c.get(i).ok()).filter(|v| !v.is_null()).map(|v| v.to_string());
            match (number.get(i).is_none().then(|| raw("block_number")).flatten(), ts.get(i).is_none().then(|| raw("timestamp")).flatten())
            {
                (Some(v), _) => {
                    acc.quarantine(at, Some("block_number"), Some(&v), "block number out of range (expected at most 2^63-1)")?
                }
                (None, Some(v)) => acc.quarantine(
                    at,
                    Some("timestamp"),
                    Some(&v),
                    "timestamp out of range (expected seconds since 1970, before the year 10000)",
                )?,
                (None, None) => acc.quarantine(at, Some("block_number/timestamp"), None, "block without number or timestamp")?,
            }
            continue;
        };
        let Some(micros) = super::partition::micros_from_secs(t) else {
            acc.quarantine(
                at,
                Some("timestamp"),
                Some(&t.to_string()),
                "timestamp out of range (expected seconds since 1970, before the year 10000)",
            )?;
            continue;
        };
        let has_hash = match &hash {
            None => false,
            Some(h) => match h.hex_into(i, 32, &mut buf) {
                Ok(()) => true,
                Err(_) if h.is_null(i) => false,
                Err(why) => {
                    acc.quarantine(at, Some("block_hash"), None, why)?;
                    continue;
                }
            },
        };
        let Some((y, m)) = months.get(micros) else {
            acc.quarantine(at, Some("timestamp"), Some(&t.to_string()), "timestamp out of range (expected seconds since 1970)")?;
            continue;
        };
        stage.note_block(b, micros);
        block_number.push(b);
        block_time.push(micros);
        year.push(y);
        month.push(m);
        if has_hash {
            block_hash.append_value(hex_str(&buf)?);
        } else {
            block_hash.append_null();
        }
    }
    let len = block_number.len();
    acc.counts.loaded += len as u64;
    let err = |e| Error::polars("building blocks", e);
    let columns = vec![
        constant("chain", &stage.chain, len),
        Series::new("block_number".into(), block_number).into_column(),
        block_hash.finish().into_series().into_column(),
        times("block_time", block_time)?,
        Series::new("year".into(), year).into_column(),
        Series::new("month".into(), month).into_column(),
        constant("source_file", &file_name(fr.path), len),
    ];
    stage.push_frame("blocks", DataFrame::new(len, columns).map_err(err)?)
}

fn transactions(fr: &Frame<'_>, acc: &mut Acc, stage: &mut ChainStage<'_>, values_are_transfers: bool) -> Result<()> {
    let number = fr.int("block_number")?;
    let hash = fr.hex("transaction_hash")?;
    let index = fr.opt_int("transaction_index")?;
    let from = fr.hex("from_address")?;
    let to = fr.hex("to_address")?;
    let value = fr.value("value")?;
    let success = match fr.df.column("success") {
        Ok(c) => Some(c.bool().map_err(|_| Error::input(fr.path, "column success: expected a boolean"))?.clone()),
        Err(_) => None,
    };
    let ts = fr.opt_int("timestamp")?;
    for i in 0..fr.df.height() {
        acc.read();
        let at = At::new(fr.path, i as i64);
        let Some(n) = number.get(i) else {
            acc.quarantine(at, Some("block_number"), None, "missing block number")?;
            continue;
        };
        let tx = match hash.get(i, 32) {
            Some(Ok(h)) => h,
            other => {
                acc.quarantine(at, Some("transaction_hash"), None, other.and_then(Result::err).unwrap_or("missing".into()))?;
                continue;
            }
        };
        let f = match from.get(i, 20) {
            Some(Ok(a)) => a,
            other => {
                acc.quarantine(at, Some("from_address"), None, other.and_then(Result::err).unwrap_or("missing".into()))?;
                continue;
            }
        };
        let t = match to.get(i, 20) {
            Some(Ok(a)) => Some(a),
            None => None,
            Some(Err(why)) => {
                acc.quarantine(at, Some("to_address"), None, why)?;
                continue;
            }
        };
        let v = match value.get(i) {
            Some(Ok(v)) => v,
            other => {
                acc.quarantine(at, Some("value"), None, other.and_then(Result::err).unwrap_or("missing value".into()))?;
                continue;
            }
        };
        let ok = success.as_ref().and_then(|s| s.get(i));
        let time = match ts.as_ref().and_then(|c| c.get(i)) {
            None => None,
            Some(s) => match super::partition::micros_from_secs(s) {
                Some(m) => Some(m),
                None => {
                    acc.quarantine(
                        at,
                        Some("timestamp"),
                        Some(&s.to_string()),
                        "timestamp out of range (expected seconds since 1970, before the year 10000)",
                    )?;
                    continue;
                }
            },
        };
        let idx = index.as_ref().and_then(|c| c.get(i));
        if !stage.transaction(acc, at, n, time, &tx, idx, &f, t.as_deref(), &v, ok)? {
            continue;
        }
        if values_are_transfers {
            stage.transaction_value(acc, at, n, time, tx, idx, f, t, v, ok)?;
        }
    }
    Ok(())
}

/// erc20_transfers (`token` = true) or native_transfers, built column by column: each row's fields
/// are checked and written straight into the lake's columns (hex and base-10 amounts into reused
/// buffers, nothing allocated per row), the file's two halves on two threads.
fn transfers(fr: &Frame<'_>, acc: &mut Acc, stage: &mut ChainStage<'_>, token: bool) -> Result<()> {
    let cols = TransferCols {
        number: fr.int("block_number")?,
        hash: fr.hex("transaction_hash")?,
        index: fr.opt_int("transaction_index")?,
        pos: if token { fr.int("log_index")? } else { fr.int("transfer_index")? },
        contract: if token { Some(fr.hex("erc20")?) } else { None },
        from: fr.hex("from_address")?,
        to: fr.hex("to_address")?,
        value: fr.value("value")?,
        token,
    };
    let n = fr.df.height();
    acc.counts.read += n as u64;
    let file = file_name(fr.path);
    let shared: &ChainStage<'_> = stage;
    let halves = if n >= PARALLEL_ROWS {
        let mid = n / 2;
        let (first, second) = rayon::join(|| cols.build(shared, &file, 0..mid), || cols.build(shared, &file, mid..n));
        vec![first?, second?]
    } else {
        vec![cols.build(shared, &file, 0..n)?]
    };
    for built in halves {
        for r in &built.rejected {
            acc.quarantine(At::new(fr.path, r.row as i64), Some(r.column), r.raw.as_deref(), r.reason.clone())?;
        }
        acc.counts.loaded += built.df.height() as u64;
        stage.push_frame("transfers", built.df)?;
    }
    Ok(())
}

/// Files at least this long are built on two threads.
const PARALLEL_ROWS: usize = 64 * 1024;

/// A row not loaded: where, and why.
struct Rejected {
    row: usize,
    column: &'static str,
    raw: Option<String>,
    reason: String,
}

/// The rows of one stretch of a file, as a `transfers` frame, and the rows quarantined.
struct Built {
    df: DataFrame,
    rejected: Vec<Rejected>,
}

/// The input columns of a cryo transfers file.
struct TransferCols {
    number: Int64Chunked,
    hash: HexCol,
    index: Option<Int64Chunked>,
    pos: Int64Chunked,
    contract: Option<HexCol>,
    from: HexCol,
    to: HexCol,
    value: ValCol,
    token: bool,
}

impl TransferCols {
    /// Rows `range` as a `transfers` frame (the documented schema): the same checks, in the same
    /// order, and the same quarantine reasons as a row-by-row load.
    fn build(&self, stage: &ChainStage<'_>, file: &str, range: std::ops::Range<usize>) -> Result<Built> {
        let cap = range.len();
        let mut rejected = Vec::new();
        let mut block_number: Vec<i64> = Vec::with_capacity(cap);
        let mut block_time: Vec<i64> = Vec::with_capacity(cap);
        let (mut year, mut month): (Vec<i32>, Vec<i32>) = (Vec::with_capacity(cap), Vec::with_capacity(cap));
        let mut tx_index: Vec<Option<i64>> = Vec::with_capacity(cap);
        let mut position: Vec<i64> = Vec::with_capacity(cap);
        let mut decimals: Vec<Option<i32>> = Vec::with_capacity(cap);
        let mut amount: Vec<Option<f64>> = Vec::with_capacity(cap);
        let text = |name: &str| StringChunkedBuilder::new(name.into(), cap);
        let (mut tx_hash, mut from_address, mut to_address) = (text("tx_hash"), text("from_address"), text("to_address"));
        let (mut token_address, mut asset, mut amount_raw, mut trace_address) =
            (text("token_address"), text("asset"), text("amount_raw"), text("trace_address"));
        let (mut hbuf, mut fbuf, mut tbuf, mut kbuf) =
            (Vec::with_capacity(66), Vec::with_capacity(42), Vec::with_capacity(42), Vec::with_capacity(42));
        let mut raw = String::with_capacity(80);
        let mut pbuf = String::with_capacity(24);
        let mut assets: PlHashMap<Vec<u8>, (Option<String>, Option<i32>)> = PlHashMap::new();
        let native = stage.asset_of(None);
        let mut months = MonthOf::default();
        let mut last_block: Option<(i64, Option<i64>)> = None;
        for i in range {
            let fields = [
                ("transaction_hash", Some(&self.hash), 32, &mut hbuf),
                ("from_address", Some(&self.from), 20, &mut fbuf),
                ("to_address", Some(&self.to), 20, &mut tbuf),
                ("erc20", self.contract.as_ref(), 20, &mut kbuf),
            ];
            let mut bad = None;
            for (column, c, bytes, buf) in fields {
                let Some(c) = c else { continue };
                if let Err(reason) = c.hex_into(i, bytes, buf) {
                    bad = Some((column, reason));
                    break;
                }
            }
            if let Some((column, reason)) = bad {
                rejected.push(Rejected { row: i, column, raw: None, reason });
                continue;
            }
            let (Some(n), Some(p)) = (self.number.get(i), self.pos.get(i)) else {
                rejected.push(Rejected { row: i, column: "block_number", raw: None, reason: "missing block number or position".into() });
                continue;
            };
            let v = match self.value.get(i) {
                Some(Ok(v)) => v,
                other => {
                    let reason = other.and_then(Result::err).unwrap_or("missing value".into());
                    rejected.push(Rejected { row: i, column: "value", raw: None, reason });
                    continue;
                }
            };
            let micros = match last_block {
                Some((b, t)) if b == n => t,
                _ => {
                    let t = stage.block_time(n);
                    last_block = Some((n, t));
                    t
                }
            };
            let Some((micros, (y, m))) = micros.and_then(|t| Some((t, months.get(t)?))) else {
                let reason = "block is not in the blocks export (its time is unknown)".to_string();
                rejected.push(Rejected { row: i, column: "block_number", raw: Some(n.to_string()), reason });
                continue;
            };
            let (sym, dec) = if !self.token {
                (native.0.as_deref(), native.1)
            } else {
                if !assets.contains_key(&kbuf) {
                    let tok = hex_str(&kbuf)?;
                    assets.insert(kbuf.clone(), stage.asset_of(Some(tok)));
                }
                assets.get(&kbuf).map_or((None, None), |(s, d)| (s.as_deref(), *d))
            };
            raw.clear();
            crate::amount::write_decimal(&v, &mut raw);
            block_number.push(n);
            block_time.push(micros);
            year.push(y);
            month.push(m);
            tx_index.push(self.index.as_ref().and_then(|c| c.get(i)));
            position.push(p);
            tx_hash.append_value(hex_str(&hbuf)?);
            from_address.append_value(hex_str(&fbuf)?);
            to_address.append_value(hex_str(&tbuf)?);
            if self.token {
                token_address.append_value(hex_str(&kbuf)?);
            } else {
                // A native transfer's position as the lake's trace address: `#{transfer_index}`.
                pbuf.clear();
                let _ = write!(pbuf, "#{p}");
                trace_address.append_value(&pbuf);
            }
            asset.append_option(sym);
            amount.push(dec.map(|d| crate::amount::adjusted_text(&raw, d as u32)));
            decimals.push(dec);
            amount_raw.append_value(&raw);
        }
        let len = block_number.len();
        let null_str = |name: &str| Series::full_null(name.into(), len, &DataType::String).into_column();
        let (log_index, trace_address, token_address) = if self.token {
            (
                Series::new("log_index".into(), position).into_column(),
                null_str("trace_address"),
                token_address.finish().into_series().into_column(),
            )
        } else {
            (
                Series::full_null("log_index".into(), len, &DataType::Int64).into_column(),
                trace_address.finish().into_series().into_column(),
                null_str("token_address"),
            )
        };
        let err = |e| Error::polars("building transfers", e);
        let columns = vec![
            constant("chain", &stage.chain, len),
            Series::new("block_number".into(), block_number).into_column(),
            times("block_time", block_time)?,
            Series::new("year".into(), year).into_column(),
            Series::new("month".into(), month).into_column(),
            tx_hash.finish().into_series().into_column(),
            Series::new("tx_index".into(), tx_index).into_column(),
            log_index,
            trace_address,
            constant("kind", if self.token { "token" } else { "native" }, len),
            token_address,
            asset.finish().into_series().into_column(),
            from_address.finish().into_series().into_column(),
            to_address.finish().into_series().into_column(),
            amount_raw.finish().into_series().into_column(),
            Series::new("decimals".into(), decimals).into_column(),
            Series::new("amount".into(), amount).into_column(),
            constant("source_file", file, len),
        ];
        Ok(Built { df: DataFrame::new(len, columns).map_err(err)?, rejected })
    }
}

/// A text column holding one value `len` times.
fn constant(name: &str, value: &str, len: usize) -> Column {
    StringChunked::full(name.into(), value, len).into_series().into_column()
}

/// A lake time column (UTC microseconds) from microseconds.
fn times(name: &str, micros: Vec<i64>) -> Result<Column> {
    let s = Series::new(name.into(), micros)
        .cast(&crate::schema::ColType::Datetime.dtype())
        .map_err(|e| Error::polars(format!("building {name}"), e))?;
    Ok(s.into_column())
}

/// Hex digits written by `HexCol::hex_into` as text.
fn hex_str(b: &[u8]) -> Result<&str> {
    std::str::from_utf8(b).map_err(|_| Error::Internal("hex text is not UTF-8".into()))
}

fn traces(fr: &Frame<'_>, acc: &mut Acc, stage: &mut ChainStage<'_>, has_native: bool) -> Result<()> {
    if has_native {
        for _ in 0..fr.df.height() {
            acc.read();
            acc.filter("trace: native value is taken from the source's native_transfers files");
        }
        return Ok(());
    }
    let number = fr.int("block_number")?;
    let hash = fr.hex("transaction_hash")?;
    let index = fr.opt_int("transaction_position")?;
    let from = fr.hex("action_from")?;
    let to = fr.hex("action_to")?;
    let value = fr.value("action_value")?;
    let call_type = fr.opt_str("action_call_type")?;
    let action_type = fr.opt_str("action_type")?;
    let error = fr.opt_str("error")?;
    let trace_address = match fr.df.column("trace_address") {
        Ok(c) => c.as_materialized_series().clone(),
        Err(_) => return Err(fr.missing("trace_address")),
    };
    for i in 0..fr.df.height() {
        acc.read();
        let at = At::new(fr.path, i as i64);
        if error.as_ref().and_then(|e| e.get(i)).is_some_and(|e| !e.is_empty()) {
            acc.filter("trace: failed (error set)");
            continue;
        }
        let at_type = action_type.as_ref().and_then(|c| c.get(i)).unwrap_or("call");
        if at_type == "reward" {
            acc.filter("trace: block reward (minted, no sender)");
            continue;
        }
        if let Some(ct) = call_type.as_ref().and_then(|c| c.get(i))
            && matches!(ct, "delegatecall" | "callcode" | "staticcall")
        {
            acc.filter("trace: delegatecall/callcode/staticcall moves no value");
            continue;
        }
        let v = match value.get(i) {
            Some(Ok(v)) => v,
            None => {
                acc.filter("trace: zero value");
                continue;
            }
            Some(Err(why)) => {
                acc.quarantine(at, Some("action_value"), None, why)?;
                continue;
            }
        };
        if v.is_zero() {
            acc.filter("trace: zero value");
            continue;
        }
        let (Some(n), Some(tx), Some(f), Some(t)) = (number.get(i), hash.get(i, 32), from.get(i, 20), to.get(i, 20)) else {
            acc.quarantine(at, Some("action_from/action_to"), None, "value-moving trace without block, hash, sender or receiver")?;
            continue;
        };
        let (tx, f, t) = match (tx, f, t) {
            (Ok(a), Ok(b), Ok(c)) => (a, b, c),
            (Err(w), _, _) | (_, Err(w), _) | (_, _, Err(w)) => {
                acc.quarantine(at, Some("action_from/action_to/transaction_hash"), None, w)?;
                continue;
            }
        };
        let ta = trace_address.get(i).map(|v| trace_address_text(&v)).unwrap_or_default();
        let tx_index = index.as_ref().and_then(|c| c.get(i));
        stage.transfer(acc, at, Transfer { tx_index, trace_address: Some(ta), ..Transfer::new(n, tx, f, t, v, fr.path) })?;
    }
    Ok(())
}

/// cryo writes trace addresses as lists of integers (or text): `[0, 1]` → `0,1`.
fn trace_address_text(v: &AnyValue<'_>) -> String {
    match v {
        AnyValue::List(s) => s.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(","),
        AnyValue::String(s) => s.trim_matches(['[', ']']).replace(' ', "").replace('_', ","),
        AnyValue::StringOwned(s) => s.trim_matches(['[', ']']).replace(' ', "").replace('_', ","),
        AnyValue::Null => String::new(),
        other => other.to_string(),
    }
}
