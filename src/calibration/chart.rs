//! The operating-point charts (DESIGN §7), as standalone SVG, and the drawing kit the native HTML
//! report (`eval::report`, native only) draws its own charts with. Plain Rust on the calibration
//! histograms: no rayon, no files, and it builds for wasm32, because the kiosk draws
//! [`operating_point_svg`] for its own N and m.
//!
//! - [`operating_point_svg`]: expected false alerts per passer-by against the collision threshold m,
//!   for watchlists of 1 000 and 10 000 entries and the deployment's own, with the chosen m marked,
//!   above the estimated true-match rate of a track.
//! - [`det_svg`]: detection error trade-off curves per demographic group, sweeping m.
//!
//! What the charts guarantee:
//! - Each is one standalone SVG document with a `<title>` that says what it shows.
//! - No font file is needed anywhere. plotters' SVG backend writes text as `<text>` elements that
//!   the viewer sets in its own sans-serif; and no chart asks plotters to *measure* text (no
//!   caption, no plotters legend, no labels right of an axis), because on wasm32 plotters measures
//!   text through the DOM, which the kiosk's Worker does not have. Titles, legends and annotations
//!   are `Text` elements placed by pixel; the wasm test at the bottom renders a chart in node,
//!   where a measurement would panic.
//! - Colour is never the only signal: every series has its own marker shape and a legend entry, the
//!   chosen m is a labelled line, and stated results are words, not colours.
//! - The rates are those of [`ScoreHistogram::rate_at`]: the same sum, with the binomial tails
//!   computed once per chart instead of once per curve.

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::model::{fpir, BinTails, CalibrationData, ScoreHistogram};

pub(crate) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
pub(crate) type Drawn = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// Watchlist sizes every operating-point chart shows next to the deployment's own.
pub(crate) const COMPARED_SIZES: [u64; 2] = [1_000, 10_000];
/// The FPIR targets drawn as reference lines (those of `operating_points::FPIR_TARGETS`, which
/// is native-only; a test keeps the two equal).
pub(crate) const REFERENCE_FPIRS: [(&str, f64); 3] =
    [("1/1000", 1e-3), ("1/6000", 1.0 / 6000.0), ("1/60000", 1.0 / 60000.0)];
/// Thresholds charted at most, so that a chart costs tens of milliseconds in the kiosk.
const MAX_SWEEP: u16 = 120;

const OP_SIZE: (u32, u32) = (900, 700);
const DET_SIZE: (u32, u32) = (900, 620);
const FONT: &str = "sans-serif";

pub(crate) const INK: RGBColor = RGBColor(0x1a, 0x1a, 0x1a);
const MUTED: RGBColor = RGBColor(0x55, 0x55, 0x55);
pub(crate) const GRID: RGBColor = RGBColor(0xd0, 0xd0, 0xd0);
pub(crate) const GRID_LIGHT: RGBColor = RGBColor(0xee, 0xee, 0xee);
/// The chosen-threshold line: the darkest ink and the widest stroke of a chart.
pub(crate) const MARK: RGBColor = RGBColor(0, 0, 0);
const MARK_WIDTH: u32 = 3;
/// Okabe–Ito's colour-blind-safe palette without its yellow (too pale on white), plus Tol's wine.
pub(crate) const PALETTE: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xb2),
    RGBColor(0xd5, 0x5e, 0x00),
    RGBColor(0x00, 0x9e, 0x73),
    RGBColor(0xcc, 0x79, 0xa7),
    RGBColor(0xe6, 0x9f, 0x00),
    RGBColor(0x56, 0xb4, 0xe9),
    RGBColor(0x88, 0x22, 0x55),
    RGBColor(0x44, 0x44, 0x44),
];

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Shape {
    Circle,
    Triangle,
    Square,
    Diamond,
    Cross,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Look {
    pub(crate) colour: RGBColor,
    pub(crate) shape: Shape,
    pub(crate) filled: bool,
    pub(crate) width: u32,
}

impl Look {
    /// The i-th look of a family: colour and shape both change with i, so no two of the first 32
    /// share both.
    fn nth(i: usize, filled: bool) -> Look {
        const SHAPES: [Shape; 4] = [Shape::Circle, Shape::Triangle, Shape::Square, Shape::Diamond];
        Look {
            colour: PALETTE[i % PALETTE.len()],
            shape: SHAPES[(i + i / PALETTE.len()) % SHAPES.len()],
            filled,
            width: 2,
        }
    }
}

/// One curve: a label for the legend, and its points in chart coordinates.
struct Series {
    label: String,
    look: Look,
    points: Vec<(f64, f64)>,
}

/// The thresholds a chart sweeps: from 20 (FMR around 1e-2 at L = 1 024) to L / 4, as the
/// differential check does, widened to take in `marked`, at most [`MAX_SWEEP`] of them, always
/// including `marked` so that its point lies on the curves.
fn sweep(tables: u16, marked: Option<u16>) -> Vec<u16> {
    let tables = tables.max(2);
    let from = 20.min(tables / 8).max(1);
    let mut to = (tables / 4).max(from + 1).min(tables);
    let mut from_shown = from;
    if let Some(m) = marked.filter(|m| (1..=tables).contains(m)) {
        from_shown = from.min(m);
        to = to.max(m.saturating_add((to - from) / 10).min(tables));
    }
    let step = (to - from_shown).div_ceil(MAX_SWEEP).max(1);
    let mut ms: Vec<u16> = (from_shown..=to).step_by(step as usize).collect();
    ms.extend(marked.filter(|m| (from_shown..=to).contains(m)));
    ms.push(to);
    ms.sort_unstable();
    ms.dedup();
    ms
}

/// The binomial weights at each swept m, for the bins any charted histogram uses: computed once
/// and shared by every curve.
struct Tails {
    by_m: Vec<BinTails>,
}

impl Tails {
    fn new(tables: u16, ms: &[u16], histograms: &[&ScoreHistogram]) -> Tails {
        Tails { by_m: ms.iter().map(|&m| BinTails::covering(tables, m, histograms)).collect() }
    }

    /// The rate of `h` at each swept m (as [`ScoreHistogram::rate_at`] has it).
    fn rates(&self, h: &ScoreHistogram) -> Vec<f64> {
        self.by_m.iter().map(|tails| tails.rate(h)).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Numbers as people read them.

/// `10 000`, grouped by narrow no-break spaces (the SI's thousands separator).
pub(crate) fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

fn superscript(e: i32) -> String {
    e.to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            d => ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'][d.to_digit(10).unwrap_or(0) as usize],
        })
        .collect()
}

/// Two significant digits in scientific notation (`1.5 × 10⁻⁸`); three, plain, from 0.01 to 1 000.
pub(crate) fn sci(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    if (0.01..1000.0).contains(&x.abs()) {
        let decimals = (2 - x.abs().log10().floor() as i32).max(0) as usize;
        let fixed = format!("{x:.decimals$}");
        return if fixed.contains('.') { fixed.trim_end_matches('0').trim_end_matches('.').to_owned() } else { fixed };
    }
    let mut e = x.abs().log10().floor() as i32;
    let mut mantissa = (x / 10f64.powi(e) * 10.0).round() / 10.0;
    if mantissa.abs() >= 10.0 {
        e += 1;
        mantissa /= 10.0;
    }
    format!("{mantissa} × 10{}", superscript(e))
}

/// A log axis's tick label: powers of ten only (`1`, `10⁻³`), nothing between them.
pub(crate) fn decade_label(v: &f64) -> String {
    let e = v.log10().round();
    if (v / 10f64.powf(e) - 1.0).abs() > 1e-6 {
        return String::new();
    }
    if e == 0.0 {
        "1".into()
    } else {
        format!("10{}", superscript(e as i32))
    }
}

/// A rate per passer-by as a count of people: `1 in 6 100`.
pub(crate) fn one_in(rate: f64) -> String {
    if rate >= 1.0 {
        return "everyone".into();
    }
    if rate <= 0.0 {
        return "none".into();
    }
    let n = 1.0 / rate;
    if n < 10.0 {
        return format!("1 in {:.1}", n);
    }
    if n >= 1e7 {
        return format!("1 in {}", sci(n));
    }
    let magnitude = 10f64.powi(n.log10().floor() as i32 - 1);
    format!("1 in {}", grouped(((n / magnitude).round() * magnitude) as u64))
}

pub(crate) fn percent(rate: f64) -> String {
    format!("{:.1}\u{202f}%", rate * 100.0)
}

/// `1/6000` as `1 in 6 000`; any other label as it is.
pub(crate) fn target_label(label: &str) -> String {
    match label.strip_prefix("1/").and_then(|n| n.parse::<u64>().ok()) {
        Some(n) => format!("1 in {}", grouped(n)),
        None => label.to_owned(),
    }
}

/// The decade range `[10^a, 10^b]` holding the positive values, clamped to `[floor, ceil]`.
pub(crate) fn log_range(values: impl IntoIterator<Item = f64>, floor: f64, ceil: f64) -> (f64, f64) {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return (floor, ceil);
    }
    let lo = 10f64.powf(lo.log10().floor()).clamp(floor, ceil / 10.0);
    let hi = 10f64.powf(hi.log10().ceil()).clamp(lo * 10.0, ceil);
    (lo, hi)
}

fn decades(range: (f64, f64)) -> usize {
    ((range.1 / range.0).log10().round() as usize).max(1)
}

// ---------------------------------------------------------------------------------------------
// Drawing helpers.

/// Text of `size` CSS pixels (plotters' SVG backend writes font-size = size / 1.24).
pub(crate) fn text_style(size: f64, colour: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle { font: (FONT, size * 1.24).into_font(), color: colour.to_backend_color(), pos: Pos::new(h, v) }
}

pub(crate) fn bold(size: f64, colour: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    let style = text_style(size, colour, h, v);
    TextStyle { font: style.font.style(FontStyle::Bold), ..style }
}

pub(crate) fn draw_text(area: &Area, text: &str, at: (i32, i32), style: &TextStyle) -> Drawn {
    area.draw(&Text::new(text.to_owned(), at, style.clone()))
}

/// Text on a white band, so that it stays readable where it crosses a curve or a grid line. The
/// band's width is estimated (0.6 em a character) since nothing measures text (see the module doc).
pub(crate) fn draw_label(area: &Area, text: &str, at: (i32, i32), size: f64, style: &TextStyle) -> Drawn {
    let (w, h) = (estimated_width(text, size), (size * 1.4) as i32);
    let x0 = match style.pos.h_pos {
        HPos::Left => at.0 - 4,
        HPos::Center => at.0 - w / 2,
        HPos::Right => at.0 - w + 4,
    };
    let y0 = match style.pos.v_pos {
        VPos::Top => at.1 - 2,
        VPos::Center => at.1 - h / 2,
        VPos::Bottom => at.1 - h + 3,
    };
    area.draw(&Rectangle::new([(x0, y0), (x0 + w, y0 + h)], WHITE.mix(0.85).filled()))?;
    draw_text(area, text, at, style)
}

/// A generous estimate of the width of `text` at `size` pixels, with a margin.
fn estimated_width(text: &str, size: f64) -> i32 {
    (text.chars().count() as f64 * size * 0.6) as i32 + 8
}

/// How many decades a log axis of `pixels` can label without crowding (plotters then labels
/// every second or third decade).
pub(crate) fn decade_labels(range: (f64, f64), pixels: i32) -> usize {
    decades(range).min((pixels / 48).max(2) as usize)
}

pub(crate) fn draw_marker(area: &Area, at: (i32, i32), look: Look, radius: i32) -> Drawn {
    let (x, y) = at;
    let r = radius;
    let fill = look.colour.filled();
    let stroke = look.colour.stroke_width(2);
    let outline = |points: Vec<(i32, i32)>| -> Drawn {
        if look.filled {
            area.draw(&Polygon::new(points, fill))
        } else {
            let mut closed = points.clone();
            closed.push(points[0]);
            area.draw(&PathElement::new(closed, stroke))
        }
    };
    match look.shape {
        Shape::Circle => area.draw(&Circle::new(at, r, if look.filled { fill } else { stroke })),
        Shape::Square => {
            let s = r - 1;
            area.draw(&Rectangle::new([(x - s, y - s), (x + s, y + s)], if look.filled { fill } else { stroke }))
        }
        Shape::Triangle => outline(vec![(x, y - r - 1), (x + r + 1, y + r), (x - r - 1, y + r)]),
        Shape::Diamond => outline(vec![(x, y - r - 1), (x + r + 1, y), (x, y + r + 1), (x - r - 1, y)]),
        Shape::Cross => {
            area.draw(&PathElement::new(vec![(x - r, y - r), (x + r, y + r)], stroke))?;
            area.draw(&PathElement::new(vec![(x - r, y + r), (x + r, y - r)], stroke))
        }
    }
}

/// The height of [`draw_legend`]'s box.
fn legend_height(entries: &[(String, Look)]) -> i32 {
    entries.len() as i32 * 24 + 12
}

/// The width of [`draw_legend`]'s box. Text is not measured (see the module doc): 0.58 em is a
/// generous average advance for a sans-serif.
fn legend_width(entries: &[(String, Look)]) -> i32 {
    let longest = entries.iter().map(|(label, _)| label.chars().count()).max().unwrap_or(0);
    (longest as f64 * 14.0 * 0.58) as i32 + 64
}

/// A legend box with its top-left corner at `at` (pixels): a line sample, the marker and the
/// label per row.
fn draw_legend(area: &Area, at: (i32, i32), entries: &[(String, Look)]) -> Drawn {
    const ROW: i32 = 24;
    let (width, height) = (legend_width(entries), legend_height(entries));
    let (x, y) = at;
    area.draw(&Rectangle::new([(x, y), (x + width, y + height)], WHITE.mix(0.92).filled()))?;
    area.draw(&Rectangle::new([(x, y), (x + width, y + height)], GRID.stroke_width(1)))?;
    for (i, (label, look)) in entries.iter().enumerate() {
        let row_y = y + 6 + ROW / 2 + i as i32 * ROW;
        area.draw(&PathElement::new(vec![(x + 10, row_y), (x + 44, row_y)], look.colour.stroke_width(look.width)))?;
        draw_marker(area, (x + 27, row_y), *look, 5)?;
        draw_text(area, label, (x + 54, row_y), &text_style(14.0, INK, HPos::Left, VPos::Center))?;
    }
    Ok(())
}

/// Draws into an SVG string of `size` and gives it a `<title>`; a drawing error (none is
/// expected: the backend writes to memory) becomes a chart that says so instead of a panic in
/// the kiosk.
pub(crate) fn render(size: (u32, u32), title: &str, draw: impl FnOnce(&Area) -> Drawn) -> String {
    let mut svg = String::new();
    let outcome = {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).and_then(|()| draw(&root)).and_then(|()| root.present()).map_err(|e| e.to_string())
    };
    match outcome {
        Ok(()) => with_title(svg, title),
        Err(error) => format!(
            "<svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\">\
             <title>{}</title><text x=\"16\" y=\"32\" font-family=\"{FONT}\" font-size=\"16\">\
             This chart could not be drawn: {}</text></svg>\n",
            escape(title),
            escape(&error),
            w = size.0,
            h = size.1,
        ),
    }
}

/// Marks the SVG as an image for assistive technology and puts `title` first inside it.
fn with_title(svg: String, title: &str) -> String {
    let Some(open_end) = svg.find("<svg").and_then(|start| svg[start..].find('>').map(|end| start + end)) else {
        return svg;
    };
    format!("{} role=\"img\">\n<title>{}</title>{}", &svg[..open_end], escape(title), &svg[open_end + 1..])
}

/// Escapes text for HTML and XML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Draws a series as one polyline plus markers spread along it, `phase` shifting them so that the
/// markers of neighbouring curves do not sit on each other.
fn draw_series<X, Y>(
    chart: &mut ChartContext<SVGBackend, Cartesian2d<X, Y>>,
    root: &Area,
    series: &Series,
    phase: usize,
) -> Drawn
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    if series.points.is_empty() {
        return Ok(());
    }
    chart.draw_series(LineSeries::new(
        series.points.iter().copied(),
        series.look.colour.stroke_width(series.look.width),
    ))?;
    let every = (series.points.len() / 7).max(1);
    for (i, p) in series.points.iter().enumerate() {
        if (i + phase * every / 3).is_multiple_of(every) {
            draw_marker(root, chart.backend_coord(p), series.look, 5)?;
        }
    }
    Ok(())
}

/// Keeps the points of a log-y curve down to `floor`, ending it where it crosses the floor.
fn above_floor(points: impl IntoIterator<Item = (f64, f64)>, floor: f64) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (x, y) in points {
        if y >= floor {
            out.push((x, y));
            continue;
        }
        if let Some(&(x0, y0)) = out.last() {
            // Where the line (linear in m, logarithmic in rate) meets the floor.
            let t = if y > 0.0 { (floor.ln() - y0.ln()) / (y.ln() - y0.ln()) } else { 0.0 };
            out.push((x0 + t * (x - x0), floor));
        }
        break;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The charts.

/// A chart of the operating point for a watchlist of `entries` at m of `tables` (DESIGN §7):
/// above, the expected false alerts per passer-by (FPIR, log scale) against the collision
/// threshold m for watchlists of 1 000 and 10 000 entries and of `entries`, with reference lines
/// at 1 in 1 000, 6 000 and 60 000 passers-by; below, the estimated true-match rate of a track of a
/// watchlisted person. The chosen m is a labelled vertical line through both, with its FPIR and
/// true-match rate written next to it.
pub fn operating_point_svg(calibration: &CalibrationData, tables: u16, entries: u64, m: u16) -> String {
    let title = format!(
        "Expected false alerts per passer-by and true-match rate of a track against the collision \
         threshold m, L = {} tables; watchlist of {} entries at m = {m}",
        grouped(tables as u64),
        grouped(entries)
    );
    render(OP_SIZE, &title, |root| draw_operating_point(root, calibration, tables, entries, m))
}

fn draw_operating_point(root: &Area, calibration: &CalibrationData, tables: u16, entries: u64, m: u16) -> Drawn {
    let ms = sweep(tables, Some(m));
    let tails = Tails::new(tables, &ms, &[&calibration.strangers, &calibration.genuine_track]);
    let fmr = tails.rates(&calibration.strangers);
    let tmr = tails.rates(&calibration.genuine_track);
    let marked = ms.iter().position(|&x| x == m);
    let x_range = ms[0] as f64..ms[ms.len() - 1] as f64;

    let mut sizes: Vec<u64> = COMPARED_SIZES.to_vec();
    if !sizes.contains(&entries) {
        sizes.push(entries);
    }
    let curves: Vec<(u64, Vec<f64>)> = sizes.iter().map(|&n| (n, fmr.iter().map(|&f| fpir(f, n)).collect())).collect();
    let at_m = marked.map(|i| fpir(fmr[i], entries));
    let y_range = log_range(curves.iter().flat_map(|(_, v)| v.iter().copied()).chain(at_m).chain([1e-6]), 1e-12, 1.0);

    draw_text(
        root,
        &format!("False alerts and true matches against the threshold m (L = {} tables)", grouped(tables as u64)),
        (24, 14),
        &bold(18.0, INK, HPos::Left, VPos::Top),
    )?;
    let (top, bottom) = root.split_vertically(440);

    // Above: false alerts per passer-by.
    let mut chart = ChartBuilder::on(&top)
        .margin_top(46)
        .margin_right(28)
        .margin_left(8)
        .x_label_area_size(34)
        .y_label_area_size(104)
        .build_cartesian_2d(x_range.clone(), (y_range.0..y_range.1).log_scale())?;
    chart
        .configure_mesh()
        .y_labels(decades(y_range))
        .y_label_formatter(&decade_label)
        .x_labels(12)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_desc("False alerts per passer-by (FPIR)")
        .label_style(text_style(14.0, INK, HPos::Center, VPos::Center))
        .axis_desc_style(text_style(15.0, INK, HPos::Center, VPos::Center))
        .bold_line_style(GRID.stroke_width(1))
        .light_line_style(GRID_LIGHT.stroke_width(1))
        .draw()?;
    for (label, rate) in REFERENCE_FPIRS {
        if rate > y_range.0 && rate < y_range.1 {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x_range.start, rate), (x_range.end, rate)],
                MUTED.stroke_width(1),
            )))?;
            // At the left, under the curves, which start near 1.
            let (x, y) = chart.backend_coord(&(x_range.start, rate));
            draw_label(
                root,
                &format!("{} passers-by", target_label(label)),
                (x + 8, y - 2),
                13.0,
                &text_style(13.0, MUTED, HPos::Left, VPos::Bottom),
            )?;
        }
    }
    let mut legend = Vec::new();
    for (i, (n, rates)) in curves.iter().enumerate() {
        let own = *n == entries;
        let mut look = Look::nth(i, true);
        if own {
            look.width = 3;
        }
        let label = format!("N = {} entries{}", grouped(*n), if own { " (this watchlist)" } else { "" });
        let points = above_floor(ms.iter().zip(rates).map(|(&m, &r)| (m as f64, r)), y_range.0);
        let series = Series { label, look, points };
        draw_series(&mut chart, root, &series, i)?;
        legend.push((series.label, look));
    }
    // Bottom left: the curves fall from the top left to the bottom right.
    let (plot_x, plot_y) = chart.plotting_area().get_pixel_range();
    draw_legend(root, (plot_x.start + 12, plot_y.end - 12 - legend_height(&legend)), &legend)?;
    if x_range.contains(&(m as f64)) {
        draw_mark(&mut chart, m as f64, (y_range.0, y_range.1))?;
    }
    if let Some(rate) = at_m.filter(|&r| r >= y_range.0) {
        let at = chart.backend_coord(&(m as f64, rate));
        draw_marker(root, at, Look { colour: MARK, shape: Shape::Circle, filled: false, width: 2 }, 9)?;
    }
    if x_range.contains(&(m as f64)) {
        // Top right of the line: the curves fall from the top left, so above them is empty.
        let (x, top) = chart.backend_coord(&(m as f64, y_range.1));
        let mut lines = vec![format!("chosen m = {m}")];
        if let Some(rate) = at_m {
            lines.push(format!("{} passers-by", one_in(rate)));
            lines.push(format!("{} false alerts per 1 000", sci(1000.0 * rate)));
        }
        draw_beside(root, &lines, (x, top + 6), plot_x.clone())?;
    }

    // Below: the true-match rate of a track.
    let mut chart = ChartBuilder::on(&bottom)
        .margin_top(12)
        .margin_right(28)
        .margin_left(8)
        .x_label_area_size(64)
        .y_label_area_size(104)
        .build_cartesian_2d(x_range.clone(), 0.0..100.0)?;
    chart
        .configure_mesh()
        .y_labels(6)
        .y_label_formatter(&|v| format!("{v:.0}\u{202f}%"))
        .x_labels(12)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_desc("True-match rate of a track")
        .x_desc(format!("Collision threshold m: tables of the {} that must agree", grouped(tables as u64)))
        .label_style(text_style(14.0, INK, HPos::Center, VPos::Center))
        .axis_desc_style(text_style(15.0, INK, HPos::Center, VPos::Center))
        .bold_line_style(GRID.stroke_width(1))
        .light_line_style(GRID_LIGHT.stroke_width(1))
        .draw()?;
    let look = Look { colour: PALETTE[2], shape: Shape::Diamond, filled: true, width: 2 };
    if calibration.genuine_track.total() > 0 {
        let points = ms.iter().zip(&tmr).map(|(&m, &r)| (m as f64, 100.0 * r)).collect();
        draw_series(&mut chart, root, &Series { label: String::new(), look, points }, 0)?;
    }
    if x_range.contains(&(m as f64)) {
        draw_mark(&mut chart, m as f64, (0.0, 100.0))?;
    }
    let (plot_x, plot_y) = chart.plotting_area().get_pixel_range();
    match marked.map(|i| tmr[i]).filter(|_| calibration.genuine_track.total() > 0) {
        Some(rate) => {
            let at = chart.backend_coord(&(m as f64, 100.0 * rate));
            draw_marker(root, at, Look { colour: MARK, shape: Shape::Circle, filled: false, width: 2 }, 9)?;
            // Below left of the point: the curve falls from the top left, so below it is empty.
            let text = format!("{} of watchlisted people's tracks match", percent(rate));
            let left = at.0 - 14 - estimated_width(&text, 14.0) >= plot_x.start;
            draw_label(
                root,
                &text,
                (if left { at.0 - 14 } else { at.0 + 14 }, at.1 + 14),
                14.0,
                &bold(14.0, INK, if left { HPos::Right } else { HPos::Left }, VPos::Top),
            )?;
        }
        None if calibration.genuine_track.total() == 0 => draw_text(
            root,
            "No tracks of watchlisted people were measured.",
            ((plot_x.start + plot_x.end) / 2, (plot_y.start + plot_y.end) / 2),
            &text_style(15.0, MUTED, HPos::Center, VPos::Center),
        )?,
        None => {}
    }
    let legend = [("True-match rate of a track".to_owned(), look)];
    draw_legend(root, (plot_x.start + 12, plot_y.end - 12 - legend_height(&legend)), &legend)
}

/// The chosen threshold: a vertical line across the plot.
fn draw_mark<Y>(chart: &mut ChartContext<SVGBackend, Cartesian2d<RangedCoordf64, Y>>, m: f64, y: (f64, f64)) -> Drawn
where
    Y: Ranged<ValueType = f64>,
{
    chart.draw_series(std::iter::once(PathElement::new(vec![(m, y.0), (m, y.1)], MARK.stroke_width(MARK_WIDTH))))?;
    Ok(())
}

/// Lines of text beside the vertical line at `at.0`, from `at.1` down, the first in bold: right of
/// the line where they fit in `plot_x`, else left of it.
fn draw_beside(root: &Area, lines: &[String], at: (i32, i32), plot_x: std::ops::Range<i32>) -> Drawn {
    let width = lines.iter().map(|l| estimated_width(l, 15.0)).max().unwrap_or(0);
    let right = at.0 + 10 + width <= plot_x.end;
    let h = if right { HPos::Left } else { HPos::Right };
    for (i, line) in lines.iter().enumerate() {
        let (size, style) =
            if i == 0 { (15.0, bold(15.0, INK, h, VPos::Top)) } else { (14.0, text_style(14.0, INK, h, VPos::Top)) };
        draw_label(root, line, (if right { at.0 + 10 } else { at.0 - 10 }, at.1 + 21 * i as i32), size, &style)?;
    }
    Ok(())
}

/// Detection error trade-off curves at L = `tables`, sweeping m: the false-match rate per
/// comparison (log) against the false non-match rate of a track, 1 − true-match rate (log). One
/// curve per filler group (its strangers' FMR, the overall tracks' FNMR; filled markers), one per
/// watchlisted LFW group (the overall strangers' FMR, the group's tracks' FNMR; hollow markers), and
/// the pooled curve (black crosses), on which some values of m are written.
pub fn det_svg(calibration: &CalibrationData, tables: u16) -> String {
    let title = format!(
        "Detection error trade-off per group at L = {} tables: false non-match rate of a track against \
         false-match rate per comparison, sweeping the collision threshold m",
        grouped(tables as u64)
    );
    render(DET_SIZE, &title, |root| draw_det(root, calibration, tables))
}

/// A point of a curve, with the threshold m it is at.
type PointAtM = (u16, (f64, f64));

/// The curves, and the pooled curve's points with their m (for writing m along it).
fn det_series(calibration: &CalibrationData, tables: u16) -> (Vec<Series>, Vec<PointAtM>) {
    let ms = sweep(tables, None);
    let mut histograms = vec![&calibration.strangers, &calibration.genuine_track];
    histograms.extend(calibration.stranger_groups.values());
    histograms.extend(calibration.genuine_track_groups.values());
    let tails = Tails::new(tables, &ms, &histograms);
    let fmr = tails.rates(&calibration.strangers);
    let fnmr: Vec<f64> = tails.rates(&calibration.genuine_track).iter().map(|t| 1.0 - t).collect();
    let curve = |x: &[f64], y: &[f64]| -> Vec<(f64, f64)> {
        x.iter()
            .zip(y)
            .map(|(&x, &y)| (x, y))
            .filter(|&(x, y)| x > 0.0 && y > 0.0 && x.is_finite() && y.is_finite())
            .collect()
    };
    let pooled = ms.iter().copied().zip(fmr.iter().copied().zip(fnmr.iter().copied())).collect();
    let mut series = vec![Series {
        label: "everyone, pooled".into(),
        look: Look { colour: MARK, shape: Shape::Cross, filled: false, width: 3 },
        points: curve(&fmr, &fnmr),
    }];
    for (i, (group, h)) in calibration.stranger_groups.iter().enumerate() {
        series.push(Series {
            label: format!("{group} (strangers)"),
            look: Look::nth(i, true),
            points: curve(&tails.rates(h), &fnmr),
        });
    }
    let offset = calibration.stranger_groups.len();
    for (i, (group, h)) in calibration.genuine_track_groups.iter().enumerate() {
        let group_fnmr: Vec<f64> = tails.rates(h).iter().map(|t| 1.0 - t).collect();
        series.push(Series {
            label: format!("{group} (watchlisted, LFW)"),
            look: Look::nth(offset + i, false),
            points: curve(&fmr, &group_fnmr),
        });
    }
    (series, pooled)
}

fn draw_det(root: &Area, calibration: &CalibrationData, tables: u16) -> Drawn {
    let (series, pooled) = det_series(calibration, tables);
    let x_range = log_range(series.iter().flat_map(|s| s.points.iter().map(|p| p.0)), 1e-14, 1.0);
    let y_range = log_range(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)), 1e-4, 1.0);
    draw_text(
        root,
        "Error trade-off per group, sweeping m (lower left is better)",
        (24, 14),
        &bold(18.0, INK, HPos::Left, VPos::Top),
    )?;
    let mut chart = ChartBuilder::on(root)
        .margin_top(46)
        .margin_right(310)
        .margin_left(8)
        .x_label_area_size(64)
        .y_label_area_size(104)
        .build_cartesian_2d((x_range.0..x_range.1).log_scale(), (y_range.0..y_range.1).log_scale())?;
    chart
        .configure_mesh()
        .x_labels(decade_labels(x_range, (DET_SIZE.0 - 310 - 104 - 8) as i32))
        .y_labels(decades(y_range))
        .x_label_formatter(&decade_label)
        .y_label_formatter(&decade_label)
        .x_desc("False-match rate per comparison (FMR)")
        .y_desc("Missed tracks: false non-match rate (1 − TMR)")
        .label_style(text_style(14.0, INK, HPos::Center, VPos::Center))
        .axis_desc_style(text_style(15.0, INK, HPos::Center, VPos::Center))
        .bold_line_style(GRID.stroke_width(1))
        .light_line_style(GRID_LIGHT.stroke_width(1))
        .draw()?;
    let within = |&(x, y): &(f64, f64)| x >= x_range.0 && x <= x_range.1 && y >= y_range.0 && y <= y_range.1;
    let mut legend = Vec::new();
    for (i, s) in series.iter().enumerate() {
        let clipped =
            Series { label: s.label.clone(), look: s.look, points: s.points.iter().copied().filter(within).collect() };
        draw_series(&mut chart, root, &clipped, i)?;
        legend.push((s.label.clone(), s.look));
    }
    // About five thresholds written along the pooled curve, at round m, so that a reader can find m on it.
    let span = pooled.last().map_or(0, |p| p.0) - pooled.first().map_or(0, |p| p.0);
    let step = (span / 5).div_ceil(10).max(1) * 10;
    for &(m, point) in &pooled {
        if m % step == 0 && point.0 > 0.0 && point.1 > 0.0 && within(&point) {
            let (x, y) = chart.backend_coord(&point);
            draw_text(root, &format!("m = {m}"), (x + 8, y - 8), &text_style(13.0, INK, HPos::Left, VPos::Bottom))?;
        }
    }
    let (plot_x, plot_y) = chart.plotting_area().get_pixel_range();
    draw_legend(root, (plot_x.end + 16, plot_y.start), &legend)
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
pub(crate) mod tests {
    use super::*;

    /// Strangers with cosines spread around `centre`, and tracks near 0.8: enough to give every
    /// curve a hundred points.
    pub(crate) fn histogram(centre: f32, spread: f32, n: usize) -> ScoreHistogram {
        ScoreHistogram::from_scores((0..n).map(|i| centre + spread * ((i % 41) as f32 / 20.0 - 1.0)))
    }

    /// The calibration the chart tests and the HTML report's tests (`eval::report`) draw.
    pub(crate) fn calibration() -> CalibrationData {
        let mut c = CalibrationData {
            model_id: "test-model".into(),
            templates: 100,
            strangers: histogram(0.15, 0.35, 4000),
            genuine_track: histogram(0.62, 0.3, 400),
            stranger_groups: Default::default(),
            genuine_track_groups: Default::default(),
            recipes: Vec::new(),
        };
        c.stranger_groups.insert("A-female".into(), histogram(0.17, 0.35, 2000));
        c.stranger_groups.insert("B-male".into(), histogram(0.13, 0.35, 2000));
        c.stranger_groups.insert("C-other".into(), histogram(0.15, 0.3, 1000));
        c.genuine_track_groups.insert("female".into(), histogram(0.6, 0.3, 150));
        c.genuine_track_groups.insert("male".into(), histogram(0.64, 0.3, 250));
        c
    }

    /// The `points` of every `<polyline>`, parsed.
    fn polylines(svg: &str) -> Vec<(String, Vec<(i32, i32)>)> {
        svg.split("<polyline")
            .skip(1)
            .map(|rest| {
                let tag = &rest[..rest.find("/>").expect("polyline closes")];
                let attr = |name: &str| {
                    let start = tag.find(&format!(" {name}=\"")).map(|i| i + name.len() + 3)?;
                    Some(tag[start..start + tag[start..].find('"')?].to_owned())
                };
                let points = attr("points")
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(|p| {
                        let (x, y) = p.split_once(',').expect("x,y");
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect();
                (format!("{} {}", attr("stroke").unwrap_or_default(), attr("stroke-width").unwrap_or_default()), points)
            })
            .collect()
    }

    /// Curves whose polyline has at least this many points are data; ticks, marks and markers have fewer.
    const MIN_SERIES_POINTS: usize = 10;

    fn data_series(svg: &str) -> usize {
        polylines(svg).iter().filter(|(_, p)| p.len() >= MIN_SERIES_POINTS).count()
    }

    /// The x of each vertical chosen-threshold line.
    fn marks(svg: &str) -> Vec<i32> {
        polylines(svg)
            .into_iter()
            .filter(|(stroke, p)| *stroke == format!("#000000 {MARK_WIDTH}") && p.len() == 2 && p[0].0 == p[1].0)
            .map(|(_, p)| p[0].0)
            .collect()
    }

    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .map(|t| t[t.find('>').unwrap() + 1..t.find("</text>").unwrap()].trim().to_owned())
            .collect()
    }

    fn assert_well_formed(svg: &str) {
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("role=\"img\"") && svg.contains("<title>"));
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
        assert!(!svg.contains("could not be drawn"));
        // Text is set by the viewer: no embedded or linked font.
        assert!(!svg.contains("@font-face") && !svg.contains("<image"));
    }

    #[test]
    fn the_charted_rates_are_those_of_the_calibration_model() {
        let c = calibration();
        let ms = sweep(1024, Some(130));
        let tails = Tails::new(1024, &ms, &[&c.strangers, &c.genuine_track]);
        for (h, rates) in [(&c.strangers, tails.rates(&c.strangers)), (&c.genuine_track, tails.rates(&c.genuine_track))]
        {
            for (&m, rate) in ms.iter().zip(rates) {
                let direct = h.rate_at(1024, m);
                assert!((rate - direct).abs() <= 1e-12 * direct.max(1e-300), "m = {m}: {rate} vs {direct}");
            }
        }
    }

    #[test]
    fn the_sweep_runs_from_20_to_a_quarter_of_l_and_takes_in_the_marked_m() {
        let ms = sweep(1024, Some(137));
        assert_eq!((ms[0], *ms.last().unwrap()), (20, 256));
        assert!(ms.len() <= MAX_SWEEP as usize + 3 && ms.contains(&137));
        assert!(ms.windows(2).all(|w| w[0] < w[1]));
        let wide = sweep(1024, Some(400));
        assert!(wide.contains(&400) && *wide.last().unwrap() > 400);
        // A marked m outside 1..=L is not charted, and nothing panics.
        assert!(!sweep(1024, Some(0)).contains(&0) && sweep(3, Some(9)).iter().all(|&m| m <= 3));
    }

    #[test]
    fn the_operating_point_chart_has_one_curve_per_watchlist_size_and_the_marked_m() {
        let c = calibration();
        let svg = operating_point_svg(&c, 1024, 3000, 120);
        assert_well_formed(&svg);
        // N = 1 000, 10 000 and 3 000 above, the true-match rate below.
        assert_eq!(data_series(&svg), 4, "{:?}", polylines(&svg).iter().map(|p| p.1.len()).collect::<Vec<_>>());
        let labels = texts(&svg);
        for label in
            ["N = 1\u{202f}000 entries", "N = 10\u{202f}000 entries", "N = 3\u{202f}000 entries (this watchlist)"]
        {
            assert!(labels.iter().any(|t| t == label), "{label} missing from {labels:?}");
        }
        assert!(labels.iter().any(|t| t == "chosen m = 120"));
        let at_m = fpir(c.fmr(1024, 120), 3000);
        assert!(labels.iter().any(|t| t.starts_with(&format!("{} passers-by", one_in(at_m)))), "{labels:?}");
        let tmr = percent(c.true_match_rate(1024, 120));
        assert!(labels.iter().any(|t| t.starts_with(&tmr)), "{tmr} missing from {labels:?}");
        // A watchlist of one of the compared sizes is not drawn twice.
        let own = operating_point_svg(&c, 1024, 10_000, 120);
        assert_eq!(data_series(&own), 3);
        assert!(texts(&own).iter().any(|t| t == "N = 10\u{202f}000 entries (this watchlist)"));
    }

    #[test]
    fn the_chosen_threshold_is_marked_where_m_is_on_both_panels() {
        let c = calibration();
        let low = operating_point_svg(&c, 1024, 3000, 60);
        let high = operating_point_svg(&c, 1024, 3000, 180);
        let (low_marks, high_marks) = (marks(&low), marks(&high));
        // One line per panel, on the same x; a larger m sits further right.
        assert_eq!(low_marks.len(), 2, "{low_marks:?}");
        assert_eq!(high_marks.len(), 2, "{high_marks:?}");
        assert_eq!(low_marks[0], low_marks[1]);
        assert_eq!(high_marks[0], high_marks[1]);
        assert!(high_marks[0] > low_marks[0] + 100, "{low_marks:?} {high_marks:?}");
        assert!(
            texts(&low).contains(&"chosen m = 60".to_owned()) && !texts(&low).contains(&"chosen m = 180".to_owned())
        );
    }

    #[test]
    fn a_chart_without_genuine_tracks_says_so_instead_of_drawing_a_flat_line() {
        let mut c = calibration();
        c.genuine_track = ScoreHistogram::default();
        let svg = operating_point_svg(&c, 1024, 1000, 100);
        assert_well_formed(&svg);
        assert_eq!(data_series(&svg), 2);
        assert!(texts(&svg).iter().any(|t| t.starts_with("No tracks of watchlisted people")));
        // Nothing measured at all still gives a chart, not a panic.
        let empty = CalibrationData {
            model_id: String::new(),
            templates: 0,
            strangers: ScoreHistogram::default(),
            genuine_track: ScoreHistogram::default(),
            stranger_groups: Default::default(),
            genuine_track_groups: Default::default(),
            recipes: Vec::new(),
        };
        assert_well_formed(&operating_point_svg(&empty, 1024, 1000, 100));
        assert_well_formed(&det_svg(&empty, 1024));
    }

    #[test]
    fn the_det_chart_has_a_labelled_curve_per_group() {
        let c = calibration();
        let svg = det_svg(&c, 1024);
        assert_well_formed(&svg);
        // Pooled, three stranger groups, two LFW groups.
        assert_eq!(data_series(&svg), 6);
        let texts = texts(&svg);
        for label in [
            "everyone, pooled",
            "A-female (strangers)",
            "B-male (strangers)",
            "C-other (strangers)",
            "female (watchlisted, LFW)",
            "male (watchlisted, LFW)",
        ] {
            assert!(texts.iter().any(|t| t == label), "{label} missing from {texts:?}");
        }
        assert!(texts.iter().any(|t| t.starts_with("m = ")), "no m written on the pooled curve");
        // Group names from files are escaped, not markup.
        let mut hostile = c.clone();
        hostile.stranger_groups.insert("<script>x</script>".into(), histogram(0.1, 0.2, 500));
        let svg = det_svg(&hostile, 1024);
        assert!(!svg.contains("<script>") && svg.contains("&lt;script&gt;"));
    }

    #[test]
    fn looks_differ_in_shape_as_well_as_colour() {
        for i in 0..32 {
            for j in 0..i {
                let (a, b) = (Look::nth(i, true), Look::nth(j, true));
                assert!(a.colour != b.colour || a.shape != b.shape, "{i} and {j}");
            }
        }
    }

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(grouped(10_000), "10\u{202f}000");
        assert_eq!(grouped(999), "999");
        assert_eq!(sci(1.4566e-8), "1.5 × 10⁻⁸");
        assert_eq!(sci(9.96e-7), "1 × 10⁻⁶");
        assert_eq!(sci(0.2346), "0.235");
        assert_eq!(one_in(1.0 / 6000.0), "1 in 6\u{202f}000");
        assert_eq!(one_in(1.0 / 6149.0), "1 in 6\u{202f}100");
        assert_eq!(target_label("1/60000"), "1 in 60\u{202f}000");
        assert_eq!(decade_label(&1e-3), "10⁻³");
        assert_eq!(decade_label(&2e-3), "");
        assert_eq!(percent(0.7222), "72.2\u{202f}%");
        assert_eq!(log_range([3e-7, 0.02], 1e-12, 1.0), (1e-7, 0.1));
    }
}

/// In node there is no DOM: if a chart asked plotters to measure text, plotters' wasm font code
/// would panic here.
#[cfg(all(test, target_arch = "wasm32"))]
mod wasm_tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    #[wasm_bindgen_test]
    fn charts_render_without_a_dom() {
        let mut c = CalibrationData {
            model_id: String::new(),
            templates: 100,
            strangers: ScoreHistogram::from_scores((0..2000).map(|i| (i % 80) as f32 / 200.0 - 0.1)),
            genuine_track: ScoreHistogram::from_scores((0..200).map(|i| 0.6 + (i % 40) as f32 / 200.0)),
            stranger_groups: Default::default(),
            genuine_track_groups: Default::default(),
            recipes: Vec::new(),
        };
        c.stranger_groups.insert("A".into(), c.strangers.clone());
        c.genuine_track_groups.insert("B".into(), c.genuine_track.clone());
        let svg = operating_point_svg(&c, 1024, 2500, 120);
        assert!(svg.starts_with("<svg") && svg.contains("chosen m = 120"));
        assert!(det_svg(&c, 1024).contains("A (strangers)"));
    }
}
