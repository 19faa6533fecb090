//! Where an actor's stolen proceeds went, by tracing method, side by side.

use super::{Bar, Bars, Chart, render};

/// `rows`: (destination, method, USD).
pub fn chart(actor: &str, year: i32, rows: &[(String, String, f64)]) -> Result<Chart, String> {
    let data: Vec<Bar> = rows.iter().map(|(d, m, v)| Bar { label: format!("{d} · {m}"), value: *v, key: m.clone() }).collect();
    let title = format!("Where {actor}'s {year} proceeds went, by tracing method");
    render(&Bars { title, x_desc: "USD (millions)".into(), bars: data })
}
