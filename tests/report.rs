//! The annual report: every figure equals the generator's truth, outputs are byte-identical across
//! runs, a failed run publishes nothing, bad configuration is refused with nothing written.

use std::collections::BTreeMap;
use std::path::Path;

use ifr_pipeline::synth::SynthFormat;
use ifr_pipeline::{NoProgress, Settings};

use crate::common::*;

/// A synthetic dataset for 2022-2023, ingested; returns its settings.
fn dataset(dir: &Path, format: SynthFormat) -> Settings {
    synth_dataset(dir, format)
}

fn csv_rows(path: &Path, keys: usize) -> BTreeMap<Vec<String>, Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<String> = l.split(',').map(str::to_string).collect();
            (f[..keys].to_vec(), f[keys..].to_vec())
        })
        .collect()
}

#[test]
fn every_figure_equals_the_generators_truth() {
    let tmp = tempfile::tempdir().unwrap();
    let s = dataset(tmp.path(), SynthFormat::Cryo);
    let summary = ifr_pipeline::report(&s, None, &[]).unwrap();
    assert_eq!(summary.years, [2022, 2023]);
    let truth_dir = tmp.path().join("syn/truth");
    for (name, keys) in [("actor_year_totals", 3), ("actor_destinations", 3)] {
        let truth = csv_rows(&truth_dir.join(format!("{name}.csv")), keys);
        let mut ours = BTreeMap::new();
        for y in summary.years.iter() {
            let p = tmp.path().join(format!("syn/report/{y}/tables/{name}.csv"));
            let header = std::fs::read_to_string(&p).unwrap().lines().next().unwrap().to_string();
            if name == "actor_year_totals" {
                assert_eq!(header, "actor,year,metric,value_usd,transfers,unpriced_transfers");
            } else {
                assert_eq!(header, "actor,year,category,value_usd,transfers");
            }
            ours.extend(csv_rows(&p, keys));
        }
        assert_eq!(ours.keys().collect::<Vec<_>>(), truth.keys().collect::<Vec<_>>(), "{name}: the same rows");
        for (k, t) in &truth {
            let o = &ours[k];
            assert_eq!(&o[1..], &t[1..], "{name} {k:?}: transfer counts");
            if o[0].is_empty() {
                // An empty cell is an unknown value (nothing priced), never 0: the truth must agree.
                assert!(t.len() == 3 && t[1] == t[2], "{name} {k:?}: the report has no value, the truth has {t:?}");
                continue;
            }
            let (a, b): (f64, f64) = (o[0].parse().unwrap(), t[0].parse().unwrap());
            assert!((a - b).abs() <= 0.01 || (a - b).abs() <= 1e-9 * b.abs(), "{name} {k:?}: report {a} vs truth {b}");
        }
    }
    // The headline: Lazarus Group (and so DPRK) stole what the ledger reports, at the day's price.
    let totals = csv_rows(&tmp.path().join("syn/report/2022/tables/actor_year_totals.csv"), 3);
    assert_eq!(totals[&vec!["dprk".to_string(), "2022".into(), "stolen".into()]][0], "724000000.00");
    let md = std::fs::read_to_string(tmp.path().join("syn/report/2022/report.md")).unwrap();
    assert!(md.contains("- dprk stole $724.0M in 2022"), "{md}");
    assert!(
        md.contains("## Methodology")
            && md.contains("point-in-time")
            && md.contains("`actor_year_totals`: actor_year_totals: what each actor stole"),
        "{md}"
    );
    let figures: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("syn/report/2022/figures.json")).unwrap()).unwrap();
    let stolen = figures.as_array().unwrap().iter().find(|f| f["id"] == "stolen.dprk.2022").unwrap();
    assert_eq!(stolen["value"], "724000000.00");
    assert_eq!(stolen["unit"], "USD");
    assert!(stolen["query"].as_str().unwrap().starts_with("queries/actor_year_totals.sql"));
    assert!(stolen["inputs"].as_array().unwrap().iter().any(|i| i == "incidents"));
    let incidents = std::fs::read_to_string(tmp.path().join("syn/report/2022/tables/incidents.csv")).unwrap();
    assert!(incidents.contains("ronin-2022,Ronin Bridge,2022-03-23,lazarus_group,624000000.00,624000000.00,2,0,0.00"), "{incidents}");
}

#[test]
fn two_runs_give_byte_identical_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let s = dataset(tmp.path(), SynthFormat::EthereumEtl);
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    ifr_pipeline::report(&s, Some(&a), &[2023]).unwrap();
    ifr_pipeline::report(&s, Some(&b), &[2023]).unwrap();
    let files = |d: &Path| snapshot(d).into_iter().map(|(p, h, _)| (p.strip_prefix(d).unwrap().to_path_buf(), h)).collect::<Vec<_>>();
    assert!(files(&a).len() >= 30);
    assert_eq!(files(&a), files(&b));
}

#[test]
fn a_failed_run_leaves_the_previous_report_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let s = dataset(tmp.path(), SynthFormat::Cryo);
    let out = tmp.path().join("out");
    ifr_pipeline::report(&s, Some(&out), &[]).unwrap();
    let before = snapshot(&out);
    // Make the run fail halfway through rendering (a failure point armed for this test).
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_ifr"))
        .args(["report", "--out"])
        .arg(&out)
        .env("IFR_FAILPOINT", "report-render:2:error")
        .current_dir(s.config_path.parent().unwrap())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("failpoint report-render"), "{}", stderr(&o));
    assert_eq!(snapshot(&out), before);
}

#[test]
fn bad_report_configuration_exits_1_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let s = dataset(tmp.path(), SynthFormat::Cryo);
    let cfg = s.config_path.clone();
    let dir = cfg.parent().unwrap();
    let base = std::fs::read_to_string(&cfg).unwrap();
    for (extra, args, needle) in [
        ("", vec!["report", "--year", "2019"], "year 2019 has no transfers"),
        ("\n[report]\nactors = [\"lazarus\"]\n", vec!["report"], "`lazarus` is not an actor"),
        ("\n[report]\nsanctions = \"sometimes\"\n", vec!["report"], "expected point-in-time or as-listed-today"),
        ("", vec!["report", "--out", "ifr.toml/sub"], "writable"),
    ] {
        std::fs::write(&cfg, format!("{base}{extra}")).unwrap();
        let o = ifr(dir, &args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert!(!dir.join("report").exists(), "{args:?} wrote a report");
    }
    std::fs::write(&cfg, base).unwrap();
    let o = ifr(dir, &["run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("report for 2022, 2023 written to"), "{}", stdout(&o));
}

#[test]
fn golden_report_tables_and_charts() {
    let tmp = tempfile::tempdir().unwrap();
    let s = dataset(tmp.path(), SynthFormat::Cryo);
    ifr_pipeline::report(&s, None, &[2022]).unwrap();
    let dir = tmp.path().join("syn/report/2022");
    for rel in [
        "tables/actor_year_totals.csv",
        "tables/actor_destinations.csv",
        "tables/actor_year_ranges.csv",
        "tables/incidents.csv",
        "tables/price_coverage.csv",
        "tables/actor_month_totals.csv",
        "tables/top_counterparties.csv",
        "tables/trace_destinations.csv",
        "charts/trace_methods.svg",
        "tables/actor_year_totals.tex",
        "tables/incidents.md",
        "charts/annual_totals.svg",
        "charts/monthly_stolen.svg",
        "charts/destinations.svg",
        "charts/incidents.svg",
        "figures.json",
    ] {
        let text = std::fs::read_to_string(dir.join(rel)).unwrap();
        golden(&format!("report/{}", rel.replace('/', "__")), &text);
    }
}

#[test]
fn the_disclosure_day_policy_values_thefts_at_the_ledger_date() {
    let tmp = tempfile::tempdir().unwrap();
    let s = dataset(tmp.path(), SynthFormat::Cryo);
    let syn = tmp.path().join("syn");
    // Ronin was disclosed on 2022-03-29, six days after the theft transfers.
    let ledger = std::fs::read_to_string(syn.join("incidents.csv")).unwrap().replace("ronin-2022,2022-03-23", "ronin-2022,2022-03-29");
    std::fs::write(syn.join("incidents.csv"), ledger).unwrap();
    let cfg = std::fs::read_to_string(&s.config_path).unwrap();
    std::fs::write(&s.config_path, format!("{cfg}\n[report]\nstolen-price-day = \"disclosure-day\"\n")).unwrap();
    let s = Settings::load(&s.config_path).unwrap();
    ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    ifr_pipeline::report(&s, None, &[2022]).unwrap();
    // Independently: the theft amounts (truth) x the closes of 2022-03-29 (prices.csv).
    let close = |asset: &str| -> f64 {
        let prices = std::fs::read_to_string(syn.join("prices.csv")).unwrap();
        prices.lines().find(|l| l.starts_with(&format!("2022-03-29,{asset},"))).unwrap().rsplit(',').next().unwrap().parse().unwrap()
    };
    let truth = std::fs::read_to_string(syn.join("truth/incidents.csv")).unwrap();
    let mut expected = 0.0;
    for l in truth.lines().filter(|l| l.starts_with("ronin-2022,")) {
        let f: Vec<&str> = l.split(',').collect();
        let decimals = if f[4] == "ETH" { 18 } else { 6 };
        expected += f[5].parse::<f64>().unwrap() / 10f64.powi(decimals) * close(f[4]);
    }
    let incidents = csv_rows(&syn.join("report/2022/tables/incidents.csv"), 1);
    let ronin = &incidents[&vec!["ronin-2022".to_string()]];
    let onchain: f64 = ronin[4].parse().unwrap();
    assert!((onchain - expected).abs() <= 0.01 + 1e-9 * expected, "{onchain} vs {expected}");
    assert!((onchain - 624_000_000.0).abs() > 1.0, "a different day's close gives a different value");
    assert!(ronin[8].contains("incident's ledger date"), "{ronin:?}");
    let md = std::fs::read_to_string(syn.join("report/2022/report.md")).unwrap();
    assert!(md.contains("disclosure-day policy"), "the methodology says which price day is used");
}
