//! Tracing illicit funds on account-based chains: one pass over transfers in chain order, with
//! state only for the (address, asset) accounts that hold taint.
//!
//! Methods (textbook meanings applied to accounts):
//! - **poison**: every outgoing transfer of an account that has received taint is tainted in full
//!   (an upper bound: the same value can be counted more than once);
//! - **haircut**: an outgoing transfer carries the account's tainted share at that moment
//!   (tainted balance ÷ balance);
//! - **fifo**: value leaves an account in the order it arrived.
//!
//! An account is tracked from the moment it first receives taint; what it held before is unknown.
//! When a tracked account sends more than its tracked balance (value it held before tracking, or a
//! gap in the export), the difference is taken to be clean value that was already there: it is
//! added to the balance as clean, before the transfer, and counted in `gaps`. Taint stops at
//! services (receivers whose category is a stopping category): it is recorded as arrived there. An
//! account reached after `max_hops` hops keeps its taint (recorded as still held).

use std::collections::{BTreeMap, VecDeque};

use smallvec::SmallVec;

// foldhash-backed maps: every transfer looks up addresses and hashes several times, and SipHash
// (std's default) was a visible share of a trace. Iteration order is never relied on.
use polars::prelude::{PlHashMap as HashMap, PlHashSet as HashSet};

/// How taint moves through an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Poison,
    Haircut,
    Fifo,
}

impl Method {
    pub const ALL: [Method; 3] = [Method::Poison, Method::Haircut, Method::Fifo];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Poison => "poison",
            Method::Haircut => "haircut",
            Method::Fifo => "fifo",
        }
    }
}

/// One transfer as the tracer sees it. Amounts are in the asset's raw units.
#[derive(Debug, Clone)]
pub struct Move<'a> {
    /// Microseconds since the epoch (block time).
    pub time: i64,
    pub from: &'a str,
    pub to: &'a str,
    pub asset: &'a str,
    pub amount: f64,
    /// Set when this transfer is itself an illicit event: its value becomes the seed's taint at the receiver.
    pub seed: Option<usize>,
    /// The receiver's category when it is a service where tracing stops (exchange, mixer, bridge …).
    pub stop: Option<&'a str>,
}

/// Taint that reached a service.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    pub seed: usize,
    pub address: String,
    pub category: String,
    pub asset: String,
    pub amount: f64,
    pub hops: u32,
    pub first: i64,
    pub last: i64,
}

/// An address as a map key, hashed once per transfer and shared by every tracer of a walk (each
/// map then hashes only the 64-bit hash). An address of 42 bytes (an EVM address: `0x` and 40 hex
/// digits) is kept in place, so a lookup compares it without following a pointer; anything else is
/// kept as text. Lookups of tracked accounts are most of a trace's own work.
#[derive(Debug, Clone)]
struct AddrKey {
    hash: u64,
    addr: Addr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Addr {
    Inline([u8; 42]),
    Other(Box<str>),
}

impl PartialEq for AddrKey {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.addr == other.addr
    }
}

impl Eq for AddrKey {}

impl std::hash::Hash for AddrKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl AddrKey {
    fn of(s: &str) -> AddrKey {
        use std::hash::BuildHasher;
        let hash = polars_utils::aliases::PlFixedStateQuality::default().hash_one(s.as_bytes());
        let addr = match <[u8; 42]>::try_from(s.as_bytes()) {
            Ok(b) => Addr::Inline(b),
            Err(_) => Addr::Other(s.into()),
        };
        AddrKey { hash, addr }
    }

    /// The address as it was given.
    fn text(&self) -> String {
        match &self.addr {
            Addr::Inline(b) => String::from_utf8_lossy(b).into_owned(),
            Addr::Other(s) => s.to_string(),
        }
    }
}

#[derive(Debug, Default)]
struct Account {
    balance: f64,
    /// Tainted amount per seed, sorted by seed (haircut and poison; poison keeps it as a marker).
    /// Usually one seed, kept in place.
    tainted: SmallVec<[(usize, f64); 1]>,
    /// FIFO lots (fifo only): (amount, seed or None for clean).
    lots: VecDeque<(f64, Option<usize>)>,
    hop: u32,
}

/// The one-pass tracer for one method.
pub struct Tracer {
    pub method: Method,
    pub max_hops: u32,
    /// Accounts that received taint: address -> [(asset number, account)] (usually one asset).
    /// Every other address costs one failed lookup.
    accounts: HashMap<AddrKey, SmallVec<[(u32, Account); 1]>>,
    /// Assets by number (a handful: found by a linear search).
    assets: Vec<Box<str>>,
    /// (seed, address, asset number) -> taint that arrived there.
    arrivals: HashMap<(usize, AddrKey, u32), Arrival>,
    /// Seed amounts per (seed, asset).
    pub seeded: BTreeMap<(usize, String), f64>,
    /// Outgoing transfers larger than the tracked balance (handled as prior clean value).
    pub gaps: u64,
    /// The taint one transfer carries, per seed in seed order (reused between transfers).
    carried: Vec<(usize, f64)>,
}

const EPS: f64 = 1e-9;

impl Tracer {
    pub fn new(method: Method, max_hops: u32) -> Tracer {
        Tracer {
            method,
            max_hops,
            accounts: HashMap::default(),
            assets: Vec::new(),
            arrivals: HashMap::default(),
            seeded: BTreeMap::new(),
            gaps: 0,
            carried: Vec::new(),
        }
    }

    /// Accounts that hold state (they have received taint).
    pub fn tracked(&self) -> usize {
        self.accounts.values().map(|a| a.len()).sum()
    }

    fn asset_id(&mut self, asset: &str) -> u32 {
        match self.assets.iter().position(|a| &**a == asset) {
            Some(i) => i as u32,
            None => {
                self.assets.push(asset.into());
                (self.assets.len() - 1) as u32
            }
        }
    }

    /// A tracked account, without creating one.
    fn account<'m>(
        accounts: &'m mut HashMap<AddrKey, SmallVec<[(u32, Account); 1]>>,
        address: &AddrKey,
        asset: u32,
    ) -> Option<&'m mut Account> {
        accounts.get_mut(address)?.iter_mut().find(|(a, _)| *a == asset).map(|(_, acc)| acc)
    }

    /// Process one transfer; transfers must come in chain order.
    pub fn apply(&mut self, m: &Move<'_>) {
        self.apply_keyed(m, &AddrKey::of(m.from), &AddrKey::of(m.to));
    }

    /// `apply`, with the sender's and receiver's keys made once for all tracers.
    fn apply_keyed(&mut self, m: &Move<'_>, from: &AddrKey, to: &AddrKey) {
        let mut carried = std::mem::take(&mut self.carried);
        carried.clear();
        self.carry(m, from, to, &mut carried);
        self.carried = carried;
    }

    fn carry(&mut self, m: &Move<'_>, from: &AddrKey, to: &AddrKey, carried: &mut Vec<(usize, f64)>) {
        let (method, max_hops) = (self.method, self.max_hops);
        let fifo = method == Method::Fifo;
        let mut hop = 0;
        let asset = self.asset_id(m.asset);
        if let Some(seed) = m.seed {
            *self.seeded.entry((seed, m.asset.to_string())).or_default() += m.amount;
            carried.push((seed, m.amount));
        } else if let Some(acc) = Self::account(&mut self.accounts, from, asset) {
            if acc.hop >= max_hops {
                // At the hop limit: the taint stays here (still held); only the balance moves.
                acc.balance -= m.amount;
                return;
            }
            if m.amount > acc.balance + EPS * m.amount.max(1.0) {
                self.gaps += 1;
                let missing = m.amount - acc.balance;
                acc.balance = m.amount;
                // Prior clean value: it was there before anything tracked arrived.
                if fifo {
                    acc.lots.push_front((missing, None));
                }
            }
            hop = acc.hop + 1;
            match method {
                Method::Poison => {
                    for &(s, t) in &acc.tainted {
                        if t > 0.0 {
                            carried.push((s, m.amount));
                        }
                    }
                }
                Method::Haircut => {
                    let balance = acc.balance;
                    for (s, t) in acc.tainted.iter_mut() {
                        let out = if balance > 0.0 { m.amount * (*t / balance) } else { 0.0 };
                        let out = out.min(*t);
                        *t -= out;
                        if out > 0.0 {
                            carried.push((*s, out));
                        }
                    }
                }
                Method::Fifo => {
                    let mut need = m.amount;
                    while need > 0.0 {
                        let Some(front) = acc.lots.front_mut() else { break };
                        let take = front.0.min(need);
                        if let Some(s) = front.1 {
                            match carried.iter_mut().find(|c| c.0 == s) {
                                Some(c) => c.1 += take,
                                None => carried.push((s, take)),
                            }
                        }
                        front.0 -= take;
                        need -= take;
                        if front.0 <= EPS * take.max(1.0) {
                            acc.lots.pop_front();
                        }
                    }
                    carried.sort_unstable_by_key(|c| c.0);
                }
            }
            acc.balance -= m.amount;
        }

        if carried.is_empty() {
            // Clean value (from an untracked sender, or a tracked one whose share is clean): it
            // matters only to a tracked receiver's balance.
            if let Some(acc) = Self::account(&mut self.accounts, to, asset) {
                acc.balance += m.amount;
                if fifo {
                    acc.lots.push_back((m.amount, None));
                }
            }
            return;
        }
        if let Some(category) = m.stop {
            for &(s, amount) in carried.iter() {
                let a = self.arrivals.entry((s, to.clone(), asset)).or_insert_with(|| Arrival {
                    seed: s,
                    address: m.to.to_string(),
                    category: category.to_string(),
                    asset: m.asset.to_string(),
                    amount: 0.0,
                    hops: hop,
                    first: m.time,
                    last: m.time,
                });
                a.amount += amount;
                a.hops = a.hops.min(hop);
                a.last = m.time;
            }
            return;
        }
        let held = self.accounts.entry(to.clone()).or_default();
        let i = match held.iter().position(|(a, _)| *a == asset) {
            Some(i) => i,
            None => {
                held.push((asset, Account { hop, ..Account::default() }));
                held.len() - 1
            }
        };
        let acc = &mut held[i].1;
        acc.hop = acc.hop.min(hop);
        acc.balance += m.amount;
        let mut tainted_total = 0.0;
        for &(s, amount) in carried.iter() {
            match acc.tainted.binary_search_by_key(&s, |t| t.0) {
                Ok(i) => acc.tainted[i].1 += amount,
                Err(i) => acc.tainted.insert(i, (s, amount)),
            }
            if fifo {
                acc.lots.push_back((amount, Some(s)));
            }
            tainted_total += amount;
        }
        if fifo && m.amount - tainted_total > EPS * m.amount.max(1.0) {
            acc.lots.push_back((m.amount - tainted_total, None));
        }
    }

    /// Taint that reached services, by seed, address and asset.
    pub fn arrivals(&self) -> impl Iterator<Item = &Arrival> {
        let mut all: Vec<&Arrival> = self.arrivals.values().collect();
        all.sort_by(|a, b| (a.seed, &a.address, &a.asset).cmp(&(b.seed, &b.address, &b.asset)));
        all.into_iter()
    }

    /// Taint still held, per (seed, address, asset), with the account's hop count.
    pub fn held(&self) -> Vec<(usize, String, String, f64, u32)> {
        let mut out = Vec::new();
        for (key, acc, asset) in self.accounts.iter().flat_map(|(k, v)| v.iter().map(move |(asset, acc)| (k, acc, asset))) {
            let (addr, asset) = (key.text(), &self.assets[*asset as usize]);
            match self.method {
                Method::Fifo => {
                    let mut by_seed: BTreeMap<usize, f64> = BTreeMap::new();
                    for (amount, s) in &acc.lots {
                        if let Some(s) = s {
                            *by_seed.entry(*s).or_default() += amount;
                        }
                    }
                    for (s, a) in by_seed {
                        if a > 0.0 {
                            out.push((s, addr.clone(), asset.to_string(), a, acc.hop));
                        }
                    }
                }
                // Poison: whatever a poisoned account still holds is tainted in full.
                Method::Poison => {
                    for &(s, t) in &acc.tainted {
                        if t > 0.0 && acc.balance > 0.0 {
                            out.push((s, addr.clone(), asset.to_string(), acc.balance, acc.hop));
                        }
                    }
                }
                Method::Haircut => {
                    for &(s, t) in &acc.tainted {
                        if t > 0.0 {
                            out.push((s, addr.clone(), asset.to_string(), t, acc.hop));
                        }
                    }
                }
            }
        }
        out.sort_by(|a, b| (a.0, &a.1, &a.2).cmp(&(b.0, &b.1, &b.2)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn mv<'a>(from: &'a str, to: &'a str, asset: &'a str, amount: f64, seed: Option<usize>, stop: Option<&'a str>) -> Move<'a> {
        Move { time: 0, from, to, asset, amount, seed, stop }
    }

    fn run(method: Method, moves: &[Move<'_>]) -> Tracer {
        let mut t = Tracer::new(method, 10);
        for m in moves {
            t.apply(m);
        }
        t
    }

    fn arrived(t: &Tracer, to: &str) -> f64 {
        t.arrivals().filter(|a| a.address == to).map(|a| a.amount).sum()
    }

    /// The worked example: receive 3 stolen, then 7 clean, then send 4.
    #[test]
    fn worked_example() {
        let moves = [
            mv("victim", "acct", "ETH", 3.0, Some(0), None),
            mv("someone", "acct", "ETH", 7.0, None, None),
            mv("acct", "exchange", "ETH", 4.0, None, Some("exchange")),
        ];
        assert_eq!(arrived(&run(Method::Poison, &moves), "exchange"), 4.0);
        assert!((arrived(&run(Method::Haircut, &moves), "exchange") - 1.2).abs() < 1e-12);
        assert_eq!(arrived(&run(Method::Fifo, &moves), "exchange"), 3.0);
        // Conservation: haircut keeps 1.8 tainted at the account; FIFO none.
        let h = run(Method::Haircut, &moves).held();
        assert!((h[0].3 - 1.8).abs() < 1e-12);
        assert!(run(Method::Fifo, &moves).held().is_empty());
    }

    #[test]
    fn two_assets_are_separate_accounts() {
        let moves = [
            mv("victim", "acct", "ETH", 3.0, Some(0), None),
            mv("someone", "acct", "USDC", 7.0, None, None),
            mv("acct", "exchange", "USDC", 4.0, None, Some("exchange")),
            mv("acct", "exchange", "ETH", 2.0, None, Some("exchange")),
        ];
        for m in Method::ALL {
            let t = run(m, &moves);
            // USDC was never tainted: only the 2 ETH arrive.
            assert_eq!(t.arrivals().map(|a| (a.asset.as_str(), a.amount)).collect::<Vec<_>>(), [("ETH", 2.0)], "{m:?}");
        }
    }

    #[test]
    fn multi_hop() {
        let moves = [
            mv("victim", "a", "ETH", 10.0, Some(0), None),
            mv("a", "b", "ETH", 6.0, None, None),
            mv("clean", "b", "ETH", 6.0, None, None),
            mv("b", "c", "ETH", 4.0, None, None),
            mv("c", "mixer", "ETH", 4.0, None, Some("mixer")),
        ];
        let hc = run(Method::Haircut, &moves);
        assert!((arrived(&hc, "mixer") - 2.0).abs() < 1e-12); // b is half tainted
        assert_eq!(hc.arrivals().next().unwrap().hops, 3);
        assert_eq!(arrived(&run(Method::Fifo, &moves), "mixer"), 4.0); // the first 6 into b were tainted
        assert_eq!(arrived(&run(Method::Poison, &moves), "mixer"), 4.0);
        // The hop limit keeps taint where it is.
        let mut t = Tracer::new(Method::Haircut, 1);
        for m in &moves {
            t.apply(m);
        }
        assert_eq!(arrived(&t, "mixer"), 0.0);
        let held: f64 = t.held().iter().map(|h| h.3).sum();
        assert!((held - 10.0).abs() < 1e-9, "{held}");
    }

    #[test]
    fn sending_more_than_the_tracked_balance_is_a_counted_gap() {
        let moves = [mv("victim", "a", "ETH", 1.0, Some(0), None), mv("a", "exchange", "ETH", 5.0, None, Some("exchange"))];
        let t = run(Method::Haircut, &moves);
        assert_eq!(t.gaps, 1);
        // The 4 missing are prior clean value: haircut share 1/5 of 5 = 1; all the taint arrives.
        assert!((arrived(&t, "exchange") - 1.0).abs() < 1e-12);
        let f = run(Method::Fifo, &moves);
        assert!((arrived(&f, "exchange") - 1.0).abs() < 1e-12);
    }

    /// Addresses are map keys kept in place (EVM) or as text (anything else): both come back as given.
    #[test]
    fn addresses_come_back_as_given() {
        let evm = "0x00000000000000000000000000000000000000aA";
        let moves = [
            mv("victim", evm, "ETH", 3.0, Some(0), None),
            mv(evm, "bc1qshort", "ETH", 1.0, None, None),
            mv(evm, "ex", "ETH", 1.0, None, Some("exchange")),
        ];
        let t = run(Method::Haircut, &moves);
        let held: Vec<(String, f64)> = t.held().into_iter().map(|h| (h.1, h.3)).collect();
        assert_eq!(held, [("0x00000000000000000000000000000000000000aA".to_string(), 1.0), ("bc1qshort".to_string(), 1.0)]);
        assert_eq!(t.arrivals().map(|a| a.address.as_str()).collect::<Vec<_>>(), ["ex"]);
        assert_eq!(t.tracked(), 2);
    }

    /// Property tests over random transfer graphs.
    #[test]
    fn properties_on_random_graphs() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
        for case in 0..300 {
            let n_addr = rng.random_range(3..12);
            let addrs: Vec<String> = (0..n_addr).map(|i| format!("a{i}")).collect();
            let services = ["ex1", "ex2", "mix"];
            let only_tainted = case % 3 == 0;
            type Owned<'a> = (String, String, f64, Option<usize>, Option<&'a str>);
            let mut owned: Vec<Owned<'_>> = Vec::new();
            let mut bal = vec![0.0f64; n_addr];
            for _ in 0..rng.random_range(5..60) {
                let r = rng.random::<f64>();
                if r < 0.15 {
                    let to = rng.random_range(0..n_addr);
                    let amt = rng.random_range(1.0..100.0);
                    bal[to] += amt;
                    owned.push(("victim".into(), addrs[to].clone(), amt, Some(rng.random_range(0..2)), None));
                } else if r < 0.35 && !only_tainted {
                    let to = rng.random_range(0..n_addr);
                    let amt = rng.random_range(1.0..100.0);
                    bal[to] += amt;
                    owned.push(("outside".into(), addrs[to].clone(), amt, None, None));
                } else {
                    let from = rng.random_range(0..n_addr);
                    if bal[from] <= 0.0 {
                        continue;
                    }
                    let amt = bal[from] * rng.random_range(0.1..1.0);
                    bal[from] -= amt;
                    if rng.random::<f64>() < 0.3 {
                        let s = services[rng.random_range(0..3)];
                        owned.push((addrs[from].clone(), s.into(), amt, None, Some(if s == "mix" { "mixer" } else { "exchange" })));
                    } else {
                        let to = rng.random_range(0..n_addr);
                        bal[to] += amt;
                        owned.push((addrs[from].clone(), addrs[to].clone(), amt, None, None));
                    }
                }
            }
            let moves: Vec<Move<'_>> = owned
                .iter()
                .map(|(f, t, a, s, stop)| Move { time: 0, from: f, to: t, asset: "ETH", amount: *a, seed: *s, stop: *stop })
                .collect();
            let results: Vec<Tracer> = Method::ALL.iter().map(|m| run(*m, &moves)).collect();
            let (poison, haircut, fifo) = (&results[0], &results[1], &results[2]);
            for t in [haircut, fifo] {
                if only_tainted {
                    // Every account's value came from seeds: no prior untracked balance, no gap.
                    assert_eq!(t.gaps, 0, "case {case}: {:?}", t.method);
                }
                for (&(seed, _), &amount) in &t.seeded {
                    let arrived: f64 = t.arrivals().filter(|a| a.seed == seed).map(|a| a.amount).sum();
                    let held: f64 = t.held().iter().filter(|h| h.0 == seed).map(|h| h.3).sum();
                    assert!(
                        (arrived + held - amount).abs() <= 1e-6 * amount.max(1.0),
                        "case {case} {:?}: conservation {arrived} + {held} != {amount}",
                        t.method
                    );
                }
            }
            for dest in services {
                let p = arrived(poison, dest);
                let h = arrived(haircut, dest);
                assert!(p + 1e-6 >= h, "case {case}: poison {p} < haircut {h} at {dest}");
                if only_tainted {
                    let f = arrived(fifo, dest);
                    assert!((f - h).abs() <= 1e-6 * f.max(1.0), "case {case}: only taint enters, fifo {f} != haircut {h} at {dest}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tracing over the lake.

use std::collections::BTreeSet;
use std::path::PathBuf;

use polars::prelude::*;

use super::attribute;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::table::{col_i64, col_str};

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
    pub method: &'static str,
    pub seed: String,
    /// The destination's report category, or `held` for taint still in a traced account.
    pub destination: String,
    pub address: String,
    pub actor: Option<String>,
    pub asset: String,
    /// Decimal-adjusted amount (raw units when the asset's decimals are unknown).
    pub amount: f64,
    /// At the close of the last arrival day (held: of the last day processed); None without a price.
    pub value_usd: Option<f64>,
    pub hops: u32,
    pub first_arrival: Option<String>,
    pub last_arrival: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TraceSummary {
    pub method: &'static str,
    pub seed: String,
    pub asset: String,
    pub seeded: f64,
    /// destination category -> amount
    pub arrived: BTreeMap<String, f64>,
    pub held: f64,
    pub gaps: u64,
    pub tracked_accounts: usize,
}

fn micros_to_day_string(t: i64) -> String {
    crate::sources::day_to_string(t.div_euclid(86_400_000_000) as i32)
}

/// An address's attribution over time: (valid_from day, valid_to day, actor, category).
type LabelSpans = Vec<(i32, i32, Option<String>, String)>;

/// Run the trace over the lake.
/// Rows read at a time from a month's lake file (about a row group).
const TRACE_BATCH_ROWS: usize = 256 * 1024;
const TRACE_COLUMNS: [&str; 12] = [
    "block_number",
    "tx_index",
    "log_index",
    "trace_address",
    "block_time",
    "tx_hash",
    "from_address",
    "to_address",
    "asset",
    "token_address",
    "amount_raw",
    "decimals",
];

pub fn run(settings: &Settings, opts: &TraceOptions) -> Result<(Vec<TraceRow>, Vec<TraceSummary>)> {
    run_grouped(settings, opts, &[])
}

/// Like `run`, with the seeds split into independent groups (`groups[i]` = the group of the i-th
/// seed; empty: one group): each group gets its own tracers, as if traced alone, but every group
/// shares one pass over the transfers.
pub fn run_grouped(settings: &Settings, opts: &TraceOptions, groups: &[usize]) -> Result<(Vec<TraceRow>, Vec<TraceSummary>)> {
    if opts.methods.is_empty() {
        return Err(Error::Config("no tracing method: use poison, haircut or fifo".into()));
    }
    let lake = Lake::new(&settings.lake_dir);
    let att = attribute::build(&lake, settings.report.sanctions, 0)?;
    // address -> [(from_day, to_day, actor, category)]
    let mut labels: HashMap<String, LabelSpans> = HashMap::default();
    {
        let a = &att.address_actors;
        let (addr, actor, cat) = (
            col_str(a, "address")?,
            a.column("actor").map_err(|e| Error::polars("actor", e))?.str().map_err(|e| Error::polars("actor", e))?.clone(),
            col_str(a, "category")?,
        );
        let (from, to) = (col_i64(a, "valid_from")?, col_i64(a, "valid_to")?);
        for i in 0..addr.len() {
            labels.entry(addr[i].clone()).or_default().push((
                from[i] as i32,
                to[i] as i32,
                actor.get(i).map(str::to_string),
                cat[i].clone(),
            ));
        }
    }
    // (actor, category) of an address on a day, borrowed: this runs for every transfer.
    let label_at = |addr: &str, day: i32| -> Option<(Option<&str>, &str)> {
        labels.get(addr)?.iter().find(|(f, t, _, _)| day >= *f && day < *t).map(|(_, _, a, c)| (a.as_deref(), c.as_str()))
    };
    let mut ancestors: HashMap<String, BTreeSet<String>> = HashMap::default();
    {
        let (a, an) = (col_str(&att.actor_ancestors, "actor")?, col_str(&att.actor_ancestors, "ancestor")?);
        for i in 0..a.len() {
            ancestors.entry(a[i].clone()).or_default().insert(an[i].clone());
        }
    }

    // Seeds.
    let mut seed_names: Vec<String> = Vec::new();
    let mut seed_tx: HashMap<String, Vec<(String, usize)>> = HashMap::default(); // tx_hash -> [(to_address, seed)]
    // address -> listing day (sanctioned seeds)
    let mut sanctioned_from: HashMap<String, i32> = HashMap::default();
    let mut seed_addresses: HashSet<String> = HashSet::default();
    match &opts.seeds {
        Seeds::Incidents(list) => {
            // The same rule as queries/theft_transfers.sql (listed tx hashes, else victim-to-attacker
            // transfers within the window), found with a filtered scan instead of valuing every transfer.
            let inc = lake.scan("incidents")?.collect().map_err(|e| Error::polars("reading incidents", e))?;
            let (ids, txs, vic, att_) = (
                col_str(&inc, "id")?,
                col_str(&inc, "tx_hashes")?,
                col_str(&inc, "victim_addresses")?,
                col_str(&inc, "attacker_addresses")?,
            );
            let dates = col_i64(
                &inc.select(["date"])
                    .map_err(|e| Error::polars("date", e))?
                    .lazy()
                    .select([col("date").cast(DataType::Int32)])
                    .collect()
                    .map_err(|e| Error::polars("date", e))?,
                "date",
            )?;
            let window = settings.report.incident_window_days as i64;
            for id in list {
                let Some(i) = ids.iter().position(|x| x == id) else {
                    return Err(Error::Config(format!("no incident `{id}` in the lake (incidents: {})", ids.join(", "))));
                };
                let n = seed_names.len();
                let hashes: Vec<&str> = txs[i].split(';').filter(|h| !h.is_empty()).collect();
                let (victims, attackers): (Vec<&str>, Vec<&str>) =
                    (vic[i].split(';').filter(|x| !x.is_empty()).collect(), att_[i].split(';').filter(|x| !x.is_empty()).collect());
                let filter = if !hashes.is_empty() {
                    format!("tx_hash IN ({})", crate::sql::string_list(&hashes))
                } else if !victims.is_empty() && !attackers.is_empty() {
                    format!(
                        "from_address IN ({}) AND to_address IN ({})",
                        crate::sql::string_list(&victims),
                        crate::sql::string_list(&attackers)
                    )
                } else {
                    "FALSE".to_string()
                };
                let mut ctx = polars::sql::SQLContext::new();
                ctx.register("transfers", lake.scan("transfers")?);
                let df = ctx
                    .execute(&format!(
                        "SELECT tx_hash, to_address, CAST(CAST(block_time AS DATE) AS INT) AS day FROM transfers WHERE {filter}"
                    ))
                    .and_then(|lf| lf.collect())
                    .map_err(|e| Error::Internal(format!("finding the theft transfers of {id}: {e}")))?;
                let (h, to, day) = (col_str(&df, "tx_hash")?, col_str(&df, "to_address")?, col_i64(&df, "day")?);
                let mut found = false;
                for k in 0..df.height() {
                    if hashes.is_empty() && (day[k] < dates[i] || day[k] > dates[i] + window) {
                        continue;
                    }
                    let v = seed_tx.entry(h[k].clone()).or_default();
                    if !v.iter().any(|(a, _)| *a == to[k]) {
                        v.push((to[k].clone(), n));
                    }
                    found = true;
                }
                if !found {
                    return Err(Error::Config(format!(
                        "incident `{id}` has no on-chain theft transfers in the lake (no listed tx hash or victim-to-attacker transfer was found)"
                    )));
                }
                seed_names.push(id.clone());
            }
        }
        Seeds::Sanctioned => {
            let sanctions = lake.scan("sanctions")?.collect().map_err(|e| Error::polars("reading sanctions", e))?;
            let addr = col_str(&sanctions, "address")?;
            let day = |c: &str| -> Result<Vec<Option<i32>>> {
                let s = sanctions.column(c).map_err(|e| Error::polars(c, e))?.cast(&DataType::Int32).map_err(|e| Error::polars(c, e))?;
                Ok(s.i32().map_err(|e| Error::polars(c, e))?.iter().collect())
            };
            let (listed, party, first) = (day("listed_date")?, day("party_listed_date")?, day("first_seen_snapshot")?);
            for i in 0..addr.len() {
                let from = listed[i].or(party[i]).or(first[i]).unwrap_or(attribute::MIN_DAY);
                let e = sanctioned_from.entry(addr[i].clone()).or_insert(from);
                *e = (*e).min(from);
            }
            if sanctioned_from.is_empty() {
                return Err(Error::Config("the lake has no sanctioned address to trace from".into()));
            }
            seed_names.push("sanctioned".into());
        }
        Seeds::Actor(a) => {
            if !att.known_actors.contains(a) {
                return Err(Error::Config(format!(
                    "no actor `{a}` (actors: {})",
                    att.known_actors.iter().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            let has = labels
                .values()
                .flatten()
                .any(|(_, _, act, _)| act.as_ref().is_some_and(|x| ancestors.get(x).is_some_and(|s| s.contains(a))));
            if !has {
                return Err(Error::Config(format!("actor `{a}` has no attributed address to trace from")));
            }
            seed_names.push(a.clone());
        }
        Seeds::Addresses(list) => {
            for x in list {
                let n = crate::address::for_currency("", x).map_err(|why| Error::Config(format!("seed address `{x}`: {why}")))?;
                seed_addresses.insert(n);
            }
            seed_names.push(if list.len() <= 3 { list.join(";") } else { format!("{} addresses", list.len()) });
        }
    }
    let in_actor = |actor: Option<&str>, a: &str| actor.is_some_and(|x| ancestors.get(x).is_some_and(|s| s.contains(a)));

    let group_of = |seed: usize| groups.get(seed).copied().unwrap_or(0);
    let n_groups = groups.iter().max().map_or(1, |g| g + 1);
    // (group, tracer): one tracer per group and method.
    let mut tracers: Vec<(usize, Tracer)> =
        (0..n_groups).flat_map(|g| opts.methods.iter().map(move |m| (g, Tracer::new(*m, opts.max_hops)))).collect();
    let mut decimals: HashMap<String, Option<i32>> = HashMap::default();
    let mut seen_seed_address = seed_addresses.is_empty();
    let mut last_time = 0i64;
    // Month by month, in chain order: memory is one month plus the tainted accounts.
    let mut months: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for f in lake.table_files("transfers")? {
        let rel = f.strip_prefix(&lake.root).unwrap_or(&f).to_path_buf();
        let key: PathBuf = rel.components().skip(2).take(2).collect(); // year/month
        months.entry(key).or_default().push(f);
    }
    // Walk one batch of transfers in chain order; false once past --until.
    let mut walk = |df: &DataFrame| -> Result<bool> {
        let strs = |c: &str| -> Result<StringChunked> {
            Ok(df.column(c).map_err(|e| Error::polars(c, e))?.str().map_err(|e| Error::polars(c, e))?.clone())
        };
        let (hash, from, to, asset, raw) =
            (strs("tx_hash")?, strs("from_address")?, strs("to_address")?, strs("asset_key")?, strs("amount_raw")?);
        let t = df.column("t").map_err(|e| Error::polars("t", e))?.i64().map_err(|e| Error::polars("t", e))?.clone();
        let dec = df.column("decimals").map_err(|e| Error::polars("decimals", e))?.i32().map_err(|e| Error::polars("decimals", e))?.clone();
        let rows = t.iter().zip(hash.iter()).zip(from.iter()).zip(to.iter()).zip(asset.iter()).zip(raw.iter()).zip(dec.iter());
        for ((((((t, hash), from), to), asset), raw), dec) in rows {
            let (Some(t), Some(hash), Some(from), Some(to), Some(asset), Some(raw)) = (t, hash, from, to, asset, raw) else { continue };
            let day = t.div_euclid(86_400_000_000) as i32;
            if opts.until.is_some_and(|u| day > u) {
                return Ok(false);
            }
            last_time = t;
            if !decimals.contains_key(asset) {
                decimals.insert(asset.to_string(), dec);
            }
            let amount: f64 = raw.parse().unwrap_or(0.0);
            let seed = match &opts.seeds {
                Seeds::Incidents(_) => seed_tx.get(hash).and_then(|v| v.iter().find(|(a, _)| a == to).map(|(_, s)| *s)),
                Seeds::Sanctioned => {
                    let listed = |a: &str| sanctioned_from.get(a).is_some_and(|d| day >= *d);
                    (listed(to) && !listed(from)).then_some(0)
                }
                Seeds::Actor(a) => {
                    let ta = label_at(to, day).and_then(|l| l.0);
                    let fa = label_at(from, day).and_then(|l| l.0);
                    (in_actor(ta, a) && !in_actor(fa, a)).then_some(0)
                }
                Seeds::Addresses(_) => {
                    let (to_seed, from_seed) = (seed_addresses.contains(to), seed_addresses.contains(from));
                    seen_seed_address |= to_seed || from_seed;
                    (to_seed && !from_seed).then_some(0)
                }
            };
            let stop_cat = label_at(to, day).map(|l| l.1).filter(|c| opts.stop.iter().any(|s| s == c));
            let mut mv = Move { time: t, from, to, asset, amount, seed: None, stop: stop_cat };
            let (from_key, to_key) = (AddrKey::of(from), AddrKey::of(to));
            for (g, tr) in tracers.iter_mut() {
                mv.seed = seed.filter(|s| group_of(*s) == *g);
                tr.apply_keyed(&mv, &from_key, &to_key);
            }
        }
        Ok(true)
    };
    let columns = || {
        [
            col("block_number"),
            col("tx_index"),
            col("log_index"),
            col("trace_address"),
            col("block_time").cast(DataType::Int64).alias("t"),
            col("tx_hash"),
            col("from_address"),
            col("to_address"),
            coalesce(&[col("asset"), col("token_address"), lit("native")]).alias("asset_key"),
            col("amount_raw"),
            col("decimals"),
        ]
    };
    'months: for files in months.values() {
        if let [file] = files.as_slice() {
            // One source: the lake file is already in chain order (ingest sorts every partition),
            // so it is read in slices of row groups and never held whole.
            let open = || std::fs::File::open(file).map_err(|e| Error::io("opening", file, e));
            let bad = |e| Error::polars(format!("reading `{}`", file.display()), e);
            let mut first = ParquetReader::new(open()?);
            let meta = first.get_metadata().map_err(bad)?.clone();
            let n = first.num_rows().map_err(bad)?;
            let mut offset = 0;
            while offset < n {
                let mut reader = ParquetReader::new(open()?);
                reader.set_metadata(meta.clone()); // the footer is read once per month, not per slice
                let chunk = reader
                    .with_columns(Some(TRACE_COLUMNS.iter().map(|c| c.to_string()).collect()))
                    .with_slice(Some((offset, TRACE_BATCH_ROWS)))
                    .finish()
                    .and_then(|df| df.lazy().select(columns()).collect())
                    .map_err(|e| Error::polars("reading transfers for tracing", e))?;
                offset += TRACE_BATCH_ROWS;
                if !walk(&chunk)? {
                    break 'months;
                }
            }
            continue;
        }
        // Several sources in one month: merged and sorted in memory.
        let scans: Vec<LazyFrame> = files
            .iter()
            .map(|p| {
                let path = PlRefPath::try_from_path(p).map_err(|e| Error::polars("path", e))?;
                LazyFrame::scan_parquet(path, ScanArgsParquet::default()).map_err(|e| Error::polars("scanning transfers", e))
            })
            .collect::<Result<_>>()?;
        let df = concat(scans, UnionArgs::default())
            .and_then(|lf| {
                lf.select(columns())
                    .sort(["block_number", "tx_index", "log_index", "trace_address"], SortMultipleOptions::default().with_nulls_last(false))
                    .collect()
            })
            .map_err(|e| Error::polars("reading transfers for tracing", e))?;
        if !walk(&df)? {
            break;
        }
    }
    if !seen_seed_address {
        return Err(Error::Config(format!("seed address(es) {} do not appear in any transfer in the lake", seed_names.join(";"))));
    }

    // Valuation at the close of a day.
    let prices = super::value::price_days(&lake, &settings.report.price_sources)?;
    let series = super::value::asset_series(&lake)?;
    let mut series_of: HashMap<String, String> = HashMap::default();
    let (ss, sp) = (col_str(&series, "symbol")?, col_str(&series, "price_asset")?);
    for i in 0..ss.len() {
        if !sp[i].is_empty() {
            series_of.entry(ss[i].clone()).or_insert(sp[i].clone());
        }
    }
    let mut close: HashMap<(String, i32), f64> = HashMap::default();
    let (pa, pd) = (col_str(&prices, "asset")?, col_i64(&prices, "day")?);
    let pc: Vec<f64> = prices
        .column("close_usd")
        .map_err(|e| Error::polars("close", e))?
        .f64()
        .map_err(|e| Error::polars("close", e))?
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect();
    for i in 0..pa.len() {
        close.insert((pa[i].clone(), pd[i] as i32), pc[i]);
    }
    let adjust = |asset: &str, raw: f64| -> f64 {
        match decimals.get(asset).copied().flatten() {
            Some(d) => raw / 10f64.powi(d),
            None => raw,
        }
    };
    let usd = |asset: &str, amount: f64, t: i64| -> Option<f64> {
        let s = series_of.get(asset)?;
        close.get(&(s.clone(), t.div_euclid(86_400_000_000) as i32)).map(|c| amount * c)
    };

    let mut rows = Vec::new();
    let mut summaries = Vec::new();
    for (_, tr) in &tracers {
        let mut per_asset: BTreeMap<(usize, String), TraceSummary> = BTreeMap::new();
        for ((seed, asset), amount) in &tr.seeded {
            per_asset.insert(
                (*seed, asset.clone()),
                TraceSummary {
                    method: tr.method.as_str(),
                    seed: seed_names[*seed].clone(),
                    asset: asset.clone(),
                    seeded: adjust(asset, *amount),
                    arrived: BTreeMap::new(),
                    held: 0.0,
                    gaps: tr.gaps,
                    tracked_accounts: tr.tracked(),
                },
            );
        }
        for a in tr.arrivals() {
            let amount = adjust(&a.asset, a.amount);
            let day = a.last.div_euclid(86_400_000_000) as i32;
            rows.push(TraceRow {
                method: tr.method.as_str(),
                seed: seed_names[a.seed].clone(),
                destination: a.category.clone(),
                address: a.address.clone(),
                actor: label_at(&a.address, day).and_then(|l| l.0).map(str::to_string),
                asset: a.asset.clone(),
                amount,
                value_usd: usd(&a.asset, amount, a.last),
                hops: a.hops,
                first_arrival: Some(micros_to_day_string(a.first)),
                last_arrival: Some(micros_to_day_string(a.last)),
            });
            if let Some(s) = per_asset.get_mut(&(a.seed, a.asset.clone())) {
                *s.arrived.entry(a.category.clone()).or_default() += amount;
            }
        }
        for (seed, addr, asset, raw, hops) in tr.held() {
            let amount = adjust(&asset, raw);
            rows.push(TraceRow {
                method: tr.method.as_str(),
                seed: seed_names[seed].clone(),
                destination: "held".into(),
                actor: label_at(&addr, last_time.div_euclid(86_400_000_000) as i32).and_then(|l| l.0).map(str::to_string),
                address: addr,
                asset: asset.clone(),
                amount,
                value_usd: usd(&asset, amount, last_time),
                hops,
                first_arrival: None,
                last_arrival: None,
            });
            if let Some(s) = per_asset.get_mut(&(seed, asset.clone())) {
                s.held += amount;
            }
        }
        summaries.extend(per_asset.into_values());
    }
    rows.sort_by(|a, b| (a.method, &a.destination, &a.address, &a.asset).cmp(&(b.method, &b.destination, &b.address, &b.asset)));
    Ok((rows, summaries))
}
