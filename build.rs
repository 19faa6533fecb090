//! Tells the tests what this machine lacks, so that a test needing it is reported as *ignored* in
//! the test summary instead of passing silently: `../shared/data` (the real public files),
//! Chromium (the browser test), pdflatex (the LaTeX tables test) and a Python with DuckDB (the
//! benchmark agreement test). Under CI
//! (`$CI` set) nothing is ignored: a missing tool makes its test fail, as it should there.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    for cfg in ["ifr_no_shared_data", "ifr_no_chromium", "ifr_no_pdflatex", "ifr_no_duckdb"] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
    }
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=IFR_REQUIRE_DUCKDB");
    println!("cargo::rerun-if-env-changed=IFR_CHROMIUM");
    println!("cargo::rerun-if-env-changed=IFR_BENCH_PYTHON");
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    // Watched paths: a change (or, for a missing path, every build) runs this again.
    let shared = root.join("..").join("shared").join("data");
    let venv = root.join("target").join("bench-venv").join("bin").join("python");
    for p in [&shared, &venv, &PathBuf::from("/usr/bin/chromium"), &PathBuf::from("/usr/bin/pdflatex")] {
        println!("cargo::rerun-if-changed={}", p.display());
    }
    if std::env::var_os("CI").is_some() {
        return;
    }
    let mut lacking = Vec::new();
    if !shared.is_dir() {
        lacking.push("ifr_no_shared_data");
    }
    let on_path = |name: &str| std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(name).is_file()));
    if std::env::var_os("IFR_CHROMIUM").is_none() && !["chromium", "chromium-browser", "google-chrome"].iter().any(|n| on_path(n)) {
        lacking.push("ifr_no_chromium");
    }
    if !on_path("pdflatex") {
        lacking.push("ifr_no_pdflatex");
    }
    let duckdb = |python: &Path| Command::new(python).args(["-c", "import duckdb"]).output().is_ok_and(|o| o.status.success());
    let pythons: Vec<PathBuf> =
        std::env::var_os("IFR_BENCH_PYTHON").map(PathBuf::from).into_iter().chain([venv, PathBuf::from("python3")]).collect();
    if std::env::var_os("IFR_REQUIRE_DUCKDB").is_none() && !pythons.iter().any(|p| duckdb(p)) {
        lacking.push("ifr_no_duckdb");
    }
    for cfg in &lacking {
        println!("cargo::rustc-cfg={cfg}");
    }
    if !lacking.is_empty() {
        // Something is missing: look again at every build (a path that never exists is always
        // stale), since what is installed later keeps its package's old modification time.
        println!("cargo::rerun-if-changed={}", root.join("target").join(".ifr-look-again").display());
    }
}
