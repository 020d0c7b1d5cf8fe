//! SVG plots of λ_M against T_D, one per scenario.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use crate::suite::{ContenderResult, ScenarioResult};

const COLORS: [RGBColor; 7] = [
    RGBColor(0x44, 0x44, 0x44),
    RGBColor(0x17, 0xbe, 0xcf),
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0xd6, 0x27, 0x28),
];

/// The points of `c`'s sweep curve that can be drawn on log axes: finite, positive mean
/// detection time (x) and the mistake rate, raised to `floor` (y), sorted by x.
fn points(c: &ContenderResult, floor: f64) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = c
        .curve
        .iter()
        .filter(|p| p.quality.detection_mean.is_finite() && p.quality.detection_mean > 0.0)
        .map(|p| (p.quality.detection_mean, p.quality.mistake_rate.max(floor)))
        .filter(|p| p.1.is_finite())
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

/// The mistake-rate floor of the plot: half a mistake per the longest measured span, at most
/// 0.01/h (and 0.01/h without a measured span).
fn floor(result: &ScenarioResult) -> f64 {
    result
        .contenders
        .iter()
        .flat_map(|c| c.curve.iter())
        .map(|p| 0.5 / p.quality.hours)
        .filter(|f| f.is_finite() && *f > 0.0)
        .fold(1e-2, f64::min)
}

/// Whether [`draw`] has anything to draw for `result`: some sweep setting with a finite
/// detection time. Without one (every replay too short to measure), there is no plot.
pub fn drawable(result: &ScenarioResult) -> bool {
    let floor = floor(result);
    result.contenders.iter().any(|c| !points(c, floor).is_empty())
}

/// Draws `result`'s sweep curves (trace A) into `path`: mean detection time on the x axis,
/// mistakes per hour on the y axis (both logarithmic), the targets as horizontal lines.
/// Settings with no mistake are drawn at half a mistake per measured span, on the floor.
/// Returns `false`, writing nothing, when there is nothing to draw ([`drawable`]); the axes
/// are built from finite, positive bounds only.
pub fn draw(result: &ScenarioResult, path: &Path) -> Result<bool> {
    let floor = floor(result);
    let all: Vec<(f64, f64)> = result.contenders.iter().flat_map(|c| points(c, floor)).collect();
    if all.is_empty() {
        return Ok(false);
    }
    let x_min = all.iter().map(|p| p.0).fold(f64::INFINITY, f64::min).max(1e-3);
    let x_max = all.iter().map(|p| p.0).fold(0.0, f64::max).max(x_min * 2.0);
    let y_max = all.iter().map(|p| p.1).fold(1.0, f64::max) * 2.0;
    if ![x_min, x_max, y_max].iter().all(|v| v.is_finite() && *v > 0.0) {
        return Ok(false);
    }

    let root = SVGBackend::new(path, (900, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{}: mistakes per hour against mean detection time (trace A)", result.name),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d((x_min * 0.9..x_max * 1.1).log_scale(), (floor * 0.8..y_max).log_scale())
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc("mean detection time T_D (s)")
        .y_desc("mistakes per hour λ_M")
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for target in result.hindsight.iter().map(|(t, _)| *t) {
        chart
            .draw_series(LineSeries::new([(x_min * 0.9, target), (x_max * 1.1, target)], BLACK.mix(0.3)))
            .map_err(|e| anyhow!("{e}"))?;
    }
    for (i, c) in result.contenders.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts = points(c, floor);
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(|e| anyhow!("{e}"))?
            .label(c.contender.name())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
        chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled()))).map_err(|e| anyhow!("{e}"))?;
    }
    chart
        .configure_series_labels()
        .border_style(BLACK.mix(0.3))
        .background_style(WHITE.mix(0.9))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(true)
}
