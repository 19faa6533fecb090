//! The annual report: every figure equals the generator's truth, outputs are byte-identical across
//! runs, a failed run publishes nothing, bad configuration is refused with nothing written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ifr_pipeline::synth::SynthFormat;
use ifr_pipeline::{NoProgress, Settings};

use crate::common::*;

/// A synthetic dataset for 2022-2023, ingested; returns its settings.
fn dataset(dir: &Path, format: SynthFormat) -> Settings {
    synth_dataset(dir, format)
}

/// One CSV line's fields (RFC 4180 quoting: `"a, b"` is one field, `""` a quote inside it).
fn csv_fields(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted, mut chars) = (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
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

/// The report's actor_year_totals and actor_destinations of `years` equal the generator's truth in
/// the dataset folder `syn`, row for row.
fn totals_equal_truth(syn: &Path, years: &[i32]) {
    let truth_dir = syn.join("truth");
    for (name, keys) in [("actor_year_totals", 3), ("actor_destinations", 3)] {
        let truth = csv_rows(&truth_dir.join(format!("{name}.csv")), keys);
        let mut ours = BTreeMap::new();
        for y in years {
            let p = syn.join(format!("report/{y}/tables/{name}.csv"));
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
}

#[test]
fn every_figure_equals_the_generators_truth() {
    let tmp = tempfile::tempdir().unwrap();
    let s = dataset(tmp.path(), SynthFormat::Cryo);
    let summary = ifr_pipeline::report(&s, None, &[]).unwrap();
    assert_eq!(summary.years, [2022, 2023]);
    totals_equal_truth(&tmp.path().join("syn"), &summary.years);
    // The headline: Lazarus Group (and so DPRK) stole what the ledger reports, at the day's price.
    let totals = csv_rows(&tmp.path().join("syn/report/2022/tables/actor_year_totals.csv"), 3);
    assert_eq!(totals[&vec!["dprk".to_string(), "2022".into(), "stolen".into()]][0], "724000000.00");
    let md = std::fs::read_to_string(tmp.path().join("syn/report/2022/report.md")).unwrap();
    assert!(md.contains("- **Democratic People's Republic of Korea** stole $724.0M in 2022"), "{md}");
    // The folder's index lists every year of the run, newest first, with the same headlines.
    let index = std::fs::read_to_string(tmp.path().join("syn/report/index.md")).unwrap();
    let headline = md.lines().find(|l| l.starts_with("- **Democratic People's Republic of Korea** stole")).unwrap();
    assert!(index.contains(headline), "{index}");
    assert!(index.find("## 2023").unwrap() < index.find("## 2022").unwrap(), "{index}");
    let page = std::fs::read_to_string(tmp.path().join("syn/report/index.html")).unwrap();
    assert!(page.contains("<a href=\"2022/index.html\">") && page.contains("<a href=\"2023/index.html\">"));
    // The headline family across the years: each year's on-chain theft as its totals table has it.
    let series = std::fs::read_to_string(tmp.path().join("syn/report/index_series.csv")).unwrap();
    for y in ["2022", "2023"] {
        let t = csv_rows(&tmp.path().join(format!("syn/report/{y}/tables/actor_year_totals.csv")), 3);
        let stolen = &t[&vec!["dprk".to_string(), y.into(), "stolen".into()]][0];
        assert!(series.contains(&format!("{y},Democratic People's Republic of Korea,{stolen},")), "{series}");
    }
    // The manifest names the folder the report went to, relative to the config.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("syn/report/2022/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["settings"]["out"], "report");
    // ... and the engine that ran the queries, at the version Cargo.lock pins.
    assert_eq!(manifest["engine"], serde_json::json!({ "name": "polars", "version": "0.55.2" }));
    assert!(
        manifest["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|i| i["files"].as_array().unwrap())
            .all(|f| !f["file"].as_str().unwrap().starts_with('/'))
    );
    // One sentence per actor family: Lazarus Group is named inside DPRK's, not as a second total.
    assert!(!md.contains("- **Lazarus Group** stole"), "{md}");
    assert!(md.contains("; of which Lazarus Group $724.0M."), "{md}");
    // The synthetic inputs are said so on the page.
    assert!(md.contains("> **Synthetic data.** The inputs of this configuration were generated by ifr synth"), "{md}");
    // What reached exchanges is the tracing table's range across methods, each named.
    let traced = csv_rows(&tmp.path().join("syn/report/2022/tables/trace_destinations.csv"), 4);
    let at = |m: &str| -> String {
        let v: f64 = traced[&vec!["dprk".to_string(), "2022".into(), m.into(), "exchange".into()]][0].parse().unwrap();
        format!("${:.1}M", v / 1e6)
    };
    let range = format!("Traced from the thefts, {} (haircut) to {} (poison) reached exchanges.", at("haircut"), at("poison"));
    assert!(md.contains(&range), "{range}\n{md}");
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

    // Beside each published estimate, what the numbers say of the gap (the ratio computed here).
    let estimates = std::fs::read_to_string(tmp.path().join("syn/report/2022/tables/published_estimates.csv")).unwrap();
    let chainalysis = estimates.lines().find(|l| l.starts_with("Chainalysis,2022,1650000000.00")).expect(&estimates);
    let ratio = format!("{:.1}%", 724_000_000.0 / 1_650_000_000.0 * 100.0);
    assert!(chainalysis.contains(&format!("ifr's on-chain figure is {ratio} of it")), "{chainalysis}");
    assert!(chainalysis.contains("ifr reads ethereum only and values each theft at its day's close"), "{chainalysis}");
    // Every number has one figure, naming its inputs by hash: the transfers' hash is sha256 over
    // the sorted `<file> <sha256>` lines of the chain files the lake state lists.
    let all = figures.as_array().unwrap();
    let ids: std::collections::BTreeSet<&str> = all.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), all.len(), "figure ids are unique");
    for id in [
        "stolen.dprk.2022.03",
        "stolen.dprk.2022.low",
        "top_counterparty.dprk.2022.1",
        "verified_share.dprk.2022",
        "reported_not_verified.dprk.2022",
    ] {
        assert!(ids.contains(id), "{id}");
    }
    assert!(ids.iter().any(|i| i.starts_with("theft.ronin-2022.0xc28fad5e")));
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("syn/lake/_ingest/state.json")).unwrap()).unwrap();
    let syn = tmp.path().join("syn");
    let mut lines: Vec<String> = state["sources"]["chain"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!("{} {}", Path::new(f["path"].as_str().unwrap()).strip_prefix(&syn).unwrap().display(), f["sha256"].as_str().unwrap())
        })
        .collect();
    lines.sort();
    use sha2::Digest;
    let want = hex::encode(sha2::Sha256::digest(lines.join("\n").as_bytes()));
    assert_eq!(stolen["input_hashes"]["transfers"], want.as_str());
    for f in all.iter().filter(|f| !f["inputs"].as_array().unwrap().is_empty()) {
        for t in f["inputs"].as_array().unwrap() {
            assert!(f["input_hashes"][t.as_str().unwrap()].is_string(), "{}: no hash for {t}", f["id"]);
        }
    }
}

#[test]
fn two_runs_give_byte_identical_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let s = dataset(tmp.path(), SynthFormat::EthereumEtl);
    let a = tmp.path().join("a");
    let files = |d: &Path| snapshot(d).into_iter().map(|(p, h, _)| (p.strip_prefix(d).unwrap().to_path_buf(), h)).collect::<Vec<_>>();
    ifr_pipeline::report(&s, Some(&a), &[2023]).unwrap();
    let first = files(&a);
    assert!(first.len() >= 30);
    ifr_pipeline::report(&s, Some(&a), &[2023]).unwrap();
    assert_eq!(files(&a), first);
    // Into another folder: the same bytes, but for the manifest, which names the folder used.
    let b = tmp.path().join("b");
    ifr_pipeline::report(&s, Some(&b), &[2023]).unwrap();
    let differ: Vec<PathBuf> = first.iter().zip(files(&b)).filter(|(x, y)| *x != y).map(|(x, _)| x.0.clone()).collect();
    assert_eq!(differ, [PathBuf::from("2023/manifest.json")]);
}

#[test]
fn kept_scan_results_change_how_fast_never_what() {
    let tmp = tempfile::tempdir().unwrap();
    let s = dataset(tmp.path(), SynthFormat::Cryo);
    let files = |d: &Path| snapshot(d).into_iter().map(|(p, h, _)| (p.strip_prefix(d).unwrap().to_path_buf(), h)).collect::<Vec<_>>();
    let out = tmp.path().join("out");
    ifr_pipeline::report(&s, Some(&out), &[2022, 2023]).unwrap();
    let first = files(&out);
    // Every lake file of transfers has its kept results: at least actor_flows, counterparty_totals,
    // chain_months and the theft candidates.
    let cache = s.lake_dir.join("_cache").join("scans");
    let kept =
        |name: &str| snapshot(&cache).into_iter().filter(|(p, _, _)| p.file_name().unwrap().to_str().unwrap().starts_with(name)).count();
    let transfers = snapshot(&s.lake_dir.join("transfers")).len();
    assert!(transfers >= 24, "two years of monthly partitions: {transfers}");
    for name in ["actor_flows.", "counterparty_totals.", "chain_months.", "theft_candidates."] {
        assert_eq!(kept(name), transfers, "{name} kept for every transfers file");
    }
    // Read back: the same report.
    ifr_pipeline::report(&s, Some(&out), &[2022, 2023]).unwrap();
    assert_eq!(files(&out), first);
    // Damaged kept results are computed again, and the report is the same.
    for (p, _, _) in snapshot(&cache) {
        std::fs::write(&p, b"not parquet").unwrap();
    }
    ifr_pipeline::report(&s, Some(&out), &[2022, 2023]).unwrap();
    assert_eq!(files(&out), first);
    // Without any: the same.
    std::fs::remove_dir_all(s.lake_dir.join("_cache")).unwrap();
    ifr_pipeline::report(&s, Some(&out), &[2022, 2023]).unwrap();
    assert_eq!(files(&out), first);
    assert_eq!(kept("actor_flows."), transfers);
}

#[test]
fn a_lake_in_the_layout_before_hive_folders_is_moved_to_them_and_reports_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let s = dataset(tmp.path(), SynthFormat::Cryo);
    let files = |d: &Path| snapshot(d).into_iter().map(|(p, h, _)| (p.strip_prefix(d).unwrap().to_path_buf(), h)).collect::<Vec<_>>();
    let out = tmp.path().join("out");
    ifr_pipeline::report(&s, Some(&out), &[2022, 2023]).unwrap();
    let first = files(&out);
    // Put the lake back in the layout ifr wrote before: `<table>/<chain>/<yyyy>/<mm>/<file>`.
    let state_path = s.lake_dir.join("_ingest").join("state.json");
    let mut state: serde_json::Value = serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    let mut moved = 0;
    for source in state["sources"].as_object_mut().unwrap().values_mut() {
        for o in source["outputs"].as_array_mut().unwrap() {
            let name = o.as_str().unwrap().to_string();
            let parts: Vec<&str> = name.split('/').collect();
            if parts.len() != 5 {
                continue;
            }
            let value = |p: &str, key: &str| p.strip_prefix(key).unwrap().to_string();
            let month: u32 = value(parts[3], "month=").parse().unwrap();
            let old = format!("{}/{}/{}/{month:02}/{}", parts[0], value(parts[1], "chain="), value(parts[2], "year="), parts[4]);
            let to = s.lake_dir.join(&old);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::rename(s.lake_dir.join(&name), &to).unwrap();
            *o = serde_json::Value::String(old);
            moved += 1;
        }
    }
    assert!(moved >= 48, "transfers and blocks of two years: {moved}");
    for table in ["transfers", "blocks"] {
        let hive = s.lake_dir.join(table).join("chain=ethereum");
        assert!(snapshot(&hive).is_empty(), "every file of {table} moved");
        std::fs::remove_dir_all(hive).unwrap();
    }
    std::fs::write(&state_path, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
    let hive_folders = |table: &str| {
        std::fs::read_dir(s.lake_dir.join(table))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(hive_folders("transfers"), ["ethereum"]);
    // Read as it is, the old layout gives the same report.
    ifr_pipeline::report(&s, Some(&out), &[2022, 2023]).unwrap();
    assert_eq!(files(&out), first);
    // The next writing run moves it: every file under hive folders, listed, the old folders gone.
    ifr_pipeline::ingest(&s, &ifr_pipeline::NoProgress).unwrap();
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    let listed: Vec<String> = state["sources"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|src| src["outputs"].as_array().unwrap().iter().map(|o| o.as_str().unwrap().to_string()))
        .filter(|o| o.matches('/').count() == 4)
        .collect();
    assert_eq!(listed.len(), moved);
    for o in &listed {
        assert!(o.contains("/chain=ethereum/year=202") && o.contains("/month="), "{o}");
        assert!(!o.contains("month=0"), "months are unpadded: {o}");
        assert!(s.lake_dir.join(o).is_file(), "{o}");
    }
    assert_eq!(hive_folders("transfers"), ["chain=ethereum"]);
    ifr_pipeline::report(&s, Some(&out), &[2022, 2023]).unwrap();
    assert_eq!(files(&out), first);
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

/// The report shows ifr's figure beside the published estimates for its year, each with its source.
#[test]
fn published_estimates_stand_beside_ifrs_figure() {
    let tmp = tempfile::tempdir().unwrap();
    let s = dataset(tmp.path(), SynthFormat::Cryo);
    ifr_pipeline::report(&s, None, &[2022]).unwrap();
    let t = std::fs::read_to_string(tmp.path().join("syn/report/2022/tables/published_estimates.csv")).unwrap();
    let mut lines = t.lines();
    assert_eq!(lines.next(), Some("source,years,estimate_usd,estimate_usd_high,incidents,what_it_counts,published,source_url,beside_ifr"));
    let ifr = lines.next().unwrap();
    assert!(ifr.starts_with("ifr (this report),2022,724000000.00,,"), "{t}");
    assert!(t.lines().any(|l| l.starts_with("Chainalysis,2022,1650000000.00,") && l.contains("http")), "{t}");
    assert!(t.lines().any(|l| l.starts_with("UN Panel of Experts (1718 Committee),2022,630000000.00,1000000000.00,")), "{t}");
    let md = std::fs::read_to_string(tmp.path().join("syn/report/2022/report.md")).unwrap();
    assert!(md.contains("## Published estimates beside ifr's figure"), "{md}");
    let html = std::fs::read_to_string(tmp.path().join("syn/report/2022/index.html")).unwrap();
    assert!(html.contains("id=\"published-estimates\""));
}

/// Each incident's on-chain value can be checked by hand: the theft_transfers table lists its
/// transfers, and their values add up to the incidents table's on-chain value.
#[test]
fn theft_transfers_add_up_to_each_incidents_onchain_value() {
    let tmp = tempfile::tempdir().unwrap();
    let s = dataset(tmp.path(), SynthFormat::Cryo);
    ifr_pipeline::report(&s, None, &[2022]).unwrap();
    let dir = tmp.path().join("syn/report/2022/tables");
    let thefts = std::fs::read_to_string(dir.join("theft_transfers.csv")).unwrap();
    assert!(thefts.starts_with("incident,day,chain,tx_hash,to_address,asset,amount,value_usd\n"), "{thefts}");
    let cents = |v: &str| -> i64 {
        let (a, b) = v.split_once('.').unwrap();
        a.parse::<i64>().unwrap() * 100 + b.parse::<i64>().unwrap()
    };
    let mut sums: BTreeMap<String, i64> = BTreeMap::new();
    for l in thefts.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        *sums.entry(f[0].to_string()).or_default() += cents(f[7]);
    }
    let incidents = std::fs::read_to_string(dir.join("incidents.csv")).unwrap();
    for l in incidents.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        if f[6] != "0" {
            // Each transfer is rounded to the cent here and to the micro-dollar in the sum.
            let diff = (sums[f[0]] - cents(f[5])).abs();
            assert!(diff <= thefts.lines().filter(|t| t.starts_with(f[0])).count() as i64, "{}: {} vs {}", f[0], sums[f[0]], f[5]);
        }
    }
    assert_eq!(sums["ronin-2022"], 62_400_000_000, "Ronin's transfers add up to $624,000,000.00");
}

/// The coverage section: the chains and block ranges loaded (as the lake holds them), every ledger
/// incident's verification (an incident on a chain not loaded counts at its reported value and is
/// said so in the headline, never dropped), and price coverage by asset adding up to the year's.
#[test]
fn coverage_states_chains_unverified_incidents_and_unpriced_assets() {
    let tmp = tempfile::tempdir().unwrap();
    let s = dataset(tmp.path(), SynthFormat::Cryo);
    let syn = tmp.path().join("syn");
    // A 2022 theft on Bitcoin, which this lake does not hold.
    let mut ledger = std::fs::read_to_string(syn.join("incidents.csv")).unwrap();
    ledger.push_str("btc-test-2022,2022-05-02,A Bitcoin exchange,bitcoin,50000000,,hot wallet,lazarus_group,FBI,2022-06-01,https://example.org/a,,,,https://example.org/b,\n");
    std::fs::write(syn.join("incidents.csv"), ledger).unwrap();
    ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    ifr_pipeline::report(&s, None, &[2022]).unwrap();
    let dir = syn.join("report/2022");

    // Chains: the first and last block and the transfer count, as a query of our own finds them.
    let o = ifr(
        &syn,
        &[
            "sql",
            "SELECT MIN(block_number) AS lo, MAX(block_number) AS hi, COUNT(*) AS n FROM transfers WHERE year = 2022",
            "--format",
            "csv",
        ],
    );
    let (lo, hi, n) = {
        let row: Vec<String> = stdout(&o).lines().nth(1).unwrap().split(',').map(str::to_string).collect();
        (row[0].clone(), row[1].clone(), row[2].clone())
    };
    let chains = std::fs::read_to_string(dir.join("tables/chain_coverage.csv")).unwrap();
    assert_eq!(
        chains,
        format!("chain,year,first_block,last_block,first_day,last_day,transfers\nethereum,2022,{lo},{hi},2022-01-01,2022-12-31,{n}\n")
    );

    // Incidents: Ronin verified; Harmony (ethereum;bsc) partly; the Bitcoin one reported only.
    let incidents = std::fs::read_to_string(dir.join("tables/incidents.csv")).unwrap();
    assert!(incidents.starts_with("incident,name,date,actor,reported_usd,onchain_usd,onchain_transfers,unpriced_transfers,difference_usd,explanation,chains,verification,recovered_usd\n"));
    let verification = |id: &str| csv_fields(incidents.lines().find(|l| l.starts_with(id)).unwrap())[11].clone();
    assert_eq!(verification("ronin-2022"), "verified on chain");
    assert_eq!(verification("harmony-2022"), "partly verified (not loaded: bsc)");
    assert_eq!(verification("btc-test-2022"), "reported, not verified on chain (bitcoin not loaded)");
    // The headline gives both figures, and the verified share of the two.
    let totals = csv_rows(&dir.join("tables/actor_year_totals.csv"), 3);
    let stolen: f64 = totals[&vec!["dprk".to_string(), "2022".into(), "stolen".into()]][0].parse().unwrap();
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let share = format!("{:.1}%", stolen * 100.0 / (stolen + 50e6));
    let want = format!(
        "A further $50.0M is reported for 1 ledger incident(s) not verified on chain (A Bitcoin exchange); {share} of the two together is verified on chain."
    );
    assert!(md.contains(&want), "{want}\n{md}");
    assert!(md.contains("1 reported, not verified on chain ($50.0M reported: A Bitcoin exchange)"), "{md}");
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(html.contains("id=\"coverage\"") && html.contains("A Bitcoin exchange"), "coverage section in the page");

    // Prices by asset add up to the year's coverage; the unpriced asset is named with its count.
    let by_asset = std::fs::read_to_string(dir.join("tables/asset_price_coverage.csv")).unwrap();
    let mut sums = [0i64; 4];
    let mut unpriced_named = Vec::new();
    for l in by_asset.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        for (k, sum) in sums.iter_mut().enumerate() {
            *sum += f[3 + k].parse::<i64>().unwrap();
        }
        if f[5] != "0" {
            unpriced_named.push(format!("{} on {} ({} transfers)", f[2], f[1], f[5]));
        }
    }
    let year: Vec<i64> = std::fs::read_to_string(dir.join("tables/price_coverage.csv"))
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .skip(1)
        .take(4)
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(sums.to_vec(), year, "{by_asset}");
    assert_eq!(year[0].to_string(), n);
    assert!(!unpriced_named.is_empty(), "the sample has a token without prices");
    for u in &unpriced_named {
        assert!(md.contains(u.as_str()), "{u}\n{md}");
    }
    // Recoveries (the reference rows the generator copies for its incidents): beside the theft.
    let ronin = csv_fields(incidents.lines().find(|l| l.starts_with("ronin-2022")).unwrap());
    assert_eq!(ronin[12], "30000000.00", "recovered_usd: the seizure tied to Ronin");
    let recovered = std::fs::read_to_string(dir.join("tables/recoveries.csv")).unwrap();
    assert!(recovered.starts_with("date,recovery,incident,actor,kind,value_usd,asset_amount,acted_by,source_url\n2022-09-08,ronin-2022-seizure,ronin-2022,lazarus_group,seized,30000000.00,"), "{recovered}");
    assert_eq!(recovered.lines().count(), 2, "only the year's recoveries: {recovered}");
    assert!(md.contains("Recovered in 2022: $30.0M (1 seized), as the sources report them"), "{md}");
    let figures = std::fs::read_to_string(dir.join("figures.json")).unwrap();
    assert!(figures.contains("\"id\": \"recovery.ronin-2022-seizure.usd\""));
    for id in ["chain_coverage.ethereum.2022.last_block", "unlabelled_outflow_share.dprk.2022", "asset_price_coverage.2022.ethereum.ETH"] {
        assert!(figures.contains(&format!("\"id\": \"{id}\"")), "{id}");
    }
}

/// The LaTeX fragments a paper would include compile in a one-column article with booktabs, and
/// none is wider than the column (no `Overfull \hbox` in the log): Debian's pdflatex (CI installs
/// texlive-latex-base and texlive-latex-recommended).
#[test]
#[cfg_attr(ifr_no_pdflatex, ignore = "no pdflatex on PATH (CI installs texlive)")]
fn latex_tables_compile_in_a_one_column_article() {
    let on_path = |name: &str| std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()));
    if !on_path("pdflatex") {
        if std::env::var_os("CI").is_some() {
            panic!("pdflatex is missing in CI: .ci/run installs texlive");
        }
        eprintln!("SKIPPED latex_tables_compile_in_a_one_column_article: no pdflatex on PATH");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let s = dataset(tmp.path(), SynthFormat::Cryo);
    ifr_pipeline::report(&s, None, &[2022]).unwrap();
    let tables = tmp.path().join("syn/report/2022/tables");
    let mut names: Vec<String> = std::fs::read_dir(&tables)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tex"))
        .collect();
    names.sort();
    assert!(names.len() >= 15, "{names:?}");
    let mut doc = String::from(
        "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage{booktabs}\n\\usepackage{graphicx}\n\\begin{document}\n",
    );
    for n in &names {
        doc.push_str(&format!("\\noindent\\input{{{}}}\n\n\\bigskip\n", tables.join(n).display()));
    }
    // And every chart, as the PDF a paper includes.
    let charts = tmp.path().join("syn/report/2022/charts");
    let mut pdfs: Vec<std::path::PathBuf> =
        std::fs::read_dir(&charts).unwrap().flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "pdf")).collect();
    pdfs.sort();
    let svgs = std::fs::read_dir(&charts).unwrap().flatten().filter(|e| e.path().extension().is_some_and(|x| x == "svg")).count();
    assert_eq!(pdfs.len(), svgs, "a PDF beside every SVG");
    for p in &pdfs {
        doc.push_str(&format!("\\noindent\\includegraphics[width=\\linewidth]{{{}}}\n\n", p.display()));
    }
    doc.push_str("\\end{document}\n");
    let dir = tmp.path().join("paper");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("paper.tex"), doc).unwrap();
    let o = std::process::Command::new("pdflatex")
        .args(["-interaction=nonstopmode", "-halt-on-error", "paper.tex"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let log = std::fs::read_to_string(dir.join("paper.log")).unwrap_or_default();
    assert!(o.status.success(), "pdflatex failed:\n{}", &log[log.len().saturating_sub(3000)..]);
    assert!(dir.join("paper.pdf").is_file());
    // Width is what a fragment controls (a table taller than a page is the paper's longtable
    // choice, not the fragment's).
    assert!(!log.contains("Overfull \\hbox"), "a table is wider than the column:\n{log}");
    // (-halt-on-error: a chart PDF pdflatex could not read would have stopped it.)
    // The charts' text is text (not outlines), in the reader's words: poppler's pdftotext reads
    // the money ticks and the source line back.
    if !on_path("pdftotext") {
        assert!(std::env::var_os("CI").is_none(), "pdftotext is missing in CI: .ci/run installs poppler-utils");
        eprintln!("SKIPPED the chart PDFs' text check: no pdftotext on PATH");
        return;
    }
    let p = charts.join("monthly_stolen.pdf");
    let o = std::process::Command::new("pdftotext").arg(&p).arg("-").output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && text.contains("Source: ifr") && text.contains('$'), "{}: {text}", p.display());
}

/// A dataset on two chains: the ledger's Bitcoin incidents played out on Bitcoin (a peel chain, a
/// JoinMarket-style coinjoin, exchange deposits) and Ethereum proceeds bridged to Bitcoin through
/// planted links. Every total and destination equals the truth, the per-chain totals keep each
/// theft on its chain, and tracing each incident gives, for every method, the destinations the
/// generator planted on Bitcoin, bridged ones included.
#[test]
fn a_two_chain_dataset_reports_and_traces_what_the_generator_planted() {
    use ifr_pipeline::stages::trace::{self, Method, Seeds, TraceOptions};
    let tmp = tempfile::tempdir().unwrap();
    let syn = tmp.path().join("syn");
    ifr_pipeline::synth::run(&ifr_pipeline::synth::SynthOptions {
        out: syn.clone(),
        transfers: 40_000,
        from: chrono::NaiveDate::from_ymd_opt(2021, 1, 1).unwrap(),
        to: chrono::NaiveDate::from_ymd_opt(2023, 12, 31).unwrap(),
        seed: 5,
        format: SynthFormat::Cryo,
        chunk_blocks: None,
        bitcoin_txs: 5_000,
        bitcoin_gzip: false,
        force: false,
    })
    .unwrap();
    let s = Settings::load(&syn.join("ifr.toml")).unwrap();
    ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    let summary = ifr_pipeline::report(&s, None, &[]).unwrap();
    assert_eq!(summary.years, [2021, 2022, 2023]);
    totals_equal_truth(&syn, &summary.years);

    // Liquid's Bitcoin theft is DPRK's stolen total on bitcoin in 2021 (its value in truth).
    let figures: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(syn.join("report/2021/figures.json")).unwrap()).unwrap();
    let figure = |id: &str| -> f64 {
        figures.as_array().unwrap().iter().find(|f| f["id"] == id).unwrap_or_else(|| panic!("no figure {id}"))["value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let thefts = std::fs::read_to_string(syn.join("truth/incidents.csv")).unwrap();
    let btc_theft: f64 = thefts
        .lines()
        .filter(|l| l.starts_with("liquid-2021,") && l.split(',').nth(4) == Some("BTC"))
        .map(|l| l.split(',').nth(6).unwrap().parse::<f64>().unwrap())
        .sum();
    assert!(btc_theft > 1e6, "{thefts}");
    assert!((figure("chain_total.stolen.dprk.2021.bitcoin") - btc_theft).abs() <= 0.01);
    let both = figure("chain_total.stolen.dprk.2021.bitcoin") + figure("chain_total.stolen.dprk.2021.ethereum");
    assert!((figure("stolen.dprk.2021") - both).abs() <= 0.02);

    // Tracing: what the generator says reached each destination on Bitcoin (satoshi), for
    // incidents laundered without a DEX swap (per-asset tracing does not follow a swap, so the
    // swapped part of a theft is clean to the tracer: Ronin's USDC).
    let planted = std::fs::read_to_string(syn.join("truth/incident_destinations.csv")).unwrap();
    let methods = [Method::Poison, Method::Haircut, Method::Fifo];
    for incident in ["liquid-2021", "coinex-2023", "atomic-wallet-2023", "harmony-2022"] {
        let want: BTreeMap<String, f64> = planted
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[0] == incident && f[2] == "BTC").then(|| (f[1].to_string(), f[3].parse::<f64>().unwrap()))
            })
            .collect();
        assert!(want.contains_key("exchange (bridged to bitcoin)"), "{incident}: {want:?}");
        let opts = TraceOptions {
            seeds: Seeds::Incidents(vec![incident.into()]),
            methods: methods.to_vec(),
            max_hops: 20,
            until: None,
            stop: vec!["exchange".into(), "mixer".into(), "bridge".into()],
        };
        let (_, summaries) = trace::run(&s, &opts).unwrap();
        for m in methods {
            let mut got: BTreeMap<String, f64> = BTreeMap::new();
            for sm in summaries.iter().filter(|x| x.method == m && x.chain == "bitcoin") {
                // The seeds released through a link have rows of their own.
                let bridged = if sm.seed == format!("{incident} (bridged to bitcoin)") { " (bridged to bitcoin)" } else { "" };
                assert!(!bridged.is_empty() || sm.seed == incident, "{}", sm.seed);
                for (dest, v) in &sm.arrived {
                    *got.entry(format!("{dest}{bridged}")).or_default() += v;
                }
                *got.entry(format!("dormant{bridged}")).or_default() += sm.held;
            }
            got.retain(|_, v| *v != 0.0);
            assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "{incident} {m:?}: {got:?}");
            for (dest, sat) in &want {
                let btc = sat / 1e8;
                assert!((got[dest] - btc).abs() <= 1e-8 * btc.max(1.0), "{incident} {m:?} {dest}: traced {} vs planted {btc}", got[dest]);
            }
        }
    }
    // The report's tracing table: in 2021 (Liquid alone), what crossed to Bitcoin and reached an
    // exchange there, at the close of its arrival day, for every method.
    let bridged: f64 = planted
        .lines()
        .filter(|l| l.starts_with("liquid-2021,exchange (bridged to bitcoin),BTC,"))
        .map(|l| l.split(',').nth(4).unwrap().parse::<f64>().unwrap())
        .sum();
    for m in ["poison", "haircut", "fifo"] {
        let v = figure(&format!("trace.{m}.dprk.2021.exchange (bridged to bitcoin)"));
        assert!((v - bridged).abs() <= 0.01, "{m}: {v} vs {bridged}");
    }
}
