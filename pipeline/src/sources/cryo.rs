//! cryo Parquet exports (`{network}__{dataset}__{start}_to_{end}.parquet`): blocks, transactions,
//! native_transfers, traces and erc20_transfers. Addresses and hashes may be raw bytes or 0x-hex;
//! 256-bit values are read from `*_binary` or `*_string` columns, never from `*_f64`.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use ruint::aliases::U256;

use super::chain::{ChainStage, Transfer};
use super::{Acc, At, Input};
use crate::error::{Error, Result};
use crate::{address, amount};

/// The cryo datasets ifr reads, in the order they are loaded (blocks first: they give time).
pub const DATASETS: [&str; 5] = ["blocks", "transactions", "native_transfers", "traces", "erc20_transfers"];

/// The dataset named in a cryo file name.
pub fn dataset_of(path: &Path) -> Option<&'static str> {
    let name = path.file_name()?.to_str()?;
    let parts: Vec<&str> = name.split("__").collect();
    if parts.len() < 3 {
        return None;
    }
    DATASETS.iter().copied().find(|d| *d == parts[1])
}

/// A column of addresses or hashes, as bytes or as text.
enum HexCol {
    Bin(BinaryChunked),
    Str(StringChunked),
}

impl HexCol {
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
    dataset: &'static str,
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
                let c = c.cast(&DataType::String).map_err(|e| Error::input_caused(self.path, format!("column {name}: expected text"), e))?;
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
                        format!("column {name}: expected a 256-bit value as bytes or text, found {other} (ifr never reads amounts through floats)"),
                    )),
                };
            }
        }
        Err(self.missing(&format!("{base}_binary or {base}_string (a {base}_f64 column alone is not exact)")))
    }
}

fn read_frame(path: &Path) -> Result<DataFrame> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("opening", path, e))?;
    ParquetReader::new(file)
        .finish()
        .map_err(|e| Error::input_caused(path, "not a readable Parquet file (truncated or corrupt?)", e))
}

pub fn load(input: &Input<'_>, acc: &mut Acc, stage: &mut ChainStage<'_>) -> Result<()> {
    let mut files: Vec<(&'static str, &PathBuf)> = Vec::new();
    for f in input.files {
        let ds = dataset_of(f).ok_or_else(|| {
            Error::input(
                f,
                format!("not a cryo file name ifr reads: expected {{network}}__{{dataset}}__{{start}}_to_{{end}}.parquet with dataset one of {}", DATASETS.join(", ")),
            )
        })?;
        files.push((ds, f));
    }
    files.sort_by_key(|(ds, f)| (DATASETS.iter().position(|d| d == ds), (*f).clone()));
    let has_native = files.iter().any(|(d, _)| *d == "native_transfers");
    let has_traces = files.iter().any(|(d, _)| *d == "traces");

    for (ds, path) in files {
        input.file_started(path);
        let fr = Frame { df: read_frame(path)?, path, dataset: ds };
        match ds {
            "blocks" => blocks(&fr, acc, stage)?,
            "transactions" => transactions(&fr, acc, stage, !(has_native || has_traces))?,
            "native_transfers" => transfers(&fr, acc, stage, false)?,
            "traces" => traces(&fr, acc, stage, has_native)?,
            _ => transfers(&fr, acc, stage, true)?,
        }
        stage.spill()?;
    }
    Ok(())
}

fn blocks(fr: &Frame<'_>, acc: &mut Acc, stage: &mut ChainStage<'_>) -> Result<()> {
    let number = fr.int("block_number")?;
    let ts = fr.int("timestamp")?;
    let hash = if fr.df.column("block_hash").is_ok() { Some(fr.hex("block_hash")?) } else { None };
    for i in 0..fr.df.height() {
        acc.read();
        let at = At::new(fr.path, i as i64);
        let (Some(n), Some(t)) = (number.get(i), ts.get(i)) else {
            acc.quarantine(at, Some("block_number/timestamp"), None, "block without number or timestamp")?;
            continue;
        };
        let h = match hash.as_ref().and_then(|h| h.get(i, 32)) {
            Some(Err(why)) => {
                acc.quarantine(at, Some("block_hash"), None, why)?;
                continue;
            }
            Some(Ok(h)) => Some(h),
            None => None,
        };
        stage.block(acc, n, h, t * 1_000_000, fr.path)?;
    }
    Ok(())
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
        let time = ts.as_ref().and_then(|c| c.get(i)).map(|s| s * 1_000_000);
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

/// erc20_transfers (`token` = true) or native_transfers.
fn transfers(fr: &Frame<'_>, acc: &mut Acc, stage: &mut ChainStage<'_>, token: bool) -> Result<()> {
    let number = fr.int("block_number")?;
    let hash = fr.hex("transaction_hash")?;
    let index = fr.opt_int("transaction_index")?;
    let pos = if token { fr.int("log_index")? } else { fr.int("transfer_index")? };
    let contract = if token { Some(fr.hex("erc20")?) } else { None };
    let from = fr.hex("from_address")?;
    let to = fr.hex("to_address")?;
    let value = fr.value("value")?;
    for i in 0..fr.df.height() {
        acc.read();
        let at = At::new(fr.path, i as i64);
        let mut cells = Vec::with_capacity(4);
        let mut bad = None;
        for (col, c, bytes) in [("transaction_hash", Some(&hash), 32), ("from_address", Some(&from), 20), ("to_address", Some(&to), 20), ("erc20", contract.as_ref(), 20)] {
            let Some(c) = c else { continue };
            match c.get(i, bytes) {
                Some(Ok(v)) => cells.push(v),
                Some(Err(why)) => bad = Some((col, why)),
                None => bad = Some((col, "missing value".to_string())),
            }
            if bad.is_some() {
                break;
            }
        }
        if let Some((col, why)) = bad {
            acc.quarantine(at, Some(col), None, why)?;
            continue;
        }
        let (Some(n), Some(p)) = (number.get(i), pos.get(i)) else {
            acc.quarantine(at, Some("block_number"), None, "missing block number or position")?;
            continue;
        };
        let v = match value.get(i) {
            Some(Ok(v)) => v,
            other => {
                acc.quarantine(at, Some("value"), None, other.and_then(Result::err).unwrap_or("missing value".into()))?;
                continue;
            }
        };
        let mut cells = cells.into_iter();
        let (tx, f, t) = (cells.next().unwrap_or_default(), cells.next().unwrap_or_default(), cells.next().unwrap_or_default());
        let tok = cells.next();
        let base = Transfer::new(n, tx, f, t, v, fr.path);
        let tx_index = index.as_ref().and_then(|c| c.get(i));
        let transfer = if token {
            Transfer { tx_index, log_index: Some(p), token: tok, ..base }
        } else {
            Transfer { tx_index, trace_address: Some(format!("#{p}")), ..base }
        };
        stage.transfer(acc, at, transfer)?;
    }
    Ok(())
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
        if let Some(ct) = call_type.as_ref().and_then(|c| c.get(i)) {
            if matches!(ct, "delegatecall" | "callcode" | "staticcall") {
                acc.filter("trace: delegatecall/callcode/staticcall moves no value");
                continue;
            }
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
