//! Charts, one file per chart. Each is drawn once per backend: SVG (text left to the viewer, named
//! sans-serif) and PNG at print resolution (text drawn with the bundled font); the PDF is the SVG
//! converted as vectors, its text in the bundled font (embedded, subset).

pub mod annual_totals;
pub mod destinations;
pub mod incidents;
pub mod monthly_stolen;
pub mod trace_methods;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::theme;

/// A rendered chart.
pub struct Chart {
    pub svg: String,
    pub png: Vec<u8>,
    pub pdf: Vec<u8>,
}

/// The key of a row that has no value (its label says why): no bar, no legend entry.
pub const NO_VALUE: &str = "no value";

/// A horizontal bar: its row label, value, and the key that picks its colour and legend entry.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub key: String,
}

/// Something drawn on any backend at a scale (1 for SVG, `PNG_SCALE` for PNG).
pub trait Draw {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, scale: f64) -> Result<(), String>;
}

/// What a chart's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// US dollars: `$` ticks (`$250M`, `$1.5B`) and value labels (`$724.0M`).
    Usd,
    /// Percent (0-100): `%` ticks and labels.
    Percent,
}

/// Horizontal bars with a title, an axis description, and a source line under the chart.
pub struct Bars {
    pub title: String,
    pub x_desc: String,
    pub bars: Vec<Bar>,
    pub unit: Unit,
    /// Where the numbers come from (ifr, the data's date range, the query), drawn at the bottom.
    pub source: String,
}

impl Draw for Bars {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, scale: f64) -> Result<(), String> {
        let (chart_area, foot) = root.split_vertically(root.dim_in_pixel().1 - (24.0 * scale) as u32);
        bars(&chart_area, scale, &self.title, &self.x_desc, &self.bars, self.unit)?;
        source_line(&foot, scale, &self.source)
    }
}

/// The chart's source line, small, at the left of `area` (white behind it).
pub(crate) fn source_line<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, scale: f64, text: &str) -> Result<(), String> {
    area.fill(&WHITE).map_err(|e| e.to_string())?;
    let style = (theme::FONT, (theme::LABEL_SIZE - 2.0) * scale).into_font().color(&theme::GREY);
    area.draw_text(text, &style, ((12.0 * scale) as i32, (4.0 * scale) as i32)).map_err(|e| e.to_string())
}

/// An axis tick in USD, the value given in millions: `$0`, `$250M`, `$2.5M`, `$1.5B`.
pub fn usd_tick(millions: f64) -> String {
    let a = millions.abs();
    let trim = |s: String| if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    if a == 0.0 {
        "$0".into()
    } else if a >= 1000.0 {
        format!("${}B", trim(format!("{:.2}", millions / 1000.0)))
    } else if a >= 10.0 {
        format!("${millions:.0}M")
    } else {
        format!("${}M", trim(format!("{millions:.2}")))
    }
}

/// A bar's value label: `$724.0M` (a value in USD) or `38.5%` (a value in percent).
fn value_label(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Usd => crate::tables::usd_short((v * 1e6).round() as i128),
        Unit::Percent => format!("{v:.1}%"),
    }
}

/// Draw with both backends.
pub fn render(d: &impl Draw) -> Result<Chart, String> {
    theme::fonts();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (theme::WIDTH, theme::HEIGHT)).into_drawing_area();
        d.draw(&root, 1.0)?;
        root.present().map_err(|e| e.to_string())?;
    }
    let (w, h) = (theme::WIDTH * theme::PNG_SCALE, theme::HEIGHT * theme::PNG_SCALE);
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        d.draw(&root, theme::PNG_SCALE as f64)?;
        root.present().map_err(|e| e.to_string())?;
    }
    let pdf = pdf_of(&svg)?;
    Ok(Chart { svg, png: png_encode(&rgb, w, h, theme::PNG_DPI)?, pdf })
}

/// The SVG as a one-page PDF of the same size (a CSS pixel is 1/96 in: 960 px = 10 in), for
/// `\includegraphics`: shapes as vectors, text as text in the bundled DejaVu Sans (the only font
/// the converter knows: no system font is read, so every machine writes the same bytes).
fn pdf_of(svg: &str) -> Result<Vec<u8>, String> {
    let mut opt = svg2pdf::usvg::Options::default();
    let fonts = opt.fontdb_mut();
    fonts.load_font_data(dejavu::sans::regular().to_vec());
    fonts.set_sans_serif_family(theme::FONT_NAME);
    opt.font_family = theme::FONT_NAME.into();
    let tree = svg2pdf::usvg::Tree::from_str(svg, &opt).map_err(|e| format!("reading the chart's SVG for its PDF: {e}"))?;
    let pdf = svg2pdf::to_pdf(&tree, svg2pdf::ConversionOptions::default(), svg2pdf::PageOptions { dpi: 96.0 })
        .map_err(|e| format!("writing the chart's PDF: {e}"))?;
    Ok(sorted_resources(pdf))
}

/// The converter writes each resource dictionary (`/XObject <<`, `/ExtGState <<`, …) in a hash
/// map's order, which changes from run to run. Sort the entries of each: a permutation of whole
/// lines, so every object keeps its byte offset and the cross-reference table stays right. Stream
/// data is left as it is.
fn sorted_resources(pdf: Vec<u8>) -> Vec<u8> {
    const DICTS: [&[u8]; 6] = [b"/XObject <<", b"/ExtGState <<", b"/Pattern <<", b"/Shading <<", b"/Font <<", b"/ColorSpace <<"];
    let trim = |l: &[u8]| -> Vec<u8> { l.iter().copied().skip_while(|b| *b == b' ').collect() };
    let lines: Vec<&[u8]> = pdf.split(|b| *b == b'\n').collect();
    let mut out: Vec<&[u8]> = Vec::with_capacity(lines.len());
    let (mut i, mut in_stream) = (0, false);
    while i < lines.len() {
        let line = lines[i];
        out.push(line);
        i += 1;
        if in_stream {
            in_stream = line != b"endstream";
            continue;
        }
        if line == b"stream" {
            in_stream = true;
            continue;
        }
        if !DICTS.iter().any(|d| trim(line) == *d) {
            continue;
        }
        // The entries up to the closing `>>`, each on its own line; sorted only when none opens a
        // nested dictionary.
        let end = (i..lines.len()).find(|&j| trim(lines[j]) == b">>").unwrap_or(i);
        let mut entries: Vec<&[u8]> = lines[i..end].to_vec();
        if !entries.iter().any(|e| e.windows(2).any(|w| w == b"<<")) {
            entries.sort();
        }
        out.extend(entries);
        i = end;
    }
    out.join(&b'\n')
}

/// Horizontal bars, one row per bar, each with its value at its end, a legend per key; USD bars
/// are drawn in millions with `$` ticks, percent bars on a 0-100 axis.
pub fn bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    scale: f64,
    title: &str,
    x_desc: &str,
    bars: &[Bar],
    unit: Unit,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let s = |v: f64| (v * scale) as u32;
    let font = |size: f64| (theme::FONT, size * scale).into_font();
    let n = bars.len().max(1);
    let per = match unit {
        Unit::Usd => 1e6,
        Unit::Percent => 1.0,
    };
    // Room at the right for the largest bar's value label.
    let max = bars.iter().map(|b| b.value / per).fold(0.0f64, f64::max).max(1e-6) * 1.22;
    let label_width = bars.iter().map(|b| b.label.chars().count()).max().unwrap_or(4).clamp(4, 40) as f64 * 7.5 + 10.0;
    let mut chart = ChartBuilder::on(root)
        .caption(title, font(theme::TITLE_SIZE))
        .margin(s(12.0))
        .x_label_area_size(s(44.0))
        .y_label_area_size(s(label_width))
        // Segmented ranges include their end: n bars need 0..n-1 (a lone bar keeps one empty row).
        .build_cartesian_2d(0f64..max, (0..(n - 1).max(1)).into_segmented())
        .map_err(err)?;
    let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            // The first bar is drawn at the top.
            SegmentValue::CenterOf(i) if *i < n => labels.get(n - 1 - *i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .x_label_formatter(&|v| match unit {
            Unit::Usd => usd_tick(*v),
            Unit::Percent => format!("{v:.0}%"),
        })
        .light_line_style(WHITE)
        .x_desc(x_desc)
        .label_style(font(theme::LABEL_SIZE))
        .axis_desc_style(font(theme::LABEL_SIZE))
        .draw()
        .map_err(err)?;
    let mut keys: Vec<&str> = Vec::new();
    for b in bars {
        if !keys.contains(&b.key.as_str()) && b.key != NO_VALUE {
            keys.push(&b.key);
        }
    }
    for (k, key) in keys.iter().enumerate() {
        let color = theme::color_of(key);
        chart
            .draw_series(bars.iter().enumerate().filter(|(_, b)| b.key == *key).map(|(i, b)| {
                let row = n - 1 - i;
                let mut r =
                    Rectangle::new([(0.0, SegmentValue::Exact(row)), (b.value / per, SegmentValue::Exact(row + 1))], color.filled());
                r.set_margin(s(3.0), s(3.0), 0, 0);
                r
            }))
            .map_err(err)?
            .label(key.to_string())
            .legend(move |(x, y)| {
                EmptyElement::at((x, y)) + Rectangle::new([(0, -5), (10, 5)], color.filled()) + stripes(k, (0, -5), (10, 5), 3)
            });
        // Each series after the first also by a pattern of white stripes (vertical, horizontal,
        // both), so that bars stay apart in greyscale.
        for (i, b) in bars.iter().enumerate().filter(|(_, b)| b.key == *key) {
            let row = n - 1 - i;
            let (x0, y0) = chart.backend_coord(&(0.0, SegmentValue::Exact(row + 1)));
            let (x1, y1) = chart.backend_coord(&(b.value / per, SegmentValue::Exact(row)));
            let (top, bottom) = (y0.min(y1) + s(3.0) as i32, y0.max(y1) - s(3.0) as i32);
            root.draw(&stripes(k, (x0.min(x1), top), (x0.max(x1), bottom), s(7.0).max(3) as i32)).map_err(err)?;
        }
    }
    // Each bar's value at its end.
    let label_font = TextStyle::from(font(theme::LABEL_SIZE - 1.0))
        .pos(plotters::style::text_anchor::Pos::new(plotters::style::text_anchor::HPos::Left, plotters::style::text_anchor::VPos::Center));
    chart
        .draw_series(bars.iter().enumerate().filter(|(_, b)| b.key != NO_VALUE).map(|(i, b)| {
            let row = n - 1 - i;
            Text::new(format!(" {}", value_label(unit, b.value)), (b.value / per, SegmentValue::CenterOf(row)), label_font.clone())
        }))
        .map_err(err)?;
    legend(&mut chart, scale, SeriesLabelPosition::LowerRight)
}

/// White stripes over the rectangle from `a` to `b` (pixels), `step` pixels apart, for the `k`-th
/// series: none (0), vertical (1), horizontal (2), both (3 and after). One zig-zag path: the
/// stripes are joined along the rectangle's edges.
fn stripes(k: usize, a: (i32, i32), b: (i32, i32), step: i32) -> PathElement<(i32, i32)> {
    PathElement::new(stripe_points(k, a, b, step), WHITE.stroke_width(1))
}

/// The points of [`stripes`]' path.
fn stripe_points(k: usize, a: (i32, i32), b: (i32, i32), step: i32) -> Vec<(i32, i32)> {
    let (x0, y0, x1, y1) = (a.0.min(b.0), a.1.min(b.1), a.0.max(b.0), a.1.max(b.1));
    let step = step.max(2);
    // Lines across [lo, hi] every `step` along [from, to), back and forth, as (along, across).
    let zigzag = |(from, to): (i32, i32), (lo, hi): (i32, i32)| -> Vec<(i32, i32)> {
        let mut pts = Vec::new();
        let mut at = from + step / 2;
        while at < to {
            let ends = if pts.len() % 4 == 0 { (lo, hi) } else { (hi, lo) };
            pts.push((at, ends.0));
            pts.push((at, ends.1));
            at += step;
        }
        pts
    };
    let mut pts = Vec::new();
    if k % 4 == 1 || k % 4 == 3 {
        pts.extend(zigzag((x0, x1), (y0, y1)));
    }
    if k % 4 >= 2 {
        pts.extend(zigzag((y0, y1), (x0, x1)).into_iter().map(|(along, across)| (across, along)));
    }
    pts
}

/// The legend every chart draws: a framed white box in the label font, at `position`.
pub(crate) fn legend<'a, DB, CT>(chart: &mut ChartContext<'a, DB, CT>, scale: f64, position: SeriesLabelPosition) -> Result<(), String>
where
    DB: DrawingBackend + 'a,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((theme::FONT, theme::LABEL_SIZE * scale).into_font())
        .draw()
        .map_err(|e| e.to_string())
}

/// Encode RGB pixels as PNG with a pHYs chunk giving the print resolution.
fn png_encode(rgb: &[u8], w: u32, h: u32, dpi: u32) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut e = png::Encoder::new(&mut out, w, h);
    e.set_color(png::ColorType::Rgb);
    e.set_depth(png::BitDepth::Eight);
    // Flat-colour charts: no filter and full compression give the smallest files (a third of the
    // defaults' size).
    e.set_filter(png::FilterType::NoFilter);
    e.set_compression(png::Compression::Best);
    let ppm = (dpi as f64 / 0.0254).round() as u32;
    e.set_pixel_dims(Some(png::PixelDimensions { xppu: ppm, yppu: ppm, unit: png::Unit::Meter }));
    let mut writer = e.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first series is solid, the next ones striped: vertical, horizontal, then both.
    #[test]
    fn series_after_the_first_are_striped() {
        let pts = |k: usize| stripe_points(k, (0, 0), (20, 10), 5);
        assert!(pts(0).is_empty());
        let v = pts(1);
        assert!(!v.is_empty() && v.chunks(2).all(|seg| seg[0].0 == seg[1].0), "vertical stripes: {v:?}");
        let h = pts(2);
        assert!(!h.is_empty() && h.chunks(2).all(|seg| seg[0].1 == seg[1].1), "horizontal stripes: {h:?}");
        assert_eq!(pts(3).len(), v.len() + h.len());
        assert!(pts(3).iter().all(|&(x, y)| (0..=20).contains(&x) && (0..=10).contains(&y)), "inside the bar");
    }

    #[test]
    fn usd_ticks_read_as_money() {
        assert_eq!(usd_tick(0.0), "$0");
        assert_eq!(usd_tick(250.0), "$250M");
        assert_eq!(usd_tick(2.5), "$2.5M");
        assert_eq!(usd_tick(1500.0), "$1.5B");
        assert_eq!(usd_tick(1000.0), "$1B");
        assert_eq!(value_label(Unit::Usd, 724e6), "$724.0M");
        assert_eq!(value_label(Unit::Percent, 38.46), "38.5%");
    }

    #[test]
    fn svg_text_is_escaped_and_png_has_print_resolution() {
        let bars = vec![Bar { label: "<script>alert(1)</script> & co".into(), value: 2e6, key: "stolen".into() }];
        let c = render(&Bars { title: "t <b>".into(), x_desc: "USD".into(), bars, unit: Unit::Usd, source: "Source: <x>".into() }).unwrap();
        assert!(!c.svg.contains("<script>"), "{}", &c.svg[..c.svg.len().min(2000)]);
        assert!(c.svg.contains("&lt;script&gt;"));
        assert!(c.svg.contains("Source: &lt;x&gt;"), "the source line, escaped");
        assert!(c.svg.contains("$2.0M"), "the bar's value label");
        assert_eq!(&c.png[..8], &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]);
        let phys = c.png.windows(4).position(|w| w == b"pHYs").unwrap();
        let ppm = u32::from_be_bytes(c.png[phys + 4..phys + 8].try_into().unwrap());
        assert_eq!(ppm, 7874); // 200 dpi
        assert_eq!(u32::from_be_bytes(c.png[16..20].try_into().unwrap()), theme::WIDTH * theme::PNG_SCALE);
        // A PNG decoder reads the image back: its size, 8-bit RGB, white background, drawn pixels.
        let mut reader = png::Decoder::new(std::io::Cursor::new(&c.png)).read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!((info.width, info.height), (theme::WIDTH * theme::PNG_SCALE, theme::HEIGHT * theme::PNG_SCALE));
        assert_eq!((info.color_type, info.bit_depth), (png::ColorType::Rgb, png::BitDepth::Eight));
        assert_eq!(&pixels[..3], &[255, 255, 255]);
        assert!(pixels.chunks(3).any(|p| p != [255, 255, 255]));
    }

    #[test]
    fn the_pdf_is_one_page_of_the_svgs_size_with_the_bundled_font_and_the_same_bytes_every_time() {
        let chart = || {
            let bars = vec![Bar { label: "Lazarus Group — 北朝鮮".into(), value: 2e6, key: "stolen".into() }];
            render(&Bars { title: "Stolen".into(), x_desc: "USD".into(), bars, unit: Unit::Usd, source: "Source: ifr".into() }).unwrap()
        };
        let (a, b) = (chart(), chart());
        assert!(a.pdf.starts_with(b"%PDF-"), "a PDF header");
        assert!(a.pdf == b.pdf, "deterministic");
        let text = String::from_utf8_lossy(&a.pdf);
        // 960 x 540 CSS px at 96 px per inch: 10 x 5.625 in = 720 x 405 pt.
        assert!(text.contains("/MediaBox [0 0 720 405]"), "page size");
        assert_eq!(
            text.matches("/Type /Page\n").count() + text.matches("/Type /Page ").count() + text.matches("/Type /Page/").count(),
            1,
            "one page"
        );
        // The text is text in the embedded DejaVu Sans subset (a six-letter tag, then the name).
        assert!(text.contains("+DejaVuSans"), "the bundled font, embedded");
        assert!(text.contains("/FontFile2"), "embedded, not referenced");
    }

    #[test]
    fn resource_entries_are_sorted_in_place_and_streams_left_alone() {
        let pdf = b"4 0 obj\n<<\n  /XObject <<\n    /xo1 10 0 R\n    /xo0 8 0 R\n  >>\n>>\nstream\n/Font <<\nb\na\nendstream\n".to_vec();
        let sorted = sorted_resources(pdf.clone());
        assert_eq!(sorted.len(), pdf.len(), "offsets kept");
        assert_eq!(
            String::from_utf8(sorted).unwrap(),
            "4 0 obj\n<<\n  /XObject <<\n    /xo0 8 0 R\n    /xo1 10 0 R\n  >>\n>>\nstream\n/Font <<\nb\na\nendstream\n"
        );
    }
}
