//! `ifr refresh`, the command for cron: ingest what changed, and when any input, the config or
//! ifr itself changed since the newest release, compute the report into a new dated release
//! `<releases>/<id>/` (every year, `release.json`, `restatements.csv`), then switch
//! `<releases>/current` to it in one atomic rename. Old releases are never touched. A refresh
//! killed at any point leaves `current` at the old release or the new one; the next refresh
//! finishes the work (a complete release not yet current is made current).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ifr_reports::model::{Change, Changes};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ingest::{IngestSummary, Progress};
use super::report;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::owned::Use;

/// What a refresh did.
#[derive(Debug, Clone, Serialize)]
pub struct RefreshSummary {
    /// The sources fetched from their `url` (before the ingest).
    pub fetched: Vec<crate::fetch::Fetched>,
    pub ingest: IngestSummary,
    /// The release `current` names at the end.
    pub current: String,
    /// True when this refresh made `current` (a new release, or one a killed refresh left).
    pub published: bool,
    pub years: Vec<i32>,
    /// Figures that moved against the previous release.
    pub restated: usize,
}

/// One input source as a release records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseSource {
    pub name: String,
    pub kind: String,
    pub format: String,
    /// The lake's fingerprint of the source's input files, loader and dependencies.
    pub fingerprint: String,
    /// (file name, sha256, bytes)
    pub files: Vec<(String, String, u64)>,
    /// Reference sources: their lake files as kept with the releases (lake-relative name, sha256
    /// of the file kept as `<releases>/.inputs/<sha256>.parquet`), so that a later release can tell
    /// apart the shares of several inputs that changed at once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stored: Vec<(String, String)>,
}

/// `release.json`: what a release was computed from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Release {
    pub id: String,
    pub ifr_version: String,
    pub config_sha256: String,
    /// One hash of everything above and the sources: equal fingerprints, equal releases.
    pub fingerprint: String,
    pub previous: Option<String>,
    pub years: Vec<i32>,
    pub sources: Vec<ReleaseSource>,
}

const CURRENT: &str = "current";
const RELEASE_FILE: &str = "release.json";

/// Run a refresh.
pub fn run(settings: &Settings, progress: &dyn Progress) -> Result<RefreshSummary> {
    let dir = crate::paths::resolve(&settings.refresh.releases)?;
    crate::owned::check(&dir, Use::Releases, Some(&settings.base_dir))?;
    // Locked for the whole refresh; what a killed refresh left (its half-built release, a half-made
    // link) is removed.
    let _lock = crate::lake::take_output_folder(&dir, Use::Releases, &settings.base_dir, &[".partial-", ".current-"])?;
    // New versions of the sources with a `url`: each one more dated snapshot in its folder. A
    // failed fetch stops the refresh before anything is loaded or published.
    let fetched = crate::fetch::fetch_all(settings)?;
    let ingest = super::ingest::run(settings, progress)?;
    progress.ingest_finished(&ingest);

    let lake = Lake::new(&settings.lake_dir);
    let sources = sources_of(&lake)?;
    let config = std::fs::read(&settings.config_path).map_err(|e| Error::io("reading", &settings.config_path, e))?;
    let config_sha256 = hex::encode(Sha256::digest(&config));
    let fingerprint = {
        let mut h = Sha256::new();
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        h.update(config_sha256.as_bytes());
        for s in &sources {
            h.update(format!("\n{}\t{}\t{}", s.name, s.kind, s.fingerprint).as_bytes());
        }
        hex::encode(h.finalize())
    };
    let newest = releases(&dir)?.into_iter().last();
    if let Some(prev) = newest.as_ref().filter(|r| r.fingerprint == fingerprint) {
        // Nothing changed since the newest release; make it current if a killed refresh did not.
        let published = current(&dir).as_deref() != Some(prev.id.as_str());
        if published {
            point_current(&dir, &prev.id)?;
        }
        return Ok(RefreshSummary { fetched, ingest, current: prev.id.clone(), published, years: prev.years.clone(), restated: 0 });
    }

    let id = crate::lake::new_run_id();
    let computed = report::compute(settings, &lake, &[], progress)?;
    let staging = dir.join(format!(".partial-{id}"));
    let causes = newest.as_ref().map(|prev| changed_inputs(prev, &sources, &config_sha256));
    let steps = match &newest {
        Some(prev) => waterfall(settings, &lake, &dir, prev, &sources, &config_sha256, &computed.years, progress)?,
        None => None,
    };
    let mut restatements: Vec<(i32, Change)> = Vec::new();
    let mut sources = sources;
    let result = (|| -> Result<()> {
        let mut changes_of = |year: i32, model: &ifr_reports::model::YearModel, opts: &ifr_reports::model::ReportOptions| {
            let Some(prev) = &newest else { return Ok(None) };
            let old = figures_of(&dir.join(&prev.id).join(year.to_string()))?;
            let new: Vec<Fig> = ifr_reports::assemble::figures(model, opts).into_iter().map(Fig::from).collect();
            let mut rows = diff(&old, &new, causes.as_ref().unwrap_or(&BTreeMap::new()));
            if let Some(steps) = &steps {
                let old: BTreeMap<&str, &Option<String>> = old.iter().map(|f| (f.id.as_str(), &f.value)).collect();
                let new: BTreeMap<&str, &Option<String>> = new.iter().map(|f| (f.id.as_str(), &f.value)).collect();
                for row in &mut rows {
                    row.cause = shares(steps, year, &row.id, &old, &new);
                }
            }
            restatements.extend(rows.iter().cloned().map(|r| (year, r)));
            Ok(Some(Changes { since: prev.id.clone(), rows }))
        };
        report::render(settings, &lake, &computed, &staging, &dir.join(&id), &mut changes_of, progress)?;
        keep_inputs(&dir, &lake, &staging, &mut sources)?;
        let release = Release {
            id: id.clone(),
            ifr_version: env!("CARGO_PKG_VERSION").to_string(),
            config_sha256: config_sha256.clone(),
            fingerprint: fingerprint.clone(),
            previous: newest.as_ref().map(|r| r.id.clone()),
            years: computed.years.clone(),
            sources: sources.clone(),
        };
        let text = serde_json::to_string_pretty(&release).map_err(|e| Error::Internal(e.to_string()))? + "\n";
        write(&staging.join(RELEASE_FILE), text.as_bytes())?;
        write(&staging.join("restatements.csv"), restatements_csv(&restatements).as_bytes())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    crate::failpoint::hit("refresh-publish");
    let target = dir.join(&id);
    std::fs::rename(&staging, &target).map_err(|e| Error::io("publishing", &target, e))?;
    crate::failpoint::hit("refresh-publish");
    point_current(&dir, &id)?;
    crate::failpoint::hit("refresh-publish");
    Ok(RefreshSummary { fetched, ingest, current: id, published: true, years: computed.years, restated: restatements.len() })
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| Error::io("creating", d, e))?;
    }
    std::fs::write(path, bytes).map_err(|e| Error::io("writing", path, e))
}

/// The lake's sources, as a release records them.
fn sources_of(lake: &Lake) -> Result<Vec<ReleaseSource>> {
    let state = lake.state()?;
    Ok(state
        .sources
        .iter()
        .map(|(name, s)| ReleaseSource {
            name: name.clone(),
            kind: s.kind.clone(),
            format: s.format.clone(),
            fingerprint: s.fingerprint.clone(),
            files: s
                .files
                .iter()
                .map(|f| {
                    let file = Path::new(&f.path).file_name().map(|x| x.to_string_lossy().into_owned()).unwrap_or_default();
                    (file, f.sha256.clone(), f.bytes)
                })
                .collect(),
            stored: Vec::new(),
        })
        .collect())
}

/// The complete releases in `dir` (those with a release.json), oldest first.
pub fn releases(dir: &Path) -> Result<Vec<Release>> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(out) };
    let mut names: Vec<String> = entries.flatten().map(|e| e.file_name().to_string_lossy().to_string()).collect();
    names.sort();
    for name in names.into_iter().filter(|n| !n.starts_with('.') && n != CURRENT) {
        let p = dir.join(&name).join(RELEASE_FILE);
        let Ok(text) = std::fs::read_to_string(&p) else { continue };
        let r: Release = serde_json::from_str(&text).map_err(|e| Error::input_caused(&p, "not a release.json ifr wrote", e))?;
        out.push(r);
    }
    Ok(out)
}

/// The release `current` names, if any.
pub fn current(dir: &Path) -> Option<String> {
    std::fs::read_link(dir.join(CURRENT)).ok().map(|t| t.to_string_lossy().into_owned())
}

/// Make `<dir>/current` a link to the release `id`, in one rename over the old link.
fn point_current(dir: &Path, id: &str) -> Result<()> {
    let tmp = dir.join(format!(".current-{}", crate::lake::new_run_id()));
    #[cfg(unix)]
    std::os::unix::fs::symlink(id, &tmp).map_err(|e| Error::io("linking", &tmp, e))?;
    #[cfg(not(unix))]
    return Err(Error::Config("ifr refresh needs a system with symbolic links".into()));
    let link = dir.join(CURRENT);
    std::fs::rename(&tmp, &link).map_err(|e| Error::io("publishing", &link, e))
}

/// Where releases keep the lake files of their reference sources, by content.
const KEPT: &str = ".inputs";

/// The reference kinds whose lake files a release keeps (small tables), in the order their
/// shares are taken, with the cause each names. Chain data is not kept (it is most of the lake),
/// and the asset list is not separable from it (it shapes how chain data is loaded).
const SEPARABLE: [(&str, &str); 7] = [
    ("labels", "labels added or removed"),
    ("sanctions", "sanctions listed or delisted"),
    ("incidents", "incidents added or changed"),
    ("recoveries", "recoveries recorded or changed"),
    ("links", "cross-chain links added or changed"),
    ("prices", "price corrections"),
    ("actors", "actors changed"),
];

/// Keep the lake files of the release's reference sources in `<releases>/.inputs/<sha256>.parquet`
/// (linked, or copied where a link cannot be made; staged first, then renamed into place, so a
/// kept file is always whole) and record them in `sources`.
fn keep_inputs(dir: &Path, lake: &Lake, staging: &Path, sources: &mut [ReleaseSource]) -> Result<()> {
    let state = lake.state()?;
    let store = dir.join(KEPT);
    for s in sources.iter_mut().filter(|s| SEPARABLE.iter().any(|(k, _)| *k == s.kind)) {
        let Some(st) = state.sources.get(&s.name) else { continue };
        for o in &st.outputs {
            let file = lake.root.join(o);
            let sha = crate::lake::hash_file(&file)?.sha256;
            let target = store.join(format!("{sha}.parquet"));
            if !target.is_file() {
                std::fs::create_dir_all(&store).map_err(|e| Error::io("creating", &store, e))?;
                let tmp = staging.join(format!("input-{sha}.parquet"));
                if std::fs::hard_link(&file, &tmp).is_err() {
                    std::fs::copy(&file, &tmp).map_err(|e| Error::io("copying", &file, e))?;
                }
                std::fs::rename(&tmp, &target).map_err(|e| Error::io("keeping", &target, e))?;
            }
            s.stored.push((o.clone(), sha));
        }
    }
    Ok(())
}

/// One step from the previous release's inputs towards this one's: what it switched, and every
/// year's figures after it (None for the last step: the new release's own figures).
struct Step {
    cause: String,
    figures: Option<BTreeMap<i32, BTreeMap<String, Option<String>>>>,
}

/// When several inputs changed since `prev`, the figures after each step of switching them from
/// the previous release's to this one's, one at a time: first the chain data, the asset list and
/// ifr or its config together (they cannot be separated: the previous chain data is not kept),
/// then each reference kind in the order of [`SEPARABLE`]. A figure's change over one step is
/// that input's share of its restatement; taken in this fixed order, the shares add up to the
/// whole change. None when fewer than two steps change anything, or when the previous release
/// did not keep the inputs needed.
#[allow(clippy::too_many_arguments)]
fn waterfall(
    settings: &Settings,
    lake: &Lake,
    dir: &Path,
    prev: &Release,
    now: &[ReleaseSource],
    config_sha256: &str,
    years: &[i32],
    progress: &dyn Progress,
) -> Result<Option<Vec<Step>>> {
    let of_kind = |list: &[ReleaseSource], kind: &str| -> BTreeSet<(String, String)> {
        list.iter().filter(|s| s.kind == kind).map(|s| (s.name.clone(), s.fingerprint.clone())).collect()
    };
    let changed = |kind: &str| of_kind(&prev.sources, kind) != of_kind(now, kind);
    let mut base: Vec<&str> = Vec::new();
    if changed("chain") {
        base.push("new chain data");
    }
    if changed("assets") {
        base.push("asset list changed");
    }
    if prev.config_sha256 != config_sha256 || prev.ifr_version != env!("CARGO_PKG_VERSION") {
        base.push("a code or config change");
    }
    let kinds: Vec<(&str, &str)> = SEPARABLE.iter().copied().filter(|(k, _)| changed(k)).collect();
    if kinds.len() + usize::from(!base.is_empty()) < 2 {
        return Ok(None);
    }
    // The previous release's sources of the changed kinds, as lake state entries over kept files.
    let store = dir.join(KEPT);
    let mut old: BTreeMap<&str, Vec<(String, crate::lake::SourceState)>> = BTreeMap::new();
    let mut elsewhere = BTreeMap::new();
    for s in prev.sources.iter().filter(|s| kinds.iter().any(|(k, _)| *k == s.kind)) {
        if s.stored.is_empty() {
            return Ok(None);
        }
        for (output, sha) in &s.stored {
            let file = store.join(format!("{sha}.parquet"));
            if !file.is_file() {
                return Ok(None);
            }
            elsewhere.insert(output.clone(), file);
        }
        let state = crate::lake::SourceState {
            kind: s.kind.clone(),
            format: s.format.clone(),
            fingerprint: s.fingerprint.clone(),
            outputs: s.stored.iter().map(|(o, _)| o.clone()).collect(),
            counts: Default::default(),
            files: Vec::new(),
            setup: None,
            held_back: Vec::new(),
        };
        old.entry(s.kind.as_str()).or_default().push((s.name.clone(), state));
    }
    let live = lake.state()?;
    // The inputs with the first `switched` changed kinds as they are now, the others as before:
    // the state, and where the previous release's files of those others are kept (only theirs:
    // a switched kind's live file may have the same lake name as its kept one).
    let mixed = |switched: usize| -> Option<(crate::lake::State, BTreeMap<String, std::path::PathBuf>)> {
        let mut st = live.clone();
        let mut files = BTreeMap::new();
        for (kind, _) in &kinds[switched..] {
            st.sources.retain(|_, s| s.kind != *kind);
        }
        for (kind, _) in &kinds[switched..] {
            for (name, s) in old.get(kind).into_iter().flatten() {
                for o in &s.outputs {
                    files.insert(o.clone(), elsewhere.get(o)?.clone());
                }
                if st.sources.insert(name.clone(), s.clone()).is_some() {
                    return None;
                }
            }
        }
        Some((st, files))
    };
    let mut steps = Vec::new();
    let points: Vec<(String, usize)> = (!base.is_empty())
        .then(|| {
            let cause = if base.len() == 1 { base[0].to_string() } else { format!("{} (not separable)", base.join(" and ")) };
            (cause, 0)
        })
        .into_iter()
        .chain(kinds.iter().enumerate().map(|(i, (_, cause))| (cause.to_string(), i + 1)))
        .collect();
    let last = points.len() - 1;
    for (n, (cause, switched)) in points.into_iter().enumerate() {
        if n == last {
            steps.push(Step { cause, figures: None });
            break;
        }
        progress.step("refresh", &format!("separating the causes of restatements: {}", steps.len() + 1));
        let Some((state, files)) = mixed(switched) else { return Ok(None) };
        let at = Lake::as_of(&lake.root, state, files);
        let computed = report::compute(settings, &at, years, &super::ingest::NoProgress)?;
        let figures =
            report::figures(settings, &computed)?.into_iter().map(|(y, f)| (y, f.into_iter().map(|f| (f.id, f.value)).collect())).collect();
        steps.push(Step { cause, figures: Some(figures) });
    }
    Ok(Some(steps))
}

/// A figure's restatement told by the steps of the waterfall that moved it: one cause, or each
/// cause with its share (`labels added or removed +100.00 (62.50%); price corrections +60.00
/// (37.50%)`, the percentages of the whole change).
fn shares(steps: &[Step], year: i32, id: &str, old: &BTreeMap<&str, &Option<String>>, new: &BTreeMap<&str, &Option<String>>) -> String {
    // The figure's value before and after each step (None: not computed there).
    let mut values: Vec<Option<Option<String>>> = vec![old.get(id).map(|v| (*v).clone())];
    for s in steps {
        values.push(match &s.figures {
            Some(f) => f.get(&year).and_then(|m| m.get(id)).cloned(),
            None => new.get(id).map(|v| (*v).clone()),
        });
    }
    let num = |v: &Option<Option<String>>| v.clone().flatten().as_deref().and_then(Decimal::parse);
    let total = match (num(&values[0]), num(&values[steps.len()])) {
        (Some(a), Some(b)) => Some(b.minus(&a)),
        _ => None,
    };
    let mut parts = Vec::new();
    for (k, s) in steps.iter().enumerate() {
        if values[k] == values[k + 1] {
            continue;
        }
        let amount = match (num(&values[k]), num(&values[k + 1])) {
            (Some(a), Some(b)) => Some(b.minus(&a)),
            _ => None,
        };
        let note = match (&values[k], &values[k + 1]) {
            (None | Some(None), _) => "the figure appears",
            (_, None | Some(None)) => "the figure is gone",
            _ => "not a number",
        };
        parts.push((s.cause.as_str(), amount.ok_or(note)));
    }
    if parts.len() <= 1 {
        return parts.first().map(|(c, _)| c.to_string()).unwrap_or_else(|| "several inputs changed; their effects cancel out".into());
    }
    let shown: Vec<String> = parts
        .iter()
        .map(|(cause, amount)| match (amount, total) {
            (Ok(a), Some(t)) if t.value() != 0.0 => {
                let sign = if a.units >= 0 { "+" } else { "" };
                format!("{cause} {sign}{a} ({:.2}%)", a.value() / t.value() * 100.0)
            }
            (Ok(a), _) => format!("{cause} {}{a}", if a.units >= 0 { "+" } else { "" }),
            (Err(note), _) => format!("{cause} ({note})"),
        })
        .collect();
    shown.join("; ")
}

/// Which inputs differ from the previous release: lake table name -> cause in words.
fn changed_inputs(prev: &Release, now: &[ReleaseSource], config_sha256: &str) -> BTreeMap<&'static str, &'static str> {
    let kinds = |list: &[ReleaseSource]| -> BTreeMap<String, BTreeSet<(String, String)>> {
        let mut m: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
        for s in list {
            m.entry(s.kind.clone()).or_default().insert((s.name.clone(), s.fingerprint.clone()));
        }
        m
    };
    let (before, after) = (kinds(&prev.sources), kinds(now));
    let mut out = BTreeMap::new();
    for (kind, table, cause) in [
        ("chain", "transfers", "new chain data"),
        ("labels", "labels", "labels added or removed"),
        ("sanctions", "sanctions", "sanctions listed or delisted"),
        ("incidents", "incidents", "incidents added or changed"),
        ("recoveries", "recoveries", "recoveries recorded or changed"),
        ("links", "crosschain_links", "cross-chain links added or changed"),
        ("prices", "prices", "price corrections"),
        ("assets", "assets", "asset list changed"),
        ("actors", "actors", "actors changed"),
    ] {
        if before.get(kind) != after.get(kind) {
            out.insert(table, cause);
        }
    }
    if prev.config_sha256 != config_sha256 || prev.ifr_version != env!("CARGO_PKG_VERSION") {
        out.insert("*", "a code or config change");
    }
    out
}

/// A figure of figures.json as the diff needs it: id, value and the lake tables it reads.
#[derive(Debug, Clone, Deserialize)]
struct Fig {
    id: String,
    value: Option<String>,
    #[serde(default)]
    inputs: Vec<String>,
}

impl From<ifr_reports::assemble::Figure> for Fig {
    fn from(f: ifr_reports::assemble::Figure) -> Fig {
        Fig { id: f.id, value: f.value, inputs: f.inputs }
    }
}

/// A year's figures in a release (none when that year was not in it).
fn figures_of(year_dir: &Path) -> Result<Vec<Fig>> {
    let p = year_dir.join("figures.json");
    let Ok(text) = std::fs::read_to_string(&p) else { return Ok(Vec::new()) };
    serde_json::from_str(&text).map_err(|e| Error::input_caused(&p, "not a figures.json ifr wrote", e))
}

/// The figures whose value differs, largest absolute change first (then by id), with the causes
/// among the figure's inputs.
fn diff(old: &[Fig], new: &[Fig], causes: &BTreeMap<&'static str, &'static str>) -> Vec<Change> {
    let old: BTreeMap<&str, &Option<String>> = old.iter().map(|f| (f.id.as_str(), &f.value)).collect();
    let new_ids: BTreeSet<&str> = new.iter().map(|f| f.id.as_str()).collect();
    let cause_of = |inputs: &[String]| -> String {
        let mut c: Vec<&str> = causes.iter().filter(|(t, _)| **t == "*" || inputs.iter().any(|i| i == *t)).map(|(_, c)| *c).collect();
        c.sort();
        c.dedup();
        match c.len() {
            0 => "none of its inputs changed (a change in how other figures are computed)".to_string(),
            1 => c[0].to_string(),
            _ => format!("{} (several inputs changed; their shares are not separated)", c.join("; ")),
        }
    };
    let mut rows: Vec<(Option<f64>, Change)> = Vec::new();
    for f in new {
        let before = old.get(f.id.as_str()).map(|v| (*v).clone());
        if before.as_ref() == Some(&f.value) {
            continue;
        }
        let before = before.flatten();
        let (delta, pct, size) = match (before.as_deref().and_then(Decimal::parse), f.value.as_deref().and_then(Decimal::parse)) {
            (Some(a), Some(b)) => {
                let d = b.minus(&a);
                let pct = (a.value() != 0.0).then(|| format!("{:.2}", d.value() / a.value().abs() * 100.0));
                (Some(d.to_string()), pct, Some(d.value().abs()))
            }
            _ => (None, None, None),
        };
        rows.push((
            size,
            Change { id: f.id.clone(), old: before, new: f.value.clone(), delta, delta_pct: pct, cause: cause_of(&f.inputs) },
        ));
    }
    for (id, v) in old.iter().filter(|(id, _)| !new_ids.contains(*id)) {
        let cause = if causes.is_empty() { "the figure is no longer computed".to_string() } else { cause_of(&[]) };
        rows.push((None, Change { id: id.to_string(), old: (*v).clone(), new: None, delta: None, delta_pct: None, cause }));
    }
    // Unquantifiable changes (a figure added or gone) after the others.
    rows.sort_by(|a, b| b.0.unwrap_or(-1.0).total_cmp(&a.0.unwrap_or(-1.0)).then(a.1.id.cmp(&b.1.id)));
    rows.into_iter().map(|(_, c)| c).collect()
}

/// A decimal number as figures.json writes them (`-123.45`, `0.9829`): exact.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Decimal {
    units: i128,
    scale: u32,
}

impl Decimal {
    fn parse(s: &str) -> Option<Decimal> {
        let (neg, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 12 {
            return None;
        }
        let units: i128 = format!("{int}{frac}").parse().ok()?;
        Some(Decimal { units: if neg { -units } else { units }, scale: frac.len() as u32 })
    }

    fn at(&self, scale: u32) -> i128 {
        self.units * 10i128.pow(scale - self.scale)
    }

    fn minus(&self, other: &Decimal) -> Decimal {
        let scale = self.scale.max(other.scale);
        Decimal { units: self.at(scale) - other.at(scale), scale }
    }

    fn value(&self) -> f64 {
        self.units as f64 / 10f64.powi(self.scale as i32)
    }
}

impl std::fmt::Display for Decimal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = 10i128.pow(self.scale);
        let (sign, a) = if self.units < 0 { ("-", self.units.unsigned_abs()) } else { ("", self.units.unsigned_abs()) };
        if self.scale == 0 {
            write!(f, "{sign}{a}")
        } else {
            write!(f, "{sign}{}.{:0w$}", a / p as u128, a % p as u128, w = self.scale as usize)
        }
    }
}

/// Restatement rows as CSV (restatements.csv, `ifr diff`).
pub fn restatements_csv(rows: &[(i32, Change)]) -> String {
    let mut t = ifr_reports::tables::Table::new(
        &["year", "figure", "old", "new", "change", "change_pct", "cause"],
        &[true, false, true, true, true, true, false],
    );
    for (year, c) in rows {
        let cell = |v: &Option<String>| v.clone().unwrap_or_default();
        t.push(vec![year.to_string(), c.id.clone(), cell(&c.old), cell(&c.new), cell(&c.delta), cell(&c.delta_pct), c.cause.clone()]);
    }
    t.to_csv()
}

/// `ifr diff A B`: the figures that differ between two releases of `dir`, per year.
pub fn diff_releases(dir: &Path, a: &str, b: &str) -> Result<Vec<(i32, Change)>> {
    let all = releases(dir)?;
    let find = |id: &str| -> Result<Release> {
        let id = if id == CURRENT { current(dir).unwrap_or_default() } else { id.to_string() };
        all.iter().find(|r| r.id == id).cloned().ok_or_else(|| {
            Error::Config(format!(
                "no release `{id}` in `{}` (releases: {})",
                dir.display(),
                all.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })
    };
    let (ra, rb) = (find(a)?, find(b)?);
    let causes = changed_inputs(&ra, &rb.sources, &rb.config_sha256);
    // B's own restatements against A, when B was made from A: their causes are the separated ones.
    let recorded = if rb.previous.as_deref() == Some(ra.id.as_str()) { recorded_causes(&dir.join(&rb.id))? } else { BTreeMap::new() };
    let mut out = Vec::new();
    for year in ra.years.iter().chain(&rb.years).copied().collect::<BTreeSet<i32>>() {
        let old = figures_of(&dir.join(&ra.id).join(year.to_string()))?;
        let new = figures_of(&dir.join(&rb.id).join(year.to_string()))?;
        out.extend(diff(&old, &new, &causes).into_iter().map(|mut c| {
            if let Some(cause) = recorded.get(&(year, c.id.clone())) {
                c.cause = cause.clone();
            }
            (year, c)
        }));
    }
    Ok(out)
}

/// The causes a release's restatements.csv gives, by (year, figure).
fn recorded_causes(release: &Path) -> Result<BTreeMap<(i32, String), String>> {
    let p = release.join("restatements.csv");
    let mut out = BTreeMap::new();
    let Ok(mut r) = csv::Reader::from_path(&p) else { return Ok(out) };
    for (i, row) in r.records().enumerate() {
        let row = row.map_err(|e| Error::input_caused(&p, format!("line {}: not readable as CSV", i + 2), e))?;
        let (Some(year), Some(id), Some(cause)) = (row.get(0).and_then(|y| y.parse().ok()), row.get(1), row.get(6)) else {
            return Err(Error::input(&p, format!("line {}: expected year,figure,old,new,change,change_pct,cause", i + 2)));
        };
        out.insert((year, id.to_string()), cause.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_subtract_exactly() {
        let d = |s: &str| Decimal::parse(s).unwrap();
        assert_eq!(d("724000000.00").minus(&d("624000000.10")).to_string(), "99999999.90");
        assert_eq!(d("0.9829").minus(&d("0.98")).to_string(), "0.0029");
        assert_eq!(d("1.5").minus(&d("2.25")).to_string(), "-0.75");
        assert_eq!(d("-0.05").to_string(), "-0.05");
        assert!(Decimal::parse("").is_none() && Decimal::parse("1e5").is_none() && Decimal::parse("NaN").is_none());
    }

    #[test]
    fn changes_name_the_changed_inputs_among_the_figures_own() {
        let fig = |id: &str, v: Option<&str>, inputs: &[&str]| Fig {
            id: id.into(),
            value: v.map(str::to_string),
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
        };
        let old = vec![fig("a", Some("100.00"), &[]), fig("b", Some("5.00"), &[]), fig("gone", None, &[])];
        let new = vec![
            fig("a", Some("150.00"), &["prices", "transfers"]),
            fig("b", Some("5.00"), &["prices"]),
            fig("c", Some("1.00"), &["incidents"]),
        ];
        let causes = BTreeMap::from([("prices", "price corrections")]);
        let rows = diff(&old, &new, &causes);
        let got: Vec<(&str, Option<&str>, Option<&str>, &str)> =
            rows.iter().map(|c| (c.id.as_str(), c.delta.as_deref(), c.delta_pct.as_deref(), c.cause.as_str())).collect();
        assert_eq!(
            got,
            [
                ("a", Some("50.00"), Some("50.00"), "price corrections"),
                ("c", None, None, "none of its inputs changed (a change in how other figures are computed)"),
                ("gone", None, None, "none of its inputs changed (a change in how other figures are computed)"),
            ]
        );
    }
}
