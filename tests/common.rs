//! Helpers: fixture paths, the real shared data (skipped with a message when absent), running the binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use ifr_pipeline::Settings;
use polars::prelude::*;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures() -> PathBuf {
    root().join("tests").join("fixtures")
}

/// `../shared/data` beside the project, or None (and a message) when it is absent.
pub fn shared_data(test: &str) -> Option<PathBuf> {
    let p = root().join("..").join("shared").join("data");
    if p.is_dir() {
        Some(p.canonicalize().expect("canonical shared path"))
    } else {
        eprintln!("SKIPPED {test}: ../shared/data is absent (real public data is only beside the project in CI and dev)");
        None
    }
}

/// Write an ifr.toml into `dir` and load it.
pub fn settings(dir: &Path, toml: &str) -> Settings {
    let p = dir.join("ifr.toml");
    std::fs::write(&p, toml).expect("write config");
    Settings::load(&p).expect("valid test config")
}

pub fn ifr(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ifr")).args(args).current_dir(dir).output().expect("run ifr")
}

pub fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Read a whole lake table.
pub fn table(s: &Settings, name: &str) -> DataFrame {
    ifr_pipeline::lake::Lake::new(&s.lake_dir).scan(name).unwrap().collect().unwrap()
}

/// Each row as its values joined by `|` (strings quoted, NULL as `null`).
pub fn rows(df: &DataFrame) -> Vec<String> {
    (0..df.height()).map(|i| df.get_row(i).unwrap().0.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("|")).collect()
}

/// A string column as a sorted vector.
pub fn strings(df: &DataFrame, col: &str) -> Vec<String> {
    let mut v: Vec<String> = df.column(col).unwrap().str().unwrap().iter().map(|x| x.unwrap_or("<null>").to_string()).collect();
    v.sort();
    v
}

/// Every file below `dir` with a hash of its bytes and its modification time (run reports and the
/// writers' lock files, which name their current holder, excluded).
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, String, std::time::SystemTime)> {
    fn walk(d: &Path, out: &mut Vec<(PathBuf, String, std::time::SystemTime)>) {
        for e in std::fs::read_dir(d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if p.is_dir() {
                if p.file_name().unwrap() != "runs" {
                    walk(&p, out);
                }
            } else if p.file_name().unwrap() != "lock" && p.file_name().unwrap() != ".ifr-lock" {
                let digest = ifr_pipeline::lake::hash_file(&p).unwrap().sha256;
                out.push((p.clone(), digest, e.metadata().unwrap().modified().unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Compare two golden text files; with IFR_UPDATE_GOLDEN=1 rewrite the expected file (never in CI:
/// there the switch is an error, so it cannot turn a check into an update).
pub fn golden(name: &str, actual: &str) {
    let p = root().join("tests").join("golden").join(name);
    if std::env::var_os("IFR_UPDATE_GOLDEN").is_some() {
        assert!(std::env::var_os("CI").is_none(), "IFR_UPDATE_GOLDEN is set in CI: goldens are checked there, never rewritten");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, actual).unwrap();
        return;
    }
    let expected =
        std::fs::read_to_string(&p).unwrap_or_else(|_| panic!("missing golden file {} (run with IFR_UPDATE_GOLDEN=1)", p.display()));
    assert_eq!(actual, expected, "golden {name} differs (IFR_UPDATE_GOLDEN=1 rewrites it after review)");
}

/// Generate a synthetic dataset of `transfers` transfers from January of `first_year` to December
/// of `last_year` into `out` (not ingested).
pub fn synth_into(out: &Path, transfers: u64, (first_year, last_year): (i32, i32), seed: u64, format: ifr_pipeline::synth::SynthFormat) {
    ifr_pipeline::synth::run(&ifr_pipeline::synth::SynthOptions {
        out: out.to_path_buf(),
        transfers,
        from: chrono::NaiveDate::from_ymd_opt(first_year, 1, 1).unwrap(),
        to: chrono::NaiveDate::from_ymd_opt(last_year, 12, 31).unwrap(),
        seed,
        format,
        chunk_blocks: None,
        bitcoin_txs: 0,
        bitcoin_gzip: false,
        force: false,
    })
    .unwrap();
}

/// A synthetic 2022-2023 dataset of 40,000 transfers (seed 5), generated into `dir/syn` and
/// ingested; returns its settings.
pub fn synth_dataset(dir: &Path, format: ifr_pipeline::synth::SynthFormat) -> Settings {
    let out = dir.join("syn");
    synth_into(&out, 40_000, (2022, 2023), 5, format);
    let s = Settings::load(&out.join("ifr.toml")).unwrap();
    ifr_pipeline::ingest(&s, &ifr_pipeline::NoProgress).unwrap();
    s
}
