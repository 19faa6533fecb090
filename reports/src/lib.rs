//! Report assembly: one year's typed model (`model`) rendered by `assemble` into tables (CSV,
//! Markdown, LaTeX booktabs), charts (SVG and PNG), figures.json, report.md and the self-contained
//! HTML page. Every text cell may come from an input file and is escaped for the format it is
//! written in. This crate does not depend on the pipeline: it renders data, whoever computed it.

pub mod assemble;
pub mod charts;
pub mod html;
pub mod model;
pub mod tables;
pub mod theme;
