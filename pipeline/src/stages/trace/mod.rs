//! Tracing illicit funds on account-based chains: one pass over transfers in time order, with
//! state only for the (chain, address, asset) accounts that hold taint.
//!
//! - `engine`: the methods (poison, haircut, FIFO) over a stream of moves: no lake, no polars;
//! - `seeds`: what a trace starts from, resolved against the lake (an incident's theft transfers
//!   are read from `queries/theft_transfers.sql`, the rule the report's stolen totals use);
//! - `scan`: the lake's transfers in time order, in batches;
//! - here: the walk that feeds the scan to the engine, and the results, valued by
//!   [`crate::stages::value::Valuation`] (the report's price series, closes and ceiling).

mod checkpoint;
mod engine;
mod scan;
mod seeds;
pub mod subgraph;
pub mod utxo;

use std::collections::BTreeMap;

use checkpoint::WalkState;
use polars::prelude::*;

pub use engine::{Arrival, Held, Method, Move, Tracer};

use super::attribute::Attribution;
use super::value::{Usd, Valuation, day_of};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::stages::ingest::Progress;

/// Hops after which taint is recorded as held (the report's trace and `ifr trace`'s default).
pub const DEFAULT_MAX_HOPS: u32 = 20;
/// Receiver categories where taint stops (the report's trace and `ifr trace`'s default).
pub const DEFAULT_STOP: [&str; 3] = ["exchange", "mixer", "bridge"];
/// [`DEFAULT_STOP`] as `--stop` takes it (a unit test keeps the two equal).
pub const DEFAULT_STOP_ARG: &str = "exchange,mixer,bridge";

/// What to trace from.
#[derive(Debug, Clone)]
pub enum Seeds {
    /// The theft transfers of ledger incidents (taint arrives at their attackers), one seed each.
    Incidents(Vec<String>),
    /// Everything sanctioned addresses receive on or after their listing date (point-in-time rule).
    Sanctioned,
    /// Everything an actor's addresses receive from outside the actor.
    Actor(String),
    /// Everything these addresses receive.
    Addresses(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct TraceOptions {
    pub seeds: Seeds,
    pub methods: Vec<Method>,
    pub max_hops: u32,
    /// Last UTC day processed (days since the epoch).
    pub until: Option<i32>,
    /// Report categories where tracing stops.
    pub stop: Vec<String>,
}

/// One row of the result: where a method says the taint is at the end.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TraceRow {
    pub method: Method,
    pub seed: String,
    /// The destination's report category, or `held` for taint still in a traced account.
    pub destination: String,
    pub address: String,
    pub actor: Option<String>,
    pub chain: String,
    pub asset: String,
    /// Decimal-adjusted amount (raw units when the asset's decimals are unknown).
    pub amount: f64,
    /// At the close of the last arrival day (held: of the last day processed), as the queries value
    /// a transfer of that amount: None without a price (missing coverage, never 0) and None above
    /// the ceiling (`implausible` is then true).
    pub value_usd: Option<f64>,
    pub implausible: bool,
    pub hops: u32,
    pub first_arrival: Option<String>,
    pub last_arrival: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TraceSummary {
    pub method: Method,
    pub seed: String,
    pub chain: String,
    pub asset: String,
    pub seeded: f64,
    /// destination category -> amount
    pub arrived: BTreeMap<String, f64>,
    pub held: f64,
    pub gaps: u64,
    pub tracked_accounts: usize,
}

/// Trace the seeds found on UTXO chains on their transactions' inputs and outputs: each seed
/// taints the outputs of its transaction that pay its receiver (up to its amount, in output order),
/// then every transaction of the chain is walked in chain order by one tracer per group and method.
#[allow(clippy::too_many_arguments)]
fn trace_utxo(
    opts: &TraceOptions,
    input: &UtxoInputs<'_>,
    group_of: &dyn Fn(usize) -> usize,
    n_groups: usize,
    lake: &Lake,
    labels: &seeds::Labels,
    seed_names: &[String],
    valuation: &Valuation,
) -> Result<UtxoWalk> {
    let mut w = UtxoWalk::default();
    let (links, found) = (input.links, input.found);
    // Taken from as the deposits are walked again: never more than was released.
    let mut released = input.released.clone();
    // Crossings to account chains were released in the account walk.
    let chains: std::collections::BTreeSet<&str> = found
        .iter()
        .map(|s| s.1.as_str())
        .chain(input.crossings.iter().map(|c| input.links.all[c.link].destination_chain.as_str()))
        .filter(|c| input.chains.contains(*c))
        .collect();
    for chain in chains {
        let asset = crate::sources::chain::Assets::default().native(chain).0.unwrap_or_else(|| "native".into());
        let mut tracers: Vec<(usize, utxo::UtxoTracer)> =
            (0..n_groups).flat_map(|g| opts.methods.iter().map(move |m| (g, utxo::UtxoTracer::new(*m)))).collect();
        // What each tracer seeded: (tracer, seed id) -> amount. Taint that came across a link is
        // traced under its own id, the seed's + `n` (the same seed, shown "bridged"), so that a
        // seed's own taint on this chain is never labelled as bridged.
        let n = seed_names.len();
        let mut seeded: BTreeMap<(usize, usize), f64> = BTreeMap::new();
        // Seeds: (which tracers, seed id, tx, receiver, amount).
        let mut pending: Vec<(Vec<bool>, usize, &str, &str, f64)> = Vec::new();
        for (seed, _, hash, to, amount) in found.iter().filter(|s| s.1 == chain) {
            pending.push((tracers.iter().map(|(g, _)| *g == group_of(*seed)).collect(), *seed, hash, to, *amount));
        }
        // (pending index, crossing index) of the crossings released on this chain.
        let mut crossing_of: Vec<(usize, usize)> = Vec::new();
        for (ci, c) in input.crossings.iter().enumerate().filter(|(_, c)| input.links.all[c.link].destination_chain == chain) {
            let l = &input.links.all[c.link];
            crossing_of.push((pending.len(), ci));
            pending.push(((0..tracers.len()).map(|k| k == c.tracer).collect(), c.seed + n, &l.release_tx, &l.release_address, c.amount));
        }
        let mut planted = vec![false; pending.len()];
        // Seeds by transaction: each is planted right after its transaction is walked (a seed's
        // transaction may itself spend taint, which it then adds to).
        let mut pending_at: std::collections::HashMap<&str, Vec<usize>> = std::collections::HashMap::new();
        for (i, p) in pending.iter().enumerate() {
            pending_at.entry(p.2).or_default().push(i);
        }
        // The links whose deposit is on this chain, by deposit transaction.
        let deposits: std::collections::HashMap<&str, Vec<usize>> = links
            .by_deposit
            .iter()
            .filter_map(|(h, lis)| {
                let here: Vec<usize> = lis.iter().copied().filter(|li| links.all[*li].source_chain == chain).collect();
                (!here.is_empty()).then_some((h.as_str(), here))
            })
            .collect();
        let mut last = 0i64;
        // One window of blocks at a time (in block order, about `window_rows` outputs each):
        // memory is a window's transactions and the tainted outputs.
        let window_rows = input.window_rows.get(chain).copied().unwrap_or(crate::config::DEFAULT_BUCKET_ROWS);
        let (windows, several_sources) = utxo::windows(lake, chain, window_rows)?;
        // One source resolved every input it could at ingest; only across sources is there more.
        let other_outputs: Vec<std::path::PathBuf> = if several_sources {
            windows.iter().flat_map(|w| w.outputs.iter().cloned()).collect::<std::collections::BTreeSet<_>>().into_iter().collect()
        } else {
            Vec::new()
        };
        'windows: for window in &windows {
            let txs = utxo::transactions(window, &other_outputs)?;
            for tx in &txs {
                let day = day_of(tx.time);
                if opts.until.is_some_and(|u| day > u) {
                    break 'windows;
                }
                last = tx.time;
                let view = tx.view();
                let stop = |a: &str| labels.at(a, day).map(|l| l.1).filter(|c| opts.stop.iter().any(|s| s == c)).map(str::to_string);
                for (_, tr) in tracers.iter_mut() {
                    tr.apply(&view, tx.time, &stop);
                }
                if let Some(lis) = deposits.get(tx.hash.as_str()) {
                    cross_out(&mut w, &mut tracers, input, &mut released, lis, tx, &asset, &stop, valuation);
                }
                for &i in pending_at.get(tx.hash.as_str()).map(Vec::as_slice).unwrap_or_default() {
                    planted[i] = true;
                    let (which, seed, _, to, amount) = &pending[i];
                    let mut left = (amount * 1e8).round();
                    for (vout, address, value) in tx.outputs.iter().filter(|(_, a, _)| a.as_deref() == Some(*to)) {
                        let take = left.min(*value as f64);
                        if take <= 0.0 {
                            break;
                        }
                        for (k, (_, tr)) in tracers.iter_mut().enumerate().filter(|(k, _)| which[*k]) {
                            tr.seed((tx.hash.clone(), *vout), address.as_deref(), *value, *seed, take);
                            *seeded.entry((k, *seed)).or_default() += take / 1e8;
                        }
                        left -= take;
                    }
                }
            }
        }
        w.unplanted.extend(crossing_of.iter().filter(|(p, _)| !planted[*p]).map(|(_, ci)| *ci));
        let usd = |amount: f64, t: i64| valuation.usd(chain, &asset, amount, day_of(t));
        for (k, (_, tr)) in tracers.iter().enumerate() {
            let held = tr.held();
            let mut per_seed: BTreeMap<usize, TraceSummary> = BTreeMap::new();
            for ((_, seed), amount) in seeded.range((k, 0)..=(k, usize::MAX)) {
                per_seed.insert(
                    *seed,
                    TraceSummary {
                        method: tr.method,
                        // A seed that came across a link is its own row: "ronin-2022 (bridged to bitcoin)".
                        seed: bridged(*seed, n, chain, &seed_names[*seed % n]),
                        chain: chain.to_string(),
                        asset: asset.clone(),
                        seeded: *amount,
                        arrived: BTreeMap::new(),
                        held: 0.0,
                        gaps: 0,
                        tracked_accounts: held.len(),
                    },
                );
            }
            let mut push =
                |seed: usize, destination: String, address: String, actor: Option<String>, sat: f64, t: i64, days: Option<(i64, i64)>| {
                    let amount = sat / 1e8;
                    // The seed's summary row says it came across a link; its columns are the
                    // destinations themselves.
                    if let Some(s) = per_seed.get_mut(&seed) {
                        if destination == "held" {
                            s.held += amount;
                        } else {
                            *s.arrived.entry(destination.clone()).or_default() += amount;
                        }
                    }
                    // Taint that came across a link says so in each row: "exchange (bridged to bitcoin)".
                    let destination = bridged(seed, n, chain, &destination);
                    let u = usd(amount, t);
                    w.rows.push(TraceRow {
                        method: tr.method,
                        seed: seed_names[seed % n].clone(),
                        destination,
                        address,
                        actor,
                        chain: chain.to_string(),
                        asset: asset.clone(),
                        amount,
                        value_usd: u.counted(),
                        implausible: matches!(u, Usd::Implausible(_)),
                        hops: 0,
                        first_arrival: days.map(|d| micros_to_day_string(d.0)),
                        last_arrival: days.map(|d| micros_to_day_string(d.1)),
                    });
                };
            for ((seed, address, category), a) in &tr.arrived {
                // A coinjoin is a mixer (the heuristic named with the transaction); the fee goes to miners.
                let (destination, shown, actor) = match category.strip_prefix("mixer (") {
                    Some(rest) => ("mixer".to_string(), format!("{address} ({rest}"), None),
                    None if category == "fee" => ("fee".to_string(), address.clone(), None),
                    None => (category.clone(), address.clone(), labels.at(address, day_of(a.last)).and_then(|l| l.0).map(str::to_string)),
                };
                push(*seed, destination, shown, actor, a.amount, a.last, Some((a.first, a.last)));
            }
            for ((seed, (hash, vout)), (address, sat)) in held {
                let actor = address.as_deref().and_then(|a| labels.at(a, day_of(last))).and_then(|l| l.0).map(str::to_string);
                push(seed, "held".into(), address.unwrap_or_else(|| format!("{hash}:{vout}")), actor, sat, last, None);
            }
            w.summaries.extend(per_seed.into_values());
        }
    }
    Ok(w)
}

/// At most this many walks of the account chains (and of the UTXO chains) follow a trail that
/// crosses back and forth between them through links; what crosses again after the last is
/// reported as not followed.
pub const MAX_LINK_ROUNDS: usize = 4;

/// What a walk of the UTXO chains found.
#[derive(Default)]
struct UtxoWalk {
    rows: Vec<TraceRow>,
    summaries: Vec<TraceSummary>,
    /// The crossings (indices) whose release the walk never reached: their taint is nowhere.
    unplanted: Vec<usize>,
    /// Taint that left through links to account chains, waiting for its releases there.
    out: Vec<Crossing>,
    /// Link id -> (why not followed, deposit day); links seen but not reaching a service; followed.
    not_followed: BTreeMap<String, (String, i32)>,
    unreached: BTreeMap<usize, i32>,
    followed: std::collections::BTreeSet<usize>,
}

/// A link's deposit on a UTXO chain (`tx`, just applied): the taint each tracer carried in it to
/// services where tracing stops crosses to the link's account chain, by each method's share, to go
/// on at the release; links of one deposit share it by their source amounts. What the account
/// walk released of it leaves the service here. A deposit that pays no such service, a release
/// not in the lake, two sides that disagree in value, or a link between two UTXO chains is
/// reported, not followed.
#[allow(clippy::too_many_arguments)]
fn cross_out(
    w: &mut UtxoWalk,
    tracers: &mut [(usize, utxo::UtxoTracer)],
    input: &UtxoInputs<'_>,
    released: &mut std::collections::HashMap<CrossingKey, f64>,
    lis: &[usize],
    tx: &utxo::LakeTx,
    asset: &str,
    stop: &dyn Fn(&str) -> Option<String>,
    valuation: &Valuation,
) {
    let (links, utxo_chains) = (input.links, input.chains);
    let day = day_of(tx.time);
    let pays_service = tx.outputs.iter().any(|(_, a, _)| a.as_deref().is_some_and(|a| stop(a).is_some()));
    let mut crossed = Vec::new();
    for &li in lis {
        let l = &links.all[li];
        if l.source_asset != asset {
            continue;
        }
        if !pays_service {
            w.unreached.entry(li).or_insert(day);
            continue;
        }
        let why = if utxo_chains.contains(&l.destination_chain) {
            Some(format!("it links two UTXO chains ({} to {}), which ifr does not follow yet", l.source_chain, l.destination_chain))
        } else {
            links.refusal(li, valuation, day)
        };
        if let Some(why) = why {
            w.not_followed.entry(l.id.clone()).or_insert((why, day));
            continue;
        }
        w.followed.insert(li);
        crossed.push(li);
    }
    if crossed.is_empty() {
        return;
    }
    let total: f64 = crossed.iter().map(|li| links.all[*li].source_amount).sum();
    // The deposit is what the transaction pays a bridge; when it pays none, what it pays the
    // other services where tracing stops (a swap service labelled as an exchange, say).
    let to_bridge = tx.outputs.iter().any(|(_, a, _)| a.as_deref().and_then(stop).as_deref() == Some("bridge"));
    for (k, (_, tr)) in tracers.iter_mut().enumerate() {
        let stopped = std::mem::take(&mut tr.stopped);
        for (seed, address, category, sat) in stopped.into_iter().filter(|s| s.3 > 0.0 && (!to_bridge || s.2 == "bridge")) {
            for &li in &crossed {
                let l = &links.all[li];
                let (share, rate) = (l.source_amount / total, l.destination_amount / l.source_amount);
                let amount = sat / 1e8 * share * rate;
                if let Some(left) = released.get_mut(&(k, seed, li, tx.time)).filter(|left| **left > 0.0) {
                    let took = amount.min(*left);
                    *left -= took;
                    tr.cross(seed, &address, &category, took / rate * 1e8);
                }
                w.out.push(Crossing { tracer: k, seed, link: li, amount, released: false, bridge: String::new(), day, after: tx.time });
            }
        }
    }
}

/// What a seed's row says (`what`: its name, or a destination): a seed released through a link is
/// seed + `n_seeds`, shown "… (bridged to <chain>)".
fn bridged(seed: usize, n_seeds: usize, chain: &str, what: &str) -> String {
    if seed >= n_seeds { format!("{what} (bridged to {chain})") } else { what.to_string() }
}

/// How far apart the two sides of a cross-chain link may be in USD (at the deposit day's closes)
/// and still be followed: bridges and swap services take fees, and prices move within a day.
pub const LINK_TOLERANCE: f64 = 0.10;

/// A cross-chain link (the `crosschain_links` table).
struct Link {
    id: String,
    source_chain: String,
    source_asset: String,
    source_amount: f64,
    destination_chain: String,
    release_tx: String,
    release_address: String,
    destination_asset: String,
    destination_amount: f64,
}

impl Link {
    /// Whether the two sides agree in value on `day` within [`LINK_TOLERANCE`].
    fn check(&self, valuation: &Valuation, day: i32) -> std::result::Result<(), String> {
        let a = valuation.usd(&self.source_chain, &self.source_asset, self.source_amount, day).counted();
        let b = valuation.usd(&self.destination_chain, &self.destination_asset, self.destination_amount, day).counted();
        let (Some(a), Some(b)) = (a, b) else {
            return Err(format!("no price to compare its two sides on {}", crate::sources::day_to_string(day)));
        };
        let gap = (a - b).abs() / a.max(b).max(f64::MIN_POSITIVE);
        if gap > LINK_TOLERANCE {
            return Err(format!(
                "its two sides differ by {:.1}% in value on {} (${a:.2} against ${b:.2}; tolerance {:.0}%)",
                gap * 100.0,
                crate::sources::day_to_string(day),
                LINK_TOLERANCE * 100.0
            ));
        }
        Ok(())
    }
}

/// The lake's cross-chain links, by deposit transaction.
struct Links {
    all: Vec<Link>,
    by_deposit: std::collections::HashMap<String, Vec<usize>>,
    /// The links to account chains, by release transaction.
    by_release: std::collections::HashMap<String, Vec<usize>>,
    /// (release tx, address paid) of the links whose release is in the lake: an output in the
    /// UTXO tables, or a transfer on an account chain.
    released: std::collections::HashSet<(String, String)>,
}

impl Links {
    /// Why link `li`, whose deposit is on `day`, is not followed: its release is not in the lake,
    /// or its two sides disagree in value ([`Link::check`]); None when it is followed.
    fn refusal(&self, li: usize, valuation: &Valuation, day: i32) -> Option<String> {
        let l = &self.all[li];
        if !self.released.contains(&(l.release_tx.clone(), l.release_address.clone())) {
            return Some(format!("its release ({} paying {}) is not in the lake", l.release_tx, l.release_address));
        }
        l.check(valuation, day).err()
    }

    fn load(lake: &Lake, utxo_chains: &std::collections::BTreeSet<String>) -> Result<Links> {
        let df = lake.scan("crosschain_links")?.collect().map_err(|e| Error::polars("reading crosschain_links", e))?;
        let s = |c: &str| crate::table::col_str(&df, c);
        let f = |c: &str| -> Result<Vec<f64>> {
            Ok(df
                .column(c)
                .map_err(|e| Error::polars(c, e))?
                .f64()
                .map_err(|e| Error::polars(c, e))?
                .iter()
                .map(|v| v.unwrap_or(0.0))
                .collect())
        };
        let (id, sc, dep, sa, sam) = (s("id")?, s("source_chain")?, s("deposit_tx")?, s("source_asset")?, f("source_amount")?);
        let (dc, rt, ra, da, dam) =
            (s("destination_chain")?, s("release_tx")?, s("release_address")?, s("destination_asset")?, f("destination_amount")?);
        let mut out =
            Links { all: Vec::new(), by_deposit: Default::default(), by_release: Default::default(), released: Default::default() };
        if df.height() > 0 {
            let wanted = DataFrame::new(df.height(), vec![Column::new("tx_hash".into(), rt.clone())])
                .map_err(|e| Error::polars("release transactions", e))?
                .unique_stable(None, UniqueKeepStrategy::First, None)
                .map_err(|e| Error::polars("release transactions", e))?;
            // One lake file at a time: the id and address columns of a whole chain do not fit.
            let paid = |table: &str, address: &str| -> Result<Vec<(String, String)>> {
                let mut found = Vec::new();
                for file in lake.table_files(table)? {
                    let paid = crate::table::scan_files(std::slice::from_ref(&file), table)?
                        .select([col("tx_hash"), col(address)])
                        .join(wanted.clone().lazy(), [col("tx_hash")], [col("tx_hash")], JoinArgs::new(JoinType::Inner))
                        .collect()
                        .map_err(|e| Error::polars("finding the links' releases", e))?;
                    let (h, a) = (crate::table::col_str(&paid, "tx_hash")?, crate::table::col_str(&paid, address)?);
                    found.extend(h.into_iter().zip(a));
                }
                Ok(found)
            };
            out.released = paid("utxo_outputs", "address")?.into_iter().collect();
            // Releases on account chains are transfers (read only when a link goes to one).
            if dc.iter().any(|c| !utxo_chains.contains(c)) {
                out.released.extend(paid("transfers", "to_address")?);
            }
        }
        for i in 0..df.height() {
            out.by_deposit.entry(dep[i].clone()).or_default().push(out.all.len());
            if !utxo_chains.contains(&dc[i]) {
                out.by_release.entry(rt[i].clone()).or_default().push(out.all.len());
            }
            out.all.push(Link {
                id: id[i].clone(),
                source_chain: sc[i].clone(),
                source_asset: sa[i].clone(),
                source_amount: sam[i],
                destination_chain: dc[i].clone(),
                release_tx: rt[i].clone(),
                release_address: ra[i].clone(),
                destination_asset: da[i].clone(),
                destination_amount: dam[i],
            });
        }
        Ok(out)
    }
}

/// Taint that crossed a link: which tracer (index), its seed, the link, and the amount in the
/// destination asset (the carried amount × destination amount ÷ source amount). To an account
/// chain, the taint goes on when the walk reaches the link's release (`released`); until then it
/// is still an arrival at the bridge (the deposit's receiver), where it stays if the release never
/// comes after the deposit.
#[derive(Debug, Clone, PartialEq)]
struct Crossing {
    tracer: usize,
    seed: usize,
    link: usize,
    amount: f64,
    released: bool,
    /// The deposit's receiver (account chains; empty for UTXO chains, on either side).
    bridge: String,
    /// The deposit's day.
    day: i32,
    /// No release dated before this (µs) takes the taint: the deposit's block time for taint that
    /// left a UTXO chain (walked after the account chains, so known before their next walk); 0 for
    /// a crossing made during the account walk (its release can only be walked after it).
    after: i64,
}

/// What the UTXO walk starts from: seeds found on UTXO chains, and taint that crossed to them.
struct UtxoInputs<'a> {
    /// The chains with UTXO tables.
    chains: &'a std::collections::BTreeSet<String>,
    found: &'a [(usize, String, String, String, f64)],
    links: &'a Links,
    crossings: &'a [Crossing],
    /// What the account walk released (in the destination asset) of the taint that left these
    /// chains through links in the previous walk: that much leaves the bridge here, the rest
    /// stays there (a release dated before its deposit, or moving less than crossed).
    released: &'a std::collections::HashMap<CrossingKey, f64>,
    /// Per chain, outputs per window of the walk: the smallest `bucket-rows` of its sources (the
    /// memory bound they set for ingest holds for the walk too).
    window_rows: &'a BTreeMap<String, u64>,
}

/// A crossing out of a UTXO chain, as both walks know it: (tracer, seed, link, deposit time).
type CrossingKey = (usize, usize, usize, i64);

fn micros_to_day_string(t: i64) -> String {
    crate::sources::day_to_string(day_of(t))
}

/// Run the trace over the lake.
pub fn run(settings: &Settings, opts: &TraceOptions) -> Result<(Vec<TraceRow>, Vec<TraceSummary>)> {
    run_showing(settings, opts, &crate::stages::ingest::NoProgress).map(|t| (t.rows, t.summaries))
}

/// [`run`], telling `progress` its steps and how many transfers it has walked.
pub fn run_showing(settings: &Settings, opts: &TraceOptions, progress: &dyn Progress) -> Result<Traced> {
    let lake = Lake::new(&settings.lake_dir);
    progress.step("trace", "attributing addresses");
    let attribution = seeds::attribution(settings, &lake)?;
    progress.step("trace", "building the price series");
    let valuation = Valuation::build(&lake, &settings.report.price_sources, settings.report.max_transfer_usd)?;
    let known = Known { lake: &lake, attribution: &attribution, valuation: &valuation, thefts: None };
    let out = run_links(settings, opts, &[], &known, progress);
    progress.stage_finished("trace");
    out
}

/// What a caller already computed over the same lake snapshot (the report): the tracer reuses it
/// instead of building it again.
pub struct Known<'a> {
    pub lake: &'a Lake,
    /// Under all labels, the config's sanctions policy.
    pub attribution: &'a Attribution,
    pub valuation: &'a Valuation,
    /// The rows of `queries/theft_transfers.sql`, when already run (else the tracer runs it).
    pub thefts: Option<&'a DataFrame>,
}

/// The trace over what the caller already has, with the seeds split into independent groups
/// (`groups[i]` = the group of the i-th seed; empty: one group): each group gets its own tracers,
/// as if traced alone, but every group shares one pass over the transfers.
pub fn run_with(
    settings: &Settings,
    opts: &TraceOptions,
    groups: &[usize],
    known: &Known<'_>,
    progress: &dyn Progress,
) -> Result<(Vec<TraceRow>, Vec<TraceSummary>)> {
    run_links(settings, opts, groups, known, progress).map(|t| (t.rows, t.summaries))
}

/// What a trace found, with the cross-chain links it did not follow.
pub struct Traced {
    pub rows: Vec<TraceRow>,
    pub summaries: Vec<TraceSummary>,
    /// (link id, why it was not followed, year of its deposit), by id.
    pub links_not_followed: Vec<(String, String, i32)>,
    /// When the walk continued one an earlier run saved: the transfers that run had walked.
    pub continued_after: Option<u64>,
}

/// 0001-01-01T00:00:00Z in microseconds: "from the start" for a seed address.
const SINCE_EVER: i64 = -62_135_596_800_000_000;

/// What the sub-graph of a trace held.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct SubGraph {
    /// Addresses reached from the seeds.
    pub addresses: usize,
    /// Rounds of frontier joins run.
    pub rounds: u32,
    /// Transfers in the sub-graph (of the lake's `lake_transfers`).
    pub transfers: usize,
    pub lake_transfers: u64,
}

/// [`run_links`] over the candidate sub-graph extracted on the engine `q` (its `transfers` the
/// lake's): the seeds' addresses, every cross-chain link's release address, hop by hop
/// ([`subgraph::reach`]), then the walk over the sub-graph's transfers written under `dir`. The
/// same rows and summaries as the walk over the whole lake (tests/trace.rs checks it).
pub fn run_on_subgraph(
    settings: &Settings,
    opts: &TraceOptions,
    groups: &[usize],
    known: &Known<'_>,
    q: &mut dyn crate::stages::aggregate::Queries,
    dir: &std::path::Path,
    progress: &dyn Progress,
) -> Result<(Traced, SubGraph)> {
    let (lake, att, valuation) = (known.lake, known.attribution, known.valuation);
    let labels = seeds::Labels::of(att)?;
    progress.step("trace", "finding the seeds");
    let (_, resolved) = seeds::resolve(settings, lake, att, valuation, known.thefts, &labels, &opts.seeds)?;
    let day_start = |d: i32| i64::from(d) * 86_400_000_000;
    let mut start: BTreeMap<String, i64> = BTreeMap::new();
    let mut seed = |a: &str, t: i64| {
        let e = start.entry(a.to_string()).or_insert(t);
        *e = (*e).min(t);
    };
    match &resolved {
        seeds::Resolved::Thefts(by_hash) => by_hash.values().flatten().for_each(|(_, to, _)| seed(to, SINCE_EVER)),
        seeds::Resolved::Sanctioned(listed) => listed.iter().for_each(|(a, d)| seed(a, day_start(*d))),
        seeds::Resolved::Addresses(set) => set.iter().for_each(|a| seed(a, SINCE_EVER)),
        seeds::Resolved::Actor(actor) => labels.addresses_in(actor).for_each(|x| seed(x, SINCE_EVER)),
    }
    let utxo_chains: std::collections::BTreeSet<String> = utxo::chains(lake)?.into_iter().collect();
    for l in &Links::load(lake, &utxo_chains)?.all {
        seed(&l.release_address, SINCE_EVER);
    }
    progress.step("trace", &format!("extracting the sub-graph on the engine from {} address(es)", start.len()));
    let never = subgraph::never_followed(att, &opts.stop)?;
    let (reached, rounds) = subgraph::reach(q, &start, &never, opts.max_hops)?;
    let transfers = subgraph::extract(q, &reached, &utxo_chains)?;
    let stats = SubGraph { addresses: reached.len(), rounds, transfers: transfers.height(), lake_transfers: lake.row_count("transfers")? };
    let sub = subgraph::lake_of(lake, transfers, dir)?;
    let traced = run_links(settings, opts, groups, &Known { lake: &sub, attribution: att, valuation, thefts: known.thefts }, progress)?;
    Ok((traced, stats))
}

/// [`run_showing`] with the sub-graph extracted on the configured engine first
/// ([`run_on_subgraph`]); its files are written in a [`crate::lake::RunDir`] under `<lake>/_engine/`.
pub fn run_on_engine(settings: &Settings, opts: &TraceOptions, progress: &dyn Progress) -> Result<(Traced, SubGraph)> {
    use crate::stages::aggregate::{self, Scan};
    let lake = Lake::new(&settings.lake_dir);
    progress.step("trace", "attributing addresses");
    let attribution = seeds::attribution(settings, &lake)?;
    progress.step("trace", "building the price series");
    let valuation = Valuation::build(&lake, &settings.report.price_sources, settings.report.max_transfer_usd)?;
    let keys = crate::stages::value::TheftKeys::build(&lake, settings.report.incident_window_days)?;
    let inputs = aggregate::Inputs {
        attribution: &attribution,
        high: &attribution,
        valuation: &valuation,
        thefts: &keys,
        stolen_price_day: settings.report.stolen_price_day,
    };
    let scans: &[Scan] = if matches!(opts.seeds, Seeds::Incidents(_)) { &[Scan::TheftCandidates] } else { &[] };
    let mut q = aggregate::open(&settings.report.engine, &lake, &inputs, scans, progress, "trace")?;
    let thefts = if scans.is_empty() { None } else { Some(aggregate::theft_transfers(q.as_mut())?) };
    let known = Known { lake: &lake, attribution: &attribution, valuation: &valuation, thefts: thefts.as_ref() };
    let dir = crate::lake::RunDir::create(&lake.root.join("_engine"))?;
    let out = run_on_subgraph(settings, opts, &[], &known, q.as_mut(), dir.path(), progress);
    progress.stage_finished("trace");
    out
}

/// [`run_with`], also saying which cross-chain links were not followed and why.
pub fn run_links(settings: &Settings, opts: &TraceOptions, groups: &[usize], known: &Known<'_>, progress: &dyn Progress) -> Result<Traced> {
    if opts.methods.is_empty() {
        return Err(Error::Config("no tracing method: use poison, haircut or fifo".into()));
    }
    let (lake, att, valuation) = (known.lake, known.attribution, known.valuation);
    let labels = seeds::Labels::of(att)?;
    progress.step("trace", "finding the seeds");
    let (seed_names, resolved) = seeds::resolve(settings, lake, att, valuation, known.thefts, &labels, &opts.seeds)?;
    let total = lake.row_count("transfers")?;
    progress.step("trace", &format!("walking {total} transfers in time order ({} method(s))", opts.methods.len()));
    let addresses_seeded = matches!(resolved, seeds::Resolved::Addresses(_));

    let group_of = |seed: usize| groups.get(seed).copied().unwrap_or(0);
    let n_groups = groups.iter().max().map_or(1, |g| g + 1);
    // UTXO chains are traced on their transactions' inputs and outputs (utxo.rs), not as accounts:
    // their transfers only give the seeds, (seed, chain, tx, receiver, amount).
    let utxo_chains: std::collections::BTreeSet<String> = utxo::chains(lake)?.into_iter().collect();
    let mut window_rows: BTreeMap<String, u64> = BTreeMap::new();
    for s in &settings.sources {
        if let (Some(chain), crate::config::Format::BitcoinEtl | crate::config::Format::BigqueryBitcoin) = (&s.chain, s.format) {
            let w = window_rows.entry(chain.clone()).or_insert(s.bucket_rows);
            *w = (*w).min(s.bucket_rows);
        }
    }
    // Cross-chain links: taint that reaches a service in a link's deposit goes on at its release.
    let links = Links::load(lake, &utxo_chains)?;
    let n_seeds = seed_names.len();
    let fresh = || WalkState {
        tracers: (0..n_groups).flat_map(|g| opts.methods.iter().map(move |m| (g, Tracer::new(*m, opts.max_hops)))).collect(),
        last_time: 0,
        walked: 0,
        seen_seed_address: !addresses_seeded,
        bad_amount: None,
        utxo_seeds: Vec::new(),
        crossings: Vec::new(),
        not_followed: BTreeMap::new(),
        unreached: BTreeMap::new(),
        followed: Default::default(),
    };
    let step = |st: &mut WalkState, df: &DataFrame| -> Result<bool> {
        let strs = |c: &str| -> Result<StringChunked> {
            Ok(df.column(c).map_err(|e| Error::polars(c, e))?.str().map_err(|e| Error::polars(c, e))?.clone())
        };
        let (chain, hash, from, to, asset, raw) =
            (strs("chain")?, strs("tx_hash")?, strs("from_address")?, strs("to_address")?, strs("asset_key")?, strs("amount_raw")?);
        let t = df.column("t").map_err(|e| Error::polars("t", e))?.i64().map_err(|e| Error::polars("t", e))?.clone();
        st.walked += df.height() as u64;
        progress.rows_walked(st.walked, total);
        let amount = df.column("amount").map_err(|e| Error::polars("amount", e))?.f64().map_err(|e| Error::polars("amount", e))?.clone();
        // Zipped iterators: a ChunkedArray's `get(i)` looks up the chunk on every call.
        let rows = t
            .iter()
            .zip(chain.iter())
            .zip(hash.iter())
            .zip(from.iter())
            .zip(to.iter())
            .zip(asset.iter())
            .zip(amount.iter())
            .zip(raw.iter());
        for (((((((t, chain), hash), from), to), asset), amount), raw) in rows {
            let (Some(t), Some(chain), Some(hash), Some(from), Some(to), Some(asset)) = (t, chain, hash, from, to, asset) else {
                continue;
            };
            let day = day_of(t);
            if opts.until.is_some_and(|u| day > u) {
                return Ok(false);
            }
            st.last_time = t;
            // The lake's decimal-adjusted amount (what the queries value); raw units for a token
            // whose decimals are unknown. amount_raw is a checked integer in the lake: text that
            // does not parse is a damaged lake, reported, never traced as 0.
            let amount = match amount {
                Some(a) => a,
                None => match raw.map(str::parse::<f64>) {
                    Some(Ok(a)) => a,
                    _ => {
                        st.bad_amount.get_or_insert_with(|| format!("{chain} transaction {hash}: amount_raw {raw:?}"));
                        continue;
                    }
                },
            };
            let tr = seeds::Transfer { chain, hash, from, to, day };
            let seed = resolved.seed_of(&labels, &tr);
            if let seeds::Resolved::Addresses(set) = &resolved {
                st.seen_seed_address |= set.contains(to) || set.contains(from);
            }
            let stop_cat = labels.at(to, day).map(|l| l.1).filter(|c| opts.stop.iter().any(|s| s == c));
            let mut mv = Move { time: t, chain, from, to, asset, amount, seed: None, stop: stop_cat };
            let (from_key, to_key) = (engine::AddrKey::of(from), engine::AddrKey::of(to));
            // A link's release on this (account) chain: the taint that crossed goes on from here,
            // as seeds of its own (seed + the number of seeds: "bridged to <chain>").
            // Per tracer: (crossing, seed id, amount) released by this transfer.
            let mut released: Vec<Vec<(usize, usize, f64)>> = Vec::new();
            let releases = if links.by_release.is_empty() { None } else { links.by_release.get(hash) };
            for &li in releases.map(Vec::as_slice).unwrap_or_default() {
                let l = &links.all[li];
                if l.destination_chain != chain || l.release_address != to || l.destination_asset != asset {
                    continue;
                }
                for (ci, c) in st.crossings.iter().enumerate().filter(|(_, c)| c.link == li && !c.released && t >= c.after) {
                    if released.len() <= c.tracer {
                        released.resize(c.tracer + 1, Vec::new());
                    }
                    released[c.tracer].push((ci, c.seed + n_seeds, c.amount));
                }
            }
            for (k, (g, tr)) in st.tracers.iter_mut().enumerate() {
                mv.seed = seed.filter(|s| group_of(*s) == *g);
                let Some(r) = released.get(k).filter(|r| !r.is_empty()) else {
                    tr.apply_keyed(&mv, &from_key, &to_key);
                    continue;
                };
                let entries: Vec<(usize, f64)> = r.iter().map(|(_, s, a)| (*s, *a)).collect();
                let taken = tr.apply_released(&mv, &from_key, &to_key, &entries);
                // What the transfer took is no longer an arrival at the bridge; what it could not
                // take (a release moving less than crossed) waits for another transfer of the
                // release, else stays at the bridge.
                for ((ci, _, _), took) in r.iter().zip(taken) {
                    let c = &mut st.crossings[*ci];
                    let l = &links.all[c.link];
                    // (Taint from a UTXO chain left its bridge there, at the deposit.)
                    if took > 0.0 && !c.bridge.is_empty() {
                        tr.cross(
                            c.seed,
                            &engine::AddrKey::of(&c.bridge),
                            &l.source_chain,
                            &l.source_asset,
                            took * l.source_amount / l.destination_amount,
                        );
                    }
                    c.amount -= took;
                    c.released = c.amount <= 1e-9 * (c.amount + took);
                }
            }
            let first_crossing = st.crossings.len();
            let mut crossed_links: Vec<usize> = Vec::new();
            let deposits = if links.by_deposit.is_empty() { None } else { links.by_deposit.get(hash) };
            for &li in deposits.map(Vec::as_slice).unwrap_or_default() {
                let l = &links.all[li];
                if l.source_chain != chain || l.source_asset != asset {
                    continue;
                }
                // Only the deposit's transfer into the service crosses; another transfer of the
                // same transaction (a router's forward) is no reason to call the link unfollowed.
                if stop_cat.is_none() {
                    st.unreached.entry(li).or_insert(day);
                    continue;
                }
                if let Some(why) = links.refusal(li, valuation, day) {
                    st.not_followed.entry(l.id.clone()).or_insert((why, day));
                    continue;
                }
                st.followed.insert(li);
                let to_utxo = utxo_chains.contains(&l.destination_chain);
                for (k, (_, tr)) in st.tracers.iter_mut().enumerate() {
                    let carried: Vec<(usize, f64)> = tr.last_carried().to_vec();
                    for (seed, amount) in carried.into_iter().filter(|(_, a)| *a > 0.0) {
                        // To a UTXO chain the taint leaves the bridge now (that chain is walked
                        // after this one); to an account chain, when the walk reaches the release.
                        if to_utxo {
                            tr.cross(seed, &to_key, chain, asset, amount);
                        }
                        st.crossings.push(Crossing {
                            tracer: k,
                            seed,
                            link: li,
                            amount: amount * l.destination_amount / l.source_amount,
                            released: false,
                            bridge: if to_utxo { String::new() } else { to.to_string() },
                            day,
                            after: 0,
                        });
                    }
                }
                crossed_links.push(li);
            }
            // Several links of one deposit (two sources listing it, or a deposit split over two
            // releases) share what crossed, by their source amounts: never counted twice.
            if crossed_links.len() > 1 {
                let total: f64 = crossed_links.iter().map(|li| links.all[*li].source_amount).sum();
                for c in &mut st.crossings[first_crossing..] {
                    c.amount *= links.all[c.link].source_amount / total;
                }
            }
        }
        Ok(true)
    };
    // A UTXO chain's transfers give only the seeds, (seed, chain, tx, receiver, amount): the walk
    // there is on inputs and outputs (trace_utxo). Rows after --until are not seeds.
    let utxo_seeds = |st: &mut WalkState, df: &DataFrame| -> Result<()> {
        let strs = |c: &str| -> Result<StringChunked> {
            Ok(df.column(c).map_err(|e| Error::polars(c, e))?.str().map_err(|e| Error::polars(c, e))?.clone())
        };
        let (chain, hash, from, to, raw) =
            (strs("chain")?, strs("tx_hash")?, strs("from_address")?, strs("to_address")?, strs("amount_raw")?);
        let t = df.column("t").map_err(|e| Error::polars("t", e))?.i64().map_err(|e| Error::polars("t", e))?.clone();
        let amount = df.column("amount").map_err(|e| Error::polars("amount", e))?.f64().map_err(|e| Error::polars("amount", e))?.clone();
        st.walked += df.height() as u64;
        progress.rows_walked(st.walked, total);
        let rows = t.iter().zip(chain.iter()).zip(hash.iter()).zip(from.iter()).zip(to.iter()).zip(amount.iter()).zip(raw.iter());
        for ((((((t, chain), hash), from), to), amount), raw) in rows {
            let (Some(t), Some(chain), Some(hash), Some(from), Some(to)) = (t, chain, hash, from, to) else { continue };
            let day = day_of(t);
            if opts.until.is_some_and(|u| day > u) {
                continue;
            }
            st.last_time = st.last_time.max(t);
            let amount = match amount.or_else(|| raw.and_then(|r| r.parse::<f64>().ok())) {
                Some(a) => a,
                None => {
                    st.bad_amount.get_or_insert_with(|| format!("{chain} transaction {hash}: amount_raw {raw:?}"));
                    continue;
                }
            };
            let tr = seeds::Transfer { chain, hash, from, to, day };
            if let seeds::Resolved::Addresses(set) = &resolved {
                st.seen_seed_address |= set.contains(to) || set.contains(from);
            }
            if let Some(seed) = resolved.seed_of(&labels, &tr) {
                st.utxo_seeds.push((seed, chain.to_string(), hash.to_string(), to.to_string(), amount));
            }
        }
        Ok(())
    };
    let digest = checkpoint::digest(opts, groups, &seed_names, &resolved, att, valuation, &links, &utxo_chains)?;
    // The account chains are walked, then the UTXO chains. Taint that leaves a UTXO chain through
    // a link (Bitcoin -> Ethereum) is released on its account chain only by another walk of the
    // account chains, from the start, with that taint waiting for its releases; then the UTXO
    // chains again, with what that walk sent to them. Until nothing new crosses, at most
    // MAX_LINK_ROUNDS walks; without such links (the usual case) one walk of each.
    let mut from_utxo: Vec<Crossing> = Vec::new();
    // Links crossed again after the last walk: link id -> deposit day.
    let mut beyond: BTreeMap<String, i32> = BTreeMap::new();
    let mut continued_after = None;
    let mut round = 0;
    let (st, mut walk) = loop {
        round += 1;
        let mut st = fresh();
        if round == 1 {
            // Continue the walk a checkpoint of the same inputs saved, when the lake still holds
            // every transfer it walked as it walked them (then only the transfers after them are
            // walked, and the state at the end is the one a whole walk gives); else walk every
            // transfer.
            let mut outcome = scan::Walked::Changed;
            if let Some(cp) = checkpoint::load(lake, &digest)
                && let Some(restored) = cp.restore(&opts.methods)
            {
                st = restored;
                continued_after = Some(st.walked);
                progress.step("trace", &format!("continuing the walk saved after {} transfers", st.walked));
                outcome = scan::in_time_order(lake, &cp.months, &utxo_chains, |df| step(&mut st, df))?;
            }
            if matches!(outcome, scan::Walked::Changed) {
                continued_after = None;
                st = fresh();
                outcome = scan::in_time_order(lake, &[], &utxo_chains, |df| step(&mut st, df))?;
            }
            if let (scan::Walked::All(months), None) = (&outcome, &st.bad_amount) {
                checkpoint::save(lake, &digest, months, &st);
            }
        } else {
            // Not saved: a saved walk is always the first round's.
            progress.step("trace", &format!("walking the account chains again: {} crossing(s) left a UTXO chain", from_utxo.len()));
            continued_after = None;
            st.crossings = from_utxo.clone();
            scan::in_time_order(lake, &[], &utxo_chains, |df| step(&mut st, df))?;
        }
        // The seeds on UTXO chains, from their transfers read apart (never merged in time order
        // with the account chains': a month of Bitcoin flows is large), every time.
        st.utxo_seeds.clear();
        if !utxo_chains.is_empty() {
            scan::chain_batches(lake, &utxo_chains, |df| utxo_seeds(&mut st, df))?;
        }
        if let Some(what) = &st.bad_amount {
            return Err(Error::Internal(format!(
                "the lake's transfers hold an amount that is not a number ({what}): run `ifr ingest` again"
            )));
        }
        // What this walk released of the taint from the UTXO chains (the first crossings).
        let mut released: std::collections::HashMap<CrossingKey, f64> = Default::default();
        for (c, now) in from_utxo.iter().zip(&st.crossings) {
            *released.entry((c.tracer, c.seed, c.link, c.after)).or_default() +=
                if now.released { c.amount } else { c.amount - now.amount };
        }
        let utxo_in = UtxoInputs {
            chains: &utxo_chains,
            found: &st.utxo_seeds,
            links: &links,
            crossings: &st.crossings,
            released: &released,
            window_rows: &window_rows,
        };
        let mut walk = trace_utxo(opts, &utxo_in, &group_of, n_groups, lake, &labels, &seed_names, valuation)?;
        if walk.out == from_utxo {
            break (st, walk);
        }
        if round == MAX_LINK_ROUNDS {
            // Noted once the followed links are known (a crossing here is of a followed link).
            for c in walk.out.iter().filter(|c| !from_utxo.contains(c)) {
                beyond.entry(links.all[c.link].id.clone()).or_insert(c.day);
            }
            break (st, walk);
        }
        from_utxo = std::mem::take(&mut walk.out);
    };
    let WalkState { tracers, last_time, seen_seed_address, crossings, mut not_followed, mut unreached, mut followed, .. } = st;
    if !seen_seed_address {
        return Err(Error::Config(format!("seed address(es) {} do not appear in any transfer in the lake", seed_names.join(";"))));
    }
    for (id, v) in std::mem::take(&mut walk.not_followed) {
        not_followed.entry(id).or_insert(v);
    }
    for (li, day) in std::mem::take(&mut walk.unreached) {
        unreached.entry(li).or_insert(day);
    }
    followed.extend(std::mem::take(&mut walk.followed));

    // Valued as the queries value a transfer: the same series, closes and ceiling.
    let usd = |chain: &str, asset: &str, amount: f64, t: i64| valuation.usd(chain, asset, amount, day_of(t));
    let mut rows = Vec::new();
    let mut summaries = Vec::new();
    // A seed released through a link to an account chain is seed + n_seeds: its summary row says
    // so, and so does each of its destinations ("exchange (bridged to arbitrum)").
    let bridged = |seed: usize, chain: &str, what: &str| bridged(seed, n_seeds, chain, what);
    for (_, tr) in &tracers {
        let mut per_asset: BTreeMap<(usize, String, String), TraceSummary> = BTreeMap::new();
        for ((seed, chain, asset), amount) in &tr.seeded {
            per_asset.insert(
                (*seed, chain.clone(), asset.clone()),
                TraceSummary {
                    method: tr.method,
                    seed: bridged(*seed, chain, &seed_names[*seed % n_seeds]),
                    chain: chain.clone(),
                    asset: asset.clone(),
                    seeded: *amount,
                    arrived: BTreeMap::new(),
                    held: 0.0,
                    gaps: tr.gaps,
                    tracked_accounts: tr.tracked(),
                },
            );
        }
        for a in tr.arrivals() {
            let u = usd(&a.chain, &a.asset, a.amount, a.last);
            rows.push(TraceRow {
                method: tr.method,
                seed: seed_names[a.seed % n_seeds].clone(),
                destination: bridged(a.seed, &a.chain, &a.category),
                address: a.address.clone(),
                actor: labels.at(&a.address, day_of(a.last)).and_then(|l| l.0).map(str::to_string),
                chain: a.chain.clone(),
                asset: a.asset.clone(),
                amount: a.amount,
                value_usd: u.counted(),
                implausible: matches!(u, Usd::Implausible(_)),
                hops: a.hops,
                first_arrival: Some(micros_to_day_string(a.first)),
                last_arrival: Some(micros_to_day_string(a.last)),
            });
            if let Some(s) = per_asset.get_mut(&(a.seed, a.chain.clone(), a.asset.clone())) {
                *s.arrived.entry(a.category.clone()).or_default() += a.amount;
            }
        }
        for h in tr.held() {
            let u = usd(&h.chain, &h.asset, h.amount, last_time);
            if let Some(s) = per_asset.get_mut(&(h.seed, h.chain.clone(), h.asset.clone())) {
                s.held += h.amount;
            }
            rows.push(TraceRow {
                method: tr.method,
                seed: seed_names[h.seed % n_seeds].clone(),
                destination: bridged(h.seed, &h.chain, "held"),
                actor: labels.at(&h.address, day_of(last_time)).and_then(|l| l.0).map(str::to_string),
                address: h.address,
                chain: h.chain,
                asset: h.asset,
                amount: h.amount,
                value_usd: u.counted(),
                implausible: matches!(u, Usd::Implausible(_)),
                hops: h.hops,
                first_arrival: None,
                last_arrival: None,
            });
        }
        summaries.extend(per_asset.into_values());
    }
    for (li, day) in unreached.iter().filter(|(li, _)| !followed.contains(li)) {
        not_followed
            .entry(links.all[*li].id.clone())
            .or_insert_with(|| ("its deposit's receiver is not a service where tracing stops (label it a bridge)".to_string(), *day));
    }
    for li in &followed {
        // Followed for one transfer of the deposit: a refusal noted for another does not stand.
        not_followed.remove(&links.all[*li].id);
    }
    for (id, day) in beyond {
        not_followed.insert(
            id,
            (format!("the trail crossed between account and UTXO chains more than {MAX_LINK_ROUNDS} times: the last crossing stays at the bridge"), day),
        );
    }
    // A release on an account chain the walk never reached after its deposit: the taint stayed
    // at the bridge.
    for c in crossings.iter().filter(|c| !c.released && !utxo_chains.contains(&links.all[c.link].destination_chain)) {
        let l = &links.all[c.link];
        not_followed.entry(l.id.clone()).or_insert_with(|| {
            (
                format!(
                    "the walk did not reach its release ({} paying {} on {}) after its deposit, or the release moved less than crossed (the release is dated before the deposit, after --until, or smaller)",
                    l.release_tx, l.release_address, l.destination_chain
                ),
                c.day,
            )
        });
    }
    // A release on a UTXO chain the walk never reached (after --until): the crossed taint is not
    // traced there, and said so.
    for ci in std::mem::take(&mut walk.unplanted) {
        let (c, l) = (&crossings[ci], &links.all[crossings[ci].link]);
        not_followed.entry(l.id.clone()).or_insert_with(|| {
            (format!("the walk of {} did not reach its release ({}) (after --until)", l.destination_chain, l.release_tx), c.day)
        });
    }
    for (id, (why, _)) in &not_followed {
        progress.step("trace", &format!("cross-chain link {id} not followed: {why}"));
    }
    rows.extend(walk.rows);
    summaries.extend(walk.summaries);
    rows.sort_by(|a, b| {
        (a.method.as_str(), &a.destination, &a.address, &a.chain, &a.asset).cmp(&(
            b.method.as_str(),
            &b.destination,
            &b.address,
            &b.chain,
            &b.asset,
        ))
    });
    let links_not_followed = not_followed
        .into_iter()
        .map(|(id, (why, day))| {
            use chrono::Datelike;
            let year = (chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date") + chrono::Duration::days(day as i64)).year();
            (id, why, year)
        })
        .collect();
    Ok(Traced { rows, summaries, links_not_followed, continued_after })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_stop_argument_default_is_the_stop_list() {
        assert_eq!(super::DEFAULT_STOP.join(","), super::DEFAULT_STOP_ARG);
    }
}
