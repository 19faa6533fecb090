//! The chain tables' partitions, shared by the two ways a chain source reaches the lake (streamed,
//! and through part files): partition keys and paths, chain order, natural-key hashes, times to
//! months, and the writer of a partition's file.

use std::path::{Path, PathBuf};

use chrono::{Datelike, TimeZone};
use polars::prelude::*;

use crate::error::{Error, Result};
use crate::schema;

/// The sort order of a chain table (chain order).
pub fn order(table: &str) -> &'static [&'static str] {
    match table {
        "blocks" => &["block_number"],
        "transactions" => &["block_number", "tx_index", "tx_hash"],
        "utxo_outputs" => &["block_number", "tx_index", "tx_hash", "vout"],
        "utxo_inputs" => &["block_number", "tx_index", "tx_hash", "vin"],
        _ => &["block_number", "tx_index", "tx_hash", "kind", "log_index", "trace_address"],
    }
}

/// (table, year, month): one partition of one source.
pub type PartKey = (&'static str, i32, i32);

/// A partition's file, relative to the lake: `{table}/chain={chain}/year={year}/month={month}/{source}.parquet`.
pub fn partition_path((table, y, m): PartKey, chain: &str, source: &str) -> PathBuf {
    PathBuf::from(table).join(crate::paths::partition_dir(chain, y, m)).join(format!("{source}.parquet"))
}

/// The latest time a chain row may carry: 9999-12-31T23:59:59Z, in seconds.
pub const MAX_SECONDS: i64 = 253_402_300_799;

/// Seconds since 1970 as microseconds, or None when out of range (before 1970, after year 9999):
/// never an overflow, never a silent wrap into 1969.
pub fn micros_from_secs(secs: i64) -> Option<i64> {
    (0..=MAX_SECONDS).contains(&secs).then(|| secs * 1_000_000)
}

pub fn year_month(micros: i64) -> Option<(i32, i32)> {
    let t = chrono::Utc.timestamp_micros(micros).single()?;
    Some((t.year(), t.month() as i32))
}

/// `year_month` for times that mostly stay in one month (rows in chain order): the month's bounds
/// are remembered, so a row in the same month costs two comparisons.
#[derive(Default)]
pub struct MonthOf {
    /// [from, to) in microseconds, and its (year, month).
    span: Option<(i64, i64, (i32, i32))>,
}

impl MonthOf {
    pub fn get(&mut self, micros: i64) -> Option<(i32, i32)> {
        if let Some((from, to, ym)) = self.span
            && micros >= from
            && micros < to
        {
            return Some(ym);
        }
        let (y, m) = year_month(micros)?;
        self.span = month_span(y, m).map(|(from, to)| (from, to, (y, m)));
        Some((y, m))
    }
}

/// The microseconds of month (y, m): [its first, the next month's first).
pub fn month_span(y: i32, m: i32) -> Option<(i64, i64)> {
    let start = |y: i32, m: i32| {
        chrono::NaiveDate::from_ymd_opt(y, m as u32, 1).map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc().timestamp_micros())
    };
    let (ny, nm) = if m >= 12 { (y + 1, 1) } else { (y, m + 1) };
    Some((start(y, m)?, start(ny, nm)?))
}

pub fn sort_chain_order(table: &str, df: DataFrame) -> Result<DataFrame> {
    df.sort(order(table).iter().copied(), SortMultipleOptions::default().with_nulls_last(false).with_maintain_order(true))
        .map_err(|e| Error::polars("sorting a partition", e))
}

/// Each row's natural-key hash (a fixed hasher: the same on every run). Equal keys give equal
/// hashes; equal hashes only say the keys may be equal.
pub fn key_hashes(table: &str, df: &DataFrame) -> Result<Vec<u64>> {
    use std::hash::{BuildHasher, Hash, Hasher};
    let err = |e| Error::polars("hashing natural keys", e);
    let state = polars_utils::aliases::PlFixedStateQuality::default();
    let mut row_hashes = vec![state.build_hasher(); df.height()];
    for k in &schema::table(table).key {
        let c = df.column(k).map_err(err)?;
        match c.dtype() {
            DataType::String => {
                for (h, v) in row_hashes.iter_mut().zip(c.str().map_err(err)?.iter()) {
                    v.hash(h);
                }
            }
            _ => {
                let c = c.cast(&DataType::Int64).map_err(err)?;
                for (h, v) in row_hashes.iter_mut().zip(c.i64().map_err(err)?.iter()) {
                    v.hash(h);
                }
            }
        }
    }
    Ok(row_hashes.into_iter().map(|h| h.finish()).collect())
}

/// Rows per Parquet row group, at least: sorted runs are combined until they reach it (a run is
/// never split) and written as one row group.
pub const ROW_GROUP_ROWS: usize = 64 * 1024;

/// Frames stacked into one, in order (None when there are none).
pub fn stack(frames: impl IntoIterator<Item = DataFrame>) -> Result<Option<DataFrame>> {
    let mut frames = frames.into_iter();
    let Some(mut df) = frames.next() else { return Ok(None) };
    for d in frames {
        df.vstack_mut_owned(d).map_err(|e| Error::polars("combining staged rows", e))?;
    }
    Ok(Some(df))
}

/// A partition's lake file being written from sorted runs, in row groups of at least
/// ROW_GROUP_ROWS rows (runs combined; a run never split).
pub struct PartitionWriter {
    writer: polars::io::parquet::write::BatchedWriter<std::fs::File>,
    path: PathBuf,
    /// Runs not written yet, and their rows.
    buffer: Vec<DataFrame>,
    rows: usize,
}

impl PartitionWriter {
    pub fn create(table: &str, path: &Path) -> Result<PartitionWriter> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("creating folder", dir, e))?;
        }
        let file = std::fs::File::create(path).map_err(|e| Error::io("creating", path, e))?;
        let writer = ParquetWriter::new(file)
            .with_compression(crate::table::lake_compression())
            .with_statistics(StatisticsOptions::default())
            .batched(&schema::table(table).polars_schema())
            .map_err(|e| Error::polars(format!("writing `{}`", path.display()), e))?;
        Ok(PartitionWriter { writer, path: path.to_path_buf(), buffer: Vec::new(), rows: 0 })
    }

    /// Add a run (sorted, and after every run added before it in chain order).
    pub fn push(&mut self, run: DataFrame) -> Result<()> {
        self.rows += run.height();
        self.buffer.push(run);
        if self.rows >= ROW_GROUP_ROWS { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<()> {
        self.rows = 0;
        let Some(mut df) = stack(std::mem::take(&mut self.buffer))? else { return Ok(()) };
        df.rechunk_mut_par(); // one chunk: one row group
        self.writer.write_batch(&df).map_err(|e| Error::polars(format!("writing `{}`", self.path.display()), e))
    }

    /// Write what is left and the file's footer.
    pub fn finish(mut self) -> Result<()> {
        self.flush()?;
        self.writer.finish().map_err(|e| Error::polars(format!("writing `{}`", self.path.display()), e))?;
        Ok(())
    }
}

/// A later part of a source's partition, `{source}~{first block:012}.parquet` beside
/// `{source}.parquet`: rows of blocks after every row of the files before it, so that the files
/// read in name order are the partition in chain order. A refresh that adds a day adds a part
/// instead of rewriting the month.
pub fn part_name(source: &str, first_block: i64) -> String {
    format!("{source}~{first_block:012}.parquet")
}

/// Whether a lake file's logical name is `source`'s partition file or one of its parts.
pub fn is_part_of(file_name: &str, source: &str) -> bool {
    let Some(stem) = file_name.strip_suffix(".parquet") else { return false };
    stem == source
        || stem
            .strip_prefix(source)
            .and_then(|r| r.strip_prefix('~'))
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// The most parts a partition gets before new rows are merged into one file again.
pub const MAX_PARTS: usize = 40;

/// How new rows join a partition's live files.
pub enum Joining {
    /// Every new row is of a block after every live row: they can be a part of their own, whose
    /// first block is this.
    After(i64),
    /// Some new rows are not after the live ones: the partition is rewritten in chain order.
    Merge,
    /// A new row has the natural key of a live one: which of the two a load of every chunk keeps
    /// depends on the files' order (why).
    Collides(String),
}

/// How the rows of `new` (a staged file) join the live files of their partition. Reads only the
/// live files' block numbers and their first key column (after `chain`), joined to the new rows',
/// then compares whole keys on the few rows that match.
pub fn joining(table: &'static str, live: &[PathBuf], new: &Path) -> Result<Joining> {
    let err = |e| Error::polars("comparing new rows with a partition", e);
    let add = crate::table::read_parquet(new)?;
    let scan = |p: &PathBuf| -> Result<LazyFrame> {
        LazyFrame::scan_parquet(PlRefPath::try_from_path(p).map_err(err)?, ScanArgsParquet::default()).map_err(err)
    };
    let lives = concat(live.iter().map(scan).collect::<Result<Vec<_>>>()?, UnionArgs::default()).map_err(err)?;
    let key = schema::table(table).key.iter().find(|k| *k != "chain").cloned().unwrap_or_else(|| "block_number".into());
    let new_keys = add.select([key.as_str()]).map_err(err)?.unique_stable(None, UniqueKeepStrategy::First, None).map_err(err)?;
    let same = lives
        .clone()
        .join(new_keys.lazy(), [col(key.as_str())], [col(key.as_str())], JoinArgs::new(JoinType::Inner))
        .collect()
        .map_err(err)?;
    if same.height() > 0 {
        let live_keys: std::collections::HashSet<u64> = key_hashes(table, &same)?.into_iter().collect();
        if key_hashes(table, &add)?.iter().any(|h| live_keys.contains(h)) {
            let shown = live.first().map(|p| p.display().to_string()).unwrap_or_default();
            return Ok(Joining::Collides(format!("rows of the new chunks may repeat rows already loaded into `{shown}`")));
        }
    }
    let max = lives.select([col("block_number").max()]).collect().map_err(err)?;
    let live_max = max.column("block_number").map_err(err)?.cast(&DataType::Int64).map_err(err)?.i64().map_err(err)?.get(0);
    let new_min = add.column("block_number").map_err(err)?.i64().map_err(err)?.min();
    Ok(match (live_max, new_min) {
        (Some(a), Some(b)) if b > a => Joining::After(b),
        (None, Some(b)) => Joining::After(b),
        _ => Joining::Merge,
    })
}

/// A live partition rewritten with the rows of newly loaded chunks: the live files' rows and the
/// new ones, in chain order, written to `out` in row groups of ROW_GROUP_ROWS. The caller has
/// checked with [`joining`] that no new row repeats a live row's natural key. Memory: the
/// partition's rows.
pub fn merge_into(table: &'static str, live: &[PathBuf], new: &Path, out: &Path) -> Result<()> {
    let Some(old) = stack(live.iter().map(|p| crate::table::read_parquet(p)).collect::<Result<Vec<_>>>()?)? else {
        return Err(Error::Internal("a partition to merge into has no file".into()));
    };
    let add = crate::table::read_parquet(new)?;
    let err = |e| Error::polars("merging a partition", e);
    let old_max = old.column("block_number").map_err(err)?.i64().map_err(err)?.max();
    let new_min = add.column("block_number").map_err(err)?.i64().map_err(err)?.min();
    // The usual case, new blocks after the live ones, needs no sort.
    let after = match (old_max, new_min) {
        (Some(a), Some(b)) => b > a,
        _ => true,
    };
    let Some(mut df) = stack([old, add])? else { return Ok(()) };
    if !after {
        df = sort_chain_order(table, df)?;
    }
    let mut writer = PartitionWriter::create(table, out)?;
    let mut offset = 0;
    while offset < df.height() {
        let len = ROW_GROUP_ROWS.min(df.height() - offset);
        writer.push(df.slice(offset as i64, len))?;
        offset += len;
    }
    writer.finish()?;
    Ok(())
}

/// A chain table file's lowest and highest block and its rows; None when it holds no rows.
pub fn block_span(file: &Path, table: &str) -> Result<Option<(i64, i64, u64)>> {
    let err = |e| Error::polars(format!("reading the block range of `{}`", file.display()), e);
    let df = crate::table::scan_files(&[file.to_path_buf()], table)?
        .select([col("block_number").min().alias("lo"), col("block_number").max().alias("hi"), len().alias("n")])
        .collect()
        .map_err(err)?;
    let get =
        |c: &str| -> Result<Option<i64>> { Ok(df.column(c).map_err(err)?.cast(&DataType::Int64).map_err(err)?.i64().map_err(err)?.get(0)) };
    Ok(match (get("lo")?, get("hi")?, get("n")?) {
        (Some(lo), Some(hi), Some(n)) => Some((lo, hi, n.max(0) as u64)),
        _ => None,
    })
}

/// Block ranges `(lo, hi, rows)` cut into consecutive windows `lo..=hi` of about `window_rows`
/// rows each (rows spread evenly over each range's blocks), covering every block of every range.
pub fn block_windows(ranges: &[(i64, i64, u64)], window_rows: u64) -> Vec<(i64, i64)> {
    let mut points: Vec<i64> = ranges.iter().flat_map(|(lo, hi, _)| [*lo, hi.saturating_add(1)]).collect();
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    let (mut open, mut filled) = (None::<i64>, 0.0f64);
    for seg in points.windows(2) {
        let (a, b) = (seg[0], seg[1]);
        // Rows per block in [a, b): the ranges covering it.
        let density: f64 =
            ranges.iter().filter(|(lo, hi, _)| *lo <= a && a <= *hi).map(|(lo, hi, n)| *n as f64 / (hi - lo + 1) as f64).sum();
        if density <= 0.0 {
            continue;
        }
        let mut x = a;
        while x < b {
            let start = *open.get_or_insert(x);
            let need = ((window_rows as f64 - filled) / density).ceil().max(1.0);
            let take = if need >= (b - x) as f64 { b - x } else { need as i64 };
            filled += take as f64 * density;
            x += take;
            if filled >= window_rows as f64 {
                out.push((start, x - 1));
                (open, filled) = (None, 0.0);
            }
        }
    }
    if let (Some(start), Some(end)) = (open, points.last()) {
        out.push((start, end - 1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_named_after_their_first_block_and_sort_after_the_partition_file() {
        assert_eq!(part_name("chain", 15_537_393), "chain~000015537393.parquet");
        let mut names = vec![part_name("chain", 200), "chain.parquet".to_string(), part_name("chain", 3)];
        names.sort();
        assert_eq!(names, ["chain.parquet", "chain~000000000003.parquet", "chain~000000000200.parquet"]);
        assert!(is_part_of("chain.parquet", "chain") && is_part_of("chain~000000000003.parquet", "chain"));
        for other in ["chain2.parquet", "chain~.parquet", "chain~12a.parquet", "chain~3.csv", "other~000000000003.parquet"] {
            assert!(!is_part_of(other, "chain"), "{other}");
        }
    }

    #[test]
    fn windows_cover_every_block_once_in_order() {
        // 100 rows over blocks 0..=9, 50 over 5..=14, nothing in 15..=19, 10 over 20..=20.
        let ranges = [(0, 9, 100), (5, 14, 50), (20, 20, 10)];
        let w = block_windows(&ranges, 40);
        // 10 rows a block in 0..=4, 15 in 5..=9, 5 in 10..=14, 10 in block 20: the last window
        // holds 35 (nothing is left to fill it) and spans the empty blocks 15..=19.
        assert_eq!(w, [(0, 3), (4, 6), (7, 9), (10, 20)]);
        // One window when it holds everything; a window per block when a block is above the size.
        assert_eq!(block_windows(&ranges, 1_000), [(0, 20)]);
        assert_eq!(block_windows(&[(7, 9, 3)], 1), [(7, 7), (8, 8), (9, 9)]);
        assert!(block_windows(&[], 10).is_empty());
    }
}
