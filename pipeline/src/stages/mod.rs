//! The pipeline's stages, one file each.

pub mod ingest;
