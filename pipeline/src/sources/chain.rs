//! Staging for chain exports, shared by the cryo, ethereum-etl and bitcoin-etl loaders. Rows are routed to
//! chain/year/month partitions. cryo files read in block order are streamed straight into the lake
//! (`stream_into`, see `stream.rs`); otherwise, and when streaming gives up, rows are spilled to part
//! files after every input file, so memory is bounded by one file, not by how many there are, and
//! `finish` then deduplicates each partition on the natural key (first file wins), sorts it in chain
//! order and writes one file per partition.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use ruint::aliases::U256;

use super::partition::{PartKey, PartitionWriter, key_hashes, partition_path, sort_chain_order, stack, year_month};
use super::stream::Stream;
use super::{Acc, At, file_name};
use crate::error::{Error, Result};
use crate::schema;
use crate::table::{Cell, TableBuilder, read_scratch, write_parquet, write_scratch};

/// The EVM chains ifr names: `0x` hashes and addresses, read by the cryo and ethereum-etl loaders.
pub fn is_evm(chain: &str) -> bool {
    matches!(chain, "ethereum" | "bsc" | "polygon" | "arbitrum" | "avalanche" | "base" | "optimism")
}

/// Decimals and symbols of the assets a chain source may move (from the `assets` table).
#[derive(Debug, Default, Clone)]
pub struct Assets {
    map: HashMap<(String, Option<String>), (String, i32)>,
}

impl Assets {
    pub fn insert(&mut self, chain: &str, token: Option<&str>, symbol: &str, decimals: i32) {
        self.map.insert((chain.to_string(), token.map(str::to_string)), (symbol.to_string(), decimals));
    }

    /// Build from an `assets` frame.
    pub fn from_frame(df: &DataFrame) -> Result<Assets> {
        let mut a = Assets::default();
        let err = |e| Error::polars("reading the assets table", e);
        let chain = df.column("chain").map_err(err)?.str().map_err(err)?;
        let token = df.column("token_address").map_err(err)?.str().map_err(err)?;
        let symbol = df.column("symbol").map_err(err)?.str().map_err(err)?;
        let decimals = df.column("decimals").map_err(err)?.i32().map_err(err)?;
        for i in 0..df.height() {
            if let (Some(c), Some(s), Some(d)) = (chain.get(i), symbol.get(i), decimals.get(i)) {
                a.insert(c, token.get(i), s, d);
            }
        }
        Ok(a)
    }

    /// (symbol, decimals) of the chain's native coin: the assets table, else the EVM default (18).
    pub fn native(&self, chain: &str) -> (Option<String>, i32) {
        if let Some((s, d)) = self.map.get(&(chain.to_string(), None)) {
            return (Some(s.clone()), *d);
        }
        if chain == "bitcoin" {
            return (Some("BTC".to_string()), 8);
        }
        let sym = match chain {
            "ethereum" | "arbitrum" | "optimism" | "base" => Some("ETH"),
            "bsc" => Some("BNB"),
            "polygon" => Some("POL"),
            "avalanche" => Some("AVAX"),
            _ => None,
        };
        (sym.map(str::to_string), 18)
    }

    /// Add another list's entries (later lists win on the same chain and token).
    pub fn extend(&mut self, other: Assets) {
        self.map.extend(other.map);
    }

    pub fn token(&self, chain: &str, token: &str) -> Option<(String, i32)> {
        self.map.get(&(chain.to_string(), Some(token.to_string()))).cloned()
    }
}

/// The block range an export chunk covers, from its path: cryo's
/// `{network}__{dataset}__{start}_to_{end}.parquet`, ethereum-etl's `start_block=…/end_block=…`
/// folders (`export_all`), or a file name ending in `_{start}_{end}` (`blocks_00000000_00099999.csv`,
/// compressed or not).
pub fn chunk_range(format: crate::config::Format, path: &Path) -> Option<(i64, i64)> {
    if format == crate::config::Format::Cryo {
        let name = path.file_name()?.to_str()?;
        let (start, end) = name.split("__").nth(2)?.split_once("_to_")?;
        let (start, end) = (start.parse::<i64>().ok()?, end.split('.').next()?.parse::<i64>().ok()?);
        return (start <= end).then_some((start, end));
    }
    let num = |s: &str| s.parse::<i64>().ok().filter(|v| *v >= 0);
    let (mut start, mut end) = (None, None);
    for c in path.components() {
        let c = c.as_os_str().to_str().unwrap_or("");
        if let Some(v) = c.strip_prefix("start_block=") {
            start = num(v);
        } else if let Some(v) = c.strip_prefix("end_block=") {
            end = num(v);
        }
    }
    if start.is_none() || end.is_none() {
        // The name before its first dot: `blocks_0_99.csv.gz` → `blocks_0_99`.
        let stem = path.file_name()?.to_str()?.split('.').next()?;
        let mut parts = stem.rsplit('_');
        end = parts.next().and_then(num);
        start = parts.next().and_then(num);
    }
    match (start, end) {
        (Some(s), Some(e)) if s <= e => Some((s, e)),
        _ => None,
    }
}

/// Sort order of each chain table inside a partition: chain order.
/// The thread that writes part files, and the channel that feeds it (frame, path).
type PartWriterThread = (std::sync::mpsc::SyncSender<(DataFrame, PathBuf)>, std::thread::JoinHandle<Result<()>>);

/// How a loaded chain source ended up staged.
pub enum Staged {
    /// Its lake files (relative to the staged lake).
    Written(Vec<PathBuf>),
    /// Streaming was given up for this reason: load the source again through part files.
    Again(String),
}

/// A native or token movement about to become a `transfers` row.
pub struct Transfer<'a> {
    pub block_number: i64,
    /// Microseconds, when the input row carries its own time.
    pub time: Option<i64>,
    pub tx_hash: String,
    pub tx_index: Option<i64>,
    pub log_index: Option<i64>,
    pub trace_address: Option<String>,
    pub token: Option<String>,
    pub from: String,
    pub to: String,
    pub amount: U256,
    pub file: &'a Path,
    /// Counted as an input item (false for the value of a transaction row, already counted).
    pub counted: bool,
}

impl<'a> Transfer<'a> {
    /// A counted transfer with the required fields; set the others with struct-update syntax.
    pub fn new(block_number: i64, tx_hash: String, from: String, to: String, amount: U256, file: &'a Path) -> Self {
        Transfer {
            block_number,
            time: None,
            tx_hash,
            tx_index: None,
            log_index: None,
            trace_address: None,
            token: None,
            from,
            to,
            amount,
            file,
            counted: true,
        }
    }
}

pub struct ChainStage<'a> {
    pub chain: String,
    pub source: String,
    dir: PathBuf,
    assets: &'a Assets,
    builders: BTreeMap<PartKey, TableBuilder>,
    /// Frames built column by column (cryo), already in the table's documented schema.
    frames: BTreeMap<PartKey, Vec<DataFrame>>,
    parts: BTreeMap<PartKey, Vec<PathBuf>>,
    block_times: BlockTimes,
    native: (Option<String>, i32),
    spills: usize,
    /// Part files are written on their own thread while the next input file is read.
    writer: Option<PartWriterThread>,
    /// Rows go straight into the lake files instead of part files (see `stream_into`).
    stream: Option<Stream>,
    /// Why streaming was not tried for this input (`stream_no_more`).
    declined: Option<String>,
    /// Rows buffered since the last spill, and the block of the last transaction staged (see
    /// `spill_between_blocks`).
    buffered: usize,
    /// Rows buffered before a spill between two blocks (`spill_between_blocks`).
    pub spill_rows: usize,
    last_block: Option<i64>,
    /// Each UTXO row is an input item of its own (a flattened export: one row per output or input),
    /// rather than a transaction standing for its rows.
    pub rows_are_items: bool,
}

impl Drop for ChainStage<'_> {
    fn drop(&mut self) {
        let _ = self.wait_for_spills();
    }
}

/// Block number -> time (microseconds), in dense chunks of consecutive block numbers: transfers come
/// in block order, so lookups walk memory in order (a hash map sent every lookup to a random cache
/// line, and was most of the loading time).
#[derive(Default)]
struct BlockTimes {
    chunks: BTreeMap<i64, Vec<i64>>,
}

impl BlockTimes {
    const BITS: u32 = 16;
    /// No time known (a real block time this far before 1970 is out of range anyway).
    const NONE: i64 = i64::MIN;

    fn insert(&mut self, n: i64, micros: i64) {
        let chunk = self.chunks.entry(n >> Self::BITS).or_insert_with(|| vec![Self::NONE; 1 << Self::BITS]);
        chunk[(n & ((1 << Self::BITS) - 1)) as usize] = micros;
    }

    fn get(&self, n: i64) -> Option<i64> {
        let t = self.chunks.get(&(n >> Self::BITS))?[(n & ((1 << Self::BITS) - 1)) as usize];
        (t != Self::NONE).then_some(t)
    }
}

impl<'a> ChainStage<'a> {
    pub fn new(chain: &str, source: &str, dir: PathBuf, assets: &'a Assets) -> Self {
        ChainStage {
            chain: chain.to_string(),
            source: source.to_string(),
            native: assets.native(chain),
            dir,
            assets,
            builders: BTreeMap::new(),
            frames: BTreeMap::new(),
            parts: BTreeMap::new(),
            block_times: BlockTimes::default(),
            spills: 0,
            writer: None,
            stream: None,
            declined: None,
            buffered: 0,
            spill_rows: 1 << 18,
            last_block: None,
            rows_are_items: false,
        }
    }

    /// Write each partition straight into its file under `out` as the input files (read in block
    /// order, `file_done` after each) come in, instead of through part files. Any input this cannot
    /// handle exactly (overlapping block ranges, duplicate keys) ends the attempt: `finish` then
    /// says `Staged::Again` and the source is loaded through part files.
    pub fn stream_into(&mut self, out: &Path) {
        self.stream = Some(Stream::new(out, &self.chain, &self.source));
    }

    /// True while streaming (not given up).
    pub fn streaming(&self) -> bool {
        self.stream.as_ref().is_some_and(|s| s.abandoned().is_none())
    }

    /// Why streaming was given up, if it was.
    pub fn abandoned(&self) -> Option<&str> {
        self.stream.as_ref().and_then(Stream::abandoned)
    }

    /// Give up streaming before anything was loaded: the input is not in a form it can take, for
    /// this reason.
    pub fn stream_no_more(&mut self, why: &str) {
        self.stream = None;
        self.declined = Some(why.to_string());
    }

    /// Why streaming was not tried, if it was asked for and declined (`stream_no_more`).
    pub fn declined(&self) -> Option<&str> {
        self.declined.as_deref()
    }

    /// One input file is done. Streaming: `next(table)` is the lowest block the files still to come
    /// can hold rows of `table` for (None: no more), so rows and partitions they cannot reach are
    /// written. Otherwise the rows go to part files.
    pub fn file_done(&mut self, next: &dyn Fn(&str) -> Option<i64>) -> Result<()> {
        if self.stream.is_none() {
            return self.spill();
        }
        self.route_built()?;
        let times = &self.block_times;
        match self.stream.as_mut() {
            Some(s) => s.file_done(next, &|n| times.get(n)),
            None => Ok(()),
        }
    }

    /// Rows built row by row, as frames into the stream.
    fn route_built(&mut self) -> Result<()> {
        let builders = std::mem::take(&mut self.builders);
        if let Some(s) = self.stream.as_mut() {
            for (key, b) in builders.into_iter().filter(|(_, b)| !b.is_empty()) {
                s.route(key, b.finish()?)?;
            }
        }
        Ok(())
    }

    fn push(&mut self, table: &'static str, micros: i64, row: impl FnOnce(i32, i32) -> Vec<Cell>) -> Result<()> {
        self.buffered += 1;
        let (y, m) = year_month(micros).ok_or_else(|| Error::Internal(format!("timestamp {micros} out of range")))?;
        let b = self.builders.entry((table, y, m)).or_insert_with(|| TableBuilder::new(schema::table(table)));
        b.push(row(y, m))
    }

    /// A transaction of `block` comes next: when rows are spilled to part files and at least
    /// `spill_rows` are buffered, they are spilled now if `block` differs from the last one staged,
    /// so that a large input file in block order becomes several parts whose block ranges do not
    /// overlap (each is then sorted and written on its own: memory is bounded by `spill_rows`, not
    /// by the file). A file not in block order gives overlapping parts, sorted together as before.
    pub fn spill_between_blocks(&mut self, block: i64) -> Result<()> {
        let new_block = self.last_block != Some(block);
        self.last_block = Some(block);
        if self.stream.is_none() && new_block && self.buffered >= self.spill_rows { self.spill() } else { Ok(()) }
    }

    /// Stage one row of a UTXO table (`utxo_outputs`, `utxo_inputs`) at its block's time; the
    /// caller counts the transaction it belongs to.
    pub fn utxo_row(&mut self, table: &'static str, micros: i64, row: impl FnOnce(i32, i32) -> Vec<Cell>) -> Result<()> {
        self.push(table, micros, row)
    }

    /// Add rows built column by column, in `table`'s documented schema with its `year` and `month`
    /// columns set: they are routed to their partitions (streamed, or written out with the next spill).
    pub fn push_frame(&mut self, table: &'static str, df: DataFrame) -> Result<()> {
        if df.height() == 0 {
            return Ok(());
        }
        let expected = schema::table(table).polars_schema();
        if **df.schema() != expected {
            return Err(Error::Internal(format!("{table}: a column-built frame does not have the documented schema: {:?}", df.schema())));
        }
        let err = |e| Error::polars("routing rows to partitions", e);
        let (years, months) = (df.column("year").map_err(err)?.i32().map_err(err)?, df.column("month").map_err(err)?.i32().map_err(err)?);
        let mut keys: Vec<(i32, i32)> = Vec::new();
        for (y, m) in years.iter().zip(months.iter()) {
            let k = (y.unwrap_or(0), m.unwrap_or(0));
            if keys.last() != Some(&k) && !keys.contains(&k) {
                keys.push(k);
            }
        }
        let mut parts = Vec::with_capacity(keys.len());
        if keys.len() == 1 {
            let (y, m) = keys[0];
            parts.push(((table, y, m), df));
        } else {
            for (y, m) in keys {
                let mask = years.equal(y) & months.equal(m);
                parts.push(((table, y, m), df.filter(&mask).map_err(err)?));
            }
        }
        for (key, part) in parts {
            match self.stream.as_mut() {
                Some(s) => s.route(key, part)?,
                None => {
                    self.buffered += part.height();
                    self.frames.entry(key).or_default().push(part)
                }
            }
        }
        Ok(())
    }

    /// The asset symbol and decimals of the native coin (`token` None) or a token of this chain;
    /// (None, None) for a token not in the assets table.
    pub fn asset_of(&self, token: Option<&str>) -> (Option<String>, Option<i32>) {
        match token {
            None => (self.native.0.clone(), Some(self.native.1)),
            Some(tok) => match self.assets.token(&self.chain, tok) {
                Some((s, d)) => (Some(s), Some(d)),
                None => (None, None),
            },
        }
    }

    pub fn block_time(&self, n: i64) -> Option<i64> {
        self.block_times.get(n)
    }

    /// Times of blocks already in the lake (block number, microseconds): chunks loaded on top of a
    /// lake find the times of blocks exported in earlier chunks, as a load of every chunk would.
    pub fn seed_block_times(&mut self, times: impl IntoIterator<Item = (i64, i64)>) {
        for (n, t) in times {
            self.block_times.insert(n, t);
        }
    }

    /// Remember a block's time from a blocks row (the latest row of a block wins, as in `block`).
    pub fn note_block(&mut self, n: i64, micros: i64) {
        self.block_times.insert(n, micros);
    }

    /// Remember a block's time (from a transactions file that carries it) without a blocks row.
    pub fn note_block_time(&mut self, n: i64, micros: i64) {
        if self.block_times.get(n).is_none() {
            self.block_times.insert(n, micros);
        }
    }

    pub fn block(&mut self, acc: &mut Acc, number: i64, hash: Option<String>, micros: i64, file: &Path) -> Result<()> {
        self.note_block(number, micros);
        let chain = self.chain.clone();
        self.push("blocks", micros, |y, m| {
            vec![
                Cell::Str(chain),
                Cell::I64(number),
                hash.into(),
                Cell::Datetime(micros),
                Cell::I32(y),
                Cell::I32(m),
                Cell::Str(file_name(file)),
            ]
        })?;
        acc.counts.loaded += 1;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn transaction(
        &mut self,
        acc: &mut Acc,
        at: At<'_>,
        block_number: i64,
        time: Option<i64>,
        tx_hash: &str,
        tx_index: Option<i64>,
        from: &str,
        to: Option<&str>,
        value: &U256,
        success: Option<bool>,
    ) -> Result<bool> {
        let Some(micros) = time.or_else(|| self.block_time(block_number)) else {
            acc.quarantine(
                at,
                Some("block_number"),
                Some(&block_number.to_string()),
                "block is not in the blocks export (its time is unknown)",
            )?;
            return Ok(false);
        };
        let chain = self.chain.clone();
        let file = file_name(at.file);
        self.push("transactions", micros, |y, m| {
            vec![
                Cell::Str(chain),
                Cell::I64(block_number),
                Cell::Datetime(micros),
                Cell::I32(y),
                Cell::I32(m),
                Cell::Str(tx_hash.to_string()),
                tx_index.into(),
                Cell::Str(from.to_string()),
                to.map(str::to_string).into(),
                Cell::Str(value.to_string()),
                success.into(),
                Cell::Str(file),
            ]
        })?;
        acc.counts.loaded += 1;
        Ok(true)
    }

    /// The native value a successful top-level transaction moved, as a transfer (not counted as an
    /// input item: the transaction row is). Nothing for zero values, failures or contract creations.
    #[allow(clippy::too_many_arguments)]
    pub fn transaction_value(
        &mut self,
        acc: &mut Acc,
        at: At<'_>,
        block_number: i64,
        time: Option<i64>,
        tx_hash: String,
        tx_index: Option<i64>,
        from: String,
        to: Option<String>,
        value: U256,
        success: Option<bool>,
    ) -> Result<()> {
        match to {
            Some(to) if !value.is_zero() && success != Some(false) => self.transfer(
                acc,
                at,
                Transfer { time, tx_index, counted: false, ..Transfer::new(block_number, tx_hash, from, to, value, at.file) },
            ),
            _ => Ok(()),
        }
    }

    /// Stage a transfer; quarantines it when its block's time is unknown.
    pub fn transfer(&mut self, acc: &mut Acc, at: At<'_>, t: Transfer<'_>) -> Result<()> {
        let Some(micros) = t.time.or_else(|| self.block_time(t.block_number)) else {
            if t.counted {
                acc.quarantine(
                    at,
                    Some("block_number"),
                    Some(&t.block_number.to_string()),
                    "block is not in the blocks export (its time is unknown)",
                )?;
            }
            return Ok(());
        };
        let (asset, decimals) = self.asset_of(t.token.as_deref());
        let raw = t.amount.to_string();
        let amount = decimals.map(|d| crate::amount::adjusted_text(&raw, d as u32));
        let chain = self.chain.clone();
        let kind = if t.token.is_some() { "token" } else { "native" };
        let file = file_name(t.file);
        self.push("transfers", micros, |y, m| {
            vec![
                Cell::Str(chain),
                Cell::I64(t.block_number),
                Cell::Datetime(micros),
                Cell::I32(y),
                Cell::I32(m),
                Cell::Str(t.tx_hash),
                t.tx_index.into(),
                t.log_index.into(),
                t.trace_address.into(),
                Cell::Str(kind.into()),
                t.token.into(),
                asset.into(),
                Cell::Str(t.from),
                Cell::Str(t.to),
                Cell::Str(raw),
                decimals.into(),
                amount.into(),
                Cell::Str(file),
            ]
        })?;
        if t.counted {
            acc.counts.loaded += 1;
        }
        Ok(())
    }

    /// Write what is buffered to part files (called after each input file, and between blocks
    /// past `spill_rows`).
    pub fn spill(&mut self) -> Result<()> {
        self.buffered = 0;
        let mut builders = std::mem::take(&mut self.builders);
        let mut frames = std::mem::take(&mut self.frames);
        let keys: std::collections::BTreeSet<PartKey> = builders.keys().chain(frames.keys()).copied().collect();
        for key in keys {
            let mut pieces: Vec<DataFrame> = frames.remove(&key).unwrap_or_default();
            if let Some(b) = builders.remove(&key).filter(|b| !b.is_empty()) {
                pieces.insert(0, b.finish()?);
            }
            let Some(df) = stack(pieces.into_iter().filter(|d| d.height() > 0))? else { continue };
            self.spills += 1;
            let path = self.dir.join(format!("part-{:06}.parquet", self.spills));
            self.write_in_background(df, path.clone())?;
            self.parts.entry(key).or_default().push(path);
        }
        Ok(())
    }

    /// Hand a part to the writer thread (at most one part waits for it: memory stays bounded).
    fn write_in_background(&mut self, df: DataFrame, path: PathBuf) -> Result<()> {
        if self.writer.is_none() {
            let (tx, rx) = std::sync::mpsc::sync_channel::<(DataFrame, PathBuf)>(1);
            let handle = std::thread::spawn(move || -> Result<()> {
                for (mut df, path) in rx {
                    write_scratch(&mut df, &path)?;
                }
                Ok(())
            });
            self.writer = Some((tx, handle));
        }
        let sent = self.writer.as_ref().map(|(tx, _)| tx.send((df, path)));
        match sent {
            Some(Ok(())) => Ok(()),
            // The writer stopped: its error says why.
            _ => self.wait_for_spills().and(Err(Error::Internal("the part writer stopped".into()))),
        }
    }

    /// Wait until every part handed to the writer thread is on disk.
    fn wait_for_spills(&mut self) -> Result<()> {
        match self.writer.take() {
            None => Ok(()),
            Some((tx, handle)) => {
                drop(tx);
                handle.join().map_err(|_| Error::Internal("the part writer panicked".into()))?
            }
        }
    }

    /// Deduplicate and write every partition into `out` (the staged lake); returns the files written
    /// relative to `out`, and corrects the counts for duplicates.
    ///
    /// Memory is bounded by one run of overlapping block ranges, not by the partition: a first pass
    /// reads only the key columns and hashes each row's natural key; when no two hashes are equal
    /// there is no duplicate, and the part files (each from one input file, or from a run of its
    /// blocks: one block range) are sorted and written a run of overlapping block ranges at a time. Only a partition where two
    /// key hashes are equal is deduplicated exactly in memory as a whole.
    pub fn finish(mut self, acc: &mut Acc, out: &Path) -> Result<Staged> {
        if self.stream.is_some() {
            self.route_built()?;
            let times = &self.block_times;
            return match self.stream.take().map(|s| s.finish(&|n| times.get(n))) {
                Some(Ok(Ok(written))) => Ok(Staged::Written(written)),
                Some(Ok(Err(why))) => Ok(Staged::Again(why)),
                Some(Err(e)) => Err(e),
                None => Err(Error::Internal("the stream is gone".into())),
            };
        }
        self.spill()?;
        self.wait_for_spills()?;
        let jobs: Vec<(PartKey, Vec<PathBuf>)> = std::mem::take(&mut self.parts).into_iter().collect();
        let rels: Vec<PathBuf> = jobs.iter().map(|(key, _)| partition_path(*key, &self.chain, &self.source)).collect();
        // Partitions are independent: two at a time (one thread sorts and encodes while the other
        // does too). Only one exact in-memory deduplication runs at a time, to bound memory.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let exact = std::sync::Mutex::new(());
        let results: Vec<std::sync::Mutex<Option<Result<u64>>>> = jobs.iter().map(|_| std::sync::Mutex::new(None)).collect();
        let rows_are_items = self.rows_are_items;
        let work = || loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(((table, _, _), parts)) = jobs.get(i) else { break };
            let path = out.join(&rels[i]);
            let r = scan_keys(table, parts).and_then(|scanned| {
                if scanned.maybe_duplicates {
                    let _one = exact.lock().unwrap_or_else(|p| p.into_inner());
                    dedup_in_memory(table, parts, &path, rows_are_items)
                } else {
                    write_sorted_runs(table, parts, &scanned.ranges, &path).map(|()| 0)
                }
            });
            for p in parts {
                let _ = std::fs::remove_file(p);
            }
            let failed = r.is_err();
            *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
            if failed {
                next.store(jobs.len(), std::sync::atomic::Ordering::Relaxed);
            }
        };
        std::thread::scope(|s| {
            let helper = s.spawn(work);
            work();
            let _ = helper.join();
        });
        let _ = std::fs::remove_dir_all(&self.dir);
        let mut written = Vec::new();
        for (r, rel) in results.into_iter().zip(rels) {
            match r.into_inner().unwrap_or_else(|p| p.into_inner()) {
                Some(Ok(dups)) => {
                    acc.counts.loaded -= dups;
                    acc.counts.duplicates += dups;
                    written.push(rel);
                }
                Some(Err(e)) => return Err(e),
                None => return Err(Error::Internal("a partition was not written (an earlier one failed)".into())),
            }
        }
        Ok(Staged::Written(written))
    }
}

/// The exact path: the whole partition in memory, first row per key kept; returns how many counted
/// rows were duplicates.
fn dedup_in_memory(table: &'static str, parts: &[PathBuf], path: &Path, rows_are_items: bool) -> Result<u64> {
    let schema = schema::table(table);
    let df = concat_parts(parts)?;
    let counted_rows = |table: &str, df: &DataFrame| if rows_are_items { Ok(df.height() as u64) } else { counted_rows(table, df) };
    let counted_before = counted_rows(table, &df)?;
    let key: Vec<String> = schema.key.clone();
    let df = df.unique_stable(Some(&key), UniqueKeepStrategy::First, None).map_err(|e| Error::polars("deduplicating", e))?;
    let dups = counted_before - counted_rows(table, &df)?;
    let mut df = sort_chain_order(table, df)?;
    write_parquet(&mut df, path)?;
    Ok(dups)
}

fn concat_parts(parts: &[PathBuf]) -> Result<DataFrame> {
    let mut frames = Vec::with_capacity(parts.len());
    for p in parts {
        frames.push(read_scratch(p, None)?.lazy());
    }
    concat(frames, UnionArgs::default()).and_then(|lf| lf.collect()).map_err(|e| Error::polars("combining staged parts", e))
}

struct KeyScan {
    /// Two rows share a key hash (perhaps a duplicate: the exact path decides).
    maybe_duplicates: bool,
    /// Block range (min, max) of each part, in part order.
    ranges: Vec<(i64, i64)>,
}

/// Read only the key columns of every part, hash each row's natural key and report whether any
/// two are equal, with each part's block range.
fn scan_keys(table: &str, parts: &[PathBuf]) -> Result<KeyScan> {
    let mut cols: Vec<String> = schema::table(table).key.clone();
    if !cols.iter().any(|c| c == "block_number") {
        cols.push("block_number".to_string());
    }
    let mut hashes: Vec<u64> = Vec::new();
    let mut ranges = Vec::with_capacity(parts.len());
    for p in parts {
        let df = read_scratch(p, Some(cols.clone()))?;
        let err = |e| Error::polars("reading staged keys", e);
        let blocks = df.column("block_number").map_err(err)?.i64().map_err(err)?;
        ranges.push((blocks.min().unwrap_or(0), blocks.max().unwrap_or(0)));
        hashes.extend(key_hashes(table, &df)?);
    }
    hashes.sort_unstable();
    let maybe_duplicates = hashes.windows(2).any(|w| w[0] == w[1]);
    Ok(KeyScan { maybe_duplicates, ranges })
}

/// Write a partition without duplicates: parts whose block ranges overlap are sorted together
/// (stable, in part order, as the in-memory path would), runs in block order, row groups of about
/// ROW_GROUP_ROWS rows.
fn write_sorted_runs(table: &str, parts: &[PathBuf], ranges: &[(i64, i64)], path: &Path) -> Result<()> {
    let mut order_idx: Vec<usize> = (0..parts.len()).collect();
    order_idx.sort_by_key(|&i| (ranges[i].0, i));
    let mut runs: Vec<Vec<usize>> = Vec::new();
    let mut run_max = i64::MIN;
    for i in order_idx {
        match runs.last_mut() {
            Some(run) if ranges[i].0 <= run_max => run.push(i),
            _ => runs.push(vec![i]),
        }
        run_max = run_max.max(ranges[i].1);
    }
    let mut writer = PartitionWriter::create(table, path)?;
    for mut run in runs {
        run.sort_unstable(); // part order inside a run: ties keep the order of the input files
        let files: Vec<PathBuf> = run.iter().map(|&i| parts[i].clone()).collect();
        writer.push(sort_chain_order(table, concat_parts(&files)?)?)?;
    }
    writer.finish()
}

/// Rows that stand for an input item (a transaction's own value transfer does not: the transaction row does).
fn counted_rows(table: &str, df: &DataFrame) -> Result<u64> {
    match table {
        // A UTXO transaction is one input item: its first output stands for it.
        "utxo_outputs" => {
            let vout = df.column("vout").map_err(|e| Error::polars("counting outputs", e))?;
            return Ok(vout.i64().map_err(|e| Error::polars("counting outputs", e))?.iter().filter(|v| *v == Some(0)).count() as u64);
        }
        "utxo_inputs" => return Ok(0),
        "transfers" => {}
        _ => return Ok(df.height() as u64),
    }
    let err = |e| Error::polars("counting transfers", e);
    let derived = df.column("log_index").map_err(err)?.is_null().bitand(df.column("trace_address").map_err(err)?.is_null());
    Ok((df.height() - derived.sum().unwrap_or(0) as usize) as u64)
}

use std::ops::BitAnd;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Format;

    /// A chunk's block range from its path, in each layout a chain export uses; none when the path
    /// gives none (a reorg buffer then refuses the file).
    #[test]
    fn chunk_ranges_come_from_the_path() {
        let r = |f: Format, p: &str| chunk_range(f, Path::new(p));
        assert_eq!(r(Format::Cryo, "/x/ethereum__blocks__00001000_to_00001999.parquet"), Some((1000, 1999)));
        assert_eq!(r(Format::Cryo, "/x/ethereum__blocks__2000_to_1999.parquet"), None, "a range that ends before it starts");
        assert_eq!(r(Format::Cryo, "/x/blocks.parquet"), None);
        assert_eq!(
            r(Format::EthereumEtl, "/e/blocks/start_block=00100000/end_block=00199999/blocks_00100000_00199999.csv"),
            Some((100000, 199999))
        );
        assert_eq!(r(Format::EthereumEtl, "/e/token_transfers_00000000_00099999.csv.gz"), Some((0, 99999)));
        assert_eq!(r(Format::EthereumEtl, "/e/token_transfers_00000000_00099999.csv"), Some((0, 99999)));
        assert_eq!(r(Format::EthereumEtl, "/e/blocks.csv"), None);
    }
}
