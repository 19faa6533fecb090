//! OFAC SDN_ADVANCED XML (plain or .bz2), streamed with quick-xml. The "Digital Currency Address -
//! XXX" feature types are resolved from the file's own ReferenceValueSets; the file's DateOfIssue is
//! the snapshot date; several snapshots give listing and delisting dates. Entity declarations are
//! refused and no entity is ever expanded (only XML's five predefined ones and character references).

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use quick_xml::events::{BytesStart, Event};

use super::{Acc, At, Input, file_name};
use crate::address;
use crate::error::{Error, Result};
use crate::table::Cell;

const FEATURE_PREFIX: &str = "Digital Currency Address - ";

/// One address feature of one snapshot.
#[derive(Debug, Clone)]
pub struct AddressItem {
    pub list: String,
    pub party_id: String,
    pub party_name: String,
    pub party_type: Option<String>,
    pub programs: Vec<String>,
    pub party_listed_day: Option<i32>,
    pub currency: String,
    /// As written in the file.
    pub raw_address: String,
    /// Position of the feature in the file (1-based count of address features), for quarantine rows.
    pub item_no: i64,
}

/// What one file says.
#[derive(Debug)]
pub struct Snapshot {
    pub path: PathBuf,
    pub day: i32,
    pub items: Vec<AddressItem>,
}

#[derive(Default)]
struct Party {
    id: String,
    sub_type: Option<u32>,
    name_parts: Vec<String>,
    name_done: bool,
    addresses: Vec<(String, String)>,
}

/// Where the parser is, as far as it cares.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Text {
    None,
    IssueYear,
    IssueMonth,
    IssueDay,
    FeatureTypeName(u32),
    PartyTypeName(u32),
    SanctionsTypeName(u32),
    ListName(u32),
    NamePart,
    Address,
    EntryYear,
    EntryMonth,
    EntryDay,
    ProgramComment,
}

fn attr_u32(e: &BytesStart<'_>, name: &[u8]) -> Option<u32> {
    e.attributes().flatten().find(|a| a.key.as_ref() == name).and_then(|a| std::str::from_utf8(&a.value).ok()?.parse().ok())
}

fn attr_str(e: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes().flatten().find(|a| a.key.as_ref() == name).and_then(|a| std::str::from_utf8(&a.value).ok().map(str::to_string))
}

struct Entry {
    list_id: Option<u32>,
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    programs: Vec<String>,
}

/// Parse one SDN_ADVANCED file into its address features.
pub fn parse(path: &Path) -> Result<Snapshot> {
    let reader = super::open_maybe_compressed(path)?;
    // A .bz2 file is already decompressed on other threads (bz2par); others get one here.
    let reader: Box<dyn std::io::Read + Send> = if super::is_bz2(path) { reader } else { Box::new(threaded(reader)) };
    parse_reader(path, std::io::BufReader::with_capacity(1 << 16, reader))
}

/// Decompress on a second thread so that parsing overlaps decompression (the bz2 dominates).
fn threaded(mut inner: Box<dyn std::io::Read + Send>) -> super::ChannelReader {
    let (tx, rx) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<u8>>>(8);
    std::thread::spawn(move || {
        loop {
            let mut buf = vec![0u8; 1 << 18];
            let mut filled = 0;
            while filled < buf.len() {
                match inner.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
            buf.truncate(filled);
            let done = filled == 0;
            if tx.send(Ok(buf)).is_err() || done {
                return;
            }
        }
    });
    super::ChannelReader::new(rx)
}

pub fn parse_reader<R: BufRead>(path: &Path, input: R) -> Result<Snapshot> {
    let mut xml = quick_xml::Reader::from_reader(input);
    // Text is trimmed once, at its element's end: trimming each piece would drop the spaces
    // around an entity (`Alpha &amp; Co` read as `Alpha&Co`).
    xml.config_mut().trim_text(false);
    let bad = |msg: String| Error::input(path, msg);

    let mut buf = Vec::with_capacity(4096);
    let mut text = Text::None;
    let mut text_buf = String::new();
    let mut saw_root = false;

    let (mut issue_y, mut issue_m, mut issue_d) = (None::<i32>, None::<u32>, None::<u32>);
    // Reference values from the file itself.
    let mut feature_currency: HashMap<u32, String> = HashMap::new();
    let mut sub_type_to_type: HashMap<u32, u32> = HashMap::new();
    let mut party_type_name: HashMap<u32, String> = HashMap::new();
    let mut sanctions_type_name: HashMap<u32, String> = HashMap::new();
    let mut list_name: HashMap<u32, String> = HashMap::new();

    let mut party: Option<Party> = None;
    let mut in_primary_alias = false;
    let mut in_name = false; // inside the primary alias's first DocumentedName
    let mut in_feature: Option<String> = None; // currency of the digital-currency feature we are in
    let mut parties: Vec<Party> = Vec::new();
    let mut party_index: HashMap<String, usize> = HashMap::new();
    let mut entries: HashMap<String, Entry> = HashMap::new();
    let mut entry_profile: Option<String> = None;
    let mut in_entry_event = false;
    let mut in_program_measure = false;

    loop {
        let ev = xml.read_event_into(&mut buf).map_err(|e| match e {
            quick_xml::Error::Io(_) => Error::input_caused(path, "cannot be read to the end (a truncated or corrupt .bz2/.gz file?)", e),
            _ => Error::input_caused(path, format!("not well-formed XML near byte {}", xml.buffer_position()), e),
        })?;
        match ev {
            Event::DocType(d) => {
                let s = String::from_utf8_lossy(&d).to_ascii_uppercase();
                if s.contains("<!ENTITY") {
                    return Err(bad(
                        "the XML declares entities (<!ENTITY …>); ifr refuses entity declarations and never expands them".into()
                    ));
                }
            }
            // A self-closing element has no End event: it may carry attributes but opens no state.
            Event::Empty(e) if e.local_name().as_ref() == b"PartySubType" => {
                if let Some((s, t)) = attr_u32(&e, b"ID").zip(attr_u32(&e, b"PartyTypeID")) {
                    sub_type_to_type.insert(s, t);
                }
            }
            Event::Start(e) => {
                let name = e.local_name();
                match name.as_ref() {
                    b"Sanctions" => saw_root = true,
                    b"DateOfIssue" => text = Text::IssueYear, // refined by the child tags below
                    b"Year" if text == Text::IssueYear || matches!(text, Text::IssueMonth | Text::IssueDay) => text = Text::IssueYear,
                    b"Month" if matches!(text, Text::IssueYear | Text::IssueDay) => text = Text::IssueMonth,
                    b"Day" if matches!(text, Text::IssueYear | Text::IssueMonth) => text = Text::IssueDay,
                    b"FeatureType" => {
                        if let Some(id) = attr_u32(&e, b"ID") {
                            text = Text::FeatureTypeName(id)
                        }
                    }
                    b"PartySubType" => {
                        if let Some((s, t)) = attr_u32(&e, b"ID").zip(attr_u32(&e, b"PartyTypeID")) {
                            sub_type_to_type.insert(s, t);
                        }
                    }
                    b"PartyType" => {
                        if let Some(id) = attr_u32(&e, b"ID") {
                            text = Text::PartyTypeName(id)
                        }
                    }
                    b"SanctionsType" => {
                        if let Some(id) = attr_u32(&e, b"ID") {
                            text = Text::SanctionsTypeName(id)
                        }
                    }
                    b"List" => {
                        if let Some(id) = attr_u32(&e, b"ID") {
                            text = Text::ListName(id)
                        }
                    }
                    b"Profile" => {
                        party = Some(Party {
                            id: attr_str(&e, b"ID").unwrap_or_default(),
                            sub_type: attr_u32(&e, b"PartySubTypeID"),
                            ..Party::default()
                        });
                    }
                    b"Alias" if party.is_some() => {
                        in_primary_alias = attr_str(&e, b"Primary").as_deref() == Some("true");
                    }
                    b"DocumentedName" if in_primary_alias && party.as_ref().is_some_and(|p| !p.name_done) => in_name = true,
                    b"NamePartValue" if in_name => text = Text::NamePart,
                    b"Feature" if party.is_some() => {
                        in_feature = attr_u32(&e, b"FeatureTypeID").and_then(|id| feature_currency.get(&id).cloned());
                    }
                    b"VersionDetail" if in_feature.is_some() => text = Text::Address,
                    b"SanctionsEntry" => {
                        let profile = attr_str(&e, b"ProfileID");
                        if let Some(p) = &profile {
                            if party_index.contains_key(p) {
                                entries.insert(
                                    p.clone(),
                                    Entry { list_id: attr_u32(&e, b"ListID"), year: None, month: None, day: None, programs: vec![] },
                                );
                                entry_profile = profile;
                            } else {
                                entry_profile = None;
                            }
                        }
                    }
                    b"EntryEvent" if entry_profile.is_some() => in_entry_event = true,
                    b"Year" if in_entry_event => text = Text::EntryYear,
                    b"Month" if in_entry_event => text = Text::EntryMonth,
                    b"Day" if in_entry_event => text = Text::EntryDay,
                    b"SanctionsMeasure" if entry_profile.is_some() => {
                        in_program_measure =
                            attr_u32(&e, b"SanctionsTypeID").and_then(|id| sanctions_type_name.get(&id)).is_some_and(|n| n == "Program");
                    }
                    b"Comment" if in_program_measure => text = Text::ProgramComment,
                    _ => {}
                }
                text_buf.clear();
            }
            Event::Text(t) if text != Text::None => {
                let s = t.decode().map_err(|e| Error::input_caused(path, "text is not valid UTF-8", e))?;
                text_buf.push_str(&s);
            }
            Event::CData(t) if text != Text::None => {
                text_buf.push_str(&String::from_utf8_lossy(&t));
            }
            Event::GeneralRef(r) if text != Text::None => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text_buf.push(c);
                } else {
                    let name = r.decode().map_err(|e| Error::input_caused(path, "bad entity reference", e))?;
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => text_buf.push_str(s),
                        None => {
                            return Err(bad(format!(
                                "reference to undeclared entity `&{name};` near byte {}; ifr never expands entities",
                                xml.buffer_position()
                            )));
                        }
                    }
                }
            }
            Event::End(e) => {
                let name = e.local_name();
                let t = std::mem::take(&mut text_buf);
                let t = t.trim();
                match (text, name.as_ref()) {
                    (Text::IssueYear, b"Year") => issue_y = t.parse().ok(),
                    (Text::IssueMonth, b"Month") => issue_m = t.parse().ok(),
                    (Text::IssueDay, b"Day") => issue_d = t.parse().ok(),
                    (Text::FeatureTypeName(id), b"FeatureType") => {
                        if let Some(cur) = t.strip_prefix(FEATURE_PREFIX) {
                            feature_currency.insert(id, cur.trim().to_ascii_uppercase());
                        }
                        text = Text::None;
                    }
                    (Text::PartyTypeName(id), b"PartyType") => {
                        party_type_name.insert(id, t.to_string());
                        text = Text::None;
                    }
                    (Text::SanctionsTypeName(id), b"SanctionsType") => {
                        sanctions_type_name.insert(id, t.to_string());
                        text = Text::None;
                    }
                    (Text::ListName(id), b"List") => {
                        list_name.insert(id, t.to_string());
                        text = Text::None;
                    }
                    (Text::NamePart, b"NamePartValue") => {
                        if let Some(p) = party.as_mut() {
                            p.name_parts.push(t.to_string());
                        }
                        text = Text::None;
                    }
                    (Text::Address, b"VersionDetail") => {
                        if let (Some(p), Some(cur)) = (party.as_mut(), in_feature.as_ref()) {
                            p.addresses.push((cur.clone(), t.to_string()));
                        }
                        text = Text::None;
                    }
                    (Text::EntryYear, b"Year") => {
                        if let Some(en) = entry_profile.as_ref().and_then(|p| entries.get_mut(p)) {
                            en.year = t.parse().ok();
                        }
                        text = Text::None;
                    }
                    (Text::EntryMonth, b"Month") => {
                        if let Some(en) = entry_profile.as_ref().and_then(|p| entries.get_mut(p)) {
                            en.month = t.parse().ok();
                        }
                        text = Text::None;
                    }
                    (Text::EntryDay, b"Day") => {
                        if let Some(en) = entry_profile.as_ref().and_then(|p| entries.get_mut(p)) {
                            en.day = t.parse().ok();
                        }
                        text = Text::None;
                    }
                    (Text::ProgramComment, b"Comment") => {
                        if let Some(en) = entry_profile.as_ref().and_then(|p| entries.get_mut(p))
                            && !t.is_empty()
                        {
                            en.programs.push(t.to_string());
                        }
                        text = Text::None;
                    }
                    _ => {}
                }
                match name.as_ref() {
                    b"DateOfIssue" => text = Text::None,
                    b"DocumentedName" if in_name => {
                        // Later DocumentedNames of the same alias are the name in other scripts.
                        if let Some(p) = party.as_mut() {
                            p.name_done = !p.name_parts.is_empty();
                        }
                        in_name = false;
                    }
                    b"Alias" => in_primary_alias = false,
                    b"Feature" => in_feature = None,
                    b"Profile" => {
                        if let Some(p) = party.take()
                            && !p.addresses.is_empty()
                        {
                            party_index.insert(p.id.clone(), parties.len());
                            parties.push(p);
                        }
                    }
                    b"EntryEvent" => in_entry_event = false,
                    b"SanctionsMeasure" => in_program_measure = false,
                    b"SanctionsEntry" => entry_profile = None,
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !saw_root {
        return Err(bad("expected an OFAC SDN_ADVANCED XML file (root element <Sanctions>)".into()));
    }
    let day = match (issue_y, issue_m, issue_d) {
        (Some(y), Some(m), Some(d)) => chrono::NaiveDate::from_ymd_opt(y, m, d).map(super::days_since_epoch),
        _ => None,
    }
    .ok_or_else(|| bad("expected <DateOfIssue> with Year, Month and Day (the snapshot date)".into()))?;
    if feature_currency.is_empty() {
        return Err(bad("no \"Digital Currency Address - …\" feature types in <ReferenceValueSets>".into()));
    }

    let mut items = Vec::new();
    let mut n = 0i64;
    for p in parties {
        let entry = entries.get(&p.id);
        let list =
            entry.and_then(|e| e.list_id).and_then(|id| list_name.get(&id).cloned()).unwrap_or_else(|| "(no sanctions entry)".to_string());
        let mut programs = entry.map(|e| e.programs.clone()).unwrap_or_default();
        programs.sort();
        programs.dedup();
        let party_listed_day = entry.and_then(|e| chrono::NaiveDate::from_ymd_opt(e.year?, e.month?, e.day?).map(super::days_since_epoch));
        let party_type = p.sub_type.and_then(|s| {
            // Sub-types "Vessel"/"Aircraft" are more telling than their type "Transport".
            sub_type_to_type.get(&s).and_then(|t| party_type_name.get(t)).cloned()
        });
        let party_name = p.name_parts.join(" ");
        for (currency, raw) in p.addresses {
            n += 1;
            items.push(AddressItem {
                list: list.clone(),
                party_id: p.id.clone(),
                party_name: party_name.clone(),
                party_type: party_type.clone(),
                programs: programs.clone(),
                party_listed_day,
                currency,
                raw_address: raw,
                item_no: n,
            });
        }
    }
    Ok(Snapshot { path: path.to_path_buf(), day, items })
}

/// Load every snapshot of a source and merge them into one row per (list, party, currency, address).
/// The DateOfIssue of an SDN_ADVANCED file (plain, .gz or .bz2), from the start of the file where
/// OFAC writes it, as days since the epoch; None when the first 64 kB do not hold one.
pub fn date_of_issue(path: &Path) -> Result<Option<i32>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(1 << 16);
    super::open_maybe_compressed(path)?.take(1 << 16).read_to_end(&mut head).map_err(|e| Error::io("reading", path, e))?;
    let text = String::from_utf8_lossy(&head);
    let Some(at) = text.find("DateOfIssue") else { return Ok(None) };
    let rest = &text[at..text.len().min(at + 400)];
    // `<Year>2024</Year><Month>5</Month><Day>28</Day>`, with or without a namespace prefix.
    let field = |tag: &str| -> Option<u32> {
        let start = rest.find(&format!("{tag}>"))? + tag.len() + 1;
        rest[start..].split('<').next()?.trim().parse().ok()
    };
    let date = field("Year").zip(field("Month")).zip(field("Day")).and_then(|((y, m), d)| chrono::NaiveDate::from_ymd_opt(y as i32, m, d));
    Ok(date.map(super::days_since_epoch))
}

pub fn load(input: &Input<'_>, acc: &mut Acc) -> Result<()> {
    let mut snaps = Vec::new();
    for f in input.each_file() {
        snaps.push(parse(f)?);
    }
    merge_snapshots(snaps, &input.spec.name, acc)
}

/// The date an address first listed in snapshot `first` is taken as listed from, and the rule that
/// gave it (`days`: the snapshot dates, sorted and distinct). Listed in the earliest snapshot: unknown
/// (on or before it). Else the address was added after the previous snapshot: when the party's own
/// entry date falls in that gap (previous snapshot, `first`], the party and so the address were not
/// listed before it; otherwise only `first` is known.
pub fn listed_date(days: &[i32], first: i32, party_listed: Option<i32>) -> (Option<i32>, &'static str) {
    let Some(previous) = days.iter().copied().take_while(|&d| d < first).last() else {
        return (None, "before-earliest-snapshot");
    };
    match party_listed {
        // After `previous` means on or after previous + 1 day: the entry date is the tighter bound.
        Some(p) if p > previous && p <= first => (Some(p), "party-entry-date"),
        _ => (Some(first), "first-snapshot"),
    }
}

/// Shared by the XML and CSV loaders: merge dated snapshots into listing/delisting dates.
pub fn merge_snapshots(mut snaps: Vec<Snapshot>, source: &str, acc: &mut Acc) -> Result<()> {
    snaps.sort_by(|a, b| (a.day, &a.path).cmp(&(b.day, &b.path)));
    let mut days: Vec<i32> = snaps.iter().map(|s| s.day).collect();
    days.dedup();

    struct Merged {
        item: AddressItem,
        check: Option<String>,
        first: i32,
        last: i32,
        file: String,
    }
    let mut merged: BTreeMap<(String, String, String, String), Merged> = BTreeMap::new();
    for snap in &snaps {
        for it in &snap.items {
            acc.read();
            // A listed address is loaded whatever its format (with a note when odd); only text that is no address is quarantined.
            let address::Listed { address: addr, check } = match address::as_listed(&it.currency, &it.raw_address) {
                Ok(a) => a,
                Err(why) => {
                    acc.quarantine(
                        At::new(&snap.path, it.item_no),
                        Some(&format!("Digital Currency Address - {}", it.currency)),
                        Some(&it.raw_address),
                        format!("{why} (party {} {})", it.party_id, it.party_name),
                    )?;
                    continue;
                }
            };
            let key = (it.list.clone(), it.party_id.clone(), it.currency.clone(), addr);
            match merged.get_mut(&key) {
                Some(m) => {
                    acc.add_duplicates(1);
                    if snap.day >= m.last {
                        m.last = snap.day;
                        m.file = file_name(&snap.path);
                        m.item = it.clone();
                        m.check = check;
                    }
                }
                None => {
                    merged.insert(key, Merged { item: it.clone(), check, first: snap.day, last: snap.day, file: file_name(&snap.path) });
                }
            }
        }
    }
    for ((list, party_id, currency, addr), m) in merged {
        let (listed, rule) = listed_date(&days, m.first, m.item.party_listed_day);
        let delisted = days.iter().copied().find(|&d| d > m.last);
        let programs = (!m.item.programs.is_empty()).then(|| m.item.programs.join(";"));
        acc.load(
            "sanctions",
            vec![
                Cell::Str(list),
                Cell::Str(party_id),
                Cell::Str(m.item.party_name),
                m.item.party_type.into(),
                programs.into(),
                m.item.party_listed_day.map_or(Cell::Null, Cell::Date),
                Cell::Str(currency),
                Cell::Str(addr),
                m.check.into(),
                Cell::Date(m.first),
                Cell::Date(m.last),
                listed.map_or(Cell::Null, Cell::Date),
                Cell::Str(rule.to_string()),
                delisted.map_or(Cell::Null, Cell::Date),
                Cell::Str(source.to_string()),
                Cell::Str(m.file),
            ],
        )?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use polars::prelude::DataType;

    /// A party of a test file: id, name, entry date (y, m, d), (currency, address) features.
    type TestParty<'a> = (&'a str, &'a str, (i32, u32, u32), &'a [(&'a str, &'a str)]);

    /// A minimal SDN_ADVANCED file: the reference values the parser needs and the parties.
    fn sdn_xml(issued: (i32, u32, u32), parties: &[TestParty<'_>]) -> String {
        let currencies = ["XBT", "ETH", "BNB", "XMR", "TRX"];
        let mut x = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Sanctions><DateOfIssue><Year>{}</Year><Month>{}</Month><Day>{}</Day></DateOfIssue><ReferenceValueSets><FeatureTypeValues>",
            issued.0, issued.1, issued.2
        );
        for (i, c) in currencies.iter().enumerate() {
            x += &format!("<FeatureType ID=\"{}\">Digital Currency Address - {c}</FeatureType>", 900 + i);
        }
        x += "</FeatureTypeValues><ListValues><List ID=\"1550\">SDN List</List></ListValues><PartySubTypeValues><PartySubType ID=\"4\" PartyTypeID=\"1\">Unknown</PartySubType></PartySubTypeValues><PartyTypeValues><PartyType ID=\"1\">Individual</PartyType></PartyTypeValues><SanctionsTypeValues><SanctionsType ID=\"1\">Program</SanctionsType></SanctionsTypeValues></ReferenceValueSets><DistinctParties>";
        for (id, name, _, features) in parties {
            x += &format!(
                "<DistinctParty><Profile ID=\"{id}\" PartySubTypeID=\"4\"><Identity><Alias Primary=\"true\"><DocumentedName><DocumentedNamePart><NamePartValue>{name}</NamePartValue></DocumentedNamePart></DocumentedName></Alias></Identity>"
            );
            for (cur, addr) in *features {
                let ft = 900 + currencies.iter().position(|c| c == cur).expect("a test currency");
                x += &format!(
                    "<Feature FeatureTypeID=\"{ft}\"><FeatureVersion><VersionDetail>{addr}</VersionDetail></FeatureVersion></Feature>"
                );
            }
            x += "</Profile></DistinctParty>";
        }
        x += "</DistinctParties><SanctionsEntries>";
        for (id, _, (y, m, d), _) in parties {
            x += &format!(
                "<SanctionsEntry ProfileID=\"{id}\" ListID=\"1550\"><EntryEvent><Date><Year>{y}</Year><Month>{m}</Month><Day>{d}</Day></Date></EntryEvent><SanctionsMeasure SanctionsTypeID=\"1\"><Comment>CYBER2</Comment></SanctionsMeasure></SanctionsEntry>"
            );
        }
        x + "</SanctionsEntries></Sanctions>\n"
    }

    fn snapshot(name: &str, xml: &str) -> Snapshot {
        parse_reader(Path::new(name), std::io::Cursor::new(xml.as_bytes())).unwrap()
    }

    /// The sanctions rows (columns joined by `|`, sorted) and the quarantine reasons a source loads.
    pub(crate) fn loaded(acc: Acc, cols: &[&str]) -> (Vec<String>, Vec<String>, super::super::Counts) {
        let (tables, counts) = acc.finish(&["sanctions"]).unwrap();
        let text = |df: &polars::prelude::DataFrame, c: &str| -> Vec<String> {
            let s = df.column(c).unwrap().cast(&DataType::String).unwrap();
            s.str().unwrap().iter().map(|v| v.unwrap_or("null").to_string()).collect()
        };
        let sanctions = &tables[0].1;
        let columns: Vec<Vec<String>> = cols.iter().map(|c| text(sanctions, c)).collect();
        // Sorted as text (`|` sorts after letters).
        let mut rows: Vec<String> =
            (0..sanctions.height()).map(|i| columns.iter().map(|c| c[i].as_str()).collect::<Vec<_>>().join("|")).collect();
        rows.sort();
        (rows, text(&tables[1].1, "reason"), counts)
    }

    #[test]
    fn listed_addresses_load_whatever_their_format() {
        let xml = sdn_xml(
            (2025, 11, 19),
            &[(
                "1",
                "Test Party",
                (2020, 1, 2),
                &[
                    ("XBT", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"),
                    ("BNB", "bnb136ns6lfw4zs5hg4n85vdthaad7hq5m4gtkgf23"),
                    ("XMR", "4Abc.def"),
                    ("ETH", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
                    ("ETH", "0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
                    ("XBT", " "),
                ],
            )],
        );
        let mut acc = Acc::new("ofac");
        merge_snapshots(vec![snapshot("sdn_2025-11-19.xml", &xml)], "ofac", &mut acc).unwrap();
        let (rows, quarantined, counts) = loaded(acc, &["party_id", "currency", "address", "address_check"]);
        assert_eq!(
            rows,
            [
                "1|BNB|bnb136ns6lfw4zs5hg4n85vdthaad7hq5m4gtkgf23|null",
                "1|ETH|0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed|listed as ETH, an EVM address whose EIP-55 checksum does not match; loaded lowercased",
                "1|XBT|TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t|listed as XBT, looks like a Tron address",
                "1|XMR|4Abc.def|listed as XMR, matches no known address format (unexpected characters in a XMR address); kept as written",
            ]
        );
        // The valid and the miscased spelling of one address are one row (the later item's note wins).
        assert_eq!((counts.read, counts.loaded, counts.duplicates, counts.quarantined), (6, 4, 1, 1));
        assert_eq!(quarantined, ["empty address (party 1 Test Party)"]);
    }

    #[test]
    fn listed_date_is_the_party_entry_date_when_it_falls_after_the_previous_snapshot() {
        // Snapshots 2024-06-01, 2025-01-01, 2025-11-19. Party 1 (entry 2025-03-04, like Parsarad
        // Behrouz) first appears in the last; party 2 (entry 2024-09-01) in the second, with one
        // address more in the last; party 3 (entry 2019-09-13) in all, adding an address in the last;
        // party 4's entry is the second snapshot's day; party 5 is delisted in the second.
        let p1 = ("1", "New Party", (2025, 3, 4), &[("XMR", "addrNew")][..]);
        let p2a = ("2", "Mid Party", (2024, 9, 1), &[("XMR", "addrMid")][..]);
        let p2b = ("2", "Mid Party", (2024, 9, 1), &[("XMR", "addrMid"), ("XMR", "addrMidLater")][..]);
        let p3a = ("3", "Old Party", (2019, 9, 13), &[("XMR", "addrOld")][..]);
        let p3b = ("3", "Old Party", (2019, 9, 13), &[("XMR", "addrOld"), ("XMR", "addrOldLater")][..]);
        let p4 = ("4", "Edge Party", (2025, 1, 1), &[("XMR", "addrEdge")][..]);
        let p5 = ("5", "Gone Party", (2020, 1, 1), &[("XMR", "addrGone")][..]);
        let snaps = vec![
            snapshot("sdn_3.xml", &sdn_xml((2025, 11, 19), &[p1, p2b, p3b, p4])),
            snapshot("sdn_1.xml", &sdn_xml((2024, 6, 1), &[p3a, p5])),
            snapshot("sdn_2.xml", &sdn_xml((2025, 1, 1), &[p2a, p3a])),
        ];
        let mut acc = Acc::new("ofac");
        merge_snapshots(snaps, "ofac", &mut acc).unwrap();
        let (rows, _, _) =
            loaded(acc, &["address", "party_listed_date", "first_seen_snapshot", "listed_date", "listed_date_rule", "delisted_date"]);
        assert_eq!(
            rows,
            [
                "addrEdge|2025-01-01|2025-11-19|2025-11-19|first-snapshot|null",
                "addrGone|2020-01-01|2024-06-01|null|before-earliest-snapshot|2025-01-01",
                "addrMidLater|2024-09-01|2025-11-19|2025-11-19|first-snapshot|null",
                "addrMid|2024-09-01|2025-01-01|2024-09-01|party-entry-date|null",
                "addrNew|2025-03-04|2025-11-19|2025-03-04|party-entry-date|null",
                "addrOldLater|2019-09-13|2025-11-19|2025-11-19|first-snapshot|null",
                "addrOld|2019-09-13|2024-06-01|null|before-earliest-snapshot|null",
            ]
        );
    }

    #[test]
    fn listed_date_rules() {
        let day = |s: &str| super::super::parse_day(s).unwrap();
        let days = [day("2024-06-01"), day("2025-01-01"), day("2025-11-19")];
        assert_eq!(listed_date(&days, days[0], Some(day("2020-01-01"))), (None, "before-earliest-snapshot"));
        assert_eq!(listed_date(&days, days[2], Some(day("2025-03-04"))), (Some(day("2025-03-04")), "party-entry-date"));
        assert_eq!(listed_date(&days, days[2], Some(day("2025-01-02"))), (Some(day("2025-01-02")), "party-entry-date"));
        assert_eq!(listed_date(&days, days[2], Some(day("2025-11-19"))), (Some(day("2025-11-19")), "party-entry-date"));
        assert_eq!(listed_date(&days, days[2], Some(day("2025-01-01"))), (Some(day("2025-11-19")), "first-snapshot"));
        assert_eq!(listed_date(&days, days[2], Some(day("2025-11-20"))), (Some(day("2025-11-19")), "first-snapshot"));
        assert_eq!(listed_date(&days, days[2], None), (Some(day("2025-11-19")), "first-snapshot"));
    }
}
