//! The report page in a real browser (headless Chromium, installed by .ci/run from Debian's
//! packages): it loads without console errors, every chart is present, and untrusted text from the
//! inputs shows as text.

use std::path::{Path, PathBuf};
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
        bitcoin_txs: 0,
        bitcoin_gzip: false,
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
    // Headless Chromium on a file, with this test's own profile and the given flags.
    let chromium = |flags: &[String], file: &Path| {
        Command::new(&browser)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(flags)
            .arg(format!("file://{}", file.display()))
            .output()
            .expect("run chromium")
    };
    let flags = |f: &[&str]| f.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let o = chromium(
        &flags(&["--disable-quic", "--disable-component-update", "--disable-sync", "--enable-logging=stderr", "--v=0", "--dump-dom"]),
        &page,
    );
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

    // At 1400 px and at a phone's 390 px, nothing is wider than the page: no horizontal scroll,
    // no table wider than its container (a wide table scrolls inside its own box), no element
    // sticking out. The page runs no script, so a test page frames it and measures it.
    for width in [1400, 390] {
        let probe = tmp.path().join(format!("probe-{width}.html"));
        std::fs::write(&probe, format!(r#"<!DOCTYPE html><html><body style="margin:0">
<iframe id="f" src="file://{page}" style="width:{width}px;height:900px;border:0"></iframe>
<pre id="out">pending</pre>
<script>
document.getElementById('f').addEventListener('load', () => {{
  const d = document.getElementById('f').contentDocument, root = d.documentElement, w = root.clientWidth;
  const over = [];
  for (const el of d.querySelectorAll('body *')) {{
    if (el.closest('svg') && el.tagName.toLowerCase() !== 'svg') continue;
    const inTable = el.closest('table') && el.tagName.toLowerCase() !== 'table';
    if (!inTable && el.getBoundingClientRect().right > w + 0.5) over.push(el.tagName + (el.id ? '#' + el.id : ''));
  }}
  document.getElementById('out').textContent = 'width=' + w + ' scroll=' + root.scrollWidth + ' tables=' + d.querySelectorAll('table').length + ' over=' + over.join(',');
}});
</script></body></html>"#, page = page.display())).unwrap();
        let mut f = flags(&["--allow-file-access-from-files", "--virtual-time-budget=10000", "--dump-dom"]);
        f.push(format!("--window-size={},1000", width + 40));
        let o = chromium(&f, &probe);
        let dom = String::from_utf8_lossy(&o.stdout);
        let line = dom.split("<pre id=\"out\">").nth(1).and_then(|r| r.split('<').next()).unwrap_or("").to_string();
        let field = |k: &str| line.split(' ').find_map(|f| f.strip_prefix(&format!("{k}="))).unwrap_or("").to_string();
        assert!(line.starts_with("width="), "{width} px: the probe did not run: {line:?}");
        assert_eq!(field("width"), field("scroll"), "{width} px: the page scrolls sideways: {line}");
        assert!(field("tables").parse::<usize>().unwrap() >= 10, "{line}");
        assert_eq!(field("over"), "", "{width} px: elements wider than the page: {line}");
    }

    // Printed (print stylesheet: tables at the page's width, long hashes wrapped): a PDF.
    let pdf = tmp.path().join("report.pdf");
    let o = chromium(&[String::from("--no-pdf-header-footer"), format!("--print-to-pdf={}", pdf.display())], &page);
    assert!(o.status.success(), "printing failed: {}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-") && bytes.len() > 50_000, "{} bytes", bytes.len());
}
