//! The synthetic world: tokens and their daily prices, users, exchanges (hot wallets and deposit
//! addresses), a DEX, a bridge, mixer pools, sanctioned addresses, and the reference ledger's
//! incidents with the flows that play them out.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Plant, Role, SynthFormat, Tx, hex20, log_uniform, parse20, synth_address};
use crate::error::{Error, Result};
use crate::sources::days_since_epoch;

pub const REFERENCE_LEDGER: &str = include_str!("../../../data/reference/incidents.csv");
pub const REFERENCE_ACTORS: &str = include_str!("../../../data/reference/actors.yaml");
pub const REFERENCE_ASSETS: &str = include_str!("../../../data/reference/assets.csv");
pub const REFERENCE_TAGS: &str = include_str!("../../../data/reference/tagpack.yaml");
pub const REFERENCE_RECOVERIES: &str = include_str!("../../../data/reference/recoveries.csv");

/// Lazarus Group's ETH addresses on OFAC's SDN list (party 27307; sdn_advanced.xml of 2024-05-28).
pub const LAZARUS_SDN_ETH: [&str; 3] = [
    "0x098B716B8Aaf21512996dC57EB0615e2383E2f96",
    "0xa0e1c89Ef1a489c9C7dE96311eD5Ce5D32c20E4B",
    "0x3Cffd56B47B7b41c56258D9C7731ABaDc360E073",
];

#[derive(Debug, Clone)]
pub struct Token {
    pub symbol: String,
    /// None for the native coin.
    pub address: Option<[u8; 20]>,
    pub decimals: u32,
    /// The price series that values it; None: unpriced.
    pub price: Option<String>,
}

/// The share of an incident's reported USD played out on Bitcoin when it lists Bitcoin and Ethereum.
pub const BTC_SHARE: f64 = 0.25;

/// The Bitcoin side of an incident of the ledger.
#[derive(Debug, Clone)]
pub struct BtcParties {
    pub share: f64,
    pub victim: String,
    pub attacker: String,
}

/// What the Bitcoin side adds to the files beside the chains: its labels and the planted links
/// (`links.csv`, ifr's links format).
pub struct BtcSideFiles {
    pub labels: Vec<(String, Label)>,
    pub links_csv: String,
}

#[derive(Debug, Clone)]
pub struct Incident {
    pub id: String,
    pub name: String,
    pub day: i32,
    pub actor: String,
    pub reported_usd: f64,
    pub victim: [u8; 20],
    pub attacker: [u8; 20],
    pub tx_hashes: Vec<[u8; 32]>,
    /// The ledger row as written (for the synthetic ledger).
    pub row: Vec<String>,
    /// The part played out on Bitcoin (with a Bitcoin export only).
    pub btc: Option<BtcParties>,
}

/// A labelled synthetic address.
#[derive(Debug, Clone)]
pub struct Label {
    pub actor: String,
    /// GraphSense category (exchange, mixing_service, bridge, defi_dex, user).
    pub category: String,
    pub label: String,
    pub confidence: &'static str,
}

pub struct World {
    pub seed: u64,
    /// Whether a Bitcoin export is written beside the Ethereum one.
    pub bitcoin: bool,
    pub from_day: i32,
    pub to_day: i32,
    pub tokens: Vec<Token>,
    /// Daily closes per series, rounded to 6 decimals, indexed by day - from_day.
    pub prices: BTreeMap<String, Vec<f64>>,
    pub users: u64,
    pub exchanges: Vec<(String, [u8; 20])>,
    pub deposits_per_exchange: u64,
    pub dex: [u8; 20],
    pub bridge: [u8; 20],
    /// (denomination in ETH, pool address)
    pub mixers: Vec<(u32, [u8; 20])>,
    pub sanctioned: Vec<[u8; 20]>,
    pub funder: [u8; 20],
    pub incidents: Vec<Incident>,
    pub labels: BTreeMap<[u8; 20], Label>,
    /// actor id -> parent id
    pub parents: HashMap<String, String>,
    pub ledger_header: Vec<String>,
}

const EXCHANGES: [&str; 5] = ["binance", "coinbase", "kraken", "okx", "htx"];

fn token_addr(s: &str) -> [u8; 20] {
    parse20(s).unwrap_or([0; 20])
}

impl World {
    pub fn new(seed: u64, from: NaiveDate, to: NaiveDate, bitcoin: bool) -> Result<World> {
        let from_day = days_since_epoch(from);
        let to_day = days_since_epoch(to);
        let tokens = vec![
            Token { symbol: "ETH".into(), address: None, decimals: 18, price: Some("ETH".into()) },
            Token {
                symbol: "USDC".into(),
                address: Some(token_addr("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48")),
                decimals: 6,
                price: Some("USDC".into()),
            },
            Token {
                symbol: "USDT".into(),
                address: Some(token_addr("0xdac17f958d2ee523a2206206994597c13d831ec7")),
                decimals: 6,
                price: Some("USDT".into()),
            },
            Token {
                symbol: "DAI".into(),
                address: Some(token_addr("0x6b175474e89094c44da98b954eedeac495271d0f")),
                decimals: 18,
                price: Some("DAI".into()),
            },
            Token {
                symbol: "WBTC".into(),
                address: Some(token_addr("0x2260fac5e5542a773aa44fbcfedf7c193bc2c599")),
                decimals: 8,
                price: Some("BTC".into()),
            },
            Token { symbol: "SYNQ".into(), address: Some(synth_address(seed, "token", 9)), decimals: 9, price: Some("SYNQ".into()) },
            Token { symbol: "NOPX".into(), address: Some(synth_address(seed, "token", 12)), decimals: 12, price: None },
        ];
        let mut prices = BTreeMap::new();
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9e37_79b9);
        let days = (to_day - from_day + 1).max(1) as usize;
        for (series, start, vol) in [("ETH", 1500.0, 0.04), ("BTC", 30000.0, 0.035), ("SYNQ", 2.0, 0.06)] {
            let mut p: f64 = start;
            let mut v = Vec::with_capacity(days);
            for _ in 0..days {
                v.push(round6(p));
                // Box-Muller normal log-return.
                let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
                let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                p *= (vol * z).exp();
            }
            prices.insert(series.to_string(), v);
        }
        for series in ["USDC", "USDT", "DAI"] {
            let v = (0..days).map(|_| round6(1.0 + (rng.random::<f64>() - 0.5) * 0.002)).collect();
            prices.insert(series.to_string(), v);
        }

        let exchanges: Vec<(String, [u8; 20])> =
            EXCHANGES.iter().enumerate().map(|(i, e)| (e.to_string(), synth_address(seed, "hot", i as u64))).collect();
        let mixers = [1u32, 10, 100].iter().map(|d| (*d, synth_address(seed, "mixer", *d as u64))).collect::<Vec<_>>();
        let sanctioned: Vec<[u8; 20]> = LAZARUS_SDN_ETH.iter().filter_map(|a| parse20(a)).collect();

        let mut parents = HashMap::new();
        let actors: serde_norway::Value =
            serde_norway::from_str(REFERENCE_ACTORS).map_err(|e| Error::Internal(format!("data/reference/actors.yaml: {e}")))?;
        if let Some(list) = actors.get("actors").and_then(|a| a.as_sequence()) {
            for a in list {
                if let (Some(id), Some(p)) = (a.get("id").and_then(|v| v.as_str()), a.get("parent").and_then(|v| v.as_str())) {
                    parents.insert(id.to_string(), p.to_string());
                }
            }
        }

        let mut rdr = csv::Reader::from_reader(REFERENCE_LEDGER.as_bytes());
        let ledger_header: Vec<String> = rdr.headers().map_err(|e| Error::Internal(e.to_string()))?.iter().map(str::to_string).collect();
        let col = |n: &str| ledger_header.iter().position(|h| h == n);
        let (c_id, c_date, c_name, c_chains, c_usd, c_actor, c_victim, c_attacker, c_tx) = (
            col("id"),
            col("date"),
            col("name"),
            col("chains"),
            col("reported_usd"),
            col("actor"),
            col("victim_addresses"),
            col("attacker_addresses"),
            col("tx_hashes"),
        );
        let get = |r: &csv::StringRecord, c: Option<usize>| c.and_then(|i| r.get(i)).unwrap_or("").trim().to_string();
        let mut incidents = Vec::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| Error::Internal(format!("data/reference/incidents.csv: {e}")))?;
            let Ok(day) = crate::sources::parse_day(&get(&rec, c_date)) else { continue };
            let chains = get(&rec, c_chains).to_ascii_lowercase();
            let (Ok(usd), actor) = (get(&rec, c_usd).parse::<f64>(), get(&rec, c_actor)) else { continue };
            let on = |chain: &str| chains.split(';').any(|c| c.trim() == chain);
            let played = on("ethereum") || (bitcoin && on("bitcoin"));
            if day < from_day || day > to_day || !played || actor.is_empty() {
                continue;
            }
            let n = incidents.len() as u64;
            let btc = if bitcoin && on("bitcoin") {
                // The reference's first Bitcoin attacker address when it has one (Liquid's), else a
                // synthetic one; the victim is always synthetic.
                let attacker = match get(&rec, c_attacker).split(';').find_map(|a| crate::address::bitcoin(a.trim()).ok()) {
                    Some(a) => a,
                    None => super::btc_address(seed, "attacker", n, false)?,
                };
                Some(BtcParties {
                    share: if on("ethereum") { BTC_SHARE } else { 1.0 },
                    victim: super::btc_address(seed, "victim", n, false)?,
                    attacker,
                })
            } else {
                None
            };
            let first = |c| get(&rec, c).split(';').next().and_then(|a: &str| parse20(a.trim()));
            let tx_hashes =
                get(&rec, c_tx).split(';').filter_map(|h| hex::decode(h.trim().trim_start_matches("0x")).ok()?.try_into().ok()).collect();
            incidents.push(Incident {
                id: get(&rec, c_id),
                name: get(&rec, c_name),
                day,
                actor,
                reported_usd: usd,
                victim: first(c_victim).unwrap_or_else(|| synth_address(seed, "victim", n)),
                attacker: first(c_attacker).unwrap_or_else(|| synth_address(seed, "attacker", n)),
                tx_hashes,
                row: rec.iter().map(str::to_string).collect(),
                btc,
            });
        }

        let users = 1000;
        let mut w = World {
            seed,
            bitcoin,
            from_day,
            to_day,
            tokens,
            prices,
            users,
            exchanges,
            deposits_per_exchange: 200,
            dex: synth_address(seed, "dex", 0),
            bridge: synth_address(seed, "bridge", 0),
            mixers,
            sanctioned,
            funder: synth_address(seed, "funder", 0),
            incidents,
            labels: BTreeMap::new(),
            parents,
            ledger_header,
        };
        w.build_labels();
        Ok(w)
    }

    fn build_labels(&mut self) {
        let mut labels = BTreeMap::new();
        // The reference TagPack's public addresses (the Ronin attacker and bridge) keep their labels.
        if let Ok(pack) = serde_norway::from_str::<serde_norway::Value>(REFERENCE_TAGS) {
            for t in pack.get("tags").and_then(|t| t.as_sequence()).into_iter().flatten() {
                let text = |k: &str| t.get(k).and_then(|v| v.as_str()).map(str::to_string);
                if let (Some(a), Some(actor)) = (text("address").and_then(|a| parse20(&a)), text("actor")) {
                    let confidence = match text("confidence").as_deref() {
                        Some("authority_data") => "authority_data",
                        _ => "service_data",
                    };
                    let label = Label {
                        actor,
                        category: text("category").unwrap_or_else(|| "user".into()),
                        label: text("label").unwrap_or_default(),
                        confidence,
                    };
                    labels.insert(a, label);
                }
            }
        }
        for (i, (ex, hot)) in self.exchanges.iter().enumerate() {
            labels.insert(
                *hot,
                Label {
                    actor: ex.clone(),
                    category: "exchange".into(),
                    label: format!("{ex} hot wallet (synthetic)"),
                    confidence: "service_data",
                },
            );
            for d in 0..self.deposits_per_exchange {
                labels.insert(
                    self.deposit(i, d),
                    Label {
                        actor: ex.clone(),
                        category: "exchange".into(),
                        label: format!("{ex} deposit {d} (synthetic)"),
                        confidence: "service_data",
                    },
                );
            }
        }
        for (d, a) in &self.mixers {
            labels.insert(
                *a,
                Label {
                    actor: "tornado_cash".into(),
                    category: "mixing_service".into(),
                    label: format!("mixer pool {d} ETH (synthetic)"),
                    confidence: "authority_data",
                },
            );
        }
        labels.insert(
            self.dex,
            Label {
                actor: "uniswap".into(),
                category: "defi_dex".into(),
                label: "DEX pool (synthetic)".into(),
                confidence: "service_data",
            },
        );
        labels.insert(
            self.bridge,
            Label {
                actor: "thorchain".into(),
                category: "bridge".into(),
                label: "bridge contract (synthetic)".into(),
                confidence: "service_data",
            },
        );
        for inc in &self.incidents {
            labels.entry(inc.attacker).or_insert(Label {
                actor: inc.actor.clone(),
                category: "user".into(),
                label: format!("{} attacker", inc.name),
                confidence: "authority_data",
            });
        }
        self.labels = labels;
    }

    pub fn deposit(&self, exchange: usize, n: u64) -> [u8; 20] {
        synth_address(self.seed, &format!("deposit-{exchange}"), n)
    }

    pub fn user(&self, n: u64) -> [u8; 20] {
        synth_address(self.seed, "user", n)
    }

    /// Close of a token on a day (None: unpriced, or a day outside the series).
    pub fn price(&self, token: usize, day: i32) -> Option<f64> {
        let series = self.tokens[token].price.as_ref()?;
        let i = usize::try_from(day - self.from_day).ok()?;
        self.prices.get(series)?.get(i).copied()
    }

    /// Close of a price series on a day (None: a day outside the series).
    pub fn series_price(&self, series: &str, day: i32) -> Option<f64> {
        let i = usize::try_from(day - self.from_day).ok()?;
        self.prices.get(series)?.get(i).copied()
    }

    /// Raw units worth `usd` on a day (1 unit of value for unpriced tokens).
    fn units_for_usd(&self, token: usize, day: i32, usd: f64) -> u128 {
        let price = self.price(token, day).unwrap_or(1.0);
        let units = usd / price * 10f64.powi(self.tokens[token].decimals as i32);
        units.max(1.0) as u128
    }

    pub fn min_background(&self) -> u64 {
        100
    }

    fn start_ts(&self) -> i64 {
        self.from_day as i64 * 86_400
    }

    fn end_ts(&self) -> i64 {
        (self.to_day as i64 + 1) * 86_400 - 1
    }

    /// The planted flows of every incident, sorted by time.
    pub fn plan_incidents(&self, seed: u64) -> Vec<Tx> {
        let mut out: Vec<(i64, u64, Tx)> = Vec::new();
        let mut seq = 0u64;
        let end = self.end_ts();
        let mut push = |out: &mut Vec<(i64, u64, Tx)>, tx: Tx| {
            if tx.time <= end {
                seq += 1;
                out.push((tx.time, seq, tx));
            }
        };
        let eth = 0usize;
        let usdc = 1usize;
        for (k, inc) in self.incidents.iter().enumerate() {
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (0xabc0 + k as u64));
            let plant = |path: u32, hop: u32, role: Role| Some(Plant { incident: k, path, hop, role });
            let theft_t = inc.day as i64 * 86_400 + 10 * 3600 + rng.random_range(0..3600);
            // Two listed hashes: ETH and a USDC part (5 %); otherwise all ETH.
            let usdc_share = if inc.tx_hashes.len() >= 2 { 0.05 } else { 0.0 };
            // The part played out on Bitcoin is not stolen here.
            let btc_share = inc.btc.as_ref().map_or(0.0, |b| b.share);
            if btc_share >= 1.0 {
                continue;
            }
            let usd = inc.reported_usd * (1.0 - btc_share);
            let eth_amount = self.units_for_usd(eth, inc.day, usd * (1.0 - usdc_share));
            let usdc_amount = if usdc_share > 0.0 { self.units_for_usd(usdc, inc.day, usd * usdc_share) } else { 0 };
            let fund_t = (self.start_ts() + 3600 + k as i64 * 60).min(theft_t - 3600);
            let tx = |time: i64, from, to, token, amount, hash, plant| Tx { time, from, to, token, amount, hash, plant };
            push(&mut out, tx(fund_t, self.funder, inc.victim, eth, eth_amount + eth_amount / 100, None, plant(0, 0, Role::Funding)));
            push(
                &mut out,
                tx(theft_t, inc.victim, inc.attacker, eth, eth_amount, inc.tx_hashes.first().copied(), plant(0, 0, Role::Theft)),
            );
            let mut eth_held = eth_amount;
            if usdc_amount > 0 {
                push(&mut out, tx(fund_t, self.funder, inc.victim, usdc, usdc_amount, None, plant(0, 0, Role::Funding)));
                push(
                    &mut out,
                    tx(theft_t + 1, inc.victim, inc.attacker, usdc, usdc_amount, inc.tx_hashes.get(1).copied(), plant(0, 0, Role::Theft)),
                );
                // Swap the USDC for ETH at the next day's price.
                let swap_t = theft_t + 86_400;
                let swap_day = (swap_t / 86_400) as i32;
                let usd = usdc_amount as f64 / 1e6 * self.price(usdc, swap_day).unwrap_or(1.0);
                let eth_back = self.units_for_usd(eth, swap_day, usd);
                push(&mut out, tx(swap_t, inc.attacker, self.dex, usdc, usdc_amount, None, plant(0, 1, Role::Swap)));
                push(&mut out, tx(swap_t + 12, self.dex, inc.attacker, eth, eth_back, None, plant(0, 1, Role::Swap)));
                eth_held += eth_back;
            }
            // Split 90 % over fresh addresses; 10 % stays at the attacker address.
            let paths = 6u32;
            let to_split = eth_held / 10 * 9;
            let weights: Vec<f64> = (0..paths).map(|_| 0.5 + rng.random::<f64>()).collect();
            let wsum: f64 = weights.iter().sum();
            let mut t = theft_t + 2 * 86_400;
            let mut left = to_split;
            for p in 0..paths {
                let amount = if p + 1 == paths { left } else { ((to_split as f64) * weights[p as usize] / wsum) as u128 };
                left -= amount.min(left);
                let fresh = synth_address(seed, &format!("fresh-{k}-{p}"), 0);
                t += rng.random_range(600..7200);
                push(&mut out, tx(t, inc.attacker, fresh, eth, amount, None, plant(p + 1, 0, Role::Split)));
                // Each path starts days to two months after the split; cash-out spreads over months.
                let mut pt = t + rng.random_range(86_400..60 * 86_400);
                match p % 5 {
                    0 => {
                        // Mixer: fixed denominations, largest first; what is left under 1 ETH stays.
                        let mut bal = amount;
                        let mut hop = 1;
                        for (denom, pool) in self.mixers.iter().rev() {
                            let unit = *denom as u128 * 10u128.pow(18);
                            while bal >= unit {
                                push(&mut out, tx(pt, fresh, *pool, eth, unit, None, plant(p + 1, hop, Role::Mixer)));
                                bal -= unit;
                                hop += 1;
                                pt += rng.random_range(60..3600);
                            }
                        }
                    }
                    1 => {
                        // Peel chain: each hop peels 5-15 % to an exchange deposit address, forwards the rest.
                        let mut bal = amount;
                        let mut from = fresh;
                        for hop in 1..=5u32 {
                            let peel = (bal as f64 * rng.random_range(0.05..0.15)) as u128;
                            let ex = rng.random_range(0..self.exchanges.len());
                            let dep = self.deposit(ex, rng.random_range(0..self.deposits_per_exchange));
                            push(&mut out, tx(pt, from, dep, eth, peel, None, plant(p + 1, hop * 2 - 1, Role::Exchange)));
                            bal -= peel;
                            let next = synth_address(seed, &format!("fresh-{k}-{p}"), hop as u64);
                            push(&mut out, tx(pt + 60, from, next, eth, bal, None, plant(p + 1, hop * 2, Role::Peel)));
                            from = next;
                            pt += rng.random_range(3 * 86_400..21 * 86_400);
                        }
                        let dep = self.deposit(0, rng.random_range(0..self.deposits_per_exchange));
                        push(&mut out, tx(pt, from, dep, eth, bal, None, plant(p + 1, 11, Role::Exchange)));
                    }
                    2 => {
                        // With a Bitcoin export, the deposit's hash is known here: a planted link
                        // releases it on Bitcoin.
                        let hash = self.bitcoin.then(|| super::synth_hash(seed ^ 0xb71d_9e00, k as u64));
                        push(&mut out, tx(pt, fresh, self.bridge, eth, amount, hash, plant(p + 1, 1, Role::Bridge)))
                    }
                    3 => {
                        let ex = rng.random_range(0..self.exchanges.len());
                        let dep = self.deposit(ex, rng.random_range(0..self.deposits_per_exchange));
                        push(&mut out, tx(pt, fresh, dep, eth, amount, None, plant(p + 1, 1, Role::Exchange)));
                    }
                    _ => {} // dormant
                }
            }
        }
        out.sort_by_key(|a| (a.0, a.1));
        out.into_iter().map(|(_, _, t)| t).collect()
    }

    pub fn background(&self, seed: u64, n: u64) -> Background<'_> {
        let _ = seed;
        let exposed = self.sanctioned.iter().filter(|s| !self.incidents.iter().any(|i| i.attacker == **s)).copied().collect();
        Background { world: self, n, i: 0, start: self.start_ts(), span: (self.end_ts() - self.start_ts()) as f64, exposed }
    }

    /// Write everything beside the chain export; returns the number of files.
    pub fn write_side_files(&self, dir: &Path, format: SynthFormat, btc: Option<&BtcSideFiles>) -> Result<usize> {
        let w = |rel: &str, text: String| -> Result<()> {
            let p = dir.join(rel);
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d).map_err(|e| Error::io("creating", d, e))?;
            }
            std::fs::write(&p, text).map_err(|e| Error::io("writing", &p, e))
        };
        // Assets: the reference list plus the synthetic tokens.
        let mut assets = REFERENCE_ASSETS.trim_end().to_string();
        assets.push('\n');
        for t in self.tokens.iter().filter(|t| t.symbol == "SYNQ" || t.symbol == "NOPX") {
            assets.push_str(&format!(
                "ethereum,{},{},{},{},synthetic token\n",
                hex20(&t.address.unwrap_or([0; 20])),
                t.symbol,
                t.decimals,
                t.price.clone().unwrap_or_default()
            ));
        }
        w("assets.csv", assets)?;
        w("actors.yaml", REFERENCE_ACTORS.to_string())?;
        // Prices: day,asset,close_usd for every series and day.
        let mut prices = String::from("day,asset,close_usd\n");
        for d in self.from_day..=self.to_day {
            for (series, v) in &self.prices {
                prices.push_str(&format!("{},{series},{:.6}\n", crate::sources::day_to_string(d), v[(d - self.from_day) as usize]));
            }
        }
        w("prices.csv", prices)?;
        // Labels: one TagPack.
        let mut tags = String::from(
            "title: ifr synthetic labels\ncreator: ifr synth\ndescription: Labels of the synthetic chain (exchanges, mixer pools, DEX, bridge, attackers)\ncurrency: ETH\nlastmod: 2026-01-01\nsource: ifr synth\ntags:\n",
        );
        for (addr, l) in &self.labels {
            tags.push_str(&format!(
                "- address: '{}'\n  label: '{}'\n  actor: {}\n  category: {}\n  confidence: {}\n",
                hex20(addr),
                l.label.replace('\'', "''"),
                l.actor,
                l.category,
                l.confidence
            ));
        }
        // Bitcoin's services and attackers: the same actors, addresses of another currency.
        for (addr, l) in btc.map(|b| b.labels.as_slice()).unwrap_or_default() {
            tags.push_str(&format!(
                "- address: '{addr}'\n  currency: BTC\n  label: '{}'\n  actor: {}\n  category: {}\n  confidence: {}\n",
                l.label.replace('\'', "''"),
                l.actor,
                l.category,
                l.confidence
            ));
        }
        w("labels.yaml", tags)?;
        // Sanctions: OFAC's legacy sdn.csv with Lazarus Group's ETH addresses.
        let remarks: Vec<String> = LAZARUS_SDN_ETH.iter().map(|a| format!("Digital Currency Address - ETH {a}")).collect();
        w(
            // Dated the day before the range: the addresses are listed throughout it.
            &format!("sanctions/sdn_{}.csv", crate::sources::day_to_string(self.from_day - 1)),
            format!(
                "27307,\"Lazarus Group\",\"-0-\",\"DPRK3\",\"-0-\",\"-0-\",\"-0-\",\"-0-\",\"-0-\",\"-0-\",\"-0-\",\"{}.\"\n",
                remarks.join("; ")
            ),
        )?;
        // The ledger: the reference rows played out here.
        let mut ledger = csv::Writer::from_writer(Vec::new());
        ledger.write_record(&self.ledger_header).map_err(|e| Error::Internal(e.to_string()))?;
        // The reference rows, with the addresses and hashes the synthetic chain uses filled in where
        // the reference has none, so that the theft transfers can be found from the ledger alone.
        let col = |n: &str| self.ledger_header.iter().position(|h| h == n);
        for inc in &self.incidents {
            let mut row = inc.row.clone();
            for (c, value) in [("victim_addresses", hex20(&inc.victim)), ("attacker_addresses", hex20(&inc.attacker))] {
                // Where the reference has no EVM address (none at all, or only Bitcoin ones), the
                // synthetic chain's address is added in front (it is the first the chain uses).
                if let Some(i) = col(c)
                    && !row[i].split(';').any(|a| parse20(a.trim()).is_some())
                {
                    row[i] = if row[i].trim().is_empty() { value } else { format!("{value};{}", row[i].trim()) };
                }
            }
            // The Bitcoin side's parties, where the reference does not list them already.
            if let Some(b) = &inc.btc {
                for (c, value) in [("victim_addresses", &b.victim), ("attacker_addresses", &b.attacker)] {
                    if let Some(i) = col(c)
                        && !row[i].split(';').any(|a| a.trim() == value.as_str())
                    {
                        row[i] = if row[i].trim().is_empty() { value.clone() } else { format!("{};{value}", row[i].trim()) };
                    }
                }
            }
            ledger.write_record(&row).map_err(|e| Error::Internal(e.to_string()))?;
        }
        let bytes = ledger.into_inner().map_err(|e| Error::Internal(e.to_string()))?;
        w("incidents.csv", String::from_utf8_lossy(&bytes).into_owned())?;
        // The reference recoveries of the incidents played out here, and those tied to an actor
        // only, in the dataset's date range (public facts, as in data/reference).
        let mut rdr = csv::Reader::from_reader(REFERENCE_RECOVERIES.as_bytes());
        let header = rdr.headers().map_err(|e| Error::Internal(format!("data/reference/recoveries.csv: {e}")))?.clone();
        let col = |n: &str| header.iter().position(|h| h == n);
        let (c_inc, c_date) = (col("incident_id"), col("date"));
        let mut rec_out = csv::Writer::from_writer(Vec::new());
        rec_out.write_record(&header).map_err(|e| Error::Internal(e.to_string()))?;
        for rec in rdr.records() {
            let rec = rec.map_err(|e| Error::Internal(format!("data/reference/recoveries.csv: {e}")))?;
            let field = |c: Option<usize>| c.and_then(|i| rec.get(i)).unwrap_or("").trim();
            let in_range = crate::sources::parse_day(field(c_date)).is_ok_and(|d| d >= self.from_day && d <= self.to_day);
            let keep = match field(c_inc) {
                "" => in_range,
                id => self.incidents.iter().any(|i| i.id == id),
            };
            if keep {
                rec_out.write_record(&rec).map_err(|e| Error::Internal(e.to_string()))?;
            }
        }
        let bytes = rec_out.into_inner().map_err(|e| Error::Internal(e.to_string()))?;
        w("recoveries.csv", String::from_utf8_lossy(&bytes).into_owned())?;
        let (format_name, chain_path) = match format {
            SynthFormat::Cryo => ("cryo", "chain"),
            SynthFormat::EthereumEtl => ("ethereum-etl", "chain"),
        };
        let mut files = 9;
        let mut btc_sources = String::new();
        if let Some(b) = btc {
            // The planted links in ifr's own links format (data/schemas/crosschain_links.yaml).
            w("links.csv", b.links_csv.clone())?;
            files += 1;
            btc_sources = "\n[[sources]]\nname = \"bitcoin\"\nkind = \"chain\"\nformat = \"bitcoin-etl\"\nchain = \"bitcoin\"\npath = \"bitcoin\"\n\n\
                 [[sources]]\nname = \"links\"\nkind = \"links\"\nformat = \"ifr-links\"\npath = \"links.csv\"\n"
                .to_string();
        }
        w(
            "ifr.toml",
            format!(
                "# Written by `ifr synth`: every file of this synthetic dataset as ifr sources.\nlake = \"lake\"\n\n\
                 [[sources]]\nname = \"assets\"\nkind = \"assets\"\nformat = \"asset-csv\"\npath = \"assets.csv\"\n\n\
                 [[sources]]\nname = \"actors\"\nkind = \"actors\"\nformat = \"actorpack\"\npath = \"actors.yaml\"\n\n\
                 [[sources]]\nname = \"labels\"\nkind = \"labels\"\nformat = \"tagpack\"\npath = \"labels.yaml\"\n\n\
                 [[sources]]\nname = \"sanctions\"\nkind = \"sanctions\"\nformat = \"ofac-csv\"\npath = \"sanctions\"\n\n\
                 [[sources]]\nname = \"incidents\"\nkind = \"incidents\"\nformat = \"ifr-ledger\"\npath = \"incidents.csv\"\n\n\
                 [[sources]]\nname = \"recoveries\"\nkind = \"recoveries\"\nformat = \"ifr-recoveries\"\npath = \"recoveries.csv\"\n\n\
                 [[sources]]\nname = \"prices\"\nkind = \"prices\"\nformat = \"price-csv\"\npath = \"prices.csv\"\n\n\
                 [[sources]]\nname = \"chain\"\nkind = \"chain\"\nformat = \"{format_name}\"\nchain = \"ethereum\"\npath = \"{chain_path}\"\n{btc_sources}"
            ),
        )?;
        Ok(files)
    }
}

fn round6(x: f64) -> f64 {
    format!("{x:.6}").parse().unwrap_or(x)
}

/// Background transfers in time order, each drawn independently of the planted flows.
pub struct Background<'a> {
    world: &'a World,
    n: u64,
    i: u64,
    start: i64,
    span: f64,
    /// Sanctioned addresses that are not incident attackers (so planted flows stay exact).
    exposed: Vec<[u8; 20]>,
}

impl Background<'_> {
    pub fn next(&mut self, rng: &mut ChaCha8Rng) -> Option<Tx> {
        if self.i >= self.n {
            return None;
        }
        let w = self.world;
        let time = self.start + ((self.i as f64 + rng.random::<f64>()) * self.span / self.n as f64) as i64;
        self.i += 1;
        let day = (time / 86_400) as i32;
        // Heavy-tailed activity: low user numbers are far more active.
        let mut user = || w.user((w.users as f64 * rng.random::<f64>().powi(3)) as u64);
        let (from, to) = (user(), user());
        let ex = rng.random_range(0..w.exchanges.len());
        let dep = w.deposit(ex, rng.random_range(0..w.deposits_per_exchange));
        let token = match rng.random_range(0..100) {
            0..=49 => 0,
            50..=69 => 1,
            70..=84 => 2,
            85..=89 => 3,
            90..=93 => 4,
            94..=97 => 5,
            _ => 6,
        };
        let usd = log_uniform(rng, 1.0, 1_000_000.0);
        let amount = w.units_for_usd(token, day, usd);
        let r = rng.random::<f64>();
        let (from, to, token, amount) = if r < 0.35 {
            (from, to, token, amount)
        } else if r < 0.55 {
            (from, dep, token, amount)
        } else if r < 0.65 {
            (dep, w.exchanges[ex].1, token, amount)
        } else if r < 0.80 {
            (w.exchanges[ex].1, to, token, amount)
        } else if r < 0.85 {
            (from, w.dex, token, amount)
        } else if r < 0.90 {
            (w.dex, to, token, amount)
        } else if r < 0.94 {
            (from, w.bridge, token, amount)
        } else if r < 0.97 {
            let (denom, pool) = w.mixers[rng.random_range(0..w.mixers.len())];
            let unit = denom as u128 * 10u128.pow(18);
            if rng.random::<bool>() { (from, pool, 0, unit) } else { (pool, to, 0, unit) }
        } else if r < 0.98 && !self.exposed.is_empty() {
            // Sanctions exposure: a sanctioned address receives or sends.
            let s = self.exposed[rng.random_range(0..self.exposed.len())];
            if rng.random::<bool>() { (from, s, token, amount) } else { (s, to, token, amount) }
        } else {
            (from, to, 0, w.units_for_usd(0, day, usd / 100.0))
        };
        Some(Tx { time, from, to, token, amount, hash: None, plant: None })
    }
}
