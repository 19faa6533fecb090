//! Address normalisation, done once at ingest: EVM addresses become lowercase 0x hex (a mixed-case
//! one must carry its EIP-55 checksum); Bitcoin, BNB Beacon Chain and Tron addresses are verified by
//! their checksums (base58check, bech32/bech32m); bech32 ones are lowercased, base58 ones kept as written.

use bech32::Bech32;
use bech32::primitives::decode::{CheckedHrpstring, SegwitHrpstring};
use sha3::{Digest, Keccak256};

/// Currencies whose addresses are EVM accounts.
const EVM_CURRENCIES: [&str; 10] = ["ETH", "ETC", "ARB", "BSC", "BNB", "MATIC", "POL", "OP", "AVAX", "BASE"];

/// `0x` + 40 hex digits, lowercased. A mixed-case address must carry a valid EIP-55 checksum;
/// all-lowercase and all-uppercase ones carry none.
pub fn evm(s: &str) -> Result<String, String> {
    let t = s.trim();
    let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) else {
        return Err("expected an EVM address: 0x followed by 40 hex digits".to_string());
    };
    let (mut upper, mut lower) = (false, false);
    for b in h.bytes() {
        match b {
            b'0'..=b'9' => {}
            b'a'..=b'f' => lower = true,
            b'A'..=b'F' => upper = true,
            _ => return Err("expected an EVM address: 0x followed by 40 hex digits".to_string()),
        }
    }
    if h.len() != 40 {
        return Err("expected an EVM address: 0x followed by 40 hex digits".to_string());
    }
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    out.extend(h.bytes().map(|b| b.to_ascii_lowercase() as char));
    // Hashing only when both cases occur keeps the per-row path of chain exports (all lowercase) cheap.
    if upper && lower && !eip55_matches(h.as_bytes(), &out.as_bytes()[2..]) {
        return Err("EIP-55 checksum does not match (a mixed-case address must be checksummed; write it all lowercase to skip the check)"
            .to_string());
    }
    Ok(out)
}

/// EIP-55: hex digit i is uppercase iff nibble i of keccak-256(lowercase hex) is 8 or more.
fn eip55_matches(written: &[u8], lower: &[u8]) -> bool {
    let hash = Keccak256::digest(lower);
    written.iter().enumerate().all(|(i, &c)| {
        let nibble = if i % 2 == 0 { hash[i / 2] >> 4 } else { hash[i / 2] & 15 };
        !c.is_ascii_alphabetic() || c.is_ascii_uppercase() == (nibble >= 8)
    })
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
    if b.len() == 20 { Ok(hex0x(b)) } else { Err(format!("expected a 20-byte address, got {} bytes", b.len())) }
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
    if b.len() == 32 { Ok(hex0x(b)) } else { Err(format!("expected a 32-byte hash, got {} bytes", b.len())) }
}

/// A Bitcoin mainnet or testnet address, validated (P2PKH/P2SH base58check, or a segwit address
/// with human-readable part `bc` or `tb`: bech32 for witness version 0, bech32m for 1 and up,
/// BIP-173/350); bech32 lowercased, base58 kept as written. Regtest (`bcrt1…`) is refused.
pub fn bitcoin(s: &str) -> Result<String, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    if lower.starts_with("bc1") || lower.starts_with("tb1") {
        // The human-readable part ends at the last `1`, so `bc1x1…` has `bc1x`; the crate takes any.
        return match SegwitHrpstring::new(t) {
            Ok(segwit) if segwit.has_valid_hrp() => Ok(lower),
            Ok(segwit) => Err(format!("segwit address has human-readable part `{}`, expected `bc` or `tb`", segwit.hrp().to_lowercase())),
            Err(e) => Err(format!("bech32 segwit address does not verify: {e}")),
        };
    }
    match bs58::decode(t).with_check(None).into_vec() {
        Ok(payload) if payload.len() == 21 && matches!(payload[0], 0x00 | 0x05 | 0x6f | 0xc4) => Ok(t.to_string()),
        Ok(_) => Err("base58 address has an unknown version or length".to_string()),
        Err(_) => Err("expected a Bitcoin address (base58check or bech32) whose checksum verifies".to_string()),
    }
}

/// A BNB Beacon Chain (formerly Binance Chain, BEP-2) address: bech32 (not bech32m) with
/// human-readable part `bnb` and a 20-byte payload; lowercased.
pub fn bnb_beacon(s: &str) -> Result<String, String> {
    let t = s.trim();
    let checked = CheckedHrpstring::new::<Bech32>(t)
        .map_err(|e| format!("expected a BNB Beacon Chain address (bnb1…) whose bech32 checksum verifies: {e}"))?;
    let hrp = checked.hrp().to_lowercase();
    if hrp != "bnb" {
        return Err(format!("expected a BNB Beacon Chain address: human-readable part `bnb`, not `{hrp}`"));
    }
    // 32 five-bit groups are exactly 20 bytes, with no padding bits to check.
    let groups = checked.data_part_ascii_no_checksum().len();
    if groups != 32 {
        return Err(format!("expected a 20-byte BNB Beacon Chain address, got {} bits", groups * 5));
    }
    Ok(t.to_ascii_lowercase())
}

/// A Tron address: base58check of 21 bytes whose first is 0x41 (so `T…`, 34 characters); kept as written.
pub fn tron(s: &str) -> Result<String, String> {
    let t = s.trim();
    match bs58::decode(t).with_check(None).into_vec() {
        Ok(p) if p.len() == 21 && p[0] == 0x41 => Ok(t.to_string()),
        Ok(p) => Err(format!(
            "base58check address is not a Tron one: expected 21 bytes starting 0x41, got {} bytes starting {:#04x}",
            p.len(),
            p.first().copied().unwrap_or(0)
        )),
        Err(e) => Err(format!("expected a Tron address (T…) whose base58check checksum verifies: {e}")),
    }
}

/// Normalise an address named with a currency (as sanctions lists and TagPacks do). A currency
/// with a chain of its own takes only that chain's format (BNB and BSC also take BNB Beacon Chain
/// `bnb1…` addresses); USDT and USDC are tokens on several chains: EVM and Tron addresses are
/// verified, others kept as written.
pub fn for_currency(currency: &str, s: &str) -> Result<String, String> {
    let t = s.trim();
    let cur = currency.trim().to_ascii_uppercase();
    let bnb1 = t.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("bnb1"));
    match cur.as_str() {
        "XBT" | "BTC" => return bitcoin(t),
        "TRX" => return tron(t),
        "BNB" | "BSC" if bnb1 => return bnb_beacon(t),
        c if EVM_CURRENCIES.contains(&c) => return evm(t),
        _ => {}
    }
    if t.starts_with("0x") || t.starts_with("0X") {
        return evm(t);
    }
    if matches!(cur.as_str(), "USDT" | "USDC") && t.starts_with('T') && t.len() == 34 {
        return tron(t);
    }
    if t.is_empty() {
        return Err("empty address".to_string());
    }
    if !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b':' || b == b'_' || b == b'-') {
        return Err(format!("unexpected characters in a {cur} address"));
    }
    Ok(t.to_string())
}

/// The address formats ifr verifies by their checksums, in the order `detect` tries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Evm,
    Bitcoin,
    BnbBeacon,
    Tron,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Evm, Format::Bitcoin, Format::BnbBeacon, Format::Tron];

    /// "an EVM address", "a Tron address" … (for notes on listed addresses).
    pub fn described(self) -> &'static str {
        match self {
            Format::Evm => "an EVM address",
            Format::Bitcoin => "a Bitcoin address",
            Format::BnbBeacon => "a BNB Beacon Chain address",
            Format::Tron => "a Tron address",
        }
    }

    /// The address verified and normalised for this format.
    pub fn normalise(self, s: &str) -> Result<String, String> {
        match self {
            Format::Evm => evm(s),
            Format::Bitcoin => bitcoin(s),
            Format::BnbBeacon => bnb_beacon(s),
            Format::Tron => tron(s),
        }
    }
}

/// The known format an address verifies in, whatever currency it was named with, and its normal form.
pub fn detect(s: &str) -> Option<(Format, String)> {
    Format::ALL.into_iter().find_map(|f| f.normalise(s).ok().map(|a| (f, a)))
}

/// An address as a sanctions list names it, with a note when it does not verify for its currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub address: String,
    /// What is odd about it; None when it verifies for the listed currency.
    pub check: Option<String>,
}

/// A sanctions list's address is never refused for its format (lists name Tron addresses under XBT,
/// `bnb1…` under BNB …): one that does not verify for its currency is normalised for the known format
/// it verifies in, else kept as written, with a note saying so. Only text that cannot be an address
/// (empty, or with whitespace or control characters) is an error.
pub fn as_listed(currency: &str, s: &str) -> Result<Listed, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty address".to_string());
    }
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("not an address: it contains whitespace or control characters".to_string());
    }
    let why = match for_currency(currency, t) {
        Ok(address) => return Ok(Listed { address, check: None }),
        Err(why) => why,
    };
    let cur = currency.trim().to_ascii_uppercase();
    let listed = if cur.is_empty() { "listed without a currency".to_string() } else { format!("listed as {cur}") };
    if let Some((format, address)) = detect(t) {
        return Ok(Listed { address, check: Some(format!("{listed}, looks like {}", format.described())) });
    }
    // 0x + 40 hex digits failing only EIP-55: lowercase hex still finds the account on chain.
    let hex = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"));
    if let Some(h) = hex.filter(|h| h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Ok(Listed {
            address: format!("0x{}", h.to_ascii_lowercase()),
            check: Some(format!("{listed}, an EVM address whose EIP-55 checksum does not match; loaded lowercased")),
        });
    }
    Ok(Listed { address: t.to_string(), check: Some(format!("{listed}, matches no known address format ({why}); kept as written")) })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evm_is_lowercased_and_checked() {
        assert_eq!(evm("0x098B716B8Aaf21512996dC57EB0615e2383E2f96").unwrap(), "0x098b716b8aaf21512996dc57eb0615e2383e2f96");
        assert!(evm("0x098B716B8Aaf21512996dC57EB0615e2383E2f9").is_err());
        assert!(evm("0x098B716B8Aaf21512996dC57EB0615e2383E2fZZ").is_err());
        assert!(evm("098B716B8Aaf21512996dC57EB0615e2383E2f96").is_err());
    }

    #[test]
    fn evm_mixed_case_needs_eip55_checksum() {
        // The EIP-55 specification's own examples: checksummed, all caps and all lower.
        for a in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
            "0x52908400098527886E0F7030069857D2E4169EE7",
            "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
            "0xde709f2102306220921060314715629080e2fb77",
            "0x27b1fdb04752bbc536007a920d24acb045561c26",
        ] {
            assert_eq!(evm(a), Ok(format!("0x{}", a[2..].to_ascii_lowercase())), "{a}");
        }
        assert_eq!(evm("0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED").unwrap(), "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
        // One letter's case flipped; one digit changed (the case pattern then belongs to another hash).
        for bad in [
            "0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d35A",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6Fb",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9adb",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAee",
        ] {
            let err = evm(bad).unwrap_err();
            assert!(err.starts_with("EIP-55 checksum does not match"), "{bad}: {err}");
        }
    }

    #[test]
    fn bitcoin_checksums() {
        // Addresses from the Lazarus TagPack and the bech32 reference vectors (BIP-173/350).
        assert!(bitcoin("134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak").is_ok());
        assert!(bitcoin("3F2sZ4jbhvDKQdGbHYPC6ZxFXEau2m5Lqj").is_ok());
        assert!(bitcoin("134r8iHv69xdT6p5qVKTsHrcUEuBVZAYaK").is_err());
        assert_eq!(bitcoin("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4").unwrap(), "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4");
        assert!(bitcoin("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0").is_ok());
        assert!(bitcoin("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5").is_err());
        // BIP-350's invalid vectors: the checksum constant must match the witness version.
        assert!(bitcoin("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd").is_err());
        assert!(bitcoin("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh").is_err());
        assert!(bitcoin("bc1qw508d6qejxtdg4y5r3zarvary0C5xw7kv8f3t4").is_err());
    }

    // The test vectors of BIP-173 ("Appendices › Test vectors") and BIP-350 ("Test vectors"), as the
    // BIPs write them (bitcoin/bips at 7fe0b034). bitcoin() takes mainnet (`bc`) and testnet (`tb`)
    // segwit addresses, like the base58 versions it takes (0x00/0x05 mainnet, 0x6f/0xc4 testnet).

    #[test]
    fn bip173_valid_segwit_addresses() {
        // Witness version 0: still valid, and lowercased.
        for a in [
            "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
            "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
        ] {
            assert_eq!(bitcoin(a), Ok(a.to_ascii_lowercase()), "{a}");
        }
        // Versions 1, 16 and 2 with a bech32 checksum: BIP-350 made these invalid (version 1 and up
        // take bech32m); its own valid vectors carry the same witness programs.
        for a in [
            "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx",
            "BC1SW50QA3JX3S",
            "bc1zw508d6qejxtdg4y5r3zarvaryvg6kdaj",
        ] {
            assert!(bitcoin(a).is_err(), "{a}");
        }
    }

    #[test]
    fn bip350_valid_segwit_addresses() {
        for a in [
            "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
            "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
            "BC1SW50QGDZ25J",
            "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs",
            "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
            "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        ] {
            assert_eq!(bitcoin(a), Ok(a.to_ascii_lowercase()), "{a}");
        }
    }

    #[test]
    fn bip173_invalid_segwit_addresses() {
        for a in [
            "tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty", // invalid human-readable part
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", // invalid checksum
            "BC13W508D6QEJXTDG4Y5R3ZARVARY0C5XW7KN40WF2", // invalid witness version
            "bc1rw5uspcuh",                               // invalid program length
            "bc10w508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kw5rljs90", // invalid program length
            "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",       // invalid program length for witness version 0 (per BIP141)
            "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7", // mixed case
            "bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du",      // zero padding of more than 4 bits
            "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3pjxtptv", // non-zero padding in 8-to-5 conversion
            "bc1gmk9yu",                                  // empty data section
        ] {
            assert!(bitcoin(a).is_err(), "{a}");
        }
    }

    #[test]
    fn bip350_invalid_segwit_addresses() {
        for a in [
            "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut", // invalid human-readable part
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", // invalid checksum (Bech32 instead of Bech32m)
            "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf", // invalid checksum (Bech32 instead of Bech32m)
            "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL", // invalid checksum (Bech32 instead of Bech32m)
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",                     // invalid checksum (Bech32m instead of Bech32)
            "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47", // invalid checksum (Bech32m instead of Bech32)
            "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4", // invalid character in checksum
            "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R", // invalid witness version
            "bc1pw5dgrnzv",                                                   // invalid program length (1 byte)
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav", // invalid program length (41 bytes)
            "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",                           // invalid program length for witness version 0 (per BIP141)
            "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq", // mixed case
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf", // zero padding of more than 4 bits
            "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j", // non-zero padding in 8-to-5 conversion
            "bc1gmk9yu",                                                      // empty data section
        ] {
            assert!(bitcoin(a).is_err(), "{a}");
        }
    }

    // The BIPs' checksum vectors, which are not addresses: `0x80` and `0xFF` are single bytes there,
    // written here as U+0080 and U+00FF (a Rust string is UTF-8).
    const BIP173_VALID_BECH32: [&str; 7] = [
        "A12UEL5L",
        "a12uel5l",
        "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
        "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
        "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
        "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
        "?1ezyfcl",
    ];
    const BIP173_INVALID_BECH32: [&str; 12] = [
        "\u{20}1nwldj5",                                                                               // HRP character out of range
        "\u{7f}1axkwrx",                                                                               // HRP character out of range
        "\u{80}1eym55h",                                                                               // HRP character out of range
        "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx", // overall max length exceeded
        "pzry9x0s0muk",                                                                                // no separator character
        "1pzry9x0s0muk",                                                                               // empty HRP
        "x1b4n0q5v",                                                                                   // invalid data character
        "li1dgmt3",                                                                                    // too short checksum
        "de1lg7wt\u{ff}",                                                                              // invalid character in checksum
        "A1G7SGD8", // checksum calculated with uppercase form of HRP
        "10a06t8",  // empty HRP
        "1qzzfhee", // empty HRP
    ];
    const BIP350_VALID_BECH32M: [&str; 7] = [
        "A1LQFN3A",
        "a1lqfn3a",
        "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
        "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
        "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
        "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
        "?1v759aa",
    ];
    const BIP350_INVALID_BECH32M: [&str; 14] = [
        "\u{20}1xj0phk",                                                                               // HRP character out of range
        "\u{7f}1g6xzxy",                                                                               // HRP character out of range
        "\u{80}1vctc34",                                                                               // HRP character out of range
        "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4", // overall max length exceeded
        "qyrz8wqd2c9m",                                                                                // no separator character
        "1qyrz8wqd2c9m",                                                                               // empty HRP
        "y1b0jsk6g",                                                                                   // invalid data character
        "lt1igcx5c0",                                                                                  // invalid data character
        "in1muywd",                                                                                    // too short checksum
        "mm1crxm3i",                                                                                   // invalid character in checksum
        "au1s5cgom",                                                                                   // invalid character in checksum
        "M1VUXWEZ", // checksum calculated with uppercase form of HRP
        "16plkw9",  // empty HRP
        "1p2gdwpf", // empty HRP
    ];

    #[test]
    fn bip173_350_checksum_vectors_are_not_bitcoin_addresses() {
        // None has the human-readable part `bc` or `tb`, valid checksum or not.
        for s in BIP173_VALID_BECH32.iter().chain(&BIP173_INVALID_BECH32).chain(&BIP350_VALID_BECH32M).chain(&BIP350_INVALID_BECH32M) {
            assert!(bitcoin(s).is_err(), "{s:?}");
        }
    }

    #[test]
    fn bip173_350_checksum_vectors_as_bnb_beacon() {
        // bnb_beacon() checks a bech32 checksum, then the human-readable part: the valid bech32
        // strings get as far as the latter; bech32m and invalid strings are refused at the former.
        for s in BIP173_VALID_BECH32 {
            let err = bnb_beacon(s).unwrap_err();
            assert!(err.starts_with("expected a BNB Beacon Chain address: human-readable part `bnb`, not"), "{s:?}: {err}");
        }
        for s in BIP173_INVALID_BECH32.iter().chain(&BIP350_VALID_BECH32M).chain(&BIP350_INVALID_BECH32M) {
            let err = bnb_beacon(s).unwrap_err();
            assert!(err.starts_with("expected a BNB Beacon Chain address (bnb1…) whose bech32 checksum verifies"), "{s:?}: {err}");
        }
    }

    #[test]
    fn segwit_human_readable_part_is_bc_or_tb() {
        // The human-readable part ends at the last `1`: these begin `bc1`/`tb1` but are BIP-173's first
        // valid witness program, checksummed under the human-readable parts `bc1x`, `bc1` and `tb1`.
        for (a, hrp) in [
            ("bc1x1qw508d6qejxtdg4y5r3zarvary0c5xw7kglx4m7", "bc1x"),
            ("bc11qw508d6qejxtdg4y5r3zarvary0c5xw7kan2muu", "bc1"),
            ("TB11QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KKEU0ZV", "tb1"),
        ] {
            assert_eq!(bitcoin(a), Err(format!("segwit address has human-readable part `{hrp}`, expected `bc` or `tb`")), "{a}");
        }
        // The same program on regtest (`bcrt`): neither mainnet nor testnet.
        assert!(bitcoin("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080").is_err());
    }

    #[test]
    fn currency_rules() {
        assert!(for_currency("USDT", "0xAbc").is_err());
        assert_eq!(for_currency("usdt", "TXyz123").unwrap(), "TXyz123");
        assert!(for_currency("XMR", "bad address").is_err());
        assert!(for_currency("ETH", "1abc").is_err());
    }

    // Real public addresses: Tron's USDT and USDC token contracts; Binance's BEP-2 deposit address
    // (published in Binance's deposit-history API examples).
    const TRON_USDT: &str = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t";
    const TRON_USDC: &str = "TEkxiTehnzSmSe2XqrBj4w32RUN966rdz8";
    const BNB_BINANCE: &str = "bnb136ns6lfw4zs5hg4n85vdthaad7hq5m4gtkgf23";

    #[test]
    fn tron_base58check() {
        assert_eq!(tron(TRON_USDT).unwrap(), TRON_USDT);
        assert_eq!(tron(&format!(" {TRON_USDC}\n")).unwrap(), TRON_USDC);
        for bad in [
            "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u", // last character changed
            "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLJ6t", // one letter's case flipped
            "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6",  // one character short
            "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj0t", // 0 is not in the base58 alphabet
        ] {
            assert!(tron(bad).is_err(), "{bad}");
        }
        // A valid base58check Bitcoin address is not a Tron one (version 0x00, not 0x41).
        assert!(tron("134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak").unwrap_err().contains("21 bytes starting 0x41, got 21 bytes starting 0x00"));
    }

    #[test]
    fn bnb_beacon_bech32() {
        assert_eq!(bnb_beacon(BNB_BINANCE).unwrap(), BNB_BINANCE);
        assert_eq!(bnb_beacon("BNB136NS6LFW4ZS5HG4N85VDTHAAD7HQ5M4GTKGF23").unwrap(), BNB_BINANCE);
        for bad in [
            "bnb136ns6lfw4zs5hg4n85vdthaad7hq5m4gtkgf24", // last character changed
            "bnb136ns6lfw4zs5hg4n85vdthaad7hq5m4gtkfg23", // two characters swapped
            "bnb136ns6lfw4zs5hg4n85vdthaad7hq5m4gtkgF23", // mixed case
            "bnb136ns6lfw4zs5hg4n85vdthaad7hq5m4gtkgf2",  // one character short
        ] {
            assert!(bnb_beacon(bad).is_err(), "{bad}");
        }
        // A valid bech32 string with another human-readable part (a segwit v0 address, BIP-173).
        assert!(bnb_beacon("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4").unwrap_err().contains("not `bc`"));
    }

    #[test]
    fn bnb_and_tron_by_currency() {
        assert_eq!(for_currency("BNB", BNB_BINANCE).unwrap(), BNB_BINANCE);
        assert_eq!(for_currency("bsc", BNB_BINANCE).unwrap(), BNB_BINANCE);
        assert_eq!(
            for_currency("BSC", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed").unwrap(),
            "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
        );
        assert!(for_currency("BNB", "bnb136ns6lfw4zs5hg4n85vdthaad7hq5m4gtkgf24").is_err());
        assert!(for_currency("ETH", BNB_BINANCE).is_err());
        assert_eq!(for_currency("TRX", TRON_USDT).unwrap(), TRON_USDT);
        assert_eq!(for_currency("USDT", TRON_USDT).unwrap(), TRON_USDT);
        assert_eq!(for_currency("usdc", TRON_USDC).unwrap(), TRON_USDC);
        assert!(for_currency("USDT", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u").is_err());
        assert!(for_currency("TRX", "TXyz123").is_err());
        // A currency with a chain of its own takes only that chain's format.
        assert!(for_currency("XBT", TRON_USDT).is_err());
        assert!(for_currency("XBT", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").is_err());
        assert!(for_currency("TRX", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").is_err());
    }

    #[test]
    fn listed_addresses_are_never_refused_for_their_format() {
        let listed = |a: &str, check: Option<&str>| Ok(Listed { address: a.to_string(), check: check.map(str::to_string) });
        assert_eq!(as_listed("BNB", BNB_BINANCE), listed(BNB_BINANCE, None));
        assert_eq!(as_listed("XBT", TRON_USDT), listed(TRON_USDT, Some("listed as XBT, looks like a Tron address")));
        assert_eq!(
            as_listed("eth", "BNB136NS6LFW4ZS5HG4N85VDTHAAD7HQ5M4GTKGF23"),
            listed(BNB_BINANCE, Some("listed as ETH, looks like a BNB Beacon Chain address"))
        );
        assert_eq!(
            as_listed("XBT", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
            listed("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", Some("listed as XBT, looks like an EVM address"))
        );
        assert_eq!(
            as_listed("ETH", "0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
            listed(
                "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
                Some("listed as ETH, an EVM address whose EIP-55 checksum does not match; loaded lowercased")
            )
        );
        assert_eq!(
            as_listed("XBT", " TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u "),
            listed(
                "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u",
                Some(
                    "listed as XBT, matches no known address format (expected a Bitcoin address (base58check or bech32) whose checksum verifies); kept as written"
                )
            )
        );
        assert_eq!(
            as_listed("XMR", "4Abc.def"),
            listed(
                "4Abc.def",
                Some("listed as XMR, matches no known address format (unexpected characters in a XMR address); kept as written")
            )
        );
        assert_eq!(
            as_listed("XMR", "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A")
                .unwrap()
                .check,
            None
        );
        assert_eq!(as_listed("XBT", " "), Err("empty address".to_string()));
        assert!(as_listed("XBT", "1abc def").is_err());
        assert!(as_listed("XBT", "1abc\u{7}").is_err());
    }

    #[test]
    fn formats_are_detected_whatever_the_currency() {
        assert_eq!(detect(TRON_USDT), Some((Format::Tron, TRON_USDT.to_string())));
        assert_eq!(detect("BNB136NS6LFW4ZS5HG4N85VDTHAAD7HQ5M4GTKGF23"), Some((Format::BnbBeacon, BNB_BINANCE.to_string())));
        assert_eq!(detect("134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak"), Some((Format::Bitcoin, "134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak".to_string())));
        assert_eq!(
            detect("0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED"),
            Some((Format::Evm, "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed".to_string()))
        );
        assert_eq!(detect("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u"), None);
        assert_eq!(detect("44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"), None);
    }
}
