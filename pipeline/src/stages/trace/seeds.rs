//! What the tracer starts from and what it knows about addresses: the seeds resolved against the
//! lake, and each address's actor and category over time (the report's attribution).

use std::collections::BTreeSet;

use polars::prelude::{DataFrame, DataType, PlHashMap as HashMap, PlHashSet as HashSet, col};

use super::Seeds;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::stages::aggregate;
use crate::stages::attribute::{self, Attribution};
use crate::stages::value::{TheftKeys, Valuation};
use crate::table::{col_i64, col_str};

/// An address's attribution over time: (valid_from day, valid_to day, actor, category).
type LabelSpans = Vec<(i32, i32, Option<String>, String)>;

/// Every attributed address's actor and category by day, and each actor's ancestors.
pub(super) struct Labels {
    spans: HashMap<String, LabelSpans>,
    ancestors: HashMap<String, BTreeSet<String>>,
}

impl Labels {
    pub(super) fn of(att: &Attribution) -> Result<Labels> {
        let mut spans: HashMap<String, LabelSpans> = HashMap::default();
        let a = &att.address_actors;
        let (addr, actor, cat) = (
            col_str(a, "address")?,
            a.column("actor").map_err(|e| Error::polars("actor", e))?.str().map_err(|e| Error::polars("actor", e))?.clone(),
            col_str(a, "category")?,
        );
        let (from, to) = (col_i64(a, "valid_from")?, col_i64(a, "valid_to")?);
        for i in 0..addr.len() {
            spans.entry(addr[i].clone()).or_default().push((
                from[i] as i32,
                to[i] as i32,
                actor.get(i).map(str::to_string),
                cat[i].clone(),
            ));
        }
        let mut ancestors: HashMap<String, BTreeSet<String>> = HashMap::default();
        let (a, an) = (col_str(&att.actor_ancestors, "actor")?, col_str(&att.actor_ancestors, "ancestor")?);
        for i in 0..a.len() {
            ancestors.entry(a[i].clone()).or_default().insert(an[i].clone());
        }
        Ok(Labels { spans, ancestors })
    }

    /// (actor, category) of an address on a day, borrowed: this runs for every transfer.
    pub(super) fn at(&self, addr: &str, day: i32) -> Option<(Option<&str>, &str)> {
        self.spans.get(addr)?.iter().find(|(f, t, _, _)| day >= *f && day < *t).map(|(_, _, a, c)| (a.as_deref(), c.as_str()))
    }

    /// Whether `actor` is `a` or one of its descendants.
    pub(super) fn in_actor(&self, actor: Option<&str>, a: &str) -> bool {
        actor.is_some_and(|x| self.ancestors.get(x).is_some_and(|s| s.contains(a)))
    }

    fn any_address_in(&self, a: &str) -> bool {
        self.addresses_in(a).next().is_some()
    }

    /// The addresses attributed to actor `a` or a descendant on some day.
    pub(super) fn addresses_in<'s>(&'s self, a: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.spans.iter().filter(move |(_, s)| s.iter().any(|(_, _, act, _)| self.in_actor(act.as_deref(), a))).map(|(x, _)| x.as_str())
    }
}

/// The seeds, resolved: how a transfer is recognised as a seed.
pub(super) enum Resolved {
    /// tx_hash -> [(chain, to_address, seed)]: the incidents' theft transfers.
    Thefts(HashMap<String, Vec<(String, String, usize)>>),
    /// address -> listing day.
    Sanctioned(HashMap<String, i32>),
    Actor(String),
    Addresses(HashSet<String>),
}

/// Resolve the seeds: their names (one per seed) and the rule that recognises them.
#[allow(clippy::too_many_arguments)]
pub(super) fn resolve(
    settings: &Settings,
    lake: &Lake,
    att: &Attribution,
    valuation: &Valuation,
    thefts: Option<&DataFrame>,
    labels: &Labels,
    seeds: &Seeds,
) -> Result<(Vec<String>, Resolved)> {
    match seeds {
        Seeds::Incidents(list) => {
            // The rule of queries/theft_transfers.sql, read from that query (or from its rows, when
            // the report already ran it): one rule for the stolen totals and the tracer's seeds.
            let computed;
            let rows = match thefts {
                Some(rows) => rows,
                None => {
                    let keys = TheftKeys::build(lake, settings.report.incident_window_days)?;
                    let inputs = aggregate::Inputs {
                        attribution: att,
                        high: att,
                        valuation,
                        thefts: &keys,
                        stolen_price_day: settings.report.stolen_price_day,
                    };
                    computed = aggregate::theft_transfers(&mut aggregate::context(
                        lake,
                        &inputs,
                        &[aggregate::Scan::TheftCandidates],
                        &crate::stages::ingest::NoProgress,
                        "trace",
                    )?)?;
                    &computed
                }
            };
            let (inc, chain, hash, to) =
                (col_str(rows, "incident")?, col_str(rows, "chain")?, col_str(rows, "tx_hash")?, col_str(rows, "to_address")?);
            let ledger = lake.scan("incidents")?.select([col("id"), col("actor")]).collect();
            let ledger = ledger.map_err(|e| Error::polars("reading incidents", e))?;
            let (ids, actors) = (col_str(&ledger, "id")?, col_str(&ledger, "actor")?);
            let mut seed_tx: HashMap<String, Vec<(String, String, usize)>> = HashMap::default();
            for (n, id) in list.iter().enumerate() {
                let Some(i) = ids.iter().position(|x| x == id) else {
                    return Err(Error::Config(format!("no incident `{id}` in the lake (incidents: {})", ids.join(", "))));
                };
                if actors[i].is_empty() {
                    return Err(Error::Config(format!(
                        "incident `{id}` is attributed to no actor in the ledger: it has no theft transfers to trace"
                    )));
                }
                let mut found = false;
                for k in (0..rows.height()).filter(|&k| inc[k] == *id) {
                    let v = seed_tx.entry(hash[k].clone()).or_default();
                    if !v.iter().any(|(c, a, _)| *a == to[k] && *c == chain[k]) {
                        v.push((chain[k].clone(), to[k].clone(), n));
                    }
                    found = true;
                }
                if !found {
                    return Err(Error::Config(format!(
                        "incident `{id}` has no on-chain theft transfers in the lake (no listed tx hash or victim-to-attacker transfer was found)"
                    )));
                }
            }
            Ok((list.clone(), Resolved::Thefts(seed_tx)))
        }
        Seeds::Sanctioned => {
            let sanctions = lake.scan("sanctions")?.collect().map_err(|e| Error::polars("reading sanctions", e))?;
            let addr = col_str(&sanctions, "address")?;
            let day = |c: &str| -> Result<Vec<Option<i32>>> {
                let s = sanctions.column(c).map_err(|e| Error::polars(c, e))?.cast(&DataType::Int32).map_err(|e| Error::polars(c, e))?;
                Ok(s.i32().map_err(|e| Error::polars(c, e))?.iter().collect())
            };
            let (listed, party, first) = (day("listed_date")?, day("party_listed_date")?, day("first_seen_snapshot")?);
            let mut from_day: HashMap<String, i32> = HashMap::default();
            for i in 0..addr.len() {
                let from = listed[i].or(party[i]).or(first[i]).unwrap_or(attribute::MIN_DAY);
                let e = from_day.entry(addr[i].clone()).or_insert(from);
                *e = (*e).min(from);
            }
            if from_day.is_empty() {
                return Err(Error::Config("the lake has no sanctioned address to trace from".into()));
            }
            Ok((vec!["sanctioned".into()], Resolved::Sanctioned(from_day)))
        }
        Seeds::Actor(a) => {
            if !att.known_actors.contains(a) {
                return Err(Error::Config(format!(
                    "no actor `{a}` (actors: {})",
                    att.known_actors.iter().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            if !labels.any_address_in(a) {
                return Err(Error::Config(format!("actor `{a}` has no attributed address to trace from")));
            }
            Ok((vec![a.clone()], Resolved::Actor(a.clone())))
        }
        Seeds::Addresses(list) => {
            let mut set = HashSet::default();
            for x in list {
                let n = crate::address::for_currency("", x).map_err(|why| Error::Config(format!("seed address `{x}`: {why}")))?;
                set.insert(n);
            }
            let name = if list.len() <= 3 { list.join(";") } else { format!("{} addresses", list.len()) };
            Ok((vec![name], Resolved::Addresses(set)))
        }
    }
}

impl Resolved {
    /// The seeds as text, in a fixed order (for the walk's checkpoint digest).
    pub(super) fn digest_text(&self) -> String {
        match self {
            Resolved::Thefts(m) => {
                let sorted: std::collections::BTreeMap<&String, Vec<&(String, String, usize)>> = m
                    .iter()
                    .map(|(k, v)| {
                        let mut v: Vec<&(String, String, usize)> = v.iter().collect();
                        v.sort();
                        (k, v)
                    })
                    .collect();
                format!("thefts {sorted:?}")
            }
            Resolved::Sanctioned(m) => {
                let sorted: std::collections::BTreeMap<&String, &i32> = m.iter().collect();
                format!("sanctioned {sorted:?}")
            }
            Resolved::Actor(a) => format!("actor {a:?}"),
            Resolved::Addresses(set) => {
                let sorted: std::collections::BTreeSet<&String> = set.iter().collect();
                format!("addresses {sorted:?}")
            }
        }
    }

    /// The seed a transfer is, if any.
    pub(super) fn seed_of(&self, labels: &Labels, t: &Transfer<'_>) -> Option<usize> {
        match self {
            Resolved::Thefts(tx) => tx.get(t.hash).and_then(|v| v.iter().find(|(c, a, _)| a == t.to && c == t.chain).map(|(_, _, s)| *s)),
            Resolved::Sanctioned(from) => {
                let listed = |a: &str| from.get(a).is_some_and(|d| t.day >= *d);
                (listed(t.to) && !listed(t.from)).then_some(0)
            }
            Resolved::Actor(a) => {
                let ta = labels.at(t.to, t.day).and_then(|l| l.0);
                let fa = labels.at(t.from, t.day).and_then(|l| l.0);
                (labels.in_actor(ta, a) && !labels.in_actor(fa, a)).then_some(0)
            }
            Resolved::Addresses(set) => (set.contains(t.to) && !set.contains(t.from)).then_some(0),
        }
    }
}

/// The fields of a transfer seed recognition looks at.
pub(super) struct Transfer<'a> {
    pub chain: &'a str,
    pub hash: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub day: i32,
}

/// Build the attribution the tracer uses (the report's, under all labels).
pub(super) fn attribution(settings: &Settings, lake: &Lake) -> Result<Attribution> {
    attribute::build(lake, settings.report.sanctions, 0)
}
