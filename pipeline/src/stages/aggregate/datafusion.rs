//! The queries on DataFusion, in this process or on an Apache Ballista cluster (the `ballista`
//! feature): the same files of queries/, over the same lake files, giving the report the same
//! typed tables as polars.
//!
//! What the engine reads is a folder ifr prepares for the run, `<lake>/_engine/<run>/`, which the
//! executors must be able to read at the same path (a shared file system; see README.md):
//! - `lake/<table>/…`: a link to every file `_ingest/state.json` lists for the tables the queries
//!   read, under its hive name (`transfers/chain=…/year=…/month=…/<file>`), registered as
//!   external Parquet tables with typed partition columns (chain Utf8, year and month Int32). The
//!   lake's own folders are not listed: a file the state does not list (a run's new file before
//!   its commit, a superseded one a reader still holds) is never read.
//! - `inputs/<name>.parquet`: the tables ifr builds itself (resolved attribution intervals, price
//!   series and days, theft keys, report options), and `results/`: the results later queries read.
//!
//! The five scans (actor_flows, counterparty_totals, chain_months, implausible_transfers and the
//! theft candidates) run once over the whole lake, not file by file as on polars (see
//! queries/README.md: both give the same totals; the scans' own rows differ only where a partition
//! has several files, which polars returns as several rows the later queries sum).
//! The folder is a [`RunDir`]: removed when the run ends, and one a killed run left is removed by
//! the next run that makes one.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::TableProvider;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::error::DataFusionError;
use datafusion::execution::context::SessionContext;
use datafusion::prelude::{ParquetReadOptions, SessionConfig};
use polars::prelude::{DataFrame, ParquetReader, SerReader};

use super::{Inputs, Queries, Scan, query};
use crate::config::Engine;
use crate::error::{Error, Result};
use crate::lake::{Lake, RunDir};
use crate::stages::ingest::Progress;

/// A DataFusion or Ballista session with the lake, the inputs and the scans registered.
pub struct DataFusion {
    engine: &'static str,
    /// Runs the session's futures (and, standalone, the in-process scheduler and executor).
    rt: tokio::runtime::Runtime,
    ctx: SessionContext,
    dir: RunDir,
    /// Frames written so far (each under a new name: a running query may still read the last).
    written: usize,
}

impl DataFusion {
    fn err(&self, what: &str) -> impl Fn(DataFusionError) -> Error + '_ {
        let what = what.to_string();
        move |e| Error::Engine { engine: self.engine.to_string(), message: format!("{what}: {e}") }
    }

    /// Register a Parquet file or folder as `name` (replacing a table of that name).
    fn register_parquet(&self, name: &str, path: &Path) -> Result<()> {
        let _ = self.ctx.deregister_table(name);
        let url = url_of(path)?;
        self.rt
            .block_on(self.ctx.register_parquet(name, &url, ParquetReadOptions::default()))
            .map_err(self.err(&format!("registering `{}` as {name}", path.display())))
    }

    /// Register the query `sql` as a view `name` (inlined into the queries that read it).
    fn register_view(&self, name: &str, sql: &str) -> Result<()> {
        let _ = self.ctx.deregister_table(name);
        let df = self.rt.block_on(self.ctx.sql(sql)).map_err(self.err(&format!("planning {name}")))?;
        self.ctx.register_table(name, df.into_view()).map_err(self.err(&format!("registering {name}")))?;
        Ok(())
    }

    /// A lake table: the state's files linked under `lake/<table>/`, as an external Parquet table
    /// whose partition columns (chain tables) come from the hive folders.
    fn lake_table(&self, lake: &Lake, table: &str) -> Result<Arc<dyn TableProvider>> {
        let doc = crate::schema::table(table);
        let root = self.dir.path().join("lake").join(table);
        std::fs::create_dir_all(&root).map_err(|e| Error::io("creating", &root, e))?;
        let files = lake.table_files_named(table)?;
        for (name, file) in &files {
            let rel = crate::lake::hive_name(name).unwrap_or_else(|| name.clone());
            let link = self.dir.path().join("lake").join(&rel);
            if let Some(d) = link.parent() {
                std::fs::create_dir_all(d).map_err(|e| Error::io("creating", d, e))?;
            }
            if std::fs::hard_link(file, &link).is_err() {
                std::fs::copy(file, &link).map_err(|e| Error::io("copying into the engine's folder", file, e))?;
            }
        }
        // The documented schema as polars writes it (the lake's files are written so), read back
        // by DataFusion; the partition columns come from the folders, not the files.
        let empty = self.dir.path().join("schemas").join(format!("{table}.parquet"));
        crate::table::write_scratch(&mut crate::table::empty(doc)?, &empty)?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let state = self.ctx.state();
        let written = self
            .rt
            .block_on(options.infer_schema(&state, &url_parse(&empty)?))
            .map_err(self.err(&format!("reading the schema of {table}")))?;
        let partitions: Vec<(String, DataType)> =
            doc.partitioned_by.iter().map(|c| (c.clone(), if c == "chain" { DataType::Utf8 } else { DataType::Int32 })).collect();
        let fields: Vec<Arc<Field>> = written.fields().iter().filter(|f| !doc.partitioned_by.contains(f.name())).cloned().collect();
        let file_schema: SchemaRef = Arc::new(Schema::new(fields));
        let options = options.with_table_partition_cols(partitions);
        let config = ListingTableConfig::new(url_parse(&root)?).with_listing_options(options).with_schema(file_schema);
        let provider = ListingTable::try_new(config).map_err(self.err(&format!("registering {table}")))?;
        Ok(Arc::new(provider))
    }

    fn register_table(&self, name: &str, provider: Arc<dyn TableProvider>) -> Result<()> {
        let _ = self.ctx.deregister_table(name);
        self.ctx.register_table(name, provider).map_err(self.err(&format!("registering {name}")))?;
        Ok(())
    }
}

impl Queries for DataFusion {
    fn sql(&mut self, what: &str, sql: &str) -> Result<DataFrame> {
        let result = self.rt.block_on(async {
            let df = self.ctx.sql(sql).await?;
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            let batches = df.collect().await?;
            Ok::<_, DataFusionError>((schema, batches))
        });
        let (schema, batches) = result.map_err(self.err(&format!("query {what}")))?;
        to_polars(schema, &batches)
            .map_err(|e| Error::Engine { engine: self.engine.into(), message: format!("query {what}: reading its rows: {e}") })
    }

    fn register(&mut self, name: &str, mut df: DataFrame) -> Result<()> {
        self.written += 1;
        let path = self.dir.path().join("results").join(format!("{name}.{}.parquet", self.written));
        crate::table::write_scratch(&mut df, &path)?;
        self.register_parquet(name, &path)
    }

    fn has_table(&self, name: &str) -> bool {
        self.ctx.table_exist(name).unwrap_or(false)
    }
}

/// Arrow record batches as a polars frame, through Parquet in memory (exact for every type the
/// queries return: 128-bit decimals, 64-bit integers, floats, text, dates).
fn to_polars(schema: SchemaRef, batches: &[RecordBatch]) -> std::result::Result<DataFrame, String> {
    let mut buf = Vec::new();
    let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(&mut buf, schema, None).map_err(|e| e.to_string())?;
    for b in batches {
        w.write(b).map_err(|e| e.to_string())?;
    }
    w.close().map_err(|e| e.to_string())?;
    ParquetReader::new(std::io::Cursor::new(buf)).finish().map_err(|e| e.to_string())
}

fn url_of(path: &Path) -> Result<String> {
    let abs = crate::paths::resolve(path)?;
    let mut s =
        abs.to_str().ok_or_else(|| Error::Config(format!("`{}` is not UTF-8: the engine cannot read it", abs.display())))?.to_string();
    if path.is_dir() && !s.ends_with('/') {
        s.push('/');
    }
    Ok(s)
}

fn url_parse(path: &Path) -> Result<ListingTableUrl> {
    let s = url_of(path)?;
    ListingTableUrl::parse(&s).map_err(|e| Error::Engine { engine: "datafusion".into(), message: format!("the path `{s}`: {e}") })
}

/// The session: DataFusion in this process, or a Ballista cluster (the one at the URL, or one
/// started in this process).
async fn session(engine: &Engine) -> std::result::Result<SessionContext, DataFusionError> {
    use ballista::prelude::{SessionConfigExt, SessionContextExt};
    let tune = |mut config: SessionConfig| {
        // Text as Utf8 (not views): the same Arrow types whatever reads the results back.
        config.options_mut().execution.parquet.schema_force_view_types = false;
        config
    };
    Ok(match engine {
        Engine::Ballista { url } => {
            let mut config = tune(SessionConfig::new_with_ballista());
            // Ballista 55's adaptive planner (on by default) never finishes a UNION ALL one of whose
            // branches is a join with an empty table (queries/theft_transfers.sql when the ledger
            // has no tx hashes in the lake's years): its static planner is used instead. The
            // conformance tests run that case (tests/engines.rs, the year of 1M transfers).
            config.options_mut().set("ballista.planner.adaptive.enabled", "false")?;
            let state = datafusion::execution::SessionStateBuilder::new().with_config(config).with_default_features().build();
            match url {
                Some(u) => SessionContext::remote_with_state(u, state).await?,
                None => SessionContext::standalone_with_state(state).await?,
            }
        }
        _ => SessionContext::new_with_config(tune(SessionConfig::new())),
    })
}

/// Whether the scheduler at `df://host:port` accepts a connection (the session itself connects only
/// at the first query).
fn reachable(url: &str) -> std::result::Result<(), String> {
    use std::net::ToSocketAddrs;
    let hostport = url.strip_prefix("df://").unwrap_or(url);
    let addrs: Vec<std::net::SocketAddr> = hostport.to_socket_addrs().map_err(|e| e.to_string())?.collect();
    let mut last = "no address".to_string();
    for a in addrs {
        match std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_secs(10)) {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// A session with the lake's tables, the inputs and the scans registered, as [`super::context`]
/// registers them on polars.
pub fn context(
    engine: &Engine,
    lake: &Lake,
    inputs: &Inputs<'_>,
    scans: &[Scan],
    progress: &dyn Progress,
    stage: &'static str,
) -> Result<DataFusion> {
    let name = engine.name();
    let engine_root = lake.root.join("_engine");
    progress.step(
        stage,
        &format!(
            "scanning the transfers on {name}, the whole lake at once (its files linked and the inputs written under `{}`)",
            engine_root.display()
        ),
    );
    if let Engine::Ballista { url: Some(u) } = engine {
        reachable(u).map_err(|e| Error::Engine {
            engine: name.into(),
            message: format!("connecting to the scheduler at {u}: {e} (is it running?)"),
        })?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Engine { engine: name.into(), message: format!("starting its runtime: {e}") })?;
    let ctx = rt.block_on(session(engine)).map_err(|e| {
        let at = match engine {
            Engine::Ballista { url: Some(u) } => format!("connecting to the scheduler at {u} (is it running?)"),
            Engine::Ballista { url: None } => "starting a standalone cluster in this process".to_string(),
            _ => "starting".to_string(),
        };
        Error::Engine { engine: name.into(), message: format!("{at}: {e}") }
    })?;
    let mut q = DataFusion { engine: name, rt, ctx, dir: RunDir::create(&engine_root)?, written: 0 };

    let transfers = q.lake_table(lake, "transfers")?;
    q.register_table("transfers", transfers.clone())?;
    for t in ["incidents", "recoveries", "labels"] {
        let provider = q.lake_table(lake, t)?;
        q.register_table(t, provider)?;
    }
    let options = polars::prelude::DataFrame::new(
        1,
        vec![polars::prelude::Column::new("stolen_price_day".into(), [inputs.stolen_price_day.as_str()])],
    )
    .map_err(|e| Error::polars("report_options", e))?;
    for (n, df) in [
        ("asset_series", &inputs.valuation.asset_series),
        ("price_days", &inputs.valuation.price_days),
        ("address_actors", &inputs.attribution.address_actors),
        ("address_actors_high", &inputs.high.address_actors),
        ("actor_ancestors", &inputs.attribution.actor_ancestors),
        ("report_options", &options),
        ("incident_tx", &inputs.thefts.tx),
        ("incident_parties", &inputs.thefts.parties),
    ] {
        let path = q.dir.path().join("inputs").join(format!("{n}.parquet"));
        crate::table::write_scratch(&mut df.clone(), &path)?;
        q.register_parquet(n, &path)?;
    }

    // The theft candidates: attributed_transfers over the transfers the theft keys select.
    if scans.contains(&Scan::TheftCandidates) {
        let filter = inputs.thefts.candidate_filter()?;
        q.register_table("lake_transfers", transfers.clone())?;
        q.register_view("transfers", &format!("SELECT * FROM lake_transfers WHERE {filter}"))?;
        q.register_view("attributed_transfers", query("attributed_transfers"))?;
        let candidates = q.sql(Scan::TheftCandidates.name(), "SELECT * FROM attributed_transfers")?;
        q.register(Scan::TheftCandidates.name(), candidates)?;
        let _ = q.ctx.deregister_table("lake_transfers");
        q.register_table("transfers", transfers)?;
    }
    q.register_view("attributed_transfers", query("attributed_transfers"))?;
    for &s in scans.iter().filter(|s| **s != Scan::TheftCandidates) {
        let df = q.sql(s.name(), query(s.name()))?;
        q.register(s.name(), df)?;
    }
    if scans.contains(&Scan::TheftCandidates) {
        let thefts = q.sql("theft_transfers", query("theft_transfers"))?;
        q.register("theft_transfers", thefts)?;
    }
    Ok(q)
}
