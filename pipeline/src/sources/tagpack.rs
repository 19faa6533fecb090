//! GraphSense TagPacks and ActorPacks (YAML). A TagPack's header fields (label, source, category,
//! abuse, confidence, currency/network, actor, lastmod) are inherited by every tag that does not set
//! its own; confidence names map to GraphSense's numeric levels.

use serde_norway::{Mapping, Value};

use super::{Acc, At, Input, file_name, parse_day};
use crate::address;
use crate::error::{Error, Result};
use crate::table::Cell;

/// GraphSense's confidence levels, in the tool's order: graphsense-tagpack-tool
/// `src/tagpack/db/confidence.csv` at commit a14a1597359297e5111236aa76b93a7e03110dd3 (2025-09-04;
/// the table last changed in fcddd3ad04a4a22f008f2ab492160e4b8674dec2, which added
/// `forensic_investigation`; b865ad8a1f34aa7e7473bf826d9860f7e66fc315 added `ledger_immanent`).
pub const CONFIDENCE_LEVELS: [(&str, i32); 14] = [
    ("override", 100),
    ("ownership", 100),
    ("ledger_immanent", 100),
    ("manual_transaction", 90),
    ("service_api", 70),
    ("forensic_investigation", 70),
    ("authority_data", 60),
    ("trusted_provider", 50),
    ("service_data", 50),
    ("forensic", 50),
    ("untrusted_transaction", 40),
    ("web_crawl", 20),
    ("heuristic", 10),
    ("unknown", 5),
];

/// A tag without any confidence counts as `unknown` (5), GraphSense's lowest level.
pub const DEFAULT_CONFIDENCE: &str = "unknown";

pub fn confidence_level(name: &str) -> Option<i32> {
    CONFIDENCE_LEVELS.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn list(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Sequence(items) => {
            let parts: Vec<String> = items.iter().filter_map(|i| text(Some(i))).collect();
            (!parts.is_empty()).then(|| parts.join(";"))
        }
        other => text(Some(other)),
    }
}

fn read_yaml(path: &std::path::Path) -> Result<Mapping> {
    let s = super::read_text(path)?;
    let v: Value = serde_norway::from_str(&s).map_err(|e| Error::input_caused(path, "not valid YAML", e))?;
    match v {
        Value::Mapping(m) => Ok(m),
        _ => Err(Error::input(path, "expected a YAML mapping at the top level (a TagPack or ActorPack)")),
    }
}

/// Inherited header field, overridden by the tag.
fn field<'a>(tag: &'a Mapping, header: &'a Mapping, key: &str) -> Option<&'a Value> {
    tag.get(key).or_else(|| header.get(key))
}

pub fn load_tagpacks(input: &Input<'_>, acc: &mut Acc) -> Result<()> {
    for path in input.each_file() {
        let header = read_yaml(path)?;
        let Some(Value::Sequence(tags)) = header.get("tags") else {
            return Err(Error::input(path, "expected a TagPack: a `tags:` list"));
        };
        let pack = text(header.get("title")).unwrap_or_else(|| file_name(path));
        for (i, tag) in tags.iter().enumerate() {
            acc.read();
            let at = At::new(path, i as i64);
            let Value::Mapping(tag) = tag else {
                acc.quarantine(at, None, None, "expected a tag mapping with at least `address`")?;
                continue;
            };
            let Some(raw_addr) = text(tag.get("address")) else {
                acc.quarantine(at, Some("address"), None, "tag without address")?;
                continue;
            };
            let currency = text(field(tag, &header, "currency"))
                .or_else(|| text(field(tag, &header, "network")))
                .map(|c| c.to_ascii_uppercase());
            let Some(currency) = currency else {
                acc.quarantine(at, Some("currency"), Some(&raw_addr), "tag without currency or network (in the tag or the header)")?;
                continue;
            };
            let addr = match address::for_currency(&currency, &raw_addr) {
                Ok(a) => a,
                Err(why) => {
                    acc.quarantine(at, Some("address"), Some(&raw_addr), why)?;
                    continue;
                }
            };
            let Some(label) = text(field(tag, &header, "label")) else {
                acc.quarantine(at, Some("label"), Some(&raw_addr), "tag without label (in the tag or the header)")?;
                continue;
            };
            let conf_name = text(field(tag, &header, "confidence")).unwrap_or_else(|| DEFAULT_CONFIDENCE.to_string());
            let confidence = match conf_name.parse::<i32>() {
                Ok(n) if (0..=100).contains(&n) => n,
                _ => match confidence_level(&conf_name) {
                    Some(l) => l,
                    None => {
                        acc.quarantine(
                            at,
                            Some("confidence"),
                            Some(&conf_name),
                            format!(
                                "unknown confidence; expected one of {} or a number 0-100",
                                CONFIDENCE_LEVELS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                            ),
                        )?;
                        continue;
                    }
                },
            };
            let lastmod = match text(field(tag, &header, "lastmod")) {
                None => None,
                Some(d) => match parse_day(&d) {
                    Ok(day) => Some(day),
                    Err(why) => {
                        acc.quarantine(at, Some("lastmod"), Some(&d), why)?;
                        continue;
                    }
                },
            };
            acc.load(
                "labels",
                vec![
                    Cell::Str(addr),
                    Cell::Str(currency.clone()),
                    address::chain_of_currency(&currency).into(),
                    Cell::Str(label),
                    text(field(tag, &header, "actor")).into(),
                    text(field(tag, &header, "category")).into(),
                    text(field(tag, &header, "abuse")).into(),
                    Cell::I32(confidence),
                    Cell::Str(conf_name),
                    text(field(tag, &header, "source")).into(),
                    lastmod.map_or(Cell::Null, Cell::Date),
                    Cell::Str(pack.clone()),
                    Cell::Str(file_name(path)),
                ],
            )?;
        }
    }
    Ok(())
}

pub fn load_actorpacks(input: &Input<'_>, acc: &mut Acc) -> Result<()> {
    for path in input.each_file() {
        let header = read_yaml(path)?;
        let Some(Value::Sequence(actors)) = header.get("actors") else {
            return Err(Error::input(path, "expected an ActorPack: an `actors:` list"));
        };
        let pack = text(header.get("title")).unwrap_or_else(|| file_name(path));
        for (i, actor) in actors.iter().enumerate() {
            acc.read();
            let at = At::new(path, i as i64);
            let Value::Mapping(a) = actor else {
                acc.quarantine(at, None, None, "expected an actor mapping with `id` and `label`")?;
                continue;
            };
            let Some(id) = text(a.get("id")) else {
                acc.quarantine(at, Some("id"), None, "actor without id")?;
                continue;
            };
            if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.') {
                acc.quarantine(at, Some("id"), Some(&id), "actor ids are letters, digits, `_`, `-` and `.`")?;
                continue;
            }
            let Some(label) = text(a.get("label")) else {
                acc.quarantine(at, Some("label"), Some(&id), "actor without label")?;
                continue;
            };
            acc.load(
                "actors",
                vec![
                    Cell::Str(id),
                    Cell::Str(label),
                    text(a.get("parent")).into(),
                    list(a.get("jurisdictions")).into(),
                    list(a.get("categories")).into(),
                    list(a.get("aliases")).into(),
                    text(a.get("uri")).into(),
                    text(a.get("sdn_party_id")).into(),
                    text(a.get("context")).into(),
                    Cell::Str(pack.clone()),
                    Cell::Str(file_name(path)),
                ],
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    use crate::config::{Format, Kind, SourceSpec};
    use crate::sources::Counts;
    use polars::prelude::DataFrame;

    #[test]
    fn levels() {
        assert_eq!(confidence_level("authority_data"), Some(60));
        assert_eq!(confidence_level("ownership"), Some(100));
        assert_eq!(confidence_level("nope"), None);
    }

    #[test]
    fn levels_of_the_current_vocabulary() {
        // graphsense-tagpack-tool src/tagpack/db/confidence.csv
        assert_eq!(confidence_level("ledger_immanent"), Some(100));
        assert_eq!(confidence_level("forensic_investigation"), Some(70));
        assert_eq!(confidence_level("forensic"), Some(50));
        assert_eq!(confidence_level("unknown"), Some(5));
    }

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// Load `path` (a folder or a file) the way ingest does: the files `SourceSpec::files` selects.
    fn load(path: &Path, format: Format) -> Result<(DataFrame, DataFrame, Counts)> {
        let (kind, table) = match format {
            Format::Actorpack => (Kind::Actors, "actors"),
            _ => (Kind::Labels, "labels"),
        };
        let spec = SourceSpec {
            name: "t".into(),
            kind,
            format,
            path_spec: path.display().to_string(),
            path: path.to_path_buf(),
            chain: None,
            asset: None,
        };
        let files = spec.files()?;
        let input = Input { spec: &spec, files: &files, on_file: &|_| {} };
        let mut acc = Acc::new("t");
        match format {
            Format::Actorpack => load_actorpacks(&input, &mut acc)?,
            _ => load_tagpacks(&input, &mut acc)?,
        }
        let (mut tables, counts) = acc.finish(&[table])?;
        let quarantine = tables.pop().unwrap().1;
        Ok((tables.pop().unwrap().1, quarantine, counts))
    }

    fn strs(df: &DataFrame, col: &str) -> Vec<Option<String>> {
        df.column(col).unwrap().str().unwrap().iter().map(|v| v.map(str::to_string)).collect()
    }

    fn ints(df: &DataFrame, col: &str) -> Vec<Option<i32>> {
        df.column(col).unwrap().i32().unwrap().iter().collect()
    }

    fn some(v: &[&str]) -> Vec<Option<String>> {
        v.iter().map(|s| Some(s.to_string())).collect()
    }

    #[test]
    fn current_confidence_names_load_with_their_levels() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "p.yaml",
            "title: T\ncurrency: ETH\nlabel: L\nconfidence: forensic_investigation\ntags:\n\
             - address: '0x00000000000000000000000000000000000000aa'\n\
             - address: '0x00000000000000000000000000000000000000bb'\n  confidence: ledger_immanent\n",
        );
        let (labels, quarantine, counts) = load(dir.path(), Format::Tagpack)?;
        assert_eq!(quarantine.height(), 0);
        assert_eq!(ints(&labels, "confidence"), [Some(70), Some(100)]);
        assert_eq!(strs(&labels, "confidence_name"), some(&["forensic_investigation", "ledger_immanent"]));
        assert_eq!((counts.read, counts.loaded), (2, 2));
        Ok(())
    }
}
