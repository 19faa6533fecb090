//! `ifr refresh`: dated releases, `current` switched atomically, restatements with their cause,
//! one refresh at a time (exit 3), a killed refresh completed by the next one.

use std::path::Path;

use ifr_pipeline::Settings;
use ifr_pipeline::synth::SynthFormat;
use polars::prelude::{ChunkAgg, SerReader};

use crate::common::*;

fn refresh(dir: &Path, env: &[(&str, &str)]) -> std::process::Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_ifr"));
    c.args(["refresh"]).current_dir(dir);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run ifr")
}

pub(crate) fn current(releases: &Path) -> String {
    std::fs::read_link(releases.join("current")).expect("a current link").to_string_lossy().into_owned()
}

/// The release folders (not the link, not ifr's own files), sorted.
fn release_ids(releases: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(releases)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && n != "current")
        .collect();
    v.sort();
    v
}

/// A release's tables and figures (what a reader cites), by path inside the release.
pub(crate) fn figures_and_tables(release: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut years: Vec<String> = std::fs::read_dir(release)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 4 && n.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    years.sort();
    assert!(!years.is_empty(), "no year in {}", release.display());
    for year in &years {
        let y = release.join(year);
        out.push((format!("{year}/figures.json"), std::fs::read_to_string(y.join("figures.json")).unwrap()));
        let mut names: Vec<_> = std::fs::read_dir(y.join("tables")).unwrap().flatten().map(|e| e.path()).collect();
        names.sort();
        for p in names {
            out.push((format!("{year}/tables/{}", p.file_name().unwrap().to_string_lossy()), std::fs::read_to_string(&p).unwrap()));
        }
    }
    out
}

/// Change the close of one price series on one day in the dataset's prices.csv.
pub(crate) fn correct_price(prices: &Path, day_asset: &str, close: &str) {
    let text = std::fs::read_to_string(prices).unwrap();
    let mut found = false;
    let fixed: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with(day_asset) {
                found = true;
                format!("{day_asset},{close}")
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(found, "no {day_asset} row");
    std::fs::write(prices, fixed.join("\n") + "\n").unwrap();
}

#[test]
fn releases_are_dated_current_moves_atomically_and_restatements_name_their_cause() {
    let tmp = tempfile::tempdir().unwrap();
    let s = synth_dataset(tmp.path(), SynthFormat::Cryo);
    let d = tmp.path().join("syn");
    let releases = d.join("releases");

    let o = refresh(&d, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("published release"), "{}", stdout(&o));
    let first = current(&releases);
    assert_eq!(release_ids(&releases), std::slice::from_ref(&first));
    let release_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(releases.join(&first).join("release.json")).unwrap()).unwrap();
    assert_eq!(release_json["years"], serde_json::json!([2022, 2023]));
    assert!(release_json["sources"].as_array().unwrap().iter().any(|x| x["kind"] == "chain"));
    // The first release has nothing to compare with: a header only.
    assert_eq!(
        std::fs::read_to_string(releases.join(&first).join("restatements.csv")).unwrap(),
        "year,figure,old,new,change,change_pct,cause\n"
    );
    let before = snapshot(&releases.join(&first));

    // Nothing new: no release, exit 0.
    let o = refresh(&d, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("nothing changed"), "{}", stdout(&o));
    assert_eq!(release_ids(&releases), std::slice::from_ref(&first));

    // A price correction: ETH on the day of Ronin's theft (2022-03-23) from the file's close to 500.
    let prices = d.join("prices.csv");
    let old_close: f64 = std::fs::read_to_string(&prices)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("2022-03-23,ETH,"))
        .unwrap()
        .rsplit(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    correct_price(&prices, "2022-03-23,ETH", "500");
    let o = refresh(&d, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let second = current(&releases);
    assert_ne!(second, first);
    assert_eq!(release_ids(&releases), [first.clone(), second.clone()]);
    assert_eq!(snapshot(&releases.join(&first)), before, "an old release is never touched");
    let restated = std::fs::read_to_string(releases.join(&second).join("restatements.csv")).unwrap();
    // Ronin's theft (the ledger's tx hash) is valued at the new close: its on-chain value moves by
    // the ETH it moved x (500 - the old close); its USDC does not move.
    let ronin_hash = "0xc28fad5e8d5e0ce6a2eaf67b6687be5d58113e16be590824d6cfa1a94467d0b7";
    let t = table(&s, "transfers");
    let (hashes, assets, amounts) = (
        t.column("tx_hash").unwrap().str().unwrap(),
        t.column("asset").unwrap().str().unwrap(),
        t.column("amount").unwrap().f64().unwrap(),
    );
    let eth: f64 = (0..t.height())
        .filter(|&i| hashes.get(i) == Some(ronin_hash) && assets.get(i) == Some("ETH"))
        .map(|i| amounts.get(i).unwrap())
        .sum();
    assert!(eth > 0.0, "Ronin's theft moves ETH in the sample");
    let ronin: Vec<&str> =
        restated.lines().find(|l| l.starts_with("2022,incident.ronin-2022.onchain_usd,")).expect(&restated).split(',').collect();
    let (old, new): (f64, f64) = (ronin[2].parse().unwrap(), ronin[3].parse().unwrap());
    let want = eth * (500.0 - old_close);
    assert!((new - old - want).abs() <= 0.01 + 1e-9 * want.abs(), "{ronin:?}: want a change of {want}");
    assert_eq!(ronin[4], format!("{:.2}", new - old), "the change is new - old, exact to the cent");
    assert_eq!(ronin[6], "price corrections");
    // Figures that do not read prices did not move.
    assert!(!restated.contains(".reported_usd"), "{restated}");
    let md = std::fs::read_to_string(releases.join(&second).join("2022/report.md")).unwrap();
    assert!(md.contains(&format!("## Changes since {first}")), "{md}");
    let html = std::fs::read_to_string(releases.join(&second).join("2022/index.html")).unwrap();
    assert!(html.contains("id=\"changes\""));

    // `ifr diff` gives the same rows for the same two releases.
    let o = ifr(&d, &["diff", &first, "current"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), restated);
    let o = ifr(&d, &["diff", "nope", "current"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no release `nope`"), "{}", stderr(&o));
    drop(s);
}

/// restatements.csv as (year, figure) -> (change, cause).
fn restated(release: &Path) -> std::collections::BTreeMap<(String, String), (String, String)> {
    let text = std::fs::read_to_string(release.join("restatements.csv")).unwrap();
    assert!(!text.contains('"'), "the rows here need no quoting: {text}");
    text.lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .map(|row| ((row[0].to_string(), row[1].to_string()), (row[4].to_string(), row[6].to_string())))
        .collect()
}

#[test]
fn when_several_inputs_change_at_once_each_ones_share_is_given() {
    let tmp = tempfile::tempdir().unwrap();
    let s = synth_dataset(tmp.path(), SynthFormat::Cryo);
    let d = tmp.path().join("syn");
    let releases = d.join("releases");
    assert!(refresh(&d, &[]).status.success());
    let first = current(&releases);
    // A label that makes the first fresh address the Ronin attacker pays part of the actor, and an
    // ETH price correction on the day that address first sends ETH on (both move the actor's
    // outflows that month): first one at a time (two releases, each with one cause), then both at
    // once against the first release.
    let fresh = ifr_pipeline::synth::hex20(&ifr_pipeline::synth::synth_address(5, "fresh-0-0", 0));
    let mut labels = std::fs::read_to_string(d.join("labels.yaml")).unwrap();
    labels.push_str(&format!(
        "- address: '{fresh}'\n  label: a new Lazarus address\n  actor: lazarus_group\n  category: user\n  confidence: web_crawl\n"
    ));
    std::fs::write(d.join("labels.yaml"), labels).unwrap();
    assert!(refresh(&d, &[]).status.success());
    let by_labels = restated(&releases.join(current(&releases)));
    let t = table(&s, "transfers");
    let (from, asset, time) =
        (t.column("from_address").unwrap().str().unwrap(), t.column("asset").unwrap().str().unwrap(), t.column("block_time").unwrap());
    let day = (0..t.height())
        .filter(|&i| from.get(i) == Some(fresh.as_str()) && asset.get(i) == Some("ETH"))
        .map(|i| time.get(i).unwrap().to_string()[..10].to_string())
        .min()
        .expect("the new address sends ETH");
    correct_price(&d.join("prices.csv"), &format!("{day},ETH"), "500");
    assert!(refresh(&d, &[]).status.success());
    let by_prices = restated(&releases.join(current(&releases)));
    assert!(by_labels.values().all(|(_, c)| c == "labels added or removed"), "{by_labels:?}");
    assert!(by_prices.values().all(|(_, c)| c == "price corrections"), "{by_prices:?}");
    for id in release_ids(&releases).into_iter().filter(|id| *id != first) {
        std::fs::remove_dir_all(releases.join(id)).unwrap();
    }
    std::fs::remove_file(releases.join("current")).unwrap();
    std::os::unix::fs::symlink(&first, releases.join("current")).unwrap();

    let o = refresh(&d, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let both = restated(&releases.join(current(&releases)));
    let cents = |s: &str| -> f64 { s.parse().unwrap() };
    let mut shared = 0;
    for (key, (change, cause)) in &both {
        let l = by_labels.get(key).map(|(c, _)| c.as_str());
        let p = by_prices.get(key).map(|(c, _)| c.as_str());
        let want = match (l, p) {
            (Some(a), Some(b)) if a.is_empty() || b.is_empty() => {
                // A figure that one change creates and the other moves: both named, in order.
                assert!(cause.starts_with("labels added or removed ") && cause.contains("; price corrections "), "{key:?}: {cause}");
                continue;
            }
            (Some(a), Some(b)) => {
                shared += 1;
                let total = cents(a) + cents(b);
                assert!((cents(change) - total).abs() < 1e-6 * (1.0 + total.abs()), "{key:?}: {change} is not {a} + {b}");
                let signed = |x: &str| if x.starts_with('-') { x.to_string() } else { format!("+{x}") };
                format!(
                    "labels added or removed {} ({:.2}%); price corrections {} ({:.2}%)",
                    signed(a),
                    cents(a) / total * 100.0,
                    signed(b),
                    cents(b) / total * 100.0
                )
            }
            (Some(a), None) => {
                assert_eq!(change, a, "{key:?}");
                "labels added or removed".to_string()
            }
            (None, Some(b)) => {
                assert_eq!(change, b, "{key:?}");
                "price corrections".to_string()
            }
            (None, None) => panic!("{key:?} moved though neither change alone moves it"),
        };
        assert_eq!(cause, &want, "{key:?}");
    }
    assert!(shared > 0, "no figure moved by both changes: the test shows nothing");
    assert_eq!(both.len(), by_labels.keys().chain(by_prices.keys()).collect::<std::collections::BTreeSet<_>>().len());
    // `ifr diff` gives the release's own restatements, shares included.
    let o = ifr(&d, &["diff", &first, "current"]);
    assert_eq!(stdout(&o), std::fs::read_to_string(releases.join(current(&releases)).join("restatements.csv")).unwrap());
}

#[test]
fn a_killed_refresh_leaves_current_whole_and_the_next_one_completes_it() {
    let tmp = tempfile::tempdir().unwrap();
    synth_dataset(tmp.path(), SynthFormat::Cryo);
    let d = tmp.path().join("syn");
    let releases = d.join("releases");
    assert!(refresh(&d, &[]).status.success());
    assert!(!current(&releases).is_empty());
    correct_price(&d.join("prices.csv"), "2022-03-23,ETH", "500");
    // Killed before the release is in place (1), after it is but before `current` moves (2), and
    // after (3): `current` is always a complete release, the old or the new one.
    let mut finals = Vec::new();
    for n in 1..=3 {
        let before = current(&releases);
        let o = refresh(&d, &[("IFR_FAILPOINT", &format!("refresh-publish:{n}"))]);
        assert_ne!(o.status.code(), Some(0), "failpoint {n} did not fire: {}", stdout(&o));
        let now = current(&releases);
        assert!(release_ids(&releases).contains(&now), "failpoint {n}");
        assert!(releases.join(&now).join("release.json").is_file() && releases.join(&now).join("2022/figures.json").is_file());
        assert_eq!(now == before, n < 3, "failpoint {n}: current is {now}");
        // The next refresh completes the work.
        let o = refresh(&d, &[]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let done = current(&releases);
        assert_ne!(done, before);
        assert!(!std::fs::read_dir(&releases).unwrap().flatten().any(|e| e.file_name().to_string_lossy().starts_with(".partial-")));
        finals.push(figures_and_tables(&releases.join(&done)));
        // Back to the first release's inputs for the next round: a new release like the first.
        correct_price(&d.join("prices.csv"), "2022-03-23,ETH", "400");
        assert!(refresh(&d, &[]).status.success());
        correct_price(&d.join("prices.csv"), "2022-03-23,ETH", "500");
    }
    // Every completed release (after a kill) has the same tables and figures as the others.
    assert!(finals.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn a_second_refresh_exits_3_naming_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    synth_dataset(tmp.path(), SynthFormat::Cryo);
    let d = tmp.path().join("syn");
    assert!(refresh(&d, &[]).status.success());
    let held = ifr_pipeline::lake::WriteLock::acquire(&d.join("releases/.ifr-lock"), "the releases folder", "a test").unwrap();
    let o = refresh(&d, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("`a test`"), "{}", stderr(&o));
    drop(held);
    assert_eq!(refresh(&d, &[]).status.code(), Some(0));
}

/// A loopback HTTP server (127.0.0.1) for the fetch tests: `/prices.csv` serves `body` with an ETag
/// and answers 304 to it; `/flaky.csv` answers 500 once, then like `/prices.csv`; `/html.csv` an
/// error page; `/cut.csv` a body shorter than its Content-Length; `/big.csv` a large body.
struct Server {
    port: u16,
    body: std::sync::Arc<std::sync::Mutex<(String, u32)>>,
    hits: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    fn start(body: String) -> Server {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = std::sync::Arc::new(std::sync::Mutex::new((body, 1u32)));
        let hits = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (st, h) = (state.clone(), hits.clone());
        std::thread::spawn(move || {
            let mut flaky_failed = false;
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    continue;
                }
                let mut if_none_match = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("if-none-match:") {
                        if_none_match = Some(v.trim().to_string());
                    }
                }
                let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
                h.lock().unwrap().push(format!("{path} {}", if_none_match.clone().unwrap_or_default()));
                let (body, version) = st.lock().unwrap().clone();
                let etag = format!("\"v{version}\"");
                let ok = |conn: &mut std::net::TcpStream| {
                    let _ = write!(
                        conn,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nETag: {etag}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                };
                match path.as_str() {
                    p if p == "/prices.csv" || p == "/flaky.csv" || p.ends_with(".xml") => {
                        if path == "/flaky.csv" && !flaky_failed {
                            flaky_failed = true;
                            let _ = write!(conn, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        } else if if_none_match.as_deref() == Some(etag.as_str()) {
                            let _ = write!(conn, "HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n");
                        } else {
                            ok(&mut conn);
                        }
                    }
                    "/html.csv" => {
                        let page = "<!DOCTYPE html><html><body>Service unavailable</body></html>";
                        let _ = write!(
                            conn,
                            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                            page.len()
                        );
                    }
                    "/cut.csv" => {
                        let _ = write!(
                            conn,
                            "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: 100000\r\nConnection: close\r\n\r\nday,asset,close_usd\n2022-"
                        );
                    }
                    "/big.csv" => {
                        let big = "x".repeat(300_000);
                        let _ = write!(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nConnection: close\r\n\r\n{big}");
                    }
                    _ => {
                        let _ = write!(conn, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    }
                }
            }
        });
        Server { port, body: state, hits }
    }

    fn set_body(&self, body: String) {
        let mut b = self.body.lock().unwrap();
        *b = (body, b.1 + 1);
    }
}

/// The synthetic dataset with its prices fetched from `url` into `dl/prices` (and a download
/// limit of 200 kB).
fn fetched_prices_config(d: &Path, url: &str) {
    let cfg = d.join("ifr.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let at = text.find("path = \"prices.csv\"").expect("the dataset's prices source");
    let text = format!(
        "{}path = \"dl/prices\"\nurl = \"{url}\"{}\n[refresh]\nmax-download-bytes = 200000\nfetch-attempts = 2\n",
        &text[..at],
        &text[at + "path = \"prices.csv\"".len()..]
    );
    std::fs::write(&cfg, text).unwrap();
}

fn snapshots(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| !n.starts_with('.')).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn sources_are_fetched_as_dated_snapshots_conditionally_and_bad_answers_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    synth_dataset(tmp.path(), SynthFormat::Cryo);
    let d = tmp.path().join("syn");
    let prices = std::fs::read_to_string(d.join("prices.csv")).unwrap();
    let server = Server::start(prices.clone());
    let base = format!("http://127.0.0.1:{}", server.port);
    fetched_prices_config(&d, &format!("{base}/prices.csv"));
    let releases = d.join("releases");
    let dl = d.join("dl/prices");

    // First fetch: a dated snapshot named by its sha256, the whole body; a release.
    let o = refresh(&d, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let first_files = snapshots(&dl);
    assert_eq!(first_files.len(), 1);
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(prices.as_bytes()));
    assert!(first_files[0].contains(&sha[..16]) && first_files[0].ends_with("-prices.csv"), "{first_files:?}");
    assert_eq!(std::fs::read_to_string(dl.join(&first_files[0])).unwrap(), prices);
    assert!(stdout(&o).contains("fetched from") && stdout(&o).contains(": new,"), "{}", stdout(&o));
    let first = current(&releases);

    // Again: the ETag is sent back, the server answers 304, nothing is published.
    let o = refresh(&d, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("not modified") && stdout(&o).contains("nothing changed"), "{}", stdout(&o));
    assert!(server.hits.lock().unwrap().last().unwrap().ends_with("\"v1\""), "{:?}", server.hits.lock().unwrap());
    assert_eq!(snapshots(&dl), first_files);

    // A corrected price upstream: a second snapshot beside the first (never overwritten), a new
    // release whose restatements name price corrections.
    let corrected: String = prices
        .lines()
        .map(|l| if l.starts_with("2022-03-23,ETH,") { "2022-03-23,ETH,500".to_string() } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    server.set_body(corrected);
    let o = refresh(&d, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let files = snapshots(&dl);
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(files[0], first_files[0]);
    assert_eq!(std::fs::read_to_string(dl.join(&first_files[0])).unwrap(), prices, "an old snapshot is never overwritten");
    let second = current(&releases);
    assert_ne!(second, first);
    let restated = std::fs::read_to_string(releases.join(&second).join("restatements.csv")).unwrap();
    assert!(restated.contains(",price corrections\n"), "{restated}");

    // Bad answers: each a clear message, exit 1, no snapshot added, current unchanged.
    for (path, says) in [
        ("/html.csv", "HTML page"),
        ("/cut.csv", "cut off"),
        ("/big.csv", "above the limit of 200000 bytes"),
        ("/missing.csv", "404 Not Found"),
    ] {
        let cfg = std::fs::read_to_string(d.join("ifr.toml")).unwrap();
        let cfg = cfg.replace(&format!("{base}/prices.csv"), &format!("{base}{path}"));
        std::fs::write(d.join("ifr.toml"), &cfg).unwrap();
        let o = refresh(&d, &[]);
        assert_eq!(o.status.code(), Some(1), "{path}: {}", stderr(&o));
        assert!(stderr(&o).contains(says) && stderr(&o).contains("nothing was changed"), "{path}: {}", stderr(&o));
        assert_eq!(snapshots(&dl), files, "{path}");
        assert_eq!(current(&releases), second, "{path}");
        std::fs::write(d.join("ifr.toml"), cfg.replace(&format!("{base}{path}"), &format!("{base}/prices.csv"))).unwrap();
    }
    assert!(!std::fs::read_dir(&dl).unwrap().flatten().any(|e| e.file_name().to_string_lossy().starts_with(".partial-")));

    // A server error is retried: the flaky URL answers 500, then the body.
    let cfg = std::fs::read_to_string(d.join("ifr.toml")).unwrap();
    std::fs::write(d.join("ifr.toml"), cfg.replace(&format!("{base}/prices.csv"), &format!("{base}/flaky.csv"))).unwrap();
    let o = refresh(&d, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("2 attempt(s)"), "{}", stdout(&o));
}

/// An OFAC list dated before the newest snapshot (an old mirror, a stale cache) is refused: the
/// sanctions history would otherwise go back in time.
#[test]
fn an_ofac_list_older_than_the_newest_snapshot_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    synth_dataset(tmp.path(), SynthFormat::Cryo);
    let d = tmp.path().join("syn");
    let fx = fixtures().join("ofac");
    let newer = std::fs::read_to_string(fx.join("sdn_advanced_2022-06-01.xml")).unwrap();
    let server = Server::start(newer);
    let cfg = std::fs::read_to_string(d.join("ifr.toml")).unwrap();
    let source = format!(
        "\n[[sources]]\nname = \"ofac\"\nkind = \"sanctions\"\nformat = \"ofac-xml\"\npath = \"dl/ofac\"\nurl = \"http://127.0.0.1:{}/sdn_advanced.xml\"\n",
        server.port
    );
    let at = cfg.find("[[sources]]").unwrap();
    std::fs::write(d.join("ifr.toml"), format!("{}{}\n{}", &cfg[..at], source, &cfg[at..])).unwrap();
    let o = refresh(&d, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(snapshots(&d.join("dl/ofac")).len(), 1);
    server.set_body(std::fs::read_to_string(fx.join("sdn_advanced_2022-01-01.xml")).unwrap());
    let o = refresh(&d, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("the list is dated 2022-01-01, older than the newest snapshot (2022-06-01)"), "{}", stderr(&o));
    assert_eq!(snapshots(&d.join("dl/ofac")).len(), 1, "nothing was added");
}

/// A synthetic 2022 exported in chunks of `chunk_blocks` blocks (cryo), into `out`.
fn synth_chunked(out: &Path, transfers: u64, chunk_blocks: u64) {
    ifr_pipeline::synth::run(&ifr_pipeline::synth::SynthOptions {
        out: out.to_path_buf(),
        transfers,
        from: chrono::NaiveDate::from_ymd_opt(2022, 1, 1).unwrap(),
        to: chrono::NaiveDate::from_ymd_opt(2022, 12, 31).unwrap(),
        seed: 5,
        format: SynthFormat::Cryo,
        chunk_blocks: Some(chunk_blocks),
        bitcoin_txs: 0,
        bitcoin_gzip: false,
        force: false,
    })
    .unwrap();
}

/// The chain files of a synthetic dataset grouped by the first block of their range, in block order.
fn chunks_by_start(chain: &Path) -> Vec<(i64, Vec<std::path::PathBuf>)> {
    let mut by: std::collections::BTreeMap<i64, Vec<std::path::PathBuf>> = Default::default();
    for e in std::fs::read_dir(chain).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let range = name.split("__").nth(2).unwrap();
        let start: i64 = range.split("_to_").next().unwrap().parse().unwrap();
        by.entry(start).or_default().push(e.path());
    }
    by.into_iter().collect()
}

/// Copy a dataset's files (not its chain files, lake or releases) into `to`.
fn copy_without_chain(from: &Path, to: &Path) {
    for e in walk(from) {
        let rel = e.strip_prefix(from).unwrap();
        let top = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
        if ["chain", "lake", "releases"].contains(&top.as_str()) {
            continue;
        }
        std::fs::create_dir_all(to.join(rel).parent().unwrap()).unwrap();
        std::fs::copy(&e, to.join(rel)).unwrap();
    }
    std::fs::create_dir_all(to.join("chain")).unwrap();
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

/// The lake files the state lists for one source, with their modification times.
fn live_files(lake: &Path, source: &str) -> Vec<(String, std::time::SystemTime)> {
    let state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(lake.join("_ingest/state.json")).unwrap()).unwrap();
    let mut v: Vec<(String, std::time::SystemTime)> = state["sources"][source]["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let o = o.as_str().unwrap().to_string();
            let t = std::fs::metadata(lake.join(&o)).unwrap().modified().unwrap();
            (o, t)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn chain_chunks_refreshed_one_at_a_time_equal_one_full_build() {
    let tmp = tempfile::tempdir().unwrap();
    let full = tmp.path().join("full");
    // Chunks of 30 days of 12-second blocks: each new chunk straddles a month boundary, so it
    // adds to a partition already in the lake and starts a new one.
    synth_chunked(&full, 30_000, 7200 * 30);
    let inc = tmp.path().join("inc");
    copy_without_chain(&full, &inc);
    let chunks = chunks_by_start(&full.join("chain"));
    assert!(chunks.len() >= 12, "{} chunks", chunks.len());
    let first = chunks.len() - 4;
    let add = |i: usize| {
        for f in &chunks[i].1 {
            std::fs::copy(f, inc.join("chain").join(f.file_name().unwrap())).unwrap();
        }
    };
    (0..first).for_each(add);
    let o = refresh(&inc, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("chain [chain cryo] loaded"), "{}", stdout(&o));
    for i in first..chunks.len() {
        let before = live_files(&inc.join("lake"), "chain");
        add(i);
        let o = refresh(&inc, &[]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let out = stdout(&o);
        assert!(out.contains("chain [chain cryo] appended") && out.contains("appended 3 new chunks"), "{out}");
        // New blocks after the lake's: each touched partition got a part, none was rewritten.
        assert!(out.contains(" parts added to partitions, 0 partitions rewritten") && !out.contains(" 0 parts added"), "{out}");
        assert!(out.contains("published release"), "{out}");
        // The report scanned only the rewritten and the new partition, and the trace continued
        // the walk the previous refresh saved (the release is still the full build's: below).
        let log = stderr(&o);
        let scanned: Vec<usize> = log.split("\"step\":\"scanned ").skip(1).filter_map(|r| r.split(' ').next()?.parse().ok()).collect();
        assert!(!scanned.is_empty() && scanned.iter().all(|n| (1..=2).contains(n)), "{scanned:?}: {log}");
        assert!(log.contains("the trace continued the walk an earlier run saved after"), "{log}");
        // Only the partitions the new chunk touches were rewritten: every other file is the same
        // file, untouched.
        let after = live_files(&inc.join("lake"), "chain");
        assert!(after.iter().any(|(f, _)| f.starts_with("transfers/") && f.contains("/chain~")), "{after:?}");
        let kept = after.iter().filter(|f| before.contains(f)).count();
        assert!(kept + 6 >= before.len(), "{kept} of {} files kept: {before:?} -> {after:?}", before.len());
        assert!(kept < after.len(), "something was rewritten or added");
    }
    let o = refresh(&full, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // The same lake rows, in the same order, and the same report.
    let (si, sf) = (Settings::load(&inc.join("ifr.toml")).unwrap(), Settings::load(&full.join("ifr.toml")).unwrap());
    for t in ["blocks", "transfers"] {
        let (a, b) = (rows(&table(&si, t)), rows(&table(&sf, t)));
        assert!(!a.is_empty());
        assert!(a == b, "{t}: {} rows appended vs {} in one build", a.len(), b.len());
    }
    let ingest_counts = |s: &Settings| -> serde_json::Value {
        let state: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(s.lake_dir.join("_ingest/state.json")).unwrap()).unwrap();
        state["sources"]["chain"]["counts"].clone()
    };
    assert_eq!(ingest_counts(&si), ingest_counts(&sf), "every row accounted for the same way");
    let (a, b) = (figures_and_tables(&inc.join("releases/current")), figures_and_tables(&full.join("releases/current")));
    assert_eq!(a.len(), b.len());
    for ((pa, ta), (pb, tb)) in a.iter().zip(&b) {
        assert_eq!(pa, pb);
        assert!(ta == tb, "{pa} differs between the appended and the full build");
    }
}

#[test]
fn chunks_within_the_reorg_buffer_wait_and_a_rewritten_chunk_is_reloaded() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("syn");
    synth_chunked(&d, 20_000, 7200 * 60);
    let chunks = chunks_by_start(&d.join("chain"));
    let (last_start, last_files) = chunks.last().unwrap().clone();
    let config = d.join("ifr.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("chain = \"ethereum\"\n", "chain = \"ethereum\"\nreorg-buffer = 100\n")).unwrap();

    let o = ifr(&d, &["ingest"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The newest chunks end within 100 blocks of the newest block: not loaded, and said so.
    let err = stderr(&o);
    assert!(err.contains("within the reorg buffer"), "{err}");
    for f in &last_files {
        assert!(err.contains(&*f.file_name().unwrap().to_string_lossy()), "{err}");
    }
    let s = Settings::load(&config).unwrap();
    let max_block = |s: &Settings| table(s, "transfers").column("block_number").unwrap().i64().unwrap().max().unwrap();
    assert!(max_block(&s) < last_start, "nothing from the held-back chunks");

    // A chunk re-exported with other content under the same name (a reorg): detected by its hash,
    // and the source is loaded whole again.
    let (_, first_files) = &chunks[0];
    let native = first_files.iter().find(|f| f.to_string_lossy().contains("native_transfers")).unwrap();
    let df = polars::prelude::ParquetReader::new(std::fs::File::open(native).unwrap()).finish().unwrap();
    let n_before = table(&s, "transfers").height();
    let mut shorter = df.slice(1, df.height() - 1);
    polars::prelude::ParquetWriter::new(std::fs::File::create(native).unwrap()).finish(&mut shorter).unwrap();
    let o = ifr(&d, &["ingest"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("changed under the same name"), "{}", stderr(&o));
    assert!(stdout(&o).contains("chain [chain cryo] loaded"), "{}", stdout(&o));
    let s = Settings::load(&config).unwrap();
    assert_eq!(table(&s, "transfers").height(), n_before - 1);

    // Without the buffer the held-back chunks are final: loaded on top of the lake.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("reorg-buffer = 100\n", "")).unwrap();
    let o = ifr(&d, &["ingest"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = Settings::load(&config).unwrap();
    assert!(max_block(&s) >= last_start);
}

/// Drop the first row of a chunk's native transfers (a re-export after a reorganisation).
fn drop_first_native_row(chunk: &[std::path::PathBuf], dir: &Path) {
    let native = chunk.iter().find(|f| f.to_string_lossy().contains("native_transfers")).unwrap();
    let target = dir.join("chain").join(native.file_name().unwrap());
    let df = polars::prelude::ParquetReader::new(std::fs::File::open(native).unwrap()).finish().unwrap();
    let mut shorter = df.slice(1, df.height() - 1);
    polars::prelude::ParquetWriter::new(std::fs::File::create(&target).unwrap()).finish(&mut shorter).unwrap();
}

#[test]
fn a_saved_walk_is_continued_only_over_the_transfers_it_walked() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("syn");
    // Five-day chunks: the one before the last lies in the last month loaded.
    synth_chunked(&d, 20_000, 7200 * 5);
    let chunks = chunks_by_start(&d.join("chain"));
    let n = chunks.len();
    // A chunk of an early month changed, and one of the last month loaded: either way the walk the
    // previous refresh saved no longer describes the lake's transfers, and is walked again whole.
    for changed in [1, n - 2] {
        let (inc, full) = (tmp.path().join(format!("inc{changed}")), tmp.path().join(format!("full{changed}")));
        copy_without_chain(&d, &inc);
        copy_without_chain(&d, &full);
        let copy = |to: &Path, i: usize| {
            for f in &chunks[i].1 {
                std::fs::copy(f, to.join("chain").join(f.file_name().unwrap())).unwrap();
            }
        };
        (0..n - 1).for_each(|i| copy(&inc, i));
        let o = refresh(&inc, &[]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        drop_first_native_row(&chunks[changed].1, &inc);
        copy(&inc, n - 1);
        let o = refresh(&inc, &[]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let log = stderr(&o);
        assert!(log.contains("changed under the same name"), "{log}");
        assert!(!log.contains("continued the walk"), "chunk {changed}: {log}");
        // The same release as one build over the same files.
        (0..n).for_each(|i| copy(&full, i));
        drop_first_native_row(&chunks[changed].1, &full);
        let o = refresh(&full, &[]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let (a, b) = (figures_and_tables(&inc.join("releases/current")), figures_and_tables(&full.join("releases/current")));
        assert_eq!(a.len(), b.len());
        for ((pa, ta), (pb, tb)) in a.iter().zip(&b) {
            assert_eq!(pa, pb);
            assert!(ta == tb, "chunk {changed}: {pa} differs from the full build's");
        }
    }
}

#[test]
fn a_month_of_two_sources_is_walked_once_when_the_walk_is_continued() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("syn");
    synth_chunked(&d, 20_000, 7200 * 10);
    // The chunks split between two sources of the same chain, alternately: every month holds
    // files of both, which the tracer merges by time.
    let chunks = chunks_by_start(&d.join("chain"));
    std::fs::create_dir_all(d.join("chain2")).unwrap();
    for (i, (_, files)) in chunks.iter().enumerate() {
        if i % 2 == 1 {
            for f in files {
                std::fs::rename(f, d.join("chain2").join(f.file_name().unwrap())).unwrap();
            }
        }
    }
    let config = d.join("ifr.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let second = "\n[[sources]]\nname = \"chain2\"\nkind = \"chain\"\nformat = \"cryo\"\nchain = \"ethereum\"\npath = \"chain2\"\n";
    std::fs::write(&config, format!("{text}{second}")).unwrap();
    let o = ifr(&d, &["ingest"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The first report walks everything and saves the walk; the second continues it with nothing
    // new to walk; the third has nothing kept. All three are the same report.
    let files = |dir: &Path| snapshot(dir).into_iter().map(|(p, h, _)| (p.strip_prefix(dir).unwrap().to_path_buf(), h)).collect::<Vec<_>>();
    let first = ifr(&d, &["report", "--out", "r1"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let second = ifr(&d, &["report", "--out", "r2"]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(stderr(&second).contains("the trace continued the walk an earlier run saved after"), "{}", stderr(&second));
    std::fs::remove_dir_all(d.join("lake/_cache")).unwrap();
    let third = ifr(&d, &["report", "--out", "r3"]);
    assert_eq!(third.status.code(), Some(0), "{}", stderr(&third));
    let strip = |v: Vec<(std::path::PathBuf, String)>| -> Vec<(std::path::PathBuf, String)> {
        v.into_iter().filter(|(p, _)| !p.ends_with("manifest.json")).collect()
    };
    let (a, b, c) = (strip(files(&d.join("r1"))), strip(files(&d.join("r2"))), strip(files(&d.join("r3"))));
    assert!(a.len() > 20);
    assert_eq!(a, b, "a continued walk changed the report");
    assert_eq!(a, c);
}
