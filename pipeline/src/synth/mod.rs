//! `ifr synth`: a synthetic chain export in which the reference ledger's incidents are played out
//! and laundered, with background activity around them, and the exact expected answers in `truth/`
//! (computed while generating, never by running the pipeline).
//!
//! Everything is deterministic for a seed (ChaCha8) and streamed: background transfers are drawn in
//! time order and written in block-range chunks; only the planted incident flows (thousands, not
//! millions) are held in memory, so memory does not grow with `--transfers`.
//!
//! With `bitcoin_txs`, a Bitcoin chain is written beside it ([`bitcoin`]): the ledger's incidents
//! that list Bitcoin are played out there in part, and each incident's Ethereum bridge deposit is
//! released there through a planted cross-chain link (`links.csv`). Its background spends a pool
//! of unspent outputs of bounded size, so memory does not grow with `--bitcoin-txs` either.

pub mod bitcoin;
mod truth;
mod world;
mod writer;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::error::{Error, Result};
pub use world::{Incident, World};

pub use crate::config::{SynthFormat, SynthOptions};

#[derive(Debug, Clone, Serialize)]
pub struct SynthSummary {
    pub out: String,
    pub transfers: u64,
    pub planted_transfers: u64,
    pub background_transfers: u64,
    pub blocks: u64,
    pub incidents: Vec<String>,
    pub files: usize,
    /// Bitcoin transactions written (coinbases included), and of them planted.
    pub bitcoin_txs: u64,
    pub bitcoin_planted: u64,
    pub bitcoin_blocks: u64,
    /// Planted cross-chain links (Ethereum bridge deposits released on Bitcoin).
    pub links: usize,
}

/// Seconds between blocks (Ethereum after the merge).
pub const BLOCK_SECONDS: i64 = 12;
/// Block number at the start of the generated range.
pub const FIRST_BLOCK: i64 = 10_000_000;

/// One generated transfer, before block assignment.
#[derive(Debug, Clone)]
pub struct Tx {
    /// Unix seconds.
    pub time: i64,
    pub from: [u8; 20],
    pub to: [u8; 20],
    /// Index into `World::tokens` (0 = the native coin).
    pub token: usize,
    pub amount: u128,
    /// A public tx hash (ledger theft transfers); otherwise one is derived.
    pub hash: Option<[u8; 32]>,
    /// Laundering bookkeeping for truth; None for background.
    pub plant: Option<Plant>,
}

/// What a planted transfer is, for truth.
#[derive(Debug, Clone)]
pub struct Plant {
    pub incident: usize,
    pub path: u32,
    pub hop: u32,
    pub role: Role,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The victim is funded before the theft.
    Funding,
    /// Victim to attacker: the theft itself.
    Theft,
    /// Attacker to a fresh address (splitting).
    Split,
    /// Token swapped at a DEX (leg to the pool, leg back).
    Swap,
    /// A hop of a peel chain to the next fresh address.
    Peel,
    /// Arrival at an exchange deposit address.
    Exchange,
    /// Deposit into a mixer pool.
    Mixer,
    /// Deposit into a bridge.
    Bridge,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Funding => "funding",
            Role::Theft => "theft",
            Role::Split => "split",
            Role::Swap => "swap",
            Role::Peel => "peel",
            Role::Exchange => "exchange",
            Role::Mixer => "mixer",
            Role::Bridge => "bridge",
        }
    }
}

/// Make `out` the generator's folder: a new or empty folder is claimed (with ifr's marker); a
/// folder ifr generated before is replaced only with `force`; any other folder is refused, with or
/// without `force` (ifr never deletes a file it did not write).
fn check_out_dir(opts: &SynthOptions, config_dir: Option<&std::path::Path>) -> Result<()> {
    let out = &opts.out;
    let ours = crate::owned::is_owned(out, crate::owned::Use::Sample) || out.join(SAMPLE_MARKER).is_file();
    let non_empty = out.is_dir() && std::fs::read_dir(out).map_err(|e| Error::io("listing", out, e))?.next().is_some();
    if non_empty && ours && !opts.force {
        return Err(Error::Config(format!(
            "--out `{}` holds a dataset ifr generated; pass --force to replace it, or choose a new folder",
            out.display()
        )));
    }
    crate::owned::claim(out, crate::owned::Use::Sample, config_dir)?;
    let probe = out.join(".ifr-write-probe");
    std::fs::write(&probe, b"").map_err(|e| Error::io("writing into the output folder (is it writable?)", &probe, e))?;
    let _ = std::fs::remove_file(probe);
    if opts.force {
        // Only reached for a folder that is ifr's (claim refused any other non-empty folder).
        for entry in std::fs::read_dir(out).map_err(|e| Error::io("listing", out, e))? {
            let p = entry.map_err(|e| Error::io("listing", out, e))?.path();
            if p.file_name().is_some_and(|n| n == crate::owned::MARKER) {
                continue;
            }
            let r = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
            r.map_err(|e| Error::io("removing (for --force)", &p, e))?;
        }
    }
    Ok(())
}

/// Generate a synthetic dataset into `opts.out`.
pub fn run(opts: &SynthOptions) -> Result<SynthSummary> {
    run_in(opts, None)
}

/// [`run`] for the sample of a config in `config_dir` (that folder itself is never the output).
pub fn run_in(opts: &SynthOptions, config_dir: Option<&std::path::Path>) -> Result<SynthSummary> {
    // `x/missing/..` is `x`: the folder is resolved before anything is checked or written.
    let out = crate::paths::resolve(&opts.out)?;
    let opts = &SynthOptions { out, ..opts.clone() };
    if opts.from > opts.to {
        return Err(Error::Config(format!("--from {} is after --to {}; give a date range in order", opts.from, opts.to)));
    }
    let world = World::new(opts.seed, opts.from, opts.to, opts.bitcoin_txs > 0)?;
    let planted = world.plan_incidents(opts.seed);
    let btc = if world.bitcoin { Some(bitcoin::BtcWorld::new(&world)?) } else { None };
    let btc_plan = match &btc {
        Some(bw) => Some(bitcoin::plan(&world, bw, &planted)?),
        None => None,
    };
    let min_background = world.min_background();
    let need = planted.len() as u64 + min_background;
    if opts.transfers < need {
        return Err(Error::Config(format!(
            "--transfers {} is too small: the {} incident(s) between {} and {} plant {} transfers and the background needs at least {}; use --transfers {} or more",
            opts.transfers,
            world.incidents.len(),
            opts.from,
            opts.to,
            planted.len(),
            min_background,
            need
        )));
    }
    check_out_dir(opts, config_dir)?;
    // Write into a staging folder and rename at the end: a failed run leaves nothing half-written.
    let final_out = opts.out.clone();
    let staging = final_out.join(".partial");
    std::fs::create_dir_all(&staging).map_err(|e| Error::io("creating", &staging, e))?;

    let background = opts.transfers - planted.len() as u64;
    let mut w = writer::ChainWriter::new(&staging, opts.format, &world, opts.transfers, opts.chunk_blocks)?;
    let btc_labels = btc.as_ref().map(|bw| bw.labels(&world)).unwrap_or_default();
    let mut truth = truth::Truth::new(&world, &btc_labels);
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed ^ 0x5eed_0001);
    let mut bg = world.background(opts.seed, background);
    let mut planted_iter = planted.into_iter().peekable();
    let mut next_bg = bg.next(&mut rng);
    let mut total = 0u64;
    let mut planted_n = 0u64;
    loop {
        let take_planted = match (planted_iter.peek(), &next_bg) {
            (Some(p), Some(b)) => p.time <= b.time,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let tx = if take_planted {
            planted_n += 1;
            planted_iter.next().ok_or_else(|| Error::Internal("planted stream ended".into()))?
        } else {
            let t = next_bg.take().ok_or_else(|| Error::Internal("background stream ended".into()))?;
            next_bg = bg.next(&mut rng);
            t
        };
        let placed = w.push(&tx)?;
        truth.observe(&tx, &placed);
        total += 1;
    }
    let (blocks, chain_files) = w.finish()?;
    let (mut bitcoin_txs, mut bitcoin_planted, mut bitcoin_blocks, mut btc_files, mut links) = (0, 0, 0, 0, Vec::new());
    if let (Some(bw), Some(plan)) = (&btc, btc_plan) {
        let mut w = bitcoin::BtcWriter::new(&staging, &world, opts.bitcoin_txs, opts.bitcoin_gzip);
        let mut bg = bitcoin::Background::new(&world, bw, opts.bitcoin_txs);
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed ^ 0x5eed_0b7c);
        let mut planted = plan.txs.into_iter().peekable();
        let mut next_t = bg.next_time(&mut rng);
        truth.btc_destinations(plan.arrived, plan.dormant);
        links = plan.links;
        loop {
            let take_planted = match (planted.peek(), next_t) {
                (Some(p), Some(t)) => p.time <= t,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let next = if take_planted { planted.next() } else { None };
            let time = next.as_ref().map_or(next_t.unwrap_or(0), |t| t.time);
            // A block starts with its coinbase: a planted one, or the background's.
            if w.starts_block(time) && !next.as_ref().is_some_and(|t| t.coinbase) {
                let cb = bg.coinbase(w.block_of(time).1, &mut rng);
                let (block, block_time) = w.push(&cb)?;
                truth.observe_btc(&cb, block, block_time);
            }
            let tx = match next {
                Some(tx) => {
                    bitcoin_planted += 1;
                    tx
                }
                None => {
                    next_t = bg.next_time(&mut rng);
                    match bg.build(time, &mut rng) {
                        Some(tx) => tx,
                        None => continue,
                    }
                }
            };
            let (block, block_time) = w.push(&tx)?;
            truth.observe_btc(&tx, block, block_time);
        }
        (bitcoin_blocks, bitcoin_txs, btc_files) = w.finish()?;
    }
    let side = btc.as_ref().map(|bw| bitcoin::side_files(&world, bw, &links));
    let files = world.write_side_files(&staging, opts.format, side.as_ref())?;
    truth.write(&staging.join("truth"))?;

    // Publish: move everything out of the staging folder.
    for entry in std::fs::read_dir(&staging).map_err(|e| Error::io("listing", &staging, e))? {
        let p = entry.map_err(|e| Error::io("listing", &staging, e))?.path();
        let target = final_out.join(p.file_name().unwrap_or_default());
        std::fs::rename(&p, &target).map_err(|e| Error::io("moving into place", &target, e))?;
    }
    std::fs::remove_dir(&staging).map_err(|e| Error::io("removing", &staging, e))?;
    Ok(SynthSummary {
        out: final_out.display().to_string(),
        transfers: total,
        planted_transfers: planted_n,
        background_transfers: total - planted_n,
        blocks,
        incidents: world.incidents.iter().map(|i| i.id.clone()).collect(),
        files: files + chain_files + btc_files,
        bitcoin_txs,
        bitcoin_planted,
        bitcoin_blocks,
        links: links.len(),
    })
}

/// Version of the generator's output: bumped when the same options would give different files.
pub const SYNTH_VERSION: u32 = 3;

/// A fingerprint of everything a generated dataset depends on: the options (not the folder) and the
/// embedded reference data. A configured sample is regenerated when it changes.
pub fn fingerprint(opts: &SynthOptions) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(format!("ifr-synth-{SYNTH_VERSION}|{}|{}|{}|{}|{:?}\n", opts.transfers, opts.from, opts.to, opts.seed, opts.format));
    if let Some(c) = opts.chunk_blocks {
        h.update(format!("chunk-blocks|{c}\n"));
    }
    if opts.bitcoin_txs > 0 {
        h.update(format!("bitcoin-txs|{}|{}\n", opts.bitcoin_txs, bitcoin::VERSION));
        if opts.bitcoin_gzip {
            h.update("bitcoin-gzip\n");
        }
    }
    for text in
        [world::REFERENCE_LEDGER, world::REFERENCE_ACTORS, world::REFERENCE_ASSETS, world::REFERENCE_TAGS, world::REFERENCE_RECOVERIES]
    {
        h.update(text);
    }
    hex::encode(h.finalize())
}

pub use crate::owned::SAMPLE_MARKER;

/// Deterministic 20 bytes for a named synthetic entity.
pub fn synth_address(seed: u64, kind: &str, n: u64) -> [u8; 20] {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("ifr-synth|{seed}|{kind}|{n}"));
    let mut a = [0u8; 20];
    a.copy_from_slice(&d[..20]);
    a
}

/// A Bitcoin address of a synthetic entity: P2WPKH (bech32, `bc1q…`), or P2PKH (base58check,
/// `1…`) when `legacy`.
pub fn btc_address(seed: u64, kind: &str, n: u64, legacy: bool) -> Result<String> {
    let h = synth_address(seed, &format!("btc-{kind}"), n);
    if legacy {
        let mut p = vec![0u8];
        p.extend_from_slice(&h);
        return Ok(bs58::encode(p).with_check().into_string());
    }
    bech32::segwit::encode_v0(bech32::hrp::BC, &h).map_err(|e| Error::Internal(format!("encoding a synthetic segwit address: {e}")))
}

/// Deterministic 32 bytes for a transaction.
pub fn synth_hash(seed: u64, n: u64) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("ifr-synth-tx|{seed}|{n}"));
    let mut h = [0u8; 32];
    h.copy_from_slice(&d);
    h
}

pub fn hex20(a: &[u8; 20]) -> String {
    format!("0x{}", hex::encode(a))
}

pub fn parse20(s: &str) -> Option<[u8; 20]> {
    let v = hex::decode(s.trim_start_matches("0x")).ok()?;
    v.try_into().ok()
}

/// A log-uniform draw between `lo` and `hi` (heavy-tailed amounts).
pub fn log_uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    (lo.ln() + rng.random::<f64>() * (hi.ln() - lo.ln())).exp()
}

/// Days since the epoch of a unix time.
pub fn day_of(t: i64) -> i32 {
    t.div_euclid(86_400) as i32
}
