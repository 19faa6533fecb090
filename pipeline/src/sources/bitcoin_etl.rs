//! bitcoin-etl exports: blocks and transactions with their nested `inputs[]` and `outputs[]`
//! (values in satoshi), as JSON lines or CSV, plain or .gz, as `export_blocks_and_transactions`
//! and `export_all` write them (`start_block=…/end_block=…` folders). An item is told apart by its
//! fields (a transaction has `inputs`/`outputs`, a block `number` and `timestamp`). In CSV the
//! nested lists are what bitcoin-etl writes there: Python's `str()` of each dict, joined by `,`
//! (single quotes, `None`, `True`), read by [`python_literal`].
//!
//! Each transaction is one input item: its outputs go to `utxo_outputs` and its inputs to
//! `utxo_inputs`, or the whole transaction is quarantined with the first problem found — a value
//! that is not a whole number of satoshi (a BTC float: refused, never rounded), an address whose
//! checksum fails, a missing or malformed field. After staging, [`derive_transfers`] resolves
//! every input against the outputs it spends and writes the address-to-address flows into
//! `transfers`.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde_json::Value;

use super::chain::ChainStage;
use super::partition::{PartitionWriter, partition_path, sort_chain_order};
use super::{Acc, At, Input, file_name};
use crate::error::{Error, Result};
use crate::table::{Cell, scan_files, write_parquet};

/// All bitcoin ever: 21 million BTC in satoshi.
pub const MAX_SAT: i64 = 2_100_000_000_000_000;

/// An output as staged: (vout, address, value_sat, script type).
type Output = (i64, Option<String>, i64, Option<String>);
/// An input as staged: (vin, spent tx, spent vout, address, value_sat).
type SpentInput = (i64, String, i64, Option<String>, Option<i64>);

/// A transaction as staged: its outputs and inputs, checked.
struct Tx {
    hash: String,
    block: i64,
    index: Option<i64>,
    time: Option<i64>,
    coinbase: bool,
    outputs: Vec<Output>,
    inputs: Vec<SpentInput>,
}

/// A problem with one transaction: the field and what was expected.
type Bad = (String, Option<String>, String);

fn bad(field: &str, raw: Option<&Value>, why: impl Into<String>) -> Bad {
    (field.to_string(), raw.map(|v| v.to_string()), why.into())
}

/// A value in satoshi: a JSON integer (or a string of digits) in 0..=21e14. A number with a
/// fraction or an exponent is a value in BTC: refused.
pub fn satoshi(v: &Value) -> Result<i64, String> {
    let n = match v {
        Value::Number(n) => {
            match n.as_u64() {
                Some(u) => u,
                None if n.is_i64() => return Err("a negative value".into()),
                None => {
                    return Err("not a whole number of satoshi (a value in BTC as a float?): ifr refuses floating-point values rather than round them".into());
                }
            }
        }
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<u64>().map_err(|_| "too large for a value in satoshi".to_string())?
        }
        _ => return Err("expected a value in satoshi (an integer)".into()),
    };
    i64::try_from(n).ok().filter(|v| *v <= MAX_SAT).ok_or_else(|| "more satoshi than 21 million BTC".to_string())
}

fn hash64(v: Option<&Value>) -> Result<String, String> {
    match v.and_then(Value::as_str) {
        Some(s) if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(s.to_ascii_lowercase()),
        _ => Err("expected a transaction id: 64 hex digits".into()),
    }
}

fn int(v: Option<&Value>) -> Result<i64, String> {
    v.and_then(Value::as_u64).and_then(|u| i64::try_from(u).ok()).ok_or_else(|| "expected a non-negative integer".to_string())
}

fn opt_int(v: Option<&Value>) -> Result<Option<i64>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        v => int(v).map(Some),
    }
}

/// The one address of an output or a spent output: None for no address or several (bare
/// multisig); bitcoin-etl's `nonstandard` + 40 hex name of a script without an address is kept
/// as the export names it; anything else must verify as a Bitcoin address.
fn address_of(v: Option<&Value>) -> Result<Option<String>, String> {
    let list = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) => a,
        Some(_) => return Err("expected `addresses`: a list".into()),
    };
    let [one] = list.as_slice() else { return Ok(None) };
    let s = one.as_str().ok_or("expected an address (text)")?;
    if let Some(h) = s.strip_prefix("nonstandard")
        && h.len() == 40
        && h.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Ok(Some(s.to_string()));
    }
    crate::address::bitcoin(s).map(Some)
}

fn parse_tx(o: &serde_json::Map<String, Value>) -> Result<Tx, Bad> {
    let hash = hash64(o.get("hash")).map_err(|e| bad("hash", o.get("hash"), e))?;
    let block = int(o.get("block_number")).map_err(|e| bad("block_number", o.get("block_number"), e))?;
    let index = opt_int(o.get("index")).map_err(|e| bad("index", o.get("index"), e))?;
    let time = match o.get("block_timestamp") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let secs = v.as_i64().ok_or_else(|| bad("block_timestamp", Some(v), "expected seconds since 1970"))?;
            Some(
                super::partition::micros_from_secs(secs)
                    .ok_or_else(|| bad("block_timestamp", Some(v), "timestamp out of range (seconds since 1970, before the year 10000)"))?,
            )
        }
    };
    let list = |name: &str| -> Result<&Vec<Value>, Bad> {
        match o.get(name) {
            Some(Value::Array(a)) => Ok(a),
            v => Err(bad(name, v, format!("expected `{name}`: a list"))),
        }
    };
    let mut outputs = Vec::new();
    for (k, out) in list("outputs")?.iter().enumerate() {
        let at = |f: &str| format!("outputs[{k}].{f}");
        let vout = opt_int(out.get("index")).map_err(|e| bad(&at("index"), out.get("index"), e))?.unwrap_or(k as i64);
        let value = satoshi(out.get("value").unwrap_or(&Value::Null)).map_err(|e| bad(&at("value"), out.get("value"), e))?;
        let address = address_of(out.get("addresses")).map_err(|e| bad(&at("addresses"), out.get("addresses"), e))?;
        let script = out.get("type").and_then(Value::as_str).map(str::to_string);
        outputs.push((vout, address, value, script));
    }
    if outputs.is_empty() {
        return Err(bad("outputs", None, "a transaction without outputs"));
    }
    let mut inputs = Vec::new();
    for (k, inp) in list("inputs")?.iter().enumerate() {
        let at = |f: &str| format!("inputs[{k}].{f}");
        let vin = opt_int(inp.get("index")).map_err(|e| bad(&at("index"), inp.get("index"), e))?.unwrap_or(k as i64);
        let spent = hash64(inp.get("spent_transaction_hash"))
            .map_err(|e| bad(&at("spent_transaction_hash"), inp.get("spent_transaction_hash"), e))?;
        let spent_vout =
            int(inp.get("spent_output_index")).map_err(|e| bad(&at("spent_output_index"), inp.get("spent_output_index"), e))?;
        let address = address_of(inp.get("addresses")).map_err(|e| bad(&at("addresses"), inp.get("addresses"), e))?;
        let value = match inp.get("value") {
            None | Some(Value::Null) => None,
            Some(v) => Some(satoshi(v).map_err(|e| bad(&at("value"), Some(v), e))?),
        };
        inputs.push((vin, spent, spent_vout, address, value));
    }
    // bitcoin-etl drops the coinbase input: a transaction with no inputs is a coinbase.
    let coinbase = o.get("is_coinbase").and_then(Value::as_bool).unwrap_or(inputs.is_empty());
    if !coinbase && inputs.is_empty() {
        return Err(bad("inputs", None, "a transaction that is not a coinbase must spend at least one output"));
    }
    Ok(Tx { hash, block, index, time, coinbase, outputs, inputs })
}

/// Does this line's object look like a block (not a transaction)?
fn is_block(o: &serde_json::Map<String, Value>) -> bool {
    !o.contains_key("outputs") && o.contains_key("number") && o.contains_key("timestamp")
}

fn is_csv(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".csv") || name.ends_with(".csv.gz")
}

/// Whether a file holds blocks (its first item is one).
fn holds_blocks(path: &Path) -> Result<bool> {
    if is_csv(path) {
        let csv = super::csvutil::CsvFile::open(path, &[])?;
        let has = |n: &str| csv.headers.iter().any(|h| h == n);
        return Ok(has("number") && has("timestamp") && !has("outputs"));
    }
    let reader = std::io::BufReader::new(super::open_maybe_compressed(path)?);
    for line in reader.lines() {
        let line = line.map_err(|e| Error::input_caused(path, "not readable", e))?;
        if line.trim().is_empty() {
            continue;
        }
        return Ok(serde_json::from_str::<serde_json::Map<String, Value>>(&line).is_ok_and(|o| is_block(&o)));
    }
    Ok(false)
}

pub fn load(input: &Input<'_>, acc: &mut Acc, stage: &mut ChainStage<'_>) -> Result<()> {
    // Blocks first: a transaction without its own time takes its block's.
    let mut files: Vec<(bool, &PathBuf)> = Vec::new();
    for f in input.files {
        files.push((!holds_blocks(f)?, f));
    }
    files.sort_by_key(|(txs, _)| *txs);
    for (_, path) in files {
        (input.on_file)(path);
        load_file(path, acc, stage)?;
        stage.file_done(&|_| None)?;
    }
    Ok(())
}

fn load_file(path: &Path, acc: &mut Acc, stage: &mut ChainStage<'_>) -> Result<()> {
    if is_csv(path) {
        let mut csv = super::csvutil::CsvFile::open(path, &[])?;
        let headers = csv.headers.clone();
        for (i, rec) in csv.reader.records().enumerate() {
            let line_no = i as i64 + 2;
            let rec = rec.map_err(|e| Error::input_caused(path, format!("line {line_no}: not readable as CSV"), e))?;
            acc.read();
            let item = csv_item(&headers, &rec);
            load_item(path, line_no, item, acc, stage)?;
        }
        return Ok(());
    }
    // Lines are parsed and checked in batches on every core (JSON and address checksums are
    // most of a load's time), then staged one by one in file order: the same rows, counts and
    // quarantine as one line at a time.
    use rayon::prelude::*;
    const BATCH: usize = 8192;
    let reader = std::io::BufReader::new(super::open_maybe_compressed(path)?);
    let mut batch: Vec<(i64, String)> = Vec::with_capacity(BATCH);
    let flush = |batch: &mut Vec<(i64, String)>, acc: &mut Acc, stage: &mut ChainStage<'_>| -> Result<()> {
        let parsed: Vec<Parsed> = batch
            .par_iter()
            .map(|(_, line)| {
                parse_item(
                    serde_json::from_str::<serde_json::Map<String, Value>>(line)
                        .map_err(|e| (None, line.clone(), format!("expected a bitcoin-etl block or transaction (a JSON object): {e}"))),
                )
            })
            .collect();
        for ((line_no, _), p) in batch.iter().zip(parsed) {
            acc.read();
            commit_item(path, *line_no, p, acc, stage)?;
        }
        batch.clear();
        Ok(())
    };
    for (i, line) in reader.lines().enumerate() {
        let line_no = i as i64 + 1;
        let line = line.map_err(|e| Error::input_caused(path, format!("line {line_no}: not readable (a truncated .gz?)"), e))?;
        if line.trim().is_empty() {
            continue;
        }
        batch.push((line_no, line));
        if batch.len() == BATCH {
            flush(&mut batch, acc, stage)?;
        }
    }
    flush(&mut batch, acc, stage)
}

/// A CSV row as the JSON object bitcoin-etl would have written: `inputs` and `outputs` parsed from
/// their Python literals, integers as numbers, `True`/`False` as booleans, empty cells as null.
fn csv_item(headers: &[String], rec: &csv::StringRecord) -> Result<serde_json::Map<String, Value>, (Option<String>, String, String)> {
    let mut o = serde_json::Map::new();
    for (h, v) in headers.iter().zip(rec.iter()) {
        let value = match h.as_str() {
            "inputs" | "outputs" => python_literal(&format!("[{v}]"))
                .map_err(|why| (Some(h.clone()), v.to_string(), format!("expected bitcoin-etl's list of {h} (Python literals): {why}")))?,
            _ if v.is_empty() => Value::Null,
            _ if v == "True" || v == "False" => Value::Bool(v == "True"),
            // The integer columns (a hash of digits only stays text).
            "number" | "timestamp" | "block_number" | "block_timestamp" | "index" | "size" | "virtual_size" | "stripped_size"
            | "weight" | "version" | "lock_time" | "transaction_count" | "input_count" | "output_count" | "input_value"
            | "output_value" | "fee" => match v.parse::<u64>() {
                Ok(n) => Value::from(n),
                Err(_) => Value::String(v.to_string()),
            },
            _ => Value::String(v.to_string()),
        };
        o.insert(h.clone(), value);
    }
    Ok(o)
}

/// A line or row as read and checked, before it is staged: what needs no state (JSON, checksums).
enum Parsed {
    /// Not an item: (column, raw text, why).
    Bad(Option<String>, String, String),
    Block(serde_json::Map<String, Value>),
    Tx(std::result::Result<Tx, Bad>),
}

fn parse_item(item: std::result::Result<serde_json::Map<String, Value>, (Option<String>, String, String)>) -> Parsed {
    match item {
        Err((column, raw, why)) => Parsed::Bad(column, raw, why),
        Ok(o) if is_block(&o) => Parsed::Block(o),
        Ok(o) => Parsed::Tx(parse_tx(&o)),
    }
}

/// One block or transaction (a JSON line, or a CSV row made into one): staged, or quarantined.
fn load_item(
    path: &Path,
    line_no: i64,
    item: std::result::Result<serde_json::Map<String, Value>, (Option<String>, String, String)>,
    acc: &mut Acc,
    stage: &mut ChainStage<'_>,
) -> Result<()> {
    commit_item(path, line_no, parse_item(item), acc, stage)
}

/// Stage a parsed item, or quarantine it.
fn commit_item(path: &Path, line_no: i64, item: Parsed, acc: &mut Acc, stage: &mut ChainStage<'_>) -> Result<()> {
    let chain = stage.chain.clone();
    let file = file_name(path);
    let at = At::new(path, line_no);
    {
        let tx = match item {
            Parsed::Bad(column, raw, why) => return acc.quarantine(at, column.as_deref(), Some(&raw), why),
            Parsed::Tx(tx) => tx,
            Parsed::Block(o) => {
                let number = int(o.get("number"));
                let secs = o.get("timestamp").and_then(Value::as_i64);
                match (number, secs.and_then(super::partition::micros_from_secs)) {
                    (Ok(n), Some(micros)) => {
                        let hash = o.get("hash").and_then(Value::as_str).map(str::to_ascii_lowercase);
                        stage.block(acc, n, hash, micros, path)?;
                    }
                    (Err(e), _) => acc.quarantine(at, Some("number"), o.get("number").map(|v| v.to_string()).as_deref(), e)?,
                    (_, None) => acc.quarantine(
                        at,
                        Some("timestamp"),
                        o.get("timestamp").map(|v| v.to_string()).as_deref(),
                        "expected seconds since 1970, before the year 10000",
                    )?,
                }
                return Ok(());
            }
        };
        let tx = match tx {
            Ok(t) => t,
            Err((field, raw, why)) => return acc.quarantine(at, Some(&field), raw.as_deref(), why),
        };
        let Some(micros) = tx.time.or_else(|| stage.block_time(tx.block)) else {
            return acc.quarantine(
                at,
                Some("block_timestamp"),
                None,
                "no block_timestamp, and the block is not in the blocks export (its time is unknown)",
            );
        };
        stage.note_block_time(tx.block, micros);
        stage.spill_between_blocks(tx.block)?;
        let at_tx = TxAt { chain: &chain, block: tx.block, micros, hash: &tx.hash, index: tx.index, file: &file };
        for output in tx.outputs {
            push_output(stage, &at_tx, tx.coinbase, output)?;
        }
        for input in tx.inputs {
            push_input(stage, &at_tx, input)?;
        }
        acc.counts.loaded += 1;
    }
    Ok(())
}

/// The transaction a UTXO row belongs to: chain, block, time (µs), id, position, input file.
struct TxAt<'a> {
    chain: &'a str,
    block: i64,
    micros: i64,
    hash: &'a str,
    index: Option<i64>,
    file: &'a str,
}

impl TxAt<'_> {
    /// The columns every UTXO table opens with: chain, block, time, year, month, tx, tx index.
    fn head(&self, y: i32, m: i32) -> Vec<Cell> {
        vec![
            Cell::Str(self.chain.to_string()),
            Cell::I64(self.block),
            Cell::Datetime(self.micros),
            Cell::I32(y),
            Cell::I32(m),
            Cell::Str(self.hash.to_string()),
            self.index.into(),
        ]
    }
}

/// Stage one `utxo_outputs` row.
fn push_output(stage: &mut ChainStage<'_>, at: &TxAt<'_>, coinbase: bool, (vout, address, value, script): Output) -> Result<()> {
    stage.utxo_row("utxo_outputs", at.micros, |y, m| {
        let mut row = at.head(y, m);
        row.extend([
            Cell::Bool(coinbase),
            Cell::I64(vout),
            address.into(),
            Cell::I64(value),
            script.into(),
            Cell::Str(at.file.to_string()),
        ]);
        row
    })
}

/// Stage one `utxo_inputs` row.
fn push_input(stage: &mut ChainStage<'_>, at: &TxAt<'_>, (vin, spent, spent_vout, address, value): SpentInput) -> Result<()> {
    stage.utxo_row("utxo_inputs", at.micros, |y, m| {
        let mut row = at.head(y, m);
        row.extend([Cell::I64(vin), Cell::Str(spent), Cell::I64(spent_vout), address.into(), value.into(), Cell::Str(at.file.to_string())]);
        row
    })
}

/// The public BigQuery dataset `crypto_bitcoin`'s flattened `outputs` and `inputs` tables as users
/// export them: newline-delimited JSON (BigQuery's export for repeated fields; NUMERIC values as
/// text) or CSV (`addresses` joined by `,`). One row per output or input; a row with
/// `spent_transaction_hash` is an input. Each row is one input item. `value` is in satoshi; a row
/// whose value has a fraction (a value in BTC) is refused. The outputs of a transaction with no
/// input rows are a coinbase's.
pub fn load_bigquery(input: &Input<'_>, acc: &mut Acc, stage: &mut ChainStage<'_>) -> Result<()> {
    stage.rows_are_items = true;
    for path in input.files {
        (input.on_file)(path);
        if is_parquet(path) {
            load_bigquery_parquet(path, acc, stage)?;
        } else if is_csv(path) {
            let mut csv = super::csvutil::CsvFile::open(path, &[])?;
            let headers = csv.headers.clone();
            for (i, rec) in csv.reader.records().enumerate() {
                let line_no = i as i64 + 2;
                let rec = rec.map_err(|e| Error::input_caused(path, format!("line {line_no}: not readable as CSV"), e))?;
                acc.read();
                let mut o = serde_json::Map::new();
                for (h, v) in headers.iter().zip(rec.iter()) {
                    let value = match h.as_str() {
                        "addresses" => Value::Array(
                            v.split(',').filter(|a| !a.trim().is_empty()).map(|a| Value::String(a.trim().to_string())).collect(),
                        ),
                        _ if v.is_empty() => Value::Null,
                        _ => Value::String(v.to_string()),
                    };
                    o.insert(h.clone(), value);
                }
                bigquery_row(path, line_no, &o, acc, stage)?;
            }
        } else {
            let reader = std::io::BufReader::new(super::open_maybe_compressed(path)?);
            for (i, line) in reader.lines().enumerate() {
                let line_no = i as i64 + 1;
                let line = line.map_err(|e| Error::input_caused(path, format!("line {line_no}: not readable (a truncated .gz?)"), e))?;
                if line.trim().is_empty() {
                    continue;
                }
                acc.read();
                match serde_json::from_str::<serde_json::Map<String, Value>>(&line) {
                    Ok(o) => bigquery_row(path, line_no, &o, acc, stage)?,
                    Err(e) => acc.quarantine(
                        At::new(path, line_no),
                        None,
                        Some(&line),
                        format!("expected a BigQuery crypto_bitcoin inputs or outputs row (a JSON object): {e}"),
                    )?,
                }
            }
        }
        stage.file_done(&|_| None)?;
    }
    Ok(())
}

fn is_parquet(path: &Path) -> bool {
    path.to_string_lossy().to_ascii_lowercase().ends_with(".parquet")
}

/// The columns of BigQuery's `inputs` and `outputs` tables ifr reads (others are ignored).
const BQ_COLUMNS: [&str; 9] = [
    "transaction_hash",
    "block_number",
    "block_timestamp",
    "index",
    "addresses",
    "value",
    "type",
    "spent_transaction_hash",
    "spent_output_index",
];

/// Rows read from a Parquet file at a time.
const BQ_PARQUET_SLICE: usize = 65_536;

/// A BigQuery Parquet export (`EXPORT DATA … format='PARQUET'`): NUMERIC as DECIMAL(38, 9),
/// TIMESTAMP as microseconds, `addresses` as a list of strings. Read a slice of rows at a time;
/// each row becomes the object the JSON export would have given (a decimal as its exact text, a
/// timestamp as whole seconds) and is checked and staged by the same code, so a fractional value
/// (BTC) or a float column is refused the same way. Rows are numbered from 0 in file order, as
/// for every Parquet input.
fn load_bigquery_parquet(path: &Path, acc: &mut Acc, stage: &mut ChainStage<'_>) -> Result<()> {
    let unreadable = |e| Error::input_caused(path, "not a readable Parquet file (truncated or corrupt?)", e);
    let open = || std::fs::File::open(path).map_err(|e| Error::io("opening", path, e));
    let mut reader = ParquetReader::new(open()?);
    let schema = reader.schema().map_err(unreadable)?;
    let columns: Vec<String> = BQ_COLUMNS.iter().filter(|c| schema.contains(c)).map(|c| c.to_string()).collect();
    for needed in ["transaction_hash", "block_number", "block_timestamp", "index"] {
        if !schema.contains(needed) {
            return Err(Error::input(path, format!("no `{needed}` column: expected BigQuery crypto_bitcoin's inputs or outputs table")));
        }
    }
    let rows = reader.num_rows().map_err(unreadable)?;
    let meta = reader.get_metadata().map_err(unreadable)?.clone();
    let mut offset = 0;
    while offset < rows {
        let n = BQ_PARQUET_SLICE.min(rows - offset);
        let mut slice = ParquetReader::new(open()?);
        slice.set_metadata(meta.clone()); // the footer is read once per file, not per slice
        let df = slice.with_columns(Some(columns.clone())).with_slice(Some((offset, n))).finish().map_err(unreadable)?;
        if df.height() != n {
            let last = offset + n - 1;
            let why =
                format!("rows {offset} to {last}: {} rows read where the file's metadata counts {n} (truncated or corrupt?)", df.height());
            return Err(Error::input(path, why));
        }
        let values: Vec<(String, Vec<Value>)> =
            df.columns().iter().map(|c| (c.name().to_string(), c.as_materialized_series().iter().map(|v| json_of(&v)).collect())).collect();
        for i in 0..df.height() {
            acc.read();
            let o: serde_json::Map<String, Value> = values.iter().map(|(name, col)| (name.clone(), col[i].clone())).collect();
            bigquery_row(path, (offset + i) as i64, &o, acc, stage)?;
        }
        offset += n;
    }
    Ok(())
}

/// A Parquet cell as the JSON BigQuery's export would have written: exact decimals as text, a
/// timestamp as seconds when it is whole (else as text the checks refuse), lists as arrays.
fn json_of(v: &AnyValue<'_>) -> Value {
    match v {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(*b),
        AnyValue::String(s) => Value::String(s.to_string()),
        AnyValue::StringOwned(s) => Value::String(s.to_string()),
        AnyValue::Int8(x) => Value::from(*x),
        AnyValue::Int16(x) => Value::from(*x),
        AnyValue::Int32(x) => Value::from(*x),
        AnyValue::Int64(x) => Value::from(*x),
        AnyValue::UInt8(x) => Value::from(*x),
        AnyValue::UInt16(x) => Value::from(*x),
        AnyValue::UInt32(x) => Value::from(*x),
        AnyValue::UInt64(x) => Value::from(*x),
        // A NaN or infinite float stays visible as text (refused by the checks, never read as NULL).
        AnyValue::Float32(x) => serde_json::Number::from_f64(f64::from(*x)).map_or_else(|| Value::String(x.to_string()), Value::Number),
        AnyValue::Float64(x) => serde_json::Number::from_f64(*x).map_or_else(|| Value::String(x.to_string()), Value::Number),
        AnyValue::Decimal(x, _, scale) => Value::String(decimal_text(*x, *scale)),
        AnyValue::Datetime(x, unit, _) | AnyValue::DatetimeOwned(x, unit, _) => {
            let per_sec: i64 = match unit {
                TimeUnit::Milliseconds => 1_000,
                TimeUnit::Microseconds => 1_000_000,
                TimeUnit::Nanoseconds => 1_000_000_000,
            };
            if x.rem_euclid(per_sec) == 0 { Value::from(x.div_euclid(per_sec)) } else { Value::String(format!("{x} (not whole seconds)")) }
        }
        AnyValue::List(s) => Value::Array(s.iter().map(|v| json_of(&v)).collect()),
        other => Value::String(other.to_string()),
    }
}

/// An i128 decimal with `scale` digits after the point, exactly: `5000000000000000000, 9` ->
/// `5000000000.000000000`.
fn decimal_text(x: i128, scale: usize) -> String {
    let digits = x.unsigned_abs().to_string();
    let sign = if x < 0 { "-" } else { "" };
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let digits = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = digits.split_at(digits.len() - scale);
    format!("{sign}{int}.{frac}")
}

/// An integer BigQuery wrote as a number or as text (`"5000000000"`, NUMERIC `"5000000000.000000000"`).
fn bq_int(v: Option<&Value>) -> Option<Value> {
    match v? {
        Value::Number(n) => Some(Value::Number(n.clone())),
        Value::String(t) => {
            let (int, frac) = t.trim().split_once('.').unwrap_or((t.trim(), ""));
            if frac.bytes().all(|b| b == b'0') && !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit()) {
                int.parse::<u64>().ok().map(Value::from)
            } else {
                t.trim().parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number)
            }
        }
        _ => None,
    }
}

fn bigquery_row(path: &Path, line_no: i64, o: &serde_json::Map<String, Value>, acc: &mut Acc, stage: &mut ChainStage<'_>) -> Result<()> {
    let at = At::new(path, line_no);
    let raw = |c: &str| o.get(c).map(|v| v.to_string());
    let hash = match hash64(o.get("transaction_hash")) {
        Ok(h) => h,
        Err(e) => return acc.quarantine(at, Some("transaction_hash"), raw("transaction_hash").as_deref(), e),
    };
    let block = match int(bq_int(o.get("block_number")).as_ref()) {
        Ok(b) => b,
        Err(e) => return acc.quarantine(at, Some("block_number"), raw("block_number").as_deref(), e),
    };
    let time = match o.get("block_timestamp") {
        Some(Value::String(t)) => super::ethereum_etl::parse_time(t),
        Some(Value::Number(n)) => {
            n.as_i64().and_then(super::partition::micros_from_secs).ok_or_else(|| "timestamp out of range".to_string())
        }
        _ => Err("expected the block's timestamp".to_string()),
    };
    let micros = match time {
        Ok(t) => t,
        Err(e) => return acc.quarantine(at, Some("block_timestamp"), raw("block_timestamp").as_deref(), e),
    };
    let index = match int(bq_int(o.get("index")).as_ref()) {
        Ok(i) => i,
        Err(e) => return acc.quarantine(at, Some("index"), raw("index").as_deref(), e),
    };
    let address = match address_of(o.get("addresses")) {
        Ok(a) => a,
        Err(e) => return acc.quarantine(at, Some("addresses"), raw("addresses").as_deref(), e),
    };
    let value = match o.get("value") {
        None | Some(Value::Null) => None,
        Some(v) => match bq_int(Some(v)).ok_or_else(|| "expected a value in satoshi".to_string()).and_then(|v| satoshi(&v)) {
            Ok(v) => Some(v),
            Err(e) => return acc.quarantine(at, Some("value"), raw("value").as_deref(), e),
        },
    };
    let (chain, file) = (stage.chain.clone(), file_name(path));
    stage.note_block_time(block, micros);
    // The BigQuery tables do not give a transaction's position in its block.
    let at_tx = TxAt { chain: &chain, block, micros, hash: &hash, index: None, file: &file };
    if o.get("spent_transaction_hash").is_some_and(|v| !v.is_null()) {
        let spent = match hash64(o.get("spent_transaction_hash")) {
            Ok(h) => h,
            Err(e) => return acc.quarantine(at, Some("spent_transaction_hash"), raw("spent_transaction_hash").as_deref(), e),
        };
        let spent_vout = match int(bq_int(o.get("spent_output_index")).as_ref()) {
            Ok(v) => v,
            Err(e) => return acc.quarantine(at, Some("spent_output_index"), raw("spent_output_index").as_deref(), e),
        };
        push_input(stage, &at_tx, (index, spent, spent_vout, address, value))?;
    } else {
        let Some(value) = value else { return acc.quarantine(at, Some("value"), None, "an output needs its value in satoshi") };
        let script = o.get("type").and_then(Value::as_str).map(str::to_string);
        // Not a coinbase's until every input row is read (mark_coinbases).
        push_output(stage, &at_tx, false, (index, address, value, script))?;
    }
    acc.counts.loaded += 1;
    Ok(())
}

/// Flattened exports give no `is_coinbase`: mark the staged outputs of transactions that have no
/// input rows as a coinbase's (each partition file rewritten in place, in the staging folder).
pub fn mark_coinbases(out: &Path, written: &[PathBuf]) -> Result<()> {
    let err = |e| Error::polars("marking coinbase outputs", e);
    let of = |table: &'static str| written.iter().filter(move |r| r.components().next().is_some_and(|c| c.as_os_str() == table));
    let mut spenders: Vec<LazyFrame> = Vec::new();
    for r in of("utxo_inputs") {
        let p = PlRefPath::try_from_path(&out.join(r)).map_err(|e| Error::polars("path", e))?;
        spenders.push(LazyFrame::scan_parquet(p, ScanArgsParquet::default()).map_err(err)?.select([col("tx_hash")]));
    }
    let spenders = if spenders.is_empty() {
        DataFrame::new(0, vec![Column::new("tx_hash".into(), Vec::<String>::new()), Column::new("spends".into(), Vec::<bool>::new())])
            .map_err(err)?
    } else {
        concat(spenders, UnionArgs::default())
            .map_err(err)?
            .unique(None, UniqueKeepStrategy::First)
            .with_column(lit(true).alias("spends"))
            .collect()
            .map_err(err)?
    };
    for r in of("utxo_outputs") {
        let path = out.join(r);
        let df = crate::table::read_parquet(&path)?;
        let mut df = df
            .lazy()
            .join(spenders.clone().lazy(), [col("tx_hash")], [col("tx_hash")], JoinArgs::new(JoinType::Left))
            .with_column(col("spends").is_null().alias("is_coinbase"))
            .select(crate::schema::table("utxo_outputs").columns.iter().map(|c| col(c.name.as_str())).collect::<Vec<_>>())
            .collect()
            .map_err(err)?;
        let mut df = sort_chain_order("utxo_outputs", std::mem::take(&mut df))?;
        write_parquet(&mut df, &path)?;
    }
    Ok(())
}

/// A Python literal as bitcoin-etl's CSV export writes nested values (`str()` of dicts, lists,
/// strings, integers, floats, `None`, `True`, `False`), as a JSON value.
pub fn python_literal(s: &str) -> Result<Value, String> {
    let mut p = Py { b: s.as_bytes(), i: 0, depth: 0 };
    let v = p.value()?;
    p.ws();
    if p.i != p.b.len() {
        return Err(format!("unexpected text at character {}", p.i + 1));
    }
    Ok(v)
}

struct Py<'a> {
    b: &'a [u8],
    i: usize,
    /// Nesting of lists and dicts: bounded, so a hostile cell cannot exhaust the stack.
    depth: usize,
}

/// bitcoin-etl nests two levels (a list of dicts of lists); anything far deeper is not its output.
const MAX_DEPTH: usize = 32;

impl Py<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        let hit = self.b.get(self.i) == Some(&c);
        self.i += usize::from(hit);
        hit
    }

    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        if matches!(self.b.get(self.i), Some(b'[' | b'{')) {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(format!("nested more than {MAX_DEPTH} deep"));
            }
            let v = self.nested();
            self.depth -= 1;
            return v;
        }
        self.scalar()
    }

    fn nested(&mut self) -> Result<Value, String> {
        match self.b.get(self.i) {
            Some(b'[') => {
                self.i += 1;
                let mut out = Vec::new();
                if self.eat(b']') {
                    return Ok(Value::Array(out));
                }
                loop {
                    out.push(self.value()?);
                    if self.eat(b']') {
                        return Ok(Value::Array(out));
                    }
                    if !self.eat(b',') {
                        return Err(format!("expected `,` or `]` at character {}", self.i + 1));
                    }
                    if self.eat(b']') {
                        return Ok(Value::Array(out));
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut out = serde_json::Map::new();
                if self.eat(b'}') {
                    return Ok(Value::Object(out));
                }
                loop {
                    let Value::String(k) = self.value()? else { return Err(format!("expected a text key at character {}", self.i + 1)) };
                    if !self.eat(b':') {
                        return Err(format!("expected `:` at character {}", self.i + 1));
                    }
                    out.insert(k, self.value()?);
                    if self.eat(b'}') {
                        return Ok(Value::Object(out));
                    }
                    if !self.eat(b',') {
                        return Err(format!("expected `,` or `}}` at character {}", self.i + 1));
                    }
                }
            }
            _ => Err("expected a list or a dict".into()),
        }
    }

    fn scalar(&mut self) -> Result<Value, String> {
        match self.b.get(self.i) {
            Some(&q) if q == b'\'' || q == b'"' => {
                self.i += 1;
                let mut out = Vec::new();
                while let Some(&c) = self.b.get(self.i) {
                    self.i += 1;
                    match c {
                        _ if c == q => return String::from_utf8(out).map(Value::String).map_err(|_| "text is not UTF-8".to_string()),
                        b'\\' => {
                            let e = *self.b.get(self.i).ok_or("an escape at the end")?;
                            self.i += 1;
                            match e {
                                b'n' => out.push(b'\n'),
                                b't' => out.push(b'\t'),
                                b'r' => out.push(b'\r'),
                                // \xNN, \uNNNN: a code point (Python's str escapes), written as UTF-8.
                                b'x' | b'u' => {
                                    let n = if e == b'x' { 2 } else { 4 };
                                    let hex = self.b.get(self.i..self.i + n).ok_or("a short escape")?;
                                    let v = u32::from_str_radix(std::str::from_utf8(hex).map_err(|_| "a bad escape")?, 16)
                                        .map_err(|_| "a bad escape")?;
                                    let c = char::from_u32(v).ok_or("an escape that is not a character")?;
                                    out.extend_from_slice(c.to_string().as_bytes());
                                    self.i += n;
                                }
                                other => out.push(other),
                            }
                        }
                        _ => out.push(c),
                    }
                }
                Err("an unterminated text".into())
            }
            Some(_) => {
                let start = self.i;
                while self.i < self.b.len() && (self.b[self.i].is_ascii_alphanumeric() || b"._+-".contains(&self.b[self.i])) {
                    self.i += 1;
                }
                let word = std::str::from_utf8(&self.b[start..self.i]).unwrap_or("");
                match word {
                    "None" => Ok(Value::Null),
                    "True" => Ok(Value::Bool(true)),
                    "False" => Ok(Value::Bool(false)),
                    "" => Err(format!("unexpected character at {}", start + 1)),
                    w => w
                        .parse::<u64>()
                        .map(Value::from)
                        .or_else(|_| w.parse::<i64>().map(Value::from))
                        .or_else(|_| w.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number).ok_or(()))
                        .map_err(|_| format!("`{w}` is not a value")),
                }
            }
            None => Err("a value is missing".into()),
        }
    }
}

/// What deriving a source's transfers found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Resolution {
    /// Inputs whose spent output is in the source (or whose export gave address and value).
    pub inputs_resolved: u64,
    /// Inputs whose spent output is not loaded: their transactions give no transfers.
    pub inputs_unresolved: u64,
    /// Transactions (not coinbase) with every input resolved: their flows are in `transfers`.
    pub txs_with_flows: u64,
    /// Transactions with an unresolved input: no flows (the shares cannot be known).
    pub txs_unresolved: u64,
    /// Transactions whose outputs are worth more than their inputs (a corrupt export): no flows.
    pub txs_inconsistent: u64,
    /// Transactions with input rows but no output row loaded (their outputs quarantined): no flows.
    pub txs_without_outputs: u64,
}

/// How many buckets a source's transactions are split into (by the first byte of their id):
/// `outputs / bucket_rows` rounded up to a power of two, at most 256.
fn bucket_count(outputs: u64, bucket_rows: u64) -> usize {
    outputs.div_ceil(bucket_rows.max(1)).clamp(1, 256).next_power_of_two().min(256) as usize
}

/// The bucket of a transaction id among `n` (a power of two up to 256): by its first byte, so
/// bucket `k` holds the ids whose first two hex digits are in `[k * 256 / n, (k + 1) * 256 / n)`
/// (an id that does not start with hex goes to the first: the same id always to the same bucket).
fn bucket_of(hash: &str, n: usize) -> usize {
    let byte = hash.get(0..2).and_then(|h| u8::from_str_radix(h, 16).ok()).unwrap_or(0) as usize;
    byte * n / 256
}

/// Write `columns` of the staged `files` (with their rows) of `table` into scratch files by the bucket of their
/// `key` transaction id (`dir/{name}-{bucket}-{n}.parquet`), reading `slice` rows at a time: one
/// pass over the staged rows, after which a bucket reads only its own files. Returns each
/// bucket's files.
#[allow(clippy::too_many_arguments)]
fn split(
    files: &[(PathBuf, u64)],
    table: &str,
    columns: &[&str],
    key: &str,
    buckets: usize,
    slice: u64,
    dir: &Path,
    name: &str,
) -> Result<Vec<Vec<PathBuf>>> {
    let err = |e| Error::polars("splitting staged UTXO rows into buckets", e);
    let mut out: Vec<Vec<PathBuf>> = vec![Vec::new(); buckets];
    let mut written = 0usize;
    let select: Vec<Expr> = columns.iter().map(|c| col(*c)).collect();
    for (file, rows) in files {
        let (lf, rows) = (scan_files(std::slice::from_ref(file), table)?.select(select.clone()), *rows);
        let mut offset = 0u64;
        while offset < rows {
            let df = lf.clone().slice(offset as i64, slice.min(rows - offset) as IdxSize).collect().map_err(err)?;
            offset += slice;
            for (k, mut part) in by_bucket(&df, key, buckets)? {
                written += 1;
                let p = dir.join(format!("{name}-{k:03}-{written:06}.parquet"));
                crate::table::write_scratch(&mut part, &p)?;
                out[k].push(p);
            }
        }
    }
    Ok(out)
}

/// The rows of `df` in each non-empty bucket of their `key` transaction id, in bucket order (rows
/// in their order).
fn by_bucket(df: &DataFrame, key: &str, buckets: usize) -> Result<Vec<(usize, DataFrame)>> {
    let ids = df.column(key).map_err(|e| Error::polars("splitting UTXO rows into buckets", e))?;
    let ids = ids.str().map_err(|e| Error::polars("splitting UTXO rows into buckets", e))?;
    groups(df, buckets, ids.iter().map(|h| bucket_of(h.unwrap_or(""), buckets)))
}

/// Remove scratch files (ifr's own, under the staging folder) once used; one left behind goes with
/// the folder.
fn remove_files(files: &[PathBuf]) {
    for f in files {
        let _ = std::fs::remove_file(f);
    }
}

/// The window (of `windows`: consecutive block ranges `lo..=hi` in order) holding `block`; a
/// block outside every window (none is: the windows cover every staged row's block) goes to the
/// next one, or the last.
fn window_of(windows: &[(i64, i64)], block: i64) -> usize {
    windows.partition_point(|&(_, hi)| hi < block).min(windows.len().saturating_sub(1))
}

/// The rows of `df` in each non-empty window of their `block_number`, in window order (rows in
/// their order).
fn by_window(df: &DataFrame, windows: &[(i64, i64)]) -> Result<Vec<(usize, DataFrame)>> {
    let blocks = df.column("block_number").map_err(|e| Error::polars("splitting UTXO rows into windows", e))?;
    let blocks = blocks.i64().map_err(|e| Error::polars("splitting UTXO rows into windows", e))?;
    groups(df, windows.len().max(1), blocks.iter().map(|b| window_of(windows, b.unwrap_or(i64::MIN))))
}

/// The rows of `df` by the group `group_of` gives each row (in row order), for each non-empty
/// group of `n`, in group order.
fn groups(df: &DataFrame, n: usize, group_of: impl Iterator<Item = usize>) -> Result<Vec<(usize, DataFrame)>> {
    let err = |e| Error::polars("splitting UTXO rows", e);
    let mut rows_of: Vec<Vec<IdxSize>> = vec![Vec::new(); n];
    for (i, g) in group_of.enumerate() {
        rows_of[g].push(i as IdxSize);
    }
    rows_of
        .into_iter()
        .enumerate()
        .filter(|(_, idx)| !idx.is_empty())
        .map(|(k, idx)| Ok((k, df.take(&IdxCa::from_vec("i".into(), idx)).map_err(err)?)))
        .collect()
}

/// Derive the `transfers` of a staged UTXO source from its `utxo_outputs` and `utxo_inputs`
/// partitions (`written`, relative to `out`): each input is resolved against the output it spends
/// (the export's own address and value first, when it was enriched); in a transaction whose inputs
/// are all resolved, each input address sends each output address
/// `value of its inputs × value of its outputs / the inputs' total`, rounded down to the satoshi —
/// so the flows of a transaction add up to its outputs' value less under a satoshi per pair, and
/// its fee (inputs − outputs, plus that rounding) goes to no address. Flows from or to no single
/// address (a bare multisig output) are left out. The resolution is written back into the staged
/// `utxo_inputs` (each input's address and value). Returns the transfers files written.
///
/// Memory is bounded by `bucket_rows`: the staged outputs (by transaction id) and inputs (by the
/// id of the transaction they spend) are first split into buckets of transaction ids in one pass,
/// then the resolution runs one bucket of spent ids at a time and the flows one bucket of spending
/// ids at a time, all spilled to scratch Parquet under `out/.parts/<source>/resolve/` by window of
/// blocks (about `bucket_rows` staged outputs and inputs each); then each month's transfers are
/// written, and each staged inputs file gets its resolution back, a window at a time.
pub fn derive_transfers(
    out: &Path,
    written: &[PathBuf],
    chain: &str,
    source: &str,
    bucket_rows: u64,
) -> Result<(Vec<PathBuf>, Resolution)> {
    let files_of = |table: &str| -> Vec<PathBuf> {
        written.iter().filter(|r| r.components().next().is_some_and(|c| c.as_os_str() == table)).map(|r| out.join(r)).collect()
    };
    let err = |e| Error::polars("deriving UTXO transfers", e);
    let (output_files, input_files) = (files_of("utxo_outputs"), files_of("utxo_inputs"));
    // Each staged file's block range and rows (a file without rows has none).
    let mut spans: BTreeMap<PathBuf, (i64, i64, u64)> = BTreeMap::new();
    for (file, table) in output_files.iter().map(|f| (f, "utxo_outputs")).chain(input_files.iter().map(|f| (f, "utxo_inputs"))) {
        if let Some(span) = super::partition::block_span(file, table)? {
            spans.insert(file.clone(), span);
        }
    }
    let rows_of = |files: &[PathBuf]| -> Vec<(PathBuf, u64)> { files.iter().filter_map(|f| Some((f.clone(), spans.get(f)?.2))).collect() };
    let n = bucket_count(rows_of(&output_files).iter().map(|(_, rows)| rows).sum(), bucket_rows);
    let scratch = out.join(".parts").join(source).join("resolve");
    std::fs::create_dir_all(&scratch).map_err(|e| Error::io("creating", &scratch, e))?;
    let mut res = Resolution::default();

    // Windows of consecutive blocks holding about `bucket_rows` staged rows each (estimated from
    // each staged file's block range and rows): the flows are written, and the resolution written
    // back, a window at a time, so that no step holds a whole month.
    let ranges: Vec<(i64, i64, u64)> = spans.values().copied().collect();
    let windows = super::partition::block_windows(&ranges, bucket_rows.max(1));

    // 0. One pass over the staged rows: outputs by their transaction, inputs by the transaction
    //    they spend.
    let out_columns =
        ["tx_hash", "vout", "address", "value_sat", "is_coinbase", "chain", "block_number", "block_time", "year", "month", "tx_index"];
    let in_columns = ["tx_hash", "vin", "spent_tx_hash", "spent_vout", "address", "value_sat", "block_number", "source_file"];
    let split_outputs = split(&rows_of(&output_files), "utxo_outputs", &out_columns, "tx_hash", n, bucket_rows, &scratch, "out")?;
    let split_inputs = split(&rows_of(&input_files), "utxo_inputs", &in_columns, "spent_tx_hash", n, bucket_rows, &scratch, "in")?;
    let bucket_scan = |files: &[PathBuf], table: &str, columns: &[&str]| -> Result<LazyFrame> {
        Ok(scan_files(files, table)?.select(columns.iter().map(|c| col(*c)).collect::<Vec<_>>()))
    };

    // 1. Resolution, per bucket of spent transaction ids: (tx_hash, vin, v, from_address,
    //    block_number, source_file) of every input, kept by window of blocks (for step 4) and by
    //    the bucket of the spending transaction (for step 2).
    let mut resolved_files: Vec<Vec<PathBuf>> = vec![Vec::new(); windows.len()];
    let mut by_spender: Vec<Vec<PathBuf>> = vec![Vec::new(); n];
    for k in 0..n {
        let spent = bucket_scan(&split_outputs[k], "utxo_outputs", &out_columns)?.select([
            col("tx_hash").alias("spent_tx_hash"),
            col("vout").alias("spent_vout"),
            col("address").alias("out_address"),
            col("value_sat").alias("out_value"),
        ]);
        let part = bucket_scan(&split_inputs[k], "utxo_inputs", &in_columns)?
            .join(
                spent,
                [col("spent_tx_hash"), col("spent_vout")],
                [col("spent_tx_hash"), col("spent_vout")],
                JoinArgs::new(JoinType::Left),
            )
            .select([
                col("tx_hash"),
                col("vin"),
                coalesce(&[col("value_sat"), col("out_value")]).alias("v"),
                when(col("value_sat").is_not_null()).then(col("address")).otherwise(col("out_address")).alias("from_address"),
                col("block_number"),
                col("source_file"),
            ])
            .collect()
            .map_err(err)?;
        let unresolved = part.column("v").map_err(err)?.null_count() as u64;
        res.inputs_unresolved += unresolved;
        res.inputs_resolved += part.height() as u64 - unresolved;
        for (j, mine) in by_bucket(&part, "tx_hash", n)? {
            let mut mine = mine.select(["tx_hash", "vin", "v", "from_address", "source_file"]).map_err(err)?;
            let p = scratch.join(format!("spender-{j:03}-{k:03}.parquet"));
            crate::table::write_scratch(&mut mine, &p)?;
            by_spender[j].push(p);
        }
        for (w, mut mine) in by_window(&part, &windows)? {
            let p = scratch.join(format!("resolved-{w:05}-{k:03}.parquet"));
            crate::table::write_scratch(&mut mine, &p)?;
            resolved_files[w].push(p);
        }
        // Scratch files go as soon as they are used (the disk holds about one copy of the rows).
        remove_files(&split_inputs[k]);
    }

    // 2. Flows, per bucket of spending transaction ids.
    let i128 = |e: Expr| e.cast(DataType::Int128);
    let mut flow_files: Vec<Vec<PathBuf>> = vec![Vec::new(); windows.len()];
    // The windows each month's flows are in.
    let mut months: BTreeMap<(i32, i32), std::collections::BTreeSet<usize>> = BTreeMap::new();
    for k in 0..n {
        let inputs = if by_spender[k].is_empty() {
            scan_files(&[], "utxo_inputs")?.select([
                col("tx_hash"),
                col("vin"),
                col("value_sat").alias("v"),
                col("address").alias("from_address"),
                col("source_file"),
            ])
        } else {
            scan_files(&by_spender[k], "utxo_inputs")?
        }
        .collect()
        .map_err(err)?;
        let outs = bucket_scan(&split_outputs[k], "utxo_outputs", &out_columns)?;
        // Per transaction: the inputs' total, whether all are resolved; the outputs' total.
        let per_tx_in = inputs
            .clone()
            .lazy()
            .group_by([col("tx_hash")])
            .agg([col("v").sum().alias("total_in"), col("v").null_count().alias("missing")]);
        let per_tx_out =
            outs.clone().filter(col("is_coinbase").not()).group_by([col("tx_hash")]).agg([col("value_sat").sum().alias("total_out")]);
        let txs = per_tx_in.join(per_tx_out, [col("tx_hash")], [col("tx_hash")], JoinArgs::new(JoinType::Left)).collect().map_err(err)?;
        let (missing, total_in, total_out) = (
            txs.column("missing").map_err(err)?.cast(&DataType::Int64).map_err(err)?,
            txs.column("total_in").map_err(err)?.cast(&DataType::Int64).map_err(err)?,
            txs.column("total_out").map_err(err)?.cast(&DataType::Int64).map_err(err)?,
        );
        let (missing, total_in, total_out) = (missing.i64().map_err(err)?, total_in.i64().map_err(err)?, total_out.i64().map_err(err)?);
        let mut good = Vec::new();
        for i in 0..txs.height() {
            if total_out.get(i).is_none() {
                res.txs_without_outputs += 1;
            } else if missing.get(i).unwrap_or(0) > 0 {
                res.txs_unresolved += 1;
            } else if total_out.get(i).unwrap_or(0) > total_in.get(i).unwrap_or(0) || total_in.get(i).unwrap_or(0) == 0 {
                res.txs_inconsistent += 1;
            } else {
                res.txs_with_flows += 1;
                good.push(i as IdxSize);
            }
        }
        let good_txs = txs.take(&IdxCa::from_vec("i".into(), good)).map_err(err)?.select(["tx_hash", "total_in"]).map_err(err)?;
        // Senders: each input address of a good transaction, its inputs' value and first input.
        let senders = inputs
            .lazy()
            .join(good_txs.lazy(), [col("tx_hash")], [col("tx_hash")], JoinArgs::new(JoinType::Inner))
            .filter(col("from_address").is_not_null())
            .group_by([col("tx_hash"), col("from_address")])
            .agg([col("v").sum().alias("v"), col("vin").min().alias("vin"), col("total_in").first(), col("source_file").min()]);
        let receivers =
            outs.filter(col("address").is_not_null().and(col("is_coinbase").not())).group_by([col("tx_hash"), col("address")]).agg([
                col("value_sat").sum().alias("w"),
                col("vout").min().alias("vout"),
                col("chain").first(),
                col("block_number").first(),
                col("block_time").first(),
                col("year").first(),
                col("month").first(),
                col("tx_index").first(),
            ]);
        let flows = senders
            .join(receivers, [col("tx_hash")], [col("tx_hash")], JoinArgs::new(JoinType::Inner))
            .with_column((i128(col("v")) * i128(col("w")) / i128(col("total_in"))).cast(DataType::Int64).alias("sat"))
            .filter(col("sat").gt(lit(0i64)))
            .select([
                col("chain"),
                col("block_number"),
                col("block_time"),
                col("year"),
                col("month"),
                col("tx_hash"),
                col("tx_index"),
                lit(NULL).cast(DataType::Int64).alias("log_index"),
                concat_str([col("vin").cast(DataType::String), col("vout").cast(DataType::String)], ":", false).alias("trace_address"),
                lit("utxo").alias("kind"),
                lit(NULL).cast(DataType::String).alias("token_address"),
                lit("BTC").alias("asset"),
                col("from_address"),
                col("address").alias("to_address"),
                col("sat").cast(DataType::String).alias("amount_raw"),
                lit(8i32).alias("decimals"),
                (col("sat").cast(DataType::Float64) / lit(1e8)).alias("amount"),
                col("source_file"),
            ])
            .collect()
            .map_err(err)?;
        let expected = crate::schema::table("transfers").polars_schema();
        if **flows.schema() != expected {
            return Err(Error::Internal(format!("derived UTXO transfers do not have the documented schema: {:?}", flows.schema())));
        }
        for (w, mut part) in by_window(&flows, &windows)? {
            let (years, ms) =
                (part.column("year").map_err(err)?.i32().map_err(err)?, part.column("month").map_err(err)?.i32().map_err(err)?);
            for (y, m) in years.iter().zip(ms.iter()) {
                months.entry((y.unwrap_or(0), m.unwrap_or(0))).or_default().insert(w);
            }
            let p = scratch.join(format!("flows-{w:05}-{k:03}.parquet"));
            crate::table::write_scratch(&mut part, &p)?;
            flow_files[w].push(p);
        }
        remove_files(&split_outputs[k]);
        remove_files(&by_spender[k]);
    }

    // 3. One transfers file per (year, month), in chain order: its windows in block order, each
    //    sorted on its own (windows are disjoint block ranges, and chain order starts with the
    //    block).
    let mut files = Vec::new();
    for ((y, m), ws) in months {
        let rel = partition_path(("transfers", y, m), chain, source);
        let mut writer = PartitionWriter::create("transfers", &out.join(&rel))?;
        for w in ws {
            let part = scan_files(&flow_files[w], "transfers")?
                .filter(col("year").eq(lit(y)).and(col("month").eq(lit(m))))
                .collect()
                .map_err(err)?;
            if part.height() > 0 {
                writer.push(sort_chain_order("transfers", part)?)?;
            }
        }
        writer.finish()?;
        files.push(rel);
    }
    flow_files.iter().for_each(|f| remove_files(f));

    // 4. The resolution written back into each staged utxo_inputs file: each input's address and
    //    value are the spent output's (the export's own when it was enriched), so that the tracer
    //    reads a window of transactions without joining every input to every output again. The
    //    file is rewritten a window of blocks at a time (its rows are in chain order, in row
    //    groups with block statistics), beside it, then renamed over it.
    let columns: Vec<Expr> = crate::schema::table("utxo_inputs").columns.iter().map(|c| col(c.name.as_str())).collect();
    for path in &input_files {
        let Some(&(lo, hi, _)) = spans.get(path) else { continue };
        let tmp = path.with_extension("parquet.resolving");
        let mut writer = PartitionWriter::create("utxo_inputs", &tmp)?;
        for (w, &(wlo, whi)) in windows.iter().enumerate().filter(|(_, w)| w.0 <= hi && lo <= w.1) {
            let rows = scan_files(std::slice::from_ref(path), "utxo_inputs")?
                .filter(col("block_number").gt_eq(lit(wlo)).and(col("block_number").lt_eq(lit(whi))));
            let df = if resolved_files[w].is_empty() {
                rows.select(columns.clone()).collect().map_err(err)?
            } else {
                let back =
                    scan_files(&resolved_files[w], "utxo_inputs")?.select([col("tx_hash"), col("vin"), col("v"), col("from_address")]);
                let mut args = JoinArgs::new(JoinType::Left);
                args.maintain_order = MaintainOrderJoin::Left;
                rows.join(back, [col("tx_hash"), col("vin")], [col("tx_hash"), col("vin")], args)
                    .with_columns([col("v").alias("value_sat"), col("from_address").alias("address")])
                    .select(columns.clone())
                    .collect()
                    .map_err(err)?
            };
            // A window estimated to overlap the file may hold none of its rows.
            if df.height() > 0 {
                writer.push(df)?;
            }
        }
        writer.finish()?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io("replacing", path, e))?;
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok((files, res))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_literals_read_as_json() {
        let v =
            python_literal("[{'index': 0, 'addresses': ['1A', \"b'c\"], 'value': None, 'ok': True, 'x': -2, 'f': 0.5, 's': 'a\\'b\\x41'}]")
                .unwrap();
        assert_eq!(
            v,
            serde_json::json!([{"index": 0, "addresses": ["1A", "b'c"], "value": null, "ok": true, "x": -2, "f": 0.5, "s": "a'bA"}])
        );
        assert_eq!(python_literal("[]").unwrap(), serde_json::json!([]));
        assert!(python_literal("[{'a': 1}").is_err());
        assert!(python_literal("[{'a': nope}]").is_err());
        // Python's \xNN is a code point, written as UTF-8; nesting is bounded.
        assert_eq!(python_literal("'caf\\xe9'").unwrap(), serde_json::json!("café"));
        assert!(python_literal(&"[".repeat(100_000)).unwrap_err().contains("nested"));
    }

    #[test]
    fn decimals_are_written_exactly() {
        assert_eq!(decimal_text(5_000_000_000_000_000_000, 9), "5000000000.000000000");
        assert_eq!(decimal_text(1, 9), "0.000000001");
        assert_eq!(decimal_text(-15, 1), "-1.5");
        assert_eq!(decimal_text(42, 0), "42");
        assert_eq!(decimal_text(i128::MIN, 9), "-170141183460469231731687303715.884105728");
    }

    #[test]
    fn satoshi_values_are_integers_and_btc_floats_are_refused() {
        assert_eq!(satoshi(&serde_json::json!(5_000_000_000u64)), Ok(5_000_000_000));
        assert_eq!(satoshi(&serde_json::json!("12")), Ok(12));
        assert!(satoshi(&serde_json::json!(0.5)).unwrap_err().contains("floating-point"));
        assert!(satoshi(&serde_json::json!(50.0)).unwrap_err().contains("floating-point"));
        assert!(satoshi(&serde_json::json!(-1)).is_err());
        assert!(satoshi(&serde_json::json!(MAX_SAT + 1)).unwrap_err().contains("21 million"));
        assert!(satoshi(&serde_json::json!(null)).is_err());
    }
}
