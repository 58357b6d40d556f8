//! Loss curves as a PNG: one run's train and evaluation losses, or several runs side by side.
//!
//! Text is drawn with Noto Sans, embedded in the binary (crate `ttf-noto-sans`) and handed to
//! plotters' `ab_glyph` renderer, so a plot needs no system fonts and no network.

use crate::io::atomic_write;
use crate::train::EpochReport;
use crate::{Error, Result};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use std::ops::Range;
use std::path::Path;
use std::sync::Once;

/// Width of the picture in pixels.
const WIDTH: u32 = 900;
/// Height of the picture in pixels.
const HEIGHT: u32 = 600;
/// Above this ratio of the largest to the smallest loss (a decade) the y axis is logarithmic.
const LOG_SCALE_RATIO: f32 = 10.0;
/// At most this many labels on the epoch axis.
const MAX_X_LABELS: usize = 12;
/// Length in pixels of the line sample before each legend entry.
const LEGEND_LINE: i32 = 30;
/// Series colours, in order (Tableau 10), reused from the start after the last.
const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// One curve: a loss per epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend entry, e.g. `train` or `η = 0.1`.
    pub label: String,
    /// (epoch, loss) points, in epoch order.
    pub points: Vec<(f32, f32)>,
    /// Draw dashed (evaluation losses) rather than solid (train loss).
    pub dashed: bool,
}

/// The curves of one run: its train loss (solid), and its validation and test losses (dashed)
/// where the rows have them. Labels are `train`, `val`, `test`, after `prefix` and a space when
/// `prefix` is not empty (`η = 0.1 train`).
pub fn loss_series(rows: &[EpochReport], prefix: &str) -> Vec<Series> {
    let label = |name: &str| if prefix.is_empty() { name.to_string() } else { format!("{prefix} {name}") };
    let curve = |name: &str, dashed: bool, loss: fn(&EpochReport) -> Option<f32>| Series {
        label: label(name),
        points: rows.iter().filter_map(|r| loss(r).map(|l| (r.epoch as f32, l))).collect(),
        dashed,
    };
    [
        curve("train", false, |r| Some(r.train_loss)),
        curve("val", true, |r| r.val_loss),
        curve("test", true, |r| r.test_loss),
    ]
    .into_iter()
    .filter(|s| !s.points.is_empty())
    .collect()
}

/// Draws `series` against the epoch into a 900×600 PNG at `path` (written atomically), with the
/// axes labelled, `title` on top and a legend naming each series in its own colour.
///
/// The loss axis is logarithmic when every loss is positive and the largest is more than a
/// decade above the smallest, so that both the fast early fall and the late floor stay
/// visible; its label then says `loss (log scale)`. Points that are not finite (a diverged run)
/// are left out.
pub fn plot_losses(path: &Path, title: &str, series: &[Series]) -> Result<()> {
    let png = render(title, series)
        .map_err(|message| Error::config(format!("{}: cannot draw the plot: {message}", path.display())))?;
    atomic_write(path, &png)
}

/// The PNG bytes of the plot.
fn render(title: &str, series: &[Series]) -> std::result::Result<Vec<u8>, String> {
    register_font();
    let finite: Vec<(f32, f32)> =
        series.iter().flat_map(|s| &s.points).copied().filter(|(x, y)| x.is_finite() && y.is_finite()).collect();
    let x = padded(finite.iter().map(|p| p.0), 0.0);
    let y_lo = finite.iter().map(|p| p.1).fold(f32::INFINITY, f32::min);
    let y_hi = finite.iter().map(|p| p.1).fold(f32::NEG_INFINITY, f32::max);
    let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        if y_lo > 0.0 && y_hi / y_lo > LOG_SCALE_RATIO {
            let (lo, hi) = (y_lo / 1.25, y_hi * 1.25);
            let y = (lo..hi)
                .log_scale()
                .with_key_points(decade_multiples(lo, hi, &[1.0, 2.0, 5.0]))
                .with_light_points(decade_multiples(lo, hi, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]));
            draw_chart(&root, title, series, x, y, "loss (log scale)")?;
        } else {
            draw_chart(&root, title, series, x, padded(finite.iter().map(|p| p.1), 0.05), "loss")?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    encode_png(&rgb)
}

/// The values m·10^d inside lo..=hi for every multiplier m and decade d: a log axis's labels
/// (1, 2, 5) and grid lines (1 to 9), in every decade that the range touches.
fn decade_multiples(lo: f32, hi: f32, multipliers: &[f64]) -> Vec<f32> {
    let decades = lo.log10().floor() as i32..=hi.log10().ceil() as i32;
    decades
        .flat_map(|d| multipliers.iter().map(move |m| (m * 10f64.powi(d)) as f32))
        .filter(|v| (lo..=hi).contains(v))
        .collect()
}

/// The range of `values` widened by `margin` of its width on each side (by 1 when all are equal),
/// kept from crossing zero when every value is positive; 0..1 when there are none.
fn padded(values: impl Iterator<Item = f32>, margin: f32) -> Range<f32> {
    let (lo, hi) = values.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return 0.0..1.0;
    }
    if lo == hi {
        return lo - 1.0..hi + 1.0;
    }
    let pad = (hi - lo) * margin;
    let start = if lo >= 0.0 { (lo - pad).max(0.0) } else { lo - pad };
    start..hi + pad
}

/// Draws the axes, the curves and the legend on `root`, with `y` as the loss axis.
fn draw_chart<Y>(
    root: &DrawingArea<BitMapBackend, Shift>,
    title: &str,
    series: &[Series],
    x: Range<f32>,
    y: Y,
    y_desc: &str,
) -> std::result::Result<(), String>
where
    Y: AsRangedCoord<Value = f32>,
    Y::CoordDescType: ValueFormatter<f32>,
{
    // whole epochs only: one label per epoch while they fit
    let x_labels = ((x.end - x.start).round() as usize + 1).clamp(2, MAX_X_LABELS);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 26))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x, y)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_labels(x_labels)
        .y_desc(y_desc)
        .axis_desc_style(("sans-serif", 20))
        .label_style(("sans-serif", 16))
        .x_label_formatter(&|v| format!("{v}"))
        .draw()
        .map_err(|e| e.to_string())?;
    for (s, (colour, dash)) in series.iter().zip(line_styles(series)) {
        let style = COLOURS[colour % COLOURS.len()].stroke_width(2);
        let points = s.points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite());
        let drawn = match dash {
            Some((dash, gap)) => {
                chart.draw_series(DashedLineSeries::new(points, dash, gap, style)).map_err(|e| e.to_string())?
            }
            None => chart.draw_series(LineSeries::new(points, style)).map_err(|e| e.to_string())?,
        };
        drawn.label(s.label.as_str()).legend(move |(x, y)| {
            let (dash, gap) = dash.unwrap_or((LEGEND_LINE as u32, 0));
            DashedPathElement::new([(x, y), (x + LEGEND_LINE, y)], dash, gap, style)
        });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .legend_area_size(LEGEND_LINE + 12)
        .label_font(("sans-serif", 18))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())
}

/// Dash patterns (dash, gap) in pixels of a run's first and second evaluation curves
/// (validation and test): long dashes, then dots.
const DASHES: [(u32, u32); 2] = [(9, 5), (2, 4)];

/// The colour index and dash pattern (`None`: solid) of each series. A solid (training) curve
/// starts a run; the dashed (evaluation) curves after it are its validation and test curves,
/// told apart by their dash pattern. With one run each curve also has its own colour; with
/// several, the colour tells the run.
fn line_styles(series: &[Series]) -> Vec<(usize, Option<(u32, u32)>)> {
    let one_run = series.iter().filter(|s| !s.dashed).count() <= 1;
    let (mut run, mut nth_dashed) = (0, 0);
    series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if !s.dashed {
                run += usize::from(i > 0);
                nth_dashed = 0;
                return (if one_run { i } else { run }, None);
            }
            let dash = DASHES[nth_dashed.min(DASHES.len() - 1)];
            nth_dashed += 1;
            (if one_run { i } else { run }, Some(dash))
        })
        .collect()
}

/// RGB pixels, row by row, as PNG bytes.
fn encode_png(rgb: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// Makes the embedded Noto Sans plotters' `sans-serif` font, once per process.
fn register_font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        if plotters::style::register_font("sans-serif", FontStyle::Normal, ttf_noto_sans::REGULAR).is_err() {
            panic!("the embedded Noto Sans font is not a valid TrueType font");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_dir::TempDir;

    /// A learning curve that falls as `floor + (start − floor)·e^(−rate·epoch)`.
    fn curve(label: &str, start: f32, floor: f32, rate: f32, dashed: bool) -> Series {
        let points = (1..=30).map(|e| (e as f32, floor + (start - floor) * (-rate * e as f32).exp())).collect();
        Series { label: label.to_string(), points, dashed }
    }

    /// Checks the PNG signature and the header's size, and that the file is of a plausible size.
    fn assert_png(path: &Path) {
        let bytes = std::fs::read(path).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        assert_eq!(&bytes[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes(bytes[16..20].try_into().unwrap()), WIDTH);
        assert_eq!(u32::from_be_bytes(bytes[20..24].try_into().unwrap()), HEIGHT);
        assert!((5_000..2_000_000).contains(&bytes.len()), "{} bytes", bytes.len());
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
        let mut pixels = vec![0; decoder.output_buffer_size().unwrap()];
        decoder.next_frame(&mut pixels).unwrap();
        assert!(pixels.iter().any(|&p| p < 128), "the picture is blank");
    }

    #[test]
    fn plot_one_series_writes_a_png() {
        let dir = TempDir::new("plot-one");
        let path = dir.path().join("loss.png");
        plot_losses(&path, "one run", &[curve("train", 1.0, 0.4, 0.2, false)]).unwrap();
        assert_png(&path);
    }

    #[test]
    fn plot_three_series_writes_a_png() {
        let dir = TempDir::new("plot-three");
        let path = dir.path().join("compare.png");
        let series = [
            curve("η = 0.5", 1.0, 0.30, 0.6, false),
            curve("η = 0.1", 1.0, 0.20, 0.2, false),
            curve("η = 0.02", 1.0, 0.15, 0.05, true),
        ];
        plot_losses(&path, "train loss for three learning rates", &series).unwrap();
        assert_png(&path);
        assert!(!dir.path().read_dir().unwrap().any(|e| e.unwrap().file_name().to_string_lossy().contains("tmp")));
    }

    #[test]
    fn plot_with_log_scale_writes_a_png() {
        let dir = TempDir::new("plot-log");
        let path = dir.path().join("loss.png");
        let series = [curve("train", 3.0, 1e-3, 0.4, false), curve("test", 3.5, 2e-2, 0.3, true)];
        plot_losses(&path, "log scale", &series).unwrap();
        assert_png(&path);
    }

    #[test]
    fn validation_and_test_differ_in_colour_and_dash() {
        let one = [
            curve("train", 1.0, 0.4, 0.2, false),
            curve("val", 1.0, 0.4, 0.2, true),
            curve("test", 1.0, 0.4, 0.2, true),
        ];
        let styles = line_styles(&one);
        assert_eq!(styles, [(0, None), (1, Some(DASHES[0])), (2, Some(DASHES[1]))]);
        // two runs: the colour tells the run, the dash the set
        let two: Vec<Series> = one.iter().chain(&one).cloned().collect();
        let styles = line_styles(&two);
        assert_eq!(styles[1..3], [(0, Some(DASHES[0])), (0, Some(DASHES[1]))]);
        assert_eq!(styles[3..], [(1, None), (1, Some(DASHES[0])), (1, Some(DASHES[1]))]);
    }

    #[test]
    fn log_axis_labels_are_1_2_5_in_every_decade_of_the_range() {
        assert_eq!(decade_multiples(0.03, 0.9, &[1.0, 2.0, 5.0]), [0.05, 0.1, 0.2, 0.5]);
        assert_eq!(decade_multiples(0.001, 0.0011, &[1.0, 2.0, 5.0]), [0.001]);
    }

    #[test]
    fn plot_skips_non_finite_and_empty_series() {
        let dir = TempDir::new("plot-nan");
        let path = dir.path().join("loss.png");
        let diverged = Series { label: "diverged".into(), points: vec![(1.0, 2.0), (2.0, f32::NAN)], dashed: false };
        let empty = Series { label: "empty".into(), points: vec![], dashed: true };
        plot_losses(&path, "diverged", &[diverged, empty]).unwrap();
        assert_png(&path);
    }

    #[test]
    fn loss_series_of_rows() {
        let rows: Vec<EpochReport> = (1..=3)
            .map(|epoch| EpochReport {
                epoch,
                lr: 0.1,
                train_loss: 1.0,
                penalty: 0.0,
                val_loss: None,
                val_accuracy: None,
                test_loss: (epoch > 1).then_some(2.0),
                test_accuracy: None,
                val_regression: None,
                test_regression: None,
                seconds: 1.0,
            })
            .collect();
        let series = loss_series(&rows, "η = 0.1");
        assert_eq!(series.len(), 2);
        assert_eq!((series[0].label.as_str(), series[0].dashed, series[0].points.len()), ("η = 0.1 train", false, 3));
        assert_eq!((series[1].label.as_str(), series[1].dashed), ("η = 0.1 test", true));
        assert_eq!(series[1].points, [(2.0, 2.0), (3.0, 2.0)]);
    }
}
