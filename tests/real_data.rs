//! Loaders on the real public files in ../shared/data (skipped with a message when the folder is
//! absent). Expected answers come from a second, independent reading of each file.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, Read};
use std::path::Path;

use ifr_pipeline::NoProgress;

use crate::common::*;

const OFAC: &str = "sanctions/ofac/sdn_advanced_2024-05-28.xml.bz2";

fn bunzip(path: &Path) -> String {
    let mut s = String::new();
    bzip2::read::BzDecoder::new(std::fs::File::open(path).unwrap()).read_to_string(&mut s).unwrap();
    s
}

/// Text between `start` and the next `end` after position `from`.
fn between<'a>(text: &'a str, from: usize, start: &str, end: &str) -> Option<(&'a str, usize)> {
    let i = text[from..].find(start)? + from + start.len();
    let j = text[i..].find(end)? + i;
    Some((&text[i..j], j))
}

/// An independent reading of the XML by plain text search: feature type id → currency, and per
/// party (first primary name parts) its (currency, address) features.
struct Independent {
    per_currency: BTreeMap<String, usize>,
    parties: Vec<Party>,
}

/// A party's primary name parts and its (currency, address) features.
type Party = (Vec<String>, Vec<(String, String)>);

fn independent(text: &str) -> Independent {
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut pos = 0;
    while let Some((attrs, end)) = between(text, pos, "<FeatureType ID=\"", "</FeatureType>") {
        pos = end;
        let id = attrs.split('"').next().unwrap().to_string();
        if let Some(cur) = attrs.split('>').nth(1).and_then(|n| n.strip_prefix("Digital Currency Address - ")) {
            ids.insert(id, cur.to_string());
        }
    }
    let mut per_currency = BTreeMap::new();
    let mut parties = Vec::new();
    for chunk in text.split("<DistinctParty ").skip(1) {
        let chunk = chunk.split("</DistinctParty>").next().unwrap();
        // Name parts of the first DocumentedName.
        let doc = chunk.split("</DocumentedName>").next().unwrap();
        let names: Vec<String> = doc.split("Acronym=\"false\">").skip(1).map(|p| p.split('<').next().unwrap().to_string()).collect();
        let mut feats = Vec::new();
        for f in chunk.split("<Feature ID=\"").skip(1) {
            let Some(id) = f.split("FeatureTypeID=\"").nth(1).map(|r| r.split('"').next().unwrap()) else { continue };
            if let Some(cur) = ids.get(id) {
                let addr =
                    between(f, 0, "DetailTypeID=\"1432\">", "</VersionDetail>").map(|(a, _)| a.trim().to_string()).unwrap_or_default();
                *per_currency.entry(cur.clone()).or_insert(0) += 1;
                feats.push((cur.clone(), addr));
            }
        }
        parties.push((names, feats));
    }
    Independent { per_currency, parties }
}

#[test]
#[cfg_attr(ifr_no_shared_data, ignore = "../shared/data is absent")]
fn ofac_xml_matches_an_independent_reading() {
    let Some(shared) = shared_data("ofac_xml_matches_an_independent_reading") else { return };
    let path = shared.join(OFAC);
    let snap = ifr_pipeline::sources::ofac_xml::parse(&path).unwrap();
    assert_eq!(ifr_pipeline::sources::day_to_string(snap.day), "2024-05-28");
    // The quick reading of the head a fetch uses gives the parser's date.
    assert_eq!(ifr_pipeline::sources::ofac_xml::date_of_issue(&path).unwrap(), Some(snap.day));

    let text = bunzip(&path);
    // The two-thread decompression gives the one-thread decoder's bytes.
    let mut parallel = String::new();
    ifr_pipeline::sources::bz2par::open(&path).unwrap().read_to_string(&mut parallel).unwrap();
    assert!(parallel == text, "bz2par: {} bytes, BzDecoder: {} bytes", parallel.len(), text.len());
    let ind = independent(&text);
    let mut ours: BTreeMap<String, usize> = BTreeMap::new();
    for it in &snap.items {
        *ours.entry(it.currency.clone()).or_insert(0) += 1;
    }
    assert_eq!(ours, ind.per_currency);
    assert!(ind.per_currency["ETH"] > 50 && ind.per_currency["XBT"] > 300, "{:?}", ind.per_currency);

    // Exact sets for Lazarus Group's ETH addresses and Kim Sang Man's addresses.
    let set_of = |names: &[&str], currency: Option<&str>| -> BTreeSet<(String, String)> {
        ind.parties
            .iter()
            .filter(|(n, _)| n.iter().map(String::as_str).eq(names.iter().copied()))
            .flat_map(|(_, f)| f.iter().cloned())
            .filter(|(c, _)| currency.is_none_or(|x| x == c))
            .map(|(c, a)| (c, if a.starts_with("0x") { a.to_lowercase() } else { a }))
            .collect()
    };
    let tmp = tempfile::tempdir().unwrap();
    let s = settings(
        tmp.path(),
        &format!("[[sources]]\nname = \"ofac\"\nkind = \"sanctions\"\nformat = \"ofac-xml\"\npath = \"{}\"\n", path.display()),
    );
    let summary = ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    let c = &summary.sources[0].counts;
    assert_eq!(c.read as usize, ind.per_currency.values().sum::<usize>());
    assert!(c.balanced());
    // A sanctioned address is never dropped for its format (issue 18): every distinct (currency,
    // address) of the independent reading is in the lake, and nothing is quarantined.
    assert_eq!(c.quarantined, 0);
    let listed: BTreeSet<(String, String)> = ind
        .parties
        .iter()
        .flat_map(|(_, f)| f.iter().cloned())
        .map(|(c, a)| (c, if a.starts_with("0x") { a.to_lowercase() } else { a }))
        .collect();
    let lake_pairs = {
        let df =
            ifr_pipeline::sql(&ifr_pipeline::lake::Lake::new(&s.lake_dir), "SELECT DISTINCT currency, address FROM sanctions").unwrap();
        let (cur, adr) = (df.column("currency").unwrap().str().unwrap().clone(), df.column("address").unwrap().str().unwrap().clone());
        (0..df.height()).map(|i| (cur.get(i).unwrap().to_string(), adr.get(i).unwrap().to_string())).collect::<BTreeSet<_>>()
    };
    assert_eq!(lake_pairs, listed);
    let lake = ifr_pipeline::lake::Lake::new(&s.lake_dir);
    let loaded = |name: &str, currency: Option<&str>| -> BTreeSet<(String, String)> {
        let filter = currency.map(|c| format!(" AND currency = '{c}'")).unwrap_or_default();
        let df = ifr_pipeline::sql(&lake, &format!("SELECT currency, address FROM sanctions WHERE party_name = '{name}'{filter}")).unwrap();
        let cur = df.column("currency").unwrap().str().unwrap();
        let adr = df.column("address").unwrap().str().unwrap();
        (0..df.height()).map(|i| (cur.get(i).unwrap().to_string(), adr.get(i).unwrap().to_string())).collect()
    };
    let lazarus = set_of(&["Lazarus Group"], Some("ETH"));
    assert!(lazarus.contains(&("ETH".into(), "0x098b716b8aaf21512996dc57eb0615e2383e2f96".into())));
    assert!(lazarus.len() >= 5, "{lazarus:?}");
    assert_eq!(loaded("Lazarus Group", Some("ETH")), lazarus);
    let kim = set_of(&["Kim", "Sang Man"], None);
    assert!(!kim.is_empty());
    assert_eq!(loaded("Kim Sang Man", None), kim);
    // Programs and the party's entry date come from its SanctionsEntry.
    let df = ifr_pipeline::sql(
        &lake,
        "SELECT DISTINCT programs, party_type, party_listed_date FROM sanctions WHERE party_name = 'Lazarus Group'",
    )
    .unwrap();
    assert_eq!(df.height(), 1);
    assert_eq!(df.column("programs").unwrap().str().unwrap().get(0), Some("DPRK3"));
    assert_eq!(df.column("party_type").unwrap().str().unwrap().get(0), Some("Entity"));
    assert_eq!(df.column("party_listed_date").unwrap().get(0).unwrap().to_string(), "2019-09-13");
}

fn count_csv_rows(path: &Path) -> (usize, usize) {
    // (data rows, rows with a non-zero value and a receiver), read with plain splitting.
    let f = std::fs::File::open(path).unwrap();
    let r: Box<dyn Read> = if path.extension().unwrap() == "gz" { Box::new(flate2::read::GzDecoder::new(f)) } else { Box::new(f) };
    let mut lines = std::io::BufReader::new(r).lines();
    let header: Vec<String> = lines.next().unwrap().unwrap().split(',').map(str::to_string).collect();
    let vi = header.iter().position(|h| h == "value").unwrap();
    let ti = header.iter().position(|h| h == "to_address").unwrap();
    let (mut n, mut moving) = (0, 0);
    for l in lines {
        let l = l.unwrap();
        let f: Vec<&str> = l.split(',').collect();
        n += 1;
        if f[vi] != "0" && !f[ti].is_empty() {
            moving += 1;
        }
    }
    (n, moving)
}

#[test]
#[cfg_attr(ifr_no_shared_data, ignore = "../shared/data is absent")]
fn every_real_file_loads_and_accounts_for_every_row() {
    let Some(shared) = shared_data("every_real_file_loads_and_accounts_for_every_row") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("data/sample/shared-data.toml"))
        .unwrap()
        .replace("../../../shared/data", &shared.display().to_string())
        .replace("../reference", &root().join("data/reference").display().to_string())
        .replace("../../lake-shared", "lake");
    let s = settings(tmp.path(), &text);
    let summary = ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    for src in &summary.sources {
        assert!(src.counts.balanced(), "{}: {:?}", src.name, src.counts);
        eprintln!("{}: {:?}", src.name, src.counts);
    }
    let by = |n: &str| &summary.sources.iter().find(|s| s.name == n).unwrap().counts;

    // ethereum-etl: the 20,000-row file and the 199-row file load completely.
    let etl = shared.join("chain/ethereum-etl");
    let (a, am) = count_csv_rows(&etl.join("transactions_03300000_03399999_small.csv.gz"));
    let (b, bm) = count_csv_rows(&etl.join("transactions_block_10500400.csv"));
    // "20,000 rows": 20,000 lines, a header and 19,999 transactions.
    assert_eq!(a, 19_999);
    let c = by("eth-2017");
    assert_eq!((c.read, c.loaded, c.quarantined, c.duplicates), ((a + b) as u64, (a + b) as u64, 0, 0));
    let lake = ifr_pipeline::lake::Lake::new(&s.lake_dir);
    let n = ifr_pipeline::sql(&lake, "SELECT count(*) AS n FROM transfers").unwrap();
    assert_eq!(n.column("n").unwrap().get(0).unwrap().extract::<u64>(), Some((am + bm) as u64));
    let months = ifr_pipeline::sql(&lake, "SELECT DISTINCT year, month FROM transactions ORDER BY year, month").unwrap();
    assert_eq!(months.height(), 2, "March 2017 and July 2020");

    // Etherscan: 29,945 entries; the Ronin exploiter is a sanctioned address.
    assert_eq!(by("etherscan").read, 29_945);
    let df = ifr_pipeline::sql(
        &lake,
        "SELECT category FROM labels WHERE address = '0x098b716b8aaf21512996dc57eb0615e2383e2f96' AND pack LIKE 'etherscan:%'",
    )
    .unwrap();
    assert_eq!(strings(&df, "category"), ["sanctioned"]);
    // GraphSense: the six Ronin exploiter addresses, lowercased, with service_data confidence (50).
    let df = ifr_pipeline::sql(&lake, "SELECT address, confidence FROM labels WHERE pack = 'Ronin bridge hack'").unwrap();
    assert_eq!(df.height(), 6);
    assert!(strings(&df, "address").iter().all(|a| a.starts_with("0x") && *a == a.to_lowercase()));
    let df = ifr_pipeline::sql(&lake, "SELECT DISTINCT actor, confidence FROM labels WHERE pack = 'OFAC Tagpack'").unwrap();
    assert_eq!(strings(&df, "actor"), ["lazarusgroup"]);
    // DefiLlama: 449 incidents; Ronin on 2022-03-23 at $624M.
    assert_eq!(by("defillama").read, 449);
    let df = ifr_pipeline::sql(&lake, "SELECT id, reported_usd FROM incidents WHERE name = 'Ronin Bridge' ORDER BY date").unwrap();
    assert_eq!(strings(&df, "id"), ["defillama-2022-03-23-ronin-bridge", "defillama-2024-08-06-ronin-bridge"]);
    assert_eq!(df.column("reported_usd").unwrap().f64().unwrap().get(0), Some(624_000_000.0));
    // Two different exploits of Mirror on 2021-10-08 are two incidents, not a duplicate.
    assert_eq!((by("defillama").loaded, by("defillama").duplicates), (449, 0));
    // Prices: two real sources disagree a little on ETH's close of 2022-03-23.
    let df = ifr_pipeline::sql(&lake, "SELECT source, close_usd FROM prices WHERE asset = 'ETH' AND day = '2022-03-23' ORDER BY source")
        .unwrap();
    assert_eq!(strings(&df, "source"), ["cryptocompare", "yahoo"]);
    let closes: Vec<f64> = df.column("close_usd").unwrap().f64().unwrap().into_no_null_iter().collect();
    assert_eq!(closes, [3037.30, 3031.067139]); // as written in each file
    // OpenSanctions sample: seven real entities, none a CryptoWallet.
    assert_eq!((by("opensanctions").read, by("opensanctions").loaded, by("opensanctions").filtered), (7, 0, 7));
}

/// OFAC's Bitcoin (XBT) addresses attribute on Bitcoin flows: a hand-made bitcoin-etl export pays
/// one of Blender.io's listed addresses (the real 2024-05-28 SDN file) and spends from it; the
/// report counts both at the real BTC close of the day (Yahoo's file).
#[test]
#[cfg_attr(ifr_no_shared_data, ignore = "../shared/data is absent")]
fn ofac_bitcoin_addresses_attribute_on_bitcoin_flows() {
    let Some(shared) = shared_data("ofac_bitcoin_addresses_attribute_on_bitcoin_flows") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // Blender.io (SDN party 37070, listed 2022-05-06; the `blender` actor of data/reference).
    let blender = "15PggTG7YhJKiE6B16vkKzA1YDTZipXEX4";
    let (payer, receiver) = ("1PkqKGbNLDdDJGveCcNUMV9CEFH77ADrPQ", "1CvMvWyKJvfg6wQSGdHraoJ7NFu8KaTL1u");
    let h = |c: char| std::iter::repeat_n(c, 64).collect::<String>();
    let t = 1_655_251_200; // 2022-06-15T00:00:00Z
    let tx = |hash: String, inputs: String, outputs: String, coinbase: bool| {
        format!(
            "{{\"hash\": \"{hash}\", \"block_number\": 740000, \"block_timestamp\": {t}, \"is_coinbase\": {coinbase}, \"index\": 0, \"inputs\": [{inputs}], \"outputs\": [{outputs}]}}\n"
        )
    };
    let out = |addr: &str, v: u64| format!("{{\"index\": 0, \"type\": \"pubkeyhash\", \"addresses\": [\"{addr}\"], \"value\": {v}}}");
    let inp = |spent: String| {
        format!("{{\"index\": 0, \"spent_transaction_hash\": \"{spent}\", \"spent_output_index\": 0, \"addresses\": [], \"value\": null}}")
    };
    let mut export = tx(h('0'), String::new(), out(payer, 500_000_000), true);
    export.push_str(&tx(h('1'), inp(h('0')), out(blender, 499_990_000), false));
    export.push_str(&tx(h('2'), inp(h('1')), out(receiver, 499_980_000), false));
    std::fs::create_dir_all(d.join("btc")).unwrap();
    std::fs::write(d.join("btc/transactions.json"), export).unwrap();
    let reference = root().join("data/reference");
    let s = settings(
        d,
        &format!(
            "lake = \"lake\"\n\
             [[sources]]\nname = \"assets\"\nkind = \"assets\"\nformat = \"asset-csv\"\npath = \"{}\"\n\
             [[sources]]\nname = \"actors\"\nkind = \"actors\"\nformat = \"actorpack\"\npath = \"{}\"\n\
             [[sources]]\nname = \"ofac\"\nkind = \"sanctions\"\nformat = \"ofac-xml\"\npath = \"{}\"\n\
             [[sources]]\nname = \"btc-usd\"\nkind = \"prices\"\nformat = \"yahoo\"\nasset = \"BTC\"\npath = \"{}\"\n\
             [[sources]]\nname = \"btc\"\nkind = \"chain\"\nformat = \"bitcoin-etl\"\nchain = \"bitcoin\"\npath = \"btc\"\n",
            reference.join("assets.csv").display(),
            reference.join("actors.yaml").display(),
            shared.join(OFAC).display(),
            shared.join("prices/yahoo_BTC-USD.csv").display(),
        ),
    );
    ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    ifr_pipeline::report(&s, None, &[2022]).unwrap();
    // The day's close, read from the file here.
    let close: f64 = std::fs::read_to_string(shared.join("prices/yahoo_BTC-USD.csv"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("2022-06-15,"))
        .unwrap()
        .split(',')
        .nth(4)
        .unwrap()
        .parse()
        .unwrap();
    let figures: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("report/2022/figures.json")).unwrap()).unwrap();
    let value = |id: &str| -> f64 {
        figures.as_array().unwrap().iter().find(|f| f["id"] == id).unwrap_or_else(|| panic!("no figure {id}"))["value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!((value("inflow.blender.2022") - 4.9999 * close).abs() < 0.006, "{} vs {}", value("inflow.blender.2022"), 4.9999 * close);
    assert!((value("outflow.blender.2022") - 4.9998 * close).abs() < 0.006);
}
