//! `ifr trace` on synthetic data: the haircut and FIFO destinations of an incident equal the
//! generator's planted laundering paths; bad seeds get a clear message.

use std::path::Path;

use ifr_pipeline::Settings;
use ifr_pipeline::stages::trace::{self, Method, Seeds, TraceOptions};
use ifr_pipeline::synth::SynthFormat;

use crate::common::*;

fn dataset(dir: &Path) -> Settings {
    synth_dataset(dir, SynthFormat::EthereumEtl)
}

fn opts(seeds: Seeds, methods: &[Method]) -> TraceOptions {
    TraceOptions {
        seeds,
        methods: methods.to_vec(),
        max_hops: 20,
        until: None,
        stop: vec!["exchange".into(), "mixer".into(), "bridge".into()],
    }
}

#[test]
fn traced_destinations_equal_the_planted_laundering_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let s = dataset(tmp.path());
    let truth = std::fs::read_to_string(tmp.path().join("syn/truth/incident_destinations.csv")).unwrap();
    // Incidents laundered in ETH only (Ronin's USDC is swapped at a DEX: a conversion per-asset
    // tracing does not follow, so its truth includes value the tracer sees as clean).
    for incident in ["harmony-2022", "stake-2023", "coinex-2023"] {
        let (_, summaries) =
            trace::run(&s, &opts(Seeds::Incidents(vec![incident.into()]), &[Method::Haircut, Method::Fifo, Method::Poison])).unwrap();
        let planted = |dest: &str| -> f64 {
            truth
                .lines()
                .filter(|l| l.starts_with(&format!("{incident},{dest},ETH,")))
                .map(|l| l.split(',').nth(3).unwrap().parse::<f64>().unwrap() / 1e18)
                .sum()
        };
        for m in ["haircut", "fifo"] {
            let sm = summaries
                .iter()
                .find(|x| x.method.as_str() == m && x.asset == "ETH")
                .unwrap_or_else(|| panic!("{incident} {m}: no ETH summary"));
            assert_eq!(sm.gaps, 0, "{incident} {m}");
            for dest in ["exchange", "mixer", "bridge"] {
                let got = sm.arrived.get(dest).copied().unwrap_or(0.0);
                let want = planted(dest);
                assert!((got - want).abs() <= 1e-9 * want.max(1.0), "{incident} {m} {dest}: traced {got} vs planted {want}");
            }
            let dormant = planted("dormant");
            assert!((sm.held - dormant).abs() <= 1e-9 * dormant.max(1.0), "{incident} {m} held {} vs dormant {dormant}", sm.held);
            // Conservation.
            let arrived: f64 = sm.arrived.values().sum();
            assert!((arrived + sm.held - sm.seeded).abs() <= 1e-9 * sm.seeded, "{incident} {m}");
        }
        let poison = summaries.iter().find(|x| x.method == Method::Poison).unwrap();
        let haircut = summaries.iter().find(|x| x.method == Method::Haircut).unwrap();
        for dest in ["exchange", "mixer", "bridge"] {
            assert!(poison.arrived.get(dest).copied().unwrap_or(0.0) + 1e-9 >= haircut.arrived.get(dest).copied().unwrap_or(0.0));
        }
    }
}

#[test]
fn bad_seeds_get_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let s = dataset(tmp.path());
    let err = |seeds| trace::run(&s, &opts(seeds, &[Method::Haircut])).unwrap_err().to_string();
    assert!(err(Seeds::Incidents(vec!["nope".into()])).contains("no incident `nope`"));
    assert!(err(Seeds::Actor("nobody".into())).contains("no actor `nobody`"));
    assert!(err(Seeds::Addresses(vec!["0x00000000000000000000000000000000000000ff".into()])).contains("do not appear in any transfer"));
    assert!(err(Seeds::Addresses(vec!["0x12".into()])).contains("seed address `0x12`"));
    // The CLI: a method that does not exist is refused with the allowed ones named.
    let o = ifr(tmp.path().join("syn").as_path(), &["trace", "--incident", "harmony-2022", "--method", "lifo"]);
    assert_eq!(o.status.code(), Some(1), "a usage error exits 1");
    assert!(stderr(&o).contains("possible values: poison, haircut, fifo"), "{}", stderr(&o));
    let o = ifr(tmp.path().join("syn").as_path(), &["trace", "--incident", "harmony-2022", "-f", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("method,seed,chain,asset,seeded,exchange,mixer,bridge,held,gaps\npoison,harmony-2022,ethereum,ETH,"),
        "{}",
        stdout(&o)
    );
}

/// Write an ethereum-etl export of native transfers, all in block 100 (2022-03-23 01:46:40 UTC):
/// (hash, from, to, wei).
fn etl_chain(dir: &Path, txs: &[(&str, &str, &str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("blocks.csv"),
        format!("number,hash,timestamp,transaction_count\n100,0x{:064x},1648000000,{}\n", 0xb100, txs.len()),
    )
    .unwrap();
    let mut t = String::from(
        "hash,nonce,block_hash,block_number,transaction_index,from_address,to_address,value,gas,gas_price,input,block_timestamp,max_fee_per_gas,max_priority_fee_per_gas,transaction_type,receipt_status\n",
    );
    for (i, (hash, from, to, wei)) in txs.iter().enumerate() {
        t.push_str(&format!("{hash},{i},0x{:064x},100,{i},{from},{to},{wei},21000,1,0x,1648000000,,,2,1\n", 0xb100));
    }
    std::fs::write(dir.join("transactions.csv"), t).unwrap();
}

/// ETH on Ethereum and ETH on Arbitrum, priced by two series (2,000 and 1,990 USD that day), at the
/// same addresses: the report's queries and the tracer value every transfer with the series of its
/// own chain, and keep the two chains' accounts apart. Expected values are computed by hand.
#[test]
fn one_symbol_on_two_chains_is_valued_by_its_chains_series_in_the_queries_and_the_tracer() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (victim, attacker, someone) = (
        "0x1111111111111111111111111111111111111111",
        "0x2222222222222222222222222222222222222222",
        "0x3333333333333333333333333333333333333333",
    );
    let (exch_eth, exch_arb) = ("0x4444444444444444444444444444444444444444", "0x5555555555555555555555555555555555555555");
    let h = |n: u32| format!("0x{n:064x}");
    let (theft_eth, out_eth, theft_arb, clean_arb, out_arb) = (h(1), h(2), h(3), h(4), h(5));
    // Ethereum: 10 ETH stolen, 4 sent to an exchange. Arbitrum: 5 ETH stolen, 5 clean ETH received,
    // 7 sent to an exchange (haircut: 3.5 tainted; FIFO: 5; poison: 7).
    etl_chain(
        &d.join("eth"),
        &[(&theft_eth, victim, attacker, "10000000000000000000"), (&out_eth, attacker, exch_eth, "4000000000000000000")],
    );
    etl_chain(
        &d.join("arb"),
        &[
            (&theft_arb, victim, attacker, "5000000000000000000"),
            (&clean_arb, someone, attacker, "5000000000000000000"),
            (&out_arb, attacker, exch_arb, "7000000000000000000"),
        ],
    );
    std::fs::write(
        d.join("assets.csv"),
        "chain,token_address,symbol,decimals,price_asset,source\nethereum,,ETH,18,ETH,test\narbitrum,,ETH,18,ETH-ARB,test\n",
    )
    .unwrap();
    std::fs::write(d.join("prices.csv"), "day,asset,close_usd\n2022-03-23,ETH,2000\n2022-03-23,ETH-ARB,1990\n").unwrap();
    let tag = |a: &str, actor: &str, cat: &str| {
        format!("- address: '{a}'\n  label: '{actor} ({cat})'\n  actor: {actor}\n  category: {cat}\n  confidence: service_data\n")
    };
    std::fs::write(
        d.join("labels.yaml"),
        format!(
            "title: t\ncreator: test\ncurrency: ETH\nlastmod: 2026-01-01\ntags:\n{}{}{}",
            tag(attacker, "lazarus_group", "perpetrator"),
            tag(exch_eth, "binance", "exchange"),
            tag(exch_arb, "okx", "exchange")
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("incidents.csv"),
        format!(
            "id,date,name,chains,reported_usd,returned_usd,classification,actor,attributed_by,attribution_date,attribution_source,victim_addresses,attacker_addresses,tx_hashes,source_url,notes\n\
             two-chains-2022,2022-03-23,Two chains,ethereum;arbitrum,29950,,key compromise,lazarus_group,test,2022-04-14,https://example.org/,,,{theft_eth};{theft_arb},https://example.org/,\n"
        ),
    )
    .unwrap();
    let s = settings(
        d,
        &format!(
            r#"lake = "lake"
[report]
out = "report"
[[sources]]
name = "assets"
kind = "assets"
format = "asset-csv"
path = "assets.csv"
[[sources]]
name = "actors"
kind = "actors"
format = "actorpack"
path = "{actors}"
[[sources]]
name = "labels"
kind = "labels"
format = "tagpack"
path = "labels.yaml"
[[sources]]
name = "incidents"
kind = "incidents"
format = "ifr-ledger"
path = "incidents.csv"
[[sources]]
name = "prices"
kind = "prices"
format = "price-csv"
path = "prices.csv"
[[sources]]
name = "eth"
kind = "chain"
format = "ethereum-etl"
chain = "ethereum"
path = "eth"
[[sources]]
name = "arb"
kind = "chain"
format = "ethereum-etl"
chain = "arbitrum"
path = "arb"
"#,
            actors = root().join("data/reference/actors.yaml").display()
        ),
    );
    ifr_pipeline::ingest(&s, &ifr_pipeline::NoProgress).unwrap();

    // The tracer: each chain's arrival at its exchange, valued with that chain's series.
    let (rows, summaries) =
        trace::run(&s, &opts(Seeds::Incidents(vec!["two-chains-2022".into()]), &[Method::Poison, Method::Haircut, Method::Fifo])).unwrap();
    let arrival = |m: &str, chain: &str| {
        let r: Vec<_> = rows.iter().filter(|r| r.method.as_str() == m && r.chain == chain && r.destination == "exchange").collect();
        assert_eq!(r.len(), 1, "{m} {chain}: {rows:?}");
        (r[0].address.clone(), r[0].amount, r[0].value_usd)
    };
    assert_eq!(arrival("poison", "ethereum"), (exch_eth.to_string(), 4.0, Some(8_000.0)));
    assert_eq!(arrival("poison", "arbitrum"), (exch_arb.to_string(), 7.0, Some(13_930.0)));
    assert_eq!(arrival("haircut", "arbitrum"), (exch_arb.to_string(), 3.5, Some(6_965.0)));
    assert_eq!(arrival("fifo", "arbitrum"), (exch_arb.to_string(), 5.0, Some(9_950.0)));
    // Seeded per chain: the Arbitrum clean ETH never mixes with the Ethereum account.
    let seeded: Vec<(&str, &str, f64)> =
        summaries.iter().filter(|x| x.method == Method::Haircut).map(|x| (x.chain.as_str(), x.asset.as_str(), x.seeded)).collect();
    assert_eq!(seeded, [("arbitrum", "ETH", 5.0), ("ethereum", "ETH", 10.0)]);

    // The queries: the same transfers, the same values.
    let report = ifr_pipeline::report(&s, None, &[]).unwrap();
    assert_eq!(report.years, [2022]);
    let table = |name: &str| std::fs::read_to_string(d.join(format!("report/2022/tables/{name}.csv"))).unwrap();
    let top = table("top_counterparties");
    assert!(top.contains(&format!("lazarus_group,2022,1,{exch_arb},okx (exchange),okx,exchange,13930.00,1\n")), "{top}");
    assert!(top.contains(&format!("lazarus_group,2022,2,{exch_eth},binance (exchange),binance,exchange,8000.00,1\n")), "{top}");
    // Stolen: 10 x 2,000 + 5 x 1,990, as the ledger reports.
    let incidents = table("incidents");
    assert!(incidents.contains("two-chains-2022,Two chains,2022-03-23,lazarus_group,29950.00,29950.00,2,0,0.00,"), "{incidents}");
    // The report's trace table: poison's exchange arrivals are the two outflows above.
    let traced = table("trace_destinations");
    assert!(traced.contains("lazarus_group,2022,poison,exchange,21930.00,0\n"), "{traced}");
    assert!(traced.contains("lazarus_group,2022,haircut,exchange,14965.00,0\n"), "{traced}");
}

/// A theft bridged from Ethereum to Arbitrum (two account chains): the taint that reaches the
/// bridge in a link's deposit stays there until the walk reaches the link's release on Arbitrum,
/// then goes on from the released transfer by each method's share, "bridged to arbitrum".
/// Expected values by hand.
#[test]
fn a_theft_bridged_between_two_account_chains_goes_on_at_the_release() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (victim, attacker, someone, bridge) = (
        "0x1111111111111111111111111111111111111111",
        "0x2222222222222222222222222222222222222222",
        "0x3333333333333333333333333333333333333333",
        "0x6666666666666666666666666666666666666666",
    );
    let (relayer, y, exch_arb) = (
        "0x7777777777777777777777777777777777777777",
        "0x8888888888888888888888888888888888888888",
        "0x5555555555555555555555555555555555555555",
    );
    let h = |n: u32| format!("0x{n:064x}");
    let wei = |eth: u64| format!("{eth}000000000000000000");
    // Ethereum, block 100: 1,000 ETH stolen, 1,000 clean ETH received, 1,000 deposited to the bridge.
    etl_chain(
        &d.join("eth"),
        &[(&h(1), victim, attacker, &wei(1000)), (&h(2), someone, attacker, &wei(1000)), (&h(3), attacker, bridge, &wei(1000))],
    );
    // Arbitrum, an hour later: the bridge's relayer releases 990 ETH to Y; Y sends 600 to an exchange.
    let arb = d.join("arb");
    std::fs::create_dir_all(&arb).unwrap();
    std::fs::write(arb.join("blocks.csv"), format!("number,hash,timestamp,transaction_count\n200,0x{:064x},1648003600,2\n", 0xb200))
        .unwrap();
    std::fs::write(
        arb.join("transactions.csv"),
        format!(
            "hash,nonce,block_hash,block_number,transaction_index,from_address,to_address,value,gas,gas_price,input,block_timestamp,max_fee_per_gas,max_priority_fee_per_gas,transaction_type,receipt_status\n\
             {},0,0x{b:064x},200,0,{relayer},{y},{},21000,1,0x,1648003600,,,2,1\n\
             {},1,0x{b:064x},200,1,{y},{exch_arb},{},21000,1,0x,1648003600,,,2,1\n",
            h(4),
            wei(990),
            h(5),
            wei(600),
            b = 0xb200
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("assets.csv"),
        "chain,token_address,symbol,decimals,price_asset,source\nethereum,,ETH,18,ETH,test\narbitrum,,ETH,18,ETH-ARB,test\n",
    )
    .unwrap();
    std::fs::write(d.join("prices.csv"), "day,asset,close_usd\n2022-03-23,ETH,2000\n2022-03-23,ETH-ARB,1990\n").unwrap();
    let tag = |a: &str, actor: &str, cat: &str| {
        format!("- address: '{a}'\n  label: '{actor} ({cat})'\n  actor: {actor}\n  category: {cat}\n  confidence: service_data\n")
    };
    std::fs::write(
        d.join("labels.yaml"),
        format!(
            "title: t\ncreator: test\ncurrency: ETH\nlastmod: 2026-01-01\ntags:\n{}{}",
            tag(bridge, "thorchain", "bridge"),
            tag(exch_arb, "okx", "exchange")
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("incidents.csv"),
        format!(
            "id,date,name,chains,reported_usd,returned_usd,classification,actor,attributed_by,attribution_date,attribution_source,victim_addresses,attacker_addresses,tx_hashes,source_url,notes\n\
             bridged-2022,2022-03-23,Bridged,ethereum,2000000,,key compromise,lazarus_group,test,2022-04-14,https://example.org/,,,{},https://example.org/,\n",
            h(1)
        ),
    )
    .unwrap();
    // 1,000 ETH ($2.0M) in, 990 ETH on Arbitrum ($1,970,100) out: 1.5% apart, followed. The same
    // link listed twice (as two sources of links would) shares the crossing: never counted twice.
    std::fs::write(
        d.join("links.csv"),
        format!(
            "id,source_chain,deposit_tx,source_asset,source_amount,destination_chain,release_tx,release_address,destination_asset,destination_amount,link_source,notes\n\
             l1,ethereum,{dep},ETH,1000,arbitrum,{rel},{y},ETH,990,https://example.org/bridge,\n\
             l1-again,ethereum,{dep},ETH,1000,arbitrum,{rel},{y},ETH,990,https://example.org/another-list,\n",
            dep = h(3),
            rel = h(4)
        ),
    )
    .unwrap();
    let source = |name: &str, kind: &str, format: &str, path: &str, chain: &str| {
        format!("[[sources]]\nname = \"{name}\"\nkind = \"{kind}\"\nformat = \"{format}\"\npath = \"{path}\"\n{chain}")
    };
    let s = settings(
        d,
        &[
            "lake = \"lake\"\n".to_string(),
            source("assets", "assets", "asset-csv", "assets.csv", ""),
            source("labels", "labels", "tagpack", "labels.yaml", ""),
            source("incidents", "incidents", "ifr-ledger", "incidents.csv", ""),
            source("links", "links", "ifr-links", "links.csv", ""),
            source("prices", "prices", "price-csv", "prices.csv", ""),
            source("eth", "chain", "ethereum-etl", "eth", "chain = \"ethereum\"\n"),
            source("arb", "chain", "ethereum-etl", "arb", "chain = \"arbitrum\"\n"),
        ]
        .concat(),
    );
    ifr_pipeline::ingest(&s, &ifr_pipeline::NoProgress).unwrap();
    let (rows, summaries) =
        trace::run(&s, &opts(Seeds::Incidents(vec!["bridged-2022".into()]), &[Method::Poison, Method::Haircut, Method::Fifo])).unwrap();
    let got =
        |m: &str, dest: &str| -> f64 { rows.iter().filter(|r| r.method.as_str() == m && r.destination == dest).map(|r| r.amount).sum() };
    // The deposit carries poison 1,000, haircut 500 (half the attacker's 2,000 is stolen), FIFO
    // 1,000 (the stolen lot came first); × 990/1,000 on Arbitrum: 990, 495, 990 of Y's 990.
    // Y's 600 to the exchange: poison 600, haircut 600 × 495/990 = 300, FIFO 600; the rest held.
    for (m, exchange, held) in [("poison", 600.0, 390.0), ("haircut", 300.0, 195.0), ("fifo", 600.0, 390.0)] {
        assert!((got(m, "exchange (bridged to arbitrum)") - exchange).abs() < 1e-6, "{m}: {rows:#?}");
        assert!((got(m, "held (bridged to arbitrum)") - held).abs() < 1e-6, "{m}: {rows:#?}");
        // Nothing stays at the bridge: all of it crossed.
        assert_eq!(got(m, "bridge"), 0.0, "{m}");
        let s = summaries.iter().find(|x| x.method.as_str() == m && x.seed == "bridged-2022 (bridged to arbitrum)").unwrap();
        assert_eq!((s.chain.as_str(), s.asset.as_str()), ("arbitrum", "ETH"));
        assert!((s.arrived["exchange"] - exchange).abs() < 1e-6 && (s.held - held).abs() < 1e-6, "{m}: {s:?}");
    }
    let exch = rows.iter().find(|r| r.method.as_str() == "haircut" && r.destination == "exchange (bridged to arbitrum)").unwrap();
    assert_eq!((exch.seed.as_str(), exch.address.as_str(), exch.value_usd), ("bridged-2022", exch_arb, Some(300.0 * 1990.0)));

    // The same release dated an hour before the deposit: the walk meets it first, so nothing is
    // released; the taint stays at the bridge, and the report says why the link was not followed.
    std::fs::write(arb.join("blocks.csv"), format!("number,hash,timestamp,transaction_count\n200,0x{:064x},1647996400,2\n", 0xb200))
        .unwrap();
    let t = std::fs::read_to_string(arb.join("transactions.csv")).unwrap().replace(",1648003600,", ",1647996400,");
    std::fs::write(arb.join("transactions.csv"), t).unwrap();
    ifr_pipeline::ingest(&s, &ifr_pipeline::NoProgress).unwrap();
    let (rows, _) =
        trace::run(&s, &opts(Seeds::Incidents(vec!["bridged-2022".into()]), &[Method::Poison, Method::Haircut, Method::Fifo])).unwrap();
    let got =
        |m: &str, dest: &str| -> f64 { rows.iter().filter(|r| r.method.as_str() == m && r.destination == dest).map(|r| r.amount).sum() };
    for (m, at_bridge) in [("poison", 1000.0), ("haircut", 500.0), ("fifo", 1000.0)] {
        assert!((got(m, "bridge") - at_bridge).abs() < 1e-6, "{m}: {rows:#?}");
        assert!(!rows.iter().any(|r| r.destination.contains("bridged")), "{m}: {rows:#?}");
    }
    ifr_pipeline::report(&s, None, &[2022]).unwrap();
    let md = std::fs::read_to_string(d.join("report/2022/report.md")).unwrap();
    assert!(md.contains("l1 (the walk did not reach its release"), "{md}");
}

/// The walk over the candidate sub-graph extracted on `engine` (hop by hop from the seeds) gives
/// the same rows and summaries as the walk over the whole lake, for the ledger's incidents and for
/// sanctioned seeds, with the three methods; and the sub-graph is a small part of the lake.
pub fn the_sub_graph_walk_equals_the_whole_walk(engine: &ifr_pipeline::config::Engine) {
    use ifr_pipeline::lake::Lake;
    use ifr_pipeline::stages::aggregate::{self, Scan};
    use ifr_pipeline::stages::attribute;
    use ifr_pipeline::stages::value::{TheftKeys, Valuation};
    let tmp = tempfile::tempdir().unwrap();
    let s = dataset(tmp.path());
    let lake = Lake::new(&s.lake_dir);
    let r = &s.report;
    let att = attribute::build(&lake, r.sanctions, 0).unwrap();
    let valuation = Valuation::build(&lake, &r.price_sources, r.max_transfer_usd).unwrap();
    let keys = TheftKeys::build(&lake, r.incident_window_days).unwrap();
    let inputs =
        aggregate::Inputs { attribution: &att, high: &att, valuation: &valuation, thefts: &keys, stolen_price_day: r.stolen_price_day };
    let mut q = aggregate::open(engine, &lake, &inputs, &[Scan::TheftCandidates], &ifr_pipeline::NoProgress, "trace").unwrap();
    let thefts = aggregate::theft_transfers(q.as_mut()).unwrap();
    let known = trace::Known { lake: &lake, attribution: &att, valuation: &valuation, thefts: Some(&thefts) };
    let incidents: Vec<String> = strings(&lake.scan("incidents").unwrap().collect().unwrap(), "id");
    let cases = [(Seeds::Incidents(incidents.clone()), 3), (Seeds::Incidents(incidents), 20), (Seeds::Sanctioned, 20)];
    for (n, (seeds, hops)) in cases.into_iter().enumerate() {
        let o = TraceOptions { max_hops: hops, ..opts(seeds, &[Method::Poison, Method::Haircut, Method::Fifo]) };
        let whole = trace::run_links(&s, &o, &[], &known, &ifr_pipeline::NoProgress).unwrap();
        let dir = tmp.path().join(format!("subgraph-{n}"));
        let (sub, stats) = trace::run_on_subgraph(&s, &o, &[], &known, q.as_mut(), &dir, &ifr_pipeline::NoProgress).unwrap();
        assert!(!whole.summaries.is_empty(), "{n}: a trace of nothing compares nothing");
        let summaries = |t: &trace::Traced| serde_json::to_string(&t.summaries).unwrap();
        let rows = |t: &trace::Traced| serde_json::to_string(&t.rows).unwrap();
        assert_eq!(summaries(&sub), summaries(&whole), "{n}: summaries");
        assert_eq!(rows(&sub), rows(&whole), "{n}: rows");
        assert_eq!(sub.links_not_followed, whole.links_not_followed, "{n}");
        assert!(stats.rounds >= 2 && stats.addresses >= 10, "{n}: {stats:?}");
        assert!(stats.rounds <= hops + 1 && (stats.transfers as u64) < stats.lake_transfers, "{n}: {stats:?}");
        eprintln!("sub-graph, {hops} hops: {stats:?}");
    }
}

#[test]
fn a_trace_over_the_sub_graph_extracted_with_polars_equals_the_walk_over_the_whole_lake() {
    the_sub_graph_walk_equals_the_whole_walk(&ifr_pipeline::config::Engine::Polars);
}

#[test]
fn ifr_trace_with_an_engine_prints_what_the_walk_over_the_whole_lake_prints() {
    let tmp = tempfile::tempdir().unwrap();
    let s = dataset(tmp.path());
    let config = s.config_path.display().to_string();
    for seeds in [vec!["--incident", "ronin-2022"], vec!["--sanctioned"]] {
        let mut args = vec!["trace", "-c", &config, "--flows", "-f", "csv"];
        args.extend(seeds);
        let whole = ifr(tmp.path(), &args);
        assert!(whole.status.success(), "{}", stderr(&whole));
        args.extend(["--engine", "polars"]);
        let sub = ifr(tmp.path(), &args);
        assert!(sub.status.success(), "{}", stderr(&sub));
        assert!(stdout(&whole).lines().count() > 5, "{}", stdout(&whole));
        assert_eq!(stdout(&sub), stdout(&whole));
    }
    // The sub-graph's files are gone.
    assert!(snapshot(&s.lake_dir.join("_engine")).is_empty());
}
