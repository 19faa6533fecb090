//! ifr's asset list: `chain,token_address,symbol,decimals,price_asset,source` (token_address empty
//! for the chain's native coin).

use super::csvutil::{CsvFile, get, line};
use super::{Acc, At, Input, file_name, non_empty};
use crate::address;
use crate::error::{Error, Result};
use crate::table::Cell;

pub fn load(input: &Input<'_>, acc: &mut Acc) -> Result<()> {
    for path in input.each_file() {
        let mut csv = CsvFile::open(path, &["chain", "token_address", "symbol", "decimals"])?;
        let c: Vec<Option<usize>> =
            ["chain", "token_address", "symbol", "decimals", "price_asset", "source"].iter().map(|n| csv.index(n)).collect();
        let width = csv.headers.len();
        for rec in csv.reader.records() {
            let rec = rec.map_err(|e| Error::input_caused(path, "not readable as CSV", e))?;
            acc.read();
            let at = At::new(path, line(&rec));
            if let Some(why) = super::csvutil::width_mismatch(&rec, width) {
                acc.quarantine(at, None, None, why)?;
                continue;
            }
            let chain = get(&rec, c[0]).trim().to_string();
            if !crate::config::is_safe_name(&chain) {
                acc.quarantine(at, Some("chain"), Some(&chain), "expected a lowercase chain name, e.g. ethereum")?;
                continue;
            }
            let token = match non_empty(get(&rec, c[1])) {
                None => None,
                Some(t) => match address::evm(t) {
                    Ok(a) => Some(a),
                    Err(why) => {
                        acc.quarantine(at, Some("token_address"), Some(t), why)?;
                        continue;
                    }
                },
            };
            let symbol = get(&rec, c[2]).trim().to_string();
            if symbol.is_empty() {
                acc.quarantine(at, Some("symbol"), None, "every asset needs a symbol")?;
                continue;
            }
            let decimals = match get(&rec, c[3]).trim().parse::<i32>() {
                Ok(d) if (0..=77).contains(&d) => d,
                _ => {
                    acc.quarantine(at, Some("decimals"), Some(get(&rec, c[3])), "expected decimals, an integer 0-77")?;
                    continue;
                }
            };
            acc.load(
                "assets",
                vec![
                    Cell::Str(chain),
                    token.into(),
                    Cell::Str(symbol),
                    Cell::I32(decimals),
                    non_empty(get(&rec, c[4])).map(|s| s.to_ascii_uppercase()).into(),
                    non_empty(get(&rec, c[5])).map(str::to_string).into(),
                    Cell::Str(file_name(path)),
                ],
            )?;
        }
    }
    Ok(())
}
