//! `cargo xtask bench --chart`: throughput against concurrency, one panel per workload, for
//! ordo, pgbench on the same SQL and, when measured, the peer.
#![allow(
    clippy::disallowed_types,
    clippy::float_arithmetic,
    clippy::as_conversions,
    clippy::cast_precision_loss,
    reason = "a chart of measured rates, never money"
)]

use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;
use serde_json::Value;

/// (clients, requests/s) points of one line.
type Points = Vec<(f64, f64)>;

/// The series drawn in every panel: the row-name prefix in `latest.json`, label and colour.
const SERIES: [(&str, &str, RGBColor); 3] = [
    ("", "ordo", RGBColor(0xc0, 0x39, 0x2b)),
    ("pgbench:", "pgbench, same SQL", RGBColor(0x29, 0x80, 0xb9)),
    (
        "peer:",
        "peer (Platformatic DB)",
        RGBColor(0x7f, 0x8c, 0x8d),
    ),
];

/// Writes an SVG of requests/s against clients for each workload in `rows`.
pub(crate) fn write(rows: &[Value], workloads: &[&str], path: &Path) -> Result<()> {
    let mut clients: Vec<f64> = rows
        .iter()
        .filter_map(|row| row["concurrency"].as_f64())
        .collect();
    clients.sort_by(f64::total_cmp);
    clients.dedup();
    let root = SVGBackend::new(path, (1200, 900)).into_drawing_area();
    root.fill(&WHITE).map_err(draw)?;
    let root = root
        .titled("requests/s against concurrent clients", ("sans-serif", 24))
        .map_err(draw)?;
    let panels = root.split_evenly((2, 2));
    for (workload, panel) in workloads.iter().zip(panels.iter()) {
        let series: Vec<(&str, RGBColor, Points)> = SERIES
            .iter()
            .map(|(prefix, label, colour)| {
                let name = format!("{prefix}{workload}");
                (*label, *colour, points(rows, &name))
            })
            .filter(|(_, _, points)| !points.is_empty())
            .collect();
        let top = series
            .iter()
            .flat_map(|(_, _, points)| points.iter().map(|(_, rps)| *rps))
            .fold(0.0, f64::max)
            * 1.4;
        let mut chart = ChartBuilder::on(panel)
            .caption(*workload, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            // Clients on a log scale, ticked where they were measured; headroom above for the legend.
            .build_cartesian_2d(
                (0.8_f64..80.0)
                    .log_scale()
                    .with_key_points(clients.clone()),
                0.0..top.max(1.0),
            )
            .map_err(draw)?;
        chart
            .configure_mesh()
            .x_desc("clients")
            .y_desc("req/s")
            .x_label_formatter(&|clients| format!("{clients:.0}"))
            .y_label_formatter(&|rps| format!("{rps:.0}"))
            .draw()
            .map_err(draw)?;
        for (label, colour, points) in series {
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
                .map_err(draw)?
                .label(label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour));
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|point| Circle::new(point, 3, colour.filled())),
                )
                .map_err(draw)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(draw)?;
    }
    root.present().map_err(draw)?;
    Ok(())
}

/// (clients, requests/s) of the rows named `name`, by clients.
fn points(rows: &[Value], name: &str) -> Points {
    let mut points: Points = rows
        .iter()
        .filter(|row| row["workload"] == name)
        .filter_map(|row| Some((row["concurrency"].as_f64()?, row["rps"].as_f64()?)))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points
}

fn draw<E: std::error::Error + Send + Sync + 'static>(
    error: DrawingAreaErrorKind<E>,
) -> anyhow::Error {
    anyhow::Error::new(error).context("cannot draw the chart")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{points, write};

    #[test]
    fn each_workload_gets_a_panel_with_every_measured_series() {
        let rows: Vec<_> = [1, 8]
            .into_iter()
            .flat_map(|clients| {
                [
                    json!({"workload": "get", "concurrency": clients, "rps": 1000.0 * f64::from(clients)}),
                    json!({"workload": "pgbench:get", "concurrency": clients, "rps": 2000.0}),
                    json!({"workload": "list", "concurrency": clients, "rps": 500.0}),
                    json!({"workload": "pgbench:list", "concurrency": clients, "rps": 800.0}),
                ]
            })
            .collect();
        let path = std::env::temp_dir().join(format!("ordo-chart-{}.svg", std::process::id()));
        write(&rows, &["get", "list"], &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(svg.starts_with("<svg"));
        for text in [
            "get",
            "list",
            "ordo",
            "pgbench, same SQL",
            "clients",
            "8000",
        ] {
            assert!(
                svg.contains(&format!(">\n{text}\n</text>")),
                "{text} missing"
            );
        }
        // No peer rows, no peer series.
        assert!(!svg.contains("Platformatic"));
        assert_eq!(points(&rows, "get"), vec![(1.0, 1000.0), (8.0, 8000.0)]);
    }
}
