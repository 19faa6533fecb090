//! Ingest over fixtures of every format: counts add up, planted bad rows are quarantined with file,
//! row, column and reason, duplicates are counted, the written tables match their documented schemas,
//! re-runs do no work, and failed runs change nothing.

use std::path::{Path, PathBuf};

use ifr_pipeline::sources::Counts;
use ifr_pipeline::stages::ingest::SourceStatus;
use ifr_pipeline::{NoProgress, Settings};
use polars::prelude::*;

use crate::common::*;

const T0: i64 = 1_648_000_000; // 2022-03-23T01:46:40Z
const BRIDGE: &str = "0x1a2a1c938ce3ec39b6d47113c7955baa9dd454f2";
const ATTACKER: &str = "0x098b716b8aaf21512996dc57eb0615e2383e2f96";
const USDC: &str = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48";

fn hexb(s: &str) -> Vec<u8> {
    hex::decode(s.trim_start_matches("0x")).unwrap()
}

fn write(df: &mut DataFrame, path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    ParquetWriter::new(std::fs::File::create(path).unwrap()).finish(df).unwrap();
}

/// cryo files as cryo writes them: binary addresses and hashes, u32 numbers, value_binary/string/f64.
pub fn write_cryo(dir: &Path) {
    let h = |n: u8| vec![n; 32];
    let mut blocks = DataFrame::new(
        2,
        vec![
            Column::new("block_hash".into(), [h(0xb0).as_slice(), h(0xb1).as_slice()]),
            Column::new("block_number".into(), [100u32, 101]),
            Column::new("timestamp".into(), [T0 as u32, T0 as u32 + 60]),
            Column::new("chain_id".into(), [1u64, 1]),
        ],
    )
    .unwrap();
    write(&mut blocks, &dir.join("ethereum__blocks__00000100_to_00000101.parquet"));

    let usdc_amount: u64 = 25_500_000_000_000;
    let mut be = vec![0u8; 24];
    be.extend(usdc_amount.to_be_bytes());
    let short_from = vec![0x11u8; 19];
    let too_long = vec![1u8; 33];
    let mut erc20 = DataFrame::new(
        3,
        vec![
            Column::new("block_number".into(), [101u32, 101, 101]),
            Column::new("transaction_index".into(), [1u32, 1, 1]),
            Column::new("log_index".into(), [3u32, 4, 5]),
            Column::new("transaction_hash".into(), [h(2).as_slice(), h(2).as_slice(), h(2).as_slice()]),
            Column::new("erc20".into(), [hexb(USDC).as_slice(), hexb(USDC).as_slice(), hexb(USDC).as_slice()]),
            Column::new("from_address".into(), [hexb(BRIDGE).as_slice(), short_from.as_slice(), hexb(BRIDGE).as_slice()]),
            Column::new("to_address".into(), [hexb(ATTACKER).as_slice(), hexb(ATTACKER).as_slice(), hexb(ATTACKER).as_slice()]),
            Column::new("value_binary".into(), [be.as_slice(), be.as_slice(), too_long.as_slice()]),
            Column::new("value_string".into(), ["25500000000000", "25500000000000", "x"]),
            Column::new("value_f64".into(), [2.55e13, 2.55e13, 0.0]),
        ],
    )
    .unwrap();
    write(&mut erc20, &dir.join("ethereum__erc20_transfers__00000100_to_00000101.parquet"));

    let native = || {
        DataFrame::new(
            1,
            vec![
                Column::new("block_number".into(), [100u32]),
                Column::new("transaction_index".into(), [1u32]),
                Column::new("transfer_index".into(), [0u32]),
                Column::new("transaction_hash".into(), ["0xc28fad5e8d5e0ce6a2eaf67b6687be5d58113e16be590824d6cfa1a94467d0b7"]),
                Column::new("from_address".into(), [BRIDGE]),
                Column::new("to_address".into(), [ATTACKER]),
                Column::new("value_string".into(), ["173600000000000000000000"]),
                Column::new("value_f64".into(), [1.736e23]),
            ],
        )
        .unwrap()
    };
    write(&mut native(), &dir.join("ethereum__native_transfers__00000100_to_00000100.parquet"));
    // An overlapping export repeats the same row.
    write(&mut native(), &dir.join("ethereum__native_transfers__00000100_to_00000101.parquet"));
}

/// A config with every format over the fixtures (and cryo files written into `dir`).
pub fn full_config(dir: &Path) -> Settings {
    let fx = fixtures();
    write_cryo(&dir.join("cryo"));
    let f = |p: &str| fx.join(p).display().to_string();
    let text = format!(
        r#"
lake = "lake"
[[sources]]
name = "assets"
kind = "assets"
format = "asset-csv"
path = "{assets}"
[[sources]]
name = "ofac"
kind = "sanctions"
format = "ofac-xml"
path = "{ofac}"
[[sources]]
name = "sdn-csv"
kind = "sanctions"
format = "ofac-csv"
path = "{sdn_csv}"
[[sources]]
name = "os"
kind = "sanctions"
format = "opensanctions"
path = "{os}"
[[sources]]
name = "packs"
kind = "labels"
format = "tagpack"
path = "{pack}"
[[sources]]
name = "actors"
kind = "actors"
format = "actorpack"
path = "{actors}"
[[sources]]
name = "es"
kind = "labels"
format = "etherscan"
path = "{es}"
[[sources]]
name = "ledger"
kind = "incidents"
format = "ifr-ledger"
path = "{ledger}"
[[sources]]
name = "llama"
kind = "incidents"
format = "defillama"
path = "{llama}"
[[sources]]
name = "recov"
kind = "recoveries"
format = "ifr-recoveries"
path = "{recoveries}"
[[sources]]
name = "yahoo"
kind = "prices"
format = "yahoo"
path = "{yahoo}"
[[sources]]
name = "plain"
kind = "prices"
format = "price-csv"
path = "{plain}"
[[sources]]
name = "cc"
kind = "prices"
format = "cryptocompare"
path = "{cc}"
[[sources]]
name = "etl"
kind = "chain"
format = "ethereum-etl"
chain = "ethereum"
path = "{etl}"
[[sources]]
name = "etl-traces"
kind = "chain"
format = "ethereum-etl"
chain = "ethereum"
path = "{etl_traces}"
[[sources]]
name = "cryo"
kind = "chain"
format = "cryo"
chain = "ethereum"
path = "cryo"
[[sources]]
name = "btc"
kind = "chain"
format = "bitcoin-etl"
chain = "bitcoin"
path = "{btc}"
[[sources]]
name = "links"
kind = "links"
format = "ifr-links"
path = "{links}"
"#,
        assets = root().join("data/reference/assets.csv").display(),
        ofac = f("ofac"),
        sdn_csv = f("ofac_csv"),
        os = f("opensanctions"),
        pack = f("tagpacks/pack.yaml"),
        actors = f("tagpacks/actors.yaml"),
        es = f("etherscan"),
        ledger = f("incidents/ledger.csv"),
        llama = f("incidents/defillama.csv"),
        recoveries = f("incidents/recoveries.csv"),
        yahoo = f("prices/yahoo_ETH-USD.csv"),
        plain = f("prices/plain.csv"),
        cc = f("prices/cryptocompare.json"),
        etl = f("ethereum_etl"),
        etl_traces = f("ethereum_etl_traces"),
        btc = f("bitcoin-etl"),
        links = f("links/links.csv"),
    );
    settings(dir, &text)
}

fn counts(read: u64, loaded: u64, quarantined: u64, duplicates: u64, filtered: u64) -> (u64, u64, u64, u64, u64) {
    (read, loaded, quarantined, duplicates, filtered)
}

fn tuple(c: &Counts) -> (u64, u64, u64, u64, u64) {
    (c.read, c.loaded, c.quarantined, c.duplicates, c.filtered)
}

#[test]
fn every_format_accounts_for_every_row() {
    let tmp = tempfile::tempdir().unwrap();
    let s = full_config(tmp.path());
    let summary = ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    let expected = [
        ("assets", counts(11, 11, 0, 0, 0)),
        ("actors", counts(5, 2, 2, 1, 0)),
        ("packs", counts(9, 4, 4, 1, 0)),
        ("es", counts(7, 4, 2, 1, 0)),
        ("ofac", counts(8, 5, 0, 3, 0)),
        ("sdn-csv", counts(7, 5, 1, 0, 1)),
        ("os", counts(5, 2, 1, 0, 2)),
        ("ledger", counts(6, 1, 4, 1, 0)),
        ("llama", counts(5, 2, 2, 1, 0)),
        ("recov", counts(8, 3, 4, 1, 0)),
        ("yahoo", counts(6, 2, 3, 1, 0)),
        ("plain", counts(5, 2, 3, 0, 0)),
        ("cc", counts(5, 2, 2, 1, 0)),
        ("etl", counts(26, 10, 10, 4, 2)),
        ("etl-traces", counts(11, 5, 1, 1, 4)),
        ("cryo", counts(7, 4, 2, 1, 0)),
        ("btc", counts(12, 8, 3, 1, 0)),
        ("links", counts(6, 1, 4, 1, 0)),
    ];
    for (name, want) in expected {
        let src = summary.sources.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no source {name}"));
        assert!(src.counts.balanced(), "{name}: {:?}", src.counts);
        assert_eq!(tuple(&src.counts), want, "{name}: (read, loaded, quarantined, duplicates, filtered) {:?}", src.counts);
        assert_eq!(src.status, SourceStatus::Loaded);
    }
    // Sources load in kind order: assets first (chain sources need decimals), chain last.
    let order: Vec<&str> = summary.sources.iter().map(|s| s.kind).collect();
    let mut sorted = order.clone();
    sorted.sort_by_key(|k| {
        ["assets", "actors", "labels", "sanctions", "incidents", "recoveries", "links", "prices", "chain"].iter().position(|x| x == k)
    });
    assert_eq!(order, sorted);

    // "Not a Transfer event" rows are counted with their reason, not silently dropped.
    let etl = &summary.sources.iter().find(|s| s.name == "etl").unwrap().counts;
    assert_eq!(etl.filtered_reasons.get("log: not an ERC-20 Transfer event"), Some(&1));
    assert_eq!(etl.filtered_reasons.get("log: ERC-721 Transfer (a token id, not an amount)"), Some(&1));

    // The quarantine table has one row per quarantined item, each with a reason.
    let q = table(&s, "quarantine");
    let total_q: u64 = summary.sources.iter().map(|s| s.counts.quarantined).sum();
    assert_eq!(q.height() as u64, total_q);
    assert_eq!(q.column("reason").unwrap().null_count(), 0);
}

/// Find the quarantine row of a source whose reason contains `needle`: (file name, row, column, raw).
fn quarantined(q: &DataFrame, source: &str, needle: &str) -> (String, Option<i64>, Option<String>, Option<String>) {
    let src = q.column("source").unwrap().str().unwrap();
    let reason = q.column("reason").unwrap().str().unwrap();
    for i in 0..q.height() {
        if src.get(i) == Some(source) && reason.get(i).unwrap().contains(needle) {
            let file = q.column("file").unwrap().str().unwrap().get(i).unwrap();
            return (
                Path::new(file).file_name().unwrap().to_string_lossy().into_owned(),
                q.column("row").unwrap().i64().unwrap().get(i),
                q.column("column").unwrap().str().unwrap().get(i).map(str::to_string),
                q.column("raw_value").unwrap().str().unwrap().get(i).map(str::to_string),
            );
        }
    }
    panic!("no quarantine row for {source} with reason containing {needle:?}");
}

#[test]
fn malformed_rows_name_file_row_column_and_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let s = full_config(tmp.path());
    ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    let q = table(&s, "quarantine");
    let s2 = |v: &str| Some(v.to_string());

    // ethereum-etl transactions: header is line 1, the negative value is the 6th row.
    assert_eq!(quarantined(&q, "etl", "negative amount"), ("transactions.csv.gz".into(), Some(7), s2("value"), s2("-1")));
    assert_eq!(quarantined(&q, "etl", "does not fit in 256 bits").2, s2("value"));
    assert_eq!(quarantined(&q, "etl", "40 hex digits"), ("transactions.csv.gz".into(), Some(6), s2("from_address"), s2("0xnothex")));
    assert_eq!(quarantined(&q, "etl", "not in the blocks export").2, s2("block_number"));
    assert_eq!(quarantined(&q, "etl", "non-negative integer amount"), ("token_transfers.csv".into(), Some(5), s2("value"), s2("1.5")));
    assert_eq!(quarantined(&q, "etl", "unix timestamp").2, s2("timestamp"));
    // Cross-chain links: the header is line 1.
    assert_eq!(quarantined(&q, "links", "0x followed by 64 hex"), ("links.csv".into(), Some(3), s2("deposit_tx"), s2("0x1234")));
    assert_eq!(quarantined(&q, "links", "positive amount"), ("links.csv".into(), Some(4), s2("source_amount"), s2("-5")));
    assert_eq!(quarantined(&q, "links", "checksum verifies").2, s2("release_address"));
    assert_eq!(quarantined(&q, "links", "every link needs `link_source`").1, Some(6));
    assert_eq!(quarantined(&q, "etl", "one 32-byte amount").0, "logs.csv");
    assert_eq!(quarantined(&q, "etl-traces", "40 hex digits").2, s2("to_address"));
    // cryo: a 19-byte address and a 33-byte value (row index 1 and 2 of the file).
    assert_eq!(
        quarantined(&q, "cryo", "20-byte address"),
        ("ethereum__erc20_transfers__00000100_to_00000101.parquet".into(), Some(1), s2("from_address"), None)
    );
    assert_eq!(quarantined(&q, "cryo", "at most 32 bytes").1, Some(2));
    // Sanctions, labels, incidents, prices.
    // (A sanctioned address is never quarantined for its format: see sanctions_snapshots_give_listing_and_delisting_dates.)
    assert_eq!(quarantined(&q, "sdn-csv", "expected 12 columns").1, Some(4));
    assert_eq!(quarantined(&q, "os", "FollowTheMoney").1, Some(5));
    assert_eq!(quarantined(&q, "packs", "checksum").2, s2("address"));
    assert_eq!(quarantined(&q, "packs", "unknown confidence").3, s2("very_sure"));
    assert_eq!(quarantined(&q, "packs", "YYYY-MM-DD").3, s2("yesterday"));
    assert_eq!(quarantined(&q, "actors", "actor ids are").3, s2("../etc"));
    assert_eq!(quarantined(&q, "ledger", "YYYY-MM-DD"), ("ledger.csv".into(), Some(4), s2("date"), s2("2022-13-45")));
    assert_eq!(quarantined(&q, "ledger", "needs a source").1, Some(5));
    assert_eq!(quarantined(&q, "ledger", "non-negative USD").3, s2("-5"));
    assert_eq!(quarantined(&q, "ledger", "`0x123`").2, s2("attacker_addresses"));
    assert_eq!(quarantined(&q, "yahoo", "never 0").3, s2("null"));
    assert_eq!(quarantined(&q, "plain", "conflicts with an earlier close 1.0001").1, Some(3));
    assert_eq!(quarantined(&q, "cc", "positive USD close").3, s2("-1"));
    assert_eq!(quarantined(&q, "es", "40 hex digits").3, s2("0xbad"));
}

#[test]
fn chain_exports_become_exact_transfers_with_time_and_decimals() {
    let tmp = tempfile::tempdir().unwrap();
    let s = full_config(tmp.path());
    ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    let lake = ifr_pipeline::lake::Lake::new(&s.lake_dir);
    let df = ifr_pipeline::sql(
        &lake,
        "SELECT source_file, kind, token_address, asset, from_address, to_address, amount_raw, decimals, amount, trace_address, log_index, year, month \
         FROM transfers WHERE chain = 'ethereum' ORDER BY source_file, block_number, kind, log_index, trace_address",
    )
    .unwrap();
    let rows = rows(&df);
    let want = [
        // cryo: the 173,600 ETH internal transfer (once, though two overlapping files hold it) and USDC.
        format!(
            "\"ethereum__erc20_transfers__00000100_to_00000101.parquet\"|\"token\"|\"{USDC}\"|\"USDC\"|\"{BRIDGE}\"|\"{ATTACKER}\"|\"25500000000000\"|6|2.55e7|null|3|2022|3"
        ),
        format!(
            "\"ethereum__native_transfers__00000100_to_00000100.parquet\"|\"native\"|null|\"ETH\"|\"{BRIDGE}\"|\"{ATTACKER}\"|\"173600000000000000000000\"|18|173600.0|\"#0\"|null|2022|3"
        ),
        // ethereum-etl logs: USDC (also in token_transfers: a duplicate) and DAI.
        format!("\"logs.csv\"|\"token\"|\"{USDC}\"|\"USDC\"|\"{BRIDGE}\"|\"{ATTACKER}\"|\"25500000000000\"|6|2.55e7|null|3|2022|3"),
        format!(
            "\"logs.csv\"|\"token\"|\"0x6b175474e89094c44da98b954eedeac495271d0f\"|\"DAI\"|\"{ATTACKER}\"|\"{BRIDGE}\"|\"7000000000000000000\"|18|7.0|null|5|2022|3"
        ),
        // An unknown token keeps its exact amount; decimals and amount stay NULL.
        format!(
            "\"token_transfers.csv\"|\"token\"|\"0x0000000000000000000000000000000000001111\"|null|\"{ATTACKER}\"|\"{BRIDGE}\"|\"123\"|null|null|null|4|2022|3"
        ),
        // Traces: the top-level call and the internal 173,600 ETH; delegatecall, failed, zero and reward filtered.
        format!("\"traces.csv\"|\"native\"|null|\"ETH\"|\"{BRIDGE}\"|\"{ATTACKER}\"|\"1000000000000000000\"|18|1.0|\"\"|null|2022|3"),
        format!(
            "\"traces.csv\"|\"native\"|null|\"ETH\"|\"{BRIDGE}\"|\"{ATTACKER}\"|\"173600000000000000000000\"|18|173600.0|\"0\"|null|2022|3"
        ),
        // A transaction's own value (the source has no traces), successful only.
        format!(
            "\"transactions.csv.gz\"|\"native\"|null|\"ETH\"|\"{BRIDGE}\"|\"{ATTACKER}\"|\"1000000000000000000\"|18|1.0|null|null|2022|3"
        ),
    ];
    assert_eq!(rows, want);

    // Partition layout: hive folders chain=/year=/month= (unpadded), then the source.
    let files: Vec<String> =
        lake.table_files("transfers").unwrap().iter().map(|p| p.strip_prefix(&s.lake_dir).unwrap().display().to_string()).collect();
    assert_eq!(
        files,
        [
            "transfers/chain=bitcoin/year=2024/month=1/btc.parquet",
            "transfers/chain=bitcoin/year=2024/month=2/btc.parquet",
            "transfers/chain=ethereum/year=2022/month=3/cryo.parquet",
            "transfers/chain=ethereum/year=2022/month=3/etl-traces.parquet",
            "transfers/chain=ethereum/year=2022/month=3/etl.parquet"
        ]
    );
    // Block 200 (2022-04-14) lands in April.
    assert!(s.lake_dir.join("blocks/chain=ethereum/year=2022/month=4/etl.parquet").is_file());
    let tx = table(&s, "transactions");
    assert_eq!(tx.height(), 4);
}

#[test]
fn sanctions_snapshots_give_listing_and_delisting_dates() {
    let tmp = tempfile::tempdir().unwrap();
    let s = full_config(tmp.path());
    ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    let lake = ifr_pipeline::lake::Lake::new(&s.lake_dir);
    let df = ifr_pipeline::sql(
        &lake,
        "SELECT party_id, party_name, party_type, programs, currency, address, first_seen_snapshot, last_seen_snapshot, listed_date, delisted_date, party_listed_date \
         FROM sanctions WHERE source = 'ofac' ORDER BY party_id, currency, address",
    )
    .unwrap();
    let rows = rows(&df);
    assert_eq!(
        rows,
        [
            "\"27307\"|\"Lazarus Group\"|\"Entity\"|\"CYBER2;DPRK3\"|\"ETH\"|\"0x098b716b8aaf21512996dc57eb0615e2383e2f96\"|2022-06-01|2022-06-01|2022-06-01|null|2019-09-13",
            "\"27307\"|\"Lazarus Group\"|\"Entity\"|\"CYBER2;DPRK3\"|\"ETH\"|\"0xa0e1c89ef1a489c9c7de96311ed5ce5d32c20e4b\"|2022-01-01|2022-06-01|null|null|2019-09-13",
            "\"27307\"|\"Lazarus Group\"|\"Entity\"|\"CYBER2;DPRK3\"|\"XBT\"|\"134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak\"|2022-01-01|2022-06-01|null|null|2019-09-13",
            "\"500\"|\"KIM Test\"|\"Individual\"|\"DPRK3\"|\"ETH\"|\"0x12345\"|2022-01-01|2022-01-01|null|2022-06-01|2021-05-01",
            "\"500\"|\"KIM Test\"|\"Individual\"|\"DPRK3\"|\"ETH\"|\"0x3cffd56b47b7b41c56258d9c7731abadc360e073\"|2022-01-01|2022-01-01|null|2022-06-01|2021-05-01",
        ]
    );
    // A listed address that does not verify for its currency is loaded all the same, with a note.
    let odd =
        ifr_pipeline::sql(&lake, "SELECT source, address, address_check FROM sanctions WHERE address_check IS NOT NULL ORDER BY source")
            .unwrap();
    assert_eq!(
        crate::common::rows(&odd),
        [
            "\"ofac\"|\"0x12345\"|\"listed as ETH, matches no known address format (expected an EVM address: 0x followed by 40 hex digits); kept as written\"",
            "\"os\"|\"0xZZZ\"|\"listed as ETH, matches no known address format (expected an EVM address: 0x followed by 40 hex digits); kept as written\"",
            "\"sdn-csv\"|\"0xNOTANADDRESS\"|\"listed as ETH, matches no known address format (expected an EVM address: 0x followed by 40 hex digits); kept as written\"",
        ]
    );
    // Every party here was listed before the first snapshot, so listed_date comes from the snapshots.
    let rules = ifr_pipeline::sql(
        &lake,
        "SELECT source, listed_date_rule, count(*) AS n FROM sanctions GROUP BY source, listed_date_rule ORDER BY source, listed_date_rule",
    )
    .unwrap();
    assert_eq!(
        crate::common::rows(&rules),
        [
            "\"ofac\"|\"before-earliest-snapshot\"|4",
            "\"ofac\"|\"first-snapshot\"|1",
            "\"os\"|\"not-compared\"|2",
            "\"sdn-csv\"|\"before-earliest-snapshot\"|5",
        ]
    );
    // The legacy CSV names the same parties; its date comes from the file name.
    let csv = ifr_pipeline::sql(
        &lake,
        "SELECT party_id, programs, address FROM sanctions WHERE source = 'sdn-csv' AND party_id = '27307' ORDER BY address",
    )
    .unwrap();
    assert_eq!(csv.height(), 3);
    assert_eq!(csv.column("programs").unwrap().str().unwrap().get(0), Some("CYBER2;DPRK3"));
    // OpenSanctions: the wallet takes its holder's name and the holder's programs.
    let os = ifr_pipeline::sql(&lake, "SELECT party_name, programs, listed_date FROM sanctions WHERE source = 'os'").unwrap();
    assert_eq!(strings(&os, "party_name"), ["Lazarus Group", "Lazarus Group"]);
    assert_eq!(strings(&os, "programs"), ["CYBER2;DPRK3", "CYBER2;DPRK3"]);
}

#[test]
fn labels_inherit_tagpack_headers_and_map_confidence() {
    let tmp = tempfile::tempdir().unwrap();
    let s = full_config(tmp.path());
    ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    let lake = ifr_pipeline::lake::Lake::new(&s.lake_dir);
    let df = ifr_pipeline::sql(
        &lake,
        "SELECT address, chain, label, actor, category, confidence, source FROM labels WHERE pack = 'Test pack' ORDER BY address",
    )
    .unwrap();
    let rows = rows(&df);
    assert_eq!(
        rows,
        [
            "\"0x098b716b8aaf21512996dc57eb0615e2383e2f96\"|\"ethereum\"|\"Lazarus group\"|\"lazarusgroup\"|\"user\"|60|\"https://example.org/lazarus\"",
            "\"0x7e3167771bf23ac10930803589d1424903b36584\"|\"ethereum\"|\"<script>alert(1)</script>\"|\"lazarusgroup\"|\"user\"|60|\"https://example.org/lazarus\"",
            "\"0xa0e1c89ef1a489c9c7de96311ed5ce5d32c20e4b\"|\"ethereum\"|\"Lazarus wallet 2\"|\"lazarusgroup\"|\"user\"|50|\"https://example.org/lazarus\"",
            "\"134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak\"|\"bitcoin\"|\"Lazarus group\"|\"lazarusgroup\"|\"user\"|60|\"https://example.org/lazarus\"",
        ]
    );
    let es = ifr_pipeline::sql(&lake, "SELECT label, category FROM labels WHERE pack LIKE 'etherscan:%' ORDER BY label").unwrap();
    assert_eq!(strings(&es, "category"), ["bridge", "exchange", "mixer", "sanctioned"]);
    let actors = ifr_pipeline::sql(&lake, "SELECT id, parent, sdn_party_id FROM actors ORDER BY id").unwrap();
    assert_eq!(strings(&actors, "id"), ["dprk", "lazarusgroup"]);
    assert_eq!(strings(&actors, "parent"), ["<null>", "dprk"]);
}

#[test]
fn written_tables_match_their_documented_schemas() {
    let tmp = tempfile::tempdir().unwrap();
    let s = full_config(tmp.path());
    ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    let lake = ifr_pipeline::lake::Lake::new(&s.lake_dir);
    for t in ifr_pipeline::schema::all() {
        let files = lake.table_files(&t.table).unwrap();
        assert!(!files.is_empty(), "the fixtures write every table; {} has no file", t.table);
        for f in files {
            let df = ifr_pipeline::table::read_parquet(&f).unwrap();
            assert_eq!(df.schema().as_ref(), &t.polars_schema(), "{}", f.display());
            for c in t.columns.iter().filter(|c| !c.nullable) {
                assert_eq!(df.column(&c.name).unwrap().null_count(), 0, "{}.{} is documented NOT NULL", t.table, c.name);
            }
        }
    }
}

#[test]
fn rerun_on_unchanged_inputs_does_no_work_and_changes_no_file() {
    let tmp = tempfile::tempdir().unwrap();
    let s = full_config(tmp.path());
    ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    let before = snapshot(&s.lake_dir);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let again = ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    assert!(
        again.sources.iter().all(|x| x.status == SourceStatus::Unchanged),
        "{:?}",
        again.sources.iter().map(|x| (&x.name, x.status)).collect::<Vec<_>>()
    );
    assert_eq!(snapshot(&s.lake_dir), before, "a no-op run must not touch the lake (run reports aside)");

    // A rewritten input with the same content (new mtime) is re-hashed, found unchanged, not reloaded.
    let cryo_blocks = tmp.path().join("cryo/ethereum__blocks__00000100_to_00000101.parquet");
    std::fs::write(&cryo_blocks, std::fs::read(&cryo_blocks).unwrap()).unwrap();
    let touched = ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    assert!(touched.sources.iter().all(|x| x.status == SourceStatus::Unchanged));
    let tables =
        |v: &[(PathBuf, String, std::time::SystemTime)]| v.iter().filter(|f| !f.0.ends_with("state.json")).cloned().collect::<Vec<_>>();
    assert_eq!(tables(&snapshot(&s.lake_dir)), tables(&before));
    let before = snapshot(&s.lake_dir);

    // Moving one input reloads that source only; output files whose bytes are the same are not
    // rewritten (the labels keep their mtime; the quarantine rows name the new file path).
    let pack = tmp.path().join("pack.yaml");
    std::fs::copy(fixtures().join("tagpacks/pack.yaml"), &pack).unwrap();
    let text = std::fs::read_to_string(s.config_path.clone())
        .unwrap()
        .replace(&fixtures().join("tagpacks/pack.yaml").display().to_string(), "pack.yaml");
    let s = settings(tmp.path(), &text);
    let third = ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    let reloaded: Vec<&str> = third.sources.iter().filter(|x| x.status == SourceStatus::Loaded).map(|x| x.name.as_str()).collect();
    assert_eq!(reloaded, ["packs"]);
    let after = snapshot(&s.lake_dir);
    let changed: Vec<String> = after
        .iter()
        .filter(|f| !before.contains(f))
        .map(|f| ifr_pipeline::lake::logical_name(&f.0.strip_prefix(&s.lake_dir).unwrap().display().to_string()))
        .collect();
    // A changed file is written beside the live one under a new name, then the old one removed.
    assert_eq!(changed, ["_ingest/state.json", "quarantine/packs.parquet"]);
    assert_eq!(after.len(), before.len());
}

#[test]
fn a_failed_run_leaves_the_lake_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let s = full_config(tmp.path());
    ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    let before = snapshot(&s.lake_dir);

    // Change a good source (would rewrite its files) and add a truncated Parquet file: the run fails.
    std::fs::copy(tmp.path().join("cryo/ethereum__blocks__00000100_to_00000101.parquet"), tmp.path().join("blocks.parquet")).unwrap();
    let bytes = std::fs::read(tmp.path().join("cryo/ethereum__erc20_transfers__00000100_to_00000101.parquet")).unwrap();
    std::fs::write(tmp.path().join("cryo/ethereum__erc20_transfers__00000102_to_00000103.parquet"), &bytes[..bytes.len() / 2]).unwrap();
    let err = ifr_pipeline::ingest(&s, &NoProgress).unwrap_err();
    let msg = format!("{err}");
    assert!(msg.contains("ethereum__erc20_transfers__00000102_to_00000103.parquet") && msg.contains("Parquet"), "{msg}");
    assert_eq!(snapshot(&s.lake_dir), before);
    assert!(!s.lake_dir.join(".staging").exists() || std::fs::read_dir(s.lake_dir.join(".staging")).unwrap().next().is_none());
}

fn one_source(dir: &Path, kind: &str, format: &str, path: &Path, extra: &str) -> Settings {
    settings(dir, &format!("[[sources]]\nname = \"x\"\nkind = \"{kind}\"\nformat = \"{format}\"\npath = \"{}\"\n{extra}\n", path.display()))
}

#[test]
fn unreadable_files_stop_the_run_with_the_file_and_what_was_expected() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = fixtures();
    let cases: Vec<(&str, &str, PathBuf, &str, &str)> = vec![
        ("sanctions", "ofac-xml", fx.join("bad/entities.xml"), "", "refuses entity declarations"),
        ("sanctions", "ofac-xml", fx.join("bad/not_xml.xml"), "", "expected an OFAC SDN_ADVANCED XML file"),
        ("sanctions", "ofac-xml", fx.join("bad/truncated.xml.bz2"), "", "truncated or corrupt"),
        ("prices", "yahoo", fx.join("prices/plain.csv"), "asset = \"ETH\"", "missing column(s) Date, Close"),
        ("prices", "yahoo", fx.join("prices/plain.csv"), "", "cannot tell which asset"),
        ("labels", "tagpack", fx.join("tagpacks/actors.yaml"), "", "expected a TagPack"),
        ("chain", "ethereum-etl", fx.join("prices/plain.csv"), "chain = \"ethereum\"", "not an ethereum-etl export"),
        ("sanctions", "ofac-csv", fx.join("incidents/ledger.csv"), "", "publication date"),
    ];
    for (kind, format, path, extra, needle) in cases {
        let s = one_source(tmp.path(), kind, format, &path, extra);
        let err = format!("{:#}", anyhow::Error::from(ifr_pipeline::ingest(&s, &NoProgress).unwrap_err()));
        assert!(err.contains(&path.file_name().unwrap().to_string_lossy().to_string()) && err.contains(needle), "{format}: {err}");
        assert!(ifr_pipeline::lake::Lake::new(&s.lake_dir).table_files(kind).unwrap().is_empty());
    }
    // cryo with only value_f64 is refused: floats are not exact.
    let dir = tmp.path().join("f64");
    let mut df = DataFrame::new(
        1,
        vec![
            Column::new("block_number".into(), [1u32]),
            Column::new("transfer_index".into(), [0u32]),
            Column::new("transaction_hash".into(), ["0x".to_string() + &"ab".repeat(32)]),
            Column::new("from_address".into(), [BRIDGE]),
            Column::new("to_address".into(), [ATTACKER]),
            Column::new("value_f64".into(), [1.0f64]),
        ],
    )
    .unwrap();
    write(&mut df, &dir.join("ethereum__native_transfers__1_to_1.parquet"));
    let s = one_source(tmp.path(), "chain", "cryo", &dir, "chain = \"ethereum\"");
    let err = ifr_pipeline::ingest(&s, &NoProgress).unwrap_err().to_string();
    assert!(err.contains("value_f64 column alone is not exact") && err.contains("native_transfers__1_to_1"), "{err}");
}

/// A cryo file long enough to be built on two threads: every row lands in file order, the bad rows
/// of both halves are quarantined under their own row numbers, and the values are exact.
#[test]
fn a_long_cryo_file_is_built_in_two_halves_without_losing_order_or_rows() {
    const N: usize = 70_000; // over the two-thread threshold (64k rows)
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cryo");
    let n_blocks = (N / 4) as u32 + 1;
    let mut blocks = DataFrame::new(
        n_blocks as usize,
        vec![
            Column::new("block_number".into(), (0..n_blocks).map(|b| 1000 + b).collect::<Vec<u32>>()),
            Column::new("timestamp".into(), (0..n_blocks).map(|b| T0 as u32 + 12 * b).collect::<Vec<u32>>()),
        ],
    )
    .unwrap();
    write(&mut blocks, &dir.join("ethereum__blocks__00001000_to_00018500.parquet"));
    // Row i: block 1000 + i/4, log index i, sender bytes [i as u32 big-endian; 5], value i * 10^12.
    let addr = |i: usize| (i as u32).to_be_bytes().repeat(5);
    let mut from: Vec<Vec<u8>> = (0..N).map(addr).collect();
    let mut value: Vec<Vec<u8>> = (0..N).map(|i| ((i as u128) * 1_000_000_000_000).to_be_bytes().to_vec()).collect();
    from[5] = vec![1u8; 19]; // first half: a 19-byte address
    value[69_000] = vec![1u8; 33]; // second half: a 33-byte value
    let mut erc20 = DataFrame::new(
        N,
        vec![
            Column::new("block_number".into(), (0..N).map(|i| 1000 + (i / 4) as u32).collect::<Vec<u32>>()),
            Column::new("transaction_index".into(), (0..N).map(|i| (i % 4) as u32).collect::<Vec<u32>>()),
            Column::new("log_index".into(), (0..N).map(|i| i as u32).collect::<Vec<u32>>()),
            Column::new("transaction_hash".into(), (0..N).map(|i| (i as u64).to_be_bytes().repeat(4)).collect::<Vec<Vec<u8>>>()),
            Column::new("erc20".into(), vec![hexb(USDC); N]),
            Column::new("from_address".into(), from),
            Column::new("to_address".into(), vec![hexb(ATTACKER); N]),
            Column::new("value_binary".into(), value),
        ],
    )
    .unwrap();
    write(&mut erc20, &dir.join("ethereum__erc20_transfers__00001000_to_00018500.parquet"));
    let assets = root().join("data/reference/assets.csv");
    let s = settings(
        tmp.path(),
        &format!(
            "lake = \"lake\"\n[[sources]]\nname = \"assets\"\nkind = \"assets\"\nformat = \"asset-csv\"\npath = \"{}\"\n\
             [[sources]]\nname = \"cryo\"\nkind = \"chain\"\nformat = \"cryo\"\nchain = \"ethereum\"\npath = \"cryo\"\n",
            assets.display()
        ),
    );
    let summary = ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    let c = &summary.sources.iter().find(|s| s.name == "cryo").unwrap().counts;
    assert_eq!(tuple(c), counts((N + n_blocks as usize) as u64, (N - 2 + n_blocks as usize) as u64, 2, 0, 0));
    let q = table(&s, "quarantine");
    assert_eq!(quarantined(&q, "cryo", "20-byte address").1, Some(5));
    assert_eq!(quarantined(&q, "cryo", "at most 32 bytes").1, Some(69_000));

    let t = table(&s, "transfers");
    assert_eq!(t.height(), N - 2);
    let logs: Vec<i64> = t.column("log_index").unwrap().i64().unwrap().into_no_null_iter().collect();
    let expected: Vec<i64> = (0..N as i64).filter(|&i| i != 5 && i != 69_000).collect();
    assert_eq!(logs, expected, "rows in chain order, both halves, nothing lost");
    let text = |c: &str| t.column(c).unwrap().str().unwrap().clone();
    let (froms, raws, amounts) = (text("from_address"), text("amount_raw"), t.column("amount").unwrap().f64().unwrap().clone());
    for i in [0usize, 4, 34_999, 35_000, 35_001, 69_999] {
        let k = expected.iter().position(|&x| x == i as i64).unwrap();
        assert_eq!(froms.get(k), Some(format!("0x{}", hex::encode(addr(i))).as_str()), "row {i}");
        assert_eq!(raws.get(k), Some(((i as u128) * 1_000_000_000_000).to_string().as_str()), "row {i}");
        assert_eq!(amounts.get(k), Some(i as f64 * 1e6), "row {i}: 10^12 base units / 10^6 decimals");
    }
    assert_eq!(text("asset").iter().filter(|a| *a == Some("USDC")).count(), N - 2);
}

/// A cryo export of six block ranges of 50 blocks (blocks 1000-1299), six hours apart from
/// T0 (so from March into June 2022: months span ranges, ranges span months), each block with two
/// native and three ERC-20 transfers. `name(dataset, start, end)` gives each file's path.
fn write_ranges(name: &dyn Fn(&str, u32, u32) -> PathBuf) {
    let addr = |k: u32| [k.to_be_bytes().as_slice(), &[0x5a; 16]].concat();
    let hash = |k: u32, n: u32| [k.to_be_bytes().as_slice(), n.to_be_bytes().as_slice(), &[0x77; 24]].concat();
    for r in 0..6u32 {
        let (start, end) = (1000 + 50 * r, 1000 + 50 * r + 49);
        let blocks: Vec<u32> = (start..=end).collect();
        let mut b = DataFrame::new(
            blocks.len(),
            vec![
                Column::new("block_hash".into(), blocks.iter().map(|&n| hash(n, 0)).collect::<Vec<_>>()),
                Column::new("block_number".into(), blocks.clone()),
                Column::new("timestamp".into(), blocks.iter().map(|&n| (T0 + (n as i64 - 1000) * 21_600) as u32).collect::<Vec<_>>()),
            ],
        )
        .unwrap();
        write(&mut b, &name("blocks", start, end));
        let per_block = |k: u32| blocks.iter().flat_map(move |&n| (0..k).map(move |i| (n, i))).collect::<Vec<_>>();
        let native = per_block(2);
        let mut nf = DataFrame::new(
            native.len(),
            vec![
                Column::new("block_number".into(), native.iter().map(|&(n, _)| n).collect::<Vec<_>>()),
                Column::new("transaction_index".into(), native.iter().map(|&(_, i)| i).collect::<Vec<_>>()),
                Column::new("transfer_index".into(), native.iter().map(|_| 0u32).collect::<Vec<_>>()),
                Column::new("transaction_hash".into(), native.iter().map(|&(n, i)| hash(n, i + 1)).collect::<Vec<_>>()),
                Column::new("from_address".into(), native.iter().map(|&(n, _)| addr(n)).collect::<Vec<_>>()),
                Column::new("to_address".into(), native.iter().map(|&(n, i)| addr(n + i + 1)).collect::<Vec<_>>()),
                Column::new(
                    "value_string".into(),
                    native.iter().map(|&(n, i)| format!("{}000000000000000", n * 10 + i)).collect::<Vec<_>>(),
                ),
            ],
        )
        .unwrap();
        write(&mut nf, &name("native_transfers", start, end));
        let token = per_block(3);
        let mut tf = DataFrame::new(
            token.len(),
            vec![
                Column::new("block_number".into(), token.iter().map(|&(n, _)| n).collect::<Vec<_>>()),
                Column::new("transaction_index".into(), token.iter().map(|&(_, i)| i + 2).collect::<Vec<_>>()),
                Column::new("log_index".into(), token.iter().map(|&(_, i)| i).collect::<Vec<_>>()),
                Column::new("transaction_hash".into(), token.iter().map(|&(n, i)| hash(n, i + 10)).collect::<Vec<_>>()),
                Column::new("erc20".into(), token.iter().map(|_| hexb(USDC)).collect::<Vec<_>>()),
                Column::new("from_address".into(), token.iter().map(|&(n, i)| addr(n + i)).collect::<Vec<_>>()),
                Column::new("to_address".into(), token.iter().map(|&(n, _)| addr(n + 7)).collect::<Vec<_>>()),
                Column::new(
                    "value_binary".into(),
                    token.iter().map(|&(n, i)| ((n * 100 + i) as u128 * 1_000_000).to_be_bytes().to_vec()).collect::<Vec<_>>(),
                ),
            ],
        )
        .unwrap();
        write(&mut tf, &name("erc20_transfers", start, end));
    }
}

/// Ingest the cryo files in `dir/<chain>` into `dir/<lake>`: the source's summary, blocks and transfers.
fn ingest_chain(dir: &Path, chain: &str, lake: &str) -> (ifr_pipeline::SourceSummary, DataFrame, DataFrame) {
    let assets = root().join("data/reference/assets.csv");
    let s = settings(
        dir,
        &format!(
            "lake = \"{lake}\"\n[[sources]]\nname = \"assets\"\nkind = \"assets\"\nformat = \"asset-csv\"\npath = \"{}\"\n\
             [[sources]]\nname = \"cryo\"\nkind = \"chain\"\nformat = \"cryo\"\nchain = \"ethereum\"\npath = \"{chain}\"\n",
            assets.display()
        ),
    );
    let summary = ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    let src = summary.sources.into_iter().find(|s| s.name == "cryo").unwrap();
    assert!(src.counts.balanced(), "{:?}", src.counts);
    (src, table(&s, "blocks"), table(&s, "transfers"))
}

fn without_source_file(df: &DataFrame) -> DataFrame {
    df.drop("source_file").unwrap()
}

#[test]
fn cryo_is_streamed_in_block_order_and_input_that_needs_the_exact_path_gets_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cryo = |sub: &str| {
        let dir = d.join(sub);
        move |ds: &str, s: u32, e: u32| dir.join(format!("ethereum__{ds}__{s:08}_to_{e:08}.parquet"))
    };
    // As cryo writes them: streamed straight into the lake.
    write_ranges(&cryo("plain"));
    let (src, blocks, transfers) = ingest_chain(d, "plain", "lake_plain");
    assert_eq!(src.method.as_deref(), Some("streamed"));
    assert_eq!(tuple(&src.counts), counts(300 + 1500, 300 + 1500, 0, 0, 0));
    assert_eq!((blocks.height(), transfers.height()), (300, 1500));
    let months =
        |df: &DataFrame| df.column("month").unwrap().i32().unwrap().into_no_null_iter().collect::<std::collections::BTreeSet<i32>>();
    assert_eq!(months(&transfers), [3, 4, 5, 6].into_iter().collect());
    // Chain order across ranges, datasets and months: block, then tx index (native 0-1, tokens 2-4).
    let key = |df: &DataFrame| {
        let b = df.column("block_number").unwrap().i64().unwrap().clone();
        let t = df.column("tx_index").unwrap().i64().unwrap().clone();
        b.into_no_null_iter().zip(t.into_no_null_iter()).collect::<Vec<_>>()
    };
    let expected: Vec<(i64, i64)> = (1000..1300).flat_map(|b| (0..5).map(move |t| (b, t))).collect();
    assert_eq!(key(&transfers), expected);

    // The same export without block ranges in the file names: loaded through part files.
    write_ranges(&|ds, s, _| d.join("unnamed").join(format!("ethereum__{ds}__part{s}.parquet")));
    let (src, b2, t2) = ingest_chain(d, "unnamed", "lake_unnamed");
    assert!(src.method.as_deref().is_some_and(|m| m.starts_with("part files (a file name without a block range")), "{:?}", src.method);
    assert!(without_source_file(&t2).equals_missing(&without_source_file(&transfers)), "same rows in the same order");
    assert!(without_source_file(&b2).equals_missing(&without_source_file(&blocks)));

    // One native file exported twice (the copy later in file order): the stream finds equal keys
    // and gives way to the exact path; the copy's rows are duplicates and the lake is the same.
    write_ranges(&cryo("twice"));
    let again = cryo("twice")("native_transfers", 1100, 1149);
    std::fs::create_dir_all(d.join("twice/zz")).unwrap();
    std::fs::copy(&again, d.join("twice/zz").join(again.file_name().unwrap())).unwrap();
    let (src, b3, t3) = ingest_chain(d, "twice", "lake_twice");
    assert!(src.method.as_deref().is_some_and(|m| m.contains("two rows share a natural key")), "{:?}", src.method);
    assert_eq!(tuple(&src.counts), counts(300 + 1500 + 100, 300 + 1500, 0, 100, 0));
    assert!(t3.equals_missing(&transfers), "first file wins: the lake is the same, source_file too");
    assert!(b3.equals_missing(&blocks));

    // A file whose name claims a later range than its rows (so it is read last, after its month
    // was written): the stream notices and gives way; the lake has the same rows in the same order.
    write_ranges(&|ds, s, e| {
        let (s, e) = if ds == "erc20_transfers" && s == 1000 { (5000, 5049) } else { (s, e) };
        d.join("misnamed").join(format!("ethereum__{ds}__{s:08}_to_{e:08}.parquet"))
    });
    let (src, b4, t4) = ingest_chain(d, "misnamed", "lake_misnamed");
    assert!(src.method.as_deref().is_some_and(|m| m.contains("not in block order")), "{:?}", src.method);
    assert_eq!(tuple(&src.counts), counts(300 + 1500, 300 + 1500, 0, 0, 0));
    assert!(without_source_file(&t4).equals_missing(&without_source_file(&transfers)));
    assert!(b4.equals_missing(&blocks));
}

/// Recoveries: every row loaded, quarantined with its reason, or counted as a duplicate; a
/// recovery takes its actor from its incident unless it names one; no USD figure stays unknown.
#[test]
fn recoveries_load_with_every_row_accounted_for() {
    let tmp = tempfile::tempdir().unwrap();
    let s = full_config(tmp.path());
    let summary = ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    let r = summary.sources.iter().find(|x| x.name == "recov").unwrap();
    assert_eq!(tuple(&r.counts), counts(8, 3, 4, 1, 0));
    let lake = ifr_pipeline::lake::Lake::new(&s.lake_dir);
    let q =
        ifr_pipeline::sql(&lake, "SELECT \"column\", raw_value, reason FROM quarantine WHERE source = 'recov' ORDER BY \"row\"").unwrap();
    let col = |df: &DataFrame, c: &str| -> Vec<String> {
        df.column(c).unwrap().str().unwrap().iter().map(|x| x.unwrap_or("<null>").to_string()).collect()
    };
    assert_eq!(col(&q, "column"), ["kind", "date", "usd", "acted_by"]);
    assert_eq!(col(&q, "raw_value"), ["stolen", "2022-02-30", "4,5", ""]);
    let reasons = col(&q, "reason");
    assert!(reasons[0].contains("frozen, seized, returned"), "{reasons:?}");
    assert!(reasons[2].contains("decimal comma"), "{reasons:?}");
    let rows = ifr_pipeline::sql(&lake, "SELECT id, kind, usd, asset_amount, acted_by FROM recoveries ORDER BY date").unwrap();
    assert_eq!(col(&rows, "id"), ["ronin-seized", "fronts-seized", "returned-btc"]);
    assert_eq!(col(&rows, "kind"), ["seized", "seized", "returned"]);
    let usd: Vec<Option<f64>> = rows.column("usd").unwrap().f64().unwrap().iter().collect();
    assert_eq!(usd, [Some(30_000_000.0), Some(4_400_000.0), None]);
    assert_eq!(col(&rows, "asset_amount"), ["<null>", "<null>", "4.8 BTC"]);
    assert_eq!(col(&rows, "acted_by"), ["US law enforcement", "Binance & US authorities", "Korean police"]);
}

/// BSC, Polygon, Arbitrum and Avalanche exports use the same readers; the chain comes from the
/// config and assets are per chain: the same export read as Ethereum and as BSC gives ETH and USDC
/// on one, BNB and an unknown token (the USDC contract is Ethereum's) on the other.
#[test]
fn other_evm_chains_use_the_same_readers_with_assets_per_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let mut text = format!(
        "lake = \"lake\"\n[[sources]]\nname = \"assets\"\nkind = \"assets\"\nformat = \"asset-csv\"\npath = \"{}\"\n",
        root().join("data/reference/assets.csv").display()
    );
    for chain in ["ethereum", "bsc", "polygon", "arbitrum", "avalanche"] {
        text.push_str(&format!(
            "[[sources]]\nname = \"etl-{chain}\"\nkind = \"chain\"\nformat = \"ethereum-etl\"\nchain = \"{chain}\"\npath = \"{}\"\n",
            fixtures().join("ethereum_etl").display()
        ));
    }
    let s = settings(tmp.path(), &text);
    ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    let lake = ifr_pipeline::lake::Lake::new(&s.lake_dir);
    let df = ifr_pipeline::sql(
        &lake,
        "SELECT chain, kind, asset, decimals, count(*) AS n FROM transfers GROUP BY chain, kind, asset, decimals ORDER BY chain, kind, asset",
    )
    .unwrap();
    assert_eq!(
        rows(&df),
        [
            "\"arbitrum\"|\"native\"|\"ETH\"|18|1",
            "\"arbitrum\"|\"token\"|null|null|3",
            "\"avalanche\"|\"native\"|\"AVAX\"|18|1",
            "\"avalanche\"|\"token\"|null|null|3",
            "\"bsc\"|\"native\"|\"BNB\"|18|1",
            "\"bsc\"|\"token\"|null|null|3",
            "\"ethereum\"|\"native\"|\"ETH\"|18|1",
            "\"ethereum\"|\"token\"|\"DAI\"|18|1",
            "\"ethereum\"|\"token\"|\"USDC\"|6|1",
            "\"ethereum\"|\"token\"|null|null|1",
            "\"polygon\"|\"native\"|\"POL\"|18|1",
            "\"polygon\"|\"token\"|null|null|3",
        ]
    );
    // Partitions per chain.
    let files: Vec<String> =
        lake.table_files("transfers").unwrap().iter().map(|p| p.strip_prefix(&s.lake_dir).unwrap().display().to_string()).collect();
    assert!(files.contains(&"transfers/chain=bsc/year=2022/month=3/etl-bsc.parquet".to_string()), "{files:?}");
}
