//! Tracing on a UTXO chain (Bitcoin), on each transaction's ordered inputs and outputs: taint sits
//! on unspent outputs (outpoints), and a transaction passes its inputs' taint to its outputs and
//! its fee by the method:
//!
//! - **poison**: when any input is tainted, every output and the fee are tainted in full (an upper
//!   bound: the same value can be counted more than once);
//! - **haircut**: each output and the fee carry the tainted share of the inputs' total value;
//! - **fifo**: the inputs' value is laid out in input order (each input's own lots, tainted or
//!   clean, in order); the outputs take from it in output order, the fee last.
//!
//! Worked example (the unit tests below): 10 BTC of stolen value S and 30 clean BTC X are spent
//! together into 15 to P and 24.9 to Q (fee 0.1). Poison taints 15, 24.9 and the fee; haircut
//! gives each a quarter (3.75, 6.225, 0.025); FIFO gives P the 10 tainted BTC first, then 5
//! clean, and leaves Q and the fee clean.
//!
//! Taint stops where an output pays a service (its category is a stopping category: exchange,
//! mixer, bridge …) and at a coinjoin, which hides what follows: a transaction matching one of
//! the named heuristics in [`coinjoin`] is a mixer destination for the taint of its inputs. The
//! fee is a destination too (`fee`: the miners). What is still on unspent outputs at the end is
//! held. Amounts are satoshi as f64 (haircut shares are fractions).

use std::collections::{BTreeMap, VecDeque};

use polars::prelude::*;

use super::engine::Method;
use crate::error::{Error, Result};
use crate::lake::Lake;

type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

/// An output: (transaction id, index).
pub type Outpoint = (String, i64);

/// One transaction as the tracer needs it: what each input spends and its value, and each output's
/// address (None: no single address) and value, in order.
#[derive(Debug, Clone)]
pub struct UtxoTx<'a> {
    pub hash: &'a str,
    pub inputs: Vec<(Outpoint, i64)>,
    pub outputs: Vec<(Option<&'a str>, i64)>,
    /// Each output's index in the transaction (what inputs spend); empty: 0, 1, 2 … in order.
    pub vouts: Vec<i64>,
}

impl UtxoTx<'_> {
    fn fee(&self) -> i64 {
        let i: i64 = self.inputs.iter().map(|(_, v)| v).sum();
        let o: i64 = self.outputs.iter().map(|(_, v)| v).sum();
        (i - o).max(0)
    }
}

/// A transaction of the lake, owned: block time (µs), id, inputs (spent outpoint, value; 0 when
/// the spent output is not loaded), outputs (address, value).
pub struct LakeTx {
    pub time: i64,
    pub block: i64,
    pub hash: String,
    pub inputs: Vec<(Outpoint, i64)>,
    /// (vout, address, value)
    pub outputs: Vec<(i64, Option<String>, i64)>,
}

impl LakeTx {
    pub fn view(&self) -> UtxoTx<'_> {
        UtxoTx {
            hash: &self.hash,
            inputs: self.inputs.clone(),
            outputs: self.outputs.iter().map(|(_, a, v)| (a.as_deref(), *v)).collect(),
            vouts: self.outputs.iter().map(|(n, _, _)| *n).collect(),
        }
    }
}

/// The chains with UTXO tables in the lake.
pub fn chains(lake: &Lake) -> Result<Vec<String>> {
    let mut out: Vec<String> =
        lake.table_files("utxo_outputs")?.iter().filter_map(|f| Some(crate::lake::partition(&f.display().to_string())?.chain)).collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// A run of consecutive blocks of a UTXO chain (`lo..=hi`) with the `utxo_outputs` and
/// `utxo_inputs` files that hold rows of it: the tracer reads and walks one window at a time.
pub struct Window {
    pub lo: i64,
    pub hi: i64,
    pub outputs: Vec<std::path::PathBuf>,
    pub inputs: Vec<std::path::PathBuf>,
}

/// A lake file's block range and rows.
struct Span {
    path: std::path::PathBuf,
    lo: i64,
    hi: i64,
    rows: u64,
}

/// A UTXO chain's blocks cut into windows of about `window_rows` outputs each (estimated from
/// each file's block range and row count, rows taken as spread evenly over a file's blocks; a
/// block is never split), in block order — not in months: block times may run backwards across
/// a month's end (Bitcoin's rule allows it), block numbers never do. Also says whether the chain
/// was loaded by more than one source (then an input one source could not resolve may spend
/// another's output).
pub fn windows(lake: &Lake, chain: &str, window_rows: u64) -> Result<(Vec<Window>, bool)> {
    let mut spans: [Vec<Span>; 2] = [Vec::new(), Vec::new()];
    let mut sources: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for (k, table) in ["utxo_outputs", "utxo_inputs"].into_iter().enumerate() {
        for (name, file) in lake.table_files_named(table)? {
            // <table>/chain=<c>/year=<y>/month=<m>/<file>
            let Some(p) = crate::lake::partition(&name) else {
                return Err(Error::Internal(format!("a {table} file outside a chain/year/month partition: {name}")));
            };
            if p.chain != chain {
                continue;
            }
            // `<source>.parquet` or a day part `<source>~<first block>.parquet`.
            let file_name = name.rsplit('/').next().unwrap_or(&name);
            let stem = file_name.trim_end_matches(".parquet");
            sources.insert(stem.split('~').next().unwrap_or(stem).to_string());
            if let Some((lo, hi, rows)) = crate::sources::partition::block_span(&file, table)? {
                spans[k].push(Span { path: file, lo, hi, rows });
            }
        }
    }
    let [outputs, inputs] = spans;
    let files = |spans: &[Span], lo: i64, hi: i64| -> Vec<std::path::PathBuf> {
        spans.iter().filter(|s| s.lo <= hi && lo <= s.hi).map(|s| s.path.clone()).collect()
    };
    let ranges: Vec<(i64, i64, u64)> = outputs.iter().chain(&inputs).map(|s| (s.lo, s.hi, s.rows)).collect();
    let out = crate::sources::partition::block_windows(&ranges, window_rows.max(1))
        .into_iter()
        .map(|(lo, hi)| Window { lo, hi, outputs: files(&outputs, lo, hi), inputs: files(&inputs, lo, hi) })
        .collect();
    Ok((out, sources.len() > 1))
}

/// The transactions of a window of blocks of a UTXO chain (from its `utxo_outputs` and
/// `utxo_inputs` files) in chain order (block, position, id). Inputs carry the value of the output they spend, resolved at
/// ingest; an input ingest could not resolve is looked up in `other_outputs` (the chain's, when
/// another source may hold its spent output; empty otherwise). An input whose spent output is not
/// loaded at all is valued 0.
pub fn transactions(window: &Window, other_outputs: &[std::path::PathBuf]) -> Result<Vec<LakeTx>> {
    let err = |e| Error::polars("reading UTXO tables for tracing", e);
    let order = ["block_number", "tx_index", "tx_hash"];
    let in_window = || col("block_number").gt_eq(lit(window.lo)).and(col("block_number").lt_eq(lit(window.hi)));
    let inputs = crate::table::scan_files(&window.inputs, "utxo_inputs")?
        .filter(in_window())
        .select([
            col("block_number"),
            col("tx_index"),
            col("tx_hash"),
            col("vin"),
            col("spent_tx_hash"),
            col("spent_vout"),
            col("value_sat").alias("v"),
        ])
        .sort([order[0], order[1], order[2], "vin"], SortMultipleOptions::default().with_nulls_last(false))
        .collect()
        .map_err(err)?;
    let inputs = if inputs.column("v").map_err(err)?.null_count() > 0 && !other_outputs.is_empty() {
        let keys = inputs
            .clone()
            .lazy()
            .filter(col("v").is_null())
            .select([col("spent_tx_hash"), col("spent_vout")])
            .unique(None, UniqueKeepStrategy::First)
            .collect()
            .map_err(err)?;
        let found = crate::table::scan_files(other_outputs, "utxo_outputs")?
            .select([col("tx_hash").alias("spent_tx_hash"), col("vout").alias("spent_vout"), col("value_sat").alias("found")])
            .join(
                keys.lazy(),
                [col("spent_tx_hash"), col("spent_vout")],
                [col("spent_tx_hash"), col("spent_vout")],
                JoinArgs::new(JoinType::Inner),
            )
            .collect_with_engine(Engine::Streaming)
            .map(|r| r.unwrap_single())
            .map_err(err)?;
        let mut args = JoinArgs::new(JoinType::Left);
        args.maintain_order = MaintainOrderJoin::Left;
        inputs
            .lazy()
            .join(found.lazy(), [col("spent_tx_hash"), col("spent_vout")], [col("spent_tx_hash"), col("spent_vout")], args)
            .with_column(coalesce(&[col("v"), col("found")]).alias("v"))
            .drop(Selector::ByName { names: ["found".into()].into(), strict: false })
            .collect()
            .map_err(err)?
    } else {
        inputs
    };
    let outputs = crate::table::scan_files(&window.outputs, "utxo_outputs")?
        .filter(in_window())
        .select([
            col("block_number"),
            col("block_time").cast(DataType::Int64).alias("t"),
            col("tx_index"),
            col("tx_hash"),
            col("vout"),
            col("address"),
            col("value_sat"),
        ])
        .sort([order[0], order[1], order[2], "vout"], SortMultipleOptions::default().with_nulls_last(false))
        .collect()
        .map_err(err)?;
    let s = |df: &DataFrame, c: &str| -> Result<StringChunked> { Ok(df.column(c).map_err(err)?.str().map_err(err)?.clone()) };
    let i = |df: &DataFrame, c: &str| -> Result<Int64Chunked> { Ok(df.column(c).map_err(err)?.i64().map_err(err)?.clone()) };
    let (o_hash, o_t, o_addr, o_val) = (s(&outputs, "tx_hash")?, i(&outputs, "t")?, s(&outputs, "address")?, i(&outputs, "value_sat")?);
    let (o_block, o_vout) = (i(&outputs, "block_number")?, i(&outputs, "vout")?);
    let (i_hash, i_spent, i_vout, i_v) =
        (s(&inputs, "tx_hash")?, s(&inputs, "spent_tx_hash")?, i(&inputs, "spent_vout")?, i(&inputs, "v")?);
    let mut txs: Vec<LakeTx> = Vec::new();
    for k in 0..outputs.height() {
        let hash = o_hash.get(k).unwrap_or_default();
        if txs.last().is_none_or(|t| t.hash != hash) {
            txs.push(LakeTx {
                time: o_t.get(k).unwrap_or(0),
                block: o_block.get(k).unwrap_or(0),
                hash: hash.to_string(),
                inputs: Vec::new(),
                outputs: Vec::new(),
            });
        }
        if let Some(t) = txs.last_mut() {
            t.outputs.push((o_vout.get(k).unwrap_or(0), o_addr.get(k).map(str::to_string), o_val.get(k).unwrap_or(0)));
        }
    }
    // Each input to its transaction (one whose outputs are not loaded has nowhere to go: skipped).
    let at: HashMap<String, usize> = txs.iter().enumerate().map(|(n, t)| (t.hash.clone(), n)).collect();
    for k in 0..inputs.height() {
        let Some(&n) = at.get(i_hash.get(k).unwrap_or_default()) else { continue };
        let v = i_v.get(k);
        txs[n].inputs.push(((i_spent.get(k).unwrap_or_default().to_string(), i_vout.get(k).unwrap_or(0)), v.unwrap_or(0)));
    }
    Ok(in_spending_order(txs))
}

/// Within a block, a transaction after any transaction of the same block whose output it spends
/// (exports without each transaction's position in its block list them by id), otherwise in the
/// order given.
fn in_spending_order(txs: Vec<LakeTx>) -> Vec<LakeTx> {
    let mut out = Vec::with_capacity(txs.len());
    let mut rest = txs.into_iter().peekable();
    while let Some(first) = rest.next() {
        let mut block = vec![first];
        while rest.peek().is_some_and(|t| t.block == block[0].block) {
            block.extend(rest.next());
        }
        let mut placed: std::collections::HashSet<String> = std::collections::HashSet::new();
        let here: std::collections::HashSet<String> = block.iter().map(|t| t.hash.clone()).collect();
        let mut pending: VecDeque<LakeTx> = block.into();
        let mut stalled = 0;
        while let Some(t) = pending.pop_front() {
            let waits = t.inputs.iter().any(|((h, _), _)| here.contains(h) && !placed.contains(h) && *h != t.hash);
            if waits && stalled <= pending.len() {
                stalled += 1;
                pending.push_back(t);
                continue;
            }
            stalled = 0;
            placed.insert(t.hash.clone());
            out.push(t);
        }
    }
    out
}

/// Taint on one outpoint: per seed (poison and haircut), or the value's lots in order (fifo).
#[derive(Debug, Clone)]
enum Taint {
    /// (seed, tainted satoshi), sorted by seed.
    Share(Vec<(usize, f64)>),
    /// (satoshi, seed or None for clean), in order.
    Lots(VecDeque<(f64, Option<usize>)>),
}

/// Taint that reached a destination: satoshi, and the first and last arrival (block time, µs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrived {
    pub amount: f64,
    pub first: i64,
    pub last: i64,
}

/// Where taint ended: (seed, address — `fee`, or the coinjoin's transaction —, category).
pub type Destinations = BTreeMap<(usize, String, String), Arrived>;

/// A coinjoin the tracer stopped at: the transaction and the heuristic that named it.
#[derive(Debug, Clone, PartialEq)]
pub struct Coinjoin {
    pub tx: String,
    pub heuristic: &'static str,
}

/// The one-pass UTXO tracer for one method.
pub struct UtxoTracer {
    pub method: Method,
    /// Tainted unspent outputs: value, the address paid, taint.
    taint: HashMap<Outpoint, (i64, Option<String>, Taint)>,
    pub arrived: Destinations,
    pub coinjoins: Vec<Coinjoin>,
    /// What the last transaction applied carried to services where tracing stops (not coinjoins,
    /// not the fee): (seed, address, category, satoshi) — what a cross-chain link's deposit moves.
    pub stopped: Vec<(usize, String, String, f64)>,
}

/// Whirlpool's pool denominations (0.001, 0.01, 0.05, 0.5 BTC) in satoshi.
const WHIRLPOOL_POOLS: [i64; 4] = [100_000, 1_000_000, 5_000_000, 50_000_000];

/// Whether a transaction is a coinjoin, by the first heuristic that matches (None: not one):
/// - `whirlpool`: 5 inputs and 5 outputs of one Whirlpool pool denomination;
/// - `wasabi`: at least 10 inputs and at least 10 outputs of one value (Wasabi's equal-valued mix);
/// - `joinmarket`: n >= 3 outputs of one value, at most 2n outputs (one change each at most) and at
///   least n inputs (each participant brings one at least).
pub fn coinjoin(tx: &UtxoTx<'_>) -> Option<&'static str> {
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for (_, v) in &tx.outputs {
        if *v > 0 {
            *counts.entry(*v).or_default() += 1;
        }
    }
    let (&value, &equal) = counts.iter().max_by_key(|(v, n)| (**n, **v))?;
    let (ins, outs) = (tx.inputs.len(), tx.outputs.len());
    if ins == 5 && outs == 5 && equal == 5 && WHIRLPOOL_POOLS.contains(&value) {
        Some("whirlpool")
    } else if ins >= 10 && equal >= 10 {
        Some("wasabi")
    } else if equal >= 3 && outs <= 2 * equal && ins >= equal {
        Some("joinmarket")
    } else {
        None
    }
}

impl UtxoTracer {
    pub fn new(method: Method) -> UtxoTracer {
        UtxoTracer { method, taint: HashMap::default(), arrived: BTreeMap::new(), coinjoins: Vec::new(), stopped: Vec::new() }
    }

    /// Taint `amount` satoshi of an output worth `value` for `seed` (a theft's output, a sanctioned
    /// address's receipt). Fifo puts the tainted part first.
    /// Taint added to an output already seeded adds up (several senders' flows into one output),
    /// never beyond the output's value.
    pub fn seed(&mut self, outpoint: Outpoint, address: Option<&str>, value: i64, seed: usize, amount: f64) {
        let mut per_seed: BTreeMap<usize, f64> = match self.taint.get(&outpoint) {
            Some((_, _, t)) => tainted(t).into_iter().collect(),
            None => BTreeMap::new(),
        };
        let room = (value as f64 - per_seed.values().sum::<f64>()).max(0.0);
        *per_seed.entry(seed).or_default() += amount.min(room);
        let t = match self.method {
            Method::Fifo => {
                let mut lots: VecDeque<(f64, Option<usize>)> = per_seed.iter().map(|(s, a)| (*a, Some(*s))).collect();
                let clean = value as f64 - per_seed.values().sum::<f64>();
                if clean > 0.0 {
                    lots.push_back((clean, None));
                }
                Taint::Lots(lots)
            }
            _ => Taint::Share(per_seed.into_iter().collect()),
        };
        self.taint.insert(outpoint, (value, address.map(str::to_string), t));
    }

    fn arrive(&mut self, seed: usize, address: String, category: String, amount: f64, time: i64) {
        let a = self.arrived.entry((seed, address, category)).or_insert(Arrived { amount: 0.0, first: time, last: time });
        a.amount += amount;
        a.first = a.first.min(time);
        a.last = a.last.max(time);
    }

    /// Process one transaction (transactions in chain order), at block time `time` (µs). `stop`
    /// gives an output address's category when tracing stops there.
    pub fn apply(&mut self, tx: &UtxoTx<'_>, time: i64, stop: &dyn Fn(&str) -> Option<String>) {
        self.stopped.clear();
        // The inputs' taint, in input order (spent: removed); nothing to do when none is tainted.
        let spent: Vec<Option<(i64, Option<String>, Taint)>> = tx.inputs.iter().map(|(op, _)| self.taint.remove(op)).collect();
        if spent.iter().all(Option::is_none) {
            return;
        }
        if let Some(heuristic) = coinjoin(tx) {
            self.coinjoins.push(Coinjoin { tx: tx.hash.to_string(), heuristic });
            let category = format!("mixer (coinjoin: {heuristic})");
            for t in spent.iter().flatten() {
                for (seed, amount) in tainted(&t.2) {
                    self.arrive(seed, tx.hash.to_string(), category.clone(), amount, time);
                }
            }
            return;
        }
        let fee = tx.fee();
        // Each output's taint, then the fee's (None: clean).
        let mut out: Vec<Taint> = Vec::with_capacity(tx.outputs.len() + 1);
        match self.method {
            Method::Poison => {
                let mut seeds: Vec<usize> = spent.iter().flatten().flat_map(|t| tainted(&t.2).into_iter().map(|(s, _)| s)).collect();
                seeds.sort_unstable();
                seeds.dedup();
                for v in tx.outputs.iter().map(|(_, v)| *v).chain([fee]) {
                    out.push(Taint::Share(seeds.iter().map(|s| (*s, v as f64)).collect()));
                }
            }
            Method::Haircut => {
                // The inputs' total; when some inputs' values are unknown (their outputs not loaded)
                // the outputs' total bounds it from below, so the shares never exceed the whole.
                let total: i64 = tx.inputs.iter().map(|(_, v)| v).sum::<i64>().max(tx.outputs.iter().map(|(_, v)| v).sum());
                let mut per_seed: BTreeMap<usize, f64> = BTreeMap::new();
                for t in spent.iter().flatten() {
                    for (s, a) in tainted(&t.2) {
                        *per_seed.entry(s).or_default() += a;
                    }
                }
                for v in tx.outputs.iter().map(|(_, v)| *v).chain([fee]) {
                    let share = if total > 0 { v as f64 / total as f64 } else { 0.0 };
                    out.push(Taint::Share(per_seed.iter().map(|(s, a)| (*s, a * share)).collect()));
                }
            }
            Method::Fifo => {
                // The inputs' lots in input order; a clean input is one clean lot.
                let mut lots: VecDeque<(f64, Option<usize>)> = VecDeque::new();
                for ((_, value), t) in tx.inputs.iter().zip(&spent) {
                    match t {
                        Some((_, _, Taint::Lots(l))) => lots.extend(l.iter().copied()),
                        _ => lots.push_back((*value as f64, None)),
                    }
                }
                for v in tx.outputs.iter().map(|(_, v)| *v).chain([fee]) {
                    let mut want = v as f64;
                    let mut got = VecDeque::new();
                    while want > 0.0 {
                        let Some((amount, seed)) = lots.pop_front() else { break };
                        if amount <= want {
                            got.push_back((amount, seed));
                            want -= amount;
                        } else {
                            got.push_back((want, seed));
                            lots.push_front((amount - want, seed));
                            want = 0.0;
                        }
                    }
                    out.push(Taint::Lots(got));
                }
            }
        }
        let fee_taint = out.pop();
        for (k, ((address, value), t)) in tx.outputs.iter().zip(out).enumerate() {
            let vout = tx.vouts.get(k).copied().unwrap_or(k as i64);
            let amounts = tainted(&t);
            if amounts.is_empty() {
                continue;
            }
            match address.and_then(|a| stop(a).map(|c| (a, c))) {
                Some((a, category)) => {
                    for (seed, amount) in amounts {
                        self.arrive(seed, a.to_string(), category.clone(), amount, time);
                        self.stopped.push((seed, a.to_string(), category.clone(), amount));
                    }
                }
                None => {
                    self.taint.insert((tx.hash.to_string(), vout), (*value, address.map(str::to_string), t));
                }
            }
        }
        if let Some(t) = fee_taint {
            for (seed, amount) in tainted(&t) {
                self.arrive(seed, "fee".to_string(), "fee".to_string(), amount, time);
            }
        }
    }

    /// Taint that left a service through a cross-chain link: `amount` satoshi of `seed`'s arrival
    /// at (`address`, `category`) is no longer there.
    pub fn cross(&mut self, seed: usize, address: &str, category: &str, amount: f64) {
        let key = (seed, address.to_string(), category.to_string());
        if let Some(a) = self.arrived.get_mut(&key) {
            a.amount -= amount.min(a.amount);
            if a.amount <= amount.abs() * 1e-12 {
                self.arrived.remove(&key);
            }
        }
    }

    /// Taint still on unspent outputs: (seed, outpoint) -> (address paid, satoshi).
    pub fn held(&self) -> BTreeMap<(usize, Outpoint), (Option<String>, f64)> {
        let mut out = BTreeMap::new();
        for (op, (_, address, t)) in &self.taint {
            for (seed, amount) in tainted(t) {
                out.entry((seed, op.clone())).or_insert((address.clone(), 0.0)).1 += amount;
            }
        }
        out
    }
}

/// The tainted satoshi per seed of an outpoint's taint (zero amounts left out).
fn tainted(t: &Taint) -> Vec<(usize, f64)> {
    let mut per: BTreeMap<usize, f64> = BTreeMap::new();
    match t {
        Taint::Share(v) => {
            for (s, a) in v {
                *per.entry(*s).or_default() += a;
            }
        }
        Taint::Lots(l) => {
            for (a, s) in l {
                if let Some(s) = s {
                    *per.entry(*s).or_default() += a;
                }
            }
        }
    }
    per.into_iter().filter(|(_, a)| *a > 0.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BTC: i64 = 100_000_000;

    fn op(tx: &str, vout: i64) -> Outpoint {
        (tx.to_string(), vout)
    }

    /// The worked example of the module documentation, then Q pays an exchange and P goes into a
    /// JoinMarket-style coinjoin:
    /// - tx1: S:0 (10 BTC, stolen) + X:0 (30 clean) -> P 15, Q 24.9 (fee 0.1)
    /// - tx2: tx1:1 (Q 24.9) -> EX 24.8 (an exchange; fee 0.1)
    /// - tx3: tx1:0 (P 15) + Y:0 (10) + Z:0 (10) -> 8, 8, 8 (equal), 7, 11.9 (fee 0.1): 3 equal
    ///   outputs, 5 outputs <= 6, 3 inputs >= 3: a coinjoin.
    fn run(method: Method) -> UtxoTracer {
        let mut t = UtxoTracer::new(method);
        t.seed(op("S", 0), Some("V"), 10 * BTC, 0, (10 * BTC) as f64);
        let stop = |a: &str| (a == "EX").then(|| "exchange".to_string());
        let tx1 = UtxoTx {
            hash: "tx1",
            inputs: vec![(op("S", 0), 10 * BTC), (op("X", 0), 30 * BTC)],
            outputs: vec![(Some("P"), 15 * BTC), (Some("Q"), 2_490_000_000)],
            vouts: vec![],
        };
        let tx2 =
            UtxoTx { hash: "tx2", inputs: vec![(op("tx1", 1), 2_490_000_000)], outputs: vec![(Some("EX"), 2_480_000_000)], vouts: vec![] };
        let tx3 = UtxoTx {
            hash: "tx3",
            inputs: vec![(op("tx1", 0), 15 * BTC), (op("Y", 0), 10 * BTC), (op("Z", 0), 10 * BTC)],
            outputs: vec![
                (Some("A"), 8 * BTC),
                (Some("B"), 8 * BTC),
                (Some("C"), 8 * BTC),
                (Some("D"), 7 * BTC),
                (Some("E"), 1_190_000_000),
            ],
            vouts: vec![],
        };
        for (n, tx) in [&tx1, &tx2, &tx3].into_iter().enumerate() {
            t.apply(tx, n as i64, &stop);
        }
        t
    }

    fn arrived(t: &UtxoTracer) -> Vec<(String, String, f64)> {
        t.arrived.iter().map(|((_, a, c), v)| (a.clone(), c.clone(), v.amount / BTC as f64)).collect()
    }

    fn close(got: Vec<(String, String, f64)>, want: &[(&str, &str, f64)]) {
        assert_eq!(got.len(), want.len(), "{got:?}");
        for ((a, c, v), (wa, wc, wv)) in got.iter().zip(want) {
            assert_eq!((a.as_str(), c.as_str()), (*wa, *wc), "{got:?}");
            assert!((v - wv).abs() < 1e-9, "{a}: {v} BTC, want {wv}");
        }
    }

    #[test]
    fn poison_taints_every_output_and_the_fee_in_full() {
        let t = run(Method::Poison);
        // tx2: the exchange gets Q's 24.8 in full, the fee 0.1; tx1's fee 0.1; tx3: P's 15 into
        // the coinjoin.
        close(arrived(&t), &[("EX", "exchange", 24.8), ("fee", "fee", 0.2), ("tx3", "mixer (coinjoin: joinmarket)", 15.0)]);
        assert_eq!(t.coinjoins, [Coinjoin { tx: "tx3".into(), heuristic: "joinmarket" }]);
        assert!(t.held().is_empty());
    }

    #[test]
    fn haircut_passes_the_tainted_share_of_the_inputs_total() {
        let t = run(Method::Haircut);
        // tx1: a quarter tainted (10 of 40): P 3.75, Q 6.225, fee 0.025. tx2: Q's quarter of 24.8
        // = 6.2 to the exchange, 0.025 of its fee. tx3: P's 3.75 into the coinjoin.
        close(arrived(&t), &[("EX", "exchange", 6.2), ("fee", "fee", 0.05), ("tx3", "mixer (coinjoin: joinmarket)", 3.75)]);
        // Conservation: every stolen satoshi ends somewhere.
        let total: f64 = t.arrived.values().map(|a| a.amount).sum::<f64>() + t.held().values().map(|h| h.1).sum::<f64>();
        assert!((total - (10 * BTC) as f64).abs() < 1e-3);
    }

    #[test]
    fn fifo_lays_out_inputs_in_order_and_outputs_take_in_order_the_fee_last() {
        let t = run(Method::Fifo);
        // tx1: lots [10 stolen, 30 clean]: P takes the 10 stolen and 5 clean; Q and the fee are
        // clean, so nothing reaches the exchange. tx3: P's 10 stolen go into the coinjoin.
        close(arrived(&t), &[("tx3", "mixer (coinjoin: joinmarket)", 10.0)]);
    }

    #[test]
    fn fifo_fee_comes_last_and_untraced_outputs_are_held() {
        // 1 BTC stolen after 2 clean: outputs 2.5 then 0.4, fee 0.1 -> the first output takes the
        // 2 clean and 0.5 stolen, the second 0.4 stolen, the fee the last 0.1 stolen.
        let mut t = UtxoTracer::new(Method::Fifo);
        t.seed(op("S", 0), Some("V"), BTC, 0, BTC as f64);
        let tx = UtxoTx {
            hash: "t",
            inputs: vec![(op("C", 0), 2 * BTC), (op("S", 0), BTC)],
            outputs: vec![(Some("P"), 250_000_000), (Some("Q"), 40_000_000)],
            vouts: vec![],
        };
        t.apply(&tx, 0, &|_| None);
        let held: Vec<(i64, f64)> = t.held().iter().map(|((_, (_, vout)), (_, v))| (*vout, v / BTC as f64)).collect();
        assert_eq!(held.len(), 2);
        assert!((held[0].1 - 0.5).abs() < 1e-12 && held[0].0 == 0, "{held:?}");
        assert!((held[1].1 - 0.4).abs() < 1e-12 && held[1].0 == 1, "{held:?}");
        close(arrived(&t), &[("fee", "fee", 0.1)]);
    }

    /// Two senders' flows into one output add up (the seeds were overwritten before); taint
    /// lands on the output's real index; haircut never passes more than the outputs carry when
    /// an input's value is unknown (counted 0).
    #[test]
    fn seeds_add_up_real_vouts_key_taint_and_unknown_inputs_do_not_inflate_haircut() {
        let mut t = UtxoTracer::new(Method::Haircut);
        t.seed(op("T", 0), Some("thief"), 39 * BTC / 10, 0, 2.925 * BTC as f64);
        t.seed(op("T", 0), Some("thief"), 39 * BTC / 10, 0, 0.975 * BTC as f64);
        let held: f64 = t.held().values().map(|h| h.1).sum();
        assert!((held - 3.9 * BTC as f64).abs() < 1e-3, "{held}");
        // T:0 (3.9, tainted) and an unknown input (value 0) pay 5 BTC at vout 7: all of the 3.9
        // tainted goes on, and no more.
        let tx = UtxoTx {
            hash: "u",
            inputs: vec![(op("T", 0), 39 * BTC / 10), (op("?", 0), 0)],
            outputs: vec![(Some("X"), 5 * BTC)],
            vouts: vec![7],
        };
        t.apply(&tx, 0, &|_| None);
        let held = t.held();
        assert_eq!(held.len(), 1);
        let ((_, outpoint), (_, sat)) = held.iter().next().unwrap();
        assert_eq!(*outpoint, op("u", 7), "keyed by the output's own index");
        assert!((sat - 3.9 * BTC as f64).abs() < 1e-3, "{held:?}");
    }

    #[test]
    fn coinjoin_heuristics_are_named() {
        let tx = |ins: usize, outs: &[i64]| UtxoTx {
            hash: "t",
            inputs: (0..ins).map(|i| (op("i", i as i64), 1)).collect(),
            outputs: outs.iter().map(|v| (None, *v)).collect(),
            vouts: vec![],
        };
        assert_eq!(coinjoin(&tx(5, &[5_000_000; 5])), Some("whirlpool"));
        assert_eq!(coinjoin(&tx(5, &[4_000_000; 5])), Some("joinmarket"), "not a pool denomination");
        assert_eq!(coinjoin(&tx(12, &[10_000_000; 11])), Some("wasabi"));
        assert_eq!(coinjoin(&tx(3, &[8, 8, 8, 7, 11])), Some("joinmarket"));
        assert_eq!(coinjoin(&tx(2, &[8, 8, 8])), None, "fewer inputs than equal outputs: a payment batch");
        assert_eq!(coinjoin(&tx(3, &[8, 8, 8, 1, 2, 3, 4])), None, "more than one change per participant");
        assert_eq!(coinjoin(&tx(1, &[5, 7])), None);
    }
}
