//! The pipeline's stages, one file each.

pub mod attribute;
pub mod ingest;
pub mod report;
pub mod trace;
pub mod value;
