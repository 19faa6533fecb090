//! The expected answers, computed from the generated transfers as they are written (never by
//! running the pipeline). The rules are written out in `truth/README.md`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;

use super::bitcoin::BtcTx;
use super::writer::Placed;
use super::{Role, Tx, World, day_of, hex20};
use crate::error::{Error, Result};

#[derive(Default, Clone, Copy)]
struct Sum {
    usd: f64,
    transfers: u64,
    unpriced: u64,
}

impl Sum {
    fn add(&mut self, usd: Option<f64>) {
        self.transfers += 1;
        match usd {
            Some(v) => self.usd += v,
            None => self.unpriced += 1,
        }
    }
}

pub struct Truth<'a> {
    world: &'a World,
    /// address -> (actor, report category)
    actor_of: HashMap<[u8; 20], (String, &'static str)>,
    chains: HashMap<String, Vec<String>>,
    totals: BTreeMap<(String, i32, &'static str), Sum>,
    destinations: BTreeMap<(String, i32, &'static str), Sum>,
    incidents: String,
    laundering: String,
    laundering_addrs: HashSet<[u8; 20]>,
    balances: BTreeMap<(usize, [u8; 20], usize), i128>,
    arrived: BTreeMap<(usize, &'static str, usize), (u128, f64)>,
    /// Bitcoin address -> (actor, report category).
    btc_actor_of: HashMap<String, (String, &'static str)>,
    /// Bitcoin destinations of the incidents: (incident, destination) -> (satoshi, USD), and what
    /// is dormant (satoshi), from the plan.
    btc_arrived: BTreeMap<(usize, String), (u64, f64)>,
    btc_dormant: BTreeMap<usize, u64>,
}

/// The report category the truth expects for the categories the generator writes (its own labels
/// and data/reference/tagpack.yaml's), as README documents them — written here, not taken from
/// ifr's code, so that a wrong mapping in ifr fails the tests.
fn expected_category(category: &str) -> &'static str {
    match category {
        "exchange" => "exchange",
        "mixing_service" => "mixer",
        "bridge" => "bridge",
        "defi_dex" => "defi",
        _ => "other",
    }
}

impl<'a> Truth<'a> {
    pub fn new(world: &'a World, btc_labels: &[(String, super::world::Label)]) -> Truth<'a> {
        let mut actor_of = HashMap::new();
        for (a, l) in &world.labels {
            actor_of.insert(*a, (l.actor.clone(), expected_category(&l.category)));
        }
        for s in &world.sanctioned {
            actor_of.entry(*s).or_insert_with(|| ("lazarus_group".to_string(), "sanctioned"));
        }
        let mut laundering_addrs = HashSet::new();
        for inc in &world.incidents {
            laundering_addrs.insert(inc.attacker);
        }
        Truth {
            world,
            actor_of,
            chains: HashMap::new(),
            totals: BTreeMap::new(),
            destinations: BTreeMap::new(),
            incidents: String::from("incident,actor,date,reported_usd,asset,amount_raw,value_usd,tx_hash,block_number\n"),
            laundering: String::from("incident,path,hop,role,from_address,to_address,asset,amount_raw,value_usd,block_number,tx_hash\n"),
            laundering_addrs,
            balances: BTreeMap::new(),
            arrived: BTreeMap::new(),
            btc_actor_of: btc_labels.iter().map(|(a, l)| (a.clone(), (l.actor.clone(), expected_category(&l.category)))).collect(),
            btc_arrived: BTreeMap::new(),
            btc_dormant: BTreeMap::new(),
        }
    }

    /// Count one transfer in the actors' totals: inflow to the receiver's actors that are not the
    /// sender's, outflow (and its destination category) from the sender's that are not the
    /// receiver's.
    fn account(&mut self, from: Option<String>, to: Option<(String, &'static str)>, year: i32, usd: Option<f64>) {
        let from_chain = from.map(|a| self.chain(&a)).unwrap_or_default();
        let to_chain = to.as_ref().map(|(a, _)| self.chain(a)).unwrap_or_default();
        let to_category = to.as_ref().map_or("unlabelled", |(_, c)| *c);
        for x in to_chain.iter().filter(|x| !from_chain.contains(x)) {
            self.totals.entry((x.clone(), year, "inflow")).or_default().add(usd);
        }
        for x in from_chain.iter().filter(|x| !to_chain.contains(x)) {
            self.totals.entry((x.clone(), year, "outflow")).or_default().add(usd);
            self.destinations.entry((x.clone(), year, to_category)).or_default().add(usd);
        }
    }

    /// A theft transfer of an incident: stolen by its actor and the actor's ancestors, and a row of
    /// `incidents.csv` (asset, raw amount).
    fn theft(&mut self, incident: usize, year: i32, usd: Option<f64>, (asset, raw): (&str, &str), tx: &str, block: i64) {
        let inc = &self.world.incidents[incident];
        for x in self.chain(&inc.actor.clone()) {
            self.totals.entry((x, year, "stolen")).or_default().add(usd);
        }
        let inc = &self.world.incidents[incident];
        let _ = writeln!(
            self.incidents,
            "{},{},{},{},{asset},{raw},{},{tx},{block}",
            inc.id,
            inc.actor,
            crate::sources::day_to_string(inc.day),
            inc.reported_usd,
            usd.map_or(String::new(), |v| format!("{v:.6}")),
        );
    }

    /// One Bitcoin transaction as written in `block` at `block_time`: its flows by the proportional
    /// rule ([`BtcTx::flows`]) counted like transfers; a theft's flow to the attacker is stolen.
    pub fn observe_btc(&mut self, tx: &BtcTx, block: i64, block_time: i64) {
        let day = day_of(block_time);
        let year = chrono::DateTime::from_timestamp(block_time, 0).map_or(1970, |d| chrono::Datelike::year(&d));
        let price = self.world.series_price("BTC", day);
        let usd_of = |sat: u64| price.map(|p| sat as f64 / 1e8 * p);
        for (from, to, sat) in tx.flows() {
            let usd = usd_of(sat);
            let f = self.btc_actor_of.get(&*from).map(|(a, _)| a.clone());
            let t = self.btc_actor_of.get(&*to).cloned();
            self.account(f, t, year, usd);
            if let Some(plant) = tx.plant.filter(|p| p.role == Role::Theft) {
                let inc = &self.world.incidents[plant.incident];
                if inc.btc.as_ref().is_some_and(|b| *to == *b.attacker) {
                    self.theft(plant.incident, year, usd, ("BTC", &sat.to_string()), &hex::encode(tx.txid), block);
                }
            }
        }
        let Some(plant) = tx.plant else { return };
        let inc = &self.world.incidents[plant.incident];
        let from = tx.inputs.first().map_or(String::new(), |i| i.address.to_string());
        for (to, sat) in &tx.outputs {
            let Some(to) = to else { continue };
            let _ = writeln!(
                self.laundering,
                "{},{},{},{},{from},{to},BTC,{sat},{},{block},{}",
                inc.id,
                plant.path,
                plant.hop,
                plant.role.as_str(),
                usd_of(*sat).map_or(String::new(), |v| format!("{v:.6}")),
                hex::encode(tx.txid)
            );
        }
    }

    /// The Bitcoin side's destinations, as planned (see `synth/bitcoin.rs`).
    pub fn btc_destinations(&mut self, arrived: BTreeMap<(usize, String), (u64, f64)>, dormant: BTreeMap<usize, u64>) {
        self.btc_arrived = arrived;
        self.btc_dormant = dormant;
    }

    /// The actor and its ancestors (Lazarus Group counts in DPRK).
    fn chain(&mut self, actor: &str) -> Vec<String> {
        if let Some(c) = self.chains.get(actor) {
            return c.clone();
        }
        let mut out = vec![actor.to_string()];
        let mut cur = actor.to_string();
        while let Some(p) = self.world.parents.get(&cur) {
            if out.contains(p) {
                break;
            }
            out.push(p.clone());
            cur = p.clone();
        }
        self.chains.insert(actor.to_string(), out.clone());
        out
    }

    pub fn observe(&mut self, tx: &Tx, placed: &Placed) {
        let day = day_of(placed.block_time);
        let year = chrono::DateTime::from_timestamp(placed.block_time, 0).map_or(1970, |d| chrono::Datelike::year(&d));
        let token = &self.world.tokens[tx.token];
        let usd = self.world.price(tx.token, day).map(|p| tx.amount as f64 / 10f64.powi(token.decimals as i32) * p);

        let from = self.actor_of.get(&tx.from).map(|(a, _)| a.clone());
        let to = self.actor_of.get(&tx.to).cloned();
        self.account(from, to, year, usd);

        let Some(plant) = &tx.plant else { return };
        let inc = &self.world.incidents[plant.incident];
        let value = usd.map_or(String::new(), |v| format!("{v:.6}"));
        if plant.role == Role::Theft {
            let hash = format!("0x{}", hex::encode(placed.tx_hash));
            self.theft(plant.incident, year, usd, (&token.symbol, &tx.amount.to_string()), &hash, placed.block);
        }
        let _ = writeln!(
            self.laundering,
            "{},{},{},{},{},{},{},{},{},{},0x{}",
            inc.id,
            plant.path,
            plant.hop,
            plant.role.as_str(),
            hex20(&tx.from),
            hex20(&tx.to),
            token.symbol,
            tx.amount,
            value,
            placed.block,
            hex::encode(placed.tx_hash)
        );
        // Balances of the laundering addresses (attacker and fresh hops) give what stays dormant.
        if plant.role == Role::Funding {
            return;
        }
        if self.laundering_addrs.contains(&tx.from) {
            *self.balances.entry((plant.incident, tx.from, tx.token)).or_default() -= tx.amount as i128;
        }
        let arrival = match plant.role {
            Role::Exchange => Some("exchange"),
            Role::Mixer => Some("mixer"),
            Role::Bridge => Some("bridge"),
            Role::Swap if tx.to == self.world.dex => Some("defi"),
            _ => None,
        };
        match arrival {
            Some(dest) => {
                let e = self.arrived.entry((plant.incident, dest, tx.token)).or_default();
                e.0 += tx.amount;
                e.1 += usd.unwrap_or(0.0);
            }
            None => {
                self.laundering_addrs.insert(tx.to);
                *self.balances.entry((plant.incident, tx.to, tx.token)).or_default() += tx.amount as i128;
            }
        }
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        let w = |name: &str, text: &str| -> Result<()> {
            let p = dir.join(name);
            std::fs::write(&p, text).map_err(|e| Error::io("writing", &p, e))
        };
        let mut totals = String::from("actor,year,metric,value_usd,transfers,unpriced_transfers\n");
        for ((a, y, m), s) in &self.totals {
            let _ = writeln!(totals, "{a},{y},{m},{:.6},{},{}", s.usd, s.transfers, s.unpriced);
        }
        let mut dest = String::from("actor,year,category,value_usd,transfers\n");
        for ((a, y, c), s) in &self.destinations {
            let _ = writeln!(dest, "{a},{y},{c},{:.6},{}", s.usd, s.transfers);
        }
        let mut paths = String::from("incident,destination,asset,amount_raw,value_usd\n");
        let last_day = self.world.to_day;
        for ((i, d, t), (amount, usd)) in &self.arrived {
            let _ = writeln!(paths, "{},{d},{},{amount},{usd:.6}", self.world.incidents[*i].id, self.world.tokens[*t].symbol);
        }
        let mut dormant: BTreeMap<(usize, usize), i128> = BTreeMap::new();
        for ((i, _, t), b) in &self.balances {
            *dormant.entry((*i, *t)).or_default() += (*b).max(0);
        }
        for ((i, t), amount) in dormant.into_iter().filter(|(_, a)| *a > 0) {
            let token = &self.world.tokens[t];
            let usd = self.world.price(t, last_day).map_or(0.0, |p| amount as f64 / 10f64.powi(token.decimals as i32) * p);
            let _ = writeln!(paths, "{},dormant,{},{amount},{usd:.6}", self.world.incidents[i].id, token.symbol);
        }
        for ((i, d), (sat, usd)) in &self.btc_arrived {
            let _ = writeln!(paths, "{},{d},BTC,{sat},{usd:.6}", self.world.incidents[*i].id);
        }
        for (i, sat) in self.btc_dormant.iter().filter(|(_, s)| **s > 0) {
            let usd = self.world.series_price("BTC", last_day).map_or(0.0, |p| *sat as f64 / 1e8 * p);
            let _ = writeln!(paths, "{},dormant,BTC,{sat},{usd:.6}", self.world.incidents[*i].id);
        }
        w("actor_year_totals.csv", &totals)?;
        w("actor_destinations.csv", &dest)?;
        w("incidents.csv", &self.incidents)?;
        w("laundering.csv", &self.laundering)?;
        w("incident_destinations.csv", &paths)?;
        w("README.md", TRUTH_README)?;
        Ok(())
    }
}

const TRUTH_README: &str = "# truth/ — the expected answers of this synthetic dataset

Computed by `ifr synth` from the transfers as it wrote them, not by running the pipeline.

Attribution rules used (the report must follow the same ones to match):
- An address belongs to the actor of its label in `labels.yaml`; an address on the sanctions list
  (`sanctions/`) without a label belongs to the actor linked to its SDN party (Lazarus Group).
- An actor counts the addresses of its descendants (`parent` in `actors.yaml`): Lazarus Group's
  addresses count in DPRK.
- Year = UTC year of the block time. USD = amount / 10^decimals x the asset's close on the block's
  UTC day (`prices.csv`). A token with no price series (NOPX) adds to `transfers` and
  `unpriced_transfers` but not to `value_usd`.
- Bitcoin (when the dataset has a `bitcoin/` export): a transaction's transfers are GraphSense's
  proportional rule, applied to the transaction as written: the inputs' and the outputs' values
  are summed per address; each input address sends each output address
  `its inputs' value x that address's outputs' value / all inputs' value`, rounded down to the
  satoshi; a zero, an output without an address (OP_RETURN) and a coinbase give no transfer; an
  address paying itself (change) is a transfer inside its actor. The fee goes to no address.
  Labels of Bitcoin addresses are the TagPack's tags with `currency: BTC`.

Files:
- `actor_year_totals.csv` (`actor,year,metric,value_usd,transfers,unpriced_transfers`):
  `stolen` = theft transfers of the ledger's incidents attributed to the actor (on Bitcoin, the
  victim's transfer to the attacker in the theft transaction);
  `inflow` = transfers whose receiver is in the actor and whose sender is not;
  `outflow` = transfers whose sender is in the actor and whose receiver is not.
- `actor_destinations.csv` (`actor,year,category,value_usd,transfers`): outflows by the receiver's
  category: exchange, mixer, bridge, defi (from the label's GraphSense category), sanctioned (on the
  sanctions list, no label), other (any other label), unlabelled.
- `incidents.csv`: each incident's theft transfers (asset, exact raw amount, value on the day;
  Bitcoin txids without `0x`). An incident that lists Bitcoin and Ethereum is played out on
  Bitcoin for 25% of its reported USD and on Ethereum for the rest.
- `laundering.csv`: every planted transfer of every incident: funding of the victim, the theft,
  the DEX swap, splitting to fresh addresses, peel-chain hops, and arrivals at exchange deposit
  addresses, mixer pools and the bridge.
- `incident_destinations.csv`: per incident and asset, what arrived at exchanges, mixers, the bridge
  and the DEX (the swapped token), and what is still `dormant` at the attacker and fresh addresses
  at the end of the range (valued at the last day's close). On Bitcoin (asset BTC, satoshi): what
  reached exchange deposit addresses, the coinjoin (`mixer`: the whole tainted input that entered
  it, JoinMarket pattern: five equal outputs, a change each), the miners (`fee`, the fees of the
  transactions that moved stolen coins), and `dormant`; and, for an Ethereum bridge deposit
  released on Bitcoin by a planted link (`links.csv`), `exchange (bridged to bitcoin)` and
  `fee (bridged to bitcoin)`, valued at the close of the day it arrived. The `bridge` row of such an
  incident is what reached the bridge on Ethereum: with the links loaded, a tracer follows it on
  to the `(bridged to bitcoin)` rows instead of stopping there.
";
