//! Where an actor's stolen proceeds went, as shares, the three tracing methods side by side.

use super::{Bar, Bars, Chart, Unit, render};

/// `rows`: (destination, method, USD), grouped by destination. Each method's values are shown as
/// shares of that method's traced value (its destinations, `held` included, sum to 100 %): the
/// methods compare at a glance whatever the prices on the days the value arrived.
pub fn chart(actor: &str, year: i32, rows: &[(String, String, f64)], source: &str) -> Result<Chart, String> {
    let total = |m: &str| rows.iter().filter(|r| r.1 == m).map(|r| r.2).sum::<f64>();
    let data: Vec<Bar> = rows
        .iter()
        .map(|(d, m, v)| {
            let t = total(m);
            Bar { label: format!("{d} · {m}"), value: if t > 0.0 { v / t * 100.0 } else { 0.0 }, key: m.clone() }
        })
        .collect();
    let title = format!("Where {actor}'s {year} proceeds went: share of each method's traced value");
    render(&Bars { title, x_desc: "share of the method's traced value".into(), bars: data, unit: Unit::Percent, source: source.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each method's bars are its shares: 300 of 400 is 75.0 %, whatever the other method's scale.
    #[test]
    fn bars_are_shares_of_each_methods_total() {
        let rows = [
            ("exchange".to_string(), "poison".to_string(), 300e6),
            ("held".to_string(), "poison".to_string(), 100e6),
            ("exchange".to_string(), "haircut".to_string(), 10e6),
            ("held".to_string(), "haircut".to_string(), 30e6),
        ];
        let c = chart("dprk", 2022, &rows, "Source: test").unwrap();
        for label in ["75.0%", "25.0%"] {
            assert_eq!(c.svg.matches(label).count(), 2, "{label}: one bar of each method");
        }
    }
}
