//! `ifr synth`: its exports load through the real loaders with nothing quarantined, the same seed
//! gives byte-identical files, and truth/ equals an independent recount over the loaded lake.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use ifr_pipeline::NoProgress;
use ifr_pipeline::synth::{SynthFormat, SynthOptions};
use polars::prelude::*;

use crate::common::*;

fn opts(out: &Path, transfers: u64, seed: u64, format: SynthFormat) -> SynthOptions {
    SynthOptions {
        out: out.to_path_buf(),
        transfers,
        from: chrono::NaiveDate::from_ymd_opt(2022, 1, 1).unwrap(),
        to: chrono::NaiveDate::from_ymd_opt(2022, 12, 31).unwrap(),
        seed,
        format,
        chunk_blocks: None,
        bitcoin_txs: 0,
        bitcoin_gzip: false,
        force: false,
    }
}

fn ingest(dir: &Path) -> (ifr_pipeline::Settings, ifr_pipeline::IngestSummary) {
    let s = ifr_pipeline::Settings::load(&dir.join("ifr.toml")).unwrap();
    let summary = ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    (s, summary)
}

#[test]
fn synth_exports_load_with_nothing_quarantined() {
    for format in [SynthFormat::Cryo, SynthFormat::EthereumEtl] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("syn");
        let summary = ifr_pipeline::synth::run(&opts(&out, 20_000, 3, format)).unwrap();
        assert_eq!(summary.transfers, 20_000);
        assert_eq!(summary.incidents, ["ronin-2022", "harmony-2022"]);
        let (s, ingest) = ingest(&out);
        for src in &ingest.sources {
            assert_eq!((src.counts.quarantined, src.counts.duplicates), (0, 0), "{format:?} {}: {:?}", src.name, src.counts);
            assert!(src.counts.balanced());
        }
        let t = table(&s, "transfers");
        assert_eq!(t.height(), 20_000, "{format:?}");
        // The theft transfers carry the ledger's public tx hashes, at the incident's date.
        let lake = ifr_pipeline::lake::Lake::new(&s.lake_dir);
        let theft = ifr_pipeline::sql(
            &lake,
            "SELECT asset, from_address, to_address FROM transfers WHERE tx_hash IN \
             ('0xc28fad5e8d5e0ce6a2eaf67b6687be5d58113e16be590824d6cfa1a94467d0b7', '0xed2c72ef1a552ddaec6dd1f5cddf0b59a8f37f82bdda5257d9c7c37db7bb9b08') ORDER BY asset",
        )
        .unwrap();
        assert_eq!(
            rows(&theft),
            [
                "\"ETH\"|\"0x1a2a1c938ce3ec39b6d47113c7955baa9dd454f2\"|\"0x098b716b8aaf21512996dc57eb0615e2383e2f96\"",
                "\"USDC\"|\"0x1a2a1c938ce3ec39b6d47113c7955baa9dd454f2\"|\"0x098b716b8aaf21512996dc57eb0615e2383e2f96\""
            ]
        );
    }
}

#[test]
fn the_same_seed_gives_byte_identical_files() {
    let tmp = tempfile::tempdir().unwrap();
    let mut digests = Vec::new();
    for (name, seed) in [("a", 7), ("b", 7), ("c", 8)] {
        let out = tmp.path().join(name);
        ifr_pipeline::synth::run(&opts(&out, 15_000, seed, SynthFormat::Cryo)).unwrap();
        let files: Vec<(String, String)> =
            snapshot(&out).into_iter().map(|(p, h, _)| (p.strip_prefix(&out).unwrap().display().to_string(), h)).collect();
        digests.push(files);
    }
    assert!(digests[0].len() > 10);
    assert_eq!(digests[0], digests[1]);
    assert_ne!(digests[0], digests[2]);
}

/// Read a truth CSV into key -> numbers.
fn truth_csv(path: &Path, keys: usize) -> BTreeMap<Vec<String>, Vec<f64>> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[..keys].iter().map(|s| s.to_string()).collect(), f[keys..].iter().map(|x| x.parse().unwrap()).collect())
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0) || (a - b).abs() < 0.005
}

#[test]
fn truth_equals_an_independent_recount_of_the_loaded_transfers() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("syn");
    ifr_pipeline::synth::run(&opts(&out, 30_000, 11, SynthFormat::EthereumEtl)).unwrap();
    let (totals, dest) = recount_equals_truth(&out);
    let dprk_stolen = &totals[&vec!["dprk".to_string(), "2022".into(), "stolen".into()]];
    assert_eq!(dprk_stolen[1], 3.0, "Ronin's ETH and USDC theft transfers and Harmony's");
    // Sanctions exposure and laundering give DPRK outflows to several kinds of receivers.
    let cats: HashSet<&str> = dest.keys().filter(|k| k[0] == "dprk").map(|k| k[2].as_str()).collect();
    assert!(cats.contains("unlabelled") && cats.contains("defi"), "{cats:?}");
}

/// A dataset with a Bitcoin export: every Bitcoin item loads, every input resolves, and the
/// truth (computed from the proportional rule as the generator wrote each transaction) equals the
/// same independent recount over the loaded transfers of both chains.
#[test]
fn a_bitcoin_export_loads_whole_and_its_truth_equals_a_recount() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("syn");
    let summary = ifr_pipeline::synth::run(&SynthOptions {
        bitcoin_txs: 6_000,
        from: chrono::NaiveDate::from_ymd_opt(2021, 1, 1).unwrap(),
        ..opts(&out, 30_000, 11, SynthFormat::Cryo)
    })
    .unwrap();
    assert_eq!((summary.links, summary.bitcoin_planted > 0), (3, true), "one link per incident (Ronin, Harmony, Liquid): {summary:?}");
    let (_, ingest_summary) = ingest(&out);
    let btc = ingest_summary.sources.iter().find(|x| x.name == "bitcoin").expect("a bitcoin source in the generated ifr.toml");
    let c = &btc.counts;
    // Every block and transaction line is one item, loaded; nothing quarantined or left out.
    assert_eq!((c.read, c.loaded, c.quarantined, c.duplicates, c.filtered), (c.read, c.read, 0, 0, 0));
    assert_eq!(c.read, summary.bitcoin_txs + summary.bitcoin_blocks);
    // Every input (none enriched) is resolved against the output it spends; every transaction
    // but the coinbases gives flows.
    let how = btc.method.as_deref().unwrap();
    assert!(how.contains("(0 spend outputs not loaded)") && how.contains("without (an input unresolved): 0"), "{how}");
    let links = ingest_summary.sources.iter().find(|x| x.name == "links").unwrap();
    assert_eq!((links.counts.read, links.counts.loaded), (3, 3));
    let (totals, _) = recount_equals_truth(&out);
    // Liquid's Bitcoin part is stolen in 2021, at its real attacker address (the ledger's).
    let liquid = &totals[&vec!["dprk".to_string(), "2021".into(), "stolen".into()]];
    assert_eq!(liquid[1], 2.0, "Liquid's ETH theft transfer and its Bitcoin one");
    let ledger = std::fs::read_to_string(out.join("incidents.csv")).unwrap();
    assert!(ledger.lines().any(|l| l.starts_with("liquid-2021,") && l.contains("12PKkwoFkXp6JtN7roWRA2gSitE6nVDds4")));
    let truth = std::fs::read_to_string(out.join("truth/incidents.csv")).unwrap();
    assert!(truth.lines().any(|l| l.starts_with("liquid-2021,dprk,2021-08-19,97000000,BTC,")), "{truth}");
}

/// `--bitcoin-gzip` writes the same export compressed: each `.json.gz` decompresses to the plain
/// run's file of the same name, and both load the same items.
#[test]
fn a_gzipped_bitcoin_export_is_the_plain_one_compressed() {
    let tmp = tempfile::tempdir().unwrap();
    let (plain, gz) = (tmp.path().join("plain"), tmp.path().join("gz"));
    let base = SynthOptions { bitcoin_txs: 1_500, ..opts(&plain, 5_000, 3, SynthFormat::Cryo) };
    ifr_pipeline::synth::run(&base).unwrap();
    ifr_pipeline::synth::run(&SynthOptions { out: gz.clone(), bitcoin_gzip: true, ..base.clone() }).unwrap();
    let files = |root: &Path| -> Vec<std::path::PathBuf> {
        let (mut v, mut dirs) = (Vec::new(), vec![root.join("bitcoin")]);
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else {
                    v.push(p.strip_prefix(root).unwrap().to_path_buf());
                }
            }
        }
        v.sort();
        v
    };
    let (pf, gf) = (files(&plain), files(&gz));
    assert!(pf.len() >= 2 && pf.iter().all(|p| p.extension().unwrap() == "json"), "{pf:?}");
    assert_eq!(gf, pf.iter().map(|p| p.with_extension("json.gz")).collect::<Vec<_>>());
    for (p, g) in pf.iter().zip(&gf) {
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(std::fs::File::open(gz.join(g)).unwrap()), &mut text).unwrap();
        assert_eq!(text, std::fs::read(plain.join(p)).unwrap(), "{g:?}");
    }
    let counts = |dir: &Path| ingest(dir).1.sources.into_iter().find(|x| x.name == "bitcoin").unwrap().counts;
    let (a, b) = (counts(&plain), counts(&gz));
    assert_eq!((a.read, a.loaded, a.quarantined), (b.read, b.loaded, b.quarantined));
    assert_eq!((b.read, b.quarantined), (b.loaded, 0));
}

/// Compare truth/ with a recount over the lake of an ingested dataset; returns the recount.
type Recount = BTreeMap<Vec<String>, Vec<f64>>;
fn recount_equals_truth(out: &Path) -> (Recount, Recount) {
    let (s, _) = ingest(out);

    // Attribution, from the lake: labels, then sanctions via the actor linked to the SDN party.
    let labels = table(&s, "labels");
    let mut actor_of: HashMap<String, (String, String)> = HashMap::new();
    let (la, lc, lact) = (
        labels.column("address").unwrap().str().unwrap(),
        labels.column("category").unwrap().str().unwrap(),
        labels.column("actor").unwrap().str().unwrap(),
    );
    for i in 0..labels.height() {
        let cat = match lc.get(i).unwrap_or("") {
            "exchange" => "exchange",
            "mixing_service" => "mixer",
            "bridge" => "bridge",
            "defi_dex" => "defi",
            _ => "other",
        };
        actor_of.insert(la.get(i).unwrap().into(), (lact.get(i).unwrap().into(), cat.into()));
    }
    let actors = table(&s, "actors");
    let mut parent = HashMap::new();
    let mut by_party = HashMap::new();
    for i in 0..actors.height() {
        let id = actors.column("id").unwrap().str().unwrap().get(i).unwrap().to_string();
        if let Some(p) = actors.column("parent").unwrap().str().unwrap().get(i) {
            parent.insert(id.clone(), p.to_string());
        }
        if let Some(p) = actors.column("sdn_party_id").unwrap().str().unwrap().get(i) {
            by_party.insert(p.to_string(), id);
        }
    }
    let sanctions = table(&s, "sanctions");
    for i in 0..sanctions.height() {
        let addr = sanctions.column("address").unwrap().str().unwrap().get(i).unwrap();
        let party = sanctions.column("party_id").unwrap().str().unwrap().get(i).unwrap();
        actor_of.entry(addr.into()).or_insert_with(|| (by_party[party].clone(), "sanctioned".into()));
    }
    let chain = |a: &str| {
        let mut v = vec![a.to_string()];
        while let Some(p) = parent.get(v.last().unwrap()) {
            v.push(p.clone());
        }
        v
    };
    // Prices by (series, day) and the series of each asset.
    let prices = table(&s, "prices");
    let mut close_of: HashMap<(String, i32), f64> = HashMap::new();
    let days = prices.column("day").unwrap().cast(&DataType::Int32).unwrap();
    for i in 0..prices.height() {
        close_of.insert(
            (prices.column("asset").unwrap().str().unwrap().get(i).unwrap().into(), days.i32().unwrap().get(i).unwrap()),
            prices.column("close_usd").unwrap().f64().unwrap().get(i).unwrap(),
        );
    }
    let assets = table(&s, "assets");
    let series: HashMap<String, Option<String>> = (0..assets.height())
        .map(|i| {
            (
                assets.column("symbol").unwrap().str().unwrap().get(i).unwrap().to_string(),
                assets.column("price_asset").unwrap().str().unwrap().get(i).map(str::to_string),
            )
        })
        .collect();
    // Theft transfers, from the ledger alone: its tx hashes, else victim -> attacker on the day.
    struct Theft {
        actor: String,
        day: i32,
        hashes: HashSet<String>,
        victims: HashSet<String>,
        attackers: HashSet<String>,
    }
    let inc = table(&s, "incidents");
    let inc_days = inc.column("date").unwrap().cast(&DataType::Int32).unwrap();
    let list = |c: &str, i: usize| -> HashSet<String> {
        inc.column(c).unwrap().str().unwrap().get(i).map(|v| v.split(';').map(str::to_string).collect()).unwrap_or_default()
    };
    let thefts: Vec<Theft> = (0..inc.height())
        .map(|i| Theft {
            actor: inc.column("actor").unwrap().str().unwrap().get(i).unwrap().to_string(),
            day: inc_days.i32().unwrap().get(i).unwrap(),
            hashes: list("tx_hashes", i),
            victims: list("victim_addresses", i),
            attackers: list("attacker_addresses", i),
        })
        .collect();
    let t = table(&s, "transfers");
    let day = t.column("block_time").unwrap().cast(&DataType::Date).unwrap().cast(&DataType::Int32).unwrap();
    let (from, to, asset, amount, year, hash) = (
        t.column("from_address").unwrap().str().unwrap(),
        t.column("to_address").unwrap().str().unwrap(),
        t.column("asset").unwrap().str().unwrap(),
        t.column("amount").unwrap().f64().unwrap(),
        t.column("year").unwrap().i32().unwrap(),
        t.column("tx_hash").unwrap().str().unwrap(),
    );
    let mut totals: BTreeMap<Vec<String>, Vec<f64>> = BTreeMap::new();
    let mut dest: BTreeMap<Vec<String>, Vec<f64>> = BTreeMap::new();
    let add = |m: &mut BTreeMap<Vec<String>, Vec<f64>>, key: Vec<String>, usd: Option<f64>, with_unpriced: bool| {
        let e = m.entry(key).or_insert_with(|| if with_unpriced { vec![0.0, 0.0, 0.0] } else { vec![0.0, 0.0] });
        e[0] += usd.unwrap_or(0.0);
        e[1] += 1.0;
        if with_unpriced && usd.is_none() {
            e[2] += 1.0;
        }
    };
    for i in 0..t.height() {
        let a = asset.get(i).unwrap();
        let usd = series[a]
            .as_ref()
            .and_then(|sr| close_of.get(&(sr.clone(), day.i32().unwrap().get(i).unwrap())))
            .map(|p| amount.get(i).unwrap() * p);
        let y = year.get(i).unwrap().to_string();
        let fa = actor_of.get(from.get(i).unwrap()).map(|x| chain(&x.0)).unwrap_or_default();
        let (ta, tcat) = match actor_of.get(to.get(i).unwrap()) {
            Some((a, c)) => (chain(a), c.clone()),
            None => (vec![], "unlabelled".to_string()),
        };
        for x in ta.iter().filter(|x| !fa.contains(x)) {
            add(&mut totals, vec![x.clone(), y.clone(), "inflow".into()], usd, true);
        }
        for x in fa.iter().filter(|x| !ta.contains(x)) {
            add(&mut totals, vec![x.clone(), y.clone(), "outflow".into()], usd, true);
            add(&mut dest, vec![x.clone(), y.clone(), tcat.clone()], usd, false);
        }
        let d = day.i32().unwrap().get(i).unwrap();
        for th in &thefts {
            let by_hash = th.hashes.contains(hash.get(i).unwrap());
            let by_parties = th.hashes.is_empty()
                && d == th.day
                && th.victims.contains(from.get(i).unwrap())
                && th.attackers.contains(to.get(i).unwrap());
            if by_hash || by_parties {
                for x in chain(&th.actor) {
                    add(&mut totals, vec![x, y.clone(), "stolen".into()], usd, true);
                }
            }
        }
    }
    for (name, recount, keys) in [("actor_year_totals.csv", &totals, 3), ("actor_destinations.csv", &dest, 3)] {
        let truth = truth_csv(&out.join("truth").join(name), keys);
        assert_eq!(truth.keys().collect::<Vec<_>>(), recount.keys().collect::<Vec<_>>(), "{name}: keys");
        for (k, v) in &truth {
            let r = &recount[k];
            assert!(close(v[0], r[0]), "{name} {k:?}: truth {} vs recount {}", v[0], r[0]);
            assert_eq!(&v[1..], &r[1..], "{name} {k:?}: counts");
        }
    }
    (totals, dest)
}

#[test]
fn impossible_arguments_are_refused_with_what_to_change() {
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts(&tmp.path().join("x"), 20_000, 1, SynthFormat::Cryo);
    o.from = chrono::NaiveDate::from_ymd_opt(2023, 1, 1).unwrap();
    let e = ifr_pipeline::synth::run(&o).unwrap_err().to_string();
    assert!(e.contains("is after --to"), "{e}");

    let e = ifr_pipeline::synth::run(&opts(&tmp.path().join("x"), 500, 1, SynthFormat::Cryo)).unwrap_err().to_string();
    assert!(e.contains("--transfers 500 is too small") && e.contains("or more"), "{e}");

    std::fs::create_dir_all(tmp.path().join("full")).unwrap();
    std::fs::write(tmp.path().join("full/keep.txt"), "x").unwrap();
    let e = ifr_pipeline::synth::run(&opts(&tmp.path().join("full"), 20_000, 1, SynthFormat::Cryo)).unwrap_err().to_string();
    // A folder ifr did not create is never emptied for it, with or without --force.
    assert!(e.contains("not empty") && e.contains("did not create"), "{e}");
    let forced = SynthOptions { force: true, ..opts(&tmp.path().join("full"), 20_000, 1, SynthFormat::Cryo) };
    assert!(ifr_pipeline::synth::run(&forced).unwrap_err().to_string().contains("did not create"));
    assert!(tmp.path().join("full/keep.txt").exists());

    let e = ifr_pipeline::synth::run(&opts(&tmp.path().join("full/keep.txt/sub"), 20_000, 1, SynthFormat::Cryo)).unwrap_err().to_string();
    assert!(e.contains("writable"), "{e}");

    // A range without incidents is fine: background only.
    let mut o = opts(&tmp.path().join("quiet"), 1_000, 1, SynthFormat::Cryo);
    o.from = chrono::NaiveDate::from_ymd_opt(2021, 1, 1).unwrap();
    o.to = chrono::NaiveDate::from_ymd_opt(2021, 1, 31).unwrap();
    let s = ifr_pipeline::synth::run(&o).unwrap();
    assert_eq!((s.transfers, s.planted_transfers), (1_000, 0));
}

#[test]
fn reference_data_is_well_formed_and_consistent() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("ifr.toml"))
        .unwrap()
        .replace("data/reference", &root().join("data/reference").display().to_string());
    let s = settings(tmp.path(), &text);
    let summary = ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    for src in &summary.sources {
        assert_eq!(src.counts.read, src.counts.loaded, "{}: every reference row loads: {:?}", src.name, src.counts);
    }
    let lake = ifr_pipeline::lake::Lake::new(&s.lake_dir);
    let ids: HashSet<String> = strings(&table(&s, "actors"), "id").into_iter().collect();
    for (q, col) in [
        ("SELECT parent AS a FROM actors WHERE parent IS NOT NULL", "a"),
        ("SELECT actor AS a FROM labels WHERE actor IS NOT NULL", "a"),
        ("SELECT actor AS a FROM incidents WHERE actor IS NOT NULL", "a"),
    ] {
        for a in strings(&ifr_pipeline::sql(&lake, q).unwrap(), col) {
            assert!(ids.contains(&a), "{q}: actor {a} is not in actors.yaml");
        }
    }
    let inc = table(&s, "incidents");
    assert_eq!(inc.column("source_url").unwrap().null_count(), 0);
    assert_eq!(
        inc.column("attribution_source").unwrap().null_count(),
        0,
        "every attributed incident names who attributed it, with a source"
    );
}
