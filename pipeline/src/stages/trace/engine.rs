//! Tracing illicit funds on account-based chains: one pass over transfers in chain order, with
//! state only for the (chain, address, asset) accounts that hold taint.
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
//!
//! Amounts are f64, so every comparison allows for rounding relative to the account's scale (the
//! largest balance it held), and haircut taint below 10^-12 of a balance is dropped as rounding:
//! the results do not depend on the unit amounts are counted in (tested).

use std::collections::{BTreeMap, VecDeque};

use smallvec::SmallVec;

// foldhash-backed maps: every transfer looks up addresses and hashes several times, and SipHash
// (std's default) was a visible share of a trace. Iteration order is never relied on.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

pub use ifr_reports::model::Method;

/// One transfer as the tracer sees it. Amounts are decimal-adjusted (the lake's `amount`), or in
/// raw units for a token whose decimals are unknown: one unit per (chain, asset) either way.
#[derive(Debug, Clone)]
pub struct Move<'a> {
    /// Microseconds since the epoch (block time).
    pub time: i64,
    /// The chain: an account is an (address, asset) on one chain, so ETH on Ethereum and ETH on
    /// Arbitrum at the same address are two accounts.
    pub chain: &'a str,
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
    pub chain: String,
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
pub struct AddrKey {
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
    pub fn of(s: &str) -> AddrKey {
        use std::hash::BuildHasher;
        let hash = foldhash::quality::FixedState::default().hash_one(s.as_bytes());
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
    /// The largest balance the account has held: the scale of its float rounding.
    peak: f64,
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
    /// (chain, asset) by number (a handful: found by a linear search).
    assets: Vec<(Box<str>, Box<str>)>,
    /// (seed, address, asset number) -> taint that arrived there.
    arrivals: HashMap<(usize, AddrKey, u32), Arrival>,
    /// Seed amounts per (seed, chain, asset).
    pub seeded: BTreeMap<(usize, String, String), f64>,
    /// Outgoing transfers larger than the tracked balance (handled as prior clean value).
    pub gaps: u64,
    /// The taint one transfer carries, per seed in seed order (reused between transfers).
    carried: Vec<(usize, f64)>,
}

/// Relative tolerance for float rounding: amounts are compared relative to the transfer, so the
/// unit an asset is counted in (wei or ETH) does not change the result.
const EPS: f64 = 1e-9;
/// Haircut taint below this share of an account's balance is float rounding, and is dropped.
const DUST: f64 = 1e-12;

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

    fn asset_id(&mut self, chain: &str, asset: &str) -> u32 {
        match self.assets.iter().position(|(c, a)| &**a == asset && &**c == chain) {
            Some(i) => i as u32,
            None => {
                self.assets.push((chain.into(), asset.into()));
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

    /// The taint the last transfer applied carried, per seed in seed order.
    pub fn last_carried(&self) -> &[(usize, f64)] {
        &self.carried
    }

    /// `amount` of `seed`'s taint that arrived at `to` (a bridge) goes on to another chain: it is
    /// no longer an arrival here.
    pub fn cross(&mut self, seed: usize, to: &AddrKey, chain: &str, asset: &str, amount: f64) {
        let Some(i) = self.assets.iter().position(|(c, a)| &**c == chain && &**a == asset) else { return };
        let key = (seed, to.clone(), i as u32);
        if let Some(a) = self.arrivals.get_mut(&key) {
            a.amount -= amount.min(a.amount);
            if a.amount <= amount.abs() * EPS {
                self.arrivals.remove(&key);
            }
        }
    }

    /// `apply`, with the sender's and receiver's keys made once for all tracers.
    pub fn apply_keyed(&mut self, m: &Move<'_>, from: &AddrKey, to: &AddrKey) {
        self.apply_released(m, from, to, &[]);
    }

    /// `apply_keyed` for the release of a cross-chain link: besides what the sender's own state
    /// carries, the transfer carries `released` — (seed, amount) of taint that crossed the link —
    /// up to its amount in all (poison: per seed). The released seeds count as seeded here (on this
    /// chain and asset). Returns how much of each released entry the transfer took.
    pub fn apply_released(&mut self, m: &Move<'_>, from: &AddrKey, to: &AddrKey, released: &[(usize, f64)]) -> Vec<f64> {
        let mut carried = std::mem::take(&mut self.carried);
        carried.clear();
        let mut taken = Vec::with_capacity(released.len());
        self.carry(m, from, to, &mut carried, released, &mut taken);
        self.carried = carried;
        taken
    }

    fn carry(
        &mut self,
        m: &Move<'_>,
        from: &AddrKey,
        to: &AddrKey,
        carried: &mut Vec<(usize, f64)>,
        released: &[(usize, f64)],
        taken: &mut Vec<f64>,
    ) {
        let (method, max_hops) = (self.method, self.max_hops);
        let fifo = method == Method::Fifo;
        let mut hop = 0;
        let asset = self.asset_id(m.chain, m.asset);
        if let Some(seed) = m.seed {
            *self.seeded.entry((seed, m.chain.to_string(), m.asset.to_string())).or_default() += m.amount;
            carried.push((seed, m.amount));
        } else if let Some(acc) = Self::account(&mut self.accounts, from, asset) {
            if acc.hop >= max_hops {
                // At the hop limit: the taint stays here (still held); only the balance moves
                // (and what a link releases in this transfer, below).
                acc.balance -= m.amount;
                if released.is_empty() {
                    return;
                }
            } else {
                // Rounding in a long-lived account's balance is relative to the largest balance it
                // held, not to this transfer: a small transfer out of an account that once held
                // millions is not a gap for a difference of 1e-9 of those millions.
                if m.amount > acc.balance + EPS * m.amount.max(acc.peak) {
                    self.gaps += 1;
                    let missing = m.amount - acc.balance;
                    acc.balance = m.amount;
                    acc.peak = acc.peak.max(m.amount);
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
                        let after = (balance - m.amount).max(0.0);
                        for (s, t) in acc.tainted.iter_mut() {
                            let out = if balance > 0.0 { m.amount * (*t / balance) } else { 0.0 };
                            let out = out.min(*t);
                            *t -= out;
                            // What is left is at most what the account still holds; a residue below
                            // DUST of the balance it had is rounding, not taint (kept, it would taint
                            // every later outflow of the account with dust).
                            *t = t.min(after);
                            if *t <= DUST * balance {
                                *t = 0.0;
                            }
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
                            if front.0 <= EPS * take {
                                acc.lots.pop_front();
                            }
                        }
                        carried.sort_unstable_by_key(|c| c.0);
                    }
                }
                acc.balance -= m.amount;
            }
        }
        if !released.is_empty() {
            // What the sender's own state carries leaves this much room (poison: per seed, each
            // tainted seed taking the whole transfer).
            let poison = method == Method::Poison;
            let mut room = (m.amount - carried.iter().map(|c| c.1).sum::<f64>()).max(0.0);
            for &(s, amount) in released {
                let have = carried.iter().find(|c| c.0 == s).map_or(0.0, |c| c.1);
                let amount = if poison { amount.min((m.amount - have).max(0.0)) } else { amount.min(room) };
                taken.push(amount.max(0.0));
                if amount <= 0.0 {
                    continue;
                }
                if !poison {
                    room -= amount;
                }
                *self.seeded.entry((s, m.chain.to_string(), m.asset.to_string())).or_default() += amount;
                match carried.iter_mut().find(|c| c.0 == s) {
                    Some(c) => c.1 += amount,
                    None => carried.push((s, amount)),
                }
            }
            carried.sort_unstable_by_key(|c| c.0);
        }

        if carried.is_empty() {
            // Clean value (from an untracked sender, or a tracked one whose share is clean): it
            // matters only to a tracked receiver's balance.
            if let Some(acc) = Self::account(&mut self.accounts, to, asset) {
                acc.balance += m.amount;
                acc.peak = acc.peak.max(acc.balance);
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
                    chain: m.chain.to_string(),
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
        acc.peak = acc.peak.max(acc.balance);
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
        if fifo && m.amount - tainted_total > EPS * m.amount {
            acc.lots.push_back((m.amount - tainted_total, None));
        }
    }

    /// Taint that reached services, by seed, address and asset.
    pub fn arrivals(&self) -> impl Iterator<Item = &Arrival> {
        let mut all: Vec<&Arrival> = self.arrivals.values().collect();
        all.sort_by(|a, b| (a.seed, &a.address, &a.chain, &a.asset).cmp(&(b.seed, &b.address, &b.chain, &b.asset)));
        all.into_iter()
    }

    /// Taint still held, per (seed, address, chain, asset), with the account's hop count.
    pub fn held(&self) -> Vec<Held> {
        let mut out = Vec::new();
        for (key, acc, asset) in self.accounts.iter().flat_map(|(k, v)| v.iter().map(move |(asset, acc)| (k, acc, asset))) {
            let (chain, asset) = &self.assets[*asset as usize];
            let held = |seed: usize, amount: f64| Held {
                seed,
                address: key.text(),
                chain: chain.to_string(),
                asset: asset.to_string(),
                amount,
                hops: acc.hop,
            };
            match self.method {
                Method::Fifo => {
                    let mut by_seed: BTreeMap<usize, f64> = BTreeMap::new();
                    for (amount, s) in &acc.lots {
                        if let Some(s) = s {
                            *by_seed.entry(*s).or_default() += amount;
                        }
                    }
                    out.extend(by_seed.into_iter().filter(|(_, a)| *a > 0.0).map(|(s, a)| held(s, a)));
                }
                // Poison: whatever a poisoned account still holds is tainted in full.
                Method::Poison => {
                    for &(s, t) in &acc.tainted {
                        if t > 0.0 && acc.balance > 0.0 {
                            out.push(held(s, acc.balance));
                        }
                    }
                }
                Method::Haircut => out.extend(acc.tainted.iter().filter(|(_, t)| *t > 0.0).map(|&(s, t)| held(s, t))),
            }
        }
        out.sort_by(|a, b| (a.seed, &a.address, &a.chain, &a.asset).cmp(&(b.seed, &b.address, &b.chain, &b.asset)));
        out
    }
}

/// A tracer's whole state, to continue a walk in a later run (see `super::checkpoint`): every
/// account, arrival and seed amount, in a fixed order. Floats are kept exactly (their bits).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TracerState {
    max_hops: u32,
    /// (address, [(asset number, account)])
    accounts: Vec<(String, Vec<(u32, AccountState)>)>,
    assets: Vec<(String, String)>,
    arrivals: Vec<ArrivalState>,
    seeded: Vec<(usize, String, String, u64)>,
    gaps: u64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct AccountState {
    balance: u64,
    peak: u64,
    tainted: Vec<(usize, u64)>,
    lots: Vec<(u64, Option<usize>)>,
    hop: u32,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct ArrivalState {
    key: (usize, String, u32),
    seed: usize,
    address: String,
    category: String,
    chain: String,
    asset: String,
    amount: u64,
    hops: u32,
    first: i64,
    last: i64,
}

impl Tracer {
    /// The tracer's state (see [`TracerState`]).
    pub fn save(&self) -> TracerState {
        let mut accounts: Vec<(String, Vec<(u32, AccountState)>)> = self
            .accounts
            .iter()
            .map(|(k, v)| {
                let accs = v
                    .iter()
                    .map(|(asset, a)| {
                        let state = AccountState {
                            balance: a.balance.to_bits(),
                            peak: a.peak.to_bits(),
                            tainted: a.tainted.iter().map(|(s, t)| (*s, t.to_bits())).collect(),
                            lots: a.lots.iter().map(|(amount, s)| (amount.to_bits(), *s)).collect(),
                            hop: a.hop,
                        };
                        (*asset, state)
                    })
                    .collect();
                (k.text(), accs)
            })
            .collect();
        accounts.sort_by(|a, b| a.0.cmp(&b.0));
        let mut arrivals: Vec<ArrivalState> = self
            .arrivals
            .iter()
            .map(|((seed, key, asset), a)| ArrivalState {
                key: (*seed, key.text(), *asset),
                seed: a.seed,
                address: a.address.clone(),
                category: a.category.clone(),
                chain: a.chain.clone(),
                asset: a.asset.clone(),
                amount: a.amount.to_bits(),
                hops: a.hops,
                first: a.first,
                last: a.last,
            })
            .collect();
        arrivals.sort_by(|a, b| a.key.cmp(&b.key));
        TracerState {
            max_hops: self.max_hops,
            accounts,
            assets: self.assets.iter().map(|(c, a)| (c.to_string(), a.to_string())).collect(),
            arrivals,
            seeded: self.seeded.iter().map(|((s, c, a), v)| (*s, c.clone(), a.clone(), v.to_bits())).collect(),
            gaps: self.gaps,
        }
    }

    /// A tracer for `method` in the state `saved` (what [`Tracer::save`] gave).
    pub fn restore(method: Method, saved: &TracerState) -> Tracer {
        let mut t = Tracer::new(method, saved.max_hops);
        for (address, accs) in &saved.accounts {
            let v = accs
                .iter()
                .map(|(asset, a)| {
                    let acc = Account {
                        balance: f64::from_bits(a.balance),
                        peak: f64::from_bits(a.peak),
                        tainted: a.tainted.iter().map(|(s, b)| (*s, f64::from_bits(*b))).collect(),
                        lots: a.lots.iter().map(|(b, s)| (f64::from_bits(*b), *s)).collect(),
                        hop: a.hop,
                    };
                    (*asset, acc)
                })
                .collect();
            t.accounts.insert(AddrKey::of(address), v);
        }
        t.assets = saved.assets.iter().map(|(c, a)| (c.as_str().into(), a.as_str().into())).collect();
        for a in &saved.arrivals {
            let arrival = Arrival {
                seed: a.seed,
                address: a.address.clone(),
                category: a.category.clone(),
                chain: a.chain.clone(),
                asset: a.asset.clone(),
                amount: f64::from_bits(a.amount),
                hops: a.hops,
                first: a.first,
                last: a.last,
            };
            t.arrivals.insert((a.key.0, AddrKey::of(&a.key.1), a.key.2), arrival);
        }
        t.seeded = saved.seeded.iter().map(|(s, c, a, v)| ((*s, c.clone(), a.clone()), f64::from_bits(*v))).collect();
        t.gaps = saved.gaps;
        t
    }
}

/// Taint still in a traced account at the end.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub seed: usize,
    pub address: String,
    pub chain: String,
    pub asset: String,
    pub amount: f64,
    pub hops: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn mv<'a>(from: &'a str, to: &'a str, asset: &'a str, amount: f64, seed: Option<usize>, stop: Option<&'a str>) -> Move<'a> {
        Move { time: 0, chain: "ethereum", from, to, asset, amount, seed, stop }
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
        assert!((h[0].amount - 1.8).abs() < 1e-12);
        assert!(run(Method::Fifo, &moves).held().is_empty());
    }

    /// The same address and symbol on two chains are two accounts: taint received on one chain
    /// does not leave on the other.
    #[test]
    fn one_symbol_on_two_chains_is_two_accounts() {
        let on = |chain, from, to, amount, seed, stop| Move { time: 0, chain, from, to, asset: "ETH", amount, seed, stop };
        let moves = [
            on("ethereum", "victim", "thief", 5.0, Some(0), None),
            on("arbitrum", "someone", "thief", 3.0, None, None),
            on("arbitrum", "thief", "exchange", 3.0, None, Some("exchange")),
            on("ethereum", "thief", "mixer", 5.0, None, Some("mixer")),
        ];
        for m in Method::ALL {
            let t = run(m, &moves);
            let got: Vec<(&str, &str, f64)> = t.arrivals().map(|a| (a.chain.as_str(), a.category.as_str(), a.amount)).collect();
            assert_eq!(got, [("ethereum", "mixer", 5.0)], "{m:?}");
            assert_eq!(t.seeded.keys().collect::<Vec<_>>(), [&(0, "ethereum".to_string(), "ETH".to_string())]);
        }
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
        let held: f64 = t.held().iter().map(|h| h.amount).sum();
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
        let held: Vec<(String, f64)> = t.held().into_iter().map(|h| (h.address, h.amount)).collect();
        assert_eq!(held, [("0x00000000000000000000000000000000000000aA".to_string(), 1.0), ("bc1qshort".to_string(), 1.0)]);
        assert_eq!(t.arrivals().map(|a| a.address.as_str()).collect::<Vec<_>>(), ["ex"]);
        assert_eq!(t.tracked(), 2);
    }

    /// Property tests over random transfer graphs.
    /// The unit amounts are counted in (wei or ETH, raw or decimal-adjusted) does not change what
    /// a method finds: accounts whose balances span many magnitudes and are drained in full,
    /// where float rounding decides whether a transfer is a gap or leaves dust taint behind.
    #[test]
    fn results_do_not_depend_on_the_unit_of_the_amounts() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for case in 0..200 {
            let n_addr = rng.random_range(2..8);
            let addrs: Vec<String> = (0..n_addr).map(|i| format!("a{i}")).collect();
            let mut bal = vec![0.0f64; n_addr];
            type Owned<'a> = (String, String, f64, Option<usize>, Option<&'a str>);
            let mut owned: Vec<Owned<'_>> = Vec::new();
            for _ in 0..rng.random_range(10..80) {
                let r = rng.random::<f64>();
                let magnitude = 10f64.powi(rng.random_range(-3..10));
                let to = rng.random_range(0..n_addr);
                if r < 0.2 {
                    let amt = magnitude * rng.random_range(1.0..10.0);
                    bal[to] += amt;
                    owned.push(("victim".into(), addrs[to].clone(), amt, Some(0), None));
                } else if r < 0.45 {
                    let amt = magnitude * rng.random_range(1.0..10.0);
                    bal[to] += amt;
                    owned.push(("outside".into(), addrs[to].clone(), amt, None, None));
                } else {
                    let from = rng.random_range(0..n_addr);
                    // Often the whole balance, as wallets do.
                    let amt = if rng.random::<f64>() < 0.5 { bal[from] } else { bal[from] * rng.random_range(0.0..1.0) };
                    if amt <= 0.0 {
                        continue;
                    }
                    bal[from] -= amt;
                    if rng.random::<f64>() < 0.3 {
                        owned.push((addrs[from].clone(), "ex".into(), amt, None, Some("exchange")));
                    } else {
                        bal[to] += amt;
                        owned.push((addrs[from].clone(), addrs[to].clone(), amt, None, None));
                    }
                }
            }
            for method in Method::ALL {
                let at_scale = |k: f64| {
                    let moves: Vec<Move<'_>> = owned
                        .iter()
                        .map(|(f, t, a, s, stop)| Move {
                            time: 0,
                            chain: "ethereum",
                            from: f,
                            to: t,
                            asset: "ETH",
                            amount: a * k,
                            seed: *s,
                            stop: *stop,
                        })
                        .collect();
                    let t = run(method, &moves);
                    let held: f64 = t.held().iter().map(|h| h.amount).sum();
                    (arrived(&t, "ex") / k, held / k, t.gaps)
                };
                let base = at_scale(1.0);
                // Equal to one part in 10^9 of what was seeded or found (dust below that is rounding).
                let seeded: f64 = owned.iter().filter(|o| o.3.is_some()).map(|o| o.2).sum();
                for k in [1e18, 3.0, 1e-6] {
                    let got = at_scale(k);
                    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * seeded.max(a.abs()).max(b.abs());
                    assert!(
                        close(got.0, base.0) && close(got.1, base.1) && got.2 == base.2,
                        "case {case} {method:?} x{k}: {got:?} vs {base:?}"
                    );
                }
            }
        }
    }

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
                .map(|(f, t, a, s, stop)| Move {
                    time: 0,
                    chain: "ethereum",
                    from: f,
                    to: t,
                    asset: "ETH",
                    amount: *a,
                    seed: *s,
                    stop: *stop,
                })
                .collect();
            let results: Vec<Tracer> = Method::ALL.iter().map(|m| run(*m, &moves)).collect();
            let (poison, haircut, fifo) = (&results[0], &results[1], &results[2]);
            for t in [haircut, fifo] {
                if only_tainted {
                    // Every account's value came from seeds: no prior untracked balance, no gap.
                    assert_eq!(t.gaps, 0, "case {case}: {:?}", t.method);
                }
                for (&(seed, _, _), &amount) in &t.seeded {
                    let arrived: f64 = t.arrivals().filter(|a| a.seed == seed).map(|a| a.amount).sum();
                    let held: f64 = t.held().iter().filter(|h| h.seed == seed).map(|h| h.amount).sum();
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
