//! Incidents: ifr's own ledger CSV (with attribution, addresses and tx hashes) and the DefiLlama
//! hacks export (no attribution).

use super::csvutil::{CsvFile, get, line};
use super::{Acc, At, Input, file_name, non_empty, parse_day};
use crate::address;
use crate::error::{Error, Result};
use crate::table::Cell;

/// The ledger's columns; the first four and `source_url` are required in every row.
pub const LEDGER_COLUMNS: [&str; 16] = [
    "id",
    "date",
    "name",
    "chains",
    "reported_usd",
    "returned_usd",
    "classification",
    "actor",
    "attributed_by",
    "attribution_date",
    "attribution_source",
    "victim_addresses",
    "attacker_addresses",
    "tx_hashes",
    "source_url",
    "notes",
];

/// A USD amount: digits with an optional `.` decimal part; thousands may be grouped with `,` in
/// threes (`624,000,000.50`). A decimal comma (`624000000,50`) or mixed separators (`1.234,56`)
/// are ambiguous and refused: read one way they are off by a factor of 100 or more.
fn usd(s: &str) -> Result<Option<f64>, String> {
    let Some(t) = non_empty(s) else { return Ok(None) };
    let expected = "expected a non-negative USD amount with `.` as the decimal point (thousands grouped by `,` in threes, or not at all)";
    let (int, frac) = match t.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (t, None),
    };
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    if frac.is_some_and(|f| !digits(f)) {
        return Err(format!("{expected}; `{t}` has separators after the decimal point"));
    }
    let int_ok = if int.contains(',') {
        let groups: Vec<&str> = int.split(',').collect();
        (1..=3).contains(&groups[0].len()) && digits(groups[0]) && groups[1..].iter().all(|g| g.len() == 3 && digits(g))
    } else {
        digits(int)
    };
    if !int_ok {
        let why = if int.contains(',') { "; a `,` that does not group thousands in threes reads as a decimal comma" } else { "" };
        return Err(format!("{expected}{why}"));
    }
    match format!("{}{}", int.replace(',', ""), frac.map(|f| format!(".{f}")).unwrap_or_default()).parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        _ => Err(expected.to_string()),
    }
}

fn addresses(s: &str) -> Result<Option<String>, String> {
    let mut out = Vec::new();
    for a in s.split(';').filter_map(non_empty) {
        out.push(address::for_currency("", a).map_err(|why| format!("`{a}`: {why}"))?);
    }
    Ok((!out.is_empty()).then(|| out.join(";")))
}

/// Transaction hashes: `0x` + 64 hex (EVM), or 64 hex without `0x` (a Bitcoin transaction id, as
/// bitcoin-etl and the lake write it); lower-cased.
fn hashes(s: &str) -> Result<Option<String>, String> {
    let mut out = Vec::new();
    for h in s.split(';').filter_map(non_empty) {
        if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) {
            out.push(h.to_ascii_lowercase());
            continue;
        }
        out.push(address::hash32(h).map_err(|why| format!("`{h}`: {why} (or 64 hex digits without 0x: a Bitcoin transaction id)"))?);
    }
    Ok((!out.is_empty()).then(|| out.join(";")))
}

pub fn load_ledger(input: &Input<'_>, acc: &mut Acc) -> Result<()> {
    for path in input.each_file() {
        super::csvutil::each_named_row(path, acc, &["id", "date", "name", "source_url"], &LEDGER_COLUMNS, |acc, at, row| {
            macro_rules! bad {
                ($c:expr, $v:expr, $why:expr) => {{
                    return acc.quarantine(at, Some($c), Some(&*$v), $why);
                }};
            }
            let id = row.get("id");
            if id.is_empty() {
                bad!("id", id, "every incident needs an id");
            }
            let date = row.get("date");
            let day = match parse_day(&date) {
                Ok(d) => d,
                Err(why) => bad!("date", date, why),
            };
            let name = row.get("name");
            if name.is_empty() {
                bad!("name", name, "every incident needs a name");
            }
            let source_url = row.get("source_url");
            if source_url.is_empty() {
                bad!("source_url", source_url, "every incident needs a source");
            }
            let mut nums = [None, None];
            for (k, c) in ["reported_usd", "returned_usd"].iter().enumerate() {
                match usd(&row.get(c)) {
                    Ok(v) => nums[k] = v,
                    Err(why) => bad!(c, row.get(c), why),
                }
            }
            let attribution_date = match non_empty(&row.get("attribution_date")) {
                None => None,
                Some(d) => match parse_day(d) {
                    Ok(v) => Some(v),
                    Err(why) => bad!("attribution_date", d.to_string(), why),
                },
            };
            let mut lists = [None, None];
            for (k, c) in ["victim_addresses", "attacker_addresses"].iter().enumerate() {
                match addresses(&row.get(c)) {
                    Ok(v) => lists[k] = v,
                    Err(why) => bad!(c, row.get(c), why),
                }
            }
            let txs = match hashes(&row.get("tx_hashes")) {
                Ok(v) => v,
                Err(why) => bad!("tx_hashes", row.get("tx_hashes"), why),
            };
            let opt = |c: &str| non_empty(&row.get(c)).map(str::to_string);
            acc.load(
                "incidents",
                vec![
                    Cell::Str(id),
                    Cell::Date(day),
                    Cell::Str(name),
                    opt("chains").into(),
                    nums[0].into(),
                    nums[1].into(),
                    opt("classification").into(),
                    opt("actor").into(),
                    opt("attributed_by").into(),
                    attribution_date.map_or(Cell::Null, Cell::Date),
                    opt("attribution_source").into(),
                    lists[0].clone().into(),
                    lists[1].clone().into(),
                    txs.into(),
                    Cell::Str(source_url),
                    opt("notes").into(),
                    Cell::Str(file_name(path)),
                ],
            )
        })?;
    }
    Ok(())
}

/// What can happen to recovered funds.
const RECOVERY_KINDS: [&str; 3] = ["frozen", "seized", "returned"];

/// ifr's recoveries CSV: `id,incident_id,actor,date,kind,usd,asset_amount,acted_by,source_url,notes`
/// (id, date, kind, acted_by and source_url required; actor for funds not tied to an incident;
/// usd, when given, as in the ledger).
pub fn load_recoveries(input: &Input<'_>, acc: &mut Acc) -> Result<()> {
    let columns = ["id", "incident_id", "actor", "date", "kind", "usd", "asset_amount", "acted_by", "source_url", "notes"];
    for path in input.each_file() {
        super::csvutil::each_named_row(path, acc, &["id", "date", "kind", "acted_by", "source_url"], &columns, |acc, at, row| {
            for c in ["id", "acted_by", "source_url"] {
                if row.get(c).is_empty() {
                    return acc.quarantine(at, Some(c), Some(""), format!("every recovery needs `{c}`"));
                }
            }
            let date = row.get("date");
            let day = match parse_day(&date) {
                Ok(d) => d,
                Err(why) => return acc.quarantine(at, Some("date"), Some(&date), why),
            };
            let kind = row.get("kind").to_ascii_lowercase();
            if !RECOVERY_KINDS.contains(&kind.as_str()) {
                return acc.quarantine(at, Some("kind"), Some(&row.get("kind")), format!("expected one of {}", RECOVERY_KINDS.join(", ")));
            }
            let value = match usd(&row.get("usd")) {
                Ok(v) => v,
                Err(why) => return acc.quarantine(at, Some("usd"), Some(&row.get("usd")), why),
            };
            let opt = |c: &str| non_empty(&row.get(c)).map(str::to_string);
            acc.load(
                "recoveries",
                vec![
                    Cell::Str(row.get("id")),
                    opt("incident_id").into(),
                    opt("actor").into(),
                    Cell::Date(day),
                    Cell::Str(kind),
                    value.into(),
                    opt("asset_amount").into(),
                    Cell::Str(row.get("acted_by")),
                    Cell::Str(row.get("source_url")),
                    opt("notes").into(),
                    Cell::Str(file_name(path)),
                ],
            )
        })?;
    }
    Ok(())
}

/// ifr's cross-chain links CSV (see `data/schemas/crosschain_links.yaml`): every column required
/// but `notes`; transaction ids as the ledger's, chain names lower-case, amounts positive numbers
/// in whole units (`.` decimal point).
pub fn load_links(input: &Input<'_>, acc: &mut Acc) -> Result<()> {
    let columns = [
        "id",
        "source_chain",
        "deposit_tx",
        "source_asset",
        "source_amount",
        "destination_chain",
        "release_tx",
        "release_address",
        "destination_asset",
        "destination_amount",
        "link_source",
        "notes",
    ];
    let required: Vec<&str> = columns.iter().copied().filter(|c| *c != "notes").collect();
    for path in input.each_file() {
        super::csvutil::each_named_row(path, acc, &required, &columns, |acc, at, row| {
            for c in &required {
                if row.get(c).trim().is_empty() {
                    return acc.quarantine(at, Some(c), Some(""), format!("every link needs `{c}`"));
                }
            }
            let mut txs = Vec::new();
            for (c, side) in [("deposit_tx", "source_chain"), ("release_tx", "destination_chain")] {
                match hashes(&row.get(c)) {
                    // A hash written without 0x on an EVM chain is written the way the lake has it.
                    Ok(Some(h))
                        if !h.contains(';') && !h.starts_with("0x") && super::chain::is_evm(&row.get(side).trim().to_ascii_lowercase()) =>
                    {
                        txs.push(format!("0x{h}"))
                    }
                    Ok(Some(h)) if !h.contains(';') => txs.push(h),
                    Ok(_) => return acc.quarantine(at, Some(c), Some(&row.get(c)), "expected one transaction id"),
                    Err(why) => return acc.quarantine(at, Some(c), Some(&row.get(c)), why),
                }
            }
            let mut amounts = Vec::new();
            for c in ["source_amount", "destination_amount"] {
                match row.get(c).trim().parse::<f64>() {
                    Ok(v) if v.is_finite() && v > 0.0 => amounts.push(v),
                    _ => {
                        return acc.quarantine(
                            at,
                            Some(c),
                            Some(&row.get(c)),
                            "expected a positive amount in whole units (`.` decimal point)",
                        );
                    }
                }
            }
            let chain = |c: &str| row.get(c).trim().to_ascii_lowercase();
            let destination = chain("destination_chain");
            let release = row.get("release_address");
            let release = match address::detect(release.trim()) {
                Some((_, a)) => a,
                None => {
                    return acc.quarantine(
                        at,
                        Some("release_address"),
                        Some(&release),
                        "expected an address (EVM, Bitcoin, Tron …) whose checksum verifies",
                    );
                }
            };
            acc.load(
                "crosschain_links",
                vec![
                    Cell::Str(row.get("id").trim().to_string()),
                    Cell::Str(chain("source_chain")),
                    Cell::Str(txs[0].clone()),
                    Cell::Str(row.get("source_asset").trim().to_string()),
                    Cell::F64(amounts[0]),
                    Cell::Str(destination),
                    Cell::Str(txs[1].clone()),
                    Cell::Str(release),
                    Cell::Str(row.get("destination_asset").trim().to_string()),
                    Cell::F64(amounts[1]),
                    Cell::Str(row.get("link_source")),
                    non_empty(&row.get("notes")).map(str::to_string).into(),
                    Cell::Str(file_name(path)),
                ],
            )
        })?;
    }
    Ok(())
}

/// THORChain's chain codes (Midgard's `CHAIN.SYMBOL` assets) and ifr's chain names.
const THORCHAIN_CHAINS: [(&str, &str); 10] = [
    ("BTC", "bitcoin"),
    ("ETH", "ethereum"),
    ("BSC", "bsc"),
    ("AVAX", "avalanche"),
    ("BASE", "base"),
    ("ARB", "arbitrum"),
    ("LTC", "litecoin"),
    ("BCH", "bitcoin-cash"),
    ("DOGE", "dogecoin"),
    ("GAIA", "cosmos"),
];

/// A Midgard coin: (ifr chain, symbol, amount in whole units). None for what is not a layer-1
/// asset (RUNE, synths `ETH/ETH`, trade assets `ETH~ETH`) or a chain ifr does not name.
fn midgard_coin(c: &serde_json::Value) -> Option<(&'static str, String, f64)> {
    let asset = c.get("asset")?.as_str()?;
    let (code, rest) = asset.split_once('.')?;
    let chain = THORCHAIN_CHAINS.iter().find(|(k, _)| *k == code)?.1;
    let symbol = rest.split('-').next()?.to_string();
    let units: u64 = c.get("amount")?.as_str()?.parse().ok()?;
    Some((chain, symbol, units as f64 / 1e8))
}

/// A Midgard tx id (upper-case hex, no 0x) as the chain writes it: `0x` + lower-case on EVM chains,
/// lower-case elsewhere.
fn midgard_tx(chain: &str, id: &str) -> Option<String> {
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| {
        let low = id.to_ascii_lowercase();
        if super::chain::is_evm(chain) { format!("0x{low}") } else { low }
    })
}

/// THORChain Midgard's `/v2/actions` responses (JSON, one page per file or one per line): every
/// successful swap whose deposit and release are both layer-1 transactions becomes a cross-chain
/// link (one per layer-1 release leg). Each action is one input item: loaded, quarantined when it
/// is not an action Midgard writes, or filtered with the reason (not a swap, not successful, a
/// release in RUNE, synths or trade assets only, a chain ifr does not name).
pub fn load_midgard(input: &Input<'_>, acc: &mut Acc) -> Result<()> {
    for path in input.each_file() {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?;
        let pages: Vec<serde_json::Value> = match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) => vec![v],
            Err(_) => {
                let mut pages = Vec::new();
                for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                    pages.push(
                        serde_json::from_str(line)
                            .map_err(|e| Error::input_caused(path, format!("line {}: not a Midgard /v2/actions page (JSON)", i + 1), e))?,
                    );
                }
                pages
            }
        };
        let mut n = 0i64;
        for page in &pages {
            let actions = page
                .get("actions")
                .and_then(|a| a.as_array())
                .ok_or_else(|| Error::input(path, "expected Midgard's /v2/actions response: an object with `actions`"))?;
            'actions: for a in actions {
                n += 1;
                acc.read();
                let at = At::new(path, n);
                let kind = a.get("type").and_then(|t| t.as_str()).unwrap_or("");
                let status = a.get("status").and_then(|t| t.as_str()).unwrap_or("");
                if kind.is_empty() || status.is_empty() {
                    acc.quarantine(at, Some("type"), Some(&a.to_string()), "expected a Midgard action with `type` and `status`")?;
                    continue;
                }
                if kind != "swap" {
                    acc.filter(&format!("a `{kind}` action, not a swap"));
                    continue;
                }
                if status != "success" {
                    acc.filter(&format!("a `{status}` swap, not released"));
                    continue;
                }
                let leg = |side: &str| a.get(side).and_then(|v| v.as_array()).cloned().unwrap_or_default();
                let Some(deposit) = leg("in").into_iter().find_map(|t| {
                    let coin = t.get("coins")?.as_array()?.iter().find_map(midgard_coin)?;
                    Some((midgard_tx(coin.0, t.get("txID")?.as_str()?)?, coin))
                }) else {
                    acc.filter("a swap whose deposit is not a layer-1 transaction ifr names");
                    continue;
                };
                let mut links = Vec::new();
                for (k, t) in leg("out").iter().enumerate() {
                    let Some(coin) = t.get("coins").and_then(|c| c.as_array()).and_then(|c| c.iter().find_map(midgard_coin)) else {
                        continue;
                    };
                    let (Some(tx), Some(addr)) = (
                        t.get("txID").and_then(|x| x.as_str()).and_then(|x| midgard_tx(coin.0, x)),
                        t.get("address").and_then(|x| x.as_str()),
                    ) else {
                        continue;
                    };
                    let Some((_, release)) = address::detect(addr.trim()) else {
                        // ifr checks EVM, Bitcoin, Tron and BNB Beacon addresses: a release on
                        // another chain (Litecoin, Dogecoin …) is not one it can follow.
                        if coin.0 == "bitcoin" || super::chain::is_evm(coin.0) {
                            acc.quarantine(at, Some("out.address"), Some(addr), "the release address does not verify for its chain")?;
                        } else {
                            acc.filter(&format!("a release on {}, whose addresses ifr does not check", coin.0));
                        }
                        continue 'actions;
                    };
                    links.push((k, tx, release, coin));
                }
                if links.is_empty() {
                    acc.filter("a swap released in RUNE, synths or trade assets only (no layer-1 release)");
                    continue;
                }
                let (deposit_tx, (source_chain, source_asset, source_amount)) = deposit;
                // One link per action (one input item): its first layer-1 release; more are noted.
                let more = links.len() - 1;
                if let Some((k, release_tx, release, (chain, asset, amount))) = links.into_iter().next() {
                    let date = a.get("date").and_then(|d| d.as_str()).map(|d| format!("THORChain block time (ns) {d}"));
                    let notes = match (date, more) {
                        (d, 0) => d,
                        (d, m) => Some(format!(
                            "{}{m} more layer-1 release(s) in this action not linked",
                            d.map(|d| d + "; ").unwrap_or_default()
                        )),
                    };
                    acc.load(
                        "crosschain_links",
                        vec![
                            Cell::Str(format!("thorchain:{deposit_tx}:{k}")),
                            Cell::Str(source_chain.to_string()),
                            Cell::Str(deposit_tx.clone()),
                            Cell::Str(source_asset.clone()),
                            Cell::F64(source_amount),
                            Cell::Str(chain.to_string()),
                            Cell::Str(release_tx),
                            Cell::Str(release),
                            Cell::Str(asset),
                            Cell::F64(amount),
                            Cell::Str("THORChain Midgard /v2/actions".to_string()),
                            notes.into(),
                            Cell::Str(file_name(path)),
                        ],
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// `['Ethereum', 'BSC']` (a Python list literal, as the export writes it) → `Ethereum;BSC`.
pub fn python_list(s: &str) -> Option<String> {
    let inner = s.trim().trim_start_matches('[').trim_end_matches(']');
    let parts: Vec<&str> = inner.split(',').map(|p| p.trim().trim_matches(['\'', '"']).trim()).filter(|p| !p.is_empty()).collect();
    (!parts.is_empty()).then(|| parts.join(";"))
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// DefiLlama's `defillamaId` names the protocol, not the incident (Ronin's 2022 and 2024 hacks share
/// one), so an incident is keyed by date and name; a different incident of the same protocol on the
/// same day gets `-2`, `-3` …, and only an identical row counts as a duplicate.
pub fn load_defillama(input: &Input<'_>, acc: &mut Acc) -> Result<()> {
    let mut seen: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for path in input.each_file() {
        let mut csv = CsvFile::open(path, &["date", "name", "amount", "chain", "source"])?;
        let i = |n: &str| csv.index(n);
        let (c_date, c_name, c_class, c_tech, c_amount, c_chain, c_source, c_ret) =
            (i("date"), i("name"), i("classification"), i("technique"), i("amount"), i("chain"), i("source"), i("returnedFunds"));
        let width = csv.headers.len();
        for rec in csv.reader.records() {
            let rec = rec.map_err(|e| Error::input_caused(path, "not readable as CSV", e))?;
            acc.read();
            let at = At::new(path, line(&rec));
            if let Some(why) = super::csvutil::width_mismatch(&rec, width) {
                acc.quarantine(at, None, None, why)?;
                continue;
            }
            let date = get(&rec, c_date);
            let day = match parse_day(date) {
                Ok(d) => d,
                Err(why) => {
                    acc.quarantine(at, Some("date"), Some(date), why)?;
                    continue;
                }
            };
            let name = get(&rec, c_name).trim();
            if name.is_empty() {
                acc.quarantine(at, Some("name"), Some(name), "every incident needs a name")?;
                continue;
            }
            let amount = match usd(get(&rec, c_amount)) {
                Ok(v) => v,
                Err(why) => {
                    acc.quarantine(at, Some("amount"), Some(get(&rec, c_amount)), why)?;
                    continue;
                }
            };
            let returned = match usd(get(&rec, c_ret)) {
                Ok(v) => v,
                Err(why) => {
                    acc.quarantine(at, Some("returnedFunds"), Some(get(&rec, c_ret)), why)?;
                    continue;
                }
            };
            let base = format!("defillama-{}-{}", super::day_to_string(day), slug(name));
            let content = rec.iter().collect::<Vec<_>>().join("\u{1f}");
            let versions = seen.entry(base.clone()).or_default();
            if versions.contains(&content) {
                acc.add_duplicates(1);
                continue;
            }
            versions.push(content);
            let id = if versions.len() == 1 { base } else { format!("{base}-{}", versions.len()) };
            let classification = [get(&rec, c_class), get(&rec, c_tech)].iter().filter_map(|s| non_empty(s)).collect::<Vec<_>>().join(": ");
            acc.load(
                "incidents",
                vec![
                    Cell::Str(id),
                    Cell::Date(day),
                    Cell::Str(name.to_string()),
                    python_list(get(&rec, c_chain)).into(),
                    amount.into(),
                    returned.into(),
                    non_empty(&classification).map(str::to_string).into(),
                    Cell::Null,
                    Cell::Null,
                    Cell::Null,
                    Cell::Null,
                    Cell::Null,
                    Cell::Null,
                    Cell::Null,
                    non_empty(get(&rec, c_source)).map(str::to_string).into(),
                    Cell::Null,
                    Cell::Str(file_name(path)),
                ],
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::usd;

    #[test]
    fn usd_amounts_with_a_decimal_comma_or_mixed_separators_are_refused() {
        assert_eq!(usd("624000000"), Ok(Some(624_000_000.0)));
        assert_eq!(usd("624,000,000"), Ok(Some(624_000_000.0)));
        assert_eq!(usd("624,000,000.50"), Ok(Some(624_000_000.5)));
        assert_eq!(usd("4800000.0"), Ok(Some(4_800_000.0)));
        assert_eq!(usd(""), Ok(None));
        for bad in ["624000000,50", "1.234,56", "1,23", "12,3456", "-5", "1e9", "1_000", "1.2.3", ",100"] {
            assert!(usd(bad).is_err(), "{bad} was accepted: {:?}", usd(bad));
        }
        assert!(usd("624000000,50").unwrap_err().contains("decimal comma"));
    }
}
