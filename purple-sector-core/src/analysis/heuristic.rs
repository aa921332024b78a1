//! [`HeuristicAnalyzer`]: the offline, deterministic analyzer — the largest losses, each
//! explained by one cause from the lap's inputs against the reference's, and the gains.

use std::collections::BTreeMap;

use super::thresholds::Thresholds;
use super::{
    Analysis, Analyzer, AnalyzerError, Cause, CornerMetrics, CornerReport, SegmentKind,
    SegmentLoss, Severity, Strength, Suggestion, SuggestionType,
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
///     start_speed_kmh: 200.0,
///     reference_start_speed_kmh: 200.0,
///     from_line_loss_s: 0.0,
///     follows_previous_lap: false,
///     lap_kind: None,
///     reference_kind: None,
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

/// The four places a corner's loss is measured in, in driving order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Approach,
    Braking,
    Exit,
    Line,
}

fn diff(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? - b?)
}

/// What one corner's lap did against its reference, in the thresholds' terms.
#[derive(Debug, Clone, Copy)]
struct Evidence {
    /// m the lap braked earlier (negative: later).
    brake_earlier_m: Option<f64>,
    /// km/h the lap was slower at the apex.
    apex_slower_kmh: f64,
    /// m the lap picked up the throttle later, each measured from where it reached its
    /// lowest speed (a lap that got there later, having overshot, picks up later without
    /// being late).
    pickup_later_m: Option<f64>,
    /// m the lap reached full throttle later, measured the same way.
    full_later_m: Option<f64>,
    /// The reference reached full throttle, the lap never did.
    never_full: bool,
    /// m longer the lap lifted before braking.
    extra_lift_m: f64,
    /// m more the lap coasted in the window.
    extra_coasting_m: f64,
    /// m more the lap lifted mid-corner.
    extra_mid_lift_m: f64,
    /// Gears lower at the apex (both in gear).
    gears_lower: i32,
    /// km/h the lap left slower.
    exit_slower_kmh: f64,
    /// How much less throttle (0..1) the lap used from the apex to the exit.
    exit_throttle_less: f64,
}

/// How much later the lap's point `lap_at` is than the reference's `reference_at`: the
/// smaller of the two readings, on the lap (metres) and measured from where each reached its
/// lowest speed, so that neither a lap that got there later (an overshoot) nor one that got
/// there earlier (over-slowed) reads as late on the throttle.
fn later_both_ways(
    lap_at: Option<f64>,
    reference_at: Option<f64>,
    lap: &CornerMetrics,
    reference: &CornerMetrics,
) -> Option<f64> {
    let (l, r) = (lap_at?, reference_at?);
    let absolute = l - r;
    let relative = (l - slowest_from(lap)) - (r - slowest_from(reference));
    Some(if absolute.abs() < relative.abs() {
        absolute
    } else if absolute.signum() == relative.signum() {
        relative
    } else {
        0.0
    })
}

/// Where a lap reached its lowest speed: the start of its apex stretch (the apex for
/// metrics stored without it).
fn slowest_from(m: &CornerMetrics) -> f64 {
    if m.slowest_from_m > 0.0 {
        m.slowest_from_m.min(m.apex_m)
    } else {
        m.apex_m
    }
}

/// How far before its brake point (or apex) a lap lifted, m.
fn lift_length_m(m: &CornerMetrics) -> f64 {
    m.lift_point_m
        .map_or(0.0, |lift| m.brake_point_m.unwrap_or(m.apex_m) - lift)
        .max(0.0)
}

impl Evidence {
    fn of(lap: &CornerMetrics, reference: &CornerMetrics) -> Self {
        let gears_lower = if lap.gear_at_apex > 0 && reference.gear_at_apex > 0 {
            reference.gear_at_apex - lap.gear_at_apex
        } else {
            0
        };
        Self {
            brake_earlier_m: diff(reference.brake_point_m, lap.brake_point_m),
            apex_slower_kmh: reference.min_speed_kmh - lap.min_speed_kmh,
            pickup_later_m: later_both_ways(
                lap.throttle_pickup_m,
                reference.throttle_pickup_m,
                lap,
                reference,
            ),
            full_later_m: later_both_ways(
                lap.full_throttle_m,
                reference.full_throttle_m,
                lap,
                reference,
            ),
            never_full: lap.full_throttle_m.is_none() && reference.full_throttle_m.is_some(),
            extra_lift_m: lift_length_m(lap) - lift_length_m(reference),
            extra_coasting_m: lap.coasting_m - reference.coasting_m,
            extra_mid_lift_m: lap.mid_corner_lift_m - reference.mid_corner_lift_m,
            gears_lower,
            exit_slower_kmh: reference.exit_speed_kmh - lap.exit_speed_kmh,
            exit_throttle_less: reference.exit_throttle - lap.exit_throttle,
        }
    }
}

/// The thresholds' reading of the evidence.
struct Signs<'a> {
    e: Evidence,
    reference: &'a CornerMetrics,
    /// Where the lap was slowest against the reference before the apex.
    slower_at: Option<super::SpeedGap>,
    t: &'a Thresholds,
}

impl Signs<'_> {
    fn braked_earlier(&self) -> bool {
        self.e
            .brake_earlier_m
            .is_some_and(|d| d >= self.t.brake_point_shift_m)
    }
    fn braked_later(&self) -> bool {
        self.e
            .brake_earlier_m
            .is_some_and(|d| d <= -self.t.brake_point_shift_m)
    }
    fn slower_apex(&self) -> bool {
        self.e.apex_slower_kmh >= self.t.min_speed_drop_kmh
            && self.e.apex_slower_kmh >= self.t.weak_speed_drop_share * self.reference.min_speed_kmh
    }
    fn late_throttle(&self) -> bool {
        let later = |d: Option<f64>| d.is_some_and(|d| d >= self.t.throttle_shift_m);
        later(self.e.pickup_later_m) || later(self.e.full_later_m) || self.e.never_full
    }
    /// Out of the corner on less throttle (a slower opening, the points the same).
    fn less_throttle_out(&self) -> bool {
        self.e.exit_throttle_less >= self.t.exit_throttle_drop
    }
    fn lifted_early(&self) -> bool {
        self.e.extra_lift_m >= self.t.extra_coasting_m
    }
    fn coasted_more(&self) -> bool {
        self.e.extra_coasting_m >= self.t.extra_coasting_m
    }
    fn lifted_mid_corner(&self) -> bool {
        self.e.extra_mid_lift_m >= self.t.lift_shift_m
    }
    fn lower_gear(&self) -> bool {
        self.e.gears_lower >= 1
    }
    fn slower_exit(&self) -> bool {
        self.e.exit_slower_kmh >= self.t.carry_exit_kmh
    }
    /// Markedly slower somewhere before the apex (a chicane's first part, say) with the
    /// apex itself no slower.
    fn slower_through(&self) -> bool {
        self.slower_at.is_some_and(|g| {
            let d = g.reference_kmh - g.lap_kmh;
            d >= self.t.through_speed_drop_kmh && d >= 0.02 * g.reference_kmh
        })
    }

    /// The cause a phase's loss points to.
    fn cause_in(&self, phase: Phase) -> Cause {
        match phase {
            Phase::Approach => {
                if self.lifted_early() {
                    Cause::Coasting
                } else if self.braked_earlier() {
                    Cause::EarlyBraking
                } else if self.coasted_more() {
                    Cause::Coasting
                } else {
                    Cause::General
                }
            }
            Phase::Braking => {
                if self.slower_apex() && self.braked_later() {
                    Cause::LateBrakingOverslowed
                } else if self.slower_apex() {
                    Cause::LowApexSpeed
                } else if self.braked_earlier() {
                    Cause::EarlyBraking
                } else if self.lifted_mid_corner() {
                    Cause::MidCornerLift
                } else if self.slower_through() {
                    Cause::LowApexSpeed
                } else if self.lower_gear() {
                    Cause::LowerGear
                } else {
                    Cause::Line
                }
            }
            Phase::Exit => {
                if self.lifted_mid_corner() {
                    Cause::MidCornerLift
                } else if self.late_throttle() {
                    Cause::LateThrottle
                } else if self.slower_apex() && self.braked_later() {
                    Cause::LateBrakingOverslowed
                } else if self.lower_gear() {
                    Cause::LowerGear
                } else if self.slower_apex() {
                    Cause::LowApexSpeed
                } else if self.less_throttle_out() {
                    Cause::LateThrottle
                } else if self.slower_exit() {
                    Cause::SlowExit
                } else {
                    Cause::Line
                }
            }
            Phase::Line => Cause::Line,
        }
    }

    /// Without a split by phase: the first sign in driving order.
    fn first_sign(&self) -> Cause {
        if self.braked_earlier() {
            Cause::EarlyBraking
        } else if self.lifted_early() || self.coasted_more() {
            Cause::Coasting
        } else if self.slower_apex() && self.braked_later() {
            Cause::LateBrakingOverslowed
        } else if self.slower_apex() {
            Cause::LowApexSpeed
        } else if self.lifted_mid_corner() {
            Cause::MidCornerLift
        } else if self.late_throttle() || self.less_throttle_out() {
            Cause::LateThrottle
        } else if self.lower_gear() {
            Cause::LowerGear
        } else if self.slower_exit() {
            Cause::SlowExit
        } else {
            Cause::Line
        }
    }
}

/// The one cause of a corner's loss: the cause its largest phase points to.
fn diagnose(report: &CornerReport, thresholds: &Thresholds) -> Cause {
    let signs = Signs {
        e: Evidence::of(&report.lap, &report.reference),
        reference: &report.reference,
        slower_at: report.slower_at,
        t: thresholds,
    };
    let p = report.phases;
    let phases = [
        (Phase::Approach, p.approach_s),
        (Phase::Braking, p.braking_s),
        (Phase::Exit, p.exit_s),
        (Phase::Line, p.line_s),
    ];
    let Some(&(phase, largest)) = phases.iter().max_by(|a, b| a.1.total_cmp(&b.1)) else {
        return signs.first_sign();
    };
    if largest <= 0.0 {
        return signs.first_sign();
    }
    signs.cause_in(phase)
}

/// The same corner seen from the reference: lap and reference swapped, losses negated.
fn mirrored(report: &CornerReport) -> CornerReport {
    let p = report.phases;
    CornerReport {
        corner: report.corner.clone(),
        time_loss_s: -report.time_loss_s,
        attributed_loss_s: -report.attributed_loss_s,
        phases: super::PhaseLosses {
            approach_s: -p.approach_s,
            braking_s: -p.braking_s,
            exit_s: -p.exit_s,
            line_s: -p.line_s,
        },
        slower_at: report.faster_at.map(swap),
        faster_at: report.slower_at.map(swap),
        lap: report.reference,
        reference: report.lap,
    }
}

fn swap(gap: super::SpeedGap) -> super::SpeedGap {
    super::SpeedGap {
        at_m: gap.at_m,
        lap_kmh: gap.reference_kmh,
        reference_kmh: gap.lap_kmh,
    }
}

fn secs(s: f64) -> String {
    format!("{:.2} s", s.abs())
}

/// A corner's loss as a suggestion reports it: what it explains, or (without an
/// attribution) its window's loss.
fn loss_of(report: &CornerReport) -> f64 {
    if report.attributed_loss_s != 0.0 || report.phases != super::PhaseLosses::default() {
        report.attributed_loss_s
    } else {
        report.time_loss_s
    }
}

/// Turns an analysis into ranked suggestions. Deterministic; no I/O.
///
/// # Rules
///
/// With the default [`Thresholds`]: one suggestion per corner that explains at least
/// [`Thresholds::min_loss_s`] of loss ([`CornerReport::attributed_loss_s`]: its window, the
/// straight its slower exit ran down, the lift before it — the suggestion's `time_loss_s`).
/// Its [`Cause`] is the one its largest phase ([`super::PhaseLosses`]) points to, reading
/// the lap's metrics against the reference's:
///
/// - **approach**: lifted at least [`Thresholds::extra_coasting_m`] (10 m) longer before
///   braking → `coasting`; else braked at least [`Thresholds::brake_point_shift_m`] (5 m)
///   earlier → `early_braking`; else coasted 10 m more → `coasting`;
/// - **braking**: a lower minimum speed (by [`Thresholds::weak_speed_drop_share`] and
///   [`Thresholds::min_speed_drop_kmh`]) after braking 5 m later → `late_braking_overslowed`,
///   without → `low_apex_speed`; else braked earlier → `early_braking`; lifted in a corner the
///   reference takes flat → `mid_corner_lift`; a lower gear → `lower_gear`; else `line`;
/// - **exit**: lifted after the pick-up at least [`Thresholds::lift_shift_m`] more →
///   `mid_corner_lift`; the pick-up or full throttle [`Thresholds::throttle_shift_m`] (5 m)
///   later, or no full throttle before the next corner → `late_throttle`; a lower gear →
///   `lower_gear`; a lower apex speed → `low_apex_speed`; left
///   [`Thresholds::carry_exit_kmh`] slower → `slow_exit`; else `line`;
/// - **line** (time lost at the same speed) → `line`.
///
/// The other signs the corner shows are named in the message as evidence. The suggestion's
/// type follows from its cause ([`Cause::suggestion_type`]).
///
/// A straight that lost at least [`Thresholds::min_straight_loss_s`] at speeds it made itself
/// ([`SegmentLoss::own_loss_s`]) gets a `general` suggestion without a corner. Time lost at
/// speeds brought over the line ([`Analysis::from_line_loss_s`]) is the previous lap's last
/// corner's `slow_exit` when the lap follows it ([`Analysis::follows_previous_lap`]), else a
/// `general` slow start.
///
/// Suggestions are ranked by time lost, largest first (ties by track order). Severity by
/// size: [`Thresholds::critical_loss_s`] (0.3 s) and more critical,
/// [`Thresholds::warning_loss_s`] (0.1 s) and more warning, below that info. Every number in
/// a message is a fact of the analysis or the difference of two facts of the same corner and
/// unit, so [`super::validate_suggestions`] keeps them.
pub fn heuristic_suggestions(analysis: &Analysis) -> Vec<Suggestion> {
    let thresholds = Thresholds::default();
    let mut out: Vec<(usize, Suggestion)> = Vec::new();
    for (index, report) in analysis.corners.iter().enumerate() {
        let loss = loss_of(report);
        if loss < thresholds.min_loss_s {
            continue;
        }
        let cause = diagnose(report, &thresholds);
        out.push((
            index,
            corner_suggestion(analysis, report, cause, loss, &thresholds),
        ));
    }
    for (index, segment) in analysis.segments.iter().enumerate() {
        if segment.kind != SegmentKind::Straight
            || segment.own_loss_s < thresholds.min_straight_loss_s
        {
            continue;
        }
        out.push((index, straight_suggestion(analysis, segment, &thresholds)));
    }
    if analysis.from_line_loss_s >= thresholds.min_loss_s {
        out.push((0, line_suggestion(analysis, &thresholds)));
    }
    out.sort_by(|a, b| {
        b.1.time_loss_s
            .total_cmp(&a.1.time_loss_s)
            .then(a.1.distance_m.total_cmp(&b.1.distance_m))
            .then(a.0.cmp(&b.0))
    });
    out.into_iter().map(|(_, s)| s).collect()
}

/// Where the lap gained: one [`Strength`] per corner that explains a gain of at least
/// [`Thresholds::min_gain_s`] (0.05 s), saying what it did that the reference did not (the
/// reference's own cause, read the other way: "you braked 12 m later"), and per straight
/// that gained that much at speeds it made itself. Largest gain first.
pub fn heuristic_strengths(analysis: &Analysis) -> Vec<Strength> {
    let thresholds = Thresholds::default();
    let mut out: Vec<Strength> = Vec::new();
    for report in &analysis.corners {
        let gained = -loss_of(report);
        if gained < thresholds.min_gain_s {
            continue;
        }
        let seen_from_reference = mirrored(report);
        let cause = diagnose(&seen_from_reference, &thresholds);
        out.push(strength(analysis, report, cause, gained, &thresholds));
    }
    for segment in &analysis.segments {
        let gained = -segment.own_loss_s;
        if segment.kind != SegmentKind::Straight || gained < thresholds.min_gain_s {
            continue;
        }
        let mut evidence = BTreeMap::new();
        evidence.insert("time_gained_s".to_owned(), gained);
        out.push(Strength {
            corner: None,
            cause: Cause::General,
            position: analysis.position(segment.start_m),
            distance_m: segment.start_m,
            time_gained_s: gained,
            message: format!(
                "You gained {} on the straight {} at speeds you made there: keep that.",
                secs(gained),
                segment.name
            ),
            evidence,
        });
    }
    out.sort_by(|a, b| {
        b.time_gained_s
            .total_cmp(&a.time_gained_s)
            .then(a.distance_m.total_cmp(&b.distance_m))
    });
    out
}

fn straight_suggestion(
    analysis: &Analysis,
    segment: &SegmentLoss,
    thresholds: &Thresholds,
) -> Suggestion {
    let mut evidence = BTreeMap::new();
    evidence.insert("time_loss_s".to_owned(), segment.own_loss_s);
    evidence.insert("start_m".to_owned(), segment.start_m);
    evidence.insert("end_m".to_owned(), segment.end_m);
    Suggestion {
        id: format!("{}-general", segment.name),
        kind: SuggestionType::General,
        cause: Cause::General,
        corner: None,
        message: format!(
            "You lost {} on the straight {} at speeds you made there (not carried from the \
             corner before it): look for a lift or a missed shift.",
            secs(segment.own_loss_s),
            segment.name
        ),
        severity: severity(segment.own_loss_s, thresholds),
        position: analysis.position(segment.start_m),
        distance_m: segment.start_m,
        time_loss_s: segment.own_loss_s,
        evidence,
    }
}

/// The loss brought over the line: the previous lap's last corner, or a slow start.
fn line_suggestion(analysis: &Analysis, thresholds: &Thresholds) -> Suggestion {
    let loss = analysis.from_line_loss_s;
    let (lap, reference) = (analysis.start_speed_kmh, analysis.reference_start_speed_kmh);
    let mut evidence = BTreeMap::new();
    evidence.insert("time_loss_s".to_owned(), loss);
    evidence.insert("start_speed_kmh".to_owned(), lap);
    evidence.insert("reference_start_speed_kmh".to_owned(), reference);
    let first = analysis
        .segments
        .first()
        .map_or_else(|| "the first corner".to_owned(), |s| s.name.clone());
    let speeds = format!(
        "{:.1} km/h slower than the reference ({lap:.1} against {reference:.1} km/h)",
        reference - lap
    );
    let last = analysis.corners.last().map(|c| c.corner.name.clone());
    let (cause, corner, message) = match last {
        Some(last) if analysis.follows_previous_lap => (
            Cause::SlowExit,
            Some(last.clone()),
            format!(
                "You crossed the line {speeds}, carried from the exit of {last} on the previous \
                 lap, and lost {} on {first}: that exit is where to look.",
                secs(loss)
            ),
        ),
        _ => (
            Cause::General,
            None,
            format!(
                "You started the lap {speeds} and lost {} on {first}.",
                secs(loss)
            ),
        ),
    };
    Suggestion {
        id: format!("{}-previous-lap", corner.as_deref().unwrap_or("start")),
        kind: cause.suggestion_type(),
        cause,
        corner,
        message,
        severity: severity(loss, thresholds),
        position: 0.0,
        distance_m: 0.0,
        time_loss_s: loss,
        evidence,
    }
}

/// The numbers a cause's message and evidence use, named.
struct Facts<'a> {
    name: &'a str,
    lap: &'a CornerMetrics,
    reference: &'a CornerMetrics,
    evidence: BTreeMap<String, f64>,
}

impl Facts<'_> {
    fn put(&mut self, key: &str, value: Option<f64>) {
        if let Some(v) = value {
            self.evidence.insert(key.to_owned(), v);
        }
    }

    /// Both laps' value of one metric, as evidence.
    fn pair(&mut self, key: &str, get: impl Fn(&CornerMetrics) -> Option<f64>) {
        let (lap, reference) = (get(self.lap), get(self.reference));
        self.put(key, lap);
        self.put(&format!("reference_{key}"), reference);
    }
}

/// What the lap did differently from the reference, in words, for the evidence sentence
/// (other than `main`).
fn other_signs(
    signs: &Signs<'_>,
    main: Cause,
    lap: &CornerMetrics,
    reference: &CornerMetrics,
) -> Vec<String> {
    let e = signs.e;
    let mut out = Vec::new();
    if main != Cause::EarlyBraking && main != Cause::LateBrakingOverslowed {
        if signs.braked_earlier() {
            out.push(format!(
                "braked {:.0} m earlier",
                e.brake_earlier_m.unwrap_or(0.0)
            ));
        } else if signs.braked_later() {
            out.push(format!(
                "braked {:.0} m later",
                -e.brake_earlier_m.unwrap_or(0.0)
            ));
        }
    }
    if !matches!(main, Cause::LowApexSpeed | Cause::LateBrakingOverslowed) {
        if signs.slower_apex() {
            out.push(format!(
                "{:.1} km/h slower at the apex ({:.1} against {:.1} km/h)",
                e.apex_slower_kmh, lap.min_speed_kmh, reference.min_speed_kmh
            ));
        } else if -e.apex_slower_kmh >= 1.0 {
            out.push(format!("{:.1} km/h faster at the apex", -e.apex_slower_kmh));
        }
    }
    if main != Cause::LateThrottle && signs.late_throttle() {
        let t = signs.t.throttle_shift_m;
        let later = |a: Option<f64>, b: Option<f64>| diff(a, b).filter(|d| *d >= 1.0);
        if e.pickup_later_m.is_some_and(|d| d >= t) {
            if let Some(d) = later(lap.throttle_pickup_m, reference.throttle_pickup_m) {
                out.push(format!("back on the throttle {d:.0} m later"));
            }
        } else if e.full_later_m.is_some_and(|d| d >= t) {
            if let Some(d) = later(lap.full_throttle_m, reference.full_throttle_m) {
                out.push(format!("at full throttle {d:.0} m later"));
            }
        }
    }
    if main != Cause::LowerGear
        && main != Cause::LateBrakingOverslowed
        && e.gears_lower != 0
        && lap.gear_at_apex > 0
        && reference.gear_at_apex > 0
    {
        out.push(format!(
            "gear {} at the apex against {}",
            lap.gear_at_apex, reference.gear_at_apex
        ));
    }
    if main != Cause::SlowExit && main != Cause::LowerGear && signs.slower_exit() {
        out.push(format!("{:.1} km/h slower out of it", e.exit_slower_kmh));
    }
    out.truncate(2);
    out
}

fn corner_suggestion(
    analysis: &Analysis,
    report: &CornerReport,
    cause: Cause,
    loss: f64,
    thresholds: &Thresholds,
) -> Suggestion {
    let (lap, reference) = (&report.lap, &report.reference);
    let signs = Signs {
        e: Evidence::of(lap, reference),
        reference,
        slower_at: report.slower_at,
        t: thresholds,
    };
    let mut facts = Facts {
        name: &report.corner.name,
        lap,
        reference,
        evidence: BTreeMap::new(),
    };
    facts.evidence.insert("time_loss_s".to_owned(), loss);
    let (mut message, distance_m) = describe(&mut facts, cause, &signs, report, Some(loss));
    let others = other_signs(&signs, cause, lap, reference);
    if !others.is_empty() {
        message.push_str(&format!(" Also: {}.", others.join(", ")));
    }
    let carried = loss - report.time_loss_s;
    if matches!(
        cause,
        Cause::SlowExit | Cause::LateThrottle | Cause::LowerGear | Cause::LowApexSpeed
    ) && carried >= thresholds.min_loss_s
    {
        message.push_str(&format!(
            " Of that, {} went after the corner, down the straight.",
            secs(carried)
        ));
    }
    Suggestion {
        id: format!(
            "{}-{}",
            report.corner.name,
            cause.suggestion_type().as_str()
        ),
        kind: cause.suggestion_type(),
        cause,
        corner: Some(report.corner.name.clone()),
        message,
        severity: severity(loss, thresholds),
        position: analysis.position(distance_m),
        distance_m,
        time_loss_s: loss,
        evidence: facts.evidence,
    }
}

fn strength(
    analysis: &Analysis,
    report: &CornerReport,
    cause: Cause,
    gained: f64,
    thresholds: &Thresholds,
) -> Strength {
    let seen = mirrored(report);
    let signs = Signs {
        e: Evidence::of(&seen.lap, &seen.reference),
        reference: &seen.reference,
        slower_at: seen.slower_at,
        t: thresholds,
    };
    let mut facts = Facts {
        name: &report.corner.name,
        lap: &report.lap,
        reference: &report.reference,
        evidence: BTreeMap::new(),
    };
    facts.evidence.insert("time_gained_s".to_owned(), gained);
    let (message, distance_m) = describe(&mut facts, cause, &signs, report, None);
    Strength {
        corner: Some(report.corner.name.clone()),
        cause,
        position: analysis.position(distance_m),
        distance_m,
        time_gained_s: gained,
        message: format!("{message}: keep that."),
        evidence: facts.evidence,
    }
}

/// The message for `cause` at a corner and where it happened. `loss` is `Some` for a
/// suggestion (the lap's own cause); `None` for a strength, where `signs` read the reference
/// against the lap and the message says what the lap did better (without its final
/// "keep that").
fn describe(
    facts: &mut Facts<'_>,
    cause: Cause,
    signs: &Signs<'_>,
    report: &CornerReport,
    loss: Option<f64>,
) -> (String, f64) {
    let name = facts.name.to_owned();
    let (lap, reference) = (facts.lap, facts.reference);
    let e = signs.e;
    let gained = -report.attributed_loss_s;
    let outcome = match loss {
        Some(l) => format!("and lost {}", secs(l)),
        None => format!("and gained {}", secs(gained)),
    };
    let brake_diff = |e: &Evidence| e.brake_earlier_m.unwrap_or(0.0).abs();
    match (cause, loss.is_some()) {
        (Cause::EarlyBraking, lost) => {
            facts.pair("brake_point_m", |m| m.brake_point_m);
            let (word, at) = if lost {
                ("earlier", lap.brake_point_m)
            } else {
                ("later", lap.brake_point_m)
            };
            (
                format!(
                    "You braked {:.0} m {word} than the reference into {name} {outcome}",
                    brake_diff(&e)
                ) + if lost { "." } else { "" },
                at.unwrap_or(report.corner.start_m),
            )
        }
        (Cause::LateBrakingOverslowed, lost) => {
            facts.pair("brake_point_m", |m| m.brake_point_m);
            facts.pair("min_speed_kmh", |m| Some(m.min_speed_kmh));
            facts.pair("gear_at_apex", |m| Some(f64::from(m.gear_at_apex)));
            let gear = if e.gears_lower >= 1 {
                if lost {
                    format!(
                        ", a gear lower ({} against {})",
                        lap.gear_at_apex, reference.gear_at_apex
                    )
                } else {
                    format!(
                        ", a gear higher ({} against {})",
                        lap.gear_at_apex, reference.gear_at_apex
                    )
                }
            } else {
                String::new()
            };
            if lost {
                (
                    format!(
                        "You braked {:.0} m later than the reference into {name}, overshot and \
                         over-slowed: {:.1} against {:.1} km/h at the apex{gear}, {outcome}. \
                         Brake where the reference does and carry the speed.",
                        brake_diff(&e),
                        lap.min_speed_kmh,
                        reference.min_speed_kmh
                    ),
                    lap.brake_point_m.unwrap_or(lap.apex_m),
                )
            } else {
                (
                    format!(
                        "You braked {:.0} m earlier than the reference into {name} and kept \
                         {:.1} against {:.1} km/h at the apex{gear} where it overshot, {outcome}",
                        brake_diff(&e),
                        lap.min_speed_kmh,
                        reference.min_speed_kmh
                    ),
                    lap.brake_point_m.unwrap_or(lap.apex_m),
                )
            }
        }
        (Cause::LowApexSpeed, lost) if !signs.slower_apex() && signs.slower_through() => {
            let gap = if lost {
                report.slower_at
            } else {
                report.faster_at
            };
            let (at, l, r) = gap.map_or(
                (lap.apex_m, lap.min_speed_kmh, reference.min_speed_kmh),
                |g| (g.at_m, g.lap_kmh, g.reference_kmh),
            );
            facts.put("at_m", Some(at));
            facts.put("speed_kmh", Some(l));
            facts.put("reference_speed_kmh", Some(r));
            let d = (l - r).abs();
            let text = if lost {
                format!(
                    "You were {d:.1} km/h slower than the reference at {at:.0} m in {name} \
                     ({l:.1} against {r:.1} km/h), with the apex no slower, {outcome}: brake \
                     less there and carry the speed through."
                )
            } else {
                format!(
                    "You carried {d:.1} km/h more than the reference at {at:.0} m in {name} \
                     ({l:.1} against {r:.1} km/h) {outcome}"
                )
            };
            (text, at)
        }
        (Cause::LowApexSpeed, lost) => {
            facts.pair("min_speed_kmh", |m| Some(m.min_speed_kmh));
            facts.put("apex_m", Some(lap.apex_m));
            let d = (lap.min_speed_kmh - reference.min_speed_kmh).abs();
            let text = if lost {
                format!(
                    "You were {d:.1} km/h slower than the reference at the apex of {name} \
                     ({:.1} against {:.1} km/h) {outcome}: carry more speed in.",
                    lap.min_speed_kmh, reference.min_speed_kmh
                )
            } else {
                format!(
                    "You carried {d:.1} km/h more than the reference through the apex of \
                     {name} ({:.1} against {:.1} km/h) {outcome}",
                    lap.min_speed_kmh, reference.min_speed_kmh
                )
            };
            (text, lap.apex_m)
        }
        (Cause::LateThrottle, lost) => {
            let t = signs.t.throttle_shift_m;
            let word = if lost { "later" } else { "earlier" };
            let absolute = |a: Option<f64>, b: Option<f64>| diff(a, b).unwrap_or(0.0).abs();
            if e.pickup_later_m.is_some_and(|d| d >= t) {
                let d = absolute(lap.throttle_pickup_m, reference.throttle_pickup_m);
                facts.pair("throttle_pickup_m", |m| m.throttle_pickup_m);
                (
                    format!(
                        "You {} the throttle {d:.0} m {word} than the reference out of {name} \
                         {outcome}",
                        if lost { "picked up" } else { "were back on" }
                    ) + if lost { "." } else { "" },
                    lap.throttle_pickup_m.unwrap_or(lap.apex_m),
                )
            } else if e.full_later_m.is_some_and(|d| d >= t) {
                let d = absolute(lap.full_throttle_m, reference.full_throttle_m);
                facts.pair("full_throttle_m", |m| m.full_throttle_m);
                (
                    format!(
                        "You reached full throttle {d:.0} m {word} than the reference out of \
                         {name} {outcome}"
                    ) + if lost { "." } else { "" },
                    lap.full_throttle_m.unwrap_or(lap.apex_m),
                )
            } else if signs.less_throttle_out() && !e.never_full {
                facts.pair("exit_throttle", |m| Some(m.exit_throttle));
                let (l, r) = (lap.exit_throttle * 100.0, reference.exit_throttle * 100.0);
                (
                    if lost {
                        format!(
                            "You opened the throttle out of {name} more slowly than the \
                             reference: {l:.0} % against {r:.0} % on average over its exit, \
                             {outcome}. Squeeze it on sooner."
                        )
                    } else {
                        format!(
                            "You opened the throttle out of {name} sooner than the reference: \
                             {l:.0} % against {r:.0} % on average over its exit, \
                             {outcome}"
                        )
                    },
                    lap.throttle_pickup_m.unwrap_or(lap.apex_m),
                )
            } else {
                facts.pair("full_throttle_m", |m| m.full_throttle_m);
                facts.pair("exit_speed_kmh", |m| Some(m.exit_speed_kmh));
                let (never, did) = if lost {
                    (lap, reference)
                } else {
                    (reference, lap)
                };
                let _ = never;
                (
                    if lost {
                        format!(
                            "You never reached full throttle out of {name} before the next \
                             corner (the reference did at {:.0} m) {outcome}.",
                            did.full_throttle_m.unwrap_or(0.0)
                        )
                    } else {
                        format!(
                            "You reached full throttle out of {name} at {:.0} m where the \
                             reference never did before the next corner, {outcome}",
                            did.full_throttle_m.unwrap_or(0.0)
                        )
                    },
                    did.full_throttle_m.unwrap_or(lap.apex_m),
                )
            }
        }
        (Cause::Coasting, lost) => {
            facts.pair("lift_point_m", |m| m.lift_point_m);
            facts.pair("brake_point_m", |m| m.brake_point_m);
            facts.pair("coasting_m", |m| Some(m.coasting_m));
            let (lifter, other) = if lost {
                (lap, reference)
            } else {
                (reference, lap)
            };
            let lift = lifter.lift_point_m;
            let at = lift.unwrap_or(report.corner.start_m);
            let text = match (lift, lost) {
                (Some(l), true) => {
                    let before = lifter.brake_point_m.unwrap_or(lifter.apex_m) - l;
                    match other.lift_point_m {
                        Some(o) => format!(
                            "You lifted {:.0} m earlier than the reference before {name} (at \
                             {l:.0} m, {before:.0} m before braking) {outcome}: stay flat to the \
                             brake point.",
                            o - l
                        ),
                        None => format!(
                            "You lifted at {l:.0} m, {before:.0} m before braking for {name}, \
                             where the reference stayed flat, {outcome}: stay flat to the brake \
                             point."
                        ),
                    }
                }
                (Some(l), false) => match other.lift_point_m {
                    Some(o) => format!(
                        "You stayed flat {:.0} m longer than the reference before {name} {outcome}",
                        o - l
                    ),
                    None => format!(
                        "You stayed flat to the brake point of {name} where the reference lifted \
                         at {l:.0} m, {outcome}"
                    ),
                },
                (None, true) => format!(
                    "You coasted {:.0} m longer than the reference (off both pedals) into \
                     {name} {outcome}: stay on the throttle and brake once.",
                    lap.coasting_m - reference.coasting_m
                ),
                (None, false) => format!(
                    "You coasted {:.0} m less than the reference into {name} {outcome}",
                    reference.coasting_m - lap.coasting_m
                ),
            };
            (text, at)
        }
        (Cause::MidCornerLift, lost) => {
            facts.pair("mid_corner_lift_m", |m| Some(m.mid_corner_lift_m));
            let text = if lost {
                format!(
                    "You lifted for {:.0} m more than the reference in {name}, where it stayed \
                     on the throttle, {outcome}: commit to the throttle once it is on.",
                    lap.mid_corner_lift_m - reference.mid_corner_lift_m
                )
            } else {
                format!(
                    "You stayed on the throttle through {name} where the reference lifted for \
                     {:.0} m more, {outcome}",
                    reference.mid_corner_lift_m - lap.mid_corner_lift_m
                )
            };
            let at = lap
                .throttle_pickup_m
                .filter(|_| lap.brake_point_m.is_some())
                .unwrap_or(report.corner.apex_m);
            (text, at)
        }
        (Cause::LowerGear, lost) => {
            facts.pair("gear_at_apex", |m| Some(f64::from(m.gear_at_apex)));
            facts.pair("exit_speed_kmh", |m| Some(m.exit_speed_kmh));
            let exit = (lap.exit_speed_kmh - reference.exit_speed_kmh).abs();
            let text = if lost {
                format!(
                    "You took {name} in gear {} where the reference used {} {outcome}: the exit \
                     was {exit:.1} km/h slower ({:.1} against {:.1} km/h). Use the higher gear.",
                    lap.gear_at_apex,
                    reference.gear_at_apex,
                    lap.exit_speed_kmh,
                    reference.exit_speed_kmh
                )
            } else {
                format!(
                    "You took {name} in gear {} where the reference used {} {outcome}, {exit:.1} \
                     km/h faster out of it",
                    lap.gear_at_apex, reference.gear_at_apex
                )
            };
            (text, lap.apex_m)
        }
        (Cause::SlowExit, lost) => {
            facts.pair("exit_speed_kmh", |m| Some(m.exit_speed_kmh));
            let d = (lap.exit_speed_kmh - reference.exit_speed_kmh).abs();
            let text = if lost {
                format!(
                    "You left {name} {d:.1} km/h slower than the reference ({:.1} against {:.1} \
                     km/h) with the same inputs {outcome}, most of it down the straight after: \
                     look at the exit line and the traction.",
                    lap.exit_speed_kmh, reference.exit_speed_kmh
                )
            } else {
                format!(
                    "You left {name} {d:.1} km/h faster than the reference ({:.1} against {:.1} \
                     km/h) {outcome}, most of it down the straight after",
                    lap.exit_speed_kmh, reference.exit_speed_kmh
                )
            };
            (text, report.corner.end_m)
        }
        (Cause::Line, lost) => {
            facts.pair("turn_in_m", |m| m.turn_in_m);
            let text = if lost {
                format!(
                    "You lost {} in {name} with the same brake point, apex speed and throttle \
                     as the reference: look at your line.",
                    secs(loss.unwrap_or(0.0))
                )
            } else {
                format!(
                    "You gained {} in {name} with the same brake point, apex speed and \
                     throttle as the reference: a better line",
                    secs(gained)
                )
            };
            (text, report.corner.apex_m)
        }
        (Cause::General, lost) => (
            if lost {
                format!("You lost {} in {name}.", secs(loss.unwrap_or(0.0)))
            } else {
                format!("You gained {} in {name}", secs(gained))
            },
            report.corner.apex_m,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{Corner, CornerMetrics, PhaseLosses};

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
            lift_point_m: None,
            mid_corner_lift_m: 0.0,
            entry_speed_kmh: 200.0,
            slowest_from_m: 0.0,
            exit_throttle: 0.8,
        }
    }

    fn analysis(lap: CornerMetrics, loss: f64) -> Analysis {
        let corner = Corner::numbered("T1", 350.0, 460.0, 600.0);
        let segment = |name: &str, kind, start_m, end_m, time_loss_s| SegmentLoss {
            name: String::from(name),
            kind,
            start_m,
            end_m,
            time_loss_s,
            own_loss_s: time_loss_s,
        };
        Analysis {
            track_length_m: 1000.0,
            lap_time_ms: 60_000 + (loss * 1000.0) as i32,
            reference_lap_time_ms: 60_000,
            gap_s: loss,
            corners: vec![CornerReport {
                corner,
                time_loss_s: loss,
                attributed_loss_s: 0.0,
                phases: PhaseLosses::default(),
                slower_at: None,
                faster_at: None,
                lap,
                reference: metrics(),
            }],
            segments: vec![
                segment("Start–T1", SegmentKind::Straight, 0.0, 350.0, 0.0),
                segment("T1", SegmentKind::Corner, 350.0, 600.0, loss),
                segment("T1–Finish", SegmentKind::Straight, 600.0, 1000.0, 0.0),
            ],
            start_speed_kmh: 200.0,
            reference_start_speed_kmh: 200.0,
            from_line_loss_s: 0.0,
            follows_previous_lap: false,
            lap_kind: None,
            reference_kind: None,
        }
    }

    #[test]
    fn each_symptom_gets_its_type() {
        type Edit = fn(&mut CornerMetrics);
        let cases: [(Edit, SuggestionType, Cause); 5] = [
            (
                |m| m.brake_point_m = Some(368.0),
                SuggestionType::Braking,
                Cause::EarlyBraking,
            ),
            (
                |m| m.min_speed_kmh = 86.0,
                SuggestionType::CornerSpeed,
                Cause::LowApexSpeed,
            ),
            (
                |m| m.full_throttle_m = Some(520.0),
                SuggestionType::Throttle,
                Cause::LateThrottle,
            ),
            (
                |m| m.coasting_m = 40.0,
                SuggestionType::Coasting,
                Cause::Coasting,
            ),
            (|_| {}, SuggestionType::Line, Cause::Line),
        ];
        for (edit, kind, cause) in cases {
            let mut lap = metrics();
            edit(&mut lap);
            let s = heuristic_suggestions(&analysis(lap, 0.41));
            assert_eq!(s.len(), 1);
            assert_eq!((s[0].kind, s[0].cause), (kind, cause), "{}", s[0].message);
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
    fn the_largest_phase_names_the_cause() {
        // Braked 8 m later and 16 km/h slower at the apex, a gear lower: the braking phase
        // holds the loss, the approach a gain.
        let mut lap = metrics();
        lap.brake_point_m = Some(408.0);
        lap.min_speed_kmh = 74.0;
        lap.gear_at_apex = 1;
        let mut a = analysis(lap, 0.4);
        a.corners[0].phases = PhaseLosses {
            approach_s: -0.15,
            braking_s: 0.5,
            exit_s: 0.05,
            line_s: 0.0,
        };
        a.corners[0].attributed_loss_s = 0.4;
        let s = heuristic_suggestions(&a);
        assert_eq!(s[0].cause, Cause::LateBrakingOverslowed, "{}", s[0].message);
        assert!(
            s[0].message.contains("8 m later")
                && s[0].message.contains("a gear lower (1 against 2)"),
            "{}",
            s[0].message
        );
        // The same corner the other way round is a strength: the reference overshot.
        for c in &mut a.corners {
            *c = mirrored(c);
        }
        let strengths = heuristic_strengths(&a);
        assert_eq!(strengths.len(), 1);
        assert_eq!(strengths[0].cause, Cause::LateBrakingOverslowed);
        assert!((strengths[0].time_gained_s - 0.4).abs() < 1e-12);
        assert!(
            strengths[0].message.ends_with("keep that."),
            "{}",
            strengths[0].message
        );
    }

    #[test]
    fn small_losses_and_gains_say_nothing() {
        assert!(heuristic_suggestions(&analysis(metrics(), 0.01)).is_empty());
        assert!(heuristic_suggestions(&analysis(metrics(), -0.3)).is_empty());
        assert!(heuristic_strengths(&analysis(metrics(), -0.04)).is_empty());
        assert_eq!(heuristic_strengths(&analysis(metrics(), -0.3)).len(), 1);
        assert_eq!(severity_for(0.15), Severity::Warning);
        assert_eq!(severity_for(0.05), Severity::Info);
    }

    #[test]
    fn a_slow_start_is_the_previous_laps_last_corner() {
        let mut a = analysis(metrics(), 0.0);
        a.from_line_loss_s = 0.12;
        a.start_speed_kmh = 195.5;
        a.follows_previous_lap = true;
        let s = heuristic_suggestions(&a);
        assert_eq!(s.len(), 1);
        assert_eq!(
            (s[0].cause, s[0].corner.as_deref()),
            (Cause::SlowExit, Some("T1"))
        );
        assert!(s[0].message.contains("4.5 km/h slower"), "{}", s[0].message);
        a.follows_previous_lap = false;
        let s = heuristic_suggestions(&a);
        assert_eq!((s[0].cause, s[0].corner.as_deref()), (Cause::General, None));
    }
}
