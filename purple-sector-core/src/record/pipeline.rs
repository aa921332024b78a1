//! The synchronous heart of recording: datagrams and frames in, store operations out.

use std::time::Duration;

use bytes::Bytes;

use crate::lap::{
    Lap, LapEvent, LapKind, LapSegmenter, LapTime, MAX_START_CLOCK_MS, PartialCause,
    SegmenterConfig, line_to_line_time_ms,
};
use crate::protocol::{Datagram, OwnedHandshakeResponse, parse_datagram};
use crate::telemetry::Frame;

/// One thing a source produces.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The game's handshake reply: car, driver, track.
    Hello(Box<OwnedHandshakeResponse>),
    /// A datagram from the game, with its receive time (ns since the Unix epoch).
    Datagram {
        /// Receive time.
        time_ns: u64,
        /// The bytes.
        bytes: Bytes,
    },
    /// A frame from a source that has no datagrams.
    Frame(Box<Frame>),
    /// A whole lap from a source that already knows its laps (logger files, the original's
    /// JSON): stored as it is.
    Lap(Lap),
    /// The game went silent: it left the session.
    Silence,
}

/// What the pipeline asks of the store, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreOp {
    /// Car, driver and track of the session (from the handshake).
    SessionInfo(Box<OwnedHandshakeResponse>),
    /// A lap is done.
    SaveLap(Lap),
    /// The lap in progress so far.
    Checkpoint(Lap),
    /// A datagram that did not parse, kept raw.
    Malformed {
        /// Receive time.
        time_ns: u64,
        /// The bytes.
        bytes: Bytes,
    },
}

/// Counts kept by a [`Pipeline`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PipelineCounters {
    /// Car-info frames taken.
    pub frames: u64,
    /// Laps done, partial ones included.
    pub laps: u64,
    /// Laps done that completed at the line (any kind but partial).
    pub completed_laps: u64,
    /// Datagrams that did not parse.
    pub malformed: u64,
    /// Laps marked invalid for a lap-clock gap.
    pub gaps: u64,
    /// Spot events or lap clocks that disagreed with an official time.
    pub mismatches: u64,
}

/// The lap being driven, for status displays.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct LiveStatus {
    /// Lap number being driven (0 before the first frame).
    pub lap: i32,
    /// Lap clock, ms.
    pub lap_time_ms: i32,
    /// Last lap, ms (the game's).
    pub last_lap_ms: i32,
    /// Best lap, ms (the game's).
    pub best_lap_ms: i32,
    /// Pipeline counts.
    pub pipeline: PipelineCounters,
}

/// Datagrams and frames in, store operations out. Pure: no I/O, no clock (checkpoint times
/// come from the frames' receive times).
#[derive(Debug)]
pub struct Pipeline {
    segmenter: LapSegmenter,
    events: Vec<LapEvent>,
    checkpoint_every_ns: Option<u64>,
    last_checkpoint_ns: Option<u64>,
    counters: PipelineCounters,
    last_frame: Option<Frame>,
    /// Driver and car of the handshake, to pick the player's spot events.
    player: Option<(String, String)>,
    /// Complete the laps the segmenter leaves partial when they ran to the line (files).
    complete_at_line: bool,
    /// The player's recent spot events: (lap, time ms), newest last.
    spots: Vec<(i32, i32)>,
}

/// Spot events remembered for laps completed by [`Pipeline::completing_laps_at_the_line`].
const RECENT_SPOTS: usize = 16;

impl Pipeline {
    /// A pipeline with the segmenter's default rules; `checkpoint_every` enables checkpoints
    /// of the lap in progress (live recording), `None` disables them (imports).
    pub fn new(checkpoint_every: Option<Duration>) -> Self {
        Self {
            segmenter: LapSegmenter::new(SegmenterConfig::default()),
            events: Vec::new(),
            checkpoint_every_ns: checkpoint_every
                .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            last_checkpoint_ns: None,
            counters: PipelineCounters::default(),
            last_frame: None,
            player: None,
            complete_at_line: false,
            spots: Vec::new(),
        }
    }

    /// A pipeline for a finished source (a file, a capture played to its end): a lap the
    /// segmenter leaves partial — the file ends, or the next lap number is not the next one
    /// (laps of a file missing between) — is complete when it ran to the line: timed by the
    /// game when its lap-completed event came (as the game sends after the line, and as our
    /// captures carry), else by its lap clock when its frames run from the line to the line
    /// ([`line_to_line_time_ms`]). Live, a stopped lap stays partial.
    pub fn completing_laps_at_the_line(mut self) -> Self {
        self.complete_at_line = true;
        self
    }

    /// The counts so far.
    pub fn counters(&self) -> PipelineCounters {
        self.counters
    }

    /// The latest frame taken, if any.
    pub fn last_frame(&self) -> Option<&Frame> {
        self.last_frame.as_ref()
    }

    /// Lap, lap clock, last and best lap of the latest frame.
    pub fn status(&self) -> LiveStatus {
        let frame = self.last_frame.unwrap_or_default();
        LiveStatus {
            lap: self.segmenter.current_lap().map_or(0, |l| l.number),
            lap_time_ms: frame.lap_time_ms,
            last_lap_ms: frame.last_lap_ms,
            best_lap_ms: frame.best_lap_ms,
            pipeline: self.counters,
        }
    }

    /// Takes one input; appends what the store must do to `ops`.
    pub fn feed(&mut self, input: Input, ops: &mut Vec<StoreOp>) {
        match input {
            Input::Hello(hello) => {
                self.player = Some((
                    hello.driver_name.to_string_lossy(),
                    hello.car_name.to_string_lossy(),
                ));
                ops.push(StoreOp::SessionInfo(hello));
            }
            Input::Frame(frame) => self.frame(*frame, ops),
            Input::Lap(lap) => {
                self.counters.frames += lap.frames.len() as u64;
                self.counters.laps += 1;
                if lap.kind != LapKind::Partial {
                    self.counters.completed_laps += 1;
                }
                ops.push(StoreOp::SaveLap(lap));
            }
            Input::Silence => self.finish(PartialCause::Silence, ops),
            Input::Datagram { time_ns, bytes } => match parse_datagram(&bytes) {
                Ok(Datagram::CarInfo(car)) => self.frame(Frame::from_car_info(&car, time_ns), ops),
                Ok(Datagram::LapCompleted(event)) => {
                    // Spot events may cover every car: only the player's cross-check laps.
                    let is_player = self.player.as_ref().is_none_or(|(driver, car)| {
                        event.driver_name().to_string_lossy() == *driver
                            && event.car_name().to_string_lossy() == *car
                    });
                    if is_player {
                        if self.spots.len() >= RECENT_SPOTS {
                            self.spots.remove(0);
                        }
                        self.spots.push((event.lap(), event.time_ms()));
                        self.segmenter.push_lap_completed(
                            event.lap(),
                            event.time_ms(),
                            &mut self.events,
                        );
                        self.drain(ops);
                    }
                }
                Ok(Datagram::HandshakeResponse(hello)) => {
                    ops.push(StoreOp::SessionInfo(Box::new(hello.to_owned())));
                }
                // Requests are the client's own words; a game does not send them.
                Ok(Datagram::Request(_)) => {}
                Err(_) => {
                    self.counters.malformed += 1;
                    ops.push(StoreOp::Malformed { time_ns, bytes });
                }
            },
        }
    }

    /// Closes the lap in progress as partial (recording stopped, or the game went silent).
    pub fn finish(&mut self, cause: PartialCause, ops: &mut Vec<StoreOp>) {
        self.segmenter.finish(cause, &mut self.events);
        self.drain(ops);
        self.last_checkpoint_ns = None;
    }

    fn frame(&mut self, frame: Frame, ops: &mut Vec<StoreOp>) {
        self.counters.frames += 1;
        let time_ns = frame.time_ns;
        self.last_frame = Some(frame);
        self.segmenter.push_frame(frame, &mut self.events);
        let completed = self.drain(ops);
        if let Some(every) = self.checkpoint_every_ns {
            let last = *self.last_checkpoint_ns.get_or_insert(time_ns);
            if completed {
                self.last_checkpoint_ns = Some(time_ns);
            } else if time_ns.saturating_sub(last) >= every {
                if let Some(lap) = self.segmenter.current_lap() {
                    ops.push(StoreOp::Checkpoint(Lap {
                        stint: lap.stint,
                        number: lap.number,
                        kind: LapKind::Partial,
                        invalid_reason: lap.invalid_reason,
                        time: None,
                        frames: lap.frames.to_vec(),
                    }));
                }
                self.last_checkpoint_ns = Some(time_ns);
            }
        }
    }

    /// Moves the segmenter's events to `ops`; true when a lap was done.
    fn drain(&mut self, ops: &mut Vec<StoreOp>) -> bool {
        let mut done = false;
        for event in self.events.drain(..) {
            match event {
                LapEvent::Lap(mut lap) => {
                    if self.complete_at_line && lap.kind == LapKind::Partial {
                        complete_at_line(&mut lap, &self.spots);
                    }
                    self.counters.laps += 1;
                    if lap.kind != LapKind::Partial {
                        self.counters.completed_laps += 1;
                    }
                    if matches!(
                        lap.invalid_reason,
                        Some(crate::lap::InvalidReason::ClockGap { .. })
                    ) {
                        self.counters.gaps += 1;
                    }
                    done = true;
                    ops.push(StoreOp::SaveLap(lap));
                }
                LapEvent::StintStarted { .. } => {}
                _ => self.counters.mismatches += 1,
            }
        }
        done
    }
}

/// A partial lap that ran to the line, made complete (see
/// [`Pipeline::completing_laps_at_the_line`]).
fn complete_at_line(lap: &mut Lap, spots: &[(i32, i32)]) {
    let official = spots
        .iter()
        .rev()
        .find(|&&(spot_lap, _)| spot_lap == lap.number)
        .map(|&(_, ms)| LapTime::official(ms));
    let Some(time) = official.or_else(|| line_to_line_time_ms(&lap.frames).map(LapTime::telemetry))
    else {
        return;
    };
    let began_at_line = lap
        .frames
        .first()
        .is_some_and(|f| (0..=MAX_START_CLOCK_MS).contains(&f.lap_time_ms));
    let in_pit = |f: Option<&Frame>| f.is_some_and(|f| f.flags.in_pit);
    lap.kind = if in_pit(lap.frames.last()) {
        LapKind::In
    } else if in_pit(lap.frames.first()) || !began_at_line {
        LapKind::Out
    } else {
        LapKind::Flying
    };
    lap.time = Some(time);
}
