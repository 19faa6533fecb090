//! What the CLI prints: progress bars on a terminal, summaries, frames as table/CSV/JSON.

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};
use polars::prelude::*;

use crate::args::OutputFormat;
use ifr_pipeline::config::SourceSpec;
use ifr_pipeline::{IngestSummary, SourceSummary, TableInfo};

/// How progress is shown: bars on a terminal, one JSON object per line otherwise (cron's log), or
/// nothing but errors (`--quiet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogMode {
    Terminal,
    Json,
    Quiet,
}

impl LogMode {
    pub fn detect(quiet: bool) -> LogMode {
        if quiet {
            LogMode::Quiet
        } else if std::io::stderr().is_terminal() {
            LogMode::Terminal
        } else {
            LogMode::Json
        }
    }
}

/// On a terminal, a bar per source that moves with the bytes read (inside a file too, for the
/// formats read as a stream; a Parquet file counts when it is done), and a line per step of the
/// report or the trace, with a bar of the transfers walked; log lines otherwise.
pub struct Bars {
    bar: std::cell::RefCell<Option<ProgressBar>>,
    /// The thread moving the source's bar with the bytes read.
    ticker: std::cell::RefCell<Option<Ticker>>,
    /// The current step of the report or the trace: its bar, stage, words and start.
    step: std::cell::RefCell<Option<(ProgressBar, &'static str, String, std::time::Instant)>>,
    /// Tenths of the trace's walk already logged (JSON mode).
    walked_tenths: std::cell::Cell<u64>,
    mode: LogMode,
}

/// Where a source's reading is: bytes of the files done, the current file's size, and the input
/// byte counter when it started.
#[derive(Default)]
struct ByteState {
    done: u64,
    file: u64,
    base: u64,
}

struct Ticker {
    state: std::sync::Arc<std::sync::Mutex<ByteState>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: std::thread::JoinHandle<()>,
}

impl Ticker {
    fn start(bar: ProgressBar) -> Ticker {
        let state =
            std::sync::Arc::new(std::sync::Mutex::new(ByteState { base: ifr_pipeline::sources::bytes_read(), ..Default::default() }));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, st) = (state.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while !st.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(b) = s.lock() {
                    let inside = ifr_pipeline::sources::bytes_read().saturating_sub(b.base).min(b.file);
                    bar.set_position(b.done + inside);
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        });
        Ticker { state, stop, handle }
    }

    /// The previous file is done; `size` bytes of the next one start now.
    fn next_file(&self, size: u64) {
        if let Ok(mut b) = self.state.lock() {
            b.done += b.file;
            b.file = size;
            b.base = ifr_pipeline::sources::bytes_read();
        }
    }

    fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.handle.join();
    }
}

impl Bars {
    pub fn new(mode: LogMode) -> Bars {
        Bars {
            bar: std::cell::RefCell::new(None),
            ticker: std::cell::RefCell::new(None),
            step: std::cell::RefCell::new(None),
            walked_tenths: std::cell::Cell::new(0),
            mode,
        }
    }

    /// End the current step, if any: a line with its time on a terminal, a log line otherwise.
    fn end_step(&self) {
        if let Some((bar, stage, what, t0)) = self.step.borrow_mut().take() {
            let secs = t0.elapsed().as_secs_f64();
            bar.finish_and_clear();
            if self.mode == LogMode::Terminal {
                eprintln!("{stage:>20} {what} ({secs:.1} s)");
            }
            self.log("info", stage, serde_json::json!({"event": "step finished", "step": what, "seconds": secs}));
        }
    }

    /// One log line on stderr: time, level, stage, and the event's fields.
    fn log(&self, level: &str, stage: &str, fields: serde_json::Value) {
        if self.mode != LogMode::Json {
            return;
        }
        let mut line = serde_json::json!({
            "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "level": level,
            "stage": stage,
        });
        if let (Some(line), serde_json::Value::Object(f)) = (line.as_object_mut(), fields) {
            line.extend(f);
        }
        eprintln!("{line}");
    }
}

impl Drop for Bars {
    /// A run that failed mid-source leaves no ticking thread behind.
    fn drop(&mut self) {
        if let Some(t) = self.ticker.get_mut().take() {
            t.stop();
        }
    }
}

impl ifr_pipeline::Progress for Bars {
    fn source_started(&self, spec: &SourceSpec, files: usize, bytes: u64) {
        self.log("info", "ingest", serde_json::json!({"source": spec.name, "event": "started", "files": files, "bytes": bytes}));
        if self.mode != LogMode::Terminal {
            return;
        }
        let b = ProgressBar::new(bytes);
        let style = ProgressStyle::with_template("{prefix:>20} [{bar:30}] {bytes}/{total_bytes} {elapsed:>4} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        b.set_style(style);
        b.set_prefix(spec.name.clone());
        b.set_message(format!("{} · {files} file(s)", spec.format.as_str()));
        b.enable_steady_tick(std::time::Duration::from_millis(200));
        *self.ticker.borrow_mut() = Some(Ticker::start(b.clone()));
        *self.bar.borrow_mut() = Some(b);
    }

    fn file_started(&self, path: &std::path::Path) {
        if let Some(t) = self.ticker.borrow().as_ref() {
            t.next_file(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0));
        }
        if let Some(b) = self.bar.borrow().as_ref() {
            b.set_message(path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        }
    }

    fn step(&self, stage: &'static str, what: &str) {
        self.end_step();
        self.walked_tenths.set(0);
        self.log("info", stage, serde_json::json!({"event": "step started", "step": what}));
        let b = if self.mode == LogMode::Terminal { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
        b.set_style(
            ProgressStyle::with_template("{prefix:>20} {spinner} {wide_msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        b.set_prefix(stage);
        b.set_message(what.to_string());
        b.enable_steady_tick(std::time::Duration::from_millis(200));
        *self.step.borrow_mut() = Some((b, stage, what.to_string(), std::time::Instant::now()));
    }

    fn rows_walked(&self, done: u64, total: u64) {
        if let Some((b, stage, _, _)) = self.step.borrow().as_ref() {
            if b.length() != Some(total) {
                b.set_length(total);
                b.set_style(
                    ProgressStyle::with_template("{prefix:>20} [{bar:30}] {human_pos}/{human_len} transfers {elapsed:>4} {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
            }
            b.set_position(done);
            let tenths = (done * 10).checked_div(total).unwrap_or(10);
            if tenths > self.walked_tenths.get() {
                self.walked_tenths.set(tenths);
                self.log("info", stage, serde_json::json!({"event": "walking", "transfers": done, "of": total}));
            }
        }
    }

    fn stage_finished(&self, _stage: &'static str) {
        self.end_step();
    }

    fn ingest_finished(&self, summary: &ifr_pipeline::IngestSummary) {
        // A closed stdout is handled when the report's line is printed.
        if self.mode != LogMode::Quiet {
            let _ = print_ingest(summary);
        }
    }

    fn generating_sample(&self, out: &std::path::Path) {
        let what = format!(
            "generating the sample dataset in {} (first run, or its options or reference data changed; deterministic)",
            out.display()
        );
        match self.mode {
            LogMode::Terminal => eprintln!("{what} …"),
            LogMode::Json => self.log("info", "sample", serde_json::json!({"event": "generating", "message": what})),
            LogMode::Quiet => {}
        }
    }

    fn loading_again(&self, spec: &SourceSpec, why: &str) {
        self.log("info", "ingest", serde_json::json!({"source": spec.name, "event": "loading again through part files", "why": why}));
        if let Some(t) = self.ticker.borrow().as_ref()
            && let Ok(mut b) = t.state.lock()
        {
            *b = ByteState { base: ifr_pipeline::sources::bytes_read(), ..Default::default() };
        }
        if let Some(b) = self.bar.borrow().as_ref() {
            b.set_position(0);
            b.println(format!("{:>20} loading again through part files: {why}", spec.name));
        }
    }

    fn loading_whole(&self, spec: &SourceSpec, why: &str) {
        self.log("info", "ingest", serde_json::json!({"source": spec.name, "event": "loading every chunk again", "why": why}));
        if let Some(b) = self.bar.borrow().as_ref() {
            b.println(format!("{:>20} loading every chunk again: {why}", spec.name));
        }
    }

    fn source_finished(&self, s: &SourceSummary) {
        let c = &s.counts;
        self.log(
            "info",
            "ingest",
            serde_json::json!({
                "source": s.name, "event": "finished", "status": s.status, "seconds": s.seconds,
                "read": c.read, "loaded": c.loaded, "quarantined": c.quarantined, "duplicates": c.duplicates, "filtered": c.filtered,
            }),
        );
        if let Some(t) = self.ticker.borrow_mut().take() {
            t.stop();
        }
        if let Some(b) = self.bar.borrow_mut().take() {
            b.finish_and_clear();
            eprintln!("{:>20} {} in {:.2} s", s.name, s.status, s.seconds);
        }
        if !s.held_back.is_empty() {
            let what = format!(
                "{}: {} chunk(s) within the reorg buffer of the newest block not loaded yet: {}",
                s.name,
                s.held_back.len(),
                s.held_back.iter().map(|p| file_label(p)).collect::<Vec<_>>().join(", ")
            );
            match self.mode {
                LogMode::Terminal => eprintln!("{:>20} {what}", ""),
                LogMode::Json => {
                    self.log("info", "ingest", serde_json::json!({"source": s.name, "held_back": s.held_back, "message": what}))
                }
                LogMode::Quiet => {}
            }
        }
        // Rows set aside are worth a look whoever reads the log.
        if c.quarantined > 0 {
            let what = format!(
                "{}: {} row(s) quarantined, each with its reason: ifr sql \"SELECT * FROM quarantine WHERE source = '{}'\"",
                s.name, c.quarantined, s.name
            );
            match self.mode {
                LogMode::Terminal => eprintln!("warning: {what}"),
                LogMode::Json => {
                    self.log("warn", "ingest", serde_json::json!({"source": s.name, "quarantined": c.quarantined, "message": what}))
                }
                LogMode::Quiet => {}
            }
        }
    }
}

/// One summary line per source: rows read, loaded, quarantined, duplicates, filtered, file hashes.
pub fn print_ingest(s: &IngestSummary) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for src in &s.sources {
        let c = &src.counts;
        let hashes: Vec<String> = src.files.iter().map(|f| format!("{}:{}", file_label(&f.path), &f.sha256[..12])).collect();
        writeln!(
            out,
            "{} [{} {}] {}: read {}, loaded {}, quarantined {}, duplicates {}, filtered {}; {}files {}",
            src.name,
            src.kind,
            src.format,
            src.status,
            c.read,
            c.loaded,
            c.quarantined,
            c.duplicates,
            c.filtered,
            src.method.as_ref().map(|m| format!("{m}; ")).unwrap_or_default(),
            hashes.join(" ")
        )?;
    }
    for r in &s.removed {
        writeln!(out, "{r}: removed (no longer in the config)")?;
    }
    writeln!(out, "lake {} · run report {}", s.lake, s.report)?;
    Ok(())
}

pub fn print_report(r: &ifr_pipeline::stages::report::ReportSummary) -> std::io::Result<()> {
    let years: Vec<String> = r.years.iter().map(|y| y.to_string()).collect();
    writeln!(std::io::stdout().lock(), "report for {} written to {} ({} files)", years.join(", "), r.out, r.files)
}

/// One row per method and asset: seeded, arrived per stopping category, held, gaps.
pub fn trace_summary_frame(s: &[ifr_pipeline::stages::trace::TraceSummary], stop: &[String]) -> PolarsResult<DataFrame> {
    let mut cols = vec![
        Column::new("method".into(), s.iter().map(|x| x.method.as_str()).collect::<Vec<_>>()),
        Column::new("seed".into(), s.iter().map(|x| x.seed.clone()).collect::<Vec<_>>()),
        Column::new("chain".into(), s.iter().map(|x| x.chain.clone()).collect::<Vec<_>>()),
        Column::new("asset".into(), s.iter().map(|x| x.asset.clone()).collect::<Vec<_>>()),
        Column::new("seeded".into(), s.iter().map(|x| x.seeded).collect::<Vec<_>>()),
    ];
    for c in stop {
        cols.push(Column::new(c.as_str().into(), s.iter().map(|x| x.arrived.get(c).copied().unwrap_or(0.0)).collect::<Vec<_>>()));
    }
    cols.push(Column::new("held".into(), s.iter().map(|x| x.held).collect::<Vec<_>>()));
    cols.push(Column::new("gaps".into(), s.iter().map(|x| x.gaps).collect::<Vec<_>>()));
    DataFrame::new(s.len(), cols)
}

pub fn trace_rows_frame(r: &[ifr_pipeline::stages::trace::TraceRow]) -> PolarsResult<DataFrame> {
    DataFrame::new(
        r.len(),
        vec![
            Column::new("method".into(), r.iter().map(|x| x.method.as_str()).collect::<Vec<_>>()),
            Column::new("destination".into(), r.iter().map(|x| x.destination.clone()).collect::<Vec<_>>()),
            Column::new("address".into(), r.iter().map(|x| x.address.clone()).collect::<Vec<_>>()),
            Column::new("actor".into(), r.iter().map(|x| x.actor.clone()).collect::<Vec<_>>()),
            Column::new("chain".into(), r.iter().map(|x| x.chain.clone()).collect::<Vec<_>>()),
            Column::new("asset".into(), r.iter().map(|x| x.asset.clone()).collect::<Vec<_>>()),
            Column::new("amount".into(), r.iter().map(|x| x.amount).collect::<Vec<_>>()),
            Column::new("value_usd".into(), r.iter().map(|x| x.value_usd).collect::<Vec<_>>()),
            Column::new("implausible".into(), r.iter().map(|x| x.implausible).collect::<Vec<_>>()),
            Column::new("hops".into(), r.iter().map(|x| x.hops).collect::<Vec<_>>()),
            Column::new("first_arrival".into(), r.iter().map(|x| x.first_arrival.clone()).collect::<Vec<_>>()),
            Column::new("last_arrival".into(), r.iter().map(|x| x.last_arrival.clone()).collect::<Vec<_>>()),
        ],
    )
}

fn file_label(p: &str) -> &str {
    std::path::Path::new(p).file_name().and_then(|n| n.to_str()).unwrap_or(p)
}

pub fn print_frame(df: &mut DataFrame, format: OutputFormat) -> anyhow::Result<()> {
    print_frame_limited(df, format, 0)
}

/// Like [`print_frame`]; the table format shows at most `limit` rows (0: all) and says how many
/// it left out.
pub fn print_frame_limited(df: &mut DataFrame, format: OutputFormat, limit: usize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        OutputFormat::Table => write_table(&mut out, df, limit)?,
        OutputFormat::Csv => CsvWriter::new(&mut out).include_header(true).finish(df)?,
        OutputFormat::Json => {
            JsonWriter::new(&mut out).with_json_format(JsonFormat::Json).finish(df)?;
            writeln!(out)?;
        }
    }
    Ok(())
}

/// A plain aligned text table of every row (numbers right-aligned, NULL shown as `null`).
fn write_table(out: &mut impl Write, df: &DataFrame, limit: usize) -> anyhow::Result<()> {
    let total = df.height();
    let shown = if limit > 0 && total > limit { df.head(Some(limit)) } else { df.clone() };
    let df = &shown;
    let cols = df.columns();
    let mut cells: Vec<Vec<String>> = Vec::with_capacity(cols.len());
    let mut numeric = Vec::with_capacity(cols.len());
    for c in cols {
        let s = c.as_materialized_series();
        let mut v = vec![c.name().to_string()];
        for i in 0..s.len() {
            v.push(match s.get(i)? {
                AnyValue::Null => "null".to_string(),
                AnyValue::String(x) => x.to_string(),
                AnyValue::StringOwned(x) => x.to_string(),
                // Plain decimals (Rust's shortest round-trip form), never exponent notation.
                AnyValue::Float64(x) => format!("{x}"),
                AnyValue::Float32(x) => format!("{x}"),
                other => other.to_string(),
            });
        }
        numeric.push(c.dtype().is_primitive_numeric());
        cells.push(v);
    }
    let widths: Vec<usize> = cells.iter().map(|v| v.iter().map(|x| x.chars().count()).max().unwrap_or(0)).collect();
    for row in 0..=df.height() {
        let mut line = String::new();
        for (j, col) in cells.iter().enumerate() {
            if j > 0 {
                line.push_str("  ");
            }
            let w = widths[j];
            if numeric[j] && row > 0 {
                line.push_str(&format!("{:>w$}", col[row]));
            } else {
                line.push_str(&format!("{:<w$}", col[row]));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
        if row == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            writeln!(out, "{}", rule.join("  "))?;
        }
    }
    if df.height() < total {
        writeln!(out, "({} of {total} rows shown: --limit N shows more, --limit 0 all, -f csv or -f json write every row)", df.height())?;
    } else {
        writeln!(out, "({} row{})", total, if total == 1 { "" } else { "s" })?;
    }
    Ok(())
}

pub fn print_tables(tables: &[TableInfo], columns: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let w = tables.iter().map(|t| t.name.len()).max().unwrap_or(5);
    writeln!(out, "{:<w$}  {:>12}  {:>5}  partitioned by", "table", "rows", "files")?;
    for t in tables {
        let part = if t.partitioned_by.is_empty() { "-".to_string() } else { t.partitioned_by.join("/") };
        writeln!(out, "{:<w$}  {:>12}  {:>5}  {}", t.name, t.rows, t.files, part)?;
        if columns {
            for (name, ty, meaning) in &t.columns {
                writeln!(out, "    {name:<20} {ty:<9} {meaning}")?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}
