//! Annual totals by actor: stolen, inflow and outflow side by side.

use super::{Bar, Bars, Chart, Unit, render};

/// `rows`: (actor, metric, USD); `source`: the chart's source line.
pub fn chart(year: i32, rows: &[(String, String, f64)], source: &str) -> Result<Chart, String> {
    let data: Vec<Bar> = rows.iter().map(|(a, m, v)| Bar { label: format!("{a} · {m}"), value: *v, key: m.clone() }).collect();
    let title = format!("Totals by actor, {year}");
    render(&Bars { title, x_desc: "value (USD)".into(), bars: data, unit: Unit::Usd, source: source.into() })
}
