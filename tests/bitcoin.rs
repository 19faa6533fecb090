//! Bitcoin: bitcoin-etl exports into the UTXO tables, inputs resolved against the outputs they
//! spend, and the address-to-address flows in `transfers` — on a hand-made chain whose expected
//! values are worked out by hand below.

use polars::prelude::*;

use crate::common::*;

const A: &str = "1PkqKGbNLDdDJGveCcNUMV9CEFH77ADrPQ";
const B: &str = "1CvMvWyKJvfg6wQSGdHraoJ7NFu8KaTL1u";
const C: &str = "1HaHTfmvoUW6i6nhJf8jJs6tU4cHNmBQHQ";
/// Written upper-case in the export: a bech32 address is stored lower-case.
const D: &str = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
const E: &str = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy";

/// A config in `d` with the reference assets and actors, `labels.yaml` and `prices.csv` (written
/// by the test), the hand-made Bitcoin export, and `extra` sources (TOML).
fn config(d: &std::path::Path, extra: &str) -> ifr_pipeline::Settings {
    let reference = root().join("data/reference");
    let source = |name: &str, kind: &str, format: &str, path: &str| {
        format!("[[sources]]\nname = \"{name}\"\nkind = \"{kind}\"\nformat = \"{format}\"\npath = \"{path}\"\n")
    };
    let text = [
        "lake = \"lake\"\n".to_string(),
        source("assets", "assets", "asset-csv", &reference.join("assets.csv").display().to_string()),
        source("actors", "actors", "actorpack", &reference.join("actors.yaml").display().to_string()),
        source("labels", "labels", "tagpack", "labels.yaml"),
        source("prices", "prices", "price-csv", "prices.csv"),
        extra.to_string(),
        format!(
            "[[sources]]\nname = \"btc\"\nkind = \"chain\"\nformat = \"bitcoin-etl\"\nchain = \"bitcoin\"\npath = \"{}\"\n",
            fixtures().join("bitcoin-etl").display()
        ),
    ]
    .concat();
    settings(d, &text)
}

fn h(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

/// A 32-byte Ethereum transaction id of one repeated byte.
fn eth_tx(n: u8) -> String {
    format!("0x{}", std::iter::repeat_n(format!("{n:02x}"), 32).collect::<String>())
}

/// An ethereum-etl export in `d/eth`: blocks (number, unix time) and transactions moving ETH
/// (id, block, from, to, wei), each alone in its block.
fn eth_export(d: &std::path::Path, blocks: &[(i64, i64)], txs: &[(&str, i64, &str, &str, &str)]) {
    let eth = d.join("eth");
    std::fs::create_dir_all(&eth).unwrap();
    let blocks: String = blocks.iter().map(|(n, t)| format!("{n},,{t},1\n")).collect();
    std::fs::write(eth.join("blocks.csv"), format!("number,hash,timestamp,transaction_count\n{blocks}")).unwrap();
    let rows: String = txs
        .iter()
        .enumerate()
        .map(|(i, (hash, block, from, to, wei))| format!("{hash},{},,{block},0,{from},{to},{wei},21000,1,0x,,,,2,1\n", i + 1))
        .collect();
    std::fs::write(
        eth.join("transactions.csv"),
        format!("hash,nonce,block_hash,block_number,transaction_index,from_address,to_address,value,gas,gas_price,input,block_timestamp,max_fee_per_gas,max_priority_fee_per_gas,transaction_type,receipt_status\n{rows}"),
    )
    .unwrap();
}

/// `labels.yaml`: one pack of services, each tag (address, currency, category).
fn service_labels(d: &std::path::Path, tags: &[(&str, &str, &str)]) {
    let tags: String = tags.iter().map(|(a, cur, cat)| format!("- address: '{a}'\n  currency: {cur}\n  category: {cat}\n")).collect();
    std::fs::write(
        d.join("labels.yaml"),
        format!(
            "title: test\ncreator: ifr tests\nlastmod: 2024-01-01\nlabel: a service\nsource: https://example.org\nconfidence: service_data\ncategory: exchange\ntags:\n{tags}"
        ),
    )
    .unwrap();
}

/// The ledger `incidents.csv` with one Lazarus Group incident of 2024-01-02: (id, chain, reported
/// USD, victim, attacker, theft transactions).
fn one_incident(d: &std::path::Path, (id, chain, usd, victim, attacker, txs): (&str, &str, &str, &str, &str, &str)) {
    std::fs::write(
        d.join("incidents.csv"),
        format!(
            "id,date,name,chains,reported_usd,returned_usd,classification,actor,attributed_by,attribution_date,attribution_source,victim_addresses,attacker_addresses,tx_hashes,source_url,notes\n\
             {id},2024-01-02,A test theft,{chain},{usd},,test,lazarus_group,tests,2024-01-03,https://example.org,{victim},{attacker},{txs},https://example.org,\n"
        ),
    )
    .unwrap();
}

/// `links.csv` (ifr-links) with these rows.
fn links_csv(d: &std::path::Path, rows: &str) {
    std::fs::write(
        d.join("links.csv"),
        format!(
            "id,source_chain,deposit_tx,source_asset,source_amount,destination_chain,release_tx,release_address,destination_asset,destination_amount,link_source,notes\n{rows}"
        ),
    )
    .unwrap();
}

/// [`config`] with the ledger, the links and the Ethereum export beside the Bitcoin one.
fn two_chain_config(d: &std::path::Path) -> ifr_pipeline::Settings {
    config(
        d,
        "[[sources]]\nname = \"incidents\"\nkind = \"incidents\"\nformat = \"ifr-ledger\"\npath = \"incidents.csv\"\n[[sources]]\nname = \"links\"\nkind = \"links\"\nformat = \"ifr-links\"\npath = \"links.csv\"\n[[sources]]\nname = \"eth\"\nkind = \"chain\"\nformat = \"ethereum-etl\"\nchain = \"ethereum\"\npath = \"eth\"\n",
    )
}

/// Every `trace.…` figure of lazarus_group in 2024's figures.json, as `id=value`, sorted.
fn trace_figures(d: &std::path::Path) -> Vec<String> {
    let figures: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("report/2024/figures.json")).unwrap()).unwrap();
    let mut got: Vec<String> = figures
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"].as_str().unwrap().starts_with("trace.") && f["id"].as_str().unwrap().contains(".lazarus_group."))
        .map(|f| format!("{}={}", f["id"].as_str().unwrap(), f["value"].as_str().unwrap()))
        .collect();
    got.sort();
    got
}

#[test]
fn a_bitcoin_etl_export_becomes_utxo_tables_and_proportional_flows() {
    let tmp = tempfile::tempdir().unwrap();
    let s = settings(
        tmp.path(),
        &format!(
            "lake = \"lake\"\n[[sources]]\nname = \"btc\"\nkind = \"chain\"\nformat = \"bitcoin-etl\"\nchain = \"bitcoin\"\npath = \"{}\"\n",
            fixtures().join("bitcoin-etl").display()
        ),
    );
    let summary = ifr_pipeline::ingest(&s, &ifr_pipeline::NoProgress).unwrap();
    let src = summary.sources.iter().find(|x| x.name == "btc").unwrap();
    // 3 blocks and 9 transaction lines: 5 transactions and 3 blocks loaded, 3 lines quarantined
    // (a BTC float, a bad checksum, not JSON), 1 transaction repeated in a second file.
    let c = &src.counts;
    assert_eq!((c.read, c.loaded, c.quarantined, c.duplicates, c.filtered), (12, 8, 3, 1, 0), "{c:?}");
    // Five inputs: c0:0, t1:0 and t1:1 are in the export, ff..:0 was enriched by the export; ee..:1
    // is spent by t4 and is in neither: unresolved, and t4 gives no flows.
    assert_eq!(
        src.method.as_deref(),
        Some(
            "inputs resolved: 4 of 5 (1 spend outputs not loaded); transactions with flows: 3, without (an input unresolved): 1, inconsistent (outputs > inputs): 0, without outputs loaded: 0"
        )
    );

    let q = table(&s, "quarantine");
    let reasons: Vec<(Option<i64>, Option<String>, String)> = (0..q.height())
        .map(|i| {
            (
                q.column("row").unwrap().i64().unwrap().get(i),
                q.column("column").unwrap().str().unwrap().get(i).map(str::to_string),
                q.column("reason").unwrap().str().unwrap().get(i).unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert_eq!((reasons[0].0, reasons[0].1.as_deref()), (Some(6), Some("outputs[0].value")));
    assert!(reasons[0].2.contains("floating-point"), "{reasons:?}");
    assert_eq!((reasons[1].0, reasons[1].1.as_deref()), (Some(7), Some("outputs[0].addresses")));
    assert!(reasons[1].2.contains("checksum"), "{reasons:?}");
    assert_eq!((reasons[2].0, reasons[2].1.as_deref()), (Some(8), None));

    let outputs = table(&s, "utxo_outputs");
    assert_eq!(outputs.height(), 1 + 2 + 3 + 1 + 1);
    let o = outputs
        .lazy()
        .filter(col("tx_hash").eq(lit(h('2'))))
        .sort(["vout"], Default::default())
        .select([col("address"), col("value_sat"), col("script_type"), col("month")])
        .collect()
        .unwrap();
    assert_eq!(
        rows(&o),
        [
            format!("\"{D}\"|4000000000|\"witness_v0_keyhash\"|2"),
            format!("\"{B}\"|999980000|\"pubkeyhash\"|2"),
            "null|0|\"nulldata\"|2".to_string(),
        ]
    );
    let inputs = table(&s, "utxo_inputs");
    assert_eq!(inputs.height(), 5);
    // The resolution is kept on each input: t2's inputs spend t1's outputs to B (30 BTC) and C
    // (19.9999); t4's spent output is not loaded: NULL, never guessed.
    let spent = |tx: char| {
        let i = inputs
            .clone()
            .lazy()
            .filter(col("tx_hash").eq(lit(h(tx))))
            .sort(["vin"], Default::default())
            .select([col("address"), col("value_sat")])
            .collect()
            .unwrap();
        rows(&i)
    };
    assert_eq!(spent('2'), [format!("\"{B}\"|3000000000"), format!("\"{C}\"|1999990000")]);
    assert!(spent('4').iter().any(|r| r == "null|null"), "{:?}", spent('4'));

    // The flows, worked out by hand (value of the sender's inputs x value of the receiver's
    // outputs / the inputs' total, rounded down):
    // t1 spends A's 50 BTC coinbase output into 30 BTC to B and 19.9999 to C (fee 10,000 sat):
    //   one input, so each output is A's in full.
    // t2 spends B's 3,000,000,000 and C's 1,999,990,000 (total 4,999,990,000) into 4,000,000,000 to
    //   D and 999,980,000 back to B (fee 10,000; the OP_RETURN output pays no address):
    //   B->D 3e9 x 4e9 / 4,999,990,000 = 2,400,004,800.0096  -> 2,400,004,800
    //   B->B 3e9 x 999,980,000 / 4,999,990,000 = 599,989,199.98 -> 599,989,199
    //   C->D 1,999,990,000 x 4e9 / 4,999,990,000 = 1,599,995,199.99 -> 1,599,995,199
    //   C->B 1,999,990,000 x 999,980,000 / 4,999,990,000 = 399,990,800.02 -> 399,990,800
    // t3 spends an output of E's the export enriched (1,000 sat) into 900 to A (fee 100).
    let t = table(&s, "transfers")
        .lazy()
        .sort(["block_number", "tx_index", "trace_address"], Default::default())
        .select([
            col("tx_hash"),
            col("trace_address"),
            col("kind"),
            col("asset"),
            col("from_address"),
            col("to_address"),
            col("amount_raw"),
            col("decimals"),
        ])
        .collect()
        .unwrap();
    let row = |tx: char, pair: &str, from: &str, to: &str, sat: &str| {
        format!("\"{}\"|\"{pair}\"|\"utxo\"|\"BTC\"|\"{from}\"|\"{to}\"|\"{sat}\"|8", h(tx))
    };
    assert_eq!(
        rows(&t),
        [
            row('1', "0:0", A, B, "3000000000"),
            row('1', "0:1", A, C, "1999990000"),
            row('2', "0:0", B, D, "2400004800"),
            row('2', "0:1", B, B, "599989199"),
            row('2', "1:0", C, D, "1599995199"),
            row('2', "1:1", C, B, "399990800"),
            row('3', "0:0", E, A, "900"),
        ]
    );
}

/// The same queries cover Bitcoin: a label puts B in an actor, BTC closes value its flows on
/// their days, and the report's totals count them.
#[test]
fn bitcoin_flows_are_attributed_valued_and_reported_by_the_same_queries() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(
        d.join("labels.yaml"),
        format!(
            "title: test\ncreator: ifr tests\nlastmod: 2024-01-01\nlabel: a Lazarus wallet\nsource: https://example.org\nconfidence: authority_data\ncategory: user\nactor: lazarus_group\ncurrency: BTC\ntags:\n- address: {B}\n"
        ),
    )
    .unwrap();
    std::fs::write(d.join("prices.csv"), "day,asset,close_usd\n2024-01-02,BTC,45000\n2024-02-02,BTC,43000\n").unwrap();
    let s = config(d, "");
    ifr_pipeline::ingest(&s, &ifr_pipeline::NoProgress).unwrap();
    ifr_pipeline::report(&s, None, &[2024]).unwrap();
    let figures: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("report/2024/figures.json")).unwrap()).unwrap();
    let value = |id: &str| -> String {
        figures.as_array().unwrap().iter().find(|f| f["id"] == id).unwrap_or_else(|| panic!("no figure {id}"))["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Into B from others: A's 30 BTC on 2024-01-02 at $45,000 = $1,350,000; C's 399,990,800 sat
    // on 2024-02-02 at $43,000 = $171,996.044. B to B (change) is inside the actor.
    assert_eq!(value("inflow.lazarus_group.2024"), "1521996.04");
    // Out of B: 2,400,004,800 sat to D on 2024-02-02 at $43,000 = $1,032,002.064.
    assert_eq!(value("outflow.lazarus_group.2024"), "1032002.06");
    // All of it on Bitcoin: the per-chain totals say so.
    assert_eq!(value("chain_total.inflow.lazarus_group.2024.bitcoin"), "1521996.04");
    assert_eq!(value("chain_total.outflow.lazarus_group.2024.bitcoin"), "1032002.06");
}

/// A Bitcoin theft in the ledger is traced on the transactions' inputs and outputs: its seeds are
/// the theft transaction's outputs to the thieves, and the report's tracing shows where it went.
#[test]
fn a_bitcoin_theft_is_traced_on_inputs_and_outputs_into_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // D (the address t2 pays 40 BTC) is an exchange.
    service_labels(d, &[(D, "BTC", "exchange")]);
    std::fs::write(d.join("prices.csv"), "day,asset,close_usd\n2024-01-02,BTC,45000\n2024-02-02,BTC,43000\n").unwrap();
    // t1 (A's coinbase coins to B and C) is the theft.
    one_incident(d, ("btc-test-2024", "bitcoin", "2250000", A, &format!("{B};{C}"), &h('1')));
    let s = config(d, "[[sources]]\nname = \"incidents\"\nkind = \"incidents\"\nformat = \"ifr-ledger\"\npath = \"incidents.csv\"\n");
    ifr_pipeline::ingest(&s, &ifr_pipeline::NoProgress).unwrap();
    ifr_pipeline::report(&s, None, &[2024]).unwrap();
    let figures: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("report/2024/figures.json")).unwrap()).unwrap();
    let value = |id: &str| -> String {
        figures.as_array().unwrap().iter().find(|f| f["id"] == id).unwrap_or_else(|| panic!("no figure {id}"))["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Stolen: t1's 30 BTC to B and 19.9999 to C at the 2024-01-02 close of $45,000.
    assert_eq!(value("stolen.lazarus_group.2024"), "2249995.50");
    // Both of t1's outputs are seeded in full; t2 spends both (nothing clean enters), so every
    // method agrees: 40 BTC to the exchange D and 0.0001 BTC of fee on 2024-02-02 at $43,000
    // ($1,720,000 and $4.30), and B's 9.9998 BTC change still held ($429,991.40 at the last
    // day's close). The methods' differences are the unit tests' (stages/trace/utxo.rs).
    for method in ["poison", "haircut", "fifo"] {
        assert_eq!(value(&format!("trace.{method}.lazarus_group.2024.exchange")), "1720000.00", "{method}");
        assert_eq!(value(&format!("trace.{method}.lazarus_group.2024.fee")), "4.30", "{method}");
        assert_eq!(value(&format!("trace.{method}.lazarus_group.2024.held")), "429991.40", "{method}");
    }
    let table = std::fs::read_to_string(d.join("report/2024/tables/trace_destinations.csv")).unwrap();
    assert!(table.contains("lazarus_group,2024,haircut,exchange,1720000.00,0"), "{table}");
}

/// An Ethereum theft bridged to Bitcoin: taint that reaches the bridge in a link's deposit goes on
/// at the link's release on Bitcoin, by each method's share, and arrives there "bridged to
/// bitcoin"; a link whose two sides do not agree in value is reported and not followed.
#[test]
fn a_theft_bridged_from_ethereum_to_bitcoin_is_followed_across_the_link() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (victim, thief, bridge) = (
        "0x1111111111111111111111111111111111111111",
        "0x2222222222222222222222222222222222222222",
        "0x3333333333333333333333333333333333333333",
    );
    // 1,000 ETH stolen (block 200), then all of it deposited into the bridge (block 201).
    let wei = "1000000000000000000000";
    eth_export(
        d,
        &[(200, 1704160000), (201, 1704160100)],
        &[(&eth_tx(0xe1), 200, victim, thief, wei), (&eth_tx(0xe2), 201, thief, bridge, wei)],
    );
    service_labels(d, &[(D, "BTC", "exchange"), (bridge, "ETH", "bridge")]);
    std::fs::write(
        d.join("prices.csv"),
        "day,asset,close_usd\n2024-01-02,ETH,1350\n2024-01-02,BTC,45000\n2024-02-02,BTC,43000\n2024-02-02,ETH,1300\n",
    )
    .unwrap();
    one_incident(d, ("eth-test-2024", "ethereum", "1350000", victim, thief, &eth_tx(0xe1)));
    // The deposit is released on Bitcoin by t1 to B: 1,000 ETH ($1.35M) for 30 BTC ($1.35M). A
    // second link of the same deposit claims 10 BTC ($450,000): 66.7% apart, not followed.
    links_csv(
        d,
        &format!(
            "l1,ethereum,{dep},ETH,1000,bitcoin,{rel},{B},BTC,30,https://example.org/bridge,\n\
             l2,ethereum,{dep},ETH,1000,bitcoin,{rel},{C},BTC,10,https://example.org/bridge,a wrong amount\n",
            dep = eth_tx(0xe2),
            rel = h('1')
        ),
    );
    let s = two_chain_config(d);
    let summary = ifr_pipeline::ingest(&s, &ifr_pipeline::NoProgress).unwrap();
    let links = summary.sources.iter().find(|x| x.name == "links").unwrap();
    assert_eq!((links.counts.read, links.counts.loaded), (2, 2));
    ifr_pipeline::report(&s, None, &[2024]).unwrap();
    let figures: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("report/2024/figures.json")).unwrap()).unwrap();
    // Each method carries all 1,000 ETH into the bridge, so 30 BTC of t1's output to B is seeded.
    // t2 spends B's 30 (tainted) and C's 19.9999 (clean) into 40 to the exchange D, 9.9998 back
    // to B and a 0.0001 fee; at $43,000 on 2024-02-02:
    // - poison: everything tainted: $1,720,000.00, fee $4.30, held $429,991.40;
    // - haircut: a share of 30 / 49.9999 each: $1,032,002.06, fee $2.58, held $257,995.36;
    // - FIFO: B's 30 first, so the exchange takes the 30 tainted: $1,290,000.00, nothing else.
    // Nothing stays at the bridge: all of it crossed.
    let want = [
        "trace.fifo.lazarus_group.2024.exchange (bridged to bitcoin)=1290000.00",
        "trace.haircut.lazarus_group.2024.exchange (bridged to bitcoin)=1032002.06",
        "trace.haircut.lazarus_group.2024.fee (bridged to bitcoin)=2.58",
        "trace.haircut.lazarus_group.2024.held (bridged to bitcoin)=257995.36",
        "trace.poison.lazarus_group.2024.exchange (bridged to bitcoin)=1720000.00",
        "trace.poison.lazarus_group.2024.fee (bridged to bitcoin)=4.30",
        "trace.poison.lazarus_group.2024.held (bridged to bitcoin)=429991.40",
    ];
    assert_eq!(trace_figures(d), want);
    // Stolen on Ethereum (1,000 ETH at $1,350), traced to Bitcoin: the per-chain total keeps it on
    // the chain it was stolen on.
    let by_id = |id: &str| figures.as_array().unwrap().iter().find(|f| f["id"] == id).map(|f| f["value"].as_str().unwrap().to_string());
    assert_eq!(by_id("stolen.lazarus_group.2024").as_deref(), Some("1350000.00"));
    assert_eq!(by_id("chain_total.stolen.lazarus_group.2024.ethereum").as_deref(), Some("1350000.00"));
    assert_eq!(by_id("chain_total.stolen.lazarus_group.2024.bitcoin"), None);
    // The mismatched link is reported (on the page, and in the trace's log), not followed.
    let md = std::fs::read_to_string(d.join("report/2024/report.md")).unwrap();
    assert!(md.contains("**Cross-chain links not followed.** The trace stops at the bridge for these links: l2 (its two sides differ by 66.7% in value on 2024-01-02"), "{md}");
    let o = ifr(d, &["trace", "--incident", "eth-test-2024"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cross-chain link l2 not followed: its two sides differ by 66.7% in value on 2024-01-02"),
        "{}",
        stderr(&o)
    );
}

/// A Bitcoin theft bridged to Ethereum: taint that reaches the bridge's Bitcoin address in a link's
/// deposit leaves it there and goes on at the link's release on Ethereum, by each method's share,
/// arriving "bridged to ethereum" (the account chains are walked again with it).
#[test]
fn a_theft_bridged_from_bitcoin_to_ethereum_is_followed_across_the_link() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (hot, receiver, exchange) = (
        "0x4444444444444444444444444444444444444444",
        "0x5555555555555555555555555555555555555555",
        "0x6666666666666666666666666666666666666666",
    );
    // On Ethereum, an hour after t2 (2024-02-02 00:00 UTC) the bridge's hot wallet releases
    // 1,320 ETH to the receiver, who sends all of it to an exchange an hour later.
    let wei = "1320000000000000000000";
    let transfers = [(eth_tx(0xf1), 300, hot, receiver), (eth_tx(0xf2), 301, receiver, exchange)];
    let transfers: Vec<(&str, i64, &str, &str, &str)> = transfers.iter().map(|(h, b, f, t)| (h.as_str(), *b, *f, *t, wei)).collect();
    eth_export(d, &[(300, 1706835600), (301, 1706839200)], &transfers);
    // D (paid 40 BTC by t2) is the bridge's Bitcoin address.
    service_labels(d, &[(D, "BTC", "bridge"), (exchange, "ETH", "exchange")]);
    std::fs::write(d.join("prices.csv"), "day,asset,close_usd\n2024-01-02,BTC,45000\n2024-02-02,BTC,43000\n2024-02-02,ETH,1300\n").unwrap();
    // t1's 30 BTC from A to B is the theft (the victim's and the thief's addresses, no transaction
    // listed: C's 19.9999 is clean).
    one_incident(d, ("btc-test-2024", "bitcoin", "1350000", A, B, ""));
    // t2's 40 BTC ($1,720,000) to the bridge are released as 1,320 ETH ($1,716,000): 33 ETH per BTC.
    links_csv(d, &format!("l1,bitcoin,{},BTC,40,ethereum,{},{receiver},ETH,1320,https://example.org/bridge,\n", h('2'), eth_tx(0xf1)));
    let s = two_chain_config(d);
    ifr_pipeline::ingest(&s, &ifr_pipeline::NoProgress).unwrap();
    ifr_pipeline::report(&s, None, &[2024]).unwrap();
    // t2 spends B's 30 (tainted) and C's 19.9999 (clean) into 40 to the bridge D, 9.9998 back to
    // B and a 0.0001 fee (2024-02-02: BTC $43,000, ETH $1,300). Into the bridge, then across at
    // 33 ETH per BTC, and all of it on to the exchange:
    // - poison: 40 BTC -> 1,320 ETH, $1,716,000.00; fee $4.30, B's change held $429,991.40;
    // - haircut: 40 x 30 / 49.9999 = 24.000048 BTC -> 792.001584 ETH, $1,029,602.06; fee
    //   0.0001 x 30 / 49.9999 BTC, $2.58; held 9.9998 x 30 / 49.9999 BTC, $257,995.36;
    // - FIFO: B's 30 first, all into the bridge -> 990 ETH, $1,287,000.00; nothing else.
    // Nothing stays at the bridge on Bitcoin: all of it crossed.
    let want = [
        "trace.fifo.lazarus_group.2024.exchange (bridged to ethereum)=1287000.00",
        "trace.haircut.lazarus_group.2024.exchange (bridged to ethereum)=1029602.06",
        "trace.haircut.lazarus_group.2024.fee=2.58",
        "trace.haircut.lazarus_group.2024.held=257995.36",
        "trace.poison.lazarus_group.2024.exchange (bridged to ethereum)=1716000.00",
        "trace.poison.lazarus_group.2024.fee=4.30",
        "trace.poison.lazarus_group.2024.held=429991.40",
    ];
    assert_eq!(trace_figures(d), want);
    let md = std::fs::read_to_string(d.join("report/2024/report.md")).unwrap();
    assert!(!md.contains("Cross-chain links not followed"), "{md}");

    // The release dated 2024-02-01 23:26:40, before its deposit: not followed, and the taint stays
    // at the bridge on Bitcoin (40, 24.000048 and 30 BTC at $43,000), said so on the page.
    eth_export(d, &[(300, 1706830000), (301, 1706839200)], &transfers);
    ifr_pipeline::ingest(&s, &ifr_pipeline::NoProgress).unwrap();
    ifr_pipeline::report(&s, None, &[2024]).unwrap();
    let want = [
        "trace.fifo.lazarus_group.2024.bridge=1290000.00",
        "trace.haircut.lazarus_group.2024.bridge=1032002.06",
        "trace.haircut.lazarus_group.2024.fee=2.58",
        "trace.haircut.lazarus_group.2024.held=257995.36",
        "trace.poison.lazarus_group.2024.bridge=1720000.00",
        "trace.poison.lazarus_group.2024.fee=4.30",
        "trace.poison.lazarus_group.2024.held=429991.40",
    ];
    assert_eq!(trace_figures(d), want);
    let md = std::fs::read_to_string(d.join("report/2024/report.md")).unwrap();
    assert!(md.contains("l1 (the walk did not reach its release"), "{md}");

    // The release after the deposit again, and B (t2's change) an exchange too: only what t2 pays
    // the bridge crosses; the change arrives at the exchange on Bitcoin and stays there.
    eth_export(d, &[(300, 1706835600), (301, 1706839200)], &transfers);
    service_labels(d, &[(D, "BTC", "bridge"), (B, "BTC", "exchange"), (exchange, "ETH", "exchange")]);
    ifr_pipeline::ingest(&s, &ifr_pipeline::NoProgress).unwrap();
    ifr_pipeline::report(&s, None, &[2024]).unwrap();
    let want = [
        "trace.fifo.lazarus_group.2024.exchange (bridged to ethereum)=1287000.00",
        "trace.haircut.lazarus_group.2024.exchange (bridged to ethereum)=1029602.06",
        "trace.haircut.lazarus_group.2024.exchange=257995.36",
        "trace.haircut.lazarus_group.2024.fee=2.58",
        "trace.poison.lazarus_group.2024.exchange (bridged to ethereum)=1716000.00",
        "trace.poison.lazarus_group.2024.exchange=429991.40",
        "trace.poison.lazarus_group.2024.fee=4.30",
    ];
    assert_eq!(trace_figures(d), want);
}

/// bitcoin-etl's CSV (nested lists as Python literals) gives the same tables as its JSON lines.
#[test]
fn a_bitcoin_etl_csv_export_loads_like_its_json_lines() {
    // Every table but the file names, sorted rows, for the export in `dir`.
    let tables_of = |dir: &std::path::Path| -> Vec<Vec<String>> {
        let tmp = tempfile::tempdir().unwrap();
        let s = settings(
            tmp.path(),
            &format!(
                "lake = \"lake\"\n[[sources]]\nname = \"btc\"\nkind = \"chain\"\nformat = \"bitcoin-etl\"\nchain = \"bitcoin\"\npath = \"{}\"\n",
                dir.display()
            ),
        );
        let summary = ifr_pipeline::ingest(&s, &ifr_pipeline::NoProgress).unwrap();
        let c = &summary.sources[0].counts;
        assert!(c.balanced() && c.quarantined == 0, "{c:?}");
        ["utxo_outputs", "utxo_inputs", "transfers", "blocks"]
            .iter()
            .map(|t| {
                let mut r = rows(&table(&s, t).drop("source_file").unwrap());
                r.sort();
                r
            })
            .collect()
    };
    // The JSON fixture's first five transactions are the CSV's (its other lines are bad ones).
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("json");
    std::fs::create_dir_all(&json).unwrap();
    std::fs::copy(fixtures().join("bitcoin-etl/blocks.json"), json.join("blocks.json")).unwrap();
    let txs: String = std::fs::read_to_string(fixtures().join("bitcoin-etl/transactions_1.json"))
        .unwrap()
        .lines()
        .take(5)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(json.join("transactions.json"), txs).unwrap();
    let csv = tables_of(&fixtures().join("bitcoin-etl-csv"));
    assert_eq!((csv[0].len(), csv[1].len(), csv[2].len(), csv[3].len()), (8, 5, 7, 3), "outputs, inputs, transfers, blocks");
    assert_eq!(csv, tables_of(&json));
}

/// BigQuery's flattened `crypto_bitcoin.outputs` and `inputs` (JSON lines, NUMERIC values as text)
/// give the same outputs, inputs and flows as the bitcoin-etl export of the same transactions (but
/// for the position in the block, which those tables do not have); a value in BTC is refused.
#[test]
fn bigquery_flattened_outputs_and_inputs_load_like_bitcoin_etl() {
    let load = |format: &str, dir: &std::path::Path| -> (ifr_pipeline::Settings, tempfile::TempDir) {
        let tmp = tempfile::tempdir().unwrap();
        let s = settings(
            tmp.path(),
            &format!(
                "lake = \"lake\"\n[[sources]]\nname = \"btc\"\nkind = \"chain\"\nformat = \"{format}\"\nchain = \"bitcoin\"\npath = \"{}\"\n",
                dir.display()
            ),
        );
        let summary = ifr_pipeline::ingest(&s, &ifr_pipeline::NoProgress).unwrap();
        let c = &summary.sources[0].counts;
        if format == "bigquery-bitcoin" {
            // 10 output rows (2 bad) and 5 input rows.
            assert_eq!((c.read, c.loaded, c.quarantined, c.duplicates), (15, 13, 2, 0), "{c:?}");
        }
        (s, tmp)
    };
    let tables = |s: &ifr_pipeline::Settings| -> Vec<Vec<String>> {
        ["utxo_outputs", "utxo_inputs", "transfers"]
            .iter()
            .map(|t| {
                let mut r = rows(&table(s, t).drop_many(["source_file", "tx_index"]));
                r.sort();
                r
            })
            .collect()
    };
    let (bq, _a) = load("bigquery-bitcoin", &fixtures().join("bigquery-bitcoin"));
    let (etl, _b) = load("bitcoin-etl", &fixtures().join("bitcoin-etl-csv"));
    let q = table(&bq, "quarantine");
    let reasons: Vec<String> = (0..q.height()).map(|i| q.column("reason").unwrap().str().unwrap().get(i).unwrap().to_string()).collect();
    assert!(reasons.iter().any(|r| r.contains("floating-point")) && reasons.iter().any(|r| r.contains("checksum")), "{reasons:?}");
    // The coinbase is known by having no input rows.
    let coinbase =
        ifr_pipeline::sql(&ifr_pipeline::lake::Lake::new(&bq.lake_dir), "SELECT tx_hash FROM utxo_outputs WHERE is_coinbase").unwrap();
    assert_eq!(strings(&coinbase, "tx_hash"), [h('0')]);
    assert_eq!(tables(&bq), tables(&etl));

    // An input row whose transaction has no output row loaded is counted apart, not lost.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bq");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixtures().join("bigquery-bitcoin/outputs.json"), dir.join("outputs.json")).unwrap();
    let mut inputs = std::fs::read_to_string(fixtures().join("bigquery-bitcoin/inputs.json")).unwrap();
    inputs.push_str(&format!(
        "{{\"transaction_hash\": \"{}\", \"block_number\": \"102\", \"block_timestamp\": \"2024-02-02 00:00:00 UTC\", \"index\": \"0\", \"spent_transaction_hash\": \"{}\", \"spent_output_index\": \"5\", \"addresses\": [], \"value\": null}}\n",
        h('9'),
        h('e')
    ));
    std::fs::write(dir.join("inputs.json"), inputs).unwrap();
    let s = settings(
        tmp.path(),
        &format!(
            "lake = \"lake\"\n[[sources]]\nname = \"btc\"\nkind = \"chain\"\nformat = \"bigquery-bitcoin\"\nchain = \"bitcoin\"\npath = \"{}\"\n",
            dir.display()
        ),
    );
    let summary = ifr_pipeline::ingest(&s, &ifr_pipeline::NoProgress).unwrap();
    let method = summary.sources[0].method.clone().unwrap();
    assert!(method.ends_with("without outputs loaded: 1"), "{method}");
}

/// A BigQuery JSON-lines export (`dir`'s `outputs.json` and `inputs.json`) rewritten as
/// BigQuery's Parquet export writes those tables: INT64 integers, TIMESTAMP as UTC microseconds,
/// `addresses` as a list of strings, NUMERIC as DECIMAL(38, 9) — or `value` as FLOAT64 in BTC, as
/// some public Parquet copies have it (`btc_floats`).
fn bigquery_parquet(dir: &std::path::Path, out: &std::path::Path, btc_floats: bool) {
    std::fs::create_dir_all(out).unwrap();
    for table in ["outputs", "inputs"] {
        let text = std::fs::read_to_string(dir.join(format!("{table}.json"))).unwrap();
        let rows: Vec<serde_json::Map<String, serde_json::Value>> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let text_of = |r: &serde_json::Map<String, serde_json::Value>, c: &str| r.get(c).and_then(|v| v.as_str()).map(str::to_string);
        let strings = |c: &str| Column::new(c.into(), rows.iter().map(|r| text_of(r, c)).collect::<Vec<_>>());
        let ints =
            |c: &str| Column::new(c.into(), rows.iter().map(|r| text_of(r, c).map(|t| t.parse::<i64>().unwrap())).collect::<Vec<_>>());
        let micros: Vec<i64> = rows
            .iter()
            .map(|r| {
                let t = text_of(r, "block_timestamp").unwrap();
                chrono::NaiveDateTime::parse_from_str(t.trim_end_matches(" UTC"), "%Y-%m-%d %H:%M:%S").unwrap().and_utc().timestamp_micros()
            })
            .collect();
        let time = Column::new("block_timestamp".into(), micros)
            .cast(&DataType::Datetime(TimeUnit::Microseconds, Some(polars::prelude::TimeZone::UTC)))
            .unwrap();
        let addresses: Vec<Series> = rows
            .iter()
            .map(|r| {
                let list: Vec<String> = r["addresses"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
                Series::new("".into(), list)
            })
            .collect();
        let value = if btc_floats {
            let btc: Vec<Option<f64>> = rows.iter().map(|r| text_of(r, "value").map(|t| t.parse::<f64>().unwrap() / 1e8)).collect();
            Column::new("value".into(), btc)
        } else {
            strings("value").cast(&DataType::Decimal(38, 9)).unwrap()
        };
        let mut columns = vec![
            strings("transaction_hash"),
            strings("block_hash"),
            ints("block_number"),
            time,
            ints("index"),
            strings("type"),
            Column::new("addresses".into(), Series::new("addresses".into(), addresses)),
            value,
        ];
        if table == "inputs" {
            columns.push(strings("spent_transaction_hash"));
            columns.push(ints("spent_output_index"));
        }
        let mut df = DataFrame::new(rows.len(), columns).unwrap();
        let f = std::fs::File::create(out.join(format!("{table}.parquet"))).unwrap();
        ParquetWriter::new(f).finish(&mut df).unwrap();
    }
}

/// BigQuery's Parquet export of the same rows loads exactly as its JSON lines do: the same tables,
/// counts and quarantine (the BTC value and the bad checksum, at the same row numbers); a copy
/// whose values are BTC floats is refused row by row, never rounded.
#[test]
fn bigquery_parquet_loads_like_its_json_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let parquet = tmp.path().join("parquet");
    bigquery_parquet(&fixtures().join("bigquery-bitcoin"), &parquet, false);
    let load = |dir: &std::path::Path, lake: &str| {
        let s = settings(
            tmp.path(),
            &format!(
                "lake = \"{lake}\"\n[[sources]]\nname = \"btc\"\nkind = \"chain\"\nformat = \"bigquery-bitcoin\"\nchain = \"bitcoin\"\npath = \"{}\"\n",
                dir.display()
            ),
        );
        let summary = ifr_pipeline::ingest(&s, &ifr_pipeline::NoProgress).unwrap();
        let c = summary.sources[0].counts.clone();
        (s, (c.read, c.loaded, c.quarantined, c.duplicates, c.filtered))
    };
    let (json, json_counts) = load(&fixtures().join("bigquery-bitcoin"), "lake-json");
    let (pq, pq_counts) = load(&parquet, "lake-parquet");
    assert_eq!(json_counts, (15, 13, 2, 0, 0));
    assert_eq!(pq_counts, json_counts);
    for t in ["utxo_outputs", "utxo_inputs", "transfers"] {
        let sorted = |s: &ifr_pipeline::Settings| {
            let mut r = rows(&table(s, t).drop("source_file").unwrap());
            r.sort();
            r
        };
        assert_eq!(sorted(&pq), sorted(&json), "{t}");
    }
    // The same rows refused for the same reasons: a JSON line number is 1-based, a Parquet row 0-based.
    let quarantine = |s: &ifr_pipeline::Settings, first: i64| {
        let q = table(s, "quarantine");
        let text = |c: &str| q.column(c).unwrap().str().unwrap().iter().map(|v| v.unwrap_or("").to_string()).collect::<Vec<_>>();
        let at = q.column("row").unwrap().i64().unwrap().iter().map(|r| r.unwrap() - first);
        let mut r: Vec<String> = at.zip(text("column")).zip(text("reason")).map(|((a, c), w)| format!("{a}|{c}|{w}")).collect();
        r.sort();
        r
    };
    let q = quarantine(&pq, 0);
    assert_eq!(q.len(), 2);
    assert_eq!(q, quarantine(&json, 1));

    // Values as BTC floats: every row with a value is refused for it (the bad checksum first).
    let floats = tmp.path().join("floats");
    bigquery_parquet(&fixtures().join("bigquery-bitcoin"), &floats, true);
    let (f, counts) = load(&floats, "lake-floats");
    // (The enriched input's value is a float too.)
    assert_eq!(counts, (15, 4, 11, 0, 0));
    let reasons = strings(&table(&f, "quarantine"), "reason");
    assert!(reasons.iter().filter(|r| r.contains("floating-point")).count() == 10, "{reasons:?}");
}

/// THORChain Midgard's `/v2/actions` (a hand-made page in Midgard's shape): a successful ETH -> BTC
/// swap becomes a cross-chain link with each side as its chain writes it; pending swaps, other
/// actions and releases in synths are filtered with their reasons, a malformed action quarantined.
#[test]
fn thorchain_midgard_swaps_become_cross_chain_links() {
    let tmp = tempfile::tempdir().unwrap();
    let s = settings(
        tmp.path(),
        &format!(
            "lake = \"lake\"\n[[sources]]\nname = \"thorchain\"\nkind = \"links\"\nformat = \"thorchain-midgard\"\npath = \"{}\"\n",
            fixtures().join("midgard").display()
        ),
    );
    let summary = ifr_pipeline::ingest(&s, &ifr_pipeline::NoProgress).unwrap();
    let c = &summary.sources[0].counts;
    assert_eq!((c.read, c.loaded, c.quarantined, c.duplicates, c.filtered), (5, 1, 1, 0, 3), "{c:?}");
    assert_eq!(c.filtered_reasons.len(), 3, "{:?}", c.filtered_reasons);
    let links = table(&s, "crosschain_links").drop_many(["notes", "source_file"]);
    let dep = format!("0x{}", "e2".repeat(32));
    assert_eq!(
        rows(&links),
        [format!(
            "\"thorchain:{dep}:1\"|\"ethereum\"|\"{dep}\"|\"ETH\"|1000.0|\"bitcoin\"|\"{}\"|\"{B}\"|\"BTC\"|30.0|\"THORChain Midgard /v2/actions\"",
            h('1')
        )]
    );
}

/// The input resolution in buckets of transaction ids (here one output per bucket: eight
/// buckets), with the flows and the resolution written back a window of blocks at a time (here a
/// window per block), gives exactly the tables, in the same order, and counts of the resolution in
/// one piece.
#[test]
fn resolving_inputs_bucket_by_bucket_gives_the_same_lake() {
    let load = |extra: &str| {
        let tmp = tempfile::tempdir().unwrap();
        let s = settings(
            tmp.path(),
            &format!(
                "lake = \"lake\"\n[[sources]]\nname = \"btc\"\nkind = \"chain\"\nformat = \"bitcoin-etl\"\nchain = \"bitcoin\"\npath = \"{}\"\n{extra}",
                fixtures().join("bitcoin-etl").display()
            ),
        );
        let summary = ifr_pipeline::ingest(&s, &ifr_pipeline::NoProgress).unwrap();
        let method = summary.sources[0].method.clone().unwrap();
        let tables: Vec<Vec<String>> = ["utxo_outputs", "utxo_inputs", "transfers"].iter().map(|t| rows(&table(&s, t))).collect();
        (method, tables, tmp)
    };
    let (whole, whole_tables, _a) = load("");
    let (bucketed, bucketed_tables, b) = load("bucket-rows = 1\n");
    assert!(whole.contains("inputs resolved: 4 of 5"), "{whole}");
    assert_eq!(bucketed, whole);
    assert_eq!(bucketed_tables, whole_tables);
    assert!(!whole_tables[2].is_empty());
    // Nothing of the scratch work is left in the lake.
    let left: Vec<_> = snapshot(&b.path().join("lake")).into_iter().filter(|(p, _, _)| p.to_string_lossy().contains("resolve")).collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Bitcoin block times may run backwards across a month's end: block 102 is dated 31 January
/// though it follows block 101 (1 February) and spends its output. The tracer walks the chain in
/// block order across the two months, so the theft in block 101 reaches the exchange in block 102.
#[test]
fn a_block_dated_before_its_parent_across_a_month_end_is_walked_in_block_order() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let btc = d.join("btc");
    std::fs::create_dir_all(&btc).unwrap();
    let out = |i: u32, a: &str, v: u64| {
        format!(
            "{{\"index\": {i}, \"script_asm\": \"\", \"script_hex\": \"\", \"required_signatures\": 1, \"type\": \"pubkeyhash\", \"addresses\": [\"{a}\"], \"value\": {v}}}"
        )
    };
    let inp = |tx: &str, vout: u32| {
        format!(
            "{{\"index\": 0, \"spent_transaction_hash\": \"{tx}\", \"spent_output_index\": {vout}, \"script_asm\": \"\", \"script_hex\": \"\", \"sequence\": 4294967295, \"required_signatures\": null, \"type\": null, \"addresses\": [], \"value\": null}}"
        )
    };
    let tx = |hash: &str, block: u32, time: u64, coinbase: bool, inputs: Vec<String>, outputs: Vec<String>| {
        format!(
            "{{\"hash\": \"{hash}\", \"block_number\": {block}, \"block_timestamp\": {time}, \"is_coinbase\": {coinbase}, \"index\": 0, \"inputs\": [{}], \"outputs\": [{}]}}\n",
            inputs.join(", "),
            outputs.join(", ")
        )
    };
    // Block 100, 2024-01-31 23:00: A's coinbase. Block 101, 2024-02-01 00:30: t1, the theft, A's
    // 50 BTC to B (30) and C (19.9999). Block 102, dated 2024-01-31 23:50: t2, B's 30 BTC to the
    // exchange D (29.9999, fee 0.0001).
    let (t0, t1, t2) = (h('a'), h('b'), h('c'));
    let text = [
        tx(&t0, 100, 1706742000, true, vec![], vec![out(0, A, 5_000_000_000)]),
        tx(&t1, 101, 1706747400, false, vec![inp(&t0, 0)], vec![out(0, B, 3_000_000_000), out(1, C, 1_999_990_000)]),
        tx(&t2, 102, 1706745000, false, vec![inp(&t1, 0)], vec![out(0, D, 2_999_990_000)]),
    ]
    .concat();
    std::fs::write(btc.join("transactions.json"), text).unwrap();
    std::fs::write(
        d.join("labels.yaml"),
        format!("title: t\ncreator: test\nlastmod: 2024-01-01\nlabel: an exchange\nsource: https://example.org\nconfidence: service_data\ncategory: exchange\ncurrency: BTC\ntags:\n- address: {D}\n"),
    )
    .unwrap();
    std::fs::write(d.join("prices.csv"), "day,asset,close_usd\n2024-01-31,BTC,43000\n2024-02-01,BTC,42000\n").unwrap();
    std::fs::write(
        d.join("incidents.csv"),
        format!(
            "id,date,name,chains,reported_usd,returned_usd,classification,actor,attributed_by,attribution_date,attribution_source,victim_addresses,attacker_addresses,tx_hashes,source_url,notes\n\
             month-end-2024,2024-02-01,A theft at a month's end,bitcoin,2100000,,test,lazarus_group,tests,2024-02-02,https://example.org,{A},{B};{C},{t1},https://example.org,\n"
        ),
    )
    .unwrap();
    let reference = root().join("data/reference");
    let source = |name: &str, kind: &str, format: &str, path: &str, chain: &str| {
        format!("[[sources]]\nname = \"{name}\"\nkind = \"{kind}\"\nformat = \"{format}\"\npath = \"{path}\"\n{chain}")
    };
    use ifr_pipeline::stages::trace::{self, Method, Seeds, TraceOptions};
    let methods = vec![Method::Poison, Method::Haircut, Method::Fifo];
    let opts = TraceOptions {
        seeds: Seeds::Incidents(vec!["month-end-2024".into()]),
        methods: methods.clone(),
        max_hops: 20,
        until: None,
        stop: vec!["exchange".into(), "mixer".into(), "bridge".into()],
    };
    // The walk in one window of blocks, and in a window per block (`bucket-rows = 1`).
    for (lake, bucket) in [("lake", ""), ("lake-1", "bucket-rows = 1\n")] {
        let s = settings(
            d,
            &[
                format!("lake = \"{lake}\"\n"),
                source("assets", "assets", "asset-csv", &reference.join("assets.csv").display().to_string(), ""),
                source("labels", "labels", "tagpack", "labels.yaml", ""),
                source("prices", "prices", "price-csv", "prices.csv", ""),
                source("incidents", "incidents", "ifr-ledger", "incidents.csv", ""),
                source("btc", "chain", "bitcoin-etl", "btc", &format!("chain = \"bitcoin\"\n{bucket}")),
            ]
            .concat(),
        );
        ifr_pipeline::ingest(&s, &ifr_pipeline::NoProgress).unwrap();
        let (rows, _) = trace::run(&s, &opts).unwrap();
        for m in &methods {
            let got = |dest: &str| -> f64 { rows.iter().filter(|r| r.method == *m && r.destination == dest).map(|r| r.amount).sum() };
            assert!((got("exchange") - 29.9999).abs() < 1e-9, "{lake} {m:?}: {rows:#?}");
            assert!((got("fee") - 0.0001).abs() < 1e-9, "{lake} {m:?}: {rows:#?}");
            assert!((got("held") - 19.9999).abs() < 1e-9, "{lake} {m:?}: C's output only: {rows:#?}");
        }
    }
}
