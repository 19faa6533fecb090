//! Address normalisation, done once at ingest: EVM addresses become lowercase 0x hex; Bitcoin
//! addresses are kept as written after their checksum (base58check or bech32/bech32m) is verified.

use sha2::{Digest, Sha256};

/// Currencies whose addresses are EVM accounts.
const EVM_CURRENCIES: [&str; 10] = ["ETH", "ETC", "ARB", "BSC", "BNB", "MATIC", "POL", "OP", "AVAX", "BASE"];

/// `0x` + 40 hex digits, lowercased.
pub fn evm(s: &str) -> Result<String, String> {
    let t = s.trim();
    let hex = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"));
    match hex {
        Some(h) if h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(format!("0x{}", h.to_ascii_lowercase())),
        _ => Err("expected an EVM address: 0x followed by 40 hex digits".to_string()),
    }
}

/// `0x` + lowercase hex of the bytes (one allocation; this runs for every address and hash a chain
/// export holds).
pub fn hex0x(b: &[u8]) -> String {
    let mut out = Vec::with_capacity(2 + 2 * b.len());
    hex0x_into(b, &mut out);
    // Only ASCII hex digits were written.
    String::from_utf8(out).unwrap_or_default()
}

/// `0x` + lowercase hex of the bytes, appended to `out` (the column-by-column loaders reuse one buffer).
pub fn hex0x_into(b: &[u8], out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let start = out.len();
    out.resize(start + 2 + 2 * b.len(), b'0');
    let dst = &mut out[start..];
    dst[1] = b'x';
    for (pair, &x) in dst[2..].chunks_exact_mut(2).zip(b) {
        pair[0] = DIGITS[(x >> 4) as usize];
        pair[1] = DIGITS[(x & 15) as usize];
    }
}

/// An EVM address given as 20 raw bytes (cryo's binary columns).
pub fn evm_bytes(b: &[u8]) -> Result<String, String> {
    if b.len() == 20 {
        Ok(hex0x(b))
    } else {
        Err(format!("expected a 20-byte address, got {} bytes", b.len()))
    }
}

/// A 32-byte hash as lowercase 0x hex, from text.
pub fn hash32(s: &str) -> Result<String, String> {
    let t = s.trim();
    let hex = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"));
    match hex {
        Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(format!("0x{}", h.to_ascii_lowercase())),
        _ => Err("expected a hash: 0x followed by 64 hex digits".to_string()),
    }
}

/// A 32-byte hash given as raw bytes.
pub fn hash32_bytes(b: &[u8]) -> Result<String, String> {
    if b.len() == 32 {
        Ok(hex0x(b))
    } else {
        Err(format!("expected a 32-byte hash, got {} bytes", b.len()))
    }
}

/// A Bitcoin address, validated (P2PKH/P2SH base58check, or bech32/bech32m segwit), kept as written.
pub fn bitcoin(s: &str) -> Result<String, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    if lower.starts_with("bc1") || lower.starts_with("tb1") {
        if t != lower && t != t.to_ascii_uppercase() {
            return Err("bech32 address mixes upper and lower case".to_string());
        }
        return if bech32_valid(&lower) { Ok(lower) } else { Err("bech32 checksum does not verify".to_string()) };
    }
    match base58check(t) {
        Some(payload) if payload.len() == 21 && matches!(payload[0], 0x00 | 0x05 | 0x6f | 0xc4) => Ok(t.to_string()),
        Some(_) => Err("base58 address has an unknown version or length".to_string()),
        None => Err("expected a Bitcoin address (base58check or bech32) whose checksum verifies".to_string()),
    }
}

/// Normalise an address named with a currency (as sanctions lists and TagPacks do).
pub fn for_currency(currency: &str, s: &str) -> Result<String, String> {
    let t = s.trim();
    let cur = currency.trim().to_ascii_uppercase();
    if t.starts_with("0x") || t.starts_with("0X") || EVM_CURRENCIES.contains(&cur.as_str()) {
        return evm(t);
    }
    if cur == "XBT" || cur == "BTC" {
        return bitcoin(t);
    }
    if t.is_empty() {
        return Err("empty address".to_string());
    }
    if !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b':' || b == b'_' || b == b'-') {
        return Err(format!("unexpected characters in a {cur} address"));
    }
    Ok(t.to_string())
}

/// The chain an address of this currency lives on, where there is one (tokens such as USDT are on several).
pub fn chain_of_currency(currency: &str) -> Option<&'static str> {
    match currency.to_ascii_uppercase().as_str() {
        "ETH" => Some("ethereum"),
        "XBT" | "BTC" => Some("bitcoin"),
        "ETC" => Some("ethereum-classic"),
        "ARB" => Some("arbitrum"),
        "BSC" | "BNB" => Some("bsc"),
        "TRX" => Some("tron"),
        "LTC" => Some("litecoin"),
        _ => None,
    }
}

fn base58check(s: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    let mut bytes: Vec<u8> = Vec::new();
    for c in s.bytes() {
        let mut carry = ALPHABET.iter().position(|&a| a == c)? as u32;
        for b in bytes.iter_mut().rev() {
            carry += (*b as u32) * 58;
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = s.bytes().take_while(|&c| c == b'1').count();
    let mut full = vec![0u8; zeros];
    full.extend(bytes);
    if full.len() < 5 {
        return None;
    }
    let (payload, check) = full.split_at(full.len() - 4);
    let digest = Sha256::digest(Sha256::digest(payload));
    (digest[..4] == *check).then(|| payload.to_vec())
}

fn bech32_valid(s: &str) -> bool {
    const CHARSET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    let Some(pos) = s.rfind('1') else { return false };
    let (hrp, data) = (&s[..pos], &s[pos + 1..]);
    if hrp.is_empty() || data.len() < 6 || s.len() > 90 {
        return false;
    }
    let mut values = Vec::with_capacity(hrp.len() * 2 + 1 + data.len());
    values.extend(hrp.bytes().map(|b| b >> 5));
    values.push(0);
    values.extend(hrp.bytes().map(|b| b & 31));
    for c in data.bytes() {
        match CHARSET.iter().position(|&x| x == c) {
            Some(v) => values.push(v as u8),
            None => return false,
        }
    }
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x1ff_ffff) << 5) ^ v as u32;
        for (i, g) in [0x3b6a_57b2u32, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3].iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    // bech32 (segwit v0) or bech32m (v1+)
    chk == 1 || chk == 0x2bc8_30a3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evm_is_lowercased_and_checked() {
        assert_eq!(
            evm("0x098B716B8Aaf21512996dC57EB0615e2383E2f96").unwrap(),
            "0x098b716b8aaf21512996dc57eb0615e2383e2f96"
        );
        assert!(evm("0x098B716B8Aaf21512996dC57EB0615e2383E2f9").is_err());
        assert!(evm("0x098B716B8Aaf21512996dC57EB0615e2383E2fZZ").is_err());
        assert!(evm("098B716B8Aaf21512996dC57EB0615e2383E2f96").is_err());
    }

    #[test]
    fn bitcoin_checksums() {
        // Addresses from the Lazarus TagPack and the bech32 reference vectors (BIP-173/350).
        assert!(bitcoin("134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak").is_ok());
        assert!(bitcoin("3F2sZ4jbhvDKQdGbHYPC6ZxFXEau2m5Lqj").is_ok());
        assert!(bitcoin("134r8iHv69xdT6p5qVKTsHrcUEuBVZAYaK").is_err());
        assert_eq!(
            bitcoin("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4").unwrap(),
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
        );
        assert!(bitcoin("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0").is_ok());
        assert!(bitcoin("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5").is_err());
    }

    #[test]
    fn currency_rules() {
        assert!(for_currency("USDT", "0xAbc").is_err());
        assert_eq!(for_currency("usdt", "TXyz123").unwrap(), "TXyz123");
        assert!(for_currency("XMR", "bad address").is_err());
        assert!(for_currency("ETH", "1abc").is_err());
    }
}
