//! Ledger-reported versus on-chain value of each incident.

use super::{Bar, Bars, Chart, render};

/// `rows`: (incident, reported USD, on-chain USD if found).
pub fn chart(year: i32, rows: &[(String, f64, Option<f64>)]) -> Result<Chart, String> {
    let mut data = Vec::new();
    for (id, reported, onchain) in rows {
        data.push(Bar { label: format!("{id} · reported"), value: *reported, key: "reported".into() });
        data.push(Bar { label: format!("{id} · on-chain"), value: onchain.unwrap_or(0.0), key: "on-chain".into() });
    }
    let title = format!("Incidents of {year}: reported vs on-chain value");
    render(&Bars { title, x_desc: "USD (millions)".into(), bars: data })
}
