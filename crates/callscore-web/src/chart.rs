//! The score-trend chart, drawn as SVG on the server: a few dozen elements, no script, and it
//! prints and screenshots like the rest of the page.

use callscore_store::browse::TrendPoint;
use maud::{html, Markup};
use time::macros::format_description;
use time::Date;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 36.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

fn day_number(day: &str) -> Option<i32> {
    Date::parse(day, format_description!("[year]-[month]-[day]"))
        .ok()
        .map(|d| d.to_julian_day())
}

/// Where each point goes: x by date (so gaps between days show as gaps), y by average score.
fn layout(points: &[TrendPoint]) -> Vec<(f64, f64)> {
    let days: Vec<Option<i32>> = points.iter().map(|p| day_number(&p.day)).collect();
    let known: Vec<i32> = days.iter().flatten().copied().collect();
    let (first, last) = (known.iter().min().copied(), known.iter().max().copied());
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    points
        .iter()
        .zip(&days)
        .enumerate()
        .map(|(i, (p, day))| {
            let frac = match (day, first, last) {
                (Some(d), Some(a), Some(b)) if b > a => f64::from(d - a) / f64::from(b - a),
                // One day, or unreadable dates: spread evenly by position.
                _ if points.len() > 1 => i as f64 / (points.len() - 1) as f64,
                _ => 0.5,
            };
            let y = TOP + plot_h * (1.0 - p.average_score.clamp(0.0, 100.0) / 100.0);
            (LEFT + plot_w * frac, y)
        })
        .collect()
}

/// A line of daily average scores with a dot per day (bigger for busier days; hovering shows
/// the day's numbers).
pub(crate) fn trend_svg(points: &[TrendPoint], title: &str) -> Markup {
    let at = layout(points);
    let line: String = at
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ");
    let plot_h = HEIGHT - TOP - BOTTOM;
    let y_of = |score: f64| TOP + plot_h * (1.0 - score / 100.0);
    let labels: Vec<(f64, &str)> = match (points.first(), points.last()) {
        (Some(a), Some(b)) if points.len() > 1 => vec![
            (at[0].0, a.day.as_str()),
            (at[at.len() - 1].0, b.day.as_str()),
        ],
        (Some(a), _) => vec![(at[0].0, a.day.as_str())],
        _ => vec![],
    };
    html! {
        svg.trend viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label=(title) xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            @for score in [0.0, 25.0, 50.0, 75.0, 100.0] {
                line.grid x1=(LEFT) x2=(WIDTH - RIGHT) y1=(format!("{:.1}", y_of(score))) y2=(format!("{:.1}", y_of(score))) {}
                text.axis x=(LEFT - 6.0) y=(format!("{:.1}", y_of(score) + 4.0)) text-anchor="end" { (score) }
            }
            @if at.len() > 1 { polyline.line points=(line) {} }
            @for (p, (x, y)) in points.iter().zip(&at) {
                circle.dot cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r=(format!("{:.1}", (2.5 + (p.calls as f64).sqrt()).min(7.0))) {
                    title { (p.day) ": " (p.calls) (if p.calls == 1 { " call" } else { " calls" }) ", average " (format!("{:.0}", p.average_score)) ", " (p.passed) " passed" }
                }
            }
            @for (i, (x, day)) in labels.iter().enumerate() {
                text.axis x=(format!("{x:.1}")) y=(HEIGHT - 8.0) text-anchor=(if labels.len() == 1 { "middle" } else if i == 0 { "start" } else { "end" }) { (day) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(day: &str, score: f64) -> TrendPoint {
        TrendPoint {
            day: day.into(),
            calls: 2,
            average_score: score,
            passed: 1,
        }
    }

    #[test]
    fn points_sit_by_date_and_score() {
        let at = layout(&[
            p("2024-03-01", 100.0),
            p("2024-03-02", 50.0),
            p("2024-03-11", 0.0),
        ]);
        let plot_w = WIDTH - LEFT - RIGHT;
        assert_eq!(at[0], (LEFT, TOP));
        assert!(
            (at[1].0 - (LEFT + plot_w * 0.1)).abs() < 1e-9,
            "one day of ten along"
        );
        assert_eq!(at[2], (WIDTH - RIGHT, HEIGHT - BOTTOM));
        assert_eq!(layout(&[p("2024-03-01", 50.0)])[0].0, LEFT + plot_w / 2.0);
    }

    #[test]
    fn the_svg_is_escaped_and_complete() {
        let svg = trend_svg(
            &[p("2024-03-01", 80.0), p("2024-03-05", 60.0)],
            "Trend for <b>Gary</b>",
        )
        .into_string();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("&lt;b&gt;Gary"));
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("<polyline"));
    }
}
