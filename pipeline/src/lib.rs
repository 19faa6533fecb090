//! ifr's pipeline: load the data researchers already have into a documented Parquet lake, and query it.
//!
//! The CLI (`ifr`) is a thin layer over these functions; nothing here sees clap types.

pub mod address;
pub mod amount;
pub mod category;
#[cfg(feature = "ballista")]
pub mod cluster;
pub mod config;
pub mod counts;
pub mod digest;
pub mod error;
pub mod failpoint;
pub mod fetch;
pub mod lake;
pub mod owned;
pub mod paths;
pub mod schema;
pub mod sources;
pub mod sql;
pub mod stages;
pub mod synth;
pub mod table;

use polars::prelude::*;
use polars::sql::SQLContext;

pub use config::Settings;
pub use error::{Error, Result};
pub use stages::ingest::{IngestSummary, NoProgress, Progress, SourceSummary};

/// Load every configured source into the lake (see `stages::ingest`).
pub fn ingest(settings: &Settings, progress: &dyn Progress) -> Result<IngestSummary> {
    stages::ingest::run(settings, progress)
}

/// What `ifr run` did: the ingest, then the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunSummary {
    pub ingest: IngestSummary,
    pub report: stages::report::ReportSummary,
}

/// The whole job (`ifr run`): check the report folder before the lake changes (a refused folder
/// costs nothing), ingest what changed, then attribute, value, aggregate, trace and publish the
/// report for `years` (empty: the config's, else every year with data) into `out` (else the
/// config's folder).
pub fn run(settings: &Settings, out: Option<&std::path::Path>, years: &[i32], progress: &dyn Progress) -> Result<RunSummary> {
    stages::report::check_folder(settings, out.unwrap_or(&settings.report.out))?;
    let ingest = stages::ingest::run(settings, progress)?;
    progress.ingest_finished(&ingest);
    let report = stages::report::run(settings, out, years, progress)?;
    Ok(RunSummary { ingest, report })
}

/// The command for cron (`ifr refresh`): ingest, and publish a dated release when anything changed
/// (see `stages::refresh`).
pub fn refresh(settings: &Settings, progress: &dyn Progress) -> Result<stages::refresh::RefreshSummary> {
    stages::refresh::run(settings, progress)
}

/// Render the annual report from the lake (see `stages::report`).
pub fn report(settings: &Settings, out: Option<&std::path::Path>, years: &[i32]) -> Result<stages::report::ReportSummary> {
    stages::report::run(settings, out, years, &NoProgress)
}

/// Run SQL (polars' dialect) over the lake tables, each registered under its name.
pub fn sql(lake: &lake::Lake, query: &str) -> Result<DataFrame> {
    sql_in(lake_context(lake)?, query)
}

/// [`sql`], plus the report's resolved attribution as two more tables when the query names them:
/// `address_actors` (address, valid_from, valid_to, actor, category, confidence: which actor each
/// labelled or sanctioned address belongs to on each day, under the config's sanctions policy) and
/// `actor_ancestors` (actor, ancestor: every actor is its own ancestor).
pub fn sql_with_attribution(settings: &Settings, query: &str) -> Result<DataFrame> {
    let lake = lake::Lake::new(&settings.lake_dir);
    let ctx = lake_context(&lake)?;
    if query.contains("address_actors") || query.contains("actor_ancestors") {
        let a = stages::attribute::build(&lake, settings.report.sanctions, 0)?;
        ctx.register("address_actors", a.address_actors.lazy());
        ctx.register("actor_ancestors", a.actor_ancestors.lazy());
    }
    sql_in(ctx, query)
}

fn lake_context(lake: &lake::Lake) -> Result<SQLContext> {
    let ctx = SQLContext::new();
    for t in schema::all() {
        ctx.register(&t.table, lake.scan(&t.table)?);
    }
    Ok(ctx)
}

fn sql_in(mut ctx: SQLContext, query: &str) -> Result<DataFrame> {
    let lf = ctx.execute(query).map_err(|e| Error::Query(e.to_string()))?;
    lf.collect().map_err(|e| Error::Query(e.to_string()))
}

/// A lake table as `ifr tables` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableInfo {
    pub name: String,
    pub description: String,
    pub rows: u64,
    pub files: usize,
    pub partitioned_by: Vec<String>,
    pub columns: Vec<(String, String, String)>,
}

/// Every lake table with its row count and documented columns.
pub fn tables(lake: &lake::Lake) -> Result<Vec<TableInfo>> {
    let mut out = Vec::new();
    for t in schema::all() {
        out.push(TableInfo {
            name: t.table.clone(),
            description: t.description.clone(),
            rows: lake.row_count(&t.table)?,
            files: lake.table_files(&t.table)?.len(),
            partitioned_by: t.partitioned_by.clone(),
            columns: t.columns.iter().map(|c| (c.name.clone(), format!("{:?}", c.ty).to_lowercase(), c.meaning.clone())).collect(),
        });
    }
    Ok(out)
}
