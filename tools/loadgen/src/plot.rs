//! `--plot out.svg`: latency by percentile, deliveries/s and p99 over time.

use std::path::Path;

use plotters::prelude::*;

use crate::report::Report;

/// Percentile axis: x = -log10(1 - q), so 90 %, 99 %, 99.9 % are evenly spaced.
fn percentile_label(x: f64) -> String {
    let q = 100.0 * (1.0 - 10f64.powf(-x));
    if q < 99.0 {
        format!("{q:.0}%")
    } else {
        let digits = (x - 2.0).round().max(0.0) as usize;
        format!("{q:.digits$}%")
    }
}

pub fn write_svg(path: &Path, report: &Report) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1000, 960)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!(
        "loadgen {}: {} connections, {} deliveries, {} lost, {} duplicated",
        report.scenario,
        report.connections_held,
        report.deliveries_seen,
        report.lost,
        report.duplicated
    );
    let root = root.titled(&title, ("sans-serif", 20))?;
    let panels = root.split_evenly((3, 1));
    let h = &report.histogram;

    // 1. Latency by percentile.
    let x_max = if h.len() >= 10_000 {
        4.0
    } else if h.len() >= 1000 {
        3.0
    } else {
        2.0
    };
    let points: Vec<(f64, f64)> = (0..=(x_max * 50.0) as u32)
        .map(|i| {
            let x = f64::from(i) / 50.0;
            let q = (1.0 - 10f64.powf(-x)).clamp(0.0, 1.0);
            (x, h.value_at_quantile(q) as f64 / 1000.0)
        })
        .collect();
    let y_max = (h.max() as f64 / 1000.0).max(1.0) * 1.05;
    let mut chart = ChartBuilder::on(&panels[0])
        .caption(
            "delivery latency by percentile (send → message)",
            ("sans-serif", 16),
        )
        .margin(10)
        .margin_right(40)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_labels(x_max as usize + 1)
        .x_label_formatter(&|x| percentile_label(*x))
        .y_desc("ms")
        .draw()?;
    if !h.is_empty() {
        chart.draw_series(LineSeries::new(points, &BLUE))?;
    }

    // 2. Deliveries per second over time. 3. p99 per second over time.
    let t_max = report.series.last().map_or(1.0, |p| p.t_s).max(1.0);
    let rate_max = report
        .series
        .iter()
        .map(|p| p.deliveries_per_s)
        .fold(1.0, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(&panels[1])
        .caption("deliveries per second", ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..t_max, 0f64..rate_max)?;
    chart.configure_mesh().x_desc("s").draw()?;
    chart.draw_series(LineSeries::new(
        report.series.iter().map(|p| (p.t_s, p.deliveries_per_s)),
        &GREEN,
    ))?;

    let p99_max = report
        .series
        .iter()
        .filter_map(|p| p.p99_ms)
        .fold(1.0, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(&panels[2])
        .caption("p99 latency per second", ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..t_max, 0f64..p99_max)?;
    chart.configure_mesh().x_desc("s").y_desc("ms").draw()?;
    chart.draw_series(LineSeries::new(
        report
            .series
            .iter()
            .filter_map(|p| Some((p.t_s, p.p99_ms?))),
        &RED,
    ))?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_labels() {
        assert_eq!(percentile_label(0.0), "0%");
        assert_eq!(percentile_label(1.0), "90%");
        assert_eq!(percentile_label(2.0), "99%");
        assert_eq!(percentile_label(3.0), "99.9%");
        assert_eq!(percentile_label(4.0), "99.99%");
    }
}
