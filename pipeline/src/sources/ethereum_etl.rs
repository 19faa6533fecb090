//! ethereum-etl CSV exports (plain or .gz): blocks, transactions, token_transfers, traces and logs,
//! told apart by their header (file names vary between export tools). Native ETH moved inside
//! contracts exists only in traces: a trace moves value when it succeeded, its value is > 0 and it
//! is not a delegatecall, callcode or staticcall. When a source has traces, transactions' own values
//! are not turned into transfers (the top-level call is a trace too).

use std::path::{Path, PathBuf};

use super::chain::{ChainStage, Transfer};
use super::csvutil::{CsvFile, get, line};
use super::{Acc, At, Input, non_empty};
use crate::error::{Error, Result};
use crate::{address, amount};

/// keccak256("Transfer(address,address,uint256)")
pub const TRANSFER_TOPIC: &str = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dataset {
    Blocks,
    Transactions,
    Traces,
    Logs,
    TokenTransfers,
}

/// Which export a header belongs to.
pub fn detect(headers: &[String]) -> Option<Dataset> {
    let has = |n: &str| headers.iter().any(|h| h == n);
    if has("trace_type") || has("trace_address") {
        Some(Dataset::Traces)
    } else if has("token_address") && has("log_index") {
        Some(Dataset::TokenTransfers)
    } else if has("topics") && has("data") {
        Some(Dataset::Logs)
    } else if has("nonce") && has("value") && has("hash") {
        Some(Dataset::Transactions)
    } else if has("number") && has("timestamp") {
        Some(Dataset::Blocks)
    } else {
        None
    }
}

/// Unix seconds, or a `YYYY-MM-DD HH:MM:SS[ UTC]` text (BigQuery exports), as microseconds.
pub fn parse_time(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let range = || "timestamp out of range (expected seconds since 1970, before the year 10000)".to_string();
    if let Ok(secs) = t.parse::<i64>() {
        return super::partition::micros_from_secs(secs).ok_or_else(range);
    }
    if t.bytes().all(|b| b.is_ascii_digit() || b == b'-' || b == b'+') && !t.is_empty() {
        return Err(range());
    }
    let t = t.trim_end_matches(" UTC").trim_end_matches('Z').replace('T', " ");
    let d = chrono::NaiveDateTime::parse_from_str(&t, "%Y-%m-%d %H:%M:%S")
        .map_err(|_| "expected a unix timestamp in seconds or YYYY-MM-DD HH:MM:SS".to_string())?;
    super::partition::micros_from_secs(d.and_utc().timestamp()).ok_or_else(range)
}

fn int(s: &str) -> Result<i64, String> {
    s.trim().parse::<i64>().ok().filter(|v| *v >= 0).ok_or_else(|| "expected a non-negative integer".to_string())
}

fn opt_int(s: &str) -> Result<Option<i64>, String> {
    if s.trim().is_empty() { Ok(None) } else { int(s).map(Some) }
}

pub fn load(input: &Input<'_>, acc: &mut Acc, stage: &mut ChainStage<'_>) -> Result<()> {
    let mut files: Vec<(Dataset, PathBuf)> = Vec::new();
    for f in input.files {
        let csv = CsvFile::open(f, &[])?;
        let ds = detect(&csv.headers).ok_or_else(|| {
            Error::input(
                f,
                format!(
                    "not an ethereum-etl export ifr reads (blocks, transactions, token_transfers, traces or logs); header: {}",
                    csv.headers.join(",")
                ),
            )
        })?;
        files.push((ds, f.clone()));
    }
    files.sort();
    let has_traces = files.iter().any(|(d, _)| *d == Dataset::Traces);
    for (ds, path) in &files {
        input.file_started(path);
        match ds {
            Dataset::Blocks => blocks(path, acc, stage)?,
            Dataset::Transactions => transactions(path, acc, stage, !has_traces)?,
            Dataset::Traces => traces(path, acc, stage)?,
            Dataset::Logs => logs(path, acc, stage)?,
            Dataset::TokenTransfers => token_transfers(path, acc, stage)?,
        }
        stage.spill()?;
    }
    Ok(())
}

macro_rules! field {
    ($acc:expr, $at:expr, $col:expr, $raw:expr, $parsed:expr) => {
        match $parsed {
            Ok(v) => v,
            Err(why) => {
                $acc.quarantine($at, Some($col), Some($raw), why)?;
                continue;
            }
        }
    };
}

fn blocks(path: &Path, acc: &mut Acc, stage: &mut ChainStage<'_>) -> Result<()> {
    let mut csv = CsvFile::open(path, &["number", "timestamp"])?;
    let (c_n, c_h, c_t) = (csv.index("number"), csv.index("hash"), csv.index("timestamp"));
    let width = csv.headers.len();
    for rec in csv.reader.records() {
        let rec = rec.map_err(|e| Error::input_caused(path, "not readable as CSV", e))?;
        acc.read();
        let at = At::new(path, line(&rec));
        if let Some(why) = super::csvutil::width_mismatch(&rec, width) {
            acc.quarantine(at, None, None, why)?;
            continue;
        }
        let n = field!(acc, at, "number", get(&rec, c_n), int(get(&rec, c_n)));
        let t = field!(acc, at, "timestamp", get(&rec, c_t), parse_time(get(&rec, c_t)));
        let h = match non_empty(get(&rec, c_h)) {
            None => None,
            Some(h) => Some(field!(acc, at, "hash", h, address::hash32(h))),
        };
        stage.block(acc, n, h, t, path)?;
    }
    Ok(())
}

fn transactions(path: &Path, acc: &mut Acc, stage: &mut ChainStage<'_>, values_are_transfers: bool) -> Result<()> {
    let mut csv = CsvFile::open(path, &["hash", "block_number", "from_address", "to_address", "value"])?;
    let c: Vec<Option<usize>> = [
        "hash",
        "block_number",
        "transaction_index",
        "from_address",
        "to_address",
        "value",
        "block_timestamp",
        "receipt_status",
        "receipt_contract_address",
    ]
    .iter()
    .map(|n| csv.index(n))
    .collect();
    let width = csv.headers.len();
    for rec in csv.reader.records() {
        let rec = rec.map_err(|e| Error::input_caused(path, "not readable as CSV", e))?;
        acc.read();
        let at = At::new(path, line(&rec));
        if let Some(why) = super::csvutil::width_mismatch(&rec, width) {
            acc.quarantine(at, None, None, why)?;
            continue;
        }
        let tx = field!(acc, at, "hash", get(&rec, c[0]), address::hash32(get(&rec, c[0])));
        let n = field!(acc, at, "block_number", get(&rec, c[1]), int(get(&rec, c[1])));
        let idx = field!(acc, at, "transaction_index", get(&rec, c[2]), opt_int(get(&rec, c[2])));
        let from = field!(acc, at, "from_address", get(&rec, c[3]), address::evm(get(&rec, c[3])));
        let to = match non_empty(get(&rec, c[4])) {
            Some(t) => Some(field!(acc, at, "to_address", t, address::evm(t))),
            None => match non_empty(get(&rec, c[8])) {
                Some(t) => Some(field!(acc, at, "receipt_contract_address", t, address::evm(t))),
                None => None,
            },
        };
        let value = field!(acc, at, "value", get(&rec, c[5]), amount::parse_decimal(get(&rec, c[5])));
        let time = match non_empty(get(&rec, c[6])) {
            Some(t) => Some(field!(acc, at, "block_timestamp", t, parse_time(t))),
            None => None,
        };
        let success = match non_empty(get(&rec, c[7])) {
            None => None,
            Some("1") => Some(true),
            Some("0") => Some(false),
            Some(other) => {
                acc.quarantine(at, Some("receipt_status"), Some(other), "expected 0 or 1")?;
                continue;
            }
        };
        if let Some(t) = time {
            stage.note_block_time(n, t);
        }
        if !stage.transaction(acc, at, n, time, &tx, idx, &from, to.as_deref(), &value, success)? {
            continue;
        }
        if values_are_transfers {
            stage.transaction_value(acc, at, n, time, tx, idx, from, to, value, success)?;
        }
    }
    Ok(())
}

fn traces(path: &Path, acc: &mut Acc, stage: &mut ChainStage<'_>) -> Result<()> {
    let mut csv = CsvFile::open(path, &["transaction_hash", "from_address", "to_address", "value", "trace_address", "block_number"])?;
    let c: Vec<Option<usize>> = [
        "transaction_hash",
        "transaction_index",
        "from_address",
        "to_address",
        "value",
        "trace_type",
        "call_type",
        "trace_address",
        "error",
        "status",
        "block_number",
        "block_timestamp",
    ]
    .iter()
    .map(|n| csv.index(n))
    .collect();
    let width = csv.headers.len();
    for rec in csv.reader.records() {
        let rec = rec.map_err(|e| Error::input_caused(path, "not readable as CSV", e))?;
        acc.read();
        let at = At::new(path, line(&rec));
        if let Some(why) = super::csvutil::width_mismatch(&rec, width) {
            acc.quarantine(at, None, None, why)?;
            continue;
        }
        let status = get(&rec, c[9]).trim();
        if status == "0" || (status.is_empty() && !get(&rec, c[8]).trim().is_empty()) {
            acc.filter("trace: failed (status 0 or error set)");
            continue;
        }
        let trace_type = get(&rec, c[5]).trim();
        if matches!(trace_type, "reward" | "genesis" | "daofork") {
            acc.filter("trace: block reward, genesis or DAO fork (no sender)");
            continue;
        }
        if matches!(get(&rec, c[6]).trim(), "delegatecall" | "callcode" | "staticcall") {
            acc.filter("trace: delegatecall/callcode/staticcall moves no value");
            continue;
        }
        let value = field!(
            acc,
            at,
            "value",
            get(&rec, c[4]),
            amount::parse_decimal(if get(&rec, c[4]).trim().is_empty() { "0" } else { get(&rec, c[4]) })
        );
        if value.is_zero() {
            acc.filter("trace: zero value");
            continue;
        }
        let tx = field!(acc, at, "transaction_hash", get(&rec, c[0]), address::hash32(get(&rec, c[0])));
        let idx = field!(acc, at, "transaction_index", get(&rec, c[1]), opt_int(get(&rec, c[1])));
        let from = field!(acc, at, "from_address", get(&rec, c[2]), address::evm(get(&rec, c[2])));
        let to = field!(acc, at, "to_address", get(&rec, c[3]), address::evm(get(&rec, c[3])));
        let n = field!(acc, at, "block_number", get(&rec, c[10]), int(get(&rec, c[10])));
        let time = match non_empty(get(&rec, c[11])) {
            Some(t) => Some(field!(acc, at, "block_timestamp", t, parse_time(t))),
            None => None,
        };
        let trace_address = Some(get(&rec, c[7]).trim().to_string());
        stage.transfer(acc, at, Transfer { time, tx_index: idx, trace_address, ..Transfer::new(n, tx, from, to, value, path) })?;
    }
    Ok(())
}

fn token_transfers(path: &Path, acc: &mut Acc, stage: &mut ChainStage<'_>) -> Result<()> {
    let mut csv =
        CsvFile::open(path, &["token_address", "from_address", "to_address", "value", "transaction_hash", "log_index", "block_number"])?;
    let c: Vec<Option<usize>> = [
        "token_address",
        "from_address",
        "to_address",
        "value",
        "transaction_hash",
        "log_index",
        "block_number",
        "transaction_index",
        "block_timestamp",
    ]
    .iter()
    .map(|n| csv.index(n))
    .collect();
    let width = csv.headers.len();
    for rec in csv.reader.records() {
        let rec = rec.map_err(|e| Error::input_caused(path, "not readable as CSV", e))?;
        acc.read();
        let at = At::new(path, line(&rec));
        if let Some(why) = super::csvutil::width_mismatch(&rec, width) {
            acc.quarantine(at, None, None, why)?;
            continue;
        }
        let token = field!(acc, at, "token_address", get(&rec, c[0]), address::evm(get(&rec, c[0])));
        let from = field!(acc, at, "from_address", get(&rec, c[1]), address::evm(get(&rec, c[1])));
        let to = field!(acc, at, "to_address", get(&rec, c[2]), address::evm(get(&rec, c[2])));
        let value = field!(acc, at, "value", get(&rec, c[3]), amount::parse_decimal(get(&rec, c[3])));
        let tx = field!(acc, at, "transaction_hash", get(&rec, c[4]), address::hash32(get(&rec, c[4])));
        let log = field!(acc, at, "log_index", get(&rec, c[5]), int(get(&rec, c[5])));
        let n = field!(acc, at, "block_number", get(&rec, c[6]), int(get(&rec, c[6])));
        let idx = field!(acc, at, "transaction_index", get(&rec, c[7]), opt_int(get(&rec, c[7])));
        let time = match non_empty(get(&rec, c[8])) {
            Some(t) => Some(field!(acc, at, "block_timestamp", t, parse_time(t))),
            None => None,
        };
        let token = Some(token);
        stage.transfer(
            acc,
            at,
            Transfer { time, tx_index: idx, log_index: Some(log), token, ..Transfer::new(n, tx, from, to, value, path) },
        )?;
    }
    Ok(())
}

/// A 32-byte topic holding an address (12 zero bytes, then 20 address bytes).
fn topic_address(t: &str) -> Result<String, String> {
    let h = address::hash32(t)?;
    if &h[2..26] != "000000000000000000000000" {
        return Err("topic does not hold an address (its first 12 bytes are not zero)".into());
    }
    Ok(format!("0x{}", &h[26..]))
}

fn logs(path: &Path, acc: &mut Acc, stage: &mut ChainStage<'_>) -> Result<()> {
    let mut csv = CsvFile::open(path, &["log_index", "transaction_hash", "block_number", "address", "data", "topics"])?;
    let c: Vec<Option<usize>> =
        ["log_index", "transaction_hash", "transaction_index", "block_number", "address", "data", "topics", "block_timestamp"]
            .iter()
            .map(|n| csv.index(n))
            .collect();
    let width = csv.headers.len();
    for rec in csv.reader.records() {
        let rec = rec.map_err(|e| Error::input_caused(path, "not readable as CSV", e))?;
        acc.read();
        let at = At::new(path, line(&rec));
        if let Some(why) = super::csvutil::width_mismatch(&rec, width) {
            acc.quarantine(at, None, None, why)?;
            continue;
        }
        let topics_raw = get(&rec, c[6]);
        let topics: Vec<String> = topics_raw.split(',').map(|t| t.trim().to_ascii_lowercase()).filter(|t| !t.is_empty()).collect();
        if topics.first().map(String::as_str) != Some(TRANSFER_TOPIC) {
            acc.filter("log: not an ERC-20 Transfer event");
            continue;
        }
        if topics.len() == 4 {
            acc.filter("log: ERC-721 Transfer (a token id, not an amount)");
            continue;
        }
        if topics.len() != 3 {
            acc.quarantine(at, Some("topics"), Some(topics_raw), "a Transfer event has 3 topics (signature, from, to)")?;
            continue;
        }
        let data = get(&rec, c[5]).trim();
        let hex = data.strip_prefix("0x").unwrap_or(data);
        if hex.len() != 64 {
            acc.quarantine(at, Some("data"), Some(data), "an ERC-20 Transfer's data is one 32-byte amount")?;
            continue;
        }
        let value = field!(acc, at, "data", data, amount::parse_any(&format!("0x{hex}")));
        let from = field!(acc, at, "topics", topics_raw, topic_address(&topics[1]));
        let to = field!(acc, at, "topics", topics_raw, topic_address(&topics[2]));
        let token = field!(acc, at, "address", get(&rec, c[4]), address::evm(get(&rec, c[4])));
        let tx = field!(acc, at, "transaction_hash", get(&rec, c[1]), address::hash32(get(&rec, c[1])));
        let log = field!(acc, at, "log_index", get(&rec, c[0]), int(get(&rec, c[0])));
        let idx = field!(acc, at, "transaction_index", get(&rec, c[2]), opt_int(get(&rec, c[2])));
        let n = field!(acc, at, "block_number", get(&rec, c[3]), int(get(&rec, c[3])));
        let time = match non_empty(get(&rec, c[7])) {
            Some(t) => Some(field!(acc, at, "block_timestamp", t, parse_time(t))),
            None => None,
        };
        let token = Some(token);
        stage.transfer(
            acc,
            at,
            Transfer { time, tx_index: idx, log_index: Some(log), token, ..Transfer::new(n, tx, from, to, value, path) },
        )?;
    }
    Ok(())
}
