//! Etherscan label dumps (`{"0xaddr": {"name": "...", "labels": ["exchange", …]}}`): one label row
//! per address, its category derived from Etherscan's label words.

use serde::Deserialize;

use super::{Acc, At, Input, file_name};
use crate::address;
use crate::error::{Error, Result};
use crate::table::Cell;

/// Etherscan name tags are a known service's own data: GraphSense's `service_data` level.
pub const CONFIDENCE: (&str, i32) = ("service_data", 50);

const EXCHANGES: [&str; 24] = [
    "exchange",
    "binance",
    "coinbase",
    "kraken",
    "kucoin",
    "huobi",
    "okx",
    "okex",
    "bitfinex",
    "gemini",
    "bittrex",
    "poloniex",
    "ftx",
    "gate-io",
    "crypto-com",
    "bybit",
    "bitstamp",
    "upbit",
    "bithumb",
    "hotbit",
    "mexc",
    "htx",
    "bitget",
    "deposit",
];

/// The ifr category for a set of Etherscan labels (first rule that matches).
pub fn category(labels: &[String], name: &str) -> Option<&'static str> {
    let has = |w: &str| labels.iter().any(|l| l == w);
    let name = name.to_ascii_lowercase();
    if has("ofac-sanctions-lists") || has("blocked") {
        Some("sanctioned")
    } else if has("tornado-cash") || has("mixer") || name.contains("tornado.cash") {
        Some("mixer")
    } else if has("heist") || has("exploit") || has("phish-hack") || name.contains("exploiter") {
        Some("hacker")
    } else if labels.iter().any(|l| EXCHANGES.contains(&l.as_str())) {
        Some("exchange")
    } else if has("bridge") || name.contains("bridge") {
        Some("bridge")
    } else if has("dex") || has("defi") || has("sushiswap") || has("uniswap") || has("balancer") || has("curve-fi") {
        Some("defi")
    } else {
        None
    }
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    name: String,
    #[serde(default)]
    labels: Vec<String>,
}

pub fn load(input: &Input<'_>, acc: &mut Acc) -> Result<()> {
    for path in input.each_file() {
        let text = super::read_text(path)?;
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).map_err(|e| Error::input_caused(path, "expected a JSON object {address: {name, labels}}", e))?;
        let pack = format!("etherscan:{}", file_name(path));
        // Sorted so that, of two spellings of one address, the same one wins every time.
        let mut entries: Vec<(String, serde_json::Value)> = map.into_iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (i, (raw, v)) in entries.into_iter().enumerate() {
            acc.read();
            let at = At::new(path, i as i64);
            let addr = match address::evm(&raw) {
                Ok(a) => a,
                Err(why) => {
                    acc.quarantine(at, Some("address"), Some(&raw), why)?;
                    continue;
                }
            };
            let e: Entry = match serde_json::from_value(v) {
                Ok(e) => e,
                Err(err) => {
                    acc.quarantine(at, Some("name"), Some(&raw), format!("expected {{name, labels}}: {err}"))?;
                    continue;
                }
            };
            let label = if e.name.trim().is_empty() { e.labels.join(", ") } else { e.name.trim().to_string() };
            if label.is_empty() {
                acc.quarantine(at, Some("name"), Some(&raw), "neither a name nor labels")?;
                continue;
            }
            let abuse = category(&e.labels, &e.name).filter(|c| *c == "hacker").map(|_| "hack");
            acc.load(
                "labels",
                vec![
                    Cell::Str(addr),
                    Cell::Str("ETH".into()),
                    Cell::Str("ethereum".into()),
                    Cell::Str(label),
                    Cell::Null,
                    category(&e.labels, &e.name).into(),
                    abuse.into(),
                    Cell::I32(CONFIDENCE.1),
                    Cell::Str(CONFIDENCE.0.into()),
                    Cell::Str("https://etherscan.io/labelcloud".into()),
                    Cell::Null,
                    Cell::Str(pack.clone()),
                    Cell::Str(file_name(path)),
                ],
            )?;
        }
    }
    Ok(())
}
