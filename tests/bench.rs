//! The year-scale benchmark's harness, kept from rotting: on 100,000 synthetic transfers, the DuckDB
//! SQL in tests/bench/duckdb/ must give exactly the actor_year_totals and actor_destinations that
//! `ifr run` publishes (tests/bench/compare.py). The timed benchmark itself is `tests/bench/run`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// A Python with the `duckdb` module: $IFR_BENCH_PYTHON, the harness's venv, or python3. None (and a
/// message) when there is none, unless $IFR_REQUIRE_DUCKDB is set (CI installs it): then it fails.
fn python_with_duckdb() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("IFR_BENCH_PYTHON").map(PathBuf::from).into_iter().collect();
    candidates.push(root().join("target").join("bench-venv").join("bin").join("python"));
    candidates.push(PathBuf::from("python3"));
    for c in candidates {
        if Command::new(&c).args(["-c", "import duckdb"]).output().is_ok_and(|o| o.status.success()) {
            return Some(c);
        }
    }
    assert!(
        std::env::var_os("IFR_REQUIRE_DUCKDB").is_none(),
        "IFR_REQUIRE_DUCKDB is set but no Python with the duckdb module was found (.ci/run installs it into target/bench-venv)"
    );
    eprintln!(
        "SKIPPED duckdb_sql_gives_ifrs_totals: no Python with the duckdb module (tests/bench/run or .ci/run installs it into target/bench-venv)"
    );
    None
}

fn run(cmd: &mut Command) -> String {
    let o = cmd.output().expect("start a benchmark step");
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// A synthetic cryo dataset of `transfers` in `<tmp>/syn` (its config returned), after
/// `ifr <command> --config` on it.
fn synth_then(tmp: &Path, transfers: u64, years: (i32, i32), seed: u64, command: &str) -> (PathBuf, String) {
    let syn = tmp.join("syn");
    synth_into(&syn, transfers, years, seed, ifr_pipeline::synth::SynthFormat::Cryo);
    let config = syn.join("ifr.toml").to_str().unwrap().to_string();
    let o = ifr(tmp, &[command, "--config", &config]);
    assert!(o.status.success(), "ifr {command}: {}", stderr(&o));
    (syn, config)
}

fn csv_rows(path: &Path) -> usize {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).lines().count() - 1
}

#[test]
#[cfg_attr(ifr_no_duckdb, ignore = "no Python with the duckdb module (.ci/run installs it into target/bench-venv)")]
fn duckdb_sql_gives_ifrs_totals() {
    let Some(python) = python_with_duckdb() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (syn, config) = synth_then(tmp.path(), 100_000, (2022, 2022), 11, "run");
    let config = config.as_str();

    let att = tmp.path().join("attribution");
    std::fs::create_dir_all(&att).unwrap();
    for (table, order) in [("address_actors", "address, valid_from"), ("actor_ancestors", "actor, ancestor")] {
        let o = ifr(tmp.path(), &["sql", "-f", "csv", "--config", config, &format!("SELECT * FROM {table} ORDER BY {order}")]);
        assert!(o.status.success(), "ifr sql {table}: {}", stderr(&o));
        std::fs::write(att.join(format!("{table}.csv")), &o.stdout).unwrap();
    }
    let compare = root().join("tests").join("bench").join("compare.py");
    let out = tmp.path().join("duckdb-out");
    run(Command::new(&python).arg(&compare).arg("duckdb").arg(&syn).arg(&att).arg(&out));
    // Both tables have rows for the year's actors (DPRK among them), and the check finds no difference.
    assert!(csv_rows(&out.join("actor_year_totals.csv")) >= 10);
    assert!(csv_rows(&out.join("actor_destinations.csv")) >= 3);
    assert!(std::fs::read_to_string(out.join("actor_year_totals.csv")).unwrap().contains("dprk,2022,stolen,"));
    let report = syn.join("report");
    let checked = run(Command::new(&python).arg(&compare).arg("check").arg(&out).arg(&report));
    assert!(checked.contains("DuckDB and ifr agree on every row"), "{checked}");

    // The check is not vacuous: one changed cent in ifr's table is reported as a mismatch.
    let t = report.join("2022").join("tables").join("actor_year_totals.csv");
    let text = std::fs::read_to_string(&t).unwrap();
    let line = text.lines().find(|l| l.starts_with("dprk,2022,stolen,")).expect("a DPRK stolen row").to_string();
    let mut f: Vec<String> = line.split(',').map(str::to_string).collect();
    let cents: f64 = f[3].parse().unwrap();
    f[3] = format!("{:.2}", cents + 0.01);
    std::fs::write(&t, text.replace(&line, &f.join(","))).unwrap();
    let o = Command::new(&python).arg(&compare).arg("check").arg(&out).arg(&report).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("actor_year_totals dprk/2022/stolen"));
}

/// What README.md says of the lake's folders holds for DuckDB: its `read_parquet` with the README's
/// hive options reads every partition with typed `year` and `month` columns, counting the rows ifr
/// (polars) counts, and it prunes: a file that is not Parquet in one month's folder breaks a query
/// of that month and no other.
#[test]
#[cfg_attr(ifr_no_duckdb, ignore = "no Python with the duckdb module (.ci/run installs it into target/bench-venv)")]
fn duckdb_reads_and_prunes_the_lakes_hive_folders() {
    let Some(python) = python_with_duckdb() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (syn, config) = synth_then(tmp.path(), 20_000, (2022, 2023), 5, "ingest");
    let config = config.as_str();
    let lake = syn.join("lake");
    assert!(lake.join("transfers").join("chain=ethereum").join("year=2023").join("month=12").is_dir());

    // DuckDB, as README.md writes it; `mode` "read": the partition columns' types and each
    // partition's rows; "pruned": a count of March 2022, then of April 2022 (or why it failed).
    let duckdb = |mode: &str| {
        let script = r#"
import duckdb, sys
lake, mode = sys.argv[1], sys.argv[2]
t = f"read_parquet('{lake}/transfers/*/*/*/*.parquet', hive_partitioning = true, hive_types = {{'year': INTEGER, 'month': INTEGER}})"
c = duckdb.connect()
if mode == "read":
    for name, kind, *_ in c.sql(f"DESCRIBE SELECT chain, year, month FROM {t}").fetchall():
        print(f"type {name} {kind}")
    for chain, year, month, n in c.sql(f"SELECT chain, year, month, count(*) FROM {t} GROUP BY ALL ORDER BY ALL").fetchall():
        print(f"{chain},{year},{month},{n}")
else:
    for month in (3, 4):
        try:
            print(c.sql(f"SELECT count(*) FROM {t} WHERE year = 2022 AND month = {month}").fetchone()[0])
        except duckdb.Error as e:
            print("error", str(e).splitlines()[0])
"#;
        let o = Command::new(&python).arg("-c").arg(script).arg(&lake).arg(mode).output().unwrap();
        assert!(o.status.success(), "duckdb: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let read = duckdb("read");
    assert!(read.contains("type chain VARCHAR\ntype year INTEGER\ntype month INTEGER\n"), "{read}");
    let duck_rows: Vec<&str> = read.lines().filter(|l| !l.starts_with("type ")).collect();

    let o = ifr(
        tmp.path(),
        &[
            "sql",
            "-f",
            "csv",
            "--config",
            config,
            "SELECT chain, year, month, CAST(COUNT(*) AS BIGINT) AS n FROM transfers GROUP BY chain, year, month ORDER BY chain, year, month",
        ],
    );
    assert!(o.status.success(), "ifr sql: {}", stderr(&o));
    let ifr_csv = stdout(&o);
    let ifr_rows: Vec<&str> = ifr_csv.lines().skip(1).collect();
    assert_eq!(duck_rows.len(), 24, "two years of months:\n{read}");
    assert_eq!(duck_rows, ifr_rows);
    let march: u64 = ifr_rows.iter().find(|r| r.starts_with("ethereum,2022,3,")).unwrap().rsplit(',').next().unwrap().parse().unwrap();
    assert!(march > 0);

    // A file that is not Parquet in April 2022's folder: a query of March never opens it.
    let april = lake.join("transfers").join("chain=ethereum").join("year=2022").join("month=4");
    std::fs::write(april.join("zz-not-parquet.parquet"), b"this is not a Parquet file").unwrap();
    let pruned = duckdb("pruned");
    let mut lines = pruned.lines();
    assert_eq!(lines.next(), Some(march.to_string().as_str()), "{pruned}");
    let second = lines.next().unwrap_or_default();
    assert!(second.starts_with("error ") && second.contains("zz-not-parquet"), "{pruned}");
}
