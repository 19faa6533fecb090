//! Aggregation: the SQL in `queries/`, run over one lake snapshot, the attribution and the
//! valuation tables, returned as one typed row set per output table. The queries run on polars in
//! this process ([`context`], the default), or with the `ballista` feature on DataFusion in this
//! process or on an Apache Ballista cluster ([`datafusion`]); either way through [`Queries`], so the
//! typed tables the report receives are built by the same code whichever engine computed them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ifr_reports::model::{
    ActorMonth, ActorTotal, AssetCoverage, Category, ChainSpan, ChainTotal, Counterparty, Coverage, Destination, Implausible, Incident,
    LabelSource, Metric, Money, Recovery,
};
use polars::prelude::*;
use polars::sql::SQLContext;
use sha2::{Digest, Sha256};

use super::attribute::Attribution;
use super::value::{TheftKeys, Valuation};
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::stages::ingest::Progress;
use crate::table::{col_i64, col_i128, col_opt_i128, col_str};

#[cfg(feature = "ballista")]
pub mod datafusion;

/// An engine the queries run on: SQL text in, rows out (collected: every result the report reads
/// is small), and results registered as tables for the queries that read them.
pub trait Queries {
    /// Run `sql` (named `what` in errors) and collect its rows.
    fn sql(&mut self, what: &str, sql: &str) -> Result<DataFrame>;
    /// Make `df` the table `name` for the next queries (replacing one of that name).
    fn register(&mut self, name: &str, df: DataFrame) -> Result<()>;
    /// Whether a table `name` is registered.
    fn has_table(&self, name: &str) -> bool;
}

impl Queries for SQLContext {
    fn sql(&mut self, what: &str, sql: &str) -> Result<DataFrame> {
        self.execute(sql).and_then(collect).map_err(|e| Error::Internal(format!("query {what} failed: {e}")))
    }

    fn register(&mut self, name: &str, df: DataFrame) -> Result<()> {
        SQLContext::register(self, name, df.lazy());
        Ok(())
    }

    fn has_table(&self, name: &str) -> bool {
        self.get_tables().iter().any(|t| t == name)
    }
}

/// The queries, in the order they are registered (views first).
pub const QUERIES: [(&str, &str); 20] = [
    ("attributed_transfers", include_str!("../../../../queries/attributed_transfers.sql")),
    ("theft_transfers", include_str!("../../../../queries/theft_transfers.sql")),
    ("actor_flows", include_str!("../../../../queries/actor_flows.sql")),
    ("counterparty_totals", include_str!("../../../../queries/counterparty_totals.sql")),
    ("chain_months", include_str!("../../../../queries/chain_months.sql")),
    ("actor_chain_months", include_str!("../../../../queries/actor_chain_months.sql")),
    ("actor_month_totals", include_str!("../../../../queries/actor_month_totals.sql")),
    ("actor_year_totals", include_str!("../../../../queries/actor_year_totals.sql")),
    ("actor_chain_totals", include_str!("../../../../queries/actor_chain_totals.sql")),
    ("actor_destinations", include_str!("../../../../queries/actor_destinations.sql")),
    ("incident_values", include_str!("../../../../queries/incident_values.sql")),
    ("incident_summary", include_str!("../../../../queries/incident_summary.sql")),
    ("recoveries", include_str!("../../../../queries/recoveries.sql")),
    ("price_coverage", include_str!("../../../../queries/price_coverage.sql")),
    ("asset_price_coverage", include_str!("../../../../queries/asset_price_coverage.sql")),
    ("chain_coverage", include_str!("../../../../queries/chain_coverage.sql")),
    ("top_counterparties", include_str!("../../../../queries/top_counterparties.sql")),
    ("counterparty_labels", include_str!("../../../../queries/counterparty_labels.sql")),
    ("implausible_transfers", include_str!("../../../../queries/implausible_transfers.sql")),
    ("label_sources", include_str!("../../../../queries/label_sources.sql")),
];

/// A query's text by name (every name used in ifr is in [`QUERIES`]).
pub fn query(name: &str) -> &'static str {
    QUERIES.iter().find(|(n, _)| *n == name).map(|(_, q)| *q).unwrap_or("")
}

/// The header comment of a query (its documentation), without the `--` markers.
pub fn query_doc(name: &str) -> String {
    query(name).lines().take_while(|l| l.starts_with("--")).map(|l| l.trim_start_matches("--").trim()).collect::<Vec<_>>().join(" ")
}

/// Run a query on polars' streaming engine: the transfers are read in batches, never held whole.
fn collect(lf: LazyFrame) -> PolarsResult<DataFrame> {
    lf.collect_with_engine(Engine::Streaming).map(|r| r.unwrap_single())
}

fn run_query(ctx: &mut dyn Queries, name: &str) -> Result<DataFrame> {
    ctx.sql(name, query(name))
}

/// The inputs a query context registers besides the lake's tables.
pub struct Inputs<'a> {
    pub attribution: &'a Attribution,
    /// The attribution under high-confidence labels only (actor_flows' `*_high` columns).
    pub high: &'a Attribution,
    pub valuation: &'a Valuation,
    pub thefts: &'a TheftKeys,
    pub stolen_price_day: crate::config::StolenPriceDay,
}

/// The queries that read the transfers. Each runs on every lake file of transfers alone, and its
/// result over the lake is the files' results stacked: the queries reading them sum them
/// (actor_flows, counterparty_totals, chain_months) or take their rows (the theft candidates, the
/// implausible transfers). A file's results are kept in the lake's `_cache/scans/`, under the
/// file's identity and a digest of everything else they depend on, so that a refresh that adds a
/// day to one month scans only that month's file (see [`ScanCache`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// attributed_transfers over the transfers with a ledger tx hash or a victim sender (read by
    /// queries/theft_transfers.sql as `theft_candidates`).
    TheftCandidates,
    ActorFlows,
    CounterpartyTotals,
    ChainMonths,
    /// Only for the files whose actor_flows count an implausible transfer.
    Implausible,
}

impl Scan {
    /// Every scan the report needs.
    pub const ALL: [Scan; 5] = [Scan::TheftCandidates, Scan::ActorFlows, Scan::CounterpartyTotals, Scan::ChainMonths, Scan::Implausible];

    /// The name its stacked result is registered under.
    pub fn name(self) -> &'static str {
        match self {
            Scan::TheftCandidates => "theft_candidates",
            Scan::ActorFlows => "actor_flows",
            Scan::CounterpartyTotals => "counterparty_totals",
            Scan::ChainMonths => "chain_months",
            Scan::Implausible => "implausible_transfers",
        }
    }
}

/// The order of implausible_transfers (queries/implausible_transfers.sql), applied again to the
/// files' rows stacked.
const IMPLAUSIBLE_ORDER: &str = "ORDER BY year, block_number, tx_hash, log_index, trace_address";

/// The query context: the lake's transfers, incidents and labels, the inputs, the view
/// attributed_transfers (over the whole lake, for `ifr sql` and the goldens), the stacked results
/// of the `scans` (see [`Scan`]) and theft_transfers (collected once: a few rows, read by three
/// queries). Its steps are told to `progress` as steps of `stage`.
pub fn context(lake: &Lake, inputs: &Inputs<'_>, scans: &[Scan], progress: &dyn Progress, stage: &'static str) -> Result<SQLContext> {
    if !scans.is_empty() {
        progress.step(stage, "scanning the transfers, file by file (results kept from an earlier run are reused)");
    }
    let options = DataFrame::new(1, vec![Column::new("stolen_price_day".into(), [inputs.stolen_price_day.as_str()])])
        .map_err(|e| Error::polars("report_options", e))?;
    let register = |ctx: &SQLContext, transfers: LazyFrame| -> Result<()> {
        ctx.register("transfers", transfers);
        ctx.register("incidents", lake.scan("incidents")?);
        ctx.register("recoveries", lake.scan("recoveries")?);
        ctx.register("labels", lake.scan("labels")?);
        ctx.register("asset_series", inputs.valuation.asset_series.clone().lazy());
        ctx.register("price_days", inputs.valuation.price_days.clone().lazy());
        ctx.register("address_actors", inputs.attribution.address_actors.clone().lazy());
        ctx.register("address_actors_high", inputs.high.address_actors.clone().lazy());
        ctx.register("actor_ancestors", inputs.attribution.actor_ancestors.clone().lazy());
        ctx.register("report_options", options.clone().lazy());
        ctx.register("incident_tx", inputs.thefts.tx.clone().lazy());
        ctx.register("incident_parties", inputs.thefts.parties.clone().lazy());
        Ok(())
    };
    let filter = inputs.thefts.candidate_filter()?;
    let cache = ScanCache::new(lake, inputs, &filter)?;
    // One file's results of the scans asked for (those not kept already).
    let run = |transfers: LazyFrame, which: &[Scan]| -> Result<Vec<DataFrame>> {
        let mut ctx = SQLContext::new();
        register(&ctx, transfers)?;
        let view = ctx.execute(query("attributed_transfers")).map_err(|e| Error::Internal(format!("query attributed_transfers: {e}")))?;
        ctx.register("attributed_transfers", view);
        let bad = |s: Scan| move |e: PolarsError| Error::Internal(format!("query {} failed: {e}", s.name()));
        let mut out = Vec::with_capacity(which.len());
        for &s in which {
            let df = match s {
                Scan::TheftCandidates => {
                    // attributed_transfers over only the transfers with a ledger tx hash or a victim
                    // sender, the keys given as literal lists so that the Parquet scan skips every
                    // other row group instead of a join holding the year's hashes.
                    let sub = SQLContext::new();
                    register(&sub, ctx.execute(&format!("SELECT * FROM transfers WHERE {filter}")).map_err(bad(s))?)?;
                    let mut sub = sub;
                    sub.execute(query("attributed_transfers")).and_then(collect).map_err(bad(s))?
                }
                _ => ctx.execute(query(s.name())).and_then(collect).map_err(bad(s))?,
            };
            out.push(df);
        }
        Ok(out)
    };
    let mut stacked: BTreeMap<&'static str, DataFrame> = BTreeMap::new();
    let files = lake.table_files("transfers")?;
    let first: Vec<Scan> = scans.iter().copied().filter(|s| *s != Scan::Implausible).collect();
    let mut with_implausible = Vec::new();
    for file in &files {
        let parts = cache.results(file, &first, &run)?;
        for (s, df) in first.iter().zip(parts) {
            if *s == Scan::ActorFlows && scans.contains(&Scan::Implausible) && count_implausible(&df)? > 0 {
                with_implausible.push(file);
            }
            stack(&mut stacked, s.name(), df)?;
        }
    }
    if scans.contains(&Scan::Implausible) {
        for file in with_implausible {
            let parts = cache.results(file, &[Scan::Implausible], &run)?;
            for df in parts {
                stack(&mut stacked, Scan::Implausible.name(), df)?;
            }
        }
    }
    // An empty lake (or no file with implausible transfers): the scans over no rows, for their
    // columns.
    let missing: Vec<Scan> = scans.iter().copied().filter(|s| !stacked.contains_key(s.name())).collect();
    if !missing.is_empty() {
        let none = lake.scan("transfers")?.limit(0);
        for (s, df) in missing.iter().zip(run(none, &missing)?) {
            stacked.insert(s.name(), df);
        }
    }
    cache.collect_garbage();
    let computed = cache.computed.get();
    if computed < files.len() {
        progress.step(stage, &format!("scanned {computed} of {} transfers files (the others' results were kept)", files.len()));
    }

    let mut ctx = SQLContext::new();
    register(&ctx, lake.scan("transfers")?)?;
    let view = ctx.execute(query("attributed_transfers")).map_err(|e| Error::Internal(format!("query attributed_transfers: {e}")))?;
    ctx.register("attributed_transfers", view);
    for &s in scans {
        let df = stacked.remove(s.name()).unwrap_or_default();
        if s == Scan::Implausible {
            // The files' rows in the query's order (each file's are already).
            let mut sub = SQLContext::new();
            sub.register("implausible_transfers", df.lazy());
            let sorted = sub
                .execute(&format!("SELECT * FROM implausible_transfers {IMPLAUSIBLE_ORDER}"))
                .and_then(collect)
                .map_err(|e| Error::Internal(format!("query implausible_transfers failed: {e}")))?;
            ctx.register(s.name(), sorted.lazy());
        } else {
            ctx.register(s.name(), df.lazy());
        }
    }
    if scans.contains(&Scan::TheftCandidates) {
        let thefts = run_query(&mut ctx, "theft_transfers")?;
        ctx.register("theft_transfers", thefts.lazy());
    }
    Ok(ctx)
}

/// The query context on the configured engine: polars' [`context`], or DataFusion / Ballista's
/// ([`datafusion::context`], the `ballista` feature), with the same tables registered; its steps
/// told to `progress` as steps of `stage` (the report's, or the trace's).
pub fn open(
    engine: &crate::config::Engine,
    lake: &Lake,
    inputs: &Inputs<'_>,
    scans: &[Scan],
    progress: &dyn Progress,
    stage: &'static str,
) -> Result<Box<dyn Queries>> {
    match engine {
        crate::config::Engine::Polars => Ok(Box::new(context(lake, inputs, scans, progress, stage)?)),
        #[cfg(feature = "ballista")]
        other => Ok(Box::new(datafusion::context(other, lake, inputs, scans, progress, stage)?)),
        #[cfg(not(feature = "ballista"))]
        other => Err(Error::Config(format!(
            "engine `{}` needs ifr built with the `ballista` feature (cargo build --release --features ballista)",
            other.name()
        ))),
    }
}

/// The implausible transfers an actor_flows result counts.
fn count_implausible(flows: &DataFrame) -> Result<i64> {
    Ok(col_i64(flows, "implausible_transfers")?.iter().sum())
}

/// Append `df` to the stacked result `name`.
fn stack(stacked: &mut BTreeMap<&'static str, DataFrame>, name: &'static str, df: DataFrame) -> Result<()> {
    match stacked.get_mut(name) {
        Some(acc) => {
            acc.vstack_mut(&df).map_err(|e| Error::Internal(format!("stacking the files' results of {name}: {e}")))?;
        }
        None => {
            stacked.insert(name, df);
        }
    }
    Ok(())
}

/// Runs scans on one lake file (as [`context`] sets them up).
type RunScans<'a> = dyn Fn(LazyFrame, &[Scan]) -> Result<Vec<DataFrame>> + 'a;

/// The kept results of the scans, `<lake>/_cache/scans/<lake file>/<scan>.<key>.parquet`, where
/// the key hashes the lake file's identity (its lake-relative name, which a rewrite never reuses,
/// its size and modification time) with a digest of everything else a result depends on: ifr's
/// version and executable, the text of every query, the theft keys' filter, and the contents of
/// every input frame (attribution under all and high-confidence labels, actor ancestry, price
/// series and days, report options, theft keys). Equal keys, equal results; a result that cannot
/// be read is computed again, and one that cannot be written is not kept (the lake may be
/// read-only): the cache changes how fast, never what.
struct ScanCache {
    root: PathBuf,
    lake_root: PathBuf,
    digest: String,
    /// Files scanned (some result not kept).
    computed: std::cell::Cell<usize>,
}

/// How many results of one scan are kept per lake file (the newest by use): the current inputs, and
/// those of the restatement steps a refresh computes beside them.
const KEPT_PER_SCAN: usize = 4;

impl ScanCache {
    fn new(lake: &Lake, inputs: &Inputs<'_>, filter: &str) -> Result<ScanCache> {
        let mut h = Sha256::new();
        crate::digest::program(&mut h);
        for (name, q) in QUERIES {
            crate::digest::text(&mut h, name);
            crate::digest::text(&mut h, q);
        }
        crate::digest::text(&mut h, filter);
        crate::digest::text(&mut h, inputs.stolen_price_day.as_str());
        for df in [
            &inputs.attribution.address_actors,
            &inputs.high.address_actors,
            &inputs.attribution.actor_ancestors,
            &inputs.valuation.asset_series,
            &inputs.valuation.price_days,
            &inputs.thefts.tx,
            &inputs.thefts.parties,
        ] {
            crate::digest::frame(&mut h, df)?;
        }
        let root = lake.root.join("_cache").join("scans");
        Ok(ScanCache { root, lake_root: lake.root.clone(), digest: hex::encode(h.finalize()), computed: Default::default() })
    }

    /// A file's entry and the key of its results, when it can be kept (a file of the lake).
    fn entry(&self, file: &Path) -> Option<(PathBuf, String)> {
        let rel = file.strip_prefix(&self.lake_root).ok()?;
        if rel.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
            return None;
        }
        let meta = std::fs::metadata(file).ok()?;
        let mut h = Sha256::new();
        h.update(self.digest.as_bytes());
        h.update(rel.display().to_string().as_bytes());
        h.update(meta.len().to_le_bytes());
        h.update(format!("{:?}", meta.modified().ok()).as_bytes());
        Some((self.root.join(rel), hex::encode(h.finalize())[..32].to_string()))
    }

    /// The results of `which` on one lake file: kept ones read, the others computed by `run` (on the
    /// file alone) and kept.
    fn results(&self, file: &Path, which: &[Scan], run: &RunScans<'_>) -> Result<Vec<DataFrame>> {
        let entry = self.entry(file);
        let path = |s: Scan| entry.as_ref().map(|(dir, key)| dir.join(format!("{}.{key}.parquet", s.name())));
        let mut out: Vec<Option<DataFrame>> = which
            .iter()
            .map(|s| {
                let p = path(*s)?;
                let df = crate::table::read_scratch(&p, None).ok()?;
                // Used now: the newest of its scan's results for this file.
                let _ = std::fs::File::options().append(true).open(&p).and_then(|f| f.set_modified(std::time::SystemTime::now()));
                Some(df)
            })
            .collect();
        let todo: Vec<Scan> = which.iter().zip(&out).filter(|(_, d)| d.is_none()).map(|(s, _)| *s).collect();
        if !todo.is_empty() {
            if which != [Scan::Implausible] {
                self.computed.set(self.computed.get() + 1);
            }
            let scan =
                LazyFrame::scan_parquet(PlRefPath::try_from_path(file).map_err(|e| Error::polars("path", e))?, ScanArgsParquet::default())
                    .map_err(|e| Error::polars(format!("scanning `{}`", file.display()), e))?;
            let mut computed = run(scan, &todo)?.into_iter();
            for (slot, s) in out.iter_mut().zip(which) {
                if slot.is_none() {
                    let mut df = computed.next().ok_or_else(|| Error::Internal("a scan returned no result".into()))?;
                    if let Some(p) = path(*s) {
                        keep(&mut df, &p);
                    }
                    *slot = Some(df);
                }
            }
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// Remove the entries of lake files that are gone, and all but the newest results of each scan.
    fn collect_garbage(&self) {
        let root = &self.root;
        let Ok(found) = crate::paths::files_below(root) else { return };
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        let mut by_entry: BTreeMap<(PathBuf, String), Vec<(std::time::SystemTime, PathBuf)>> = BTreeMap::new();
        for p in found {
            let (Some(dir), Some(name)) = (p.parent(), p.file_name().and_then(|n| n.to_str())) else { continue };
            let Ok(rel) = dir.strip_prefix(root) else { continue };
            if !self.lake_root.join(rel).is_file() {
                let _ = std::fs::remove_dir_all(dir);
                continue;
            }
            let when = std::fs::metadata(&p).and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH);
            if name.starts_with('.') {
                // A scratch file a killed run left (a running one's is younger).
                if name.ends_with(".tmp") && when < hour_ago {
                    let _ = std::fs::remove_file(&p);
                }
                continue;
            }
            let scan = name.split('.').next().unwrap_or("").to_string();
            by_entry.entry((dir.to_path_buf(), scan)).or_default().push((when, p));
        }
        for (_, mut results) in by_entry {
            results.sort_by_key(|r| std::cmp::Reverse(r.0));
            for (_, p) in results.into_iter().skip(KEPT_PER_SCAN) {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

/// Keep one result (written beside, then renamed into place; a failure only means it is not kept).
fn keep(df: &mut DataFrame, path: &Path) {
    let tmp = path.with_file_name(format!(".{}.{}.tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("scan"), std::process::id()));
    if crate::table::write_scratch(df, &tmp).is_err() || std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// The theft transfers of the ledger's incidents (queries/theft_transfers.sql), collected.
pub fn theft_transfers(ctx: &mut dyn Queries) -> Result<DataFrame> {
    ctx.sql("theft_transfers", "SELECT * FROM theft_transfers")
}

/// The year totals, months, destinations, incidents and coverage: everything the trace waits for.
#[derive(Debug, Default)]
pub struct Flows {
    pub totals: Vec<ActorTotal>,
    pub months: Vec<ActorMonth>,
    pub chain_totals: Vec<ChainTotal>,
    pub destinations: Vec<Destination>,
    /// (year of the ledger date, incident)
    pub incidents: Vec<(i32, Incident)>,
    /// (year of the recovery's date, recovery)
    pub recoveries: Vec<(i32, Recovery)>,
    pub coverage: BTreeMap<i32, Coverage>,
    /// (year, one asset's price coverage)
    pub asset_coverage: Vec<(i32, AssetCoverage)>,
    /// (year, transfer)
    pub implausible: Vec<(i32, Implausible)>,
}

fn metric(s: &str) -> Result<Metric> {
    Metric::parse(s).ok_or_else(|| Error::Internal(format!("a query returned the unknown metric `{s}`")))
}

fn category(s: &str) -> Result<Category> {
    Category::parse(s).ok_or_else(|| Error::Internal(format!("a query returned the unknown category `{s}`")))
}

fn money(df: &DataFrame) -> Result<Vec<Money>> {
    let (v, n, u) = (col_i128(df, "value_micro_usd")?, col_i64(df, "transfers")?, col_i64(df, "unpriced_transfers")?);
    Ok((0..df.height()).map(|i| Money { micro_usd: v[i], transfers: n[i], unpriced: u[i] }).collect())
}

fn year_totals(df: &DataFrame) -> Result<Vec<ActorTotal>> {
    let (a, y, m, v) = (col_str(df, "actor")?, col_i64(df, "year")?, col_str(df, "metric")?, money(df)?);
    (0..df.height())
        .map(|i| Ok(ActorTotal { actor: a[i].clone(), year: y[i] as i32, metric: metric(&m[i])?, value: v[i], high_confidence: None }))
        .collect()
}

/// actor_chain_months, actor_month_totals and actor_year_totals over `flows` (registered as
/// actor_flows); actor_chain_months stays registered for actor_chain_totals.
fn months_and_years(ctx: &mut dyn Queries, flows: DataFrame) -> Result<(DataFrame, Vec<ActorTotal>)> {
    ctx.register("actor_flows", flows)?;
    let cm = run_query(ctx, "actor_chain_months")?;
    ctx.register("actor_chain_months", cm)?;
    let m = run_query(ctx, "actor_month_totals")?;
    ctx.register("actor_month_totals", m.clone())?;
    let totals = year_totals(&run_query(ctx, "actor_year_totals")?)?;
    Ok((m, totals))
}

/// Everything computed from actor_flows' few rows (the files' results stacked, as [`context`]
/// registered them with every [`Scan`]).
pub fn flows(ctx: &mut dyn Queries) -> Result<Flows> {
    let flows = ctx.sql("actor_flows", "SELECT * FROM actor_flows")?;
    // First its high-confidence columns, registered as `actor_flows`, give the high-confidence
    // year totals; then the flows under all labels are registered as `actor_flows` (as the later
    // queries read them).
    let high = flows.clone().lazy().select([
        col("from_actor_high").alias("from_actor"),
        col("to_actor_high").alias("to_actor"),
        col("to_category_high").alias("to_category"),
        col("year"),
        col("month"),
        col("chain"),
        col("value_micro_usd"),
        col("transfers"),
        col("unpriced_transfers"),
    ]);
    let high = collect(high).map_err(|e| Error::polars("actor_flows under high-confidence labels", e))?;
    let (_, totals_high) = months_and_years(ctx, high)?;
    let (m, mut totals) = months_and_years(ctx, flows)?;
    let high: BTreeMap<(&str, i32, Metric), Money> = totals_high.iter().map(|t| ((t.actor.as_str(), t.year, t.metric), t.value)).collect();
    for t in &mut totals {
        t.high_confidence = high.get(&(t.actor.as_str(), t.year, t.metric)).copied();
    }
    let (a, y, mo, me, v) = (col_str(&m, "actor")?, col_i64(&m, "year")?, col_i64(&m, "month")?, col_str(&m, "metric")?, money(&m)?);
    let months = (0..m.height())
        .map(|i| Ok(ActorMonth { actor: a[i].clone(), year: y[i] as i32, month: mo[i] as i32, metric: metric(&me[i])?, value: v[i] }))
        .collect::<Result<_>>()?;
    let ct = run_query(ctx, "actor_chain_totals")?;
    let (a, y, ch, me, v) = (col_str(&ct, "actor")?, col_i64(&ct, "year")?, col_str(&ct, "chain")?, col_str(&ct, "metric")?, money(&ct)?);
    let chain_totals = (0..ct.height())
        .map(|i| Ok(ChainTotal { actor: a[i].clone(), year: y[i] as i32, chain: ch[i].clone(), metric: metric(&me[i])?, value: v[i] }))
        .collect::<Result<_>>()?;
    let d = run_query(ctx, "actor_destinations")?;
    let (a, y, c, v, n) = (
        col_str(&d, "actor")?,
        col_i64(&d, "year")?,
        col_str(&d, "category")?,
        col_i128(&d, "value_micro_usd")?,
        col_i64(&d, "transfers")?,
    );
    let destinations = (0..d.height())
        .map(|i| Ok(Destination { actor: a[i].clone(), year: y[i] as i32, category: category(&c[i])?, micro_usd: v[i], transfers: n[i] }))
        .collect::<Result<_>>()?;
    let iv = run_query(ctx, "incident_values")?;
    ctx.register("incident_values", iv)?;
    let incidents = incidents(&run_query(ctx, "incident_summary")?)?;
    let recoveries = recoveries(&run_query(ctx, "recoveries")?)?;
    let cov = run_query(ctx, "price_coverage")?;
    let (y, n, p, f) =
        (col_i64(&cov, "year")?, col_i64(&cov, "transfers")?, col_i64(&cov, "priced_transfers")?, col_i64(&cov, "implausible_transfers")?);
    let coverage: BTreeMap<i32, Coverage> =
        (0..cov.height()).map(|i| (y[i] as i32, Coverage { transfers: n[i], priced: p[i], implausible: f[i] })).collect();
    let ac = run_query(ctx, "asset_price_coverage")?;
    let (y, c, a, n, p, f, v) = (
        col_i64(&ac, "year")?,
        col_str(&ac, "chain")?,
        col_str(&ac, "asset")?,
        col_i64(&ac, "transfers")?,
        col_i64(&ac, "priced_transfers")?,
        col_i64(&ac, "implausible_transfers")?,
        col_i128(&ac, "priced_micro_usd")?,
    );
    let asset_coverage = (0..ac.height())
        .map(|i| {
            let row = AssetCoverage {
                chain: c[i].clone(),
                asset: a[i].clone(),
                transfers: n[i],
                priced: p[i],
                implausible: f[i],
                priced_micro_usd: v[i],
            };
            (y[i] as i32, row)
        })
        .collect();
    // The flagged transfers themselves (scanned only in the files that have any).
    let implausible = implausible(&ctx.sql("implausible_transfers", &format!("SELECT * FROM implausible_transfers {IMPLAUSIBLE_ORDER}"))?)?;
    Ok(Flows { totals, months, chain_totals, destinations, incidents, recoveries, coverage, asset_coverage, implausible })
}

fn incidents(df: &DataFrame) -> Result<Vec<(i32, Incident)>> {
    let (id, name, date, year, actor) =
        (col_str(df, "incident")?, col_str(df, "name")?, col_str(df, "date")?, col_i64(df, "year")?, col_str(df, "actor")?);
    let reported = col_opt_i128(df, "reported_micro_usd")?;
    let (v, n, u) = (col_i128(df, "onchain_micro_usd")?, col_i64(df, "onchain_transfers")?, col_i64(df, "unpriced_transfers")?);
    let chains = col_str(df, "chains")?;
    let recovered = col_opt_i128(df, "recovered_micro_usd")?;
    let n_recoveries = col_i64(df, "recoveries")?;
    Ok((0..df.height())
        .map(|i| {
            let incident = Incident {
                id: id[i].clone(),
                name: name[i].clone(),
                date: date[i].clone(),
                actor: actor[i].clone(),
                reported_micro_usd: reported[i],
                onchain: Money { micro_usd: v[i], transfers: n[i], unpriced: u[i] },
                chains: chains[i].split(';').map(|c| c.trim().to_ascii_lowercase()).filter(|c| !c.is_empty()).collect(),
                recovered_micro_usd: recovered[i],
                recoveries: n_recoveries[i],
            };
            (year[i] as i32, incident)
        })
        .collect())
}

fn recoveries(df: &DataFrame) -> Result<Vec<(i32, Recovery)>> {
    let (id, inc, actor, date, year, kind) = (
        col_str(df, "id")?,
        col_str(df, "incident")?,
        col_str(df, "actor")?,
        col_str(df, "date")?,
        col_i64(df, "year")?,
        col_str(df, "kind")?,
    );
    let (usd, amount, by, url) =
        (col_opt_i128(df, "micro_usd")?, col_str(df, "asset_amount")?, col_str(df, "acted_by")?, col_str(df, "source_url")?);
    Ok((0..df.height())
        .map(|i| {
            let r = Recovery {
                id: id[i].clone(),
                incident: inc[i].clone(),
                actor: actor[i].clone(),
                date: date[i].clone(),
                kind: kind[i].clone(),
                micro_usd: usd[i],
                asset_amount: amount[i].clone(),
                acted_by: by[i].clone(),
                source_url: url[i].clone(),
            };
            (year[i] as i32, r)
        })
        .collect())
}

fn implausible(imp: &DataFrame) -> Result<Vec<(i32, Implausible)>> {
    let (y, f, b, h, l, t, a) = (
        col_i64(imp, "year")?,
        col_str(imp, "source_file")?,
        col_i64(imp, "block_number")?,
        col_str(imp, "tx_hash")?,
        col_str(imp, "log_index")?,
        col_str(imp, "trace_address")?,
        col_str(imp, "asset")?,
    );
    let (am, v) = (col_str(imp, "amount")?, col_str(imp, "raw_usd")?);
    Ok((0..imp.height())
        .map(|i| {
            let row = Implausible {
                source_file: f[i].clone(),
                block_number: b[i],
                tx_hash: h[i].clone(),
                log_index: l[i].clone(),
                trace_address: t[i].clone(),
                asset: a[i].clone(),
                amount: am[i].clone(),
                value_usd: v[i].clone(),
            };
            (y[i] as i32, row)
        })
        .collect())
}

/// The rows of theft_transfers, typed and sorted (incident, day, transaction, receiver, asset, then
/// chain, amount and value: two transfers of one asset to one receiver in one transaction keep one
/// order).
pub fn thefts(df: &DataFrame) -> Result<Vec<(i32, ifr_reports::model::TheftTransfer)>> {
    let (inc, chain, year, day, hash, to, asset, amount) = (
        col_str(df, "incident")?,
        col_str(df, "chain")?,
        col_i64(df, "year")?,
        col_str(df, "day")?,
        col_str(df, "tx_hash")?,
        col_str(df, "to_address")?,
        col_str(df, "asset")?,
        col_str(df, "amount")?,
    );
    let usd: Vec<Option<f64>> = df
        .column("value_usd")
        .map_err(|e| Error::polars("value_usd", e))?
        .f64()
        .map_err(|e| Error::polars("value_usd", e))?
        .iter()
        .collect();
    let mut rows: Vec<(i32, ifr_reports::model::TheftTransfer)> = (0..df.height())
        .map(|i| {
            let t = ifr_reports::model::TheftTransfer {
                incident: inc[i].clone(),
                day: day[i].clone(),
                chain: chain[i].clone(),
                tx_hash: hash[i].clone(),
                to_address: to[i].clone(),
                asset: asset[i].clone(),
                amount: amount[i].clone(),
                // Rounded to the micro-dollar as the queries round each transfer before summing.
                micro_usd: usd[i].filter(|v| v.is_finite()).map(|v| (v * 1e6).round() as i128),
            };
            (year[i] as i32, t)
        })
        .collect();
    rows.sort_by(|a, b| {
        let k = |t: &ifr_reports::model::TheftTransfer| {
            (
                t.incident.clone(),
                t.day.clone(),
                t.tx_hash.clone(),
                t.to_address.clone(),
                t.asset.clone(),
                t.chain.clone(),
                t.amount.clone(),
                t.micro_usd,
            )
        };
        k(&a.1).cmp(&k(&b.1))
    });
    Ok(rows)
}

/// The top counterparties with their labels, and the label packs (for the methodology).
pub struct Receivers {
    pub counterparties: Vec<Counterparty>,
    pub label_sources: Vec<LabelSource>,
    /// The chain data in the lake (chain_coverage), every chain and year.
    pub chains: Vec<ChainSpan>,
}

/// top_counterparties, counterparty_labels, label_sources and chain_coverage (after [`flows`]).
pub fn receivers(ctx: &mut dyn Queries) -> Result<Receivers> {
    let tc = run_query(ctx, "top_counterparties")?;
    ctx.register("top_counterparties", tc.clone())?;
    let labels = run_query(ctx, "counterparty_labels")?;
    let label: BTreeMap<String, String> = col_str(&labels, "address")?.into_iter().zip(col_str(&labels, "label")?).collect();
    let (a, y, addr, cact, cat, v, n) = (
        col_str(&tc, "actor")?,
        col_i64(&tc, "year")?,
        col_str(&tc, "counterparty")?,
        col_str(&tc, "counterparty_actor")?,
        col_str(&tc, "category")?,
        col_i128(&tc, "value_micro_usd")?,
        col_i64(&tc, "transfers")?,
    );
    let mut counterparties: Vec<Counterparty> = Vec::with_capacity(tc.height());
    for i in 0..tc.height() {
        // The query returns each actor-year's rows largest first: the rank is the position.
        let rank = match counterparties.last() {
            Some(p) if p.actor == a[i] && p.year == y[i] as i32 => p.rank + 1,
            _ => 1,
        };
        counterparties.push(Counterparty {
            actor: a[i].clone(),
            year: y[i] as i32,
            rank,
            address: addr[i].clone(),
            label: label.get(&addr[i]).cloned(),
            counterparty_actor: cact[i].clone(),
            category: category(&cat[i])?,
            micro_usd: v[i],
            transfers: n[i],
        });
    }
    let ls = run_query(ctx, "label_sources")?;
    let (p, f, n, lo, hi) = (
        col_str(&ls, "pack")?,
        col_str(&ls, "source_file")?,
        col_i64(&ls, "labels")?,
        col_i64(&ls, "min_confidence")?,
        col_i64(&ls, "max_confidence")?,
    );
    let label_sources = (0..ls.height())
        .map(|i| LabelSource {
            pack: p[i].clone(),
            file: f[i].clone(),
            labels: n[i] as usize,
            min_confidence: lo[i],
            max_confidence: hi[i],
        })
        .collect();
    let cc = run_query(ctx, "chain_coverage")?;
    let (c, y, fb, lb, fd, ld, n) = (
        col_str(&cc, "chain")?,
        col_i64(&cc, "year")?,
        col_i64(&cc, "first_block")?,
        col_i64(&cc, "last_block")?,
        col_str(&cc, "first_day")?,
        col_str(&cc, "last_day")?,
        col_i64(&cc, "transfers")?,
    );
    let chains = (0..cc.height())
        .map(|i| ChainSpan {
            chain: c[i].clone(),
            year: y[i] as i32,
            first_block: fb[i],
            last_block: lb[i],
            first_day: fd[i].clone(),
            last_day: ld[i].clone(),
            transfers: n[i],
        })
        .collect();
    Ok(Receivers { counterparties, label_sources, chains })
}

/// Every query's result by name, in registration order, over a context on which [`flows`] and
/// [`receivers`] have run: the tables they registered as they are, the others run now. For the
/// goldens, and for checking another engine's results against polars'.
pub fn every_result(ctx: &mut SQLContext) -> Result<Vec<(&'static str, LazyFrame)>> {
    let registered = ctx.get_tables();
    QUERIES
        .iter()
        .map(|(name, sql)| {
            let lf = if registered.iter().any(|t| t == name) { ctx.execute(&format!("SELECT * FROM {name}")) } else { ctx.execute(sql) };
            Ok((*name, lf.map_err(|e| Error::Internal(format!("query {name}: {e}")))?))
        })
        .collect()
}
