//! The queries on DataFusion and Apache Ballista (the `ballista` feature) against polars: every
//! query in queries/ gives the same rows on polars, on DataFusion in this process and on a Ballista
//! cluster started in this process, over the sample and over a synthetic year of 1M transfers; the
//! whole report is byte-identical whichever engine computed it; and a real cluster (a scheduler and
//! two executors, separate processes on 127.0.0.1) gives the same report as polars.
//!
//! Equal means: the same set of rows (order-independent; the report orders rows itself), integers
//! and 128-bit decimals exactly, text and dates exactly, floats to 12 significant digits (the
//! engines may sum floats in another order; no float reaches a report figure unrounded).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ifr_pipeline::Settings;
use ifr_pipeline::config::Engine;
use ifr_pipeline::lake::Lake;
use ifr_pipeline::stages::aggregate::{self, QUERIES, Queries, Scan};
use ifr_pipeline::stages::attribute;
use ifr_pipeline::stages::value::{TheftKeys, Valuation};
use ifr_pipeline::synth::SynthFormat;
use polars::prelude::*;

use crate::common::*;

/// A frame as a sorted list of rows, each its cells in column-name order, normalised as above.
fn canonical(name: &str, df: &DataFrame) -> Vec<String> {
    let mut names: Vec<String> = df.get_column_names().iter().map(|c| c.to_string()).collect();
    names.sort();
    let cols: Vec<Vec<String>> = names
        .iter()
        .map(|n| {
            let c = df.column(n).unwrap().as_materialized_series().clone();
            let cell = |c: &Series, cast: &DataType| c.cast(cast).unwrap_or_else(|e| panic!("{name}.{n}: {e}"));
            match c.dtype() {
                DataType::Float32 | DataType::Float64 => {
                    cell(&c, &DataType::Float64).f64().unwrap().iter().map(|v| v.map_or("null".into(), |v| format!("{v:.11e}"))).collect()
                }
                d if d.is_integer() || matches!(d, DataType::Decimal(_, 0)) => {
                    cell(&c, &DataType::Int128).i128().unwrap().iter().map(|v| v.map_or("null".into(), |v| v.to_string())).collect()
                }
                _ => cell(&c, &DataType::String).str().unwrap().iter().map(|v| v.map_or("null".into(), |v| format!("{v:?}"))).collect(),
            }
        })
        .collect();
    let mut rows: Vec<String> =
        (0..df.height()).map(|i| names.iter().zip(&cols).map(|(n, c)| format!("{n}={}", c[i])).collect::<Vec<_>>().join("|")).collect();
    rows.sort();
    rows
}

/// attributed_transfers (one row per transfer) summed per partition, attribution and category: every
/// transfer's value, block and hash still count.
const ATTRIBUTED_SUMMARY: &str = "SELECT chain, year, month, from_actor, to_actor, to_category, implausible,
       CAST(COUNT(*) AS BIGINT) AS transfers, CAST(COUNT(value_usd) AS BIGINT) AS valued,
       SUM(CAST(FLOOR(value_usd * 1000000 + 0.5) AS DECIMAL(38, 0))) AS value_micro_usd,
       SUM(CAST(block_number AS DECIMAL(38, 0))) AS blocks, MIN(tx_hash) AS first_hash, MAX(tx_hash) AS last_hash
FROM attributed_transfers
GROUP BY chain, year, month, from_actor, to_actor, to_category, implausible";

/// Every query's rows on one engine: the results the report reads (registered, or run now, as
/// `aggregate::every_result` gives them on polars), with the scans over the whole lake (on
/// polars, run again over the whole lake: for the report polars runs them file by file, and its
/// stacked rows are the same totals in more rows). attributed_transfers whole when `whole`, else
/// summed (ATTRIBUTED_SUMMARY).
fn results(lake: &Lake, s: &Settings, engine: &Engine, whole: bool) -> BTreeMap<&'static str, Vec<String>> {
    let r = &s.report;
    let all = attribute::build(lake, r.sanctions, 0).unwrap();
    let high = attribute::build(lake, r.sanctions, r.high_confidence).unwrap();
    let valuation = Valuation::build(lake, &r.price_sources, r.max_transfer_usd).unwrap();
    let thefts = TheftKeys::build(lake, r.incident_window_days).unwrap();
    let inputs =
        aggregate::Inputs { attribution: &all, high: &high, valuation: &valuation, thefts: &thefts, stolen_price_day: r.stolen_price_day };
    let mut ctx = aggregate::open(engine, lake, &inputs, &Scan::ALL, &ifr_pipeline::NoProgress, "report").unwrap();
    let ctx: &mut dyn Queries = ctx.as_mut();
    aggregate::flows(ctx).unwrap();
    aggregate::receivers(ctx).unwrap();
    let scans = ["actor_flows", "counterparty_totals", "chain_months", "implausible_transfers"];
    let mut out = BTreeMap::new();
    for (name, sql) in QUERIES {
        let df = if name == "attributed_transfers" {
            ctx.sql(name, if whole { "SELECT * FROM attributed_transfers" } else { ATTRIBUTED_SUMMARY }).unwrap()
        } else if (*engine == Engine::Polars && scans.contains(&name)) || !ctx.has_table(name) {
            ctx.sql(name, sql).unwrap()
        } else {
            ctx.sql(name, &format!("SELECT * FROM {name}")).unwrap()
        };
        out.insert(name, canonical(name, &df));
    }
    out
}

fn assert_same(what: &str, polars: &BTreeMap<&'static str, Vec<String>>, other: &BTreeMap<&'static str, Vec<String>>) {
    assert_eq!(polars.keys().collect::<Vec<_>>(), other.keys().collect::<Vec<_>>(), "{what}: the same queries");
    for (name, rows) in polars {
        let theirs = &other[name];
        if rows != theirs {
            let only_p: Vec<&String> = rows.iter().filter(|r| !theirs.contains(r)).take(3).collect();
            let only_o: Vec<&String> = theirs.iter().filter(|r| !rows.contains(r)).take(3).collect();
            panic!(
                "{what}: {name} differs ({} rows on polars, {} here)\nonly on polars: {only_p:#?}\nonly here: {only_o:#?}",
                rows.len(),
                theirs.len()
            );
        }
    }
}

fn with_engine(s: &Settings, engine: Engine) -> Settings {
    let mut s = s.clone();
    s.report.engine = engine;
    s
}

/// Every file of a report folder but the manifest (which names the folder) with its hash.
fn report_files(dir: &Path) -> Vec<(PathBuf, String)> {
    snapshot(dir)
        .into_iter()
        .map(|(p, h, _)| (p.strip_prefix(dir).unwrap().to_path_buf(), h))
        .filter(|(p, _)| p.file_name().is_none_or(|n| n != "manifest.json"))
        .collect()
}

#[test]
fn every_query_gives_the_same_rows_on_polars_datafusion_and_ballista_over_the_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let s = synth_dataset(tmp.path(), SynthFormat::EthereumEtl);
    let lake = Lake::new(&s.lake_dir);
    let polars = results(&lake, &s, &Engine::Polars, true);
    assert!(polars.values().filter(|rows| !rows.is_empty()).count() >= 19, "a comparison of empty results compares nothing");
    assert_eq!(polars["attributed_transfers"].len(), 40_000);
    assert_same("datafusion", &polars, &results(&lake, &s, &Engine::DataFusion, true));
    assert_same("ballista (standalone)", &polars, &results(&lake, &s, &Engine::Ballista { url: None }, true));
    // The engine's folder in the lake is removed when the run ends.
    assert!(snapshot(&s.lake_dir.join("_engine")).is_empty());
}

#[test]
fn every_query_gives_the_same_rows_on_the_three_engines_over_a_year_of_1m_transfers() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("syn");
    synth_into(&out, 1_000_000, (2024, 2024), 11, SynthFormat::Cryo);
    let s = Settings::load(&out.join("ifr.toml")).unwrap();
    ifr_pipeline::ingest(&s, &ifr_pipeline::NoProgress).unwrap();
    let lake = Lake::new(&s.lake_dir);
    let polars = results(&lake, &s, &Engine::Polars, false);
    assert!(polars["actor_flows"].len() >= 100, "{}", polars["actor_flows"].len());
    assert_same("datafusion", &polars, &results(&lake, &s, &Engine::DataFusion, false));
    assert_same("ballista (standalone)", &polars, &results(&lake, &s, &Engine::Ballista { url: None }, false));
}

#[test]
fn the_report_is_byte_identical_whichever_engine_computed_it() {
    let tmp = tempfile::tempdir().unwrap();
    let s = synth_dataset(tmp.path(), SynthFormat::Cryo);
    let report = |engine: Engine, dir: &str| {
        let out = tmp.path().join(dir);
        ifr_pipeline::report(&with_engine(&s, engine), Some(&out), &[2022, 2023]).unwrap();
        // Only the manifest differs: it names the engine that ran the queries.
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("2023").join("manifest.json")).unwrap()).unwrap();
        (report_files(&out), manifest["engine"].clone())
    };
    let (polars, engine) = report(Engine::Polars, "polars");
    assert!(polars.len() >= 60, "two years of tables, charts and figures: {}", polars.len());
    assert_eq!(engine, serde_json::json!({ "name": "polars", "version": "0.55.2" }));
    let (datafusion, engine) = report(Engine::DataFusion, "datafusion");
    assert_eq!(datafusion, polars);
    assert_eq!(engine, serde_json::json!({ "name": "datafusion", "version": "55.2.0" }));
    let (ballista, engine) = report(Engine::Ballista { url: None }, "ballista");
    assert_eq!(ballista, polars);
    assert_eq!(engine["name"], "ballista");
    assert_eq!(engine["version"], "55.0.0");
    assert_eq!(engine["datafusion_version"], "55.2.0");
    assert_eq!(engine["scheduler"], "standalone (in the ifr process)");
}

/// A process killed when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port free now, whose next port is free too (an executor listens on both).
fn free_ports() -> u16 {
    loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        if port < 65535 && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

#[test]
fn a_cluster_of_a_scheduler_and_two_executors_gives_the_polars_report() {
    let tmp = tempfile::tempdir().unwrap();
    let s = synth_dataset(tmp.path(), SynthFormat::Cryo);
    let config = s.config_path.display().to_string();
    let exe = env!("CARGO_BIN_EXE_ifr");
    let quiet = || std::process::Stdio::null();
    let scheduler_port = free_ports();
    let scheduler = format!("127.0.0.1:{scheduler_port}");
    let _scheduler = Child(
        std::process::Command::new(exe)
            .args(["cluster", "scheduler", "--bind", &scheduler])
            .stdout(quiet())
            .stderr(quiet())
            .spawn()
            .unwrap(),
    );
    let mut executors = Vec::new();
    for i in 0..2 {
        let bind = format!("127.0.0.1:{}", free_ports());
        let work = tmp.path().join(format!("executor-{i}"));
        std::fs::create_dir_all(&work).unwrap();
        executors.push(Child(
            std::process::Command::new(exe)
                .args(["cluster", "executor", "--scheduler", &scheduler, "--bind", &bind, "--concurrent-tasks", "1", "--work-dir"])
                .arg(&work)
                .stdout(quiet())
                .stderr(quiet())
                .spawn()
                .unwrap(),
        ));
    }
    let polars_out = tmp.path().join("polars");
    let o = ifr(tmp.path(), &["report", "-c", &config, "--out", polars_out.to_str().unwrap(), "--year", "2023"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cluster_out = tmp.path().join("cluster");
    let url = format!("df://{scheduler}");
    // The executors register within seconds of starting; the client waits for none.
    let mut tries = 0;
    let o = loop {
        let o = ifr(
            tmp.path(),
            &[
                "report",
                "-c",
                &config,
                "--out",
                cluster_out.to_str().unwrap(),
                "--year",
                "2023",
                "--engine",
                "ballista",
                "--ballista-url",
                &url,
            ],
        );
        tries += 1;
        if o.status.success() || tries == 20 {
            break o;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert!(o.status.success(), "after {tries} tries: {}", stderr(&o));
    assert_eq!(report_files(&cluster_out), report_files(&polars_out));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cluster_out.join("2023").join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["engine"]["scheduler"], url.as_str());
    // Both executors were there to take tasks (the scheduler lists them).
    for e in &mut executors {
        assert!(e.0.try_wait().unwrap().is_none(), "an executor exited");
    }
}

#[test]
fn the_next_engine_run_removes_the_folder_a_killed_run_left_and_no_other() {
    let tmp = tempfile::tempdir().unwrap();
    let s = synth_dataset(tmp.path(), SynthFormat::Cryo);
    let root = s.lake_dir.join("_engine");
    // A run folder as a killed run leaves it (its lock file not held), one a running ifr holds
    // (here this test), one still being made, and a trace's sub-graph folder (no lock).
    let folder = |name: &str, lock: bool| {
        let d = root.join(name);
        std::fs::create_dir_all(d.join("inputs")).unwrap();
        std::fs::write(d.join("inputs").join("report_options.parquet"), b"left over").unwrap();
        lock.then(|| std::fs::File::create(d.join(".ifr-run.lock")).unwrap())
    };
    folder("20261201T000000000Z-4242", true);
    let live = folder("20261201T000000001Z-4343", true).unwrap();
    live.try_lock().unwrap();
    folder(".new-20261201T000000002Z-4444", true);
    folder("trace-20261201T000000003Z-4545", false);
    let out = tmp.path().join("report");
    ifr_pipeline::report(&with_engine(&s, Engine::DataFusion), Some(&out), &[2022, 2023]).unwrap();
    let left: Vec<String> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    let mut left = left;
    left.sort();
    assert_eq!(left, [".new-20261201T000000002Z-4444", "20261201T000000001Z-4343", "trace-20261201T000000003Z-4545"]);
    drop(live);
}

/// The nightly job on an engine: `ifr refresh --engine datafusion` publishes the releases polars
/// publishes, figures, tables and restatements, also when two inputs change at once (each cause's
/// share is then computed over lake snapshots that mix old and new inputs, on the engine too).
#[test]
fn a_refresh_on_datafusion_publishes_the_releases_polars_publishes() {
    let release = |engine: &str| {
        let tmp = tempfile::tempdir().unwrap();
        synth_dataset(tmp.path(), SynthFormat::Cryo);
        let d = tmp.path().join("syn");
        let o = ifr(&d, &["refresh", "--engine", engine]);
        assert!(o.status.success(), "{engine}: {}", stderr(&o));
        let on = format!("scanning the transfers on {engine}");
        assert_eq!(stderr(&o).contains(&on), engine != "polars", "{engine}: {}", stderr(&o));
        // A label on the first fresh address of Ronin's attacker and an ETH price correction.
        let fresh = ifr_pipeline::synth::hex20(&ifr_pipeline::synth::synth_address(5, "fresh-0-0", 0));
        let mut labels = std::fs::read_to_string(d.join("labels.yaml")).unwrap();
        labels.push_str(&format!(
            "- address: '{fresh}'\n  label: a new Lazarus address\n  actor: lazarus_group\n  category: user\n  confidence: web_crawl\n"
        ));
        std::fs::write(d.join("labels.yaml"), labels).unwrap();
        crate::refresh::correct_price(&d.join("prices.csv"), "2022-03-23,ETH", "500");
        let o = ifr(&d, &["refresh", "--engine", engine]);
        assert!(o.status.success(), "{engine}: {}", stderr(&o));
        let current = d.join("releases").join(crate::refresh::current(&d.join("releases")));
        let restated = std::fs::read_to_string(current.join("restatements.csv")).unwrap();
        (crate::refresh::figures_and_tables(&current), restated)
    };
    let (polars, polars_restated) = release("polars");
    let (datafusion, datafusion_restated) = release("datafusion");
    assert!(polars_restated.contains(",labels added or removed") && polars_restated.contains(",price corrections"), "{polars_restated}");
    assert_eq!(datafusion_restated, polars_restated);
    assert_eq!(polars.len(), datafusion.len());
    for (p, d) in polars.iter().zip(&datafusion) {
        assert_eq!(p, d);
    }
}

#[test]
fn engine_settings_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let s = synth_dataset(tmp.path(), SynthFormat::Cryo);
    let config = s.config_path.display().to_string();
    for (args, says) in [
        (vec!["--engine", "polars", "--ballista-url", "df://127.0.0.1:50050"], "the engine is polars"),
        (vec!["--engine", "ballista", "--ballista-url", "http://127.0.0.1:50050"], "expected df://host:port"),
        (vec!["--engine", "ballista", "--ballista-url", "df://127.0.0.1:0"], "port from 1 to 65535"),
    ] {
        let mut a = vec!["report", "-c", &config];
        a.extend(args);
        let o = ifr(tmp.path(), &a);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(stderr(&o).contains(says), "{}", stderr(&o));
    }
    // A scheduler nobody runs: a clear error naming it, exit 1, no report written.
    let port = free_ports();
    let out = tmp.path().join("none");
    let url = format!("df://127.0.0.1:{port}");
    let o = ifr(tmp.path(), &["report", "-c", &config, "--out", out.to_str().unwrap(), "--engine", "ballista", "--ballista-url", &url]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("connecting to the scheduler at {url}")), "{}", stderr(&o));
    assert!(!out.join("2023").exists());
}

#[test]
fn a_trace_over_the_sub_graph_extracted_on_datafusion_and_ballista_equals_the_walk_over_the_whole_lake() {
    crate::trace::the_sub_graph_walk_equals_the_whole_walk(&Engine::DataFusion);
    crate::trace::the_sub_graph_walk_equals_the_whole_walk(&Engine::Ballista { url: None });
}
