//! One file per input format. Every loader accounts for every input item: loaded, quarantined with
//! a reason, counted as a duplicate of an earlier item (same natural key), or filtered as out of
//! scope (e.g. a zero-value trace) with the reason counted.

pub mod assets;
pub mod bitcoin_etl;
pub mod bz2par;
pub mod chain;
pub mod cryo;
pub mod csvutil;
pub mod ethereum_etl;
pub mod etherscan;
pub mod incidents;
pub mod ofac_csv;
pub mod ofac_xml;
pub mod opensanctions;
pub mod partition;
pub mod prices;
pub mod stream;
pub mod tagpack;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use polars::prelude::DataFrame;

use crate::error::{Error, Result};
use crate::schema;
use crate::table::{Cell, TableBuilder};

pub use crate::counts::Counts;

/// Where a quarantined item was found.
#[derive(Debug, Clone, Copy)]
pub struct At<'a> {
    pub file: &'a Path,
    pub row: Option<i64>,
}

impl<'a> At<'a> {
    pub fn new(file: &'a Path, row: i64) -> Self {
        At { file, row: Some(row) }
    }
}

/// A table under construction with natural-key deduplication.
pub struct Sink {
    builder: TableBuilder,
    key_idx: Vec<usize>,
    seen: HashSet<Vec<u8>>,
}

impl Sink {
    pub fn new(table: &str) -> Self {
        let schema = schema::table(table);
        let key_idx = schema.key.iter().filter_map(|k| schema.index_of(k)).collect();
        Sink { builder: TableBuilder::new(schema), key_idx, seen: HashSet::new() }
    }

    /// Push a row; false when its key was seen before (the row is then dropped).
    fn push(&mut self, row: Vec<Cell>) -> Result<bool> {
        if !self.key_idx.is_empty() {
            let mut key = Vec::with_capacity(64);
            for &i in &self.key_idx {
                key.extend_from_slice(format!("{:?}", row[i]).as_bytes());
                key.push(0);
            }
            if !self.seen.insert(key) {
                return Ok(false);
            }
        }
        self.builder.push(row)?;
        Ok(true)
    }
}

/// The accounting of one source's load: tables, quarantine, counts.
pub struct Acc {
    pub source: String,
    sinks: BTreeMap<&'static str, Sink>,
    quarantine: TableBuilder,
    pub counts: Counts,
}

impl Acc {
    pub fn new(source: &str) -> Self {
        Acc {
            source: source.to_string(),
            sinks: BTreeMap::new(),
            quarantine: TableBuilder::new(schema::table("quarantine")),
            counts: Counts::default(),
        }
    }

    /// Count one input item as read; every read item must then be loaded, quarantined, duplicate or filtered.
    pub fn read(&mut self) {
        self.counts.read += 1;
    }

    /// Load a row into a table (deduplicated on the table's natural key).
    pub fn load(&mut self, table: &'static str, row: Vec<Cell>) -> Result<()> {
        let sink = self.sinks.entry(table).or_insert_with(|| Sink::new(table));
        if sink.push(row)? {
            self.counts.loaded += 1;
        } else {
            self.counts.duplicates += 1;
        }
        Ok(())
    }

    /// Record a row that is not loaded, with the column, the raw value and what was expected.
    pub fn quarantine(&mut self, at: At<'_>, column: Option<&str>, raw: Option<&str>, reason: impl Into<String>) -> Result<()> {
        self.counts.quarantined += 1;
        let raw = raw.map(|r| r.chars().take(200).collect::<String>());
        self.quarantine.push(vec![
            Cell::Str(self.source.clone()),
            Cell::Str(at.file.display().to_string()),
            at.row.into(),
            column.into(),
            raw.into(),
            Cell::Str(reason.into()),
        ])
    }

    /// Count an item that is valid but out of scope (e.g. a failed or zero-value trace).
    pub fn filter(&mut self, reason: &str) {
        self.counts.filtered += 1;
        if let Some(n) = self.counts.filtered_reasons.get_mut(reason) {
            *n += 1;
        } else {
            self.counts.filtered_reasons.insert(reason.to_string(), 1);
        }
    }

    pub fn add_duplicates(&mut self, n: u64) {
        self.counts.duplicates += n;
    }

    /// Finish: the tables this source wrote (always including its possibly empty quarantine).
    pub fn finish(self, tables: &[&'static str]) -> Result<(Vec<(&'static str, DataFrame)>, Counts)> {
        if !self.counts.balanced() {
            return Err(Error::Internal(format!("source {}: counts do not add up: {:?}", self.source, self.counts)));
        }
        let mut out = Vec::new();
        let mut sinks = self.sinks;
        for &t in tables {
            let df = match sinks.remove(t) {
                Some(s) => s.builder.finish()?,
                None => crate::table::empty(schema::table(t))?,
            };
            out.push((t, df));
        }
        if let Some((t, _)) = sinks.into_iter().next() {
            return Err(Error::Internal(format!("source {} loaded undeclared table {t}", self.source)));
        }
        out.push(("quarantine", self.quarantine.finish()?));
        Ok((out, self.counts))
    }
}

/// The file name used in `source_file` columns.
pub fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// A `.bz2` file (by name; `open_maybe_compressed` decompresses it on two threads).
pub(crate) fn is_bz2(path: &Path) -> bool {
    path.to_string_lossy().to_ascii_lowercase().ends_with(".bz2")
}

/// Open a file for reading, transparently decompressing `.gz` and `.bz2`.
pub fn open_maybe_compressed(path: &Path) -> Result<Box<dyn std::io::Read + Send>> {
    let f = Counted(std::fs::File::open(path).map_err(|e| Error::io("opening", path, e))?);
    let name = path.to_string_lossy().to_ascii_lowercase();
    let buffered = std::io::BufReader::with_capacity(1 << 16, f);
    Ok(if name.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(buffered))
    } else if is_bz2(path) {
        bz2par::open(path)?
    } else {
        Box::new(buffered)
    })
}

/// Input bytes the loaders have consumed so far, in this process (as on disk: compressed bytes for
/// a compressed file), for progress that moves with the work inside a file.
static BYTES_READ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Input bytes consumed so far (see [`Counted`]); a progress display takes differences.
pub fn bytes_read() -> u64 {
    BYTES_READ.load(std::sync::atomic::Ordering::Relaxed)
}

/// Count `n` more input bytes consumed.
pub(crate) fn count_bytes(n: u64) {
    BYTES_READ.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
}

/// A reader that counts the bytes it reads into [`bytes_read`].
pub(crate) struct Counted<R>(pub R);

impl<R: std::io::Read> std::io::Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.read(buf)?;
        count_bytes(n as u64);
        Ok(n)
    }
}

/// Reads the chunks a producer thread sends (an empty chunk: the end).
pub(crate) struct ChannelReader {
    rx: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    cur: Vec<u8>,
    pos: usize,
    eof: bool,
}

impl ChannelReader {
    pub(crate) fn new(rx: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>) -> Self {
        ChannelReader { rx, cur: Vec::new(), pos: 0, eof: false }
    }
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.cur.len() {
            if self.eof {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    if chunk.is_empty() {
                        self.eof = true;
                    }
                    self.cur = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    self.eof = true;
                }
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Read a whole (possibly compressed) text file.
pub fn read_text(path: &Path) -> Result<String> {
    let mut s = String::new();
    std::io::Read::read_to_string(&mut open_maybe_compressed(path)?, &mut s)
        .map_err(|e| Error::input_caused(path, "not readable as UTF-8 text", e))?;
    Ok(s)
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (a time part after `T` or a space is ignored).
pub fn parse_day(s: &str) -> Result<i32, String> {
    let t = s.trim();
    let d = t.split(['T', ' ']).next().unwrap_or("");
    let date = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| "expected a date YYYY-MM-DD".to_string())?;
    Ok(days_since_epoch(date))
}

pub fn days_since_epoch(d: chrono::NaiveDate) -> i32 {
    (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")).num_days() as i32
}

/// A day number back to a date (for messages and tests).
pub fn day_to_string(days: i32) -> String {
    (chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date") + chrono::Duration::days(days as i64)).format("%Y-%m-%d").to_string()
}

/// A loader's inputs.
pub struct Input<'a> {
    pub spec: &'a crate::config::SourceSpec,
    pub files: &'a [PathBuf],
    /// Told when the loader starts on each file (progress bars).
    pub on_file: &'a dyn Fn(&Path),
}

impl<'a> Input<'a> {
    /// The files in order, reporting each as the loader reaches it.
    pub fn each_file(&self) -> impl Iterator<Item = &'a PathBuf> + '_ {
        self.files.iter().inspect(move |p| (self.on_file)(p))
    }

    pub fn file_started(&self, path: &Path) {
        (self.on_file)(path)
    }
}

/// Empty or whitespace-only → None.
pub fn non_empty(s: &str) -> Option<&str> {
    let t = s.trim();
    (!t.is_empty()).then_some(t)
}
