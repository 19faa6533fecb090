//! Command-line arguments. Validated into `ifr_pipeline::Settings` before the library is called.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "ifr",
    version,
    about = "Illicit-flow reports on crypto: load chain exports, sanctions, labels, incidents and prices into a documented Parquet lake, and query it"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print only errors (no progress, no summaries, no log lines). Off a terminal, progress is one
    /// JSON object per line on stderr (time, level, stage, source, counts, seconds).
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
}

#[derive(Args)]
pub struct ConfigArg {
    /// The configuration file (paths in it are relative to it).
    #[arg(long, short = 'c', default_value = "ifr.toml", global = true)]
    pub config: PathBuf,
}

impl ConfigArg {
    pub fn settings(&self) -> anyhow::Result<ifr_pipeline::Settings> {
        if !self.config.is_file() {
            anyhow::bail!("no config file `{}` (ifr looks for ./ifr.toml unless --config names one; see README.md)", self.config.display());
        }
        ifr_pipeline::Settings::load(&self.config).with_context(|| format!("loading `{}`", self.config.display()))
    }
}

#[derive(Args)]
pub struct ReportArgs {
    /// Years to report (repeatable). Default: [report] years, else every year in the data.
    #[arg(long = "year")]
    pub years: Vec<i32>,
    /// Report folder. Default: [report] out, else ./report beside the config.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Args)]
pub struct EngineArgs {
    /// Where the queries run: polars (in this process), datafusion (in this process) or ballista
    /// (the cluster at --ballista-url, else one started in this process). Default: [report]
    /// engine, else polars. datafusion and ballista need ifr built with `--features ballista`.
    #[arg(long, value_enum)]
    pub engine: Option<EngineArg>,
    /// The Ballista scheduler, df://host:port (with --engine ballista). Default: [report] ballista-url.
    #[arg(long)]
    pub ballista_url: Option<String>,
}

impl EngineArgs {
    /// Whether the command line names an engine (or a scheduler).
    pub fn given(&self) -> bool {
        self.engine.is_some() || self.ballista_url.is_some()
    }

    /// The settings with the engine the command line names, if it names one.
    pub fn apply(&self, mut settings: ifr_pipeline::Settings) -> anyhow::Result<ifr_pipeline::Settings> {
        use ifr_pipeline::config::Engine;
        if !self.given() {
            return Ok(settings);
        }
        let name = self.engine.map(|e| e.name()).unwrap_or(settings.report.engine.name());
        let configured = match &settings.report.engine {
            Engine::Ballista { url } if name == "ballista" => url.clone(),
            _ => None,
        };
        let url = self.ballista_url.clone().or(configured);
        settings.report.engine =
            Engine::parse(Some(name), url.as_deref()).map_err(|m| ifr_pipeline::Error::Config(format!("--engine: {m}")))?;
        Ok(settings)
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum EngineArg {
    Polars,
    Datafusion,
    Ballista,
}

impl EngineArg {
    fn name(self) -> &'static str {
        match self {
            EngineArg::Polars => "polars",
            EngineArg::Datafusion => "datafusion",
            EngineArg::Ballista => "ballista",
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum MethodArg {
    Poison,
    Haircut,
    Fifo,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SynthFormatArg {
    Cryo,
    EthereumEtl,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

#[derive(Subcommand)]
pub enum Command {
    /// The whole job: ingest what changed, then attribute, value, aggregate and publish the report.
    Run {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        report: ReportArgs,
    },
    /// For cron: ingest what changed and, when anything did, publish a dated release and switch
    /// `current` to it (exit 0 published or nothing to do, 1 input or config, 2 bug, 3 another
    /// refresh holds the lock).
    Refresh {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        engine: EngineArgs,
    },
    /// The figures that differ between two releases (ids under [refresh] releases, or `current`), as CSV.
    Diff {
        #[command(flatten)]
        config: ConfigArg,
        /// The older release.
        a: String,
        /// The newer release.
        b: String,
    },
    /// Re-render the report from the lake, without ingesting.
    Report {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Trace stolen or sanctioned funds to where they are cashed out (exchanges, mixers, bridges).
    Trace {
        #[command(flatten)]
        config: ConfigArg,
        /// Trace from a ledger incident's theft transfers.
        #[arg(long, conflicts_with_all = ["actor", "address"])]
        incident: Option<String>,
        /// Trace everything an actor's addresses receive from outside the actor.
        #[arg(long, conflicts_with = "address")]
        actor: Option<String>,
        /// Trace everything these addresses receive (repeatable).
        #[arg(long)]
        address: Vec<String>,
        /// Trace everything sanctioned addresses receive from their listing date on.
        #[arg(long, conflicts_with_all = ["incident", "actor", "address"])]
        sanctioned: bool,
        /// poison, haircut or fifo (repeatable). Default: all three, side by side.
        #[arg(long = "method", value_enum)]
        methods: Vec<MethodArg>,
        /// Stop following taint this many hops from the seed.
        #[arg(long, default_value_t = ifr_pipeline::stages::trace::DEFAULT_MAX_HOPS)]
        max_hops: u32,
        /// Last UTC day to process (YYYY-MM-DD). Default: all data.
        #[arg(long)]
        until: Option<chrono::NaiveDate>,
        /// Receiver categories where tracing stops (comma-separated).
        #[arg(long, default_value = ifr_pipeline::stages::trace::DEFAULT_STOP_ARG, value_delimiter = ',')]
        stop: Vec<String>,
        /// Also list every destination (address, asset, amount, hops, arrival dates).
        #[arg(long)]
        flows: bool,
        #[arg(long, short = 'f', value_enum, default_value = "table")]
        format: OutputFormat,
        /// Extract the transfers the trace can touch on this engine first, hop by hop from the
        /// seeds, and walk only them: the same output. Without it the walk reads the whole lake
        /// (whatever [report] engine says). datafusion and ballista need `--features ballista`.
        #[arg(long, value_enum)]
        engine: Option<EngineArg>,
        /// The Ballista scheduler, df://host:port (with --engine ballista). Default: [report] ballista-url.
        #[arg(long)]
        ballista_url: Option<String>,
    },
    /// Run an Apache Ballista scheduler or executor for `--engine ballista` (needs ifr built with
    /// `--features ballista`); it runs until stopped.
    Cluster {
        #[command(subcommand)]
        role: ClusterRole,
    },
    /// Load every configured source into the lake; unchanged sources are skipped.
    Ingest {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Run SQL over the lake tables (blocks, transactions, transfers, utxo_outputs, utxo_inputs,
    /// sanctions, labels, actors, incidents, recoveries, crosschain_links, prices, assets,
    /// quarantine) and the resolved attribution (address_actors, actor_ancestors).
    Sql {
        /// The query, e.g. "SELECT currency, count(*) AS n FROM sanctions GROUP BY currency"; `-`
        /// reads it from standard input.
        #[arg(required_unless_present = "file", conflicts_with = "file")]
        query: Option<String>,
        /// Read the query from this file (e.g. one of queries/).
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long, short = 'f', value_enum, default_value = "table")]
        format: OutputFormat,
        /// Rows shown by the table format (0: all); csv and json always write every row.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Write a synthetic chain export with the reference ledger's incidents played out and
    /// laundered, plus labels, prices, sanctions, ledger, an ifr.toml and the expected answers (truth/).
    Synth {
        /// Output folder (must be empty unless --force).
        #[arg(long)]
        out: PathBuf,
        /// Number of transfers to write (planted incident flows plus background).
        #[arg(long, default_value_t = 300_000)]
        transfers: u64,
        /// First UTC day (YYYY-MM-DD).
        #[arg(long, default_value = "2021-01-01")]
        from: chrono::NaiveDate,
        /// Last UTC day (YYYY-MM-DD).
        #[arg(long, default_value = "2023-12-31")]
        to: chrono::NaiveDate,
        /// Random seed: the same seed and arguments give byte-identical files.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_enum, default_value = "cryo")]
        format: SynthFormatArg,
        /// Blocks per chain export file, like cryo's --chunk-size (default: about 100,000
        /// transfers per file). 7200 is about one day of 12-second blocks.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
        chunk_blocks: Option<u64>,
        /// Also write a Bitcoin export (bitcoin-etl JSON lines) of this many background
        /// transactions, with the ledger's Bitcoin incidents and bridged Ethereum proceeds played
        /// out there (0: Ethereum only).
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1_000_000_000))]
        bitcoin_txs: u64,
        /// Write the Bitcoin export gzip-compressed (`.json.gz`, the fastest level), as bitcoin-etl
        /// exports are often kept (the synthetic export is 4.6 times smaller), read the same way.
        #[arg(long)]
        bitcoin_gzip: bool,
        /// Replace the contents of a non-empty --out folder.
        #[arg(long)]
        force: bool,
    },
    /// List the lake tables with their row counts, files, partitioning and documented columns.
    Tables {
        #[command(flatten)]
        config: ConfigArg,
        /// One line per table, without the columns.
        #[arg(long)]
        brief: bool,
    },
}

#[derive(Subcommand)]
pub enum ClusterRole {
    /// The scheduler: clients (`ifr report --engine ballista --ballista-url df://HOST:PORT`) and
    /// executors connect to it.
    Scheduler {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: std::net::SocketAddr,
    },
    /// An executor: registers with the scheduler and runs its tasks. It must read the lake at the
    /// path the client uses (a shared file system).
    Executor {
        /// The scheduler's address.
        #[arg(long, default_value = "127.0.0.1:50050")]
        scheduler: std::net::SocketAddr,
        /// Address for the shuffle service (Arrow Flight); the executor's gRPC port is the next one.
        #[arg(long, default_value = "127.0.0.1:50051")]
        bind: std::net::SocketAddr,
        /// Tasks run at once. Default: the machine's cores.
        #[arg(long)]
        concurrent_tasks: Option<usize>,
        /// Folder for shuffle files. Default: a temporary folder.
        #[arg(long)]
        work_dir: Option<PathBuf>,
    },
}
