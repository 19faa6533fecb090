//! The pipeline's stages, one file each, in the order data flows through them: ingest (sources →
//! lake), attribute (addresses → actors over time), value (price series, closes, ceiling, theft
//! keys), aggregate (the SQL in `queries/`), trace (Rust over the lake), methodology (the rules in
//! force, as data), report (builds each year's model, has the `reports` crate assemble it, and
//! publishes the folder atomically) and refresh (dated releases, restatements).

pub mod aggregate;
pub mod attribute;
pub mod ingest;
pub mod methodology;
pub mod refresh;
pub mod report;
pub mod trace;
pub mod value;
