//! Digests of what a kept result depends on (the scans' results, the tracer's checkpoint): equal
//! digests, equal results.

use polars::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// ifr itself: its version and its executable (size and modification time), so that a rebuilt ifr
/// never reads what another build kept (and, when the executable cannot be read, nothing kept).
pub fn program(h: &mut Sha256) {
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    match std::env::current_exe().and_then(std::fs::metadata).and_then(|m| Ok((m.len(), m.modified()?))) {
        Ok((len, modified)) => {
            h.update(len.to_le_bytes());
            h.update(format!("{modified:?}").as_bytes());
        }
        // Unknown (replaced while running): a digest nothing kept can have.
        Err(_) => h.update(crate::lake::new_run_id().as_bytes()),
    }
}

/// A frame's contents: its columns and rows, as CSV (floats written to round-trip exactly), with
/// their length first so that two frames in a row cannot be confused with two others.
pub fn frame(h: &mut Sha256, df: &DataFrame) -> Result<()> {
    let mut bytes = Vec::new();
    let mut df = df.clone();
    CsvWriter::new(&mut bytes).include_header(true).finish(&mut df).map_err(|e| Error::polars("hashing a frame", e))?;
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(&bytes);
    Ok(())
}

/// A piece of text, with its length first.
pub fn text(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_le_bytes());
    h.update(s.as_bytes());
}
