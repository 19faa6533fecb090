//! Report rendering: tables (CSV, Markdown, LaTeX booktabs), charts (SVG and PNG) and the
//! self-contained HTML page. Every text cell may come from an input file and is escaped for the
//! format it is written in.

pub mod charts;
pub mod html;
pub mod tables;
pub mod theme;
