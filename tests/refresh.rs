//! `ifr refresh`: dated releases, `current` switched atomically, restatements with their cause,
//! one refresh at a time (exit 3), a killed refresh completed by the next one.

use std::path::Path;

use ifr_pipeline::synth::SynthFormat;

use crate::common::*;

fn refresh(dir: &Path, env: &[(&str, &str)]) -> std::process::Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_ifr"));
    c.args(["refresh"]).current_dir(dir);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run ifr")
}

fn current(releases: &Path) -> String {
    std::fs::read_link(releases.join("current")).expect("a current link").to_string_lossy().into_owned()
}

/// The release folders (not the link, not ifr's own files), sorted.
fn release_ids(releases: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(releases)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && n != "current")
        .collect();
    v.sort();
    v
}

/// A release's tables and figures (what a reader cites), by path inside the release.
fn figures_and_tables(release: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for year in ["2022", "2023"] {
        let y = release.join(year);
        out.push((format!("{year}/figures.json"), std::fs::read_to_string(y.join("figures.json")).unwrap()));
        let mut names: Vec<_> = std::fs::read_dir(y.join("tables")).unwrap().flatten().map(|e| e.path()).collect();
        names.sort();
        for p in names {
            out.push((format!("{year}/tables/{}", p.file_name().unwrap().to_string_lossy()), std::fs::read_to_string(&p).unwrap()));
        }
    }
    out
}

/// Change the close of one price series on one day in the dataset's prices.csv.
fn correct_price(prices: &Path, day_asset: &str, close: &str) {
    let text = std::fs::read_to_string(prices).unwrap();
    let mut found = false;
    let fixed: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with(day_asset) {
                found = true;
                format!("{day_asset},{close}")
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(found, "no {day_asset} row");
    std::fs::write(prices, fixed.join("\n") + "\n").unwrap();
}

#[test]
fn releases_are_dated_current_moves_atomically_and_restatements_name_their_cause() {
    let tmp = tempfile::tempdir().unwrap();
    let s = synth_dataset(tmp.path(), SynthFormat::Cryo);
    let d = tmp.path().join("syn");
    let releases = d.join("releases");

    let o = refresh(&d, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("published release"), "{}", stdout(&o));
    let first = current(&releases);
    assert_eq!(release_ids(&releases), std::slice::from_ref(&first));
    let release_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(releases.join(&first).join("release.json")).unwrap()).unwrap();
    assert_eq!(release_json["years"], serde_json::json!([2022, 2023]));
    assert!(release_json["sources"].as_array().unwrap().iter().any(|x| x["kind"] == "chain"));
    // The first release has nothing to compare with: a header only.
    assert_eq!(
        std::fs::read_to_string(releases.join(&first).join("restatements.csv")).unwrap(),
        "year,figure,old,new,change,change_pct,cause\n"
    );
    let before = snapshot(&releases.join(&first));

    // Nothing new: no release, exit 0.
    let o = refresh(&d, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("nothing changed"), "{}", stdout(&o));
    assert_eq!(release_ids(&releases), std::slice::from_ref(&first));

    // A price correction: ETH on the day of Ronin's theft (2022-03-23) from the file's close to 500.
    let prices = d.join("prices.csv");
    let old_close: f64 = std::fs::read_to_string(&prices)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("2022-03-23,ETH,"))
        .unwrap()
        .rsplit(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    correct_price(&prices, "2022-03-23,ETH", "500");
    let o = refresh(&d, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let second = current(&releases);
    assert_ne!(second, first);
    assert_eq!(release_ids(&releases), [first.clone(), second.clone()]);
    assert_eq!(snapshot(&releases.join(&first)), before, "an old release is never touched");
    let restated = std::fs::read_to_string(releases.join(&second).join("restatements.csv")).unwrap();
    // Ronin's theft (the ledger's tx hash) is valued at the new close: its on-chain value moves by
    // the ETH it moved x (500 - the old close); its USDC does not move.
    let ronin_hash = "0xc28fad5e8d5e0ce6a2eaf67b6687be5d58113e16be590824d6cfa1a94467d0b7";
    let t = table(&s, "transfers");
    let (hashes, assets, amounts) = (
        t.column("tx_hash").unwrap().str().unwrap(),
        t.column("asset").unwrap().str().unwrap(),
        t.column("amount").unwrap().f64().unwrap(),
    );
    let eth: f64 = (0..t.height())
        .filter(|&i| hashes.get(i) == Some(ronin_hash) && assets.get(i) == Some("ETH"))
        .map(|i| amounts.get(i).unwrap())
        .sum();
    assert!(eth > 0.0, "Ronin's theft moves ETH in the sample");
    let ronin: Vec<&str> =
        restated.lines().find(|l| l.starts_with("2022,incident.ronin-2022.onchain_usd,")).expect(&restated).split(',').collect();
    let (old, new): (f64, f64) = (ronin[2].parse().unwrap(), ronin[3].parse().unwrap());
    let want = eth * (500.0 - old_close);
    assert!((new - old - want).abs() <= 0.01 + 1e-9 * want.abs(), "{ronin:?}: want a change of {want}");
    assert_eq!(ronin[4], format!("{:.2}", new - old), "the change is new - old, exact to the cent");
    assert_eq!(ronin[6], "price corrections");
    // Figures that do not read prices did not move.
    assert!(!restated.contains(".reported_usd"), "{restated}");
    let md = std::fs::read_to_string(releases.join(&second).join("2022/report.md")).unwrap();
    assert!(md.contains(&format!("## Changes since {first}")), "{md}");
    let html = std::fs::read_to_string(releases.join(&second).join("2022/index.html")).unwrap();
    assert!(html.contains("id=\"changes\""));

    // `ifr diff` gives the same rows for the same two releases.
    let o = ifr(&d, &["diff", &first, "current"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), restated);
    let o = ifr(&d, &["diff", "nope", "current"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no release `nope`"), "{}", stderr(&o));
    drop(s);
}

#[test]
fn a_killed_refresh_leaves_current_whole_and_the_next_one_completes_it() {
    let tmp = tempfile::tempdir().unwrap();
    synth_dataset(tmp.path(), SynthFormat::Cryo);
    let d = tmp.path().join("syn");
    let releases = d.join("releases");
    assert!(refresh(&d, &[]).status.success());
    assert!(!current(&releases).is_empty());
    correct_price(&d.join("prices.csv"), "2022-03-23,ETH", "500");
    // Killed before the release is in place (1), after it is but before `current` moves (2), and
    // after (3): `current` is always a complete release, the old or the new one.
    let mut finals = Vec::new();
    for n in 1..=3 {
        let before = current(&releases);
        let o = refresh(&d, &[("IFR_FAILPOINT", &format!("refresh-publish:{n}"))]);
        assert_ne!(o.status.code(), Some(0), "failpoint {n} did not fire: {}", stdout(&o));
        let now = current(&releases);
        assert!(release_ids(&releases).contains(&now), "failpoint {n}");
        assert!(releases.join(&now).join("release.json").is_file() && releases.join(&now).join("2022/figures.json").is_file());
        assert_eq!(now == before, n < 3, "failpoint {n}: current is {now}");
        // The next refresh completes the work.
        let o = refresh(&d, &[]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let done = current(&releases);
        assert_ne!(done, before);
        assert!(!std::fs::read_dir(&releases).unwrap().flatten().any(|e| e.file_name().to_string_lossy().starts_with(".partial-")));
        finals.push(figures_and_tables(&releases.join(&done)));
        // Back to the first release's inputs for the next round: a new release like the first.
        correct_price(&d.join("prices.csv"), "2022-03-23,ETH", "400");
        assert!(refresh(&d, &[]).status.success());
        correct_price(&d.join("prices.csv"), "2022-03-23,ETH", "500");
    }
    // Every completed release (after a kill) has the same tables and figures as the others.
    assert!(finals.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn a_second_refresh_exits_3_naming_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    synth_dataset(tmp.path(), SynthFormat::Cryo);
    let d = tmp.path().join("syn");
    assert!(refresh(&d, &[]).status.success());
    let held = ifr_pipeline::lake::WriteLock::acquire(&d.join("releases/.ifr-lock"), "the releases folder", "a test").unwrap();
    let o = refresh(&d, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("`a test`"), "{}", stderr(&o));
    drop(held);
    assert_eq!(refresh(&d, &[]).status.code(), Some(0));
}
