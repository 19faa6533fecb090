//! Valuation inputs: which price series values each (chain, asset) and which close each series has
//! on each day (price-source preference). Read by the report's queries and by the tracer, so both
//! value a transfer from the same tables.

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::table::col_str;

/// One price series row per asset and day: the preferred source (config order), then by name.
pub fn price_days(lake: &Lake, order: &[String]) -> Result<DataFrame> {
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
    let n = best.len();
    let (mut a, mut d, mut c, mut s) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for ((asset, day), (_, source, close)) in best {
        a.push(asset);
        d.push(day);
        c.push(close);
        s.push(source);
    }
    let day = Series::new("day".into(), d).cast(&DataType::Date).map_err(|e| Error::polars("day", e))?;
    DataFrame::new(
        n,
        vec![Column::new("asset".into(), a), day.into_column(), Column::new("close_usd".into(), c), Column::new("source".into(), s)],
    )
    .map_err(|e| Error::polars("price_days", e))
}

/// One price series per chain and symbol (the first asset list that names it).
pub fn asset_series(lake: &Lake) -> Result<DataFrame> {
    let a = lake.scan("assets")?.collect().map_err(|e| Error::polars("reading assets", e))?;
    let (chain, symbol, series) = (col_str(&a, "chain")?, col_str(&a, "symbol")?, col_str(&a, "price_asset")?);
    let mut seen = BTreeMap::new();
    for i in 0..a.height() {
        seen.entry((chain[i].clone(), symbol[i].clone())).or_insert(series[i].clone());
    }
    let n = seen.len();
    let (mut c, mut s, mut p) = (Vec::new(), Vec::new(), Vec::new());
    for ((ch, sym), ser) in seen {
        c.push(ch);
        s.push(sym);
        p.push((!ser.is_empty()).then_some(ser));
    }
    DataFrame::new(n, vec![Column::new("chain".into(), c), Column::new("symbol".into(), s), Column::new("price_asset".into(), p)])
        .map_err(|e| Error::polars("asset_series", e))
}
