//! The report's methodology as data: one inline-Markdown paragraph per rule, generated from the
//! settings in force and the label packs used, beside the code whose rules it states (attribution
//! in `attribute`, valuation in `value`, the queries' own headers, tracing in `trace`).

use ifr_reports::model::{LabelSource, QueryDoc};
use ifr_reports::tables::{markdown_escape, usd_short};

use super::aggregate::{QUERIES, query_doc};
use super::trace::{DEFAULT_MAX_HOPS, DEFAULT_STOP, MAX_LINK_ROUNDS};
use crate::config::{SanctionsPolicy, Settings, StolenPriceDay};

/// The methodology paragraphs.
pub fn paragraphs(settings: &Settings, label_sources: &[LabelSource]) -> Vec<String> {
    let r = &settings.report;
    let packs: Vec<String> = label_sources
        .iter()
        .map(|l| {
            let (lo, hi) = (l.min_confidence, l.max_confidence);
            let conf = if lo == hi { format!("confidence {lo}") } else { format!("confidence {lo}-{hi}") };
            format!("{} ({}: {} labels, {conf})", markdown_escape(&l.pack), markdown_escape(&l.file), l.labels)
        })
        .collect();
    let stops = match DEFAULT_STOP {
        [a, b, c] => format!("{a}s, {b}s and {c}s"),
    };
    let utxo =
        settings.sources.iter().any(|s| matches!(s.format, crate::config::Format::BitcoinEtl | crate::config::Format::BigqueryBitcoin));
    let mut out = vec![
        format!(
            "**Label sources.** {}; sanctions lists in the lake (as labels of the SDN party's actor).",
            if packs.is_empty() { "none".to_string() } else { packs.join("; ") }
        ),
        "**Attribution.** An address belongs, on each date, to the actor of its highest-confidence label or sanctions entry that names an actor (GraphSense levels: ownership 100 … authority_data 60 … unknown 5); ties go to a label over a sanctions entry, then to the smaller actor id. Its category (exchange, mixer, sanctioned …) is that of its highest-confidence label or entry of all, so a label naming no actor (every Etherscan label) still says what the address is, but never takes it from an actor. Totals roll up the actor hierarchy (an actor counts its descendants' addresses).".to_string(),
        format!(
            "**Sanctions.** Sanctions entries become labels of the actor linked to their SDN party (confidence 60, category sanctioned). Policy: {}.",
            match r.sanctions {
                SanctionsPolicy::PointInTime =>
                    "point-in-time — an address counts from the tightest listing date the inputs support until a delisting: the party's OFAC entry date when it falls after the previous snapshot and on or before the first snapshot listing the address, else that snapshot's date; for an address already in the earliest snapshot, the party's entry date, else that snapshot (`sanctions.listed_date_rule` names the rule used for each address)",
                SanctionsPolicy::AsListedToday => "as listed today — every address on the latest list counts for all dates",
            }
        ),
        format!(
            "**Valuation.** USD = exact token amount ÷ 10^decimals × the close of the asset's price series on the transfer's UTC day. Price sources in order of preference: {}. A transfer without a price is counted as unpriced and left out of the value — never valued at 0. A transfer valued above {} (`max-transfer-usd`) is implausible — a spam token's price or a price typo — and is left out of every total, counted in the price coverage and listed with its input file, block and transaction. Sums are exact 128-bit integer micro-dollars.",
            if r.price_sources.is_empty() { "none configured".to_string() } else { r.price_sources.join(", ") },
            usd_short((r.max_transfer_usd * 1e6) as i128)
        ),
        format!(
            "**Tracing.** The year's incidents are traced from their theft transfers in one pass over transfers in chain order, per (chain, address, asset) account: *poison* taints every outgoing transfer of a tainted account in full (an upper bound, it can count value twice); *haircut* gives each outgoing transfer the account's tainted share at that moment; *FIFO* lets value leave in the order it arrived. Taint stops at {stops} (arrived) and after {DEFAULT_MAX_HOPS} hops (held); value still in traced accounts at the end is held. An account is tracked from its first taint; a transfer above its tracked balance (by more than one part in 10^9 of the largest balance the account held: rounding) is taken to include clean value held before. Haircut taint below 10^-12 of an account's balance is rounding and dropped. A swap at a DEX ends the swapped asset's trail there. Values at the close of the last arrival day (held: of the last day), with the price series, closes and ceiling the queries use; a destination (address and asset) without a price that day is left out of the value and counted in `unpriced_destinations`. Taint that reaches a bridge in the deposit of a cross-chain link (`crosschain_links`) to another account chain stays an arrival at the bridge until the walk reaches the link's release there; then the released transfer carries it on (scaled by the link's destination amount ÷ source amount, within what the transfer moves), and its destinations read \"… (bridged to <chain>)\"; a release the walk meets before its deposit (dated earlier) is not followed, and the taint stays at the bridge. Out of Bitcoin, the taint a link's deposit transaction pays a bridge (when it pays none, the other services where tracing stops) goes on at the link's release on the account chain (the account chains are walked again with it, at most {MAX_LINK_ROUNDS} times for a trail that crosses back and forth); a release dated before its deposit is not followed."
        ),
        format!(
            "**Confidence range.** `actor_year_ranges` gives each total from labels at or above confidence {} (low) and from all labels (high).",
            r.high_confidence
        ),
        format!(
            "**Stolen.** An incident's listed tx hashes, else its victim-to-attacker transfers from the incident date to {} day(s) after it; valued at the close of the {}.",
            r.incident_window_days,
            if r.stolen_price_day == StolenPriceDay::DisclosureDay {
                "incident's ledger date (disclosure-day policy)"
            } else {
                "transfer day (transfer-day policy)"
            }
        ),
        "**Coverage.** A ledger incident is *verified on chain* when its theft transfers are found and every chain the ledger names for it was loaded on its date (`chain_coverage`: between the first and last day of that chain's transfers); *partly verified* when found but some of its chains were not loaded (its on-chain value is then a part of the theft); otherwise *reported, not verified on chain*: it is not in the on-chain totals, and the headline gives its reported value beside them with the share verified on chain, so that no incident is dropped silently. The unlabelled share is the headline family's direct outflows to addresses without a label, by value. Price coverage by asset counts each asset's transfers with and without a price; an unpriced transfer's value is unknown and never estimated.".to_string(),
    ];
    if utxo {
        out.push(format!("**Bitcoin.** A Bitcoin transaction becomes address-to-address transfers (GraphSense's proportional rule): once every input is resolved to the output it spends, each input address sends each output address its inputs' value × that output address's value ÷ all inputs' value, rounded down to the satoshi; the fee (inputs − outputs, plus that rounding) goes to no address, and a transaction with an input whose spent output is not loaded gives no transfers (counted at ingest, never guessed). Coinbase outputs are new coins from no address. Tracing on Bitcoin works on each transaction's ordered inputs and outputs, taint sitting on unspent outputs: a seed taints the theft transaction's outputs to the thieves; *poison* taints every output and the fee in full when any input is tainted; *haircut* gives each output and the fee the tainted share of the inputs' total; *FIFO* lays the inputs' value out in input order and lets the outputs take from it in output order, the fee last (e.g. 10 stolen and 30 clean BTC spent into 15 and 24.9 with a 0.1 fee: poison taints all three, haircut a quarter of each, FIFO the first 10 of the 15). Taint stops at a service's address and at a coinjoin — a mixer destination named by its heuristic: *whirlpool* (5 inputs, 5 outputs of one pool denomination), *wasabi* (10 or more inputs and 10 or more equal outputs), *joinmarket* (n ≥ 3 equal outputs, at most 2n outputs, at least n inputs); the fee is a destination of its own (`fee`: the miners). An input whose spent output is not loaded counts as 0 in a traced transaction's total, which is then taken as at least its outputs' total, so haircut never passes on more than the outputs carry. Taint that reaches a bridge in the deposit of a cross-chain link (`crosschain_links`) goes on at the link's release on Bitcoin, scaled by the link's destination amount ÷ source amount, and its destinations read \"… (bridged to bitcoin)\"; a link whose two sides differ by more than {:.0}% in USD at the deposit day's closes, or cannot be valued, or whose release is not in the lake, is not followed and is named in the coverage section.", super::trace::LINK_TOLERANCE * 100.0));
    }
    out
}

/// Every query's documentation, in registration order.
pub fn queries() -> Vec<QueryDoc> {
    QUERIES.iter().map(|(name, _)| QueryDoc { name: name.to_string(), doc: query_doc(name) }).collect()
}
