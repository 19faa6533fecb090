//! Annual totals by actor: stolen, inflow and outflow side by side.

use super::{Bar, Bars, Chart, render};

/// `rows`: (actor, metric, USD).
pub fn chart(year: i32, rows: &[(String, String, f64)]) -> Result<Chart, String> {
    let data: Vec<Bar> = rows.iter().map(|(a, m, v)| Bar { label: format!("{a} · {m}"), value: *v, key: m.clone() }).collect();
    let title = format!("Totals by actor, {year}");
    render(&Bars { title, x_desc: "USD (millions)".into(), bars: data })
}
