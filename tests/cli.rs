//! The `ifr` binary end to end: exit codes, messages, and golden outputs of `ifr tables` and `ifr sql`.

use crate::common::*;

#[test]
fn tables_and_sql_golden_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let s = crate::ingest::full_config(tmp.path());
    let o = ifr(tmp.path(), &["ingest"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    // One summary line per source, then the lake line.
    assert_eq!(out.lines().count(), s.sources.len() + 1, "{out}");
    assert!(out.contains("etl [chain ethereum-etl] loaded: read 26, loaded 10, quarantined 10, duplicates 4, filtered 2; files "), "{out}");

    let o = ifr(tmp.path(), &["tables", "--brief"]);
    assert!(o.status.success(), "{}", stderr(&o));
    golden("tables.txt", &stdout(&o));
    let o = ifr(tmp.path(), &["tables"]);
    assert!(o.status.success(), "{}", stderr(&o));
    golden("tables_columns.txt", &stdout(&o));

    let q = "SELECT party_name, currency, address, listed_date, delisted_date FROM sanctions WHERE source = 'ofac' ORDER BY address";
    for (fmt, file) in [("table", "sql_table.txt"), ("csv", "sql.csv"), ("json", "sql.json")] {
        let o = ifr(tmp.path(), &["sql", q, "--format", fmt]);
        assert!(o.status.success(), "{}", stderr(&o));
        golden(file, &stdout(&o));
    }
    let o = ifr(
        tmp.path(),
        &[
            "sql",
            "SELECT asset, count(*) AS days, min(day) AS first, max(close_usd) AS max_close FROM prices GROUP BY asset ORDER BY asset",
            "-f",
            "csv",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    golden("sql_prices.csv", &stdout(&o));
}

#[test]
fn user_errors_exit_1_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    // No ifr.toml here.
    let o = ifr(tmp.path(), &["tables"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no config file `ifr.toml`"), "{}", stderr(&o));

    std::fs::write(
        tmp.path().join("ifr.toml"),
        "lake = 'l'\n[[sources]]\nkind = 'prices'\nformat = 'yahoo'\npath = 'x.csv'\nchian = 'ethereum'\n",
    )
    .unwrap();
    let o = ifr(tmp.path(), &["ingest"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("unknown field `chian`"), "{}", stderr(&o));

    std::fs::write(tmp.path().join("ifr.toml"), "[[sources]]\nkind = 'prices'\nformat = 'yahoo'\npath = 'missing/*.csv'\n").unwrap();
    let o = ifr(tmp.path(), &["ingest"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("matches no yahoo file"), "{}", stderr(&o));

    let o = ifr(tmp.path(), &["sql", "SELECT nope FROM prices"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("query:"), "{}", stderr(&o));
}

#[test]
fn the_default_config_generates_the_sample_and_loads_it() {
    // The README's first command runs `ifr ingest` at the project root with ./ifr.toml; do the same
    // on a copy (the sample is generated beside the copied config, never into the source tree).
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("ifr.toml"))
        .unwrap()
        .replace("\"data/reference", &format!("\"{}", root().join("data/reference").display()));
    std::fs::write(tmp.path().join("ifr.toml"), text).unwrap();
    let o = ifr(tmp.path(), &["ingest"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("generating the sample dataset"), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("chain [chain cryo] loaded: read 599"), "{out}");
    // The sample covers Bitcoin too: every input resolves, and the links load.
    assert!(out.contains("bitcoin [chain bitcoin-etl] loaded: read "), "{out}");
    assert!(out.contains("(0 spend outputs not loaded)"), "{out}");
    assert!(out.contains("links [links ifr-links] loaded: read 9, loaded 9,"), "{out}");
    assert_eq!(out.matches("quarantined 0,").count(), 10, "{out}");
    let o = ifr(tmp.path(), &["sql", "SELECT id, actor FROM incidents ORDER BY date", "-f", "csv"]);
    assert_eq!(
        stdout(&o),
        "id,actor\nliquid-2021,dprk\nronin-2022,lazarus_group\nharmony-2022,lazarus_group\natomic-wallet-2023,tradertraitor\nalphapo-2023,tradertraitor\nstake-2023,lazarus_group\ncoinex-2023,lazarus_group\nheco-bridge-2023,lazarus_group\nhtx-2023,lazarus_group\n"
    );
    // A second run finds the sample and the lake as they were.
    let o = ifr(tmp.path(), &["ingest"]);
    assert!(!stderr(&o).contains("generating"), "{}", stderr(&o));
    assert_eq!(stdout(&o).matches(" unchanged: ").count(), 10, "{}", stdout(&o));
}

/// The help texts and the main error messages, as a user sees them (temporary paths redacted):
/// a reviewed diff whenever any of them changes.
#[test]
fn help_and_main_error_messages_match_their_goldens() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let redact = |s: String| s.replace(&d.display().to_string(), "<tmp>");
    let mut text = String::new();
    let mut show = |args: &[&str], config: Option<&str>| {
        if let Some(c) = config {
            std::fs::write(d.join("ifr.toml"), c).unwrap();
        }
        let o = ifr(d, args);
        text.push_str(&format!(
            "$ ifr {}\nexit {}\n{}{}\n",
            args.join(" "),
            o.status.code().map_or("signal".into(), |c| c.to_string()),
            stdout(&o),
            stderr(&o)
        ));
    };
    show(&["--help"], None);
    show(&["run", "--help"], None);
    show(&["bogus"], None);
    show(&["ingest"], Some("lake = 'l'\nlakes = 'x'\n"));
    show(&["ingest"], Some("[[sources]]\nkind = 'prices'\nformat = 'coingecko'\npath = 'p.csv'\n"));
    show(&["ingest"], Some("[[sources]]\nname = 'p'\nkind = 'prices'\nformat = 'price-csv'\npath = 'missing.csv'\n"));
    show(&["ingest"], Some("lake = '.'\n"));
    show(&["report"], Some("[report]\nout = '/'\n"));
    golden("cli_messages.txt", &redact(text));
}

/// Off a terminal (cron), progress is one JSON object per line on stderr, and quarantined rows
/// raise a warning naming the source and count; `--quiet` prints nothing at all.
#[test]
fn off_a_terminal_progress_is_json_lines_and_quiet_prints_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    crate::ingest::full_config(tmp.path());
    let o = ifr(tmp.path(), &["ingest"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> =
        stderr(&o).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line: {l}: {e}"))).collect();
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| l["time"].is_string() && l["level"].is_string() && l["stage"] == "ingest"), "{lines:?}");
    let etl: Vec<&serde_json::Value> = lines.iter().filter(|l| l["source"] == "etl").collect();
    assert!(etl.iter().any(|l| l["event"] == "started"), "{etl:?}");
    assert!(etl.iter().any(|l| l["event"] == "finished" && l["read"] == 26 && l["loaded"] == 10 && l["quarantined"] == 10), "{etl:?}");
    assert!(etl.iter().any(|l| l["level"] == "warn" && l["quarantined"] == 10), "{etl:?}");
    std::fs::remove_dir_all(tmp.path().join("lake")).unwrap();
    let o = ifr(tmp.path(), &["ingest", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!((stdout(&o), stderr(&o)), (String::new(), String::new()));
}

/// `ifr sql` reads its query from an argument, a file or standard input, and the table format
/// says how many rows it left out.
#[test]
fn sql_reads_a_query_from_a_file_or_stdin_and_states_its_row_limit() {
    let tmp = tempfile::tempdir().unwrap();
    crate::ingest::full_config(tmp.path());
    assert!(ifr(tmp.path(), &["ingest"]).status.success());
    let q = "SELECT currency, COUNT(*) AS n FROM sanctions GROUP BY currency ORDER BY currency";
    let inline = ifr(tmp.path(), &["sql", q, "-f", "csv"]);
    assert!(inline.status.success(), "{}", stderr(&inline));
    std::fs::write(tmp.path().join("q.sql"), format!("-- a query in a file\n{q}\n")).unwrap();
    let from_file = ifr(tmp.path(), &["sql", "--file", "q.sql", "-f", "csv"]);
    assert_eq!(stdout(&from_file), stdout(&inline), "{}", stderr(&from_file));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ifr"))
        .args(["sql", "-", "-f", "csv"])
        .current_dir(tmp.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), q.as_bytes()).unwrap();
    drop(child.stdin.take());
    let from_stdin = child.wait_with_output().unwrap();
    assert_eq!(stdout(&from_stdin), stdout(&inline));
    let rows = stdout(&inline).lines().count() - 1;
    assert!(rows >= 2, "{}", stdout(&inline));
    let o = ifr(tmp.path(), &["sql", q, "--limit", "1"]);
    let text = stdout(&o);
    assert!(
        text.trim_end()
            .ends_with(&format!("(1 of {rows} rows shown: --limit N shows more, --limit 0 all, -f csv or -f json write every row)")),
        "{text}"
    );
    let o = ifr(tmp.path(), &["sql", "--file", "missing.sql"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("reading the query from `missing.sql`"), "{}", stderr(&o));
}
