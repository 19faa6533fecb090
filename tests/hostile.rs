//! Hostile input and hostile conditions (issue 18): one test per rule, each named after the rule it
//! guards, asserting the exit code, what the message names, and that nothing outside ifr's own
//! folders changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

/// Every file below `dir` (all of them, ifr's lock files too) with the sha256 of its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_path_buf(), ifr_pipeline::lake::hash_file(&p).unwrap().sha256);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// `tree` without the files below `skip` (ifr's own folder).
fn tree_outside(dir: &Path, skip: &str) -> BTreeMap<PathBuf, String> {
    tree(dir).into_iter().filter(|(p, _)| !p.starts_with(skip)).collect()
}

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ifr"));
    c.args(args).current_dir(dir);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run ifr")
}

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

const PRICES: &str = "day,asset,close_usd\n2022-01-01,ETH,3000\n2022-01-02,ETH,3100\n";

fn prices_config(extra: &str) -> String {
    format!("{extra}\n[[sources]]\nname = \"prices\"\nkind = \"prices\"\nformat = \"price-csv\"\npath = \"prices.csv\"\n")
}

#[test]
fn report_out_in_a_users_folder_is_refused_and_nothing_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(&d.join("photos/2022/beach.jpg"), "a photo");
    write(&d.join("prices.csv"), PRICES);
    write(&d.join("ifr.toml"), &format!("{}\n[report]\nout = \"photos\"\n", prices_config("")));
    let before = tree(d);
    let o = run(d, &["run"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("[report] out = ") && e.contains("photos") && e.contains("did not create and it is not empty"), "{e}");
    assert_eq!(tree(d), before, "a refused run changes nothing, not even a lake folder");
}

#[test]
fn root_home_and_the_config_folder_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(&d.join("prices.csv"), PRICES);
    let home = d.join("home");
    std::fs::create_dir_all(&home).unwrap();
    for (key, value, why) in [
        ("report", "/", "root of the file system"),
        ("report", ".", "folder of the configuration file"),
        ("report", "..", "contains the configuration file"),
        ("report", home.to_str().unwrap(), "your home folder"),
        ("lake", ".", "folder of the configuration file"),
        ("lake", "/", "root of the file system"),
    ] {
        let config = if key == "lake" {
            prices_config(&format!("lake = \"{value}\""))
        } else {
            format!("{}\n[report]\nout = \"{value}\"\n", prices_config(""))
        };
        write(&d.join("ifr.toml"), &config);
        let before = tree(d);
        let o = run(d, &["run"], &[("HOME", home.to_str().unwrap())]);
        assert_eq!(o.status.code(), Some(1), "{key} = {value}: {}", stderr(&o));
        assert!(stderr(&o).contains(why), "{key} = {value}: {}", stderr(&o));
        assert_eq!(tree(d), before, "{key} = {value}");
    }
}

#[test]
fn sample_out_in_a_users_folder_is_refused_with_or_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(&d.join("mydata/notes.txt"), "my notes");
    write(&d.join("ifr.toml"), "[sample]\nout = \"mydata\"\ntransfers = 20000\n");
    let before = tree_outside(d, "lake");
    let o = run(d, &["ingest"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("mydata") && stderr(&o).contains("did not create and it is not empty"), "{}", stderr(&o));
    assert_eq!(tree_outside(d, "lake"), before);
    let o = run(d, &["synth", "--out", "mydata", "--force"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("did not create and it is not empty"), "{}", stderr(&o));
    assert_eq!(tree_outside(d, "lake"), before, "--force never deletes a file ifr did not write");
}

#[test]
fn lake_in_a_users_folder_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(&d.join("somefolder/thesis.parquet"), "not parquet");
    write(&d.join("somefolder/keep.txt"), "mine");
    write(&d.join("prices.csv"), PRICES);
    write(&d.join("ifr.toml"), &prices_config("lake = \"somefolder\""));
    let before = tree(d);
    let o = run(d, &["ingest"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("lake = `") && stderr(&o).contains("somefolder"), "{}", stderr(&o));
    assert_eq!(tree(d), before);
}

#[test]
fn stray_files_in_the_lake_are_never_read() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(&d.join("prices.csv"), PRICES);
    write(&d.join("ifr.toml"), &prices_config(""));
    let o = run(d, &["ingest"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let live = ifr_pipeline::lake::Lake::new(d.join("lake")).table_files("prices").unwrap();
    assert_eq!(live.len(), 1);
    // A copy of a real lake file, and a file that only looks like one.
    std::fs::copy(&live[0], d.join("lake/prices/copy.parquet")).unwrap();
    write(&d.join("lake/labels/junk.parquet"), "not parquet at all");
    let o = run(d, &["sql", "SELECT COUNT(*) AS n FROM prices", "--format", "csv"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().nth(1), Some("2"), "{}", stdout(&o));
    let o = run(d, &["tables", "--brief"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A synthetic 2022 dataset (seed `seed`), generated into `out`.
fn small_synth(out: &Path, seed: u64) {
    synth_into(out, 12_000, (2022, 2022), seed, ifr_pipeline::synth::SynthFormat::Cryo);
}

#[test]
fn an_absurd_price_is_flagged_and_kept_out_never_a_wrong_sign_and_untrusted_titles_stay_text() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("syn");
    small_synth(&d, 5);
    // A price typo of 1e15 on one day, and a label pack whose title is Markdown and HTML.
    let day = "2022-03-23";
    let prices = std::fs::read_to_string(d.join("prices.csv")).unwrap();
    let prices: String = prices
        .lines()
        .map(|l| if l.starts_with(&format!("{day},ETH,")) { format!("{day},ETH,1000000000000000\n") } else { format!("{l}\n") })
        .collect();
    std::fs::write(d.join("prices.csv"), prices).unwrap();
    let labels = std::fs::read_to_string(d.join("labels.yaml")).unwrap();
    std::fs::write(
        d.join("labels.yaml"),
        labels.replacen("title: ifr synthetic labels", "title: '[x](javascript:alert(1)) <b>bold</b> **y**'", 1),
    )
    .unwrap();
    let o = run(&d, &["run"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Independently of the report: the ETH transfers of that day that the typo lifts above $10bn.
    let o = run(
        &d,
        &[
            "sql",
            &format!(
                "SELECT COUNT(*) AS n FROM transfers WHERE asset = 'ETH' AND CAST(block_time AS DATE) = DATE '{day}' AND amount * 1000000000000000.0 > 10000000000.0"
            ),
            "--format",
            "csv",
        ],
        &[],
    );
    let expected: i64 = stdout(&o).lines().nth(1).unwrap().parse().unwrap();
    assert!(expected > 0, "the typo must hit some transfers");
    let coverage = std::fs::read_to_string(d.join("report/2022/tables/price_coverage.csv")).unwrap();
    let row: Vec<&str> = coverage.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(coverage.lines().next(), Some("year,transfers,priced_transfers,unpriced_transfers,implausible_transfers,priced_share"));
    assert_eq!(row[4].parse::<i64>().unwrap(), expected, "{coverage}");
    let listed = std::fs::read_to_string(d.join("report/2022/tables/implausible_transfers.csv")).unwrap();
    assert_eq!(listed.lines().count() as i64, expected + 1, "{listed}");
    assert!(listed.lines().skip(1).all(|l| l.starts_with("2022,ethereum__") && l.contains(".parquet,")), "{listed}");
    let totals = std::fs::read_to_string(d.join("report/2022/tables/actor_year_totals.csv")).unwrap();
    for l in totals.lines().skip(1) {
        let value = l.split(',').nth(3).unwrap();
        assert!(!value.starts_with('-'), "a negative total: {l}");
        if !value.is_empty() {
            assert!(value.parse::<f64>().unwrap() < 1e12, "an implausible value reached a total: {l}");
        }
    }
    // The title is shown as text in report.md (escaped) and in index.html (entities).
    let md = std::fs::read_to_string(d.join("report/2022/report.md")).unwrap();
    assert!(
        md.contains("\\[x\\](javascript:alert(1)) \\<b\\>bold\\</b\\> \\*\\*y\\*\\*"),
        "{}",
        md.lines().filter(|l| l.contains("Label sources")).collect::<String>()
    );
    assert!(!md.contains("[x](javascript"));
    let html = std::fs::read_to_string(d.join("report/2022/index.html")).unwrap();
    assert!(html.contains("[x](javascript:alert(1)) &lt;b&gt;bold&lt;/b&gt; **y**") && !html.contains("<b>bold"), "html");
}

#[test]
fn timestamps_out_of_range_are_quarantined_never_wrapped() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(&d.join("etl/blocks.csv"), "number,hash,timestamp\n100,,1648000000\n101,,9223372036854775\n102,,-5\n103,,253402300800\n");
    write(
        &d.join("ifr.toml"),
        "[[sources]]\nname = \"etl\"\nkind = \"chain\"\nformat = \"ethereum-etl\"\nchain = \"ethereum\"\npath = \"etl\"\n",
    );
    let o = run(d, &["ingest"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(d, &["sql", "SELECT row, column, raw_value, reason FROM quarantine ORDER BY row", "--format", "csv"], &[]);
    let q = stdout(&o);
    let lines: Vec<&str> = q.lines().skip(1).collect();
    assert_eq!(lines.len(), 3, "{q}");
    for (l, (line, raw)) in lines.iter().zip([(3, "9223372036854775"), (4, "-5"), (5, "253402300800")]) {
        assert!(l.starts_with(&format!("{line},timestamp,{raw},\"timestamp out of range")), "{l}");
    }
    let o = run(d, &["sql", "SELECT MIN(year) AS lo, MAX(year) AS hi, COUNT(*) AS n FROM blocks", "--format", "csv"], &[]);
    assert_eq!(stdout(&o).lines().nth(1), Some("2022,2022,1"), "{}", stdout(&o));
}

#[test]
fn csv_rows_whose_field_count_differs_from_the_header_are_quarantined() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(&d.join("prices.csv"), "day,asset,close_usd\n2022-01-01,ETH,3000\n2022-01-02,ETH,31,00\n2022-01-03,ETH\n2022-01-04,ETH,3200\n");
    write(&d.join("ifr.toml"), &prices_config(""));
    let o = run(d, &["ingest"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(d, &["sql", "SELECT row, reason FROM quarantine ORDER BY row", "--format", "csv"], &[]);
    let q: Vec<String> = stdout(&o).lines().skip(1).map(str::to_string).collect();
    assert_eq!(
        q,
        [
            "3,\"row has 4 field(s), the header has 3; expected one field per column\"",
            "4,\"row has 2 field(s), the header has 3; expected one field per column\""
        ]
    );
    let o = run(d, &["sql", "SELECT COUNT(*) AS n FROM prices", "--format", "csv"], &[]);
    assert_eq!(stdout(&o).lines().nth(1), Some("2"));
}

#[test]
fn ledger_amounts_with_a_decimal_comma_are_refused_with_the_row_named() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let header = "id,date,name,chains,reported_usd,returned_usd,classification,actor,attributed_by,attribution_date,attribution_source,victim_addresses,attacker_addresses,tx_hashes,source_url,notes";
    write(
        &d.join("ledger.csv"),
        &format!(
            "{header}\na,2022-03-23,A,ethereum,\"624,000,000.50\",,,,,,,,,,https://e.org/,\nb,2022-03-23,B,ethereum,\"624000000,50\",,,,,,,,,,https://e.org/,\nc,2022-03-23,C,ethereum,\"1.234,56\",,,,,,,,,,https://e.org/,\n"
        ),
    );
    write(&d.join("ifr.toml"), "[[sources]]\nname = \"ledger\"\nkind = \"incidents\"\nformat = \"ifr-ledger\"\npath = \"ledger.csv\"\n");
    let o = run(d, &["ingest"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(d, &["sql", "SELECT row, column, raw_value FROM quarantine ORDER BY row", "--format", "csv"], &[]);
    let q: Vec<String> = stdout(&o).lines().skip(1).map(str::to_string).collect();
    assert_eq!(q, ["3,reported_usd,\"624000000,50\"", "4,reported_usd,\"1.234,56\""]);
    let o = run(d, &["sql", "SELECT id, reported_usd FROM incidents", "--format", "csv"], &[]);
    assert_eq!(stdout(&o).lines().nth(1), Some("a,624000000.5"));
}

/// A report tree without its lock file (which names the last holder).
fn strip_lock(t: &BTreeMap<PathBuf, String>) -> BTreeMap<PathBuf, String> {
    t.iter().filter(|(p, _)| !p.ends_with(".ifr-lock")).map(|(p, h)| (p.clone(), h.clone())).collect()
}

/// The lake as readers see it: every live file by logical name with its sha256, and the counts.
fn lake_digest(lake: &Path) -> Vec<(String, String)> {
    let state = ifr_pipeline::lake::Lake::new(lake).load_state().unwrap();
    let mut out = Vec::new();
    for (name, s) in &state.sources {
        out.push((format!("{name} counts"), format!("{:?}", s.counts)));
        for o in &s.outputs {
            out.push((ifr_pipeline::lake::logical_name(o), ifr_pipeline::lake::hash_file(&lake.join(o)).unwrap().sha256));
        }
    }
    out.sort();
    out
}

fn copy_dir(from: &Path, to: &Path) {
    let o = Command::new("cp").arg("-a").arg(from).arg(to).output().unwrap();
    assert!(o.status.success());
}

/// Two synthetic datasets with the same file names (seeds 5 and 6): the folder `work` holds one
/// of them at a time under the config the generator wrote.
fn two_datasets(tmp: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (a, b, work) = (tmp.join("a"), tmp.join("b"), tmp.join("work"));
    small_synth(&a, 5);
    small_synth(&b, 6);
    (a, b, work)
}

/// Put dataset `from`'s input files into `work` (the lake and the report stay).
fn use_inputs(from: &Path, work: &Path) {
    for name in
        ["assets.csv", "actors.yaml", "labels.yaml", "sanctions", "incidents.csv", "recoveries.csv", "prices.csv", "chain", "ifr.toml"]
    {
        let target = work.join(name);
        if target.is_dir() {
            std::fs::remove_dir_all(&target).unwrap();
        }
        std::fs::create_dir_all(work).unwrap();
        copy_dir(&from.join(name), &target);
    }
}

#[test]
fn killed_at_any_point_of_an_ingest_the_lake_is_old_or_new_and_a_rerun_completes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, work) = two_datasets(tmp.path());
    // The new state, from a lake that only ever saw B.
    let fresh_b = tmp.path().join("fresh_b");
    use_inputs(&b, &fresh_b);
    assert!(run(&fresh_b, &["ingest"], &[]).status.success());
    let want_new = lake_digest(&fresh_b.join("lake"));
    // The old state: A ingested.
    use_inputs(&a, &work);
    assert!(run(&work, &["ingest"], &[]).status.success());
    let want_old = lake_digest(&work.join("lake"));
    assert_ne!(want_old, want_new);
    let pristine = tmp.path().join("lake_a");
    copy_dir(&work.join("lake"), &pristine);
    use_inputs(&b, &work);

    let mut points = 0;
    for k in 1.. {
        std::fs::remove_dir_all(work.join("lake")).unwrap();
        copy_dir(&pristine, &work.join("lake"));
        let o = run(&work, &["ingest"], &[("IFR_FAILPOINT", &format!("lake-publish:{k}"))]);
        if o.status.success() {
            assert_eq!(lake_digest(&work.join("lake")), want_new);
            break;
        }
        assert_eq!(o.status.code(), None, "killed at point {k}, not an error exit: {}", stderr(&o));
        points += 1;
        let seen = lake_digest(&work.join("lake"));
        assert!(seen == want_old || seen == want_new, "killed at publish point {k}: the lake is neither the old nor the new state");
        let o = run(&work, &["ingest"], &[]);
        assert!(o.status.success(), "rerun after a kill at point {k}: {}", stderr(&o));
        assert_eq!(lake_digest(&work.join("lake")), want_new, "rerun after a kill at point {k}");
        assert!(
            std::fs::read_dir(work.join("lake/.staging")).map_or(true, |mut d| d.next().is_none()),
            "stale staging left after the rerun"
        );
        // Nothing but the live files remains in the table folders.
        let live: std::collections::BTreeSet<PathBuf> = ifr_pipeline::lake::Lake::new(work.join("lake"))
            .load_state()
            .unwrap()
            .sources
            .values()
            .flat_map(|s| s.outputs.iter().map(PathBuf::from))
            .collect();
        let on_disk: std::collections::BTreeSet<PathBuf> =
            tree(&work.join("lake")).into_keys().filter(|p| !p.starts_with("_ingest") && !p.starts_with(".ifr-owned")).collect();
        assert_eq!(on_disk, live, "after the rerun of a kill at point {k}");
    }
    eprintln!("lake publish: killed at each of {points} points");
    assert!(points >= 20, "only {points} publish points were killed");

    // And real kill -9 (SIGKILL) at moments spread over a whole ingest of the new inputs.
    for delay_ms in [0, 10, 30, 60, 100, 150, 200, 300, 450, 700] {
        std::fs::remove_dir_all(work.join("lake")).unwrap();
        copy_dir(&pristine, &work.join("lake"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_ifr"))
            .arg("ingest")
            .current_dir(&work)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let seen = lake_digest(&work.join("lake"));
        assert!(seen == want_old || seen == want_new, "kill -9 after {delay_ms} ms: the lake is neither the old nor the new state");
        let o = run(&work, &["ingest"], &[]);
        assert!(o.status.success(), "rerun after kill -9 at {delay_ms} ms: {}", stderr(&o));
        assert_eq!(lake_digest(&work.join("lake")), want_new, "rerun after kill -9 at {delay_ms} ms");
    }
}

#[test]
fn killed_at_any_point_of_the_report_publish_each_year_is_old_or_new() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    synth_into(&a, 24_000, (2022, 2023), 5, ifr_pipeline::synth::SynthFormat::Cryo);
    synth_into(&b, 24_000, (2022, 2023), 6, ifr_pipeline::synth::SynthFormat::Cryo);
    let work = tmp.path().join("work");
    use_inputs(&a, &work);
    assert!(run(&work, &["run"], &[]).status.success());
    let old = tree(&work.join("report"));
    let years = ["2022", "2023"];
    let year_of = |t: &BTreeMap<PathBuf, String>, y: &str| -> BTreeMap<PathBuf, String> {
        t.iter().filter(|(p, _)| p.starts_with(y)).map(|(p, h)| (p.clone(), h.clone())).collect()
    };
    use_inputs(&b, &work);
    assert!(run(&work, &["ingest"], &[]).status.success());
    let pristine = tmp.path().join("report_a");
    copy_dir(&work.join("report"), &pristine);
    // The new report, from an uninterrupted run over the old one.
    assert!(run(&work, &["report"], &[]).status.success());
    let uninterrupted = tree(&work.join("report"));
    let mut killed = Vec::new();
    for k in 1..=years.len() + 1 {
        std::fs::remove_dir_all(work.join("report")).unwrap();
        copy_dir(&pristine, &work.join("report"));
        let o = run(&work, &["report"], &[("IFR_FAILPOINT", &format!("report-publish:{k}"))]);
        assert_eq!(o.status.code(), None, "point {k}: {}", stderr(&o));
        killed.push(tree(&work.join("report")));
    }
    let o = run(&work, &["report"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let new = tree(&work.join("report"));
    assert_eq!(strip_lock(&new), strip_lock(&uninterrupted), "the rerun after the kills equals an uninterrupted run");
    for y in years {
        assert_ne!(year_of(&old, y), year_of(&new, y));
    }
    for (k, t) in killed.iter().enumerate() {
        for y in years {
            let seen = year_of(t, y);
            assert!(seen == year_of(&old, y) || seen == year_of(&new, y), "killed at report point {}: {y} is neither old nor new", k + 1);
        }
    }
    // The rerun cleared what the killed runs left.
    assert!(std::fs::read_dir(work.join("report")).unwrap().flatten().all(|e| !e.file_name().to_string_lossy().starts_with(".partial-")));
}

#[test]
fn concurrent_writers_exactly_one_proceeds_and_the_other_names_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // Enough rows that an ingest takes a while.
    let mut prices = String::from("day,asset,close_usd\n");
    for i in 0..150_000 {
        prices.push_str(&format!("{},A{},{}.5\n", ifr_pipeline::sources::day_to_string(18_000 + i % 1_000), i / 1_000, i));
    }
    write(&d.join("prices.csv"), &prices);
    write(&d.join("ifr.toml"), &prices_config(""));
    let mut overlapped = 0;
    for pair in 0..20 {
        let _ = std::fs::remove_dir_all(d.join("lake"));
        let spawn = || {
            Command::new(env!("CARGO_BIN_EXE_ifr"))
                .arg("ingest")
                .current_dir(d)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (x, y) = (spawn(), spawn());
        let (x, y) = (x.wait_with_output().unwrap(), y.wait_with_output().unwrap());
        let ok = [&x, &y].iter().filter(|o| o.status.success()).count();
        if ok == 2 {
            // On a loaded machine the second can start after the first has finished: it then
            // finds the lake as the first left it, and loads nothing.
            assert!(
                [&x, &y].iter().any(|o| stdout(o).contains("] unchanged:")),
                "pair {pair}: both loaded at once: {} / {}",
                stdout(&x),
                stdout(&y)
            );
            continue;
        }
        overlapped += 1;
        assert_eq!(ok, 1, "pair {pair}: {} / {}", stderr(&x), stderr(&y));
        let loser = if x.status.success() { &y } else { &x };
        assert_eq!(loser.status.code(), Some(3), "pair {pair}: another run holds the lake: {}", stderr(loser));
        let e = stderr(loser);
        assert!(e.contains("is being written by another ifr run (pid ") && e.contains("`ifr ingest`"), "pair {pair}: {e}");
    }
    assert!(overlapped >= 10, "only {overlapped} of 20 pairs ran at the same time: the test did not test the lock");
}

#[test]
fn readers_never_block_while_a_writer_holds_the_lake_and_stale_staging_is_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(&d.join("prices.csv"), PRICES);
    write(&d.join("ifr.toml"), &prices_config(""));
    assert!(run(d, &["ingest"], &[]).status.success());
    // A dead run's staging folder.
    write(&d.join("lake/.staging/20200101T000000000Z-1/prices/prices.parquet"), "half written");
    let held = ifr_pipeline::lake::WriteLock::acquire(&d.join("lake/_ingest/lock"), "the lake", "a test").unwrap();
    let o = run(d, &["sql", "SELECT COUNT(*) AS n FROM prices", "--format", "csv"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().nth(1), Some("2"));
    let o = run(d, &["ingest"], &[]);
    assert_eq!(o.status.code(), Some(3), "another run holds the lake");
    assert!(stderr(&o).contains("being written by another ifr run") && stderr(&o).contains("`a test`"), "{}", stderr(&o));
    drop(held);
    let o = run(d, &["ingest"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!d.join("lake/.staging").exists(), "a dead run's staging is removed at the next start");
}

#[test]
fn dotdot_paths_are_resolved_before_a_folder_is_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(&d.join("photos/2022/beach.jpg"), "a photo");
    write(&d.join("mydata/notes.txt"), "my notes");
    write(&d.join("prices.csv"), PRICES);
    write(&d.join("ifr.toml"), &prices_config(""));
    let before = tree_outside(d, "lake");
    // `photos/missing/..` is `photos`, whatever the OS would make of the missing folder.
    let o = run(d, &["run", "--out", "photos/missing/.."], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("did not create and it is not empty"), "{}", stderr(&o));
    let o =
        run(d, &["synth", "--out", "mydata/zz/..", "--force", "--transfers", "12000", "--from", "2022-01-01", "--to", "2022-12-31"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(tree_outside(d, "lake"), before, "nothing outside the lake changed");
    // The lake is never taken for a report folder, however it is spelled.
    assert!(run(d, &["ingest"], &[]).status.success());
    let lake_before = tree(&d.join("lake"));
    for out in ["lake/x/..", "lake/rep", "lake/.staging", "lake"] {
        let o = run(d, &["report", "--out", out], &[]);
        assert_eq!(o.status.code(), Some(1), "--out {out}: {}", stderr(&o));
        assert!(stderr(&o).contains("overlap"), "--out {out}: {}", stderr(&o));
    }
    let lake_after = tree(&d.join("lake"));
    assert_eq!(
        lake_after.keys().filter(|p| !p.ends_with("readers.lock")).collect::<Vec<_>>(),
        lake_before.keys().filter(|p| !p.ends_with("readers.lock")).collect::<Vec<_>>()
    );
    assert_eq!(lake_after.get(Path::new(".ifr-owned")), lake_before.get(Path::new(".ifr-owned")));
}

#[test]
fn ifr_folders_inside_a_source_folder_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(&d.join("in/prices.csv"), PRICES);
    let config = "[[sources]]\nname = \"prices\"\nkind = \"prices\"\nformat = \"price-csv\"\npath = \"in\"\n";
    write(&d.join("ifr.toml"), config);
    let before = tree(d);
    let o = run(d, &["run", "--out", "in/report"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("overlap") && stderr(&o).contains("source path"), "{}", stderr(&o));
    assert_eq!(tree(d), before, "refused before the lake was touched");
    write(&d.join("ifr.toml"), &format!("lake = \"in/lake\"\n{config}"));
    let o = run(d, &["ingest"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("overlap"), "{}", stderr(&o));
    assert!(!d.join("in/lake").exists());
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [vec!["bogus"], vec!["run", "--nope"], vec!["report", "--year", "abc"], vec!["sql", "SELECT 1", "--format", "xml"], vec![]]
    {
        let o = run(tmp.path(), &args, &[]);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("error:") || stderr(&o).contains("Usage"), "{args:?}: {}", stderr(&o));
    }
    for args in [vec!["--help"], vec!["--version"], vec!["run", "--help"]] {
        assert_eq!(run(tmp.path(), &args, &[]).status.code(), Some(0), "{args:?}");
    }
}

#[test]
fn an_unreadable_defillama_returned_amount_is_quarantined_not_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(
        &d.join("hacks.csv"),
        "date,name,classification,technique,amount,chain,source,returnedFunds\n2022-03-23,A,x,y,100.0,Ethereum,https://e.org/,1,5\n2022-03-24,B,x,y,100.0,Ethereum,https://e.org/,\"1,5\"\n2022-03-25,C,x,y,100.0,Ethereum,https://e.org/,-5\n2022-03-26,D,x,y,100.0,Ethereum,https://e.org/,7.5\n",
    );
    write(&d.join("ifr.toml"), "[[sources]]\nname = \"hacks\"\nkind = \"incidents\"\nformat = \"defillama\"\npath = \"hacks.csv\"\n");
    let o = run(d, &["ingest"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(d, &["sql", "SELECT row, column FROM quarantine ORDER BY row", "--format", "csv"], &[]);
    let q: Vec<String> = stdout(&o).lines().skip(1).map(str::to_string).collect();
    // Line 2 has one field too many (an unquoted decimal comma); lines 3 and 4 are not amounts.
    assert_eq!(q, ["2,", "3,returnedFunds", "4,returnedFunds"]);
    let o = run(d, &["sql", "SELECT name, returned_usd FROM incidents", "--format", "csv"], &[]);
    assert_eq!(stdout(&o).lines().skip(1).collect::<Vec<_>>(), ["D,7.5"]);
}

#[test]
fn a_closed_stdout_is_success_and_prints_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut prices = String::from("day,asset,close_usd\n");
    for i in 0..50_000 {
        prices.push_str(&format!("{},A{},{}.5\n", ifr_pipeline::sources::day_to_string(18_000 + i % 1_000), i / 1_000, i));
    }
    write(&d.join("prices.csv"), &prices);
    write(&d.join("ifr.toml"), &prices_config(""));
    assert!(run(d, &["ingest"], &[]).status.success());
    let ifr = env!("CARGO_BIN_EXE_ifr");
    for args in
        ["sql 'SELECT * FROM prices' --format csv", "sql 'SELECT * FROM prices' --format json", "sql 'SELECT * FROM prices'", "tables"]
    {
        let o = Command::new("bash")
            .arg("-c")
            .arg(format!("set -o pipefail; '{ifr}' {args} | head -c 100 >/dev/null"))
            .current_dir(d)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "ifr {args} | head: {}", stderr(&o));
        assert_eq!(stderr(&o), "", "ifr {args} | head");
    }
}
