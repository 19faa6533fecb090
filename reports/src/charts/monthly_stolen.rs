//! Cumulative stolen value through the year, one line per actor.

use plotters::prelude::*;

use super::{Chart, Draw, render};
use crate::theme;

const LINE_COLORS: [RGBColor; 4] = [theme::VERMILLION, theme::BLUE, theme::GREEN, theme::PURPLE];

/// `series`: (actor, USD stolen in each month 1..=12).
pub fn chart(year: i32, series: &[(String, [f64; 12])]) -> Result<Chart, String> {
    let title = format!("Cumulative stolen value, {year}");
    render(&Monthly { title, series: series.to_vec() })
}

struct Monthly {
    title: String,
    series: Vec<(String, [f64; 12])>,
}

impl Draw for Monthly {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, plotters::coord::Shift>, scale: f64) -> Result<(), String> {
        draw(root, scale, &self.title, &self.series)
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    scale: f64,
    title: &str,
    series: &[(String, [f64; 12])],
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let s = |v: f64| (v * scale) as u32;
    let font = |size: f64| (theme::FONT, size * scale).into_font();
    root.fill(&WHITE).map_err(err)?;
    let cumulative: Vec<(String, Vec<f64>)> = series
        .iter()
        .map(|(a, m)| {
            let mut acc = 0.0;
            (
                a.clone(),
                m.iter()
                    .map(|v| {
                        acc += v / 1e6;
                        acc
                    })
                    .collect(),
            )
        })
        .collect();
    let max = cumulative.iter().flat_map(|(_, v)| v.iter().copied()).fold(0.0f64, f64::max).max(1e-6) * 1.1;
    let mut chart = ChartBuilder::on(root)
        .caption(title, font(theme::TITLE_SIZE))
        .margin(s(12.0))
        .x_label_area_size(s(44.0))
        .y_label_area_size(s(80.0))
        .build_cartesian_2d(1f64..12f64, 0f64..max)
        .map_err(err)?;
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    chart
        .configure_mesh()
        .x_labels(12)
        .x_label_formatter(&|v| MONTHS.get((v.round() as usize).wrapping_sub(1)).map(|m| m.to_string()).unwrap_or_default())
        .light_line_style(WHITE)
        .x_desc("month")
        .y_desc("USD (millions)")
        .label_style(font(theme::LABEL_SIZE))
        .axis_desc_style(font(theme::LABEL_SIZE))
        .draw()
        .map_err(err)?;
    for (i, (actor, values)) in cumulative.iter().enumerate() {
        let color = LINE_COLORS[i % LINE_COLORS.len()];
        chart
            .draw_series(LineSeries::new(values.iter().enumerate().map(|(m, v)| ((m + 1) as f64, *v)), color.stroke_width(s(3.0))))
            .map_err(err)?
            .label(actor.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(3)));
    }
    super::legend(&mut chart, scale, SeriesLabelPosition::UpperLeft)
}
