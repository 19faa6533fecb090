//! Where an actor's outflows went, by the receiver's category.

use super::{Bar, Bars, Chart, render};

/// `rows`: (category, USD).
pub fn chart(actor: &str, year: i32, rows: &[(String, f64)]) -> Result<Chart, String> {
    let data: Vec<Bar> = rows.iter().map(|(c, v)| Bar { label: c.clone(), value: *v, key: c.clone() }).collect();
    let title = format!("Where {actor}'s {year} outflows went");
    render(&Bars { title, x_desc: "USD (millions)".into(), bars: data })
}
