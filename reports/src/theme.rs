//! The report's look: a colour-blind-safe palette (Okabe-Ito), sizes, and the bundled font.

use std::sync::OnceLock;

use plotters::style::{FontStyle, RGBColor};

/// SVG size in CSS pixels; PNG is rendered at `PNG_SCALE` times this.
pub const WIDTH: u32 = 960;
pub const HEIGHT: u32 = 540;
pub const PNG_SCALE: u32 = 2;
/// Dots per inch written into the PNG (960 px x 2 at 200 dpi = 9.6 in wide).
pub const PNG_DPI: u32 = 200;

pub const FONT: &str = "sans-serif";
/// The bundled font's family name (what the PDF embeds).
pub const FONT_NAME: &str = "DejaVu Sans";
pub const TITLE_SIZE: f64 = 22.0;
pub const LABEL_SIZE: f64 = 14.0;

pub const BLUE: RGBColor = RGBColor(0, 114, 178);
pub const ORANGE: RGBColor = RGBColor(230, 159, 0);
pub const VERMILLION: RGBColor = RGBColor(213, 94, 0);
pub const GREEN: RGBColor = RGBColor(0, 158, 115);
pub const PURPLE: RGBColor = RGBColor(204, 121, 167);
pub const SKY: RGBColor = RGBColor(86, 180, 233);
pub const GREY: RGBColor = RGBColor(110, 110, 110);

/// The colour of a metric or category, the same in every chart.
pub fn color_of(name: &str) -> RGBColor {
    match name {
        "stolen" | "reported" => VERMILLION,
        "inflow" | "on-chain" => BLUE,
        "outflow" => ORANGE,
        "exchange" => BLUE,
        "mixer" => PURPLE,
        "bridge" => GREEN,
        "defi" => SKY,
        "sanctioned" => VERMILLION,
        "poison" => VERMILLION,
        "haircut" => BLUE,
        "fifo" => GREEN,
        _ => GREY,
    }
}

/// Register the bundled DejaVu Sans once: text renders with no system fonts installed.
pub fn fonts() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        // A font shipped in the binary either parses or the build is broken: nothing a user can fix.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}
