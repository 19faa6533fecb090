//! One golden per query in `queries/`, over the synthetic sample (40,000 transfers, 2022-2023,
//! seed 5): the rows each query returns, as CSV, in insta snapshots (`tests/snapshots/`). A change
//! to a query, to attribution or to valuation shows up as a reviewed diff (`cargo insta review`,
//! or INSTA_UPDATE=always and `git diff`); CI runs with INSTA_UPDATE=no, so it never writes one.

use ifr_pipeline::lake::Lake;
use ifr_pipeline::stages::aggregate::{self, QUERIES};
use ifr_pipeline::stages::attribute;
use ifr_pipeline::stages::value::{TheftKeys, Valuation};
use ifr_pipeline::synth::SynthFormat;
use polars::prelude::*;

use crate::common::*;

/// A frame as CSV, its rows sorted (queries without ORDER BY return rows in any order).
fn csv(df: &mut DataFrame) -> String {
    let cols: Vec<PlSmallStr> = df.get_column_names().into_iter().cloned().collect();
    let mut sorted = df.sort(cols, SortMultipleOptions::default().with_nulls_last(true)).unwrap();
    let mut out = Vec::new();
    CsvWriter::new(&mut out).include_header(true).finish(&mut sorted).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn every_query_has_a_golden_over_the_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let s = synth_dataset(tmp.path(), SynthFormat::Cryo);
    let lake = Lake::new(&s.lake_dir);
    let r = &s.report;
    let all = attribute::build(&lake, r.sanctions, 0).unwrap();
    let high = attribute::build(&lake, r.sanctions, r.high_confidence).unwrap();
    let valuation = Valuation::build(&lake, &r.price_sources, r.max_transfer_usd).unwrap();
    let thefts = TheftKeys::build(&lake, r.incident_window_days).unwrap();
    let inputs =
        aggregate::Inputs { attribution: &all, high: &high, valuation: &valuation, thefts: &thefts, stolen_price_day: r.stolen_price_day };
    let mut ctx = aggregate::context(&lake, &inputs, &aggregate::Scan::ALL, &ifr_pipeline::NoProgress, "report").unwrap();
    aggregate::flows(&mut ctx).unwrap();
    aggregate::receivers(&mut ctx).unwrap();
    let results = aggregate::every_result(&mut ctx).unwrap();
    assert_eq!(results.iter().map(|(n, _)| *n).collect::<Vec<_>>(), QUERIES.map(|(n, _)| n), "every query, in order");
    for (name, lf) in results {
        let lf = if name == "attributed_transfers" {
            // One row per transfer (40,000): its golden is the view summed by year, receiver
            // category, whether each side is attributed and whether the value is implausible.
            lf.group_by([
                col("year"),
                col("to_category"),
                col("from_actor").is_null().alias("from_unattributed"),
                col("to_actor").is_null().alias("to_unattributed"),
                col("implausible"),
            ])
            .agg([
                len().alias("transfers"),
                col("value_usd").null_count().alias("unvalued"),
                (col("value_usd") * lit(1_000_000.0))
                    .round(0, RoundMode::HalfAwayFromZero)
                    .cast(DataType::Int128)
                    .sum()
                    .alias("value_micro_usd"),
            ])
        } else {
            lf
        };
        let mut df = lf.collect().unwrap_or_else(|e| panic!("{name}: {e}"));
        // Nothing in the sample is worth more than the default ceiling ($10bn): that query's
        // golden with rows is taken below, under a lower ceiling.
        assert!(df.height() > 0 || name == "implausible_transfers", "{name}: the sample gives no row (a golden of nothing tests nothing)");
        insta::assert_snapshot!(name, csv(&mut df));
    }
    // implausible_transfers with a ceiling of $20M a transfer: the sample's largest theft and
    // laundering transfers are above it.
    let valuation = Valuation::build(&lake, &r.price_sources, 20e6).unwrap();
    let inputs = aggregate::Inputs { valuation: &valuation, ..inputs };
    let mut ctx = aggregate::context(&lake, &inputs, &[], &ifr_pipeline::NoProgress, "report").unwrap();
    let mut df = ctx.execute(aggregate::query("implausible_transfers")).unwrap().collect().unwrap();
    assert!(df.height() > 0, "no transfer above $20M in the sample");
    insta::assert_snapshot!("implausible_transfers_above_20m", csv(&mut df));
}

/// The portability rules of queries/README.md that a reading of the text can check: constructs
/// polars SQL and DataFusion either do not both accept or compute differently. Returns what `sql`
/// (comments stripped) breaks.
fn portability_violations(sql: &str) -> Vec<String> {
    let code: String = sql.lines().map(|l| l.split("--").next().unwrap_or("")).collect::<Vec<_>>().join("\n").to_uppercase();
    let mut out = Vec::new();
    for (word, why) in [
        ("HUGEINT", "DataFusion has no HUGEINT: use DECIMAL(38, 0)"),
        ("ROUND(", "ROUND breaks ties differently (polars to even, DataFusion away from zero): FLOOR(x + 0.5)"),
        ("DATE_TRUNC", "DATE_TRUNC exists in only one engine"),
        ("STRFTIME", "STRFTIME exists in only one engine"),
        ("/", "integer division truncates in DataFusion and not in polars: no division"),
    ] {
        if code.contains(word) {
            out.push(why.to_string());
        }
    }
    // COUNT is UInt32 in polars and Int64 in DataFusion: every COUNT is cast to BIGINT.
    for (i, _) in code.match_indices("COUNT(") {
        if !code[..i].trim_end().ends_with("CAST(") {
            out.push("COUNT(...) not inside CAST(... AS BIGINT)".to_string());
        }
    }
    out
}

#[test]
fn every_query_keeps_to_the_portable_sql_rules() {
    // The checker itself, on one breach of each rule (and a query that keeps them).
    assert!(portability_violations("SELECT CAST(COUNT(*) AS BIGINT) AS n -- ROUND( / HUGEINT in a comment\nFROM t").is_empty());
    for bad in [
        "SELECT CAST(x AS HUGEINT) FROM t",
        "SELECT round(x) FROM t",
        "SELECT DATE_TRUNC('month', t) FROM t",
        "SELECT strftime(t, '%Y') FROM t",
        "SELECT a / b FROM t",
        "SELECT COUNT(*) AS n FROM t",
    ] {
        assert_eq!(portability_violations(bad).len(), 1, "{bad}");
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
    let mut checked = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "sql") {
            let v = portability_violations(&std::fs::read_to_string(&p).unwrap());
            assert!(v.is_empty(), "{}: {v:?}", p.display());
            checked += 1;
        }
    }
    assert_eq!(checked, QUERIES.len(), "every query file is checked");
}
