//! The synthetic Bitcoin chain, written as a bitcoin-etl export (JSON lines, `export_all`'s
//! `start_block=…/end_block=…` folders, inputs not enriched: each input names only the output it
//! spends, as `bitcoin-etl export_blocks_and_transactions` writes them).
//!
//! Background: every block with a transaction starts with its coinbase (6.25 BTC to one of a few
//! miners); the other transactions spend one to three unspent outputs of a bounded pool (so memory
//! does not grow with the number of transactions) and pay a user, an exchange deposit address or
//! the bridge's vault, with change back to the sender; deposit addresses sweep to their exchange's
//! hot wallet, hot wallets pay users out; one in a hundred carries an OP_RETURN output (no address,
//! no value).
//!
//! Planted, from the reference ledger: each incident whose chains list Bitcoin is played out there
//! for [`BTC_SHARE`] of its reported USD (all of it when it does not list Ethereum): the victim's
//! coins (minted by a coinbase: the chain has no history before the range) go to the attacker,
//! who splits them over four fresh addresses: a peel chain to exchange deposit addresses, a
//! JoinMarket-style coinjoin with four clean peers, a direct exchange deposit, and one left
//! dormant, with a tenth kept at the attacker. And every Ethereum bridge deposit of an incident
//! is released on Bitcoin from the bridge's vault half an hour later (a planted cross-chain link,
//! 0.5% kept by the bridge), then sent on to an exchange deposit address.
//!
//! What each planted transaction does to the stolen value is tallied here as it is planned
//! (`arrived`, `dormant`): the expected tracing destinations in `truth/`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::world::{BtcSideFiles, Label};
use super::{Role, Tx as EthTx, World, btc_address, day_of, synth_hash};
use crate::error::{Error, Result};

/// Version of the Bitcoin side's output (part of a sample's fingerprint).
pub const VERSION: u32 = 1;
/// Seconds between Bitcoin blocks.
pub const BTC_BLOCK_SECONDS: i64 = 600;
/// The Bitcoin block at the start of the generated range.
pub const BTC_FIRST_BLOCK: i64 = 660_000;
/// A coinbase's value: the 2020-2024 subsidy, 6.25 BTC.
const COINBASE_SAT: u64 = 625_000_000;
/// Fee of a planted transaction: 0.0002 BTC.
const PLANTED_FEE: u64 = 20_000;
/// The share of a bridged deposit's USD the bridge keeps.
const BRIDGE_KEEPS: f64 = 0.005;
/// Transactions per output file the chunking aims at.
const TXS_PER_FILE: u64 = 20_000;
/// Background transactions per block, at least.
const TXS_PER_BLOCK: u64 = 8;
/// Unspent outputs the background keeps at most (it spends more than it makes above this).
const POOL_CAP: usize = 50_000;

/// An unspent output.
#[derive(Debug, Clone)]
pub struct Utxo {
    pub txid: [u8; 32],
    pub vout: u32,
    pub address: Rc<str>,
    pub value: u64,
}

/// What a planted transaction is, for truth.
#[derive(Debug, Clone, Copy)]
pub struct BtcPlant {
    pub incident: usize,
    pub role: Role,
    pub path: u32,
    pub hop: u32,
}

/// One Bitcoin transaction as written: ordered inputs (the outputs they spend) and outputs
/// (address — None for OP_RETURN —, value in satoshi).
#[derive(Debug, Clone)]
pub struct BtcTx {
    /// Unix seconds.
    pub time: i64,
    pub txid: [u8; 32],
    pub coinbase: bool,
    pub inputs: Vec<Utxo>,
    pub outputs: Vec<(Option<Rc<str>>, u64)>,
    pub plant: Option<BtcPlant>,
}

impl BtcTx {
    /// Output `vout` as an unspent output.
    fn out(&self, vout: u32) -> Utxo {
        let (a, v) = &self.outputs[vout as usize];
        Utxo { txid: self.txid, vout, address: a.clone().unwrap_or_else(|| Rc::from("")), value: *v }
    }

    /// The address-to-address flows GraphSense's proportional rule gives (written here from the
    /// rule as documented, not taken from ifr's loader): each input address sends each output
    /// address `its inputs' value × the output address's value / the inputs' total`, rounded down
    /// to the satoshi; zero flows and outputs without an address give none; a coinbase gives none.
    pub fn flows(&self) -> Vec<(Rc<str>, Rc<str>, u64)> {
        if self.coinbase {
            return Vec::new();
        }
        let mut senders: Vec<(Rc<str>, u128)> = Vec::new();
        for i in &self.inputs {
            match senders.iter_mut().find(|(a, _)| *a == i.address) {
                Some(s) => s.1 += i.value as u128,
                None => senders.push((i.address.clone(), i.value as u128)),
            }
        }
        let mut receivers: Vec<(Rc<str>, u128)> = Vec::new();
        for (a, v) in &self.outputs {
            let Some(a) = a else { continue };
            match receivers.iter_mut().find(|(r, _)| r == a) {
                Some(r) => r.1 += *v as u128,
                None => receivers.push((a.clone(), *v as u128)),
            }
        }
        let total: u128 = senders.iter().map(|s| s.1).sum();
        let mut out = Vec::new();
        for (s, v) in &senders {
            for (r, w) in &receivers {
                let sat = (v * w).checked_div(total).unwrap_or(0) as u64;
                if sat > 0 {
                    out.push((s.clone(), r.clone(), sat));
                }
            }
        }
        out
    }
}

/// A planted cross-chain link: an Ethereum bridge deposit released on Bitcoin.
#[derive(Debug, Clone)]
pub struct Link {
    pub id: String,
    pub deposit_tx: [u8; 32],
    pub wei: u128,
    pub release_tx: [u8; 32],
    pub release_address: Rc<str>,
    pub sat: u64,
}

/// Bitcoin's synthetic services: exchange hot wallets and deposit addresses, the bridge's vault,
/// miners, users.
pub struct BtcWorld {
    pub hot: Vec<Rc<str>>,
    /// Deposit addresses, per exchange.
    pub deposits: Vec<Vec<Rc<str>>>,
    pub vault: Rc<str>,
    pub miners: Vec<Rc<str>>,
    pub users: Vec<Rc<str>>,
    /// What a service address is (the background's behaviour).
    owner: std::collections::HashMap<Rc<str>, Owner>,
}

#[derive(Debug, Clone, Copy)]
enum Owner {
    /// A deposit address of exchange n.
    Deposit(usize),
    Hot,
}

const DEPOSITS_PER_EXCHANGE: u64 = 100;

impl BtcWorld {
    pub fn new(world: &World) -> Result<BtcWorld> {
        let s = world.seed;
        let hot = (0..world.exchanges.len() as u64).map(|i| btc_address(s, "hot", i, false).map(Rc::from)).collect::<Result<_>>()?;
        let deposits = (0..world.exchanges.len() as u64)
            .map(|e| (0..DEPOSITS_PER_EXCHANGE).map(|d| btc_address(s, &format!("deposit-{e}"), d, d % 3 == 0).map(Rc::from)).collect())
            .collect::<Result<_>>()?;
        let miners = (0..4).map(|i| btc_address(s, "miner", i, false).map(Rc::from)).collect::<Result<_>>()?;
        let users = (0..world.users).map(|i| btc_address(s, "user", i, i % 2 == 1).map(Rc::from)).collect::<Result<_>>()?;
        let hot: Vec<Rc<str>> = hot;
        let deposits: Vec<Vec<Rc<str>>> = deposits;
        let mut owner = std::collections::HashMap::new();
        for h in &hot {
            owner.insert(h.clone(), Owner::Hot);
        }
        for (e, d) in deposits.iter().enumerate() {
            for a in d {
                owner.insert(a.clone(), Owner::Deposit(e));
            }
        }
        Ok(BtcWorld { hot, deposits, vault: Rc::from(btc_address(s, "vault", 0, false)?), miners, users, owner })
    }

    /// The labels of the Bitcoin services and attackers, for the TagPack and the truth.
    pub fn labels(&self, world: &World) -> Vec<(String, Label)> {
        let mut out = Vec::new();
        for (i, (ex, _)) in world.exchanges.iter().enumerate() {
            let label = |what: String| Label { actor: ex.clone(), category: "exchange".into(), label: what, confidence: "service_data" };
            out.push((self.hot[i].to_string(), label(format!("{ex} BTC hot wallet (synthetic)"))));
            for (d, a) in self.deposits[i].iter().enumerate() {
                out.push((a.to_string(), label(format!("{ex} BTC deposit {d} (synthetic)"))));
            }
        }
        out.push((
            self.vault.to_string(),
            Label {
                actor: "thorchain".into(),
                category: "bridge".into(),
                label: "bridge vault on Bitcoin (synthetic)".into(),
                confidence: "service_data",
            },
        ));
        for inc in &world.incidents {
            if let Some(b) = &inc.btc {
                out.push((
                    b.attacker.clone(),
                    Label {
                        actor: inc.actor.clone(),
                        category: "user".into(),
                        label: format!("{} attacker (Bitcoin)", inc.name),
                        confidence: "authority_data",
                    },
                ));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.dedup_by(|a, b| a.0 == b.0);
        out
    }
}

/// The planted Bitcoin transactions, the links, and what they did to the stolen value.
pub struct BtcPlan {
    /// In time order.
    pub txs: Vec<BtcTx>,
    pub links: Vec<Link>,
    /// (incident, destination) -> (satoshi, USD on the day it arrived).
    pub arrived: BTreeMap<(usize, String), (u64, f64)>,
    /// Incident -> satoshi still on the attacker's and fresh addresses at the end.
    pub dormant: BTreeMap<usize, u64>,
}

/// Planned transactions, before sorting: (time, sequence, tx).
struct Planner<'a> {
    world: &'a World,
    bw: &'a BtcWorld,
    end: i64,
    seq: u64,
    txs: Vec<(i64, u64, BtcTx)>,
    arrived: BTreeMap<(usize, String), (u64, f64)>,
    dormant: BTreeMap<usize, u64>,
}

impl Planner<'_> {
    fn btc_usd(&self, sat: u64, time: i64) -> f64 {
        self.world.series_price("BTC", day_of(time)).map_or(0.0, |p| sat as f64 / 1e8 * p)
    }

    fn sat_for_usd(&self, usd: f64, day: i32) -> u64 {
        let p = self.world.series_price("BTC", day).unwrap_or(30_000.0);
        (usd / p * 1e8).max(1.0) as u64
    }

    /// Plan a transaction (None when it falls after the range: the chain stops there).
    fn tx(&mut self, time: i64, inputs: Vec<Utxo>, outputs: Vec<(Rc<str>, u64)>, plant: Option<BtcPlant>) -> Option<BtcTx> {
        if time > self.end {
            return None;
        }
        self.seq += 1;
        let tx = BtcTx {
            time,
            txid: synth_hash(self.world.seed ^ 0xb7c0_0000_0002, self.seq),
            coinbase: inputs.is_empty(),
            inputs,
            outputs: outputs.into_iter().map(|(a, v)| (Some(a), v)).collect(),
            plant,
        };
        self.txs.push((time, self.seq, tx.clone()));
        Some(tx)
    }

    fn arrive(&mut self, incident: usize, dest: &str, sat: u64, time: i64) {
        let usd = self.btc_usd(sat, time);
        let e = self.arrived.entry((incident, dest.to_string())).or_default();
        e.0 += sat;
        e.1 += usd;
    }

    fn deposit(&self, rng: &mut ChaCha8Rng) -> Rc<str> {
        let e = rng.random_range(0..self.bw.deposits.len());
        self.bw.deposits[e][rng.random_range(0..self.bw.deposits[e].len())].clone()
    }
}

/// Plan the Bitcoin side of the incidents and the links of the Ethereum bridge deposits in
/// `eth_planted`.
pub fn plan(world: &World, bw: &BtcWorld, eth_planted: &[EthTx]) -> Result<BtcPlan> {
    let seed = world.seed;
    let start = world.from_day as i64 * 86_400;
    let mut p = Planner {
        world,
        bw,
        end: (world.to_day as i64 + 1) * 86_400 - 1,
        seq: 0,
        txs: Vec::new(),
        arrived: BTreeMap::new(),
        dormant: BTreeMap::new(),
    };
    let fresh = |kind: String, n: u64| -> Result<Rc<str>> { btc_address(seed, &kind, n, false).map(Rc::from) };
    let plant = |incident: usize, path: u32, hop: u32, role: Role| Some(BtcPlant { incident, role, path, hop });
    // The bridge's vault, minted in the range's second block (the first is the background's, so
    // that it has coins to spend from the start).
    let mut vault = p.tx(start + BTC_BLOCK_SECONDS, vec![], vec![(bw.vault.clone(), 10_000_000_000_000)], None).map(|t| t.out(0));
    // Funding coinbases each get a block of their own (a block has one coinbase), from the third.
    let mut next_block = 2i64;
    let mut coinbase_at = || {
        next_block += 1;
        start + (next_block - 1) * BTC_BLOCK_SECONDS
    };

    for (k, inc) in world.incidents.iter().enumerate() {
        let Some(b) = &inc.btc else { continue };
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (0xb7c0 + k as u64));
        let theft_t = inc.day as i64 * 86_400 + 11 * 3600 + rng.random_range(0..3600);
        let stolen = p.sat_for_usd(inc.reported_usd * b.share, inc.day);
        let victim: Rc<str> = Rc::from(b.victim.as_str());
        let attacker: Rc<str> = Rc::from(b.attacker.as_str());
        let funding = stolen + stolen / 10 + PLANTED_FEE;
        let fund_t = coinbase_at();
        if fund_t >= theft_t {
            continue;
        }
        let Some(fund) = p.tx(fund_t, vec![], vec![(victim.clone(), funding)], plant(k, 0, 0, Role::Funding)) else { continue };
        let Some(theft) = p.tx(
            theft_t,
            vec![fund.out(0)],
            vec![(attacker.clone(), stolen), (victim.clone(), funding - stolen - PLANTED_FEE)],
            plant(k, 0, 0, Role::Theft),
        ) else {
            continue;
        };
        // Too little to launder with fees (a theft of a few dollars): it stays at the attacker.
        if stolen <= 100 * PLANTED_FEE {
            *p.dormant.entry(k).or_default() += stolen;
            continue;
        }
        // Split: four fresh addresses; a tenth (less the fee) stays at the attacker.
        let to_split = stolen / 10 * 9;
        let weights: Vec<f64> = (0..4).map(|_| 0.5 + rng.random::<f64>()).collect();
        let wsum: f64 = weights.iter().sum();
        let mut amounts: Vec<u64> = weights[..3].iter().map(|w| (to_split as f64 * w / wsum) as u64).collect();
        amounts.push(to_split - amounts.iter().sum::<u64>());
        let fresh_addrs: Vec<Rc<str>> = (0..4).map(|q| fresh(format!("fresh-{k}-{q}"), 0)).collect::<Result<_>>()?;
        let mut outs: Vec<(Rc<str>, u64)> = fresh_addrs.iter().cloned().zip(amounts.iter().copied()).collect();
        outs.push((attacker.clone(), stolen - to_split - PLANTED_FEE));
        let split_t = theft_t + 86_400 + rng.random_range(600..7200);
        let Some(split) = p.tx(split_t, vec![theft.out(0)], outs, plant(k, 0, 1, Role::Split)) else {
            *p.dormant.entry(k).or_default() += stolen;
            continue;
        };
        p.arrive(k, "fee", PLANTED_FEE, split_t);
        *p.dormant.entry(k).or_default() += stolen - to_split - PLANTED_FEE;
        // Path 1: a peel chain, each hop peeling 5-15% to an exchange deposit address.
        let mut cur = split.out(0);
        let mut t = split_t + rng.random_range(86_400..30 * 86_400);
        let mut ended = false;
        for hop in 1..=4u32 {
            let peel = (cur.value as f64 * rng.random_range(0.05..0.15)) as u64;
            let dep = p.deposit(&mut rng);
            let next = fresh(format!("fresh-{k}-0"), hop as u64)?;
            let Some(rest) = cur.value.checked_sub(peel + 2 * PLANTED_FEE).map(|r| r + PLANTED_FEE) else {
                ended = true;
                break;
            };
            let Some(tx) = p.tx(t, vec![cur.clone()], vec![(dep, peel), (next, rest)], plant(k, 1, hop, Role::Peel)) else {
                ended = true;
                break;
            };
            p.arrive(k, "exchange", peel, t);
            p.arrive(k, "fee", PLANTED_FEE, t);
            cur = tx.out(1);
            t += rng.random_range(2 * 86_400..10 * 86_400);
        }
        let dep = p.deposit(&mut rng);
        if !ended
            && cur.value > 2 * PLANTED_FEE
            && p.tx(t, vec![cur.clone()], vec![(dep, cur.value - PLANTED_FEE)], plant(k, 1, 5, Role::Exchange)).is_some()
        {
            p.arrive(k, "exchange", cur.value - PLANTED_FEE, t);
            p.arrive(k, "fee", PLANTED_FEE, t);
        } else {
            *p.dormant.entry(k).or_default() += cur.value;
        }
        // Path 2: a JoinMarket-style coinjoin with four clean peers (five equal outputs of half
        // the stolen input, a change each).
        let mixed = split.out(1);
        let peers: Vec<Utxo> = (0..4u64)
            .map(|j| -> Result<Option<Utxo>> {
                let a = fresh(format!("peer-{k}"), j)?;
                Ok(p.tx(coinbase_at(), vec![], vec![(a, mixed.value + 50_000 + j * 1_000)], None).map(|t| t.out(0)))
            })
            .collect::<Result<Option<_>>>()?
            .unwrap_or_default();
        let cj_t = split_t + rng.random_range(86_400..20 * 86_400);
        let denom = mixed.value / 2;
        let share_fee = 5_000u64;
        let mut inputs = vec![mixed.clone()];
        inputs.extend(peers.iter().cloned());
        let mut outs = Vec::new();
        for (j, i) in inputs.iter().enumerate() {
            outs.push((fresh(format!("cj-{k}"), j as u64)?, denom));
            outs.push((i.address.clone(), i.value.saturating_sub(denom + share_fee)));
        }
        if peers.len() == 4 && mixed.value > 4 * share_fee && p.tx(cj_t, inputs, outs, plant(k, 2, 1, Role::Mixer)).is_some() {
            p.arrive(k, "mixer", mixed.value, cj_t);
        } else {
            *p.dormant.entry(k).or_default() += mixed.value;
        }
        // Path 3: straight to an exchange deposit address.
        let direct = split.out(2);
        let dt = split_t + rng.random_range(86_400..40 * 86_400);
        let dep = p.deposit(&mut rng);
        if direct.value > 2 * PLANTED_FEE
            && p.tx(dt, vec![direct.clone()], vec![(dep, direct.value - PLANTED_FEE)], plant(k, 3, 1, Role::Exchange)).is_some()
        {
            p.arrive(k, "exchange", direct.value - PLANTED_FEE, dt);
            p.arrive(k, "fee", PLANTED_FEE, dt);
        } else {
            *p.dormant.entry(k).or_default() += direct.value;
        }
        // Path 4: dormant.
        *p.dormant.entry(k).or_default() += split.out(3).value;
    }

    // Ethereum bridge deposits released on Bitcoin: the vault pays a fresh address, which pays an
    // exchange deposit address days later.
    let mut links = Vec::new();
    let mut deposits: Vec<&EthTx> = eth_planted.iter().filter(|t| t.plant.as_ref().is_some_and(|x| x.role == Role::Bridge)).collect();
    deposits.sort_by_key(|t| t.time);
    for (n, d) in deposits.into_iter().enumerate() {
        let (Some(pl), Some(hash)) = (&d.plant, d.hash) else { continue };
        let k = pl.incident;
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (0xb71d_0000 + n as u64));
        let eth_usd = world.price(0, day_of(d.time)).map_or(0.0, |px| d.amount as f64 / 1e18 * px);
        let rt = d.time + 1800;
        let sat = p.sat_for_usd(eth_usd * (1.0 - BRIDGE_KEEPS), day_of(rt));
        let Some(v) = vault.clone() else { break };
        if sat + 10_000 > v.value {
            break;
        }
        if sat <= 2 * PLANTED_FEE {
            continue;
        }
        let to = fresh(format!("bridged-{k}"), n as u64)?;
        let Some(release) = p.tx(
            rt,
            vec![v.clone()],
            vec![(to.clone(), sat), (bw.vault.clone(), v.value - sat - 10_000)],
            plant(k, pl.path, 100, Role::Bridge),
        ) else {
            continue;
        };
        vault = Some(release.out(1));
        links.push(Link {
            id: format!("synth-{}-{n}", world.incidents[k].id),
            deposit_tx: hash,
            wei: d.amount,
            release_tx: release.txid,
            release_address: to,
            sat,
        });
        let et = rt + rng.random_range(86_400..5 * 86_400);
        let dep = p.deposit(&mut rng);
        if p.tx(et, vec![release.out(0)], vec![(dep, sat - PLANTED_FEE)], plant(k, pl.path, 101, Role::Exchange)).is_some() {
            p.arrive(k, "exchange (bridged to bitcoin)", sat - PLANTED_FEE, et);
            p.arrive(k, "fee (bridged to bitcoin)", PLANTED_FEE, et);
        } else {
            let e = p.arrived.entry((k, "dormant (bridged to bitcoin)".into())).or_default();
            e.0 += sat;
        }
    }
    let mut txs = p.txs;
    // A coinbase first in its block: before any planted transaction of the same second.
    txs.sort_by_key(|(t, s, tx)| (*t, !tx.coinbase, *s));
    Ok(BtcPlan { txs: txs.into_iter().map(|(_, _, t)| t).collect(), links, arrived: p.arrived, dormant: p.dormant })
}

/// Background transactions in time order, spending a bounded pool of unspent outputs.
pub struct Background<'a> {
    bw: &'a BtcWorld,
    world: &'a World,
    seed: u64,
    n: u64,
    i: u64,
    start: i64,
    span: f64,
    pool: Vec<Utxo>,
    made: u64,
}

impl<'a> Background<'a> {
    pub fn new(world: &'a World, bw: &'a BtcWorld, n: u64) -> Background<'a> {
        let start = world.from_day as i64 * 86_400;
        let end = (world.to_day as i64 + 1) * 86_400 - 1;
        Background { bw, world, seed: world.seed, n, i: 0, start, span: (end - start) as f64, pool: Vec::new(), made: 0 }
    }

    /// The time of the next background transaction (None: all written). Transactions come in
    /// blocks of at least [`TXS_PER_BLOCK`] (more when the range has fewer blocks than that needs),
    /// spread evenly over the range.
    pub fn next_time(&mut self, rng: &mut ChaCha8Rng) -> Option<i64> {
        if self.i >= self.n {
            return None;
        }
        let span_blocks = (self.span as i64 / BTC_BLOCK_SECONDS).max(1) as u64;
        let per = TXS_PER_BLOCK.max(self.n.div_ceil(span_blocks));
        let groups = self.n.div_ceil(per);
        let group = self.i / per;
        let block = (group as f64 * span_blocks as f64 / groups as f64) as i64;
        // In the block, evenly spaced, a little jitter within each slot.
        let slot = BTC_BLOCK_SECONDS / per.min(BTC_BLOCK_SECONDS as u64) as i64;
        let within = ((self.i % per) as i64 * slot).min(BTC_BLOCK_SECONDS - 1);
        let jitter = if slot > 1 { rng.random_range(0..slot) } else { 0 };
        self.i += 1;
        Some(self.start + block * BTC_BLOCK_SECONDS + (within + jitter).min(BTC_BLOCK_SECONDS - 1))
    }

    fn txid(&mut self) -> [u8; 32] {
        self.made += 1;
        synth_hash(self.seed ^ 0xb7c0_0000_0001, self.made)
    }

    /// The coinbase of a block that starts at `time`.
    pub fn coinbase(&mut self, time: i64, rng: &mut ChaCha8Rng) -> BtcTx {
        let miner = self.bw.miners[rng.random_range(0..self.bw.miners.len())].clone();
        let tx = BtcTx { time, txid: self.txid(), coinbase: true, inputs: vec![], outputs: vec![(Some(miner), COINBASE_SAT)], plant: None };
        self.pool.push(tx.out(0));
        tx
    }

    /// A background transaction at `time` (None while no output is unspent yet).
    pub fn build(&mut self, time: i64, rng: &mut ChaCha8Rng) -> Option<BtcTx> {
        let bw = self.bw;
        if self.pool.is_empty() {
            return None;
        }
        // The sender is the owner of a random unspent output; a wallet spends its own outputs
        // only: up to two more of the sender's, found among a few random picks (more above the
        // pool's cap, where payments also leave no change, so that the pool stops growing).
        let full = self.pool.len() > POOL_CAP;
        let first = self.pool.swap_remove(rng.random_range(0..self.pool.len()));
        let extra = if full { 3 } else { rng.random_range(0..=2usize) };
        let mut inputs = vec![first];
        for _ in 0..if full { 64 } else { 16 } {
            if inputs.len() > extra || self.pool.is_empty() {
                break;
            }
            let k = rng.random_range(0..self.pool.len());
            if self.pool[k].address == inputs[0].address {
                inputs.push(self.pool.swap_remove(k));
            }
        }
        let total: u64 = inputs.iter().map(|u| u.value).sum();
        let sender = inputs[0].address.clone();
        let fee = (1_000 + rng.random_range(0..4_000u64)).min(total / 10);
        let spend = total - fee;
        let mut outputs: Vec<(Option<Rc<str>>, u64)> = Vec::new();
        match bw.owner.get(&sender) {
            // A deposit address sweeps to its exchange's hot wallet.
            Some(Owner::Deposit(e)) => outputs.push((Some(bw.hot[*e].clone()), spend)),
            owner => {
                let r: f64 = rng.random();
                let to = if matches!(owner, Some(Owner::Hot)) || r < 0.55 {
                    // Heavy-tailed activity: low user numbers are far more active.
                    bw.users[(bw.users.len() as f64 * rng.random::<f64>().powi(3)) as usize].clone()
                } else if r < 0.85 {
                    let e = rng.random_range(0..bw.deposits.len());
                    bw.deposits[e][rng.random_range(0..bw.deposits[e].len())].clone()
                } else if r < 0.90 {
                    bw.vault.clone()
                } else {
                    sender.clone()
                };
                // A payment of $1 to $1M (heavy-tailed, like the Ethereum side's), the rest back as
                // change; a payment to oneself consolidates the inputs.
                let usd = super::log_uniform(rng, 1.0, 1_000_000.0);
                let px = self.world.series_price("BTC", day_of(time)).unwrap_or(30_000.0);
                let want = ((usd / px * 1e8) as u64).max(1_000);
                let pay = if to == sender || spend < 10_000 || full { spend } else { want.min(spend) };
                outputs.push((Some(to), pay));
                if spend > pay {
                    outputs.push((Some(sender.clone()), spend - pay));
                }
            }
        }
        if rng.random_range(0..100) == 0 {
            outputs.push((None, 0));
        }
        let tx = BtcTx { time, txid: self.txid(), coinbase: false, inputs, outputs, plant: None };
        for (v, (a, value)) in tx.outputs.iter().enumerate() {
            if a.is_some() && *value > 0 {
                self.pool.push(tx.out(v as u32));
            }
        }
        Some(tx)
    }
}

/// Writes the transactions as bitcoin-etl JSON lines, in block-range chunks under
/// `bitcoin/{blocks,transactions}/start_block=…/end_block=…/`, plain or gzip-compressed
/// (`.json.gz`, compressed on a thread of its own while the next chunk is generated).
pub struct BtcWriter {
    dir: PathBuf,
    gzip: bool,
    /// The thread that compresses and writes finished chunks (gzip only; one chunk waits at most).
    writer: Option<ChunkWriter>,
    start: i64,
    chunk_blocks: i64,
    chunk_start: Option<i64>,
    blocks: String,
    txs: String,
    block: Option<(i64, i64, [u8; 32])>,
    in_block: Vec<String>,
    pub blocks_written: u64,
    pub txs_written: u64,
    pub files: usize,
}

impl BtcWriter {
    pub fn new(dir: &Path, world: &World, txs: u64, gzip: bool) -> BtcWriter {
        let span_blocks = ((world.to_day - world.from_day + 1) as i64 * 86_400 / BTC_BLOCK_SECONDS).max(1);
        let per = (span_blocks as f64 * TXS_PER_FILE as f64 / txs.max(1) as f64).ceil() as i64;
        BtcWriter {
            dir: dir.join("bitcoin"),
            gzip,
            writer: None,
            start: world.from_day as i64 * 86_400,
            chunk_blocks: (per.div_euclid(1000) * 1000).max(1000),
            chunk_start: None,
            blocks: String::new(),
            txs: String::new(),
            block: None,
            in_block: Vec::new(),
            blocks_written: 0,
            txs_written: 0,
            files: 0,
        }
    }

    /// The block of a time, and the block's own time.
    pub fn block_of(&self, time: i64) -> (i64, i64) {
        let b = BTC_FIRST_BLOCK + (time - self.start).div_euclid(BTC_BLOCK_SECONDS);
        (b, self.start + (b - BTC_FIRST_BLOCK) * BTC_BLOCK_SECONDS)
    }

    /// Whether `time` falls in a block that has no transaction yet.
    pub fn starts_block(&self, time: i64) -> bool {
        self.block.is_none_or(|(b, _, _)| b != self.block_of(time).0)
    }

    /// Add a transaction (times must not decrease; a coinbase first in its block); returns its
    /// block number and block time.
    pub fn push(&mut self, tx: &BtcTx) -> Result<(i64, i64)> {
        let (block, block_time) = self.block_of(tx.time);
        if self.starts_block(tx.time) {
            if self.block.is_some_and(|(b, _, _)| b > block) {
                return Err(Error::Internal("synthetic Bitcoin transactions out of time order".into()));
            }
            if !tx.coinbase {
                return Err(Error::Internal("a synthetic Bitcoin block must start with its coinbase".into()));
            }
            self.end_block();
            let cstart = BTC_FIRST_BLOCK + (block - BTC_FIRST_BLOCK).div_euclid(self.chunk_blocks) * self.chunk_blocks;
            if self.chunk_start.is_some_and(|c| c != cstart) {
                self.flush()?;
            }
            self.chunk_start = Some(cstart);
            self.block = Some((block, block_time, synth_hash(0xb7c_b10c, block as u64)));
        } else if tx.coinbase {
            return Err(Error::Internal("a second coinbase in a synthetic Bitcoin block".into()));
        }
        let (_, _, bhash) = self.block.unwrap_or((block, block_time, [0; 32]));
        let mut s = String::with_capacity(512);
        s.push_str(&format!(
            "{{\"hash\": \"{}\", \"size\": {}, \"virtual_size\": {}, \"version\": 2, \"lock_time\": 0, \"block_number\": {block}, \"block_hash\": \"{}\", \"block_timestamp\": {block_time}, \"is_coinbase\": {}, \"index\": {}, \"inputs\": [",
            hex::encode(tx.txid),
            60 + 148 * tx.inputs.len() + 34 * tx.outputs.len(),
            60 + 68 * tx.inputs.len() + 31 * tx.outputs.len(),
            hex::encode(bhash),
            tx.coinbase,
            self.in_block.len()
        ));
        for (i, u) in tx.inputs.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            s.push_str(&format!(
                "{{\"index\": {i}, \"spent_transaction_hash\": \"{}\", \"spent_output_index\": {}, \"script_asm\": \"\", \"script_hex\": \"\", \"sequence\": 4294967295, \"required_signatures\": null, \"type\": null, \"addresses\": [], \"value\": null}}",
                hex::encode(u.txid),
                u.vout
            ));
        }
        s.push_str("], \"outputs\": [");
        for (i, (a, v)) in tx.outputs.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            let (kind, addrs) = match a {
                None => ("nulldata", String::new()),
                Some(a) if a.starts_with('1') => ("pubkeyhash", format!("\"{a}\"")),
                Some(a) => ("witness_v0_keyhash", format!("\"{a}\"")),
            };
            s.push_str(&format!(
                "{{\"index\": {i}, \"script_asm\": \"\", \"script_hex\": \"\", \"required_signatures\": {}, \"type\": \"{kind}\", \"addresses\": [{addrs}], \"value\": {v}}}",
                if a.is_some() { "1" } else { "null" }
            ));
        }
        let out_value: u64 = tx.outputs.iter().map(|(_, v)| v).sum();
        s.push_str(&format!(
            "], \"input_count\": {}, \"output_count\": {}, \"input_value\": null, \"output_value\": {out_value}, \"fee\": null}}\n",
            tx.inputs.len(),
            tx.outputs.len()
        ));
        self.in_block.push(s);
        Ok((block, block_time))
    }

    fn end_block(&mut self) {
        let Some((number, time, hash)) = self.block.take() else { return };
        self.blocks.push_str(&format!(
            "{{\"hash\": \"{}\", \"size\": 1000, \"stripped_size\": 900, \"weight\": 3600, \"number\": {number}, \"version\": 536870912, \"merkle_root\": \"{}\", \"timestamp\": {time}, \"nonce\": \"00000000\", \"bits\": \"170e92aa\", \"coinbase_param\": \"\", \"transaction_count\": {}}}\n",
            hex::encode(hash),
            hex::encode(synth_hash(0xb7c_7007, number as u64)),
            self.in_block.len()
        ));
        self.blocks_written += 1;
        self.txs_written += self.in_block.len() as u64;
        for t in self.in_block.drain(..) {
            self.txs.push_str(&t);
        }
    }

    fn flush(&mut self) -> Result<()> {
        let Some(start) = self.chunk_start else { return Ok(()) };
        let end = start + self.chunk_blocks - 1;
        for (what, text) in [("blocks", std::mem::take(&mut self.blocks)), ("transactions", std::mem::take(&mut self.txs))] {
            if text.is_empty() {
                continue;
            }
            let dir = self.dir.join(what).join(format!("start_block={start:08}")).join(format!("end_block={end:08}"));
            std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
            let p = dir.join(format!("{what}_{start:08}_{end:08}.json{}", if self.gzip { ".gz" } else { "" }));
            if self.gzip {
                if self.writer.get_or_insert_with(ChunkWriter::start).tx.send((p, text)).is_err() {
                    // The thread stopped on an error: that error says why.
                    let stopped = self.writer.take().map_or(Ok(()), ChunkWriter::finish);
                    return stopped.and(Err(Error::Internal("the chunk writer stopped".into())));
                }
            } else {
                write_chunk(&p, text.as_bytes(), false)?;
            }
            self.files += 1;
        }
        Ok(())
    }

    /// Write the last block and chunk; returns (blocks, transactions, files).
    pub fn finish(mut self) -> Result<(u64, u64, usize)> {
        self.end_block();
        self.flush()?;
        if let Some(w) = self.writer.take() {
            w.finish()?;
        }
        Ok((self.blocks_written, self.txs_written, self.files))
    }
}

impl Drop for BtcWriter {
    /// A writer dropped on an error still waits for its thread (which then stops).
    fn drop(&mut self) {
        if let Some(w) = self.writer.take() {
            let _ = w.finish();
        }
    }
}

/// Write one chunk file, gzip-compressed at the fastest level if asked (the gzip header carries no
/// time or name: the same text gives the same bytes).
fn write_chunk(p: &Path, text: &[u8], gzip: bool) -> Result<()> {
    let f = std::io::BufWriter::new(std::fs::File::create(p).map_err(|e| Error::io("creating", p, e))?);
    let done = if gzip {
        let mut z = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        z.write_all(text).and_then(|()| z.finish()).and_then(|mut f| f.flush())
    } else {
        let mut f = f;
        f.write_all(text).and_then(|()| f.flush())
    };
    done.map_err(|e| Error::io("writing", p, e))
}

/// Compresses and writes chunks on a thread of its own.
struct ChunkWriter {
    tx: std::sync::mpsc::SyncSender<(PathBuf, String)>,
    handle: std::thread::JoinHandle<Result<()>>,
}

impl ChunkWriter {
    fn start() -> ChunkWriter {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(PathBuf, String)>(1);
        let handle = std::thread::spawn(move || -> Result<()> {
            for (p, text) in rx {
                write_chunk(&p, text.as_bytes(), true)?;
            }
            Ok(())
        });
        ChunkWriter { tx, handle }
    }

    fn finish(self) -> Result<()> {
        drop(self.tx);
        self.handle.join().map_err(|_| Error::Internal("the chunk writer panicked".into()))?
    }
}

/// The labels and the links file the Bitcoin side adds beside the chains.
pub fn side_files(world: &World, bw: &BtcWorld, links: &[Link]) -> BtcSideFiles {
    let mut text = String::from(
        "id,source_chain,deposit_tx,source_asset,source_amount,destination_chain,release_tx,release_address,destination_asset,destination_amount,link_source,notes\n",
    );
    for l in links {
        text.push_str(&format!(
            "{},ethereum,0x{},ETH,{},bitcoin,{},{},BTC,{},ifr synth,a planted bridge release\n",
            l.id,
            hex::encode(l.deposit_tx),
            decimal(l.wei, 18),
            hex::encode(l.release_tx),
            l.release_address,
            decimal(l.sat as u128, 8)
        ));
    }
    BtcSideFiles { labels: bw.labels(world), links_csv: text }
}

/// An amount of raw units as a decimal in whole units (`decimals` places, trailing zeros cut).
pub fn decimal(raw: u128, decimals: u32) -> String {
    let scale = 10u128.pow(decimals);
    let (whole, frac) = (raw / scale, raw % scale);
    if frac == 0 {
        return whole.to_string();
    }
    let f = format!("{frac:0width$}", width = decimals as usize);
    format!("{whole}.{}", f.trim_end_matches('0'))
}
