//! Attribution: which actor (and report category) each labelled address belongs to, over time.
//!
//! Candidates for an address are its labels (TagPacks, Etherscan …) and its sanctions entries
//! (attributed to the actor whose `sdn_party_id` is the entry's party; OFAC is GraphSense's
//! `authority_data`, confidence 60). Sanctions apply from the listing date under the point-in-time
//! policy (the snapshot comparison's `listed_date`, else the party's entry date, else the first
//! snapshot that lists it) until a delisting; under `as-listed-today` every address on the latest
//! list counts for all dates. At every date the address belongs to its best candidate: highest
//! confidence, then a label before a sanctions entry, then the smaller actor id, then the category.
//!
//! The result is an interval table covering all time for every candidate address, so that a plain
//! join on the address plus `day >= valid_from AND day < valid_to` finds exactly one row.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use polars::prelude::*;

use crate::config::SanctionsPolicy;
use crate::error::{Error, Result};
use crate::lake::Lake;

/// Start and end of time for the interval table (days since the epoch).
pub const MIN_DAY: i32 = -719_162; // 0001-01-01
pub const MAX_DAY: i32 = 2_932_896; // 9999-12-31

pub use crate::category::report_category;

#[derive(Debug, Clone)]
struct Candidate {
    confidence: i32,
    /// 0 = label, 1 = sanctions entry (labels win ties).
    kind: u8,
    actor: Option<String>,
    category: &'static str,
    from: i32,
    to: i32,
}

impl Candidate {
    fn rank(&self) -> (i32, std::cmp::Reverse<u8>, std::cmp::Reverse<Option<&str>>, std::cmp::Reverse<&str>) {
        (self.confidence, std::cmp::Reverse(self.kind), std::cmp::Reverse(self.actor.as_deref()), std::cmp::Reverse(self.category))
    }
}

pub struct Attribution {
    /// address, valid_from, valid_to (dates), actor (nullable), category, confidence
    pub address_actors: DataFrame,
    /// actor, ancestor (each actor is its own ancestor)
    pub actor_ancestors: DataFrame,
    /// Actor ids known to the actors table.
    pub known_actors: BTreeSet<String>,
}

fn strs(df: &DataFrame, col: &str) -> Result<Vec<Option<String>>> {
    let c = df.column(col).map_err(|e| Error::polars(format!("column {col}"), e))?;
    let c = c.str().map_err(|e| Error::polars(format!("column {col}"), e))?;
    Ok(c.iter().map(|v| v.map(str::to_string)).collect())
}

fn days(df: &DataFrame, col: &str) -> Result<Vec<Option<i32>>> {
    let c = df.column(col).map_err(|e| Error::polars(format!("column {col}"), e))?;
    let c = c.cast(&DataType::Int32).map_err(|e| Error::polars(format!("column {col}"), e))?;
    Ok(c.i32().map_err(|e| Error::polars(format!("column {col}"), e))?.iter().collect())
}

/// Build the attribution tables from the lake; labels below `min_confidence` are ignored.
pub fn build(lake: &Lake, sanctions_policy: SanctionsPolicy, min_confidence: i32) -> Result<Attribution> {
    let collect = |t: &str| lake.scan(t)?.collect().map_err(|e| Error::polars(format!("reading table {t}"), e));
    let actors = collect("actors")?;
    let ids = strs(&actors, "id")?;
    let parents = strs(&actors, "parent")?;
    let parties = strs(&actors, "sdn_party_id")?;
    let mut parent_of = HashMap::new();
    let mut actor_of_party = HashMap::new();
    let mut known_actors = BTreeSet::new();
    for i in 0..ids.len() {
        let Some(id) = ids[i].clone() else { continue };
        known_actors.insert(id.clone());
        if let Some(p) = &parents[i] {
            parent_of.insert(id.clone(), p.clone());
        }
        if let Some(p) = &parties[i] {
            actor_of_party.entry(p.clone()).or_insert(id);
        }
    }

    let mut candidates: BTreeMap<String, Vec<Candidate>> = BTreeMap::new();
    let labels = collect("labels")?;
    let (la, lact, lcat) = (strs(&labels, "address")?, strs(&labels, "actor")?, strs(&labels, "category")?);
    let lconf = labels.column("confidence").map_err(|e| Error::polars("labels.confidence", e))?;
    let lconf: Vec<Option<i32>> = lconf.i32().map_err(|e| Error::polars("labels.confidence", e))?.iter().collect();
    for i in 0..la.len() {
        let (Some(addr), Some(conf)) = (&la[i], lconf[i]) else { continue };
        if conf < min_confidence || lact[i].is_none() {
            continue;
        }
        candidates.entry(addr.clone()).or_default().push(Candidate {
            confidence: conf,
            kind: 0,
            actor: lact[i].clone(),
            category: report_category(lcat[i].as_deref().unwrap_or("")),
            from: MIN_DAY,
            to: MAX_DAY,
        });
    }

    let sanctions = collect("sanctions")?;
    if sanctions.height() > 0 && 60 >= min_confidence {
        let (sa, sp) = (strs(&sanctions, "address")?, strs(&sanctions, "party_id")?);
        let (listed, party_listed, first, last, delisted) = (
            days(&sanctions, "listed_date")?,
            days(&sanctions, "party_listed_date")?,
            days(&sanctions, "first_seen_snapshot")?,
            days(&sanctions, "last_seen_snapshot")?,
            days(&sanctions, "delisted_date")?,
        );
        let latest = last.iter().flatten().max().copied();
        for i in 0..sa.len() {
            let Some(addr) = &sa[i] else { continue };
            let (from, to) = match sanctions_policy {
                SanctionsPolicy::PointInTime => {
                    let from = listed[i].or(party_listed[i]).or(first[i]).unwrap_or(MIN_DAY);
                    (from, delisted[i].unwrap_or(MAX_DAY))
                }
                SanctionsPolicy::AsListedToday => {
                    if last[i] != latest {
                        continue; // no longer listed
                    }
                    (MIN_DAY, MAX_DAY)
                }
            };
            let actor = sp[i].as_ref().and_then(|p| actor_of_party.get(p)).cloned();
            candidates.entry(addr.clone()).or_default().push(Candidate { confidence: 60, kind: 1, actor, category: "sanctioned", from, to });
        }
    }

    // Resolve each address into intervals covering all time.
    let (mut addr_col, mut from_col, mut to_col, mut actor_col, mut cat_col, mut conf_col) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (addr, cands) in &candidates {
        let mut cuts: BTreeSet<i32> = [MIN_DAY, MAX_DAY].into_iter().collect();
        for c in cands {
            cuts.insert(c.from.clamp(MIN_DAY, MAX_DAY));
            cuts.insert(c.to.clamp(MIN_DAY, MAX_DAY));
        }
        let cuts: Vec<i32> = cuts.into_iter().collect();
        let mut last: Option<(i32, Option<String>, &'static str, Option<i32>)> = None;
        let mut push = |from: i32, to: i32, actor: Option<String>, cat: &'static str, conf: Option<i32>| {
            addr_col.push(addr.clone());
            from_col.push(from);
            to_col.push(to);
            actor_col.push(actor);
            cat_col.push(cat);
            conf_col.push(conf);
        };
        for w in cuts.windows(2) {
            let (a, b) = (w[0], w[1]);
            let best = cands.iter().filter(|c| c.from <= a && c.to >= b).max_by(|x, y| x.rank().cmp(&y.rank()));
            let pick = match best {
                Some(c) => (c.actor.clone(), c.category, Some(c.confidence)),
                None => (None, "unlabelled", None),
            };
            match &mut last {
                Some((start, actor, cat, conf)) if *actor == pick.0 && *cat == pick.1 && *conf == pick.2 => {
                    let _ = start;
                }
                _ => {
                    if let Some((start, actor, cat, conf)) = last.take() {
                        push(start, a, actor, cat, conf);
                    }
                    last = Some((a, pick.0, pick.1, pick.2));
                }
            }
        }
        if let Some((start, actor, cat, conf)) = last {
            push(start, MAX_DAY, actor, cat, conf);
        }
    }
    let n = addr_col.len();
    let date = |name: &str, v: Vec<i32>| -> Result<Column> {
        Series::new(name.into(), v).cast(&DataType::Date).map(|s| s.into_column()).map_err(|e| Error::polars("dates", e))
    };
    let address_actors = DataFrame::new(
        n,
        vec![
            Column::new("address".into(), addr_col),
            date("valid_from", from_col)?,
            date("valid_to", to_col)?,
            Column::new("actor".into(), actor_col),
            Column::new("category".into(), cat_col),
            Column::new("confidence".into(), conf_col),
        ],
    )
    .map_err(|e| Error::polars("building address_actors", e))?;

    // Hierarchy: every actor that appears, with itself and its ancestors.
    let mut all: BTreeSet<String> = known_actors.clone();
    if let Ok(c) = address_actors.column("actor").and_then(|c| c.str().cloned()) {
        all.extend(c.iter().flatten().map(str::to_string));
    }
    let (mut a_col, mut anc_col) = (Vec::new(), Vec::new());
    for a in &all {
        let mut cur = a.clone();
        let mut seen = BTreeSet::new();
        loop {
            if !seen.insert(cur.clone()) {
                break; // a cycle in `parent`: stop rather than loop
            }
            a_col.push(a.clone());
            anc_col.push(cur.clone());
            match parent_of.get(&cur) {
                Some(p) => cur = p.clone(),
                None => break,
            }
        }
    }
    let actor_ancestors = DataFrame::new(a_col.len(), vec![Column::new("actor".into(), a_col), Column::new("ancestor".into(), anc_col)])
        .map_err(|e| Error::polars("building actor_ancestors", e))?;
    Ok(Attribution { address_actors, actor_ancestors, known_actors })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories() {
        assert_eq!(report_category("mixing_service"), "mixer");
        assert_eq!(report_category("defi_dex"), "defi");
        assert_eq!(report_category("user"), "other");
    }
}
