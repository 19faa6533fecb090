//! ifr's end-to-end tests: one test binary (each links polars), modules by capability.

mod bench;
mod bitcoin;
mod browser;
mod cli;
mod common;
#[cfg(feature = "ballista")]
mod engines;
mod hostile;
mod ingest;
mod queries;
mod real_data;
mod refresh;
mod report;
mod synth;
mod trace;
