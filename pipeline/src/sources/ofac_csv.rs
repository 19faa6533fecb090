//! OFAC's legacy `sdn.csv`: no header, `-0-` for empty, digital-currency addresses written inside the
//! Remarks column ("Digital Currency Address - XBT 1Abc…;"). The CSV carries no date, so the snapshot
//! date comes from the file name (e.g. `sdn_2024-05-28.csv`).

use std::path::Path;

use super::ofac_xml::{AddressItem, Snapshot, merge_snapshots};
use super::{Acc, At, Input};
use crate::error::{Error, Result};

const MARK: &str = "Digital Currency Address - ";

/// `YYYY-MM-DD` or `YYYYMMDD` inside a file name, as days since the epoch.
pub fn date_in_name(path: &Path) -> Option<i32> {
    let name = path.file_name()?.to_str()?;
    let b = name.as_bytes();
    for i in 0..b.len() {
        for (len, fmt) in [(10usize, "%Y-%m-%d"), (8, "%Y%m%d")] {
            if i + len <= b.len()
                && let Ok(d) = chrono::NaiveDate::parse_from_str(&name[i..i + len], fmt)
                && (1990..=2100).contains(&chrono::Datelike::year(&d))
            {
                return Some(super::days_since_epoch(d));
            }
        }
    }
    None
}

/// The (currency, address) pairs named in a Remarks text.
pub fn addresses_in_remarks(remarks: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = remarks;
    while let Some(i) = rest.find(MARK) {
        rest = &rest[i + MARK.len()..];
        let mut words = rest.splitn(3, char::is_whitespace);
        let cur = words.next().unwrap_or("").trim_end_matches([';', '.', ',']);
        let addr = words.next().unwrap_or("");
        let addr = addr.trim_end_matches([';', '.', ',', ')']);
        out.push((cur.to_ascii_uppercase(), addr.to_string()));
    }
    out
}

fn field(s: &str) -> Option<&str> {
    let t = s.trim();
    (t != "-0-" && !t.is_empty()).then_some(t)
}

pub fn load(input: &Input<'_>, acc: &mut Acc) -> Result<()> {
    let mut snaps = Vec::new();
    for path in input.each_file() {
        snaps.push(snapshot(path, acc)?);
    }
    merge_snapshots(snaps, &input.spec.name, acc)
}

/// The address items of one sdn.csv; rows that are not 12 columns are quarantined, rows without an
/// address counted as filtered.
fn snapshot(path: &Path, acc: &mut Acc) -> Result<Snapshot> {
    let day = date_in_name(path)
        .ok_or_else(|| Error::input(path, "sdn.csv carries no publication date: put it in the file name (e.g. sdn_2024-05-28.csv)"))?;
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(super::open_maybe_compressed(path)?);
    let mut items = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| Error::input_caused(path, "not readable as CSV", e))?;
        let line = rec.position().map_or(0, |p| p.line() as i64);
        if rec.len() == 1 && rec.get(0).is_some_and(|s| s.trim().is_empty() || s.trim() == "\u{1a}") {
            continue; // the trailing EOF marker OFAC appends
        }
        if rec.len() != 12 {
            acc.read();
            acc.quarantine(
                At::new(path, line),
                None,
                Some(&rec.iter().collect::<Vec<_>>().join(",")),
                format!("expected 12 columns (ent_num … Remarks), found {}", rec.len()),
            )?;
            continue;
        }
        let remarks = rec.get(11).unwrap_or("");
        let found = addresses_in_remarks(remarks);
        if found.is_empty() {
            acc.read();
            acc.filter("no digital currency address in Remarks");
            continue;
        }
        let party_id = rec.get(0).unwrap_or("").trim().to_string();
        let name = field(rec.get(1).unwrap_or("")).unwrap_or("").to_string();
        let party_type = match field(rec.get(2).unwrap_or("")) {
            None => Some("Entity".to_string()),
            Some(t) => {
                let mut c = t.chars();
                c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str())
            }
        };
        let mut programs: Vec<String> = field(rec.get(3).unwrap_or(""))
            .map(|p| p.split("] [").map(|s| s.trim_matches(['[', ']', ' ']).to_string()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        programs.sort();
        programs.dedup();
        for (currency, raw) in found {
            items.push(AddressItem {
                list: "SDN List".to_string(),
                party_id: party_id.clone(),
                party_name: name.clone(),
                party_type: party_type.clone(),
                programs: programs.clone(),
                party_listed_day: None,
                currency,
                raw_address: raw,
                item_no: line,
            });
        }
    }
    Ok(Snapshot { path: path.to_path_buf(), day, items })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remarks_and_dates() {
        let r = "Secondary sanctions risk: North Korea. Digital Currency Address - ETH 0x098B716B8Aaf21512996dC57EB0615e2383E2f96; alt. Digital Currency Address - XBT 1abc.";
        assert_eq!(
            addresses_in_remarks(r),
            vec![("ETH".to_string(), "0x098B716B8Aaf21512996dC57EB0615e2383E2f96".to_string()), ("XBT".to_string(), "1abc".to_string())]
        );
        assert_eq!(date_in_name(Path::new("sdn_2024-05-28.csv")).map(crate::sources::day_to_string), Some("2024-05-28".into()));
        assert_eq!(date_in_name(Path::new("sdn20220414.csv")).map(crate::sources::day_to_string), Some("2022-04-14".into()));
        assert_eq!(date_in_name(Path::new("sdn.csv")), None);
    }

    #[test]
    fn remarks_addresses_load_whatever_their_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sdn_2025-11-19.csv");
        std::fs::write(
            &path,
            "7,\"TEST, Party\",individual,\"[CYBER2] [DPRK3]\",-0-,-0-,-0-,-0-,-0-,-0-,-0-,\"Digital Currency Address - XBT TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t; alt. Digital Currency Address - BNB bnb136ns6lfw4zs5hg4n85vdthaad7hq5m4gtkgf23; alt. Digital Currency Address - XBT 134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak.\"\n\
             8,\"OTHER\",-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-,\"Digital Currency Address - ZEC t1Zz9?x.\"\n",
        )
        .unwrap();
        let mut acc = Acc::new("sdn-csv");
        let snap = snapshot(&path, &mut acc).unwrap();
        merge_snapshots(vec![snap], "sdn-csv", &mut acc).unwrap();
        let (rows, quarantined, counts) =
            crate::sources::ofac_xml::tests::loaded(acc, &["party_id", "party_type", "currency", "address", "address_check"]);
        assert_eq!(
            rows,
            [
                "7|Individual|BNB|bnb136ns6lfw4zs5hg4n85vdthaad7hq5m4gtkgf23|null",
                "7|Individual|XBT|134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak|null",
                "7|Individual|XBT|TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t|listed as XBT, looks like a Tron address",
                "8|Entity|ZEC|t1Zz9?x|listed as ZEC, matches no known address format (unexpected characters in a ZEC address); kept as written",
            ]
        );
        assert!(quarantined.is_empty());
        assert_eq!((counts.read, counts.loaded), (4, 4));
    }
}
