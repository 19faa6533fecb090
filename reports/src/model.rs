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
