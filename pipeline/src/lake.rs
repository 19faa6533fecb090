//! The lake in one place: table layout, listing, scanning, ingest state and atomic publishing.
//!
//! Layout (plain folders, every partition column also stored in the files, so any engine can read
//! `<table>/**/*.parquet` without hive options):
//! - chain tables: `<lake>/<table>/<chain>/<year>/<month>/<source>.parquet`
//! - other tables: `<lake>/<table>/<source>.parquet`
//! - `<lake>/_ingest/state.json` (what each source last loaded) and `_ingest/runs/<run>.json`
//! - `<lake>/.staging/<run>/` while a run is in progress; renamed into place at the end.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::schema;
use crate::sources::Counts;

pub struct Lake {
    pub root: PathBuf,
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
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub sources: BTreeMap<String, SourceState>,
}

impl Lake {
    pub fn new(root: impl Into<PathBuf>) -> Lake {
        Lake { root: root.into() }
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

    pub fn load_state(&self) -> Result<State> {
        let p = self.state_path();
        match std::fs::read_to_string(&p) {
            Ok(s) => serde_json::from_str(&s)
                .map_err(|e| Error::Config(format!("lake state `{}` is corrupt ({e}); delete the lake folder to rebuild it", p.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(Error::io("reading", p, e)),
        }
    }

    /// Every Parquet file of a table, sorted.
    pub fn table_files(&self, table: &str) -> Result<Vec<PathBuf>> {
        let dir = self.root.join(table);
        let mut out = Vec::new();
        if dir.is_dir() {
            collect_parquet(&dir, &mut out).map_err(|e| Error::io("listing", &dir, e))?;
        }
        out.sort();
        Ok(out)
    }

    /// A lazy scan over all of a table's files (an empty frame with the documented schema if none).
    pub fn scan(&self, table: &str) -> Result<LazyFrame> {
        let files = self.table_files(table)?;
        if files.is_empty() {
            return Ok(crate::table::empty(schema::table(table))?.lazy());
        }
        let paths: Vec<PlRefPath> = files
            .iter()
            .map(|p| PlRefPath::try_from_path(p).map_err(|e| Error::polars(format!("path `{}`", p.display()), e)))
            .collect::<Result<_>>()?;
        LazyFrame::scan_parquet_files(paths.into_iter().collect(), ScanArgsParquet::default())
            .map_err(|e| Error::polars(format!("scanning table {table}"), e))
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

fn collect_parquet(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let p = entry.path();
        if entry.file_type()?.is_dir() {
            collect_parquet(&p, out)?;
        } else if name.ends_with(".parquet") {
            out.push(p);
        }
    }
    Ok(())
}

/// Write bytes to `path` atomically: a temporary file beside it, then a rename.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().ok_or_else(|| Error::Internal(format!("`{}` has no folder", path.display())))?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating folder", dir, e))?;
    let tmp = dir.join(format!(".{}.tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("file")));
    std::fs::write(&tmp, bytes).map_err(|e| Error::io("writing", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io("renaming into", path, e))
}

/// Move a staged file into place unless an identical file is already there (then nothing changes).
/// Returns true when the lake file changed.
pub fn publish(staged: &Path, target: &Path) -> Result<bool> {
    if let (Ok(a), Ok(b)) = (std::fs::read(staged), std::fs::read(target)) {
        if a == b {
            let _ = std::fs::remove_file(staged);
            return Ok(false);
        }
    }
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating folder", dir, e))?;
    }
    std::fs::rename(staged, target).map_err(|e| Error::io("renaming into", target, e))?;
    Ok(true)
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
    if let Some(p) = previous.iter().find(|p| p.path == shown) {
        if mtime.is_some() && p.modified_ns == mtime && p.bytes == meta.len() {
            return Ok(p.clone());
        }
    }
    hash_file(path)
}
