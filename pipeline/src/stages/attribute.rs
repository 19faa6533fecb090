//! Attribution: which actor (and report category) each labelled address belongs to, over time.
//!
//! Candidates for an address are its labels (TagPacks, Etherscan …) and its sanctions entries
//! (attributed to the actor whose `sdn_party_id` is the entry's party; OFAC is GraphSense's
//! `authority_data`, confidence 60). Sanctions apply from the listing date under the point-in-time
//! policy (the snapshot comparison's `listed_date`, else the party's entry date, else the first
//! snapshot that lists it) until a delisting; under `as-listed-today` every address on the latest
//! list counts for all dates. Candidates rank by confidence, then a label before a sanctions entry,
//! then one naming an actor before one naming none, then the smaller actor id, then the category.
//! At every date the address belongs to the best candidate that names an actor (a label or entry
//! without one — every Etherscan label, a party no actor claims — never takes an address from an
//! actor), and has the category of the best candidate of all.
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
    /// Higher is better: confidence, then a label over a sanctions entry, then a candidate naming
    /// an actor over one naming none, then the smaller actor id, then the category.
    fn rank(&self) -> (i32, std::cmp::Reverse<u8>, bool, std::cmp::Reverse<Option<&str>>, std::cmp::Reverse<&str>) {
        (
            self.confidence,
            std::cmp::Reverse(self.kind),
            self.actor.is_some(),
            std::cmp::Reverse(self.actor.as_deref()),
            std::cmp::Reverse(self.category),
        )
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
        if conf < min_confidence {
            continue;
        }
        candidates.entry(addr.clone()).or_default().push(Candidate {
            confidence: conf,
            kind: 0,
            actor: lact[i].clone(),
            category: report_category(lcat[i].as_deref().unwrap_or("")).as_str(),
            from: MIN_DAY,
            to: MAX_DAY,
        });
    }

    let sanctions = collect("sanctions")?;
    if sanctions.height() > 0 && 60 >= min_confidence {
        let (sa, sp) = (strs(&sanctions, "address")?, strs(&sanctions, "party_id")?);
        let (listed, party_listed, first, delisted) = (
            days(&sanctions, "listed_date")?,
            days(&sanctions, "party_listed_date")?,
            days(&sanctions, "first_seen_snapshot")?,
            days(&sanctions, "delisted_date")?,
        );
        for i in 0..sa.len() {
            let Some(addr) = &sa[i] else { continue };
            let (from, to) = match sanctions_policy {
                SanctionsPolicy::PointInTime => {
                    let from = listed[i].or(party_listed[i]).or(first[i]).unwrap_or(MIN_DAY);
                    (from, delisted[i].unwrap_or(MAX_DAY))
                }
                SanctionsPolicy::AsListedToday => {
                    // Still on its own list's latest snapshot (each source has its own dates).
                    if delisted[i].is_some() {
                        continue;
                    }
                    (MIN_DAY, MAX_DAY)
                }
            };
            let actor = sp[i].as_ref().and_then(|p| actor_of_party.get(p)).cloned();
            candidates.entry(addr.clone()).or_default().push(Candidate {
                confidence: 60,
                kind: 1,
                actor,
                category: crate::category::Category::Sanctioned.as_str(),
                from,
                to,
            });
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
            // The actor is the best candidate's that names one: a label or sanctions entry without
            // an actor (an Etherscan label, a party no actor claims) never takes an address from an
            // actor. The category is the best candidate's of all, so such a label still says what
            // the address is. The confidence is that of the candidate giving the actor, else of
            // the one giving the category.
            let live = || cands.iter().filter(|c| c.from <= a && c.to >= b);
            let best = live().max_by(|x, y| x.rank().cmp(&y.rank()));
            let best_actor = live().filter(|c| c.actor.is_some()).max_by(|x, y| x.rank().cmp(&y.rank()));
            let pick = match (best, best_actor) {
                (Some(c), Some(act)) => (act.actor.clone(), c.category, Some(act.confidence)),
                (Some(c), None) => (None, c.category, Some(c.confidence)),
                _ => (None, "unlabelled", None),
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
    //! `build` reads a lake, so each test writes a tiny one: a Parquet file per table and the
    //! `_ingest/state.json` that lists them, as ingest leaves it. Every expected interval is
    //! written out from the rules in the module documentation, never computed.

    use super::*;
    use crate::lake::{SourceState, State};

    type TestResult<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

    #[test]
    fn categories() {
        use crate::category::Category;
        assert_eq!(report_category("mixing_service"), Category::Mixer);
        assert_eq!(report_category("defi_dex"), Category::Defi);
        assert_eq!(report_category("user"), Category::Other);
    }

    fn epoch() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch")
    }

    /// Days since the epoch of a `YYYY-MM-DD` date.
    fn day(s: &str) -> i32 {
        let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a YYYY-MM-DD test date");
        (d - epoch()).num_days() as i32
    }

    fn ymd(days: i32) -> String {
        (epoch() + chrono::Duration::days(days.into())).format("%Y-%m-%d").to_string()
    }

    /// A lake holding `(table, source, frame)` files, listed in `_ingest/state.json`.
    fn lake_with(files: Vec<(&str, &str, DataFrame)>) -> TestResult<(tempfile::TempDir, Lake)> {
        let dir = tempfile::tempdir()?;
        let mut state = State::default();
        for (table, source, mut df) in files {
            let rel = format!("{table}/{source}.parquet");
            crate::table::write_parquet(&mut df, &dir.path().join(&rel))?;
            let st = SourceState {
                kind: table.into(),
                format: "test".into(),
                fingerprint: String::new(),
                outputs: vec![rel],
                counts: Default::default(),
                files: vec![],
                setup: None,
                held_back: vec![],
            };
            state.sources.insert(format!("{source}-{table}"), st);
        }
        std::fs::create_dir_all(dir.path().join("_ingest"))?;
        std::fs::write(dir.path().join("_ingest").join("state.json"), serde_json::to_vec(&state)?)?;
        let lake = Lake::new(dir.path());
        Ok((dir, lake))
    }

    /// Actors as `(id, parent, sdn_party_id)`.
    fn actors(rows: &[(&str, Option<&str>, Option<&str>)]) -> TestResult<DataFrame> {
        Ok(df!(
            "id" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "parent" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "sdn_party_id" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        )?)
    }

    /// Labels as `(address, actor, category, confidence)`.
    fn labels(rows: &[(&str, Option<&str>, &str, i32)]) -> TestResult<DataFrame> {
        Ok(df!(
            "address" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "actor" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "category" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            "confidence" => rows.iter().map(|r| r.3).collect::<Vec<i32>>(),
        )?)
    }

    /// A sanctions row: the columns `build` reads (dates as `YYYY-MM-DD`).
    #[derive(Default, Clone)]
    struct Entry {
        address: &'static str,
        party: &'static str,
        listed: Option<&'static str>,
        party_listed: Option<&'static str>,
        first: &'static str,
        last: &'static str,
        delisted: Option<&'static str>,
    }

    fn sanctions(rows: &[Entry]) -> TestResult<DataFrame> {
        let date = |name: &str, f: &dyn Fn(&Entry) -> Option<&'static str>| -> TestResult<Column> {
            let v: Vec<Option<i32>> = rows.iter().map(|e| f(e).map(day)).collect();
            Ok(Series::new(name.into(), v).cast(&DataType::Date)?.into_column())
        };
        let columns = vec![
            Column::new("address".into(), rows.iter().map(|e| e.address).collect::<Vec<_>>()),
            Column::new("party_id".into(), rows.iter().map(|e| e.party).collect::<Vec<_>>()),
            date("listed_date", &|e| e.listed)?,
            date("party_listed_date", &|e| e.party_listed)?,
            date("first_seen_snapshot", &|e| Some(e.first))?,
            date("last_seen_snapshot", &|e| Some(e.last))?,
            date("delisted_date", &|e| e.delisted)?,
        ];
        Ok(DataFrame::new(rows.len(), columns)?)
    }

    /// `address_actors` as lines `address from..to actor category confidence` (`-` for NULL).
    fn intervals(att: &Attribution) -> TestResult<Vec<String>> {
        let df = &att.address_actors;
        let int = |c: &str| -> TestResult<Vec<Option<i32>>> { Ok(df.column(c)?.cast(&DataType::Int32)?.i32()?.iter().collect()) };
        let (from, to, conf) = (int("valid_from")?, int("valid_to")?, int("confidence")?);
        let (addr, actor, cat) = (df.column("address")?.str()?, df.column("actor")?.str()?, df.column("category")?.str()?);
        Ok((0..df.height())
            .map(|i| {
                format!(
                    "{} {}..{} {} {} {}",
                    addr.get(i).unwrap_or("-"),
                    from[i].map_or("-".into(), ymd),
                    to[i].map_or("-".into(), ymd),
                    actor.get(i).unwrap_or("-"),
                    cat.get(i).unwrap_or("-"),
                    conf[i].map_or("-".into(), |c| c.to_string()),
                )
            })
            .collect())
    }

    /// The actor of `address` on `date`, by the join every query uses
    /// (`valid_from <= day < valid_to`), which must find exactly one interval.
    fn actor_on(att: &Attribution, address: &str, date: &str) -> TestResult<Option<String>> {
        let d = day(date);
        let df = &att.address_actors;
        let (from, to) = (df.column("valid_from")?.cast(&DataType::Int32)?, df.column("valid_to")?.cast(&DataType::Int32)?);
        let (addr, actor, from, to) = (df.column("address")?.str()?, df.column("actor")?.str()?, from.i32()?, to.i32()?);
        let hits: Vec<Option<String>> = (0..df.height())
            .filter(|&i| addr.get(i) == Some(address) && from.get(i).is_some_and(|f| f <= d) && to.get(i).is_some_and(|t| d < t))
            .map(|i| actor.get(i).map(str::to_string))
            .collect();
        assert_eq!(hits.len(), 1, "{address} on {date}: expected exactly one interval, got {hits:?}");
        Ok(hits.into_iter().next().flatten())
    }

    fn ancestors(att: &Attribution) -> TestResult<Vec<(String, String)>> {
        let df = &att.actor_ancestors;
        let (a, b) = (df.column("actor")?.str()?, df.column("ancestor")?.str()?);
        let mut out: Vec<(String, String)> =
            a.iter().zip(b.iter()).map(|(a, b)| (a.unwrap_or("-").to_string(), b.unwrap_or("-").to_string())).collect();
        out.sort();
        Ok(out)
    }

    /// A listing history: listed then delisted, listed from the party's entry date, listed from
    /// the first snapshot; the latest snapshot is 2024-01-01.
    fn listing_history() -> Vec<Entry> {
        vec![
            Entry {
                address: "0xd",
                party: "P1",
                listed: Some("2020-03-01"),
                party_listed: Some("2019-01-01"),
                first: "2020-03-01",
                last: "2021-05-01",
                delisted: Some("2021-06-01"),
            },
            Entry {
                address: "0xe",
                party: "P1",
                party_listed: Some("2019-05-05"),
                first: "2020-01-01",
                last: "2024-01-01",
                ..Default::default()
            },
            Entry { address: "0xf", party: "P1", first: "2020-01-01", last: "2024-01-01", ..Default::default() },
        ]
    }

    #[test]
    fn the_higher_confidence_wins_where_candidates_overlap() -> TestResult {
        let (_dir, lake) = lake_with(vec![
            ("actors", "test", actors(&[("alpha", None, None), ("lazarus", None, Some("P1"))])?),
            (
                "labels",
                "test",
                labels(&[
                    ("0xa", Some("alpha"), "exchange", 50),
                    ("0xb", Some("alpha"), "exchange", 100),
                    ("0xc", Some("beta"), "mixing_service", 40),
                    ("0xc", Some("gamma"), "exchange", 90),
                ])?,
            ),
            (
                "sanctions",
                "test",
                sanctions(&[
                    Entry {
                        address: "0xa",
                        party: "P1",
                        listed: Some("2020-03-01"),
                        first: "2020-03-01",
                        last: "2021-05-01",
                        delisted: Some("2021-06-01"),
                        ..Default::default()
                    },
                    Entry {
                        address: "0xb",
                        party: "P1",
                        listed: Some("2020-03-01"),
                        first: "2020-03-01",
                        last: "2021-05-01",
                        delisted: Some("2021-06-01"),
                        ..Default::default()
                    },
                ])?,
            ),
        ])?;
        let att = build(&lake, SanctionsPolicy::PointInTime, 0)?;
        assert_eq!(
            intervals(&att)?,
            [
                // The sanctions entry (60) beats the label (50) only while it applies.
                "0xa 0001-01-01..2020-03-01 alpha exchange 50",
                "0xa 2020-03-01..2021-06-01 lazarus sanctioned 60",
                "0xa 2021-06-01..9999-12-31 alpha exchange 50",
                // The label (100) beats it throughout: the cuts at its dates are merged away.
                "0xb 0001-01-01..9999-12-31 alpha exchange 100",
                "0xc 0001-01-01..9999-12-31 gamma exchange 90",
            ]
        );
        assert_eq!(actor_on(&att, "0xa", "2020-02-29")?.as_deref(), Some("alpha"));
        assert_eq!(actor_on(&att, "0xa", "2020-03-01")?.as_deref(), Some("lazarus"));
        assert_eq!(actor_on(&att, "0xa", "2021-05-31")?.as_deref(), Some("lazarus"));
        assert_eq!(actor_on(&att, "0xa", "2021-06-01")?.as_deref(), Some("alpha"));
        Ok(())
    }

    #[test]
    fn point_in_time_sanctions_apply_from_listing_until_delisting() -> TestResult {
        let (_dir, lake) = lake_with(vec![
            ("actors", "test", actors(&[("lazarus", None, Some("P1"))])?),
            ("sanctions", "test", sanctions(&listing_history())?),
        ])?;
        let att = build(&lake, SanctionsPolicy::PointInTime, 0)?;
        assert_eq!(
            intervals(&att)?,
            [
                // listed_date (not the earlier party_listed_date) until delisted_date.
                "0xd 0001-01-01..2020-03-01 - unlabelled -",
                "0xd 2020-03-01..2021-06-01 lazarus sanctioned 60",
                "0xd 2021-06-01..9999-12-31 - unlabelled -",
                // No listed_date: the party's entry date.
                "0xe 0001-01-01..2019-05-05 - unlabelled -",
                "0xe 2019-05-05..9999-12-31 lazarus sanctioned 60",
                // Neither: the first snapshot that lists it.
                "0xf 0001-01-01..2020-01-01 - unlabelled -",
                "0xf 2020-01-01..9999-12-31 lazarus sanctioned 60",
            ]
        );
        assert_eq!(actor_on(&att, "0xd", "2020-02-29")?, None);
        assert_eq!(actor_on(&att, "0xd", "2020-03-01")?.as_deref(), Some("lazarus"));
        assert_eq!(actor_on(&att, "0xd", "2021-05-31")?.as_deref(), Some("lazarus"));
        assert_eq!(actor_on(&att, "0xd", "2021-06-01")?, None);
        Ok(())
    }

    #[test]
    fn as_listed_today_counts_every_date_for_addresses_on_the_latest_list() -> TestResult {
        let (_dir, lake) = lake_with(vec![
            ("actors", "test", actors(&[("lazarus", None, Some("P1"))])?),
            ("sanctions", "test", sanctions(&listing_history())?),
        ])?;
        let att = build(&lake, SanctionsPolicy::AsListedToday, 0)?;
        // 0xd, delisted before the latest snapshot, is not attributed at all.
        assert_eq!(
            intervals(&att)?,
            ["0xe 0001-01-01..9999-12-31 lazarus sanctioned 60", "0xf 0001-01-01..9999-12-31 lazarus sanctioned 60"]
        );
        assert_eq!(actor_on(&att, "0xe", "2000-01-01")?.as_deref(), Some("lazarus"));
        Ok(())
    }

    /// Two sanctions sources, each with its address still listed (no delisted_date), but whose
    /// latest snapshots differ (OpenSanctions' `last_seen` is per entity): `build` compares
    /// `last_seen_snapshot` with the latest over all rows of all sources (0xh was dropped); the
    /// rule is now `delisted_date IS NULL`, per source.
    #[test]
    fn as_listed_today_keeps_what_every_source_still_lists() -> TestResult {
        let (_dir, lake) = lake_with(vec![
            ("actors", "test", actors(&[("lazarus", None, Some("P1"))])?),
            (
                "sanctions",
                "ofac",
                sanctions(&[Entry { address: "0xg", party: "P1", first: "2020-01-01", last: "2024-01-01", ..Default::default() }])?,
            ),
            (
                "sanctions",
                "opensanctions",
                sanctions(&[Entry { address: "0xh", party: "P1", first: "2020-01-01", last: "2023-11-20", ..Default::default() }])?,
            ),
        ])?;
        let att = build(&lake, SanctionsPolicy::AsListedToday, 0)?;
        assert_eq!(
            intervals(&att)?,
            ["0xg 0001-01-01..9999-12-31 lazarus sanctioned 60", "0xh 0001-01-01..9999-12-31 lazarus sanctioned 60"]
        );
        Ok(())
    }

    #[test]
    fn ties_go_to_a_label_then_to_the_smaller_actor_id() -> TestResult {
        let (_dir, lake) = lake_with(vec![
            ("actors", "test", actors(&[("alpha", None, Some("P1")), ("kilo", None, Some("P2")), ("mike", None, Some("P3"))])?),
            (
                "labels",
                "test",
                labels(&[
                    ("0x1", Some("zulu"), "exchange", 60),
                    // Equal confidence: the smaller actor id, before the category ("exchange" < "mixer").
                    ("0x2", Some("bravo"), "exchange", 70),
                    ("0x2", Some("alpha"), "mixing_service", 70),
                ])?,
            ),
            (
                "sanctions",
                "test",
                sanctions(&[
                    // A label at 60 beats a sanctions entry (60), though alpha < zulu.
                    Entry { address: "0x1", party: "P1", first: "2020-01-01", last: "2024-01-01", ..Default::default() },
                    // Two entries over the same dates: kilo < mike.
                    Entry { address: "0x3", party: "P3", first: "2020-01-01", last: "2024-01-01", ..Default::default() },
                    Entry { address: "0x3", party: "P2", first: "2020-01-01", last: "2024-01-01", ..Default::default() },
                    // Overlapping entries: mike alone, then kilo from where it starts.
                    Entry {
                        address: "0x4",
                        party: "P3",
                        first: "2020-01-01",
                        last: "2020-11-01",
                        delisted: Some("2020-12-01"),
                        ..Default::default()
                    },
                    Entry {
                        address: "0x4",
                        party: "P2",
                        first: "2020-06-01",
                        last: "2021-05-01",
                        delisted: Some("2021-06-01"),
                        ..Default::default()
                    },
                ])?,
            ),
        ])?;
        let att = build(&lake, SanctionsPolicy::PointInTime, 0)?;
        assert_eq!(
            intervals(&att)?,
            [
                "0x1 0001-01-01..9999-12-31 zulu exchange 60",
                "0x2 0001-01-01..9999-12-31 alpha mixer 70",
                "0x3 0001-01-01..2020-01-01 - unlabelled -",
                "0x3 2020-01-01..9999-12-31 kilo sanctioned 60",
                "0x4 0001-01-01..2020-01-01 - unlabelled -",
                "0x4 2020-01-01..2020-06-01 mike sanctioned 60",
                "0x4 2020-06-01..2021-06-01 kilo sanctioned 60",
                "0x4 2021-06-01..9999-12-31 - unlabelled -",
            ]
        );
        Ok(())
    }

    #[test]
    fn actor_ancestors_hold_every_level_and_stop_at_a_cycle() -> TestResult {
        let (_dir, lake) = lake_with(vec![
            (
                "actors",
                "test",
                actors(&[
                    ("dprk", None, None),
                    ("lazarus", Some("dprk"), None),
                    ("bluenoroff", Some("lazarus"), None),
                    ("solo", None, None),
                    ("cyc-a", Some("cyc-b"), None),
                    ("cyc-b", Some("cyc-a"), None),
                    ("narcissus", Some("narcissus"), None),
                ])?,
            ),
            // An actor only labels name is its own ancestor too.
            ("labels", "test", labels(&[("0x9", Some("stranger"), "user", 50)])?),
        ])?;
        let att = build(&lake, SanctionsPolicy::PointInTime, 0)?;
        let pairs = |v: &[(&str, &str)]| v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>();
        // A cycle terminates with each member an ancestor of the other (each pair once), so
        // either's totals include both: no double counting within one actor, and no error.
        assert_eq!(
            ancestors(&att)?,
            pairs(&[
                ("bluenoroff", "bluenoroff"),
                ("bluenoroff", "dprk"),
                ("bluenoroff", "lazarus"),
                ("cyc-a", "cyc-a"),
                ("cyc-a", "cyc-b"),
                ("cyc-b", "cyc-a"),
                ("cyc-b", "cyc-b"),
                ("dprk", "dprk"),
                ("lazarus", "dprk"),
                ("lazarus", "lazarus"),
                ("narcissus", "narcissus"),
                ("solo", "solo"),
                ("stranger", "stranger"),
            ])
        );
        let known: Vec<&str> = att.known_actors.iter().map(String::as_str).collect();
        assert_eq!(known, ["bluenoroff", "cyc-a", "cyc-b", "dprk", "lazarus", "narcissus", "solo"]);
        Ok(())
    }

    #[test]
    fn candidates_below_min_confidence_are_ignored() -> TestResult {
        let (_dir, lake) = lake_with(vec![
            ("actors", "test", actors(&[("lazarus", None, Some("P1"))])?),
            (
                "labels",
                "test",
                labels(&[
                    ("0x1", Some("a"), "exchange", 30),
                    ("0x2", Some("b"), "exchange", 60),
                    ("0x3", Some("c"), "exchange", 59),
                    ("0x4", Some("e"), "bridge", 61),
                ])?,
            ),
            (
                "sanctions",
                "test",
                sanctions(&[Entry { address: "0x3", party: "P1", first: "2020-01-01", last: "2024-01-01", ..Default::default() }])?,
            ),
        ])?;
        assert_eq!(
            intervals(&build(&lake, SanctionsPolicy::PointInTime, 0)?)?,
            [
                "0x1 0001-01-01..9999-12-31 a exchange 30",
                "0x2 0001-01-01..9999-12-31 b exchange 60",
                "0x3 0001-01-01..2020-01-01 c exchange 59",
                "0x3 2020-01-01..9999-12-31 lazarus sanctioned 60",
                "0x4 0001-01-01..9999-12-31 e bridge 61",
            ]
        );
        // At the threshold a label counts, and so do sanctions entries (60).
        assert_eq!(
            intervals(&build(&lake, SanctionsPolicy::PointInTime, 60)?)?,
            [
                "0x2 0001-01-01..9999-12-31 b exchange 60",
                "0x3 0001-01-01..2020-01-01 - unlabelled -",
                "0x3 2020-01-01..9999-12-31 lazarus sanctioned 60",
                "0x4 0001-01-01..9999-12-31 e bridge 61",
            ]
        );
        assert_eq!(intervals(&build(&lake, SanctionsPolicy::PointInTime, 61)?)?, ["0x4 0001-01-01..9999-12-31 e bridge 61"]);
        Ok(())
    }

    /// A sanctions entry whose party no actor claims gives the address its category (sanctioned)
    /// while listed, but never takes it from an actor: 0x5 stays alpha's (with the label's
    /// confidence), and 0x6 is lazarus's though another of its parties is unclaimed.
    #[test]
    fn an_entry_of_a_party_without_actor_gives_its_category_but_not_the_address() -> TestResult {
        let (_dir, lake) = lake_with(vec![
            ("actors", "test", actors(&[("alpha", None, None), ("lazarus", None, Some("P1"))])?),
            ("labels", "test", labels(&[("0x5", Some("alpha"), "exchange", 50)])?),
            (
                "sanctions",
                "test",
                sanctions(&[
                    Entry { address: "0x5", party: "P-none", first: "2020-01-01", last: "2024-01-01", ..Default::default() },
                    Entry { address: "0x6", party: "P1", first: "2020-01-01", last: "2024-01-01", ..Default::default() },
                    Entry { address: "0x6", party: "P-none", first: "2020-01-01", last: "2024-01-01", ..Default::default() },
                ])?,
            ),
        ])?;
        assert_eq!(
            intervals(&build(&lake, SanctionsPolicy::PointInTime, 0)?)?,
            [
                "0x5 0001-01-01..2020-01-01 alpha exchange 50",
                "0x5 2020-01-01..9999-12-31 alpha sanctioned 50",
                "0x6 0001-01-01..2020-01-01 - unlabelled -",
                "0x6 2020-01-01..9999-12-31 lazarus sanctioned 60",
            ]
        );
        Ok(())
    }

    /// Etherscan writes every label with a NULL actor (and TagPack tags may have none): such a
    /// label gives its category (exchange, mixer …), so its receivers are not `unlabelled` in
    /// actor_destinations; beside an actor's label of lower confidence, the address stays the
    /// actor's and takes the better label's category.
    #[test]
    fn a_label_without_actor_still_gives_its_category() -> TestResult {
        let (_dir, lake) = lake_with(vec![(
            "labels",
            "etherscan",
            labels(&[("0x7", None, "exchange", 50), ("0x8", None, "mixer", 50), ("0x8", Some("alpha"), "user", 40)])?,
        )])?;
        let att = build(&lake, SanctionsPolicy::PointInTime, 0)?;
        assert_eq!(intervals(&att)?, ["0x7 0001-01-01..9999-12-31 - exchange 50", "0x8 0001-01-01..9999-12-31 alpha mixer 40"]);
        Ok(())
    }
}
