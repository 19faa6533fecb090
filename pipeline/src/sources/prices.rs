//! Daily USD prices: Yahoo Finance OHLC CSV, CryptoCompare daily JSON, and a plain
//! `day,asset,close_usd` CSV. A close must be a finite positive number; two rows for the same asset,
//! day and source are a duplicate when they agree and the later one is quarantined when they do not.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::csvutil::{CsvFile, get, line};
use super::{Acc, At, Input, file_name, parse_day};
use crate::error::{Error, Result};
use crate::table::Cell;

/// Remembers closes already loaded, to tell duplicates from conflicts.
#[derive(Default)]
struct Seen(HashMap<(String, i32, String), f64>);

impl Seen {
    #[allow(clippy::too_many_arguments)]
    fn add(&mut self, acc: &mut Acc, at: At<'_>, asset: &str, day: i32, close_raw: &str, source: &str, file: &Path) -> Result<()> {
        let asset = asset.trim().to_ascii_uppercase();
        if asset.is_empty() || !asset.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_') {
            return acc.quarantine(at, Some("asset"), Some(&asset), "expected an asset symbol (letters and digits)");
        }
        let close = match close_raw.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => v,
            _ => {
                return acc.quarantine(
                    at,
                    Some("close"),
                    Some(close_raw),
                    "expected a positive USD close (a missing price stays missing, never 0)",
                );
            }
        };
        let key = (asset.clone(), day, source.to_string());
        if let Some(&prev) = self.0.get(&key) {
            if prev == close {
                acc.add_duplicates(1);
                return Ok(());
            }
            return acc.quarantine(
                at,
                Some("close"),
                Some(close_raw),
                format!("conflicts with an earlier close {prev} for {asset} on {}", super::day_to_string(day)),
            );
        }
        self.0.insert(key, close);
        acc.load(
            "prices",
            vec![Cell::Str(asset), Cell::Date(day), Cell::F64(close), Cell::Str(source.to_string()), Cell::Str(file_name(file))],
        )
    }
}

/// `yahoo_ETH-USD.csv` → ETH.
pub fn asset_from_yahoo_name(path: &Path) -> Option<String> {
    let stem = path.file_name()?.to_str()?;
    let i = stem.to_ascii_uppercase().find("-USD")?;
    let head = &stem[..i];
    let sym = head.rsplit(['_', ' ', '/']).next()?;
    (!sym.is_empty()).then(|| sym.to_ascii_uppercase())
}

pub fn load_yahoo(input: &Input<'_>, acc: &mut Acc) -> Result<()> {
    let mut seen = Seen::default();
    for path in input.each_file() {
        let asset = match input.spec.asset.clone().or_else(|| asset_from_yahoo_name(path)) {
            Some(a) => a,
            None => {
                return Err(Error::input(
                    path,
                    "cannot tell which asset this Yahoo file prices: name it like ETH-USD.csv or set `asset` in the source",
                ));
            }
        };
        let mut csv = CsvFile::open(path, &["Date", "Close"])?;
        let (c_date, c_close) = (csv.index("Date"), csv.index("Close"));
        let width = csv.headers.len();
        for rec in csv.reader.records() {
            let rec = rec.map_err(|e| Error::input_caused(path, "not readable as CSV", e))?;
            acc.read();
            let at = At::new(path, line(&rec));
            if let Some(why) = super::csvutil::width_mismatch(&rec, width) {
                acc.quarantine(at, None, None, why)?;
                continue;
            }
            let date = get(&rec, c_date);
            match parse_day(date) {
                Ok(day) => seen.add(acc, at, &asset, day, get(&rec, c_close), "yahoo", path)?,
                Err(why) => acc.quarantine(at, Some("Date"), Some(date), why)?,
            }
        }
    }
    Ok(())
}

pub fn load_price_csv(input: &Input<'_>, acc: &mut Acc) -> Result<()> {
    let mut seen = Seen::default();
    for path in input.each_file() {
        let mut csv = CsvFile::open(path, &["day", "asset", "close_usd"])?;
        let (c_day, c_asset, c_close) = (csv.index("day"), csv.index("asset"), csv.index("close_usd"));
        let width = csv.headers.len();
        for rec in csv.reader.records() {
            let rec = rec.map_err(|e| Error::input_caused(path, "not readable as CSV", e))?;
            acc.read();
            let at = At::new(path, line(&rec));
            if let Some(why) = super::csvutil::width_mismatch(&rec, width) {
                acc.quarantine(at, None, None, why)?;
                continue;
            }
            let day = get(&rec, c_day);
            match parse_day(day) {
                Ok(d) => seen.add(acc, at, get(&rec, c_asset), d, get(&rec, c_close), &input.spec.name, path)?,
                Err(why) => acc.quarantine(at, Some("day"), Some(day), why)?,
            }
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct CcFile {
    coins: std::collections::BTreeMap<String, CcCoin>,
}

#[derive(Deserialize)]
struct CcCoin {
    #[serde(default)]
    symbol: Option<String>,
    prices: Vec<serde_json::Value>,
}

pub fn load_cryptocompare(input: &Input<'_>, acc: &mut Acc) -> Result<()> {
    let mut seen = Seen::default();
    for path in input.each_file() {
        let text = super::read_text(path)?;
        let file: CcFile = serde_json::from_str(&text)
            .map_err(|e| Error::input_caused(path, "expected CryptoCompare daily JSON {coins: {SYM: {prices: [{date, price}]}}}", e))?;
        let mut item = 0i64;
        for (key, coin) in file.coins {
            let asset = coin.symbol.unwrap_or(key);
            for p in coin.prices {
                item += 1;
                acc.read();
                let at = At::new(path, item);
                let date = p.get("date").and_then(|d| d.as_str()).unwrap_or("");
                let price = match p.get("price") {
                    Some(serde_json::Value::Number(n)) => n.to_string(),
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                match parse_day(date) {
                    Ok(d) => seen.add(acc, at, &asset, d, &price, "cryptocompare", path)?,
                    Err(why) => acc.quarantine(at, Some("date"), Some(date), why)?,
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yahoo_names() {
        assert_eq!(asset_from_yahoo_name(Path::new("/x/yahoo_ETH-USD.csv")).as_deref(), Some("ETH"));
        assert_eq!(asset_from_yahoo_name(Path::new("BTC-USD.csv")).as_deref(), Some("BTC"));
        assert_eq!(asset_from_yahoo_name(Path::new("prices.csv")), None);
    }
}
