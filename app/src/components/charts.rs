//! Line charts as SVG coordinates, computed in Rust so the server renders finished charts
//! (plain `<svg>` in the HTML: readable without the WASM, no chart library in the bundle). Pure
//! functions only: a [`Frame`] (the drawing's size and margins), the [`Range`] of the data, a
//! [`Scale`] from data to drawing, and [`path`] that draws points as an SVG path. The views
//! that put these into `<svg>` elements are the pages' (see `pages::canary_report`).
//!
//! Values that are not finite (Prometheus' NaN, a missing number) are left out: a line stops
//! at a gap and starts again after it, rather than being drawn to a made-up value.

/// The drawing's size (its `viewBox`) and the margins around the plot, kept for axis labels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

impl Frame {
    /// The plot's left and right edges, in drawing units.
    pub fn x_span(&self) -> (f64, f64) {
        (self.left, self.width - self.right)
    }

    /// The plot's top and bottom edges (SVG's y grows downward).
    pub fn y_span(&self) -> (f64, f64) {
        (self.top, self.height - self.bottom)
    }

    /// The `viewBox` attribute.
    pub fn view_box(&self) -> String {
        format!("0 0 {} {}", coordinate(self.width), coordinate(self.height))
    }
}

/// The smallest and largest of some values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

impl Range {
    /// The range of the finite values; `None` when there is none.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Self> {
        values.into_iter().filter(|value| value.is_finite()).fold(None, |range, value| match range {
            None => Some(Self { min: value, max: value }),
            Some(Self { min, max }) => Some(Self { min: min.min(value), max: max.max(value) }),
        })
    }

    /// The range with room around a single value (a flat series is drawn across the middle,
    /// not divided by zero): ±1, or ±10 % of the value when that is more.
    pub fn widened(self) -> Self {
        if self.max > self.min {
            return self;
        }
        let room = (self.min.abs() / 10.0).max(1.0);
        Self { min: self.min - room, max: self.max + room }
    }

    fn fraction(&self, value: f64) -> f64 {
        (value - self.min) / (self.max - self.min)
    }
}

/// Data to drawing coordinates: `x` left to right, `y` bottom to top, inside the frame's plot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub frame: Frame,
    pub x: Range,
    pub y: Range,
}

impl Scale {
    pub fn new(frame: Frame, x: Range, y: Range) -> Self {
        Self { frame, x: x.widened(), y: y.widened() }
    }

    pub fn x(&self, value: f64) -> f64 {
        let (left, right) = self.frame.x_span();
        left + self.x.fraction(value) * (right - left)
    }

    pub fn y(&self, value: f64) -> f64 {
        let (top, bottom) = self.frame.y_span();
        bottom - self.y.fraction(value) * (bottom - top)
    }

    /// A data point in drawing coordinates; `None` when either value is not finite.
    pub fn point(&self, (x, y): (f64, f64)) -> Option<(f64, f64)> {
        (x.is_finite() && y.is_finite()).then(|| (self.x(x), self.y(y)))
    }
}

/// An SVG path (`d`) through the points in order: `M` starts it and every run after a gap,
/// `L` joins the rest; a point alone between gaps gets `h0`, which a round line cap draws as a
/// dot. Empty when no point is finite.
pub fn path(scale: &Scale, points: &[(f64, f64)]) -> String {
    let mut d = String::new();
    // Points in the current run.
    let mut run = 0;
    for point in points {
        match scale.point(*point) {
            Some((x, y)) => {
                if !d.is_empty() {
                    d.push(' ');
                }
                d.push(if run > 0 { 'L' } else { 'M' });
                d.push_str(&coordinate(x));
                d.push(',');
                d.push_str(&coordinate(y));
                run += 1;
            }
            None => {
                if run == 1 {
                    d.push_str(" h0");
                }
                run = 0;
            }
        }
    }
    if run == 1 {
        d.push_str(" h0");
    }
    d
}

/// A drawing coordinate with one decimal, without a trailing `.0` (`12.5`, `40`).
pub fn coordinate(value: f64) -> String {
    let tenths = (value * 10.0).round() / 10.0;
    // `-0` would print as "-0".
    if tenths == 0.0 { "0".into() } else { format!("{tenths}") }
}

/// A line chart of several series over shared ranges: the paths (one per series, in order, each
/// empty when that series has no finite point) and the ranges the axes are labelled with
/// (`None` when no series has a finite point: an empty chart).
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub paths: Vec<String>,
    pub x: Option<Range>,
    pub y: Option<Range>,
}

pub fn line_chart(frame: Frame, series: &[&[(f64, f64)]]) -> LineChart {
    let finite = || series.iter().flat_map(|points| points.iter()).filter(|(x, y)| x.is_finite() && y.is_finite());
    let (Some(x), Some(y)) = (Range::of(finite().map(|(x, _)| *x)), Range::of(finite().map(|(_, y)| *y))) else {
        return LineChart { paths: vec![String::new(); series.len()], x: None, y: None };
    };
    let scale = Scale::new(frame, x, y);
    LineChart { paths: series.iter().map(|points| path(&scale, points)).collect(), x: Some(x), y: Some(y) }
}

/// A score chart: scores (0 to 100) by interval, with the pass and marginal thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreChart {
    pub scale: Scale,
    pub path: String,
    /// Each finite score's dot: its interval, score and drawing coordinates.
    pub dots: Vec<Dot>,
    /// The thresholds' heights, in drawing coordinates.
    pub pass_y: f64,
    pub marginal_y: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dot {
    pub interval: f64,
    pub score: f64,
    pub x: f64,
    pub y: f64,
}

/// `scores` are `(interval, score)`; the y axis is always 0 to 100, the x axis the intervals
/// shown (a single interval in the middle).
pub fn score_chart(frame: Frame, scores: &[(f64, f64)], pass: f64, marginal: f64) -> ScoreChart {
    let x = Range::of(scores.iter().filter(|(_, score)| score.is_finite()).map(|(interval, _)| *interval)).unwrap_or(Range { min: 1.0, max: 1.0 });
    let scale = Scale::new(frame, x, Range { min: 0.0, max: 100.0 });
    let dots = scores
        .iter()
        .filter_map(|&(interval, score)| scale.point((interval, score)).map(|(x, y)| Dot { interval, score, x, y }))
        .collect();
    ScoreChart { path: path(&scale, scores), dots, pass_y: scale.y(pass.clamp(0.0, 100.0)), marginal_y: scale.y(marginal.clamp(0.0, 100.0)), scale }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: Frame = Frame { width: 200.0, height: 100.0, left: 20.0, right: 10.0, top: 10.0, bottom: 20.0 };

    /// The coordinates of a path's points, in order.
    fn coordinates(d: &str) -> Vec<(f64, f64)> {
        d.split(' ')
            .filter(|command| *command != "h0")
            .map(|command| {
                let (x, y) = command[1..].split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn coordinates_scale_into_the_plot() {
        let chart = line_chart(FRAME, &[&[(0.0, 0.0), (5.0, 50.0), (10.0, 100.0)]]);
        assert_eq!(chart.paths[0], "M20,80 L105,45 L190,10");
        assert_eq!(chart.x, Some(Range { min: 0.0, max: 10.0 }));
        assert_eq!(chart.y, Some(Range { min: 0.0, max: 100.0 }));
        for (x, y) in coordinates(&chart.paths[0]) {
            assert!((20.0..=190.0).contains(&x) && (10.0..=80.0).contains(&y), "({x}, {y}) is outside the plot");
        }
    }

    #[test]
    fn series_share_their_ranges() {
        let chart = line_chart(FRAME, &[&[(0.0, 1.0), (10.0, 1.0)], &[(0.0, 3.0), (10.0, 5.0)]]);
        assert_eq!(chart.y, Some(Range { min: 1.0, max: 5.0 }));
        // The control's flat line at 1 is the bottom of the plot, the experiment's 5 its top.
        assert_eq!(chart.paths[0], "M20,80 L190,80");
        assert_eq!(chart.paths[1], "M20,45 L190,10");
    }

    #[test]
    fn empty_input_gives_an_empty_chart() {
        let chart = line_chart(FRAME, &[&[], &[]]);
        assert_eq!(chart, LineChart { paths: vec![String::new(), String::new()], x: None, y: None });
        let only_nan = line_chart(FRAME, &[&[(1.0, f64::NAN)], &[(f64::NAN, 2.0)]]);
        assert_eq!(only_nan.x, None);
        assert!(only_nan.paths.iter().all(String::is_empty));
        let scores = score_chart(FRAME, &[], 75.0, 50.0);
        assert!(scores.path.is_empty() && scores.dots.is_empty());
    }

    #[test]
    fn nan_is_skipped_and_breaks_the_line() {
        let chart = line_chart(FRAME, &[&[(0.0, 0.0), (1.0, f64::NAN), (2.0, 10.0), (3.0, 10.0), (f64::INFINITY, 5.0)]]);
        assert_eq!(chart.x, Some(Range { min: 0.0, max: 3.0 }));
        assert_eq!(chart.paths[0], "M20,80 h0 M133.3,10 L190,10");
        assert!(!chart.paths[0].contains("NaN") && !chart.paths[0].contains("inf"));
    }

    #[test]
    fn a_flat_or_single_point_series_is_drawn_in_the_middle() {
        let chart = line_chart(FRAME, &[&[(5.0, 7.0)]]);
        assert_eq!(chart.paths[0], "M105,45 h0");
        let flat = line_chart(FRAME, &[&[(0.0, 0.0), (10.0, 0.0)]]);
        assert_eq!(flat.paths[0], "M20,45 L190,45");
    }

    #[test]
    fn scores_are_drawn_on_0_to_100_with_the_thresholds() {
        let chart = score_chart(FRAME, &[(1.0, 100.0), (2.0, f64::NAN), (3.0, 50.0)], 75.0, 50.0);
        assert_eq!(chart.path, "M20,10 h0 M190,45 h0");
        assert_eq!(chart.dots.len(), 2);
        assert_eq!((chart.dots[1].interval, chart.dots[1].score, chart.dots[1].x, chart.dots[1].y), (3.0, 50.0, 190.0, 45.0));
        assert_eq!((chart.pass_y, chart.marginal_y), (27.5, 45.0));
        let one = score_chart(FRAME, &[(1.0, 0.0)], 120.0, -5.0);
        assert_eq!((one.dots[0].x, one.dots[0].y), (105.0, 80.0));
        assert_eq!((one.pass_y, one.marginal_y), (10.0, 80.0));
    }

    #[test]
    fn coordinates_print_with_one_decimal() {
        assert_eq!(coordinate(12.0), "12");
        assert_eq!(coordinate(12.345), "12.3");
        assert_eq!(coordinate(-0.01), "0");
        assert_eq!(FRAME.view_box(), "0 0 200 100");
    }
}
