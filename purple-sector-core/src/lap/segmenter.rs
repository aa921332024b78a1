//! The segmenter's state machine: see [`LapSegmenter`] for the rules.

use super::{InvalidReason, Lap, LapEvent, LapKind, LapTime, PartialCause};
use crate::telemetry::Frame;

/// Completed laps remembered for spot events that arrive after the frame showing the lap done.
const RECENT_LAPS: usize = 4;
/// Spot events kept while waiting for the frame that shows their lap done.
const PENDING_SPOTS: usize = 8;

/// The thresholds of a [`LapSegmenter`]. [`SegmenterConfig::default`] gives the values of the
/// rules (200 ms, 5 % within 50 ms); the others are this module's choices, documented here.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmenterConfig {
    /// Largest step of the lap clock between two consecutive frames of a lap, ms (default
    /// 200). A larger step marks the lap [`InvalidReason::ClockGap`]. At the line the two
    /// halves are checked apart: from the completed lap's last frame to its official time
    /// (`ClockGap { from_ms: last clock, to_ms: official }` on the completed lap), and from 0
    /// to the next lap's first frame (`ClockGap { from_ms: 0, to_ms: first clock }` on it).
    pub max_clock_gap_ms: i32,
    /// Largest move along the track, as a fraction of a lap, allowed within
    /// [`teleport_window_ms`](Self::teleport_window_ms) of lap clock (default 0.05). The move
    /// is measured the short way round: 0.99 → 0.01 is 0.02.
    pub teleport_fraction: f32,
    /// The lap-clock span, ms, within which a move larger than
    /// [`teleport_fraction`](Self::teleport_fraction) is a teleport (default 50). Consecutive
    /// frames further apart in lap clock are not compared (feeds slower than 20 Hz need a
    /// larger window to catch teleports).
    pub teleport_window_ms: i32,
    /// A lap whose start the segmenter did not see at the line (the first frame of a stint,
    /// the first frame after [`LapSegmenter::finish`]) counts as begun at the line when its
    /// first frame's lap clock is within `0..=line_window_ms` (default 400, twice the clock
    /// gap). A lap opened by a `lap_count` increment always began at the line.
    pub line_window_ms: i32,
    /// How far the last frame's lap clock may run past the official time of the lap it
    /// completes, ms (default 10: a few frames at 333 Hz). Beyond it the segmenter emits
    /// [`LapEvent::ClockMismatch`]. The lap clock normally stops short of the official time
    /// (by less than one frame period); falling short by more than `max_clock_gap_ms` is a
    /// clock gap.
    pub clock_overrun_tolerance_ms: i32,
    /// Largest difference, ms, between a spot (lap-completed) event's time and the official
    /// time for the two to agree (default 0: both come from the game's own millisecond clock).
    pub spot_tolerance_ms: i32,
}

impl Default for SegmenterConfig {
    fn default() -> Self {
        Self {
            max_clock_gap_ms: 200,
            teleport_fraction: 0.05,
            teleport_window_ms: 50,
            line_window_ms: 400,
            clock_overrun_tolerance_ms: 10,
            spot_tolerance_ms: 0,
        }
    }
}

/// A view of the lap being driven, for checkpoints and live displays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LapInProgress<'a> {
    /// The stint it belongs to.
    pub stint: u32,
    /// Its number (`lap_count` + 1).
    pub number: i32,
    /// The frames so far, in order (never empty).
    pub frames: &'a [Frame],
    /// Whether it began at the line (see [`SegmenterConfig::line_window_ms`]).
    pub began_at_line: bool,
    /// The first reason it does not count, so far.
    pub invalid_reason: Option<InvalidReason>,
}

/// The few fields of the previous frame that the rules compare with.
#[derive(Debug, Clone, Copy)]
struct Previous {
    clock_ms: i32,
    count: i32,
    position: f32,
}

impl Previous {
    fn of(frame: &Frame) -> Self {
        Self {
            clock_ms: frame.lap_time_ms,
            count: frame.lap_count,
            position: frame.position_normalized,
        }
    }
}

#[derive(Debug, Clone)]
struct OpenLap {
    number: i32,
    began_at_line: bool,
    invalid: Option<InvalidReason>,
    frames: Vec<Frame>,
}

impl OpenLap {
    fn flag(&mut self, reason: InvalidReason) {
        self.invalid.get_or_insert(reason);
    }
}

/// How a lap opens.
#[derive(Debug, Clone, Copy)]
enum Start {
    /// Not at a line crossing the segmenter saw: stint start, or after `finish`.
    Fresh,
    /// At a `lap_count` increment. `before_line_ms` is the lap clock from the previous frame
    /// to the line (official time − previous clock), when the official time is known.
    Line {
        before_line_ms: Option<i64>,
        from_position: f32,
    },
}

#[derive(Debug, Clone, Copy)]
struct CompletedLap {
    number: i32,
    official_ms: i32,
    checked: bool,
}

#[derive(Debug, Clone, Copy)]
struct Spot {
    lap: i32,
    time_ms: i32,
}

/// Cuts the car-info stream into laps, the way the game keeps score. Pure: no I/O, no clock;
/// `push_frame` allocates nothing but the growth of the current lap's `Vec<Frame>`.
///
/// # Rules
/// - **Laps.** A lap completes when `lap_count` goes up by one; its official time is the
///   `last_lap_ms` of the first frame with the new count, and that frame opens the next lap.
///   A lap's `number` is the `lap_count` while it was driven, plus one (so the completed
///   lap's number equals the new count). Every frame goes to exactly one lap, in order;
///   identical frames (the game repeats its last packet while paused) are kept and are not
///   a fault. If `lap_count` jumps by more than one (a whole lap missed), the lap in progress
///   is closed as [`LapKind::Partial`]: we never saw it end; so is a lap whose next frame
///   carries no `last_lap_ms` (0 or less: the game always times a lap it counts).
/// - **Kinds**, first match wins: `Partial` (closed by [`finish`](Self::finish), a session
///   restart, a lap-count decrease or jump); `In` (its last frame is in the pit lane); `Out`
///   (its first frame is in the pit lane, or it did not begin at the line); `Flying`.
///   "Began at the line": opened by a `lap_count` increment, or else (first lap of a stint,
///   first lap after `finish`) its first frame's lap clock is within
///   `0..=`[`line_window_ms`](SegmenterConfig::line_window_ms).
/// - **Validity**: the first reason met is kept. Between consecutive frames of a lap, in
///   this order: the lap clock goes back ([`InvalidReason::ClockJumpedBack`]; the lap goes on,
///   only a `lap_count` increment ends it); it advances by more than
///   [`max_clock_gap_ms`](SegmenterConfig::max_clock_gap_ms) ([`InvalidReason::ClockGap`],
///   also checked on both sides of the line, see there); the position moves more than
///   [`teleport_fraction`](SegmenterConfig::teleport_fraction) the short way round within
///   [`teleport_window_ms`](SegmenterConfig::teleport_window_ms) of lap clock
///   ([`InvalidReason::Teleport`], also checked across the line); the frame is in the pit lane
///   ([`InvalidReason::PitLane`], with the lap clock of the first such frame). The first frame
///   after `finish` is not compared with the frame before it (except for a restart).
/// - **Stints.** The very first frame emits `StintStarted { stint: 0 }`. A session restart
///   (`lap_count` back to 0 from above, or lap clock back into `0..=line_window_ms` while
///   `lap_count` stays 0) closes the lap in progress as `Partial` and emits `StintStarted`
///   with the next index; the frame opens the new stint's first lap. Any other decrease of
///   `lap_count` does the same and marks the closed lap
///   [`InvalidReason::LapCountDecreased`]: lap numbers stay unique within a stint. Nothing is
///   carried across stints.
/// - **`finish`** closes the lap in progress as `Partial` (official time `None`). The
///   segmenter stays in the same stint: when the game comes back in the same session, the
///   next frame opens a new lap (`Out` when it is mid-lap; it can carry the number of the
///   partial lap it resumes); when it comes back restarted, the restart rule starts a new
///   stint. After `finish(PartialCause::SessionRestart)` the next frame starts a new stint.
/// - **Cross-checks.** The completed lap's last lap clock should be within
///   [`clock_overrun_tolerance_ms`](SegmenterConfig::clock_overrun_tolerance_ms) above and
///   `max_clock_gap_ms` below the official time: above emits [`LapEvent::ClockMismatch`]
///   after the lap, below marks the lap `ClockGap`. Spot events: see
///   [`push_lap_completed`](Self::push_lap_completed).
///
/// Lap numbers strictly increase within a stint, except that a lap opened after `finish`
/// may repeat the number of the partial lap before it.
///
/// # Example
/// ```
/// use purple_sector_core::lap::{LapEvent, LapKind, LapSegmenter, PartialCause};
/// use purple_sector_core::telemetry::Frame;
///
/// let frame = |lap_count, lap_time_ms, last_lap_ms| Frame {
///     lap_count,
///     lap_time_ms,
///     last_lap_ms,
///     position_normalized: (lap_time_ms as f32 / 60_000.0).fract(),
///     ..Frame::default()
/// };
/// let mut segmenter = LapSegmenter::default();
/// let mut events = Vec::new();
/// // Recording starts mid-lap: an out lap, then a flying lap of 60.005 s.
/// for t in (30_000..60_000).step_by(20) {
///     segmenter.push_frame(frame(0, t, 0), &mut events);
/// }
/// for t in (5..60_000).step_by(20) {
///     segmenter.push_frame(frame(1, t, 59_995), &mut events);
/// }
/// segmenter.push_frame(frame(2, 10, 60_005), &mut events);
/// segmenter.finish(PartialCause::Stopped, &mut events);
///
/// let laps: Vec<_> = events
///     .iter()
///     .filter_map(|event| match event {
///         LapEvent::Lap(lap) => Some((lap.number, lap.kind, lap.time_ms(), lap.is_valid())),
///         _ => None,
///     })
///     .collect();
/// assert_eq!(events[0], LapEvent::StintStarted { stint: 0 });
/// assert_eq!(
///     laps,
///     [
///         (1, LapKind::Out, Some(59_995), true),
///         (2, LapKind::Flying, Some(60_005), true),
///         (3, LapKind::Partial, None, true),
///     ]
/// );
/// ```
#[derive(Debug, Clone, Default)]
pub struct LapSegmenter {
    config: SegmenterConfig,
    stint: u32,
    previous: Option<Previous>,
    restart_pending: bool,
    lap: Option<OpenLap>,
    capacity_hint: usize,
    recent: Vec<CompletedLap>,
    pending: Vec<Spot>,
}

impl LapSegmenter {
    /// A segmenter with these thresholds, before any frame (stint 0).
    pub fn new(config: SegmenterConfig) -> Self {
        Self {
            config,
            stint: 0,
            previous: None,
            restart_pending: false,
            lap: None,
            capacity_hint: 0,
            recent: Vec::with_capacity(RECENT_LAPS),
            pending: Vec::with_capacity(PENDING_SPOTS),
        }
    }

    /// The thresholds in use.
    pub fn config(&self) -> &SegmenterConfig {
        &self.config
    }

    /// The current stint: 0 until the game restarts its session.
    pub fn stint(&self) -> u32 {
        self.stint
    }

    /// The lap being driven, if any (none before the first frame and after
    /// [`finish`](Self::finish) until the next frame).
    pub fn current_lap(&self) -> Option<LapInProgress<'_>> {
        self.lap.as_ref().map(|lap| LapInProgress {
            stint: self.stint,
            number: lap.number,
            frames: &lap.frames,
            began_at_line: lap.began_at_line,
            invalid_reason: lap.invalid,
        })
    }

    /// Takes one frame; appends to `events` what it completes (`StintStarted`, `Lap`,
    /// `ClockMismatch`, `TimeMismatch`, in that order of occurrence).
    pub fn push_frame(&mut self, frame: Frame, events: &mut Vec<LapEvent>) {
        let Some(previous) = self.previous.replace(Previous::of(&frame)) else {
            self.restart_pending = false;
            events.push(LapEvent::StintStarted { stint: self.stint });
            self.open(frame, Start::Fresh);
            return;
        };

        if self.restart_pending || self.is_restart(&previous, &frame) {
            self.restart_pending = false;
            if let Some(mut lap) = self.lap.take() {
                if frame.lap_count < previous.count && frame.lap_count != 0 {
                    lap.flag(InvalidReason::LapCountDecreased {
                        from: previous.count,
                        to: frame.lap_count,
                    });
                }
                self.emit(lap, LapKind::Partial, None, events);
            }
            self.stint = self.stint.saturating_add(1);
            self.recent.clear();
            self.pending.clear();
            events.push(LapEvent::StintStarted { stint: self.stint });
            self.open(frame, Start::Fresh);
            return;
        }

        let Some(lap) = self.lap.as_mut() else {
            self.open(frame, Start::Fresh);
            return;
        };

        if frame.lap_count > previous.count {
            if let Some(lap) = self.lap.take() {
                self.complete(lap, &previous, frame, events);
            }
            return;
        }

        if lap.invalid.is_none() {
            let config = &self.config;
            let clock_step_ms = i64::from(frame.lap_time_ms) - i64::from(previous.clock_ms);
            lap.invalid = if clock_step_ms < 0 {
                Some(InvalidReason::ClockJumpedBack {
                    from_ms: previous.clock_ms,
                    to_ms: frame.lap_time_ms,
                })
            } else if clock_step_ms > i64::from(config.max_clock_gap_ms) {
                Some(InvalidReason::ClockGap {
                    from_ms: previous.clock_ms,
                    to_ms: frame.lap_time_ms,
                })
            } else if let Some(teleport) = teleport(
                config,
                previous.position,
                frame.position_normalized,
                clock_step_ms,
            ) {
                Some(teleport)
            } else if frame.flags.in_pit {
                Some(InvalidReason::PitLane {
                    at_ms: frame.lap_time_ms,
                })
            } else {
                None
            };
        }
        lap.frames.push(frame);
    }

    /// Takes a spot (lap-completed) event of the player's car, from the 212-byte datagram:
    /// a cross-check only, never a lap boundary. Feed only the player's events (filter on the
    /// driver and car names of the handshake): `lap` and `time_ms` are all that is compared.
    ///
    /// `lap` is read as the count of completed laps (so it equals the completed lap's
    /// `number`). The event is matched, at most once per lap, to one of the last few laps
    /// completed in this stint, or, if it arrives before the frame that shows the completion,
    /// to the next lap completed: first to a lap whose official time agrees (within
    /// [`spot_tolerance_ms`](SegmenterConfig::spot_tolerance_ms)), which is silent; else to a
    /// lap with that number, which emits [`LapEvent::TimeMismatch`]. Events that match
    /// nothing by the next completion are dropped.
    pub fn push_lap_completed(&mut self, lap: i32, time_ms: i32, events: &mut Vec<LapEvent>) {
        let tolerance = i64::from(self.config.spot_tolerance_ms);
        let agrees =
            |official_ms: i32| (i64::from(official_ms) - i64::from(time_ms)).abs() <= tolerance;
        if let Some(done) = self
            .recent
            .iter_mut()
            .rev()
            .find(|done| !done.checked && agrees(done.official_ms))
        {
            done.checked = true;
            return;
        }
        if let Some(done) = self
            .recent
            .iter_mut()
            .rev()
            .find(|done| !done.checked && done.number == lap)
        {
            done.checked = true;
            events.push(LapEvent::TimeMismatch {
                number: done.number,
                official_time_ms: done.official_ms,
                spot_time_ms: time_ms,
            });
            return;
        }
        if self.pending.len() >= PENDING_SPOTS {
            self.pending.remove(0);
        }
        self.pending.push(Spot { lap, time_ms });
    }

    /// Closes the lap in progress, if any, as [`LapKind::Partial`] (official time `None`)
    /// and appends it to `events`. The segmenter stays usable: see the rules on
    /// [`LapSegmenter`] for what the next frame does after each cause.
    pub fn finish(&mut self, cause: PartialCause, events: &mut Vec<LapEvent>) {
        if let Some(lap) = self.lap.take() {
            self.emit(lap, LapKind::Partial, None, events);
        }
        if cause == PartialCause::SessionRestart {
            self.restart_pending = true;
        }
    }

    fn is_restart(&self, previous: &Previous, frame: &Frame) -> bool {
        frame.lap_count < previous.count
            || (frame.lap_count == 0
                && previous.count == 0
                && frame.lap_time_ms < previous.clock_ms
                && (0..=self.config.line_window_ms).contains(&frame.lap_time_ms))
    }

    /// The lap count went up from `previous` to `frame`.
    fn complete(
        &mut self,
        mut lap: OpenLap,
        previous: &Previous,
        frame: Frame,
        events: &mut Vec<LapEvent>,
    ) {
        let increments = i64::from(frame.lap_count) - i64::from(previous.count);
        // A lap the game does not time (no `lastLap`: a stream rebuilt from a file without
        // the game's times) is closed like one whose crossing was not seen.
        if increments != 1 || frame.last_lap_ms <= 0 {
            self.emit(lap, LapKind::Partial, None, events);
            self.open(
                frame,
                Start::Line {
                    before_line_ms: None,
                    from_position: previous.position,
                },
            );
            return;
        }

        let official_ms = frame.last_lap_ms;
        let before_line_ms = i64::from(official_ms) - i64::from(previous.clock_ms);
        let mut mismatch = None;
        if before_line_ms > i64::from(self.config.max_clock_gap_ms) {
            lap.flag(InvalidReason::ClockGap {
                from_ms: previous.clock_ms,
                to_ms: official_ms,
            });
        } else if -before_line_ms > i64::from(self.config.clock_overrun_tolerance_ms) {
            mismatch = Some(LapEvent::ClockMismatch {
                number: lap.number,
                official_time_ms: official_ms,
                last_clock_ms: previous.clock_ms,
            });
        }

        let in_pit = |frame: Option<&Frame>| frame.is_some_and(|f| f.flags.in_pit);
        let kind = if in_pit(lap.frames.last()) {
            LapKind::In
        } else if in_pit(lap.frames.first()) || !lap.began_at_line {
            LapKind::Out
        } else {
            LapKind::Flying
        };
        let number = lap.number;
        self.emit(lap, kind, Some(official_ms), events);
        events.extend(mismatch);
        self.check_pending_spots(number, official_ms, events);
        self.open(
            frame,
            Start::Line {
                before_line_ms: Some(before_line_ms),
                from_position: previous.position,
            },
        );
    }

    /// Matches spot events that came before the lap's completion, then drops the rest.
    fn check_pending_spots(&mut self, number: i32, official_ms: i32, events: &mut Vec<LapEvent>) {
        let tolerance = i64::from(self.config.spot_tolerance_ms);
        let agrees =
            |spot: &&Spot| (i64::from(spot.time_ms) - i64::from(official_ms)).abs() <= tolerance;
        let mut checked = self.pending.iter().any(|spot| agrees(&spot));
        if !checked {
            if let Some(spot) = self.pending.iter().find(|spot| spot.lap == number) {
                checked = true;
                events.push(LapEvent::TimeMismatch {
                    number,
                    official_time_ms: official_ms,
                    spot_time_ms: spot.time_ms,
                });
            }
        }
        self.pending.clear();
        if self.recent.len() >= RECENT_LAPS {
            self.recent.remove(0);
        }
        self.recent.push(CompletedLap {
            number,
            official_ms,
            checked,
        });
    }

    fn open(&mut self, frame: Frame, start: Start) {
        let clock_ms = frame.lap_time_ms;
        let mut invalid = None;
        let began_at_line = match start {
            Start::Fresh => (0..=self.config.line_window_ms).contains(&clock_ms),
            Start::Line {
                before_line_ms,
                from_position,
            } => {
                if clock_ms > self.config.max_clock_gap_ms {
                    invalid = Some(InvalidReason::ClockGap {
                        from_ms: 0,
                        to_ms: clock_ms,
                    });
                } else if let Some(before_line_ms) = before_line_ms {
                    let within_ms = before_line_ms.max(0) + i64::from(clock_ms.max(0));
                    invalid = teleport(
                        &self.config,
                        from_position,
                        frame.position_normalized,
                        within_ms,
                    );
                }
                true
            }
        };
        if invalid.is_none() && frame.flags.in_pit {
            invalid = Some(InvalidReason::PitLane { at_ms: clock_ms });
        }
        let mut frames = Vec::with_capacity(self.capacity_hint);
        frames.push(frame);
        self.lap = Some(OpenLap {
            number: frame.lap_count.saturating_add(1),
            began_at_line,
            invalid,
            frames,
        });
    }

    fn emit(
        &mut self,
        lap: OpenLap,
        kind: LapKind,
        official_time_ms: Option<i32>,
        events: &mut Vec<LapEvent>,
    ) {
        // The next lap is likely about as long: one allocation instead of a dozen regrowths.
        self.capacity_hint = lap.frames.len().saturating_add(lap.frames.len() / 8);
        events.push(LapEvent::Lap(Lap {
            stint: self.stint,
            number: lap.number,
            kind,
            invalid_reason: lap.invalid,
            time: official_time_ms.map(LapTime::official),
            frames: lap.frames,
        }));
    }
}

/// A teleport between two positions `within_ms` of lap clock apart, if it is one.
fn teleport(
    config: &SegmenterConfig,
    from_position: f32,
    to_position: f32,
    within_ms: i64,
) -> Option<InvalidReason> {
    if !(0..=i64::from(config.teleport_window_ms)).contains(&within_ms) {
        return None;
    }
    // The short way round the lap: 0.99 → 0.01 is 0.02. NaN compares false: no teleport.
    let forward = (f64::from(to_position) - f64::from(from_position)).rem_euclid(1.0);
    let moved = forward.min(1.0 - forward);
    (moved > f64::from(config.teleport_fraction)).then(|| InvalidReason::Teleport {
        from_position,
        to_position,
        within_ms: i32::try_from(within_ms).unwrap_or(i32::MAX),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::logger::LoggerLap;
    use crate::telemetry::Flags;

    const LAP_MS: i32 = 60_000;

    /// A frame on a 60 s lap: position from the lap clock.
    fn at(lap_count: i32, lap_time_ms: i32) -> Frame {
        Frame {
            lap_count,
            lap_time_ms,
            position_normalized: (lap_time_ms as f32 / LAP_MS as f32).rem_euclid(1.0),
            time_ns: u64::try_from(lap_time_ms.max(0)).unwrap() * 1_000_000,
            ..Frame::default()
        }
    }

    fn with_last(mut frame: Frame, last_lap_ms: i32) -> Frame {
        frame.last_lap_ms = last_lap_ms;
        frame
    }

    fn in_pit(mut frame: Frame) -> Frame {
        frame.flags = Flags {
            in_pit: true,
            ..Flags::default()
        };
        frame
    }

    fn moved(mut frame: Frame, position: f32) -> Frame {
        frame.position_normalized = position;
        frame
    }

    /// Frames of lap count `count` from `from_ms` (inclusive) to `to_ms` (exclusive), every
    /// `step_ms`.
    fn drive(count: i32, from_ms: i32, to_ms: i32, step_ms: usize) -> Vec<Frame> {
        (from_ms..to_ms)
            .step_by(step_ms)
            .map(|t| at(count, t))
            .collect()
    }

    fn run(frames: &[Frame]) -> (LapSegmenter, Vec<LapEvent>) {
        let mut segmenter = LapSegmenter::default();
        let mut events = Vec::new();
        for frame in frames {
            segmenter.push_frame(*frame, &mut events);
        }
        (segmenter, events)
    }

    fn laps(events: &[LapEvent]) -> Vec<&Lap> {
        events
            .iter()
            .filter_map(|event| match event {
                LapEvent::Lap(lap) => Some(lap),
                _ => None,
            })
            .collect()
    }

    /// Out lap from mid-track, then one lap of `lap_ms` from the line, then the next begun.
    fn out_then_flying(lap_ms: i32) -> Vec<Frame> {
        let mut frames = drive(4, 30_000, 59_990, 20);
        frames.extend(
            drive(5, 0, lap_ms, 20)
                .into_iter()
                .map(|f| with_last(f, 59_995)),
        );
        frames.push(with_last(at(6, 5), lap_ms + 5));
        frames
    }

    #[test]
    fn first_frame_starts_stint_zero_and_opens_a_lap() {
        let (segmenter, events) = run(&[at(3, 1_000)]);
        assert_eq!(events, [LapEvent::StintStarted { stint: 0 }]);
        let lap = segmenter.current_lap().unwrap();
        assert_eq!((lap.stint, lap.number, lap.frames.len()), (0, 4, 1));
        assert!(!lap.began_at_line);
        assert_eq!(lap.invalid_reason, None);
    }

    #[test]
    fn out_lap_then_flying_lap_with_official_times_and_numbers() {
        let frames = out_then_flying(LAP_MS);
        let (segmenter, events) = run(&frames);
        let laps = laps(&events);
        assert_eq!(laps.len(), 2);
        assert_eq!(
            (
                laps[0].stint,
                laps[0].number,
                laps[0].kind,
                laps[0].time_ms()
            ),
            (0, 5, LapKind::Out, Some(59_995))
        );
        assert_eq!(
            (laps[1].number, laps[1].kind, laps[1].time_ms()),
            (6, LapKind::Flying, Some(LAP_MS + 5))
        );
        assert!(laps.iter().all(|lap| lap.is_valid()));
        assert_eq!(laps[0].frames.len(), 1_500);
        assert_eq!(laps[1].frames.len(), 3_000);
        assert_eq!(laps[1].frames[0].lap_count, 5);
        assert_eq!(segmenter.current_lap().unwrap().number, 7);
        assert_eq!(segmenter.current_lap().unwrap().frames, &frames[4_500..]);
    }

    #[test]
    fn stint_starting_at_the_line_is_flying() {
        for first_ms in [0, 400] {
            let mut frames = drive(0, first_ms, LAP_MS, 20);
            frames.push(with_last(at(1, 10), LAP_MS));
            let (_, events) = run(&frames);
            assert_eq!(
                laps(&events)[0].kind,
                LapKind::Flying,
                "first at {first_ms}"
            );
        }
        let mut frames = drive(0, 401, LAP_MS, 20);
        frames.push(with_last(at(1, 10), LAP_MS));
        assert_eq!(laps(&run(&frames).1)[0].kind, LapKind::Out);
    }

    #[test]
    fn in_lap_ends_in_the_pit_lane() {
        let mut frames = drive(0, 0, LAP_MS, 20);
        for frame in &mut frames[2_900..] {
            *frame = in_pit(*frame);
        }
        frames.push(in_pit(with_last(at(1, 10), LAP_MS)));
        frames.push(in_pit(at(1, 30)));
        frames.push(at(1, 50));
        let (segmenter, events) = run(&frames);
        let lap = laps(&events)[0];
        assert_eq!(lap.kind, LapKind::In);
        assert_eq!(
            lap.invalid_reason,
            Some(InvalidReason::PitLane { at_ms: 58_000 })
        );
        // The next lap starts in the pit lane.
        let next = segmenter.current_lap().unwrap();
        assert_eq!(
            next.invalid_reason,
            Some(InvalidReason::PitLane { at_ms: 10 })
        );
        let mut events = Vec::new();
        let mut segmenter = segmenter;
        segmenter.push_frame(with_last(at(2, 10), LAP_MS), &mut events);
        assert_eq!(laps(&events)[0].kind, LapKind::Out);
    }

    #[test]
    fn out_lap_from_the_pits_at_the_line_is_out_and_invalid() {
        let mut frames: Vec<Frame> = drive(0, 0, LAP_MS, 20);
        for frame in &mut frames[..100] {
            *frame = in_pit(*frame);
        }
        frames.push(with_last(at(1, 10), LAP_MS));
        let lap = laps(&run(&frames).1)[0].clone();
        assert_eq!(lap.kind, LapKind::Out);
        assert_eq!(
            lap.invalid_reason,
            Some(InvalidReason::PitLane { at_ms: 0 })
        );
    }

    #[test]
    fn drive_through_mid_lap_is_flying_but_invalid() {
        let mut frames = out_then_flying(LAP_MS);
        for frame in &mut frames[2_000..2_100] {
            *frame = in_pit(*frame);
        }
        let laps = laps(&run(&frames).1)
            .into_iter()
            .cloned()
            .collect::<Vec<_>>();
        assert_eq!(laps[1].kind, LapKind::Flying);
        assert_eq!(
            laps[1].invalid_reason,
            Some(InvalidReason::PitLane { at_ms: 10_000 })
        );
        assert!(laps[0].is_valid());
    }

    #[test]
    fn clock_gap_over_200_ms_invalidates_200_does_not() {
        let mut frames = drive(2, 0, 10_000, 20);
        frames.extend(drive(2, 10_180, 20_000, 20)); // 9_980 → 10_180: 200 ms, allowed
        frames.extend(drive(2, 20_181, LAP_MS, 20)); // 19_980 → 20_181: 201 ms
        frames.push(with_last(at(3, 10), LAP_MS));
        let lap = laps(&run(&frames).1)[0].clone();
        assert_eq!(
            lap.invalid_reason,
            Some(InvalidReason::ClockGap {
                from_ms: 19_980,
                to_ms: 20_181
            })
        );
        assert_eq!(lap.kind, LapKind::Flying);
    }

    #[test]
    fn clock_gap_at_the_line_goes_to_the_side_it_is_on() {
        // Last frame 59_780, official 60_000: 220 ms lost before the line.
        let mut frames = drive(2, 0, 59_781, 20);
        frames.push(with_last(at(3, 150), LAP_MS));
        let (_, events) = run(&frames);
        assert_eq!(
            laps(&events)[0].invalid_reason,
            Some(InvalidReason::ClockGap {
                from_ms: 59_780,
                to_ms: LAP_MS
            })
        );
        // 250 ms lost after the line: the new lap began at the line but misses its start.
        let mut frames = drive(2, 0, LAP_MS, 20);
        frames.push(with_last(at(3, 250), LAP_MS));
        frames.extend(drive(3, 270, LAP_MS, 20));
        frames.push(with_last(at(4, 10), LAP_MS));
        let (_, events) = run(&frames);
        let laps = laps(&events);
        assert!(laps[0].is_valid());
        assert_eq!(laps[1].kind, LapKind::Flying);
        assert_eq!(
            laps[1].invalid_reason,
            Some(InvalidReason::ClockGap {
                from_ms: 0,
                to_ms: 250
            })
        );
    }

    #[test]
    fn clock_jumping_back_without_completion_invalidates_and_the_lap_goes_on() {
        let mut frames = drive(2, 0, 30_000, 20);
        frames.extend(drive(2, 0, LAP_MS, 20)); // reset to the line, count unchanged
        frames.push(with_last(at(3, 10), LAP_MS));
        let (_, events) = run(&frames);
        let laps = laps(&events);
        assert_eq!(laps.len(), 1);
        assert_eq!(laps[0].frames.len(), 4_500);
        assert_eq!(
            laps[0].invalid_reason,
            Some(InvalidReason::ClockJumpedBack {
                from_ms: 29_980,
                to_ms: 0
            })
        );
    }

    #[test]
    fn clock_one_ms_back_is_a_jump_back() {
        let frames = [at(1, 1_000), at(1, 999), at(1, 1_019)];
        let (segmenter, events) = run(&frames);
        assert_eq!(events.len(), 1);
        assert_eq!(
            segmenter.current_lap().unwrap().invalid_reason,
            Some(InvalidReason::ClockJumpedBack {
                from_ms: 1_000,
                to_ms: 999
            })
        );
    }

    #[test]
    fn teleport_over_5_percent_within_50_ms() {
        let mut frames = drive(1, 0, 18_000, 20);
        frames.push(moved(at(1, 18_010), 0.40)); // 0.29967 → 0.40 in 30 ms
        frames.extend(drive(1, 24_020, LAP_MS, 20));
        frames.push(with_last(at(2, 10), LAP_MS));
        let lap = laps(&run(&frames).1)[0].clone();
        assert_eq!(
            lap.invalid_reason,
            Some(InvalidReason::Teleport {
                from_position: frames[899].position_normalized,
                to_position: 0.40,
                within_ms: 30
            })
        );
    }

    #[test]
    fn same_move_slower_than_the_window_is_no_teleport() {
        let mut frames = vec![at(1, 1_000), moved(at(1, 1_051), 0.2)];
        frames.push(moved(at(1, 1_071), 0.2));
        let (segmenter, _) = run(&frames);
        assert_eq!(segmenter.current_lap().unwrap().invalid_reason, None);
    }

    #[test]
    fn wrap_at_the_line_is_a_short_move() {
        // Within one lap (the spline's zero a little before the timing line): 2 %.
        let frames = [moved(at(1, 1_000), 0.99), moved(at(1, 1_020), 0.01)];
        assert_eq!(run(&frames).0.current_lap().unwrap().invalid_reason, None);
        // Across the line.
        let frames = [
            moved(at(1, 59_990), 0.995),
            moved(with_last(at(2, 5), 59_995), 0.005),
            moved(at(2, 25), 0.006),
        ];
        let (segmenter, events) = run(&frames);
        assert!(laps(&events)[0].is_valid());
        assert_eq!(segmenter.current_lap().unwrap().invalid_reason, None);
        // 0.99 → 0.06 is 7 % the short way: a teleport, also across the line.
        let frames = [moved(at(1, 1_000), 0.99), moved(at(1, 1_020), 0.06)];
        assert!(matches!(
            run(&frames).0.current_lap().unwrap().invalid_reason,
            Some(InvalidReason::Teleport { within_ms: 20, .. })
        ));
        let frames = [
            moved(at(1, 59_990), 0.99),
            moved(with_last(at(2, 5), 59_995), 0.06),
        ];
        assert!(matches!(
            run(&frames).0.current_lap().unwrap().invalid_reason,
            Some(InvalidReason::Teleport { within_ms: 10, .. })
        ));
    }

    #[test]
    fn first_reason_is_kept() {
        let frames = [
            at(1, 1_000),
            at(1, 1_500),             // gap
            moved(at(1, 1_510), 0.9), // teleport
            in_pit(at(1, 1_530)),     // pit
            at(1, 100),               // jump back
        ];
        let (segmenter, _) = run(&frames);
        assert_eq!(
            segmenter.current_lap().unwrap().invalid_reason,
            Some(InvalidReason::ClockGap {
                from_ms: 1_000,
                to_ms: 1_500
            })
        );
    }

    #[test]
    fn lap_count_back_to_zero_is_a_new_stint() {
        let mut frames = drive(3, 0, 30_000, 20);
        frames.push(at(0, 0));
        frames.push(at(0, 20));
        let (segmenter, events) = run(&frames);
        assert_eq!(events.len(), 3);
        assert_eq!(events[0], LapEvent::StintStarted { stint: 0 });
        let LapEvent::Lap(lap) = &events[1] else {
            panic!("{:?}", events[1]);
        };
        assert_eq!((lap.stint, lap.number, lap.kind), (0, 4, LapKind::Partial));
        assert_eq!((lap.time_ms(), lap.invalid_reason), (None, None));
        assert_eq!(lap.frames.len(), 1_500);
        assert_eq!(events[2], LapEvent::StintStarted { stint: 1 });
        let current = segmenter.current_lap().unwrap();
        assert_eq!(
            (current.stint, current.number, current.frames.len()),
            (1, 1, 2)
        );
        assert!(current.began_at_line);
        assert_eq!(segmenter.stint(), 1);
    }

    #[test]
    fn clock_back_to_the_line_in_the_first_lap_is_a_new_stint() {
        let mut frames = drive(0, 0, 5_000, 20);
        frames.push(at(0, 10));
        let (segmenter, events) = run(&frames);
        assert_eq!(events.last(), Some(&LapEvent::StintStarted { stint: 1 }));
        assert_eq!(laps(&events)[0].kind, LapKind::Partial);
        assert_eq!(segmenter.stint(), 1);
        // Back, but not to the line: a jump back in the same stint.
        let mut frames = drive(0, 0, 5_000, 20);
        frames.push(at(0, 1_000));
        let (segmenter, events) = run(&frames);
        assert_eq!(events.len(), 1);
        assert_eq!(
            segmenter.current_lap().unwrap().invalid_reason,
            Some(InvalidReason::ClockJumpedBack {
                from_ms: 4_980,
                to_ms: 1_000
            })
        );
    }

    #[test]
    fn other_lap_count_decrease_marks_the_lap_and_starts_a_stint() {
        let frames = [at(5, 10_000), at(5, 10_020), at(3, 10_040), at(3, 10_060)];
        let (segmenter, events) = run(&frames);
        let laps = laps(&events);
        assert_eq!(laps[0].kind, LapKind::Partial);
        assert_eq!(laps[0].number, 6);
        assert_eq!(
            laps[0].invalid_reason,
            Some(InvalidReason::LapCountDecreased { from: 5, to: 3 })
        );
        assert_eq!(events.last(), Some(&LapEvent::StintStarted { stint: 1 }));
        let current = segmenter.current_lap().unwrap();
        assert_eq!(
            (current.stint, current.number, current.invalid_reason),
            (1, 4, None)
        );
    }

    #[test]
    fn lap_count_jumping_by_two_closes_the_lap_as_partial() {
        let frames = [at(2, 59_000), with_last(at(4, 10), 61_000), at(4, 30)];
        let (segmenter, events) = run(&frames);
        let lap = laps(&events)[0];
        assert_eq!(
            (lap.number, lap.kind, lap.time_ms()),
            (3, LapKind::Partial, None)
        );
        let current = segmenter.current_lap().unwrap();
        assert_eq!((current.number, current.began_at_line), (5, true));
    }

    #[test]
    fn identical_frames_are_kept() {
        let frame = at(1, 20_000);
        let frames = [frame, frame, frame, frame, at(1, 20_020)];
        let (segmenter, _) = run(&frames);
        let current = segmenter.current_lap().unwrap();
        assert_eq!(current.frames, &frames[..]);
        assert_eq!(current.invalid_reason, None);
    }

    #[test]
    fn clock_overrunning_the_official_time_is_reported() {
        let frames = [at(1, 59_990), with_last(at(2, 5), 59_979), at(2, 25)];
        let (_, events) = run(&frames);
        assert_eq!(
            events[2],
            LapEvent::ClockMismatch {
                number: 2,
                official_time_ms: 59_979,
                last_clock_ms: 59_990
            }
        );
        assert!(laps(&events)[0].is_valid());
        // Within the 10 ms tolerance: silent.
        let frames = [at(1, 59_990), with_last(at(2, 5), 59_980)];
        assert_eq!(run(&frames).1.len(), 2);
    }

    /// Lap 2 (count 1 → 2) completes at 60_000.
    fn lap_two() -> [Frame; 2] {
        [at(1, 59_990), with_last(at(2, 5), LAP_MS)]
    }

    fn mismatches(events: &[LapEvent]) -> Vec<(i32, i32, i32)> {
        events
            .iter()
            .filter_map(|event| match *event {
                LapEvent::TimeMismatch {
                    number,
                    official_time_ms,
                    spot_time_ms,
                } => Some((number, official_time_ms, spot_time_ms)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn spot_events_before_or_after_the_frame() {
        let [before, after] = lap_two();
        for (spot_lap, spot_ms, early, expected) in [
            (2, LAP_MS, false, vec![]),
            (2, LAP_MS, true, vec![]),
            (2, 60_100, false, vec![(2, LAP_MS, 60_100)]),
            (2, 60_100, true, vec![(2, LAP_MS, 60_100)]),
            (1, LAP_MS, false, vec![]), // lap field read otherwise: matched on time
            (7, 61_000, false, vec![]), // another lap: ignored
            (7, 61_000, true, vec![]),
        ] {
            let mut segmenter = LapSegmenter::default();
            let mut events = Vec::new();
            segmenter.push_frame(before, &mut events);
            if early {
                segmenter.push_lap_completed(spot_lap, spot_ms, &mut events);
            }
            segmenter.push_frame(after, &mut events);
            if !early {
                segmenter.push_lap_completed(spot_lap, spot_ms, &mut events);
            }
            segmenter.push_frame(at(2, 25), &mut events);
            assert_eq!(
                mismatches(&events),
                expected,
                "{spot_lap} {spot_ms} early {early}"
            );
            // The mismatch follows the lap it is about.
            if let Some(position) = events
                .iter()
                .position(|e| matches!(e, LapEvent::TimeMismatch { .. }))
            {
                assert!(matches!(events[position - 1], LapEvent::Lap(_)));
            }
        }
    }

    #[test]
    fn a_lap_gets_one_spot_verdict() {
        let mut segmenter = LapSegmenter::default();
        let mut events = Vec::new();
        for frame in lap_two() {
            segmenter.push_frame(frame, &mut events);
        }
        segmenter.push_lap_completed(2, 60_100, &mut events);
        segmenter.push_lap_completed(2, 60_200, &mut events);
        segmenter.push_lap_completed(2, LAP_MS, &mut events);
        assert_eq!(mismatches(&events), [(2, LAP_MS, 60_100)]);
        // Stale spots are dropped at the next completion, not matched to it.
        segmenter.push_frame(at(2, 59_990), &mut events);
        segmenter.push_frame(with_last(at(3, 5), 59_995), &mut events);
        assert_eq!(mismatches(&events).len(), 1);
    }

    #[test]
    fn spot_events_do_not_cross_a_stint() {
        let mut segmenter = LapSegmenter::default();
        let mut events = Vec::new();
        for frame in lap_two() {
            segmenter.push_frame(frame, &mut events);
        }
        segmenter.push_frame(at(0, 0), &mut events);
        segmenter.push_lap_completed(2, 1, &mut events);
        assert!(mismatches(&events).is_empty());
    }

    #[test]
    fn finish_closes_the_lap_as_partial_and_the_stint_goes_on() {
        for cause in [PartialCause::Stopped, PartialCause::Silence] {
            let (mut segmenter, mut events) = run(&drive(4, 10_000, 20_000, 20));
            segmenter.finish(cause, &mut events);
            let lap = laps(&events)[0].clone();
            assert_eq!(
                (lap.number, lap.kind, lap.time_ms()),
                (5, LapKind::Partial, None)
            );
            assert_eq!(lap.frames.len(), 500);
            assert!(segmenter.current_lap().is_none());
            // Nothing more to close.
            let count = events.len();
            segmenter.finish(cause, &mut events);
            assert_eq!(events.len(), count);
            // The game comes back mid-lap, same session: a new lap, no gap checked across.
            for frame in drive(4, 45_000, LAP_MS, 20) {
                segmenter.push_frame(frame, &mut events);
            }
            segmenter.push_frame(with_last(at(5, 5), LAP_MS), &mut events);
            let lap = laps(&events)[1].clone();
            assert_eq!((lap.stint, lap.number, lap.kind), (0, 5, LapKind::Out));
            assert_eq!((lap.time_ms(), lap.invalid_reason), (Some(LAP_MS), None));
            assert_eq!(segmenter.stint(), 0);
        }
    }

    #[test]
    fn after_silence_a_restarted_game_is_a_new_stint() {
        let (mut segmenter, mut events) = run(&drive(4, 10_000, 20_000, 20));
        segmenter.finish(PartialCause::Silence, &mut events);
        segmenter.push_frame(at(0, 0), &mut events);
        assert_eq!(events.last(), Some(&LapEvent::StintStarted { stint: 1 }));
        assert_eq!(laps(&events).len(), 1);
    }

    #[test]
    fn finish_with_session_restart_starts_a_stint_on_the_next_frame() {
        let (mut segmenter, mut events) = run(&drive(4, 10_000, 20_000, 20));
        segmenter.finish(PartialCause::SessionRestart, &mut events);
        segmenter.push_frame(at(4, 20_020), &mut events);
        assert_eq!(events.len(), 3);
        assert_eq!(events[2], LapEvent::StintStarted { stint: 1 });
        assert_eq!(segmenter.current_lap().unwrap().stint, 1);
    }

    #[test]
    fn finish_before_any_frame_emits_nothing() {
        let mut segmenter = LapSegmenter::default();
        let mut events = Vec::new();
        segmenter.finish(PartialCause::SessionRestart, &mut events);
        segmenter.push_frame(at(0, 0), &mut events);
        assert_eq!(events, [LapEvent::StintStarted { stint: 0 }]);
    }

    #[test]
    fn config_thresholds_are_used() {
        let config = SegmenterConfig {
            max_clock_gap_ms: 1_000,
            ..SegmenterConfig::default()
        };
        let mut segmenter = LapSegmenter::new(config);
        let mut events = Vec::new();
        segmenter.push_frame(at(1, 1_000), &mut events);
        segmenter.push_frame(at(1, 1_900), &mut events);
        assert_eq!(segmenter.current_lap().unwrap().invalid_reason, None);
        assert_eq!(segmenter.config(), &config);
    }

    #[test]
    fn extreme_values_do_not_panic() {
        let frames = [
            at(i32::MAX, i32::MAX),
            at(i32::MIN, i32::MIN),
            moved(at(i32::MAX, 0), f32::NAN),
            moved(with_last(at(i32::MAX, i32::MIN), i32::MAX), f32::INFINITY),
            with_last(at(0, 0), i32::MIN),
            with_last(at(1, i32::MAX), i32::MIN),
        ];
        let (mut segmenter, mut events) = run(&frames);
        segmenter.finish(PartialCause::Stopped, &mut events);
        let total: usize = laps(&events).iter().map(|lap| lap.frames.len()).sum();
        assert_eq!(total, frames.len());
    }

    /// Two real laps (Imola, Corvette C7.R), logged a row per metre, fed as consecutive laps.
    #[test]
    fn real_imola_laps_are_flying_and_valid() {
        let lap0 =
            LoggerLap::parse(include_str!("../../tests/fixtures/imola-c7r-lap0.tsv")).unwrap();
        let lap2 =
            LoggerLap::parse(include_str!("../../tests/fixtures/imola-c7r-lap2.tsv")).unwrap();
        let frame = |car, last_lap_ms| {
            let mut frame = Frame::from_owned_car_info(&car, 0);
            frame.last_lap_ms = last_lap_ms;
            frame
        };
        let mut frames: Vec<Frame> = lap0.car_infos(0).map(|car| frame(car, 0)).collect();
        let lap0_len = frames.len();
        frames.extend(lap2.car_infos(1).map(|car| frame(car, 109_530)));
        let mut last = frame(lap2.car_infos(2).next().unwrap(), 108_650);
        last.lap_time_ms = 3;
        last.position_normalized = 0.0005;
        frames.push(last);

        let (segmenter, events) = run(&frames);
        let laps = laps(&events);
        assert_eq!(laps.len(), 2);
        assert_eq!(laps[0].frames.len(), lap0_len);
        for (lap, (number, official)) in laps.iter().zip([(1, 109_530), (2, 108_650)]) {
            assert_eq!(lap.number, number);
            assert_eq!(lap.kind, LapKind::Flying);
            assert_eq!(lap.invalid_reason, None, "lap {number}");
            assert_eq!(lap.time_ms(), Some(official));
        }
        assert_eq!(segmenter.current_lap().unwrap().number, 3);
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, LapEvent::ClockMismatch { .. }))
        );
    }
}
