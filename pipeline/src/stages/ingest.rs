//! Ingest: load every configured source into the lake. Sources whose inputs (and dependencies) are
//! unchanged since the last run are skipped; the others are loaded into a staging folder and only
//! when every source has loaded are the staged files renamed into place, so a failed run leaves the
//! lake as it was. A file whose bytes would not change is not rewritten.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::DataFrame;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{Format, Kind, Settings, SourceSpec};
use crate::error::{Error, Result};
use crate::lake::{self, FileInfo, Lake, SourceState};
use crate::sources::{self, Acc, Counts, Input, chain};
use crate::table::{read_parquet, write_parquet};

/// Bumped when a loader's output for the same input changes, so that lakes are rebuilt.
pub const LOADER_VERSION: u32 = 1;

/// Whether a source was loaded or left as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceStatus {
    /// Read and written to the lake.
    Loaded,
    /// The inputs were the same as last time: no work done, no lake file touched.
    Unchanged,
}

impl std::fmt::Display for SourceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SourceStatus::Loaded => "loaded",
            SourceStatus::Unchanged => "unchanged",
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
    /// cryo sources: how the rows reached the lake — `streamed` (read in block order and written
    /// straight into the lake), or `part files (why)` when that was not possible.
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
    /// The configured sample is being generated (first run only).
    fn generating_sample(&self, _out: &Path) {}
    /// `ifr run` finished its ingest and starts the report (the summary is final).
    fn ingest_finished(&self, _summary: &IngestSummary) {}
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
        let rel = Path::new(&f.path).strip_prefix(base).map(|p| p.display().to_string()).unwrap_or_else(|_| f.path.clone());
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
        Format::Yahoo => sources::prices::load_yahoo(input, acc),
        Format::Cryptocompare => sources::prices::load_cryptocompare(input, acc),
        Format::PriceCsv => sources::prices::load_price_csv(input, acc),
        Format::AssetCsv => sources::assets::load(input, acc),
        Format::Cryo | Format::EthereumEtl => Err(Error::Internal("chain sources are staged separately".into())),
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
    let on_file = |p: &Path| progress.file_started(p);
    let input = Input { spec, files, on_file: &on_file };
    let mut acc = Acc::new(&spec.name);
    let mut written = Vec::new();
    let mut method = None;
    if spec.kind == Kind::Chain {
        let chain_name = spec.chain.as_deref().ok_or_else(|| Error::Internal("chain source without chain".into()))?;
        // cryo files are first streamed straight into the lake; input that needs the exact path
        // (overlapping ranges, duplicates) is loaded again through part files.
        let mut stream = spec.format == Format::Cryo;
        let mut why_not: Option<String> = None;
        loop {
            let mut stage = chain::ChainStage::new(chain_name, &spec.name, staging.join(".parts").join(&spec.name), assets);
            if stream {
                stage.stream_into(staging);
            }
            match spec.format {
                Format::Cryo => sources::cryo::load(&input, &mut acc, &mut stage)?,
                _ => sources::ethereum_etl::load(&input, &mut acc, &mut stage)?,
            }
            if let Some(why) = stage.declined() {
                why_not = Some(why.to_string());
            }
            match stage.finish(&mut acc, staging)? {
                chain::Staged::Written(w) => {
                    written = w;
                    if spec.format == Format::Cryo {
                        method = Some(why_not.map_or("streamed".to_string(), |w| format!("part files ({w})")));
                    }
                    break;
                }
                chain::Staged::Again(why) => {
                    progress.loading_again(spec, &why);
                    acc = Acc::new(&spec.name);
                    stream = false;
                    why_not = Some(why);
                }
            }
        }
    } else {
        run_loader(&input, &mut acc)?;
    }
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
        let files = spec.files()?;
        let previous = state.sources.get(&spec.name).map(|p| p.files.as_slice()).unwrap_or_default();
        let infos: Vec<FileInfo> = files.iter().map(|f| lake::hash_file_cached(f, previous)).collect::<Result<_>>()?;
        let bytes = infos.iter().map(|f| f.bytes).sum();
        progress.source_started(spec, files.len(), bytes);
        let deps = if spec.kind == Kind::Chain { assets_fp.clone() } else { String::new() };
        let fp = fingerprint(spec, &infos, &settings.base_dir, &deps);
        if spec.kind == Kind::Assets {
            assets_fp.push_str(&fp);
        }
        let prev = state.sources.get(&spec.name);
        let unchanged = prev.is_some_and(|p| p.fingerprint == fp && p.outputs.iter().all(|o| lake.root.join(o).is_file()));

        let mut method = None;
        let (counts, status, files_changed) = if unchanged {
            let p = prev.cloned().ok_or_else(|| Error::Internal("state vanished".into()))?;
            if p.files != infos {
                // Same content, new modification times: remember them so the next run reads nothing.
                if let Some(st) = state.sources.get_mut(&spec.name) {
                    st.files = infos.clone();
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
            let (written, counts, how) = stage_source(spec, &files, &staging_dir, assets.as_ref().unwrap_or(&empty), progress)?;
            method = how;
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
            };
            pending.push(lake::Pending { name: spec.name.clone(), state: st, written });
            (counts, SourceStatus::Loaded, 0)
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
