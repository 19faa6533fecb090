//! Row accounting: what became of every input row of a source (loaded, quarantined, duplicate or
//! filtered). Below the sources, which fill it, and the lake, whose state keeps it.

use std::collections::BTreeMap;

use serde::Serialize;

/// Per-source counts; `read = loaded + quarantined + duplicates + filtered`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Counts {
    pub read: u64,
    pub loaded: u64,
    pub quarantined: u64,
    pub duplicates: u64,
    pub filtered: u64,
    /// Why rows were filtered, with counts.
    pub filtered_reasons: BTreeMap<String, u64>,
}

impl Counts {
    pub fn balanced(&self) -> bool {
        self.read == self.loaded + self.quarantined + self.duplicates + self.filtered
    }

    pub fn add(&mut self, o: &Counts) {
        self.read += o.read;
        self.loaded += o.loaded;
        self.quarantined += o.quarantined;
        self.duplicates += o.duplicates;
        self.filtered += o.filtered;
        for (k, v) in &o.filtered_reasons {
            *self.filtered_reasons.entry(k.clone()).or_default() += v;
        }
    }
}
