//! The lake in one place: table layout, listing, scanning, ingest state and atomic publishing.
//!
//! Layout (hive-style partition folders, which polars, DataFusion / Ballista and DuckDB all read and
//! prune; every partition column is also stored in the files, so a reader without hive options
//! gets the same rows):
//! - chain tables: `<lake>/<table>/chain=<chain>/year=<year>/month=<month>/<source>.parquet`, the
//!   month unpadded (`month=3`: DataFusion builds that folder name from a filter `month = 3`)
//! - other tables: `<lake>/<table>/<source>.parquet`
//! - `<lake>/_ingest/state.json` (what each source last loaded) and `_ingest/runs/<run>.json`
//! - `<lake>/.staging/<run>/` while a run is in progress; renamed into place at the end.
//!
//! Lakes written before this layout (`<table>/<chain>/<year>/<mm>/`) are moved to it by the next
//! writing run, in one commit of `state.json` (see [`Lake::lock_for_writing`]).
//!
//! `state.json` is the lake's pointer: it lists every live file, and readers list a table from it,
//! never from the folders, so a stray file is never read. A run never overwrites a live file: a
//! file whose content changes is written beside it under a new name (`<source>.<run>.parquet`),
//! `state.json` is replaced in one rename (the commit point), and only then are the files it no
//! longer lists removed — when no reader holds the lake (`_ingest/readers.lock`), else at the next
//! run's start. A run killed at any point leaves the lake as it was before or after it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::counts::Counts;
use crate::error::{Error, Result};
use crate::schema;

pub struct Lake {
    pub root: PathBuf,
    /// The state this reader follows, read once: every table is listed from the same snapshot.
    snapshot: OnceLock<State>,
    /// A shared lock on `_ingest/readers.lock` while this reader lives: a writer removes
    /// superseded files only when no reader holds it.
    reader: OnceLock<Option<std::fs::File>>,
    /// Outputs read from elsewhere than the lake: lake-relative name -> file (see [`Lake::as_of`]).
    elsewhere: BTreeMap<String, PathBuf>,
}

/// An input file as it was when loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
    /// Modification time (ns since the epoch) when hashed: an unchanged size and mtime reuse the hash.
    #[serde(default)]
    pub modified_ns: Option<u128>,
}

/// What one source last put in the lake.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceState {
    pub kind: String,
    pub format: String,
    pub fingerprint: String,
    /// Files in the lake written by this source, relative to the lake root.
    pub outputs: Vec<String>,
    pub counts: Counts,
    pub files: Vec<FileInfo>,
    /// The fingerprint of everything but the files (loader, schemas, options, dependencies): while
    /// it stays the same, a chain source's new chunks can be loaded on their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<String>,
    /// Chain sources: chunks not loaded yet because they end within the reorg buffer of the newest
    /// block (paths as resolved).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_back: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub sources: BTreeMap<String, SourceState>,
}

impl Lake {
    pub fn new(root: impl Into<PathBuf>) -> Lake {
        Lake { root: root.into(), snapshot: OnceLock::new(), reader: OnceLock::new(), elsewhere: BTreeMap::new() }
    }

    /// A reader of a lake as a given state describes it, some of whose outputs are files kept
    /// elsewhere (lake-relative name -> file): the inputs an earlier release was computed from.
    /// The caller keeps a reader of the live lake open meanwhile (its files then stay).
    pub fn as_of(root: impl Into<PathBuf>, state: State, elsewhere: BTreeMap<String, PathBuf>) -> Lake {
        let snapshot = OnceLock::new();
        let _ = snapshot.set(state);
        let reader = OnceLock::new();
        let _ = reader.set(None);
        Lake { root: root.into(), snapshot, reader, elsewhere }
    }

    fn readers_lock_path(&self) -> PathBuf {
        self.root.join("_ingest").join("readers.lock")
    }

    /// The state this reader follows (read on first use, then kept: one consistent snapshot).
    pub fn state(&self) -> Result<&State> {
        if let Some(s) = self.snapshot.get() {
            return Ok(s);
        }
        // Take the readers' lock first, so that the files of the snapshot stay until we are done.
        self.reader.get_or_init(|| {
            let f = open_lock_file(&self.readers_lock_path()).ok()?;
            // A writer holds it exclusively only for the moment it removes files: retry briefly.
            for _ in 0..200 {
                if f.try_lock_shared().is_ok() {
                    return Some(f);
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            None
        });
        let state = self.load_state()?;
        Ok(self.snapshot.get_or_init(|| state))
    }

    pub fn state_path(&self) -> PathBuf {
        self.root.join("_ingest").join("state.json")
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.root.join("_ingest").join("runs")
    }

    pub fn staging_root(&self) -> PathBuf {
        self.root.join(".staging")
    }

    /// The state as it is on disk now (the writer's view; readers use [`Lake::state`]).
    pub fn load_state(&self) -> Result<State> {
        let p = self.state_path();
        match std::fs::read_to_string(&p) {
            Ok(s) => serde_json::from_str(&s)
                .map_err(|e| Error::Config(format!("lake state `{}` is corrupt ({e}); delete the lake folder to rebuild it", p.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(Error::io("reading", p, e)),
        }
    }

    /// Every live Parquet file of a table, as `state.json` lists them, sorted by logical name.
    pub fn table_files(&self, table: &str) -> Result<Vec<PathBuf>> {
        Ok(self.table_files_named(table)?.into_iter().map(|(_, p)| p).collect())
    }

    /// [`Lake::table_files`] with each file's logical name (`<table>/<chain>/<year>/<month>/<source>.parquet`).
    pub fn table_files_named(&self, table: &str) -> Result<Vec<(String, PathBuf)>> {
        let mut out: Vec<(String, PathBuf)> = Vec::new();
        for s in self.state()?.sources.values() {
            for o in &s.outputs {
                if Path::new(o).components().next().is_some_and(|c| c.as_os_str() == table) {
                    let file = self.elsewhere.get(o).cloned().unwrap_or_else(|| self.root.join(o));
                    out.push((logical_name(o), file));
                }
            }
        }
        // In chain, year and month order (numerically: `month=10` after `month=9`), then by name.
        out.sort_by_cached_key(|(name, _)| (partition(name).map(|p| (p.chain, p.year, p.month)), name.clone()));
        Ok(out)
    }

    /// A lazy scan over all of a table's files (an empty frame with the documented schema if none).
    pub fn scan(&self, table: &str) -> Result<LazyFrame> {
        crate::table::scan_files(&self.table_files(table)?, table)
    }

    /// Become the lake's one writer: claim the folder (created with ifr's marker, or already ifr's),
    /// take `_ingest/lock` (released by the operating system however the process ends), then clear
    /// what dead runs left behind: their staging folders and lake files no state lists. Returns
    /// the lock and the lake's state (which no other run can change while the lock is held).
    pub fn lock_for_writing(&self, config_dir: Option<&Path>, command: &str) -> Result<(WriteLock, State)> {
        crate::owned::claim(&self.root, crate::owned::Use::Lake, config_dir)?;
        let lock = WriteLock::acquire(&self.root.join("_ingest").join("lock"), &format!("the lake `{}`", self.root.display()), command)?;
        let _ = std::fs::remove_dir_all(self.staging_root());
        let mut state = self.load_state()?;
        self.migrate_layout(&mut state)?;
        self.collect_garbage(&state, &BTreeSet::new());
        Ok((lock, state))
    }

    /// Move a lake written before the hive layout to it: every chain-table file is linked (or
    /// copied) under its new name, `state.json` is replaced in one rename (the commit point), and
    /// the old names are then garbage ([`Lake::collect_garbage`] removes them when no reader holds
    /// the lake). Killed before the commit, the lake is as it was (the new names are strays the
    /// next run removes); after it, as migrated.
    fn migrate_layout(&self, state: &mut State) -> Result<()> {
        let moves: Vec<(String, String)> =
            state.sources.values().flat_map(|s| s.outputs.iter()).filter_map(|o| Some((o.clone(), hive_name(o)?))).collect();
        if moves.is_empty() {
            return Ok(());
        }
        for (old, new) in &moves {
            let (from, to) = (self.root.join(old), self.root.join(new));
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io("creating folder", dir, e))?;
            }
            // A stray of a killed migration (no state lists the new name yet).
            let _ = std::fs::remove_file(&to);
            if std::fs::hard_link(&from, &to).is_err() {
                std::fs::copy(&from, &to).map_err(|e| Error::io("copying into the hive layout", &from, e))?;
            }
        }
        let renamed: BTreeMap<&String, &String> = moves.iter().map(|(o, n)| (o, n)).collect();
        for s in state.sources.values_mut() {
            for o in &mut s.outputs {
                if let Some(n) = renamed.get(o) {
                    *o = (*n).clone();
                }
            }
        }
        let json = serde_json::to_vec_pretty(&*state).map_err(|e| Error::Internal(e.to_string()))?;
        crate::failpoint::hit("lake-publish");
        atomic_write(&self.state_path(), &json)
    }

    /// Remove lake files the state does not list: `candidates` (files just superseded), and every
    /// file a killed run left in the table folders. Only when no reader holds the lake; otherwise
    /// they wait for the next run (readers never see a listed file disappear).
    pub fn collect_garbage(&self, state: &State, candidates: &BTreeSet<String>) {
        let Ok(f) = open_lock_file(&self.readers_lock_path()) else { return };
        if f.try_lock().is_err() {
            return;
        }
        let live: BTreeSet<&String> = state.sources.values().flat_map(|s| s.outputs.iter()).collect();
        for c in candidates.iter().filter(|c| !live.contains(c)) {
            crate::failpoint::hit("lake-publish");
            remove_with_empty_parents(&self.root, &self.root.join(c));
        }
        for t in schema::all() {
            let found = crate::paths::files_below(&self.root.join(&t.table)).unwrap_or_default();
            for p in found {
                let rel = p.strip_prefix(&self.root).map(|r| r.display().to_string()).unwrap_or_default();
                if !live.contains(&rel) && is_ours(&p) {
                    remove_with_empty_parents(&self.root, &p);
                }
            }
        }
    }

    /// Row count of a table, from Parquet metadata.
    pub fn row_count(&self, table: &str) -> Result<u64> {
        let mut n = 0u64;
        for f in self.table_files(table)? {
            let file = std::fs::File::open(&f).map_err(|e| Error::io("opening", &f, e))?;
            let mut r = ParquetReader::new(file);
            n += r.num_rows().map_err(|e| Error::polars(format!("reading `{}`", f.display()), e))? as u64;
        }
        Ok(n)
    }
}

pub use crate::paths::{atomic_write, partition_dir};

/// A file name ifr writes in a table folder: `<source>[~<first block>][.<run>].parquet` or a
/// `.….tmp` scratch file.
fn is_ours(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with('.') && name.ends_with(".tmp") {
        return true;
    }
    let Some(stem) = name.strip_suffix(".parquet") else { return false };
    let mut parts = stem.splitn(2, '.');
    let source = parts.next().unwrap_or("");
    // A partition's later part: `<source>~<first block>` (see sources::partition::part_name).
    let source = match source.split_once('~') {
        Some((s, block)) if !block.is_empty() && block.bytes().all(|b| b.is_ascii_digit()) => s,
        _ => source,
    };
    crate::paths::is_safe_name(source) && parts.next().is_none_or(|run| run.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// A lock file, opened for locking (created if missing, never truncated: it names its holder).
fn open_lock_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)
}

/// The one writer of a lake (or report folder): an OS file lock, released however the process ends.
#[derive(Debug)]
pub struct WriteLock {
    _file: std::fs::File,
}

impl WriteLock {
    /// Take the lock at `path` or say who holds it.
    pub fn acquire(path: &Path, what: &str, command: &str) -> Result<WriteLock> {
        use std::io::{Read, Seek, Write};
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("creating folder", dir, e))?;
        }
        let mut f = open_lock_file(path).map_err(|e| Error::io("opening the lock", path, e))?;
        match f.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                // The holder writes who it is right after taking the lock: give it a moment.
                let mut holder = String::new();
                for _ in 0..100 {
                    holder.clear();
                    let _ = f.rewind().and_then(|_| f.read_to_string(&mut holder));
                    if !holder.trim().is_empty() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                let holder = holder.trim();
                return Err(Error::Busy(format!(
                    "{what} is being written by another ifr run ({}); wait for it to finish, then run again",
                    if holder.is_empty() { "starting" } else { holder }
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("locking", path, e)),
        }
        let info = format!("pid {}, `{command}`, since {}", std::process::id(), chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC"));
        let _ = f.set_len(0).and_then(|_| f.rewind()).and_then(|_| f.write_all(info.as_bytes()));
        Ok(WriteLock { _file: f })
    }
}

/// Put the folder `staged` at `target` in one step: exchanged atomically with the folder already
/// there (`renameat2(RENAME_EXCHANGE)`; the old one ends up at `staged` and is removed), or renamed
/// when there is none. Where the file system cannot exchange, the old folder is moved aside first.
pub fn swap_into_place(staged: &Path, target: &Path) -> Result<()> {
    if !target.exists() {
        return std::fs::rename(staged, target).map_err(|e| Error::io("publishing", target, e));
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        if renameat_with(CWD, staged, CWD, target, RenameFlags::EXCHANGE).is_ok() {
            let _ = std::fs::remove_dir_all(staged);
            return Ok(());
        }
    }
    let old = staged.with_file_name(format!(".old-{}", new_run_id()));
    std::fs::rename(target, &old).map_err(|e| Error::io("moving the previous version aside", target, e))?;
    std::fs::rename(staged, target).map_err(|e| Error::io("publishing", target, e))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// Take an output folder ifr owns (the report's, the releases'): claim it for `what`, lock it for
/// this process (`<dir>/.ifr-lock`, naming this command; another holder gives `Busy`), and remove
/// what a killed run left in it (entries whose name starts with one of `leftovers`).
pub fn take_output_folder(dir: &Path, what: crate::owned::Use, config_dir: &Path, leftovers: &[&str]) -> Result<WriteLock> {
    crate::owned::claim(dir, what, Some(config_dir))?;
    let lock = WriteLock::acquire(&dir.join(".ifr-lock"), &format!("the {} folder `{}`", what.as_str(), dir.display()), &this_command())?;
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io("listing", dir, e))?.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if leftovers.iter().any(|l| name.starts_with(l)) {
            let p = entry.path();
            let _ = if p.is_dir() && !p.is_symlink() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        }
    }
    Ok(lock)
}

/// This process's command line as a user would type it (`ifr run -c x.toml`), to name a lock's holder.
pub fn this_command() -> String {
    let mut args = std::env::args();
    let program = args
        .next()
        .map(|p| Path::new(&p).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or(p))
        .unwrap_or_else(|| "ifr".into());
    std::iter::once(program).chain(args).collect::<Vec<_>>().join(" ")
}

/// A run id no other run can share: UTC time to the millisecond, then the process id.
pub fn new_run_id() -> String {
    format!("{}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ"), std::process::id())
}

/// A run's scratch folder under `<lake>/_engine/` (an engine run's links, inputs and results; a
/// trace's sub-graph), its lock file held while the run lives, removed on drop. Creating one first
/// removes what killed runs left there ([`clear_stale_runs`]).
pub struct RunDir {
    path: PathBuf,
    _lock: std::fs::File,
}

/// The lock file in a run's folder.
const RUN_LOCK: &str = ".ifr-run.lock";

impl RunDir {
    /// A new run folder under `root`, locked. It is made and locked as `.new-<run>`, which
    /// [`clear_stale_runs`] leaves alone, then renamed: no other run can find it unlocked.
    pub fn create(root: &Path) -> Result<RunDir> {
        clear_stale_runs(root);
        let run = new_run_id();
        let new = root.join(format!(".new-{run}"));
        std::fs::create_dir_all(&new).map_err(|e| Error::io("creating a run's folder (the engine's executors read it) in", &new, e))?;
        let lock_path = new.join(RUN_LOCK);
        let lock = std::fs::File::create(&lock_path).map_err(|e| Error::io("creating", &lock_path, e))?;
        // A new file: only a file system without locks can refuse. Then no run can lock it, so
        // none takes the folder for a dead run's; it goes after a day.
        let _ = lock.try_lock();
        let dir = root.join(run);
        std::fs::rename(&new, &dir).map_err(|e| Error::io("naming the run's folder", &dir, e))?;
        Ok(RunDir { path: dir, _lock: lock })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Remove what killed runs left under `root`: a run folder whose lock is free (no live run holds
/// it), at once, so that its links do not keep superseded lake files on disk; any other folder
/// (a `.new-` folder, one without a lock) once not touched for a day.
fn clear_stale_runs(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    let day_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(24 * 3600);
    for e in entries.flatten() {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = e.path();
        let unlocked = || std::fs::File::open(path.join(RUN_LOCK)).is_ok_and(|f| f.try_lock().is_ok());
        let old = || e.metadata().and_then(|m| m.modified()).is_ok_and(|t| t < day_ago);
        let staging = e.file_name().to_string_lossy().starts_with(".new-");
        if (!staging && unlocked()) || old() {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// The partition of a chain-table file named `<table>/chain=<c>/year=<y>/month=<m>/<file>`
/// (relative to the lake).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Partition {
    pub chain: String,
    pub year: i32,
    pub month: i32,
}

/// The partition a file is in, from the last folders of its name (lake-relative, or a path kept
/// elsewhere: `…/<table>/chain=<c>/year=<y>/month=<m>/<file>`); None for a file outside a chain
/// partition. Names in the layout before hive folders (`<table>/<chain>/<yyyy>/<mm>/<file>`) are
/// read too: a lake not yet moved is read as it is.
pub fn partition(rel: &str) -> Option<Partition> {
    let parts: Vec<&str> = rel.split(['/', std::path::MAIN_SEPARATOR]).collect();
    let [.., _, c, y, m, _] = parts.as_slice() else { return None };
    let (Some(chain), Some(year), Some(month)) = (c.strip_prefix("chain="), y.strip_prefix("year="), m.strip_prefix("month=")) else {
        let p = partition(&hive_name(&parts[parts.len() - 5..].join("/"))?)?;
        return Some(p);
    };
    Some(Partition { chain: chain.to_string(), year: year.parse().ok()?, month: month.parse().ok()? })
}

/// The hive name of a chain-table file named in the layout before it (`<table>/<chain>/<yyyy>/<mm>/<file>`),
/// or None when the name is not in that layout.
pub fn hive_name(rel: &str) -> Option<String> {
    let parts: Vec<&str> = rel.split('/').collect();
    let [table, chain, y, m, file] = parts.as_slice() else { return None };
    if !crate::paths::is_safe_name(chain) || y.len() != 4 || m.len() != 2 {
        return None;
    }
    let year: i32 = y.parse().ok().filter(|_| y.bytes().all(|b| b.is_ascii_digit()))?;
    let month: i32 = m.parse().ok().filter(|n| (1..=12).contains(n) && m.bytes().all(|b| b.is_ascii_digit()))?;
    Some(Path::new(table).join(partition_dir(chain, year, month)).join(file).display().to_string())
}

/// A lake file's logical name: `<dir>/<source>.parquet` for `<dir>/<source>.<run>.parquet`.
pub fn logical_name(rel: &str) -> String {
    let p = Path::new(rel);
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or(rel);
    let Some(stem) = name.strip_suffix(".parquet") else { return rel.to_string() };
    let base = stem.split('.').next().unwrap_or(stem);
    p.with_file_name(format!("{base}.parquet")).display().to_string()
}

/// Where a staged file goes: beside the live file of the same logical name, never over it, and
/// never under a name a file of that logical name had (`was_live`): a lake file's name then always
/// means the same bytes, which the kept scan results and the tracer's saved walk rely on.
fn fresh_name(root: &Path, rel: &Path, run_id: &str, was_live: bool) -> PathBuf {
    if !was_live && !root.join(rel).exists() {
        return rel.to_path_buf();
    }
    let stem = rel.file_stem().and_then(|s| s.to_str()).unwrap_or("file");
    let base = stem.split('.').next().unwrap_or(stem);
    rel.with_file_name(format!("{base}.{run_id}.parquet"))
}

/// One source's staged files to publish.
pub struct Pending {
    pub name: String,
    pub state: SourceState,
    /// Staged files, relative to the staging folder (their logical lake names).
    pub written: Vec<PathBuf>,
    /// Live files of the source that stay as they are (chunks loaded on top of the lake rewrite
    /// only the partitions they touch).
    pub kept: Vec<String>,
}

/// Publish a run: move every staged file in (under a fresh name where a live file has the same
/// name and other bytes; an identical file is kept as it is), replace `state.json` in one rename,
/// then remove what the new state no longer lists. Returns, per source, the lake files changed.
pub fn publish_run(
    lake: &Lake,
    state: &mut State,
    pending: Vec<Pending>,
    configured: &BTreeSet<&str>,
    staging: &Path,
    run_id: &str,
) -> Result<(BTreeMap<String, usize>, Vec<String>)> {
    let old_live: BTreeSet<String> = state.sources.values().flat_map(|s| s.outputs.iter().cloned()).collect();
    let mut changed = BTreeMap::new();
    for mut p in pending {
        let old: BTreeMap<String, String> =
            state.sources.get(&p.name).map(|s| s.outputs.iter().map(|o| (logical_name(o), o.clone())).collect()).unwrap_or_default();
        let mut outputs = p.kept.clone();
        outputs.reserve(p.written.len());
        let mut n = 0;
        for rel in &p.written {
            let staged = staging.join(rel);
            let logical = rel.display().to_string();
            if let Some(live) = old.get(&logical)
                && same_bytes(&staged, &lake.root.join(live))?
            {
                outputs.push(live.clone());
                continue;
            }
            let target = fresh_name(&lake.root, rel, run_id, old.contains_key(&logical));
            let abs = lake.root.join(&target);
            if let Some(dir) = abs.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io("creating folder", dir, e))?;
            }
            std::fs::rename(&staged, &abs).map_err(|e| Error::io("renaming into", &abs, e))?;
            crate::failpoint::hit("lake-publish");
            outputs.push(target.display().to_string());
            n += 1;
        }
        let kept: BTreeSet<String> = outputs.iter().map(|o| logical_name(o)).collect();
        n += old.keys().filter(|l| !kept.contains(*l)).count();
        p.state.outputs = outputs;
        changed.insert(p.name.clone(), n);
        state.sources.insert(p.name, p.state);
    }
    let removed: Vec<String> = state.sources.keys().filter(|k| !configured.contains(k.as_str())).cloned().collect();
    for name in &removed {
        state.sources.remove(name);
    }
    let state_json = serde_json::to_vec_pretty(&*state).map_err(|e| Error::Internal(e.to_string()))?;
    if std::fs::read(lake.state_path()).ok().as_deref() != Some(state_json.as_slice()) {
        crate::failpoint::hit("lake-publish");
        atomic_write(&lake.state_path(), &state_json)?;
        crate::failpoint::hit("lake-publish");
    }
    lake.collect_garbage(state, &old_live);
    Ok((changed, removed))
}

fn same_bytes(a: &Path, b: &Path) -> Result<bool> {
    let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) else { return Ok(false) };
    if ma.len() != mb.len() {
        return Ok(false);
    }
    let x = std::fs::read(a).map_err(|e| Error::io("reading", a, e))?;
    let y = std::fs::read(b).map_err(|e| Error::io("reading", b, e))?;
    Ok(x == y)
}

/// Remove a file and any folders it leaves empty, up to (not including) `root`.
pub fn remove_with_empty_parents(root: &Path, file: &Path) {
    let _ = std::fs::remove_file(file);
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

fn modified_ns(meta: &std::fs::Metadata) -> Option<u128> {
    meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_nanos())
}

/// sha256 of a file, streamed.
pub fn hash_file(path: &Path) -> Result<FileInfo> {
    use sha2::{Digest, Sha256};
    let mut f = std::fs::File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let meta = f.metadata().map_err(|e| Error::io("reading metadata of", path, e))?;
    let mut h = Sha256::new();
    let bytes = std::io::copy(&mut f, &mut h).map_err(|e| Error::io("reading", path, e))?;
    Ok(FileInfo { path: path.display().to_string(), bytes, sha256: hex::encode(h.finalize()), modified_ns: modified_ns(&meta) })
}

/// Like `hash_file`, but a file whose path, size and modification time equal what was hashed last
/// time keeps that hash without being read again (as git's index does): a no-op re-run over large
/// chain exports reads nothing.
pub fn hash_file_cached(path: &Path, previous: &[FileInfo]) -> Result<FileInfo> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("reading metadata of", path, e))?;
    let shown = path.display().to_string();
    let mtime = modified_ns(&meta);
    if let Some(p) = previous.iter().find(|p| p.path == shown)
        && mtime.is_some()
        && p.modified_ns == mtime
        && p.bytes == meta.len()
    {
        return Ok(p.clone());
    }
    hash_file(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_read_from_hive_names_and_from_the_layout_before() {
        let want = Some(Partition { chain: "ethereum".into(), year: 2024, month: 3 });
        assert_eq!(partition("transfers/chain=ethereum/year=2024/month=3/cryo.parquet"), want);
        assert_eq!(partition("transfers/ethereum/2024/03/cryo.parquet"), want);
        assert_eq!(partition("labels/tagpacks.parquet"), None);
        assert_eq!(partition("/srv/kept/transfers/chain=ethereum/year=2024/month=3/x.parquet"), want);
        assert_eq!(partition("transfers/chain=ethereum/year=x/month=3/cryo.parquet"), None);
        assert_eq!(
            hive_name("transfers/ethereum/2024/03/cryo~123.r1.parquet").as_deref(),
            Some("transfers/chain=ethereum/year=2024/month=3/cryo~123.r1.parquet")
        );
        assert_eq!(hive_name("transfers/chain=ethereum/year=2024/month=3/cryo.parquet"), None);
        assert_eq!(hive_name("transfers/ethereum/2024/13/cryo.parquet"), None);
        assert_eq!(hive_name("transfers/ethereum/24/03/cryo.parquet"), None);
        assert_eq!(hive_name("transfers/ethereum/2024/0x/cryo.parquet"), None);
    }
}
