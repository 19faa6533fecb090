//! Streaming staging for chain exports read in block order (cryo files, whose names give their block
//! ranges): each partition's rows are sorted a run of overlapping block ranges at a time and written
//! straight into the partition's lake file by a writer thread, with no part files in between.
//!
//! It relies on what a chain export normally is — files whose block ranges do not overlap, block
//! times that grow with block numbers, no two rows with the same natural key — and checks each of
//! these as it goes. When one does not hold, the attempt is abandoned (the files it wrote are
//! removed) and the caller loads the source again through part files, whose first-file-wins
//! deduplication is exact. Without duplicates the two ways give the same rows in the same order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::thread::JoinHandle;

use polars::prelude::*;

use super::partition::{PartKey, PartitionWriter, key_hashes, month_span, partition_path, sort_chain_order, stack};
use crate::error::{Error, Result};

enum Msg {
    /// Rows of one partition whose block range nothing still to come can overlap, sorted in chain
    /// order, with their key hashes: write.
    Run(PartKey, DataFrame, Vec<u64>),
    /// No more rows for this partition: check its keys and finish its file.
    Close(PartKey),
}

/// Rows of a partition waiting for the rest of their block range (the next files may overlap it).
#[derive(Default)]
struct Open {
    pending: Vec<DataFrame>,
    /// Block range of `pending`.
    range: Option<(i64, i64)>,
    /// Highest block already handed to the writer.
    written_max: Option<i64>,
}

/// The partitions a writer thread finished, with their lake files.
type Written = Vec<(PartKey, PathBuf)>;

pub struct Stream {
    open: BTreeMap<PartKey, Open>,
    closed: BTreeSet<PartKey>,
    tx: Option<SyncSender<Msg>>,
    handle: Option<JoinHandle<Result<Written>>>,
    /// Set by the writer when two rows of a partition have the same key hash, or by `abandon`.
    stop: Arc<AtomicBool>,
    abandoned: Option<String>,
}

/// Why the writer stopped on its own.
const SAME_KEY: &str = "two rows share a natural key (or its hash): duplicates need the exact path";

impl Stream {
    /// Start the writer thread; files go to `out` under the lake's partition paths.
    pub fn new(out: &Path, chain: &str, source: &str) -> Stream {
        // A few runs may wait for the writer, so that reading goes on while it encodes a row group.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Msg>(4);
        let stop = Arc::new(AtomicBool::new(false));
        let (out, chain, source, flag) = (out.to_path_buf(), chain.to_string(), source.to_string(), stop.clone());
        let handle = std::thread::spawn(move || write_partitions(rx, &out, &chain, &source, &flag));
        Stream { open: BTreeMap::new(), closed: BTreeSet::new(), tx: Some(tx), handle: Some(handle), stop, abandoned: None }
    }

    /// Why the attempt was given up, if it was.
    pub fn abandoned(&self) -> Option<&str> {
        self.abandoned.as_deref()
    }

    /// Give up: the writer removes what it wrote, and nothing more is accepted.
    pub fn abandon(&mut self, why: impl Into<String>) {
        if self.abandoned.is_some() {
            return;
        }
        self.abandoned = Some(why.into());
        self.stop.store(true, Ordering::SeqCst);
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.open.clear();
    }

    /// Take rows of one partition (`df` in the table's schema, every row in partition `key`).
    pub fn route(&mut self, key: PartKey, df: DataFrame) -> Result<()> {
        if self.abandoned.is_some() || df.height() == 0 {
            return Ok(());
        }
        let err = |e| Error::polars("routing rows to partitions", e);
        let blocks = df.column("block_number").map_err(err)?.i64().map_err(err)?;
        let (Some(min), Some(max)) = (blocks.min(), blocks.max()) else {
            return Err(Error::Internal("a staged row has no block number".into()));
        };
        let (table, y, m) = key;
        if self.closed.contains(&key) {
            self.abandon(format!("{table} rows of {y}-{m:02} came after that month was written (input files not in block order)"));
            return Ok(());
        }
        let open = self.open.entry(key).or_default();
        if open.written_max.is_some_and(|w| min <= w) {
            self.abandon(format!("{table} rows of {y}-{m:02}: block ranges of the input files overlap"));
            return Ok(());
        }
        open.pending.push(df);
        open.range = Some(open.range.map_or((min, max), |(a, b)| (a.min(min), b.max(max))));
        Ok(())
    }

    /// One input file done. `next(table)` is the lowest block that the files still to come can
    /// hold for `table` (None: no more rows for it); `block_time` gives a known block's time.
    /// Pending rows that nothing still to come can overlap are written; partitions that nothing
    /// still to come can reach are closed.
    pub fn file_done(&mut self, next: &dyn Fn(&str) -> Option<i64>, block_time: &dyn Fn(i64) -> Option<i64>) -> Result<()> {
        if self.abandoned.is_some() {
            return Ok(());
        }
        if self.stop.load(Ordering::SeqCst) {
            self.abandon(SAME_KEY);
            return Ok(());
        }
        let mut runs = Vec::new();
        let mut closing = Vec::new();
        for (key, open) in self.open.iter_mut() {
            let next_block = next(key.0);
            if let Some((_, max)) = open.range
                && next_block.is_none_or(|n| max < n)
            {
                runs.push((*key, std::mem::take(&mut open.pending)));
                open.written_max = Some(open.written_max.map_or(max, |w| w.max(max)));
                open.range = None;
            }
            if open.range.is_none() {
                let past = match next_block {
                    None => true,
                    Some(n) => block_time(n).zip(month_span(key.1, key.2)).is_some_and(|(t, (_, end))| t >= end),
                };
                if past {
                    closing.push(*key);
                }
            }
        }
        // Sorting and hashing here leaves the writer thread only the encoding (the slower side).
        for (key, frames) in runs {
            let Some(df) = stack(frames)? else { continue };
            let hashes = key_hashes(key.0, &df)?;
            let df = sort_chain_order(key.0, df)?;
            self.send(Msg::Run(key, df, hashes))?;
        }
        for key in closing {
            self.open.remove(&key);
            self.closed.insert(key);
            self.send(Msg::Close(key))?;
        }
        Ok(())
    }

    fn send(&mut self, msg: Msg) -> Result<()> {
        let sent = self.tx.as_ref().map(|tx| tx.send(msg));
        if let Some(Ok(())) = sent {
            return Ok(());
        }
        // The writer stopped: its error says why (or it found equal key hashes).
        self.tx = None;
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => Err(Error::Internal("the partition writer panicked".into())),
            _ => {
                self.abandon(SAME_KEY);
                Ok(())
            }
        }
    }

    /// Write and close everything; the lake files written (relative to `out`, in partition order),
    /// or why the attempt was abandoned.
    pub fn finish(mut self, block_time: &dyn Fn(i64) -> Option<i64>) -> Result<std::result::Result<Vec<PathBuf>, String>> {
        self.file_done(&|_| None, block_time)?;
        if let Some(why) = self.abandoned.take() {
            return Ok(Err(why));
        }
        self.tx = None;
        let done = match self.handle.take().map(|h| h.join()) {
            Some(Ok(r)) => r?,
            Some(Err(_)) => return Err(Error::Internal("the partition writer panicked".into())),
            None => return Err(Error::Internal("the partition writer is gone".into())),
        };
        if self.stop.load(Ordering::SeqCst) {
            return Ok(Err(SAME_KEY.into()));
        }
        let mut done = done;
        done.sort();
        Ok(Ok(done.into_iter().map(|(_, rel)| rel).collect()))
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // Unfinished (an error elsewhere): stop the writer and let it remove its files.
        if self.handle.is_some() {
            self.stop.store(true, Ordering::SeqCst);
            self.tx = None;
            if let Some(h) = self.handle.take() {
                let _ = h.join();
            }
        }
    }
}

/// One partition's open lake file, with its rows' key hashes.
struct Writing {
    file: PartitionWriter,
    rel: PathBuf,
    hashes: Vec<u64>,
}

/// The writer thread: sorts each run, writes it, and checks each partition's key hashes when it
/// closes. When `stop` is set (by either side) it removes every file it wrote.
fn write_partitions(rx: Receiver<Msg>, out: &Path, chain: &str, source: &str, stop: &AtomicBool) -> Result<Vec<(PartKey, PathBuf)>> {
    let mut open: BTreeMap<PartKey, Writing> = BTreeMap::new();
    let mut done: Vec<(PartKey, PathBuf)> = Vec::new();
    let result = (|| -> Result<()> {
        for msg in rx.iter() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            match msg {
                Msg::Run(key, df, hashes) => {
                    let w = match open.entry(key) {
                        std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                        std::collections::btree_map::Entry::Vacant(v) => {
                            let rel = partition_path(key, chain, source);
                            v.insert(Writing { file: PartitionWriter::create(key.0, &out.join(&rel))?, rel, hashes: Vec::new() })
                        }
                    };
                    w.hashes.extend(hashes);
                    w.file.push(df)?;
                }
                Msg::Close(key) => {
                    let Some(mut w) = open.remove(&key) else { continue };
                    w.hashes.sort_unstable();
                    let same = w.hashes.windows(2).any(|p| p[0] == p[1]);
                    done.push((key, w.rel));
                    if same {
                        stop.store(true, Ordering::SeqCst);
                        break;
                    }
                    w.file.finish()?;
                }
            }
        }
        Ok(())
    })();
    let failed = result.is_err() || stop.load(Ordering::SeqCst);
    if failed {
        for rel in done.iter().map(|(_, r)| r).chain(open.values().map(|w| &w.rel)) {
            let _ = std::fs::remove_file(out.join(rel));
        }
    }
    result?;
    if !open.is_empty() && !failed {
        // `Stream::finish` closes every partition before the channel ends (and every other way
        // of ending sets `stop`): an open one here is a bug, and its rows must not go missing.
        for rel in done.iter().map(|(_, r)| r).chain(open.values().map(|w| &w.rel)) {
            let _ = std::fs::remove_file(out.join(rel));
        }
        return Err(Error::Internal("the partition writer ended with partitions still open".into()));
    }
    Ok(done)
}
