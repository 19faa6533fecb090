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
