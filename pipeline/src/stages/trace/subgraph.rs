//! The candidate sub-graph of a trace, extracted on the query engine (polars, DataFusion or a
//! Ballista cluster) hop by hop from the seeds, so that the exact walk runs on one machine over only
//! the transfers it can touch (queries/README.md, "Tracing past one machine").
//!
//! Reached set: the seeds' receivers, each with the earliest time it can hold taint; each round adds
//! the receivers of transfers sent by a reached address at or after its time (the earliest such
//! transfer's time), except from addresses where tracing stops at all times (a stopping category
//! over every day). The sub-graph: every transfer from or to a reached address at or after its time,
//! and every transfer of a UTXO chain (whose walk reads its own tables). It is a superset of the
//! transfers the walk reads with taint — the walk ignores the others — so the walk over it gives
//! the walk over the whole lake.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::lake::{Lake, SourceState, State};
use crate::stages::aggregate::Queries;
use crate::stages::attribute::{Attribution, MAX_DAY, MIN_DAY};
use crate::table::{col_i64, col_str};

/// One round: the receivers of the transfers each frontier address sends at or after its time.
const ROUND: &str = "SELECT t.to_address AS address, MIN(t.block_time) AS since
FROM transfers t
JOIN frontier f ON t.from_address = f.address
WHERE t.block_time >= f.since
GROUP BY t.to_address";

/// The sub-graph's transfers: from or to a reached address at or after its time.
const EXTRACT: &str = "SELECT t.* FROM transfers t JOIN reached r ON t.from_address = r.address WHERE t.block_time >= r.since
UNION
SELECT t.* FROM transfers t JOIN reached r ON t.to_address = r.address WHERE t.block_time >= r.since";

/// Addresses where tracing stops whatever the day: labelled with a stopping category over every
/// day from the first to the last.
pub fn never_followed(att: &Attribution, stop: &[String]) -> Result<BTreeSet<String>> {
    let a = &att.address_actors;
    let (addr, cat, from, to) = (col_str(a, "address")?, col_str(a, "category")?, col_i64(a, "valid_from")?, col_i64(a, "valid_to")?);
    let mut spans: BTreeMap<&str, Vec<(i64, i64)>> = BTreeMap::new();
    for i in 0..addr.len() {
        if stop.iter().any(|s| *s == cat[i]) {
            spans.entry(addr[i].as_str()).or_default().push((from[i], to[i]));
        }
    }
    Ok(spans
        .into_iter()
        .filter_map(|(a, mut s)| {
            s.sort();
            let mut covered = i64::from(MIN_DAY);
            for (f, t) in s {
                if f > covered {
                    return None;
                }
                covered = covered.max(t);
            }
            (covered >= i64::from(MAX_DAY)).then(|| a.to_string())
        })
        .collect())
}

fn frame(reached: &BTreeMap<String, i64>) -> Result<DataFrame> {
    let addresses: Vec<&str> = reached.keys().map(String::as_str).collect();
    let since: Vec<i64> = reached.values().copied().collect();
    let since = Series::new("since".into(), since)
        .cast(&DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)))
        .map_err(|e| Error::polars("since", e))?;
    DataFrame::new(addresses.len(), vec![Column::new("address".into(), addresses), since.into_column()])
        .map_err(|e| Error::polars("reached addresses", e))
}

/// The reached set (address -> earliest time in microseconds), from `seeds`, in at most
/// `max_hops + 1` rounds on the engine; and the number of rounds run.
pub fn reach(
    q: &mut dyn Queries,
    seeds: &BTreeMap<String, i64>,
    never: &BTreeSet<String>,
    max_hops: u32,
) -> Result<(BTreeMap<String, i64>, u32)> {
    let mut reached = seeds.clone();
    let mut frontier: BTreeMap<String, i64> = seeds.iter().filter(|(a, _)| !never.contains(*a)).map(|(a, t)| (a.clone(), *t)).collect();
    let mut rounds = 0;
    while !frontier.is_empty() && rounds <= max_hops {
        rounds += 1;
        q.register("frontier", frame(&frontier)?)?;
        let found = q.sql("trace sub-graph round", ROUND)?;
        let addr = col_str(&found, "address")?;
        let since = found
            .column("since")
            .and_then(|c| c.cast(&DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))))
            .and_then(|c| c.cast(&DataType::Int64))
            .map_err(|e| Error::polars("since", e))?;
        let since = since.i64().map_err(|e| Error::polars("since", e))?;
        frontier = BTreeMap::new();
        for (a, t) in addr.into_iter().zip(since.iter()) {
            let Some(t) = t else { continue };
            let better = reached.get(&a).is_none_or(|old| t < *old);
            if better {
                reached.insert(a.clone(), t);
                if !never.contains(&a) {
                    frontier.insert(a, t);
                }
            }
        }
    }
    Ok((reached, rounds))
}

/// The sub-graph's transfers (on the engine), with every transfer of `utxo_chains` added.
pub fn extract(q: &mut dyn Queries, reached: &BTreeMap<String, i64>, utxo_chains: &BTreeSet<String>) -> Result<DataFrame> {
    q.register("reached", frame(reached)?)?;
    let mut sql = EXTRACT.to_string();
    if !utxo_chains.is_empty() {
        let chains: Vec<String> = utxo_chains.iter().cloned().collect();
        sql.push_str(&format!("\nUNION\nSELECT * FROM transfers WHERE chain IN ({})", crate::sql::string_list(&chains)));
    }
    q.sql("trace sub-graph", &sql)
}

/// A lake that reads `transfers` from the sub-graph's rows and every other table from `lake`: the
/// rows written under `dir` per partition, in chain order, as the lake's own files are.
pub fn lake_of(lake: &Lake, transfers: DataFrame, dir: &Path) -> Result<Lake> {
    let live = lake.state()?;
    let mut elsewhere = BTreeMap::new();
    let mut state = State::default();
    for (name, s) in &live.sources {
        let mut s = s.clone();
        s.outputs.retain(|o| !o.starts_with("transfers/"));
        for o in &s.outputs {
            elsewhere.insert(o.clone(), lake.root.join(o));
        }
        state.sources.insert(name.clone(), s);
    }
    // Sorted once by partition, then chain order: each partition is then one run of rows.
    let order = ["chain", "year", "month"].into_iter().chain(crate::sources::partition::order("transfers").iter().copied());
    let sorted = transfers
        .lazy()
        .sort(order.map(PlSmallStr::from).collect::<Vec<_>>(), SortMultipleOptions::default())
        .collect()
        .map_err(|e| Error::polars("the sub-graph's rows", e))?;
    let (chains, years, months) = (col_str(&sorted, "chain")?, col_i64(&sorted, "year")?, col_i64(&sorted, "month")?);
    let mut outputs = Vec::new();
    let mut start = 0;
    for end in 1..=sorted.height() {
        let same = end < sorted.height() && chains[end] == chains[start] && years[end] == years[start] && months[end] == months[start];
        if same {
            continue;
        }
        let (c, y, m) = (chains[start].as_str(), years[start] as i32, months[start] as i32);
        let mut part = sorted.slice(start as i64, end - start);
        let rel = Path::new("transfers").join(crate::paths::partition_dir(c, y, m)).join("subgraph.parquet");
        crate::table::write_parquet(&mut part, &dir.join(&rel))?;
        outputs.push(rel.display().to_string());
        start = end;
    }
    let source = SourceState {
        kind: "chain".into(),
        format: "subgraph".into(),
        fingerprint: String::new(),
        outputs,
        counts: Default::default(),
        files: Vec::new(),
        setup: None,
        held_back: Vec::new(),
    };
    state.sources.insert("trace-subgraph".into(), source);
    Ok(Lake::as_of(dir, state, elsewhere))
}
