//! Ingest: load every configured source into the lake. Sources whose inputs (and dependencies) are
//! unchanged since the last run are skipped; the others are loaded into a staging folder and only
//! when every source has loaded are the staged files renamed into place, so a failed run leaves the
//! lake as it was. A file whose bytes would not change is not rewritten.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::{DataFrame, DataType};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{Format, Kind, Settings, SourceSpec};
use crate::error::{Error, Result};
use crate::lake::{self, FileInfo, Lake, SourceState};
use crate::sources::{self, Acc, Counts, Input, chain, partition};
use crate::table::{read_parquet, write_parquet};

/// Bumped when a loader's output for the same input changes, so that lakes are rebuilt.
pub const LOADER_VERSION: u32 = 2;

/// Whether a source was loaded or left as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceStatus {
    /// Read and written to the lake.
    Loaded,
    /// The inputs were the same as last time: no work done, no lake file touched.
    Unchanged,
    /// A chain source's new chunks were loaded on their own; only the partitions they touch were
    /// rewritten.
    Appended,
}

impl std::fmt::Display for SourceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SourceStatus::Loaded => "loaded",
            SourceStatus::Unchanged => "unchanged",
            SourceStatus::Appended => "appended",
        })
    }
}

/// What happened to one source.
#[derive(Debug, Clone, Serialize)]
pub struct SourceSummary {
    pub name: String,
    pub kind: &'static str,
    pub format: &'static str,
    pub status: SourceStatus,
    pub counts: Counts,
    pub files: Vec<FileInfo>,
    /// Lake files this source wrote that changed on disk.
    pub files_changed: usize,
    pub seconds: f64,
    /// Chain sources: chunks not loaded yet, within the reorg buffer of the newest block.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held_back: Vec<String>,
    /// cryo sources: how the rows reached the lake — `streamed` (read in block order and written
    /// straight into the lake), or `part files (why)` when that was not possible. bitcoin-etl
    /// sources: how many inputs were resolved and how many transactions gave flows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IngestSummary {
    pub run_id: String,
    pub lake: String,
    pub sources: Vec<SourceSummary>,
    /// Sources that were in the lake but are no longer configured; their files were removed.
    pub removed: Vec<String>,
    pub report: String,
}

/// Progress callbacks (the CLI draws bars; tests pass nothing).
pub trait Progress {
    fn source_started(&self, _spec: &SourceSpec, _files: usize, _bytes: u64) {}
    /// The loader of the current source started on one of its files.
    fn file_started(&self, _path: &Path) {}
    fn source_finished(&self, _summary: &SourceSummary) {}
    /// A chain source is loaded again, the exact way (through part files), for this reason.
    fn loading_again(&self, _spec: &SourceSpec, _why: &str) {}
    /// A chain source's new chunks could not be loaded on their own (for this reason): every chunk
    /// is loaded again.
    fn loading_whole(&self, _spec: &SourceSpec, _why: &str) {}
    /// The configured sample is being generated (first run only).
    fn generating_sample(&self, _out: &Path) {}
    /// `ifr run` finished its ingest and starts the report (the summary is final).
    fn ingest_finished(&self, _summary: &IngestSummary) {}
    /// A step of the report or the trace started (`stage`: "report" or "trace"), in words; the
    /// previous step of the stage, if any, is done.
    fn step(&self, _stage: &'static str, _what: &str) {}
    /// The tracer has walked `done` of the lake's `total` transfers.
    fn rows_walked(&self, _done: u64, _total: u64) {}
    /// The stage's last step is done.
    fn stage_finished(&self, _stage: &'static str) {}
}

pub struct NoProgress;
impl Progress for NoProgress {}

/// Removes the staging folder however the run ends.
struct Staging(PathBuf);
impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        if let Some(parent) = self.0.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

fn fingerprint(spec: &SourceSpec, files: &[FileInfo], base: &Path, deps: &str) -> String {
    let mut h = Sha256::new();
    h.update(format!("ifr-loader-{LOADER_VERSION}\n"));
    for t in crate::schema::all() {
        h.update(format!("{:?}\n", t.columns.iter().map(|c| (&c.name, c.ty)).collect::<Vec<_>>()));
    }
    h.update(format!("{}|{}|{:?}|{:?}|{}\n", spec.kind.as_str(), spec.format.as_str(), spec.chain, spec.asset, deps));
    for f in files {
        let rel = crate::paths::shown(base, Path::new(&f.path));
        h.update(format!("{rel}|{}|{}\n", f.bytes, f.sha256));
    }
    hex::encode(h.finalize())
}

fn tables_of(format: Format) -> &'static [&'static str] {
    match format.kind() {
        Kind::Assets => &["assets"],
        Kind::Actors => &["actors"],
        Kind::Labels => &["labels"],
        Kind::Sanctions => &["sanctions"],
        Kind::Incidents => &["incidents"],
        Kind::Recoveries => &["recoveries"],
        Kind::Links => &["crosschain_links"],
        Kind::Prices => &["prices"],
        Kind::Chain => &[],
    }
}

fn run_loader(input: &Input<'_>, acc: &mut Acc) -> Result<()> {
    match input.spec.format {
        Format::OfacXml => sources::ofac_xml::load(input, acc),
        Format::OfacCsv => sources::ofac_csv::load(input, acc),
        Format::Opensanctions => sources::opensanctions::load(input, acc),
        Format::Tagpack => sources::tagpack::load_tagpacks(input, acc),
        Format::Etherscan => sources::etherscan::load(input, acc),
        Format::Actorpack => sources::tagpack::load_actorpacks(input, acc),
        Format::IfrLedger => sources::incidents::load_ledger(input, acc),
        Format::Defillama => sources::incidents::load_defillama(input, acc),
        Format::IfrRecoveries => sources::incidents::load_recoveries(input, acc),
        Format::IfrLinks => sources::incidents::load_links(input, acc),
        Format::ThorchainMidgard => sources::incidents::load_midgard(input, acc),
        Format::Yahoo => sources::prices::load_yahoo(input, acc),
        Format::Cryptocompare => sources::prices::load_cryptocompare(input, acc),
        Format::PriceCsv => sources::prices::load_price_csv(input, acc),
        Format::AssetCsv => sources::assets::load(input, acc),
        Format::Cryo | Format::EthereumEtl | Format::BitcoinEtl | Format::BigqueryBitcoin => {
            Err(Error::Internal("chain sources are staged separately".into()))
        }
    }
}

/// Stage a chain source's `files` into `out` (partition files, relative to `out`): cryo files are
/// first streamed straight into place; input that needs the exact path (overlapping ranges,
/// duplicates) is loaded again through part files. `seed` are block times already in the lake.
/// Returns the files written, the accumulator (counts, quarantine) and how the rows were staged.
fn stage_chain(
    spec: &SourceSpec,
    files: &[PathBuf],
    out: &Path,
    assets: &chain::Assets,
    progress: &dyn Progress,
    seed: &[(i64, i64)],
) -> Result<(Vec<PathBuf>, Acc, Option<String>)> {
    let on_file = |p: &Path| progress.file_started(p);
    let input = Input { spec, files, on_file: &on_file };
    let chain_name = spec.chain.as_deref().ok_or_else(|| Error::Internal("chain source without chain".into()))?;
    let mut acc = Acc::new(&spec.name);
    let mut stream = spec.format == Format::Cryo;
    let mut why_not: Option<String> = None;
    loop {
        let mut stage = chain::ChainStage::new(chain_name, &spec.name, out.join(".parts").join(&spec.name), assets);
        stage.seed_block_times(seed.iter().copied());
        // UTXO sources stage at most 262,144 rows (and at most a bucket) before a part is written.
        stage.spill_rows = spec.bucket_rows.clamp(1, 1 << 18) as usize;
        if stream {
            stage.stream_into(out);
        }
        match spec.format {
            Format::Cryo => sources::cryo::load(&input, &mut acc, &mut stage)?,
            Format::BitcoinEtl => sources::bitcoin_etl::load(&input, &mut acc, &mut stage)?,
            Format::BigqueryBitcoin => sources::bitcoin_etl::load_bigquery(&input, &mut acc, &mut stage)?,
            _ => sources::ethereum_etl::load(&input, &mut acc, &mut stage)?,
        }
        if let Some(why) = stage.declined() {
            why_not = Some(why.to_string());
        }
        match stage.finish(&mut acc, out)? {
            chain::Staged::Written(mut written) if matches!(spec.format, Format::BitcoinEtl | Format::BigqueryBitcoin) => {
                if spec.format == Format::BigqueryBitcoin {
                    sources::bitcoin_etl::mark_coinbases(out, &written)?;
                }
                let (transfers, r) = sources::bitcoin_etl::derive_transfers(out, &written, chain_name, &spec.name, spec.bucket_rows)?;
                written.extend(transfers);
                let method = format!(
                    "inputs resolved: {} of {} ({} spend outputs not loaded); transactions with flows: {}, without (an input unresolved): {}, inconsistent (outputs > inputs): {}, without outputs loaded: {}",
                    r.inputs_resolved,
                    r.inputs_resolved + r.inputs_unresolved,
                    r.inputs_unresolved,
                    r.txs_with_flows,
                    r.txs_unresolved,
                    r.txs_inconsistent,
                    r.txs_without_outputs
                );
                return Ok((written, acc, Some(method)));
            }
            chain::Staged::Written(written) => {
                let method = (spec.format == Format::Cryo).then(|| why_not.map_or("streamed".to_string(), |w| format!("part files ({w})")));
                return Ok((written, acc, method));
            }
            chain::Staged::Again(why) => {
                progress.loading_again(spec, &why);
                acc = Acc::new(&spec.name);
                stream = false;
                why_not = Some(why);
            }
        }
    }
}

/// Load one source into `staging`; returns the lake-relative files written, the counts, and for
/// a chain source how it was staged.
fn stage_source(
    spec: &SourceSpec,
    files: &[PathBuf],
    staging: &Path,
    assets: &chain::Assets,
    progress: &dyn Progress,
) -> Result<(Vec<PathBuf>, Counts, Option<String>)> {
    let (mut written, acc, method) = if spec.kind == Kind::Chain {
        stage_chain(spec, files, staging, assets, progress, &[])?
    } else {
        let on_file = |p: &Path| progress.file_started(p);
        let input = Input { spec, files, on_file: &on_file };
        let mut acc = Acc::new(&spec.name);
        run_loader(&input, &mut acc)?;
        (Vec::new(), acc, None)
    };
    let (frames, counts) = acc.finish(tables_of(spec.format))?;
    for (table, mut df) in frames {
        let rel = PathBuf::from(table).join(format!("{}.parquet", spec.name));
        if table == "quarantine" && df.height() == 0 {
            continue;
        }
        write_parquet(&mut df, &staging.join(&rel))?;
        written.push(rel);
    }
    if !counts.balanced() {
        return Err(Error::Internal(format!("source {}: counts do not add up: {counts:?}", spec.name)));
    }
    Ok((written, counts, method))
}

/// Chain sources with a reorg buffer: the chunks to load, and those held back because they end
/// within `reorg_buffer` blocks of the newest block any chunk reaches (they may still be reorganised
/// and exported again). A chunk whose path gives no block range cannot be placed: an error.
fn hold_back(spec: &SourceSpec, files: Vec<PathBuf>) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    if spec.kind != Kind::Chain || spec.reorg_buffer == 0 {
        return Ok((files, Vec::new()));
    }
    let mut ranges = Vec::with_capacity(files.len());
    for f in &files {
        ranges.push(chain::chunk_range(spec.format, f).ok_or_else(|| {
            Error::input(
                f,
                format!(
                    "source `{}` has a reorg-buffer, so every chunk needs its block range in its path \
                     (cryo: {{network}}__{{dataset}}__{{start}}_to_{{end}}.parquet; ethereum-etl: start_block=…/end_block=… \
                     folders or a name ending in _{{start}}_{{end}})",
                    spec.name
                ),
            )
        })?);
    }
    let newest = ranges.iter().map(|r| r.1).max().unwrap_or(0);
    let last_final = newest.saturating_sub(spec.reorg_buffer as i64);
    let (mut load, mut held) = (Vec::new(), Vec::new());
    for (f, (_, end)) in files.into_iter().zip(ranges) {
        if end > last_final { held.push(f) } else { load.push(f) }
    }
    Ok((load, held))
}

/// How a chain source whose files changed is brought up to date.
enum ChainPlan {
    /// Load every chunk (with the reason when it is not the first load or a change of settings).
    Whole(Option<String>),
    /// Only these chunks are new; every chunk loaded before is there with the same content.
    Append(Vec<PathBuf>),
}

fn plan_chain(prev: Option<&SourceState>, setup: &str, infos: &[FileInfo]) -> ChainPlan {
    let Some(p) = prev else { return ChainPlan::Whole(None) };
    if p.setup.as_deref() != Some(setup) {
        return ChainPlan::Whole(None);
    }
    let now: std::collections::HashMap<&str, &FileInfo> = infos.iter().map(|f| (f.path.as_str(), f)).collect();
    for old in &p.files {
        match now.get(old.path.as_str()) {
            None => return ChainPlan::Whole(Some(format!("chunk `{}` is no longer there", old.path))),
            Some(n) if n.sha256 != old.sha256 || n.bytes != old.bytes => {
                return ChainPlan::Whole(Some(format!("chunk `{}` changed under the same name", old.path)));
            }
            Some(_) => {}
        }
    }
    let before: BTreeSet<&str> = p.files.iter().map(|f| f.path.as_str()).collect();
    let new: Vec<PathBuf> = infos.iter().filter(|f| !before.contains(f.path.as_str())).map(|f| PathBuf::from(&f.path)).collect();
    if new.is_empty() { ChainPlan::Whole(None) } else { ChainPlan::Append(new) }
}

/// A chain source's new chunks, staged on top of the lake.
struct Appended {
    /// Staged files (relative to the staging folder): partitions rewritten or added, quarantine.
    written: Vec<PathBuf>,
    /// Live files that stay as they are.
    kept: Vec<String>,
    counts: Counts,
    method: String,
}

/// Load only a chain source's new chunks: their rows are staged apart, then each partition they
/// touch is rewritten as the live partition's rows plus theirs, in chain order; the others stay as
/// they are. `Ok(Err(why))` when that might not equal a load of every chunk — a new row may repeat
/// the key of a loaded one (which one wins depends on the files' order), or a block's time was only
/// known from an earlier chunk's transactions — and the caller then loads the source whole.
fn stage_append(
    spec: &SourceSpec,
    new_files: &[PathBuf],
    prev: &SourceState,
    lake: &Lake,
    staging: &Path,
    assets: &chain::Assets,
    progress: &dyn Progress,
) -> Result<std::result::Result<Appended, String>> {
    let apart = staging.join(".append").join(&spec.name);
    // Block times the new chunks may need: from the first block any of them claims (a chunk's
    // rows lie in its range; a row outside it finds no time and the source is loaded whole), or
    // every block when a chunk's path gives no range. Row groups below are skipped by statistics.
    let from_block: Option<i64> = new_files
        .iter()
        .map(|f| chain::chunk_range(spec.format, f).map(|r| r.0))
        .collect::<Option<Vec<i64>>>()
        .and_then(|v| v.into_iter().min());
    let mut seed = Vec::new();
    for o in prev.outputs.iter().filter(|o| Path::new(o).starts_with("blocks")) {
        let path = lake.root.join(o);
        let err = |e| Error::polars("reading block times", e);
        let scan = polars::prelude::PlRefPath::try_from_path(&path).map_err(err)?;
        let mut lf = polars::prelude::LazyFrame::scan_parquet(scan, Default::default())
            .map_err(err)?
            .select([polars::prelude::col("block_number"), polars::prelude::col("block_time")]);
        if let Some(from) = from_block {
            lf = lf.filter(polars::prelude::col("block_number").gt_eq(polars::prelude::lit(from)));
        }
        let df = lf.collect().map_err(err)?;
        let t = df.column("block_time").map_err(err)?.cast(&DataType::Int64).map_err(err)?;
        let (n, t) = (df.column("block_number").map_err(err)?.i64().map_err(err)?, t.i64().map_err(err)?);
        seed.extend(n.iter().zip(t.iter()).filter_map(|(n, t)| n.zip(t)));
    }
    let (written, acc, how) = stage_chain(spec, new_files, &apart, assets, progress, &seed)?;
    drop(seed);
    let (frames, counts) = acc.finish(&[])?;
    let quarantine = frames.into_iter().find(|(t, _)| *t == "quarantine").map(|(_, df)| df).filter(|q| q.height() > 0);
    if let Some(q) = &quarantine {
        let err = |e| Error::polars("reading quarantine reasons", e);
        let reasons = q.column("reason").map_err(err)?.str().map_err(err)?;
        if reasons.iter().flatten().any(|r| r.starts_with("block is not in the blocks export")) {
            return Ok(Err("a new chunk refers to blocks whose times are not in the lake's blocks".into()));
        }
    }
    let live: std::collections::HashMap<String, &String> = prev.outputs.iter().map(|o| (lake::logical_name(o), o)).collect();
    let mut out = Vec::new();
    // Logical names of live files replaced by a merged partition file.
    let mut merged_away: BTreeSet<String> = BTreeSet::new();
    let (mut rewritten, mut added, mut parts) = (0, 0, 0);
    for rel in &written {
        let from = apart.join(rel);
        let to = staging.join(rel);
        let table = match rel.components().next().and_then(|c| c.as_os_str().to_str()) {
            Some("blocks") => "blocks",
            Some("transactions") => "transactions",
            Some("transfers") => "transfers",
            _ => return Err(Error::Internal(format!("a chain source staged `{}`", rel.display()))),
        };
        // The partition's live files of this source: its file and its parts, in name order.
        let mut lives: Vec<(String, &String)> = live
            .iter()
            .filter(|(logical, _)| {
                let l = Path::new(logical.as_str());
                l.parent() == rel.parent() && l.file_name().and_then(|n| n.to_str()).is_some_and(|n| partition::is_part_of(n, &spec.name))
            })
            .map(|(l, o)| (l.clone(), *o))
            .collect();
        lives.sort();
        let move_to = |to: &Path| -> Result<()> {
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io("creating folder", dir, e))?;
            }
            std::fs::rename(&from, to).map_err(|e| Error::io("moving into", to, e))
        };
        if lives.is_empty() {
            move_to(&to)?;
            added += 1;
            out.push(rel.clone());
            continue;
        }
        let paths: Vec<PathBuf> = lives.iter().map(|(_, o)| lake.root.join(o)).collect();
        match partition::joining(table, &paths, &from)? {
            partition::Joining::Collides(why) => return Ok(Err(why)),
            partition::Joining::After(first) if lives.len() < partition::MAX_PARTS => {
                // New blocks after the live ones: a part of their own; the live files stay.
                let part = rel.with_file_name(partition::part_name(&spec.name, first));
                move_to(&staging.join(&part))?;
                parts += 1;
                out.push(part);
            }
            _ => {
                partition::merge_into(table, &paths, &from, &to)?;
                merged_away.extend(lives.iter().map(|(l, _)| l.clone()));
                rewritten += 1;
                out.push(rel.clone());
            }
        }
    }
    if let Some(mut q) = quarantine {
        let rel = PathBuf::from("quarantine").join(format!("{}.parquet", spec.name));
        if let Some(old) = live.get(&rel.display().to_string()) {
            let mut all = read_parquet(&lake.root.join(old))?;
            all.vstack_mut_owned(q).map_err(|e| Error::polars("adding quarantined rows", e))?;
            q = all;
        }
        write_parquet(&mut q, &staging.join(&rel))?;
        out.push(rel);
    }
    let _ = std::fs::remove_dir_all(staging.join(".append"));
    let touched: BTreeSet<String> = out.iter().map(|p| p.display().to_string()).chain(merged_away).collect();
    let kept = prev.outputs.iter().filter(|o| !touched.contains(&lake::logical_name(o))).cloned().collect();
    let mut total = prev.counts.clone();
    total.add(&counts);
    let how = how.map(|h| format!(", {h}")).unwrap_or_default();
    let method = format!(
        "appended {} new chunks: {parts} parts added to partitions, {rewritten} partitions rewritten, {added} added{how}",
        new_files.len()
    );
    Ok(Ok(Appended { written: out, kept, counts: total, method }))
}

/// Run the ingest stage.
pub fn run(settings: &Settings, progress: &dyn Progress) -> Result<IngestSummary> {
    let lake = Lake::new(&settings.lake_dir);
    let (_lock, mut state) = lake.lock_for_writing(Some(&settings.base_dir), &lake::this_command())?;
    if let Some(sample) = &settings.sample {
        // Generate on first use, and again when the options or the embedded reference data changed.
        let marker = sample.out.join(crate::synth::SAMPLE_MARKER);
        let want = crate::synth::fingerprint(sample);
        if std::fs::read_to_string(&marker).ok().as_deref() != Some(want.as_str()) {
            progress.generating_sample(&sample.out);
            crate::synth::run_in(sample, Some(&settings.base_dir))?;
            crate::lake::atomic_write(&marker, want.as_bytes())?;
        }
    }
    let run_id = lake::new_run_id();
    let staging_dir = lake.staging_root().join(&run_id);
    let _staging = Staging(staging_dir.clone());

    let mut specs: Vec<&SourceSpec> = settings.sources.iter().collect();
    specs.sort_by_key(|s| s.kind); // stable: config order within a kind

    let mut summaries = Vec::new();
    let mut pending: Vec<lake::Pending> = Vec::new();
    let mut assets_fp = String::new();
    let mut asset_frames: Vec<DataFrame> = Vec::new();
    let mut assets: Option<chain::Assets> = None;

    for spec in specs {
        let t0 = Instant::now();
        let (files, held) = hold_back(spec, spec.files()?)?;
        let held: Vec<String> = held.iter().map(|p| p.display().to_string()).collect();
        let previous = state.sources.get(&spec.name).map(|p| p.files.as_slice()).unwrap_or_default();
        let infos: Vec<FileInfo> = files.iter().map(|f| lake::hash_file_cached(f, previous)).collect::<Result<_>>()?;
        let deps = if spec.kind == Kind::Chain { assets_fp.clone() } else { String::new() };
        let fp = fingerprint(spec, &infos, &settings.base_dir, &deps);
        let setup = fingerprint(spec, &[], &settings.base_dir, &deps);
        if spec.kind == Kind::Assets {
            assets_fp.push_str(&fp);
        }
        let prev = state.sources.get(&spec.name);
        let unchanged = prev.is_some_and(|p| p.fingerprint == fp && p.outputs.iter().all(|o| lake.root.join(o).is_file()));
        let plan = if !unchanged && spec.kind == Kind::Chain { plan_chain(prev, &setup, &infos) } else { ChainPlan::Whole(None) };
        // The bar counts what will be read: only the new chunks when they are appended.
        let reading: Vec<&FileInfo> = match &plan {
            ChainPlan::Append(new) => infos.iter().filter(|f| new.iter().any(|p| p.as_path() == Path::new(&f.path))).collect(),
            ChainPlan::Whole(_) => infos.iter().collect(),
        };
        progress.source_started(spec, reading.len(), reading.iter().map(|f| f.bytes).sum());

        let mut method = None;
        let (counts, status, files_changed) = if unchanged {
            let p = prev.cloned().ok_or_else(|| Error::Internal("state vanished".into()))?;
            if p.files != infos || p.held_back != held {
                // Same content, new modification times (or other chunks held back): remember them
                // so the next run reads nothing.
                if let Some(st) = state.sources.get_mut(&spec.name) {
                    st.files = infos.clone();
                    st.held_back = held.clone();
                }
            }
            if spec.kind == Kind::Assets {
                for o in p.outputs.iter().filter(|o| o.starts_with("assets")) {
                    asset_frames.push(read_parquet(&lake.root.join(o))?);
                }
            }
            (p.counts, SourceStatus::Unchanged, 0)
        } else {
            if spec.kind == Kind::Chain && assets.is_none() {
                let mut a = chain::Assets::default();
                for df in &asset_frames {
                    a.extend(chain::Assets::from_frame(df)?);
                }
                assets = Some(a);
            }
            let empty = chain::Assets::default();
            let assets = assets.as_ref().unwrap_or(&empty);
            let appended = match (plan, prev) {
                (ChainPlan::Append(_), Some(_)) if matches!(spec.format, Format::BitcoinEtl | Format::BigqueryBitcoin) => {
                    progress.loading_whole(
                        spec,
                        "bitcoin-etl: every input is resolved against the outputs it spends, so the source is loaded whole",
                    );
                    None
                }
                (ChainPlan::Append(new), Some(p)) => match stage_append(spec, &new, p, &lake, &staging_dir, assets, progress)? {
                    Ok(a) => Some(a),
                    Err(why) => {
                        progress.loading_whole(spec, &why);
                        None
                    }
                },
                (ChainPlan::Whole(Some(why)), _) => {
                    progress.loading_whole(spec, &why);
                    None
                }
                _ => None,
            };
            let (written, kept, counts, status) = match appended {
                Some(a) => {
                    method = Some(a.method);
                    (a.written, a.kept, a.counts, SourceStatus::Appended)
                }
                None => {
                    let (written, counts, how) = stage_source(spec, &files, &staging_dir, assets, progress)?;
                    method = how;
                    (written, Vec::new(), counts, SourceStatus::Loaded)
                }
            };
            if spec.kind == Kind::Assets {
                for o in written.iter().filter(|o| o.starts_with("assets")) {
                    asset_frames.push(read_parquet(&staging_dir.join(o))?);
                }
            }
            let outputs: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
            let st = SourceState {
                kind: spec.kind.as_str().into(),
                format: spec.format.as_str().into(),
                fingerprint: fp,
                outputs,
                counts: counts.clone(),
                files: infos.clone(),
                setup: Some(setup),
                held_back: held.clone(),
            };
            pending.push(lake::Pending { name: spec.name.clone(), state: st, written, kept });
            (counts, status, 0)
        };
        let summary = SourceSummary {
            name: spec.name.clone(),
            kind: spec.kind.as_str(),
            format: spec.format.as_str(),
            status,
            counts,
            files: infos,
            files_changed,
            seconds: t0.elapsed().as_secs_f64(),
            held_back: held,
            method,
        };
        progress.source_finished(&summary);
        summaries.push(summary);
    }

    // Every source loaded: publish (see `lake::publish_run`: one rename commits the whole run).
    let configured: BTreeSet<&str> = settings.sources.iter().map(|s| s.name.as_str()).collect();
    let (changed, removed) = lake::publish_run(&lake, &mut state, pending, &configured, &staging_dir, &run_id)?;
    for s in summaries.iter_mut() {
        if let Some(n) = changed.get(&s.name) {
            s.files_changed = *n;
        }
    }

    let report = lake.runs_dir().join(format!("{run_id}.json"));
    let summary =
        IngestSummary { run_id, lake: lake.root.display().to_string(), sources: summaries, removed, report: report.display().to_string() };
    let json = serde_json::to_vec_pretty(&summary).map_err(|e| Error::Internal(e.to_string()))?;
    lake::atomic_write(&report, &json)?;
    Ok(summary)
}
