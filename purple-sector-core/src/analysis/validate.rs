//! Checking suggestions against the fact table: nothing that is not measured gets through.
//!
//! [`validate_suggestions`] keeps a suggestion only when everything it states can be found
//! in the [`Analysis`]:
//!
//! - its `id` and `message` are not blank, and the id is not used by an earlier suggestion;
//! - its `corner`, when set, is one of the analysis's corners (by name, or by id), and so is
//!   every corner the message names by number (`T14`, `Turn 14`: a corner's id);
//! - every number in the message, and every `evidence` value, *matches a fact*: it equals a
//!   fact value, or the sum or difference of two fact values of the same corner and the same
//!   unit (two distances, two speeds, …), after rounding the fact to the number's precision
//!   (`0.4` matches `0.41`, `32` matches `31.6`). Signs are ignored ("gained 0.12 s" cites a
//!   loss of −0.12 s). Lap times may be written as `1:48.633`; a brake pedal of `0.95` may be
//!   written `95` (per cent);
//! - `time_loss_s` equals, within [`TIME_LOSS_TOLERANCE_S`], the time loss of its corner
//!   (its window's, or the loss it explains, [`super::CornerReport::attributed_loss_s`], or
//!   the segment of that name's), or for a suggestion without a corner the loss of some
//!   segment (or what it explains itself) or the lap gap; the loss brought over the line
//!   ([`Analysis::from_line_loss_s`]) counts for the last corner or none;
//! - `distance_m` is, to its precision, a place in the facts (a corner's start, apex or end,
//!   a brake, turn-in, apex, throttle point of either lap, a segment's start or end);
//! - `position` is within 0..1 and is, to its precision, the position of such a place;
//! - every number is finite.
//!
//! Precision is the number of decimals the value is written with, at most three (so the
//! tolerance is half a unit of its last digit, never less than 0.0005).
//!
//! ```
//! use purple_sector_core::analysis::{
//!     validate_suggestions, Analysis, Cause, Corner, CornerMetrics, CornerReport, PhaseLosses,
//!     Rejection, SegmentKind, SegmentLoss, Severity, Suggestion, SuggestionType,
//! };
//!
//! let metrics = |brake: f64, speed: f64| CornerMetrics {
//!     brake_point_m: Some(brake), peak_brake: 1.0, trail_brake_m: 10.0, turn_in_m: Some(480.0),
//!     apex_m: 520.0, min_speed_kmh: speed, throttle_pickup_m: Some(540.0),
//!     full_throttle_m: Some(600.0), coasting_m: 0.0, exit_speed_kmh: 150.0, gear_at_apex: 3,
//!     lift_point_m: None, mid_corner_lift_m: 0.0, entry_speed_kmh: 200.0, slowest_from_m: 0.0,
//!     exit_throttle: 0.8,
//! };
//! let analysis = Analysis {
//!     track_length_m: 2000.0,
//!     lap_time_ms: 60_410,
//!     reference_lap_time_ms: 60_000,
//!     gap_s: 0.41,
//!     corners: vec![CornerReport {
//!         corner: Corner::numbered("T1", 400.0, 520.0, 650.0),
//!         time_loss_s: 0.41,
//!         attributed_loss_s: 0.41,
//!         phases: PhaseLosses { approach_s: 0.41, ..PhaseLosses::default() },
//!         slower_at: None,
//!         faster_at: None,
//!         lap: metrics(412.0, 87.4),
//!         reference: metrics(444.0, 91.0),
//!     }],
//!     segments: vec![
//!         SegmentLoss { name: "Start–T1".into(), kind: SegmentKind::Straight, start_m: 0.0, end_m: 400.0, time_loss_s: 0.0, own_loss_s: 0.0 },
//!         SegmentLoss { name: "T1".into(), kind: SegmentKind::Corner, start_m: 400.0, end_m: 650.0, time_loss_s: 0.41, own_loss_s: 0.41 },
//!         SegmentLoss { name: "T1–Finish".into(), kind: SegmentKind::Straight, start_m: 650.0, end_m: 2000.0, time_loss_s: 0.0, own_loss_s: 0.0 },
//!     ],
//!     start_speed_kmh: 200.0,
//!     reference_start_speed_kmh: 200.0,
//!     from_line_loss_s: 0.0,
//!     follows_previous_lap: false,
//!     lap_kind: None,
//!     reference_kind: None,
//! };
//! let suggestion = |message: &str| Suggestion {
//!     id: format!("T1-{}", message.len()),
//!     kind: SuggestionType::Braking,
//!     cause: Cause::EarlyBraking,
//!     corner: Some("T1".into()),
//!     message: message.into(),
//!     severity: Severity::Critical,
//!     position: 0.206,
//!     distance_m: 412.0,
//!     time_loss_s: 0.41,
//!     evidence: Default::default(),
//! };
//! let (kept, rejected) = validate_suggestions(&analysis, vec![
//!     // 32 m = 444 − 412, both brake points of T1; 0.41 s is T1's loss.
//!     suggestion("You braked 32 m earlier than your best into T1 and lost 0.41 s."),
//!     // Nothing in the facts is 45 m.
//!     suggestion("Brake 45 m later into T1."),
//!     // There is no T9.
//!     suggestion("Carry more speed through T9."),
//! ]);
//! assert_eq!(kept.len(), 1);
//! assert_eq!(rejected[0].reason, Rejection::NumberNotInFacts { number: "45".into() });
//! assert_eq!(rejected[1].reason, Rejection::UnknownCorner { corner: "T9".into() });
//! ```

use std::collections::BTreeSet;
use std::fmt;

use super::{Analysis, CornerMetrics, CornerReport, Suggestion};

/// How far `time_loss_s` may be from the measured loss, s.
pub const TIME_LOSS_TOLERANCE_S: f64 = 0.005;

/// The most decimals a number is compared with (so the smallest tolerance is 0.0005).
const MAX_DECIMALS: u32 = 3;

/// Why a suggestion was rejected, with the offending value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Rejection {
    /// The id is blank.
    EmptyId,
    /// An earlier suggestion has the same id.
    DuplicateId {
        /// The id.
        id: String,
    },
    /// The message is blank.
    EmptyMessage,
    /// The `corner` field, or a corner named in the message, is not a corner of the analysis.
    UnknownCorner {
        /// The corner as cited (`T14`).
        corner: String,
    },
    /// A number in the message matches no fact.
    NumberNotInFacts {
        /// The number as written in the message (`0.73`, `1:47.2`).
        number: String,
    },
    /// An `evidence` value matches no fact.
    EvidenceNotInFacts {
        /// The evidence's name.
        name: String,
        /// Its value.
        value: f64,
    },
    /// `time_loss_s` is not the measured loss of the corner (or of any segment).
    TimeLossMismatch {
        /// The suggestion's value, s.
        claimed: f64,
        /// The corner's measured loss, s; `None` for a suggestion without a corner.
        expected: Option<f64>,
    },
    /// `position` is outside 0..1.
    PositionOutOfRange {
        /// The value.
        position: f64,
    },
    /// `position` is not the position of any place in the facts.
    PositionNotInFacts {
        /// The value.
        position: f64,
    },
    /// `distance_m` is not a place in the facts.
    DistanceNotInFacts {
        /// The value, m.
        distance_m: f64,
    },
    /// A number field is NaN or infinite.
    NotFinite {
        /// The field (`position`, `distance_m`, `time_loss_s`, or the evidence's name).
        field: String,
    },
}

impl fmt::Display for Rejection {
    /// Reads after "the suggestion …" or "the LLM reply …": "cited T14, which does not
    /// exist".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyId => f.write_str("has a suggestion without an id"),
            Self::DuplicateId { id } => write!(f, "repeated the suggestion id {id:?}"),
            Self::EmptyMessage => f.write_str("has a suggestion without a message"),
            Self::UnknownCorner { corner } => write!(f, "cited {corner}, which does not exist"),
            Self::NumberNotInFacts { number } => {
                write!(f, "cited {number}, which is not in the measurements")
            }
            Self::EvidenceNotInFacts { name, value } => {
                write!(f, "gave {name} = {value}, which is not in the measurements")
            }
            Self::TimeLossMismatch {
                claimed,
                expected: Some(expected),
            } => write!(
                f,
                "gave a time loss of {claimed:.3} s where the measurements say {expected:.3} s"
            ),
            Self::TimeLossMismatch {
                claimed,
                expected: None,
            } => write!(
                f,
                "gave a time loss of {claimed:.3} s, which matches no segment of the lap"
            ),
            Self::PositionOutOfRange { position } => {
                write!(f, "gave a position of {position}, outside 0..1")
            }
            Self::PositionNotInFacts { position } => {
                write!(
                    f,
                    "gave a position of {position}, which is no measured place"
                )
            }
            Self::DistanceNotInFacts { distance_m } => {
                write!(
                    f,
                    "gave a distance of {distance_m} m, which is no measured place"
                )
            }
            Self::NotFinite { field } => write!(f, "gave {field} as a non-finite number"),
        }
    }
}

/// A suggestion that did not pass [`validate_suggestions`], and the first reason found.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// The suggestion as given.
    pub suggestion: Suggestion,
    /// Why it was dropped.
    pub reason: Rejection,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "suggestion {:?} {}", self.suggestion.id, self.reason)
    }
}

/// Splits suggestions into those whose every statement is in the facts (in their order) and
/// those rejected, each with its first failing rule. See the [module docs](self) for the
/// rules.
pub fn validate_suggestions(
    analysis: &Analysis,
    suggestions: Vec<Suggestion>,
) -> (Vec<Suggestion>, Vec<Rejected>) {
    let facts = Facts::new(analysis);
    let mut ids = BTreeSet::new();
    let mut kept = Vec::new();
    let mut rejected = Vec::new();
    for suggestion in suggestions {
        match facts.check(&suggestion, &ids) {
            Ok(()) => {
                ids.insert(suggestion.id.clone());
                kept.push(suggestion);
            }
            Err(reason) => rejected.push(Rejected { suggestion, reason }),
        }
    }
    (kept, rejected)
}

/// What a fact value measures; sums and differences are taken within one unit only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// Metres: places on the lap and lengths.
    Metre,
    /// Speeds, km/h.
    Speed,
    /// Times, s.
    Second,
    /// Pedal fractions, 0..1.
    Fraction,
    /// Pedal fractions as per cent.
    Percent,
    /// Gears.
    Gear,
}

/// The fact table, flattened for matching.
struct Facts<'a> {
    analysis: &'a Analysis,
    /// Values of one corner each (plus one group for the lap as a whole and one per
    /// segment); sums and differences are taken within a group.
    groups: Vec<Vec<(f64, Unit)>>,
    /// Every place on the lap, m.
    places: Vec<f64>,
    /// Corner names and ids.
    corners: BTreeSet<&'a str>,
}

impl<'a> Facts<'a> {
    fn new(analysis: &'a Analysis) -> Self {
        let mut groups = Vec::new();
        let mut places = vec![0.0, analysis.track_length_m];
        groups.push(vec![
            (analysis.track_length_m, Unit::Metre),
            (f64::from(analysis.lap_time_ms) / 1000.0, Unit::Second),
            (
                f64::from(analysis.reference_lap_time_ms) / 1000.0,
                Unit::Second,
            ),
            (analysis.gap_s, Unit::Second),
            (analysis.from_line_loss_s, Unit::Second),
            (analysis.start_speed_kmh, Unit::Speed),
            (analysis.reference_start_speed_kmh, Unit::Speed),
        ]);
        for segment in &analysis.segments {
            places.extend([segment.start_m, segment.end_m]);
            groups.push(vec![
                (segment.start_m, Unit::Metre),
                (segment.end_m, Unit::Metre),
                (segment.time_loss_s, Unit::Second),
                (segment.own_loss_s, Unit::Second),
            ]);
        }
        for report in &analysis.corners {
            let mut group = vec![
                (report.corner.start_m, Unit::Metre),
                (report.corner.apex_m, Unit::Metre),
                (report.corner.end_m, Unit::Metre),
                (report.time_loss_s, Unit::Second),
                (report.attributed_loss_s, Unit::Second),
                (report.phases.approach_s, Unit::Second),
                (report.phases.braking_s, Unit::Second),
                (report.phases.exit_s, Unit::Second),
                (report.phases.line_s, Unit::Second),
            ];
            places.extend([
                report.corner.start_m,
                report.corner.apex_m,
                report.corner.end_m,
            ]);
            for metrics in [&report.lap, &report.reference] {
                push_metrics(metrics, &mut group, &mut places);
            }
            for gap in [report.slower_at, report.faster_at].into_iter().flatten() {
                group.extend([
                    (gap.at_m, Unit::Metre),
                    (gap.lap_kmh, Unit::Speed),
                    (gap.reference_kmh, Unit::Speed),
                ]);
                places.push(gap.at_m);
            }
            groups.push(group);
        }
        places.retain(|p| p.is_finite());
        Self {
            analysis,
            groups,
            places,
            corners: analysis
                .corners
                .iter()
                .flat_map(|c| [c.corner.name.as_str(), c.corner.id.as_str()])
                .filter(|n| !n.is_empty())
                .collect(),
        }
    }

    fn check(&self, s: &Suggestion, ids: &BTreeSet<String>) -> Result<(), Rejection> {
        if s.id.trim().is_empty() {
            return Err(Rejection::EmptyId);
        }
        if ids.contains(&s.id) {
            return Err(Rejection::DuplicateId { id: s.id.clone() });
        }
        if s.message.trim().is_empty() {
            return Err(Rejection::EmptyMessage);
        }
        for (field, value) in [
            ("position", s.position),
            ("distance_m", s.distance_m),
            ("time_loss_s", s.time_loss_s),
        ] {
            if !value.is_finite() {
                return Err(Rejection::NotFinite {
                    field: field.into(),
                });
            }
        }
        let report = match &s.corner {
            Some(name) => Some(
                self.analysis
                    .corner(name)
                    .or_else(|| self.analysis.corners.iter().find(|c| c.corner.id == *name))
                    .ok_or_else(|| Rejection::UnknownCorner {
                        corner: name.clone(),
                    })?,
            ),
            None => None,
        };
        for token in tokens(&s.message) {
            match token {
                Token::Corner(name) => {
                    if !self.corners.contains(name.as_str()) {
                        return Err(Rejection::UnknownCorner { corner: name });
                    }
                }
                Token::Number {
                    text,
                    value,
                    decimals,
                } => {
                    if !self.matches(value, decimals) {
                        return Err(Rejection::NumberNotInFacts { number: text });
                    }
                }
            }
        }
        self.check_time_loss(s, report)?;
        if !self.is_place(s.distance_m, decimals_of(s.distance_m)) {
            return Err(Rejection::DistanceNotInFacts {
                distance_m: s.distance_m,
            });
        }
        if !(0.0..=1.0).contains(&s.position) {
            return Err(Rejection::PositionOutOfRange {
                position: s.position,
            });
        }
        let tolerance = tolerance(decimals_of(s.position));
        if !self
            .places
            .iter()
            .any(|&p| (self.analysis.position(p) - s.position).abs() <= tolerance)
        {
            return Err(Rejection::PositionNotInFacts {
                position: s.position,
            });
        }
        for (name, &value) in &s.evidence {
            if !value.is_finite() {
                return Err(Rejection::NotFinite {
                    field: name.clone(),
                });
            }
            if !self.matches(value, decimals_of(value)) {
                return Err(Rejection::EvidenceNotInFacts {
                    name: name.clone(),
                    value,
                });
            }
        }
        Ok(())
    }

    fn check_time_loss(
        &self,
        s: &Suggestion,
        report: Option<&CornerReport>,
    ) -> Result<(), Rejection> {
        let close = |loss: f64| (loss - s.time_loss_s).abs() <= TIME_LOSS_TOLERANCE_S + 1e-9;
        let over_the_line = close(self.analysis.from_line_loss_s);
        let ok = match report {
            Some(report) => {
                close(report.time_loss_s)
                    || close(report.attributed_loss_s)
                    || self
                        .analysis
                        .segments
                        .iter()
                        .any(|seg| seg.name == report.corner.name && close(seg.time_loss_s))
                    || (over_the_line
                        && self
                            .analysis
                            .corners
                            .last()
                            .is_some_and(|last| last.corner.name == report.corner.name))
            }
            None => {
                close(self.analysis.gap_s)
                    || over_the_line
                    || self
                        .analysis
                        .segments
                        .iter()
                        .any(|seg| close(seg.time_loss_s) || close(seg.own_loss_s))
            }
        };
        if ok {
            Ok(())
        } else {
            Err(Rejection::TimeLossMismatch {
                claimed: s.time_loss_s,
                expected: report.map(|r| r.time_loss_s),
            })
        }
    }

    /// Is `value` (to `decimals`) a place on the lap?
    fn is_place(&self, value: f64, decimals: u32) -> bool {
        let tolerance = tolerance(decimals);
        self.places.iter().any(|&p| (p - value).abs() <= tolerance)
    }

    /// Does `value` (to `decimals`, sign ignored) equal a fact, or the sum or difference of
    /// two facts of one group and unit?
    fn matches(&self, value: f64, decimals: u32) -> bool {
        let tolerance = tolerance(decimals);
        let target = value.abs();
        let close = |fact: f64| (fact.abs() - target).abs() <= tolerance;
        self.groups.iter().any(|group| {
            group.iter().enumerate().any(|(i, &(a, unit))| {
                close(a)
                    || group[i + 1..]
                        .iter()
                        .any(|&(b, other)| other == unit && (close(a - b) || close(a + b)))
            })
        })
    }
}

fn push_metrics(m: &CornerMetrics, group: &mut Vec<(f64, Unit)>, places: &mut Vec<f64>) {
    for place in [
        m.brake_point_m,
        m.turn_in_m,
        Some(m.apex_m),
        m.throttle_pickup_m,
        m.full_throttle_m,
    ]
    .into_iter()
    .flatten()
    {
        group.push((place, Unit::Metre));
        places.push(place);
    }
    group.extend([
        (m.trail_brake_m, Unit::Metre),
        (m.coasting_m, Unit::Metre),
        (m.min_speed_kmh, Unit::Speed),
        (m.exit_speed_kmh, Unit::Speed),
        (m.peak_brake, Unit::Fraction),
        (m.peak_brake * 100.0, Unit::Percent),
        (f64::from(m.gear_at_apex), Unit::Gear),
        (m.mid_corner_lift_m, Unit::Metre),
        (m.entry_speed_kmh, Unit::Speed),
        (m.exit_throttle, Unit::Fraction),
        (m.exit_throttle * 100.0, Unit::Percent),
    ]);
    if let Some(lift) = m.lift_point_m {
        group.push((lift, Unit::Metre));
        places.push(lift);
    }
}

/// Half a unit of the last of `decimals` digits (a hair more, for binary rounding).
fn tolerance(decimals: u32) -> f64 {
    0.5 * 10f64.powi(-i32::try_from(decimals.min(MAX_DECIMALS)).unwrap_or(0)) + 1e-9
}

/// How many decimals a value is written with (shortest round-trip form), at most three.
fn decimals_of(value: f64) -> u32 {
    let text = value.to_string();
    text.split_once('.')
        .map_or(0, |(_, frac)| {
            u32::try_from(frac.len()).unwrap_or(MAX_DECIMALS)
        })
        .min(MAX_DECIMALS)
}

/// What the message cites.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A corner: `T3`, or `Turn 3` read as `T3`.
    Corner(String),
    /// A number (`m:ss.sss` lap times as seconds).
    Number {
        text: String,
        value: f64,
        decimals: u32,
    },
}

/// The corners and numbers of a message, in order. Digits inside words (`V8`, `A2`) are
/// neither; thousands separators (`1,250`) are read as one number.
fn tokens(message: &str) -> Vec<Token> {
    let chars: Vec<char> = message.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let digits_from = |start: usize| {
        let mut end = start;
        while end < chars.len() && chars[end].is_ascii_digit() {
            end += 1;
        }
        end
    };
    while i < chars.len() {
        let c = chars[i];
        let word_start = i == 0 || !chars[i - 1].is_alphanumeric();
        // `T3`
        if c == 'T' && word_start && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
            let end = digits_from(i + 1);
            if !chars.get(end).is_some_and(|c| c.is_alphanumeric()) {
                out.push(Token::Corner(chars[i..end].iter().collect()));
                i = end;
                continue;
            }
        }
        // `Turn 3`
        if word_start && (c == 'T' || c == 't') {
            let word: String = chars[i..(i + 4).min(chars.len())].iter().collect();
            if word.eq_ignore_ascii_case("turn") {
                let mut j = i + 4;
                while j < chars.len() && chars[j] == ' ' {
                    j += 1;
                }
                if j > i + 4 && chars.get(j).is_some_and(char::is_ascii_digit) {
                    let end = digits_from(j);
                    if !chars.get(end).is_some_and(|c| c.is_alphanumeric()) {
                        let number: String = chars[j..end].iter().collect();
                        out.push(Token::Corner(format!("T{number}")));
                        i = end;
                        continue;
                    }
                }
            }
        }
        if c.is_ascii_digit() {
            let inside_word = i > 0 && chars[i - 1].is_alphabetic();
            let (token, end) = number_at(&chars, i);
            if !inside_word {
                out.push(token);
            }
            i = end;
            continue;
        }
        if c.is_alphanumeric() {
            // Skip the rest of the word, digits included.
            while i < chars.len() && chars[i].is_alphabetic() {
                i += 1;
            }
            continue;
        }
        i += 1;
    }
    out
}

/// The number starting at `start` (a digit), and where it ends.
fn number_at(chars: &[char], start: usize) -> (Token, usize) {
    let digits = |from: usize| {
        let mut end = from;
        while end < chars.len() && chars[end].is_ascii_digit() {
            end += 1;
        }
        end
    };
    let mut end = digits(start);
    let integer: String = chars[start..end].iter().collect();
    // Thousands separators: `1,250` (three digits after each comma, at most three before
    // the first).
    if end - start <= 3 {
        while chars.get(end) == Some(&',')
            && digits(end + 1) == end + 4
            && !chars.get(end + 4).is_some_and(char::is_ascii_digit)
        {
            end += 4;
        }
    }
    // `m:ss` or `m:ss.sss`
    if chars.get(end) == Some(&':') && digits(end + 1) == end + 3 {
        let minutes: f64 = integer.parse().unwrap_or(0.0);
        let (seconds, decimals, seconds_end) = decimal_part(chars, end + 1, digits(end + 1));
        let text: String = chars[start..seconds_end].iter().collect();
        return (
            Token::Number {
                text,
                value: minutes * 60.0 + seconds,
                decimals,
            },
            seconds_end,
        );
    }
    let (value, decimals, number_end) = decimal_part(chars, start, end);
    let text: String = chars[start..number_end].iter().collect();
    (
        Token::Number {
            text,
            value,
            decimals,
        },
        number_end,
    )
}

/// Reads `digits[start..integer_end]` plus an optional `.digits`: value, decimals, end.
fn decimal_part(chars: &[char], start: usize, integer_end: usize) -> (f64, u32, usize) {
    let mut end = integer_end;
    let mut decimals = 0;
    if chars.get(end) == Some(&'.') && chars.get(end + 1).is_some_and(char::is_ascii_digit) {
        end += 1;
        while end < chars.len() && chars[end].is_ascii_digit() {
            end += 1;
            decimals += 1;
        }
    }
    let text: String = chars[start..end].iter().filter(|c| **c != ',').collect();
    (text.parse().unwrap_or(f64::NAN), decimals, end)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn numbers(message: &str) -> Vec<(String, f64, u32)> {
        tokens(message)
            .into_iter()
            .filter_map(|t| match t {
                Token::Number {
                    text,
                    value,
                    decimals,
                } => Some((text, value, decimals)),
                Token::Corner(_) => None,
            })
            .collect()
    }

    #[test]
    fn tokens_read_corners_numbers_and_lap_times() {
        assert_eq!(
            tokens("Into T3, brake 32 m later; Turn 14 costs 0.41 s."),
            vec![
                Token::Corner("T3".into()),
                Token::Number {
                    text: "32".into(),
                    value: 32.0,
                    decimals: 0
                },
                Token::Corner("T14".into()),
                Token::Number {
                    text: "0.41".into(),
                    value: 0.41,
                    decimals: 2
                },
            ]
        );
        let n = numbers("Lap 1:48.633 against 1:49.365, track 4,909 m, V8 in 3rd gear, -0.12 s");
        assert_eq!(n[0].0, "1:48.633");
        assert!((n[0].1 - 108.633).abs() < 1e-9);
        assert_eq!(n[0].2, 3);
        assert!((n[1].1 - 109.365).abs() < 1e-9);
        assert_eq!((n[2].0.as_str(), n[2].1), ("4,909", 4909.0));
        assert_eq!((n[3].0.as_str(), n[3].1), ("3", 3.0));
        assert_eq!((n[4].0.as_str(), n[4].1, n[4].2), ("0.12", 0.12, 2));
        assert_eq!(n.len(), 5);
        // Straight names cite both corners.
        assert_eq!(
            tokens("T3–T4"),
            vec![Token::Corner("T3".into()), Token::Corner("T4".into())]
        );
        assert!(tokens("Trail braking, Turn-in").is_empty());
    }

    #[test]
    fn decimals_and_tolerance() {
        assert_eq!(decimals_of(412.0), 0);
        assert_eq!(decimals_of(0.41), 2);
        assert_eq!(decimals_of(0.123_456), 3);
        assert!((tolerance(0) - 0.5).abs() < 1e-6);
        assert!((tolerance(7) - 0.0005).abs() < 1e-6);
    }
}
