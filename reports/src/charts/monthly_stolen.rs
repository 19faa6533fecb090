//! Cumulative stolen value through the year, one step line per actor on real dates: the line
//! rises on the day of each theft transfer, by its value.

use plotters::prelude::*;

use super::{Chart, Draw, render, usd_tick};
use crate::theme;

const LINE_COLORS: [RGBColor; 4] = [theme::VERMILLION, theme::BLUE, theme::GREEN, theme::PURPLE];
/// Dash patterns per line (solid, dashed, dotted, dash-dot): the lines stay apart in greyscale.
const DASHES: [(u32, u32); 4] = [(0, 0), (12, 6), (3, 5), (14, 4)];

/// `series`: (actor, [(day of the year from 0, USD stolen that day)]); `source`: the source line.
pub fn chart(year: i32, series: &[(String, Vec<(u32, f64)>)], source: &str) -> Result<Chart, String> {
    let title = format!("Cumulative stolen value, {year}");
    render(&Cumulative { title, year, series: series.to_vec(), source: source.to_string() })
}

struct Cumulative {
    title: String,
    year: i32,
    series: Vec<(String, Vec<(u32, f64)>)>,
    source: String,
}

impl Draw for Cumulative {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, plotters::coord::Shift>, scale: f64) -> Result<(), String> {
        let (area, foot) = root.split_vertically(root.dim_in_pixel().1 - (24.0 * scale) as u32);
        draw(&area, scale, self)?;
        super::source_line(&foot, scale, &self.source)
    }
}

/// The first day (from 0) of each month of `year`.
fn month_starts(year: i32) -> Vec<(u32, &'static str)> {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    (1..=12)
        .filter_map(|m| {
            let d = chrono::NaiveDate::from_ymd_opt(year, m, 1)?;
            Some((chrono::Datelike::ordinal0(&d), MONTHS[(m - 1) as usize]))
        })
        .collect()
}

/// The step line's points: flat at 0 from the first day, up by each day's value on that day, flat
/// to the year's last day; values in millions.
fn steps(days: &[(u32, f64)], last_day: u32) -> Vec<(f64, f64)> {
    let mut sorted = days.to_vec();
    sorted.sort_by_key(|d| d.0);
    let mut acc = 0.0;
    let mut points = vec![(0.0, 0.0)];
    for (d, v) in sorted {
        points.push((d as f64, acc));
        acc += v / 1e6;
        points.push((d as f64, acc));
    }
    points.push((last_day as f64 + 1.0, acc));
    points
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, plotters::coord::Shift>, scale: f64, c: &Cumulative) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let s = |v: f64| (v * scale) as u32;
    let font = |size: f64| (theme::FONT, size * scale).into_font();
    root.fill(&WHITE).map_err(err)?;
    let last_day = chrono::NaiveDate::from_ymd_opt(c.year, 12, 31).map_or(364, |d| chrono::Datelike::ordinal0(&d));
    let lines: Vec<(String, Vec<(f64, f64)>)> = c.series.iter().map(|(a, d)| (a.clone(), steps(d, last_day))).collect();
    let max = lines.iter().flat_map(|(_, p)| p.iter().map(|x| x.1)).fold(0.0f64, f64::max).max(1e-6) * 1.1;
    let mut chart = ChartBuilder::on(root)
        .caption(&c.title, font(theme::TITLE_SIZE))
        .margin(s(12.0))
        .x_label_area_size(s(44.0))
        .y_label_area_size(s(80.0))
        .build_cartesian_2d(0f64..(last_day as f64 + 1.0), 0f64..max)
        .map_err(err)?;
    let starts = month_starts(c.year);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_label_formatter(&|v| usd_tick(*v))
        .light_line_style(WHITE)
        .x_desc(format!("{} (each step: a theft transfer's day)", c.year))
        .y_desc("stolen since 1 January (USD)")
        .label_style(font(theme::LABEL_SIZE))
        .axis_desc_style(font(theme::LABEL_SIZE))
        .draw()
        .map_err(err)?;
    // Month starts on the real calendar: a light line and the month's name under the axis.
    let tick_font = TextStyle::from(font(theme::LABEL_SIZE))
        .pos(plotters::style::text_anchor::Pos::new(plotters::style::text_anchor::HPos::Center, plotters::style::text_anchor::VPos::Top));
    for (d, name) in &starts {
        let x = *d as f64;
        chart.draw_series(std::iter::once(PathElement::new(vec![(x, 0.0), (x, max)], theme::GREY.mix(0.25)))).map_err(err)?;
        let (px, py) = chart.backend_coord(&(x, 0.0));
        root.draw(&Text::new(name.to_string(), (px, py + s(6.0) as i32), tick_font.clone())).map_err(err)?;
    }
    for (i, (actor, points)) in lines.iter().enumerate() {
        let color = LINE_COLORS[i % LINE_COLORS.len()];
        let (dash, gap) = DASHES[i % DASHES.len()];
        let style = color.stroke_width(s(3.0));
        if dash == 0 {
            chart.draw_series(LineSeries::new(points.iter().copied(), style)).map_err(err)?
        } else {
            chart.draw_series(DashedLineSeries::new(points.iter().copied(), s(dash as f64), s(gap as f64), style)).map_err(err)?
        }
        .label(actor.clone())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(3)));
    }
    super::legend(&mut chart, scale, SeriesLabelPosition::UpperLeft)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line is 0 until the first theft's day, rises on that day, and ends flat on 31 December.
    #[test]
    fn the_line_steps_on_the_theft_days() {
        assert_eq!(
            steps(&[(81, 624e6), (173, 100e6)], 364),
            [(0.0, 0.0), (81.0, 0.0), (81.0, 624.0), (173.0, 624.0), (173.0, 724.0), (365.0, 724.0)]
        );
        assert_eq!(month_starts(2024)[2], (60, "Mar"), "a leap year's March starts on its 61st day");
    }
}
