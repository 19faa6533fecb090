//! Header-checked CSV reading shared by the CSV formats: columns are found by name, a missing
//! required column stops the file with the expected names, and rows come with their line numbers.

use std::path::Path;

use crate::error::{Error, Result};

pub struct CsvFile {
    pub reader: csv::Reader<Box<dyn std::io::Read + Send>>,
    pub headers: Vec<String>,
}

impl CsvFile {
    /// Open a CSV with a header row; `required` columns must be present.
    pub fn open(path: &Path, required: &[&str]) -> Result<CsvFile> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(super::open_maybe_compressed(path)?);
        let headers: Vec<String> = reader
            .headers()
            .map_err(|e| Error::input_caused(path, "not readable as CSV", e))?
            .iter()
            .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
            .collect();
        let missing: Vec<&str> = required.iter().copied().filter(|r| !headers.iter().any(|h| h == r)).collect();
        if !missing.is_empty() {
            return Err(Error::input(
                path,
                format!(
                    "missing column(s) {}; expected a header with {} (found: {})",
                    missing.join(", "),
                    required.join(","),
                    headers.join(",")
                ),
            ));
        }
        Ok(CsvFile { reader, headers })
    }

    pub fn index(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }
}

/// A row whose field count differs from the header's is not loaded: an extra or a missing comma
/// shifts every later field into the wrong column (a `transaction_index` read from the next one).
pub fn width_mismatch(rec: &csv::StringRecord, width: usize) -> Option<String> {
    (rec.len() != width).then(|| format!("row has {} field(s), the header has {width}; expected one field per column", rec.len()))
}

/// A record's field by column index; missing (short row) reads as empty.
pub fn get(rec: &csv::StringRecord, idx: Option<usize>) -> &str {
    idx.and_then(|i| rec.get(i)).unwrap_or("")
}

/// The 1-based line a record starts on.
pub fn line(rec: &csv::StringRecord) -> i64 {
    rec.position().map_or(0, |p| p.line() as i64)
}

/// A row of a header-checked CSV, its fields read by column name.
pub struct NamedRow<'a> {
    rec: csv::StringRecord,
    columns: &'a [&'a str],
    idx: &'a [Option<usize>],
}

impl NamedRow<'_> {
    /// The trimmed field of `name` (one of the columns the reader was given); "" when absent.
    pub fn get(&self, name: &str) -> String {
        let i = self.columns.iter().position(|c| *c == name).and_then(|i| self.idx[i]);
        get(&self.rec, i).trim().to_string()
    }
}

/// Read every row of the CSV at `path` (a header with the `required` columns; `columns` are the
/// names rows are read by): each row is counted as read, a row whose width differs from the
/// header's is quarantined here, and every other row is given to `each` with its place.
pub fn each_named_row(
    path: &Path,
    acc: &mut super::Acc,
    required: &[&str],
    columns: &[&str],
    mut each: impl FnMut(&mut super::Acc, super::At<'_>, &NamedRow<'_>) -> Result<()>,
) -> Result<()> {
    let mut csv = CsvFile::open(path, required)?;
    let idx: Vec<Option<usize>> = columns.iter().map(|c| csv.index(c)).collect();
    let width = csv.headers.len();
    for rec in csv.reader.records() {
        let rec = rec.map_err(|e| Error::input_caused(path, "not readable as CSV", e))?;
        acc.read();
        let at = super::At::new(path, line(&rec));
        if let Some(why) = width_mismatch(&rec, width) {
            acc.quarantine(at, None, None, why)?;
            continue;
        }
        each(acc, at, &NamedRow { rec, columns, idx: &idx })?;
    }
    Ok(())
}
