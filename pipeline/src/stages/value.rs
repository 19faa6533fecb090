//! Valuation, in one place: which price series values each (chain, asset), which close each series
//! has on each day (price-source preference), the per-transfer ceiling, and the ledger's theft keys.
//! The report's SQL context registers [`Valuation::asset_series`] and [`Valuation::price_days`];
//! the tracer calls [`Valuation::usd`] on the same tables, so a transfer has one value whichever
//! of them looks at it.

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::table::col_str;

/// Microseconds in a UTC day.
pub const DAY_MICROS: i64 = 86_400_000_000;

/// What a transfer (or a traced amount) is worth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Usd {
    /// amount × the close of the asset's series on the day.
    Priced(f64),
    /// The asset has no price series, or the series no close that day: missing coverage, never 0.
    Unpriced,
    /// Above the ceiling (`max-transfer-usd`): kept out of every total and listed.
    Implausible(f64),
}

impl Usd {
    /// The value when it counts in a total.
    pub fn counted(self) -> Option<f64> {
        match self {
            Usd::Priced(v) => Some(v),
            Usd::Unpriced | Usd::Implausible(_) => None,
        }
    }
}

/// The valuation tables of one lake snapshot and config.
pub struct Valuation {
    /// One row per (chain, symbol): `price_asset` (NULL without a series) and `max_transfer_usd`.
    pub asset_series: DataFrame,
    /// One row per (price series, day): the preferred source's `close_usd` and that `source`.
    pub price_days: DataFrame,
    pub max_transfer_usd: f64,
    series: HashMap<(String, String), String>,
    close: HashMap<(String, i32), f64>,
}

impl Valuation {
    pub fn build(lake: &Lake, price_sources: &[String], max_transfer_usd: f64) -> Result<Valuation> {
        let (series, price_days) = (series_of(lake)?, closes(lake, price_sources)?);
        let n = series.len();
        let (mut c, mut s, mut p) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        for ((chain, symbol), ser) in &series {
            c.push(chain.clone());
            s.push(symbol.clone());
            p.push(ser.clone());
        }
        // The ceiling travels with each asset's series (the join every transfer already makes): a
        // cross join with a one-row options table would make the streaming engine hold the transfers.
        let asset_series = DataFrame::new(
            n,
            vec![
                Column::new("chain".into(), c),
                Column::new("symbol".into(), s),
                Column::new("price_asset".into(), p),
                Column::new("max_transfer_usd".into(), vec![max_transfer_usd; n]),
            ],
        )
        .map_err(|e| Error::polars("asset_series", e))?;
        let n = price_days.len();
        let (mut a, mut d, mut c, mut s) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let mut close = HashMap::with_capacity(n);
        for ((asset, day), (close_usd, source)) in price_days {
            close.insert((asset.clone(), day), close_usd);
            a.push(asset);
            d.push(day);
            c.push(close_usd);
            s.push(source);
        }
        let day = Series::new("day".into(), d).cast(&DataType::Date).map_err(|e| Error::polars("day", e))?;
        let price_days = DataFrame::new(
            n,
            vec![Column::new("asset".into(), a), day.into_column(), Column::new("close_usd".into(), c), Column::new("source".into(), s)],
        )
        .map_err(|e| Error::polars("price_days", e))?;
        let series = series.into_iter().filter_map(|(k, v)| Some((k, v?))).collect();
        Ok(Valuation { asset_series, price_days, max_transfer_usd, series, close })
    }

    /// The value of `amount` (decimal-adjusted) of `asset` on `chain` at the close of `day` (days
    /// since the epoch): the same product, join keys and ceiling as `queries/attributed_transfers.sql`.
    pub fn usd(&self, chain: &str, asset: &str, amount: f64, day: i32) -> Usd {
        // Lookups by borrowed keys would need a key type of their own; this runs once per
        // destination of a trace, not per transfer.
        let Some(series) = self.series.get(&(chain.to_string(), asset.to_string())) else { return Usd::Unpriced };
        match self.close.get(&(series.clone(), day)) {
            None => Usd::Unpriced,
            Some(close) => {
                let v = amount * close;
                // NaN (a missing close in the file) compares false, as SQL's NULL: unpriced.
                if v.is_nan() {
                    Usd::Unpriced
                } else if v > self.max_transfer_usd {
                    Usd::Implausible(v)
                } else {
                    Usd::Priced(v)
                }
            }
        }
    }
}

/// The day of a block time in microseconds since the epoch.
pub fn day_of(micros: i64) -> i32 {
    micros.div_euclid(DAY_MICROS) as i32
}

/// One close per (series, day): the preferred source (config order), then by name.
fn closes(lake: &Lake, order: &[String]) -> Result<BTreeMap<(String, i32), (f64, String)>> {
    let p = lake.scan("prices")?.collect().map_err(|e| Error::polars("reading prices", e))?;
    let (asset, source) = (col_str(&p, "asset")?, col_str(&p, "source")?);
    let day = p.column("day").map_err(|e| Error::polars("day", e))?.cast(&DataType::Int32).map_err(|e| Error::polars("day", e))?;
    let day: Vec<i32> = day.i32().map_err(|e| Error::polars("day", e))?.iter().map(|d| d.unwrap_or(0)).collect();
    let close: Vec<f64> = p
        .column("close_usd")
        .map_err(|e| Error::polars("close_usd", e))?
        .f64()
        .map_err(|e| Error::polars("close_usd", e))?
        .iter()
        .map(|c| c.unwrap_or(f64::NAN))
        .collect();
    let rank = |s: &str| order.iter().position(|o| o == s).unwrap_or(order.len());
    let mut best: BTreeMap<(String, i32), (usize, String, f64)> = BTreeMap::new();
    for i in 0..p.height() {
        let cand = (rank(&source[i]), source[i].clone(), close[i]);
        let e = best.entry((asset[i].clone(), day[i])).or_insert(cand.clone());
        if (cand.0, &cand.1) < (e.0, &e.1) {
            *e = cand;
        }
    }
    Ok(best.into_iter().map(|(k, (_, source, close))| (k, (close, source))).collect())
}

/// One price series per (chain, symbol): the first asset list that names it (None: no series).
fn series_of(lake: &Lake) -> Result<BTreeMap<(String, String), Option<String>>> {
    let a = lake.scan("assets")?.collect().map_err(|e| Error::polars("reading assets", e))?;
    let (chain, symbol, series) = (col_str(&a, "chain")?, col_str(&a, "symbol")?, col_str(&a, "price_asset")?);
    let mut seen = BTreeMap::new();
    for i in 0..a.height() {
        seen.entry((chain[i].clone(), symbol[i].clone())).or_insert_with(|| (!series[i].is_empty()).then(|| series[i].clone()));
    }
    Ok(seen)
}

/// The ledger's theft keys (the rule `queries/theft_transfers.sql` applies): for an incident with
/// listed tx hashes, (incident, actor, tx_hash); for one without, (incident, actor, victim,
/// attacker, day_from, day_to) with the incident window. Incidents without an actor are not thefts
/// of any actor and give no key.
pub struct TheftKeys {
    pub tx: DataFrame,
    pub parties: DataFrame,
}

impl TheftKeys {
    pub fn build(lake: &Lake, window_days: i32) -> Result<TheftKeys> {
        let inc = lake.scan("incidents")?.collect().map_err(|e| Error::polars("reading incidents", e))?;
        let (id, actor, txs, vic, att) = (
            col_str(&inc, "id")?,
            col_str(&inc, "actor")?,
            col_str(&inc, "tx_hashes")?,
            col_str(&inc, "victim_addresses")?,
            col_str(&inc, "attacker_addresses")?,
        );
        let date =
            inc.column("date").map_err(|e| Error::polars("date", e))?.cast(&DataType::Int32).map_err(|e| Error::polars("date", e))?;
        let date: Vec<i32> = date.i32().map_err(|e| Error::polars("date", e))?.iter().map(|d| d.unwrap_or(0)).collect();
        let (mut t_inc, mut t_act, mut t_hash, mut t_day) = (vec![], vec![], vec![], vec![]);
        let (mut p_inc, mut p_act, mut p_v, mut p_a, mut p_from, mut p_to, mut p_day) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        for i in 0..inc.height() {
            if actor[i].is_empty() {
                continue;
            }
            let hashes: Vec<&str> = txs[i].split(';').filter(|h| !h.is_empty()).collect();
            if !hashes.is_empty() {
                for h in hashes {
                    t_inc.push(id[i].clone());
                    t_act.push(actor[i].clone());
                    t_hash.push(h.to_string());
                    t_day.push(date[i]);
                }
                continue;
            }
            for v in vic[i].split(';').filter(|x| !x.is_empty()) {
                for a in att[i].split(';').filter(|x| !x.is_empty()) {
                    p_inc.push(id[i].clone());
                    p_act.push(actor[i].clone());
                    p_v.push(v.to_string());
                    p_a.push(a.to_string());
                    p_from.push(date[i]);
                    p_to.push(date[i].saturating_add(window_days));
                    p_day.push(date[i]);
                }
            }
        }
        let dates = |name: &str, v: Vec<i32>| -> Result<Column> {
            Ok(Series::new(name.into(), v).cast(&DataType::Date).map_err(|e| Error::polars("dates", e))?.into_column())
        };
        let tx = DataFrame::new(
            t_inc.len(),
            vec![
                Column::new("incident".into(), t_inc),
                Column::new("actor".into(), t_act),
                Column::new("tx_hash".into(), t_hash),
                dates("disclosure_day", t_day)?,
            ],
        )
        .map_err(|e| Error::polars("incident_tx", e))?;
        let parties = DataFrame::new(
            p_inc.len(),
            vec![
                Column::new("incident".into(), p_inc),
                Column::new("actor".into(), p_act),
                Column::new("victim".into(), p_v),
                Column::new("attacker".into(), p_a),
                dates("day_from", p_from)?,
                dates("day_to", p_to)?,
                dates("disclosure_day", p_day)?,
            ],
        )
        .map_err(|e| Error::polars("incident_parties", e))?;
        Ok(TheftKeys { tx, parties })
    }

    /// A filter on `transfers` that keeps every row a key can match (and some more): listed hashes,
    /// or victim senders. Pushed into the Parquet scan, it skips every other row group.
    pub fn candidate_filter(&self) -> Result<String> {
        let (hashes, victims) = (col_str(&self.tx, "tx_hash")?, col_str(&self.parties, "victim")?);
        let mut keys = Vec::new();
        if !hashes.is_empty() {
            keys.push(format!("tx_hash IN ({})", crate::sql::string_list(&hashes)));
        }
        if !victims.is_empty() {
            keys.push(format!("from_address IN ({})", crate::sql::string_list(&victims)));
        }
        Ok(if keys.is_empty() { "FALSE".to_string() } else { keys.join(" OR ") })
    }
}
