//! The typed model of one year's report: every number the report shows, as data. The pipeline fills
//! it from the queries' results and the trace; [`crate::assemble`] renders it to tables, charts,
//! figures.json, report.md and index.html. Nothing here is parsed back from text.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::tables::usd_from_micro;

/// What an actor total counts (queries/actor_year_totals.sql).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Receiver in the actor, sender not.
    Inflow,
    /// Sender in the actor, receiver not.
    Outflow,
    /// Theft transfers of the ledger's incidents attributed to the actor.
    Stolen,
}

impl Metric {
    /// In the order the queries sort them (by name).
    pub const ALL: [Metric; 3] = [Metric::Inflow, Metric::Outflow, Metric::Stolen];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Inflow => "inflow",
            Metric::Outflow => "outflow",
            Metric::Stolen => "stolen",
        }
    }

    pub fn parse(s: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A receiver's report category (from its label's category; `unlabelled` without a label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Bridge,
    Defi,
    Exchange,
    Mixer,
    Other,
    Sanctioned,
    Unlabelled,
}

impl Category {
    /// In the order the queries sort them (by name).
    pub const ALL: [Category; 7] = [
        Category::Bridge,
        Category::Defi,
        Category::Exchange,
        Category::Mixer,
        Category::Other,
        Category::Sanctioned,
        Category::Unlabelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Bridge => "bridge",
            Category::Defi => "defi",
            Category::Exchange => "exchange",
            Category::Mixer => "mixer",
            Category::Other => "other",
            Category::Sanctioned => "sanctioned",
            Category::Unlabelled => "unlabelled",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How taint moves through an account (see the tracer and the methodology).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Every outgoing transfer of a tainted account is tainted in full (an upper bound).
    Poison,
    /// An outgoing transfer carries the account's tainted share at that moment.
    Haircut,
    /// Value leaves an account in the order it arrived.
    Fifo,
}

impl Method {
    pub const ALL: [Method; 3] = [Method::Poison, Method::Haircut, Method::Fifo];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Poison => "poison",
            Method::Haircut => "haircut",
            Method::Fifo => "fifo",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A sum of transfers' USD values: exact integer micro-dollars, with how many transfers it covers
/// and how many of them had no (plausible) price and are not in the value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Money {
    pub micro_usd: i128,
    pub transfers: i64,
    pub unpriced: i64,
}

impl Money {
    /// Nothing priced: the value is unknown, not zero.
    pub fn is_unknown(&self) -> bool {
        self.transfers > 0 && self.transfers == self.unpriced
    }

    /// The value in USD to the cent; empty when unknown.
    pub fn usd_cell(&self) -> String {
        if self.is_unknown() { String::new() } else { usd_from_micro(self.micro_usd) }
    }

    /// The value in USD for a chart (where unknown is drawn as no bar).
    pub fn usd(&self) -> f64 {
        self.micro_usd as f64 / 1e6
    }
}

/// One row of actor_year_totals, with the same total under high-confidence labels only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActorTotal {
    pub actor: String,
    pub year: i32,
    pub metric: Metric,
    pub value: Money,
    /// Under labels at or above the high-confidence threshold (None: no such transfer).
    pub high_confidence: Option<Money>,
}

/// One row of actor_month_totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActorMonth {
    pub actor: String,
    pub year: i32,
    pub month: i32,
    pub metric: Metric,
    pub value: Money,
}

/// One row of actor_chain_totals: an actor's total of one metric on one chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChainTotal {
    pub actor: String,
    pub year: i32,
    pub chain: String,
    pub metric: Metric,
    pub value: Money,
}

/// One row of actor_destinations: an actor's direct outflows by the receiver's category.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Destination {
    pub actor: String,
    pub year: i32,
    pub category: Category,
    pub micro_usd: i128,
    pub transfers: i64,
}

/// One row of top_counterparties, with the receiver's best label (counterparty_labels).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Counterparty {
    pub actor: String,
    pub year: i32,
    /// 1 = the largest.
    pub rank: usize,
    pub address: String,
    pub label: Option<String>,
    pub counterparty_actor: String,
    pub category: Category,
    pub micro_usd: i128,
    pub transfers: i64,
}

/// One ledger incident of the year (incident_summary): reported beside on-chain value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    pub id: String,
    pub name: String,
    /// YYYY-MM-DD.
    pub date: String,
    pub actor: String,
    pub reported_micro_usd: Option<i128>,
    /// The theft transfers found on chain (transfers = 0: none found).
    pub onchain: Money,
    /// The chains the ledger names for it (lowercase).
    pub chains: Vec<String>,
    /// The USD figures of the recoveries tied to it, summed (None: none has one).
    pub recovered_micro_usd: Option<i128>,
    /// How many recoveries are tied to it.
    pub recoveries: i64,
}

/// Funds frozen, seized or returned (recoveries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recovery {
    pub id: String,
    /// The ledger incident ("" when not tied to one).
    pub incident: String,
    /// The actor the funds belonged to ("" when unknown).
    pub actor: String,
    /// YYYY-MM-DD.
    pub date: String,
    /// frozen, seized or returned.
    pub kind: String,
    /// The source's USD figure (None: it gives none).
    pub micro_usd: Option<i128>,
    pub asset_amount: String,
    pub acted_by: String,
    pub source_url: String,
}

/// Whether an incident's theft was verified on the chain data the report read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Verification {
    /// Its theft transfers were found, and every chain it names was loaded for its date.
    OnChain,
    /// Found, but these chains it names were not loaded for its date: the on-chain value is a part.
    Partly(Vec<String>),
    /// Not found, though some of its chains were loaded for its date (the ledger gives no hash or
    /// address that matches).
    NotFound,
    /// None of the chains it names was loaded for its date: reported, not verified on chain.
    NotLoaded(Vec<String>),
}

impl Verification {
    /// In words, for a table cell.
    pub fn describe(&self) -> String {
        match self {
            Verification::OnChain => "verified on chain".into(),
            Verification::Partly(c) => format!("partly verified (not loaded: {})", c.join(", ")),
            Verification::NotFound => "reported, not verified on chain (not found on the loaded chains)".into(),
            Verification::NotLoaded(c) if c.is_empty() => "reported, not verified on chain (the ledger names no chain)".into(),
            Verification::NotLoaded(c) => format!("reported, not verified on chain ({} not loaded)", c.join(", ")),
        }
    }

    /// Theft transfers were found (the incident counts at its on-chain value).
    pub fn found(&self) -> bool {
        matches!(self, Verification::OnChain | Verification::Partly(_))
    }
}

/// The chain data the lake holds for one chain and year (chain_coverage).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainSpan {
    pub chain: String,
    pub year: i32,
    pub first_block: i64,
    pub last_block: i64,
    /// YYYY-MM-DD (UTC).
    pub first_day: String,
    pub last_day: String,
    pub transfers: i64,
}

/// One asset's price coverage in the year (asset_price_coverage).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssetCoverage {
    pub chain: String,
    /// Empty: a token not in the assets table.
    pub asset: String,
    pub transfers: i64,
    pub priced: i64,
    pub implausible: i64,
    pub priced_micro_usd: i128,
}

impl AssetCoverage {
    /// Transfers with no price that day (neither priced nor implausible).
    pub fn unpriced(&self) -> i64 {
        self.transfers - self.priced - self.implausible
    }
}

impl Incident {
    /// On-chain minus reported, when both are known and something on chain is priced.
    pub fn difference_micro_usd(&self) -> Option<i128> {
        let o = &self.onchain;
        match self.reported_micro_usd {
            Some(r) if o.transfers > 0 && o.transfers > o.unpriced => Some(o.micro_usd - r),
            _ => None,
        }
    }
}

/// One theft transfer of a ledger incident (theft_transfers): what an incident's on-chain value is
/// the sum of.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TheftTransfer {
    pub incident: String,
    /// YYYY-MM-DD (UTC).
    pub day: String,
    pub chain: String,
    pub tx_hash: String,
    pub to_address: String,
    pub asset: String,
    /// Decimal-adjusted, as the lake holds it.
    pub amount: String,
    /// None: no price that day, or above the ceiling.
    pub micro_usd: Option<i128>,
}

/// The year's price coverage (price_coverage).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub transfers: i64,
    pub priced: i64,
    /// Valued above the ceiling: kept out of every total.
    pub implausible: i64,
}

/// A transfer valued above the ceiling (implausible_transfers).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Implausible {
    pub source_file: String,
    pub block_number: i64,
    pub tx_hash: String,
    pub log_index: String,
    pub trace_address: String,
    pub asset: String,
    pub amount: String,
    pub value_usd: String,
}

/// Where one actor's stolen proceeds went under one tracing method (sum of the trace's destinations).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceTotal {
    pub actor: String,
    pub method: Method,
    /// A stopping category (exchange, mixer, bridge …) or `held`.
    pub destination: String,
    /// micro_usd of the priced destinations; transfers = destinations, unpriced = of them without a
    /// (plausible) price.
    pub value: Money,
}

/// A label pack used for attribution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelSource {
    pub pack: String,
    pub file: String,
    pub labels: usize,
    pub min_confidence: i64,
    pub max_confidence: i64,
}

/// A query's documentation (its header comment).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryDoc {
    pub name: String,
    pub doc: String,
}

/// One figure that moved since the previous release (figures.json ids), with its cause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub id: String,
    /// None: the figure is new (or had no value).
    pub old: Option<String>,
    /// None: the figure is gone (or has no value now).
    pub new: Option<String>,
    /// new - old, exact, when both are numbers.
    pub delta: Option<String>,
    /// The change in percent of the old value, to 2 decimals.
    pub delta_pct: Option<String>,
    /// Which inputs changed among those the figure is computed from.
    pub cause: String,
}

/// What moved since the previous release, largest change first.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Changes {
    /// The previous release (its id: the time it was made).
    pub since: String,
    pub rows: Vec<Change>,
}

/// A published estimate of DPRK-attributed theft (data/reference/estimates.csv).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// The years it covers (one, or a window such as 2017-2018).
    pub years: String,
    pub publisher: String,
    pub usd: i128,
    /// The top of a range ("$630M-$1B").
    pub usd_high: Option<i128>,
    pub incidents: Option<u32>,
    pub what_it_counts: String,
    pub published: String,
    pub source: String,
    pub source_url: String,
}

/// Everything one year's report shows. Rows are in the queries' order.
#[derive(Debug, Clone, Default)]
pub struct YearModel {
    pub year: i32,
    pub totals: Vec<ActorTotal>,
    pub months: Vec<ActorMonth>,
    /// The totals per chain (actor_chain_totals).
    pub chain_totals: Vec<ChainTotal>,
    /// Cross-chain links the tracer did not follow: (link id, why).
    pub links_not_followed: Vec<(String, String)>,
    pub destinations: Vec<Destination>,
    pub counterparties: Vec<Counterparty>,
    pub incidents: Vec<Incident>,
    pub coverage: Coverage,
    pub implausible: Vec<Implausible>,
    pub trace: Vec<TraceTotal>,
    /// actor -> its ancestors (Lazarus Group -> DPRK): a chart never shows both.
    pub ancestors: BTreeMap<String, Vec<String>>,
    /// The methodology: one inline-Markdown paragraph per rule, built from the settings in force.
    pub methodology: Vec<String>,
    pub queries: Vec<QueryDoc>,
    /// The run's manifest (inputs with hashes, settings, table rows, queries), written as is.
    pub manifest: serde_json::Value,
    /// In a release of `ifr refresh`: what moved since the previous release.
    pub changes: Option<Changes>,
    /// actor id -> its human name (the actors table's label).
    pub actor_names: BTreeMap<String, String>,
    /// Set when an input is synthetic: what the banner on every page says it is.
    pub synthetic: Option<String>,
    /// Published estimates whose years cover this year, oldest publication first.
    pub estimates: Vec<Estimate>,
    /// The year's theft transfers, by incident, day and transaction.
    pub thefts: Vec<TheftTransfer>,
    /// The chain data in the lake, every chain and year (an incident is verified against the
    /// whole span; the coverage table shows the report's year).
    pub chains: Vec<ChainSpan>,
    /// The year's price coverage by chain and asset.
    pub asset_coverage: Vec<AssetCoverage>,
    /// The recoveries dated in the year.
    pub recoveries: Vec<Recovery>,
    /// Lake table -> sha256 over the sorted `file sha256` lines of the input files loaded into it:
    /// figures.json names each figure's inputs by these hashes.
    pub input_hashes: BTreeMap<String, String>,
}

impl YearModel {
    /// Whether `actor` is `root` or one of its descendants (its figures are inside `root`'s).
    pub fn in_family(&self, actor: &str, root: &str) -> bool {
        actor == root || self.ancestors.get(actor).is_some_and(|a| a.iter().any(|x| x == root))
    }

    /// The year's ledger incidents of `root`'s family whose theft was not found on chain, and the
    /// sum of their reported values (incidents without one add nothing).
    pub fn not_verified(&self, root: &str) -> (Vec<&Incident>, i128) {
        let not: Vec<&Incident> =
            self.incidents.iter().filter(|i| self.in_family(&i.actor, root) && !self.verification(i).found()).collect();
        let reported = not.iter().filter_map(|i| i.reported_micro_usd).sum();
        (not, reported)
    }

    /// Whether the lake holds transfers of `chain` on `day` (YYYY-MM-DD): between the first and
    /// the last day of its data.
    pub fn covers(&self, chain: &str, day: &str) -> bool {
        let spans = self.chains.iter().filter(|c| c.chain.eq_ignore_ascii_case(chain));
        let (mut first, mut last): (Option<&str>, Option<&str>) = (None, None);
        for c in spans {
            first = Some(first.map_or(c.first_day.as_str(), |f| f.min(c.first_day.as_str())));
            last = Some(last.map_or(c.last_day.as_str(), |l| l.max(c.last_day.as_str())));
        }
        matches!((first, last), (Some(f), Some(l)) if f <= day && day <= l)
    }

    /// How far an incident was verified on the chain data of this report.
    pub fn verification(&self, i: &Incident) -> Verification {
        let missing: Vec<String> = i.chains.iter().filter(|c| !self.covers(c, &i.date)).cloned().collect();
        match (i.onchain.transfers > 0, missing.len() < i.chains.len()) {
            (true, _) if missing.is_empty() => Verification::OnChain,
            (true, _) => Verification::Partly(missing),
            (false, true) => Verification::NotFound,
            (false, false) => Verification::NotLoaded(missing),
        }
    }
}

/// How the report is presented (from the config's `[report]`).
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// Only these actors (empty: all), in this order in the charts.
    pub actors: Vec<String>,
    /// The per-transfer ceiling in USD.
    pub max_transfer_usd: f64,
    /// Stolen value at the close of the incident's ledger date (else of the transfer day).
    pub disclosure_day: bool,
}
