//! OpenSanctions FollowTheMoney JSON lines: every `CryptoWallet` entity becomes a sanctions row,
//! named after its holder (the `holder` property points at a Person/Organization entity of the same
//! file) with the programs of the `Sanction` entities attached to that holder. Other entities are
//! read as context and counted as filtered.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::PathBuf;

use serde::Deserialize;

use super::{Acc, At, Input, file_name, parse_day};
use crate::address;
use crate::error::{Error, Result};
use crate::table::Cell;

#[derive(Deserialize)]
struct Entity {
    id: String,
    schema: String,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    properties: HashMap<String, Vec<serde_json::Value>>,
    #[serde(default)]
    datasets: Vec<String>,
    #[serde(default)]
    first_seen: Option<String>,
    #[serde(default)]
    last_seen: Option<String>,
}

impl Entity {
    fn prop(&self, name: &str) -> Vec<String> {
        self.properties.get(name).map(|v| v.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default()
    }
}

struct Wallet {
    line: i64,
    file: PathBuf,
    entity: Entity,
}

pub fn load(input: &Input<'_>, acc: &mut Acc) -> Result<()> {
    load_files(input.each_file(), acc)
}

fn load_files<'p>(files: impl Iterator<Item = &'p PathBuf>, acc: &mut Acc) -> Result<()> {
    let mut names: HashMap<String, (String, String)> = HashMap::new();
    let mut programs: HashMap<String, (Vec<String>, Option<String>)> = HashMap::new();
    let mut wallets = Vec::new();
    for path in files {
        let reader = std::io::BufReader::new(super::open_maybe_compressed(path)?);
        for (i, line) in reader.lines().enumerate() {
            let line_no = i as i64 + 1;
            let line = line.map_err(|e| Error::input_caused(path.as_path(), format!("line {line_no}: not readable"), e))?;
            if line.trim().is_empty() {
                continue;
            }
            acc.read();
            let e: Entity = match serde_json::from_str(&line) {
                Ok(e) => e,
                Err(err) => {
                    acc.quarantine(
                        At::new(path, line_no),
                        None,
                        Some(&line),
                        format!("expected a FollowTheMoney entity (JSON with id and schema): {err}"),
                    )?;
                    continue;
                }
            };
            match e.schema.as_str() {
                "CryptoWallet" => wallets.push(Wallet { line: line_no, file: path.clone(), entity: e }),
                "Sanction" => {
                    for target in e.prop("entity") {
                        let entry = programs.entry(target).or_default();
                        entry.0.extend(e.prop("program"));
                        entry.0.extend(e.prop("programId"));
                        if entry.1.is_none() {
                            entry.1 = e.prop("listingDate").into_iter().next().or_else(|| e.prop("startDate").into_iter().next());
                        }
                    }
                    acc.filter("not a CryptoWallet (Sanction, used for programs)");
                }
                _ => {
                    let name = e.caption.clone().or_else(|| e.prop("name").into_iter().next()).unwrap_or_default();
                    names.insert(e.id.clone(), (name, e.schema.clone()));
                    acc.filter("not a CryptoWallet (used for holder names)");
                }
            }
        }
    }
    for w in wallets {
        let e = &w.entity;
        let at = At::new(&w.file, w.line);
        let Some(key) = e.prop("publicKey").into_iter().next() else {
            acc.quarantine(at, Some("publicKey"), None, "CryptoWallet without publicKey")?;
            continue;
        };
        let currency = e.prop("currency").into_iter().next().unwrap_or_default().to_ascii_uppercase();
        // A listed address is loaded whatever its format (with a note when odd); only text that is no address is quarantined.
        let address::Listed { address: addr, check } = match address::as_listed(&currency, &key) {
            Ok(a) => a,
            Err(why) => {
                acc.quarantine(at, Some("publicKey"), Some(&key), why)?;
                continue;
            }
        };
        let holder = e.prop("holder").into_iter().next();
        let party_id = holder.clone().unwrap_or_else(|| e.id.clone());
        let (party_name, party_type) = holder
            .as_ref()
            .and_then(|h| names.get(h).cloned())
            .unwrap_or_else(|| (e.caption.clone().unwrap_or_default(), "CryptoWallet".to_string()));
        let (mut progs, listing) = programs.get(&party_id).cloned().unwrap_or_default();
        progs.sort();
        progs.dedup();
        let day = |s: &Option<String>| s.as_deref().and_then(|d| parse_day(d).ok());
        let (Some(first), Some(last)) = (day(&e.first_seen), day(&e.last_seen).or(day(&e.first_seen))) else {
            acc.quarantine(at, Some("first_seen"), e.first_seen.as_deref(), "expected first_seen/last_seen dates (YYYY-MM-DD…)")?;
            continue;
        };
        acc.load(
            "sanctions",
            vec![
                Cell::Str(e.datasets.first().cloned().unwrap_or_else(|| "opensanctions".into())),
                Cell::Str(party_id),
                Cell::Str(party_name),
                Cell::Str(party_type),
                (!progs.is_empty()).then(|| progs.join(";")).into(),
                listing.and_then(|d| parse_day(&d).ok()).map_or(Cell::Null, Cell::Date),
                Cell::Str(if currency.is_empty() { "UNKNOWN".into() } else { currency }),
                Cell::Str(addr),
                check.into(),
                Cell::Date(first),
                Cell::Date(last),
                Cell::Null,
                // One file, no snapshots to compare: the listing date is left to party_listed_date.
                Cell::Str("not-compared".into()),
                Cell::Null,
                Cell::Str(acc.source.clone()),
                Cell::Str(file_name(&w.file)),
            ],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wallets_load_whatever_their_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wallets.ftm.json");
        let wallet = |id: &str, currency: &str, key: &str| {
            format!(
                "{{\"id\":\"{id}\",\"schema\":\"CryptoWallet\",\"properties\":{{\"currency\":[\"{currency}\"],\"publicKey\":[\"{key}\"],\"holder\":[\"p1\"]}},\"datasets\":[\"us_ofac_sdn\"],\"first_seen\":\"2025-11-20T00:00:00\"}}\n"
            )
        };
        let text = String::from("{\"id\":\"p1\",\"schema\":\"Person\",\"caption\":\"Test Person\"}\n")
            + &wallet("w1", "XBT", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")
            + &wallet("w2", "BNB", "bnb136ns6lfw4zs5hg4n85vdthaad7hq5m4gtkgf23")
            + &wallet("w3", "ETH", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
            + &wallet("w4", "XMR", "not an address");
        std::fs::write(&path, text).unwrap();
        let mut acc = Acc::new("os");
        load_files([path].iter(), &mut acc).unwrap();
        let (rows, quarantined, counts) =
            crate::sources::ofac_xml::tests::loaded(acc, &["party_name", "currency", "address", "address_check"]);
        assert_eq!(
            rows,
            [
                "Test Person|BNB|bnb136ns6lfw4zs5hg4n85vdthaad7hq5m4gtkgf23|null",
                "Test Person|ETH|0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed|null",
                "Test Person|XBT|TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t|listed as XBT, looks like a Tron address",
            ]
        );
        assert_eq!(quarantined, ["not an address: it contains whitespace or control characters"]);
        assert_eq!((counts.read, counts.loaded, counts.quarantined, counts.filtered), (5, 3, 1, 1));
    }
}
