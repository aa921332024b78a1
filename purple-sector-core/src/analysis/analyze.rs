//! [`analyze`]: one lap against a reference, from frames to the fact table.

use super::attribution::attribute;
use super::corners::{detect_corners_with, pair_windows, segments};
use super::delta::Delta;
use super::error::{AnalysisError, LapRole};
use super::metrics::{
    corner_metrics_with, search_ends_m, segment_losses, turn_in_threshold_deg_with,
};
use super::thresholds::Thresholds;
use super::trace::LapTrace;
use super::{Analysis, Corner, CornerReport, PhaseLosses, SpeedGap};
use crate::lap::Lap;
use crate::telemetry::Frame;

/// Analyses one lap's frames against a reference's: both on the reference's distance grid
/// ([`LapTrace`]), the [`Delta`], the corners found on the reference (a
/// [`crate::track::TrackMap`] of it alone; [`crate::review::compare`] uses the track's
/// stored map), each corner's metrics for both laps, the time lost per corner and per
/// straight, and the time each corner explains ([`super::attribute`]).
///
/// `lap_official_ms` and `reference_official_ms` are the official lap times when known
/// ([`Lap::time`]); `None` takes the lap clock of the last frame. The delta at
/// the line, [`Analysis::gap_s`], equals the difference of those two times. Everything is
/// measured with the default [`Thresholds`]; two laps whose lengths differ by more than
/// [`Thresholds::max_length_mismatch`] (5 %) are not compared.
///
/// ```
/// use purple_sector_core::analysis::analyze;
/// use purple_sector_core::sim::{MistakeKind, Mistake, SimConfig, Simulator, Track};
/// use purple_sector_core::telemetry::Frame;
///
/// // Two flying laps of the 1.3 km test track, the second braking 30 m early into T3.
/// let mut config = SimConfig::new(Track::test_circuit());
/// config.laps = 2;
/// config.mistakes = vec![Mistake::new(3, "T3", MistakeKind::EarlyBraking, 30.0)];
/// let mut sim = Simulator::new(config);
/// let mut laps: Vec<Vec<Frame>> = vec![Vec::new(); 4];
/// while let Some(step) = sim.step() {
///     let n = step.car_info.lap_count as usize; // frames of lap n + 1
///     laps[n].push(Frame::from_owned_car_info(&step.car_info, step.sim_time_ns));
/// }
/// let official = |lap: usize| Some(sim.lap_reports()[lap - 1].reported_ms);
///
/// let analysis = analyze(&laps[2], official(3), &laps[1], official(2))?;
/// let gap_ms = official(3).unwrap() - official(2).unwrap();
/// assert!((analysis.gap_s * 1000.0 - f64::from(gap_ms)).abs() < 1e-6);
/// let sum: f64 = analysis.segments.iter().map(|s| s.time_loss_s).sum();
/// assert!((sum - analysis.gap_s).abs() < 1e-9);
/// // The most time went in the corner around the track's T3.
/// let hairpin = sim.config().track.corner("T3").unwrap().apex_m;
/// let worst = analysis
///     .corners
///     .iter()
///     .max_by(|a, b| a.time_loss_s.total_cmp(&b.time_loss_s))
///     .unwrap();
/// assert!(worst.corner.start_m <= hairpin && hairpin <= worst.corner.end_m);
/// # Ok::<(), purple_sector_core::analysis::AnalysisError>(())
/// ```
pub fn analyze(
    lap: &[Frame],
    lap_official_ms: Option<i32>,
    reference: &[Frame],
    reference_official_ms: Option<i32>,
) -> Result<Analysis, AnalysisError> {
    let thresholds = Thresholds::default();
    let reference = LapTrace::build(reference, reference_official_ms, None, &thresholds)
        .map_err(|e| e.with_role(LapRole::Reference))?;
    let lap = LapTrace::build(
        lap,
        lap_official_ms,
        Some(reference.length_m()),
        &thresholds,
    )
    .map_err(|e| e.with_role(LapRole::Lap))?;
    let mismatch = (lap.measured_length_m() / reference.length_m() - 1.0).abs();
    if mismatch > thresholds.max_length_mismatch {
        return Err(AnalysisError::LengthMismatch {
            lap_m: lap.measured_length_m(),
            reference_m: reference.length_m(),
        });
    }
    let corners = detect_corners_with(&reference, &thresholds);
    Ok(analyze_traces_with(
        &lap,
        &reference,
        &corners,
        &thresholds,
        true,
    ))
}

/// [`analyze`] for two stored laps, each timed by its official time when it has one.
pub fn analyze_laps(lap: &Lap, reference: &Lap) -> Result<Analysis, AnalysisError> {
    analyze(
        &lap.frames,
        lap.time_ms(),
        &reference.frames,
        reference.time_ms(),
    )
}

/// The analysis of two traces already on the same grid (the lap built
/// [`LapTrace::with_length`] the reference's length, or both on a map's length) at given
/// corners (a [`crate::track::TrackMap`]'s, or [`super::detect_corners`] of the reference;
/// pass the same corners to compare several laps with one reference). Each corner's window
/// starts at the earlier of the map's start and the two laps' own onsets
/// ([`super::pair_windows`]), so swapping the lap and the reference flips the sign of every
/// segment and nothing else. The corner metrics use the default [`Thresholds`].
pub fn analyze_traces(lap: &LapTrace, reference: &LapTrace, corners: &[Corner]) -> Analysis {
    analyze_traces_with(lap, reference, corners, &Thresholds::default(), true)
}

/// [`analyze_traces`] with the given thresholds; `pair` moves the windows to the two laps'
/// onsets ([`pair_windows`]), else they are used as given.
fn analyze_traces_with(
    lap: &LapTrace,
    reference: &LapTrace,
    corners: &[Corner],
    thresholds: &Thresholds,
    pair: bool,
) -> Analysis {
    let windows = if pair {
        pair_windows(corners, &[reference, lap], thresholds)
    } else {
        corners.to_vec()
    };
    let delta = Delta::new(lap, reference);
    let ends = search_ends_m(&windows, reference.length_m());
    let mut reports: Vec<CornerReport> = windows
        .iter()
        .zip(&ends)
        .map(|(corner, &end)| {
            let threshold = turn_in_threshold_deg_with(reference, corner, thresholds);
            CornerReport {
                corner: corner.clone(),
                time_loss_s: delta.lost_between(corner.start_m, corner.end_m),
                attributed_loss_s: 0.0,
                phases: PhaseLosses::default(),
                slower_at: None,
                faster_at: None,
                lap: corner_metrics_with(lap, corner, end, threshold, thresholds),
                reference: corner_metrics_with(reference, corner, end, threshold, thresholds),
            }
        })
        .collect();
    for report in &mut reports {
        let until = report.lap.apex_m.max(report.reference.apex_m);
        (report.slower_at, report.faster_at) =
            speed_gaps(lap, reference, report.corner.start_m, until);
    }
    let cut = segments(&windows, reference.length_m());
    let attribution = attribute(lap, reference, &delta, &reports, &cut);
    for (report, phases) in reports.iter_mut().zip(&attribution.corners) {
        report.phases = *phases;
        report.attributed_loss_s = phases.total_s();
    }
    let mut losses = segment_losses(&delta, &windows);
    for (segment, own) in losses.iter_mut().zip(&attribution.segments) {
        segment.own_loss_s = *own;
    }
    Analysis {
        track_length_m: reference.length_m(),
        lap_time_ms: lap.lap_time_ms(),
        reference_lap_time_ms: reference.lap_time_ms(),
        gap_s: delta.at_line(),
        corners: reports,
        segments: losses,
        start_speed_kmh: lap.speed_kmh().first().map_or(0.0, |&v| f64::from(v)),
        reference_start_speed_kmh: reference.speed_kmh().first().map_or(0.0, |&v| f64::from(v)),
        from_line_loss_s: attribution.from_line_s,
        follows_previous_lap: false,
        lap_kind: None,
        reference_kind: None,
    }
}

/// The places between `start_m` and `end_m` where `lap` was slowest and fastest against
/// `reference` (same grid), if it was slower or faster there at all.
fn speed_gaps(
    lap: &LapTrace,
    reference: &LapTrace,
    start_m: f64,
    end_m: f64,
) -> (Option<SpeedGap>, Option<SpeedGap>) {
    let (s, e) = (reference.index_at(start_m), reference.index_at(end_m));
    let n = lap.len().min(reference.len());
    if n == 0 || s >= n {
        return (None, None);
    }
    let e = e.min(n - 1).max(s);
    let gap = |k: usize| SpeedGap {
        at_m: reference.distance_m(k),
        lap_kmh: f64::from(lap.speed_kmh()[k]),
        reference_kmh: f64::from(reference.speed_kmh()[k]),
    };
    let difference = |k: usize| f64::from(reference.speed_kmh()[k] - lap.speed_kmh()[k]);
    let slowest = (s..=e).max_by(|&a, &b| difference(a).total_cmp(&difference(b)));
    let fastest = (s..=e).min_by(|&a, &b| difference(a).total_cmp(&difference(b)));
    (
        slowest.filter(|&k| difference(k) > 0.0).map(gap),
        fastest.filter(|&k| difference(k) < 0.0).map(gap),
    )
}

/// The analysis of `lap` against the ideal lap of `laps` (the best segments of the valid
/// laps, all on the lap's grid): each corner and segment is compared with the lap that drove
/// it fastest, so every row is time lost against the best that was done there. The gap is
/// the lap's time minus the ideal time. `None` without laps. The corner metrics use the
/// default [`Thresholds`].
pub fn analyze_against_ideal(
    lap: &LapTrace,
    laps: &[LapTrace],
    corners: &[Corner],
) -> Option<(Analysis, super::IdealLap)> {
    let thresholds = Thresholds::default();
    let ideal = super::ideal_lap(laps, corners)?;
    let mut by_reference: Vec<Option<Analysis>> = vec![None; laps.len()];
    let mut segments = Vec::with_capacity(ideal.segments.len());
    let mut reports = Vec::with_capacity(corners.len());
    for segment in &ideal.segments {
        let source = laps.get(segment.lap)?;
        let analysis = by_reference
            .get_mut(segment.lap)?
            .get_or_insert_with(|| analyze_traces_with(lap, source, corners, &thresholds, false));
        if let Some(loss) = analysis
            .segments
            .iter()
            .find(|s| s.name == segment.name && s.start_m == segment.start_m)
        {
            segments.push(loss.clone());
        }
        if let Some(report) = analysis
            .corners
            .iter()
            .find(|c| c.corner.name == segment.name)
        {
            reports.push(report.clone());
        }
    }
    let gap_s = segments.iter().map(|s| s.time_loss_s).sum();
    let from_line_loss_s = gap_s
        - segments
            .iter()
            .map(|s: &super::SegmentLoss| s.own_loss_s)
            .sum::<f64>();
    let analysis = Analysis {
        track_length_m: lap.length_m(),
        lap_time_ms: lap.lap_time_ms(),
        reference_lap_time_ms: ideal.time_ms.round() as i32,
        gap_s,
        corners: reports,
        segments,
        start_speed_kmh: lap.speed_kmh().first().map_or(0.0, |&v| f64::from(v)),
        reference_start_speed_kmh: 0.0,
        from_line_loss_s,
        follows_previous_lap: false,
        lap_kind: None,
        reference_kind: None,
    };
    Some((analysis, ideal))
}
