//! Report rendering: tables (CSV, Markdown, LaTeX booktabs). Every text cell may come from an input
//! file and is escaped for the format it is written in.

pub mod tables;
