//! One year's report from its typed model: the tables (CSV, Markdown, LaTeX), the charts (SVG,
//! PNG), figures.json, manifest.json, report.md and index.html, written into a folder. The headline
//! sentences and the methodology are data, rendered once to Markdown and once to HTML; nothing is
//! read back from text written here.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::charts::{self, Chart};
use crate::html;
use crate::model::{Category, Method, Metric, ReportOptions, YearModel};
use crate::tables::{Table, markdown_escape, usd_from_micro, usd_short};

/// A failure to write the report (the path and the cause), or to draw a chart.
#[derive(Debug)]
pub enum AssembleError {
    Io { path: std::path::PathBuf, source: std::io::Error },
    Chart(String),
}

impl std::fmt::Display for AssembleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AssembleError::Io { path, source } => write!(f, "writing `{}`: {source}", path.display()),
            AssembleError::Chart(e) => write!(f, "drawing a chart: {e}"),
        }
    }
}

impl std::error::Error for AssembleError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AssembleError::Io { source, .. } => Some(source),
            AssembleError::Chart(_) => None,
        }
    }
}

type Result<T> = std::result::Result<T, AssembleError>;

/// The lake tables every chain figure is computed from.
const CHAIN_INPUTS: [&str; 6] = ["transfers", "labels", "sanctions", "actors", "prices", "assets"];

/// One number on the page, as figures.json lists it: its id, value, unit, the query that computed
/// it and the lake tables it is computed from.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub id: String,
    pub value: Option<String>,
    pub unit: &'static str,
    pub query: String,
    pub inputs: Vec<String>,
    /// Each input table's hash: sha256 over the sorted `file sha256` lines of the input files
    /// loaded into it (manifest.json lists the files).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub input_hashes: BTreeMap<String, String>,
}

/// The figures of a year's report (what figures.json will hold), without writing anything.
pub fn figures(model: &YearModel, opts: &ReportOptions) -> Vec<Figure> {
    tables_and_figures(model, opts).1
}

fn inputs(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// The year's tables, in the order the page shows them.
struct Tables {
    totals: Table,
    /// The totals per chain (actor_chain_totals).
    by_chain: Table,
    monthly: Table,
    ranges: Table,
    destinations: Table,
    counterparties: Table,
    incidents: Table,
    coverage: Table,
    chains: Table,
    asset_coverage: Table,
    implausible: Table,
    trace: Table,
    /// The trace with the methods side by side (one row per actor and destination).
    trace_wide: Table,
    changes: Option<(String, Table)>,
    estimates: Table,
    thefts: Table,
    recoveries: Table,
    /// The coverage section's sentences (inline Markdown, input text escaped).
    coverage_notes: Vec<String>,
}

/// Write the report of `model.year` into `dir` (created). Returns the number of files written.
pub fn assemble(model: &YearModel, opts: &ReportOptions, dir: &Path) -> Result<usize> {
    let (tables, figures) = tables_and_figures(model, opts);
    let mut files = 0;
    for (name, t) in [
        ("actor_year_totals", &tables.totals),
        ("actor_chain_totals", &tables.by_chain),
        ("actor_month_totals", &tables.monthly),
        ("actor_year_ranges", &tables.ranges),
        ("actor_destinations", &tables.destinations),
        ("top_counterparties", &tables.counterparties),
        ("incidents", &tables.incidents),
        ("price_coverage", &tables.coverage),
        ("chain_coverage", &tables.chains),
        ("asset_price_coverage", &tables.asset_coverage),
        ("implausible_transfers", &tables.implausible),
        ("trace_destinations", &tables.trace),
        ("trace_by_method", &tables.trace_wide),
        ("published_estimates", &tables.estimates),
        ("theft_transfers", &tables.thefts),
        ("recoveries", &tables.recoveries),
    ] {
        write(dir, &format!("tables/{name}.csv"), t.to_csv().as_bytes())?;
        write(dir, &format!("tables/{name}.md"), t.to_markdown().as_bytes())?;
        write(dir, &format!("tables/{name}.tex"), t.to_latex().as_bytes())?;
        files += 3;
    }
    let manifest = serde_json::to_string_pretty(&model.manifest).unwrap_or_default() + "\n";
    write(dir, "manifest.json", manifest.as_bytes())?;
    let headlines = headlines(model, opts);
    write(dir, "report.md", report_md(model, opts, &headlines, &tables).as_bytes())?;
    let figures = serde_json::to_string_pretty(&figures).unwrap_or_default() + "\n";
    write(dir, "figures.json", figures.as_bytes())?;
    let charts = charts(model, opts)?;
    let mut drawn = 0;
    for (name, _, c) in &charts {
        if let Drawn::Chart(c) = c {
            write(dir, &format!("charts/{name}.svg"), c.svg.as_bytes())?;
            write(dir, &format!("charts/{name}.png"), &c.png)?;
            write(dir, &format!("charts/{name}.pdf"), &c.pdf)?;
            drawn += 1;
        }
    }
    write(dir, "index.html", index_html(model, &headlines, &charts, &tables).as_bytes())?;
    Ok(files + 4 + 3 * drawn)
}

/// What the index shows of one year: its headline sentences and its headline family's figures.
#[derive(Debug, Clone)]
pub struct YearSummary {
    pub year: i32,
    pub headlines: Vec<String>,
    /// The headline actor family's id and name.
    pub actor: Option<(String, String)>,
    /// Its theft on chain, and the ledger incidents found on chain / of the year.
    pub stolen: crate::model::Money,
    pub incidents_found: usize,
    pub incidents: usize,
    /// Reported value of its incidents not verified on chain.
    pub unverified_micro_usd: i128,
    /// Recoveries of its funds in the year (the sources' USD figures).
    pub recovered_micro_usd: i128,
}

/// A year's summary for the index, from its model (as its own pages compute it).
pub fn year_summary(model: &YearModel, opts: &ReportOptions) -> YearSummary {
    let mut s = YearSummary {
        year: model.year,
        headlines: headlines(model, opts),
        actor: None,
        stolen: Default::default(),
        incidents_found: 0,
        incidents: 0,
        unverified_micro_usd: 0,
        recovered_micro_usd: 0,
    };
    if let Some((root, v)) = headline_family(model) {
        let (not, reported) = model.not_verified(root);
        s.actor = Some((root.to_string(), model.actor_names.get(root).cloned().unwrap_or_else(|| root.to_string())));
        s.stolen = v;
        s.incidents = model.incidents.iter().filter(|i| model.in_family(&i.actor, root)).count();
        s.incidents_found = s.incidents - not.len();
        s.unverified_micro_usd = reported;
        s.recovered_micro_usd = model.recoveries.iter().filter(|r| model.in_family(&r.actor, root)).filter_map(|r| r.micro_usd).sum();
    }
    s
}

/// The index of a report folder: the headline family's figures across the years of the run,
/// then every year, newest first, with its headline sentences and links to its page, report.md
/// and figures.json; written as `index.html` and `index.md` into `dir`. Returns the number of
/// files written.
pub fn write_index(dir: &Path, years: &[YearSummary], banner: Option<&str>) -> Result<usize> {
    let mut years: Vec<&YearSummary> = years.iter().collect();
    years.sort_by_key(|y| std::cmp::Reverse(y.year));
    let mut md = String::from("# Illicit flows, by year\n\n");
    if let Some(b) = banner {
        let _ = write!(md, "> **Synthetic data.** {}\n\n", markdown_escape(b));
    }
    let mut series = Table::new(
        &["year", "actor", "stolen_onchain_usd", "incidents_found", "incidents", "reported_not_verified_usd", "recovered_usd"],
        &[true, false, true, true, true, true, true],
    );
    for y in years.iter().rev() {
        if let Some((_, name)) = &y.actor {
            series.push(vec![
                y.year.to_string(),
                name.clone(),
                y.stolen.usd_cell(),
                y.incidents_found.to_string(),
                y.incidents.to_string(),
                usd_from_micro(y.unverified_micro_usd),
                usd_from_micro(y.recovered_micro_usd),
            ]);
        }
    }
    let mut sections = Vec::new();
    if !series.is_empty() {
        let _ = write!(md, "## Across the years\n\n{}\n", series.to_markdown());
        sections.push(html::Section { title: "Across the years".into(), id: "series".into(), html: html::table(&series) });
    }
    write(dir, "index_series.csv", series.to_csv().as_bytes())?;
    for y in years {
        let (year, lines) = (y.year, &y.headlines);
        let _ = writeln!(md, "## {year}\n");
        for l in lines {
            let _ = writeln!(md, "- {l}");
        }
        let _ = writeln!(md, "\n[The {year} report]({year}/report.md) · [figures]({year}/figures.json)\n");
        let mut h = html::list(lines);
        let _ = writeln!(
            h,
            "<p><a href=\"{year}/index.html\">The {year} report</a> · <a href=\"{year}/report.md\">report.md</a> · <a href=\"{year}/figures.json\">figures.json</a></p>"
        );
        sections.push(html::Section { title: year.to_string(), id: format!("y{year}"), html: h });
    }
    write(dir, "index.md", md.as_bytes())?;
    write(dir, "index.html", html::page("Illicit flows, by year", banner, &[], &sections).as_bytes())?;
    Ok(3)
}

fn write(dir: &Path, rel: &str, bytes: &[u8]) -> Result<()> {
    let p = dir.join(rel);
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).map_err(|source| AssembleError::Io { path: d.to_path_buf(), source })?;
    }
    std::fs::write(&p, bytes).map_err(|source| AssembleError::Io { path: p.clone(), source })
}

fn tables_and_figures(model: &YearModel, opts: &ReportOptions) -> (Tables, Vec<Figure>) {
    let year = model.year.to_string();
    let mut figures = Vec::new();
    let mut totals =
        Table::new(&["actor", "year", "metric", "value_usd", "transfers", "unpriced_transfers"], &[false, true, false, true, true, true]);
    let mut ranges = Table::new(&["actor", "year", "metric", "value_usd_low", "value_usd_high"], &[false, true, false, true, true]);
    for t in &model.totals {
        let (v, metric) = (&t.value, t.metric.as_str());
        totals.push(vec![t.actor.clone(), year.clone(), metric.into(), v.usd_cell(), v.transfers.to_string(), v.unpriced.to_string()]);
        let low = t.high_confidence.map_or("0.00".to_string(), |h| h.usd_cell());
        ranges.push(vec![t.actor.clone(), year.clone(), metric.into(), low, v.usd_cell()]);
        let mut inputs = inputs(&CHAIN_INPUTS);
        if t.metric == Metric::Stolen {
            inputs.push("incidents".into());
        }
        figures.push(Figure {
            id: format!("{metric}.{}.{year}", t.actor),
            value: Some(v.usd_cell()).filter(|s| !s.is_empty()),
            unit: "USD",
            query: format!("queries/actor_year_totals.sql (metric = {metric})"),
            inputs,
            input_hashes: BTreeMap::new(),
        });
    }
    let mut by_chain = Table::new(
        &["actor", "year", "chain", "metric", "value_usd", "transfers", "unpriced_transfers"],
        &[false, true, false, false, true, true, true],
    );
    for t in &model.chain_totals {
        let (v, metric) = (&t.value, t.metric.as_str());
        by_chain.push(vec![
            t.actor.clone(),
            year.clone(),
            t.chain.clone(),
            metric.into(),
            v.usd_cell(),
            v.transfers.to_string(),
            v.unpriced.to_string(),
        ]);
        let mut inputs = inputs(&CHAIN_INPUTS);
        if t.metric == Metric::Stolen {
            inputs.push("incidents".into());
        }
        figures.push(Figure {
            id: format!("chain_total.{metric}.{}.{year}.{}", t.actor, t.chain),
            value: Some(v.usd_cell()).filter(|s| !s.is_empty()),
            unit: "USD",
            query: format!("queries/actor_chain_totals.sql (metric = {metric})"),
            inputs,
            input_hashes: BTreeMap::new(),
        });
    }
    let mut monthly = Table::new(
        &["actor", "year", "month", "metric", "value_usd", "transfers", "unpriced_transfers"],
        &[false, true, true, false, true, true, true],
    );
    for m in &model.months {
        let v = &m.value;
        monthly.push(vec![
            m.actor.clone(),
            year.clone(),
            m.month.to_string(),
            m.metric.as_str().into(),
            v.usd_cell(),
            v.transfers.to_string(),
            v.unpriced.to_string(),
        ]);
    }
    let mut destinations = Table::new(&["actor", "year", "category", "value_usd", "transfers"], &[false, true, false, true, true]);
    for d in &model.destinations {
        destinations.push(vec![
            d.actor.clone(),
            year.clone(),
            d.category.to_string(),
            usd_from_micro(d.micro_usd),
            d.transfers.to_string(),
        ]);
        figures.push(Figure {
            id: format!("outflow.{}.{year}.{}", d.actor, d.category),
            value: Some(usd_from_micro(d.micro_usd)),
            unit: "USD",
            query: "queries/actor_destinations.sql".into(),
            inputs: inputs(&CHAIN_INPUTS),
            input_hashes: BTreeMap::new(),
        });
    }
    let mut counterparties = Table::new(
        &["actor", "year", "rank", "counterparty", "label", "counterparty_actor", "category", "value_usd", "transfers"],
        &[false, true, true, false, false, false, false, true, true],
    );
    for c in &model.counterparties {
        counterparties.push(vec![
            c.actor.clone(),
            year.clone(),
            c.rank.to_string(),
            c.address.clone(),
            c.label.clone().unwrap_or_default(),
            c.counterparty_actor.clone(),
            c.category.to_string(),
            usd_from_micro(c.micro_usd),
            c.transfers.to_string(),
        ]);
    }
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
            "chains",
            "verification",
            "recovered_usd",
        ],
        &[false, false, false, false, true, true, true, true, true, false, false, false, true],
    );
    for i in &model.incidents {
        let o = &i.onchain;
        let onchain = if o.transfers == 0 { String::new() } else { o.usd_cell() };
        let diff = i.difference_micro_usd().map(usd_from_micro).unwrap_or_default();
        incidents.push(vec![
            i.id.clone(),
            i.name.clone(),
            i.date.clone(),
            i.actor.clone(),
            i.reported_micro_usd.map(usd_from_micro).unwrap_or_default(),
            onchain.clone(),
            o.transfers.to_string(),
            o.unpriced.to_string(),
            diff.clone(),
            explain(o.transfers, o.unpriced, &diff, opts.disclosure_day),
            i.chains.join(";"),
            model.verification(i).describe(),
            i.recovered_micro_usd.map(usd_from_micro).unwrap_or_default(),
        ]);
        figures.push(Figure {
            id: format!("incident.{}.onchain_usd", i.id),
            value: Some(onchain).filter(|s| !s.is_empty()),
            unit: "USD",
            query: "queries/incident_values.sql".into(),
            inputs: inputs(&["incidents", "transfers", "prices", "assets"]),
            input_hashes: BTreeMap::new(),
        });
        figures.push(Figure {
            id: format!("incident.{}.reported_usd", i.id),
            value: i.reported_micro_usd.map(usd_from_micro),
            unit: "USD",
            query: "incidents table (ledger)".into(),
            inputs: inputs(&["incidents"]),
            input_hashes: BTreeMap::new(),
        });
    }
    let c = model.coverage;
    let mut coverage = Table::new(
        &["year", "transfers", "priced_transfers", "unpriced_transfers", "implausible_transfers", "priced_share"],
        &[true, true, true, true, true, true],
    );
    let share = if c.transfers > 0 { format!("{:.4}", c.priced as f64 / c.transfers as f64) } else { String::new() };
    coverage.push(vec![
        year.clone(),
        c.transfers.to_string(),
        c.priced.to_string(),
        (c.transfers - c.priced - c.implausible).to_string(),
        c.implausible.to_string(),
        share.clone(),
    ]);
    let mut chains = Table::new(
        &["chain", "year", "first_block", "last_block", "first_day", "last_day", "transfers"],
        &[false, true, true, true, false, false, true],
    );
    for c in model.chains.iter().filter(|c| c.year == model.year) {
        chains.push(vec![
            c.chain.clone(),
            year.clone(),
            c.first_block.to_string(),
            c.last_block.to_string(),
            c.first_day.clone(),
            c.last_day.clone(),
            c.transfers.to_string(),
        ]);
        for (what, value, unit) in [
            ("first_block", c.first_block, "block number"),
            ("last_block", c.last_block, "block number"),
            ("transfers", c.transfers, "transfers"),
        ] {
            figures.push(Figure {
                id: format!("chain_coverage.{}.{year}.{what}", c.chain),
                value: Some(value.to_string()),
                unit,
                query: "queries/chain_coverage.sql".into(),
                inputs: inputs(&["transfers"]),
                input_hashes: BTreeMap::new(),
            });
        }
    }
    let mut asset_coverage = Table::new(
        &["year", "chain", "asset", "transfers", "priced_transfers", "unpriced_transfers", "implausible_transfers", "priced_value_usd"],
        &[true, false, false, true, true, true, true, true],
    );
    for a in &model.asset_coverage {
        asset_coverage.push(vec![
            year.clone(),
            a.chain.clone(),
            a.asset.clone(),
            a.transfers.to_string(),
            a.priced.to_string(),
            a.unpriced().to_string(),
            a.implausible.to_string(),
            usd_from_micro(a.priced_micro_usd),
        ]);
        let asset = if a.asset.is_empty() { "unknown_token" } else { a.asset.as_str() };
        figures.push(Figure {
            id: format!("asset_price_coverage.{year}.{}.{asset}", a.chain),
            value: Some(if a.transfers > 0 { format!("{:.4}", a.priced as f64 / a.transfers as f64) } else { String::new() }),
            unit: "share of the asset's transfers with a price",
            query: "queries/asset_price_coverage.sql".into(),
            inputs: inputs(&["transfers", "prices", "assets"]),
            input_hashes: BTreeMap::new(),
        });
    }
    let mut recoveries = Table::new(
        &["date", "recovery", "incident", "actor", "kind", "value_usd", "asset_amount", "acted_by", "source_url"],
        &[false, false, false, false, false, true, false, false, false],
    );
    for r in &model.recoveries {
        recoveries.push(vec![
            r.date.clone(),
            r.id.clone(),
            r.incident.clone(),
            r.actor.clone(),
            r.kind.clone(),
            r.micro_usd.map(usd_from_micro).unwrap_or_default(),
            r.asset_amount.clone(),
            r.acted_by.clone(),
            r.source_url.clone(),
        ]);
        figures.push(Figure {
            id: format!("recovery.{}.usd", r.id),
            value: r.micro_usd.map(usd_from_micro),
            unit: "USD",
            query: "queries/recoveries.sql".into(),
            inputs: inputs(&["recoveries", "incidents"]),
            input_hashes: BTreeMap::new(),
        });
    }
    let (notes, note_figures) = coverage_notes(model);
    figures.extend(note_figures);
    let mut implausible = Table::new(
        &["year", "source_file", "block_number", "tx_hash", "log_index", "trace_address", "asset", "amount", "value_usd"],
        &[true, false, true, false, true, false, false, true, true],
    );
    for f in &model.implausible {
        implausible.push(vec![
            year.clone(),
            f.source_file.clone(),
            f.block_number.to_string(),
            f.tx_hash.clone(),
            f.log_index.clone(),
            f.trace_address.clone(),
            f.asset.clone(),
            f.amount.clone(),
            f.value_usd.clone(),
        ]);
    }
    figures.push(Figure {
        id: format!("price_coverage.{year}"),
        value: Some(share),
        unit: "share of transfers with a price",
        query: "queries/price_coverage.sql".into(),
        inputs: inputs(&["transfers", "prices", "assets"]),
        input_hashes: BTreeMap::new(),
    });
    let mut trace = Table::new(
        &["actor", "year", "method", "destination", "value_usd", "unpriced_destinations"],
        &[false, true, false, false, true, true],
    );
    for t in &model.trace {
        // Nothing priced: the value cell is empty (unknown), as in every other table.
        trace.push(vec![
            t.actor.clone(),
            year.clone(),
            t.method.to_string(),
            t.destination.clone(),
            t.value.usd_cell(),
            t.value.unpriced.to_string(),
        ]);
        figures.push(Figure {
            id: format!("trace.{}.{}.{year}.{}", t.method, t.actor, t.destination),
            value: Some(t.value.usd_cell()).filter(|s| !s.is_empty()),
            unit: "USD",
            query: format!("stages/trace ({} method, incidents of {year} as seeds)", t.method),
            inputs: inputs(&[
                "transfers",
                "utxo_outputs",
                "utxo_inputs",
                "crosschain_links",
                "incidents",
                "labels",
                "sanctions",
                "actors",
                "prices",
                "assets",
            ]),
            input_hashes: BTreeMap::new(),
        });
    }
    let mut trace_wide =
        Table::new(&["actor", "destination", "poison_value_usd", "haircut_value_usd", "fifo_value_usd"], &[false, false, true, true, true]);
    let mut keys: Vec<(&str, &str)> = model.trace.iter().map(|t| (t.actor.as_str(), t.destination.as_str())).collect();
    keys.dedup();
    keys.sort();
    keys.dedup();
    for (actor, dest) in keys {
        let cell = |m: Method| {
            model
                .trace
                .iter()
                .find(|t| t.actor == actor && t.destination == dest && t.method == m)
                .map_or(String::new(), |t| t.value.usd_cell())
        };
        trace_wide.push(vec![actor.to_string(), dest.to_string(), cell(Method::Poison), cell(Method::Haircut), cell(Method::Fifo)]);
    }
    let changes = model.changes.as_ref().map(|c| {
        let mut t = Table::new(&["figure", "old", "new", "change", "change_pct", "cause"], &[false, true, true, true, true, false]);
        for r in &c.rows {
            let cell = |v: &Option<String>| v.clone().unwrap_or_default();
            t.push(vec![r.id.clone(), cell(&r.old), cell(&r.new), cell(&r.delta), cell(&r.delta_pct), r.cause.clone()]);
        }
        (c.since.clone(), t)
    });
    let estimates = estimates_table(model);
    let mut thefts = Table::new(
        &["incident", "day", "chain", "tx_hash", "to_address", "asset", "amount", "value_usd"],
        &[false, false, false, false, false, false, true, true],
    );
    for t in &model.thefts {
        thefts.push(vec![
            t.incident.clone(),
            t.day.clone(),
            t.chain.clone(),
            t.tx_hash.clone(),
            t.to_address.clone(),
            t.asset.clone(),
            t.amount.clone(),
            t.micro_usd.map(usd_from_micro).unwrap_or_default(),
        ]);
    }
    more_figures(model, &mut figures);
    for f in &mut figures {
        f.input_hashes = f.inputs.iter().filter_map(|t| model.input_hashes.get(t).map(|h| (t.clone(), h.clone()))).collect();
    }
    // Readers see actors by their names (the CSV keeps the ids).
    let n = &model.actor_names;
    let tables = Tables {
        totals: totals.with_names(n),
        by_chain: by_chain.with_names(n),
        monthly: monthly.with_names(n),
        ranges: ranges.with_names(n),
        destinations: destinations.with_names(n),
        counterparties: counterparties.with_names(n),
        incidents: incidents.with_names(n),
        coverage,
        chains,
        asset_coverage,
        coverage_notes: notes,
        recoveries: recoveries.with_names(n),
        implausible,
        trace: trace.with_names(n),
        trace_wide: trace_wide.with_names(n),
        changes,
        estimates,
        thefts,
    };
    (tables, figures)
}

/// The figures of the numbers the tables and headlines show beyond the year totals, destinations,
/// incidents, coverage and tracing: the monthly series, the low end of each range, the top
/// counterparties, each theft transfer, the reported value of incidents not verified on chain and
/// the verified share, and the published estimates shown beside ifr's figure.
fn more_figures(model: &YearModel, figures: &mut Vec<Figure>) {
    let year = model.year;
    let fig = |id: String, value: Option<String>, unit: &'static str, query: &str, tables: &[&str]| Figure {
        id,
        value,
        unit,
        query: query.to_string(),
        inputs: inputs(tables),
        input_hashes: BTreeMap::new(),
    };
    for m in &model.months {
        let metric = m.metric.as_str();
        let mut tables = CHAIN_INPUTS.to_vec();
        if m.metric == Metric::Stolen {
            tables.push("incidents");
        }
        figures.push(fig(
            format!("{metric}.{}.{year}.{:02}", m.actor, m.month),
            Some(m.value.usd_cell()).filter(|s| !s.is_empty()),
            "USD",
            &format!("queries/actor_month_totals.sql (metric = {metric})"),
            &tables,
        ));
    }
    for t in &model.totals {
        let metric = t.metric.as_str();
        figures.push(fig(
            format!("{metric}.{}.{year}.low", t.actor),
            Some(t.high_confidence.map_or("0.00".to_string(), |h| h.usd_cell())),
            "USD",
            &format!("queries/actor_year_totals.sql (metric = {metric}; labels at or above the high-confidence level)"),
            &CHAIN_INPUTS,
        ));
    }
    for c in &model.counterparties {
        figures.push(fig(
            format!("top_counterparty.{}.{year}.{}", c.actor, c.rank),
            Some(usd_from_micro(c.micro_usd)),
            "USD",
            "queries/top_counterparties.sql",
            &CHAIN_INPUTS,
        ));
    }
    for t in &model.thefts {
        figures.push(fig(
            format!("theft.{}.{}.{}.{}", t.incident, t.tx_hash, t.to_address, t.asset),
            t.micro_usd.map(usd_from_micro),
            "USD",
            "queries/theft_transfers.sql",
            &["incidents", "transfers", "prices", "assets"],
        ));
    }
    let mut roots: Vec<&str> = model.incidents.iter().map(|i| root_of(model, &i.actor)).collect();
    roots.sort_unstable();
    roots.dedup();
    for root in roots {
        let (_, reported) = model.not_verified(root);
        let onchain = model.totals.iter().find(|t| t.actor == root && t.metric == Metric::Stolen).map_or(0, |t| t.value.micro_usd);
        let tables = ["incidents", "transfers", "prices", "assets"];
        let query =
            "queries/incident_summary.sql and queries/chain_coverage.sql (incidents not verified on chain, at their reported value)";
        figures.push(fig(format!("reported_not_verified.{root}.{year}"), Some(usd_from_micro(reported)), "USD", query, &tables));
        let share = (onchain + reported > 0).then(|| format!("{:.4}", onchain as f64 / (onchain + reported) as f64));
        figures.push(fig(
            format!("verified_share.{root}.{year}"),
            share,
            "share of on-chain + reported value verified on chain",
            query,
            &tables,
        ));
    }
    for e in &model.estimates {
        let slug: String = e.publisher.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
        figures.push(fig(
            format!("estimate.{slug}.{}.{}", e.years, e.published),
            Some(usd_from_micro(e.usd)),
            "USD",
            "data/reference/estimates.csv (a published estimate, shown beside ifr's figure)",
            &[],
        ));
    }
}

/// The actor family whose theft the published estimates are about: the root (an actor with stolen
/// value whose ancestors have none) with the largest stolen value.
fn headline_family(model: &YearModel) -> Option<(&str, crate::model::Money)> {
    let stolen: BTreeMap<&str, crate::model::Money> =
        model.totals.iter().filter(|t| t.metric == Metric::Stolen).map(|t| (t.actor.as_str(), t.value)).collect();
    stolen
        .iter()
        .filter(|(a, _)| !model.ancestors.get(**a).is_some_and(|anc| anc.iter().any(|x| stolen.contains_key(x.as_str()))))
        .max_by(|a, b| a.1.micro_usd.cmp(&b.1.micro_usd).then(b.0.cmp(a.0)))
        .map(|(a, v)| (*a, *v))
}

/// The recoveries section's sentence (inline Markdown).
fn recoveries_note(model: &YearModel) -> String {
    if model.recoveries.is_empty() {
        return format!("No recovery (funds frozen, seized or returned) is recorded for {}.", model.year);
    }
    let valued: i128 = model.recoveries.iter().filter_map(|r| r.micro_usd).sum();
    let unvalued = model.recoveries.iter().filter(|r| r.micro_usd.is_none()).count();
    let mut s = format!(
        "{} recovery(ies) recorded for {}: {} frozen, seized or returned at the USD figures their sources give",
        model.recoveries.len(),
        model.year,
        usd_short(valued)
    );
    if unvalued > 0 {
        let _ = write!(s, " ({unvalued} without one: counted, not valued)");
    }
    s.push_str(". They are reported by the parties who acted, not read from the chain, and are not deducted from the stolen totals; a recovery can overlap another (see each source).");
    s
}

/// The top of an actor's family: its last ancestor without ancestors of its own (itself when it
/// has none).
fn root_of<'a>(model: &'a YearModel, actor: &'a str) -> &'a str {
    model
        .ancestors
        .get(actor)
        .and_then(|anc| anc.iter().find(|a| model.ancestors.get(a.as_str()).is_none_or(|x| x.is_empty())))
        .map_or(actor, String::as_str)
}

/// A share as a percentage with one decimal ("" when the whole is 0).
fn percent(part: i128, whole: i128) -> String {
    if whole == 0 { String::new() } else { format!("{:.1}%", part as f64 * 100.0 / whole as f64) }
}

/// The coverage section: which chains and ranges were loaded, which incidents were verified on
/// chain, how much of the headline family's outflows went to unlabelled addresses, which assets
/// had no price. Sentences in inline Markdown (input text escaped), and their figures.
fn coverage_notes(model: &YearModel) -> (Vec<String>, Vec<Figure>) {
    let year = model.year;
    let mut notes = Vec::new();
    let mut figures = Vec::new();
    // Chains.
    let spans: Vec<String> = model
        .chains
        .iter()
        .filter(|c| c.year == year)
        .map(|c| {
            format!(
                "{} blocks {} to {} ({} to {}, {} transfers)",
                markdown_escape(&c.chain),
                c.first_block,
                c.last_block,
                c.first_day,
                c.last_day,
                c.transfers
            )
        })
        .collect();
    let mut named: Vec<String> = Vec::new();
    for i in &model.incidents {
        for c in &i.chains {
            if !model.covers(c, &i.date) && !named.contains(c) {
                named.push(c.clone());
            }
        }
    }
    named.sort();
    let mut s = if spans.is_empty() {
        format!("**Chains.** No chain data was loaded for {year}.")
    } else {
        format!("**Chains.** Loaded for {year}: {}.", spans.join("; "))
    };
    if !named.is_empty() {
        let _ = write!(
            s,
            " The year's ledger incidents also name {}, not loaded for their dates: their value there is not on the page, except as reported.",
            named.iter().map(|c| markdown_escape(c)).collect::<Vec<_>>().join(", ")
        );
    }
    notes.push(s);
    // Incidents.
    if !model.incidents.is_empty() {
        let v: Vec<(&crate::model::Incident, crate::model::Verification)> =
            model.incidents.iter().map(|i| (i, model.verification(i))).collect();
        let full = v.iter().filter(|(_, x)| *x == crate::model::Verification::OnChain).count();
        let partly = v.iter().filter(|(_, x)| matches!(x, crate::model::Verification::Partly(_))).count();
        let not: Vec<&crate::model::Incident> = v.iter().filter(|(_, x)| !x.found()).map(|(i, _)| *i).collect();
        let mut s = format!("**Incidents.** {full} of the year's {} ledger incident(s) verified on chain", model.incidents.len());
        if partly > 0 {
            let _ = write!(s, ", {partly} partly (some of their chains not loaded: their on-chain value is a part)");
        }
        if !not.is_empty() {
            let reported: i128 = not.iter().filter_map(|i| i.reported_micro_usd).sum();
            let _ = write!(
                s,
                "; {} reported, not verified on chain ({} reported: {})",
                not.len(),
                usd_short(reported),
                not.iter().map(|i| markdown_escape(&i.name)).collect::<Vec<_>>().join(", ")
            );
        }
        s.push_str(". Each incident's row in the incidents table says which.");
        notes.push(s);
    }
    // Labels: the headline family's direct outflows to unlabelled addresses.
    if let Some((root, _)) = headline_family(model) {
        let out: Vec<&crate::model::Destination> = model.destinations.iter().filter(|d| d.actor == root).collect();
        let total: i128 = out.iter().map(|d| d.micro_usd).sum();
        let unlabelled: i128 = out.iter().filter(|d| d.category == Category::Unlabelled).map(|d| d.micro_usd).sum();
        if total > 0 {
            let name = markdown_escape(model.actor_names.get(root).map_or(root, String::as_str));
            notes.push(format!(
                "**Labels.** Of {name}'s direct outflows ({}), {} ({}) went to addresses with no label: the destination tables cannot say what they are.",
                usd_short(total),
                usd_short(unlabelled),
                percent(unlabelled, total)
            ));
            figures.push(Figure {
                id: format!("unlabelled_outflow_share.{root}.{year}"),
                value: Some(format!("{:.4}", unlabelled as f64 / total as f64)),
                unit: "share of the actor's direct outflows by value",
                query: "queries/actor_destinations.sql (category = unlabelled)".into(),
                inputs: inputs(&CHAIN_INPUTS),
                input_hashes: BTreeMap::new(),
            });
        }
    }
    // Prices.
    let (n, p): (i64, i64) = model.asset_coverage.iter().fold((0, 0), |(n, p), a| (n + a.transfers, p + a.priced));
    if n > 0 {
        let mut unpriced: Vec<String> = model
            .asset_coverage
            .iter()
            .filter(|a| a.unpriced() > 0)
            .map(|a| {
                let what = if a.asset.is_empty() { "tokens not in the assets table".to_string() } else { markdown_escape(&a.asset) };
                format!("{what} on {} ({} transfers)", markdown_escape(&a.chain), a.unpriced())
            })
            .collect();
        unpriced.sort();
        let mut s = format!("**Prices.** {p} of {n} transfers ({}) have a value in the totals", percent(p as i128, n as i128));
        if unpriced.is_empty() {
            s.push_str("; every asset had a price on every day it moved.");
        } else {
            let _ = write!(s, "; without a price that day (counted, never valued at 0): {}.", unpriced.join(", "));
        }
        notes.push(s);
    }
    if !model.links_not_followed.is_empty() {
        let links: Vec<String> =
            model.links_not_followed.iter().map(|(id, why)| format!("{} ({})", markdown_escape(id), markdown_escape(why))).collect();
        notes.push(format!("**Cross-chain links not followed.** The trace stops at the bridge for these links: {}.", links.join("; ")));
    }
    (notes, figures)
}

/// ifr's figure first, then the published estimates whose years cover the report's year.
fn estimates_table(model: &YearModel) -> Table {
    let mut t = Table::new(
        &["source", "years", "estimate_usd", "estimate_usd_high", "incidents", "what_it_counts", "published", "source_url", "beside_ifr"],
        &[false, false, true, true, true, false, false, false, false],
    );
    if model.estimates.is_empty() {
        return t;
    }
    let year = model.year.to_string();
    let ours = headline_family(model).map(|(_, v)| v.micro_usd);
    let loaded: Vec<String> = {
        let mut c: Vec<String> = model.chains.iter().filter(|c| c.year == model.year).map(|c| c.chain.clone()).collect();
        c.dedup();
        c
    };
    let ledger = model.incidents.len();
    let found = model.incidents.iter().filter(|i| model.verification(i).found()).count();
    // What can be said of the gap, from the numbers: the ratio, the incident counts, the chains
    // and the valuation day; never a guess at what a publisher counted.
    let beside = |e: &crate::model::Estimate| -> String {
        let mut why = Vec::new();
        if let Some(o) = ours.filter(|_| e.usd > 0) {
            why.push(format!("ifr's on-chain figure is {} of it", percent(o, e.usd)));
        }
        if let Some(n) = e.incidents {
            why.push(format!("it counts {n} incident(s); the ledger has {ledger} for {year}, {found} found on chain"));
        }
        if e.years != year {
            why.push(format!("it covers {} together", e.years));
        }
        why.push(format!(
            "ifr reads {} only and values each theft at its day's close",
            if loaded.is_empty() { "no chain".to_string() } else { loaded.join(", ") }
        ));
        why.join("; ")
    };
    match headline_family(model) {
        Some((actor, v)) => {
            let name = model.actor_names.get(actor).cloned().unwrap_or_else(|| actor.to_string());
            let found = model.incidents.iter().filter(|i| i.onchain.transfers > 0).count();
            t.push(vec![
                "ifr (this report)".into(),
                year.clone(),
                v.usd_cell(),
                String::new(),
                found.to_string(),
                format!("on-chain value of the theft transfers of the ledger's incidents attributed to {name}, found on the loaded chains, at the close of each transfer's day"),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
        None => t.push(vec![
            "ifr (this report)".into(),
            year.clone(),
            String::new(),
            String::new(),
            "0".into(),
            "no theft found on chain".into(),
            String::new(),
            String::new(),
            String::new(),
        ]),
    }
    for e in &model.estimates {
        t.push(vec![
            e.publisher.clone(),
            e.years.clone(),
            usd_from_micro(e.usd),
            e.usd_high.map(usd_from_micro).unwrap_or_default(),
            e.incidents.map(|n| n.to_string()).unwrap_or_default(),
            e.what_it_counts.clone(),
            e.published.clone(),
            e.source_url.clone(),
            beside(e),
        ]);
    }
    t
}

/// Why on-chain and reported values differ, in words.
fn explain(found: i64, unpriced: i64, diff: &str, disclosure_day: bool) -> String {
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
            if disclosure_day { "incident's ledger date" } else { "transfer day" }
        ));
    }
    if why.is_empty() { "on-chain value equals the reported figure".into() } else { why.join("; ") }
}

/// The headline sentences (inline Markdown, untrusted names escaped): one per actor family — the
/// actors with stolen value whose ancestors have none — with its units named once ("of which …"),
/// never an actor and its parent as two totals; the incidents verified on chain; what the tracer
/// says reached exchanges, as the range across its methods with each method named; and the direct
/// outflows to exchanges.
fn headlines(model: &YearModel, _opts: &ReportOptions) -> Vec<String> {
    let year = model.year;
    let name = |id: &str| markdown_escape(model.actor_names.get(id).map_or(id, String::as_str));
    let stolen: BTreeMap<&str, &crate::model::Money> = model
        .totals
        .iter()
        .filter(|t| t.metric == Metric::Stolen && t.value.transfers != t.value.unpriced)
        .map(|t| (t.actor.as_str(), &t.value))
        .collect();
    let mut out = Vec::new();
    let mut headlined: Vec<&str> = Vec::new();
    for (root, v) in &stolen {
        if model.ancestors.get(*root).is_some_and(|a| a.iter().any(|x| stolen.contains_key(x.as_str()))) {
            continue; // inside a family already headlined
        }
        let mut s = format!("**{}** stole {} in {year}", name(root), usd_short(v.micro_usd));
        let family: Vec<&crate::model::Incident> = model.incidents.iter().filter(|i| model.in_family(&i.actor, root)).collect();
        let verified = family.iter().filter(|i| i.onchain.transfers > 0).count();
        let _ = write!(
            s,
            " ({verified} of {} ledger incident(s) found on chain; the on-chain value of {} theft transfer(s))",
            family.len(),
            v.transfers
        );
        headlined.push(root);
        // Units, largest first, named once.
        let mut units: Vec<(&str, i128)> =
            stolen.iter().filter(|(a, _)| *a != root && model.in_family(a, root)).map(|(a, m)| (*a, m.micro_usd)).collect();
        units.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        // Keep only the units whose parent is not listed too (Lazarus Group, not also its subunits).
        let listed: Vec<&str> = units.iter().map(|(a, _)| *a).collect();
        let direct: Vec<String> = units
            .iter()
            .filter(|(a, _)| !model.ancestors.get(*a).is_some_and(|anc| anc.iter().any(|x| x != root && listed.contains(&x.as_str()))))
            .map(|(a, m)| format!("{} {}", name(a), usd_short(*m)))
            .collect();
        if !direct.is_empty() {
            let _ = write!(s, "; of which {}", direct.join(", "));
        }
        s.push('.');
        let traced: Vec<(Method, i128)> = Method::ALL
            .into_iter()
            .filter_map(|m| {
                model
                    .trace
                    .iter()
                    .find(|t| t.actor == *root && t.method == m && t.destination == "exchange")
                    .map(|t| (m, t.value.micro_usd))
            })
            .collect();
        if let (Some(lo), Some(hi)) = (traced.iter().min_by_key(|x| x.1), traced.iter().max_by_key(|x| x.1)) {
            if lo.1 == hi.1 {
                let _ = write!(s, " Traced from the thefts, {} reached exchanges (every method).", usd_short(lo.1));
            } else {
                let _ = write!(
                    s,
                    " Traced from the thefts, {} ({}) to {} ({}) reached exchanges.",
                    usd_short(lo.1),
                    lo.0,
                    usd_short(hi.1),
                    hi.0
                );
            }
        }
        let exch = model.destinations.iter().find(|d| d.actor == *root && d.category == Category::Exchange).map_or(0, |d| d.micro_usd);
        let _ = write!(s, " Its labelled addresses sent {} directly to exchanges.", usd_short(exch));
        unverified_sentence(model, root, Some(v.micro_usd), &mut s);
        recovered_sentence(model, root, &mut s);
        out.push(s);
    }
    // Families with incidents but nothing verified on chain: their reported value, never dropped.
    let mut others: Vec<&str> =
        model.incidents.iter().filter(|i| !model.verification(i).found()).map(|i| root_of(model, &i.actor)).collect();
    others.sort_unstable();
    others.dedup();
    for root in others.into_iter().filter(|r| !headlined.contains(r)) {
        let mut s = format!("No theft by **{}** in {year} was verified on chain.", name(root));
        unverified_sentence(model, root, None, &mut s);
        out.push(s);
    }
    if out.is_empty() {
        out.push("No ledger incident's theft transfers were found on chain this year.".into());
    }
    out
}

/// " Recovered in 2022: $30.0M (1 seizure) …": the year's recoveries of the family's funds, at
/// the sources' USD figures; those without one are counted, not valued.
fn recovered_sentence(model: &YearModel, root: &str, s: &mut String) {
    let rs: Vec<&crate::model::Recovery> = model.recoveries.iter().filter(|r| model.in_family(&r.actor, root)).collect();
    if rs.is_empty() {
        return;
    }
    let valued: i128 = rs.iter().filter_map(|r| r.micro_usd).sum();
    let unvalued = rs.iter().filter(|r| r.micro_usd.is_none()).count();
    let mut kinds: Vec<String> = Vec::new();
    for k in ["frozen", "seized", "returned"] {
        let n = rs.iter().filter(|r| r.kind == k).count();
        if n > 0 {
            kinds.push(format!("{n} {k}"));
        }
    }
    let _ = write!(s, " Recovered in {}: {} ({})", model.year, usd_short(valued), kinds.join(", "));
    if unvalued > 0 {
        let _ = write!(s, ", and {unvalued} recovery(ies) the sources give no USD figure for");
    }
    s.push_str(", as the sources report them (see Recoveries).");
}

/// " A further $X is reported for N ledger incident(s) not verified on chain (names) …": the
/// family's incidents whose theft was not found, at their reported value, and the share of the
/// year's value (on chain + reported) that was verified on chain.
fn unverified_sentence(model: &YearModel, root: &str, onchain: Option<i128>, s: &mut String) {
    let (not, reported) = model.not_verified(root);
    let partly = model
        .incidents
        .iter()
        .filter(|i| model.in_family(&i.actor, root) && matches!(model.verification(i), crate::model::Verification::Partly(_)))
        .count();
    if !not.is_empty() {
        let names: Vec<String> = not.iter().map(|i| markdown_escape(&i.name)).collect();
        let _ = write!(
            s,
            " {} {} is reported for {} ledger incident(s) not verified on chain ({})",
            if onchain.is_some() { "A further" } else { "" },
            usd_short(reported),
            not.len(),
            names.join(", ")
        );
        match onchain {
            Some(v) if v + reported > 0 => {
                let _ = write!(s, "; {} of the two together is verified on chain.", percent(v, v + reported));
            }
            _ => s.push('.'),
        }
    }
    if partly > 0 {
        let _ = write!(s, " {partly} incident(s) were verified on only some of their chains (see Coverage).");
    }
}

fn report_md(model: &YearModel, opts: &ReportOptions, headlines: &[String], t: &Tables) -> String {
    let mut s = format!("# Illicit flows, {}\n\n", model.year);
    if let Some(b) = &model.synthetic {
        let _ = write!(s, "> **Synthetic data.** {}\n\n", markdown_escape(b));
    }
    s.push_str("## Headline figures\n\n");
    for h in headlines {
        let _ = writeln!(s, "- {h}");
    }
    if let Some((since, t)) = &t.changes {
        let _ = write!(s, "\n## Changes since {}\n\n", markdown_escape(since));
        if t.is_empty() {
            s.push_str("No figure changed.\n");
        } else {
            s.push_str(&t.to_markdown());
        }
    }
    let _ = write!(
        s,
        "\n## Totals by actor\n\n{}\n### By chain\n\n{}\n## Where the outflows went\n\n{}\n## Incidents: reported and on-chain value\n\n{}\n## Coverage\n\n",
        t.totals.to_markdown(),
        t.by_chain.to_markdown(),
        t.destinations.to_markdown(),
        t.incidents.to_markdown(),
    );
    for n in &t.coverage_notes {
        let _ = write!(s, "{n}\n\n");
    }
    let _ = write!(s, "## Recoveries\n\n{}\n\n", recoveries_note(model));
    if !t.recoveries.is_empty() {
        let _ = writeln!(s, "{}", t.recoveries.to_markdown());
    }
    let _ = write!(
        s,
        "### Chains loaded\n\n{}\n### Price coverage\n\n{}\n{}\n",
        t.chains.to_markdown(),
        t.coverage.to_markdown(),
        t.asset_coverage.to_markdown()
    );
    if !t.estimates.is_empty() {
        let _ = write!(
            s,
            "\n## Published estimates beside ifr's figure\n\n{}\nifr counts the on-chain value of the ledger's incidents on the chains loaded, at each theft day's close; a published figure may count incidents the ledger or the loaded chains do not include, value them at other prices or days, or cover another period (see each row).\n\n",
            t.estimates.to_markdown()
        );
    }
    if !t.implausible.is_empty() {
        let _ = write!(
            s,
            "\nTransfers valued above {} each are implausible (a spam token's price, a price typo) and kept out of every total above:\n\n{}",
            usd_short((opts.max_transfer_usd * 1e6) as i128),
            t.implausible.to_markdown()
        );
    }
    s.push_str("## Methodology\n\n");
    for m in &model.methodology {
        let _ = writeln!(s, "- {m}");
    }
    s.push_str("\nWhat each query counts (from the queries themselves):\n\n");
    for q in &model.queries {
        let _ = writeln!(s, "- {}", query_item(q));
    }
    s
}

fn query_item(q: &crate::model::QueryDoc) -> String {
    format!("`{}`: {}", q.name, q.doc)
}

fn index_html(model: &YearModel, headlines: &[String], charts: &[NamedChart], t: &Tables) -> String {
    let mut sections = Vec::new();
    let mut figs = String::new();
    for (name, title, c) in charts {
        match c {
            Drawn::Chart(c) => {
                let _ =
                    write!(figs, "<figure id=\"chart-{name}\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n", c.svg, html::escape(title));
            }
            Drawn::Nothing(why) => {
                let _ = writeln!(figs, "<p id=\"chart-{name}\" class=\"no-chart\">{}: nothing to show ({why}).</p>", html::escape(title));
            }
        }
    }
    sections.push(html::Section { title: "Charts".into(), id: "charts".into(), html: figs });
    if let Some((since, table)) = &t.changes {
        let body = if table.is_empty() { "<p>No figure changed.</p>\n".to_string() } else { html::table(table) };
        sections.push(html::Section { title: format!("Changes since {since}"), id: "changes".into(), html: body });
    }
    let mut coverage: String = t.coverage_notes.iter().map(|n| format!("<p>{}</p>\n", html::inline(n))).collect();
    for (title, table) in [("Chains loaded", &t.chains), ("Price coverage", &t.coverage), ("Price coverage by asset", &t.asset_coverage)] {
        let _ = write!(coverage, "<h3>{}</h3>\n{}", html::escape(title), html::table(table));
    }
    for (title, table) in [
        ("Totals by actor", &t.totals),
        ("Totals by actor and chain", &t.by_chain),
        ("Monthly series", &t.monthly),
        ("Where the outflows went", &t.destinations),
        ("Top counterparties", &t.counterparties),
        ("Where the stolen proceeds went (tracing)", &t.trace_wide),
        ("Confidence range", &t.ranges),
        ("Incidents", &t.incidents),
        ("Theft transfers", &t.thefts),
        ("Published estimates", &t.estimates),
    ] {
        if table.is_empty() && std::ptr::eq(table, &t.estimates) {
            continue;
        }
        sections.push(html::Section { title: title.to_string(), id: title.to_lowercase().replace(' ', "-"), html: html::table(table) });
    }
    sections.push(html::Section { title: "Coverage".into(), id: "coverage".into(), html: coverage });
    let mut rec = format!("<p>{}</p>\n", html::inline(&recoveries_note(model)));
    if !t.recoveries.is_empty() {
        rec.push_str(&html::table(&t.recoveries));
    }
    sections.push(html::Section { title: "Recoveries".into(), id: "recoveries".into(), html: rec });
    let items: Vec<String> = model.methodology.iter().cloned().chain(model.queries.iter().map(query_item)).collect();
    sections.push(html::Section { title: "Methodology".into(), id: "methodology".into(), html: html::list(&items) });
    html::page(&format!("Illicit flows, {}", model.year), model.synthetic.as_deref(), headlines, &sections)
}

/// A chart with nothing to show is not drawn: the page says so instead.
fn draw(has_data: bool, why: &'static str, f: impl FnOnce() -> std::result::Result<Chart, String>) -> Result<Drawn> {
    if has_data { f().map(Drawn::Chart).map_err(AssembleError::Chart) } else { Ok(Drawn::Nothing(why)) }
}

/// A chart, or why there is none.
enum Drawn {
    Chart(Chart),
    Nothing(&'static str),
}

type NamedChart = (&'static str, &'static str, Drawn);

/// The actors a chart shows: the configured ones, else those with a value, biggest first, without
/// an actor whose ancestor is also shown (Lazarus Group's figures are inside DPRK's).
fn top_actors(model: &YearModel, opts: &ReportOptions, values: &BTreeMap<&str, i128>, n: usize) -> Vec<String> {
    if !opts.actors.is_empty() {
        return opts.actors.iter().take(n).cloned().collect();
    }
    let mut v: Vec<(&str, i128)> = values.iter().filter(|(_, v)| **v > 0).map(|(a, v)| (*a, *v)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let shown: Vec<&str> = v.iter().map(|(a, _)| *a).collect();
    v.into_iter()
        .map(|(a, _)| a)
        .filter(|a| !model.ancestors.get(*a).is_some_and(|anc| anc.iter().any(|x| shown.contains(&x.as_str()))))
        .take(n)
        .map(str::to_string)
        .collect()
}

fn charts(model: &YearModel, opts: &ReportOptions) -> Result<Vec<NamedChart>> {
    let year = model.year;
    let metric_of = |metric: Metric| -> BTreeMap<&str, i128> {
        model.totals.iter().filter(|t| t.metric == metric).map(|t| (t.actor.as_str(), t.value.micro_usd)).collect()
    };
    let (stolen, inflow) = (metric_of(Metric::Stolen), metric_of(Metric::Inflow));
    let mut actors = top_actors(model, opts, &stolen, 4);
    for a in top_actors(model, opts, &inflow, 6) {
        if actors.len() < 6 && !actors.contains(&a) {
            actors.push(a);
        }
    }
    let mut rows = Vec::new();
    for a in &actors {
        for m in [Metric::Stolen, Metric::Inflow, Metric::Outflow] {
            if let Some(t) = model.totals.iter().find(|t| t.actor == *a && t.metric == m) {
                rows.push((a.clone(), m.as_str().to_string(), t.value.usd()));
            }
        }
    }
    // Every chart says where its numbers come from: ifr, the data's dates, the query.
    let version = model.manifest.get("ifr_version").and_then(|v| v.as_str()).unwrap_or("");
    let spans: Vec<String> =
        model.chains.iter().filter(|c| c.year == year).map(|c| format!("{} {} to {}", c.chain, c.first_day, c.last_day)).collect();
    let data = if spans.is_empty() { "no chain data".to_string() } else { spans.join(", ") };
    let synthetic = if model.synthetic.is_some() { " (synthetic)" } else { "" };
    let source = |query: &str| format!("Source: ifr {version}, {query}; data{synthetic}: {data}");
    let annual = draw(rows.iter().any(|r| r.2 > 0.0), "no actor has a value this year", || {
        charts::annual_totals::chart(year, &rows, &source("queries/actor_year_totals.sql"))
    })?;
    let thieves = top_actors(model, opts, &stolen, 3);
    // Each theft transfer on its day, for the actor of its incident and each of its ancestors.
    let actor_of: BTreeMap<&str, &str> = model.incidents.iter().map(|i| (i.id.as_str(), i.actor.as_str())).collect();
    let series: Vec<(String, Vec<(u32, f64)>)> = thieves
        .iter()
        .map(|a| {
            let days = model
                .thefts
                .iter()
                .filter(|t| actor_of.get(t.incident.as_str()).is_some_and(|x| model.in_family(x, a)))
                .filter_map(|t| {
                    let day = chrono::NaiveDate::parse_from_str(&t.day, "%Y-%m-%d").ok()?;
                    Some((chrono::Datelike::ordinal0(&day), t.micro_usd? as f64 / 1e6))
                })
                .collect();
            (a.clone(), days)
        })
        .collect();
    let monthly = draw(series.iter().any(|(_, d)| d.iter().any(|x| x.1 > 0.0)), "no theft this year", || {
        charts::monthly_stolen::chart(year, &series, &source("queries/theft_transfers.sql"))
    })?;
    let headline = thieves.first().cloned().or_else(|| actors.first().cloned()).unwrap_or_else(|| "-".into());
    let dest_rows: Vec<(String, f64)> =
        model.destinations.iter().filter(|d| d.actor == headline).map(|d| (d.category.to_string(), d.micro_usd as f64 / 1e6)).collect();
    let destinations = draw(dest_rows.iter().any(|r| r.1 > 0.0), "no outflow this year", || {
        charts::destinations::chart(&headline, year, &dest_rows, &source("queries/actor_destinations.sql"))
    })?;
    let inc_rows: Vec<(String, charts::incidents::Value, charts::incidents::Value)> = model
        .incidents
        .iter()
        .map(|i| {
            let onchain = match (i.onchain.transfers, i.onchain.is_unknown()) {
                (0, _) => Err("not found on the loaded chains"),
                (_, true) => Err("no price"),
                _ => Ok(i.onchain.usd()),
            };
            (i.id.clone(), i.reported_micro_usd.map(|r| r as f64 / 1e6).ok_or("not reported"), onchain)
        })
        .collect();
    let incidents = draw(!inc_rows.is_empty(), "no ledger incident this year", || {
        charts::incidents::chart(year, &inc_rows, &source("queries/incident_summary.sql"))
    })?;
    // Tracing: the headline thief's proceeds per destination and method.
    let trace_headline = top_actors(model, opts, &stolen, 1).into_iter().next().unwrap_or_else(|| "-".into());
    let mut trace_rows = Vec::new();
    for dest in ["exchange", "mixer", "bridge", "held"] {
        for m in Method::ALL {
            if let Some(t) = model.trace.iter().find(|t| t.actor == trace_headline && t.method == m && t.destination == dest) {
                trace_rows.push((dest.to_string(), m.to_string(), t.value.usd()));
            }
        }
    }
    let trace = draw(trace_rows.iter().any(|r| r.2 > 0.0), "no incident of this year was traced", || {
        charts::trace_methods::chart(&trace_headline, year, &trace_rows, &source("the tracer (poison, haircut, FIFO)"))
    })?;
    Ok(vec![
        ("annual_totals", "Totals by actor", annual),
        ("monthly_stolen", "Cumulative stolen value", monthly),
        ("destinations", "Where the outflows went", destinations),
        ("incidents", "Reported vs on-chain value per incident", incidents),
        ("trace_methods", "Where the stolen proceeds went, by tracing method", trace),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A year with nothing to chart draws no chart: the page says there is nothing to show, and
    /// no empty SVG or PNG is written.
    #[test]
    fn an_empty_chart_is_never_drawn() {
        let model = YearModel { year: 2021, ..YearModel::default() };
        let charts = charts(&model, &ReportOptions::default()).unwrap();
        assert_eq!(charts.len(), 5);
        assert!(charts.iter().all(|(_, _, c)| matches!(c, Drawn::Nothing(_))));
        let (tables, _) = tables_and_figures(&model, &ReportOptions::default());
        let page = index_html(&model, &headlines(&model, &ReportOptions::default()), &charts, &tables);
        assert_eq!(page.matches("nothing to show").count(), 5);
        assert!(!page.contains("<svg"));
    }
}
