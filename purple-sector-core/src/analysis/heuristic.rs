//! [`HeuristicAnalyzer`]: the offline, deterministic analyzer — the largest losses, explained
//! from the lap's inputs against the reference's.

use std::collections::BTreeMap;

use super::thresholds::Thresholds;
use super::{
    Analysis, Analyzer, AnalyzerError, CornerReport, SegmentKind, SegmentLoss, Severity,
    Suggestion, SuggestionType,
};

/// The offline analyzer: deterministic, no network, the default. Its suggestions are
/// [`heuristic_suggestions`] (the rules are there).
///
/// ```
/// use purple_sector_core::analysis::{heuristic_suggestions, Analysis, Analyzer, HeuristicAnalyzer};
///
/// let even = Analysis {
///     track_length_m: 1300.0,
///     lap_time_ms: 40_000,
///     reference_lap_time_ms: 40_000,
///     gap_s: 0.0,
///     corners: Vec::new(),
///     segments: Vec::new(),
/// };
/// assert!(heuristic_suggestions(&even).is_empty());
/// assert_eq!(HeuristicAnalyzer.name(), "heuristic");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeuristicAnalyzer;

#[async_trait::async_trait]
impl Analyzer for HeuristicAnalyzer {
    fn name(&self) -> &'static str {
        "heuristic"
    }

    async fn suggest(&self, analysis: &Analysis) -> Result<Vec<Suggestion>, AnalyzerError> {
        Ok(heuristic_suggestions(analysis))
    }
}

/// Severity of a loss with the default [`Thresholds`]: ≥ 0.3 s
/// ([`Thresholds::critical_loss_s`]) critical, ≥ 0.1 s ([`Thresholds::warning_loss_s`])
/// warning, else info.
pub fn severity_for(time_loss_s: f64) -> Severity {
    severity(time_loss_s, &Thresholds::default())
}

fn severity(time_loss_s: f64, thresholds: &Thresholds) -> Severity {
    if time_loss_s >= thresholds.critical_loss_s {
        Severity::Critical
    } else if time_loss_s >= thresholds.warning_loss_s {
        Severity::Warning
    } else {
        Severity::Info
    }
}

/// What one corner's metrics say against the reference's.
#[derive(Debug, Clone, Copy)]
struct Diagnosis {
    kind: SuggestionType,
    /// Which symptom (for the message).
    symptom: Symptom,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Symptom {
    Overshoot,
    SlowerApex,
    BrakedEarlier,
    FullThrottleLater,
    PickupLater,
    NoFullThrottle,
    Coasted,
    GentleBrake,
    SlowerExit,
    TurnIn,
    Unexplained,
}

fn diff(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? - b?)
}

fn diagnose(report: &CornerReport, thresholds: &Thresholds) -> Diagnosis {
    let (lap, reference) = (&report.lap, &report.reference);
    // A lap slowest right at the window's start arrived slow: its lower minimum was carried
    // in from before, not lost in this corner.
    let arrived_slow = lap.apex_m - report.corner.start_m < thresholds.arrived_slow_m
        && reference.apex_m - report.corner.start_m >= thresholds.arrived_slow_m;
    let speed_deficit = if arrived_slow {
        0.0
    } else {
        reference.min_speed_kmh - lap.min_speed_kmh
    };
    let relative_deficit = if reference.min_speed_kmh > 0.0 {
        speed_deficit / reference.min_speed_kmh
    } else {
        0.0
    };
    // Positive: the lap braked earlier.
    let brake_earlier = diff(reference.brake_point_m, lap.brake_point_m);
    let full_later = diff(lap.full_throttle_m, reference.full_throttle_m);
    let pickup_later = diff(lap.throttle_pickup_m, reference.throttle_pickup_m);
    let coasted_more = lap.coasting_m - reference.coasting_m;
    let d = |kind, symptom| Diagnosis { kind, symptom };

    if brake_earlier.is_some_and(|e| e >= thresholds.brake_point_shift_m) {
        return d(SuggestionType::Braking, Symptom::BrakedEarlier);
    }
    if full_later.is_some_and(|l| l >= thresholds.throttle_shift_m) {
        return d(SuggestionType::Throttle, Symptom::FullThrottleLater);
    }
    if pickup_later.is_some_and(|l| l >= thresholds.throttle_shift_m) {
        return d(SuggestionType::Throttle, Symptom::PickupLater);
    }
    if lap.full_throttle_m.is_none() && reference.full_throttle_m.is_some() {
        return d(SuggestionType::Throttle, Symptom::NoFullThrottle);
    }
    if coasted_more >= thresholds.extra_coasting_m {
        // Off both pedals after the apex (holding speed on a whiff of throttle) leaves the
        // exit slower with the brake point where it was; a lift before braking moves the
        // brake point later (or drops the braking altogether).
        let braked_later = brake_earlier.is_none_or(|e| e <= -thresholds.brake_point_shift_m);
        if !braked_later
            && reference.exit_speed_kmh - lap.exit_speed_kmh >= thresholds.weak_exit_kmh
        {
            return d(SuggestionType::Throttle, Symptom::SlowerExit);
        }
        return d(SuggestionType::Coasting, Symptom::Coasted);
    }
    if relative_deficit >= thresholds.min_speed_drop_share
        && speed_deficit >= thresholds.min_speed_drop_kmh
    {
        if brake_earlier.is_some_and(|e| e <= -thresholds.brake_point_shift_m) {
            return d(SuggestionType::Braking, Symptom::Overshoot);
        }
        return d(SuggestionType::CornerSpeed, Symptom::SlowerApex);
    }
    if relative_deficit >= thresholds.weak_speed_drop_share
        && speed_deficit >= thresholds.min_speed_drop_kmh
    {
        return d(SuggestionType::CornerSpeed, Symptom::SlowerApex);
    }
    // Softer braking from a later brake point is arriving slower, not braking gently.
    if reference.peak_brake - lap.peak_brake >= thresholds.peak_brake_drop
        && brake_earlier.is_none_or(|e| e > -thresholds.brake_point_shift_m)
    {
        return d(SuggestionType::Braking, Symptom::GentleBrake);
    }
    if reference.exit_speed_kmh - lap.exit_speed_kmh >= thresholds.weak_exit_kmh {
        return d(SuggestionType::Throttle, Symptom::SlowerExit);
    }
    if diff(lap.turn_in_m, reference.turn_in_m)
        .is_some_and(|t| t.abs() >= thresholds.turn_in_shift_m)
    {
        return d(SuggestionType::Line, Symptom::TurnIn);
    }
    d(SuggestionType::General, Symptom::Unexplained)
}

fn secs(s: f64) -> String {
    format!("{s:.2} s")
}

/// The segment starting where `at_m` is, if any (the one after a corner).
fn segment_from(analysis: &Analysis, at_m: f64) -> Option<&SegmentLoss> {
    analysis
        .segments
        .iter()
        .find(|s| (s.start_m - at_m).abs() < 1e-6 && s.end_m > s.start_m)
}

/// True when the lap left `corner` slower than the reference (its losses after run on).
fn left_slower(corner: &CornerReport, thresholds: &Thresholds) -> bool {
    corner.reference.exit_speed_kmh - corner.lap.exit_speed_kmh >= thresholds.carry_exit_kmh
}

/// Turns an analysis into ranked suggestions. Deterministic; no I/O.
///
/// # Rules
///
/// With the default [`Thresholds`]: one suggestion per corner that lost at least
/// [`Thresholds::min_loss_s`], its `time_loss_s` the corner's measured loss (the fact, never
/// an estimate). Its type is the first of these symptoms the corner shows (lap against
/// reference):
///
/// 1. **braking** — brake point at least [`Thresholds::brake_point_shift_m`] (5 m) earlier.
/// 2. **throttle** — full throttle, or the throttle pick-up, at least
///    [`Thresholds::throttle_shift_m`] (5 m) later, or no full throttle before the next
///    corner where the reference had it.
/// 3. **coasting** — both pedals off for at least [`Thresholds::extra_coasting_m`] (10 m)
///    longer (a lift before braking also costs apex speed when the coast runs into the
///    corner, so it is checked before the apex speed) — unless the brake point is not later
///    and the exit is at least [`Thresholds::weak_exit_kmh`] (2 km/h) slower: that coasting
///    came after the apex, waiting for the throttle (**throttle**).
/// 4. **corner_speed** — minimum speed lower by at least
///    [`Thresholds::min_speed_drop_share`] (2 %) and [`Thresholds::min_speed_drop_kmh`];
///    reported as **braking** instead when the lap also braked at least
///    [`Thresholds::brake_point_shift_m`] later (an overshoot: the late brake point is the
///    cause). A lap whose lowest speed is within [`Thresholds::arrived_slow_m`] of the start
///    of the window arrived slow: that is not counted.
/// 5. Weaker signs, in this order: minimum speed lower by
///    [`Thresholds::weak_speed_drop_share`] (1 %) (**corner_speed**); peak brake at least
///    [`Thresholds::peak_brake_drop`] lower without braking later (**braking**: braked
///    gently — softer braking from a later point is only arriving slower); exit speed at
///    least [`Thresholds::weak_exit_kmh`] (2 km/h) lower (**throttle**); turn-in at least
///    [`Thresholds::turn_in_shift_m`] away from the reference's (**line**).
/// 6. Otherwise **general** — unless the loss is *carried*: the corner's window starts where
///    the previous corner's ends and the lap left that corner at least
///    [`Thresholds::carry_exit_kmh`] (1 km/h) slower. A slower exit costs time until the next
///    braking zone, so that loss belongs to the previous corner: no suggestion here, and the
///    previous corner's message says how much went on.
///
/// A straight that lost at least [`Thresholds::min_straight_loss_s`] gets a **general**
/// suggestion without a corner, unless the corner before it was left slower (then it is that
/// corner's carried loss, mentioned in its message).
///
/// Suggestions are ranked by time lost, largest first (ties by track order). Severity by
/// size: [`Thresholds::critical_loss_s`] (0.3 s) and more critical,
/// [`Thresholds::warning_loss_s`] (0.1 s) and more warning, below that info. Every number in
/// a message is a fact of the analysis or the difference of two facts of the same corner and
/// unit, so [`super::validate_suggestions`] keeps them.
pub fn heuristic_suggestions(analysis: &Analysis) -> Vec<Suggestion> {
    let thresholds = Thresholds::default();
    let mut out: Vec<(usize, Suggestion)> = Vec::new();
    let corners = &analysis.corners;
    for (index, report) in corners.iter().enumerate() {
        let loss = report.time_loss_s;
        if loss < thresholds.min_loss_s {
            continue;
        }
        let diagnosis = diagnose(report, &thresholds);
        if diagnosis.symptom == Symptom::Unexplained {
            let carried = index
                .checked_sub(1)
                .map(|p| &corners[p])
                .is_some_and(|prev| {
                    (prev.corner.end_m - report.corner.start_m).abs() < 1e-6
                        && left_slower(prev, &thresholds)
                });
            if carried {
                continue;
            }
        }
        out.push((
            index,
            corner_suggestion(analysis, report, diagnosis, &thresholds),
        ));
    }
    // Straights that lost time not carried from the corner before them.
    for (index, segment) in analysis.segments.iter().enumerate() {
        if segment.kind != SegmentKind::Straight
            || segment.time_loss_s < thresholds.min_straight_loss_s
        {
            continue;
        }
        let carried = corners.iter().any(|c| {
            (c.corner.end_m - segment.start_m).abs() < 1e-6 && left_slower(c, &thresholds)
        });
        if carried {
            continue;
        }
        out.push((index, straight_suggestion(analysis, segment, &thresholds)));
    }
    out.sort_by(|a, b| {
        b.1.time_loss_s
            .total_cmp(&a.1.time_loss_s)
            .then(a.1.distance_m.total_cmp(&b.1.distance_m))
            .then(a.0.cmp(&b.0))
    });
    out.into_iter().map(|(_, s)| s).collect()
}

fn straight_suggestion(
    analysis: &Analysis,
    segment: &SegmentLoss,
    thresholds: &Thresholds,
) -> Suggestion {
    let mut evidence = BTreeMap::new();
    evidence.insert("time_loss_s".to_owned(), segment.time_loss_s);
    evidence.insert("start_m".to_owned(), segment.start_m);
    evidence.insert("end_m".to_owned(), segment.end_m);
    Suggestion {
        id: format!("{}-general", segment.name),
        kind: SuggestionType::General,
        corner: None,
        message: format!(
            "You lost {} on the straight {} with no slower exit before it: look for a lift or \
             a missed shift there.",
            secs(segment.time_loss_s),
            segment.name
        ),
        severity: severity(segment.time_loss_s, thresholds),
        position: analysis.position(segment.start_m),
        distance_m: segment.start_m,
        time_loss_s: segment.time_loss_s,
        evidence,
    }
}

fn corner_suggestion(
    analysis: &Analysis,
    report: &CornerReport,
    diagnosis: Diagnosis,
    thresholds: &Thresholds,
) -> Suggestion {
    let (lap, reference) = (&report.lap, &report.reference);
    let name = &report.corner.name;
    let loss = report.time_loss_s;
    let mut evidence = BTreeMap::new();
    evidence.insert("time_loss_s".to_owned(), loss);
    let mut put = |key: &str, value: Option<f64>| {
        if let Some(v) = value {
            evidence.insert(key.to_owned(), v);
        }
    };
    let lost = format!("and lost {}", secs(loss));
    let (message, distance_m) = match diagnosis.symptom {
        Symptom::Overshoot | Symptom::SlowerApex => {
            put("min_speed_kmh", Some(lap.min_speed_kmh));
            put("reference_min_speed_kmh", Some(reference.min_speed_kmh));
            put("apex_m", Some(lap.apex_m));
            let slower = reference.min_speed_kmh - lap.min_speed_kmh;
            if diagnosis.symptom == Symptom::Overshoot {
                put("brake_point_m", lap.brake_point_m);
                put("reference_brake_point_m", reference.brake_point_m);
                let later = diff(lap.brake_point_m, reference.brake_point_m).unwrap_or(0.0);
                (
                    format!(
                        "You braked {later:.0} m later than the reference into {name}, overshot \
                         and were {slower:.1} km/h slower at the apex ({:.1} against {:.1} km/h) \
                         {lost}.",
                        lap.min_speed_kmh, reference.min_speed_kmh
                    ),
                    lap.brake_point_m.unwrap_or(lap.apex_m),
                )
            } else {
                (
                    format!(
                        "You were {slower:.1} km/h slower than the reference at the apex of \
                         {name} ({:.1} against {:.1} km/h) {lost}: carry more speed in.",
                        lap.min_speed_kmh, reference.min_speed_kmh
                    ),
                    lap.apex_m,
                )
            }
        }
        Symptom::BrakedEarlier => {
            put("brake_point_m", lap.brake_point_m);
            put("reference_brake_point_m", reference.brake_point_m);
            let earlier = diff(reference.brake_point_m, lap.brake_point_m).unwrap_or(0.0);
            (
                format!("You braked {earlier:.0} m earlier than the reference into {name} {lost}."),
                lap.brake_point_m.unwrap_or(report.corner.start_m),
            )
        }
        Symptom::FullThrottleLater => {
            put("full_throttle_m", lap.full_throttle_m);
            put("reference_full_throttle_m", reference.full_throttle_m);
            let later = diff(lap.full_throttle_m, reference.full_throttle_m).unwrap_or(0.0);
            (
                format!(
                    "You reached full throttle {later:.0} m later than the reference out of \
                     {name} {lost}."
                ),
                lap.full_throttle_m.unwrap_or(lap.apex_m),
            )
        }
        Symptom::PickupLater => {
            put("throttle_pickup_m", lap.throttle_pickup_m);
            put("reference_throttle_pickup_m", reference.throttle_pickup_m);
            let later = diff(lap.throttle_pickup_m, reference.throttle_pickup_m).unwrap_or(0.0);
            (
                format!(
                    "You picked up the throttle {later:.0} m later than the reference out of \
                     {name} {lost}."
                ),
                lap.throttle_pickup_m.unwrap_or(lap.apex_m),
            )
        }
        Symptom::NoFullThrottle => {
            put("reference_full_throttle_m", reference.full_throttle_m);
            put("exit_speed_kmh", Some(lap.exit_speed_kmh));
            put("reference_exit_speed_kmh", Some(reference.exit_speed_kmh));
            (
                format!(
                    "You never reached full throttle out of {name} before the next corner (the \
                     reference did at {:.0} m) {lost}.",
                    reference.full_throttle_m.unwrap_or(0.0)
                ),
                reference.full_throttle_m.unwrap_or(lap.apex_m),
            )
        }
        Symptom::Coasted => {
            put("coasting_m", Some(lap.coasting_m));
            put("reference_coasting_m", Some(reference.coasting_m));
            let more = lap.coasting_m - reference.coasting_m;
            (
                format!(
                    "You coasted {more:.0} m longer than the reference (off both pedals) into \
                     {name} {lost}: stay on the throttle and brake once."
                ),
                report.corner.start_m,
            )
        }
        Symptom::GentleBrake => {
            put("peak_brake", Some(lap.peak_brake));
            put("reference_peak_brake", Some(reference.peak_brake));
            (
                format!(
                    "You braked gently into {name}: a peak of {:.0} % against the reference's \
                     {:.0} %, {lost}. Brake later and harder.",
                    lap.peak_brake * 100.0,
                    reference.peak_brake * 100.0
                ),
                lap.brake_point_m.unwrap_or(report.corner.start_m),
            )
        }
        Symptom::SlowerExit => {
            put("exit_speed_kmh", Some(lap.exit_speed_kmh));
            put("reference_exit_speed_kmh", Some(reference.exit_speed_kmh));
            let slower = reference.exit_speed_kmh - lap.exit_speed_kmh;
            (
                format!(
                    "You left {name} {slower:.1} km/h slower than the reference ({:.1} against \
                     {:.1} km/h) {lost}: get on the throttle earlier.",
                    lap.exit_speed_kmh, reference.exit_speed_kmh
                ),
                report.corner.end_m,
            )
        }
        Symptom::TurnIn => {
            put("turn_in_m", lap.turn_in_m);
            put("reference_turn_in_m", reference.turn_in_m);
            let t = diff(lap.turn_in_m, reference.turn_in_m).unwrap_or(0.0);
            let when = if t < 0.0 { "earlier" } else { "later" };
            (
                format!(
                    "You turned into {name} {:.0} m {when} than the reference {lost}: check \
                     your line.",
                    t.abs()
                ),
                lap.turn_in_m.unwrap_or(lap.apex_m),
            )
        }
        Symptom::Unexplained => (
            format!(
                "You lost {} in {name} with the same brake point, apex speed and throttle as \
                 the reference: look at your line.",
                secs(loss)
            ),
            report.corner.apex_m,
        ),
    };
    // The slower exit's cost carries down the following straight (or a corner that shows
    // nothing wrong of its own).
    let mut message = message;
    if left_slower(report, thresholds) {
        if let Some(next) = segment_from(analysis, report.corner.end_m) {
            let own_fault = next.kind == SegmentKind::Corner
                && analysis
                    .corner(&next.name)
                    .is_some_and(|c| diagnose(c, thresholds).symptom != Symptom::Unexplained);
            if next.time_loss_s >= thresholds.min_loss_s && !own_fault {
                evidence.insert("carried_loss_s".to_owned(), next.time_loss_s);
                message.push_str(&format!(
                    " The slower exit cost another {} in {}.",
                    secs(next.time_loss_s),
                    next.name
                ));
            }
        }
    }
    Suggestion {
        id: format!("{name}-{}", diagnosis.kind.as_str()),
        kind: diagnosis.kind,
        corner: Some(name.clone()),
        message,
        severity: severity(loss, thresholds),
        position: analysis.position(distance_m),
        distance_m,
        time_loss_s: loss,
        evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{Corner, CornerMetrics};

    fn metrics() -> CornerMetrics {
        CornerMetrics {
            brake_point_m: Some(400.0),
            peak_brake: 0.9,
            trail_brake_m: 10.0,
            turn_in_m: Some(430.0),
            apex_m: 460.0,
            min_speed_kmh: 90.0,
            throttle_pickup_m: Some(470.0),
            full_throttle_m: Some(500.0),
            coasting_m: 5.0,
            exit_speed_kmh: 150.0,
            gear_at_apex: 2,
        }
    }

    fn analysis(lap: CornerMetrics, loss: f64) -> Analysis {
        let corner = Corner {
            name: "T1".into(),
            start_m: 350.0,
            apex_m: 460.0,
            end_m: 600.0,
        };
        Analysis {
            track_length_m: 1000.0,
            lap_time_ms: 60_000 + (loss * 1000.0) as i32,
            reference_lap_time_ms: 60_000,
            gap_s: loss,
            corners: vec![CornerReport {
                corner,
                time_loss_s: loss,
                lap,
                reference: metrics(),
            }],
            segments: vec![
                SegmentLoss {
                    name: "Start–T1".into(),
                    kind: SegmentKind::Straight,
                    start_m: 0.0,
                    end_m: 350.0,
                    time_loss_s: 0.0,
                },
                SegmentLoss {
                    name: "T1".into(),
                    kind: SegmentKind::Corner,
                    start_m: 350.0,
                    end_m: 600.0,
                    time_loss_s: loss,
                },
                SegmentLoss {
                    name: "T1–Finish".into(),
                    kind: SegmentKind::Straight,
                    start_m: 600.0,
                    end_m: 1000.0,
                    time_loss_s: 0.0,
                },
            ],
        }
    }

    #[test]
    fn each_symptom_gets_its_type() {
        type Edit = fn(&mut CornerMetrics);
        let cases: [(Edit, SuggestionType); 5] = [
            (|m| m.brake_point_m = Some(368.0), SuggestionType::Braking),
            (|m| m.min_speed_kmh = 86.0, SuggestionType::CornerSpeed),
            (
                |m| m.full_throttle_m = Some(520.0),
                SuggestionType::Throttle,
            ),
            (|m| m.coasting_m = 40.0, SuggestionType::Coasting),
            (|_| {}, SuggestionType::General),
        ];
        for (edit, kind) in cases {
            let mut lap = metrics();
            edit(&mut lap);
            let s = heuristic_suggestions(&analysis(lap, 0.41));
            assert_eq!(s.len(), 1);
            assert_eq!(s[0].kind, kind, "{}", s[0].message);
            assert_eq!(s[0].severity, Severity::Critical);
            assert!((s[0].time_loss_s - 0.41).abs() < 1e-12);
        }
        let mut lap = metrics();
        lap.brake_point_m = Some(368.0);
        let s = heuristic_suggestions(&analysis(lap, 0.41));
        assert_eq!(
            s[0].message,
            "You braked 32 m earlier than the reference into T1 and lost 0.41 s."
        );
        assert_eq!(s[0].id, "T1-braking");
        assert_eq!(s[0].distance_m, 368.0);
    }

    #[test]
    fn small_losses_and_gains_say_nothing() {
        assert!(heuristic_suggestions(&analysis(metrics(), 0.01)).is_empty());
        assert!(heuristic_suggestions(&analysis(metrics(), -0.3)).is_empty());
        assert_eq!(severity_for(0.15), Severity::Warning);
        assert_eq!(severity_for(0.05), Severity::Info);
    }
}
