//! The `ifr` binary: parse arguments, call the library, print, map errors to exit codes
//! (0 ok, 1 the user's input or config, 2 a bug in ifr, 3 another run holds the folder). A closed
//! stdout (e.g. `| head`) is success.

mod args;
mod output;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

/// mimalloc returns freed memory to the system (glibc's allocator kept an ingest's peak through the
/// report that followed it in `ifr run`), and polars allocates from many threads.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // A usage error is the user's (exit 1, with clap's message); help and version exit 0.
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::from(match e.downcast_ref::<ifr_pipeline::Error>() {
                // Another run holds the folder: for cron, distinct from a problem to fix.
                Some(ifr_pipeline::Error::Busy(_)) => 3,
                Some(pe) if !pe.is_user_error() => 2,
                _ => 1,
            })
        }
    }
}

/// A closed stdout (`ifr sql … | head -1`) anywhere in the error's chain, however it was wrapped
/// (polars' writers keep the io error inside their own).
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || matches!(c.downcast_ref::<polars::error::PolarsError>(), Some(polars::error::PolarsError::IO { error, .. }) if error.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: args::Cli) -> anyhow::Result<()> {
    let log = output::LogMode::detect(cli.quiet);
    match cli.command {
        args::Command::Run { config, report } => {
            let settings = report.engine.apply(config.settings()?)?;
            // The ingest's summary is printed as soon as it is final (Bars::ingest_finished).
            let summary = ifr_pipeline::run(&settings, report.out.as_deref(), &report.years, &output::Bars::new(log))?;
            if log != output::LogMode::Quiet {
                output::print_report(&summary.report)?;
            }
        }
        args::Command::Refresh { config, engine } => {
            let settings = engine.apply(config.settings()?)?;
            let r = ifr_pipeline::refresh(&settings, &output::Bars::new(log))?;
            let what = if r.published { "published" } else { "nothing changed; current is" };
            let years: Vec<String> = r.years.iter().map(|y| y.to_string()).collect();
            if log != output::LogMode::Quiet {
                for f in &r.fetched {
                    writeln!(
                        std::io::stdout().lock(),
                        "{} fetched from {}: {}{} ({} bytes, {} attempt(s))",
                        f.source,
                        f.url,
                        f.outcome,
                        f.file.as_ref().map(|x| format!(", {x}")).unwrap_or_default(),
                        f.bytes,
                        f.attempts
                    )?;
                }
                writeln!(
                    std::io::stdout().lock(),
                    "{what} release {} ({}; {} figure(s) restated) in {}",
                    r.current,
                    years.join(", "),
                    r.restated,
                    settings.refresh.releases.display()
                )?;
            }
        }
        args::Command::Diff { config, a, b } => {
            let settings = config.settings()?;
            let rows = ifr_pipeline::stages::refresh::diff_releases(&settings.refresh.releases, &a, &b)?;
            write!(std::io::stdout().lock(), "{}", ifr_pipeline::stages::refresh::restatements_csv(&rows))?;
        }
        args::Command::Report { config, report } => {
            let settings = report.engine.apply(config.settings()?)?;
            let r = ifr_pipeline::stages::report::run(&settings, report.out.as_deref(), &report.years, &output::Bars::new(log))?;
            if log != output::LogMode::Quiet {
                output::print_report(&r)?;
            }
        }
        args::Command::Trace {
            config,
            incident,
            actor,
            address,
            sanctioned,
            methods,
            max_hops,
            until,
            stop,
            flows,
            format,
            engine,
            ballista_url,
        } => {
            use ifr_pipeline::stages::trace::{self, Method, Seeds, TraceOptions};
            let engine = args::EngineArgs { engine, ballista_url };
            let on_engine = engine.given();
            let settings = engine.apply(config.settings()?)?;
            let seeds = match (incident, actor, address.is_empty()) {
                (Some(i), _, _) => Seeds::Incidents(vec![i]),
                (None, Some(a), _) => Seeds::Actor(a),
                (None, None, false) => Seeds::Addresses(address),
                (None, None, true) if sanctioned => Seeds::Sanctioned,
                (None, None, true) => anyhow::bail!("name what to trace: --incident ID, --actor ID, --address X or --sanctioned"),
            };
            let mut methods: Vec<Method> = methods
                .iter()
                .map(|m| match m {
                    args::MethodArg::Poison => Method::Poison,
                    args::MethodArg::Haircut => Method::Haircut,
                    args::MethodArg::Fifo => Method::Fifo,
                })
                .collect();
            if methods.is_empty() {
                methods = Method::ALL.to_vec();
            }
            let until = until.map(ifr_pipeline::sources::days_since_epoch);
            let opts = TraceOptions { seeds, methods, max_hops, until, stop: stop.clone() };
            let traced = if on_engine {
                let (traced, sub) = trace::run_on_engine(&settings, &opts, &output::Bars::new(log))?;
                if log == output::LogMode::Terminal {
                    eprintln!(
                        "note: walked the sub-graph extracted on {}: {} of {} transfers, {} addresses reached in {} round(s)",
                        settings.report.engine.name(),
                        sub.transfers,
                        sub.lake_transfers,
                        sub.addresses,
                        sub.rounds
                    );
                }
                traced
            } else {
                trace::run_showing(&settings, &opts, &output::Bars::new(log))?
            };
            let mut df = output::trace_summary_frame(&traced.summaries, &stop)?;
            output::print_frame(&mut df, format)?;
            if flows {
                let mut df = output::trace_rows_frame(&traced.rows)?;
                output::print_frame(&mut df, format)?;
            }
            // Cross-chain links the trace stopped at, after the tables, on a terminal (on standard
            // error: the tables stay machine-readable; off a terminal the log lines said it).
            if log == output::LogMode::Terminal {
                for (id, why, _) in &traced.links_not_followed {
                    eprintln!("note: cross-chain link {id} not followed: {why}");
                }
            }
        }
        #[cfg(feature = "ballista")]
        args::Command::Cluster { role } => match role {
            args::ClusterRole::Scheduler { bind } => ifr_pipeline::cluster::scheduler(bind)?,
            args::ClusterRole::Executor { scheduler, bind, concurrent_tasks, work_dir } => {
                ifr_pipeline::cluster::executor(&ifr_pipeline::cluster::ExecutorOptions { scheduler, bind, concurrent_tasks, work_dir })?
            }
        },
        #[cfg(not(feature = "ballista"))]
        args::Command::Cluster { .. } => {
            return Err(ifr_pipeline::Error::Config(
                "`ifr cluster` needs ifr built with the `ballista` feature: cargo build --release --features ballista (Rust 1.94 or newer)"
                    .into(),
            )
            .into());
        }
        args::Command::Ingest { config } => {
            let settings = config.settings()?;
            let progress = output::Bars::new(log);
            let summary = ifr_pipeline::ingest(&settings, &progress)?;
            if log != output::LogMode::Quiet {
                output::print_ingest(&summary)?;
            }
        }
        args::Command::Sql { query, file, format, limit, config } => {
            let query = match (query, file) {
                (Some(q), _) if q == "-" => {
                    let mut q = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut q).context("reading the query from standard input")?;
                    q
                }
                (Some(q), _) => q,
                (None, Some(f)) => std::fs::read_to_string(&f).with_context(|| format!("reading the query from `{}`", f.display()))?,
                (None, None) => anyhow::bail!("give a query, `-` to read it from standard input, or --file F"),
            };
            let settings = config.settings()?;
            let mut df = ifr_pipeline::sql_with_attribution(&settings, &query)?;
            output::print_frame_limited(&mut df, format, limit)?;
        }
        args::Command::Synth { out, transfers, from, to, seed, format, chunk_blocks, bitcoin_txs, bitcoin_gzip, force } => {
            let format = match format {
                args::SynthFormatArg::Cryo => ifr_pipeline::synth::SynthFormat::Cryo,
                args::SynthFormatArg::EthereumEtl => ifr_pipeline::synth::SynthFormat::EthereumEtl,
            };
            let opts = ifr_pipeline::synth::SynthOptions {
                out,
                transfers,
                from,
                to,
                seed,
                format,
                chunk_blocks,
                bitcoin_txs,
                bitcoin_gzip,
                force,
            };
            let s = ifr_pipeline::synth::run(&opts)?;
            println!(
                "wrote {} transfers ({} planted for {} incident(s): {}; {} background) in {} blocks to {}",
                s.transfers,
                s.planted_transfers,
                s.incidents.len(),
                s.incidents.join(", "),
                s.background_transfers,
                s.blocks,
                s.out
            );
            if s.bitcoin_txs > 0 {
                println!(
                    "wrote {} Bitcoin transactions ({} planted, {} cross-chain links from Ethereum) in {} blocks to {}/bitcoin",
                    s.bitcoin_txs, s.bitcoin_planted, s.links, s.bitcoin_blocks, s.out
                );
            }
        }
        args::Command::Tables { config, brief } => {
            let settings = config.settings()?;
            let lake = ifr_pipeline::lake::Lake::new(&settings.lake_dir);
            output::print_tables(&ifr_pipeline::tables(&lake)?, !brief)?;
        }
    }
    Ok(())
}
