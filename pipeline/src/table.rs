//! Building lake tables row by row, typed by the documented schema, and writing them as Parquet.

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::schema::{ColType, TableSchema};

/// One value of a row, in the order of the table's documented columns.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Str(String),
    I64(i64),
    I32(i32),
    F64(f64),
    Bool(bool),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since the epoch, UTC.
    Datetime(i64),
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Str(s)
    }
}
impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Str(s.to_string())
    }
}
impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Self {
        v.map_or(Cell::Null, Into::into)
    }
}
impl From<i64> for Cell {
    fn from(v: i64) -> Self {
        Cell::I64(v)
    }
}
impl From<i32> for Cell {
    fn from(v: i32) -> Self {
        Cell::I32(v)
    }
}
impl From<f64> for Cell {
    fn from(v: f64) -> Self {
        Cell::F64(v)
    }
}
impl From<bool> for Cell {
    fn from(v: bool) -> Self {
        Cell::Bool(v)
    }
}

enum ColBuf {
    Str(Vec<Option<String>>),
    I64(Vec<Option<i64>>),
    I32(Vec<Option<i32>>),
    F64(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Date(Vec<Option<i32>>),
    Datetime(Vec<Option<i64>>),
}

/// Accumulates rows of one table.
pub struct TableBuilder {
    schema: &'static TableSchema,
    cols: Vec<ColBuf>,
    len: usize,
}

impl TableBuilder {
    pub fn new(schema: &'static TableSchema) -> Self {
        let cols = schema
            .columns
            .iter()
            .map(|c| match c.ty {
                ColType::Str => ColBuf::Str(Vec::new()),
                ColType::I64 => ColBuf::I64(Vec::new()),
                ColType::I32 => ColBuf::I32(Vec::new()),
                ColType::F64 => ColBuf::F64(Vec::new()),
                ColType::Bool => ColBuf::Bool(Vec::new()),
                ColType::Date => ColBuf::Date(Vec::new()),
                ColType::Datetime => ColBuf::Datetime(Vec::new()),
            })
            .collect();
        TableBuilder { schema, cols, len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Append a row; cells follow the schema's column order. A type mismatch is a bug in a loader.
    pub fn push(&mut self, row: Vec<Cell>) -> Result<()> {
        if row.len() != self.cols.len() {
            return Err(Error::Internal(format!(
                "{}: row has {} cells, the table has {} columns",
                self.schema.table,
                row.len(),
                self.cols.len()
            )));
        }
        for (i, (buf, cell)) in self.cols.iter_mut().zip(row).enumerate() {
            let col = &self.schema.columns[i];
            if cell == Cell::Null && !col.nullable {
                return Err(Error::Internal(format!("{}.{} is not nullable", self.schema.table, col.name)));
            }
            let ok = match (buf, cell) {
                (ColBuf::Str(v), Cell::Str(s)) => {
                    v.push(Some(s));
                    true
                }
                (ColBuf::Str(v), Cell::Null) => {
                    v.push(None);
                    true
                }
                (ColBuf::I64(v), Cell::I64(x)) => {
                    v.push(Some(x));
                    true
                }
                (ColBuf::I64(v), Cell::Null) => {
                    v.push(None);
                    true
                }
                (ColBuf::I32(v), Cell::I32(x)) => {
                    v.push(Some(x));
                    true
                }
                (ColBuf::I32(v), Cell::Null) => {
                    v.push(None);
                    true
                }
                (ColBuf::F64(v), Cell::F64(x)) => {
                    v.push(Some(x));
                    true
                }
                (ColBuf::F64(v), Cell::Null) => {
                    v.push(None);
                    true
                }
                (ColBuf::Bool(v), Cell::Bool(x)) => {
                    v.push(Some(x));
                    true
                }
                (ColBuf::Bool(v), Cell::Null) => {
                    v.push(None);
                    true
                }
                (ColBuf::Date(v), Cell::Date(x)) => {
                    v.push(Some(x));
                    true
                }
                (ColBuf::Date(v), Cell::Null) => {
                    v.push(None);
                    true
                }
                (ColBuf::Datetime(v), Cell::Datetime(x)) => {
                    v.push(Some(x));
                    true
                }
                (ColBuf::Datetime(v), Cell::Null) => {
                    v.push(None);
                    true
                }
                _ => false,
            };
            if !ok {
                return Err(Error::Internal(format!("{}.{}: cell of the wrong type for {:?}", self.schema.table, col.name, col.ty)));
            }
        }
        self.len += 1;
        Ok(())
    }

    /// Turn the rows into a DataFrame with exactly the documented schema.
    pub fn finish(self) -> Result<DataFrame> {
        let height = self.len;
        let mut columns = Vec::with_capacity(self.cols.len());
        for (buf, doc) in self.cols.into_iter().zip(&self.schema.columns) {
            let name: PlSmallStr = doc.name.as_str().into();
            let s = match buf {
                ColBuf::Str(v) => Series::new(name, v),
                ColBuf::I64(v) => Series::new(name, v),
                ColBuf::I32(v) => Series::new(name, v),
                ColBuf::F64(v) => Series::new(name, v),
                ColBuf::Bool(v) => Series::new(name, v),
                ColBuf::Date(v) => Series::new(name, v).cast(&DataType::Date).map_err(|e| Error::polars("building a date column", e))?,
                ColBuf::Datetime(v) => {
                    Series::new(name, v).cast(&doc.ty.dtype()).map_err(|e| Error::polars("building a datetime column", e))?
                }
            };
            columns.push(s.into_column());
        }
        DataFrame::new(height, columns).map_err(|e| Error::polars(format!("building table {}", self.schema.table), e))
    }
}

/// A lazy scan of Parquet files holding rows of the documented `table` (an empty frame with its
/// schema when there are none).
pub fn scan_files(files: &[std::path::PathBuf], table: &str) -> Result<LazyFrame> {
    if files.is_empty() {
        return Ok(empty(crate::schema::table(table))?.lazy());
    }
    let paths: Vec<PlRefPath> = files
        .iter()
        .map(|p| PlRefPath::try_from_path(p).map_err(|e| Error::polars(format!("path `{}`", p.display()), e)))
        .collect::<Result<_>>()?;
    LazyFrame::scan_parquet_files(paths.into_iter().collect(), ScanArgsParquet::default())
        .map_err(|e| Error::polars(format!("scanning table {table}"), e))
}

/// An empty frame with the documented schema of a table.
pub fn empty(schema: &'static TableSchema) -> Result<DataFrame> {
    TableBuilder::new(schema).finish()
}

/// Write a frame as Parquet to `path` (the caller writes to a temporary path and renames).
pub fn write_parquet(df: &mut DataFrame, path: &std::path::Path) -> Result<()> {
    write_parquet_as(df, path, lake_compression(), StatisticsOptions::default())
}

/// The lake's compression: zstd level 1 (files are read many times and written once per change;
/// level 1 compresses ~2x faster than the default level 3 for a few percent more bytes).
pub fn lake_compression() -> ParquetCompression {
    ParquetCompression::Zstd(polars_utils::compression::ZstdLevel::try_new(1).ok())
}

/// A temporary file read back once by the same run (staged chain rows): Parquet with LZ4, the
/// fastest to write and read of the codecs measured (Arrow IPC's LZ4 frames checksum every block).
pub fn write_scratch(df: &mut DataFrame, path: &std::path::Path) -> Result<()> {
    write_parquet_as(df, path, ParquetCompression::Lz4Raw, StatisticsOptions::empty())
}

/// Read back a file `write_scratch` wrote (only `columns`, when given).
pub fn read_scratch(path: &std::path::Path, columns: Option<Vec<String>>) -> Result<DataFrame> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("opening", path, e))?;
    ParquetReader::new(file).with_columns(columns).finish().map_err(|e| Error::polars(format!("reading `{}`", path.display()), e))
}

fn write_parquet_as(
    df: &mut DataFrame,
    path: &std::path::Path,
    compression: ParquetCompression,
    statistics: StatisticsOptions,
) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating folder", dir, e))?;
    }
    let file = std::fs::File::create(path).map_err(|e| Error::io("creating", path, e))?;
    ParquetWriter::new(file)
        .with_compression(compression)
        .with_statistics(statistics)
        .finish(df)
        .map_err(|e| Error::polars(format!("writing `{}`", path.display()), e))?;
    Ok(())
}

/// Read a whole Parquet file ifr wrote.
pub fn read_parquet(path: &std::path::Path) -> Result<DataFrame> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("opening", path, e))?;
    ParquetReader::new(file).finish().map_err(|e| Error::polars(format!("reading `{}`", path.display()), e))
}

/// A column as text, one entry per row (NULL as "").
pub fn col_str(df: &DataFrame, c: &str) -> Result<Vec<String>> {
    let s = df.column(c).map_err(|e| Error::polars(c, e))?.cast(&DataType::String).map_err(|e| Error::polars(c, e))?;
    Ok(s.str().map_err(|e| Error::polars(c, e))?.iter().map(|v| v.unwrap_or("").to_string()).collect())
}

/// A micro-dollar column (128-bit: sums cannot overflow); NULL reads as 0, as for every sum here.
pub fn col_i128(df: &DataFrame, c: &str) -> Result<Vec<i128>> {
    let s = df.column(c).map_err(|e| Error::polars(c, e))?.cast(&DataType::Int128).map_err(|e| Error::polars(c, e))?;
    Ok(s.i128().map_err(|e| Error::polars(c, e))?.iter().map(|v| v.unwrap_or(0)).collect())
}

/// A micro-dollar column whose NULL means unknown (no figure, no price): kept as None, never 0.
pub fn col_opt_i128(df: &DataFrame, c: &str) -> Result<Vec<Option<i128>>> {
    let s = df.column(c).map_err(|e| Error::polars(c, e))?.cast(&DataType::Int128).map_err(|e| Error::polars(c, e))?;
    Ok(s.i128().map_err(|e| Error::polars(c, e))?.iter().collect())
}

/// An integer column as i64, one entry per row; NULL reads as 0.
pub fn col_i64(df: &DataFrame, c: &str) -> Result<Vec<i64>> {
    let s = df.column(c).map_err(|e| Error::polars(c, e))?.cast(&DataType::Int64).map_err(|e| Error::polars(c, e))?;
    Ok(s.i64().map_err(|e| Error::polars(c, e))?.iter().map(|v| v.unwrap_or(0)).collect())
}
