//! Where an actor's outflows went, by the receiver's category.

use super::{Bar, Bars, Chart, Unit, render};

/// `rows`: (category, USD); `source`: the chart's source line.
pub fn chart(actor: &str, year: i32, rows: &[(String, f64)], source: &str) -> Result<Chart, String> {
    let data: Vec<Bar> = rows.iter().map(|(c, v)| Bar { label: c.clone(), value: *v, key: c.clone() }).collect();
    let title = format!("Where {actor}'s {year} outflows went");
    render(&Bars { title, x_desc: "value (USD)".into(), bars: data, unit: Unit::Usd, source: source.into() })
}
