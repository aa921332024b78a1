//! [`habits`]: a cause seen at the same corner in most of a session's recent laps.

use serde::{Deserialize, Serialize};

use super::thresholds::Thresholds;
use super::{Cause, Suggestion};

/// A cause the driver repeats at one corner: "in 4 of your last 6 laps you braked early into
/// Tosa, 0.30 s a lap on average".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Habit {
    /// The corner, by its name.
    pub corner: String,
    /// The cause repeated.
    pub cause: Cause,
    /// In how many of the laps looked at.
    pub laps: usize,
    /// How many laps were looked at (the most recent, at most [`Thresholds::habit_laps`]).
    pub of_laps: usize,
    /// The loss it cost on average over the laps it was seen in, s.
    pub average_loss_s: f64,
    /// The sentence.
    pub message: String,
}

/// What a driver did, for "you … Tosa".
fn doing(cause: Cause, corner: &str) -> String {
    match cause {
        Cause::EarlyBraking => format!("braked early into {corner}"),
        Cause::LateBrakingOverslowed => format!("braked late into {corner} and over-slowed"),
        Cause::LowApexSpeed => format!("were slow at the apex of {corner}"),
        Cause::LateThrottle => format!("were late on the throttle out of {corner}"),
        Cause::Coasting => format!("lifted and coasted before {corner}"),
        Cause::MidCornerLift => format!("lifted in the middle of {corner}"),
        Cause::LowerGear => format!("took {corner} a gear too low"),
        Cause::SlowExit => format!("left {corner} slowly"),
        Cause::Line => format!("lost time on the line through {corner}"),
        Cause::General => format!("lost time at {corner}"),
    }
}

/// The habits in a session's laps: `laps` holds each lap's suggestions, oldest first. Over the
/// most recent [`Thresholds::habit_laps`] (6) laps, a cause at one corner is a habit when it
/// is seen in at least [`Thresholds::habit_min_laps`] (2) of them and in more than half.
/// Habits come largest total loss first.
///
/// ```
/// use purple_sector_core::analysis::{habits, Cause, Severity, Suggestion, SuggestionType};
///
/// let braked_early = |loss: f64| Suggestion {
///     id: "Tosa-braking".into(),
///     kind: SuggestionType::Braking,
///     cause: Cause::EarlyBraking,
///     corner: Some("Tosa".into()),
///     message: String::new(),
///     severity: Severity::Warning,
///     position: 0.35,
///     distance_m: 1_590.0,
///     time_loss_s: loss,
///     evidence: Default::default(),
/// };
/// let laps = vec![
///     vec![braked_early(0.2)],
///     vec![],
///     vec![braked_early(0.4)],
///     vec![braked_early(0.3)],
///     vec![],
///     vec![braked_early(0.3)],
/// ];
/// let found = habits(&laps);
/// assert_eq!(found.len(), 1);
/// assert_eq!(
///     found[0].message,
///     "In 4 of your last 6 laps you braked early into Tosa, 0.30 s a lap on average."
/// );
/// ```
pub fn habits(laps: &[Vec<Suggestion>]) -> Vec<Habit> {
    habits_with(laps, &Thresholds::default())
}

/// [`habits`] with given thresholds.
pub fn habits_with(laps: &[Vec<Suggestion>], thresholds: &Thresholds) -> Vec<Habit> {
    let recent = &laps[laps.len().saturating_sub(thresholds.habit_laps.max(1))..];
    let of_laps = recent.len();
    // (corner, cause) → losses, one per lap it was seen in.
    let mut seen: Vec<((String, Cause), Vec<f64>)> = Vec::new();
    for lap in recent {
        let mut this_lap: Vec<(String, Cause)> = Vec::new();
        for s in lap {
            let Some(corner) = &s.corner else {
                continue;
            };
            let key = (corner.clone(), s.cause);
            if this_lap.contains(&key) {
                continue;
            }
            this_lap.push(key.clone());
            match seen.iter_mut().find(|(k, _)| *k == key) {
                Some((_, losses)) => losses.push(s.time_loss_s),
                None => seen.push((key, vec![s.time_loss_s])),
            }
        }
    }
    let mut out: Vec<Habit> = seen
        .into_iter()
        .filter(|(_, losses)| {
            losses.len() >= thresholds.habit_min_laps && 2 * losses.len() > of_laps
        })
        .map(|((corner, cause), losses)| {
            let average_loss_s = losses.iter().sum::<f64>() / losses.len() as f64;
            let message = format!(
                "In {} of your last {of_laps} laps you {}, {average_loss_s:.2} s a lap on average.",
                losses.len(),
                doing(cause, &corner)
            );
            Habit {
                corner,
                cause,
                laps: losses.len(),
                of_laps,
                average_loss_s,
                message,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (b.average_loss_s * b.laps as f64)
            .total_cmp(&(a.average_loss_s * a.laps as f64))
            .then_with(|| a.corner.cmp(&b.corner))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{Severity, SuggestionType};

    fn at(corner: &str, cause: Cause, loss: f64) -> Suggestion {
        Suggestion {
            id: format!("{corner}-{cause}"),
            kind: cause.suggestion_type(),
            cause,
            corner: Some(corner.into()),
            message: String::new(),
            severity: Severity::Info,
            position: 0.0,
            distance_m: 0.0,
            time_loss_s: loss,
            evidence: Default::default(),
        }
    }

    #[test]
    fn half_is_not_most() {
        let laps = vec![
            vec![at("T1", Cause::LateThrottle, 0.1)],
            vec![],
            vec![at("T1", Cause::LateThrottle, 0.1)],
            vec![],
        ];
        assert!(habits(&laps).is_empty());
        // Only the last six laps count: two old ones do not make it.
        let mut laps = vec![vec![at("T1", Cause::Coasting, 0.2)]; 2];
        laps.extend(vec![Vec::new(); 6]);
        assert!(habits(&laps).is_empty());
        // One lap is never a habit.
        assert!(habits(&[vec![at("T1", Cause::Coasting, 0.2)]]).is_empty());
        let two = vec![
            vec![
                at("T1", Cause::Coasting, 0.2),
                at("T1", Cause::Coasting, 0.1),
            ],
            vec![at("T1", Cause::Coasting, 0.4)],
            vec![at("T2", Cause::Line, 0.4)],
        ];
        let found = habits(&two);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].laps, found[0].of_laps), (2, 3));
        assert!((found[0].average_loss_s - 0.3).abs() < 1e-12);
        assert_eq!(found[0].cause.suggestion_type(), SuggestionType::Coasting);
    }
}
