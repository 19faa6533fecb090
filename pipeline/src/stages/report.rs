//! The annual report: attribute, value, aggregate (the SQL in `queries/`, run through polars'
//! SQLContext over the lake) and publish per year into `<out>/<year>/`, atomically: everything is
//! written into a temporary folder and renamed into place only when all of it succeeded.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use ifr_reports::tables::{Table, markdown_escape, usd_from_micro, usd_short};
use polars::prelude::*;
use polars::sql::SQLContext;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::attribute::{self, Attribution};
use super::value::{asset_series, price_days};
use crate::config::{SanctionsPolicy, Settings};
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::table::{col_i64, col_i128, col_str};

/// The queries, in the order they are registered (views first).
pub const QUERIES: [(&str, &str); 9] = [
    ("attributed_transfers", include_str!("../../../queries/attributed_transfers.sql")),
    ("theft_transfers", include_str!("../../../queries/theft_transfers.sql")),
    ("actor_flows", include_str!("../../../queries/actor_flows.sql")),
    ("actor_month_totals", include_str!("../../../queries/actor_month_totals.sql")),
    ("actor_year_totals", include_str!("../../../queries/actor_year_totals.sql")),
    ("actor_destinations", include_str!("../../../queries/actor_destinations.sql")),
    ("incident_values", include_str!("../../../queries/incident_values.sql")),
    ("top_counterparties", include_str!("../../../queries/top_counterparties.sql")),
    ("implausible_transfers", include_str!("../../../queries/implausible_transfers.sql")),
];

fn query(name: &str) -> &'static str {
    QUERIES.iter().find(|(n, _)| *n == name).map(|(_, q)| *q).unwrap_or("")
}

/// The header comment of a query (its documentation), without the `--` markers.
pub fn query_doc(name: &str) -> String {
    query(name).lines().take_while(|l| l.starts_with("--")).map(|l| l.trim_start_matches("--").trim()).collect::<Vec<_>>().join(" ")
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportSummary {
    pub out: String,
    pub years: Vec<i32>,
    pub files: usize,
}

/// actor, year, metric -> (micro-USD, transfers, unpriced transfers)
pub type Totals = BTreeMap<(String, i32, String), (i128, i64, i64)>;
/// A receiver of an actor's outflows: (address, its actor, category, micro-USD, transfers).
pub type Counterparty = (String, String, String, i128, i64);

/// actor, year, month, metric -> (micro-USD, transfers, unpriced transfers)
pub type Monthly = BTreeMap<(String, i32, i32, String), (i128, i64, i64)>;

/// The numbers the report is built from, for all years.
#[derive(Default)]
pub struct Results {
    pub totals: Totals,
    /// actor, year, month, metric -> (micro-USD, transfers, unpriced transfers)
    pub monthly: Monthly,
    /// Lower bound: labels at or above the high-confidence threshold only.
    pub totals_high: Totals,
    /// actor, year, category -> (micro-USD, transfers)
    pub destinations: BTreeMap<(String, i32, String), (i128, i64)>,
    /// incident, asset, year -> (micro-USD, transfers, unpriced)
    pub incident_values: IncidentValues,
    /// year -> (transfers, priced transfers, transfers whose value was implausible)
    pub coverage: BTreeMap<i32, (i64, i64, i64)>,
    /// The transfers valued above the ceiling (kept out of every total), for the coverage section.
    pub implausible: DataFrame,
    /// (actor, year) -> the top receivers: (address, actor, category, micro-USD, transfers), largest first
    pub counterparties: BTreeMap<(String, i32), Vec<Counterparty>>,
    /// address -> the text of its best label (for display)
    pub label_text: BTreeMap<String, String>,
    /// Label packs used for attribution: (pack, source_file) -> (labels, lowest and highest confidence)
    pub label_sources: BTreeMap<(String, String), (usize, i64, i64)>,
}

/// The small tables every query context registers besides attribution, built once per report.
struct Inputs {
    asset_series: DataFrame,
    price_days: DataFrame,
    incident_tx: DataFrame,
    incident_parties: DataFrame,
    options: DataFrame,
}

impl Inputs {
    fn build(lake: &Lake, settings: &Settings) -> Result<Inputs> {
        let (incident_tx, incident_parties) = incident_keys(lake, settings.report.incident_window_days)?;
        let options = DataFrame::new(1, vec![Column::new("stolen_price_day".into(), [settings.report.stolen_price_day.as_str()])])
            .map_err(|e| Error::polars("report_options", e))?;
        // The ceiling travels with each asset's series (the join every transfer already makes): a
        // cross join with the one-row options would make the streaming engine hold the transfers.
        let mut series = asset_series(lake)?;
        let ceiling = Column::new("max_transfer_usd".into(), vec![settings.report.max_transfer_usd; series.height()]);
        series.with_column(ceiling).map_err(|e| Error::polars("asset_series", e))?;
        Ok(Inputs {
            asset_series: series,
            price_days: price_days(lake, &settings.report.price_sources)?,
            incident_tx,
            incident_parties,
            options,
        })
    }
}

/// The report's SQL context: the lake's transfers and the inputs, the attribution under all labels
/// (`address_actors`) and under high-confidence labels (`address_actors_high`, read by
/// actor_flows only), and the views attributed_transfers and theft_transfers (collected once: a
/// few rows, read by three queries).
fn ctx_for(lake: &Lake, att: &Attribution, high: &Attribution, inputs: &Inputs) -> Result<SQLContext> {
    let register = |ctx: &SQLContext, transfers: LazyFrame| -> Result<()> {
        ctx.register("transfers", transfers);
        ctx.register("incidents", lake.scan("incidents")?);
        ctx.register("asset_series", inputs.asset_series.clone().lazy());
        ctx.register("price_days", inputs.price_days.clone().lazy());
        ctx.register("address_actors", att.address_actors.clone().lazy());
        ctx.register("actor_ancestors", att.actor_ancestors.clone().lazy());
        ctx.register("report_options", inputs.options.clone().lazy());
        ctx.register("incident_tx", inputs.incident_tx.clone().lazy());
        ctx.register("incident_parties", inputs.incident_parties.clone().lazy());
        Ok(())
    };
    // theft_candidates (queries/theft_transfers.sql): attributed_transfers over only the transfers
    // with a ledger tx hash or a victim sender, the keys given as literal lists so that the Parquet
    // scan skips every other row group instead of a join holding the year's hashes.
    let mut sub = SQLContext::new();
    register(&sub, lake.scan("transfers")?)?;
    let (hashes, victims) = (col_str(&inputs.incident_tx, "tx_hash")?, col_str(&inputs.incident_parties, "victim")?);
    let mut keys = Vec::new();
    if !hashes.is_empty() {
        keys.push(format!("tx_hash IN ({})", crate::sql::string_list(&hashes)));
    }
    if !victims.is_empty() {
        keys.push(format!("from_address IN ({})", crate::sql::string_list(&victims)));
    }
    let filter = if keys.is_empty() { "FALSE".to_string() } else { keys.join(" OR ") };
    let candidates =
        sub.execute(&format!("SELECT * FROM transfers WHERE {filter}")).map_err(|e| Error::Internal(format!("theft candidates: {e}")))?;
    sub.register("transfers", candidates);
    let theft_candidates = sub.execute(query("attributed_transfers")).map_err(|e| Error::Internal(format!("theft candidates: {e}")))?;

    let mut ctx = SQLContext::new();
    register(&ctx, lake.scan("transfers")?)?;
    ctx.register("address_actors_high", high.address_actors.clone().lazy());
    ctx.register("theft_candidates", theft_candidates);
    let view = ctx.execute(query("attributed_transfers")).map_err(|e| Error::Internal(format!("query attributed_transfers: {e}")))?;
    ctx.register("attributed_transfers", view);
    let thefts = run_query(&mut ctx, "theft_transfers")?;
    ctx.register("theft_transfers", thefts.lazy());
    Ok(ctx)
}

/// Run a query on polars' streaming engine: the transfers are read in batches, never held whole.
fn collect(lf: LazyFrame) -> PolarsResult<DataFrame> {
    lf.collect_with_engine(Engine::Streaming).map(|r| r.unwrap_single())
}

fn run_query(ctx: &mut SQLContext, name: &str) -> Result<DataFrame> {
    ctx.execute(query(name)).and_then(collect).map_err(|e| Error::Internal(format!("query {name} failed: {e}")))
}

fn totals_of(df: &DataFrame) -> Result<Totals> {
    let (a, y, m) = (col_str(df, "actor")?, col_i64(df, "year")?, col_str(df, "metric")?);
    let (v, n, u) = (col_i128(df, "value_micro_usd")?, col_i64(df, "transfers")?, col_i64(df, "unpriced_transfers")?);
    Ok((0..df.height()).map(|i| ((a[i].clone(), y[i] as i32, m[i].clone()), (v[i], n[i], u[i]))).collect())
}

/// actor_flows, the one scan of the transfers (summed by sender and receiver actor, category and
/// month under both attributions: a few rows). First its high-confidence columns, registered as
/// `actor_flows`, give the high-confidence year totals; then the flows under all labels are
/// registered as `actor_flows` (as the later queries read them), with actor_month_totals over
/// them, registered too, and actor_year_totals over the months. Returns the months, the year
/// totals and the high-confidence year totals.
fn month_and_year_totals(ctx: &mut SQLContext) -> Result<(DataFrame, Totals, Totals)> {
    let flows = run_query(ctx, "actor_flows")?;
    let high = flows.clone().lazy().select([
        col("from_actor_high").alias("from_actor"),
        col("to_actor_high").alias("to_actor"),
        col("to_category_high").alias("to_category"),
        col("year"),
        col("month"),
        col("value_micro_usd"),
        col("transfers"),
        col("unpriced_transfers"),
    ]);
    let (_, totals_high) = months_and_years(ctx, high)?;
    let (m, totals) = months_and_years(ctx, flows.lazy())?;
    Ok((m, totals, totals_high))
}

/// actor_month_totals and actor_year_totals over `flows` (registered as actor_flows).
fn months_and_years(ctx: &mut SQLContext, flows: LazyFrame) -> Result<(DataFrame, Totals)> {
    ctx.register("actor_flows", flows);
    let m = run_query(ctx, "actor_month_totals")?;
    ctx.register("actor_month_totals", m.clone().lazy());
    let totals = totals_of(&run_query(ctx, "actor_year_totals")?)?;
    Ok((m, totals))
}

/// The years to report: those asked for (else the config's, else every year with data), each
/// checked to have transfers.
fn wanted_years(settings: &Settings, years: &[i32], coverage: &BTreeMap<i32, (i64, i64, i64)>) -> Result<Vec<i32>> {
    let wanted: Vec<i32> = if !years.is_empty() {
        years.to_vec()
    } else if !settings.report.years.is_empty() {
        settings.report.years.clone()
    } else {
        coverage.keys().copied().collect()
    };
    for y in &wanted {
        if !coverage.contains_key(y) {
            return Err(Error::Config(format!(
                "year {y} has no transfers in the lake (years with data: {})",
                coverage.keys().map(|y| y.to_string()).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    if wanted.is_empty() {
        return Err(Error::Config("the lake has no transfers: nothing to report (run `ifr ingest` first)".into()));
    }
    Ok(wanted)
}

/// Run the queries over the lake, and trace the reported years' incidents (beside the last
/// queries: the trace is a walk in chain order on one core, the queries use both). Returns the
/// results, the attribution, the years to report and the trace.
fn compute(settings: &Settings, lake: &Lake, years: &[i32]) -> Result<(Results, Attribution, Vec<i32>, Traced)> {
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
    let inputs = Inputs::build(lake, settings)?;
    let mut ctx = ctx_for(lake, &all, &high, &inputs)?;
    let (m, totals, totals_high) = month_and_year_totals(&mut ctx)?;
    let (a, y, mo, me) = (col_str(&m, "actor")?, col_i64(&m, "year")?, col_i64(&m, "month")?, col_str(&m, "metric")?);
    let (v, n, u) = (col_i128(&m, "value_micro_usd")?, col_i64(&m, "transfers")?, col_i64(&m, "unpriced_transfers")?);
    let monthly = (0..m.height()).map(|i| ((a[i].clone(), y[i] as i32, mo[i] as i32, me[i].clone()), (v[i], n[i], u[i]))).collect();
    let d = run_query(&mut ctx, "actor_destinations")?;
    let (a, y, c, v, n) = (
        col_str(&d, "actor")?,
        col_i64(&d, "year")?,
        col_str(&d, "category")?,
        col_i128(&d, "value_micro_usd")?,
        col_i64(&d, "transfers")?,
    );
    let destinations = (0..d.height()).map(|i| ((a[i].clone(), y[i] as i32, c[i].clone()), (v[i], n[i]))).collect();
    let iv = run_query(&mut ctx, "incident_values")?;
    let (inc, asset, y, v, n, u) = (
        col_str(&iv, "incident")?,
        col_str(&iv, "asset")?,
        col_i64(&iv, "year")?,
        col_i128(&iv, "value_micro_usd")?,
        col_i64(&iv, "transfers")?,
        col_i64(&iv, "unpriced_transfers")?,
    );
    let incident_values: IncidentValues =
        (0..iv.height()).map(|i| ((inc[i].clone(), asset[i].clone(), y[i] as i32), (v[i], n[i], u[i]))).collect();
    let cov = ctx
        .execute("SELECT year, SUM(transfers) AS n, SUM(transfers - unpriced_transfers) AS priced, SUM(implausible_transfers) AS implausible FROM actor_flows GROUP BY year ORDER BY year")
        .and_then(collect)
        .map_err(|e| Error::Internal(format!("price coverage: {e}")))?;
    let (y, n, p, f) = (col_i64(&cov, "year")?, col_i64(&cov, "n")?, col_i64(&cov, "priced")?, col_i64(&cov, "implausible")?);
    let coverage: BTreeMap<i32, (i64, i64, i64)> = (0..cov.height()).map(|i| (y[i] as i32, (n[i], p[i], f[i]))).collect();
    // The flagged transfers themselves: a second scan, only when there are any.
    let implausible = if coverage.values().any(|c| c.2 > 0) {
        run_query(&mut ctx, "implausible_transfers")?
    } else {
        // None: an empty frame of the query's columns (its schema only; nothing is scanned).
        let mut lf =
            ctx.execute(query("implausible_transfers")).map_err(|e| Error::Internal(format!("query implausible_transfers: {e}")))?;
        let schema = lf.collect_schema().map_err(|e| Error::Internal(format!("query implausible_transfers: {e}")))?;
        DataFrame::empty_with_schema(&schema)
    };
    let wanted = wanted_years(settings, years, &coverage)?;
    let (rest, traced) = std::thread::scope(|scope| {
        let tracer = scope.spawn(|| trace_incidents(settings, lake, &incident_values, &wanted));
        let rest = rest_of_compute(lake, &mut ctx);
        let traced = tracer.join().unwrap_or_else(|_| Err(Error::Internal("tracing the incidents failed (the thread panicked)".into())));
        (rest, traced)
    });
    let (Rest { counterparties, label_text, label_sources }, traced) = (rest?, traced?);
    let res = Results {
        totals,
        monthly,
        totals_high,
        destinations,
        incident_values,
        coverage,
        implausible,
        counterparties,
        label_text,
        label_sources,
    };
    Ok((res, all, wanted, traced))
}

/// The results computed beside the incidents' trace (fields as in [`Results`]).
struct Rest {
    counterparties: BTreeMap<(String, i32), Vec<Counterparty>>,
    label_text: BTreeMap<String, String>,
    label_sources: BTreeMap<(String, String), (usize, i64, i64)>,
}

/// Top counterparties, label texts and sources.
fn rest_of_compute(lake: &Lake, ctx: &mut SQLContext) -> Result<Rest> {
    let tc = run_query(ctx, "top_counterparties")?;
    let (a, y, addr, cact, cat, v, n) = (
        col_str(&tc, "actor")?,
        col_i64(&tc, "year")?,
        col_str(&tc, "counterparty")?,
        col_str(&tc, "counterparty_actor")?,
        col_str(&tc, "category")?,
        col_i128(&tc, "value_micro_usd")?,
        col_i64(&tc, "transfers")?,
    );
    let mut counterparties: BTreeMap<(String, i32), Vec<Counterparty>> = BTreeMap::new();
    for i in 0..tc.height() {
        counterparties.entry((a[i].clone(), y[i] as i32)).or_default().push((addr[i].clone(), cact[i].clone(), cat[i].clone(), v[i], n[i]));
    }
    for list in counterparties.values_mut() {
        list.sort_by(|x, y| y.3.cmp(&x.3).then(x.0.cmp(&y.0)));
        list.truncate(10);
    }
    let wanted: BTreeSet<&String> = counterparties.values().flatten().map(|c| &c.0).collect();
    let labels = lake.scan("labels")?.collect().map_err(|e| Error::polars("reading labels", e))?;
    let (la, lt) = (col_str(&labels, "address")?, col_str(&labels, "label")?);
    let lconf = col_i64(&labels, "confidence")?;
    let mut best: BTreeMap<String, (i64, String)> = BTreeMap::new();
    for i in 0..labels.height() {
        if wanted.contains(&la[i]) {
            let e = best.entry(la[i].clone()).or_insert((lconf[i], lt[i].clone()));
            if (lconf[i], std::cmp::Reverse(&lt[i])) > (e.0, std::cmp::Reverse(&e.1)) {
                *e = (lconf[i], lt[i].clone());
            }
        }
    }
    let label_text = best.into_iter().map(|(a, (_, t))| (a, t)).collect();
    let (pack, file) = (col_str(&labels, "pack")?, col_str(&labels, "source_file")?);
    let mut label_sources: BTreeMap<(String, String), (usize, i64, i64)> = BTreeMap::new();
    for i in 0..labels.height() {
        let e = label_sources.entry((pack[i].clone(), file[i].clone())).or_insert((0, i64::MAX, i64::MIN));
        e.0 += 1;
        e.1 = e.1.min(lconf[i]);
        e.2 = e.2.max(lconf[i]);
    }
    Ok(Rest { counterparties, label_text, label_sources })
}

/// The ledger's theft keys: (incident, actor, tx_hash) and, for incidents without hashes,
/// (incident, actor, victim, attacker, day_from, day_to).
fn incident_keys(lake: &Lake, window: i32) -> Result<(DataFrame, DataFrame)> {
    let inc = lake.scan("incidents")?.collect().map_err(|e| Error::polars("reading incidents", e))?;
    let (id, actor, txs, vic, att) = (
        col_str(&inc, "id")?,
        col_str(&inc, "actor")?,
        col_str(&inc, "tx_hashes")?,
        col_str(&inc, "victim_addresses")?,
        col_str(&inc, "attacker_addresses")?,
    );
    let date = inc.column("date").map_err(|e| Error::polars("date", e))?.cast(&DataType::Int32).map_err(|e| Error::polars("date", e))?;
    let date: Vec<i32> = date.i32().map_err(|e| Error::polars("date", e))?.iter().map(|d| d.unwrap_or(0)).collect();
    let (mut t_inc, mut t_act, mut t_hash, mut t_day) = (vec![], vec![], vec![], vec![]);
    let (mut p_inc, mut p_act, mut p_v, mut p_a, mut p_from, mut p_to, mut p_day) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for i in 0..inc.height() {
        if actor[i].is_empty() {
            continue;
        }
        let hashes: Vec<&str> = txs[i].split(';').filter(|h| !h.is_empty()).collect();
        if !hashes.is_empty() {
            for h in hashes {
                t_inc.push(id[i].clone());
                t_act.push(actor[i].clone());
                t_hash.push(h.to_string());
                t_day.push(date[i]);
            }
            continue;
        }
        for v in vic[i].split(';').filter(|x| !x.is_empty()) {
            for a in att[i].split(';').filter(|x| !x.is_empty()) {
                p_inc.push(id[i].clone());
                p_act.push(actor[i].clone());
                p_v.push(v.to_string());
                p_a.push(a.to_string());
                p_from.push(date[i]);
                p_to.push(date[i] + window);
                p_day.push(date[i]);
            }
        }
    }
    let dates = |name: &str, v: Vec<i32>| -> Result<Column> {
        Ok(Series::new(name.into(), v).cast(&DataType::Date).map_err(|e| Error::polars("dates", e))?.into_column())
    };
    let tx = DataFrame::new(
        t_inc.len(),
        vec![
            Column::new("incident".into(), t_inc),
            Column::new("actor".into(), t_act),
            Column::new("tx_hash".into(), t_hash),
            dates("disclosure_day", t_day)?,
        ],
    )
    .map_err(|e| Error::polars("incident_tx", e))?;
    let parties = DataFrame::new(
        p_inc.len(),
        vec![
            Column::new("incident".into(), p_inc),
            Column::new("actor".into(), p_act),
            Column::new("victim".into(), p_v),
            Column::new("attacker".into(), p_a),
            dates("day_from", p_from)?,
            dates("day_to", p_to)?,
            dates("disclosure_day", p_day)?,
        ],
    )
    .map_err(|e| Error::polars("incident_parties", e))?;
    Ok((tx, parties))
}

/// Why on-chain and reported values differ, in words.
fn explain(found: i64, unpriced: i64, diff: &str, price_day: crate::config::StolenPriceDay) -> String {
    if found == 0 {
        return "no theft transfer found in the chain data (not on a loaded chain, or the ledger lists no hashes or addresses)".into();
    }
    let mut why = Vec::new();
    if unpriced > 0 {
        why.push(format!("{unpriced} transfer(s) without a price are not valued"));
    }
    if diff != "0.00" && !diff.is_empty() {
        why.push(format!(
            "on-chain value uses the close of the {}; the reported figure uses the source's own prices and may include other chains",
            if price_day == crate::config::StolenPriceDay::DisclosureDay { "incident's ledger date" } else { "transfer day" }
        ));
    }
    if why.is_empty() { "on-chain value equals the reported figure".into() } else { why.join("; ") }
}

fn value_cell(micro: i128, transfers: i64, unpriced: i64) -> String {
    // Nothing priced: the value is unknown, not zero.
    if transfers > 0 && transfers == unpriced { String::new() } else { usd_from_micro(micro) }
}

#[derive(Serialize)]
struct Figure {
    id: String,
    value: Option<String>,
    unit: &'static str,
    query: String,
    inputs: Vec<String>,
}

/// Check that `out` can be the report's folder (new, empty, or already ifr's report folder; never
/// the lake's or the sample's) before any work is done: a refused folder costs nothing and changes
/// nothing.
pub fn check_folder(settings: &Settings, out: &Path) -> Result<()> {
    let out = &crate::paths::resolve(out)?;
    let sources: Vec<&Path> = settings.sources.iter().map(|s| s.path.as_path()).collect();
    let sample = settings.sample.as_ref().map(|s| s.out.as_path());
    crate::owned::check_layout(&settings.lake_dir, out, sample, &sources, &settings.base_dir)?;
    crate::owned::check(out, crate::owned::Use::Report, Some(&settings.base_dir)).map(|_| ())
}

/// Render and publish the report for the configured (or all) years.
pub fn run(settings: &Settings, out_override: Option<&Path>, years: &[i32]) -> Result<ReportSummary> {
    let out = crate::paths::resolve(out_override.unwrap_or(&settings.report.out))?;
    check_folder(settings, &out)?;
    // One lake snapshot for every number, table and manifest entry of this report, even when an
    // ingest commits while it runs.
    let lake = Lake::new(&settings.lake_dir);
    let (res, att, wanted, traced) = compute(settings, &lake, years)?;
    crate::owned::claim(&out, crate::owned::Use::Report, Some(&settings.base_dir))?;
    let _lock = crate::lake::WriteLock::acquire(
        &out.join(".ifr-lock"),
        &format!("the report folder `{}`", out.display()),
        &crate::lake::this_command(),
    )?;
    let mut parents: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (aa, an) = (col_str(&att.actor_ancestors, "actor")?, col_str(&att.actor_ancestors, "ancestor")?);
    for i in 0..aa.len() {
        if aa[i] != an[i] {
            parents.entry(aa[i].clone()).or_default().push(an[i].clone());
        }
    }
    // What a killed run left: its half-built folder and the previous years it had moved aside.
    for entry in std::fs::read_dir(&out).map_err(|e| Error::io("listing", &out, e))?.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with(".partial-") || name.starts_with(".old-") {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let staging = out.join(format!(".partial-{}", crate::lake::new_run_id()));
    let result = (|| -> Result<usize> {
        let mut files = 0;
        for &year in &wanted {
            if crate::failpoint::fails("report-render") {
                return Err(Error::Internal("failpoint report-render (a test of a failed run)".into()));
            }
            files += render_year(settings, &lake, &res, &parents, &traced, year, &staging.join(year.to_string()))?;
        }
        Ok(files)
    })();
    let files = match result {
        Ok(f) => f,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    // Publish: each year's folder is swapped with the previous one in one atomic rename.
    for &year in &wanted {
        crate::failpoint::hit("report-publish");
        crate::lake::swap_into_place(&staging.join(year.to_string()), &out.join(year.to_string()))?;
    }
    crate::failpoint::hit("report-publish");
    let _ = std::fs::remove_dir_all(&staging);
    Ok(ReportSummary { out: out.display().to_string(), years: wanted, files })
}

fn keep_actor(settings: &Settings, actor: &str) -> bool {
    settings.report.actors.is_empty() || settings.report.actors.iter().any(|a| a == actor)
}

fn write(dir: &Path, rel: &str, text: &str) -> Result<()> {
    let p = dir.join(rel);
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).map_err(|e| Error::io("creating", d, e))?;
    }
    std::fs::write(&p, text).map_err(|e| Error::io("writing", &p, e))
}

fn write_table(dir: &Path, name: &str, t: &Table) -> Result<usize> {
    write(dir, &format!("tables/{name}.csv"), &t.to_csv())?;
    write(dir, &format!("tables/{name}.md"), &t.to_markdown())?;
    write(dir, &format!("tables/{name}.tex"), &t.to_latex())?;
    Ok(3)
}

fn render_year(
    settings: &Settings,
    lake: &Lake,
    res: &Results,
    ancestors: &BTreeMap<String, Vec<String>>,
    traced: &Traced,
    year: i32,
    dir: &Path,
) -> Result<usize> {
    let mut files = 0;
    let mut figures = Vec::new();
    let chain_inputs =
        vec!["transfers".to_string(), "labels".into(), "sanctions".into(), "actors".into(), "prices".into(), "assets".into()];

    let mut totals =
        Table::new(&["actor", "year", "metric", "value_usd", "transfers", "unpriced_transfers"], &[false, true, false, true, true, true]);
    let mut ranges = Table::new(&["actor", "year", "metric", "value_usd_low", "value_usd_high"], &[false, true, false, true, true]);
    for ((actor, y, metric), (v, n, u)) in res.totals.iter().filter(|((a, y, _), _)| *y == year && keep_actor(settings, a)) {
        totals.push(vec![actor.clone(), y.to_string(), metric.clone(), value_cell(*v, *n, *u), n.to_string(), u.to_string()]);
        let low =
            res.totals_high.get(&(actor.clone(), *y, metric.clone())).map_or("0.00".to_string(), |(lv, ln, lu)| value_cell(*lv, *ln, *lu));
        ranges.push(vec![actor.clone(), y.to_string(), metric.clone(), low, value_cell(*v, *n, *u)]);
        let mut inputs = chain_inputs.clone();
        if metric == "stolen" {
            inputs.push("incidents".into());
        }
        figures.push(Figure {
            id: format!("{metric}.{actor}.{year}"),
            value: Some(value_cell(*v, *n, *u)).filter(|s| !s.is_empty()),
            unit: "USD",
            query: format!("queries/actor_year_totals.sql (metric = {metric})"),
            inputs,
        });
    }
    files += write_table(dir, "actor_year_totals", &totals)?;
    let mut monthly = Table::new(
        &["actor", "year", "month", "metric", "value_usd", "transfers", "unpriced_transfers"],
        &[false, true, true, false, true, true, true],
    );
    for ((actor, y, m, metric), (v, n, u)) in res.monthly.iter().filter(|((a, y, _, _), _)| *y == year && keep_actor(settings, a)) {
        monthly.push(vec![
            actor.clone(),
            y.to_string(),
            m.to_string(),
            metric.clone(),
            value_cell(*v, *n, *u),
            n.to_string(),
            u.to_string(),
        ]);
    }
    files += write_table(dir, "actor_month_totals", &monthly)?;
    files += write_table(dir, "actor_year_ranges", &ranges)?;

    let mut dest = Table::new(&["actor", "year", "category", "value_usd", "transfers"], &[false, true, false, true, true]);
    for ((actor, y, cat), (v, n)) in res.destinations.iter().filter(|((a, y, _), _)| *y == year && keep_actor(settings, a)) {
        dest.push(vec![actor.clone(), y.to_string(), cat.clone(), usd_from_micro(*v), n.to_string()]);
        figures.push(Figure {
            id: format!("outflow.{actor}.{year}.{cat}"),
            value: Some(usd_from_micro(*v)),
            unit: "USD",
            query: "queries/actor_destinations.sql".into(),
            inputs: chain_inputs.clone(),
        });
    }
    files += write_table(dir, "actor_destinations", &dest)?;
    let mut top = Table::new(
        &["actor", "year", "rank", "counterparty", "label", "counterparty_actor", "category", "value_usd", "transfers"],
        &[false, true, true, false, false, false, false, true, true],
    );
    for ((actor, y), list) in res.counterparties.iter().filter(|((a, y), _)| *y == year && keep_actor(settings, a)) {
        for (rank, (addr, cact, cat, v, n)) in list.iter().enumerate() {
            let label = res.label_text.get(addr).cloned().unwrap_or_default();
            top.push(vec![
                actor.clone(),
                y.to_string(),
                (rank + 1).to_string(),
                addr.clone(),
                label,
                cact.clone(),
                cat.clone(),
                usd_from_micro(*v),
                n.to_string(),
            ]);
        }
    }
    files += write_table(dir, "top_counterparties", &top)?;

    // Incidents of the year: reported beside on-chain value.
    let inc = lake.scan("incidents")?.collect().map_err(|e| Error::polars("reading incidents", e))?;
    let (ids, names, actors) = (col_str(&inc, "id")?, col_str(&inc, "name")?, col_str(&inc, "actor")?);
    let dates: Vec<String> = col_str(&inc, "date")?;
    let reported: Vec<Option<f64>> = inc
        .column("reported_usd")
        .map_err(|e| Error::polars("reported_usd", e))?
        .f64()
        .map_err(|e| Error::polars("reported_usd", e))?
        .iter()
        .collect();
    let mut order: Vec<usize> = (0..inc.height()).filter(|&i| dates[i].starts_with(&year.to_string()) && !actors[i].is_empty()).collect();
    order.sort_by(|&a, &b| (&dates[a], &ids[a]).cmp(&(&dates[b], &ids[b])));
    let mut incidents = Table::new(
        &[
            "incident",
            "name",
            "date",
            "actor",
            "reported_usd",
            "onchain_usd",
            "onchain_transfers",
            "unpriced_transfers",
            "difference_usd",
            "explanation",
        ],
        &[false, false, false, false, true, true, true, true, true, false],
    );
    for i in order {
        let (mut v, mut n, mut u) = (0i128, 0i64, 0i64);
        for ((id, _, _), (vv, nn, uu)) in &res.incident_values {
            if *id == ids[i] {
                v += vv;
                n += nn;
                u += uu;
            }
        }
        let rep = reported[i].map(|r| (r * 1e6).round() as i128);
        let onchain = if n == 0 { String::new() } else { value_cell(v, n, u) };
        let diff = match (rep, n) {
            (Some(r), n) if n > 0 && n > u => usd_from_micro(v - r),
            _ => String::new(),
        };
        incidents.push(vec![
            ids[i].clone(),
            names[i].clone(),
            dates[i].clone(),
            actors[i].clone(),
            rep.map(usd_from_micro).unwrap_or_default(),
            onchain.clone(),
            n.to_string(),
            u.to_string(),
            diff.clone(),
            explain(n, u, &diff, settings.report.stolen_price_day),
        ]);
        figures.push(Figure {
            id: format!("incident.{}.onchain_usd", ids[i]),
            value: Some(onchain).filter(|s| !s.is_empty()),
            unit: "USD",
            query: "queries/incident_values.sql".into(),
            inputs: vec!["incidents".into(), "transfers".into(), "prices".into(), "assets".into()],
        });
        figures.push(Figure {
            id: format!("incident.{}.reported_usd", ids[i]),
            value: rep.map(usd_from_micro),
            unit: "USD",
            query: "incidents table (ledger)".into(),
            inputs: vec!["incidents".into()],
        });
    }
    files += write_table(dir, "incidents", &incidents)?;

    let (n, priced, flagged) = res.coverage.get(&year).copied().unwrap_or((0, 0, 0));
    let mut coverage = Table::new(
        &["year", "transfers", "priced_transfers", "unpriced_transfers", "implausible_transfers", "priced_share"],
        &[true, true, true, true, true, true],
    );
    let share = if n > 0 { format!("{:.4}", priced as f64 / n as f64) } else { String::new() };
    coverage.push(vec![
        year.to_string(),
        n.to_string(),
        priced.to_string(),
        (n - priced - flagged).to_string(),
        flagged.to_string(),
        share.clone(),
    ]);
    files += write_table(dir, "price_coverage", &coverage)?;
    let mut flagged_table = Table::new(
        &["year", "source_file", "block_number", "tx_hash", "log_index", "trace_address", "asset", "amount", "value_usd"],
        &[true, false, true, false, true, false, false, true, true],
    );
    let imp = &res.implausible;
    let (fy, ff, fb, fh, fl, ft, fa) = (
        col_i64(imp, "year")?,
        col_str(imp, "source_file")?,
        col_i64(imp, "block_number")?,
        col_str(imp, "tx_hash")?,
        col_str(imp, "log_index")?,
        col_str(imp, "trace_address")?,
        col_str(imp, "asset")?,
    );
    let (fam, fv) = (col_str(imp, "amount")?, col_str(imp, "raw_usd")?);
    for i in (0..imp.height()).filter(|&i| fy[i] == year as i64) {
        flagged_table.push(vec![
            fy[i].to_string(),
            ff[i].clone(),
            fb[i].to_string(),
            fh[i].clone(),
            fl[i].clone(),
            ft[i].clone(),
            fa[i].clone(),
            fam[i].clone(),
            fv[i].clone(),
        ]);
    }
    files += write_table(dir, "implausible_transfers", &flagged_table)?;
    figures.push(Figure {
        id: format!("price_coverage.{year}"),
        value: Some(share),
        unit: "share of transfers with a price",
        query: "actor_flows (transfers - unpriced_transfers)".into(),
        inputs: vec!["transfers".into(), "prices".into(), "assets".into()],
    });

    write(dir, "manifest.json", &manifest(settings, lake, year, n, priced)?)?;
    let md = report_md(settings, res, year, &totals, &dest, &incidents, &coverage, &flagged_table);
    write(dir, "report.md", &md)?;
    // Tracing: where the year's stolen proceeds went, per method (issue: method sensitivity).
    let (trace_table, trace_chart) = trace_section(settings, res, ancestors, traced, year)?;
    files += write_table(dir, "trace_destinations", &trace_table)?;
    for r in &trace_table.rows {
        figures.push(Figure {
            id: format!("trace.{}.{}.{}.{}", r[2], r[0], year, r[3]),
            value: Some(r[4].clone()).filter(|s| !s.is_empty()),
            unit: "USD",
            query: format!("stages/trace.rs ({} method, incidents of {year} as seeds)", r[2]),
            inputs: vec![
                "transfers".into(),
                "incidents".into(),
                "labels".into(),
                "sanctions".into(),
                "actors".into(),
                "prices".into(),
                "assets".into(),
            ],
        });
    }
    let figures_json = serde_json::to_string_pretty(&figures).map_err(|e| Error::Internal(e.to_string()))? + "\n";
    write(dir, "figures.json", &figures_json)?;
    let mut charts = charts(settings, res, ancestors, year, &incidents)?;
    charts.push(trace_chart);
    for (name, _, c) in &charts {
        write(dir, &format!("charts/{name}.svg"), &c.svg)?;
        let p = dir.join(format!("charts/{name}.png"));
        std::fs::write(&p, &c.png).map_err(|e| Error::io("writing", &p, e))?;
    }
    write(
        dir,
        "index.html",
        &index_html(
            year,
            &md,
            &charts,
            &[
                ("Totals by actor", &totals),
                ("Monthly series", &monthly),
                ("Where the outflows went", &dest),
                ("Top counterparties", &top),
                ("Where the stolen proceeds went (tracing)", &trace_table),
                ("Confidence range", &ranges),
                ("Incidents", &incidents),
                ("Price coverage", &coverage),
            ],
        ),
    )?;
    Ok(files + 4 + 2 * charts.len())
}

/// The actors a chart shows: the given ones, else those with a value, biggest first, without an
/// actor whose ancestor is also shown (Lazarus Group's figures are inside DPRK's).
fn top_actors(settings: &Settings, ancestors: &BTreeMap<String, Vec<String>>, values: &BTreeMap<String, i128>, n: usize) -> Vec<String> {
    if !settings.report.actors.is_empty() {
        return settings.report.actors.iter().take(n).cloned().collect();
    }
    let mut v: Vec<(&String, &i128)> = values.iter().filter(|(_, v)| **v > 0).collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let shown: Vec<&String> = v.iter().map(|(a, _)| *a).collect();
    v.into_iter()
        .map(|(a, _)| a)
        .filter(|a| !ancestors.get(*a).is_some_and(|anc| anc.iter().any(|x| shown.contains(&x))))
        .take(n)
        .cloned()
        .collect()
}

type NamedChart = (&'static str, &'static str, ifr_reports::charts::Chart);

/// Trace the year's incidents with every method; sum per actor (with ancestors), method and destination.
/// The traced incidents: (year, incident, actor) and the trace rows of all of them.
struct Traced {
    incidents: Vec<(i32, String, String)>,
    rows: Vec<super::trace::TraceRow>,
}

/// incident, asset, year -> (micro-USD, transfers, unpriced), as in [`Results::incident_values`].
type IncidentValues = BTreeMap<(String, String, i32), (i128, i64, i64)>;

/// Trace the incidents of every reported year (those with theft transfers on chain) in one pass
/// over the transfers, each year's incidents as their own group — as if each year were traced alone.
fn trace_incidents(settings: &Settings, lake: &Lake, incident_values: &IncidentValues, years: &[i32]) -> Result<Traced> {
    use super::trace::{self, Method, Seeds, TraceOptions};
    let inc = lake.scan("incidents")?.collect().map_err(|e| Error::polars("reading incidents", e))?;
    let (ids, actors, dates) = (col_str(&inc, "id")?, col_str(&inc, "actor")?, col_str(&inc, "date")?);
    // In each year, the incidents table's order: by date, then id.
    let mut order = Vec::new();
    for i in 0..inc.height() {
        let on_chain = incident_values.keys().any(|(id, _, _)| *id == ids[i]);
        let year = years.iter().find(|y| dates[i].starts_with(&y.to_string()));
        if let (Some(&y), true, false) = (year, on_chain, actors[i].is_empty()) {
            order.push((y, dates[i].clone(), ids[i].clone(), actors[i].clone()));
        }
    }
    order.sort();
    let incidents: Vec<(i32, String, String)> = order.into_iter().map(|(y, _, id, actor)| (y, id, actor)).collect();
    if incidents.is_empty() {
        return Ok(Traced { incidents, rows: Vec::new() });
    }
    let opts = TraceOptions {
        seeds: Seeds::Incidents(incidents.iter().map(|(_, i, _)| i.clone()).collect()),
        methods: Method::ALL.to_vec(),
        max_hops: 20,
        until: None,
        stop: vec!["exchange".into(), "mixer".into(), "bridge".into()],
    };
    let groups: Vec<usize> = incidents.iter().map(|(y, _, _)| years.iter().position(|w| w == y).unwrap_or(0)).collect();
    let (rows, _) = trace::run_grouped(settings, &opts, &groups)?;
    Ok(Traced { incidents, rows })
}

fn trace_section(
    settings: &Settings,
    res: &Results,
    ancestors: &BTreeMap<String, Vec<String>>,
    traced: &Traced,
    year: i32,
) -> Result<(Table, NamedChart)> {
    use super::trace::Method;
    // (actor, method, destination) -> (micro-USD of the priced destinations, destinations, of them without a price)
    let mut sums: BTreeMap<(String, &'static str, String), (i128, i64, i64)> = BTreeMap::new();
    let ceiling = settings.report.max_transfer_usd;
    for r in &traced.rows {
        let Some((_, _, actor)) = traced.incidents.iter().find(|(y, i, _)| *y == year && *i == r.seed) else { continue };
        let mut chain = vec![actor.clone()];
        chain.extend(ancestors.get(actor).cloned().unwrap_or_default());
        for a in chain {
            let e = sums.entry((a, r.method, r.destination.clone())).or_default();
            e.1 += 1;
            match r.value_usd {
                // Above the ceiling (or not a number): implausible, kept out as in the queries.
                Some(v) if v.is_finite() && v <= ceiling => e.0 += (v * 1e6).round() as i128,
                Some(_) => e.2 += 1,
                // No price that day: counted as missing coverage, never as 0 USD.
                None => e.2 += 1,
            }
        }
    }
    let mut t = Table::new(
        &["actor", "year", "method", "destination", "value_usd", "unpriced_destinations"],
        &[false, true, false, false, true, true],
    );
    for ((actor, method, dest), (v, n, unpriced)) in &sums {
        if keep_actor(settings, actor) {
            // Nothing priced: the value cell is empty (unknown), as in every other table.
            t.push(vec![
                actor.clone(),
                year.to_string(),
                method.to_string(),
                dest.clone(),
                value_cell(*v, *n, *unpriced),
                unpriced.to_string(),
            ]);
        }
    }
    let stolen: BTreeMap<String, i128> =
        res.totals.iter().filter(|((_, y, m), _)| *y == year && m == "stolen").map(|((a, _, _), (v, _, _))| (a.clone(), *v)).collect();
    let headline = top_actors(settings, ancestors, &stolen, 1).into_iter().next().unwrap_or_else(|| "-".into());
    let mut chart_rows = Vec::new();
    for dest in ["exchange", "mixer", "bridge", "held"] {
        for m in Method::ALL {
            if let Some((v, _, _)) = sums.get(&(headline.clone(), m.as_str(), dest.to_string())) {
                chart_rows.push((dest.to_string(), m.as_str().to_string(), *v as f64 / 1e6));
            }
        }
    }
    let chart = ifr_reports::charts::trace_methods::chart(&headline, year, &chart_rows)
        .map_err(|e| Error::Internal(format!("drawing a chart: {e}")))?;
    Ok((t, ("trace_methods", "Where the stolen proceeds went, by tracing method", chart)))
}

fn charts(
    settings: &Settings,
    res: &Results,
    ancestors: &BTreeMap<String, Vec<String>>,
    year: i32,
    incidents: &Table,
) -> Result<Vec<NamedChart>> {
    use ifr_reports::charts;
    let err = |e: String| Error::Internal(format!("drawing a chart: {e}"));
    let metric_of = |metric: &str| -> BTreeMap<String, i128> {
        res.totals.iter().filter(|((_, y, m), _)| *y == year && m == metric).map(|((a, _, _), (v, _, _))| (a.clone(), *v)).collect()
    };
    let (stolen, inflow) = (metric_of("stolen"), metric_of("inflow"));
    let mut actors = top_actors(settings, ancestors, &stolen, 4);
    for a in top_actors(settings, ancestors, &inflow, 6) {
        if actors.len() < 6 && !actors.contains(&a) {
            actors.push(a);
        }
    }
    let mut rows = Vec::new();
    for a in &actors {
        for m in ["stolen", "inflow", "outflow"] {
            if let Some((v, _, _)) = res.totals.get(&(a.clone(), year, m.to_string())) {
                rows.push((a.clone(), m.to_string(), *v as f64 / 1e6));
            }
        }
    }
    let annual = charts::annual_totals::chart(year, &rows).map_err(err)?;
    let thieves = top_actors(settings, ancestors, &stolen, 3);
    let series: Vec<(String, [f64; 12])> = thieves
        .iter()
        .map(|a| {
            let mut m = [0.0; 12];
            for ((ma, y, mo, metric), (v, _, _)) in &res.monthly {
                if ma == a && *y == year && metric == "stolen" && (1..=12).contains(mo) {
                    m[(*mo - 1) as usize] += *v as f64 / 1e6;
                }
            }
            (a.clone(), m)
        })
        .collect();
    let monthly = charts::monthly_stolen::chart(year, &series).map_err(err)?;
    let headline = thieves.first().cloned().or_else(|| actors.first().cloned()).unwrap_or_else(|| "-".into());
    let dest_rows: Vec<(String, f64)> = res
        .destinations
        .iter()
        .filter(|((a, y, _), _)| *a == headline && *y == year)
        .map(|((_, _, c), (v, _))| (c.clone(), *v as f64 / 1e6))
        .collect();
    let destinations = charts::destinations::chart(&headline, year, &dest_rows).map_err(err)?;
    let inc_rows: Vec<(String, f64, Option<f64>)> =
        incidents.rows.iter().map(|r| (r[0].clone(), r[4].parse().unwrap_or(0.0), r[5].parse().ok())).collect();
    let incidents = charts::incidents::chart(year, &inc_rows).map_err(err)?;
    Ok(vec![
        ("annual_totals", "Totals by actor", annual),
        ("monthly_stolen", "Cumulative stolen value", monthly),
        ("destinations", "Where the outflows went", destinations),
        ("incidents", "Reported vs on-chain value per incident", incidents),
    ])
}

fn index_html(year: i32, md: &str, charts: &[NamedChart], tables: &[(&str, &Table)]) -> String {
    use ifr_reports::html;
    let headlines: Vec<String> = md
        .split("## Headline figures")
        .nth(1)
        .unwrap_or("")
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| l.starts_with("- "))
        .map(|l| l.trim_start_matches("- ").to_string())
        .collect();
    let mut sections = Vec::new();
    let mut figs = String::new();
    for (name, title, c) in charts {
        let _ = write!(figs, "<figure id=\"chart-{name}\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n", c.svg, html::escape(title));
    }
    sections.push(html::Section { title: "Charts".into(), id: "charts".into(), html: figs });
    for (title, t) in tables {
        sections.push(html::Section { title: title.to_string(), id: title.to_lowercase().replace(' ', "-"), html: html::table(t) });
    }
    let method: Vec<String> =
        md.split("## Methodology").nth(1).unwrap_or("").lines().filter(|l| l.starts_with("- ")).map(str::to_string).collect();
    sections.push(html::Section { title: "Methodology".into(), id: "methodology".into(), html: html::list(&method) });
    html::page(&format!("Illicit flows, {year}"), &headlines, &sections)
}

fn manifest(settings: &Settings, lake: &Lake, year: i32, n: i64, priced: i64) -> Result<String> {
    let state = lake.state()?;
    let config = std::fs::read(&settings.config_path).map_err(|e| Error::io("reading", &settings.config_path, e))?;
    let mut tables = BTreeMap::new();
    for t in crate::schema::all() {
        tables.insert(t.table.clone(), lake.row_count(&t.table)?);
    }
    let inputs: Vec<serde_json::Value> = state
        .sources
        .iter()
        .map(|(name, s)| {
            serde_json::json!({
                "source": name,
                "kind": s.kind,
                "format": s.format,
                "files": s.files.iter().map(|f| serde_json::json!({
                    "file": Path::new(&f.path).file_name().map(|x| x.to_string_lossy().into_owned()).unwrap_or_default(),
                    "sha256": f.sha256,
                    "bytes": f.bytes,
                })).collect::<Vec<_>>(),
                "counts": s.counts,
            })
        })
        .collect();
    let m = serde_json::json!({
        "ifr_version": env!("CARGO_PKG_VERSION"),
        "year": year,
        "config_sha256": hex::encode(Sha256::digest(&config)),
        "settings": settings.report,
        "inputs": inputs,
        "table_rows": tables,
        "price_coverage": { "transfers": n, "priced_transfers": priced },
        "queries": QUERIES.iter().map(|(name, q)| serde_json::json!({"name": name, "sha256": hex::encode(Sha256::digest(q.as_bytes()))})).collect::<Vec<_>>(),
    });
    Ok(serde_json::to_string_pretty(&m).map_err(|e| Error::Internal(e.to_string()))? + "\n")
}

#[allow(clippy::too_many_arguments)]
fn report_md(
    settings: &Settings,
    res: &Results,
    year: i32,
    totals: &Table,
    dest: &Table,
    incidents: &Table,
    coverage: &Table,
    flagged: &Table,
) -> String {
    let mut s = format!("# Illicit flows, {year}\n\n## Headline figures\n\n");
    let mut any = false;
    for ((actor, y, metric), (v, n, u)) in &res.totals {
        if *y != year || metric != "stolen" || !keep_actor(settings, actor) || n == u {
            continue;
        }
        any = true;
        let exch = res.destinations.get(&(actor.clone(), year, "exchange".to_string())).map_or(0, |d| d.0);
        let _ = writeln!(
            s,
            "- {} stole {} in {year} (on-chain value of {} theft transfer(s) at the transfer day's close); {} of its direct outflows went to exchanges.",
            markdown_escape(actor),
            usd_short(*v),
            n,
            usd_short(exch)
        );
    }
    if !any {
        s.push_str("- No ledger incident's theft transfers were found on chain this year.\n");
    }
    let _ = write!(
        s,
        "\n## Totals by actor\n\n{}\n## Where the outflows went\n\n{}\n## Incidents: reported and on-chain value\n\n{}\n## Price coverage\n\n{}\n",
        totals.to_markdown(),
        dest.to_markdown(),
        incidents.to_markdown(),
        coverage.to_markdown()
    );
    if !flagged.is_empty() {
        let _ = write!(
            s,
            "\nTransfers valued above {} each are implausible (a spam token's price, a price typo) and kept out of every total above:\n\n{}",
            usd_short((settings.report.max_transfer_usd * 1e6) as i128),
            flagged.to_markdown()
        );
    }
    s.push_str(&methodology(settings, &res.label_sources));
    s
}

/// The methodology, generated from the settings in force and the queries' own documentation.
pub fn methodology(settings: &Settings, label_sources: &BTreeMap<(String, String), (usize, i64, i64)>) -> String {
    let r = &settings.report;
    let mut s = String::from("## Methodology\n\n");
    let packs: Vec<String> = label_sources
        .iter()
        .map(|((pack, file), (n, lo, hi))| {
            let conf = if lo == hi { format!("confidence {lo}") } else { format!("confidence {lo}-{hi}") };
            format!("{} ({}: {n} labels, {conf})", markdown_escape(pack), markdown_escape(file))
        })
        .collect();
    let _ = writeln!(
        s,
        "- **Label sources.** {}; sanctions lists in the lake (as labels of the SDN party's actor).",
        if packs.is_empty() { "none".to_string() } else { packs.join("; ") }
    );
    let _ = writeln!(
        s,
        "- **Attribution.** An address belongs, on each date, to the actor of its highest-confidence label (GraphSense levels: ownership 100 … authority_data 60 … unknown 5); ties go to a label over a sanctions entry, then to the smaller actor id. Totals roll up the actor hierarchy (an actor counts its descendants' addresses)."
    );
    let _ = writeln!(
        s,
        "- **Sanctions.** Sanctions entries become labels of the actor linked to their SDN party (confidence 60, category sanctioned). Policy: {}.",
        match r.sanctions {
            SanctionsPolicy::PointInTime =>
                "point-in-time — an address counts from the tightest listing date the inputs support until a delisting: the party's OFAC entry date when it falls after the previous snapshot and on or before the first snapshot listing the address, else that snapshot's date; for an address already in the earliest snapshot, the party's entry date, else that snapshot (`sanctions.listed_date_rule` names the rule used for each address)",
            SanctionsPolicy::AsListedToday => "as listed today — every address on the latest list counts for all dates",
        }
    );
    let _ = writeln!(
        s,
        "- **Valuation.** USD = exact token amount ÷ 10^decimals × the close of the asset's price series on the transfer's UTC day. Price sources in order of preference: {}. A transfer without a price is counted as unpriced and left out of the value — never valued at 0. A transfer valued above {} (`max-transfer-usd`) is implausible — a spam token's price or a price typo — and is left out of every total, counted in the price coverage and listed with its input file, block and transaction. Sums are exact 128-bit integer micro-dollars.",
        if r.price_sources.is_empty() { "none configured".to_string() } else { r.price_sources.join(", ") },
        usd_short((r.max_transfer_usd * 1e6) as i128)
    );
    let _ = writeln!(
        s,
        "- **Tracing.** The year's incidents are traced from their theft transfers in one pass over transfers in chain order, per (address, asset) account: *poison* taints every outgoing transfer of a tainted account in full (an upper bound, it can count value twice); *haircut* gives each outgoing transfer the account's tainted share at that moment; *FIFO* lets value leave in the order it arrived. Taint stops at exchanges, mixers and bridges (arrived) and after 20 hops (held); value still in traced accounts at the end is held. An account is tracked from its first taint; a transfer above its tracked balance is taken to include clean value held before. A swap at a DEX ends the swapped asset's trail there. Values at the close of the last arrival day (held: of the last day); a destination (address and asset) without a price that day is left out of the value and counted in `unpriced_destinations`."
    );
    let _ = writeln!(
        s,
        "- **Confidence range.** `actor_year_ranges` gives each total from labels at or above confidence {} (low) and from all labels (high).",
        r.high_confidence
    );
    let _ = writeln!(
        s,
        "- **Stolen.** An incident's listed tx hashes, else its victim-to-attacker transfers from the incident date to {} day(s) after it; valued at the close of the {}.",
        r.incident_window_days,
        if r.stolen_price_day == crate::config::StolenPriceDay::DisclosureDay {
            "incident's ledger date (disclosure-day policy)"
        } else {
            "transfer day (transfer-day policy)"
        }
    );
    s.push_str("\nWhat each query counts (from the queries themselves):\n\n");
    for (name, _) in QUERIES {
        let _ = writeln!(s, "- `{name}`: {}", query_doc(name));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::trace::TraceRow;

    fn row(seed: &str, destination: &str, address: &str, value_usd: Option<f64>) -> TraceRow {
        TraceRow {
            method: "haircut",
            seed: seed.into(),
            destination: destination.into(),
            address: address.into(),
            actor: None,
            asset: "ETH".into(),
            amount: 1.0,
            value_usd,
            hops: 1,
            first_arrival: None,
            last_arrival: None,
        }
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
        };
        let ancestors = BTreeMap::from([("lazarus_group".to_string(), vec!["dprk".to_string()])]);
        let (t, _) = trace_section(&settings, &Results::default(), &ancestors, &traced, 2022).unwrap();
        let rows: Vec<Vec<&str>> = t.rows.iter().map(|r| r.iter().map(String::as_str).collect()).collect();
        assert_eq!(
            rows,
            [
                ["dprk", "2022", "haircut", "exchange", "1.50", "1"],
                ["dprk", "2022", "haircut", "mixer", "", "1"],
                ["lazarus_group", "2022", "haircut", "exchange", "1.50", "1"],
                ["lazarus_group", "2022", "haircut", "mixer", "", "1"],
            ]
        );
    }
}
