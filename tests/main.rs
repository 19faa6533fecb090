//! ifr's end-to-end tests: one test binary (each links polars), modules by capability.

mod common;
mod ingest;
mod cli;
mod real_data;
mod synth;
mod report;
mod browser;
mod trace;
mod bench;
mod hostile;
