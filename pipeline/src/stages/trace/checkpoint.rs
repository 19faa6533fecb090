//! The walk's state saved at its end, `<lake>/_cache/trace/<digest>.json`, so that the next trace
//! of the same seeds over the same labels, prices and links walks only the transfers added since:
//! a nightly refresh that adds one day walks one day. The digest covers everything the walk reads
//! besides the transfers (ifr itself, the options, the seed groups and names, the resolved seeds,
//! the attribution, the price series, the cross-chain links and which chains are UTXO chains); the
//! transfers walked are checked by `scan::in_time_order` (months file for file, the last month's
//! rows by their hash). Floats are kept exactly (their bits), so a continued walk ends in the state
//! a whole walk ends in. A checkpoint that cannot be read is ignored and one that cannot be written
//! is not kept: it changes how fast, never what.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::engine::{Method, Tracer, TracerState};
use super::scan::MonthWalked;
use super::{Crossing, Links, TraceOptions, seeds};
use crate::error::Result;
use crate::lake::Lake;
use crate::stages::attribute::Attribution;
use crate::stages::value::Valuation;

/// Bumped when the file's layout or what a walk covers changes (4: UTXO chains' transfers are
/// read apart, not walked).
const FORMAT: u32 = 4;
/// Checkpoints kept (the newest by use): the report's trace and a few others.
const KEPT: usize = 4;

/// Everything a walk changes as it goes.
pub(super) struct WalkState {
    /// (group, tracer): one tracer per group and method.
    pub tracers: Vec<(usize, Tracer)>,
    pub last_time: i64,
    pub walked: u64,
    pub seen_seed_address: bool,
    pub bad_amount: Option<String>,
    /// Seeds found on UTXO chains: (seed, chain, tx, receiver, amount).
    pub utxo_seeds: Vec<(usize, String, String, String, f64)>,
    pub crossings: Vec<Crossing>,
    /// Link id -> (why, deposit day).
    pub not_followed: BTreeMap<String, (String, i32)>,
    /// Links whose deposit was seen but never reached a stopping service, and links followed.
    pub unreached: BTreeMap<usize, i32>,
    pub followed: BTreeSet<usize>,
}

/// A saved [`WalkState`] with the months it walked.
#[derive(Serialize, Deserialize)]
pub(super) struct Checkpoint {
    format: u32,
    digest: String,
    pub months: Vec<MonthWalked>,
    tracers: Vec<(usize, Method, TracerState)>,
    last_time: i64,
    walked: u64,
    seen_seed_address: bool,
    utxo_seeds: Vec<(usize, String, String, String, u64)>,
    /// (tracer, seed, link, amount bits, released on an account chain, bridge address, deposit day)
    crossings: Vec<(usize, usize, usize, u64, bool, String, i32)>,
    not_followed: BTreeMap<String, (String, i32)>,
    unreached: Vec<(usize, i32)>,
    followed: Vec<usize>,
}

impl Checkpoint {
    /// The state saved, for `methods` per group (as a fresh walk lays its tracers out).
    pub fn restore(&self, methods: &[Method]) -> Option<WalkState> {
        if methods.is_empty() || self.tracers.iter().enumerate().any(|(i, (_, m, _))| *m != methods[i % methods.len()]) {
            return None;
        }
        Some(WalkState {
            tracers: self.tracers.iter().map(|(g, m, s)| (*g, Tracer::restore(*m, s))).collect(),
            last_time: self.last_time,
            walked: self.walked,
            seen_seed_address: self.seen_seed_address,
            bad_amount: None,
            utxo_seeds: self.utxo_seeds.iter().map(|(s, c, h, t, a)| (*s, c.clone(), h.clone(), t.clone(), f64::from_bits(*a))).collect(),
            crossings: self
                .crossings
                .iter()
                .map(|(tracer, seed, link, amount, released, bridge, day)| Crossing {
                    tracer: *tracer,
                    seed: *seed,
                    link: *link,
                    amount: f64::from_bits(*amount),
                    released: *released,
                    bridge: bridge.clone(),
                    day: *day,
                    after: 0,
                })
                .collect(),
            not_followed: self.not_followed.clone(),
            unreached: self.unreached.iter().copied().collect(),
            followed: self.followed.iter().copied().collect(),
        })
    }
}

/// The digest of everything the walk reads besides the transfers.
#[allow(clippy::too_many_arguments)]
pub(super) fn digest(
    opts: &TraceOptions,
    groups: &[usize],
    seed_names: &[String],
    resolved: &seeds::Resolved,
    att: &Attribution,
    valuation: &Valuation,
    links: &Links,
    utxo_chains: &BTreeSet<String>,
) -> Result<String> {
    let mut h = Sha256::new();
    crate::digest::program(&mut h);
    crate::digest::text(&mut h, &format!("{FORMAT} {opts:?} {groups:?} {seed_names:?} {utxo_chains:?}"));
    crate::digest::text(&mut h, &resolved.digest_text());
    for df in [&att.address_actors, &att.actor_ancestors, &valuation.asset_series, &valuation.price_days] {
        crate::digest::frame(&mut h, df)?;
    }
    for l in &links.all {
        crate::digest::text(
            &mut h,
            &format!(
                "{} {} {} {:x} {} {} {} {} {:x}",
                l.id,
                l.source_chain,
                l.source_asset,
                l.source_amount.to_bits(),
                l.destination_chain,
                l.release_tx,
                l.release_address,
                l.destination_asset,
                l.destination_amount.to_bits()
            ),
        );
    }
    let mut deposits: Vec<(&String, &Vec<usize>)> = links.by_deposit.iter().collect();
    deposits.sort();
    let mut released: Vec<&(String, String)> = links.released.iter().collect();
    released.sort();
    crate::digest::text(&mut h, &format!("{deposits:?} {released:?}"));
    Ok(hex::encode(h.finalize()))
}

fn dir(lake: &Lake) -> std::path::PathBuf {
    lake.root.join("_cache").join("trace")
}

fn path(lake: &Lake, digest: &str) -> std::path::PathBuf {
    dir(lake).join(format!("{}.json", &digest[..32.min(digest.len())]))
}

/// The checkpoint saved under `digest`, if one can be read.
pub(super) fn load(lake: &Lake, digest: &str) -> Option<Checkpoint> {
    let p = path(lake, digest);
    let bytes = std::fs::read(&p).ok()?;
    let cp: Checkpoint = serde_json::from_slice(&bytes).ok()?;
    if cp.format != FORMAT || cp.digest != digest || cp.months.is_empty() {
        return None;
    }
    // Used now: the newest of the kept checkpoints.
    let _ = std::fs::File::options().append(true).open(&p).and_then(|f| f.set_modified(std::time::SystemTime::now()));
    Some(cp)
}

/// Save the state at the end of a whole walk (best effort), and keep only the newest checkpoints.
pub(super) fn save(lake: &Lake, digest: &str, months: &[MonthWalked], st: &WalkState) {
    if months.is_empty() {
        return;
    }
    let cp = Checkpoint {
        format: FORMAT,
        digest: digest.to_string(),
        months: months.to_vec(),
        tracers: st.tracers.iter().map(|(g, t)| (*g, t.method, t.save())).collect(),
        last_time: st.last_time,
        walked: st.walked,
        seen_seed_address: st.seen_seed_address,
        utxo_seeds: st.utxo_seeds.iter().map(|(s, c, h, t, a)| (*s, c.clone(), h.clone(), t.clone(), a.to_bits())).collect(),
        crossings: st
            .crossings
            .iter()
            .map(|c| (c.tracer, c.seed, c.link, c.amount.to_bits(), c.released, c.bridge.clone(), c.day))
            .collect(),
        not_followed: st.not_followed.clone(),
        unreached: st.unreached.iter().map(|(k, v)| (*k, *v)).collect(),
        followed: st.followed.iter().copied().collect(),
    };
    let Ok(bytes) = serde_json::to_vec(&cp) else { return };
    if crate::paths::atomic_write(&path(lake, digest), &bytes).is_err() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir(lake)) else { return };
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let mut kept: Vec<(std::time::SystemTime, std::path::PathBuf)> = Vec::new();
    for p in entries.flatten().map(|e| e.path()) {
        let when = std::fs::metadata(&p).and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH);
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') && name.ends_with(".tmp") && when < hour_ago {
            // What a killed run's write left (a running one's is younger).
            let _ = std::fs::remove_file(&p);
        } else if name.ends_with(".json") {
            kept.push((when, p));
        }
    }
    kept.sort_by_key(|k| std::cmp::Reverse(k.0));
    for (_, p) in kept.into_iter().skip(KEPT) {
        let _ = std::fs::remove_file(p);
    }
}
