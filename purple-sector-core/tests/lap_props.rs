//! Property tests of the lap segmenter: no frame lost or duplicated, lap numbers monotonic,
//! official times from the game, output independent of batching, and each injected fault
//! invalidating exactly the lap it hit, with the right reason.
//!
//! Three stream generators: a simulated game driving plausible laps with one optional fault
//! per lap (its ground truth gives the expected laps), a "chaos" game whose state moves by
//! random operations (lap clock, count, position, pit, finish, spot events), and raw random
//! frames. The invariants run on all three.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use purple_sector_core::lap::{InvalidReason, Lap, LapEvent, LapKind, LapSegmenter, PartialCause};
use purple_sector_core::telemetry::{Flags, Frame};

// ------------------------------------------------------------------------------------------
// Feeding

/// What the segmenter is fed. (Frames are big and most items are frames: no box.)
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
enum Item {
    Frame(Frame),
    Finish(PartialCause),
    Spot { lap: i32, time_ms: i32 },
}

/// The lap in progress after the stream, owned.
#[derive(Debug, Clone)]
struct Current {
    stint: u32,
    number: i32,
    frames: Vec<Frame>,
    began_at_line: bool,
    invalid_reason: Option<InvalidReason>,
}

#[derive(Debug, Clone)]
struct Outcome {
    events: Vec<LapEvent>,
    current: Option<Current>,
}

impl Outcome {
    fn laps(&self) -> impl Iterator<Item = &Lap> {
        self.events.iter().filter_map(|event| match event {
            LapEvent::Lap(lap) => Some(lap),
            _ => None,
        })
    }
}

/// How the caller handles the events Vec between chunks.
#[derive(Debug, Clone, Copy)]
enum Buffer {
    /// One Vec, drained after each chunk.
    Reused,
    /// A new Vec per chunk.
    Fresh,
    /// Everything appended to one Vec, never drained.
    Accumulated,
}

fn feed(items: &[Item], chunks: &[usize], buffer: Buffer) -> Outcome {
    let mut segmenter = LapSegmenter::default();
    let mut all = Vec::new();
    let mut reused = Vec::new();
    let mut rest = items;
    let mut k = 0;
    while !rest.is_empty() {
        let size = chunks
            .get(k % chunks.len().max(1))
            .copied()
            .unwrap_or(1)
            .clamp(1, rest.len());
        k += 1;
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let mut fresh = Vec::new();
        let events = match buffer {
            Buffer::Reused => &mut reused,
            Buffer::Fresh => &mut fresh,
            Buffer::Accumulated => &mut all,
        };
        for item in chunk {
            match item {
                Item::Frame(frame) => segmenter.push_frame(*frame, events),
                Item::Finish(cause) => segmenter.finish(*cause, events),
                Item::Spot { lap, time_ms } => segmenter.push_lap_completed(*lap, *time_ms, events),
            }
        }
        match buffer {
            Buffer::Reused => all.append(&mut reused),
            Buffer::Fresh => all.append(&mut fresh),
            Buffer::Accumulated => {}
        }
    }
    let current = segmenter.current_lap().map(|lap| {
        assert_eq!(lap.stint, segmenter.stint());
        Current {
            stint: lap.stint,
            number: lap.number,
            frames: lap.frames.to_vec(),
            began_at_line: lap.began_at_line,
            invalid_reason: lap.invalid_reason,
        }
    });
    Outcome {
        events: all,
        current,
    }
}

fn feed_all(items: &[Item]) -> Outcome {
    feed(items, &[usize::MAX], Buffer::Accumulated)
}

// ------------------------------------------------------------------------------------------
// Invariants

/// Bit-exact frame equality (NaN positions included).
fn same_frame(a: &Frame, b: &Frame) -> bool {
    a.time_ns == b.time_ns && a.to_car_info().encode() == b.to_car_info().encode()
}

fn input_frames(items: &[Item]) -> Vec<Frame> {
    items
        .iter()
        .filter_map(|item| match item {
            Item::Frame(frame) => Some(*frame),
            _ => None,
        })
        .collect()
}

/// Every input frame in exactly one lap (or the lap in progress), in input order.
fn check_conservation(items: &[Item], outcome: &Outcome) -> Result<(), TestCaseError> {
    let input = input_frames(items);
    let output: Vec<&Frame> = outcome
        .laps()
        .flat_map(|lap| &lap.frames)
        .chain(outcome.current.iter().flat_map(|lap| &lap.frames))
        .collect();
    prop_assert_eq!(output.len(), input.len(), "frame count");
    for (k, (out, inp)) in output.iter().zip(&input).enumerate() {
        prop_assert!(
            same_frame(out, inp),
            "frame {} differs: {:?} vs {:?}",
            k,
            out,
            inp
        );
    }
    for lap in outcome.laps() {
        prop_assert!(!lap.frames.is_empty(), "empty lap {:?}", lap);
    }
    Ok(())
}

/// Stints count up from 0; laps carry the stint announced last; lap numbers strictly increase
/// within a stint (a lap opened after `finish` may repeat the partial lap's number); every
/// frame of a lap has `lap_count == number - 1`.
fn check_numbering(outcome: &Outcome, check_counts: bool) -> Result<(), TestCaseError> {
    let mut stint = None::<u32>;
    let mut last: Option<(i32, LapKind)> = None;
    for event in &outcome.events {
        match event {
            LapEvent::StintStarted { stint: s } => {
                prop_assert_eq!(*s, stint.map_or(0, |p| p + 1), "stint order");
                stint = Some(*s);
                last = None;
            }
            LapEvent::Lap(lap) => {
                prop_assert_eq!(Some(lap.stint), stint, "lap stint");
                if let Some((number, kind)) = last {
                    prop_assert!(
                        lap.number > number || (kind == LapKind::Partial && lap.number == number),
                        "number {} after {} ({:?})",
                        lap.number,
                        number,
                        kind
                    );
                }
                last = Some((lap.number, lap.kind));
                if check_counts {
                    for frame in &lap.frames {
                        prop_assert_eq!(frame.lap_count, lap.number - 1);
                    }
                }
            }
            LapEvent::TimeMismatch { .. } | LapEvent::ClockMismatch { .. } => {}
        }
    }
    if let Some(current) = &outcome.current {
        prop_assert_eq!(Some(current.stint), stint, "current stint");
        if let Some((number, kind)) = last {
            prop_assert!(
                current.number > number || (kind == LapKind::Partial && current.number == number)
            );
        }
        if check_counts {
            for frame in &current.frames {
                prop_assert_eq!(frame.lap_count, current.number - 1);
            }
        }
    }
    Ok(())
}

/// Completed laps: official time = `last_lap_ms` of the next input frame, whose count is one
/// more. Partial laps: no official time.
fn check_official_times(items: &[Item], outcome: &Outcome) -> Result<(), TestCaseError> {
    let input = input_frames(items);
    let mut index = 0;
    for lap in outcome.laps() {
        index += lap.frames.len();
        match lap.time_ms() {
            Some(official) => {
                prop_assert!(lap.kind != LapKind::Partial);
                let next = input.get(index);
                prop_assert!(next.is_some(), "completed lap with no frame after it");
                let next = next.unwrap();
                let count = lap.frames.last().unwrap().lap_count;
                prop_assert_eq!(i64::from(next.lap_count), i64::from(count) + 1);
                prop_assert_eq!(official, next.last_lap_ms);
            }
            None => prop_assert_eq!(lap.kind, LapKind::Partial),
        }
    }
    Ok(())
}

/// Any chunking and any handling of the events Vec gives the same output.
fn check_batching(
    items: &[Item],
    chunks: &[usize],
    reference: &Outcome,
) -> Result<(), TestCaseError> {
    let expected = format!("{reference:?}");
    for buffer in [Buffer::Reused, Buffer::Fresh, Buffer::Accumulated] {
        let outcome = feed(items, chunks, buffer);
        prop_assert!(
            format!("{outcome:?}") == expected,
            "{:?} chunks {:?}",
            buffer,
            chunks
        );
    }
    Ok(())
}

fn check_all(
    items: &[Item],
    chunks: &[usize],
    check_counts: bool,
) -> Result<Outcome, TestCaseError> {
    let outcome = feed_all(items);
    check_conservation(items, &outcome)?;
    check_numbering(&outcome, check_counts)?;
    check_official_times(items, &outcome)?;
    check_batching(items, chunks, &outcome)?;
    Ok(outcome)
}

// ------------------------------------------------------------------------------------------
// A plausible game: laps driven at constant speed, one optional fault per lap

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    None,
    /// No frames for this long (the next frame's lap clock is more than 200 ms on).
    Gap {
        ms: i32,
    },
    /// The lap clock goes back by this much, the lap count stays.
    JumpBack {
        ms: i32,
    },
    /// The car jumps ahead by this fraction of the track.
    Teleport {
        fraction: f64,
    },
    /// A drive-through: in the pit lane for a fifth of the lap, mid-lap.
    PitStretch,
    /// Into the pit lane before the line, out of it after: an in lap, then an out lap.
    PitEnd,
    /// The game restarts its session: lap count 0, lap clock 0.
    Restart,
    /// The game goes silent (`finish(Silence)`), comes back this much later, same session.
    Silence {
        ms: i32,
    },
    /// The lap count goes down by one (when it is at least 2).
    CountDown,
    /// The game is paused: its last packet repeated.
    Pause {
        repeats: usize,
    },
    /// The spot event for this lap carries a wrong time.
    SpotMismatch {
        delta_ms: i32,
    },
}

#[derive(Debug, Clone)]
struct LapPlan {
    length_ms: i32,
    fault: Fault,
    /// Where the fault fires, as a fraction of the lap.
    fault_at: f64,
    /// Spot event for this lap's completion: none, before or after the frame showing it.
    spot: Option<bool>,
}

#[derive(Debug, Clone)]
struct Scenario {
    period_ms: i32,
    first_count: i32,
    /// `None`: the stream starts at the line; else the fraction of the first lap.
    start_at: Option<f64>,
    laps: Vec<LapPlan>,
    /// Where the stream stops in the last lap, as a fraction.
    tail: f64,
    other_car_spots: bool,
    finish_at_end: bool,
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        4 => Just(Fault::None),
        1 => (250..900i32).prop_map(|ms| Fault::Gap { ms }),
        1 => (100..=300i32).prop_map(|ms| Fault::JumpBack { ms }),
        1 => (0.08..0.3f64).prop_map(|fraction| Fault::Teleport { fraction }),
        1 => Just(Fault::PitStretch),
        1 => Just(Fault::PitEnd),
        1 => Just(Fault::Restart),
        1 => (0..700i32).prop_map(|ms| Fault::Silence { ms }),
        1 => Just(Fault::CountDown),
        1 => (1..30usize).prop_map(|repeats| Fault::Pause { repeats }),
        1 => prop_oneof![-500..0i32, 1..500i32].prop_map(|delta_ms| Fault::SpotMismatch { delta_ms }),
    ]
}

fn lap_plan(faults: bool) -> impl Strategy<Value = LapPlan> {
    let fault = if faults {
        fault().boxed()
    } else {
        Just(Fault::None).boxed()
    };
    (
        2_500..6_000i32,
        fault,
        0.3..0.6f64,
        prop_oneof![Just(None), any::<bool>().prop_map(Some)],
    )
        .prop_map(|(length_ms, fault, fault_at, spot)| LapPlan {
            length_ms,
            fault,
            fault_at,
            spot,
        })
}

fn scenario(faults: bool) -> impl Strategy<Value = Scenario> {
    (
        5..=50i32,
        0..4i32,
        prop_oneof![Just(None), (0.25..0.8f64).prop_map(Some)],
        proptest::collection::vec(lap_plan(faults), 1..7),
        0.05..0.95f64,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(period_ms, first_count, start_at, laps, tail, other_car_spots, finish_at_end)| {
                Scenario {
                    period_ms,
                    first_count,
                    start_at,
                    laps,
                    tail,
                    other_car_spots,
                    finish_at_end,
                }
            },
        )
}

/// A fault whose reason the next frame shows.
#[derive(Debug, Clone, Copy)]
enum Shown {
    Gap,
    JumpBack,
    Teleport,
}

/// A lap as the simulated game knows it.
#[derive(Debug, Clone, PartialEq)]
struct Expected {
    stint: u32,
    number: i32,
    kind: LapKind,
    reason: Option<InvalidReason>,
    official_time_ms: Option<i32>,
    frames: usize,
}

impl Expected {
    fn of(lap: &Lap) -> Self {
        Self {
            stint: lap.stint,
            number: lap.number,
            kind: lap.kind,
            reason: lap.invalid_reason,
            official_time_ms: lap.time_ms(),
            frames: lap.frames.len(),
        }
    }
}

#[derive(Debug, Clone)]
struct OpenExpected {
    number: i32,
    began_at_line: bool,
    first_in_pit: bool,
    last_in_pit: bool,
    reason: Option<InvalidReason>,
    frames: usize,
}

/// The game, and what it knows the segmenter should make of it.
struct Game<'a> {
    scenario: &'a Scenario,
    items: Vec<Item>,
    stint: u32,
    count: i32,
    clock_ms: i32,
    distance_ms: i32,
    lap: usize,
    last_lap_ms: i32,
    time_ns: u64,
    /// The next lap opens at a line crossing.
    opens_at_line: bool,
    /// This game lap began at the line in the pit lane (the one before was an in lap).
    starts_in_pit: bool,
    /// A fault that the next frame shows.
    pending_fault: Option<Shown>,
    /// The frame sent last.
    previous: Option<Frame>,
    /// A spot event to send after the next frame.
    late_spot: Option<(i32, i32)>,
    open: Option<OpenExpected>,
    laps: Vec<Expected>,
    mismatches: Vec<(i32, i32, i32)>,
}

impl Game<'_> {
    fn plan(&self) -> &LapPlan {
        &self.scenario.laps[self.lap]
    }

    fn in_pit(&self) -> bool {
        let plan = self.plan();
        let fraction = f64::from(self.distance_ms) / f64::from(plan.length_ms);
        match plan.fault {
            Fault::PitStretch if (plan.fault_at..plan.fault_at + 0.2).contains(&fraction) => true,
            Fault::PitEnd if fraction >= 0.85 => true,
            _ => self.starts_in_pit && fraction < 0.15,
        }
    }

    fn frame(&self) -> Frame {
        Frame {
            time_ns: self.time_ns,
            lap_time_ms: self.clock_ms,
            last_lap_ms: self.last_lap_ms,
            best_lap_ms: self.last_lap_ms,
            lap_count: self.count,
            position_normalized: (f64::from(self.distance_ms) / f64::from(self.plan().length_ms))
                as f32,
            speed_kmh: 180.0,
            gear: 4,
            flags: Flags {
                in_pit: self.in_pit(),
                ..Flags::default()
            },
            ..Frame::default()
        }
    }

    fn emit(&mut self, frame: Frame) {
        let line_window = 400;
        let opens_at_line = self.opens_at_line;
        let open = self.open.get_or_insert_with(|| OpenExpected {
            number: frame.lap_count + 1,
            began_at_line: opens_at_line || (0..=line_window).contains(&frame.lap_time_ms),
            first_in_pit: frame.flags.in_pit,
            last_in_pit: false,
            reason: None,
            frames: 0,
        });
        self.opens_at_line = false;
        open.frames += 1;
        if let (Some(shown), Some(previous)) = (self.pending_fault.take(), self.previous) {
            let (from_ms, to_ms) = (previous.lap_time_ms, frame.lap_time_ms);
            open.reason.get_or_insert(match shown {
                Shown::Gap => InvalidReason::ClockGap { from_ms, to_ms },
                Shown::JumpBack => InvalidReason::ClockJumpedBack { from_ms, to_ms },
                Shown::Teleport => InvalidReason::Teleport {
                    from_position: previous.position_normalized,
                    to_position: frame.position_normalized,
                    within_ms: to_ms - from_ms,
                },
            });
        }
        if frame.flags.in_pit {
            open.reason.get_or_insert(InvalidReason::PitLane {
                at_ms: frame.lap_time_ms,
            });
        }
        self.previous = Some(frame);
        open.last_in_pit = frame.flags.in_pit;
        self.items.push(Item::Frame(frame));
        if let Some((lap, time_ms)) = self.late_spot.take() {
            self.items.push(Item::Spot { lap, time_ms });
        }
        self.time_ns += 1_000_000;
    }

    fn close(&mut self, kind: Option<LapKind>, official_time_ms: Option<i32>) {
        if let Some(open) = self.open.take() {
            let kind = kind.unwrap_or(if open.last_in_pit {
                LapKind::In
            } else if open.first_in_pit || !open.began_at_line {
                LapKind::Out
            } else {
                LapKind::Flying
            });
            self.laps.push(Expected {
                stint: self.stint,
                number: open.number,
                kind,
                reason: open.reason,
                official_time_ms,
                frames: open.frames,
            });
        }
    }

    fn advance(&mut self, ms: i32) {
        self.clock_ms += ms;
        self.distance_ms += ms;
        self.time_ns += u64::try_from(ms).unwrap() * 1_000_000;
    }
}

struct Simulated {
    items: Vec<Item>,
    laps: Vec<Expected>,
    current: Option<Expected>,
    /// Whether the lap in progress began at the line.
    current_began_at_line: Option<bool>,
    mismatches: Vec<(i32, i32, i32)>,
    final_stint: u32,
}

fn simulate(scenario: &Scenario) -> Simulated {
    let period = scenario.period_ms;
    let first_length = scenario.laps[0].length_ms;
    let start_ms = scenario
        .start_at
        .map_or(period / 2, |f| (f * f64::from(first_length)) as i32);
    let mut game = Game {
        scenario,
        items: Vec::new(),
        stint: 0,
        count: scenario.first_count,
        clock_ms: start_ms,
        distance_ms: start_ms,
        lap: 0,
        last_lap_ms: 99_999,
        time_ns: 1_700_000_000_000_000_000,
        opens_at_line: false,
        starts_in_pit: false,
        pending_fault: None,
        previous: None,
        late_spot: None,
        open: None,
        laps: Vec::new(),
        mismatches: Vec::new(),
    };
    let last = scenario.laps.len() - 1;
    let mut fired = false;
    loop {
        game.emit(game.frame());

        let before = game.distance_ms;
        game.advance(period);
        // The stream ends here; a fault that fires below is always shown by a next frame.
        if game.lap == last
            && f64::from(game.distance_ms) >= scenario.tail * f64::from(game.plan().length_ms)
        {
            break;
        }
        let plan = game.plan().clone();
        let length = plan.length_ms;
        let point = (plan.fault_at * f64::from(length)) as i32;
        if !fired && before < point && point <= game.distance_ms {
            fired = true;
            match plan.fault {
                Fault::None | Fault::PitStretch | Fault::PitEnd | Fault::SpotMismatch { .. } => {}
                Fault::Gap { ms } => {
                    let skipped = (ms + period - 1) / period;
                    game.advance(skipped * period);
                    game.pending_fault = Some(Shown::Gap);
                }
                Fault::JumpBack { ms } => {
                    game.clock_ms -= ms;
                    game.pending_fault = Some(Shown::JumpBack);
                }
                Fault::Teleport { fraction } => {
                    game.distance_ms += (fraction * f64::from(length)) as i32;
                    game.pending_fault = Some(Shown::Teleport);
                }
                Fault::Restart => {
                    game.close(Some(LapKind::Partial), None);
                    game.stint += 1;
                    game.count = 0;
                    game.clock_ms = period / 2;
                    game.distance_ms = period / 2;
                    game.last_lap_ms = 0;
                    game.starts_in_pit = false;
                    if game.lap < last {
                        game.lap += 1;
                        fired = false;
                    }
                }
                Fault::Silence { ms } => {
                    game.items.push(Item::Finish(PartialCause::Silence));
                    game.close(Some(LapKind::Partial), None);
                    game.advance(ms);
                }
                Fault::CountDown => {
                    if game.count >= 2 {
                        let from = game.count;
                        game.count -= 1;
                        if let Some(open) = game.open.as_mut() {
                            open.reason.get_or_insert(InvalidReason::LapCountDecreased {
                                from,
                                to: from - 1,
                            });
                        }
                        game.close(Some(LapKind::Partial), None);
                        game.stint += 1;
                    }
                }
                Fault::Pause { repeats } => {
                    // The game repeats the packet it sent last.
                    let Some(Item::Frame(frame)) = game.items.last().cloned() else {
                        unreachable!()
                    };
                    for _ in 0..repeats {
                        let mut again = frame;
                        again.time_ns = game.time_ns;
                        game.emit(again);
                    }
                }
            }
        }
        if game.distance_ms >= game.plan().length_ms {
            // The line.
            let over = game.distance_ms - game.plan().length_ms;
            let official = game.clock_ms - over;
            let number = game.count + 1;
            game.close(None, Some(official));
            let spot = match game.plan().fault {
                Fault::SpotMismatch { delta_ms } => {
                    game.mismatches
                        .push((number, official, official + delta_ms));
                    Some((game.plan().spot.unwrap_or(true), official + delta_ms))
                }
                _ => game.plan().spot.map(|early| (early, official)),
            };
            if scenario.other_car_spots {
                game.items.push(Item::Spot {
                    lap: 1_000 + number,
                    time_ms: 7,
                });
            }
            match spot {
                Some((true, time_ms)) => game.items.push(Item::Spot {
                    lap: number,
                    time_ms,
                }),
                Some((false, time_ms)) => game.late_spot = Some((number, time_ms)),
                None => {}
            }
            game.starts_in_pit = game.plan().fault == Fault::PitEnd;
            game.count += 1;
            game.last_lap_ms = official;
            game.lap += 1;
            game.clock_ms = over;
            game.distance_ms = over;
            game.opens_at_line = true;
            fired = false;
        }
    }
    let current_began_at_line = match &game.open {
        Some(open) if !scenario.finish_at_end => Some(open.began_at_line),
        _ => None,
    };
    let current = if scenario.finish_at_end {
        game.items.push(Item::Finish(PartialCause::Stopped));
        game.close(Some(LapKind::Partial), None);
        None
    } else {
        game.open.take().map(|open| Expected {
            stint: game.stint,
            number: open.number,
            kind: LapKind::Partial,
            reason: open.reason,
            official_time_ms: None,
            frames: open.frames,
        })
    };
    Simulated {
        items: game.items,
        laps: game.laps,
        current,
        current_began_at_line,
        mismatches: game.mismatches,
        final_stint: game.stint,
    }
}

fn check_expected(simulated: &Simulated, outcome: &Outcome) -> Result<(), TestCaseError> {
    let laps: Vec<Expected> = outcome.laps().map(Expected::of).collect();
    prop_assert_eq!(&laps, &simulated.laps);
    let current = outcome.current.as_ref().map(|lap| Expected {
        stint: lap.stint,
        number: lap.number,
        kind: LapKind::Partial,
        reason: lap.invalid_reason,
        official_time_ms: None,
        frames: lap.frames.len(),
    });
    prop_assert_eq!(&current, &simulated.current);
    prop_assert_eq!(
        outcome.current.as_ref().map(|lap| lap.began_at_line),
        simulated.current_began_at_line
    );
    let stints: Vec<u32> = outcome
        .events
        .iter()
        .filter_map(|event| match event {
            LapEvent::StintStarted { stint } => Some(*stint),
            _ => None,
        })
        .collect();
    prop_assert_eq!(stints, (0..=simulated.final_stint).collect::<Vec<_>>());
    let mismatches: Vec<(i32, i32, i32)> = outcome
        .events
        .iter()
        .filter_map(|event| match *event {
            LapEvent::TimeMismatch {
                number,
                official_time_ms,
                spot_time_ms,
            } => Some((number, official_time_ms, spot_time_ms)),
            _ => None,
        })
        .collect();
    prop_assert_eq!(&mismatches, &simulated.mismatches);
    prop_assert!(
        !outcome
            .events
            .iter()
            .any(|event| matches!(event, LapEvent::ClockMismatch { .. })),
        "clock mismatch on a clean line"
    );
    Ok(())
}

fn chunks() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(1..200usize, 1..6)
}

// ------------------------------------------------------------------------------------------
// A chaotic game: random operations on its state

#[derive(Debug, Clone)]
enum Op {
    Step(i32),
    Gap(i32),
    Back(i32),
    Cross {
        over_ms: i32,
        official_delta_ms: i32,
    },
    CrossMany(i32),
    ToZero(i32),
    Down(i32),
    Teleport(f32),
    Pit(bool),
    Finish(PartialCause),
    Spot {
        lap_delta: i32,
        time_delta_ms: i32,
    },
    Duplicate,
    NanPosition,
}

fn op() -> impl Strategy<Value = Op> {
    let cause = prop_oneof![
        Just(PartialCause::Stopped),
        Just(PartialCause::Silence),
        Just(PartialCause::SessionRestart)
    ];
    prop_oneof![
        30 => (1..=60i32).prop_map(Op::Step),
        2 => (150..2_000i32).prop_map(Op::Gap),
        2 => (1..3_000i32).prop_map(Op::Back),
        4 => (0..60i32, -300..=300i32).prop_map(|(over_ms, official_delta_ms)| Op::Cross { over_ms, official_delta_ms }),
        1 => (2..=3i32).prop_map(Op::CrossMany),
        1 => (0..600i32).prop_map(Op::ToZero),
        1 => (1..=3i32).prop_map(Op::Down),
        2 => (-1.0..1.0f32).prop_map(Op::Teleport),
        2 => any::<bool>().prop_map(Op::Pit),
        1 => cause.prop_map(Op::Finish),
        2 => (-1..=1i32, -2..=2i32).prop_map(|(lap_delta, time_delta_ms)| Op::Spot { lap_delta, time_delta_ms }),
        2 => Just(Op::Duplicate),
        1 => Just(Op::NanPosition),
    ]
}

fn chaos_items(start_count: i32, ops: &[Op]) -> Vec<Item> {
    let mut items = Vec::new();
    let mut frame = Frame {
        lap_count: start_count,
        lap_time_ms: 1_000,
        position_normalized: 0.3,
        ..Frame::default()
    };
    let mut last_official = (0, 0);
    for (k, op) in ops.iter().enumerate() {
        let mut emit = true;
        match *op {
            Op::Step(ms) | Op::Gap(ms) => {
                frame.lap_time_ms += ms;
                frame.position_normalized =
                    (frame.position_normalized + ms as f32 / 20_000.0).rem_euclid(1.0);
            }
            Op::Back(ms) => frame.lap_time_ms -= ms,
            Op::Cross {
                over_ms,
                official_delta_ms,
            } => {
                frame.last_lap_ms = frame.lap_time_ms + official_delta_ms;
                frame.lap_time_ms = over_ms;
                frame.lap_count += 1;
                frame.position_normalized = over_ms as f32 / 20_000.0;
                last_official = (frame.lap_count, frame.last_lap_ms);
            }
            Op::CrossMany(n) => {
                frame.lap_count += n;
                frame.lap_time_ms = 10;
            }
            Op::ToZero(ms) => {
                frame.lap_count = 0;
                frame.lap_time_ms = ms;
            }
            Op::Down(n) => frame.lap_count = (frame.lap_count - n).max(0),
            Op::Teleport(by) => {
                frame.position_normalized = (frame.position_normalized + by).rem_euclid(1.0);
            }
            Op::Pit(on) => frame.flags.in_pit = on,
            Op::Finish(cause) => {
                items.push(Item::Finish(cause));
                emit = false;
            }
            Op::Spot {
                lap_delta,
                time_delta_ms,
            } => {
                items.push(Item::Spot {
                    lap: last_official.0 + lap_delta,
                    time_ms: last_official.1 + time_delta_ms,
                });
                emit = false;
            }
            Op::Duplicate => {}
            Op::NanPosition => frame.position_normalized = f32::NAN,
        }
        if emit {
            // An exact duplicate keeps even the receive time (a capture can hold one twice).
            if !matches!(op, Op::Duplicate) {
                frame.time_ns = k as u64;
            }
            items.push(Item::Frame(frame));
            if frame.position_normalized.is_nan() {
                frame.position_normalized = 0.5;
            }
        }
    }
    items
}

// ------------------------------------------------------------------------------------------
// Raw random frames

fn raw_item() -> impl Strategy<Value = Item> {
    let frame = (
        any::<i32>(),
        prop_oneof![any::<i32>(), -3..3i32],
        any::<i32>(),
        any::<f32>(),
        any::<bool>(),
    )
        .prop_map(|(lap_time_ms, lap_count, last_lap_ms, position, in_pit)| {
            Item::Frame(Frame {
                lap_time_ms,
                lap_count,
                last_lap_ms,
                position_normalized: position,
                flags: Flags {
                    in_pit,
                    ..Flags::default()
                },
                ..Frame::default()
            })
        });
    prop_oneof![
        8 => frame,
        1 => Just(Item::Finish(PartialCause::Silence)),
        1 => (any::<i32>(), any::<i32>()).prop_map(|(lap, time_ms)| Item::Spot { lap, time_ms }),
    ]
}

/// Unique receive times, so that conservation also sees order.
fn number_frames(items: &mut [Item]) {
    for (k, item) in items.iter_mut().enumerate() {
        if let Item::Frame(frame) = item {
            frame.time_ns = k as u64;
        }
    }
}

// ------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// A stream with no fault: first lap Out (or Flying from the line), then Flying laps, all
    /// valid, official times from the line, and the invariants.
    #[test]
    fn clean_stream(scenario in scenario(false), chunks in chunks()) {
        let simulated = simulate(&scenario);
        let outcome = check_all(&simulated.items, &chunks, true)?;
        check_expected(&simulated, &outcome)?;
        let laps: Vec<&Lap> = outcome.laps().collect();
        for (k, lap) in laps.iter().enumerate() {
            if lap.kind == LapKind::Partial {
                prop_assert!(k == laps.len() - 1 && scenario.finish_at_end);
                continue;
            }
            prop_assert!(lap.is_valid(), "{:?}", lap.invalid_reason);
            let first = if scenario.start_at.is_some() { LapKind::Out } else { LapKind::Flying };
            prop_assert_eq!(lap.kind, if k == 0 { first } else { LapKind::Flying });
        }
        prop_assert!(outcome.current.iter().all(|lap| lap.invalid_reason.is_none()));
        let only_laps = outcome
            .events
            .iter()
            .all(|e| matches!(e, LapEvent::Lap(_) | LapEvent::StintStarted { stint: 0 }));
        prop_assert!(only_laps, "events besides laps and stint 0");
    }

    /// Faults: each one invalidates exactly the lap it hit, with the right reason (the
    /// simulated game's ground truth), and the invariants hold.
    #[test]
    fn faults_hit_exactly_their_lap(scenario in scenario(true), chunks in chunks()) {
        let simulated = simulate(&scenario);
        let outcome = check_all(&simulated.items, &chunks, true)?;
        check_expected(&simulated, &outcome)?;
    }

    /// Random operations on the game's state: the invariants hold.
    #[test]
    fn chaos_keeps_the_invariants(
        start_count in 0..4i32,
        ops in proptest::collection::vec(op(), 1..400),
        chunks in chunks(),
    ) {
        let items = chaos_items(start_count, &ops);
        check_all(&items, &chunks, true)?;
    }

    /// Arbitrary field values: no panic, no frame lost, official times from the game.
    #[test]
    fn raw_frames_keep_the_invariants(
        mut items in proptest::collection::vec(raw_item(), 1..200),
        chunks in chunks(),
    ) {
        number_frames(&mut items);
        let outcome = feed_all(&items);
        check_conservation(&items, &outcome)?;
        check_official_times(&items, &outcome)?;
        check_batching(&items, &chunks, &outcome)?;
    }
}
