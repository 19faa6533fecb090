//! The report page in a real browser (headless Chromium, installed by .ci/run from Debian's
//! packages): it loads without console errors, every chart is present, and untrusted text from the
//! inputs shows as text.

use std::path::PathBuf;
use std::process::Command;

use ifr_pipeline::synth::{SynthFormat, SynthOptions};
use ifr_pipeline::{NoProgress, Settings};

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("IFR_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["chromium", "chromium-browser", "google-chrome"].iter().find_map(|name| {
        let out = Command::new("which").arg(name).output().ok()?;
        out.status.success().then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    })
}

#[test]
#[cfg_attr(ifr_no_chromium, ignore = "no chromium on PATH (CI installs it)")]
fn the_report_page_loads_in_a_browser_with_every_chart_and_escaped_text() {
    let Some(browser) = chromium() else {
        if std::env::var_os("CI").is_some() {
            panic!("Chromium is missing in CI: .ci/run installs it (apt-get install chromium)");
        }
        eprintln!("SKIPPED the_report_page_loads_in_a_browser: no chromium on PATH (CI installs it)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("syn");
    ifr_pipeline::synth::run(&SynthOptions {
        out: out.clone(),
        transfers: 20_000,
        from: chrono::NaiveDate::from_ymd_opt(2022, 1, 1).unwrap(),
        to: chrono::NaiveDate::from_ymd_opt(2022, 12, 31).unwrap(),
        seed: 9,
        format: SynthFormat::Cryo,
        chunk_blocks: None,
        force: false,
    })
    .unwrap();
    // An incident whose name is hostile markup.
    let mut ledger = std::fs::read_to_string(out.join("incidents.csv")).unwrap();
    ledger.push_str("evil-2022,2022-05-05,<script>alert(1)</script>,ethereum,1000,,,lazarus_group,x,2022-05-06,https://example.org,,,,https://example.org,\n");
    std::fs::write(out.join("incidents.csv"), ledger).unwrap();
    // A label with hostile markup on the first fresh address the Ronin attacker pays.
    let fresh = ifr_pipeline::synth::hex20(&ifr_pipeline::synth::synth_address(9, "fresh-0-0", 0));
    let mut labels = std::fs::read_to_string(out.join("labels.yaml")).unwrap();
    labels.push_str(&format!(
        "- address: '{fresh}'\n  label: '<script>alert(2)</script>'\n  actor: evil_actor\n  category: user\n  confidence: web_crawl\n"
    ));
    std::fs::write(out.join("labels.yaml"), labels).unwrap();
    let s = Settings::load(&out.join("ifr.toml")).unwrap();
    ifr_pipeline::ingest(&s, &NoProgress).unwrap();
    ifr_pipeline::report(&s, None, &[2022]).unwrap();
    let page = out.join("report/2022/index.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !html.contains("<script>alert"));

    let profile = tmp.path().join("profile");
    let o = Command::new(&browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync", "--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(o.status.success(), "chromium failed: {}", String::from_utf8_lossy(&o.stderr));
    let dom = String::from_utf8_lossy(&o.stdout);
    for chart in ["annual_totals", "monthly_stolen", "destinations", "incidents", "trace_methods"] {
        let at = dom.find(&format!("<figure id=\"chart-{chart}\">")).unwrap_or_else(|| panic!("chart {chart} missing from the page"));
        assert!(dom[at..].trim_start_matches(|c| c != '<').contains("<svg"), "chart {chart} has no SVG");
    }
    assert_eq!(dom.matches("<figure id=\"chart-").count(), 5);
    assert!(!dom.contains("<script"), "the page must run no script");
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the hostile name shows as text");
    assert!(dom.contains("&lt;script&gt;alert(2)&lt;/script&gt;"), "the hostile label shows as text (top counterparties)");
    let log = String::from_utf8_lossy(&o.stderr);
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("Refused to")).collect();
    assert!(console.is_empty(), "the page logged errors: {console:?}");
}
