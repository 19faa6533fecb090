//! GraphSense TagPacks and ActorPacks (YAML). A TagPack's header fields (label, source, category,
//! abuse, confidence, currency/network, actor, lastmod) are inherited by every tag that does not set
//! its own; confidence names map to GraphSense's numeric levels. Folders of packs are read the way
//! graphsense-tagpack-tool (src/tagpack/tagpack.py at a14a1597) reads them: `config.yaml` and
//! `header.yaml` files are not packs, a pack's `header: !include header.yaml` takes its header from
//! the nearest `header.yaml` in a folder above it, and `*actorpack.yaml` files are ActorPacks.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

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

/// The largest YAML file ifr parses, in bytes (after decompression). graphsense-tagpack-tool skips
/// packs over 200 MB (`collect_tagpack_files(max_mb=200)`); ifr refuses them rather than load a
/// source in part. Real packs are well under 1 MiB.
pub const MAX_YAML_BYTES: u64 = 200 << 20;

/// The deepest nesting ifr parses: block (indentation) levels plus `[`/`{` flow levels. A TagPack
/// needs four (pack, `tags:`, tag, a list value). serde_norway stops at 128 levels, but only after
/// its parser has spent super-linear time on the whole text; the pre-scan refuses in one pass.
pub const MAX_YAML_DEPTH: usize = 64;

/// The 1-based line where `text` first nests deeper than `MAX_YAML_DEPTH`, if it does: one linear
/// pass keeping the stack of open block levels (their columns; a `- ` item at its key's column is
/// the key's value, one level deeper) and counting open `[`/`{` outside quotes and comments; block
/// scalars and multi-line quoted scalars are skipped. It errs towards counting a level too many (a
/// scalar's column counts as a level; so does a plain scalar continued on deeper lines).
fn too_deep_at(text: &str) -> Option<usize> {
    // Open block levels: (column, whether it is a `- ` sequence).
    let mut blocks: Vec<(usize, bool)> = Vec::new();
    let mut flow = 0usize;
    // The open quote of a quoted scalar (it may span lines).
    let mut quote: Option<u8> = None;
    // Inside a `|`/`>` block scalar: the column its content must be deeper than.
    let mut literal: Option<usize> = None;
    for (n, line) in text.lines().enumerate() {
        let b = line.as_bytes();
        let indent = b.iter().take_while(|&&c| c == b' ').count();
        let blank = b[indent..].iter().all(|c| c.is_ascii_whitespace());
        if let Some(col) = literal {
            if blank || indent > col {
                continue;
            }
            literal = None;
        }
        let mut i = indent;
        // At a place where a node may start (so `'`, `"`, `[`, `{`, `|`, `>` are indicators).
        let mut node_start = true;
        if quote.is_none() && flow == 0 && !blank && b[i] != b'#' {
            let item = |i: usize| matches!(b.get(i), Some(b'-' | b'?')) && b.get(i + 1).is_none_or(|c| *c == b' ');
            if b[i] == b'%' {
                continue;
            }
            if indent == 0 && (line.starts_with("---") || line.starts_with("...")) && b.get(3).is_none_or(|c| *c == b' ') {
                blocks.clear();
                i = 3;
            } else {
                let seq = item(i);
                while blocks.last().is_some_and(|&(c, s)| c > indent || (c == indent && s && !seq)) {
                    blocks.pop();
                }
                if blocks.last() != Some(&(indent, seq)) {
                    blocks.push((indent, seq));
                }
                // `- - a`, `- key: v`: each item opens a level at the column of what follows it.
                while item(i) {
                    i += 1;
                    while b.get(i) == Some(&b' ') {
                        i += 1;
                    }
                    if i < b.len() {
                        blocks.push((i, item(i)));
                    }
                }
            }
            if blocks.len() > MAX_YAML_DEPTH {
                return Some(n + 1);
            }
        }
        let mut prev_space = true;
        while i < b.len() {
            let c = b[i];
            match quote {
                Some(b'\'') => {
                    if c == b'\'' {
                        if b.get(i + 1) == Some(&b'\'') {
                            i += 1;
                        } else {
                            quote = None;
                            node_start = false;
                        }
                    }
                }
                Some(_) => {
                    if c == b'\\' {
                        i += 1;
                    } else if c == b'"' {
                        quote = None;
                        node_start = false;
                    }
                }
                None => match c {
                    b' ' | b'\t' => {}
                    b'#' if prev_space => break,
                    b'\'' | b'"' if node_start => quote = Some(c),
                    b'[' | b'{' if node_start || flow > 0 => {
                        flow += 1;
                        if blocks.len() + flow > MAX_YAML_DEPTH {
                            return Some(n + 1);
                        }
                        node_start = true;
                    }
                    b']' | b'}' if flow > 0 => {
                        flow -= 1;
                        node_start = false;
                    }
                    b',' if flow > 0 => node_start = true,
                    b':' if flow > 0 || b.get(i + 1).is_none_or(|c| *c == b' ' || *c == b'\t') => node_start = true,
                    b'|' | b'>' if node_start && flow == 0 => {
                        literal = Some(blocks.last().map_or(0, |&(c, _)| c));
                        break;
                    }
                    // An anchor or tag before a node: the node may still start after it.
                    b'&' | b'!' if node_start => {
                        while i + 1 < b.len() && b[i + 1] != b' ' {
                            i += 1;
                        }
                    }
                    _ => node_start = false,
                },
            }
            prev_space = c == b' ' || c == b'\t';
            i += 1;
        }
    }
    None
}

/// Read a pack or header file: bounded in size and nesting before serde_norway sees it (whose own
/// limits refuse alias bombs).
fn read_yaml(path: &Path) -> Result<Mapping> {
    let too_big = |len: u64| Error::input(path, format!("{len} bytes; expected a YAML file of at most {} MiB", MAX_YAML_BYTES >> 20));
    let len = std::fs::metadata(path).map_err(|e| Error::io("reading", path, e))?.len();
    if len > MAX_YAML_BYTES {
        return Err(too_big(len));
    }
    let s = super::read_text(path)?;
    if s.len() as u64 > MAX_YAML_BYTES {
        return Err(too_big(s.len() as u64));
    }
    if let Some(line) = too_deep_at(&s) {
        return Err(Error::input(
            path,
            format!("line {line}: nested too deep; expected at most {MAX_YAML_DEPTH} levels of indentation and `[`/`{{` nesting"),
        ));
    }
    let v: Value = serde_norway::from_str(&s).map_err(|e| Error::input_caused(path, "not valid YAML", e))?;
    match v {
        Value::Mapping(m) => Ok(m),
        _ => Err(Error::input(path, "expected a YAML mapping at the top level (a TagPack or ActorPack)")),
    }
}

/// What a file below a pack folder is, by its name, decided as graphsense-tagpack-tool's
/// `collect_tagpack_files` (src/tagpack/tagpack.py) does: by suffix, `config.yaml` first, then
/// `actorpack.yaml`, then `header.yaml`. ifr also reads `.yml` files and takes them as `.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Config,
    ActorPack,
    Header,
    /// Any other file: a TagPack (or, for the ActorPack loader, a pack to look into).
    Pack,
}

fn role(path: &Path) -> Role {
    let name = file_name(path).to_ascii_lowercase();
    let name = match name.strip_suffix(".yml") {
        Some(stem) => format!("{stem}.yaml"),
        None => name,
    };
    if name.ends_with("config.yaml") {
        Role::Config
    } else if name.ends_with("actorpack.yaml") {
        Role::ActorPack
    } else if name.ends_with("header.yaml") {
        Role::Header
    } else {
        Role::Pack
    }
}

/// Resolves packs' `header:` fields: inline mappings and `!include <file>`.
///
/// graphsense-tagpack-tool (src/tagpack/tagpack.py, `collect_tagpack_files` and
/// `TagPack.load_from_file`) resolves a pack's `!include` in the folder of the nearest `header.yaml`
/// in a folder strictly above the pack's own: a `header.yaml` serves the subfolders of its folder,
/// not its siblings (tests/test_tagpack.py `test_file_collection_with_multiple_yaml_include`). Where
/// no such header exists the tool resolves in its working directory; ifr uses the pack's folder.
/// Either way the file must lie inside the source's folder (`root`), symbolic links resolved.
struct Headers {
    /// The source's folder, lexically normalised, and the same resolved on disk.
    root: PathBuf,
    real_root: PathBuf,
    /// Folders holding a `header.yaml` among the inputs, deepest first.
    dirs: Vec<PathBuf>,
    /// Header files read so far, by resolved path.
    read: HashMap<PathBuf, Mapping>,
}

impl Headers {
    fn new(input: &Input<'_>) -> Result<Self> {
        // The part of the configured path before any glob; a file's folder.
        let mut root = PathBuf::new();
        for c in input.spec.path.components() {
            if c.as_os_str().to_string_lossy().contains(['*', '?', '[']) {
                break;
            }
            root.push(c);
        }
        if root.is_file() {
            root.pop();
        }
        let root = crate::config::normalize(&root);
        let real_root = root.canonicalize().map_err(|e| Error::io("resolving", &root, e))?;
        let mut dirs: Vec<PathBuf> =
            input.files.iter().filter(|f| role(f) == Role::Header).filter_map(|f| f.parent().map(crate::config::normalize)).collect();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        Ok(Headers { root, real_root, dirs, read: HashMap::new() })
    }

    /// Where `pack`'s `!include` looks (see the type's doc).
    fn base_for(&self, pack: &Path) -> PathBuf {
        let folder = crate::config::normalize(pack.parent().unwrap_or(Path::new("")));
        match self.dirs.iter().find(|d| folder.starts_with(d) && folder != **d) {
            Some(d) => d.clone(),
            None => folder,
        }
    }

    /// The pack's top-level mapping with its `header:` merged in. As in the tool's
    /// `TagPack.load_from_file`, the header's fields replace the pack's own; a tag's fields still
    /// override both.
    fn merge(&mut self, pack: &Path, mut top: Mapping) -> Result<Mapping> {
        let Some(header) = top.remove("header") else {
            return Ok(top);
        };
        let header = match header {
            Value::Mapping(m) => m,
            Value::Tagged(t) if t.tag == "include" => match &t.value {
                Value::String(name) => self.include(pack, name)?,
                _ => return Err(Error::input(pack, "expected `header: !include <file name>`")),
            },
            _ => return Err(Error::input(pack, "expected `header:` to be a mapping or `!include <file name>`")),
        };
        for (k, v) in header {
            top.insert(k, v);
        }
        Ok(top)
    }

    fn include(&mut self, pack: &Path, name: &str) -> Result<Mapping> {
        let rel = Path::new(name.trim());
        if name.trim().is_empty() || rel.is_absolute() || name.contains(['*', '?', '[', '\0']) {
            return Err(Error::input(pack, format!("`header: !include {name}`: expected the relative name of one file")));
        }
        let leaves = || {
            Error::input(
                pack,
                format!("`header: !include {name}` leaves the source's folder `{}`; expected a file inside it", self.root.display()),
            )
        };
        let wanted = crate::config::normalize(&self.base_for(pack).join(rel));
        if !wanted.starts_with(&self.root) {
            return Err(leaves());
        }
        let real = wanted
            .canonicalize()
            .map_err(|e| Error::input_caused(pack, format!("`header: !include {name}`: cannot open `{}`", wanted.display()), e))?;
        if !real.starts_with(&self.real_root) {
            return Err(leaves());
        }
        if let Some(m) = self.read.get(&real) {
            return Ok(m.clone());
        }
        let m = read_yaml(&real)?;
        self.read.insert(real, m.clone());
        Ok(m)
    }
}

/// Inherited header field, overridden by the tag.
fn field<'a>(tag: &'a Mapping, header: &'a Mapping, key: &str) -> Option<&'a Value> {
    tag.get(key).or_else(|| header.get(key))
}

pub fn load_tagpacks(input: &Input<'_>, acc: &mut Acc) -> Result<()> {
    let mut headers = Headers::new(input)?;
    for path in input.each_file() {
        // Configuration, headers and ActorPacks hold no tags: no rows to account for.
        if role(path) != Role::Pack {
            continue;
        }
        let header = headers.merge(path, read_yaml(path)?)?;
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
            let currency =
                text(field(tag, &header, "currency")).or_else(|| text(field(tag, &header, "network"))).map(|c| c.to_ascii_uppercase());
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
    let mut headers = Headers::new(input)?;
    // A folder of packs may mix TagPacks and ActorPacks (graphsense-tagpacks does).
    let folder = input.spec.path.is_dir();
    for path in input.each_file() {
        let role = role(path);
        if matches!(role, Role::Config | Role::Header) {
            continue;
        }
        let top = read_yaml(path)?;
        if folder && role == Role::Pack && top.contains_key("tags") && !top.contains_key("actors") {
            continue;
        }
        let header = headers.merge(path, top)?;
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
            reorg_buffer: 0,
            bucket_rows: crate::config::DEFAULT_BUCKET_ROWS,
            url: None,
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

    /// graphsense-tagpack-tool's tests/testfiles/yaml_inclusion, with its header and packs.
    const BADHACK_HEADER: &str = "title: BadHack TagPack\ncreator: GraphSense Team\n\
        description: Addresses used for BadHack\nconfidence: forensic\nabuse: scam\ncurrency: BTC\n\
        label: BadHack\nsource: https://cryptosec.org\n";

    #[test]
    fn included_header_gives_packs_below_their_currency() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "header.yaml", BADHACK_HEADER);
        write(d, "config.yaml", "taxonomies:\n  abuse: https://example.org/abuses.csv\nprefix: testpacks\n");
        write(
            d,
            "2021/01/20210101.yaml",
            "header: !include header.yaml\nlastmod: 2020-01-03\ntags:\n\
             - address: bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh\n  context: '{\"validated\": true}'\n",
        );
        // The header replaces the pack's own title (as the tool's load_from_file does); the tag's
        // abuse overrides the header's; the second tag is the first's duplicate in ifr's key.
        write(
            d,
            "2021/02/20210201.yaml",
            "title: Overwritten\nheader: !include header.yaml\nlastmod: 2020-01-01\ntags:\n\
             - address: 1Ai52Uw6usjhpcDrwSmkUvjuqLpcznUuyF\n  abuse: sextortion\n\
             - address: 1Ai52Uw6usjhpcDrwSmkUvjuqLpcznUuyF\n  entity: exchange\n",
        );
        let (labels, quarantine, counts) = load(d, Format::Tagpack)?;
        assert_eq!(quarantine.height(), 0);
        assert_eq!(strs(&labels, "address"), some(&["bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh", "1Ai52Uw6usjhpcDrwSmkUvjuqLpcznUuyF"]));
        assert_eq!(strs(&labels, "currency"), some(&["BTC", "BTC"]));
        assert_eq!(strs(&labels, "label"), some(&["BadHack", "BadHack"]));
        assert_eq!(strs(&labels, "abuse"), some(&["scam", "sextortion"]));
        assert_eq!(ints(&labels, "confidence"), [Some(50), Some(50)]);
        assert_eq!(strs(&labels, "source"), some(&["https://cryptosec.org", "https://cryptosec.org"]));
        assert_eq!(strs(&labels, "pack"), some(&["BadHack TagPack", "BadHack TagPack"]));
        // config.yaml and header.yaml are no rows: three tags read.
        assert_eq!((counts.read, counts.loaded, counts.quarantined, counts.duplicates, counts.filtered), (3, 2, 0, 1, 0));
        Ok(())
    }

    #[test]
    fn nearest_header_above_serves_subfolders_not_siblings() -> Result<()> {
        // graphsense-tagpack-tool's tests/testfiles/yaml_inclusion_multiple.
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "header.yaml", BADHACK_HEADER);
        write(d, "2021/01/header.yaml", &BADHACK_HEADER.replace("label: BadHack", "label: Special_BadHack"));
        let pack = |a: &str| format!("header: !include header.yaml\ntags:\n- address: {a}\n");
        write(d, "2021/01/20210101.yaml", &pack("bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"));
        write(d, "2021/01/special/20210106-special.yaml", &pack("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"));
        let (labels, _, counts) = load(d, Format::Tagpack)?;
        assert_eq!(strs(&labels, "address"), some(&["bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"]));
        assert_eq!(strs(&labels, "label"), some(&["BadHack", "Special_BadHack"]));
        assert_eq!((counts.read, counts.loaded), (2, 2));
        Ok(())
    }

    #[test]
    fn inline_header_mapping_is_merged() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "p.yaml",
            "title: T\nheader:\n  currency: ETH\n  label: L\n  confidence: service_api\ntags:\n\
             - address: '0x00000000000000000000000000000000000000AA'\n",
        );
        let (labels, _, _) = load(dir.path(), Format::Tagpack)?;
        assert_eq!(strs(&labels, "address"), some(&["0x00000000000000000000000000000000000000aa"]));
        assert_eq!(strs(&labels, "currency"), some(&["ETH"]));
        assert_eq!(ints(&labels, "confidence"), [Some(70)]);
        Ok(())
    }

    fn refused(path: &Path, format: Format) -> String {
        match load(path, format) {
            Ok(_) => panic!("expected {} to be refused", path.display()),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn includes_may_not_leave_the_source_folder() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "secret.yaml", "currency: ETH\nlabel: secret\n");
        let pack = |inc: &str| format!("header: !include {inc}\ntags:\n- address: '0x00000000000000000000000000000000000000aa'\n");
        write(d, "packs/a/p.yaml", &pack("../../secret.yaml"));
        let e = refused(&d.join("packs"), Format::Tagpack);
        assert!(e.contains("p.yaml") && e.contains("leaves the source's folder"), "{e}");
        let abs = d.join("secret.yaml").display().to_string();
        write(d, "packs/a/p.yaml", &pack(&abs));
        let e = refused(&d.join("packs"), Format::Tagpack);
        assert!(e.contains("expected the relative name of one file"), "{e}");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(d.join("secret.yaml"), d.join("packs/a/link.yaml")).unwrap();
            write(d, "packs/a/p.yaml", &pack("link.yaml"));
            let e = refused(&d.join("packs"), Format::Tagpack);
            assert!(e.contains("leaves the source's folder"), "{e}");
        }
        write(d, "packs/a/p.yaml", &pack("header.yaml"));
        let e = refused(&d.join("packs"), Format::Tagpack);
        assert!(e.contains("p.yaml") && e.contains("cannot open"), "{e}");
    }

    const ACTORPACK: &str = "title: Test ActorPack\nactors:\n\
        - id: internet_archive\n  label: Internet Archive\n  jurisdictions: [US]\n\
        - id: binance\n  label: Binance\n  jurisdictions: [US, AT]\n";

    #[test]
    fn actorpacks_and_tagpacks_in_one_folder() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "config.yaml", "prefix: x\n");
        write(d, "actors/ex.actorpack.yaml", ACTORPACK);
        write(d, "p.yaml", "currency: ETH\nlabel: L\ntags:\n- address: '0x00000000000000000000000000000000000000aa'\n");
        let (labels, _, counts) = load(d, Format::Tagpack)?;
        assert_eq!(strs(&labels, "label"), some(&["L"]));
        assert_eq!((counts.read, counts.loaded), (1, 1));
        let (actors, _, counts) = load(d, Format::Actorpack)?;
        assert_eq!(strs(&actors, "id"), some(&["internet_archive", "binance"]));
        assert_eq!(strs(&actors, "jurisdictions"), some(&["US", "US;AT"]));
        assert_eq!((counts.read, counts.loaded), (2, 2));
        // Named on its own, a TagPack is no ActorPack.
        let e = refused(&d.join("p.yaml"), Format::Actorpack);
        assert!(e.contains("expected an ActorPack"), "{e}");
        Ok(())
    }

    #[test]
    fn nesting_depth_is_measured_in_one_pass() {
        assert_eq!(too_deep_at("tags:\n- address: x\n  labels: [a, {b: [c]}]\n"), None);
        let deep_flow = format!("a: {}{}\n", "[".repeat(MAX_YAML_DEPTH), "]".repeat(MAX_YAML_DEPTH));
        assert_eq!(too_deep_at(&deep_flow), Some(1));
        let ok_flow = format!("a: {}{}\n", "[".repeat(MAX_YAML_DEPTH - 1), "]".repeat(MAX_YAML_DEPTH - 1));
        assert_eq!(too_deep_at(&ok_flow), None);
        let indented: String = (0..=MAX_YAML_DEPTH).map(|n| format!("{}k{n}:\n", " ".repeat(n))).collect();
        assert_eq!(too_deep_at(&indented), Some(65));
        let compact = format!("x:\n{}a\n", "- ".repeat(MAX_YAML_DEPTH));
        assert_eq!(too_deep_at(&compact), Some(2));
        // Brackets in plain scalars, quotes, comments and block scalars open nothing.
        let flat = format!("a: b[[[[ {0}\nc: '{0}'\nd: \"{0}\"  # {0}\ne: |\n  {0}\n  {0}\nf: x'y {0}\n", "[".repeat(MAX_YAML_DEPTH + 1));
        assert_eq!(too_deep_at(&flat), None);
        // A quote that does not start a node does not hide what follows it.
        let hidden = format!("a: it's\nb: {}\n", "[".repeat(MAX_YAML_DEPTH + 1));
        assert_eq!(too_deep_at(&hidden), Some(2));
    }

    #[test]
    fn deeply_nested_400_kb_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "flow.yaml", &format!("tags: {}\n", "[".repeat(400_000)));
        let e = refused(&d.join("flow.yaml"), Format::Tagpack);
        assert!(e.contains("flow.yaml") && e.contains("line 1: nested too deep; expected at most 64 levels"), "{e}");
        let block: String = (0..900).map(|n| format!("{}- k:\n", " ".repeat(n * 2))).collect();
        assert!(block.len() > 400_000);
        write(d, "block.yaml", &block);
        let e = refused(&d.join("block.yaml"), Format::Tagpack);
        assert!(e.contains("block.yaml") && e.contains("line 33: nested too deep"), "{e}");
    }

    #[test]
    fn oversized_file_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.yaml");
        std::fs::File::create(&p).unwrap().set_len(MAX_YAML_BYTES + 1).unwrap();
        let e = refused(&p, Format::Tagpack);
        assert!(e.contains("big.yaml") && e.contains("209715201 bytes; expected a YAML file of at most 200 MiB"), "{e}");
    }

    #[test]
    fn alias_bomb_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for n in 1..10 {
            let refs = vec![format!("*a{}", n - 1); 10].join(", ");
            text.push_str(&format!("a{n}: &a{n} [{refs}]\n"));
        }
        text.push_str("tags: [*a9]\n");
        write(dir.path(), "bomb.yaml", &text);
        let e = refused(&dir.path().join("bomb.yaml"), Format::Tagpack);
        assert!(e.contains("bomb.yaml") && e.contains("not valid YAML"), "{e}");
    }
}
