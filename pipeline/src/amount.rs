//! Exact token amounts: 256-bit unsigned integers (ruint), never routed through f64 until the
//! decimal-adjusted convenience column is derived.

use ruint::aliases::U256;

/// Parse a base-10 amount. Refuses negatives, fractions, exponents and values >= 2^256.
pub fn parse_decimal(s: &str) -> Result<U256, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty amount".to_string());
    }
    if t.starts_with('-') {
        return Err("negative amount".to_string());
    }
    if !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected a non-negative integer amount (base 10, no fraction or exponent)".to_string());
    }
    U256::from_str_radix(t, 10).map_err(|_| "amount does not fit in 256 bits".to_string())
}

/// Parse `0x…` hex (ethereum-etl logs/ JSON-RPC style) or base-10.
pub fn parse_any(s: &str) -> Result<U256, String> {
    let t = s.trim();
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        if h.is_empty() || h.len() > 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("expected 0x followed by at most 64 hex digits".to_string());
        }
        return U256::from_str_radix(h, 16).map_err(|_| "amount does not fit in 256 bits".to_string());
    }
    parse_decimal(t)
}

/// A big-endian unsigned integer of at most 32 bytes (cryo's `*_binary` columns).
pub fn from_be_bytes(b: &[u8]) -> Result<U256, String> {
    U256::try_from_be_slice(b).ok_or_else(|| format!("expected at most 32 bytes, got {}", b.len()))
}

/// The amount in base 10, appended to `out` (the same text as `to_string`, without allocating for
/// amounts below 2^128, which are nearly all of them).
pub fn write_decimal(v: &U256, out: &mut String) {
    use std::fmt::Write;
    let _ = if let Ok(small) = u64::try_from(*v) {
        write!(out, "{small}")
    } else if let Ok(mid) = u128::try_from(*v) {
        write!(out, "{mid}")
    } else {
        write!(out, "{v}")
    };
}

/// `raw / 10^decimals` as f64 (about 15 significant digits; exact sums use the raw value), from the
/// amount's base-10 text (written out once for `amount_raw`).
pub fn adjusted_text(raw: &str, decimals: u32) -> f64 {
    let v: f64 = raw.parse().unwrap_or(f64::INFINITY);
    v / 10f64.powi(decimals as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_refusals() {
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        assert_eq!(parse_decimal(max).unwrap().to_string(), max);
        assert!(
            parse_decimal("115792089237316195423570985008687907853269984665640564039457584007913129639936")
                .unwrap_err()
                .contains("256 bits")
        );
        assert!(parse_decimal("-1").unwrap_err().contains("negative"));
        assert!(parse_decimal("1.5e18").is_err());
        assert_eq!(parse_any("0x0de0b6b3a7640000").unwrap().to_string(), "1000000000000000000");
        assert_eq!(from_be_bytes(&[1, 0]).unwrap().to_string(), "256");
        for v in ["0", "1", "18446744073709551615", "18446744073709551616", "340282366920938463463374607431768211456", max] {
            let mut out = String::from("x");
            write_decimal(&parse_decimal(v).unwrap(), &mut out);
            assert_eq!(out, format!("x{v}"));
        }
        assert!((adjusted_text(&parse_decimal("173600000000000000000000").unwrap().to_string(), 18) - 173600.0).abs() < 1e-9);
    }
}
