//! The annual report: attribute, value, aggregate and trace over one lake snapshot, build each
//! year's typed model, have `ifr_reports::assemble` write it into a staging folder, and publish the
//! years atomically (each year's folder swapped into place in one rename).

use std::collections::BTreeMap;
use std::path::Path;

use ifr_reports::model::{ReportOptions, TraceTotal, YearModel};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::aggregate::{self, Flows, QUERIES, Receivers};
use super::attribute::{self, Attribution};
use super::trace::{self, DEFAULT_MAX_HOPS, DEFAULT_STOP, Method, Seeds, TraceOptions, TraceRow};
use super::value::{TheftKeys, Valuation};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::stages::ingest::Progress;
use crate::table::col_str;

#[derive(Debug, Clone, Serialize)]
pub struct ReportSummary {
    pub out: String,
    pub years: Vec<i32>,
    pub files: usize,
}

/// Everything computed for the report, all years.
pub(crate) struct Computed {
    flows: Flows,
    receivers: Receivers,
    traced: Traced,
    pub(crate) years: Vec<i32>,
    /// actor id -> its name (the actors table's label).
    actor_names: BTreeMap<String, String>,
    /// (year, theft transfer), sorted.
    thefts: Vec<(i32, ifr_reports::model::TheftTransfer)>,
    /// actor -> its ancestors, in the attribution's order.
    ancestors: BTreeMap<String, Vec<String>>,
    /// Lake table -> the hash of the input files loaded into it (see `input_hashes`).
    input_hashes: BTreeMap<String, String>,
}

/// The traced incidents: (year, incident, actor) and the trace rows of all of them.
struct Traced {
    incidents: Vec<(i32, String, String)>,
    rows: Vec<TraceRow>,
    /// Cross-chain links the trace did not follow, with why.
    links_not_followed: Vec<(String, String, i32)>,
    /// The transfers an earlier run's saved walk had covered, when the trace continued it.
    continued_after: Option<u64>,
}

/// Check that `out` can be the report's folder (new, empty, or already ifr's report folder; never
/// the lake's or the sample's) before any work is done: a refused folder costs nothing and changes
/// nothing.
pub fn check_folder(settings: &Settings, out: &Path) -> Result<()> {
    let out = &crate::paths::resolve(out)?;
    let sources: Vec<&Path> = settings.sources.iter().map(|s| s.path.as_path()).collect();
    let sample = settings.sample.as_ref().map(|s| s.out.as_path());
    crate::owned::check_layout(&settings.lake_dir, out, &settings.refresh.releases, sample, &sources, &settings.base_dir)?;
    crate::owned::check(out, crate::owned::Use::Report, Some(&settings.base_dir)).map(|_| ())
}

/// Render and publish the report for the configured (or all) years.
pub fn run(settings: &Settings, out_override: Option<&Path>, years: &[i32], progress: &dyn Progress) -> Result<ReportSummary> {
    let out = crate::paths::resolve(out_override.unwrap_or(&settings.report.out))?;
    check_folder(settings, &out)?;
    // One lake snapshot for every number, table and manifest entry of this report, even when an
    // ingest commits while it runs.
    let lake = Lake::new(&settings.lake_dir);
    let computed = compute(settings, &lake, years, progress)?;
    // Locked for this run; what a killed run left (its half-built folder, the previous years it
    // had moved aside) is removed.
    let _lock = crate::lake::take_output_folder(&out, crate::owned::Use::Report, &settings.base_dir, &[".partial-", ".old-"])?;
    let staging = out.join(format!(".partial-{}", crate::lake::new_run_id()));
    let result = render(settings, &lake, &computed, &staging, &out, &mut |_, _, _| Ok(None), progress);
    let files = match result {
        Ok(f) => f,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    // Publish: each year's folder is swapped with the previous one in one atomic rename.
    progress.step("report", "publishing");
    for &year in &computed.years {
        crate::failpoint::hit("report-publish");
        crate::lake::swap_into_place(&staging.join(year.to_string()), &out.join(year.to_string()))?;
    }
    crate::failpoint::hit("report-publish");
    // The index of the years just written (each file replaced in one rename).
    for name in ["index.html", "index.md", "index_series.csv"] {
        std::fs::rename(staging.join(name), out.join(name)).map_err(|e| Error::io("publishing", out.join(name), e))?;
    }
    let _ = std::fs::remove_dir_all(&staging);
    progress.stage_finished("report");
    Ok(ReportSummary { out: out.display().to_string(), years: computed.years, files })
}

/// How the report is presented, from the settings.
pub(crate) fn options(settings: &Settings) -> ReportOptions {
    ReportOptions {
        actors: settings.report.actors.clone(),
        max_transfer_usd: settings.report.max_transfer_usd,
        disclosure_day: settings.report.stolen_price_day == crate::config::StolenPriceDay::DisclosureDay,
    }
}

/// What a caller adds to a year's model before it is assembled: the changes since a previous
/// release (`ifr refresh`), from the model and the options.
pub(crate) type ChangesOf<'a> = dyn FnMut(i32, &YearModel, &ReportOptions) -> Result<Option<ifr_reports::model::Changes>> + 'a;

/// Assemble every computed year into `dir/<year>/`, to be published in `published` (what the
/// manifests record). Returns the number of files written.
pub(crate) fn render(
    settings: &Settings,
    lake: &Lake,
    computed: &Computed,
    dir: &Path,
    published: &Path,
    changes: &mut ChangesOf<'_>,
    progress: &dyn Progress,
) -> Result<usize> {
    let opts = options(settings);
    let methodology = super::methodology::paragraphs(settings, &computed.receivers.label_sources);
    // What every year's pages and manifest share, read once.
    let base = ManifestBase::read(settings, lake)?;
    let synthetic = synthetic_inputs(settings);
    let mut files = 0;
    let mut index = Vec::new();
    for &year in &computed.years {
        if crate::failpoint::fails("report-render") {
            return Err(Error::Internal("failpoint report-render (a test of a failed run)".into()));
        }
        progress.step("report", &format!("writing {year}: tables, charts, report.md, index.html"));
        let mut model = year_model(settings, computed, year, synthetic.clone())?;
        model.methodology = methodology.clone();
        model.manifest = base.manifest(settings, year, &model, published);
        model.changes = changes(year, &model, &opts)?;
        index.push(ifr_reports::assemble::year_summary(&model, &opts));
        let dir = dir.join(year.to_string());
        files += ifr_reports::assemble::assemble(&model, &opts, &dir).map_err(|e| Error::Internal(format!("writing the report: {e}")))?;
    }
    files += ifr_reports::assemble::write_index(dir, &index, synthetic.as_deref())
        .map_err(|e| Error::Internal(format!("writing the report's index: {e}")))?;
    Ok(files)
}

/// Every computed year's figures (what each figures.json holds), without writing anything.
pub(crate) fn figures(settings: &Settings, computed: &Computed) -> Result<BTreeMap<i32, Vec<ifr_reports::assemble::Figure>>> {
    let opts = options(settings);
    let mut out = BTreeMap::new();
    for &year in &computed.years {
        let model = year_model(settings, computed, year, None)?;
        out.insert(year, ifr_reports::assemble::figures(&model, &opts));
    }
    Ok(out)
}

/// The years to report: those asked for (else the config's, else every year with data), each
/// checked to have transfers.
fn wanted_years(settings: &Settings, years: &[i32], with_data: &[i32]) -> Result<Vec<i32>> {
    let wanted: Vec<i32> = if !years.is_empty() {
        years.to_vec()
    } else if !settings.report.years.is_empty() {
        settings.report.years.clone()
    } else {
        with_data.to_vec()
    };
    for y in &wanted {
        if !with_data.contains(y) {
            return Err(Error::Config(format!(
                "year {y} has no transfers in the lake (years with data: {})",
                with_data.iter().map(|y| y.to_string()).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    if wanted.is_empty() {
        return Err(Error::Config("the lake has no transfers: nothing to report (run `ifr ingest` first)".into()));
    }
    Ok(wanted)
}

/// Attribute, value and aggregate; then trace the reported years' incidents beside the last
/// queries (the trace is a walk in time order on one core, the queries use both).
pub(crate) fn compute(settings: &Settings, lake: &Lake, years: &[i32], progress: &dyn Progress) -> Result<Computed> {
    progress.step("report", "attributing addresses (all labels, then high-confidence labels)");
    let all = attribute::build(lake, settings.report.sanctions, 0)?;
    let high = attribute::build(lake, settings.report.sanctions, settings.report.high_confidence)?;
    for a in &settings.report.actors {
        if !all.known_actors.contains(a) {
            return Err(Error::Config(format!(
                "[report] actors: `{a}` is not an actor in the actors table (known: {})",
                all.known_actors.iter().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    progress.step("report", "building the price series and the incidents' theft keys");
    let valuation = Valuation::build(lake, &settings.report.price_sources, settings.report.max_transfer_usd)?;
    let thefts = TheftKeys::build(lake, settings.report.incident_window_days)?;
    let inputs = aggregate::Inputs {
        attribution: &all,
        high: &high,
        valuation: &valuation,
        thefts: &thefts,
        stolen_price_day: settings.report.stolen_price_day,
    };
    let engine = &settings.report.engine;
    let mut ctx = aggregate::open(engine, lake, &inputs, &aggregate::Scan::ALL, progress, "report")?;
    let ctx = ctx.as_mut();
    progress.step("report", "aggregating actor_flows and what is computed from it");
    let flows = aggregate::flows(ctx)?;
    let with_data: Vec<i32> = flows.coverage.keys().copied().collect();
    let wanted = wanted_years(settings, years, &with_data)?;
    let thefts = aggregate::theft_transfers(ctx)?;
    let known = trace::Known { lake, attribution: &all, valuation: &valuation, thefts: Some(&thefts) };
    progress.step("report", "tracing the incidents (3 methods, one pass) beside the top counterparties and chain coverage");
    let (receivers, traced) = std::thread::scope(|scope| {
        let tracer = scope.spawn(|| trace_incidents(settings, &known, &flows, &wanted));
        let receivers = aggregate::receivers(ctx);
        let traced = tracer.join().unwrap_or_else(|_| Err(Error::Internal("tracing the incidents failed (the thread panicked)".into())));
        (receivers, traced)
    });
    let traced = traced?;
    if let Some(n) = traced.continued_after {
        progress.step("report", &format!("the trace continued the walk an earlier run saved after {n} transfers"));
    }
    let ancestors = ancestors(&all)?;
    let theft_rows = aggregate::thefts(&thefts)?;
    let actors = lake.scan("actors")?.collect().map_err(|e| Error::polars("reading actors", e))?;
    let actor_names = col_str(&actors, "id")?.into_iter().zip(col_str(&actors, "label")?).filter(|(_, l)| !l.is_empty()).collect();
    let input_hashes = input_hashes(settings, lake)?;
    Ok(Computed { flows, receivers: receivers?, traced, years: wanted, actor_names, thefts: theft_rows, ancestors, input_hashes })
}

fn ancestors(att: &Attribution) -> Result<BTreeMap<String, Vec<String>>> {
    let mut parents: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (aa, an) = (col_str(&att.actor_ancestors, "actor")?, col_str(&att.actor_ancestors, "ancestor")?);
    for i in 0..aa.len() {
        if aa[i] != an[i] {
            parents.entry(aa[i].clone()).or_default().push(an[i].clone());
        }
    }
    Ok(parents)
}

/// Trace the incidents of every reported year that have theft transfers on chain, in one pass
/// over the transfers, each year's incidents as their own group — as if each year were traced alone.
fn trace_incidents(settings: &Settings, known: &trace::Known<'_>, flows: &Flows, years: &[i32]) -> Result<Traced> {
    // In each year, incident_summary's order: by date, then id.
    let incidents: Vec<(i32, String, String)> = years
        .iter()
        .flat_map(|y| flows.incidents.iter().filter(move |(iy, i)| iy == y && i.onchain.transfers > 0))
        .map(|(y, i)| (*y, i.id.clone(), i.actor.clone()))
        .collect();
    if incidents.is_empty() {
        return Ok(Traced { incidents, rows: Vec::new(), links_not_followed: Vec::new(), continued_after: None });
    }
    let opts = TraceOptions {
        seeds: Seeds::Incidents(incidents.iter().map(|(_, i, _)| i.clone()).collect()),
        methods: Method::ALL.to_vec(),
        max_hops: DEFAULT_MAX_HOPS,
        until: None,
        stop: DEFAULT_STOP.iter().map(|s| s.to_string()).collect(),
    };
    let groups: Vec<usize> = incidents.iter().map(|(y, _, _)| years.iter().position(|w| w == y).unwrap_or(0)).collect();
    // On its own thread: its progress is the report step's.
    let t = trace::run_links(settings, &opts, &groups, known, &super::ingest::NoProgress)?;
    Ok(Traced { incidents, rows: t.rows, links_not_followed: t.links_not_followed, continued_after: t.continued_after })
}

/// Published yearly estimates of DPRK-attributed theft (public facts with their sources, shipped in
/// data/reference; see its README).
const ESTIMATES: &str = include_str!("../../../data/reference/estimates.csv");

/// The published estimates whose years cover `year`, oldest publication first.
fn published_estimates(year: i32) -> Result<Vec<ifr_reports::model::Estimate>> {
    let bad = |line: usize, what: String| Error::Internal(format!("data/reference/estimates.csv line {line}: {what}"));
    let mut out = Vec::new();
    let mut rows = csv::Reader::from_reader(ESTIMATES.as_bytes());
    for (i, row) in rows.records().enumerate() {
        let r = row.map_err(|e| bad(i + 2, e.to_string()))?;
        let field = |n: usize| r.get(n).unwrap_or("").trim().to_string();
        let int = |n: usize| -> Result<Option<i64>> {
            let f = field(n);
            if f.is_empty() {
                Ok(None)
            } else {
                f.parse().map(Some).map_err(|_| bad(i + 2, format!("column {}: `{f}` is not an integer", n + 1)))
            }
        };
        let (from, to) = (int(0)?.unwrap_or(0) as i32, int(1)?.unwrap_or(0) as i32);
        if !(from..=to).contains(&year) {
            continue;
        }
        let usd = int(3)?.ok_or_else(|| bad(i + 2, "no estimate_usd".into()))?;
        out.push(ifr_reports::model::Estimate {
            years: if from == to { from.to_string() } else { format!("{from}-{to}") },
            publisher: field(2),
            usd: usd as i128 * 1_000_000,
            usd_high: int(4)?.map(|h| h as i128 * 1_000_000),
            incidents: int(5)?.map(|n| n as u32),
            what_it_counts: field(6),
            published: field(7),
            source: field(8),
            source_url: field(9),
        });
    }
    out.sort_by(|a, b| (&a.published, &a.publisher).cmp(&(&b.published, &b.publisher)));
    Ok(out)
}

/// When a source reads files `ifr synth` generated (its folder, or one above it, is a generated
/// sample), what the banner on every page of the report says.
fn synthetic_inputs(settings: &Settings) -> Option<String> {
    let generated = |dir: &Path| crate::owned::is_owned(dir, crate::owned::Use::Sample) || dir.join(crate::owned::SAMPLE_MARKER).is_file();
    let dir = settings.sources.iter().find_map(|s| s.path.ancestors().find(|d| generated(d)).map(Path::to_path_buf))?;
    let shown = match dir.strip_prefix(&settings.base_dir) {
        Ok(rel) if rel.as_os_str().is_empty() => "The inputs of this configuration".to_string(),
        Ok(rel) => format!("The inputs in {}", rel.display()),
        Err(_) => format!("The inputs in {}", dir.display()),
    };
    Some(format!(
        "{shown} were generated by ifr synth: a synthetic chain on which the reference ledger's real, publicly attributed incidents are played out and laundered. Incident names and attributions are real; every on-chain figure here describes the synthetic chain, not real flows."
    ))
}

fn keep_actor(settings: &Settings, actor: &str) -> bool {
    settings.report.actors.is_empty() || settings.report.actors.iter().any(|a| a == actor)
}

/// One year's model: the rows of the year (and of the configured actors).
fn year_model(settings: &Settings, c: &Computed, year: i32, synthetic: Option<String>) -> Result<YearModel> {
    let keep = |y: i32, actor: &str| y == year && keep_actor(settings, actor);
    let f = &c.flows;
    Ok(YearModel {
        year,
        totals: f.totals.iter().filter(|t| keep(t.year, &t.actor)).cloned().collect(),
        months: f.months.iter().filter(|t| keep(t.year, &t.actor)).cloned().collect(),
        chain_totals: f.chain_totals.iter().filter(|t| keep(t.year, &t.actor)).cloned().collect(),
        // The links whose deposit falls in this year.
        links_not_followed: c
            .traced
            .links_not_followed
            .iter()
            .filter(|l| l.2 == year)
            .map(|(id, why, _)| (id.clone(), why.clone()))
            .collect(),
        destinations: f.destinations.iter().filter(|t| keep(t.year, &t.actor)).cloned().collect(),
        counterparties: c.receivers.counterparties.iter().filter(|t| keep(t.year, &t.actor)).cloned().collect(),
        incidents: f.incidents.iter().filter(|(y, _)| *y == year).map(|(_, i)| i.clone()).collect(),
        coverage: f.coverage.get(&year).copied().unwrap_or_default(),
        implausible: f.implausible.iter().filter(|(y, _)| *y == year).map(|(_, i)| i.clone()).collect(),
        trace: trace_totals(settings, &c.ancestors, &c.traced, year),
        ancestors: c.ancestors.clone(),
        methodology: Vec::new(),
        queries: super::methodology::queries(),
        manifest: serde_json::Value::Null,
        changes: None,
        actor_names: c.actor_names.clone(),
        synthetic,
        estimates: published_estimates(year)?,
        thefts: c.thefts.iter().filter(|(y, _)| *y == year).map(|(_, t)| t.clone()).collect(),
        chains: c.receivers.chains.clone(),
        asset_coverage: f.asset_coverage.iter().filter(|(y, _)| *y == year).map(|(_, a)| a.clone()).collect(),
        recoveries: f.recoveries.iter().filter(|(y, _)| *y == year).map(|(_, r)| r.clone()).collect(),
        input_hashes: c.input_hashes.clone(),
    })
}

/// The year's trace rows summed per actor (and each of its ancestors), method and destination.
fn trace_totals(settings: &Settings, ancestors: &BTreeMap<String, Vec<String>>, traced: &Traced, year: i32) -> Vec<TraceTotal> {
    // Keyed by the method's name: the table lists methods in alphabetical order.
    let mut sums: BTreeMap<(String, &'static str, String), (Method, ifr_reports::model::Money)> = BTreeMap::new();
    for r in &traced.rows {
        let Some((_, _, actor)) = traced.incidents.iter().find(|(y, i, _)| *y == year && *i == r.seed) else { continue };
        let mut chain = vec![actor.clone()];
        chain.extend(ancestors.get(actor).cloned().unwrap_or_default());
        for a in chain {
            let (_, e) = sums.entry((a, r.method.as_str(), r.destination.clone())).or_insert((r.method, Default::default()));
            e.transfers += 1;
            match r.value_usd {
                Some(v) => e.micro_usd += (v * 1e6).round() as i128,
                // No price that day, or above the ceiling: missing coverage, never 0 USD.
                None => e.unpriced += 1,
            }
        }
    }
    sums.into_iter()
        .filter(|((actor, _, _), _)| keep_actor(settings, actor))
        .map(|((actor, _, destination), (method, value))| TraceTotal { actor, method, destination, value })
        .collect()
}

/// Each lake table's input hash: sha256 over the sorted lines `<file> <sha256>` of the input files
/// of every source that wrote the table (paths as the manifest shows them), from the lake snapshot
/// the report reads.
fn input_hashes(settings: &Settings, lake: &Lake) -> Result<BTreeMap<String, String>> {
    let mut lines: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in lake.state()?.sources.values() {
        let tables: std::collections::BTreeSet<String> = s
            .outputs
            .iter()
            .filter_map(|o| Path::new(o).components().next().map(|c| c.as_os_str().to_string_lossy().into_owned()))
            .collect();
        for t in tables {
            let l = lines.entry(t).or_default();
            l.extend(s.files.iter().map(|f| format!("{} {}", crate::paths::shown(&settings.base_dir, Path::new(&f.path)), f.sha256)));
        }
    }
    // A table no source wrote (no Bitcoin, no links) has a hash too: of no files.
    for t in crate::schema::all() {
        lines.entry(t.table.clone()).or_default();
    }
    Ok(lines
        .into_iter()
        .map(|(t, mut l)| {
            l.sort();
            (t, hex::encode(Sha256::digest(l.join("\n").as_bytes())))
        })
        .collect())
}

/// The parts of a year's manifest.json that every year of a run shares, read once from the config
/// and the lake snapshot: the config's hash, the input files with their hashes and counts, the
/// tables' row counts, the queries' hashes.
struct ManifestBase {
    config_sha256: String,
    inputs: Vec<serde_json::Value>,
    table_rows: BTreeMap<String, u64>,
    queries: Vec<serde_json::Value>,
}

impl ManifestBase {
    fn read(settings: &Settings, lake: &Lake) -> Result<ManifestBase> {
        let config = std::fs::read(&settings.config_path).map_err(|e| Error::io("reading", &settings.config_path, e))?;
        let mut table_rows = BTreeMap::new();
        for t in crate::schema::all() {
            table_rows.insert(t.table.clone(), lake.row_count(&t.table)?);
        }
        let inputs = lake
            .state()?
            .sources
            .iter()
            .map(|(name, s)| {
                serde_json::json!({
                    "source": name,
                    "kind": s.kind,
                    "format": s.format,
                    "files": s.files.iter().map(|f| serde_json::json!({
                        "file": crate::paths::shown(&settings.base_dir, Path::new(&f.path)),
                        "sha256": f.sha256,
                        "bytes": f.bytes,
                    })).collect::<Vec<_>>(),
                    "counts": s.counts,
                })
            })
            .collect();
        let queries = QUERIES
            .iter()
            .map(|(name, q)| serde_json::json!({"name": name, "sha256": hex::encode(Sha256::digest(q.as_bytes()))}))
            .collect();
        Ok(ManifestBase { config_sha256: hex::encode(Sha256::digest(&config)), inputs, table_rows, queries })
    }

    /// The year's manifest.json, for a report published in `published`.
    fn manifest(&self, settings: &Settings, year: i32, model: &YearModel, published: &Path) -> serde_json::Value {
        // The folder the report was actually written to (`--out`, a release), not only the config's.
        let mut shown_settings = settings.report.clone();
        shown_settings.out = crate::paths::shown(&settings.base_dir, published).into();
        serde_json::json!({
            "ifr_version": env!("CARGO_PKG_VERSION"),
            "year": year,
            "config_sha256": self.config_sha256,
            "settings": shown_settings,
            "engine": settings.report.engine.provenance(),
            "inputs": self.inputs,
            "table_rows": self.table_rows,
            "price_coverage": { "transfers": model.coverage.transfers, "priced_transfers": model.coverage.priced },
            "queries": self.queries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seed: &str, destination: &str, address: &str, value_usd: Option<f64>) -> TraceRow {
        TraceRow {
            method: Method::Haircut,
            seed: seed.into(),
            destination: destination.into(),
            address: address.into(),
            actor: None,
            chain: "ethereum".into(),
            asset: "ETH".into(),
            amount: 1.0,
            value_usd,
            implausible: false,
            hops: 1,
            first_arrival: None,
            last_arrival: None,
        }
    }

    /// The shipped estimates parse; every row names its source by URL, a publication date and what
    /// it counts; 2022 has Chainalysis' figure and the UN Panel's range.
    #[test]
    fn published_estimates_are_sourced() {
        for year in 2017..=2025 {
            for e in published_estimates(year).unwrap() {
                assert!(e.source_url.starts_with("http"), "{e:?}");
                assert!(e.published.len() >= 7 && !e.what_it_counts.is_empty() && !e.source.is_empty(), "{e:?}");
                assert!(e.usd > 0 && e.usd_high.is_none_or(|h| h > e.usd), "{e:?}");
            }
        }
        let y2022 = published_estimates(2022).unwrap();
        assert!(y2022.iter().any(|e| e.publisher == "Chainalysis" && e.usd == 1_650_000_000_000_000));
        assert!(y2022.iter().any(|e| e.publisher.starts_with("UN Panel") && e.usd_high == Some(1_000_000_000_000_000)));
    }

    /// A destination without a price is counted as unpriced, never summed as 0 USD; a
    /// destination category with nothing priced has an empty (unknown) value.
    #[test]
    fn trace_destinations_count_unpriced_arrivals_instead_of_valuing_them_at_zero() {
        let settings = Settings::parse("", Path::new("ifr.toml")).unwrap();
        let traced = Traced {
            incidents: vec![(2022, "hack".into(), "lazarus_group".into())],
            rows: vec![
                row("hack", "exchange", "0xa", Some(1.5)),
                row("hack", "exchange", "0xb", None),
                row("hack", "mixer", "0xc", None),
                // another year's seed: not in 2022's table
                row("other", "exchange", "0xd", Some(7.0)),
            ],
            links_not_followed: Vec::new(),
            continued_after: None,
        };
        let ancestors = BTreeMap::from([("lazarus_group".to_string(), vec!["dprk".to_string()])]);
        let got: Vec<(String, Method, String, Option<i128>, i64, i64)> = trace_totals(&settings, &ancestors, &traced, 2022)
            .into_iter()
            .map(|t| {
                (
                    t.actor,
                    t.method,
                    t.destination,
                    (!t.value.is_unknown()).then_some(t.value.micro_usd),
                    t.value.transfers,
                    t.value.unpriced,
                )
            })
            .collect();
        let want = |a: &str, d: &str, v: Option<i128>, n: i64, u: i64| (a.to_string(), Method::Haircut, d.to_string(), v, n, u);
        assert_eq!(
            got,
            [
                want("dprk", "exchange", Some(1_500_000), 2, 1),
                want("dprk", "mixer", None, 1, 1),
                want("lazarus_group", "exchange", Some(1_500_000), 2, 1),
                want("lazarus_group", "mixer", None, 1, 1),
            ]
        );
    }
}
