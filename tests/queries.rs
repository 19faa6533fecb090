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
    let mut ctx = aggregate::context(&lake, &inputs, &aggregate::Scan::ALL, &ifr_pipeline::NoProgress).unwrap();
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
    let mut ctx = aggregate::context(&lake, &inputs, &[], &ifr_pipeline::NoProgress).unwrap();
    let mut df = ctx.execute(aggregate::query("implausible_transfers")).unwrap().collect().unwrap();
    assert!(df.height() > 0, "no transfer above $20M in the sample");
    insta::assert_snapshot!("implausible_transfers_above_20m", csv(&mut df));
}
