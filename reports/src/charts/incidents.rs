//! Ledger-reported versus on-chain value of each incident.

use super::{Bar, Bars, Chart, NO_VALUE, Unit, render};

/// A value of the chart, or why there is none (drawn as a row with that reason and no bar: an
/// unknown value is never a bar of 0).
pub type Value = Result<f64, &'static str>;

/// `rows`: (incident, reported USD, on-chain USD); `source`: the chart's source line.
pub fn chart(year: i32, rows: &[(String, Value, Value)], source: &str) -> Result<Chart, String> {
    let mut data = Vec::new();
    for (id, reported, onchain) in rows {
        for (what, v) in [("reported", reported), ("on-chain", onchain)] {
            data.push(match v {
                Ok(usd) => Bar { label: format!("{id} · {what}"), value: *usd, key: what.into() },
                Err(why) => Bar { label: format!("{id} · {what}: {why}"), value: 0.0, key: NO_VALUE.into() },
            });
        }
    }
    let title = format!("Incidents of {year}: reported vs on-chain value");
    render(&Bars { title, x_desc: "value (USD)".into(), bars: data, unit: Unit::Usd, source: source.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An incident not found on chain gets a row saying so and no bar, not a bar of 0; the legend
    /// names only what is drawn.
    #[test]
    fn an_unknown_value_is_a_reason_not_a_zero_bar() {
        let rows = [("found".to_string(), Ok(100e6), Ok(90e6)), ("elsewhere".to_string(), Ok(50e6), Err("not found on the loaded chains"))];
        let c = chart(2022, &rows, "Source: test").unwrap();
        assert!(c.svg.contains("elsewhere · on-chain: not found on the loaded chains"), "{}", &c.svg[..2000.min(c.svg.len())]);
        assert!(!c.svg.contains(NO_VALUE));
        // Three bars (two reported, one on-chain), each a filled rectangle of a series colour.
        let filled = |key: &str| {
            let (r, g, b) = plotters::style::Color::rgb(&crate::theme::color_of(key));
            c.svg.matches(&format!("fill=\"#{r:02X}{g:02X}{b:02X}\"")).count()
        };
        assert_eq!(filled("on-chain"), 2, "one bar and its legend swatch");
        assert_eq!(filled("reported"), 3, "two bars and the legend swatch");
    }
}
